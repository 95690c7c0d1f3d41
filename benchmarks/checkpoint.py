"""Checkpointed RNN gradient (issue 16, part 4): ``srcad.grad(rnn_loss, checkpoint=True)``
against the plain tape on the workloads' tanh RNN with T=1000 steps.

Peak memory is tracemalloc's peak during one gradient call (arguments allocated before);
time is the best of 5 repeats of at least 0.2 s, plain and checkpointed interleaved. Both
gradients are checked equal first. Run: ``python benchmarks/checkpoint.py [--steps T]``.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import srcad  # noqa: E402
from workloads import rnn_loss  # noqa: E402


def _args(steps, batch=16, hidden=64, n_in=32):
    g = np.random.default_rng(3)
    return (g.standard_normal((hidden, hidden)) / np.sqrt(hidden),
            g.standard_normal((n_in, hidden)) / np.sqrt(n_in),
            g.standard_normal((steps, batch, n_in)), g.standard_normal((batch, hidden)) * 0.1)


def _peak(fn, args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _best(fns, args, repeats=5, least=0.2):
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            n, start = 0, time.perf_counter()
            while True:
                fn(*args)
                n += 1
                took = time.perf_counter() - start
                if took >= least:
                    break
            best[i] = min(best[i], took / n)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    steps = parser.parse_args().steps
    args = _args(steps)
    plain = srcad.grad(rnn_loss, wrt=(0, 1))
    ckpt = srcad.grad(rnn_loss, wrt=(0, 1), checkpoint=True)
    for a, b in zip(plain(*args), ckpt(*args)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    mem_plain, mem_ckpt = _peak(plain, args), _peak(ckpt, args)
    t_plain, t_ckpt = _best([plain, ckpt], args)
    print(f"| rnn T={steps} B=16 H=64 | {mem_plain / 1024:.0f} KiB | {mem_ckpt / 1024:.0f} KiB | "
          f"{mem_ckpt / mem_plain:.3f} | {t_plain * 1e3:.2f} ms | {t_ckpt * 1e3:.2f} ms | "
          f"{t_ckpt / t_plain:.2f} |")


if __name__ == "__main__":
    main()
