"""``try`` statements srcad can make exact, replaced by the statements that run; every
other ``try`` is left to the fence (or decided by ``containers``), which refuses it.

Input: a parsed FunctionDef (the user's function or a helper about to be inlined), before any
other pass. Output: the same where
* ``try: body except E: raise`` (every handler only re-raises; no ``else``/``finally``)
  computes the same values and raises the same exceptions as ``body``, so it becomes ``body``
  (a ``return``, ``break`` or ``continue`` in it is a ``SrcadSyntaxError`` at its line);
* a ``try`` whose body only imports (``try: import scipy except ImportError: ...``) is decided
  when the derivative is built, as the imports then go: the body and ``else`` (or the imports
  before the failing one and the matching handler), then ``finally``.
``containers`` decides a ``try`` around container reads with constant keys the same way.
"""
from __future__ import annotations

import importlib

import gast

from ..nodes import walk
from ..source import UNRESOLVED, Source
from .program import _jump_in, _loc_error

__all__ = ["lower_reraising_try", "handler_for", "then_finally"]


def lower_reraising_try(src: Source, fdef: gast.FunctionDef) -> None:
    """Replace, in place, each re-raising ``try`` of ``fdef`` by its body, and each ``try``
    of imports by what runs."""
    if not any(n.__class__ is gast.Try for n in walk(fdef)):
        return                          # (most functions: one fast walk, not gast's)
    for node in list(gast.walk(fdef)):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and any(isinstance(s, gast.Try) for s in block):
                setattr(node, field, _flattened(src, block))
        for handler in getattr(node, "handlers", None) or []:
            if any(isinstance(s, gast.Try) for s in handler.body):
                handler.body = _flattened(src, handler.body)


def _reraising(stmt) -> bool:
    return not stmt.finalbody and not stmt.orelse and all(
        len(h.body) == 1 and isinstance(h.body[0], gast.Raise) and h.body[0].exc is None
        for h in stmt.handlers)


def _flattened(src, block: list) -> list:
    out: list = []
    for stmt in block:
        if not isinstance(stmt, gast.Try):
            out.append(stmt)
        elif _reraising(stmt):
            jump = next((n for b in stmt.body for n in gast.walk(b)
                         if isinstance(n, (gast.Return, gast.Break, gast.Continue))), None)
            if jump is not None:
                raise _loc_error(src, jump, f"`{type(jump).__name__.lower()}` inside `try`",
                                 "Move the return, break or continue after the try statement.")
            out.extend(_flattened(src, stmt.body))
        elif stmt.body and all(isinstance(s, (gast.Import, gast.ImportFrom)) and not
                               getattr(s, "level", 0) for s in stmt.body):
            out.extend(_flattened(src, _imports_decided(src, stmt)))
        else:
            out.append(stmt)         # containers decides it, or the fence refuses it
    return out


def _imports_decided(src, stmt) -> list:
    """The statements a ``try`` of imports runs, the imports tried now."""
    ran: list = []
    for s in stmt.body:
        for k, alias in enumerate(s.names):
            try:
                _import(s, alias)
            except ImportError as exc:
                if k:                # the names before the failing one are imported
                    ran.append(gast.copy_location(type(s)(**{**{f: getattr(s, f) for f in
                                                                s._fields}, "names": s.names[:k]}),
                                                  s))
                handler = handler_for(src, stmt, type(exc))
                if handler is None:
                    raise _loc_error(src, s, f"the import fails: {exc}", "Fix the import, or "
                                     "catch ImportError.") from None
                return ran + then_finally(src, stmt, handler.body)
        ran.append(s)
    return ran + then_finally(src, stmt, stmt.orelse)


def _import(stmt, alias) -> None:
    if isinstance(stmt, gast.Import):
        importlib.import_module(alias.name)
        return
    module = importlib.import_module(stmt.module)
    if alias.name != "*" and not hasattr(module, alias.name):
        try:
            importlib.import_module(f"{stmt.module}.{alias.name}")
        except ImportError:
            raise ImportError(f"cannot import name {alias.name!r} from {stmt.module!r}") \
                from None


def then_finally(src, stmt, chosen: list) -> list:
    """``chosen`` (the handler or ``else`` a decided ``try`` runs), then its ``finally``: in
    sequence, which is Python's order unless a jump leaves ``chosen`` (``finally`` then runs
    first) or ``finally`` jumps itself (its ``return`` wins): those are refused."""
    jump = _jump_in(stmt.finalbody) or (_jump_in(chosen) if stmt.finalbody else None)
    if jump is not None:
        raise _loc_error(src, jump, f"`{type(jump).__name__.lower()}` in a try with "
                         "`finally` that srcad decides when it builds the derivative",
                         "Move the return, break or continue after the try statement.")
    return chosen + stmt.finalbody


def handler_for(src, stmt, kind: type):
    """The handler of ``stmt`` (a Try) that catches an exception of class ``kind``, or None;
    refused when it binds the exception (``except E as e``: not known when built)."""
    for handler in stmt.handlers:
        types = [] if handler.type is None else handler.type.elts if isinstance(
            handler.type, gast.Tuple) else [handler.type]
        classes = [src.namespace.resolve(t) for t in types]
        if any(c is UNRESOLVED or not (isinstance(c, type) and issubclass(c, BaseException))
               for c in classes):
            raise _loc_error(src, handler, "an `except` of a class srcad does not resolve "
                             "when it builds the derivative", "Catch a builtin exception "
                             "class (KeyError, ImportError).")
        if handler.type is None or any(issubclass(kind, c) for c in classes):
            if handler.name is not None:
                name = getattr(handler.name, "id", handler.name)
                raise _loc_error(src, handler, f"`except ... as {name}` in a try "
                                 "decided when the derivative is built",
                                 "Drop `as name`: srcad decides this try when it builds the "
                                 "derivative, with no exception object to bind.")
            return handler
    return None
