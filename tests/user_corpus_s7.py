"""Programs for tests/test_user_corpus_s7.py, written the way NumPy users write them, from
srcad's README and docs only (an outside tester's corpus). srcad reads their source, so they
live in this module, which pytest does not rewrite."""
import functools
import logging
import math
import warnings
from collections import namedtuple
from dataclasses import dataclass, field
from functools import partial, reduce as _reduce

import numpy as np

log = logging.getLogger("user_corpus_s7")

SCALE = 0.5
OFFSETS = (0.1, -0.2, 0.3)
CONF = {"alpha": 0.3, "beta": 1.5}


def softplus(z):
    return np.log1p(np.exp(z))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def square(z):
    return z * z


# --------------------------------------------------------------------------------------------
# A. params dicts: MLPs, logistic regression, regression
# --------------------------------------------------------------------------------------------

def mlp2(params, X, y):
    h = np.tanh(X @ params['W1'] + params['b1'])
    out = h @ params['W2'] + params['b2']
    return np.mean((out - y) ** 2)


def mlp2_dot(params, X, y):
    h = np.tanh(np.dot(X, params['W1']) + params['b1'])
    out = h.dot(params['W2']) + params['b2']
    return np.sum((out - y) ** 2) / X.shape[0]


def mlp_layers(params, X, y):
    h = np.tanh(X @ params['W1'] + params['b1'])
    for layer in params['layers']:
        h = np.tanh(h @ layer['W'] + layer['b'])
    return np.mean((h @ params['out'] - y) ** 2)


def logreg_dict(p, X, y):
    z = X @ p['w'] + p['b']
    prob = sigmoid(z)
    return -np.mean(y * np.log(prob) + (1.0 - y) * np.log(1.0 - prob))


def logreg_softplus(p, X, y):
    z = X @ p['w'] + p['b']
    return np.mean(softplus(z) - y * z)


def ridge_dict(p, X, y, lam=0.1):
    r = X @ p['w'] + p['b'] - y
    return 0.5 * np.mean(r ** 2) + lam * np.sum(p['w'] ** 2)


def mlp_get_default(p, X):
    b = p.get('b', 0.0)
    c = p.get('c', 0.25)
    return np.sum(np.tanh(X @ p['W'] + b) * c)


def mlp_in_check(p, X):
    z = X @ p['W']
    if 'b' in p:
        z = z + p['b']
    return np.sum(np.sin(z))


def dict_literal_inside(p, x):
    q = {'a': p['a'] * 2.0, 'b': np.sin(p['b'])}
    return np.sum(q['a'] * x) + np.sum(q['b'] ** 2)


def dict_call_inside(p, x):
    q = dict(u=p['a'] + 1.0, v=p['b'] * x)
    return np.sum(q['u'] * q['v'])


def nested_dict(p, x):
    enc = p['enc']
    dec = p['dec']
    h = np.tanh(x @ enc['W'] + enc['b'])
    return np.sum((h @ dec['W'] + dec['b']) ** 2)


def deep_nested(p, x):
    return np.sum(p['a']['b']['c'] * x) + p['a']['d'][0] * np.sum(x ** 2) + p['a']['d'][1]['e']


def softmax_xent(p, X, labels):
    logits = X @ p['W'] + p['b']
    m = np.max(logits, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1))
    picked = logits[np.arange(X.shape[0]), labels]
    return np.mean(lse - picked)


def float_bias(p, X):
    return np.sum(np.tanh(X @ p['w'] + p['b']))


def mean_vs_sum(p, X):
    z = X @ p['w']
    return np.mean(z ** 2) - np.sum(z) / z.shape[0]


def int_leaf(p, x):
    return np.sum(p['w'] * x) * p['n']


def str_leaf(p, x):
    if p['kind'] == 'sq':
        return np.sum((p['w'] * x) ** 2)
    return np.sum(p['w'] * x)


def rnn_dict(p, xs):
    h = np.zeros(p['Wh'].shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(p['Wh'] @ h + p['Wx'] @ xs[t] + p['b'])
    return np.sum(h ** 2)


def rnn_list_outputs(p, xs):
    h = np.zeros(p['Wh'].shape[0])
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(p['Wh'] @ h + p['Wx'] @ xs[t])
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H @ p['v'])


def gru_like(p, xs):
    h = np.zeros(3)
    for x in xs:
        z = sigmoid(p['Wz'] @ x + p['Uz'] @ h)
        c = np.tanh(p['Wc'] @ x + p['Uc'] @ h)
        h = (1.0 - z) * h + z * c
    return np.sum(h)


def weight_decay_items(p, X, y):
    err = np.mean((X @ p['w'] + p['b'] - y) ** 2)
    reg = 0.0
    for k, v in p.items():
        reg = reg + 0.01 * np.sum(v ** 2)
    return err + reg


def params_values_sum(p):
    total = 0.0
    for v in p.values():
        total = total + np.sum(np.sin(v))
    return total


def params_keys(p, x):
    s = 0.0
    for k in p.keys():
        s = s + np.sum(p[k] * x)
    return s


def key_filter(p, x):
    s = 0.0
    for k, v in p.items():
        if k.startswith('w'):
            s = s + np.sum(v * x) ** 2
        else:
            s = s + np.sum(v)
    return s


def batchnorm_dict(p, X):
    mu = np.mean(X, axis=0)
    var = np.var(X, axis=0)
    xh = (X - mu) / np.sqrt(var + 1e-5)
    return np.sum((xh * p['gamma'] + p['beta']) ** 3)


def layernorm_params(p, X):
    mu = X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, keepdims=True)
    return np.sum(np.tanh(((X - mu) / (sd + 1e-3)) * p['g'] + p['b']))


# --------------------------------------------------------------------------------------------
# B. lists and tuples of layers
# --------------------------------------------------------------------------------------------

def list_of_tuples(layers, X):
    h = X
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h ** 2)


def list_of_dicts(layers, X):
    h = X
    for layer in layers:
        h = np.sin(h @ layer['W']) + layer['b']
    return np.sum(h)


def list_index_layers(layers, x):
    return np.sum(np.tanh(x @ layers[0]) @ layers[1])


def list_neg_index(layers, x):
    return np.sum(x @ layers[-1]) + np.sum(layers[0] ** 2)


def list_slice_layers(layers, x):
    h = x
    for W in layers[1:]:
        h = np.tanh(h @ W)
    return np.sum(h) + np.sum(layers[0])


def list_slice_index(xs):
    return np.sum(xs[1:][0] * xs[0]) + np.sum(xs[1:3][1])


def tuple_unpack(pair, x):
    W, b = pair
    return np.sum(np.tanh(x @ W + b))


def tuple_of_floats(t, x):
    a, b, c = t
    return np.sum(a * x ** 2 + b * x + c)


def list_len_loop(ws, x):
    s = 0.0
    for i in range(len(ws)):
        s = s + np.sum(ws[i] * x) ** 2
    return s


def enumerate_layers(ws, x):
    s = 0.0
    for i, w in enumerate(ws):
        s = s + (i + 1.0) * np.sum(np.sin(w * x))
    return s


def zip_layers(ws, bs, x):
    h = x
    for w, b in zip(ws, bs):
        h = np.tanh(w * h + b)
    return np.sum(h)


def zip_two_lists(ws, xs):
    return sum(np.sum(w * x) for w, x in zip(ws, xs))


def list_plus_concat(a, b):
    both = a + b
    return sum(np.sum(v ** 2) for v in both)


def list_builtin(t, x):
    ls = list(t)
    return np.sum(ls[0] * x) + np.sum(ls[1] * x ** 2)


def tuple_builtin(ls, x):
    t = tuple(ls)
    return np.sum(t[0] * t[1] * x)


def isinstance_check(p, x):
    if isinstance(p, dict):
        return np.sum(p['w'] * x)
    return np.sum(p[0] * x)


def isinstance_float_leaf(p, x):
    s = 0.0
    for v in p:
        if isinstance(v, float):
            s = s + v * np.sum(x)
        else:
            s = s + np.sum(v * x)
    return s


def stack_list_arg(xs):
    A = np.stack(xs)
    return np.sum(np.tanh(A) ** 2)


def list_star_call(xs):
    return np.sum(np.concatenate([*xs]) ** 2)


def star_into_helper(args):
    return _three(*args)


def _three(a, b, c):
    return np.sum(a * b + c)


def nested_list_tuples(p, x):
    s = 0.0
    for group in p:
        for w in group:
            s = s + np.sum(w * x)
    return s ** 2


# --------------------------------------------------------------------------------------------
# C. namedtuples and dataclasses
# --------------------------------------------------------------------------------------------

Linear = namedtuple('Linear', ['W', 'b'])
Params3 = namedtuple('Params3', 'a b c')


@dataclass
class DLinear:
    W: np.ndarray
    b: np.ndarray


@dataclass
class Config:
    scale: float
    shift: float
    name: str = 'cfg'


@dataclass
class Net:
    layers: list
    out: np.ndarray


def nt_linear(lin, X):
    return np.sum(np.tanh(X @ lin.W + lin.b))


def nt_index(lin, X):
    return np.sum((X @ lin[0] + lin[1]) ** 2)


def nt_unpack(lin, X):
    W, b = lin
    return np.sum(np.sin(X @ W) * b)


def nt_floats(p, x):
    return np.sum(p.a * x ** 2 + p.b * x + p.c)


def nt_list(layers, X):
    h = X
    for lay in layers:
        h = np.tanh(h @ lay.W + lay.b)
    return np.sum(h)


def nt_in_dict(p, X):
    return np.sum(np.tanh(X @ p['l1'].W + p['l1'].b) @ p['l2'].W) + np.sum(p['l2'].b)


def dc_linear(lin, X):
    return np.sum(np.tanh(X @ lin.W + lin.b) ** 2)


def dc_config(cfg, x):
    return np.sum(np.exp(cfg.scale * x) + cfg.shift)


def dc_net(net, X):
    h = X
    for lay in net.layers:
        h = np.tanh(h @ lay.W + lay.b)
    return np.sum(h @ net.out)


def dc_in_list(ls, x):
    return sum(np.sum(l.W * x + l.b) for l in ls)


def dc_cfg_not_wrt(x, cfg):
    return np.sum(np.sin(cfg.scale * x) + cfg.shift)


def nt_fields_loop(p, x):
    s = 0.0
    for v in p:
        s = s + v * np.sum(x)
    return s


def make_nt_inside(x, y):
    lin = Linear(W=x, b=y)
    return np.sum(lin.W * lin.b)


def make_dc_inside(x):
    c = Config(scale=2.0, shift=float(0.5))
    return np.sum(c.scale * x + c.shift)


# --------------------------------------------------------------------------------------------
# D. methods and model classes
# --------------------------------------------------------------------------------------------

class MLP:
    def __init__(self, W1, b1, W2):
        self.W1 = W1
        self.b1 = b1
        self.W2 = W2
        self.act = np.tanh

    def hidden(self, X):
        return self.act(X @ self.W1 + self.b1)

    def forward(self, X):
        return self.hidden(X) @ self.W2

    def loss(self, X, y):
        return np.mean((self.forward(X) - y) ** 2)

    def __call__(self, X):
        return self.forward(X)

    @property
    def n_hidden(self):
        return self.W1.shape[1]

    def l2(self):
        return np.sum(self.W1 ** 2) + np.sum(self.W2 ** 2)

    def reg_loss(self, X, y, lam=0.01):
        return self.loss(X, y) + lam * self.l2()


class Scaler:
    def __init__(self, scale):
        self.scale = scale

    def apply(self, x):
        return self.scale * np.sin(x)

    def energy(self, x):
        return np.sum(self.apply(x) ** 2)


class Poly:
    def __init__(self, coeffs):
        self.coeffs = coeffs

    def value(self, x):
        s = 0.0
        for i, c in enumerate(self.coeffs):
            s = s + c * x ** i
        return np.sum(s)


def method_via_helper(model, X, y):
    return model.loss(X, y) + 0.1 * _l2_of(model)


def _l2_of(model):
    return np.sum(model.W1 ** 2)


def call_model_object(model, X):
    return np.sum(model(X) ** 2)


def property_use(model, X):
    return np.sum(model.hidden(X)) / model.n_hidden


def obj_attr_read_x(x, sc):
    return np.sum(sc.apply(x))


# --------------------------------------------------------------------------------------------
# E. lambdas, nested defs, closures
# --------------------------------------------------------------------------------------------

def lambda_local(x):
    act = lambda z: np.tanh(z) * 2.0
    return np.sum(act(x) ** 2)


def lambda_to_helper(x):
    return _apply_fn(lambda z: z ** 3, x)


def _apply_fn(fn, x):
    return np.sum(fn(x))


def lambda_closure(x, a):
    f = lambda z: a * np.sin(z)
    return np.sum(f(x))


def lambda_two_args(x, y):
    comb = lambda u, v: u * v + u ** 2
    return np.sum(comb(x, y))


def nested_def(x):
    def inner(z):
        return np.exp(-z * z)
    return np.sum(inner(x) * x)


def nested_def_closure(x, w):
    def layer(z):
        return np.tanh(z * w)
    return np.sum(layer(layer(x)))


def nested_def_late_binding(x):
    c = 1.0

    def f(z):
        return c * z
    c = 3.0
    return np.sum(f(x) ** 2)


def nested_def_default(x):
    def f(z, k=2.0):
        return z ** k
    return np.sum(f(x) + f(x, 3.0))


def lambda_in_loop_use(x):
    g = lambda z: np.cos(z)
    s = 0.0
    for i in range(3):
        s = s + np.sum(g(x * (i + 1)))
    return s


def lambda_default_arg_helper(x, fn=lambda z: z * z):
    return np.sum(fn(x))


def nested_calls_nested(x):
    def a(z):
        return np.sin(z)

    def b(z):
        return a(z) * z
    return np.sum(b(x))


def closure_over_dict(p, x):
    def lin(z):
        return z @ p['W'] + p['b']
    return np.sum(np.tanh(lin(x)))


# --------------------------------------------------------------------------------------------
# F. comprehensions and generator expressions
# --------------------------------------------------------------------------------------------

def gen_masked_sum(w, x, mask):
    n = len(x)
    return sum(w[i] * x[i] for i in range(n) if mask[i])


def listcomp_powers(x):
    terms = [np.sum(x ** k) / k for k in range(1, 4)]
    return sum(terms)


def listcomp_cond(x):
    vals = [np.sin(x[i]) for i in range(x.shape[0]) if i % 2 == 0]
    return sum(vals)


def listcomp_nested(A):
    return sum([A[i, j] * A[j, i] for i in range(A.shape[0]) for j in range(A.shape[1])])


def listcomp_over_list(ws, x):
    outs = [np.tanh(w * x) for w in ws]
    return np.sum(np.stack(outs))


def dictcomp_items(p):
    q = {k: v * 2.0 for k, v in p.items()}
    return np.sum(q['a'] ** 2) + np.sum(q['b'])


def dictcomp_cond(p):
    q = {k: np.sin(v) for k, v in p.items() if not k.startswith('skip')}
    return sum(np.sum(v) for v in q.values())


def dictcomp_range(x):
    d = {str(i): x * i for i in range(3)}
    return np.sum(d['0'] + d['1'] * d['2'])


def setcomp_indices(x):
    idx = {i % 3 for i in range(7)}
    return np.sum(x ** 2) * len(idx)


def gen_tuple(x):
    t = tuple(np.sum(x ** k) for k in (1, 2, 3))
    return t[0] * t[1] + t[2]


def gen_list_builtin(x):
    ls = list(np.sin(x * k) for k in range(3))
    return np.sum(ls[2] * ls[1])


def gen_all_any(xs):
    if all(x.ndim == 1 for x in xs):
        s = sum(np.sum(x ** 2) for x in xs)
    else:
        s = 0.0
    if any(x.shape[0] > 100 for x in xs):
        s = s * 2.0
    return s


def gen_over_items(p, x):
    return sum(np.sum(v * x) ** 2 for k, v in p.items() if k != 'frozen')


def gen_enumerate(ws, x):
    return sum(i * np.sum(w * x) for i, w in enumerate(ws) if i > 0)


def listcomp_zip(ws, bs, x):
    return np.sum(sum([w * x + b for w, b in zip(ws, bs)]) ** 2)


def listcomp_masked_vals(x, mask):
    return sum([x[i] ** 2 for i in range(len(x)) if mask[i] > 0.5])


def nested_gen_cond(A):
    n = A.shape[0]
    return sum(A[i, j] ** 2 for i in range(n) for j in range(n) if i < j)


def listcomp_stack_rows(X, w):
    rows = [np.tanh(X[i] @ w) for i in range(X.shape[0])]
    return np.sum(np.array(rows) ** 2)


def gen_sum_helper(x):
    return sum(square(x[i]) for i in range(3))


def gen_with_walrus_outside(x):
    n = (m := x.shape[0]) - 1
    return sum(x[i] * x[i + 1] for i in range(n)) + m * 0.0


# --------------------------------------------------------------------------------------------
# G. callables, defaults, partial
# --------------------------------------------------------------------------------------------

def reduce_default(x, reduce=np.sum):
    return reduce(np.sin(x) ** 2)


def act_arg(x, act):
    return np.sum(act(x))


def act_default(x, w, act=np.tanh):
    return np.sum(act(x * w))


def helper_takes_fn(x):
    return _apply_fn(np.sin, x) + _apply_fn(softplus, x)


def cfg_act(cfg, x):
    return np.sum(cfg['act'](x * cfg['w']))


def acts_tuple(x):
    s = 0.0
    for act in (np.tanh, np.sin, softplus):
        s = s + np.sum(act(x))
    return s


def zip_acts(ws, x):
    h = x
    for w, act in zip(ws, (np.tanh, sigmoid)):
        h = act(w * h)
    return np.sum(h)


def _loss_c(x, c=1.0):
    return np.sum((x - c) ** 2 * np.exp(0.1 * x))


partial_loss = partial(_loss_c, c=3.0)


def partial_inside(x):
    g = partial(_loss_c, c=2.0)
    return g(x) + g(2.0 * x)


def functools_partial_inside(x):
    g = functools.partial(_loss_c, c=0.5)
    return g(x)


def bound_method_value(x, model):
    return _apply_fn(model.apply, x)


def func_in_list_arg(fns, x):
    return np.sum(fns[0](x) * fns[1](x))


def loop_over_fn_list(fns, x):
    s = 0.0
    for f in fns:
        s = s + np.sum(f(x))
    return s


def ufunc_reduce(x):
    return np.add.reduce(x ** 2) + np.sum(np.multiply.accumulate(1.0 + 0.1 * x))


def reduce_functools(xs):
    prod = _reduce(lambda a, b: a * b, xs)
    return np.sum(prod)


# --------------------------------------------------------------------------------------------
# H. primal-only statements, errstate, context managers
# --------------------------------------------------------------------------------------------

class Timer:
    def __init__(self):
        self.n = 0

    def __enter__(self):
        self.n += 1
        return self

    def __exit__(self, *exc):
        return False


TIMER = Timer()


def with_errstate(x):
    with np.errstate(divide='ignore', invalid='ignore'):
        y = np.log(x)
    return np.sum(y ** 2)


def with_errstate_raise(x):
    with np.errstate(all='raise'):
        y = np.sqrt(x) * np.log(x)
    return np.sum(y)


def with_timer(x):
    with TIMER:
        y = np.sin(x) * x
    return np.sum(y)


def asserts(x, w):
    assert x.ndim == 1, "x must be 1-D"
    assert x.shape == w.shape
    return np.sum(np.tanh(w * x))


def raise_in_branch(x, mode='sum'):
    if mode == 'sum':
        return np.sum(x ** 3)
    elif mode == 'mean':
        return np.mean(x ** 3)
    else:
        raise ValueError(f"unknown mode {mode}")


def raise_on_shape(X, w):
    if X.shape[1] != w.shape[0]:
        raise ValueError(f"shape mismatch {X.shape} vs {w.shape}")
    return np.sum(np.sin(X @ w))


def prints(x):
    y = np.exp(-x)
    print(f"y has {y.size} elements, first {y[0]:.3f}")
    return np.sum(y * x)


def logs(x):
    z = np.sum(x ** 2)
    log.debug("z = %s", z)
    logging.debug(f"z is {z}")
    return z * np.sum(np.cos(x))


def warns(x):
    if x.shape[0] > 100:
        warnings.warn("big input")
    return np.sum(np.arctan(x))


def fstring_not_used(x):
    name = "w"
    assert name == "w", f"bad {name}"
    return np.sum(x ** 2)


def raise_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            raise FloatingPointError("non-finite")
        s = s + x[i] ** 2
    return s


def try_keyerror(p, x):
    try:
        b = p['b']
    except KeyError:
        b = 0.0
    return np.sum(np.tanh(x * p['w'] + b))


def try_loop_keys(p, x):
    s = 0.0
    for k in ('a', 'b', 'c'):
        try:
            v = p[k]
        except KeyError:
            v = 1.0
        s = s + np.sum(v * x)
    return s ** 2


def try_reraise(x):
    try:
        y = np.sin(x) * 2.0
    except ValueError:
        raise
    return np.sum(y * x)


def try_import(x):
    try:
        import scipy.special as sp
    except ImportError:
        sp = None
    return np.sum(x ** 2)


# --------------------------------------------------------------------------------------------
# I. loops over items, zip, enumerate, slicing
# --------------------------------------------------------------------------------------------

def items_weighted(p, weights, x):
    s = 0.0
    for k, v in p.items():
        s = s + weights[k] * np.sum(v * x)
    return s ** 2


def zip_items(p, q):
    s = 0.0
    for (k1, v1), (k2, v2) in zip(p.items(), q.items()):
        s = s + np.sum(v1 * v2)
    return s


def enumerate_rows(X, w):
    s = 0.0
    for i, row in enumerate(X):
        s = s + (i + 1) * np.tanh(row @ w)
    return s


def zip_arrays(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * np.sin(b)
    return s


def array_slices(x):
    return np.sum(x[1:] * x[:-1]) + np.sum(x[::2] ** 2) + x[-1] * x[0]


def fancy_index(x, idx):
    return np.sum(x[idx] ** 2) + np.sum(x[x > 0.0])


def reversed_loop(x):
    s = 0.0
    for i in reversed(range(x.shape[0])):
        s = s * 0.5 + x[i]
    return s ** 2


def range_step_loop(x):
    s = 0.0
    for i in range(0, x.shape[0], 2):
        s = s + x[i] * x[i + 1]
    return s


def nested_loops_matrix(A, v):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s = s + A[i, j] * v[j] * v[i]
    return s


def column_loop(A):
    s = 0.0
    for j in range(A.shape[1]):
        s = s + np.sum(A[:, j] ** 2) * (j + 1)
    return s


# --------------------------------------------------------------------------------------------
# J. Python forms: walrus, match, *args/**kwargs, keyword-only, chained comparisons, del...
# --------------------------------------------------------------------------------------------

def walrus(x):
    if (n := np.sum(x ** 2)) > 1.0:
        return n * 2.0
    return n


def walrus_expr(x):
    y = (s := np.sin(x)) * s
    return np.sum(y)


def match_penalty(w, kind='l2'):
    match kind:
        case 'l1' | 'abs':
            r = np.sum(np.abs(w))
        case 'l2':
            r = np.sum(w ** 2)
        case _:
            r = 0.0
    return r + np.sum(np.sin(w))


def match_int(x, k=2):
    match k:
        case 1:
            return np.sum(x)
        case 2:
            return np.sum(x ** 2)
        case _:
            return np.sum(x ** 3)


def star_args(w, *args):
    s = np.sum(w ** 2)
    for a in args:
        s = s + np.sum(w * a)
    return s


def star_args_index(w, *args):
    return np.sum(w * args[0]) + np.sum(args[1] * w ** 2)


def star_kwargs(w, **kwargs):
    s = np.sum(np.sin(w))
    for k, v in kwargs.items():
        s = s + v * np.sum(w)
    return s


def kwargs_get(w, **opts):
    scale = opts.get('scale', 1.0)
    return np.sum(scale * w ** 2)


def kwonly(w, x, *, lam=0.1, power=2):
    return np.sum((w * x) ** power) + lam * np.sum(w ** 2)


def kwonly_required(w, *, x):
    return np.sum(np.exp(w * x))


def forward_kwargs(w, **kw):
    return _kw_helper(w, **kw)


def _kw_helper(w, a=1.0, b=0.0):
    return np.sum(a * w ** 2 + b * w)


def star_call_tuple(w):
    t = (w, w * 2.0, 1.0)
    return _three(*t)


def chained_cmp(x, lo=-1.0, hi=1.0):
    s = 0.0
    for i in range(x.shape[0]):
        if lo < x[i] < hi:
            s = s + x[i] ** 2
        else:
            s = s + x[i]
    return s


def del_name(x):
    tmp = x * 2.0
    y = np.sin(tmp)
    del tmp
    return np.sum(y)


def global_read(x):
    global SCALE
    return np.sum(SCALE * x ** 2)


def global_tuple(x):
    s = 0.0
    for o in OFFSETS:
        s = s + np.sum((x - o) ** 2)
    return s


def global_dict(x):
    return np.sum(CONF['alpha'] * x + CONF['beta'] * x ** 2)


def local_import(x):
    import math as m
    from numpy import tanh
    return np.sum(tanh(x) * m.pi)


def math_scalar(a, b):
    return math.exp(a) * math.sin(b) + math.sqrt(a * a + b * b)


def ternary(x, flip=False):
    s = -1.0 if flip else 1.0
    return np.sum(s * x ** 3)


def ternary_on_data(x):
    return np.sum(x ** 2) if np.sum(x) > 0 else np.sum(x ** 4)


def augmented_scalars(x):
    s = 0.0
    s += np.sum(x)
    s *= 2.0
    s -= np.sum(x ** 2)
    s /= 3.0
    s **= 2
    return s


def int_arg_unused(x, n):
    return np.sum(x ** n)


def early_return_loop(x):
    for i in range(x.shape[0]):
        if x[i] > 10.0:
            return x[i]
    return np.sum(x ** 2)


# --------------------------------------------------------------------------------------------
# K. while/break, in-place updates, spellings
# --------------------------------------------------------------------------------------------

def while_break(x):
    s = 0.0
    i = 0
    while True:
        s = s + np.sin(x[i]) * x[i]
        i += 1
        if i >= x.shape[0]:
            break
    return s


def while_cond(x):
    y = x
    k = 0
    while k < 4:
        y = np.tanh(y) + 0.1 * x
        k += 1
    return np.sum(y)


def while_data_cond(x):
    y = x
    it = 0
    while np.max(np.abs(y)) > 0.1 and it < 20:
        y = 0.5 * y
        it += 1
    return np.sum(y ** 2)


def for_continue(x):
    s = 0.0
    for i in range(x.shape[0]):
        if i == 1:
            continue
        s = s + x[i] ** 3
    return s


def inplace_index(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] ** 2 + (out[i - 1] if i > 0 else 0.0)
    return np.sum(out)


def inplace_plus(x, w):
    y = x * 1.0
    y += w
    y *= x
    return np.sum(y ** 2)


def inplace_col(A):
    B = np.zeros_like(A)
    for j in range(A.shape[1]):
        B[:, j] += A[:, j] * (j + 1.0)
    return np.sum(np.sin(B))


def inplace_copy_arg(x):
    y = np.copy(x)
    y[0] = 2.0 * y[1]
    return np.sum(y ** 2)


def mutate_own_arg(x):
    x[0] = x[0] * 3.0
    return np.sum(x ** 2)


def append_then_array(x):
    ys = []
    for i in range(3):
        ys.append(np.sum(x ** (i + 1)))
    return np.sum(np.array(ys) * np.array([1.0, 2.0, 3.0]))


def matmul_spellings(A, x):
    return x @ A @ x + np.dot(x, np.dot(A, x)) + x.dot(A.dot(x)) + np.matmul(x, A) @ x


def einsum_quad(A, x):
    return np.einsum('i,ij,j->', x, A, x)


def outer_trace(x, y):
    return np.trace(np.outer(x, y) @ np.outer(y, x))


def where_clip(x):
    return np.sum(np.where(x > 0.0, x ** 2, -x) + np.clip(x, -0.5, 0.5))


def maximum_relu(x, w):
    return np.sum(np.maximum(x * w, 0.0) ** 2)


def norm_loss(x):
    return np.linalg.norm(x) + np.linalg.norm(x - 1.0) ** 2


def solve_loss(A, b):
    return np.sum(np.linalg.solve(A, b) ** 2)


def logsumexp_manual(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def reshape_T(x):
    M = x.reshape(2, 3)
    return np.sum(M.T @ M) + np.sum(M ** 3)


def cumsum_diff(x):
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.diff(x) ** 2)


def concat_stack(x, y):
    z = np.concatenate([x, y * 2.0])
    return np.sum(np.stack([z, z ** 2]) ** 2)


def scipy_special(x):
    from scipy.special import expit, logsumexp
    return np.sum(expit(x)) + logsumexp(x)


def float_args(a, b):
    return a ** 2 * b + np.sin(a * b)


def float_and_array(a, x):
    return np.sum(np.exp(a * x)) * a


def np_float_scalar(a, x):
    return np.sum(x * a) ** 2


def mean_axis(X):
    return np.sum(np.mean(X, axis=0) ** 2) + np.sum(np.mean(X ** 2, axis=1))


def std_var(x):
    return np.std(x) + np.var(x * 2.0)


def prod_loss(x):
    return np.prod(1.0 + 0.1 * x)


def sort_loss(x):
    s = np.sort(x)
    return np.sum(s * np.arange(1.0, x.shape[0] + 1.0))


def abs_loss(x):
    return np.sum(np.abs(x) ** 3)


def max_scalar(a, b):
    return max(a, b) ** 2 + min(a, b)


def power_array_exponent(x, p):
    return np.sum(x ** p)


def broadcasting(X, b):
    return np.sum((X + b) ** 2 * (X - b[None, :]))


def astype_int(x):
    return np.sum(x.astype(int) * x)


def stop_grad(x):
    import srcad
    return np.sum(srcad.stop_gradient(x) * x)


def recursion_py(x, n=3):
    if n == 0:
        return np.sum(x)
    return recursion_py(np.sin(x), n - 1)


def simulate_ode(k, x0):
    x = x0
    v = 0.0
    dt = 0.05
    for _ in range(50):
        a = -k * x - 0.1 * v
        v = v + dt * a
        x = x + dt * v
    return x * x


def gauss_newton_like(theta, t, y):
    a, b = theta[0], theta[1]
    r = a * np.exp(-b * t) - y
    return 0.5 * np.dot(r, r)


# --------------------------------------------------------------------------------------------
# L. container outputs
# --------------------------------------------------------------------------------------------

Stats = namedtuple('Stats', ['mean', 'sq'])


@dataclass
class Out:
    a: np.ndarray
    b: float


def sgd_step(params, lr=0.1):
    return {k: v - lr * np.sin(v) for k, v in params.items()}


def stats_nt(x):
    return Stats(mean=np.mean(x), sq=np.sum(x ** 2))


def out_dc(x):
    return Out(a=np.sin(x), b=np.sum(x) * 2.0)


def tuple_out(x):
    return np.sin(x), np.sum(x ** 2)


def dict_out(x, w):
    return {'h': np.tanh(x * w), 'n': np.sum(w ** 2)}


def nested_out(x):
    return {'pair': (x * 2.0, np.cos(x)), 'list': [np.sum(x), x ** 2]}


def helper_returns_dict(p, x):
    r = _forward(p, x)
    return np.sum(r['out'] ** 2) + np.sum(r['h'])


def _forward(p, x):
    h = np.tanh(x @ p['W'])
    out = h @ p['v']
    return {'h': h, 'out': out}


def helper_returns_nt(x):
    s = stats_nt(x)
    return s.mean * s.sq


def helper_returns_tuple(x):
    a, b = tuple_out(x)
    return np.sum(a) * b


# --------------------------------------------------------------------------------------------
# M. API conventions
# --------------------------------------------------------------------------------------------

def two_arg(w, x):
    return np.sum(np.sin(w) * x ** 2) + np.sum(w * w * x)


def with_aux(w, x):
    r = np.tanh(w * x)
    return np.sum(r ** 2), {'r': r, 'n': 3}


def vec_out(x):
    return np.sin(x) * np.sum(x)


def scale_default(x, scale=2.0, *, k=1.0):
    return np.sin(x) * scale * k


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# --------------------------------------------------------------------------------------------
# N. documented refusals
# --------------------------------------------------------------------------------------------

def bad_try(x):
    try:
        z = np.log(x)
    except FloatingPointError:
        z = x
    return np.sum(z)


def bad_runtime_key(p, x, key):
    return np.sum(p[key] * x)


def bad_write_container(p, x):
    p['W'] = p['W'] * 2.0
    return np.sum(p['W'] * x)


def bad_container_to_lib(p):
    return np.sum(p)


def bad_break_over_container(ls, x):
    s = 0.0
    for w in ls:
        s = s + np.sum(w * x)
        if s > 1.0:
            break
    return s


def bad_lambda_map(x):
    return np.sum(np.array(list(map(lambda z: z * 2.0, x))))


def bad_match_structure(x, t):
    match t:
        case (a, b):
            return np.sum(x * a * b)
        case _:
            return np.sum(x)


def bad_return_in_with(x):
    with TIMER:
        return np.sum(x ** 2)


def bad_nonlocal(x):
    c = 0.0

    def inc():
        nonlocal c
        c = c + 1.0
        return c
    inc()
    return np.sum(x) * c


def bad_yield_gen(x):
    def gen():
        yield x
    return np.sum(x)


def bad_alias_write(x):
    y = x * 2.0
    z = y
    y[0] = 1.0
    return np.sum(z * x)


def bad_global_assign(x):
    global SCALE
    SCALE = 2.0
    return np.sum(x * SCALE)


def bad_no_rule(x):
    from scipy.stats import entropy
    return entropy(np.exp(x))


def bad_set_values(x):
    s = {x[0], x[1]}
    return sum(s)


def bad_lambda_in_if(x):
    if x[0] > 0:
        f = lambda z: z * 2.0
    else:
        f = lambda z: z * 3.0
    return np.sum(f(x))


def bad_attr_assign(model, x):
    model.W1 = model.W1 * 2.0
    return np.sum(model.W1)


def bad_dictcomp_runtime(x):
    d = {i: x[i] for i in range(x.shape[0]) if x[i] > 0}
    return sum(d.values())


def bad_loop_else(x):
    s = 0.0
    for i in range(3):
        s = s + x[i]
    else:
        s = s * 2.0
    return s


# --------------------------------------------------------------------------------------------
# O. scoping and evaluation-order traps
# --------------------------------------------------------------------------------------------

def comp_var_no_leak(x):
    i = 0
    s = sum(x[i] ** 2 for i in range(1, 3))
    return s * x[i]


def listcomp_var_no_leak(x):
    k = 0
    ys = [x[k] * 2.0 for k in range(1, 3)]
    return sum(ys) * x[k]


def lambda_param_shadows(x):
    z = x * 2.0
    f = lambda z: z ** 2
    return np.sum(f(x)) + np.sum(z)


def nested_def_local_shadows(x):
    h = np.sin(x)

    def g(z):
        h = z * 3.0
        return h
    u = g(x)
    return np.sum(h * u)


def _helper_with_locals(x):
    h = x * 5.0
    out = np.cos(h)
    return out


def helper_locals_shadow(x):
    h = x ** 2
    out = _helper_with_locals(x)
    return np.sum(h * out)


def parallel_assign(x, y):
    for _ in range(2):
        x, y = y * 2.0, x * 3.0 + y
    return np.sum(x * y)


def swap(x, y):
    a, b = x, y
    a, b = b, a
    return np.sum(a * np.sin(b))


def repeated_index_add(x):
    y = np.zeros(3)
    y[np.array([0, 0, 1])] += x
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def mask_assign(x):
    y = np.zeros_like(x)
    m = x > 0.0
    y[m] = x[m] ** 2
    return np.sum(y)


def neg_step(x):
    return np.sum(x[::-1] * x) + np.sum(x[-2::-2] ** 2)


def float_cast(x):
    s = float(np.sum(x ** 2))
    return s * np.sum(x)


def mod_floordiv(x):
    return np.sum(x % 1.0 + (x // 1.0) * x)


def item_method(x):
    return x.sum().item() * 2.0 + x[0].item() ** 2


def methods_spelling(X):
    return X.sum() + X.mean(axis=0).sum() + (X.T @ X).trace() + X.max() + X.prod()


def sum_with_start(x):
    return sum((x[i] ** 2 for i in range(3)), 10.0) + sum([x, x ** 2], np.zeros(3)).sum()


def np_sum_of_list(x, y):
    return np.sum([np.sum(x ** 2), np.sum(y)]) + np.mean(np.array([x, y]) ** 2)


def builtin_abs_pow_round(x):
    s = 0.0
    for v in x:
        s = s + abs(v) * pow(v, 2) + round(3.0) * v
    return s


def builtin_max_gen(x):
    return max(x[i] ** 2 for i in range(3)) + min([x[0], x[1]])


def enumerate_zip_unpack(Ws, bs, x):
    h = x
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = np.tanh(W @ h + b) * (i + 1.0)
    return np.sum(h)


def reversed_layers(ws, x):
    h = x
    for w in reversed(ws):
        h = np.sin(w * h)
    return np.sum(h)


def sorted_keys(p, x):
    s = 0.0
    for i, k in enumerate(sorted(p)):
        s = s + (i + 1.0) * np.sum(p[k] * x)
    return s


def default_from_global(x, c=SCALE):
    return np.sum(c * x ** 2)


def helper_twice_dict(p, x):
    r1 = _forward(p, x)
    r2 = _forward(p, 2.0 * x)
    return np.sum(r1['out'] * r2['out']) + np.sum(r1['h'] - r2['h'])


def shape_branch(x):
    if x.ndim == 2 and x.shape[0] > 1:
        return np.sum(x[0] * x[1])
    return np.sum(x ** 2)


def loop_carried_list(x):
    hs = [x]
    for _ in range(3):
        hs.append(np.sin(hs[-1]) + hs[0])
    return np.sum(hs[-1] * hs[1])


def inplace_loop_prev(x):
    a = np.copy(x)
    for i in range(1, a.shape[0]):
        a[i] += a[i - 1] * 0.5
    return np.sum(a ** 2)


def where_scalar(x):
    return np.sum(np.where(x > 0, x, 0.1) * x)


def norm_axis(X):
    return np.sum(np.linalg.norm(X, axis=1) ** 3)


def sum_where(x):
    return np.sum(x ** 2, where=x > 0.0) + np.mean(x, keepdims=True)[0]


def asarray_copy(x):
    y = np.asarray(x)
    z = np.array(x)
    w = x.copy()
    return np.sum(y * z * w.astype(np.float64))


def loop_over_array_rows_append(X):
    out = []
    for row in X:
        out.append(np.dot(row, row))
    return sum(out)


def zip_star(pairs):
    ws, bs = zip(*pairs)
    return np.sum(ws[0] * bs[1]) + np.sum(ws[1] * bs[0])


def two_returns_dict_vs_loop(p, x):
    s = 0.0
    for k in ('w', 'v'):
        s = s + np.sum(p[k] * x)
    return s ** 2


def dict_of_lists(p, x):
    s = 0.0
    for w in p['ws']:
        s = s + np.sum(w * x)
    return s * p['scale']


def update_same_name(x):
    x = x * 2.0
    x = np.sin(x) + x
    return np.sum(x)


def closure_loop_var(x):
    s = 0.0
    for k in range(3):
        f = lambda z: z * k
        s = s + np.sum(f(x))
    return s


def generator_cond_on_values(x):
    return sum(v ** 2 for v in x if v > 0.0)


def nested_helper_default_callable(x):
    return _outer_helper(x)


def _outer_helper(x, reduce=np.mean, act=softplus):
    return reduce(act(x)) * 2.0


def conditional_accum_dict(p, x):
    acc = {'a': 0.0, 'b': 0.0}
    a = acc['a'] + np.sum(p['w'] * x)
    b = acc['b'] + np.sum(p['w'] ** 2)
    return a * b


def int_float_mix(x, n):
    return np.sum(x ** 2) / n + n * np.sum(x)


def parallel_assign_once(x, y):
    x, y = y * 2.0, x * 3.0 + y
    return np.sum(x * y)


def loop_swap_roles(x, y):
    for _ in range(2):
        x, y = y, x
    return np.sum(x * np.sin(y))


def loop_nonwrt_becomes_active(x, y):
    for _ in range(2):
        t = y
        y = x * 2.0
        x = t
    return np.sum(x * y)



# --------------------------------------------------------------------------------------------
# P. srcad's own derivatives called inside a differentiated function
# --------------------------------------------------------------------------------------------

def _energy(x):
    return np.sum(np.sin(x) * x ** 2)


def _pair_energy(x, y):
    return np.sum(np.exp(0.3 * x * y))


def grad_norm_penalty(x):
    import srcad
    g = srcad.grad(_energy)(x)
    return _energy(x) + 0.5 * np.sum(g ** 2)


def grad_wrt1_inside(x, y):
    import srcad
    gy = srcad.grad(_pair_energy, wrt=1)(x, y)
    return np.sum(gy * x)


def value_and_grad_inside(x):
    import srcad
    v, g = srcad.value_and_grad(_energy)(x)
    return v * np.sum(g)


def gradient_descent_unrolled(x0, lr):
    import srcad
    x = x0
    for _ in range(3):
        x = x - lr * srcad.grad(_energy)(x)
    return _energy(x)


def _double(g):
    return g * 2.0


def hooked(x):
    import srcad
    return np.sum(srcad.hook(x, _double) ** 2)


def aux_dict_loss(p, X, y):
    r = X @ p['w'] + p['b'] - y
    return np.mean(r ** 2), {'resid': r, 'n': X.shape[0]}


# --------------------------------------------------------------------------------------------
# Q. a non-differentiated argument that becomes active in a loop (an initial state)
# --------------------------------------------------------------------------------------------

def rnn_h0(W, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)


def accumulate_into_arg(x, acc):
    for _ in range(3):
        acc = acc + np.sin(x)
    return np.sum(acc ** 2)


def power_iteration_like(A, v):
    for _ in range(3):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v @ A @ v


# --------------------------------------------------------------------------------------------
# R. randomness, nested objects, defaults that are arrays, keyword calls
# --------------------------------------------------------------------------------------------

def dropout_seeded(x, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(x.shape) > 0.5
    return np.sum(np.sin(x) * mask) + np.sum(x ** 2)


def noise_seeded(x, seed=1):
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(x.shape)
    return np.sum((x + 0.1 * eps) ** 2)


def legacy_random(x):
    np.random.seed(3)
    e = np.random.randn(*x.shape)
    return np.sum(x * e)


def array_default(x, w=np.array([0.5, -1.0, 2.0])):
    return np.sum(np.sin(w * x))


class Layer:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, h):
        return np.tanh(h @ self.W + self.b)


class TwoLayer:
    def __init__(self, l1, l2):
        self.layer1 = l1
        self.layer2 = l2
        self.scale = 0.5

    def forward(self, X):
        return self.layer2(self.layer1(X)) * self.scale

    def loss(self, X, y):
        return np.mean((self.forward(X)[:, 0] - y) ** 2)


class Stack:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, X):
        h = X
        for lay in self.layers:
            h = lay(h)
        return h


def stack_loss(net, X):
    return np.sum(net(X) ** 2)


def twolayer_loss(model, X, y):
    return model.loss(X, y)


def ignores_params(p, x):
    return np.sum(x ** 2)


def ternary_in_check(p, x):
    return np.sum(p['a'] * x) + (np.sum(p['c'] * x) if 'c' in p else 0.0)


def bias_broadcast(b, X):
    return np.sum(np.tanh(X + b) ** 2)


def outer_broadcast(u, v):
    return np.sum(np.sin(u[:, None] * v[None, :]))


def keepdims_norm(X):
    return np.sum(X / np.sum(X ** 2, axis=1, keepdims=True))


def mean_rows(X, w):
    return np.mean((X @ w) ** 2) + np.mean(X, axis=0) @ w


# --------------------------------------------------------------------------------------------
# S. classes: inheritance, class attributes, static methods, dataclass methods
# --------------------------------------------------------------------------------------------

class Base:
    gain = 2.0

    def __init__(self, W):
        self.W = W

    def act(self, z):
        return np.tanh(z)

    def forward(self, x):
        return self.act(x @ self.W) * self.gain

    def loss(self, x):
        return np.sum(self.forward(x) ** 2)


class Sub(Base):
    gain = 0.5

    def act(self, z):
        return np.sin(z)


class SubSuper(Base):
    def forward(self, x):
        return super().forward(x) + x @ self.W


class WithStatic:
    def __init__(self, w):
        self.w = w

    @staticmethod
    def sq(z):
        return z * z

    @classmethod
    def factor(cls):
        return 3.0

    def loss(self, x):
        return np.sum(self.sq(x * self.w)) * self.factor()


@dataclass
class DLin:
    W: np.ndarray
    b: float = 0.0

    def __call__(self, x):
        return x @ self.W + self.b

    @property
    def norm2(self):
        return np.sum(self.W ** 2)


def dlin_loss(lin, x):
    return np.sum(np.tanh(lin(x))) + 0.1 * lin.norm2


def base_loss_helper(model, x):
    return model.loss(x)


class Base2:
    def __init__(self, W):
        self.W = W

    def act(self, z):
        return np.tanh(z)

    def loss(self, x):
        return np.sum(self.act(x @ self.W) ** 2)


class Sub2(Base2):
    def act(self, z):
        return np.sin(z) * 3.0


def base2_helper(model, x):
    return model.loss(x)


class WithClassmethod:
    def __init__(self, w):
        self.w = w

    @classmethod
    def factor(cls):
        return 3.0

    def loss(self, x):
        return np.sum((x * self.w) ** 2) * self.factor()


# --------------------------------------------------------------------------------------------
# T. library functions users reach for
# --------------------------------------------------------------------------------------------

def lib_prod_zero(x):
    return np.prod(x) + np.sum(np.cumprod(x))


def lib_det(A):
    return np.linalg.det(A)


def lib_slogdet(A):
    sign, logdet = np.linalg.slogdet(A)
    return logdet * sign


def lib_inv_trace(A):
    return np.trace(np.linalg.inv(A) @ A.T)


def lib_eigh(A):
    w, V = np.linalg.eigh(A + A.T)
    return np.sum(w ** 3) + np.sum((V[:, 0] * V[0, 0]) ** 2)


def lib_svd(A):
    s = np.linalg.svd(A, compute_uv=False)
    return np.sum(s ** 2) + s[0]


def lib_qr(A):
    Q, R = np.linalg.qr(A)
    return np.sum(R ** 2) + np.sum(np.abs(np.diag(R)))


def lib_lstsq(A, b):
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return np.sum(x ** 2)


def lib_norms(A):
    return np.linalg.norm(A, ord=1) + np.linalg.norm(A, 'fro') + np.sum(np.linalg.norm(A, axis=0))


def lib_shapes(x):
    M = x.reshape(2, 3)
    return (np.sum(np.roll(M, 1, axis=1) * M) + np.sum(np.flip(M) * M) + np.sum(np.tile(x, 2) ** 2)
            + np.sum(np.repeat(x, 2) * np.arange(12.0)) + np.sum(np.pad(M, 1) ** 3)
            + np.sum(np.kron(M, M)) + np.sum(np.tril(M.T @ M)))


def lib_take_along(X):
    idx = np.argsort(X, axis=1)
    return np.sum(np.take_along_axis(X, idx, axis=1) * np.arange(3.0))


def lib_average(x, w):
    return np.average(x ** 2, weights=w) + np.var(x, ddof=1) + np.std(x * w)


def lib_special(x, y):
    return np.sum(np.logaddexp(x, y) + np.hypot(x, y) + np.arctan2(x, y + 3.0) + np.expm1(x) * np.log1p(y ** 2))


def lib_scipy(x):
    from scipy.special import logsumexp, softmax, erf, gammaln
    X = x.reshape(2, 3)
    return np.sum(logsumexp(X, axis=1)) + np.sum(softmax(X, axis=0) * X) + np.sum(erf(x)) + np.sum(gammaln(x ** 2 + 1.0))


def lib_max_axis(X):
    return np.sum(np.max(X, axis=0) ** 2) + np.sum(np.min(X, axis=1, keepdims=True) * X)


def lib_einsum_batch(A, B):
    return np.sum(np.einsum('bij,bjk->bik', A, B) ** 2) + np.einsum('bii->', A)


def lib_solve_triangular(A, b):
    from scipy.linalg import solve_triangular, cho_factor, cho_solve
    L = np.tril(A) + 3.0 * np.eye(3)
    x = solve_triangular(L, b, lower=True)
    S = L @ L.T
    c = cho_factor(S)
    return np.sum(x ** 2) + np.sum(cho_solve(c, b))


def lib_expm(A):
    from scipy.linalg import expm
    return np.sum(expm(0.3 * A))


def lib_interp_sort_median(x):
    return np.median(x) + np.sum(np.sort(x)[:2]) + np.interp(0.1, np.sort(x), x ** 2)


def lib_prod(x):
    return np.prod(x)


def lib_cumprod(x):
    return np.sum(np.cumprod(x))


def lib_norm1(A):
    return np.linalg.norm(A, ord=1)


def lib_prod_axis(X):
    return np.sum(np.prod(X, axis=1) ** 2)


def lib_det_only(A):
    return np.linalg.det(A)


def lib_polyval(c, x):
    return np.sum(np.polyval(c, x))


def lib_matrix_power(A):
    return np.sum(np.linalg.matrix_power(A, 3))


def lib_prod_reduce(x):
    return np.multiply.reduce(x) + np.prod(x.reshape(2, 2), axis=0).sum()


def lib_power_array(x, p):
    return np.sum(x ** p)


def lib_np_power(x):
    return np.sum(np.power(x, 2.0) + np.float_power(x, 3.0))


def lib_sinc(x):
    return np.sum(np.sinc(x))


def lib_xlogy(x, y):
    from scipy.special import xlogy
    return np.sum(xlogy(x, y) + x ** 2)


def lib_logsumexp_masked(x):
    z = np.where(np.array([True, True, False, True]), x, -np.inf)
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def lib_sqrt_shift(x):
    return np.sum(np.sqrt(x ** 2 + 1.0) * np.cbrt(x + 3.0))
