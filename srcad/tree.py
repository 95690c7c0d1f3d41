"""Containers of arrays ("trees"): dicts, lists, tuples, namedtuples and dataclasses, nested,
with arrays and numbers as leaves. ``srcad.optim`` uses these to update parameters of any
structure.

* ``leaves(tree)``: the leaves in order (dicts in their key order, dataclasses in field order).
* ``flatten(tree) -> (leaves, rebuild)``: ``rebuild(new_leaves)`` makes the same structure.
* ``tree_map(fn, tree, *others)``: ``fn`` applied leafwise over trees of the same structure.

``None`` is an empty node (no leaves), as a missing gradient is.
"""
from __future__ import annotations

import dataclasses

__all__ = ["leaves", "flatten", "tree_map"]


def _children(node):
    """(children, rebuild) for a container node, or None for a leaf."""
    if node is None:
        return [], lambda items: None
    if isinstance(node, dict):
        keys = list(node)
        return [node[k] for k in keys], lambda items: type(node)(zip(keys, items))
    if isinstance(node, tuple) and hasattr(node, "_fields"):           # namedtuple
        return list(node), lambda items: type(node)(*items)
    if isinstance(node, (list, tuple)):
        return list(node), lambda items: type(node)(items)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        names = [f.name for f in dataclasses.fields(node)]
        return ([getattr(node, n) for n in names],
                lambda items: dataclasses.replace(node, **dict(zip(names, items))))
    return None


def flatten(tree):
    """``(leaves, rebuild)``: the leaves in order, and a function making a tree of the same
    structure from a list of new leaves."""
    out = []
    spec = _spec(tree, out)
    return out, lambda items: _build(spec, iter(items))


def _spec(node, out):
    found = _children(node)
    if found is None:
        out.append(node)
        return None
    children, rebuild = found
    return rebuild, [_spec(c, out) for c in children]


def _build(spec, items):
    if spec is None:
        return next(items)
    rebuild, children = spec
    return rebuild([_build(c, items) for c in children])


def leaves(tree) -> list:
    return flatten(tree)[0]


def tree_map(fn, tree, *others):
    """``fn(leaf, *other_leaves)`` over trees of the same structure, in ``tree``'s structure."""
    items, rebuild = flatten(tree)
    rest = [leaves(o) for o in others]
    for o in rest:
        if len(o) != len(items):
            raise ValueError(f"tree_map: trees of different structures ({len(items)} and "
                             f"{len(o)} leaves)")
    return rebuild([fn(x, *(o[i] for o in rest)) for i, x in enumerate(items)])
