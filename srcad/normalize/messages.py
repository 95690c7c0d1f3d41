"""Strings built for messages: ``msg = f"z mean {np.mean(z):.3f}"; log.debug(msg)``.

Input: a FunctionDef after the comprehensions pass (the user's function, or a helper about to
be inlined). Output: the same function, where each assignment ``name = <str>`` whose value is
built as a string (an f-string, ``str(...)``/``repr(...)``/``format(...)``, ``'...' % v``,
``'...'.format(...)``, ``'sep'.join(...)``, a ``+`` of those, of str constants and of names
bound only to them) and whose name is read only by messages (``print``, ``logging``,
``warnings.warn``, ``raise``, ``assert``, or another such assignment) is marked
``srcad_message``: ``statements`` keeps it as a primal-only statement, run once in the primal
as written and never in a derivative sweep, and the fence lets its f-string stand. Such a
string (one reading a value of the function) read by arithmetic or converted to a number
(``float(s)``, ``np.float64(s)``: the value's printed digits) is refused, located at the read.
"""
from __future__ import annotations

import builtins

import gast

from ..nodes import walk
from ..source import Source
from .program import _loc_error

__all__ = ["mark_messages"]

_STR_BUILTINS = ("str", "repr", "format", "ascii")
_ARITH = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Pow, gast.MatMult,
          gast.Mod)


def mark_messages(src: Source, fdef) -> None:
    """Mark the assignments of strings read only by messages (see the module docstring)."""
    assigns = [s for s in walk(fdef) if isinstance(s, gast.Assign) and len(s.targets) == 1
               and isinstance(s.targets[0], gast.Name)]
    bound: dict = {}                    # name -> its assignments
    for s in walk(fdef):
        for t in _stores(s):
            bound.setdefault(t, []).append(s)
    a = fdef.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]
              if p is not None}
    strs: set = set()                   # names every assignment of which builds a str
    changed = True
    while changed:
        changed = False
        for s in assigns:
            name = s.targets[0].id
            if name not in strs and name not in params and all(
                    b in assigns and _is_str(src, b.value, strs) for b in bound[name]):
                strs.add(name)
                changed = True
    if not strs:
        return
    parents = {id(c): n for n in walk(fdef) for c in gast.iter_child_nodes(n)}
    messages = {name for name in strs if all(
        _in_message(src, use, parents, strs) for use in _reads(fdef, name))}
    for name in strs:
        for use in _reads(fdef, name):
            if name in messages or not _reads_values(bound[name], strs):
                continue
            how = "by arithmetic" if _in_arithmetic(src, use, parents, strs) else \
                "as a number" if _converted(src, use, parents) else None
            if how is not None:
                raise _loc_error(src, use, f"the string {name!r} (built at line "
                                 f"{bound[name][0].lineno}) is read {how} here",
                                 "srcad differentiates numbers, not strings: use the string "
                                 "only in messages (print, logging, warnings.warn, raise, "
                                 "assert), and compute the number with NumPy.")
    for name in messages:
        for s in bound[name]:
            s.srcad_message = True


def _stores(stmt) -> list:
    """The names a statement binds (its own targets, not those of nested statements)."""
    if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
    elif isinstance(stmt, (gast.For, gast.With)):
        targets = [stmt.target] if isinstance(stmt, gast.For) else [
            i.optional_vars for i in stmt.items if i.optional_vars is not None]
    elif isinstance(stmt, gast.NamedExpr):
        targets = [stmt.target]
    else:
        return []
    return [n.id for t in targets for n in gast.walk(t) if isinstance(n, gast.Name)]


def _reads(fdef, name) -> list:
    return [n for n in walk(fdef) if isinstance(n, gast.Name) and n.id == name and
            isinstance(n.ctx, gast.Load)]


def _builtin(src: Source, func, names) -> bool:
    return isinstance(func, gast.Name) and func.id in names and \
        src.namespace.lookup(func.id) is getattr(builtins, func.id)


def _is_str(src: Source, node, strs) -> bool:
    """Is ``node`` built as a str (see the module docstring)?"""
    if isinstance(node, gast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, gast.JoinedStr):
        return True
    if isinstance(node, gast.Name):
        return node.id in strs
    if isinstance(node, gast.Call):
        if _builtin(src, node.func, _STR_BUILTINS):
            return True
        return isinstance(node.func, gast.Attribute) and node.func.attr in (
            "format", "join") and _is_str(src, node.func.value, strs)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mod):
        return _is_str(src, node.left, strs)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add):
        return _is_str(src, node.left, strs) and _is_str(src, node.right, strs)
    return False


def _reads_values(assigns, strs) -> bool:
    """Do these assignments read a value that is no str constant (a value of the function)?"""
    return any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in strs
               for s in assigns for n in gast.walk(s.value))


def _in_message(src: Source, use, parents, strs) -> bool:
    """Is the read ``use`` inside a message: ``raise``, ``assert``, a call of ``print``,
    ``logging`` or ``warnings.warn`` as a statement, or the value of a str assignment?"""
    from .statements import _is_effect
    node = use
    while id(node) in parents:
        node = parents[id(node)]
        if isinstance(node, (gast.Raise, gast.Assert)):
            return True
        if isinstance(node, gast.Expr):
            call = node.value
            return isinstance(call, gast.Call) and _is_effect(src.namespace.resolve(call.func))
        if isinstance(node, gast.Assign):
            return len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                node.targets[0].id in strs
        if isinstance(node, gast.stmt):
            return False
    return False


# what reads a number out of a string (``float('%s' % x[0])`` is x[0], to its printed digits)
_NUMBER_FROM_STR = ("float", "int", "complex", "eval")
_NUMPY_FROM_STR = ("float64", "float32", "float16", "double", "longdouble", "complex128",
                   "complex64", "array", "asarray", "asanyarray", "fromstring", "loadtxt")


def _converted(src: Source, use, parents) -> bool:
    """Is the read ``use`` an argument of a conversion to a number (``float(s)``,
    ``np.float64(s)``, ``np.array(s, dtype=float)``)?"""
    import numpy as np
    call = parents.get(id(use))
    if not isinstance(call, gast.Call) or call.func is use:
        return False
    if _builtin(src, call.func, _NUMBER_FROM_STR):
        return True
    func = src.namespace.resolve(call.func) if isinstance(
        call.func, (gast.Name, gast.Attribute)) else None
    return any(func is getattr(np, n, None) for n in _NUMPY_FROM_STR)


def _in_arithmetic(src: Source, use, parents, strs) -> bool:
    """Is the read ``use`` an operand of arithmetic (``msg * 2``, ``-msg``, ``x += msg``),
    not of a string built (``msg + "!"``)?"""
    parent = parents.get(id(use))
    if isinstance(parent, gast.BinOp):
        return isinstance(parent.op, _ARITH) and not _is_str(src, parent, strs)
    return isinstance(parent, gast.AugAssign) and isinstance(parent.op, _ARITH) or \
        isinstance(parent, gast.UnaryOp) and not isinstance(parent.op, gast.Not)
