"""Adversarial review of session 11's mechanisms (views, lifting, messages, list/tuple
arguments, output checks, linalg result fields): each program against plain Python (the
value, bit for bit) and central finite differences in float64 (grad, jvp, hvp), or refused,
located, where srcad cannot follow it.

Regressions (each failed on dev before its fix):
- a result that may be its argument itself (``np.ascontiguousarray(B)`` of a C-contiguous
  ``B``, ``np.asanyarray``, ``np.real_if_close``, ``np.trim_zeros``, ``np.array(B,
  copy=False)``, ``np.nan_to_num(B, copy=False)``, ``B.conj()`` of a real ``B``) written into
  while ``B`` is read: taken as a copy (wrong gradient; ``B.conj()`` a wrong value);
- ``out=`` arrays of functions whose rule takes any arguments (``np.fix``, ``np.round``,
  ``np.floor(x, y)`` positionally): the write into ``out`` ignored (wrong gradient);
- a message string converted to a number (``float('%s' % x[0])``): an internal TypeError;
- a tuple of floats (the generic variant): its adjoint contributions added with ``+``, which
  concatenates (a zero or truncated gradient under ``isinstance(x, tuple)``, two uses, loops).
"""
import textwrap

import numpy as np
import pytest

import srcad
from helpers import central_difference, make_function

EPS = 1e-6


def _fd_grad(f, x, eps=EPS):
    return central_difference(lambda z: f(z.copy()), (x,), 0, eps)


def _program(body, namespace=None):
    return make_function("def f(x):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ")
                         + "\n", namespace)


def _check(f, shape, second=True):
    rng = np.random.default_rng(11)
    x = rng.uniform(0.5, 1.5, shape)
    t = rng.standard_normal(shape)
    x0 = x.copy()
    expected = f(x.copy())
    fd = _fd_grad(lambda z: f(z.copy()), x)
    value, g = srcad.value_and_grad(f)(x)
    assert np.array_equal(value, expected)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)
    _, tangent = srcad.jvp(f, (x,), (t,))
    np.testing.assert_allclose(tangent, np.sum(fd * t), rtol=1e-5, atol=1e-5)
    if second:
        h = 1e-4
        fd_h = (_fd_grad(lambda z: f(z.copy()), x + h * t, 1e-5)
                - _fd_grad(lambda z: f(z.copy()), x - h * t, 1e-5)) / (2 * h)
        np.testing.assert_allclose(srcad.hvp(f)(x, t), fd_h, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(x, x0)


def _refused(f, shape, what):
    x = np.random.default_rng(3).uniform(0.5, 1.5, shape)
    for derivative in (lambda z: srcad.grad(f)(z),
                       lambda z: srcad.jvp(f, (z,), (np.ones_like(z),))):
        with pytest.raises(srcad.SrcadError) as caught:
            derivative(x)
        message = str(caught.value)
        assert what in message and "<srcad-test-" in message


# ---------------------------------------------------------------- views: exact rewrites

EXACT = {
    "view_of_view": ((6,), """
        B = x.copy()
        v = B[1:]
        w = v[1:3]
        w *= x[0]
        return np.sum(B ** 2)"""),
    "negative_step": ((6,), """
        B = x.copy()
        v = B[::-2]
        v *= 3.0
        v[0] = x[1] ** 2
        return np.sum(B ** 3)"""),
    "index_rebound_after_view": ((5,), """
        B = x.copy()
        k = 1
        v = B[k:]
        k = 3
        v[0] = x[2] * 5.0
        return np.sum(B ** 2 * x)"""),
    "base_rebound": ((5,), """
        B = x.copy()
        v = B[1:]
        B = B * 2
        v[0] = 1.0
        return np.sum(B ** 2) + np.sum(v * x[1:])"""),
    "augmented_base": ((5,), """
        B = x.copy()
        v = B[1:]
        B *= x
        v += 1.0
        return np.sum(B ** 2) + np.sum(v)"""),
    "split_parts": ((6,), """
        B = x.copy()
        a, b = np.split(B, 2)
        a *= x[0]
        b[0] = 3.0 * x[1]
        return np.sum(B ** 2)"""),
    "fancy_index_is_a_copy": ((5,), """
        B = x.copy()
        v = B[[0, 1]]
        v[0] = 10.0 * x[2]
        return np.sum(B ** 2) + np.sum(v)"""),
    "mask_is_a_copy": ((5,), """
        B = x.copy()
        v = B[B > 1.0]
        v *= 10.0
        return np.sum(B ** 2) + np.sum(v)"""),
    "np_array_is_a_copy": ((5,), """
        B = x.copy()
        v = np.array(B)
        v[0] = 3.0 * x[1]
        return np.sum(B ** 2) + np.sum(v)"""),
    "dict_value_alias": ((5,), """
        B = x.copy()
        d = {'a': B[1:]}
        v = d['a']
        v *= 2.0
        return np.sum(B ** 2)"""),
    "overlapping_views": ((6,), """
        B = x.copy()
        v = B[:4]
        w = B[2:]
        v += w
        return np.sum(B ** 2) + np.sum(w)"""),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_view_writes_exact(name):
    shape, body = EXACT[name]
    _check(_program(body), shape)


# ---------------------------------------------------------------- views: results that may be
# the argument itself (regressions: taken as copies)

MAY_BE_ARGUMENT = ["np.ascontiguousarray(B)", "np.asfortranarray(B)", "np.asanyarray(B)",
                   "np.asarray_chkfinite(B)", "np.real_if_close(B)", "np.trim_zeros(B)",
                   "np.array(B, copy=False)", "np.nan_to_num(B, copy=False)", "B.conj()",
                   "B.conjugate()"]


@pytest.mark.parametrize("expr", MAY_BE_ARGUMENT)
def test_result_that_may_be_the_argument_written(expr):
    f = _program(f"""
        B = x.copy()
        r = {expr}
        r[0] = 3.0 * x[1]
        return np.sum(B ** 2 * x) + np.sum(r)""")
    _refused(f, (5,), "shares memory with 'B'")


def test_rollaxis_written():
    """Regression: np.rollaxis (a view) was taken as a copy."""
    f = make_function("""
def f(x):
    B = x.copy()
    r = np.rollaxis(B, 1)
    r[0, 0] = 3.0 * x[1, 1]
    return np.sum(B ** 2 * x) + np.sum(r)
""")
    _refused(f, (2, 3), "shares memory with 'B'")


def test_imaginary_part_written():
    """Regression: np.imag of a complex array (a view of its imaginary parts) was taken as a
    copy (the write did not reach B's gradient)."""
    f = make_function("""
def f(z, w):
    B = z * 1.0
    r = np.imag(B)
    r[0] = 3.0
    return np.sum(np.abs(B * w) ** 2)
""")
    with pytest.raises(srcad.SrcadError, match="shares memory with 'B'"):
        srcad.grad(f)(np.array([1 + 2j, 3 - 1j]), np.array([0.5, 2.0]))


@pytest.mark.parametrize("expr", ["np.ascontiguousarray(B)", "B.conj()"])
def test_result_that_may_be_the_argument_read(expr):
    """Only read, never written: exact as before."""
    f = _program(f"""
        B = x * x
        r = {expr}
        return np.sum(r * x)""")
    _check(f, (4,))


# ---------------------------------------------------------------- out= (regressions)

OUT = ["np.fix(x * 2.0, out=B)", "np.around(x, 1, out=B)", "np.floor(x * 2.0, B)",
       "np.round(x, 1, B)", "np.sign(x - 1.0, B)", "np.greater(x, 1.0, B)", "x.round(1, B)",
       "np.trunc(x * 2.0, out=(B,))", "np.exp(x, out=B)"]


@pytest.mark.parametrize("expr", OUT)
def test_out_array_refused(expr):
    f = _program(f"""
        B = x.copy()
        r = {expr}
        return np.sum(B ** 2 * x) + np.sum(r)""")
    _refused(f, (5,), "writes into its out= array")


def test_out_none_accepted():
    _check(_program("""
        r = np.round(x * 2.0, 1, out=None)
        return np.sum(r * x ** 2)"""), (4,), second=False)


# ---------------------------------------------------------------- messages

def test_message_string_converted_to_a_number_refused():
    f = _program("""
        s = '%s' % x[0]
        c = float(s)
        return np.sum(x ** 2) * c""")
    _refused(f, (3,), "the string 's' (built at line 2) is read as a number")
    g = _program("""
        s = '%s' % x[0]
        return np.sum(x ** 2) * np.float64(s)""")
    _refused(g, (3,), "is read as a number")
    h = make_function("""
def f(x):
    s = '%s' % x[0]
    return np.sum(x ** 2) * float64(s)
""", {"float64": np.float64})
    _refused(h, (3,), "is read as a number")


def test_message_strings_kept():
    f = _program("""
        s = 'value %d' % 3
        print(s)
        s = 2.0
        k = 'w' + str(1)
        p = {k: x * s}
        t = '%s' % 2.5
        return np.sum(p['w1'] ** 2) * np.float64(t) * len(k)""")
    _check(f, (3,))


# ---------------------------------------------------------------- local functions

LOCAL = {
    "late_binding": """
        W = x * 2.0
        g = lambda v: np.sum(W * v ** 2)
        W = x * 3.0
        return np.sum(srcad.grad(g)(x) * x)""",
    "late_binding_in_a_loop": """
        s = 0.0
        W = x
        g = lambda v: np.sum(np.sin(W * v))
        for i in range(3):
            W = W * x[i]
            s = s + np.sum(srcad.grad(g)(x))
        return s""",
    "parameter_shadows_a_local": """
        v = x * 5.0
        g = lambda v: np.sum(v ** 3)
        return np.sum(srcad.grad(g)(x * 2.0) * v)""",
    "closure_written_after_definition": """
        W = x.copy()
        g = lambda v: np.sum(W * v ** 2)
        W[0] = 7.0 * x[1]
        return np.sum(srcad.grad(g)(x) * x)""",
    "grad_of_grad": """
        W = x * 2.0
        def g(v):
            return np.sum(W * v ** 3)
        def h(v):
            return np.sum(srcad.grad(g)(v) * v)
        return np.sum(srcad.grad(h)(x) * x)""",
    "rebound_constant_between_calls": """
        c = 2.0
        def g(v):
            return np.sum(np.exp(c * v))
        c = 3.0
        a = srcad.grad(g)(x)
        c = 4.0
        b = srcad.grad(g)(x)
        return np.sum(a * x) + np.sum(b)""",
    "hvp_of_a_lambda": """
        W = x * 2.0
        g = lambda v: np.sum(W * v ** 3)
        return np.sum(srcad.hvp(g)(x, x) * x)""",
}


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_local_function_derivatives(name):
    _check(_program(LOCAL[name], {"srcad": srcad}), (3,), second=name != "grad_of_grad")


def test_shadowed_global_function():
    f = make_function("""
def g(v):
    return np.sum(v)
def f(x):
    W = x * 2.0
    def g(v):
        return np.sum(W * v ** 3)
    return np.sum(srcad.grad(g)(x))
""", {"srcad": srcad}, name="f")
    _check(f, (3,))


# ---------------------------------------------------------------- list and tuple arguments
# (regression: a tuple's adjoint contributions concatenated)

TUPLE_PROGRAMS = {
    "isinstance_tuple": ("""
def f(x):
    if isinstance(x, list):
        return np.sum(np.asarray(x) ** 2)
    if isinstance(x, tuple):
        return np.sum(np.asarray(x) ** 3)
    return np.sum(x ** 4)
""", {list: lambda x: 2 * x, tuple: lambda x: 3 * x ** 2, np.ndarray: lambda x: 4 * x ** 3}),
    "two_uses": ("""
def f(x):
    return np.sum(np.asarray(x) ** 2) + np.sum(np.array(x) * 3.0)
""", {t: (lambda x: 2 * x + 3.0) for t in (list, tuple, np.ndarray)}),
    "loop": ("""
def f(x):
    t = 0.0
    for i in range(2):
        t = t + np.sum(np.asarray(x) ** 2)
    return t
""", {t: (lambda x: 4 * x) for t in (list, tuple, np.ndarray)}),
}


@pytest.mark.parametrize("name", sorted(TUPLE_PROGRAMS))
def test_list_tuple_array_in_turn(name):
    source, expected = TUPLE_PROGRAMS[name]
    f = make_function(source)
    g, vg = srcad.grad(f), srcad.value_and_grad(f)
    base = np.array([1.0, 2.0])
    for make in (list, tuple, np.asarray, list, tuple, np.asarray):
        arg = make(base.tolist())
        kind = type(arg)
        got = g(arg)
        assert type(got) is kind
        np.testing.assert_allclose(np.asarray(got), expected[kind](base))
        value, got = vg(arg)
        assert value == f(arg) and type(got) is kind
        np.testing.assert_allclose(np.asarray(got), expected[kind](base))


def test_tuple_argument_hvp():
    f = make_function(TUPLE_PROGRAMS["isinstance_tuple"][0])
    h = srcad.hvp(f)
    np.testing.assert_allclose(h((1.0, 2.0), (1.0, 0.0)), (6.0, 0.0))
    np.testing.assert_allclose(h([1.0, 2.0], [1.0, 0.0]), [2.0, 0.0])
    np.testing.assert_allclose(h(np.array([1.0, 2.0]), np.array([1.0, 0.0])), [12.0, 0.0])


# ---------------------------------------------------------------- output checks

@pytest.mark.parametrize("args, wrt", [
    ((np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0])), 0),
    ((np.array([1.0, 2.0], np.float32), np.array([1.0, 2.0])), 1),
    ((np.array(2.0), np.array([1.0, 2.0])), 0),
    ((np.float32(2.0), np.array([1.0, 2.0])), 0),
    ((np.array([1.0]), np.array([1.0, 2.0])), 0),
    ((np.array([1.0, 2.0]), np.array([3.0, 4.0])), 0),       # the gradient is y's values
])
def test_gradient_type_shape_dtype_and_memory(args, wrt):
    f = make_function("def f(x, y):\n    return np.sum(np.asarray(y) * x)\n")
    for _ in range(2):      # the first call's build, then the fast path
        g = srcad.grad(f, wrt=wrt)(*args)
        a = args[wrt]
        assert type(g) is type(a) and np.shape(g) == np.shape(a) and g.dtype == a.dtype
        if isinstance(g, np.ndarray):
            assert g.flags.writeable and not any(np.shares_memory(g, b) for b in args)


# ---------------------------------------------------------------- linalg fields, clip

FIELDS = {
    "clip_lower_only": "return np.sum(x.clip(0.8) ** 2)",
    "clip_upper_keyword": "return np.sum(x.clip(max=1.2) ** 2)",
    "namedtuple_S_R": """
        r = NT(x * 2.0, 3.0)
        return np.sum(r.S ** 2) * r.R""",
    "slogdet_fields": """
        A = np.outer(x, x) + np.eye(3)
        s = np.linalg.slogdet(A)
        return s.sign * s.logabsdet""",
    "qr_R": """
        A = np.outer(x, x) + np.diag(x)
        return np.sum(np.linalg.qr(A).R ** 2)""",
}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_fields(name):
    import collections
    namespace = {"NT": collections.namedtuple("NT", ["S", "R"])}
    _check(_program(FIELDS[name], namespace), (3,), second=False)


@pytest.mark.parametrize("call, attr", [
    ("np.linalg.svd(A, compute_uv=False)", "S"), ("np.linalg.svd(A, True, False)", "S"),
    ("np.linalg.qr(A, mode='r')", "R"), ("np.linalg.qr(A, 'r')", "R")])
def test_field_of_a_result_that_is_no_named_tuple(call, attr):
    """Regression: ``svd(a, compute_uv=False)`` is an array (``r.S`` raises AttributeError in
    Python), and so is ``qr(a, mode='r')``: the field was read as an item (``r[1]``)."""
    f = _program(f"""
        A = np.outer(x, x) + np.diag(x)
        r = {call}
        return np.sum(r.{attr})""")
    with pytest.raises(AttributeError):
        f(np.ones(3))
    _refused(f, (3,), f"the attribute `.{attr}`")


def test_resize_result_written():
    """Regression: np.resize's result (always a new array) was taken as perhaps its argument's
    memory by the optimizer, so a write into its tangent was an internal error."""
    _check(_program("""
        B = x.copy()
        r = np.resize(B, B.shape)
        r[0, 0] = 3.0 * x[1, 1]
        return np.sum(B ** 2 * x) + np.sum(r)"""), (2, 3))


@pytest.mark.parametrize("make", ["L = [W, W]", "L = [W, np.ones(3)]\n    L.append(W)",
                                  "L = []\n    L.append(W)\n    L.append(W)"])
def test_list_holding_an_array_twice_written_by_item(make):
    """Regression: ``L[0] += 1`` writes into W, which ``L[-1]`` is too; srcad rebound only
    L[0] (a wrong value and gradient)."""
    f = make_function(f"""
def f(x):
    W = x.copy()
    {make}
    L[0] += 1.0
    return np.sum(L[-1] ** 2 * x)
""")
    _refused(f, (3,), "the same array as another of its items")


def test_list_holding_a_number_twice_written_by_item():
    """A number in a list is rebound by ``L[0] += 1`` (not written): exact."""
    f = _program("""
        c = x[0] * 1.0
        L = [c, c]
        L[0] += 1.0
        return L[1] * np.sum(x) + L[0]""")
    _check(f, (3,))


CHANGING_MESSAGES = {
    "pop_in_an_fstring": ("""
        L = [x[0] * 1.0, x[1] * 2.0, x[2] * 3.0]
        s = f"{L.pop()}"
        print(s)""", "L.pop"),
    "append_in_str": ("""
        L = [x[0] * 1.0]
        s = str(L.append(x[1] * 5.0))
        print(s)""", "L.append"),
    "sort_in_str": ("""
        L = [x[0] * 1.0, x[1] * 2.0, x[2] * 3.0]
        B = x * 1.0
        s = str(B.sort())
        print(s)""", "B.sort"),
    "copyto_in_a_format": ("""
        L = [x[0] * 1.0, x[1] * 2.0, x[2] * 3.0]
        s = "%s" % np.copyto(L[0], x ** 2)
        print(s)""", "np.copyto"),
    "pop_in_an_assert": ("""
        L = [x[0] * 1.0, x[1] * 2.0]
        assert L.pop() > -1e9, "negative\"""", "L.pop"),
    "pop_in_a_print": ("""
        L = [x[0] * 1.0, x[1] * 2.0]
        print(L.pop())""", "L.pop"),
}


@pytest.mark.parametrize("name", sorted(CHANGING_MESSAGES))
def test_message_changing_a_value_refused(name, capsys):
    """Regression: a message (print, assert, a string only messages read) is kept as written
    and run in the primal only; a change it made (L.pop(), B.sort()) was not followed: wrong
    gradients, or an IndexError inside the derivative."""
    body, call = CHANGING_MESSAGES[name]
    f = _program(body + """
        t = 0.0
        for v in L:
            t = t + v ** 2
        return t""")
    _refused(f, (3,), f"`{call}(...)` in a message, print, assert or raise changes a value")
