"""Issue 13: a dict-of-params MLP gradient against the same MLP with positional arrays.

    python benchmarks/containers.py [--repeat N]

Prints the build time (``srcad.grad(f)`` plus the first call, cache cleared) and the call time
(per call, over batches of calls) of each form, the best of N rounds in which the two forms
alternate (the machine's load falls on both), and their ratios.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import srcad


def mlp_dict(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    h = np.tanh(h @ params["W2"] + params["b2"])
    out = h @ params["W3"] + params["b3"]
    return np.mean((out - y) ** 2)


def mlp_positional(W1, b1, W2, b2, W3, b3, X, y):
    h = np.tanh(X @ W1 + b1)
    h = np.tanh(h @ W2 + b2)
    out = h @ W3 + b3
    return np.mean((out - y) ** 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    options = parser.parse_args()
    g = np.random.default_rng(0)
    sizes = [(10, 16), (16, 16), (16,)]
    params = {"W1": g.standard_normal(sizes[0]), "b1": g.standard_normal(16),
              "W2": g.standard_normal(sizes[1]), "b2": g.standard_normal(16),
              "W3": g.standard_normal(16), "b3": 0.1}
    X = g.standard_normal((options.batch, 10))
    y = g.standard_normal(options.batch)
    arrays = list(params.values())
    forms = {
        "dict": (lambda: srcad.grad(mlp_dict), (params, X, y)),
        "positional": (lambda: srcad.grad(mlp_positional, wrt=tuple(range(6))),
                       (*arrays, X, y)),
    }
    builds: dict = {name: [] for name in forms}
    calls: dict = {name: [] for name in forms}
    ready = {}
    for _ in range(options.repeat):           # the forms alternate: the load is shared
        for name, (make, args) in forms.items():
            srcad.clear_cache()
            start = time.perf_counter()
            make()(*args)
            builds[name].append(time.perf_counter() - start)
    for name, (make, args) in forms.items():
        ready[name] = make()
        ready[name](*args)
    for _ in range(options.repeat):
        for name, (make, args) in forms.items():
            df = ready[name]
            start = time.perf_counter()
            for _ in range(options.calls):
                df(*args)
            calls[name].append((time.perf_counter() - start) / options.calls)
    results = {}
    for name in forms:
        results[name] = min(builds[name]), min(calls[name])
        print(f"{name:>10}: build {results[name][0] * 1e3:7.2f} ms   "
              f"call {results[name][1] * 1e6:7.2f} us")
    gd = srcad.grad(mlp_dict)(params, X, y)
    gp = srcad.grad(mlp_positional, wrt=tuple(range(6)))(*arrays, X, y)
    assert all(np.allclose(gd[k], v) for k, v in zip(params, gp))
    (bd, cd), (bp, cp) = results["dict"], results["positional"]
    print(f"dict / positional: build {bd / bp:.2f}x, call {cd / cp:.2f}x")


if __name__ == "__main__":
    main()
