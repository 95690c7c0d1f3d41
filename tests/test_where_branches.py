"""The branch np.where does not take contributes exactly 0 to a derivative, even where its
own derivative is inf or nan (``np.where(x > 0, np.sqrt(x), 0.0)`` at ``x = -1``: the
reverse sweep multiplied a zero cotangent by ``0.5 / nan``). Reverse mode masks the
contributions that leave a region computed only for a branch (``srcad/reverse/guards.py``);
forward mode selects tangents after computing them. Checked against central differences at
points away from the switch, in both modes, optimized or not, in the generic and the
specialized derivative, and through a Hessian-vector product; docs/conventions.md states the
rule."""
import warnings

import numpy as np
import pytest

import srcad
from helpers import make_function


def _fd(f, args, k, h=1e-6):
    x = np.array(args[k], dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        up = list(args); up[k] = x + e
        dn = list(args); dn[k] = x - e
        g.flat[i] = (f(*up) - f(*dn)) / (2 * h)
    return g


X = np.array([-1.5, -0.5, 0.7, 2.0])
M = np.array([[-1.0, 2.0, 0.5], [3.0, -4.0, 1.5]])
S = np.array([[2.0], [0.5]])

# name: (source of f, arguments)
CASES = {
    "sqrt_taken_where_positive": ("""
        def f(x):
            return np.sum(np.where(x > 0, np.sqrt(x), 0.0) * x)
        """, (X,)),
    "log_in_the_else_branch": ("""
        def f(x):
            return np.sum(np.where(x <= 0, -x, np.log(x)) ** 2)
        """, (X,)),
    "chain_of_unsafe_operations": ("""
        def f(x):
            r = np.sqrt(x)
            q = np.log(r) / r
            return np.sum(np.where(x > 0.1, q * 3.0, x ** 2))
        """, (X,)),
    "division_by_zero_in_the_untaken_branch": ("""
        def f(x):
            return np.sum(np.where(np.abs(x) > 0.5, np.sin(x) / x, 1.0))
        """, (np.array([0.0, 1.0, -2.0]),)),
    "nested_where": ("""
        def f(x):
            inner = np.where(x < 1.0, np.arcsin(x), 2.0 * x)
            return np.sum(np.where(x > -1.0, inner, 0.0) ** 2)
        """, (X,)),
    "condition_broadcast_over_rows": ("""
        def f(m, s):
            return np.sum(np.where(m > 0, np.log(m * s), -1.0))
        """, (M, S)),
    "branch_broadcast_into_the_condition": ("""
        def f(m, s):
            return np.sum(np.where(m > 0, np.log(s - 1.0), m))
        """, (M, np.array([[2.0], [3.0]]))),
    "a condition of numbers, not booleans": ("""
        def f(x):
            m = np.array([0.0, 0.0, 1.0, 1.0])
            return np.sum(np.where(m, x, np.log(x)) + np.where(m * 2.0, x, np.sqrt(x)))
        """, (-X,)),
    "a masked write over the untaken values": ("""
        def f(x):
            y = np.sqrt(x)
            y[x < 0] = 0.0
            return np.sum(y ** 2 + y)
        """, (X,)),
    "a masked write through a combined mask": ("""
        def f(x):
            y = np.log(x)
            bad = (x < 0) | np.isnan(y)
            y[bad] = -1.0
            return np.sum(y * x)
        """, (X,)),
    "np_select_choices": ("""
        def f(x):
            y = np.select([x > 0.1, x < -0.1], [np.log(x), np.sqrt(-x)], default=0.0)
            return np.sum(y)
        """, (X,)),
    "np_select_default_and_overlapping_conditions": ("""
        def f(x):
            return np.sum(np.select([x < -1, x < 1], [np.log(-x), np.arcsin(x)],
                                    default=np.sqrt(x - 1.0)))
        """, (np.array([-2.3, -0.4, 0.6, 1.7, 3.1]),)),
    "inside_a_loop": ("""
        def f(x):
            total = 0.0
            for k in range(3):
                z = x - 0.5 * k
                total = total + np.sum(np.where(z > 0, np.sqrt(z), 0.0))
            return total
        """, (X,)),
    "exp_overflow_in_the_untaken_branch": ("""
        def f(x):
            return np.sum(np.where(x < 50.0, x ** 2, np.exp(x * 1000.0)))
        """, (X,)),
}
PARAMS = [pytest.param(src, args, id=name) for name, (src, args) in CASES.items()]


def _quiet(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("src,args", PARAMS)
def test_reverse_and_forward_agree_with_central_differences(src, args, optimized):
    f = make_function(src)
    for k in range(len(args)):
        expected = _quiet(_fd, lambda *a: _quiet(f, *a), args, k)
        assert np.all(np.isfinite(expected))
        got = _quiet(srcad.grad(f, wrt=k, optimized=optimized), *args)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
        t = np.random.default_rng(k).normal(size=np.shape(args[k]))
        tangents = [np.zeros_like(a) for a in args]
        tangents[k] = t
        _, jvp = _quiet(srcad.jvp, f, args, tuple(tangents))
        np.testing.assert_allclose(jvp, np.sum(expected * t), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("src,args", PARAMS)
def test_the_generic_derivative_masks_too(src, args):
    """The generic variant (shapes unknown: runtime.where_taken reduces the condition)."""
    f = make_function(src)
    namespace: dict = {}
    exec(compile(srcad.export(f, wrt=0), "<generic>", "exec"), namespace)
    generic = next(v for k, v in namespace.items() if k.startswith("df_") and callable(v))
    expected = _quiet(_fd, lambda *a: _quiet(f, *a), args, 0)
    got = _quiet(generic, *args)
    got = got[0] if isinstance(got, tuple) else got
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("src,args", PARAMS)
def test_hessian_vector_products_have_no_nan(src, args):
    f = make_function(src)
    v = np.random.default_rng(3).normal(size=np.shape(args[0]))
    grad = srcad.grad(f)
    expected = (_quiet(grad, args[0] + 1e-5 * v, *args[1:])
                - _quiet(grad, args[0] - 1e-5 * v, *args[1:])) / 2e-5
    got = _quiet(srcad.hvp(f), *args, v)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_switch_point_takes_the_taken_branch():
    """At x == 0 exactly, np.where(x == 0, 1.0, sin(x) / x) is the constant 1.0: its
    derivatives there are the constant's (0, and 0 at second order), never nan."""
    f = make_function("""
        def f(x):
            return np.sum(np.where(x == 0, 1.0, np.sin(x) / x) ** 2)
        """)
    x = np.array([0.0, 0.5])
    g = _quiet(srcad.grad(f), x)
    h = _quiet(srcad.hvp(f), x, np.array([1.0, 0.0]))
    assert g[0] == 0.0 and h[0] == 0.0 and h[1] == 0.0
    np.testing.assert_allclose(g[1], _quiet(_fd, f, (x,), 0)[1], rtol=1e-6)


def test_a_region_value_used_outside_the_branch_is_not_masked():
    """sqrt(x) also read outside the np.where: its nan is the function's own."""
    f = make_function("""
        def f(x):
            r = np.sqrt(x)
            return np.sum(np.where(x > 0, r, 0.0)) + np.sum(r * 0.0)
        """)
    g = _quiet(srcad.grad(f), np.array([-1.0, 4.0]))
    assert np.isnan(g[0]) and g[1] == pytest.approx(0.25)


def test_the_specialized_code_masks_with_np_where():
    f = make_function("""
        def f(x):
            return np.sum(np.where(x > 0, np.sqrt(x), 0.0))
        """)
    text = srcad.show(f, X)
    assert "np.where(_cmp, " in text and "where_taken" not in text


def test_an_integer_index_write_is_no_mask():
    """y[idx] = 0.0 with indices, not a mask: nothing is masked (idx's values are no
    condition), and the derivative is still exact."""
    f = make_function("""
        def f(x):
            y = np.sqrt(x * x + 1.0)
            idx = np.array([0, 2])
            y[idx] = 0.0
            return np.sum(y * x)
        """)
    x = np.array([-1.0, 0.05, 0.5, 2.0])
    np.testing.assert_allclose(srcad.grad(f)(x), _fd(f, (x,), 0), rtol=1e-6, atol=1e-8)
    assert "where" not in srcad.show(f, x)
