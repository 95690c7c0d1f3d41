"""Arguments and options a derivative does not take are errors, never dropped (issue 11, cases 6
and 12): a keyword or extra positional argument, a tangent too many, a boolean ``wrt``, and a
function that returns no number."""
import numpy as np
import pytest

import srcad
from helpers import make_function

X = np.array([0.5, -1.0, 2.0])


def square_sum(x):
    return np.sum(x * x)


def scaled(x, a=2.0):
    return a * np.sum(x * x)


def with_seed(x, seed=1.0):
    return seed * np.sum(x * x)


def two(x, y):
    return np.sum(x * y)


@pytest.mark.parametrize("make", [
    lambda f: srcad.grad(f),
    lambda f: srcad.grad(f, preserve_result=True),
    lambda f: srcad.value_and_grad(f),
    lambda f: srcad.autodiff(f, mode="forward"),
], ids=["grad", "grad-preserve", "value_and_grad", "forward"])
def test_seed_keyword_is_an_error_where_there_is_no_seed(make):
    df = make(square_sum)
    args = (X, X) if "forward" in df.source() else (X,)
    with pytest.raises(TypeError, match="square_sum: .*'seed'"):
        df(*args, seed=np.ones(3))


def test_a_parameter_named_seed_reaches_the_function():
    np.testing.assert_allclose(srcad.grad(with_seed)(X, seed=3.0), 6.0 * X)
    value, g = srcad.value_and_grad(with_seed)(X, seed=3.0)
    assert value == pytest.approx(3.0 * np.sum(X * X))
    np.testing.assert_allclose(g, 6.0 * X)


@pytest.mark.parametrize("call", [
    lambda: srcad.grad(square_sum)(X, 1.0),
    lambda: srcad.grad(square_sum)(X, y=1.0),
    lambda: srcad.value_and_grad(square_sum)(X, X),
    lambda: srcad.autodiff(square_sum)(X, 1.0, seed=1.0),
    lambda: srcad.autodiff(square_sum, mode="forward")(X, X, X),
    lambda: srcad.autodiff(square_sum, mode="forward")(X, X, y=1.0),
    lambda: srcad.grad(two)(X),
    lambda: srcad.grad(scaled)(X, 1.0, 2.0),
    lambda: srcad.hessian(square_sum)(X, X),
    lambda: srcad.jvp(square_sum, (X, X), (X,), wrt=0),
], ids=["grad-pos", "grad-kw", "vg", "reverse", "forward", "forward-kw", "missing",
        "defaults", "hessian", "jvp"])
def test_argument_not_taken_is_a_type_error_naming_the_function(call):
    with pytest.raises(TypeError, match=r"(square_sum|two|scaled): (too many|got an unexpected"
                                        r"|missing)"):
        call()


def test_hvp_and_jacobian_refuse_extra_arguments():
    with pytest.raises(TypeError):
        srcad.hvp(square_sum)(X, X, X)
    with pytest.raises(TypeError):
        srcad.jacobian(square_sum)(X, X)


def test_jvp_refuses_a_tangent_count_that_does_not_match_wrt():
    """With a defaulted parameter, an extra tangent was taken as that parameter's value."""
    with pytest.raises(TypeError, match="jvp of scaled: 2 tangent"):
        srcad.jvp(scaled, (X,), (X, X))
    value, jv = srcad.jvp(scaled, (X,), (np.ones(3),))
    assert jv == pytest.approx(4.0 * np.sum(X))


def test_jacobian_of_several_wrt_arguments_is_a_tuple():
    """As grad's: a tuple wrt gives a tuple, one Jacobian per argument (JAX's jacfwd)."""
    (j1,) = srcad.jacobian(two, wrt=(1,))(X, X)
    np.testing.assert_allclose(j1, srcad.jacobian(two, wrt=1)(X, X))
    j0, j1 = srcad.jacobian(two, wrt=(0, 1))(X, X)
    np.testing.assert_allclose(j0, srcad.jacobian(two, wrt=0)(X, X))


@pytest.mark.parametrize("wrt", [True, False, (0, True), (True,), np.True_, 1.0, (0, 1.0)])
def test_boolean_or_float_wrt_is_an_error_even_after_wrt_1(wrt):
    """True == 1 and 1.0 == 1: the memo of built derivatives must not answer for them."""
    srcad.grad(two, wrt=1)
    srcad.grad(two, wrt=(0, 1))
    srcad.grad(two, wrt=0)
    for make in (srcad.grad, srcad.value_and_grad, srcad.autodiff,
                 lambda f, wrt: srcad.autodiff(f, mode="forward", wrt=wrt),
                 lambda f, wrt: srcad.show(f, wrt=wrt), srcad.jacobian, srcad.hessian,
                 srcad.hvp):
        with pytest.raises(TypeError, match="two: wrt must be"):
            make(two, wrt=wrt)
    with pytest.raises(TypeError, match="wrt"):
        srcad.jvp(two, (X, X), (X,), wrt=wrt if isinstance(wrt, tuple) else (wrt,))


def test_check_grad_refuses_a_boolean_wrt():
    with pytest.raises(TypeError, match="wrt"):
        srcad.check_grad(two, X, X, wrt=True)


@pytest.mark.parametrize("option", ["preserve_result", "optimized"])
def test_non_boolean_options_are_errors(option):
    with pytest.raises(TypeError, match=option):
        srcad.grad(square_sum, **{option: "no"})


@pytest.mark.parametrize("body, what", [
    ("return None", "returns None"),
    ("return 'loss'", "returns 'loss'"),
    ("return b'x'", "returns b'x'"),
    ("return True", "returns True"),
    ("if x[0] > 0: return np.sum(x)", "can reach the end of its body"),
    ("for v in x: return np.sum(x)", "can reach the end of its body"),
    ("return np.sum(x), None", "returns None"),
])
def test_a_function_returning_no_number_is_refused_with_its_location(body, what):
    f = make_function(f"""
        def no_number(x):
            {body}
    """)
    for make in (srcad.grad, srcad.value_and_grad, srcad.autodiff,
                 lambda f: srcad.autodiff(f, mode="forward"), srcad.show):
        with pytest.raises(srcad.NotDifferentiableError,
                           match=f"<srcad-test-\\d+>:\\d: cannot differentiate no_number: "
                                 f"it {what}"):
            make(f)


def test_returns_that_always_give_a_number_are_accepted():
    f = make_function("""
        def branches(x):
            if x[0] > 0:
                return np.sum(x)
            else:
                while True:
                    return np.sum(x * x)
    """)
    np.testing.assert_allclose(srcad.grad(f)(X), np.ones(3))
    np.testing.assert_allclose(srcad.grad(f)(-X), -2.0 * X)


def test_none_computed_at_run_time_is_an_error_naming_the_function():
    f = make_function("""
        def sometimes_none(x, flag):
            y = np.sum(x)
            if flag:
                y = None
            return y
    """)
    for df in (srcad.grad(f), srcad.value_and_grad(f), srcad.autodiff(f)):
        with pytest.raises(srcad.NotDifferentiableError,
                           match=r":5: sometimes_none returned None, not a number"):
            df(X, True)
        np.testing.assert_allclose(np.asarray(srcad.grad(f)(X, False)), np.ones(3))
