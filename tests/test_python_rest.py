"""What was left of issue 13: a user helper returning a container to its caller, a bound
method passed as a value, a loop over constants around a try decided at build time,
``has_aux`` on the rest of the family, reverse over reverse of functions taking containers.
Every derivative is checked against central differences in float64, in both modes."""
from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import srcad
from srcad import trees
from helpers import flat_leaves as _flat, tree_like as _like
from srcad.errors import SrcadSyntaxError

H = 1e-6
X = np.array([0.3, -0.5, 1.2])
P = {"W": np.array([[0.2, -0.4, 0.1], [0.5, 0.3, -0.2]]), "b": np.array([0.1, -0.3])}
Pair = namedtuple("Pair", ["h", "out"])


@dataclasses.dataclass
class Layer:
    h: np.ndarray
    out: np.ndarray


def fd_grad(f, args, wrt=0):
    """Central differences of scalar ``f`` in argument ``wrt`` (any container), flat."""
    base = _flat(args[wrt])
    out = np.zeros_like(base)
    for k in range(base.size):
        e = np.zeros_like(base)
        e[k] = H
        up, down = list(args), list(args)
        up[wrt], down[wrt] = _like(args[wrt], base + e), _like(args[wrt], base - e)
        out[k] = (f(*up) - f(*down)) / (2 * H)
    return out


def check_both(f, args, wrt=0):
    """grad (reverse) and a JVP (forward) against central differences."""
    fd = fd_grad(f, args, wrt)
    g = srcad.grad(f, wrt=wrt)(*args)
    assert trees.structure(g) == trees.structure(args[wrt])
    np.testing.assert_allclose(_flat(g), fd, rtol=1e-6, atol=1e-8)
    t = np.cos(np.arange(fd.size) + 1.0)
    tangent = _like(args[wrt], t)
    jvp = srcad.autodiff(f, mode="forward", wrt=wrt)(*args, tangent)
    np.testing.assert_allclose(jvp, fd @ t, rtol=1e-6, atol=1e-8)
    return fd


# -- 1. a helper returning a container ----------------------------------------------------------

def forward_dict(p, x):
    h = np.tanh(p * x)
    return {"h": h, "out": h * 2.0 + x}


def uses_dict(p, x):
    r = forward_dict(p, x)
    return np.sum(r["out"] ** 2) + np.sum(np.sin(r["h"]))


def forward_pair(p, x):
    h = np.sin(p) * x
    return Pair(h=h, out=np.exp(h))


def uses_namedtuple(p, x):
    r = forward_pair(p, x)
    return np.sum(r.out * r.h) + np.sum(r[0])


def forward_layer(p, x):
    h = p ** 2 * x
    return Layer(h=h, out=np.cos(h))


def uses_dataclass(p, x):
    layer = forward_layer(p, x)
    return np.sum(layer.out * p) + np.sum(layer.h)


def forward_tuple_of_dicts(p, x):
    a = p * x
    return {"v": a}, {"v": a ** 2, "w": np.sum(a)}


def uses_tuple_of_dicts(p, x):
    first, second = forward_tuple_of_dicts(p, x)
    return np.sum(first["v"] * second["v"]) + second["w"] ** 2


def uses_in_expression(p, x):
    return np.sum(forward_dict(p, x)["out"] ** 3) + np.sum(forward_dict(x, p)["h"])


def branchy(p, x):
    if np.sum(p) > 0:
        return {"h": p * x, "out": np.sin(p)}
    return {"h": -p, "out": np.cos(p * x)}


def uses_branchy(p, x):
    r = branchy(p, x)
    return np.sum(r["h"] * r["out"])


def nested_helpers(p, x):
    r = forward_dict(p, x)
    return {"r": r, "s": np.sum(r["out"])}


def uses_nested(p, x):
    q = nested_helpers(p, x)
    return q["s"] ** 2 + np.sum(q["r"]["h"])


def mlp(params, x):
    z = params["W"] @ x + params["b"]
    return {"z": z, "a": np.tanh(z)}


def mlp_loss(params, x):
    r = mlp(params, x)
    return np.sum(r["a"] ** 2) + 0.1 * np.sum(r["z"])


def scaled(params, s):
    return {k: s * v for k, v in params.items()}


def uses_scaled(params, x):
    q = scaled(params, 2.0)
    return np.sum(np.tanh(q["W"] @ x + q["b"]))


def in_loop(p, x):
    total = 0.0
    for i in range(3):
        r = forward_dict(p, x * i)
        total = total + np.sum(r["out"] * r["h"])
    return total


@pytest.mark.parametrize("f", [uses_dict, uses_namedtuple, uses_dataclass,
                               uses_tuple_of_dicts, uses_in_expression, uses_branchy,
                               uses_nested, in_loop])
def test_a_helper_returning_a_container(f):
    check_both(f, (X * 0.7 + 0.2, X))
    check_both(f, (X * 0.7 + 0.2, X), wrt=1)


@dataclasses.dataclass
class Model:
    W: np.ndarray

    def forward(self, x):
        h = np.tanh(self.W * x)
        return {"h": h, "o": np.sum(h ** 2)}

    def loss(self, x):
        r = self.forward(x)
        return r["o"] + np.sum(r["h"])


def model_loss(m, x):
    return m.loss(x)


def test_a_method_returning_a_container():
    m = Model(X * 0.5 + 1.0)
    check_both(model_loss, (m, X))
    check_both(model_loss, (m, X), wrt=1)
    np.testing.assert_allclose(srcad.grad(m.loss)(X), fd_grad(m.loss, (X,)), rtol=1e-6)


def main_returns_helpers(p, x):
    return forward_dict(p, x)


def test_the_differentiated_function_returning_a_helpers_container():
    p, t = X * 0.7 + 0.2, np.array([0.5, -1.0, 2.0])
    jvp = srcad.autodiff(main_returns_helpers, mode="forward")(p, X, t)
    for k in ("h", "out"):
        fd = (forward_dict(p + H * t, X)[k] - forward_dict(p - H * t, X)[k]) / (2 * H)
        np.testing.assert_allclose(jvp[k], fd, rtol=1e-6, atol=1e-9)
    seed = {"h": np.ones(3), "out": t}
    vjp = srcad.vjp(main_returns_helpers, p, X)[1](seed)
    np.testing.assert_allclose(vjp, fd_grad(lambda q: np.sum(forward_dict(q, X)["h"]) + np.sum(
        forward_dict(q, X)["out"] * t), (p,)), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("f", [mlp_loss, uses_scaled])
def test_a_helper_taking_and_returning_containers(f):
    check_both(f, (P, X))
    check_both(f, (P, X), wrt=1)


def test_a_helper_returning_a_container_second_order():
    p = X * 0.7 + 0.2
    v = np.array([0.4, -0.1, 0.7])
    g = srcad.grad(uses_dict)
    fd = (g(p + H * v, X) - g(p - H * v, X)) / (2 * H)
    np.testing.assert_allclose(srcad.hvp(uses_dict)(p, X, v), fd, rtol=1e-5, atol=1e-7)
    rr = srcad.autodiff(g, mode="reverse")(p, X, seed=v)
    np.testing.assert_allclose(rr, fd, rtol=1e-5, atol=1e-7)


def whole_dict(p, x):
    return np.sum(forward_dict(p, x))


def test_a_returned_dict_used_whole_is_refused_where_it_is_used():
    with pytest.raises(SrcadSyntaxError, match="a dict used whole") as info:
        srcad.grad(whole_dict)(X, X)
    assert "test_python_rest.py" in str(info.value)
    assert "np.sum(forward_dict(p, x))" in str(info.value)


# -- 3. a loop over constants around a try decided at build time ----------------------------------

def optional_keys(p, x):
    total = 0.0
    for k in ("a", "b", "c"):
        try:
            v = p[k]
        except KeyError:
            v = 0.5
        total = total + np.sum(np.sin(v) * x)
    return total


def optional_layers(layers, x):
    h = x
    for i in range(3):
        try:
            w = layers[i]["w"]
        except IndexError:
            w = 1.0
        h = np.tanh(w * h)
    return np.sum(h ** 2)


def keys_without_try(p, x):
    total = 0.0
    for k in ("c", "a"):
        total = total + np.sum(p[k] * x)
    return total


@pytest.mark.parametrize("f, p", [
    (optional_keys, {"a": X * 2.0, "c": X + 1.0}),
    (optional_keys, {"a": X * 2.0, "b": X - 0.3, "c": 0.7}),
    (optional_layers, [{"w": X + 0.5}, {"w": X * 0.3}]),
    (keys_without_try, {"a": X * 2.0, "c": X + 1.0}),
], ids=["missing-key", "all-keys", "missing-index", "no-try"])
def test_a_loop_over_constants_unrolled_for_its_reads(f, p):
    check_both(f, (p, X))
    check_both(f, (p, X), wrt=1)


# -- 4. has_aux on vjp, jvp, jacfwd, jacrev (JAX's conventions) ------------------------------------

def with_aux(x, y):
    v = np.sin(x) * y
    return v, {"count": 3, "pred": np.cos(x) + y}


def _jac_fd(f, args, wrt):
    """d f(*args)[0] / d args[wrt] by central differences: (output size, argument size)."""
    x = args[wrt]
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = H
        up, down = list(args), list(args)
        up[wrt], down[wrt] = x + e, x - e
        cols.append((np.ravel(f(*up)[0]) - np.ravel(f(*down)[0])) / (2 * H))
    return np.stack(cols, axis=-1)


def _same_aux(aux, args):
    expected = with_aux(*args)[1]
    assert aux["count"] == 3
    np.testing.assert_array_equal(aux["pred"], expected["pred"])


Y = np.array([1.0, 2.0, 0.5])


def test_vjp_with_aux():
    out, vjp_fn, aux = srcad.vjp(with_aux, X, Y, has_aux=True)
    np.testing.assert_array_equal(out, with_aux(X, Y)[0])
    _same_aux(aux, (X, Y))
    seed = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(vjp_fn(seed), seed @ _jac_fd(with_aux, (X, Y), 0), rtol=1e-6)
    out, vjp_fn, aux = srcad.vjp(with_aux, X, Y, wrt=None, has_aux=True)
    cotangents = vjp_fn(seed)
    assert len(cotangents) == 2
    for k in range(2):
        np.testing.assert_allclose(cotangents[k], seed @ _jac_fd(with_aux, (X, Y), k),
                                   rtol=1e-6, atol=1e-10)


def test_jvp_with_aux():
    t = np.array([0.3, 1.0, -0.7])
    out, tangent, aux = srcad.jvp(with_aux, (X, Y), (t, np.zeros(3)), has_aux=True)
    np.testing.assert_array_equal(out, with_aux(X, Y)[0])
    np.testing.assert_allclose(tangent, _jac_fd(with_aux, (X, Y), 0) @ t, rtol=1e-6)
    _same_aux(aux, (X, Y))
    out, tangent, aux = srcad.jvp(with_aux, (X, Y), (np.stack([t, 2 * t]), np.zeros((2, 3))),
                                  batched=True, has_aux=True)
    np.testing.assert_allclose(tangent[1], 2 * _jac_fd(with_aux, (X, Y), 0) @ t, rtol=1e-6)


@pytest.mark.parametrize("jac", [srcad.jacfwd, srcad.jacrev, srcad.jacobian])
def test_jacobians_with_aux(jac):
    for wrt in (0, 1):
        J, aux = jac(with_aux, wrt, has_aux=True)(X, Y)
        np.testing.assert_allclose(J, _jac_fd(with_aux, (X, Y), wrt), rtol=1e-6, atol=1e-10)
        _same_aux(aux, (X, Y))
    (J0, J1), aux = jac(with_aux, (0, 1), has_aux=True)(X, Y)
    np.testing.assert_allclose(J1, _jac_fd(with_aux, (X, Y), 1), rtol=1e-6, atol=1e-10)
    _same_aux(aux, (X, Y))


def scalar_with_aux(x):
    return np.sum(np.sin(x) ** 2), x * 2.0


def test_jacrev_of_a_scalar_with_aux():
    g, aux = srcad.jacrev(scalar_with_aux, has_aux=True)(X)
    np.testing.assert_allclose(g, srcad.grad(lambda x: np.sum(np.sin(x) ** 2))(X))
    np.testing.assert_array_equal(aux, 2.0 * X)


def no_pair(x):
    return np.sin(x)


@pytest.mark.parametrize("call", [
    lambda: srcad.jacfwd(no_pair, has_aux=True)(X),
    lambda: srcad.jacrev(no_pair, has_aux=True)(X),
    lambda: srcad.vjp(no_pair, X, has_aux=True),
    lambda: srcad.jvp(no_pair, (X,), (X,), has_aux=True),
], ids=["jacfwd", "jacrev", "vjp", "jvp"])
def test_has_aux_without_a_pair_is_located(call):
    with pytest.raises(srcad.SrcadError, match="has_aux=True") as info:
        call()
    assert "test_python_rest.py" in str(info.value)


# -- 5. reverse over reverse of functions taking containers -----------------------------------------

def net_loss(p, x):
    return np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2) * x[0]


def scaled_loss(p, s):
    return np.sum(np.sin(p["W"] * s)) + s ** 2 * np.sum(p["b"] ** 3)


V = {"W": np.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": np.array([1.0, -2.0])}


def _moved(p, v, t):
    return {k: p[k] + t * v[k] for k in p}


def test_reverse_over_reverse_with_a_container():
    g = srcad.grad(net_loss)
    fd = {k: (g(_moved(P, V, H), X)[k] - g(_moved(P, V, -H), X)[k]) / (2 * H) for k in P}
    rr = srcad.autodiff(g, mode="reverse")(P, X, seed=V)       # H v (H symmetric)
    for k in P:
        np.testing.assert_allclose(rr[k], fd[k], rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(srcad.hvp(net_loss)(P, X, V)[k], fd[k], rtol=1e-5, atol=1e-8)
    # the mixed block: d/dx of <grad_p f, V>, against differences in x
    mixed = srcad.autodiff(g, mode="reverse", wrt=1)(P, X, seed=V)

    def along(x):
        gp = g(P, x)
        return sum(np.sum(gp[k] * V[k]) for k in P)
    np.testing.assert_allclose(mixed, fd_grad(along, (X,)), rtol=1e-5, atol=1e-8)


def test_grad_of_a_float_gradient_with_respect_to_a_container():
    s = 0.7
    inner = srcad.grad(scaled_loss, wrt=1)                # a float
    outer = srcad.grad(inner, wrt=0)                      # a dict, like p
    np.testing.assert_allclose(_flat(outer(P, s)), fd_grad(lambda p: inner(p, s), (P,)),
                               rtol=1e-5, atol=1e-8)


def test_reverse_over_reverse_seed_of_another_structure_is_refused():
    g = srcad.grad(net_loss)
    with pytest.raises(srcad.SrcadError, match="structure"):
        srcad.autodiff(g, mode="reverse")(P, X, seed={"W": V["W"]})


# -- 2. a bound method passed as a value ------------------------------------------------------------

class Scaler:
    def __init__(self, W, c):
        self.W, self.c = W, c

    def forward(self, z):
        return np.tanh(self.W * z) + self.c

    def twice(self, z):
        return self.forward(z) * 2.0


def calls_fn(x, fn):
    return np.sum(fn(x) ** 2)


def hands_on(x, fn):
    return calls_fn(np.sin(x), fn)


@pytest.mark.parametrize("f", [calls_fn, hands_on])
@pytest.mark.parametrize("method", ["forward", "twice"])
def test_a_bound_method_passed_as_a_value(f, method):
    m = Scaler(np.array([1.0, 2.0, -0.5]), 0.3)
    fn = getattr(m, method)
    check_both(f, (X, fn))
    g = srcad.grad(f)
    v = np.array([0.2, -0.4, 0.9])
    fd = (g(X + H * v, fn) - g(X - H * v, fn)) / (2 * H)
    np.testing.assert_allclose(srcad.hvp(f)(X, fn, v), fd, rtol=1e-5, atol=1e-7)
    m.W = np.array([0.5, -1.0, 2.0])        # read at call time, never frozen
    np.testing.assert_allclose(g(X, m.forward if method == "forward" else m.twice),
                               fd_grad(f, (X, fn)), rtol=1e-6, atol=1e-8)


class Looping:
    def __init__(self, W):
        self.W = W
        self.act = self.relu

    def relu(self, z):
        return np.maximum(z, 0.0) * self.W


def test_a_method_bound_to_its_own_holder_is_refused_where_called():
    m = Looping(X)
    with pytest.raises(srcad.SrcadError, match="bound method Looping.relu") as info:
        srcad.grad(calls_fn)(X, m.relu)
    assert "test_python_rest.py" in str(info.value) and "fn(x)" in str(info.value)


def test_has_aux_on_a_derivative_built_with_has_aux_is_refused():
    g = srcad.grad(lambda x: (np.sum(np.sin(x)), x * 2.0), has_aux=True)
    for call in (lambda: srcad.jacfwd(g, has_aux=True)(X), lambda: srcad.jacrev(g, has_aux=True)(X),
                 lambda: srcad.jvp(g, (X,), (X,), has_aux=True),
                 lambda: srcad.vjp(g, X, has_aux=True)):
        with pytest.raises(srcad.NotDifferentiableError, match="itself built with has_aux"):
            call()
