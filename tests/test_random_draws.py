"""Random draws in differentiated code (issue 13): a draw (``np.random.randn``, a method of a
``np.random.Generator``) is a value no input decides; the primal draws it once and the
derivative uses those values. Checkpointing replays loops, so a checkpointed loop that draws
is refused (a replay would draw other values: a silent wrong gradient)."""
from __future__ import annotations

import numpy as np
import pytest

import srcad
from srcad.errors import NotDifferentiableError
from agreement import check_agreement
from helpers import check_second_order_of, make_function


def _expected(f, x, seed):
    """The gradient of f (linear in x: sum(x * draws)) at x, by central differences, with the
    global random state seeded the same way before each call."""
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = 1e-6
        np.random.seed(seed)
        hi = f(x + e)
        np.random.seed(seed)
        lo = f(x - e)
        out.flat[i] = (hi - lo) / 2e-6
    return out


LEGACY_LOOP = """
def f(x):
    s = 0.0
    for i in range(4):
        e = np.random.randn(3)
        s = s + np.sum(x * e)
    return s
"""

GENERATOR_LOOP = """
def f(x):
    rng = np.random.default_rng(0)
    s = 0.0
    for i in range(4):
        e = rng.standard_normal(3)
        s = s + np.sum(x * e)
    return s
"""


def test_draws_in_a_loop_without_checkpointing():
    f = make_function(LEGACY_LOOP)
    x = np.linspace(0.5, 1.5, 3)
    np.random.seed(5)
    g = srcad.grad(f)(x)
    np.testing.assert_allclose(g, _expected(f, x, 5), rtol=1e-6)


@pytest.mark.parametrize("source", [LEGACY_LOOP, GENERATOR_LOOP], ids=["randn", "generator"])
@pytest.mark.parametrize("checkpoint", [True, 2])
def test_checkpointed_loop_that_draws_is_refused(source, checkpoint):
    # before: the replay of each segment drew new values, and the gradient was silently wrong
    f = make_function(source)
    with pytest.raises(NotDifferentiableError, match="draws random numbers") as info:
        srcad.grad(f, checkpoint=checkpoint)(np.ones(3))
    assert "<srcad-test-" in str(info.value) and "e = " in str(info.value)


def test_checkpointed_while_loop_that_draws_is_refused():
    f = make_function("""
def f(x):
    s = 0.0
    i = 0
    while i < 3:
        e = np.random.standard_normal(3)
        s = s + np.sum(x * e)
        i = i + 1
    return s
""")
    with pytest.raises(NotDifferentiableError, match="draws random numbers"):
        srcad.grad(f, checkpoint=True)(np.ones(3))


def test_draws_before_a_checkpointed_loop():
    f = make_function("""
def f(x):
    noise = np.random.randn(4, 3)
    h = x
    for t in range(4):
        h = np.tanh(h + noise[t])
    return np.sum(h)
""")
    x = np.linspace(-0.5, 0.5, 3)
    np.random.seed(2)
    g = srcad.grad(f, checkpoint=True)(x)
    np.random.seed(2)
    plain = srcad.grad(f)(x)
    np.testing.assert_allclose(g, plain, rtol=1e-12)


GENERATOR_ARG = """
def f(x, rng):
    mask = rng.random(x.shape) > 0.5
    e = rng.standard_normal(x.shape)
    return np.sum(np.sin(x) * mask * e) + np.sum(x ** 3 * e)
"""


def _draws(seed, shape):
    g = np.random.default_rng(seed)
    return g.random(shape) > 0.5, g.standard_normal(shape)


def test_generator_passed_in_draws_once():
    # the derivative uses the primal's draws, and advances the generator as f does
    f = make_function(GENERATOR_ARG)
    x = np.linspace(-1.0, 1.0, 5)
    mask, e = _draws(4, x.shape)
    expected = np.cos(x) * mask * e + 3 * x ** 2 * e
    v = np.linspace(0.3, 1.1, 5)
    rng = np.random.default_rng(4)
    np.testing.assert_allclose(srcad.grad(f)(x, rng), expected, rtol=1e-12)
    after = np.random.default_rng(4)
    f(x, after)
    assert rng.random() == after.random()
    forward = srcad.autodiff(f, mode="forward")(x, np.random.default_rng(4), v)
    np.testing.assert_allclose(forward, np.dot(expected, v), rtol=1e-12)
    hv = srcad.hvp(f)(x, np.random.default_rng(4), v)
    np.testing.assert_allclose(hv, (-np.sin(x) * mask + 6 * x) * e * v, rtol=1e-12)


@pytest.mark.parametrize("make, draw", [
    ("default_rng", "random(x.shape)"), ("default_rng", "standard_normal(x.shape)"),
    ("default_rng", "uniform(-1.0, 2.0, size=x.shape)"), ("default_rng", "normal(0.5, size=4)"),
    ("RandomState", "randn(4) + rng.rand(4)")])
def test_generator_methods_agree(make, draw):
    f = make_function(f"""
def f(x, seed=3):
    rng = np.random.{make}(seed)
    e = rng.{draw}
    return np.sum(np.tanh(x * e) ** 2)
""")
    x = np.linspace(-0.7, 0.9, 4)
    check_agreement(f, (x,), 0)
    check_second_order_of(f, (x,))


def test_draw_from_an_active_argument_is_refused():
    f = make_function("""
def f(x):
    rng = np.random.default_rng(0)
    return np.sum(rng.normal(x, 1.0) * x)
""")
    with pytest.raises(srcad.errors.NoRuleError, match="Generator.normal"):
        srcad.grad(f)(np.ones(3))


def test_seeded_legacy_draw_with_star_shape():
    # np.random.seed(s) runs once in the primal; *x.shape passes the shape to a function
    # without a derivative rule
    f = make_function("""
def f(X):
    np.random.seed(3)
    e = np.random.randn(*X.shape) + np.random.rand(*X.shape, 1)[..., 0]
    return np.sum(np.sin(X) * e)
""")
    X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    np.random.seed(3)
    e = np.random.randn(2, 3) + np.random.rand(2, 3, 1)[..., 0]
    np.testing.assert_allclose(srcad.grad(f)(X), np.cos(X) * e, rtol=1e-12)
    check_agreement(f, (X,), 0)
    check_second_order_of(f, (X,))


@pytest.mark.parametrize("source", [
    "def f(x):\n    return np.sum(np.add(*x.shape) * x)\n",
    "def f(x):\n    return np.sum(x.reshape(*x.shape))\n",
])
def test_star_in_a_call_with_a_rule_is_refused(source):
    f = make_function(source)
    with pytest.raises(srcad.SrcadSyntaxError, match="not differentiate \\*-unpacking here"):
        srcad.grad(f)(np.ones(3))
