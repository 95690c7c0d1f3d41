"""The generic fixed point, ``optimize``: copy propagation, peepholes, dead code.

Input: a FunctionDef that compiles (transformed, not yet specialized for shapes). Output: the
same function computing the same values, where ``a = b`` copies used later in the same block
are propagated (never past a rebinding of ``b``), ``b = e1; b = b + e2`` is one statement,
every statement whose values nobody reads is gone (straight-line liveness, loops and branches
whole) and the peepholes (``peephole``) ran on every statement, until nothing changes.
"""
from __future__ import annotations

import gast

from ..analysis import walk
from ..nodes import drop_empty
from .aliases import _written
from .peephole import _peepholes, _replace_name
from .tree import Facts, _loads, _number, _pure, _statements_in

__all__ = ["optimize"]


def optimize(fdef: gast.FunctionDef, np_name: str = "np") -> gast.FunctionDef:
    """Peepholes and copy propagation, then dead statements until nothing changes. Each
    round asks ``facts`` what the statements read and bind: a statement is walked again only
    after a rewrite changed it (``Facts.forget``), and the peepholes skip statements they
    found nothing in since."""
    facts = Facts()
    written = _written(fdef, np_name, facts)    # (copies propagated are already joined in it)
    while True:
        stores, loads = facts.counts(fdef)
        fdef.body = _propagate_copies(fdef.body, stores, loads, facts)
        _peepholes(fdef, written, np_name, facts)
        before = _count_statements(fdef.body)
        reads: set = set()
        for s in fdef.body:
            reads.update(facts.loads(s))
        fdef.body = _sweep(fdef.body, lambda n: n in reads, facts)
        fdef.body = _straight_line(fdef.body, facts)
        fdef.body = drop_empty(fdef.body, _read_outside_own_loops(fdef, facts))
        if _count_statements(fdef.body) == before:     # dead code removal found nothing
            return fdef


def _targets(stmt, pure=None):
    """Names a pure assignment defines, or None when the statement must stay (``n += e``
    defines ``n`` too: a counter nobody reads is dead, and so is its initialization).
    ``pure``: is the whole statement ``_pure``, when known (``Facts``): where the answer is
    not None its targets are names, which call nothing, so it is its value's purity."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name) and (
            _pure(stmt.value) if pure is None else pure):
        return [stmt.target.id]
    if not isinstance(stmt, gast.Assign) or not (_pure(stmt.value) if pure is None else pure):
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


def _sweep(stmts, keep, facts) -> list:
    out = []
    for s in stmts:
        if _is_self_assign(s):
            continue
        names = facts.targets(s, _targets)
        if names is not None and not any(keep(n) for n in names):
            continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and not isinstance(s, gast.FunctionDef):
                new = _sweep(inner, keep, facts)
                setattr(s, field, new or ([gast.Pass()] if field == "body" else []))
        out.append(s)
    return out


def _compound_targets(stmt, facts):
    """Names a loop or branch binds when it does nothing else (pure assignments, jumps and
    comments only), or None: such a statement is dead when none of them is read after it."""
    out = []
    for n in _statements_in(stmt):
        if isinstance(n, (gast.For, gast.While, gast.If, gast.Break, gast.Continue,
                          gast.Pass)) or getattr(n, "srcad_comment", None) is not None:
            if isinstance(n, gast.For):
                if not isinstance(n.target, gast.Name):
                    return None
                out.append(n.target.id)
        else:
            names = facts.targets(n, _targets)
            if names is None:
                return None
            out.extend(names)
    return out


def _straight_line(stmts, facts) -> list:
    """Backward liveness over the top-level statements (a loop or branch is dropped whole
    when it only binds names nobody reads after it, else kept whole)."""
    live: set = set()
    out = []
    for s in reversed(stmts):
        if isinstance(s, (gast.For, gast.While, gast.If)):
            names = _compound_targets(s, facts)
            if names is not None and not any(n in live for n in names):
                continue
        names = facts.targets(s, _targets)
        if names is not None and not any(n in live for n in names):
            continue
        if names is not None and not isinstance(s, gast.AugAssign):
            live -= set(names)          # n += e reads n: it stays live
        live.update(facts.loads(s))
        if isinstance(s, (gast.For, gast.While, gast.If)):
            live |= facts.names(s)
        out.append(s)
    return out[::-1]


def _summary(stmt, memo, facts):
    """(name -> number of occurrences, names bound) of a statement, memoized by identity
    (a simple statement in ``facts``, a loop or branch in this block's ``memo``)."""
    key = id(stmt)
    if key not in memo:
        memo[key] = facts.summary(stmt)
    return memo[key]


def _propagate_copies(stmts, stores, loads, facts) -> list:
    """Within one block, ``a = b`` followed by uses of ``a`` -> uses of ``b``, when ``a`` is
    assigned only there, every use of ``a`` follows in the same block, and ``b`` is not
    rebound after the copy in that block."""
    out = list(stmts)
    memo: dict = {}
    i = 0
    while i < len(out):
        s = out[i]
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner:
                setattr(s, field, _propagate_copies(inner, stores, loads, facts))
        nxt = out[i + 1] if i + 1 < len(out) else None
        if (isinstance(s, gast.Assign) and isinstance(nxt, gast.Assign)
                and len(s.targets) == len(nxt.targets) == 1
                and isinstance(s.targets[0], gast.Name) and isinstance(nxt.targets[0], gast.Name)
                and s.targets[0].id == nxt.targets[0].id and isinstance(nxt.value, gast.BinOp)
                and isinstance(nxt.value.op, gast.Add) and isinstance(nxt.value.left, gast.Name)
                and nxt.value.left.id == s.targets[0].id
                and s.targets[0].id not in _loads(nxt.value.right)
                and not getattr(s, "srcad_restore", None)):
            # b = e1; b = b + e2  ->  b = e1 + e2
            nxt.value.left = s.value
            memo.pop(id(nxt), None)
            facts.forget(nxt)
            stores[s.targets[0].id] -= 1
            loads[s.targets[0].id] = loads.get(s.targets[0].id, 1) - 1
            del out[i]
            continue
        constant = _number(s.value) is not None if isinstance(s, gast.Assign) else False
        if (isinstance(s, gast.Assign) and len(s.targets) == 1
                and isinstance(s.targets[0], gast.Name)
                and (isinstance(s.value, gast.Name) or constant)
                and stores.get(s.targets[0].id) == 1):
            a = s.targets[0].id
            b = s.value.id if isinstance(s.value, gast.Name) else None
            # the statements up to the last use of a (``loads`` counts every read of a in the
            # function: once that many are found, none follows; what comes after cannot stop
            # the copy), so each copy costs the length of its live range, not of the block
            wanted = loads.get(a, 0)
            count, last, j = 0, -1, i + 1
            summaries = []
            while count < wanted and j < len(out):
                summaries.append(_summary(out[j], memo, facts))
                found = summaries[-1][0].get(a, 0)
                if found:
                    count += found
                    last = j - i - 1
                j += 1
            rest = range(i + 1, j)

            def rebinds(k, j, stored):
                """Does out[j] change b while a is still read (b = a keeps them equal; a
                simple statement reads before it writes)?"""
                compound = isinstance(out[j], (gast.For, gast.While, gast.If))
                return b in stored and not _copies(out[j], b, a) and (
                    k < last or (k == last and compound))
            rebinds_b = b is not None and any(
                rebinds(k, j, stored) for k, (j, (_, stored)) in enumerate(zip(rest, summaries)))
            if not rebinds_b and count == loads.get(a, 0):
                for j, (found, _) in zip(rest, summaries):
                    if a not in found:
                        continue
                    memo.pop(id(out[j]), None)
                    facts.forget(out[j])
                    if b is None:                  # a = 2.0: the literal replaces a
                        _replace_name(out[j], a, s.value)
                    else:
                        for n in walk(out[j]):
                            if isinstance(n, gast.Name) and n.id == a:
                                n.id = b
                if b is not None:
                    loads[b] = loads.get(b, 0) + count
                loads[a] = 0
                del out[i]
                continue
        i += 1
    return out


def _copies(stmt, target, source) -> bool:
    """Is ``stmt`` exactly ``target = source``?"""
    return (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id == target
            and isinstance(stmt.value, gast.Name) and stmt.value.id == source)


def _read_outside_own_loops(fdef, facts) -> set:
    """Loop targets read somewhere other than inside a loop that binds them itself."""
    out: set = set()
    _reads_outside(fdef.body, frozenset(), facts, out)
    return out


def _reads_outside(stmts, bound, facts, out: set) -> None:
    """``_read_outside_own_loops`` of a block, inside loops binding ``bound``, into ``out``
    (a function of its own: a closure calling itself is a reference cycle, which kept
    ``facts`` and every statement it holds alive until the garbage collector ran)."""
    for s in stmts:
        if isinstance(s, gast.For):
            out.update(_loads(s.iter) - bound)
            _reads_outside(s.body, bound | {getattr(s.target, "id", None)}, facts, out)
            _reads_outside(s.orelse, bound, facts, out)
        elif isinstance(s, (gast.If, gast.While)):
            out.update(_loads(s.test) - bound)
            _reads_outside(s.body, bound, facts, out)
            _reads_outside(s.orelse, bound, facts, out)
        else:
            out.update(n for n in facts.loads(s) if n not in bound)


def _count_statements(stmts) -> int:
    total = 0
    for s in stmts:
        total += 1
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                total += _count_statements(inner)
    return total
