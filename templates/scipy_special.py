"""Derivative rules of ``scipy.special``: the logistic family (``expit``, ``logit``,
``log_expit``), ``logsumexp``, ``softmax``, ``log_softmax``, the error functions, the gamma
family, information-theory functions (``xlogy``, ``entr``, ``rel_entr``, ``kl_div``...), the
Huber losses, the normal distribution (``ndtr``, ``log_ndtr``, ``ndtri``), the modified
Bessel functions of order 0 and 1 (and NumPy's ``np.i0``, whose derivative is SciPy's ``i1``,
and ``np.kaiser``, smooth in ``beta`` through them),
the incomplete gamma and beta functions, exponential integrals (``exp1``, ``expi``, ``expn``),
``dawsn``, ``spence``, ``loggamma``, ``poch``, ``owens_t``, ``boxcox``/``boxcox1p``, ``comb``,
``factorial``, the hypergeometric ``hyp1f1``/``hyp2f1``, Hurwitz's ``zeta`` and the pairs
``sici``, ``fresnel``. Loaded only when SciPy imports (``srcad[scipy]``).

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
  not positive the value is nan and so is the derivative. ``return_sign=True`` (a literal:
  the number of values returned is decided at build time) gives ``(log|s|, sign(s))``:
  negative sums are fine, the sign is piecewise constant. ``axis`` may be anything
  ``np.sum`` takes (None, an int, a tuple), for ``softmax``/``log_softmax`` too.
* ``multigammaln(a, d)``: the rule's parameter is ``dim`` (``d`` is the derivative marker of
  the template language), so pass ``d`` by position.
* Derivatives without a closed form are refused when they run (``runtime.refused_derivative``,
  a NotDifferentiableError naming the function and argument), as JAX's: ``gammainc``/
  ``gammaincc`` and ``betainc`` in their parameters ``a``, ``b``; ``hyp1f1``/``hyp2f1`` in
  ``a``, ``b``, ``c``; ``zeta(x, q)`` in ``x`` (in ``q``: ``-x zeta(x + 1, q)``).
  ``comb(exact=True)`` and ``factorial`` with ``exact=True`` or ``extend='complex'`` too.
* ``expn(n, x)``, ``polygamma``: integer orders carry no derivative. ``gammasgn`` is piecewise
  constant (registered without a derivative).
* ``factorial(n)`` and ``comb(N, k)`` are 0 (constant, derivative 0) outside their domain
  (``n < 0``; ``k < 0``, ``k > N`` or ``N < 0``); inside, the gamma function's derivative.
* ``boxcox(x, 0)`` is ``log(x)``: its derivative in ``lmbda`` there is ``log(x)^2 / 2``;
  ``spence``'s derivative at 1 is its limit, -1.
* float32 stays float32: constants are Python floats.
"""
import math

import numpy as np
import scipy.special as sp  # type: ignore[import-untyped, unused-ignore]

from srcad.registry import adjoint, binary, d, nondiff, tangent, unary, variant
from srcad.runtime import (broadcast_like, expand_reduced, kaiser_radii,  # noqa: F401
                           refused_derivative, unbroadcast)

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
    (np.i0, "sp.i1(x)"),                            # NumPy's I0: its derivative is SciPy's
    (sp.loggamma, "sp.digamma(x)"),                 # real x > 0 (nan for real x < 0)
    (sp.dawsn, "1.0 - 2.0 * x * y"),
    (sp.exp1, "-np.exp(-x) / x"),
    (sp.expi, "np.exp(x) / x"),
    # spence(z) = integral from 1 to z of log(t) / (1 - t): log(z) / (1 - z), -1 at z == 1
    (sp.spence, "np.where(x == 1.0, -1.0, np.log(x) / (1.0 - np.where(x == 1.0, 0.0, x)))"),
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


# gammainc(a, x), gammaincc: the derivative in x is the integrand x^(a-1) e^-x / gamma(a); in
# a it has no closed form and is refused (as JAX's). expn(n, x): E_n' = -E_(n-1), with
# E_0 = e^-x / x, whose derivative is -e^-x (1/x + 1/x^2); n is an integer.
_INC_A = "refused_derivative(x1, 'scipy.special.{0}(a, x) in a')"
_INTEGRAND = "np.exp(sp.xlogy(x1 - 1.0, x2) - x2 - sp.gammaln(x1))"
binary(sp.gammainc, _INC_A.format("gammainc"), _INTEGRAND)
binary(sp.gammaincc, _INC_A.format("gammaincc"), f"-{_INTEGRAND}")
binary(sp.expn, None, "np.where(x1 == 0, -np.exp(-x2) * (1.0 / x2 + 1.0 / (x2 * x2)), "
                      "-sp.expn(np.maximum(x1 - 1, 0), x2))")
# poch(z, m) = gamma(z + m) / gamma(z)
binary(sp.poch, "y * (sp.digamma(x1 + x2) - sp.digamma(x1))", "y * sp.digamma(x1 + x2)")
# owens_t(h, a) = 1/(2 pi) integral from 0 to a of exp(-h^2 (1 + t^2) / 2) / (1 + t^2) dt
binary(sp.owens_t,
       f"-np.exp(-0.5 * x1 * x1) * sp.erf(x1 * x2 * {math.sqrt(0.5)!r}) / {2.0 * _SQRT_2PI!r}",
       f"np.exp(-0.5 * x1 * x1 * (1.0 + x2 * x2)) / ({2.0 * math.pi!r} * (1.0 + x2 * x2))")
# boxcox(x, lmbda) = (x^l - 1) / l, log(x) at l == 0 (where d/dl is log(x)^2 / 2); boxcox1p
# is boxcox of 1 + x
_BOXCOX_L = ("np.where(x2 == 0.0, 0.5 * {log} ** 2, ({base} ** x2 * {log} - y) / "
             "np.where(x2 == 0.0, 1.0, x2))")
binary(sp.boxcox, "x1 ** (x2 - 1.0)", _BOXCOX_L.format(log="np.log(x1)", base="x1"))
binary(sp.boxcox1p, "(1.0 + x1) ** (x2 - 1.0)",
       _BOXCOX_L.format(log="np.log1p(x1)", base="(1.0 + x1)"))

# gammasgn is piecewise constant (the sign of gamma)
nondiff(sp.gammasgn)

# factorial(n) = gamma(n + 1) for n >= 0, 0 below (extend='zero'); exact=True (integers) and
# extend='complex' are refused
unary(sp.factorial, "refused_derivative(x, 'scipy.special.factorial with exact=True or "
                    "extend=complex') if exact or extend != 'zero' else "
                    "np.where(x < 0.0, 0.0, y * sp.digamma(np.where(x < 0.0, 0.0, x) + 1.0))",
      exact=False, extend="zero")


# -- elementwise functions of three or four arguments: derivatives in x only ---------------
# betainc(a, b, x): the integrand x^(a-1) (1-x)^(b-1) / B(a, b); hyp1f1(a, b, x)' =
# a/b hyp1f1(a+1, b+1, x); hyp2f1(a, b, c, x)' = ab/c hyp2f1(a+1, b+1, c+1, x). The
# parameters' derivatives have no closed form and are refused (as JAX's).

@adjoint(sp.betainc)
def betainc_adjoint(y, a, b, x):
    d[a] = refused_derivative(a, "scipy.special.betainc(a, b, x) in a")
    d[b] = refused_derivative(b, "scipy.special.betainc(a, b, x) in b")
    d[x] = unbroadcast(d[y] * np.exp(sp.xlogy(a - 1.0, x) + sp.xlog1py(b - 1.0, -x)
                                     - sp.betaln(a, b)), x)


@tangent(sp.betainc)
def betainc_tangent(y, a, b, x):
    d[y] = broadcast_like(d[x] * np.exp(sp.xlogy(a - 1.0, x) + sp.xlog1py(b - 1.0, -x)
                                        - sp.betaln(a, b))
                          + d[a] * refused_derivative(a, "scipy.special.betainc(a, b, x) in a")
                          + d[b] * refused_derivative(b, "scipy.special.betainc(a, b, x) in b"),
                          y)


@adjoint(sp.hyp1f1)
def hyp1f1_adjoint(y, a, b, x):
    d[a] = refused_derivative(a, "scipy.special.hyp1f1(a, b, x) in a")
    d[b] = refused_derivative(b, "scipy.special.hyp1f1(a, b, x) in b")
    d[x] = unbroadcast(d[y] * (a / b) * sp.hyp1f1(a + 1.0, b + 1.0, x), x)


@tangent(sp.hyp1f1)
def hyp1f1_tangent(y, a, b, x):
    d[y] = broadcast_like(d[x] * (a / b) * sp.hyp1f1(a + 1.0, b + 1.0, x)
                          + d[a] * refused_derivative(a, "scipy.special.hyp1f1(a, b, x) in a")
                          + d[b] * refused_derivative(b, "scipy.special.hyp1f1(a, b, x) in b"),
                          y)


@adjoint(sp.hyp2f1)
def hyp2f1_adjoint(y, a, b, c, x):
    d[a] = refused_derivative(a, "scipy.special.hyp2f1(a, b, c, x) in a")
    d[b] = refused_derivative(b, "scipy.special.hyp2f1(a, b, c, x) in b")
    d[c] = refused_derivative(c, "scipy.special.hyp2f1(a, b, c, x) in c")
    d[x] = unbroadcast(d[y] * (a * b / c) * sp.hyp2f1(a + 1.0, b + 1.0, c + 1.0, x), x)


@tangent(sp.hyp2f1)
def hyp2f1_tangent(y, a, b, c, x):
    d[y] = broadcast_like(d[x] * (a * b / c) * sp.hyp2f1(a + 1.0, b + 1.0, c + 1.0, x)
                          + d[a] * refused_derivative(a, "scipy.special.hyp2f1(a, b, c, x) in a")
                          + d[b] * refused_derivative(b, "scipy.special.hyp2f1(a, b, c, x) in b")
                          + d[c] * refused_derivative(c, "scipy.special.hyp2f1(a, b, c, x) in c"),
                          y)


# zeta(x, q): Hurwitz's zeta (Riemann's for q=None); d/dq = -x zeta(x + 1, q); in x refused.
@adjoint(sp.zeta)
def zeta_adjoint(y, x, q=None):
    d[x] = refused_derivative(x, "scipy.special.zeta(x, q) in x")
    d[q] = unbroadcast(-d[y] * x * sp.zeta(x + 1.0, q), q)


@tangent(sp.zeta)
def zeta_tangent(y, x, q=None):
    d[y] = broadcast_like(-d[q] * x * sp.zeta(x + 1.0, q)
                          + d[x] * refused_derivative(x, "scipy.special.zeta(x, q) in x"), y)


# comb(N, k) = gamma(N + 1) / (gamma(k + 1) gamma(N - k + 1)) where 0 <= k <= N, 0 elsewhere
# (constant there: derivative 0); exact=True (integers) is refused. repetition=True is
# comb(N + k - 1, k).

@adjoint(sp.comb)
def comb_adjoint(y, N, k, *, exact=False, repetition=False):
    n = N + k - 1.0 if repetition else N
    inside = (k <= n) & (n >= 0.0) & (k >= 0.0)
    rest = sp.digamma(np.where(inside, n - k, 0.0) + 1.0)
    slope_n = np.where(inside, y * (sp.digamma(np.where(inside, n, 0.0) + 1.0) - rest), 0.0)
    slope_k = np.where(inside, y * (rest - sp.digamma(np.where(inside, k, 0.0) + 1.0)), 0.0)
    if exact:
        d[N] = refused_derivative(N, "scipy.special.comb with exact=True")
    else:
        d[N] = unbroadcast(d[y] * slope_n, N)
        d[k] = unbroadcast(d[y] * (slope_k + slope_n if repetition else slope_k), k)


@tangent(sp.comb)
def comb_tangent(y, N, k, *, exact=False, repetition=False):
    n = N + k - 1.0 if repetition else N
    inside = (k <= n) & (n >= 0.0) & (k >= 0.0)
    rest = sp.digamma(np.where(inside, n - k, 0.0) + 1.0)
    slope_k = np.where(inside, y * (rest - sp.digamma(np.where(inside, k, 0.0) + 1.0)), 0.0)
    slope_n = np.where(inside, y * (sp.digamma(np.where(inside, n, 0.0) + 1.0) - rest), 0.0)
    if exact:
        d[y] = refused_derivative(N, "scipy.special.comb with exact=True")
    else:
        d[y] = broadcast_like(d[N] * slope_n + d[k] * (slope_k + slope_n if repetition
                                                       else slope_k), y)


# -- sici(x) = (Si, Ci), fresnel(x) = (S, C): two outputs ------------------------------------
# Si' = sin(x) / x (1 at 0), Ci' = cos(x) / x (Ci of negative x is Ci(-x), SciPy's real part);
# S' = sin(pi x^2 / 2), C' = cos(pi x^2 / 2).

@adjoint(sp.sici, outputs=2)
def sici_adjoint(si, ci, x):
    d[x] = d[si] * np.sinc(x / math.pi) + d[ci] * np.cos(x) / x


@tangent(sp.sici, outputs=2)
def sici_tangent(si, ci, x):
    d[si] = d[x] * np.sinc(x / math.pi)
    d[ci] = d[x] * np.cos(x) / x


@adjoint(sp.fresnel, outputs=2)
def fresnel_adjoint(s, c, x):
    d[x] = d[s] * np.sin(0.5 * math.pi * x * x) + d[c] * np.cos(0.5 * math.pi * x * x)


@tangent(sp.fresnel, outputs=2)
def fresnel_tangent(s, c, x):
    d[s] = d[x] * np.sin(0.5 * math.pi * x * x)
    d[c] = d[x] * np.cos(0.5 * math.pi * x * x)


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


# np.kaiser(M, beta) = i0(beta r) / i0(beta), r = kaiser_radii(M): smooth in beta, through I1
# (SciPy's, hence here); M is an integer.
nondiff(kaiser_radii)


@adjoint(np.kaiser)
def kaiser_adjoint(w, M, beta):
    r = kaiser_radii(M)
    d[beta] = np.sum(d[w] * (r * sp.i1(beta * r) - w * sp.i1(beta))) / sp.i0(beta)


@tangent(np.kaiser)
def kaiser_tangent(w, M, beta):
    r = kaiser_radii(M)
    d[w] = d[beta] * (r * sp.i1(beta * r) - w * sp.i1(beta)) / sp.i0(beta)


# logsumexp(..., return_sign=True) -> (y, sgn): y = log|s|, sgn = sign(s) for s = sum(b exp(a)),
# so dy/da = sgn b exp(a - y), dy/db = sgn exp(a - y); sgn is piecewise constant.
LOGSUMEXP_SIGN = variant(sp.logsumexp, "return_sign", True)


@adjoint(LOGSUMEXP_SIGN, outputs=2)
def logsumexp_sign_adjoint(y, sgn, a, axis=None, b=None, keepdims=False, return_sign=True):
    g = expand_reduced(d[y] * sgn, a, axis, keepdims) * np.exp(a - expand_reduced(
        y, a, axis, keepdims))
    if b is None:
        d[a] = g
    else:
        d[a] = unbroadcast(g * b, a)
        d[b] = unbroadcast(g, b)


@tangent(LOGSUMEXP_SIGN, outputs=2)
def logsumexp_sign_tangent(y, sgn, a, axis=None, b=None, keepdims=False, return_sign=True):
    ratio = np.exp(a - expand_reduced(y, a, axis, keepdims))
    if b is None:
        d[y] = sgn * np.sum(ratio * d[a], axis=axis, keepdims=keepdims)
    else:
        d[y] = sgn * np.sum(ratio * (b * d[a] + d[b]), axis=axis, keepdims=keepdims)


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

