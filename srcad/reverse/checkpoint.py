"""Checkpointed loops (``srcad.grad(f, checkpoint=...)``): the adjoint of a long top-level
loop keeps O(sqrt(T)) values instead of a tape of T iterations.

The primal sweep runs the loop without saves, keeping a snapshot of its state (the names the
body reads before assigning them) every ``_every`` iterations (``runtime.checkpoint_every``:
about sqrt(T) by default, or T split into the number of snapshots asked for; a ``while``
loop first runs once plainly to count its T, then again from its entry values). The adjoint
sweep takes the segments between snapshots last to first: it restores the snapshot, replays
the segment with the ordinary taped primal sweep (saves on ``_tape``/``_control``, nested
loops included), and runs the segment's adjoint, which pops what the replay pushed.

Input: a top-level ``for`` or ``while`` loop of the ANF body (at most one segment's tape is
alive at a time; loops nested in it are replayed inside their segment). Output: the plain
loop with its snapshots in the primal sweep, the segment loop in the adjoint sweep. A body
that writes into an array or a list (a replay would write twice) or draws random numbers (a
replay would draw other values) is refused with its location.
"""
from __future__ import annotations

import copy

import gast

from ..analysis import walk, walk_statements
from ..errors import NotDifferentiableError
from ..nodes import assign as _assign, attr as _attr, call as _call, name as _name
from ..registry import is_random_draw
from .control import ControlFlow

_OFF = False


class Checkpointed(ControlFlow):
    """Checkpointed top-level loops (the layer above ``ControlFlow``)."""

    def checkpointed(self, stmt, depth) -> bool:
        return self.checkpoint is not _OFF and depth == 0 and isinstance(
            stmt, (gast.For, gast.While))

    def primal_loop(self, stmt, depth, defined) -> list:
        if not self.checkpointed(stmt, depth):
            return super().primal_loop(stmt, depth, defined)
        self.refuse_unreplayable(stmt)
        at_entry = set(defined)
        code = super().primal_loop(stmt, depth, defined)
        taped, pre = code[-1], code[:-1]
        trips = getattr(stmt, "srcad_trips", None)
        replay = taped.body[1:] if trips is not None else taped.body
        if trips is None:
            trips = self.namer.fresh("_trips")
            pre.append(_assign(trips, gast.Constant(value=0, kind=None)))
        assigned = _assigned(stmt.body)
        state = sorted(self.exposed(stmt.body) & assigned)
        self.snapshot_names |= {n for n in state if n not in self.bound}
        self.none_init |= {n for n in state if n not in self.bound}
        entry = {n: self.namer.fresh(n.lstrip("_") + "_entry")
                 for n in sorted((assigned & at_entry) - set(state))}
        every = self.namer.fresh("_every")
        snaps = {n: self.snapshot_list(self.act.is_active(n)) for n in state}
        if isinstance(stmt, gast.While):     # a first plain run counts the steps
            steps, count_of = None, self.namer.fresh("_steps")
            entry = {n: self.namer.fresh(n.lstrip("_") + "_entry")
                     for n in sorted(assigned & at_entry)}
            pre.append(_assign(count_of, gast.Constant(value=0, kind=None)))
            pre.extend(_assign(local, _name(n)) for n, local in entry.items())
            counting = gast.While(test=copy.deepcopy(stmt.test), body=[gast.AugAssign(
                target=_name(count_of, gast.Store()), op=gast.Add(),
                value=gast.Constant(value=1, kind=None))] + _clone(stmt.body), orelse=[])
            pre.append(counting)
            pre.extend(_assign(n, _name(local)) for n, local in entry.items())
            length = _name(count_of)
        else:
            steps = stmt.iter
            length = _call(_name("len"), copy.deepcopy(steps))
            pre.extend(_assign(local, _name(n)) for n, local in entry.items())
        pre.append(_assign(every, _call(_attr(_name(self.rt), "checkpoint_every"), length,
                                        gast.Constant(value=self.checkpoint, kind=None))))
        due = gast.Compare(left=gast.BinOp(left=_name(trips), op=gast.Mod(),
                                           right=_name(every)),
                           ops=[gast.Eq()], comparators=[gast.Constant(value=0, kind=None)])
        snapshot = gast.If(test=due, body=[gast.Expr(value=_call(
            _attr(_name(snaps[n]), "append"), _name(n))) for n in state] or [gast.Pass()],
            orelse=[])
        count = gast.AugAssign(target=_name(trips, gast.Store()), op=gast.Add(),
                               value=gast.Constant(value=1, kind=None))
        if steps is None:
            plain = gast.While(test=copy.deepcopy(stmt.test),
                               body=[snapshot, count] + _clone(stmt.body), orelse=[])
        else:
            plain = gast.For(target=copy.deepcopy(stmt.target), iter=copy.deepcopy(steps),
                             body=[snapshot, count] + _clone(stmt.body), orelse=[],
                             type_comment=None)
        for s in walk_statements(pre + [plain, snapshot, count]):
            if getattr(s, "lineno", None) is None:
                s.lineno = stmt.lineno
        stmt.srcad_checkpoint = (trips, every, snaps, state, replay, entry)
        return pre + [plain]

    def adjoint_loop(self, stmt, state, depth) -> list:
        info = getattr(stmt, "srcad_checkpoint", None)
        if info is None or depth:
            return super().adjoint_loop(stmt, state, depth)
        trips, every, snaps, names, replay, entry = info
        segment, start = self.namer.fresh("_segment"), self.namer.fresh("_start")
        inner = copy.copy(stmt)          # the adjoint of one segment, run backwards
        steps = _call(_name("range"), _name(trips))
        pick = [_assign(segment, None)]
        if isinstance(stmt, gast.For):
            steps, target = copy.deepcopy(stmt.iter), stmt.target.id
            inner.iter = _name(segment)
            inner.srcad_trips = None
            inner.srcad_saves = {}       # the loop target is restored after every segment
            restores = self.restore(stmt, target)
        else:
            target, length = "_", self.namer.fresh("_length")
            pick.append(_assign(length, _call(_name("len"), _name(segment))))
            inner.srcad_trips = length
            restores = []
        pick[0].value = _call(_attr(_name(self.rt), "segment"), steps, _name(start),
                              _name(every), _name(trips))
        code = super().adjoint_loop(inner, state, depth)
        restores += [_assign(n, _name(local)) for n, local in entry.items()]
        if not code or not isinstance(code[-1], gast.For):
            return code + restores
        setup, adjoint = code[:-1], code[-1]
        body = pick + [_assign(n, _call(_attr(_name(snaps[n]), "pop"))) for n in reversed(names)]
        again = gast.For(target=_name(target, gast.Store()), iter=_name(segment),
                         body=replay or [gast.Pass()], orelse=[], type_comment=None)
        again.srcad_replay = frozenset(_assigned(stmt.body) | {target})
        body.append(again)
        body.append(adjoint)
        segments = gast.For(
            target=_name(start, gast.Store()),
            iter=_call(_name("reversed"), _call(_name("range"), gast.Constant(value=0, kind=None),
                                                _name(trips), _name(every))),
            body=body, orelse=[], type_comment=None)
        for s in body + [segments]:
            s.lineno = stmt.lineno
        return setup + [segments] + restores

    def snapshot_list(self, active) -> str:
        """The list holding snapshots of active values, or the one of inactive values (kept
        apart, as the tapes are, so that differentiating this code again sees the loop's
        counters and flags inactive)."""
        kind = "_snapshots" if active else "_snapshots_control"
        if kind not in self.tapes:
            self.tapes[kind] = self.namer.fresh(kind)
        return self.tapes[kind]

    def refuse_unreplayable(self, stmt):
        hint = ("Checkpointing replays top-level loops: write the loop with a body that "
                "assigns names (h = f(h)) and collects no list or array items, or build the "
                "gradient without checkpoint=.")
        for s in walk_statements(stmt.body):
            writes = isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)
            if writes or isinstance(s, gast.Expr) or (isinstance(s, gast.Assign) and any(
                    isinstance(n, gast.Attribute) and n.attr == "pop" for n in walk(s.value))):
                raise self.error(s, "checkpoint= cannot replay a loop that writes into an "
                                 "array or a list (a replay would write twice)", hint,
                                 NotDifferentiableError)
            draws = [n for n in walk(s) if isinstance(n, gast.Call) and is_random_draw(
                getattr(n, "srcad_callee", None))] if isinstance(s, gast.Assign) else []
            if draws:
                raise self.error(s, "checkpoint= cannot replay a loop that draws random "
                                 "numbers (a replay would draw other values than the primal "
                                 "did)", "Draw the values before the loop (noise = rng."
                                 "standard_normal((T, n)), then noise[t] in the body), or "
                                 "build the gradient without checkpoint=.",
                                 NotDifferentiableError)


def _assigned(body) -> set:
    out = set()
    for s in walk_statements(body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                out |= {n.id for n in walk(t) if isinstance(n, gast.Name) and isinstance(
                    n.ctx, gast.Store)}
        elif isinstance(s, gast.For):
            out.add(s.target.id)
    return out


def _clone(stmts) -> list:
    """A copy of the statements' syntax; their annotations (sources, records) shared."""
    memo: dict = {}
    for s in stmts:
        for n in walk(s):
            for key, value in vars(n).items():
                if key.startswith("srcad_") and not isinstance(value, (gast.AST, list)):
                    memo[id(value)] = value
    return copy.deepcopy(stmts, memo)
