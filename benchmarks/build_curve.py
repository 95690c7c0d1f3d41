"""How srcad's build time grows with function length: generated straight-line functions of
100 to 2000 statements, a 20-line function with loops, built in reverse and forward mode on a
cold cache (the first call builds the variant specialized for the arguments' shapes, reported
apart); then the CPU time of ``srcad.grad`` plus its first call for an n-term sum expression
and for helpers calling the helper below twice, ``depth`` levels deep (inlined, the work
doubles per level: a depth is skipped once the one before took more than ``--budget``
seconds).

Usage: ``python benchmarks/build_curve.py [--lengths 100,200,500,1000,2000] [--repeat 3]
[--terms 200,400,800] [--depths 4,6,8,10,12] [--budget 60]``

``--cpu 200,500,1000`` prints only the issue's build-time measure instead: the CPU seconds
of ``srcad.grad(f, wrt=(0, 1))`` plus its first call (the generic build and the one
specialized for the arguments' shapes) on the straight-line functions of those lengths,
cache cleared and the disk cache off (``SRCAD_CACHE=0``), median and range of ``--repeat``
runs (CPU time: the shared machine's load stretches the wall clock).
"""
from __future__ import annotations

import argparse
import linecache
import math
import os
import statistics
import time

import numpy as np

import srcad

# Statement shapes: a, b are earlier variables; each keeps values in a tame range.
_FORMS = [
    "{t} = np.sin({a}) * {b}",
    "{t} = {a} + 0.5 * {b}",
    "{t} = np.tanh({a} - {b})",
    "{t} = {a} * {b} / (1.0 + {b} * {b})",
    "{t} = np.exp(-{a} * {a}) + {b}",
    "{t} = np.sqrt(1.0 + {a} * {a}) - {b}",
]


def straight_line_source(n: int, name: str) -> str:
    """``def name(x, y)`` with n statements over arrays, returning np.sum of the last value."""
    lines = [f"def {name}(x, y):"]
    names = ["x", "y"]
    state = 12345
    for i in range(n):
        state = (1103515245 * state + 12345) % (1 << 31)      # deterministic choices
        a = names[-1]
        b = names[(state >> 8) % len(names)]
        form = _FORMS[(state >> 16) % len(_FORMS)]
        target = f"v{i}"
        lines.append("    " + form.format(t=target, a=a, b=b))
        names.append(target)
    lines.append(f"    return np.sum({names[-1]})")
    return "\n".join(lines) + "\n"


def make(n: int):
    """The generated function, with its source readable by inspect (linecache)."""
    name = f"line{n}"
    source = straight_line_source(n, name)
    filename = f"<srcad-build-curve-{n}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, "math": math, "__name__": filename}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


LOOP_SOURCE = """\
def loops20(x, y):
    h = x
    total = 0.0
    for t in range(4):
        h = np.tanh(h * y + 0.1 * t)
        if t % 2 == 0:
            total = total + np.sum(h * h)
        else:
            total = total - 0.5 * np.sum(h)
    k = 0
    while k < 3:
        h = h + 0.5 * np.sin(h) * y
        k += 1
    acc = np.zeros_like(x)
    for i in range(x.shape[0]):
        acc[i] = h[i] * y[i] + x[i]
    z = np.exp(-acc * acc)
    for j in range(2):
        z = z * y + np.cos(z)
    return total + np.sum(z * h)
"""


def make_loops():
    """A 20-line function with for and while loops, a branch and subscript writes."""
    filename = "<srcad-build-curve-loops>"
    linecache.cache[filename] = (len(LOOP_SOURCE), None, LOOP_SOURCE.splitlines(True), filename)
    namespace = {"np": np, "math": math, "__name__": filename}
    exec(compile(LOOP_SOURCE, filename, "exec"), namespace)
    return namespace["loops20"]


def make_sum(terms: int):
    """``np.sum(x * 0.0 + x * 1.0 + ...)``: one expression of ``terms`` products."""
    source = "def sum{0}(x):\n    return np.sum({1})\n".format(
        terms, " + ".join(f"x * {i}.0" for i in range(terms)))
    return _defined(source, f"sum{terms}", f"<srcad-build-curve-sum-{terms}>")


def make_nested(depth: int):
    """``nested(x) = np.sum(h{depth}(x))`` where ``h{k}(x) = h{k-1}(x) + h{k-1}(0.5 * x)``:
    each helper calls the one below twice (inlined whole, 2**depth copies of ``h0``)."""
    lines = ["def h0(x):", "    return np.sin(x) * x"]
    for k in range(1, depth + 1):
        lines += [f"def h{k}(x):", f"    return h{k - 1}(x) + h{k - 1}(0.5 * x)"]
    lines += ["def nested(x):", f"    return np.sum(h{depth}(x))"]
    return _defined("\n".join(lines) + "\n", "nested", f"<srcad-build-curve-nested-{depth}>")


def _defined(source: str, name: str, filename: str):
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, "math": math, "__name__": filename}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def cpu_build(f) -> float:
    """CPU seconds of ``srcad.grad(f)`` and its first call (cache cleared): CPU time, as the
    shared machine's load stretches the wall clock."""
    srcad.clear_cache()
    start = time.process_time()
    srcad.grad(f)(np.linspace(0.1, 0.9, 8))
    return time.process_time() - start


def cpu_curve(lengths, repeat):
    """``--cpu``: the table of grad plus first call CPU seconds per length (``main`` has
    turned the disk cache off)."""
    x, y = np.linspace(0.1, 0.9, 8), np.linspace(0.2, 0.7, 8)
    print("| statements | grad + first call, CPU s (median) | range | per statement ms |")
    print("|---|---|---|---|")
    for n in lengths:
        f = make(n)
        runs = []
        for _ in range(repeat):
            srcad.clear_cache()
            start = time.process_time()
            srcad.grad(f, wrt=(0, 1))(x, y)
            runs.append(time.process_time() - start)
        median = statistics.median(runs)
        print(f"| {n} | {median:.2f} | {min(runs):.2f}-{max(runs):.2f} | "
              f"{median * 1e3 / n:.2f} |", flush=True)


def cold_build(f, mode, repeat):
    """Best-of-``repeat`` seconds (build, first call) with an empty cache: ``srcad.autodiff``
    builds the generic derivative, the first call the one specialized for the arguments'
    shapes (minus the time of a later call)."""
    x, y = np.linspace(0.1, 0.9, 8), np.linspace(0.2, 0.7, 8)
    tangents = (np.ones(8), np.ones(8)) if mode == "forward" else ()
    builds, firsts = [], []
    for _ in range(repeat):
        srcad.clear_cache()
        start = time.perf_counter()
        df = srcad.autodiff(f, mode=mode, wrt=(0, 1))
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        df(x, y, *tangents)
        first = time.perf_counter() - start
        start = time.perf_counter()
        df(x, y, *tangents)
        firsts.append(first - (time.perf_counter() - start))
    return min(builds), min(firsts)


def cell(f, mode, repeat):
    try:
        return cold_build(f, mode, repeat)
    except Exception as exc:   # report, keep going
        text = f"unsupported: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return text, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="100,200,500,1000,2000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--terms", default="200,400,800")
    parser.add_argument("--depths", default="4,6,8,10,12")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--cpu", default="", help="lengths: only the CPU table (see above)")
    opts = parser.parse_args(argv)
    lengths = [int(n) for n in opts.lengths.split(",")]
    if opts.cpu:
        os.environ["SRCAD_CACHE"] = "0"      # every run builds: no entry read or written
    srcad.grad(make(3))   # load the templates outside the measurements
    if opts.cpu:
        cpu_curve([int(n) for n in opts.cpu.split(",")], opts.repeat)
        return

    print("| function | reverse build ms | ms/statement | reverse first call ms | "
          "forward build ms | ms/statement | forward first call ms | generated lines "
          "(reverse) |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [(f"{n} statements", make(n), n) for n in lengths]
    cases.append(("20 lines with loops", make_loops(), 20))
    for label, f, n in cases:
        rev = cell(f, "reverse", opts.repeat)
        fwd = cell(f, "forward", opts.repeat)
        try:
            generated = len(srcad.show(f, wrt=(0, 1)).splitlines())
        except Exception:
            generated = ""
        cells = [label]
        for build, first in (rev, fwd):
            if isinstance(build, float):
                cells += [f"{build * 1e3:.1f}", f"{build * 1e3 / n:.2f}", f"{first * 1e3:.1f}"]
            else:
                cells += [build, "", ""]
        cells.append(str(generated))
        print("| " + " | ".join(cells) + " |", flush=True)

    print()
    print("| function | grad + first call, CPU s |")
    print("|---|---|")
    for terms in [int(n) for n in opts.terms.split(",") if n]:
        print(f"| sum of {terms} terms | {cpu_build(make_sum(terms)):.2f} |", flush=True)
    last = 0.0
    for depth in [int(n) for n in opts.depths.split(",") if n]:
        if last > opts.budget:
            print(f"| helpers {depth} deep | not run (the depth before took {last:.0f} s) |")
            continue
        last = cpu_build(make_nested(depth))
        print(f"| helpers {depth} deep | {last:.2f} |", flush=True)


if __name__ == "__main__":
    main()
