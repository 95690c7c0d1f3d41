"""Speed that does not depend on spelling: each workload written three or more ways people write
it, every spelling's srcad gradient timed against one hand-written NumPy gradient in the same
process (interleaved repeats), at a small and a large size.

Usage: ``python benchmarks/spellings.py [--quick] [--only NAME] [--size small|large]
[--peers jax-jit|none]``

Every spelling computes the same function of the same arguments, so one hand-written gradient
serves them all; each srcad gradient is checked against it (np.allclose) before it is timed.
The "worst" column is the worst spelling's ratio, the figure issue 16 targets. When JAX is
installed (an optional peer, as in ``run.py``), ``jax.jit`` of ``jax.grad`` of each spelling
is timed in the same interleaved run, its first call (trace and compile) reported apart.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from run import (FULL_TARGET, QUICK_TARGET, available_peers, interleaved_times,  # noqa: E402
                 max_error, prepare_peer, same)
from workloads import _one_hot, _rng, rnn_grad  # noqa: E402
from workloads import softmax_xent_args as xent_args  # noqa: E402
from workloads import softmax_xent_grad as xent_grad  # noqa: E402

import srcad  # noqa: E402


# -- logistic regression with a float bias, wrt (w, b) -----------------------------------------

def logreg_matmul_mean(w, b, X, y, lam):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum(w * w)


def logreg_dot_sum(w, b, X, y, lam):
    z = np.dot(X, w) + b
    nll = np.log(1.0 + np.exp(z)) - y * z
    return np.sum(nll) / X.shape[0] + 0.5 * lam * np.dot(w, w)


def logreg_method_sigmoid(w, b, X, y, lam):
    p = 1.0 / (1.0 + np.exp(-(X.dot(w) + b)))
    nll = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return nll.sum() / len(y) + 0.5 * lam * (w * w).sum()


def logreg_grad(w, b, X, y, lam):
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    r = (p - y) / len(y)
    return X.T @ r + lam * w, float(np.sum(r))


def logreg_args(size):
    n, dim = {"small": (100, 10), "large": (1000, 100)}[size]
    g = _rng(1)
    X = g.standard_normal((n, dim))
    y = (g.random(n) < 0.5).astype(float)
    return g.standard_normal(dim) * 0.1, 0.1, X, y, 1e-3


# -- tanh MLP with softmax cross-entropy, wrt every weight and bias ----------------------------

def mlp_matmul(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def mlp_dot(W1, b1, W2, b2, X, Y):
    h = np.tanh(np.dot(X, W1) + b1)
    logits = np.dot(h, W2) + b2
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=1))


def mlp_methods(W1, b1, W2, b2, X, Y):
    h = np.tanh(X.dot(W1) + b1)
    logits = np.matmul(h, W2) + b2
    z = logits - np.max(logits, axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=-1))
    return (lse - np.sum(Y * z, axis=-1)).sum() / len(X)


def mlp_grad(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    dlogits = (p * Y.sum(axis=1, keepdims=True) - Y) / X.shape[0]
    da = (dlogits @ W2.T) * (1.0 - h * h)
    return X.T @ da, da.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)


def mlp_args(size):
    n_in, n_hidden, n_out, batch = {"small": (64, 32, 10, 16),
                                    "large": (784, 256, 10, 128)}[size]
    g = _rng(2)
    return (g.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), g.standard_normal(n_hidden) * 0.1,
            g.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden),
            g.standard_normal(n_out) * 0.1, g.standard_normal((batch, n_in)),
            _one_hot(g.integers(0, n_out, batch), n_out))


# -- tanh RNN, wrt the recurrent and input weights ---------------------------------------------

def rnn_matmul_range(Wh, Wx, xs, h0):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ Wh + xs[t] @ Wx)
    return np.sum(h * h)


def rnn_dot_range(Wh, Wx, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(h, Wh) + np.dot(xs[t], Wx))
    return np.sum(h * h)


def rnn_method_iter(Wh, Wx, xs, h0):
    h = h0
    for x_t in xs:
        h = np.tanh(h.dot(Wh) + x_t.dot(Wx))
    return (h ** 2).sum()


def rnn_args(size):
    steps, batch, hidden, n_in = {"small": (10, 4, 8, 4), "large": (50, 16, 64, 32)}[size]
    g = _rng(3)
    return (g.standard_normal((hidden, hidden)) / np.sqrt(hidden),
            g.standard_normal((n_in, hidden)) / np.sqrt(n_in),
            g.standard_normal((steps, batch, n_in)), g.standard_normal((batch, hidden)) * 0.1)


# -- softmax cross-entropy with a broadcast bias and a float temperature, wrt all three ---------

def xent_mean(logits, b, tau, Y):
    z = (logits + b) / tau
    z = z - np.max(z, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=-1))


def xent_sum_shape(logits, b, tau, Y):
    z = (logits + b) / tau
    m = z.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return np.sum(Y * (lse - z)) / logits.shape[0]


def xent_probabilities(logits, b, tau, Y):
    z = (logits + b) * (1.0 / tau)
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return -(Y * np.log(p)).sum() / len(Y)


FAMILIES = {
    "logreg": ((logreg_matmul_mean, logreg_dot_sum, logreg_method_sigmoid), logreg_grad,
               logreg_args, (0, 1)),
    "mlp": ((mlp_matmul, mlp_dot, mlp_methods), mlp_grad, mlp_args, (0, 1, 2, 3)),
    "rnn": ((rnn_matmul_range, rnn_dot_range, rnn_method_iter), rnn_grad, rnn_args, (0, 1)),
    "softmax_xent": ((xent_mean, xent_sum_shape, xent_probabilities), xent_grad, xent_args,
                     (0, 1, 2)),
}


def measure(name, size, target, repeat, peers=()):
    """(spelling -> its gradient's time over the hand-written gradient's (or a string), the
    hand-written gradient's time, peer -> spelling -> (ratio or string, first call seconds))."""
    spellings, hand, make_args, wrt = FAMILIES[name]
    args = make_args(size)
    expected = hand(*args)
    fns = {"hand": lambda: hand(*args)}
    out = {}
    firsts = {}
    for peer in peers:
        for f in spellings:
            run, first = prepare_peer(peer, f, wrt, args, expected)
            key = f"{peer}:{f.__name__}"
            if isinstance(run, str):
                out[key] = run
            else:
                fns[key], firsts[key] = run, first
    for f in spellings:
        try:
            df = srcad.grad(f, wrt=wrt)
            got = df(*args)
        except Exception as exc:   # reported, not hidden: the spelling is unsupported
            out[f.__name__] = f"unsupported: {type(exc).__name__}"
            continue
        if not same(got, expected, wrt):
            out[f.__name__] = f"WRONG (max rel. error {max_error(got, expected, wrt):.1e})"
            continue
        fns[f.__name__] = (lambda df=df: df(*args))
    times = interleaved_times(fns, target, repeat)
    for key, t in times.items():
        if key != "hand":
            out[key] = t / times["hand"]
    by_peer = {peer: {f.__name__: (out[f"{peer}:{f.__name__}"],
                                   firsts.get(f"{peer}:{f.__name__}")) for f in spellings}
               for peer in peers}
    return {f.__name__: out[f.__name__] for f in spellings}, times["hand"], by_peer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=sorted(FAMILIES))
    parser.add_argument("--size", choices=("small", "large"))
    parser.add_argument("--peers", default="jax-jit", help="'jax-jit' (the default, when "
                        "JAX is installed) or 'none'")
    opts = parser.parse_args()
    target, repeat = (QUICK_TARGET, 3) if opts.quick else (FULL_TARGET, 7)
    peers = [p for p in available_peers() if p in opts.peers.split(",") and p == "jax-jit"]
    header = "| workload | size | hand µs | spelling: ratio to hand-written | worst |"
    header += "".join(f" {p}: ratio to hand-written (first call ms) | {p} worst |" for p in peers)
    print(header)
    print("|---" * header.count(" |") + "|")
    for name in [opts.only] if opts.only else FAMILIES:
        for size in [opts.size] if opts.size else ("small", "large"):
            ratios, hand, by_peer = measure(name, size, target, repeat, peers)
            line = f"| {name} | {size} | {hand * 1e6:.1f} | " + _cells(ratios)
            for peer in peers:
                line += " | " + _cells({k: v for k, (v, _) in by_peer[peer].items()}, {
                    k: first for k, (_, first) in by_peer[peer].items()})
            print(line + " |", flush=True)


def _cells(ratios, firsts=None):
    """``name ratio (first ms), ... | worst``: one table row's cells for one runner."""
    firsts = firsts or {}
    cells = ", ".join(
        (f"{k} {v:.2f}x" if isinstance(v, float) else f"{k} {v}")
        + (f" ({firsts[k] * 1e3:.0f} ms)" if firsts.get(k) is not None else "")
        for k, v in ratios.items())
    numbers = [v for v in ratios.values() if isinstance(v, float)]
    worst = f"{max(numbers):.2f}x" if len(numbers) == len(ratios) else "n/a"
    return f"{cells} | {worst}"


if __name__ == "__main__":
    main()
