"""``with_shapes`` (specialized derivatives): what the argument shapes prove, used on the
derivative code; and ``_Shapes``, the shapes of its values, which the later shaped passes
read.

Input: an optimized FunctionDef and ``analysis.shapes`` of the primal values for the argument
shapes the variant is built for. Output: the same values, where ``expand_reduced`` whose
result broadcasts in an elementwise operation anyway is not expanded (or is
``np.expand_dims``), ``reduced_count`` is a product of parameter dimensions
(``X.shape[0]``), and helpers reading only a shape read a parameter of that shape.
"""
from __future__ import annotations

import gast

from ..analysis import (axes_of, broadcast, join_tracked, literal, matmul_shape, reduced_shape,
                        walk, walk_statements)
from ..nodes import attr, name
from ..sharing import _dotted
from .tree import _helper_name, _np_call, _replace_child, _set_child

__all__ = ["with_shapes"]

_SHAPE_ONLY = {"expand_reduced": 1, "reduced_count": 0, "unbroadcast": 1, "broadcast_like": 1}
_LIKE = {"expand_reduced": 1, "unbroadcast": 1, "broadcast_like": 1, "zeros_like": 0,
         "group_weights": 0,
         "tangent_zeros": 0, "scalar_seed": 0, "matmul_adjoint_lhs": 1, "matmul_adjoint_rhs": 2}
_ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div)
_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "amax", "amin", "prod"})
_ARRANGED = _REDUCTIONS | {"transpose", "swapaxes", "flip", "cumsum", "cumprod"}


class _Shapes:
    """Shapes of the values of derivative code: the primal values' from ``analysis.shapes``,
    the others inferred from every assignment to them (joined, as there), through
    elementwise operations, sums and the runtime helpers whose result is shaped like one of
    their arguments. Only what is certain is known, as in ``analysis.shapes``.

    ``stored``: the names ``fdef`` binds (``Name`` nodes in a store context), when the caller
    has them from its own walk of ``fdef`` as it stands (``_Tree.bound``); else gathered
    here."""

    def __init__(self, fdef, primal: dict, np_name: str, stored: set | None = None):
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
        if stored is None:
            stored = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and isinstance(
                n.ctx, gast.Store)}
        other = stored - {t for t, _ in assigns}    # loop targets, tuple targets
        self.unknown = set(other)
        self._reads: set | None = None      # the names ``of`` reads, while it gathers them
        join_tracked([(t, v) for t, v in assigns if t not in primal], self._tracked,
                     self.known, self.unknown)

    def _tracked(self, node):
        """``of(node)``, and the names whose facts it read."""
        self._reads = reads = set()
        try:
            return self.of(node), reads
        finally:
            self._reads = None

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
            if self._reads is not None:
                self._reads.add(node.id)
            return None if node.id in self.unknown else self.known.get(node.id)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return self.of(node.operand)
        if isinstance(node, gast.BinOp) and isinstance(node.op, _ELEMENTWISE_OPS + (gast.Pow,)):
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
        callee = getattr(node, "srcad_callee", None)
        if helper == "reduced_count" or callee in (len, int, float) or getattr(
                callee, "__module__", None) == "math":
            return ()                                   # a number: len(Y), math.exp(t)
        if _dotted(node.func) == self.np + ".expand_dims" and len(node.args) == 2:
            return _expanded(self.of(node.args[0]), node.args[1])
        if (_np_call(node, self.np) or _binary_ufunc(node, self.np)) and not node.keywords:
            return broadcast([self.of(a) for a in node.args])
        return self.arranged(node)

    def arranged(self, node: gast.Call):
        """The shape of a reduction (``np.sum(a, axis=1)``, ``a.max(0)``), a transpose, an
        axis swap, a flip or a cumulative sum of an array of known shape, written as the NumPy
        function or as the array's method; else None."""
        root, _, function = _dotted(node.func).rpartition(".")
        if root == self.np and node.args:
            array, args = node.args[0], node.args[1:]
        elif isinstance(node.func, gast.Attribute) and function in _ARRANGED and \
                self.of(node.func.value) not in (None, ()):
            array, args = node.func.value, node.args
        else:
            return None
        keywords = {k.arg: k.value for k in node.keywords}
        shape = self.of(array)
        if function in _REDUCTIONS:
            if len(args) > 1 or args and "axis" in keywords or set(keywords) - {
                    "axis", "keepdims"}:
                return None
            keep = keywords.get("keepdims", gast.Constant(value=False, kind=None))
            if not isinstance(keep, gast.Constant):
                return None
            return reduced_shape(shape, args[0] if args else keywords.get("axis"),
                                 bool(keep.value))
        if not isinstance(shape, tuple) or function not in _ARRANGED or keywords and (
                function not in ("flip", "cumsum", "cumprod") or set(keywords) != {"axis"}):
            return None
        if function == "transpose":
            return shape[::-1] if not args else None
        if function == "swapaxes":
            axes = [literal(a) for a in args]
            if len(axes) != 2 or None in axes or any(not -len(shape) <= a < len(shape)
                                                      for a in axes):
                return None
            i, j = (a % len(shape) for a in axes)
            swapped = list(shape)
            swapped[i], swapped[j] = shape[j], shape[i]
            return tuple(swapped)
        if function == "flip":
            return shape if len(args) <= 1 else None
        # cumsum, cumprod: the shape of the array along a given axis (flattened without one)
        axis = args[0] if args else keywords.get("axis")
        return shape if len(args) <= 1 and axis is not None and axes_of(
            axis, len(shape)) is not None and literal(axis) is not None else None


def with_shapes(fdef: gast.FunctionDef, shapes: dict, np_name: str) -> gast.FunctionDef:
    """Use what is known of the shapes of primal values (``analysis.shapes``):

    * ``expand_reduced(g, x, ...)`` whose value meets a value of ``x``'s full shape in an
      elementwise operation (an operator or a NumPy ufunc: ``np.equal(x, m)``) before it is
      stored, returned or passed on is not expanded: ``g`` broadcasts in that operation, so
      no array of ``x``'s size is made (``2.0 * (g * r)``, not ``np.full`` and two
      products); through ``np.expand_dims(v, -1)`` (a new last axis, also written ``k`` for
      ``v`` of rank ``k``), so a mean of row sums gives a scalar, and the row sums, computed
      only for their shape, become dead code;
    * a runtime helper that reads only the shape of ``x`` reads a parameter of the same shape
      instead, so a primal value computed only for its shape becomes dead code;
    * the adjoints of ``np.dot(a, b)`` (``tensordot_adjoint_*`` over ``dot_axes``) are those
      of ``a @ b`` where the ranks prove the two the same product, so that the later passes
      write them as the products they compute (``g @ b.T``).
    """
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    full: dict = {}                        # a known shape -> the first parameter of it
    sizes: dict = {}                       # a dimension symbol -> (parameter, axis)
    for p in params:
        shape = shapes.get(p)
        if not isinstance(shape, tuple):
            continue
        if None not in shape:
            full.setdefault(shape, p)
        for i, d in enumerate(shape):
            if isinstance(d, str):
                sizes.setdefault(d, (p, i))
    _dot_as_matmul(fdef, shapes)
    _last_axis(fdef, lambda: _Shapes(fdef, shapes, np_name))
    parents: dict = {}
    for site in list(walk(fdef, parents)):
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
    rejected: set = set()                  # broke an earlier one: never again
    tried: set = set()                     # not absorbed (yet: tried again after a change)
    done: list = []
    while True:
        tree = _Tree(fdef)
        parents = tree.parents
        known = _Shapes(fdef, shapes, np_name, tree.bound)
        if not all(_absorbed(node, shape, tree, known) for node, shape, _ in done):
            undo = done.pop()                # the last one broke an earlier one: restore
            parent, field, expand = undo[2]
            _set_child(parent, field, undo[0], expand)
            rejected.add(id(expand))
            continue
        candidates = [n for n in tree.calls if _helper_name(n) == "expand_reduced"
                      and id(n) not in rejected | tried and len(n.args) == 4]
        for expand in candidates:
            g, x, axis, keepdims = expand.args
            shape = shapes.get(x.id) if isinstance(x, gast.Name) else None
            if not (isinstance(shape, tuple) and None not in shape and isinstance(
                    keepdims, gast.Constant) and _absorbed(expand, shape, tree, known)):
                tried.add(id(expand))
                continue
            if keepdims.value or isinstance(axis, gast.Constant) and axis.value is None or \
                    known.of(g) == () or _leading(axis, len(shape)):
                compact = g     # a scalar, kept or leading dimensions: broadcasts as it is
            else:               # the last axis as -1, which _absorbed follows
                last = literal(axis) == len(shape) - 1
                compact = gast.Call(func=attr(name(np_name), "expand_dims"), args=[
                    g, gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=1, kind=None))
                    if last else axis], keywords=[])
            tried.clear()
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


def _dot_as_matmul(fdef, shapes):
    """``tensordot_adjoint_lhs(g, a, b, axes)`` (and ``_rhs``), ``axes`` the one value of
    ``dot_axes(x, y)``, -> ``matmul_adjoint_lhs(g, a, b)`` where the ranks of ``a``, ``b``
    (equal to ``x``'s, ``y``'s) are known and ``np.dot`` is ``@`` for them: both operands
    arrays and ``b`` of rank 1 or 2 (``np.dot`` contracts ``b``'s first axis then, as
    ``@`` does)."""
    def rank(node):
        shape = shapes.get(node.id) if isinstance(node, gast.Name) else None
        return len(shape) if isinstance(shape, tuple) else None

    candidates = [node for node in walk(fdef) if isinstance(node, gast.Assign) and _helper_name(
        node.value) == "dot_axes" and len(node.targets) == 1 and isinstance(
        node.targets[0], gast.Name) and len(node.value.args) == 2]
    if not candidates:
        return                        # (no axes to match: the tree is not gathered)
    tree = _Tree(fdef)
    axes_ranks = {}                   # a name holding dot_axes(x, y) -> (rank x, rank y)
    for node in candidates:
        if len(tree.stores.get(node.targets[0].id, ())) == 1:
            axes_ranks[node.targets[0].id] = tuple(map(rank, node.value.args))
    for site in walk(fdef):
        helper = _helper_name(site)
        if helper not in ("tensordot_adjoint_lhs", "tensordot_adjoint_rhs") or len(
                site.args) != 4 or site.keywords or not isinstance(site.args[3], gast.Name):
            continue
        ranks = (rank(site.args[1]), rank(site.args[2]))
        if axes_ranks.get(site.args[3].id) == ranks and ranks[0] and ranks[1] in (1, 2):
            site.func = attr(name("_srcad"), helper.replace("tensordot", "matmul"))
            del site.args[3]


def _last_axis(fdef, facts):
    """``np.expand_dims(v, k)`` with ``k`` the rank of ``v`` -> ``np.expand_dims(v, -1)``: the
    same new last axis, written so that it stays the last one where ``v`` becomes a value of
    lower rank that broadcasts the same (``_absorbed`` follows ``-1`` only). ``facts()``:
    the ``_Shapes`` of ``fdef``, gathered at the first such call (before any rewrite), not
    for a function without one."""
    known = None
    for node in walk(fdef):
        if isinstance(node, gast.Call) and _dotted(node.func).endswith(".expand_dims") and len(
                node.args) == 2 and not node.keywords:
            if known is None:
                known = facts()
            if _dotted(node.func) != known.np + ".expand_dims":
                continue
            shape = known.of(node.args[0])
            if isinstance(shape, tuple) and literal(node.args[1]) == len(shape):
                node.args[1] = gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=1,
                                                                                 kind=None))


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


class _Tree:
    """Parents, reads and writes of every name in a tree, the names it binds (``bound``: in
    a store context, as ``_Shapes`` wants them) and its calls in ``walk``'s order, gathered
    in one walk: valid until the tree changes."""

    def __init__(self, root):
        self.parents: dict = {}
        self.uses: dict = {}
        self.stores: dict = {}
        self.bound: set = set()
        self.calls: list = []
        for node in walk(root, self.parents):
            if isinstance(node, gast.Name):
                if isinstance(node.ctx, gast.Load):
                    self.uses.setdefault(node.id, []).append(node)
                else:
                    self.stores.setdefault(node.id, []).append(node)
                    if isinstance(node.ctx, gast.Store):
                        self.bound.add(node.id)
            elif isinstance(node, gast.Call):
                self.calls.append(node)


def _binary_ufunc(call, np_name) -> bool:
    """Is ``call`` ``np.f(...)`` for an elementwise NumPy ufunc of two operands
    (``np.equal``; not a generalized one, ``np.matmul``, whose shape is no broadcast)?"""
    import numpy

    root, _, attribute = _dotted(call.func).rpartition(".")
    fn = getattr(numpy, attribute, None) if root == np_name else None
    return isinstance(fn, numpy.ufunc) and fn.nin == 2 and fn.signature is None


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
    if isinstance(parent, gast.Call) and _binary_ufunc(parent, known.np) and len(
            parent.args) == 2 and not parent.keywords:
        other = known.of(parent.args[1] if parent.args[0] is node else parent.args[0])
        return isinstance(other, tuple) and None not in other and bool(other) and broadcast(
            [shape, other]) == other       # np.equal(x, m): shaped like the full operand
    if isinstance(parent, gast.Assign) and parent.value is node and len(
            parent.targets) == 1 and isinstance(parent.targets[0], gast.Name):
        t = parent.targets[0].id
        uses = tree.uses.get(t, [])
        return len(tree.stores.get(t, [])) == 1 and bool(uses) and all(
            _absorbed(n, shape, tree, known) for n in uses)
    return False
