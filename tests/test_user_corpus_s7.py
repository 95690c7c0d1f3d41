"""An outside tester's corpus (session 7): about 200 programs written the way NumPy users
write them, from the README and docs/ only (tests/user_corpus_s7.py holds them). Each one is
checked against central finite differences in float64 computed here: the reverse-mode
gradient (its container structure and types too), the forward mode (a JVP along a random
tangent), and where it makes sense the Hessian-vector product (against finite differences
of the gradient); the arguments must not be mutated. Documented refusals must be srcad
errors naming this corpus's file."""
import copy
import dataclasses
import inspect
import math

import numpy as np
import pytest

import srcad
import user_corpus_s7 as U

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7
CORPUS_FILE = "user_corpus_s7.py"


# -- pytrees, written here (not srcad's) ---------------------------------------------------------

def _is_float_leaf(v):
    if isinstance(v, np.ndarray):
        return v.dtype.kind == 'f'
    return isinstance(v, (float, np.floating)) and not isinstance(v, bool)


def _is_obj_callable_model(v):
    # objects of user classes with __call__ are containers too
    return hasattr(v, '__dict__') and type(v).__module__ == U.__name__ \
        and not dataclasses.is_dataclass(v) and not isinstance(v, type) \
        and not inspect.isfunction(v) and not inspect.ismethod(v)


def children(v):
    """[(key, child)] of a container, or None for a leaf."""
    if isinstance(v, dict):
        return list(v.items())
    if isinstance(v, tuple) and hasattr(v, '_fields'):
        return [(f, getattr(v, f)) for f in v._fields]
    if isinstance(v, (list, tuple)):
        return list(enumerate(v))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]
    if _is_obj_callable_model(v):
        return list(vars(v).items())
    return None


def rebuild(v, items):
    """A container like v with the children items (a list of values in children's order)."""
    if isinstance(v, dict):
        return type(v)(zip(v.keys(), items))
    if isinstance(v, tuple) and hasattr(v, '_fields'):
        return type(v)(*items)
    if isinstance(v, list):
        return list(items)
    if isinstance(v, tuple):
        return tuple(items)
    if dataclasses.is_dataclass(v):
        return dataclasses.replace(v, **{f.name: x for f, x in zip(dataclasses.fields(v), items)})
    new = copy.copy(v)
    for (k, _), x in zip(vars(v).items(), items):
        setattr(new, k, x)
    return new


def tree_map(fn, v):
    ch = children(v)
    if ch is None:
        return fn(v)
    return rebuild(v, [tree_map(fn, c) for _, c in ch])


def leaves(v, path=()):
    ch = children(v)
    if ch is None:
        return [(path, v)]
    out = []
    for k, c in ch:
        out.extend(leaves(c, path + (k,)))
    return out


def set_leaf(v, path, new):
    if not path:
        return new
    ch = children(v)
    return rebuild(v, [set_leaf(c, path[1:], new) if k == path[0] else c for k, c in ch])


def get_leaf(v, path):
    for k in path:
        v = dict(children(v))[k]
    return v


def tree_equal(a, b):
    ca, cb = children(a), children(b)
    if ca is None or cb is None:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
                and a.dtype == b.dtype and np.array_equal(a, b)
        if inspect.ismethod(a) and inspect.ismethod(b):
            return a.__func__ is b.__func__ and tree_equal(vars(a.__self__), vars(b.__self__))
        if callable(a):
            return a is b
        return type(a) is type(b) and a == b
    return type(a) is type(b) and [k for k, _ in ca] == [k for k, _ in cb] and all(
        tree_equal(x, y) for (_, x), (_, y) in zip(ca, cb))


def tree_vdot(a, b):
    s = 0.0
    for (pa, x), (pb, y) in zip(leaves(a), leaves(b)):
        if _is_float_leaf(x):
            s += float(np.sum(np.asarray(x) * np.asarray(y)))
    return s


def random_like(v, rng):
    def one(x):
        if isinstance(x, np.ndarray) and x.dtype.kind == 'f':
            return rng.standard_normal(x.shape)
        if _is_float_leaf(x):
            return float(rng.standard_normal())
        return None
    return tree_map(one, v)


def _axpy(v, t, a):
    """v + a * t, leaf by leaf (non-float leaves kept)."""
    ch = children(v)
    if ch is None:
        if _is_float_leaf(v):
            return v + a * t if isinstance(v, np.ndarray) else float(v + a * t)
        return v
    ct = children(t)
    return rebuild(v, [_axpy(cv, tv, a) for (_, cv), (_, tv) in zip(ch, ct)])


# -- the finite-difference reference ----------------------------------------------------------

def get_wrt(fn, args, kw, w):
    """(getter, setter) for wrt item w (an int counting positional args, or a name)."""
    if isinstance(w, str):
        sig = inspect.signature(fn).parameters
        p = sig[w]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and list(sig).index(w) < len(args):
            w = list(sig).index(w)
        else:
            return (lambda a, k: k[w]), (lambda a, k, v: (a, {**k, w: v}))
    i = w
    return (lambda a, k: a[i]), (lambda a, k, v: (a[:i] + (v,) + a[i + 1:], k))


def call_scalar(fn, args, kw):
    val = fn(*copy.deepcopy(args), **copy.deepcopy(kw))
    return float(val)


def fd_grad(fn, args, kw, w, eps=EPS):
    get, put = get_wrt(fn, args, kw, w)
    x = get(args, kw)

    def grad_leaf(path, leaf):
        if not _is_float_leaf(leaf):
            return None
        if isinstance(leaf, np.ndarray):
            g = np.zeros(leaf.shape)
            for idx in np.ndindex(leaf.shape):
                vals = []
                for s in (1.0, -1.0):
                    nl = leaf.astype(np.float64).copy()
                    nl[idx] += s * eps
                    a2, k2 = put(args, kw, set_leaf(x, path, nl))
                    vals.append(call_scalar(fn, a2, k2))
                g[idx] = (vals[0] - vals[1]) / (2 * eps)
            return g
        vals = []
        for s in (1.0, -1.0):
            a2, k2 = put(args, kw, set_leaf(x, path, float(leaf) + s * eps))
            vals.append(call_scalar(fn, a2, k2))
        return (vals[0] - vals[1]) / (2 * eps)

    ls = leaves(x)
    grads = {p: grad_leaf(p, l) for p, l in ls}
    out = x
    for p, _ in ls:
        out = set_leaf(out, p, grads[p])
    return out


def assert_tree_close(got, want, x, what, rtol=RTOL, atol=ATOL):
    """got (srcad's) has x's structure and types and want's values."""
    cg, cx = children(got), children(x)
    if cx is not None:
        assert cg is not None, f"{what}: a leaf {type(got).__name__} where the argument has a {type(x).__name__}"
        assert type(got) is type(x), f"{what}: type {type(got).__name__}, argument is {type(x).__name__}"
        kg, kx = [k for k, _ in cg], [k for k, _ in cx]
        assert kg == kx, f"{what}: keys {kg} != {kx}"
        cw = children(want)
        for (k, g), (_, w), (_, xx) in zip(cg, cw, cx):
            assert_tree_close(g, w, xx, f"{what}[{k!r}]", rtol, atol)
        return
    if not _is_float_leaf(x):
        if callable(x):
            return
        assert got is None, f"{what}: a non-float leaf ({type(x).__name__}) got {got!r}, not None"
        return
    if isinstance(x, np.ndarray):
        assert isinstance(got, np.ndarray), f"{what}: {type(got).__name__} for an ndarray argument"
        assert got.shape == x.shape, f"{what}: shape {got.shape} != {x.shape}"
        assert got.dtype == x.dtype, f"{what}: dtype {got.dtype} != {x.dtype}"
    else:
        assert isinstance(got, (float, np.floating)) and np.ndim(got) == 0, \
            f"{what}: {type(got).__name__} for a float argument"
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=atol, err_msg=what)


# -- the cases ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    id: str
    fn: object
    args: object                    # rng -> tuple of positional arguments
    wrt: object = 0
    kw: object = None               # rng -> dict of keyword arguments
    fwd: bool = True
    hvp: bool = True
    mark: object = None
    opts: object = None             # options of srcad.grad and srcad.hvp (checkpoint=...)

    def param(self):
        marks = [self.mark] if self.mark is not None else []
        return pytest.param(self, id=self.id, marks=marks)


def N(*shape):
    return lambda rng: rng.standard_normal(shape)


def silent(reason):
    return pytest.mark.xfail(strict=True, reason='silent wrong: ' + reason)


def refused(reason):
    return pytest.mark.xfail(strict=True, reason='refused: ' + reason)


def internal(reason):
    return pytest.mark.xfail(strict=True, reason='internal error: ' + reason)


def r(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def data(rng, n=6, d=3):
    return r(rng, n, d), r(rng, n)


def mlp_params(rng, d=3, h=4):
    return {'W1': r(rng, d, h, scale=0.5), 'b1': r(rng, h), 'W2': r(rng, h, scale=0.5), 'b2': 0.3}


def _mlp(rng):
    return U.MLP(r(rng, 3, 4, scale=0.5), r(rng, 4), r(rng, 4, scale=0.5))


CASES = []


_SECOND_ORDER = [True]     # sections of primal-only statements and Python forms skip the hvp


def case(id, fn, args, **opts):
    opts.setdefault('hvp', _SECOND_ORDER[0])
    CASES.append(Case(id, fn, args, **opts))


# A. params dicts
case('mlp2', U.mlp2, lambda g: (mlp_params(g),) + data(g))
case('mlp2_dot', U.mlp2_dot, lambda g: (mlp_params(g),) + data(g))
case('mlp2_wrt_X', U.mlp2, lambda g: (mlp_params(g),) + data(g), wrt=1)
case('mlp2_wrt_tuple', U.mlp2, lambda g: (mlp_params(g),) + data(g), wrt=(0, 1), hvp=False)
case('mlp_layers', U.mlp_layers, lambda g: ({
    'W1': r(g, 3, 4, scale=0.5), 'b1': r(g, 4),
    'layers': [{'W': r(g, 4, 4, scale=0.5), 'b': r(g, 4)}, {'W': r(g, 4, 2, scale=0.5), 'b': r(g, 2)}],
    'out': r(g, 2)},) + data(g))
case('mlp_layers_empty', U.mlp_layers, lambda g: ({
    'W1': r(g, 3, 4, scale=0.5), 'b1': r(g, 4), 'layers': [], 'out': r(g, 4)},) + data(g))
case('logreg_dict', U.logreg_dict, lambda g: ({'w': r(g, 3), 'b': 0.2}, r(g, 8, 3),
                                              (g.random(8) > 0.5).astype(float)))
case('logreg_dict_array_b', U.logreg_dict, lambda g: ({'w': r(g, 3), 'b': r(g, 1)}, r(g, 8, 3),
                                                      (g.random(8) > 0.5).astype(float)))
case('logreg_softplus', U.logreg_softplus, lambda g: ({'w': r(g, 3), 'b': -0.1}, r(g, 8, 3),
                                                      (g.random(8) > 0.5).astype(float)))
case('ridge_dict', U.ridge_dict, lambda g: ({'w': r(g, 3), 'b': 0.5},) + data(g))
case('ridge_dict_lam_kw', U.ridge_dict, lambda g: ({'w': r(g, 3), 'b': 0.5},) + data(g),
     kw=lambda g: {'lam': 0.7})
case('ridge_wrt_lam', U.ridge_dict, lambda g: ({'w': r(g, 3), 'b': 0.5},) + data(g) + (0.3,), wrt=3)
case('get_default_missing', U.mlp_get_default, lambda g: ({'W': r(g, 3, 2)}, r(g, 5, 3)))
case('get_default_present', U.mlp_get_default, lambda g: ({'W': r(g, 3, 2), 'b': r(g, 2), 'c': 1.5},
                                                          r(g, 5, 3)))
case('in_check_absent', U.mlp_in_check, lambda g: ({'W': r(g, 3, 2)}, r(g, 5, 3)))
case('in_check_present', U.mlp_in_check, lambda g: ({'W': r(g, 3, 2), 'b': r(g, 2)}, r(g, 5, 3)))
case('dict_literal_inside', U.dict_literal_inside, lambda g: ({'a': r(g, 4), 'b': r(g, 4)}, r(g, 4)))
case('dict_call_inside', U.dict_call_inside, lambda g: ({'a': r(g, 4), 'b': 0.7}, r(g, 4)))
case('nested_dict', U.nested_dict, lambda g: ({'enc': {'W': r(g, 3, 4), 'b': r(g, 4)},
                                               'dec': {'W': r(g, 4, 2), 'b': 0.1}}, r(g, 5, 3)))
case('deep_nested', U.deep_nested, lambda g: ({'a': {'b': {'c': r(g, 3)}, 'd': (0.5, {'e': 1.5})}},
                                              r(g, 3)))
case('softmax_xent', U.softmax_xent, lambda g: ({'W': r(g, 3, 4), 'b': r(g, 4)}, r(g, 6, 3),
                                                g.integers(0, 4, 6)))
case('float_bias', U.float_bias, lambda g: ({'w': r(g, 3), 'b': 0.3}, r(g, 5, 3)))
case('array_bias', U.float_bias, lambda g: ({'w': r(g, 3), 'b': r(g, 5)}, r(g, 5, 3)))
case('mean_vs_sum', U.mean_vs_sum, lambda g: ({'w': r(g, 3)}, r(g, 5, 3)))
case('int_leaf', U.int_leaf, lambda g: ({'w': r(g, 3), 'n': 3}, r(g, 3)))
case('str_leaf_sq', U.str_leaf, lambda g: ({'w': r(g, 3), 'kind': 'sq'}, r(g, 3)))
case('str_leaf_lin', U.str_leaf, lambda g: ({'w': r(g, 3), 'kind': 'lin'}, r(g, 3)))
case('rnn_dict', U.rnn_dict, lambda g: ({'Wh': r(g, 3, 3, scale=0.5), 'Wx': r(g, 3, 2), 'b': r(g, 3)},
                                        r(g, 5, 2)))
case('rnn_list_outputs', U.rnn_list_outputs, lambda g: ({'Wh': r(g, 3, 3, scale=0.5), 'Wx': r(g, 3, 2),
                                                         'v': r(g, 3)}, r(g, 4, 2)))
case('gru_like', U.gru_like, lambda g: ({k: r(g, 3, 2 if k[0] == 'W' else 3, scale=0.5)
                                         for k in ('Wz', 'Uz', 'Wc', 'Uc')}, r(g, 4, 2)))
case('weight_decay_items', U.weight_decay_items, lambda g: ({'w': r(g, 3), 'b': 0.4},) + data(g))
case('params_values_sum', U.params_values_sum, lambda g: ({'a': r(g, 3), 'b': r(g, 2, 2), 'c': 0.3},))
case('params_keys', U.params_keys, lambda g: ({'a': r(g, 3), 'b': r(g, 3)}, r(g, 3)))
case('key_filter', U.key_filter, lambda g: ({'w1': r(g, 3), 'bias': r(g, 3), 'w2': r(g, 3)}, r(g, 3)))
case('batchnorm_dict', U.batchnorm_dict, lambda g: ({'gamma': r(g, 3), 'beta': r(g, 3)}, r(g, 6, 3)))
case('batchnorm_wrt_X', U.batchnorm_dict, lambda g: ({'gamma': r(g, 3), 'beta': r(g, 3)}, r(g, 6, 3)),
     wrt=1)
case('layernorm_params', U.layernorm_params, lambda g: ({'g': r(g, 4), 'b': r(g, 4)}, r(g, 3, 4)))
case('layernorm_wrt_X', U.layernorm_params, lambda g: ({'g': r(g, 4), 'b': r(g, 4)}, r(g, 3, 4)), wrt=1)

# B. lists and tuples (first order, but for a few)
_SECOND_ORDER[0] = False
case('list_of_tuples', U.list_of_tuples, lambda g: ([(r(g, 3, 4), r(g, 4)), (r(g, 4, 2), 0.1)], r(g, 5, 3)))
case('list_of_tuples_hvp', U.list_of_tuples, lambda g: ([(r(g, 3, 4), r(g, 4)), (r(g, 4, 2), 0.1)], r(g, 5, 3)),
     fwd=False, hvp=True)
case('list_of_dicts', U.list_of_dicts, lambda g: ([{'W': r(g, 3, 3), 'b': r(g, 3)},
                                                   {'W': r(g, 3, 2), 'b': 0.5}], r(g, 4, 3)), hvp=True)
case('list_index_layers', U.list_index_layers, lambda g: ([r(g, 3, 4), r(g, 4, 2)], r(g, 5, 3)))
case('list_neg_index', U.list_neg_index, lambda g: ([r(g, 3, 2), r(g, 3, 3), r(g, 3, 4)], r(g, 5, 3)))
case('list_slice_layers', U.list_slice_layers, lambda g: ([r(g, 2), r(g, 3, 3), r(g, 3, 2)], r(g, 4, 3)), hvp=True)
case('list_slice_index', U.list_slice_index, lambda g: ([r(g, 3), r(g, 3), r(g, 3), r(g, 3)],))
case('tuple_unpack', U.tuple_unpack, lambda g: ((r(g, 3, 2), r(g, 2)), r(g, 4, 3)), hvp=True)
case('tuple_of_floats', U.tuple_of_floats, lambda g: ((0.5, -1.2, 2.0), r(g, 4)), hvp=True)
case('list_len_loop', U.list_len_loop, lambda g: ([r(g, 3) for _ in range(3)], r(g, 3)))
case('enumerate_layers', U.enumerate_layers, lambda g: ([r(g, 3) for _ in range(3)], r(g, 3)))
case('zip_layers', U.zip_layers, lambda g: ([r(g, 3), r(g, 3)], [0.1, r(g, 3)], r(g, 3)), hvp=True)
case('zip_layers_wrt_bs', U.zip_layers, lambda g: ([r(g, 3), r(g, 3)], [0.1, r(g, 3)], r(g, 3)), wrt=1)
case('zip_two_lists', U.zip_two_lists, lambda g: ([r(g, 3), r(g, 2)], [r(g, 3), r(g, 2)]))
case('list_plus_concat', U.list_plus_concat, lambda g: ([r(g, 3)], [r(g, 2), r(g, 2)]))
case('list_plus_concat_wrt1', U.list_plus_concat, lambda g: ([r(g, 3)], [r(g, 2), r(g, 2)]), wrt=1)
case('list_builtin_of_tuple', U.list_builtin,
     args=lambda g: ((r(g, 3), r(g, 3)), r(g, 3)), hvp=True)
case('tuple_builtin_of_list', U.tuple_builtin,
     args=lambda g: ([r(g, 3), r(g, 3)], r(g, 3)))
case('isinstance_dict', U.isinstance_check,
     args=lambda g: ({'w': r(g, 3)}, r(g, 3)), hvp=True)
case('isinstance_list', U.isinstance_check, lambda g: ([r(g, 3)], r(g, 3)))
case('isinstance_float_leaf', U.isinstance_float_leaf, lambda g: ([0.5, r(g, 3), 1.5], r(g, 3)))
case('stack_list_arg', U.stack_list_arg, lambda g: ([r(g, 3), r(g, 3), r(g, 3)],))
case('star_into_helper', U.star_into_helper, lambda g: ((r(g, 3), r(g, 3), 0.5),))
case('nested_list_tuples', U.nested_list_tuples, lambda g: ([(r(g, 3), r(g, 3)), (r(g, 3),)], r(g, 3)))
case('nested_list_tuples_hvp', U.nested_list_tuples, lambda g: ([(r(g, 3), r(g, 3)), (r(g, 3),)], r(g, 3)),
     fwd=False, hvp=True)

# C. namedtuples and dataclasses
_SECOND_ORDER[0] = True
case('nt_linear', U.nt_linear, lambda g: (U.Linear(r(g, 3, 2), r(g, 2)), r(g, 4, 3)))
case('nt_index', U.nt_index, lambda g: (U.Linear(r(g, 3, 2), 0.5), r(g, 4, 3)), hvp=False)
case('nt_index_hvp', U.nt_index, lambda g: (U.Linear(r(g, 3, 2), 0.5), r(g, 4, 3)), fwd=False)
case('nt_unpack', U.nt_unpack, lambda g: (U.Linear(r(g, 3, 2), r(g, 2)), r(g, 4, 3)))
case('nt_floats', U.nt_floats, lambda g: (U.Params3(0.5, -0.3, 1.1), r(g, 4)))
case('nt_list', U.nt_list, lambda g: ([U.Linear(r(g, 3, 3), r(g, 3)), U.Linear(r(g, 3, 2), r(g, 2))],
                                      r(g, 4, 3)))
case('nt_in_dict', U.nt_in_dict, lambda g: ({'l1': U.Linear(r(g, 3, 3), r(g, 3)),
                                             'l2': U.Linear(r(g, 3, 2), r(g, 2))}, r(g, 4, 3)))
case('dc_linear', U.dc_linear, lambda g: (U.DLinear(r(g, 3, 2), r(g, 2)), r(g, 4, 3)))
case('dc_config', U.dc_config, lambda g: (U.Config(0.3, 1.0, 'c'), r(g, 4)))
case('dc_net', U.dc_net, lambda g: (U.Net([U.DLinear(r(g, 3, 3), r(g, 3)), U.DLinear(r(g, 3, 2), r(g, 2))],
                                          r(g, 2)), r(g, 4, 3)))
case('dc_in_list', U.dc_in_list,
     args=lambda g: ([U.DLinear(r(g, 3), r(g, 3)), U.DLinear(r(g, 3), 0.2)], r(g, 3)))
case('dc_cfg_not_wrt', U.dc_cfg_not_wrt, lambda g: (r(g, 4), U.Config(0.3, 1.0)))
case('dc_cfg_wrt1', U.dc_cfg_not_wrt, lambda g: (r(g, 4), U.Config(0.3, 1.0)), wrt=1)
case('nt_fields_loop', U.nt_fields_loop, lambda g: (U.Params3(0.5, -0.3, 1.1), r(g, 4)), hvp=False)
case('nt_fields_loop_hvp', U.nt_fields_loop, lambda g: (U.Params3(0.5, -0.3, 1.1), r(g, 4)), fwd=False)
case('make_nt_inside', U.make_nt_inside, lambda g: (r(g, 3), r(g, 3)))
case('make_dc_inside', U.make_dc_inside, lambda g: (r(g, 3),))

# D. methods and classes
case('bound_loss', lambda *a: None, None)  # placeholder replaced below
CASES.pop()
_M = _mlp(np.random.default_rng(1))
case('bound_method_loss', _M.loss, lambda g: data(g, 6, 3))
case('unbound_method_loss', U.MLP.loss, lambda g: (_mlp(g),) + data(g, 6, 3))
case('unbound_reg_loss', U.MLP.reg_loss, lambda g: (_mlp(g),) + data(g, 6, 3))
case('method_via_helper', U.method_via_helper, lambda g: (_mlp(g),) + data(g, 6, 3))
case('call_model_object', U.call_model_object, lambda g: (_mlp(g), r(g, 5, 3)))
case('property_use', U.property_use, lambda g: (_mlp(g), r(g, 5, 3)))
case('scaler_bound', U.Scaler(1.7).energy, lambda g: (r(g, 4),))
case('scaler_unbound', U.Scaler.energy, lambda g: (U.Scaler(1.3), r(g, 4)))
case('scaler_unbound_wrt_x', U.Scaler.energy, lambda g: (U.Scaler(1.3), r(g, 4)), wrt=1)
case('scaler_array_attr', U.Scaler.energy, lambda g: (U.Scaler(r(g, 4)), r(g, 4)))
case('poly_bound', U.Poly([0.5, -1.0, 0.3]).value, lambda g: (r(g, 4),))
case('poly_unbound', U.Poly.value, lambda g: (U.Poly([0.5, -1.0, 0.3]), r(g, 4)))
case('obj_attr_read_x', U.obj_attr_read_x, lambda g: (r(g, 4), U.Scaler(0.8)))
case('obj_attr_read_obj', U.obj_attr_read_x, lambda g: (r(g, 4), U.Scaler(0.8)), wrt=1)
case('bound_reg_loss_kw', _M.reg_loss, lambda g: data(g, 6, 3), kw=lambda g: {'lam': 0.5})

# E. lambdas and nested defs (first order, but for a few)
_SECOND_ORDER[0] = False
case('lambda_direct', lambda x: np.sum(np.sin(x) * x ** 2), lambda g: (r(g, 4),))
case('lambda_local', U.lambda_local, lambda g: (r(g, 4),), hvp=True)
case('lambda_to_helper', U.lambda_to_helper, lambda g: (r(g, 4),))
case('lambda_closure', U.lambda_closure, lambda g: (r(g, 4), 0.7), hvp=True)
case('lambda_closure_wrt_a', U.lambda_closure,
     args=lambda g: (r(g, 4), 0.7), wrt=1, hvp=True)
case('lambda_two_args', U.lambda_two_args, lambda g: (r(g, 4), r(g, 4)))
case('nested_def', U.nested_def, lambda g: (r(g, 4),))
case('nested_def_closure', U.nested_def_closure, lambda g: (r(g, 4), r(g, 4)), hvp=True)
case('nested_def_closure_w', U.nested_def_closure, lambda g: (r(g, 4), r(g, 4)), wrt=1, hvp=True)
case('nested_def_late_binding', U.nested_def_late_binding, lambda g: (r(g, 4),))
case('nested_def_default', U.nested_def_default, lambda g: (np.abs(r(g, 4)) + 0.5,))
case('lambda_in_loop_use', U.lambda_in_loop_use, lambda g: (r(g, 4),))
case('lambda_default_arg', U.lambda_default_arg_helper, lambda g: (r(g, 4),))
case('lambda_default_passed', U.lambda_default_arg_helper, lambda g: (r(g, 4), np.cosh))
case('nested_calls_nested', U.nested_calls_nested, lambda g: (r(g, 4),))
case('closure_over_dict', U.closure_over_dict, lambda g: ({'W': r(g, 3, 2), 'b': r(g, 2)}, r(g, 4, 3)))

# F. comprehensions and generators
case('gen_masked_sum', U.gen_masked_sum, lambda g: (r(g, 5), r(g, 5), np.array([1, 0, 1, 1, 0], bool)), hvp=True)
case('gen_masked_sum_wrt_x', U.gen_masked_sum,
     lambda g: (r(g, 5), r(g, 5), np.array([1, 0, 1, 1, 0], bool)), wrt=1)
case('listcomp_powers', U.listcomp_powers, lambda g: (r(g, 4),))
case('listcomp_cond', U.listcomp_cond, lambda g: (r(g, 5),))
case('listcomp_nested', U.listcomp_nested, lambda g: (r(g, 3, 3),), hvp=True)
case('listcomp_over_list', U.listcomp_over_list, lambda g: ([r(g, 3), r(g, 3)], r(g, 3)), hvp=True)
case('dictcomp_items', U.dictcomp_items, lambda g: ({'a': r(g, 3), 'b': r(g, 2)},), hvp=True)
case('dictcomp_cond', U.dictcomp_cond, lambda g: ({'a': r(g, 3), 'skip_b': r(g, 2), 'c': 0.4},))
case('dictcomp_range', U.dictcomp_range, lambda g: (r(g, 3),))
case('setcomp_indices', U.setcomp_indices, lambda g: (r(g, 3),))
case('gen_tuple', U.gen_tuple, lambda g: (r(g, 3),))
case('gen_list_builtin', U.gen_list_builtin, lambda g: (r(g, 3),))
case('gen_all_any', U.gen_all_any, lambda g: ([r(g, 3), r(g, 2)],))
case('gen_all_any_2d', U.gen_all_any, lambda g: ([r(g, 3), r(g, 2, 2)],))
case('gen_over_items', U.gen_over_items, lambda g: ({'a': r(g, 3), 'frozen': r(g, 3), 'c': r(g, 3)},
                                                    r(g, 3)), hvp=True)
case('gen_enumerate', U.gen_enumerate, lambda g: ([r(g, 3), r(g, 3), r(g, 3)], r(g, 3)))
case('listcomp_zip', U.listcomp_zip, lambda g: ([r(g, 3), r(g, 3)], [r(g, 3), 0.2], r(g, 3)))
case('listcomp_masked_vals', U.listcomp_masked_vals, lambda g: (r(g, 5), np.array([1., 0., 1., 0., 1.])))
case('nested_gen_cond', U.nested_gen_cond, lambda g: (r(g, 3, 3),))
case('listcomp_stack_rows', U.listcomp_stack_rows, lambda g: (r(g, 4, 3), r(g, 3)))
case('listcomp_stack_rows_w', U.listcomp_stack_rows, lambda g: (r(g, 4, 3), r(g, 3)), wrt=1)
case('gen_sum_helper', U.gen_sum_helper, lambda g: (r(g, 4),))
case('gen_with_walrus_outside', U.gen_with_walrus_outside, lambda g: (r(g, 4),))

# G. callables, defaults, partial
_SECOND_ORDER[0] = True
case('reduce_default', U.reduce_default, lambda g: (r(g, 4),))
case('reduce_passed_mean', U.reduce_default, lambda g: (r(g, 4), np.mean))
case('act_arg_sin', U.act_arg, lambda g: (r(g, 4), np.sin))
case('act_arg_user', U.act_arg, lambda g: (r(g, 4), U.softplus))
_cube = lambda z: z ** 3
case('act_arg_lambda', U.act_arg, lambda g: (r(g, 4), _cube))
case('act_arg_bound_method', U.act_arg, lambda g: (r(g, 4), U.Scaler(1.2).apply))
case('act_default', U.act_default, lambda g: (r(g, 4), r(g, 4)))
case('act_default_kw', U.act_default, lambda g: (r(g, 4), r(g, 4)), kw=lambda g: {'act': U.sigmoid})
case('helper_takes_fn', U.helper_takes_fn, lambda g: (r(g, 4),))
case('cfg_act', U.cfg_act, lambda g: ({'act': np.tanh, 'w': r(g, 4)}, r(g, 4)))
case('cfg_act_wrt_x', U.cfg_act, lambda g: ({'act': np.tanh, 'w': r(g, 4)}, r(g, 4)), wrt=1)
case('acts_tuple', U.acts_tuple, lambda g: (r(g, 4),))
case('zip_acts', U.zip_acts, lambda g: ([r(g, 4), r(g, 4)], r(g, 4)))
case('partial_module', U.partial_loss, lambda g: (r(g, 4),), hvp=False)
case('partial_module_hvp', U.partial_loss, lambda g: (r(g, 4),))
case('partial_direct', __import__('functools').partial(U._loss_c, c=-1.0), lambda g: (r(g, 4),), hvp=False)
case('partial_inside', U.partial_inside, lambda g: (r(g, 4),))
case('functools_partial_inside', U.functools_partial_inside, lambda g: (r(g, 4),))
case('bound_method_value', U.bound_method_value, args=lambda g: (r(g, 4), U.Scaler(1.2)))
case('item_method', U.item_method, lambda g: (r(g, 3),))   # x.item(): refused before s10
case('func_in_list_arg', U.func_in_list_arg, lambda g: ([np.sin, np.cos], r(g, 4)), wrt=1)
case('loop_over_fn_list', U.loop_over_fn_list, lambda g: ([np.sin, U.softplus, np.tanh], r(g, 4)), wrt=1)
case('ufunc_reduce', U.ufunc_reduce, lambda g: (r(g, 4),))

# H. primal-only statements, errstate, context managers, try (first order: they run in the primal)
_SECOND_ORDER[0] = False
case('with_errstate', U.with_errstate, lambda g: (np.abs(r(g, 4)) + 0.5,), hvp=True)
case('with_errstate_raise', U.with_errstate_raise, lambda g: (np.abs(r(g, 4)) + 0.5,))
case('with_timer', U.with_timer, lambda g: (r(g, 4),))
case('asserts', U.asserts, lambda g: (r(g, 4), r(g, 4)))
case('raise_in_branch_sum', U.raise_in_branch, lambda g: (r(g, 4),))
case('raise_in_branch_mean', U.raise_in_branch, lambda g: (r(g, 4), 'mean'))
case('raise_on_shape', U.raise_on_shape, lambda g: (r(g, 4, 3), r(g, 3)), wrt=1)
case('prints', U.prints, lambda g: (r(g, 4),))
case('logs', U.logs, lambda g: (r(g, 4),))
case('warns', U.warns, lambda g: (r(g, 4),))
case('fstring_not_used', U.fstring_not_used, lambda g: (r(g, 4),))
case('raise_in_loop', U.raise_in_loop, lambda g: (r(g, 4),))
case('try_keyerror_absent', U.try_keyerror, lambda g: ({'w': r(g, 3)}, r(g, 3)))
case('try_keyerror_present', U.try_keyerror, lambda g: ({'w': r(g, 3), 'b': 0.3}, r(g, 3)), hvp=True)
case('try_loop_keys', U.try_loop_keys, lambda g: ({'a': r(g, 3), 'c': 0.5}, r(g, 3)))
case('try_reraise', U.try_reraise, lambda g: (r(g, 4),))
case('try_import', U.try_import, lambda g: (r(g, 4),))

# I. items, zip, enumerate, slicing (first order)
_SECOND_ORDER[0] = False
case('items_weighted', U.items_weighted, lambda g: ({'a': r(g, 3), 'b': r(g, 3)}, {'a': 0.5, 'b': 2.0},
                                                    r(g, 3)))
case('items_weighted_wrt1', U.items_weighted, lambda g: ({'a': r(g, 3), 'b': r(g, 3)},
                                                         {'a': 0.5, 'b': 2.0}, r(g, 3)), wrt=1)
case('zip_items', U.zip_items, lambda g: ({'a': r(g, 3), 'b': r(g, 2)}, {'x': r(g, 3), 'y': r(g, 2)}), hvp=True)
case('enumerate_rows', U.enumerate_rows, lambda g: (r(g, 4, 3), r(g, 3)))
case('enumerate_rows_w', U.enumerate_rows, lambda g: (r(g, 4, 3), r(g, 3)), wrt=1)
case('zip_arrays', U.zip_arrays, lambda g: (r(g, 4), r(g, 4)))
case('zip_arrays_wrt1', U.zip_arrays, lambda g: (r(g, 4), r(g, 4)), wrt=1)
case('array_slices', U.array_slices, lambda g: (r(g, 6),), hvp=True)
case('fancy_index', U.fancy_index, lambda g: (r(g, 6), np.array([0, 2, 2, 5])))
case('reversed_loop', U.reversed_loop, lambda g: (r(g, 5),))
case('range_step_loop', U.range_step_loop, lambda g: (r(g, 6),))
case('nested_loops_matrix', U.nested_loops_matrix, lambda g: (r(g, 3, 3), r(g, 3)), hvp=True)
case('nested_loops_matrix_v', U.nested_loops_matrix, lambda g: (r(g, 3, 3), r(g, 3)), wrt=1)
case('column_loop', U.column_loop, lambda g: (r(g, 3, 4),))

# J. Python forms (first order, but for a few)
_SECOND_ORDER[0] = False
case('walrus_big', U.walrus, lambda g: (r(g, 4) + 1.0,), hvp=True)
case('walrus_small', U.walrus, lambda g: (0.1 * r(g, 4),))
case('walrus_expr', U.walrus_expr, lambda g: (r(g, 4),))
case('match_l2', U.match_penalty, lambda g: (r(g, 4),), hvp=True)
case('match_l1', U.match_penalty, lambda g: (r(g, 4), 'l1'))
case('match_abs_kw', U.match_penalty, lambda g: (r(g, 4),), kw=lambda g: {'kind': 'abs'})
case('match_default', U.match_penalty, lambda g: (r(g, 4), 'none'))
case('match_int_1', U.match_int, lambda g: (r(g, 4), 1))
case('match_int_2', U.match_int, lambda g: (r(g, 4),))
case('match_int_3', U.match_int, lambda g: (r(g, 4), 7))
case('star_args', U.star_args, lambda g: (r(g, 3), r(g, 3), r(g, 3)), hvp=True)
case('star_args_none', U.star_args, lambda g: (r(g, 3),))
case('star_args_wrt2', U.star_args, lambda g: (r(g, 3), r(g, 3), r(g, 3)), wrt=2)
case('star_args_index', U.star_args_index, lambda g: (r(g, 3), r(g, 3), r(g, 3)))
case('star_kwargs', U.star_kwargs, lambda g: (r(g, 3),), kw=lambda g: {'a': 0.5, 'b': 2.0})
case('kwargs_get_absent', U.kwargs_get, lambda g: (r(g, 3),))
case('kwargs_get_present', U.kwargs_get, lambda g: (r(g, 3),), kw=lambda g: {'scale': 3.0})
case('kwonly', U.kwonly, lambda g: (r(g, 3), r(g, 3)), hvp=True)
case('kwonly_given', U.kwonly, lambda g: (r(g, 3), r(g, 3)), kw=lambda g: {'lam': 0.5, 'power': 4})
case('kwonly_wrt_lam', U.kwonly,
     args=lambda g: (r(g, 3), r(g, 3)), kw=lambda g: {'lam': 0.5}, wrt='lam', hvp=True)
case('kwonly_required', U.kwonly_required, lambda g: (r(g, 3),), kw=lambda g: {'x': r(g, 3)})
case('kwonly_required_wrt_x', U.kwonly_required, lambda g: (r(g, 3),), kw=lambda g: {'x': r(g, 3)},
     wrt='x', hvp=True)
case('forward_kwargs', U.forward_kwargs, lambda g: (r(g, 3),), kw=lambda g: {'a': 2.0, 'b': -1.0})
case('star_call_tuple', U.star_call_tuple, lambda g: (r(g, 3),))
case('chained_cmp', U.chained_cmp, lambda g: (np.array([-1.7, -0.4, 0.3, 0.8, 1.6]),))
case('del_name', U.del_name, lambda g: (r(g, 3),))
case('global_read', U.global_read, lambda g: (r(g, 3),))
case('global_tuple', U.global_tuple, lambda g: (r(g, 3),))
case('global_dict', U.global_dict, lambda g: (r(g, 3),))
case('local_import', U.local_import, lambda g: (r(g, 3),))
case('math_scalar', U.math_scalar, lambda g: (0.7, -1.3), hvp=True)
case('math_scalar_wrt_b', U.math_scalar, lambda g: (0.7, -1.3), wrt=1)
case('ternary', U.ternary, lambda g: (r(g, 3),))
case('ternary_flip', U.ternary, lambda g: (r(g, 3), True))
case('ternary_on_data_pos', U.ternary_on_data, lambda g: (np.array([0.5, 1.0, -0.2]),))
case('ternary_on_data_neg', U.ternary_on_data, lambda g: (np.array([-0.5, 1.0, -0.9]),))
case('augmented_scalars', U.augmented_scalars, lambda g: (r(g, 3),))
case('int_arg_unused', U.int_arg_unused, lambda g: (r(g, 3), 3))
case('early_return_loop', U.early_return_loop, lambda g: (r(g, 4),))
case('early_return_loop_taken', U.early_return_loop, lambda g: (np.array([1.0, 11.0, 2.0]),))

# K. while/break, in-place, spellings
_SECOND_ORDER[0] = True
case('while_break', U.while_break, lambda g: (r(g, 4),))
case('while_cond', U.while_cond, lambda g: (r(g, 4),))
case('while_data_cond', U.while_data_cond, lambda g: (r(g, 4),))
case('for_continue', U.for_continue, lambda g: (r(g, 4),))
case('inplace_index', U.inplace_index, lambda g: (r(g, 4),))
case('inplace_plus', U.inplace_plus, lambda g: (r(g, 4), r(g, 4)))
case('inplace_plus_w', U.inplace_plus, lambda g: (r(g, 4), r(g, 4)), wrt=1)
case('inplace_col', U.inplace_col, lambda g: (r(g, 3, 3),))
case('inplace_copy_arg', U.inplace_copy_arg, lambda g: (r(g, 4),))
case('mutate_own_arg', U.mutate_own_arg, lambda g: (r(g, 4),))
case('append_then_array', U.append_then_array, lambda g: (r(g, 3),))
case('matmul_spellings', U.matmul_spellings, lambda g: (r(g, 3, 3), r(g, 3)))
case('matmul_spellings_x', U.matmul_spellings, lambda g: (r(g, 3, 3), r(g, 3)), wrt=1, hvp=False)
case('einsum_quad', U.einsum_quad, lambda g: (r(g, 3, 3), r(g, 3)), wrt=(0, 1), hvp=False)
case('outer_trace', U.outer_trace, lambda g: (r(g, 3), r(g, 3)))
case('where_clip', U.where_clip, lambda g: (np.array([-1.3, -0.2, 0.3, 0.9, 1.4]),))
case('maximum_relu', U.maximum_relu, lambda g: (np.array([-1.3, -0.2, 0.3, 0.9]), np.array([1.0, 2.0, 0.5, 1.5])))
case('norm_loss', U.norm_loss, lambda g: (r(g, 4),))
case('solve_loss', U.solve_loss, lambda g: (np.eye(3) * 3.0 + r(g, 3, 3) * 0.3, r(g, 3)))
case('solve_loss_b', U.solve_loss, lambda g: (np.eye(3) * 3.0 + r(g, 3, 3) * 0.3, r(g, 3)), wrt=1)
case('logsumexp_manual', U.logsumexp_manual, lambda g: (r(g, 5),))
case('reshape_T', U.reshape_T, lambda g: (r(g, 6),))
case('cumsum_diff', U.cumsum_diff, lambda g: (r(g, 5),))
case('concat_stack', U.concat_stack, lambda g: (r(g, 3), r(g, 2)), wrt=(0, 1), hvp=False)
case('scipy_special', U.scipy_special, lambda g: (r(g, 4),))
case('float_args', U.float_args, lambda g: (0.7, 1.3))
case('float_args_wrt_both', U.float_args, lambda g: (0.7, 1.3), wrt=(0, 1), hvp=False)
case('float_and_array', U.float_and_array, lambda g: (0.4, r(g, 4)))
case('np_float_scalar', U.np_float_scalar, lambda g: (np.float64(0.4), r(g, 4)))
case('mean_axis', U.mean_axis, lambda g: (r(g, 3, 4),))
case('std_var', U.std_var, lambda g: (r(g, 5),))
case('prod_loss', U.prod_loss, lambda g: (r(g, 5),))
case('sort_loss', U.sort_loss, lambda g: (r(g, 5),))
case('abs_loss', U.abs_loss, lambda g: (np.array([-1.2, 0.4, 0.9, -0.3]),))
case('max_scalar', U.max_scalar, lambda g: (0.7, -0.4))
case('max_scalar_b', U.max_scalar, lambda g: (0.7, -0.4), wrt=1)
case('power_array_exponent', U.power_array_exponent, lambda g: (np.abs(r(g, 4)) + 0.5, r(g, 4)),
     wrt=(0, 1), hvp=False)
case('broadcasting', U.broadcasting, lambda g: (r(g, 3, 2), r(g, 2)), wrt=(0, 1), hvp=False)
case('astype_int', U.astype_int, lambda g: (np.array([0.3, 1.6, 2.2, -1.4]),))
case('simulate_ode', U.simulate_ode, lambda g: (2.0, 1.0))
case('simulate_ode_x0', U.simulate_ode, lambda g: (2.0, 1.0), wrt=1, hvp=False)
case('gauss_newton_like', U.gauss_newton_like, lambda g: (np.array([1.5, 0.7]), np.linspace(0, 2, 6),
                                                          r(g, 6)))

# helper-returned containers
case('helper_returns_dict', U.helper_returns_dict, lambda g: ({'W': r(g, 3, 2), 'v': r(g, 2)}, r(g, 4, 3)))
case('helper_returns_nt', U.helper_returns_nt, lambda g: (r(g, 4),))
case('helper_returns_tuple', U.helper_returns_tuple, lambda g: (r(g, 4),))


# O. scoping and evaluation-order traps (added after the first run; first order but for a few)
_SECOND_ORDER[0] = False
_W2 = lambda g: [r(g, 3, 3, scale=0.5), r(g, 3, 3, scale=0.5)]
case('comp_var_no_leak', U.comp_var_no_leak, lambda g: (r(g, 3),))
case('listcomp_var_no_leak', U.listcomp_var_no_leak, lambda g: (r(g, 3),))
case('lambda_param_shadows', U.lambda_param_shadows, lambda g: (r(g, 3),))
case('nested_def_local_shadows', U.nested_def_local_shadows, lambda g: (r(g, 3),))
case('helper_locals_shadow', U.helper_locals_shadow, lambda g: (r(g, 3),))
case('parallel_assign_rev', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)), fwd=False, hvp=False)
case('parallel_assign_rev_y', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)), wrt=1, fwd=False, hvp=False)
case('parallel_assign_hvp', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)), fwd=False, hvp=True)
case('parallel_assign_fwd', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)))
case('parallel_assign_once', U.parallel_assign_once, lambda g: (r(g, 3), r(g, 3)), hvp=True)
case('parallel_assign_both', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)), wrt=(0, 1), hvp=False)
case('loop_swap_roles_fwd', U.loop_swap_roles, lambda g: (r(g, 3), r(g, 3)))
case('loop_swap_roles_rev', U.loop_swap_roles, lambda g: (r(g, 3), r(g, 3)), fwd=False, hvp=False)
case('loop_nonwrt_becomes_active_fwd', U.loop_nonwrt_becomes_active, lambda g: (r(g, 3), r(g, 3)),
     wrt=1)
case('swap', U.swap, lambda g: (r(g, 3), r(g, 3)), hvp=True)
case('repeated_index_add', U.repeated_index_add, lambda g: (r(g, 3),))
case('mask_assign', U.mask_assign, lambda g: (np.array([0.3, -0.5, 1.2, -0.8]),))
case('neg_step', U.neg_step, lambda g: (r(g, 5),))
case('float_cast', U.float_cast, lambda g: (r(g, 3),))
case('mod_floordiv', U.mod_floordiv, lambda g: (np.array([0.35, -0.45, 1.25]),))
case('methods_spelling', U.methods_spelling, lambda g: (np.array([[0.3, -0.5], [1.2, 0.7], [0.4, -0.9]]),))
case('np_sum_of_list', U.np_sum_of_list, lambda g: (r(g, 3), r(g, 3)))
case('builtin_abs_pow_round', U.builtin_abs_pow_round, lambda g: (np.array([0.3, -0.5, 1.2]),))
case('enumerate_zip_unpack', U.enumerate_zip_unpack, lambda g: (_W2(g), [r(g, 3), 0.2], r(g, 3)), hvp=False)
case('enumerate_zip_unpack_bs', U.enumerate_zip_unpack, lambda g: (_W2(g), [r(g, 3), 0.2], r(g, 3)), wrt=1)
case('reversed_layers', U.reversed_layers, lambda g: ([r(g, 3), r(g, 3), r(g, 3)], r(g, 3)))
case('default_from_global', U.default_from_global, lambda g: (r(g, 3),))
case('helper_twice_dict', U.helper_twice_dict, lambda g: ({'W': r(g, 3, 2), 'v': r(g, 2)}, r(g, 4, 3)), hvp=False)
case('shape_branch_2d', U.shape_branch, lambda g: (r(g, 2, 3),))
case('shape_branch_1d', U.shape_branch, lambda g: (r(g, 3),))
case('loop_carried_list', U.loop_carried_list, lambda g: (r(g, 3),), hvp=True)
case('inplace_loop_prev', U.inplace_loop_prev, lambda g: (r(g, 4),), hvp=False)
case('where_scalar', U.where_scalar, lambda g: (np.array([0.3, -0.5, 1.2]),))
case('norm_axis', U.norm_axis, lambda g: (r(g, 3, 2),), hvp=True)
case('asarray_copy', U.asarray_copy, lambda g: (r(g, 3),))
case('loop_over_array_rows_append', U.loop_over_array_rows_append, lambda g: (r(g, 3, 2),))
case('zip_star', U.zip_star, lambda g: ([(r(g, 3), r(g, 3)), (r(g, 3), r(g, 3))],))
case('dict_of_lists', U.dict_of_lists, lambda g: ({'ws': [r(g, 3), r(g, 3)], 'scale': 0.7}, r(g, 3)))
case('update_same_name', U.update_same_name, lambda g: (r(g, 3),))
case('generator_cond_on_values', U.generator_cond_on_values, lambda g: (np.array([0.3, -0.5, 1.2]),))
case('nested_helper_default_callable', U.nested_helper_default_callable, lambda g: (r(g, 3),))
case('conditional_accum_dict', U.conditional_accum_dict, lambda g: ({'w': r(g, 3)}, r(g, 3)))
case('int_float_mix', U.int_float_mix, lambda g: (r(g, 3), 3))
case('tuple_int_leaf', U.tuple_of_floats, lambda g: ((1, 2.0, 3), r(g, 3)))
case('list_int_leaf', U.isinstance_float_leaf, lambda g: ([0.5, r(g, 3), 2], r(g, 3)))
case('nt_int_leaf', U.nt_floats, lambda g: (U.Params3(1, 2.0, 0.5), r(g, 3)))
case('dc_int_leaf', U.dc_config, lambda g: (U.Config(1, 0.5), r(g, 3)))
# documented as refused (docs/errors.md, README), but differentiated, and right:
case('break_over_container_early', U.bad_break_over_container,
     lambda g: ([np.full(3, 0.5), np.full(3, 0.2), np.ones(3)], np.full(3, 0.5)))
case('break_over_container_late', U.bad_break_over_container,
     lambda g: ([np.full(3, 0.1), np.full(3, 0.2), np.ones(3)], np.full(3, 0.5)))
case('break_over_container_x', U.bad_break_over_container,
     lambda g: ([np.full(3, 0.5), np.full(3, 0.2), np.ones(3)], np.full(3, 0.5)), wrt=1)
case('attr_assign_in_function', U.bad_attr_assign, lambda g: (_mlp(g), r(g, 3)))
case('yield_in_unused_nested_def', U.bad_yield_gen, lambda g: (r(g, 3),))
case('float32_array', U.nested_def, lambda g: (r(g, 3).astype(np.float32),), fwd=False, hvp=False)

# P. srcad's derivatives inside the function, checkpointing, hooks
_SECOND_ORDER[0] = True
case('grad_norm_penalty', U.grad_norm_penalty, lambda g: (r(g, 3),))
case('grad_wrt1_inside', U.grad_wrt1_inside, lambda g: (r(g, 3), r(g, 3)))
case('grad_wrt1_inside_y', U.grad_wrt1_inside, lambda g: (r(g, 3), r(g, 3)), wrt=1, hvp=False)
case('value_and_grad_inside', U.value_and_grad_inside, lambda g: (r(g, 3),), hvp=False)
case('gradient_descent_unrolled', U.gradient_descent_unrolled, lambda g: (r(g, 3), 0.1), hvp=False)
case('gradient_descent_unrolled_lr', U.gradient_descent_unrolled, lambda g: (r(g, 3), 0.1), wrt=1, hvp=False)
case('two_returns_dict_vs_loop', U.two_returns_dict_vs_loop, lambda g: ({'w': r(g, 3), 'v': r(g, 3)}, r(g, 3)))
_CK = {'checkpoint': True}
case('ck_rnn_dict', U.rnn_dict, lambda g: ({'Wh': r(g, 3, 3, scale=0.5), 'Wx': r(g, 3, 2), 'b': r(g, 3)},
                                           r(g, 7, 2)), opts=_CK)
case('ck_rnn_dict_xs', U.rnn_dict, lambda g: ({'Wh': r(g, 3, 3, scale=0.5), 'Wx': r(g, 3, 2), 'b': r(g, 3)},
                                              r(g, 7, 2)), wrt=1, opts={'checkpoint': 3}, hvp=False)
case('ck_simulate_ode', U.simulate_ode, lambda g: (2.0, 1.0), opts=_CK, hvp=False)
case('ck_while_break', U.while_break, lambda g: (r(g, 5),), opts=_CK, hvp=False)
case('ck_while_data_cond', U.while_data_cond, lambda g: (5.0 * r(g, 4),), opts=_CK, hvp=False)
case('ck_gru_like', U.gru_like, lambda g: ({k: r(g, 3, 2 if k[0] == 'W' else 3, scale=0.5)
                                            for k in ('Wz', 'Uz', 'Wc', 'Uc')}, r(g, 6, 2)), opts=_CK, hvp=False)
case('ck_parallel_assign', U.parallel_assign, lambda g: (r(g, 3), r(g, 3)), fwd=False, hvp=False, opts=_CK)
case('ck_mlp_layers', U.mlp_layers, lambda g: ({
    'W1': r(g, 3, 4, scale=0.5), 'b1': r(g, 4),
    'layers': [{'W': r(g, 4, 4, scale=0.5), 'b': r(g, 4)} for _ in range(3)], 'out': r(g, 4)},) + data(g),
    opts=_CK, hvp=False)
case('ck_for_continue', U.for_continue, lambda g: (r(g, 5),), opts={'checkpoint': 2}, hvp=False)
# Q. a non-wrt argument (an initial state) that a loop makes active
_rnn_args = lambda g: (r(g, 3, 3, scale=0.5), r(g, 3), r(g, 4, 3))
case('rnn_h0_rev', U.rnn_h0, _rnn_args, fwd=False, hvp=False)
case('rnn_h0_fwd', U.rnn_h0, _rnn_args, hvp=False)
case('rnn_h0_hvp', U.rnn_h0, _rnn_args, fwd=False)
case('rnn_h0_wrt_h', U.rnn_h0, _rnn_args, wrt=1)
case('rnn_h0_wrt_both', U.rnn_h0, _rnn_args, wrt=(0, 1))
case('accumulate_into_arg_rev', U.accumulate_into_arg, lambda g: (r(g, 3), r(g, 3)), fwd=False, hvp=False)
case('accumulate_into_arg_fwd', U.accumulate_into_arg, lambda g: (r(g, 3), r(g, 3)))
case('power_iteration_rev', U.power_iteration_like, lambda g: (np.diag([3.0, 1.0, 0.5]) + r(g, 3, 3, scale=0.1),
                                                               r(g, 3)), fwd=False, hvp=False)
case('power_iteration_hvp', U.power_iteration_like, lambda g: (np.diag([3.0, 1.0, 0.5]) + r(g, 3, 3, scale=0.1),
                                                               r(g, 3)), fwd=False)

# R. randomness, nested objects, array defaults
case('dropout_seeded', U.dropout_seeded, lambda g: (r(g, 4),))
case('noise_seeded', U.noise_seeded, lambda g: (r(g, 4),))
case('randn_star_shape', U.legacy_random, lambda g: (r(g, 4),))
case('array_default', U.array_default, lambda g: (r(g, 3),))
case('array_default_passed_wrt', U.array_default, lambda g: (r(g, 3), r(g, 3)), wrt=1)
_l1 = lambda g: U.Layer(r(g, 3, 4, scale=0.5), r(g, 4))
case('nested_objects', U.twolayer_loss, lambda g: (U.TwoLayer(_l1(g), U.Layer(r(g, 4, 1), 0.2)),) + data(g))
case('nested_objects_X', U.twolayer_loss, lambda g: (U.TwoLayer(_l1(g), U.Layer(r(g, 4, 1), 0.2)),) + data(g),
     wrt=1)
case('object_list_call', U.stack_loss, lambda g: (U.Stack([_l1(g), U.Layer(r(g, 4, 2), r(g, 2))]), r(g, 5, 3)))
case('object_list_call_X', U.stack_loss, lambda g: (U.Stack([_l1(g), U.Layer(r(g, 4, 2), r(g, 2))]),
                                                    r(g, 5, 3)), wrt=1)

case('ignores_params', U.ignores_params, lambda g: ({'a': r(g, 2), 'b': 0.5}, r(g, 2)), fwd=True)
case('ignores_params_first_order', U.ignores_params, lambda g: ({'a': r(g, 2), 'b': 0.5}, r(g, 2)), hvp=False)
case('ignores_list_param', U.ignores_params, lambda g: ([r(g, 2), r(g, 2)], r(g, 2)))
case('ternary_in_check_absent', U.ternary_in_check, lambda g: ({'a': r(g, 2), 'b': 0.5}, r(g, 2)),
     hvp=True)
case('str_key_argument', U.bad_runtime_key, lambda g: ({'a': r(g, 2), 'b': r(g, 2)}, r(g, 2), 'b'),
     hvp=True)      # a str argument is a constant of the build: p[key] is p['b']
case('ternary_in_check_present', U.ternary_in_check, lambda g: ({'a': r(g, 2), 'c': r(g, 2)}, r(g, 2)))

# S. classes: inheritance, class attributes, static methods, dataclass methods
_W32 = lambda g: r(g, 3, 2, scale=0.5)
case('class_attribute', U.Base.loss, lambda g: (U.Base(_W32(g)), r(g, 4, 3)))
case('class_attribute_sub', U.Base.loss, lambda g: (U.Sub(_W32(g)), r(g, 4, 3)))
case('super_call', U.SubSuper.loss, lambda g: (U.SubSuper(_W32(g)), r(g, 4, 3)), wrt=1)
case('staticmethod_via_self', U.WithStatic.loss, lambda g: (U.WithStatic(r(g, 3)), r(g, 3)))
case('classmethod_via_self', U.WithClassmethod.loss, lambda g: (U.WithClassmethod(r(g, 3)), r(g, 3)))
case('inherited_method_base', U.Base2.loss, lambda g: (U.Base2(_W32(g)), r(g, 4, 3)))
case('inherited_method_sub', U.Base2.loss, lambda g: (U.Sub2(_W32(g)), r(g, 4, 3)))
case('inherited_method_sub_x', U.base2_helper, lambda g: (U.Sub2(_W32(g)), r(g, 4, 3)), wrt=1)
case('dataclass_call_property', U.dlin_loss, lambda g: (U.DLin(_W32(g), 0.3), r(g, 4, 3)))
case('dataclass_call_property_x', U.dlin_loss, lambda g: (U.DLin(_W32(g), 0.3), r(g, 4, 3)), wrt=1)

# T. library functions users reach for (second order for a few)
_SECOND_ORDER[0] = False
_A3 = lambda g: r(g, 3, 3) + 2.0 * np.eye(3)
case('lib_prod_cumprod', U.lib_prod_zero, lambda g: (np.array([0.5, -1.5, 2.0, 0.7]),), hvp=True)
case('lib_prod_one_zero', U.lib_prod_zero, lambda g: (np.array([0.5, 0.0, 2.0, 0.7]),), hvp=True)
case('lib_prod_two_zeros_first_order', U.lib_prod, lambda g: (np.array([0.5, 0.0, 2.0, 0.0]),), hvp=False)
case('lib_prod_two_zeros_hvp', U.lib_prod, lambda g: (np.array([0.5, 0.0, 2.0, 0.0]),), hvp=True)
case('lib_cumprod_two_zeros_first_order', U.lib_cumprod, lambda g: (np.array([0.5, 0.0, 2.0, 0.0]),),
     hvp=False)
case('lib_cumprod_two_zeros_hvp', U.lib_cumprod, lambda g: (np.array([0.5, 0.0, 2.0, 0.0]),), hvp=True)
case('lib_det', U.lib_det, lambda g: (_A3(g),), hvp=True)
case('lib_slogdet', U.lib_slogdet, lambda g: (_A3(g),))
case('lib_inv_trace', U.lib_inv_trace, lambda g: (_A3(g),))
case('lib_eigh', U.lib_eigh, lambda g: (_A3(g),), hvp=True)
case('lib_svd', U.lib_svd, lambda g: (r(g, 4, 3),), hvp=True)
case('lib_qr', U.lib_qr, lambda g: (r(g, 4, 3),), hvp=False)
case('lib_lstsq_star_target', U.lib_lstsq, lambda g: (r(g, 5, 3), r(g, 5)))
case('lib_norms_first_order', U.lib_norms, lambda g: (r(g, 3, 4),), hvp=False)
case('lib_norm1_hvp', U.lib_norm1, lambda g: (r(g, 3, 4),), fwd=False, hvp=True)
case('lib_shapes', U.lib_shapes, lambda g: (r(g, 6),), hvp=False)
case('lib_take_along', U.lib_take_along, lambda g: (r(g, 4, 3),))
case('lib_average', U.lib_average, lambda g: (r(g, 5), g.random(5) + 0.5))
case('lib_average_w', U.lib_average, lambda g: (r(g, 5), g.random(5) + 0.5), wrt=1, hvp=False)
case('lib_special', U.lib_special, lambda g: (r(g, 4), r(g, 4)), wrt=(0, 1))
case('lib_scipy', U.lib_scipy, lambda g: (g.random(6) + 0.5,), hvp=True)
case('lib_max_axis', U.lib_max_axis, lambda g: (r(g, 3, 4),))
case('lib_einsum_batch', U.lib_einsum_batch, lambda g: (r(g, 2, 3, 3), r(g, 2, 3, 2)), wrt=(0, 1))
case('lib_solve_triangular', U.lib_solve_triangular, lambda g: (r(g, 3, 3), r(g, 3)), hvp=False)
case('lib_expm', U.lib_expm, lambda g: (r(g, 3, 3),), hvp=False)
case('lib_interp_sort_median', U.lib_interp_sort_median, lambda g: (np.array([0.5, -0.3, 0.9, 0.2, -0.8]),), hvp=False)


def _wrt_items(w):
    return w if isinstance(w, tuple) else (w,)


@pytest.mark.parametrize('c', [c.param() for c in CASES])
def test_program(c):
    rng = np.random.default_rng(abs(hash(c.id)) % (2 ** 32))
    args = tuple(c.args(rng))
    kw = c.kw(rng) if c.kw else {}
    before_args, before_kw = copy.deepcopy(args), copy.deepcopy(kw)
    items = _wrt_items(c.wrt)
    fds = [fd_grad(c.fn, args, kw, w) for w in items]
    xs = [get_wrt(c.fn, args, kw, w)[0](args, kw) for w in items]

    # reverse mode
    opts = c.opts or {}
    g = srcad.grad(c.fn, wrt=c.wrt, **opts)(*args, **kw)
    assert tree_equal(args, before_args) and tree_equal(kw, before_kw), "grad mutated its arguments"
    gs = g if isinstance(c.wrt, tuple) else (g,)
    assert isinstance(gs, tuple) and len(gs) == len(items)
    for gi, fd, x, w in zip(gs, fds, xs, items):
        assert_tree_close(gi, fd, x, f"grad wrt {w!r}")

    # forward mode: <fd, t>
    if c.fwd:
        ts = [random_like(x, rng) for x in xs]
        jv = srcad.autodiff(c.fn, mode='forward', wrt=c.wrt)(*args, *ts, **kw)
        assert tree_equal(args, before_args), "forward mode mutated its arguments"
        want = sum(tree_vdot(fd, t) for fd, t in zip(fds, ts))
        np.testing.assert_allclose(float(jv), want, rtol=RTOL, atol=ATOL, err_msg="forward JVP")

    # second order: hvp against finite differences of the gradient
    if c.hvp and not isinstance(c.wrt, tuple):
        x = xs[0]
        v = random_like(x, rng)
        get, put = get_wrt(c.fn, args, kw, c.wrt)
        hv = srcad.hvp(c.fn, wrt=c.wrt, **opts)(*args, v, **kw)
        assert tree_equal(args, before_args), "hvp mutated its arguments"
        df = srcad.grad(c.fn, wrt=c.wrt)
        e = 1e-5
        ap, kp = put(args, kw, _axpy(x, v, e))
        am, km = put(args, kw, _axpy(x, v, -e))
        gp = df(*copy.deepcopy(ap), **copy.deepcopy(kp))
        gm = df(*copy.deepcopy(am), **copy.deepcopy(km))
        fdh = _combine(gp, gm, e, x)
        assert_tree_close(hv, fdh, x, "hvp", rtol=1e-5, atol=1e-6)


def _combine(gp, gm, e, x):
    ch = children(x)
    if ch is None:
        if not _is_float_leaf(x):
            return None
        return (np.asarray(gp, float) - np.asarray(gm, float)) / (2 * e) if isinstance(x, np.ndarray) \
            else float((gp - gm) / (2 * e))
    cp, cm = children(gp), children(gm)
    return rebuild(x, [_combine(a, b, e, xx) for (_, a), (_, b), (_, xx) in zip(cp, cm, ch)])


# -- container outputs ------------------------------------------------------------------------

def fd_jvp(fn, args, w, t, eps=EPS):
    """(f(x + eps t) - f(x - eps t)) / 2 eps, leaf by leaf of f's output."""
    get, put = get_wrt(fn, args, {}, w)
    x = get(args, {})
    ap, _ = put(args, {}, _axpy(x, t, eps))
    am, _ = put(args, {}, _axpy(x, t, -eps))
    fp, fm = fn(*copy.deepcopy(ap)), fn(*copy.deepcopy(am))
    return _out_diff(fp, fm, eps)


def _out_diff(a, b, eps):
    ch = children(a)
    if ch is None:
        if isinstance(a, np.ndarray):
            return (a - b) / (2 * eps)
        return float((a - b) / (2 * eps))
    return rebuild(a, [_out_diff(x, y, eps) for (_, x), (_, y) in zip(ch, children(b))])


OUT_CASES = [
    ('sgd_step', U.sgd_step, lambda g: ({'W': r(g, 2, 3), 'b': r(g, 3), 's': 0.4},)),
    ('stats_nt', U.stats_nt, lambda g: (r(g, 4),)),
    ('out_dc', U.out_dc, lambda g: (r(g, 4),)),
    ('tuple_out', U.tuple_out, lambda g: (r(g, 4),)),
    ('dict_out', U.dict_out, lambda g: (r(g, 4), r(g, 4))),
    ('dict_out_wrt_w', lambda x, w: U.dict_out(w, x), lambda g: (r(g, 4), r(g, 4))),
    ('nested_out', U.nested_out, lambda g: (r(g, 3),)),
    ('vec_out', U.vec_out, lambda g: (r(g, 3),)),
]


@pytest.mark.parametrize('name,fn,make', OUT_CASES, ids=[(c.values if hasattr(c, 'marks') else c)[0] for c in OUT_CASES])
def test_container_output(name, fn, make):
    rng = np.random.default_rng(len(name))
    args = make(rng)
    before = copy.deepcopy(args)
    x = args[0]
    t = random_like(x, rng)
    value = fn(*copy.deepcopy(args))
    want_t = fd_jvp(fn, args, 0, t)
    # jvp: value and tangent with the output's structure
    v, jt = srcad.jvp(fn, args, (t,), wrt=0)
    assert_tree_close(v, value, value, 'jvp value')
    assert_tree_close(jt, want_t, value, 'jvp tangent')
    # the forward autodiff
    jt2 = srcad.autodiff(fn, mode='forward')(*args, t)
    assert_tree_close(jt2, want_t, value, 'forward autodiff tangent')
    # vjp: <J^T s, t> == <s, J t>, the cotangent with the argument's structure
    s = random_like(value, rng)
    v2, pull = srcad.vjp(fn, *args)
    ct = pull(s)
    assert_tree_close(v2, value, value, 'vjp value')
    ct0 = ct[0] if isinstance(ct, tuple) and not isinstance(x, tuple) else ct
    assert_tree_close(ct0, tree_map(lambda z: z, ct0), x, 'vjp cotangent structure')
    np.testing.assert_allclose(tree_vdot(ct0, t), tree_vdot(s, want_t), rtol=RTOL, atol=ATOL)
    # reverse autodiff with a seed of the output's structure
    ct2 = srcad.autodiff(fn)(*args, seed=s)
    assert_tree_close(ct2, ct0, x, 'autodiff(seed=...)')
    assert tree_equal(args, before)


def test_container_output_jacobian():
    rng = np.random.default_rng(3)
    x = r(rng, 3)
    J = srcad.jacobian(U.dict_out)(x, r(rng, 3))
    assert set(J) == {'h', 'n'} and J['h'].shape == (3, 3) and np.shape(J['n']) == (3,)
    w = np.array([0.5, -0.2, 0.9])
    J = srcad.jacobian(U.dict_out)(x, w)
    np.testing.assert_allclose(J['h'], np.diag(w * (1 - np.tanh(x * w) ** 2)), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(J['n'], np.zeros(3), atol=ATOL)
    Js = srcad.jacobian(U.stats_nt)(x)
    assert type(Js) is U.Stats
    np.testing.assert_allclose(Js.mean, np.full(3, 1 / 3), rtol=RTOL)
    np.testing.assert_allclose(Js.sq, 2 * x, rtol=RTOL)


def test_container_output_bad_seed_is_located():
    x = np.array([0.3, -0.5, 1.2])
    with pytest.raises(srcad.SrcadError) as err:
        srcad.autodiff(U.stats_nt)(x, seed=np.ones(3))
    assert CORPUS_FILE in str(err.value)


# -- helper-returned containers, attributes read at call time, repeated calls -------------------

def test_bound_method_reads_attributes_at_call_time():
    rng = np.random.default_rng(5)
    m = _mlp(rng)
    X, y = data(rng)
    dl = srcad.grad(m.loss)
    fw = srcad.autodiff(m.loss, mode='forward')
    t = r(rng, *X.shape)
    for change in (None, 'W1', 'act', 'W2'):
        if change == 'W1':
            m.W1 = m.W1 * 2.0
        elif change == 'act':
            m.act = np.sin
        elif change == 'W2':
            m.W2 = -m.W2
        fd = fd_grad(m.loss, (X, y), {}, 0)
        assert_tree_close(dl(X, y), fd, X, f'after {change}')
        np.testing.assert_allclose(float(fw(X, y, t)), tree_vdot(fd, t), rtol=RTOL, atol=ATOL)


def test_unbound_method_gradient_is_a_model():
    rng = np.random.default_rng(6)
    m = _mlp(rng)
    X, y = data(rng)
    g = srcad.grad(U.MLP.loss)(m, X, y)
    assert type(g) is U.MLP
    fd = fd_grad(U.MLP.loss, (m, X, y), {}, 0)
    for k in ('W1', 'b1', 'W2'):
        np.testing.assert_allclose(getattr(g, k), getattr(fd, k), rtol=RTOL, atol=ATOL)


def test_global_read_at_call_time():
    x = np.array([0.3, -0.5, 1.2])
    dg = srcad.grad(U.global_read)
    old = U.SCALE
    try:
        for s in (0.5, 2.5, -1.0):
            U.SCALE = s
            np.testing.assert_allclose(dg(x), 2 * s * x, rtol=RTOL)
    finally:
        U.SCALE = old


SEQUENCES = [
    ('match_kinds', U.match_penalty, [('l1',), ('l2',), ('abs',), ('zz',), ()]),
    ('match_ints', U.match_int, [(1,), (2,), (3,), (1,)]),
    ('mode_strings', U.raise_in_branch, [('mean',), ('sum',), ('mean',)]),
    ('flip_bool', U.ternary, [(True,), (False,), (True,)]),
    ('int_power', U.int_arg_unused, [(3,), (2,), (4,)]),
    ('act_functions', U.act_arg, [(np.sin,), (np.tanh,), (U.softplus,)]),
    ('reduce_functions', U.reduce_default, [(), (np.mean,), ()]),
    ('star_args_lengths', U.star_args, [(np.ones(4),), (np.ones(4), np.arange(4.0)), ()]),
]


@pytest.mark.parametrize('name,fn,rests', SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_one_derivative_many_static_values(name, fn, rests):
    """The same derivative object called with other non-differentiated values (strings,
    ints, bools, functions, lengths): each call must follow its own branch."""
    x = np.array([0.3, -0.5, 1.2, 0.8])
    df = srcad.grad(fn)
    fw = srcad.autodiff(fn, mode='forward')
    t = np.array([0.1, 0.7, -0.4, 0.2])
    for rest in rests:
        args = (x,) + tuple(rest)
        fd = fd_grad(fn, args, {}, 0)
        assert_tree_close(df(*args), fd, x, f'{name} {rest}')
        if not (fn is U.star_args):
            np.testing.assert_allclose(float(fw(*args, t)), float(fd @ t), rtol=RTOL, atol=ATOL)


STRUCT_SEQUENCES = [
    ('in_check', U.mlp_in_check, [({'W': 0.1 * np.ones((4, 2)), 'b': np.ones(2)}, 0.3 * np.ones((3, 4))),
                                  ({'W': 0.1 * np.ones((4, 2))}, 0.3 * np.ones((3, 4))),
                                  ({'W': 0.2 * np.ones((4, 2)), 'b': 0.5}, 0.3 * np.ones((3, 4)))]),
    ('key_order', U.key_filter, [({'w1': np.arange(3.0), 'bias': np.ones(3)}, np.ones(3) * 0.2),
                                 ({'bias': np.ones(3), 'w1': np.arange(3.0)}, np.ones(3) * 0.2)]),
    ('list_lengths', U.list_len_loop, [([np.ones(3), np.arange(3.0)], np.ones(3) * 0.3),
                                       ([np.ones(3)] * 3, np.ones(3) * 0.3), ([np.ones(3)], np.ones(3))]),
    ('float_then_array_leaf', U.float_bias, [({'w': np.ones(4) * 0.1, 'b': 0.5}, np.ones((2, 4))),
                                             ({'w': np.ones(4) * 0.1, 'b': np.array([0.5, -0.5])},
                                              np.ones((2, 4)))]),
    ('aliased_leaves', U.dict_literal_inside, [({'a': np.arange(3.0), 'b': np.arange(3.0)}, np.ones(3)),
                                               ({'a': np.arange(3.0), 'b': np.ones(3)}, np.ones(3))]),
]


@pytest.mark.parametrize('name,fn,argsets', STRUCT_SEQUENCES, ids=[s[0] for s in STRUCT_SEQUENCES])
def test_one_derivative_many_structures(name, fn, argsets):
    df = srcad.grad(fn)
    for args in argsets:
        fd = fd_grad(fn, args, {}, 0)
        assert_tree_close(df(*args), fd, args[0], f'{name}')


def test_same_array_passed_twice():
    x = np.array([0.3, -0.5, 1.2])
    for w in (0, 1):
        assert_tree_close(srcad.grad(U.two_arg, wrt=w)(x, x), fd_grad(U.two_arg, (x, x), {}, w), x, 'alias')
    ls = [x, x, x]
    assert_tree_close(srcad.grad(U.enumerate_layers)(ls, x), fd_grad(U.enumerate_layers, (ls, x), {}, 0),
                      ls, 'list of one array thrice')


def test_star_args_wrt_args_name():
    w, a, b = np.array([0.3, -0.5]), np.array([1.0, 2.0]), 0.5
    g = srcad.grad(U.star_args, wrt='args')(w, a, b)
    assert type(g) is tuple and len(g) == 2
    np.testing.assert_allclose(g[0], w, rtol=RTOL)
    np.testing.assert_allclose(g[1], float(np.sum(w)), rtol=RTOL)
    assert isinstance(g[1], float)


def test_kwargs_wrt_kwargs_name():
    w = np.array([0.3, -0.5])
    g = srcad.grad(U.star_kwargs, wrt='kwargs')(w, a=0.5, b=2.0)
    assert type(g) is dict and set(g) == {'a', 'b'}
    np.testing.assert_allclose([g['a'], g['b']], [np.sum(w)] * 2, rtol=RTOL)


def test_stop_gradient_is_a_constant():
    x = np.array([0.3, -0.5, 1.2])
    np.testing.assert_allclose(srcad.grad(U.stop_grad)(x), x, rtol=RTOL)
    np.testing.assert_allclose(srcad.autodiff(U.stop_grad, mode='forward')(x, np.ones(3)), np.sum(x))


# -- API conventions ---------------------------------------------------------------------------

def _wx(seed=0):
    rng = np.random.default_rng(seed)
    return r(rng, 3), r(rng, 3)


def test_argnums_alias():
    w, x = _wx()
    a = srcad.grad(U.two_arg, argnums=1)(w, x)
    b = srcad.grad(U.two_arg, wrt=1)(w, x)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, fd_grad(U.two_arg, (w, x), {}, 1), rtol=RTOL, atol=ATOL)
    ga, gb = srcad.grad(U.two_arg, argnums=(0, 1), wrt=(0, 1))(w, x)
    np.testing.assert_allclose(ga, fd_grad(U.two_arg, (w, x), {}, 0), rtol=RTOL, atol=ATOL)
    with pytest.raises((srcad.SrcadError, TypeError, ValueError)):
        srcad.grad(U.two_arg, argnums=0, wrt=1)


def test_wrt_by_name():
    w, x = _wx()
    np.testing.assert_allclose(srcad.grad(U.two_arg, wrt='x')(w, x), fd_grad(U.two_arg, (w, x), {}, 1),
                               rtol=RTOL, atol=ATOL)


def test_has_aux():
    w, x = _wx()
    g, aux = srcad.grad(U.with_aux, has_aux=True)(w, x)
    fd = fd_grad(lambda w, x: U.with_aux(w, x)[0], (w, x), {}, 0)
    np.testing.assert_allclose(g, fd, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(aux['r'], np.tanh(w * x))
    assert aux['n'] == 3
    (v, aux2), g2 = srcad.value_and_grad(U.with_aux, has_aux=True)(w, x)
    np.testing.assert_allclose(v, U.with_aux(w, x)[0])
    np.testing.assert_allclose(g2, fd, rtol=RTOL, atol=ATOL)
    with pytest.raises(srcad.SrcadError) as err:
        srcad.grad(U.two_arg, has_aux=True)
    assert CORPUS_FILE in str(err.value)


def test_value_and_grad_and_preserve_result():
    w, x = _wx()
    fd = fd_grad(U.two_arg, (w, x), {}, 0)
    v, g = srcad.value_and_grad(U.two_arg)(w, x)
    np.testing.assert_allclose(v, U.two_arg(w, x))
    np.testing.assert_allclose(g, fd, rtol=RTOL, atol=ATOL)
    v2, g2 = srcad.grad(U.two_arg, preserve_result=True)(w, x)
    np.testing.assert_allclose(v2, v)
    np.testing.assert_allclose(g2, g)
    v3, H = srcad.hessian(U.two_arg, preserve_result=True)(w, x)
    np.testing.assert_allclose(v3, v)
    np.testing.assert_allclose(H, np.diag(-np.sin(w) * x ** 2 + 2 * x), rtol=RTOL, atol=ATOL)
    v4, d = srcad.autodiff(U.vec_out, preserve_result=True)(w, seed=np.ones(3))
    np.testing.assert_allclose(v4, U.vec_out(w))


def test_optimized_false_and_verbose(capsys):
    w, x = _wx()
    a = srcad.grad(U.mlp_get_default, optimized=False)({'W': np.ones((3, 2)) * 0.1}, np.ones((4, 3)))
    b = srcad.grad(U.mlp_get_default)({'W': np.ones((3, 2)) * 0.1}, np.ones((4, 3)))
    np.testing.assert_allclose(a['W'], b['W'], rtol=1e-12)
    srcad.grad(U.two_arg, verbose=1)(w, x)
    assert 'def ' in capsys.readouterr().out


def test_tangent_positional_seed():
    x = np.array([0.3, -0.5, 1.2])
    dy = np.array([1.0, -2.0, 0.5])
    dr = srcad.autodiff(U.vec_out, mode='reverse')
    np.testing.assert_allclose(dr(x, dy), dr(x, seed=dy))
    J = _fd_jac(U.vec_out, x)
    np.testing.assert_allclose(dr(x, dy), dy @ J, rtol=RTOL, atol=ATOL)
    dr2 = srcad.autodiff(U.scale_default)
    np.testing.assert_allclose(dr2(x, 3.0, dy), dr2(x, 3.0, seed=dy))
    np.testing.assert_allclose(dr2(x, 3.0, dy), dy * 3.0 * np.cos(x), rtol=RTOL)
    # README: dr(x, dy, k=2.0) passes scale=dy (a default is filled before the seed), seed ones
    np.testing.assert_allclose(dr2(x, dy, k=2.0), dy * 2.0 * np.cos(x), rtol=RTOL)


def _fd_jac(fn, x, eps=EPS):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((fn(x + e) - fn(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_vjp_one_cotangent_per_primal():
    w, x = _wx()
    v, pull = srcad.vjp(U.two_arg, w, x, wrt=None)
    cts = pull(1.0)
    assert isinstance(cts, tuple) and len(cts) == 2
    np.testing.assert_allclose(cts[0], fd_grad(U.two_arg, (w, x), {}, 0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(cts[1], fd_grad(U.two_arg, (w, x), {}, 1), rtol=RTOL, atol=ATOL)


def test_jacobian_family():
    x = np.array([0.3, -0.5, 1.2])
    J = _fd_jac(U.vec_out, x)
    for jac in (srcad.jacobian(U.vec_out), srcad.jacfwd(U.vec_out), srcad.jacrev(U.vec_out),
                srcad.jacobian(U.vec_out, mode='reverse')):
        np.testing.assert_allclose(jac(x), J, rtol=RTOL, atol=ATOL)
    w, xx = _wx()
    Jw, Jx = srcad.jacobian(lambda_two, wrt=(0, 1))(w, xx)
    np.testing.assert_allclose(Jw, np.diag(xx * np.cos(w * xx)), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(Jx, np.diag(w * np.cos(w * xx)), rtol=RTOL, atol=ATOL)


lambda_two = lambda w, x: np.sin(w * x)     # noqa: E731 (a lambda differentiated)


def test_hessian_tuple_wrt_blocks():
    w, x = _wx(2)
    H = srcad.hessian(U.two_arg, wrt=(0, 1))(w, x)
    assert len(H) == 2 and len(H[0]) == 2
    df0 = srcad.grad(U.two_arg, wrt=0)
    df1 = srcad.grad(U.two_arg, wrt=1)
    e = 1e-5
    for i, dfi in enumerate((df0, df1)):
        for j in range(2):
            cols = []
            for k in range(3):
                a = [w.copy(), x.copy()]
                b = [w.copy(), x.copy()]
                a[j][k] += e
                b[j][k] -= e
                cols.append((dfi(*a) - dfi(*b)) / (2 * e))
            np.testing.assert_allclose(H[i][j], np.stack(cols, axis=-1), rtol=1e-5, atol=1e-6)


def test_hessian_rosenbrock_and_grad_of_grad():
    x = np.array([0.8, 1.1, -0.4, 0.6])
    H = srcad.hessian(U.rosen)(x)
    df = srcad.grad(U.rosen)
    np.testing.assert_allclose(df(x), fd_grad(U.rosen, (x,), {}, 0), rtol=RTOL, atol=1e-5)
    e = 1e-5
    cols = [(df(x + e * np.eye(4)[k]) - df(x - e * np.eye(4)[k])) / (2 * e) for k in range(4)]
    np.testing.assert_allclose(H, np.stack(cols, axis=-1), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(srcad.hvp(U.rosen)(x, np.ones(4)), H @ np.ones(4), rtol=1e-10)
    d2 = srcad.grad(srcad.grad(U.math_scalar))(0.7, -1.3)
    want = (math.exp(0.7 + 1e-5) * math.sin(-1.3) + (0.7 + 1e-5) / math.hypot(0.7 + 1e-5, -1.3)
            - math.exp(0.7 - 1e-5) * math.sin(-1.3) - (0.7 - 1e-5) / math.hypot(0.7 - 1e-5, -1.3)) / 2e-5
    np.testing.assert_allclose(d2, want, rtol=1e-6)


def test_hvp_container_structure():
    rng = np.random.default_rng(11)
    p = mlp_params(rng)
    X, y = data(rng)
    v = random_like(p, rng)
    hv = srcad.hvp(U.mlp2)(p, X, y, v)
    assert type(hv) is dict and list(hv) == list(p) and isinstance(hv['b2'], float)
    hv2 = srcad.autodiff(srcad.grad(U.mlp2), mode='forward')(p, X, y, v)
    for k in p:
        np.testing.assert_allclose(hv[k], hv2[k], rtol=1e-10, atol=1e-12)


def test_jvp_batched():
    x = np.array([0.3, -0.5, 1.2])
    T_ = np.eye(3)
    v, jt = srcad.jvp(U.vec_out, (x,), (T_,), batched=True)
    np.testing.assert_allclose(jt, _fd_jac(U.vec_out, x).T, rtol=RTOL, atol=ATOL)


def test_check_grad_by_name_and_show():
    w, x = _wx()
    srcad.check_grad(U.two_arg, w, x, wrt='w')
    srcad.check_grad(U.two_arg, w, x, wrt=('w', 'x'))
    src = srcad.show(U.two_arg)
    assert 'def ' in src and 'two_arg' in src
    src2 = srcad.show(U.mlp2, mlp_params(np.random.default_rng(0)), *data(np.random.default_rng(0)))
    assert 'def ' in src2
    assert 'def ' in srcad.show(U.two_arg, mode='forward')


def test_decorator_forms():
    @srcad.grad
    def _unused(x):  # a local def in a test module: pytest rewrites asserts, not this
        return np.sum(x ** 2)
    ds = srcad.grad(wrt=(0, 1))(U.two_arg)
    w, x = _wx()
    a, b = ds(w, x)
    np.testing.assert_allclose(a, fd_grad(U.two_arg, (w, x), {}, 0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_unused(x), 2 * x)


def test_lambda_direct_and_partial_wrt():
    f = __import__('functools').partial(U.ridge_dict, lam=0.3)
    rng = np.random.default_rng(2)
    p = {'w': r(rng, 3), 'b': 0.5}
    X, y = data(rng)
    g = srcad.grad(f, wrt=0)(p, X, y)
    fd = fd_grad(lambda p, X, y: U.ridge_dict(p, X, y, lam=0.3), (p, X, y), {}, 0)
    assert_tree_close(g, fd, p, 'partial')


def test_errstate_raise_propagates():
    x = np.array([0.5, 0.0, 2.0])
    with pytest.raises(FloatingPointError):
        srcad.grad(U.with_errstate_raise)(x)


def test_raise_in_branch_raises_from_derivative():
    x = np.array([0.5, 1.0])
    with pytest.raises(ValueError, match='unknown mode'):
        srcad.grad(U.raise_in_branch)(x, 'nope')
    with pytest.raises(AssertionError):
        srcad.grad(U.asserts)(x, np.ones(3))


def test_prints_once(capsys):
    x = np.array([0.5, 1.0])
    srcad.grad(U.prints)(x)
    assert capsys.readouterr().out.count('elements') == 1
    srcad.autodiff(U.prints, mode='forward')(x, np.ones(2))
    assert capsys.readouterr().out.count('elements') == 1


def test_with_own_context_manager_runs_once():
    n0 = U.TIMER.n
    srcad.grad(U.with_timer)(np.array([0.5, 1.0]))
    assert U.TIMER.n == n0 + 1


def test_mutating_function_leaves_caller_arrays():
    x = np.array([0.5, 1.0, -0.3])
    x0 = x.copy()
    g = srcad.grad(U.mutate_own_arg)(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(g, [18 * x0[0], 2 * x0[1], 2 * x0[2]], rtol=RTOL)
    srcad.hvp(U.mutate_own_arg)(x, np.ones(3))
    srcad.jvp(U.mutate_own_arg, (x,), (np.ones(3),))
    np.testing.assert_array_equal(x, x0)


# -- documented refusals: a srcad error naming this corpus's file ------------------------------

BUILD_REFUSALS = [
    ('try_except', U.bad_try),
    ('nonlocal', U.bad_nonlocal),
    ('global_assign', U.bad_global_assign),
    ('lambda_in_if', U.bad_lambda_in_if),
    ('match_structure', U.bad_match_structure),
    ('return_in_with', U.bad_return_in_with),
    ('alias_write', U.bad_alias_write),
    ('lambda_map', U.bad_lambda_map),
    ('star_in_list_display', U.list_star_call),
    ('recursion', U.recursion_py),
    ('lambda_in_loop', U.closure_loop_var),
    ('sum_where_kw', U.sum_where),
    ('functools_reduce_lambda', U.reduce_functools),
]


@pytest.mark.parametrize('name,fn', BUILD_REFUSALS, ids=[b[0] for b in BUILD_REFUSALS])
def test_refused_with_location(name, fn):
    """Refused at srcad.grad(f) or at the first call, with a srcad error naming the corpus
    file (never a raw Python or NumPy error)."""
    sig = inspect.signature(fn)
    x = np.array([0.5, 1.5, 2.0])
    samples = {'x': x, 't': (1.0, 2.0), 'model': _mlp(np.random.default_rng(0))}
    args = [samples.get(n, x) for n in sig.parameters]
    with pytest.raises(srcad.SrcadError) as err:
        srcad.grad(fn)(*args)
    assert CORPUS_FILE in str(err.value), str(err.value)


def test_loop_else_differentiated():
    """for ... else was refused until session 10 (jumps._lower_loop_else)."""
    x = np.array([0.5, 1.5, 2.0])
    np.testing.assert_allclose(srcad.grad(U.bad_loop_else)(x),
                               fd_grad(U.bad_loop_else, (x,), {}, 0), rtol=1e-6)


CALL_REFUSALS = [
    ('runtime_key', U.bad_runtime_key, lambda: ({0: np.ones(3), 1: np.ones(3)}, np.ones(3), 1)),
    ('write_container', U.bad_write_container, lambda: ({'W': np.ones(3)}, np.ones(3))),
    ('container_to_lib', U.bad_container_to_lib, lambda: ({'W': np.ones(3)},)),
    ('no_rule', U.bad_no_rule, lambda: (np.array([0.1, 0.5, -0.2]),)),
    ('set_of_values', U.bad_set_values, lambda: (np.array([0.1, 0.5, -0.2]),)),
    ('dictcomp_runtime', U.bad_dictcomp_runtime, lambda: (np.array([0.1, 0.5, -0.2]),)),
    ('sorted_dict', U.sorted_keys, lambda: ({'b': np.ones(3), 'a': np.ones(3)}, np.ones(3))),
    ('missing_key', U.mlp2, lambda: ({'W1': np.ones((3, 2))}, np.ones((4, 3)), np.ones(4))),
    ('dict_attr', U.nt_linear, lambda: ({'W': np.ones((3, 2)), 'b': np.ones(2)}, np.ones((4, 3)))),
    ('list_for_dict', U.logreg_dict, lambda: ([np.ones(3), 0.1], np.ones((4, 3)), np.ones(4))),
    ('gen_sum_start', U.sum_with_start, lambda: (np.array([0.1, 0.5, -0.2]),)),
]


@pytest.mark.parametrize('name,fn,make', CALL_REFUSALS, ids=[c[0] for c in CALL_REFUSALS])
def test_refused_at_call_with_location(name, fn, make):
    with pytest.raises(srcad.SrcadError) as err:
        srcad.grad(fn)(*make())
    assert CORPUS_FILE in str(err.value), str(err.value)


def test_hook_doubles_the_gradient():
    x = np.array([0.3, -0.5, 1.2])
    np.testing.assert_allclose(srcad.grad(U.hooked)(x), 4.0 * x, rtol=RTOL)


def test_hessian_of_a_dict_argument():
    """JAX's layout H[key_i][key_j], against finite differences of the gradient."""
    rng = np.random.default_rng(8)
    p = {'w': r(rng, 3), 'b': 0.4}
    X, y = data(rng)
    f = U.logreg_softplus
    H = srcad.hessian(f)(p, X, y)
    df = srcad.grad(f)
    e = 1e-5
    for kj in p:
        for idx in np.ndindex(np.shape(p[kj])):
            pp, pm = dict(p), dict(p)
            if isinstance(p[kj], np.ndarray):
                pp[kj], pm[kj] = p[kj].copy(), p[kj].copy()
                pp[kj][idx] += e
                pm[kj][idx] -= e
            else:
                pp[kj], pm[kj] = p[kj] + e, p[kj] - e
            gp, gm = df(pp, X, y), df(pm, X, y)
            for ki in p:
                col = (np.asarray(gp[ki]) - np.asarray(gm[ki])) / (2 * e)
                blk = np.asarray(H[ki][kj])
                assert blk.shape == np.shape(p[ki]) + np.shape(p[kj])
                np.testing.assert_allclose(blk[(Ellipsis,) + idx], col, rtol=1e-5, atol=1e-7)


def test_container_arguments_through_the_family():
    rng = np.random.default_rng(9)
    p = mlp_params(rng)
    X, y = data(rng)
    fds = [fd_grad(U.mlp2, (p, X, y), {}, i) for i in range(3)]
    v, g = srcad.value_and_grad(U.mlp2)(p, X, y)
    assert_tree_close(g, fds[0], p, 'value_and_grad')
    _, pull = srcad.vjp(U.mlp2, p, X, y, wrt=None)
    for ct, fd, a in zip(pull(1.0), fds, (p, X, y)):
        assert_tree_close(ct, fd, a, 'vjp wrt=None')
    ts = (random_like(p, rng), r(rng, *X.shape), r(rng, *y.shape))
    _, jt = srcad.jvp(U.mlp2, (p, X, y), ts)
    np.testing.assert_allclose(jt, sum(tree_vdot(fd, t) for fd, t in zip(fds, ts)), rtol=RTOL, atol=ATOL)
    vv = random_like(p, rng)
    rr = srcad.autodiff(srcad.grad(U.mlp2), mode='reverse')(p, X, y, seed=vv)
    assert_tree_close(rr, srcad.hvp(U.mlp2)(p, X, y, vv), p, 'reverse over reverse', rtol=1e-9, atol=1e-10)
    q = {'w': r(rng, 3), 'b': 0.3}
    gq, aux = srcad.grad(U.aux_dict_loss, has_aux=True)(q, X, y)
    assert_tree_close(gq, fd_grad(lambda q, X, y: U.aux_dict_loss(q, X, y)[0], (q, X, y), {}, 0), q, 'aux')
    assert aux['n'] == X.shape[0]


def test_jvp_batched_dict_tangents():
    rng = np.random.default_rng(10)
    p = {'w': r(rng, 3), 'b': r(rng, 2)}
    T_ = {'w': r(rng, 4, 3), 'b': r(rng, 4, 2)}
    _, jt = srcad.jvp(U.params_values_sum, (p,), (T_,), batched=True)
    fd = fd_grad(U.params_values_sum, (p,), {}, 0)
    want = [tree_vdot(fd, {'w': T_['w'][i], 'b': T_['b'][i]}) for i in range(4)]
    np.testing.assert_allclose(jt, want, rtol=RTOL, atol=ATOL)


def test_hessian_and_check_grad_of_rnn_with_initial_state():
    rng = np.random.default_rng(12)
    W, h, xs = r(rng, 3, 3, scale=0.5), r(rng, 3), r(rng, 4, 3)
    srcad.check_grad(U.rnn_h0, W, h, xs)
    H = srcad.hessian(U.rnn_h0)(W, h, xs)
    assert H.shape == (3, 3, 3, 3)


def test_gradient_wrt_a_default_argument_left_out():
    x = np.array([0.3, -0.5, 1.2])
    w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(srcad.grad(U.array_default, wrt=1)(x), x * np.cos(w * x), rtol=RTOL)
    np.testing.assert_allclose(srcad.grad(U.array_default, wrt='w')(x), x * np.cos(w * x), rtol=RTOL)


def test_all_keyword_call():
    w, x = _wx()
    np.testing.assert_allclose(srcad.grad(U.two_arg)(w=w, x=x), fd_grad(U.two_arg, (w, x), {}, 0),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(srcad.grad(U.two_arg, wrt='x')(w, x=x), fd_grad(U.two_arg, (w, x), {}, 1),
                               rtol=RTOL, atol=ATOL)


# -- srcad.export ------------------------------------------------------------------------------

def _load_exported(fn, tmp_path, **opts):
    import importlib.util
    path = tmp_path / f"d_{fn.__name__}.py"
    srcad.export(fn, str(path), **opts)
    spec = importlib.util.spec_from_file_location(path.stem, str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_export_gradient_with_default_callable(tmp_path):
    x = np.array([0.3, -0.5, 1.2])
    mod = _load_exported(U.reduce_default, tmp_path)
    np.testing.assert_allclose(mod.dreduce_default_dx(x), fd_grad(U.reduce_default, (x,), {}, 0),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize('fn,args', [
    (U.reduce_default, (np.array([0.3, -0.5, 1.2]), np.mean)),
    (U.act_default, (np.array([0.3, -0.5, 1.2]), np.array([1.0, 0.5, -2.0]), U.sigmoid)),
], ids=['reduce_mean', 'act_sigmoid'])
def test_export_gradient_with_another_callable_passed(fn, args, tmp_path):
    """The exported gradient of a function with a default callable took the parameter but
    always differentiated the default (dreduce_default_dx(x, np.mean) was 3x the gradient):
    it is built for the default, so another function passed is refused."""
    mod = _load_exported(fn, tmp_path)
    df = getattr(mod, 'd' + fn.__name__ + '_dx')
    with pytest.raises(TypeError, match='was exported for'):
        df(*args)
    np.testing.assert_allclose(df(*args[:-1]), fd_grad(fn, args[:-1], {}, 0), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize('fn,make', [
    (U.mlp2, lambda g: (mlp_params(g),) + data(g)),
    (U.rnn_dict, lambda g: ({'Wh': r(g, 3, 3, scale=0.5), 'Wx': r(g, 3, 2), 'b': r(g, 3)}, r(g, 5, 2))),
    (U.while_break, lambda g: (r(g, 4),)),
    (U.gen_masked_sum, lambda g: (r(g, 5), r(g, 5), np.array([1, 0, 1, 1, 0], bool))),
], ids=['mlp2', 'rnn_dict', 'while_break', 'gen_masked_sum'])
def test_export_reverse_and_forward(fn, make, tmp_path):
    rng = np.random.default_rng(13)
    args = make(rng)
    fd = fd_grad(fn, args, {}, 0)
    rev = _load_exported(fn, tmp_path)
    g = getattr(rev, 'd' + fn.__name__ + '_d' + list(inspect.signature(fn).parameters)[0])(*args)
    for (pa, a), (_, b) in zip(leaves(g), leaves(fd)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=str(pa))


def test_one_derivative_base_then_subclass():
    """Base2.loss calls self.act: a Sub2 object overriding act gets its own derivative."""
    rng = np.random.default_rng(14)
    W, x = r(rng, 3, 2, scale=0.5), r(rng, 4, 3)
    d = srcad.grad(U.Base2.loss, wrt=1)
    for cls in (U.Base2, U.Sub2, U.Base2):
        m = cls(W)
        assert_tree_close(d(m, x), fd_grad(U.Base2.loss, (m, x), {}, 1), x, cls.__name__)


def test_hessian_of_prod_with_two_zeros():
    x = np.array([0.5, 0.0, 2.0, 0.0])
    want = np.zeros((4, 4))
    want[1, 3] = want[3, 1] = 0.5 * 2.0      # d2/dx1 dx3 of x0 x1 x2 x3
    np.testing.assert_allclose(srcad.hessian(U.lib_prod)(x), want, atol=1e-12)


def test_hessian_of_cumprod_with_two_zeros():
    x = np.array([0.5, 0.0, 2.0, 0.0])
    H = srcad.hessian(U.lib_cumprod)(x)
    want = np.array([[0.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.5, 1.0], [0.0, 0.5, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(H, want, atol=1e-12)


def _adjugate(A):
    n = A.shape[0]
    C = np.zeros_like(A)
    for i in range(n):
        for j in range(n):
            C[i, j] = (-1) ** (i + j) * np.linalg.det(np.delete(np.delete(A, i, 0), j, 1))
    return C


def test_det_gradient_is_the_adjugate():
    A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    np.testing.assert_allclose(srcad.grad(U.lib_det_only)(A), _adjugate(A), rtol=1e-10)


def test_det_gradient_at_a_singular_matrix():
    A = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(srcad.grad(U.lib_det_only)(A), _adjugate(A), atol=1e-10)


def test_polynomials_first_and_second_order():
    for fn, args in [(U.lib_polyval, (np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.5]))),
                     (U.lib_matrix_power, (np.array([[0.5, 1.0], [0.0, 0.3]]),))]:
        x = args[0]
        assert_tree_close(srcad.grad(fn)(*args), fd_grad(fn, args, {}, 0), x, fn.__name__)
        t = np.ones_like(x)
        d = srcad.grad(fn)
        fdh = (d(x + 1e-5 * t, *args[1:]) - d(x - 1e-5 * t, *args[1:])) / 2e-5
        np.testing.assert_allclose(srcad.hvp(fn)(*args, t), fdh, rtol=1e-5, atol=1e-6)


def test_multiply_reduce_hvp_with_two_zeros():
    x = np.array([0.0, 2.0, 0.0, 3.0])
    t = np.ones(4)
    d = srcad.grad(U.lib_prod_reduce)
    fdh = (d(x + 1e-5 * t) - d(x - 1e-5 * t)) / 2e-5
    np.testing.assert_allclose(srcad.hvp(U.lib_prod_reduce)(x, t), fdh, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('mode', ['forward', 'reverse'])
def test_jacobian_of_nested_container_outputs(mode):
    x = np.array([0.3, -0.5, 1.2])
    J = srcad.jacobian(U.nested_out, mode=mode)(x)
    assert type(J) is dict and type(J['pair']) is tuple and type(J['list']) is list
    np.testing.assert_allclose(J['pair'][0], 2 * np.eye(3), atol=1e-12)
    np.testing.assert_allclose(J['pair'][1], np.diag(-np.sin(x)), rtol=1e-12)
    np.testing.assert_allclose(J['list'][0], np.ones(3), rtol=1e-12)
    np.testing.assert_allclose(J['list'][1], np.diag(2 * x), rtol=1e-12)
    Jd = srcad.jacobian(U.out_dc, mode=mode)(x)
    assert type(Jd) is U.Out
    np.testing.assert_allclose(Jd.a, np.diag(np.cos(x)), rtol=1e-12)
    np.testing.assert_allclose(Jd.b, np.full(3, 2.0), rtol=1e-12)
    p = {'W': x, 'b': 0.5}
    Js = srcad.jacobian(U.sgd_step, mode=mode)(p)
    np.testing.assert_allclose(Js['W']['W'], np.diag(1 - 0.1 * np.cos(x)), rtol=1e-12)
    np.testing.assert_allclose(Js['b']['b'], 1 - 0.1 * np.cos(0.5), rtol=1e-12)
    np.testing.assert_allclose(Js['W']['b'], np.zeros(3), atol=1e-12)


def _fd_hessian(fn, x, e=1e-4):
    """Second central differences of fn itself (no gradient involved)."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * e, np.eye(n)[j] * e
            H[i, j] = (fn(x + ei + ej) - fn(x + ei - ej) - fn(x - ei + ej) + fn(x - ei - ej)) / (4 * e * e)
    return H


@pytest.mark.parametrize('fn,x', [
    (U.lib_np_power, np.array([0.0, 0.5, -1.0])),
    (U.lib_sqrt_shift, np.array([0.0, 0.5, -1.0])),
    (U.lib_logsumexp_masked, np.array([0.3, -0.2, 0.5, 1.0])),
    (lambda x: U.lib_power_array(x, np.array([2.0, 2.0, 3.0])), np.array([0.0, 0.5, 1.0])),
    (U.lib_sinc, np.array([0.4, 0.5, -1.3])),
], ids=['np_power_at_0', 'sqrt_cbrt', 'logsumexp_masked', 'array_exponent_at_0', 'sinc_away_from_0'])
def test_hessians_at_special_points(fn, x):
    np.testing.assert_allclose(srcad.hessian(fn)(x), _fd_hessian(fn, x), rtol=1e-4, atol=1e-5)


def test_sinc_hessian_at_zero():
    x = np.array([0.0, 0.5, -1.3])
    H = srcad.hessian(U.lib_sinc)(x)
    assert abs(H[0, 0] + np.pi ** 2 / 3) < 1e-8
    np.testing.assert_allclose(srcad.hvp(U.lib_sinc)(x, np.array([1.0, 0.0, 0.0]))[0], -np.pi ** 2 / 3,
                               rtol=1e-8)


def test_has_aux_across_the_family():
    w, x = _wx(4)
    f0 = lambda w, x: U.with_aux(w, x)[0]     # noqa: E731 (the reference only)
    fd0, fd1 = fd_grad(f0, (w, x), {}, 0), fd_grad(f0, (w, x), {}, 1)
    v, pull, aux = srcad.vjp(U.with_aux, w, x, has_aux=True)
    np.testing.assert_allclose(pull(1.0), fd0, rtol=RTOL, atol=ATOL)
    assert aux['n'] == 3
    t = np.array([0.5, -1.0, 2.0])
    _, jt, aux = srcad.jvp(U.with_aux, (w, x), (t,), wrt=0, has_aux=True)
    np.testing.assert_allclose(jt, fd0 @ t, rtol=RTOL, atol=ATOL)
    for jac in (srcad.jacobian, srcad.jacrev, srcad.jacfwd):
        J, aux = jac(U.with_aux, has_aux=True)(w, x)
        np.testing.assert_allclose(J, fd0, rtol=RTOL, atol=ATOL)
    (J0, J1), _ = srcad.jacobian(U.with_aux, wrt=(0, 1), has_aux=True)(w, x)
    np.testing.assert_allclose(J1, fd1, rtol=RTOL, atol=ATOL)
    g = srcad.grad(U.two_arg, wrt=(0, 'x'))(w, x)
    np.testing.assert_allclose(g[1], fd_grad(U.two_arg, (w, x), {}, 1), rtol=RTOL, atol=ATOL)
