"""Derivative rules of templates/statistics.py: one line per primitive and case, each checked in
reverse and forward mode against central differences (tests/helpers.py check_rule), then
second derivatives and exact checks where differences cannot look (ties, NaNs, even counts)."""
import numpy as np
import pytest

import srcad
from helpers import check_rule, check_second_order, make_function

S = (3, 4)
S3 = (2, 3, 4)
NANS = np.array([[1.0, np.nan, 1.0, 1.0], [np.nan, np.nan, 1.0, 1.0], [1.0, 1.0, 1.0, np.nan]])

CASES = [
    # median
    ("np.median(x)", [(5,)], "real", None),
    ("np.median(x)", [(6,)], "real", None),
    ("np.median(x, axis=0)", [S], "real", None),
    ("np.median(x, axis=-1, keepdims=True)", [S3], "real", None),
    ("np.median(x, axis=(0, 2))", [S3], "real", None),
    ("np.nanmedian(np.where(np.isnan(C), C, x), axis=1)", [S], "real", {"C": NANS}),
    ("np.nanmedian(x)", [S], "real", None),
    # quantile / percentile in a and q, several methods
    ("np.quantile(x, y)", [(7,), ()], [(-2.0, 2.0), (0.05, 0.95)], None),
    ("np.quantile(x, y, axis=1)", [S, (2,)], [(-2.0, 2.0), (0.05, 0.95)], None),
    ("np.quantile(x, y, axis=(0, 2), keepdims=True)", [S3, (3,)],
     [(-2.0, 2.0), (0.05, 0.95)], None),
    ("np.quantile(x, 0.3, axis=0, method='hazen')", [S], "real", None),
    ("np.quantile(x, y, method='weibull')", [(6,), (2, 2)], [(-2.0, 2.0), (0.2, 0.8)], None),
    ("np.quantile(x, y, axis=-1, method='median_unbiased')", [S, ()],
     [(-2.0, 2.0), (0.2, 0.8)], None),
    ("np.quantile(x, y, method='interpolated_inverted_cdf')", [(8,), (3,)],
     [(-2.0, 2.0), (0.2, 0.8)], None),
    ("np.quantile(x, [0.1, 0.5, 0.9], axis=0, method='lower')", [S], "real", None),
    ("np.quantile(x, 0.4, method='nearest')", [(6,)], "real", None),
    ("np.quantile(x, [0.25, 0.8], axis=1, method='midpoint')", [S], "real", None),
    ("np.quantile(x, 0.3, method='averaged_inverted_cdf')", [(5,)], "real", None),
    ("np.percentile(x, y)", [(7,), ()], [(-2.0, 2.0), (5.0, 95.0)], None),
    ("np.percentile(x, y, axis=0, keepdims=True)", [S, (2,)], [(-2.0, 2.0), (5.0, 95.0)],
     None),
    ("np.percentile(x, 40.0, axis=1, method='higher')", [S], "real", None),
    # q a list or a constant array (interquartile ranges)
    ("np.percentile(x, [25, 75], axis=0)", [S], "real", None),
    ("np.percentile(x, [[10, 50], [75, 90]], axis=-1, keepdims=True)", [S3], "real", None),
    ("np.quantile(x, [0.25, 0.75])", [S], "real", None),
    ("np.nanpercentile(np.where(np.isnan(C), C, x), [25, 75], axis=1)", [S], "real",
     {"C": NANS}),
    ("np.nanquantile(np.where(np.isnan(C), C, x), y, axis=1)", [S, (2,)],
     [(-2.0, 2.0), (0.05, 0.95)], {"C": NANS}),
    ("np.nanquantile(np.where(np.isnan(C), C, x), 0.5)", [S], "real", {"C": NANS}),
    ("np.nanpercentile(np.where(np.isnan(C), C, x), y, axis=0)", [S, ()],
     [(-2.0, 2.0), (5.0, 95.0)], {"C": NANS}),
    # ptp
    ("np.ptp(x)", [S], "real", None),
    ("np.ptp(x, axis=1, keepdims=True)", [S3], "real", None),
    ("np.ptp(x, axis=(0, 2))", [S3], "real", None),
    # histogram_bin_edges: evenly spaced from min to max (an integer bins)
    ("np.histogram_bin_edges(x)", [(5,)], "real", None),
    ("np.histogram_bin_edges(x, 3)", [S], "real", None),
    ("np.histogram_bin_edges(x * 0.0 + x[0], bins=4)", [(3,)], "real", None),   # lo == hi
    # nanvar / nanstd / nanprod / nancumsum
    ("np.nanvar(np.where(np.isnan(C), C, x), axis=1)", [S], "real", {"C": NANS}),
    ("np.nanvar(np.where(np.isnan(C), C, x), ddof=1)", [S], "real", {"C": NANS}),
    ("np.nanvar(x, axis=(0, 2), keepdims=True)", [S3], "real", None),
    ("np.nanstd(np.where(np.isnan(C), C, x), axis=0)", [S], "real", {"C": NANS}),
    ("np.nanstd(x, axis=-1, ddof=1, keepdims=True)", [S3], "real", None),
    ("np.nanprod(np.where(np.isnan(C), C, x), axis=1)", [S], "real", {"C": NANS}),
    ("np.nanprod(x)", [S], "real", None),
    ("np.nanprod(x, axis=(0, 1), keepdims=True)", [S3], "real", None),
    ("np.nancumsum(np.where(np.isnan(C), C, x))", [S], "real", {"C": NANS}),
    ("np.nancumsum(np.where(np.isnan(C), C, x), axis=1)", [S], "real", {"C": NANS}),
    # cov / corrcoef
    ("np.cov(x)", [S], "real", None),
    ("np.cov(x)", [(5,)], "real", None),
    ("np.cov(x, rowvar=False)", [(5, 3)], "real", None),
    ("np.cov(x, y)", [S, (2, 4)], "real", None),
    ("np.cov(x, y, rowvar=False, bias=True)", [(4, 2), (4,)], "real", None),
    ("np.cov(x, ddof=0)", [S], "real", None),
    # weights: aweights differentiated, fweights integer counts
    ("np.cov(x, aweights=y)", [S, (4,)], [(-2.0, 2.0), (0.5, 2.0)], None),
    ("np.cov(x, fweights=C)", [S], "real", {"C": np.array([1, 2, 1, 3])}),
    ("np.cov(x, fweights=C, aweights=y, ddof=2)", [S, (4,)], [(-2.0, 2.0), (0.5, 2.0)],
     {"C": np.array([1, 2, 1, 3])}),
    ("np.cov(x, z, rowvar=False, aweights=y, bias=True)", [(5, 2), (5,), (5,)],
     [(-2.0, 2.0), (0.5, 2.0), (-2.0, 2.0)], None),
    ("np.corrcoef(x)", [S], "real", None),
    ("np.corrcoef(x, y)", [(5,), (5,)], "real", None),
    ("np.corrcoef(x, rowvar=False)", [(5, 3)], "real", None),
    ("np.corrcoef(x, y, rowvar=False)", [(5, 2), (5, 1)], "real", None),
]


@pytest.mark.parametrize("expr, shapes, domain, consts", CASES,
                         ids=[f"{e} {s}" for e, s, _, _ in CASES])
def test_rule(expr, shapes, domain, consts):
    check_rule(expr, shapes, domain=domain, consts=consts)


SECOND_ORDER = [
    ("np.sum(np.median(x ** 3, axis=0) ** 2)", [S], None),
    ("np.sum(np.quantile(x ** 3, C * np.sin(x[0, 0]) ** 2, axis=1) ** 2)", [S],
     {"C": np.array([0.2, 0.7])}),
    ("np.sum(np.percentile(x ** 3, 30.0 + 10.0 * np.tanh(x[0, 1]), axis=0) ** 2)", [S], None),
    ("np.sum(np.percentile(x ** 3, [25, 75], axis=0) ** 2)", [S], None),
    ("np.sum(np.nanquantile(np.where(np.isnan(C), C, x ** 3), 0.4, axis=1) ** 2)", [S],
     {"C": NANS}),
    ("np.sum(np.ptp(x ** 3, axis=1) ** 2)", [S], None),
    ("np.sum(np.histogram_bin_edges(x ** 3, 4) ** 2)", [S], None),
    ("np.sum(np.nanvar(np.where(np.isnan(C), C, x ** 2), axis=1))", [S], {"C": NANS}),
    ("np.sum(np.nanstd(np.where(np.isnan(C), C, x ** 2), axis=0))", [S], {"C": NANS}),
    ("np.sum(np.nanprod(np.where(np.isnan(C), C, x), axis=1) ** 2)", [S], {"C": NANS}),
    ("np.sum(np.nancumsum(np.where(np.isnan(C), C, x ** 2)) ** 2)", [S], {"C": NANS}),
    ("np.sum(np.cov(x ** 2) ** 2)", [S], None),
    ("np.sum(np.cov(x, x[:1] ** 2, rowvar=True) ** 2)", [S], None),
    ("np.sum(np.cov(x[:2] ** 2, aweights=1.0 + x[2] ** 2) ** 2)", [S], None),
    ("np.sum(np.cov(x ** 2, fweights=C, aweights=np.exp(x[0]), ddof=1) ** 2)", [S],
     {"C": np.array([1, 2, 1, 3])}),
    ("np.sum(np.corrcoef(x) * C)", [S], {"C": np.arange(9.0).reshape(3, 3)}),
]


@pytest.mark.parametrize("expr, shapes, consts", SECOND_ORDER, ids=[e for e, _, _ in SECOND_ORDER])
def test_second_order(expr, shapes, consts):
    check_second_order(expr, shapes, consts=consts)


def test_median_of_even_count_splits_between_the_middle_two():
    f = make_function("def f(x):\n    return np.median(x)\n")
    np.testing.assert_array_equal(srcad.grad(f)(np.array([4.0, 1.0, 3.0, 2.0])),
                                  [0.0, 0.0, 0.5, 0.5])


def test_nan_elements_get_no_derivative():
    f = make_function("def f(x):\n    return np.nanmedian(x) + np.nanvar(x) + np.nanprod(x)\n")
    g = srcad.grad(f)(np.array([2.0, np.nan, 1.0, 3.0]))
    assert g[1] == 0.0 and np.all(np.isfinite(g))


def test_histogram_bin_edges_from_the_spread_are_refused():
    f = make_function("def f(x):\n    return np.sum(np.histogram_bin_edges(x, 'auto'))\n")
    with pytest.raises(NotImplementedError, match="integer bins"):
        srcad.grad(f)(np.arange(5.0))


def test_unsupported_keyword_is_an_error():
    f = make_function("def f(x):\n    return np.cov(x, dtype=np.float64).sum()\n")
    with pytest.raises(Exception, match="dtype"):
        srcad.grad(f)(np.ones((2, 4)))


def test_convention_quantile_weights_and_steps():
    x = np.array([4.0, 1.0, 3.0, 2.0, 5.0])
    g = srcad.grad(make_function("def f(x):\n    return np.quantile(x, 0.3)\n"))(x)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.2, 0.8, 0.0])    # position 1.2: 2.0 and 3.0
    discrete = make_function("def f(q, x):\n    return np.quantile(x, q, method='nearest')\n")
    assert srcad.grad(discrete)(0.3, x) == 0.0
    clipped = make_function("def f(q, x):\n    return np.quantile(x, q, method='weibull')\n")
    assert srcad.grad(clipped)(0.05, x) == 0.0          # position clipped to the minimum
    ties = srcad.grad(make_function("def f(x):\n    return np.ptp(x)\n"))(
        np.array([3.0, 1.0, 3.0, 1.0]))
    np.testing.assert_array_equal(ties, [0.5, -0.5, 0.5, -0.5])
