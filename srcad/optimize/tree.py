"""Queries and edits of gast trees that the optimize passes share: names read and bound,
effect-free expressions, float literals, parents and child replacement, runtime helper and
elementwise NumPy calls.

Input and output: gast nodes of generated code; nothing here changes a tree but
``_replace_child``/``_set_child``, which put one node in place of another.
"""
from __future__ import annotations

import gast

from ..analysis import literal, walk
from ..sharing import _dotted

_EFFECTS = {"pop", "append", "add_at", "take_and_zero", "extend", "insert"}


def _loads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value) -> bool:
    """Evaluating ``value`` changes nothing (no tape or list operations, no in-place helper)."""
    for n in walk(value):
        if isinstance(n, gast.Call):
            func = n.func
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if name in _EFFECTS:
                return False
    return True


def _assign_counts(fdef) -> dict:
    counts: dict = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            counts[n.id] = counts.get(n.id, 0) + 1
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            counts[n.target.id] = counts.get(n.target.id, 0) + 1
    for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
        counts[a.id] = counts.get(a.id, 0) + 1
    return counts


def _load_counts(tree) -> dict:
    """name -> how many times ``tree`` reads it."""
    counts: dict = {}
    for n in walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _number(node):
    """The value of a float literal (``2.0``, ``-2.0``), else None (ints stay as written)."""
    return literal(node, float)


def _literal(value):
    node = gast.Constant(value=abs(value), kind=None)
    return gast.UnaryOp(op=gast.USub(), operand=node) if value < 0 else node


def _replace_child(parent, old, new):
    for field, value in gast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return field
        if isinstance(value, list) and any(v is old for v in value):
            value[[i for i, v in enumerate(value) if v is old][0]] = new
            return field
    raise AssertionError("not a child")


def _set_child(parent, field, old, new):
    value = getattr(parent, field)
    if isinstance(value, list):
        value[[i for i, v in enumerate(value) if v is old][0]] = new
    else:
        setattr(parent, field, new)


def _parents(root) -> dict:
    """id(node) -> its parent, for every node below ``root``."""
    return {id(child): node for node in walk(root) for child in gast.iter_child_nodes(node)}


def _stores(stmt) -> set:
    out = {n.id for n in walk(stmt) if isinstance(n, gast.Name)
           and not isinstance(n.ctx, gast.Load)}
    return out | {n.target.id for n in walk(stmt) if isinstance(n, gast.AugAssign)
                  and isinstance(n.target, gast.Name)}


def _helper_name(call):
    """``helper`` for a call ``_srcad.helper(...)``, else None."""
    if isinstance(call, gast.Call):
        root, _, helper = _dotted(call.func).rpartition(".")
        if root == "_srcad":
            return helper
    return None


def _np_call(call, np_name) -> bool:
    """Is ``call`` ``np.f(...)`` for an elementwise NumPy function ``f`` (or an elementwise
    runtime helper, ``_srcad.sigmoid``)?"""
    import numpy

    from .. import registry, runtime
    root, _, attribute = _dotted(call.func).rpartition(".")
    module = numpy if root == np_name else runtime if root == "_srcad" else None
    rule = registry.lookup(getattr(module, attribute, None)) if module is not None else None
    return rule is not None and bool(rule.extra.get("elementwise"))
