"""Where the first gradient of a new process goes: the process time of each stage of
``srcad.grad(f)`` and its first call (the generic build, then the shape-specialized one),
summed over both builds, for one workload, with the disk cache off.

    SRCAD_CACHE=0 OMP_NUM_THREADS=1 python benchmarks/startup_stages.py mlp

The compiler (normalize, analysis, the transformers, optimize, astor) is imported first and
timed apart, as ``api.build`` imports it at the first build. Rule lookups (``registry``'s
family loading) and template parses are counted in the stage that asks for them. Process
time, not wall time: the shared machine's load stretches the wall clock.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(name: str) -> None:
    sys.path.insert(0, HERE)
    from workloads import BY_NAME
    w = BY_NAME[name]
    args = w.args("small")
    clock = time.process_time
    spent: dict = {}
    stack: list = []

    def timed(label, fn):
        def wrapper(*a, **k):
            start = clock()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                inner, elapsed = stack.pop(), clock() - start
                spent[label] = spent.get(label, 0.0) + elapsed - inner
                if stack:
                    stack[-1] += elapsed
        return wrapper

    start = clock()
    import srcad
    imported = clock() - start
    start = clock()
    import astor  # noqa: F401
    from srcad import analysis, complex_values, emit, forward, normalize, optimize, reverse
    from srcad import api
    compiler = clock() - start
    api.parse_function = timed("parse_function", api.parse_function)
    api._parsed = timed("parse_function", api._parsed)
    normalize.normalize = timed("normalize", normalize.normalize)
    for module, names in (
            (analysis, ["shapes", "activity", "untracked_flows", "aliased_writes",
                        "list_names"]),
            (complex_values, ["prepare"]), (reverse, ["reverse"]), (forward, ["forward"]),
            (optimize, ["optimize", "with_shapes", "scalar_reads", "scalar_accumulators",
                        "inline_temporaries", "shaped_rewrites", "owned_writes"]),
            (emit, ["to_source", "compile_function", "line_origins"])):
        for attr in names:
            setattr(module, attr, timed(attr, getattr(module, attr)))
    start = clock()
    df = srcad.grad(w.f, wrt=w.wrt)
    at_grad = clock() - start
    start = clock()
    df(*args)
    first_call = clock() - start
    total = at_grad + first_call
    print(f"{name}: import srcad {imported * 1e3:.1f} ms; compiler import {compiler * 1e3:.1f} "
          f"ms; srcad.grad(f) {at_grad * 1e3:.1f} ms + first call {first_call * 1e3:.1f} ms "
          f"(process time)")
    for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"   {label:<22} {seconds * 1e3:6.1f} ms")
    print(f"   {'the rest':<22} {(total - sum(spent.values())) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "mlp")
