"""A corpus of realistic straight-line NumPy functions (no loops, no branches) with argument
builders: machine-learning losses, statistics, physics energies, linear algebra, scalar
``math`` code and the Python forms users write (helpers, defaults, closures, methods).

Each entry of ``CASES`` is a :class:`Case`: the function, a builder ``args(rng) -> tuple`` of
arguments inside the function's well-conditioned domain, the arguments to differentiate
(``wrt``) and whether the output is a scalar (``grad`` applies) or an array/tuple (checked
through ``autodiff``). tests/test_corpus.py runs every case through every mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy
import numpy as np
from numpy import exp, log1p

__all__ = ["Case", "CASES", "case_ids"]


# -- module-level constants (read at call time) --------------------------------------------------

LOG_2PI = math.log(2.0 * math.pi)
SCALE = 0.5
TOKENS = np.array([0, 2, 2, 1, 0, 2, 3])          # repeated indices: adjoints must accumulate
CAUSAL = np.tril(np.ones((4, 4), dtype=bool))
PROJECTION = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
WINDOW = np.arange(6)[:, None] + np.arange(3)[None, :]   # sliding windows of length 3 over 8


# -- shared helpers (module-level; inlined by srcad) ------------------------------------------

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _relu(z):
    return np.maximum(z, 0.0)


def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _logsumexp(z, axis=-1):
    m = np.max(z, axis=axis, keepdims=True)
    s = np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) + m
    return np.squeeze(s, axis=axis)


def _log_softmax(z, axis=-1):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _xent(logits, onehot):
    return -np.mean(np.sum(onehot * _log_softmax(logits, axis=1), axis=1))


def _affine(x, w, b=0.0):
    return x @ w + b


def _dense(x, w, b=0.0, *, gain=1.0):
    return gain * np.tanh(_affine(x, w, b=b))


def _two_layer(x, W1, b1, W2, b2):
    h = _dense(x, W1, b1, gain=1.0)
    return _affine(h, W2, b=b2)


def _sq_dists(X, Y):
    return np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)


def _horner(x, c0, c1, c2, c3=0.0):
    return ((c3 * x + c2) * x + c1) * x + c0


# -- regression and classification -----------------------------------------------------------

def logistic_regression(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logistic_regression_probs(w, X, y):
    p = 1.0 / (1.0 + np.exp(-X.dot(w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def linear_regression(w, b, X, y):
    r = X @ w + b - y
    return 0.5 * np.mean(r ** 2)


def ridge(w, X, y, lam=0.1):
    r = X.dot(w) - y
    return r @ r / len(y) + lam * np.sum(w * w)


def elastic_net(w, X, y, l1=0.05, l2=0.1):
    r = y - np.dot(X, w)
    return 0.5 * np.mean(r * r) + l1 * np.sum(np.abs(w)) + 0.5 * l2 * np.sum(np.square(w))


def poisson_regression(w, X, counts):
    eta = X @ w
    return np.sum(np.exp(eta) - counts * eta)


def hinge_smoothed(w, X, labels):
    margin = labels * (X @ w)
    return np.mean(_softplus(1.0 - margin))


# -- neural networks ----------------------------------------------------------------------------

def mlp_tanh_xent(W1, b1, W2, b2, X, onehot):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    return _xent(logits, onehot)


def mlp_relu_xent(W1, b1, W2, b2, X, onehot):
    h = _relu(X @ W1 + b1)
    logits = h @ W2 + b2
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.sum(onehot * logp) / X.shape[0]


def mlp_sigmoid_mse(W1, b1, W2, X, Y):
    h = _sigmoid(X @ W1 + b1)
    out = h @ W2
    return np.mean((out - Y) ** 2)


def mlp_labels_nll(W1, b1, W2, b2, X, labels):
    logits = _two_layer(X, W1, b1, W2, b2)
    logp = _log_softmax(logits)
    rows = np.arange(labels.shape[0])
    return -np.mean(logp[rows, labels])


def batch_norm_train(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta


def batch_norm_var(x, gamma, beta):
    xhat = (x - np.mean(x, axis=0, keepdims=True)) / np.sqrt(np.var(x, axis=0) + 1e-5)
    out = gamma * xhat + beta
    return np.sum(np.tanh(out) * PROJECTION[:, 0])


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def attention(Q, K, V):
    scores = Q @ K.T / np.sqrt(Q.shape[-1])
    return _softmax(scores, axis=-1) @ V


def attention_causal(Q, K, V):
    scores = np.matmul(Q, np.swapaxes(K, -1, -2)) / math.sqrt(K.shape[-1])
    scores = np.where(CAUSAL, scores, -1e9)
    weights = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    weights = weights / np.sum(weights, axis=-1, keepdims=True)
    return np.sum((weights @ V) ** 2)


def lstm_cell(x, h, c, Wx, Wh, b):
    gates = x @ Wx + h @ Wh + b
    i, f, o, g = np.split(gates, 4, axis=-1)
    c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h_new = _sigmoid(o) * np.tanh(c_new)
    return h_new, c_new


def conv1d_windows(x, kernel):
    patches = x[WINDOW]
    return np.sum(np.tanh(patches @ kernel))


def embedding_lookup(E, W):
    vecs = E[TOKENS]
    return np.sum(np.tanh(vecs @ W) ** 2)


def info_nce(A, B, temperature=0.5):
    a = A / np.linalg.norm(A, axis=1, keepdims=True)
    b = B / np.linalg.norm(B, axis=1, keepdims=True)
    sims = a @ b.T / temperature
    return np.mean(_logsumexp(sims, axis=1) - np.diagonal(sims))


def triplet_loss(anchor, pos, neg, margin=1.0):
    d_ap = np.sum((anchor - pos) ** 2, axis=1)
    d_an = np.sum((anchor - neg) ** 2, axis=1)
    return np.mean(np.maximum(d_ap - d_an + margin, 0.0))


def vae_kl(mu, logvar):
    return -0.5 * np.sum(1.0 + logvar - mu ** 2 - np.exp(logvar))


def pca_reconstruction(W, X):
    recon = X @ W @ W.T
    return np.sum((X - recon) ** 2) / X.shape[0]


# -- stable elementwise compositions ----------------------------------------------------------

def softplus_stable(x):
    return np.sum(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))))


def sigmoid_stable(x):
    pos = 1.0 / (1.0 + np.exp(-np.abs(x)))
    s = np.where(x >= 0.0, pos, 1.0 - pos)
    return s * s


def logsumexp_rows(x):
    return _logsumexp(x, axis=1)


def log_softmax_loss(x, w):
    return np.sum(_log_softmax(x, axis=0) * w)


def softmax_temperature(x, t):
    z = np.clip(x, -3.0, 3.0) / t
    p = _softmax(z)
    return -np.sum(p * np.log(p))


# -- statistics -------------------------------------------------------------------------------

def gaussian_loglik(mu, log_sigma, x):
    sigma = np.exp(log_sigma)
    z = (x - mu) / sigma
    return -0.5 * np.sum(z * z) - x.size * log_sigma - 0.5 * x.size * LOG_2PI


def gaussian_loglik_vec(mu, log_sigma, x):
    return np.sum(-0.5 * ((x - mu) * np.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG_2PI)


def student_t_loglik(loc, log_scale, x, nu=4.0):
    z = (x - loc) / np.exp(log_scale)
    return np.sum(-0.5 * (nu + 1.0) * np.log1p(z * z / nu) - log_scale)


def gmm_loglik(means, log_scales, logits, x):
    z = (x[:, None] - means[None, :]) / np.exp(log_scales)
    log_comp = -0.5 * z ** 2 - log_scales - 0.5 * LOG_2PI
    log_w = logits - _logsumexp(logits, axis=0)
    return np.sum(_logsumexp(log_comp + log_w, axis=1))


def huber(pred, target, delta=1.0):
    r = pred - target
    a = np.abs(r)
    return np.mean(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


def cosine_similarity(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def cosine_similarity_rows(A, B):
    num = np.sum(A * B, axis=1)
    den = np.sqrt(np.sum(A * A, axis=1)) * np.sqrt(np.sum(B * B, axis=1))
    return num / den


def coefficient_of_variation(x):
    return np.std(x) / np.mean(x)


def weighted_moments(x, w):
    p = w / np.sum(w)
    m = np.sum(p * x)
    v = np.sum(p * (x - m) ** 2)
    return m, v


# -- scalar functions on Python floats ---------------------------------------------------------

def polynomial(x):
    return 3.0 * x ** 3 - 2.0 * x ** 2 + x - 7.0


def rational(x, y):
    return (x * x + 1.0) / (y * y + 2.0 * x * y + 3.0 * x * x + 1.0)


def horner_poly(x, a):
    return _horner(x, 1.0, -2.0, c2=a, c3=0.5) / (1.0 + a * a)


def math_mix(x, y):
    return (math.sin(x) * math.exp(y) + math.log(1.0 + x * x) + math.sqrt(y * y + 1.0)
            + math.atan2(y, x) + math.tanh(x - y))


def math_special(x, y):
    return math.hypot(x, y) + math.erf(x) + math.cosh(y) / math.pow(x, 2.0) + math.log(y, 2.0)


def builtin_abs_max_min(x, y):
    return abs(x - 2.0 * y) + max(x, y) ** 2 - min(x * y, 1.0) + abs(-x)


def rosenbrock_scalar(x, y, a=1.0, b=100.0):
    return (a - x) ** 2 + b * (y - x * x) ** 2


def to_polar(x, y):
    return math.hypot(x, y), math.atan2(y, x)


def pendulum_energy(theta, omega, length=1.5, g=9.81):
    return 0.5 * length * length * omega ** 2 + g * length * (1.0 - math.cos(theta))


# -- kernels and physics -------------------------------------------------------------------------

def rbf_kernel(X, Y, gamma=0.5):
    return np.exp(-gamma * _sq_dists(X, Y))


def rbf_matmul_loss(X, Y, alpha):
    d2 = (X ** 2).sum(axis=1)[:, None] + (Y ** 2).sum(axis=1)[None, :] - 2.0 * X @ Y.T
    return alpha @ np.exp(-0.5 * d2) @ alpha


def gp_neg_marginal(log_ell, X, y):
    K = np.exp(-0.5 * _sq_dists(X, X) / np.exp(2.0 * log_ell)) + 0.1 * np.eye(X.shape[0])
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet


def spring_chain(pos, k=2.0, rest=1.0):
    diffs = pos[1:] - pos[:-1]
    lengths = np.sqrt(np.sum(diffs ** 2, axis=1))
    return 0.5 * k * np.sum((lengths - rest) ** 2)


def spring_anchors(pos, anchors, stiffness):
    stretch = np.linalg.norm(pos - anchors, axis=1) - 1.0
    return 0.5 * np.sum(stiffness * stretch ** 2)


def lennard_jones(pos, sigma=1.0, epsilon=1.0):
    n = pos.shape[0]
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff ** 2, axis=-1) + np.eye(n)
    s6 = (sigma * sigma / r2) ** 3
    pair = 4.0 * epsilon * (s6 * s6 - s6)
    return 0.5 * np.sum(pair * (1.0 - np.eye(n)))


def coulomb(pos, charges):
    n = pos.shape[0]
    r = np.sqrt(np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1) + np.eye(n))
    upper = np.triu(np.ones((n, n)), 1)
    return np.sum(upper * np.outer(charges, charges) / r)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# -- linear algebra --------------------------------------------------------------------------

def quad_form_inv(x, A):
    return x @ np.linalg.inv(A) @ x


def quad_form_solve(A, b):
    x = np.linalg.solve(A, b)
    return 0.5 * b @ x + np.sum(x ** 2)


def log_det(A):
    return np.log(np.linalg.det(A))


def mvn_loglik(x, mu, L):
    n = x.shape[0]
    S = L @ L.T + np.eye(n)
    sign, logdet = np.linalg.slogdet(S)
    r = x - mu
    return -0.5 * (r @ np.linalg.solve(S, r) + logdet + n * LOG_2PI)


def trace_quadratic(A, B):
    return np.trace(A @ B @ A.T)


def einsum_bilinear(x, W, y):
    return np.einsum('i,ij,j->', x, W, y)


def einsum_batch_scores(Q, K):
    return np.einsum('bqd,bkd->bqk', Q, K)


def einsum_trace_loss(A, B):
    return np.einsum('ij,ji->', A, B) + np.einsum('ij,ij->', A, A)


# -- shape pipelines -----------------------------------------------------------------------------

def concat_split(a, b):
    c = np.concatenate([a, b], axis=0)
    p, q, r = np.split(c, 3)
    return np.sum(p * q + np.sin(r))


def stack_columns(x, y):
    s = np.stack([x, y, x * y], axis=1)
    return s.sum(axis=0)


def hstack_vstack(a, b):
    h = np.hstack([a, b])
    v = np.vstack([h, 2.0 * h])
    return np.sum(v ** 2 * np.arange(v.shape[1]))


def reshape_transpose_chain(x):
    y = x.reshape(3, 4, 2).transpose(1, 0, 2).reshape(4, -1)
    z = np.transpose(y) @ PROJECTION
    return np.sum(np.cos(z))


def moveaxis_expand(x):
    y = np.moveaxis(x, 0, -1)
    z = np.expand_dims(y, 0) * np.ones((2, 1, 1, 1))
    return np.sum(np.squeeze(z[:1], axis=0) ** 3)


def fancy_rows_cols(x):
    rows = np.array([0, 1, 1, 2])
    cols = np.array([2, 0, 0, 1])
    return np.sum(x[rows, cols] ** 2) + np.sum(x[:, [1, 1]])


def boolean_mask_sum(x):
    mask = x > 0.1
    return np.sum(x[mask] ** 2) + np.sum(np.where(mask, 0.0, np.sin(x)))


def masked_mean(x, mask):
    return np.sum(np.exp(x) * mask) / np.sum(mask)


# -- Python forms: defaults, keywords, unpacking, assignment forms, helpers, methods ----------

def keyword_defaults(x, y=2.0, *, scale=0.5, shift=-1.0):
    return np.sum(scale * (x - shift) ** 2 + y * x)


def keyword_call_helper(x, W):
    z = _affine(x=x, w=W)
    return np.sum(_dense(z, W.T, b=0.1, gain=2.0))


def nested_helpers(x, W1, b1, W2, b2):
    out = _two_layer(x, W1=W1, b1=b1, W2=W2, b2=b2)
    return np.sum(_softplus(out))


def tuple_unpacking(x):
    a, b = x[0], x[1]
    a, b = b, a * b
    c, d = np.sin(a), np.cos(b)
    pair = (c * d, np.exp(x[2]))
    e, f = pair
    return e + f + a


def chained_assignment(x):
    a = b = np.tanh(x)
    a = a * 2.0
    c = d = a + b
    return np.sum(c * d - b)


def augmented_assignment(x, y):
    s = np.sum(x ** 2)
    s += np.sum(x * y)
    s *= 2.0
    s -= np.sum(np.sin(y))
    s /= 3.0
    t = x.copy()
    t **= 2
    t += y
    return s + np.sum(t)


def module_constants(x):
    return SCALE * np.sum(np.tanh(x @ PROJECTION)) + LOG_2PI


def _make_penalized(lam, center):
    def penalized(w, X, y):
        r = X @ w - y
        return 0.5 * np.mean(r * r) + lam * np.sum((w - center) ** 2)
    return penalized


penalized = _make_penalized(0.3, np.linspace(-1.0, 1.0, 4))


def from_numpy_import(x):
    return np.sum(exp(-x * x) * log1p(x * x))


def import_numpy_form(x, w):
    return numpy.sum(numpy.sin(x) * w) + numpy.mean(numpy.exp(0.1 * x))


def array_methods(x, w):
    n, d = x.shape
    col = x.sum(axis=0) / n
    total = x.mean() + x.T.dot(w).sum()
    flat = x.reshape(-1)
    t = x.transpose().copy()
    y = x.astype(np.float64)
    return total + np.sum(col ** 2) + flat @ flat / d + np.sum(t[0] * y[:, 1])


def loss_and_logits(w, X):
    logits = X @ w
    return np.sum(logits ** 2), logits


def prod_cumsum(x):
    return np.prod(1.0 + 0.1 * x) + np.sum(np.cumsum(x) ** 2)


def frobenius_penalty(W, X):
    return np.linalg.norm(X @ W) + 0.5 * np.linalg.norm(W) ** 2


# -- writes into arrays (issue 11: derivatives never write into what the caller passed) -------

def writes_argument(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def copy_then_write(y):
    t = y * 1.0
    t[0] = 3.0 * t[0]
    return np.sum(t) + np.sum(y)


def copies_share_an_adjoint(x, w):
    a = x * 1.0
    b = 1.0 * x
    a[2] = w[1] * 3.0
    c = b / 1.0
    s = b + a
    return np.sum(c * s)


def copy_by_adding_zero(x, w):
    v0 = x * x
    v1 = v0 + 0.0
    v0[2] = 2.0
    return np.sum(w * v1) + np.mean(w)


# -- the table -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One corpus function, the builder of its arguments, and what to differentiate."""

    fn: Callable
    args: Callable          # rng -> tuple of arguments
    wrt: int | tuple = 0
    scalar: bool = True     # the output is a scalar: grad/value_and_grad apply

    @property
    def name(self) -> str:
        return self.fn.__name__

    def make_args(self, seed: int = 0) -> tuple:
        return tuple(self.args(np.random.default_rng(seed)))


def _n(g, *shape):
    return g.standard_normal(shape)


def _u(g, lo, hi, *shape):
    return g.uniform(lo, hi, shape)


def _onehot(g, n, k):
    return np.eye(k)[g.integers(0, k, n)]


def _spd(g, n):
    a = g.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _lattice(g, spacing):
    grid = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], float)
    return spacing * grid + 0.05 * g.standard_normal(grid.shape)


def _tanh_mlp_args(g):
    return (0.5 * _n(g, 4, 5), 0.1 * _n(g, 5), 0.5 * _n(g, 5, 3), 0.1 * _n(g, 3),
            _n(g, 6, 4), _onehot(g, 6, 3))


CASES = [
    Case(logistic_regression, lambda g: (_n(g, 4), 0.3, _n(g, 8, 4),
                                         g.integers(0, 2, 8).astype(float)), (0, 1)),
    Case(logistic_regression_probs, lambda g: (0.5 * _n(g, 4), _n(g, 8, 4),
                                               g.integers(0, 2, 8).astype(float))),
    Case(linear_regression, lambda g: (_n(g, 3), _n(g, 1), _n(g, 10, 3), _n(g, 10)),
         (0, 1, 2)),
    Case(ridge, lambda g: (_n(g, 3), _n(g, 10, 3), _n(g, 10), 0.2), (0, 3)),
    Case(elastic_net, lambda g: (_n(g, 5), _n(g, 9, 5), _n(g, 9)), (0, 1)),
    Case(poisson_regression, lambda g: (0.3 * _n(g, 3), 0.5 * _n(g, 7, 3),
                                        g.poisson(1.0, 7).astype(float)), (0, 1)),
    Case(hinge_smoothed, lambda g: (_n(g, 3), _n(g, 6, 3), g.choice([-1.0, 1.0], 6)), (0, 1)),
    Case(mlp_tanh_xent, _tanh_mlp_args, (0, 1, 2, 3, 4)),
    Case(mlp_relu_xent, _tanh_mlp_args, (0, 1, 2, 3)),
    Case(mlp_sigmoid_mse, lambda g: (_n(g, 3, 4), _n(g, 4), _n(g, 4, 2), _n(g, 5, 3),
                                     _n(g, 5, 2)), (0, 1, 2, 3)),
    Case(mlp_labels_nll, lambda g: (*_tanh_mlp_args(g)[:5], g.integers(0, 3, 6)),
         (0, 1, 2, 3)),
    Case(batch_norm_train, lambda g: (_n(g, 6, 4), _u(g, 0.5, 1.5, 4), _n(g, 4)), (0, 1, 2),
         scalar=False),
    Case(batch_norm_var, lambda g: (_n(g, 6, 4), _u(g, 0.5, 1.5, 4), _n(g, 4)), (0, 1, 2)),
    Case(layer_norm, lambda g: (_n(g, 3, 5), _u(g, 0.5, 1.5, 5), _n(g, 5)), (0, 1, 2),
         scalar=False),
    Case(attention, lambda g: (_n(g, 3, 4), _n(g, 5, 4), _n(g, 5, 2)), (0, 1, 2),
         scalar=False),
    Case(attention_causal, lambda g: (_n(g, 2, 4, 3), _n(g, 2, 4, 3), _n(g, 2, 4, 3)),
         (0, 1, 2)),
    Case(lstm_cell, lambda g: (_n(g, 2, 3), _n(g, 2, 4), _n(g, 2, 4), 0.5 * _n(g, 3, 16),
                               0.5 * _n(g, 4, 16), 0.1 * _n(g, 16)), (0, 1, 2, 3, 4, 5),
         scalar=False),
    Case(conv1d_windows, lambda g: (_n(g, 8), _n(g, 3)), (0, 1)),
    Case(embedding_lookup, lambda g: (_n(g, 4, 3), _n(g, 3, 2)), (0, 1)),
    Case(info_nce, lambda g: (_n(g, 4, 3), _n(g, 4, 3)), (0, 1)),
    Case(triplet_loss, lambda g: (_n(g, 5, 3), _n(g, 5, 3), _n(g, 5, 3)), (0, 1, 2)),
    Case(vae_kl, lambda g: (_n(g, 6), 0.5 * _n(g, 6)), (0, 1)),
    Case(pca_reconstruction, lambda g: (0.5 * _n(g, 4, 2), _n(g, 7, 4)), (0, 1)),
    Case(softplus_stable, lambda g: (3.0 * _n(g, 10),)),
    Case(sigmoid_stable, lambda g: (3.0 * _n(g, 10),), scalar=False),
    Case(logsumexp_rows, lambda g: (4.0 * _n(g, 3, 5),), scalar=False),
    Case(log_softmax_loss, lambda g: (_n(g, 4, 3), _n(g, 4, 3)), (0, 1)),
    Case(softmax_temperature, lambda g: (_u(g, -2.5, 2.5, 6), 1.3), (0, 1)),
    Case(gaussian_loglik, lambda g: (0.3, -0.2, _n(g, 9)), (0, 1, 2)),
    Case(gaussian_loglik_vec, lambda g: (_n(g, 5), 0.3 * _n(g, 5), _n(g, 5)), (0, 1, 2)),
    Case(student_t_loglik, lambda g: (0.1, 0.2, _n(g, 8)), (0, 1, 2)),
    Case(gmm_loglik, lambda g: (np.array([-1.0, 0.0, 1.5]), 0.2 * _n(g, 3), _n(g, 3),
                                _n(g, 7)), (0, 1, 2, 3)),
    Case(huber, lambda g: (np.array([0.1, -0.4, 2.0, -3.0, 0.7, 1.6]), np.zeros(6)),
         (0, 1)),
    Case(cosine_similarity, lambda g: (_n(g, 5), _n(g, 5)), (0, 1)),
    Case(cosine_similarity_rows, lambda g: (_n(g, 3, 4), _n(g, 3, 4)), (0, 1), scalar=False),
    Case(coefficient_of_variation, lambda g: (_u(g, 1.0, 3.0, 7),)),
    Case(weighted_moments, lambda g: (_n(g, 6), _u(g, 0.5, 2.0, 6)), (0, 1), scalar=False),
    Case(polynomial, lambda g: (0.7,)),
    Case(rational, lambda g: (0.4, -1.3), (0, 1)),
    Case(horner_poly, lambda g: (1.2, 0.8), (0, 1)),
    Case(math_mix, lambda g: (0.8, -0.3), (0, 1)),
    Case(math_special, lambda g: (1.3, 0.7), (0, 1)),
    Case(builtin_abs_max_min, lambda g: (1.3, -0.4), (0, 1)),
    Case(rosenbrock_scalar, lambda g: (-0.5, 0.7), (0, 1)),
    Case(to_polar, lambda g: (1.1, -0.6), (0, 1), scalar=False),
    Case(pendulum_energy, lambda g: (0.4, -1.2, 1.1), (0, 1, 2)),
    Case(rbf_kernel, lambda g: (_n(g, 3, 2), _n(g, 4, 2), 0.7), (0, 1, 2), scalar=False),
    Case(rbf_matmul_loss, lambda g: (_n(g, 4, 2), _n(g, 4, 2), _n(g, 4)), (0, 1, 2)),
    Case(gp_neg_marginal, lambda g: (0.1, _n(g, 5, 2), _n(g, 5)), (0, 1, 2)),
    Case(spring_chain, lambda g: (np.cumsum(_u(g, 0.8, 1.4, 5, 2), axis=0),)),
    Case(spring_anchors, lambda g: (2.0 * _n(g, 4, 3), _n(g, 4, 3), _u(g, 0.5, 2.0, 4)),
         (0, 1, 2)),
    Case(lennard_jones, lambda g: (_lattice(g, 1.15), 1.0, 1.0), (0, 1, 2)),
    Case(coulomb, lambda g: (_lattice(g, 1.0), _n(g, 8)), (0, 1)),
    Case(rosenbrock, lambda g: (_u(g, -1.0, 1.0, 6),)),
    Case(quad_form_inv, lambda g: (_n(g, 4), _spd(g, 4)), (0, 1)),
    Case(quad_form_solve, lambda g: (_spd(g, 4) + 0.2 * _n(g, 4, 4), _n(g, 4)), (0, 1)),
    Case(log_det, lambda g: (_spd(g, 3),)),
    Case(mvn_loglik, lambda g: (_n(g, 4), _n(g, 4), 0.5 * _n(g, 4, 4)), (0, 1, 2)),
    Case(trace_quadratic, lambda g: (_n(g, 3, 4), _n(g, 4, 4)), (0, 1)),
    Case(einsum_bilinear, lambda g: (_n(g, 3), _n(g, 3, 4), _n(g, 4)), (0, 1, 2)),
    Case(einsum_batch_scores, lambda g: (_n(g, 2, 3, 4), _n(g, 2, 5, 4)), (0, 1),
         scalar=False),
    Case(einsum_trace_loss, lambda g: (_n(g, 3, 3), _n(g, 3, 3)), (0, 1)),
    Case(concat_split, lambda g: (_n(g, 4), _n(g, 5)), (0, 1)),
    Case(stack_columns, lambda g: (_n(g, 5), _n(g, 5)), (0, 1), scalar=False),
    Case(hstack_vstack, lambda g: (_n(g, 2, 3), _n(g, 2, 2)), (0, 1)),
    Case(reshape_transpose_chain, lambda g: (_n(g, 6, 4),)),
    Case(moveaxis_expand, lambda g: (_n(g, 2, 3, 4),)),
    Case(fancy_rows_cols, lambda g: (_n(g, 3, 3),)),
    Case(boolean_mask_sum, lambda g: (np.array([0.5, -0.3, 1.2, 0.05, -2.0, 0.9]),)),
    Case(masked_mean, lambda g: (_n(g, 7), np.array([1, 0, 1, 1, 0, 0, 1], dtype=bool))),
    Case(keyword_defaults, lambda g: (_n(g, 4), 0.6), (0, 1)),
    Case(keyword_call_helper, lambda g: (_n(g, 2, 3), 0.5 * _n(g, 3, 3)), (0, 1)),
    Case(nested_helpers, lambda g: (_n(g, 4, 3), _n(g, 3, 5), _n(g, 5), _n(g, 5, 2),
                                    _n(g, 2)), (0, 1, 2, 3, 4)),
    Case(tuple_unpacking, lambda g: (_n(g, 3),)),
    Case(chained_assignment, lambda g: (_n(g, 5),)),
    Case(augmented_assignment, lambda g: (_n(g, 4), _n(g, 4)), (0, 1)),
    Case(module_constants, lambda g: (_n(g, 5, 4),)),
    Case(penalized, lambda g: (_n(g, 4), _n(g, 6, 4), _n(g, 6)), (0, 1, 2)),
    Case(from_numpy_import, lambda g: (_n(g, 6),)),
    Case(import_numpy_form, lambda g: (_n(g, 6), _n(g, 6)), (0, 1)),
    Case(array_methods, lambda g: (_n(g, 4, 3), _n(g, 4)), (0, 1)),
    Case(loss_and_logits, lambda g: (_n(g, 3), _n(g, 5, 3)), (0, 1), scalar=False),
    Case(prod_cumsum, lambda g: (_n(g, 5),)),
    Case(frobenius_penalty, lambda g: (_n(g, 3, 2), _n(g, 4, 3)), (0, 1)),
    Case(writes_argument, lambda g: (_n(g, 3),)),
    Case(copy_then_write, lambda g: (_n(g, 3),)),
    Case(copies_share_an_adjoint, lambda g: (_n(g, 3), _n(g, 3)), (0, 1)),
    Case(copy_by_adding_zero, lambda g: (_n(g, 3), _n(g, 3)), (0, 1)),
]


def case_ids(case: Case) -> str:
    return case.name
