"""Per-call cost of srcad's call path: ``derivative(*args)`` against the generated function
it runs, called directly with the same arguments, in one run (issue 16, part 1).

    OMP_NUM_THREADS=1 python benchmarks/call_overhead.py [--repeat 7] [--number 20000]

For each workload: the median over repeats of the time per call of each, and the call
path's cost: the median of the differences of the paired repeats (and the difference of the
minima). The dict-of-params MLP goes through the container path
(flatten the dict, rebuild the gradient as a dict); the generated function takes the leaves.

``--stub`` measures the call path alone, with less noise: the generated function the fast
path calls is replaced by a stub returning the result it computed once (so both sides cost
one Python call, and the difference is the tests and the result's assembly).
"""
import argparse
import statistics
import timeit

import numpy as np

import srcad
from srcad import dispatch


def poly(x):
    return 3.0 * x ** 4 + 2.0 * x ** 3 - x ** 2 + 5.0 * x + 1.0


def small(w, x):
    return np.sum(np.tanh(x * w) ** 2)


def mlp(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.sum((h @ params["W2"] + params["b2"]) ** 2)


def squares(xs):
    return sum(x * x for x in xs)


def _workloads():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(4, 8)), "b1": np.zeros(8),
              "W2": rng.normal(size=(8, 2)), "b2": np.zeros(2)}
    x = rng.normal(size=(3, 4))
    return [("scalar polynomial", poly, (1.3,), (1.3,)),
            ("small arrays (8,)", small, (rng.normal(size=8), rng.normal(size=8)), None),
            ("dict-of-params MLP", mlp, (params, x), tuple(params.values()) + (x,)),
            ("list of 8 floats", squares, ([float(v) for v in rng.normal(size=8)],), None)]


def _per_call(fn, args, number, repeat):
    timer = timeit.Timer("fn(*args)", globals={"fn": fn, "args": args})
    return [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]


def _stub(d, generated, result):
    """Make the fast path of ``d`` call, instead of ``generated``, a function returning
    ``result``; return that function."""
    def stub(*args):
        return result
    dispatcher = d.__srcad_dispatcher__
    for name, value in dispatcher.ns.items():
        if value is generated and name.endswith("_fn"):
            dispatcher.ns[name] = stub
    return stub


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--stub", action="store_true",
                        help="replace the generated function by a stub returning its result")
    opts = parser.parse_args()
    print(f"{'workload':<22} {'derivative(*args)':>18} {'generated fn':>13} {'call path':>10}")
    for name, f, args, direct_args in _workloads():
        d = srcad.grad(f)
        for _ in range(3):
            d(*args)
        generated = dispatch.generated(d)
        if generated is None:           # the container path: the variant it built last
            generated = d.__srcad_boxed__.last.fn
        direct_args = args if direct_args is None else direct_args
        if opts.stub:
            generated = _stub(d, generated, generated(*direct_args))
        wrapped, direct = [], []
        for _ in range(opts.repeat):          # interleaved: drift hits both alike
            wrapped += _per_call(d, args, opts.number, 1)
            direct += _per_call(generated, direct_args, opts.number, 1)
        w, g = statistics.median(wrapped), statistics.median(direct)
        paired = statistics.median(a - b for a, b in zip(wrapped, direct))
        print(f"{name:<22} {w:>15.2f} us {g:>10.2f} us {paired:>7.2f} us "
              f"(min {min(wrapped) - min(direct):.2f})")


if __name__ == "__main__":
    main()
