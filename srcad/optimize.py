"""Optimize generated code: dead-code elimination (statements whose value nobody reads) and
self-assignments, run to a fixed point. Input and output: a gast FunctionDef."""
from __future__ import annotations

import gast

__all__ = ["optimize", "drop_empty"]

_EFFECTS = {"pop", "append", "add_at", "take_and_zero", "extend", "insert"}


def _loads(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value) -> bool:
    """Evaluating ``value`` changes nothing (no tape or list operations, no in-place helper)."""
    for n in gast.walk(value):
        if isinstance(n, gast.Call):
            func = n.func
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if name in _EFFECTS:
                return False
    return True


def _targets(stmt):
    """Names a pure assignment defines, or None when the statement must stay."""
    if not isinstance(stmt, gast.Assign) or not _pure(stmt.value):
        return None
    out = []
    for t in stmt.targets:
        if isinstance(t, gast.Name):
            out.append(t.id)
        elif isinstance(t, gast.Tuple) and all(isinstance(e, gast.Name) for e in t.elts):
            out.extend(e.id for e in t.elts)
        else:
            return None
    return out


def _is_self_assign(stmt) -> bool:
    return (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Name)
            and stmt.targets[0].id == stmt.value.id)


def _sweep(stmts, keep) -> list:
    out = []
    for s in stmts:
        if _is_self_assign(s):
            continue
        names = _targets(s)
        if names is not None and not any(keep(n) for n in names):
            continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and not isinstance(s, gast.FunctionDef):
                new = _sweep(inner, keep)
                setattr(s, field, new or ([gast.Pass()] if field == "body" else []))
        out.append(s)
    return out


def _straight_line(stmts) -> list:
    """Backward liveness over the top-level statements (loops and branches kept whole)."""
    live: set = set()
    out = []
    for s in reversed(stmts):
        names = _targets(s)
        if names is not None and not any(n in live for n in names):
            continue
        if names is not None:
            live -= set(names)
        live |= _loads(s)
        if isinstance(s, (gast.For, gast.While, gast.If)):
            live |= {n.id for n in gast.walk(s) if isinstance(n, gast.Name)}
        out.append(s)
    return out[::-1]


def _nothing(s) -> bool:
    return isinstance(s, gast.Pass) or getattr(s, "srcad_comment", None) is not None


def drop_empty(stmts) -> list:
    """Without branches and loops that do nothing, and comments that precede nothing."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.For, gast.If, gast.While)):
            s.body = drop_empty(s.body)
            s.orelse = drop_empty(s.orelse)
            if not s.body and not s.orelse and not isinstance(s, gast.While):
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
            or getattr(out[i + 1], "srcad_comment", None) is None]


def optimize(fdef: gast.FunctionDef) -> gast.FunctionDef:
    """Remove dead statements until nothing changes."""
    while True:
        before = gast.dump(fdef)
        reads = set()
        for s in fdef.body:
            reads |= _loads(s)
        fdef.body = _sweep(fdef.body, lambda n: n in reads)
        fdef.body = _straight_line(fdef.body)
        fdef.body = drop_empty(fdef.body)
        if gast.dump(fdef) == before:
            return fdef
