"""Derivatives through control flow and mutation: every function of control_flow_corpus checked
against finite differences in both modes, against its straight-line equivalent, with read-only
arguments and against the unoptimized build at its own and derived shape patterns
(tests/agreement.py), and the generated source's determinism and the fence's errors inside
loops."""
from __future__ import annotations

import numbers

import numpy as np
import pytest

import srcad
from agreement import check_agreement, pattern_params
from control_flow_corpus import CASES
from helpers import make_function

# Known srcad bugs: case id -> one-line reason (strict: an XPASS means the bug is fixed).
_DCE_EMPTY_LOOP = "optimizer drops a `for i in ...: pass` loop whose target is used after it"
_ENUM_START = "enumerate(x, start) is not desugared: NoRuleError for builtins.enumerate"
_FANCY_REPEAT = "reverse: out[idx] = v with repeated idx credits every duplicate, not the last"
_SLICE_REBIND = "reverse: `y = y[:k]` inside an if clobbers by before reading it (broadcast error)"
_FWD_TANGENT = "forward: `x[i] = ...` on an argument writes into the caller's tangent array"
_HELPER_RETURNS = "a helper with an early/multiple return cannot be inlined (SrcadSyntaxError)"
_MAX3 = "builtin max(a, b, c) with three arguments: only max(x1, x2) is supported"
_HELPER_ALIAS = ("helper mutating its argument, result bound to another name: the caller's "
                 "array gets no derivative (silently zero)")
_UNOPT_EMPTY_IF = ("optimized=False emits an if/else/for whose body is only a comment "
                   "(IndentationError in emit)")
_RESULT_RESTORED = ("autodiff(preserve_result=True) returns the result variable after the "
                    "adjoint sweep restored it from the tape")
_RANGE_TANGENT = "forward over reverse of nested loops: taped inner range gets zeros_like(range)"
_SLICE_TANGENT = "gradient code calls slice(i, j) for loop-dependent slices; no tangent rule for it"

XFAIL: dict = {}     # view_write_through: exact since session 11 (srcad/views.py)

REF_XFAIL: dict = {}


def _params(cases, known):
    out = []
    for case in cases:
        marks = ()
        if case.id in known:
            marks = (pytest.mark.xfail(strict=True, reason=known[case.id]),)
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def _wrt_tuple(wrt):
    return (wrt,) if isinstance(wrt, numbers.Integral) else tuple(wrt)


def _random_like(x, g):
    if isinstance(x, (list, tuple)):
        return type(x)(_random_like(item, g) for item in x)
    if isinstance(x, np.ndarray):
        return g.standard_normal(x.shape)
    return float(g.standard_normal())


def _assert_close(a, b, rtol=1e-8, atol=1e-10):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_close(x, y, rtol, atol)
        return
    assert np.shape(a) == np.shape(b)
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", _params(CASES, XFAIL))
def test_check_grad(case):
    srcad.check_grad(case.f, *case.args(), wrt=case.wrt, mode="both")


@pytest.mark.parametrize("case", _params([c for c in CASES if c.ref is not None], REF_XFAIL))
def test_matches_straight_line_equivalent(case):
    args = case.args()
    value, ref_value = case.f(*args), case.ref(*case.args())
    _assert_close(value, ref_value)
    g = np.random.default_rng(1)
    seed = _random_like(value, g)
    wrt = case.wrt
    got = srcad.autodiff(case.f, mode="reverse", wrt=wrt)(*case.args(), seed=seed)
    want = srcad.autodiff(case.ref, mode="reverse", wrt=wrt)(*case.args(), seed=seed)
    _assert_close(got, want)
    tangents = [_random_like(args[i], g) for i in _wrt_tuple(wrt)]
    got = srcad.autodiff(case.f, mode="forward", wrt=wrt)(*case.args(), *tangents)
    want = srcad.autodiff(case.ref, mode="forward", wrt=wrt)(*case.args(), *tangents)
    _assert_close(got, want)


# -- generated source is deterministic -----------------------------------------------------

LOOP_SOURCE = """
def loop_fn(x, n):
    out = np.zeros_like(x)
    s = 0.0
    for i in range(n):
        if x[i] > 0.0:
            out[i] = x[i] * s
        else:
            continue
        s = s + np.sin(x[i])
        if s > 3.0:
            break
    while s > 1.0:
        s = s * 0.5
    return np.sum(out) + s
"""


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_show_is_deterministic(mode):
    f1 = make_function(LOOP_SOURCE)
    first = srcad.show(f1, mode=mode)
    assert srcad.show(f1, mode=mode) == first
    srcad.clear_cache()
    assert srcad.show(f1, mode=mode) == first
    f2 = make_function(LOOP_SOURCE)   # same text, another function object and file
    second = srcad.show(f2, mode=mode)
    assert _without_header(second) == _without_header(first)


def _without_header(text):
    """The generated source without its first comment line (which names the source file)."""
    return [line for line in text.splitlines() if not line.startswith("# Generated")]


def test_show_of_corpus_loops_is_deterministic():
    from control_flow_corpus import soft_dtw, tanh_rnn, early_return_nested
    for f in (soft_dtw, tanh_rnn, early_return_nested):
        texts = set()
        for _ in range(2):
            srcad.clear_cache()
            texts.add(srcad.show(f, wrt=0))
        assert len(texts) == 1


# -- unsupported constructs inside loops -----------------------------------------------------

UNSUPPORTED_IN_LOOP = {
    "try": """
        def f(x):
            s = 0.0
            for i in range(3):
                try:
                    s = s + x[i]
                except IndexError:
                    pass
            return s
        """,
    "with": """
        def f(x):
            s = 0.0
            while s < 1.0:
                with open("/dev/null") as fh:
                    s = s + x * len(fh.name)
            return s
        """,
    "lambda": """
        def f(x):
            s = 0.0
            for i in range(3):
                g = lambda v: v * v
                s = s + g(x[i])
            return s
        """,
    "nested def": """
        def f(x):
            s = 0.0
            for i in range(3):
                def g(v):
                    return v * v
                s = s + g(x[i])
            return s
        """,
    "dictcomp": """
        def f(x):
            s = 0.0
            for i in range(2):
                s = s + sum({j: v * v for j, v in enumerate(x)})
            return s
        """,
    "yield": """
        def f(x):
            s = 0.0
            while s < 1.0:
                s = s + x
                yield s
            return s
        """,
    "global": """
        def f(x):
            s = 0.0
            for i in range(3):
                global counter
                counter = i
                s = s + x[i]
            return s
        """,
    "helper with try": """
        def helper(v):
            try:
                w = v * v
            except ValueError:
                w = v
            return w

        def f(x):
            s = 0.0
            for i in range(3):
                s = s + helper(x[i])
            return s
        """,
}
# (for-else is lowered since session 10: tests/test_issue13_refusals.py)

# The 1-based line (within the dedented source) of the offending construct.
UNSUPPORTED_LINE = {"try": 4, "with": 4, "lambda": 4, "nested def": 4, "dictcomp": 4,
                    "yield": 5, "global": 4, "helper with try": 2}


@pytest.mark.parametrize("kind", list(UNSUPPORTED_IN_LOOP))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_unsupported_in_loop_names_the_line(kind, mode):
    f = make_function(UNSUPPORTED_IN_LOOP[kind])
    with pytest.raises(srcad.SrcadSyntaxError) as info:
        srcad.autodiff(f, mode=mode)(np.ones(3), *([np.ones(3)] if mode == "forward" else []))
    err = info.value
    assert err.lineno == UNSUPPORTED_LINE[kind]
    assert f":{UNSUPPORTED_LINE[kind]}:" in str(err)


def test_unsupported_in_loop_fails_in_show_and_grad():
    f = make_function(UNSUPPORTED_IN_LOOP["try"])
    with pytest.raises(srcad.SrcadSyntaxError, match="try"):
        srcad.show(f)
    with pytest.raises(srcad.SrcadSyntaxError):
        srcad.grad(f)(np.ones(3))


def test_recursive_helper_is_a_clear_error():
    from control_flow_corpus import recursion_helper
    with pytest.raises(srcad.SrcadSyntaxError, match="recurs"):
        srcad.grad(recursion_helper)(np.ones(3))


# -- options and modes agree through control flow --------------------------------------------

UNOPT_XFAIL: dict = {}


def test_write_through_a_view_is_exact():
    """Refused until session 11; srcad/views.py makes v its own copy, written back into buf."""
    from control_flow_corpus import view_write_through, view_write_through_ref
    x = np.array([0.5, -1.0, 2.0, 0.3])
    np.testing.assert_allclose(srcad.grad(view_write_through)(x),
                               srcad.grad(view_write_through_ref)(x), rtol=1e-12)


@pytest.mark.parametrize("case", _params(CASES, UNOPT_XFAIL))
def test_read_only_arguments_and_optimized_equals_unoptimized(case):
    """Read-only arguments, seed and tangents (a write into one fails), left unchanged; the
    optimized derivatives equal the unoptimized ones, forward agrees with reverse mode
    (finite differences at these arguments: test_check_grad)."""
    check_agreement(case.f, case.args(), case.wrt, fd=False)


@pytest.mark.parametrize("case, label, args", pattern_params(
    [c for c in CASES if c.id not in UNOPT_XFAIL], lambda c: c.id, lambda c: c.f,
    lambda c: c.args()))
def test_optimized_equals_unoptimized_at_other_shape_patterns(case, label, args):
    """The same, and finite differences, at the shape patterns derived from the arguments
    (size-1 axes, equal sizes, an argument broadcast, 0-d arrays for numbers), compared with
    the unoptimized derivative srcad builds for any shapes."""
    check_agreement(case.f, args, case.wrt, label, seeded=False)


VALUE_AND_GRAD_IDS = ["if_scalar[pos]", "multiple_returns[first]", "loop_zip", "break_loop",
                      "early_return[taken]", "while_data_exit", "inplace_square", "euler_heat",
                      "list_stack", "tanh_rnn", "ode_oscillator", "soft_dtw"]
VALUE_AND_GRAD_XFAIL: dict = {}


@pytest.mark.parametrize("case", _params([c for c in CASES if c.id in VALUE_AND_GRAD_IDS],
                                         VALUE_AND_GRAD_XFAIL))
def test_preserve_result_returns_f_value(case):
    wrt = case.wrt
    value, grads = srcad.autodiff(case.f, wrt=wrt, preserve_result=True)(*case.args())
    assert value == pytest.approx(case.f(*case.args()), rel=1e-12, abs=1e-12)
    _assert_close(grads, srcad.grad(case.f, wrt=wrt)(*case.args()), rtol=1e-12, atol=1e-14)


FLOAT32_IDS = ["inplace_square", "piecewise_loop", "loop_zip", "conv1d_loops", "list_stack",
               "break_loop", "early_return[taken]", "continue_loop", "euler_heat",
               "loop_rows", "inplace_mask_scale", "maxpool_loops", "tanh_rnn"]


@pytest.mark.parametrize("case", _params([c for c in CASES if c.id in FLOAT32_IDS], {}))
def test_float32_arguments_get_float32_gradients(case):
    args = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in case.args()]
    grads = srcad.grad(case.f, wrt=case.wrt)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, gr in zip(_wrt_tuple(case.wrt), grads):
        if isinstance(args[i], np.ndarray):
            assert gr.dtype == np.float32, (i, gr.dtype)
            assert gr.shape == args[i].shape


HESSIAN_IDS = ["if_scalar[pos]", "if_scalar[neg]", "piecewise_loop", "range_shape_bounds",
               "loop_zip", "horner", "break_loop", "continue_loop", "early_return[taken]",
               "while_data_exit", "inplace_overwrite_twice", "inplace_loop_overwrite",
               "dp_prefix", "list_builtin_sum", "loop_enumerate", "copy_buffer",
               "nested_shared_tape", "softmax_rows_loop", "conditionally_defined",
               "inplace_column_accumulate", "while_early_return[taken]", "loop_matmul",
               "conv1d_loops", "triangular_nested", "nested_while_in_for", "inner_break",
               "early_return_nested[taken]", "list_stack", "list_array", "loop_rows",
               "tanh_rnn", "soft_dtw", "bubble_sort", "cholesky_loops", "euler_heat",
               "helper_in_loop", "thermal_simulation",
               "while_active_cond", "conv2d_loops", "maxpool_loops", "gauss_pivot",
               "inplace_mask_scale", "inplace_diagonal", "fancy_repeated_add",
               "slice_self_update", "strided_slice_update", "loop_static_tuple",
               "list_last_state", "list_item_assign", "conditional_append"]


def _fd_hessian_vector(case, args, i, v, h=1e-5):
    grad = srcad.grad(case.f, wrt=i)

    def at(step):
        moved = list(args)
        moved[i] = args[i] + step * v
        return np.asarray(grad(*moved), dtype=float)
    return (at(h) - at(-h)) / (2 * h)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.id in HESSIAN_IDS], {
}))
def test_second_derivative_through_control_flow(case):
    args = case.args()
    i = _wrt_tuple(case.wrt)[0]
    v = _random_like(args[i], np.random.default_rng(5))
    hvp = srcad.hvp(case.f, wrt=i)(*args, v)
    fd = _fd_hessian_vector(case, args, i, v)
    np.testing.assert_allclose(np.asarray(hvp, dtype=float), fd, rtol=1e-5, atol=1e-6)


JACOBIAN_IDS = ["prefix_recurrence", "euler_trajectory", "tuple_output"]


@pytest.mark.parametrize("jac_mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("case", _params([c for c in CASES if c.id in JACOBIAN_IDS[:2]], {}))
def test_jacobian_of_loop_outputs(case, jac_mode):
    args = case.args()
    jac = srcad.jacobian(case.f, wrt=0, mode=jac_mode)(*args)
    x = args[0]
    cols = []
    h = 1e-6
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = h
        up, down = list(args), list(args)
        up[0], down[0] = x + e, x - e
        cols.append((case.f(*up) - case.f(*down)) / (2 * h))
    fd = np.stack(cols, axis=-1).reshape(np.shape(case.f(*args)) + x.shape)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


# -- saves of names a loop or a branch may have left unbound --------------------------------

MAYBE_UNBOUND = {
    "loop target of a loop that ran zero times": """
        def f(x):
            s = 0.0
            for i in range(x.shape[0] - 1):
                s = s + x[i]
            for i in range(x.shape[0]):
                s = s + x[i] * x[i]
            return s
        """,
    "name bound in a branch not taken": """
        def f(x):
            s = 0.0
            if np.sum(x) > 10.0:
                y = x * 2.0
                s = np.sum(y * y)
            y = np.sin(x)
            return s + np.sum(y)
        """,
}


@pytest.mark.parametrize("kind", list(MAYBE_UNBOUND))
def test_save_of_a_name_that_may_be_unbound(kind):
    """Saving the old value of a name bound only in a loop that ran zero times, or in a
    branch not taken, read an unbound local (UnboundLocalError)."""
    f = make_function(MAYBE_UNBOUND[kind])
    srcad.check_grad(f, np.array([0.7]), mode="both")
