"""Fused against composed derivatives of srcad.nn operators: the gradient (reverse mode) and the
JVP (forward mode) of ``sum(op(x) * W)`` with srcad.nn's operator, whose rule is fused, over
the same operator written as plain NumPy, which srcad differentiates step by step. Both are
srcad-generated; they are checked to agree before they are timed (interleaved, best of
several runs).

Usage: ``python benchmarks/nn_fused.py [--quick]``; prints a markdown table, ratios above 1
meaning the fused rule is faster.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import interleaved_times  # noqa: E402

import srcad  # noqa: E402
from srcad import nn  # noqa: E402


def c_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def c_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def c_softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def c_log_softmax(x):
    s = x - np.max(x, axis=-1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def c_cross_entropy(x, onehot):
    return -np.mean(np.sum(onehot * c_log_softmax(x), axis=-1))


def c_bce(x, t):
    return np.mean(np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x))))


def c_batch_norm(x, g, b):
    mu = np.mean(x, axis=(0, 2, 3), keepdims=True)
    var = np.var(x, axis=(0, 2, 3), keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g[None, :, None, None] + b[None, :, None, None]


def c_layer_norm(x, g, b):
    mu = np.mean(x, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(np.var(x, axis=-1, keepdims=True) + 1e-5) * g + b


def c_attention(q, k, v):
    return c_softmax(q @ np.swapaxes(k, -1, -2) / 8.0) @ v


def c_conv(x, w):
    p, q = x.shape[2] - 2, x.shape[3] - 2
    y = np.einsum("nchw,oc->nohw", x[:, :, 0:p, 0:q], w[:, :, 0, 0])
    for i in range(3):
        for j in range(3):
            if i + j > 0:
                y = y + np.einsum("nchw,oc->nohw", x[:, :, i:i + p, j:j + q], w[:, :, i, j])
    return y


def c_max_pool(x):
    n, c, h, w = x.shape
    return np.max(np.reshape(x, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))


# fused (srcad.nn) and composed losses of each operator, and the inputs they are timed on

def f_sigmoid(x):
    return np.sum(nn.sigmoid(x) * x)


def k_sigmoid(x):
    return np.sum(c_sigmoid(x) * x)


def f_gelu(x):
    return np.sum(nn.gelu(x, "tanh") * x)


def k_gelu(x):
    return np.sum(c_gelu(x) * x)


def f_softmax(x):
    return np.sum(nn.softmax(x) * x)


def k_softmax(x):
    return np.sum(c_softmax(x) * x)


def f_log_softmax(x):
    return np.sum(nn.log_softmax(x) * x)


def k_log_softmax(x):
    return np.sum(c_log_softmax(x) * x)


def f_cross_entropy(x, t):
    return nn.cross_entropy(x, t)


def f_bce(x, t):
    return nn.binary_cross_entropy_with_logits(x, t)


def f_batch_norm(x, g, b):
    return np.sum(nn.batch_norm(x, g, b) * x)


def k_batch_norm(x, g, b):
    return np.sum(c_batch_norm(x, g, b) * x)


def f_layer_norm(x, g, b):
    return np.sum(nn.layer_norm(x, g, b) * x)


def k_layer_norm(x, g, b):
    return np.sum(c_layer_norm(x, g, b) * x)


def f_attention(q, k, v):
    return np.sum(nn.scaled_dot_product_attention(q, k, v) * q)


def k_attention(q, k, v):
    return np.sum(c_attention(q, k, v) * q)


def f_conv(x, w):
    return np.sum(nn.conv2d(x, w) ** 2)


def k_conv(x, w):
    return np.sum(c_conv(x, w) ** 2)


def f_max_pool(x):
    return np.sum(nn.max_pool2d(x, 2) ** 2)


def k_max_pool(x):
    return np.sum(c_max_pool(x) ** 2)


def cases(rng):
    r = rng.standard_normal
    x = r((256, 512))
    logits = r((256, 1000))
    onehot = nn.one_hot(rng.integers(0, 1000, 256), 1000)
    image = r((32, 16, 16, 16))
    qkv = (r((8, 128, 64)), r((8, 128, 64)), r((8, 128, 64)))
    return {
        "sigmoid": (f_sigmoid, k_sigmoid, (x,)),
        "gelu (tanh)": (f_gelu, k_gelu, (x,)),
        "softmax": (f_softmax, k_softmax, (logits,)),
        "log_softmax": (f_log_softmax, k_log_softmax, (logits,)),
        "cross_entropy": (f_cross_entropy, c_cross_entropy, (logits, onehot)),
        "bce_with_logits": (f_bce, c_bce, (x, (x > 0.3) * 1.0)),
        "batch_norm": (f_batch_norm, k_batch_norm, (image, r(16), r(16))),
        "layer_norm": (f_layer_norm, k_layer_norm, (x, r(512), r(512))),
        "attention": (f_attention, k_attention, qkv),
        "conv2d 3x3": (f_conv, k_conv, (image, r((16, 16, 3, 3)))),
        "max_pool2d": (f_max_pool, k_max_pool, (image,)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    target, repeat = (0.05, 3) if args.quick else (0.2, 5)
    rng = np.random.default_rng(0)
    print("| operator | shape | composed / fused, gradient | composed / fused, JVP |")
    print("| --- | --- | --- | --- |")
    for name, (fused, composed, inputs) in cases(rng).items():
        f, c = fused, composed
        gf, gc = srcad.grad(f), srcad.grad(c)
        np.testing.assert_allclose(gf(*inputs), gc(*inputs), rtol=1e-7, atol=1e-9)
        tangent = rng.standard_normal(np.shape(inputs[0]))
        jf = srcad.autodiff(f, mode="forward")
        jc = srcad.autodiff(c, mode="forward")
        np.testing.assert_allclose(jf(*inputs, tangent), jc(*inputs, tangent), rtol=1e-7)
        times = interleaved_times({"gf": lambda: gf(*inputs), "gc": lambda: gc(*inputs),
                                   "jf": lambda: jf(*inputs, tangent),
                                   "jc": lambda: jc(*inputs, tangent)}, target, repeat)
        print(f"| {name} | {np.shape(inputs[0])} | {times['gc'] / times['gf']:.2f} "
              f"({times['gf'] * 1e3:.2f} ms fused) | {times['jc'] / times['jf']:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
