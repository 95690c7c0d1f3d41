"""Functions srcad sees only as values (issue 13): a callable passed as an argument, held in
an object's attribute or a dict, zipped from a tuple display, or a closure's cell. The
derivative is built for the function passed (it is part of the variant's key, by identity),
so another function at a later call gets its own derivative, on the general path and on the
dispatcher's fast path alike."""
import functools

import numpy as np
import pytest

import srcad
from srcad import dispatch
from helpers import central_difference, count_builds

X = np.linspace(-0.7, 0.9, 4)
M = np.linspace(-0.5, 0.6, 6).reshape(2, 3)


def softplus(z):
    return np.log1p(np.exp(z))


cube = lambda z: z ** 3  # noqa: E731 - a lambda passed as a value, on a line of its own


def act_loss(x, act):
    return np.sum(act(x) * x)


def reduce_default(x, reduce=np.sum):
    return reduce(np.tanh(x) ** 2)


def passes_on(x, act):
    return helper_calls(x, act)


def helper_calls(z, f):
    return np.sum(f(z) ** 2)


_ACTS = [np.tanh, np.sin, softplus, cube, functools.partial(np.power, 1.5)]


def _check(f, args, wrt=0):
    """Reverse and forward mode against central differences."""
    fd = central_difference(f, args, wrt)
    np.testing.assert_allclose(srcad.grad(f, wrt=wrt)(*args), fd, rtol=1e-6, atol=1e-8)
    t = np.cos(np.arange(np.size(args[wrt]))).reshape(np.shape(args[wrt]))
    jvp = srcad.autodiff(f, mode="forward", wrt=wrt)(*args, t)
    np.testing.assert_allclose(jvp, np.sum(fd * t), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", _ACTS, ids=lambda a: getattr(a, "__name__", "partial"))
@pytest.mark.parametrize("x", [X, M], ids=["vector", "matrix"])
def test_a_function_passed_as_an_argument(act, x):
    _check(act_loss, (x, act))
    _check(passes_on, (x, act))      # handed on to a helper, which calls it


def _hot(d, *args):
    for _ in range(3):
        out = d(*args)
    assert dispatch.generated(d) is not None, "the fast path was not installed"
    return out


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_another_function_at_a_later_call_gets_its_own_derivative(mode):
    d = srcad.grad(act_loss) if mode == "reverse" else srcad.autodiff(act_loss, mode="forward")
    extra = () if mode == "reverse" else (np.ones_like(X),)

    def want(act):
        g = central_difference(act_loss, (X, act), 0)
        return g if mode == "reverse" else np.sum(g)
    np.testing.assert_allclose(_hot(d, X, np.tanh, *extra), want(np.tanh), rtol=1e-6)
    assert "a1 is _k" in d.__srcad_dispatcher__.source()     # the fast path tests it
    for act in (np.sin, softplus, np.tanh, cube):
        np.testing.assert_allclose(d(X, act, *extra), want(act), rtol=1e-6)
        np.testing.assert_allclose(_hot(d, X, act, *extra), want(act), rtol=1e-6)


def test_the_same_function_reuses_its_build(monkeypatch):
    srcad.clear_cache()
    builds = count_builds(monkeypatch)
    d = srcad.grad(act_loss)
    for act in (np.tanh, np.sin, np.tanh, np.sin):
        d(X, act)
    assert len(builds) == 2


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_callable_default_overridden(mode):
    for reduce, how in ((np.mean, "keyword"), (np.mean, "positional"), (np.sum, "default")):
        f = functools.partial(reduce_default, reduce=reduce)
        want = central_difference(f, (X,), 0)
        args, kw = ((X,), {"reduce": reduce}) if how == "keyword" else (
            ((X, reduce), {}) if how == "positional" else ((X,), {}))
        if mode == "reverse":
            got = srcad.grad(reduce_default)(*args, **kw)
        else:
            got = srcad.autodiff(reduce_default, mode="forward")(*args, np.ones_like(X), **kw)
            want = np.sum(want)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_default_and_its_override_on_the_fast_path():
    d = srcad.grad(reduce_default)
    by_default = central_difference(reduce_default, (X,), 0)
    mean = central_difference(lambda x: reduce_default(x, np.mean), (X,), 0)
    np.testing.assert_allclose(_hot(d, X), by_default, rtol=1e-6)
    np.testing.assert_allclose(_hot(d, X, np.mean), mean, rtol=1e-6)
    np.testing.assert_allclose(d(X), by_default, rtol=1e-6)
    np.testing.assert_allclose(d(X, np.sum), by_default, rtol=1e-6)


def test_second_order_with_a_callable_argument():
    # the function passed is a static argument: the Hessian is in x only
    v = np.cos(np.arange(4.0))
    for act in (np.tanh, softplus, np.tanh):
        fd = central_difference(lambda x: srcad.grad(act_loss)(x, act), (X,), 0)
        np.testing.assert_allclose(srcad.hessian(act_loss)(X, act), fd, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(srcad.hvp(act_loss)(X, act, v), fd @ v, rtol=1e-5,
                                   atol=1e-7)


def doubled(x, act):
    return act(x) * 2.0


def test_the_api_family_with_a_callable_argument():
    for act in (np.tanh, softplus):
        J = central_difference(doubled, (X, act), 0)
        for jac in (srcad.jacobian(doubled), srcad.jacobian(doubled, mode="forward"),
                    srcad.jacfwd(doubled), srcad.jacrev(doubled)):
            np.testing.assert_allclose(jac(X, act), J, rtol=1e-6, atol=1e-9)
        value, pullback = srcad.vjp(doubled, X, act)
        np.testing.assert_allclose(value, doubled(X, act))
        np.testing.assert_allclose(pullback(np.ones(4)), np.ones(4) @ J, rtol=1e-6)
        value, g = srcad.value_and_grad(act_loss)(X, act)
        np.testing.assert_allclose(value, act_loss(X, act))
        np.testing.assert_allclose(g, central_difference(act_loss, (X, act), 0), rtol=1e-6)
        srcad.check_grad(act_loss, X, act)
        assert "act(x)" in srcad.show(act_loss, X, act) or act is softplus


# -- functions held by objects and containers ---------------------------------------------------

class Net:
    def __init__(self, act):
        self.W = np.linspace(-0.4, 0.5, 9).reshape(3, 3)
        self.act = act

    def layer(self, h):
        return self.act(h @ self.W)

    def loss(self, x):
        return np.sum(self.layer(self.layer(x)) ** 2)


def takes_net(x, net):
    return np.sum(net.act(x @ net.W) * x)


def _net_fd(act, x=X[:3]):
    return central_difference(lambda x: Net(act).loss(x), (x,), 0)


def test_a_function_in_an_attribute_of_self():
    x = X[:3]
    for act in (np.tanh, softplus, cube):
        net = Net(act)
        np.testing.assert_allclose(srcad.grad(net.loss)(x), _net_fd(act), rtol=1e-6)
        np.testing.assert_allclose(srcad.grad(Net.loss, wrt=1)(net, x), _net_fd(act), rtol=1e-6)
        jvp = srcad.autodiff(net.loss, mode="forward")(x, np.ones(3))
        np.testing.assert_allclose(jvp, np.sum(_net_fd(act)), rtol=1e-6)
        _check(takes_net, (x, net))


def test_rebinding_the_attribute_between_calls_gives_the_new_derivative():
    x = X[:3]
    net = Net(np.tanh)
    d, dfwd, dnet = srcad.grad(net.loss), srcad.autodiff(net.loss, mode="forward"), \
        srcad.grad(takes_net)
    for act in (np.tanh, np.sin, softplus, np.tanh):
        net.act = act                # read at call time, never frozen
        for _ in range(3):           # calls enough for any fast path to be installed
            np.testing.assert_allclose(d(x), _net_fd(act), rtol=1e-6)
            np.testing.assert_allclose(dfwd(x, np.ones(3)), np.sum(_net_fd(act)), rtol=1e-6)
            np.testing.assert_allclose(dnet(x, net), central_difference(
                takes_net, (x, net), 0), rtol=1e-6)


def scaled(W, cfg, x):
    return np.sum(cfg["act"](x @ W) * cfg["scale"])


def test_a_function_in_a_dict_argument_on_the_fast_path():
    W = M.T.copy()
    x = np.linspace(0.2, 0.8, 3)
    d = srcad.grad(scaled)
    for act in (np.tanh, np.sin, softplus):
        cfg = {"act": act, "scale": 2.0}
        want = central_difference(scaled, (W, cfg, x), 0)
        np.testing.assert_allclose(d(W, cfg, x), want, rtol=1e-6)
        np.testing.assert_allclose(_hot(d, W, cfg, x), want, rtol=1e-6)
        cfg["act"] = np.cos             # the same dict, another function in it
        np.testing.assert_allclose(d(W, cfg, x), central_difference(scaled, (W, cfg, x), 0),
                                   rtol=1e-6)


def indexed(x, acts):
    first = acts[0]
    return np.sum(first(x) * acts[1](x))


def chained(x, acts):
    h = x
    for act in acts:
        h = act(h)
    return np.sum(h)


def test_functions_in_a_list_argument():
    acts = [np.tanh, softplus]
    for f in (indexed, chained):
        d = srcad.grad(f)
        for _ in range(2):
            _check(f, (X, acts))
            acts[1] = np.sin if acts[1] is softplus else softplus     # changed in place
            np.testing.assert_allclose(d(X, acts), central_difference(f, (X, acts), 0),
                                       rtol=1e-6)
        _check(f, (X, (np.cos, cube)))


def zipped(layers, x):
    h = x
    for layer, act in zip(layers, (np.tanh, softplus)):
        h = act(h @ layer["W"])
    return np.sum(h ** 2)


def zipped_flat(Ws, x):
    h = x
    for W, act in zip(Ws, (np.tanh, softplus)):
        h = act(h @ W)
    return np.sum(h ** 2)


def looped(x):
    h = x
    for act in (np.tanh, softplus, np.sin):
        h = act(h)
    acts = (np.cos, cube)
    return np.sum(h * acts[0](x) + acts[1](h))


def test_functions_taken_from_a_tuple_display():
    layers = [{"W": M.T.copy()}, {"W": np.linspace(-1.0, 1.0, 4).reshape(2, 2)}]
    x = np.linspace(0.2, 0.8, 3)
    g = srcad.grad(zipped)(layers, x)
    for i in range(2):
        fd = central_difference(lambda W: zipped(
            [dict(layers[0], W=W) if i == 0 else layers[0],
             dict(layers[1], W=W) if i == 1 else layers[1]], x), (layers[i]["W"],), 0)
        np.testing.assert_allclose(g[i]["W"], fd, rtol=1e-6)
    _check(zipped, (layers, x), wrt=1)
    _check(looped, (X,))
    Ws = [M.T @ M, M.T.copy(), np.eye(2)]
    for n in (3, 2, 1):          # zip stops at the shortest: as many layers as Ws has, to 2
        _check(zipped_flat, (Ws[:n], x), wrt=1)
        g = srcad.grad(zipped_flat)(Ws[:n], x)
        assert isinstance(g, list) and len(g) == n
        for i in range(n):
            fd = central_difference(lambda W: zipped_flat(Ws[:i] + [W] + Ws[i + 1:n], x),
                                    (Ws[i],), 0)
            np.testing.assert_allclose(g[i], fd, rtol=1e-6, atol=1e-9)
    text = srcad.show(looped, X)
    assert "np.tanh(x)" in text and "act" not in text.split("return")[0].split("def ")[-1]


def test_a_closure_cell_holding_a_function():
    def make(act):
        def f(x):
            return np.sum(act(x) * x)
        return f
    for act in (np.tanh, softplus):
        _check(make(act), (X,))

    def rebindable():
        act = np.tanh

        def f(x):
            return np.sum(act(x) * x)

        def rebind(new):
            nonlocal act
            act = new
        return f, rebind
    f, rebind = rebindable()
    d = srcad.grad(f)
    np.testing.assert_allclose(_hot(d, X), central_difference(f, (X,), 0), rtol=1e-6)
    rebind(np.sin)                   # the cell changes: the next call sees it
    np.testing.assert_allclose(d(X), central_difference(f, (X,), 0), rtol=1e-6)


# -- what srcad refuses ---------------------------------------------------------------------

def test_a_callable_without_a_rule_is_a_located_no_rule_error():
    import math
    with pytest.raises(srcad.NoRuleError, match="math.gamma") as info:
        srcad.grad(act_loss)(X, math.gamma)
    assert info.value.location.lineno == act_loss.__code__.co_firstlineno + 1


def test_a_bound_method_passed_as_a_value_is_called_as_the_method():
    net = Net(np.tanh)              # its object a container: net.W read, net.act called
    _check(act_loss, (X[:3], net.layer))


class SelfBound(Net):
    def __init__(self):
        super().__init__(None)
        self.act = self.relu            # a bound method held as a value

    def relu(self, z):
        return np.maximum(z, 0.0)


def test_a_bound_method_held_by_self_is_refused_with_its_location():
    with pytest.raises(srcad.NoRuleError, match="bound method SelfBound.relu") as info:
        srcad.grad(SelfBound().loss)(X[:3])
    assert info.value.location.lineno == Net.layer.__code__.co_firstlineno + 1


def test_differentiating_with_respect_to_a_function_is_refused():
    with pytest.raises(srcad.NotDifferentiableError, match="act: it is a function"):
        srcad.grad(act_loss, wrt=1)(X, np.tanh)


def test_no_function_passed_for_a_called_parameter_says_so():
    with pytest.raises(srcad.NoRuleError, match="`act` is called as a function, and no "
                       "function was passed"):
        srcad.show(act_loss)          # the generic derivative: no call, no function
    assert "def dact_loss" in srcad.show(act_loss, X, np.tanh)
