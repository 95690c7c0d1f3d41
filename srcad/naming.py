"""Deterministic names for generated code: ``bx`` (adjoint of x), ``dx`` (tangent), ``_exp``
(temporaries named after their expression); never random, never clashing with user names."""
from __future__ import annotations

import keyword
import re

import gast

COMMENT_MARK = "__srcad_comment_"     # emit writes ``COMMENT_MARK<i>`` as the comment line

_OP_NAMES = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow",
    gast.MatMult: "matmul", gast.FloorDiv: "floordiv", gast.Mod: "mod",
    gast.USub: "neg", gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert",
}


class Namer:
    """Hands out unique names within one generated function."""

    def __init__(self, taken=()):
        self.taken = set(taken)       # names only ever join it
        self._derived: dict[tuple[str, str], str] = {}
        self._next: dict[str, int] = {}     # base -> the first suffix ``fresh`` may find free

    def reserve(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh(self, base: str) -> str:
        base = identifier(base)
        if base not in self.taken:
            return self.reserve(base)
        i = self._next.get(base, 2)     # base_2 ... base_{i-1} are taken (taken only grows):
        while f"{base}_{i}" in self.taken:      # not tried again at each call, which made
            i += 1                              # n names of one base quadratic in n
        self._next[base] = i + 1
        return self.reserve(f"{base}_{i}")

    def derived(self, prefix: str, name: str) -> str:
        """``prefix + name`` (bx, dx), stable for a given name."""
        key = (prefix, name)
        if key not in self._derived:
            self._derived[key] = self.fresh(prefix + name)
        return self._derived[key]

    def adjoint(self, name: str) -> str:
        return self.derived("b", name)

    def tangent(self, name: str) -> str:
        return self.derived("d", name)

    def temp_for(self, node) -> str:
        """A temporary named after the expression it holds."""
        return self.fresh("_" + describe(node))


def identifier(base: str) -> str:
    """``base`` as a Python identifier: names built from outside text (a function's
    ``__name__``) are data, never code in the generated source."""
    if base and base.isidentifier() and not keyword.iskeyword(base):
        return base
    base = re.sub(r"\W", "_", base or "")
    if not base.isidentifier():
        base = "_" + base
    if keyword.iskeyword(base):
        base += "_"
    return base if base.isidentifier() else "_t"


def describe(node) -> str:
    """A short identifier describing an expression: np.exp(x) -> exp, a * b -> mul."""
    if isinstance(node, gast.Call):
        func = node.func
        while isinstance(func, gast.Attribute):
            return func.attr
        if isinstance(func, gast.Name):
            return func.id
        return "call"
    if isinstance(node, gast.BinOp):
        return _OP_NAMES.get(type(node.op), "op")
    if isinstance(node, gast.UnaryOp):
        name = _OP_NAMES.get(type(node.op), "op")
        if isinstance(node.operand, gast.Name):
            return f"{name}_{node.operand.id.lstrip('_')}"
        return name
    if isinstance(node, gast.Compare):
        return "cmp"
    if isinstance(node, gast.Subscript):
        if isinstance(node.value, gast.Name):
            return node.value.id.lstrip("_") + "_item"
        return "item"
    if isinstance(node, gast.Attribute):
        return node.attr
    if isinstance(node, (gast.List, gast.Tuple)):
        return "list" if isinstance(node, gast.List) else "tuple"
    if isinstance(node, gast.IfExp):
        return "select"
    if isinstance(node, gast.BoolOp):
        return "cond"
    return "t"


def names_in(node) -> set:
    """Every identifier appearing in a tree."""
    from .nodes import walk      # (nodes imports this module)
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}
