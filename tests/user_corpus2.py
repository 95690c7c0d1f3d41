"""A second, independent corpus of user programs for srcad (tests/test_user_corpus2.py checks it).

Written from the issue texts (13, 14, 16), README.md and docs/ only, without reading srcad's
implementation or the first corpus: each program is NumPy/SciPy code the way people write it,
registered with ``add(fn, category, args, ...)`` where ``args()`` builds example arguments.

Categories: ``np`` (issue 14, NumPy functions inside small losses), ``scipy`` (issue 14,
scipy.special / scipy.linalg / scipy.signal), ``py`` (issue 13, the Python around the
numerics), ``spell`` (issue 16, one model spelled several ways: programs of one ``group``
must have the same gradient), ``out`` (issue 13, container outputs).

This module is not a ``test_*.py`` file, so pytest does not rewrite its ``assert``
statements (srcad reads the source as written).
"""
import contextlib
import dataclasses
import functools
import math
from collections import namedtuple
from typing import Any, Callable, NamedTuple

import numpy as np
import scipy.linalg
import scipy.signal
import scipy.special
from scipy.special import expit, gammaln, log_ndtr, logsumexp, xlogy


@dataclasses.dataclass
class Program:
    name: str
    category: str
    fn: Callable[..., Any]
    args: Callable[[], tuple]
    wrt: Any = 0
    hess: bool = True         # smooth: check the second derivative too
    fwd: bool = True          # check forward mode
    group: str | None = None  # issue 16: programs of a group compute the same function
    options: dict = dataclasses.field(default_factory=dict)  # passed to srcad.grad
    aux: bool = False         # f returns (loss, aux) (has_aux=True)
    out: str = "scalar"       # 'scalar', 'array' (jacobian) or 'tree' (container output)
    kwargs: dict = dataclasses.field(default_factory=dict)  # keyword arguments, not differentiated
    gradgrad: bool = False    # also check jacfwd(grad(f)) and grad of a scalar derivative


CORPUS: dict[str, Program] = {}


def add(fn, category, args, **kw):
    name = kw.pop("name", None) or fn.__name__
    assert name not in CORPUS, name
    CORPUS[name] = Program(name, category, fn, args, **kw)


def rng(seed=0):
    return np.random.default_rng(seed)


def spd(n, seed=0):
    a = rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


# =====================================================================================
# issue 14: NumPy
# =====================================================================================

def smoothness_penalty(x):
    # the squared first derivative of a sampled curve
    dx = np.gradient(x, 0.5)
    return np.sum(dx ** 2) + 0.1 * np.sum(x ** 2)


add(smoothness_penalty, "np", lambda: (np.sin(np.linspace(0, 3, 7)),), gradgrad=True)


def image_total_variation(U):
    gy, gx = np.gradient(U)
    return np.sum(np.sqrt(gx ** 2 + gy ** 2 + 1e-3))


add(image_total_variation, "np", lambda: (rng(1).standard_normal((4, 5)),))


def gradient_along_axis(U, h):
    du = np.gradient(U, h, axis=1)
    return np.sum(du * np.cos(U))


add(gradient_along_axis, "np", lambda: (rng(2).standard_normal((3, 5)), 0.25))


def increments_prepend(x):
    steps = np.diff(x, prepend=0.0)
    return np.sum(steps ** 2 * np.arange(1, x.size + 1))


add(increments_prepend, "np", lambda: (rng(3).standard_normal(6),))


def curvature_roughness(x):
    return np.sum(np.diff(x, n=2) ** 2)


add(curvature_roughness, "np", lambda: (rng(4).standard_normal(7),))


def diff_append_rows(X):
    d = np.diff(X, axis=0, append=X[-1:])
    return np.sum(np.tanh(d))


add(diff_append_rows, "np", lambda: (rng(5).standard_normal((4, 3)),))


def torque_energy(r, F):
    tau = np.cross(r, F)
    return np.sum(tau ** 2)


add(torque_energy, "np", lambda: (rng(6).standard_normal((4, 3)), rng(7).standard_normal((4, 3))),
    wrt=(0, 1))


def cross_columns(A, B):
    # vectors stored as columns: axisa/axisb pick the axis, axisc the result's
    c = np.cross(A, B, axisa=0, axisb=0, axisc=0)
    return np.sum(c * np.arange(c.size).reshape(c.shape))


add(cross_columns, "np", lambda: (rng(8).standard_normal((3, 4)), rng(9).standard_normal((3, 4))),
    wrt=(0, 1))


def cross_axis0(A, B):
    return np.sum(np.sin(np.cross(A, B, axis=0)))


add(cross_axis0, "np", lambda: (rng(10).standard_normal((3, 2)), rng(11).standard_normal((3, 2))),
    wrt=(0, 1))


def median_abs_deviation_loss(w, X, y):
    r = X @ w - y
    return np.median(np.abs(r - np.median(r)))


add(median_abs_deviation_loss, "np",
    lambda: (rng(12).standard_normal(3), rng(13).standard_normal((9, 3)), rng(14).standard_normal(9)),
    hess=False)


def quantile_of_residuals(w, X, y):
    r = (X @ w - y) ** 2
    return np.quantile(r, 0.8)


add(quantile_of_residuals, "np",
    lambda: (rng(15).standard_normal(3), rng(16).standard_normal((10, 3)), rng(17).standard_normal(10)),
    hess=False)


def interquartile_range(X):
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    return np.sum(q3 - q1)


add(interquartile_range, "np", lambda: (rng(18).standard_normal((9, 2)),), hess=False)


def masked_mean_nan(x, mask):
    v = np.where(mask, x ** 2, np.nan)
    return np.nanmean(v) + np.nanstd(v) + np.nansum(v) * 0.1


add(masked_mean_nan, "np",
    lambda: (rng(19).standard_normal(8), np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=bool)))


def nan_family(X):
    Y = X.copy()
    Y[0, 1] = np.nan
    return np.sum(np.nanvar(Y, axis=0)) + np.nanmedian(Y) + np.sum(np.nanprod(Y, axis=1))


add(nan_family, "np", lambda: (rng(20).standard_normal((3, 4)) + 2.0,), hess=False)


def nan_cumulative(x):
    y = np.where(x > 0.0, x, np.nan)
    return np.sum(np.nancumsum(y) ** 2) + np.nanquantile(y, 0.5)


add(nan_cumulative, "np", lambda: (np.array([0.3, -0.2, 1.1, 0.7, -0.5, 2.3, 0.9]),), hess=False)


def lookup_table_fit(fp, xs, ys):
    # a learned 1-D lookup table evaluated with linear interpolation
    knots = np.linspace(0.0, 1.0, fp.size)
    pred = np.interp(xs, knots, fp)
    return np.mean((pred - ys) ** 2)


add(lookup_table_fit, "np",
    lambda: (rng(21).standard_normal(5), np.array([0.05, 0.3, 0.42, 0.61, 0.77, 0.93]),
             rng(22).standard_normal(6)))


def interp_in_x(t):
    xp = np.array([0.0, 1.0, 2.5, 4.0])
    fp = np.array([1.0, -0.5, 2.0, 0.0])
    return np.sum(np.interp(t, xp, fp) * t)


add(interp_in_x, "np", lambda: (np.array([0.3, 1.7, 3.1, 2.2]),), hess=False)


def deconvolution_loss(x, k, y):
    return np.sum((np.convolve(x, k, mode="same") - y) ** 2)


add(deconvolution_loss, "np",
    lambda: (rng(23).standard_normal(7), rng(24).standard_normal(3), rng(25).standard_normal(7)),
    wrt=(0, 1))


def correlate_valid(x, k):
    return np.sum(np.correlate(x, k, mode="valid") ** 2)


add(correlate_valid, "np", lambda: (rng(26).standard_normal(6), rng(27).standard_normal(3)),
    wrt=(0, 1))


def polynomial_regression(c, x, y):
    return np.mean((np.polyval(c, x) - y) ** 2)


add(polynomial_regression, "np",
    lambda: (rng(28).standard_normal(4), np.linspace(-1, 1, 6), rng(29).standard_normal(6)),
    wrt=(0, 1))


def polyfit_residual(y, x):
    coef = np.polyfit(x, y, 2)
    fit = np.polyval(coef, x)
    return np.sum((fit - y) ** 2) + np.sum(coef ** 2)


add(polyfit_residual, "np", lambda: (rng(30).standard_normal(7), np.linspace(0.0, 2.0, 7)))


def covariance_logdet(X):
    C = np.cov(X, rowvar=False) + 0.1 * np.eye(X.shape[1])
    sign, logdet = np.linalg.slogdet(C)
    return logdet


add(covariance_logdet, "np", lambda: (rng(31).standard_normal((8, 3)),))


def correlation_penalty(x, y):
    r = np.corrcoef(x, y)[0, 1]
    return r ** 2


add(correlation_penalty, "np", lambda: (rng(32).standard_normal(7), rng(33).standard_normal(7)),
    wrt=(0, 1))


def cov_with_aweights(X, w):
    C = np.cov(X, aweights=w)
    return np.trace(C @ C)


add(cov_with_aweights, "np",
    lambda: (rng(34).standard_normal((2, 6)), np.array([1.0, 2.0, 0.5, 1.5, 1.0, 3.0])),
    wrt=(0, 1))


def einsum_sublist(A, B):
    C = np.einsum(A, [0, 1], B, [1, 2], [0, 2])
    return np.sum(C ** 2)


add(einsum_sublist, "np", lambda: (rng(35).standard_normal((2, 3)), rng(36).standard_normal((3, 2))),
    wrt=(0, 1))


def einsum_chain_optimized(A, B, C):
    return np.einsum("ij,jk,kl->", A, B, C, optimize=True)


add(einsum_chain_optimized, "np",
    lambda: (rng(37).standard_normal((2, 3)), rng(38).standard_normal((3, 3)),
             rng(39).standard_normal((3, 2))), wrt=(0, 1, 2))


def einsum_batched_greedy(Q, K):
    s = np.einsum("bij,bkj->bik", Q, K, optimize="greedy")
    return np.sum(np.tanh(s))


add(einsum_batched_greedy, "np",
    lambda: (rng(40).standard_normal((2, 2, 3)), rng(41).standard_normal((2, 3, 3))), wrt=(0, 1))


def nuclear_norm_svals(A):
    return np.sum(np.linalg.svd(A, compute_uv=False))


add(nuclear_norm_svals, "np", lambda: (rng(42).standard_normal((4, 3)),))


def pca_reconstruction_loss(X):
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    k = 2
    Xk = (U[:, :k] * S[:k]) @ Vt[:k]
    return np.sum((Xc - Xk) ** 2)


add(pca_reconstruction_loss, "np", lambda: (rng(43).standard_normal((6, 3)),))


def svd_wide_top(A):
    U, S, Vt = np.linalg.svd(A)
    return S[0] + np.sum(U[:, 0] ** 2 * np.arange(1.0, 4.0))


add(svd_wide_top, "np", lambda: (rng(44).standard_normal((3, 5)),))


def qr_r_logdet(A):
    R = np.linalg.qr(A, mode="r")
    return np.sum(np.log(np.abs(np.diag(R))))


add(qr_r_logdet, "np", lambda: (rng(45).standard_normal((4, 4)),))


def qr_projection(A, b):
    Q, R = np.linalg.qr(A)
    p = Q @ (Q.T @ b)
    return np.sum((b - p) ** 2)


add(qr_projection, "np", lambda: (rng(46).standard_normal((5, 2)), rng(47).standard_normal(5)),
    wrt=(0, 1))


def eigh_spectral_loss(A):
    S = A + A.T
    w, V = np.linalg.eigh(S)
    return np.sum(w * np.array([1.0, 2.0, 3.0])) + np.sum(V[:, -1] ** 2 * np.array([1.0, 0.0, 2.0]))


add(eigh_spectral_loss, "np", lambda: (rng(48).standard_normal((3, 3)),))


def top_eigenvalue(A):
    return np.linalg.eigvalsh(A @ A.T)[-1]


add(top_eigenvalue, "np", lambda: (rng(49).standard_normal((3, 4)),))


def lstsq_residual(X, y):
    coef, res, rank, sv = np.linalg.lstsq(X, y, rcond=None)
    return np.sum((X @ coef - y) ** 2) + np.sum(coef ** 2)


add(lstsq_residual, "np", lambda: (rng(50).standard_normal((6, 2)), rng(51).standard_normal(6)),
    wrt=(0, 1))


def lstsq_first_item(X, y):
    return np.sum(np.linalg.lstsq(X, y, rcond=None)[0] ** 2)


add(lstsq_first_item, "np", lambda: (rng(52).standard_normal((5, 3)), rng(53).standard_normal(5)),
    wrt=(0, 1))


def markov_power(P):
    return np.trace(np.linalg.matrix_power(P, 3))


add(markov_power, "np", lambda: (rng(54).standard_normal((3, 3)) * 0.5,))


def chain_multi_dot(A, B, C):
    return np.sum(np.linalg.multi_dot([A, B, C]) ** 2)


add(chain_multi_dot, "np",
    lambda: (rng(55).standard_normal((2, 3)), rng(56).standard_normal((3, 4)),
             rng(57).standard_normal((4, 2))), wrt=(0, 1, 2))


def norm_penalties(W):
    return (np.linalg.norm(W) + 0.5 * np.linalg.norm(W, "fro") + 0.3 * np.linalg.norm(W, "nuc")
            + 0.2 * np.linalg.norm(W, 2))


add(norm_penalties, "np", lambda: (rng(58).standard_normal((3, 4)),))


def vector_norm_ords(x):
    return np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf) + np.linalg.norm(x, 3)


add(vector_norm_ords, "np", lambda: (np.array([0.3, -1.2, 0.7, 2.1]),), hess=False)


def row_norms(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.sum(X / n * np.arange(1.0, X.shape[1] + 1))


add(row_norms, "np", lambda: (rng(59).standard_normal((4, 3)),))


def gp_marginal_likelihood(log_ell, x, y):
    # a Gaussian process with an RBF kernel: -log p(y | x, ell)
    ell = np.exp(log_ell)
    d = x[:, None] - x[None, :]
    K = np.exp(-0.5 * d ** 2 / ell ** 2) + 0.1 * np.eye(x.size)
    alpha = np.linalg.solve(K, y)
    return 0.5 * y @ alpha + 0.5 * np.linalg.slogdet(K)[1]


add(gp_marginal_likelihood, "np",
    lambda: (np.float64(0.2), np.linspace(0.0, 2.0, 5), rng(60).standard_normal(5)), wrt=(0, 1))


def spectral_loss(x, target):
    spec = np.abs(np.fft.rfft(x, n=16)) ** 2
    return np.sum((np.log1p(spec) - target) ** 2)


add(spectral_loss, "np", lambda: (rng(61).standard_normal(10), rng(62).standard_normal(9)))


def fft_ortho_axis(X):
    F = np.fft.fft(X, axis=0, norm="ortho")
    return np.sum(F.real ** 2 * 2.0 + F.imag * 0.5)


add(fft_ortho_axis, "np", lambda: (rng(63).standard_normal((4, 3)),))


def lowpass_filter(x):
    H = np.array([1.0, 0.8, 0.4, 0.1, 0.0])
    y = np.fft.irfft(np.fft.rfft(x) * H, n=x.size)
    return np.sum((y - x) ** 2) + np.sum(y ** 3)


add(lowpass_filter, "np", lambda: (rng(64).standard_normal(8),))


def fft2_power_shift(U):
    P = np.abs(np.fft.fftshift(np.fft.fft2(U))) ** 2
    w = np.arange(P.size, dtype=float).reshape(P.shape)
    return np.sum(P * w) / P.size


add(fft2_power_shift, "np", lambda: (rng(65).standard_normal((4, 4)),))


def ifft_roundtrip_n(x):
    z = np.fft.ifft(np.fft.fft(x, n=8), n=8)
    return np.sum(np.abs(z) ** 2)


add(ifft_roundtrip_n, "np", lambda: (rng(66).standard_normal(6),))


def r_concat_bias(w, x):
    wb = np.r_[w, 1.0]
    xb = np.r_[x, 1.0]
    return np.sum(np.tanh(wb * xb))


add(r_concat_bias, "np", lambda: (rng(67).standard_normal(3), rng(68).standard_normal(3)))


def c_design_matrix(x, beta):
    X = np.c_[np.ones_like(x), x, x ** 2]
    return np.sum((X @ beta - np.sin(x)) ** 2)


add(c_design_matrix, "np", lambda: (np.linspace(0.1, 1.0, 5), rng(69).standard_normal(3)),
    wrt=(0, 1))


def piecewise_activation(x):
    y = np.piecewise(x, [x < 0.0, x >= 0.0], [lambda v: 0.1 * v ** 2, lambda v: np.sin(v)])
    return np.sum(y ** 2)


add(piecewise_activation, "np", lambda: (np.array([-1.3, -0.2, 0.4, 1.7, 0.9]),))


def trapezoid_energy(y, x):
    return np.trapezoid(y ** 2, x)


add(trapezoid_energy, "np", lambda: (rng(70).standard_normal(6), np.sort(rng(71).uniform(0, 2, 6))),
    wrt=(0, 1))


def weighted_average_loss(r, w):
    return np.average(r ** 2, weights=w)


add(weighted_average_loss, "np", lambda: (rng(72).standard_normal(5), rng(73).uniform(0.5, 2, 5)),
    wrt=(0, 1))


def peak_to_peak(X):
    return np.sum(np.ptp(X, axis=0) ** 2)


add(peak_to_peak, "np", lambda: (rng(74).standard_normal((4, 3)),), hess=False)


def append_insert_delete(x):
    y = np.append(x, x[0] * 2.0)
    z = np.insert(y, 1, 3.0)
    u = np.delete(z, [0, 2])
    return np.sum(u ** 3)


add(append_insert_delete, "np", lambda: (rng(75).standard_normal(4),))


def cumulative_sum_loss(x):
    c = np.cumulative_sum(x, include_initial=True)
    return np.sum(np.cumsum(x) * c[1:]) + np.sum(np.cumprod(1.0 + 0.1 * x))


add(cumulative_sum_loss, "np", lambda: (rng(76).standard_normal(5),))


def select_regimes(x):
    y = np.select([x < -1.0, x > 1.0], [x + 1.0, np.exp(x - 1.0)], default=0.5 * x ** 2)
    return np.sum(y)


add(select_regimes, "np", lambda: (np.array([-2.0, -0.5, 0.3, 1.5, 0.8]),))


def nan_to_num_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.sum(np.nan_to_num(y, nan=0.0, neginf=-10.0) * x)


add(nan_to_num_log, "np", lambda: (np.array([0.5, 1.5, 2.0, 3.0]),))


def stacking_ops(a, b):
    M = np.column_stack([a, b])
    S = np.vstack([a, b])
    T = np.block([[M, M], [M, M]])
    return np.sum(M @ S) + np.sum(np.dstack([a, b]) ** 2) + np.sum(np.sin(T))


add(stacking_ops, "np", lambda: (rng(77).standard_normal(3), rng(78).standard_normal(3)), wrt=(0, 1))


def condition_number_penalty(A):
    return np.linalg.cond(A)


add(condition_number_penalty, "np", lambda: (spd(3, 79) + rng(80).standard_normal((3, 3)),))


def sorted_gather(x, y):
    order = np.argsort(x)
    return np.sum(np.sort(x) * y) + np.sum(y[order] * np.arange(x.size))


add(sorted_gather, "np", lambda: (rng(81).standard_normal(5), rng(82).standard_normal(5)),
    wrt=(0, 1), hess=False)


def partition_topk(x):
    p = np.partition(x, 2)
    return np.sum(p[:3] ** 2)


add(partition_topk, "np", lambda: (np.array([0.9, -1.3, 0.2, 2.5, -0.4, 1.1]),), hess=False)


def matrix_inverse_trace(A):
    return np.trace(np.linalg.inv(A)) + np.log(np.linalg.det(A))


add(matrix_inverse_trace, "np", lambda: (spd(3, 83),))


def batched_solve(A, b):
    x = np.linalg.solve(A, b[..., None])[..., 0]
    return np.sum(x ** 2)


add(batched_solve, "np", lambda: (np.stack([spd(3, 84), spd(3, 85)]), rng(86).standard_normal((2, 3))),
    wrt=(0, 1))


def vecdot_matrix_norm(X, Y):
    return np.sum(np.linalg.vecdot(X, Y) ** 2) + np.linalg.matrix_norm(X) + np.sum(np.linalg.vector_norm(Y, axis=0))


add(vecdot_matrix_norm, "np", lambda: (rng(87).standard_normal((3, 4)), rng(88).standard_normal((3, 4))),
    wrt=(0, 1))


def rollaxis_ediff(X):
    Y = np.rollaxis(X, 2)
    return np.sum(np.ediff1d(Y) ** 2)


add(rollaxis_ediff, "np", lambda: (rng(89).standard_normal((2, 3, 2)),))


def meshgrid_surface(a, b):
    A, B = np.meshgrid(a, b)
    return np.sum(np.sin(A) * np.cos(B) * A)


add(meshgrid_surface, "np", lambda: (rng(90).standard_normal(3), rng(91).standard_normal(4)), wrt=(0, 1))


# =====================================================================================
# issue 14: SciPy
# =====================================================================================

def weighted_logsumexp(z, w):
    return logsumexp(z, b=w)


add(weighted_logsumexp, "scipy", lambda: (rng(100).standard_normal(5), rng(101).uniform(0.5, 2, 5)),
    wrt=(0, 1))


def signed_logsumexp(z):
    b = np.array([1.0, -0.3, 2.0, -0.5])
    val, sign = logsumexp(z, b=b, return_sign=True)
    return val * sign


add(signed_logsumexp, "scipy", lambda: (np.array([0.4, -0.2, 0.9, 0.1]),))


def logsumexp_rows_keepdims(Z):
    lse = logsumexp(Z, axis=1, keepdims=True)
    return np.sum((Z - lse) * np.arange(Z.size).reshape(Z.shape))


add(logsumexp_rows_keepdims, "scipy", lambda: (rng(102).standard_normal((3, 4)),))


def logistic_expit(w, X, y):
    p = expit(X @ w)
    return -np.mean(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p))


add(logistic_expit, "scipy",
    lambda: (rng(103).standard_normal(3), rng(104).standard_normal((8, 3)),
             (rng(105).uniform(size=8) > 0.5).astype(float)))


def negative_binomial_nll(log_r, y, mu):
    # NB2 log-likelihood in the dispersion r (a count model)
    r = np.exp(log_r)
    ll = (gammaln(y + r) - gammaln(r) - gammaln(y + 1.0) + r * np.log(r / (r + mu))
          + y * np.log(mu / (r + mu)))
    return -np.sum(ll)


add(negative_binomial_nll, "scipy",
    lambda: (np.array([0.3, -0.2, 0.5]), np.array([0.0, 3.0, 7.0]), np.array([1.5, 2.0, 5.0])))


def poisson_nll(w, X, counts):
    rate = np.exp(X @ w)
    return np.sum(rate - counts * np.log(rate) + gammaln(counts + 1.0))


add(poisson_nll, "scipy",
    lambda: (rng(106).standard_normal(2) * 0.3, rng(107).standard_normal((6, 2)),
             np.array([0.0, 1.0, 2.0, 1.0, 4.0, 0.0])))


def probit_loglik(beta, X, y):
    eta = X @ beta
    return -np.sum(y * log_ndtr(eta) + (1.0 - y) * log_ndtr(-eta))


add(probit_loglik, "scipy",
    lambda: (rng(108).standard_normal(3), rng(109).standard_normal((7, 3)),
             np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])))


def softmax_attention(q, K, V):
    a = scipy.special.softmax(K @ q)
    return np.sum((a @ V) ** 2)


add(softmax_attention, "scipy",
    lambda: (rng(110).standard_normal(3), rng(111).standard_normal((4, 3)), rng(112).standard_normal((4, 2))),
    wrt=(0, 1, 2))


def log_softmax_nll(W, X, labels):
    logp = scipy.special.log_softmax(X @ W, axis=1)
    return -np.mean(logp[np.arange(X.shape[0]), labels])


add(log_softmax_nll, "scipy",
    lambda: (rng(113).standard_normal((3, 4)), rng(114).standard_normal((5, 3)), np.array([0, 3, 1, 2, 1])))


def special_zoo(x):
    from scipy import special
    return (np.sum(special.erf(x)) + np.sum(special.erfc(x) ** 2) + np.sum(special.digamma(x + 3.0))
            + np.sum(special.betaln(x + 2.0, 1.5)) + np.sum(special.ndtr(x))
            + np.sum(special.log_expit(x)) + np.sum(special.i0e(x)) + np.sum(special.sinc(x)))


add(special_zoo, "scipy", lambda: (np.array([0.3, -0.7, 1.2, 0.05]),))


def entropy_terms(p, q):
    return (np.sum(scipy.special.entr(p)) + np.sum(scipy.special.rel_entr(p, q))
            + np.sum(scipy.special.kl_div(p, q)) + np.sum(scipy.special.xlog1py(p, q)))


add(entropy_terms, "scipy",
    lambda: (np.array([0.2, 0.5, 0.3]), np.array([0.3, 0.3, 0.4])), wrt=(0, 1))


def huber_regression(w, X, y):
    r = X @ w - y
    return np.sum(scipy.special.huber(1.0, r)) + np.sum(scipy.special.pseudo_huber(0.5, r))


add(huber_regression, "scipy",
    lambda: (rng(115).standard_normal(2), rng(116).standard_normal((6, 2)), rng(117).standard_normal(6) * 3),
    hess=False)


def logit_calibration(p, a):
    z = a * scipy.special.logit(p)
    return np.sum(expit(z) ** 2)


add(logit_calibration, "scipy", lambda: (np.array([0.2, 0.6, 0.9]), 1.3), wrt=(0, 1))


def gp_cholesky(log_theta, x, y):
    sf2, ell, sn2 = np.exp(log_theta)
    K = sf2 * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / ell ** 2) + sn2 * np.eye(x.size)
    c, low = scipy.linalg.cho_factor(K, lower=True)
    alpha = scipy.linalg.cho_solve((c, low), y)
    return 0.5 * np.dot(y, alpha) + np.sum(np.log(np.diag(c)))


add(gp_cholesky, "scipy",
    lambda: (np.array([0.1, -0.3, -1.0]), np.linspace(0.0, 1.5, 5), rng(118).standard_normal(5)))


def triangular_whitening(L_raw, b):
    L = np.tril(L_raw) + 3.0 * np.eye(3)
    z = scipy.linalg.solve_triangular(L, b, lower=True)
    return np.sum(z ** 2)


add(triangular_whitening, "scipy", lambda: (rng(119).standard_normal((3, 3)), rng(120).standard_normal(3)),
    wrt=(0, 1))


def lu_reuse(A, B):
    lu, piv = scipy.linalg.lu_factor(A)
    X = scipy.linalg.lu_solve((lu, piv), B)
    return np.sum(X ** 2)


add(lu_reuse, "scipy", lambda: (spd(3, 121) + rng(122).standard_normal((3, 3)), rng(123).standard_normal((3, 2))),
    wrt=(0, 1))


def expm_dynamics(A, x0):
    x1 = scipy.linalg.expm(0.5 * A) @ x0
    return np.sum(x1 ** 2)


add(expm_dynamics, "scipy", lambda: (rng(124).standard_normal((3, 3)) * 0.5, rng(125).standard_normal(3)),
    wrt=(0, 1))


def scipy_eigh_values_only(A):
    w = scipy.linalg.eigh(A + A.T, eigvals_only=True)
    return np.sum(w ** 2 * np.array([1.0, 0.5, 2.0]))


add(scipy_eigh_values_only, "scipy", lambda: (rng(126).standard_normal((3, 3)),))


def block_diag_precision(a, B):
    P = scipy.linalg.block_diag(np.diag(np.exp(a)), B @ B.T + np.eye(2))
    return np.linalg.slogdet(P)[1] + np.trace(P)


add(block_diag_precision, "scipy", lambda: (rng(127).standard_normal(2), rng(128).standard_normal((2, 2))),
    wrt=(0, 1))


def toeplitz_ar_loglik(c, y):
    # a stationary covariance from its autocovariance sequence
    T = scipy.linalg.toeplitz(c)
    return 0.5 * y @ scipy.linalg.solve(T, y, assume_a="pos") + 0.5 * np.linalg.slogdet(T)[1]


add(toeplitz_ar_loglik, "scipy", lambda: (np.array([2.0, 0.6, 0.2, 0.05]), rng(129).standard_normal(4)),
    wrt=(0, 1))


def scipy_cholesky_det(A):
    L = scipy.linalg.cholesky(A @ A.T + np.eye(3), lower=True)
    return np.sum(np.log(np.diag(L))) + scipy.linalg.det(A) + np.sum(scipy.linalg.inv(A @ A.T + np.eye(3)))


add(scipy_cholesky_det, "scipy", lambda: (rng(130).standard_normal((3, 3)),))


def signal_blur_loss(img, k):
    out = scipy.signal.convolve(img, k, mode="same")
    return np.sum((out - img) ** 2)


add(signal_blur_loss, "scipy", lambda: (rng(131).standard_normal((4, 4)), rng(132).standard_normal((3, 3))),
    wrt=(0, 1))


def signal_valid_correlate(x, k):
    return np.sum(scipy.signal.correlate(x, k, mode="valid") ** 2) + np.sum(
        scipy.signal.fftconvolve(x, k) ** 2)


add(signal_valid_correlate, "scipy", lambda: (rng(133).standard_normal(7), rng(134).standard_normal(3)),
    wrt=(0, 1))


# =====================================================================================
# issue 13: the Python around the numerics
# =====================================================================================

def relu(z):
    return np.maximum(z, 0.0)


def softplus(z):
    return np.logaddexp(0.0, z)


def mlp_params_dict(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    for layer in params["hidden"]:
        h = softplus(h @ layer["W"] + layer["b"])
    pred = h @ params["w_out"] + params.get("b_out", 0.0)
    return np.mean((pred - y) ** 2)


def mlp_params():
    r = rng(200)
    return ({"W1": r.standard_normal((3, 4)), "b1": r.standard_normal(4),
             "hidden": [{"W": r.standard_normal((4, 4)) * 0.5, "b": r.standard_normal(4)}],
             "w_out": r.standard_normal(4)},
            r.standard_normal((5, 3)), r.standard_normal(5))


add(mlp_params_dict, "py", mlp_params)


class Dense:
    def __init__(self, W, b, act):
        self.W = W
        self.b = b
        self.act = act

    def __call__(self, x):
        return self.act(x @ self.W + self.b)


class Net:
    def __init__(self, layers, scale):
        self.layers = layers
        self.scale = scale

    def forward(self, X):
        h = X
        for layer in self.layers:
            h = layer(h)
        return self.scale * h

    def loss(self, X, y):
        return np.mean((self.forward(X)[:, 0] - y) ** 2)


def make_net():
    r = rng(201)
    return Net([Dense(r.standard_normal((3, 4)), r.standard_normal(4), np.tanh),
                Dense(r.standard_normal((4, 1)), r.standard_normal(1), softplus)], 1.5)


def net_bound_method_args():
    r = rng(202)
    return (r.standard_normal((4, 3)), r.standard_normal(4))


add(make_net().loss, "py", net_bound_method_args, name="bound_method_wrt_X")


def net_unbound_args():
    r = rng(202)
    return (make_net(), r.standard_normal((4, 3)), r.standard_normal(4))


add(Net.loss, "py", net_unbound_args, name="unbound_method_wrt_model")


@dataclasses.dataclass
class LinearParams:
    w: np.ndarray
    b: float


def dataclass_linear(p, X, y):
    r = X @ p.w + p.b - y
    return 0.5 * np.sum(r ** 2)


add(dataclass_linear, "py",
    lambda: (LinearParams(rng(203).standard_normal(3), 0.4), rng(204).standard_normal((5, 3)),
             rng(205).standard_normal(5)))


class Gaussian(NamedTuple):
    mu: np.ndarray
    log_sigma: np.ndarray


def namedtuple_gaussian_nll(theta, x):
    mu, log_sigma = theta
    z = (x - mu) / np.exp(log_sigma)
    return np.sum(0.5 * z ** 2 + log_sigma)


add(namedtuple_gaussian_nll, "py",
    lambda: (Gaussian(rng(206).standard_normal(3), rng(207).standard_normal(3) * 0.3),
             rng(208).standard_normal(3)))


def glm_loss(w, X, y, link=expit):
    p = link(X @ w)
    return -np.sum(y * np.log(p) + (1.0 - y) * np.log1p(-p))


add(glm_loss, "py",
    lambda: (rng(209).standard_normal(3), rng(210).standard_normal((6, 3)),
             np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])))


def apply_twice(fn, x):
    return fn(fn(x))


def callable_to_helper(x):
    return np.sum(apply_twice(np.sin, x)) + np.sum(apply_twice(softplus, x))


add(callable_to_helper, "py", lambda: (rng(211).standard_normal(4),))


def robust_loss(r, rho):
    return np.sum(rho(r))


def lambda_to_helper(w, X, y):
    c = 1.5
    return robust_loss(X @ w - y, lambda r: c ** 2 * np.log1p((r / c) ** 2))


add(lambda_to_helper, "py",
    lambda: (rng(212).standard_normal(2), rng(213).standard_normal((5, 2)), rng(214).standard_normal(5)))


def lambda_assigned_inside(x):
    sq = lambda v: v * v
    cube = lambda v: sq(v) * v
    return np.sum(sq(x) + 0.1 * cube(x))


add(lambda_assigned_inside, "py", lambda: (rng(215).standard_normal(4),))


lambda_direct = lambda w: np.sum(np.tanh(w) ** 2) + np.sum(w) * 0.5

add(lambda_direct, "py", lambda: (rng(216).standard_normal(4),), name="lambda_direct", gradgrad=True)


def list_comprehension_l2(params, X):
    reg = sum([np.sum(W ** 2) for W in params])
    out = X
    for W in params:
        out = np.tanh(out @ W)
    return np.sum(out) + 0.01 * reg


add(list_comprehension_l2, "py",
    lambda: ([rng(217).standard_normal((3, 3)), rng(218).standard_normal((3, 2))], rng(219).standard_normal((2, 3))))


def dict_comprehension_penalty(params):
    norms = {k: np.sum(v ** 2) for k, v in params.items()}
    return sum(norms.values()) + norms["a"]


add(dict_comprehension_penalty, "py",
    lambda: ({"a": rng(220).standard_normal(3), "b": rng(221).standard_normal(2)},))


def dict_comprehension_constant_keys(x):
    terms = {k: np.sum(x ** p) for k, p in (("sq", 2), ("cube", 3))}
    return terms["sq"] + 0.5 * terms["cube"]


add(dict_comprehension_constant_keys, "py", lambda: (rng(222).standard_normal(4),))


def set_comprehension_indices(x):
    idx = sorted({i % 3 for i in range(7)})
    return sum(x[i] ** 2 for i in idx)


add(set_comprehension_indices, "py", lambda: (rng(223).standard_normal(4),))


def masked_generator_sum(w, x, mask):
    n = len(w)
    return sum(w[i] * x[i] ** 2 for i in range(n) if mask[i])


add(masked_generator_sum, "py",
    lambda: (rng(224).standard_normal(5), rng(225).standard_normal(5), [True, False, True, True, False]),
    wrt=(0, 1))


def guards_all_any(xs, scale):
    if any(x.ndim != 1 for x in xs):
        raise ValueError("expected vectors")
    assert all(x.shape == xs[0].shape for x in xs), "shapes differ"
    return scale * sum(np.sum(np.sin(x)) for x in xs)


add(guards_all_any, "py",
    lambda: ([rng(226).standard_normal(3), rng(227).standard_normal(3)], 2.0), wrt=(0, 1))


def tuple_genexp_stack(xs):
    parts = tuple(np.exp(x) for x in xs)
    return np.sum(np.concatenate(parts) ** 2)


add(tuple_genexp_stack, "py", lambda: ((rng(228).standard_normal(2), rng(229).standard_normal(3)),))


def total(*terms):
    out = 0.0
    for t in terms:
        out = out + t
    return out


def weighted(x, **opts):
    return opts.get("scale", 1.0) * np.sum(x ** 2) + opts.get("shift", 0.0)


def varargs_kwargs_helpers(x, y):
    return total(np.sum(x * y), np.sum(np.sin(x)), 2.0) + weighted(x, scale=0.5) + weighted(y)


add(varargs_kwargs_helpers, "py", lambda: (rng(230).standard_normal(3), rng(231).standard_normal(3)),
    wrt=(0, 1))


def star_call(parts):
    return total(*parts) ** 2


def star_call_list(x):
    pieces = [np.sum(x), np.sum(x ** 2), np.sum(np.cos(x))]
    return star_call(pieces)


add(star_call_list, "py", lambda: (rng(232).standard_normal(3),))


def varargs_main(*xs):
    return sum(np.sum(x ** 2) for x in xs)


add(varargs_main, "py", lambda: (rng(233).standard_normal(3), rng(234).standard_normal(2)), wrt=(0, 1))


def kwargs_main(x, **cfg):
    return cfg["lam"] * np.sum(x ** 2) + np.sum(np.sin(x))


add(kwargs_main, "py", lambda: (rng(235).standard_normal(3),), kwargs={"lam": 0.4})


def loss_with_aux(w, X, y):
    r = X @ w - y
    loss = np.mean(r ** 2)
    return loss, {"residual": r, "max": np.max(np.abs(r))}


add(loss_with_aux, "py",
    lambda: (rng(236).standard_normal(2), rng(237).standard_normal((4, 2)), rng(238).standard_normal(4)),
    aux=True, options={"has_aux": True})


class Timer:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def with_user_context_manager(x):
    with Timer():
        y = np.sin(x) * x
    return np.sum(y)


add(with_user_context_manager, "py", lambda: (rng(239).standard_normal(3),))


def with_nullcontext(x):
    with contextlib.nullcontext():
        y = np.exp(-x ** 2)
    return np.sum(y)


add(with_nullcontext, "py", lambda: (rng(240).standard_normal(3),))


def config_keyerror(w, cfg):
    try:
        lam = cfg["lam"]
    except KeyError:
        lam = 0.1
    return np.sum(w ** 2) * lam + np.sum(np.cos(w))


add(config_keyerror, "py", lambda: (rng(241).standard_normal(3), {"other": 1}))


def penalized(w, X, y, lam=1.0, p=2):
    return np.sum((X @ w - y) ** 2) + lam * np.sum(np.abs(w) ** p)


add(functools.partial(penalized, lam=0.3, p=2), "py",
    lambda: (rng(242).standard_normal(3), rng(243).standard_normal((4, 3)), rng(244).standard_normal(4)),
    name="partial_with_keywords")


def scaled_cubic(c, w):
    return c * np.sum(w ** 3) + np.sum(np.sin(w))


add(functools.partial(scaled_cubic, 0.5), "py", lambda: (rng(270).standard_normal(3),),
    name="partial_positional")


def kwonly_penalty(w, *, lam=1.0, power=3):
    return lam * np.sum(np.abs(w) ** power) + np.sum(np.cos(w))


add(functools.partial(kwonly_penalty, lam=0.25), "py", lambda: (rng(273).uniform(0.2, 1.5, 3),),
    name="partial_keyword_only", gradgrad=True)


def scalar_energy(x, k=1.0):
    return k * x ** 4 + math.sin(x)


add(functools.partial(scalar_energy, k=0.5), "py", lambda: (0.7,), name="partial_scalar", gradgrad=True)


def model_energy(x, stiffness=1.0):
    return scalar_energy_sum(x, stiffness)


def scalar_energy_sum(x, k):
    return k * np.sum(x ** 4)


add(functools.partial(model_energy, stiffness=2.0), "py", lambda: (rng(274).standard_normal(3),),
    name="partial_through_helper", gradgrad=True)


def argnums_alias(w, b, x):
    return np.sum(np.tanh(w * x + b) ** 2)


add(argnums_alias, "py", lambda: (rng(271).standard_normal(3), 0.2, rng(272).standard_normal(3)),
    wrt=(0, 1), options={"argnums": (0, 1)})


def partial_inside(w, X):
    f = functools.partial(penalized, lam=0.5)
    return f(w, X, np.zeros(X.shape[0]))


add(partial_inside, "py", lambda: (rng(245).standard_normal(3), rng(246).standard_normal((4, 3))))


def nested_def_closure(x, temperature):
    def energy(v):
        return np.sum(v ** 2) / temperature

    def free_energy(v):
        return -temperature * np.log(np.sum(np.exp(-energy(v) * v)))

    return free_energy(x)


add(nested_def_closure, "py", lambda: (rng(247).standard_normal(3), 1.7), wrt=(0, 1))


def python_extras(x, *, mode="l2", eps=1e-3):
    import math as m
    print(f"loss called with {x.shape}")
    if (n := x.size) > 2:
        scale = 1.0 / n
    else:
        scale = 1.0
    match mode:
        case "l1" | "abs":
            r = np.sum(np.sqrt(x ** 2 + eps))
        case _:
            r = np.sum(x ** 2)
    if 0 < scale <= 1:
        r = r * scale
    return r * m.pi


add(python_extras, "py", lambda: (rng(248).standard_normal(4),))


def errstate_log(x):
    with np.errstate(divide="ignore"):
        y = np.log(x)
    return np.sum(np.where(x > 0.5, y, 0.0) * x)


add(errstate_log, "py", lambda: (np.array([0.2, 0.7, 1.5, 3.0]),), hess=False)


def zip_enumerate_items(layers, x):
    total_ = 0.0
    for i, (name, W) in enumerate(layers.items()):
        total_ = total_ + (i + 1) * np.sum(np.tanh(W @ x))
    for a, b in zip(layers["a"], layers["b"]):
        total_ = total_ + np.sum(a * b)
    return total_


add(zip_enumerate_items, "py",
    lambda: ({"a": rng(249).standard_normal((2, 3)), "b": rng(250).standard_normal((2, 3))},
             rng(251).standard_normal(3)), wrt=(0, 1))


class Quadratic:
    def __init__(self, A, c):
        self.A = A
        self.c = c

    @property
    def sym(self):
        return 0.5 * (self.A + self.A.T)

    def energy(self, x):
        return 0.5 * x @ self.sym @ x + self.c @ x

    def __call__(self, x):
        return self.energy(x) + self.barrier(x)

    def barrier(self, x):
        return -np.sum(np.log(2.0 - x ** 2))


def object_property_call(q, x):
    return q(x)


add(object_property_call, "py",
    lambda: (Quadratic(spd(3, 252), rng(253).standard_normal(3)), rng(254).uniform(-0.8, 0.8, 3)), wrt=(0, 1))


def container_slicing_unpack(layers, x):
    (W1, b1), rest = layers[0], layers[1:]
    h = np.tanh(W1 @ x + b1)
    for W, b in rest:
        h = np.tanh(W @ h + b)
    if isinstance(layers, list) and len(layers) == 3:
        h = h * 2.0
    return np.sum(h)


add(container_slicing_unpack, "py",
    lambda: ([(rng(255).standard_normal((3, 2)), rng(256).standard_normal(3)),
              (rng(257).standard_normal((3, 3)), rng(258).standard_normal(3)),
              (rng(259).standard_normal((2, 3)), rng(260).standard_normal(2))], rng(261).standard_normal(2)))


def int_leaves_in_config(params, X):
    h = X
    for _ in range(params["depth"]):
        h = np.tanh(h @ params["W"])
    return np.sum(h) * params["gain"]


add(int_leaves_in_config, "py",
    lambda: ({"W": rng(262).standard_normal((3, 3)) * 0.5, "depth": 2, "gain": 1.5, "name": "net"},
             rng(263).standard_normal((2, 3))))


GLOBAL_SCALE = 0.7


def global_read_del(x):
    global GLOBAL_SCALE
    tmp = x * GLOBAL_SCALE
    y = np.sin(tmp)
    del tmp
    return np.sum(y ** 2)


add(global_read_del, "py", lambda: (rng(264).standard_normal(3),))


def default_reducer(x, reduce=np.mean):
    return reduce(np.exp(x))


add(default_reducer, "py", lambda: (rng(265).standard_normal(4),))


def activation_from_table(x, name="gelu"):
    acts = {"relu": relu, "softplus": softplus, "tanh": np.tanh}
    act = acts.get(name, softplus)
    return np.sum(act(x))


add(activation_from_table, "py", lambda: (rng(266).standard_normal(4),))


# =====================================================================================
# issue 16: one model, several spellings (each group has one args builder)
# =====================================================================================

def logreg_args():
    r = rng(300)
    X = r.standard_normal((7, 3))
    return (r.standard_normal(3), 0.3, X, (r.uniform(size=7) > 0.5).astype(float))


def logreg_at_mean(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logreg_dot_sum_n(w, b, X, y):
    z = np.dot(X, w) + b
    nll = np.logaddexp(0.0, z) - y * z
    return np.sum(nll) / X.shape[0]


def logreg_method_dot(w, b, X, y):
    z = X.dot(w) + np.asarray(b)
    s = expit(z)
    return -(y * np.log(s) + (1.0 - y) * np.log1p(-s)).sum() / len(y)


def logreg_matmul_loop(w, b, X, y):
    total_ = 0.0
    for i in range(X.shape[0]):
        zi = np.matmul(X[i], w) + b
        total_ = total_ + np.log1p(np.exp(-zi)) + (1.0 - y[i]) * zi
    return total_ / X.shape[0]


def logreg_rows(w, b, X, y):
    terms = []
    for xi, yi in zip(X, y):
        zi = xi @ w + b
        terms.append(softplus(zi) - yi * zi)
    return np.mean(np.array(terms))


for _f in (logreg_at_mean, logreg_dot_sum_n, logreg_method_dot, logreg_matmul_loop, logreg_rows):
    add(_f, "spell", logreg_args, wrt=(0, 1), group="logreg")


def mlp_args():
    r = rng(301)
    return (r.standard_normal((3, 5)) * 0.7, r.standard_normal(5) * 0.1, r.standard_normal((5, 2)) * 0.7,
            r.standard_normal((6, 3)), r.standard_normal((6, 2)))


def mlp_at(W1, b1, W2, X, Y):
    H = np.tanh(X @ W1 + b1)
    return np.mean((H @ W2 - Y) ** 2)


def mlp_np_dot(W1, b1, W2, X, Y):
    H = np.tanh(np.dot(X, W1) + b1)
    E = np.dot(H, W2) - Y
    return np.sum(E * E) / E.size


def dense_layer(x, W, b=0.0, act=None):
    z = x.dot(W) + b
    if act is not None:
        z = act(z)
    return z


def mlp_helper_layers(W1, b1, W2, X, Y):
    H = dense_layer(X, W1, b1, act=np.tanh)
    out = dense_layer(H, W2)
    return np.square(out - Y).mean()


def mlp_per_sample(W1, b1, W2, X, Y):
    s = 0.0
    for n in range(X.shape[0]):
        h = np.tanh(np.matmul(X[n], W1) + b1)
        s = s + np.sum((np.matmul(h, W2) - Y[n]) ** 2)
    return s / Y.size


def mlp_einsum(W1, b1, W2, X, Y):
    H = np.tanh(np.einsum("ni,ij->nj", X, W1) + b1[None, :])
    return np.mean(np.square(np.einsum("nj,jk->nk", H, W2) - Y))


for _f in (mlp_at, mlp_np_dot, mlp_helper_layers, mlp_per_sample, mlp_einsum):
    add(_f, "spell", mlp_args, wrt=(0, 1, 2), group="mlp")


def rnn_args():
    r = rng(302)
    return (r.standard_normal((2, 3)) * 0.6, r.standard_normal((3, 3)) * 0.5, r.standard_normal((4, 2)),
            r.standard_normal(3))


def rnn_range_index(Wx, Wh, xs, target):
    h = np.zeros(3)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum((h - target) ** 2)


def rnn_iterate_dot(Wx, Wh, xs, target):
    h = np.zeros(Wh.shape[0])
    for x_t in xs:
        h = np.tanh(np.dot(x_t, Wx) + np.dot(h, Wh))
    d = h - target
    return np.dot(d, d)


def rnn_states_list(Wx, Wh, xs, target):
    hs = [np.zeros(3)]
    for t in range(len(xs)):
        hs.append(np.tanh(Wx.T.dot(xs[t]) + Wh.T.dot(hs[-1])))
    return np.sum(np.square(hs[-1] - target))


def rnn_while(Wx, Wh, xs, target):
    h = np.zeros(3)
    t = 0
    while t < xs.shape[0]:
        pre = np.matmul(xs[t], Wx) + np.matmul(h, Wh)
        h = (np.exp(2.0 * pre) - 1.0) / (np.exp(2.0 * pre) + 1.0)
        t += 1
    return np.sum((h - target) ** 2)


for _f in (rnn_range_index, rnn_iterate_dot, rnn_states_list, rnn_while):
    add(_f, "spell", rnn_args, wrt=(0, 1), group="rnn")


def ce_args():
    r = rng(303)
    return (r.standard_normal((3, 4)), r.standard_normal((5, 3)), np.array([0, 2, 1, 3, 2]))


def ce_explicit(W, X, labels):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    P = np.exp(Z) / np.sum(np.exp(Z), axis=1, keepdims=True)
    return -np.mean(np.log(P[np.arange(len(labels)), labels]))


def ce_logsumexp(W, X, labels):
    Z = np.dot(X, W)
    lse = logsumexp(Z, axis=1)
    picked = np.take_along_axis(Z, labels[:, None], axis=1)[:, 0]
    return np.sum(lse - picked) / X.shape[0]


def ce_onehot(W, X, labels):
    Y = np.eye(W.shape[1])[labels]
    logp = scipy.special.log_softmax(X.dot(W), axis=-1)
    return -(Y * logp).sum() / len(labels)


def ce_loop_rows(W, X, labels):
    loss = 0.0
    for i in range(X.shape[0]):
        z = np.matmul(X[i], W)
        m = np.max(z)
        loss = loss + m + np.log(np.sum(np.exp(z - m))) - z[labels[i]]
    return loss / X.shape[0]


for _f in (ce_explicit, ce_logsumexp, ce_onehot, ce_loop_rows):
    add(_f, "spell", ce_args, group="softmax_ce")


# =====================================================================================
# issue 13: container outputs (jacobian / vjp / jvp follow the output's structure)
# =====================================================================================

Stats = namedtuple("Stats", ["mean", "spread"])


def dict_output(x):
    return {"energy": np.sum(x ** 2), "feat": np.tanh(x)}


add(dict_output, "out", lambda: (rng(400).standard_normal(3),), out="tree", hess=False)


def namedtuple_output(x):
    m = np.mean(x)
    return Stats(m, np.sqrt(np.mean((x - m) ** 2) + 1.0))


add(namedtuple_output, "out", lambda: (rng(401).standard_normal(4),), out="tree", hess=False)


def tuple_output(x, y):
    return np.sin(x) * y, np.sum(x * y)


add(tuple_output, "out", lambda: (rng(402).standard_normal(3), rng(403).standard_normal(3)),
    out="tree", hess=False)


def vector_output_residuals(theta, t):
    # a residual vector as given to a least-squares solver (its Jacobian)
    return theta[0] * np.exp(-theta[1] * t) + theta[2] - np.cos(t)


add(vector_output_residuals, "out", lambda: (np.array([1.2, 0.5, -0.1]), np.linspace(0, 2, 5)),
    out="array", hess=False)


# =====================================================================================
# things srcad should refuse, with the file and line of the user's code ("# <- error")
# =====================================================================================

@dataclasses.dataclass
class Refusal:
    name: str
    fn: Callable[..., Any]
    args: Callable[[], tuple]
    error: str          # the srcad.errors class name expected
    located: bool = True  # the message must give this file and the marked line


REFUSALS: dict[str, Refusal] = {}


def refuse(fn, args, error, located=True, name=None):
    name = name or fn.__name__
    REFUSALS[name] = Refusal(name, fn, args, error, located)


def set_literal_of_arrays(x, y):
    s = {x.tobytes(), y.tobytes()}  # <- error
    return np.sum(x * y) * len(s)


refuse(set_literal_of_arrays, lambda: (np.ones(3), np.ones(3) * 2.0), "SrcadSyntaxError")


def takes_a_set(s):
    return sum(v ** 2 for v in s)  # <- error


refuse(takes_a_set, lambda: ({1.5, 2.5},), "SrcadError", located=False)


_ns: dict = {}
exec("def exec_defined(x):\n    return (x ** 2).sum()\n", {"np": np}, _ns)
refuse(_ns["exec_defined"], lambda: (np.ones(3),), "SourceUnavailableError", located=False,
       name="no_source_exec")


def library_without_rule(p):
    import scipy.stats
    return scipy.stats.entropy(p)  # <- error


refuse(library_without_rule, lambda: (np.array([0.2, 0.3, 0.5]),), "NoRuleError")


def lambda_to_map(xs):
    return sum(map(lambda v: np.sum(v ** 2), xs))  # <- error


refuse(lambda_to_map, lambda: ([np.ones(2), np.ones(3)],), "SrcadError")


def dict_written_into(params, x):
    params["W"] = params["W"] * 2.0  # <- error
    return np.sum(params["W"] * x)


refuse(dict_written_into, lambda: ({"W": np.ones(3)}, np.ones(3)), "SrcadSyntaxError")


def runtime_index(layers, x, i):
    return np.sum(layers[i] * x)  # <- error


refuse(runtime_index, lambda: ({0: np.ones(3), 1: np.ones(3)}, np.ones(3), 1), "SrcadError")


def runtime_key(params, x, key):
    return np.sum(params[key] * x)


# a str argument is a constant of the build (one derivative per value): params[key] is read
add(runtime_key, "py", lambda: ({"a": rng(267).standard_normal(3), "b": 0.5},
                                rng(268).standard_normal(3), "a"))


def alias_write(x):
    y = x * 2.0
    z = y
    y[0] = 1.0  # <- error
    return np.sum(z * x)


refuse(alias_write, lambda: (np.ones(3),), "SrcadError")


def generator_function_used(x):
    def gen():
        yield x  # <- error
    return np.sum(next(gen()))


refuse(generator_function_used, lambda: (np.ones(3),), "SrcadError")


# =====================================================================================
# issue 14: the keyword arguments and shapes of the same functions (category "kw")
# =====================================================================================

def kw_gradient_edge_order(x):
    return np.sum(np.gradient(x, 0.3, edge_order=2) ** 2)


add(kw_gradient_edge_order, "kw", lambda: (rng(500).standard_normal(6),), hess=False)


def kw_gradient_coordinates(U):
    t = np.array([0.0, 0.5, 1.5, 1.75, 3.0])
    return np.sum(np.gradient(U, t, axis=0) * np.sin(U))


add(kw_gradient_coordinates, "kw", lambda: (rng(501).standard_normal((5, 2)),), hess=False)


def kw_diff_append_array(X):
    return np.sum(np.diff(X, n=2, axis=1, prepend=np.zeros((3, 1)), append=X[:, :1]) ** 2)


add(kw_diff_append_array, "kw", lambda: (rng(502).standard_normal((3, 4)),), hess=False)


def kw_cross_2d_vectors(a, b):
    return np.sum(np.cross(a, b) ** 2)


add(kw_cross_2d_vectors, "kw", lambda: (rng(503).standard_normal((4, 2)), rng(504).standard_normal((4, 2))),
    wrt=(0, 1), hess=False)


def kw_cross_broadcast(a, b):
    return np.sum(np.cross(a, b) * np.arange(12.0).reshape(4, 3))


add(kw_cross_broadcast, "kw", lambda: (rng(505).standard_normal(3), rng(506).standard_normal((4, 3))),
    wrt=(0, 1), hess=False)


def kw_median_axis_keepdims(X):
    m = np.median(X, axis=0, keepdims=True)
    return np.sum((X - m) ** 2 * np.arange(1.0, 4.0))


add(kw_median_axis_keepdims, "kw", lambda: (rng(507).standard_normal((4, 3)),), hess=False)


def kw_quantile_methods(x):
    return (np.quantile(x, 0.3, method="midpoint") + np.quantile(x, 0.6, method="nearest")
            + 2.0 * np.quantile(x, 0.45, method="hazen") + np.quantile(x, 0.7, method="lower"))


add(kw_quantile_methods, "kw", lambda: (np.array([0.3, -1.2, 2.2, 0.9, -0.4, 1.6, 0.05]),), hess=False)


def kw_quantile_in_q(q, x):
    return np.sum(np.quantile(x, q) ** 2)


add(kw_quantile_in_q, "kw", lambda: (np.array([0.33, 0.71]), np.array([0.3, -1.2, 2.2, 0.9, -0.4, 1.6])),
    wrt=(0, 1), hess=False)


def kw_percentile_axis1(X):
    return np.sum(np.percentile(X, np.array([10.0, 90.0]), axis=1) ** 2)


add(kw_percentile_axis1, "kw", lambda: (rng(508).standard_normal((2, 5)),), hess=False)


def kw_nanmedian_axis(X):
    Y = np.where(X > 1.2, np.nan, X)
    return np.sum(np.nanmedian(Y, axis=1) ** 2) + np.sum(np.nanmean(Y, axis=0))


add(kw_nanmedian_axis, "kw", lambda: (rng(509).standard_normal((3, 5)),), hess=False)


def kw_nanstd_ddof(X):
    Y = np.where(X < -1.0, np.nan, X)
    return np.sum(np.nanstd(Y, axis=0, ddof=1)) + np.nanvar(Y, ddof=1) + np.nanmax(Y) + np.nanmin(Y)


add(kw_nanstd_ddof, "kw", lambda: (rng(510).standard_normal((4, 3)),), hess=False)


def kw_interp_left_right(fp, t):
    xp = np.array([0.0, 0.5, 1.0, 2.0])
    return np.sum(np.interp(t, xp, fp, left=-1.0, right=fp[0]) ** 2)


add(kw_interp_left_right, "kw",
    lambda: (np.array([0.2, 1.0, -0.5, 0.7]), np.array([-0.5, 0.2, 0.8, 1.4, 2.5])), wrt=(0, 1), hess=False)


def kw_interp_period(fp):
    xp = np.array([0.0, 1.0, 2.0, 3.0])
    return np.sum(np.interp(np.array([-0.5, 2.5, 3.7, 5.2]), xp, fp, period=4.0) ** 2)


add(kw_interp_period, "kw", lambda: (np.array([0.2, 1.0, -0.5, 0.7]),), hess=False)


def kw_convolve_full_long_kernel(x, k):
    return np.sum(np.convolve(x, k) ** 2) + np.sum(np.convolve(x, k, mode="valid") ** 2)


add(kw_convolve_full_long_kernel, "kw", lambda: (rng(511).standard_normal(3), rng(512).standard_normal(5)),
    wrt=(0, 1), hess=False)


def kw_correlate_same(x, k):
    return np.sum(np.correlate(x, k, mode="same") * np.arange(5.0))


add(kw_correlate_same, "kw", lambda: (rng(513).standard_normal(5), rng(514).standard_normal(4)),
    wrt=(0, 1), hess=False)


def kw_polyval_matrix_x(c, X):
    return np.sum(np.polyval(c, X) ** 2)


add(kw_polyval_matrix_x, "kw", lambda: (rng(515).standard_normal(3), rng(516).standard_normal((2, 3))),
    wrt=(0, 1), hess=False)


def kw_polyfit_weighted(y, x):
    c = np.polyfit(x, y, 1, w=np.array([1.0, 2.0, 0.5, 1.0, 3.0]))
    return np.sum(c ** 2)


add(kw_polyfit_weighted, "kw", lambda: (rng(517).standard_normal(5), np.linspace(0, 1, 5)),
    wrt=(0, 1), hess=False)


def kw_polyfit_2d_y(Y, x):
    return np.sum(np.polyfit(x, Y, 2) ** 2)


add(kw_polyfit_2d_y, "kw", lambda: (rng(518).standard_normal((6, 2)), np.linspace(0, 1, 6)), hess=False)


def kw_cov_ddof_bias(X):
    return np.sum(np.cov(X, ddof=0) ** 2) + np.sum(np.cov(X, bias=True)) + np.sum(np.cov(X[0], X[1]))


add(kw_cov_ddof_bias, "kw", lambda: (rng(519).standard_normal((2, 5)),), hess=False)


def kw_cov_fweights(X):
    return np.sum(np.cov(X, fweights=np.array([1, 2, 1, 3])) ** 2)


add(kw_cov_fweights, "kw", lambda: (rng(520).standard_normal((2, 4)),), hess=False)


def kw_corrcoef_matrix(X):
    R = np.corrcoef(X)
    return np.sum(np.triu(R, 1) ** 2)


add(kw_corrcoef_matrix, "kw", lambda: (rng(521).standard_normal((3, 6)),), hess=False)


def kw_einsum_ellipsis_trace(A, B):
    return (np.sum(np.einsum("...ij,...jk->...ik", A, B) ** 2) + np.einsum("ii->", A[0])
            + np.sum(np.einsum("ij->j", A[1]) * np.einsum("bii->bi", A)[0]))


add(kw_einsum_ellipsis_trace, "kw", lambda: (rng(522).standard_normal((2, 3, 3)), rng(523).standard_normal((2, 3, 2))),
    wrt=(0, 1), hess=False)


def kw_einsum_repeated_operand(x):
    return np.einsum("i,i,i->", x, x, x) + np.einsum("i,j->", x, x)


add(kw_einsum_repeated_operand, "kw", lambda: (rng(524).standard_normal(4),), hess=False)


def kw_svd_batched(A):
    s = np.linalg.svd(A, compute_uv=False)
    return np.sum(s ** 2 * np.array([1.0, 3.0])) + np.sum(s[:, 0])


add(kw_svd_batched, "kw", lambda: (rng(525).standard_normal((2, 3, 2)),), hess=False)


def kw_svd_tall_vectors(A):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return np.sum((U * s) @ Vt * np.arange(8.0).reshape(4, 2)) + np.sum(np.abs(Vt[0]))


add(kw_svd_tall_vectors, "kw", lambda: (rng(526).standard_normal((4, 2)),), hess=False)


def kw_qr_complete(A):
    Q, R = np.linalg.qr(A, mode="complete")
    return np.sum(R ** 2 * 0.5) + np.sum((Q @ R - A) ** 2) + np.sum(np.abs(R[0]))


add(kw_qr_complete, "kw", lambda: (rng(527).standard_normal((4, 3)),), hess=False)


def kw_qr_reduced_wide(A):
    Q, R = np.linalg.qr(A)
    return np.sum(R[0] * np.arange(1.0, 5.0)) * np.sign(R[0, 0])


add(kw_qr_reduced_wide, "kw", lambda: (rng(528).standard_normal((3, 4)),), hess=False)


def kw_eigh_upper(A):
    w, V = np.linalg.eigh(A, UPLO="U")
    return np.sum(w * np.array([1.0, -1.0, 2.0]))


add(kw_eigh_upper, "kw", lambda: (rng(529).standard_normal((3, 3)),), hess=False)


def kw_eigh_batched_vectors(A):
    S = A + np.swapaxes(A, -1, -2)
    w, V = np.linalg.eigh(S)
    return np.sum(w[:, -1]) + np.sum(V[..., 0] ** 2 * np.array([1.0, 2.0, 3.0]))


add(kw_eigh_batched_vectors, "kw", lambda: (rng(530).standard_normal((2, 3, 3)),), hess=False)


def kw_eig_real(A):
    w = np.linalg.eigvals(A @ A.T + np.diag([1.0, 2.0, 3.0]))
    return np.sum(np.real(w) ** 2)


add(kw_eig_real, "kw", lambda: (rng(531).standard_normal((3, 3)),), hess=False)


def kw_lstsq_matrix_rhs(X, Y):
    B = np.linalg.lstsq(X, Y, rcond=None)[0]
    return np.sum(B ** 2)


add(kw_lstsq_matrix_rhs, "kw", lambda: (rng(532).standard_normal((5, 2)), rng(533).standard_normal((5, 3))),
    wrt=(0, 1), hess=False)


def kw_lstsq_underdetermined(X, y):
    return np.sum(np.linalg.lstsq(X, y, rcond=None)[0] ** 2)


add(kw_lstsq_underdetermined, "kw", lambda: (rng(534).standard_normal((2, 4)), rng(535).standard_normal(2)),
    wrt=(0, 1), hess=False)


def kw_matrix_power_neg(A):
    return np.sum(np.linalg.matrix_power(A, -2)) + np.sum(np.linalg.matrix_power(A, 0)) + np.sum(
        np.linalg.matrix_power(A, 1))


add(kw_matrix_power_neg, "kw", lambda: (spd(3, 536),), hess=False)


def kw_norm_negative_ords(A):
    return (np.linalg.norm(A, -2) + np.linalg.norm(A, 1) + np.linalg.norm(A, -1)
            + np.linalg.norm(A, np.inf) + np.linalg.norm(A, -np.inf))


add(kw_norm_negative_ords, "kw", lambda: (rng(537).standard_normal((3, 3)) + np.diag([3.0, 1.0, -2.0]),), hess=False)


def kw_norm_batched_axes(A):
    return np.sum(np.linalg.norm(A, "nuc", axis=(1, 2))) + np.sum(np.linalg.norm(A, 2, axis=(1, 2))) + np.sum(
        np.linalg.norm(A, axis=(0, 2)))


add(kw_norm_batched_axes, "kw", lambda: (rng(538).standard_normal((2, 3, 2)),), hess=False)


def kw_vector_norm_ords(x):
    return np.linalg.norm(x, -1) + np.linalg.norm(x, 0.5) + np.linalg.norm(x, -np.inf) + np.linalg.norm(x, ord=4)


add(kw_vector_norm_ords, "kw", lambda: (np.array([0.4, -1.3, 2.0, 0.8]),), hess=False)


def kw_slogdet_batched(A):
    sign, logdet = np.linalg.slogdet(A)
    return np.sum(logdet * np.array([1.0, 2.0])) + np.sum(np.linalg.det(A))


add(kw_slogdet_batched, "kw", lambda: (np.stack([spd(3, 539), -spd(3, 540)]),), hess=False)


def kw_fft_family(x):
    a = np.sum(np.abs(np.fft.rfft(x, n=6, norm="forward")) ** 2)
    b = np.sum(np.fft.irfft(np.fft.rfft(x), n=9) ** 2)
    c = np.sum(np.fft.hfft(x[:4]) ** 2) + np.sum(np.abs(np.fft.ihfft(x)) ** 2)
    d = np.sum(np.real(np.fft.ifftshift(np.fft.fft(x, norm="ortho"))) * np.arange(x.size))
    return a + b + c + d


add(kw_fft_family, "kw", lambda: (rng(541).standard_normal(7),), hess=False)


def kw_fftn_axes(U):
    F = np.fft.fftn(U, s=(4, 3), axes=(0, 2), norm="ortho")
    G = np.fft.rfftn(U, axes=(1, 2))
    H2 = np.fft.irfftn(G, s=U.shape[1:], axes=(1, 2))
    return np.sum(np.abs(F) ** 2) + np.sum(H2 * U) + np.sum(np.abs(np.fft.ifft2(U[0])))


add(kw_fftn_axes, "kw", lambda: (rng(542).standard_normal((3, 2, 4)),), hess=False)


def kw_r_constants(x):
    return np.sum(np.r_[0.0, np.array([1.0, 2.0])] * x[:3]) + np.sum(np.r_[x, x] ** 2)


add(kw_r_constants, "kw", lambda: (rng(543).standard_normal(3),), hess=False)


def kw_piecewise_scalars(x):
    y = np.piecewise(x, [x < 0.0, x > 1.0], [0.0, 1.0, lambda v: v ** 2])
    return np.sum(y * x)


add(kw_piecewise_scalars, "kw", lambda: (np.array([-0.5, 0.3, 0.7, 1.4, 2.0]),), hess=False)


def kw_logsumexp_b_broadcast(Z):
    return np.sum(logsumexp(Z, axis=0, b=np.array([1.0, 0.5, 2.0]))) + logsumexp(Z, b=0.3)


add(kw_logsumexp_b_broadcast, "kw", lambda: (rng(544).standard_normal((2, 3)),), hess=False)


def kw_logsumexp_b_wrt(Z, B):
    return np.sum(logsumexp(Z, axis=1, b=B, keepdims=True) ** 2)


add(kw_logsumexp_b_wrt, "kw", lambda: (rng(545).standard_normal((2, 3)), rng(546).uniform(0.5, 2, (2, 3))),
    wrt=(0, 1), hess=False)


def kw_softmax_axes(Z):
    return (np.sum(scipy.special.softmax(Z, axis=0) * np.arange(6.0).reshape(2, 3))
            + np.sum(scipy.special.log_softmax(Z) * np.arange(6.0).reshape(2, 3))
            + np.sum(scipy.special.softmax(Z) ** 2))


add(kw_softmax_axes, "kw", lambda: (rng(547).standard_normal((2, 3)),), hess=False)


def kw_solve_triangular_trans(U, B):
    R = np.triu(U) + 3.0 * np.eye(3)
    X1 = scipy.linalg.solve_triangular(R, B, trans="T")
    X2 = scipy.linalg.solve_triangular(R, B, lower=False, unit_diagonal=True)
    X3 = scipy.linalg.solve_triangular(R.T, B, lower=True, trans=1)
    return np.sum(X1 ** 2) + np.sum(X2 * X3)


add(kw_solve_triangular_trans, "kw", lambda: (rng(548).standard_normal((3, 3)), rng(549).standard_normal((3, 2))),
    wrt=(0, 1), hess=False)


def kw_cho_upper(A, b):
    c, low = scipy.linalg.cho_factor(A @ A.T + np.eye(3))
    return np.sum(scipy.linalg.cho_solve((c, low), b) ** 2)


add(kw_cho_upper, "kw", lambda: (rng(550).standard_normal((3, 3)), rng(551).standard_normal(3)),
    wrt=(0, 1), hess=False)


def kw_lu_solve_trans(A, b):
    lu_piv = scipy.linalg.lu_factor(A)
    return np.sum(scipy.linalg.lu_solve(lu_piv, b, trans=1) ** 2) + np.sum(scipy.linalg.lu_solve(lu_piv, b, trans=0))


add(kw_lu_solve_trans, "kw", lambda: (rng(552).standard_normal((3, 3)) + 2 * np.eye(3), rng(553).standard_normal(3)),
    wrt=(0, 1), hess=False)


def kw_expm_large(A):
    return np.sum(scipy.linalg.expm(A) * np.arange(9.0).reshape(3, 3))


add(kw_expm_large, "kw", lambda: (rng(554).standard_normal((3, 3)) * 2.0,), hess=False)


def kw_eigh_generalized(A, B):
    w = scipy.linalg.eigh(A @ A.T + np.eye(3), B @ B.T + np.eye(3), eigvals_only=True)
    return np.sum(w * np.array([1.0, 2.0, 3.0]))


add(kw_eigh_generalized, "kw", lambda: (rng(555).standard_normal((3, 3)), rng(556).standard_normal((3, 3))),
    wrt=(0, 1), hess=False)


def kw_block_diag_shapes(a, B, c):
    M = scipy.linalg.block_diag(a, B, c)
    return np.sum(M * np.arange(M.size).reshape(M.shape))


add(kw_block_diag_shapes, "kw",
    lambda: (rng(557).standard_normal((1, 2)), rng(558).standard_normal((2, 3)), 1.7), wrt=(0, 1, 2), hess=False)


def kw_toeplitz_c_r(c, r):
    T = scipy.linalg.toeplitz(c, r)
    return np.sum(T * np.arange(12.0).reshape(3, 4))


add(kw_toeplitz_c_r, "kw", lambda: (rng(559).standard_normal(3), rng(560).standard_normal(4)),
    wrt=(0, 1), hess=False)


def kw_signal_modes(x, k):
    return (np.sum(scipy.signal.convolve(x, k) ** 2) + np.sum(scipy.signal.convolve(x, k, mode="valid"))
            + np.sum(scipy.signal.correlate(x, k, mode="same") * np.arange(4.0).reshape(2, 2))
            + np.sum(scipy.signal.fftconvolve(x, k, mode="same") ** 2))


add(kw_signal_modes, "kw", lambda: (rng(561).standard_normal((2, 2)), rng(562).standard_normal((2, 3))),
    wrt=(0, 1), hess=False)


def kw_special_two_args(a, x):
    return (np.sum(scipy.special.xlogy(a, x)) + np.sum(scipy.special.betaln(a, x))
            + np.sum(scipy.special.gammaln(a * x)) + np.sum(scipy.special.polygamma(1, x)))


add(kw_special_two_args, "kw", lambda: (np.array([0.5, 1.5, 2.5]), np.array([0.7, 1.1, 3.0])),
    wrt=(0, 1), hess=False)


def kw_special_more(x):
    return (np.sum(scipy.special.erfinv(x * 0.5)) + np.sum(scipy.special.erfcx(x)) + np.sum(scipy.special.ndtri(
        0.5 + 0.3 * x)) + np.sum(scipy.special.i0(x)) + np.sum(scipy.special.i1e(x))
        + np.sum(scipy.special.multigammaln(x + 3.0, 2)) + np.sum(scipy.special.gamma(x + 1.5))
        + np.sum(scipy.special.erfcinv(1.0 + 0.5 * x)))


add(kw_special_more, "kw", lambda: (np.array([0.3, -0.6, 0.9]),), hess=False)


def kw_average_axis_returned(X, w):
    avg, wsum = np.average(X, axis=1, weights=w, returned=True)
    return np.sum(avg ** 2) + np.sum(wsum)


add(kw_average_axis_returned, "kw", lambda: (rng(563).standard_normal((2, 3)), rng(564).uniform(0.5, 2, 3)),
    wrt=(0, 1), hess=False)


def kw_trapezoid_dx_axis(Y):
    return np.sum(np.trapezoid(Y, dx=0.3, axis=0) ** 2)


add(kw_trapezoid_dx_axis, "kw", lambda: (rng(565).standard_normal((4, 2)),), hess=False)


def kw_insert_delete_arrays(x, v):
    y = np.insert(x, [1, 3], v)
    z = np.delete(y, 0)
    return np.sum(z ** 2 * np.arange(z.size))


add(kw_insert_delete_arrays, "kw", lambda: (rng(566).standard_normal(4), rng(567).standard_normal(2)),
    wrt=(0, 1), hess=False)


def kw_append_axis(A, b):
    return np.sum(np.append(A, b[None, :], axis=0) ** 2 * np.arange(9.0).reshape(3, 3))


add(kw_append_axis, "kw", lambda: (rng(568).standard_normal((2, 3)), rng(569).standard_normal(3)),
    wrt=(0, 1), hess=False)


def kw_cumulative_prod_axis(X):
    return np.sum(np.cumulative_prod(X, axis=1)) + np.sum(np.cumulative_sum(X, axis=0, include_initial=True) ** 2)


add(kw_cumulative_prod_axis, "kw", lambda: (rng(570).standard_normal((2, 3)),), hess=False)


def kw_multi_dot_vectors(a, B, c):
    return np.linalg.multi_dot([a, B, B.T, c])


add(kw_multi_dot_vectors, "kw", lambda: (rng(571).standard_normal(3), rng(572).standard_normal((3, 2)),
                                         rng(573).standard_normal(3)), wrt=(0, 1, 2), hess=False)


def kw_tensorsolve_inv(A, b):
    Ai = np.linalg.tensorinv(A.reshape(2, 2, 4), ind=2)
    return np.sum(Ai ** 2) + np.sum(np.linalg.tensorsolve(A.reshape(4, 2, 2), b.reshape(4)))


add(kw_tensorsolve_inv, "kw", lambda: (spd(4, 574), rng(575).standard_normal(4)), wrt=(0, 1), hess=False)


def kw_matrix_norm_vecdot_axis(A, B):
    return (np.sum(np.linalg.matrix_norm(A, ord="nuc")) + np.sum(np.linalg.vecdot(A, B, axis=0))
            + np.sum(np.linalg.vector_norm(A, ord=1, axis=(0, 1))) + np.sum(np.linalg.matmul(A, B.T)))


add(kw_matrix_norm_vecdot_axis, "kw", lambda: (rng(576).standard_normal((3, 2)), rng(577).standard_normal((3, 2))),
    wrt=(0, 1), hess=False)
