"""Values only an ``np.where`` branch reads: their adjoint contributions, masked.

``np.where(x > 0, np.sqrt(x), 0.0)`` at ``x = -1`` takes the 0.0: the branch's cotangent is
0 there, but the adjoint of ``np.sqrt`` multiplies it by ``0.5 / sqrt(-1)``, and 0 * nan is
nan. Forward mode has no such problem (the tangent is selected after it is computed). The
reverse sweep gets the same answer by masking, at the edge of the region of values computed
only for a branch, each contribution that leaves the region: ``runtime.where_taken(v, c,
taken)`` is ``v`` where the branch is taken and 0 elsewhere.

Input: an ANF FunctionDef. Output: the names in such regions (``guarded``: name -> the
conditions, outermost first, under which its value is used: ``((condition, taken), ...)``),
and each statement defining one tagged ``srcad_guard = (conditions, mask)``: its contributions
to operands outside the region are masked when ``mask`` (an operation on the way from it to
the branch can make a non-finite local derivative of finite inputs: anything but ``+``,
``-``, ``abs``, ``maximum``, ``clip``, ``np.where``, a product with a constant, a power
of at least 1). A region is elementwise: every statement in it is an elementwise
primitive, each of its names is assigned once and read only inside the region, in the block
that assigns it; a condition is never reassigned (and, inside a loop or branch, is assigned
before the region), so the adjoint sweep reads the value the primal selected with.
"""
from __future__ import annotations

import operator
from collections import Counter

import gast
import numpy as np

from .. import registry
from ..analysis import primitive_call, walk

# local derivatives finite wherever the inputs are: a zero cotangent stays zero through them
_SAFE = (operator.add, operator.sub, operator.neg, operator.pos, np.add, np.subtract,
         np.negative, np.positive, np.where, np.abs, np.absolute, np.fabs, np.maximum,
         np.minimum, np.fmax, np.fmin, np.clip, np.square)
_BY_CONSTANT = (operator.mul, operator.truediv, np.multiply, np.divide, np.true_divide)


def where_guards(fdef) -> dict:
    """The names computed only for an ``np.where`` branch (see the module docstring); the
    statements defining them are tagged ``srcad_guard``."""
    assigned: Counter = Counter()
    loads: Counter = Counter()
    for node in walk(fdef):
        if isinstance(node, gast.Name):
            (assigned if isinstance(node.ctx, gast.Store) else loads)[node.id] += 1
    for p in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs:
        assigned[p.id] += 1
    guarded: dict = {}
    top = Counter(s.targets[0].id for s in fdef.body if isinstance(s, gast.Assign)
                  and isinstance(s.targets[0], gast.Name))
    # a name assigned only by statements of the function's own body (each value read by the
    # statements up to the next assignment, which the walk of that block sees in full)
    straight = {n for n, k in top.items() if k == assigned[n]}
    _blocks(fdef.body, assigned, loads, guarded, straight)
    return guarded


_FREE = "free"      # a use no derivative flows back through (np.where's condition, isfinite)


def _blocks(body, assigned, loads, guarded, straight):
    _block(body, assigned, loads, guarded, straight)
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if inner:
                _blocks(inner, assigned, loads, guarded, None)


def _block(body, assigned, loads, guarded, straight):
    """One block, last statement first: a name's uses are all seen before its definition.
    In the function's own body (``straight`` is not None: its names assigned only there),
    a name assigned once holds one value for the whole adjoint sweep, and one assigned
    several times there has each value read up to its next assignment; in a loop or branch
    the sweep restores a name where it was assigned, so a condition must be assigned before
    the region."""
    uses: dict = {}             # name -> [(conditions, None or _FREE, hot)] of the uses seen
    later: set = set()          # names assigned after the current statement
    for stmt in reversed(body):
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        name = target.id if isinstance(target, gast.Name) else None
        seen = uses.pop(name, [])           # this value's uses (earlier ones: the old value's)
        conditions = {c for c, _ in seen if c is not _FREE}
        complete = name is not None and (assigned[name] == 1 and len(seen) == loads[name] or
                                         straight is not None and name in straight)
        if (complete and _elementwise(_primitive(stmt))
                and len(conditions) == 1 and None not in conditions
                and not any(c in later for c, _ in next(iter(conditions)))):
            chain = next(iter(conditions))
            hot = any(h for _, h in seen)
            guarded[name] = chain
        else:
            chain, hot = (), False
        _uses(stmt, chain, hot, assigned, uses)
        for node in walk(stmt) if straight is None else ():
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                later.add(node.id)


def _uses(stmt, chain, hot, assigned, uses):
    """Record the uses ``stmt`` makes (its value is used under ``chain``, ``hot`` as above),
    and tag it when it is in a region."""
    call = primitive_call(stmt.value) if isinstance(stmt, gast.Assign) else None
    prim, args = (call[0], call[1]) if call is not None and not call[2] else (None, [])
    rule = registry.lookup(prim) if prim is not None else None
    if prim is np.where and len(args) == 3 and _condition(args[0], assigned):
        cond = args[0].id
        operands = {id(args[0]): (_FREE, False), id(args[1]): (chain + ((cond, True),), hot),
                    id(args[2]): (chain + ((cond, False),), hot)}
    elif rule is not None and rule.nondiff:         # np.isfinite(y), y > 0: no derivative
        operands = {id(a): (_FREE, False) for a in args}
    elif chain and _elementwise(prim):
        use = (chain, hot or not _safe(prim, args))
        operands = {id(a): use for a in args}
    else:
        operands = {}
    if chain:
        stmt.srcad_guard = (chain, hot or not _safe(prim, args))
    for node in walk(stmt):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            uses.setdefault(node.id, []).append(operands.get(id(node), (None, False)))


def _safe(prim, args) -> bool:
    """Is each local derivative of ``prim(*args)`` finite where its inputs are finite?"""
    if prim in _SAFE:
        return True
    if prim in (operator.pow, np.power) and isinstance(args[1], gast.Constant):
        return isinstance(args[1].value, (int, float)) and args[1].value >= 1   # x ** 2
    return prim in _BY_CONSTANT and isinstance(args[-1], gast.Constant) or (
        prim in _BY_CONSTANT[:1] + _BY_CONSTANT[2:3] and isinstance(args[0], gast.Constant))


def _primitive(stmt):
    call = primitive_call(stmt.value)
    return call[0] if call is not None and not call[2] else None


def _condition(node, assigned) -> bool:
    return isinstance(node, gast.Name) and assigned[node.id] == 1


def _elementwise(prim) -> bool:
    if prim is None:
        return False
    if prim in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
                operator.neg, operator.pos, np.where):
        return True
    rule = registry.lookup(prim)
    return rule is not None and bool(rule.extra.get("elementwise"))
