"""Arrays beyond NumPy (docs/arrays.md): dask arrays mixed with NumPy ones in every argument
position, lazy results, unknown chunk sizes, a dask.distributed cluster in process, cupy
when a GPU is present, and the refusal of arrays that implement only the array API."""
import os
import subprocess
import sys

import numpy as np
import pytest

import srcad
from gallery_functions import GALLERY, logistic_loss, mlp_loss

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scalar_entries():
    return [e for e in GALLERY if np.ndim(e.func(*e.args())) == 0]


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _assert_close(got, want, rtol=1e-12):
    for g, w in zip(_as_tuple(got), _as_tuple(want)):
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=1e-14)


# -- dask ------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("e", _scalar_entries(), ids=lambda e: e.name)
def test_gallery_gradients_with_any_mix_of_dask_and_numpy(e, optimized):
    da = pytest.importorskip("dask.array")
    args = e.args()
    df = srcad.grad(e.func, wrt=e.wrt, optimized=optimized)
    want = df(*args)                      # builds the NumPy variant first: the dask calls
    arrays = [i for i, a in enumerate(args) if np.ndim(a) > 0]     # must not reuse it
    wrt = e.wrt if isinstance(e.wrt, tuple) else (e.wrt,)
    mixes = {(i,) for i in arrays} | {tuple(arrays), tuple(i for i in arrays if i not in wrt)}
    for chosen in sorted(m for m in mixes if m):
        mixed = [da.from_array(a, chunks=max(1, len(a) // 2)) if i in chosen else a
                 for i, a in enumerate(args)]
        got = df(*mixed)
        _assert_close(got, want)
        for g, i in zip(_as_tuple(got), wrt):     # a dask argument: a lazy gradient
            if i in chosen:
                assert isinstance(g, da.Array), (e.name, chosen, i)


def test_numpy_parameters_with_dask_data_give_lazy_gradients():
    da = pytest.importorskip("dask.array")
    args = list(GALLERY[2].args())       # mlp_loss(W1, b1, W2, b2, X, Y)
    df = srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))
    want = df(*args)
    X, Y = (da.from_array(a, chunks=(3, -1)) for a in args[4:])
    got = df(*args[:4], X, Y)
    assert all(isinstance(g, da.Array) for g in got)       # nothing computed yet
    _assert_close(da.compute(*got), want)


def test_forward_mode_and_vjp_with_dask_tangents_and_seeds():
    da = pytest.importorskip("dask.array")
    for e in GALLERY:
        args = e.args()
        wrt = e.wrt if isinstance(e.wrt, tuple) else (e.wrt,)
        tangents = [np.full(np.shape(args[i]), 0.5) if np.ndim(args[i]) else 0.5 for i in wrt]
        df = srcad.autodiff(e.func, mode="forward", wrt=wrt)
        want = df(*args, *tangents)
        _assert_close(df(*args, *[da.from_array(t) if np.ndim(t) else t for t in tangents]),
                      want)
        y = e.func(*args)
        if np.ndim(y):
            vjp = srcad.autodiff(e.func, mode="reverse", wrt=wrt)
            seed = np.linspace(-1.0, 1.0, np.size(y)).reshape(np.shape(y))
            _assert_close(vjp(*args, seed=da.from_array(seed)), vjp(*args, seed=seed))


def test_unknown_chunk_sizes_fall_back_to_the_generic_variant():
    da = pytest.importorskip("dask.array")
    w, X, y = GALLERY[1].args()
    X, y = np.tile(X, (5, 1)), np.tile(y, 5)
    keep = X[:, 0] > -0.5
    Xd, yd = da.from_array(X, chunks=(7, -1)), da.from_array(y, chunks=7)
    selected = Xd[:, 0] > -0.5
    Xu, yu = Xd[selected], yd[selected]
    assert np.isnan(Xu.shape[0])
    for f in (logistic_loss, next(e.func for e in GALLERY if e.name == "smooth_hinge_loss")):
        df = srcad.grad(f)
        want = df(w, X[keep], y[keep])
        got = df(w, Xu, yu)
        assert isinstance(got, da.Array)
        _assert_close(got, want)


def test_repeated_fancy_index_adjoint_with_dask_contributions():
    da = pytest.importorskip("dask.array")

    def f(w, X):
        return np.sum(w[[0, 0, 2]] * X[0, :3])
    w, X = np.arange(1.0, 5.0), np.random.default_rng(1).standard_normal((6, 4))
    df = srcad.grad(f)
    _assert_close(df(w, da.from_array(X, chunks=3)), df(w, X))
    np.testing.assert_allclose(df(w, X), [X[0, 0] + X[0, 1], 0.0, X[0, 2], 0.0])


def test_numpy_only_use_imports_neither_dask_nor_cupy(tmp_path):
    (tmp_path / "numpy_only.py").write_text(
        "import sys, numpy as np, srcad\n"
        "def f(w):\n    return np.sum(np.tanh(w) ** 2)\n"
        "srcad.grad(f)(np.ones(3)); srcad.export(f)\n"
        "bad = [m for m in ('dask', 'cupy', 'distributed') if m in sys.modules]\n"
        "assert not bad, bad\n")
    result = subprocess.run([sys.executable, str(tmp_path / "numpy_only.py")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- arrays with the array API only ----------------------------------------------------------

class ArrayApiOnly:
    """An array implementing the array API standard but none of NumPy's protocols."""

    def __init__(self, data):
        self._data = np.asarray(data, dtype=float)
        self.shape, self.dtype, self.ndim = self._data.shape, self._data.dtype, self._data.ndim

    def __array_namespace__(self, api_version=None):
        return np


def test_array_api_only_arrays_get_a_clear_error():
    w, X, y = GALLERY[1].args()
    df = srcad.grad(logistic_loss)
    with pytest.raises(srcad.NotDifferentiableError) as info:
        df(w, ArrayApiOnly(X), y)
    text = str(info.value)
    assert "test_arrays.ArrayApiOnly" in text and "array API standard only" in text
    assert "dask, cupy" in text and "gallery_functions.py" in text


# -- dask.distributed ------------------------------------------------------------------------

def _logistic_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 0.1
    y = (X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) > 0).astype(float)
    return w, X, y


def _mlp_params(d, hidden, classes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((d, hidden)) * 0.3, np.zeros(hidden),
            rng.standard_normal((hidden, classes)) * 0.3, np.zeros(classes)]


def distributed_gradients(n_rows, chunk_rows, client, d=16):
    """The logistic-regression and MLP gradients of ``n_rows`` rows of dask data built in
    chunks on the cluster, parameters in NumPy, against NumPy on the same data."""
    import dask.array as da
    w, _, _ = _logistic_data(1, d)
    X = da.random.default_rng(5).standard_normal((n_rows, d), chunks=(chunk_rows, d))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    Y = da.stack([y, 1.0 - y, (X[:, 2] > 1.0).astype(float)], axis=1)
    X, y, Y = client.persist([X, y, Y])
    params = _mlp_params(d, 8, 3)
    g_logistic = srcad.grad(logistic_loss)(w, X, y)
    g_mlp = srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))(*params, X, Y)
    got = client.compute([g_logistic, *g_mlp], sync=True)
    Xn, yn, Yn = client.compute([X, y, Y], sync=True)
    want = [srcad.grad(logistic_loss)(w, Xn, yn),
            *srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))(*params, Xn, Yn)]
    return got, want


# .ci/run's dask step sets 2,000,000 rows (issue 18); a plain pytest run keeps it short
DISTRIBUTED_ROWS = int(os.environ.get("SRCAD_DISTRIBUTED_ROWS", "200000"))


@pytest.mark.parametrize("n_rows", [DISTRIBUTED_ROWS])
def test_distributed_logistic_and_mlp_gradients(n_rows):
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got, want = distributed_gradients(n_rows, 50_000, client)
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10 * np.max(np.abs(w)))


# -- cupy ------------------------------------------------------------------------------------

def _cupy():
    try:
        import cupy
    except ImportError:
        pytest.skip("cupy is not installed (pip install srcad[cupy] on a machine with a GPU)")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("cupy is installed but finds no GPU")
    except Exception as exc:       # no driver, no device
        pytest.skip(f"cupy is installed but finds no GPU ({type(exc).__name__}: {exc})")
    return cupy


@pytest.mark.parametrize("e", _scalar_entries(), ids=lambda e: e.name)
def test_gallery_gradients_on_cupy(e):
    cupy = _cupy()
    args = e.args()
    df = srcad.grad(e.func, wrt=e.wrt)
    want = df(*args)
    got = df(*[cupy.asarray(a) if np.ndim(a) else a for a in args])
    for g, w in zip(_as_tuple(got), _as_tuple(want)):
        g = cupy.asnumpy(g) if isinstance(g, cupy.ndarray) else g
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_numpy_parameters_with_cupy_data():
    cupy = _cupy()
    args = list(GALLERY[2].args())
    df = srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))
    want = df(*args)
    got = df(*[cupy.asarray(a) for a in args])
    assert all(isinstance(g, cupy.ndarray) for g in got)
    _assert_close([cupy.asnumpy(g) for g in got], want, rtol=1e-10)
