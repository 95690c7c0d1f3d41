"""Start-up: in a new process per workload, the time of ``import numpy``, of ``import srcad``
and of the first gradient (``srcad.grad`` plus the first call, which builds or loads the
shape-specialized variant), with the disk cache off, cold (an empty directory: build and
write) or warm (filled by an earlier process: load).

    OMP_NUM_THREADS=1 python benchmarks/startup.py [--runs 5] [--size small] [--cache warm]

Each figure is the median over ``--runs`` new processes; the ``CPU`` columns are the process
time of the same spans (steadier than wall time on a shared machine). The children run with
bytecode cached (``PYTHONDONTWRITEBYTECODE`` removed, ``PYTHONPYCACHEPREFIX`` a directory of this run's
unless set), as an installed package has it.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = """
import sys, time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
sys.path.insert(0, {here!r})
from workloads import BY_NAME
w = BY_NAME[{name!r}]
args = w.args({size!r})
t2, c2 = time.perf_counter(), time.process_time()
import srcad
t3, c3 = time.perf_counter(), time.process_time()
srcad.grad(w.f, wrt=w.wrt)(*args)
t4, c4 = time.perf_counter(), time.process_time()
print(t1 - t0, t3 - t2, t4 - t3, c3 - c2, c4 - c3)
"""


def main():
    from workloads import WORKLOADS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="small")
    parser.add_argument("--cache", choices=("off", "cold", "warm"), default="off")
    parser.add_argument("--only", nargs="*", help="workload names (default: all)")
    opts = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="srcad-startup-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(scratch, "pycache"))
    env["SRCAD_CACHE"] = "0" if opts.cache == "off" else "1"
    print(f"disk cache {opts.cache}, bytecode cached in {env['PYTHONPYCACHEPREFIX']}, "
          f"median of {opts.runs} new processes")
    print(f"{'workload':<14} {'import numpy':>13} {'import srcad':>13} {'first gradient':>15} "
          f"{'srcad total':>12} {'CPU: import srcad':>18} {'first gradient':>15}")
    try:
        for w in WORKLOADS:
            if opts.only and w.name not in opts.only:
                continue
            child = [sys.executable, "-c", CHILD.format(here=HERE, name=w.name,
                                                        size=opts.size)]
            cache_dir = os.path.join(scratch, "cache-" + w.name)
            env["SRCAD_CACHE_DIR"] = cache_dir
            subprocess.run(child, env=env, capture_output=True, check=True)  # bytecode, warm
            figures = []
            for _ in range(opts.runs):
                if opts.cache == "cold":
                    shutil.rmtree(cache_dir, ignore_errors=True)
                out = subprocess.run(child, env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
                figures.append([float(v) * 1e3 for v in out])
            numpy_, srcad_, first, cpu_srcad, cpu_first = (
                statistics.median(f[i] for f in figures) for i in range(5))
            total = statistics.median(f[1] + f[2] for f in figures)
            print(f"{w.name:<14} {numpy_:>10.1f} ms {srcad_:>10.1f} ms {first:>12.1f} ms "
                  f"{total:>9.1f} ms {cpu_srcad:>15.1f} ms {cpu_first:>12.1f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
