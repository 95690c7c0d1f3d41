"""``inline_temporaries``: single-use temporaries nested into their use, so the code reads like
the user's (``h = np.tanh(X @ W1 + b1)``) and the intermediate array is freed once used.

Input: an optimized FunctionDef and the names the user wrote. Output: the same values, where
``_t = e`` (a srcad temporary or its adjoint/tangent, ``b_t``, ``d_t``) read once later in the
same block is written into that read; only pure, movable expressions move, across
straight-line code only, past nothing that rebinds or mutates what they read, up to
``_MAX_NESTED_OPS`` operations in one statement.
"""
from __future__ import annotations

import gast

from ..analysis import walk
from .tree import _blocks, _helper_name, _loads, _name_counts, _parents, _pure, _replace_child

__all__ = ["inline_temporaries"]

_MAX_NESTED_OPS = 4


def inline_temporaries(fdef: gast.FunctionDef, user_names: set) -> gast.FunctionDef:
    """``_t = e`` (a srcad temporary, or its derivative: ``b_t``, ``d_t``) used once, later in
    the same block, is written into its use:
    ``h = np.tanh(X @ W1 + b1)`` rather than three statements. The code reads like the
    user's, and the intermediate array is freed as soon as it is used, as in a hand-written
    gradient, instead of living until the function returns. Only srcad's own temporaries
    (``_``-names the user did not write) are nested, only straight-line code is crossed, only
    pure expressions are moved, and past nothing that rebinds or mutates what they read."""
    stores, loads = _name_counts(fdef)

    def temporary(s):
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
                s.targets[0], gast.Name)):
            return None
        t = s.targets[0].id
        if not _temporary(t) or t in user_names or stores.get(t) != 1 or loads.get(t) != 1:
            return None
        if not t.startswith("_") and any(_helper_name(n) for n in walk(s.value)):
            return None         # a derivative through a runtime helper keeps its name
        return t if _pure(s.value) and _movable(s.value) and not getattr(
            s, "srcad_restore", None) else None

    for stmts in _blocks(fdef.body):
        i = 0
        while i < len(stmts):
            t = temporary(stmts[i])
            if t is not None and _nest(stmts, i, t):
                del stmts[i]
                continue
            i += 1
    return fdef


def _movable(value) -> bool:
    """May ``value`` be evaluated later than written? Not if it calls a function srcad has
    no rule for (``np.random.rand``: moving a draw past another changes both)."""
    import math

    from .. import registry
    for n in walk(value):
        callee = getattr(n, "srcad_callee", None) if isinstance(n, gast.Call) else None
        if callee is not None and registry.lookup(callee) is None and not (
                getattr(callee, "__module__", None) == "math" or callee in (
                    len, float, int, abs, min, max, range) or callee is math.pi):
            return False
    return True


def _temporary(name) -> bool:
    """Is ``name`` one of srcad's temporaries (``_mul``) or the adjoint or tangent of one
    (``b_mul``, ``d_mul``)?"""
    return name.startswith(("_", "b_", "d_"))


def _nest(stmts, i, t) -> bool:
    """Move the value of ``stmts[i]`` (``t = e``) into the one later use of ``t`` in this
    block, when nothing between them can change what ``e`` reads. True when moved."""
    value = stmts[i].value
    reads = _loads(value)
    for j in range(i + 1, len(stmts)):
        s = stmts[j]
        if getattr(s, "srcad_comment", None) is not None or _pushes_other(s, reads):
            continue
        if not isinstance(s, (gast.Assign, gast.Return)) or s.value is None:
            return False                          # control flow, tape pushes: stop here
        uses = [n for n in walk(s.value) if isinstance(n, gast.Name) and n.id == t]
        if uses:
            target_reads = {n.id for tg in getattr(s, "targets", []) for n in walk(tg)
                            if isinstance(n, gast.Name)}
            if not _pure(s.value) or t in target_reads or _ops(s.value) + _ops(
                    value) > _MAX_NESTED_OPS:
                return False
            _replace_child(_parents(s)[id(uses[0])], uses[0], value)
            return True
        if not _pure(s.value) or _binds(s) & reads or _receivers(s.value) & reads or any(
                not isinstance(tg, gast.Name) for tg in getattr(s, "targets", [])):
            return False          # x[i] = v writes into x and every view of it: stop there
    return False


def _pushes_other(stmt, reads) -> bool:
    """Is ``stmt`` ``lst.append(atom)`` (a tape push) for a list ``lst`` not in ``reads``?"""
    value = stmt.value if isinstance(stmt, gast.Expr) else None
    return (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
            and value.func.attr == "append" and isinstance(value.func.value, gast.Name)
            and value.func.value.id not in reads and len(value.args) == 1
            and isinstance(value.args[0], (gast.Name, gast.Constant)) and not value.keywords)


def _ops(node) -> int:
    return sum(isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Call, gast.Subscript,
                              gast.Compare)) for n in walk(node))


def _binds(stmt) -> set:
    """Names an assignment rebinds or writes into (``x = ...``, ``x[i] = ...``)."""
    out = set()
    for tg in getattr(stmt, "targets", []):
        for n in walk(tg):
            if isinstance(n, gast.Name):
                out.add(n.id)
    return out


def _receivers(value) -> set:
    """Names whose methods a value calls (``a.sort()`` may change ``a``)."""
    return {n.func.value.id for n in walk(value) if isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name)}
