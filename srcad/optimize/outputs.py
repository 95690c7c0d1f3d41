"""``output_facts``: what the build proves of the arrays a specialized derivative returns, so
that the call path (``dispatch``) tests at each call only what it cannot prove.

Input: the final FunctionDef of a variant built for argument shapes (after ``owned_writes``),
the shapes of its primal values (``analysis.shapes``) and the name NumPy is bound to. Output:
per value the function returns (the items of its returned tuple, the gradients part when it
returns ``(value, gradients)``), a fact ``(shape, params)`` or None. A fact holds when each of the
value's assignments is a new array or number computed by arithmetic (``+ - * / **``, unary
minus) or a dtype-preserving NumPy ufunc from the positional parameters listed in ``params``
and number literals only: so the value is a new object (never an argument, never another
returned value, owning its memory), its shape is ``shape`` (per axis 1 or ``(parameter,
axis)``: that axis of that parameter's shape) and, where every parameter in ``params`` has
one real floating dtype (Python numbers are weak), that dtype. Nothing else is proved: a name
bound by a tuple, a loop, a helper or a global gets None, and the call path tests it.
The tree is not changed.
"""
from __future__ import annotations

import gast
import numpy

from ..analysis import walk_statements
from ..sharing import _dotted
from .shapes import _Shapes

__all__ = ["output_facts"]

_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)
# ufuncs whose result, for operands of one real floating dtype, has that dtype
_UFUNCS = frozenset({
    "tanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arctanh", "sqrt", "square",
    "negative", "positive", "absolute", "reciprocal", "add", "subtract", "multiply",
    "divide", "true_divide", "power", "maximum", "minimum", "fmax", "fmin", "hypot",
    "arctan2"})
_TOP = None          # not proved


def output_facts(fdef: gast.FunctionDef, known: dict, np_name: str):
    """The facts of ``fdef``'s returned values (above): a tuple with ``(shape, params)``
    (``params`` a frozenset of parameter indices) or None per returned item (one item: a
    1-tuple), or None when the return is no tuple of names. Plain tuples: ``cache`` keeps
    them and ``diskcache`` stores them without loading the compiler."""
    ret = fdef.body[-1] if fdef.body else None
    if not isinstance(ret, gast.Return) or ret.value is None:
        return None
    items = ret.value.elts if isinstance(ret.value, gast.Tuple) else [ret.value]
    if any(not isinstance(v, gast.Name) for v in items):
        return None
    params = {a.id: i for i, a in enumerate(fdef.args.args)}
    sources = _sources(fdef, params, np_name)
    shapes = _Shapes(fdef, known, np_name)
    names = [v.id for v in items]
    out: list = []
    for name in names:
        made = sources.get(name, _TOP)
        shape = _in_parameters(shapes.of(gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                   type_comment=None)), fdef, known)
        if made is not _TOP and made[1] and names.count(name) == 1 and shape is not None:
            out.append((shape, made[0]))
        else:
            out.append(None)
    return tuple(out)


def _sources(fdef, params, np_name) -> dict:
    """name -> (the parameters its value is computed from, whether every assignment makes
    a new value), for the names whose every assignment is understood; a fixed point over
    loops (``b = b * x``)."""
    assigns: list = []
    opaque: set = set()
    for s in walk_statements(fdef.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
                s.targets[0], gast.Name):
            assigns.append((s.targets[0].id, s.value, False))
        elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
            assigns.append((s.target.id, s.value, True))    # the same object, or a new number
        elif isinstance(s, (gast.Assign, gast.For, gast.With, gast.AnnAssign)):
            bound = s.targets if isinstance(s, gast.Assign) else [getattr(s, "target", s)]
            opaque |= {n.id for t in bound for n in gast.walk(t)
                       if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    facts: dict = {p: (frozenset({i}), False) for p, i in params.items()}
    for name, _, _ in assigns:
        if name not in params:
            facts[name] = (frozenset(), True)      # bottom: joined up below
    top = set(opaque)

    def of(node):
        if isinstance(node, gast.Constant):
            return (frozenset(), True) if type(node.value) in (int, float) else _TOP
        if isinstance(node, gast.Name):
            return _TOP if node.id in top or node.id not in facts else facts[node.id]
        if isinstance(node, gast.BinOp) and isinstance(node.op, _OPS):
            return _join_new([of(node.left), of(node.right)])
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return _join_new([of(node.operand)])
        if isinstance(node, gast.Call) and not node.keywords and node.args and \
                _ufunc(node.func, np_name):
            return _join_new([of(a) for a in node.args])
        return _TOP
    changed = True
    while changed:
        changed = False
        for name, value, augmented in assigns:
            if name in top:
                continue
            got = of(value)
            old = facts[name]
            if got is _TOP:
                top.add(name)
                changed = True
                continue
            new = (old[0] | got[0], old[1] and (got[1] or augmented))
            if new != old:
                facts[name] = new
                changed = True
    return {n: f for n, f in facts.items() if n not in top}


def _join_new(parts):
    if any(p is _TOP for p in parts):
        return _TOP
    return frozenset().union(*(p[0] for p in parts)), True


def _ufunc(func, np_name) -> bool:
    root, _, attribute = _dotted(func).rpartition(".")
    return root == np_name and attribute in _UFUNCS and isinstance(
        getattr(numpy, attribute, None), numpy.ufunc)


def _in_parameters(shape, fdef, known):
    """A symbolic shape as (parameter index, axis) per symbol (1 stays 1), or None."""
    if not isinstance(shape, tuple):
        return None
    where: dict = {}
    for i, a in enumerate(fdef.args.args):
        for axis, dim in enumerate(known.get(a.id) if isinstance(known.get(a.id), tuple)
                                   else ()):
            if isinstance(dim, str):
                where.setdefault(dim, (i, axis))
    out = []
    for dim in shape:
        if dim == 1:
            out.append(1)
        elif isinstance(dim, str) and dim in where:
            out.append(where[dim])
        else:
            return None
    return tuple(out)
