"""Black-box regression tests for srcad issue 11 ("No silent wrong answers").

Written from the issue text and the public documentation only (README.md, docs/*.md,
tests/helpers.py); srcad's implementation was not read.  Every derivative is compared with
central finite differences in float64 computed here, in reverse mode and in forward mode,
with ``optimized=True`` and ``optimized=False``.  Arguments, tangents and seeds are passed
read-only (``flags.writeable = False``) and are compared with copies afterwards.

Conventions
-----------
* complex (case 7): JAX's convention.  For a real-valued f of complex z the gradient is
  ``df/dx - 1j * df/dy``; in general a VJP with cotangent ``s`` is the JAX-gradient of
  ``Re(sum(s * f(z)))`` and a JVP with tangent ``t`` is ``(f(z + h t) - f(z - h t)) / 2h``.
* ``np.std`` of a single element (case 8): the issue lets srcad choose NaN (JAX) or 0
  (autograd).  These tests accept either, but require the same answer from reverse and
  forward mode, optimized and not.
* "refused" means an exception that is a subclass of ``srcad.SrcadError`` (or ``TypeError``
  where the issue says TypeError).  It is accepted only where the issue allows refusing.
"""
from __future__ import annotations

import functools
import math
import operator
import sys
import warnings

import numpy as np
import pytest

from helpers import make_function

import srcad

H = 1e-6          # finite-difference step
RTOL = 1e-6
ATOL = 1e-7
REFUSAL = (srcad.SrcadError,)
ComplexWarning = np.exceptions.ComplexWarning
BOTH = (True, False)     # optimized=True and optimized=False


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------

def namespace(**extra):
    ns = {"np": np, "math": math, "srcad": srcad, "operator": operator,
          "functools": functools}
    ns.update(extra)
    return ns


def mk(source, **extra):
    return make_function(source, namespace(**extra))


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, list):
        return [_copy(v) for v in a]
    if isinstance(a, tuple):
        return tuple(_copy(v) for v in a)
    return a


def _readonly(a):
    if isinstance(a, np.ndarray):
        b = a.copy()
        b.flags.writeable = False
        return b
    if isinstance(a, list):
        return [_readonly(v) for v in a]
    if isinstance(a, tuple):
        return tuple(_readonly(v) for v in a)
    return a


def _same(a, b):
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, (float, complex, np.number)):
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    return a is b or a == b


def assert_unchanged(originals, passed, what):
    for k, (o, p) in enumerate(zip(originals, passed)):
        assert _same(o, p), f"srcad modified the caller's {what} #{k}: {o!r} -> {p!r}"


def _is_complex(a):
    if isinstance(a, list):
        return any(_is_complex(v) for v in a)
    return np.iscomplexobj(a)


def _perturb(a, t, s):
    """a + s * t, keeping a's container type (list, 0-d array, float)."""
    if isinstance(a, list):
        return [_perturb(x, y, s) for x, y in zip(a, t)]
    if isinstance(a, np.ndarray):
        return np.array(a + s * np.asarray(t))
    return a + s * t


def _quiet_call(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return f(*[_copy(a) for a in args])


def fd_dir(f, args, wrt, tangents, h=H):
    up, down = list(args), list(args)
    for i, t in zip(wrt, tangents):
        up[i] = _perturb(args[i], t, h)
        down[i] = _perturb(args[i], t, -h)
    return (np.asarray(_quiet_call(f, up)) - np.asarray(_quiet_call(f, down))) / (2 * h)


def _basis(a):
    """Unit directions of argument a (same container), with their flat index."""
    shape = np.shape(a)
    n = int(np.prod(shape))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        if isinstance(a, list):
            yield k, [float(v) for v in e]
        elif isinstance(a, np.ndarray):
            yield k, e.reshape(shape)
        else:
            yield k, 1.0


def fd_grad(phi, args, i, h=H):
    """Gradient of real scalar phi in argument i, JAX convention for complex arguments."""
    a = args[i]
    shape = np.shape(a)
    cplx = _is_complex(a)
    g = np.zeros(int(np.prod(shape)), dtype=complex if cplx else float)
    for k, e in _basis(a):
        g[k] = float(np.real(fd_dir(phi, args, (i,), (e,), h)))
        if cplx:
            ie = [1j * v for v in e] if isinstance(e, list) else 1j * e
            g[k] -= 1j * float(np.real(fd_dir(phi, args, (i,), (ie,), h)))
    return g.reshape(shape)


def _rand_like(a, g):
    if isinstance(a, list):
        return [_rand_like(v, g) for v in a]
    cplx = _is_complex(a)
    shape = np.shape(a)
    v = g.standard_normal(shape)
    if cplx:
        v = v + 1j * g.standard_normal(shape)
    if isinstance(a, np.ndarray):
        return np.asarray(v, dtype=a.dtype if a.dtype.kind in "fc" else None)
    if isinstance(a, np.generic):
        return type(a)(v)
    return complex(v) if cplx else float(v)


def _as_tuple(x, n):
    if n == 1 and not (isinstance(x, tuple) and len(x) == 1):
        return (x,)
    return tuple(x)


def _close(actual, expected, what, rtol=RTOL, atol=ATOL):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}")
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def _srcad_call(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*a, **kw)


def check(f, args, wrt=0, *, may_refuse=False, refusal=REFUSAL, seed=0, tangents=None,
          out_seed=None, optimized=(True,), modes=("reverse", "forward"),
          expected_grad=None, expected_jvp=None, rtol=RTOL, atol=ATOL, wrappers=False):
    """Check srcad's derivatives of f at args against finite differences (or the given
    expected values) in reverse and forward mode, optimized and not, with read-only
    arguments, tangents and seeds.  ``wrappers=True`` also checks value_and_grad, an
    explicit scalar seed, srcad.vjp and srcad.jvp (only in a subset of the tests: every
    build costs time).  Returns {mode: 'ok' | 'refused'}."""
    args = list(args)
    ws = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    value = _quiet_call(f, args)
    out_complex = np.iscomplexobj(value)
    scalar_out = np.ndim(value) == 0 and not out_complex
    g = np.random.default_rng(seed)
    status = {}

    # ---------- reverse mode ----------
    if "reverse" in modes:
        if scalar_out and out_seed is None:
            seed_value = None
            phi = f
        else:
            seed_value = out_seed if out_seed is not None else _rand_like(
                value if isinstance(value, np.ndarray) else np.asarray(value), g)
            if isinstance(value, np.ndarray) and not isinstance(seed_value, np.ndarray):
                seed_value = np.asarray(seed_value)

            def phi(*a, _s=seed_value):
                return float(np.real(np.sum(np.asarray(_s) * np.asarray(f(*a)))))
        if expected_grad is not None:
            expected = _as_tuple(expected_grad, len(ws))
        else:
            expected = tuple(fd_grad(phi, args, i) for i in ws)
        st = "ok"
        for opt in optimized:
            ro_args = [_readonly(a) for a in args]
            ro_seed = _readonly(seed_value)
            try:
                if seed_value is None:
                    d = srcad.grad(f, wrt=wrt, optimized=opt)
                    got = _srcad_call(d, *ro_args)
                else:
                    d = srcad.autodiff(f, mode="reverse", wrt=wrt, optimized=opt)
                    got = _srcad_call(d, *ro_args, seed=ro_seed)
            except refusal:
                if not may_refuse:
                    raise
                st = "refused"
                continue
            got = _as_tuple(got, len(ws))
            assert len(got) == len(ws)
            for i, gi, ei in zip(ws, got, expected):
                assert np.shape(gi) == np.shape(args[i]), (
                    f"reverse (optimized={opt}) gradient of arg {i} has shape "
                    f"{np.shape(gi)}, argument has {np.shape(args[i])}")
                _close(gi, ei, f"reverse mode (optimized={opt}), argument {i}", rtol, atol)
            assert_unchanged(args, ro_args, "argument")
            if seed_value is not None:
                assert_unchanged([seed_value], [ro_seed], "seed")
            if opt:
                # the same derivative with writable arguments: still not written
                wr_args = [_copy(a) for a in args]
                if seed_value is None:
                    got1 = _srcad_call(d, *wr_args)
                else:
                    got1 = _srcad_call(d, *wr_args, seed=_copy(seed_value))
                assert_unchanged(args, wr_args, "argument (writable)")
                for gi, ei in zip(_as_tuple(got1, len(ws)), expected):
                    _close(gi, ei, "reverse mode, writable arguments", rtol, atol)
            if opt and seed_value is None and wrappers:
                # value_and_grad, an explicit seed, the vjp wrapper
                wr_args = [_copy(a) for a in args]
                v, got2 = _srcad_call(srcad.value_and_grad(f, wrt=wrt), *wr_args)
                assert_unchanged(args, wr_args, "argument (writable)")
                _close(v, value, "value_and_grad value", rtol, atol)
                for gi, ei in zip(_as_tuple(got2, len(ws)), expected):
                    _close(gi, ei, "value_and_grad gradient", rtol, atol)
                s = np.float64(2.5) if not isinstance(value, float) else 2.5
                got3 = _srcad_call(srcad.autodiff(f, mode="reverse", wrt=wrt),
                                   *[_readonly(a) for a in args], seed=s)
                for gi, ei in zip(_as_tuple(got3, len(ws)), expected):
                    _close(gi, 2.5 * np.asarray(ei), "reverse with seed=2.5", rtol, atol)
                v4, fn = _srcad_call(srcad.vjp, f, *[_readonly(a) for a in args], wrt=wrt)
                _close(v4, value, "vjp value", rtol, atol)
                for gi, ei in zip(_as_tuple(_srcad_call(fn, 1.0), len(ws)), expected):
                    _close(gi, ei, "vjp", rtol, atol)
        status["reverse"] = st

    # ---------- forward mode ----------
    if "forward" in modes:
        tans = list(tangents) if tangents is not None else [_rand_like(args[i], g) for i in ws]
        if expected_jvp is not None:
            expected = np.asarray(expected_jvp)
        else:
            expected = fd_dir(f, args, ws, tans)
        st = "ok"
        for opt in optimized:
            ro_args = [_readonly(a) for a in args]
            ro_tans = [_readonly(t) for t in tans]
            try:
                d = srcad.autodiff(f, mode="forward", wrt=wrt, optimized=opt)
                got = _srcad_call(d, *ro_args, *ro_tans)
            except refusal:
                if not may_refuse:
                    raise
                st = "refused"
                continue
            _close(got, expected, f"forward mode (optimized={opt})", rtol, atol)
            assert_unchanged(args, ro_args, "argument")
            assert_unchanged(tans, ro_tans, "tangent")
            if opt:
                wr_args = [_copy(a) for a in args]
                wr_tans = [_copy(t) for t in tans]
                got2 = _srcad_call(d, *wr_args, *wr_tans)
                assert_unchanged(args, wr_args, "argument (writable)")
                assert_unchanged(tans, wr_tans, "tangent (writable)")
                _close(got2, expected, "forward mode, writable arguments", rtol, atol)
            if opt and wrappers:
                v, got3 = _srcad_call(srcad.jvp, f, tuple(_readonly(a) for a in args),
                                      tuple(_readonly(t) for t in tans), wrt=ws)
                _close(v, value, "jvp value", rtol, atol)
                _close(got3, expected, "srcad.jvp", rtol, atol)
        status["forward"] = st
    return status


def build_refuses(f, mode, cls=srcad.SrcadError):
    """True if building the derivative raises cls; False if it builds."""
    try:
        srcad.autodiff(f, mode=mode)
    except cls:
        return True
    return False


# ----------------------------------------------------------------------------------------
# Case 1: a derivative wrote into the caller's array
# ----------------------------------------------------------------------------------------

CASE1 = {
    "orig": """
        def f(x):
            y = x ** 2.0
            x[0] = y[1] * y[2]
            return np.sum(x * y)
        """,
    "sin": """
        def f(x):
            y = np.sin(x)
            x[0] = y[1] * y[2]
            return np.sum(x * y)
        """,
    "slice_write": """
        def f(x):
            y = x ** 2.0
            x[1:] = y[:-1] * 2.0
            return np.sum(x * y)
        """,
    "augmented": """
        def f(x):
            y = x * 3.0
            x[0] += y[1] * y[2]
            return np.sum(x * y)
        """,
    "ellipsis": """
        def f(x):
            y = np.exp(x)
            x[...] = y * 0.5
            return np.sum(x * y)
        """,
    "fancy": """
        def f(x):
            y = x ** 3.0
            x[[0, 2]] = y[[1, 1]]
            return np.sum(x * y)
        """,
    "mean": """
        def f(x):
            y = x ** 2.0
            x[0] = y[1] * y[2]
            return np.mean(x * y)
        """,
    "intermediate": """
        def f(x):
            y = x ** 2.0
            z = y * 1.0
            z[0] = 0.0
            x[1] = z[2]
            return np.sum(z * y * x)
        """,
}


@pytest.mark.parametrize("shape", [(3,), (3, 2)])
@pytest.mark.parametrize("name", sorted(CASE1))
def test_case1_argument_written_by_primal(name, shape):
    f = mk(CASE1[name])
    x = np.linspace(0.3, 1.7, int(np.prod(shape))).reshape(shape)
    check(f, [x], optimized=BOTH if shape == (3,) else (True,), wrappers=name == "orig")


@pytest.mark.parametrize("shape", [(4,), (1, 3), (5, 1)])
def test_case1_original_other_shapes(shape):
    f = mk(CASE1["orig"])
    x = np.linspace(0.3, 1.7, int(np.prod(shape))).reshape(shape)
    if shape == (1, 3):
        f = mk("def f(x):\n    y = x ** 2.0\n    x[0, 0] = y[0, 1] * y[0, 2]\n"
               "    return np.sum(x * y)\n")
    check(f, [x], optimized=BOTH)


def test_case1_vector_output():
    f = mk("""
        def f(x):
            y = x ** 2.0
            x[0] = y[1] * y[2]
            return x * y
        """)
    check(f, [np.array([0.5, 1.2, -0.7, 2.0])], optimized=BOTH)


def test_case1_two_arguments():
    f = mk("""
        def f(x, w):
            y = x * w
            x[0] = y[1]
            w[1] = y[0] * 2.0
            return np.sum(x * w * y)
        """)
    args = [np.array([0.5, 1.2, -0.7]), np.array([1.5, -0.3, 0.8])]
    for wrt in (0, 1, (0, 1)):
        check(f, args, wrt=wrt, optimized=BOTH if wrt == (0, 1) else (True,))


# ----------------------------------------------------------------------------------------
# Case 2: Python list slices
# ----------------------------------------------------------------------------------------

CASE2 = {
    "slice_then_index": "def f(x):\n    y = x[1:3]\n    return y[0]\n",
    "open_slice_index": "def f(x):\n    return x[1:][0]\n",
    "product": "def f(x):\n    y = x[1:3]\n    return y[0] * y[1]\n",
    "step": "def f(x):\n    y = x[::2]\n    return y[0] * y[1] + y[-1]\n",
    "negative": "def f(x):\n    y = x[-2:]\n    return y[0] ** 2 + 3.0 * y[1]\n",
    "reversed": "def f(x):\n    y = x[::-1]\n    return y[0] * x[0] + y[1]\n",
    "concat": "def f(x):\n    y = x[:2] + x[3:]\n    return y[0] * y[2] + y[1]\n",
    "np_array": "def f(x):\n    return np.sum(np.array(x[1:4]) ** 2)\n",
    "loop": ("def f(x):\n    s = 0.0\n    for v in x[1:]:\n        s = s + v * v\n"
             "    return s\n"),
    "slice_of_slice": "def f(x):\n    y = x[1:4]\n    z = y[1:]\n    return z[0] * 2.0 + z[1]\n",
    "slice_object": "def f(x):\n    y = x[slice(1, 3)]\n    return y[0] * y[1]\n",
    "append_to_slice": ("def f(x):\n    y = x[1:]\n    y.append(x[0] * 2.0)\n"
                        "    return y[-1] * y[0]\n"),
}


@pytest.mark.parametrize("name", sorted(CASE2))
def test_case2_list_slices(name):
    f = mk(CASE2[name])
    x = [0.5, -1.25, 2.0, 0.75, 1.5]
    check(f, [x], optimized=BOTH, wrappers=name == "slice_then_index")


def test_case2_list_slice_original_is_not_all_zero():
    f = mk("def f(x):\n    y = x[1:3]\n    return y[0]\n")
    g = srcad.grad(f)([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(np.asarray(g, dtype=float), [0.0, 1.0, 0.0, 0.0])
    t = srcad.autodiff(f, mode="forward")([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(t, 1.0)


# ----------------------------------------------------------------------------------------
# Case 3: np.r_ and np.c_ (supported or refused, never zero)
# ----------------------------------------------------------------------------------------

C2 = np.array([1.0, -2.0])
C3 = np.array([0.5, -1.5, 2.5])
A32 = np.array([[1.0, 2.0], [-0.5, 0.25], [3.0, -1.0]])

CASE3 = {
    "r_x_c_x": ("def f(x):\n    return np.sum(np.sin(np.r_[x, C2, x]))\n", "x3"),
    "r_slices_scalar": ("def f(x):\n    return np.sum(np.sin(np.r_[x[1:], 2.0, x[:2]]) * 3.0)\n",
                        "x3"),
    "r_scalars_around": ("def f(x):\n    return np.sum(np.r_[0.0, x, 3.0] ** 2)\n", "x3"),
    "r_range_slice": ("def f(x):\n    return np.sum(np.r_[x, 0:3] * np.r_[x, 0:3])\n", "x3"),
    "r_expressions": ("def f(x):\n    return np.sum(np.r_[x * 2.0, np.sin(x)] ** 3)\n", "x3"),
    "r_of_floats": ("def f(x):\n    return np.sum(np.r_[x, 2.0, x] ** 2)\n", "float"),
    "r_2d_rows": ("def f(X):\n    return np.sum(np.sin(np.r_[X, X * 2.0]))\n", "X32"),
    "c_x_c": ("def f(x):\n    return np.sum(np.sin(np.c_[x, C3]) * A32)\n", "x3"),
    "c_2d_1d": ("def f(x):\n    return np.sum(np.c_[A32, x] ** 2)\n", "x3"),
    "c_x_x": ("def f(x):\n    return np.sum(np.cos(np.c_[x, x * x]))\n", "x3"),
    "c_active_2d": ("def f(X):\n    return np.sum(np.c_[X, C3] ** 3)\n", "X32"),
    "concatenate_control": ("def f(x):\n    return np.sum(np.sin(np.concatenate([x, C2, x])))\n",
                            "x3"),
}

ARGS3 = {"x3": np.array([0.3, -1.1, 0.8]), "float": 0.7,
         "X32": np.array([[0.3, -1.1], [0.8, 0.2], [1.5, -0.4]])}


@pytest.mark.parametrize("name", sorted(CASE3))
def test_case3_r_c(name):
    src, arg = CASE3[name]
    f = mk(src, C2=C2, C3=C3, A32=A32)
    check(f, [ARGS3[arg]], may_refuse=True,
          optimized=BOTH if name in ("r_x_c_x", "c_x_c") else (True,))


def test_case3_vector_output():
    f = mk("def f(x):\n    return np.r_[x, C2, x] * 2.0\n", C2=C2)
    check(f, [np.array([0.3, -1.1, 0.8])], may_refuse=True)


def test_case3_two_arguments():
    f = mk("def f(x, y):\n    return np.sum(np.c_[x, y] ** 2 * A32)\n", A32=A32)
    check(f, [np.array([0.3, -1.1, 0.8]), np.array([1.0, 2.0, -0.5])], wrt=(0, 1),
          may_refuse=True)


# ----------------------------------------------------------------------------------------
# Case 4: einsum sublist form (both modes agree: supported or refused in both)
# ----------------------------------------------------------------------------------------

W32 = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25]])
X23 = np.array([[0.3, -1.1, 0.8], [1.2, 0.4, -0.6]])
Y32 = np.array([[0.5, 1.5], [-0.7, 0.2], [1.1, -0.9]])
X33 = np.array([[0.3, -1.1, 0.8], [1.2, 0.4, -0.6], [0.9, 2.0, -1.3]])

CASE4 = {
    "transpose_tuples": ("def f(x):\n    return np.sum(np.einsum(x, (0, 1), (1, 0)) * W32)\n",
                         [X23], 0),
    "transpose_lists": ("def f(x):\n    return np.sum(np.einsum(x, [0, 1], [1, 0]) * W32)\n",
                        [X23], 0),
    "matmul_tuples": ("def f(x, y):\n"
                      "    return np.sum(np.einsum(x, (0, 1), y, (1, 2), (0, 2)) ** 2)\n",
                      [X23, Y32], (0, 1)),
    "matmul_lists_x": ("def f(x, y):\n"
                       "    return np.sum(np.sin(np.einsum(x, [0, 1], y, [1, 2], [0, 2])))\n",
                       [X23, Y32], 0),
    "matmul_lists_y": ("def f(x, y):\n"
                       "    return np.sum(np.sin(np.einsum(x, [0, 1], y, [1, 2], [0, 2])))\n",
                       [X23, Y32], 1),
    "implicit_output": ("def f(x, y):\n    return np.sum(np.einsum(x, [0, 1], y, [1, 2]) ** 2)\n",
                        [X23, Y32], (0, 1)),
    "trace": ("def f(x):\n    return np.einsum(x, [0, 0]) * 2.0\n", [X33], 0),
    "total": ("def f(x):\n    return np.einsum(x * x, [0, 1], [])\n", [X23], 0),
    "string_control": ("def f(x, y):\n    return np.sum(np.einsum('ij,jk->ik', x, y) ** 2)\n",
                       [X23, Y32], (0, 1)),
}


@pytest.mark.parametrize("name", sorted(CASE4))
def test_case4_einsum_sublist(name):
    src, args, wrt = CASE4[name]
    f = mk(src, W32=W32)
    status = check(f, args, wrt=wrt, may_refuse=True, optimized=BOTH)
    assert status["reverse"] == status["forward"], (
        f"einsum sublist form: reverse mode {status['reverse']}, forward mode "
        f"{status['forward']} (the issue requires both supported or both refused)")


def test_case4_einsum_sublist_vector_output():
    f = mk("def f(x, y):\n    return np.einsum(x, (0, 1), y, (1, 2), (0, 2))\n")
    status = check(f, [X23, Y32], wrt=(0, 1), may_refuse=True)
    assert status["reverse"] == status["forward"], status


# ----------------------------------------------------------------------------------------
# Case 5: names resolve as Python resolves them
# ----------------------------------------------------------------------------------------

X5 = np.array([0.3, -1.1, 0.8, 1.4])

CASE5 = {
    "default_shadows_global": ("def g(x, f=np.sin):\n    return np.sum(f(x))\n",
                               {"f": np.cos}),
    "default_module_function": ("""
        def helper(x):
            return x ** 3.0
        def other(x):
            return np.exp(x) * 2.0
        def g(x, helper=other):
            return np.sum(helper(x))
        """, {}),
    "inner_param_shadows_global": ("""
        def sq(v):
            return v ** 2.0
        def cube(v):
            return v ** 3.0
        def inner(v, sq=cube):
            return sq(v) * 0.5
        def g(x):
            return np.sum(inner(x) + sq(x))
        """, {}),
    "local_assignment": ("def g(x):\n    f = np.sin\n    return np.sum(f(x))\n",
                         {"f": np.cos}),
    "local_shadows_numpy_name": ("def g(x):\n    cos = np.sin\n    return np.sum(cos(x))\n",
                                 {"cos": np.cos}),
    "helper_default": ("""
        def inner(x, f=np.tanh):
            return f(x) * 2.0
        def g(x):
            return np.sum(inner(x))
        """, {"f": np.cos}),
    "helper_explicit": ("""
        def inner(x, f=np.tanh):
            return f(x) * 2.0
        def g(x):
            return np.sum(inner(x, np.exp))
        """, {"f": np.cos}),
    "helper_keyword": ("""
        def inner(x, f=np.tanh):
            return f(x) * 2.0
        def g(x):
            return np.sum(inner(x, f=np.sin))
        """, {"f": np.cos}),
    "value_param_shadows_function": ("def g(x, sin=2.0):\n    return np.sum(np.sin(x) * sin)\n",
                                     {"sin": np.cos}),
    "default_module_function_global_f": ("""
        def f(x):
            return x ** 4.0
        def h(x):
            return np.sin(x) * 3.0
        def g(x, f=h):
            return np.sum(f(x))
        """, {}),
}


@pytest.mark.parametrize("name", sorted(CASE5))
def test_case5_name_resolution(name):
    src, ns = CASE5[name]
    g = mk(src, **ns)
    check(g, [X5], optimized=BOTH if name == "default_shadows_global" else (True,),
          wrappers=name == "default_shadows_global")


def test_case5_default_shadows_global_exact():
    g = mk("def g(x, f=np.sin):\n    return np.sum(f(x))\n", f=np.cos)
    np.testing.assert_allclose(srcad.grad(g)(X5), np.cos(X5), rtol=1e-12)
    np.testing.assert_allclose(srcad.autodiff(g, mode="forward")(X5, np.ones(4)),
                               np.sum(np.cos(X5)), rtol=1e-12)


def test_case5_callable_passed_by_caller():
    """A different callable passed at call time: follow it, or refuse (never the default)."""
    g = mk("def g(x, f=np.sin):\n    return np.sum(f(x))\n", f=np.cos)
    check(g, [X5, np.tanh], wrt=0, may_refuse=True, refusal=(srcad.SrcadError, TypeError))


def test_case5_kwonly_default():
    g = mk("def g(x, *, f=np.sin):\n    return np.sum(f(x))\n", f=np.cos)
    check(g, [X5], may_refuse=True, refusal=(srcad.SrcadSyntaxError,))


# ----------------------------------------------------------------------------------------
# Case 6: arguments a derivative does not take are a TypeError
# ----------------------------------------------------------------------------------------

def _f6_source():
    return "def f(x):\n    return np.sum(x ** 2)\n"


X6 = np.array([0.5, -1.0, 2.0])

CASE6 = {
    "grad_seed": lambda f: srcad.grad(f)(X6, seed=np.float64(2.0)),
    "grad_seed_none": lambda f: srcad.grad(f)(X6, seed=None),
    "grad_seed_wrt_tuple": lambda f: srcad.grad(f, wrt=(0,))(X6, seed=2.0),
    "grad_unknown_kw": lambda f: srcad.grad(f)(X6, foo=1.0),
    "grad_tangent_kw": lambda f: srcad.grad(f)(X6, tangent=X6),
    "grad_extra_positional": lambda f: srcad.grad(f)(X6, X6),
    "value_and_grad_seed": lambda f: srcad.value_and_grad(f)(X6, seed=2.0),
    "forward_seed": lambda f: srcad.autodiff(f, mode="forward")(X6, np.ones(3), seed=2.0),
    "forward_extra_tangent": lambda f: srcad.autodiff(f, mode="forward")(X6, np.ones(3),
                                                                         np.ones(3)),
    "reverse_unknown_kw": lambda f: srcad.autodiff(f, mode="reverse")(X6, seed=1.0, scale=2),
    "hessian_seed": lambda f: srcad.hessian(f)(X6, seed=2.0),
    "jacobian_seed": lambda f: srcad.jacobian(f)(X6, seed=2.0),
    "hvp_seed": lambda f: srcad.hvp(f)(X6, np.ones(3), seed=2.0),
    "grad_preserve_seed": lambda f: srcad.grad(f, preserve_result=True)(X6, seed=2.0),
}


@pytest.mark.parametrize("name", sorted(CASE6))
def test_case6_unexpected_argument_is_type_error(name):
    f = mk(_f6_source())
    with pytest.raises(TypeError):
        CASE6[name](f)


def test_case6_keyword_argument_of_f_is_used():
    """A keyword argument that f takes must reach f (or be a TypeError), never dropped."""
    f = mk("def f(x, scale=1.0):\n    return np.sum(x ** 2) * scale\n")
    try:
        g = srcad.grad(f)(X6, scale=3.0)
    except TypeError:
        pass
    else:
        np.testing.assert_allclose(g, 6.0 * X6, rtol=1e-12)
    try:
        v, g = srcad.value_and_grad(f)(X6, scale=3.0)
    except TypeError:
        pass
    else:
        np.testing.assert_allclose(v, 3.0 * np.sum(X6 ** 2), rtol=1e-12)
        np.testing.assert_allclose(g, 6.0 * X6, rtol=1e-12)
    try:
        t = srcad.autodiff(f, mode="forward")(X6, np.ones(3), scale=3.0)
    except TypeError:
        pass
    else:
        np.testing.assert_allclose(t, 6.0 * np.sum(X6), rtol=1e-12)


# ----------------------------------------------------------------------------------------
# Case 7: complex numbers with JAX's convention
# ----------------------------------------------------------------------------------------

Z3 = np.array([0.7 + 0.4j, -0.5 + 1.2j, 1.3 - 0.8j])
W3 = np.array([1.1 - 0.3j, 0.4 + 0.9j, -0.6 - 0.5j])

# functions built only from the constructs the issue lists (must be supported)
CASE7_MUST = {
    "abs_z_z": ("np.sum(np.abs(z * z))", 0),
    "real_attr": ("np.sum(z.real)", 0),
    "real_attr_times": ("np.sum(z.real * np.abs(w))", (0, 1)),
    "real_sq": ("np.sum(np.real(z) ** 2)", 0),
    "imag_times_real": ("np.sum(z.imag * z.real)", 0),
    "imag_cubed": ("np.sum(np.imag(z) ** 3)", 0),
    "abs_sq": ("np.sum(np.abs(z) ** 2)", 0),
    "angle": ("np.sum(np.angle(z))", 0),
    "real_exp": ("np.sum(np.real(np.exp(z)))", 0),
    "imag_sin": ("np.sum(np.imag(np.sin(z)))", 0),
    "real_log": ("np.sum(np.real(np.log(z)))", 0),
    "imag_log": ("np.sum(np.imag(np.log(z)) * np.real(z))", 0),
    "z_conj_z": ("np.sum(np.real(z * np.conj(z)))", 0),
    "conj_method": ("np.sum(np.real(z.conj() * w))", (0, 1)),
    "conjugate": ("np.sum(np.imag(np.conjugate(z) * z * z))", 0),
    "conjugate_method": ("np.sum(np.imag(z.conjugate()) * np.real(w))", (0, 1)),
    "abs_div": ("np.sum(np.abs(z / w))", (0, 1)),
    "divide": ("np.sum(np.abs(np.divide(z, w)))", (0, 1)),
    "power_real": ("np.sum(np.real(z ** 2.5))", 0),
    "np_power": ("np.sum(np.imag(np.power(z, 3.0)))", 0),
    "int_power": ("np.sum(np.real(z ** 3))", 0),
    # real_if_close's output kind depends on the values: srcad takes it as maybe complex
    # (a grad of it alone is refused), so the real part is taken here
    "real_if_close": ("np.sum(np.real(np.real_if_close(z * z)))", 0),
    "sum_then_real": ("np.real(np.sum(z * z))", 0),
    "sum_then_abs": ("np.abs(np.sum(z * w))", (0, 1)),
    "abs_add": ("np.sum(np.abs(z + w))", (0, 1)),
    "angle_mul": ("np.sum(np.angle(np.multiply(z, w)))", (0, 1)),
    "add_mul": ("np.sum(np.real(np.multiply(z, z)) + np.imag(np.add(z, w)))", (0, 1)),
    "exp_abs": ("np.sum(np.abs(np.exp(z * w)))", 1),
}


@pytest.mark.parametrize("name", sorted(CASE7_MUST))
def test_case7_complex_listed(name):
    expr, wrt = CASE7_MUST[name]
    f = mk(f"def f(z, w):\n    return {expr}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        check(f, [Z3, W3], wrt=wrt, optimized=BOTH if name in ("abs_z_z", "real_attr") else (True,),
              wrappers=name == "abs_z_z")


def test_case7_complex_gradient_is_jax_convention():
    """f(z) = x**2 + y**2 at 3+4j: JAX gives 6-8j."""
    f = mk("def f(z):\n    return np.real(z) ** 2 + np.imag(z) ** 2\n")
    g = srcad.grad(f)(np.array(3.0 + 4.0j))
    np.testing.assert_allclose(g, 6.0 - 8.0j)
    f2 = mk("def f(z):\n    return np.sum(np.abs(z * z))\n")
    z = np.array([3.0 + 4.0j])
    # |z|^2 = x^2 + y^2 -> 2x - 2iy
    np.testing.assert_allclose(srcad.grad(f2)(z), np.array([6.0 - 8.0j]))


def test_case7_real_attribute_is_not_identity():
    f = mk("def f(z):\n    return np.sum(z.real * z.real)\n")
    check(f, [Z3])
    t = srcad.autodiff(f, mode="forward")(Z3, np.array([1j, 1j, 1j]))
    np.testing.assert_allclose(t, 0.0, atol=1e-12)


@pytest.mark.parametrize("expr", ["np.abs(z) ** 2", "np.real(z * z)", "np.angle(z)",
                                  "np.imag(np.exp(z))"])
def test_case7_python_complex_scalar(expr):
    f = mk(f"def f(z):\n    return {expr}\n")
    check(f, [0.7 + 0.4j])


@pytest.mark.parametrize("expr", ["np.sum(np.real(np.exp(x * (1.0 + 2.0j))))",
                                  "np.sum(np.abs(x + 1j * y))",
                                  "np.sum(np.angle(x + 2.0j))",
                                  "np.sum(np.imag(np.log(x * (0.5 - 1.0j))))"])
def test_case7_real_inputs_through_complex(expr):
    f = mk(f"def f(x, y):\n    return {expr}\n")
    args = [np.array([0.3, -1.1, 0.8]), np.array([1.2, 0.5, -0.9])]
    status = check(f, args, wrt=(0, 1))
    assert status == {"reverse": "ok", "forward": "ok"}
    gx, gy = srcad.grad(f, wrt=(0, 1))(*args)
    assert not np.iscomplexobj(gx) and not np.iscomplexobj(gy), (
        "gradient of a real argument must be real")


# constructs outside the list: right, or refused
CASE7_MAY = {
    "cos": "np.sum(np.abs(np.cos(z)))",
    "sqrt": "np.sum(np.real(np.sqrt(z)))",
    "subtract": "np.sum(np.abs(z - w))",
    "negative": "np.sum(np.imag(-z * w))",
    "tanh": "np.sum(np.real(np.tanh(z)))",
    "matmul": "np.real(z @ w)",
    "dot": "np.imag(np.dot(z, w))",
    "vdot": "np.real(np.vdot(z, w))",
    "mean": "np.abs(np.mean(z * w))",
    "subscript": "np.real(z[0] * z[1]) + np.imag(z[2])",
    "where": "np.sum(np.abs(np.where(np.real(z) > 0, z, w)))",
    "square": "np.sum(np.real(np.square(z)))",
    "reciprocal": "np.sum(np.imag(1.0 / z))",
    "complex_power": "np.sum(np.abs(z ** (0.5 + 0.5j)))",
    "maximum_abs": "np.sum(np.maximum(np.abs(z), np.abs(w)))",
    "linalg_norm": "np.linalg.norm(z)",
    "prod": "np.abs(np.prod(z))",
    "cumsum": "np.sum(np.abs(np.cumsum(z)))",
    "sort_abs": "np.sum(np.sort(np.abs(z)) * np.array([1.0, 2.0, 3.0]))",
    "conj_attr_of_expr": "np.sum((z * w).conj().imag)",
    "astype": "np.sum(np.abs(z.astype(np.complex128)))",
    "sinh": "np.sum(np.imag(np.sinh(z)))",
    "exp2": "np.sum(np.real(np.exp2(z)))",
}


@pytest.mark.parametrize("name", sorted(CASE7_MAY))
def test_case7_complex_other_right_or_refused(name):
    f = mk(f"def f(z, w):\n    return {CASE7_MAY[name]}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        check(f, [Z3, W3], wrt=(0, 1), may_refuse=True)


def test_case7_complex_loop_right_or_refused():
    f = mk("""
        def f(z):
            s = z * 1.0
            for i in range(3):
                s = s * z + 0.5
            return np.sum(np.abs(s))
        """)
    check(f, [Z3], may_refuse=True)


@pytest.mark.parametrize("src", [
    "def f(z):\n    return np.sum(z * z)\n",
    "def f(z):\n    return z[0] * 2.0\n",
    "def f(x):\n    return np.sum(np.exp(1j * x))\n",
    "def f(x):\n    return np.sum(x + 0j)\n",
])
def test_case7_grad_of_complex_output_is_error(src):
    f = mk(src)
    x = Z3 if "z" in src.split(")")[0] else np.array([0.3, -1.1, 0.8])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        with pytest.raises((srcad.SrcadError, TypeError)):
            srcad.grad(f)(_readonly(x))


@pytest.mark.parametrize("src,arg", [
    ("def f(z):\n    return z * z\n", "z"),
    ("def f(z):\n    return np.exp(z) * w0\n", "z"),
    ("def f(z):\n    return np.conj(z) * 2.0\n", "z"),
    ("def f(z):\n    return np.real(z) + 1j * np.abs(z)\n", "z"),
    ("def f(x):\n    return np.exp(1j * x)\n", "x"),
])
def test_case7_complex_output_vjp_jvp(src, arg):
    """Complex outputs: VJP/JVP follow jax.vjp/jax.jvp, or are refused."""
    f = mk(src, w0=W3)
    x = Z3 if arg == "z" else np.array([0.3, -1.1, 0.8])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ComplexWarning)
        check(f, [x], may_refuse=True)


# ----------------------------------------------------------------------------------------
# Case 8: NaN where the derivative is finite
# ----------------------------------------------------------------------------------------

CASE8 = {
    "power_zero_base": ("def f(y):\n    return np.sum(np.power(0.0, y))\n",
                        [np.array([0.5, 1.5, 2.0])], 0),
    "pow_op_zero_base": ("def f(y):\n    return np.sum(0.0 ** y)\n",
                         [np.array([0.5, 1.5, 2.0])], 0),
    "power_zero_base_float": ("def f(y):\n    return np.power(0.0, y) + y\n", [1.5], 0),
    "pow_zero_base_float": ("def f(y):\n    return 0.0 ** y + 2.0 * y\n", [1.5], 0),
    "power_zero_base_0d": ("def f(y):\n    return np.power(0.0, y) * 3.0\n",
                           [np.array(2.5)], 0),
    "power_zeros_in_base": ("def f(y):\n    return np.sum(np.power(B8, y))\n",
                            [np.array([1.5, 0.7, 3.0])], 0),
    "power_zero_times": ("def f(y):\n    return np.sum(np.power(0.0, y) * y + y)\n",
                         [np.array([0.5, 1.5])], 0),
    "x_pow_y_wrt_y": ("def f(x, y):\n    return np.sum(x ** y)\n",
                      [np.array([0.0, 1.3]), np.array([2.0, 3.0])], 1),
    "x_pow_y_wrt_x": ("def f(x, y):\n    return np.sum(x ** y)\n",
                      [np.array([0.0, 1.3]), np.array([2.0, 3.0])], 0),
    "square_op_at_zero": ("def f(x):\n    return np.sum(x ** 2)\n",
                          [np.array([0.0, 1.0, -2.0])], 0),
    "square_float_exp_at_zero": ("def f(x):\n    return np.sum(x ** 2.0)\n",
                                 [np.array([0.0, 1.0, -2.0])], 0),
    "np_power_2_at_zero": ("def f(x):\n    return np.sum(np.power(x, 2.0))\n",
                           [np.array([0.0, 1.0])], 0),
    "np_square_at_zero": ("def f(x):\n    return np.sum(np.square(x))\n",
                          [np.array([0.0, 1.0])], 0),
    "square_scalar_at_zero": ("def f(x):\n    return x ** 2.0\n", [0.0], 0),
    "pow_zero_exponent_at_zero": ("def f(x):\n    return np.sum(x ** 0.0)\n",
                                  [np.array([0.0, 2.0])], 0),
    "pow_one_at_zero": ("def f(x):\n    return np.sum(x ** 1.0)\n", [np.array([0.0, 2.0])], 0),
    "cube_negative": ("def f(x):\n    return np.sum(x ** 3.0)\n",
                      [np.array([-1.5, 0.0, 2.0])], 0),
    "int_cube_negative": ("def f(x):\n    return np.sum(np.power(x, 3))\n",
                          [np.array([-1.5, 0.0, 2.0])], 0),
    "sqrt_positive": ("def f(x):\n    return np.sum(np.sqrt(x))\n", [np.array([0.25, 4.0])], 0),
    "half_power_positive": ("def f(x):\n    return np.sum(x ** 0.5)\n",
                            [np.array([0.25, 4.0])], 0),
    "log_positive": ("def f(x):\n    return np.sum(np.log(x) * x)\n", [np.array([0.25, 4.0])],
                     0),
    "abs_squared_at_zero": ("def f(x):\n    return np.sum(np.abs(x) ** 2.0)\n",
                            [np.array([0.0, -1.0])], 0),
    "sqrt_of_square_plus": ("def f(x):\n    return np.sum(np.sqrt(x ** 2 + 1.0))\n",
                            [np.array([0.0, -1.0])], 0),
}


@pytest.mark.parametrize("name", sorted(CASE8))
def test_case8_finite_derivative(name):
    src, args, wrt = CASE8[name]
    f = mk(src, B8=np.array([0.0, 2.0, 0.0]))
    check(f, args, wrt=wrt, optimized=BOTH if "zero_base" in name else (True,))


def test_case8_power_zero_base_is_zero_not_nan():
    f = mk("def f(y):\n    return np.sum(np.power(0.0, y))\n")
    y = np.array([0.5, 1.5, 2.0])
    np.testing.assert_array_equal(srcad.grad(f)(y), np.zeros(3))
    np.testing.assert_array_equal(srcad.autodiff(f, mode="forward")(y, np.ones(3)), 0.0)


@pytest.mark.parametrize("src", ["def f(x):\n    return np.sum(x ** 2.5)\n",
                                 "def f(x):\n    return np.sum(np.power(x, 1.5))\n"])
def test_case8_fractional_power_at_zero(src):
    """d/dx x**p at 0 is 0 for p > 1 (one-sided; finite differences cannot see it)."""
    f = mk(src)
    x = np.array([0.0, 1.0])
    p = 2.5 if "2.5" in src else 1.5
    check(f, [x], expected_grad=p * x ** (p - 1), tangents=[np.array([1.0, 2.0])],
          expected_jvp=p * 1.0 * 2.0)


STD1 = {
    "std_1": ("def f(x):\n    return np.std(x)\n", (1,)),
    "std_1x1": ("def f(x):\n    return np.std(x)\n", (1, 1)),
    "std_axis0": ("def f(x):\n    return np.sum(np.std(x, axis=0))\n", (1, 3)),
    "std_times": ("def f(x):\n    return np.std(x * 2.0) + np.sum(x)\n", (1,)),
}


@pytest.mark.parametrize("name", sorted(STD1))
def test_case8_std_of_one_element_consistent(name):
    """The convention (NaN like JAX, or 0 like autograd) is srcad's choice; the tests only
    require that reverse and forward mode, optimized and not, give the same answer."""
    src, shape = STD1[name]
    f = mk(src)
    x = np.full(shape, 0.7)
    results = {}
    for opt in (True, False):
        g = srcad.grad(f, optimized=opt)(_readonly(x))
        results[f"reverse opt={opt}"] = np.asarray(g, dtype=float).ravel()
        t = np.ones(shape)
        results[f"forward opt={opt}"] = np.atleast_1d(
            np.asarray(srcad.autodiff(f, mode="forward", optimized=opt)(
                _readonly(x), _readonly(t)), dtype=float))
    offset = 1.0 if "np.sum(x)" in src else 0.0
    kinds = set()
    for k, v in results.items():
        core = v - offset if "reverse" in k else v - offset * x.size
        if np.all(np.isnan(core)):
            kinds.add("nan")
        elif np.all(core == 0.0):
            kinds.add("zero")
        else:
            kinds.add(f"other {k}: {v}")
    assert len(kinds) == 1 and kinds <= {"nan", "zero"}, (
        f"np.std of one element: inconsistent or unexpected derivatives {results}")


@pytest.mark.parametrize("shape", [(1,), (1, 3)])
def test_case8_var_of_one_element_is_zero(shape):
    f = mk("def f(x):\n    return np.sum(np.var(x, axis=0))\n")
    x = np.full(shape, 0.7)
    check(f, [x], expected_grad=np.zeros(shape), tangents=[np.ones(shape)], expected_jvp=0.0)


# ----------------------------------------------------------------------------------------
# Case 9: float32 derivatives stay float32
# ----------------------------------------------------------------------------------------

CASE9 = {
    "pow2": "np.sum(x ** 2)",
    "pow2f": "np.sum(x ** 2.0)",
    "mean_sin": "np.mean(np.sin(x))",
    "tanh_scaled": "np.sum(np.tanh(x) * 3.0)",
    "half_sq": "np.sum(x * x) / 2.0",
    "std": "np.std(x)",
    "softmax_like": "np.sum(np.exp(x - np.max(x)))",
    "mse": "np.mean((x - 1.0) ** 2)",
    "sqrt": "np.sum(np.sqrt(x * x + 1.0))",
    "relu": "np.sum(np.maximum(x, 0.0))",
    "where": "np.sum(np.where(x > 0, x, 0.5 * x))",
    "index": "x[0] * x[1]",
    "logsumexp": "np.log(np.sum(np.exp(x)))",
    "dot": "np.dot(x, x)",
    "matmul": "x @ x",
    "method_dot": "x.dot(x) * 0.5",
    "mean_over_n": "np.sum(x ** 2) / x.shape[0]",
}


def _float64_locals(d, args):
    """Names of float64 arrays/scalars held by any srcad or generated frame while d runs."""
    seen = {}

    def tracer(frame, event, arg):
        fn = frame.f_code.co_filename
        if ("numpy" in fn or fn.startswith("<frozen") or fn == __file__
                or ("/lib/python3" in fn and "site-packages" not in fn and "srcad" not in fn)):
            return None

        def local(frame, event, arg):
            for k, v in list(frame.f_locals.items()):
                if ((isinstance(v, np.ndarray) and v.dtype == np.float64)
                        or isinstance(v, np.float64)):
                    seen.setdefault(f"{frame.f_code.co_name}:{k}", repr(v)[:50])
            return local
        return local

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        d(*args)
    finally:
        sys.settrace(old)
    return seen


@pytest.mark.parametrize("name", sorted(CASE9))
def test_case9_float32_gradient(name):
    f = mk(f"def f(x):\n    return {CASE9[name]}\n")
    x64 = np.array([0.5, -1.25, 2.0, 0.75])
    x = x64.astype(np.float32)
    g64 = srcad.grad(f)(x64)
    for opt in (True, False):
        g = srcad.grad(f, optimized=opt)(_readonly(x))
        assert isinstance(g, np.ndarray) and g.dtype == np.float32, (
            f"optimized={opt}: gradient dtype {getattr(g, 'dtype', type(g))}")
        np.testing.assert_allclose(g, g64, rtol=2e-5, atol=1e-6)
        t = srcad.autodiff(f, mode="forward", optimized=opt)(_readonly(x),
                                                             _readonly(np.ones(4, np.float32)))
        assert np.asarray(t).dtype == np.float32, f"optimized={opt}: JVP dtype {np.asarray(t).dtype}"
    v, g2 = srcad.value_and_grad(f)(_readonly(x))
    assert np.asarray(v).dtype == np.float32 and g2.dtype == np.float32


@pytest.mark.parametrize("name", ["pow2", "pow2f", "mean_sin", "mse", "std", "half_sq"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_case9_float32_intermediates(name, mode):
    """Every intermediate of a float32 derivative is float32 (traced frame locals)."""
    f = mk(f"def f(x):\n    return {CASE9[name]}\n")
    x = np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float32)
    if mode == "reverse":
        d = srcad.grad(f)
        args = (x,)
    else:
        d = srcad.autodiff(f, mode="forward")
        args = (x, np.ones(4, np.float32))
    d(*args)       # build the shape-specialized variant outside the trace
    seen = _float64_locals(d, args)
    assert not seen, f"float64 values in a float32 derivative: {seen}"


def test_case9_float32_scalar_argument():
    f = mk("def f(x):\n    return x ** 2 + np.sin(x)\n")
    g = srcad.grad(f)(np.float32(0.5))
    assert np.asarray(g).dtype == np.float32


def test_case9_float32_loop_and_subscript_write():
    f = mk("""
        def f(x):
            y = x * 2.0
            y[0] = y[1] * y[2]
            s = 0.0
            for i in range(3):
                s = s + y[i] ** 2
            return s
        """)
    x = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    g = srcad.grad(f)(_readonly(x))
    assert g.dtype == np.float32
    t = srcad.autodiff(f, mode="forward")(_readonly(x), _readonly(np.ones(3, np.float32)))
    assert np.asarray(t).dtype == np.float32


@pytest.mark.parametrize("src", [
    "def f(x):\n    return np.sin(x) * x\n",
    "def f(x):\n    return x ** 2 * 3.0\n",
    "def f(x):\n    return np.cumsum(x) * 2.0\n",
])
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_case9_float32_jacobian(src, mode):
    f = mk(src)
    x = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    try:
        J = srcad.jacobian(f, mode=mode)(_readonly(x))
    except srcad.NoRuleError:
        pytest.skip("no rule (not this issue)")
    assert J.dtype == np.float32, f"jacobian dtype {J.dtype}"
    J64 = srcad.jacobian(f, mode=mode)(x.astype(np.float64))
    np.testing.assert_allclose(J, J64, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("expr", ["np.sum(x ** 3)", "np.sum(np.sin(x) * x)",
                                  "np.mean(x ** 2) * 3.0"])
def test_case9_float32_hessian_hvp(expr):
    f = mk(f"def f(x):\n    return {expr}\n")
    x = np.array([0.5, -1.25, 2.0], dtype=np.float32)
    Hm = srcad.hessian(f)(_readonly(x))
    assert Hm.dtype == np.float32, f"hessian dtype {Hm.dtype}"
    hv = srcad.hvp(f)(_readonly(x), _readonly(np.ones(3, np.float32)))
    assert hv.dtype == np.float32, f"hvp dtype {hv.dtype}"


# ----------------------------------------------------------------------------------------
# Case 10: in-place operators through an alias
# ----------------------------------------------------------------------------------------

CASE10 = {
    "iadd": "h = x * 1.0\n    g = h\n    g += 1.0\n    return np.sum(h ** 2)",
    "isub": "h = x * 1.0\n    g = h\n    g -= 2.0\n    return np.sum(h ** 2)",
    "imul": "h = x * 1.0\n    g = h\n    g *= 3.0\n    return np.sum(h ** 2)",
    "idiv": "h = x * 1.0\n    g = h\n    g /= 4.0\n    return np.sum(h ** 3)",
    "ipow": "h = x * 1.0\n    g = h\n    g **= 2.0\n    return np.sum(h * x)",
    "alias_of_alias": "h = x * 1.0\n    g = h\n    k = g\n    k += 1.0\n    return np.sum(h ** 2)",
    "alias_of_alias_mul": ("h = np.sin(x)\n    g = h\n    k = g\n    k *= x\n"
                           "    return np.sum(h * g)"),
    "active_rhs": "h = x * 2.0\n    g = h\n    g *= x\n    return np.sum(h * x)",
    "read_through_alias": "h = np.sin(x)\n    g = h\n    g += x\n    return np.sum(g * h)",
    "original_then_alias": "h = x * 1.0\n    g = h\n    h += 1.0\n    return np.sum(g ** 2)",
    "loop": ("h = x * 1.0\n    g = h\n    for i in range(2):\n        g *= 2.0\n"
             "    return np.sum(h ** 2)"),
    "rebind_after": ("h = x * 1.0\n    g = h\n    g += 1.0\n    h = h * 2.0\n"
                     "    return np.sum(h ** 2)"),
    "tuple_alias": "h = x * 1.0\n    g, k = h, h\n    g += 1.0\n    return np.sum(k ** 2)",
    "alias_sub_write": "h = x * 1.0\n    g = h\n    g[0] += 1.0\n    return np.sum(h ** 2)",
    "alias_of_argument": "g = x\n    g += 1.0\n    return np.sum(x ** 2)",
    "list_alias_append": ("a = [x * 1.0]\n    b = a\n    b.append(x * 2.0)\n"
                          "    return np.sum(a[-1] ** 2)"),
}


@pytest.mark.parametrize("shape", [(3,), (2, 2)])
@pytest.mark.parametrize("name", sorted(CASE10))
def test_case10_inplace_through_alias(name, shape):
    f = mk("def f(x):\n    " + CASE10[name] + "\n")
    x = np.linspace(0.4, 1.3, int(np.prod(shape))).reshape(shape)
    check(f, [x], may_refuse=True, optimized=BOTH if shape == (3,) else (True,),
          wrappers=name == "iadd")


@pytest.mark.parametrize("name", ["iadd", "imul", "alias_of_alias", "ipow", "active_rhs"])
def test_case10_size_one_axis(name):
    f = mk("def f(x):\n    " + CASE10[name] + "\n")
    check(f, [np.array([0.8])], may_refuse=True)


@pytest.mark.parametrize("arg", ["float", "0d"])
@pytest.mark.parametrize("name", ["iadd", "imul", "alias_of_alias", "original_then_alias"])
def test_case10_immutable_scalars_rebind(name, arg):
    """For a Python float or a NumPy scalar (x * 1.0 of a 0-d array), `g += ...` rebinds;
    the derivative must follow Python exactly (or refuse)."""
    f = mk("def f(x):\n    " + CASE10[name] + "\n")
    x = 0.7 if arg == "float" else np.array(0.7)
    check(f, [x], may_refuse=True)


def test_case10_original_exact():
    f = mk("def f(x):\n    " + CASE10["iadd"] + "\n")
    x = np.array([0.5, 1.0, 2.0])
    try:
        v, g = srcad.value_and_grad(f)(x)
    except srcad.SrcadError:
        return
    np.testing.assert_allclose(v, np.sum((x + 1.0) ** 2))
    np.testing.assert_allclose(g, 2.0 * (x + 1.0))


# ----------------------------------------------------------------------------------------
# Case 11: copies by `* 1.0` and friends are not identities when written later
# ----------------------------------------------------------------------------------------

COPIES = ["y * 1.0", "1.0 * y", "y / 1.0", "y + 0.0", "y - 0.0", "0.0 + y", "y * 1",
          "np.multiply(y, 1.0)", "y * ONE", "ONE * y", "y ** 1.0", "np.copy(y)", "y.copy()",
          "+y", "-(-y)", "np.array(y)", "(y * 1.0) * 1.0", "y * 1.0 + 0.0",
          "np.add(y, 0.0)", "np.divide(y, 1.0)"]
WRITES = {
    "scale0": "t[0] = 3.0 * t[0]",
    "tail": "t[1:] = t[1:] * 2.0",
    "aug": "t[0] += t[1] * 2.0",
}


CASE11 = [(c, "scale0") for c in COPIES] + [(c, w) for c in COPIES[:6] for w in ("tail", "aug")]


@pytest.mark.parametrize("copy,write", CASE11)
def test_case11_copy_then_subscript_write(copy, write):
    f = mk(f"def f(y):\n    t = {copy}\n    {WRITES[write]}\n"
           "    return np.sum(t) + np.sum(y * y)\n", ONE=1.0)
    y = np.array([0.5, -1.5, 2.0])
    check(f, [y], tangents=[np.array([1.0, 0.0, 0.0])],
          optimized=BOTH if copy == "y * 1.0" else (True,), wrappers=copy == "y * 1.0")


def test_case11_exact_reproducer():
    f = mk("def f(y):\n    t = y * 1.0\n    t[0] = 3.0 * t[0]\n"
           "    return np.sum(t) + np.sum(y)\n")
    y = np.array([0.5, -1.5, 2.0])
    tan = np.array([1.0, 0.0, 0.0])
    out = srcad.autodiff(f, mode="forward")(y, tan)
    np.testing.assert_allclose(out, 4.0)
    np.testing.assert_array_equal(tan, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("copy", ["y * 1.0", "1.0 * y", "y / 1.0", "y + 0.0", "y - 0.0"])
def test_case11_two_dimensional_and_wrt_two(copy):
    f = mk(f"def f(y, w):\n    t = {copy}\n    t[0, 1] = w[0, 0] * t[1, 0]\n"
           "    t[1] *= 2.0\n    return np.sum(t * w) + np.sum(y)\n")
    y = np.array([[0.5, -1.5], [2.0, 0.3]])
    w = np.array([[1.0, 0.7], [-0.4, 1.2]])
    check(f, [y, w], wrt=(0, 1), tangents=[np.array([[1.0, 0.0], [0.0, 0.0]]),
                                           np.array([[0.0, 1.0], [0.0, 0.0]])])


# ----------------------------------------------------------------------------------------
# Case 12: outputs and options that are not what they claim
# ----------------------------------------------------------------------------------------

BAD_OUTPUT = {
    "no_return": "def f(x):\n    y = np.sum(x)\n",
    "return_none": "def f(x):\n    y = np.sum(x * x)\n    return None\n",
    "bare_return": "def f(x):\n    y = np.sum(x * x)\n    return\n",
    "string": "def f(x):\n    y = np.sum(x)\n    return 'abc'\n",
    "str_of_value": "def f(x):\n    return str(np.sum(x))\n",
    "none_on_branch": ("def f(x):\n    if x[0] > 0.0:\n        return None\n"
                       "    return np.sum(x)\n"),
}


@pytest.mark.parametrize("name", sorted(BAD_OUTPUT))
@pytest.mark.parametrize("api", ["grad", "value_and_grad", "reverse", "forward", "vjp"])
def test_case12_non_numeric_output_is_error(name, api):
    f = mk(BAD_OUTPUT[name])
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises((srcad.SrcadError, TypeError)):
        if api == "grad":
            r = srcad.grad(f)(x)
        elif api == "value_and_grad":
            r = srcad.value_and_grad(f)(x)
        elif api == "reverse":
            r = srcad.autodiff(f, mode="reverse")(x)
        elif api == "forward":
            r = srcad.autodiff(f, mode="forward")(x, np.ones(3))
        else:
            v, fn = srcad.vjp(f, x)
            r = fn(1.0)
        pytest.fail(f"{api} of a function returning {name} gave {r!r}")


@pytest.mark.parametrize("wrt", [True, False, np.True_, np.False_, 1.0, 0.0, (0, True),
                                 (True,), "nope", 5, (0, 7)])
@pytest.mark.parametrize("api", ["grad", "value_and_grad", "autodiff_reverse",
                                 "autodiff_forward", "jacobian", "hessian"])
def test_case12_bad_wrt_is_error(wrt, api):
    f = mk("def f(x, y):\n    return np.sum(x * y ** 2)\n")
    x = np.array([0.5, -1.0, 2.0])
    y = np.array([1.5, 0.25, -1.0])
    with pytest.raises((srcad.SrcadError, TypeError, ValueError, IndexError)):
        if api == "grad":
            r = srcad.grad(f, wrt=wrt)(x, y)
        elif api == "value_and_grad":
            r = srcad.value_and_grad(f, wrt=wrt)(x, y)
        elif api == "autodiff_reverse":
            r = srcad.autodiff(f, mode="reverse", wrt=wrt)(x, y)
        elif api == "autodiff_forward":
            r = srcad.autodiff(f, mode="forward", wrt=wrt)(x, y, np.ones(3))
        elif api == "jacobian":
            r = srcad.jacobian(f, wrt=wrt)(x, y)
        else:
            r = srcad.hessian(f, wrt=wrt)(x, y)
        pytest.fail(f"{api}(wrt={wrt!r}) returned {r!r}")


# ----------------------------------------------------------------------------------------
# Valid programs that crash
# ----------------------------------------------------------------------------------------

CRASH_LOOPS = {
    "unused_break_search": """
        def f(x):
            first = -1
            for i in range(x.shape[0]):
                if x[i] > 0.5:
                    first = i
                    break
            return np.sum(x ** 2)
        """,
    "unused_active_break": """
        def f(x):
            s = 0.0
            for i in range(x.shape[0]):
                s = s + x[i]
                if s > 1.0:
                    break
            return np.sum(np.sin(x))
        """,
    "unused_while_counter": """
        def f(x):
            k = 0
            while k < 3:
                k = k + 1
            return np.sum(x * x)
        """,
    "unused_while_active": """
        def f(x):
            v = x * 1.0
            while np.sum(v) < 10.0:
                v = v * 2.0
            return np.sum(x ** 3)
        """,
    "unused_while_break": """
        def f(x):
            k = 0
            acc = 0.0
            while k < 10:
                acc = acc + x[k % 3]
                if acc > 2.0:
                    break
                k = k + 1
            return np.sum(np.exp(x))
        """,
    "used_and_unused_loops": """
        def f(x):
            s = 0.0
            for i in range(x.shape[0]):
                if x[i] > 1.0:
                    break
                s = s + x[i] ** 2
            t = 0.0
            for i in range(3):
                t = t + x[i]
                if t > 100.0:
                    break
            return s + np.sum(x)
        """,
    "unused_continue": """
        def f(x):
            c = 0.0
            for i in range(x.shape[0]):
                if x[i] < 0.0:
                    continue
                c = c + x[i]
            return np.sum(x * 2.0)
        """,
    "unused_nested_break": """
        def f(x):
            found = 0.0
            for i in range(3):
                for j in range(3):
                    if x[i] * x[j] > 0.6:
                        found = x[i]
                        break
            return np.sum(np.tanh(x))
        """,
    "used_search_index": """
        def f(x):
            first = 0
            for i in range(x.shape[0]):
                if x[i] > 0.5:
                    first = i
                    break
            return x[first] * np.sum(x)
        """,
}


@pytest.mark.parametrize("name", sorted(CRASH_LOOPS))
def test_crash_unused_loops(name):
    f = mk(CRASH_LOOPS[name])
    check(f, [np.array([0.2, 0.9, -0.3, 1.1])], optimized=BOTH)


CRASH_EARLY_RETURN = {
    "self_reading_write_then_return_mean": """
        def f(x):
            t = x * 1.0
            t[0] = t[0] * 2.0
            if x[0] > 0.0:
                return np.mean(t)
            return np.sum(t)
        """,
    "loop_write_data_return_mean": """
        def f(x):
            t = x * 1.0
            for i in range(3):
                t[i] = t[i] * 2.0
                if t[i] > 5.0:
                    return np.mean(t)
            return np.mean(t * x)
        """,
    "write_then_return_mean": """
        def f(x):
            y = x * 2.0
            y[0] = 1.0
            if x[1] > 0.0:
                return np.mean(y)
            return np.sum(y)
        """,
    "aug_write_then_return_mean": """
        def f(x):
            y = np.sin(x)
            y[1] += x[0]
            if np.sum(x) > 0.0:
                return np.mean(y * y)
            return np.mean(y)
        """,
    "loop_write_return_mean": """
        def f(x):
            y = x ** 2.0
            for i in range(3):
                y[i] = y[i] * 0.5
                if i == 1:
                    return np.mean(y)
            return np.sum(y)
        """,
    "write_return_mean_axis": """
        def f(x):
            y = x * 3.0
            y[0] = x[1] * x[0]
            if x[0, 0] > 0.0:
                return np.sum(np.mean(y, axis=0) ** 2)
            return np.sum(y)
        """,
    "write_mean_both_returns": """
        def f(x):
            y = x * 1.5
            y[-1] = 2.0 * y[0]
            if x[0] > 0.0:
                return np.mean(y)
            return np.mean(y ** 2)
        """,
}


@pytest.mark.parametrize("point", ["pos", "neg"])
@pytest.mark.parametrize("name", sorted(CRASH_EARLY_RETURN))
def test_crash_write_early_return_mean(name, point):
    f = mk(CRASH_EARLY_RETURN[name])
    x = np.array([0.7, 1.2, -0.4, 0.9])
    if name == "loop_write_data_return_mean":
        x = np.array([0.7, 3.2, -0.4, 0.9])
    if "axis" in name:
        x = x.reshape(2, 2)
    if point == "neg":
        x = -x
    check(f, [x], optimized=BOTH if point == "pos" else (True,))


@pytest.mark.parametrize("point", [0.5, -0.5])
def test_crash_write_early_return_mean_two_arguments(point):
    f = mk("""
        def f(x, y):
            t = x * 1.0
            t[..., 0] = t[..., 0] * y[..., 0]
            if y[0, 0] > 0.0:
                return np.mean(t)
            return np.sum(t * y)
        """)
    x = np.array([[0.7, 1.2], [-0.4, 0.9], [1.5, -0.3]])
    y = np.array([[point, 0.2], [1.1, -0.8], [0.4, 0.6]])
    check(f, [x, y], wrt=(0, 1), optimized=BOTH)


CRASH_VIEW_ORDER = {
    "rebind_to_view": """
        def f(x):
            y = x * 2.0
            y[0] = x[1] * 3.0
            s = np.sum(y ** 2)
            y = x[1:]
            return s + np.sum(y * y)
        """,
    "rebind_to_argument": """
        def f(x):
            y = np.sin(x)
            y[1] = 0.5 * y[0]
            s = np.sum(y * x)
            y = x
            return s + np.sum(y)
        """,
    "rebind_to_view_of_local": """
        def f(x):
            b = x * 3.0
            y = x * 1.0
            y[0] = b[2]
            s = np.sum(y * b)
            y = b[1:]
            return s + np.sum(y)
        """,
    "rebind_to_own_view": """
        def f(x):
            y = x * 1.0
            y[2] = y[0] * y[1]
            out = np.sum(y ** 2)
            y = y[::2]
            return out + np.sum(y)
        """,
    "rebind_to_alias": """
        def f(x):
            z = x * 2.0
            y = x ** 2.0
            y[1] = z[0]
            s = np.sum(y * z)
            y = z
            return s + np.sum(y ** 2)
        """,
}


@pytest.mark.parametrize("name", sorted(CRASH_VIEW_ORDER))
def test_crash_view_check_statement_order(name):
    f = mk(CRASH_VIEW_ORDER[name])
    check(f, [np.array([0.7, 1.2, -0.4, 0.9])], optimized=BOTH)


def test_crash_empty_mean_size_zero_result():
    f = mk("def f(x, y):\n    return np.sum(np.mean(x, axis=1)) + np.sum(y ** 2)\n")
    x = np.zeros((0, 3))
    y = np.array([0.5, -1.0, 2.0])
    check(f, [x, y], wrt=(0, 1), optimized=BOTH)


def test_crash_empty_slice_mean():
    f = mk("def f(x):\n    z = x[:0]\n    return np.sum(x ** 2) + np.sum(np.mean(z, axis=1))\n")
    check(f, [np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]])])


@pytest.mark.parametrize("src,shape", [
    ("def f(x):\n    return np.mean(x)\n", (0,)),
    ("def f(x):\n    return np.sum(np.mean(x, axis=0))\n", (0, 3)),
    ("def f(x):\n    return np.mean(x * 2.0) + 1.0\n", (2, 0)),
])
def test_crash_empty_mean_nan_value(src, shape):
    """The value is NaN (mean of nothing); the derivative must still be built and called."""
    f = mk(src)
    x = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for opt in (True, False):
            g = srcad.grad(f, optimized=opt)(_readonly(x))
            assert np.shape(g) == shape
            t = srcad.autodiff(f, mode="forward", optimized=opt)(_readonly(x),
                                                                 _readonly(np.zeros(shape)))
            assert np.ndim(t) == 0


# ----------------------------------------------------------------------------------------
# Mechanism: unknown means refused (NoRuleError at build time), never a zero derivative
# ----------------------------------------------------------------------------------------

XP = np.array([-2.0, 0.0, 1.0, 3.0])
FP = np.array([1.0, 2.0, 0.5, 4.0])
VSIN = np.vectorize(math.sin)
PYEXP = np.frompyfunc(math.exp, 1, 1)
try:
    from scipy.special import erf as ERF
except ImportError:  # pragma: no cover
    ERF = None

UNKNOWN = {
    "math_fsum_list": ("def f(x):\n    return math.fsum(x) * 2.0\n", "list"),
    "math_fsum_elems": ("def f(x):\n    return math.fsum([x[0], x[1] * 2.0])\n", "array"),
    "fft_real": ("def f(x):\n    return np.sum(np.fft.fft(x).real * W4)\n", "array"),
    "fft_real_func": ("def f(x):\n    return np.sum(np.real(np.fft.fft(x)) ** 2)\n", "array"),
    "rfft_abs": ("def f(x):\n    return np.sum(np.abs(np.fft.rfft(x)) ** 2)\n", "array"),
    "fft_energy_doc": ("def f(x):\n    spectrum = np.fft.fft(x)\n"
                       "    return np.sum(np.abs(spectrum) ** 2)\n", "array"),
    "vectorize": ("def f(x):\n    return np.sum(VSIN(x))\n", "array"),
    "frompyfunc": ("def f(x):\n    return np.sum(PYEXP(x).astype(float))\n", "array"),
    "reduce_mul": ("def f(x):\n    return functools.reduce(operator.mul, [x[0], x[1], x[2]])\n",
                   "array"),
    "interp": ("def f(x):\n    return np.sum(np.interp(x, XP, FP))\n", "array"),
    "polyval": ("def f(x):\n    return np.sum(np.polyval(np.array([1.0, -2.0, 0.5]), x))\n",
                "array"),
    "compress_func": ("def f(x):\n    return np.sum(np.compress([True, False, True, True], x) ** 2)\n",
                      "array"),
    "compress_method": ("def f(x):\n    return np.sum(x.compress([True, False, True, True]) ** 2)\n",
                        "array"),
    "apply_along_axis": ("def f(x):\n    return np.sum(np.apply_along_axis(np.cumsum, 0, x) ** 2)\n",
                         "array"),
    "flat_attribute": ("def f(x):\n    return x.flat[1] * 2.0 + x[0]\n", "array"),
    "tolist_method": ("def f(x):\n    return x.tolist()[1] * 2.0 + x[0]\n", "array"),
    "math_hypot": ("def f(x):\n    return math.hypot(x[0], x[1])\n", "array"),
    "operator_mul": ("def f(x):\n    return np.sum(operator.mul(x, x))\n", "array"),
    "erf": ("def f(x):\n    return np.sum(ERF(x))\n", "array"),
    "trapezoid": ("def f(x):\n    return np.trapezoid(x ** 2)\n", "array"),
    "convolve": ("def f(x):\n    return np.sum(np.convolve(x, W4) ** 2)\n", "array"),
    "sorted_builtin": ("def f(x):\n    return sorted([x[0], x[1]])[0] * 3.0\n", "array"),
}


@pytest.mark.parametrize("name", sorted(UNKNOWN))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_unknown_operation_refused_or_right(name, mode):
    src, kind = UNKNOWN[name]
    if name == "erf" and ERF is None:
        pytest.skip("scipy missing")
    f = mk(src, W4=np.array([1.0, -0.5, 2.0, 0.25]), VSIN=VSIN, PYEXP=PYEXP, XP=XP, FP=FP,
           ERF=ERF)
    x = [0.5, -1.25, 2.0, 0.75] if kind == "list" else np.array([0.5, -1.25, 2.0, 0.75])
    if build_refuses(f, mode):      # NoRuleError is what the issue names; any SrcadError
        return                      # raised at build time is a refusal, not a wrong number
    # it built: then it must be right (and must not be refused only now)
    try:
        check(f, [x], modes=(mode,))
    except srcad.SrcadError as err:
        pytest.fail(f"built, then refused at call time (the issue asks for build time): {err}")


def test_unknown_function_without_source_refused():
    """A plain Python function srcad cannot read (exec'd without linecache)."""
    ns = namespace()
    exec(compile("def hidden(v):\n    return v * v * 3.0\n", "<no-source-here>", "exec"), ns)
    f = mk("def f(x):\n    return np.sum(hidden(x))\n", hidden=ns["hidden"])
    for mode in ("reverse", "forward"):
        with pytest.raises(srcad.SrcadError):
            d = srcad.autodiff(f, mode=mode)
            x = np.array([0.5, -1.25, 2.0])
            r = d(x) if mode == "reverse" else d(x, np.ones(3))
            pytest.fail(f"{mode}: a callable without source was differentiated: {r!r}")


@pytest.mark.parametrize("src", [
    "def f(x):\n    return np.sum(x * np.fft.fft(C4).real)\n",
    "def f(x):\n    return np.sum(x ** 2) * math.fsum([1.0, 2.0, 0.5])\n",
    "def f(x):\n    return np.sum(x * np.interp(C4, XP, FP))\n",
    "def f(x):\n    i = np.argmax(x)\n    return x[i] * 2.0 + np.sum(x)\n",
    "def f(x):\n    n = x.shape[0]\n    return np.sum(x ** 2) / n\n",
    "def f(x):\n    m = x > 0.0\n    return np.sum(np.where(m, x, 0.0) ** 2)\n",
])
def test_inactive_or_nondifferentiable_operations_work(src):
    f = mk(src, C4=np.array([1.0, -0.5, 2.0, 0.25]), XP=XP, FP=FP)
    check(f, [np.array([0.5, -1.25, 2.0, 0.75])])


def test_stop_gradient_of_unknown_operation():
    f = mk("def f(x):\n    return np.sum(x * srcad.stop_gradient(np.fft.fft(x).real))\n")
    x = np.array([0.5, -1.25, 2.0, 0.75])
    check(f, [x], expected_grad=np.fft.fft(x).real, tangents=[np.array([1.0, 0.0, 0.0, 0.0])],
          expected_jvp=np.fft.fft(x).real[0])


# ----------------------------------------------------------------------------------------
# Mechanism: optimized equals unoptimized, several shape patterns, read-only everything
# ----------------------------------------------------------------------------------------

SHAPED = {
    "mean_vs_sum": ("np.mean(x * y) + np.sum(x * y) / x.size", True),
    "dot_spellings": ("np.sum(np.dot(x, y.T)) + np.sum(x @ y.T) + np.sum(x.dot(y.T))", False),
    "broadcast": ("np.sum(np.tanh(x * y[0]) * 2.0)", True),
    "write_then_mean": ("np.mean(x * 1.0)", True),
    "reduction_axis": ("np.sum(np.max(x, axis=-1) * np.mean(y, axis=-1))", True),
}


def _shaped_body(name):
    expr, _ = SHAPED[name]
    if name == "write_then_mean":
        return ("def f(x, y):\n    t = x * 1.0\n    t[..., 0] = t[..., 0] * y[..., 0]\n"
                "    return np.mean(t) + np.sum(y)\n")
    return f"def f(x, y):\n    return {expr}\n"


@pytest.mark.parametrize("shape", [(3, 2), (1, 2), (3, 1)])
@pytest.mark.parametrize("name", sorted(SHAPED))
def test_shape_patterns_optimized_equals_unoptimized(name, shape):
    f = mk(_shaped_body(name))
    g = np.random.default_rng(7)
    x = g.uniform(0.3, 1.5, shape)
    y = g.uniform(-1.0, 1.0, shape)
    check(f, [x, y], wrt=(0, 1), optimized=BOTH)


@pytest.mark.parametrize("expr", ["np.sin(x) * 3.0", "x ** 2.0 + x", "np.mean(x * x)",
                                  "np.tanh(x) - x / 2.0"])
def test_zero_d_arguments(expr):
    f = mk(f"def f(x):\n    return {expr}\n")
    check(f, [np.array(0.7)])
    check(f, [0.7])
