"""Optimize generated code. Input and output: a gast FunctionDef that compiles.

* ``optimize``: copy propagation, peepholes and constant folding, dead code, to a fixed point;
* ``Broadcasts`` (applied by the transformers as they instantiate rules): broadcasting that
  the known shapes prove useless;
* ``with_shapes`` (derivatives specialized on argument shapes): compact reduction adjoints,
  sizes from parameter shapes;
* ``scalar_reads``, ``scalar_accumulators``: scalar loops read rank-1 arrays through lists of
  floats, and accumulate into lists of floats;
* ``inline_temporaries``: single-use temporaries nested into their use;
* ``shaped_rewrites`` (specialized derivatives): sums of products, scalar factors
  grouped, matmul adjoints inlined, ``b += e`` where ``b`` owns its buffer;
* ``owned_writes`` (last, every variant): a parameter the function writes into is copied
  first; derivative code writing into memory it does not own is an internal error.

No rewrite turns a new array into one that shares memory with an array written in place
(``_Guard``: ``dt = dy * 1.0`` stays a copy before ``dt[0] = ...``); ``shares`` says what
memory a value may share.
"""
from __future__ import annotations

import copy

import gast

from .analysis import (axes_of, broadcast, join_all, literal, matmul_shape, rank,
                       reduced_shape, walk, walk_statements)
from .nodes import assign, attr, call, name

__all__ = ["optimize", "drop_empty", "Broadcasts", "mark_derivative", "scalar_reads",
           "scalar_accumulators", "with_shapes", "inline_temporaries", "shaped_rewrites",
           "owned_writes", "shares"]

_REDUCERS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum",
             "nanmean", "cumsum", "cumprod"}
_EFFECTS = {"pop", "append", "add_at", "take_and_zero", "extend", "insert"}


def _loads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value) -> bool:
    """Evaluating ``value`` changes nothing (no tape or list operations, no in-place helper)."""
    for n in walk(value):
        if isinstance(n, gast.Call):
            func = n.func
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if name in _EFFECTS:
                return False
    return True


def _targets(stmt):
    """Names a pure assignment defines, or None when the statement must stay (``n += e``
    defines ``n`` too: a counter nobody reads is dead, and so is its initialization)."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name) and _pure(
            stmt.value):
        return [stmt.target.id]
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


def _compound_targets(stmt):
    """Names a loop or branch binds when it does nothing else (pure assignments, jumps and
    comments only), or None: such a statement is dead when none of them is read after it."""
    out = []
    for n in walk(stmt):
        if isinstance(n, (gast.For, gast.While, gast.If, gast.Break, gast.Continue,
                          gast.Pass)) or getattr(n, "srcad_comment", None) is not None:
            if isinstance(n, gast.For):
                if not isinstance(n.target, gast.Name):
                    return None
                out.append(n.target.id)
        elif isinstance(n, gast.stmt):
            names = _targets(n)
            if names is None:
                return None
            out.extend(names)
    return out


def _straight_line(stmts) -> list:
    """Backward liveness over the top-level statements (a loop or branch is dropped whole
    when it only binds names nobody reads after it, else kept whole)."""
    live: set = set()
    out = []
    for s in reversed(stmts):
        if isinstance(s, (gast.For, gast.While, gast.If)):
            names = _compound_targets(s)
            if names is not None and not any(n in live for n in names):
                continue
        names = _targets(s)
        if names is not None and not any(n in live for n in names):
            continue
        if names is not None and not isinstance(s, gast.AugAssign):
            live -= set(names)          # n += e reads n: it stays live
        live |= _loads(s)
        if isinstance(s, (gast.For, gast.While, gast.If)):
            live |= {n.id for n in walk(s) if isinstance(n, gast.Name)}
        out.append(s)
    return out[::-1]


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


def _shape(node, shapes):
    if isinstance(node, gast.Constant):
        return () if type(node.value) in (int, float, complex) else None
    if isinstance(node, gast.UnaryOp):
        return _shape(node.operand, shapes)
    if isinstance(node, gast.Name):
        return shapes.get(node.id)
    return None


def _result_shape_is(operands, one, shapes) -> bool:
    """Does an elementwise operation on ``operands`` give exactly the shape of the variable
    ``one``? Yes when the others are scalars or ``one`` again (``x * x``), or when the
    operands' known shapes broadcast to ``one``'s known shape."""
    if any(isinstance(o, gast.Name) and o.id == one for o in operands) and all(
            _shape(o, shapes) == () or (isinstance(o, gast.Name) and o.id == one)
            for o in operands):
        return True
    target = shapes.get(one)
    return (isinstance(target, tuple) and None not in target
            and broadcast([_shape(o, shapes) for o in operands]) == target)


class Broadcasts(gast.NodeTransformer):
    """Drop ``unbroadcast(g, x)`` / ``broadcast_like(t, y)`` where shapes provably agree,
    and write the seed and zeros of scalars as the literals 1.0 and 0.0."""

    def __init__(self, shapes, np_name):
        self.shapes = shapes
        self.np = np_name

    def visit_Call(self, node):
        self.generic_visit(node)
        tag = getattr(node, "srcad_shapes", None)
        if tag is not None:
            kind, operands, active, like = tag
            if kind == "unbroadcast" and _result_shape_is(operands, like, self.shapes):
                return node.args[0]
            if kind == "unbroadcast":
                return self.sum_over_broadcast(node, operands, like) or node
            if kind == "broadcast_like" and active and (all(
                    _result_shape_is(operands, a.id, self.shapes) for a in active)
                    or self.active_span(operands, active, like)):
                return node.args[0]
            return node
        func = node.func
        if (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)
                and func.value.id == "_srcad" and len(node.args) == 1
                and _shape(node.args[0], self.shapes) == ()):
            if func.attr == "scalar_seed":
                return gast.Constant(value=1.0, kind=None)
            if func.attr == "zeros_like":
                return gast.Constant(value=0.0, kind=None)
        return node

    def active_span(self, operands, active, like) -> bool:
        """Do the active operands alone broadcast to the result's known shape? A tangent
        is shaped like its value, so a sum of terms each carrying one of them has the
        result's shape already."""
        result = broadcast([_shape(o, self.shapes) for o in operands])
        return isinstance(result, tuple) and None not in result and broadcast(
            [_shape(a, self.shapes) for a in active]) == result

    def sum_over_broadcast(self, node, operands, like):
        """``unbroadcast(g, like)`` as the one ``np.sum`` it does, when shapes are known:
        ``np.sum(g, axis=0)`` for a bias, ``np.sum(g, axis=1, keepdims=True)`` for a
        column; None when it takes more than one sum."""
        result = broadcast([_shape(o, self.shapes) for o in operands])
        target = self.shapes.get(like)
        if not (isinstance(result, tuple) and isinstance(target, tuple)) or None in result \
                or None in target or len(target) > len(result):
            return None
        lead = len(result) - len(target)
        kept = [i + lead for i, n in enumerate(target) if n == 1 and result[i + lead] != 1]
        reduced = tuple(1 if i + lead in kept else result[i + lead] for i in range(len(target)))
        if (lead and kept) or not (lead or kept) or reduced != target:
            return None                       # not one sum (or shapes that cannot agree)
        keywords = []
        if target:
            axes = list(range(lead)) or kept
            axis = gast.Constant(value=axes[0], kind=None) if len(axes) == 1 else gast.Tuple(
                elts=[gast.Constant(value=a, kind=None) for a in axes], ctx=gast.Load())
            keywords.append(gast.keyword(arg="axis", value=axis))
            if not lead:
                keywords.append(gast.keyword(arg="keepdims", value=gast.Constant(
                    value=True, kind=None)))
        g, negate = node.args[0], False
        if isinstance(g, gast.UnaryOp) and isinstance(g.op, gast.USub):
            g, negate = g.operand, True          # negate the (smaller) sum
        out = gast.Call(func=attr(name(self.np), "sum"), args=[g], keywords=keywords)
        return gast.UnaryOp(op=gast.USub(), operand=out) if negate else out


_FOLD = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
         gast.Mult: lambda a, b: a * b, gast.Div: lambda a, b: a / b}


def _number(node):
    """The value of a float literal (``2.0``, ``-2.0``), else None (ints stay as written)."""
    return literal(node, float)


def _literal(value):
    node = gast.Constant(value=abs(value), kind=None)
    return gast.UnaryOp(op=gast.USub(), operand=node) if value < 0 else node


def _default_keyword(k) -> bool:
    """``axis=None`` or ``keepdims=False``: what a reduction does without them."""
    if not isinstance(k.value, gast.Constant):
        return False
    return (k.arg == "axis" and k.value.value is None) or (
        k.arg == "keepdims" and k.value.value is False)


class _Peephole(gast.NodeTransformer):
    """``a + -b`` -> ``a - b``; ``-(-a)`` -> ``a``; ``e + e`` -> ``2.0 * e`` (also in
    ``a + e + e``); arithmetic on
    two float literals is folded (never ``x * 0.0``: that keeps ``x``'s shape)."""

    def __init__(self, guard=None):
        self.guard = guard or _unguarded

    def visit_BinOp(self, node):
        self.generic_visit(node)
        a, b = _number(node.left), _number(node.right)
        if a is not None and b is not None and type(node.op) in _FOLD and not (
                isinstance(node.op, gast.Div) and b == 0.0):
            return _literal(_FOLD[type(node.op)](a, b))
        if isinstance(node.op, gast.Add) and _pure(node.left) and gast.dump(
                node.left) == gast.dump(node.right):
            return gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(),
                              right=node.left)
        left = node.left
        if isinstance(node.op, gast.Add) and isinstance(left, gast.BinOp) and isinstance(
                left.op, gast.Add) and _pure(node.right) and gast.dump(
                left.right) == gast.dump(node.right):       # (a + e) + e -> a + 2.0 * e
            node.left, node.right = left.left, gast.BinOp(
                left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=node.right)
            return node
        right = node.right
        if isinstance(right, gast.UnaryOp) and isinstance(right.op, gast.USub) and isinstance(
                node.op, (gast.Add, gast.Sub)):
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
            node.right = right.operand
        return node

    def visit_Call(self, node):
        """``np.sum(a, axis=None, keepdims=False)`` -> ``np.sum(a)``: a template's defaults
        that the user did not write."""
        self.generic_visit(node)
        first = node.args[0] if node.args else None
        func = node.func
        called = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
        if (called.rsplit(".", 1)[-1] == "unbroadcast"
                and isinstance(first, gast.UnaryOp) and isinstance(first.op, gast.USub)):
            # unbroadcast is linear: negate the (smaller) sum, not the whole array
            node.args[0] = first.operand
            return gast.UnaryOp(op=gast.USub(), operand=node)
        if isinstance(node.func, gast.Attribute) and node.func.attr in _REDUCERS:
            node.keywords = [k for k in node.keywords if not _default_keyword(k)]
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        value = _number(node)
        if value is not None and isinstance(node.operand, gast.UnaryOp):
            return _literal(value)
        inner = node.operand
        if isinstance(node.op, gast.USub) and isinstance(inner, gast.UnaryOp) and isinstance(
                inner.op, gast.USub):
            return self.guard(node, inner.operand)
        return node


def _assign_counts(fdef) -> dict:
    counts: dict = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            counts[n.id] = counts.get(n.id, 0) + 1
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            counts[n.target.id] = counts.get(n.target.id, 0) + 1
    for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
        counts[a.id] = counts.get(a.id, 0) + 1
    return counts


def _replace_name(tree, name, value):
    """Replace every load of ``name`` in ``tree`` by a copy of the expression ``value``."""
    class _Sub(gast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == name and isinstance(node.ctx, gast.Load):
                return copy.deepcopy(value)
            return node
    for field, old in gast.iter_fields(tree):
        if isinstance(old, list):
            setattr(tree, field, [_Sub().visit(x) if isinstance(x, gast.AST) else x
                                  for x in old])
        elif isinstance(old, gast.AST):
            setattr(tree, field, _Sub().visit(old))


class Identities(gast.NodeTransformer):
    """``1.0 * e``, ``e * 1.0``, ``e / 1.0``, ``e - 0.0`` -> ``e``. Only for derivative code, whose
    values are floating point (in primal code ``1.0 * n`` may turn integers into floats)."""

    def __init__(self, guard=None):
        self.guard = guard or _unguarded

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.Mult) and _number(node.left) == 1.0:
            return self.guard(node, node.right)
        if isinstance(node.op, (gast.Mult, gast.Div)) and _number(node.right) == 1.0:
            return self.guard(node, node.left)
        if isinstance(node.op, gast.Sub) and _number(node.right) == 0.0:
            return self.guard(node, node.left)                # e - 0.0 is e, exactly
        return node


def mark_derivative(stmts):
    """Tag statements computing derivatives (floating point by construction)."""
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.stmt):
                n.srcad_derivative = True


def _peepholes(fdef, written, np_name):
    """``_Peephole`` on every statement, ``Identities`` on derivative assignments, neither
    where it would leave a new name for an array ``written`` in place (``_Guard``)."""
    for s in walk_statements(fdef.body):
        if isinstance(s, (gast.If, gast.While)):
            s.test = _Peephole().visit(s.test)
        elif isinstance(s, gast.For):
            s.iter = _Peephole().visit(s.iter)
        elif getattr(s, "value", None) is not None:
            guard = _Guard(s, written, np_name)
            s.value = _Peephole(guard).visit(s.value)
            if getattr(s, "srcad_derivative", False) and isinstance(s, gast.Assign):
                s.value = Identities(guard).visit(s.value)


def _load_counts(tree) -> dict:
    """name -> how many times ``tree`` reads it."""
    counts: dict = {}
    for n in walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _summary(stmt, memo):
    """(name -> number of occurrences, names bound) of a statement, memoized by identity."""
    key = id(stmt)
    if key not in memo:
        found: dict = {}
        stored = set()
        for n in walk(stmt):
            if isinstance(n, gast.Name):
                found[n.id] = found.get(n.id, 0) + 1
                if not isinstance(n.ctx, gast.Load):
                    stored.add(n.id)
            elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                stored.add(n.target.id)
        memo[key] = (found, stored)
    return memo[key]


def _propagate_copies(stmts, stores, loads) -> list:
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
                setattr(s, field, _propagate_copies(inner, stores, loads))
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
            rest = range(i + 1, len(out))
            summaries = [_summary(out[j], memo) for j in rest]
            count = sum(found.get(a, 0) for found, _ in summaries)
            uses = [k for k, (found, _) in enumerate(summaries) if found.get(a)]
            last = uses[-1] if uses else -1

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


def _read_outside_own_loops(fdef) -> set:
    """Loop targets read somewhere other than inside a loop that binds them itself."""
    out = set()

    def visit(stmts, bound):
        for s in stmts:
            if isinstance(s, gast.For):
                out.update(_loads(s.iter) - bound)
                visit(s.body, bound | {getattr(s.target, "id", None)})
                visit(s.orelse, bound)
            elif isinstance(s, (gast.If, gast.While)):
                out.update(_loads(s.test) - bound)
                visit(s.body, bound)
                visit(s.orelse, bound)
            else:
                out.update(_loads(s) - bound)
    visit(fdef.body, frozenset())
    return out


def _count_statements(stmts) -> int:
    total = 0
    for s in stmts:
        total += 1
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                total += _count_statements(inner)
    return total


def optimize(fdef: gast.FunctionDef, np_name: str = "np") -> gast.FunctionDef:
    """Peepholes and copy propagation, then dead statements until nothing changes."""
    written = _written(fdef, np_name)    # (copies propagated are already joined in it)
    while True:
        fdef.body = _propagate_copies(fdef.body, _assign_counts(fdef), _load_counts(fdef))
        _peepholes(fdef, written, np_name)
        before = _count_statements(fdef.body)
        reads = set()
        for s in fdef.body:
            reads |= _loads(s)
        fdef.body = _sweep(fdef.body, lambda n: n in reads)
        fdef.body = _straight_line(fdef.body)
        fdef.body = drop_empty(fdef.body, _read_outside_own_loops(fdef))
        if _count_statements(fdef.body) == before:     # dead code removal found nothing
            return fdef


def scalar_reads(fdef: gast.FunctionDef, shapes: dict, namer) -> gast.FunctionDef:
    """In loops, read a rank-1 parameter that is never written through a list of Python
    floats: ``T[k]`` -> ``T_items[k]`` with ``T_items = _srcad.scalar_items(T)`` (a list for
    float64 arrays, the array itself otherwise)."""
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    written = {n.value.id for n in walk(fdef) if isinstance(n, gast.Subscript)
               and not isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name)}
    written |= {n.id for n in walk(fdef) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Store)}

    def scalar_read(n, p):
        return (isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load)
                and isinstance(n.value, gast.Name) and n.value.id == p
                and isinstance(n.slice, gast.Name) and shapes.get(n.slice.id) == ())

    loops = [s for s in walk(fdef) if isinstance(s, (gast.For, gast.While))]
    prologue = []
    for p in params:
        if rank(shapes.get(p)) != 1 or p in written:
            continue
        if not any(scalar_read(n, p) for loop in loops for n in walk(loop)):
            continue
        items = namer.fresh(p + "_items")
        for n in walk(fdef):
            if scalar_read(n, p):
                n.value = gast.Name(id=items, ctx=gast.Load(), annotation=None,
                                    type_comment=None)
        prologue.append(gast.Assign(
            targets=[gast.Name(id=items, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=gast.Call(func=gast.Attribute(value=gast.Name(
                id="_srcad", ctx=gast.Load(), annotation=None, type_comment=None),
                attr="scalar_items", ctx=gast.Load()), args=[gast.Name(
                    id=p, ctx=gast.Load(), annotation=None, type_comment=None)], keywords=[]),
            type_comment=None))
    fdef.body = prologue + fdef.body
    return fdef


def scalar_accumulators(fdef: gast.FunctionDef, shapes: dict, np_name: str):
    """An adjoint of a rank-1 array that loops only accumulate into element by element
    (``bT = zeros_like(T)`` ... ``bT[k] += e``) is a list of Python floats until it is
    returned: ``bT = [0.0] * len(T)`` ... ``bT = np.array(bT)`` (a float added to a list item
    costs a fraction of one added to an array element)."""
    body = fdef.body
    ret = body[-1] if body and isinstance(body[-1], gast.Return) else None
    if ret is None:
        return fdef
    returned = {n.id for n in walk(ret) if isinstance(n, gast.Name)}
    parents = _parents(fdef)
    in_loop = {id(n) for loop in walk(fdef) if isinstance(loop, (gast.For, gast.While))
               for n in walk(loop)}
    in_return = {id(n) for n in walk(ret)}
    for stmt in list(body):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and _helper_name(stmt.value) == "zeros_like" and len(stmt.value.args) == 1
                and isinstance(stmt.value.args[0], gast.Name)):
            continue
        b, p = stmt.targets[0].id, stmt.value.args[0].id
        if rank(shapes.get(p)) != 1 or b not in returned:
            continue
        uses = [n for n in walk(fdef) if isinstance(n, gast.Name) and n.id == b
                and n is not stmt.targets[0]]

        def accumulates(n):
            sub = parents.get(id(n))
            aug = parents.get(id(sub))
            return (isinstance(sub, gast.Subscript) and sub.value is n and isinstance(
                aug, gast.AugAssign) and aug.target is sub and id(aug) in in_loop
                and isinstance(sub.slice, gast.Name) and shapes.get(sub.slice.id) == ())
        if not all(accumulates(n) or id(n) in in_return for n in uses) or not any(
                accumulates(n) for n in uses):
            continue
        stmt.value = gast.BinOp(left=gast.List(elts=[gast.Constant(value=0.0, kind=None)],
                                               ctx=gast.Load()), op=gast.Mult(),
                                right=call(name("len"), name(p)))
        body.insert(len(body) - 1, gast.Assign(
            targets=[name(b, gast.Store())], value=call(attr(name(np_name), "array"), name(b),
                                                        attr(name(p), "dtype")),
            type_comment=None))
    return fdef


# -- facts from argument shapes (specialized derivatives only) --------------------------------

_SHAPE_ONLY = {"expand_reduced": 1, "reduced_count": 0, "unbroadcast": 1, "broadcast_like": 1}
_LIKE = {"expand_reduced": 1, "unbroadcast": 1, "broadcast_like": 1, "zeros_like": 0,
         "scalar_seed": 0, "matmul_adjoint_lhs": 1, "matmul_adjoint_rhs": 2}
_ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)


class _Shapes:
    """Shapes of the values of derivative code: the primal values' from ``analysis.shapes``,
    the others inferred from every assignment to them (joined, as there), through
    elementwise operations, sums and the runtime helpers whose result is shaped like one of
    their arguments. Only what is certain is known, as in ``analysis.shapes``."""

    def __init__(self, fdef, primal: dict, np_name: str):
        self.primal = primal
        self.np = np_name
        self.known: dict = {}
        assigns = []
        for s in walk_statements(fdef.body):        # in source order
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
                    s.targets[0], gast.Name):
                assigns.append((s.targets[0].id, s.value))
            elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
                assigns.append((s.target.id, gast.BinOp(left=gast.Name(
                    id=s.target.id, ctx=gast.Load(), annotation=None, type_comment=None),
                    op=s.op, right=s.value)))
        other = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and isinstance(
            n.ctx, gast.Store)} - {t for t, _ in assigns}    # loop targets, tuple targets
        self.unknown = set(other)
        join_all(lambda: ((t, self.of(v)) for t, v in assigns if t not in primal),
                 self.known, self.unknown)

    def full(self, node) -> bool:
        """Is ``node`` an array (not a scalar) of a shape known to the last dimension?"""
        shape = self.of(node)
        return isinstance(shape, tuple) and len(shape) > 0 and None not in shape

    def of(self, node):
        """The shape of an expression of derivative code, else None."""
        if isinstance(node, gast.Constant):
            return () if type(node.value) in (int, float, complex) else None
        if isinstance(node, gast.Name):
            if node.id in self.primal:
                return self.primal[node.id]
            return None if node.id in self.unknown else self.known.get(node.id)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return self.of(node.operand)
        if isinstance(node, gast.BinOp) and isinstance(node.op, _ELEMENTWISE_OPS):
            return broadcast([self.of(node.left), self.of(node.right)])
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.MatMult):
            return matmul_shape(self.of(node.left), self.of(node.right))
        if isinstance(node, gast.Attribute) and node.attr == "T":
            shape = self.of(node.value)
            return shape[::-1] if isinstance(shape, tuple) else None
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Attribute) and \
                node.value.attr == "shape" and literal(node.slice) is not None:
            return ()                                   # a size: X.shape[0]
        if not isinstance(node, gast.Call):
            return None
        helper = _helper_name(node)
        if helper in _LIKE and len(node.args) > _LIKE[helper]:
            return self.of(node.args[_LIKE[helper]])
        if helper == "reduced_count":
            return ()
        if _dotted(node.func) == self.np + ".expand_dims" and len(node.args) == 2:
            return _expanded(self.of(node.args[0]), node.args[1])
        if _np_call(node, self.np) and not node.keywords:
            return broadcast([self.of(a) for a in node.args])
        if _dotted(node.func) in (self.np + ".sum", self.np + ".mean") and len(node.args) == 1:
            keywords = {k.arg: k.value for k in node.keywords}
            keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
            if set(keywords) <= {"axis", "keepdims"} and isinstance(keep, gast.Constant):
                return reduced_shape(self.of(node.args[0]), keywords.get("axis"),
                                     bool(keep.value))
        return None


def with_shapes(fdef: gast.FunctionDef, shapes: dict, np_name: str) -> gast.FunctionDef:
    """Use what is known of the shapes of primal values (``analysis.shapes``):

    * ``expand_reduced(g, x, ...)`` whose value meets a value of ``x``'s full shape in an
      elementwise operation before it is stored, returned or passed on is not expanded:
      ``g`` broadcasts in that operation, so no array of ``x``'s size is made
      (``2.0 * (g * r)``, not ``np.full`` and two products);
    * a runtime helper that reads only the shape of ``x`` reads a parameter of the same shape
      instead, so a primal value computed only for its shape becomes dead code.
    """
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    full = {}                              # a known shape -> the first parameter of it
    sizes = {}                             # a dimension symbol -> (parameter, axis)
    for p in params:
        shape = shapes.get(p)
        if not isinstance(shape, tuple):
            continue
        if None not in shape:
            full.setdefault(shape, p)
        for i, d in enumerate(shape):
            if isinstance(d, str):
                sizes.setdefault(d, (p, i))
    parents = _parents(fdef)
    for site in list(walk(fdef)):
        helper = _helper_name(site)
        if helper in _SHAPE_ONLY and len(site.args) > _SHAPE_ONLY[helper]:
            like = site.args[_SHAPE_ONLY[helper]]
            shape = shapes.get(like.id) if isinstance(like, gast.Name) else None
            count = _count(shape, site.args[1], sizes) if helper == "reduced_count" and len(
                site.args) == 2 else None
            if count is not None:
                _replace_child(parents[id(site)], site, count)
            elif shape in full and like.id not in params:
                site.args[_SHAPE_ONLY[helper]] = name(full[shape])
    rejected: set = set()
    done: list = []
    while True:
        tree = _Tree(fdef)
        parents = tree.parents
        known = _Shapes(fdef, shapes, np_name)
        if not all(_absorbed(node, shape, tree, known) for node, shape, _ in done):
            undo = done.pop()                # the last one broke an earlier one: restore
            parent, field, expand = undo[2]
            _set_child(parent, field, undo[0], expand)
            rejected.add(id(expand))
            continue
        candidates = [n for n in walk(fdef) if _helper_name(n) == "expand_reduced"
                      and id(n) not in rejected and len(n.args) == 4]
        for expand in candidates:
            g, x, axis, keepdims = expand.args
            shape = shapes.get(x.id) if isinstance(x, gast.Name) else None
            if not (isinstance(shape, tuple) and None not in shape and isinstance(
                    keepdims, gast.Constant) and _absorbed(expand, shape, tree, known)):
                rejected.add(id(expand))
                continue
            if keepdims.value or isinstance(axis, gast.Constant) and axis.value is None or \
                    known.of(g) == () or _leading(axis, len(shape)):
                compact = g     # a scalar, kept or leading dimensions: broadcasts as it is
            else:
                compact = gast.Call(func=attr(name(np_name), "expand_dims"), args=[g, axis],
                                    keywords=[])
            parent = parents[id(expand)]
            field = _replace_child(parent, expand, compact)
            done.append((compact, shape, (parent, field, expand)))
            break
        else:
            break
    for compact, _, (parent, field, _) in done:     # np.expand_dims of what became a scalar
        if _dotted(compact.func if isinstance(compact, gast.Call) else None).endswith(
                ".expand_dims") and known.of(compact.args[0]) == ():
            _set_child(parent, field, compact, compact.args[0])
    return fdef


def shaped_rewrites(fdef: gast.FunctionDef, shapes: dict, np_name: str):
    """The last passes, on the final code: ``_ShapedPeephole`` on derivative statements,
    then ``b = b + e`` -> ``b += e`` where ``b`` owns its buffer (ownership is decided here
    because no later rewrite may turn it into an alias: ``1.0 * w`` made a new array, ``w``
    would not)."""
    peephole = _ShapedPeephole(_Shapes(fdef, shapes, np_name))
    written = _written(fdef, np_name)
    for s in walk_statements(fdef.body):
        if getattr(s, "srcad_derivative", False) and getattr(s, "value", None) is not None:
            peephole.guard = _Guard(s, written, np_name)
            s.value = peephole.visit(s.value)
    _InPlace(_Shapes(fdef, shapes, np_name), _load_counts(fdef)).block(fdef.body, set())
    return fdef


class _InPlace:
    """``b = b + e`` -> ``b += e`` where ``b`` owns its buffer: it holds an array made in
    this function (by arithmetic, a NumPy function or zeros) that no other name, container
    or view shares, and ``b + e`` has ``b``'s shape. No array is allocated for the sum."""

    _FRESH_HELPERS = ("zeros_like",)

    def __init__(self, known: _Shapes, loads: dict):
        self.known = known
        self.loads = loads

    def fresh(self, value) -> bool:
        """Does ``value`` make a new array (never a view or an argument passed through)?"""
        if not self.known.full(value):
            return False
        if isinstance(value, gast.BinOp) or isinstance(value, gast.UnaryOp) and isinstance(
                value.op, gast.USub):
            return True
        return isinstance(value, gast.Call) and (
            _helper_name(value) in self._FRESH_HELPERS or _np_call(value, self.known.np)
            or _dotted(value.func) == self.known.np + ".sum")

    def shared(self, node) -> set:
        """Names ``node`` reads where the array may become shared: anything but an operand
        of arithmetic or an argument of an elementwise NumPy function or np.sum."""
        out = set()
        parents = _parents(node)
        for n in walk(node):
            if not (isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)):
                continue
            parent = parents.get(id(n))
            safe = isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)) or (
                isinstance(parent, gast.Call) and n in parent.args and (
                    _np_call(parent, self.known.np)
                    or _dotted(parent.func) in (self.known.np + ".sum", self.known.np + ".vdot")))
            if not safe:
                out.add(n.id)
        return out

    def block(self, stmts, owned: set):
        for i, s in enumerate(stmts):
            if getattr(s, "srcad_comment", None) is not None:
                continue
            if isinstance(s, (gast.For, gast.While, gast.If)):
                inside = self.kept_through(s, owned)
                self.block(s.body, set(inside))
                self.block(s.orelse, set(inside))
                owned.intersection_update(inside)
                continue
            target = s.targets[0].id if isinstance(s, gast.Assign) and len(
                s.targets) == 1 and isinstance(s.targets[0], gast.Name) else None
            value = getattr(s, "value", None)
            if target in owned and self.accumulates(s, target):
                stmts[i] = gast.AugAssign(target=name(target, gast.Store()), op=value.op,
                                          value=value.right)
                self.loads[target] -= 1          # the target is no longer read as a name
                owned -= self.shared(value.right)
                continue
            if target is not None and isinstance(value, gast.Name) and value.id in owned and \
                    self.read_before_write(value.id, stmts, i, target):
                owned.discard(value.id)          # the buffer moves to ``target``
                owned.add(target)
                continue
            owned -= self.shared(s) if value is None else self.shared(value)
            if target is None:
                owned -= {n.id for n in walk(s) if isinstance(n, gast.Name)
                          and not isinstance(n.ctx, gast.Load)}
            elif self.fresh(value):
                owned.add(target)
            else:
                owned.discard(target)
                if isinstance(value, gast.Name):
                    owned.discard(value.id)

    def accumulates(self, s, target) -> bool:
        value = s.value
        return (isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Sub))
                and isinstance(value.left, gast.Name) and value.left.id == target
                and target not in _loads(value.right) and self.known.full(value.left)
                and broadcast([self.known.of(value.left), self.known.of(value.right)])
                == self.known.of(value.left))

    def read_before_write(self, n, stmts, i, target) -> bool:
        """After ``target = n`` (``stmts[i]``), is ``n`` read only in this block, only
        before the next statement that writes ``target``, and only as an operand (never
        bound to another name, ``c = n``, which would share the buffer)? Then writing into
        ``target`` in place changes nothing ``n`` is still read for."""
        end = next((j for j in range(i + 1, len(stmts)) if target in _stores(stmts[j])),
                   len(stmts))
        if end < len(stmts) and isinstance(stmts[end], (gast.Assign, gast.AugAssign)):
            end += 1                  # that write reads its right-hand side first
        before = sum(_load_counts(s).get(n, 0) for s in stmts[:end])
        between = stmts[i + 1:end]
        return before == self.loads.get(n, 0) and not any(
            isinstance(s, (gast.For, gast.While, gast.If)) or n in self.shared(
                s if getattr(s, "value", None) is None else s.value) for s in between)

    def kept_through(self, loop, owned) -> set:
        """The owned names a loop or branch only accumulates into or reads as operands."""
        kept = set()
        for n in owned:
            ok = True
            for s in walk(loop):
                if not isinstance(s, gast.stmt) or isinstance(s, (gast.For, gast.While,
                                                                  gast.If)):
                    continue
                stores = {m.id for m in walk(s) if isinstance(m, gast.Name)
                          and not isinstance(m.ctx, gast.Load)}
                if n in stores and not self.accumulates(s, n):
                    ok = False
                value = getattr(s, "value", None)
                if n in (self.shared(value) if value is not None else self.shared(s)):
                    ok = False
            header = [getattr(loop, "test", None), getattr(loop, "iter", None),
                      getattr(loop, "target", None)]
            if any(n in {m.id for m in walk(h) if isinstance(m, gast.Name)}
                   for h in header if h is not None):
                ok = False
            if ok:
                kept.add(n)
        return kept


def _stores(stmt) -> set:
    out = {n.id for n in walk(stmt) if isinstance(n, gast.Name)
           and not isinstance(n.ctx, gast.Load)}
    return out | {n.target.id for n in walk(stmt) if isinstance(n, gast.AugAssign)
                  and isinstance(n.target, gast.Name)}


class _ShapedPeephole(gast.NodeTransformer):
    """Rewrites of derivative code that need shapes: ``np.sum(a * (-b / s))`` ->
    ``-(np.vdot(a, b) / s)`` (one pass, no temporaries); ``s1 * (-a / s2)`` ->
    ``-(s1 / s2) * a`` (one pass over ``a``, not three); the runtime matmul adjoints of 1-D
    and 2-D operands as the product they compute (``g @ b.T``)."""

    def __init__(self, known: _Shapes):
        self.known = known
        self.np = known.np

    guard = staticmethod(lambda node, new: new)      # set per statement (_Guard)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (gast.Mult, gast.Div)):
            return self.guard(node, self.group_scalars(node) or node)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.USub):
            return self.guard(node, self.group_scalars(node) or node)
        return node

    def group_scalars(self, node):
        """A product of arrays and scalars (``dtau * (-z / tau)``) as one scalar times the
        arrays (``-dtau / tau * z``), when that takes fewer passes over the arrays; None
        otherwise (also when a shape is unknown)."""
        factors, divisors, sign = self.factors(node)
        if factors is None or not self.known.full(node):
            return None
        shapes = [self.known.of(e) for e in factors + divisors]
        if any(not isinstance(shape, tuple) for shape in shapes):
            return None
        scalars = [f for f in factors if self.known.of(f) == ()]
        arrays = [f for f in factors if self.known.of(f) != ()]
        scalar_divisors = [d for d in divisors if self.known.of(d) == ()]
        array_divisors = [d for d in divisors if self.known.of(d) != ()]
        grouped = bool(scalars or scalar_divisors or sign)
        if not arrays or len(arrays) - 1 + len(array_divisors) + grouped >= self.passes(node):
            return None
        part = scalars[0] if scalars else gast.Constant(value=1.0, kind=None)
        for f in scalars[1:]:
            part = gast.BinOp(left=part, op=gast.Mult(), right=f)
        for d in scalar_divisors:
            part = gast.BinOp(left=part, op=gast.Div(), right=d)
        scaled = bool(scalars or scalar_divisors)
        if sign and scaled:
            part = gast.UnaryOp(op=gast.USub(), operand=part)
        out = gast.BinOp(left=part, op=gast.Mult(), right=arrays[0]) if scaled else arrays[0]
        for f in arrays[1:]:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        for d in array_divisors:
            out = gast.BinOp(left=out, op=gast.Div(), right=d)
        return gast.UnaryOp(op=gast.USub(), operand=out) if sign and not scaled else out

    def passes(self, node) -> int:
        """How many operations of a product tree work on whole arrays."""
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return (self.known.of(node) != ()) + self.passes(node.operand)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
            return (self.known.of(node) != ()) + self.passes(node.left) + self.passes(
                node.right)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Div):
            return (self.known.of(node) != ()) + self.passes(node.left)
        return 0

    def visit_Call(self, node):
        self.generic_visit(node)
        helper = _helper_name(node)
        if helper in ("matmul_adjoint_lhs", "matmul_adjoint_rhs") and len(node.args) == 3:
            return self.matmul_adjoint(helper.endswith("lhs"), *node.args) or node
        if _dotted(node.func) == self.np + ".sum" and len(node.args) == 1:
            return self.sum_of_product(node) or node
        return node

    def matmul_adjoint(self, lhs, g, a, b):
        ra, rb = (len(s) if isinstance(s, tuple) else None
                  for s in (self.known.of(a), self.known.of(b)))
        np_ = name(self.np)

        def matmul(x, y):
            return gast.BinOp(left=x, op=gast.MatMult(), right=y)

        def transposed(x):
            return attr(x, "T")
        if (ra, rb) == (2, 2):
            return matmul(g, transposed(b)) if lhs else matmul(transposed(a), g)
        if (ra, rb) == (2, 1):
            return call(attr(np_, "outer"), g, b) if lhs else matmul(transposed(a), g)
        if (ra, rb) == (1, 2):
            return matmul(b, g) if lhs else call(attr(np_, "outer"), a, g)
        if (ra, rb) == (1, 1):
            return gast.BinOp(left=g, op=gast.Mult(), right=b if lhs else a)
        return None

    def sum_of_product(self, node):
        """``np.sum`` of a product: factors constant along the summed axes are taken out
        (``np.sum(g * (-x / s), axis=0)`` -> ``-(np.sum(g * x, axis=0) / s)`` when ``s`` does
        not vary along axis 0), and a full sum of two same-shaped arrays is ``np.vdot``
        (real arrays: the dot product of their flattened elements). None: no change."""
        keywords = {k.arg: k.value for k in node.keywords}
        keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
        axis = keywords.get("axis", gast.Constant(value=None, kind=None))
        full = self.known.of(node.args[0])
        if set(keywords) - {"axis", "keepdims"} or not isinstance(keep, gast.Constant) or \
                not isinstance(full, tuple) or None in full or not full:
            return None
        reduced = axes_of(axis, len(full))
        if reduced is None:
            return None
        factors, divisors, sign = self.factors(node.args[0])
        if factors is None:
            return None

        def outside(e):
            """Constant along the summed axes, and shaped to multiply the sum."""
            shape = self.known.of(e)
            if not isinstance(shape, tuple) or None in shape:
                return False
            lead = len(full) - len(shape)
            if keep.value:
                return all(a < lead or shape[a - lead] == 1 for a in reduced)
            return all(a < lead for a in reduced)
        inside = [f for f in factors if not outside(f)]
        out_f = [f for f in factors if outside(f)]
        out_d = [d for d in divisors if outside(d)]
        vdot = len(inside) == 2 and len(reduced) == len(full) and not keep.value and all(
            self.known.of(f) == full for f in inside)
        if len(out_d) != len(divisors) or not inside or not (vdot or out_f or out_d or sign):
            return None
        if vdot:
            out = call(attr(name(self.np), "vdot"), *inside)
        else:
            product = inside[0]
            for f in inside[1:]:
                product = gast.BinOp(left=product, op=gast.Mult(), right=f)
            out = gast.Call(func=node.func, args=[product], keywords=node.keywords)
        for f in out_f:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        for d in out_d:
            out = gast.BinOp(left=out, op=gast.Div(), right=d)
        return gast.UnaryOp(op=gast.USub(), operand=out) if sign else out

    def factors(self, product):
        """``product`` as (factors, divisors, negated), or (None, ...) when a divisor's shape
        is unknown."""
        factors, divisors, sign = [], [], False
        stack = [product]
        while stack:
            e = stack.pop()
            if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
                sign = not sign
                stack.append(e.operand)
            elif isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
                stack += [e.right, e.left]
            elif isinstance(e, gast.BinOp) and isinstance(e.op, gast.Div):
                if not isinstance(self.known.of(e.right), tuple):
                    return None, None, None
                divisors.append(e.right)
                stack.append(e.left)
            elif _number(e) != 1.0:          # a factor 1.0 changes nothing
                factors.append(e)
        return factors, divisors, sign


def _count(shape, axis, sizes):
    """``reduced_count(x, axis)`` for ``x`` of the known ``shape``, as the product of the
    parameters' dimensions it counts (``X.shape[0]``), else None."""
    axes = axes_of(axis, len(shape)) if isinstance(shape, tuple) and None not in shape else None
    if axes is None:
        return None
    out = None
    for d in (shape[a] for a in sorted(axes)):
        if d == 1:
            continue
        if d not in sizes:
            return None
        p, i = sizes[d]
        factor = gast.Subscript(value=attr(name(p), "shape"),
                                slice=gast.Constant(value=i, kind=None), ctx=gast.Load())
        out = factor if out is None else gast.BinOp(left=out, op=gast.Mult(), right=factor)
    return out if out is not None else gast.Constant(value=1, kind=None)


def _leading(axis, ndim) -> bool:
    """Is the literal ``axis`` (an int or a tuple) the first dimensions of ``ndim``?"""
    axes = axes_of(axis, ndim)
    return axes is not None and axes == set(range(len(axes)))


def _expanded(shape, axis):
    """``shape`` after ``np.expand_dims`` over the literal ``axis`` (an int or a tuple)."""
    count = len(axis.elts) if isinstance(axis, gast.Tuple) else 1
    axes = axes_of(axis, len(shape) + count) if isinstance(shape, tuple) else None
    if axes is None or len(axes) != count:
        return None
    rest = iter(shape)
    return tuple(1 if i in axes else next(rest) for i in range(len(shape) + count))


def _replace_child(parent, old, new):
    for field, value in gast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return field
        if isinstance(value, list) and any(v is old for v in value):
            value[[i for i, v in enumerate(value) if v is old][0]] = new
            return field
    raise AssertionError("not a child")


def _set_child(parent, field, old, new):
    value = getattr(parent, field)
    if isinstance(value, list):
        value[[i for i, v in enumerate(value) if v is old][0]] = new
    else:
        setattr(parent, field, new)


class _Tree:
    """Parents, reads and writes of every name in a tree, gathered in one walk."""

    def __init__(self, root):
        self.parents = _parents(root)
        self.uses: dict = {}
        self.stores: dict = {}
        for node in walk(root):
            if isinstance(node, gast.Name):
                table = self.uses if isinstance(node.ctx, gast.Load) else self.stores
                table.setdefault(node.id, []).append(node)


def _absorbed(node, shape, tree, known) -> bool:
    """Does every value computed from ``node`` (a value that broadcasts to ``shape``) meet a
    value of exactly ``shape`` in an elementwise operation before it is stored, returned or
    passed to anything else?"""
    parent = tree.parents.get(id(node))
    if isinstance(parent, gast.UnaryOp) and isinstance(parent.op, gast.USub):
        return _absorbed(parent, shape, tree, known)
    if isinstance(parent, gast.BinOp) and isinstance(parent.op, _ELEMENTWISE_OPS):
        other = known.of(parent.right if parent.left is node else parent.left)
        if isinstance(other, tuple) and None not in other and other and broadcast(
                [shape, other]) == other:
            return True                        # the result is shaped like ``other``
        return other == () and _absorbed(parent, shape, tree, known)
    if isinstance(parent, gast.Call) and _dotted(parent.func).endswith(".expand_dims") and len(
            parent.args) == 2 and parent.args[0] is node and literal(parent.args[1]) == -1:
        return _absorbed(parent, shape + (1,), tree, known)
    if isinstance(parent, gast.Assign) and parent.value is node and len(
            parent.targets) == 1 and isinstance(parent.targets[0], gast.Name):
        t = parent.targets[0].id
        uses = tree.uses.get(t, [])
        return len(tree.stores.get(t, [])) == 1 and bool(uses) and all(
            _absorbed(n, shape, tree, known) for n in uses)
    return False


def _dotted(func) -> str:
    """``np.exp`` for the function of a call, however it is spelled (templates bind runtime
    and NumPy references as dotted names)."""
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return _dotted(func.value) + "." + func.attr
    return ""


def _helper_name(call):
    """``helper`` for a call ``_srcad.helper(...)``, else None."""
    if isinstance(call, gast.Call):
        root, _, helper = _dotted(call.func).rpartition(".")
        if root == "_srcad":
            return helper
    return None


def _np_call(call, np_name) -> bool:
    """Is ``call`` ``np.f(...)`` for an elementwise NumPy function ``f`` (or an elementwise
    runtime helper, ``_srcad.sigmoid``)?"""
    import numpy

    from . import registry, runtime
    root, _, attribute = _dotted(call.func).rpartition(".")
    module = numpy if root == np_name else runtime if root == "_srcad" else None
    rule = registry.lookup(getattr(module, attribute, None)) if module is not None else None
    return rule is not None and bool(rule.extra.get("elementwise"))


# -- nesting single-use temporaries ------------------------------------------------------------

_MAX_NESTED_OPS = 4


def inline_temporaries(fdef: gast.FunctionDef, user_names: set) -> gast.FunctionDef:
    """``_t = e`` (a srcad temporary, or its derivative: ``b_t``, ``d_t``) used once, later in
    the same block, is written into its use:
    ``h = np.tanh(X @ W1 + b1)`` rather than three statements. The code reads like the
    user's, and the intermediate array is freed as soon as it is used, as in a hand-written
    gradient, instead of living until the function returns. Only srcad's own temporaries
    (``_``-names the user did not write) are nested, only straight-line code is crossed, only
    pure expressions are moved, and past nothing that rebinds or mutates what they read."""
    stores = _assign_counts(fdef)
    loads = _load_counts(fdef)

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

    def visit(stmts):
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner:
                    visit(inner)
        i = 0
        while i < len(stmts):
            t = temporary(stmts[i])
            if t is not None and _nest(stmts, i, t):
                del stmts[i]
                continue
            i += 1
    visit(fdef.body)
    return fdef


def _movable(value) -> bool:
    """May ``value`` be evaluated later than written? Not if it calls a function srcad has
    no rule for (``np.random.rand``: moving a draw past another changes both)."""
    import math

    from . import registry
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


def _parents(root) -> dict:
    """id(node) -> its parent, for every node below ``root``."""
    return {id(child): node for node in walk(root) for child in gast.iter_child_nodes(node)}


# -- memory: what a value may share, what a statement writes into ------------------------------
# Rewrites must not make a value that was a new array into one that shares an array written in
# place (``dt = dy * 1.0`` -> ``dt = dy`` before ``dt[0] = ...`` wrote into the caller's
# tangent), and generated code never writes into the memory of what the caller passed.

_FRESH_NUMPY = frozenset({
    "sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "nansum", "nanmean",
    "cumsum", "cumprod", "average", "median", "ptp", "any", "all", "argmax", "argmin", "argsort",
    "sort", "dot", "vdot", "inner", "outer", "matmul", "tensordot", "kron", "trace", "cross",
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
    "eye", "identity", "arange", "linspace", "logspace", "array", "copy", "concatenate",
    "stack", "hstack", "vstack", "dstack", "column_stack", "tile", "repeat", "pad", "where",
    "take", "take_along_axis", "clip", "roll", "diff", "tril", "triu", "round", "around",
    "shape", "ndim", "size", "count_nonzero", "bincount", "unique", "searchsorted", "interp",
    "select", "nan_to_num", "append", "insert", "delete", "tri", "diagflat", "isclose",
    "allclose", "array_equal"})
_FRESH_METHODS = frozenset({
    "copy", "astype", "sum", "mean", "prod", "max", "min", "std", "var", "dot", "tolist", "item",
    "cumsum", "cumprod", "all", "any", "argmax", "argmin", "flatten", "round", "clip", "trace",
    "index", "count"})
_FRESH_BUILTINS = frozenset({"len", "float", "int", "bool", "abs", "range", "sum", "round",
                             "str", "isinstance", "pow", "divmod", "any", "all"})
_LIST_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "reverse"})
_ARRAY_MUTATORS = frozenset({"sort", "fill", "resize", "put", "itemset", "partition"})
_WRITING_HELPERS = frozenset({"take_and_zero", "add_at"})     # write into their first argument


def _root(node):
    """The name whose memory ``x``, ``x[i]``, ``x.T[i]``... is, else None."""
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def shares(node, np_name) -> set:
    """Names whose memory the value of ``node`` may share: the name itself, a view of it
    (``x[1:]``, ``x.T``, ``np.reshape(x, s)``), an argument a call may hand back
    (``unbroadcast(g, x)`` is ``g`` when nothing was broadcast); none for a value made anew
    (arithmetic, a ufunc, a reduction, a copy)."""
    return {n.id for n in _exposed(node, np_name) if isinstance(n, gast.Name)}


def _exposed(node, np_name) -> list:
    """The nodes whose value ``node``'s value may be: itself, a subscript's or attribute's
    base, what a call hands back, a container's items, recursively."""
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append(n)
        if isinstance(n, (gast.Subscript, gast.Attribute, gast.Starred)):
            todo.append(n.value)
        elif isinstance(n, gast.Call):
            todo += _passed_through(n, np_name)
        elif not isinstance(n, (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp,
                                gast.Compare)):        # ``a or b``, ``x if c else y``, lists
            todo += [c for c in gast.iter_child_nodes(n) if isinstance(c, gast.expr)]
    return out


def _passed_through(call, np_name) -> list:
    """The operands of ``call`` its result may share memory with (its receiver included)."""
    import numpy

    from . import runtime
    func = call.func
    root, _, attribute = _dotted(func).rpartition(".")
    operands = list(call.args) + [k.value for k in call.keywords]
    if root == "_srcad" and attribute in runtime.SHARES:
        return _operands(call, runtime.SHARES[attribute] + runtime.HOLDS.get(attribute, ()))
    fresh = (root == np_name and (attribute in _FRESH_NUMPY or isinstance(
        getattr(numpy, attribute, None), numpy.ufunc))) or root in (
        np_name + ".linalg", np_name + ".random", "math") or (
        isinstance(func, gast.Attribute) and attribute in _FRESH_METHODS) or (
        isinstance(func, gast.Name) and func.id in _FRESH_BUILTINS)
    if fresh and not any(k.arg in ("out", "copy") for k in call.keywords):
        return []                 # (np.add(a, b, out=c) is c; np.array(a, copy=False) is a)
    return operands + ([func.value] if isinstance(func, gast.Attribute) else [])


def _operands(call, positions) -> list:
    return [call.args[i] for i in sorted(set(positions)) if i < len(call.args)]


def _writes(stmt):
    """(arrays, lists, holders): the names whose memory the simple statement ``stmt`` writes
    into in place (``x[i] = v``, ``b += e``, ``take_and_zero(b, i)``, ``np.add.at(b, i, v)``,
    ``out=``), the lists it changes (``lst.append(v)``), and (list, what it now holds)."""
    arrays, lists, holders = set(), set(), []
    targets = stmt.targets if isinstance(stmt, gast.Assign) else [
        stmt.target] if isinstance(stmt, gast.AugAssign) else []
    for t in targets:
        for e in t.elts if isinstance(t, gast.Tuple) else [t]:
            if not isinstance(e, gast.Name) or isinstance(stmt, gast.AugAssign):
                arrays.add(_root(e))
    for n in walk(stmt):
        if not isinstance(n, gast.Call):
            continue
        root, _, attribute = _dotted(n.func).rpartition(".")
        if n.args and ((root == "_srcad" and attribute in _WRITING_HELPERS)
                       or (attribute == "at" and root)):
            arrays.add(_root(n.args[0]))
        if isinstance(n.func, gast.Attribute):
            if attribute in _ARRAY_MUTATORS:
                arrays.add(_root(n.func.value))
            elif attribute in _LIST_MUTATORS and _root(n.func.value) is not None:
                lists.add(_root(n.func.value))
                holders.append((_root(n.func.value), n.args))
        arrays |= {_root(k.value) for k in n.keywords if k.arg == "out"}
    return arrays - {None}, lists, holders


class _Aliases:
    """Flow-insensitively, which names may share memory (``a = b`` anywhere joins them, as it
    joins a list and what it holds), and the statements that write into memory in place:
    ``sites``, (statement, arrays, lists) as ``_writes`` finds them."""

    def __init__(self, fdef, np_name):
        self.group: dict = {}
        self.sites = []
        for s in walk_statements(fdef.body):
            if isinstance(s, gast.For):
                self.join([t for t in walk(s.target) if isinstance(t, gast.Name)], s.iter,
                          np_name)
            if isinstance(s, (gast.For, gast.If, gast.While)):
                continue
            arrays, lists, holders = _writes(s)
            if arrays or lists:
                self.sites.append((s, arrays, lists))
            for lst, items in holders:
                for item in items:
                    self.join([name(lst)], item, np_name)
            if isinstance(s, gast.Assign) and getattr(s, "srcad_restore", None) is None:
                # (a restore gives a name back a value it held: no new sharing)
                self.join([n for t in s.targets for n in walk(t) if isinstance(n, gast.Name)],
                          s.value, np_name)

    def find(self, n):
        while self.group.get(n, n) != n:
            n = self.group[n]
        return n

    def join(self, names, value, np_name):
        for m in shares(value, np_name):
            for n in names:
                self.group.setdefault(n.id, n.id)
                self.group.setdefault(m, m)
                self.group[self.find(n.id)] = self.find(m)

    def written(self) -> set:
        """The names that may share memory with an array some statement writes into."""
        targets = {n for _, arrays, _ in self.sites for n in arrays}
        roots = {self.find(n) for n in targets}
        return targets | {n for n in self.group if self.find(n) in roots}


def _written(fdef, np_name) -> set:
    return _Aliases(fdef, np_name).written() if _writes_arrays(fdef) else set()


def _writes_arrays(fdef) -> bool:
    """Might ``fdef`` write into an array in place (a quick look, before ``_Aliases``)?"""
    for n in walk(fdef):
        if isinstance(n, gast.AugAssign) or (isinstance(n, gast.Subscript) and isinstance(
                n.ctx, gast.Store)):
            return True
        if isinstance(n, gast.Call) and (any(k.arg == "out" for k in n.keywords) or isinstance(
                n.func, gast.Attribute) and n.func.attr in _WRITING_HELPERS | _ARRAY_MUTATORS
                | {"at"}):
            return True
    return False


def _unguarded(node, new):
    return new


class _Guard:
    """Called as ``guard(node, new)`` by a rewrite about to replace ``node`` in ``stmt``'s
    value by ``new``: ``node`` itself where ``new`` would share memory that ``node`` (a new
    array) did not, and an array written in place is involved (``1.0 * y`` copies ``y``;
    ``y`` would not: ``dt = dy * 1.0`` before ``dt[0] = ...``), else ``new``. Only a
    node the statement's value can be (its root, or what a call there hands back) matters."""

    def __init__(self, stmt, written, np_name):
        self.stmt = stmt
        self.written = written
        self.np = np_name
        self.exposed = None

    def __call__(self, node, new):
        if new is node or not self.written:
            return new
        added = shares(new, self.np) - shares(node, self.np)
        if not added:
            return new
        if self.exposed is None:
            self.exposed = {id(n) for n in _exposed(self.stmt.value, self.np)}
        targets = {n.id for t in getattr(self.stmt, "targets", []) for n in walk(t)
                   if isinstance(n, gast.Name)}
        if id(node) in self.exposed and (added & self.written or targets & self.written):
            return node
        return new


def owned_writes(fdef: gast.FunctionDef, np_name: str = "np",
                 tangents: dict | None = None) -> gast.FunctionDef:
    """Generated code writes only into memory it owns, whatever the passes before did:

    * a parameter whose memory the function writes into (the user's ``x[0] = ...`` and the
      restore of the old element in the adjoint sweep, ``xs.append(v)`` on a list) is copied
      first (``x = x.copy()``): the caller's array, tangent or seed is never written;
    * the tangent of such a parameter, where derivative code writes into it (the tangent of
      the user's write into a view of ``x``: ``dt = dx[1:]``, ``dt[0] = ...``), is copied
      first too, as derivative code's own memory (``tangents``: tangent -> parameter);
    * derivative code that writes into memory that may be a primal value's or a parameter's
      the primal reads (an adjoint that became the array itself, ``bx = y`` ...
      ``take_and_zero(bx, 0)``) is a bug of an earlier pass: an InternalError, never a
      silently wrong derivative.

    A forward analysis follows which memory each name may hold: a parameter's (``("argument",
    p)``), a primal value's (``_PRIMAL``) or derivative code's own (nothing)."""
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    if not _may_write_unowned(fdef, params, np_name):
        return fdef
    flow = _MemoryFlow(fdef, params, np_name)
    copied = [p for p in params if p in flow.primal_writes]
    owned = [t for t, p in (tangents or {}).items() if p in copied
             and t in flow.derivative_writes]
    if copied or owned:
        copies = [assign(p, call(attr(name(p), "copy"))) for p in copied + owned]
        mark_derivative(copies[len(copied):])
        fdef.body = copies + fdef.body
        flow = _MemoryFlow(fdef, params, np_name, copied, owned)
    if flow.unowned:
        from .errors import InternalError
        stmt, b = flow.unowned[0]
        raise InternalError("optimize", f"derivative code (for line {getattr(stmt, 'lineno', '?')})"
                            f" writes into {b!r}, which may be an argument's or a primal "
                            f"value's memory")
    return fdef


def _may_write_unowned(fdef, params, np_name) -> bool:
    """Flow-insensitively: may a statement write into a parameter's memory, or derivative code
    into a primal value's? (When not, ``_MemoryFlow`` need not run.)"""
    aliases = _Aliases(fdef, np_name)
    if not aliases.sites:
        return False
    primal = {n.id for s in walk_statements(fdef.body) if not getattr(
        s, "srcad_derivative", False) for t in getattr(s, "targets", []) for n in walk(t)
        if isinstance(n, gast.Name)}
    suspect = {aliases.find(p) for p in params}
    derivative_suspect = suspect | {aliases.find(n) for n in primal}
    for stmt, arrays, lists in aliases.sites:
        derivative = getattr(stmt, "srcad_derivative", False) and getattr(
            stmt, "srcad_restore", None) is None
        if {aliases.find(n) for n in lists} & suspect or {aliases.find(n) for n in arrays} & (
                derivative_suspect if derivative else suspect):
            return True
    return False


class _MemoryFlow:
    """Which memory each name may hold at each statement (joined over branches, iterated to
    a fixed point over loops), and the writes into memory the writer does not own:
    ``primal_writes``, the parameters primal code (or a restore) writes into; ``unowned``,
    (statement, name) where derivative code writes into a parameter's or a primal value's
    memory. A list holds its items' memory as ``("item", label)``: appending to a
    list writes into the list, not into what it holds."""

    def __init__(self, fdef, params, np_name, copied=(), owned=()):
        self.np = np_name
        self.found: dict = {}
        self.ever: dict = {}                # name -> all it was bound to so far
        state = {p: frozenset() if p in owned else frozenset(
            {_PRIMAL if p in copied else ("argument", p)}) for p in params}
        self.ever.update(state)
        self.block(fdef.body, state)
        self.primal_writes = set()
        self.derivative_writes = set()
        self.unowned = []
        for stmt, arrays, lists in self.found.values():
            restore = getattr(stmt, "srcad_restore", None) is not None or getattr(
                stmt, "srcad_list_restore", None) is not None
            if not getattr(stmt, "srcad_derivative", False) or restore:
                self.primal_writes |= _arguments(*arrays.values(), *lists.values())
                continue
            self.primal_writes |= _arguments(*lists.values())
            self.derivative_writes |= _arguments(*arrays.values())
            self.unowned += [(stmt, b) for b, held in sorted(arrays.items()) if _own(held)]

    def held(self, node, state) -> frozenset:
        """The memory the value of ``node`` may be (or, as items, hold)."""
        if isinstance(node, gast.Name):
            return state.get(node.id, frozenset())
        if isinstance(node, (gast.Subscript, gast.Starred)):      # a view, or an item
            return _items_out(self.held(node.value, state))
        if isinstance(node, gast.Attribute):
            return self.held(node.value, state)
        if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
            return _items_in(self.union(node.elts, state))
        if isinstance(node, gast.Call):
            return self.call(node, state)
        if isinstance(node, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare)):
            return frozenset()
        return self.union([c for c in gast.iter_child_nodes(node)
                           if isinstance(c, gast.expr)], state)

    def call(self, node, state) -> frozenset:
        from . import runtime
        root, _, helper = _dotted(node.func).rpartition(".")
        if root == "_srcad" and helper in runtime.SHARES:      # what it is, what it holds
            return self.union(_operands(node, runtime.SHARES[helper]), state) | _items_in(
                self.union(_operands(node, runtime.HOLDS.get(helper, ())), state))
        if isinstance(node.func, gast.Attribute) and node.func.attr == "pop":
            return _items_out(self.held(node.func.value, state))
        return self.union(_passed_through(node, self.np), state)

    def union(self, nodes, state) -> frozenset:
        return frozenset().union(*(self.held(n, state) for n in nodes))

    def block(self, stmts, state):
        for s in stmts:
            if isinstance(s, gast.If):
                other = dict(state)
                self.block(s.body, state)
                self.block(s.orelse, other)
                _join(state, other)
            elif isinstance(s, (gast.For, gast.While)):
                while True:
                    before = dict(state)
                    if isinstance(s, gast.For):
                        for t in walk(s.target):
                            if isinstance(t, gast.Name):
                                state[t.id] = _items_out(self.held(s.iter, state))
                    self.block(s.body, state)
                    _join(state, before)
                    if state == before:
                        break
            else:
                self.simple(s, state)

    def simple(self, s, state):
        arrays, lists, _ = _writes(s)
        self.found[id(s)] = (s, {b: state.get(b, frozenset()) for b in arrays},
                             {b: state.get(b, frozenset()) for b in lists})
        for n in walk(s):                    # lst.append(v): the list holds v
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    n.func.attr in _LIST_MUTATORS and _root(n.func.value) is not None:
                b = _root(n.func.value)
                state[b] = state.get(b, frozenset()) | _items_in(self.union(n.args, state))
        if not isinstance(s, gast.Assign):
            return
        held = self.held(s.value, state)
        if not getattr(s, "srcad_derivative", False):
            held |= {_PRIMAL}
        restore = getattr(s, "srcad_restore", None) is not None
        for t in s.targets:
            if isinstance(t, (gast.Name, gast.Tuple)):
                for e in walk(t):
                    if isinstance(e, gast.Name):       # a restore: a value it held before
                        state[e.id] = self.ever.get(e.id, frozenset()) if restore else held
                        self.ever[e.id] = self.ever.get(e.id, frozenset()) | state[e.id]
            elif _root(t) is not None:         # lst[i] = v: the list holds v
                state[_root(t)] = state.get(_root(t), frozenset()) | _items_in(held)


_PRIMAL = ("primal",)


def _items_in(held) -> frozenset:
    """The labels of a container holding values that may be ``held`` (two levels deep, then
    a list of lists of lists counts as a list of lists: more memory than it holds, never
    less)."""
    return frozenset(label if label[0] == "item" and label[1][0] == "item" else (
        "item", label) for label in held)


def _items_out(held) -> frozenset:
    """The labels of a value read from what may be ``held`` (a view of an array is the
    array's memory; an item of a list, the item's)."""
    return frozenset(label[1] if label[0] == "item" else label for label in held)


def _own(held) -> frozenset:
    """The memory a value may itself be (not what it holds as items)."""
    return frozenset(label for label in held if label[0] != "item")


def _arguments(*held) -> set:
    """The parameters whose memory is among the ``held`` labels (not as items)."""
    return {label[1] for h in held for label in h if label[0] == "argument"}


def _join(state, other):
    """``state`` where either may hold what either held."""
    for n, held in other.items():
        state[n] = state.get(n, frozenset()) | held
