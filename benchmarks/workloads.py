"""Benchmark workloads: plain NumPy functions for srcad to differentiate, each with the gradient
an expert would write by hand and argument builders for a small and a large size.

A workload's ``f(*args)`` returns a scalar; ``grad(*args)`` returns the gradient with respect
to ``wrt`` (a single value when ``wrt`` is an int, a tuple in ``wrt`` order otherwise), the
same structure ``srcad.grad(f, wrt=wrt)`` returns. ``args(size)`` builds fresh arguments for
``size`` in ``SIZES`` from a fixed seed. Functions are module level so their source is readable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SIZES = ("small", "large")


@dataclass(frozen=True)
class Workload:
    name: str
    f: Callable
    grad: Callable
    args: Callable[[str], tuple]
    wrt: int | tuple
    describe: dict  # size -> one-line description of the problem size


def _rng(seed=0):
    return np.random.default_rng(seed)


def _one_hot(labels, classes):
    out = np.zeros((labels.size, classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


# -- logistic regression: mean log-loss + L2, wrt the weights ---------------------------------

def logreg_loss(w, X, y, lam):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum(w * w)


def logreg_grad(w, X, y, lam):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return X.T @ (p - y) / len(y) + lam * w


def logreg_args(size):
    n, dim = {"small": (100, 10), "large": (1000, 100)}[size]
    g = _rng(1)
    X = g.standard_normal((n, dim))
    y = (g.random(n) < 0.5).astype(float)
    return g.standard_normal(dim) * 0.1, X, y, 1e-3


# -- tanh MLP with a softmax cross-entropy loss, wrt every weight and bias -----------------------

def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def mlp_grad(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    dlogits = (p * Y.sum(axis=1, keepdims=True) - Y) / X.shape[0]
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(axis=0)
    da = (dlogits @ W2.T) * (1.0 - h * h)
    return X.T @ da, da.sum(axis=0), dW2, db2


def mlp_args(size):
    n_in, n_hidden, n_out, batch = {"small": (64, 32, 10, 16),
                                    "large": (784, 256, 10, 128)}[size]
    g = _rng(2)
    W1 = g.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    W2 = g.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)
    b1 = g.standard_normal(n_hidden) * 0.1
    b2 = g.standard_normal(n_out) * 0.1
    X = g.standard_normal((batch, n_in))
    Y = _one_hot(g.integers(0, n_out, batch), n_out)
    return W1, b1, W2, b2, X, Y


# -- tanh RNN unrolled by a Python for loop, wrt the recurrent and input weights ----------------

def rnn_loss(Wh, Wx, xs, h0):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ Wh + xs[t] @ Wx)
    return np.sum(h * h)


def rnn_grad(Wh, Wx, xs, h0):
    hs = [h0]
    for t in range(len(xs)):
        hs.append(np.tanh(hs[-1] @ Wh + xs[t] @ Wx))
    dWh = np.zeros_like(Wh)
    dWx = np.zeros_like(Wx)
    dh = 2.0 * hs[-1]
    for t in range(len(xs) - 1, -1, -1):
        da = dh * (1.0 - hs[t + 1] * hs[t + 1])
        dWh += hs[t].T @ da
        dWx += xs[t].T @ da
        dh = da @ Wh.T
    return dWh, dWx


def rnn_args(size):
    steps, batch, hidden, n_in = {"small": (10, 4, 8, 4), "large": (50, 16, 64, 32)}[size]
    g = _rng(3)
    Wh = g.standard_normal((hidden, hidden)) / np.sqrt(hidden)
    Wx = g.standard_normal((n_in, hidden)) / np.sqrt(n_in)
    xs = g.standard_normal((steps, batch, n_in))
    h0 = g.standard_normal((batch, hidden)) * 0.1
    return Wh, Wx, xs, h0


# -- scalar building-energy simulation: one-node RC model, explicit Euler -----------------------
# T' = ((T_out - T) / R + P) / C; the cost is the comfort deviation from 21 degrees plus the
# price of the heating energy. Plain float arithmetic, one array element per step.

def building_cost(R, C, power, T_out, price, dt):
    T = 18.0
    cost = 0.0
    for k in range(len(power)):
        q = (T_out[k] - T) / R + power[k]
        T = T + dt * q / C
        dev = T - 21.0
        cost = cost + dt * dev * dev + price[k] * power[k] * dt
    return cost


def building_grad(R, C, power, T_out, price, dt):
    n = len(power)
    P, Tout, cp = power.tolist(), T_out.tolist(), price.tolist()
    temps = [18.0] * (n + 1)
    T = 18.0
    for k in range(n):
        T = T + dt * ((Tout[k] - T) / R + P[k]) / C
        temps[k + 1] = T
    bR = bC = 0.0
    bP = [0.0] * n
    bT = 0.0                      # adjoint of temps[k + 1]
    for k in range(n - 1, -1, -1):
        T_old, T_new = temps[k], temps[k + 1]
        bT += 2.0 * dt * (T_new - 21.0)
        q = (Tout[k] - T_old) / R + P[k]
        bq = bT * dt / C
        bC -= bT * dt * q / (C * C)
        bR -= bq * (Tout[k] - T_old) / (R * R)
        bP[k] = bq + cp[k] * dt
        bT -= bq / R              # dT_new/dT_old = 1 - dt / (R C)
    return bR, bC, np.array(bP)


def building_args(size):
    n = {"small": 100, "large": 1000}[size]
    hours = np.arange(n) * 0.25
    g = _rng(4)
    T_out = 5.0 + 5.0 * np.sin(2.0 * np.pi * hours / 24.0) + g.standard_normal(n)
    price = 0.2 + 0.1 * (np.sin(2.0 * np.pi * (hours - 6.0) / 24.0) > 0.0)
    power = 1.5 + 0.5 * g.random(n)
    return 10.0, 2.0, power, T_out, price, 0.25


# -- training-mode batch norm followed by a sum-of-squares loss against a target ----------------
# (A plain sum(y * y) would not depend on x at all: normalized columns have a fixed norm.)

def batchnorm_loss(x, gamma, beta, target):
    mu = np.mean(x, axis=0)
    xc = x - mu
    var = np.mean(xc * xc, axis=0)
    xhat = xc / np.sqrt(var + 1e-5)
    r = gamma * xhat + beta - target
    return np.sum(r * r)


def batchnorm_grad(x, gamma, beta, target):
    n = x.shape[0]
    mu = x.mean(axis=0)
    xc = x - mu
    inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=0) + 1e-5)
    xhat = xc * inv_std
    dy = 2.0 * (gamma * xhat + beta - target)
    dxhat = dy * gamma
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


def batchnorm_args(size):
    n, features = {"small": (16, 8), "large": (512, 256)}[size]
    g = _rng(5)
    return (g.standard_normal((n, features)) * 2.0 + 1.0, g.uniform(0.5, 1.5, features),
            g.standard_normal(features) * 0.1, g.standard_normal((n, features)))


# -- softmax cross-entropy with a broadcast bias and a temperature -----------------------------

def softmax_xent_loss(logits, b, tau, Y):
    z = (logits + b) / tau
    z = z - np.max(z, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=-1))


def softmax_xent_grad(logits, b, tau, Y):
    s = (logits + b) / tau
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    ds = (p * Y.sum(axis=-1, keepdims=True) - Y) / logits.shape[0]
    dlogits = ds / tau
    return dlogits, dlogits.sum(axis=0), -float(np.vdot(ds, s)) / tau


def softmax_xent_args(size):
    n, classes = {"small": (16, 10), "large": (512, 1000)}[size]
    g = _rng(6)
    return (g.standard_normal((n, classes)) * 3.0, g.standard_normal(classes), 1.5,
            _one_hot(g.integers(0, classes, n), classes))


# -- Newton iteration for sqrt(a) in a while loop with a data-dependent stopping test ----------

def newton_sqrt(a):
    x = 0.5 * (1.0 + a)
    while np.max(np.abs(x * x - a)) > 1e-12 * np.max(a):
        x = 0.5 * (x + a / x)
    return np.sum(x)


def newton_sqrt_grad(a):
    x = 0.5 * (1.0 + a)
    while np.max(np.abs(x * x - a)) > 1e-12 * np.max(a):
        x = 0.5 * (x + a / x)
    return 0.5 / x


def newton_args(size):
    if size == "small":
        return (2.5,)
    return (_rng(7).uniform(0.5, 4.0, 10000),)


# -- Horner evaluation of a polynomial on Python floats ----------------------------------------

def horner(x, coeffs):
    p = 0.0
    for c in coeffs:
        p = p * x + c
    return p


def horner_grad(x, coeffs):
    p = dp = 0.0
    for c in coeffs:
        dp = dp * x + p
        p = p * x + c
    return dp


def horner_args(size):
    degree = {"small": 10, "large": 100}[size]
    coeffs = (_rng(8).standard_normal(degree + 1) / np.arange(1, degree + 2)).tolist()
    return 0.7, coeffs


WORKLOADS = [
    Workload("logreg", logreg_loss, logreg_grad, logreg_args, 0,
             {"small": "N=100 D=10", "large": "N=1000 D=100"}),
    Workload("mlp", mlp_loss, mlp_grad, mlp_args, (0, 1, 2, 3),
             {"small": "64-32-10 B=16", "large": "784-256-10 B=128"}),
    Workload("rnn", rnn_loss, rnn_grad, rnn_args, (0, 1),
             {"small": "T=10 B=4 H=8", "large": "T=50 B=16 H=64"}),
    Workload("building", building_cost, building_grad, building_args, (0, 1, 2),
             {"small": "100 steps", "large": "1000 steps"}),
    Workload("batchnorm", batchnorm_loss, batchnorm_grad, batchnorm_args, (0, 1, 2),
             {"small": "16x8", "large": "512x256"}),
    Workload("softmax_xent", softmax_xent_loss, softmax_xent_grad, softmax_xent_args,
             (0, 1, 2), {"small": "16x10", "large": "512x1000"}),
    Workload("newton_sqrt", newton_sqrt, newton_sqrt_grad, newton_args, 0,
             {"small": "scalar", "large": "10000 elements"}),
    Workload("horner", horner, horner_grad, horner_args, 0,
             {"small": "degree 10", "large": "degree 100"}),
]

BY_NAME = {w.name: w for w in WORKLOADS}
