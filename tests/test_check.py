"""Self-test of srcad.check.check_grad: it accepts right derivatives and catches wrong ones.

The first half drives the checker through a stub ``srcad.api`` that returns hand-written
derivatives, so it tests the checker alone. The second half goes through the real compiler
and proves that a deliberately wrong rule registered with ``srcad.register_adjoint`` is caught.
"""
import sys
import types

import numpy as np
import pytest

import srcad
from srcad.check import check_grad
from srcad.errors import GradientCheckError, NotDifferentiableError


# -- a stub api: autodiff(f, mode, wrt) served from hand-written derivatives ------------------

class StubApi(types.ModuleType):
    """Stands in for srcad.api: derivatives come from ``rules[f] = (vjp, jvp)``.

    vjp(args, seed) returns one derivative per argument; jvp(args, tangents) receives one
    tangent per argument (zeros for arguments not in wrt) and returns the output tangent.
    """

    def __init__(self):
        super().__init__("srcad.api")
        self.rules = {}
        self.calls = []

    def autodiff(self, f, mode="reverse", wrt=0):
        vjp, jvp = self.rules[f]
        indices = (wrt,) if isinstance(wrt, int) else tuple(wrt)
        self.calls.append((mode, wrt))

        if mode == "reverse":
            def derivative(*args, seed=None):
                grads = vjp(args, seed)
                picked = tuple(grads[i] for i in indices)
                return picked[0] if isinstance(wrt, int) else picked
        else:
            def derivative(*args_and_tangents):
                n = len(args_and_tangents) - len(indices)
                args, given = args_and_tangents[:n], args_and_tangents[n:]
                tangents = [np.zeros_like(np.asarray(a, dtype=float)) for a in args]
                for i, t in zip(indices, given):
                    tangents[i] = t
                return jvp(args, tangents)
        return derivative


@pytest.fixture
def stub(monkeypatch):
    api = StubApi()
    monkeypatch.setitem(sys.modules, "srcad.api", api)
    monkeypatch.setattr(srcad, "api", api, raising=False)
    return api


def sin_times(x, y):
    return np.sum(np.sin(x) * y)


def sin_times_vjp(args, seed):
    x, y = args
    return seed * np.cos(x) * y, seed * np.sin(x)


def sin_times_jvp(args, tangents):
    (x, y), (dx, dy) = args, tangents
    return np.sum(np.cos(x) * dx * y + np.sin(x) * dy)


def test_stub_correct_array_function_passes(stub):
    stub.rules[sin_times] = (sin_times_vjp, sin_times_jvp)
    x, y = np.linspace(-1, 1, 7), np.linspace(0.5, 2, 7)
    check_grad(sin_times, x, y, wrt=(0, 1))
    check_grad(sin_times, x, y, wrt=1, mode="reverse")
    check_grad(sin_times, x, y, wrt=0, mode="forward")
    assert ("reverse", (0, 1)) in stub.calls and ("forward", 0) in stub.calls


def test_stub_wrong_adjoint_is_reported(stub):
    def wrong_vjp(args, seed):
        gx, gy = sin_times_vjp(args, seed)
        return gx, gy * 1.01
    stub.rules[sin_times] = (wrong_vjp, sin_times_jvp)
    x, y = np.linspace(-1, 1, 7), np.linspace(0.5, 2, 7)
    check_grad(sin_times, x, y, wrt=0, mode="reverse")  # arg 0 is right
    with pytest.raises(GradientCheckError) as info:
        check_grad(sin_times, x, y, wrt=(0, 1), mode="reverse")
    text = str(info.value)
    assert "reverse mode" in text and "argument 1 ('y')" in text
    assert "relative error" in text and "finite differences" in text
    assert "argument 0" not in text
    with pytest.raises(AssertionError):  # GradientCheckError is an AssertionError
        check_grad(sin_times, x, y, wrt=1)


def test_stub_wrong_tangent_is_reported_in_forward_mode_only(stub):
    def wrong_jvp(args, tangents):
        (x, y), (dx, dy) = args, tangents
        return np.sum(-np.cos(x) * dx * y + np.sin(x) * dy)
    stub.rules[sin_times] = (sin_times_vjp, wrong_jvp)
    x, y = np.linspace(-1, 1, 7), np.linspace(0.5, 2, 7)
    check_grad(sin_times, x, y, wrt=(0, 1), mode="reverse")
    with pytest.raises(GradientCheckError, match=r"forward mode, argument 0 \('x'\)"):
        check_grad(sin_times, x, y, wrt=(0, 1), mode="forward")
    with pytest.raises(GradientCheckError, match="forward vs reverse"):
        check_grad(sin_times, x, y, wrt=0, mode="both")


def test_stub_forward_reverse_disagreement_below_fd_tolerance_is_caught(stub):
    def slightly_off_jvp(args, tangents):
        return sin_times_jvp(args, tangents) * (1 + 1e-8)
    stub.rules[sin_times] = (sin_times_vjp, slightly_off_jvp)
    x, y = np.linspace(-1, 1, 7), np.linspace(0.5, 2, 7)
    check_grad(sin_times, x, y, wrt=0, mode="forward")  # within the FD tolerance
    with pytest.raises(GradientCheckError, match="forward vs reverse"):
        check_grad(sin_times, x, y, wrt=0)


def scalar_poly(a, b):
    return a * a * b + 3.0 * b


def test_stub_python_floats(stub):
    stub.rules[scalar_poly] = (
        lambda args, s: (s * 2 * args[0] * args[1], s * (args[0] ** 2 + 3.0)),
        lambda args, t: 2 * args[0] * args[1] * t[0] + (args[0] ** 2 + 3.0) * t[1])
    check_grad(scalar_poly, 1.5, -0.5, wrt=(0, 1))
    check_grad(scalar_poly, np.float64(1.5), 2.0, wrt=0)
    stub.rules[scalar_poly] = (
        lambda args, s: (s * 2 * args[0] * args[1], s * args[0] ** 2), stub.rules[scalar_poly][1])
    with pytest.raises(GradientCheckError, match="argument 1"):
        check_grad(scalar_poly, 1.5, -0.5, wrt=1, mode="reverse")


def two_outputs(A, x):
    return A @ x, np.sum(x * x)


def test_stub_tuple_and_array_outputs(stub):
    def vjp(args, seed):
        A, x = args
        u1, u2 = seed
        return np.outer(u1, x), A.T @ u1 + 2 * u2 * x

    def jvp(args, tangents):
        (A, x), (dA, dx) = args, tangents
        return dA @ x + A @ dx, np.sum(2 * x * dx)
    stub.rules[two_outputs] = (vjp, jvp)
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    check_grad(two_outputs, A, x, wrt=(0, 1))

    def wrong_vjp(args, seed):
        gA, gx = vjp(args, seed)
        return gA.T.copy().reshape(gA.shape), gx
    stub.rules[two_outputs] = (wrong_vjp, jvp)
    with pytest.raises(GradientCheckError, match="argument 0"):
        check_grad(two_outputs, A, x, wrt=(0, 1), mode="reverse")


def test_stub_wrong_shape_is_reported(stub):
    stub.rules[sin_times] = (lambda args, s: (np.sum(sin_times_vjp(args, s)[0]), None),
                             sin_times_jvp)
    with pytest.raises(GradientCheckError, match="structure"):
        check_grad(sin_times, np.ones(3), np.ones(3), wrt=0, mode="reverse")


def test_stub_float32_args_are_checked_in_float64_without_touching_them(stub):
    seen = []

    def vjp(args, seed):
        seen.append(args[0].dtype)
        return sin_times_vjp(args, seed)
    stub.rules[sin_times] = (vjp, sin_times_jvp)
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    y = np.ones(5, dtype=np.float32)
    before = x.copy()
    check_grad(sin_times, x, y, wrt=(0, 1), mode="reverse")
    assert seen == [np.float64]
    assert x.dtype == np.float32 and np.array_equal(x, before)


def test_integer_argument_is_rejected(stub):
    stub.rules[sin_times] = (sin_times_vjp, sin_times_jvp)
    with pytest.raises(NotDifferentiableError):
        check_grad(sin_times, np.arange(3), np.ones(3), wrt=0)


def test_bad_options_are_rejected(stub):
    stub.rules[sin_times] = (sin_times_vjp, sin_times_jvp)
    with pytest.raises(ValueError):
        check_grad(sin_times, np.ones(3), np.ones(3), wrt=2)
    with pytest.raises(ValueError):
        check_grad(sin_times, np.ones(3), np.ones(3), mode="sideways")


# -- through the real compiler -------------------------------------------------------------

def tanh_loss(x, y):
    return np.sum(np.tanh(x) * y)


def test_real_compiler_correct_function_passes():
    rng = np.random.default_rng(0)
    check_grad(tanh_loss, rng.standard_normal(5), rng.standard_normal(5), wrt=(0, 1))


def square_right(x):
    return x * x


def square_wrong(x):
    return x * x


def cube_right(x):
    return x * x * x


def _register_square_rules():
    from srcad.template import d

    @srcad.register_adjoint(square_right)
    def _square_right_adjoint(y, x):
        d[x] = d[y] * 2.0 * x

    @srcad.register_tangent(square_right)
    def _square_right_tangent(y, x):
        d[y] = d[x] * 2.0 * x

    @srcad.register_adjoint(square_wrong)
    def _square_wrong_adjoint(y, x):
        d[x] = d[y] * x  # wrong on purpose: the derivative of x*x is 2x

    @srcad.register_tangent(square_wrong)
    def _square_wrong_tangent(y, x):
        d[y] = d[x] * x  # wrong on purpose

    @srcad.register_adjoint(cube_right)
    def _cube_adjoint(y, x):
        d[x] = d[y] * 3.0 * x * x

    @srcad.register_tangent(cube_right)
    def _cube_tangent(y, x):
        d[y] = d[x] * 2.0 * x * x  # wrong on purpose: forward disagrees with reverse


@pytest.fixture(scope="module")
def square_rules():
    _register_square_rules()


def uses_square_right(x):
    return np.sum(square_right(x) * np.cos(x))


def uses_square_wrong(x):
    return np.sum(square_wrong(x) * np.cos(x))


def uses_cube(x):
    return np.sum(cube_right(x))


def test_real_registered_correct_rule_passes(square_rules):
    check_grad(uses_square_right, np.linspace(-1, 2, 6))


@pytest.mark.parametrize("mode", ["reverse", "forward", "both"])
def test_real_registered_wrong_rule_fails(mode, square_rules):
    with pytest.raises(GradientCheckError) as info:
        check_grad(uses_square_wrong, np.linspace(-1, 2, 6), mode=mode)
    assert f"{'forward' if mode == 'forward' else 'reverse'} mode" in str(info.value)


def test_real_wrong_tangent_only(square_rules):
    x = np.linspace(0.5, 2, 6)
    check_grad(uses_cube, x, mode="reverse")
    with pytest.raises(GradientCheckError, match="forward mode"):
        check_grad(uses_cube, x, mode="forward")
    with pytest.raises(GradientCheckError, match="forward vs reverse"):
        check_grad(uses_cube, x)
