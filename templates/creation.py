"""Functions whose outputs carry no derivative: array creation, shapes, indices, integer and
boolean results. (srcad's own constant-valued helpers are in runtime_rules.py.)

``nondiff(...)`` marks a primitive whose output is constant with respect to every input
(activity analysis stops there, so no adjoint or tangent is ever built for it). Functions that
create an array *from a value* are differentiable in that value and get real rules below:
``np.full(shape, v)`` / ``np.full_like(a, v)`` in ``v``, ``np.linspace(start, stop)``,
``np.geomspace`` and ``np.logspace`` in their endpoints (and base); a silent zero gradient
would be wrong there.

Deliberately absent:

* ``np.sort`` (differentiable: a permutation of its input, in the indexing rules);
* ``enumerate`` and ``zip``: their items are the items of their arguments, which may be
  active (``for i, xi in enumerate(xs)``); marking them constant would silently drop the
  derivative of ``xi``. ``for`` loops over them are desugared to indexing by normalize;
* ``np.histogram`` and its 2-d/n-d forms: the counts are integers, but the bin edges move
  with the data (its minimum and maximum) and ``density=True`` divides by their widths; no
  rule yet rather than a silent zero;
* ``np.kaiser(M, beta)``: a window, but smooth in ``beta``;
* ``np.random.*`` (and generator methods): random draws are not functions of the program's
  inputs, nor pure: no rule, so a draw from inactive arguments is an inactive value drawn
  once in the primal, one from an active argument is refused; code that runs the primal
  again (a checkpointed loop, a helper's VJP) must not draw (``analysis.is_random_draw``).
"""
import math

import numpy as np

from srcad.registry import adjoint, complex_ok, d, nondiff, real_valued, tangent
from srcad.runtime import unbroadcast, zero_if_discrete

# -- array creation from shapes (values independent of every input) --------------------------
nondiff(
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like,
    np.eye, np.identity, np.arange, np.indices, np.tri,
)

# -- shapes and sizes ------------------------------------------------------------------------
_SHAPES = (np.shape, np.size, np.ndim, np.isscalar, len, isinstance, range)
nondiff(*_SHAPES, np.result_type)

# -- integer- and boolean-valued functions of array values --------------------------------------
_INTEGERS = (
    np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.argsort, np.argwhere,
    np.nonzero, np.flatnonzero, np.searchsorted, np.digitize, np.count_nonzero,
    np.any, np.all,
)
nondiff(*_INTEGERS)

# -- index construction ------------------------------------------------------------------------
_INDICES = (
    np.tril_indices, np.triu_indices, np.diag_indices,
    np.tril_indices_from, np.triu_indices_from, np.diag_indices_from,
    np.unravel_index, np.ravel_multi_index,
)
nondiff(*_INDICES)

# -- integer arithmetic in math -----------------------------------------------------------------
nondiff(math.factorial, math.comb, math.perm, math.gcd, math.isqrt)
if hasattr(math, "lcm"):
    nondiff(math.lcm)

# Integers and booleans even for complex inputs (the arrays created above are real unless a
# complex dtype is asked for, which srcad sees in the call).
real_valued(*_SHAPES, *_INTEGERS, *_INDICES)


# -- full(shape, fill_value) / full_like(a, fill_value): linear in fill_value -------------------
# fill_value may be a scalar or an array broadcast to the result's shape; ``a`` of full_like
# only supplies a shape and a dtype, so it gets no contribution.

complex_ok(np.full, np.full_like, np.linspace)       # linear in the fill value, endpoints


@adjoint(np.full)
def full_adjoint(y, shape, fill_value, dtype=None):
    d[fill_value] = unbroadcast(zero_if_discrete(d[y], y), fill_value)


@tangent(np.full)
def full_tangent(y, shape, fill_value, dtype=None):
    d[y] = zero_if_discrete(np.full_like(y, d[fill_value]), y)


@adjoint(np.full_like)
def full_like_adjoint(y, a, fill_value, dtype=None):
    d[fill_value] = unbroadcast(zero_if_discrete(d[y], y), fill_value)


@tangent(np.full_like)
def full_like_tangent(y, a, fill_value, dtype=None):
    d[y] = zero_if_discrete(np.full_like(y, d[fill_value]), y)


# -- linspace(start, stop, num): y[k] = (1 - t[k]) * start + t[k] * stop ------------------------
# Along axis 0 (the default); start and stop may be arrays, broadcast against each other.
# The weights t are built in y's dtype so a float32 linspace keeps float32 derivatives.

@adjoint(np.linspace)
def linspace_adjoint(y, start, stop, num=50, endpoint=True, dtype=None):
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=np.result_type(y, 0.0))
    g = zero_if_discrete(d[y], y)
    d[start] = unbroadcast(np.tensordot(1.0 - t, g, axes=1), start)
    d[stop] = unbroadcast(np.tensordot(t, g, axes=1), stop)


@tangent(np.linspace)
def linspace_tangent(y, start, stop, num=50, endpoint=True, dtype=None):
    t = np.reshape(np.linspace(0.0, 1.0, num, endpoint=endpoint,
                               dtype=np.result_type(y, 0.0)), (num,) + (1,) * (np.ndim(y) - 1))
    d[y] = zero_if_discrete(np.broadcast_to((1.0 - t) * d[start] + t * d[stop], np.shape(y)), y)


# -- geomspace(start, stop, num) = start * (stop / start) ** t, logspace = base ** linspace -----
# Along axis 0, as linspace above; geomspace's endpoints have the same sign.

@adjoint(np.geomspace)
def geomspace_adjoint(y, start, stop, num=50, endpoint=True, dtype=None):
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=np.result_type(y))
    d[start] = unbroadcast(np.tensordot(1.0 - t, d[y] * y, axes=1) / start, start)
    d[stop] = unbroadcast(np.tensordot(t, d[y] * y, axes=1) / stop, stop)


@tangent(np.geomspace)
def geomspace_tangent(y, start, stop, num=50, endpoint=True, dtype=None):
    t = np.reshape(np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=np.result_type(y)),
                   (num,) + (1,) * (np.ndim(y) - 1))
    d[y] = y * ((1.0 - t) * (d[start] / start) + t * (d[stop] / stop))


@adjoint(np.logspace)
def logspace_adjoint(y, start, stop, num=50, endpoint=True, base=10.0, dtype=None):
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=np.result_type(y))
    d[start] = unbroadcast(np.tensordot(1.0 - t, d[y] * y, axes=1) * np.log(base), start)
    d[stop] = unbroadcast(np.tensordot(t, d[y] * y, axes=1) * np.log(base), stop)
    d[base] = unbroadcast(d[y] * y * np.linspace(start, stop, num, endpoint=endpoint) / base,
                          base)


@tangent(np.logspace)
def logspace_tangent(y, start, stop, num=50, endpoint=True, base=10.0, dtype=None):
    t = np.reshape(np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=np.result_type(y)),
                   (num,) + (1,) * (np.ndim(y) - 1))
    d[y] = y * (np.log(base) * ((1.0 - t) * d[start] + t * d[stop])
                + np.linspace(start, stop, num, endpoint=endpoint) * (d[base] / base))


# -- more integer- and boolean-valued functions (no derivative flows through them) ---------------
_MORE_INTEGERS = (
    np.argpartition, np.lexsort, np.gcd, np.lcm, np.left_shift, np.right_shift, np.packbits,
    np.unpackbits, np.bitwise_count, np.ix_, np.mask_indices, np.linalg.matrix_rank,
    np.iscomplex, np.isreal, np.isin, np.isposinf, np.isneginf, np.array_equiv, np.can_cast,
    np.promote_types, np.issubdtype, np.isdtype, np.iterable, np.min_scalar_type,
    np.common_type, np.broadcast_shapes, np.spacing, np.bartlett, np.blackman, np.hamming,
    np.hanning,
) + tuple(getattr(np, name) for name in ("bitwise_left_shift", "bitwise_right_shift",
                                         "bitwise_invert", "bitwise_not")
          if hasattr(np, name))
nondiff(*_MORE_INTEGERS)
real_valued(*_MORE_INTEGERS)
complex_ok(np.geomspace, np.logspace)
