"""Analysis of ANF code: which statements are differentiable, what each defines and uses, and
the one activity analysis (varied: depends on a wrt input; useful: the output depends on it).

Flow-insensitive over the whole function (loop-carried dependences are covered by iterating to
a fixed point), which is conservative: a variable marked active that is not is only extra work,
never a wrong derivative.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import gast

from . import registry

__all__ = ["Activity", "activity", "is_differentiable", "uses", "defines", "walk_statements",
           "primitive_call", "list_names"]


def walk_statements(body):
    """Every statement, recursively, in source order."""
    for stmt in body:
        yield stmt
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from walk_statements(inner)


def _names(node) -> set:
    if node is None:
        return set()
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def defines(stmt) -> set:
    """Names a statement (re)binds or mutates."""
    if isinstance(stmt, gast.Assign):
        out = set()
        for t in stmt.targets:
            if isinstance(t, gast.Name):
                out.add(t.id)
            elif isinstance(t, gast.Tuple):
                out |= {e.id for e in t.elts}
            elif isinstance(t, gast.Subscript):
                out.add(t.value.id)
        popped = getattr(stmt.value, "srcad_pop", None)
        if popped is not None:
            out.add(popped)                     # v = lst.pop() shortens lst
        return out
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        return {stmt.value.func.value.id}       # lst.append(v)
    if isinstance(stmt, gast.For):
        return {stmt.target.id}
    return set()


def uses(stmt) -> set:
    """Names whose values flow (differentiably or not) into what the statement defines."""
    if isinstance(stmt, gast.Assign):
        out = _names(stmt.value)
        for t in stmt.targets:
            if isinstance(t, gast.Subscript):
                out |= _names(t.slice) | {t.value.id}
        return out
    if isinstance(stmt, gast.Expr):
        return _names(stmt.value)
    if isinstance(stmt, gast.For):
        return _names(stmt.iter)
    if isinstance(stmt, gast.Return):
        return _names(stmt.value)
    return set()


def is_differentiable(value) -> bool:
    """Can derivative information flow through this ANF right-hand side?"""
    if getattr(value, "srcad_opaque", False):
        return False
    if isinstance(value, (gast.Compare, gast.BoolOp, gast.Constant)):
        return False
    if isinstance(value, gast.BinOp):
        return not isinstance(value.op, gast.FloorDiv)
    if isinstance(value, gast.UnaryOp):
        return isinstance(value.op, (gast.USub, gast.UAdd))
    if isinstance(value, gast.Call):
        rule = registry.lookup(getattr(value, "srcad_callee", None))
        return rule is None or not rule.nondiff
    return True


def _flow_sources(stmt) -> set:
    """Names whose derivatives flow into what ``stmt`` defines."""
    if isinstance(stmt, gast.Assign):
        out = set()
        if is_differentiable(stmt.value):
            if isinstance(stmt.value, gast.Subscript):
                out |= _names(stmt.value.value)
            else:
                out |= _names(stmt.value)
        for t in stmt.targets:
            if isinstance(t, gast.Subscript):
                out.add(t.value.id)
        return out
    if isinstance(stmt, gast.Expr):
        return _names(stmt.value)
    return set()


@dataclass
class Activity:
    varied: set
    useful: set

    @property
    def active(self) -> set:
        return self.varied & self.useful

    def is_active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def activity(fdef: gast.FunctionDef, wrt_names: list[str]) -> Activity:
    stmts = [s for s in walk_statements(fdef.body)
             if isinstance(s, (gast.Assign, gast.Expr))]
    flows = [(defines(s), _flow_sources(s)) for s in stmts]
    varied = set(wrt_names)
    changed = True
    while changed:
        changed = False
        for targets, sources in flows:
            if sources & varied and not targets <= varied:
                varied |= targets
                changed = True
    useful = set()
    for s in walk_statements(fdef.body):
        if isinstance(s, gast.Return):
            useful |= _names(s.value)
    changed = True
    while changed:
        changed = False
        for targets, sources in flows:
            if targets & useful and not sources <= useful:
                useful |= sources
                changed = True
    return Activity(varied=varied, useful=useful)


_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
           gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
           gast.Mod: operator.mod, gast.FloorDiv: operator.floordiv}
_UNOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos}


def primitive_call(value):
    """The primitive an ANF right-hand side applies: (callable, [arg atoms], {kw: atom}), or
    None when the value is not a primitive application (a name, a literal, a list display,
    an opaque or boolean expression)."""
    if getattr(value, "srcad_opaque", False):
        return None
    if isinstance(value, gast.BinOp):
        return _BINOPS.get(type(value.op)), [value.left, value.right], {}
    if isinstance(value, gast.UnaryOp) and type(value.op) in _UNOPS:
        return _UNOPS[type(value.op)], [value.operand], {}
    if isinstance(value, gast.Subscript):
        return operator.getitem, [value.value, value.slice], {}
    if isinstance(value, gast.Call) and hasattr(value, "srcad_callee"):
        return (value.srcad_callee, list(value.args),
                {k.arg: k.value for k in value.keywords})
    return None


def list_names(fdef) -> set:
    """Names that hold Python lists (or tuples) of values: their derivatives are lists too."""
    out = set()
    for stmt in walk_statements(fdef.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            value = stmt.value
            if isinstance(value, (gast.List, gast.Tuple)):
                out.add(stmt.targets[0].id)
            elif isinstance(value, gast.Call):
                rule = registry.lookup(getattr(value, "srcad_callee", None))
                if rule is not None and rule.extra.get("returns_list"):
                    out.add(stmt.targets[0].id)
    return out
