"""Objects, methods and lambdas (issue 13): ``super()`` resolved through the object's MRO,
bound methods handed to helpers, lists of dataclasses, ``namedtuple._replace``, ``.item()``,
lambdas made in comprehensions, the adjoint of a container passed to a derivative called
inside the code, and ``srcad.show`` of a variant per class. Each program: the gradient
(reverse), the JVP (forward) and the Hessian-vector product against central differences
(float64), with respect to an array argument."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

import srcad
from srcad.errors import SrcadError

EPS = 1e-6


def _fd_grad(f, args, wrt):
    """Central differences of scalar ``f`` in the array ``args[wrt]``."""
    x = args[wrt]
    out = np.zeros_like(x)
    for k in range(x.size):
        up, down = [copy.deepcopy(list(args)) for _ in range(2)]
        up[wrt].flat[k] += EPS
        down[wrt].flat[k] -= EPS
        out.flat[k] = (f(*up) - f(*down)) / (2 * EPS)
    return out


def check(f, args, wrt=0, hvp=True):
    """grad, jvp and hvp of ``f`` in ``args[wrt]`` against central differences."""
    args = tuple(args)
    want = _fd_grad(f, args, wrt)
    got = srcad.grad(f, wrt=wrt)(*copy.deepcopy(args))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg="grad")
    t = np.random.default_rng(7).standard_normal(np.shape(args[wrt]))
    tangents = [t if i == wrt else None for i in range(len(args))]
    jv = srcad.autodiff(f, mode="forward", wrt=wrt)(*copy.deepcopy(args), t)
    np.testing.assert_allclose(jv, np.vdot(want, t), rtol=1e-6, atol=1e-8, err_msg="jvp")
    del tangents
    if not hvp:
        return
    hv = srcad.hvp(f, wrt=wrt)(*copy.deepcopy(args), t)
    df = srcad.grad(f, wrt=wrt)
    up, down = list(copy.deepcopy(args)), list(copy.deepcopy(args))
    up[wrt] = up[wrt] + EPS * t
    down[wrt] = down[wrt] - EPS * t
    fdh = (df(*up) - df(*down)) / (2 * EPS)
    np.testing.assert_allclose(hv, fdh, rtol=1e-5, atol=1e-6, err_msg="hvp")


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- super() ----------------------------------------------------------------------------------

class Layer:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return np.tanh(x @ self.W)

    def loss(self, x):
        return np.sum(self.forward(x) ** 2)


class Scaled(Layer):
    def forward(self, x):
        return 2.0 * super().forward(x) + x @ self.W


class Shifted(Scaled):
    def forward(self, x):               # super() of super(): Scaled's, then Layer's
        return super().forward(x) - np.sin(x @ self.W)


class Explicit(Scaled):
    def forward(self, x):               # the two-argument form skips Scaled
        return super(Scaled, self).forward(x) * 3.0


# a diamond: D's MRO is D, B, C, A, so super() in B finds C's forward, not A's
class A:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return x @ self.W


class B(A):
    def forward(self, x):
        return np.sin(super().forward(x))


class C(A):
    def forward(self, x):
        return super().forward(x) ** 2


class D(B, C):
    def loss(self, x):
        return np.sum(self.forward(x))


def _loss(model, x):
    return model.loss(x)


def _forward_sum(model, x):
    return np.sum(model.forward(x) ** 2)


@pytest.mark.parametrize("cls", [Scaled, Shifted, Explicit])
def test_super_along_the_mro(cls):
    g = _rng(1)
    check(_loss, (cls(0.5 * g.standard_normal((3, 2))), g.standard_normal((4, 3))), wrt=1)


def test_super_in_a_diamond_follows_the_objects_mro():
    g = _rng(2)
    m, x = D(0.5 * g.standard_normal((3, 2))), g.standard_normal((4, 3))
    assert np.isclose(_loss(m, x), np.sum(np.sin((x @ m.W) ** 2)))
    check(_loss, (m, x), wrt=1)


def test_super_gradient_with_respect_to_the_object():
    g = _rng(3)
    m, x = Shifted(0.5 * g.standard_normal((3, 2))), g.standard_normal((4, 3))
    got = srcad.grad(_forward_sum)(m, x)
    assert type(got) is Shifted
    want = np.zeros_like(m.W)
    for k in range(m.W.size):
        up, down = copy.deepcopy(m), copy.deepcopy(m)
        up.W.flat[k] += EPS
        down.W.flat[k] -= EPS
        want.flat[k] = (_forward_sum(up, x) - _forward_sum(down, x)) / (2 * EPS)
    np.testing.assert_allclose(got.W, want, rtol=1e-6, atol=1e-8)


def _sin_forward(self, x):
    return np.sin(x @ self.W)


def test_rebinding_the_method_super_finds_rebuilds():
    g = _rng(4)
    m, x = Scaled(0.5 * g.standard_normal((3, 2))), g.standard_normal((4, 3))
    df = srcad.grad(_loss, wrt=1)
    before = df(m, x)
    old = Layer.forward
    try:
        Layer.forward = _sin_forward
        np.testing.assert_allclose(df(m, x), _fd_grad(_loss, (m, x), 1), rtol=1e-6, atol=1e-8)
    finally:
        Layer.forward = old
    np.testing.assert_allclose(df(m, x), before, rtol=1e-12)


class Gained(Layer):
    gain = 2.0

    @property
    def Wt(self):
        return self.W.T


class Regularized(Gained):
    gain = 0.5                          # super().gain is Gained's

    @property
    def Wt(self):
        return 2.0 * self.W.T

    def loss(self, x):                  # the method differentiated calls super() itself
        return super().loss(x) * super().gain + np.sum(x @ super().Wt.T) * self.gain


def test_super_in_the_method_differentiated_attribute_and_property():
    g = _rng(17)
    m, x = Regularized(0.5 * g.standard_normal((3, 2))), g.standard_normal((4, 3))
    assert np.isclose(m.loss(x), 2.0 * np.sum(np.tanh(x @ m.W) ** 2) + 0.5 * np.sum(x @ m.W))
    check(Regularized.loss, (m, x), wrt=1)


def _plain_super(x):
    return super().forward(x)


def test_super_outside_a_method_is_located():
    with pytest.raises(SrcadError) as info:
        srcad.grad(_plain_super)(np.ones(3))
    assert "test_objects.py" in str(info.value)


# -- bound methods as values ------------------------------------------------------------------

class Model:
    power = 2.0

    def __init__(self, W, c):
        self.W, self.c = W, c

    def apply(self, x):
        return self.c * np.sin(x @ self.W)

    @staticmethod
    def square(z):
        return z * z

    @classmethod
    def raised(cls, z):
        return z ** cls.power

    def energy(self, x):
        return _sum_of(self.apply, x) + _sum_of(self.square, x)

    def twice(self, x):
        f = self.apply                  # a name bound to the method, called later
        return np.sum(f(x) * f(2.0 * x))


def _sum_of(fn, x):
    return np.sum(fn(x))


def _handed_on(fn, x):
    return _sum_of(fn, x) * 0.5


def _model(seed=5):
    g = _rng(seed)
    return Model(0.5 * g.standard_normal((3, 3)), 1.3), g.standard_normal((2, 3))


def _bound_to_helper(model, x):
    return _sum_of(model.apply, x)


def _bound_handed_on(model, x):
    return _handed_on(model.apply, x) + _sum_of(model.raised, x)


def _method_energy(model, x):
    return model.energy(x) + model.twice(x)


@pytest.mark.parametrize("f", [_bound_to_helper, _bound_handed_on, _method_energy])
def test_bound_method_of_an_argument_as_a_value(f):
    check(f, _model(), wrt=1)


def _bound_to_library(model, x):
    return np.sum(np.vectorize(model.apply)(x))


def test_bound_method_to_a_library_function_is_located():
    with pytest.raises(SrcadError) as info:
        srcad.grad(_bound_to_library, wrt=1)(*_model())
    assert "test_objects.py" in str(info.value) and "method Model.apply used as a value" in str(info.value)


# -- comprehensions over lists of objects -----------------------------------------------------

@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: object


class Net:
    def __init__(self, layers):
        self.layers = layers


def _gen_sum(ls, x):
    return sum(np.sum(l.W * x + l.b) for l in ls)


def _list_comp(ls, x):
    outs = [np.tanh(l.W * x) + l.b for l in ls]
    return np.sum(outs[0] * outs[1])


def _nested_gen(nets, x):
    return sum(np.sum(np.sin(layer.W * x)) for net in nets for layer in net.layers)


def _layers(g):
    return [Dense(g.standard_normal(3), g.standard_normal(3)), Dense(g.standard_normal(3), 0.2)]


@pytest.mark.parametrize("f", [_gen_sum, _list_comp])
def test_comprehension_over_a_list_of_dataclasses(f):
    g = _rng(6)
    check(f, (_layers(g), g.standard_normal(3)), wrt=1)


def test_nested_generator_over_objects_holding_lists():
    g = _rng(7)
    nets = [Net(_layers(g)), Net(_layers(g)[:1])]
    check(_nested_gen, (nets, g.standard_normal(3)), wrt=1)


def test_gradient_of_a_list_of_dataclasses_read_in_a_generator():
    g = _rng(8)
    ls, x = _layers(g), g.standard_normal(3)
    got = srcad.grad(_gen_sum)(ls, x)
    assert [type(d) for d in got] == [Dense, Dense]
    np.testing.assert_allclose(got[0].W, x)
    np.testing.assert_allclose(got[0].b, np.ones(3))
    assert got[1].b == 3.0


# -- namedtuple._replace, dataclasses.replace -------------------------------------------------

Pair = __import__("collections").namedtuple("Pair", "W b")


@dataclasses.dataclass
class Cell:
    W: np.ndarray
    b: np.ndarray
    scale: float = 1.0


def _nt_replace(layer, X):
    doubled = layer._replace(b=2.0 * layer.b)
    return np.sum((X @ doubled.W + doubled.b) ** 2) + np.sum(layer._replace(W=X.T).W)


def _dc_replace(cell, X):
    moved = dataclasses.replace(cell, W=np.tanh(cell.W), scale=3.0)
    return np.sum(moved.scale * np.sin(X @ moved.W + moved.b))


def _replace_then_helper(layer, X):
    return _nt_loss(layer._replace(W=2.0 * layer.W), X)


def _nt_loss(layer, X):
    W, b = layer
    return np.sum(np.tanh(X @ W + b) ** 2)


def _pair(g):
    return Pair(g.standard_normal((3, 2)), g.standard_normal(2))


@pytest.mark.parametrize("f,make", [
    (_nt_replace, _pair), (_replace_then_helper, _pair),
    (_dc_replace, lambda g: Cell(g.standard_normal((3, 2)), g.standard_normal(2)))])
def test_replace_makes_a_new_container(f, make):
    g = _rng(9)
    check(f, (make(g), g.standard_normal((4, 3))), wrt=1)


def test_replace_gradient_with_respect_to_the_namedtuple():
    g = _rng(10)
    p, X = _pair(g), g.standard_normal((4, 3))
    got = srcad.grad(_nt_replace)(p, X)
    assert type(got) is Pair
    for k in range(2):
        leaf = p[k]
        want = np.zeros_like(leaf)
        for i in range(leaf.size):
            up, down = copy.deepcopy(p), copy.deepcopy(p)
            up[k].flat[i] += EPS
            down[k].flat[i] -= EPS
            want.flat[i] = (_nt_replace(up, X) - _nt_replace(down, X)) / (2 * EPS)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)


def _replace_unknown(layer, X):
    return np.sum(layer._replace(c=X).W)


def _asdict(layer, X):
    return np.sum(layer._asdict()["W"] * X)


@pytest.mark.parametrize("f,what", [(_replace_unknown, "Pair has no field 'c'"),
                                    (_asdict, "_asdict")])
def test_replace_refusals_are_located_at_the_users_line(f, what):
    g = _rng(11)
    with pytest.raises(SrcadError) as info:
        srcad.grad(f, wrt=1)(_pair(g), g.standard_normal((3, 2)))
    assert "test_objects.py" in str(info.value) and what in str(info.value)


# -- .item() ----------------------------------------------------------------------------------

def _item_of_mean(x):
    m = np.mean(x).item()
    return m * np.sum(np.exp(x)) + float(np.sum(x ** 2)) * m


def _item_of_a_size1_array(x):
    v = (x[:1] @ x[1:2].T).item()       # a (1, 1) product
    return v * np.sum(np.sin(x))


def _item_as_an_index(x):
    i = np.argmax(x[0]).item()
    return np.sum(x[:, i] ** 3) * np.sum(x[1:]).item()


def _item_in_a_loop(x):
    s = 0.0
    for k in range(x.shape[0]):
        s = s + np.tanh(x[k]).item() ** 2
    return s


@pytest.mark.parametrize("f,shape", [(_item_of_mean, (4,)), (_item_of_a_size1_array, (2, 1)),
                                     (_item_as_an_index, (3, 3)), (_item_in_a_loop, (3,))])
def test_item_is_the_number_with_its_derivative(f, shape):
    check(f, (_rng(12).standard_normal(shape),), wrt=0)


def _item_only(x):
    return np.sum(x ** 2).item()


def test_item_jvp_batched_and_jacobian():
    x = _rng(13).standard_normal(4)
    value, tangent = srcad.jvp(_item_only, (x,), (np.ones(4),))
    assert value == _item_only(x)
    assert np.isclose(tangent, 2 * np.sum(x))
    tangents = np.eye(4)
    _, batch = srcad.jvp(_item_of_mean, (x,), (tangents,), batched=True)
    np.testing.assert_allclose(batch, srcad.grad(_item_of_mean)(x), rtol=1e-12)
    np.testing.assert_allclose(srcad.jacobian(_item_of_mean, mode="forward")(x),
                               srcad.grad(_item_of_mean)(x), rtol=1e-12)


# -- lambdas made in comprehensions and held in displays --------------------------------------

def _late(x):
    k = 10.0                            # not the comprehension's k
    fs = [lambda z: z * k for k in range(3)]
    return sum(np.sum(f(x) ** 2) for f in fs) + k * np.sum(x)


def _default(x):
    fs = [lambda z, k=k: np.sin(z * k) for k in (0.5, 1.0, 2.0)]
    return sum(np.sum(f(x) ** 2) for f in fs)


def _param_shadows(x):
    fs = [lambda z, k=3.0: z * k for k in range(2)]
    return np.sum(fs[0](x) * fs[1](x))


def _display_of_functions(x):
    a = 1.5
    fs = [lambda z: np.tanh(a * z), np.sin]
    a = 2.5                             # read where called, as Python's closure reads it
    total = 0.0
    for f in fs:
        total = total + np.sum(f(x) ** 2)
    return total


def _lambdas_to_helper(x):
    fs = [lambda z, p=p: z ** p for p in range(1, 4)]
    return sum(_apply(f, x) for f in fs)


def _apply(f, x):
    return np.sum(np.cos(f(x)))


@pytest.mark.parametrize("f", [_late, _default, _param_shadows, _display_of_functions,
                               _lambdas_to_helper])
def test_lambdas_bind_as_python_binds_them(f):
    check(f, (_rng(14).standard_normal(3),), wrt=0)


def test_late_binding_is_the_last_value():
    x = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(srcad.grad(_late)(x), 3 * 2 * 4 * x + 10.0)


def _over_an_argument(x, ws):
    fs = [lambda z: z * w for w in ws]
    return sum(np.sum(f(x)) for f in fs)


def test_lambdas_over_values_of_the_call_are_refused_located():
    with pytest.raises(SrcadError) as info:
        srcad.grad(_over_an_argument)(np.ones(3), [1.0, 2.0])
    text = str(info.value)
    assert "test_objects.py" in text and "lambdas made in a list comprehension" in text


def _list_of_lambdas_passed_on(x):
    return _apply_all([lambda z, p=p: z ** p for p in range(1, 4)], x)


def _apply_all(fs, x):
    return sum(np.sum(np.cos(f(x))) for f in fs)


def _named_list_passed_on(x):
    fs = [np.sin, lambda z: np.tanh(2.0 * z)]
    return _apply_all(fs, x) + _twice_removed((np.cos, _softplus), x)


def _twice_removed(fs, x):
    return _apply_all(fs, 0.5 * x)


def _softplus(z):
    return np.log1p(np.exp(z))


@pytest.mark.parametrize("f", [_list_of_lambdas_passed_on, _named_list_passed_on])
def test_functions_in_a_display_passed_to_helpers(f):
    check(f, (_rng(19).standard_normal(3),), wrt=0)


def _local_function_as_a_value(x):
    f = lambda z: z ** 2
    return np.sum(np.vectorize(f)(x))


def test_a_local_function_used_as_a_value_is_refused_located():
    with pytest.raises(SrcadError) as info:
        srcad.grad(_local_function_as_a_value)(np.ones(3))
    assert "test_objects.py" in str(info.value)


# -- a derivative called inside, over a list of (W, b) tuples ---------------------------------

def _inner(layers, x):
    for W, b in layers:
        x = np.tanh(x @ W + b)
    return np.sum(x)


def _outer(layers, x):
    return np.sum(srcad.grad(_inner, wrt=1)(layers, x) ** 2)


def _tuple_layers(g, kind=list, bias=True):
    return kind((0.5 * g.standard_normal((3, 3)), g.standard_normal(3) if bias else 0.3)
                for _ in range(2))


@pytest.mark.parametrize("kind,bias", [(list, True), (tuple, True), (list, False)])
def test_gradient_of_a_gradient_over_tuples(kind, bias):
    """The adjoint of a name of the inner derivative's code that holds None before its loop
    (then a (W, b) tuple) was copied with ``.copy()``: an unlocated AttributeError "'float'
    object has no attribute 'copy'" for the gradient with respect to the layers."""
    g = _rng(15)
    layers, x = _tuple_layers(g, kind, bias), g.standard_normal(3)
    check(_outer, (layers, x), wrt=1)
    got = srcad.grad(_outer)(layers, x)
    assert type(got) is kind and len(got) == 2
    for i in range(2):
        W = layers[i][0]
        want = np.zeros_like(W)
        for k in range(W.size):
            up, down = copy.deepcopy(layers), copy.deepcopy(layers)
            up[i][0].flat[k] += EPS
            down[i][0].flat[k] -= EPS
            want.flat[k] = (_outer(up, x) - _outer(down, x)) / (2 * EPS)
        np.testing.assert_allclose(got[i][0], want, rtol=1e-5, atol=1e-7)


# -- show prints the variant of the object's own class ----------------------------------------

@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_show_prints_the_variant_for_the_class_passed(mode):
    """After a variant for Sub2 was built, then calls with a Base2, ``show`` with a Sub2
    printed the Base2 variant (the one built last, not the one the call runs): tanh where
    Sub2.act is sin."""
    import user_corpus_s7 as U
    g = _rng(16)
    W, X = g.standard_normal((3, 2)), g.standard_normal((4, 3))
    base, sub = U.Base2(W), U.Sub2(W)
    assert "sin" in srcad.show(U.Base2.loss, sub, X, mode=mode)
    assert "tanh" in srcad.show(U.Base2.loss, base, X, mode=mode)
    df = srcad.autodiff(U.Base2.loss, mode=mode)
    tangent = (U.Base2(np.ones_like(W)),) if mode == "forward" else ()
    df(base, X, *tangent)
    shown = srcad.show(U.Base2.loss, sub, X, mode=mode)
    assert "sin" in shown and "tanh" not in shown
    assert "tanh" in srcad.show(U.Base2.loss, base, X, mode=mode)


# -- loops over ranges the structure decides --------------------------------------------------

def _int_keys(layers, x):
    h = x
    for k in range(len(layers)):        # a dict with int keys, a range known when built
        h = np.sin(layers[k] @ h)
    return np.sum(h)


def _fstring_keys(params, X):
    n_layers = len(params) // 2         # an int the structure decides
    h = X
    for i in range(n_layers):
        h = np.tanh(h @ params[f"W{i}"] + params[f"b{i}"])
    return np.sum(h ** 2) * n_layers


def _objects_by_index(ls, x):
    total = 0.0
    for i in range(1, len(ls)):
        total = total + np.sum(ls[i - 1].W * ls[i].W * x)
    return total


def _fd_dict(f, d, rest):
    out = {}
    for key, leaf in d.items():
        want = np.zeros_like(leaf)
        for k in range(leaf.size):
            up, down = copy.deepcopy(d), copy.deepcopy(d)
            up[key].flat[k] += EPS
            down[key].flat[k] -= EPS
            want.flat[k] = (f(up, *rest) - f(down, *rest)) / (2 * EPS)
        out[key] = want
    return out


@pytest.mark.parametrize("f,make", [
    (_int_keys, lambda g: ({0: g.standard_normal((2, 2)), 1: g.standard_normal((2, 2))},
                           g.standard_normal(2))),
    (_fstring_keys, lambda g: ({"W0": 0.5 * g.standard_normal((3, 3)), "b0": np.zeros(3),
                                "W1": 0.5 * g.standard_normal((3, 2)), "b1": np.zeros(2)},
                               g.standard_normal((4, 3)))),
    (_objects_by_index, lambda g: (_layers(g) + _layers(g)[:1], g.standard_normal(3)))])
def test_range_of_a_structure_unrolls(f, make):
    g = _rng(18)
    args = make(g)
    check(f, args, wrt=1)
    if isinstance(args[0], dict):
        got = srcad.grad(f)(*args)
        for key, want in _fd_dict(f, args[0], args[1:]).items():
            np.testing.assert_allclose(got[key], want, rtol=1e-6, atol=1e-8)
