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
import math

import numpy as np

from srcad import nn
from srcad.registry import adjoint, d, nondiff, tangent, unary
from srcad.runtime import broadcast_like, expand_reduced, unbroadcast

nondiff(nn.is_labels, nn.one_hot, nn.samples, nn.elements)


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
