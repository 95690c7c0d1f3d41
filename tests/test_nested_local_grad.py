"""srcad.grad / value_and_grad / hvp / jvp of a LOCAL function inside a differentiated function
(issue 13): a lambda, a nested def, a functools.partial bound to a local name (of module-level
or local values), a local alias of a module function, a closure over the enclosing function's
arrays. Each checked against central finite differences in float64: reverse (srcad.grad of
the outer function), forward (srcad.jvp) and second order (srcad.hvp) where it applies.
Before session 11 each of these was refused (NoRuleError), and before that some silently
used the module-level function of the same name."""
import functools

import numpy as np
import pytest

import srcad

RNG = np.random.default_rng(13)
EPS = 1e-6


def fd_grad(f, x, *args):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = EPS
        g[i] = (f(x + e, *args) - f(x - e, *args)) / (2 * EPS)
    return g


def fd_dir(f, x, t, *args):
    return (np.asarray(f(x + EPS * t, *args)) - np.asarray(f(x - EPS * t, *args))) / (2 * EPS)


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=tol, atol=tol)


def check(f, x, *args, second=True):
    """Reverse, forward and (optionally) hvp of scalar f in its first argument, against FD;
    the argument is not written into."""
    x0 = x.copy()
    g = srcad.grad(f)(x, *args)
    assert isinstance(g, np.ndarray) and g.shape == x.shape
    close(g, fd_grad(f, x, *args))
    t = RNG.standard_normal(x.shape)
    val, tan = srcad.jvp(f, (x, *args), (t,) + tuple(np.zeros_like(a) for a in args))
    close(val, f(x, *args))
    close(tan, np.sum(fd_grad(f, x, *args) * t))
    if second:
        v = RNG.standard_normal(x.shape)
        hv = srcad.hvp(f)(x, *args, v)
        close(hv, fd_dir(lambda z: srcad.grad(f)(z, *args), x, v), 1e-4)
    np.testing.assert_array_equal(x, x0)


SHAPES = [(3,), (2, 3), (4, 2)]


def x_of(shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- module-level functions the
# locals below shadow (a derivative using these is wrong)

def q(z):
    return np.sum(z ** 4) * 100.0


def h(x, y):
    return np.sum(x * x * y + np.sin(x))


def shadowed(z):
    return np.sum(np.cos(z)) * 7.0


# ---------------------------------------------------------------- the forms

def lambda_form(x):
    q = lambda z: np.sum(z ** 2 * np.sin(z))
    return np.sum(srcad.grad(q)(x) * x)


def lambda_inline(x):
    return np.sum(srcad.grad(lambda z: np.sum(np.exp(0.3 * z) * z))(x) ** 2)


def nested_def(x):
    def q(z):
        s = np.tanh(z)
        return np.sum(s * s * z)
    return np.sum(srcad.grad(q)(x) * np.cos(x))


def derivative_bound_first(x):
    def shadowed(z):
        return np.sum(np.sin(z) * z)
    dq = srcad.grad(shadowed)
    return np.sum(dq(x) ** 2) + np.sum(dq(2.0 * x))


def alias(x):
    q = h
    return np.sum(srcad.grad(q)(x, 2.0) * x)


def partial_keyword(x):
    q = functools.partial(h, y=1.5)
    return np.sum(srcad.grad(q)(x) * np.exp(x))


def partial_positional(x):
    g = functools.partial(h, 0.5)          # h(0.5, y): its gradient in y
    return np.sum(srcad.grad(g)(x) * x)


def partial_of_local_array(x):
    P = np.sin(x) + x ** 2
    g = functools.partial(h, y=P)          # the local P, bound by keyword
    return np.sum(srcad.grad(g)(x) * x)


def partial_local_called(x):
    P = x ** 2
    g = functools.partial(np.multiply, P)
    return np.sum(g(x) + g(np.sin(x)))


def closure_over_outer(x):
    W = np.outer(np.arange(1.0, 4.0), np.ones(x.shape[-1])) * 0.2
    c = np.linspace(-1.0, 1.0, x.shape[-1])
    r = np.ravel(x)[:3]
    return np.sum(srcad.grad(lambda v: np.sum(np.tanh(W @ v) * r))(c) * c)


def closure_over_parameter(W):
    v0 = np.linspace(0.5, -0.5, W.shape[-1])
    c = np.linspace(1.0, 2.0, W.shape[-1])
    return np.sum(srcad.grad(lambda v: np.sum(np.tanh(W @ v)))(v0) * c)


def closure_def_reads_rebound(x):
    a = x * 2.0
    def q(z):
        return np.sum(np.sin(a * z))
    g1 = srcad.grad(q)(x)
    a = np.exp(x)                          # late binding: the second call reads this a
    g2 = srcad.grad(q)(x)
    return np.sum(g1 * g2)


def value_and_grad_form(x):
    q = lambda z: np.sum(np.log1p(z * z) * x)
    v, g = srcad.value_and_grad(q)(x)
    return v + np.sum(g * g)


def value_and_grad_partial(x):
    sh = functools.partial(h, y=2.0)
    return srcad.value_and_grad(sh)(x)[0] * 2.0


def in_loop(x):
    q = lambda z: np.sum(np.sin(z) * x)
    acc = 0.0
    for k in range(3):
        acc = acc + np.sum(srcad.grad(q)(x * (k + 1.0)) ** 2)
    return acc


def with_wrt(x):
    q = lambda a, b: np.sum(a * np.sin(b) + b * b * x)
    return np.sum(srcad.grad(q, wrt=1)(x, 2.0 * x) * x)


def with_argnums_tuple(x):
    def q(a, b):
        return np.sum(a * a * np.cos(b))
    ga, gb = srcad.grad(q, argnums=(0, 1))(x, x + 1.0)
    return np.sum(ga * gb)


def with_wrt_name(x):
    q = lambda a, b: np.sum(a * b ** 3)
    return np.sum(srcad.grad(q, wrt='b')(x, x) * x)


def calls_sibling(x):
    act = lambda z: np.tanh(z) * x
    q = lambda z: np.sum(act(z) ** 2)
    return np.sum(srcad.grad(q)(x))


def calls_alias(x):
    act = np.tanh
    q = lambda z: np.sum(act(z * x))
    return np.sum(srcad.grad(q)(x) ** 2)


def hvp_inside(x):
    q = lambda z: np.sum(np.sin(z) * z * x)
    v = np.ones_like(x)
    return np.sum(srcad.hvp(q)(x, v) * x)


def hvp_of_positional_partial(x):
    g = functools.partial(h, x)
    return np.sum(srcad.hvp(g)(x * 0.5, np.ones_like(x)))


def partial_of_lambda_over_local(x):
    W = x * 0.5
    g = functools.partial(lambda a, z: np.sum(a * np.sin(z)), W)
    return np.sum(srcad.grad(g)(x) ** 2) + g(x)


def autodiff_forward_inside(x):
    q = lambda z: np.sin(z) * x
    return np.sum(srcad.autodiff(q, mode='forward')(x, np.ones_like(x)))


def jvp_module(x):
    v, t = srcad.jvp(h, (x, x * 0.5), (np.ones_like(x), x))
    return v * np.sum(t)


def jvp_local_closure(x):
    q = lambda z: np.sin(z) * x
    v, t = srcad.jvp(q, (x,), (np.cos(x),))
    return np.sum(t * v)


def jvp_local_wrt(x):
    def q(a, b):
        return np.exp(a) * b * x
    v, t = srcad.jvp(q, (x, 2.0 * x), (np.ones_like(x),), wrt=1)
    return np.sum(t ** 2) + np.sum(v)


FORMS = [lambda_form, lambda_inline, nested_def, derivative_bound_first, alias,
         partial_keyword, partial_positional, partial_of_local_array, partial_local_called,
         closure_over_outer, closure_def_reads_rebound, value_and_grad_form,
         value_and_grad_partial, in_loop, with_wrt, with_argnums_tuple, with_wrt_name,
         calls_sibling, calls_alias, hvp_inside, hvp_of_positional_partial,
         partial_of_lambda_over_local, autodiff_forward_inside, jvp_module,
         jvp_local_closure, jvp_local_wrt]


@pytest.mark.parametrize('shape', SHAPES, ids=str)
@pytest.mark.parametrize('f', FORMS)
def test_form(f, shape):
    check(f, x_of(shape))


@pytest.mark.parametrize('shape', [(2, 3), (3, 3), (1, 4)], ids=str)
def test_closure_over_parameter(shape):
    """f(W) = sum(grad(lambda v: sum(tanh(W @ v)))(v0) * c): the outer derivative follows the
    inner gradient's dependence on W, which the lambda reads from the enclosing scope."""
    check(closure_over_parameter, x_of(shape))


def test_local_shadows_module_function():
    """Regression (was SILENT WRONG, then refused): the local's own function is
    differentiated, not the module-level function of that name."""
    x = x_of((4,))
    local = srcad.grad(derivative_bound_first)(x.copy())
    close(local, fd_grad(derivative_bound_first, x))
    module = 2.0 * srcad.grad(shadowed)(x) * srcad.hessian(shadowed)(x).diagonal()
    assert not np.allclose(local, module)
    close(srcad.grad(lambda_form)(x.copy()), fd_grad(lambda_form, x))


def test_show_is_readable():
    """The generated code names the lifted function's derivative and comments the user's
    line."""
    text = srcad.show(closure_over_parameter)
    assert "d_lambda_dv" in text and "# line" in text
    assert "srcad.grad(lambda v: np.sum(np.tanh(W @ v)))(v0)" in text


def test_outer_wrt_both():
    """A closure read and a call argument both differentiated (wrt a tuple)."""
    def two(x, W):
        return np.sum(srcad.grad(lambda v: np.sum(np.sin(W * v)))(x) * x)
    x, W = x_of((3,)), x_of((3,))
    gx, gW = srcad.grad(two, wrt=(0, 1))(x, W)
    close(gx, fd_grad(lambda z: two(z, W), x))
    close(gW, fd_grad(lambda w: two(x, w), W))


# ---------------------------------------------------------------- located refusals

def reads_container(p, x):
    return np.sum(srcad.grad(lambda z: np.sum(p['W'] * z))(x))


def partial_of_rebound(x):
    P = x * 2.0
    P = P + 1.0
    g = functools.partial(h, y=P)
    return np.sum(srcad.grad(g)(x))


def jvp_of_computed_primals(x):
    ps = (x,)
    return np.sum(srcad.jvp(np.sin, ps, (x,))[1])


def hvp_of_keyword_partial(x):
    g = functools.partial(h, y=2.0)
    return np.sum(srcad.hvp(g)(x, np.ones_like(x)))


def made_used_as_value(x):
    P = x * 2.0
    g = functools.partial(h, y=P)
    gs = [g]
    return np.sum(srcad.grad(gs[0])(x))


def aux_module(z, x):
    return np.sum(np.exp(z) * x), z * 2.0


def has_aux_module(x):
    g, aux = srcad.grad(aux_module, has_aux=True)(x, x)
    return np.sum(g * aux)


def has_aux_local(x):
    q = lambda z: (np.sum(np.exp(z) * x), z * 2.0)
    g, aux = srcad.grad(q, has_aux=True)(x)
    return np.sum(g * aux)


@pytest.mark.parametrize('f, args, match', [
    # was an internal ValueError in the generated code (it read the generated function's
    # (value, aux) pair as the gradient): refused at the call
    (has_aux_module, (np.ones(3),), "has_aux=True"),
    (has_aux_local, (np.ones(3),), "has_aux=True"),
    (jvp_of_computed_primals, (np.ones(3),), "not tuple displays"),
])
def test_refused_located(f, args, match):
    wrt = 1 if f is reads_container else 0
    with pytest.raises(srcad.SrcadError, match=match) as info:
        srcad.grad(f, wrt=wrt)(*args)
    assert not isinstance(info.value, srcad.InternalError)
    assert "test_nested_local_grad.py" in str(info.value)
    assert info.value.hint


# ---------------------------------------------------------------- more scopes and options

def helper_with_local(x, W):
    q = lambda z: np.sum(np.sin(W * z))
    return np.sum(srcad.grad(q)(x) ** 2)


def in_helper(x):
    return helper_with_local(x, x * 2.0)


def reads_int_and_list(x):
    n = x.shape[0]
    xs = [x, x * 2.0]
    q = lambda z: np.sum(z ** 2 * xs[1]) * n
    return np.sum(srcad.grad(q)(x) * x)


def rebound_in_loop(x):
    a = x
    q = lambda z: np.sum(np.sin(a * z))
    s = 0.0
    for k in range(3):
        a = a * 1.5                        # each call reads the a of its iteration
        s = s + np.sum(srcad.grad(q)(x) ** 2)
    return s


W = np.full(3, 100.0)                      # the local W below shadows it


def local_shadows_global_array(x):
    W = x * 3.0
    return np.sum(srcad.grad(lambda z: np.sum(W * z * z))(x) ** 2)


def preserve_result_inside(x):
    q = lambda z: np.sum(np.exp(z) * x)
    v, g = srcad.grad(q, preserve_result=True)(x)
    return v + np.sum(g * g)


@pytest.mark.parametrize('f', [in_helper, reads_int_and_list, rebound_in_loop,
                               local_shadows_global_array, preserve_result_inside])
def test_scopes_and_options(f):
    check(f, x_of((3,)))


# ---------------------------------------------------------------- staleness

def act(z):
    return np.sin(z)


def cube(z):
    return z ** 3


def act_sum(z):
    return np.sum(act(z))


def grad_of_module_helper(x):
    return np.sum(srcad.grad(act_sum)(x) * x)


def grad_of_local_calling_global(x):
    q = lambda z: np.sum(act(z) * x)
    return np.sum(srcad.grad(q)(x))


@pytest.mark.parametrize('f', [grad_of_module_helper, grad_of_local_calling_global])
def test_rebinding_a_global_the_inner_derivative_inlined(f):
    """Regression (SILENT WRONG before): rebinding a global helper that the inner derivative
    inlined left the outer derivative stale; the outer build now depends on what the inner
    build read."""
    global act
    x = x_of((3,))
    df = srcad.grad(f)
    close(df(x), fd_grad(f, x))
    saved = act
    try:
        act = cube
        close(df(x), fd_grad(f, x))
    finally:
        act = saved
    close(df(x), fd_grad(f, x))
