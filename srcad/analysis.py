"""Analysis of ANF code: which statements are differentiable, what each defines and uses, and
the one activity analysis (varied: depends on a wrt input; useful: the output depends on it;
no derivative flows into a reduction the output provably does not depend on, such as the max
a softmax subtracts: ``shift_free``), and the shapes of values when the arguments' shapes are
known.

Flow-insensitive over the whole function (loop-carried dependences are covered by iterating to
a fixed point), which is conservative: a variable marked active that is not is only extra work,
never a wrong derivative.
"""
from __future__ import annotations

import operator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gast
import numpy as np

from . import registry, runtime
from .nodes import walk

if TYPE_CHECKING:       # imported where a law is made: fractions imports decimal (about
    from fractions import Fraction      # 2 ms of a first gradient that needs no law)

__all__ = ["walk", "is_primal_only", "is_append", "Activity", "activity", "is_differentiable", "defines", "walk_statements",
           "primitive_call", "list_names", "shapes", "rank", "join", "join_all", "join_tracked",
           "broadcast",
           "reduced_shape", "axes_of", "matmul_shape", "literal", "shift_free",
           "aliased_writes", "anf_violations", "untracked_flows"]


def walk_statements(body):
    """Every statement, recursively, in source order."""
    for stmt in body:
        yield stmt
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from walk_statements(inner)


def is_primal_only(stmt) -> bool:
    """Is ``stmt`` a primal-only statement: ``assert``, ``raise`` or a call run for its
    effect (``print``, ``logging``, ``warnings.warn``) or the assignment of a string only
    those read (``normalize.messages``), which runs once in the primal and has no derivative
    (``normalize.statements`` marks them ``srcad_primal_only``)?"""
    return isinstance(stmt, (gast.Assert, gast.Raise)) or (
        isinstance(stmt, (gast.Expr, gast.Assign)) and getattr(stmt, "srcad_primal_only", False))


def is_append(stmt) -> bool:
    """Is ``stmt`` the ANF ``lst.append(v)`` (the one other expression statement)?"""
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call) and \
        not getattr(stmt, "srcad_primal_only", False)


def _names(node) -> set:
    if node is None:
        return set()
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def defines(stmt) -> set:
    """Names a statement (re)binds or mutates."""
    if isinstance(stmt, gast.Assign):
        out = set()
        for t in stmt.targets:
            if isinstance(t, gast.Name):
                out.add(t.id)
            elif isinstance(t, gast.Tuple):
                out |= {e.id for e in t.elts}
            elif isinstance(t, gast.Subscript):
                out.add(t.value.id)
        popped = getattr(stmt.value, "srcad_pop", None)
        if popped is not None:
            out.add(popped)                     # v = lst.pop() shortens lst
        return out
    if is_append(stmt):
        return {stmt.value.func.value.id}       # lst.append(v)
    if isinstance(stmt, gast.For):
        return {stmt.target.id}
    return set()


def is_differentiable(value) -> bool:
    """Can derivative information flow through this ANF right-hand side?"""
    if getattr(value, "srcad_opaque", False):
        return False
    if isinstance(value, (gast.Compare, gast.BoolOp, gast.Constant)):
        return False
    if isinstance(value, gast.BinOp):
        return not isinstance(value.op, gast.FloorDiv)
    if isinstance(value, gast.UnaryOp):
        return isinstance(value.op, (gast.USub, gast.UAdd))
    if isinstance(value, gast.Call):
        rule = registry.lookup(getattr(value, "srcad_callee", None))
        return rule is None or not rule.nondiff
    return True


def _flow_sources(stmt) -> set:
    """Names whose derivatives flow into what ``stmt`` defines."""
    if isinstance(stmt, gast.Assign):
        out = set()
        if is_differentiable(stmt.value):
            if isinstance(stmt.value, gast.Subscript):
                out |= _names(stmt.value.value)
            else:
                out |= _names(stmt.value)
        for t in stmt.targets:
            if isinstance(t, gast.Subscript):
                out.add(t.value.id)
        return out
    if is_append(stmt):
        return _names(stmt.value)
    return set()


@dataclass
class Activity:
    varied: set
    useful: set

    @property
    def active(self) -> set:
        return self.varied & self.useful

    def is_active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def activity(fdef: gast.FunctionDef, wrt_names: list[str], outputs=None,
             shapes: dict | None = None) -> Activity:
    """Which names vary with ``wrt_names`` and are useful (reach an output: what the
    function returns, or the atoms ``outputs`` when given, as ``has_aux`` gives the value
    alone). ``shapes``: ``analysis.shapes`` of the values, when known (``shift_free`` reads
    ranks from them)."""
    stmts = [s for s in walk_statements(fdef.body)
             if isinstance(s, (gast.Assign, gast.Expr))]
    cuts = shift_free(fdef, shapes)
    flows = [(defines(s), _flow_sources(s) - cuts.get(id(s), set())) for s in stmts]
    varied = set(wrt_names)
    changed = True
    while changed:
        changed = False
        for targets, sources in flows:
            if sources & varied and not targets <= varied:
                varied |= targets
                changed = True
    useful = set()
    for s in walk_statements(fdef.body):
        if isinstance(s, gast.Return):
            useful |= _names(s.value) if outputs is None else _names(outputs)
    changed = True
    while changed:             # (last to first: a value is useful through later ones, so a
        changed = False        # straight line settles in one pass, not one per statement)
        for targets, sources in reversed(flows):
            if targets & useful and not sources <= useful:
                useful |= sources
                changed = True
    return Activity(varied=varied, useful=useful)


def untracked_flows(fdef, act: Activity, local: set, lists: AbstractSet[str] = frozenset()):
    """The first statement whose value depends on a varied input through something srcad
    has no derivative for, as ``(statement, node, what)``, else None: an object indexed
    with varied values (``np.r_[x, c]``: its ``__getitem__`` computes, it does not read
    elements) or a boolean operator returning a varied operand (``y = x or c``). Unknown
    means refused: such a value is never treated as constant. ``local``: the function's
    parameters and assigned names (a local array indexed by a varied integer is fine: an
    index is piecewise constant); ``lists``: names holding Python lists (``list_names``)."""
    objects = {s.targets[0].id: _dotted_name(s.value)                   # _r_ = np.r_
               for s in walk_statements(fdef.body)
               if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
               and isinstance(s.value, gast.Attribute) and not getattr(
                   s.value, "srcad_opaque", False)}
    for stmt in walk_statements(fdef.body):
        if not isinstance(stmt, gast.Assign) or not defines(stmt) & act.useful:
            continue
        value = stmt.value
        if isinstance(value, gast.Subscript) and _names(value.slice) & act.varied and not (
                isinstance(value.value, gast.Name) and value.value.id in local - set(objects)):
            base = objects.get(getattr(value.value, "id", None)) or _dotted_name(value.value)
            return stmt, value, f"indexing `{base}` with values that " \
                                "depend on the differentiated input"
        if isinstance(value, gast.BinOp) and not isinstance(value.op, gast.Add) and _names(
                value) & act.varied and any(isinstance(v, gast.Name) and v.id in lists
                                            for v in (value.left, value.right)):
            return stmt, value, "an arithmetic operator on a Python list (`*` repeats a " \
                                "list; a display times an int literal, [h] * 2, is spelled " \
                                "out as [h, h]: write the count as a literal, or build the " \
                                "list with a loop of append)"
        if isinstance(value, gast.Call) and getattr(value, "srcad_callee", None) in (
                set, frozenset) and _names(value) & act.varied:
            return stmt, value, "a set of values that depend on the differentiated input " \
                                "(sets hold indices and keys, not values to differentiate)"
        if isinstance(value, gast.BoolOp) and _names(value) & act.varied:
            return stmt, value, "`and`/`or` over values that depend on the differentiated " \
                                "input (the result is one of the operands)"
    return None


def _dotted_name(node) -> str:
    if isinstance(node, gast.Attribute):
        return _dotted_name(node.value) + "." + node.attr
    return getattr(node, "id", "<expr>")


# -- shift invariance: values the output does not depend on, proved by how they enter it -------
#
# A reduction ``m`` (the max subtracted before ``exp`` to keep it from overflowing) that the
# output provably does not depend on gets no derivative: adding any ``c`` (of ``m``'s shape) to
# ``m`` changes each value computed from it by a known law, and every value through which ``m``
# reaches anything else is unchanged. The laws (``_Law``): ``v + k c`` (additive, coefficient
# ``k``) or ``v * exp(k c)`` (multiplicative), with ``c`` constant along some axes; ``m`` itself
# is ``m + c``. ``-``, ``+`` and products by number literals combine additive laws, ``exp`` makes
# one multiplicative, products and quotients combine those, ``log`` makes one additive, and
# reductions along axes where ``c`` is constant keep them (``sum``/``mean`` a multiplicative
# one, ``max``/``min``/``mean`` an additive one). A value whose coefficient is 0 does not depend
# on ``m`` at all: ``m + log(sum(exp(z - m)))`` (1 - 1), ``z - m - log(sum(exp(z - m)))``,
# ``exp(z - m) / sum(exp(z - m))``. The derivative through ``m`` is then zero exactly (not to
# rounding: the function does not depend on ``m``), and computing it would cost the
# tie-splitting adjoint of ``max``.

_SHIFTS = ("max", "amax", "min", "amin", "mean", "sum", "median")
_ADD, _MUL = "add", "mul"
_UNIFORM = "uniform"             # a perturbation constant along every axis (a scalar m)
_FRAME = "frame"                 # the rank of m's operand, not known as a number


@dataclass(frozen=True)
class _Law:
    """How a value changes when ``c`` is added to ``m``: ``kind`` ``_ADD`` (``v + k c``) or
    ``_MUL`` (``v * exp(k c)``), ``k`` a Fraction; ``c`` broadcast to the value's shape is
    constant along ``ones``. ``rank``: the value's rank (an int: ``ones`` are negative axes),
    ``_FRAME`` (the rank of m's operand: ``ones`` are the axes as m's keepdims reduction named
    them) or ``_UNIFORM`` (``c`` constant everywhere)."""
    kind: str
    k: Fraction
    rank: object
    ones: frozenset = frozenset()


def shift_free(fdef, shapes: dict | None = None) -> dict:
    """id(statement) -> the names whose derivative does not flow through it: the reductions
    the output provably does not depend on (see above), cut from every statement reading them.
    ``shapes`` (``analysis.shapes``, when the argument shapes are known) gives ranks; without
    them, axes are matched as written against the rank of the reduction's operand."""
    uses = _Uses(fdef)
    blocks: dict = {}                               # id(stmt) -> (its body list, index)
    for body in [fdef.body] + [getattr(s, f) for s in walk_statements(fdef.body)
                               for f in ("body", "orelse") if isinstance(getattr(s, f, None), list)]:
        for i, s in enumerate(body):
            blocks[id(s)] = (body, i)
    known = shapes or {}
    cuts: dict = {}
    for stmt in walk_statements(fdef.body):
        if not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name) or \
                not _numpy_call(stmt.value, _SHIFTS):
            continue
        m, call = stmt.targets[0].id, stmt.value
        if uses.assigned.get(m) is not stmt:
            continue
        start = _initial_law(call, known.get(m))
        if start is not None and _invariant(m, start, stmt, uses, blocks, known):
            for reader in uses.of(m):
                cuts.setdefault(id(reader), set()).add(m)
    return cuts


def _initial_law(call, shape):
    """m's own law (``m + c``), from its known shape or its reduction's axis and keepdims."""
    from fractions import Fraction
    one = Fraction(1)
    if isinstance(shape, tuple):
        if not shape or all(d == 1 for d in shape):
            return _Law(_ADD, one, _UNIFORM)
        return _Law(_ADD, one, len(shape), frozenset(
            i - len(shape) for i, d in enumerate(shape) if d == 1))
    keywords = {k.arg: k.value for k in call.keywords}
    axis = keywords.get("axis", call.args[1] if len(call.args) > 1 else None)
    keep = keywords.get("keepdims")
    keep = keep.value if isinstance(keep, gast.Constant) else False if keep is None else None
    if len(call.args) > 2 or set(keywords) - {"axis", "keepdims"} or keep is None:
        return None
    if axis is None or isinstance(axis, gast.Constant) and axis.value is None:
        return _Law(_ADD, one, _UNIFORM)               # a scalar, or ones everywhere
    axes = [literal(a) for a in (axis.elts if isinstance(axis, gast.Tuple) else [axis])]
    if not keep or None in axes:
        return None
    return _Law(_ADD, one, _FRAME, frozenset(axes))


def _invariant(m, start, stmt, uses, blocks, known) -> bool:
    """Does nothing that depends on ``m`` reach anything but values with laws (or of
    coefficient 0)? The statements after ``m``'s in its block are followed in order; any
    other reader of a value with a law (a later block, the next iteration, a return, a test)
    means it depends."""
    body, index = blocks[id(stmt)]
    operand = stmt.value.args[0] if stmt.value.args else None
    frame_names = set()              # m's operand, of the rank m keeps: never reassigned after
    if isinstance(operand, gast.Name):
        where = uses.assigned.get(operand.id)
        place = blocks.get(id(where)) if where is not None else None
        if operand.id not in uses.assigned or place is not None and place[0] is body and \
                place[1] < index:
            frame_names.add(operand.id)
    laws = {m: start}
    followed = set()
    for reader in body[index + 1:]:
        if isinstance(reader, (gast.For, gast.While, gast.If)) or not _names(reader) & set(laws):
            continue
        if not isinstance(reader, gast.Assign) or not isinstance(reader.targets[0], gast.Name):
            return False                         # written into, returned: depends on m
        target = reader.targets[0].id
        law = _law_of(reader.value, laws, known, frame_names)
        if law is None or uses.assigned.get(target) is not reader:
            return False
        followed.add(id(reader))
        if law.k != 0:
            laws[target] = law
    return all(id(r) in followed for n in laws for r in uses.of(n))


def _law_of(value, laws, known, frame_names):
    """The law of an ANF value reading names that have laws, else None (unknown)."""
    if isinstance(value, gast.Name):
        return laws.get(value.id)
    prim = primitive_call(value)
    if prim is None:
        return None
    fn, args, kwargs = prim
    if any(not isinstance(a, (gast.Name, gast.Constant)) for a in args):
        return None
    if fn in (operator.neg, np.negative, operator.pos, np.positive) and len(args) == 1:
        law = laws.get(getattr(args[0], "id", None))
        if law is None or kwargs:
            return None
        neg = fn in (operator.neg, np.negative) and law.kind == _ADD
        return _Law(law.kind, -law.k, law.rank, law.ones) if neg else law
    if fn in (np.exp, np.log) and len(args) == 1 and not kwargs:
        law = laws.get(getattr(args[0], "id", None))
        if law is None or law.kind != (_ADD if fn is np.exp else _MUL):
            return None
        return _Law(_MUL if fn is np.exp else _ADD, law.k, law.rank, law.ones)
    if fn in _ARITHMETIC and len(args) == 2 and not kwargs:
        return _combine(_ARITHMETIC[fn], args, laws, known, frame_names)
    name_ = getattr(fn, "__name__", None)
    if name_ in _SHIFTS and getattr(fn, "__module__", "").startswith("numpy") and len(args) == 1:
        law = laws.get(getattr(args[0], "id", None))
        if law is None or set(kwargs) - {"axis", "keepdims"}:
            return None
        keep = kwargs.get("keepdims", gast.Constant(value=False, kind=None))
        if not isinstance(keep, gast.Constant) or not isinstance(keep.value, bool):
            return None
        kinds = {"sum": (_MUL,), "mean": (_ADD, _MUL), "median": (_ADD,)}.get(name_, (_ADD, _MUL))
        return _reduced(law, kwargs.get("axis"), keep.value) if law.kind in kinds else None
    return None


_ARITHMETIC = {operator.add: "+", np.add: "+", operator.sub: "-", np.subtract: "-",
               operator.mul: "*", np.multiply: "*", operator.truediv: "/", np.divide: "/"}


def _combine(op, args, laws, known, frame_names):
    """The law of ``a op b``, at least one of them with a law."""
    a, b = (laws.get(getattr(x, "id", None)) for x in args)
    if a is not None and b is not None:
        rank, ones = _meet(a, b)
        if rank is None:
            return None
        if a.kind == b.kind == _ADD and op in "+-":
            return _Law(_ADD, a.k + b.k if op == "+" else a.k - b.k, rank, ones)
        if a.kind == b.kind == _MUL and op in "*/":
            return _Law(_MUL, a.k + b.k if op == "*" else a.k - b.k, rank, ones)
        return None
    if a is None and b is None:
        return None
    law, other = (a, args[1]) if a is not None else (b, args[0])
    rank, ones = _broadcast_law(law, other, known, frame_names)
    if rank is None:
        return None
    if law.kind == _ADD and op in "+-":
        return _Law(_ADD, -law.k if op == "-" and law is b else law.k, rank, ones)
    if law.kind == _MUL and (op == "*" or op == "/" and law is a):
        return _Law(_MUL, law.k, rank, ones)
    if law.kind == _MUL and op == "/":                # c / v
        return _Law(_MUL, -law.k, rank, ones)
    number = other.value if isinstance(other, gast.Constant) and type(other.value) in (
        int, float) else None
    if law.kind == _ADD and number is not None and (op == "*" or op == "/" and law is a
                                                     and number != 0):
        from fractions import Fraction
        factor = Fraction(number)
        return _Law(_ADD, law.k * factor if op == "*" else law.k / factor, rank, ones)
    return None


def _leading(law, rank):
    """``law.ones`` for a value broadcast to ``rank`` dimensions (the new axes constant)."""
    return law.ones | frozenset(range(-rank, -law.rank))


def _meet(a, b):
    """(rank, ones) of an elementwise operation of two values with laws, else (None, None)."""
    if a.rank == _UNIFORM or b.rank == _UNIFORM:
        other = b if a.rank == _UNIFORM else a
        return other.rank, other.ones
    if a.rank == b.rank == _FRAME:
        return _FRAME, a.ones & b.ones
    if isinstance(a.rank, int) and isinstance(b.rank, int):
        rank = max(a.rank, b.rank)
        return rank, _leading(a, rank) & _leading(b, rank)
    return None, None


def _broadcast_law(law, other, known, frame_names):
    """(rank, ones) of an elementwise operation of a value with a law and ``other`` (which
    does not depend on m), else (None, None)."""
    if law.rank == _UNIFORM:
        return _UNIFORM, frozenset()
    if isinstance(other, gast.Constant):
        rank = 0 if type(other.value) in (int, float) else None
    else:
        shape = known.get(other.id)
        rank = len(shape) if isinstance(shape, tuple) else _FRAME if (
            other.id in frame_names) else None
    if law.rank == _FRAME:
        return (_FRAME, law.ones) if rank in (0, _FRAME) else (None, None)
    if isinstance(rank, int):
        total = max(rank, law.rank)
        return total, _leading(law, total)
    return None, None


def _reduced(law, axis, keepdims):
    """The law of a reduction over the literal ``axis`` of a value with ``law``, where ``c``
    is constant along those axes, else None."""
    if law.rank == _UNIFORM:
        return law
    whole = axis is None or isinstance(axis, gast.Constant) and axis.value is None
    if law.rank == _FRAME:
        axes = None if whole else [literal(a) for a in (
            axis.elts if isinstance(axis, gast.Tuple) else [axis])]
        ok = axes is not None and None not in axes and set(axes) <= law.ones
        return law if ok and keepdims else None
    axes = axes_of(axis, law.rank)
    if axes is None or any(a - law.rank not in law.ones for a in axes):
        return None
    if keepdims:
        return law
    if whole:
        return _Law(law.kind, law.k, _UNIFORM)
    dropped = sorted(a - law.rank for a in axes)
    ones = frozenset(i + sum(1 for d in dropped if d > i) for i in law.ones if i not in dropped)
    return _Law(law.kind, law.k, law.rank - len(axes), ones)


class _Uses:
    """Where each name is assigned (the statement, None when more than once) and which
    statements read it (a loop or branch by its header only; its body reads for itself)."""

    def __init__(self, fdef):
        self.assigned: dict = {}
        self.readers: dict = {}
        for stmt in walk_statements(fdef.body):
            for name in defines(stmt):
                self.assigned[name] = None if name in self.assigned else stmt
            compound = isinstance(stmt, (gast.For, gast.While, gast.If))
            read = getattr(stmt, "test", None) or stmt.iter if compound else stmt
            for node in walk(read):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    self.readers.setdefault(node.id, []).append(stmt)

    def value(self, name):
        stmt = self.assigned.get(name)
        return stmt.value if isinstance(stmt, gast.Assign) else None

    def of(self, name) -> list:
        return self.readers.get(name, [])

    def only_by(self, name, *stmts) -> bool:
        """Do exactly ``stmts`` read ``name`` (once each)?"""
        return sorted(map(id, self.of(name))) == sorted(map(id, stmts))


def _numpy_call(node, names) -> bool:
    fn = getattr(node, "srcad_callee", None)
    return isinstance(node, gast.Call) and getattr(fn, "__name__", None) in names and \
        getattr(fn, "__module__", "").startswith("numpy")


_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
           gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
           gast.Mod: operator.mod, gast.FloorDiv: operator.floordiv}
_UNOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos}


def primitive_call(value):
    """The primitive an ANF right-hand side applies: (callable, [arg atoms], {kw: atom}), or
    None when the value is not a primitive application (a name, a literal, a list display,
    an opaque or boolean expression)."""
    if getattr(value, "srcad_opaque", False):
        return None
    if isinstance(value, gast.BinOp):
        return _BINOPS.get(type(value.op)), [value.left, value.right], {}
    if isinstance(value, gast.UnaryOp) and type(value.op) in _UNOPS:
        return _UNOPS[type(value.op)], [value.operand], {}
    if isinstance(value, gast.Subscript):
        return operator.getitem, [value.value, value.slice], {}
    if isinstance(value, gast.Call) and hasattr(value, "srcad_callee"):
        return (value.srcad_callee, list(value.args),
                {k.arg: k.value for k in value.keywords})
    return None


# runtime helpers whose result is a list when their first argument is one (generated code
# differentiated again: the adjoint buffers of list values)
_LIST_LIKE_FIRST = (runtime.add_at, runtime.zeros_like, runtime.add_list, runtime.zeros_filled)


def list_names(fdef, shapes=None) -> set:
    """Names that hold Python lists (or tuples) of values: their derivatives are lists too.
    Besides list displays and rules returning lists: parameters known to be lists of
    floats or of arrays (``shapes``), and copies and slices of list names (``y = xs[1:3]``)."""
    out = {name for name, shape in (shapes or {}).items() if shape in ("floats", "arrays",
                                                                       "tuple of arrays")}
    stmts = [s for s in walk_statements(fdef.body)
             if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)]
    for stmt in stmts:
        value = stmt.value
        if isinstance(value, (gast.List, gast.Tuple)):
            out.add(stmt.targets[0].id)
        elif isinstance(value, gast.Call):
            rule = registry.lookup(getattr(value, "srcad_callee", None))
            if rule is not None and rule.extra.get("returns_list"):
                out.add(stmt.targets[0].id)
    return _lists_flowing(stmts, out)


def _lists_flowing(stmts, out: set) -> set:
    """``out`` grown by the names assigned from its names as only lists are: copies, slices,
    ``xs + ys``, runtime helpers of list buffers."""
    changed = True
    while changed:
        changed = False
        for stmt in stmts:
            value, target = stmt.value, stmt.targets[0].id
            if isinstance(value, gast.Name):
                sources = {value.id}
            elif isinstance(value, gast.Subscript) and isinstance(
                    value.value, gast.Name) and isinstance(value.slice, gast.Slice):
                sources = {value.value.id}
            elif isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
                sources = _names(value)           # xs + ys concatenates lists
            elif isinstance(value, gast.Call) and getattr(
                    value, "srcad_callee", None) in _LIST_LIKE_FIRST and value.args and \
                    isinstance(value.args[0], gast.Name):
                sources = {value.args[0].id}      # add_at(buffer, ...) of a list is a list
            elif isinstance(value, gast.Call) and getattr(
                    value, "srcad_callee", None) is runtime.unstack_like and len(
                    value.args) == 2 and isinstance(value.args[1], gast.Name):
                sources = {value.args[1].id}      # np.array's adjoint, like a list: a list
            else:
                sources = set()
            if sources & out and target not in out:
                out.add(target)
                changed = True
    return out


def maybe_list_names(fdef, shapes, lists: AbstractSet[str]) -> set:
    """Names that may hold Python lists or tuples though nothing says so: parameters of
    unknown kind (the generic derivative's; a tuple of floats, a list of floats and ints),
    with the copies, slices and sums made of them, when none is read as only an array or a
    number may be (an operand of arithmetic other than ``xs + ys`` of such names, an
    attribute, a comparison): read as a container (``xs[0]``, ``for x in xs``, ``len(xs)``)
    or only passed to functions (``np.asarray(xs)``, whose adjoint is a list for a list).
    Adjoints of these names add with ``runtime.plus`` (item by item for lists, where ``+``
    would concatenate)."""
    a = fdef.args
    unknown = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} - set(shapes or ()) - \
        set(lists)
    if not unknown:
        return set()
    arrays: set = set()
    for node in walk(fdef):
        if isinstance(node, gast.BinOp):
            pair = [v for v in (node.left, node.right) if isinstance(v, gast.Name)]
            if not (isinstance(node.op, gast.Add) and len(pair) == 2 and
                    all(v.id in unknown | set(lists) for v in pair)):
                arrays.update(v.id for v in pair)
        elif isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Name):
            arrays.add(node.operand.id)
        elif isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
            arrays.add(node.value.id)
        elif isinstance(node, gast.Compare):
            arrays.update(v.id for v in [node.left, *node.comparators]
                          if isinstance(v, gast.Name))
    stmts = [s for s in walk_statements(fdef.body)
             if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)]
    out: set = set()
    for p in sorted(unknown - arrays):
        flow = _lists_flowing(stmts, {p})     # p and what is copied, sliced or summed from it
        if not flow & arrays:
            out |= flow
    return out - set(lists)


# -- shapes: what is known of each value's shape ---------------------------------------------
# A shape is a tuple of dimensions, () for Python and NumPy scalars. A dimension is 1, a
# symbol (a string such as "n0": a size other than 1, equal to another dimension exactly when
# the symbols are equal) or None (unknown, possibly 1). Besides tuples, "floats" marks a list
# of Python floats (a parameter), "arrays" a list of arrays, "tuple of arrays" a tuple of
# them (a parameter),
# "numbers" a list display of numbers (which appends may lengthen: only its np.array is
# known, as one axis) and "range" a range. These facts decide where broadcasting provably
# does nothing, so they must be exact: anything not derived for certain is None or absent.

_MISSING = object()
_REDUCTIONS = ("sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum",
               "nanmean", "nanmax", "nanmin", "average", "norm")


def shapes(fdef, param_shapes: dict) -> dict:
    """name -> its shape (see above), joined over every assignment to it; absent when
    unknown. ``param_shapes`` gives the parameters' (from the argument kinds a derivative is
    specialized for)."""
    known = {k: v for k, v in param_shapes.items() if v is not None}
    unknown: set = {k for k, v in param_shapes.items() if v is None}
    stmts = list(walk_statements(fdef.body))
    join_all(lambda: (pair for stmt in stmts for pair in _assigned_shapes(stmt, known)),
             known, unknown)
    return known


def join_all(assignments, known: dict, unknown: set):
    """Join each name's shape over all its assignments until nothing changes:
    ``assignments()`` yields (name, shape) pairs, each shape computed from ``known`` as it
    is then; names in ``unknown`` (or that become unknown) are left out of ``known``. Shapes
    only lose facts, so this terminates."""
    changed = True
    while changed:
        changed = False
        for name, shape in assignments():
            if name not in unknown and _join_into(name, shape, known, unknown):
                changed = True


def join_tracked(assigns: list, shape_of, known: dict, unknown: set) -> None:
    """``join_all`` over ``assigns``, (name, value) pairs: ``shape_of(value)`` gives the
    value's shape from ``known`` as it is then and the set of names whose facts it read. A
    value is computed again only once one of those names has changed since it was last
    computed; otherwise it would give the same shape, which its name's joined shape already
    holds (a join with it changes nothing). So each step is join_all's, without the last
    round recomputing every value to find nothing changed."""
    reads: list = [None] * len(assigns)
    computed = [0] * len(assigns)        # the count of changes when last computed
    changed_at: dict = {}                 # name -> the count of changes after its last one
    count = 0
    changed = True
    while changed:
        changed = False
        for i, (name, value) in enumerate(assigns):
            if name in unknown or reads[i] is not None and not any(
                    changed_at.get(r, 0) > computed[i] for r in reads[i]):
                continue
            computed[i] = count
            shape, reads[i] = shape_of(value)
            if _join_into(name, shape, known, unknown):
                count += 1
                changed_at[name] = count
                changed = True


def _join_into(name, shape, known: dict, unknown: set) -> bool:
    """Join ``shape`` into the facts of ``name`` (not in ``unknown``): did they change?"""
    old = known.get(name, _MISSING)
    new = shape if old is _MISSING else join(old, shape)
    if new is None:
        unknown.add(name)
        known.pop(name, None)
        return True
    if new != old:
        known[name] = new
        return True
    return False


def rank(shape):
    """The number of dimensions of a shape from ``shapes``, else None."""
    return len(shape) if isinstance(shape, tuple) else None


def join(a, b):
    """What two assignments of one name have in common."""
    if a == b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(x if x == y else None for x, y in zip(a, b))
    return None


def broadcast(shapes_):
    """The shape NumPy broadcasting gives operands of these shapes, or None when unknown."""
    if any(not isinstance(s, tuple) for s in shapes_):
        return None
    out = []
    for i in range(1, max((len(s) for s in shapes_), default=0) + 1):
        dims = {s[-i] for s in shapes_ if len(s) >= i} - {1}
        if not dims:
            out.append(1)
        elif len(dims) == 1 and None not in dims:
            out.append(dims.pop())
        else:
            out.append(None)     # unknown (may be 1), or two sizes that cannot broadcast
    return tuple(out[::-1])


def _assigned_shapes(stmt, known):
    if isinstance(stmt, gast.For):
        it = stmt.iter
        return [(stmt.target.id, () if _is_range(it, known) else None)]
    if not isinstance(stmt, gast.Assign):
        return []
    target = stmt.targets[0]
    if isinstance(target, gast.Name):
        return [(target.id, value_shape(stmt.value, known))]
    if isinstance(target, gast.Tuple):
        return [(e.id, None) for e in target.elts]
    return []           # x[i] = v keeps x's shape


def _is_range(node, known) -> bool:
    return isinstance(node, gast.Name) and known.get(node.id) == "range"


def value_shape(value, known):
    """The shape of an ANF right-hand side, or None when unknown."""
    if isinstance(value, gast.Constant):
        return () if type(value.value) in (int, float, complex) else None
    if isinstance(value, gast.List) and value.elts and all(
            value_shape(e, known) == () for e in value.elts):
        return "numbers"                 # a list display of numbers (appends may follow)
    if isinstance(value, gast.Name):
        return known.get(value.id)
    if isinstance(value, gast.UnaryOp):
        return value_shape(value.operand, known)
    if isinstance(value, (gast.BinOp, gast.Compare)):
        operands = [value.left, value.right] if isinstance(value, gast.BinOp) else \
            [value.left] + list(value.comparators)
        found = [value_shape(o, known) for o in operands]
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            return matmul_shape(*found)
        return broadcast(found)
    if isinstance(value, gast.Subscript):
        return _index_shape(value, known)
    if isinstance(value, gast.Call):
        return _call_shape(value, known)
    if isinstance(value, gast.Attribute) and value.attr in ("size", "ndim"):
        return ()
    if isinstance(value, gast.Attribute) and value.attr == "shape":
        return "shape"                   # a tuple of ints
    return None


def matmul_shape(a, b):
    if not (isinstance(a, tuple) and isinstance(b, tuple)) or not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    batch = broadcast([a[:-2], b[:-2]])
    return None if batch is None else batch + (a[-2], b[-1])


def _index_shape(value, known):
    base = value.value
    shape = known.get(base.id) if isinstance(base, gast.Name) else None
    items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
    if shape in ("floats", "shape"):     # an element of a list of floats, a size
        item = value.slice
        return () if not isinstance(item, (gast.Slice, gast.Tuple)) and value_shape(
            item, known) == () else None
    if not isinstance(shape, tuple):
        return None
    out, rest = [], list(shape)
    for item in items:
        if isinstance(item, gast.Constant) and item.value is None:
            out.append(1)
        elif not rest:
            return None
        elif isinstance(item, gast.Slice):
            dim = rest.pop(0)
            whole = item.lower is None and item.upper is None and item.step is None
            out.append(dim if whole else None)
        elif value_shape(item, known) == ():       # a scalar index drops its dimension
            rest.pop(0)
        else:
            return None
    return tuple(out + rest)


def _call_shape(call, known):
    import math as _math

    fn = getattr(call, "srcad_callee", None)
    if fn is range:
        return "range"
    if fn in (len, int, float) or getattr(fn, "__module__", None) == "math" or (
            fn is not None and getattr(_math, getattr(fn, "__name__", ""), None) is fn):
        return ()
    rule = registry.lookup(fn) if fn is not None else None
    args = list(call.args)
    like = _RUNTIME_LIKE.get(getattr(fn, "__name__", "")) if getattr(
        fn, "__module__", None) == "srcad.runtime" else None
    if like is not None and len(args) > like and not call.keywords:
        shape = value_shape(args[like], known)      # (derivative code differentiated again)
        return shape if isinstance(shape, tuple) else None
    if rule is not None and rule.extra.get("elementwise"):
        if call.keywords:
            return None
        return broadcast([value_shape(a, known) for a in args]) if args else None
    if rule is not None and rule.extra.get("shape_preserving"):
        return value_shape(args[0], known) if args else None
    name = getattr(fn, "__name__", "")
    if not (getattr(fn, "__module__", None) or "").startswith("numpy") or not args:
        return None
    shape = value_shape(args[0], known)
    if name in _PRODUCTS and len(args) == 2 and not call.keywords:
        return _PRODUCTS[name](shape, value_shape(args[1], known))
    if name == "transpose" and len(args) == 1 and not call.keywords:
        return shape[::-1] if isinstance(shape, tuple) else None
    if name in _COPIES and len(args) == 1 and all(
            k.arg in ("dtype", "order", "copy") for k in call.keywords):
        # not () : a number made a 0-d array is written into as one (y[()] = v)
        return (None,) if shape in ("floats", "numbers") else shape if rank(shape) else None
    if name in _REDUCTIONS:
        keywords = {k.arg: k.value for k in call.keywords}
        if name == "norm" and (keywords or len(args) > 1):
            return None
        if set(keywords) - {"axis", "keepdims"}:
            return None
        axis = keywords.get("axis", args[1] if len(args) > 1 else None)
        keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
        if len(args) > 2 or not isinstance(keep, gast.Constant):
            return None
        return reduced_shape(shape, axis, bool(keep.value))
    return None


_COPIES = ("copy", "array", "asarray", "asanyarray")        # the shape of their one argument
# runtime helpers (in derivative code that is differentiated again) whose result has the shape
# of their argument at this position, when that is an array or a number
_RUNTIME_LIKE = {"unbroadcast": 1, "broadcast_like": 1, "expand_reduced": 1, "zeros_like": 0,
                 "tangent_zeros": 0, "matmul_adjoint_lhs": 1, "matmul_adjoint_rhs": 2,
                 "tensordot_adjoint_lhs": 1, "tensordot_adjoint_rhs": 2}


def dot_shape(a, b):
    """The shape of ``np.dot(a, b)`` for operands of shapes ``a`` and ``b``, else None."""
    if not (isinstance(a, tuple) and isinstance(b, tuple)):
        return None
    if not a or not b:
        return broadcast([a, b])         # a 0-d operand multiplies
    if len(b) == 1:
        return a[:-1]                    # the last axis of a with the only one of b
    return a[:-1] + b[:-2] + b[-1:]      # the last axis of a with the second-to-last of b


def _outer_shape(a, b):
    """``np.outer`` ravels its operands: its shape is known for 0-d and 1-d ones."""
    dims = []
    for s in (a, b):
        if not isinstance(s, tuple) or len(s) > 1:
            return None
        dims.append(s[0] if s else 1)
    return tuple(dims)


_PRODUCTS = {"dot": dot_shape, "matmul": matmul_shape, "outer": _outer_shape,
             "vdot": lambda a, b: () if rank(a) is not None and rank(b) is not None else None}


def reduced_shape(shape, axis, keepdims):
    """``shape`` (None: unknown) reduced over ``axis`` (a literal: None, an int or a tuple
    of ints)."""
    if (axis is None or isinstance(axis, gast.Constant) and axis.value is None) and not keepdims:
        return ()                    # a full reduction is a scalar whatever it reduced
    if not isinstance(shape, tuple):
        return None
    axes = axes_of(axis, len(shape))
    if axes is None:
        return None
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def axes_of(axis, ndim):
    """The set of axes of ``ndim`` dimensions a literal ``axis`` (None, an int, a tuple of
    ints, negative ones counted from the end) names, else None."""
    if axis is None or isinstance(axis, gast.Constant) and axis.value is None:
        return set(range(ndim))
    items = axis.elts if isinstance(axis, gast.Tuple) else [axis]
    axes = [literal(a) for a in items]
    if None in axes or any(not -ndim <= a < ndim for a in axes):
        return None
    return {a % ndim for a in axes}


def literal(node, kind=int):
    """The value of a literal of type ``kind`` (``2``, ``-1``; ``2.0`` for float), else None
    (an int is not a float literal, nor a float an int one)."""
    if isinstance(node, gast.Constant) and type(node.value) is kind:
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = literal(node.operand, kind)
        return None if inner is None else -inner
    return None


_VIEWS = ("reshape", "transpose", "ravel", "swapaxes", "moveaxis", "squeeze", "expand_dims",
          "broadcast_to", "diagonal", "atleast_1d", "atleast_2d", "atleast_3d", "real",
          "imag", "matrix_transpose", "flip", "fliplr", "flipud", "rot90", "asarray", "rollaxis",
          # ... and those handing back their argument itself when it already fits
          # (np.ascontiguousarray(B) is B for a C-contiguous B), or a slice of it
          "asanyarray", "ascontiguousarray", "asfortranarray", "asarray_chkfinite",
          "real_if_close", "require", "trim_zeros")


def aliased_writes(fdef, shapes=None):
    """The first write into memory that another variable shares and reads afterwards, as
    ``(statement, name, other, how)``, else None. A write is ``x[i] = v``, ``lst.append(v)``,
    ``v = lst.pop()``, or ``x += v`` on an
    array (an ANF ``x = x + v`` marked ``srcad_inplace``; on a number it rebinds, so it is
    a write only where ``shapes`` does not prove ``x`` a scalar, and only when ``shapes`` is
    given: the generic derivative cannot tell). Names share memory after ``a = b`` and
    views (``a = b[1:]``, ``a = b.T``), in both directions. srcad follows values, so such a
    write would not reach the other variable's value or derivative.

    Flow-sensitive: sharing is tracked statement by statement (a later rebinding never
    affects an earlier write), loop bodies to a fixed point."""
    return _Sharing(fdef, shapes).first_conflict()


class _Sharing:
    """May-share analysis: each name maps to the set of storages it may refer to."""

    def __init__(self, fdef, shapes):
        self.shapes = shapes
        self.where: dict = {}           # id(statement) -> (its block, the statement owning it)
        self.how: dict = {}             # name -> how it came to share memory
        self.held: dict = {}            # a list display's storage -> its items' storages
        self.displays: set = set()      # names bound to a list or tuple display
        self.repeated: set = set()      # list storages holding one storage in several items
        self._nest(fdef.body, None)
        self.fresh = 0
        self.fdef = fdef

    def _nest(self, body, parent):
        for stmt in body:
            self.where[id(stmt)] = (body, parent)
            for field in ("body", "orelse"):
                self._nest(getattr(stmt, field, None) or [], stmt)

    def storage(self):
        self.fresh += 1
        return frozenset([self.fresh])

    def first_conflict(self):
        try:
            self.block(self.fdef.body, {})
        except _Conflict as found:
            return found.args
        return None

    def block(self, body, env):
        for stmt in body:
            if isinstance(stmt, gast.If):
                a = self.block(stmt.body, dict(env))
                b = self.block(stmt.orelse, dict(env))
                env = {n: a.get(n, frozenset()) | b.get(n, frozenset()) for n in {*a, *b}}
            elif isinstance(stmt, (gast.For, gast.While)):
                env = self.loop(stmt, env)
            elif isinstance(stmt, gast.Assign):
                popped = getattr(stmt.value, "srcad_pop", None)
                if popped is not None:
                    self.write(stmt, popped, env)       # v = lst.pop() shortens lst
                self.assign(stmt, env)
            elif is_append(stmt):                       # lst.append(v) lengthens lst
                lst = stmt.value.func.value.id
                self.write(stmt, lst, env)
                item = stmt.value.args[0] if stmt.value.args else None
                if isinstance(item, gast.Name):         # and holds v itself
                    for s in env.setdefault(lst, self.storage()):
                        added = env.setdefault(item.id, self.storage())
                        if self.held.get(s, frozenset()) & added and self.maybe_array(item.id):
                            self.repeated.add(s)    # lst.append(v) of a v it holds
                        self.held[s] = self.held.get(s, frozenset()) | added
                    self.how.setdefault(lst, f"a list holding {item.id!r}")
        return env

    def loop(self, loop, env):
        """The names' storages after ``loop``. When its body only permutes them (``a, b =
        b, a``: double buffering) or binds new ones, the first iteration ends with the
        storages of the loop's entry renamed, one for one (the names share with each other
        as before it), and so does the second with those of the first; every further
        iteration is then the second's, renamed, and the first's storages stand for all.
        Not for a loop that may end inside its body (``break``: that exit would see storages
        half permuted). Else the back edge merges the storages of each iteration, which
        makes ``a`` and ``b`` each other's alias."""
        first = self.block(loop.body, dict(env))
        if not any(isinstance(n, (gast.Break, gast.Continue)) for s in loop.body
                   for n in gast.walk(s)):
            read = {n.id for n in gast.walk(loop) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, gast.Load)}   # the names that matter: read again
            live = {n for n in first if n in read or self.read_after(loop, n)}
            if self.renaming(env, first, live) is not None and self.renaming(
                    first, self.block(loop.body, dict(first)), live) is not None:
                return first
        after = first
        for _ in range(2):          # the back edge: sharing made late in the body
            merged = {n: env.get(n, frozenset()) | after.get(n, frozenset())
                      for n in {*env, *after}}
            if merged == env:
                return env
            env = merged
            after = self.block(loop.body, dict(env))
        return {n: env.get(n, frozenset()) | after.get(n, frozenset()) for n in {*env, *after}}

    def renaming(self, before, after, names):
        """A one-to-one map of storages taking the storage of each of ``names`` in ``before``
        to its storage in ``after`` (a name that may hold several keeps them, unchanged), and
        the items the lists among them hold to the items those hold; else None."""
        sigma: dict = {}
        kept: set = set()
        for name, mine in before.items():
            if name not in names:
                continue
            theirs = after.get(name, frozenset())
            if len(mine) == 1 and len(theirs) == 1:
                (s,), (t,) = mine, theirs
                if sigma.setdefault(s, t) != t:
                    return None
            elif mine == theirs:
                kept |= mine
            else:
                return None
        if any(sigma.setdefault(s, s) != s for s in kept) or len(set(sigma.values())) != len(
                sigma):
            return None
        for s, t in sigma.items():
            held = self.held.get(s, frozenset())
            if not held <= sigma.keys() or frozenset(
                    sigma[h] for h in held) != self.held.get(t, frozenset()):
                return None
        return sigma

    def assign(self, stmt, env):
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript):
            item = getattr(stmt, "srcad_item_inplace", None)
            if item is not None:
                # lst[i] += v (ANF: item = lst[i]; new = item + v; lst[i] = new) on a list's
                # array writes into that array, as Python's item.__iadd__(v) does (a number
                # is rebound: only names that may be arrays share what it writes)
                self.write(stmt, item, env, also=target.value.id,
                           mine=self.items_of(target, env), arrays=True)
                lst = target.value.id
                if env.get(lst, frozenset()) & self.repeated and self.read_after(stmt, lst):
                    # L = [W, W]; L[0] += 1: L[1], the same array, is written too
                    raise _Conflict(stmt, item, lst, "the same array as another of its items")
            self.write(stmt, target.value.id, env)
            return
        if isinstance(target, gast.Tuple):
            for e in target.elts:
                env[e.id] = self.storage()
            return
        name, value = target.id, stmt.value
        if getattr(stmt, "srcad_inplace", False) and self.maybe_array(name):
            # x += v on an array writes into x (ANF: x_2 = x + v, x_2 keeping x's memory)
            written = value.left.id
            self.write(stmt, written, env, also=name)
            env[name] = env.setdefault(written, self.storage())
            return
        if isinstance(value, (gast.List, gast.Tuple)):     # a new list holding its items
            env[name] = self.storage()
            self.displays.add(name)
            held = [e.id for e in value.elts if isinstance(e, gast.Name)]
            items = [env.setdefault(e, self.storage()) for e in held]
            self.held[next(iter(env[name]))] = frozenset().union(*items)
            if any(self.maybe_array(e) and any(items[i] & other for other in items[:i])
                   for i, e in enumerate(held)):
                self.repeated |= env[name]      # [W, W]: an array held twice
            if held:
                self.how.setdefault(name, f"a list holding {held[0]!r}")
            return
        parts = _parts_of(value)
        if parts is not None:                    # np.split(c, 2): a list of views of c
            env[name] = self.storage()
            self.held[next(iter(env[name]))] = env.setdefault(parts, self.storage())
            self.how[name] = f"the views of {parts!r} that {value.srcad_callee.__name__} returns"
            return
        items = self.items_of(value, env)
        if items:                                          # lst[i]: an item's own memory
            env[name] = items
            self.how[name] = f"an item of {value.value.id!r}"
            return
        source = _shared_source(value)
        if source is not None and isinstance(value, gast.Subscript) and self.unshared(value):
            source = None                   # x[i, j] of a 2-d x, x[idx]: not a view
        if source is None:
            env[name] = self.storage()
        elif source != name:
            if source not in env:
                env[source] = self.storage()
            env[name] = env[source]
            self.how[name] = _sharing_kind(value)

    def unshared(self, value) -> bool:
        """Is ``a[...]`` certainly not a view of ``a``? With the shapes of a specialized
        build: when an index is known to be an array (advanced indexing copies), or when
        ``a`` is known to have as many axes as there are indices and each is known to be a
        number (an element). Without them (the generic build made when ``srcad.grad(f)`` is
        called, to report errors early): unless ``a`` is known to have more axes than
        indices; each call builds a specialized derivative, which decides."""
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        shapes = self.shapes or {}
        if any(isinstance(i, gast.Name) and (rank(shapes.get(i.id)) or i.id in self.displays
                                              or shapes.get(i.id) in ("numbers", "floats"))
               for i in items):
            return True                     # an array or a list of indices: a copy
        if not all(isinstance(i, gast.Name) or isinstance(i, gast.Constant) and isinstance(
                i.value, int) and not isinstance(i.value, bool) for i in items):
            return False
        shape = shapes.get(getattr(value.value, "id", None))
        if self.shapes is None:
            return not (isinstance(shape, tuple) and len(shape) > len(items))
        return isinstance(shape, tuple) and len(shape) <= len(items) and all(
            not isinstance(i, gast.Name) or shapes.get(i.id) == () for i in items)

    def items_of(self, value, env) -> frozenset:
        """The memory of the items ``value`` (``lst[i]``) may be, when it indexes a list
        display (a list holds its items by reference), else nothing."""
        if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name)):
            return frozenset()
        return frozenset().union(*(self.held.get(s, frozenset())
                                   for s in env.get(value.value.id, ())))

    def reach(self, storages) -> frozenset:
        """``storages`` and the memory of the items the lists among them hold."""
        return storages.union(*(self.held.get(s, frozenset()) for s in storages))

    def maybe_array(self, name) -> bool:
        return self.shapes is not None and self.shapes.get(name) != ()

    def write(self, stmt, name, env, also=None, mine=None, arrays=False):
        """Refuse a write into ``name`` (into the storages ``mine``, by default its own)
        that another name, read afterwards, shares (``also``: a name that may share it;
        ``arrays``: only a name that may be an array)."""
        mine = env.get(name) if mine is None else mine
        if not mine:
            return
        for other in sorted(env):       # a list read afterwards reads its items
            if other not in (name, also) and self.reach(env[other]) & mine and (
                    not arrays or self.maybe_array(other)) and self.read_after(stmt, other):
                kind = self.how.get(name) or self.how.get(other) or "the same array"
                raise _Conflict(stmt, name, other, kind)

    def read_after(self, stmt, name) -> bool:
        """Is ``name`` read after ``stmt`` ran (in the rest of the function or the next
        iteration of a loop around it) before it is certainly rebound?"""
        node = stmt
        while True:
            block, parent = self.where[id(node)]
            at = next(i for i, s in enumerate(block) if s is node)
            read, rebound = _first_use(block[at + 1:], name)
            if read or rebound:
                return read
            if parent is None:
                return False
            if isinstance(parent, (gast.For, gast.While)):  # the next iteration
                if name in _reads(parent):
                    return True
                read, rebound = _first_use(parent.body, name)
                if read or rebound:
                    return read
            node = parent


class _Conflict(Exception):
    pass


def _first_use(stmts, name):
    """(read, rebound): does running ``stmts`` read ``name`` before certainly rebinding it,
    or certainly rebind it first? (Neither: both False.)"""
    for s in stmts:
        if name in _reads(s):
            return True, False
        if isinstance(s, gast.If):
            then, other = _first_use(s.body, name), _first_use(s.orelse, name)
            if then[0] or other[0]:
                return True, False
            if then[1] and other[1]:
                return False, True
        elif isinstance(s, (gast.For, gast.While)):     # may run no iteration: no rebinding
            if _first_use(s.body, name)[0]:
                return True, False
        elif (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
              and s.targets[0].id == name and not getattr(s, "srcad_inplace", False)):
            return False, True
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Tuple) and any(
                e.id == name for e in s.targets[0].elts):
            return False, True
    return False, False


def _reads(stmt) -> set:
    """Names a statement itself reads (a loop or branch: its header only)."""
    if isinstance(stmt, gast.For):
        return _names(stmt.iter)
    if isinstance(stmt, (gast.If, gast.While)):
        return _names(stmt.test)
    return _names(stmt)


_PARTS = ("split", "array_split", "hsplit", "vsplit", "dsplit", "unstack", "broadcast_arrays")


def _parts_of(value):
    """The name whose memory the items of a multi-output call share (``np.split(c, 2)``,
    views of ``c``), else None."""
    if isinstance(value, gast.Call) and getattr(getattr(value, "srcad_callee", None),
                                                "__name__", "") in _PARTS and value.args \
            and isinstance(value.args[0], gast.Name):
        return value.args[0].id
    return None


def _shared_source(value):
    """The name whose memory ``value`` shares (a copy or a view of it), else None."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Subscript) and _basic(value.slice) and isinstance(
            value.value, gast.Name):
        return value.value.id
    if not isinstance(value, gast.Call):
        return None
    out = next((k.value for k in value.keywords if k.arg == "out"), None)
    if isinstance(out, gast.Name):          # np.fix(a, out=b) is b
        return out.id
    first = value.args[0] if value.args else None
    if not isinstance(first, gast.Name):
        return None
    if getattr(getattr(value, "srcad_callee", None), "__name__", "") in _VIEWS or getattr(
            value, "srcad_may_be_receiver", False):
        return first.id
    copied = next((k.value for k in value.keywords if k.arg == "copy"), None)
    if copied is not None and not (isinstance(copied, gast.Constant) and copied.value is True):
        return first.id                     # np.array(a, copy=False), nan_to_num(a, copy=False)
    return None


def _sharing_kind(value) -> str:
    if isinstance(value, gast.Name):
        return f"another name for {value.id!r}"
    if isinstance(value, gast.Subscript):
        return f"a slice of {value.value.id!r}, a view"
    name = value.srcad_callee.__name__
    if any(k.arg == "out" for k in value.keywords):
        return f"the result of {name}, its out= array"
    if getattr(value, "srcad_may_be_receiver", False):
        return f"the result of .{name}(), the array itself when it is real"
    return f"the result of {name}, a view"


def _basic(index) -> bool:
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(isinstance(i, gast.Slice) for i in items) or any(
        isinstance(i, gast.Constant) and i.value in (None, Ellipsis) for i in items) or all(
        isinstance(i, (gast.Name, gast.Constant)) for i in items)


# -- stage invariants (checked after each stage when SRCAD_VERIFY=1) --------------------------

_ATOMS = (gast.Name, gast.Constant)


def _static(node) -> bool:
    """``np.pi``, ``np.float64``: a module attribute the normalizer keeps as written."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


def _atom(node) -> bool:
    return isinstance(node, _ATOMS) or (isinstance(node, gast.Attribute) and _static(node)) or (
        isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant)) or (
        isinstance(node, gast.Tuple) and all(isinstance(e, gast.Constant) for e in node.elts))


def _index_of_atoms(index) -> bool:
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    return all(_atom(i) or (isinstance(i, gast.Slice) and all(
        p is None or _atom(p) for p in (i.lower, i.upper, i.step))) for i in items)


def anf_violations(fdef) -> list:
    """Statements of a normalized function breaking the ANF guarantees (normalize's
    docstring): each as ``(statement, what is wrong)``."""
    bad = []
    for stmt in walk_statements(fdef.body):
        if isinstance(stmt, gast.Assign):
            value = stmt.value
            if getattr(value, "srcad_opaque", False) or _atom(value) or is_primal_only(stmt):
                continue
            if isinstance(value, gast.BinOp):
                ok = _atom(value.left) and _atom(value.right)
            elif isinstance(value, gast.UnaryOp):
                ok = _atom(value.operand)
            elif isinstance(value, gast.Compare):
                ok = _atom(value.left) and all(_atom(c) for c in value.comparators)
            elif isinstance(value, (gast.List, gast.Tuple)):
                ok = all(_atom(e) for e in value.elts)
            elif isinstance(value, gast.Subscript):
                ok = _atom(value.value) and _index_of_atoms(value.slice)
            elif isinstance(value, gast.Call):
                ok = all(_atom(a) for a in value.args) and all(
                    _atom(k.value) for k in value.keywords)
            else:
                ok = False
            if not ok:
                bad.append((stmt, f"not in A-normal form: {type(value).__name__} over "
                                  "non-atoms"))
        elif isinstance(stmt, (gast.If, gast.While)) and not _atom(stmt.test):
            bad.append((stmt, "a branch or loop test that is not an atom"))
        elif isinstance(stmt, gast.For) and not (
                isinstance(stmt.target, gast.Name) and _atom(stmt.iter)):
            bad.append((stmt, "a for loop over a non-atom or into a non-name"))
        if getattr(stmt, "lineno", None) is None:
            bad.append((stmt, "a statement without the user's line number"))
    return bad
