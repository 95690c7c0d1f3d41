"""Derivatives of any order: srcad differentiates the code it generated. Orders 1 to 4 of
closed-form functions, second derivatives through loops, branches and in-place updates
against finite differences of the gradient, and Hessians of realistic functions."""
import math

import numpy as np
import pytest

import srcad
from helpers import central_difference


def poly(x):
    return 3.0 * x ** 4 - 2.0 * x ** 3 + x * x - 5.0 * x + 1.0


def sin_exp(x):
    return np.sin(x) * np.exp(0.5 * x)


def tanh_comp(x):
    return np.tanh(2.0 * x) + x * np.tanh(x)


def math_comp(x):
    return math.exp(math.sin(x)) + math.log(2.0 + x * x)


CLOSED = {
    poly: [poly,
           lambda x: 12 * x ** 3 - 6 * x ** 2 + 2 * x - 5,
           lambda x: 36 * x ** 2 - 12 * x + 2,
           lambda x: 72 * x - 12,
           lambda x: 72.0],
    sin_exp: [sin_exp,
              lambda x: np.exp(x / 2) * (np.cos(x) + 0.5 * np.sin(x)),
              lambda x: np.exp(x / 2) * (np.cos(x) - 0.75 * np.sin(x)),
              lambda x: np.exp(x / 2) * (-0.25 * np.cos(x) - 1.375 * np.sin(x)),
              lambda x: np.exp(x / 2) * (-1.5 * np.cos(x) - 0.4375 * np.sin(x))],
}


@pytest.mark.parametrize("fn", list(CLOSED), ids=lambda f: f.__name__)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_orders_one_to_four_match_closed_forms(fn, order):
    d = fn
    for _ in range(order):
        d = srcad.grad(d)
    for x in (-0.7, 0.3, 1.1):
        assert d(x) == pytest.approx(CLOSED[fn][order](x), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("fn", [tanh_comp, math_comp], ids=lambda f: f.__name__)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_orders_one_to_four_match_finite_differences(fn, order):
    d = fn
    for _ in range(order):
        d = srcad.grad(d)
    lower = fn
    for _ in range(order - 1):
        lower = srcad.grad(lower)
    for x in (-0.4, 0.6):
        h = 1e-5
        fd = (lower(x + h) - lower(x - h)) / (2 * h)
        assert d(x) == pytest.approx(fd, rel=1e-5, abs=1e-6)


def loop_map(x, n):
    s = 0.0
    for i in range(n):
        s = np.sin(s + x * i)
    return s


def while_growth(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + 0.1 * x * x
    return y


def branchy(x):
    if x > 0.0:
        y = x * x * x
    else:
        y = np.sin(x)
    return y * x


def inplace(x):
    out = np.zeros(3)
    for i in range(3):
        out[i] = x[i] * x[(i + 1) % 3]
    out[1] = out[1] * out[0]
    return np.sum(out * out)


@pytest.mark.parametrize("fn,args", [
    (loop_map, (0.7, 4)), (loop_map, (0.2, 0)), (while_growth, (1.3,)),
    (branchy, (0.8,)), (branchy, (-0.8,)), (inplace, (np.array([0.5, -1.2, 2.0]),)),
], ids=["loop", "zero-trip", "while", "branch+", "branch-", "inplace"])
def test_second_derivatives_through_control_flow(fn, args):
    g = srcad.grad(fn)
    fd = central_difference(g, args, 0)
    if isinstance(args[0], float):
        assert srcad.grad(g)(*args) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    h = srcad.hessian(fn)(*args)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_hessian_of_rosenbrock_matches_closed_form():
    x = np.array([0.3, -0.2, 1.1, 0.7])
    h = srcad.hessian(rosenbrock)(x)
    n = x.size
    ref = np.zeros((n, n))
    for i in range(n - 1):
        ref[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        ref[i + 1, i + 1] += 200
        ref[i, i + 1] += -400 * x[i]
        ref[i + 1, i] += -400 * x[i]
    np.testing.assert_allclose(h, ref, rtol=1e-10, atol=1e-10)


def test_hvp_matches_hessian_times_vector():
    x = np.array([0.3, -0.2, 1.1, 0.7])
    v = np.array([1.0, 0.5, -0.25, 2.0])
    np.testing.assert_allclose(srcad.hvp(rosenbrock)(x, v),
                               srcad.hessian(rosenbrock)(x) @ v, rtol=1e-12)


def test_reverse_over_forward_and_forward_over_forward():
    jvp = srcad.autodiff(sin_exp, mode="forward")
    for x in (0.2, 1.4):
        assert srcad.grad(jvp, wrt=0)(x, 1.0) == pytest.approx(CLOSED[sin_exp][2](x), rel=1e-10)
        second = srcad.autodiff(jvp, mode="forward", wrt=0)(x, 1.0, 1.0)
        assert second == pytest.approx(CLOSED[sin_exp][2](x), rel=1e-10)


def running_product(x):
    out = x.copy()
    for i in range(1, 3):
        out[i] = out[i - 1] * out[i] + x[i]
    return np.sum(out * out)


@pytest.mark.parametrize("fn", [inplace, running_product], ids=lambda f: f.__name__)
def test_reverse_over_reverse_through_in_place_updates(fn):
    x = np.array([0.5, -1.2, 2.0])
    v = np.array([1.0, 0.3, -0.7])
    vjp_of_grad = srcad.autodiff(srcad.grad(fn), mode="reverse")(x, seed=v)
    np.testing.assert_allclose(vjp_of_grad, central_difference(srcad.grad(fn), (x,), 0) @ v,
                               rtol=1e-6, atol=1e-8)


# -- grad of a function of one number: one tangent sweep (api._one_tangent) -------------------

def _horner(x, coeffs):
    p = 0.0
    for c in coeffs:
        p = p * x + c
    return p


def _sum_sin(x, W, a=2.0):
    return np.sum(np.sin(a * x * W)) + x ** 3


def _central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_grad_of_a_function_of_one_number_is_one_tangent_sweep():
    """grad of a function of one float whose value is a number runs forward mode seeded 1.0
    (no tape, no second loop); its derivative, value_and_grad, defaults, arrays inside and
    the second derivative agree with finite differences and with the reverse-mode code
    (the generic variant, built without shapes)."""
    coeffs = [0.3, -1.2, 0.5, 2.0, -0.7]
    d = srcad.grad(_horner)
    shown = srcad.show(_horner, 0.8, coeffs)
    assert "computed forward" in shown and "_tape" not in shown
    g = d(0.8, coeffs)
    assert type(g) is float
    assert g == pytest.approx(_central(lambda x: _horner(x, coeffs), 0.8), rel=1e-8)
    generic = srcad.show(_horner)                     # no shapes known: reverse mode
    assert "_tape" in generic and "computed forward" not in generic
    value, slope = srcad.value_and_grad(_horner)(0.8, coeffs)
    assert value == pytest.approx(_horner(0.8, coeffs)) and slope == pytest.approx(g)
    curvature = srcad.grad(srcad.grad(_horner))(0.8, coeffs)
    assert curvature == pytest.approx(_central(lambda x: d(x, coeffs), 0.8), rel=1e-6)
    W = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    W0 = W.copy()
    for x in (0.4, np.float64(0.4)):
        gw = srcad.grad(_sum_sin)(x, W)
        assert type(gw) is type(x)
        assert gw == pytest.approx(_central(lambda t: _sum_sin(t, W), 0.4), rel=1e-8)
        assert srcad.grad(_sum_sin)(x, W, a=0.5) == pytest.approx(
            _central(lambda t: _sum_sin(t, W, 0.5), 0.4), rel=1e-8)
    np.testing.assert_array_equal(W, W0)
    assert "computed forward" in srcad.show(_sum_sin, 0.4, W)


def test_grad_of_one_number_with_a_value_that_is_not_a_number_stays_reverse():
    """An array-valued function of one float is still refused by grad (reverse mode's
    check), and a function of an array is not built forward."""
    def vector(x):
        return np.sin(x * np.arange(3.0))
    with pytest.raises(srcad.ShapeMismatchError, match="returns a scalar"):
        srcad.grad(vector)(0.5)
    assert "computed forward" not in srcad.show(_sum_sin, np.ones(3), np.ones(3))


def _zero_d(b):
    return float(b) ** 2 + b[()] * 3.0 + b.item() ** 3


def _zero_d_indexed(b):
    return float(b) ** 2 + b[()] * 3.0


@pytest.mark.parametrize("f", [_zero_d, _zero_d_indexed])
def test_a_zero_d_array_shares_the_variant_of_a_number(f):
    """A 0-d array and a number have one specialized variant (shape ()): its code must run
    for both (the forward-mode seed 1.0 indexed b[()]; the adjoint buffer of b was copied
    with .copy() and written through bb[()], which a float has not)."""
    grad = srcad.grad(f)
    for b in (np.float64(0.8), np.array(0.8)):
        g = grad(b)
        assert g == pytest.approx(_central(f, np.float64(0.8)), rel=1e-7)
        assert type(g) is type(b)
        curvature = srcad.hvp(f)(b, np.array(1.0) if isinstance(b, np.ndarray) else 1.0)
        assert float(curvature) == pytest.approx(_central(grad, np.float64(0.8)), rel=1e-6)
