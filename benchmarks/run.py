"""Benchmark srcad against hand-written NumPy gradients (and autograd / JAX / Tangent when they
are installed), each ratio measured within one process, and print a markdown table.

Usage: ``python benchmarks/run.py [--quick] [--only NAME] [--size small|large] [--peers LIST]
[--in-process] [--keep-memory]``

Per workload and size: srcad's gradient time over the hand-written gradient's (best of
several timeit repeats), the build time of the first ``srcad.grad(f)`` (cache cleared), the
time of a cache-hit ``srcad.grad(f)``, the peak memory of one gradient call over the
hand-written one (tracemalloc), and one forward-mode JVP over the hand-written gradient.
Peers are optional (each skipped when not importable); for ``jax-jit`` the first call
(tracing and XLA compilation, plus one run) is reported on its own, as ``jax-jit compile ms``,
and the ratio is the compiled function's steady state.
srcad's gradient is checked against the hand-written one (np.allclose) before it is timed;
what srcad cannot build or run is reported as ``unsupported: <first line of the error>``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
import types

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from workloads import SIZES, WORKLOADS  # noqa: E402

import srcad  # noqa: E402

QUICK_TARGET = 0.05      # seconds per timing repeat
FULL_TARGET = 0.2


# -- measuring ----------------------------------------------------------------------------------

def _autorange(fn, target):
    """(number, seconds): timeit-style, the call count whose run takes >= ``target`` s."""
    number = 1
    while True:
        t = _run(fn, number)
        if t >= target or number >= 1 << 20:
            return number, t
        number = max(number * 2, int(number * target / max(t, 1e-9) * 1.1))


def best_time(fn, target, repeat):
    """Seconds per call: autorange to ``target`` seconds, best of ``repeat`` runs."""
    number, t = _autorange(fn, target)
    times = [t] + [_run(fn, number) for _ in range(repeat - 1)]
    return min(times) / number


def interleaved_times(fns, target, repeat):
    """Seconds per call of each callable in ``fns`` (name -> fn): best of ``repeat`` runs,
    the runs of different callables interleaved so that load from other processes hits
    them alike and their ratios stay meaningful."""
    plan = {name: _autorange(fn, target) for name, fn in fns.items()}
    best = {name: t / number for name, (number, t) in plan.items()}
    for _ in range(repeat - 1):
        for name, fn in fns.items():
            number = plan[name][0]
            best[name] = min(best[name], _run(fn, number) / number)
    return best


def _run(fn, number):
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - start
    finally:
        if gc_was:
            gc.enable()


def peak_memory(fn):
    """Peak bytes allocated during one call (beyond what was allocated before it)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def fresh_copy(f):
    """A new function object with f's code (a cache miss for caches keyed by function)."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__ = f.__qualname__, f.__module__
    return g


def build_time(f, wrt, repeat):
    """Seconds for srcad.grad(f, wrt=wrt) on a cold cache, best of ``repeat``."""
    clear = getattr(srcad, "clear_cache", None)
    times = []
    for _ in range(repeat):
        target = f if clear is not None else fresh_copy(f)
        if clear is not None:
            clear()
        start = time.perf_counter()
        srcad.grad(target, wrt=wrt)
        times.append(time.perf_counter() - start)
    return min(times)


def first_line(exc):
    text = str(exc).strip().splitlines()
    line = text[0].replace(BENCH_DIR + os.sep, "") if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def unsupported(exc):
    return f"unsupported: {first_line(exc)}"


def as_tuple(g, wrt):
    return (g,) if isinstance(wrt, int) else tuple(g)


def same(a, b, wrt):
    """True when two gradients (in ``wrt`` structure) agree to np.allclose."""
    a, b = as_tuple(a, wrt), as_tuple(b, wrt)
    return len(a) == len(b) and all(
        np.shape(x) == np.shape(y) and np.allclose(np.asarray(x, dtype=float),
                                                   np.asarray(y, dtype=float))
        for x, y in zip(a, b))


def max_error(a, b, wrt):
    err = 0.0
    for x, y in zip(as_tuple(a, wrt), as_tuple(b, wrt)):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(y), initial=0.0)), 1e-300)
        err = max(err, float(np.max(np.abs(x - y), initial=0.0)) / scale)
    return err


# -- peers (skipped silently when not importable) -----------------------------------------------

def _with_numpy(f, module):
    """f with its global ``np`` replaced by ``module`` (autograd.numpy, jax.numpy)."""
    g = types.FunctionType(f.__code__, {**f.__globals__, "np": module}, f.__name__,
                           f.__defaults__, f.__closure__)
    return g


def _packed(f, wrt):
    """f taking the differentiated arguments as one tuple first: f_p(params, *args)."""
    indices = (wrt,) if isinstance(wrt, int) else wrt

    def f_p(params, *args):
        full = list(args)
        for i, p in zip(indices, params):
            full[i] = p
        return f(*full)
    return f_p


def peer_autograd(f, wrt):
    import autograd
    import autograd.numpy as anp
    g = autograd.grad(_packed(_with_numpy(f, anp), wrt))
    indices = (wrt,) if isinstance(wrt, int) else wrt

    def run(*args):
        out = g(tuple(args[i] for i in indices), *args)
        return out[0] if isinstance(wrt, int) else tuple(out)
    return run, lambda args: args


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


def _jax_args(args):
    import jax.numpy as jnp
    return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)


def _jax_runner(g, jax):
    def run(*args):
        return jax.block_until_ready(g(*args))
    return run


def peer_jax(f, wrt):
    jax = _jax()
    import jax.numpy as jnp
    g = jax.grad(_with_numpy(f, jnp), argnums=wrt)
    return _jax_runner(g, jax), _jax_args


class PeerSkipped(Exception):
    """A peer that would run, but not within this machine's means (reported as skipped)."""


JIT_MAX_OPS = 20000   # XLA needed > 8 GB to compile a 56k-op unrolled trace; 5.6k took 12 s


def peer_jax_jit(f, wrt):
    jax = _jax()
    import jax.numpy as jnp
    grad = jax.grad(_with_numpy(f, jnp), argnums=wrt)
    g = jax.jit(grad)
    checked = []

    def run(*args):
        if not checked:   # Python loops unroll into the trace: refuse what XLA cannot compile
            ops = len(jax.make_jaxpr(grad)(*args).jaxpr.eqns)
            if ops > JIT_MAX_OPS:
                raise PeerSkipped(f"{ops}-op unrolled trace (limit {JIT_MAX_OPS})")
            checked.append(ops)
        return jax.block_until_ready(g(*args))
    return run, _jax_args


COMPILED_PEERS = ("jax-jit",)   # their first call (trace, compile) is reported on its own


def peer_tangent(f, wrt):
    import tangent
    g = tangent.grad(f, wrt=(wrt,) if isinstance(wrt, int) else wrt, verbose=0)

    def run(*args):
        out = g(*args)
        return out if isinstance(wrt, int) else tuple(out)
    return run, lambda args: args


PEERS = {"autograd": ("autograd", peer_autograd), "jax": ("jax", peer_jax),
         "jax-jit": ("jax", peer_jax_jit), "tangent": ("tangent", peer_tangent)}


def available_peers():
    out = []
    for name, (module, _) in PEERS.items():
        try:
            __import__(module)
        except Exception:   # not installed, or broken: skip silently
            continue
        out.append(name)
    return out


# -- one workload -------------------------------------------------------------------------------

def _random_tangents(args, wrt, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in ((wrt,) if isinstance(wrt, int) else wrt):
        a = args[i]
        out.append(float(rng.standard_normal()) if isinstance(a, float)
                   else rng.standard_normal(np.shape(a)))
    return out


def measure(workload, size, peers, target, repeat, srcad_too=True):
    """A dict of table cells for one workload at one size (``srcad_too=False``: the peers
    only)."""
    f, wrt = workload.f, workload.wrt
    args = workload.args(size)
    row = {"workload": workload.name, "size": f"{size} ({workload.describe[size]})"}
    expected = workload.grad(*args)
    timed = {"hand": lambda: workload.grad(*args)}   # checked callables, timed together below
    if srcad_too:
        try:
            df = srcad.grad(f, wrt=wrt)
            got = df(*args)
        except Exception as exc:   # reported, not raised: the table covers every workload
            row["srcad/hand"] = unsupported(exc)
        else:
            if same(got, expected, wrt):
                timed["srcad"] = lambda: df(*args)
            else:
                row["srcad/hand"] = (f"WRONG: max rel. error "
                                     f"{max_error(got, expected, wrt):.2e} vs hand-written")
        try:
            jvp = srcad.autodiff(f, mode="forward", wrt=wrt)
            tangents = _random_tangents(args, wrt)
            jvp(*args, *tangents)
        except Exception as exc:
            row["fwd JVP/hand"] = unsupported(exc)
        else:
            timed["fwd JVP"] = lambda: jvp(*args, *tangents)

    for name in peers:
        run, first = prepare_peer(name, f, wrt, args, expected)
        if isinstance(run, str):
            row[f"{name}/hand"] = run
        else:
            timed[name] = run
            if name in COMPILED_PEERS:    # trace + compile + one run, timed on its own
                row[f"{name} compile ms"] = f"{first * 1e3:.0f}"

    times = interleaved_times(timed, target, repeat)
    t_hand = times.pop("hand")
    row["hand µs"] = f"{t_hand * 1e6:.1f}"
    for name, t in times.items():
        row[f"{name}/hand"] = f"{t / t_hand:.2f}"
    if "srcad" in times:
        row["srcad µs"] = f"{times['srcad'] * 1e6:.1f}"
        row["build ms"] = f"{build_time(f, wrt, repeat) * 1e3:.1f}"
        srcad.grad(f, wrt=wrt)   # warm the cache again after build_time cleared it
        t_hit = best_time(lambda: srcad.grad(f, wrt=wrt), target, repeat)
        row["cache hit µs"] = f"{t_hit * 1e6:.1f}"
        mem, mem_hand = peak_memory(timed["srcad"]), peak_memory(timed["hand"])
        row["peak mem srcad/hand"] = (f"{mem / max(mem_hand, 1):.2f} "
                                      f"({mem / 1024:.0f}/{mem_hand / 1024:.0f} KiB)")
    return row


KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
               "MALLOC_TOP_PAD_": str(1 << 28)}


def measure_in_child(name, size, peers, quick):
    """``measure`` in fresh Python processes, one for srcad and one for the peers (each
    against the hand-written gradient): large arrays go back to the operating system or
    stay with the allocator depending on what else ran in the process, which moves the
    time of a large workload by up to 2x."""
    row = _child_row(name, size, [], quick)
    if peers and not row.get("srcad/hand", "").startswith("benchmark failed"):
        row.update({k: v for k, v in _child_row(name, size, peers, quick).items()
                    if k.split("/")[0].split(" ")[0] in peers})
    return row


def _child_row(name, size, peers, quick):
    command = [sys.executable, os.path.abspath(__file__), "--row-json", "--only", name,
               "--size", size, "--peers", ",".join(peers) or "none"] + (
                   ["--quick"] if quick else []) + (["--peers-only"] if peers else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"workload": name, "size": size, "srcad/hand": f"benchmark failed: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_peer(name, f, wrt, args, expected):
    """``(run, first)``: a checked zero-argument callable running the peer's gradient and
    the seconds its first call took (tracing and compiling, for jit), or a table cell saying
    why there is none and None."""
    try:
        run, convert = PEERS[name][1](f, wrt)
        peer_args = convert(args)
        start = time.perf_counter()
        got = run(*peer_args)      # also compiles, for jit
        first = time.perf_counter() - start
    except PeerSkipped as exc:
        return f"skipped: {exc}", None
    except Exception as exc:
        return unsupported(exc), None
    got = tuple(np.asarray(g) for g in as_tuple(got, wrt))
    if not same(got if not isinstance(wrt, int) else got[0], expected, wrt):
        return "WRONG", None
    return (lambda: run(*peer_args)), first


# -- report -------------------------------------------------------------------------------------

def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    lines = [f"- CPU: {cpu} ({os.cpu_count()} logical cores), {platform.system()} "
             f"{platform.release()}",
             f"- Python {platform.python_version()} ({platform.python_implementation()}), "
             f"NumPy {np.__version__}, srcad {getattr(srcad, '__version__', '?')}"
             + (f" (git {commit})" if commit else "")]
    if hasattr(os, "getloadavg"):
        lines.append(f"- load average at start: {os.getloadavg()[0]:.2f} (other processes "
                     f"make timings noisy; ratios are measured interleaved)")
    return "\n".join(lines)


def markdown_table(rows, columns):
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(out)


def warm_up():
    """Load srcad's templates once, outside every measurement; returns seconds taken."""
    def _warm(x):
        return x * x
    start = time.perf_counter()
    try:
        srcad.grad(_warm)(1.0)
    except Exception:   # reported per workload later
        pass
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes only, short timing runs")
    parser.add_argument("--only", metavar="NAME", help="run one workload: "
                        + ", ".join(w.name for w in WORKLOADS))
    parser.add_argument("--size", choices=SIZES, help="run one size (default: both; "
                        "--quick: small)")
    parser.add_argument("--peers", help="comma-separated peers to compare with (default: "
                        "every installed one of " + ", ".join(PEERS) + "; 'none' for none)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure every workload in this process (default: each workload "
                        "and size in a fresh process, so that the memory allocator's state "
                        "after one workload does not bias the next)")
    parser.add_argument("--keep-memory", action="store_true",
                        help="run the measuring processes with glibc malloc keeping freed "
                        "memory mapped (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, "
                        "MALLOC_TOP_PAD_), so that large workloads time computation, not "
                        "the page faults of memory the allocator gave back")
    parser.add_argument("--row-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peers-only", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    workloads = [w for w in WORKLOADS if not opts.only or w.name == opts.only]
    if not workloads:
        parser.error(f"no workload named {opts.only!r}")
    sizes = (opts.size,) if opts.size else (("small",) if opts.quick else SIZES)
    target, repeat = (QUICK_TARGET, 3) if opts.quick else (FULL_TARGET, 5)
    peers = available_peers()
    if opts.peers:
        wanted = [] if opts.peers == "none" else opts.peers.split(",")
        peers = [p for p in peers if p in wanted]

    if opts.row_json:              # a child process of an isolated run: one row, as JSON
        warm_up()
        print(json.dumps(measure(workloads[0], sizes[0], peers, target, repeat,
                                 srcad_too=not opts.peers_only)))
        return
    if opts.keep_memory:
        if opts.in_process:
            parser.error("--keep-memory needs the measuring processes (not --in-process)")
        os.environ.update(KEEP_MEMORY)
    info = machine_info()
    first_build = warm_up()
    rows = []
    for size in sizes:
        for workload in workloads:
            if opts.in_process:
                rows.append(measure(workload, size, peers, target, repeat))
            else:
                rows.append(measure_in_child(workload.name, size, peers, opts.quick))
            print(f"  measured {workload.name} ({size})", file=sys.stderr, flush=True)

    columns = ["workload", "size", "srcad/hand", "hand µs", "srcad µs", "build ms",
               "cache hit µs", "peak mem srcad/hand", "fwd JVP/hand"]
    columns += [f"{p}/hand" for p in peers]
    columns += [f"{p} compile ms" for p in peers if p in COMPILED_PEERS]
    print(info)
    print(f"- peers: {', '.join(peers) if peers else 'none installed'}; "
          f"first srcad.grad in the process (loads templates): {first_build * 1e3:.0f} ms")
    print(f"- timing: best of {repeat} repeats of >= {target:g} s each; ratios < 1 mean "
          "faster than the hand-written NumPy gradient; "
          + ("all workloads in one process" if opts.in_process else
             "each workload and size in fresh processes")
          + ("; glibc malloc keeping freed memory (--keep-memory)\n" if opts.keep_memory
             else "\n"))
    print(markdown_table(rows, columns))


if __name__ == "__main__":
    main()
