"""The public API's types, checked by mypy in CI (`python -m mypy`; this file is never run).

Each `# type: ignore[code]` marks a call that must be rejected: with `warn_unused_ignores`, a
call that type-checks makes its ignore unused, which mypy reports as an error.
"""
from typing import Any

import numpy as np
from typing_extensions import assert_type

import srcad
from srcad.registry import d


def loss(w: np.ndarray, X: np.ndarray) -> float:
    return float(np.sum((X @ w) ** 2))


w: np.ndarray = np.ones(3)
X: np.ndarray = np.ones((2, 3))

# grad keeps f's parameters and adds source().
dloss = srcad.grad(loss)
assert_type(dloss(w, X), Any)
assert_type(dloss.source(), str)
dloss(w)  # type: ignore[call-arg]
dloss(w, X, 1.0)  # type: ignore[call-arg]
dloss("w", X)  # type: ignore[arg-type]
srcad.grad(loss, wrt=(0, "X"))(w, X)
srcad.grad(loss, wrt=1.5)  # type: ignore[call-overload]
typed: srcad.DerivativeFunction[[np.ndarray, np.ndarray], Any] = dloss
untyped: srcad.DerivativeFunction[[np.ndarray], Any] = dloss  # type: ignore[assignment]

# preserve_result=True and value_and_grad give (f's value, the gradient).
value, gradient = srcad.value_and_grad(loss)(w, X)
assert_type(value, float)
assert_type(srcad.grad(loss, preserve_result=True)(w, X)[0], float)
assert_type(srcad.value_and_grad(loss, wrt="X")(w, X)[0], float)

# The decorator forms.


@srcad.grad
def square(x: float) -> float:
    return x * x


@srcad.grad(wrt=(0, 1))
def product(x: float, y: float) -> float:
    return x * y


@srcad.value_and_grad(wrt="x")
def cube(x: float) -> float:
    return x ** 3


@srcad.autodiff(mode="forward")
def double(x: float) -> float:
    return 2.0 * x


square(2.0)
square("2")  # type: ignore[arg-type]
product(1.0, 2.0)
product(1.0)  # type: ignore[call-arg]
assert_type(cube(2.0)[0], float)
assert_type(double.source(), str)

# Modes are literals.
srcad.autodiff(loss, mode="forward")(w, X, w)
srcad.autodiff(loss, mode="reverse")(w, X, seed=1.0)
srcad.autodiff(loss, mode="backward")  # type: ignore[call-overload]
srcad.autodiff(mode="sideways")  # type: ignore[call-overload]
assert_type(srcad.show(loss, mode="forward", wrt=(0, 1)), str)
srcad.show(loss, mode="fwd")  # type: ignore[arg-type]
srcad.jacobian(loss, mode="auto")
srcad.jacobian(loss, mode="both")  # type: ignore[call-overload]
srcad.check_grad(loss, w, X, wrt=(0, 1), mode="both")
srcad.check_grad(loss, w, X, mode="all")  # type: ignore[arg-type]

# The derivative family.
assert_type(srcad.jvp(loss, (w, X), (w,), wrt=0)[0], float)
value, pullback = srcad.vjp(loss, w, X)
assert_type(value, float)
assert_type(pullback(1.0), Any)
assert_type(srcad.jacobian(loss)(w, X), np.ndarray)
assert_type(srcad.hessian(loss)(w, X), np.ndarray)
assert_type(srcad.hvp(loss)(w, X, w), Any)
assert_type(srcad.stop_gradient(w), np.ndarray)
assert_type(srcad.stop_gradient(2.0), float)


# Registering a rule keeps the template as it was written.
def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


@srcad.register_adjoint(softplus)
def softplus_adjoint(y: np.ndarray, x: np.ndarray) -> None:
    d[x] = d[y] / (1.0 + np.exp(-x))


@srcad.register_tangent(softplus, outputs=1)
def softplus_tangent(y: np.ndarray, x: np.ndarray) -> None:
    d[y] = d[x] / (1.0 + np.exp(-x))


softplus_adjoint(w, w)
softplus_adjoint(w)  # type: ignore[call-arg]
srcad.register_adjoint("softplus")  # type: ignore[arg-type]
