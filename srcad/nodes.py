"""gast node builders shared by the transformers (names, assignments, calls, attributes)."""
from __future__ import annotations

import gast

from .analysis import walk

__all__ = ["name", "assign", "call", "attr", "loads"]


def name(ident, ctx=None):
    return gast.Name(id=ident, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def assign(target, value):
    """``target = value``; a string target is a name."""
    if isinstance(target, str):
        target = name(target, gast.Store())
    return gast.Assign(targets=[target], value=value, type_comment=None)


def call(func, *args):
    return gast.Call(func=func, args=list(args), keywords=[])


def attr(value, attribute):
    return gast.Attribute(value=value, attr=attribute, ctx=gast.Load())


def loads(node) -> set:
    """The names a tree reads."""
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}
