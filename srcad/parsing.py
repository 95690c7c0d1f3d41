"""Parsing text into syntax trees (Python's ``ast`` or ``gast``), safe from any thread.

CPython 3.11 keeps the depth counter that guards the construction of a syntax tree in state
that all threads share. When two threads parse at once (one thread's tree construction can run
Python code, a finalizer say, which lets another thread in), the check at the end of a parse
fails with ``SystemError: AST constructor recursion depth mismatch``, although both sources
are fine. Seen on 3.11.7 in srcad's thread-parallel builds and with a bare ``ast.parse``.

Invariant: srcad parses text only through ``parse`` and ``parse_gast``, which hold one
process-wide lock. Parsing is a small part of a build, so holding the lock costs little."""
from __future__ import annotations

import ast
import threading
from typing import Any

import gast

__all__ = ["parse", "parse_gast"]

_LOCK = threading.Lock()


def parse(text: str, mode: str = "exec") -> Any:       # an ast.Module, or ast.Expression
    """``ast.parse(text, mode=mode)``, one thread at a time."""
    with _LOCK:
        return ast.parse(text, mode=mode)


def parse_gast(text: str, mode: str = "exec") -> Any:  # a gast.Module, or gast.Expression
    """``gast.parse(text, mode=mode)``, one thread at a time."""
    with _LOCK:
        return gast.parse(text, mode=mode)
