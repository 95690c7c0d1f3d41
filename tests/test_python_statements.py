"""The Python around numerics: ``assert``, ``raise``, ``print``, f-strings, ``logging`` and
``warnings.warn`` run once in the primal, exactly as written, and never in the derivative
sweep; the derivative is the function's, checked against finite differences in both modes,
optimized and not, and at second order.

pytest rewrites the ``assert`` statements of this module, as it does in a user's test files:
srcad compares the source with the code that runs compiled the way pytest's loader compiles it
(before, every function here with an ``assert`` was refused as an edited file).
"""
import logging
import warnings

import numpy as np
import pytest

import srcad
from agreement import check_agreement
from helpers import check_second_order_of, rng

log = logging.getLogger("srcad.test_python_statements")

def checked(x, w):
    assert x.ndim == 1, f"x must be 1-d, got {x.shape}"
    if np.ndim(w) > 1:
        raise ValueError(f"w has {np.ndim(w)} dimensions")
    z = np.sin(x) * w
    print(f"z: {z.shape}, sum {np.sum(z):.3f}")
    return np.sum(z * z) + np.sum(np.exp(0.1 * x))


def logged(x, w):
    y = np.tanh(x * w)
    log.info("y has shape %s", y.shape)
    logging.debug("debug %s", np.sum(y))
    warnings.warn(f"mean {np.mean(y):.2f}")
    return np.sum(y ** 2)


def _helper(x):
    assert np.all(np.isfinite(x)), "x is not finite"
    print("helper", x.shape)
    return np.exp(x)


def in_helper_and_loop(x):
    total = 0.0
    for i in range(3):
        print(f"step {i}")
        total = total + np.sum(_helper(x * i) * x)
    return total


def raise_in_loop(x):
    s = 0.0
    for i in range(3):
        if x[i] < -10.0:
            raise ValueError(f"x[{i}] is too small")
        s = s + x[i] * x[i]
    return s


ARGS = [(rng(1).standard_normal(4), rng(2).standard_normal(4)),
        (rng(3).standard_normal(3), 0.7),
        (rng(4).standard_normal(5), rng(5).standard_normal(5))]


@pytest.mark.parametrize("args", ARGS, ids=["vectors", "scalar w", "five"])
@pytest.mark.parametrize("f", [checked, logged], ids=["checked", "logged"])
def test_derivatives_agree_with_finite_differences(f, args, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_agreement(f, args, wrt=(0, 1))
        check_second_order_of(f, list(args), wrt=0)


def test_helper_and_loop_agree():
    x = rng(6).standard_normal(4)
    check_agreement(in_helper_and_loop, (x,), wrt=0)
    check_second_order_of(in_helper_and_loop, [x], wrt=0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("optimized", [True, False])
def test_print_runs_once_per_call(mode, optimized, capsys):
    x, w = ARGS[0]
    df = srcad.autodiff(checked, mode=mode, wrt=0, optimized=optimized)
    capsys.readouterr()
    if mode == "reverse":
        df(x, w)
    else:
        df(x, w, np.ones_like(x))
    out = capsys.readouterr().out
    z = np.sin(x) * w
    assert out == f"z: {z.shape}, sum {np.sum(z):.3f}\n"       # exactly as written, once


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_effects_inside_loops_and_helpers_run_as_in_the_primal(mode, capsys):
    x = rng(7).standard_normal(3)
    in_helper_and_loop(x)
    primal_out = capsys.readouterr().out
    df = srcad.autodiff(in_helper_and_loop, mode=mode)
    df(x) if mode == "reverse" else df(x, np.ones_like(x))
    assert capsys.readouterr().out == primal_out
    assert primal_out.count("helper (3,)") == 3


def test_hessian_runs_the_effects_of_its_primal(capsys):
    x = rng(8).standard_normal(3)
    srcad.hessian(in_helper_and_loop)(x)
    assert "step 0" in capsys.readouterr().out


def test_logging_and_warnings_run_in_the_primal(caplog):
    x, w = ARGS[0]
    with caplog.at_level(logging.INFO, logger=log.name), pytest.warns(UserWarning, match="mean"):
        srcad.grad(logged)(x, w)
    assert [r.getMessage() for r in caplog.records if r.name == log.name] == [
        f"y has shape {x.shape}"]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("optimized", [True, False])
def test_raise_in_a_branch_raises_from_the_derivative(mode, optimized):
    x, w = ARGS[0][0], np.ones((2, 4))
    df = srcad.autodiff(checked, mode=mode, wrt=0, optimized=optimized)
    with pytest.raises(ValueError, match="w has 2 dimensions"):
        df(x, w) if mode == "reverse" else df(x, w, np.ones_like(x))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_failing_assert_raises_from_the_derivative(mode):
    x = np.ones((2, 2))
    df = srcad.autodiff(checked, mode=mode, wrt=0)
    with pytest.raises(AssertionError, match=r"x must be 1-d, got \(2, 2\)"):
        df(x, 1.0) if mode == "reverse" else df(x, 1.0, np.ones_like(x))


def test_adjoint_sweep_has_no_primal_only_statement():
    source = srcad.show(checked, wrt=0)
    assert source.count("print(") == 1 and source.count("raise ValueError") == 1
    assert source.count("assert ") == 1


def test_f_string_outside_a_message_is_refused():
    # (a name bound to an f-string that only messages read, or nothing, is a primal-only
    # assignment since session 11: tests/test_issue13_last.py)
    def f(x):
        name = f"{x.shape}"
        return np.sum(x) * len(name)
    with pytest.raises(srcad.SrcadSyntaxError, match="f-strings here"):
        srcad.grad(f)


def test_a_call_for_its_effect_that_is_not_known_is_refused():
    def f(x):
        np.copyto(x, 0.0)
        return np.sum(x)
    with pytest.raises(srcad.SrcadSyntaxError, match="np.copyto writes into an argument"):
        srcad.grad(f)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_raise_in_a_loop(mode):
    x = rng(9).standard_normal(3)
    check_agreement(raise_in_loop, (x,), wrt=0)
    x[1] = -20.0
    df = srcad.autodiff(raise_in_loop, mode=mode)
    with pytest.raises(ValueError, match=r"x\[1\] is too small"):
        df(x) if mode == "reverse" else df(x, np.ones_like(x))


# -- with np.errstate(...) ---------------------------------------------------------------------

def guarded_log(x, w):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x) * w
        z = np.where(x > 0, y, 0.0)
    return np.sum(z * x) + np.sum(w * w)


def raising_log(x):
    with np.errstate(divide="raise"):
        y = np.log(x)
    return np.sum(y)


POSITIVE = [(np.abs(rng(10).standard_normal(4)) + 0.5, rng(11).standard_normal(4)),
            (np.abs(rng(12).standard_normal(3)) + 0.5, 1.5)]


@pytest.mark.parametrize("args", POSITIVE, ids=["vectors", "scalar w"])
def test_errstate_body_agrees_with_finite_differences(args):
    check_agreement(guarded_log, args, wrt=(0, 1))
    check_second_order_of(guarded_log, list(args), wrt=0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("optimized", [True, False])
def test_errstate_holds_in_the_primal_and_the_adjoint(mode, optimized):
    """At x = 0, log and its derivative 1/x divide by zero: the user asked to ignore that,
    in the primal and (srcad's choice) in the adjoint of the block too. Warnings are errors
    here, so one escaping the block fails the test."""
    x, w = np.array([0.0, 1.0, 2.0]), np.ones(3)
    before = np.geterr()
    df = srcad.autodiff(guarded_log, mode=mode, wrt=0, optimized=optimized)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = df(x, w) if mode == "reverse" else df(x, w, np.ones(3))
    finite = out[1:] if mode == "reverse" else out     # the adjoint at x = 0 is 0 * inf
    assert np.all(np.isfinite(finite)) and np.geterr() == before
    source = srcad.show(guarded_log, mode=mode, optimized=optimized)
    expected = 4 if mode == "reverse" else 2     # the adjoint enters the block again
    assert source.count("_srcad.errstate_") == expected


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_errstate_raise_raises_from_the_derivative_and_restores_the_state(mode):
    before = np.geterr()
    df = srcad.autodiff(raising_log, mode=mode)
    x = np.array([0.0, 1.0])
    with pytest.raises(FloatingPointError):
        df(x) if mode == "reverse" else df(x, np.ones(2))
    assert np.geterr() == before
    np.testing.assert_allclose(df(x + 1.0) if mode == "reverse" else df(x + 1.0, np.ones(2)),
                               [1.0, 0.5] if mode == "reverse" else 1.5)


def other_context(x):
    with open(__file__) as fh:
        y = x * len(fh.readline())
    return np.sum(y)


def test_a_context_managers_value_read_is_refused_at_its_line():
    with pytest.raises(srcad.SrcadSyntaxError, match="the value `with ... as` binds is "
                       "read") as info:
        srcad.grad(other_context)
    assert str(info.value).startswith(f"{__file__}:")


# -- try/except ----------------------------------------------------------------------------------

def reraising(p, x):
    try:
        y = np.tanh(p["W"] * x) + sum([v * v for v in x])
        assert np.all(np.isfinite(y))
    except (ValueError, AssertionError):
        raise
    return np.sum(y * y)


def reraising_flat(w, x):
    try:
        y = np.tanh(w * x) + sum([v * v for v in x])
    except ValueError:
        raise
    return np.sum(y * y)


def test_a_try_whose_handlers_re_raise_is_its_body():
    w, x = rng(13).standard_normal(3), rng(14).standard_normal(3)
    check_agreement(reraising_flat, (w, x), wrt=(0, 1))
    check_second_order_of(reraising_flat, [w, x], wrt=0)
    g = srcad.grad(reraising)({"W": w}, x)["W"]          # a container read inside the try
    np.testing.assert_allclose(g, srcad.grad(reraising_flat)(w, x), rtol=1e-12)


def returns_in_try(x):
    s = 0.0
    for i in range(3):
        try:
            if x[i] > 1.0:
                return s + x[i] ** 3
            s = s + x[i] ** 2
        except ValueError:
            raise
    return s


def handles(x):
    try:
        y = np.log(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


@pytest.mark.parametrize("f, message", [(returns_in_try, "`return` inside `try`"),
                                        (handles, "does not differentiate try/except")])
def test_other_try_statements_are_refused_at_their_line(f, message):
    with pytest.raises(srcad.SrcadSyntaxError, match=message) as info:
        srcad.grad(f)
    assert str(info.value).startswith(f"{__file__}:")


def _asserting_loss(w, X):
    assert X.ndim == 2, "X must be 2-D"
    return np.sum(np.tanh(X @ w) ** 2)


def test_a_function_of_a_test_module_whose_asserts_pytest_rewrote():
    """srcad refused a function with an ``assert`` defined in a pytest test file ("the file
    was edited"): the bytecode pytest's loader makes differs from a plain compilation."""
    assert type(globals()["__loader__"]).__name__ == "AssertionRewritingHook"
    w, X = np.array([0.1, -0.2, 0.3]), rng(4).standard_normal((2, 3))
    check_agreement(_asserting_loss, (w, X), wrt=0)


# -- session 10: swaps into subscripts, NumPy 2.1's clip bounds, scalar casts, and the hints of
# calls that write into an argument (tests/test_user_corpus_s10.py found each)

def _swap_items(x):
    y = x.copy()
    y[0], y[1] = y[1], y[0] * 2.0
    return np.sum(y ** 2 * np.arange(1.0, 4.0))


def _reverse_by_swaps(x):
    a = x * 1.0
    i, j = 0, a.shape[0] - 1
    while i < j:
        a[i], a[j] = a[j], a[i] * 2.0
        i, j = i + 1, j - 1
    return np.sum(a * np.arange(1.0, a.shape[0] + 1.0) ** 2)


def _clip_bounds_and_casts(x):
    return (np.sum(x.clip(min=0.1) ** 2) + np.sum(np.clip(x, max=0.5) ** 3)
            + np.float64(x[2]) ** 2 + np.sum(np.float32(1.0) * x))


@pytest.mark.parametrize("f", [_swap_items, _reverse_by_swaps, _clip_bounds_and_casts])
def test_swaps_clip_bounds_and_scalar_casts_are_differentiated(f):
    x = np.array([0.3, -1.2, 0.7])
    check_agreement(f, (x,), wrt=0)
    check_second_order_of(f, [x], wrt=0)


@pytest.mark.parametrize("statement, hint", [
    ("np.copyto(y, x)", "dst[...] = src"),
    ("np.multiply(x, x, out=y)", "without out="),
    ("np.fill_diagonal(A, 1.0)", "A[np.arange(n), np.arange(n)] = v"),
    ("y.fill(2.0)", "np.full_like(y, value)"),
    ("y.put([0], 1.0)", "y[i] = v"),
    ("np.add.at(y, [0, 0], x[:2])", "rows of a 2-D y too"),
])
def test_calls_that_write_into_an_argument_get_the_hint_that_fits(statement, hint):
    from helpers import make_function
    f = make_function(f"""
        def f(x):
            y = x.copy()
            A = np.outer(x, x)
            {statement}
            return np.sum(y) + np.sum(A)
        """)
    with pytest.raises(srcad.SrcadSyntaxError) as caught:
        srcad.grad(f)(np.ones(3))
    assert caught.value.location.lineno is not None and hint in str(caught.value)


def test_min_of_one_list_made_in_the_function():
    # (refused before; a list the function makes is min'd as Python does, the first least
    # item: tests/test_issue13_forms.py)
    def f(x):
        xs = [x[i] ** 2 for i in range(3)]
        return min(xs)
    np.testing.assert_allclose(srcad.grad(f)(np.array([1.5, -0.5, 2.0])), [0.0, -1.0, 0.0])
