"""Neural-network operators: plain NumPy functions whose derivatives srcad knows exactly.

Each function here is an ordinary NumPy function you can call and read. srcad treats the
ones listed in ``FUSED`` as primitives: their adjoint and tangent rules are written in the
template language in ``srcad/templates/nn.py`` (side by side), so the derivative of a function
that calls ``srcad.nn.softmax(z)`` is one fused, stable expression (``y * (g - sum(g * y))``),
not the derivative of the exponentials, sums and divisions softmax is made of. The rules
themselves call only functions srcad has rules for, so derivatives of any order work.

Every public operator has its rules, helpers included (``standardize_vjp``,
``conv_transpose2d``, ``conv2d_weight_grad``, ``gather_windows``, ...), because srcad treats
functions of the srcad package as primitives (it never reads their source).

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

import copy
import math

import numpy as np

from .conv import (avg_pool2d, avg_pool2d_transpose, conv1d, conv2d,  # noqa: F401 (re-exported)
                   conv2d_weight_grad, conv_transpose2d, gather_windows, max_pool2d,
                   scatter_windows, window_argmax)

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "relu", "leaky_relu", "elu", "gelu", "silu", "tanh",
    "erf", "softmax", "log_softmax", "logsumexp",
    "cross_entropy", "binary_cross_entropy_with_logits", "focal_loss", "mse", "huber",
    "one_hot", "conv2d", "conv1d", "conv_transpose2d", "conv2d_weight_grad", "max_pool2d",
    "avg_pool2d", "standardize", "standardize_vjp", "batch_norm", "batch_norm_inference",
    "running_stats",
    "layer_norm", "group_norm", "instance_norm", "dropout", "scaled_dot_product_attention",
]

tanh = np.tanh

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


# -- activations ------------------------------------------------------------------------------

def sigmoid(x):
    """``1 / (1 + exp(-x))``, evaluated through ``exp(-|x|)``: no overflow for large ``|x|``
    of either sign, full relative precision where the value is tiny."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


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
        from scipy.special import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            erf as scipy_erf)
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


# -- normalization: standardize over some axes, then scale and shift -------------------------------

def standardize(x, axis, eps=1e-5):
    """``(x - mean) / sqrt(var + eps)`` over ``axis`` (an int or a tuple), with the closed-form
    adjoint ``standardize_vjp``."""
    centered = x - np.mean(x, axis=axis, keepdims=True)
    return centered / np.sqrt(np.mean(centered * centered, axis=axis, keepdims=True) + eps)


def standardize_vjp(g, x, y, axis, eps=1e-5):
    """The adjoint of ``y = standardize(x, axis, eps)`` for the output adjoint ``g``:
    ``(g - mean(g) - y mean(g y)) / sqrt(var(x) + eps)``. Linear and self-adjoint in ``g``, so
    it is the tangent map too."""
    inv_std = 1.0 / np.sqrt(np.var(x, axis=axis, keepdims=True) + eps)
    return inv_std * (g - np.mean(g, axis=axis, keepdims=True)
                      - y * np.mean(g * y, axis=axis, keepdims=True))


def channel_axes(x) -> tuple:
    """The axes of ``x`` (N, C, ...) other than the channels: (0, 2, 3, ...)."""
    return (0,) + tuple(range(2, np.ndim(x)))


def channel_shape(x) -> tuple:
    """The shape a per-channel parameter broadcasts in against ``x`` (N, C, ...)."""
    return (1, np.shape(x)[1]) + (1,) * (np.ndim(x) - 2)


def spatial_axes(x) -> tuple:
    """The axes of ``x`` (N, C, ...) after the channels: (2, 3, ...)."""
    return tuple(range(2, np.ndim(x)))


def grouped_shape(x, groups) -> tuple:
    """``x`` (N, C, ...) with the channels split into ``groups``: (N, groups, C / groups, ...)."""
    shape = np.shape(x)
    if shape[1] % groups:
        raise ValueError(f"group_norm: {shape[1]} channels do not split into {groups} groups")
    return (shape[0], groups, shape[1] // groups) + tuple(shape[2:])


def batch_norm(x, gamma, beta, eps=1e-5):
    """Batch normalization in training mode: each channel of ``x`` (N, C, ...) standardized
    with the batch statistics, then ``* gamma + beta`` (per channel, shape (C,))."""
    shape = channel_shape(x)
    return standardize(x, channel_axes(x), eps) * np.reshape(gamma, shape) + np.reshape(beta,
                                                                                     shape)


def batch_norm_inference(x, gamma, beta, mean, var, eps=1e-5):
    """Batch normalization with running statistics ``mean``, ``var`` (per channel)."""
    shape = channel_shape(x)
    scale = np.reshape(gamma, shape) / np.sqrt(np.reshape(var, shape) + eps)
    return (x - np.reshape(mean, shape)) * scale + np.reshape(beta, shape)


def running_stats(x, mean, var, momentum=0.1):
    """The running statistics after the batch ``x``: ``(1 - momentum) * old + momentum *
    batch``, with the unbiased batch variance. Not a differentiated function."""
    axes = channel_axes(x)
    count = np.prod([np.shape(x)[a] for a in axes])
    batch_var = np.var(x, axis=axes) * (count / max(count - 1, 1))
    return ((1.0 - momentum) * mean + momentum * np.mean(x, axis=axes),
            (1.0 - momentum) * var + momentum * batch_var)


def layer_norm(x, gamma, beta, axis=-1, eps=1e-5):
    """Layer normalization: ``x`` standardized over ``axis`` (an int or a tuple, by default the
    last), then ``* gamma + beta`` (broadcast against ``x``)."""
    return standardize(x, axis, eps) * gamma + beta


def instance_norm(x, gamma, beta, eps=1e-5):
    """Instance normalization: each (sample, channel) of ``x`` (N, C, ...) standardized over
    its spatial axes, then ``* gamma + beta`` per channel."""
    shape = channel_shape(x)
    return standardize(x, spatial_axes(x), eps) * np.reshape(gamma, shape) + np.reshape(beta,
                                                                                        shape)


def group_norm(x, groups, gamma, beta, eps=1e-5):
    """Group normalization: the channels of ``x`` (N, C, ...) split into ``groups``, each
    (sample, group) standardized, then ``* gamma + beta`` per channel."""
    grouped = np.reshape(x, grouped_shape(x, groups))
    xhat = np.reshape(standardize(grouped, spatial_axes(grouped), eps), np.shape(x))
    shape = channel_shape(x)
    return xhat * np.reshape(gamma, shape) + np.reshape(beta, shape)


# -- dropout and attention ----------------------------------------------------------------------

def dropout_mask(like, rate, key):
    """The dropout multiplier for ``like``: 0 with probability ``rate``, ``1 / (1 - rate)``
    otherwise, in ``like``'s dtype. ``key`` decides the mask: an int or a sequence of ints (a
    seed), or a ``numpy.random.Generator``, whose current state is read and not advanced. The
    same key gives the same mask."""
    dtype = np.result_type(like, np.float32)
    if rate == 0.0:
        return np.ones(np.shape(like), dtype=dtype)
    if isinstance(key, np.random.Generator):
        key = np.random.Generator(copy.deepcopy(key.bit_generator))
    keep = np.random.default_rng(key).random(np.shape(like)) >= rate
    return keep.astype(dtype) * (1.0 / (1.0 - rate))


def dropout(x, rate, key):
    """``x`` with each element zeroed with probability ``rate`` and the rest scaled by
    ``1 / (1 - rate)``, the mask decided by ``key`` (``dropout_mask``): the derivative draws
    the same mask again. Give each call its own key (``(seed, step, layer)``)."""
    return x * dropout_mask(x, rate, key)


def scaled_dot_product_attention(q, k, v, mask=None):
    """``softmax(q k^T / sqrt(d)) v`` over the last two axes (q (..., L, d), k (..., S, d),
    v (..., S, e)); where the boolean ``mask`` (broadcast to (..., L, S)) is False the score
    is -1e30 (no attention)."""
    scores = (q @ np.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(np.shape(q)[-1]))
    if mask is not None:
        scores = np.where(mask, scores, -1e30)
    return softmax(scores, axis=-1) @ v


# The operators srcad treats as primitives, with their rules in srcad/templates/nn.py; the other
# functions here (labels, shapes, masks, running statistics) carry no derivative.
FUSED = (sigmoid, log_sigmoid, softplus, relu, leaky_relu, elu, erf, gelu, silu, softmax,
         log_softmax, logsumexp, cross_entropy, binary_cross_entropy_with_logits, focal_loss,
         mse, huber, standardize, standardize_vjp, batch_norm, batch_norm_inference, layer_norm,
         instance_norm, group_norm, dropout, scaled_dot_product_attention, conv1d, conv2d,
         conv_transpose2d, conv2d_weight_grad, max_pool2d, avg_pool2d, avg_pool2d_transpose,
         gather_windows, scatter_windows, as_probabilities)
