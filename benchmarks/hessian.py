"""Hessian of a 100-parameter function: srcad.hessian (forward over reverse, one JVP of the
generated gradient per column) against a hand-written Hessian and a central finite-difference
Hessian of the hand-written gradient, measured in one process.

Usage: ``python benchmarks/hessian.py [--n 100]``
"""
from __future__ import annotations

import argparse
import timeit

import numpy as np

import srcad


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def rosenbrock_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    i = np.arange(n - 1)
    h[i, i] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    h[i + 1, i + 1] += 200.0
    h[i, i + 1] = h[i + 1, i] = -400.0 * x[:-1]
    return h


def fd_hessian(grad, x, eps=1e-6):
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = eps
        cols.append((grad(x + e) - grad(x - e)) / (2 * eps))
    return np.stack(cols, axis=1)


def best(fn, repeat=5):
    number, _ = timeit.Timer(fn).autorange()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    n = parser.parse_args().n
    x = np.random.default_rng(0).uniform(-1.0, 1.0, n)
    hess = srcad.hessian(rosenbrock)
    ours = hess(x)
    np.testing.assert_allclose(ours, rosenbrock_hessian(x), rtol=1e-10, atol=1e-10)
    t_srcad = best(lambda: hess(x))
    t_hand = best(lambda: rosenbrock_hessian(x))
    t_fd = best(lambda: fd_hessian(rosenbrock_grad, x))
    print(f"Hessian of the {n}-parameter Rosenbrock function")
    print("| method | ms | ratio to srcad |")
    print("|---|---|---|")
    for name, t in (("srcad.hessian (forward over reverse)", t_srcad),
                    ("hand-written Hessian", t_hand),
                    ("finite differences of the hand-written gradient", t_fd)):
        print(f"| {name} | {t * 1e3:.3f} | {t / t_srcad:.2f} |")


if __name__ == "__main__":
    main()
