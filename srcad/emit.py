"""Emit: gast FunctionDef -> readable Python source (astor) -> a compiled function registered
in ``linecache`` (so tracebacks and pdb show the generated lines).

Comments are carried through the AST as ``Comment`` marker statements and written as ``#``
lines; the generated text is deterministic for a given input.
"""
from __future__ import annotations

import hashlib
import linecache
import re
from collections.abc import Sequence

import builtins

import astor
import gast

from .nodes import COMMENT_MARK

__all__ = ["to_source", "compile_function", "GeneratedNamespace"]

_MARK_RE = re.compile(r"^(\s*)" + COMMENT_MARK + r"(\d+)\s*$", re.M)


def to_source(fdef: gast.FunctionDef, header: Sequence[str] = ()) -> str:
    """The source text of a FunctionDef, with its comment markers written as comments."""
    texts: list[str] = []
    for node in gast.walk(fdef):
        text = getattr(node, "srcad_comment", None)
        if text is not None:
            node.value.id = f"{COMMENT_MARK}{len(texts)}"
            texts.append(text)
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and all(
                    getattr(s, "srcad_comment", None) is not None for s in block):
                block.append(gast.Pass())     # a block of comments still needs a statement
    module = gast.gast_to_ast(gast.Module(body=[fdef], type_ignores=[]))
    source = astor.to_source(module, indent_with="    ")
    source = _MARK_RE.sub(lambda m: f"{m.group(1)}# {texts[int(m.group(2))]}", source)
    lines = [f"# {h}" for h in header]
    return "\n".join(lines) + ("\n" if lines else "") + source


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


def compile_function(source: str, name: str, namespace: dict):
    """Compile generated source under a stable fake filename registered in linecache."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    filename = f"<srcad {name} {digest}>"     # Source.generated recognizes this prefix
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    exec(code, namespace)
    fn = namespace[name]
    fn.__srcad_source__ = source
    return fn
