"""Check every hand-written gradient in workloads.py against central finite differences.

Small sizes: every coordinate of every differentiated argument. Large sizes: a few random
directions (``<grad, v>`` against ``(f(x + h v) - f(x - h v)) / 2h``). Exit status 1 on any
mismatch. Usage: ``python benchmarks/check_handwritten.py [--only NAME]``.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS  # noqa: E402

RTOL = 1e-5
ATOL = 1e-7


def _wrt(workload):
    return (workload.wrt,) if isinstance(workload.wrt, int) else workload.wrt


def _grads(workload, args):
    g = workload.grad(*args)
    return (g,) if isinstance(workload.wrt, int) else tuple(g)


def _shifted(args, index, direction, h):
    """args with args[index] moved by h * direction (a float or an array like it)."""
    out = list(args)
    x = args[index]
    out[index] = float(x + h * direction) if isinstance(x, float) else x + h * direction
    return out


def _directional_fd(f, args, index, direction):
    """The central difference and its rounding noise (from the size of f's values)."""
    x = args[index]
    h = 1e-6 * max(1.0, float(np.max(np.abs(x))))
    up = float(f(*_shifted(args, index, direction, h)))
    down = float(f(*_shifted(args, index, direction, -h)))
    noise = 64.0 * np.finfo(float).eps * max(abs(up), abs(down)) / h
    return (up - down) / (2.0 * h), noise


def _unit(x, flat_index):
    e = np.zeros(np.shape(x))
    e.flat[flat_index] = 1.0
    return e


def check(workload, size, directions=3, seed=0):
    """A list of failure messages (empty when the hand-written gradient is right)."""
    args = workload.args(size)
    failures = []
    rng = np.random.default_rng(seed)
    for index, g in zip(_wrt(workload), _grads(workload, args)):
        x = args[index]
        if np.shape(g) != np.shape(x):
            failures.append(f"arg {index}: gradient shape {np.shape(g)} != {np.shape(x)}")
            continue
        if isinstance(x, float):
            cases = [(1.0, float(g), abs(float(g)))]
        elif size == "small":
            flat = np.ravel(g)
            cases = [(_unit(x, i), float(flat[i]), abs(float(flat[i])))
                     for i in range(np.size(x))]
        else:
            # g itself (no cancellation in <g, v>: catches a wrong scale) and random directions
            vs = [g / max(float(np.max(np.abs(g))), 1e-300)]
            vs += [rng.standard_normal(np.shape(x)) for _ in range(directions)]
            cases = []
            for v in vs:
                cases.append((v, float(np.vdot(g, v)), float(np.sum(np.abs(g) * np.abs(v)))))
        for direction, expected, scale in cases:
            # scale = sum |g_i v_i|: the size of the terms of <g, v>; a random direction can
            # be nearly orthogonal to g, so the tolerance is relative to the terms, not the sum.
            fd, noise = _directional_fd(workload.f, args, index, direction)
            if abs(expected - fd) > RTOL * scale + ATOL + noise:
                failures.append(f"arg {index}: hand-written {expected:.10g} vs "
                                f"finite difference {fd:.10g}")
                break
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="check only this workload")
    opts = parser.parse_args(argv)
    ok = True
    for workload in WORKLOADS:
        if opts.only and workload.name != opts.only:
            continue
        for size in ("small", "large"):
            failures = check(workload, size)
            status = "ok" if not failures else "FAIL"
            print(f"{workload.name:14s} {size:6s} {status}")
            for message in failures:
                print(f"    {message}")
            ok &= not failures
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
