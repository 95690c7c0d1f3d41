"""Batched tangents (issue 16, part 3): ``srcad.jvp(..., batched=True)``, the forward-mode
``jacobian`` and ``hessian`` run one forward sweep over a batch of directions
(``srcad.batching.Batched``: a leading axis on every tangent, the tangent rules unchanged).

The property checked everywhere: the batched result equals the unbatched results stacked,
over every function of both corpora (straight-line and control flow), for every argument
differentiated, at random directions. Functions the batch cannot run through fall back to
one sweep per direction; for the common models the test checks that they do not.
"""
import numpy as np
import pytest

import srcad
from srcad import batching
from srcad.batching import Batched, BatchingError
import control_flow_corpus
import corpus
from helpers import make_function, random_args, rng


def _arrays_or_floats(args, wrt):
    return all(isinstance(args[i], (float, np.ndarray)) and np.asarray(args[i]).dtype.kind == "f"
               for i in wrt)


def _wrt(case_wrt):
    return case_wrt if isinstance(case_wrt, tuple) else (case_wrt,)


def _points():
    for case in corpus.CASES:
        yield case.name, case.fn, case.make_args(0), _wrt(case.wrt)
    for case in control_flow_corpus.CASES:
        yield case.id, case.f, tuple(case.args()), _wrt(case.wrt)


POINTS = [p for p in _points() if _arrays_or_floats(p[2], p[3])]


def _directions(args, wrt, count, seed=0):
    g = rng(seed)
    return [g.standard_normal((count,) + np.shape(args[i])) for i in wrt]


def _stacked(f, args, wrt, tangents, count):
    outs = [srcad.jvp(f, args, [t[k] if np.ndim(args[i]) else float(t[k])
                                for i, t in zip(wrt, tangents)], wrt=wrt)
            for k in range(count)]
    value = outs[0][0]
    tans = [o[1] for o in outs]
    if isinstance(tans[0], tuple):
        return value, tuple(np.stack(t) for t in zip(*tans))
    return value, np.stack(tans)


def _close(a, b, what):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), what
        for x, y in zip(a, b):
            _close(x, y, what)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape}, stacked {b.shape}"
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("name, f, args, wrt", POINTS, ids=[p[0] for p in POINTS])
def test_batched_jvp_equals_stacked_jvps(name, f, args, wrt):
    count = 3
    tangents = _directions(args, wrt, count)
    try:
        expected_value, stacked = _stacked(f, args, wrt, tangents, count)
    except srcad.SrcadError as refused:            # refused alike, batched or not
        with pytest.raises(type(refused)):
            srcad.jvp(f, args, tangents, wrt=wrt, batched=True)
        return
    value, batched = srcad.jvp(f, args, tangents, wrt=wrt, batched=True)
    _close(value, expected_value, f"{name}: value")
    _close(batched, stacked, f"{name}: batched tangents")


# -- the common models run batched, without falling back ---------------------------------------

def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp(W, X, b):
    h = np.tanh(np.dot(X, W) + b)
    return np.mean(np.sum(h * h, axis=1)) + 0.1 * np.sum(W ** 2)


def rnn(Wh, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(h @ Wh + xs[t])
    return np.sum(h * h)


def logsumexp_rows(z, w):
    m = np.max(z, axis=1, keepdims=True)
    return np.sum(w * (m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))))


MODELS = [
    (rosenbrock, lambda g: (g.uniform(-1, 1, 7),)),
    (mlp, lambda g: (g.standard_normal((3, 4)), g.standard_normal((5, 3)), 0.3)),
    (rnn, lambda g: (0.5 * g.standard_normal((3, 3)), g.standard_normal((4, 2, 3)),
                     g.standard_normal((2, 3)))),
    (logsumexp_rows, lambda g: (g.standard_normal((4, 3)), g.standard_normal(4))),
]


@pytest.mark.parametrize("f, make", MODELS, ids=[m[0].__name__ for m in MODELS])
def test_models_run_batched_without_falling_back(f, make):
    """Forward over reverse with a batch (the Hessian's sweep) runs through ``Batched``
    itself: no ``BatchingError``; and the Hessian equals the stacked Hessian-vector
    products and is symmetric."""
    args = make(rng(1))
    x = args[0]
    df = srcad.autodiff(srcad.grad(f), mode="forward")
    count = x.size
    eye = np.eye(count).reshape((count,) + x.shape)
    with batching.directions(count):
        out = df(*args, Batched(eye.copy()))
    assert isinstance(out, Batched)
    columns = np.stack([df(*args, e) for e in eye])
    np.testing.assert_allclose(out.data, columns, rtol=1e-10, atol=1e-12)
    h = srcad.hessian(f)(*args).reshape(count, count)
    np.testing.assert_allclose(h, columns.reshape(count, count).T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, h.T, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("f, make", MODELS, ids=[m[0].__name__ for m in MODELS])
def test_forward_jacobian_equals_reverse(f, make):
    args = make(rng(2))
    g = srcad.grad(f)
    forward = srcad.jacobian(g, mode="forward")(*args)
    reverse = srcad.jacobian(g, mode="reverse")(*args)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-11)


def test_jacobian_in_chunks_equals_one_sweep(monkeypatch):
    from srcad import api

    x = rng(3).uniform(-1, 1, 9)
    whole = srcad.hessian(rosenbrock)(x)
    monkeypatch.setattr(api, "_BATCH_ELEMENTS", 4 * 9)     # 4 directions per sweep
    np.testing.assert_array_equal(srcad.hessian(rosenbrock)(x), whole)


# -- Batched itself: each operation as its unbatched one, direction by direction ----------------

def _each_direction(op, *operands):
    count = next(o.data.shape[0] for o in operands if isinstance(o, Batched))
    return np.stack([op(*[o.data[k] if isinstance(o, Batched) else o for o in operands])
                     for k in range(count)])


OPERATIONS = [
    ("a * p", lambda a, p: a * p, (3,), (4, 3)),          # the primal of higher rank
    ("p * a", lambda a, p: p * a, (4, 1), (3,)),
    ("a + p", lambda a, p: a + p, (), (2, 3)),            # a 0-d tangent
    ("sum axis 0", lambda a, p: np.sum(a, axis=0), (4, 3), None),
    ("sum axis -1 keepdims", lambda a, p: np.sum(a, axis=-1, keepdims=True), (4, 3), None),
    ("mean", lambda a, p: np.mean(a), (4, 3), None),
    ("mean axis tuple", lambda a, p: np.mean(a, axis=(0, 2)), (2, 3, 4), None),
    ("p @ a (vector)", lambda a, p: p @ a, (3,), (4, 3)),
    ("a @ p (vector)", lambda a, p: a @ p, (4,), (4, 3)),
    ("p @ a (matrix)", lambda a, p: p @ a, (3, 2), (4, 3)),
    ("a @ p (stack)", lambda a, p: a @ p, (2, 4, 3), (3, 5)),
    ("p @ a (vector, vector)", lambda a, p: p @ a, (3,), (3,)),
    ("dot", lambda a, p: np.dot(p, a), (3, 2), (4, 3)),
    ("dot 3-d", lambda a, p: np.dot(a, p), (2, 4), (3, 4, 5)),
    ("vdot", lambda a, p: np.vdot(a, p), (2, 3), (2, 3)),
    ("transpose", lambda a, p: a.T, (2, 3, 4), None),
    ("transpose axes", lambda a, p: np.transpose(a, (1, 0, 2)), (2, 3, 4), None),
    ("reshape", lambda a, p: np.reshape(a, (3, -1)), (2, 3, 2), None),
    ("ravel", lambda a, p: np.ravel(a), (2, 3), None),
    ("expand_dims", lambda a, p: np.expand_dims(a, -1), (2, 3), None),
    ("squeeze", lambda a, p: np.squeeze(a), (2, 1, 3), None),
    ("swapaxes", lambda a, p: np.swapaxes(a, 0, -1), (2, 3, 4), None),
    ("broadcast_to", lambda a, p: np.broadcast_to(a, (4, 2, 3)), (2, 1), None),
    ("concatenate", lambda a, p: np.concatenate([a, p], axis=-1), (2, 3), (2, 2)),
    ("stack", lambda a, p: np.stack([p, a], axis=1), (2, 3), (2, 3)),
    ("where", lambda a, p: np.where(p > 0, a, 2.0 * a), (2, 3), (3,)),
    ("slice", lambda a, p: a[1:, ::2], (3, 4), None),
    ("integer then slice", lambda a, p: a[1, :2], (3, 4), None),
    ("fancy", lambda a, p: a[[0, 2, 2]], (3, 4), None),
    ("fancy apart", lambda a, p: a[[0, 1], :, [1, 0]], (2, 3, 2), None),
    ("fancy beside integer", lambda a, p: a[[1, 0], 2], (2, 3, 2), None),
    ("fancy apart from an integer", lambda a, p: a[0, :, [1, 0]], (2, 3, 2), None),
    ("mask", lambda a, p: a[p > 0], (4,), (4,)),
    ("newaxis", lambda a, p: a[:, None], (3,), None),
    ("cumsum (fallback)", lambda a, p: np.cumsum(a, axis=0), (3, 2), None),
    ("tensordot (fallback)", lambda a, p: np.tensordot(a, p, axes=1), (2, 3), (3, 4)),
]


@pytest.mark.parametrize("name, op, tshape, pshape", OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_each_operation_is_its_unbatched_one(name, op, tshape, pshape):
    g = rng(4)
    a = Batched(g.standard_normal((3,) + tshape))
    p = None if pshape is None else g.standard_normal(pshape)
    got = op(a, p)
    assert isinstance(got, Batched)
    expected = _each_direction(op, a, p)
    assert got.data.shape == expected.shape, name
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-14)


def test_an_operation_returning_a_list_is_batched_item_by_item():
    # runtime.unconcatenate returns a list of pieces: each piece gets its own batch
    from srcad import runtime
    a = Batched(rng(5).standard_normal((3, 5)))
    pieces = runtime.unconcatenate(a, [np.zeros(2), np.zeros(3)], 0)
    assert isinstance(pieces, list) and [p.data.shape for p in pieces] == [(3, 2), (3, 3)]
    np.testing.assert_array_equal(pieces[1].data, a.data[:, 2:])


def test_setitem_and_in_place_operations():
    g = rng(5)
    a = Batched(g.standard_normal((3, 4, 2)))
    v = Batched(g.standard_normal((3, 2)))
    expected = a.data.copy()
    expected[:, 1] = v.data
    a[1] = v
    np.testing.assert_array_equal(a.data, expected)
    a += np.ones(2)
    np.testing.assert_array_equal(a.data, expected + 1.0)


@pytest.mark.parametrize("use", [
    lambda a: np.asarray(a), lambda a: float(a[0, 0]), lambda a: bool(a[0, 0] > 0),
    lambda a: np.add(np.ones((2, 2)), a, out=np.zeros((2, 2))),
    lambda a: np.copyto(np.zeros((2, 2)), a),
], ids=["asarray", "float", "bool", "ufunc out", "copyto"])
def test_a_batch_is_never_taken_for_one_array(use):
    a = Batched(rng(6).standard_normal((3, 2, 2)))
    with pytest.raises(BatchingError):
        use(a)


def test_batched_jvp_needs_one_leading_axis():
    with pytest.raises(srcad.SrcadError):
        srcad.jvp(rosenbrock, (np.ones(4),), (np.ones(4),), batched=True)


def _dict_model(p, x):
    h = np.tanh(x @ p["W"] + p["b"])
    return {"out": h * p["layers"][0], "norm": np.sum(h ** 2) + p["layers"][1] ** 2}


def test_batched_jvp_of_container_arguments_equals_each_direction(monkeypatch):
    """Tangents of a dict (and a list inside it) with a leading axis of directions on each
    leaf, beside an array's: one sweep, no fallback to per-direction calls, the same values
    as each direction's jvp."""
    g = rng(4)
    p = {"W": g.standard_normal((3, 2)), "b": g.standard_normal(2),
         "layers": [g.standard_normal(2), 0.7]}
    x = g.standard_normal((4, 3))
    T = {"W": g.standard_normal((5, 3, 2)), "b": g.standard_normal((5, 2)),
         "layers": [g.standard_normal((5, 2)), g.standard_normal(5)]}
    tx = g.standard_normal((5, 4, 3))
    calls = []
    monkeypatch.setattr(srcad.api, "_direction", lambda t, k: calls.append(k))
    value, batched = srcad.jvp(_dict_model, (p, x), (T, tx), batched=True)
    assert calls == []
    for k in range(5):
        Tk = {"W": T["W"][k], "b": T["b"][k], "layers": [T["layers"][0][k], T["layers"][1][k]]}
        _, one = srcad.jvp(_dict_model, (p, x), (Tk, tx[k]))
        for key in one:
            np.testing.assert_allclose(batched[key][k], one[key], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value["norm"], _dict_model(p, x)["norm"])


def test_batched_jvp_of_a_container_needs_one_leading_axis_on_every_leaf():
    p = {"W": np.ones((3, 2)), "b": np.ones(2), "layers": [np.ones(2), 0.5]}
    T = {"W": np.ones((4, 3, 2)), "b": np.ones((3, 2)), "layers": [np.ones((4, 2)), np.ones(4)]}
    with pytest.raises(srcad.SrcadError, match="same leading axis"):
        srcad.jvp(_dict_model, (p, np.ones((4, 3))), (T, np.ones((4, 4, 3))), batched=True)


# -- batched cotangents: jacobian(mode='reverse') ------------------------------------------------

def _vector_valued(points):
    for name, f, args, wrt in points:
        try:
            y = f(*args)
        except Exception:
            continue
        if isinstance(y, np.ndarray) and y.ndim and y.dtype.kind == "f":
            yield name, f, args, wrt


def _rule_points():
    """The rule tables' expressions (NumPy's rest, statistics, reductions) as functions that
    return the expression itself, most of them array-valued."""
    import test_templates_numpy_rest
    import test_templates_reductions
    import test_templates_statistics
    rows = [(e, shapes, dom, consts) for e, shapes, dom, consts in
            test_templates_numpy_rest.CASES + test_templates_statistics.CASES]
    rows += [(e, shapes, dom, None) for e, shapes, dom in test_templates_reductions.CASES]
    for k, (expr, shapes, domain, consts) in enumerate(rows):
        names = "xyzw"[:len(shapes)]
        namespace = dict(consts or {})
        f = make_function(f"def f({', '.join(names)}):\n    return {expr}\n", namespace)
        args = tuple(random_args(shapes, domain, seed=k))
        wrt = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
        if wrt:
            yield f"{expr} {shapes}", f, args, wrt


VECTOR_POINTS = list(_vector_valued(POINTS)) + list(_vector_valued(_rule_points()))


def test_the_corpora_have_vector_valued_functions():
    assert len(VECTOR_POINTS) >= 100


@pytest.mark.parametrize("name, f, args, wrt", VECTOR_POINTS, ids=[p[0] for p in VECTOR_POINTS])
def test_batched_vjp_equals_stacked_vjps(name, f, args, wrt):
    """A batch of seeds through one reverse sweep (``api._batched_reverse``, which
    ``jacobian(mode='reverse')`` uses) equals the reverse sweeps of each seed, stacked."""
    from srcad import api

    count = 3
    seeds = rng(4).standard_normal((count,) + np.shape(f(*args)))
    df = srcad.autodiff(f, mode="reverse", wrt=wrt)
    try:
        stacked = _stack_results([df(*args, seed=s) for s in seeds])
    except srcad.SrcadError as refused:
        with pytest.raises(type(refused)):
            api._batched_reverse(df, args, seeds)
        return
    _close(api._batched_reverse(df, args, seeds), stacked, f"{name}: batched cotangents")


def _stack_results(outs):
    if isinstance(outs[0], tuple):
        return tuple(np.stack([np.asarray(o) for o in t]) for t in zip(*outs))
    return np.stack([np.asarray(o) for o in outs])


def layer(x, W, c):
    return np.tanh(W @ x) + c * x ** 2


def softmax_rows(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def rnn_state(h0, Wh, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(Wh, h) + xs[t])
    return h


VECTOR_MODELS = [
    (layer, lambda g: (g.standard_normal(5), g.standard_normal((5, 5)), 0.5)),
    (softmax_rows, lambda g: (g.standard_normal((3, 4)),)),
    (rnn_state, lambda g: (g.standard_normal(4), 0.4 * g.standard_normal((4, 4)),
                           g.standard_normal((3, 4)))),
]
# (A gradient's Jacobian, reverse over reverse, accumulates into buffers of its own and runs
# one seed at a time: test_forward_jacobian_equals_reverse checks it.)


@pytest.mark.parametrize("f, make", VECTOR_MODELS,
                         ids=[getattr(m[0], "__name__", str(k)) for k, m in
                              enumerate(VECTOR_MODELS)])
def test_vector_models_run_reverse_batched_without_falling_back(f, make):
    """The reverse sweep takes the batch of seeds itself (no fallback), and the reverse
    Jacobian equals the forward one."""
    args = make(rng(5))
    y = np.asarray(f(*args))
    df = srcad.autodiff(f, mode="reverse")
    seeds = np.eye(y.size).reshape((y.size,) + y.shape)
    out = df(*args, seed=Batched(seeds.copy()))
    assert isinstance(out, Batched)
    rows = np.stack([df(*args, seed=s) for s in seeds])
    np.testing.assert_allclose(out.data, rows, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(srcad.jacobian(f, mode="reverse")(*args),
                               srcad.jacobian(f, mode="forward")(*args), rtol=1e-9, atol=1e-11)


def test_reverse_batch_falls_back_where_it_cannot_run():
    """An adjoint sweep that accumulates into a buffer of its own (``np.add.at`` through a
    repeated index) cannot take the batch; the seeds then run one by one, with the same
    values."""
    from srcad import api

    def gather(x):
        idx = np.array([0, 2, 0, 1])
        return np.sin(x[idx]) * x[idx]

    x = rng(6).standard_normal(3)
    df = srcad.autodiff(gather, mode="reverse")
    seeds = np.eye(4)
    rows = np.stack([df(x, seed=s) for s in seeds])
    np.testing.assert_allclose(api._batched_reverse(df, (x,), seeds), rows, rtol=1e-12)
    np.testing.assert_allclose(srcad.jacobian(gather, mode="reverse")(x), rows, rtol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape, batched", [
    ((4, 3), (3,), "b"), ((2, 4, 3), (3,), "b"), ((3,), (3,), "b"), ((4, 3), (3, 5), "b"),
    ((2, 4, 3), (3, 5), "b"), ((4, 3), (2, 3, 5), "b"), ((3,), (3, 5), "a"),
    ((4, 3), (3, 5), "a"), ((4, 3), (3,), "a"), ((2, 4, 3), (3, 5), "a"),
    ((4, 3), (2, 3, 5), "a"),
    ((4, 3), (3, 0), "b"), ((4, 3), (3, 0), "a"), ((0, 3), (3, 2), "a")])   # empty blocks
def test_batched_matmul_equals_each_direction(a_shape, b_shape, batched):
    g = rng(7)
    count = 3
    a, b = g.standard_normal(a_shape), g.standard_normal(b_shape)
    if batched == "a":
        stack = g.standard_normal((count,) + a_shape)
        out, want = Batched(stack) @ b, [s @ b for s in stack]
    else:
        stack = g.standard_normal((count,) + b_shape)
        out, want = a @ Batched(stack), [a @ s for s in stack]
    assert isinstance(out, Batched)
    np.testing.assert_allclose(out.data, np.stack(want), rtol=1e-12, atol=1e-12)


# Hessians run forward over reverse on a batch of directions: products with an empty block
# (the unused columns of a wide svd's u-derivative, of qr's r), pieces of a concatenation
HESSIAN_SOURCES = {
    "svd of a wide matrix": ("def f(a):\n    u, s, vt = np.linalg.svd(a)\n"
                             "    return s[0] + np.sum(u[:, 0] ** 2 * np.arange(1.0, 4.0))\n",
                             (3, 5)),
    "qr mode r": ("def f(a):\n    r = np.linalg.qr(a, mode='r')\n"
                  "    return np.sum(np.log(np.abs(np.diag(r))))\n", (4, 4)),
    "r_ with a bias": ("def f(w):\n"
                       "    return np.sum(np.tanh(np.r_[w, 1.0] * np.r_[w ** 2, 1.0]))\n", (3,)),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_SOURCES))
def test_batched_hessian_equals_hvp_columns(name):
    source, shape = HESSIAN_SOURCES[name]
    f = make_function(source)
    x = rng(8).standard_normal(shape)
    hess = np.reshape(srcad.hessian(f)(x), (x.size, x.size))
    hvp = srcad.hvp(f)
    cols = np.stack([np.ravel(hvp(x, e.reshape(shape))) for e in np.eye(x.size)], axis=1)
    np.testing.assert_allclose(hess, cols, rtol=1e-10, atol=1e-10)
