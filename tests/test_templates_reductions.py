"""Derivative rules of templates/reductions.py: one line per primitive and case, each checked in
reverse and forward mode against finite differences (tests/helpers.py check_rule), plus exact
checks where finite differences cannot look (ties, zeros) and a few second derivatives."""
import math

import numpy as np
import pytest

import srcad
from helpers import check_rule, make_function, random_args

S = (3, 4)        # the usual matrix shape
S3 = (2, 3, 4)    # the usual 3-d shape


def _zeros_at(shape, positions, seed=0):
    """A constant C equal to the test argument x (check_rule's first draw) at ``positions``
    and 0 elsewhere: ``x - C`` has exact zeros there, with derivative 1 in x."""
    x = random_args([shape], seed=seed)[0]
    mask = np.zeros(shape, dtype=bool)
    for p in positions:
        mask[p] = True
    return np.where(mask, x, 0.0)


# (expression, argument shapes, domain); arguments are x, y, z, w in that order.
CASES = [
    # sum
    ("np.sum(x)", [()], "real"),
    ("np.sum(x)", [(5,)], "real"),
    ("np.sum(x)", [S3], "real"),
    ("np.sum(x, axis=0)", [S], "real"),
    ("np.sum(x, axis=-1)", [S3], "real"),
    ("np.sum(x, axis=(0, 2))", [S3], "real"),
    ("np.sum(x, axis=(2, -3))", [S3], "real"),
    ("np.sum(x, 1, keepdims=True)", [S3], "real"),
    ("np.sum(x, keepdims=True)", [S], "real"),
    ("np.sum(x, axis=(0, 1), keepdims=True)", [S3], "real"),
    ("np.sum(x.T, axis=0)", [S], "real"),
    ("np.sum(x[::2], axis=1)", [(5, 3)], "real"),
    ("x.sum(axis=1)", [S], "real"),
    ("x.sum()", [S], "real"),
    ("np.sum(x * y, axis=1)", [S, (4,)], "real"),
    # mean
    ("np.mean(x)", [()], "real"),
    ("np.mean(x)", [S3], "real"),
    ("np.mean(x, axis=1)", [S3], "real"),
    ("np.mean(x, axis=-1, keepdims=True)", [S], "real"),
    ("np.mean(x, axis=(0, 2))", [S3], "real"),
    ("np.mean(x[:, ::2], axis=(0, 1), keepdims=True)", [S3], "real"),
    ("x.mean(0)", [S], "real"),
    # prod (zeros: below)
    ("np.prod(x)", [()], "real"),
    ("np.prod(x)", [(5,)], "real"),
    ("np.prod(x, axis=0)", [S], "real"),
    ("np.prod(x, axis=-1, keepdims=True)", [S3], "real"),
    ("np.prod(x, axis=(0, 2))", [S3], "real"),
    ("np.prod(x.T, axis=1)", [S], "real"),
    ("x.prod(axis=1)", [S], "real"),
    # max / min / amax / amin / nanmax / nanmin (ties: below)
    ("np.max(x)", [()], "real"),
    ("np.max(x)", [S3], "real"),
    ("np.max(x, axis=0)", [S], "real"),
    ("np.max(x, axis=-1, keepdims=True)", [S3], "real"),
    ("np.max(x, axis=(0, 2))", [S3], "real"),
    ("np.amax(x, axis=1)", [S], "real"),
    ("np.min(x, axis=(1, 2), keepdims=True)", [S3], "real"),
    ("np.amin(x)", [S], "real"),
    ("np.nanmax(x, axis=1)", [S], "real"),
    ("np.nanmin(x, axis=0)", [S], "real"),
    ("x.max(axis=-1)", [S], "real"),
    ("x[::2].min(0)", [(5, 3)], "real"),
    ("np.max(x * y, axis=0)", [S, (4,)], "real"),
    # var / std
    ("np.var(x)", [(5,)], "real"),
    ("np.var(x, axis=0)", [S], "real"),
    ("np.var(x, axis=-1, ddof=1)", [S3], "real"),
    ("np.var(x, axis=(0, 2), keepdims=True)", [S3], "real"),
    ("np.var(x, ddof=1, keepdims=True)", [S], "real"),
    ("np.std(x)", [(5,)], "real"),
    ("np.std(x, axis=1)", [S], "real"),
    ("np.std(x, axis=-1, ddof=1, keepdims=True)", [S3], "real"),
    ("np.std(x, axis=(0, 1))", [S3], "real"),
    ("x.std(ddof=1)", [S], "real"),
    ("x.T.var(axis=0)", [S], "real"),
    # norm: vector norms
    ("np.linalg.norm(x)", [()], "nonzero"),
    ("np.linalg.norm(x)", [(5,)], "real"),
    ("np.linalg.norm(x)", [S3], "real"),
    ("np.linalg.norm(x, keepdims=True)", [S], "real"),
    ("np.linalg.norm(x, axis=1)", [S], "real"),
    ("np.linalg.norm(x, axis=-1, keepdims=True)", [S3], "real"),
    ("np.linalg.norm(x, 2)", [(5,)], "real"),
    ("np.linalg.norm(x, 2, axis=0)", [S], "real"),
    ("np.linalg.norm(x, 1)", [(5,)], "nonzero"),
    ("np.linalg.norm(x, 1, axis=-1)", [S], "nonzero"),
    ("np.linalg.norm(x, 3)", [(5,)], "real"),
    ("np.linalg.norm(x, 0.5, axis=1)", [S], "nonzero"),
    ("np.linalg.norm(x, -1.5, axis=0, keepdims=True)", [S], "nonzero"),
    ("np.linalg.norm(x, np.inf)", [(5,)], "real"),
    ("np.linalg.norm(x, -np.inf, axis=1)", [S], "real"),
    ("np.linalg.norm(x, ord=np.inf, axis=(1,), keepdims=True)", [S3], "real"),
    ("np.linalg.norm(x, 0, axis=1)", [S], "nonzero"),
    # norm: matrix norms
    ("np.linalg.norm(x, 'fro')", [S], "real"),
    ("np.linalg.norm(x, 'fro', axis=(0, 2))", [S3], "real"),
    ("np.linalg.norm(x, axis=(2, 1), keepdims=True)", [S3], "real"),
    ("np.linalg.norm(x, 'nuc')", [S], "real"),
    ("np.linalg.norm(x, 'nuc', axis=(0, 2))", [S3], "real"),
    ("np.linalg.norm(x, 'nuc', axis=(2, 1), keepdims=True)", [S3], "real"),
    ("np.linalg.norm(x, 1)", [S], "real"),
    ("np.linalg.norm(x, -1, axis=(1, 0))", [S3], "real"),
    ("np.linalg.norm(x, np.inf)", [S], "real"),
    ("np.linalg.norm(x, -np.inf, axis=(0, 2), keepdims=True)", [S3], "real"),
    ("np.linalg.norm(x, 2)", [S], "real"),
    ("np.linalg.norm(x, -2, axis=(2, 0))", [S3], "real"),
    ("np.linalg.norm(x.T, 1)", [S], "real"),
    # cumsum / cumprod (cumprod with zeros: below)
    ("np.cumsum(x)", [()], "real"),
    ("np.cumsum(x)", [S3], "real"),
    ("np.cumsum(x, axis=0)", [S], "real"),
    ("np.cumsum(x, axis=-1)", [S3], "real"),
    ("np.cumsum(x[::2, ::-1], axis=1)", [(5, 3)], "real"),
    ("x.cumsum(1)", [S], "real"),
    ("np.cumprod(x)", [()], "real"),
    ("np.cumprod(x)", [S], "real"),
    ("np.cumprod(x, axis=0)", [S], "real"),
    ("np.cumprod(x, axis=-1)", [S3], "real"),
    ("x.T.cumprod(axis=1)", [S], "real"),
    # average
    ("np.average(x)", [S], "real"),
    ("np.average(x, axis=1)", [S3], "real"),
    ("np.average(x, axis=(0, 2), keepdims=True)", [S3], "real"),
    ("np.average(x, weights=y)", [S, S], ["real", "positive"]),
    ("np.average(x, axis=0, weights=y)", [S, S], ["real", "positive"]),
    ("np.average(x, axis=-1, weights=y, keepdims=True)", [S3, S3], ["real", "positive"]),
    ("np.average(x, axis=1, weights=y)", [S3, (3,)], ["real", "positive"]),
    ("np.average(x, axis=-1, weights=y, keepdims=True)", [S3, (4,)], ["real", "positive"]),
    ("np.average(x, 0, y)", [S, (3,)], ["real", "positive"]),
    # average(returned=True): (average, sum of the weights), stacked here
    ("np.stack(np.average(x, axis=1, weights=y, returned=True))", [S, (4,)],
     ["real", "positive"]),
    ("np.stack(np.average(x, axis=(0, 2), weights=y, returned=True, keepdims=True))",
     [S3, S3], ["real", "positive"]),
    ("np.average(x, weights=y, returned=True)[1] * np.average(x, weights=y, returned=True)[0]",
     [S, S], ["real", "positive"]),
    ("np.stack(np.average(x, axis=0, returned=True))", [S], "real"),
    # nansum / nanmean (with NaNs: below)
    ("np.nansum(x)", [S], "real"),
    ("np.nansum(x, axis=1, keepdims=True)", [S3], "real"),
    ("np.nanmean(x, axis=(0, 2))", [S3], "real"),
    # a list of arrays as the input of a reduction
    ("np.sum([x, y], axis=0)", [(3,), (3,)], "real"),
    ("np.mean([x, y, z])", [(), (), ()], "real"),
    ("np.prod([x, y, z])", [(), (), ()], "real"),
    ("np.max([x, y], axis=1)", [(3,), (3,)], "real"),
    ("np.var([x, y, z])", [(), (), ()], "real"),
    ("np.linalg.norm([x, y])", [(), ()], "real"),
    ("np.cumprod([x, y])", [(2,), (2,)], "real"),
    # builtin sum over a list, math.fsum
    ("sum([x, y, z])", [(), (), ()], "real"),
    ("sum([x, y])", [(3,), (2, 3)], "real"),
    ("sum([x, y], z)", [(3,), (2, 3), ()], "real"),
    ("sum([x * x, y], z)", [(), (3,), (2, 1)], "real"),
    ("sum([x, 2.0 * x, y])", [S, (4,)], "real"),
    ("sum((x, y))", [(3,), (3,)], "real"),
    ("sum([x, C], x)", [(3,)], "real"),
    ("math.fsum([x, y, z])", [(), (), ()], "real"),
    ("math.fsum([x * y, x, 1.0])", [(), ()], "real"),
]


@pytest.mark.parametrize("expr, shapes, domain", CASES,
                         ids=[f"{e} {s}" for e, s, _ in CASES])
def test_rule(expr, shapes, domain):
    check_rule(expr, shapes, domain=domain, consts={"C": np.ones((2, 3))})


# -- parameters held in variables (not literals): the rules choose at run time -----------------

VARIABLE_CASES = [
    ("np.sum(x, axis=K, keepdims=True)", [S3], {"K": (0, 2)}),
    ("np.max(x, axis=K)", [S3], {"K": -1}),
    ("np.var(x, axis=K, ddof=DDOF)", [S3], {"K": 1, "DDOF": 1}),
    ("np.cumsum(x, axis=K)", [S], {"K": 1}),
    ("np.cumsum(x, axis=K)", [S], {"K": None}),
    ("np.cumprod(x, axis=K)", [S], {"K": 0}),
    ("np.cumprod(x, axis=K)", [S], {"K": None}),
    ("np.linalg.norm(x, P, axis=K)", [S], {"P": None, "K": 1}),
    ("np.linalg.norm(x, P, axis=K)", [S], {"P": 3, "K": 0}),
    ("np.linalg.norm(x, P, axis=K, keepdims=True)", [S3], {"P": "nuc", "K": (2, 0)}),
    ("np.average(x, axis=K, weights=y)", [S, (4,)], {"K": 1}),
    ("np.average(x, axis=1, weights=V)", [S], {"V": None}),
    ("np.average(x, axis=1, weights=V)", [S], {"V": np.arange(1.0, 5.0)}),
]


@pytest.mark.parametrize("expr, shapes, consts", VARIABLE_CASES,
                         ids=[f"{e} {c}" for e, _, c in VARIABLE_CASES])
def test_rule_variable_parameters(expr, shapes, consts):
    domain = ["real", "positive"] if len(shapes) == 2 else "real"
    check_rule(expr, shapes, domain=domain, consts=consts)


# -- exact zeros: prod and cumprod must not divide by them ---------------------------------------

ZERO_CASES = [
    # (expression in x and the constant C, shape, zero positions)
    ("np.prod(x - C)", (5,), [(2,)]),
    ("np.prod(x - C)", (5,), [(0,), (3,)]),
    ("np.prod(x - C, axis=1)", S, [(0, 1), (2, 0), (2, 3)]),
    ("np.prod(x - C, axis=0, keepdims=True)", S, [(1, 1), (0, 2), (2, 2)]),
    ("np.prod(x - C, axis=(0, 2))", S3, [(0, 1, 1), (1, 2, 3), (1, 2, 0)]),
    ("np.cumprod(x - C)", (6,), [(2,)]),
    ("np.cumprod(x - C)", (6,), [(0,), (4,)]),
    ("np.cumprod(x - C)", S, [(1, 1), (2, 0)]),
    ("np.cumprod(x - C, axis=1)", S, [(0, 1), (1, 0), (1, 3), (2, 1), (2, 2)]),
    ("np.cumprod(x - C, axis=-2)", S3, [(0, 0, 1), (1, 2, 3), (1, 1, 3)]),
]


@pytest.mark.parametrize("expr, shape, zeros", ZERO_CASES,
                         ids=[f"{e} {s} {z}" for e, s, z in ZERO_CASES])
def test_rule_with_zeros(expr, shape, zeros):
    check_rule(expr, [shape], consts={"C": _zeros_at(shape, zeros)})


def _grad(source, x, **namespace):
    return srcad.grad(make_function(source, dict(namespace)))(x)


def _jvp(source, x, v, **namespace):
    f = make_function(source, dict(namespace))
    return srcad.autodiff(f, mode="forward")(x, v)


def test_prod_zero_exact():
    f = "def f(x):\n    return np.prod(x)\n"
    assert np.array_equal(_grad(f, np.array([0.0, 2.0, 3.0, 4.0])), [24.0, 0.0, 0.0, 0.0])
    assert np.array_equal(_grad(f, np.array([0.0, 2.0, 0.0, 4.0])), np.zeros(4))
    assert _jvp(f, np.array([2.0, 0.0, 3.0]), np.array([1.0, 1.0, 1.0])) == 6.0


def test_cumprod_zero_exact():
    f = "def f(x):\n    return np.sum(np.cumprod(x))\n"
    x = np.array([2.0, 0.0, 3.0, 0.0])
    # y = [x0, x0 x1, x0 x1 x2, x0 x1 x2 x3]; at x: dy/dx1 = [0, 2, 6, 0]; x3 only after x1 = 0.
    assert np.array_equal(_grad(f, x), [1.0, 8.0, 0.0, 0.0])
    assert _jvp(f, x, np.array([0.0, 1.0, 0.0, 1.0])) == 8.0


# -- ties: the derivative is split evenly among the maxima (finite differences cannot see it) ---

def test_max_ties_split_evenly():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    g = _grad("def f(x):\n    return np.sum(np.max(x, axis=1))\n", x)
    assert np.allclose(g, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    g = _grad("def f(x):\n    return np.min(x)\n", x)
    assert np.allclose(g, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    jvp = _jvp("def f(x):\n    return np.max(x, axis=1)\n", x, np.array([[0.0, 1.0, 3.0],
                                                                          [3.0, 0.0, 0.0]]))
    assert np.allclose(jvp, [2.0, 1.0])


def test_inf_norm_ties():
    x = np.array([3.0, -3.0, 1.0])
    g = _grad("def f(x):\n    return np.linalg.norm(x, np.inf)\n", x)
    assert np.allclose(g, [0.5, -0.5, 0.0])


def test_norm_at_zero_is_zero():
    g = _grad("def f(x):\n    return np.linalg.norm(x)\n", np.zeros(3))
    assert np.array_equal(g, np.zeros(3))


# -- NaNs are left out by nansum / nanmean -------------------------------------------------------

NAN = np.array([[0.0, np.nan, 0.0, 0.0], [np.nan, 0.0, 0.0, np.nan], [0.0, 0.0, 0.0, 0.0]],
               dtype=np.float32)


@pytest.mark.parametrize("expr", [
    "np.nansum(x + N)",
    "np.nansum(x + N, axis=0)",
    "np.nanmean(x + N)",
    "np.nanmean(x + N, axis=1, keepdims=True)",
    "np.nanmean(x + N, axis=-1)",
    "np.nanmax(x + N, axis=1)",
])
def test_nan_reductions(expr):
    check_rule(expr, [S], consts={"N": NAN})
    g = _grad(f"def f(x):\n    return np.sum({expr})\n", np.ones(S), N=NAN)
    assert np.all(g[np.isnan(NAN)] == 0.0)


# -- float32 stays float32 through the rules that build weights or directions -------------------

@pytest.mark.parametrize("expr", [
    "np.max(x, axis=0)", "np.nanmean(x)", "np.prod(x, axis=1)", "np.var(x, ddof=1)",
    "np.linalg.norm(x, np.inf, axis=1)", "np.linalg.norm(x, 'nuc')", "np.cumprod(x)",
])
def test_float32_preserved_in_both_modes(expr):
    f = make_function(f"def f(x):\n    return np.sum({expr})\n")
    x = random_args([S])[0].astype(np.float32)
    assert srcad.grad(f)(x).dtype == np.float32
    assert np.asarray(srcad.autodiff(f, mode="forward")(x, np.ones_like(x))).dtype == np.float32


# -- unsupported keywords are clear errors, not silently dropped --------------------------------

def test_unsupported_keyword_is_an_error():
    f = make_function("def f(x):\n    return np.sum(x, where=x > 0)\n")
    with pytest.raises(srcad.SrcadError, match="where"):
        srcad.grad(f)(np.ones(3))


# -- second derivatives: the generated code is differentiable again ------------------------------

HESSIAN_CASES = [
    ("np.sum(x) ** 2", (4,)),
    ("np.mean(x * x)", (4,)),
    ("np.prod(x)", (4,)),
    ("np.var(x, ddof=1)", (4,)),
    ("np.std(x)", (4,)),
    ("np.linalg.norm(x)", (4,)),
    ("np.sum(np.linalg.norm(x, axis=0) ** 3)", (2, 3)),
    ("np.sum(np.cumsum(x) ** 2)", (4,)),
    ("np.sum(np.cumprod(x))", (4,)),
    ("np.max(x) * np.sum(x)", (4,)),
    ("np.sum(np.min(x, axis=1) * np.mean(x, axis=1))", (2, 3)),
    ("np.average(x, weights=np.exp(x))", (4,)),
    ("np.sum(np.stack(np.average(x, axis=1, weights=np.exp(x), returned=True)) ** 2)",
     (2, 3)),
]


@pytest.mark.parametrize("expr, shape", HESSIAN_CASES, ids=[e for e, _ in HESSIAN_CASES])
def test_second_derivative(expr, shape):
    f = make_function(f"def f(x):\n    return {expr}\n")
    x = random_args([shape], domain="positive")[0]
    hess = np.reshape(srcad.hessian(f)(x), (x.size, x.size))
    grad = srcad.grad(f)
    h = 1e-5
    fd = np.stack([np.ravel(grad(x + h * e) - grad(x - h * e)) / (2 * h)
                   for e in np.eye(x.size).reshape((x.size,) + shape)])
    assert np.allclose(hess, fd.T, rtol=1e-5, atol=1e-6)


def test_second_derivative_of_other_norms():
    # norm_direction (every ord but None/'fro') had no rule of its own (a no-rule error); its
    # rules now give a p-norm's Hessian (tests/test_norm_second_order.py: the other orders)
    f = make_function("def f(x):\n    return np.linalg.norm(x, 3)\n")
    x = np.arange(1.0, 4.0)
    grad = srcad.grad(f)
    h = 1e-5
    fd = np.stack([(grad(x + h * e) - grad(x - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(srcad.hessian(f)(x), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("expr", ["np.prod(x)", "np.sum(np.cumprod(x) * W)"])
@pytest.mark.parametrize("x", [[1.5, 0.0, 2.0, -0.7], [0.0, 1.3, 2.0, -0.7]])
def test_second_derivative_with_one_zero(expr, x):
    # Both functions are polynomials of degree <= 4 in x: a second difference with a large
    # step is accurate, and the zero element must not be divided by.
    weights = np.array([0.3, -1.2, 0.7, 2.0])
    f = make_function(f"def f(x):\n    return {expr}\n", {"W": weights})
    x = np.array(x)
    hess = srcad.hessian(f)(x)
    h, basis = 1e-3, np.eye(x.size)
    fd = np.array([[(f(x + h * ei + h * ej) - f(x + h * ei - h * ej) - f(x - h * ei + h * ej)
                     + f(x - h * ei - h * ej)) / (4 * h * h) for ej in basis] for ei in basis])
    assert np.allclose(hess, fd, rtol=1e-7, atol=1e-8)
