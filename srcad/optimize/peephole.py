"""Peepholes on expressions, without shapes: ``a + -b`` -> ``a - b``, ``-(-a)`` -> ``a``,
``e + e`` -> ``2.0 * e``, float literals folded, a reduction's default keywords dropped, and on
derivative statements the identities ``1.0 * e``, ``e / 1.0``, ``e - 0.0`` -> ``e``.

Input: the value of one statement. Output: an expression with the same value, never one
that shares the memory of an array written in place where the old one was a new array
(each rewrite asks the statement's ``_Guard``).
"""
from __future__ import annotations

import copy

import gast

from ..analysis import walk_statements
from ..nodes import Transformer
from .aliases import _Guard, _unguarded
from .tree import _literal, _number, _pure

_REDUCERS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum",
             "nanmean", "cumsum", "cumprod"}

_FOLD = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
         gast.Mult: lambda a, b: a * b, gast.Div: lambda a, b: a / b}


def _default_keyword(k) -> bool:
    """``axis=None`` or ``keepdims=False``: what a reduction does without them."""
    if not isinstance(k.value, gast.Constant):
        return False
    return (k.arg == "axis" and k.value.value is None) or (
        k.arg == "keepdims" and k.value.value is False)


def _int_literal(node) -> bool:
    """``1`` (an index or a count: ``1 + 1`` must stay an int, not become ``2.0 * 1``)."""
    return isinstance(node, gast.Constant) and type(node.value) is int


def _same(a, b) -> bool:
    """``gast.dump(a) == gast.dump(b)``, stopping at the first difference: in a chain
    ``x0 + x1 + ... + xn`` each sum is compared with its last term at the cost of the smaller,
    not dumped whole (which made a long sum quadratic)."""
    if isinstance(a, gast.AST) or isinstance(b, gast.AST):
        return type(a) is type(b) and all(
            _same(getattr(a, f, None), getattr(b, f, None)) for f in a._fields)
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            _same(x, y) for x, y in zip(a, b))
    return repr(a) == repr(b)


class _Peephole(Transformer):
    """``a + -b`` -> ``a - b``; ``-(-a)`` -> ``a``; ``e + e`` -> ``2.0 * e`` (also in
    ``a + e + e``); arithmetic on
    two float literals is folded (never ``x * 0.0``: that keeps ``x``'s shape)."""

    def __init__(self, guard=None):
        self.guard = guard or _unguarded
        self.changed = False        # did a rewrite fire (``Facts``: the statement changed)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        out = self._binop(node)
        self.changed = self.changed or out is not node
        return out

    def _binop(self, node):
        a, b = _number(node.left), _number(node.right)
        if a is not None and b is not None and type(node.op) in _FOLD and not (
                isinstance(node.op, gast.Div) and b == 0.0):
            return _literal(_FOLD[type(node.op)](a, b))
        if isinstance(node.op, gast.Add) and _same(node.left, node.right) and _pure(
                node.left) and not _int_literal(node.left):
            return gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(),
                              right=node.left)
        left = node.left
        if isinstance(node.op, gast.Add) and isinstance(left, gast.BinOp) and isinstance(
                left.op, gast.Add) and _pure(node.right) and not _int_literal(
                node.right) and _same(left.right, node.right):   # (a + e) + e -> a + 2.0 * e
            node.left, node.right = left.left, gast.BinOp(
                left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=node.right)
            self.changed = True
            return node
        right = node.right
        if isinstance(right, gast.UnaryOp) and isinstance(right.op, gast.USub) and isinstance(
                node.op, (gast.Add, gast.Sub)):
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
            node.right = right.operand
            self.changed = True
        return node

    def visit_Call(self, node):
        """``np.sum(a, axis=None, keepdims=False)`` -> ``np.sum(a)``: a template's defaults
        that the user did not write."""
        self.generic_visit(node)
        first = node.args[0] if node.args else None
        func = node.func
        called = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
        if (called.rsplit(".", 1)[-1] == "unbroadcast"
                and isinstance(first, gast.UnaryOp) and isinstance(first.op, gast.USub)):
            # unbroadcast is linear: negate the (smaller) sum, not the whole array
            node.args[0] = first.operand
            self.changed = True
            return gast.UnaryOp(op=gast.USub(), operand=node)
        if isinstance(node.func, gast.Attribute) and node.func.attr in _REDUCERS:
            keywords = [k for k in node.keywords if not _default_keyword(k)]
            if len(keywords) != len(node.keywords):
                node.keywords = keywords
                self.changed = True
        return node

    def visit_Subscript(self, node):
        """``1.0[()]`` -> ``1.0``: all of a number (a one-number gradient's tangent, seeded
        1.0 in forward mode, of a 0-d array indexed ``b[()]``)."""
        self.generic_visit(node)
        if _number(node.value) is not None and isinstance(node.slice, gast.Tuple) and \
                not node.slice.elts and isinstance(node.ctx, gast.Load):
            self.changed = True
            return node.value
        return node

    def visit_Name(self, node):        # nothing to rewrite below a name or a literal
        return node

    visit_Constant = visit_Name

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        out = self._unaryop(node)
        self.changed = self.changed or out is not node
        return out

    def _unaryop(self, node):
        value = _number(node)
        if value is not None and isinstance(node.operand, gast.UnaryOp):
            return _literal(value)
        inner = node.operand
        if isinstance(node.op, gast.USub) and isinstance(inner, gast.UnaryOp) and isinstance(
                inner.op, gast.USub):
            return self.guard(node, inner.operand)
        return node


def _replace_name(tree, name, value):
    """Replace every load of ``name`` in ``tree`` by a copy of the expression ``value``."""
    class _Sub(gast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == name and isinstance(node.ctx, gast.Load):
                return copy.deepcopy(value)
            return node
    for field, old in gast.iter_fields(tree):
        if isinstance(old, list):
            setattr(tree, field, [_Sub().visit(x) if isinstance(x, gast.AST) else x
                                  for x in old])
        elif isinstance(old, gast.AST):
            setattr(tree, field, _Sub().visit(old))


class Identities(Transformer):
    """``1.0 * e``, ``e * 1.0``, ``e / 1.0``, ``e - 0.0`` -> ``e``. Only for derivative code, whose
    values are floating point (in primal code ``1.0 * n`` may turn integers into floats)."""

    def __init__(self, guard=None):
        self.guard = guard or _unguarded
        self.changed = False

    def visit_Name(self, node):
        return node

    visit_Constant = visit_Name

    def visit_BinOp(self, node):
        self.generic_visit(node)
        out = self._binop(node)
        self.changed = self.changed or out is not node
        return out

    def _binop(self, node):
        if isinstance(node.op, gast.Mult) and _number(node.left) == 1.0:
            return self.guard(node, node.right)
        if isinstance(node.op, (gast.Mult, gast.Div)) and _number(node.right) == 1.0:
            return self.guard(node, node.left)
        if isinstance(node.op, gast.Sub) and _number(node.right) == 0.0:
            return self.guard(node, node.left)                # e - 0.0 is e, exactly
        return node


def _peepholes(fdef, written, np_name, facts=None):
    """``_Peephole`` on every statement, ``Identities`` on derivative assignments, neither
    where it would leave a new name for an array ``written`` in place (``_Guard``). With
    ``facts`` (``tree.Facts``), a simple statement they rewrote is forgotten there, one they
    left as it was is marked clean and skipped until something changes it (the rewrites read
    the statement alone: unchanged, they find nothing again)."""
    for s in walk_statements(fdef.body):
        if isinstance(s, (gast.If, gast.While)):
            s.test = _Peephole().visit(s.test)
        elif isinstance(s, gast.For):
            s.iter = _Peephole().visit(s.iter)
        elif getattr(s, "value", None) is not None:
            if facts is not None and facts.is_clean(s):
                continue
            guard = _Guard(s, written, np_name)
            peephole = _Peephole(guard)
            value = peephole.visit(s.value)
            changed = peephole.changed or value is not s.value
            if getattr(s, "srcad_derivative", False) and isinstance(s, gast.Assign):
                identities = Identities(guard)
                new = identities.visit(value)
                changed = changed or identities.changed or new is not value
                value = new
            s.value = value
            if facts is not None:
                if changed:
                    facts.forget(s)
                else:
                    facts.mark_clean(s)
