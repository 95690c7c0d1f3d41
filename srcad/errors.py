"""Error classes: every user-facing failure names the user's file, line and construct."""
from __future__ import annotations

import linecache

__all__ = [
    "SrcadError", "SrcadSyntaxError", "NoRuleError", "SourceUnavailableError",
    "NotDifferentiableError", "ShapeMismatchError", "InternalError", "GradientCheckError",
]


class Location:
    """A place in the user's source: file, 1-based line, 0-based column."""

    __slots__ = ("filename", "lineno", "col")

    def __init__(self, filename: str, lineno: int | None, col: int | None = None):
        self.filename = filename
        self.lineno = lineno
        self.col = col

    def excerpt(self) -> str:
        if not self.lineno:
            return ""
        line = linecache.getline(self.filename, self.lineno).rstrip("\n")
        if not line:
            return ""
        text = "    " + line.strip()
        if self.col is not None:
            indent = len(line) - len(line.lstrip())
            caret = max(self.col - indent, 0)
            text += "\n    " + " " * caret + "^"
        return text

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}" if self.lineno else self.filename


class SrcadError(Exception):
    """Base class of everything srcad raises on purpose."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}: {self.message}")
            excerpt = self.location.excerpt()
            if excerpt:
                parts.append(excerpt)
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self._render()


class SrcadSyntaxError(SrcadError, SyntaxError):
    """A construct srcad does not differentiate (yet), with where it is and what to use instead."""

    def __init__(self, message, location=None, hint=None):
        SrcadError.__init__(self, message, location, hint)
        if location is not None:
            self.filename = location.filename
            self.lineno = location.lineno
            self.offset = (location.col or 0) + 1
            self.text = linecache.getline(location.filename, location.lineno or 0) or None
        self.msg = self._render()

    def __str__(self) -> str:
        return self._render()


class NoRuleError(SrcadError):
    """A function is called for which srcad has no derivative rule in the requested mode."""


class SourceUnavailableError(SrcadError):
    """The source of a function cannot be read (builtins, C functions, exec'd code, lambdas)."""


class NotDifferentiableError(SrcadError, TypeError):
    """A derivative was asked for an integer, boolean or otherwise non-differentiable argument."""


class ArgumentError(SrcadError, TypeError):
    """A derivative was called with arguments its function does not take: too many or too few,
    an unknown keyword, or a tangent or seed that is not a number."""


class ShapeMismatchError(SrcadError, ValueError):
    """A seed or tangent does not match the shape of the value it belongs to."""


class GradientCheckError(SrcadError, AssertionError):
    """check_grad found a derivative that disagrees with finite differences."""


class TooDeepError(SrcadError, RecursionError):
    """The function nests deeper than srcad can build (an expression, a long body)."""


class InternalError(SrcadError):
    """A bug in srcad: names the pipeline stage that failed."""

    def __init__(self, stage: str, message: str, location: Location | None = None):
        self.stage = stage
        super().__init__(
            f"internal error in stage '{stage}': {message}", location,
            "This is a bug in srcad; please report it with the function that triggered it.")
