"""The whole derivative: the seed, the primal sweep, the adjoint sweep, the saves the adjoint
reads (the others pruned), the tapes, and the returned adjoints of the ``wrt`` parameters.

Input: the normalized FunctionDef (ending in ``return``). Output: the derivative FunctionDef:
the user's parameters (and a keyword-only ``seed`` for a VJP), primal statements, adjoint
statements tagged ``srcad_derivative``, ``return`` of the adjoints (after the value with
``preserve_result``); ``srcad_extra`` names the added parameters.
"""
from __future__ import annotations

import copy

import gast

from ..analysis import walk, walk_statements
from ..errors import SrcadSyntaxError
from ..instantiate import mark_derivative
from ..nodes import assign as _assign, attr as _attr, call as _call, comment, drop_empty, \
    loads as _loads, name as _name
from ..sharing import shares
from .base import _State
from .checkpoint import Checkpointed


class WholeFunction(Checkpointed):
    """The whole transformation (the top layer): ``run`` builds the derivative."""

    has_aux = False     # the return is (value, aux...): value alone is seeded

    def run(self):
        fdef = self.p.node
        self.primal_of = {self.adj(n): n for n in sorted(_all_names(fdef))}
        params = list(self.p.params)
        ret = fdef.body[-1]
        if not isinstance(ret, gast.Return):
            raise self.error(ret, "the function must end with a return statement",
                             "Return the value to differentiate at the end.", SrcadSyntaxError)
        body = fdef.body[:-1]
        self.bound = set(params)
        primal = self.primal(body, 0, False, set(params))
        returned = ret.value
        result = returned.elts[0] if self.has_aux else returned     # what is differentiated
        result_atoms = result.elts if isinstance(result, gast.Tuple) else [result]
        state = _State()
        seed_code = []
        seed_name = None
        if isinstance(result, gast.Name):
            seed_name = self.adj(result.id)
        else:
            seed_name = self.namer.fresh("bresult")
        seed_param = None
        if self.grad_seed:
            seed_value = _call(_attr(_name(self.rt), "scalar_seed"), copy.deepcopy(result))
        else:
            seed_param = self.namer.fresh("seed")
            seed_value = _call(_attr(_name(self.rt), "seed_like"), _name(seed_param),
                               copy.deepcopy(result))
        if isinstance(result, gast.Name):
            if self.act.is_active(result.id):
                seed_code.append(_assign(seed_name, seed_value))
                state.defined.add(seed_name)
        else:
            seed_code.append(_assign(seed_name, seed_value))
            for i, e in enumerate(result_atoms):
                if self.active(e):
                    item = gast.Subscript(value=_name(seed_name),
                                          slice=gast.Constant(value=i, kind=None),
                                          ctx=gast.Load())
                    seed_code.extend(self.contribute(e.id, item, state))
        for s in seed_code:
            s.lineno = ret.lineno
        line = f"line {ret.lineno}: {self.src.line_text(ret.lineno)}"
        seed_code = [comment(line)] + seed_code if seed_code else seed_code
        adjoint = self.adjoint_block(body, state, 0, last=(self.src, ret.lineno))
        grads = []
        final = []
        for name in self.wrt:
            b = self.adj(name)
            if b not in state.defined:
                final.append(_assign(b, _call(_attr(_name(self.rt), "zeros_like"),
                                              _name(name))))
            grads.append(_name(b))
        adjoint = [self.simplify(s) for s in seed_code + adjoint + final]
        mark_derivative(adjoint)
        primal, adjoint = self.prune_saves(primal, adjoint)
        if self.none_init:
            inits = [_assign(n, gast.Constant(value=None, kind=None))
                     for n in sorted(self.none_init & (self.saved_names | self.snapshot_names))
                     if n not in params]
            primal = inits + primal
        used = self.used_names(primal + adjoint)
        for tape in sorted(self.tapes.values(), reverse=True):
            if tape in used:
                primal.insert(0, _assign(tape, gast.List(elts=[], ctx=gast.Load())))
        out = grads[0] if len(grads) == 1 else gast.Tuple(elts=grads, ctx=gast.Load())
        if self.preserve_result:      # the value, kept before the adjoint sweep restores
            value = self.namer.fresh("value")
            mutated = {t.value.id for st in walk_statements(fdef.body) if isinstance(
                st, gast.Assign) for t in st.targets if isinstance(t, gast.Subscript)}
            kept = [copy.deepcopy(a) for a in (
                returned.elts if isinstance(returned, gast.Tuple) else [returned])]
            for i, a in enumerate(kept):
                if isinstance(a, gast.Name) and a.id in self.lists:
                    kept[i] = _call(_name("list"), a)
                elif isinstance(a, gast.Name) and a.id in mutated:
                    kept[i] = _call(_attr(_name(self.np), "copy"), a)
            primal.append(_assign(value, kept[0] if not isinstance(returned, gast.Tuple) else
                                  gast.Tuple(elts=kept, ctx=gast.Load())))
            out = gast.Tuple(elts=[_name(value), out], ctx=gast.Load())
        new = copy.copy(fdef)
        new.args = copy.deepcopy(fdef.args)
        new.srcad_extra = []
        if seed_param is not None:        # def dloss_dw(w, X, y, *, seed=None)
            new.args.kwonlyargs = list(new.args.kwonlyargs) + [_name(seed_param, gast.Param())]
            new.args.kw_defaults = list(new.args.kw_defaults) + [
                gast.Constant(value=None, kind=None)]
            new.srcad_extra = [seed_param]
        new.body = primal + adjoint + [gast.Return(value=out)]
        new.returns = None
        return new

    def used_names(self, stmts) -> set:
        out = set()
        for s in stmts:
            out |= {n.id for n in walk(s) if isinstance(n, gast.Name)}
        return out

    def prune_saves(self, primal, adjoint):
        """Keep only the saves and restores of values the adjoint sweep reads: start from all
        of them and drop, until nothing changes, those whose variable no remaining adjoint
        statement reads (dropping restores can empty a branch, which then reads nothing).
        Nothing saved and no list restored (straight-line code): nothing to prune, and the
        adjoint sweep's reads are not needed."""
        if not self.saves and not any(getattr(s, "srcad_list_restore", None) is not None
                                      for s in walk_statements(adjoint)):
            self.saved_names = set()
            return _filter(primal, set(), "srcad_save", None), _filter(
                _filter(adjoint, set(), "srcad_save", None), set(), "srcad_restore", None)
        views = {}       # t -> the arrays t may be a view of (t = a[i], a.T): reading t reads a
        for st in walk_statements(self.p.node.body):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                views[st.targets[0].id] = shares(st.value, self.np) - {st.targets[0].id}
        keep = set(self.saves)
        while True:
            code = drop_empty(_filter(adjoint, keep, "srcad_restore", None))
            reads = _adjoint_reads(code, set(self.tapes.values()))
            todo = list(reads)
            while todo:
                for a in views.get(todo.pop(), ()):
                    if a not in reads:
                        reads.add(a)
                        todo.append(a)
            new = {r for r in self.saves if r.self_read or r.name in reads}
            changed = True
            while changed:     # the index of a restored slice is read by the restore
                changed = False
                for r in self.saves:
                    if r not in new and any(k.index is not None and r.name in _loads(k.index)
                                            for k in new):
                        new.add(r)
                        changed = True
            if new == keep:
                break
            keep = new
        self.saved_names = {r.name for r in keep}
        adjoint = _filter(adjoint, keep, "srcad_save", None)    # a checkpoint's replay
        return _filter(primal, keep, "srcad_save", None), _filter(adjoint, keep,
                                                                  "srcad_restore", reads)


def _adjoint_reads(stmts, tape) -> set:
    """Names whose values adjoint statements read (restores read only their slice index)."""
    reads = set()
    replayed = set()    # a checkpoint's replay: reads what its loop body does not assign
    for s in stmts:
        for n in walk(s):
            assigned = getattr(n, "srcad_replay", None)
            if assigned is not None and id(n) not in replayed:
                reads |= _loads(n.iter) | (_adjoint_reads(n.body, tape) - assigned)
                replayed |= {id(m) for m in walk(n)}
    for s in stmts:
        for n in walk(s):
            if id(n) in replayed:
                continue
            if getattr(n, "srcad_restore", None) is not None and not getattr(
                    n, "srcad_keep", False):
                if isinstance(n.targets[0], gast.Subscript):
                    reads |= _loads(n.targets[0].slice)
            elif getattr(n, "srcad_save", None) is not None:
                continue        # a save in a checkpoint's replay reads for its own restore
            elif isinstance(n, (gast.If, gast.While)):
                reads |= _loads(n.test)
            elif isinstance(n, gast.For):
                reads |= _loads(n.iter)
            elif isinstance(n, gast.stmt) and getattr(n, "srcad_list_restore", None) is None:
                reads |= _loads(n)
    return reads - tape


def _filter(stmts, keep, mark, lists_read) -> list:
    """A copy of ``stmts`` without the saves/restores not in ``keep`` (and, when
    ``lists_read`` is given, without list restores of lists nobody reads)."""
    out = []
    for s in stmts:
        rec = getattr(s, mark, None)
        if rec is not None and rec not in keep:
            continue
        lst = getattr(s, "srcad_list_restore", None)
        if lst is not None and lists_read is not None and lst not in lists_read:
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s = copy.copy(s)
            s.body = _filter(s.body, keep, mark, lists_read) or [gast.Pass()]
            s.orelse = _filter(s.orelse, keep, mark, lists_read)
        out.append(s)
    return out


def _all_names(fdef) -> set:
    return {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
