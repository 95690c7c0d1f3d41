"""Call-time errors: a derivative called with arguments of the wrong number, structure or type
raises an srcad error naming the parameter and what was expected (docs/errors.md)."""
import numpy as np
import pytest

import srcad
from srcad import ArgumentError, NotDifferentiableError, ShapeMismatchError, SrcadError


def two(x, y):
    return np.sum(x * y)


def sine(x):
    return np.sin(x)


def factor(a):
    return np.sum(np.linalg.cholesky(a))


def test_missing_argument_is_an_argument_error():
    with pytest.raises(ArgumentError, match="missing a required argument: 'y'") as info:
        srcad.grad(two)(np.ones(3))
    assert isinstance(info.value, TypeError) and info.value.location is not None


def test_unknown_keyword_is_an_argument_error():
    with pytest.raises(ArgumentError, match="unexpected keyword argument 'z'"):
        srcad.grad(two)(np.ones(3), np.ones(3), z=1.0)


def test_forward_with_no_tangent_or_too_many():
    df = srcad.autodiff(sine, mode="forward")
    with pytest.raises(ArgumentError, match="one tangent per wrt argument"):
        df()
    with pytest.raises(ArgumentError, match="too many positional arguments"):
        df(np.ones(3), np.ones(3), np.ones(3))


@pytest.mark.parametrize("tangent", [None, "abc", {"a": 1.0}])
def test_forward_tangent_not_a_number_names_the_parameter(tangent):
    df = srcad.autodiff(sine, mode="forward")
    with pytest.raises(ArgumentError, match=r"the tangent of x is not a number .*shaped like x"):
        df(np.ones(3), tangent)


def test_forward_tangent_of_the_wrong_shape():
    with pytest.raises(ShapeMismatchError, match=r"tangent of x has shape \(4,\)"):
        srcad.jvp(sine, (np.ones(3),), (np.ones(4),))


@pytest.mark.parametrize("seed", ["abc", {"a": 1.0}])
def test_reverse_seed_not_a_number(seed):
    dv = srcad.autodiff(sine, mode="reverse")
    with pytest.raises(ArgumentError, match="the seed is not a number"):
        dv(np.ones(3), seed=seed)


def test_reverse_seed_of_the_wrong_shape():
    _, pullback = srcad.vjp(sine, np.ones(3))
    with pytest.raises(ShapeMismatchError, match=r"seed has shape \(4,\)"):
        pullback(np.ones(4))


@pytest.mark.parametrize("bad, what", [("s", "not a number"), (None, "not a number"),
                                       ([np.ones(3), "a"], "not a number"),
                                       (np.arange(3), "an integer")])
def test_wrt_argument_of_the_wrong_type_names_it(bad, what):
    with pytest.raises(NotDifferentiableError, match=f"with respect to x: it is {what}"):
        srcad.grad(two)(bad, np.ones(3))


def sum_of_squares(s):
    return sum(v ** 2 for v in s)


@pytest.mark.parametrize("make", [set, frozenset])
@pytest.mark.parametrize("entry", ["grad", "forward", "hessian"])
def test_a_set_as_the_differentiated_argument_is_refused_naming_it(make, entry):
    """A set has no order, so its derivative has nowhere to put each item: it was a raw
    TypeError ('set' object is not subscriptable) from inside the generated code."""
    s = make({1.5, 2.5})
    run = {"grad": lambda: srcad.grad(sum_of_squares)(s),
           "forward": lambda: srcad.autodiff(sum_of_squares, mode="forward")(s, [1.0, 0.0]),
           "hessian": lambda: srcad.hessian(sum_of_squares)(s)}
    with pytest.raises(NotDifferentiableError, match=f"with respect to s: it is a {make.__name__}"
                       ) as info:
        run[entry]()
    assert "sorted(s)" in str(info.value) and "test_call_errors.py" in str(info.value)


def test_dict_where_an_array_was_is_refused_with_an_srcad_error():
    g = srcad.grad(two)
    g(np.ones(3), np.ones(3))
    with pytest.raises(SrcadError):
        g({"a": np.ones(3)}, np.ones(3))


def test_an_error_the_users_code_raises_propagates_unchanged():
    g = srcad.grad(factor)
    g(np.eye(2) * 2.0)
    with pytest.raises(np.linalg.LinAlgError) as info:
        g(-np.eye(2))                     # not positive definite: numpy's own error
    assert type(info.value) is np.linalg.LinAlgError


class _ArrayAPIOnly:
    """An array of the array API standard only: no NumPy protocol reaches the generated code."""

    shape = (3,)
    dtype = np.dtype(float)

    def __array_namespace__(self, api_version=None):
        return np


def test_an_array_api_only_array_is_refused_naming_the_argument():
    g = srcad.grad(sine_sum)
    g(np.ones(3))
    with pytest.raises(NotDifferentiableError, match="argument 0.*array API standard only"):
        g(_ArrayAPIOnly())


def sine_sum(x):
    return np.sum(np.sin(x))


@pytest.mark.parametrize("made", ["jacobian", "jacfwd", "jacrev", "hessian"])
def test_showing_a_function_srcad_made_says_what_to_show(made):
    """show(srcad.jacobian(f)) read srcad's own api.py and refused it as a user function with
    *args; it says that the Jacobian has no single generated function and what to show."""
    def f(x):
        return np.sin(x) * 2.0
    with pytest.raises(srcad.NotDifferentiableError, match="made by srcad") as info:
        srcad.show(getattr(srcad, made)(f))
    assert "srcad.show(f, mode='forward')" in info.value.hint


@pytest.mark.parametrize("body, says, hint", [
    ("y = np.zeros(3)\n    np.add.at(y, [0, 0, 2], x)\n    return np.sum(y ** 2)",
     "np.add.at changes its first argument in place", "np.bincount"),
    ("y = x * 2.0\n    y.sort()\n    return np.sum(y[:2])",
     r"\.sort\(\) changes its array in place", "y = np.sort(y)"),
    ("out = [0.0]\n    def inner():\n        nonlocal out\n        out = [x * 2.0]\n    inner()\n"
     "    return np.sum(out[0])", "a call whose result is dropped", "assign it"),
])
def test_a_call_made_for_its_effect_is_named_as_such(body, says, hint):
    """These were refused as 'an expression statement has no effect on the result', which is
    false: each changes something srcad does not follow; the message says which, and what to
    write instead (the hints' spellings differentiate)."""
    from helpers import make_function
    f = make_function(f"def f(x):\n    {body}\n")
    with pytest.raises(srcad.SrcadSyntaxError, match=says) as info:
        srcad.grad(f)(np.array([1.0, 3.0, 2.0]))
    assert hint in info.value.hint and info.value.location.lineno > 1
