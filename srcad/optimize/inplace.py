"""In-place accumulation: ``b = b + e`` -> ``b += e`` where ``b`` owns its buffer.

Input: derivative code whose shapes ``_Shapes`` knows. Output: the same values, where an
accumulation into an array made in this function (arithmetic, a NumPy function, zeros), that
no other name, container or view shares and that ``b + e`` does not reshape, writes into that
array instead of allocating the sum. Decided last: no later rewrite may make ``b`` an alias.

Only NumPy arrays are written into: a value computed from a parameter the variant was not
specialized for (a dask or cupy array, a VJP's seed) may be another array type, so an
accumulation reading one stays ``b = b + e`` (``ndarray += dask_array`` raises, and the sum
must keep the other type: a dask gradient stays lazy).
"""
from __future__ import annotations

from typing import Any

import gast

from ..analysis import broadcast, is_append, walk
from ..nodes import name
from ..sharing import _dotted
from .shapes import _Shapes
from .tree import _helper_name, _load_counts, _loads, _np_call, _parents, _stores


class _InPlace:
    """``b = b + e`` -> ``b += e`` where ``b`` owns its buffer: it holds an array made in
    this function (by arithmetic, a NumPy function or zeros) that no other name, container
    or view shares, and ``b + e`` has ``b``'s shape. No array is allocated for the sum."""

    _FRESH_HELPERS = ("zeros_like", "tangent_zeros")

    def __init__(self, known: _Shapes, loads: dict, fdef: gast.FunctionDef,
                 numpy_args: tuple = ()):
        self.known = known
        self.loads = loads
        self.foreign = _foreign(fdef, known.primal, numpy_args)
        self._summaries: dict = {}     # id -> (statement, its load counts, its stores)

    def summary(self, stmt) -> tuple:
        """(name -> reads, names written) of ``stmt``; memoized for simple statements, which
        this pass replaces rather than changes (a loop or branch, whose body it rewrites, is
        read afresh), so each statement is walked once, not once per copy after it."""
        if isinstance(stmt, (gast.For, gast.While, gast.If)):
            return _load_counts(stmt), _stores(stmt)
        found = self._summaries.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = self._summaries[id(stmt)] = (stmt, _load_counts(stmt), _stores(stmt))
        return found[1], found[2]

    def fresh(self, value) -> bool:
        """Does ``value`` make a new array (never a view or an argument passed through)?"""
        if not self.known.full(value):
            return False
        if isinstance(value, gast.BinOp) or isinstance(value, gast.UnaryOp) and isinstance(
                value.op, gast.USub):
            return True
        return isinstance(value, gast.Call) and (
            _helper_name(value) in self._FRESH_HELPERS or _np_call(value, self.known.np)
            or _dotted(value.func) == self.known.np + ".sum")

    def shared(self, node) -> set:
        """Names ``node`` reads where the array may become shared: anything but an operand
        of arithmetic or an argument of an elementwise NumPy function or np.sum."""
        out = set()
        parents = _parents(node)
        for n in walk(node):
            if not (isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)):
                continue
            parent = parents.get(id(n))
            safe = isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)) or (
                isinstance(parent, gast.Call) and n in parent.args and (
                    _np_call(parent, self.known.np)
                    or _dotted(parent.func) in (self.known.np + ".sum", self.known.np + ".vdot")))
            if not safe:
                out.add(n.id)
        return out

    def block(self, stmts, owned: set):
        seen: dict = {}      # name -> reads in stmts[:i], as they stand (rewritten) when i comes
        for i in range(len(stmts)):
            self.statement(stmts, i, owned, seen)
            for key, count in self.summary(stmts[i])[0].items():
                seen[key] = seen.get(key, 0) + count

    def statement(self, stmts, i, owned: set, seen: dict):
        """``block``'s rewrite of ``stmts[i]``; ``seen``: the reads of the statements before."""
        s = stmts[i]
        if getattr(s, "srcad_comment", None) is not None:
            return
        if isinstance(s, (gast.For, gast.While, gast.If)):
            inside = self.kept_through(s, owned)
            self.block(s.body, set(inside))
            self.block(s.orelse, set(inside))
            owned.intersection_update(inside)
            return
        target = s.targets[0].id if isinstance(s, gast.Assign) and len(
            s.targets) == 1 and isinstance(s.targets[0], gast.Name) else None
        value: Any = getattr(s, "value", None)
        if target in owned and self.accumulates(s, target):
            stmts[i] = gast.AugAssign(target=name(target, gast.Store()), op=value.op,
                                      value=value.right)
            self.loads[target] -= 1          # the target is no longer read as a name
            owned -= self.shared(value.right)
            return
        if target is not None and isinstance(value, gast.Name) and value.id in owned and \
                self.read_before_write(value.id, stmts, i, target, seen):
            owned.discard(value.id)          # the buffer moves to ``target``
            owned.add(target)
            return
        owned -= self.shared(s) if value is None else self.shared(value)
        if target is None:
            owned -= {n.id for n in walk(s) if isinstance(n, gast.Name)
                      and not isinstance(n.ctx, gast.Load)}
        elif self.fresh(value):
            owned.add(target)
        else:
            owned.discard(target)
            if isinstance(value, gast.Name):
                owned.discard(value.id)

    def accumulates(self, s, target) -> bool:
        value = s.value
        return (isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Sub))
                and isinstance(value.left, gast.Name) and value.left.id == target
                and target not in _loads(value.right) and self.known.full(value.left)
                and not self.foreign & (_loads(value.right) | {target})
                and broadcast([self.known.of(value.left), self.known.of(value.right)])
                == self.known.of(value.left))

    def read_before_write(self, n, stmts, i, target, seen) -> bool:
        """After ``target = n`` (``stmts[i]``), is ``n`` read only in this block, only
        before the next statement that writes ``target``, and only as an operand (never
        bound to another name, ``c = n``, which would share the buffer)? Then writing into
        ``target`` in place changes nothing ``n`` is still read for."""
        end = next((j for j in range(i + 1, len(stmts)) if target in self.summary(stmts[j])[1]),
                   len(stmts))
        if end < len(stmts) and isinstance(stmts[end], (gast.Assign, gast.AugAssign)):
            end += 1                  # that write reads its right-hand side first
        before = seen.get(n, 0) + sum(self.summary(s)[0].get(n, 0) for s in stmts[i:end])
        between = stmts[i + 1:end]

        def may_share(s) -> bool:      # a statement that does not read n cannot share it
            return bool(self.summary(s)[0].get(n)) and n in self.shared(
                s if getattr(s, "value", None) is None else s.value)
        return before == self.loads.get(n, 0) and not any(
            isinstance(s, (gast.For, gast.While, gast.If)) or may_share(s) for s in between)

    def kept_through(self, loop, owned) -> set:
        """The owned names a loop or branch only accumulates into or reads as operands."""
        kept = set()
        for n in owned:
            ok = True
            for s in walk(loop):
                if not isinstance(s, gast.stmt) or isinstance(s, (gast.For, gast.While,
                                                                  gast.If)):
                    continue
                stores = {m.id for m in walk(s) if isinstance(m, gast.Name)
                          and not isinstance(m.ctx, gast.Load)}
                if n in stores and not self.accumulates(s, n):
                    ok = False
                value = getattr(s, "value", None)
                if n in (self.shared(value) if value is not None else self.shared(s)):
                    ok = False
            header = [getattr(loop, "test", None), getattr(loop, "iter", None),
                      getattr(loop, "target", None)]
            if any(n in {m.id for m in walk(h) if isinstance(m, gast.Name)}
                   for h in header if h is not None):
                ok = False
            if ok:
                kept.add(n)
        return kept


def _foreign(fdef: gast.FunctionDef, primal: dict, numpy_args: tuple) -> set:
    """The names that may hold an array of a type other than NumPy's: the parameters whose
    kind the variant does not know (absent from ``primal`` and ``numpy_args``: keyword-only
    parameters and a VJP's seed are NumPy in a specialized variant, a call passing another
    array type there gets the generic one),
    and every name assigned from
    an expression reading one of them (to a fixed point, over every statement)."""
    a = fdef.args
    foreign = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs
               if p.id not in primal and p.id not in numpy_args}
    changed = True
    while changed:
        changed = False
        for s in walk(fdef):
            if isinstance(s, (gast.Assign, gast.AugAssign, gast.For)):
                targets = [s.target] if isinstance(s, (gast.AugAssign, gast.For)) else s.targets
                source = s.iter if isinstance(s, gast.For) else s.value
            elif is_append(s):                                 # lst.append(value)
                targets, source = [s.value.func.value], s.value
            else:
                continue
            stored = {n.id for t in targets for n in walk(t) if isinstance(n, gast.Name)}
            if stored - foreign and _loads(source) & foreign:
                foreign |= stored        # x[i] = v: the array x may now hold v's type
                changed = True
    return foreign
