"""Reductions at their edges (issue 11): empty inputs (a mean over nothing), std and var of a
single element and with ``n - ddof <= 0``, in both modes, optimized and not.

Conventions (templates/reductions.py): the adjoint of an empty input is an empty array and its
tangent 0 (the Jacobian has no columns), though the value is nan; ``std`` of a constant group
(a single element included) has derivative 0; ``var``/``std`` with ``n - ddof <= 0`` are nan
and so is their derivative."""
import warnings

import numpy as np
import pytest

import srcad
from helpers import make_function

REDUCTIONS = {
    "mean": "np.mean(x)",
    "mean0": "np.sum(np.mean(x, axis=0))",
    "mean1": "np.sum(np.mean(x, axis=-1))",
    "mean_keep": "np.sum(np.mean(x, axis=(0,), keepdims=True))",
    "sum": "np.sum(x)",
    "var": "np.var(x)",
    "var0": "np.sum(np.var(x, axis=0))",
    "std": "np.std(x)",
    "std1": "np.sum(np.std(x, axis=-1))",
    "nanmean": "np.nanmean(x)",
    "average": "np.average(x)",
    "mean_of_square": "np.mean(x * x) + np.mean(2.0 * x)",
}


def _function(expr):
    return make_function(f"""
        def edge(x):
            y = {expr}
            return y
    """)


def _both_modes(f, x, optimized):
    g = srcad.grad(f, optimized=optimized)(x)
    jv = srcad.autodiff(f, mode="forward", optimized=optimized)(x, np.ones_like(x))
    return g, jv


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0)])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_empty_input_gives_an_empty_gradient_and_a_zero_tangent(name, shape, optimized):
    if len(shape) == 1 and name in ("mean0", "var0", "mean_keep"):
        shape = (0, 2)
    f = _function(REDUCTIONS[name])
    x = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # the value's own (mean of nothing)
        g, jv = _both_modes(f, x, optimized)
    assert isinstance(g, np.ndarray) and g.shape == shape and g.dtype == x.dtype
    assert jv == 0.0


def test_empty_mean_gradient_twice_shares_no_variant_with_a_full_one():
    """Argument shapes specialize derivatives by size class: a 0 must not share the class
    of other sizes (the specialized code divides by x.shape[0])."""
    f = _function("np.mean(x)")
    df = srcad.grad(f)
    np.testing.assert_allclose(df(np.ones(4)), np.full(4, 0.25))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert df(np.zeros(0)).shape == (0,)
    np.testing.assert_allclose(df(np.ones(5)), np.full(5, 0.2))


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("expr, x", [
    ("np.std(x)", np.array([2.0])),
    ("np.std(x)", np.float64(3.0)),
    ("np.sum(np.std(x, axis=1))", np.ones((2, 1))),
    ("np.std(x)", np.full(3, 1.5)),                     # a constant group: the kink
    ("np.sum(np.std(x, axis=0)) + np.sum(x)", np.array([[1.0, 2.0]])),
])
def test_std_of_a_constant_group_has_derivative_zero(expr, x, optimized):
    f = _function(expr)
    expected = 1.0 if "+ np.sum(x)" in expr else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no RuntimeWarning of the derivative
        g, jv = _both_modes(f, x, optimized)
    np.testing.assert_array_equal(g, np.full(np.shape(x), expected))
    assert jv == expected * np.size(x)


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("expr, x", [
    ("np.std(x, ddof=1)", np.array([2.0])),
    ("np.var(x, ddof=1)", np.array([2.0])),
    ("np.sum(np.var(x, axis=1, ddof=1))", np.ones((2, 1))),
    ("np.var(x, ddof=2)", np.array([1.0, 2.0])),
    ("np.std(x, ddof=3)", np.array([1.0, 2.0])),
])
def test_no_degrees_of_freedom_gives_nan_like_the_value(expr, x, optimized):
    f = _function(expr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # NumPy's, for the value
        assert np.isnan(f(x)) or np.isinf(f(x))
        g, jv = _both_modes(f, x, optimized)
    assert g.shape == x.shape and np.all(np.isnan(g))
    assert np.isnan(jv)


@pytest.mark.parametrize("expr", ["np.std(x)", "np.var(x, ddof=1)", "np.sum(np.std(x, axis=0))"])
def test_var_and_std_still_match_finite_differences(expr):
    srcad.check_grad(_function(expr), np.array([[0.3, -1.2], [2.0, 0.7], [1.1, 1.0]]))
