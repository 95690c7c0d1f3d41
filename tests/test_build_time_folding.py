"""Python facts known when the derivative is built (a container's structure, constant keys,
displays of constants) folded there (issue 13, "the Python around numerics"): an ``if`` or a
conditional expression decided by them drops the branch not taken (and what follows a
``return`` in the branch taken), a dict comprehension over a display of constant tuples is
unrolled. Each program: the gradient, a JVP and a Hessian-vector product against central
differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest

import srcad
from helpers import make_function, rng

H = 1e-6


def _fd_grad(f, args, i):
    x = np.asarray(args[i], dtype=float)
    out = np.zeros(x.shape)
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = H
        e = e.reshape(x.shape)
        up, down = list(args), list(args)
        up[i], down[i] = x + e, x - e
        out.flat[j] = (f(*up) - f(*down)) / (2 * H)
    return out


def check(f, args, i):
    """``f``'s derivatives in its argument ``i`` (an array): reverse, forward, and an hvp
    against differences of srcad's gradient."""
    g = rng(7)
    x = np.asarray(args[i], dtype=float)
    expected = _fd_grad(f, args, i)
    np.testing.assert_allclose(srcad.grad(f, wrt=i)(*args), expected, rtol=1e-6, atol=1e-8)
    v = g.standard_normal(x.shape)
    dfwd = srcad.autodiff(f, mode="forward", wrt=i)(*args, v)
    np.testing.assert_allclose(dfwd, np.sum(expected * v), rtol=1e-6, atol=1e-8)
    _, tangent = srcad.jvp(f, args, (v,), wrt=i)
    np.testing.assert_allclose(tangent, np.sum(expected * v), rtol=1e-6, atol=1e-8)
    grad = srcad.grad(f, wrt=i)
    gplus, gminus = list(args), list(args)
    gplus[i], gminus[i] = x + H * v, x - H * v
    expected_hvp = (grad(*gplus) - grad(*gminus)) / (2 * H)
    np.testing.assert_allclose(srcad.hvp(f, wrt=i)(*args, v), expected_hvp, rtol=1e-5,
                               atol=1e-7)


def test_if_decided_drops_what_follows_its_return():
    f = make_function("""
        def f(p, x):
            if isinstance(p, dict):
                if 'b' in p:
                    return np.sum(np.sin(p['w'] * x)) + p['b']
                return np.sum(np.sin(p['w'] * x))
            y = p[0] * x
            return np.sum(y ** 2)
    """)
    x = rng(1).standard_normal(3)
    check(f, ({'w': rng(2).standard_normal(3)}, x), 1)
    check(f, ({'w': rng(2).standard_normal(3), 'b': 0.5}, x), 1)
    check(f, ([rng(2).standard_normal(3)], x), 1)


def test_conditional_expression_decided():
    f = make_function("""
        def f(p, x):
            c = p['c'] if 'c' in p else p['a']
            extra = np.sum(np.cos(p['d'] * x)) if 'd' in p else 0.0
            return np.sum(np.tanh(c * x) ** 2) + extra
    """)
    x = rng(3).standard_normal(4)
    check(f, ({'a': rng(4).standard_normal(4)}, x), 1)
    check(f, ({'a': 1.5, 'c': rng(4).standard_normal(4), 'd': 0.3}, x), 1)


def test_dict_comprehension_over_constant_pairs():
    f = make_function("""
        def f(x):
            terms = {k: np.sum(x ** p) for k, p in (('sq', 2), ('cube', 3), ('four', 4))
                     if p != 4}
            return terms['sq'] + 0.5 * terms['cube']
    """)
    check(f, (rng(5).standard_normal(4),), 0)


def test_str_argument_is_a_constant_of_the_build():
    """A str argument (passed, by keyword, or left to its default) is part of the variant's
    key: ``TABLE.get(name)`` and ``if mode == ...`` are decided when it is built."""
    f = make_function("""
        def f(x, name="tanh", mode="sum"):
            table = {"sin": np.sin, "tanh": np.tanh, "sq": np.square}
            act = table.get(name, np.cos)
            y = act(x) * 2.0
            if mode == "sum":
                return np.sum(y)
            return np.mean(y ** 2)
    """)
    x = rng(6).standard_normal(4)
    for extra in [(), ("sin",), ("sq", "mean"), ("nothing",)]:
        check(f, (x,) + extra, 0)
    g = srcad.grad(f)
    for name in ["sin", "tanh", "sin", "sq", "tanh"]:        # alternating: one build each
        np.testing.assert_allclose(g(x, name), _fd_grad(f, (x, name), 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g(x, name=name, mode="mean"),
                                   _fd_grad(lambda x: f(x, name=name, mode="mean"), (x,), 0),
                                   rtol=1e-6, atol=1e-8)


def test_str_key_into_a_dict_argument():
    f = make_function("""
        def f(p, x, key):
            return np.sum(np.sin(p[key] * x)) + p['b'] * np.sum(x)
    """)
    g = rng(8)
    p = {'a': g.standard_normal(3), 'c': g.standard_normal(3), 'b': 0.5}
    x = g.standard_normal(3)
    for key in ("a", "c"):
        check(f, (p, x, key), 1)
        grad = srcad.grad(f)(p, x, key)
        h = 1e-6
        for k in ("a", "c"):
            expected = _fd_grad(lambda v: f({**p, k: v}, x, key), (p[k],), 0)
            np.testing.assert_allclose(grad[k], expected, rtol=1e-6, atol=1e-8)
        assert abs(grad['b'] - (f({**p, 'b': 0.5 + h}, x, key) -
                                f({**p, 'b': 0.5 - h}, x, key)) / (2 * h)) < 1e-6


def test_a_number_passed_where_the_default_is_a_str_is_no_constant():
    """Only a str is taken as a constant: a number passed to a parameter whose default is a
    str is read when the derivative runs, not replaced by the default."""
    f = make_function("""
        def f(x, power="sq"):
            if power == "sq":
                return np.sum(x ** 2)
            return np.sum(x ** power)
    """)
    x = np.abs(rng(9).standard_normal(3)) + 0.5
    np.testing.assert_allclose(srcad.grad(f)(x, 3.0), 3.0 * x ** 2, rtol=1e-12)
    np.testing.assert_allclose(srcad.grad(f)(x), 2.0 * x, rtol=1e-12)


def test_loop_over_a_range_known_when_built_reads_keys_made_in_it():
    """``range(n)`` of ``n = len(params) // 2`` and ``range(len(layers))`` are known when the
    derivative is built: the loop is unrolled, ``params[f"W{i}"]`` and ``layers[k]`` of a
    dict with int keys are read by constant keys."""
    f = make_function("""
        def f(params, X, layers):
            n = len(params) // 2
            h = X
            for i in range(n):
                h = np.tanh(h @ params[f"W{i}"] + params["b" + str(i)])
            for k in range(len(layers)):
                h = np.sin(h @ layers[k])
            return np.sum(h ** 2)
    """)
    g = rng(10)
    params = {"W0": g.standard_normal((3, 3)) * 0.5, "b0": g.standard_normal(3),
              "W1": g.standard_normal((3, 2)) * 0.5, "b1": g.standard_normal(2)}
    layers = {0: g.standard_normal((2, 2)), 1: g.standard_normal((2, 2))}
    check(f, (params, g.standard_normal((4, 3)), layers), 1)
    grad = srcad.grad(f)(params, g.standard_normal((4, 3)), layers)
    assert set(grad) == set(params)


DEFAULTS_NS = {"DEFAULTS": {"b": 0.25, "scale": 1.0}}


def test_dict_merged_with_defaults():
    ns = dict(DEFAULTS_NS)
    f = make_function("""
        def f(params, X):
            p = {**DEFAULTS, **params, "shift": 0.5}
            return p["scale"] * np.sum(np.tanh(X @ p["w"] + p["b"] + p["shift"]) ** 2)
    """, ns)
    g = rng(11)
    X = g.standard_normal((4, 3))
    check(f, ({"w": g.standard_normal(3), "scale": 2.0}, X), 1)
    check(f, ({"w": g.standard_normal(3)}, X), 1)
    df = srcad.grad(f)
    p = {"w": g.standard_normal(3)}
    before = df(p, X)
    ns["DEFAULTS"] = {"b": 0.25, "scale": 3.0, "extra": 1.0}   # other keys: rebuilt
    assert np.allclose(df(p, X)["w"], 3.0 * before["w"])


def test_generic_derivative_refuses_a_loop_over_a_dicts_keys():
    """``for k in p: p[k]``: the derivative built without arguments cannot know ``p`` is a
    dict; it is refused at the line, and the calls with a dict are right."""
    f = make_function("""
        def f(params, x):
            total = 0.0
            for k in params:
                total += np.sum(params[k] * x ** 2)
            return total
    """)
    with pytest.raises(srcad.SrcadError, match=r"params\[k\] in a loop over params") as err:
        srcad.export(f)
    assert "specialize_for" in str(err.value)
    g = rng(12)
    check(f, ({"a": g.standard_normal(3), "b": g.standard_normal(3)}, g.standard_normal(3)), 1)


def test_str_default_and_the_fast_path():
    """Calls leaving the str default take the fast path with the derivative built for it; a
    call passing another str gets its own, and the default's is not disturbed."""
    f = make_function("""
        def f(x, act="tanh"):
            return np.sum({"tanh": np.tanh, "sin": np.sin}[act](x) ** 2)
    """)
    x = rng(13).standard_normal(3)
    df = srcad.grad(f)
    want = {a: _fd_grad(lambda x: f(x, a), (x,), 0) for a in ("tanh", "sin")}
    for act in (None, None, None, "sin", None, "sin", "tanh", None):
        got = df(x) if act is None else df(x, act)
        np.testing.assert_allclose(got, want[act or "tanh"], rtol=1e-6, atol=1e-8)
    df(x, "sin")
    df(x, "sin")              # a positional str on the fast path: tested by value
    assert "type(a1) is str and a1 == " in df.__srcad_dispatcher__.source()
    np.testing.assert_allclose(df(x, "tanh"), want["tanh"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(df(x, "sin"), want["sin"], rtol=1e-6, atol=1e-8)
    dfwd = srcad.autodiff(f, mode="forward")
    v = np.ones(3)
    for act in (None, "sin", None, "sin"):
        got = dfwd(x, v) if act is None else dfwd(x, act, v)
        np.testing.assert_allclose(got, want[act or "tanh"] @ v, rtol=1e-6, atol=1e-8)
    hvp, grad = srcad.hvp(f), srcad.grad(f)
    for act in ("sin", None, "sin", "tanh"):
        extra = () if act is None else (act,)
        expected = (grad(x + H * v, *extra) - grad(x - H * v, *extra)) / (2 * H)
        np.testing.assert_allclose(hvp(x, *extra, v), expected, rtol=1e-5, atol=1e-7)


def test_str_parameter_without_default_as_a_key():
    """``table[key]`` of a dict the function makes, ``key`` a parameter with no default: no
    build at ``srcad.grad`` (it has no str for it), one per str at the calls."""
    f = make_function("""
        def f(x, key):
            table = {"a": 2.0, "b": np.tanh}
            if key == "a":
                return np.sum(x * table[key])
            return np.sum(table.get(key)(x) ** 2)
    """)
    x = rng(14).standard_normal(3)
    for key in ("a", "b"):
        check(f, (x, key), 0)


def test_one_build_per_distinct_str(monkeypatch):
    from helpers import count_builds
    f = make_function("""
        def f(x, act="tanh"):
            return np.sum({"tanh": np.tanh, "sin": np.sin}[act](x))
    """)
    builds = count_builds(monkeypatch, lambda f, spec: (spec.kinds, spec.callables))
    df = srcad.grad(f)
    x = rng(15).standard_normal(3)
    for act in ("sin", "tanh", "sin", "tanh", "sin"):
        df(x, act)
    for _ in range(3):
        df(x)
    strs = [(kinds is None or len(kinds), tuple(s.obj for _, s in callables))
            for kinds, callables in builds]
    # the eager build (the default), then one per str and call form: f(x, 'tanh') passes
    # two arguments, f(x) one
    assert sorted(strs, key=repr) == sorted([(True, ("tanh",)), (2, ("sin",)), (2, ("tanh",)),
                                             (1, ("tanh",))], key=repr)


def test_unrolled_loop_ends_at_a_copy_that_returns():
    """``for layer in layers: if isinstance(layer, dict): return ...``: the copies after one
    that returns are never run (nor lowered: they would read items the layers lack)."""
    f = make_function("""
        def f(layers, x):
            h = x
            for layer in layers:
                if isinstance(layer, dict):
                    return np.sum(np.tanh(h * layer['w']))
                h = np.sin(h * layer[0])
            return np.sum(h)
    """)
    g = rng(16)
    x = g.standard_normal(3)
    check(f, ([[g.standard_normal(3)], {'w': g.standard_normal(3)}, {'v': 1.0}], x), 1)
    check(f, ([[g.standard_normal(3)], [g.standard_normal(3)]], x), 1)


def test_global_table_of_functions_read_by_a_str():
    """``TABLE.get(name, default)`` and ``TABLE[name]`` of a global dict of functions, with
    ``name`` a str argument: the function is resolved when the derivative is built (the
    item a dependency: rebinding it rebuilds)."""
    ns = {"TABLE": {"sin": np.sin, "tanh": np.tanh}}
    f = make_function("""
        def f(x, name="tanh"):
            act = TABLE.get(name, np.cos)
            return np.sum(act(x) ** 2) + np.sum(TABLE["sin"](x) * x)
    """, ns)
    x = rng(17).standard_normal(3)
    for extra in [(), ("sin",), ("missing",)]:
        check(f, (x,) + extra, 0)
    df = srcad.grad(f)
    df(x)
    ns["TABLE"]["tanh"] = np.sin          # an item rebound: the next call rebuilds
    np.testing.assert_allclose(df(x), _fd_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)
    g = make_function("""
        def g(x, name):
            return np.sum(TABLE[name](x))
    """, ns)
    with pytest.raises(srcad.SrcadError, match="TABLE has no key 'cube'"):
        srcad.grad(g)(x, "cube")
