"""Gradients over a dask.distributed cluster: parameters in NumPy, data in dask (docs/arrays.md).

    pip install 'srcad[dask]'
    python examples/dask_cluster.py                  # 2,000,000 rows, 2 local workers
    python examples/dask_cluster.py --rows 200000 --workers 2 --steps 20

Starts a LocalCluster on the loopback interface only (worker processes on 127.0.0.1, no
dashboard), builds a chunked data matrix on the workers, checks the logistic-regression and
MLP gradients srcad generates against NumPy on the same data gathered into this process (to
1e-10 relative), reports rows per second for both and each worker's peak memory, then trains
the logistic regression by plain gradient descent on the cluster.
"""
import argparse
import resource
import time

import numpy as np

from logistic import loss as logistic_loss      # examples/logistic.py, examples/mlp.py
from mlp import loss as mlp_loss


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def _relative_error(got, want) -> float:
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))


def _timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)

    import dask.array as da
    from distributed import Client, LocalCluster

    import srcad

    n, d = args.rows, args.features
    rng = np.random.default_rng(1)
    w0 = np.zeros(d)
    params = [rng.standard_normal((d, 32)) * 0.3, np.zeros(32),
              rng.standard_normal((32, 3)) * 0.3, np.zeros(3)]
    dlogistic = srcad.grad(logistic_loss)
    dmlp = srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        X = da.random.default_rng(5).standard_normal((n, d), chunks=(args.chunk_rows, d))
        y = (X[:, 0] - 0.5 * X[:, 1] + 0.25 * X[:, 2] > 0).astype(float)
        Y = da.stack([y, 1.0 - y, (X[:, 3] > 1.0).astype(float)], axis=1)
        X, y, Y = client.persist([X, y, Y])
        client.wait_for_workers(args.workers)

        (g_log,), t_log = _timed(lambda: client.compute([dlogistic(w0, X, y)], sync=True))
        g_mlp, t_mlp = _timed(lambda: client.compute(list(dmlp(*params, X, Y)), sync=True))
        peaks = client.run(_peak_rss_mib)

        Xn, yn, Yn = client.compute([X, y, Y], sync=True)      # the same data, here
        want_log, tn_log = _timed(lambda: dlogistic(w0, Xn, yn))
        want_mlp, tn_mlp = _timed(lambda: dmlp(*params, Xn, Yn))
        errors = [_relative_error(g_log, want_log)] + [
            _relative_error(g, w) for g, w in zip(g_mlp, want_mlp)]
        assert max(errors) < 1e-10, errors
        del Xn, Yn

        print(f"{n} rows x {d} features in chunks of {args.chunk_rows}, "
              f"{args.workers} worker processes (1 thread each)")
        print(f"max relative difference to NumPy: {max(errors):.1e}")
        for name, t_dask, t_numpy in (("logistic", t_log, tn_log), ("mlp", t_mlp, tn_mlp)):
            print(f"{name:9s} gradient: dask {n / t_dask:12,.0f} rows/s   "
                  f"NumPy (1 process) {n / t_numpy:12,.0f} rows/s")
        print("peak memory per worker (MiB): " + ", ".join(
            f"{peak:.0f}" for peak in peaks.values()))

        w = w0.copy()
        for step in range(args.steps):
            w -= 1.0 * client.compute(dlogistic(w, X, y), sync=True)
        final = client.compute(logistic_loss(w, X, y), sync=True)
        print(f"gradient descent, {args.steps} steps: logistic loss "
              f"{float(client.compute(logistic_loss(w0, X, y), sync=True)):.4f} -> "
              f"{float(final):.4f}")


if __name__ == "__main__":
    main()
