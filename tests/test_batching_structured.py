"""The structured identity basis of the batched sweeps (``srcad.batching.Batched.basis``, the
seed ``srcad.jacobian`` and ``srcad.hessian`` start from): a batch kept as bands (its
diagonal, shifted by slices) while the operations allow, made dense where they do not.

Checked: each operation on a structured batch gives what the same operation gives on its
dense form (exactly the values, the nan and inf of the dense path included), and where the
structure is meant to survive it does (a regression there is a slowdown, not a wrong value,
but it is what the structure is for); the Jacobians and Hessians that start from the basis
equal the per-direction ones (one ``jvp``/``vjp``/``hvp`` per unit direction) and central
finite differences, in both modes.
"""
import numpy as np
import pytest

import srcad
from srcad import api
from srcad.batching import Batched
from helpers import central_difference, make_function, rng


def _structured(shape, seed=0):
    """A structured batch with a random diagonal, and its dense form."""
    d = rng(seed).uniform(0.5, 2.0, shape)
    return Batched.diagonal(d), Batched(np.eye(d.size).reshape((d.size,) + shape)
                                            * d.reshape((d.size,) + (1,) * len(shape)))


def _dense(x):
    return x.data if isinstance(x, Batched) else np.asarray(x)


INF = np.array([1.0, np.inf, 2.0])
NAN = np.array([1.0, 2.0, np.nan])
ZERO = np.array([1.0, 0.0, 2.0])

# (name, operation of (batch, primal p), logical shape, p's shape or an array, structured after)
OPERATIONS = [
    ("a * p", lambda a, p: a * p, (3,), (3,), True),
    ("p * a", lambda a, p: p * a, (2, 3), (3,), True),           # p of lower rank
    ("a * p grows", lambda a, p: a * p, (3,), (4, 3), False),    # p broadcasts the shape further
    ("a * scalar", lambda a, p: a * 2.5, (2, 2), None, True),
    ("np.multiply", lambda a, p: np.multiply(p, a), (3,), (3,), True),
    ("a * inf", lambda a, p: a * INF, (3,), None, False),        # 0 * inf is nan, densely
    ("a * nan", lambda a, p: a * NAN, (3,), None, False),
    ("a / p", lambda a, p: a / p, (3,), (3,), True),
    ("a / 0", lambda a, p: a / ZERO, (3,), None, False),         # 0 / 0 is nan, densely
    ("a / nan", lambda a, p: a / NAN, (3,), None, False),
    ("a / inf", lambda a, p: a / INF, (3,), None, True),         # 0 / inf is 0
    ("p / a", lambda a, p: p / a, (3,), (3,), False),
    ("-a", lambda a, p: -a, (2, 3), None, True),
    ("a + a", lambda a, p: a + a * p, (3,), (3,), True),
    ("a - a", lambda a, p: a - 2.0 * a, (2, 2), None, True),
    ("a + dense", lambda a, p: a + (p @ a), (3,), (3, 3), False),
    ("dense + a", lambda a, p: (p @ a) + a, (3,), (3, 3), False),
    ("dense - a", lambda a, p: (p @ a) - a, (3,), (3, 3), False),
    ("a - dense", lambda a, p: a - (p @ a), (3,), (3, 3), False),
    ("a + dense transposed", lambda a, p: a + (a * 2.0).T, (2, 2), None, False),
    ("a + p", lambda a, p: a + p, (3,), (3,), False),            # not linear: densely
    ("A @ a", lambda a, p: p @ a, (3,), (4, 3), False),
    ("A @ a, A a stack", lambda a, p: p @ a, (3,), (2, 4, 3), False),
    ("v @ a", lambda a, p: p @ a, (3,), (3,), False),
    ("a @ B", lambda a, p: a @ p, (3,), (3, 4), False),
    ("a @ v", lambda a, p: a @ p, (3,), (3,), False),
    ("a @ B stack", lambda a, p: a @ p, (3,), (2, 3, 4), False),
    ("A with inf @ a", lambda a, p: np.array([[1.0, np.inf, 0.0], [2.0, 1.0, 3.0]]) @ a,
     (3,), None, False),
    ("A with nan @ a", lambda a, p: np.array([[1.0, 0.0, 0.0], [2.0, np.nan, 3.0]]) @ a,
     (3,), None, False),
    ("a @ B with inf", lambda a, p: a @ np.array([[1.0, 0.0], [np.inf, 1.0], [0.0, 2.0]]),
     (3,), None, False),
    ("A @ a 2-d (dense)", lambda a, p: p @ a, (3, 2), (4, 3), False),
    ("np.dot", lambda a, p: np.dot(p, a), (3,), (4, 3), False),
    ("sum", lambda a, p: np.sum(a), (2, 3), None, False),
    ("sum keepdims", lambda a, p: np.sum(a, keepdims=True), (2, 3), None, False),
    ("sum axis", lambda a, p: np.sum(a, axis=0), (2, 3), None, False),
    ("mean", lambda a, p: a.mean(), (2, 3), None, False),
    ("reshape", lambda a, p: a.reshape(3, 2), (2, 3), None, True),
    ("reshape -1", lambda a, p: np.reshape(a, -1), (2, 3), None, True),
    ("ravel", lambda a, p: np.ravel(a), (2, 3), None, True),
    ("transpose 1-d", lambda a, p: a.T, (3,), None, True),
    ("transpose 2-d", lambda a, p: a.T, (2, 3), None, False),
    ("copy", lambda a, p: np.copy(a), (3,), None, True),
    ("astype", lambda a, p: a.astype(np.float32), (3,), None, True),
    ("zeros_like", lambda a, p: np.zeros_like(a), (3,), None, False),
    ("slice", lambda a, p: a[1:], (4,), None, True),
    ("integer", lambda a, p: a[2], (4,), None, False),
    ("fancy", lambda a, p: a[[0, 2, 2]], (4,), None, False),
    ("where", lambda a, p: np.where(p > 1.0, a, 0.0 * a), (3,), (3,), False),
    ("concatenate", lambda a, p: np.concatenate([a, a * 2.0]), (3,), None, False),
    ("cumsum (per direction)", lambda a, p: np.cumsum(a), (3,), None, False),
    # bands: slices of a vector shift the diagonal
    ("slice from 1", lambda a, p: a[1:], (4,), None, True),
    ("slice to -1", lambda a, p: a[:-1], (4,), None, True),
    ("slice middle", lambda a, p: a[1:3], (5,), None, True),
    ("slice of a slice", lambda a, p: a[1:][1:], (5,), None, True),
    ("slice with a step", lambda a, p: a[::2], (4,), None, False),
    ("slice of a matrix", lambda a, p: a[1:], (3, 2), None, False),
    ("two bands", lambda a, p: a[1:] - a[:-1], (4,), None, True),
    ("three bands", lambda a, p: a[2:] + a[1:-1] * 2.0 - a[:-2], (5,), None, True),
    ("bands times p", lambda a, p: (a[1:] - a[:-1]) * p, (4,), (3,), True),
    ("bands over p", lambda a, p: (a[1:] + a[:-1]) / p, (4,), (3,), True),
    ("p times bands", lambda a, p: p * a[1:], (4,), (3,), True),
    ("bands times inf", lambda a, p: a[1:] * np.array([1.0, np.inf, 2.0]), (4,), None, False),
    ("bands over 0", lambda a, p: a[:-1] / np.array([1.0, 0.0, 2.0]), (4,), None, False),
    ("bands over nan", lambda a, p: a[:-1] / np.array([1.0, np.nan, 2.0]), (4,), None,
     False),
    ("bands over inf", lambda a, p: a[:-1] / np.array([1.0, np.inf, 2.0]), (4,), None, True),
    ("bands times scalar", lambda a, p: -(a[1:] * 3.0), (4,), None, True),
    ("bands times 0-d inf", lambda a, p: a[1:] * np.float64(np.inf), (4,), None, False),
    ("sum of one band", lambda a, p: np.sum(a[1:]), (4,), None, False),
    ("sum of the head", lambda a, p: np.sum(a[:-1]), (4,), None, False),
    ("sum of a middle", lambda a, p: np.sum(a[1:3] * p), (5,), (2,), False),
    ("sum of two middles", lambda a, p: np.sum(a[1:3] - a[2:4]), (5,), None, False),
    ("sum of two bands", lambda a, p: np.sum(a[1:] - a[:-1] * p), (4,), (3,), False),
    ("sum of three bands", lambda a, p: np.sum(a[2:] + a[1:-1] + a[:-2]), (5,), None, False),
    ("bands + dense", lambda a, p: (a[1:] - a[:-1]) + p @ a, (4,), (3, 4), False),
    ("dense - bands", lambda a, p: p @ a - (a[1:] - a[:-1]), (4,), (3, 4), False),
    ("bands - dense", lambda a, p: a[:-1] - p @ a, (4,), (3, 4), False),
    ("bands @ (dense)", lambda a, p: p @ a[1:], (4,), (2, 3), False),
    ("element of bands", lambda a, p: (a[1:] - a[:-1])[1], (4,), None, False),
    ("last element", lambda a, p: a[1:][-1], (4,), None, False),
    ("reshape bands", lambda a, p: (a[1:] - a[:-1]).reshape(1, 3), (4,), None, True),
    ("bands mismatch", lambda a, p: a[1:] + a[:-1][None, :], (4,), None, False),
]


@pytest.mark.parametrize("name, op, shape, pshape, structured", OPERATIONS,
                         ids=[o[0] for o in OPERATIONS])
def test_each_operation_on_the_structured_batch_is_the_dense_one(name, op, shape, pshape,
                                                                 structured):
    a, dense = _structured(shape)
    p = None if pshape is None else rng(1).uniform(0.5, 2.0, pshape)
    with np.errstate(all="ignore"):
        got = op(a, p)
        want = op(dense, p)
    assert isinstance(got, Batched) and isinstance(want, Batched)
    assert dense.bands is None
    assert (got.bands is not None) == structured, name
    assert got.shape == want.shape and got.dtype == want.dtype, name
    np.testing.assert_array_equal(got.data, want.data, err_msg=name)     # nan where nan


def test_a_write_makes_the_batch_dense_and_keeps_the_values():
    a, dense = _structured((4,))
    b = a * 3.0                             # shares nothing a write could reach
    a[1] = 0.0
    dense[1] = 0.0
    assert a.bands is None
    np.testing.assert_array_equal(a.data, dense.data)
    np.testing.assert_array_equal(b.data, np.diag(3.0 * np.diag(_structured((4,))[1].data)))
    c, dense_c = _structured((2, 2))
    c += 1.5 * c                            # ufunc with out=: the dense form written into
    dense_c += 1.5 * dense_c
    np.testing.assert_array_equal(c.data, dense_c.data)


def test_the_basis_is_the_identity():
    for shape in [(), (1,), (5,), (2, 3)]:
        size = int(np.prod(shape))
        basis = Batched.basis(shape)
        assert basis.count == size and basis.shape == shape
        np.testing.assert_array_equal(basis.data, np.eye(size).reshape((size,) + shape))
        units = api._unit_directions(shape, np.float64, 0, size)
        assert isinstance(units, Batched) and units.bands is not None
    part = api._unit_directions((2, 3), np.float64, 2, 5)
    np.testing.assert_array_equal(part, np.eye(6)[2:5].reshape(3, 2, 3))


# -- Jacobians and Hessians from the basis ------------------------------------------------------

JACOBIANS = {
    "elementwise": ("def f(x):\n    return np.sin(x) * x + 3.0 * x\n", [(4,)]),
    "broadcasting": ("def f(x, p):\n    return np.exp(x * p) - x / p\n", [(2, 3), (3,)]),
    "outer broadcast": ("def f(x):\n    return x[:, None] * np.arange(1.0, 4.0)\n", [(3,)]),
    "matmul layer": ("def f(x, W, c):\n    return np.tanh(W @ x) + c * x ** 2\n",
                     [(5,), (5, 5), ()]),
    "wide layer": ("def f(x, W):\n    return np.tanh(W @ x) * np.sum(x)\n", [(5,), (4, 5)]),
    "vector times a stack": ("def f(x, B):\n    return np.sin(x @ B)\n", [(3,), (2, 3, 4)]),
    "square layer": ("def f(x, W):\n    return np.tanh(W @ x) + x ** 2\n", [(5,), (5, 5)]),
    "vector times matrix": ("def f(x, W):\n    return np.cos(x @ W) * 2.0\n", [(3,), (3, 4)]),
    "matrix argument": ("def f(X, v):\n    return np.tanh(X @ v) + np.sum(X ** 2)\n",
                        [(3, 2), (2,)]),
    "reductions": ("def f(x):\n    return np.sum(x ** 2, axis=0) + np.mean(x) * np.max(x)\n",
                   [(3, 4)]),
    "whole sum": ("def f(x):\n    return np.sum(np.sin(x)) * x\n", [(4,)]),
    "indexing": ("def f(x):\n    return x[1:] * x[:-1] + x[[0, 2, 2, 1]] ** 2\n", [(5,)]),
    "reshape": ("def f(x, M):\n    return np.tanh(x.reshape(2, 3) @ M).ravel()\n",
                [(6,), (3, 2)]),
    "quotient": ("def f(x):\n    return 1.0 / x + x / (1.0 + x ** 2)\n", [(4,)]),
    "identity": ("def f(x):\n    return x\n", [(3,)]),
    "linear": ("def f(x, W):\n    return W @ x - 2.0 * x\n", [(3,), (3, 3)]),
    "written into": ("def f(x):\n    y = np.zeros(4)\n    y[1:] = np.sin(x[:3])\n"
                     "    y[0] = x[3] * x[0]\n    return y\n", [(4,)]),
    "cumulative": ("def f(x):\n    return np.cumsum(x ** 2)\n", [(4,)]),
    "stacked": ("def f(x):\n    return np.concatenate([x ** 2, np.sin(x)])\n", [(3,)]),
}


def _args(shapes, seed=3):
    g = rng(seed)
    return tuple(float(g.uniform(0.5, 1.5)) if s == () else g.uniform(0.5, 1.5, s)
                 for s in shapes)


def _per_direction_forward(f, args):
    x = args[0]
    cols = [np.asarray(srcad.jvp(f, args, (e.reshape(x.shape),), wrt=0)[1])
            for e in np.eye(x.size)]
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + x.shape)


def _per_direction_reverse(f, args):
    y = np.asarray(f(*args))
    value, pullback = srcad.vjp(f, *args)
    rows = [np.asarray(pullback(e.reshape(y.shape))) for e in np.eye(y.size)]
    return np.stack(rows).reshape(y.shape + np.shape(args[0]))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", sorted(JACOBIANS))
def test_jacobian_from_the_basis_equals_each_direction_and_differences(name, mode):
    source, shapes = JACOBIANS[name]
    f = make_function(source)
    args = _args(shapes)
    jac = srcad.jacobian(f, mode=mode)
    got = jac(*args)
    again = jac(*args)                  # a repeat call (cached variants) gives the same
    np.testing.assert_array_equal(again, got)
    each = _per_direction_forward(f, args) if mode == "forward" else \
        _per_direction_reverse(f, args)
    assert got.shape == each.shape
    np.testing.assert_allclose(got, each, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, central_difference(f, args, 0), rtol=1e-6, atol=1e-8)
    got[...] = 7.0                      # the caller's own array: shares nothing
    np.testing.assert_array_equal(jac(*args), again)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_keeps_the_nan_of_each_direction(mode):
    """A matrix holding inf: each direction's product has nan where 0 times inf meets it;
    the structured product must not turn those into zeros."""
    f = make_function("def f(x, W):\n    return W @ x + x ** 2\n")
    x = np.array([1.0, 2.0, 3.0])
    W = np.array([[1.0, np.inf, 0.0], [0.0, 1.0, 0.0], [2.0, 0.0, 1.0]])
    with np.errstate(all="ignore"):
        got = srcad.jacobian(f, mode=mode)(x, W)
        each = _per_direction_forward(f, (x, W)) if mode == "forward" else \
            _per_direction_reverse(f, (x, W))
    assert np.isnan(each).any()
    np.testing.assert_array_equal(got, each)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_float32(mode):
    f = make_function("def f(x, W):\n    return np.tanh(W @ x) * x\n")
    x = rng(4).uniform(0.5, 1.5, 4).astype(np.float32)
    W = rng(5).uniform(-1, 1, (4, 4)).astype(np.float32)
    got = srcad.jacobian(f, mode=mode)(x, W)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _per_direction_forward(f, (x, W)), rtol=1e-5, atol=1e-6)


HESSIANS = {
    "rosenbrock": ("def f(x):\n    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 "
                   "+ (1.0 - x[:-1]) ** 2)\n", (6,)),
    "quadratic form": ("def f(x, A):\n    return 0.5 * x @ (A @ x) + np.sum(np.sin(x))\n",
                       (4,)),
    "matrix argument": ("def f(X):\n    return np.sum(np.tanh(X) ** 2) * np.sum(X)\n", (2, 3)),
    "log-sum-exp": ("def f(x):\n    m = np.max(x)\n    return m + np.log(np.sum(np.exp(x - m)))\n",
                    (5,)),
    "second differences": ("def f(x):\n    d = x[2:] - 2.0 * x[1:-1] + x[:-2]\n"
                           "    return np.sum(d ** 2 * x[1:-1]) + np.sum(x[:-1] * x[1:]) "
                           "+ x[3] * x[0]\n", (7,)),
}


@pytest.mark.parametrize("name", sorted(HESSIANS))
def test_hessian_from_the_basis_equals_hvp_columns_and_differences(name):
    source, shape = HESSIANS[name]
    f = make_function(source)
    x = rng(6).uniform(-1.0, 1.0, shape)
    args = (x, rng(7).uniform(-1, 1, (4, 4))) if name == "quadratic form" else (x,)
    hessian = srcad.hessian(f)
    hessian(*((x + 0.25,) + args[1:]))      # a call at another point first: the plan is reused
    h = np.reshape(hessian(*args), (x.size, x.size))
    hvp = srcad.hvp(f)
    cols = np.stack([np.ravel(hvp(*args, e.reshape(shape))) for e in np.eye(x.size)], axis=1)
    np.testing.assert_allclose(h, cols, rtol=1e-12, atol=1e-12)
    g = srcad.grad(f)
    fd = central_difference(lambda *a: np.ravel(g(*a)), args, 0, h=1e-5).reshape(h.shape)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-6)


def test_a_batch_of_vectors_times_a_stack_of_matrices():
    """``v @ B`` of a batch of vectors and a stack of matrices ``B`` (s, n, p): each direction
    gives (s, p). The dense batch's product used to put the stack axis first, taken for the
    directions: with as many matrices as directions, the Jacobian's axes came out swapped
    (forward mode, batched ``jvp``), silently."""
    f = make_function("def f(x, B):\n    return np.sin(x @ B)\n")
    x, B = np.array([0.5, 1.5]), np.arange(12.0).reshape(2, 2, 3) / 12
    directions = np.array([[1.0, 0.0], [0.3, -2.0]])
    _, batched = srcad.jvp(f, (x, B), (directions,), wrt=0, batched=True)
    each = np.stack([srcad.jvp(f, (x, B), (d,), wrt=0)[1] for d in directions])
    np.testing.assert_allclose(batched, each, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(srcad.jacobian(f, mode="forward")(x, B),
                               central_difference(f, (x, B), 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_repeat_calls_whose_output_shape_depends_on_the_values(mode):
    """A repeat call with arguments of the same kinds runs the one sweep the last call
    planned without calling ``f`` for the output: an output whose shape depends on the values
    (an int argument, a mask) must still get its own Jacobian."""
    head = make_function("def f(x, k):\n    return np.sin(x[:k]) * x[0]\n")
    positive = make_function("def f(x):\n    return x[x > 0] ** 3\n")
    x = np.array([0.5, -1.0, 1.5, 2.0])
    jac_head, jac_positive = srcad.jacobian(head, mode=mode), srcad.jacobian(positive, mode=mode)
    for k in (2, 3, 2, 4):
        np.testing.assert_allclose(jac_head(x, k), central_difference(head, (x, k), 0),
                                   rtol=1e-6, atol=1e-8)
    for point in (x, -x, x, np.abs(x)):
        got = jac_positive(point)
        assert got.shape == (int(np.sum(point > 0)), 4)
        np.testing.assert_allclose(got, central_difference(positive, (point,), 0), rtol=1e-6,
                                   atol=1e-8)


# steps of a random chain: each takes the batch so far and a generator, and returns the next
# batch; the chain runs on the structured batch and on its dense form side by side
STEPS = [
    lambda a, g: a[1:] if a.ndim == 1 and a.shape[0] > 1 else a,
    lambda a, g: a[:-1] + 0.5 * a[1:] if a.ndim == 1 and a.shape[0] > 1 else a,
    lambda a, g: a * g.uniform(-2, 2, a.shape),
    lambda a, g: g.uniform(-2, 2, a.shape[-1:]) * a,
    lambda a, g: a * float(g.uniform(-2, 2)),
    lambda a, g: a / g.uniform(0.5, 2, a.shape),
    lambda a, g: -a,
    lambda a, g: a + a * 2.0,
    lambda a, g: a - 0.5 * a,
    lambda a, g: a.reshape(a.shape[::-1]),
    lambda a, g: np.ravel(a).reshape(a.shape),
    lambda a, g: np.copy(a),
    lambda a, g: a * np.where(g.uniform(size=a.shape) < 0.3, 0.0, 1.0),    # zeros in p
    lambda a, g: a * np.where(g.uniform(size=a.shape) < 0.2, np.inf, 1.0),  # inf in p
    lambda a, g: a / np.where(g.uniform(size=a.shape) < 0.2, 0.0, 2.0),     # 0 in p
]


@pytest.mark.parametrize("seed", range(40))
def test_random_chains_on_the_structured_batch_are_the_dense_ones(seed):
    g = rng(100 + seed)
    shape = [(3,), (4,), (2, 3), (1,), ()][seed % 5]
    a, dense = _structured(shape, seed)
    with np.errstate(all="ignore"):
        for _ in range(6):
            step = STEPS[int(g.integers(len(STEPS)))]
            state = g.bit_generator.state
            a = step(a, g)
            g.bit_generator.state = state           # the same draws for the dense side
            dense = step(dense, g)
            assert a.shape == dense.shape and a.dtype == dense.dtype
        # end with an operation of the sweeps: a product with a matrix, or a sum
        if a.ndim == 1:
            m = g.uniform(-1, 1, (2,) + a.shape)
            a, dense = m @ a, m @ dense
        else:
            a, dense = np.sum(a), np.sum(dense)
        np.testing.assert_array_equal(a.data, dense.data)


def test_bands_added_in_place_into_a_dense_batch():
    """``buffer[index] += g`` of a structured ``g`` (the adjoint of a slice, accumulated by
    ``runtime.add_at``) adds the bands into the dense buffer in place: the same values as the
    dense ``g``, through a view of the buffer too."""
    from srcad import runtime
    a, dense = _structured((5,))
    g, g_dense = a[1:] - 2.0 * a[:-1], dense[1:] - 2.0 * dense[:-1]
    assert g.bands is not None
    start = rng(9).standard_normal((5, 6))
    buffer, want = Batched(start.copy()), Batched(start.copy())
    runtime.add_at(buffer, slice(1, 5), g)
    runtime.add_at(want, slice(1, 5), g_dense)
    np.testing.assert_array_equal(buffer.data, want.data)
    view = buffer[2:6]
    view -= g
    want_view = want[2:6]
    want_view -= g_dense
    np.testing.assert_array_equal(buffer.data, want.data)
    small = Batched(np.zeros((5, 4), np.float32))    # float64 bands: cast as NumPy casts
    small += g
    want_small = Batched(np.zeros((5, 4), np.float32))
    want_small += g_dense
    assert small.dtype == np.float32
    np.testing.assert_array_equal(small.data, want_small.data)


# -- every function of both corpora: the Jacobian from the basis against each direction ---------

def _corpus_points():
    import control_flow_corpus
    import corpus
    for case in corpus.CASES:
        yield case.name, case.fn, case.make_args(0), case.wrt
    for case in control_flow_corpus.CASES:
        yield case.id, case.f, tuple(case.args()), case.wrt


def _array_point(args, wrt):
    i = wrt[0] if isinstance(wrt, tuple) else wrt
    x = args[i] if isinstance(i, int) and i < len(args) else None
    return i if type(x) is np.ndarray and x.dtype == np.float64 and 0 < x.size <= 40 else None


CORPUS = [(name, f, args, i) for name, f, args, wrt in _corpus_points()
          if (i := _array_point(args, wrt)) is not None]


# the default suite checks every third point (both modes); --sweeps checks them all
CORPUS_MODES = [pytest.param(*c, mode, id=f"{c[0]}-{mode}",
                             marks=() if k % 3 == 0 else (pytest.mark.sweep,))
                for k, c in enumerate(CORPUS) for mode in ("forward", "reverse")]


@pytest.mark.parametrize("name, f, args, i, mode", CORPUS_MODES)
def test_corpus_jacobians_from_the_basis_equal_each_direction(name, f, args, i, mode):
    """Over both corpora (every function whose differentiated argument is a float array):
    the Jacobian the batched sweep computes from the structured basis equals the one from
    a ``jvp`` per unit direction (forward) or a ``vjp`` per unit seed (reverse); a function
    srcad refuses is refused by the Jacobian alike."""
    value = f(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    if type(value) is not np.ndarray and not isinstance(value, float) or \
            np.asarray(value).dtype.kind != "f":
        pytest.skip("not one real array or float output")
    x, y = args[i], np.asarray(value)
    with np.errstate(all="ignore"):
        try:
            if mode == "forward":
                cols = [np.asarray(srcad.jvp(f, args, (e.reshape(x.shape),), wrt=i)[1],
                                   dtype=float) for e in np.eye(x.size)]
                want = np.stack(cols, axis=-1).reshape(y.shape + x.shape)
            else:
                pullback = srcad.vjp(f, *args, wrt=i)[1]
                rows = [np.asarray(pullback(e.reshape(y.shape) if y.ndim else float(e[0])),
                                   dtype=float) for e in np.eye(y.size)]
                want = np.stack(rows).reshape(y.shape + x.shape)
        except srcad.SrcadError as refused:
            with pytest.raises(type(refused)):
                srcad.jacobian(f, wrt=i, mode=mode)(*args)
            return
        jac = srcad.jacobian(f, wrt=i, mode=mode)
        got = jac(*args)
        again = jac(*args)          # the planned sweep of a repeat call
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(again, got)
