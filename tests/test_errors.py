"""Error messages through the Python API: one test per error class of DESIGN.md §5.

A good message names the user's file and line, shows the offending line with a caret under
the construct, and ends with a hint saying what to do instead."""
import math
import textwrap

import numpy as np
import pytest

import srcad
from helpers import make_function

THIS_FILE = __file__


def assert_located(err, filename, lineno, line_text, caret_at=None):
    """``err`` renders as ``file:line: message`` / the offending line / a caret / a hint.

    ``caret_at`` is the text the caret must point at (the start of the construct)."""
    text = str(err)
    lines = text.splitlines()
    assert lines[0].startswith(f"{filename}:{lineno}: "), text
    assert lines[1].strip() == line_text.strip(), text
    assert lines[2].strip() == "^", f"no caret under the offending line:\n{text}"
    if caret_at is not None:
        column = lines[2].index("^")
        assert lines[1][column:].startswith(caret_at), (
            f"the caret does not point at {caret_at!r}:\n{text}")
    assert_hint(err)


def assert_hint(err):
    assert err.hint and err.hint.strip(), f"no hint in:\n{err}"
    assert str(err).rstrip().endswith(err.hint.rstrip()), str(err)
    assert "Traceback" not in str(err)


def line_of(fn, needle):
    """(1-based line number in fn's file, that line) of the first line containing needle."""
    import inspect
    lines, first = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if needle in line:
            return first + offset, line
    raise AssertionError(f"{needle!r} not in the source of {fn.__name__}")


# -- unsupported syntax: SrcadSyntaxError (a SyntaxError) ------------------------------------

UNSUPPORTED = {
    # name: (function source, text of the offending construct the caret points at, word
    # the message uses for it)
    "try": ("""
        def f(x):
            y = x * 2.0
            try:
                y = np.sin(y)
            except ValueError:
                pass
            return np.sum(y)
        """, "try:", "try"),
    "with": ("""
        def f(x):
            with open("/dev/null"):
                return np.sum(np.log(x))
        """, "return np.sum", "with"),
    "yield": ("""
        def f(x):
            y = x * 2.0
            yield np.sum(y)
        """, "yield np.sum(y)", "yield"),
    "global": ("""
        def f(x):
            global counter
            counter = 1
            return np.sum(x)
        """, "global counter", "global"),
    "lambda": ("""
        def f(x):
            if x.ndim:
                g = lambda v: v * 2.0
            return np.sum(g(x))
        """, "lambda v", "lambda"),
    "nested def": ("""
        def f(x):
            if x.ndim:
                def inner(v):
                    return v * 2.0
            return np.sum(inner(x))
        """, "def inner(v):", "nested function"),
    "dict comprehension": ("""
        def f(x):
            ys = {i: x[i] * 2.0 for i in range(len(x))}
            return sum(ys)
        """, "{i: x[i] * 2.0 for i in range(len(x))}", "comprehension"),
    "generator expression": ("""
        def f(x):
            return sorted(v * 2.0 for v in x)[-1]
        """, "(v * 2.0 for v in x)", "generator"),
}


@pytest.mark.parametrize("case", list(UNSUPPORTED))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_unsupported_syntax(case, mode):
    source, construct, word = UNSUPPORTED[case]
    source = textwrap.dedent(source).lstrip("\n")
    f = make_function(source)
    lineno = next(i for i, line in enumerate(source.splitlines(), 1) if construct in line)
    with pytest.raises(srcad.SrcadSyntaxError) as info:
        srcad.autodiff(f, mode=mode)
    err = info.value
    assert isinstance(err, SyntaxError) and isinstance(err, srcad.SrcadError)
    assert word in err.message
    assert err.lineno == lineno and err.filename == f.__code__.co_filename
    assert_located(err, f.__code__.co_filename, lineno, source.splitlines()[lineno - 1],
                   caret_at=construct)


def uses_try(x):
    try:
        y = np.sqrt(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def test_unsupported_syntax_in_a_real_file_names_that_file():
    lineno, line = line_of(uses_try, "try:")
    with pytest.raises(SyntaxError) as info:
        srcad.grad(uses_try)
    assert_located(info.value, THIS_FILE, lineno, line, caret_at="try")


def helper_with_try(v):
    try:
        w = v * 2.0
    except ValueError:
        w = v
    return w


def calls_helper_with_try(x):
    return np.sum(helper_with_try(x))


def test_unsupported_syntax_in_an_inlined_helper_points_into_the_helper():
    lineno, line = line_of(helper_with_try, "try:")
    with pytest.raises(srcad.SrcadSyntaxError) as info:
        srcad.grad(calls_helper_with_try)
    assert_located(info.value, THIS_FILE, lineno, line, caret_at="try")


# -- no derivative rule: NoRuleError -----------------------------------------------------------

def spectrum_energy(x):           # np.polydiv has no rule (its remainder's length varies)
    quotient = np.polydiv(x, x[:2])[0]
    return np.sum(np.abs(quotient) ** 2)


@pytest.mark.parametrize("mode, word", [("reverse", "adjoint"), ("forward", "tangent")])
def test_no_rule_for_a_c_function(mode, word):
    lineno, line = line_of(spectrum_energy, "np.polydiv(x, x[:2])")
    with pytest.raises(srcad.NoRuleError) as info:
        srcad.autodiff(spectrum_energy, mode=mode)
    err = info.value
    assert "numpy.polydiv" in err.message    # names the primitive
    assert word in err.message and mode in err.message   # and the mode
    assert "register" in err.hint.lower()          # and how to register a rule
    assert_located(err, THIS_FILE, lineno, line)


def test_no_rule_caret_points_at_the_call():
    lineno, line = line_of(spectrum_energy, "np.polydiv(x, x[:2])")
    with pytest.raises(srcad.NoRuleError) as info:
        srcad.grad(spectrum_energy)
    assert_located(info.value, THIS_FILE, lineno, line, caret_at="np.polydiv(x, x[:2])")


# -- source unavailable: SourceUnavailableError ------------------------------------------------

@pytest.mark.parametrize("fn", [
    len, math.exp, np.sin,
    np.dot,
], ids=["builtin", "C function", "ufunc", "numpy C function"])
def test_source_unavailable_for_builtins_and_c_functions(fn):
    with pytest.raises(srcad.SourceUnavailableError) as info:
        srcad.grad(fn)
    err = info.value
    assert repr(fn) in err.message or fn.__name__ in err.message
    assert "source" in err.message
    assert_hint(err)


def test_source_unavailable_for_execd_code():
    namespace = {"np": np}
    exec("def execd(x):\n    return np.sum(x * x)\n", namespace)
    with pytest.raises(srcad.SourceUnavailableError) as info:
        srcad.grad(namespace["execd"])
    err = info.value
    assert "execd" in err.message and "<string>" in err.message   # the function and its file
    assert "exec" in err.hint
    assert_hint(err)


square_norm = lambda x: np.sum(x * x)   # noqa: E731 - the point of the test


def test_lambda_is_differentiated_from_its_line():
    # issue 13: a lambda is read from its line (it was refused before)
    x = np.arange(3.0)
    np.testing.assert_allclose(srcad.grad(square_norm)(x), 2 * x)
    assert "square_norm = lambda" in srcad.show(square_norm)


# -- non-differentiable argument: NotDifferentiableError ---------------------------------------

def scaled_sum(x, n):
    return np.sum(x * n)


@pytest.mark.parametrize("value, kind", [
    (3, "integer"), (True, "boolean"), (np.arange(3), "integer"), (np.int32(2), "integer"),
], ids=["int", "bool", "int array", "numpy int"])
def test_non_differentiable_argument(value, kind):
    with pytest.raises(srcad.NotDifferentiableError) as info:
        srcad.grad(scaled_sum, wrt=1)(np.ones(3), value)
    err = info.value
    assert isinstance(err, TypeError)
    assert "scaled_sum" in err.message and "n" in err.message and kind in err.message
    assert "wrt" in err.hint                     # leave it out of wrt, or pass a float
    assert_hint(err)


def test_non_differentiable_argument_by_name_and_in_forward_mode():
    with pytest.raises(srcad.NotDifferentiableError, match="with respect to n"):
        srcad.autodiff(scaled_sum, mode="forward", wrt="n")(np.ones(3), 2, 1.0)


def test_non_differentiable_argument_names_the_parameter_in_the_source():
    lineno, line = line_of(scaled_sum, "def scaled_sum")
    with pytest.raises(srcad.NotDifferentiableError) as info:
        srcad.grad(scaled_sum, wrt=1)(np.ones(3), 3)
    assert_located(info.value, THIS_FILE, lineno, line, caret_at="n)")


# -- seed / tangent shape mismatch: ShapeMismatchError -----------------------------------------

def elementwise(x):
    return np.sin(x) * 2.0


def test_seed_shape_mismatch():
    vjp = srcad.autodiff(elementwise, mode="reverse")
    with pytest.raises(srcad.ShapeMismatchError) as info:
        vjp(np.ones(3), seed=np.ones(4))
    err = info.value
    assert isinstance(err, ValueError)
    assert "(4,)" in err.message and "(3,)" in err.message   # both shapes
    assert "seed" in err.message
    assert_hint(err)


def test_seed_that_would_broadcast_is_still_a_mismatch():
    vjp = srcad.autodiff(elementwise, mode="reverse")
    with pytest.raises(srcad.ShapeMismatchError, match=r"\(3, 1\)"):
        vjp(np.ones(3), seed=np.ones((3, 1)))


def test_grad_of_a_non_scalar_function_is_a_shape_mismatch():
    with pytest.raises(srcad.ShapeMismatchError) as info:
        srcad.grad(elementwise)(np.ones(3))
    err = info.value
    assert "scalar" in err.message and "(3,)" in err.message
    assert "autodiff" in err.hint or "vjp" in err.hint
    assert_hint(err)


def test_seed_shape_mismatch_names_the_function_location():
    lineno, line = line_of(elementwise, "return np.sin(x) * 2.0")
    with pytest.raises(srcad.ShapeMismatchError) as info:
        srcad.autodiff(elementwise, mode="reverse")(np.ones(3), seed=np.ones(4))
    assert_located(info.value, THIS_FILE, lineno, line)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (1,)])
def test_tangent_shape_mismatch(shape):
    jvp = srcad.autodiff(elementwise, mode="forward")
    with pytest.raises(srcad.ShapeMismatchError) as info:
        jvp(np.ones(3), np.ones(shape))
    err = info.value
    assert "tangent" in err.message and str(shape) in err.message and "(3,)" in err.message
    assert_hint(err)


# -- common to all: SrcadError is the base, and messages are stable ----------------------------

def test_every_error_class_derives_from_srcad_error():
    for cls in (srcad.SrcadSyntaxError, srcad.NoRuleError, srcad.SourceUnavailableError,
                srcad.NotDifferentiableError, srcad.ShapeMismatchError,
                srcad.GradientCheckError, srcad.InternalError):
        assert issubclass(cls, srcad.SrcadError)


def test_the_same_error_twice_gives_the_same_message():
    messages = []
    for _ in range(2):
        srcad.clear_cache()
        with pytest.raises(srcad.NoRuleError) as info:
            srcad.grad(spectrum_energy)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
