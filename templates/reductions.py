"""Derivative rules of reductions: sums, means, products, extrema, moments, norms, cumulative
sums and products, ``np.average`` (with ``returned=True``: the sum of the weights too), the
NaN-ignoring variants, the builtin ``sum`` and ``math.fsum``.

Every reduction ``y = reduce(a, axis, keepdims)`` here has a per-element derivative ``D``
(``dy/da`` for the group each element belongs to, shaped like ``a``), so its two rules read

    adjoint:  d[a] = expand_reduced(d[y], a, axis, keepdims) * D
    tangent:  d[y] = np.sum(d[a] * D, axis=axis, keepdims=keepdims)

and are written side by side below. ``axis`` may be None, an int (negative too) or a tuple;
``expand_reduced`` and ``np.sum`` take all of them, so these rules never branch on ``axis``
(only ``cumsum``/``cumprod`` do: axis None means "the flattened input"). A Python list of
arrays is a valid input too (``np.sum([a, b], axis=0)``): comparisons are ``np.equal``.

Conventions:

* Ties of ``max``/``min`` (and of the max-type norms) split the derivative evenly among the
  tied elements, like ``np.maximum`` in ufuncs.py.
* ``prod`` and ``cumprod`` never divide by a zero element: a where-based formula gives the
  exact derivative with zeros in the input (several zeros in one group included). Second
  derivatives are exact too, except with two or more zeros in one group (or, for ``cumprod``,
  one line), where the mixed second derivatives between the zeros are dropped.
* ``std`` and the Euclidean ``norm`` have a kink at a constant / zero input: both give 0
  there (a subgradient; ``std`` of a single element is constant, so 0 is its derivative).
  ``var``/``std`` with ``n - ddof <= 0`` elements in a group are nan (or inf), and so is
  their derivative (nan, with no warning of its own).
* Empty input (an empty axis, a size-0 array): the adjoint is an empty array, the tangent 0
  (the Jacobian has no columns), though the value is nan; no division by zero.
* ``norm`` with ``ord`` None/'fro' (Euclidean) is written inline, and so are 'nuc', 2 and -2
  (a literal ``ord``): over a matrix (``x`` 2-D, or a pair of axes) through the SVD (``U V^T``,
  the largest or the smallest singular pair, assumed distinct), over a vector as ``x / y``
  (2) and ``(y / x) ** 3`` (-2; 0 where an element is 0, where the norm is 0), so they are
  twice differentiable. Every other ord (vector p-norms, +-inf, 0; matrix +-1, +-inf) goes
  through ``norm_direction`` in the runtime, whose own rules are the second derivatives:
  0 where the direction is piecewise constant (vector 0, 1 and +-inf, matrix +-1 and
  +-inf: zero almost everywhere), the smooth slope of a vector p-norm's
  sign(x) (|x| / y) ** (p - 1) (``norm_direction_dx``, ``norm_direction_dy``); matrix 2, -2
  and 'nuc' chosen at run time have none (an error); third derivatives: no rule.
* Choices on parameters are conditional expressions, not ``if`` statements: they fold away
  when the parameter is a literal, and stay correct (a runtime choice inside one statement)
  when it is a variable (``ord=np.inf``, ``weights=w``, ``axis=k``).
* Keywords srcad does not differentiate (``dtype``, ``out``, ``where``, ``initial``,
  ``mean``, ``correction``, ``returned``) are absent from the signatures: using them is a
  clear error. ``keepdims`` and ``ddof`` are keyword-only, as they are in practice (``norm``'s
  ``keepdims`` stays positional, as in NumPy).
"""
import math

import numpy as np

from srcad.registry import (adjoint, complex_ok, d, linear, nondiff, real_valued, tangent,
                            variant)
from srcad.runtime import (average_weights_shape, broadcast_like, cumprod_jvp, cumprod_second,
                           cumprod_vjp, cumprod_vjp_tangent, dof_inverse, expand_reduced,
                           group_sum, group_weights, matrix_norm_axes, norm_direction,
                           norm_direction_dx, norm_direction_dy, norm_direction_dy_adjoint,
                           prod_others, prod_others_tangent, reduced_count, spread, unbroadcast)

# Weights and shapes computed from comparisons and shapes are piecewise constant.
nondiff(group_weights, average_weights_shape, matrix_norm_axes)
real_valued(group_weights, average_weights_shape, np.var, np.std, np.linalg.norm)
linear(np.sum, np.mean, np.cumsum, sum, math.fsum)
# Right for complex values: the linear ones, and prod, cumprod and average, whose formulas are
# the complex derivative (no division by a zero element either). Not max/min (complex numbers
# compare by their real parts first), var/std/norm (real-valued, not holomorphic).
complex_ok(np.sum, np.mean, np.cumsum, sum, np.nansum, np.nanmean, np.prod, np.cumprod,
           np.average, prod_others, cumprod_jvp, cumprod_vjp)
# NumPy 2.1's cumulative_prod(x, axis) is cumprod without include_initial (unsupported: an error)
_CUMPROD = (np.cumprod,) + ((np.cumulative_prod,) if hasattr(np, "cumulative_prod") else ())
complex_ok(*_CUMPROD)


# -- sum, mean -------------------------------------------------------------------------------

@adjoint(np.sum)
def sum_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = expand_reduced(d[y], a, axis, keepdims)


@tangent(np.sum)
def sum_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(d[a], axis=axis, keepdims=keepdims)


@adjoint(np.mean)
def mean_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = expand_reduced(d[y] / reduced_count(a, axis), a, axis, keepdims)  # divide the small


@tangent(np.mean)
def mean_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(d[a], axis=axis, keepdims=keepdims) / reduced_count(d[a], axis)  # 0: empty


# -- nansum, nanmean: NaN elements are left out, so they get no derivative ----------------------

@adjoint(np.nansum)
def nansum_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = np.where(np.isnan(a), 0.0, expand_reduced(d[y], a, axis, keepdims))


@tangent(np.nansum)
def nansum_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(np.where(np.isnan(a), 0.0, d[a]), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean)
def nanmean_adjoint(y, a, axis=None, *, keepdims=False):
    weights = group_weights(np.logical_not(np.isnan(a)), axis, a)
    d[a] = expand_reduced(d[y], a, axis, keepdims) * weights


@tangent(np.nanmean)
def nanmean_tangent(y, a, axis=None, *, keepdims=False):
    weights = group_weights(np.logical_not(np.isnan(a)), axis, a)
    d[y] = np.sum(d[a] * weights, axis=axis, keepdims=keepdims)


# -- prod: D is the product of the other elements of the group, without dividing by zero ------
# No zero in the group: y / a. One zero: the product of the nonzero elements at the zero, 0
# (= y / a) elsewhere. Two or more zeros: 0 everywhere.

@adjoint(np.prod)
def prod_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = expand_reduced(d[y], a, axis, keepdims) * prod_others(a, axis)


@tangent(np.prod)
def prod_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(d[a] * prod_others(a, axis), axis=axis, keepdims=keepdims)


# prod_others (the other entries' product, no division by a zero): its derivative is prod's
# Hessian times a direction, symmetric, so its tangent and adjoint are one function
@adjoint(prod_others)
def prod_others_adjoint(y, a, axis=None):
    d[a] = prod_others_tangent(a, d[y], axis)


@tangent(prod_others)
def prod_others_tangent_rule(y, a, axis=None):
    d[y] = prod_others_tangent(a, d[a], axis)


# -- max, min (and the NaN-ignoring ones: a NaN never equals the result): ties split evenly ---

@adjoint(np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin)
def max_adjoint(y, a, axis=None, *, keepdims=False):
    weights = group_weights(np.equal(a, expand_reduced(y, a, axis, keepdims)), axis, a)
    d[a] = expand_reduced(d[y], a, axis, keepdims) * weights


@tangent(np.max, np.amax, np.min, np.amin, np.nanmax, np.nanmin)
def max_tangent(y, a, axis=None, *, keepdims=False):
    weights = group_weights(np.equal(a, expand_reduced(y, a, axis, keepdims)), axis, a)
    d[y] = np.sum(d[a] * weights, axis=axis, keepdims=keepdims)


# -- var, std: D = 2 (a - mean) / (n - ddof) for var, (a - mean) / ((n - ddof) std) for std --
# 1 / (n - ddof) is dof_inverse: nan where n <= ddof (so is the value). Where std is 0 (a
# constant group, a single element) D is 0, a subgradient (std of one element is constant).

@adjoint(np.var)
def var_adjoint(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    scale = 2.0 * dof_inverse(a, axis, ddof)
    d[a] = expand_reduced(d[y], a, axis, keepdims) * centered * scale


@tangent(np.var)
def var_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    scale = 2.0 * dof_inverse(a, axis, ddof)
    d[y] = np.sum(d[a] * centered, axis=axis, keepdims=keepdims) * scale


@adjoint(np.std)
def std_adjoint(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    d[a] = expand_reduced(d[y] / np.where(y > 0.0, y, 1.0), a, axis, keepdims) * centered * \
        dof_inverse(a, axis, ddof)


@tangent(np.std)
def std_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis=axis, keepdims=True)
    d[y] = np.sum(d[a] * centered, axis=axis, keepdims=keepdims) * dof_inverse(
        a, axis, ddof) / np.where(y > 0.0, y, 1.0)


# -- average(a, axis, weights): y = sum(a * w) / sum(w), w broadcast against a ----------------
# 1-d weights along an int axis are reshaped to broadcast (average_weights_shape).

@adjoint(np.average)
def average_adjoint(y, a, axis=None, weights=None, *, keepdims=False):
    wb = (None if weights is None else
          np.reshape(weights, average_weights_shape(a, weights, axis)))
    total = (reduced_count(a, axis) if weights is None else
             np.sum(broadcast_like(wb, a), axis=axis, keepdims=True))
    scaled = expand_reduced(d[y], a, axis, keepdims) / total
    d[a] = scaled if weights is None else scaled * wb
    d[weights] = np.reshape(unbroadcast(scaled * (a - expand_reduced(y, a, axis, keepdims)), wb),
                            np.shape(weights))


@tangent(np.average)
def average_tangent(y, a, axis=None, weights=None, *, keepdims=False):
    wb = (None if weights is None else
          np.reshape(weights, average_weights_shape(a, weights, axis)))
    total = (reduced_count(a, axis) if weights is None else
             np.sum(broadcast_like(wb, a), axis=axis, keepdims=True))
    d[y] = (np.sum(d[a], axis=axis, keepdims=keepdims) / reduced_count(d[a], axis)
            if weights is None else
            np.sum((d[a] * wb + (a - expand_reduced(y, a, axis, keepdims))
                    * np.reshape(d[weights], np.shape(wb))) / total,
                   axis=axis, keepdims=keepdims))


# average(..., returned=True) -> (y, total): total = sum(w) over the group (the count without
# weights, a constant), broadcast like y; its adjoint in w spreads d[total] over the group.
AVERAGE_RETURNED = variant(np.average, "returned", True)


@adjoint(AVERAGE_RETURNED, outputs=2)
def average_returned_adjoint(y, total, a, axis=None, weights=None, returned=True, *,
                             keepdims=False):
    wb = (None if weights is None else
          np.reshape(weights, average_weights_shape(a, weights, axis)))
    scaled = expand_reduced(d[y], a, axis, keepdims) / (
        reduced_count(a, axis) if weights is None else
        np.sum(broadcast_like(wb, a), axis=axis, keepdims=True))
    d[a] = scaled if weights is None else scaled * wb
    d[weights] = np.reshape(unbroadcast(scaled * (a - expand_reduced(y, a, axis, keepdims))
                                        + expand_reduced(d[total], a, axis, keepdims), wb),
                            np.shape(weights))


@tangent(AVERAGE_RETURNED, outputs=2)
def average_returned_tangent(y, total, a, axis=None, weights=None, returned=True, *,
                             keepdims=False):
    wb = (None if weights is None else
          np.reshape(weights, average_weights_shape(a, weights, axis)))
    d[y] = (np.sum(d[a], axis=axis, keepdims=keepdims) / reduced_count(d[a], axis)
            if weights is None else
            np.sum((d[a] * wb + (a - expand_reduced(y, a, axis, keepdims))
                    * np.reshape(d[weights], np.shape(wb))) / np.sum(
                        broadcast_like(wb, a), axis=axis, keepdims=True),
                   axis=axis, keepdims=keepdims))
    d[total] = broadcast_like(group_sum(np.reshape(d[weights], np.shape(wb)), a, axis,
                                        keepdims), y)


linear(group_sum)


@adjoint(group_sum)
def group_sum_adjoint(s, t, like, axis, keepdims):
    d[t] = unbroadcast(expand_reduced(d[s], like, axis, keepdims), t)


# -- norm -----------------------------------------------------------------------------------
# Euclidean (ord None / 'fro'): D = x / y (0 where y == 0); 'nuc', 2, -2 written out (matrix:
# D = U_k V_k^T through the SVD); other orders: runtime.norm_direction (the module docstring).

@adjoint(np.linalg.norm)
def norm_adjoint(y, x, ord=None, axis=None, keepdims=False):
    if ord == "nuc" or ord == 2 or ord == -2:     # a literal ord: decided at instantiation
        axes = matrix_norm_axes(x, axis)
        if ord != "nuc" and axes is None:         # a vector norm (see the module docstring)
            direction = (x / expand_reduced(np.where(y == 0.0, 1.0, y), x, axis, keepdims)
                         if ord == 2 else (expand_reduced(y, x, axis, keepdims)
                                           / np.where(x == 0.0, 1.0, x)) ** 3)
        else:                                     # the singular pairs: twice differentiable
            u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
            k = slice(None) if ord == "nuc" else slice(0, 1) if ord == 2 else slice(-1, None)
            direction = np.moveaxis(u[..., :, k] @ vh[..., k, :], (-2, -1), axes)
        d[x] = expand_reduced(d[y], x, axis, keepdims) * direction
    else:
        d[x] = (x * expand_reduced(d[y] / np.where(y == 0.0, 1.0, y), x, axis, keepdims)
                if ord is None or ord == "fro" else
                expand_reduced(d[y], x, axis, keepdims) * norm_direction(x, y, ord, axis,
                                                                         keepdims))


@tangent(np.linalg.norm)
def norm_tangent(y, x, ord=None, axis=None, keepdims=False):
    if ord == "nuc" or ord == 2 or ord == -2:
        axes = matrix_norm_axes(x, axis)
        if ord != "nuc" and axes is None:
            direction = (x / expand_reduced(np.where(y == 0.0, 1.0, y), x, axis, keepdims)
                         if ord == 2 else (expand_reduced(y, x, axis, keepdims)
                                           / np.where(x == 0.0, 1.0, x)) ** 3)
        else:
            u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
            k = slice(None) if ord == "nuc" else slice(0, 1) if ord == 2 else slice(-1, None)
            direction = np.moveaxis(u[..., :, k] @ vh[..., k, :], (-2, -1), axes)
        d[y] = np.sum(d[x] * direction, axis=axis, keepdims=keepdims)
    else:
        d[y] = (np.sum(np.multiply(x, d[x]), axis=axis, keepdims=keepdims)
                / np.where(y == 0.0, 1.0, y) if ord is None or ord == "fro" else
                np.sum(d[x] * norm_direction(x, y, ord, axis, keepdims), axis=axis,
                       keepdims=keepdims))


@tangent(norm_direction)
def norm_direction_tangent(out, x, y, ord, axis, keepdims):
    d[out] = (norm_direction_dx(x, y, ord, axis, keepdims, d[x])
              + norm_direction_dy(x, y, ord, axis, keepdims, d[y]))


@adjoint(norm_direction)
def norm_direction_adjoint(out, x, y, ord, axis, keepdims):
    d[x] = norm_direction_dx(x, y, ord, axis, keepdims, d[out])
    d[y] = norm_direction_dy_adjoint(x, y, ord, axis, keepdims, d[out])


# -- cumsum: the adjoint is a reversed cumulative sum -------------------------------------------
# axis None works on the flattened input: the adjoint is reshaped back to a's shape.

@adjoint(np.cumsum)
def cumsum_adjoint(y, a, axis=None):
    d[a] = np.reshape(np.flip(np.cumsum(np.flip(d[y]))), np.shape(a)) if axis is None else (
        np.flip(np.cumsum(np.flip(d[y], axis), axis=axis), axis))


@tangent(np.cumsum)
def cumsum_tangent(y, a, axis=None):
    d[y] = np.cumsum(d[a], axis=axis)


# -- cumprod: y_i = prod_{j <= i} a_j, without dividing by zero (runtime.cumprod_jvp and
# cumprod_vjp, exact at zeros). Their own derivatives (second order: runtime.cumprod_second,
# cumprod_vjp_tangent) are computed by linear recurrences, exact at zeros too; a third
# derivative is refused (no rule).

@adjoint(*_CUMPROD)
def cumprod_adjoint(y, a, axis=None):
    d[a] = cumprod_vjp(a, d[y], axis, y)


@tangent(*_CUMPROD)
def cumprod_tangent(y, a, axis=None):
    d[y] = cumprod_jvp(a, d[a], axis, y)


# `product` (cumprod(a), passed so as not to compute it again) gets no derivative of its own:
# the rules below give `a` the whole of it
@adjoint(cumprod_jvp)
def cumprod_jvp_adjoint(out, a, da, axis=None, product=None):
    d[da] = cumprod_vjp(a, d[out], axis, product)
    d[a] = cumprod_vjp_tangent(a, d[out], da, axis)


@tangent(cumprod_jvp)
def cumprod_jvp_tangent(out, a, da, axis=None, product=None):
    d[out] = cumprod_jvp(a, d[da], axis, product) + cumprod_second(a, da, d[a], axis)


@adjoint(cumprod_vjp)
def cumprod_vjp_adjoint(out, a, g, axis=None, product=None):
    d[g] = cumprod_jvp(a, d[out], axis, product)
    d[a] = cumprod_vjp_tangent(a, g, d[out], axis)


@tangent(cumprod_vjp)
def cumprod_vjp_tangent_rule(out, a, g, axis=None, product=None):
    d[out] = cumprod_vjp(a, d[g], axis, product) + cumprod_vjp_tangent(a, g, d[a], axis)


# -- builtin sum(iterable, start=0) over a list of numbers or (broadcasting) arrays -------------

@adjoint(sum)
def builtin_sum_adjoint(y, iterable, start=0):
    d[iterable] = spread(d[y], iterable)
    d[start] = unbroadcast(d[y], start)


@tangent(sum)
def builtin_sum_tangent(y, iterable, start=0):
    d[y] = broadcast_like(sum(d[iterable]) + d[start], y)


# -- math.fsum(iterable): a list of numbers, a float result ------------------------------------

@adjoint(math.fsum)
def fsum_adjoint(y, iterable):
    d[iterable] = [d[y]] * len(iterable)


@tangent(math.fsum)
def fsum_tangent(y, iterable):
    d[y] = math.fsum(d[iterable])
