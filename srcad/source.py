"""Parse: a Python function -> its gast FunctionDef (with the user's file line numbers) and
the Namespace it resolves names in (globals, closure cells, builtins)."""
from __future__ import annotations

import builtins
import inspect
import textwrap
import types
from dataclasses import dataclass, field

import gast

from .errors import Location, SourceUnavailableError, SrcadSyntaxError

__all__ = ["Source", "Namespace", "parse_function", "UNRESOLVED", "function_state"]

UNRESOLVED = object()


class Namespace:
    """Where a function's free names live: its globals, closure cells and the builtins."""

    def __init__(self, fn):
        self.globals = fn.__globals__
        code = fn.__code__
        self.cells = dict(zip(code.co_freevars, fn.__closure__ or ()))

    def lookup(self, name: str):
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:
                return UNRESOLVED
        value = self.globals.get(name, UNRESOLVED)
        if value is UNRESOLVED and type(self.globals) is not dict:
            try:
                value = self.globals[name]    # a generated function's globals resolve lazily
            except KeyError:
                pass
        return value if value is not UNRESOLVED else getattr(builtins, name, UNRESOLVED)

    def resolve(self, node):
        """The object a Name / dotted Attribute chain refers to now, or UNRESOLVED."""
        if isinstance(node, gast.Name):
            return self.lookup(node.id)
        if isinstance(node, gast.Attribute):
            base = self.resolve(node.value)
            if base is UNRESOLVED:
                return UNRESOLVED
            return getattr(base, node.attr, UNRESOLVED)
        return UNRESOLVED


@dataclass
class Source:
    """A parsed function: its definition (gast, user line numbers) and where it came from."""

    fn: types.FunctionType
    node: gast.FunctionDef
    filename: str
    namespace: Namespace
    text: str
    first_line: int
    lines: list = field(default_factory=list)

    @property
    def generated(self) -> bool:
        """Is this srcad's own generated code (being differentiated again)?"""
        return self.filename.startswith("<srcad ")

    def location(self, node) -> Location:
        return Location(self.filename, getattr(node, "lineno", None),
                        getattr(node, "col_offset", None))

    def line_text(self, lineno: int) -> str:
        i = lineno - self.first_line
        if 0 <= i < len(self.lines):
            return self.lines[i].strip()
        return ""


def _unwrap(fn):
    while True:
        current = getattr(fn, "__srcad_current__", None)
        if current is not None:
            return current()
        inner = getattr(fn, "__wrapped__", None)
        if inner is None:
            return fn
        fn = inner


def parse_function(fn) -> Source:
    """Read and parse ``fn``'s source; raise SourceUnavailableError with advice if we cannot."""
    fn = _unwrap(fn)
    if isinstance(fn, (types.MethodType,)):
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType):
        raise SourceUnavailableError(
            f"cannot differentiate {fn!r}: it is not a Python function with source code",
            hint="srcad reads the source of plain `def` functions; for a NumPy or C function, "
                 "call it from a small Python function, or register a rule with "
                 "srcad.register_adjoint.")
    filename = getattr(fn, "__srcad_filename__", None) or fn.__code__.co_filename
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__} ({filename}): {exc}",
            hint="srcad needs source code: define the function in a file (not in exec'd "
                 "strings or the interactive prompt without a file).") from None
    text = textwrap.dedent("".join(lines))
    if fn.__name__ == "<lambda>":
        line = lines[0] if lines else ""
        column = line.find("lambda")
        raise SrcadSyntaxError(
            "srcad differentiates `def` functions, not lambdas",
            Location(filename, first_line, column if column >= 0 else None),
            "Write the lambda as a `def` function and pass that instead.")
    try:
        module = gast.parse(text)
    except SyntaxError as exc:
        raise SourceUnavailableError(
            f"cannot parse the source of {fn.__qualname__}: {exc.msg}",
            Location(filename, first_line), None) from None
    fdef = module.body[0]
    if not isinstance(fdef, gast.FunctionDef):
        raise SrcadSyntaxError("expected a function definition", Location(filename, first_line))
    gast.increment_lineno(fdef, first_line - 1) if hasattr(gast, "increment_lineno") else \
        _shift_lines(fdef, first_line - 1)
    fdef.decorator_list = []
    return Source(fn=fn, node=fdef, filename=filename, namespace=Namespace(fn), text=text,
                  first_line=first_line, lines=lines)


def function_state(fn) -> tuple:
    """What a derivative built from ``fn``'s source depends on besides its globals: its code
    and its default values."""
    return (fn.__code__, fn.__defaults__, tuple((fn.__kwdefaults__ or {}).items()))


def _shift_lines(tree, offset):
    for node in gast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            node.lineno += offset
        if hasattr(node, "end_lineno") and node.end_lineno is not None:
            node.end_lineno += offset
