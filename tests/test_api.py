"""The public API contract (DESIGN.md section 1): decorator forms, wrt conventions, seeds and
tangents, preserve_result, dtypes, jvp/vjp, jacobian/hessian/hvp, the cache and its
staleness checks, stop_gradient, user-registered rules and verbose output."""
import math

import numpy as np
import pytest

import srcad
from helpers import count_builds, make_function

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal(3)
W23 = RNG.standard_normal((2, 3))
B2 = RNG.standard_normal(2)


def _fd_grad(f, args, i, h=1e-6):
    """Central finite-difference gradient of scalar f in argument i (array or float)."""
    args = list(args)
    x = args[i]
    if isinstance(x, float):
        plus, minus = list(args), list(args)
        plus[i], minus[i] = x + h, x - h
        return (f(*plus) - f(*minus)) / (2 * h)
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        plus, minus = list(args), list(args)
        plus[i], minus[i] = x + e, x - e
        out[k] = (f(*plus) - f(*minus)) / (2 * h)
    return out


def _fd_jacobian(f, args, i, h=1e-6):
    args = list(args)
    x = np.asarray(args[i], dtype=float)
    y = np.asarray(f(*args))
    jac = np.zeros(y.shape + x.shape)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        plus, minus = list(args), list(args)
        plus[i], minus[i] = x + e, x - e
        jac[(Ellipsis,) + k] = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * h)
    return jac


# -- functions under test ---------------------------------------------------------------------

def loss(w, b, x):
    return np.sum(np.tanh(w @ x + b) ** 2)


def loss_grad_w(w, b, x):
    t = np.tanh(w @ x + b)
    return np.outer(2.0 * t * (1.0 - t * t), x)


def loss_grad_b(w, b, x):
    t = np.tanh(w @ x + b)
    return 2.0 * t * (1.0 - t * t)


def vector_fn(x, y):
    return np.sin(x) * y


def scalar_fn(x, y):
    return x * x * y + math.sin(y)


@srcad.grad
def dscalar_decorated(x, y):
    return x * x * y + math.sin(y)


@srcad.grad(wrt=(0, 1))
def dscalar_decorated_both(x, y):
    return x * x * y + math.sin(y)


@srcad.value_and_grad(wrt="y")
def vg_decorated(x, y):
    return x * x * y + math.sin(y)


# -- decorator forms and wrt ----------------------------------------------------------------

def test_decorator_without_arguments():
    assert dscalar_decorated(1.5, 0.5) == pytest.approx(2 * 1.5 * 0.5)


def test_decorator_with_wrt_tuple():
    gx, gy = dscalar_decorated_both(1.5, 0.5)
    assert gx == pytest.approx(1.5)
    assert gy == pytest.approx(1.5 ** 2 + math.cos(0.5))


def test_value_and_grad_decorator_with_name():
    value, gy = vg_decorated(1.5, 0.5)
    assert value == pytest.approx(scalar_fn(1.5, 0.5))
    assert gy == pytest.approx(1.5 ** 2 + math.cos(0.5))


def test_int_wrt_gives_a_single_value():
    g = srcad.grad(loss, wrt=1)(W23, B2, X3)
    assert isinstance(g, np.ndarray) and g.shape == B2.shape
    np.testing.assert_allclose(g, loss_grad_b(W23, B2, X3), rtol=1e-12)


def test_default_wrt_is_first_argument():
    g = srcad.grad(loss)(W23, B2, X3)
    np.testing.assert_allclose(g, loss_grad_w(W23, B2, X3), rtol=1e-12)


def test_tuple_wrt_gives_tuple_in_wrt_order():
    g = srcad.grad(loss, wrt=(1, 0))(W23, B2, X3)
    assert isinstance(g, tuple) and len(g) == 2
    np.testing.assert_allclose(g[0], loss_grad_b(W23, B2, X3), rtol=1e-12)
    np.testing.assert_allclose(g[1], loss_grad_w(W23, B2, X3), rtol=1e-12)


def test_one_element_tuple_wrt_gives_one_tuple():
    g = srcad.grad(loss, wrt=(0,))(W23, B2, X3)
    assert isinstance(g, tuple) and len(g) == 1
    np.testing.assert_allclose(g[0], loss_grad_w(W23, B2, X3), rtol=1e-12)


def test_wrt_by_name():
    gw = srcad.grad(loss, wrt="w")(W23, B2, X3)
    np.testing.assert_allclose(gw, loss_grad_w(W23, B2, X3), rtol=1e-12)
    gw2, gb = srcad.grad(loss, wrt=("w", "b"))(W23, B2, X3)
    np.testing.assert_allclose(gw2, gw, rtol=1e-15)
    np.testing.assert_allclose(gb, loss_grad_b(W23, B2, X3), rtol=1e-12)


def test_wrt_mixing_names_and_negative_indices():
    gb, gx = srcad.grad(loss, wrt=("b", -1))(W23, B2, X3)
    np.testing.assert_allclose(gb, loss_grad_b(W23, B2, X3), rtol=1e-12)
    np.testing.assert_allclose(gx, _fd_grad(loss, (W23, B2, X3), 2), rtol=1e-6, atol=1e-8)


def test_unknown_wrt_name_is_an_error():
    with pytest.raises(ValueError, match="no parameter named"):
        srcad.grad(loss, wrt="nope")


def test_integer_argument_is_not_differentiable():
    with pytest.raises(srcad.NotDifferentiableError):
        srcad.grad(scalar_fn)(3, 0.5)


def test_grad_of_vector_output_is_an_error():
    with pytest.raises(srcad.ShapeMismatchError):
        srcad.grad(vector_fn)(X3, X3)


# -- value_and_grad, autodiff ---------------------------------------------------------------

def test_value_and_grad():
    value, (gw, gb) = srcad.value_and_grad(loss, wrt=(0, 1))(W23, B2, X3)
    assert value == pytest.approx(loss(W23, B2, X3), rel=1e-14)
    np.testing.assert_allclose(gw, loss_grad_w(W23, B2, X3), rtol=1e-12)
    np.testing.assert_allclose(gb, loss_grad_b(W23, B2, X3), rtol=1e-12)


def test_reverse_default_seed_is_ones():
    dr = srcad.autodiff(vector_fn, mode="reverse", wrt=0)
    np.testing.assert_allclose(dr(X3, 2.0 * X3), dr(X3, 2.0 * X3, seed=np.ones(3)))
    np.testing.assert_allclose(dr(X3, 2.0 * X3), np.cos(X3) * 2.0 * X3, rtol=1e-14)


def test_reverse_with_seed_is_a_vjp():
    seed = np.array([1.0, -2.0, 0.5])
    gx, gy = srcad.autodiff(vector_fn, mode="reverse", wrt=(0, 1))(X3, X3 + 1.0, seed=seed)
    np.testing.assert_allclose(gx, seed * np.cos(X3) * (X3 + 1.0), rtol=1e-14)
    np.testing.assert_allclose(gy, seed * np.sin(X3), rtol=1e-14)


def test_reverse_seed_shape_mismatch_is_an_error():
    dr = srcad.autodiff(vector_fn, mode="reverse")
    with pytest.raises(srcad.ShapeMismatchError):
        dr(X3, X3, seed=np.ones(4))


def test_forward_with_tangents_is_a_jvp():
    tx, ty = np.array([1.0, 0.0, -1.0]), np.array([0.5, 0.5, 0.5])
    y = X3 + 1.0
    jv = srcad.autodiff(vector_fn, mode="forward", wrt=(0, 1))(X3, y, tx, ty)
    np.testing.assert_allclose(jv, np.cos(X3) * y * tx + np.sin(X3) * ty, rtol=1e-14)
    jv0 = srcad.autodiff(vector_fn, mode="forward", wrt=0)(X3, y, tx)
    np.testing.assert_allclose(jv0, np.cos(X3) * y * tx, rtol=1e-14)


def test_forward_on_python_floats():
    df = srcad.autodiff(scalar_fn, mode="forward", wrt=(0, 1))
    assert df(1.5, 0.5, 1.0, 0.0) == pytest.approx(2 * 1.5 * 0.5)
    assert df(1.5, 0.5, 0.0, 1.0) == pytest.approx(1.5 ** 2 + math.cos(0.5))


def test_preserve_result():
    value, g = srcad.grad(loss, wrt=1, preserve_result=True)(W23, B2, X3)
    assert value == pytest.approx(loss(W23, B2, X3), rel=1e-14)
    np.testing.assert_allclose(g, loss_grad_b(W23, B2, X3), rtol=1e-12)
    value, vjp = srcad.autodiff(vector_fn, mode="reverse", preserve_result=True)(X3, X3)
    np.testing.assert_allclose(value, vector_fn(X3, X3))
    np.testing.assert_allclose(vjp, np.cos(X3) * X3)
    value, jv = srcad.autodiff(vector_fn, mode="forward", preserve_result=True)(X3, X3,
                                                                               np.ones(3))
    np.testing.assert_allclose(value, vector_fn(X3, X3))
    np.testing.assert_allclose(jv, np.cos(X3) * X3)


# -- dtypes and structure --------------------------------------------------------------------

def test_float32_array_gets_float32_gradient():
    w, b, x = (a.astype(np.float32) for a in (W23, B2, X3))
    gw, gb = srcad.grad(loss, wrt=(0, 1))(w, b, x)
    assert gw.dtype == np.float32 and gb.dtype == np.float32
    np.testing.assert_allclose(gw, loss_grad_w(W23, B2, X3), rtol=1e-4, atol=1e-5)


def test_float32_generated_code_stays_float32():
    """No silent float64 promotion inside the generated code (constants are Python floats)."""
    f = make_function("""
        def f(x):
            return np.sum(0.5 * x * x + np.exp(-x) / 3.0)
    """)
    g = srcad.grad(f)(X3.astype(np.float32))
    assert g.dtype == np.float32
    jv = srcad.autodiff(f, mode="forward")(X3.astype(np.float32), np.ones(3, np.float32))
    assert np.asarray(jv).dtype == np.float32


def test_forward_float32_tangent_output():
    x = X3.astype(np.float32)
    jv = srcad.autodiff(vector_fn, mode="forward")(x, x, np.ones(3, np.float32))
    assert jv.dtype == np.float32


def test_python_float_gets_python_float():
    gx, gy = srcad.grad(scalar_fn, wrt=(0, 1))(1.5, 0.5)
    assert type(gx) is float and type(gy) is float
    value, g = srcad.value_and_grad(scalar_fn)(1.5, 0.5)
    assert type(g) is float
    dr = srcad.autodiff(scalar_fn, mode="reverse", wrt=1)(1.5, 0.5)
    assert type(dr) is float


def test_numpy_scalar_gets_numpy_scalar():
    g = srcad.grad(scalar_fn)(np.float32(1.5), 0.5)
    assert isinstance(g, np.float32)


def test_gradient_has_argument_shape_under_broadcasting():
    f = make_function("""
        def f(x, c):
            return np.sum(np.sin(x + c))
    """)
    g = srcad.grad(f, wrt=(0, 1))(RNG.standard_normal((4, 3)), 0.3)
    assert g[0].shape == (4, 3) and type(g[1]) is float


def params_loss(params, x):
    w, b = params
    return np.sum((w * x + b) ** 2)


def test_tuple_argument_gets_tuple_gradient():
    params = (np.array([1.0, 2.0]), np.array([0.5, -0.5]))
    x = np.array([0.3, -1.2])
    g = srcad.grad(params_loss)(params, x)
    r = 2.0 * (params[0] * x + params[1])
    assert isinstance(g, tuple) and len(g) == 2
    np.testing.assert_allclose(g[0], r * x, rtol=1e-14)
    np.testing.assert_allclose(g[1], r, rtol=1e-14)


# -- jvp, vjp, jacobian, hessian, hvp ---------------------------------------------------------

def test_jvp():
    y = X3 + 1.0
    value, jv = srcad.jvp(vector_fn, (X3, y), (np.ones(3), np.zeros(3)))
    np.testing.assert_allclose(value, vector_fn(X3, y))
    np.testing.assert_allclose(jv, np.cos(X3) * y, rtol=1e-14)


def test_vjp():
    value, vjp_fn = srcad.vjp(vector_fn, X3, X3 + 1.0, wrt=(0, 1))
    np.testing.assert_allclose(value, vector_fn(X3, X3 + 1.0))
    gx, gy = vjp_fn(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(gx, np.array([1.0, 2.0, 3.0]) * np.cos(X3) * (X3 + 1.0))
    np.testing.assert_allclose(gy, np.array([1.0, 2.0, 3.0]) * np.sin(X3))


def jac_fn(x, W):
    return np.tanh(W @ x) * x[0] + np.sum(x ** 2)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("shapes", [((4,), (3, 4)), ((2,), (5, 2)), ((3,), (3, 3))],
                         ids=["wide", "tall", "square"])
def test_jacobian_modes_agree_with_finite_differences(mode, shapes):
    x = RNG.standard_normal(shapes[0])
    W = RNG.standard_normal(shapes[1])
    jac = srcad.jacobian(jac_fn, mode=mode)(x, W)
    assert jac.shape == (shapes[1][0],) + shapes[0]
    np.testing.assert_allclose(jac, _fd_jacobian(jac_fn, (x, W), 0), rtol=1e-6, atol=1e-8)


def test_jacobian_of_matrix_argument():
    x = RNG.standard_normal(3)
    W = RNG.standard_normal((2, 3))
    jac = srcad.jacobian(jac_fn, wrt=1)(x, W)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac, _fd_jacobian(jac_fn, (x, W), 1), rtol=1e-6, atol=1e-8)


def quad_energy(x, A):
    return 0.5 * x @ A @ x + np.sum(np.sin(x))


def test_hessian_matches_closed_form():
    A = RNG.standard_normal((4, 4))
    x = RNG.standard_normal(4)
    H = srcad.hessian(quad_energy)(x, A)
    np.testing.assert_allclose(H, 0.5 * (A + A.T) - np.diag(np.sin(x)), rtol=1e-12,
                               atol=1e-12)


def test_hessian_of_python_float_function():
    H = srcad.hessian(scalar_fn, wrt=1)(1.5, 0.5)
    assert float(np.asarray(H)) == pytest.approx(-math.sin(0.5))


def test_hvp():
    A = RNG.standard_normal((4, 4))
    x, v = RNG.standard_normal(4), RNG.standard_normal(4)
    hv = srcad.hvp(quad_energy)(x, A, v)
    np.testing.assert_allclose(hv, (0.5 * (A + A.T) - np.diag(np.sin(x))) @ v, rtol=1e-12)


# -- cache and staleness ------------------------------------------------------------------------

def test_second_grad_does_not_rebuild(monkeypatch):
    f = make_function("""
        def cached(x):
            return np.sum(np.cos(x) * x)
    """)
    calls = count_builds(monkeypatch)
    g1 = srcad.grad(f)(X3)
    # srcad.grad builds the generic derivative (errors surface there); the first call builds
    # the variant specialized for its argument ranks. Nothing is built again after that.
    assert calls == ["cached", "cached"]
    g2 = srcad.grad(f)(X3)
    assert calls == ["cached", "cached"]
    np.testing.assert_array_equal(g1, g2)
    srcad.show(f)
    assert calls == ["cached", "cached"]


def test_clear_cache_rebuilds_same_result(monkeypatch):
    f = make_function("""
        def cached2(x):
            return np.sum(np.cos(x) * x)
    """)
    calls = count_builds(monkeypatch)
    g1 = srcad.grad(f)(X3)
    srcad.clear_cache()
    g2 = srcad.grad(f)(X3)
    assert calls == ["cached2"] * 4     # generic + specialized, twice
    np.testing.assert_array_equal(g1, g2)


HELPER_SOURCE = """
    def helper(x):
        return {body}

    def outer(x):
        return np.sum(helper(x) * 2.0)
"""


def test_redefined_helper_is_seen():
    ns = {}
    f = make_function(HELPER_SOURCE.format(body="np.sin(x)"), ns, name="outer")
    df = srcad.grad(f)
    np.testing.assert_allclose(df(X3), 2.0 * np.cos(X3))
    make_function("""
        def helper(x):
            return x ** 3
    """, ns)                                      # rebinds ns['helper']
    np.testing.assert_allclose(f(X3), np.sum(2.0 * X3 ** 3))
    np.testing.assert_allclose(df(X3), 6.0 * X3 ** 2)        # the old derivative object
    np.testing.assert_allclose(srcad.grad(f)(X3), 6.0 * X3 ** 2)


def test_helper_code_replaced_in_place_is_seen():
    ns = {}
    f = make_function(HELPER_SOURCE.format(body="np.sin(x)"), ns, name="outer")
    np.testing.assert_allclose(srcad.grad(f)(X3), 2.0 * np.cos(X3))
    new = make_function("""
        def helper(x):
            return np.exp(x)
    """)
    ns["helper"].__code__ = new.__code__
    np.testing.assert_allclose(srcad.grad(f)(X3), 2.0 * np.exp(X3))


def test_rebound_global_callee_is_seen():
    ns = {"act": np.tanh}
    f = make_function("""
        def uses_act(x):
            return np.sum(act(x))
    """, ns)
    df = srcad.grad(f)
    np.testing.assert_allclose(df(X3), 1.0 - np.tanh(X3) ** 2)
    ns["act"] = np.sin
    np.testing.assert_allclose(df(X3), np.cos(X3))
    np.testing.assert_allclose(srcad.grad(f)(X3), np.cos(X3))


def test_module_constants_are_read_at_call_time():
    ns = {"SCALE": 2.0, "OFFSET": np.array([1.0, 2.0, 3.0])}
    f = make_function("""
        def scaled(x):
            return SCALE * np.sum((x - OFFSET) ** 2)
    """, ns)
    df = srcad.grad(f)
    np.testing.assert_allclose(df(X3), 4.0 * (X3 - ns["OFFSET"]))
    ns["SCALE"] = 5.0
    ns["OFFSET"] = np.zeros(3)
    np.testing.assert_allclose(df(X3), 10.0 * X3)
    np.testing.assert_allclose(srcad.grad(f)(X3), 10.0 * X3)


def test_redefined_function_itself_is_seen():
    ns = {}
    f = make_function("""
        def g(x):
            return np.sum(x ** 2)
    """, ns)
    np.testing.assert_allclose(srcad.grad(f)(X3), 2.0 * X3)
    f.__code__ = make_function("""
        def g(x):
            return np.sum(x ** 3)
    """).__code__
    np.testing.assert_allclose(srcad.grad(f)(X3), 3.0 * X3 ** 2)


def test_closure_variable_is_read_at_call_time():
    def make(scale):
        def closure_loss(x):
            return scale * np.sum(x * x)
        return closure_loss
    f = make(3.0)
    np.testing.assert_allclose(srcad.grad(f)(X3), 6.0 * X3)
    np.testing.assert_allclose(srcad.grad(make(0.5))(X3), 1.0 * X3)


# -- stop_gradient, user rules, verbose ----------------------------------------------------------

def stopped(x):
    return np.sum(x * srcad.stop_gradient(x))


def test_stop_gradient():
    np.testing.assert_allclose(srcad.grad(stopped)(X3), X3, rtol=1e-15)
    jv = srcad.autodiff(stopped, mode="forward")(X3, np.ones(3))
    assert jv == pytest.approx(np.sum(X3))


def stopped_baseline(x, y):
    baseline = srcad.stop_gradient(np.mean(x))
    return np.sum((x - baseline) ** 2) * y


def test_stop_gradient_of_an_expression():
    x = np.array([1.0, 2.0, 4.0])
    g = srcad.grad(stopped_baseline)(x, 1.5)
    np.testing.assert_allclose(g, 1.5 * 2.0 * (x - np.mean(x)), rtol=1e-14)


def my_softplus(x):
    """A user primitive: srcad must call it and use the registered rules, not inline it."""
    return np.logaddexp(0.0, x)


def uses_my_softplus(w, x):
    return np.sum(my_softplus(x @ w) * 0.5)


@pytest.fixture(scope="module")
def softplus_rules():
    from srcad.template import d

    @srcad.register_adjoint(my_softplus)
    def my_softplus_adjoint(y, x):
        d[x] = d[y] * (1.0 - np.exp(-y))        # sigmoid(x) = 1 - exp(-softplus(x))

    @srcad.register_tangent(my_softplus)
    def my_softplus_tangent(y, x):
        d[y] = d[x] * (1.0 - np.exp(-y))


def test_registered_user_rule(softplus_rules):
    w = RNG.standard_normal(3)
    x = RNG.standard_normal((5, 3))
    srcad.check_grad(uses_my_softplus, w, x, wrt=(0, 1))
    source = srcad.show(uses_my_softplus)
    assert "my_softplus(" in source and "logaddexp" not in source
    sig = 1.0 / (1.0 + np.exp(-(x @ w)))
    np.testing.assert_allclose(srcad.grad(uses_my_softplus)(w, x), 0.5 * sig @ x, rtol=1e-12)


def test_verbose_prints_generated_source(capsys):
    df = srcad.grad(scalar_fn, verbose=1)
    printed = capsys.readouterr().out
    assert "def dscalar_fn" in printed
    assert printed.strip() == df.source().strip()
    assert srcad.show(scalar_fn).startswith(df.source())     # then the imports it needs


def test_verbose_zero_prints_nothing(capsys):
    srcad.grad(scalar_fn, wrt=1)
    assert capsys.readouterr().out == ""


def test_show_forward_and_options():
    src = srcad.show(scalar_fn, mode="forward", wrt=(0, 1))
    assert "def " in src and "mode=forward" in src
    unopt = srcad.show(scalar_fn, optimized=False)
    assert "unoptimized" in unopt


def test_check_grad_is_exported():
    srcad.check_grad(loss, W23, B2, X3, wrt=(0, 1, 2))


# -- defaults, keyword arguments and keyword-only parameters ----------------------------------

def with_default(w, l1=0.05):
    return l1 * np.sum(np.abs(w))


def with_kwonly(x, *, s=2.0):
    return s * np.sum(x ** 2)


def test_reverse_seed_with_omitted_default():
    """The seed must not land in an omitted defaulted parameter."""
    w = np.array([1.0, -2.0, 3.0])
    g = srcad.autodiff(with_default, mode="reverse")(w, seed=2.0)
    np.testing.assert_allclose(g, 2.0 * 0.05 * np.sign(w))
    _, vjp_fn = srcad.vjp(with_default, w)
    np.testing.assert_allclose(vjp_fn(2.0), 2.0 * 0.05 * np.sign(w))


def test_keyword_arguments_at_call_time():
    w = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(srcad.grad(with_default)(w, l1=0.5), 0.5 * np.sign(w))
    np.testing.assert_allclose(
        srcad.autodiff(with_default, mode="reverse")(w, l1=0.5, seed=2.0), np.sign(w))
    jv = srcad.autodiff(with_default, mode="forward")(w, np.ones(3), l1=0.5)
    assert jv == pytest.approx(0.5 * np.sum(np.sign(w)))


def test_keyword_only_parameters_in_every_mode():
    np.testing.assert_allclose(srcad.grad(with_kwonly)(X3), 4.0 * X3)
    np.testing.assert_allclose(srcad.grad(with_kwonly)(X3, s=1.0), 2.0 * X3)
    np.testing.assert_allclose(
        srcad.autodiff(with_kwonly, mode="reverse")(X3, s=1.0, seed=3.0), 6.0 * X3)
    jv = srcad.autodiff(with_kwonly, mode="forward")(X3, np.ones(3), s=1.0)
    assert jv == pytest.approx(2.0 * np.sum(X3))
    srcad.check_grad(with_kwonly, X3, mode="both")


def test_wrt_argument_passed_by_keyword():
    g = srcad.grad(with_default, wrt="l1")(X3, l1=0.5)
    assert g == pytest.approx(np.sum(np.abs(X3)))


def test_default_from_enclosing_scope():
    def make(v):
        def scaled_by_default(x, c=v):
            return c * np.sum(x * x)
        return scaled_by_default
    f = make(3.0)
    np.testing.assert_allclose(srcad.grad(f)(X3), 6.0 * X3)
    jv = srcad.autodiff(f, mode="forward")(X3, np.ones(3))
    assert jv == pytest.approx(6.0 * np.sum(X3))


def test_changed_defaults_are_seen():
    f = make_function("""
        def changed_defaults(x, c=0.5):
            return c * np.sum(x ** 2)
    """)
    np.testing.assert_allclose(srcad.grad(f)(X3), X3)
    f.__defaults__ = (2.0,)
    np.testing.assert_allclose(srcad.grad(f)(X3), 4.0 * X3)


def test_forward_tangent_shape_mismatch_is_an_error():
    df = srcad.autodiff(vector_fn, mode="forward")
    with pytest.raises(srcad.ShapeMismatchError):
        df(X3, X3, np.ones(4))


class Model:
    def __init__(self, scale):
        self.scale = scale

    def loss(self, x):
        return np.sum(x * x)


def test_bound_method():
    np.testing.assert_allclose(srcad.grad(Model(2.0).loss)(X3), 2.0 * X3)


def test_mixed_float32_and_python_float_arguments():
    f = make_function("""
        def mixed(x, c):
            return c * np.sum(np.sin(x))
    """)
    x = X3.astype(np.float32)
    gx, gc = srcad.grad(f, wrt=(0, 1))(x, 0.5)
    assert gx.dtype == np.float32 and type(gc) is float
    assert gc == pytest.approx(float(np.sum(np.sin(x))), rel=1e-6)


def test_derivatives_are_the_callers_own_arrays():
    """Derivative code may return an argument itself (d/dx sum(w * x) is w), one array for
    two derivatives, or a view: the caller still gets arrays that share nothing."""
    f = make_function("""
        def shared(x, w):
            return np.sum(w * x) + np.sum(np.exp(x + w))
    """)
    x, w = np.linspace(0.1, 0.5, 5), np.linspace(1.0, 2.0, 5)
    gx, gw = srcad.grad(f, wrt=(0, 1))(x, w)
    assert gx is not gw and not np.shares_memory(gx, gw)
    assert not np.shares_memory(gx, w) and not np.shares_memory(gw, x)
    gx[:] = 0.0
    np.testing.assert_array_equal(w, np.linspace(1.0, 2.0, 5))
    g = make_function("""
        def linear(x, w):
            return np.sum(w * x)
    """)
    dx = srcad.grad(g)(x, w)
    assert not np.shares_memory(dx, w)
    jvp = srcad.autodiff(make_function("""
        def ident(x):
            return x * 1.0
    """), mode="forward")
    t = np.ones(5)
    assert not np.shares_memory(jvp(x, t), t)


def cubic_sines(x):
    return np.sum(np.sin(x) ** 3)


def scaled_powers(x, a, b=2.0):
    return np.sum(a * x ** b)


def test_an_hvp_is_shown_and_differentiated_as_its_forward_over_reverse_sweep():
    """hvp returned a lambda of srcad's own (*-unpacking in api.py): show(hvp(f), x, v)
    and grad of a function calling srcad.hvp(f)(x, v) were refused pointing into srcad's
    source, and hvp inside a differentiated function could not be resolved."""
    x, v = np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0, 0.5])
    shown = srcad.show(srcad.hvp(cubic_sines), x, v, mode="forward")
    assert "def " in shown and "api.py" not in shown
    third = make_function("""
        def third(x, v):
            return np.sum(srcad.hvp(cubic_sines)(x, v) ** 2)
    """, {"np": np, "srcad": srcad, "cubic_sines": cubic_sines})
    np.testing.assert_allclose(srcad.grad(third)(x, v), _fd_grad(third, (x, v), 0),
                               rtol=1e-6, atol=1e-8)
    method = srcad.hvp(Model(2.0).loss)
    np.testing.assert_allclose(method(x, v), 2.0 * v)
    assert "def " in srcad.show(method, x, v, mode="forward")


def test_show_of_a_partial_with_example_arguments_uses_the_bound_values():
    """show(functools.partial(h, a=3.0), x) failed with an AttributeError
    (no __srcad_variant__ on the partial's derivative)."""
    import functools
    x = np.array([1.0, 2.0])
    by_keyword = srcad.show(functools.partial(scaled_powers, a=3.0), x)
    assert by_keyword.startswith("# Generated by srcad from scaled_powers")
    by_position = srcad.show(functools.partial(scaled_powers, x), 3.0, wrt=0)
    assert "def " in by_position
    generic = srcad.show(functools.partial(scaled_powers, x))   # its function's, wrt=a
    assert "def dscaled_powers_da(x, a, b=2.0):" in generic
