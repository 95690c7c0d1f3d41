"""A corpus of functions written the way users write them (issue 13).

Models as dicts of parameters, nested lists of layers, namedtuples and dataclasses, methods
on model objects, lambdas, closures, comprehensions, assertions, prints and logging,
context managers, *args/**kwargs, keyword-only parameters, walrus, chained comparisons,
functools.partial, callables as arguments and defaults, container outputs, and the
spellings users bring from JAX and Tangent.

Each entry of CASES is a `Case`: the function, a builder of example arguments from a random
generator, which arguments to differentiate (`wrt`), and which checks to run on it
(`tests/test_user_corpus.py` implements the checks and compares every derivative with
central finite differences in float64).

Written from the issue text and the README only: these are the programs a user would try.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

try:
    from scipy.special import logsumexp
except ImportError:  # pragma: no cover - scipy is an optional extra
    logsumexp = None


@dataclass
class Case:
    """One corpus entry: a function, example arguments and the checks to run on it."""
    id: str
    category: str
    fn: Callable[..., Any] | None
    args: Callable[[np.random.Generator], tuple]
    wrt: Any = 0
    checks: tuple = ("grad", "fwd")
    kwargs: Callable[[np.random.Generator], dict] | None = None
    # For bound methods: builds the bound callable (the object) from the generator.
    bind: Callable[[np.random.Generator], Callable[..., Any]] | None = None
    # For functions that return (loss, aux): the checks differentiate the first output.
    aux: bool = False


CASES: list[Case] = []


def add(id: str, category: str, fn: Callable[..., Any] | None, args, **options) -> None:
    """Register one corpus case."""
    assert all(c.id != id for c in CASES), id
    CASES.append(Case(id, category, fn, args, **options))


def by_id(case_id: str) -> Case:
    for c in CASES:
        if c.id == case_id:
            return c
    raise KeyError(case_id)


# ---------------------------------------------------------------------------------------
# Example data
# ---------------------------------------------------------------------------------------

N, D, H = 5, 3, 4     # samples, input features, hidden units


def _X(r):
    return r.normal(size=(N, D))


def _y(r):
    return r.normal(size=N)


def _labels(r):
    return (r.random(N) > 0.5).astype(float)


def _mlp_params(r, b2_array=False):
    return {
        "W1": 0.5 * r.normal(size=(D, H)),
        "b1": 0.1 * r.normal(size=H),
        "W2": 0.5 * r.normal(size=H),
        "b2": 0.1 * r.normal(size=1) if b2_array else 0.1,
    }


# ---------------------------------------------------------------------------------------
# A. Models as dicts of parameters
# ---------------------------------------------------------------------------------------

def mlp_dict(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - y) ** 2)


def mlp_dict_npdot(params, X, y):
    h = np.tanh(np.dot(X, params["W1"]) + params["b1"])
    out = np.dot(h, params["W2"]) + params["b2"]
    return np.sum((out - y) ** 2) / y.shape[0]


def mlp_dict_methoddot(params, X, y):
    W1, b1 = params["W1"], params["b1"]
    h = np.tanh(X.dot(W1) + b1)
    out = h.dot(params["W2"]) + params["b2"]
    return 0.5 * np.mean(np.square(out - y))


def mlp_positional(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


add("mlp_dict", "dict-params", mlp_dict, lambda r: (_mlp_params(r), _X(r), _y(r)),
    checks=("grad", "fwd", "vg", "hvp", "show", "badstruct"))
add("mlp_dict_npdot", "dict-params", mlp_dict_npdot,
    lambda r: (_mlp_params(r, b2_array=True), _X(r), _y(r)))
add("mlp_dict_methoddot", "dict-params", mlp_dict_methoddot,
    lambda r: (_mlp_params(r), _X(r), _y(r)))
add("mlp_positional_argnums", "jax-spelling", mlp_positional,
    lambda r: tuple(_mlp_params(r).values()) + (_X(r), _y(r)), wrt=(0, 1, 2, 3),
    checks=("grad", "argnums", "fwd"))


def logreg_dict(params, X, y):
    z = X @ params["w"] + params["b"]
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logreg_dict_sum_n(params, X, y):
    n = X.shape[0]
    z = np.dot(X, params["w"]) + params["b"]
    return np.sum(np.logaddexp(0.0, z) - y * z) / n


add("logreg_dict_floatbias", "dict-params", logreg_dict,
    lambda r: ({"w": r.normal(size=D), "b": 0.3}, _X(r), _labels(r)),
    checks=("grad", "fwd", "hvp"))
add("logreg_dict_arraybias", "dict-params", logreg_dict_sum_n,
    lambda r: ({"w": r.normal(size=D), "b": np.array([0.3])}, _X(r), _labels(r)))


def rnn_dict(params, xs, h0):
    h = h0
    total = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(params["Wh"] @ h + params["Wx"] @ xs[t] + params["b"])
        total = total + np.sum(h * params["v"])
    return total / xs.shape[0]


def rnn_dict_hidden_list(params, xs):
    h = np.zeros(params["Wh"].shape[0])
    hs = []
    for x in xs:                       # xs is a list of input vectors
        h = np.tanh(np.dot(params["Wh"], h) + np.dot(params["Wx"], x) + params["b"])
        hs.append(h)
    return np.mean(np.stack(hs) ** 2)


def _rnn_params(r):
    return {"Wh": 0.4 * r.normal(size=(H, H)), "Wx": 0.4 * r.normal(size=(H, D)),
            "b": 0.1 * r.normal(size=H), "v": r.normal(size=H)}


add("rnn_dict", "dict-params", rnn_dict,
    lambda r: (_rnn_params(r), r.normal(size=(4, D)), 0.1 * r.normal(size=H)),
    checks=("grad", "fwd", "hvp"))
add("rnn_dict_hidden_list", "dict-params", rnn_dict_hidden_list,
    lambda r: (_rnn_params(r), [r.normal(size=D) for _ in range(3)]))


def nested_layers(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    for layer in params["layers"]:
        h = np.tanh(h @ layer["W"] + layer["b"])
    return np.mean((h @ params["out"] - y) ** 2)


def _nested_params(r):
    return {"W1": 0.5 * r.normal(size=(D, H)), "b1": 0.1 * r.normal(size=H),
            "layers": [{"W": 0.5 * r.normal(size=(H, H)), "b": 0.1 * r.normal(size=H)}
                       for _ in range(2)],
            "out": 0.5 * r.normal(size=H)}


add("nested_layers_readme", "nested-containers", nested_layers,
    lambda r: (_nested_params(r), _X(r), _y(r)), checks=("grad", "fwd", "hvp", "vg"))


def layers_list_of_tuples(layers, X):
    for W, b in layers:
        X = np.tanh(X @ W + b)
    return np.sum(X ** 2)


add("layers_list_of_tuples", "nested-containers", layers_list_of_tuples,
    lambda r: ([(0.5 * r.normal(size=(D, H)), 0.1 * r.normal(size=H)),
                (0.5 * r.normal(size=(H, 2)), 0.1 * r.normal(size=2))], _X(r)))


def linreg_tuple(params, X, y):
    W, b = params
    return np.mean((X @ W + b - y) ** 2)


add("linreg_tuple_params", "tuple-params", linreg_tuple,
    lambda r: ((r.normal(size=D), 0.2), _X(r), _y(r)))


def dict_get_default(params, x):
    scale = params.get("scale", 1.0)
    shift = params.get("shift", 0.0)      # missing: the default is used
    return np.sum((scale * x + shift) ** 2 * params["w"])


add("dict_get_default", "dict-params", dict_get_default,
    lambda r: ({"w": r.normal(size=D), "scale": 1.5}, r.normal(size=D)))


def l2_over_items(params, X, y, lam=0.1):
    pred = X @ params["w"] + params["b"]
    reg = 0.0
    for name, value in params.items():
        if name.startswith("w"):
            reg = reg + np.sum(value ** 2)
    return np.mean((pred - y) ** 2) + lam * reg


def l2_over_values_genexp(params, X, y):
    pred = X @ params["w"] + params["b"]
    reg = sum(np.sum(v ** 2) for v in params.values())
    return np.mean((pred - y) ** 2) + 0.01 * reg


def sum_over_keys(params, x):
    total = 0.0
    for k in params.keys():
        total = total + np.sum(np.sin(params[k]) * x)
    return total


def sum_over_dict_iter(params, x):
    total = 0.0
    for k in params:
        total += np.sum(params[k] * x ** 2)
    return total


_wb = lambda r: {"w": r.normal(size=D), "b": np.array([0.1])}
add("l2_over_items", "dict-iteration", l2_over_items, lambda r: (_wb(r), _X(r), _y(r)))
add("l2_over_values_genexp", "dict-iteration", l2_over_values_genexp,
    lambda r: (_wb(r), _X(r), _y(r)))
add("sum_over_keys", "dict-iteration", sum_over_keys,
    lambda r: ({"a": r.normal(size=D), "b": r.normal(size=D)}, r.normal(size=D)))
add("sum_over_dict_iter", "dict-iteration", sum_over_dict_iter,
    lambda r: ({"a": r.normal(size=D), "b": r.normal(size=D)}, r.normal(size=D)))


def isinstance_len_checks(params, X):
    out = X @ params["w"]
    if isinstance(params["b"], float):
        out = out + params["b"]
    if len(params) == 2:
        out = out * 2.0
    return np.sum(out ** 2)


def membership_bias(params, X):
    out = X @ params["w"]
    if "b" in params:
        out = out + params["b"]
    return np.sum(np.tanh(out))


add("isinstance_len_checks", "dict-params", isinstance_len_checks,
    lambda r: ({"w": r.normal(size=D), "b": 0.5}, _X(r)))
add("membership_bias", "dict-params", membership_bias,
    lambda r: ({"w": r.normal(size=D), "b": 0.5}, _X(r)))


def zip_weights_biases(weights, biases, X):
    h = X
    for W, b in zip(weights, biases):
        h = np.tanh(h @ W + b)
    return np.sum(h)


def zip_layers_activations(layers, X):
    h = X
    for layer, act in zip(layers, (np.tanh, np.sin)):
        h = act(h @ layer["W"])
    return np.mean(h ** 2)


add("zip_weights_biases", "nested-containers", zip_weights_biases,
    lambda r: ([0.5 * r.normal(size=(D, H)), 0.5 * r.normal(size=(H, 2))],
               [0.1 * r.normal(size=H), 0.1 * r.normal(size=2)], _X(r)), wrt=(0, 1))
add("zip_layers_activations", "nested-containers", zip_layers_activations,
    lambda r: ([{"W": 0.5 * r.normal(size=(D, H))}, {"W": 0.5 * r.normal(size=(H, 2))}],
               _X(r)))


def nested_dict_three_deep(params, X):
    enc = params["enc"]
    h = np.tanh(X @ enc["lin"]["W"] + enc["lin"]["b"])
    return np.sum((h @ params["dec"]["W"]) ** 2) * params["dec"]["scale"]


add("nested_dict_three_deep", "nested-containers", nested_dict_three_deep,
    lambda r: ({"enc": {"lin": {"W": 0.5 * r.normal(size=(D, H)), "b": r.normal(size=H)}},
                "dec": {"W": 0.5 * r.normal(size=(H, 2)), "scale": 0.7}}, _X(r)))


def int_and_str_leaves(params, x):
    h = x
    for _ in range(params["steps"]):
        h = np.sin(h * params["w"])
    if params["reduce"] == "mean":
        return np.mean(h ** 2)
    return np.sum(h ** 2)


add("int_and_str_leaves", "dict-params", int_and_str_leaves,
    lambda r: ({"w": r.normal(size=D), "steps": 3, "reduce": "mean"}, r.normal(size=D)),
    checks=("grad",))


def list_of_arrays(xs):
    return sum(np.sum(x ** 2) * (i + 1) for i, x in enumerate(xs))


def slicing_lists(xs):
    head = xs[0]
    mid = xs[1:3]
    total = np.sum(head * mid[0]) + np.sum(mid[1] ** 2)
    return total + np.sum(np.exp(xs[1:][0]))


add("list_of_arrays_enumerate", "list-params", list_of_arrays,
    lambda r: ([r.normal(size=D), r.normal(size=(2, 2)), 0.5],))
add("slicing_lists", "list-params", slicing_lists,
    lambda r: ([r.normal(size=D) for _ in range(4)],))


def _bilinear(a, b):
    return np.sum(a * b)


def star_unpack_call(pair, c):
    return _bilinear(*pair) + np.sum(c * pair[0] ** 2)


add("star_unpack_call", "list-params", star_unpack_call,
    lambda r: ((r.normal(size=D), r.normal(size=D)), r.normal(size=D)), wrt=(0, 1))


def dict_builtin_inside(x):
    d = dict(a=x * 2.0, b=np.sin(x))
    return np.sum(d["a"] * d["b"])


def list_tuple_builtins(params):
    ws = list(params["ws"])
    t = tuple(ws)
    return np.sum(t[0] * t[1]) + np.sum(ws[-1] ** 3)


def _apply_layer(layer, h):
    return np.tanh(h @ layer["W"] + layer["b"])


def dict_literal_to_helper(W, b, X):
    layer = {"W": W, "b": b}
    return np.sum(_apply_layer(layer, X) ** 2)


add("dict_builtin_inside", "containers-inside", dict_builtin_inside,
    lambda r: (r.normal(size=D),), checks=("grad", "fwd", "hvp"))
add("list_tuple_builtins", "containers-inside", list_tuple_builtins,
    lambda r: ({"ws": (r.normal(size=D), r.normal(size=D))},))
add("dict_literal_to_helper", "containers-inside", dict_literal_to_helper,
    lambda r: (0.5 * r.normal(size=(D, H)), r.normal(size=H), _X(r)), wrt=(0, 1))


# ---------------------------------------------------------------------------------------
# B. namedtuples and dataclasses
# ---------------------------------------------------------------------------------------

LinParams = namedtuple("LinParams", ["W", "b"])


def linreg_namedtuple(p, X, y):
    return np.mean((X @ p.W + p.b - y) ** 2)


def namedtuple_indexed(p, X):
    W, b = p
    return np.sum(np.tanh(X @ p[0] + b) * W[0])


add("linreg_namedtuple", "namedtuple", linreg_namedtuple,
    lambda r: (LinParams(r.normal(size=D), 0.3), _X(r), _y(r)), checks=("grad", "fwd", "hvp"))
add("namedtuple_indexed", "namedtuple", namedtuple_indexed,
    lambda r: (LinParams(r.normal(size=D), np.array(0.2)), _X(r)))


@dataclass
class Dense:
    weight: np.ndarray
    bias: np.ndarray


def dataclass_layers(layers, X):
    h = X
    for layer in layers:
        h = np.tanh(h @ layer.weight + layer.bias)
    return np.mean(h ** 2)


add("dataclass_layers", "dataclass", dataclass_layers,
    lambda r: ([Dense(0.5 * r.normal(size=(D, H)), r.normal(size=H)),
                Dense(0.5 * r.normal(size=(H, 2)), r.normal(size=2))], _X(r)))


@dataclass(frozen=True)
class Config:
    scale: float
    power: int


@dataclass(frozen=True)
class Net:
    dense: Dense
    head: LinParams
    cfg: Config


def dataclass_nested(net, X):
    h = np.tanh(X @ net.dense.weight + net.dense.bias)
    out = h @ net.head.W + net.head.b
    return net.cfg.scale * np.sum(out ** net.cfg.power)


add("dataclass_nested_frozen", "dataclass", dataclass_nested,
    lambda r: (Net(Dense(0.5 * r.normal(size=(D, H)), r.normal(size=H)),
                   LinParams(r.normal(size=H), 0.1), Config(0.5, 2)), _X(r)),
    checks=("grad",))


@dataclass
class Quadratic:
    A: np.ndarray
    c: float = 1.0

    def energy(self, x):
        return 0.5 * x @ self.A @ x + self.c * np.sum(np.cos(x))


add("dataclass_method_unbound", "dataclass", Quadratic.energy,
    lambda r: (Quadratic(r.normal(size=(D, D)), 0.5), r.normal(size=D)),
    checks=("grad", "fwd"))
add("dataclass_method_bound", "methods", None,
    lambda r: (r.normal(size=D),),
    bind=lambda r: Quadratic(r.normal(size=(D, D)), 0.5).energy,
    checks=("grad", "fwd", "hvp", "live"))


# ---------------------------------------------------------------------------------------
# C. Methods on model objects
# ---------------------------------------------------------------------------------------

class LinearModel:
    def __init__(self, W, b, l2=0.01):
        self.W = W
        self.b = b
        self.l2 = l2

    def forward(self, X):
        return X @ self.W + self.b

    def loss(self, X, y):
        r = self.forward(X) - y
        return np.mean(r ** 2) + self.l2 * np.sum(self.W ** 2)

    def penalty(self, w):               # does not read self
        return np.sum(w ** 4)

    @property
    def Wt(self):
        return self.W.T

    def loss_property(self, X):
        return np.sum(np.tanh(self.Wt @ X.T) ** 2)


def _linear_model(r):
    return LinearModel(r.normal(size=(D,)), 0.1, l2=0.05)


add("method_bound_wrt_X", "methods", None, lambda r: (_X(r), _y(r)),
    bind=lambda r: _linear_model(r).loss, checks=("grad", "fwd", "live"))
add("method_bound_wrt_name", "methods", None, lambda r: (_X(r), _y(r)), wrt="y",
    bind=lambda r: _linear_model(r).loss, checks=("grad",))
add("method_unbound_model", "methods", LinearModel.loss,
    lambda r: (_linear_model(r), _X(r), _y(r)), checks=("grad", "fwd"))
add("method_not_reading_self", "methods", None, lambda r: (r.normal(size=D),),
    bind=lambda r: _linear_model(r).penalty, checks=("grad", "fwd"))
add("method_property", "methods", LinearModel.loss_property,
    lambda r: (_linear_model(r), _X(r)), checks=("grad",))


def helper_takes_object(model, X, y):
    return np.sum((model.forward(X) - y) ** 2)


add("helper_takes_object", "methods", helper_takes_object,
    lambda r: (_linear_model(r), _X(r), _y(r)), checks=("grad",))
add("helper_takes_object_wrt_X", "methods", helper_takes_object,
    lambda r: (_linear_model(r), _X(r), _y(r)), wrt=1, checks=("grad", "fwd"))


class TwoLayer:
    def __init__(self, r):
        self.layers = [0.5 * r.normal(size=(D, H)), 0.5 * r.normal(size=(H, 2))]
        self.act = np.tanh

    def layer(self, h, i):
        return self.act(h @ self.layers[i])

    def __call__(self, X):
        return self.layer(self.layer(X, 0), 1)

    def loss(self, X, y):
        return np.mean((self(X)[:, 0] - y) ** 2)


def loss_with_callable_model(X, y, net):
    return np.mean((net(X) - y[:, None]) ** 2)


add("method_calls_methods_bound", "methods", None, lambda r: (_X(r), _y(r)),
    bind=lambda r: TwoLayer(r).loss, checks=("grad", "fwd", "live"))
add("method_calls_methods_unbound", "methods", TwoLayer.loss,
    lambda r: (TwoLayer(r), _X(r), _y(r)), checks=("grad",))
add("callable_object_argument", "methods", loss_with_callable_model,
    lambda r: (_X(r), _y(r), TwoLayer(r)), checks=("grad", "fwd"))


# ---------------------------------------------------------------------------------------
# D. Lambdas, nested defs, closures
# ---------------------------------------------------------------------------------------

add("lambda_direct", "lambda", lambda x: np.sum(x ** 2), lambda r: (r.normal(size=D),),
    checks=("grad", "fwd", "hvp"))
square_l, cube_l = (lambda x: np.sum(np.sin(x) ** 2)), (lambda x: np.sum(x ** 3))
add("lambda_two_on_one_line_first", "lambda", square_l, lambda r: (r.normal(size=D),))
add("lambda_two_on_one_line_second", "lambda", cube_l, lambda r: (r.normal(size=D),))
scaled_l = lambda x, s=2.0: np.sum(s * np.tanh(x) ** 2); _unused = 0
add("lambda_default_semicolon", "lambda", scaled_l, lambda r: (r.normal(size=D),))
add("lambda_two_args_wrt", "lambda", lambda w, X: np.mean((X @ w) ** 2),
    lambda r: (r.normal(size=D), _X(r)), wrt=(0, 1))


def lambda_assigned_inside(x):
    act = lambda z: np.tanh(z) * z
    return np.sum(act(x) + act(2.0 * x))


def _apply(fn, v):
    return fn(v)


def lambda_passed_to_helper(x, w):
    return np.sum(_apply(lambda z: z * w, x) ** 2)


add("lambda_assigned_inside", "lambda", lambda_assigned_inside, lambda r: (r.normal(size=D),),
    checks=("grad", "fwd", "hvp"))
add("lambda_passed_to_helper", "lambda", lambda_passed_to_helper,
    lambda r: (r.normal(size=D), r.normal(size=D)), wrt=(0, 1))


def nested_def_closure(x, W):
    def layer(h):
        return np.tanh(W @ h)
    return np.sum(layer(layer(x)) ** 2)


def nested_def_default_arg(x):
    def scaled(v, factor=3.0):
        return factor * np.sin(v)
    total = 0.0
    for k in range(3):
        total = total + np.sum(scaled(x * k))
    return total


def make_loss(scale):
    def loss(x):
        return scale * np.sum(np.sin(x) ** 2)
    return loss


_CAPTURED = np.linspace(0.5, 1.5, D)


def make_weighted(weights):
    return lambda x: np.sum(weights * np.exp(-x ** 2))


add("nested_def_closure", "nested-def", nested_def_closure,
    lambda r: (r.normal(size=D), 0.5 * r.normal(size=(D, D))), wrt=(0, 1),
    checks=("grad", "fwd"))
add("nested_def_default_arg", "nested-def", nested_def_default_arg,
    lambda r: (r.normal(size=D),))
add("closure_factory", "nested-def", make_loss(3.0), lambda r: (r.normal(size=D),),
    checks=("grad", "fwd", "hvp"))
add("closure_lambda_array", "nested-def", make_weighted(_CAPTURED),
    lambda r: (r.normal(size=D),))


# ---------------------------------------------------------------------------------------
# E. Comprehensions and generator expressions
# ---------------------------------------------------------------------------------------

def listcomp_with_condition(x):
    terms = [x[i] ** 2 for i in range(x.shape[0]) if i % 2 == 0]
    return sum(terms)


def dictcomp_scale(params):
    scaled = {k: 2.0 * v for k, v in params.items()}
    return np.sum(scaled["a"] * np.sin(scaled["b"]))


def setcomp_indices(x):
    idx = {i % 3 for i in range(7)}
    return sum(x[i] ** 2 for i in sorted(idx))


def genexp_mask(w, x, mask):
    n = w.shape[0]
    return sum(w[i] * x[i] for i in range(n) if mask[i])


def nested_listcomp_outer(x):
    M = np.array([[x[i] * x[j] for j in range(3)] for i in range(3)])
    return np.sum(M ** 2)


def genexp_list_stack(xs):
    return np.sum(np.stack(list(np.tanh(x) for x in xs)) ** 2)


def listcomp_over_layers(params, X):
    norms = [np.sum(layer["W"] ** 2) for layer in params["layers"]]
    h = X
    for layer in params["layers"]:
        h = np.tanh(h @ layer["W"])
    return np.sum(h) + 0.1 * sum(norms)


def all_guard_genexp(xs):
    if all(x.ndim == 1 for x in xs):
        return sum(np.sum(np.cos(x)) for x in xs)
    return 0.0


def tuple_genexp(x):
    parts = tuple(np.sum(x[i:]) ** 2 for i in range(3))
    return parts[0] + parts[1] * parts[2]


add("listcomp_with_condition", "comprehension", listcomp_with_condition,
    lambda r: (r.normal(size=5),), checks=("grad", "fwd", "hvp"))
add("dictcomp_scale", "comprehension", dictcomp_scale,
    lambda r: ({"a": r.normal(size=D), "b": r.normal(size=D)},))
add("setcomp_indices", "comprehension", setcomp_indices, lambda r: (r.normal(size=D),))
add("genexp_mask", "comprehension", genexp_mask,
    lambda r: (r.normal(size=5), r.normal(size=5), np.array([1, 0, 1, 1, 0], dtype=bool)),
    wrt=(0, 1))
add("nested_listcomp_outer", "comprehension", nested_listcomp_outer,
    lambda r: (r.normal(size=D),))
add("genexp_list_stack", "comprehension", genexp_list_stack,
    lambda r: ([r.normal(size=D) for _ in range(3)],))
add("listcomp_over_layers", "comprehension", listcomp_over_layers,
    lambda r: ({"layers": [{"W": 0.5 * r.normal(size=(D, H))},
                           {"W": 0.5 * r.normal(size=(H, 2))}]}, _X(r)))
add("all_guard_genexp", "comprehension", all_guard_genexp,
    lambda r: ([r.normal(size=D), r.normal(size=2)],))
add("tuple_genexp", "comprehension", tuple_genexp, lambda r: (r.normal(size=4),))


# ---------------------------------------------------------------------------------------
# F. assert, raise, print, logging
# ---------------------------------------------------------------------------------------

def assert_shapes(X, w):
    assert X.ndim == 2, "X must be 2-D"
    assert X.shape[1] == w.shape[0], f"shape mismatch {X.shape} vs {w.shape}"
    return np.sum(np.tanh(X @ w))


def raise_in_branch(x):
    if x.ndim != 1:
        raise ValueError(f"expected a vector, got {x.ndim} dimensions")
    return np.sum(np.exp(-x ** 2))


def raise_on_data(x):
    if np.any(np.isnan(x)):
        raise FloatingPointError("nan in the input")
    return np.sum(np.log1p(x ** 2))


MARK = "corpus-marker"
log = logging.getLogger("user_corpus")


def print_progress(x, w):
    value = np.sum((x * w) ** 2)
    print(f"{MARK} loss = {value:.4f}")
    return value


def logging_call(w, X):
    loss = np.mean((X @ w) ** 2)
    log.info("%s loss %s", MARK, loss)
    return loss


def print_in_loop_debug(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(np.sin(x * i))
    print(MARK, "shape", x.shape, "total", total)
    return total


add("assert_shapes", "assert-raise", assert_shapes, lambda r: (_X(r), r.normal(size=D)),
    wrt=(0, 1), checks=("grad", "fwd"))
add("raise_in_branch", "assert-raise", raise_in_branch, lambda r: (r.normal(size=D),),
    checks=("grad", "fwd", "hvp"))
add("raise_on_data", "assert-raise", raise_on_data, lambda r: (r.normal(size=D),))
add("print_fstring", "print-logging", print_progress,
    lambda r: (r.normal(size=D), r.normal(size=D)), checks=("grad", "fwd", "once"))
add("logging_call", "print-logging", logging_call, lambda r: (r.normal(size=D), _X(r)),
    checks=("grad", "fwd", "once"))
add("print_plain", "print-logging", print_in_loop_debug, lambda r: (r.normal(size=D),),
    checks=("grad", "once"))


# ---------------------------------------------------------------------------------------
# G. Context managers and try/except
# ---------------------------------------------------------------------------------------

def errstate_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.sum(y * x)


def errstate_in_branch(x, clip=True):
    if clip:
        with np.errstate(over="ignore"):
            s = 1.0 / (1.0 + np.exp(-x))
    else:
        s = x
    return np.sum(s ** 2)


@contextlib.contextmanager
def timer(name):
    yield name


def user_context_manager(x):
    with timer("forward"):
        y = np.sin(x)
    return np.sum(y * y)


def try_keyerror_static(params, x):
    try:
        b = params["b"]
    except KeyError:
        b = 0.0
    return np.sum((params["w"] * x + b) ** 2)


add("errstate_log", "context-manager", errstate_log,
    lambda r: (r.random(D) + 0.5,), checks=("grad", "fwd", "hvp"))
add("errstate_in_branch", "context-manager", errstate_in_branch,
    lambda r: (r.normal(size=D),))
add("user_context_manager", "context-manager", user_context_manager,
    lambda r: (r.normal(size=D),))
add("try_keyerror_static", "context-manager", try_keyerror_static,
    lambda r: ({"w": r.normal(size=D)}, r.normal(size=D)))


# ---------------------------------------------------------------------------------------
# H. Parameters and statements: *args, **kwargs, keyword-only, import, global, del, :=,
#    chained comparisons, match, partial, callables as arguments
# ---------------------------------------------------------------------------------------

def star_args(*xs):
    return sum(np.sum(x ** 2) * (i + 1) for i, x in enumerate(xs))


def star_kwargs(x, **opts):
    scale = opts.get("scale", 1.0)
    return scale * np.sum(np.sin(x) ** 2)


def keyword_only(x, w, *, alpha=0.5, reduce="mean"):
    r = (x * w) ** 2
    if reduce == "mean":
        return alpha * np.mean(r)
    return alpha * np.sum(r)


def args_and_kwargs(w, *args, **kwargs):
    total = np.sum(w ** 2)
    for a in args:
        total = total + np.sum(a * w)
    return total * kwargs.get("weight", 1.0)


add("star_args", "signature", star_args, lambda r: (r.normal(size=D), r.normal(size=2)),
    checks=("grad", "jvp"))
add("star_kwargs", "signature", star_kwargs, lambda r: (r.normal(size=D),),
    kwargs=lambda r: {"scale": 2.5})
add("keyword_only", "signature", keyword_only,
    lambda r: (r.normal(size=D), r.normal(size=D)), wrt="w",
    kwargs=lambda r: {"reduce": "sum", "alpha": 0.3})
add("args_and_kwargs", "signature", args_and_kwargs,
    lambda r: (r.normal(size=D), r.normal(size=D), r.normal(size=D)),
    kwargs=lambda r: {"weight": 0.5}, checks=("grad", "jvp"))


def local_import(x):
    import math
    from numpy import tanh
    return np.sum(tanh(x) * math.pi)


GLOBAL_SCALE = 0.3


def global_read_implicit(x):
    return GLOBAL_SCALE * np.sum(x ** 2)


def global_read_declared(x):
    global GLOBAL_SCALE
    return GLOBAL_SCALE * np.sum(np.cos(x))


def del_temporary(x):
    tmp = x ** 2
    y = np.sum(tmp * x)
    del tmp
    return y


def walrus_shape(x):
    if (n := x.shape[0]) > 2:
        return np.sum(x[: n - 1] ** 2)
    return np.sum(x)


def walrus_value(x):
    total = (s := np.sum(x ** 2)) + np.sqrt(s)
    return total


def chained_static(x, lo=0.0, hi=1.0):
    if lo < hi <= 2.0:
        return np.sum(np.sin(x))
    return np.sum(x)


def chained_on_data(x):
    total = 0.0
    for i in range(x.shape[0]):
        if -1.0 < x[i] < 1.0:
            total = total + x[i] ** 2
        else:
            total = total + 2.0 * x[i]
    return total


def match_static(x, kind="l2"):
    match kind:
        case "l1":
            return np.sum(np.abs(x))
        case "l2":
            return np.sum(x ** 2)
        case "cosh":
            return np.sum(np.log(np.cosh(x)))
        case _:
            raise ValueError(kind)


add("local_import", "statements", local_import, lambda r: (r.normal(size=D),))
add("global_read_implicit", "statements", global_read_implicit, lambda r: (r.normal(size=D),))
add("global_read_declared", "statements", global_read_declared, lambda r: (r.normal(size=D),))
add("del_temporary", "statements", del_temporary, lambda r: (r.normal(size=D),))
add("walrus_shape", "statements", walrus_shape, lambda r: (r.normal(size=4),))
add("walrus_value", "statements", walrus_value, lambda r: (r.normal(size=D),),
    checks=("grad", "fwd", "hvp"))
add("chained_static", "statements", chained_static, lambda r: (r.normal(size=D),))
add("chained_on_data", "statements", chained_on_data,
    lambda r: (np.array([0.3, -1.7, 0.8, 2.5]),))
add("match_static", "statements", match_static, lambda r: (r.normal(size=D),),
    kwargs=lambda r: {"kind": "cosh"})


def weighted_sq(w, X, y, weights):
    return np.sum(weights * (X @ w - y) ** 2)


_PR = np.random.default_rng(7)
_PARTIAL = functools.partial(weighted_sq, weights=np.linspace(0.5, 1.0, N))
_PARTIAL_POS = functools.partial(mlp_dict, _mlp_params(_PR))


def reduce_default(x, reduce=np.sum):
    return reduce(np.tanh(x) ** 2)


def softplus(z):
    return np.log1p(np.exp(z))


def activation_argument(x, act):
    return np.sum(act(x) * x)


add("partial_keyword", "partial-callables", _PARTIAL,
    lambda r: (r.normal(size=D), _X(r), _y(r)))
add("partial_positional_wrt_X", "partial-callables", _PARTIAL_POS,
    lambda r: (_X(r), _y(r)))
add("callable_default_np_sum", "partial-callables", reduce_default,
    lambda r: (r.normal(size=D),))
add("callable_default_overridden", "partial-callables", reduce_default,
    lambda r: (r.normal(size=D),), kwargs=lambda r: {"reduce": np.mean})
add("callable_arg_ufunc", "partial-callables", activation_argument,
    lambda r: (r.normal(size=D), np.tanh))
add("callable_arg_user_fn", "partial-callables", activation_argument,
    lambda r: (r.normal(size=D), softplus))


def scipy_logsumexp(W, x):
    return np.sum(logsumexp(W @ x, axis=0)) if logsumexp is not None else np.sum(W @ x)


add("library_logsumexp", "library-primitive", scipy_logsumexp,
    lambda r: (r.normal(size=(D, D)), r.normal(size=(D, 2))))


# ---------------------------------------------------------------------------------------
# I. Container outputs
# ---------------------------------------------------------------------------------------

def stats_dict(x):
    return {"mean": np.mean(x), "sq": x ** 2}


def pair_output(x, W):
    h = np.tanh(W @ x)
    return h, np.sum(h ** 2)


Stats = namedtuple("Stats", ["total", "scaled"])


def namedtuple_output(x):
    return Stats(total=np.sum(np.sin(x)), scaled=3.0 * x)


def sgd_update(params, lr=0.1):
    return {k: v - lr * np.sin(v) for k, v in params.items()}


add("dict_output", "container-output", stats_dict, lambda r: (r.normal(size=D),),
    checks=("vjp", "rev_seed", "fwd", "jacobian"))
add("tuple_output", "container-output", pair_output,
    lambda r: (r.normal(size=D), r.normal(size=(2, D))), wrt=(0, 1),
    checks=("vjp", "rev_seed", "fwd"))
add("namedtuple_output", "container-output", namedtuple_output,
    lambda r: (r.normal(size=D),), checks=("vjp", "fwd"))
add("dict_in_dict_out", "container-output", sgd_update,
    lambda r: ({"W": r.normal(size=(2, 2)), "b": r.normal(size=2)},), checks=("vjp", "fwd"))


# ---------------------------------------------------------------------------------------
# J. JAX / Tangent spellings
# ---------------------------------------------------------------------------------------

def loss_and_aux(w, X, y):
    pred = X @ w
    loss = np.mean((pred - y) ** 2)
    return loss, {"pred": pred, "n": X.shape[0]}


def vector_fn(x, W):
    return np.tanh(W @ x) * x[0]


def vector_fn_defaults(x, scale=2.0):
    return scale * np.sin(x) ** 2


def vector_fn_kwonly(x, *, scale=2.0):
    return scale * np.exp(-x) * x


def scalar_two_args(x, w):
    return np.sum(np.sin(x * w) * x) + np.sum(w ** 3)


add("has_aux_grad", "jax-spelling", loss_and_aux,
    lambda r: (r.normal(size=D), _X(r), _y(r)), aux=True, checks=("has_aux", "vg_aux"))
add("jacfwd_jacrev", "jax-spelling", vector_fn,
    lambda r: (r.normal(size=D), r.normal(size=(D, D))),
    checks=("jacfwd", "jacrev", "jacobian", "posseed", "rev_seed"))
add("posseed_defaults", "jax-spelling", vector_fn_defaults, lambda r: (r.normal(size=D), 2.0),
    checks=("posseed", "rev_seed"))
add("posseed_kwonly", "jax-spelling", vector_fn_kwonly, lambda r: (r.normal(size=D),),
    kwargs=lambda r: {"scale": 1.5}, checks=("posseed", "rev_seed"))
add("tuple_wrt_second_order", "jax-spelling", scalar_two_args,
    lambda r: (r.normal(size=D), r.normal(size=D)), wrt=(0, 1),
    checks=("grad", "argnums", "vjp", "jac_tuple", "hess_tuple", "options", "check_grad"))
add("check_grad_by_name", "jax-spelling", scalar_two_args,
    lambda r: (r.normal(size=D), r.normal(size=D)), wrt="w",
    checks=("grad", "check_grad", "hessian", "options"))
