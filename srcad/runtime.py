"""The few helpers generated code calls (bound to ``_srcad`` in it), each small enough to read
at a glance. NumPy code that never coerces a user's array (no ``np.asarray``): it calls NumPy
functions, which dispatch to another array type through ``__array_function__`` and
``__array_ufunc__`` (dask, cupy: ``docs/arrays.md``), writes in place only into NumPy arrays,
and copes with shapes of unknown sizes (a dask array of unknown chunk sizes)."""
from __future__ import annotations

import math
import operator
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .batching import Batched, active_count

# what holds an array's memory in derivative code: an array, or a batch of tangents
_ARRAYS = (np.ndarray, Batched)

__all__ = ["unbroadcast", "broadcast_like", "zeros_like", "tangent_zeros", "add_at",
           "expand_reduced", "add_list", "where_taken"]


# The memory each helper's result may share, for the optimizer, which keeps generated code
# from writing into memory it does not own: SHARES, the arguments the result may be (or be a
# view of); HOLDS, the arguments whose memory a new list it returns may hold as items. () for
# a result made anew; a helper not listed may share any of its arguments.
SHARES = {
    "unbroadcast": (0,), "broadcast_like": (0,), "zeros_like": (), "tangent_zeros": (),
    "add_at": (0,), "output_zeros": (),
    "add_list": (), "expand_reduced": (0,), "sigmoid": (), "reduced_count": (),
    "astype": (0,), "take_and_zero": (), "last_write_mask": (), "scalar_seed": (),
    "seed_like": (0,), "stop_gradient": (0,), "zeros_filled": (0,), "unstack_like": (0,),
    "unconcatenate": (), "unjoin": (), "join": (), "untile": (), "unrepeat": (),
    "unpad": (0,), "pad_mode": (), "pad_border": (), "undiagonal": (), "undiag": (),
    "take_index": (1,), "along_axis_index": (1,), "group_weights": (),
    "average_weights_shape": (), "norm_direction": (), "matmul_adjoint_lhs": (),
    "matmul_adjoint_rhs": (), "tensordot_adjoint_lhs": (), "tensordot_adjoint_rhs": (),
    "dot_axes": (), "inner_axes": (), "untrace": (), "kron_adjoint_lhs": (),
    "kron_adjoint_rhs": (), "as_columns": (0,), "from_columns": (0,), "spread": (),
    "gather_sum": (), "scalar_items": (0,), "einsum_tangent": (1, 2), "to_complex": (),
    "real_like": (0,), "saved": (), "zero_if_discrete": (0,), "hook": (0,),
    "checkpoint_every": (), "segment": (), "plus": (0, 1), "sum_part": (0,),
    "unsum_part": (0,), "rows_like": (), "where_taken": (), "item": (), "owned_copy": (),
}
HOLDS = {"add_list": (0, 1), "zeros_filled": (0,), "unstack_like": (0,), "unconcatenate": (0,),
         "unjoin": (0,), "spread": (0,), "seed_like": (0,), "plus": (0, 1), "sum_part": (0,),
         "unsum_part": (0,), "rows_like": (0,), "owned_copy": (0,)}
# The helpers whose result may be a read-only broadcast view (``np.broadcast_to``: one element
# seen at many places), which generated code copies before it writes into it.
BROADCAST_VIEWS = frozenset({"broadcast_like", "expand_reduced", "einsum_operand_adjoint"})


def _shape(x):
    shape = getattr(x, "shape", None)
    return shape if shape is not None else np.shape(x)


def _sizes_known(shape) -> bool:
    """False for a shape with unknown sizes (nan: a dask array of unknown chunk sizes)."""
    return all(isinstance(n, (int, np.integer)) for n in shape)


def _other_array(x) -> bool:
    """An array of a type other than NumPy's (dask, cupy), which NumPy functions dispatch to
    only when it is their argument."""
    return not isinstance(x, _ARRAYS) and hasattr(x, "__array_function__") and \
        not isinstance(x, np.generic)


def _fill_like(g, x, dtype=None):
    """``g`` broadcast over ``x``'s shape when its sizes are unknown (only the array, lazily,
    knows them): an array of x's type."""
    return np.zeros_like(x, dtype=np.result_type(g) if dtype is None else dtype) + g


def unbroadcast(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast, to ``like``'s shape."""
    if isinstance(g, float):      # Python and NumPy float scalars: nothing was broadcast
        return g
    target = _shape(like)
    shape = _shape(g)
    if shape == target:
        return g
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(target) if n == 1 and shape[i + lead] != 1)
    g = np.sum(g, axis=axes, keepdims=False) if lead else np.sum(g, axis=axes, keepdims=True)
    if lead and len(axes) > lead:
        g = np.reshape(g, target)
    return g


def where_taken(g, condition, taken=True):
    """``g`` where ``condition`` is ``taken``, 0 elsewhere: the adjoint contribution of a value
    computed only for a branch of ``np.where(condition, ...)`` (``reverse/guards.py``), which
    is 0 * inf or 0 * nan where the branch is not taken. A condition with more axes than
    ``g`` (``g`` was broadcast into the branch) is reduced to ``g``'s shape: a position of
    ``g`` counts as taken if it reaches any taken position."""
    mask = condition.astype(bool) if hasattr(condition, "astype") else np.asarray(
        condition, dtype=bool)              # a condition of numbers: nonzero is taken
    if not taken:
        mask = ~mask
    shape = _shape(g)
    if tuple(mask.shape) != tuple(shape):
        lead = mask.ndim - len(shape)
        if lead > 0:
            mask = np.any(mask, axis=tuple(range(lead)))
        offset = len(shape) - mask.ndim      # mask's axes are shape's last ones
        axes = tuple(i for i, m in enumerate(mask.shape) if m != 1 and shape[i + offset] == 1)
        if axes:
            mask = np.any(mask, axis=axes, keepdims=True)
    out = np.where(mask, g, 0.0)
    return float(out) if isinstance(g, float) and out.ndim == 0 else out


def broadcast_like(t, like):
    """A tangent with ``like``'s shape (tangents of broadcast operands may be smaller)."""
    if isinstance(like, float):   # a scalar result: nothing to broadcast
        return t
    shape = _shape(like)
    if _shape(t) == shape:
        return t
    if not _sizes_known(shape) or _other_array(like):
        return _fill_like(t, like)
    return np.broadcast_to(t, shape)


def zeros_like(x):
    """A zero derivative shaped like x (a float for Python numbers, a list for lists, a dict
    for dicts; a 0-d
    array for NumPy scalars, np.float64 included, so that ``zero[..., None] += g`` works)."""
    if isinstance(x, (list, tuple)):
        return [zeros_like(v) for v in x]
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if x is None or isinstance(x, (float, int, complex, range, slice, str)) and not isinstance(
            x, np.generic):
        return 0.0        # numbers; None (not yet bound); ranges and slices carry no derivative
    return np.zeros_like(x, dtype=np.result_type(x, np.float32)
                         if np.issubdtype(np.result_type(x), np.inexact) else float)


def output_zeros(x):
    """The tangent of a returned value that no wrt argument changes: ``zeros_like(x)``, but a
    NumPy scalar's is a NumPy scalar (np.float64(0.0)), typed like the value, not the 0-d
    array ``zeros_like`` makes for writes through an index."""
    if isinstance(x, np.generic):
        return (x.dtype.type if np.issubdtype(x.dtype, np.inexact) else np.float64)(0)
    return zeros_like(x)


def tangent_zeros(x):
    """The zero tangent of ``x`` that forward-mode code then writes into (``dx[i] = ...``):
    ``zeros_like(x)``, or during a batched sweep (``srcad.batching.directions``) a batch of
    those, one per direction, so that the writes keep each direction's values."""
    zero = zeros_like(x)
    count = active_count()
    if count is None or not isinstance(zero, np.ndarray):
        return zero
    return Batched(np.zeros((count,) + zero.shape, zero.dtype))


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer)):
            continue
        return False
    return True


def add_at(buffer, index, g):
    """``buffer[index] += g`` that also accumulates repeated fancy indices (into a list or a
    dict buffer: item by item)."""
    if isinstance(buffer, dict):
        buffer[index] = plus(buffer[index], g)
        return buffer
    if isinstance(buffer, list):
        if isinstance(index, slice):
            for i, gi in zip(range(*index.indices(len(buffer))), g):
                buffer[i] = plus(buffer[i], gi)
        else:
            buffer[index] = plus(buffer[index], g)
        return buffer
    if type(index) is tuple and not index and isinstance(buffer, (float, complex, np.generic)):
        return buffer + g               # all of a number (a 0-d array's arithmetic gives one)
    if not isinstance(buffer, _ARRAYS) or _other_array(g):
        # another array type (dask, cupy) on either side: the sum takes that type, out of
        # place (NumPy cannot write a dask array into its buffer; dask has no np.add.at)
        dtype = np.result_type(getattr(buffer, "dtype", float), getattr(g, "dtype", float))
        total = np.zeros_like(g, shape=_shape(buffer), dtype=dtype) + buffer
        total[index] = total[index] + (g if _is_basic(index) else
                                       _repeats_summed(g, buffer, index))
        return total
    if _is_basic(index):
        buffer[index] += g
    else:
        np.add.at(buffer, index, g)
    return buffer


def _repeats_summed(g, buffer, index):
    """``g`` (shaped like ``buffer[index]``) with the contributions to each position an
    index names more than once summed into its last occurrence, the others zero: then
    ``total[index] = total[index] + it`` adds each position's whole contribution once."""
    mask = last_write_mask(buffer, index)
    if not isinstance(mask, np.ndarray):
        return g
    shape = np.shape(buffer)
    positions = np.ravel(np.arange(math.prod(shape)).reshape(shape)[index])
    same = (positions[:, None] == positions[None, :]).astype(float)    # pairs of occurrences
    flat = np.reshape(g, (len(positions), -1))
    return np.reshape((same * np.ravel(mask)[:, None]) @ flat, np.shape(g))


def add_list(a, b):
    """Sum of two list adjoints (None is zero)."""
    return [plus(x, y) for x, y in zip(a, b)]


def plus(a, b):
    """The sum of two adjoints: None is zero, and the adjoint of a list or tuple is summed
    item by item (``+`` would concatenate), also against an array whose rows are the items'
    (what a NumPy function taking the list whole gives)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return [plus(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: plus(a[k], b[k]) for k in a}
    return a + b


def sum_part(g, a, b, which):
    """The adjoint of ``a`` (``which`` 0) or ``b`` (1) in ``a + b`` from the sum's adjoint
    ``g``, for operands of unknown kind: a slice of ``g`` when both are lists or tuples (the
    sum concatenated them), else ``g`` summed over what broadcasting added."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return g[:len(a)] if which == 0 else g[len(a):]
    return unbroadcast(g, b if which else a)


def unsum_part(t, g, a, b, which):
    """The transpose of ``sum_part``: ``t`` put back where ``sum_part(g, a, b, which)`` took
    it from ``g``, zeros elsewhere (its second derivatives)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        zero = zeros_like(g)
        start = 0 if which == 0 else len(a)
        return [t[i - start] if start <= i < start + len(t) else zero[i]
                for i in range(len(g))]
    return broadcast_like(t, g)


def expand_reduced(g, x, axis, keepdims):
    """Broadcast the adjoint of a reduction back over x's shape."""
    shape = _shape(x)
    known = _sizes_known(shape)
    other = _other_array(x)       # a dask or cupy x: its own functions make the result
    if axis is None and not keepdims and isinstance(g, (float, int, complex, np.generic)):
        # a scalar over every element: one cheap fill, in x's precision (a Python float g
        # is weak: float32 x, float32 fill)
        dtype = getattr(x, "dtype", None)
        if type(g) is not float or dtype is None or dtype.kind != "f":
            dtype = np.result_type(g, np.float64 if dtype is None else dtype)
        if other:                 # np.full would make a NumPy array of x's size
            return np.full_like(x, g, dtype=dtype)
        return np.full(shape, g, dtype=dtype) if known else _fill_like(g, x, dtype)
    if axis is not None and not keepdims:
        axes = axis if isinstance(axis, tuple) else (axis,)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape) if known and not other else _fill_like(g, x)


def sigmoid(t):
    """``1 / (1 + exp(-t))`` (to full relative precision but where it is subnormal), with no
    overflow warning: the derivative of ``logaddexp`` without its output
    (``exp(x1 - logaddexp(x1, x2))``)."""
    with np.errstate(over="ignore"):        # exp(-t) = inf for t < -709: the result is 0
        return 1.0 / (1.0 + np.exp(-t))


# -- the derivatives of np.sinc and np.prod, exact at their special points at every order a
# rule is given for (templates/ufuncs.py, reductions.py) --------------------------------------

_PI2 = math.pi * math.pi


def sinc_slope(x):
    """``d sinc(x) / dx = (cos(pi x) - sinc(x)) / x``: its Taylor series where ``|x| < 0.01``
    (the quotient cancels there, and is 0 / 0 at 0)."""
    small = np.abs(x) < 0.01
    safe = np.where(small, 1.0, x)
    series = x * (-_PI2 / 3.0 + _PI2 * _PI2 / 30.0 * x * x - _PI2 ** 3 / 840.0 * x ** 4)
    return np.where(small, series, (np.cos(math.pi * safe) - np.sinc(safe)) / safe)


def sinc_curvature(x):
    """The second derivative of ``sinc``: ``-(pi sin(pi x) + 2 sinc'(x)) / x``, its Taylor
    series where ``|x| < 0.01`` (``-pi ** 2 / 3`` at 0)."""
    small = np.abs(x) < 0.01
    safe = np.where(small, 1.0, x)
    series = -_PI2 / 3.0 + _PI2 * _PI2 / 10.0 * x * x - _PI2 ** 3 / 168.0 * x ** 4
    return np.where(small, series, -(math.pi * np.sin(math.pi * safe) +
                                     2.0 * sinc_slope(safe)) / safe)


def _prod_parts(a, axis):
    zero = np.equal(a, 0.0)
    rest = np.where(zero, 1.0, a)
    return (zero, rest, np.prod(rest, axis=axis, keepdims=True),
            np.sum(zero, axis=axis, keepdims=True))


def prod_others(a, axis=None):
    """For each entry of ``a``, the product of the other entries of its line along ``axis``
    (``d np.prod(a, axis) / da``), never dividing by a zero entry."""
    zero, rest, product, count = _prod_parts(a, axis)
    return np.where(zero, np.where(count == 1, product, 0.0),
                    np.where(count == 0, product / rest, 0.0))


def prod_others_tangent(a, da, axis=None):
    """The tangent of ``prod_others(a, axis)`` along ``da``: ``H @ da`` with ``H[i, j]`` the
    product of the entries other than ``i`` and ``j`` (``np.prod``'s Hessian, symmetric, so
    this is also the adjoint). By the number of zeros in the line: none, ``P / (a_i a_j)``;
    one, at ``p``, ``P / a_j`` in row and column ``p`` and 0 elsewhere; two, ``P`` at their
    pair; more, 0 (``P``: the product of the nonzero entries)."""
    zero, rest, product, count = _prod_parts(a, axis)
    inverse = np.where(zero, 0.0, 1.0 / rest)
    scaled = np.sum(da * inverse, axis=axis, keepdims=True)
    at_zeros = np.sum(np.where(zero, da, 0.0), axis=axis, keepdims=True)
    none = product * inverse * (scaled - da * inverse)
    one = np.where(zero, product * scaled, product * inverse * at_zeros)
    two = np.where(zero, product * (at_zeros - da), 0.0)
    return np.where(count == 0, none, np.where(count == 1, one, np.where(count == 2, two, 0.0)))


def _line(x, axis):
    """``x`` as np.cumprod reads it: flattened for ``axis=None``; and the axis."""
    return (np.ravel(x), 0) if axis is None else (x, axis)


def _reverse_cumsum(x, axis):
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


def cumprod_jvp(a, da, axis=None, product=None):
    """The tangent of ``y = np.cumprod(a, axis)`` along ``da``, without dividing by a zero:
    before the first zero of a line ``y * cumsum(da / a)``; from the first zero ``k0`` on,
    ``da_k0`` times the products with ``a_k0`` replaced by 1; later zeros contribute nothing.
    ``product``, when given, is ``y`` (the primal's, not computed again); the rules of this
    function count its derivative in ``a``'s."""
    line, ax = _line(a, axis)
    dline, _ = _line(da, axis)
    zero = np.equal(line, 0.0)
    seen = np.cumsum(zero, axis=ax)
    first = zero & (seen == 1)
    y1 = np.cumprod(np.where(first, 1.0, line), axis=ax)
    before = (np.cumprod(line, axis=ax) if product is None else product) * np.cumsum(
        np.where(zero, 0.0, dline / np.where(zero, 1.0, line)), axis=ax)
    after = y1 * np.sum(np.where(first, dline, 0.0), axis=ax, keepdims=True)
    return before + np.where(seen > 0, after, 0.0)


def cumprod_vjp(a, g, axis=None, product=None):
    """The cotangent of ``a`` from ``g``, that of ``y = np.cumprod(a, axis)`` (the transpose of
    ``cumprod_jvp``): ``revcumsum(g * y) / a`` at nonzero entries, ``revcumsum(g * y1)`` at a
    line's first zero (``y1``: the products with it replaced by 1), 0 at later zeros.
    ``product`` as in ``cumprod_jvp``."""
    line, ax = _line(a, axis)
    zero = np.equal(line, 0.0)
    first = zero & (np.cumsum(zero, axis=ax) == 1)
    y1 = np.cumprod(np.where(first, 1.0, line), axis=ax)
    at_first = _reverse_cumsum(g * y1, ax)
    rest = _reverse_cumsum(g * (np.cumprod(line, axis=ax) if product is None else product),
                           ax) / \
        np.where(zero, 1.0, line)
    grad = np.where(first, at_first, np.where(zero, 0.0, rest))
    return np.reshape(grad, np.shape(a)) if axis is None else grad


def _scan(a, b, axis):
    """``x`` with ``x_i = x_(i-1) * a_i + b_i`` along ``axis`` (``x_(-1) = 0``), exact at zeros
    of ``a``: ``x_i = R_i * sum(b_j / R_j for j from the last zero of a at or before i)``,
    ``R`` the cumulative product of a's nonzero entries."""
    zero = np.equal(a, 0.0)
    prefix = np.cumprod(np.where(zero, 1.0, a), axis=axis)
    total = np.cumsum(b / prefix, axis=axis)
    n = np.shape(a)[axis]
    where = np.reshape(np.arange(n), [n if k == axis % np.ndim(a) else 1
                                      for k in range(np.ndim(a))])
    last = np.maximum.accumulate(np.where(zero, where, 0), axis=axis)
    padded = np.concatenate([np.zeros_like(np.take(total, [0], axis=axis)), total], axis=axis)
    return prefix * (total - np.take_along_axis(padded, last, axis=axis))


def _shifted(x, axis, forward, fill):
    """``x`` moved one place along ``axis`` (``forward``: ``out_i = x_(i-1)``, else
    ``x_(i+1)``), ``fill`` where nothing moves in."""
    edge = np.full_like(np.take(x, [0], axis=axis), fill)
    n = np.shape(x)[axis]
    if forward:
        return np.concatenate([edge, np.take(x, range(n - 1), axis=axis)], axis=axis)
    return np.concatenate([np.take(x, range(1, n), axis=axis), edge], axis=axis)


def _reverse_scan(a, b, axis):
    """``y_j = b_j + a_(j+1) * y_(j+1)`` along ``axis`` (from the end), exact at zeros."""
    nxt = _shifted(a, axis, False, 1.0)
    return np.flip(_scan(np.flip(nxt, axis), np.flip(b, axis), axis), axis)


def cumprod_second(a, u, v, axis=None):
    """The second derivative of ``np.cumprod(a, axis)`` along ``u`` and ``v`` (symmetric), by
    the recurrences ``c_i = c_(i-1) a_i``, ``p_i = p_(i-1) a_i + c_(i-1) u_i`` (q along v),
    ``s_i = s_(i-1) a_i + p_(i-1) v_i + q_(i-1) u_i``: exact at zeros."""
    line, ax = _line(a, axis)
    (uline, _), (vline, _) = _line(u, axis), _line(v, axis)
    before = _shifted(np.cumprod(line, axis=ax), ax, True, 1.0)
    p = _scan(line, before * uline, ax)
    q = _scan(line, before * vline, ax)
    return _scan(line, _shifted(p, ax, True, 0.0) * vline + _shifted(q, ax, True, 0.0) * uline,
                 ax)


def cumprod_vjp_tangent(a, g, u, axis=None):
    """The tangent of ``cumprod_vjp(a, g, axis)`` along ``u`` in ``a`` (also the cotangent of
    ``a`` in ``<g, cumprod_jvp(a, u)>``). ``cumprod_vjp`` is ``c_(j-1) * r_j`` with ``r`` the
    reverse scan of ``g``; the tangent is ``p_(j-1) r_j + c_(j-1) dr_j``, ``dr`` the reverse
    scan of ``u_(j+1) r_(j+1)``: exact at zeros."""
    line, ax = _line(a, axis)
    uline, _ = _line(u, axis)
    before = _shifted(np.cumprod(line, axis=ax), ax, True, 1.0)
    r = _reverse_scan(line, g, ax)
    p = _scan(line, before * uline, ax)
    dr = _reverse_scan(line, _shifted(uline * r, ax, False, 0.0), ax)
    out = _shifted(p, ax, True, 0.0) * r + before * dr
    return np.reshape(out, np.shape(a)) if axis is None else out


def cofactor(a):
    """The cofactor matrix of ``a`` (``det(a) * inv(a).T``: the derivative of ``np.linalg.det``),
    also where ``a`` is singular: from the SVD ``a = U S Vh``, ``det(U) det(Vh) conj(U)
    diag(p) conj(Vh)`` with ``p_i`` the product of the other singular values."""
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * (np.conj(u) * prod_others(s, -1)[..., None, :]) @ np.conj(vh)


__all__ += ["cofactor"]
SHARES.update({"cofactor": ()})


__all__ += ["sinc_slope", "sinc_curvature", "prod_others", "prod_others_tangent",
            "cumprod_jvp", "cumprod_vjp", "cumprod_second", "cumprod_vjp_tangent"]
SHARES.update({"cumprod_jvp": (), "cumprod_vjp": (), "cumprod_second": (),
               "cumprod_vjp_tangent": ()})
SHARES.update({"sinc_slope": (), "sinc_curvature": (), "prod_others": (),
               "prod_others_tangent": ()})


def _count(x, axis):
    shape = _shape(x)
    if axis is None:
        return math.prod(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes)


def reduced_count(x, axis):
    """How many elements each output of a reduction over ``axis`` combines, or 1 if none:
    the derivative of an empty group is empty whatever it is divided by (and a sum over it
    0), so a mean over an empty axis has no ZeroDivisionError in its derivative."""
    count = _count(x, axis)
    if count != count:            # nan: unknown sizes (dask); the array counts, lazily
        return np.maximum(np.sum(np.ones_like(x, dtype=np.float64), axis=axis), 1.0)
    return max(count, 1)


def dof_inverse(x, axis, ddof):
    """``1 / (n - ddof)`` for the ``n`` elements each output of ``np.var``/``np.std`` over
    ``axis`` combines: nan where ``n <= ddof`` (the value is nan or inf there, so is its
    derivative), 0.0 for an empty group (its derivative is empty, a sum over it 0)."""
    n = _count(x, axis)
    return 1.0 / (n - ddof) if n > ddof else math.nan if n else 0.0


def astype(x, dtype, **kwargs):
    """``x.astype(dtype)`` for arrays and Python/NumPy scalars alike."""
    if hasattr(x, "astype"):
        return x.astype(dtype, **kwargs)
    return np.asarray(x).astype(dtype, **kwargs)


def owned_copy(g):
    """A copy of the adjoint ``g`` that generated code then updates in place (``add_at``):
    an array's copy, a list's or dict's (``add_at`` replaces their items, never writes into
    them), a tuple as a list; a number is its own (the adjoint of a value that was None)."""
    if isinstance(g, (list, tuple)):
        return list(g)
    if isinstance(g, dict):
        return dict(g)
    if isinstance(g, (bool, int, float, complex)):
        return g
    return g.copy()


def item(x):
    """``x.item()``: the Python number a size-1 array or NumPy scalar holds; a Python number
    (a tangent, a zero) is its own. A batch of tangents is no number (``BatchingError``: the
    sweep runs once per direction)."""
    if isinstance(x, (bool, int, float, complex)):
        return x
    if isinstance(x, Batched):
        float(x)
    return x.item()


def zero_if_discrete(g, value):
    """``g``, the derivative belonging to ``value``; zero (floats shaped like ``g``) when
    ``value`` is integer or boolean: a cast to those (``x.astype(int)``,
    ``np.asarray(x, dtype=int)``) is piecewise constant."""
    if isinstance(value, float) or np.result_type(value).kind not in "biu":
        return g
    return zeros_like(g)


def take_and_zero(buffer, index):
    """Read ``buffer[index]`` (a copy) and zero those elements: the adjoint sweep of
    ``x[index] = v`` hands the elements' adjoint to ``v``; the old elements get none."""
    part = buffer[index]
    part = part.copy() if _is_array(part) else part
    mask = last_write_mask(buffer, index)
    if isinstance(mask, np.ndarray):
        part *= mask
    buffer[index] = 0.0
    return part


def last_write_mask(buffer, index):
    """1.0, or for an index that names some position more than once, a mask over
    ``buffer[index]`` keeping only the last write to each position (``x[[0, 0]] = v`` and
    ``a[[2, 2], 0] = v`` keep the last write; the earlier get no derivative)."""
    if _is_basic(index) or isinstance(index, (list, np.ndarray)) and np.asarray(
            index).dtype.kind == "b":
        return 1.0                      # slices, integers, a mask: each position once
    shape = np.shape(buffer)
    positions = np.arange(math.prod(shape)).reshape(shape)[index]
    flat = np.ravel(positions)
    unique, first_from_end = np.unique(flat[::-1], return_index=True)
    if len(unique) == len(flat):
        return 1.0
    last = np.zeros(len(flat), dtype=np.result_type(getattr(buffer, "dtype", float), 1.0))
    last[len(flat) - 1 - first_from_end] = 1.0
    return last.reshape(np.shape(positions))


def _not_a_number(y):
    """Refuse an output that is no number (None, a string, a boolean): no derivative."""
    if y is None or isinstance(y, (str, bytes, bool, np.bool_)):
        from .errors import NotDifferentiableError
        raise NotDifferentiableError(f"the function returned {y!r}, not a number",
                                     hint="Return the value to differentiate (a float or a "
                                          "float array).")


def scalar_seed(y):
    """The seed 1.0 of a gradient; ``grad`` needs a function with one scalar output."""
    if type(y) is not float:
        _not_a_number(y)
    if isinstance(y, (list, tuple)) or np.size(y) != 1:
        from .errors import ShapeMismatchError
        raise ShapeMismatchError(
            "srcad.grad needs a function that returns a scalar, this one returned " + (
                f"a {type(y).__name__} of {len(y)} values" if isinstance(y, (list, tuple))
                else f"shape {np.shape(y)}"), hint="Reduce the output (np.sum, np.mean), or use "
            "srcad.autodiff(f, mode='reverse') / srcad.vjp for a vector-Jacobian product.")
    return np.ones_like(y) if isinstance(y, np.ndarray) else 1.0


def seed_like(seed, y):
    """The cotangent of output ``y``: ``seed`` checked against ``y``'s shape, or ones."""
    if seed is None:
        _not_a_number(y)
        if isinstance(y, (list, tuple)):
            return type(y)(seed_like(None, v) for v in y)
        return np.ones_like(y) if isinstance(y, np.ndarray) else 1.0
    if isinstance(y, (list, tuple)):
        if not isinstance(seed, (list, tuple)) or len(seed) != len(y):
            from .errors import ShapeMismatchError
            raise ShapeMismatchError(
                f"the seed must be a tuple of {len(y)} cotangents, one per output",
                hint="Pass seed=(s0, s1, ...) shaped like the function's outputs.")
        return type(y)(seed_like(s, v) for s, v in zip(seed, y))
    _not_a_number(y)
    if np.shape(seed) != np.shape(y):
        from .errors import ArgumentError, ShapeMismatchError
        if isinstance(seed, (str, bytes, dict)):     # checked on the failing path only
            raise ArgumentError(
                f"the seed is not a number ({type(seed).__name__}): expected an array or float "
                f"shaped like the output {np.shape(y)}",
                hint="Pass a seed (cotangent) with exactly the output's shape.")
        raise ShapeMismatchError(
            f"the seed has shape {np.shape(seed)} but the output has shape {np.shape(y)}",
            hint="Pass a seed (cotangent) with exactly the output's shape.")
    return seed


def checkpoint_every(steps, snapshots):
    """The length of a checkpointed loop's segments (``reverse/checkpoint.py``): about
    sqrt(steps) for ``snapshots=None``, else ``steps`` split into ``snapshots`` segments."""
    steps = int(steps)
    if snapshots is None:
        return max(1, int(np.ceil(np.sqrt(steps))))
    return max(1, -(-steps // int(snapshots)))


def segment(steps, start, every, trips):
    """The items of a checkpointed loop's ``steps`` that one segment replays: from ``start``,
    ``every`` of them, not beyond the ``trips`` the loop ran (a loop that broke)."""
    return steps[start:min(start + every, trips)]


def saved(value):
    """``value`` as the tape keeps it: an array (or a list's arrays) copied, a number itself
    (``np.copy`` would make a Python float a float64 array)."""
    if _is_array(value):
        return value.copy()
    if isinstance(value, list):
        return [saved(v) for v in value]
    return value


def _is_array(x) -> bool:
    """A NumPy array, or an array of another type that NumPy dispatches to (dask, cupy),
    which may be written into (never a NumPy scalar: those are immutable)."""
    return isinstance(x, _ARRAYS) or _other_array(x)


_T = TypeVar("_T")


def stop_gradient(x: _T) -> _T:
    """``x`` itself, with no derivative flowing through it (srcad.stop_gradient)."""
    return x


def hook(x: _T, fn: Callable[[Any], Any]) -> _T:
    """``x`` itself; its derivative passes through ``fn`` (srcad.hook): in reverse mode
    the gradient of ``x`` is ``fn(gradient of the result)``, in forward mode the tangent
    of the result is ``fn(tangent of x)``. ``fn`` may observe it (record a norm) or change
    it (clip it); it must return a value shaped like the one it was given."""
    if not callable(fn):
        raise TypeError(f"srcad.hook(x, fn): fn must be a function of the derivative, not "
                        f"{type(fn).__name__}")
    return x


# -- complex values (templates/complex.py) -----------------------------------------------------

def to_complex(x):
    """``x`` as a complex value: where a real value joins complex ones in a list, an array
    or a variable, its adjoint takes the real part."""
    return x + 0j


def real_like(g, like):
    """``g`` of ``like``'s kind: its real part when ``like`` is real, complex when ``like``
    is: the derivative of a value whose dtype is known only at run time
    (``np.real_if_close``)."""
    if not np.iscomplexobj(like):
        return np.real(g)
    return g if np.iscomplexobj(g) else g + 0j


__all__ += ["to_complex", "real_like"]


# -- shape and indexing rules (templates/shape.py, templates/indexing.py) ---------------------

def _is_placeholder(g, like) -> bool:
    """A 'no contribution' entry of a list derivative: None, or a Python 0/0.0 standing for a
    whole array."""
    return g is None or (isinstance(g, (int, float)) and not isinstance(g, bool) and g == 0
                         and not isinstance(like, (int, float)))


def zeros_filled(g, like):
    """A list derivative (``g``, structured like the list ``like``) with an explicit zero array
    in place of every entry that got no contribution (None or a 0.0 placeholder)."""
    if isinstance(like, (list, tuple)):
        if _is_placeholder(g, like):
            g = [None] * len(like)
        return [zeros_filled(gi, xi) for gi, xi in zip(g, like)]
    return zeros_like(like) if _is_placeholder(g, like) else g


def unstack_like(g, like):
    """Adjoint of ``np.array``/``np.asarray``: ``g`` for an array, per-element slices of ``g``
    (recursively) for a list or tuple of arrays or numbers."""
    if isinstance(like, (list, tuple)):
        return [unstack_like(g[i], item) for i, item in enumerate(like)]
    return g


def _split_reshape(g, arrays, lengths, axis):
    """Split ``g`` along ``axis`` into pieces of ``lengths``, each reshaped like its array."""
    bounds = np.cumsum(lengths)[:-1]
    pieces = np.split(g, bounds, axis=axis)
    return [p if _shape(p) == _shape(a) else np.reshape(p, _shape(a))
            for p, a in zip(pieces, arrays)]


def unconcatenate(g, arrays, axis=0):
    """Adjoint of ``np.concatenate(arrays, axis)``: the pieces of ``g``, one per array."""
    if axis is None:
        return _split_reshape(np.ravel(g), arrays, [np.size(a) for a in arrays], 0)
    return _split_reshape(g, arrays, [_shape(a)[axis] for a in arrays], axis)


def _joined_shape(shape, how):
    """The shape an array takes inside hstack/vstack/dstack/column_stack."""
    if how == "hstack":
        return shape or (1,)
    if how == "vstack":
        return shape if len(shape) >= 2 else (1,) + (shape or (1,))
    if how == "column_stack":
        return shape if len(shape) >= 2 else (shape or (1,)) + (1,)
    if len(shape) >= 3:  # dstack
        return shape
    return (1,) + (shape or (1,)) + (1,) if len(shape) < 2 else shape + (1,)


def unjoin(g, arrays, how):
    """Adjoint of ``np.<how>(arrays)`` for how in hstack, vstack, column_stack, dstack."""
    shapes = [_joined_shape(_shape(a), how) for a in arrays]
    axis = {"hstack": 1, "vstack": 0, "column_stack": 1, "dstack": 2}[how]
    if how == "hstack" and len(shapes[0]) == 1:
        axis = 0
    return _split_reshape(g, arrays, [s[axis] for s in shapes], axis)


def join(pieces, how):
    """``np.<how>(pieces)`` for how in hstack, vstack, column_stack, dstack (undoes unjoin)."""
    return {"hstack": np.hstack, "vstack": np.vstack, "column_stack": np.column_stack,
            "dstack": np.dstack}[how](pieces)


def untile(g, x, reps):
    """Adjoint of ``np.tile(x, reps)``: sum the tiles of ``g``."""
    shape = _shape(x)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    n = max(len(shape), len(reps))
    shape_n = (1,) * (n - len(shape)) + tuple(shape)
    reps_n = (1,) * (n - len(reps)) + reps
    interleaved = [v for pair in zip(reps_n, shape_n) for v in pair]
    g = np.sum(np.reshape(g, interleaved), axis=tuple(range(0, 2 * n, 2)))
    return np.reshape(g, shape)


def unrepeat(g, x, repeats, axis=None):
    """Adjoint of ``np.repeat(x, repeats, axis)``: sum the copies of each element."""
    shape = _shape(x)
    if axis is None:
        g, axis, work = np.ravel(g), 0, (int(np.prod(shape)),)
    else:
        axis, work = axis % len(shape), shape
    n = work[axis]
    if np.size(repeats) == 1:
        r = int(np.reshape(repeats, -1)[0])
        g = np.sum(np.reshape(g, work[:axis] + (n, r) + tuple(work[axis + 1:])), axis=axis + 1)
    else:
        owner = np.repeat(np.arange(n), repeats)
        out = np.zeros((n,) + tuple(np.delete(_shape(g), axis)), dtype=g.dtype)
        np.add.at(out, owner, np.moveaxis(g, axis, 0))
        g = np.moveaxis(out, 0, axis)
    return np.reshape(g, shape)


def _pad_widths(pad_width, ndim):
    return np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (ndim, 2))


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad_mode(mode):
    """``mode``, checked to be a mode of ``np.pad`` whose derivative srcad knows."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"srcad differentiates np.pad with mode in {_PAD_MODES}, "
                                  f"not {mode!r}")
    return mode


def unpad(g, x, pad_width, mode="constant"):
    """Adjoint of ``np.pad(x, pad_width, mode)`` in x: the interior of ``g`` for mode
    'constant'; for the copying modes (edge, reflect, symmetric, wrap) every padded element
    adds its adjoint to the element it copies."""
    shape = _shape(x)
    widths = _pad_widths(pad_width, len(shape))
    if mode == "constant":
        return g[tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, shape))]
    size = int(np.prod(shape))
    source = np.pad(np.arange(size).reshape(shape), widths, mode=pad_mode(mode))
    flat = np.zeros(size, dtype=np.result_type(g, 1.0))    # g's precision (bincount: float64)
    np.add.at(flat, np.ravel(source), np.ravel(g))
    return np.reshape(flat, shape)


def pad_border(x, pad_width):
    """1.0 where ``np.pad(x, pad_width)`` adds the constant, 0.0 over x: the derivative of the
    padded array in a scalar ``constant_values``."""
    return np.pad(zeros_like(x), pad_width, constant_values=1.0)


def _diagonal_positions(rows, cols, offset):
    """Row and column indices of the offset diagonal of a rows x cols matrix."""
    n = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    i = np.arange(n)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


def undiagonal(g, x, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.diagonal(x, offset, axis1, axis2)``: ``g`` written on the diagonal of
    zeros shaped like x."""
    out = np.zeros(_shape(x), dtype=np.result_type(g, np.float32))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    rows, cols = _diagonal_positions(view.shape[-2], view.shape[-1], offset)
    view[..., rows, cols] = g
    return out


def undiag(g, v, k=0):
    """Adjoint of ``np.diag(v, k)``: the k-th diagonal of ``g`` for a vector v, ``g`` on the
    diagonal of zeros shaped like v for a matrix v."""
    if len(_shape(v)) == 1:
        return np.diagonal(g, k).copy()
    return undiagonal(g, v, k)


def take_index(x, indices, axis=None, mode="raise"):
    """The index into ``x`` that ``np.take(x, indices, axis, mode=mode)`` reads."""
    shape = _shape(x)
    n = int(np.prod(shape)) if axis is None else shape[axis]
    if mode == "wrap":
        indices = np.mod(indices, n)
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    if axis is None:
        return np.unravel_index(np.mod(indices, n), shape)
    return (slice(None),) * (axis % len(shape)) + (indices,)


def along_axis_index(x, indices, axis=-1):
    """The index into ``x`` that ``np.take_along_axis(x, indices, axis)`` reads."""
    shape = _shape(x)
    if axis is None:
        return np.unravel_index(np.mod(indices, int(np.prod(shape))), shape)
    axis %= len(shape)
    ndim = len(shape)
    index = []
    for i, n in enumerate(shape):
        if i == axis:
            index.append(indices)
        else:
            index.append(np.arange(n).reshape((1,) * i + (n,) + (1,) * (ndim - i - 1)))
    return tuple(index)


__all__ += ["zeros_filled", "unstack_like", "unconcatenate", "unjoin", "join", "untile",
            "unrepeat", "unpad", "pad_mode", "pad_border", "undiagonal", "undiag", "take_index",
            "along_axis_index"]


# -- reductions (templates/reductions.py) -------------------------------------------------------

def group_weights(mask, axis, like):
    """``mask / (number of True in its group)``: 1/k on the k selected elements of each group
    reduced over ``axis``, 0 elsewhere, in ``like``'s floating dtype (float64 for numbers)."""
    dtype = np.result_type(getattr(like, "dtype", np.float64), 1.0)
    return mask / np.sum(mask, axis=axis, keepdims=True, dtype=dtype)


def average_weights_shape(a, weights, axis):
    """The shape ``np.average``'s ``weights`` takes to broadcast against ``a``: its own shape,
    or, for 1-d weights along an int ``axis`` of an n-d ``a``, that length then n-1-axis ones."""
    ndim = np.ndim(a)
    if np.ndim(weights) == ndim or axis is None:
        return np.shape(weights)
    return np.shape(weights) + (1,) * (ndim - 1 - axis % ndim)


def group_sum(t, like, axis, keepdims):
    """``t`` broadcast like ``like`` and summed over ``axis``: the sum of ``np.average``'s
    weights per group (its ``returned`` value). Linear in ``t``."""
    return np.sum(broadcast_like(t, like), axis=axis, keepdims=keepdims)


SHARES.update({"group_sum": ()})
__all__ += ["group_sum"]


def _norm_axes(x, axis):
    ndim = np.ndim(x)
    axes = tuple(range(ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


def norm_direction(x, y, ord, axis, keepdims):
    """dy/dx for ``y = np.linalg.norm(x, ord, axis, keepdims)`` and a numeric ``ord`` (shape
    of x; the adjoint is the expanded cotangent times it). Vector norms: p-norms (0 where
    x == 0), +-inf (ties split evenly), 0 (constant). Matrix norms: +-1 and +-inf (ties split
    evenly), +-2 (largest/smallest singular pair, assumed distinct), 'nuc' (U V^T)."""
    axes = _norm_axes(x, axis)
    yk = y if keepdims else np.expand_dims(y, axes)
    if len(axes) == 1:
        return _vector_direction(x, yk, ord, axes)
    ax = np.abs(x)
    rows, cols = axes
    if ord in (2, -2, "nuc"):
        u, _, vt = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
        k = slice(None) if ord == "nuc" else slice(0, 1) if ord == 2 else slice(-1, None)
        return np.moveaxis(u[..., :, k] @ vt[..., k, :], (-2, -1), axes)
    if ord == np.inf or ord == -np.inf:
        rows, cols = cols, rows
    sums = np.sum(ax, axis=rows, keepdims=True)     # ord +-1: column sums, then max/min
    return np.sign(x) * group_weights(sums == yk, cols, x)


def matrix_norm_axes(x, axis):
    """The two axes ``np.linalg.norm(x, ord, axis)`` takes a matrix norm over (``x`` 2-D and
    ``axis`` None, or a pair of axes), as non-negative ints; None for a vector norm."""
    axes = _norm_axes(x, axis)
    return axes if len(axes) == 2 else None


__all__ += ["group_weights", "average_weights_shape", "norm_direction", "matrix_norm_axes"]
SHARES.update({"matrix_norm_axes": ()})


# -- linear algebra (templates/linalg.py) -----------------------------------------------------
# The adjoints of products depend on the operands' ranks, known only at run time; these
# helpers hold that bookkeeping so the templates stay one line per operand.

def _ndim(x) -> int:
    ndim = getattr(x, "ndim", None)
    return ndim if ndim is not None else np.ndim(x)


def _mT(x):
    return np.swapaxes(x, -1, -2)


def matmul_adjoint_lhs(g, a, b):
    """The adjoint of ``a`` in ``a @ b`` for the output adjoint ``g``: ``g @ b^T`` summed over
    the batch axes ``a`` was broadcast along; 1-D operands are promoted as matmul does."""
    na, nb = _ndim(a), _ndim(b)
    if na == 2 and nb == 2:                 # the common cases first, as written by hand
        return g @ b.T
    if na == 2 and nb == 1:
        return np.multiply.outer(g, b)
    if na >= 2 and nb >= 2:
        return unbroadcast(np.matmul(g, _mT(b)), a)
    if nb == 1:
        if np.ndim(a) == 1:
            return g * b
        return unbroadcast(np.expand_dims(g, -1) * b, a)
    # a is a vector, b a stack of matrices: sum over b's batch axes
    return unbroadcast(np.matmul(b, np.expand_dims(g, -1))[..., 0], a)


def matmul_adjoint_rhs(g, a, b):
    """The adjoint of ``b`` in ``a @ b`` (see matmul_adjoint_lhs)."""
    na, nb = _ndim(a), _ndim(b)
    if na == 2 and nb == 2:
        return a.T @ g
    if na == 2 and nb == 1:
        return g @ a
    if na >= 2 and nb >= 2:
        return unbroadcast(np.matmul(_mT(a), g), b)
    if na == 1:
        if nb == 1:
            return g * a
        return np.expand_dims(a, -1) * np.expand_dims(g, -2)
    # b is a vector, a a stack of matrices: sum over a's batch axes
    return unbroadcast(np.matmul(np.expand_dims(g, -2), a)[..., 0, :], b)


def _axes_pair(axes, na, nb):
    """tensordot's ``axes`` as two lists of non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        return list(range(na - axes, na)), list(range(axes))
    ia, ib = axes
    ia = [ia] if isinstance(ia, (int, np.integer)) else list(ia)
    ib = [ib] if isinstance(ib, (int, np.integer)) else list(ib)
    return [i % na for i in ia], [i % nb for i in ib]


def tensordot_adjoint_lhs(g, a, b, axes=2):
    """The adjoint of ``a`` in ``np.tensordot(a, b, axes)`` for the output adjoint ``g``."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:                  # a product with a scalar (axes must be 0)
        return unbroadcast(g * b, a)
    ia, ib = _axes_pair(axes, na, nb)
    free_a = [i for i in range(na) if i not in ia]
    free_b = [i for i in range(nb) if i not in ib]
    r = np.tensordot(g, b, axes=(list(range(len(free_a), np.ndim(g))), free_b))
    # r's axes: a's free axes, then a's contracted axes in the order of b's sorted ones
    source = free_a + [ia[j] for j in np.argsort(ib)]
    return np.transpose(r, np.argsort(source))


def tensordot_adjoint_rhs(g, a, b, axes=2):
    """The adjoint of ``b`` in ``np.tensordot(a, b, axes)`` for the output adjoint ``g``."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        return unbroadcast(g * a, b)
    ia, ib = _axes_pair(axes, na, nb)
    free_a = [i for i in range(na) if i not in ia]
    free_b = [i for i in range(nb) if i not in ib]
    r = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    source = [ib[j] for j in np.argsort(ia)] + free_b
    return np.transpose(r, np.argsort(source))


def dot_axes(a, b):
    """``np.dot(a, b)`` as ``np.tensordot(a, b, axes)``: these axes."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        return 0
    return [na - 1], [max(nb - 2, 0)]


def inner_axes(a, b):
    """``np.inner(a, b)`` as ``np.tensordot(a, b, axes)``: these axes."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return 0
    return [-1], [-1]


def untrace(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of ``a`` in ``np.trace(a, offset, axis1, axis2)``: ``g`` spread along
    the traced diagonal, zeros elsewhere."""
    shape = np.shape(a)
    n = len(shape)
    ax1, ax2 = axis1 % n, axis2 % n
    if isinstance(g, (int, float, complex)):
        g = np.asarray(g, dtype=np.result_type(g, a))     # a Python seed: a's precision
    eye = np.eye(shape[ax1], shape[ax2], k=offset, dtype=g.dtype)
    if ax1 > ax2:
        eye = eye.T
    mask_shape = [1] * n
    mask_shape[ax1], mask_shape[ax2] = shape[ax1], shape[ax2]
    return np.expand_dims(g, (ax1, ax2) if ax1 < ax2 else (ax2, ax1)) * np.reshape(
        eye, mask_shape)


def _kron_shapes(a, b):
    sa, sb = np.shape(a), np.shape(b)
    n = max(len(sa), len(sb))
    return (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb


def kron_adjoint_lhs(g, a, b):
    """The adjoint of ``a`` in ``np.kron(a, b)`` for the output adjoint ``g``."""
    sa, sb = _kron_shapes(a, b)
    pairs = [n for pair in zip(sa, sb) for n in pair]
    ones = [n for m in sb for n in (1, m)]
    r = np.sum(np.reshape(g, pairs) * np.reshape(b, ones), axis=tuple(range(1, len(pairs), 2)))
    return np.reshape(r, np.shape(a))


def kron_adjoint_rhs(g, a, b):
    """The adjoint of ``b`` in ``np.kron(a, b)`` for the output adjoint ``g``."""
    sa, sb = _kron_shapes(a, b)
    pairs = [n for pair in zip(sa, sb) for n in pair]
    ones = [n for m in sa for n in (m, 1)]
    r = np.sum(np.reshape(g, pairs) * np.reshape(a, ones), axis=tuple(range(0, len(pairs), 2)))
    return np.reshape(r, np.shape(b))


def as_columns(v, b):
    """``v`` as a stack of column matrices when ``b`` is 1-D (np.linalg.solve's convention
    for its right-hand side), else ``v`` itself."""
    return np.expand_dims(v, -1) if np.ndim(b) == 1 else v


def from_columns(v, b):
    """The inverse of as_columns: drop the column axis again when ``b`` is 1-D."""
    return v[..., 0] if np.ndim(b) == 1 else v


def _einsum_parse(subscripts, ndims):
    """Explicit subscripts: (one letter string per operand, output letters); '...' becomes
    letters of its own, right-aligned across operands as NumPy broadcasts them."""
    if not isinstance(subscripts, str):
        raise TypeError("srcad differentiates np.einsum with a subscripts string first "
                        "('ij,jk->ik'), not the sublist form")
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operand(s), "
                         f"{len(ndims)} given")
    used = set(spec) - set(".,->")
    free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    counts = [n - (len(t) - 3) if "..." in t else 0 for t, n in zip(terms, ndims)]
    width = max(counts, default=0)
    ellipsis = "".join(free[:width])
    terms = [t.replace("...", ellipsis[width - k:] if k else "") for t, k in zip(terms, counts)]
    if not arrow:
        letters = "".join(terms)
        output = ellipsis + "".join(sorted(c for c in set(letters) - set(ellipsis)
                                           if letters.count(c) == 1))
    else:
        output = output.replace("...", ellipsis)
    return terms, output


def einsum_operand_adjoint(g, subscripts, k, operands):
    """The adjoint of operand ``k`` of ``np.einsum(subscripts, *operands)`` for the output
    adjoint ``g``: an einsum of ``g`` with the other operands, broadcast along the letters
    only operand ``k`` has, summed where it was broadcast, and put on the diagonal for a
    letter it repeats ('ii->i')."""
    terms, output = _einsum_parse(subscripts, [np.ndim(x) for x in operands])
    term, x = terms[k], operands[k]
    others = [t for j, t in enumerate(terms) if j != k]
    unique = "".join(dict.fromkeys(term))
    known = set(output).union(*others)
    present = "".join(c for c in unique if c in known)
    spec = ",".join([output] + others) + "->" + present
    rest = [op for j, op in enumerate(operands) if j != k]
    if isinstance(g, (int, float)):    # a Python seed: einsum would make it a float64 array
        g = np.asarray(g, dtype=np.result_type(g, *operands))
    r = np.einsum(spec, g, *rest, optimize=len(rest) > 1)
    sizes = dict(zip(term, np.shape(x)))
    r = np.reshape(r, [np.shape(r)[present.index(c)] if c in present else 1 for c in unique])
    summed = tuple(i for i, c in enumerate(unique) if sizes[c] == 1 and np.shape(r)[i] != 1)
    if summed:
        r = np.sum(r, axis=summed, keepdims=True)
    r = np.broadcast_to(r, [sizes[c] for c in unique])
    if len(unique) == len(term):
        return r
    buffer = np.zeros(np.shape(x), dtype=np.result_type(r))
    np.einsum(term + "->" + unique, buffer)[...] = r
    return buffer


def _derivative_items(g, count):
    """A list derivative as a sequence of ``count`` entries (None: no derivative)."""
    return g if isinstance(g, (list, tuple)) else [None] * count


class LazyAdjoints(list):
    """A list of per-operand derivatives computed on demand: ``parts[k]`` is ``item(k)``, so
    the adjoint sweep pays only for the operands that are active.

    It is a ``list`` for srcad's list-derivative helpers (``zeros_like``, ``add_list``...),
    which index, iterate and take ``len``; those are overridden. The list's own storage stays
    empty, so convert with ``list(parts)`` before handing it to C code that reads lists
    directly (``np.asarray``)."""

    __slots__ = ("item", "count")

    def __init__(self, item, count):
        super().__init__()
        self.item, self.count = item, count

    def __len__(self):
        return self.count

    def __getitem__(self, k):
        if not -self.count <= k < self.count:
            raise IndexError(k)
        return self.item(k % self.count)

    def __iter__(self):
        return (self.item(k) for k in range(self.count))

    def __repr__(self):
        return f"LazyAdjoints(<{self.count} items>)"


def einsum_adjoints(g, subscripts, operands):
    """The adjoints of the operands of ``np.einsum(subscripts, *operands)`` for the output
    adjoint ``g``, as a lazy sequence (see einsum_operand_adjoint)."""
    return LazyAdjoints(lambda k: einsum_operand_adjoint(g, subscripts, k, operands),
                        len(operands))


def einsum_adjoints_tangent(dg, g, subscripts, operands, tangents):
    """The tangent of ``einsum_adjoints(g, subscripts, operands)`` (forward over reverse):
    each adjoint is linear in ``g`` and in every other operand; all-zero tangents are
    skipped."""
    def item(k):
        total = einsum_operand_adjoint(dg, subscripts, k, operands)
        for j, t in enumerate(tangents):
            if j != k and np.any(t):
                ops = tuple(operands[:j]) + (t,) + tuple(operands[j + 1:])
                total = total + einsum_operand_adjoint(g, subscripts, k, ops)
        return total
    return LazyAdjoints(item, len(operands))


def einsum_adjoints_adjoint(u, g, subscripts, operands):
    """Reverse over reverse: the adjoints of the operands of ``einsum_adjoints(g, subscripts,
    operands)`` for the cotangents ``u`` of its items (None where an item has none), lazily.
    Item k is linear in each operand j != k, so operand j collects the adjoint of operand j
    with ``u[k]`` in operand k's place."""
    u = _derivative_items(u, len(operands))

    def item(j):
        total = None
        for k, uk in enumerate(u):
            if k == j or uk is None or not np.any(uk):
                continue
            ops = tuple(operands[:k]) + (uk,) + tuple(operands[k + 1:])
            term = einsum_operand_adjoint(g, subscripts, j, ops)
            total = term if total is None else total + term
        return zeros_like(operands[j]) if total is None else total
    return LazyAdjoints(item, len(operands))


__all__ += ["matmul_adjoint_lhs", "matmul_adjoint_rhs", "tensordot_adjoint_lhs",
            "tensordot_adjoint_rhs", "dot_axes", "inner_axes", "untrace", "kron_adjoint_lhs",
            "kron_adjoint_rhs", "as_columns", "from_columns", "einsum_operand_adjoint",
            "einsum_adjoints", "einsum_adjoints_tangent", "einsum_adjoints_adjoint",
            "LazyAdjoints"]


def einsum_tangent(subscripts, operands, tangents):
    """The tangent of ``np.einsum(subscripts, *operands)``: the sum over operands of the einsum
    with that operand replaced by its tangent (einsum is multilinear); operands whose tangent
    is all zero (inactive ones) are skipped."""
    total = None
    for k, t in enumerate(_derivative_items(tangents, len(operands))):
        if t is None or not np.any(t):
            continue
        term = np.einsum(subscripts, *operands[:k], t, *operands[k + 1:],
                         optimize=len(operands) > 2)
        total = term if total is None else total + term
    if total is None:
        return np.zeros_like(np.einsum(subscripts, *operands))
    return total


__all__ += ["einsum_tangent"]


def spread(g, items):
    """``[unbroadcast(g, item) for item in items]``: the adjoint of ``sum(items)``, an array
    when ``items`` is an array (summed over its rows)."""
    return rows_like([unbroadcast(g, item) for item in items], items)


def rows_like(parts, like):
    """The derivatives ``parts`` of the rows of ``like`` (the adjoint of ``list(like)``) in
    ``like``'s own type: one array of them when ``like`` is an array, so the derivative of an
    array argument is an array at every order; a list of ``parts`` for a list or tuple (a
    list of its own: the adjoint sweep pops it, and ``parts`` may be the caller's seed)."""
    if _is_placeholder(parts, like):
        return parts
    if not _is_array(like):
        return list(parts)
    if len(like) == 0:
        return zeros_like(like)
    return np.stack(zeros_filled(list(parts), list(like)))


def gather_sum(gs, like):
    """``sum(broadcast_like(g, like) for g in gs)``: the transpose of ``spread``."""
    total = 0.0
    for g in gs:
        total = total + g
    return broadcast_like(total, like)


def specialized_for(pattern, args):
    """Refuse arguments that do not fit the shapes an exported shape-specialized derivative
    was built for: in ``pattern`` (one entry per argument), ``()`` is a number, a tuple a
    shape whose dimensions are 1 or a size symbol ("n0": equal symbols, equal sizes, other
    symbols other sizes, never 1), None anything."""
    sizes: dict = {}
    for i, (want, a) in enumerate(zip(pattern, args)):
        if not isinstance(want, tuple):
            continue
        shape = tuple(_shape(a))
        fits = len(shape) == len(want) and all(
            n == 1 if w == 1 else n not in (0, 1) and sizes.setdefault(w, n) == n
            for w, n in zip(want, shape))
        if not fits or len(set(sizes.values())) != len(sizes):
            raise ValueError(f"argument {i} has shape {shape}: this derivative was exported "
                             f"for the shapes {pattern} (export it without specialize_for "
                             f"for any shapes)")


def scalar_items(a):
    """A 1-D float64 array as a list of Python floats (read element by element in a loop,
    Python floats are several times faster than NumPy scalars); anything else unchanged."""
    if type(a) is np.ndarray and a.ndim == 1 and a.dtype == np.float64:
        return a.tolist()
    return a


# -- numpy.fft (templates/fft.py) --------------------------------------------------------------

def fit_to(g, shape):
    """``g`` cut or zero-padded at the end of each axis to ``shape``: what ``np.fft``'s ``n``/``s``
    do to their input. Its transpose is itself, back to ``g``'s shape."""
    shape = tuple(shape)
    if _shape(g) == shape:
        return g
    g = g[tuple(slice(0, n) for n in shape)]
    missing = [(0, n - m) for n, m in zip(shape, _shape(g))]
    return np.pad(g, missing) if any(w for _, w in missing) else g


def _fft_axes(ndim, s, axes):
    if axes is not None:
        return tuple(a % ndim for a in ((axes,) if np.ndim(axes) == 0 else axes))
    if s is None:
        return tuple(range(ndim))
    return tuple(range(ndim - (1 if np.ndim(s) == 0 else len(s)), ndim))


def fft_axes(a, s, axes):
    """The axes an ``np.fft`` n-d transform of ``a`` works on (``axes``, else the last
    ``len(s)`` axes, else all)."""
    return _fft_axes(np.ndim(a), s, axes)


def fft_shape(a, s, axes):
    """The shape ``a`` takes inside an ``np.fft`` transform: its own, with the lengths ``s``
    (an int for the 1-d transforms, ``n``) along ``axes`` (an int for those, ``axis``)."""
    shape = list(_shape(a))
    if s is None:
        return tuple(shape)
    for axis, n in zip(_fft_axes(len(shape), s, axes), np.atleast_1d(s)):
        shape[axis] = int(n)
    return tuple(shape)


def irfft_weights(y, a, axes):
    """How many times each input entry of ``np.fft.irfft``/``irfftn`` (output ``y``, input
    ``a``) counts along the halved axis (the last of ``axes``, an int for irfft): 1 for the
    zero frequency (and the Nyquist one of an even length), 2 for the others, whose
    conjugates the transform implies; 0 for the entries past the half spectrum it reads.
    Shaped to broadcast against ``a``, in ``y``'s dtype."""
    ndim = np.ndim(a)
    axis = _fft_axes(ndim, None, axes)[-1]
    n = _shape(y)[axis]
    k = np.arange(_shape(a)[axis])
    weights = np.where((k == 0) | (2 * k == n), 1.0, np.where(2 * k < n, 2.0, 0.0))
    return weights.astype(np.result_type(y, np.float32)).reshape(
        (-1,) + (1,) * (ndim - 1 - axis))


SHARES.update({"fit_to": (0,), "fft_axes": (), "fft_shape": (), "irfft_weights": ()})
__all__ += ["fit_to", "fft_axes", "fft_shape", "irfft_weights"]


# -- differences, integrals, convolutions, interpolation (templates/mathematical.py) ---------

def axis_padding(x, before, after, axis):
    """The ``pad_width`` of ``np.pad`` that adds ``before`` and ``after`` entries along
    ``axis`` of ``x`` only."""
    widths = [(0, 0)] * np.ndim(x)
    widths[axis] = (before, after)
    return widths


def axis_slice(x, start, stop, axis):
    """The index ``x[..., start:stop, ...]`` with the slice at ``axis``."""
    return (slice(None),) * (axis % np.ndim(x)) + (slice(start, stop),)


def undiff(g, n, axis):
    """Adjoint of ``np.diff(x, n, axis)`` (in the input x, prepend and append joined): the
    transpose of a difference is minus the difference of the zero-padded cotangent, so that of
    n differences is ``(-1)**n`` times n differences of ``g`` padded with n zeros each side."""
    if n == 0:
        return g
    padded = np.pad(g, axis_padding(g, n, n, axis))
    return np.diff(padded, n, axis=axis) * (-1.0 if n % 2 else 1.0)


def diff_part(g, a, prepend, axis, part):
    """The index into the adjoint of ``np.diff``'s joined input (``undiff``) that belongs to
    ``part``: 'prepend', 'a' or 'append'."""
    before = 0 if prepend is None else 1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis]
    length = _shape(a)[axis]
    bounds = {"prepend": (0, before), "a": (before, before + length),
              "append": (before + length, None)}[part]
    return axis_slice(g, *bounds, axis)


def ediff1d_part(ary, to_begin, part):
    """The slice of ``np.ediff1d(ary, to_end, to_begin)``'s output that ``part`` ('begin',
    'ary' for the differences, 'end') makes."""
    before = 0 if to_begin is None else np.size(to_begin)
    length = max(np.size(ary) - 1, 0)
    return {"begin": slice(0, before), "ary": slice(before, before + length),
            "end": slice(before + length, None)}[part]


def rollaxis_axes(a, axis, start=0):
    """The permutation ``np.rollaxis(a, axis, start)`` applies (a transpose's ``axes``)."""
    ndim = np.ndim(a)
    axis %= ndim
    start = start + ndim if start < 0 else start
    if axis < start:
        start -= 1
    axes = [i for i in range(ndim) if i != axis]
    axes.insert(start, axis)
    return tuple(axes)


def delete_index(arr, obj, axis=None):
    """The index into ``arr`` of the elements ``np.delete(arr, obj, axis)`` keeps, shaped like
    its result."""
    shape = _shape(arr)
    kept = np.delete(np.arange(math.prod(shape)).reshape(shape), obj, axis)
    return np.unravel_index(kept, shape)


def insert_sources(arr, obj, values, axis=None):
    """Where each element of ``np.insert(arr, obj, values, axis)`` comes from: a mask of the
    elements copied from ``arr`` and, for the others, the flat index into ``values`` each was
    broadcast from."""
    shape, vshape = _shape(arr), np.shape(values)
    own = np.arange(1, math.prod(shape) + 1).reshape(shape)
    inserted = -np.arange(1, math.prod(vshape) + 1).reshape(vshape)
    source = np.insert(own, obj, inserted, axis)
    return source > 0, -source[source < 0] - 1


def scatter_flat(g, index, like):
    """Zeros shaped like ``like`` with the entries of ``g`` added at the flat positions
    ``index`` (shaped like ``g``; repeated positions accumulate), in ``g``'s dtype."""
    out = np.zeros(math.prod(np.shape(like)), dtype=np.result_type(g, np.float32))
    np.add.at(out, np.ravel(index), np.ravel(g))
    return out.reshape(np.shape(like))


def convolve_padding(a, v, mode, correlate=False):
    """The ``pad_width`` that places the output of ``np.convolve(a, v, mode)`` (or
    ``np.correlate``) inside the full one: its offset and the entries it drops at the end."""
    n, m = np.size(a), np.size(v)
    full = n + m - 1
    if mode == "full":
        return (0, 0)
    if mode == "valid":
        start, length = min(n, m) - 1, max(n, m) - min(n, m) + 1
    else:   # 'same': NumPy centres the two differently when v is the longer one
        start = min(n, m) // 2 if correlate and n < m else (min(n, m) - 1) // 2
        length = max(n, m)
    return (start, full - start - length)


def interp_segment(x, xp):
    """The segment of ``xp`` each ``x`` lies in (``xp[i] <= x < xp[i + 1]``), clipped to the
    first and last segments outside; at a knot, the segment to its right (the last one at
    the end point)."""
    i = np.searchsorted(xp, x, side="right") - 1
    return np.clip(i, 0, len(xp) - 2)


def interp_replaced(x, xp, left, right):
    """Where ``np.interp`` returns ``left``/``right`` instead of interpolating ``fp``: outside
    the range of ``xp``, on the sides where those values are given."""
    outside = np.zeros(np.shape(x), dtype=bool)
    if left is not None:
        outside |= np.less(x, xp[0])
    if right is not None:
        outside |= np.greater(x, xp[-1])
    return outside


def interp_order(xp, period):
    """The knots of ``np.interp(..., period=period)``, as indices into ``xp``: sorted by
    ``xp % period``, with the last one first and the first one last (the wrapped ends)."""
    order = np.argsort(np.mod(xp, abs(period)), kind="stable")
    return np.concatenate([order[-1:], order, order[:1]])


def interp_shift(v, k, period):
    """What ``np.interp`` adds to ``v[k]`` (``v`` without ``k``) under ``period``: the
    ``% period`` reduction, and for the knots (``k`` given) one period less at the first
    (wrapped) knot and one more at the last. Piecewise constant."""
    taken = v if k is None else v[k]
    shift = np.mod(taken, abs(period)) - taken
    if k is not None:
        shift[0] -= abs(period)
        shift[-1] += abs(period)
    return shift


def polyval_powers(p, x):
    """The powers ``len(p) - 1, ..., 1, 0`` of ``np.polyval(p, x)``, in ``x``'s float dtype."""
    return np.arange(len(p) - 1, -1, -1, dtype=np.result_type(x, np.float32))


def polyfit_weight(w, x):
    """The weights of ``np.polyfit(x, y, deg, w=w)`` as a column that multiplies the rows of
    the Vandermonde matrix (1.0 without ``w``). Linear in ``w``."""
    return 1.0 if w is None else np.reshape(w, (_shape(x)[0], 1))


def trapezoid_ends(y, axis):
    """The weights ``0.5, 1, ..., 1, 0.5`` of the trapezoidal rule along ``axis`` of ``y``
    (unit spacing), shaped to broadcast against it, in its dtype."""
    n = _shape(y)[axis]
    weights = np.ones(n, dtype=np.result_type(y, np.float32))
    weights[[0, -1]] = 0.5 if n > 1 else 0.0
    return weights.reshape((-1,) + (1,) * (np.ndim(y) - 1 - axis % np.ndim(y)))


def along_axis_shape(y, v, axis):
    """The shape that makes ``v`` broadcast against ``y``: its own, or for a 1-d ``v`` (and an
    n-d ``y``) its length along ``axis`` and ones elsewhere."""
    if np.ndim(v) == np.ndim(y):
        return np.shape(v)
    shape = [1] * np.ndim(y)
    shape[axis] = np.size(v)
    return tuple(shape)


def select_masks(condlist, like):
    """The masks of ``np.select(condlist, choices, default)`` (shaped like its output
    ``like``): where each choice is taken (its condition is the first to hold), and where
    the default is."""
    taken = np.zeros(np.shape(like), dtype=bool)
    masks = []
    for cond in condlist:
        mask = np.logical_and(cond, np.logical_not(taken))
        masks.append(mask)
        taken = taken | mask
    return masks, np.logical_not(taken)


def select_adjoints(g, masks, choicelist):
    """The adjoints of ``np.select``'s choices: ``g`` where each is taken, summed over the
    axes it was broadcast along."""
    return [unbroadcast(np.where(mask, g, 0.0), choice) for mask, choice in zip(masks, choicelist)]


SHARES.update({"axis_padding": (), "axis_slice": (), "undiff": (), "diff_part": (),
               "ediff1d_part": (), "rollaxis_axes": (), "delete_index": (),
               "insert_sources": (), "scatter_flat": (), "convolve_padding": (),
               "interp_segment": (), "interp_replaced": (),
               "interp_order": (), "interp_shift": (), "polyval_powers": (),
               "polyfit_weight": (0,), "trapezoid_ends": (), "along_axis_shape": (),
               "select_masks": (), "select_adjoints": ()})
__all__ += ["axis_padding", "axis_slice", "undiff", "diff_part", "ediff1d_part",
            "rollaxis_axes", "delete_index", "insert_sources", "scatter_flat",
            "convolve_padding", "interp_segment", "interp_replaced", "interp_order",
            "interp_shift", "polyval_powers", "polyfit_weight", "trapezoid_ends",
            "along_axis_shape", "select_masks", "select_adjoints"]


# -- block and meshgrid (templates/shape.py) ---------------------------------------------------

def _block_depth(arrays):
    return 1 + _block_depth(arrays[0]) if isinstance(arrays, list) else 0


def _block_leaves(arrays):
    if isinstance(arrays, list):
        return [leaf for item in arrays for leaf in _block_leaves(item)]
    return [arrays]


def unblock(g, arrays):
    """Adjoint of ``np.block(arrays)``: ``g`` cut into pieces nested like ``arrays``, each
    shaped like its array. The lists at nesting level L (of depth D) join along axis L - D,
    after every array is promoted to the result's number of dimensions."""
    depth = _block_depth(arrays)
    ndim = max([depth] + [np.ndim(leaf) for leaf in _block_leaves(arrays)])

    def extent(item, level):
        if not isinstance(item, list):
            return (1,) * (ndim - np.ndim(item)) + tuple(np.shape(item))
        shape = list(extent(item[0], level + 1))
        shape[ndim - depth + level] = sum(extent(x, level + 1)[ndim - depth + level]
                                          for x in item)
        return tuple(shape)

    def cut(g, item, level):
        if not isinstance(item, list):
            return np.reshape(g, np.shape(item))
        axis = ndim - depth + level
        sizes = [extent(x, level + 1)[axis] for x in item]
        pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
        return [cut(p, x, level + 1) for p, x in zip(pieces, item)]

    return cut(g, arrays, 0)


def unmeshgrid(gs, xi, indexing="xy", sparse=False):
    """Adjoint of ``np.meshgrid(*xi, indexing=indexing, sparse=sparse)``: each output's
    cotangent summed over every axis but its input's (axes 0 and 1 swap for 'xy'), shaped
    like the input."""
    n = len(xi)
    adjoints = []
    for k, (g, x) in enumerate(zip(gs, xi)):
        axis = 1 - k if indexing == "xy" and n > 1 and k < 2 else k
        others = tuple(i for i in range(np.ndim(g)) if i != axis)
        adjoints.append(np.reshape(np.sum(g, axis=others), np.shape(x)))
    return adjoints


SHARES.update({"unblock": (), "unmeshgrid": ()})
HOLDS.update({"unblock": (0,), "unmeshgrid": (0,)})
__all__ += ["unblock", "unmeshgrid"]


# -- statistics (templates/statistics.py) ------------------------------------------------------
# Quantiles are written in a layout with a's axes first and q's last: weights shaped
# a.shape + q.shape, positions rho shaped keep + q.shape (keep: a's shape, 1 on reduced axes).

_CONTINUOUS = {"linear": (1.0, 1.0), "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
               "median_unbiased": (1 / 3, 1 / 3), "normal_unbiased": (3 / 8, 3 / 8),
               "interpolated_inverted_cdf": (0.0, 1.0)}
_DISCRETE = ("lower", "higher", "nearest", "midpoint", "inverted_cdf",
             "averaged_inverted_cdf", "closest_observation")


def _reduced_axes(a, axis):
    ndim = np.ndim(a)
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(i % ndim for i in ((axis,) if np.ndim(axis) == 0 else axis)))


def _group_sizes(a, axis, ignore_nan):
    """The number of (non-NaN) elements of each group, shaped keep."""
    axes = _reduced_axes(a, axis)
    if ignore_nan:
        return np.sum(np.logical_not(np.isnan(a)), axis=axes, keepdims=True)
    keep = tuple(1 if i in axes else n for i, n in enumerate(np.shape(a)))
    return np.full(keep, math.prod(np.shape(a)[i] for i in axes))


def _raw_position(q, a, axis, method, ignore_nan):
    if method not in _CONTINUOUS and method not in _DISCRETE:
        raise ValueError(f"srcad differentiates np.quantile with a method in "
                         f"{tuple(_CONTINUOUS) + _DISCRETE}, not {method!r}")
    q = np.asarray(q)
    n = _group_sizes(a, axis, ignore_nan)
    n = n.reshape(n.shape + (1,) * q.ndim)
    dtype = np.result_type(a, np.float32)
    if method in _CONTINUOUS:
        alpha, beta = _CONTINUOUS[method]
        raw = q * (n + 1.0 - alpha - beta) + (alpha - 1.0)
        return np.clip(raw, 0.0, np.maximum(n - 1.0, 0.0)).astype(dtype), raw, n
    rho = np.zeros(np.broadcast_shapes(n.shape, q.shape), dtype=dtype)
    for count in np.unique(n):
        if count > 0:
            at = np.broadcast_to(n == count, rho.shape)
            value = np.quantile(np.arange(count, dtype=float), q, method=method)
            rho[at] = np.broadcast_to(value, rho.shape)[at]
    return rho, None, n


def quantile_position(q, a, axis, method, ignore_nan=False):
    """The sorted position (fractional: rho) each quantile ``q`` of ``np.quantile(a, q, axis,
    method=method)`` interpolates at, in each group of ``a``, shaped keep + q.shape. The
    continuous methods are piecewise linear in q; the discrete ones piecewise constant."""
    return _raw_position(q, a, axis, method, ignore_nan)[0]


def quantile_slope(q, a, axis, method, ignore_nan=False):
    """d rho / d q for ``quantile_position`` (0 where it is clipped, and for the discrete
    methods)."""
    rho, raw, n = _raw_position(q, a, axis, method, ignore_nan)
    if raw is None:
        return np.zeros_like(rho)
    alpha, beta = _CONTINUOUS[method]
    inside = (raw >= 0.0) & (raw <= n - 1.0)
    return np.where(inside, n + 1.0 - alpha - beta, 0.0).astype(rho.dtype)


def order_statistics(a, rho, axis, ignore_nan=False):
    """One-hot weights, shaped a.shape + q.shape, of the two sorted elements each quantile
    interpolates between: at sorted position floor(rho), and the next one (the same at the
    end). NaN sorts last; a group without numbers gets no weight."""
    axes = _reduced_axes(a, axis)
    shape = np.shape(a)
    rest = [i for i in range(len(shape)) if i not in axes]
    group = math.prod(shape[i] for i in axes)
    moved = np.transpose(a, rest + list(axes)).reshape([shape[i] for i in rest] + [group])
    order = np.argsort(moved, axis=-1, kind="stable")
    q_shape = np.shape(rho)[len(shape):]
    rho = np.reshape(np.transpose(rho, rest + list(axes) + list(
        range(len(shape), np.ndim(rho)))), [shape[i] for i in rest] + [-1])
    sizes = _group_sizes(a, axis, ignore_nan).reshape([shape[i] for i in rest] + [1])
    low = np.floor(rho).astype(np.intp)
    high = np.clip(np.minimum(low + 1, sizes - 1), 0, None)
    dtype = np.result_type(a, np.float32)
    perm = [rest.index(i) if i in rest else len(rest) + 1 + axes.index(i)
            for i in range(len(shape))] + [len(rest)]

    def one_hot(position):
        source = np.take_along_axis(order, np.minimum(position, group - 1), axis=-1)
        hot = (source[..., None] == np.arange(group)) & (sizes[..., None] > 0)
        hot = hot.reshape(hot.shape[:-1] + tuple(shape[i] for i in axes))
        return np.transpose(hot, perm).reshape(shape + q_shape).astype(dtype)

    return one_hot(low), one_hot(high)


def median_weights(a, axis, ignore_nan=False):
    """dy/da of ``np.median(a, axis)`` (``nanmedian``): 1 at the middle element of each group,
    0.5 at each of the two middle ones of an even count."""
    rho = quantile_position(0.5, a, axis, "linear", ignore_nan)
    low, high = order_statistics(a, rho, axis, ignore_nan)
    return low + (rho - np.floor(rho)) * (high - low)


def quantile_layout(a, q, axis):
    """For the quantile rules: the reduced axes of ``a``; the shape that gives ``a`` room for
    q's axes (a.shape + ones); where q's axes are in the output (first) and in the rules'
    layout (last); the output's shape with every axis kept."""
    axes = _reduced_axes(a, axis)
    shape, nq = np.shape(a), np.ndim(q)
    keep = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return (axes, shape + (1,) * nq, tuple(range(nq)),
            tuple(range(len(shape), len(shape) + nq)), np.shape(q) + keep)


def nan_dof_inverse(a, axis, ddof):
    """``1 / (n - ddof)`` for the n non-NaN elements of each group of ``np.nanvar``/``nanstd``,
    nan where ``n <= ddof`` (so is the value), shaped keep."""
    n = _group_sizes(a, axis, True)
    dtype = np.result_type(a, np.float32)
    return np.where(n > ddof, 1.0 / np.where(n > ddof, n - ddof, 1), np.nan).astype(dtype)


def cov_rows(m, y=None, rowvar=True):
    """The variables of ``np.cov(m, y, rowvar)`` as rows: m (and y) at least 2-d, transposed
    when ``rowvar`` is False (unless it is a single row), stacked."""
    parts = [m] if y is None else [m, y]
    rows = []
    for part in parts:
        part = np.atleast_2d(part)
        rows.append(part.T if not rowvar and part.shape[0] != 1 else part)
    return rows[0] if len(rows) == 1 else np.concatenate(rows, axis=0)


def un_cov_rows(g, m, y=None, rowvar=True):
    """Adjoint of ``cov_rows``: the rows of ``g`` given back to m and y, in their shapes (for
    y None, 0.0)."""
    rows = np.atleast_2d(m)
    count = rows.shape[0] if rowvar or rows.shape[0] == 1 else rows.shape[1]
    pieces = []
    for part, piece in ((m, g[:count]), (y, g[count:])):
        if part is None:
            pieces.append(0.0)
            continue
        transposed = not rowvar and np.atleast_2d(part).shape[0] != 1
        pieces.append(np.reshape(piece.T if transposed else piece, np.shape(part)))
    return pieces


def cov_scale(rows, bias=False, ddof=None):
    """``1 / (N - ddof)`` of ``np.cov`` for ``rows`` (variables by observations)."""
    ddof = (0 if bias else 1) if ddof is None else ddof
    return 1.0 / (np.shape(rows)[1] - ddof)


def cov_weights(aweights, fweights, rows):
    """The observation weights of ``np.cov``: ``fweights * aweights`` (a weight left out is 1)
    in the float dtype of ``rows``, one per column of ``rows``. Linear in ``aweights``."""
    dtype = np.result_type(rows, np.float32)
    w = np.ones(_shape(rows)[1], dtype=dtype) if aweights is None else aweights
    return w if fweights is None else w * np.asarray(fweights, dtype=dtype)


def cov_ddof(bias=False, ddof=None):
    """The ``ddof`` of ``np.cov``: 1, 0 with ``bias``, or the one given."""
    return (0 if bias else 1) if ddof is None else ddof


SHARES.update({"cov_weights": (0,), "cov_ddof": ()})
__all__ += ["cov_weights", "cov_ddof"]
SHARES.update({"quantile_position": (), "quantile_slope": (), "order_statistics": (),
               "median_weights": (), "quantile_layout": (), "nan_dof_inverse": (),
               "cov_rows": (0, 1), "un_cov_rows": (), "cov_scale": ()})
HOLDS.update({"un_cov_rows": (0,)})
__all__ += ["quantile_position", "quantile_slope", "order_statistics", "median_weights",
            "quantile_layout", "nan_dof_inverse", "cov_rows", "un_cov_rows", "cov_scale"]


# -- gradient, broadcast_arrays, choose, trim_zeros, vander, polyder (batch two) -------------

def _gradient_axes(f, axis):
    ndim = np.ndim(f)
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if np.ndim(axis) == 0 else axis))


def ungradient(g, f, spacing, axis=None, edge_order=1):
    """Adjoint of ``np.gradient(f, *spacing, axis=axis, edge_order=edge_order)`` in ``f``: for
    each axis, the transpose of its difference matrix (built by ``np.gradient`` of the identity,
    so the spacings and edge orders are NumPy's own) applied to that output's cotangent."""
    axes = _gradient_axes(f, axis)
    gs = g if isinstance(g, (list, tuple)) else [g]
    if not spacing:
        steps = (1.0,) * len(axes)
    elif len(spacing) == 1:
        steps = tuple(spacing) * len(axes)
    else:
        steps = tuple(spacing)
    out = np.zeros(_shape(f), dtype=np.result_type(*gs, np.float32))
    for gk, ax, step in zip(gs, axes, steps):
        n = _shape(f)[ax]
        matrix = np.gradient(np.eye(n, dtype=out.dtype), step, axis=0, edge_order=edge_order)
        out += np.moveaxis(np.tensordot(matrix, np.moveaxis(gk, ax, 0), axes=([0], [0])), 0, ax)
    return out


def constant_spacing(spacings):
    """0.0 when every entry is zero (the tangents of constant spacings of ``np.gradient``);
    otherwise an error: srcad differentiates ``np.gradient`` in ``f`` with constant spacings."""
    if all(np.all(np.equal(s, 0.0)) for s in spacings):
        return 0.0
    from .errors import NotDifferentiableError
    raise NotDifferentiableError(
        "srcad differentiates np.gradient(f, *varargs) in f only: its spacings or coordinates "
        "depend on the variables", hint="Pass constant spacings, or write the differences "
        "out (np.diff(f) / np.diff(x)).")


def unbroadcast_all(gs, items):
    """Adjoint of ``np.broadcast_arrays(*items)``: each cotangent summed back to its item."""
    return [unbroadcast(g, item) for g, item in zip(gs, items)]


def broadcast_all(hs, like):
    """Transpose of ``unbroadcast_all``: each ``hs[k]`` broadcast to ``like[k]``'s shape."""
    return [broadcast_like(h, item) for h, item in zip(hs, like)]


def choose_masks(a, choices, like):
    """Where ``np.choose(a, choices)`` (output ``like``) takes each choice, shaped like it."""
    index = np.broadcast_to(a, np.shape(like))
    return [index == k for k in range(len(choices))]


def trim_index(filt, trim="fb"):
    """The slice of ``filt`` that ``np.trim_zeros(filt, trim)`` keeps."""
    nonzero = np.flatnonzero(np.asarray(filt) != 0)
    if len(nonzero) == 0:
        return slice(0, 0)
    trim = trim.lower()
    return slice(nonzero[0] if "f" in trim else 0, nonzero[-1] + 1 if "b" in trim else None)


def vander_powers(x, N=None, increasing=False):
    """The powers of ``np.vander(x, N, increasing)``'s columns, in ``x``'s float dtype."""
    n = np.size(x) if N is None else N
    powers = np.arange(n, dtype=np.result_type(x, np.float32))
    return powers if increasing else powers[::-1]


def polyder_weights(p, m=1):
    """The factors ``np.polyder(p, m)`` multiplies the kept coefficients of ``p`` by."""
    return np.polyder(np.ones(len(p), dtype=np.result_type(p, np.float32)), m)


def polyint_weights(p, m=1):
    """The factors ``np.polyint(p, m)`` (no constants) gives the coefficients of ``p``."""
    return np.polyint(np.ones(len(p), dtype=np.result_type(p, np.float32)), m)[:len(p)]


SHARES.update({"ungradient": (), "constant_spacing": (), "unbroadcast_all": (),
               "broadcast_all": (), "choose_masks": (), "trim_index": (), "vander_powers": (),
               "polyder_weights": (), "polyint_weights": ()})
HOLDS.update({"unbroadcast_all": (0,), "broadcast_all": (0,)})
__all__ += ["ungradient", "constant_spacing", "unbroadcast_all", "broadcast_all",
            "choose_masks", "trim_index", "vander_powers", "polyder_weights", "polyint_weights"]


def set_sources(kind, ar1, ar2):
    """Where each value of ``np.<kind>(ar1, ar2)`` (union1d, intersect1d, setdiff1d,
    setxor1d) is read from: its first occurrence in the flattened ``ar1`` then ``ar2``, as a
    mask (in ar1) and a flat position in the two joined."""
    joined = np.concatenate([np.ravel(ar1), np.ravel(ar2)])
    values = getattr(np, kind)(ar1, ar2)
    unique, first = np.unique(joined, return_index=True)
    positions = first[np.searchsorted(unique, values)]
    return positions < np.size(ar1), positions


SHARES.update({"set_sources": ()})
__all__ += ["set_sources"]


def window_sources(x, window_shape, axis=None):
    """The flat index into ``x`` of every element of
    ``np.lib.stride_tricks.sliding_window_view(x, window_shape, axis)``."""
    shape = _shape(x)
    positions = np.arange(math.prod(shape)).reshape(shape)
    return np.lib.stride_tricks.sliding_window_view(positions, window_shape, axis)


SHARES.update({"window_sources": ()})
__all__ += ["window_sources"]


# -- more of np.linalg (templates/linalg.py) and scipy.linalg (templates/scipy_linalg.py) -----

def multi_dot_subscripts(arrays):
    """The einsum subscripts of ``np.linalg.multi_dot(arrays)``: a chain of matrix products,
    the first operand a row vector if it is 1-D, the last a column vector if it is 1-D."""
    count = len(arrays)
    letters = [chr(ord("a") + k) for k in range(count + 1)]
    terms = [letters[k] + letters[k + 1] for k in range(count)]
    first, last = letters[0], letters[count]
    if np.ndim(arrays[0]) == 1:
        terms[0], first = terms[0][1], ""
    if np.ndim(arrays[-1]) == 1:
        terms[-1], last = terms[-1][0], ""
    return ",".join(terms) + "->" + first + last


def vector_norm_direction(x, y, ord, axis, keepdims):
    """dy/dx for ``y = np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)``
    (the elements of each group over ``axis``, None: all, taken as one vector): p-norms
    (0 where x == 0), +-inf (ties split evenly), 0 (constant)."""
    axes = _norm_axes(x, axis)
    return _vector_direction(x, y if keepdims else np.expand_dims(y, axes), ord, axes)


def _vector_direction(x, yk, ord, axes):
    """dy/dx of the vector norm ``yk`` (kept dims) of each group of x over ``axes``."""
    ax = np.abs(x)
    if ord == np.inf or ord == -np.inf:
        return np.sign(x) * group_weights(ax == yk, axes, x)
    if ord == 0:
        return np.zeros_like(ax)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ax / np.where(yk == 0.0, 1.0, yk)
        return np.sign(x) * np.where(ax == 0.0, 0.0, ratio ** (ord - 1))


def _direction_slope(x, y, ord, axis, keepdims, vector):
    """What the derivatives of ``norm_direction`` (``vector_norm_direction`` when
    ``vector``) need: None where the direction is piecewise constant (its derivative is 0
    almost everywhere: vector norms 0 and +-inf, matrix norms +-1 and +-inf; vector 1 is
    sign(x), whose slope below is 0 too), else (axes, |x|, the norm with kept dims, |x| / it)
    for a vector p-norm, whose direction sign(x) (|x| / y) ** (p - 1) is smooth where x != 0."""
    axes = _norm_axes(x, axis)
    if not vector and len(axes) == 2:
        if ord in (1, -1, np.inf, -np.inf):
            return None
        raise NotImplementedError(f"srcad has no second derivative of np.linalg.norm with "
                                  f"ord={ord!r} chosen at run time: pass ord as a literal")
    if ord == 0 or ord == np.inf or ord == -np.inf:
        return None
    yk = y if keepdims else np.expand_dims(y, axes)
    ax = np.abs(x)
    safe = np.where(yk == 0.0, 1.0, yk)
    return axes, ax, safe, ax / safe


def norm_direction_dx(x, y, ord, axis, keepdims, dx, vector=False):
    """The derivative of ``norm_direction(x, y, ...)`` in ``x`` (y held), applied to ``dx``:
    elementwise, (p - 1) (|x| / y) ** (p - 2) / y (0 where x == 0); its own transpose."""
    slope = _direction_slope(x, y, ord, axis, keepdims, vector)
    if slope is None:
        return np.zeros(np.shape(x))
    _, ax, safe, ratio = slope
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ord - 1) * np.where(ax == 0.0, 0.0, ratio ** (ord - 2)) / safe * dx


def _direction_y_slope(x, slope, ord):
    _, ax, safe, ratio = slope
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1 - ord) * np.sign(x) * np.where(ax == 0.0, 0.0, ratio ** (ord - 1)) / safe


def norm_direction_dy(x, y, ord, axis, keepdims, dy, vector=False):
    """The derivative of ``norm_direction(x, y, ...)`` in the norm ``y``, applied to ``dy``
    (shaped like y): (1 - p) sign(x) (|x| / y) ** (p - 1) / y times dy."""
    slope = _direction_slope(x, y, ord, axis, keepdims, vector)
    if slope is None:
        return np.zeros(np.shape(x))
    return _direction_y_slope(x, slope, ord) * (dy if keepdims else np.expand_dims(
        dy, slope[0]))


def norm_direction_dy_adjoint(x, y, ord, axis, keepdims, g, vector=False):
    """The transpose of ``norm_direction_dy``: ``g`` (shaped like x) to the norm's shape."""
    slope = _direction_slope(x, y, ord, axis, keepdims, vector)
    if slope is None:
        return np.zeros(np.shape(y))
    return np.sum(_direction_y_slope(x, slope, ord) * g, axis=slope[0], keepdims=keepdims)


__all__ += ["norm_direction_dx", "norm_direction_dy", "norm_direction_dy_adjoint"]
SHARES.update({"norm_direction_dx": (), "norm_direction_dy": (),
               "norm_direction_dy_adjoint": ()})


def real_eigenvalues(w):
    """``w``, checked to be real: np.linalg.eig's rules hold for real eigenvalues only."""
    if np.iscomplexobj(w):
        raise ValueError("srcad differentiates np.linalg.eig/eigvals of real matrices with "
                         "real eigenvalues only; these eigenvalues are complex")
    return w


def residual_columns(g, like):
    """The cotangent of ``np.linalg.lstsq``'s residuals (shape (k,), (1,) or (0,) when there
    are none) as one entry per column of ``b`` (shaped like ``like``: ``b``'s shape without
    its first axis); zeros when there are no residuals."""
    if np.size(g) == 0:
        return zeros_like(like)
    return np.reshape(g, np.shape(like))


def as_residuals(t, residuals):
    """The transpose of ``residual_columns``: per-column values shaped like ``residuals``
    (empty when ``residuals`` is)."""
    return np.reshape(t, (-1,))[:np.size(residuals)]


def structured_matrix(a, assume_a, lower):
    """The matrix ``scipy.linalg.solve`` reads from ``a``: all of it ('gen'), or the triangle
    named by ``lower`` mirrored ('sym', 'her', 'pos' and their long names), or a triangle
    ('upper triangular', 'lower triangular'), or the diagonal ('diagonal')."""
    kind = _SOLVE_KINDS.get(assume_a)
    if kind is None:
        raise ValueError(f"srcad does not differentiate scipy.linalg.solve with "
                         f"assume_a={assume_a!r}: use 'gen', 'sym', 'pos', 'her', "
                         f"'diagonal' or a triangular kind")
    if kind == "gen":
        return a
    if kind == "sym":
        tri = np.tril(a) if lower else np.triu(a)
        return tri + _mT(np.tril(a, -1) if lower else np.triu(a, 1))
    if kind == "diagonal":
        return np.eye(np.shape(a)[-1], dtype=np.result_type(a, 1.0)) * a
    return np.tril(a) if kind == "lower" else np.triu(a)


def structured_matrix_adjoint(g, assume_a, lower):
    """The transpose of ``structured_matrix`` (a gradient with respect to the matrix read,
    folded onto the elements of ``a`` it reads)."""
    kind = _SOLVE_KINDS.get(assume_a)
    if kind == "sym":
        tri = np.tril(g) if lower else np.triu(g)
        return tri + (np.tril(_mT(g), -1) if lower else np.triu(_mT(g), 1))
    return structured_matrix(g, assume_a, lower)


_SOLVE_KINDS = {None: "gen", "gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
                "her": "sym", "hermitian": "sym", "pos": "sym", "positive definite": "sym",
                "diagonal": "diagonal", "upper triangular": "upper",
                "lower triangular": "lower"}

__all__ += ["multi_dot_subscripts", "vector_norm_direction", "real_eigenvalues",
            "residual_columns", "as_residuals", "structured_matrix", "structured_matrix_adjoint"]
SHARES.update({"multi_dot_subscripts": (), "vector_norm_direction": (),
               "real_eigenvalues": (0,), "residual_columns": (0,), "as_residuals": (0,),
               "structured_matrix": (0,), "structured_matrix_adjoint": (0,)})


def qr_columns(a, mode):
    """min(m, n) for ``np.linalg.qr(a, mode)``: the columns of Q that are determined by ``a``;
    refuses the modes whose outputs the rules do not model ('raw', 'r', 'economic')."""
    if mode not in ("reduced", "complete"):
        raise NotImplementedError(f"srcad differentiates np.linalg.qr with mode 'reduced' or "
                                  f"'complete', not {mode!r}")
    return min(np.shape(a)[-2:])


__all__ += ["qr_columns"]
SHARES.update({"qr_columns": ()})


def _r_axes(ndim, ndmin, trans1d):
    """The transposition ``np.r_``'s directive gives a piece of rank ``ndim`` made
    ``ndmin``-D (its leading new axes moved so its own axes start at ``trans1d``), or None."""
    if trans1d == -1 or ndim >= ndmin:
        return None
    new = ndmin - ndim
    start = trans1d if trans1d >= 0 else trans1d + new + 1
    axes = list(range(ndmin))
    return axes[:start] + axes[new:] + axes[start:new]


def r_piece(x, ndmin, trans1d):
    """A piece of ``np.r_['axis,ndmin,trans1d', ...]`` as NumPy makes it: at least
    ``ndmin``-D, new axes in front, then transposed so its own axes start at ``trans1d``
    (-1: stay last)."""
    x = np.asarray(x)
    y = np.reshape(x, (1,) * (ndmin - x.ndim) + x.shape) if x.ndim < ndmin else x
    axes = _r_axes(x.ndim, ndmin, trans1d)
    return y if axes is None else np.transpose(y, axes)


def unr_piece(g, x, ndmin, trans1d):
    """The cotangent of ``x`` from that of ``r_piece(x, ndmin, trans1d)``: transposed back
    and reshaped to ``x``'s shape (the transpose of r_piece)."""
    axes = _r_axes(np.ndim(x), ndmin, trans1d)
    return np.reshape(g if axes is None else np.transpose(g, np.argsort(axes)), np.shape(x))


def r_scalar(value, *pieces):
    """A literal piece of ``np.r_[...]``/``np.c_[...]`` as a 1-element array of the type NumPy
    gives it beside the other ``pieces`` (a Python float keeps float32 arrays float32)."""
    return np.array([value], dtype=np.result_type(*pieces, value))


def kaiser_radii(m):
    """``sqrt(1 - ((n - a) / a) ** 2)`` for ``n = 0..m-1``, ``a = (m - 1) / 2``: np.kaiser(m,
    beta) is ``i0(beta * radii) / i0(beta)``; ``[1.0]`` for ``m == 1`` (a window of ones)."""
    if m == 1:
        return np.ones(1)
    alpha = (m - 1) / 2.0
    return np.sqrt(1.0 - ((np.arange(0, m) - alpha) / alpha) ** 2)


def poly_roots(seq_of_zeros):
    """The roots ``np.poly`` reads, as given: a 1-D sequence (a matrix, whose characteristic
    polynomial np.poly would give, is refused). Linear, the identity."""
    if np.ndim(seq_of_zeros) > 1:
        raise NotImplementedError("srcad differentiates np.poly of a 1-D sequence of roots, "
                                  "not of a matrix (its characteristic polynomial)")
    return np.atleast_1d(seq_of_zeros)


def histogram_bin_count(bins):
    """The number of bins of ``np.histogram_bin_edges(a, bins)`` srcad differentiates: an
    integer (evenly spaced edges from min(a) to max(a)); a string (edges chosen from the
    data's spread) or an array of edges is refused."""
    if isinstance(bins, (str, bytes)) or np.ndim(bins) != 0:
        raise NotImplementedError("srcad differentiates np.histogram_bin_edges with an integer "
                                  f"bins and no range, not bins={bins!r}")
    return operator.index(bins)


def upper_toeplitz(c, n):
    """The n x n upper-triangular Toeplitz matrix of ``c``: ``t[m, k] = c[k - m]`` for
    ``k >= m`` (np.poly's rules: row i of ``(r_i ** m) @ t`` is ``c / (x - r_i)``). Linear in
    ``c``."""
    shift = np.arange(n)[None, :] - np.arange(n)[:, None]
    return np.where(shift >= 0, np.asarray(c)[..., np.maximum(shift, 0)], 0.0)


def upper_toeplitz_adjoint(g, c):
    """The adjoint of ``upper_toeplitz(c, n)`` for the cotangent ``g`` (n x n): entry j sums
    the j-th upper diagonal of ``g``; the entries of ``c`` past n - 1 get 0."""
    n = np.shape(g)[-1]
    sums = np.array([np.trace(g, offset=j) for j in range(n)], dtype=np.result_type(g))
    return np.concatenate([sums, np.zeros(np.shape(c)[-1] - n, dtype=sums.dtype)])


def pad_identity(x, n, axis, fill=1.0):
    """A unit-triangular factor made square: ``x`` (..., m, k) with the columns k..n-1 of the
    n x n identity (times ``fill``) appended (``axis=-1``), or ``x`` (..., k, n) with its rows
    k..n-1 (``axis=-2``); scipy.linalg.lu's rules of wide and tall matrices. Linear in ``x``
    for ``fill=0.0`` (the derivative's padding)."""
    k = np.shape(x)[axis]
    eye = np.eye(n, dtype=np.result_type(x)) * fill
    extra = eye[:, k:] if axis == -1 else eye[k:, :]
    return np.concatenate([x, np.broadcast_to(extra, np.shape(x)[:-2] + np.shape(extra))],
                          axis=axis)


def unpad_identity(g, x, axis):
    """The adjoint of ``pad_identity(x, n, axis)`` for ``g``: the part of ``g`` over ``x``."""
    k = np.shape(x)[axis]
    return g[..., :, :k] if axis == -1 else g[..., :k, :]


__all__ += ["r_piece", "unr_piece", "r_scalar", "kaiser_radii", "poly_roots",
            "histogram_bin_count", "upper_toeplitz", "upper_toeplitz_adjoint", "pad_identity",
            "unpad_identity"]
SHARES.update({"r_piece": (0,), "unr_piece": (0,), "r_scalar": (), "kaiser_radii": (),
               "poly_roots": (0,), "histogram_bin_count": (), "upper_toeplitz": (), "upper_toeplitz_adjoint": (),
               "pad_identity": (), "unpad_identity": (0,)})


# -- scipy.signal's convolutions (templates/scipy_signal.py) -----------------------------------

def _crop_slices(g_shape, in1, in2, axes=None):
    """Where an output of shape ``g_shape`` sits in the 'full' convolution of in1 and in2
    along ``axes`` (None: all; elsewhere the operands broadcast): centered, as SciPy crops
    'same' and 'valid' (start (full - out) // 2 on each axis; 'same' crops a broadcast axis
    to in1's size too)."""
    ndim = len(g_shape)
    along = range(ndim) if axes is None else {a % ndim for a in np.atleast_1d(axes).tolist()}
    full = [n + m - 1 if i in along else max(n, m)
            for i, (n, m) in enumerate(zip(_shape(in1), _shape(in2)))]
    return full, tuple(slice((f - o) // 2, (f - o) // 2 + o) for f, o in zip(full, g_shape))


def uncrop(g, in1, in2, axes=None):
    """``g`` (a 'full', 'same' or 'valid' convolution's cotangent) placed in a zero array of
    the 'full' shape."""
    full, where = _crop_slices(_shape(g), in1, in2, axes)
    if list(_shape(g)) == full:
        return g
    out = np.zeros(full, dtype=np.result_type(g, 1.0))
    out[where] = g
    return out


def crop(g, like, in1, in2, axes=None):
    """The transpose of ``uncrop``: the part of a 'full'-shaped ``g`` shaped like ``like``."""
    full, where = _crop_slices(_shape(like), in1, in2, axes)
    return g if list(_shape(like)) == full else g[where]


__all__ += ["uncrop", "crop"]
SHARES.update({"uncrop": (0,), "crop": (0,)})


def lu_rows(piv):
    """The row order ``perm`` of ``scipy.linalg.lu_factor``'s pivots (LAPACK's: row i was
    swapped with row piv[i], in turn): ``a[perm] = l @ u``."""
    perm = np.arange(np.shape(piv)[-1])
    for i, p in enumerate(np.asarray(piv)):
        perm[i], perm[p] = perm[p], perm[i]
    return perm


__all__ += ["lu_rows"]
SHARES.update({"lu_rows": ()})


def lower_factor(c, lower):
    """The lower-triangular factor ``l`` (``a = l l^T``) that ``scipy.linalg.cho_factor``'s
    ``c`` holds: its lower triangle, or the transpose of its upper one (the other triangle of
    ``c`` is not part of the factor)."""
    return np.tril(c) if lower else _mT(np.triu(c))


def lower_factor_adjoint(g, lower):
    """The transpose of ``lower_factor``."""
    return np.tril(g) if lower else np.triu(_mT(g))


__all__ += ["lower_factor", "lower_factor_adjoint"]
SHARES.update({"lower_factor": (), "lower_factor_adjoint": ()})


def _as_block(x):
    return np.reshape(x, (1, -1)) if np.ndim(x) < 2 else x      # block_diag's 2-D form


def block_diag_of(items, like):
    """``scipy.linalg.block_diag(*items)`` in NumPy, a placeholder item (no derivative) taken
    as zeros shaped like the matching array of ``like``."""
    blocks = [_as_block(item) for item in zeros_filled(items, like)]
    rows = sum(np.shape(b)[0] for b in blocks)
    cols = sum(np.shape(b)[1] for b in blocks)
    out = np.zeros((rows, cols), dtype=np.result_type(*blocks, 1.0))
    r = c = 0
    for b in blocks:
        out[r:r + np.shape(b)[0], c:c + np.shape(b)[1]] = b
        r, c = r + np.shape(b)[0], c + np.shape(b)[1]
    return out


def unblock_diag(g, arrays):
    """The transpose of ``block_diag_of``: the diagonal blocks of ``g``, each shaped like its
    array."""
    out, r, c = [], 0, 0
    for a in arrays:
        rows, cols = np.shape(_as_block(a))
        out.append(np.reshape(g[r:r + rows, c:c + cols], np.shape(a)))
        r, c = r + rows, c + cols
    return out


def _toeplitz_offsets(rows, cols):
    return np.subtract.outer(np.arange(rows), np.arange(cols))       # i - j


def toeplitz_of(v, part, symmetric, like):
    """The part of ``scipy.linalg.toeplitz(c, r)`` (shaped like ``like``) that the vector ``v``
    makes: for part 'c' the lower triangle (and, ``symmetric``: r is None, the upper one),
    for part 'r' the strict upper triangle."""
    k = _toeplitz_offsets(*np.shape(like))
    v = np.asarray(v)
    if part == "r":
        return np.where(k < 0, v[np.clip(-k, 0, np.size(v) - 1)], 0.0)
    lower = np.where(k >= 0, v[np.clip(k, 0, np.size(v) - 1)], 0.0)
    return np.where(k >= 0, lower, v[np.clip(-k, 0, np.size(v) - 1)]) if symmetric else lower


def toeplitz_adjoint(g, part, symmetric):
    """The transpose of ``toeplitz_of``: the sums of ``g`` along the diagonals that ``v``
    fills (one entry per element of c, or of r)."""
    rows, cols = np.shape(g)
    out = np.zeros(rows if part == "c" else cols, dtype=np.result_type(g, 1.0))
    if part == "c":
        for k in range(rows):
            out[k] = np.trace(g, -k) + (np.trace(g, k) if symmetric and k else 0.0)
    else:
        for k in range(1, cols):
            out[k] = np.trace(g, k)
    return out


__all__ += ["block_diag_of", "unblock_diag", "toeplitz_of", "toeplitz_adjoint"]
SHARES.update({"block_diag_of": (), "unblock_diag": (), "toeplitz_of": (),
               "toeplitz_adjoint": ()})


def refused_derivative(value, message):
    """Raise srcad's refusal of a derivative that has no rule (``message``: which function, in
    which argument). Called by a rule only where that argument is active: the adjoint reads
    it for an active input, the tangent multiplies it by the input's tangent (a symbolic zero
    for an inactive input drops the call)."""
    from .errors import NotDifferentiableError
    raise NotDifferentiableError(
        f"srcad has no derivative of {message}",
        hint="Hold that argument constant (srcad.stop_gradient), or write the function out.")


__all__ += ["refused_derivative"]
SHARES.update({"refused_derivative": ()})


def structure_basis(pattern, size, like):
    """The 0/1 tensor (``pattern``'s shape + (size,)) of a structured matrix made from a vector
    ``v`` of ``size`` elements: entry [i, j, k] is 1 where the matrix holds ``v[k]``, which
    ``pattern`` (the matrix made from 1, 2, ..., size) marks with k + 1; dtype of ``like``."""
    marks = np.arange(1, size + 1)
    return (np.expand_dims(pattern, -1) == marks).astype(np.result_type(like, 1.0))


def structure_of(v, basis):
    """The structured matrix (or stack of them) that the vector(s) ``v`` make in ``basis``."""
    return np.einsum("...k,ijk->...ij", v, basis)


def structure_adjoint(g, basis):
    """The transpose of ``structure_of``: each element's sum over the entries it fills."""
    return np.einsum("...ij,ijk->...k", g, basis)


__all__ += ["structure_basis", "structure_of", "structure_adjoint"]
SHARES.update({"structure_basis": (), "structure_of": (), "structure_adjoint": ()})


# -- np.errstate around differentiated code -----------------------------------------------------

def _thread_stack(attribute: str) -> list:
    """A stack kept on the current thread under ``attribute`` (made empty on first use)."""
    thread = threading.current_thread()
    stack = getattr(thread, attribute, None)
    if stack is None:
        stack = []
        setattr(thread, attribute, stack)
    return stack


def _errstate_stack() -> list:
    """The NumPy error states ``errstate_enter`` replaced in this thread, innermost last (on
    the thread: NumPy's error state is per thread)."""
    return _thread_stack("_srcad_errstates")


def errstate_enter(**kwargs) -> None:
    """Enter ``np.errstate(**kwargs)``: generated code calls this where the user's ``with``
    block starts in the primal (and where its adjoint starts in the adjoint sweep)."""
    _errstate_stack().append(np.seterr(**kwargs))


def errstate_exit(**kwargs) -> None:
    """Leave the ``np.errstate`` the matching ``errstate_enter`` entered (``kwargs``, the
    same, let the adjoint sweep enter it again)."""
    np.seterr(**_errstate_stack().pop())


def errstate_reset() -> None:
    """After a derivative raised inside an errstate block: the state before the outermost."""
    stack = _errstate_stack()
    if stack:
        np.seterr(**stack[0])
        stack.clear()


__all__ += ["errstate_enter", "errstate_exit", "errstate_reset"]


# -- with over a user's context manager ------------------------------------------------------

def _context_stack() -> list:
    """The context managers ``context_enter`` entered in this thread and not yet left."""
    return _thread_stack("_srcad_contexts")


def context_enter(manager) -> None:
    """``with manager:`` starts, in the primal only: ``__enter__`` runs as Python runs it
    (its value is not used: srcad refuses a ``with ... as name`` that reads ``name``)."""
    cls = type(manager)
    leave = cls.__exit__
    cls.__enter__(manager)
    _context_stack().append((manager, leave))


def context_exit() -> None:
    """The block of the innermost ``context_enter`` ended: its ``__exit__(None, None, None)``."""
    manager, leave = _context_stack().pop()
    leave(manager, None, None, None)


def context_unwind(exc: BaseException) -> None:
    """A derivative raised ``exc`` inside ``with`` blocks: each manager's ``__exit__`` gets
    the exception, innermost first, as Python gives it. One that suppresses it would resume
    after its block, which the derivative cannot: that is refused (from ``exc``)."""
    stack = _context_stack()
    suppressed = None
    while stack:
        manager, leave = stack.pop()
        if leave(manager, type(exc), exc, exc.__traceback__):
            suppressed = suppressed or manager
    if suppressed is not None:
        from .errors import NotDifferentiableError
        raise NotDifferentiableError(
            f"the context manager {type(suppressed).__name__} suppressed "
            f"{type(exc).__name__}: {exc} (raised in its block)", None,
            hint="srcad cannot resume the derivative after a suppressed exception: handle "
                 "it outside the differentiated function.") from exc


__all__ += ["context_enter", "context_exit", "context_unwind"]


def check_unpack(value, n: int) -> None:
    """``a, b = value`` of a value srcad reads by index (``value[0]``, ``value[1]``): raise
    what Python raises when ``value`` does not hold exactly ``n`` items (an array of three
    rows unpacked into two names is an error, not its first two rows). Primal only."""
    try:
        count = len(value)
    except TypeError:
        raise TypeError(f"cannot unpack non-iterable {type(value).__name__} object") from None
    if count > n:
        raise ValueError(f"too many values to unpack (expected {n})")
    if count < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {count})")


__all__ += ["check_unpack"]


def check_view(base, ndim: int) -> None:
    """A view of ``base`` that srcad made a copy written back into ``base`` (``views.py``), in
    a derivative built without the shapes: raise unless ``base`` has the ``ndim`` axes or more
    the rewrite took (``base[k]`` a view, not an element a write would not reach ``base``
    through; ``base`` not 0-d). Primal only."""
    if np.ndim(base) < ndim:
        raise ValueError(f"srcad built this derivative for writes through a view of an array "
                         f"of {ndim} or more dimensions, and it has {np.ndim(base)}: make the "
                         f"view its own array first (np.copy)")


__all__ += ["check_view"]


# -- cross products of 2-vectors (np.cross: a 2-vector is a 3-vector with z = 0) ------------------

def cross_vectors(v, axis):
    """The vectors of ``v`` as ``np.cross`` takes them: its vector axis moved last, a 2-vector
    given a zero z component."""
    v = np.moveaxis(v, axis, -1)
    if _shape(v)[-1] == 3:
        return v
    return np.concatenate([v, np.zeros_like(v[..., :1])], axis=-1)


def uncross_vectors(t, v, axis):
    """Adjoint of ``cross_vectors`` for ``v``: the first components of the 3-vectors ``t``,
    summed over the axes ``v`` was broadcast along, its vector axis moved back."""
    moved = np.moveaxis(v, axis, -1)
    return np.moveaxis(unbroadcast(t[..., :_shape(moved)[-1]], moved), -1, axis)


def _plane_cross(a, b, axisa, axisb) -> bool:
    """Whether ``np.cross(a, b)`` crosses 2-vectors only: its value is the z component."""
    return _shape(a)[axisa] == 2 and _shape(b)[axisb] == 2


def cross_cotangent(g, a, b, axisa, axisb, axisc):
    """A cotangent of ``np.cross(a, b, axisa, axisb, axisc)`` as 3-vectors along the last axis:
    ``(0, 0, g)`` for a cross of 2-vectors (a value without vector axis), else ``g`` with axis
    ``axisc`` moved last."""
    if _plane_cross(a, b, axisa, axisb):
        zero = np.zeros_like(g)
        return np.stack([zero, zero, g], axis=-1)
    return np.moveaxis(g, axisc, -1)


def cross_output(t, a, b, axisa, axisb, axisc):
    """Adjoint of ``cross_cotangent``: ``np.cross``'s value from the cross of 3-vectors ``t``
    (the z component for 2-vectors, else the vector axis moved to ``axisc``)."""
    if _plane_cross(a, b, axisa, axisb):
        return t[..., 2]
    return np.moveaxis(t, -1, axisc)


SHARES.update({"cross_vectors": (0,), "uncross_vectors": (0,), "cross_cotangent": (0,),
               "cross_output": (0,)})
__all__ += ["cross_vectors", "uncross_vectors", "cross_cotangent", "cross_output"]


# -- the triangle a symmetric eigensolver reads (scipy.linalg.eigh's lower) -----------------------

def triangle_symmetric(t, lower=True):
    """The symmetric matrix a solver sees in ``t`` when it reads one triangle: the ``lower``
    (else upper) triangle and its mirror. Linear in ``t``."""
    if lower:
        return np.tril(t) + np.swapaxes(np.tril(t, -1), -1, -2)
    return np.triu(t) + np.swapaxes(np.triu(t, 1), -1, -2)


def triangle_read(sym, lower=True):
    """Adjoint of ``triangle_symmetric`` for a symmetric cotangent ``sym`` (given doubled, as
    ``m + m^T``): half of it on the diagonal, all of it below (``lower``) or above it."""
    if lower:
        return 0.5 * (np.tril(sym) + np.tril(sym, -1))
    return 0.5 * (np.triu(sym) + np.triu(sym, 1))


SHARES.update({"triangle_symmetric": (), "triangle_read": ()})
__all__ += ["triangle_symmetric", "triangle_read"]


# -- np.maximum.accumulate / np.minimum.accumulate: running extremes ---------------------------

def running_max(a, axis=0):
    """``np.maximum.accumulate(a, axis)``: the largest element so far along ``axis``."""
    return np.maximum.accumulate(a, axis=axis)


def running_min(a, axis=0):
    """``np.minimum.accumulate(a, axis)``: the smallest element so far along ``axis``."""
    return np.minimum.accumulate(a, axis=axis)


def running_source(a, y, axis=0):
    """For a running extreme ``y`` of ``a`` along ``axis`` (``running_max``,
    ``running_min``): the index along ``axis`` of the element each value of ``y`` is, the
    first of equal ones (a tie does not move the running value; a nan stays where it
    appeared), shaped like ``a``, for ``np.take_along_axis``."""
    a, y = np.moveaxis(np.asarray(a), axis, -1), np.moveaxis(np.asarray(y), axis, -1)
    changed = np.ones(a.shape, dtype=bool)
    later, earlier = y[..., 1:], y[..., :-1]
    changed[..., 1:] = (later != earlier) & ~(np.isnan(later) & np.isnan(earlier))
    positions = np.where(changed, np.arange(a.shape[-1]), 0)
    return np.moveaxis(np.maximum.accumulate(positions, axis=-1), -1, axis)


__all__ += ["running_max", "running_min", "running_source"]
SHARES.update({"running_max": (), "running_min": (), "running_source": ()})
