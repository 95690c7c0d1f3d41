"""Derivative rules of NumPy's mathematical functions that are neither elementwise nor plain
reductions: differences (``diff`` with ``n``/``prepend``/``append``, ``ediff1d``), the
trapezoidal rule (``trapezoid``), ``cumulative_sum``, cross products (``np.cross`` with every
``axisa``/``axisb``/``axisc``/``axis`` form, ``np.linalg.cross``), convolutions (``convolve``,
``correlate``, every ``mode``), ``interp``, ``nan_to_num``, ``gradient``, ``divmod``, ``modf``,
``frexp``, ``ldexp``, ``unwrap``, ``vander``, the polynomial functions (``polyval``, ``polyadd``,
``polysub``, ``polymul``, ``polyder``, ``polyint``, ``poly`` of 1-D roots, ``roots``) and NumPy 2.2's ``matvec``, ``vecmat`` and
``vecdot``, ``nextafter``, ``polyfit`` and ``nancumprod``. Adjoint and tangent of each primitive
sit side by side. ``np.piecewise`` has no rule: the compiler writes it as NumPy computes it
(``y = zeros_like(x)``, then ``y[c] = f(x[c])`` per condition, later conditions overriding
earlier ones, an extra function for where none holds; normalize/calls.py), so its functions
are differentiated where they are evaluated and a value piece is constant (or the value's own
derivative). ``condlist`` and ``funclist`` must be lists written in the call.

Conventions:

* ``diff`` and ``ediff1d`` are linear: the adjoint of a difference is minus the difference of
  the zero-padded cotangent (``undiff``), cut into the pieces of the joined input (``prepend``,
  ``a``, ``append``; a scalar ``prepend`` gets the sum of its broadcast copies).
* ``cross`` is bilinear: ``<g, a x b> = <a, b x g> = <b, g x a>``, each computed with the vector
  axis last and moved back; broadcast axes are summed. 2-vectors are 3-vectors with a zero z
  component, as NumPy computes them (``cross_vectors``): the cross of two 2-vectors is its z
  component (a scalar per pair, ``axisc`` unused), of a 2- and a 3-vector a 3-vector. NumPy 2
  deprecates 2-vectors but still computes them (a ``DeprecationWarning``, which the tangent,
  an ``np.cross`` of the same vectors, gives again); ``np.linalg.cross`` refuses them.
* ``convolve``/``correlate`` take 1-d real inputs; the adjoint places the cotangent inside the
  full output (``convolve_padding``: NumPy centres 'same' differently for ``correlate`` when
  ``v`` is the longer input) and correlates it with the other operand.
* ``interp``: piecewise linear in ``x``, linear in ``fp``, smooth in ``xp`` between knots. At a
  knot the derivative in ``x`` is the slope of the segment to its right (of the last segment
  at ``xp[-1]``); outside ``[xp[0], xp[-1]]`` it is 0, and the value (``fp[0]``/``fp[-1]``, or
  ``left``/``right`` when given) gets the derivative. ``xp`` must be increasing, as NumPy
  asks. With ``period``, NumPy interpolates ``x % period`` on the knots ``xp % period``, sorted
  and wrapped by one knot at each end (``interp_order``, ``interp_shift``; ``xp`` need not be
  sorted), ignoring ``left``/``right``; the rules do the same, and refuse a derivative in
  ``period`` itself (``refused_derivative``) when it is active.
* ``nan_to_num``: 1 at finite elements, 0 at the replaced ones, whose derivative goes to
  ``nan``/``posinf``/``neginf`` when those are variables.
* ``polyval(p, x)``: the derivative in ``x`` is ``polyval`` of the derivative polynomial (written
  inline, so second derivatives go through this rule again); in ``p``, the powers of ``x``.
* ``trapezoid(y, x, dx, axis)``: linear in ``y``; in the sample points ``x`` (1-d along
  ``axis``, or shaped like ``y``) the derivative of ``sum(diff(x) * mean of neighbours)``; in a
  scalar ``dx``, the integral with unit spacing.
* ``gradient(f, *varargs, axis, edge_order)``: linear in ``f``; the adjoint applies the
  transposed difference matrices, which ``np.gradient`` of the identity builds (so spacings,
  coordinates and edge orders are NumPy's own). Spacings and coordinates must be constants:
  a derivative in them is refused (``constant_spacing`` raises when the derivative runs).
* ``divmod``, ``modf``, ``frexp``: the integer parts (quotient, integral part, exponent) are
  piecewise constant; the rest carries the derivative (``x1 - quotient * x2`` for the
  remainder, ``x / 2 ** exponent`` for the mantissa). ``unwrap`` adds a piecewise-constant
  correction: its derivative is the identity.
* ``polymul`` is ``convolve`` (its tangent too: ``polymul`` of a zero tangent would trim it to
  ``[0.]``); a product whose leading coefficient is exactly 0 is trimmed by NumPy, and its
  derivative is not.
* ``polyfit(x, y, deg, w)``: the least-squares solution through the normal equations, assuming
  a full-rank Vandermonde matrix; the weights ``w`` multiply the rows (NumPy's convention:
  ``1/sigma``, not ``1/sigma**2``) and are differentiated too. ``rcond``, ``full`` and ``cov``
  (which return the rank, singular values or covariance) are not supported: a clear error.
* ``polyint`` takes no integration constants ``k``; ``polyder`` assumes ``m < len(p)``.
* ``cumulative_sum`` with ``include_initial`` drops the leading zero's cotangent;
  ``cumulative_prod`` uses ``cumprod``'s rules (reductions.py) and has no ``include_initial``.
"""
import numpy as np

from srcad.registry import adjoint, binary, complex_ok, d, linear, nondiff, tangent
from srcad.runtime import (along_axis_shape, axis_padding, axis_slice, broadcast_like,
                           constant_spacing, convolve_padding, cross_cotangent, cross_output,
                           cross_vectors, diff_part, ediff1d_part, interp_order,
                           interp_replaced, interp_segment, interp_shift, polyder_weights,
                           polyint_weights, poly_roots, polyfit_weight, polyval_powers,
                           refused_derivative, scatter_flat, trapezoid_ends, unbroadcast,
                           uncross_vectors, undiff, ungradient, upper_toeplitz,
                           upper_toeplitz_adjoint, vander_powers, zeros_filled)

nondiff(axis_padding, axis_slice, diff_part, ediff1d_part, convolve_padding, interp_segment,
        interp_replaced, interp_order, interp_shift, polyval_powers, trapezoid_ends,
        along_axis_shape, vander_powers, polyder_weights, polyint_weights)
linear(np.diff, np.ediff1d, undiff, scatter_flat, cross_vectors, uncross_vectors,
       cross_cotangent, cross_output)
# Linear maps written with transposes (never conjugates): right for complex values.
complex_ok(np.diff, np.ediff1d, undiff, scatter_flat, np.cross, np.nan_to_num, cross_vectors,
           uncross_vectors, cross_cotangent, cross_output)
_CROSS = (np.cross,) + ((np.linalg.cross,) if hasattr(np.linalg, "cross") else ())
if hasattr(np, "cumulative_sum"):       # NumPy >= 2.1
    linear(np.cumulative_sum)
    complex_ok(np.cumulative_sum)


# -- differences ------------------------------------------------------------------------------

@adjoint(np.diff)
def diff_adjoint(y, a, n=1, axis=-1, prepend=None, append=None):
    joined = undiff(d[y], n, axis)
    d[a] = (joined if prepend is None and append is None
            else joined[diff_part(joined, a, prepend, axis, "a")])
    d[prepend] = unbroadcast(joined[diff_part(joined, a, prepend, axis, "prepend")], prepend)
    d[append] = unbroadcast(joined[diff_part(joined, a, prepend, axis, "append")], append)


@tangent(np.diff)
def diff_tangent(y, a, n=1, axis=-1, prepend=None, append=None):
    d[y] = (np.diff(d[a], n, axis=axis) if prepend is None and append is None else
            np.diff(d[a], n, axis=axis, prepend=d[prepend]) if append is None else
            np.diff(d[a], n, axis=axis, append=d[append]) if prepend is None else
            np.diff(d[a], n, axis=axis, prepend=d[prepend], append=d[append]))


@adjoint(np.ediff1d)
def ediff1d_adjoint(y, ary, to_end=None, to_begin=None):
    d[ary] = np.reshape(undiff(d[y][ediff1d_part(ary, to_begin, "ary")], 1, 0), np.shape(ary))
    d[to_begin] = np.reshape(d[y][ediff1d_part(ary, to_begin, "begin")], np.shape(to_begin))
    d[to_end] = np.reshape(d[y][ediff1d_part(ary, to_begin, "end")], np.shape(to_end))


@tangent(np.ediff1d)
def ediff1d_tangent(y, ary, to_end=None, to_begin=None):
    d[y] = np.ediff1d(d[ary], to_end=None if to_end is None else d[to_end],
                      to_begin=None if to_begin is None else d[to_begin])


# -- the trapezoidal rule: sum(diff(x) * (y[:-1] + y[1:]) / 2) along axis -----------------------
# spacing: diff(x) along the axis (a 1-d x reshaped to broadcast), or the scalar dx.

@adjoint(np.trapezoid)
def trapezoid_adjoint(out, y, x=None, dx=1.0, axis=-1):
    g = np.expand_dims(d[out], axis)
    if x is None:
        d[y] = unbroadcast(g * (dx * trapezoid_ends(y, axis)), y)
        d[dx] = unbroadcast(d[out] * np.trapezoid(y, axis=axis), dx)
    else:
        steps = np.diff(x) if np.ndim(x) == 1 else np.diff(x, axis=axis)
        spacing = np.reshape(steps, along_axis_shape(y, steps, axis))
        d[y] = unbroadcast(g * 0.5 * (np.pad(spacing, axis_padding(spacing, 1, 0, axis))
                                      + np.pad(spacing, axis_padding(spacing, 0, 1, axis))), y)
        mean = y[axis_slice(y, 0, -1, axis)] + 0.5 * np.diff(y, axis=axis)
        d[x] = undiff(np.reshape(unbroadcast(g * mean, spacing), np.shape(steps)), 1,
                      -1 if np.ndim(x) == 1 else axis)


@tangent(np.trapezoid)
def trapezoid_tangent(out, y, x=None, dx=1.0, axis=-1):
    if x is None:
        d[out] = np.trapezoid(d[y], dx=dx, axis=axis) + d[dx] * np.trapezoid(y, axis=axis)
    else:
        mean = y[axis_slice(y, 0, -1, axis)] + 0.5 * np.diff(y, axis=axis)
        steps = np.diff(d[x]) if np.ndim(x) == 1 else np.diff(d[x], axis=axis)
        d[out] = np.trapezoid(d[y], x, axis=axis) + np.sum(
            mean * np.reshape(steps, along_axis_shape(y, steps, axis)), axis=axis)


# -- cumulative_sum (NumPy 2.1): cumsum, with an optional leading zero ---------------------------

if hasattr(np, "cumulative_sum"):
    @adjoint(np.cumulative_sum)
    def cumulative_sum_adjoint(y, x, axis=None, include_initial=False):
        g = d[y][axis_slice(d[y], 1, None, 0 if axis is None else axis)] if include_initial \
            else d[y]
        d[x] = np.flip(np.cumsum(np.flip(g, axis), axis=0 if axis is None else axis), axis)

    @tangent(np.cumulative_sum)
    def cumulative_sum_tangent(y, x, axis=None, include_initial=False):
        d[y] = np.cumulative_sum(d[x], axis=axis, include_initial=include_initial)


# -- cross products: <g, a x b> = <a, b x g> = <b, g x a>, as 3-vectors along the last axis ------

@adjoint(*_CROSS)
def cross_adjoint(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    g = cross_cotangent(d[y], a, b, axisa if axis is None else axis,
                        axisb if axis is None else axis, axisc if axis is None else axis)
    d[a] = uncross_vectors(np.cross(cross_vectors(b, axisb if axis is None else axis), g), a,
                           axisa if axis is None else axis)
    d[b] = uncross_vectors(np.cross(g, cross_vectors(a, axisa if axis is None else axis)), b,
                           axisb if axis is None else axis)


@tangent(np.cross)
def cross_tangent(y, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[y] = (np.cross(d[a], b, axisa, axisb, axisc, axis)
            + np.cross(a, d[b], axisa, axisb, axisc, axis))


@adjoint(cross_vectors)
def cross_vectors_adjoint(t, v, axis):
    d[v] = uncross_vectors(d[t], v, axis)


@adjoint(uncross_vectors)
def uncross_vectors_adjoint(u, t, v, axis):
    d[t] = broadcast_like(cross_vectors(d[u], axis), t)


@adjoint(cross_cotangent)
def cross_cotangent_adjoint(t, g, a, b, axisa, axisb, axisc):
    d[g] = cross_output(d[t], a, b, axisa, axisb, axisc)


@adjoint(cross_output)
def cross_output_adjoint(y, t, a, b, axisa, axisb, axisc):
    d[t] = cross_cotangent(d[y], a, b, axisa, axisb, axisc)


if hasattr(np.linalg, "cross"):      # NumPy >= 2.0: axis only (the adjoint is cross's)
    @tangent(np.linalg.cross)
    def linalg_cross_tangent(y, a, b, axis=-1):
        d[y] = np.linalg.cross(d[a], b, axis=axis) + np.linalg.cross(a, d[b], axis=axis)


# -- convolutions of 1-d sequences: correlate the full-size cotangent with the other input ------

@adjoint(np.convolve)
def convolve_adjoint(y, a, v, mode="full"):
    g = np.pad(d[y], convolve_padding(a, v, mode))
    d[a] = np.correlate(g, v, "valid")
    d[v] = np.correlate(g, a, "valid")


@tangent(np.convolve)
def convolve_tangent(y, a, v, mode="full"):
    d[y] = np.convolve(d[a], v, mode) + np.convolve(a, d[v], mode)


@adjoint(np.correlate)
def correlate_adjoint(y, a, v, mode="valid"):
    g = np.pad(d[y], convolve_padding(a, v, mode, True))
    d[a] = np.correlate(g, np.flip(v), "valid")
    d[v] = np.flip(np.correlate(g, a, "valid"))


@tangent(np.correlate)
def correlate_tangent(y, a, v, mode="valid"):
    d[y] = np.correlate(d[a], v, mode) + np.correlate(a, d[v], mode)


# -- interp: y = (1 - t) fp[i] + t fp[i + 1] on the segment i of x, t clipped to [0, 1] ----------

# With period: the point is x % period on the knots xp % period sorted (interp_order) and
# wrapped one knot each way (interp_shift: piecewise constant); left and right are ignored.
@adjoint(np.interp)
def interp_adjoint(y, x, xp, fp, left=None, right=None, period=None):
    k = None if period is None else interp_order(xp, period)
    point = x if period is None else x + interp_shift(x, None, period)
    knots = xp if period is None else xp[k] + interp_shift(xp, k, period)
    values = fp if period is None else fp[k]
    i = interp_segment(point, knots)
    width = knots[i + 1] - knots[i]
    t = np.clip((point - knots[i]) / width, 0.0, 1.0)
    slope = np.where((point >= knots[0]) & (point <= knots[-1]),
                     (values[i + 1] - values[i]) / width, 0.0)
    replaced = interp_replaced(point, knots, left, right)
    d[x] = d[y] * slope
    d[fp][i if period is None else k[i]] += np.logical_not(replaced) * d[y] * (1.0 - t)
    d[fp][i + 1 if period is None else k[i + 1]] += np.logical_not(replaced) * d[y] * t
    d[xp][i if period is None else k[i]] += -d[y] * slope * (1.0 - t)
    d[xp][i + 1 if period is None else k[i + 1]] += -d[y] * slope * t
    d[left] = unbroadcast(np.where(np.less(point, knots[0]), d[y], 0.0), left)
    d[right] = unbroadcast(np.where(np.greater(point, knots[-1]), d[y], 0.0), right)
    d[period] = refused_derivative(period, "numpy.interp in period")


@tangent(np.interp)
def interp_tangent(y, x, xp, fp, left=None, right=None, period=None):
    k = None if period is None else interp_order(xp, period)
    point = x if period is None else x + interp_shift(x, None, period)
    knots = xp if period is None else xp[k] + interp_shift(xp, k, period)
    values = fp if period is None else fp[k]
    i = interp_segment(point, knots)
    width = knots[i + 1] - knots[i]
    t = np.clip((point - knots[i]) / width, 0.0, 1.0)
    slope = np.where((point >= knots[0]) & (point <= knots[-1]),
                     (values[i + 1] - values[i]) / width, 0.0)
    replaced = interp_replaced(point, knots, left, right)
    d[y] = (slope * (d[x] - (1.0 - t) * d[xp][i if period is None else k[i]]
                     - t * d[xp][i + 1 if period is None else k[i + 1]])
            + np.logical_not(replaced) * ((1.0 - t) * d[fp][i if period is None else k[i]]
                                          + t * d[fp][i + 1 if period is None else k[i + 1]])
            + np.less(point, knots[0]) * d[left] + np.greater(point, knots[-1]) * d[right]
            + d[period] * refused_derivative(period, "numpy.interp in period"))


# -- nan_to_num: the finite elements pass, the replaced ones take the replacement's derivative --

@adjoint(np.nan_to_num)
def nan_to_num_adjoint(y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[x] = np.where(np.isfinite(x), d[y], 0.0)
    d[nan] = np.sum(np.where(np.isnan(x), d[y], 0.0))
    d[posinf] = np.sum(np.where(np.isposinf(x), d[y], 0.0))
    d[neginf] = np.sum(np.where(np.isneginf(x), d[y], 0.0))


@tangent(np.nan_to_num)
def nan_to_num_tangent(y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[y] = (np.where(np.isfinite(x), d[x], 0.0) + np.isnan(x) * d[nan]
            + np.isposinf(x) * d[posinf] + np.isneginf(x) * d[neginf])


# -- polyval(p, x) = sum_k p[k] x ** (N - 1 - k) -------------------------------------------------

@adjoint(np.polyval)
def polyval_adjoint(y, p, x):
    d[p] = np.ravel(d[y]) @ (np.reshape(x, (-1, 1)) ** polyval_powers(p, x))
    d[x] = d[y] * np.polyval(p[:-1] * polyval_powers(p, x)[:-1], x)


@tangent(np.polyval)
def polyval_tangent(y, p, x):
    d[y] = np.polyval(d[p], x) + d[x] * np.polyval(p[:-1] * polyval_powers(p, x)[:-1], x)


# -- the runtime helpers above that carry derivatives: undiff and diff are each other's
# transposes; scatter_flat's transpose gathers ----------------------------------------------------

@adjoint(undiff)
def undiff_adjoint(y, g, n, axis):
    d[g] = np.diff(d[y], n, axis=axis)


@adjoint(scatter_flat)
def scatter_flat_adjoint(y, g, index, like):
    d[g] = np.reshape(np.ravel(d[y])[index], np.shape(g))


# -- gradient(f, *varargs): central differences, linear in f (spacings: constants) ---------------
# The adjoint applies the transposed difference matrices (ungradient); a spacing or coordinate
# array that depends on the variables is refused when the derivative runs (constant_spacing).

linear(np.gradient, ungradient)
complex_ok(np.gradient, ungradient)
nondiff(constant_spacing)


@adjoint(np.gradient)
def gradient_adjoint(y, f, *varargs, axis=None, edge_order=1):
    d[f] = ungradient(zeros_filled(d[y], y), f, varargs, axis, edge_order)
    d[varargs] = constant_spacing(varargs)


@tangent(np.gradient)
def gradient_tangent(y, f, *varargs, axis=None, edge_order=1):
    d[y] = (np.gradient(d[f], axis=axis, edge_order=edge_order) if varargs == () else
            np.gradient(d[f] + constant_spacing(d[varargs]), *varargs, axis=axis,
                        edge_order=edge_order))


@adjoint(ungradient)
def ungradient_adjoint(y, g, f, spacing, axis=None, edge_order=1):
    d[g] = np.gradient(d[y], *spacing, axis=axis, edge_order=edge_order)


# -- divmod, modf, frexp, ldexp, unwrap: a step function plus a smooth part ----------------------

@adjoint(np.divmod, divmod, outputs=2)
def divmod_adjoint(quotient, remainder, x1, x2):
    d[x1] = unbroadcast(d[remainder], x1)
    d[x2] = unbroadcast(-d[remainder] * quotient, x2)


@tangent(np.divmod, divmod, outputs=2)
def divmod_tangent(quotient, remainder, x1, x2):
    d[remainder] = broadcast_like(d[x1] - d[x2] * quotient, remainder)


@adjoint(np.modf, outputs=2)
def modf_adjoint(fractional, integral, x):
    d[x] = d[fractional]


@tangent(np.modf, outputs=2)
def modf_tangent(fractional, integral, x):
    d[fractional] = d[x]


@adjoint(np.frexp, outputs=2)
def frexp_adjoint(mantissa, exponent, x):
    d[x] = d[mantissa] * np.ldexp(np.ones_like(mantissa), -exponent)


@tangent(np.frexp, outputs=2)
def frexp_tangent(mantissa, exponent, x):
    d[mantissa] = d[x] * np.ldexp(np.ones_like(mantissa), -exponent)


@adjoint(np.ldexp)
def ldexp_adjoint(y, x1, x2):
    d[x1] = unbroadcast(d[y] * np.ldexp(np.ones_like(y), x2), x1)


@tangent(np.ldexp)
def ldexp_tangent(y, x1, x2):
    d[y] = broadcast_like(np.ldexp(d[x1], x2), y)


@adjoint(np.unwrap)
def unwrap_adjoint(y, p, discont=None, axis=-1, *, period=6.283185307179586):
    d[p] = d[y]


@tangent(np.unwrap)
def unwrap_tangent(y, p, discont=None, axis=-1, *, period=6.283185307179586):
    d[y] = d[p]


# -- vander, and polynomial arithmetic on coefficient arrays (highest power first) ---------------

@adjoint(np.vander)
def vander_adjoint(y, x, N=None, increasing=False):
    powers = vander_powers(x, N, increasing)
    d[x] = np.sum(d[y] * np.where(powers > 0.0, powers * np.reshape(x, (-1, 1)) ** np.maximum(
        powers - 1.0, 0.0), 0.0), axis=1)


@tangent(np.vander)
def vander_tangent(y, x, N=None, increasing=False):
    powers = vander_powers(x, N, increasing)
    d[y] = np.reshape(d[x], (-1, 1)) * np.where(
        powers > 0.0, powers * np.reshape(x, (-1, 1)) ** np.maximum(powers - 1.0, 0.0), 0.0)


linear(np.polyder, np.polyint)
complex_ok(np.polyadd, np.polysub, np.polymul, np.polyder, np.polyint, np.polyval)  # holomorphic


@adjoint(np.polyadd)
def polyadd_adjoint(y, a1, a2):
    d[a1] = d[y][np.size(y) - np.size(a1):]
    d[a2] = d[y][np.size(y) - np.size(a2):]


@tangent(np.polyadd)
def polyadd_tangent(y, a1, a2):
    d[y] = np.polyadd(d[a1], d[a2])


@adjoint(np.polysub)
def polysub_adjoint(y, a1, a2):
    d[a1] = d[y][np.size(y) - np.size(a1):]
    d[a2] = -d[y][np.size(y) - np.size(a2):]


@tangent(np.polysub)
def polysub_tangent(y, a1, a2):
    d[y] = np.polysub(d[a1], d[a2])


@adjoint(np.polymul)
def polymul_adjoint(y, a1, a2):
    d[a1] = np.correlate(d[y], a2, "valid")
    d[a2] = np.correlate(d[y], a1, "valid")


@tangent(np.polymul)
def polymul_tangent(y, a1, a2):
    d[y] = np.convolve(d[a1], a2) + np.convolve(a1, d[a2])     # polymul trims leading zeros


# poly(r): c = prod (x - r_i), so dc/dr_i = -[0, q_i] with q_i = c / (x - r_i), row i of
# q = (r_i ** m)_(i, m) @ upper_toeplitz(c) (synthetic division, exact at a root; repeated
# roots too). poly_roots (the identity, refusing a matrix) and upper_toeplitz are linear.
linear(poly_roots, upper_toeplitz, upper_toeplitz_adjoint)


@adjoint(poly_roots)
def poly_roots_adjoint(y, seq_of_zeros):
    d[seq_of_zeros] = np.reshape(d[y], np.shape(seq_of_zeros))


@adjoint(upper_toeplitz)
def upper_toeplitz_adjoint_rule(t, c, n):
    d[c] = upper_toeplitz_adjoint(d[t], c)


@adjoint(upper_toeplitz_adjoint)
def upper_toeplitz_adjoint_adjoint(y, g, c):
    d[g] = upper_toeplitz(d[y], np.shape(g)[-1])


@adjoint(np.poly)
def poly_adjoint(c, seq_of_zeros):
    r = poly_roots(seq_of_zeros)
    q = (r[:, None] ** np.arange(np.size(r))) @ upper_toeplitz(c, np.size(r))
    d[seq_of_zeros] = np.reshape(-(q @ d[c][1:]), np.shape(seq_of_zeros))


@tangent(np.poly)
def poly_tangent(c, seq_of_zeros):
    r = poly_roots(seq_of_zeros)
    q = (r[:, None] ** np.arange(np.size(r))) @ upper_toeplitz(c, np.size(r))
    d[c] = np.concatenate([np.zeros_like(c[:1]), -(np.ravel(d[seq_of_zeros]) @ q)])


# roots(p): p(r_i) = 0, so dr_i = -(sum_k dp_k r_i ** (n - k)) / p'(r_i) (simple roots), a
# map linear in dp and holomorphic in r: right for complex roots too (JAX's convention).
complex_ok(np.roots)


@adjoint(np.roots)
def roots_adjoint(r, p):
    powers = np.expand_dims(r, -1) ** np.arange(np.size(p) - 1, -1, -1)
    d[p] = -((d[r] / np.polyval(np.polyder(p), r)) @ powers)


@tangent(np.roots)
def roots_tangent(r, p):
    powers = np.expand_dims(r, -1) ** np.arange(np.size(p) - 1, -1, -1)
    d[r] = -(powers @ d[p]) / np.polyval(np.polyder(p), r)


@adjoint(np.polyder)
def polyder_adjoint(y, p, m=1):
    d[p] = np.pad(d[y] * polyder_weights(p, m), (0, m))


@tangent(np.polyder)
def polyder_tangent(y, p, m=1):
    d[y] = np.polyder(d[p], m)


@adjoint(np.polyint)
def polyint_adjoint(y, p, m=1):
    d[p] = d[y][:np.size(p)] * polyint_weights(p, m)


@tangent(np.polyint)
def polyint_tangent(y, p, m=1):
    d[y] = np.polyint(d[p], m)


# -- matvec, vecmat, vecdot (NumPy 2.2 gufuncs; vecmat and vecdot conjugate x1, so real only) ---

if hasattr(np, "matvec"):
    complex_ok(np.matvec)

    @adjoint(np.matvec)
    def matvec_adjoint(y, x1, x2):
        d[x1] = unbroadcast(d[y][..., :, None] * x2[..., None, :], x1)
        d[x2] = unbroadcast(np.vecmat(d[y], x1), x2)

    @tangent(np.matvec)
    def matvec_tangent(y, x1, x2):
        d[y] = np.matvec(d[x1], x2) + np.matvec(x1, d[x2])

    @adjoint(np.vecmat)
    def vecmat_adjoint(y, x1, x2):
        d[x1] = unbroadcast(np.matvec(x2, d[y]), x1)
        d[x2] = unbroadcast(x1[..., :, None] * d[y][..., None, :], x2)

    @tangent(np.vecmat)
    def vecmat_tangent(y, x1, x2):
        d[y] = np.vecmat(d[x1], x2) + np.vecmat(x1, d[x2])

    @adjoint(np.vecdot)
    def vecdot_adjoint(y, x1, x2, axis=-1):
        d[x1] = unbroadcast(np.expand_dims(d[y], axis) * x2, x1)
        d[x2] = unbroadcast(np.expand_dims(d[y], axis) * x1, x2)

    @tangent(np.vecdot)
    def vecdot_tangent(y, x1, x2, axis=-1):
        d[y] = np.vecdot(d[x1], x2, axis=axis) + np.vecdot(x1, d[x2], axis=axis)


# nextafter(x1, x2) = x1 moved by one ulp towards x2: 1 in x1, a step in x2.
binary(np.nextafter, "1", None)


# -- polyfit(x, y, deg, w): least squares c = argmin |W (V c - y)|, V = vander(x, deg + 1) -------
# With v = W V, r = W y - v c, A = v^T v and u = A^-1 g: d[W y] = v u, d[v] = r u^T - v u c^T
# (v full rank); W = diag(w) (polyfit_weight: a column, 1.0 without w).

@adjoint(np.polyfit)
def polyfit_adjoint(coefficients, x, y, deg, *, w=None):
    weight = polyfit_weight(w, x)
    vander = np.vander(x, len(coefficients))
    v = weight * vander
    fit = np.reshape(coefficients, (len(coefficients), -1))
    u = np.linalg.solve(v.T @ v, np.reshape(d[coefficients], np.shape(fit)))
    observed = np.reshape(y, (np.shape(v)[0], -1))
    residual = weight * observed - v @ fit
    powers = vander_powers(x, len(coefficients))
    d[y] = np.reshape(weight * (v @ u), np.shape(y))
    d[x] = np.sum(weight * (residual @ u.T - v @ u @ fit.T) * np.where(
        powers > 0.0, powers * np.reshape(x, (-1, 1)) ** np.maximum(powers - 1.0, 0.0), 0.0),
        axis=1)
    d[w] = np.sum((residual @ u.T - v @ u @ fit.T) * vander, axis=1) + np.sum(
        (v @ u) * observed, axis=1)


@tangent(np.polyfit)
def polyfit_tangent(coefficients, x, y, deg, *, w=None):
    weight = polyfit_weight(w, x)
    vander = np.vander(x, len(coefficients))
    v = weight * vander
    fit = np.reshape(coefficients, (len(coefficients), -1))
    observed = np.reshape(y, (np.shape(v)[0], -1))
    residual = weight * observed - v @ fit
    powers = vander_powers(x, len(coefficients))
    dweight = polyfit_weight(d[w], x)
    dv = weight * np.reshape(d[x], (-1, 1)) * np.where(
        powers > 0.0, powers * np.reshape(x, (-1, 1)) ** np.maximum(powers - 1.0, 0.0), 0.0
    ) + dweight * vander
    d[coefficients] = np.reshape(np.linalg.solve(v.T @ v, dv.T @ residual + v.T @ (
        weight * np.reshape(d[y], np.shape(residual)) + dweight * observed - dv @ fit)),
        np.shape(coefficients))


linear(polyfit_weight)


@adjoint(polyfit_weight)
def polyfit_weight_adjoint(weight, w, x):
    d[w] = np.reshape(d[weight], np.shape(w))


# -- nancumprod: cumprod with NaNs as ones (cumprod's rule in reductions.py, zeros included) -----

@adjoint(np.nancumprod)
def nancumprod_adjoint(y, a, axis=None):
    line = np.ravel(np.where(np.isnan(a), 1.0, a)) if axis is None else np.where(
        np.isnan(a), 1.0, a)
    ax = 0 if axis is None else axis
    zero = np.equal(line, 0.0)
    first = zero & (np.cumsum(zero, axis=ax) == 1)
    y1 = np.cumprod(np.where(first, 1.0, line), axis=ax)
    at_first = np.flip(np.cumsum(np.flip(d[y] * y1, ax), axis=ax), ax)
    rest = np.flip(np.cumsum(np.flip(d[y] * y, ax), axis=ax), ax) / np.where(zero, 1.0, line)
    grad = np.where(first, at_first, np.where(zero, 0.0, rest))
    d[a] = np.where(np.isnan(a), 0.0, np.reshape(grad, np.shape(a)) if axis is None else grad)


@tangent(np.nancumprod)
def nancumprod_tangent(y, a, axis=None):
    line = np.ravel(np.where(np.isnan(a), 1.0, a)) if axis is None else np.where(
        np.isnan(a), 1.0, a)
    dline = np.ravel(np.where(np.isnan(a), 0.0, d[a])) if axis is None else np.where(
        np.isnan(a), 0.0, d[a])
    ax = 0 if axis is None else axis
    zero = np.equal(line, 0.0)
    seen = np.cumsum(zero, axis=ax)
    first = zero & (seen == 1)
    y1 = np.cumprod(np.where(first, 1.0, line), axis=ax)
    before = y * np.cumsum(np.where(zero, 0.0, dline / np.where(zero, 1.0, line)), axis=ax)
    after = y1 * np.sum(np.where(first, dline, 0.0), axis=ax, keepdims=True)
    d[y] = before + np.where(seen > 0, after, 0.0)
