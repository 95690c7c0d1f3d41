"""A-normal form of expressions: every operand an atom (a name, a literal, a module
attribute as written), each intermediate value in a temporary of its own.

Input: an expression of the user's. Output: ``atom`` gives an atom, ``simple`` one operation
over atoms (a call, an operator, a comparison, a subscript with an index of atoms, a
list/tuple of atoms, or an opaque non-differentiable expression marked ``srcad_opaque``); the
statements computing the operands are appended to ``pre``. Calls go through ``Calls.call``.
"""
from __future__ import annotations

import copy
import inspect

import gast
import numpy as np

from ..source import UNRESOLVED
from .program import _as_written, _loc_error, _name
from .scope import Resolver, _is_static_root

__all__ = ["Expressions"]

_OPAQUE_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags"}

# The fields of the named tuples NumPy 2's linear algebra returns, by function: ``r.logabsdet``
# of ``r = np.linalg.slogdet(A)`` is ``r[1]``.
_RESULT_FIELDS = {np.linalg.slogdet: ("sign", "logabsdet"),
                  np.linalg.eigh: ("eigenvalues", "eigenvectors"),
                  np.linalg.eig: ("eigenvalues", "eigenvectors"),
                  np.linalg.qr: ("Q", "R"), np.linalg.svd: ("U", "S", "Vh")}
# ... when the option deciding what they return, if given, is a literal saying the named tuple
# (``svd(a, compute_uv=False)`` is the array of singular values, ``qr(a, mode='r')`` R alone)
_RESULT_OPTIONS = {np.linalg.svd: ("compute_uv", (True,)),
                   np.linalg.qr: ("mode", ("reduced", "complete"))}
_FIELD_NAMES = frozenset(name for fields in _RESULT_FIELDS.values() for name in fields)


class Expressions(Resolver):
    """Expressions (the first layer above ``Resolver``)."""

    def atom(self, scope, node, pre, hint=None):
        """Reduce an expression to a Name or literal, emitting statements into ``pre``."""
        if isinstance(node, gast.Name):
            return self.name(scope, node)
        if isinstance(node, gast.Constant):
            return node
        if (isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd))
                and isinstance(node.operand, gast.Constant)):
            return node
        if isinstance(node, gast.Tuple) and all(
                isinstance(e, gast.Constant) for e in node.elts):
            return node
        simple = self.unpacked(self.simple(scope, node, pre, hint=hint), pre)
        if isinstance(simple, (gast.Name, gast.Constant)):
            return simple
        tmp = self.namer.temp_for(simple)
        assign = gast.Assign(targets=[_name(tmp, gast.Store())], value=simple,
                             type_comment=None)
        pre.append(assign)
        if isinstance(node, gast.Subscript) and not scope.depth:     # a view, in messages:
            self.origins[tmp] = _as_written(node)                # as written
        return _name(tmp, gast.Load())

    def unpacked(self, simple, pre):
        """A call of a rule with N > 1 outputs used as one value (``slogdet(a)[1]``, ``r =
        qr(a)``): its N values bound to N names in ``pre``, and the tuple of them in its
        place, so that the rule always meets its N outputs."""
        from .. import registry
        callee = getattr(simple, "srcad_callee", None)
        rule = registry.lookup(callee) if callee is not None else None
        if rule is None or rule.adjoint is None or len(rule.adjoint.outputs) < 2 or \
                rule.extra.get("returns_list"):
            return simple
        names = [self.namer.fresh("_" + out.lstrip("_")) for out in rule.adjoint.outputs]
        pre.append(gast.Assign(targets=[gast.Tuple(elts=[_name(n, gast.Store()) for n in names],
                                                   ctx=gast.Store())],
                               value=simple, type_comment=None))
        return gast.Tuple(elts=[_name(n, gast.Load()) for n in names], ctx=gast.Load())

    def simple(self, scope, node, pre, hint=None):
        """Reduce an expression to one operation over atoms."""
        if isinstance(node, (gast.Name, gast.Constant)):
            return self.atom(scope, node, pre)
        if isinstance(node, gast.BinOp):
            repeated = _repeated_display(node)
            if repeated is not None:        # [h] * 2 is [h, h]: one list holding h twice
                display, count = repeated
                atoms = [self.atom(scope, e, pre) for e in display.elts]
                return type(display)(elts=[copy.deepcopy(a) for _ in range(count)
                                           for a in atoms], ctx=gast.Load())
            return gast.BinOp(left=self.atom(scope, node.left, pre), op=node.op,
                              right=self.atom(scope, node.right, pre))
        if isinstance(node, gast.UnaryOp):
            if isinstance(node.operand, gast.Constant):
                return node
            return gast.UnaryOp(op=node.op, operand=self.atom(scope, node.operand, pre))
        if isinstance(node, gast.Compare):
            return gast.Compare(left=self.atom(scope, node.left, pre), ops=node.ops,
                                comparators=[self.atom(scope, c, pre)
                                             for c in node.comparators])
        if isinstance(node, (gast.Tuple, gast.List)):
            cls = type(node)
            return cls(elts=[self.atom(scope, e, pre) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Subscript):
            trick = self.index_trick(scope, node.value)
            if trick is not None:
                return self.concatenation(scope, node, trick, pre)
            value = self.atom(scope, node.value, pre)
            return gast.Subscript(value=value, slice=self.index(scope, node.slice, pre),
                                  ctx=gast.Load())
        if isinstance(node, gast.Attribute):
            return self.attribute(scope, node, pre)
        if isinstance(node, gast.Call):
            return self.call(scope, node, pre, hint)
        if isinstance(node, gast.IfExp):
            return self.ifexp(scope, node, pre, hint)
        if isinstance(node, gast.BoolOp):
            return self.opaque(scope, node)
        raise _loc_error(scope.src, node,
                         f"srcad does not differentiate `{type(node).__name__}` expressions",
                         "Rewrite it with plain arithmetic and NumPy calls.")

    def opaque(self, scope, node):
        """A non-differentiable expression kept as written (names renamed)."""
        node = copy.deepcopy(node)
        for sub in gast.walk(node):
            if isinstance(sub, gast.Name):
                new = self.name(scope, sub)
                sub.id = new.id
        node.srcad_opaque = True
        return node

    def ifexp(self, scope, node, pre, hint):
        test = self.atom(scope, node.test, pre, hint="cond")
        tmp = self.namer.fresh("_" + (hint or "select").lstrip("_"))
        body_pre, else_pre = [], []
        a = self.atom(scope, node.body, body_pre)
        b = self.atom(scope, node.orelse, else_pre)
        lineno = getattr(node, "lineno", None)
        stmt = gast.If(test=test,
                       body=body_pre + [gast.Assign(targets=[_name(tmp, gast.Store())],
                                                    value=a, type_comment=None)],
                       orelse=else_pre + [gast.Assign(targets=[_name(tmp, gast.Store())],
                                                      value=b, type_comment=None)])
        for s in gast.walk(stmt):
            if isinstance(s, gast.stmt):
                s.lineno = lineno
        pre.append(stmt)
        return _name(tmp, gast.Load())

    def index(self, scope, node, pre):
        if isinstance(node, gast.Slice):
            return gast.Slice(*[None if p is None else self.atom(scope, p, pre)
                                for p in (node.lower, node.upper, node.step)])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(scope, e, pre) for e in node.elts],
                              ctx=gast.Load())
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.Attribute) and scope.namespace.resolve(node) is None:
            return gast.Constant(value=None, kind=None)   # np.newaxis
        return self.atom(scope, node, pre)

    def attribute(self, scope, node, pre):
        obj = self.resolve(scope, node)
        if obj is not UNRESOLVED and _is_static_root(scope, node, self):
            # a module-level constant like np.pi or np.newaxis: keep it as written
            if scope.depth and scope.foreign:
                return _name(self.ref(obj, node.attr), gast.Load())
            return node
        field = self.result_field(scope, node)
        if field is not None:       # a named tuple's field: its item
            return self.simple(scope, gast.copy_location(gast.Subscript(
                value=node.value, slice=gast.Constant(value=field, kind=None),
                ctx=gast.Load()), node), pre)
        base = self.atom(scope, node.value, pre)
        if node.attr == "T":
            call = gast.Call(func=self.np_attr("transpose"), args=[base], keywords=[])
            call.srcad_callee = np.transpose
            return call
        if node.attr in _OPAQUE_ATTRS:
            out = gast.Attribute(value=base, attr=node.attr, ctx=gast.Load())
            out.srcad_opaque = True
            return out
        if node.attr in ("real", "imag"):        # x.real is np.real(x): complex values
            call = gast.Call(func=self.np_attr(node.attr), args=[base], keywords=[])
            call.srcad_callee = getattr(np, node.attr)
            return call
        raise _loc_error(scope.src, node, f"srcad does not differentiate the attribute "
                         f"`.{node.attr}`", "Use the equivalent NumPy function.")

    def result_field(self, scope, node):
        """The index of the field ``node.attr`` of the named tuple ``node.value`` is, when it
        is a call of a function in ``_RESULT_FIELDS`` or a name the function binds once, to
        such a call; else None."""
        if node.attr not in _FIELD_NAMES:      # (before walking the function for the name)
            return None
        value = node.value
        if isinstance(value, gast.Name):
            stores = [n for n in gast.walk(scope.src.node) if isinstance(n, gast.Name)
                      and n.id == value.id and not isinstance(n.ctx, gast.Load)]
            bound = [stmt.value for stmt in gast.walk(scope.src.node)
                     if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                     and isinstance(stmt.targets[0], gast.Name)
                     and stmt.targets[0].id == value.id]
            if len(stores) != 1 or len(bound) != 1:
                return None
            value = bound[0]
        if not isinstance(value, gast.Call):
            return None
        func = scope.namespace.resolve(value.func)
        fields = _RESULT_FIELDS.get(func)
        if not fields or node.attr not in fields:
            return None
        if func in _RESULT_OPTIONS:
            option, named = _RESULT_OPTIONS[func]
            try:
                given = inspect.signature(func).bind(*value.args, **{
                    k.arg: k.value for k in value.keywords}).arguments.get(option)
            except TypeError:
                return None
            if given is not None and not (isinstance(given, gast.Constant) and any(
                    given.value == v and type(given.value) is type(v) for v in named)):
                return None
        return fields.index(node.attr)

    def index_trick(self, scope, value):
        """``np.r_`` or ``np.c_`` (as 'r_'/'c_') when ``value`` names one, else None."""
        if not isinstance(value, (gast.Name, gast.Attribute)) or (
                isinstance(value, gast.Name) and (value.id in scope.rename or (
                    not scope.depth and value.id in self.main_locals))):
            return None
        obj = scope.namespace.resolve(value)
        return "r_" if obj is np.r_ else "c_" if obj is np.c_ else None

    def concatenation(self, scope, node, trick, pre):
        """``np.r_[x, 0.0, y[1:], 0:3]`` as ``np.concatenate`` of its pieces (each at least
        1-D; a slice is the ``np.arange``/``np.linspace`` it stands for, a literal has the
        dtype NumPy gives it, ``runtime.r_scalar``). A directive string first
        (``np.r_['0,2,0', a, b]``: axis, the pieces' least rank and where a smaller piece's
        axes go) makes every piece ``runtime.r_piece(x, ndmin, trans1d)`` and joins them
        along its axis; ``np.c_`` is ``np.r_['-1,2,0', ...]`` (1-D pieces as columns)."""
        from .. import runtime
        items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        directive = None
        if items and isinstance(items[0], gast.Constant) and isinstance(items[0].value, str):
            directive = self.r_directive(scope, items[0], trick)
            items = items[1:]
        elif trick == "c_":
            directive = (-1, 2, 0)
        atoms = {id(item): self.atom(scope, item, pre) for item in items
                 if not isinstance(item, gast.Slice)}
        others = [a for a in atoms.values() if isinstance(a, gast.Name)]
        pieces = []
        for item in items:
            if isinstance(item, gast.Constant) and isinstance(item.value, str):
                raise _loc_error(scope.src, item, f"np.{trick} with a string after its first "
                                 "item", "Give the directive first: np.r_['0,2', a, b].")
            if isinstance(item, gast.Slice):
                pieces.append(self.range_piece(scope, item, pre))
                continue
            atom = atoms[id(item)]
            if not isinstance(atom, gast.Name):     # a literal: NumPy's weak scalar dtype
                literal = gast.Call(func=self.runtime_attr("r_scalar"), keywords=[],
                                    args=[atom] + [copy.deepcopy(a) for a in others])
                literal.srcad_callee = runtime.r_scalar
                atom = self.bound(literal, "_scalar", pre)
            if directive is not None:
                call = gast.Call(func=self.runtime_attr("r_piece"), keywords=[], args=[atom] + [
                    gast.Constant(value=v, kind=None) for v in directive[1:]])
                call.srcad_callee = runtime.r_piece
            else:
                call = gast.Call(func=self.np_attr("atleast_1d"), args=[atom], keywords=[])
                call.srcad_callee = np.atleast_1d
            pieces.append(self.bound(call, "_piece", pre))
        joined = self.bound(gast.List(elts=pieces, ctx=gast.Load()), "_pieces", pre)
        first = directive[0] if directive is not None else 0
        axis = gast.Constant(value=first, kind=None) if first >= 0 else gast.UnaryOp(
            op=gast.USub(), operand=gast.Constant(value=-first, kind=None))
        call = gast.Call(func=self.np_attr("concatenate"), args=[joined],
                         keywords=[gast.keyword(arg="axis", value=axis)])
        call.srcad_callee = np.concatenate
        return gast.copy_location(call, node)

    def r_directive(self, scope, item, trick):
        """``(axis, ndmin, trans1d)`` of ``np.r_``'s directive string (``'1'``, ``'0,2'``,
        ``'-1,2,0'``, as NumPy reads it); the matrix directives ``'r'``/``'c'`` are refused."""
        fields = item.value.split(",")
        try:
            numbers = [int(f) for f in fields]
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 3:
            raise _loc_error(scope.src, item, f"np.{trick} with the directive string "
                             f"{item.value!r}", "srcad reads 'axis', 'axis,ndmin' and "
                             "'axis,ndmin,trans1d' directives (np.r_['0,2', a, b]); for a "
                             "matrix ('r', 'c') write np.concatenate or np.stack with the axis.")
        defaults = [1, -1] if trick == "r_" else [2, 0]      # np.c_ is np.r_['-1,2,0', ...]
        return (numbers + defaults[len(numbers) - 1:])[:3]

    def range_piece(self, scope, item, pre):
        """The piece a slice of ``np.r_`` stands for: ``np.arange(start, stop, step)``, or
        ``np.linspace(start, stop, n)`` for an imaginary step ``nj`` (a literal)."""
        start, stop, step = (None if p is None else self.atom(scope, p, pre)
                             for p in (item.lower, item.upper, item.step))
        start = start or gast.Constant(value=0, kind=None)
        if stop is None:
            raise _loc_error(scope.src, item, "a slice without an end in np.r_ / np.c_",
                             "Give the end: np.r_[0:n].")
        if isinstance(step, gast.Constant) and isinstance(step.value, complex):
            count = gast.Constant(value=int(abs(step.value)), kind=None)
            call = gast.Call(func=self.np_attr("linspace"), args=[start, stop, count],
                             keywords=[])
            call.srcad_callee = np.linspace
        else:
            call = gast.Call(func=self.np_attr("arange"), keywords=[], args=[start, stop] + (
                [] if step is None else [step]))
            call.srcad_callee = np.arange
        return self.bound(call, "_range", pre)

    def bound(self, value, hint, pre):
        """``value`` assigned to a fresh temporary in ``pre``; the temporary's name."""
        tmp = self.namer.fresh(hint)
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=value,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def runtime_attr(self, attr):
        from .. import runtime
        return gast.Attribute(value=_name(self.ref(runtime, "_srcad"), gast.Load()), attr=attr,
                              ctx=gast.Load())

    def np_attr(self, attr):
        return gast.Attribute(value=_name(self.ref(np, "np"), gast.Load()), attr=attr,
                              ctx=gast.Load())


REPEAT_LIMIT = 64       # items of a repeated display spelled out: [h] * 2 -> [h, h]


def _repeated_display(node):
    """``(display, count)`` for a list or tuple display repeated by an int literal
    (``[h] * 2``, ``3 * (a, b)``) that holds a value other than a constant (a display of
    constants stays a product) and has at most ``REPEAT_LIMIT`` items; else None."""
    if not isinstance(node.op, gast.Mult):
        return None
    for display, count in ((node.left, node.right), (node.right, node.left)):
        if (isinstance(display, (gast.List, gast.Tuple)) and isinstance(count, gast.Constant)
                and type(count.value) is int and 0 <= count.value
                and count.value * len(display.elts) <= REPEAT_LIMIT
                and not all(isinstance(e, gast.Constant) for e in display.elts)
                and not any(isinstance(e, gast.Starred) for e in display.elts)):
            return display, count.value
    return None
