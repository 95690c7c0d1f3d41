"""Writes through views and aliases (srcad/views.py): a name that is a view of another array,
written in place, and the other array read afterwards (or the base written and the view read)
is differentiated exactly, checked against central finite differences (float64) in reverse
mode, forward mode and through hvp, the value and the caller's arguments unchanged; where the
relation is not known when the derivative is built, the write stays refused, located."""
import textwrap

import numpy as np
import pytest

import srcad
from helpers import make_function

EPS = 1e-6


def _fd_grad(f, x, eps=EPS):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def _fd_hvp(f, x, v, eps=1e-4):
    return (_fd_grad(f, x + eps * v, 1e-5) - _fd_grad(f, x - eps * v, 1e-5)) / (2 * eps)


def _program(body):
    return make_function("def f(x):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
                         + "\n")


CASES = {
    # a slice of a copy, written in place; the base read
    "slice_imul": ((6,), """
        y = x.copy()
        v = y[1:4]
        v *= x[0]
        return np.sum(y ** 3)"""),
    # broadcasting a scalar and a row into views
    "slice_broadcast_assign": ((5,), """
        y = np.zeros(5)
        v = y[1:]
        v[:] = x[0] * 2.0
        v += x[1:]
        return np.sum(y ** 2 * x)"""),
    # rows of a matrix in a loop (the loop variable over B's rows)
    "rows_loop": ((3, 2), """
        B = x.copy()
        for row in B:
            row[:] = row * row[0]
            row += x[0]
        return np.sum(np.sin(B) * x)"""),
    # rows by index in a loop, filled from the argument
    "rows_index_loop": ((4,), """
        out = np.zeros((3, 4))
        for i in range(3):
            row = out[i]
            row[:] = x * (i + 1.0)
            row[0] = row[1] * x[2]
        return np.sum(out ** 2)"""),
    # a column, written with broadcasting
    "column_iadd": ((3, 3), """
        B = x.copy()
        col = B[:, 1]
        col += x[0] * x[:, 2]
        return np.sum(B ** 2)"""),
    # a transpose, written through
    "transpose_write": ((2, 3), """
        A = x.copy()
        At = A.T
        At[0] = At[1] * At[2]
        return np.sum(A ** 2 * x)"""),
    # the base written, the view read afterwards
    "write_base_read_view": ((2, 3), """
        B = x.copy()
        v = B[1, :]
        B[1, 0] = x[0, 1] ** 2
        B *= 2.0
        return np.sum(v ** 3)"""),
    # a view of a view, written; the base and the first view read
    "nested_views": ((3, 3), """
        B = x.copy()
        v = B[1:]
        w = v[:, 0]
        w *= x[0, 0]
        return np.sum(B ** 2) + np.sum(v * x[1:])"""),
    # another name, written with +=, the first read
    "alias_iadd": ((4,), """
        y = x.copy()
        z = y
        z += np.sin(x)
        return np.sum(y * x)"""),
    # a reshape of a new buffer, written
    "reshape_buffer": ((6,), """
        buf = np.zeros(6)
        M = buf.reshape(2, 3)
        M[1] = x[:3] * x[3:]
        return np.sum(buf ** 2) + buf[4]"""),
    # the parts np.split returns, written
    "split_parts": ((4,), """
        c = x.copy()
        p, q = np.split(c, 2)
        p[0] = q[1] * 2.0
        q *= p[1]
        return np.sum(c ** 2)"""),
    # a swapaxes view, two writes, the second through the first's result
    "swapaxes_twice": ((2, 3), """
        B = x.copy()
        S = np.swapaxes(B, 0, 1)
        S[0] += S[2]
        S[1] = S[0] * x[1, 1]
        return np.sum(B ** 3)"""),
    # another name for a view, written; the base and the view read
    "alias_of_view": ((5,), """
        c = x.copy()
        v = c[1:]
        w = v
        w *= x[0]
        return np.sum(c ** 2) + np.sum(v * x[1:])"""),
    # two overlapping views, each written, both read
    "overlapping_views": ((6,), """
        c = x.copy()
        a = c[0:3]
        b = c[2:5]
        a[2] = b[1] * 3.0
        b[0] += 1.0
        return np.sum(a * b) + np.sum(c ** 2)"""),
    # a strided view, then the base written and both read
    "strided_then_base": ((6,), """
        c = x.copy()
        v = c[::2]
        v[:] = x[3:] ** 2
        c[2] = 5.0 * x[0]
        return np.sum(v * x[:3]) + np.sum(c ** 2)"""),
    # a column block scaled with broadcasting
    "column_block_broadcast": ((3, 2), """
        B = x.copy()
        col = B[:, 0:1]
        col *= x[:, 1:] ** 2
        return np.sum(B ** 2)"""),
    # a transpose of a slice (a view of a view), written
    "transpose_of_slice": ((3, 3), """
        A = x.copy()
        S = A[1:, :]
        T = S.T
        T[0] = T[1] * x[0, 0]
        return np.sum(A ** 2) + np.sum(S)"""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_exact_against_finite_differences(name):
    shape, body = CASES[name]
    f = _program(body)
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(shape)
    keep = x.copy()
    expected = _fd_grad(f, x)
    value, g = srcad.value_and_grad(f)(x)
    assert value == f(x.copy())                      # the primal, exactly
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(srcad.grad(f, optimized=False)(x), expected, rtol=1e-6,
                               atol=1e-7)
    v = rng.standard_normal(shape)
    value, t = srcad.jvp(f, (x,), (v,))
    assert value == f(x.copy())
    np.testing.assert_allclose(t, np.sum(expected * v), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(srcad.hvp(f)(x, v), _fd_hvp(f, x, v), rtol=1e-4, atol=1e-5)
    assert np.array_equal(x, keep)                   # the caller's array never written


def test_generated_code_is_value_semantics():
    f = _program(CASES["rows_loop"][1])
    text = srcad.show(f, np.ones((3, 2)))
    assert "row = np.copy(B[_k])" in text and "B[_k] = row" in text


@pytest.mark.parametrize("body", ["""
        B = x.copy()
        for row in B:
            row *= row[0]
        return np.sum(np.sin(B) * x)""", """
        B = x.copy()
        v = B[1]
        B[1, 0] = x[0, 1] ** 2
        return np.sum(v ** 3)"""], ids=["rows_imul", "row_read_after_base_write"])
def test_int_indexed_rows_hvp_refused_where_the_rank_is_unknown(body):
    """``row *= s`` over the rows of a copy, ``v = B[1]`` read after a write into ``B``: exact
    in grad and jvp (the build knows B's rank); hvp differentiates the generic gradient,
    where ``B[k]`` may be a number (which ``*=`` rebinds, which a write into ``B`` leaves
    alone): refused there, located."""
    f = _program(body)
    x = np.random.default_rng(3).standard_normal((3, 2))
    expected = _fd_grad(f, x)
    np.testing.assert_allclose(srcad.grad(f)(x), expected, rtol=1e-6, atol=1e-7)
    _, t = srcad.jvp(f, (x,), (np.ones_like(x),))
    np.testing.assert_allclose(t, np.sum(expected), rtol=1e-6, atol=1e-7)
    with pytest.raises(srcad.SrcadError, match="shares memory with") as caught:
        srcad.hvp(f)(x, np.ones_like(x))
    assert caught.value.location.filename == f.__code__.co_filename


REFUSED = {
    # the function writes into its argument through a view: today's behaviour, refused
    "argument_row": """
        head = x[0:2]
        head *= 2.0
        return np.sum(x)""",
    # a list holds the array
    "list_holds": """
        h = x.copy()
        hs = [h, x]
        h *= 2.0
        return np.sum(hs[0] * hs[1])""",
    # which array the alias names is decided at run time
    "conditional_alias": """
        a = x.copy()
        b = x * 2.0
        t = a if x[0] > 0.0 else b
        t[0] = 9.0 * x[1]
        return np.sum(a ** 2) + np.sum(b)""",
    # the write happens in a branch
    "write_in_branch": """
        y = x.copy()
        v = y[1:]
        if x[0] > 0.0:
            v[0] = 3.0 * x[1]
        return np.sum(y ** 2)""",
    # the row index is rebound in the loop (not a range's variable)
    "while_rows": """
        B = np.stack([x, x * 2.0])
        k = 0
        while k < 2:
            row = B[k, :]
            row[1] = row[0] * row[1]
            k += 1
        return np.sum(B)""",
    # a 0-d array and another name for it (srcad's adjoint of y[...] = v needs an axis)
    "zero_d_alias": """
        y = np.copy(x[0])
        z = y
        z += np.sin(x[1])
        return y * x[2]""",
    # a view made by a call srcad does not invert (np.diagonal)
    "diagonal_view": """
        B = np.outer(x, x)
        d = np.diagonal(B)
        B[0, 0] = 5.0
        return np.sum(d * x)""",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_still_refused_located(name):
    f = _program(REFUSED[name])
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(srcad.SrcadError, match="shares memory with") as caught:
        srcad.grad(f)(x)
    assert caught.value.location.filename == f.__code__.co_filename
    assert caught.value.location.lineno is not None


def test_a_program_the_sharing_analysis_accepts_keeps_its_code():
    f = _program("""
        y = x * 2.0
        v = y[1:]
        v[0] = 5.0
        return np.sum(v ** 2)""")
    x = np.array([0.5, -1.0, 2.0])
    assert "np.copy" not in srcad.show(f, x)
    np.testing.assert_allclose(srcad.grad(f)(x), _fd_grad(f, x), rtol=1e-6, atol=1e-7)


def test_the_generic_build_checks_the_rank_it_took_when_it_runs():
    """Built without shapes, ``row = B[1]`` written by index is taken as a view (an element
    could not be written so in Python either) and ``B`` as an array with axes: checked."""
    f = _program("""
        B = x.copy()
        row = B[1]
        row[0] = 4.0 * row[1]
        return np.sum(B ** 2)""")
    text = srcad.show(f)
    assert "_srcad.check_view(B, 2)" in text
    from srcad import runtime
    runtime.check_view(np.ones((2, 2)), 2)
    with pytest.raises(ValueError, match="make the view its own array first"):
        runtime.check_view(np.ones(2), 2)
