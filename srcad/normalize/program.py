"""The output of normalize, and the helpers its modules share.

``Program``: a normalized FunctionDef (ANF, see ``srcad.normalize``) with what the later
stages need: the namer, the objects generated code refers to (``refs``, ``ref``) and the
dependencies the cache checks (``deps``). ``default_nodes`` gives a transformed function the
default values of the user's. Input: nothing of its own; output: gast nodes and errors
located at the user's source.
"""
from __future__ import annotations

import copy

import gast

from ..errors import SrcadSyntaxError
from ..naming import Namer
from ..nodes import walk
from ..source import Source
from ..template import constant_node

__all__ = ["Program", "default_nodes", "assigned_names"]


class Program:
    """A normalized function plus what the later stages need to know about it."""

    output = None       # set by normalize: the structure of a returned container (its leaves
    #                     are returned as a tuple; trees.structure's form), else None

    def __init__(self, source: Source, node: gast.FunctionDef, namer: Namer, refs: dict,
                 deps: list, ref, origins: dict | None = None):
        self.source = source
        self.ref = ref        # (object, preferred name) -> name bound to it in generated code
        self.node = node
        self.namer = namer
        self.refs = refs      # generated-code name -> object it must be bound to
        self.deps = deps      # (namespace, name, object) resolved at build time
        self.origins = origins or {}    # a helper's renamed local -> "'u' in helper g"

    def describe(self, ident: str) -> str:
        """``ident`` as the user wrote it, for messages (a helper's locals are renamed)."""
        return self.origins.get(ident, repr(ident))

    @property
    def params(self) -> list[str]:
        a = self.node.args
        return [p.id for p in a.posonlyargs + a.args + a.kwonlyargs]


def default_nodes(program, fdef):
    """Set ``fdef``'s defaults to the function's actual default values (literals, or names
    bound to the values), so the generated function never re-evaluates default expressions
    in a scope it does not have."""
    fn = program.source.fn
    values = fn.__defaults__ or ()
    names = [a.id for a in fdef.args.args][-len(values):] if values else []
    fdef.args.defaults = [_literal_or_ref(program, v, n) for v, n in zip(values, names)]
    kw = fn.__kwdefaults__ or {}
    fdef.args.kw_defaults = [
        _literal_or_ref(program, kw[a.id], a.id) if a.id in kw else d
        for a, d in zip(fdef.args.kwonlyargs, fdef.args.kw_defaults)]


def _literal_or_ref(norm, value, pname):
    if value is None or isinstance(value, (bool, int, float, str)):
        return constant_node(value)
    if isinstance(value, tuple) and all(v is None or isinstance(v, (bool, int, float, str))
                                        for v in value):
        return constant_node(value)
    return _name(norm.ref(value, pname + "_default"), gast.Load())


def assigned_names(fdef) -> set:
    """Names bound in ``fdef`` (a FunctionDef: its parameters too; or a list of statements)."""
    out = set()
    for stmt in fdef if isinstance(fdef, list) else [fdef]:
        for n in walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
                out.add(n.id)
    if not isinstance(fdef, list):
        for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
            out.add(a.id)
    return out


def _loc_error(src: Source, node, message: str, hint: str, cls=SrcadSyntaxError):
    return cls(message, src.location(node), hint)


class NameError_(SrcadSyntaxError):
    pass


class TypeError_(SrcadSyntaxError):
    pass


def _dotted(node) -> str:
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return "<expr>"


def _as_written(node) -> str:
    """A user's expression as its source writes it, quoted (for messages)."""
    import ast
    return repr(ast.unparse(gast.gast_to_ast(copy.deepcopy(node))))


def _name(ident, ctx):
    return gast.Name(id=ident, ctx=ctx, annotation=None, type_comment=None)


def _has(stmts, cls) -> bool:
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, cls):
                return True
    return False


def _jump_in(body):
    """A ``return`` in ``body``, or a ``break``/``continue`` of a loop around it; else None."""
    for stmt in body:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Return):
                return node
        if isinstance(stmt, (gast.Break, gast.Continue)):
            return stmt
        if isinstance(stmt, (gast.If, gast.With, gast.Try)):
            found = _jump_in(stmt.body + getattr(stmt, "orelse", []) + getattr(
                stmt, "finalbody", []) + [s for h in getattr(stmt, "handlers", []) for s in
                                          h.body])
            if found is not None:
                return found
    return None
