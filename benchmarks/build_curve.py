"""How srcad's build time grows with function length: generated straight-line functions of
25, 50, 100 and 200 statements, built in reverse and forward mode on a cold cache.

Usage: ``python benchmarks/build_curve.py [--lengths 25,50,100,200] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import linecache
import math
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


def cold_build(f, mode, repeat):
    """Best-of-``repeat`` seconds to build f's derivative with an empty cache."""
    times = []
    for _ in range(repeat):
        srcad.clear_cache()
        start = time.perf_counter()
        srcad.autodiff(f, mode=mode, wrt=(0, 1))
        times.append(time.perf_counter() - start)
    return min(times)


def cell(f, mode, repeat):
    try:
        return cold_build(f, mode, repeat)
    except Exception as exc:   # report, keep going
        return f"unsupported: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="25,50,100,200")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    lengths = [int(n) for n in opts.lengths.split(",")]
    srcad.grad(make(3))   # load the templates outside the measurements

    print("| statements | reverse build ms | ms/statement | forward build ms | "
          "ms/statement | generated lines (reverse) |")
    print("|---|---|---|---|---|---|")
    for n in lengths:
        f = make(n)
        rev = cell(f, "reverse", opts.repeat)
        fwd = cell(f, "forward", opts.repeat)
        try:
            generated = len(srcad.show(f, wrt=(0, 1)).splitlines())
        except Exception:
            generated = ""
        cells = [str(n)]
        for t in (rev, fwd):
            cells += [f"{t * 1e3:.1f}", f"{t * 1e3 / n:.2f}"] if isinstance(t, float) else [t, ""]
        cells.append(str(generated))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
