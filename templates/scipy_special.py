"""Derivative rules of ``scipy.special``: the logistic family (``expit``, ``logit``,
``log_expit``), ``logsumexp``, ``softmax``, ``log_softmax``, the error functions, the gamma
family, information-theory functions (``xlogy``, ``entr``, ``rel_entr``, ``kl_div``...), the
Huber losses, the normal distribution (``ndtr``, ``log_ndtr``, ``ndtri``) and the modified
Bessel functions of order 0 and 1. Loaded only when SciPy imports (``srcad[scipy]``).

Elementwise functions are lines of a formula table (``unary``/``binary``, as in ufuncs.py),
written with functions that have rules of their own (``digamma`` in the derivative of
``gammaln``, ``i1`` in that of ``i0``), so second derivatives work. The reductions
(``logsumexp``, ``softmax``, ``log_softmax``) have their adjoint and tangent side by side.

Conventions:

* ``scipy.special.sinc`` is ``np.sinc`` (its rule is in ufuncs.py).
* Integer orders (``polygamma``'s ``n``, ``multigammaln``'s ``d``) carry no derivative.
* ``xlogy(x, y)`` and ``xlog1py``: at ``x == 0`` the value is the constant 0 in ``y``, so
  d/dy is 0 there (also at ``y == 0``); d/dx is ``log(y)`` (``-inf`` at ``y == 0``).
* ``entr``, ``rel_entr``, ``kl_div`` outside their domain (negative arguments) are constant
  (``-inf``/``inf``) and have derivative 0; at ``x == 0`` the derivative in ``x`` is the
  genuine infinity of ``x log x`` (``+inf`` for ``entr``, ``-inf`` for the others).
* ``huber(delta, r)`` has a kink at ``|r| == delta``: the quadratic piece's derivative (``r``
  in ``r``, 0 in ``delta``) is used there. ``delta < 0`` gives ``inf``, derivative 0.
* ``logsumexp`` with ``b``: the weights ``b * exp(a - y)`` may be negative; where the sum is
  not positive the value is nan and so is the derivative. ``return_sign=True`` (two values)
  is refused: the keyword is not in the rule's signature. ``axis`` may be anything
  ``np.sum`` takes (None, an int, a tuple), for ``softmax``/``log_softmax`` too.
* ``multigammaln(a, d)``: the rule's parameter is ``dim`` (``d`` is the derivative marker of
  the template language), so pass ``d`` by position.
* float32 stays float32: constants are Python floats.
"""
import math

import numpy as np
import scipy.special as sp  # type: ignore[import-untyped, unused-ignore]

from srcad.registry import adjoint, binary, d, tangent, unary
from srcad.runtime import broadcast_like, expand_reduced, unbroadcast  # noqa: F401 (formulas)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# -- elementwise functions of one argument: (function, dy/dx in x and y) ---------------------
UNARY = [
    (sp.expit, "y * (1.0 - y)"),
    (sp.logit, "1.0 / (x * (1.0 - x))"),
    (sp.log_expit, "sp.expit(-x)"),
    (sp.erf, f"{2.0 / _SQRT_PI!r} * np.exp(-x * x)"),
    (sp.erfc, f"{-2.0 / _SQRT_PI!r} * np.exp(-x * x)"),
    (sp.erfinv, f"{_SQRT_PI / 2.0!r} * np.exp(y * y)"),
    (sp.erfcinv, f"{-_SQRT_PI / 2.0!r} * np.exp(y * y)"),
    (sp.erfcx, f"2.0 * x * y - {2.0 / _SQRT_PI!r}"),
    (sp.gamma, "y * sp.digamma(x)"),
    (sp.gammaln, "sp.digamma(x)"),                  # log|gamma|: also for negative x
    (sp.digamma, "sp.polygamma(1, x)"),             # sp.psi is sp.digamma
    (sp.ndtr, f"np.exp(-0.5 * x * x) / {_SQRT_2PI!r}"),
    (sp.log_ndtr, f"np.exp(-0.5 * x * x - y) / {_SQRT_2PI!r}"),
    (sp.ndtri, f"{_SQRT_2PI!r} * np.exp(0.5 * y * y)"),
    (sp.i0, "sp.i1(x)"),
    (sp.i0e, "sp.i1e(x) - np.sign(x) * y"),
    # I1' = I0 - I1 / x, 1/2 at x == 0
    (sp.i1, "np.where(x == 0.0, 0.5, sp.i0(x) - y / np.where(x == 0.0, 1.0, x))"),
    (sp.i1e, "np.where(x == 0.0, 0.5, sp.i0e(x) - y / np.where(x == 0.0, 1.0, x)) "
             "- np.sign(x) * y"),
    # -x log x: -(log x + 1) inside the domain, 0 where the value is the constant -inf
    (sp.entr, "np.where(x < 0.0, 0.0, -(np.log(np.where(x < 0.0, 1.0, x)) + 1.0))"),
]
for fn, formula in UNARY:
    unary(fn, formula)

# -- two arguments, broadcasting: (function, dy/dx1, dy/dx2), None: no derivative ------------
# 0 where x1 == 0 (y is constant in x2 there), x1 / x2 elsewhere
_X_OVER_Y = "np.where(x1 == 0.0, 0.0, x1 / np.where(x1 == 0.0, 1.0, {den}))"
binary(sp.xlogy, "np.log(x2)", _X_OVER_Y.format(den="x2"))
binary(sp.xlog1py, "np.log1p(x2)", _X_OVER_Y.format(den="1.0 + x2"))
_INSIDE = "(x1 > 0.0) & (x2 > 0.0)"     # rel_entr, kl_div: constant outside (0 or inf)
binary(sp.rel_entr,
       f"np.where({_INSIDE}, np.log(np.where({_INSIDE}, x1 / x2, 1.0)) + 1.0, "
       "np.where((x1 == 0.0) & (x2 >= 0.0), -np.inf, 0.0))",
       f"np.where({_INSIDE}, -x1 / np.where({_INSIDE}, x2, 1.0), 0.0)")
binary(sp.kl_div,
       f"np.where({_INSIDE}, np.log(np.where({_INSIDE}, x1 / x2, 1.0)), "
       "np.where((x1 == 0.0) & (x2 >= 0.0), -np.inf, 0.0))",
       f"np.where({_INSIDE}, 1.0 - x1 / np.where({_INSIDE}, x2, 1.0), "
       "np.where((x1 == 0.0) & (x2 >= 0.0), 1.0, 0.0))")
binary(sp.beta, "y * (sp.digamma(x1) - sp.digamma(x1 + x2))",
       "y * (sp.digamma(x2) - sp.digamma(x1 + x2))")
binary(sp.betaln, "sp.digamma(x1) - sp.digamma(x1 + x2)", "sp.digamma(x2) - sp.digamma(x1 + x2)")
binary(sp.polygamma, None, "sp.polygamma(x1 + 1, x2)")
# huber(delta, r): r^2 / 2 for |r| <= delta, delta (|r| - delta / 2) beyond, inf for delta < 0
binary(sp.huber, "np.where((np.abs(x2) <= x1) | (x1 < 0.0), 0.0, np.abs(x2) - x1)",
       "np.where(x1 < 0.0, 0.0, np.where(np.abs(x2) <= x1, x2, x1 * np.sign(x2)))")
# pseudo_huber(delta, r) = delta^2 (s - 1), s = sqrt(1 + (r / delta)^2)
_S = "np.sqrt(1.0 + (x2 / x1) ** 2)"
binary(sp.pseudo_huber, f"2.0 * y / x1 - x2 * x2 / (x1 * {_S})", f"x2 / {_S}")


# -- multigammaln(a, d) = sum_j gammaln(a - j / 2) + const, j < d ----------------------------

@adjoint(sp.multigammaln)
def multigammaln_adjoint(y, a, dim):
    j = np.arange(dim, dtype=np.result_type(a, 0.5))
    d[a] = d[y] * np.sum(sp.digamma(np.expand_dims(a, -1) - 0.5 * j), axis=-1)


@tangent(sp.multigammaln)
def multigammaln_tangent(y, a, dim):
    j = np.arange(dim, dtype=np.result_type(a, 0.5))
    d[y] = d[a] * np.sum(sp.digamma(np.expand_dims(a, -1) - 0.5 * j), axis=-1)


# -- logsumexp, softmax, log_softmax -----------------------------------------------------------
# logsumexp: y = log sum(b * exp(a)); dy/da = b * exp(a - y), dy/db = exp(a - y).

@adjoint(sp.logsumexp)
def logsumexp_adjoint(y, a, axis=None, b=None, keepdims=False):
    ratio = np.exp(a - expand_reduced(y, a, axis, keepdims))
    g = expand_reduced(d[y], a, axis, keepdims)
    if b is None:
        d[a] = g * ratio
    else:
        d[a] = unbroadcast(g * ratio * b, a)
        d[b] = unbroadcast(g * ratio, b)


@tangent(sp.logsumexp)
def logsumexp_tangent(y, a, axis=None, b=None, keepdims=False):
    ratio = np.exp(a - expand_reduced(y, a, axis, keepdims))
    if b is None:
        d[y] = np.sum(ratio * d[a], axis=axis, keepdims=keepdims)
    else:
        d[y] = np.sum(ratio * (b * d[a] + d[b]), axis=axis, keepdims=keepdims)


@adjoint(sp.softmax)
def softmax_adjoint(y, x, axis=None):
    gy = d[y] * y
    d[x] = gy - y * np.sum(gy, axis=axis, keepdims=True)


@tangent(sp.softmax)
def softmax_tangent(y, x, axis=None):
    ty = d[x] * y
    d[y] = ty - y * np.sum(ty, axis=axis, keepdims=True)


@adjoint(sp.log_softmax)
def log_softmax_adjoint(y, x, axis=None):
    d[x] = d[y] - np.exp(y) * np.sum(d[y], axis=axis, keepdims=True)


@tangent(sp.log_softmax)
def log_softmax_tangent(y, x, axis=None):
    d[y] = d[x] - np.sum(np.exp(y) * d[x], axis=axis, keepdims=True)

