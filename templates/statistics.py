"""Derivative rules of NumPy's order statistics and moments not in reductions.py: ``median``,
``quantile``, ``percentile`` and their NaN-ignoring twins (``nanmedian``, ``nanquantile``,
``nanpercentile``), ``ptp``, ``histogram_bin_edges`` (integer ``bins``), ``nanvar``, ``nanstd``, ``nanprod``, ``nancumsum``, ``cov`` and
``corrcoef``. Adjoint and tangent of each primitive sit side by side.

Conventions:

* ``q`` is a number, a list or an array of them (``np.percentile(X, [25, 75], axis=0)``).
* A quantile interpolates between two sorted elements of its group, at sorted positions
  ``floor(rho)`` and the next, ``rho`` being the position NumPy's ``method`` gives for ``q``
  (``quantile_position``); its derivative is ``1 - frac(rho)`` at the first and ``frac(rho)``
  at the second. So ``median`` of an even count gives 0.5 to each middle element, of an odd
  count 1 to the middle one. Ties between equal elements are a kink: the element a stable
  sort puts first takes the derivative of its sorted position.
* In ``q``, the derivative is the gap between the two elements times ``d rho / d q``: constant
  for the continuous methods ('linear', the default, 'hazen', 'weibull', 'median_unbiased',
  'normal_unbiased', 'interpolated_inverted_cdf'), 0 where rho is clipped to the ends and for
  the discrete methods ('lower', 'higher', 'nearest', 'midpoint', 'inverted_cdf',
  'averaged_inverted_cdf', 'closest_observation'), whose value steps.
* The weights of a quantile are held as arrays shaped ``a.shape + q.shape`` (memory: one
  entry per element of ``a`` and quantile). The rules work in a layout with ``a``'s axes first
  and ``q``'s last (``quantile_layout``), then move ``q``'s axes to the front as NumPy does.
* The NaN-ignoring functions give NaN elements no derivative (a group of NaNs only: none).
  ``nanvar``/``nanstd`` count the non-NaN elements per group; with ``n - ddof <= 0`` of them
  the value and the derivative are nan.
* ``ptp`` is ``max - min``: ties split evenly, as for ``max``; a constant group gets 0.
* ``cov(m, y, rowvar, bias, ddof, fweights, aweights)`` and ``corrcoef(x, y, rowvar)``: the
  variables are the rows of ``cov_rows(m, y, rowvar)``; the observation weights are
  ``w = fweights * aweights`` (``cov_weights``; integer ``fweights`` are counts, not
  differentiated), the mean is weighted and the divisor is NumPy's
  ``sum(w) - ddof * sum(w * aweights) / sum(w)``, whose derivative in ``aweights`` the rules
  include; ``dtype`` is not supported (a clear error). ``corrcoef`` assumes no variable is
  constant (its correlations divide by the standard deviations).
* Keywords srcad does not differentiate (``out``, ``overwrite_input``, ``dtype``,
  ``weights`` of the quantiles) are absent from the signatures: using them is an error.
"""
import numpy as np

from srcad.registry import adjoint, complex_ok, d, linear, nondiff, returns_list, tangent
from srcad.runtime import (cov_ddof, cov_rows, cov_scale, cov_weights, expand_reduced,
                           group_weights, histogram_bin_count, median_weights,
                           nan_dof_inverse, order_statistics, prod_others, quantile_layout,
                           quantile_position, quantile_slope, un_cov_rows, unbroadcast,
                           zeros_filled)

nondiff(quantile_slope, order_statistics, median_weights, quantile_layout, nan_dof_inverse,
        cov_scale, cov_ddof)
linear(np.nancumsum, un_cov_rows, cov_weights)     # not cov_rows: it also stacks y (f(0, y) != 0)
complex_ok(np.nancumsum, cov_rows, un_cov_rows)
returns_list(un_cov_rows)


# -- median: a fixed weighting of the sorted elements ---------------------------------------------

@adjoint(np.median)
def median_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = expand_reduced(d[y], a, axis, keepdims) * median_weights(a, axis)


@tangent(np.median)
def median_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(d[a] * median_weights(a, axis), axis=axis, keepdims=keepdims)


@adjoint(np.nanmedian)
def nanmedian_adjoint(y, a, axis=None, *, keepdims=False):
    d[a] = expand_reduced(d[y], a, axis, keepdims) * median_weights(a, axis, True)


@tangent(np.nanmedian)
def nanmedian_tangent(y, a, axis=None, *, keepdims=False):
    d[y] = np.sum(d[a] * median_weights(a, axis, True), axis=axis, keepdims=keepdims)


# -- quantile, percentile (q / 100) and the NaN-ignoring ones -------------------------------------
# weights = low + frac(rho) * (high - low) (shaped a.shape + q.shape); y = sum(a * weights).

@adjoint(np.quantile)
def quantile_adjoint(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(q, a, axis, method)
    low, high = order_statistics(a, rho, axis)
    g = np.moveaxis(np.reshape(d[y], kept), q_first, q_last)
    d[a] = np.sum(g * (low + (rho - np.floor(rho)) * (high - low)), axis=q_last)
    d[q] = unbroadcast(np.sum(g * np.reshape(a, room) * (high - low), axis=reduced,
                              keepdims=True) * quantile_slope(q, a, axis, method), q)


@tangent(np.quantile)
def quantile_tangent(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(q, a, axis, method)
    low, high = order_statistics(a, rho, axis)
    t = np.sum(np.reshape(d[a], room) * (low + (rho - np.floor(rho)) * (high - low))
               + np.reshape(a, room) * (high - low) * d[q] * quantile_slope(q, a, axis, method),
               axis=reduced, keepdims=True)
    d[y] = np.reshape(np.moveaxis(t, q_last, q_first), np.shape(y))


@adjoint(np.percentile)
def percentile_adjoint(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(np.divide(q, 100.0), a, axis, method)
    low, high = order_statistics(a, rho, axis)
    g = np.moveaxis(np.reshape(d[y], kept), q_first, q_last)
    d[a] = np.sum(g * (low + (rho - np.floor(rho)) * (high - low)), axis=q_last)
    d[q] = unbroadcast(np.sum(g * np.reshape(a, room) * (high - low), axis=reduced,
                              keepdims=True) * quantile_slope(np.divide(q, 100.0), a, axis, method),
                       q) / 100.0


@tangent(np.percentile)
def percentile_tangent(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(np.divide(q, 100.0), a, axis, method)
    low, high = order_statistics(a, rho, axis)
    t = np.sum(np.reshape(d[a], room) * (low + (rho - np.floor(rho)) * (high - low))
               + np.reshape(a, room) * (high - low) * d[q] * quantile_slope(
                   np.divide(q, 100.0), a, axis, method) / 100.0, axis=reduced, keepdims=True)
    d[y] = np.reshape(np.moveaxis(t, q_last, q_first), np.shape(y))


# NaN-ignoring: NaNs sort last and get no weight; a NaN times a zero weight would be NaN, so
# the derivative in q reads the numbers only.
@adjoint(np.nanquantile)
def nanquantile_adjoint(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(q, a, axis, method, True)
    low, high = order_statistics(a, rho, axis, True)
    g = np.moveaxis(np.reshape(d[y], kept), q_first, q_last)
    d[a] = np.sum(g * (low + (rho - np.floor(rho)) * (high - low)), axis=q_last)
    d[q] = unbroadcast(np.sum(g * np.reshape(np.where(np.isnan(a), 0.0, a), room) * (
        high - low), axis=reduced, keepdims=True) * quantile_slope(q, a, axis, method, True), q)


@tangent(np.nanquantile)
def nanquantile_tangent(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(q, a, axis, method, True)
    low, high = order_statistics(a, rho, axis, True)
    t = np.sum(np.reshape(d[a], room) * (low + (rho - np.floor(rho)) * (high - low))
               + np.reshape(np.where(np.isnan(a), 0.0, a), room) * (high - low) * d[q]
               * quantile_slope(q, a, axis, method, True), axis=reduced, keepdims=True)
    d[y] = np.reshape(np.moveaxis(t, q_last, q_first), np.shape(y))


@adjoint(np.nanpercentile)
def nanpercentile_adjoint(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(np.divide(q, 100.0), a, axis, method, True)
    low, high = order_statistics(a, rho, axis, True)
    g = np.moveaxis(np.reshape(d[y], kept), q_first, q_last)
    d[a] = np.sum(g * (low + (rho - np.floor(rho)) * (high - low)), axis=q_last)
    d[q] = unbroadcast(np.sum(g * np.reshape(np.where(np.isnan(a), 0.0, a), room) * (
        high - low), axis=reduced, keepdims=True) * quantile_slope(
            np.divide(q, 100.0), a, axis, method, True), q) / 100.0


@tangent(np.nanpercentile)
def nanpercentile_tangent(y, a, q, axis=None, method="linear", *, keepdims=False):
    reduced, room, q_first, q_last, kept = quantile_layout(a, q, axis)
    rho = quantile_position(np.divide(q, 100.0), a, axis, method, True)
    low, high = order_statistics(a, rho, axis, True)
    t = np.sum(np.reshape(d[a], room) * (low + (rho - np.floor(rho)) * (high - low))
               + np.reshape(np.where(np.isnan(a), 0.0, a), room) * (high - low) * d[q]
               * quantile_slope(np.divide(q, 100.0), a, axis, method, True) / 100.0,
               axis=reduced, keepdims=True)
    d[y] = np.reshape(np.moveaxis(t, q_last, q_first), np.shape(y))


# quantile_position is piecewise linear in q (quantile_slope), constant in a.
@adjoint(quantile_position)
def quantile_position_adjoint(rho, q, a, axis, method, ignore_nan=False):
    d[q] = unbroadcast(d[rho] * quantile_slope(q, a, axis, method, ignore_nan), q)


@tangent(quantile_position)
def quantile_position_tangent(rho, q, a, axis, method, ignore_nan=False):
    d[rho] = d[q] * quantile_slope(q, a, axis, method, ignore_nan)


# -- histogram_bin_edges(a, bins): bins + 1 evenly spaced edges from lo = min(a) to hi = max(a)
# (lo - 0.5 to hi + 0.5 when they are equal), e_k = lo + (hi - lo) k / bins: linear in lo and
# hi, whose derivatives are max's and min's (ties split evenly). An integer bins, no range.
nondiff(histogram_bin_count)


@adjoint(np.histogram_bin_edges)
def histogram_bin_edges_adjoint(edges, a, bins=10):
    k = np.linspace(0.0, 1.0, histogram_bin_count(bins) + 1, dtype=np.result_type(edges))
    d[a] = (np.sum(d[edges] * (1.0 - k)) * group_weights(np.equal(a, np.min(a)), None, a)
            + np.sum(d[edges] * k) * group_weights(np.equal(a, np.max(a)), None, a))


@tangent(np.histogram_bin_edges)
def histogram_bin_edges_tangent(edges, a, bins=10):
    k = np.linspace(0.0, 1.0, histogram_bin_count(bins) + 1, dtype=np.result_type(edges))
    d[edges] = (np.sum(d[a] * group_weights(np.equal(a, np.min(a)), None, a)) * (1.0 - k)
                + np.sum(d[a] * group_weights(np.equal(a, np.max(a)), None, a)) * k)


# -- ptp = max - min -------------------------------------------------------------------------------

@adjoint(np.ptp)
def ptp_adjoint(y, a, axis=None, *, keepdims=False):
    spread = (group_weights(np.equal(a, np.max(a, axis=axis, keepdims=True)), axis, a)
              - group_weights(np.equal(a, np.min(a, axis=axis, keepdims=True)), axis, a))
    d[a] = expand_reduced(d[y], a, axis, keepdims) * spread


@tangent(np.ptp)
def ptp_tangent(y, a, axis=None, *, keepdims=False):
    spread = (group_weights(np.equal(a, np.max(a, axis=axis, keepdims=True)), axis, a)
              - group_weights(np.equal(a, np.min(a, axis=axis, keepdims=True)), axis, a))
    d[y] = np.sum(d[a] * spread, axis=axis, keepdims=keepdims)


# -- nanvar, nanstd: var and std of the non-NaN elements ------------------------------------------

@adjoint(np.nanvar)
def nanvar_adjoint(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    d[a] = expand_reduced(d[y], a, axis, keepdims) * centered * (
        2.0 * nan_dof_inverse(a, axis, ddof))


@tangent(np.nanvar)
def nanvar_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    d[y] = np.sum(d[a] * centered * (2.0 * nan_dof_inverse(a, axis, ddof)), axis=axis,
                  keepdims=keepdims)


@adjoint(np.nanstd)
def nanstd_adjoint(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    d[a] = expand_reduced(d[y] / np.where(y > 0.0, y, 1.0), a, axis, keepdims) * centered * \
        nan_dof_inverse(a, axis, ddof)


@tangent(np.nanstd)
def nanstd_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    d[y] = np.sum(d[a] * centered * nan_dof_inverse(a, axis, ddof), axis=axis,
                  keepdims=keepdims) / np.where(y > 0.0, y, 1.0)


# -- nanprod: prod with NaNs as ones (no division by a zero element, as prod) ---------------------

@adjoint(np.nanprod)
def nanprod_adjoint(y, a, axis=None, *, keepdims=False):
    nan = np.isnan(a)
    d[a] = np.where(nan, 0.0, expand_reduced(d[y], a, axis, keepdims) *
                    prod_others(np.where(nan, 1.0, a), axis))


@tangent(np.nanprod)
def nanprod_tangent(y, a, axis=None, *, keepdims=False):
    nan = np.isnan(a)
    d[y] = np.sum(np.where(nan, 0.0, d[a]) * prod_others(np.where(nan, 1.0, a), axis),
                  axis=axis, keepdims=keepdims)


# -- nancumsum: cumsum with NaNs as zeros ---------------------------------------------------------

@adjoint(np.nancumsum)
def nancumsum_adjoint(y, a, axis=None):
    d[a] = np.where(np.isnan(a), 0.0, np.reshape(np.flip(np.cumsum(np.flip(d[y]))), np.shape(a))
                    if axis is None else np.flip(np.cumsum(np.flip(d[y], axis), axis=axis), axis))


@tangent(np.nancumsum)
def nancumsum_tangent(y, a, axis=None):
    d[y] = np.cumsum(np.where(np.isnan(a), 0.0, d[a]), axis=axis)


# -- cov: C = X_c X_c^T / (N - ddof) over the rows X of cov_rows; corrcoef: C / (s s^T) --------

@adjoint(np.cov)
def cov_adjoint(c, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                aweights=None):
    rows = cov_rows(m, y, rowvar)
    w = cov_weights(aweights, fweights, rows)
    a = cov_weights(aweights, None, rows)
    total = np.sum(w)
    fact = total - cov_ddof(bias, ddof) * np.sum(w * a) / total
    centered = rows - np.sum(rows * w, axis=1, keepdims=True) / total
    g = np.reshape(d[c], (np.shape(rows)[0],) * 2)
    pieces = un_cov_rows((g + g.T) @ centered * (w / fact), m, y, rowvar)
    d[m] = pieces[0]
    d[y] = pieces[1]
    paired = np.sum(g * ((centered * w) @ centered.T)) / (fact * fact)
    d[aweights] = cov_weights(np.sum(centered * (g @ centered), axis=0) / fact - paired * (
        1.0 - cov_ddof(bias, ddof) * (2.0 * a - np.sum(w * a) / total) / total), fweights, rows)


@tangent(np.cov)
def cov_tangent(c, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                aweights=None):
    rows = cov_rows(m, y, rowvar)
    w = cov_weights(aweights, fweights, rows)
    a = cov_weights(aweights, None, rows)
    total = np.sum(w)
    fact = total - cov_ddof(bias, ddof) * np.sum(w * a) / total
    centered = rows - np.sum(rows * w, axis=1, keepdims=True) / total
    moved = cov_rows(d[m], None if y is None else d[y], rowvar)
    dw = cov_weights(d[aweights], fweights, rows)
    d[c] = np.reshape(((moved * w) @ centered.T + (centered * w) @ moved.T
                       + (centered * dw) @ centered.T) / fact
                      - (centered * w) @ centered.T * np.sum(dw * (1.0 - cov_ddof(bias, ddof) * (
                          2.0 * a - np.sum(w * a) / total) / total)) / (fact * fact),
                      np.shape(c))


@adjoint(np.corrcoef)
def corrcoef_adjoint(r, x, y=None, rowvar=True):
    rows = cov_rows(x, y, rowvar)
    centered = rows - np.mean(rows, axis=1, keepdims=True)
    scatter = centered @ centered.T
    s = np.sqrt(np.diagonal(scatter))
    g = np.reshape(d[r], np.shape(scatter))
    weighted = g * scatter / np.outer(s, s)
    gc = g / np.outer(s, s) - np.diag(
        (np.sum(weighted, axis=1) + np.sum(weighted, axis=0)) / (2.0 * s * s))
    pieces = un_cov_rows((gc + gc.T) @ centered, x, y, rowvar)
    d[x] = pieces[0]
    d[y] = pieces[1]


@tangent(np.corrcoef)
def corrcoef_tangent(r, x, y=None, rowvar=True):
    rows = cov_rows(x, y, rowvar)
    centered = rows - np.mean(rows, axis=1, keepdims=True)
    scatter = centered @ centered.T
    s = np.sqrt(np.diagonal(scatter))
    moved = cov_rows(d[x], None if y is None else d[y], rowvar)
    moved = moved - np.mean(moved, axis=1, keepdims=True)
    dscatter = moved @ centered.T + centered @ moved.T
    u = np.diagonal(dscatter) / (2.0 * s * s)
    d[r] = np.reshape(dscatter / np.outer(s, s) - scatter / np.outer(s, s) * (
        u[:, None] + u[None, :]), np.shape(r))


# -- the rows helper and its transpose -------------------------------------------------------

@adjoint(cov_rows)
def cov_rows_adjoint(rows, m, y=None, rowvar=True):
    pieces = un_cov_rows(d[rows], m, y, rowvar)
    d[m] = pieces[0]
    d[y] = pieces[1]


@tangent(cov_rows)
def cov_rows_tangent(rows, m, y=None, rowvar=True):
    d[rows] = cov_rows(d[m], None if y is None else d[y], rowvar)


@adjoint(cov_weights)
def cov_weights_adjoint(w, aweights, fweights, rows):
    d[aweights] = cov_weights(d[w], fweights, rows)


@adjoint(un_cov_rows)
def un_cov_rows_adjoint(pieces, g, m, y=None, rowvar=True):
    filled = zeros_filled(d[pieces], pieces)
    d[g] = cov_rows(filled[0], None if y is None else filled[1], rowvar)
