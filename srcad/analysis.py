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

__all__ = ["walk", "Activity", "activity", "is_differentiable", "defines",
           "walk_statements",
           "primitive_call", "list_names", "ranks", "aliased_writes", "anf_violations"]


def walk(node):
    """Every node of a gast tree (a faster ``gast.walk``: the optimizer walks a lot)."""
    stack = [node]
    AST = gast.AST
    while stack:
        n = stack.pop()
        yield n
        for field in n._fields:
            value = getattr(n, field, None)
            if isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, AST))
            elif isinstance(value, AST):
                stack.append(value)


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
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
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


# -- ranks: what is known of each value's number of dimensions -------------------------------

_MISSING = object()
_REDUCTIONS = ("sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum",
               "nanmean", "nanmax", "nanmin", "average", "norm")


def ranks(fdef, param_ranks: dict) -> dict:
    """name -> its number of dimensions (0 for Python and NumPy scalars), when the same for
    every assignment to it; absent when unknown. ``param_ranks`` gives the parameters'
    (from the argument kinds a derivative is specialized for)."""
    known = {k: v for k, v in param_ranks.items() if v is not None}
    unknown: set = {k for k, v in param_ranks.items() if v is None}
    stmts = list(walk_statements(fdef.body))
    changed = True
    while changed:
        changed = False
        for stmt in stmts:
            for name, rank in _assigned_ranks(stmt, known):
                if name in unknown:
                    continue
                old = known.get(name, _MISSING)
                if rank is None or (old is not _MISSING and old != rank):
                    unknown.add(name)
                    known.pop(name, None)
                    changed = True
                elif old is _MISSING:
                    known[name] = rank
                    changed = True
    return known


def _assigned_ranks(stmt, known):
    if isinstance(stmt, gast.For):
        it = stmt.iter
        return [(stmt.target.id, 0 if _is_range(it, known) else None)]
    if not isinstance(stmt, gast.Assign):
        return []
    target = stmt.targets[0]
    if isinstance(target, gast.Name):
        return [(target.id, value_rank(stmt.value, known))]
    if isinstance(target, gast.Tuple):
        return [(e.id, None) for e in target.elts]
    return []           # x[i] = v keeps x's rank


def _is_range(node, known) -> bool:
    return isinstance(node, gast.Name) and known.get(node.id) == "range"


def value_rank(value, known):
    """The rank of an ANF right-hand side, or None when unknown."""
    if isinstance(value, gast.Constant):
        return 0 if isinstance(value.value, (int, float)) else None
    if isinstance(value, gast.Name):
        return known.get(value.id)
    if isinstance(value, gast.UnaryOp):
        return value_rank(value.operand, known)
    if isinstance(value, (gast.BinOp, gast.Compare)):
        operands = [value.left, value.right] if isinstance(value, gast.BinOp) else \
            [value.left] + list(value.comparators)
        rs = [value_rank(o, known) for o in operands]
        if any(not isinstance(r, int) for r in rs):
            return None
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            a, b = rs
            if a == 0 or b == 0:
                return None
            return 0 if a == b == 1 else (b - 1 if a == 1 else a - 1 if b == 1 else max(a, b))
        return max(rs)
    if isinstance(value, gast.Subscript):
        base = value.value
        rank = known.get(base.id) if isinstance(base, gast.Name) else None
        if rank == "floats":            # an element of a list of floats
            item = value.slice
            return 0 if not isinstance(item, (gast.Slice, gast.Tuple)) and value_rank(
                item, known) == 0 else None
        if not isinstance(rank, int):
            return None
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        for item in items:
            if isinstance(item, gast.Slice):
                continue
            if isinstance(item, gast.Constant) and item.value is None:
                rank += 1
            elif value_rank(item, known) == 0 and not (
                    isinstance(item, gast.Constant) and item.value is Ellipsis):
                rank -= 1
            else:
                return None
        return rank if rank >= 0 else None
    if isinstance(value, gast.Call):
        return _call_rank(value, known)
    return None


def _call_rank(call, known):
    import math as _math

    fn = getattr(call, "srcad_callee", None)
    if fn is range:
        return "range"
    if fn in (len, int, float) or getattr(fn, "__module__", None) == "math" or (
            fn is not None and getattr(_math, getattr(fn, "__name__", ""), None) is fn):
        return 0
    rule = registry.lookup(fn) if fn is not None else None
    args = list(call.args)
    if rule is not None and rule.extra.get("elementwise"):
        rs = [value_rank(a, known) for a in args]
        if any(not isinstance(r, int) for r in rs) or call.keywords:
            return None
        return max(rs) if rs else None
    name = getattr(fn, "__name__", "")
    if name in _REDUCTIONS and getattr(fn, "__module__", "").startswith("numpy"):
        keywords = {k.arg: k.value for k in call.keywords}
        axis = keywords.get("axis", args[1] if len(args) > 1 and name != "norm" else None)
        keep = keywords.get("keepdims")
        if (axis is None or isinstance(axis, gast.Constant) and axis.value is None) and (
                keep is None or isinstance(keep, gast.Constant) and not keep.value) and (
                name != "norm" or not keywords):
            return 0
    return None


_VIEWS = ("reshape", "transpose", "ravel", "swapaxes", "moveaxis", "squeeze", "expand_dims",
          "broadcast_to", "diagonal", "atleast_1d", "atleast_2d", "atleast_3d", "real",
          "matrix_transpose", "flip", "fliplr", "flipud", "rot90", "asarray")


def aliased_writes(fdef):
    """The first ``x[i] = v`` where ``x`` may share memory with another variable (it was
    assigned a name, a slice, or a view such as ``np.reshape(y, ...)``), as
    ``(statement, name, how)``, else None: srcad follows values, so such a write would not
    reach the other variable's derivative."""
    sources = {}
    for stmt in walk_statements(fdef.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            value, how = stmt.value, None
            if isinstance(value, gast.Name):
                if value.id == stmt.targets[0].id:
                    continue                    # x = x (a helper returning its argument)
                how = f"another name for {value.id!r}"
            elif isinstance(value, gast.Subscript) and _basic(value.slice):
                how = f"a slice of {getattr(value.value, 'id', 'an array')!r} (a view)"
            elif isinstance(value, gast.Call) and getattr(
                    getattr(value, "srcad_callee", None), "__name__", "") in _VIEWS:
                how = f"the result of {value.srcad_callee.__name__} (a view)"
            if how is not None:
                sources.setdefault(stmt.targets[0].id, how)
    for stmt in walk_statements(fdef.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            name = stmt.targets[0].value.id
            if name in sources:
                return stmt, name, sources[name]
    return None


def _basic(index) -> bool:
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(isinstance(i, gast.Slice) for i in items) or any(
        isinstance(i, gast.Constant) and i.value in (None, Ellipsis) for i in items) or all(
        isinstance(i, (gast.Name, gast.Constant)) for i in items)


# -- stage invariants (checked after each stage when SRCAD_VERIFY=1) --------------------------

_ATOMS = (gast.Name, gast.Constant)


def _static(node) -> bool:
    """``np.pi``, ``np.float64``: a module attribute the normalizer keeps as written."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


def _atom(node) -> bool:
    return isinstance(node, _ATOMS) or (isinstance(node, gast.Attribute) and _static(node)) or (
        isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant)) or (
        isinstance(node, gast.Tuple) and all(isinstance(e, gast.Constant) for e in node.elts))


def _index_of_atoms(index) -> bool:
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    return all(_atom(i) or (isinstance(i, gast.Slice) and all(
        p is None or _atom(p) for p in (i.lower, i.upper, i.step))) for i in items)


def anf_violations(fdef) -> list:
    """Statements of a normalized function breaking the ANF guarantees (normalize's
    docstring): each as ``(statement, what is wrong)``."""
    bad = []
    for stmt in walk_statements(fdef.body):
        if isinstance(stmt, gast.Assign):
            value = stmt.value
            if getattr(value, "srcad_opaque", False) or _atom(value):
                continue
            if isinstance(value, gast.BinOp):
                ok = _atom(value.left) and _atom(value.right)
            elif isinstance(value, gast.UnaryOp):
                ok = _atom(value.operand)
            elif isinstance(value, gast.Compare):
                ok = _atom(value.left) and all(_atom(c) for c in value.comparators)
            elif isinstance(value, (gast.List, gast.Tuple)):
                ok = all(_atom(e) for e in value.elts)
            elif isinstance(value, gast.Subscript):
                ok = _atom(value.value) and _index_of_atoms(value.slice)
            elif isinstance(value, gast.Call):
                ok = all(_atom(a) for a in value.args) and all(
                    _atom(k.value) for k in value.keywords)
            else:
                ok = False
            if not ok:
                bad.append((stmt, f"not in A-normal form: {type(value).__name__} over "
                                  "non-atoms"))
        elif isinstance(stmt, (gast.If, gast.While)) and not _atom(stmt.test):
            bad.append((stmt, "a branch or loop test that is not an atom"))
        elif isinstance(stmt, gast.For) and not (
                isinstance(stmt.target, gast.Name) and _atom(stmt.iter)):
            bad.append((stmt, "a for loop over a non-atom or into a non-name"))
        if getattr(stmt, "lineno", None) is None:
            bad.append((stmt, "a statement without the user's line number"))
    return bad
