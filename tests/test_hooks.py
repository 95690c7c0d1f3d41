"""Gradient hooks (issue 15): ``srcad.hook(x, fn)`` is ``x``, and its derivative passes through
``fn`` at that point of the generated code, in both modes, at any order."""
import numpy as np
import pytest

import srcad

seen: list = []


def clip(g):
    return np.clip(g, -1.0, 1.0)


def record(g):
    seen.append(np.array(g, dtype=float))
    return g


def double(g):
    return 2.0 * g


def clipped(x):
    h = np.sin(x) * 3.0
    h = srcad.hook(h, clip)
    return np.sum(h * 2.0) + np.sum(x ** 2)


def recorded(x, w):
    y = srcad.hook(x * w, record)
    return np.sum(np.tanh(y))


def in_a_loop(x):
    s = 0.0
    for k in range(3):
        x = srcad.hook(np.sin(x), double)
        s = s + np.sum(x)
    return s


def _helper(v):
    return srcad.hook(v * v, double)


def through_a_helper(x):
    return np.sum(_helper(x) * 3.0)


X = np.array([0.1, 0.5, 2.0])


def test_reverse_mode_applies_the_hook_to_the_gradient_it_sees():
    # d sum(2h)/dh = 2, clipped to 1; then through h = 3 sin(x)
    expected = 1.0 * 3.0 * np.cos(X) + 2.0 * X
    np.testing.assert_allclose(srcad.grad(clipped)(X), expected)
    assert "clip(" in srcad.show(clipped)          # readable, at that point of the adjoint


def test_forward_mode_applies_the_hook_to_the_tangent():
    for k in range(3):
        t = np.zeros(3)
        t[k] = 1.0
        # the tangent of h, 3 cos(x) t, is clipped before the sum doubles it
        expected = 2.0 * np.clip(3.0 * np.cos(X[k]), -1.0, 1.0) + 2.0 * X[k]
        np.testing.assert_allclose(srcad.autodiff(clipped, mode="forward")(X, t), expected)


def test_an_observing_hook_sees_the_gradient_and_changes_nothing():
    w = np.array([0.3, -0.2, 0.7])
    seen.clear()
    g = srcad.grad(recorded)(X, w)
    plain = (1.0 - np.tanh(X * w) ** 2) * w
    np.testing.assert_allclose(g, plain)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 1.0 - np.tanh(X * w) ** 2)   # the gradient of y


@pytest.mark.parametrize("f", [in_a_loop, through_a_helper])
def test_hooks_in_loops_and_helpers_act_at_each_pass(f):
    # the same function with the hook's effect written out: the gradient doubled per pass
    def by_hand(x):
        if f is through_a_helper:
            return 2.0 * 3.0 * 2.0 * x
        xs = [x]
        for _ in range(3):
            xs.append(np.sin(xs[-1]))
        g = np.zeros_like(x)          # cotangent of the current x, from later steps
        for k in reversed(range(3)):
            g = (g + 1.0) * 2.0       # d s / d x_{k+1}, through the hook
            g = g * np.cos(xs[k])
        return g
    np.testing.assert_allclose(srcad.grad(f)(X), by_hand(X))
    jvp = srcad.autodiff(f, mode="forward")
    if f is through_a_helper:
        np.testing.assert_allclose(jvp(X, np.ones(3)), np.sum(2.0 * 3.0 * 2.0 * X))


def test_second_order_differentiates_through_the_hook():
    # the gradient is 3 cos(x) clip(2) + 2x = 3 cos(x) + 2x: its Hessian is diag(2 - 3 sin x)
    np.testing.assert_allclose(srcad.hessian(clipped)(X), np.diag(2.0 - 3.0 * np.sin(X)))
