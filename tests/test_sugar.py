"""Python sugar inside differentiated functions (issue 13, normalize/sugar.py): ``global``
declarations of names only read, ``del`` of a name never read again, ``:=`` evaluated once
and first, ``match`` on literal values, chained comparisons. Each: reverse and forward mode
against central differences, optimized and not, and a Hessian-vector product; what cannot be
lowered exactly is refused at ``srcad.grad(f)`` with its line."""
import numpy as np
import pytest

import srcad
from srcad.errors import SrcadSyntaxError
from helpers import make_function, rng

SOURCES = '''
def global_read(x):
    global SCALE
    return SCALE * np.sum(x ** 3)

def del_temporary(x):
    tmp = x * 2.0
    y = np.sin(tmp)
    del tmp
    for i in range(2):
        z = y * i
        del z
    return np.sum(y ** 2)

def walrus_in_test(x):
    if (n := x.shape[0]) > 2:
        return np.sum(np.sin(x)) / n
    return np.sum(x ** 2)

def walrus_value(x):
    total = (s := np.sum(x ** 2)) + np.sqrt(s) * s
    return total

def match_literals(x, kind="l2"):
    match kind:
        case "cube":
            return np.sum(x ** 3)
        case "l2" | "sq":
            return np.sum(np.sin(x) ** 2)
        case _:
            return np.sum(np.exp(x))

def match_falls_through(x, kind=1):
    y = x * 1.0
    match kind:
        case 1:
            y = np.sin(x)
        case 2:
            y = np.cos(x)
    return np.sum(y * x)

def chained(x):
    s = 0.0
    if 0 < x.shape[0] <= 5:
        s = np.sum(x ** 3)
    return s
'''

NS = {"SCALE": 1.5}


def _f(name):
    return make_function(SOURCES, dict(NS), name=name)


def _fd(f, x, *rest, h=1e-6):
    g = np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = h
        g.flat[k] = (f(x + e, *rest) - f(x - e, *rest)) / (2 * h)
    return g


CASES = [("global_read", ()), ("del_temporary", ()), ("walrus_in_test", ()),
         ("walrus_value", ()), ("match_literals", ()), ("match_literals", ("cube",)),
         ("match_literals", ("other",)), ("match_falls_through", (1,)),
         ("match_falls_through", (2,)), ("match_falls_through", (3,)), ("chained", ())]


@pytest.mark.parametrize("name, rest", CASES, ids=[f"{n}{r}" for n, r in CASES])
def test_lowered_sugar_differentiates_like_the_plain_code(name, rest):
    f = _f(name)
    x = rng(0).uniform(0.2, 1.0, 4)
    want = _fd(f, x, *rest)
    v = rng(1).standard_normal(4)
    for optimized in (True, False):
        np.testing.assert_allclose(srcad.grad(f, optimized=optimized)(x, *rest), want,
                                   rtol=1e-6, atol=1e-8)
        jvp = srcad.autodiff(f, mode="forward", optimized=optimized)(x, *rest, v)
        np.testing.assert_allclose(jvp, want @ v, rtol=1e-6, atol=1e-8)
    hv = srcad.hvp(f)(x, *rest, v)
    want_hv = (srcad.grad(f)(x + 1e-5 * v, *rest) - srcad.grad(f)(x - 1e-5 * v, *rest)) / 2e-5
    np.testing.assert_allclose(hv, want_hv, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("body, what", [
    ("tmp = x * 2.0\n    del tmp\n    return np.sum(tmp)", "del"),
    ("s = 1.0\n    return s + (s := np.sum(x ** 2)) * s", ":="),
    ("s = np.sum(x)\n    t = np.sum(x) > 0 and (u := s * 2.0) > 1\n    return s", ":="),
    ("s = np.sum(x)\n    while (s := s * 0.5) > 1.0:\n        pass\n    return s", ":="),
    ("match x.shape:\n        case (n,):\n            return np.sum(x) * n\n    return 0.0",
     "match"),
    ("global SCALE\n    SCALE = 2.0\n    return np.sum(x)", "global"),
])
def test_sugar_that_cannot_be_lowered_exactly_is_refused_with_its_line(body, what):
    f = make_function(f"def f(x):\n    {body}\n", dict(NS))
    with pytest.raises(SrcadSyntaxError, match=what) as info:
        srcad.grad(f)
    assert ":2:" in str(info.value) or ":3:" in str(info.value) or ":4:" in str(info.value)


def test_match_lowered_reads_its_subject_once():
    f = make_function("def f(x, k):\n    match k * 2:\n        case 2:\n            return "
                      "np.sum(x ** 2)\n        case _:\n            return np.sum(x)\n", {})
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(srcad.grad(f)(x, 1), 2 * x)
    np.testing.assert_allclose(srcad.grad(f)(x, 3), np.ones(2))
    assert srcad.show(f).count("k * 2") == 1
