"""Python sugar lowered to the statements the fence accepts: ``global`` declarations of names
only read, ``del`` of a name never read again, ``:=`` where it is evaluated exactly once and
first, and ``match`` on literal values.

Input: a parsed FunctionDef (the user's function or a helper), before the fence. Output: the
same function without those constructs where their meaning is kept exactly:
* ``global g`` is dropped when the function never assigns ``g`` (a read resolves to the
  module's ``g`` either way);
* ``del x`` of a plain name is dropped when no statement after it reads ``x`` (deleting
  changes nothing the function computes);
* ``(n := expr)`` in a statement's expression becomes ``n = expr`` just before the statement
  and ``n`` in its place, when it is not under a short-circuit (``and``/``or``, ``x if c else
  y``), a comprehension or a lambda (which may evaluate it never or many times), not in a
  ``while`` test (evaluated each iteration), and ``n`` is not read earlier in the statement;
* ``match subject:`` whose cases are literal values (``case 1:``, ``case 'a' | 'b':``, a
  final ``case _:``) becomes an ``if``/``elif`` chain comparing the subject, evaluated once.
Anything else of these kinds is left for the fence to refuse with its location.
"""
from __future__ import annotations

import gast

from ..naming import names_in
from ..source import Source

__all__ = ["lower_sugar"]


def lower_sugar(src: Source, fdef: gast.FunctionDef) -> None:
    """Lower the sugar of ``fdef`` in place (see the module docstring)."""
    assigned = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)
                and isinstance(n.ctx, (gast.Store, gast.Del))}
    taken = names_in(fdef)
    fdef.body = _block(fdef.body, assigned, taken, [])


def _block(stmts, assigned, taken, after) -> list:
    """``stmts`` lowered; ``after``: the statements that run after this block (for ``del``)."""
    out: list = []
    for k, stmt in enumerate(stmts):
        rest = stmts[k + 1:] + after
        if isinstance(stmt, gast.Global) and not set(stmt.names) & assigned:
            continue
        if isinstance(stmt, gast.Delete) and all(
                isinstance(t, gast.Name) and not _read_in(t.id, rest) for t in stmt.targets):
            continue
        if isinstance(stmt, gast.Match):
            lowered = _match(stmt, taken)
            if lowered is not None:
                out.extend(_block(lowered, assigned, taken, rest))
                continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if inner:
                setattr(stmt, field, _block(inner, assigned, taken,
                                            (stmt.body if isinstance(stmt, (gast.For, gast.While))
                                             else []) + rest))
        out.extend(_walrus(stmt))
        out.append(stmt)
    return out


def _read_in(name, stmts) -> bool:
    return any(isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load)
               for s in stmts for n in gast.walk(s))


# -- := ------------------------------------------------------------------------------------------

_CONDITIONAL = (gast.BoolOp, gast.IfExp, gast.Lambda, gast.ListComp, gast.SetComp,
                gast.DictComp, gast.GeneratorExp)


def _walrus(stmt) -> list:
    """Assignments hoisted out of ``stmt``'s own expressions (not its nested blocks), in
    evaluation order; each ``:=`` replaced by its name. Nothing when one cannot be hoisted
    exactly (the fence then refuses it)."""
    if isinstance(stmt, gast.While):
        return []
    exprs = [getattr(stmt, f) for f in ("value", "test", "iter", "targets") if
             getattr(stmt, f, None) is not None]
    exprs = [e for group in exprs for e in (group if isinstance(group, list) else [group])]
    hoisted: list = []
    for expr in exprs:
        hoisted += _hoist(expr)
    return hoisted


def _hoist(expr) -> list:
    found = []
    seen_reads: set = set()
    calls: list = []    # calls evaluated before: hoisting past them could reorder effects

    def visit(node, conditional):
        if isinstance(node, gast.NamedExpr):
            before = len(calls)
            visit(node.value, conditional)
            if not conditional and not before and node.target.id not in seen_reads:
                found.append(node)
            return
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            seen_reads.add(node.id)
        for child in gast.iter_child_nodes(node):
            visit(child, conditional or isinstance(node, _CONDITIONAL))
        if isinstance(node, gast.Call):
            calls.append(node)

    visit(expr, False)
    out = []
    for named in found:
        out.append(gast.copy_location(gast.Assign(
            targets=[gast.Name(id=named.target.id, ctx=gast.Store(), annotation=None,
                               type_comment=None)],
            value=named.value, type_comment=None), named))
        _replace(expr, named, gast.Name(id=named.target.id, ctx=gast.Load(), annotation=None,
                                        type_comment=None))
    return out


def _replace(root, old, new) -> None:
    for node in gast.walk(root):
        for field, value in gast.iter_fields(node):
            if value is old:
                setattr(node, field, gast.copy_location(new, old))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = gast.copy_location(new, old)


# -- match -----------------------------------------------------------------------------------------

def _match(stmt, taken):
    """An ``if``/``elif`` chain for a ``match`` of literal values, or None."""
    tests = []
    for case in stmt.cases:
        if case.guard is not None:
            return None
        values = _literals(case.pattern)
        if values is None:
            return None
        tests.append((values, case.body))
    subject = stmt.subject
    pre = []
    if not isinstance(subject, (gast.Name, gast.Constant)):
        name = _fresh("_match_subject", taken)
        pre.append(gast.copy_location(gast.Assign(
            targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=subject, type_comment=None), stmt))
        subject = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    chain: list = []
    for values, body in reversed(tests):
        if values == "wildcard":
            chain = body
            continue
        compares = [gast.Compare(left=_copy(subject), ops=[gast.Eq()], comparators=[v])
                    for v in values]
        test = compares[0] if len(compares) == 1 else gast.BoolOp(op=gast.Or(),
                                                                   values=compares)
        chain = [gast.copy_location(gast.If(test=test, body=body, orelse=chain), stmt)]
    return pre + (chain or [gast.copy_location(gast.Pass(), stmt)])


def _literals(pattern):
    """The literal values a pattern matches (a list of nodes), "wildcard" for ``case _``, or
    None for any other pattern."""
    if isinstance(pattern, gast.MatchAs) and pattern.pattern is None and pattern.name is None:
        return "wildcard"
    if isinstance(pattern, gast.MatchValue) and isinstance(pattern.value, gast.Constant):
        return [pattern.value]
    if isinstance(pattern, gast.MatchSingleton):
        return [gast.Constant(value=pattern.value, kind=None)]
    if isinstance(pattern, gast.MatchOr):
        out = []
        for p in pattern.patterns:
            values = _literals(p)
            if values is None or values == "wildcard":
                return None
            out += values
        return out
    return None


def _copy(node):
    return gast.Name(id=node.id, ctx=gast.Load(), annotation=None, type_comment=None) if \
        isinstance(node, gast.Name) else gast.Constant(value=node.value, kind=None)


def _fresh(base, taken) -> str:
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name
