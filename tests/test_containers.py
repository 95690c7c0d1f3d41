"""Containers (issue 13): dicts, lists, tuples, namedtuples and dataclasses of arrays and floats
as arguments, nested, and containers made inside the function (dict literals, ``.items()``,
``zip``, slices, ...). Each case: the gradient (reverse) and the JVP (forward) against central
differences, optimized and not, on read-only arrays; the gradient has the argument's structure
and types; wrong structures and unsupported uses are located errors."""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import srcad
from srcad import trees
from srcad.errors import NotDifferentiableError, ShapeMismatchError, SrcadError
from agreement import read_only
from helpers import make_function, rng

Pair = namedtuple("Pair", "W b")


@dataclasses.dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray
    scale: float = 2.0
    name: str = "linear"


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: np.ndarray
    c: float


NS = {"Pair": Pair, "Linear": Linear, "Frozen": Frozen}


def _readonly(value):
    """``value`` with every array leaf read-only (a copy)."""
    if trees.is_container(value):
        return trees.rebuild(value, iter([read_only(v) for v in trees.leaves(value)]))
    return read_only(value)


def _leaves_fd(f, args, i, h=1e-6):
    """Central differences of scalar ``f`` in each differentiable leaf of ``args[i]``."""
    value = args[i]
    leaves = trees.leaves(value) if trees.is_container(value) else [value]
    out = []
    for k, leaf in enumerate(leaves):
        if not trees.differentiable(leaf):
            out.append(None)
            continue
        arr = np.asarray(leaf, dtype=float)
        grad = np.zeros(arr.shape)
        for j in range(arr.size):
            bumped = []
            for sign in (1, -1):
                moved = arr.copy()
                moved.flat[j] += sign * h
                moved = moved if isinstance(leaf, np.ndarray) else float(moved)
                new = [moved if n == k else copy.deepcopy(v) for n, v in enumerate(leaves)]
                arg = trees.rebuild(value, iter(new)) if trees.is_container(value) else new[0]
                bumped.append(f(*args[:i], arg, *args[i + 1:]))
            grad.flat[j] = (bumped[0] - bumped[1]) / (2 * h)
        out.append(grad if isinstance(leaf, np.ndarray) else float(grad))
    return out


def _same_structure(g, a):
    assert trees.structure(g) == trees.structure(a) or (
        not trees.is_container(a) and not trees.is_container(g)), (g, a)
    gl = trees.leaves(g) if trees.is_container(g) else [g]
    al = trees.leaves(a) if trees.is_container(a) else [a]
    for gi, ai in zip(gl, al):
        if not trees.differentiable(ai):
            assert gi is None
            continue
        assert type(gi) is type(ai), (type(gi), type(ai))
        if isinstance(ai, np.ndarray):
            assert gi.shape == ai.shape and gi.dtype == ai.dtype
    return gl


def check(f, *args, wrt=0):
    """Reverse and forward, optimized and not, read-only, against central differences."""
    args = list(args)
    expected = _leaves_fd(f, args, wrt)
    locked = [_readonly(a) for a in args]
    for optimized in (True, False):
        g = srcad.grad(f, wrt=wrt, optimized=optimized)(*locked)
        got = _same_structure(g, args[wrt])
        for gi, ei in zip(got, expected):
            if ei is not None:
                np.testing.assert_allclose(gi, ei, rtol=1e-5, atol=1e-6)
        value, g2 = srcad.value_and_grad(f, wrt=wrt, optimized=optimized)(*locked)
        assert np.isclose(value, f(*args))
        # forward: the JVP along a random tangent of the same structure
        a = args[wrt]
        leaves = trees.leaves(a) if trees.is_container(a) else [a]
        g_ = rng(3)
        tangent_leaves = [g_.standard_normal(np.shape(v)) if isinstance(v, np.ndarray) else
                          float(g_.standard_normal()) if trees.differentiable(v) else v
                          for v in leaves]
        tangent = trees.rebuild(a, iter(tangent_leaves)) if trees.is_container(a) else \
            tangent_leaves[0]
        df = srcad.autodiff(f, mode="forward", wrt=wrt, optimized=optimized)
        jvp = df(*locked, _readonly(tangent))
        want = sum(float(np.sum(e * t)) for e, t in zip(expected, tangent_leaves)
                   if e is not None)
        np.testing.assert_allclose(jvp, want, rtol=1e-5, atol=1e-6)
    return g


# -- the functions -----------------------------------------------------------------------------

SOURCES = """
def dict_mlp(params, X, y):
    h = np.tanh(X @ params['W1'] + params['b1'])
    out = h @ params['W2'] + params['b2']
    return np.mean((out - y) ** 2)

def nested_layers(params, X, y):
    h = X
    for layer in params['layers']:
        h = np.tanh(h @ layer['W'] + layer['b'])
    return np.sum((h @ params['out'] - y) ** 2) + params['reg'] * np.sum(params['out'] ** 2)

def list_of_tuples(layers, X):
    h = X
    for W, b in layers:
        h = np.sin(h @ W + b)
    return np.sum(h * h)

def named(p, X):
    return np.sum(np.tanh(X @ p.W + p.b))

def dataclass_model(m, X):
    if m.name == "linear":
        return m.scale * np.sum((X @ m.W + m.b) ** 2)
    return np.sum(X)

def frozen(f, x):
    return np.sum(f.a * x) * f.c

def items_loop(params, x):
    total = 0.0
    for key, value in params.items():
        total = total + np.sum(np.cos(value * x))
    for value in params.values():
        total = total + np.sum(value) * len(params)
    return total

def literals(a, b):
    d = {'u': a * 2.0, 'v': np.sin(b)}
    e = dict(w=a + b, d=d)
    pairs = [(a, b), (b, a)]
    s = 0.0
    for x, y in pairs:
        s = s + np.sum(x * y)
    return np.sum(e['d']['u'] * e['w']) + s + np.sum(d.get('v', 0.0)) + d.get('z', 1.0)

def slices_zip(p, x):
    ws = p['ws']
    s = 0.0
    for w, v in zip(ws[1:], ws[:-1]):
        s = s + np.sum(w * v * x)
    first = ws[1:][0]
    return s + np.sum(first ** 2) + np.sum(ws[-1])

def tuple_unpack(params, x):
    W, (b, c) = params
    return np.sum(np.tanh(W @ x + b)) * c

def static_checks(params, x):
    if isinstance(params, dict) and len(params) == 2:
        return np.sum(params['a'] * x)
    return np.sum(params['b'] * x)

def enumerate_keys(params, x):
    s = 0.0
    for i, key in enumerate(params):
        s = s + (i + 1.0) * np.sum(params[key] * x)
    return s
"""


def _fn(name):
    return make_function(SOURCES, dict(NS), name=name)


G = rng(1)
X = G.standard_normal((4, 3))
Y = G.standard_normal(4)
v3 = G.standard_normal(3)


def test_dict_mlp_gradient_has_the_dict_structure():
    params = {"W1": G.standard_normal((3, 5)), "b1": G.standard_normal(5),
              "W2": G.standard_normal(5), "b2": 0.3}
    g = check(_fn("dict_mlp"), params, X, Y)
    assert list(g) == ["W1", "b1", "W2", "b2"] and type(g["b2"]) is float


def test_nested_dicts_and_lists():
    params = {"layers": [{"W": G.standard_normal((3, 4)), "b": G.standard_normal(4)},
                         {"W": G.standard_normal((4, 2)), "b": G.standard_normal(2)}],
              "out": G.standard_normal(2), "reg": 0.1}
    check(_fn("nested_layers"), params, X, Y)


def test_list_of_tuples_and_ordered_dict():
    layers = [(G.standard_normal((3, 3)), G.standard_normal(3)),
              (G.standard_normal((3, 2)), G.standard_normal(2))]
    g = check(_fn("list_of_tuples"), layers, X)
    assert type(g) is list and type(g[0]) is tuple
    od = OrderedDict(a=G.standard_normal(3), b=G.standard_normal(3))
    assert type(check(_fn("items_loop"), od, v3)) is OrderedDict


def test_namedtuple_dataclass_and_frozen():
    g = check(_fn("named"), Pair(G.standard_normal((3, 2)), G.standard_normal(2)), X)
    assert type(g) is Pair
    m = Linear(G.standard_normal((3, 2)), G.standard_normal(2), 1.5)
    g = check(_fn("dataclass_model"), m, X)
    assert type(g) is Linear and g.name is None and type(g.scale) is float
    g = check(_fn("frozen"), Frozen(G.standard_normal(3), 0.7), v3)
    assert type(g) is Frozen


@pytest.mark.parametrize("name", ["items_loop", "enumerate_keys", "static_checks"])
def test_dict_iteration_and_static_checks(name):
    check(_fn(name), {"a": G.standard_normal(3), "b": G.standard_normal(3)}, v3)


def test_literals_made_inside():
    f = _fn("literals")
    check(f, G.standard_normal(3), G.standard_normal(3))
    check(f, G.standard_normal(3), G.standard_normal(3), wrt=1)


def test_slices_and_zip():
    ws = [G.standard_normal(3) for _ in range(4)]
    check(_fn("slices_zip"), {"ws": ws}, v3)


def test_tuple_unpacking_nested():
    params = (G.standard_normal((2, 3)), (G.standard_normal(2), {"c": 0.5}))
    f = make_function("""
        def f(params, x):
            W, (b, c) = params
            return np.sum(np.tanh(W @ x + b)) * c['c']
        """)
    check(f, params, v3)


def test_container_with_respect_to_another_argument_and_several():
    params = {"W1": G.standard_normal((3, 5)), "b1": G.standard_normal(5),
              "W2": G.standard_normal(5), "b2": 0.3}
    f = _fn("dict_mlp")
    g = srcad.grad(f, wrt=1)(params, X, Y)
    np.testing.assert_allclose(g, _leaves_fd(f, [params, X, Y], 1)[0], rtol=1e-5, atol=1e-7)
    gp, gx = srcad.grad(f, wrt=(0, "X"))(params, X, Y)
    assert set(gp) == set(params) and gx.shape == X.shape
    np.testing.assert_allclose(gx, g)


def test_generated_code_names_the_leaves():
    f = _fn("dict_mlp")
    params = {"W1": np.ones((3, 5)), "b1": np.ones(5), "W2": np.ones(5), "b2": 0.3}
    srcad.grad(f)(params, X, Y)
    from srcad.api import Spec, _get
    spec = Spec(wrt=(0, 1, 2, 3), single=False,
                containers=(("params", trees.structure(params)),))
    source = _get(f, spec).source
    assert "(params_W1, params_b1, params_W2, params_b2, X, y):" in " ".join(source.split())
    assert not [line for line in source.splitlines()
                if "params[" in line and not line.lstrip().startswith("#")]


def test_the_cache_keys_on_structure(monkeypatch):
    from helpers import count_builds
    f = _fn("named")
    df = srcad.grad(f)
    builds = count_builds(monkeypatch)
    p = Pair(G.standard_normal((3, 2)), G.standard_normal(2))
    df(p, X)
    df(Pair(p.W + 1, p.b), X)
    assert len(builds) == 1
    df(Linear(p.W, p.b), X)       # another structure: another derivative
    assert len(builds) == 2


# -- errors ------------------------------------------------------------------------------------

def test_wrong_tangent_structure_names_the_parameter():
    f = _fn("named")
    p = Pair(G.standard_normal((3, 2)), G.standard_normal(2))
    with pytest.raises(ShapeMismatchError, match="tangent of p does not have its structure"):
        srcad.autodiff(f, mode="forward")(p, X, {"W": p.W, "b": p.b})


def test_missing_key_is_located():
    f = _fn("dict_mlp")
    with pytest.raises(SrcadError, match="no item 'b2'") as info:
        srcad.grad(f)({"W1": np.ones((3, 5)), "b1": np.ones(5), "W2": np.ones(5)}, X, Y)
    assert info.value.location.lineno == 3


def test_container_without_floats():
    f = make_function("""
        def f(cfg, x):
            return np.sum(x) * cfg['n']
        """)
    with pytest.raises(NotDifferentiableError, match="cfg: it holds no float arrays"):
        srcad.grad(f)({"n": 2}, v3)
    np.testing.assert_allclose(srcad.grad(f, wrt=1)({"n": 2}, v3), 2 * np.ones(3))


@pytest.mark.parametrize("body, message", [
    ("return np.sum(p) * helper(p, x)", "a dict used whole here"),
    ("return np.sum(p.a * x)", "a dict container has no attribute 'a'"),
    ("k = 'a'\n    k = 'b'\n    return np.sum(p[k] * x)", "not a constant"),
    ("p['a'] = x\n    return np.sum(x)", "writing into a container"),
    ("s = 0.0\n    for v in p.values():\n        if s > 1:\n            break\n"
     "        s = s + np.sum(v)\n    return s", "break, continue or else"),
    ("d = {'a': x}\n    d = {'a': 2 * x}\n    return np.sum(d['a'])", "assigned more than once"),
])
def test_refusals_are_located(body, message):
    f = make_function("def helper(p, x):\n    return np.sum(p['a'] * x)\n\n\n"
                      f"def f(p, x):\n    {body}\n", name="f")
    with pytest.raises(SrcadError, match=message) as info:
        srcad.grad(f)({"a": v3, "b": v3}, v3)
    assert info.value.location is not None and info.value.location.lineno >= 5


# -- helpers, methods and objects -----------------------------------------------------------------

OBJECTS = """
def predict(params, X):
    return np.tanh(X @ params['W'] + params['b'])

def layer_out(layer, h):
    return scaled(layer, h @ layer.W + layer.b)

def scaled(layer, z):
    return layer.scale * np.sin(z)

def loss(params, X, y):
    return np.sum((predict(params, X) - y) ** 2)

def stack(model, X):
    h = X
    for layer in model['layers']:
        h = layer_out(layer, h)
    return np.sum(h ** 2)

class Net:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.act = "tanh"

    def predict(self, X):
        if self.act == "tanh":
            return np.tanh(X @ self.W + self.b)
        return X @ self.W + self.b

    def loss(self, X, y):
        return np.sum((self.predict(X) - y) ** 2)

    def unused_self(self, x):
        return np.sum(x ** 2)
"""


def _objects(name):
    return make_function(OBJECTS, dict(NS), name=name)


Y2 = G.standard_normal((4, 2))


def test_helper_taking_a_dict():
    p = {"W": G.standard_normal((3, 2)), "b": G.standard_normal(2)}
    check(_objects("loss"), p, X, Y2)


def test_helpers_taking_dataclasses_nested():
    model = {"layers": [Linear(G.standard_normal((3, 3)), G.standard_normal(3), 0.5),
                        Linear(G.standard_normal((3, 2)), G.standard_normal(2), 1.5)]}
    g = check(_objects("stack"), model, X)
    assert [type(layer) for layer in g["layers"]] == [Linear, Linear]


def test_methods_unbound_and_bound():
    Net = _objects("loss").__globals__["Net"]
    net = Net(G.standard_normal((3, 2)), G.standard_normal(2))
    g = check(Net.loss, net, X, Y2)
    assert type(g) is Net and g.act is None
    p = {"W": net.W, "b": net.b}
    expected = srcad.grad(_objects("loss"))(p, X, Y2)
    np.testing.assert_allclose(g.W, expected["W"])
    # a bound method: wrt is its first explicit parameter; attributes read at each call
    gx = srcad.grad(net.loss)(X, Y2)
    np.testing.assert_allclose(gx, _leaves_fd(net.loss, [X, Y2], 0)[0], rtol=1e-5, atol=1e-7)
    net.W = net.W * 2.0
    np.testing.assert_allclose(srcad.grad(net.loss)(X, Y2),
                               _leaves_fd(net.loss, [X, Y2], 0)[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(srcad.grad(net.unused_self)(v3), 2 * v3)


@pytest.mark.parametrize("optimized", [True, False])
def test_hessian_vector_product_of_containers(optimized):
    """Forward over reverse: the derivative of the gradient along a container tangent,
    against central differences of the gradient."""
    f = _objects("stack")
    model = {"layers": [Linear(G.standard_normal((3, 3)), G.standard_normal(3), 0.5),
                        Linear(G.standard_normal((3, 2)), G.standard_normal(2), 1.5)]}
    tangent = {"layers": [Linear(G.standard_normal((3, 3)), G.standard_normal(3), 0.2),
                          Linear(G.standard_normal((3, 2)), G.standard_normal(2), -0.3)]}
    g = srcad.grad(f, optimized=optimized)
    hv = srcad.autodiff(g, mode="forward", optimized=optimized)(
        _readonly(model), _readonly(X), _readonly(tangent))
    h = 1e-6
    moved = [trees.rebuild(model, iter([
        a + sign * h * t if trees.differentiable(a) else a
        for a, t in zip(trees.leaves(model), trees.leaves(tangent))])) for sign in (1, -1)]
    up, down = (trees.leaves(g(m, X)) for m in moved)
    got = trees.leaves(hv)
    assert trees.structure(hv) == trees.structure(model)
    for gi, u, d in zip(got, up, down):
        if u is None:
            assert gi is None
            continue
        np.testing.assert_allclose(gi, (u - d) / (2 * h), rtol=1e-5, atol=1e-6)
    p = {"W": G.standard_normal((3, 2)), "b": G.standard_normal(2)}
    v = {"W": G.standard_normal((3, 2)), "b": G.standard_normal(2)}
    hv = srcad.hvp(_objects("loss"))(p, X, Y2, v)
    gl = srcad.grad(_objects("loss"))
    up, down = (gl({k: p[k] + s * h * v[k] for k in p}, X, Y2) for s in (1, -1))
    for k in p:
        np.testing.assert_allclose(hv[k], (up[k] - down[k]) / (2 * h), rtol=1e-5, atol=1e-6)


def test_star_unpacking_of_containers_in_calls():
    f = make_function("""
        def affine(W, b, x):
            return W @ x + b

        def f(params, x):
            layer = (params['W'], params['b'])
            return np.sum(np.tanh(affine(*layer, x))) + np.sum(affine(**params, x=x))
        """)
    check(f, {"W": G.standard_normal((2, 3)), "b": G.standard_normal(2)}, v3)


# -- comprehensions ------------------------------------------------------------------------------

COMPREHENSIONS = """
def masked_sum(w, x, mask):
    n = len(x)
    return sum(w[i] * x[i] for i in range(n) if mask[i])

def nested(w, x):
    ys = [np.tanh(w * v) for v in [x, 2 * x]]
    zs = np.stack([[a * b for a in ys] for b in (1.0, 2.0)][1])
    return np.sum(zs) + np.sum(np.stack([y ** 2 for y in ys])) + sum(list(np.sin(w)))

def over_container(params, x):
    return sum(np.sum(layer['W'] @ x) for layer in params['layers']) + np.sum(
        np.stack([v * x for v in params['biases'].values()]))
"""


def test_comprehensions_and_sum_of_generators():
    w, x = G.standard_normal(3), G.standard_normal(3)
    f = make_function(COMPREHENSIONS, name="masked_sum")
    check(f, w, x, np.array([True, False, True]))
    check(make_function(COMPREHENSIONS, name="nested"), w, x)


def test_comprehensions_over_containers():
    params = {"layers": [{"W": G.standard_normal((2, 3))}, {"W": G.standard_normal((2, 3))}],
              "biases": {"a": G.standard_normal(3), "b": 0.5}}
    check(make_function(COMPREHENSIONS, name="over_container"), params, v3)


def test_comprehension_variables_do_not_leak():
    f = make_function("""
        def f(x):
            i = 2.0
            s = sum(x[i] for i in range(3))
            return s * i
        """)
    np.testing.assert_allclose(srcad.grad(f)(v3), 2.0 * np.ones(3))


def test_keywords_vjp_forward_value_and_jacobian():
    f = make_function("""
        def loss(params, X, *, scale=1.0):
            return scale * np.sum(np.tanh(X @ params['W'] + params['b']))

        def vec(params, x):
            return np.tanh(params['W'] @ x) * params['c']
        """, name="loss")
    vec = f.__globals__["vec"]
    p = {"W": G.standard_normal((3, 2)), "b": G.standard_normal(2)}
    g2 = srcad.grad(f)(params=p, X=X, scale=2.0)
    np.testing.assert_allclose(g2["W"], 2 * srcad.grad(f)(p, X)["W"])
    value, tangent = srcad.autodiff(f, mode="forward", preserve_result=True)(p, X, p)
    assert np.isclose(value, f(p, X))
    np.testing.assert_allclose(tangent, sum(np.sum(_leaves_fd(f, [p, X], 0)[k] * leaf)
                                            for k, leaf in enumerate(p.values())), rtol=1e-6)
    q = {"W": G.standard_normal((2, 3)), "c": 0.5}
    seed = G.standard_normal(2)
    value, vjp_fn = srcad.vjp(vec, q, v3)
    got = vjp_fn(seed)
    expected = _leaves_fd(lambda q, x: float(np.sum(vec(q, x) * seed)), [q, v3], 0)
    np.testing.assert_allclose(got["W"], expected[0], rtol=1e-6, atol=1e-8)
    assert np.isclose(got["c"], expected[1])
    J = srcad.jacobian(vec)(q, v3)       # JAX's layout: the argument's structure, per leaf
    assert list(J) == ["W", "c"] and J["W"].shape == (2, 2, 3) and J["c"].shape == (2,)
    for i in range(2):
        row = _leaves_fd(lambda q, x: float(vec(q, x)[i]), [q, v3], 0)
        np.testing.assert_allclose(J["W"][i], row[0], rtol=1e-6, atol=1e-8)
        assert np.isclose(J["c"][i], row[1])


def test_source_is_the_code_built_for_the_containers():
    f = _fn("items_loop")
    with pytest.raises(SrcadError, match="call the derivative once"):
        srcad.show(f)
    df = srcad.grad(f)
    df({"a": v3, "b": v3}, v3)
    assert "def ditems_loop_dparams_a_dparams_b(params_a, params_b, x):" in df.source()


# -- read through what a container holds; decided by its structure (the user corpus) -----------

STRUCTURE_SOURCES = """
def loop_of_dataclasses(layers, X):
    h = X
    for layer in layers:
        h = np.tanh(h @ layer.W + layer.b)
    return np.mean(h ** 2)

def item_attribute(layers, X):
    first = layers[0]
    return np.sum(np.tanh(X @ layers[0].W) * first.b) + np.sum(layers[1].W ** 2)

def namedtuple_by_position(p, X):
    return np.sum(np.tanh(X @ p[0] + p[-1]))

def keys_filtered(params, x):
    s = 0.0
    for name, v in params.items():
        if name.startswith("w") and not name.endswith("_frozen"):
            s = s + np.sum(v ** 2 * x[:v.shape[0]])
    return s

def membership(params, x):
    out = np.sum(params["W"] * x)
    if "b" in params:
        out = out + np.sum(params["b"] ** 2)
    else:
        out = out * params["c"]
    if "scale" not in params:
        out = 2.0 * out
    return out
"""


def _structure_fn(name):
    return make_function(STRUCTURE_SOURCES, dict(NS), name=name)


def test_a_loop_over_a_list_of_dataclasses_and_their_attributes():
    layers = [Linear(G.standard_normal((3, 4)), G.standard_normal(4)),
              Linear(G.standard_normal((4, 2)), G.standard_normal(2))]
    g = check(_structure_fn("loop_of_dataclasses"), layers, X)
    assert type(g) is list and all(type(layer) is Linear for layer in g)
    layers[1] = Linear(G.standard_normal((4, 4)), G.standard_normal(4))
    check(_structure_fn("item_attribute"), layers, X)


def test_a_namedtuple_read_by_position():
    g = check(_structure_fn("namedtuple_by_position"),
              Pair(G.standard_normal((3, 2)), G.standard_normal(2)), X)
    assert type(g) is Pair


def test_string_methods_of_keys_and_membership_decide_at_build_time():
    params = {"w1": G.standard_normal(3), "b": G.standard_normal(2),
              "w2_frozen": G.standard_normal(2), "w3": G.standard_normal(2)}
    g = check(_structure_fn("keys_filtered"), params, v3)
    assert np.all(g["b"] == 0) and np.all(g["w2_frozen"] == 0)
    f = _structure_fn("membership")
    check(f, {"W": G.standard_normal(3), "b": G.standard_normal(2)}, v3)
    # the dead branch reads a key this structure lacks: it is not built
    check(f, {"W": G.standard_normal(3), "c": 1.7, "scale": 0.0}, v3)


def test_membership_derivatives_at_second_order():
    f = _structure_fn("membership")
    params = {"W": G.standard_normal(3), "b": G.standard_normal(2)}
    hv = srcad.hvp(f)(params, v3, {"W": np.ones(3), "b": np.ones(2)})
    assert np.allclose(hv["W"], 0) and np.allclose(hv["b"], 4.0)      # 2 * d2/db2 of b**2


class CallableNet:
    """A model object called like a function, with a property."""

    def __init__(self, W, b):
        self.W = W
        self.b = b

    @property
    def Wt(self):
        return self.W.T

    def __call__(self, X):
        return np.tanh(X @ self.W + self.b)

    def loss(self, X, y):
        return np.mean((self(X)[:, 0] - y) ** 2)

    def loss_through_property(self, X):
        return np.sum(np.tanh(self.Wt @ X.T) ** 2)


class TwoLayers:
    def __init__(self, first, second):
        self.first = first
        self.second = second

    def loss(self, X):
        return np.sum(self.second(self.first(X)) ** 2)


def loss_of_a_callable_argument(net, X, y):
    return np.mean((net(X) - y[:, None]) ** 2)


def test_objects_called_like_functions_and_properties():
    net = CallableNet(G.standard_normal((3, 2)), G.standard_normal(2))
    g = check(CallableNet.loss, net, X, Y)
    assert type(g) is CallableNet
    check(loss_of_a_callable_argument, net, X, Y)
    check(CallableNet.loss_through_property, net, X)
    two = TwoLayers(CallableNet(G.standard_normal((3, 4)), G.standard_normal(4)),
                    CallableNet(G.standard_normal((4, 2)), G.standard_normal(2)))
    g = check(TwoLayers.loss, two, X)
    assert type(g.first) is CallableNet
    # the bound method: with respect to its first explicit parameter, self read at call time
    want = _leaves_fd(lambda X_: net.loss(X_, Y), [X], 0)[0]
    np.testing.assert_allclose(srcad.grad(net.loss)(X, Y), want, rtol=1e-5, atol=1e-6)


def test_an_object_without_call_is_refused_where_it_is_called():
    f = make_function("def f(p, x):\n    return np.sum(p(x))\n", dict(NS))
    with pytest.raises(SrcadError, match="no __call__ method"):
        srcad.grad(f)(Pair(G.standard_normal(3), G.standard_normal(3)), v3)


@dataclasses.dataclass
class Quadratic:
    A: np.ndarray
    c: float = 1.0

    def energy(self, x):
        return 0.5 * x @ self.A @ x + self.c * np.sum(np.cos(x))


def test_second_derivatives_of_a_bound_method_and_beside_a_container():
    """hvp and hessian of a bound method of a dataclass (self is a container argument of the
    derivative's derivative), and with respect to an array beside a container argument."""
    q = Quadratic(G.standard_normal((3, 3)), 0.5)
    H = 0.5 * (q.A + q.A.T) - 0.5 * np.diag(np.cos(v3))
    u = G.standard_normal(3)
    np.testing.assert_allclose(srcad.hvp(q.energy)(v3, u), H @ u, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(srcad.hessian(q.energy)(v3), H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(srcad.hessian(Quadratic.energy, wrt=1)(q, v3), H,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(srcad.hvp(Quadratic.energy, wrt="x")(q, v3, u), H @ u,
                               rtol=1e-10, atol=1e-12)


class IndexedLayers:
    """A method that picks its layer by an index its caller passes as a constant."""

    def __init__(self, W1, W2):
        self.layers = [W1, W2]

    def layer(self, h, i):
        return np.tanh(h @ self.layers[i]) * (i + 1)

    def __call__(self, X):
        return self.layer(self.layer(X, 0), 1)

    def loss(self, X, y):
        return np.mean((self(X)[:, 0] - y) ** 2)


def test_a_constant_passed_to_a_method_indexes_its_containers():
    net = IndexedLayers(G.standard_normal((3, 2)), G.standard_normal((2, 2)))
    g = check(IndexedLayers.loss, net, X, Y)
    assert type(g) is IndexedLayers and len(g.layers) == 2


@pytest.mark.parametrize("body", [
    "t = x * 1.0\n    t[np.array([1, 0, 1])] = p['b']\n    t[2:] = p['W']\n"
    "    return np.sum(t * t)",
    "t = x * 1.0\n    t[0] = m.b\n    t[1:3] += m.W[::-1]\n    return np.sum(np.sin(t))",
])
def test_a_leaf_written_into_an_array(body):
    """``t[i] = p['b']``, ``t[idx] = m.b``: a leaf of a container written into an array of
    the function's own (the fuzzer, seed 20: refused as "assigning a container there")."""
    name = "p" if "p[" in body else "m"
    f = make_function(f"def f({name}, x):\n    {body}\n", dict(NS))
    arg = {"W": G.standard_normal(2), "b": 0.7} if name == "p" else Linear(
        G.standard_normal(2), G.standard_normal(2), 0.7)
    if name == "m":
        arg.b = 0.7
    x = G.standard_normal(4)
    check(f, arg, x, wrt=0)
    check(f, arg, x, wrt=1)


def _scaled(q, s=1.0):
    return q["W"] * q["b"] * s


@pytest.mark.parametrize("body", [
    "return np.sum(_scaled({'W': x * 2.0, 'b': np.sin(x)}))",
    "return np.sum(_scaled(dict(W=x, b=x[0]), s=2.0))",
    "t = sum(_scaled({'W': x, 'b': x[i]}) for i in range(2))\n    return np.sum(t * t)",
    "t = 0.0\n    for i in range(2):\n        t = t + _scaled({'W': x, 'b': 0.5})\n"
    "    return np.sum(t)",
])
def test_a_dict_display_passed_to_a_helper(body):
    """``h({'W': ..., 'b': ...})``: a dict built in the call and passed whole to a helper of
    the user's (the fuzzer, seed 94: refused as "a dict used whole here", whose hint says to
    do just that)."""
    f = make_function(f"def f(x):\n    {body}\n", {**NS, "_scaled": _scaled})
    check(f, G.standard_normal(3))


def _through_a_lambda(q, x):
    act = lambda z: q["W"] * z
    return np.sum(act(x) ** 2)


@pytest.mark.parametrize("body", [
    "act = lambda z: p['c'] - z * p['W']\n    return np.sum(np.cos(act(x)))",
    "def g(z):\n        return np.sum(z * p['W'])\n    return g(x) + p['c']",
    "return _through_a_lambda(p, x)",
])
def test_a_closure_reads_a_container_of_the_enclosing_function(body):
    """A lambda or nested def reading ``p['W']`` of the function that defines it (the
    fuzzer, seeds 30782 and 31063: NameError: name 'p' is not defined, in the derivative)."""
    f = make_function(f"def f(p, x):\n    {body}\n", {**NS, "_through_a_lambda": _through_a_lambda})
    p = {"W": G.standard_normal(3), "c": 0.4}
    x = G.standard_normal(3)
    check(f, p, x, wrt=0)
    check(f, p, x, wrt=1)


class _Scaler:
    def __init__(self, a):
        self.a = a

    def __call__(self, u):
        return u * self.a

    def energy(self, u):
        return np.sum(u ** 2)


@pytest.mark.parametrize("call", ["np.sum(m(x))", "m.energy(x)"])
def test_a_method_of_a_global_object_is_refused_with_what_to_do(call):
    """A module-level object's method (found by the fuzzer's first object programs): refused
    at its call, saying to pass the object as an argument (it was 'no adjoint rule for
    <..._Scaler object at 0x...>' with a recipe registering a rule for that object, or
    'does not know the method .energy()', hinting at a NumPy function)."""
    f = make_function(f"def f(x):\n    return {call}\n", {"m": _Scaler(1.5)})
    for mode in ("reverse", "forward"):
        with pytest.raises(srcad.NoRuleError, match=r"method of the global _Scaler object "
                           r"'m'(.|\n)*Pass m to the function as an argument"):
            srcad.autodiff(f, mode=mode)
    g = make_function(f"def f(m, x):\n    return {call}\n")
    check(g, _Scaler(1.5), G.standard_normal(3), wrt=1)


@pytest.mark.parametrize("second", ["for key, v in p.items():",
                                    "for key in p:\n                v = p[key]"])
def test_two_loops_over_a_dict_with_the_same_key_name(second):
    """``for key, v in p.items()`` twice in a function (the fuzzer, seeds 32394 and 32503:
    refused as "'key' holds a container and is assigned more than once")."""
    f = make_function(f"""
        def f(p):
            t = 0.0
            for key, v in p.items():
                t = t + np.sum(v * v)
            {second}
                t = t + np.sum(np.sin(v))
            return t
        """)
    check(f, {"W": G.standard_normal(3), "b": G.standard_normal(2)})


def test_a_key_rebound_in_the_loop_over_a_dict_is_still_refused():
    f = make_function("""
        def f(p):
            t = 0.0
            for key, v in p.items():
                key = 'W'
                t = t + np.sum(p[key] * v)
            return t
        """)
    with pytest.raises(SrcadError, match="assigned more than once"):
        srcad.grad(f)({"W": G.standard_normal(3), "b": G.standard_normal(3)})


# -- second order of functions reading containers only by position (issue 13) -----------------

def _moved(a, v, h):
    """``a + h * v`` leaf by leaf (a container, or one array or float)."""
    if not trees.is_container(a):
        return a + h * v
    return trees.rebuild(a, iter([x + h * t for x, t in zip(trees.leaves(a), trees.leaves(v))]))


def _hvp_fd(f, args, v, wrt=0, h=1e-5):
    """Central differences of the gradient along ``v``: the leaves of H v."""
    grads = []
    for sign in (1, -1):
        moved = list(args)
        moved[wrt] = _moved(args[wrt], v, sign * h)
        g = srcad.grad(f, wrt=wrt)(*moved)
        grads.append(trees.leaves(g) if trees.is_container(g) else [g])
    return [(p - m) / (2 * h) for p, m in zip(*grads)]


def _positional_cases():
    G2 = rng(11)
    r = G2.standard_normal
    layers = [(r((3, 4)), r(4)), (r((4, 2)), 0.1)]
    return {
        "for W, b in layers": (make_function("""
            def f(layers, X):
                h = X
                for W, b in layers:
                    h = np.tanh(h @ W + b)
                return np.sum(h ** 2)
            """), (layers, r((5, 3))), [(r((3, 4)), r(4)), (r((4, 2)), 0.3)]),
        "for w in group in p": (make_function("""
            def f(p, x):
                s = 0.0
                for group in p:
                    for w in group:
                        s = s + np.sum(w * x)
                return s ** 2
            """), ([(r(3), r(3)), (r(3),)], r(3)), [(r(3), r(3)), (r(3),)]),
        "lin[0] of a namedtuple": (make_function("""
            def f(lin, X):
                return np.sum((X @ lin[0] + lin[1]) ** 2)
            """), (Pair(r((3, 2)), 0.5), r((4, 3))), Pair(r((3, 2)), 0.7)),
        "for v in a namedtuple": (make_function("""
            def f(p, x):
                s = 0.0
                for v in p:
                    s = s + v * np.sum(np.sin(x)) * v
                return s
            """), (Pair(0.5, -0.3), r(4)), Pair(0.2, 1.1)),
    }


@pytest.mark.parametrize("case", list(_positional_cases()))
def test_hvp_of_a_function_reading_containers_by_position(case):
    """hvp of ``for W, b in layers``, ``lin[0]``, ``for v in nt``: it differentiated the
    generic gradient, which rebinds names to containers ("'_W_b' holds a container and is
    assigned more than once"); now the gradient built for the argument's structure. The
    result has the argument's structure and types."""
    f, args, v = _positional_cases()[case]
    want = _hvp_fd(f, args, v)
    for optimized in (True, False):
        hv = srcad.hvp(f, optimized=optimized)(*map(_readonly, args), _readonly(v))
        got = _same_structure(hv, args[0])
        for gi, ei in zip(got, want):
            np.testing.assert_allclose(gi, ei, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", list(_positional_cases()))
def test_reverse_over_reverse_of_a_function_reading_containers_by_position(case):
    """The VJP of the gradient (reverse over reverse) along ``v`` is H v (H is symmetric)."""
    f, args, v = _positional_cases()[case]
    want = _hvp_fd(f, args, v)
    got = srcad.autodiff(srcad.grad(f), mode="reverse")(*args, seed=v)
    for gi, ei in zip(_same_structure(got, args[0]), want):
        np.testing.assert_allclose(gi, ei, rtol=1e-6, atol=1e-8)
    _, pullback = srcad.vjp(srcad.grad(f), *args)
    for gi, ei in zip(_same_structure(pullback(v), args[0]), want):
        np.testing.assert_allclose(gi, ei, rtol=1e-6, atol=1e-8)


def test_hvp_is_typed_like_the_argument():
    """hvp with respect to a tuple of arrays the function is linear in was a list of zeros;
    with respect to a float (positional or keyword-only), a 0-d array."""
    f = make_function("""
        def f(t, x, *, lam=0.1):
            ls = list(t)
            return np.sum(ls[0] * x) + lam * np.sum(ls[1] * x ** 2) + lam * np.sum(x)
        """)
    t, x = (G.standard_normal(3), G.standard_normal(3)), G.standard_normal(3)
    hv = srcad.hvp(f)(t, x, t)
    assert type(hv) is tuple and all(type(h) is np.ndarray for h in hv)
    np.testing.assert_array_equal(hv[0], 0.0)
    hl = srcad.hvp(f, wrt="lam")(t, x, 1.0, lam=0.5)
    assert type(hl) is float and hl == 0.0
    g = make_function("""
        def g(x, a):
            h = lambda z: a * np.sin(z)
            return np.sum(h(x))
        """)
    ha = srcad.hvp(g, wrt=1)(x, 0.7, 1.0)
    assert type(ha) is float and ha == 0.0
    both = srcad.hvp(g, wrt=(0, 1))(x, 0.7, x, 1.0)
    assert type(both) is tuple and type(both[0]) is np.ndarray and type(both[1]) is float
    np.testing.assert_allclose(both[1], np.sum(np.cos(x) * x), rtol=1e-12)


def test_hessian_of_a_tuple_of_an_array_and_a_float():
    """The Hessian in a tuple ``(x, 0.5)`` (leaves of several shapes) was an unlocated
    ValueError ('inhomogeneous shape', np.asarray of the tuple in _tuple_jacobian); now JAX's
    layout: per gradient leaf, per argument leaf, a block; the float-float block a float."""
    f = make_function("""
        def f(t):
            return np.sum(t[0] ** 2 * t[1]) + t[1] ** 3 + np.sum(np.sin(t[0]))
        """)
    x = G.standard_normal(3)
    H = srcad.hessian(f)((x, 0.5))
    np.testing.assert_allclose(H[0][0], np.diag(1.0 - np.sin(x)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H[0][1], 2 * x, rtol=1e-12)
    np.testing.assert_allclose(H[1][0], 2 * x, rtol=1e-12)
    assert type(H[1][1]) is float and np.isclose(H[1][1], 3.0, rtol=1e-12)
    h = 1e-5            # each block against central differences of the gradient
    for k, v in enumerate([(np.eye(3)[j], 0.0) for j in range(3)] + [(np.zeros(3), 1.0)]):
        up, down = (srcad.grad(f)((x + s * h * v[0], 0.5 + s * h * v[1])) for s in (1, -1))
        col = [(u - d) / (2 * h) for u, d in zip(up, down)]
        if k < 3:
            np.testing.assert_allclose(col[0], H[0][0][:, k], rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(col[1], H[1][0][k], rtol=1e-6, atol=1e-8)
        else:
            np.testing.assert_allclose(col[0], H[0][1], rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(col[1], H[1][1], rtol=1e-6, atol=1e-8)


def test_the_float_float_block_of_a_hessian_is_a_float():
    f = make_function("""
        def f(x, a):
            return np.sum(x ** 2) * a ** 2
        """)
    x = G.standard_normal(3)
    H = srcad.hessian(f, wrt=(0, 1))(x, 0.5)
    assert type(H[1][1]) is float and np.isclose(H[1][1], 2 * np.sum(x ** 2), rtol=1e-12)
    assert type(H[0][1]) is np.ndarray and H[0][1].shape == (3,)
    h = srcad.hessian(f, wrt=1)(x, 0.5)
    assert type(h) is float and np.isclose(h, 2 * np.sum(x ** 2), rtol=1e-12)


def test_grad_called_inside_differentiated_code_over_a_list():
    """``srcad.grad(h)(layers, x)`` inside a differentiated function, ``h`` looping over the
    list ``layers``: the inlined gradient's own loop index ``_k`` was taken for the index of
    the loop desugared around it, so ``_W = _range[_k]`` read the renamed ``_k`` (None): an
    unlocated TypeError 'range indices must be integers or slices, not NoneType'."""
    inner = make_function("""
        def inner(layers, x):
            for W in layers:
                x = np.tanh(W * x)
            return np.sum(x)
        """)
    outer = make_function("""
        def outer(layers, x):
            return np.sum(srcad.grad(inner)(layers, x)[0] ** 2)
        """, {"inner": inner, "srcad": srcad})
    x = G.standard_normal(3)
    layers = [x * 0.5, x + 1.0]
    h = 1e-6
    for optimized in (True, False):
        got = srcad.grad(outer, optimized=optimized)(layers, x)
        assert type(got) is list and len(got) == 2
        gx = srcad.grad(outer, wrt=1, optimized=optimized)(layers, x)
        for k in range(3):
            for i in range(2):
                up, down = [a.copy() for a in layers], [a.copy() for a in layers]
                up[i][k] += h
                down[i][k] -= h
                fd = (outer(up, x) - outer(down, x)) / (2 * h)
                np.testing.assert_allclose(got[i][k], fd, rtol=1e-6, atol=1e-9)
            e = np.eye(3)[k] * h
            fd = (outer(layers, x + e) - outer(layers, x - e)) / (2 * h)
            np.testing.assert_allclose(gx[k], fd, rtol=1e-6, atol=1e-9)


def _object_fd(f, m, x, h=1e-6):
    out = np.zeros_like(m.w)
    for k in range(m.w.size):
        up, down = copy.deepcopy(m), copy.deepcopy(m)
        up.w[k] += h
        down.w[k] -= h
        out[k] = (f(up, x) - f(down, x)) / (2 * h)
    return out


class _Rebound:
    def __init__(self, w):
        self.w = w

    def act(self, z):
        return np.tanh(z)

    def loss(self, x):
        return np.sum(self.act(x * self.w))


def _rebound_loss(m, x):
    return m.loss(x)


def _act_square(self, z):
    return z ** 2


def _act_sin(self, z):
    return np.sin(z) * 3.0


def test_rebinding_a_method_rebuilds_the_derivative():
    """Every class looked at when a derivative is built is a dependency: after
    ``M.act = other`` the derivative was built again, not the old one returned (a silent wrong
    answer: the gradient of tanh for a class whose act squares)."""
    m, x = _Rebound(np.array([0.3, -0.2])), np.array([1.0, 2.0])
    old = _Rebound.act
    try:
        for act in (old, _act_square, _act_sin, old):
            _Rebound.act = act
            got = srcad.grad(_rebound_loss)(m, x)
            np.testing.assert_allclose(got.w, _object_fd(_rebound_loss, m, x), rtol=1e-6)
            _, jv = srcad.jvp(_rebound_loss, (m, x), (_Rebound(np.array([1.0, 0.5])), np.zeros(2)))
            np.testing.assert_allclose(jv, got.w @ [1.0, 0.5], rtol=1e-6)
    finally:
        _Rebound.act = old


class _Gained:
    gain = 2.0

    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum((x * self.w) ** 2) * self.gain


class _Gained2(_Gained):
    gain = 0.5


def test_class_attribute_read_through_self_at_each_call():
    """``self.gain`` of a class attribute is ``type(self).gain`` when called: a constant of
    the object's own class, never differentiated; rebinding it rebuilds the derivative."""
    x = np.array([1.0, 2.0])
    f = _rebound_loss
    try:
        for cls, gain in ((_Gained, 2.0), (_Gained2, 0.5), (_Gained, 5.0)):
            cls.gain = gain
            m = cls(np.array([0.3, -0.2]))
            got = srcad.grad(f)(m, x)
            assert type(got) is cls and set(vars(got)) == {"w"}
            np.testing.assert_allclose(got.w, 2 * gain * x ** 2 * m.w, rtol=1e-12)
            np.testing.assert_allclose(got.w, _object_fd(f, m, x), rtol=1e-6)
    finally:
        _Gained.gain = 2.0
