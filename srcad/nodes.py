"""gast node builders shared by the transformers and the optimizer (names, assignments, calls,
attributes, comments) and ``drop_empty``, the clean-up of statements that do nothing."""
from __future__ import annotations

import gast

from .analysis import walk
from .naming import COMMENT_MARK

__all__ = ["name", "assign", "call", "attr", "loads", "comment", "COMMENT_MARK", "drop_empty"]


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


def comment(text: str) -> gast.Expr:
    """A statement that becomes the line ``# text``."""
    node = gast.Expr(value=gast.Name(id=COMMENT_MARK, ctx=gast.Load(), annotation=None,
                                     type_comment=None))
    node.srcad_comment = text
    return node


def drop_empty(stmts, keep_targets=frozenset()) -> list:
    """Without branches and loops that do nothing, and comments that precede nothing (a
    loop whose target is in ``keep_targets`` still binds it, so it stays)."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.For, gast.If, gast.While)):
            s.body = drop_empty(s.body, keep_targets)
            s.orelse = drop_empty(s.orelse, keep_targets)
            binds = isinstance(s, gast.For) and getattr(s.target, "id", None) in keep_targets
            if not s.body and not s.orelse and not isinstance(s, gast.While) and not binds:
                continue
            if isinstance(s, gast.If) and not s.body:
                s.test = gast.UnaryOp(op=gast.Not(), operand=s.test)
                s.body, s.orelse = s.orelse, []
            s.body = s.body or [gast.Pass()]
        if not isinstance(s, gast.Pass):
            out.append(s)
    while out and getattr(out[-1], "srcad_comment", None) is not None:
        out.pop()
    return [s for i, s in enumerate(out) if getattr(s, "srcad_comment", None) is None
            or not (getattr(out[i + 1], "srcad_comment", None) is not None
                    or isinstance(out[i + 1], gast.Return))]
