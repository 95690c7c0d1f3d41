"""Python forms around numeric code (issue 13): ``functools.partial`` binding a keyword in
forward mode, ``*args``/``**kwargs`` parameters and ``f(*xs, **d)`` calls, generator
expressions in ``all``/``any``/``tuple``/``list``, ``with`` over a user context manager and
``try``/``except`` decided when the derivative is built. Every derivative is checked against
central differences, in both modes, and second order where it is smooth."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import srcad
from agreement import check_agreement
from helpers import central_difference, check_second_order_of, make_function, rng


def _weighted(w, X, y, weights):
    return np.sum(weights * (X @ w - y) ** 2)


def test_partial_keyword_forward():
    # the keyword names a positional parameter: the tangent once went into it (TypeError)
    g = rng(1)
    w, X, y, t = g.normal(size=3), g.normal(size=(5, 3)), g.normal(size=5), g.normal(size=3)
    p = functools.partial(_weighted, weights=np.linspace(0.5, 1.0, 5))
    want = central_difference(p, [w, X, y], 0) @ t
    np.testing.assert_allclose(srcad.autodiff(p, mode="forward")(w, X, y, t), want, rtol=1e-6)
    np.testing.assert_allclose(srcad.jvp(p, (w, X, y), (t,), wrt=0)[1], want, rtol=1e-6)
    np.testing.assert_allclose(srcad.grad(p)(w, X, y) @ t, want, rtol=1e-6)


# -- generator expressions in all / any / tuple / list ------------------------------------------

_GUARDS = make_function("""
def guards(x, vs):
    ok = all(v.shape == x.shape for v in vs if v.ndim == 1)
    big = any(np.sum(v) > 100.0 for v in vs)
    first = all(v[0] < 100.0 for v in vs)        # decided by vs[0]: vs[1][0] never read
    t = tuple(np.sum(v) * np.sum(x ** 2) for v in vs)
    u = list(np.sin(v * x) for v in vs[:1])
    a, b = t
    s = a * b if ok and not big else a
    if not first:
        s = s * 2.0
    return s * np.sum(u[0]) + len(t)
""")


@pytest.mark.parametrize("big", [False, True])
def test_all_any_tuple_genexp(big):
    g = rng(2)
    x = g.normal(size=3)
    vs = [g.normal(size=3) + (200.0 if big else 0.0), np.zeros(0) if big else g.normal(size=3)]
    want = central_difference(_GUARDS, [x, vs], 0)
    np.testing.assert_allclose(srcad.grad(_GUARDS)(x, vs), want, rtol=1e-6)
    t = g.normal(size=3)
    np.testing.assert_allclose(srcad.autodiff(_GUARDS, mode="forward")(x, vs, t), want @ t,
                               rtol=1e-6)
    if not big:
        check_second_order_of(_GUARDS, [x, vs])


def test_second_order_through_list_items_read_by_index():
    # renaming bt -> bt_2 (bt = add_at(bt, 0, ba) in the gradient) left `bt.pop()` marked
    # as popping bt: the Hessian-vector product was silently zero
    f = make_function("""
def f(x, vs):
    t = [np.sum(v * x) for v in vs]
    return t[0] * t[1]
""")
    g = rng(17)
    x, vs = g.normal(size=3), [g.normal(size=3), g.normal(size=3)]
    check_second_order_of(f, [x, vs])


@pytest.mark.parametrize("body", [
    "return tuple(np.sin(x) * i for i in range(2))",
    "t = tuple(np.sin(x) * i for i in range(2))\n    return np.sum(t[1]) if isinstance(t, tuple) "
    "else 0.0",
    "t = tuple(np.sin(x) * i for i in range(2)) + (x,)\n    return np.sum(t[2])",
])
def test_tuple_genexp_where_a_list_would_differ(body):
    # computed as a list, the tuple would be returned as a list, fail isinstance(t, tuple)
    # or fail to concatenate with a tuple: these stay tuple(...), whose rules (as list's)
    # keep it a tuple in the primal and the tangent (they were refused for want of a rule)
    f = make_function(f"def f(x):\n    {body}\n")
    x = np.array([0.3, -0.7])
    tangent = srcad.autodiff(f, mode="forward")(x, np.ones(2))
    assert type(tangent) is type(f(x))
    check_agreement(f, [x], 0)


# -- *args / **kwargs parameters, f(*xs, **d) calls ---------------------------------------------

def _bil(a, b, scale=1.0):
    return np.sum(np.sin(a) * b) * scale


def _stars(w, *args, **kwargs):
    total = np.sum(w ** 2)
    for i, a in enumerate(args):
        total = total + np.sum(np.tanh(a * w)) * (i + 1)
    if kwargs.get("mode", "sum") == "sum":
        total = total * kwargs.get("weight", 1.0)
    return total + _helper(w, *args, scale=2.0)


def _helper(*xs, **kw):
    x = xs[0] ** 2                      # a local named like the caller's argument
    return np.sum(x * xs[-1]) * kw["scale"] + len(xs)


def _fd(f, args, i, kwargs=None):
    return central_difference(lambda *a: f(*a, **(kwargs or {})), list(args), i)


@pytest.mark.parametrize("kwargs", [{}, {"weight": 0.5}, {"weight": 0.5, "mode": "mean"}])
def test_star_args_and_kwargs(kwargs):
    g = rng(3)
    w, a, b = g.normal(size=3), g.normal(size=3), g.normal(size=(2, 3))
    args = (w, a, b)
    for wrt in (0, 1, 2, (0, 2)):
        got = srcad.grad(_stars, wrt=wrt)(*args, **kwargs)
        items = wrt if isinstance(wrt, tuple) else (wrt,)
        want = tuple(_fd(_stars, args, i, kwargs) for i in items)
        for gi, wi in zip(got if isinstance(wrt, tuple) else (got,), want):
            np.testing.assert_allclose(gi, wi, rtol=1e-6, atol=1e-9)
    # the *args parameter by name: a tuple like it; forward mode with a tuple tangent
    got = srcad.grad(_stars, wrt="args")(*args, **kwargs)
    assert type(got) is tuple and len(got) == 2
    np.testing.assert_allclose(got[1], _fd(_stars, args, 2, kwargs), rtol=1e-6, atol=1e-9)
    t = (g.normal(size=3), g.normal(size=(2, 3)))
    want = np.sum(_fd(_stars, args, 1, kwargs) * t[0]) + np.sum(_fd(_stars, args, 2, kwargs) * t[1])
    got = srcad.autodiff(_stars, mode="forward", wrt="args")(*args, t, **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(srcad.jvp(lambda *p: _stars(*p, **kwargs), args, (t[0],), wrt=1)[1],
                               np.sum(_fd(_stars, args, 1, kwargs) * t[0]), rtol=1e-6)
    # second order: forward over reverse (reverse over reverse takes no containers yet)
    v, h = g.normal(size=3), 1e-5
    grad = srcad.grad(_stars, wrt=1)
    want = (grad(w, a + h * v, b, **kwargs) - grad(w, a - h * v, b, **kwargs)) / (2 * h)
    hv = srcad.autodiff(grad, mode="forward", wrt=1)(*args, v, **kwargs)
    np.testing.assert_allclose(hv, want, rtol=1e-5, atol=1e-7)
    if not kwargs:
        np.testing.assert_allclose(srcad.hvp(_stars, wrt=1)(*args, v), want, rtol=1e-5,
                                   atol=1e-7)


def test_closures_unpacking_dicts_of_other_keys_do_not_share_a_build():
    # closures of one lambda share a build when their cells resolve alike; the keys of the
    # dict they unpack are read too (a build for {} once served {'weight': 0.5})
    def bind(kwargs):
        return lambda *p: _stars(*p, **kwargs)
    x = rng(7).normal(size=3)
    for kwargs in ({}, {"weight": 0.5}, {"weight": 0.25, "mode": "mean"}):
        f = bind(kwargs)
        np.testing.assert_allclose(srcad.grad(f)(x, x), _fd(f, [x, x], 0), rtol=1e-6)


def test_star_kwargs_by_name_is_a_dict():
    f = make_function("def f(x, **opts):\n    return np.sum(np.sin(x) * opts['a']) * opts['b']\n")
    g = rng(4)
    x, a = g.normal(size=3), g.normal(size=3)
    got = srcad.grad(f, wrt="opts")(x, a=a, b=1.5)
    assert type(got) is dict and list(got) == ["a", "b"] and isinstance(got["b"], float)
    np.testing.assert_allclose(got["a"], np.sin(x) * 1.5)
    np.testing.assert_allclose(got["b"], np.sum(np.sin(x) * a))
    np.testing.assert_allclose(srcad.grad(f)(x, b=1.5, a=a), np.cos(x) * a * 1.5)


@pytest.mark.parametrize("body", [
    "xs = [x * 2.0, y]\n    return _bil(*xs)",
    "return _bil(*(x, y), scale=3.0)",
    "return _bil(x, **{'b': y, 'scale': 2.0})",
    "d = {'b': y, 'scale': 2.0}\n    return _bil(x, **d)",
    "xs = (x, y)\n    return np.sum(np.multiply(*xs))",
    "return _bil(*pair) + np.sum(x * pair[0] ** 2)",
    "return _bil(x, **OPTS)",
])
def test_unpacking_in_calls(body):
    ns = {"_bil": _bil, "OPTS": {"b": np.linspace(0, 1, 3), "scale": 0.5}}
    f = make_function(f"def f(x, y, pair):\n    {body}\n", ns)
    g = rng(5)
    args = [g.normal(size=3), g.normal(size=3), (g.normal(size=3), g.normal(size=3))]
    for wrt in (0, 1):
        want = central_difference(f, args, wrt)
        np.testing.assert_allclose(srcad.grad(f, wrt=wrt)(*args), want, rtol=1e-6, atol=1e-9)
        t = g.normal(size=3)
        np.testing.assert_allclose(srcad.autodiff(f, mode="forward", wrt=wrt)(*args, t),
                                   np.sum(want * t), rtol=1e-6, atol=1e-9)
    got = srcad.grad(f, wrt=2)(*args)           # the unpacked tuple: a tuple derivative
    assert type(got) is tuple and len(got) == 2


def test_global_dict_unpacked_keys_are_a_dependency():
    ns = {"_bil": _bil, "OPTS": {"b": np.ones(3)}}
    f = make_function("def f(x):\n    return _bil(x, **OPTS)\n", ns)
    x = rng(6).normal(size=3)
    df = srcad.grad(f)
    np.testing.assert_allclose(df(x), np.cos(x))
    np.testing.assert_allclose(df(x), np.cos(x))        # the fast path, too
    ns["OPTS"]["scale"] = 3.0                          # the same dict, a key more
    np.testing.assert_allclose(df(x), 3.0 * np.cos(x))
    ns["OPTS"]["b"] = 2.0 * np.ones(3)                  # values are read per call
    np.testing.assert_allclose(df(x), 6.0 * np.cos(x))


@pytest.mark.parametrize("source, wrt, call, error, message", [
    ("def f(*xs):\n    return np.sum(xs[0])\n", 2, (np.ones(2),), srcad.ArgumentError,
     "is positional argument 2, but the call passes 1"),
    ("def f(*xs):\n    return np.sum(xs[0])\n", -1, (np.ones(2),), ValueError,
     "count its positional arguments from 0"),
    ("def f(*xs):\n    return np.sum(xs[1]) * xs[0]\n", 0, (3, np.ones(2)),
     srcad.NotDifferentiableError, r"with respect to xs\[0\]: it is an integer"),
    ("def f(x, xs):\n    return np.sum(np.add(*xs))\n", 0, (np.ones(2), np.ones((2, 2))),
     srcad.SrcadSyntaxError, "does not differentiate \\*-unpacking"),
    ("def f(x, n):\n    ys = []\n    for i in range(n):\n        ys.append(x * i)\n"
     "    return np.sum(np.add(*ys))\n", 0, (np.ones(2), 2), srcad.SrcadSyntaxError,
     "does not differentiate \\*-unpacking"),
])
def test_star_refusals_are_located(source, wrt, call, error, message):
    f = make_function(source)
    with pytest.raises(error, match=message) as info:
        srcad.grad(f, wrt=wrt)(*call)
    if error is not ValueError:
        assert info.value.location is not None


# -- with over a user's context manager --------------------------------------------------------

class _Recorder:
    """A context manager that logs its enter and exit (the exception it saw)."""
    log: list = []

    def __init__(self, name, swallow=False):
        self.name, self.swallow = name, swallow

    def __enter__(self):
        self.log.append(("enter", self.name))
        return self

    def __exit__(self, kind, exc, tb):
        self.log.append(("exit", self.name, kind))
        return self.swallow


_LOCK = __import__("threading").Lock()
_WITH = make_function("""
def with_blocks(x, p):
    with Rec("a"), LOCK:
        y = np.sin(x) * p["w"]
        z = sum(np.cos(v) for v in y)
    with np.errstate(divide="ignore"), Rec("b") as unused:
        w = np.log(np.abs(y) + 1.0)
    return np.sum(y * y) + z + np.sum(w * x)
""", {"Rec": _Recorder, "LOCK": _LOCK})


def test_user_context_manager_runs_once_in_the_primal():
    g = rng(8)
    x, p, t = g.normal(size=3), {"w": g.normal(size=3)}, g.normal(size=3)
    want = central_difference(lambda x: _WITH(x, p), [x], 0)
    for mode in ("reverse", "forward"):
        _Recorder.log.clear()
        d = srcad.autodiff(_WITH, mode=mode)
        got = d(x, p) if mode == "reverse" else d(x, p, t)
        np.testing.assert_allclose(got, want if mode == "reverse" else want @ t, rtol=1e-6)
        assert _Recorder.log == [("enter", "a"), ("exit", "a", None), ("enter", "b"),
                                 ("exit", "b", None)], mode
        assert not _LOCK.locked()
    v, h = g.normal(size=3), 1e-5
    grad = srcad.grad(_WITH)
    fd = (grad(x + h * v, p) - grad(x - h * v, p)) / (2 * h)
    np.testing.assert_allclose(srcad.hvp(_WITH)(x, p, v), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("swallow", [False, True])
def test_exception_in_a_with_block_reaches_exit(swallow):
    f = make_function("""
def f(x):
    with Rec("c", SWALLOW):
        y = np.sqrt(x)
        assert np.all(x > 0), "negative"
    return np.sum(y)
""", {"Rec": _Recorder, "SWALLOW": swallow})
    _Recorder.log.clear()
    with pytest.raises(srcad.NotDifferentiableError if swallow else AssertionError,
                       match="suppressed AssertionError" if swallow else "negative"):
        with np.errstate(invalid="ignore"):
            srcad.grad(f)(-np.ones(2))
    assert _Recorder.log == [("enter", "c"), ("exit", "c", AssertionError)]
    d = srcad.grad(f)
    for _ in range(3):          # the dispatcher's fast path, too
        np.testing.assert_allclose(d(np.full(2, 4.0)), [0.25, 0.25])
    _Recorder.log.clear()
    with pytest.raises(srcad.NotDifferentiableError if swallow else AssertionError):
        with np.errstate(invalid="ignore"):
            d(-np.ones(2))
    assert _Recorder.log == [("enter", "c"), ("exit", "c", AssertionError)]


@pytest.mark.parametrize("body, message", [
    ("with Rec('d') as r:\n        y = x * len(r.name)\n    return np.sum(y)",
     "the value `with ... as` binds is read"),
    ("with contextlib.suppress(ValueError):\n        y = x\n    return np.sum(y)",
     "contextlib.suppress"),
    ("with Rec('e'):\n        return np.sum(x)", "`return` inside `with`"),
    ("s = 0.0\n    for i in range(2):\n        with Rec('f'):\n            if i:\n"
     "                break\n            s = s + np.sum(x)\n    return s", "`break` inside `with`"),
])
def test_with_refusals_are_located(body, message):
    import contextlib
    f = make_function(f"def f(x):\n    {body}\n", {"Rec": _Recorder, "contextlib": contextlib})
    with pytest.raises(srcad.SrcadSyntaxError, match=message) as info:
        srcad.grad(f)(np.ones(2))
    assert info.value.location is not None and info.value.location.lineno >= 2


# -- try/except decided when the derivative is built ----------------------------------------------

_TRY = make_function("""
def with_try(p, x):
    try:
        b = p["b"]
    except KeyError:
        return np.sum(np.sin(x) ** 2) * p["w"][0]       # a return in the handler
    else:
        c = b * 2.0
    try:
        w = p["w"]
    except KeyError:
        w = 1.0
    finally:
        s = np.sum(p["w"] * x)
    try:
        first = p["layers"][3]
    except (IndexError, KeyError):
        first = p["layers"][1]
    try:
        from math import not_a_name
    except ImportError:
        not_a_name = 3.0
    try:
        import math
    except ImportError:
        math = None
    return np.sum(x * c * first * w) + s * not_a_name * math.pi
""")


@pytest.mark.parametrize("keys", [("w", "b", "layers"), ("w", "layers")])
def test_try_decided_when_built(keys):
    g = rng(9)
    full = {"w": g.normal(size=3), "b": g.normal(size=3), "layers": [1.5, 2.5]}
    p = {k: full[k] for k in keys}
    x, t = g.normal(size=3), g.normal(size=3)
    want = central_difference(lambda x: _TRY(p, x), [x], 0)
    np.testing.assert_allclose(srcad.grad(_TRY, wrt=1)(p, x), want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(srcad.autodiff(_TRY, mode="forward", wrt=1)(p, x, t), want @ t,
                               rtol=1e-6, atol=1e-9)
    gp = srcad.grad(_TRY)(p, x)
    assert list(gp) == list(p)
    np.testing.assert_allclose(gp["w"], central_difference(lambda w: _TRY({**p, "w": w}, x),
                                                           [p["w"]], 0), rtol=1e-6, atol=1e-9)
    v, h = g.normal(size=3), 1e-5
    grad = srcad.grad(_TRY, wrt=1)
    fd = (grad(p, x + h * v) - grad(p, x - h * v)) / (2 * h)
    np.testing.assert_allclose(srcad.hvp(_TRY, wrt=1)(p, x, v), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("body, message", [
    ("try:\n        v = x[5]\n    except IndexError:\n        v = 0.0\n    return np.sum(v * x)",
     "try/except here"),
    ("try:\n        v = np.log(x)\n    except FloatingPointError:\n        v = x\n"
     "    return np.sum(v)", "try/except here"),
    ("try:\n        v = p['zz']\n    except ValueError:\n        v = 0.0\n    return np.sum(v * x)",
     "the container has no item 'zz'"),
    ("try:\n        v = p['zz']\n    except KeyError as e:\n        v = 0.0\n"
     "    return np.sum(v * x)", "except ... as e"),
    ("try:\n        import not_a_module_anywhere\n    except ValueError:\n        pass\n"
     "    return np.sum(x)", "the import fails"),
    ("try:\n        v = p['zz']\n    except KeyError:\n        return np.sum(x)\n"
     "    finally:\n        v = 2.0\n    return np.sum(v * x)", "`return` in a try with `finally`"),
    ("try:\n        v = p['w']\n    finally:\n        return np.sum(x)\n", "`return` in a try "
     "with `finally`"),
])
def test_try_refusals_are_located(body, message):
    f = make_function(f"def f(p, x):\n    {body}\n")
    with pytest.raises(srcad.SrcadSyntaxError, match=message) as info:
        srcad.grad(f, wrt=1)({"w": np.ones(3)}, np.ones(3))
    assert info.value.location is not None and info.value.location.lineno >= 2


def test_jacobian_and_hessian_of_star_args():
    f = make_function("def f(*xs):\n    return np.sum(np.sin(xs[0]) * xs[1] ** 2)\n")
    g = make_function("def g(*xs):\n    return np.sin(xs[0]) * xs[1] ** 2\n")
    x, y = rng(10).normal(size=3), rng(11).normal(size=3)
    for wrt in (0, 1):
        np.testing.assert_allclose(srcad.jacobian(g, wrt=wrt)(x, y),
                                   central_difference(g, [x, y], wrt), rtol=1e-6, atol=1e-9)
    H = srcad.hessian(f, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(H[0][0], np.diag(-np.sin(x) * y ** 2), atol=1e-12)
    np.testing.assert_allclose(H[0][1], np.diag(2 * y * np.cos(x)), atol=1e-12)
    np.testing.assert_allclose(H[1][1], np.diag(2 * np.sin(x)), atol=1e-12)
    with pytest.raises(srcad.NotDifferentiableError, match="all of a \\*args"):
        srcad.jacobian(g, wrt="xs")(x, y)


def test_comprehension_in_a_handler_runs_only_there():
    # lowered to a loop before the whole try, it read p['extra'] when 'b' was there
    f = make_function("""
def f(p, x):
    try:
        b = p["b"]
    except KeyError:
        b = sum(v * x for v in p["extra"])
    return np.sum(b * x)
""")
    x = rng(12).normal(size=3)
    for p in ({"b": np.full(3, 2.0)}, {"extra": [np.ones(3), np.full(3, 2.0)]}):
        np.testing.assert_allclose(srcad.grad(f, wrt=1)(p, x),
                                   central_difference(lambda x: f(p, x), [x], 0), rtol=1e-6)


def test_helper_local_named_like_a_callers_leaf():
    # the helper's `params_W = ...` once rebound the caller's leaf params_W (silently wrong)
    f = make_function("""
def helper(p):
    params_W = p["W"] * 2.0
    return np.sum(params_W * p["W"])

def f(params, x):
    return helper(params) + np.sum(params["W"] * x)
""")
    x, w = rng(13).normal(size=3), rng(14).normal(size=3)
    value, gx = srcad.value_and_grad(f, wrt=1)({"W": w}, x)
    np.testing.assert_allclose(value, f({"W": w}, x))
    np.testing.assert_allclose(gx, w)
    np.testing.assert_allclose(srcad.grad(f)({"W": w}, x)["W"], 4.0 * w + x)


def test_verify_takes_a_helper_defined_below(monkeypatch):
    # SRCAD_VERIFY compiled the optimized tree with the line ranges of the helper's lines
    # inside the caller's: an InternalError for any helper defined after its caller
    monkeypatch.setenv("SRCAD_VERIFY", "1")
    f = make_function("""
def f(w, a):
    return np.sum(w ** 2) + h(w, a)

def h(a, b):
    x = a ** 2
    return np.sum(x * b)
""", name="f")
    w, a = rng(15).normal(size=3), rng(16).normal(size=3)
    np.testing.assert_allclose(srcad.grad(f)(w, a), 2 * w + 2 * w * a)


def test_star_parameters_refused_where_no_call_gives_them():
    f = make_function("def f(*xs):\n    return np.sum(xs[0] * xs[1])\n")
    with pytest.raises(srcad.SrcadSyntaxError, match="each call's length and keys"):
        srcad.show(f)
    assert "def df_dxs_0(xs_0, xs_1):" in srcad.show(f, np.ones(2), np.ones(2))
    g = make_function("def g(x):\n    h = lambda *a: a[0] * 2\n    return np.sum(h(x))\n")
    with pytest.raises(srcad.SrcadSyntaxError, match="of a nested function or lambda") as info:
        srcad.grad(g)(np.ones(2))
    assert info.value.location.lineno == 2


# -- nested unpacking targets -------------------------------------------------------------------

_NESTED = make_function("""
def layers_unpacked(layers, x):
    (W1, b1), rest = layers[0], layers[1:]
    h = np.tanh(W1 @ x + b1)
    for W, b in rest:
        h = np.tanh(W @ h + b)
    return np.sum(h)

def deep(x):
    ((a, b), c), d = ((x[0], x[1] * 2.0), np.sin(x[2])), x[3]
    u, (v, w) = x * 2.0, (np.cos(x), x[0])
    return a * b * c - d + np.sum(u * v) * w

def loops(pairs, cs, x):
    s = 0.0
    for i, ((a, b), c) in enumerate(zip(pairs, cs)):
        s = s + np.sum(a * b * x) * c * (i + 1.0)
    for (a, b), c in zip(pairs, cs):
        s = s + np.sum(a * x) * b[0] * c
    for i, (a, b) in enumerate(pairs, 2):
        s = s + i * np.sum(a * b * x)
    return s
""", name=None)


def _nested(name):
    return _NESTED.__globals__[name]


@pytest.mark.parametrize("wrt", [0, 1])
def test_nested_unpacking_of_a_list_of_layers(wrt):
    g = rng(11)
    layers = [(g.normal(size=(3, 2)), g.normal(size=3)), (g.normal(size=(3, 3)), g.normal(size=3))]
    args = [layers, g.normal(size=2)]
    srcad.check_grad(_nested("layers_unpacked"), *args, wrt=wrt)


def test_nested_unpacking_targets_any_depth():
    x = rng(12).normal(size=4)
    srcad.check_grad(_nested("deep"), x)
    check_second_order_of(_nested("deep"), [x])


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_loops_with_nested_targets_over_enumerate_and_zip(wrt):
    g = rng(13)
    pairs = [(g.normal(size=3), g.normal(size=3)) for _ in range(3)]
    args = [pairs, g.normal(size=3), g.normal(size=3)]
    srcad.check_grad(_nested("loops"), *args, wrt=wrt)


@pytest.mark.parametrize("body, error", [
    ("(a, b), c = (x, x, x), 1.0", "too many values to unpack"),
    ("(a, b), c = x[:1], 1.0", "not enough values to unpack"),
])
def test_a_nested_target_of_the_wrong_length_raises_as_python_does(body, error):
    f = make_function(f"""
        def f(x):
            {body}
            return np.sum(a * b) * c
        """)
    x = np.ones(3)
    with pytest.raises(ValueError, match=error):
        f(x)
    with pytest.raises(ValueError, match=error):
        srcad.grad(f)(x)


def test_a_starred_target_is_refused_with_what_to_write():
    f = make_function("""
        def f(xs):
            first, *rest = xs
            return np.sum(first)
        """)
    with pytest.raises(srcad.SrcadSyntaxError, match="starred unpacking targets") as info:
        srcad.grad(f)([np.ones(2), np.ones(2)])
    assert "xs[0], list(xs[1:])" in str(info.value)


# -- a list built in the function, *-unpacked by a helper ---------------------------------------

_STAR_HELPER = make_function("""
def total(*vals):
    s = 0.0
    for v in vals:
        s = s + v
    return s

def star_call(parts, scale=1.0):
    return scale * total(*parts) ** 2

def star_call_list(x):
    pieces = [np.sum(x), np.sum(x ** 2), np.sum(np.cos(x))]
    return star_call(pieces) + star_call((x[0], x[1] * 3.0), scale=0.5)
""")


def test_a_helper_unpacking_a_list_the_function_built():
    """``h(pieces)`` with ``def h(parts): return total(*parts)``: refused ("*-unpacking")
    because the list reached the helper as a value of unknown length (corpus2
    star_call_list)."""
    x = rng(14).normal(size=3)
    srcad.check_grad(_STAR_HELPER, x)
    check_second_order_of(_STAR_HELPER, [x])


def _weighted_quartic(w, lam=1.0, *, scale=2.0):
    return np.sum(np.sin(w) ** 2) * scale + lam * np.sum(w ** 4)


def _mapped(w, lam=1.0):
    return np.sin(w) * lam + w ** 3


@pytest.mark.parametrize("wrt", [0, (0,)])
def test_keyword_arguments_reach_jacobians_and_hessians(wrt):
    """hessian(f)(w, lam=...) and jacobian(f)(w, lam=...) were TypeErrors: the keywords of the
    call now reach every sweep, keyword-only parameters included."""
    w = np.array([0.3, -0.7, 1.1])
    hessian = srcad.hessian(_weighted_quartic, wrt=wrt)(w, lam=0.5, scale=3.0)
    hessian = hessian[0][0] if wrt == (0,) else hessian
    np.testing.assert_allclose(hessian, np.diag(6.0 * np.cos(2 * w) + 6.0 * w ** 2),
                               rtol=1e-12, atol=1e-12)
    for jac in (srcad.jacobian, srcad.jacfwd, srcad.jacrev):
        jacobian = jac(_mapped, wrt=wrt)(w, lam=0.25)
        jacobian = jacobian[0] if wrt == (0,) else jacobian
        np.testing.assert_allclose(jacobian, np.diag(0.25 * np.cos(w) + 3.0 * w ** 2),
                                   rtol=1e-12)


def _cubic_pair(x, y):
    return np.sum(x ** 3 * y)


@pytest.mark.parametrize("body", [
    "return np.sum(srcad.grad(h, wrt=1)(x, x * 2.0) ** 2)",
    "v, g = srcad.value_and_grad(h)(x, x)\n    return v + np.sum(g ** 2)",
    "return np.sum(srcad.autodiff(h, mode='forward')(x, x, x) * x)",
])
def test_a_derivative_made_in_the_call_is_differentiated(body):
    """``srcad.grad(h)(x)`` inside a differentiated function was refused ('cannot resolve the
    function <expr>'): a derivative made in the call from a module-level function and literal
    options is made when the derivative is built, then differentiated as ``dh(x)`` is."""
    f = make_function(f"def f(x):\n    {body}\n",
                      {"np": np, "srcad": srcad, "h": _cubic_pair})
    x, t = np.array([0.5, -1.0]), np.array([1.0, 0.3])
    h = 1e-6
    fd = (f(x + h * t) - f(x - h * t)) / (2 * h)
    np.testing.assert_allclose(srcad.grad(f)(x) @ t, fd, rtol=1e-6)
    np.testing.assert_allclose(srcad.jvp(f, (x,), (t,))[1], fd, rtol=1e-6)
    g = srcad.grad(f)
    np.testing.assert_allclose(srcad.hvp(f)(x, t), (g(x + h * t) - g(x - h * t)) / (2 * h),
                               rtol=1e-5, atol=1e-8)


def test_a_derivative_made_in_the_call_from_a_parameter_is_refused():
    f = make_function("def f(x, k):\n    return np.sum(srcad.grad(h, wrt=k)(x, x))\n",
                      {"np": np, "srcad": srcad, "h": _cubic_pair})
    with pytest.raises(srcad.NoRuleError, match="module-level name or a literal") as info:
        srcad.grad(f)(np.ones(2), 1)
    assert info.value.location.lineno == 2


@pytest.mark.parametrize("expr", [
    "np.sum(np.add.reduce(x ** 2) ** 2)",
    "np.sum(np.multiply.reduce(x, 1) + np.add.accumulate(x, axis=1)[:, -1] ** 2)",
    "np.sum(np.multiply.accumulate(x) * np.maximum.reduce(x))",
])
def test_ufunc_methods_that_are_numpy_functions(expr):
    """np.add.reduce and friends raised an AttributeError from inside srcad (a ufunc method's
    __module__ is None); they are np.sum, np.prod, np.cumsum... with the method's axis 0."""
    f = make_function(f"def f(x):\n    return {expr}\n")
    x = np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 2.5]])
    g = srcad.grad(f)(x)
    e = np.zeros_like(x)
    fd = np.zeros_like(x)
    for i in range(x.size):
        e.flat[:] = 0.0
        e.flat[i] = 1e-6
        fd.flat[i] = (f(x + e) - f(x - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(srcad.jvp(f, (x,), (x,))[1], np.sum(g * x), rtol=1e-10)


@pytest.mark.parametrize("expr", ["np.maximum.reduceat(x, [0, 2])", "np.multiply.outer(x, x)"])
def test_other_ufunc_methods_are_refused_with_what_to_write(expr):
    f = make_function(f"def f(x):\n    return np.sum({expr})\n")
    with pytest.raises(srcad.NoRuleError, match="a method of a ufunc") as info:
        srcad.grad(f)(np.ones(3))
    assert info.value.location.lineno == 2 and "np.sum(a, axis=0)" in info.value.hint


@pytest.mark.parametrize("body", [
    "g = functools.partial(h, a=3.0)\n    return g(x)",
    "dh = srcad.grad(h)\n    return np.sum(dh(x, 2.0) ** 2)",
])
def test_a_local_bound_once_to_a_partial_or_a_derivative(body):
    """g = functools.partial(h, a=3.0) (or dh = srcad.grad(h)) inside the function, then
    g(x): was refused ('cannot call the local name g')."""
    def h(x, a):
        return np.sum(np.sin(x) * a)
    f = make_function(f"def f(x):\n    {body}\n",
                      {"np": np, "srcad": srcad, "functools": functools, "h": h})
    x, t = np.array([0.5, -1.0]), np.array([1.0, 0.3])
    e = 1e-6
    fd = (f(x + e * t) - f(x - e * t)) / (2 * e)
    np.testing.assert_allclose(srcad.grad(f)(x) @ t, fd, rtol=1e-6)
    np.testing.assert_allclose(srcad.jvp(f, (x,), (t,))[1], fd, rtol=1e-6)
