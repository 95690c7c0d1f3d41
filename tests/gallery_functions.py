"""Gallery functions: small, readable NumPy programs whose generated derivatives are shown in
docs/gallery.md, pinned by the golden tests and checked against finite differences.

``GALLERY`` lists one :class:`Entry` per function, in the order the gallery shows them: its
one-line description, a builder of float64 arguments and the arguments to differentiate.
Editing a function here changes the gallery and the golden files: regenerate them with
``python scripts/make_gallery.py`` and ``SRCAD_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Entry", "GALLERY", "entry"]


# ---------------------------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------------------------

def scalar_math(x, y):
    r = math.sqrt(x * x + y * y)
    return math.sin(x) * math.exp(-r) + math.log(1.0 + y * y) / r


def logistic_loss(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * log_probs) / X.shape[0]


def batch_norm(x, gamma, beta):
    mean = np.mean(x, axis=0)
    centered = x - mean
    var = np.mean(centered * centered, axis=0)
    x_hat = centered / np.sqrt(var + 1e-5)
    return gamma * x_hat + beta


def rnn_loss(h0, Wx, Wh, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(Wx @ xs[t] + Wh @ h)
    return np.sum(h * h)


def newton_cbrt(a):
    x = 1.0 + a / 3.0
    while abs(x * x * x - a) > 1e-12:
        x = x - (x * x * x - a) / (3.0 * x * x)
    return x


def damped_cumsum(x, decay):
    n = x.shape[0]
    out = np.zeros(n)
    out[0] = x[0]
    for i in range(1, n):
        out[i] = decay * out[i - 1] + np.sin(x[i])
    return out


def softplus(z, beta=1.0):
    return np.log1p(np.exp(beta * z)) / beta


def smooth_hinge_loss(w, X, y):
    margins = 1.0 - y * (X @ w)
    return np.mean(softplus(margins, beta=4.0)) + 0.5 * np.sum(softplus(w) * w)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One gallery function: ``args()`` builds fresh float64 arguments, ``wrt`` names the
    arguments the derivatives are taken with respect to."""

    func: Callable
    description: str
    args: Callable[[], tuple]
    wrt: int | tuple[int, ...]
    helpers: tuple[Callable, ...] = ()   # module-level functions it calls (shown with it)

    @property
    def name(self) -> str:
        return self.func.__name__


def _rng(seed):
    return np.random.default_rng(seed)


def _classification(seed, n=6, d=3):
    g = _rng(seed)
    X = g.standard_normal((n, d))
    y = (g.uniform(size=n) > 0.5).astype(float)
    return X, y


def _logistic_args():
    X, y = _classification(1)
    return _rng(2).standard_normal(3), X, y


def _mlp_args():
    g = _rng(3)
    X = g.standard_normal((5, 4))
    Y = np.eye(3)[g.integers(0, 3, size=5)]
    return (0.5 * g.standard_normal((4, 6)), 0.1 * g.standard_normal(6),
            0.5 * g.standard_normal((6, 3)), 0.1 * g.standard_normal(3), X, Y)


def _batch_norm_args():
    g = _rng(4)
    return g.standard_normal((8, 3)), g.uniform(0.5, 1.5, 3), g.standard_normal(3)


def _rnn_args():
    g = _rng(5)
    return (0.5 * g.standard_normal(4), 0.5 * g.standard_normal((4, 2)),
            0.5 * g.standard_normal((4, 4)), g.standard_normal((5, 2)))


def _damped_cumsum_args():
    return _rng(6).standard_normal(7), 0.8


def _hinge_args():
    X, y = _classification(7)
    return _rng(8).standard_normal(3), X, 2.0 * y - 1.0


GALLERY = (
    Entry(scalar_math, "Scalar math on Python floats with the `math` module.",
          lambda: (0.7, -1.3), (0, 1)),
    Entry(logistic_loss, "Logistic regression: mean negative log-likelihood of labels in {0, 1}.",
          _logistic_args, 0),
    Entry(mlp_loss, "A one-hidden-layer tanh MLP with a numerically stable softmax "
          "cross-entropy loss.", _mlp_args, (0, 1, 2, 3)),
    Entry(batch_norm, "Batch normalization in training mode (batch statistics); "
          "a non-scalar output.", _batch_norm_args, (0, 1, 2)),
    Entry(rnn_loss, "A tanh recurrent network unrolled by a `for` loop over time steps.",
          _rnn_args, (0, 1, 2)),
    Entry(newton_cbrt, "A cube root by Newton iteration in a `while` loop "
          "(data-dependent trip count).", lambda: (2.5,), 0),
    Entry(damped_cumsum, "In-place updates: filling `out = np.zeros(n)` element by element, "
          "each element reading the previous one.", _damped_cumsum_args, (0, 1)),
    Entry(smooth_hinge_loss, "A call to a module-level helper with a keyword argument "
          "and with its default.", _hinge_args, 0, helpers=(softplus,)),
)


def entry(name: str) -> Entry:
    """The gallery entry of the function called ``name``."""
    for e in GALLERY:
        if e.name == name:
            return e
    raise KeyError(name)
