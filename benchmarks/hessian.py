"""Hessian of a 100-parameter function: srcad.hessian (forward over reverse, one JVP of the
generated gradient per column) against a hand-written Hessian and a central finite-difference
Hessian of the hand-written gradient, measured in one process.

Usage: ``python benchmarks/hessian.py [--n 100] [--cpu]`` (the three timed interleaved, best
of 7 rounds; ``--cpu``: CPU time of the process instead of the wall clock)
"""
from __future__ import annotations

import argparse
import time
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


def interleaved(fns, rounds=7, cpu=False):
    """The best time per call of each of ``fns`` (name -> function), in ``rounds`` rounds
    that time each function once in turn, so that a change of load on the shared machine
    moves them alike. ``cpu``: this process's CPU time (``time.process_time``: what the code
    costs while other processes share the cores; it counts every thread, so a multithreaded
    BLAS call counts its helper threads too) instead of the wall clock."""
    timer = time.process_time if cpu else time.perf_counter
    numbers = {k: max(1, timeit.Timer(fn, timer=timer).autorange()[0] // 4)
               for k, fn in fns.items()}
    times: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(timeit.Timer(fn, timer=timer).timeit(numbers[k]) / numbers[k])
    return {k: min(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--cpu", action="store_true",
                        help="time this process's CPU time, not the wall clock")
    options = parser.parse_args()
    n = options.n
    x = np.random.default_rng(0).uniform(-1.0, 1.0, n)
    hess = srcad.hessian(rosenbrock)
    ours = hess(x)
    np.testing.assert_allclose(ours, rosenbrock_hessian(x), rtol=1e-10, atol=1e-10)
    times = interleaved({"srcad": lambda: hess(x), "hand": lambda: rosenbrock_hessian(x),
                         "fd": lambda: fd_hessian(rosenbrock_grad, x)}, cpu=options.cpu)
    t_srcad, t_hand, t_fd = times["srcad"], times["hand"], times["fd"]
    print(f"Hessian of the {n}-parameter Rosenbrock function"
          f"{' (CPU time)' if options.cpu else ''}")
    print("| method | ms | ratio to srcad |")
    print("|---|---|---|")
    for name, t in (("srcad.hessian (forward over reverse)", t_srcad),
                    ("hand-written Hessian", t_hand),
                    ("finite differences of the hand-written gradient", t_fd)):
        print(f"| {name} | {t * 1e3:.3f} | {t / t_srcad:.2f} |")


if __name__ == "__main__":
    main()
