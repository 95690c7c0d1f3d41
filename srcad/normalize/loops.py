"""Desugaring of loops: ``for`` over anything but ``range`` becomes an index loop
(``enumerate``, ``zip``, ``reversed``, sequences), ``while`` recomputes its test at the end of
its body, and ``break``/``continue`` become flags (``jumps.lower_jumps``).

Input: a ``for`` or ``while`` statement of the user's. Output: ``for name in atom:`` over a
``range`` (``srcad_breaks``: whether it may leave early) or ``while atom:``, with ANF bodies
and no ``break``/``continue`` but the one ``break`` that leaves on the flag.
"""
from __future__ import annotations

import copy

import gast

from ..template import constant_node
from .jumps import lower_jumps
from .program import _loc_error, _name
from .statements import Statements

__all__ = ["Loops"]


class Loops(Statements):
    """Loops (the top layer, above ``Statements``)."""

    def stmt_For(self, scope, stmt, pre):
        """Loops over ``range(...)`` stay; any other iterable becomes an index loop
        (``for k in range(len(seq)): x = seq[k]``), so the adjoint can run it backwards."""
        it, target = stmt.iter, stmt.target
        lineno = stmt.lineno
        head: list = []
        callee = self.resolve(scope, it.func) if isinstance(it, gast.Call) else None
        if callee is range:
            loop_iter = self.atom(scope, it, pre, hint="range")
            loop_target = self._loop_name(scope, target)
        elif callee is enumerate and isinstance(target, gast.Tuple) and len(
                target.elts) == 2 and 1 <= len(it.args) + len(it.keywords) <= 2 and all(
                k.arg == "start" for k in it.keywords):
            inner = it.args[0]
            zipped = isinstance(inner, gast.Call) and self.resolve(scope, inner.func) is zip \
                and not inner.keywords and isinstance(target.elts[1], (gast.Tuple, gast.List)) \
                and len(target.elts[1].elts) == len(inner.args)     # enumerate(zip(a, b))
            seqs = [self._iterated(self.atom(scope, a, pre, hint="seq"), scope, stmt, pre)
                    for a in (inner.args if zipped else [inner])]
            seq = seqs[0]
            start = it.args[1] if len(it.args) > 1 else (
                it.keywords[0].value if it.keywords else None)
            loop_iter = self._index_range(seqs if zipped else seq, pre)
            if start is None:
                loop_target = self._loop_name(scope, target.elts[0])
                index = _name(loop_target.id, gast.Load())
            else:                       # enumerate(seq, start): count = position + start
                loop_target = _name(self._index_name(scope), gast.Store())
                index = _name(loop_target.id, gast.Load())
                head = self._head(scope, target.elts[0], gast.BinOp(
                    left=index, op=gast.Add(), right=start))
            for t, seq in (zip(target.elts[1].elts, seqs) if zipped else
                           [(target.elts[1], seq)]):
                head += self._head(scope, t, gast.Subscript(
                    value=seq, slice=copy.deepcopy(index), ctx=gast.Load()))
        elif callee is zip and isinstance(target, gast.Tuple) and len(target.elts) == len(
                it.args) and not it.keywords:
            seqs = [self._iterated(self.atom(scope, a, pre, hint="seq"), scope, stmt, pre)
                    for a in it.args]
            loop_target = _name(self._index_name(scope), gast.Store())
            loop_iter = self._index_range(seqs, pre)
            for t, seq in zip(target.elts, seqs):
                head += self._head(scope, t, gast.Subscript(
                    value=seq, slice=_name(loop_target.id, gast.Load()), ctx=gast.Load()))
        else:
            if callee is reversed and len(it.args) == 1 and not it.keywords:
                it = gast.Subscript(value=it.args[0], slice=gast.Slice(
                    lower=None, upper=None, step=constant_node(-1)), ctx=gast.Load())
            if self._is_set(scope, it):     # a set has no positions: its items, listed
                it = gast.Call(func=_name("list", gast.Load()), args=[it], keywords=[])
            seq = self._iterated(self.atom(scope, it, pre, hint="seq"), scope, stmt, pre)
            loop_target = _name(self._index_name(scope), gast.Store())
            loop_iter = self._index_range(seq, pre)
            head = self._head(scope, target, gast.Subscript(
                value=seq, slice=_name(loop_target.id, gast.Load()), ctx=gast.Load()))
        for s in head:
            s.lineno = lineno
        body, breaks = lower_jumps(self.namer, head + self.body(scope, stmt.body), lineno)
        loop = gast.For(target=loop_target, iter=loop_iter, body=body, orelse=[],
                        type_comment=None)
        loop.srcad_breaks = breaks
        return [loop]

    def _index_name(self, scope) -> str:
        """A fresh name for a desugared loop's index, which the loop's head reads through
        ``scope``'s renames: never a name of an inlined function's own (an inlined generated
        derivative has its own ``_k``, renamed; reading ``seq[_k]`` read that one)."""
        name = self.namer.fresh("_k")
        while name in scope.rename:
            name = self.namer.fresh("_k")
        return name

    def _iterated(self, seq, scope, loop, pre):
        """The sequence a ``for`` loop iterates over, held in a name of its own when the body
        rebinds the name it was read from: Python iterates over the object it had at the
        start (``for r in x: x = x - r``)."""
        if not isinstance(seq, gast.Name):
            return seq
        original = {scope.rename.get(n.id, n.id) for stmt in loop.body for n in gast.walk(stmt)
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        if seq.id not in original:
            return seq
        held = self.namer.fresh("_" + seq.id.lstrip("_") + "_iterated")
        self.origins[held] = f"{self.origins.get(seq.id, repr(seq.id))} as the for loop over " \
            "it began"                          # (for messages: the user's name)
        pre.append(gast.Assign(targets=[_name(held, gast.Store())], value=seq,
                               type_comment=None))
        return _name(held, gast.Load())

    def _is_set(self, scope, it) -> bool:
        """Is the iterable a set: a display, a comprehension or ``set(...)`` call, or a name
        the function binds only to those?"""
        def made(v):
            return isinstance(v, (gast.Set, gast.SetComp)) or isinstance(v, gast.Call) and \
                isinstance(v.func, gast.Name) and v.func.id in ("set", "frozenset") and \
                self.resolve(scope, v.func) in (set, frozenset)
        if made(it):
            return True
        if not isinstance(it, gast.Name):
            return False
        values = [n.value for n in gast.walk(scope.src.node) if isinstance(n, gast.Assign)
                  and any(isinstance(t, gast.Name) and t.id == it.id for t in n.targets)]
        stores = [n for n in gast.walk(scope.src.node) if isinstance(n, gast.Name)
                  and n.id == it.id and not isinstance(n.ctx, gast.Load)]
        return bool(values) and len(values) == len(stores) and all(made(v) for v in values)

    def _head(self, scope, target, value) -> list:
        """Statements assigning ``value`` to a loop's (desugared) target."""
        pre: list = []
        main = self.assign(scope, target, value, pre)
        return pre + main

    def _loop_name(self, scope, target):
        if not isinstance(target, gast.Name):
            raise _loc_error(scope.src, target, "unsupported loop target",
                             "Loop over a name, or unpack inside the loop body.")
        return self.name(scope, target)

    def _index_range(self, seqs, pre):
        """``range(len(seq))`` (``range(min(len(a), len(b)))`` for several) as ANF."""
        seqs = seqs if isinstance(seqs, list) else [seqs]
        lengths = [self._builtin_call(len, [s], pre, "_len") for s in seqs]
        n = lengths[0]
        for other in lengths[1:]:
            n = self._builtin_call(min, [n, other], pre, "_len")
        call = gast.Call(func=_name(self.ref(range, "range"), gast.Load()), args=[n],
                         keywords=[])
        call.srcad_callee = range
        tmp = self.namer.fresh("_range")
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=call,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def _builtin_call(self, fn, args, pre, base):
        call = gast.Call(func=_name(self.ref(fn, fn.__name__), gast.Load()), args=args,
                         keywords=[])
        call.srcad_callee = fn
        tmp = self.namer.fresh(base)
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=call,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def stmt_While(self, scope, stmt, pre):
        test = self.atom(scope, stmt.test, pre, hint="cond")
        again: list = []
        test2 = self.atom(scope, copy.deepcopy(stmt.test), again, hint="cond")
        if isinstance(test, gast.Name) and isinstance(test2, gast.Name) and test.id != test2.id:
            again.append(gast.Assign(targets=[_name(test.id, gast.Store())],
                                     value=test2, type_comment=None))
        for s in again:
            s.lineno = stmt.lineno
        body, _ = lower_jumps(self.namer, self.body(scope, stmt.body), stmt.lineno)
        return [gast.While(test=test, body=body + again, orelse=[])]
