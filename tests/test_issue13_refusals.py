"""Issue 13: ordinary code srcad refused (a helper copying its argument before writing into
it, double buffering, ``for ... else``, ...), each checked against central finite differences
(float64) in reverse mode, forward mode and through hvp; and the refusals kept, with hints
that fit."""
from __future__ import annotations

import numpy as np
import pytest

import srcad
from helpers import central_difference, make_function

H = 1e-6


def check_all_modes(f, x):
    """srcad.grad, jvp and hvp of ``f`` at ``x`` against central differences; the argument
    is left unchanged."""
    before = x.copy()
    g = srcad.grad(f)(x)
    np.testing.assert_allclose(g, central_difference(f, [x], 0), rtol=1e-6, atol=1e-7)
    t = np.random.default_rng(1).standard_normal(x.shape)
    value, tangent = srcad.jvp(f, (x,), (t,))
    np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12)
    np.testing.assert_allclose(tangent, (f(x + H * t) - f(x - H * t)) / (2 * H),
                               rtol=1e-6, atol=1e-7)
    df = srcad.grad(f)
    expected = (df(x + 1e-5 * t) - df(x - 1e-5 * t)) / 2e-5
    np.testing.assert_allclose(srcad.hvp(f)(x, t), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x, before)


X = np.array([0.7, -1.3, 2.1, 0.4, -0.6])


# -- 1. a helper that rebinds its parameter to a copy writes into its own array ---------------

_COPIES = """
def _rebinds(a, b):
    a = {copy}
    a[0] = b[1] * 3.0
    a[2:4] += b[:2] ** 2
    return np.sum(a * b)

def f(x):
    y = x * 2.0
    s = _rebinds(y, x)
    return s + np.sum(y ** 2)
"""


@pytest.mark.parametrize("copy", ["a.copy()", "np.copy(a)", "np.array(a)", "a * 1.0"])
def test_helper_writing_into_its_copy_of_the_argument(copy):
    check_all_modes(make_function(_COPIES.format(copy=copy)), X.copy())


@pytest.mark.parametrize("body", [
    # a write before the copy goes into the caller's array
    "a[1] = 2.0 * a[0]\n    a = a.copy()\n    a[0] = 5.0",
    # a view of the argument is still the argument's memory
    "a = a[1:]\n    a[0] = 5.0",
    # a copy made in a branch: the write after it may go into the argument
    "if b[0] > 0.0:\n        a = a.copy()\n    a[0] = 5.0"])
def test_helper_writing_into_its_argument_after_rebinding_is_refused(body):
    f = make_function(f"""
def _h(a, b):
    {body}
    return np.sum(a * b)

def f(x):
    y = x * 2.0
    s = _h(y, x)
    return s + np.sum(y ** 2)
""")
    with pytest.raises(srcad.SrcadError, match="writes into its argument 'a'"):
        srcad.grad(f)(X.copy())


# -- 2. double buffering: a loop that swaps two arrays keeps them apart -----------------------

def ping_pong(x):
    a = x.copy()
    b = np.zeros_like(x)
    for _ in range(3):
        b[1:-1] = 0.5 * (a[:-2] + a[2:])
        b[0] = a[0]
        b[-1] = a[-1] * a[0]
        a, b = b, a
    b[2] = a[1] ** 2            # after the loop too: b is not a
    return np.sum(a ** 2) + np.sum(b * x)


def ping_pong_while(x):
    a = x * 1.5
    b = x.copy()
    n = 0
    while n < 4:
        b[:] = np.sin(a) * x
        b[0] += a[-1]
        a, b = b, a
        n += 1
    return np.sum(a * b)


def rotate_three(x):
    a, b, c = x.copy(), x * 2.0, x ** 2
    for k in range(4):
        c[k % 5] = a[1] * b[2]
        a, b, c = b, c, a
    return np.sum(a * np.cos(b) + c)


def temporary_swap(x):
    a = x.copy()
    b = x * 3.0
    for _ in range(2):
        t = a
        a = b
        b = t
        b[1:] = a[:-1] * 0.5
    return np.sum(a ** 2 * b)


@pytest.mark.parametrize("f", [ping_pong, ping_pong_while, rotate_three, temporary_swap])
def test_swapped_buffers(f):
    check_all_modes(f, X.copy())


_ALIASED = {
    # another name still holds the first array: after an odd number of swaps it is b
    "kept": """
def f(x):
    a = x.copy()
    b = x * 2.0
    keep = a
    for _ in range(3):
        b[0] = a[1] * 2.0
        a, b = b, a
    return np.sum(keep * a)
""",
    # the loop may end half way through the swap: a and b are then one array
    "break": """
def f(x):
    a = x.copy()
    b = x * 2.0
    for i in range(3):
        t = a
        a = b
        if x[i] > 0.0:
            break
        b = t
    b[0] = 7.0
    return np.sum(a ** 2)
""",
    # the body makes b another name for a: from the second iteration on, the write is shared
    "alias": """
def f(x):
    a = x.copy()
    b = x * 2.0
    for _ in range(3):
        b[0] = a[1] * 2.0
        b = a
    return np.sum(a * b)
""",
}


@pytest.mark.parametrize("case", sorted(_ALIASED))
def test_arrays_shared_across_iterations_are_still_refused(case):
    f = make_function(_ALIASED[case])
    with pytest.raises(srcad.SrcadError, match="shares memory with"):
        srcad.grad(f)(X.copy())
    with pytest.raises(srcad.SrcadError, match="shares memory with"):
        srcad.jvp(f, (X.copy(),), (X.copy(),))


# -- 3. writes into the arrays a list holds: refused where another name sees them --------------

_HELD_WRITES = {
    # Python's parts[0] += v is parts[0].__iadd__(v): it writes into c (was a silent wrong
    # derivative: srcad rebound the list's item)
    "iadd_view_in_list": """
def f(x):
    c = x.copy()
    parts = [c[0:2], c[2:4]]
    parts[0] += x[:2] ** 2
    return np.sum(c ** 2)
""",
    "imul_split_view": """
def f(x):
    c = x.copy()
    parts = np.split(c[:4], 2)
    parts[1] *= x[:2]
    return np.sum(c ** 2)
""",
    "iadd_array_another_name_holds": """
def f(x):
    h = x * 1.0
    hs = [h, x * 2.0]
    hs[0] += x ** 2
    return np.sum(hs[0] * h)
""",
    "view_taken_from_list": """
def f(x):
    c = x.copy()
    parts = [c[0:2], c[2:4]]
    v = parts[0]
    v[0] = parts[1][1] * 3.0
    return np.sum(c ** 2)
""",
}


def _refused_in_every_mode(f, match):
    with pytest.raises(srcad.SrcadError, match=match):
        srcad.grad(f)(X.copy())
    with pytest.raises(srcad.SrcadError, match=match):
        srcad.jvp(f, (X.copy(),), (X.copy(),))
    with pytest.raises(srcad.SrcadError, match=match):
        srcad.hvp(f)(X.copy(), X.copy())


@pytest.mark.parametrize("case", sorted(_HELD_WRITES))
def test_a_write_into_an_array_a_list_holds_is_refused_where_shared(case):
    _refused_in_every_mode(make_function(_HELD_WRITES[case]), "shares memory with")


def iadd_own_arrays_in_list(x):
    hs = [x * 1.0, x * 2.0]
    hs[0] += x ** 2
    return np.sum(hs[0] * hs[1])


def iadd_numbers_in_list(x):
    a = x[0] * 2.0
    lst = [a, x[1]]
    lst[0] += x[2] ** 2     # a number: rebound, a is unchanged
    return a * lst[0] + lst[1]


def item_copied_and_stored_back(x):     # the nested-subscript hint's rewrite
    c = x.copy()
    parts = np.array_split(c, 2)
    a = np.copy(parts[1])
    a[1] = parts[0][0] * 4.0
    parts[1] = a
    return np.sum(parts[1] ** 2) + np.sum(c[:3] * parts[0])


@pytest.mark.parametrize("f", [iadd_own_arrays_in_list, iadd_numbers_in_list,
                               item_copied_and_stored_back])
def test_writes_into_list_items_nobody_else_holds(f):
    check_all_modes(f, X.copy())


@pytest.mark.parametrize("write", ["parts[0][0] = parts[1][1] * 3.0",
                                   "parts[0][0] += parts[1][1] * 3.0"])
def test_a_nested_subscript_write_is_refused_with_what_to_write(write):
    f = make_function(f"""
def f(x):
    c = x.copy()
    parts = [c[0:2], c[2:4]]
    {write}
    return np.sum(c ** 2)
""")
    with pytest.raises(srcad.SrcadError, match="nested subscript") as info:
        srcad.grad(f)(X.copy())
    assert "x[i, j] = v" in str(info.value) and "np.copy(x[i])" in str(info.value)
    assert "a = x[i]; a[j] = v`" not in str(info.value)


# -- 4. a display repeated by an int literal is the display spelled out ------------------------

def repeat_list(x):
    h = x * 2.0
    hs = [h] * 3
    pair = 2 * (np.sin(x[0]), x[1])
    return np.sum(hs[0] * hs[2] + hs[1]) + pair[0] * pair[3] + pair[2]


def repeat_two_items(x):
    u = [np.exp(x[0]), x[2]] * 2
    return u[0] * u[3] + u[1] * u[2]


@pytest.mark.parametrize("f", [repeat_list, repeat_two_items])
def test_a_repeated_display(f):
    check_all_modes(f, X.copy())


def test_a_write_into_an_array_a_repeated_list_holds_is_refused():
    f = make_function("""
def f(x):
    h = x.copy()
    hs = [h] * 2
    h *= 3.0
    return np.sum(hs[0] * hs[1])
""")
    _refused_in_every_mode(f, "shares memory with 'hs' \\(a list holding 'h'\\)")


def test_a_list_repeated_a_number_of_times_known_at_run_time_is_refused_with_a_hint():
    f = make_function("""
def f(x):
    n = int(x.size // 2)
    hs = [x] * n
    return np.sum(hs[0] * hs[1])
""")
    with pytest.raises(srcad.NoRuleError, match="write the count as a literal"):
        srcad.grad(f)(X.copy())


# -- 5. for/while ... else: the else block runs when the loop ends without break ---------------

def for_else_breaks(x):
    s = 0.0
    for i in range(5):
        if x[i] > 1.0:          # breaks at i = 2 for X
            break
        s += x[i] * (i + 1)
    else:
        s = s * 2.0
    return s * x[0]


def for_else_no_break(x):
    s = 0.0
    for i in range(5):
        if x[i] > 5.0:
            break
        s += np.sin(x[i]) * (i + 1)
    else:
        s = s * x[1]
    return s


def for_else_without_break_statement(x):
    s = x[0]
    for i in range(1, 4):
        s = s * x[i]
    else:
        s = s + x[4] ** 2
    return s


def while_else(x):
    s = 0.0
    k = 0
    while k < 5:
        s += x[k] ** 2
        if s > 100.0:
            break
        k += 1
    else:
        s = np.sqrt(s)
    return s


def nested_else_breaks_outer(x):
    total = 0.0
    for i in range(3):
        for j in range(3):
            if x[j] > 2.0 + i:
                break           # the inner loop only: its else does not run
            total += x[i] * x[j]
        else:
            total += x[4]
            if total > 1e3:
                break           # the outer loop
    else:
        total = total * 3.0
    return total


def return_inside_for_else(x):
    for i in range(5):
        if x[i] > 1.0:
            return x[i] ** 3
    else:
        return np.sum(x ** 2)
    return 0.0


def _search(v, limit):
    acc = 0.0
    for k in range(v.size):
        if v[k] > limit:
            break
        acc += v[k] ** 2
    else:
        acc = -acc
    return acc


def helper_with_for_else(x):
    return _search(x, 1.0) + _search(x, 10.0) * x[1]


@pytest.mark.parametrize("f", [for_else_breaks, for_else_no_break,
                               for_else_without_break_statement, while_else,
                               nested_else_breaks_outer, return_inside_for_else,
                               helper_with_for_else])
def test_loop_else(f):
    assert f(X.copy()) == pytest.approx(f(X.copy()))
    check_all_modes(f, X.copy())


def test_loop_else_is_a_flag_in_the_generated_code():
    text = srcad.show(for_else_breaks)
    assert "_no_break = True" in text and "_no_break = False" in text


# -- 6. np.maximum.accumulate, np.minimum.accumulate: the derivative of each running value goes
# to the element it is (the first of equal ones) -------------------------------------------------

def running_max_1d(x):
    return np.sum(np.maximum.accumulate(np.sin(3.0 * x)) * x)


def running_min_1d(x):
    return np.sum(np.minimum.accumulate(x ** 2 - x) ** 2)


def running_max_2d_axis0(x):
    m = np.reshape(np.concatenate([x, x[::-1] * 1.3]), (2, 5))
    return np.sum(np.maximum.accumulate(np.tanh(m)) ** 2 * m)


def running_min_2d_axis1(x):
    m = np.reshape(np.concatenate([x, np.cos(x)]), (2, 5))
    return np.sum(np.exp(np.minimum.accumulate(m, axis=1)))


@pytest.mark.parametrize("f", [running_max_1d, running_min_1d, running_max_2d_axis0,
                               running_min_2d_axis1])
def test_running_extremes(f):
    check_all_modes(f, X.copy())


def test_running_max_of_ties_goes_to_the_first():
    def f(x):
        return np.sum(np.maximum.accumulate(x) * np.arange(1.0, 6.0))
    x = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    # y = [x0, x1, x1, x1, x1]: the tied x2 and x4 do not move the running max
    np.testing.assert_array_equal(srcad.grad(f)(x), [1.0, 14.0, 0.0, 0.0, 0.0])
    _, tangent = srcad.jvp(f, (x,), (np.array([1.0, 10.0, 100.0, 1000.0, 10000.0]),))
    assert tangent == 1.0 + 10.0 * 14.0
    # the running min is x0 throughout
    np.testing.assert_array_equal(srcad.grad(running_min_sum)(x), [5.0, 0.0, 0.0, 0.0, 0.0])
    x = np.array([2.0, 1.0, 1.0, 3.0, 0.5])
    np.testing.assert_array_equal(srcad.grad(running_min_sum)(x), [1.0, 3.0, 0.0, 0.0, 1.0])


def running_min_sum(x):
    return np.sum(np.minimum.accumulate(x))
