"""Shape-specialized derivatives and the optimizations built on them.

* ``analysis.shapes`` (and ``broadcast``, ``join``, ``matmul_shape``): what is known of each
  value's shape, from the parameters' canonical shapes ("n0", "n1", ... or 1, None unknown);
* one derivative function called with many broadcasting patterns: each call gets code
  specialized for its canonical shapes (``Broadcasts`` drops or simplifies ``unbroadcast``),
  and a new size with the same pattern reuses the built code;
* softmax / log-softmax shift invariance (no adjoint for the subtracted max), and cases where
  the max is needed after all;
* compact reduction adjoints (``with_shapes``), in-place accumulation (``_InPlace``), nested
  temporaries (``inline_temporaries``) and the stable ``logaddexp`` derivative.

Gradients of ``srcad.grad`` are compared with central finite differences computed here
(``srcad.check_grad`` too, but it checks the seeded VJP, which is different generated code),
with hand-written NumPy gradients where they are short, and each call also checks that the
arguments are left unchanged and that a second call gives the same result.
"""
import warnings

import numpy as np
import pytest

import srcad
from srcad import api
from srcad.analysis import broadcast, join, matmul_shape, shapes
from srcad.normalize import normalize
from srcad.source import parse_function
from helpers import (central_difference, check_second_order_of, count_builds, make_function,
                     rng)


# -- helpers ----------------------------------------------------------------------------------

def _shapes_of(source, **params):
    """``analysis.shapes`` of the function in ``source``, for these parameter shapes."""
    program = normalize(parse_function(make_function(source)))
    return shapes(program.node, params)


def _draw(shape, seed):
    """A float64 array of ``shape`` (a Python float for ``None``)."""
    if shape is None:
        return float(rng(seed).uniform(0.5, 1.5))
    return rng(seed).standard_normal(shape)


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _checked_grad(f, args, wrt):
    """``srcad.grad(f, wrt)(*args)`` as a tuple, after checking that it leaves the arguments
    unchanged, that a second call gives the same values, that each gradient is shaped like
    its argument and that it agrees with finite differences."""
    wrt = tuple(wrt)
    before = [_copy(a) for a in args]
    first = srcad.grad(f, wrt=wrt)(*args)
    kept = [_copy(g) for g in first]
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b, err_msg="the gradient changed an argument")
    second = srcad.grad(f, wrt=wrt)(*args)
    for g1, g2 in zip(kept, second):
        np.testing.assert_array_equal(g1, g2, err_msg="a second call gave another result")
    for i, g in zip(wrt, kept):
        assert np.shape(g) == np.shape(args[i]), (
            f"gradient of argument {i} has shape {np.shape(g)}, the argument "
            f"{np.shape(args[i])}")
        np.testing.assert_allclose(g, central_difference(f, before, i), rtol=1e-6, atol=1e-7,
                                   err_msg=f"gradient of argument {i}")
    return kept


def _specialized_source(f, args, wrt=(0,)):
    """The generated gradient source specialized for these arguments' shapes (what a call
    runs; ``srcad.show`` gives the generic derivative)."""
    spec = api.Spec(wrt=tuple(wrt), single=False,
                    kinds=api._canonical(api._kinds(args)))
    return api._get(f, spec).source


def _sum_to(a, shape):
    """``a`` summed over the dimensions broadcasting added to ``shape``."""
    a = np.sum(a, axis=tuple(range(a.ndim - len(shape))))
    return np.sum(a, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


# -- 1. analysis.shapes -----------------------------------------------------------------------

def test_broadcast_join_and_matmul_shape_on_tuples():
    assert broadcast([("n0", "n1"), ("n1",)]) == ("n0", "n1")
    assert broadcast([("n0", 1), (1, "n1")]) == ("n0", "n1")
    assert broadcast([(1,), ()]) == (1,)
    assert broadcast([(None, "n1"), ("n0", 1)]) == (None, "n1")   # None may be 1 or n0
    assert broadcast([("n0",), None]) is None
    assert join(("n0", "n1"), ("n0", 1)) == ("n0", None)
    assert join(("n0", "n1"), ("n0",)) is None
    assert matmul_shape(("n0", "n1"), ("n1", "n2")) == ("n0", "n2")
    assert matmul_shape(("n2", "n0", "n1"), ("n1", "n0")) == ("n2", "n0", "n0")
    assert matmul_shape((), ("n0",)) is None


ELEMENTWISE = """
def f(x, b, c, u):
    y = x * b
    z = y + c
    col = x * np.sum(x, axis=1, keepdims=True)
    e = np.exp(u * b)
    return np.sum(z) + np.sum(col) + np.sum(e)
"""


def test_shapes_elementwise_broadcasting():
    found = _shapes_of(ELEMENTWISE, x=("n0", "n1"), b=("n1",), c=(1, "n1"), u=(None, "n1"))
    assert found["y"] == ("n0", "n1")
    assert found["z"] == ("n0", "n1")          # a dimension 1 broadcasts
    assert found["col"] == ("n0", "n1")
    assert found["e"] == (None, "n1")          # unknown stays unknown


REDUCTIONS = """
def f(x, u):
    a = np.sum(x, axis=0)
    b = np.sum(x, axis=-1, keepdims=True)
    c = np.mean(x, axis=(0, 2))
    d = np.max(x, axis=(2, 0), keepdims=True)
    q = np.max(x, axis=(-1, 0), keepdims=True)
    e = np.sum(x)
    k = np.sum(x, keepdims=True)
    s = np.sum(u)
    t = np.mean(u, axis=0)
    return e
"""


def test_shapes_reductions():
    found = _shapes_of(REDUCTIONS, x=("n0", "n1", "n2"), u=None)
    assert found["a"] == ("n1", "n2")
    assert found["b"] == ("n0", "n1", 1)
    assert found["c"] == ("n1",)
    assert found["d"] == (1, "n1", 1)
    assert found["e"] == ()
    assert found["k"] == (1, 1, 1)
    assert found.get("q", (1, "n1", 1)) == (1, "n1", 1)     # if known, known right
    assert found["s"] == ()                    # a full reduction is a scalar, whatever it is
    assert "t" not in found


MATMULS = """
def f(A, B, v, w):
    ab = A @ B
    av = A @ v
    wa = w @ A
    vv = v @ v
    at = A.T
    bt = np.transpose(B)
    return np.sum(ab)
"""


def test_shapes_matmul_and_transpose():
    found = _shapes_of(MATMULS, A=("n0", "n1"), B=("n1", "n2"), v=("n1",), w=("n0",))
    assert found["ab"] == ("n0", "n2")
    assert found["av"] == ("n0",)
    assert found["wa"] == ("n1",)
    assert found["vv"] == ()
    assert found["at"] == ("n1", "n0")
    assert found["bt"] == ("n2", "n1")


INDEXING = """
def f(x):
    r = x[0]
    col = x[:, 0]
    tail = x[1:]
    lifted = x[None]
    n = x.shape[0]
    m = len(x)
    for i in range(3):
        row = x[i]
    return np.sum(r)
"""


def test_shapes_indexing_and_sizes():
    found = _shapes_of(INDEXING, x=("n0", "n1"))
    assert found["r"] == ("n1",)
    assert found["col"] == ("n0",)
    assert found["tail"] == (None, "n1")       # how many rows a slice keeps is not known
    assert found["lifted"] == (1, "n0", "n1")
    assert found["n"] == ()
    assert found["m"] == ()
    assert found["i"] == ()
    assert found["row"] == ("n1",)


LOOP = """
def f(x):
    h = x
    g = x
    for i in range(3):
        h = np.sum(h, axis=1, keepdims=True)
        g = np.sum(g, axis=1)
    after = h + 1.0
    return np.sum(h) + np.sum(g) + np.sum(after)
"""


def test_shapes_join_over_loop():
    found = _shapes_of(LOOP, x=("n0", "n1"))
    assert found["h"] == ("n0", None)          # (n0, n1) or (n0, 1)
    assert found["after"] == ("n0", None)
    assert "g" not in found                    # rank 2 or 1: nothing is known


# -- 2. one derivative, many broadcasting patterns --------------------------------------------

BIAS = make_function("""
def biased(x, b):
    return np.sum(np.tanh(x * b + 0.5) ** 2)
""")


def _bias_grads(x, b):
    """The hand-written gradient of ``biased``."""
    t = np.tanh(x * b + 0.5)
    g = 2.0 * t * (1.0 - t * t)
    gb = np.sum(g * x) if isinstance(b, float) else _sum_to(g * x, np.shape(b))
    return _sum_to(g * b, np.shape(x)), gb


BIAS_SHAPES = [
    ((4, 3), None),          # a Python float
    ((4, 3), ()),
    ((4, 3), (1,)),
    ((4, 3), (3,)),
    ((4, 3), (4, 1)),
    ((4, 3), (1, 3)),
    ((4, 3), (4, 3)),
    ((3,), (4, 1)),          # the result is bigger than both
    ((1, 3), (4, 1)),
    ((3, 3), (3,)),          # equal sizes by coincidence
    ((3, 3), (3, 1)),
    ((2, 3, 4), (3, 1)),
]


@pytest.mark.parametrize("x_shape, b_shape", BIAS_SHAPES)
def test_broadcasting_patterns_of_one_function(x_shape, b_shape):
    x, b = _draw(x_shape, 1), _draw(b_shape, 2)
    gx, gb = _checked_grad(BIAS, [x, b], wrt=(0, 1))
    want_x, want_b = _bias_grads(x, b)
    np.testing.assert_allclose(gx, want_x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gb, want_b, rtol=1e-12, atol=1e-14)
    assert isinstance(gb, float) == isinstance(b, float)
    srcad.check_grad(BIAS, x, b, wrt=(0, 1))


def test_same_pattern_with_other_sizes_reuses_the_build(monkeypatch):
    f = make_function("""
        def pattern(x, b):
            return np.sum(np.tanh(x * b + 0.5) ** 2)
    """)
    dfx = srcad.grad(f, wrt=(0, 1))
    small = [_draw((4, 3), 3), _draw((3,), 4)]
    other = [_draw((5, 2), 5), _draw((2,), 6)]
    square = [_draw((3, 3), 7), _draw((3,), 8)]
    calls = count_builds(monkeypatch, lambda f, spec: spec.kinds)
    first = dfx(*small)
    assert calls == [(("n0", "n1"), ("n1",))]
    second = dfx(*other)
    assert len(calls) == 1                     # (5, 2) & (2,): the same canonical shapes
    third = dfx(*square)
    assert calls[1:] == [(("n0", "n0"), ("n0",))]
    for args, grads in ((small, first), (other, second), (square, third)):
        for got, want in zip(grads, _bias_grads(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    dfx(*small)
    assert len(calls) == 2


# -- 3. softmax and log-softmax shift invariance ----------------------------------------------

LOG_SOFTMAX = make_function("""
def log_softmax_loss(a, w):
    z = a - np.max(a, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return np.sum(w * logp)
""")

SOFTMAX = make_function("""
def softmax_loss(a, w):
    e = np.exp(a - np.max(a, axis=-1, keepdims=True))
    p = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(w * p)
""")

LOGSUMEXP = make_function("""
def logsumexp(a):
    m = np.max(a, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True)))
""")

MISMATCHED_AXIS = make_function("""
def mismatched(a, w):
    z = a - np.max(a, axis=0, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return np.sum(w * logp)
""")


def _with_ties(shape, seed):
    """Random logits whose first row has two equal maxima."""
    a = _draw(shape, seed)
    a[0, :2] = np.max(a[0]) + 1.0
    return a


def _softmax(a):
    e = np.exp(a - np.max(a, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5)])
def test_log_softmax_gradient(shape, ties):
    a = _with_ties(shape, 10) if ties else _draw(shape, 10)
    w = _draw(shape, 11)
    ga, gw = _checked_grad(LOG_SOFTMAX, [a, w], wrt=(0, 1))
    p = _softmax(a)
    np.testing.assert_allclose(ga, w - p * np.sum(w, axis=1, keepdims=True), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(gw, np.log(p), rtol=1e-12, atol=1e-14)
    srcad.check_grad(LOG_SOFTMAX, a, w, wrt=(0, 1))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5)])
def test_softmax_gradient(shape, ties):
    a = _with_ties(shape, 12) if ties else _draw(shape, 12)
    w = _draw(shape, 13)
    (ga,) = _checked_grad(SOFTMAX, [a, w], wrt=(0,))
    p = _softmax(a)
    np.testing.assert_allclose(ga, p * (w - np.sum(w * p, axis=-1, keepdims=True)),
                               rtol=1e-12, atol=1e-14)
    srcad.check_grad(SOFTMAX, a, w, wrt=(0, 1))


@pytest.mark.parametrize("f", [LOG_SOFTMAX, SOFTMAX], ids=["log_softmax", "softmax"])
def test_shift_invariance_drops_the_max_adjoint(f):
    args = [_draw((4, 3), 14), _draw((4, 3), 15)]
    assert "group_weights" not in srcad.show(f)
    assert "group_weights" not in srcad.show(f, wrt=(0, 1))
    assert "group_weights" not in _specialized_source(f, args)


LOOPED_LOG_SOFTMAX = make_function("""
def looped(a, W, w):
    total = 0.0
    for t in range(3):
        a = np.tanh(a @ W)
        z = a - np.max(a, axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        total = total + np.sum(w * logp)
    return total
""")


def test_shift_invariance_inside_a_loop():
    a, W, w = _draw((4, 3), 19), _draw((3, 3), 20) * 0.5, _draw((4, 3), 21)
    _checked_grad(LOOPED_LOG_SOFTMAX, [a, W, w], wrt=(0, 1))
    assert "group_weights" not in srcad.show(LOOPED_LOG_SOFTMAX, wrt=(0, 1))


@pytest.mark.parametrize("ties", [False, True])
def test_logsumexp_written_out_drops_the_max_adjoint(ties):
    # m + log(sum(exp(a - m))) does not depend on m (coefficient 1 - 1): no derivative
    # reaches it, and the gradient is still exact
    a = _with_ties((4, 3), 16) if ties else _draw((4, 3), 16)
    (ga,) = _checked_grad(LOGSUMEXP, [a], wrt=(0,))
    np.testing.assert_allclose(ga, _softmax(a), rtol=1e-12, atol=1e-14)
    srcad.check_grad(LOGSUMEXP, a)
    assert "group_weights" not in srcad.show(LOGSUMEXP)
    assert "group_weights" not in _specialized_source(LOGSUMEXP, [a])


# Spellings whose value does not depend on the subtracted reduction (each ``True``) and ones
# that do (``False``): the max's adjoint is dropped exactly for the first.
SHIFTED = [
    ("""
def f(a, Y):
    m = a.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(a - m).sum(axis=1, keepdims=True))
    return np.sum(Y * (lse - a)) / a.shape[0]
""", True),
    ("""
def f(a, Y):
    m = np.max(a)
    return m + np.log(np.sum(np.exp(a - m))) + np.sum(Y * a)
""", True),
    ("""
def f(a, Y):
    m = np.amax(a, axis=-1, keepdims=True)
    z = (a - m) / 2.0
    return np.sum(Y * (m * 0.5 + np.log(np.mean(np.exp(z), axis=-1, keepdims=True))))
""", True),
    ("""
def f(a, Y):
    m = np.max(a, axis=1, keepdims=True)
    return np.sum(Y * (2.0 * m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True))))
""", False),
    ("""
def f(a, Y):
    m = np.max(a, axis=0, keepdims=True)
    return np.sum(Y * (m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True))))
""", False),
    ("""
def f(a, Y):
    m = np.max(a, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True))
    return np.sum(Y * (lse - a)) + np.sum(m)
""", False),
]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", range(len(SHIFTED)))
def test_shift_laws_drop_only_a_max_the_value_does_not_depend_on(case, ties):
    source, free = SHIFTED[case]
    f = make_function(source)
    a = _with_ties((4, 3), 22) if ties else _draw((4, 3), 22)
    Y = np.abs(_draw((4, 3), 23))
    _checked_grad(f, [a, Y], wrt=(0, 1))
    srcad.check_grad(f, a, Y, wrt=(0, 1))
    if not ties:            # smooth there: second order, both ways, against differences
        check_second_order_of(f, [a, Y], wrt=0)
    for code in (srcad.show(f), _specialized_source(f, [a, Y])):
        assert ("group_weights" not in code) == free, code


def test_max_along_another_axis_is_differentiated():
    a, w = _draw((4, 3), 17), _draw((4, 3), 18)
    _checked_grad(MISMATCHED_AXIS, [a, w], wrt=(0, 1))
    srcad.check_grad(MISMATCHED_AXIS, a, w, wrt=(0, 1))
    assert "group_weights" in srcad.show(MISMATCHED_AXIS)
    assert "group_weights" in _specialized_source(MISMATCHED_AXIS, [a, w])


# -- 4. compact reduction adjoints ------------------------------------------------------------

# (body of f(x, y), shapes of x and y); y is left out of wrt when it is None.
REDUCTION_CASES = [
    # the adjoint is the gradient itself
    ("np.sum(x)", [(4, 3), None]),
    ("np.sum(x)", [(5,), None]),
    ("np.mean(x) * 3.0", [(4, 3), None]),
    ("np.mean(x) * 3.0", [(2, 3, 4), None]),
    ("np.sum(x, axis=0, keepdims=True).sum()", [(4, 3), None]),
    ("np.sum(x, axis=0, keepdims=True).sum()", [(1, 3), None]),
    # it meets a full-shaped array
    ("np.sum(np.sum(x, axis=0) * y)", [(4, 3), (4, 3)]),
    ("np.sum(np.sum(x * x, axis=1, keepdims=True) * y * x)", [(4, 3), (4, 3)]),
    ("np.sum(np.mean(x, axis=1, keepdims=True) * y * x)", [(3, 3), (3, 3)]),
    ("np.sum(np.sum(x * x) * y * np.sin(x))", [(4, 3), (4, 3)]),
    ("np.sum(np.sum(x, axis=(0, 2)) * y)", [(2, 3, 4), (3,)]),
    ("np.sum(np.sum(x, axis=0) * y * x)", [(2, 3, 4), (2, 3, 4)]),
    ("np.sum((x - np.mean(x, axis=0)) * y)", [(4, 3), (4, 3)]),
    # it meets an array that does not span x's shape
    ("np.sum(np.sum(x, axis=0) * y) + np.sum(x * 0.0)", [(4, 3), (3,)]),
    ("np.sum(np.sum(x, axis=1) * y) + np.sum(x * 0.0)", [(4, 3), (4,)]),
    ("np.sum(np.sum(x, axis=1) * y) + np.sum(x * 0.0)", [(3, 3), (3,)]),
    ("np.sum(np.sum(x, axis=0) * y) + np.sum(np.cos(x))", [(3, 3), (3,)]),
    ("np.sum(np.sum(x, axis=-1) * y) + np.sum(x * x)", [(2, 3, 3), (2, 3)]),
    # a mean over axis 1 meets a column
    ("np.sum(np.mean(x, axis=1) * y)", [(4, 3), (4,)]),
    ("np.sum(np.mean(x, axis=1, keepdims=True) * y)", [(4, 3), (4, 1)]),
    ("np.sum(np.mean(x, axis=1, keepdims=True) * y * x)", [(4, 3), (4, 1)]),
    ("np.sum((x - np.mean(x, axis=1, keepdims=True)) ** 2 * y)", [(4, 3), (4, 1)]),
    ("np.sum((x - np.mean(x, axis=1, keepdims=True)) ** 2 * y)", [(3, 3), (3, 1)]),
    # a mean of row sums: the rows' adjoint is a scalar that meets y through expand_dims
    ("-np.mean(np.sum(y * np.sin(x), axis=1))", [(4, 3), (4, 3)]),
    ("-np.mean(np.sum(y * np.sin(x), axis=1))", [(3, 3), (3, 3)]),
    ("np.sum(np.mean(np.sum(y * x, axis=2), axis=0))", [(2, 3, 4), (2, 3, 4)]),
    ("np.sum(np.sum(x * x, axis=1) * y)", [(4, 3), (4,)]),
    # the max's adjoint: np.equal and group_weights meet the kept max
    ("np.sum(y * (x - np.max(x, axis=-1, keepdims=True)))", [(4, 3), (4, 3)]),
    ("np.sum(y * (x - np.max(x, axis=0, keepdims=True)))", [(3, 3), (3, 3)]),
]


def test_values_computed_only_for_their_shape_are_not_computed():
    # the mean's adjoint is a scalar over the row sums: with the shapes known neither the
    # row sums nor the log-probabilities they sum are computed for their shape
    f = make_function('''
        def f(x, y):
            logp = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
            return -np.mean(np.sum(y * logp, axis=1))
    ''')
    args = [_draw((4, 3), 24), _draw((4, 3), 25)]
    _checked_grad(f, args, wrt=(0, 1))
    code = "\n".join(line for line in _specialized_source(f, args).splitlines()
                     if not line.lstrip().startswith("#"))
    assert "expand_reduced" not in code and "y * logp" not in code, code
    g = make_function('''
        def g(x, y):
            return np.sum(y * (x - np.max(x, axis=-1, keepdims=True)))
    ''')
    _checked_grad(g, args, wrt=(0, 1))
    assert "expand_reduced" not in _specialized_source(g, args)


@pytest.mark.parametrize("body, arg_shapes", REDUCTION_CASES,
                         ids=[f"{b} {s}" for b, s in REDUCTION_CASES])
def test_reduction_adjoints(body, arg_shapes):
    f = make_function(f"def f(x, y=None):\n    return {body}\n")
    x_shape, y_shape = arg_shapes
    args = [_draw(x_shape, 20)] + ([] if y_shape is None else [_draw(y_shape, 21)])
    wrt = tuple(range(len(args)))
    _checked_grad(f, args, wrt)
    srcad.check_grad(f, *args, wrt=wrt)


def test_mean_adjoint_counts_from_parameter_shapes():
    f = make_function("""
        def scaled_mean(x):
            return np.mean(x) * 3.0
    """)
    for shape in [(4, 3), (5, 2), (7,)]:
        (g,) = _checked_grad(f, [_draw(shape, 22)], wrt=(0,))
        np.testing.assert_allclose(g, np.full(shape, 3.0 / np.prod(shape)), rtol=1e-14)
    assert "reduced_count" not in _specialized_source(f, [_draw((4, 3), 22)])


# -- 5. in-place accumulation -----------------------------------------------------------------

ACCUMULATE_CASES = {
    "copy": ("""
        def f(x):
            a = x * 2.0
            b = a
            return np.sum(a * a) + np.sum(b * x)
        """, [(4, 3)]),
    "copy read after": ("""
        def f(x, y):
            a = x * y
            b = a
            c = b * x
            return np.sum(a * y) + np.sum(c) + np.sum(b * b)
        """, [(4, 3), (4, 3)]),
    "weights reused": ("""
        def f(x, w):
            return np.sum(w * x) + np.sum(np.sin(x) * w) + np.sum(x * x)
        """, [(4, 3), (4, 3)]),
    "argument passed through": ("""
        def f(x, w):
            u = w * x
            return np.sum(u) + np.sum(u * u) + np.sum(w * w * x)
        """, [(4, 3), (4, 3)]),
    "rnn": ("""
        def f(W, xs, h):
            for t in range(3):
                h = np.tanh(h @ W + xs[t])
            return np.sum(h * h)
        """, [(4, 4), (3, 2, 4), (2, 4)]),
    "rnn square": ("""
        def f(W, xs, h):
            for t in range(3):
                h = np.tanh(h @ W + xs[t])
            return np.sum(h * h)
        """, [(3, 3), (3, 3, 3), (3, 3)]),
    "rnn with bias": ("""
        def f(W, b, xs):
            h = xs[0] * 0.0
            for t in range(3):
                h = np.tanh(h @ W + xs[t] + b)
            return np.sum(h)
        """, [(4, 4), (4,), (3, 2, 4)]),
}


@pytest.mark.parametrize("name", list(ACCUMULATE_CASES))
def test_accumulated_adjoints(name):
    source, arg_shapes = ACCUMULATE_CASES[name]
    f = make_function(source)
    args = [_draw(s, 30 + k) * 0.5 for k, s in enumerate(arg_shapes)]
    wrt = tuple(range(len(args)))
    _checked_grad(f, args, wrt)
    srcad.check_grad(f, *args, wrt=wrt)


def test_copy_case_matches_hand_written_gradient():
    f = make_function(ACCUMULATE_CASES["copy"][0])
    x = _draw((4, 3), 40)
    (g,) = _checked_grad(f, [x], wrt=(0,))
    np.testing.assert_allclose(g, 8.0 * x + 4.0 * x, rtol=1e-14)   # 4x^2 + 2x^2


def test_gradients_of_two_arguments_are_two_arrays():
    f = make_function(ACCUMULATE_CASES["copy read after"][0])
    x, y = _draw((4, 3), 41), _draw((4, 3), 42)
    gx, gy = srcad.grad(f, wrt=(0, 1))(x, y)
    assert not np.shares_memory(gx, gy)


# -- 6. nested temporaries --------------------------------------------------------------------

DENSE = make_function("""
def dense(X, W, b):
    return np.sum(np.tanh(X @ W + b))
""")


def test_temporaries_are_nested_into_their_use():
    X, W, b = _draw((5, 4), 50), _draw((4, 3), 51), _draw((3,), 52)
    source = _specialized_source(DENSE, [X, W, b], wrt=(1, 2))
    assert "np.tanh(X @ W + b)" in source
    lines = [line.strip() for line in source.splitlines()]
    assert not any(line.startswith(("_matmul =", "_add =")) for line in lines)
    gW, gb = _checked_grad(DENSE, [X, W, b], wrt=(1, 2))
    d = 1.0 - np.tanh(X @ W + b) ** 2
    np.testing.assert_allclose(gW, X.T @ d, rtol=1e-12)
    np.testing.assert_allclose(gb, np.sum(d, axis=0), rtol=1e-12)


# -- 7. logaddexp -----------------------------------------------------------------------------

SOFTPLUS_X = make_function("""
def softplus_x(x):
    return np.sum(np.logaddexp(0.0, x) * x)
""")


def _sigmoid(x):
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))),
                    np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def test_logaddexp_gradient_and_hessian_are_stable():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 40.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = srcad.grad(SOFTPLUS_X)(x)
        h = srcad.hessian(SOFTPLUS_X)(x)
        s = _sigmoid(x)
        want_g = s * x + np.logaddexp(0.0, x)
        want_h = np.diag(2.0 * s + x * s * (1.0 - s))
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(h))
    np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=0.0)


# -- 8. scalar loops accumulate into lists of floats ------------------------------------------

def _scalar_loop(p, q, a):
    s = 0.0
    for k in range(len(p)):
        s = s * a + p[k] * q[k] + p[k] * p[k]
    return s


def _scalar_loop_reread(p, a):
    s = 0.0
    for k in range(1, len(p)):
        s = s + a * p[k] * p[k - 1]
    return s + np.sum(p * p)


@pytest.mark.parametrize("f,args,wrt,in_list", [
    (_scalar_loop, (np.linspace(0.1, 0.9, 5), np.linspace(1.0, 2.0, 5), 0.7), (0, 1, 2), True),
    (_scalar_loop, (np.linspace(0.1, 0.9, 1), np.linspace(1.0, 2.0, 1), 0.7), (0, 1), True),
    (_scalar_loop, (np.linspace(0.1, 0.9, 3), np.linspace(1.0, 2.0, 3), 0.7), (1, 2), False),
    (_scalar_loop_reread, (np.linspace(-1.0, 1.0, 6), 0.3), (0, 1), False),   # bp = 2.0 * p
], ids=["loop", "one-step", "p-not-wrt", "whole-array-adjoint"])
def test_scalar_loop_adjoints_accumulate_in_lists(f, args, wrt, in_list):
    _checked_grad(f, args, wrt)
    source = _specialized_source(f, args, wrt)
    assert ("bp = [0.0] * len(p)" in source and "bp = np.array(bp, p.dtype)" in source) == in_list
    for g, a in zip(srcad.grad(f, wrt=wrt)(*args), [args[i] for i in wrt]):
        assert type(g) is type(a) and np.shape(g) == np.shape(a)


def test_a_count_is_a_number_to_the_shaped_rewrites():
    # len(y) is a number: the cotangent 1.0 / len(y) * y has y's shape, so the log's adjoint
    # is one division (b / x), not a reciprocal array and a product
    f = make_function("""
        def f(x, y):
            return np.sum(y * np.log(x)) / len(y)
    """)
    args = [np.abs(_draw((4, 3), 26)) + 0.5, _draw((4, 3), 27)]
    _checked_grad(f, args, wrt=(0, 1))
    code = "\n".join(line for line in _specialized_source(f, args).splitlines()
                     if not line.lstrip().startswith("#"))
    assert "1.0 / x" not in code and "/ x" in code, code


_WRAPPERS = """
    def f(x, p, c):
        z = np.transpose(x) * np.swapaxes(x, 0, 1).sum() + (x * c + x ** 2).T
        m = np.max(z, axis=1, keepdims=True) + np.amin(z, 0)
        s = np.cumsum(z - m, axis=0) / np.prod(z[:, :1] * 0.0 + 1.0)
        return np.sum(s ** 2) + np.mean(z, axis=0).sum() + c * np.sum(p)
"""


def test_numpy_wrappers_of_array_methods_run_as_the_method():
    # a small array's derivative calls ndarray.sum, not np.sum's Python wrapper around it
    # (microseconds per call); a list of floats (p) and a number (c) keep np.sum
    f = make_function(_WRAPPERS)
    args = [_draw((3, 4), 40), [0.5, -1.0, 2.0], 0.7]
    _checked_grad(f, [args[0], np.asarray(args[1]), args[2]], wrt=(0, 1, 2))
    g = srcad.grad(f, wrt=(0, 2))(*args)
    for got, expected in zip(g, [central_difference(f, args, 0), central_difference(f, args, 2)]):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    source = _specialized_source(f, args, (0, 2))
    primal = source[:source.index("    # line")]      # the primal sweep: every shape known
    for wrapper in ("np.transpose(", "np.swapaxes(", "np.max(", "np.amin(", "np.cumsum(",
                    "np.prod(", "np.mean(", "np.sum("):
        assert wrapper not in primal, primal
    adjoint = source[len(primal):]
    assert "np.sum(p)" in adjoint and ".sum(axis=1, keepdims=True)" in adjoint, adjoint
