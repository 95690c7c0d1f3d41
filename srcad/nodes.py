"""gast node builders shared by the transformers and the optimizer (names, assignments, calls,
attributes, comments), ``drop_empty``, the clean-up of statements that do nothing, and
``walk``, the fast walk of a tree every stage uses (``analysis.walk`` is this one), and
``Transformer``, a faster ``gast.NodeTransformer`` that skips the same leaves."""
from __future__ import annotations

import gast

from .naming import COMMENT_MARK

__all__ = ["walk", "Transformer", "name", "assign", "call", "attr", "loads", "comment", "COMMENT_MARK",
           "drop_empty"]


def walk(node, parents: dict | None = None):
    """Every node of a gast tree but the expression contexts and operators (a faster
    ``gast.walk``: every stage walks a lot). Not looked into (``_CHILD_FIELDS``): the fields
    that only ever hold a string or a literal, and those that only ever hold a context or
    an operator (``ctx``, ``op``, ``ops``: ``Load()``, ``Add()``, ``Lt()``, leaves a third
    of a tree's nodes, which callers read through their parent, ``n.ctx``, ``n.op``, and
    never look for). The order is not ``gast.walk``'s (a stack, not a queue): a caller
    whose result depends on the order (the first match) walks with ``gast.walk``.
    ``parents``, when given, gets id(node) -> its parent for every node yielded below
    ``node``."""
    stack = [node]
    pop, push = stack.pop, stack.append
    AST = gast.AST
    table = _CHILD_FIELDS
    while stack:
        n = pop()
        yield n
        fields = table.get(n.__class__)
        if fields is None:
            fields = _child_fields(n.__class__)
        for field in fields:
            value = getattr(n, field, None)
            if value is None:
                continue
            if value.__class__ is list:
                for v in value:
                    if isinstance(v, AST):
                        push(v)
                        if parents is not None:
                            parents[id(v)] = n
            elif isinstance(value, AST):
                push(value)
                if parents is not None:
                    parents[id(value)] = n


# fields gast declares as a string, an identifier or a literal value (never a node), and
# those holding only an expression context or operators (nodes without children)
_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})
_SCALAR_FIELDS = {gast.Name: {"id", "type_comment"}, gast.Attribute: {"attr"},
                  gast.keyword: {"arg"}, gast.Constant: {"value", "kind"},
                  gast.FunctionDef: {"name", "type_comment"},
                  gast.AsyncFunctionDef: {"name", "type_comment"},
                  gast.Assign: {"type_comment"}, gast.For: {"type_comment"},
                  gast.alias: {"name", "asname"}, gast.ImportFrom: {"module", "level"}}
_CHILD_FIELDS: dict = {}


def _child_fields(cls) -> tuple:
    skip = _SCALAR_FIELDS.get(cls, frozenset()) | _LEAF_FIELDS
    fields = tuple(f for f in cls._fields if f not in skip)
    _CHILD_FIELDS[cls] = fields
    return fields


class Transformer(gast.NodeTransformer):
    """``gast.NodeTransformer`` with the same results, faster: ``visit`` finds a node class's
    ``visit_<Class>`` method once per transformer class (cached on that class), and
    ``generic_visit`` goes into the fields ``walk`` goes into only (a context or an operator
    is a leaf no transformer rewrites: a subclass must not define ``visit_Load``,
    ``visit_Add``, ...). As there, a visit returning None drops the node (from a list, or
    deletes the field) and one returning a list splices it into a list."""

    def visit(self, node):
        cls = self.__class__
        table = cls.__dict__.get("_srcad_visitors")
        if table is None:
            table = {}
            setattr(cls, "_srcad_visitors", table)
        method = table.get(node.__class__)
        if method is None:
            method = table[node.__class__] = getattr(
                cls, "visit_" + node.__class__.__name__, cls.generic_visit)
        return method(self, node)

    def generic_visit(self, node):
        fields = _CHILD_FIELDS.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        AST = gast.AST
        for field in fields:
            old = getattr(node, field, None)
            if isinstance(old, list):
                old[:] = self.visit_list(old)
            elif isinstance(old, AST):
                new = self.visit(old)
                if new is None:
                    delattr(node, field)
                else:
                    setattr(node, field, new)
        return node

    def visit_list(self, values: list) -> list:
        """The items of a list field, visited: a visit returning None drops its item, one
        returning a list splices it in (items that are not nodes are kept)."""
        out = []
        AST = gast.AST
        for value in values:
            if isinstance(value, AST):
                value = self.visit(value)
                if value is None:
                    continue
                if not isinstance(value, AST):
                    out.extend(value)
                    continue
            out.append(value)
        return out


def name(ident, ctx=None):
    return gast.Name(id=ident, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def assign(target, value):
    """``target = value``; a string target is a name."""
    if isinstance(target, str):
        target = name(target, gast.Store())
    return gast.Assign(targets=[target], value=value, type_comment=None)


def call(func, *args):
    return gast.Call(func=func, args=list(args), keywords=[])


def attr(value, attribute):
    return gast.Attribute(value=value, attr=attribute, ctx=gast.Load())


def loads(node) -> set:
    """The names a tree reads."""
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def comment(text: str) -> gast.Expr:
    """A statement that becomes the line ``# text``."""
    node = gast.Expr(value=gast.Name(id=COMMENT_MARK, ctx=gast.Load(), annotation=None,
                                     type_comment=None))
    node.srcad_comment = text
    return node


def drop_empty(stmts, keep_targets=frozenset()) -> list:
    """Without branches and loops that do nothing, and comments that precede nothing (a
    loop whose target is in ``keep_targets`` still binds it, so it stays)."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.For, gast.If, gast.While)):
            s.body = drop_empty(s.body, keep_targets)
            s.orelse = drop_empty(s.orelse, keep_targets)
            binds = isinstance(s, gast.For) and getattr(s.target, "id", None) in keep_targets
            if not s.body and not s.orelse and not isinstance(s, gast.While) and not binds:
                continue
            if isinstance(s, gast.If) and not s.body:
                s.test = gast.UnaryOp(op=gast.Not(), operand=s.test)
                s.body, s.orelse = s.orelse, []
            s.body = s.body or [gast.Pass()]
        if not isinstance(s, gast.Pass):
            out.append(s)
    while out and getattr(out[-1], "srcad_comment", None) is not None:
        out.pop()
    return [s for i, s in enumerate(out) if getattr(s, "srcad_comment", None) is None
            or not (getattr(out[i + 1], "srcad_comment", None) is not None
                    or isinstance(out[i + 1], gast.Return))]
