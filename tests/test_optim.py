"""srcad.optim and srcad.tree: the first two steps of every optimizer against its update rule
worked out by hand, parameters of every container kind, schedules, convergence on a convex
quadratic and on Rosenbrock's function (first and second order, SciPy's methods when
installed), and the training loop."""
import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import srcad
from srcad import optim
from srcad.tree import flatten, leaves, tree_map

A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])   # positive definite
B = np.array([1.0, -2.0, 0.5])
X_STAR = np.linalg.solve(A, B)


def quadratic(x):
    return 0.5 * x @ (A @ x) - B @ x


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def pair_loss(params, c):
    w, b = params
    return np.sum((w - c) ** 2) + (b - 1.0) ** 2


# -- srcad.tree -------------------------------------------------------------------------------

Pair = namedtuple("Pair", "w b")


@dataclasses.dataclass
class Layer:
    w: np.ndarray
    b: np.ndarray


def test_tree_containers():
    tree = {"a": [np.ones(2), (3.0, Pair(np.zeros(1), 2.0))], "b": Layer(np.ones(3), None)}
    items, rebuild = flatten(tree)
    assert len(items) == 5
    doubled = tree_map(lambda x: 2 * x, tree)
    assert isinstance(doubled["a"][1][1], Pair) and isinstance(doubled["b"], Layer)
    assert doubled["a"][1][1].b == 4.0 and doubled["b"].b is None
    np.testing.assert_array_equal(doubled["b"].w, 2 * np.ones(3))
    summed = tree_map(lambda x, y: x + y, tree, doubled)
    assert leaves(summed)[1] == 9.0
    with pytest.raises(ValueError, match="structures"):
        tree_map(lambda x, y: x, tree, [1.0])


# -- every optimizer's first two steps, against its rule by hand -------------------------------
# One parameter element p0 = 1 with gradients 0.5 then -0.2 (a sign change, for rprop).
P0, G1, G2 = 1.0, 0.5, -0.2


def by_hand(name):
    """The parameter after each of the two steps, from the formulas in srcad.optim's table."""
    if name == "sgd":                                   # lr 0.1
        return [P0 - 0.1 * G1, P0 - 0.1 * G1 - 0.1 * G2]
    if name == "momentum":                              # lr 0.1, mu 0.9
        v1 = -0.1 * G1
        v2 = 0.9 * v1 - 0.1 * G2
        return [P0 + v1, P0 + v1 + v2]
    if name == "nesterov":
        v1 = -0.1 * G1
        p1 = P0 + 0.9 * v1 - 0.1 * G1
        v2 = 0.9 * v1 - 0.1 * G2
        return [p1, p1 + 0.9 * v2 - 0.1 * G2]
    if name == "adagrad":                               # lr 0.1, eps 1e-10
        s1, s2 = G1 ** 2, G1 ** 2 + G2 ** 2
        p1 = P0 - 0.1 * G1 / (s1 ** 0.5 + 1e-10)
        return [p1, p1 - 0.1 * G2 / (s2 ** 0.5 + 1e-10)]
    if name == "adadelta":                              # lr 1, rho 0.9, eps 1e-6
        s1 = 0.1 * G1 ** 2
        d1 = -((0 + 1e-6) ** 0.5) / (s1 + 1e-6) ** 0.5 * G1
        u1 = 0.1 * d1 ** 2
        s2 = 0.9 * s1 + 0.1 * G2 ** 2
        d2 = -((u1 + 1e-6) ** 0.5) / (s2 + 1e-6) ** 0.5 * G2
        return [P0 + d1, P0 + d1 + d2]
    if name == "rmsprop":                               # lr 0.1, rho 0.99, eps 1e-8
        s1 = 0.01 * G1 ** 2
        s2 = 0.99 * s1 + 0.01 * G2 ** 2
        p1 = P0 - 0.1 * G1 / (s1 ** 0.5 + 1e-8)
        return [p1, p1 - 0.1 * G2 / (s2 ** 0.5 + 1e-8)]
    if name in ("adam", "adamw"):                       # lr 0.1, b1 0.9, b2 0.999, eps 1e-8
        decay = 0.01 if name == "adamw" else 0.0
        m1, v1 = 0.1 * G1, 0.001 * G1 ** 2
        p1 = P0 * (1 - 0.1 * decay) - 0.1 * (m1 / 0.1) / ((v1 / 0.001) ** 0.5 + 1e-8)
        m2, v2 = 0.9 * m1 + 0.1 * G2, 0.999 * v1 + 0.001 * G2 ** 2
        c1, c2 = 1 - 0.9 ** 2, 1 - 0.999 ** 2
        return [p1, p1 * (1 - 0.1 * decay) - 0.1 * (m2 / c1) / ((v2 / c2) ** 0.5 + 1e-8)]
    if name == "adamax":                                # lr 0.1
        m1, u1 = 0.1 * G1, abs(G1)
        p1 = P0 - 0.1 / 0.1 * m1 / (u1 + 1e-8)
        m2, u2 = 0.9 * m1 + 0.1 * G2, max(0.999 * u1, abs(G2))
        return [p1, p1 - 0.1 / (1 - 0.9 ** 2) * m2 / (u2 + 1e-8)]
    if name == "rprop":                                 # initial step 0.1; sign change: shrink
        p1 = P0 - 0.1                                   # sign(G1) * 0.1
        return [p1, p1]                                 # step 0.05, but g zeroed: no move
    raise KeyError(name)


OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1), "momentum": lambda: optim.momentum(0.1),
    "nesterov": lambda: optim.nesterov(0.1), "adagrad": lambda: optim.adagrad(0.1),
    "adadelta": lambda: optim.adadelta(), "rmsprop": lambda: optim.rmsprop(0.1),
    "adam": lambda: optim.adam(0.1), "adamw": lambda: optim.adamw(0.1, weight_decay=0.01),
    "adamax": lambda: optim.adamax(0.1), "rprop": lambda: optim.rprop(0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_first_steps_by_hand(name):
    opt = OPTIMIZERS[name]()
    params = {"p": np.array([P0])}
    state = opt.init(params)
    expected = by_hand(name)
    for g, want in zip((G1, G2), expected):
        given = {"p": params["p"].copy()}
        params, state = opt.update(given, {"p": np.array([g])}, state)
        np.testing.assert_allclose(params["p"], [want], rtol=1e-12, atol=1e-15, err_msg=name)
    assert state.step == 2


def test_rprop_grows_and_shrinks():
    opt = optim.rprop(0.1)
    p, state = np.array([0.0, 0.0]), None
    state = opt.init(p)
    for g in ([1.0, 1.0], [1.0, -1.0], [1.0, 1.0]):
        p, state = opt.update(p, np.array(g), state)
    # element 0: steps 0.1, 0.12, 0.144; element 1: 0.1, shrunk to 0.05 without a move, 0.05
    np.testing.assert_allclose(p, [-0.1 - 0.12 - 0.144, -0.1 - 0.05])


def test_weight_decay_and_schedules():
    opt = optim.sgd(optim.step_decay(0.1, 2, 0.5), weight_decay=0.1)
    p = np.array([1.0])
    state = opt.init(p)
    expected = []
    q = 1.0
    for step in range(4):
        lr = 0.1 * 0.5 ** (step // 2)
        q = q - lr * (0.0 + 0.1 * q)
        expected.append(q)
        p, state = opt.update(p, np.array([0.0]), state)
        np.testing.assert_allclose(p, [q])
    assert optim.exponential_decay(1.0, 0.5)(3) == 0.125
    cosine = optim.cosine_decay(1.0, 10, 0.1)
    assert cosine(0) == 1.0 and abs(cosine(5) - 0.55) < 1e-12 and cosine(10) == cosine(20) == 0.1


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_structures_dtype_and_no_writes(name):
    params = {"layer": Layer(np.ones(3, np.float32), np.zeros(2, np.float32)),
              "extra": [Pair(np.full(2, 2.0, np.float32), np.ones((1, 2), np.float32))]}
    grads = tree_map(lambda p: np.full_like(p, 0.5), params)
    before = [x.copy() for x in leaves(params)]
    opt = OPTIMIZERS[name]()
    new, state = opt.update(params, grads, opt.init(params))
    new, state = opt.update(new, grads, state)
    assert isinstance(new["layer"], Layer) and isinstance(new["extra"][0], Pair)
    for old, x, y in zip(before, leaves(params), leaves(new)):
        np.testing.assert_array_equal(old, x)
        assert y.dtype == np.float32 and y.shape == x.shape


# -- convergence ---------------------------------------------------------------------------------

CONVEX = {   # optimizer, iterations to |x - x*| < 1e-4 on the quadratic
    "sgd": (lambda: optim.sgd(0.25), 200), "momentum": (lambda: optim.momentum(0.05), 300),
    "nesterov": (lambda: optim.nesterov(0.05), 300), "adagrad": (lambda: optim.adagrad(0.5), 1500),
    "rmsprop": (lambda: optim.rmsprop(optim.exponential_decay(0.01, 0.997)), 700),
    "adam": (lambda: optim.adam(0.05), 1000), "adamax": (lambda: optim.adamax(0.05), 1500),
    # constant-rate AdaDelta hovers around the minimum (at 0.3 to 2 here): a decaying rate
    "adadelta": (lambda: optim.adadelta(optim.exponential_decay(1.0, 0.99), eps=1e-2), 1000),
    "rprop": (lambda: optim.rprop(0.1), 200),
}


@pytest.mark.parametrize("name", sorted(CONVEX))
def test_convex_quadratic(name):
    make, iterations = CONVEX[name]
    opt = make()
    grad = srcad.grad(quadratic)
    x = np.zeros(3)
    state = opt.init(x)
    for _ in range(iterations):
        x, state = opt.update(x, grad(x), state)
    assert np.linalg.norm(x - X_STAR) < 1e-4, (name, x, X_STAR)


def test_adam_rosenbrock():
    grad = srcad.grad(rosenbrock)
    opt = optim.adam(optim.cosine_decay(0.1, 3000, 1e-4))
    x = np.array([-1.2, 1.0])
    state = opt.init(x)
    for _ in range(3000):
        x, state = opt.update(x, grad(x), state)
    assert np.linalg.norm(x - 1.0) < 1e-2, x


@pytest.mark.parametrize("method,iterations", [("newton", 40), ("newton-cg-srcad", 60),
                                               ("gd", 17000)])
def test_second_order_rosenbrock(method, iterations):
    result = optim.minimize(rosenbrock, np.array([-1.2, 1.0, 0.8]), method=method,
                            maxiter=iterations, gtol=1e-6)
    assert result.success and result.nit <= iterations
    np.testing.assert_allclose(result.x, 1.0, atol=1e-4)


@pytest.mark.parametrize("method", ["newton", "newton-cg-srcad", "gd"])
def test_second_order_quadratic(method):
    result = optim.minimize(quadratic, np.zeros(3), method=method, gtol=1e-9)
    assert result.success
    np.testing.assert_allclose(result.x, X_STAR, atol=1e-8)
    if method == "newton":
        assert result.nit == 1            # one Newton step solves a quadratic


@pytest.mark.parametrize("method", ["L-BFGS-B", "trust-ncg", "newton-cg", "BFGS"])
def test_scipy_methods(method):
    pytest.importorskip("scipy")
    result = optim.minimize(rosenbrock, np.array([-1.2, 1.0, 0.8]), method=method)
    assert result.success, result.message
    np.testing.assert_allclose(result.x, 1.0, atol=1e-4)


def test_fit_linear_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    result = optim.fit(linear_loss, (np.zeros(3), 0.0), (X, y), optim.adam(0.1), epochs=60,
                       batch_size=16, rng=0, progress=False)
    w, b = result.params
    np.testing.assert_allclose(w, [1.0, -2.0, 0.5], atol=1e-2)
    assert abs(b - 0.3) < 1e-2 and len(result.losses) == 60 * 4
    assert result.epoch_losses[-1] < 1e-3 * result.epoch_losses[0]


def linear_loss(params, X, y):
    w, b = params
    return np.mean((X @ w + b - y) ** 2)


def test_fit_log_line_without_tqdm(capsys, monkeypatch):
    monkeypatch.setattr(optim, "_progress", lambda total, enabled: None)
    X = np.ones((4, 3))
    optim.fit(linear_loss, (np.zeros(3), 0.0), (X, np.ones(4)), optim.sgd(0.1), epochs=2)
    assert "epoch 2/2: loss" in capsys.readouterr().err
