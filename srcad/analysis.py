"""Analysis of ANF code: which statements are differentiable, what each defines and uses, and
the one activity analysis (varied: depends on a wrt input; useful: the output depends on it;
no derivative flows into a shift a softmax ignores), and the shapes of values when the
arguments' shapes are known.

Flow-insensitive over the whole function (loop-carried dependences are covered by iterating to
a fixed point), which is conservative: a variable marked active that is not is only extra work,
never a wrong derivative.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import gast

from . import registry

__all__ = ["walk", "Activity", "activity", "is_differentiable", "defines", "walk_statements",
           "primitive_call", "list_names", "shapes", "rank", "join", "join_all", "broadcast",
           "reduced_shape", "axes_of", "matmul_shape", "literal", "shift_invariant",
           "aliased_writes", "anf_violations"]


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
    shifts = shift_invariant(fdef)
    flows = [(defines(s), _names(s.value.left) if s in shifts else _flow_sources(s))
             for s in stmts]
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


# -- shift invariance: softmax and log-softmax ignore what is subtracted along their axis ------

_SHIFTS = ("max", "amax", "min", "amin", "mean", "sum", "median")


def shift_invariant(fdef) -> list:
    """The statements ``z = a - m`` through which no derivative reaches ``m``: ``m`` is a
    ``keepdims=True`` reduction along the axis of a softmax or log-softmax of ``z``, the only
    use of ``m`` and ``z``, so the result does not depend on ``m`` at all (the usual
    ``z = a - np.max(a, axis, keepdims=True)`` that keeps ``exp`` from overflowing). The
    derivative through ``m`` is zero exactly; computing it would cost the tie-splitting
    adjoint of ``max`` and round to nearly zero."""
    uses = _Uses(fdef)
    found = []
    for stmt in walk_statements(fdef.body):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.BinOp)
                and isinstance(stmt.value.op, gast.Sub) and isinstance(stmt.targets[0], gast.Name)
                and isinstance(stmt.value.right, gast.Name)):
            continue
        z, m = stmt.targets[0].id, stmt.value.right.id
        m_value = uses.value(m)
        if uses.assigned.get(z) is not stmt or not _numpy_call(m_value, _SHIFTS) or \
                not uses.only_by(m, stmt):
            continue
        axis = _keepdims_axis(m_value)
        if axis is not None and _softmax_of(z, axis, uses):
            found.append(stmt)
    return found


class _Uses:
    """Where each name is assigned (the statement, None when more than once) and which
    statements read it (a loop or branch by its header only; its body reads for itself)."""

    def __init__(self, fdef):
        self.assigned: dict = {}
        self.readers: dict = {}
        for stmt in walk_statements(fdef.body):
            for name in defines(stmt):
                self.assigned[name] = None if name in self.assigned else stmt
            compound = isinstance(stmt, (gast.For, gast.While, gast.If))
            read = getattr(stmt, "test", None) or stmt.iter if compound else stmt
            for node in walk(read):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    self.readers.setdefault(node.id, []).append(stmt)

    def value(self, name):
        stmt = self.assigned.get(name)
        return stmt.value if isinstance(stmt, gast.Assign) else None

    def of(self, name) -> list:
        return self.readers.get(name, [])

    def only_by(self, name, *stmts) -> bool:
        """Do exactly ``stmts`` read ``name`` (once each)?"""
        return sorted(map(id, self.of(name))) == sorted(map(id, stmts))


def _numpy_call(node, names) -> bool:
    fn = getattr(node, "srcad_callee", None)
    return isinstance(node, gast.Call) and getattr(fn, "__name__", None) in names and \
        getattr(fn, "__module__", "").startswith("numpy")


def _keepdims_axis(call):
    """The literal axis of a ``keepdims=True`` reduction, else None."""
    keywords = {k.arg: k.value for k in call.keywords}
    keep = keywords.get("keepdims")
    axis = keywords.get("axis", call.args[1] if len(call.args) > 1 else None)
    if len(call.args) > 2 or set(keywords) - {"axis", "keepdims"} or not (
            isinstance(keep, gast.Constant) and keep.value is True):
        return None
    return literal(axis) if axis is not None else None


def _softmax_of(z, axis, uses: _Uses) -> bool:
    """Is every use of ``z`` inside ``exp(z) / sum(exp(z), axis, keepdims=True)`` or
    ``z - log(sum(exp(z), axis, keepdims=True))``, each intermediate used there only?"""
    exps = [s for s in uses.of(z) if isinstance(s, gast.Assign) and _numpy_call(
        s.value, ("exp",))]
    if len(exps) != 1:
        return False
    e = exps[0].targets[0].id
    sums = [s for s in uses.of(e) if isinstance(s, gast.Assign) and _numpy_call(
        s.value, ("sum",)) and _is_name(s.value.args[0], e) and _keepdims_axis(s.value) == axis]
    if len(sums) != 1:
        return False
    total = sums[0].targets[0].id
    if len(uses.of(total)) != 1 or not isinstance(uses.of(total)[0], gast.Assign):
        return False
    user = uses.of(total)[0]
    v = user.value
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Div) and _is_name(
            v.left, e) and _is_name(v.right, total):                    # softmax
        return uses.only_by(z, exps[0]) and uses.only_by(e, sums[0], user)
    if _numpy_call(v, ("log",)) and len(v.args) == 1 and not v.keywords:   # log-softmax
        out = uses.of(user.targets[0].id)
        if len(out) != 1 or not isinstance(out[0], gast.Assign):
            return False
        d = out[0].value
        return (isinstance(d, gast.BinOp) and isinstance(d.op, gast.Sub)
                and _is_name(d.left, z) and _is_name(d.right, user.targets[0].id)
                and uses.only_by(z, exps[0], out[0]) and uses.only_by(e, sums[0]))
    return False


def _is_name(node, name) -> bool:
    return isinstance(node, gast.Name) and node.id == name


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


# -- shapes: what is known of each value's shape ---------------------------------------------
# A shape is a tuple of dimensions, () for Python and NumPy scalars. A dimension is 1, a
# symbol (a string such as "n0": a size other than 1, equal to another dimension exactly when
# the symbols are equal) or None (unknown, possibly 1). Besides tuples, "floats" marks a list
# of Python floats and "range" a range. These facts decide where broadcasting provably does
# nothing, so they must be exact: anything not derived for certain is None or absent.

_MISSING = object()
_REDUCTIONS = ("sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum",
               "nanmean", "nanmax", "nanmin", "average", "norm")


def shapes(fdef, param_shapes: dict) -> dict:
    """name -> its shape (see above), joined over every assignment to it; absent when
    unknown. ``param_shapes`` gives the parameters' (from the argument kinds a derivative is
    specialized for)."""
    known = {k: v for k, v in param_shapes.items() if v is not None}
    unknown: set = {k for k, v in param_shapes.items() if v is None}
    stmts = list(walk_statements(fdef.body))
    join_all(lambda: (pair for stmt in stmts for pair in _assigned_shapes(stmt, known)),
             known, unknown)
    return known


def join_all(assignments, known: dict, unknown: set):
    """Join each name's shape over all its assignments until nothing changes:
    ``assignments()`` yields (name, shape) pairs, each shape computed from ``known`` as it
    is then; names in ``unknown`` (or that become unknown) are left out of ``known``. Shapes
    only lose facts, so this terminates."""
    changed = True
    while changed:
        changed = False
        for name, shape in assignments():
            if name in unknown:
                continue
            old = known.get(name, _MISSING)
            new = shape if old is _MISSING else join(old, shape)
            if new is None:
                unknown.add(name)
                known.pop(name, None)
                changed = True
            elif new != old:
                known[name] = new
                changed = True


def rank(shape):
    """The number of dimensions of a shape from ``shapes``, else None."""
    return len(shape) if isinstance(shape, tuple) else None


def join(a, b):
    """What two assignments of one name have in common."""
    if a == b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(x if x == y else None for x, y in zip(a, b))
    return None


def broadcast(shapes_):
    """The shape NumPy broadcasting gives operands of these shapes, or None when unknown."""
    if any(not isinstance(s, tuple) for s in shapes_):
        return None
    out = []
    for i in range(1, max((len(s) for s in shapes_), default=0) + 1):
        dims = {s[-i] for s in shapes_ if len(s) >= i} - {1}
        if not dims:
            out.append(1)
        elif len(dims) == 1 and None not in dims:
            out.append(dims.pop())
        else:
            out.append(None)     # unknown (may be 1), or two sizes that cannot broadcast
    return tuple(out[::-1])


def _assigned_shapes(stmt, known):
    if isinstance(stmt, gast.For):
        it = stmt.iter
        return [(stmt.target.id, () if _is_range(it, known) else None)]
    if not isinstance(stmt, gast.Assign):
        return []
    target = stmt.targets[0]
    if isinstance(target, gast.Name):
        return [(target.id, value_shape(stmt.value, known))]
    if isinstance(target, gast.Tuple):
        return [(e.id, None) for e in target.elts]
    return []           # x[i] = v keeps x's shape


def _is_range(node, known) -> bool:
    return isinstance(node, gast.Name) and known.get(node.id) == "range"


def value_shape(value, known):
    """The shape of an ANF right-hand side, or None when unknown."""
    if isinstance(value, gast.Constant):
        return () if type(value.value) in (int, float, complex) else None
    if isinstance(value, gast.Name):
        return known.get(value.id)
    if isinstance(value, gast.UnaryOp):
        return value_shape(value.operand, known)
    if isinstance(value, (gast.BinOp, gast.Compare)):
        operands = [value.left, value.right] if isinstance(value, gast.BinOp) else \
            [value.left] + list(value.comparators)
        found = [value_shape(o, known) for o in operands]
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            return matmul_shape(*found)
        return broadcast(found)
    if isinstance(value, gast.Subscript):
        return _index_shape(value, known)
    if isinstance(value, gast.Call):
        return _call_shape(value, known)
    if isinstance(value, gast.Attribute) and value.attr in ("size", "ndim"):
        return ()
    if isinstance(value, gast.Attribute) and value.attr == "shape":
        return "shape"                   # a tuple of ints
    return None


def matmul_shape(a, b):
    if not (isinstance(a, tuple) and isinstance(b, tuple)) or not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    batch = broadcast([a[:-2], b[:-2]])
    return None if batch is None else batch + (a[-2], b[-1])


def _index_shape(value, known):
    base = value.value
    shape = known.get(base.id) if isinstance(base, gast.Name) else None
    items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
    if shape in ("floats", "shape"):     # an element of a list of floats, a size
        item = value.slice
        return () if not isinstance(item, (gast.Slice, gast.Tuple)) and value_shape(
            item, known) == () else None
    if not isinstance(shape, tuple):
        return None
    out, rest = [], list(shape)
    for item in items:
        if isinstance(item, gast.Constant) and item.value is None:
            out.append(1)
        elif not rest:
            return None
        elif isinstance(item, gast.Slice):
            dim = rest.pop(0)
            whole = item.lower is None and item.upper is None and item.step is None
            out.append(dim if whole else None)
        elif value_shape(item, known) == ():       # a scalar index drops its dimension
            rest.pop(0)
        else:
            return None
    return tuple(out + rest)


def _call_shape(call, known):
    import math as _math

    fn = getattr(call, "srcad_callee", None)
    if fn is range:
        return "range"
    if fn in (len, int, float) or getattr(fn, "__module__", None) == "math" or (
            fn is not None and getattr(_math, getattr(fn, "__name__", ""), None) is fn):
        return ()
    rule = registry.lookup(fn) if fn is not None else None
    args = list(call.args)
    if rule is not None and rule.extra.get("elementwise"):
        if call.keywords:
            return None
        return broadcast([value_shape(a, known) for a in args]) if args else None
    name = getattr(fn, "__name__", "")
    if not getattr(fn, "__module__", "").startswith("numpy") or not args:
        return None
    shape = value_shape(args[0], known)
    if name == "transpose" and len(args) == 1 and not call.keywords:
        return shape[::-1] if isinstance(shape, tuple) else None
    if name in _REDUCTIONS:
        keywords = {k.arg: k.value for k in call.keywords}
        if name == "norm" and (keywords or len(args) > 1):
            return None
        if set(keywords) - {"axis", "keepdims"}:
            return None
        axis = keywords.get("axis", args[1] if len(args) > 1 else None)
        keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
        if len(args) > 2 or not isinstance(keep, gast.Constant):
            return None
        return reduced_shape(shape, axis, bool(keep.value))
    return None


def reduced_shape(shape, axis, keepdims):
    """``shape`` (None: unknown) reduced over ``axis`` (a literal: None, an int or a tuple
    of ints)."""
    if (axis is None or isinstance(axis, gast.Constant) and axis.value is None) and not keepdims:
        return ()                    # a full reduction is a scalar whatever it reduced
    if not isinstance(shape, tuple):
        return None
    axes = axes_of(axis, len(shape))
    if axes is None:
        return None
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def axes_of(axis, ndim):
    """The set of axes of ``ndim`` dimensions a literal ``axis`` (None, an int, a tuple of
    ints, negative ones counted from the end) names, else None."""
    if axis is None or isinstance(axis, gast.Constant) and axis.value is None:
        return set(range(ndim))
    items = axis.elts if isinstance(axis, gast.Tuple) else [axis]
    axes = [literal(a) for a in items]
    if None in axes or any(not -ndim <= a < ndim for a in axes):
        return None
    return {a % ndim for a in axes}


def literal(node, kind=int):
    """The value of a literal of type ``kind`` (``2``, ``-1``; ``2.0`` for float), else None
    (an int is not a float literal, nor a float an int one)."""
    if isinstance(node, gast.Constant) and type(node.value) is kind:
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = literal(node.operand, kind)
        return None if inner is None else -inner
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
