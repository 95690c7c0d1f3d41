"""``try`` statements whose handlers only re-raise, replaced by their bodies; every other
``try`` refused.

Input: a parsed FunctionDef (the user's function or a helper about to be inlined), before any
other pass. Output: the same with no ``try`` left: ``try: body except E: raise`` computes the
same values and raises the same exceptions as ``body``, so it becomes ``body``. A ``try`` with
another handler, an ``else`` or a ``finally``, or with a ``return``, ``break`` or ``continue``
in its body, is a ``SrcadSyntaxError`` at its line.
"""
from __future__ import annotations

import gast

from ..source import Source
from .program import _loc_error

__all__ = ["lower_reraising_try"]


def lower_reraising_try(src: Source, fdef: gast.FunctionDef) -> None:
    """Replace, in place, each re-raising ``try`` of ``fdef`` by its body."""
    for node in list(gast.walk(fdef)):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and any(isinstance(s, gast.Try) for s in block):
                setattr(node, field, _flattened(src, block))
        for handler in getattr(node, "handlers", None) or []:
            if any(isinstance(s, gast.Try) for s in handler.body):
                handler.body = _flattened(src, handler.body)


def _flattened(src, block: list) -> list:
    out: list = []
    for stmt in block:
        if not isinstance(stmt, gast.Try):
            out.append(stmt)
            continue
        if stmt.finalbody or stmt.orelse or not all(
                len(h.body) == 1 and isinstance(h.body[0], gast.Raise) and
                h.body[0].exc is None for h in stmt.handlers):
            raise _loc_error(src, stmt, "srcad does not differentiate try/except",
                             "Instead: move error handling outside the differentiated "
                             "function (a try whose handlers only re-raise, `except E: "
                             "raise`, is differentiated as its body).")
        jump = next((n for b in stmt.body for n in gast.walk(b)
                     if isinstance(n, (gast.Return, gast.Break, gast.Continue))), None)
        if jump is not None:
            raise _loc_error(src, jump, f"`{type(jump).__name__.lower()}` inside `try`",
                             "Move the return, break or continue after the try statement.")
        out.extend(_flattened(src, stmt.body))
    return out
