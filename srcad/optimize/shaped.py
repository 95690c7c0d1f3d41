"""``shaped_rewrites``, the last rewrites of a specialized derivative: ``_ShapedPeephole`` on
derivative statements, then in-place accumulation (``inplace``).

Input: the final optimized, nested FunctionDef of real values and the primal shapes. Output:
the same values with fewer passes over arrays: ``np.sum(a * (-b / s))`` ->
``-(np.vdot(a, b) / s)``, scalar factors grouped (``s1 * (-a / s2)`` -> ``-(s1 / s2) * a``),
the runtime matmul adjoints of 1-D and 2-D operands as the product they compute
(``g @ b.T``), ``b = b + e`` -> ``b += e`` where ``b`` owns its buffer, and NumPy's
Python-level wrappers of array methods called as the method (``np.sum(a, axis=1)`` ->
``a.sum(axis=1)``) where ``a`` is certainly an array.
"""
from __future__ import annotations

import gast

from ..analysis import axes_of, walk_statements
from ..nodes import Transformer, attr, call, name
from ..sharing import _dotted
from .aliases import _Guard, _written
from .inplace import _InPlace
from .shapes import _Shapes
from .tree import _helper_name, _load_counts, _number

__all__ = ["shaped_rewrites"]


def shaped_rewrites(fdef: gast.FunctionDef, shapes: dict, np_name: str,
                    numpy_args: tuple = ()):
    """The last passes, on the final code: ``_ShapedPeephole`` on derivative statements,
    then ``b = b + e`` -> ``b += e`` where ``b`` owns its buffer (ownership is decided here
    because no later rewrite may turn it into an alias: ``1.0 * w`` made a new array, ``w``
    would not). ``numpy_args``: parameters not in ``shapes`` that hold NumPy values (a VJP's
    seed, when the caller passed a NumPy one)."""
    peephole = _ShapedPeephole(_Shapes(fdef, shapes, np_name))
    written = _written(fdef, np_name)
    for s in walk_statements(fdef.body):
        if getattr(s, "srcad_derivative", False) and getattr(s, "value", None) is not None:
            peephole.guard = _Guard(s, written, np_name)
            s.value = peephole.visit(s.value)
    known = _Shapes(fdef, shapes, np_name)
    _InPlace(known, _load_counts(fdef), fdef, numpy_args).block(fdef.body, set())
    # (``b = b + e`` -> ``b += e`` binds the same names to the same shapes: ``known`` holds)
    return _MethodForms(known).visit(fdef)


# NumPy functions that are Python wrappers of the ndarray method of the same name, taking the
# same positional parameters after the array: per function, the method, how many positional
# arguments it may be given after the array, and the keywords it shares with the method. For
# an ndarray the wrapper calls the method (the same reduction, the same result to the bit),
# after a few microseconds of Python that a small array's derivative pays at every call.
_METHODS = {
    "sum": ("sum", 5, {"axis", "dtype", "out", "keepdims", "initial", "where"}),
    "prod": ("prod", 5, {"axis", "dtype", "out", "keepdims", "initial", "where"}),
    "mean": ("mean", 4, {"axis", "dtype", "out", "keepdims", "where"}),
    "max": ("max", 4, {"axis", "out", "keepdims", "initial", "where"}),
    "amax": ("max", 4, {"axis", "out", "keepdims", "initial", "where"}),
    "min": ("min", 4, {"axis", "out", "keepdims", "initial", "where"}),
    "amin": ("min", 4, {"axis", "out", "keepdims", "initial", "where"}),
    "cumsum": ("cumsum", 3, {"axis", "dtype", "out"}),
    "cumprod": ("cumprod", 3, {"axis", "dtype", "out"}),
    "reshape": ("reshape", 1, {"order"}),
    "transpose": ("transpose", 1, set()),
    "swapaxes": ("swapaxes", 2, set()),
    "squeeze": ("squeeze", 1, {"axis"}),
    "ravel": ("ravel", 1, {"order"}),
}


class _MethodForms(Transformer):
    """``np.sum(a, axis=1)`` -> ``a.sum(axis=1)`` (and the other wrappers in ``_METHODS``)
    where ``a`` is certainly an array of one dimension or more (a known shape: a NumPy array,
    never a list or a number). ``sharing`` treats both forms alike: a reduction is a new
    array, ``reshape`` may be a view of ``a``."""

    def __init__(self, known: _Shapes):
        self.known = known

    def visit_Call(self, node):
        self.generic_visit(node)
        root, _, function = _dotted(node.func).rpartition(".")
        form = _METHODS.get(function) if root == self.known.np else None
        if form is None or not node.args or any(isinstance(a, gast.Starred) for a in node.args):
            return node
        method, positional, keywords = form
        shape = self.known.of(node.args[0])
        if not isinstance(shape, tuple) or not shape or len(node.args) - 1 > positional or \
                any(k.arg not in keywords for k in node.keywords):
            return node
        return gast.Call(func=attr(node.args[0], method), args=node.args[1:],
                         keywords=node.keywords)


class _ShapedPeephole(Transformer):
    """Rewrites of derivative code that need shapes: ``np.sum(a * (-b / s))`` ->
    ``-(np.vdot(a, b) / s)`` (one pass, no temporaries); ``s1 * (-a / s2)`` ->
    ``-(s1 / s2) * a`` (one pass over ``a``, not three); the runtime matmul adjoints of 1-D
    and 2-D operands as the product they compute (``g @ b.T``)."""

    def __init__(self, known: _Shapes):
        self.known = known
        self.np = known.np

    guard = staticmethod(lambda node, new: new)      # set per statement (_Guard)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (gast.Mult, gast.Div)):
            return self.guard(node, self.group_scalars(node) or node)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.USub):
            return self.guard(node, self.group_scalars(node) or node)
        return node

    def group_scalars(self, node):
        """A product of arrays and scalars (``dtau * (-z / tau)``) as one scalar times the
        arrays (``-dtau / tau * z``), when that takes fewer passes over the arrays; None
        otherwise (also when a shape is unknown)."""
        factors, divisors, sign = self.factors(node)
        if factors is None or not self.known.full(node):
            return None
        shapes = [self.known.of(e) for e in factors + divisors]
        if any(not isinstance(shape, tuple) for shape in shapes):
            return None
        scalars = [f for f in factors if self.known.of(f) == ()]
        arrays = [f for f in factors if self.known.of(f) != ()]
        scalar_divisors = [d for d in divisors if self.known.of(d) == ()]
        array_divisors = [d for d in divisors if self.known.of(d) != ()]
        grouped = bool(scalars or scalar_divisors or sign)
        if not arrays or len(arrays) - 1 + len(array_divisors) + grouped >= self.passes(node):
            return None
        part = scalars[0] if scalars else gast.Constant(value=1.0, kind=None)
        for f in scalars[1:]:
            part = gast.BinOp(left=part, op=gast.Mult(), right=f)
        for d in scalar_divisors:
            part = gast.BinOp(left=part, op=gast.Div(), right=d)
        scaled = bool(scalars or scalar_divisors)
        if sign and scaled:
            part = gast.UnaryOp(op=gast.USub(), operand=part)
        out = gast.BinOp(left=part, op=gast.Mult(), right=arrays[0]) if scaled else arrays[0]
        for f in arrays[1:]:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        for d in array_divisors:
            out = gast.BinOp(left=out, op=gast.Div(), right=d)
        return gast.UnaryOp(op=gast.USub(), operand=out) if sign and not scaled else out

    def passes(self, node) -> int:
        """How many operations of a product tree work on whole arrays."""
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return (self.known.of(node) != ()) + self.passes(node.operand)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
            return (self.known.of(node) != ()) + self.passes(node.left) + self.passes(
                node.right)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Div):
            return (self.known.of(node) != ()) + self.passes(node.left)
        return 0

    def visit_Call(self, node):
        self.generic_visit(node)
        helper = _helper_name(node)
        if helper in ("matmul_adjoint_lhs", "matmul_adjoint_rhs") and len(node.args) == 3:
            return self.matmul_adjoint(helper.endswith("lhs"), *node.args) or node
        if _dotted(node.func) == self.np + ".sum" and len(node.args) == 1:
            return self.sum_of_product(node) or node
        return node

    def matmul_adjoint(self, lhs, g, a, b):
        ra, rb = (len(s) if isinstance(s, tuple) else None
                  for s in (self.known.of(a), self.known.of(b)))
        np_ = name(self.np)

        def matmul(x, y):
            return gast.BinOp(left=x, op=gast.MatMult(), right=y)

        def transposed(x):
            return attr(x, "T")
        if (ra, rb) == (2, 2):
            return matmul(g, transposed(b)) if lhs else matmul(transposed(a), g)
        if (ra, rb) == (2, 1):
            return call(attr(np_, "outer"), g, b) if lhs else matmul(transposed(a), g)
        if (ra, rb) == (1, 2):
            return matmul(b, g) if lhs else call(attr(np_, "outer"), a, g)
        if (ra, rb) == (1, 1):
            return gast.BinOp(left=g, op=gast.Mult(), right=b if lhs else a)
        return None

    def sum_of_product(self, node):
        """``np.sum`` of a product: factors constant along the summed axes are taken out
        (``np.sum(g * (-x / s), axis=0)`` -> ``-(np.sum(g * x, axis=0) / s)`` when ``s`` does
        not vary along axis 0), and a full sum of two same-shaped arrays is ``np.vdot``
        (real arrays: the dot product of their flattened elements). None: no change."""
        keywords = {k.arg: k.value for k in node.keywords}
        keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
        axis = keywords.get("axis", gast.Constant(value=None, kind=None))
        full = self.known.of(node.args[0])
        if set(keywords) - {"axis", "keepdims"} or not isinstance(keep, gast.Constant) or \
                not isinstance(full, tuple) or None in full or not full:
            return None
        reduced = axes_of(axis, len(full))
        if reduced is None:
            return None
        factors, divisors, sign = self.factors(node.args[0])
        if factors is None:
            return None

        def outside(e):
            """Constant along the summed axes, and shaped to multiply the sum."""
            shape = self.known.of(e)
            if not isinstance(shape, tuple) or None in shape:
                return False
            lead = len(full) - len(shape)
            if keep.value:
                return all(a < lead or shape[a - lead] == 1 for a in reduced)
            return all(a < lead for a in reduced)
        inside = [f for f in factors if not outside(f)]
        out_f = [f for f in factors if outside(f)]
        out_d = [d for d in divisors if outside(d)]
        vdot = len(inside) == 2 and len(reduced) == len(full) and not keep.value and all(
            self.known.of(f) == full for f in inside)
        if len(out_d) != len(divisors) or not inside or not (vdot or out_f or out_d or sign):
            return None
        if vdot:
            out = call(attr(name(self.np), "vdot"), *inside)
        else:
            product = inside[0]
            for f in inside[1:]:
                product = gast.BinOp(left=product, op=gast.Mult(), right=f)
            out = gast.Call(func=node.func, args=[product], keywords=node.keywords)
        for f in out_f:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        for d in out_d:
            out = gast.BinOp(left=out, op=gast.Div(), right=d)
        return gast.UnaryOp(op=gast.USub(), operand=out) if sign else out

    def factors(self, product):
        """``product`` as (factors, divisors, negated), or (None, ...) when a divisor's shape
        is unknown."""
        factors, divisors, sign = [], [], False
        stack = [product]
        while stack:
            e = stack.pop()
            if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
                sign = not sign
                stack.append(e.operand)
            elif isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
                stack += [e.right, e.left]
            elif isinstance(e, gast.BinOp) and isinstance(e.op, gast.Div):
                if not isinstance(self.known.of(e.right), tuple):
                    return None, None, None
                divisors.append(e.right)
                stack.append(e.left)
            elif _number(e) != 1.0:          # a factor 1.0 changes nothing
                factors.append(e)
        return factors, divisors, sign
