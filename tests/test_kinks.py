"""Derivatives at the kinks of power, log, sqrt, hypot and arctan2 (issue 11, case 8): no nan
where the derivative is finite (``np.power(0.0, y)`` in ``y``, ``x ** 0`` at 0), genuine
infinities left alone (``x ** 0.5``, ``sqrt`` at 0), in both modes, optimized or not, for
arrays, NumPy and Python scalars (see the conventions in templates/ufuncs.py)."""
import math
import warnings

import numpy as np
import pytest

import srcad
from helpers import make_function

Z = np.zeros(2)
Y = np.array([1.5, 2.0])

# name: (body in x and y, arguments, wrt, the expected derivative, or "inf"/"nan")
CASES = {
    "power_zero_base_in_y": ("np.sum(np.power(x, y))", (Z, Y), 1, 0.0),
    "power_zero_base_in_x": ("np.sum(np.power(x, y))", (Z, Y), 0, 0.0),
    "pow_zero_base_in_y": ("np.sum(x ** y)", (Z, Y), 1, 0.0),
    "pow_zero_base_y_below_one": ("np.sum(x ** y)", (Z, np.array([0.5, 0.25])), 0, "inf"),
    "pow_zero_exponent_in_x": ("np.sum(x ** y)", (Z, Z), 0, 0.0),
    "pow_zero_exponent_in_y": ("np.sum(x ** y)", (Z, Z), 1, 0.0),
    "pow_one_at_zero": ("np.sum(x ** y)", (Z, np.ones(2)), 0, 1.0),
    "literal_zero_base": ("np.sum(0.0 ** y)", (Y, Y), 0, 0.0),
    "literal_power_of_zero_base": ("np.sum(np.power(0.0, y))", (Y, Y), 0, 0.0),
    "literal_square_at_zero": ("np.sum(x ** 2.0) + np.sum(x ** 2)", (Z, Y), 0, 0.0),
    "literal_zero_exponent": ("np.sum(x ** 0.0) + np.sum(x ** 0)", (Z, Y), 0, 0.0),
    "literal_half_exponent": ("np.sum(x ** 0.5)", (Z, Y), 0, "inf"),
    "float_power_zero_base_in_y": ("np.sum(np.float_power(x, y))", (Z, Y), 1, 0.0),
    "float_power_zero_exponent": ("np.sum(np.float_power(x, y))", (Z, Z), 0, 0.0),
    "negative_base_in_y": ("np.sum(x ** y)", (-Y, Y), 1, "nan"),
    "sqrt_at_zero": ("np.sum(np.sqrt(x))", (Z, Y), 0, "inf"),
    "log_at_zero": ("np.sum(np.log(x))", (Z, Y), 0, "inf"),
    "hypot_at_origin_x": ("np.sum(np.hypot(x, y))", (Z, Z), 0, 0.0),
    "hypot_at_origin_y": ("np.sum(np.hypot(x, y))", (Z, Z), 1, 0.0),
    "norm_at_zero": ("np.linalg.norm(x)", (Z, Y), 0, 0.0),
    "arctan2_at_origin": ("np.sum(np.arctan2(x, y))", (Z, Z), 0, "nan"),
}

SCALAR_CASES = {
    "pow_zero_base_in_y": ("x ** y", (0.0, 2.0), 1, 0.0),
    "pow_zero_exponent_in_x": ("x ** y", (0.0, 0.0), 0, 0.0),
    "pow_builtin_in_y": ("pow(x, y)", (0.0, 2.5), 1, 0.0),
    "math_pow_zero_base_in_y": ("math.pow(x, y)", (0.0, 2.0), 1, 0.0),
    "math_pow_zero_exponent": ("math.pow(x, y)", (0.0, 0.0), 0, 0.0),
    "math_pow_negative_base_in_y": ("math.pow(x, y)", (-2.0, 2.0), 1, "nan"),
    "literal_two_to_the_y": ("2.0 ** y", (0.0, 3.0), 1, 8.0 * math.log(2.0)),
    "math_hypot_at_origin": ("math.hypot(x, y)", (0.0, 0.0), 0, 0.0),
    "math_atan2_at_origin": ("math.atan2(x, y)", (0.0, 0.0), 1, "nan"),
}


def _check(value, expected):
    value = np.asarray(value, dtype=float)
    if expected == "nan":
        assert np.all(np.isnan(value)), value
    elif expected == "inf":
        assert np.all(np.isinf(value)), value
    else:
        np.testing.assert_array_equal(value, expected)


def _derivatives(body, args, wrt, optimized):
    f = make_function(f"""
        def kink(x, y):
            return {body}
    """)
    tangent = np.ones_like(args[wrt]) if isinstance(args[wrt], np.ndarray) else 1.0
    g = srcad.grad(f, wrt=wrt, optimized=optimized)(*args)
    jv = srcad.autodiff(f, mode="forward", wrt=wrt, optimized=optimized)(*args, tangent)
    return g, jv


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("name", CASES)
def test_array_kinks_in_both_modes(name, optimized):
    body, args, wrt, expected = CASES[name]
    for dtype in (np.float64, np.float32):
        cast = tuple(a.astype(dtype) for a in args)
        with warnings.catch_warnings():
            if isinstance(expected, float):    # a finite derivative: no warning of its own
                with np.errstate(all="ignore"):
                    make_function(f"def value(x, y):\n    return {body}\n")(*cast)
                warnings.simplefilter("error")
            else:
                warnings.simplefilter("ignore", RuntimeWarning)
            g, jv = _derivatives(body, cast, wrt, optimized)
        assert g.dtype == dtype
        _check(g, expected)
        _check(jv, expected if isinstance(expected, str) else expected * g.size)


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("name", SCALAR_CASES)
def test_scalar_kinks_in_both_modes(name, optimized):
    body, args, wrt, expected = SCALAR_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g, jv = _derivatives(body, args, wrt, optimized)
    assert type(g) is float
    _check(g, expected)
    _check(jv, expected)


@pytest.mark.parametrize("body", ["np.sum(x ** y)", "np.sum(np.power(x, y))",
                                  "np.sum(np.float_power(x, y))", "np.sum(np.hypot(x, y))"])
def test_away_from_the_kinks_nothing_changed(body):
    f = make_function(f"""
        def smooth(x, y):
            return {body}
    """)
    x, y = np.array([0.5, 1.5, 2.0]), np.array([2.5, 0.0, 1.0])
    srcad.check_grad(f, x, y, wrt=(0, 1))
    srcad.check_grad(srcad.grad(f, wrt=1), x, y, wrt=(0, 1))    # second derivatives too


def test_a_literal_exponent_folds_to_the_plain_formula():
    """The usual path pays for no np.where: ``x ** 2`` is ``2 * x ** (2 - 1)``."""
    f = make_function("""
        def square(x):
            return np.sum(x ** 2) + np.sum(2.0 ** x)
    """)
    source = srcad.show(f)
    assert "where" not in source and "isinstance" not in source
    assert "2 * x ** (2 - 1)" in source and "math.log(2.0)" in source
