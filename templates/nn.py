"""Derivative rules of ``srcad.nn``'s fused operators, adjoint and tangent side by side.

Each rule is the closed form of the operator's derivative, written with functions srcad has
rules for (the operators themselves included: the adjoint of ``log_sigmoid`` is
``d[y] * nn.sigmoid(-x)``), so derivatives of derivatives work. Float parameters other than the
input (``leaky_relu``'s slope, ``elu``'s alpha, the losses' targets, ``focal_loss``'s gamma
and alpha, ``huber``'s delta) have rules too: srcad never takes an active value as constant.

Conventions (see ``srcad.nn``): ``relu`` and ``leaky_relu`` use the ``x <= 0`` branch at 0, so
do ``elu`` and the max of ``softplus``'s evaluation (whose derivative is smooth anyway).
Reductions of the losses: a static ``reduction`` folds away; a variable one is decided at run
time.
"""
import linecache
import math

import numpy as np

from srcad import conv, nn
from srcad.registry import (adjoint, d, elementwise, linear, nondiff, shape_preserving, tangent,
                            unary)
from srcad.runtime import broadcast_like, expand_reduced, unbroadcast

nondiff(nn.is_labels, nn.one_hot, nn.samples, nn.elements, nn.channel_axes, nn.channel_shape,
        nn.spatial_axes, nn.grouped_shape, nn.dropout_mask, conv.window_argmax)
elementwise(nn.relu, nn.leaky_relu, nn.elu)
shape_preserving(nn.softmax, nn.log_softmax, nn.standardize, nn.standardize_vjp, nn.batch_norm,
                 nn.batch_norm_inference, nn.instance_norm, nn.group_norm, nn.dropout)
# linear in the first argument (bilinear maps among them): a zero first operand is a zero
linear(conv.conv2d, conv.conv_transpose2d, conv.conv2d_weight_grad, conv.gather_windows,
       conv.scatter_windows, conv.avg_pool2d, conv.avg_pool2d_transpose, conv.conv1d,
       nn.standardize_vjp)


# -- activations: one formula in x and y gives both modes ----------------------------------------
unary(nn.sigmoid, "y * (1.0 - y)")
unary(nn.log_sigmoid, "nn.sigmoid(-x)")
unary(nn.softplus, "nn.sigmoid(x)")
unary(nn.erf, "(2.0 / math.sqrt(math.pi)) * np.exp(-x * x)")
unary(nn.silu, "s + y * (1.0 - s)", prelude="s = nn.sigmoid(x)")


@adjoint(nn.relu)
def relu_adjoint(y, x):
    d[x] = np.where(x > 0.0, d[y], 0.0)


@tangent(nn.relu)
def relu_tangent(y, x):
    d[y] = np.where(x > 0.0, d[x], 0.0)


@adjoint(nn.leaky_relu)
def leaky_relu_adjoint(y, x, negative_slope=0.01):
    d[x] = unbroadcast(np.where(x > 0.0, d[y], negative_slope * d[y]), x)
    d[negative_slope] = unbroadcast(np.where(x > 0.0, 0.0, d[y] * x), negative_slope)


@tangent(nn.leaky_relu)
def leaky_relu_tangent(y, x, negative_slope=0.01):
    d[y] = broadcast_like(np.where(x > 0.0, d[x], negative_slope * d[x] + d[negative_slope] * x), y)


@adjoint(nn.elu)
def elu_adjoint(y, x, alpha=1.0):
    d[x] = unbroadcast(np.where(x > 0.0, d[y], d[y] * (y + alpha)), x)
    d[alpha] = unbroadcast(np.where(x > 0.0, 0.0, d[y] * np.expm1(np.minimum(x, 0.0))), alpha)


@tangent(nn.elu)
def elu_tangent(y, x, alpha=1.0):
    d[y] = broadcast_like(np.where(x > 0.0, d[x], d[x] * (y + alpha)
                                   + d[alpha] * np.expm1(np.minimum(x, 0.0))), y)


# gelu: exact, Phi(x) + x phi(x); tanh form (u = sqrt(2 / pi) (x + 0.044715 x^3), t = tanh u),
# 0.5 (1 + t) + 0.5 x (1 - t^2) u'(x)
GELU_TANH = "0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * (math.sqrt(2.0 / math.pi) * (1.0 + 3.0 " \
    "* 0.044715 * x * x))"
GELU_EXACT = "0.5 * (1.0 + nn.erf(x * (1.0 / math.sqrt(2.0)))) + x * (1.0 / math.sqrt(2.0 * " \
    "math.pi)) * np.exp(-0.5 * x * x)"
unary(nn.gelu, f"{GELU_TANH} if approximate == 'tanh' else {GELU_EXACT}", approximate="none",
      prelude="if approximate == 'tanh':\n"
              "    t = np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x))")


# -- softmax family: the fused adjoint y * (g - sum(g * y)) --------------------------------------

@adjoint(nn.softmax)
def softmax_adjoint(y, x, axis=-1):
    d[x] = y * (d[y] - np.sum(d[y] * y, axis=axis, keepdims=True))


@tangent(nn.softmax)
def softmax_tangent(y, x, axis=-1):
    d[y] = y * (d[x] - np.sum(d[x] * y, axis=axis, keepdims=True))


@adjoint(nn.log_softmax)
def log_softmax_adjoint(y, x, axis=-1):
    d[x] = d[y] - np.exp(y) * np.sum(d[y], axis=axis, keepdims=True)


@tangent(nn.log_softmax)
def log_softmax_tangent(y, x, axis=-1):
    d[y] = d[x] - np.sum(np.exp(y) * d[x], axis=axis, keepdims=True)


@adjoint(nn.logsumexp)
def logsumexp_adjoint(y, x, axis=None, keepdims=False):
    d[x] = expand_reduced(d[y], x, axis, keepdims) * np.exp(
        x - expand_reduced(y, x, axis, keepdims))


@tangent(nn.logsumexp)
def logsumexp_tangent(y, x, axis=None, keepdims=False):
    d[y] = np.sum(d[x] * np.exp(x - expand_reduced(y, x, axis, keepdims)), axis=axis,
                  keepdims=keepdims)


# -- losses: g is the adjoint of each per-element (per-sample) loss -------------------------------

@adjoint(nn.cross_entropy)
def cross_entropy_adjoint(y, logits, target, reduction="mean", axis=-1):
    g = (d[y] / nn.samples(logits, axis) if reduction == "mean" else
         np.expand_dims(d[y], axis) if reduction == "none" else d[y])
    probs = nn.as_probabilities(target, logits, axis)
    d[logits] = g * (nn.softmax(logits, axis) * np.sum(probs, axis=axis, keepdims=True) - probs)
    d[target] = -g * nn.log_softmax(logits, axis)


@tangent(nn.cross_entropy)
def cross_entropy_tangent(y, logits, target, reduction="mean", axis=-1):
    probs = nn.as_probabilities(target, logits, axis)
    e = np.sum((nn.softmax(logits, axis) * np.sum(probs, axis=axis, keepdims=True) - probs)
               * d[logits] - nn.log_softmax(logits, axis) * d[target], axis=axis)
    d[y] = (np.sum(e) / nn.samples(logits, axis) if reduction == "mean" else
            np.sum(e) if reduction == "sum" else e)


@adjoint(nn.as_probabilities)
def as_probabilities_adjoint(y, target, like, axis=-1):
    d[target] = d[y]


@tangent(nn.as_probabilities)
def as_probabilities_tangent(y, target, like, axis=-1):
    d[y] = d[target]


@adjoint(nn.binary_cross_entropy_with_logits)
def bce_adjoint(y, logits, target, reduction="mean"):
    g = d[y] / nn.elements(logits, target) if reduction == "mean" else d[y]
    d[logits] = unbroadcast(g * (nn.sigmoid(logits) - target), logits)
    d[target] = unbroadcast(-g * logits, target)


@tangent(nn.binary_cross_entropy_with_logits)
def bce_tangent(y, logits, target, reduction="mean"):
    e = (nn.sigmoid(logits) - target) * d[logits] - logits * d[target]
    d[y] = (np.sum(e) / nn.elements(logits, target) if reduction == "mean" else
            np.sum(e) if reduction == "sum" else broadcast_like(e, y))


# focal: with p = nn.sigmoid(x), q = nn.sigmoid(-x) = 1 - p, lp = log p, lq = log q,
#   dL/dx     = -alpha t q^gamma (q - gamma p lp) - (1 - alpha) (1 - t) p^gamma (gamma q lq - p)
#   dL/dt     = -alpha q^gamma lp + (1 - alpha) p^gamma lq
#   dL/dalpha = -t q^gamma lp + (1 - t) p^gamma lq
#   dL/dgamma = -lp lq (alpha t q^gamma + (1 - alpha) (1 - t) p^gamma)

@adjoint(nn.focal_loss)
def focal_loss_adjoint(y, logits, target, gamma=2.0, alpha=0.25, reduction="mean"):
    g = d[y] / nn.elements(logits, target) if reduction == "mean" else d[y]
    p, q = nn.sigmoid(logits), nn.sigmoid(-logits)
    lp, lq = nn.log_sigmoid(logits), nn.log_sigmoid(-logits)
    qg, pg = q ** gamma, p ** gamma
    d[logits] = unbroadcast(g * (-alpha * target * qg * (q - gamma * p * lp)
                                 - (1.0 - alpha) * (1.0 - target) * pg * (gamma * q * lq - p)),
                            logits)
    d[target] = unbroadcast(g * (-alpha * qg * lp + (1.0 - alpha) * pg * lq), target)
    d[alpha] = unbroadcast(g * (-target * qg * lp + (1.0 - target) * pg * lq), alpha)
    d[gamma] = unbroadcast(-g * lp * lq * (alpha * target * qg
                                           + (1.0 - alpha) * (1.0 - target) * pg), gamma)


@tangent(nn.focal_loss)
def focal_loss_tangent(y, logits, target, gamma=2.0, alpha=0.25, reduction="mean"):
    p, q = nn.sigmoid(logits), nn.sigmoid(-logits)
    lp, lq = nn.log_sigmoid(logits), nn.log_sigmoid(-logits)
    qg, pg = q ** gamma, p ** gamma
    e = ((-alpha * target * qg * (q - gamma * p * lp)
          - (1.0 - alpha) * (1.0 - target) * pg * (gamma * q * lq - p)) * d[logits]
         + (-alpha * qg * lp + (1.0 - alpha) * pg * lq) * d[target]
         + (-target * qg * lp + (1.0 - target) * pg * lq) * d[alpha]
         - lp * lq * (alpha * target * qg + (1.0 - alpha) * (1.0 - target) * pg) * d[gamma])
    d[y] = (np.sum(e) / nn.elements(logits, target) if reduction == "mean" else
            np.sum(e) if reduction == "sum" else broadcast_like(e, y))


@adjoint(nn.mse)
def mse_adjoint(y, pred, target, reduction="mean"):
    g = d[y] / nn.elements(pred, target) if reduction == "mean" else d[y]
    r = 2.0 * g * (pred - target)
    d[pred] = unbroadcast(r, pred)
    d[target] = unbroadcast(-r, target)


@tangent(nn.mse)
def mse_tangent(y, pred, target, reduction="mean"):
    e = 2.0 * (pred - target) * (d[pred] - d[target])
    d[y] = (np.sum(e) / nn.elements(pred, target) if reduction == "mean" else
            np.sum(e) if reduction == "sum" else broadcast_like(e, y))


# huber: dL/dr = clip(r, -delta, delta); dL/ddelta = 0 inside, |r| - delta outside
@adjoint(nn.huber)
def huber_adjoint(y, pred, target, delta=1.0, reduction="mean"):
    g = d[y] / nn.elements(pred, target) if reduction == "mean" else d[y]
    r = pred - target
    gr = g * np.clip(r, -delta, delta)
    d[pred] = unbroadcast(gr, pred)
    d[target] = unbroadcast(-gr, target)
    d[delta] = unbroadcast(g * np.maximum(np.abs(r) - delta, 0.0), delta)


@tangent(nn.huber)
def huber_tangent(y, pred, target, delta=1.0, reduction="mean"):
    r = pred - target
    e = np.clip(r, -delta, delta) * (d[pred] - d[target]) + np.maximum(np.abs(r) - delta, 0.0) \
        * d[delta]
    d[y] = (np.sum(e) / nn.elements(pred, target) if reduction == "mean" else
            np.sum(e) if reduction == "sum" else broadcast_like(e, y))


# -- normalization: standardize and its adjoint, standardize_vjp (self-adjoint in g) ---------------
# With s = 1 / sqrt(var(x) + eps), y = standardize(x) and r = standardize_vjp(g, x, y):
#   r = s (g - mean(g) - y mean(g y)); its derivative in y (as an argument) is
#   -s (dy mean(g y) + y mean(g dy)), in x (through s) -s mean(y dx) r, in eps -s^2 / 2 r.

@adjoint(nn.standardize)
def standardize_adjoint(y, x, axis, eps=1e-5):
    d[x] = nn.standardize_vjp(d[y], x, y, axis, eps)
    d[eps] = -0.5 * np.sum(d[y] * y / (np.var(x, axis=axis, keepdims=True) + eps))


@tangent(nn.standardize)
def standardize_tangent(y, x, axis, eps=1e-5):
    d[y] = nn.standardize_vjp(d[x], x, y, axis, eps) - 0.5 * y / (
        np.var(x, axis=axis, keepdims=True) + eps) * d[eps]


@adjoint(nn.standardize_vjp)
def standardize_vjp_adjoint(r, g, x, y, axis, eps=1e-5):
    inv_std = 1.0 / np.sqrt(np.var(x, axis=axis, keepdims=True) + eps)
    d[g] = nn.standardize_vjp(d[r], x, y, axis, eps)
    d[y] = -inv_std * (d[r] * np.mean(g * y, axis=axis, keepdims=True)
                       + g * np.mean(d[r] * y, axis=axis, keepdims=True))
    d[x] = -inv_std * np.mean(d[r] * r, axis=axis, keepdims=True) * y
    d[eps] = -0.5 * np.sum(inv_std * inv_std * d[r] * r)


@tangent(nn.standardize_vjp)
def standardize_vjp_tangent(r, g, x, y, axis, eps=1e-5):
    inv_std = 1.0 / np.sqrt(np.var(x, axis=axis, keepdims=True) + eps)
    d[r] = nn.standardize_vjp(d[g], x, y, axis, eps) - inv_std * (
        d[y] * np.mean(g * y, axis=axis, keepdims=True)
        + y * np.mean(g * d[y], axis=axis, keepdims=True)) - (
        inv_std * np.mean(y * d[x], axis=axis, keepdims=True)
        + 0.5 * inv_std * inv_std * d[eps]) * r


# batch and instance norm: xhat = standardize(x over the statistics' axes), y = xhat * gamma + beta
# per channel. The adjoint of x is standardize_vjp of the scaled adjoint, those of the parameters
# are per-channel sums; eps has a rule as every float parameter does. One text gives both
# operators' rules (their statistics' axes differ), defined as the functions below.
CHANNEL_NORM_RULES = """
@adjoint(nn.{name})
def {name}_adjoint(y, x, gamma, beta, eps=1e-5):
    axes = nn.{axes}(x)
    xhat = nn.standardize(x, axes, eps)
    scaled = d[y] * np.reshape(gamma, nn.channel_shape(x))
    d[x] = nn.standardize_vjp(scaled, x, xhat, axes, eps)
    d[gamma] = np.reshape(np.sum(d[y] * xhat, axis=nn.channel_axes(x)), np.shape(gamma))
    d[beta] = np.reshape(np.sum(d[y], axis=nn.channel_axes(x)), np.shape(beta))
    d[eps] = -0.5 * np.sum(scaled * xhat / (np.var(x, axis=axes, keepdims=True) + eps))


@tangent(nn.{name})
def {name}_tangent(y, x, gamma, beta, eps=1e-5):
    axes = nn.{axes}(x)
    shape = nn.channel_shape(x)
    xhat = nn.standardize(x, axes, eps)
    dxhat = nn.standardize_vjp(d[x], x, xhat, axes, eps) - 0.5 * xhat / (
        np.var(x, axis=axes, keepdims=True) + eps) * d[eps]
    d[y] = dxhat * np.reshape(gamma, shape) + xhat * np.reshape(d[gamma], shape) + np.reshape(
        d[beta], shape)
"""


def _define(source: str, filename: str):
    """Run rule source text as if it were a part of this module, readable by inspect (so by
    the template parser) under ``filename``."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), globals())


for _name, _axes in (("batch_norm", "channel_axes"), ("instance_norm", "spatial_axes")):
    _define(CHANNEL_NORM_RULES.format(name=_name, axes=_axes), f"<srcad.templates.nn {_name}>")


@adjoint(nn.group_norm)
def group_norm_adjoint(y, x, groups, gamma, beta, eps=1e-5):
    grouped = np.reshape(x, nn.grouped_shape(x, groups))
    axes = nn.spatial_axes(grouped)
    ghat = nn.standardize(grouped, axes, eps)
    scaled = np.reshape(d[y] * np.reshape(gamma, nn.channel_shape(x)), np.shape(grouped))
    d[x] = np.reshape(nn.standardize_vjp(scaled, grouped, ghat, axes, eps), np.shape(x))
    d[gamma] = np.reshape(np.sum(d[y] * np.reshape(ghat, np.shape(x)), axis=nn.channel_axes(x)),
                          np.shape(gamma))
    d[beta] = np.reshape(np.sum(d[y], axis=nn.channel_axes(x)), np.shape(beta))
    d[eps] = -0.5 * np.sum(scaled * ghat / (np.var(grouped, axis=axes, keepdims=True) + eps))


@tangent(nn.group_norm)
def group_norm_tangent(y, x, groups, gamma, beta, eps=1e-5):
    grouped = np.reshape(x, nn.grouped_shape(x, groups))
    axes = nn.spatial_axes(grouped)
    shape = nn.channel_shape(x)
    ghat = nn.standardize(grouped, axes, eps)
    dhat = nn.standardize_vjp(np.reshape(d[x], np.shape(grouped)), grouped, ghat, axes, eps) \
        - 0.5 * ghat / (np.var(grouped, axis=axes, keepdims=True) + eps) * d[eps]
    d[y] = np.reshape(dhat, np.shape(x)) * np.reshape(gamma, shape) + np.reshape(
        ghat, np.shape(x)) * np.reshape(d[gamma], shape) + np.reshape(d[beta], shape)


# layer norm: gamma and beta broadcast against x as they are
@adjoint(nn.layer_norm)
def layer_norm_adjoint(y, x, gamma, beta, axis=-1, eps=1e-5):
    xhat = nn.standardize(x, axis, eps)
    scaled = unbroadcast(d[y] * gamma, x)
    d[x] = nn.standardize_vjp(scaled, x, xhat, axis, eps)
    d[gamma] = unbroadcast(d[y] * xhat, gamma)
    d[beta] = unbroadcast(d[y], beta)
    d[eps] = -0.5 * np.sum(scaled * xhat / (np.var(x, axis=axis, keepdims=True) + eps))


@tangent(nn.layer_norm)
def layer_norm_tangent(y, x, gamma, beta, axis=-1, eps=1e-5):
    xhat = nn.standardize(x, axis, eps)
    dxhat = nn.standardize_vjp(d[x], x, xhat, axis, eps) - 0.5 * xhat / (
        np.var(x, axis=axis, keepdims=True) + eps) * d[eps]
    d[y] = broadcast_like(dxhat * gamma + xhat * d[gamma] + d[beta], y)


# inference: an affine map per channel, y = (x - mean) * gamma / sqrt(var + eps) + beta
@adjoint(nn.batch_norm_inference)
def batch_norm_inference_adjoint(y, x, gamma, beta, mean, var, eps=1e-5):
    shape = nn.channel_shape(x)
    axes = nn.channel_axes(x)
    inv_std = 1.0 / np.sqrt(np.reshape(var, shape) + eps)
    xhat = (x - np.reshape(mean, shape)) * inv_std
    scaled = d[y] * np.reshape(gamma, shape)
    d[x] = scaled * inv_std
    d[gamma] = np.reshape(np.sum(d[y] * xhat, axis=axes), np.shape(gamma))
    d[beta] = np.reshape(np.sum(d[y], axis=axes), np.shape(beta))
    d[mean] = -np.reshape(np.sum(scaled * inv_std, axis=axes), np.shape(mean))
    d[var] = np.reshape(np.sum(-0.5 * scaled * xhat * inv_std * inv_std, axis=axes), np.shape(var))
    d[eps] = np.sum(-0.5 * scaled * xhat * inv_std * inv_std)


@tangent(nn.batch_norm_inference)
def batch_norm_inference_tangent(y, x, gamma, beta, mean, var, eps=1e-5):
    shape = nn.channel_shape(x)
    inv_std = 1.0 / np.sqrt(np.reshape(var, shape) + eps)
    xhat = (x - np.reshape(mean, shape)) * inv_std
    dxhat = (d[x] - np.reshape(d[mean], shape)) * inv_std - 0.5 * xhat * inv_std * inv_std * (
        np.reshape(d[var], shape) + d[eps])
    d[y] = dxhat * np.reshape(gamma, shape) + xhat * np.reshape(d[gamma], shape) + np.reshape(
        d[beta], shape)


# -- dropout: the key decides the mask, so the rule draws the same one -----------------------------

@adjoint(nn.dropout)
def dropout_adjoint(y, x, rate, key):
    d[x] = d[y] * nn.dropout_mask(x, rate, key)
    d[rate] = np.sum(d[y] * y) / (1.0 - rate)         # the scale; the mask is piecewise constant


@tangent(nn.dropout)
def dropout_tangent(y, x, rate, key):
    d[y] = d[x] * nn.dropout_mask(x, rate, key) + y * (d[rate] / (1.0 - rate))


# -- attention: o = softmax(s) v, s = q k^T / sqrt(d) (masked to -1e30) ----------------------------

@adjoint(nn.scaled_dot_product_attention)
def attention_adjoint(y, q, k, v, mask=None):
    scale = 1.0 / math.sqrt(np.shape(q)[-1])
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    p = nn.softmax(scores if mask is None else np.where(mask, scores, -1e30), axis=-1)
    d[v] = unbroadcast(np.swapaxes(p, -1, -2) @ d[y], v)
    gp = d[y] @ np.swapaxes(v, -1, -2)
    gs = p * (gp - np.sum(gp * p, axis=-1, keepdims=True)) * scale    # 0 where masked (p == 0)
    d[q] = unbroadcast(gs @ k, q)
    d[k] = unbroadcast(np.swapaxes(gs, -1, -2) @ q, k)


@tangent(nn.scaled_dot_product_attention)
def attention_tangent(y, q, k, v, mask=None):
    scale = 1.0 / math.sqrt(np.shape(q)[-1])
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    p = nn.softmax(scores if mask is None else np.where(mask, scores, -1e30), axis=-1)
    ds = (d[q] @ np.swapaxes(k, -1, -2) + q @ np.swapaxes(d[k], -1, -2)) * scale
    d[y] = (p * (ds - np.sum(ds * p, axis=-1, keepdims=True))) @ v + p @ d[v]


# -- convolutions: three bilinear maps, each one's adjoints the other two --------------------------
# y = conv2d(x, w); conv_transpose2d is its adjoint in x, conv2d_weight_grad its adjoint in w.

@adjoint(conv.conv2d)
def conv2d_adjoint(y, x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    d[x] = conv.conv_transpose2d(d[y], w, stride, padding, dilation, groups, method,
                                 np.shape(x)[2:])
    d[w] = conv.conv2d_weight_grad(x, d[y], np.shape(w)[2:], stride, padding, dilation, groups,
                                   method)


@tangent(conv.conv2d)
def conv2d_tangent(y, x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    d[y] = conv.conv2d(d[x], w, stride, padding, dilation, groups, method) + conv.conv2d(
        x, d[w], stride, padding, dilation, groups, method)


@adjoint(conv.conv_transpose2d)
def conv_transpose2d_adjoint(r, g, w, stride=1, padding=0, dilation=1, groups=1, method="auto",
                             output_size=None):
    d[g] = conv.conv2d(d[r], w, stride, padding, dilation, groups, method)
    d[w] = conv.conv2d_weight_grad(d[r], g, np.shape(w)[2:], stride, padding, dilation, groups,
                                   method)


@tangent(conv.conv_transpose2d)
def conv_transpose2d_tangent(r, g, w, stride=1, padding=0, dilation=1, groups=1, method="auto",
                             output_size=None):
    d[r] = conv.conv_transpose2d(d[g], w, stride, padding, dilation, groups, method,
                                 output_size) + conv.conv_transpose2d(
        g, d[w], stride, padding, dilation, groups, method, output_size)


@adjoint(conv.conv2d_weight_grad)
def conv2d_weight_grad_adjoint(s, x, g, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                               method="auto"):
    d[x] = conv.conv_transpose2d(g, d[s], stride, padding, dilation, groups, method,
                                 np.shape(x)[2:])
    d[g] = conv.conv2d(x, d[s], stride, padding, dilation, groups, method)


@tangent(conv.conv2d_weight_grad)
def conv2d_weight_grad_tangent(s, x, g, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                               method="auto"):
    d[s] = conv.conv2d_weight_grad(d[x], g, kernel_size, stride, padding, dilation, groups,
                                   method) + conv.conv2d_weight_grad(
        x, d[g], kernel_size, stride, padding, dilation, groups, method)


# conv1d: conv2d over a height of 1
@adjoint(conv.conv1d)
def conv1d_adjoint(y, x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    d[x] = conv.conv_transpose2d(d[y][:, :, None, :], w[:, :, None, :], (1, stride), (0, padding),
                                 (1, dilation), groups, method, (1, np.shape(x)[2]))[:, :, 0, :]
    d[w] = conv.conv2d_weight_grad(x[:, :, None, :], d[y][:, :, None, :], (1, np.shape(w)[2]),
                                   (1, stride), (0, padding), (1, dilation), groups,
                                   method)[:, :, 0, :]


@tangent(conv.conv1d)
def conv1d_tangent(y, x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    d[y] = conv.conv1d(d[x], w, stride, padding, dilation, groups, method) + conv.conv1d(
        x, d[w], stride, padding, dilation, groups, method)


# -- pooling: max sends each window's derivative to its (first) maximum; avg is linear -------------

@adjoint(conv.max_pool2d)
def max_pool2d_adjoint(y, x, kernel_size, stride=None, padding=0):
    d[x] = conv.scatter_windows(d[y], conv.window_argmax(x, kernel_size, stride, padding), x)


@tangent(conv.max_pool2d)
def max_pool2d_tangent(y, x, kernel_size, stride=None, padding=0):
    d[y] = conv.gather_windows(d[x], conv.window_argmax(x, kernel_size, stride, padding))


@adjoint(conv.gather_windows)
def gather_windows_adjoint(y, x, index):
    d[x] = conv.scatter_windows(d[y], index, x)


@tangent(conv.gather_windows)
def gather_windows_tangent(y, x, index):
    d[y] = conv.gather_windows(d[x], index)


@adjoint(conv.scatter_windows)
def scatter_windows_adjoint(y, g, index, like):
    d[g] = conv.gather_windows(d[y], index)


@tangent(conv.scatter_windows)
def scatter_windows_tangent(y, g, index, like):
    d[y] = conv.scatter_windows(d[g], index, like)


@adjoint(conv.avg_pool2d)
def avg_pool2d_adjoint(y, x, kernel_size, stride=None, padding=0):
    d[x] = conv.avg_pool2d_transpose(d[y], x, kernel_size, stride, padding)


@tangent(conv.avg_pool2d)
def avg_pool2d_tangent(y, x, kernel_size, stride=None, padding=0):
    d[y] = conv.avg_pool2d(d[x], kernel_size, stride, padding)


@adjoint(conv.avg_pool2d_transpose)
def avg_pool2d_transpose_adjoint(r, g, like, kernel_size, stride=None, padding=0):
    d[g] = conv.avg_pool2d(d[r], kernel_size, stride, padding)


@tangent(conv.avg_pool2d_transpose)
def avg_pool2d_transpose_tangent(r, g, like, kernel_size, stride=None, padding=0):
    d[r] = conv.avg_pool2d_transpose(d[g], like, kernel_size, stride, padding)
