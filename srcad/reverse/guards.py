"""Values only an ``np.where`` branch reads: their adjoint contributions, masked.

``np.where(x > 0, np.sqrt(x), 0.0)`` at ``x = -1`` takes the 0.0: the branch's cotangent is
0 there, but the adjoint of ``np.sqrt`` multiplies it by ``0.5 / sqrt(-1)``, and 0 * nan is
nan. Forward mode has no such problem (the tangent is selected after it is computed). The
reverse sweep gets the same answer by masking, at the edge of the region of values computed
only for a branch, each contribution that leaves the region: ``runtime.where_taken(v, c,
taken)`` is ``v`` where the branch is taken and 0 elsewhere. ``np.select``'s choices are
branches under their conditions (its default under none of them), and a write through a
mask (``y[x < 0] = 0.0``, the mask a comparison, a test such as ``np.isnan`` or a logical
combination of them, never indices) makes the old ``y`` a branch not taken where the mask
holds.

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
    return _Guards(fdef).guarded


_FREE = "free"      # a use no derivative flows back through (np.where's condition, isfinite)
_BOOLEAN_CALLS = (np.isnan, np.isfinite, np.isinf, np.signbit, np.logical_and, np.logical_or,
                  np.logical_not, np.logical_xor, np.greater, np.greater_equal, np.less,
                  np.less_equal, np.equal, np.not_equal)


class _Guards:
    """The analysis: counts of the function's names, then each block last statement first."""

    def __init__(self, fdef):
        self.assigned: Counter = Counter()
        self.loads: Counter = Counter()
        for node in walk(fdef):
            if isinstance(node, gast.Name):
                (self.assigned if isinstance(node.ctx, gast.Store) else self.loads)[node.id] += 1
        for p in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs:
            self.assigned[p.id] += 1
        self.guarded: dict = {}
        self.booleans = self._booleans(fdef)
        self.displays = {s.targets[0].id: [e.id if isinstance(e, gast.Name) else None
                                           for e in s.value.elts]
                         for s in walk(fdef) if isinstance(s, gast.Assign)
                         and isinstance(s.targets[0], gast.Name)
                         and isinstance(s.value, (gast.List, gast.Tuple))
                         and self.assigned[s.targets[0].id] == 1}
        self.pending: dict = {}     # a list display np.select reads -> its items' uses
        top = Counter(s.targets[0].id for s in fdef.body if isinstance(s, gast.Assign)
                      and isinstance(s.targets[0], gast.Name))
        # a name assigned only by statements of the function's own body (each value read by
        # the statements up to the next assignment, which the walk of that block sees)
        self.blocks(fdef.body, {n for n, k in top.items() if k == self.assigned[n]})

    def _booleans(self, fdef) -> set:
        """Names assigned once a comparison, a test (np.isfinite) or a logical combination
        of such: masks, never indices."""
        out: set = set()
        for s in walk(fdef):
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and self.assigned[s.targets[0].id] == 1):
                continue
            v = s.value
            if isinstance(v, gast.Compare) or getattr(v, "srcad_callee", None) in \
                    _BOOLEAN_CALLS or isinstance(v, gast.BinOp) and isinstance(
                        v.op, (gast.BitAnd, gast.BitOr, gast.BitXor)) and all(
                        isinstance(o, gast.Name) and o.id in out for o in (v.left, v.right)) \
                    or isinstance(v, gast.UnaryOp) and isinstance(v.op, gast.Invert) and \
                    isinstance(v.operand, gast.Name) and v.operand.id in out:
                out.add(s.targets[0].id)
        return out

    def blocks(self, body, straight):
        self.block(body, straight)
        for stmt in body:
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if inner:
                    self.blocks(inner, None)

    def block(self, body, straight):
        """One block, last statement first: a name's uses are all seen before its
        definition. In the function's own body (``straight`` is not None: its names
        assigned only there), a name assigned once holds one value for the whole adjoint
        sweep, and one assigned several times there has each value read up to its next
        assignment; in a loop or branch the sweep restores a name where it was assigned, so
        a condition must be assigned before the region."""
        uses: dict = {}         # name -> [(conditions, None or _FREE, hot)] of the uses seen
        later: set = set()      # names assigned after the current statement
        for stmt in reversed(body):
            target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
            name = target.id if isinstance(target, gast.Name) else None
            seen = uses.pop(name, [])       # this value's uses (earlier ones: the old value's)
            complete = name is not None and (
                self.assigned[name] == 1 and len(seen) == self.loads[name]
                or straight is not None and name in straight)
            common = _common(seen, later) if complete and _elementwise(_primitive(stmt)) \
                else None
            if common is not None:
                chain, hot = common
                self.guarded[name] = chain
            else:
                chain, hot = (), False
            written = None
            if self._masked_write(stmt):    # y[mask] = v: the old y, where mask is False
                y = target.value.id
                before = _common(uses.pop(y, []), later) or ((), False)
                written = (before[0] + ((target.slice.id, False),), before[1])
            self.uses(stmt, chain, hot, uses, written)
            for node in walk(stmt) if straight is None else ():
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                    later.add(node.id)

    def _masked_write(self, stmt) -> bool:
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        return (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
                and isinstance(target.slice, gast.Name) and target.slice.id in self.booleans)

    def uses(self, stmt, chain, hot, uses, written):
        """Record the uses ``stmt`` makes (its value is used under ``chain``, ``hot`` as
        above; ``written``: the use of the array a masked write writes into), and tag it when
        it is in a region."""
        call = primitive_call(stmt.value) if isinstance(stmt, gast.Assign) else None
        prim, args = (call[0], call[1]) if call is not None else (None, [])
        keywords = call[2] if call is not None else {}
        rule = registry.lookup(prim) if prim is not None else None
        operands: dict = {}
        if prim is np.where and len(args) == 3 and not keywords and self._condition(args[0]):
            cond = args[0].id
            operands = {id(args[0]): (_FREE, False),
                        id(args[1]): (chain + ((cond, True),), hot),
                        id(args[2]): (chain + ((cond, False),), hot)}
        elif prim is np.select and len(args) >= 2 and all(isinstance(a, gast.Name)
                                                           for a in args[:2]):
            self.pending[args[1].id] = (args[0].id, chain, hot)    # choices, by condition
            default = args[2] if len(args) > 2 else keywords.get("default")
            shown = self.displays.get(args[0].id)
            if isinstance(default, gast.Name) and shown and all(
                    c is not None and self.assigned[c] == 1 for c in shown):
                # the default where no condition holds
                operands[id(default)] = (chain + tuple((c, False) for c in shown), hot)
        elif rule is not None and rule.nondiff:     # np.isfinite(y), y > 0: no derivative
            operands = {id(a): (_FREE, False) for a in args}
        elif chain and _elementwise(prim) and not keywords:
            use = (chain, hot or not _safe(prim, args))
            operands = {id(a): use for a in args}
        if written is not None:
            operands[id(stmt.targets[0].value)] = written
            operands[id(stmt.targets[0].slice)] = (_FREE, False)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.List):
            operands.update(self._choices(stmt))
        if chain:
            stmt.srcad_guard = (chain, hot or not _safe(prim, args))
        for node in walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                uses.setdefault(node.id, []).append(operands.get(id(node), (None, False)))

    def _choices(self, stmt) -> dict:
        """The uses of the choices of ``np.select(conditions, choices)`` in the display of
        the choices: each under its own condition and no earlier one."""
        name = stmt.targets[0].id
        found = self.pending.get(name)
        if found is None or self.loads[name] != 1:
            return {}
        conditions, chain, hot = found
        shown = self.displays.get(conditions)
        if shown is None or len(shown) != len(stmt.value.elts):
            return {}
        if not all(c is not None and self.assigned[c] == 1 for c in shown):
            return {}
        # a choice is selected where its condition holds and no earlier one does
        return {id(e): (chain + ((c, True),) + tuple((b, False) for b in shown[:k]), hot)
                for k, (e, c) in enumerate(zip(stmt.value.elts, shown))
                if isinstance(e, gast.Name)}

    def _condition(self, node) -> bool:
        return isinstance(node, gast.Name) and self.assigned[node.id] == 1


def _common(seen, later):
    """(conditions, hot) shared by every use in ``seen`` that carries a derivative, when
    there is one and every use is under the same conditions, none assigned later; else
    None."""
    conditions = {c for c, _ in seen if c is not _FREE}
    if len(conditions) != 1 or None in conditions:
        return None
    chain = next(iter(conditions))
    if any(c in later for c, _ in chain):
        return None
    return chain, any(h for _, h in seen)


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


def _elementwise(prim) -> bool:
    if prim is None:
        return False
    if prim in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
                operator.neg, operator.pos, np.where):
        return True
    rule = registry.lookup(prim)
    return rule is not None and bool(rule.extra.get("elementwise"))
