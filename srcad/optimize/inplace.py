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

from bisect import bisect_left, bisect_right
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
        positions: list = []     # the block's _Positions, made when a copy first asks
        for i in range(len(stmts)):
            self.statement(stmts, i, owned, seen, positions)
            for key, count in self.summary(stmts[i])[0].items():
                seen[key] = seen.get(key, 0) + count

    def statement(self, stmts, i, owned: set, seen: dict, positions: list):
        """``block``'s rewrite of ``stmts[i]``; ``seen``: the reads of the statements before;
        ``positions``: empty, or the block's ``_Positions``."""
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
                self.read_before_write(value.id, stmts, i, target, seen, positions):
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

    def read_before_write(self, n, stmts, i, target, seen, positions) -> bool:
        """After ``target = n`` (``stmts[i]``), is ``n`` read only in this block, only
        before the next statement that writes ``target``, and only as an operand (never
        bound to another name, ``c = n``, which would share the buffer)? Then writing into
        ``target`` in place changes nothing ``n`` is still read for. The statements from
        ``i`` on are looked up in the block's ``_Positions`` (made at the first copy), not
        scanned: a copy followed by no write of its target scanned the rest of the block."""
        if not positions:
            positions.append(_Positions(stmts, self.summary))
        at = positions[0]
        writes = at.writes.get(target, ())
        k = bisect_right(writes, i)
        end = writes[k] if k < len(writes) else len(stmts)
        if end < len(stmts) and isinstance(stmts[end], (gast.Assign, gast.AugAssign)):
            end += 1                  # that write reads its right-hand side first
        where, counts = at.reads.get(n, ((), ()))
        lo, hi = bisect_left(where, i), bisect_left(where, end)
        if seen.get(n, 0) + sum(counts[lo:hi]) != self.loads.get(n, 0):
            return False
        k = bisect_right(at.compound, i)
        if k < len(at.compound) and at.compound[k] < end:
            return False              # a loop or branch between
        return not any(n in self.shared(stmts[j] if getattr(stmts[j], "value", None) is None
                                        else stmts[j].value)
                       for j in where[lo:hi] if j > i)    # bound or passed on: shared

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


class _Positions:
    """Where a block's statements read and write each name, and where its loops and
    branches are, as the statements stand when made. ``_InPlace.block`` rewrites a block
    from first to last statement, and a copy looks only at the statements from its own on,
    which are not rewritten yet: what it looks up stays true."""

    def __init__(self, stmts, summary):
        self.reads: dict = {}         # name -> ([index of a statement reading it], [reads])
        self.writes: dict = {}        # name -> [index of a statement writing it]
        self.compound: list = []      # indices of the loops and branches
        for j, s in enumerate(stmts):
            if isinstance(s, (gast.For, gast.While, gast.If)):
                self.compound.append(j)
            loads, stores = summary(s)
            for key, count in loads.items():
                where, counts = self.reads.setdefault(key, ([], []))
                where.append(j)
                counts.append(count)
            for key in stores:
                self.writes.setdefault(key, []).append(j)


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
