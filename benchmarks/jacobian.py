"""A 100 -> 100 Jacobian: ``srcad.jacobian`` in forward mode (batched tangents) and reverse
mode (batched cotangents) against a hand-written Jacobian, measured in one process.

Usage: ``python benchmarks/jacobian.py [--n 100] [--cpu]`` (timed interleaved, best of 7
rounds; ``--cpu``: CPU time of the process instead of the wall clock)
"""
from __future__ import annotations

import argparse

import numpy as np

import srcad
from hessian import interleaved


def layer(x, W, c):
    """A dense layer plus an elementwise term: y = tanh(W @ x) + c * x ** 2."""
    return np.tanh(W @ x) + c * x ** 2


def layer_jacobian(x, W, c):
    t = np.tanh(W @ x)
    J = (1.0 - t * t)[:, None] * W
    J[np.diag_indices_from(J)] += 2.0 * c * x
    return J


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--cpu", action="store_true",
                        help="time this process's CPU time, not the wall clock")
    options = parser.parse_args()
    n = options.n
    rng = np.random.default_rng(0)
    x, W, c = rng.standard_normal(n), rng.standard_normal((n, n)) / np.sqrt(n), 0.5
    want = layer_jacobian(x, W, c)
    fns = {}
    for mode in ("forward", "reverse"):
        jac = srcad.jacobian(layer, mode=mode)
        np.testing.assert_allclose(jac(x, W, c), want, rtol=1e-10, atol=1e-12)
        fns[f"srcad.jacobian(mode={mode!r})"] = (lambda jac: lambda: jac(x, W, c))(jac)
    fns["hand-written Jacobian"] = lambda: layer_jacobian(x, W, c)
    times = interleaved(fns, cpu=options.cpu)
    t_hand = times.pop("hand-written Jacobian")
    rows = list(times.items())
    print(f"Jacobian of a {n} -> {n} layer, tanh(W @ x) + c * x ** 2"
          f"{' (CPU time)' if options.cpu else ''}")
    print("| method | ms | ratio to hand-written |")
    print("|---|---|---|")
    for name, t in rows + [("hand-written Jacobian", t_hand)]:
        print(f"| {name} | {t * 1e3:.3f} | {t / t_hand:.2f} |")


if __name__ == "__main__":
    main()
