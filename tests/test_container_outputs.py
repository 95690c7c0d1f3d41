"""Container outputs, dict and set comprehensions, ``has_aux`` and ``preserve_result`` on the
whole derivative family (issue 13).

A function returning a dict, namedtuple, dataclass, or a tuple or list holding one (nested
too): its VJP seed has the output's structure (checked: an ArgumentError names what was
expected), its JVP tangent and its value come back with the output's structure and types,
``jacobian`` gives one Jacobian per output leaf in that structure (and per argument leaf for
a container argument, JAX's layout). Every number is checked against central differences in
float64.
"""
from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import srcad
from srcad import trees
from helpers import flat_leaves as _flat, tree_like as _like
from srcad.errors import ArgumentError, NoRuleError, NotDifferentiableError, SrcadSyntaxError

H = 1e-6
Stats = namedtuple("Stats", ["total", "scaled"])


@dataclasses.dataclass
class Out:
    y: np.ndarray
    s: float


def stats_dict(x):
    return {"mean": np.mean(x), "sq": x ** 2}


def stats_namedtuple(x):
    return Stats(total=np.sum(np.sin(x)), scaled=3.0 * x)


def stats_dataclass(x):
    return Out(y=np.tanh(x), s=np.sum(x ** 3))


def nested(x):
    return {"a": x ** 2, "inner": (np.sum(x), [x * 2.0, np.sin(x)])}


def branches(x):
    if np.sum(x) > 0:
        return {"a": x * x, "b": 2.0 * x}
    return {"a": -x, "b": np.cos(x)}


def sgd_update(params, lr=0.1):
    return {k: v - lr * np.sin(v) for k, v in params.items()}


OUTPUT_FUNCTIONS = [stats_dict, stats_namedtuple, stats_dataclass, nested, branches]
X = np.array([0.3, -0.5, 1.2])


def fd_jacobian(f, arg):
    """d flat(f(arg)) / d flat(arg), central differences: (output size, argument size)."""
    base = _flat(arg)
    cols = []
    for k in range(base.size):
        step = np.zeros(base.size)
        step[k] = H
        cols.append((_flat(f(_like(arg, base + step))) - _flat(f(_like(arg, base - step))))
                    / (2 * H))
    return np.stack(cols, axis=1)


def same_structure(got, want):
    """``got`` has ``want``'s containers (types, keys) all the way down."""
    leaves: list = []
    assert trees.flatten(got, leaves) == trees.flatten(want, [])
    assert type(got) is type(want)


@pytest.mark.parametrize("f", OUTPUT_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [X, -X], ids=["x", "-x"])
def test_vjp_jvp_jacobian_follow_the_output(f, x):
    out = f(x)
    J = fd_jacobian(f, x)
    seed = _like(out, np.linspace(-1.0, 2.0, _flat(out).size))
    value, pullback = srcad.vjp(f, x)
    same_structure(value, out)
    np.testing.assert_allclose(pullback(seed), _flat(seed) @ J, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(srcad.autodiff(f)(x, seed=seed), _flat(seed) @ J, rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(srcad.autodiff(f)(x), np.ones(J.shape[0]) @ J, rtol=1e-6,
                               atol=1e-8)             # default seed: ones for every leaf
    t = np.array([0.5, -1.0, 2.0])
    for df in (srcad.autodiff(f, mode="forward"), srcad.autodiff(f, mode="forward")):
        tangent = df(x, t)                            # twice: the call's fast path too
        same_structure(tangent, out)
        np.testing.assert_allclose(_flat(tangent), J @ t, rtol=1e-6, atol=1e-8)
    value, tangent = srcad.jvp(f, (x,), (t,))
    same_structure(value, out)
    same_structure(tangent, out)
    jac = srcad.jacobian(f)(x)
    same_structure(jac, out)
    np.testing.assert_allclose(np.concatenate([np.reshape(b, (-1, x.size))
                                               for b in trees.leaves(jac)]), J, rtol=1e-6,
                               atol=1e-8)


def test_the_value_keeps_the_output_structure_with_preserve_result():
    for mode in ("reverse", "forward"):
        df = srcad.autodiff(stats_namedtuple, mode=mode, preserve_result=True)
        value, _ = df(X, np.ones(3)) if mode == "forward" else df(X)
        assert type(value) is Stats and np.allclose(value.scaled, 3.0 * X)


def test_a_tangent_is_never_the_callers_array():
    def identity(x):
        return {"x": x}
    t = np.ones(3)
    tangent = srcad.autodiff(identity, mode="forward")(X, t)
    assert np.array_equal(tangent["x"], t) and not np.shares_memory(tangent["x"], t)


def test_dict_in_dict_out_and_its_jacobian():
    params = {"W": np.array([[0.2, -0.4], [1.1, 0.3]]), "b": np.array([0.5, -1.5])}
    J = fd_jacobian(sgd_update, params)
    seed = {"W": np.array([[1.0, 2.0], [-1.0, 0.5]]), "b": np.array([0.3, -2.0])}
    np.testing.assert_allclose(_flat(srcad.vjp(sgd_update, params)[1](seed)), _flat(seed) @ J,
                               rtol=1e-6)
    t = {"W": np.ones((2, 2)), "b": np.array([1.0, -1.0])}
    tangent = srcad.autodiff(sgd_update, mode="forward")(params, t)
    same_structure(tangent, params)
    np.testing.assert_allclose(_flat(tangent), J @ _flat(t), rtol=1e-6)
    jac = srcad.jacobian(sgd_update)(params)       # {out key: {argument key: block}}
    assert list(jac) == ["W", "b"] and all(list(row) == ["W", "b"] for row in jac.values())
    assert jac["W"]["b"].shape == (2, 2, 2) and jac["b"]["W"].shape == (2, 2, 2)
    rows = [np.concatenate([np.reshape(jac[o][i], (np.size(params[o]), -1))
                            for i in ("W", "b")], axis=1) for o in ("W", "b")]
    np.testing.assert_allclose(np.concatenate(rows), J, rtol=1e-6, atol=1e-9)


def test_hessian_of_a_function_of_a_dict():
    def loss(p):
        return np.sum(np.sin(p["w"]) * p["b"] ** 2) + p["c"] * np.sum(p["w"])
    p = {"w": np.array([0.3, -0.2]), "b": np.array([1.5, 0.7]), "c": 0.4}
    Hs = srcad.hessian(loss)(p)
    grad = srcad.grad(loss)
    want = fd_jacobian(grad, p)
    keys = ["w", "b", "c"]
    got = np.concatenate([np.concatenate([np.reshape(Hs[o][i], (np.size(p[o]), np.size(p[i])))
                                          for i in keys], axis=1) for o in keys])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    v = {"w": np.array([1.0, -2.0]), "b": np.array([0.5, 0.0]), "c": 1.0}
    np.testing.assert_allclose(_flat(srcad.hvp(loss)(p, v)), want @ _flat(v), rtol=1e-6)


def test_a_seed_of_another_structure_is_an_argument_error():
    df = srcad.autodiff(nested)
    with pytest.raises(ArgumentError) as info:
        df(X, seed={"a": X})
    assert "{'a': ., 'inner': (., [., .])}" in str(info.value)
    assert "return" in str(info.value)             # located at the function's return
    with pytest.raises(ArgumentError, match=r"Out\(y=., s=.\), not ndarray"):
        srcad.vjp(stats_dataclass, X)[1](np.ones(3))
    with pytest.raises(ArgumentError, match="the structure of its output"):
        srcad.autodiff(stats_namedtuple)(X, seed=(1.0, np.ones(3)))   # a tuple, not Stats


def test_returns_of_different_structures_are_refused():
    def two(x):
        if np.sum(x) > 0:
            return {"a": x}
        return {"b": x}

    def one_and_dict(x):
        if np.sum(x) > 0:
            return x
        return {"a": x}
    for f in (two, one_and_dict):
        with pytest.raises(SrcadSyntaxError, match="on every path"):
            srcad.autodiff(f, mode="forward")


# -- has_aux -------------------------------------------------------------------------------------

def loss_and_aux(w, X, y):
    pred = X @ w
    return np.mean((pred - y) ** 2), {"pred": pred, "n": X.shape[0], "pos": pred > 0}


def test_has_aux_grad_and_value_and_grad():
    r = np.random.default_rng(3)
    w, Xs, y = r.normal(size=3), r.normal(size=(5, 3)), r.normal(size=5)
    want = fd_jacobian(lambda v: loss_and_aux(v, Xs, y)[0], w)[0]
    g, aux = srcad.grad(loss_and_aux, has_aux=True)(w, Xs, y)
    np.testing.assert_allclose(g, want, rtol=1e-6)
    assert aux["n"] == 5 and np.array_equal(aux["pred"], Xs @ w) and aux["pos"].dtype == bool
    (value, aux2), g2 = srcad.value_and_grad(loss_and_aux, has_aux=True)(w, Xs, y)
    assert np.isclose(value, loss_and_aux(w, Xs, y)[0]) and list(aux2) == ["pred", "n", "pos"]
    np.testing.assert_allclose(g2, want, rtol=1e-6)


def test_has_aux_with_container_parameters_and_plain_aux():
    def model(p, X):
        pred = X @ p["w"] + p["b"]
        return np.mean(pred ** 2), pred
    p = {"w": np.array([0.1, 0.2]), "b": 0.5}
    Xs = np.arange(6.0).reshape(3, 2)
    g, pred = srcad.grad(model, has_aux=True)(p, Xs)
    assert type(g["b"]) is float and np.array_equal(pred, Xs @ p["w"] + 0.5)
    np.testing.assert_allclose(_flat(g), fd_jacobian(lambda q: model(q, Xs)[0], p)[0],
                               rtol=1e-6)


def test_has_aux_needs_a_pair():
    def one(x):
        return np.sum(x ** 2)

    def three(x):
        return np.sum(x), x, x
    for f, what in ((one, "returns one value"), (three, "returns a tuple of 3")):
        with pytest.raises(NotDifferentiableError) as info:
            srcad.grad(f, has_aux=True)
        assert f.__name__ in str(info.value) and what in str(info.value)
    with pytest.raises(TypeError, match="has_aux"):
        srcad.grad(one, has_aux="yes")


# -- comprehensions --------------------------------------------------------------------------

def test_dict_comprehensions_over_containers():
    def f(p):
        scaled = {k: 2.0 * v for k, v in p.items() if not k.startswith("skip")}
        pairs = {k: v * w for k, v, w in zip(p.keys(), p.values(), (1.0, 2.0, 3.0))}
        nested = {f"{i}": {k: scaled[k] * i for k in scaled} for i in (1, 2)}
        return np.sum(scaled["a"] * np.sin(pairs["b"])) + np.sum(nested["2"]["a"] ** 2)
    p = {"a": np.array([0.3, 0.1]), "b": np.array([1.0, -0.4]), "skip": np.array([5.0, 5.0])}
    want = fd_jacobian(f, p)[0]
    np.testing.assert_allclose(_flat(srcad.grad(f)(p)), want, rtol=1e-6, atol=1e-9)
    t = {k: np.array([1.0, -0.5]) for k in p}
    np.testing.assert_allclose(srcad.autodiff(f, mode="forward")(p, t), want @ _flat(t),
                               rtol=1e-6)
    Hv = srcad.hvp(f)(p, t)                        # second order through the comprehension
    np.testing.assert_allclose(_flat(Hv), fd_jacobian(srcad.grad(f), p) @ _flat(t), rtol=1e-5)


def test_dict_comprehension_over_run_time_values_is_refused_at_its_line():
    def f(x):
        d = {i: v for i, v in enumerate(x)}
        return d[0]
    with pytest.raises(SrcadSyntaxError, match="over values not known") as info:
        srcad.grad(f)(np.ones(3))     # (enumerate(x) may read a container: built at the call)
    assert info.value.location.lineno == f.__code__.co_firstlineno + 1


def test_set_comprehension_of_indices():
    def f(x):
        idx = {i % 3 for i in range(7) if i != 4}
        return sum(x[i] ** 3 for i in sorted(idx)) * len(idx)
    x = np.array([0.5, -1.2, 2.0, 7.0])
    want = fd_jacobian(f, x)[0]
    np.testing.assert_allclose(srcad.grad(f)(x), want, rtol=1e-6)
    np.testing.assert_allclose(srcad.autodiff(f, mode="forward")(x, np.ones(4)), np.sum(want),
                               rtol=1e-6)


def test_a_set_of_differentiated_values_is_refused():
    def f(x):
        s = {2.0 * v for v in x}
        return max(s)
    with pytest.raises(NoRuleError, match="a set of values") as info:
        srcad.grad(f)
    assert info.value.location.lineno == f.__code__.co_firstlineno + 1


# -- preserve_result everywhere the README says ----------------------------------------------

def scalar_two_args(x, w):
    return np.sum(np.sin(x * w) * x) + np.sum(w ** 3)


@pytest.mark.parametrize("name", ["jacobian", "jacfwd", "jacrev", "hessian", "hvp"])
def test_preserve_result_on_the_derivative_family(name):
    x, w = np.array([0.2, -0.7]), np.array([1.3, 0.4])
    extra = (np.array([1.0, -1.0]),) if name == "hvp" else ()
    plain = getattr(srcad, name)(scalar_two_args, wrt=1)(x, w, *extra)
    value, got = getattr(srcad, name)(scalar_two_args, wrt=1, preserve_result=True)(
        x, w, *extra)
    assert value == scalar_two_args(x, w)
    np.testing.assert_array_equal(got, plain)


def test_a_tuple_of_tangents_never_holds_the_callers_array():
    def pair(x):
        return x, 2.0 * x
    df = srcad.autodiff(pair, mode="forward")
    t = np.ones(3)
    for _ in range(3):                   # the general path, then what later calls run
        first, second = df(X, t)
        assert not np.shares_memory(first, t) and np.array_equal(second, 2.0 * t)


def test_grad_of_a_container_output_names_its_structure():
    with pytest.raises(srcad.ShapeMismatchError, match=r"stats_dict returns \{'mean': ., 'sq': .\}"):
        srcad.grad(stats_dict)


@dataclasses.dataclass
class Doubled:
    y: np.ndarray

    def __init__(self, y):                 # not the generated __init__: not a plain container
        self.y = 2.0 * y


class Tripled(Stats):
    def __new__(cls, total, scaled):
        return super().__new__(cls, total, 3.0 * scaled)


def test_a_class_with_its_own_constructor_is_not_taken_for_a_container():
    def doubled(x):
        return Doubled(y=x ** 2)

    def tripled(x):
        return Tripled(np.sum(x), x)
    for f in (doubled, tripled):              # never its fields without its constructor
        with pytest.raises(NoRuleError):
            srcad.autodiff(f, mode="forward")


def test_a_namedtuple_made_with_a_default_field():
    Point = namedtuple("Point", ["a", "b"], defaults=[1.5])

    def f(x):
        return Point(a=np.sin(x))
    value, tangent = srcad.jvp(f, (X,), (np.ones(3),))
    assert type(value) is Point and value.b == 1.5 and tangent.b == 0.0
    np.testing.assert_allclose(tangent.a, np.cos(X))


def test_has_aux_calls_on_the_fast_path_give_what_the_first_gave():
    from srcad.dispatch import generated

    def model(w, X):
        pred = X @ w
        return np.sum(pred ** 2), pred
    w, Xs = np.array([0.5, -1.0]), np.arange(6.0).reshape(3, 2)
    for make in (srcad.grad, srcad.value_and_grad):
        d = make(model, has_aux=True)
        first = d(w, Xs)
        for _ in range(3):
            again = d(w, Xs)
            assert type(again) is tuple and len(again) == 2
            for a, b in zip(trees.leaves(first), trees.leaves(again)):
                np.testing.assert_array_equal(a, b)
        assert generated(d) is not None         # the dispatcher's code ran the later calls
    g, pred = srcad.grad(model, has_aux=True)(w, Xs)
    np.testing.assert_allclose(g, 2 * Xs.T @ (Xs @ w))
    np.testing.assert_array_equal(pred, Xs @ w)


def test_a_dict_comprehension_over_a_parameter_is_built_for_its_structure():
    def double(p):
        return {k: 2.0 * p[k] for k in p}
    df = srcad.autodiff(double, mode="forward")     # no structure yet: built at the call
    p = {"a": np.array([1.0, 2.0]), "b": 0.5}
    tangent = df(p, {"a": np.ones(2), "b": 1.0})
    assert list(tangent) == ["a", "b"] and tangent["b"] == 2.0
    np.testing.assert_allclose(tangent["a"], [2.0, 2.0])
