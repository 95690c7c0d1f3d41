"""Scalar loops (specialized derivatives): ``scalar_reads`` reads a rank-1 parameter that is
never written through a list of Python floats, ``scalar_accumulators`` accumulates an adjoint
of a rank-1 array that loops only add into element by element in a list of floats.

Input: an optimized FunctionDef and the primal shapes. Output: the same values, where
``T[k]`` in a loop is ``T_items[k]`` (``T_items = _srcad.scalar_items(T)``), and
``bT = zeros_like(T)`` ... ``bT[k] += e`` is ``bT = [0.0] * len(T)`` ... then
``bT = np.array(bT, T.dtype)`` before the return.
"""
from __future__ import annotations

import gast

from ..analysis import rank, walk
from ..nodes import attr, call, name
from .tree import _helper_name

__all__ = ["scalar_reads", "scalar_accumulators"]


def scalar_reads(fdef: gast.FunctionDef, shapes: dict, namer) -> gast.FunctionDef:
    """In loops, read a rank-1 parameter that is never written through a list of Python
    floats: ``T[k]`` -> ``T_items[k]`` with ``T_items = _srcad.scalar_items(T)`` (a list for
    float64 arrays, the array itself otherwise)."""
    loops = [s for s in walk(fdef) if isinstance(s, (gast.For, gast.While))]
    if not loops:
        return fdef                     # (nothing is read in a loop)
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    written = set()
    for n in walk(fdef):
        if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and isinstance(
                n.value, gast.Name):
            written.add(n.value.id)
        elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            written.add(n.id)

    def scalar_read(n, p):
        return (isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load)
                and isinstance(n.value, gast.Name) and n.value.id == p
                and isinstance(n.slice, gast.Name) and shapes.get(n.slice.id) == ())

    prologue = []
    for p in params:
        if rank(shapes.get(p)) != 1 or p in written:
            continue
        if not any(scalar_read(n, p) for loop in loops for n in walk(loop)):
            continue
        items = namer.fresh(p + "_items")
        for n in walk(fdef):
            if scalar_read(n, p):
                n.value = gast.Name(id=items, ctx=gast.Load(), annotation=None,
                                    type_comment=None)
        prologue.append(gast.Assign(
            targets=[gast.Name(id=items, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=gast.Call(func=gast.Attribute(value=gast.Name(
                id="_srcad", ctx=gast.Load(), annotation=None, type_comment=None),
                attr="scalar_items", ctx=gast.Load()), args=[gast.Name(
                    id=p, ctx=gast.Load(), annotation=None, type_comment=None)], keywords=[]),
            type_comment=None))
    fdef.body = prologue + fdef.body
    return fdef


def scalar_accumulators(fdef: gast.FunctionDef, shapes: dict, np_name: str):
    """An adjoint of a rank-1 array that loops only accumulate into element by element
    (``bT = zeros_like(T)`` ... ``bT[k] += e``) is a list of Python floats until it is
    returned: ``bT = [0.0] * len(T)`` ... ``bT = np.array(bT)`` (a float added to a list item
    costs a fraction of one added to an array element)."""
    body = fdef.body
    ret = body[-1] if body and isinstance(body[-1], gast.Return) else None
    if ret is None:
        return fdef
    returned = {n.id for n in walk(ret) if isinstance(n, gast.Name)}
    parents: dict = {}
    in_loop: set = set()
    in_return: set = set()
    gathered = False       # the three above, gathered at the first candidate, before any change
    for stmt in list(body):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and _helper_name(stmt.value) == "zeros_like" and len(stmt.value.args) == 1
                and isinstance(stmt.value.args[0], gast.Name)):
            continue
        b, p = stmt.targets[0].id, stmt.value.args[0].id
        if rank(shapes.get(p)) != 1 or b not in returned:
            continue
        if not gathered:
            gathered = True
            for n in walk(fdef, parents):
                if isinstance(n, (gast.For, gast.While)):
                    in_loop.update(id(m) for m in walk(n))
            in_return = {id(n) for n in walk(ret)}
        uses = [n for n in walk(fdef) if isinstance(n, gast.Name) and n.id == b
                and n is not stmt.targets[0]]

        def accumulates(n):
            sub = parents.get(id(n))
            aug = parents.get(id(sub))
            return (isinstance(sub, gast.Subscript) and sub.value is n and isinstance(
                aug, gast.AugAssign) and aug.target is sub and id(aug) in in_loop
                and isinstance(sub.slice, gast.Name) and shapes.get(sub.slice.id) == ())
        if not all(accumulates(n) or id(n) in in_return for n in uses) or not any(
                accumulates(n) for n in uses):
            continue
        stmt.value = gast.BinOp(left=gast.List(elts=[gast.Constant(value=0.0, kind=None)],
                                               ctx=gast.Load()), op=gast.Mult(),
                                right=call(name("len"), name(p)))
        body.insert(len(body) - 1, gast.Assign(
            targets=[name(b, gast.Store())], value=call(attr(name(np_name), "array"), name(b),
                                                        attr(name(p), "dtype")),
            type_comment=None))
    return fdef
