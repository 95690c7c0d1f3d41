"""srcad's ``backend='numba'`` on the scalar loop workload (the building simulation): the
gradient's time over the hand-written Python gradient's, beside srcad's plain (Python)
gradient, and the one-off cost of the first call (build of the specialized variant plus numba's
compilation) reported apart. Each gradient is checked against the hand-written one first.

Usage: ``python benchmarks/numba_backend.py [--sizes small,large] [--repeat 5]``
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import srcad                                        # noqa: E402
from run import interleaved_times                   # noqa: E402
from workloads import WORKLOADS                     # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args(argv)
    import numba
    work = next(w for w in WORKLOADS if w.name == "building")
    print(f"numba {numba.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}, {platform.machine()}")
    print("| workload | size | numba / hand | plain srcad / hand | hand us | numba us | "
          "numba first call s (build + compile) | plain first call s |")
    print("|---|---|---|---|---|---|---|---|")
    for size in opts.sizes.split(","):
        args = work.args(size)
        firsts, grads = {}, {}
        for backend in ("numba", "python"):
            srcad.clear_cache()
            start = time.perf_counter()
            grads[backend] = srcad.grad(work.f, wrt=work.wrt, backend=backend)
            out = grads[backend](*args)
            firsts[backend] = time.perf_counter() - start
            for got, want in zip(out, work.grad(*args)):
                assert np.allclose(got, want), (backend, size)
        times = interleaved_times({"hand": lambda: work.grad(*args),
                                   "numba": lambda: grads["numba"](*args),
                                   "python": lambda: grads["python"](*args)}, 0.2, opts.repeat)
        print(f"| building | {work.describe[size]} | {times['numba'] / times['hand']:.3f}x | "
              f"{times['python'] / times['hand']:.2f}x | {times['hand'] * 1e6:.0f} | "
              f"{times['numba'] * 1e6:.1f} | {firsts['numba']:.2f} | {firsts['python']:.3f} |")


if __name__ == "__main__":
    main()
