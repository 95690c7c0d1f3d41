"""Neural-network operators: plain NumPy functions whose derivatives srcad knows exactly.

Each function here is an ordinary NumPy function you can call and read. srcad treats the
ones listed in ``FUSED`` as primitives: their adjoint and tangent rules are written in the
template language in ``srcad/templates/nn.py`` (side by side), so the derivative of a function
that calls ``srcad.nn.softmax(z)`` is one fused, stable expression (``y * (g - sum(g * y))``),
not the derivative of the exponentials, sums and divisions softmax is made of. The rules
themselves call only functions srcad has rules for, so derivatives of any order work.

The others (``silu``'s friends are all fused; ``layer_norm``, ``group_norm``, ``conv1d``,
``avg_pool2d``, ``dropout``, ``scaled_dot_product_attention``, ...) are short compositions of
fused operators; srcad reads their source and differentiates through them.

Conventions:

* Stable evaluation: ``sigmoid`` through ``exp(-|x|)`` (no overflow in either sign),
  ``softplus``/``log_sigmoid`` as ``max(x, 0) + log1p(exp(-|x|))``, softmax and logsumexp
  max-shifted, cross-entropy from ``log_softmax`` (never ``log(softmax)``).
* Kinks: ``relu`` and ``leaky_relu`` have derivative 0 (slope) at ``x == 0``; ``elu`` takes the
  ``x <= 0`` branch there; ``huber`` is smooth.
* Precision: float32 inputs give float32 values and float32 derivatives.
* ``reduction`` of the losses: ``'mean'`` (over every element / sample), ``'sum'`` or
  ``'none'`` (the per-element, or per-sample for ``cross_entropy``, losses).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "relu", "leaky_relu", "elu", "gelu", "silu", "tanh",
    "erf", "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "binary_cross_entropy_with_logits", "focal_loss", "mse", "huber",
    "one_hot",
]

tanh = np.tanh

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


# -- activations ------------------------------------------------------------------------------

def sigmoid(x):
    """``1 / (1 + exp(-x))``, evaluated through ``exp(-|x|)``: no overflow for large ``|x|``
    of either sign, full relative precision where the value is tiny."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(x):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def softplus(x):
    """``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def relu(x):
    """``max(x, 0)``; its derivative is 0 at ``x == 0``."""
    return np.maximum(x, 0.0)


def leaky_relu(x, negative_slope=0.01):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (``negative_slope`` may be an
    array and differentiated: PReLU)."""
    return np.where(x > 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def erf(x):
    """The error function, elementwise (SciPy's when installed, else ``math.erf``), in the
    precision of ``x``."""
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:            # pragma: no cover - exercised without SciPy
        scipy_erf = np.vectorize(math.erf, otypes=[np.float64])
    y = scipy_erf(x)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype.kind == "f" and np.ndim(y):
        return y.astype(dtype, copy=False)
    return y


def gelu(x, approximate="none"):
    """``x * Phi(x)`` (``approximate='none'``, with the normal CDF ``Phi``) or its tanh form
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (``approximate='tanh'``)."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)))
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def silu(x):
    """``x * sigmoid(x)`` (swish)."""
    return x * sigmoid(x)


# -- softmax family ---------------------------------------------------------------------------

def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, max-shifted."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, max-shifted."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis`` (None: every element), max-shifted; ``-inf`` for a
    group of ``-inf``."""
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):          # log(0) = -inf for a group of -inf
        y = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return y if keepdims else np.squeeze(y, axis=axis)


# -- losses -----------------------------------------------------------------------------------

def _reduce(losses, reduction):
    if reduction == "mean":
        return np.mean(losses)
    if reduction == "sum":
        return np.sum(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def one_hot(labels, classes, axis=-1, dtype=np.float64):
    """Integer ``labels`` as one-hot vectors along a new ``axis`` of length ``classes``."""
    labels = np.asarray(labels)
    hot = np.arange(classes) == np.expand_dims(labels, -1)
    return np.moveaxis(hot, -1, axis).astype(dtype)


def is_labels(target) -> bool:
    """Integer class labels (rather than probabilities)."""
    return np.issubdtype(np.asarray(target).dtype, np.integer)


def as_probabilities(target, like, axis=-1):
    """``target`` as probabilities shaped like ``like``: one-hot along ``axis`` for integer
    labels (in ``like``'s dtype), the target itself otherwise."""
    if is_labels(target):
        return one_hot(target, np.shape(like)[axis], axis, np.result_type(like))
    return target


def samples(logits, axis=-1) -> int:
    """The number of per-sample losses of ``cross_entropy`` (at least 1)."""
    shape = np.shape(logits)
    return max(1, int(np.prod(shape)) // max(1, shape[axis]))


def elements(a, b) -> int:
    """The number of elements of ``a`` and ``b`` broadcast together (at least 1)."""
    return max(1, int(np.prod(np.broadcast_shapes(np.shape(a), np.shape(b)))))


def cross_entropy(logits, target, reduction="mean", axis=-1):
    """Softmax cross-entropy of ``logits`` along ``axis`` against ``target``: integer class
    labels (shaped like ``logits`` without ``axis``) or probabilities (shaped like
    ``logits``). Fused derivative: ``softmax(logits) * sum(target) - target``."""
    logp = log_softmax(logits, axis)
    if is_labels(target):
        picked = np.take_along_axis(logp, np.expand_dims(np.asarray(target), axis), axis)
        losses = -np.squeeze(picked, axis=axis)
    else:
        losses = -np.sum(target * logp, axis=axis)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """``-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))``, stably:
    ``max(x, 0) - x t + log1p(exp(-|x|))``; derivative ``sigmoid(x) - t``."""
    losses = np.maximum(logits, 0.0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    return _reduce(losses, reduction)


def focal_loss(logits, target, gamma=2.0, alpha=0.25, reduction="mean"):
    """Binary focal loss of ``logits`` (Lin et al.):
    ``-alpha t (1 - p)^gamma log p - (1 - alpha) (1 - t) p^gamma log(1 - p)``,
    ``p = sigmoid(logits)``; ``target`` in [0, 1]. ``gamma = 0``, ``alpha = 0.5`` is half the
    binary cross-entropy."""
    p, q = sigmoid(logits), sigmoid(-logits)
    losses = (-alpha * target * q ** gamma * log_sigmoid(logits)
              - (1.0 - alpha) * (1.0 - target) * p ** gamma * log_sigmoid(-logits))
    return _reduce(losses, reduction)


def mse(pred, target, reduction="mean"):
    """Squared error ``(pred - target) ** 2``, averaged by default."""
    return _reduce((pred - target) ** 2, reduction)


def huber(pred, target, delta=1.0, reduction="mean"):
    """Huber loss of ``r = pred - target``: ``r^2 / 2`` for ``|r| <= delta``,
    ``delta (|r| - delta / 2)`` beyond."""
    r = pred - target
    a = np.abs(r)
    return _reduce(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)), reduction)


# The operators srcad treats as primitives (their rules: srcad/templates/nn.py).
FUSED = (sigmoid, log_sigmoid, softplus, relu, leaky_relu, elu, erf, gelu, silu, softmax,
         log_softmax, logsumexp, cross_entropy, binary_cross_entropy_with_logits, focal_loss,
         mse, huber)
