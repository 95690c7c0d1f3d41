"""Scopes and name resolution: which object a name or a dotted name denotes when the
derivative is built, and the name it gets in the generated function.

Input: names as the user (or an inlined helper) wrote them. Output: names of the generated
function (locals renamed per helper, foreign globals routed through ``refs``), with every
global read at build time recorded in ``deps`` (the cache rebuilds when one changes).
"""
from __future__ import annotations

import inspect
import types

import gast

from ..naming import Namer, names_in
from ..source import UNRESOLVED, AttributeOf, ItemOf, Namespace, Source
from .program import NameError_, _loc_error, _name

__all__ = ["Resolver"]


class _Scope:
    """One function body being normalized: the main function or an inlined helper."""

    def __init__(self, src: Source, namespace: Namespace, rename: dict, foreign: bool,
                 depth: int):
        self.src = src
        self.namespace = namespace
        self.rename = rename          # local name -> name in the generated function
        self.foreign = foreign        # globals differ from the main function's
        self.depth = depth
        self.callables: dict = {}     # helper parameter -> the function passed to it
        self.nones: set = set()       # helper parameters bound to None, never rebound
        self.local_functions: dict = {}   # nested def or lambda -> closures.LocalFunction
        self.made: set = set()        # names bound to a lifting.Bound: spelled out where
        #                               called, never bound to a value
        self.containers: dict = {}    # names bound to containers (lower_containers), which
        # the nested functions (closures) read too
        self.source_names = names_in(src.node)    # any other name is srcad's own (g_v, _k)


class Resolver:
    """The state of one normalization and the resolution of names: the base layer of
    ``_Normalizer``. The language is recursive: an expression holds calls, a call of a helper
    holds its body; the two methods below close that recursion in the layers above."""

    def __init__(self, src: Source, namer: Namer):
        self.main = src
        self.namer = namer
        self.refs: dict[str, object] = {}
        self.deps: list = []
        self.attributes: dict = {}        # id(object) -> its AttributeOf in deps
        self.main_locals: set = set()
        self.main_defaults: dict = {}     # main parameter -> its default
        self.main_rebound: set = set()    # main parameters assigned in the body
        self.callables: dict = {}         # main parameter called as a function -> default
        self.passed: dict = {}            # main parameter (or leaf) -> the function passed
        self.origins: dict = {}           # a helper's renamed local -> how the user wrote it
        self.active: set = set()          # local functions being inlined (recursion)
        self.helpers: dict = {}           # (helper, output) -> its lowered Source (inline)
        self.probing: set = set()         # helpers whose returned structure is being found
        self.parsed: dict = {}            # helper -> its parsed Source (inline)
        self.lifted: dict = {}            # LocalFunction -> (its lifted function, its reads)
        self.sizes: dict = {}             # helper -> statements its first inlining made, or -1

    def ref(self, obj, preferred: str) -> str:
        """A name bound to ``obj`` in the generated function."""
        for name, value in self.refs.items():
            if value is obj:
                return name
        g = self.main.namespace.globals
        if g.get(preferred, UNRESOLVED) is obj and preferred not in self.main_locals:
            return preferred
        name = preferred if preferred not in self.namer.taken else self.namer.fresh(preferred)
        self.namer.reserve(name)
        self.refs[name] = obj
        return name

    def resolve(self, scope: _Scope, func) -> object:
        if isinstance(func, gast.Subscript):     # TABLE['relu']: the table, then its item
            table = self.resolve(scope, func.value)
            obj = scope.namespace.resolve(func)
            if obj is not UNRESOLVED:
                self.deps.append((ItemOf(table), func.slice.value, obj))
            return obj
        obj = scope.namespace.resolve(func)
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and obj is not UNRESOLVED:
            value = scope.namespace.lookup(root.id)
            self.deps.append((scope.namespace, root.id, value))
            for attr in _path(func)[1:]:  # helpers.h, np.sin: rebinding the attribute counts
                holder = self.attributes.get(id(value))
                if holder is None or holder.obj is not value:
                    holder = self.attributes[id(value)] = AttributeOf(value)
                value = getattr(value, attr)
                self.deps.append((holder, attr, value))
        return obj

    def name(self, scope: _Scope, node: gast.Name) -> gast.Name:
        """Rename a local; route a foreign global through a reference."""
        ident = node.id
        if ident in scope.local_functions and isinstance(node.ctx, gast.Load):
            raise _loc_error(scope.src, node, f"the local function {ident!r} used as a value",
                             "srcad inlines nested functions and lambdas where they are "
                             "called: call it, or pass it to a helper of yours (h(f, x), "
                             "or in a list or tuple display: h([f, np.sin], x)).")
        if ident in scope.made and isinstance(node.ctx, gast.Load):
            raise _loc_error(scope.src, node, f"{ident!r}, a function made here of local "
                             "values (a functools.partial of them, a derivative of a nested "
                             "function), used as a value", "srcad spells such a function "
                             "out where it is called: call it here.")
        if ident in scope.rename:
            return _name(scope.rename[ident], node.ctx)
        if scope.depth and isinstance(node.ctx, gast.Load) and ident in scope.source_names:
            value = scope.namespace.lookup(ident)
            if value is UNRESOLVED:
                raise _loc_error(scope.src, node, f"name {ident!r} is not defined",
                                 "Define it before the call.", NameError_)
            if (scope.foreign or ident in self.main_locals or ident in scope.namespace.cells
                    or ident in self.main.namespace.cells):    # a helper's own closure cell
                self.deps.append((scope.namespace, ident, value))
                return _name(self.ref(value, ident), node.ctx)
        return _name(ident, node.ctx)

    def passed_to_main(self, ident):
        """The function the call passes for the main function's parameter (or leaf)
        ``ident``, a name of the generated function, unless the body rebinds it; else None."""
        return self.passed.get(ident) if ident not in self.main_rebound else None

    def call(self, scope: _Scope, node, pre: list, hint):
        """A call as ANF (``Calls.call``)."""
        raise NotImplementedError

    def body(self, scope: _Scope, stmts: list) -> list:
        """A body as ANF statements (``Statements.body``)."""
        raise NotImplementedError


def _path(node) -> tuple:
    """``a.b.c`` as ``("a", "b", "c")``."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id)
    return tuple(reversed(parts))


def _is_static_root(scope, node, norm) -> bool:
    """Is this Attribute chain rooted at a module-level (non-local) name?"""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name):
        return False
    if root.id in scope.rename or (scope.depth == 0 and root.id in norm.main_locals):
        return False
    value = scope.namespace.lookup(root.id)
    return isinstance(value, types.ModuleType) or (
        value is not UNRESOLVED and isinstance(value, type))


def _is_global_ref(scope, node, norm) -> bool:
    """Is this Name or Attribute chain rooted at a name that is not local?"""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    return isinstance(root, gast.Name) and root.id not in scope.rename and not (
        scope.depth == 0 and root.id in norm.main_locals)


def _defaults(fn) -> dict:
    """Parameter -> default value of a Python function."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not p.empty}
