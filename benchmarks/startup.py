"""Start-up: in a new process per workload, the time of ``import srcad`` (NumPy already
imported) and of the first gradient (``srcad.grad`` plus the first call, which builds the
shape-specialized variant), with no disk cache (issue 16, part 6).

    OMP_NUM_THREADS=1 python benchmarks/startup.py [--runs 3] [--size small]

Each figure is the median over ``--runs`` new processes. Run it with bytecode cached (no
``PYTHONDONTWRITEBYTECODE``; ``PYTHONPYCACHEPREFIX`` to keep it out of the tree), as an
installed package has it.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = """
import sys, time
sys.path.insert(0, {here!r})
import numpy
from workloads import BY_NAME
w = BY_NAME[{name!r}]
args = w.args({size!r})
t0 = time.perf_counter()
import srcad
t1 = time.perf_counter()
srcad.grad(w.f, wrt=w.wrt)(*args)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def main():
    from workloads import WORKLOADS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="small")
    opts = parser.parse_args()
    print(f"{'workload':<14} {'import srcad':>13} {'first gradient':>15}")
    for w in WORKLOADS:
        imports, firsts = [], []
        for _ in range(opts.runs):
            out = subprocess.run([sys.executable, "-c", CHILD.format(
                here=HERE, name=w.name, size=opts.size)], capture_output=True, text=True,
                check=True).stdout.split()
            imports.append(float(out[0]) * 1e3)
            firsts.append(float(out[1]) * 1e3)
        print(f"{w.name:<14} {statistics.median(imports):>10.1f} ms "
              f"{statistics.median(firsts):>12.1f} ms")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
