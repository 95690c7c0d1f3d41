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
