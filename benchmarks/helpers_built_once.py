"""What "a helper's derivative built once and called" would cost and give, measured before
srcad does it itself (docs/architecture.md, "Helpers built once: design"): the nested helpers
of ``build_curve.make_nested`` (each calls the one below twice), once inlined as srcad does
today and once with every helper made a primitive whose rules call srcad's own derivatives of
that helper (the VJP recomputes the helper's primal; the JVP is the forward derivative),
registered by hand through ``srcad.register_adjoint``/``register_tangent``. Reports the CPU
seconds of ``srcad.grad`` plus its first call, the time of a later call, and, up to
``--check`` deep, the largest difference from the inlined gradient, from central differences,
and of ``jvp``, ``hvp``, ``hessian`` and the gradient of a gradient's squared norm.

Usage: ``python benchmarks/helpers_built_once.py [--depths 4,6,8,10,12] [--check 6]
[--inlined 8]`` (``--inlined``: the deepest depth also built inlined, for its times).
"""
from __future__ import annotations

import argparse
import linecache
import time

import numpy as np

import srcad
from build_curve import cpu_build, make_nested
from srcad.registry import d


def built_once(depth: int):
    """``make_nested(depth)`` with each helper ``h{k}`` a primitive whose adjoint is
    ``d[x] = h{k}_vjp(x, seed=d[y])`` and whose tangent is ``d[y] = h{k}_jvp(x, d[x])``."""
    f = make_nested(depth)
    for k in range(depth + 1):
        helper = f.__globals__[f"h{k}"]
        rules = (f"def h{k}_adjoint(y, x):\n    d[x] = h{k}_vjp(x, seed=d[y])\n"
                 f"def h{k}_tangent(y, x):\n    d[y] = h{k}_jvp(x, d[x])\n")
        filename = f"<srcad-helpers-built-once-{depth}-{k}>"
        linecache.cache[filename] = (len(rules), None, rules.splitlines(True), filename)
        namespace = {"d": d, "__name__": filename,
                     f"h{k}_vjp": srcad.autodiff(helper, mode="reverse"),
                     f"h{k}_jvp": srcad.autodiff(helper, mode="forward")}
        exec(compile(rules, filename, "exec"), namespace)
        srcad.register_adjoint(helper)(namespace[f"h{k}_adjoint"])
        srcad.register_tangent(helper)(namespace[f"h{k}_tangent"])
    return f


def call_time(g, x) -> float:
    """Seconds per call of ``g(x)``, over at least 0.3 s."""
    g(x)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.3:
        g(x)
        count += 1
    return (time.perf_counter() - start) / count


def squared_norm_of(g):
    def squared_norm(x):
        return np.sum(g(x) ** 2)
    return squared_norm


def differences(f, ref, x, v) -> str:
    """The largest differences between built-once ``f`` and inlined ``ref``."""
    eye = np.eye(x.size)
    fd = np.array([(ref(x + 1e-6 * e) - ref(x - 1e-6 * e)) / 2e-6 for e in eye])
    grad = srcad.grad(f)(x)
    pairs = {
        "grad": (grad, srcad.grad(ref)(x)),
        "jvp": (srcad.jvp(f, (x,), (v,))[1], srcad.jvp(ref, (x,), (v,))[1]),
        "hvp": (srcad.hvp(f)(x, v), srcad.hvp(ref)(x, v)),
        "hessian": (srcad.hessian(f)(x), srcad.hessian(ref)(x)),
        "grad of grad": (srcad.grad(squared_norm_of(srcad.grad(f)))(x),
                         srcad.grad(squared_norm_of(srcad.grad(ref)))(x)),
    }
    cells = [f"{k} {np.max(np.abs(np.asarray(a) - np.asarray(b))):.1e}"
             for k, (a, b) in pairs.items()]
    return ", ".join(cells + [f"grad-differences {np.max(np.abs(grad - fd)):.1e}"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="4,6,8,10,12")
    parser.add_argument("--check", type=int, default=6)
    parser.add_argument("--inlined", type=int, default=8)
    opts = parser.parse_args(argv)
    x = np.linspace(0.1, 0.9, 8)
    v = np.cos(np.arange(8.0))
    srcad.grad(make_nested(1))(x)      # load the templates outside the measurements
    print("| depth | inlined: grad + first call, CPU s | inlined: call ms | built once: grad + "
          "first call, CPU s | built once: call ms | built once against inlined |")
    print("|---|---|---|---|---|---|")
    for depth in [int(n) for n in opts.depths.split(",") if n]:
        cells = [str(depth), "not run", "", "", "", ""]
        if depth <= opts.inlined:
            ref = make_nested(depth)
            cells[1] = f"{cpu_build(ref):.2f}"
            cells[2] = f"{call_time(srcad.grad(ref), x) * 1e3:.2f}"
        f = built_once(depth)
        cells[3] = f"{cpu_build(f):.2f}"
        cells[4] = f"{call_time(srcad.grad(f), x) * 1e3:.2f}"
        if depth <= opts.check:
            cells[5] = differences(f, make_nested(depth), x, v)
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
