"""What memory a value of generated code may share: ``shares(node)`` names the variables whose
memory the value of ``node`` may be (itself, a view of it, an argument a call hands back),
none for a value made anew (arithmetic, a ufunc, a reduction, a copy).

Used by the transformers (a tangent or an adjoint must not alias what is written in place)
and by the optimizer's rewrites and its memory analysis. Input: a gast expression and the
name NumPy is bound to; output: a set of names (nothing is changed).
"""
from __future__ import annotations

import gast

__all__ = ["shares", "may_broadcast"]

# Rewrites must not make a value that was a new array into one that shares an array written in
# place (``dt = dy * 1.0`` -> ``dt = dy`` before ``dt[0] = ...`` wrote into the caller's
# tangent), and generated code never writes into the memory of what the caller passed.

_FRESH_NUMPY = frozenset({
    "sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum", "nanmean",
    "cumsum", "cumprod", "average", "median", "ptp", "any", "all", "argmax", "argmin", "argsort",
    "sort", "dot", "vdot", "inner", "outer", "matmul", "tensordot", "kron", "trace", "cross",
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
    "eye", "identity", "arange", "linspace", "logspace", "array", "copy", "concatenate",
    "stack", "hstack", "vstack", "dstack", "column_stack", "tile", "repeat", "pad", "where",
    "take", "take_along_axis", "clip", "roll", "diff", "tril", "triu", "round", "around",
    "shape", "ndim", "size", "count_nonzero", "bincount", "unique", "searchsorted", "interp",
    "select", "nan_to_num", "append", "insert", "delete", "tri", "diagflat", "resize", "isclose",
    "allclose", "array_equal"})
_FRESH_METHODS = frozenset({
    "copy", "astype", "sum", "mean", "prod", "max", "min", "std", "var", "dot", "tolist", "item",
    "cumsum", "cumprod", "all", "any", "argmax", "argmin", "flatten", "round", "clip", "trace",
    "index", "count"})
_FRESH_BUILTINS = frozenset({"len", "float", "int", "bool", "abs", "range", "sum", "round",
                             "str", "isinstance", "pow", "divmod", "any", "all"})


def _root(node):
    """The name whose memory ``x``, ``x[i]``, ``x.T[i]``... is, else None."""
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def shares(node, np_name) -> set:
    """Names whose memory the value of ``node`` may share: the name itself, a view of it
    (``x[1:]``, ``x.T``, ``np.reshape(x, s)``), an argument a call may hand back
    (``unbroadcast(g, x)`` is ``g`` when nothing was broadcast); none for a value made anew
    (arithmetic, a ufunc, a reduction, a copy)."""
    return {n.id for n in _exposed(node, np_name) if isinstance(n, gast.Name)}


def may_broadcast(node, np_name) -> bool:
    """May the value of ``node`` be a read-only broadcast view (``np.broadcast_to``, a runtime
    helper in ``runtime.BROADCAST_VIEWS``), which cannot be written into, even when it
    shares no variable's memory (``broadcast_like(-dx, a)``)?"""
    from . import runtime
    for n in _exposed(node, np_name):
        if isinstance(n, gast.Call):
            root, _, attribute = _dotted(n.func).rpartition(".")
            if (root == "_srcad" and attribute in runtime.BROADCAST_VIEWS) or (
                    root == np_name and attribute in ("broadcast_to", "broadcast_arrays")):
                return True
    return False


def _exposed(node, np_name) -> list:
    """The nodes whose value ``node``'s value may be: itself, a subscript's or attribute's
    base, what a call hands back, a container's items, recursively."""
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append(n)
        if isinstance(n, (gast.Subscript, gast.Attribute, gast.Starred)):
            todo.append(n.value)
        elif isinstance(n, gast.Call):
            todo += _passed_through(n, np_name)
        elif not isinstance(n, (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp,
                                gast.Compare)):        # ``a or b``, ``x if c else y``, lists
            todo += [c for c in gast.iter_child_nodes(n) if isinstance(c, gast.expr)]
    return out


def _passed_through(call, np_name) -> list:
    """The operands of ``call`` its result may share memory with (its receiver included)."""
    import numpy

    from . import runtime
    func = call.func
    root, _, attribute = _dotted(func).rpartition(".")
    operands = list(call.args) + [k.value for k in call.keywords]
    if root == "_srcad" and attribute in runtime.SHARES:
        return _operands(call, runtime.SHARES[attribute] + runtime.HOLDS.get(attribute, ()))
    fresh = (root == np_name and (attribute in _FRESH_NUMPY or isinstance(
        getattr(numpy, attribute, None), numpy.ufunc))) or root in (
        np_name + ".linalg", np_name + ".random", "math") or (
        isinstance(func, gast.Attribute) and attribute in _FRESH_METHODS) or (
        isinstance(func, gast.Name) and func.id in _FRESH_BUILTINS)
    if fresh and not any(k.arg in ("out", "copy") for k in call.keywords):
        return []                 # (np.add(a, b, out=c) is c; np.array(a, copy=False) is a)
    return operands + ([func.value] if isinstance(func, gast.Attribute) else [])


def _operands(call, positions) -> list:
    return [call.args[i] for i in sorted(set(positions)) if i < len(call.args)]


def _dotted(func) -> str:
    """``np.exp`` for the function of a call, however it is spelled (templates bind runtime
    and NumPy references as dotted names)."""
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return _dotted(func.value) + "." + func.attr
    return ""
