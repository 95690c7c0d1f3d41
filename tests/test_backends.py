"""backend='numba': derivatives numba compiles equal the plain (Python) ones and central
finite differences; code numba does not accept runs as Python, said once through the logger;
the generated source shown stays the readable one."""
from __future__ import annotations

import logging

import numpy as np
import pytest

import srcad
from srcad.backends import numba as numba_backend

from helpers import central_difference, make_function

numba = pytest.importorskip("numba", reason="numba is not installed (pip install srcad[numba])")

BUILDING = """
def building(R, C, power, T_out, price, dt):
    temperature, total = 19.0, 0.0
    for step in range(len(power)):
        flow = power[step] - (temperature - T_out[step]) / R
        temperature += flow * dt / C
        total += (temperature - 20.5) ** 2 * dt + price[step] * power[step] * dt
    return total
"""

SCALAR = """
def poly(x, y):
    z = 0.0
    for i in range(5):
        z = z * x + math.sin(y * i) - x * y / (1.0 + x * x)
    return z
"""

WHILE_BREAK = """
def damped(x, a):
    s = 0.0
    k = 0
    while k < 20:
        x = x - 0.1 * a * x * x
        s = s + x
        if s > 5.0:
            break
        k += 1
    return s
"""

def _args_building(n):
    g = np.random.default_rng(3)
    return (10.0, 2.0, 1.5 + 0.5 * g.random(n), 5.0 + g.standard_normal(n),
            0.2 + 0.1 * g.random(n), 0.25)

@pytest.mark.parametrize("source, args, wrt", [
    (BUILDING, _args_building(1), (0, 1, 2)),
    (BUILDING, _args_building(50), (0, 1, 2)),
    (SCALAR, (0.7, 0.3), (0, 1)),
    (WHILE_BREAK, (0.5, 0.8), (0, 1)),
    (WHILE_BREAK, (3.0, 0.1), (0, 1)),         # leaves by break
])
def test_numba_equals_plain_and_finite_differences(source, args, wrt, monkeypatch):
    f = make_function(source)
    plain = srcad.grad(f, wrt=wrt)(*args)
    runs = _record_compiled(monkeypatch)
    fast = srcad.grad(f, wrt=wrt, backend="numba")(*args)
    assert len(runs) == 1 and runs[0].fallback is None        # numba ran it
    assert runs[0].__srcad_numba__.signatures
    for a, b, i in zip(fast, plain, wrt):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
        assert type(np.asarray(a).dtype) is type(np.asarray(b).dtype)
        np.testing.assert_allclose(a, central_difference(f, args, i), rtol=1e-5, atol=1e-6)

def _record_compiled(monkeypatch):
    """The functions the numba backend makes from now on (the cache emptied first)."""
    runs: list = []
    original = numba_backend.compiled

    def spy(fn, source, namespace):
        runs.append(original(fn, source, namespace))
        return runs[-1]

    srcad.clear_cache()
    monkeypatch.setattr(numba_backend, "compiled", spy)
    return runs


def test_generic_variant_is_not_compiled(monkeypatch):
    runs = _record_compiled(monkeypatch)
    srcad.grad(make_function(SCALAR), wrt=(0, 1), backend="numba")   # built, not called
    assert runs == []         # shapes unknown: the generic NumPy code, nothing to compile

def test_fallback_says_why_once(caplog):
    f = make_function("""
def f(x):
    return np.sum(np.linalg.solve(np.outer(x, x) + np.eye(x.shape[0]), x) * x)
""")
    x = np.linspace(0.1, 0.9, 4)
    plain = srcad.grad(f)(x)
    with caplog.at_level(logging.WARNING, logger="srcad"):
        df = srcad.grad(f, backend="numba")
        first = df(x)
        second = df(x)
    np.testing.assert_allclose(first, plain, rtol=1e-13)
    np.testing.assert_allclose(second, plain, rtol=1e-13)
    messages = [r.getMessage() for r in caplog.records if "runs as Python code" in r.getMessage()]
    assert len(messages) == 1 and "df_dx" in messages[0], messages

def test_show_is_the_readable_source():
    f = make_function(BUILDING)
    shown = srcad.show(f, wrt=(0, 1, 2))      # the readable code, then the imports it needs
    assert shown.startswith(srcad.grad(f, wrt=(0, 1, 2), backend="numba").source())

def test_unknown_backend_is_refused():
    f = make_function(SCALAR)
    with pytest.raises(ValueError, match="backend must be one of"):
        srcad.grad(f, backend="jax")
