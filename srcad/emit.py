"""Emit: gast FunctionDef -> readable Python source (``to_ast``, then astor) -> a compiled
function registered in ``linecache`` (so tracebacks and pdb show the generated lines).

Comments are carried through the AST as ``Comment`` marker statements and written as ``#``
lines; the generated text is deterministic for a given input.
"""
from __future__ import annotations

import ast
import collections
import hashlib
import linecache
import re
import sys
import threading
import types
import weakref
from collections.abc import Sequence

import builtins

import gast

from .naming import COMMENT_MARK
from .nodes import walk
from . import parsing

__all__ = ["to_source", "to_ast", "compile_function", "GeneratedNamespace", "comment_text",
           "run_note", "line_origins"]

_MARK_RE = re.compile(r"^(\s*)" + COMMENT_MARK + r"(\d+)\s*$", re.M)


def to_source(fdef: gast.FunctionDef, header: Sequence[str] = (),
              names: set | None = None) -> str:
    """The source text of a FunctionDef, with its comment markers written as comments;
    ``names``, if given, gets the id of every Name in it (the markers' too), from the walk
    that finds the markers."""
    import astor        # the writer, loaded by the first build (a cached derivative needs none)
    texts: list[str] = []
    Name = gast.Name
    for node in walk(fdef):          # (markers are numbered in any order)
        if names is not None and node.__class__ is Name:
            names.add(node.id)
        text = getattr(node, "srcad_comment", None)
        if text is not None:
            node.value.id = f"{COMMENT_MARK}{len(texts)}"
            texts.append(comment_text(text))
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and all(
                    getattr(s, "srcad_comment", None) is not None for s in block):
                block.append(gast.Pass())     # a block of comments still needs a statement
    module = ast.Module(body=[to_ast(fdef)], type_ignores=[])
    source = astor.to_source(module, indent_with="    ")
    source = _MARK_RE.sub(lambda m: f"{m.group(1)}# {texts[int(m.group(2))]}", source)
    lines = [f"# {comment_text(h)}" for h in header]
    return "\n".join(lines) + ("\n" if lines else "") + source


def to_ast(node):
    """The ``ast`` tree of a gast tree, for the writer: what ``gast.gast_to_ast`` gives on
    Python 3.8 to 3.11 for what the writer reads (node classes, fields, values; not the
    source positions, which the text does not show), in one pass that finds each class's
    conversion once (gast's visitor re-dispatches on every node and field, half of writing
    a long function's text)."""
    convert = _CONVERT.get(node.__class__)
    if convert is None:
        convert = _converter(node.__class__)
    return convert(node)


def _convert_value(value):
    if isinstance(value, gast.AST):
        return to_ast(value)
    if value.__class__ is list:
        return [to_ast(v) if isinstance(v, gast.AST) else v for v in value]
    return value


def _converter(cls):
    """The conversion of gast nodes of class ``cls`` (cached in ``_CONVERT``)."""
    target = getattr(ast, cls.__name__, None)
    if target is None:                 # not a node of Python's ast: gast drops it too
        def convert(node):
            return None
    elif not cls._fields:              # a context or an operator: one shared instance
        leaf = target()

        def convert(node):
            return leaf
    elif cls is gast.Name:
        def convert(node):
            return ast.Name(node.id, to_ast(node.ctx))
    elif cls is gast.arguments:
        def convert(node):
            return ast.arguments([_arg(a) for a in node.posonlyargs],
                                 [_arg(a) for a in node.args], _arg(node.vararg),
                                 [_arg(a) for a in node.kwonlyargs],
                                 _convert_value(node.kw_defaults), _arg(node.kwarg),
                                 _convert_value(node.defaults))
    elif cls is gast.Assign:
        def convert(node):
            return ast.Assign(_convert_value(node.targets), to_ast(node.value))
    elif cls is gast.ExceptHandler:
        def convert(node):
            return ast.ExceptHandler(_convert_value(node.type),
                                     node.name.id if node.name else None,
                                     _convert_value(node.body))
    else:
        # fields of both (gast's extra ones, type_params, an Assign's type_comment, are
        # not Python 3.11's)
        fields = tuple(f for f in cls._fields if f in target._fields)

        def convert(node):
            return target(**{f: _convert_value(getattr(node, f)) for f in fields
                             if hasattr(node, f)})
    _CONVERT[cls] = convert
    return convert


def _arg(node):
    """A parameter (a gast Name) as an ``ast.arg``."""
    if node is None:
        return None
    return ast.arg(node.id, _convert_value(node.annotation), node.type_comment)


_CONVERT: dict = {}


def comment_text(text: str) -> str:
    """``text`` as the body of one comment line: file names, qualnames and source lines come
    from outside srcad, so any character that could end the line (``\\n``, ``\\r``,
    ``\\x0c``, ``\\u2028``, ...) or is not printable is written as its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class GeneratedNamespace(dict):
    """Globals of a generated function: srcad's own references, then (read at call time, so
    rebinding a module global or a closure variable is seen) the user function's closure
    cells and globals."""

    def __init__(self, refs: dict, cells: dict, user_globals: dict):
        super().__init__(refs)
        self._cells = cells
        self._user = user_globals
        self["__builtins__"] = builtins

    def __missing__(self, key):
        cell = self._cells.get(key)
        if cell is not None:
            try:
                return cell.cell_contents
            except ValueError:
                pass
        return self._user[key]


def compile_function(source: str, name: str, namespace: dict, tree=None):
    """Compile generated source (``tree``: already parsed) under a stable fake filename
    registered in linecache."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    filename = f"<srcad {name} {digest}>"     # Source.generated recognizes this prefix
    code = compile(source if tree is None else tree, filename, "exec")
    exec(code, namespace)
    fn = namespace[name]
    fn.__srcad_source__ = source
    _register_lines(filename, source)
    weakref.finalize(fn, _release_lines, filename)
    return fn


def _statements(body, comments: bool):
    """The statements of ``body`` in source order, nested blocks included; comment markers
    left out unless ``comments`` (in the emitted text they are comments, not statements)."""
    for stmt in body:
        if comments or getattr(stmt, "srcad_comment", None) is None:
            yield stmt
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, field, None) or [], comments)


def line_origins(fdef: gast.FunctionDef, source: str, filename: str) -> dict:
    """generated line -> (file, line) of the user's code its statement came from, for the
    statements of ``fdef`` that carry one; ``source`` is ``to_source(fdef)``. Empty if the
    two do not line up statement for statement (no origin is better than a wrong one)."""
    import ast
    parsed = parsing.parse(source).body[0]
    assert isinstance(parsed, ast.FunctionDef)
    emitted = list(_statements(parsed.body, True))
    built = list(_statements(fdef.body, False))
    if len(emitted) != len(built) or any(type(a).__name__ != type(b).__name__
                                         for a, b in zip(emitted, built)):
        return {}
    out = {}
    for text, node in zip(emitted, built):
        lineno = getattr(node, "lineno", None)
        if lineno is not None:
            src = getattr(node, "srcad_source", None)
            out[text.lineno] = (getattr(src, "filename", None) or filename, lineno)
    return out


def rebind(fn, cells: dict, user_globals: dict):
    """``fn`` (compiled by ``compile_function``) over another function's closure cells: the
    same code and srcad references, names read through ``cells`` and ``user_globals``."""
    old = fn.__globals__
    namespace = GeneratedNamespace({k: v for k, v in old.items() if k != fn.__name__},
                                   cells, user_globals)
    new = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update({k: v for k, v in fn.__dict__.items() if k != "__srcad_built__"})
    namespace[fn.__name__] = new
    filename = fn.__code__.co_filename
    _register_lines(filename, fn.__srcad_source__)
    weakref.finalize(new, _release_lines, filename)
    return new


# linecache entries of generated code, counted by the functions compiled under each filename
# (the same source gives the same filename): an entry goes when its last function does.
# Finalizers run whenever the garbage collector does, in any thread, even inside
# _register_lines: they queue the filename, and whoever holds the lock next drains the queue.
_LINES_LOCK = threading.Lock()
_LINE_USERS: dict[str, int] = {}
_RELEASED: collections.deque = collections.deque()


def _register_lines(filename: str, source: str) -> None:
    with _LINES_LOCK:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        _LINE_USERS[filename] = _LINE_USERS.get(filename, 0) + 1
    _drain_released()


def _release_lines(filename: str) -> None:
    _RELEASED.append(filename)
    _drain_released()


def _drain_released() -> None:
    if not _LINES_LOCK.acquire(blocking=False):
        return                        # the holder drains the queue when it is done
    try:
        while _RELEASED:
            filename = _RELEASED.popleft()
            users = _LINE_USERS.get(filename, 0) - 1
            if users > 0:
                _LINE_USERS[filename] = users
            else:
                _LINE_USERS.pop(filename, None)
                linecache.cache.pop(filename, None)
    finally:
        _LINES_LOCK.release()


def run_note(fn, module: str | None) -> list[str]:
    """Comment lines stating what the source of ``fn`` (compiled by ``compile_function``)
    needs to run outside srcad's namespace: one import line per name it reads from outside,
    ``module`` being the user function's module (its globals are read as ``from module
    import name``; a closure variable is named as such)."""
    tree = parsing.parse(fn.__srcad_source__).body[0]
    assert isinstance(tree, ast.FunctionDef)
    bound = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
              and not isinstance(n.ctx, ast.Load)}
    free = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load) and n.id not in bound]
    namespace = fn.__globals__
    lines, from_module, closure = [], [], []
    for name in dict.fromkeys(free):
        value = _lookup(namespace, name)
        if value is _MISSING or getattr(builtins, name, _MISSING) is value:
            continue
        if isinstance(value, types.ModuleType):
            lines.append(f"import {value.__name__}" if value.__name__ == name
                         else f"import {value.__name__} as {name}")
        elif name in dict.keys(namespace) and _importable(value):    # srcad's own reference
            origin = value.__qualname__
            lines.append(f"from {value.__module__} import {origin}"
                         + ("" if origin == name else f" as {name}"))
        elif name in getattr(namespace, "_cells", {}):
            closure.append(name)
        else:
            from_module.append(name)
    if from_module:
        lines.append(f"from {module} import {', '.join(from_module)}" if module
                     and module != "__main__" else
                     f"and the globals {', '.join(from_module)} of the script it came from")
    if closure:
        lines.append(f"and the closure variables {', '.join(closure)} of the function")
    if not lines:
        return []
    return (["To run this code outside srcad, it needs:"] + [f"    {line}" for line in lines]
            + ["(`srcad export` or show(..., standalone=True) writes a module that needs no "
               "srcad.)"])


_MISSING = object()


def _lookup(namespace, name):
    try:
        return namespace[name]
    except (KeyError, NameError):
        return _MISSING


def _importable(value) -> bool:
    """Is ``value`` found again as ``from value.__module__ import value.__qualname__``?"""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "." in qualname \
            or module == "__main__":
        return False
    return getattr(sys.modules.get(module), qualname, None) is value
