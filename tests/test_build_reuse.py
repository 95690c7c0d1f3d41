"""The first call's build (specialized on the arguments' shapes) takes the program the generic
build at ``srcad.grad(f)`` normalized (``api._NORMALIZED``) instead of normalizing the same
function again: the same generated code, one normalize, and a new one when what the
program resolved changed in between (a rebound global helper)."""
import numpy as np
import pytest

import srcad
import srcad.normalize
from srcad import api


def _helper(v):
    return np.sin(v) * v


def _uses_helper(x, y):
    a = _helper(x) * y
    b = np.tanh(a + 0.5 * x)
    return np.sum(b * b + np.exp(-a))


def _other_helper(v):
    return np.cos(v) + v * v


def _imports_inside(x):
    import math
    return np.sum(np.sin(x) * math.pi)


@pytest.fixture
def normalize_calls(monkeypatch):
    calls = []
    inner = srcad.normalize.normalize

    def counted(*args, **kwargs):
        calls.append(args[0].fn.__name__)
        return inner(*args, **kwargs)
    monkeypatch.setattr(srcad.normalize, "normalize", counted)
    return calls


def _fd(f, args, i, eps=1e-6):
    out = np.zeros_like(args[i])
    for k in range(args[i].size):
        hi = [a.copy() for a in args]
        lo = [a.copy() for a in args]
        hi[i].flat[k] += eps
        lo[i].flat[k] -= eps
        out.flat[k] = (f(*hi) - f(*lo)) / (2 * eps)
    return out


def _args():
    return np.linspace(0.1, 0.9, 5), np.linspace(0.3, 0.6, 5)


def test_the_first_call_reuses_the_generic_normalization(normalize_calls):
    srcad.clear_cache()
    x, y = _args()
    df = srcad.grad(_uses_helper, wrt=(0, 1))
    gx, gy = df(x, y)
    assert normalize_calls == ["_uses_helper"]          # the generic build's only
    np.testing.assert_allclose(gx, _fd(_uses_helper, (x, y), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gy, _fd(_uses_helper, (x, y), 1), rtol=1e-6, atol=1e-8)
    # forward mode, and a VJP with a seed, alike
    tx, ty = np.ones(5), np.linspace(-1.0, 1.0, 5)
    jvp = srcad.autodiff(_uses_helper, mode="forward", wrt=(0, 1))(x, y, tx, ty)
    fd = _fd(_uses_helper, (x, y), 0) @ tx + _fd(_uses_helper, (x, y), 1) @ ty
    np.testing.assert_allclose(jvp, fd, rtol=1e-6, atol=1e-8)
    assert normalize_calls == ["_uses_helper"] * 2


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_reused_program_generates_the_same_code(monkeypatch, mode):
    x, y = _args()
    srcad.clear_cache()
    reused = srcad.show(_uses_helper, x, y, wrt=(0, 1), mode=mode)

    class Forgetful(dict):
        def __setitem__(self, key, value):
            pass
    monkeypatch.setattr(api, "_NORMALIZED", Forgetful())
    srcad.clear_cache()
    assert srcad.show(_uses_helper, x, y, wrt=(0, 1), mode=mode) == reused


def test_a_helper_rebound_before_the_first_call_is_normalized_again(normalize_calls):
    global _helper
    srcad.clear_cache()
    x, y = _args()
    df = srcad.grad(_uses_helper, wrt=(0, 1))
    saved = _helper
    _helper = _other_helper
    try:
        gx, gy = df(x, y)
        assert normalize_calls == ["_uses_helper"] * 2   # the kept program was stale
        np.testing.assert_allclose(gx, _fd(_uses_helper, (x, y), 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gy, _fd(_uses_helper, (x, y), 1), rtol=1e-6, atol=1e-8)
    finally:
        _helper = saved


def test_an_import_inside_the_function(normalize_calls):
    srcad.clear_cache()
    x = np.linspace(0.1, 0.9, 4)
    g = srcad.grad(_imports_inside)(x)
    assert normalize_calls == ["_imports_inside"]
    np.testing.assert_allclose(g, np.cos(x) * np.pi, rtol=1e-12)


def test_hvp_over_reused_builds():
    """hvp: forward over reverse, both variants built from a kept program, against central
    differences of the gradient."""
    srcad.clear_cache()
    x, y = _args()
    v = np.linspace(-0.5, 0.5, 5)
    got = srcad.hvp(_uses_helper, wrt=0)(x, y, v)
    g = srcad.grad(_uses_helper, wrt=0)
    eps = 1e-6
    fd = (g(x + eps * v, y) - g(x - eps * v, y)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)
