"""Outside-tester corpus (session 6): user programs for the features new in this session,
written from README.md only, each checked against central finite differences in float64."""
import functools

import numpy as np
import pytest

import srcad

RNG = np.random.default_rng(6)
EPS = 1e-6


def fd_grad(f, x, *args, **kw):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = EPS
        g[i] = (f(x + e, *args, **kw) - f(x - e, *args, **kw)) / (2 * EPS)
    return g


def fd_jac(f, x, *args, **kw):
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x.copy(), *args, **kw))
    J = np.zeros(y0.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = EPS
        J[(Ellipsis,) + i] = (np.asarray(f(x + e, *args, **kw)) - np.asarray(f(x - e, *args, **kw))) / (2 * EPS)
    return J


def fd_dir(f, x, t, *args, **kw):
    return (np.asarray(f(x + EPS * t, *args, **kw)) - np.asarray(f(x - EPS * t, *args, **kw))) / (2 * EPS)


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol)


def check_scalar(f, x, second=True):
    """reverse, forward and (optionally) second order of scalar f at x, against FD."""
    x0 = x.copy()
    g = srcad.grad(f)(x)
    assert isinstance(g, np.ndarray) and g.shape == x.shape, type(g)
    close(g, fd_grad(f, x))
    t = RNG.standard_normal(x.shape)
    val, tan = srcad.jvp(f, (x,), (t,))
    close(val, f(x))
    close(tan, np.sum(fd_grad(f, x) * t))
    if second:
        v = RNG.standard_normal(x.shape)
        hv = srcad.hvp(f)(x, v)
        assert isinstance(hv, np.ndarray) and hv.shape == x.shape, type(hv)
        close(hv, fd_dir(lambda z: srcad.grad(f)(z), x, v), 1e-4)
    np.testing.assert_array_equal(x, x0)


X34 = RNG.standard_normal((3, 4))
X24 = RNG.standard_normal((2, 4))


# ---------------------------------------------------------------- 1. iterating rows

def rows_builtin_sum(X):
    return np.sum(np.sin(sum(X)) ** 2)


def rows_list(X):
    rs = list(X)
    return np.sum(rs[0] * rs[1] ** 2) + np.sum(np.exp(rs[-1]))


def rows_for(X):
    s = 0.0
    for r in X:
        s = s + np.sum(r ** 3) * np.sum(np.cos(r))
    return s


def rows_comprehension(X):
    return sum([np.sum(np.tanh(r) * r) for r in X])


def rows_genexpr(X):
    return sum(np.dot(r, r) ** 1.5 for r in X)


def rows_unpack(X):
    a, b = X
    return np.sum(a * np.sin(b)) + np.sum(a ** 2 * b ** 2)


def rows_enumerate(X):
    s = 0.0
    for i, r in enumerate(X):
        s = s + (i + 1.0) * np.sum(r ** 2) * np.sum(r)
    return s


def rows_zip(X):
    Y = X ** 2
    s = 0.0
    for a, b in zip(X, Y):
        s = s + np.sum(np.sin(a) * b)
    return s


def rows_zip_two_args(X, Y):
    s = 0.0
    for a, b in zip(X, Y):
        s = s + np.sum(a * a * b)
    return s


def rows_stack(X):
    Z = np.stack(list(X))
    return np.sum(np.exp(Z) * Z)


def rows_stack_comp(X):
    Z = np.stack([r * r for r in X], axis=1)
    return np.sum(Z ** 3) + np.sum(Z[0] * Z[1])


def rows_vector_out(X):
    return np.stack([np.sin(r) * r for r in X])


@pytest.mark.parametrize('f,X', [
    (rows_builtin_sum, X34), (rows_list, X34), (rows_for, X34), (rows_comprehension, X34),
    (rows_genexpr, X34), (rows_unpack, X24), (rows_enumerate, X34), (rows_zip, X34),
    (rows_stack, X34), (rows_stack_comp, X24),
])
def test_rows(f, X):
    check_scalar(f, X.copy())


def test_rows_zip_two_args():
    X, Y = X34.copy(), RNG.standard_normal((3, 4))
    gx, gy = srcad.grad(rows_zip_two_args, wrt=(0, 1))(X, Y)
    close(gx, fd_grad(lambda a: rows_zip_two_args(a, Y), X))
    close(gy, fd_grad(lambda b: rows_zip_two_args(X, b), Y))


def test_rows_vector_out_jacobian():
    X = X34.copy()
    J = srcad.jacobian(rows_vector_out)(X)
    close(J, fd_jac(rows_vector_out, X))
    Jf = srcad.jacfwd(rows_vector_out)(X)
    close(Jf, J)
    np.testing.assert_array_equal(X, X34)


def test_rows_hessian():
    X = X24.copy()
    H = srcad.hessian(rows_unpack)(X)
    assert isinstance(H, np.ndarray) and H.shape == (2, 4, 2, 4)
    close(H, fd_jac(lambda z: srcad.grad(rows_unpack)(z), X), 1e-4)


# ---------------------------------------------------------------- 2. jacobian/hessian keywords

def ridge(w, lam=0.1):
    return np.sum(np.sin(w) ** 2) + lam * np.sum(w ** 4)


def kwonly(w, *, scale, shift=1.0):
    return scale * np.tanh(w + shift) * w


def kwonly_scalar(w, *, scale, shift=1.0):
    return np.sum(scale * np.tanh(w + shift) * w ** 2)


def two_args(a, b, lam=1.0):
    return np.sin(a) * b ** 2 + lam * a * b


def two_args_scalar(a, b, lam=1.0):
    return np.sum(np.sin(a) * b ** 2 + lam * a ** 2 * b)


def writes_arg(x):
    x *= 3
    return np.sin(x) * x


def writes_arg_scalar(x):
    x *= 3
    x[0] = x[0] ** 2
    return np.sum(np.sin(x) * x)


def writes_arg_slice(x):
    x[1:] += x[:-1]
    return np.exp(x) * x


W4 = RNG.standard_normal(4)


def test_hessian_kwarg():
    w = W4.copy()
    H = srcad.hessian(ridge)(w, lam=0.5)
    close(H, fd_jac(lambda z: srcad.grad(ridge)(z, lam=0.5), w), 1e-4)
    H0 = srcad.hessian(ridge)(w)
    assert not np.allclose(H, H0)
    np.testing.assert_array_equal(w, W4)


@pytest.mark.parametrize('jac', [srcad.jacobian, srcad.jacfwd, srcad.jacrev])
def test_jacobian_kwonly(jac):
    w = W4.copy()
    J = jac(kwonly)(w, scale=2.0, shift=-0.3)
    close(J, fd_jac(kwonly, w, scale=2.0, shift=-0.3))
    J2 = jac(kwonly)(w, scale=2.0)
    close(J2, fd_jac(kwonly, w, scale=2.0))


def test_hessian_kwonly():
    w = W4.copy()
    H = srcad.hessian(kwonly_scalar)(w, scale=1.5, shift=0.2)
    close(H, fd_jac(lambda z: srcad.grad(kwonly_scalar)(z, scale=1.5, shift=0.2), w), 1e-4)


@pytest.mark.parametrize('jac', [srcad.jacobian, srcad.jacfwd, srcad.jacrev])
def test_jacobian_tuple_wrt_kw(jac):
    a, b = W4.copy(), RNG.standard_normal(4)
    Ja, Jb = jac(two_args, wrt=(0, 1))(a, b, lam=0.7)
    close(Ja, fd_jac(lambda z: two_args(z, b, lam=0.7), a))
    close(Jb, fd_jac(lambda z: two_args(a, z, lam=0.7), b))


def test_hessian_tuple_wrt_kw():
    a, b = W4.copy(), RNG.standard_normal(4)
    H = srcad.hessian(two_args_scalar, wrt=(0, 1))(a, b, lam=0.7)
    ga = lambda a_, b_: srcad.grad(two_args_scalar, wrt=0)(a_, b_, lam=0.7)
    gb = lambda a_, b_: srcad.grad(two_args_scalar, wrt=1)(a_, b_, lam=0.7)
    close(H[0][0], fd_jac(lambda z: ga(z, b), a), 1e-4)
    close(H[0][1], fd_jac(lambda z: ga(a, z), b), 1e-4)
    close(H[1][0], fd_jac(lambda z: gb(z, b), a), 1e-4)
    close(H[1][1], fd_jac(lambda z: gb(a, z), b), 1e-4)


def _copying(f):
    return lambda z: f(np.array(z, dtype=float))


@pytest.mark.parametrize('jac', [srcad.jacobian, srcad.jacfwd, srcad.jacrev])
@pytest.mark.parametrize('f', [writes_arg, writes_arg_slice])
def test_jacobian_writes_arg(jac, f):
    x = W4.copy()
    J = jac(f)(x)
    np.testing.assert_array_equal(x, W4)
    close(J, fd_jac(_copying(f), W4))


def test_hessian_writes_arg():
    x = W4.copy()
    H = srcad.hessian(writes_arg_scalar)(x)
    np.testing.assert_array_equal(x, W4)
    g = lambda z: srcad.grad(writes_arg_scalar)(z.copy())
    close(H, fd_jac(g, W4), 1e-4)


def test_grad_jvp_hvp_writes_arg():
    x = W4.copy()
    g = srcad.grad(writes_arg_scalar)(x)
    np.testing.assert_array_equal(x, W4)
    close(g, fd_grad(_copying(writes_arg_scalar), W4))
    t = RNG.standard_normal(4)
    val, tan = srcad.jvp(writes_arg_scalar, (x,), (t,))
    np.testing.assert_array_equal(x, W4)
    close(val, writes_arg_scalar(W4.copy()))
    close(tan, fd_dir(_copying(writes_arg_scalar), W4, t))
    hv = srcad.hvp(writes_arg_scalar)(x, t)
    np.testing.assert_array_equal(x, W4)
    close(hv, fd_dir(lambda z: srcad.grad(writes_arg_scalar)(z.copy()), W4, t), 1e-4)


# ---------------------------------------------------------------- 3. batched jvp

def vec_fn(x):
    return np.sin(x) * np.sum(x ** 2)


def identity_fn(x):
    return x


def scalar_fn(x):
    return np.sum(np.exp(x) * x)


@pytest.mark.parametrize('f', [vec_fn, identity_fn, scalar_fn, writes_arg])
def test_batched_jvp(f):
    x = W4.copy()
    V = RNG.standard_normal((3, 4))
    V0 = V.copy()
    val, T = srcad.jvp(f, (x,), (V,), batched=True)
    assert T is not V
    assert not np.shares_memory(T, V)
    singles = np.stack([np.asarray(srcad.jvp(f, (W4.copy(),), (V0[k],))[1]) for k in range(3)])
    close(T, singles)
    for k in range(3):
        close(T[k], fd_dir(_copying(f), W4, V0[k]))
    np.testing.assert_array_equal(V, V0)
    np.testing.assert_array_equal(x, W4)
    close(val, f(W4.copy()))
    T[...] = 0.0
    np.testing.assert_array_equal(V, V0)


# ---------------------------------------------------------------- 4. derivatives inside

def h(x):
    return np.sum(np.sin(x) * x ** 2)


def h2(x, y):
    return np.sum(x * np.exp(y) * y)


def hk(x, a=1.0):
    return np.sum(a * np.tanh(x) * x)


def inner_grad(x):
    return np.sum(srcad.grad(h)(x) ** 2)


def inner_grad_wrt1(x):
    y = np.cos(x)
    return np.sum(srcad.grad(h2, wrt=1)(x, y) * x)


def inner_value_and_grad(x):
    v, g = srcad.value_and_grad(h)(x)
    return v * np.sum(g * x)


def inner_local_grad(x):
    dh = srcad.grad(h)
    return np.sum(dh(x) * np.sin(x))


def inner_partial(x):
    g = functools.partial(hk, a=3.0)
    return g(x) ** 2 + g(2.0 * x)


@pytest.mark.parametrize('f', [inner_grad, inner_grad_wrt1, inner_value_and_grad, inner_local_grad,
                               inner_partial])
def test_derivative_inside(f):
    check_scalar(f, W4.copy())


# ---------------------------------------------------------------- 5. ufunc methods

def u_add_reduce(X):
    return np.sum(np.add.reduce(X) ** 2) + np.sum(np.add.reduce(X, axis=1) ** 3)


def u_add_reduce_1d(x):
    return np.add.reduce(np.sin(x) * x)


def u_mul_reduce(X):
    return np.sum(np.multiply.reduce(X)) + np.sum(np.multiply.reduce(X, axis=1) ** 2)


def u_mul_reduce_1d(x):
    return np.multiply.reduce(x + 2.0)


def u_add_acc(X):
    return np.sum(np.add.accumulate(X) ** 2) + np.sum(np.sin(np.add.accumulate(X, axis=1)))


def u_mul_acc(X):
    return np.sum(np.multiply.accumulate(X) * X) + np.sum(np.multiply.accumulate(X, axis=1) ** 2)


def u_max_reduce(X):
    return np.sum(np.maximum.reduce(X) ** 2) + np.sum(np.exp(np.maximum.reduce(X, axis=1)))


def u_max_reduce_none(X):
    return np.maximum.reduce(X, axis=None) ** 3


def u_add_reduce_none(X):
    return np.add.reduce(X, axis=None) ** 3


@pytest.mark.parametrize('f,X', [
    (u_add_reduce, X34), (u_add_reduce_1d, W4), (u_mul_reduce, X34), (u_mul_reduce_1d, W4),
    (u_add_acc, X34), (u_mul_acc, X34), (u_max_reduce, X34), (u_max_reduce_none, X34),
    (u_add_reduce_none, X34),
])
def test_ufunc_methods(f, X):
    check_scalar(f, X.copy())


# ---------------------------------------------------------------- 6. errors

def e_sort(x):
    y = x * 2.0
    y.sort()
    return np.sum(y * x)


def e_add_at(x):
    y = np.zeros(3)
    np.add.at(y, np.array([0, 1, 1]), x[:3])
    return np.sum(y ** 2)


def e_nonlocal(x):
    s = x * 1.0

    def bump():
        nonlocal s
        s = s * 2.0
    bump()
    return np.sum(s)


def e_max_acc(x):
    return np.sum(np.maximum.accumulate(x) ** 2)


def _assert_clear(exc, needle):
    msg = str(exc.value)
    assert isinstance(exc.value, srcad.SrcadError), type(exc.value)
    assert not isinstance(exc.value, srcad.InternalError), msg
    assert 'user_corpus_s6.py' in msg, msg
    assert needle in msg, msg
    assert 'Traceback' not in msg


@pytest.mark.parametrize('f,needle', [
    (e_sort, 'y.sort()'), (e_add_at, 'np.add.at'), (e_nonlocal, 'nonlocal'),
])
def test_errors(f, needle):
    with pytest.raises(Exception) as exc:
        srcad.grad(f)(W4.copy())
    _assert_clear(exc, needle)


def test_show_jacobian_error():
    with pytest.raises(Exception) as exc:
        srcad.show(srcad.jacobian(vec_fn))
    msg = str(exc.value)
    assert isinstance(exc.value, srcad.SrcadError), type(exc.value)
    assert not isinstance(exc.value, srcad.InternalError), msg
    assert 'mode=' in msg or 'show(' in msg, msg


# ---------------------------------------------------------------- round 2: harder cases

X234 = RNG.standard_normal((2, 3, 4))


def r2_rows_3d(X):
    s = 0.0
    for M in X:
        s = s + np.sum(M @ M.T)
    return s


def r2_rows_computed(X):
    return sum(np.sum(r * np.roll(r, 1)) for r in np.tanh(X))


def r2_rows_transpose(X):
    return sum(np.prod(c) for c in X.T)


def r2_rows_reversed(X):
    s = 0.0
    w = 1.0
    for r in X[::-1]:
        s = s + w * np.sum(np.sin(r) * r)
        w = w * 2.0
    return s


def r2_rows_1d(x):
    return sum(x) ** 2 + sum(xi ** 3 for xi in x)


def r2_list_1d(x):
    a, b, c, d = x
    return a * b + np.sin(c) * d ** 2


def r2_star_unpack(X):
    a, *rest = X
    return np.sum(a ** 2) * sum(np.sum(r) for r in rest)


def r2_enum_start(X):
    return sum(k * np.sum(r ** 2) for k, r in enumerate(X, start=1))


def r2_zip_vec(X):
    w = np.linspace(0.5, 1.5, X.shape[0])
    return sum(wi * np.sum(r ** 3) for r, wi in zip(X, w))


def r2_sum_start(X):
    return np.sum(sum(X, np.ones(X.shape[1])) ** 3)


def r2_rows_list_modified(X):
    rs = list(X)
    rs[0] = rs[0] * 2.0
    return np.sum(np.stack(rs) ** 2 * np.stack(rs))


def r2_rows_append(X):
    out = []
    for r in X:
        out.append(np.exp(r) * r)
    return np.sum(np.stack(out, axis=0) * X)


def r2_rows_hstack(X):
    return np.sum(np.concatenate(list(X)) ** 3)


def r2_rows_max(X):
    return np.sum(max(X, key=lambda r: 0) ** 2)


@pytest.mark.parametrize('f,X', [
    (r2_rows_3d, X234), (r2_rows_computed, X34), (r2_rows_transpose, X34), (r2_rows_reversed, X34),
    (r2_rows_1d, W4), (r2_list_1d, W4), (r2_enum_start, X34), (r2_zip_vec, X34),
    (r2_sum_start, X34), (r2_rows_append, X34), (r2_rows_hstack, X34),
    (r2_rows_list_modified, X34),
])
def test_r2_rows(f, X):
    check_scalar(f, X.copy())


XZ = np.array([[1.5, 0.0, -2.0, 0.7], [0.3, 1.1, 0.0, -0.4], [0.9, 2.0, 1.3, 0.0]])
WZ = np.array([1.5, 0.0, -2.0, 0.7])


def r2_mul_reduce_zero(X):
    return np.sum(np.multiply.reduce(X, axis=1)) + np.sum(np.multiply.reduce(X))


def r2_mul_acc_zero(x):
    return np.sum(np.multiply.accumulate(x) * np.arange(1.0, 5.0))


def r2_prod_zero_1d(x):
    return np.multiply.reduce(x) + np.prod(x[1:] + 1.0)


def r2_add_reduce_neg_axis(X):
    return np.sum(np.add.reduce(X, axis=-1) ** 2) + np.sum(np.add.reduce(X, axis=(0, 1)) ** 2)


def r2_add_reduce_keepdims(X):
    return np.sum(X / np.add.reduce(X ** 2, axis=1, keepdims=True))


def r2_add_reduce_list(x):
    return np.sum(np.add.reduce([x, x ** 2, np.sin(x)]) ** 2)


def r2_minimum_reduce(X):
    return np.sum(np.minimum.reduce(X, axis=0) ** 2) + np.minimum.reduce(X, axis=None) ** 2


def r2_add_acc_neg(X):
    return np.sum(np.add.accumulate(X, axis=-1) ** 3)


def r2_mul_acc_2nd(X):
    return np.sum(np.multiply.accumulate(X, axis=0) ** 2)


@pytest.mark.parametrize('f,X', [
    (r2_mul_reduce_zero, XZ), (r2_mul_acc_zero, WZ), (r2_prod_zero_1d, WZ),
    (r2_add_reduce_neg_axis, X34), (r2_add_reduce_keepdims, X34), (r2_add_reduce_list, W4),
    (r2_minimum_reduce, X34), (r2_add_acc_neg, X34), (r2_mul_acc_2nd, XZ),
])
def test_r2_ufunc(f, X):
    check_scalar(f, X.copy())


def r2_vec2(a, b):
    return np.sin(a) * b + a ** 2


def r2_const(x):
    return np.ones(3)


def r2_tuple_out(x):
    return np.sin(x), np.sum(x ** 2)


def test_r2_batched_two_primals():
    a, b = W4.copy(), RNG.standard_normal(4)
    Va, Vb = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))
    Va0, Vb0 = Va.copy(), Vb.copy()
    val, T = srcad.jvp(r2_vec2, (a, b), (Va, Vb), batched=True)
    assert T.shape == (5, 4)
    for k in range(5):
        one = srcad.jvp(r2_vec2, (a, b), (Va0[k], Vb0[k]))[1]
        close(T[k], one)
        close(T[k], (r2_vec2(a + EPS * Va0[k], b + EPS * Vb0[k]) - r2_vec2(a - EPS * Va0[k], b - EPS * Vb0[k])) / (2 * EPS))
    np.testing.assert_array_equal(Va, Va0)
    assert not np.shares_memory(T, Va) and not np.shares_memory(T, Vb)


def test_r2_batched_const():
    V = RNG.standard_normal((2, 4))
    val, T = srcad.jvp(r2_const, (W4.copy(),), (V,), batched=True)
    assert np.shape(T) == (2, 3)
    close(T, np.zeros((2, 3)))


def test_r2_batched_one_direction_matrix_input():
    X = X34.copy()
    V = RNG.standard_normal((1, 3, 4))
    val, T = srcad.jvp(rows_vector_out, (X,), (V,), batched=True)
    assert T is not V and not np.shares_memory(T, V)
    close(T[0], fd_dir(rows_vector_out, X, V[0]))


def test_r2_batched_tuple_out():
    V = RNG.standard_normal((3, 4))
    val, T = srcad.jvp(r2_tuple_out, (W4.copy(),), (V,), batched=True)
    for k in range(3):
        close(T[0][k], np.cos(W4) * V[k])
        close(T[1][k], np.sum(2 * W4 * V[k]))


def r2_alias_view(x):
    y = x[:2]
    y *= 2.0
    return np.sum(np.sin(x) * x)


def test_r2_alias_view_write():
    x = W4.copy()
    try:
        g = srcad.grad(r2_alias_view)(x)
    except srcad.SrcadError as e:
        assert not isinstance(e, srcad.InternalError)
        return
    np.testing.assert_array_equal(x, W4)
    close(g, fd_grad(_copying(r2_alias_view), W4))


def r2_hvp_kw(w, lam=0.1):
    return np.sum(np.sin(w) ** 2) + lam * np.sum(w ** 4)


def test_r2_hvp_kw():
    w = W4.copy()
    v = RNG.standard_normal(4)
    hv = srcad.hvp(r2_hvp_kw)(w, v, lam=0.5)
    close(hv, fd_dir(lambda z: srcad.grad(r2_hvp_kw)(z, lam=0.5), w, v), 1e-4)


def test_r2_jacobian_wrt_name_kw():
    a, b = W4.copy(), RNG.standard_normal(4)
    J = srcad.jacobian(two_args, wrt='b')(a, b, lam=0.3)
    close(J, fd_jac(lambda z: two_args(a, z, lam=0.3), b))


def test_r2_jacobian_array_kw():
    w = W4.copy()
    sc = RNG.standard_normal(4)
    J = srcad.jacrev(kwonly)(w, scale=sc)
    close(J, fd_jac(kwonly, w, scale=sc))


def r2_inner_partial_pos(x):
    g = functools.partial(h2, 2.0)
    return g(x) + np.sum(x ** 2)


def r2_inner_partial_override(x):
    g = functools.partial(hk, a=3.0)
    return g(x, a=0.5) ** 2


def r2_inner_grad_loop(x):
    s = 0.0
    for k in range(2):
        s = s + np.sum(srcad.grad(h)(x * (k + 1.0)) ** 2)
    return s


def r2_inner_vg_local(x):
    vg = srcad.value_and_grad(h)
    v, g = vg(np.sin(x))
    return v + np.sum(g ** 2)


def r2_inner_grad_wrt1_local(x):
    d = srcad.grad(h2, wrt=1)
    return np.sum(d(np.cos(x), x) ** 2)


@pytest.mark.parametrize('f', [r2_inner_partial_pos, r2_inner_partial_override, r2_inner_grad_loop,
                               r2_inner_vg_local, r2_inner_grad_wrt1_local])
def test_r2_derivative_inside(f):
    check_scalar(f, W4.copy())


def e2_sort_arg(x):
    x.sort()
    return np.sum(x ** 2)


def e2_outer(x):
    return np.sum(np.multiply.outer(x, x))


def e2_max_acc_axis(X):
    return np.sum(np.maximum.accumulate(X, axis=1))


@pytest.mark.parametrize('f,needle', [
    (e2_sort_arg, 'x.sort()'),
])
def test_r2_errors(f, needle):
    with pytest.raises(Exception) as exc:
        srcad.grad(f)(X34.copy())
    _assert_clear(exc, needle)


@pytest.mark.parametrize('name, arg', [('e_max_acc', 'W4'), ('e2_max_acc_axis', 'X34'),
                                       ('e5_min_acc', 'X34')])
def test_running_max_differentiated(name, arg):
    # np.maximum/minimum.accumulate were refused (no rule) until session 10
    f, x = globals()[name], globals()[arg]
    close(srcad.grad(f)(x.copy()), fd_grad(f, x.copy()))


def test_r2_outer_refused_or_right():
    x = W4.copy()
    try:
        g = srcad.grad(e2_outer)(x)
    except Exception as e:
        assert isinstance(e, srcad.SrcadError) and not isinstance(e, srcad.InternalError), repr(e)
        assert 'user_corpus_s6.py' in str(e), str(e)
        return
    close(g, fd_grad(e2_outer, x))


@pytest.mark.parametrize('make', [lambda: srcad.hessian(h), lambda: srcad.jacfwd(vec_fn),
                                  lambda: srcad.jacrev(vec_fn)])
def test_r2_show_refused(make):
    with pytest.raises(Exception) as exc:
        srcad.show(make())
    assert isinstance(exc.value, srcad.SrcadError) and not isinstance(exc.value, srcad.InternalError), repr(exc.value)


def test_r2_star_unpack_refused_clearly():
    with pytest.raises(srcad.SrcadError) as exc:
        srcad.grad(r2_star_unpack)(X34.copy())
    _assert_clear(exc, 'a, *rest = X')
    assert 'Instead' in str(exc.value)


# ---------------------------------------------------------------- round 3: a list of rows read whole more than once

def l3_stack_twice(X):
    rs = list(X)
    return np.sum(np.stack(rs) * np.stack(rs))


def l3_stack_twice_statements(X):
    rs = list(X)
    a = np.stack(rs)
    b = np.stack(rs)
    return np.sum(a * b)


def l3_builtin_sum_twice(X):
    rs = list(X)
    return np.sum(sum(rs) * sum(rs))


def l3_concat_twice(X):
    rs = list(X)
    return np.sum(np.concatenate(rs) * np.concatenate(rs))


def l3_stack_plus_stack(X):
    rs = list(X)
    return np.sum(np.stack(rs)) + np.sum(np.stack(rs))


def l3_weighted(X):
    rs = list(X)
    return 3.0 * np.sum(np.stack(rs)) + np.sum(np.stack(rs))


def l3_in_loop(X):
    rs = list(X)
    s = 0.0
    for k in range(2):
        s = s + np.sum(np.stack(rs) ** 2)
    return s


def l3_alias(X):
    rs = list(X)
    t = rs
    return np.sum(np.stack(rs)) + np.sum(np.stack(t) ** 2)


def l3_computed(X):
    rs = list(np.tanh(X))
    return np.sum(np.stack(rs)) + np.sum(np.stack(rs) ** 2)


def l3_1d_sum_twice(x):
    rs = list(x)
    return sum(rs) * sum(rs)


def l3_comp_twice(X):
    rs = [r for r in X]
    return np.sum(np.stack(rs) * np.stack(rs))


def l3_display_twice(X):
    rs = [X[0], X[1], X[2]]
    return np.sum(np.stack(rs) * np.stack(rs))


def l3_tuple(X):
    rs = tuple(X)
    return np.sum(np.stack(rs) ** 2)


def l3_stack_then_index(X):
    rs = list(X)
    return np.sum(np.stack(rs)) + np.sum(rs[1] ** 2)


def l3_index_then_stack(X):
    rs = list(X)
    return np.sum(rs[0]) + np.sum(np.stack(rs))


def l3_vstack_twice(X):
    rs = list(X)
    return np.sum(np.vstack(rs) * np.vstack(rs))


def l3_array_twice(X):
    rs = list(X)
    return np.sum(np.array(rs) * np.array(rs))


def l3_stack_named_then_again(X):
    rs = list(X)
    y = np.stack(rs)
    return np.sum(y * y) + np.sum(np.stack(rs))


def l3_two_lists(X):
    rs = list(X)
    rs2 = list(X)
    return np.sum(np.stack(rs)) + np.sum(np.stack(rs2) ** 2)


_SW = 'SILENT WRONG: rs = list(X) read whole (stack/sum/concatenate) more than once: grad counts only one read'


@pytest.mark.parametrize('f,X', [
    pytest.param(l3_stack_twice, X34),
    pytest.param(l3_stack_twice_statements, X34),
    pytest.param(l3_builtin_sum_twice, X34),
    pytest.param(l3_concat_twice, X34),
    pytest.param(l3_stack_plus_stack, X34),
    pytest.param(l3_weighted, X34),
    pytest.param(l3_in_loop, X34),
    pytest.param(l3_alias, X34),
    pytest.param(l3_computed, X34),
    pytest.param(l3_1d_sum_twice, W4),
    pytest.param(l3_stack_then_index, X34),
    pytest.param(l3_vstack_twice, X34),
    pytest.param(l3_array_twice, X34),
    pytest.param(l3_stack_named_then_again, X34),
    (l3_comp_twice, X34), (l3_display_twice, X34), (l3_index_then_stack, X34), (l3_two_lists, X34),
    (l3_tuple, X34),           # tuple(X) of an array: builtins.tuple has rules (session 9)
])
def test_l3_list_read_twice(f, X):
    check_scalar(f, X.copy())


# ---------------------------------------------------------------- round 4: srcad.grad(NAME) inside, NAME a local
# that shadows a module-level function of the same name

def sh_h(x, y):
    return np.sum(x * x * y)


def sh_g(x, y=0.0):
    return np.sum(x ** 4) * 100.0


def sh_q(x):
    return np.sum(np.exp(x))


def s4_local_partial_shadow(x):
    sh_g = functools.partial(sh_h, y=2.0)
    return np.sum(srcad.grad(sh_g)(x) * x)


def s4_local_partial_vg_shadow(x):
    sh_q = functools.partial(sh_h, y=2.0)
    return srcad.value_and_grad(sh_q)(x)[0]


def s4_local_lambda_shadow(x):
    sh_q = lambda z: np.sum(z ** 2)
    return np.sum(srcad.grad(sh_q)(x) * x)


def s4_nested_def_shadow(x):
    def sh_q(z):
        return np.sum(z ** 2)
    return np.sum(srcad.grad(sh_q)(x) * x)


def s4_alias_shadow(x):
    sh_q = sh_h
    return np.sum(srcad.grad(sh_q)(x, 2.0) * x)


def s4_partial_called_shadow(x):
    sh_g = functools.partial(sh_h, y=2.0)
    return sh_g(x)


# srcad.grad of a local shadowing a module-level function: once SILENT WRONG (the
# module-level function of that name was used), then refused; differentiated since session 11
# (normalize/lifting.py: the local's own function, tests/test_nested_local_grad.py)
@pytest.mark.parametrize('f', [
    s4_local_partial_shadow, s4_local_partial_vg_shadow, s4_local_lambda_shadow,
    s4_nested_def_shadow, s4_alias_shadow, s4_partial_called_shadow,
])
def test_s4_shadowed_local(f):
    x = np.array([0.3, -0.7, 1.1, 0.5])
    g = srcad.grad(f)(x.copy())
    close(g, fd_grad(f, x.copy()))


# ---------------------------------------------------------------- round 5: more ufunc methods, errors in helpers, list edits

def u5_positional_axis(X):
    return np.sum(np.add.reduce(X, 1) ** 2) + np.sum(np.add.accumulate(X, 1) ** 2)


def u5_mul_reduce_none(X):
    return np.multiply.reduce(X, axis=None)


def u5_max_keepdims(X):
    return np.sum(np.maximum.reduce(X, axis=1, keepdims=True) * X)


def u5_fmax(X):
    return np.sum(np.fmax.reduce(X, axis=0) ** 2)


def u5_bound_method(X):
    r = np.add.reduce
    return np.sum(r(X) ** 2)


@pytest.mark.parametrize('f', [u5_positional_axis, u5_mul_reduce_none, u5_max_keepdims, u5_fmax, u5_bound_method])
def test_u5_ufunc(f):
    check_scalar(f, X34.copy())


def e5_subtract_reduce(X):
    return np.sum(np.subtract.reduce(X, axis=1) ** 2)


def e5_initial(X):
    return np.sum(np.add.reduce(X, axis=0, initial=2.0) ** 2)


def e5_reduceat(X):
    return np.sum(np.add.reduceat(X, [0, 2], axis=1) ** 2)


def e5_min_acc(X):
    return np.sum(np.minimum.accumulate(X, axis=1))


def _e5_helper(y, x):
    np.add.at(y, np.array([0, 1, 1]), x[:3])
    return y


def e5_add_at_in_helper(x):
    y = np.zeros(3)
    y = _e5_helper(y, x)
    return np.sum(y ** 2)


@pytest.mark.parametrize('f,needle,arg', [
    (e5_subtract_reduce, 'np.subtract.reduce', X34), (e5_initial, 'initial', X34),
    (e5_reduceat, 'np.add.reduceat', X34),
    (e5_add_at_in_helper, 'np.add.at(y, np.array([0, 1, 1]), x[:3])', W4),
])
def test_e5_errors(f, needle, arg):
    with pytest.raises(Exception) as exc:
        srcad.grad(f)(arg.copy())
    _assert_clear(exc, needle)


def m5_stack_then_edit_then_stack(X):
    rs = list(X)
    out = np.stack(rs)
    rs[0] = rs[0] * 5.0
    return np.sum(out ** 2) + np.sum(np.stack(rs))


def m5_edit_loop(X):
    rs = list(X)
    for i in range(len(rs)):
        rs[i] = rs[i] * (i + 1.0)
    return np.sum(np.stack(rs) ** 2)


def m5_append(X):
    rs = list(X)
    rs.append(X[0] * 3.0)
    return np.sum(np.stack(rs) ** 2)


def m5_concat_list(X):
    rs = list(X)
    rs = rs + [X[1]]
    return np.sum(np.stack(rs) ** 2)


def m5_fold(X):
    rs = list(X)
    t = rs[0]
    for r in rs[1:]:
        t = t * r
    return np.sum(t) + np.sum(np.stack(rs))


@pytest.mark.parametrize('f', [
    pytest.param(m5_stack_then_edit_then_stack),
    m5_edit_loop, m5_append, m5_concat_list, m5_fold,
])
def test_m5_list_edits(f):
    check_scalar(f, X34.copy())


@pytest.mark.parametrize('f', [rows_for, rows_enumerate, rows_zip, rows_stack, rows_comprehension])
def test_m5_rows_hessian(f):
    X = X24.copy()
    H = srcad.hessian(f)(X)
    assert isinstance(H, np.ndarray) and H.shape == (2, 4, 2, 4)
    close(H, fd_jac(lambda z: srcad.grad(f)(z), X), 1e-4)
    np.testing.assert_array_equal(X, X24)


# ---------------------------------------------------------------- round 6: partial / grad inside, names that are
# both a local and a module-level value

P6_Y = np.array([0.2, 0.4, -0.1, 0.3])     # module-level array; a parameter below has the same name


def p6_h2(x, y):
    return np.sum(x * np.exp(y) * y)


p6_partial_mod = functools.partial(p6_h2, y=0.5)


def p6_partial_param_shadows_global(P6_Y):
    g = functools.partial(p6_h2, y=P6_Y)
    return g(P6_Y)


def p6_partial_param(x):
    g = functools.partial(p6_h2, y=x)
    return g(x)


def p6_grad_of_module_partial(x):
    return np.sum(srcad.grad(p6_partial_mod)(x) ** 2)


def test_p6_partial_of_parameter_shadowing_global():
    x = W4.copy()
    try:
        g = srcad.grad(p6_partial_param_shadows_global)(x)
    except srcad.SrcadError as e:
        assert not isinstance(e, srcad.InternalError)
        return
    close(g, fd_grad(p6_partial_param_shadows_global, W4.copy()))




def test_p6_partial_of_parameter_refused_or_right():
    x = W4.copy()
    try:
        g = srcad.grad(p6_partial_param)(x)
    except srcad.SrcadError as e:
        assert not isinstance(e, srcad.InternalError)
        assert 'user_corpus_s6.py' in str(e)
        return
    close(g, fd_grad(p6_partial_param, W4.copy()))


def test_p6_grad_of_module_partial():
    """srcad.grad(p) inside, p a module-level functools.partial, was a NoRuleError naming an
    internal function (srcad.api.dh2), then refused at the call; since session 11 the
    derivative of the partial's function, called with the bound values."""
    check_scalar(p6_grad_of_module_partial, W4.copy())


def sh_act(z):
    return z ** 3


def p6_local_function_shadows(x):
    sh_act = np.tanh
    return np.sum(sh_act(x))


def p6_nested_def_shadows(x):
    def sh_act(z):
        return np.exp(z)
    return np.sum(sh_act(x))


def p6_lambda_shadows(x):
    sh_act = lambda z: np.cos(z)
    return np.sum(sh_act(x))


def p6_local_array_shadows_in_partial(x):
    P6_Y = x ** 2
    g = functools.partial(np.dot, P6_Y)
    return g(x)


@pytest.mark.parametrize('f', [
    p6_local_function_shadows, p6_nested_def_shadows, p6_lambda_shadows,
    # p6_local_array_shadows_in_partial: refused (was silent wrong) until session 11, when a
    # local partial's calls became calls of its function (closures._call_partials)
    p6_local_array_shadows_in_partial,
])
def test_p6_shadowing(f):
    x = W4.copy()
    close(srcad.grad(f)(x), fd_grad(f, W4.copy()))


@pytest.mark.parametrize('f', [l3_stack_twice, l3_builtin_sum_twice, l3_in_loop, l3_stack_then_index])
def test_l3_forward_is_right(f):
    """the list(X) read-twice bug is reverse-only: forward tangents and forward Jacobians agree with FD."""
    X = X34.copy()
    V = RNG.standard_normal((2, 3, 4))
    _, T = srcad.jvp(f, (X,), (V,), batched=True)
    for k in range(2):
        close(T[k], fd_dir(f, X34.copy(), V[k]))
    close(srcad.jacfwd(f)(X), fd_grad(f, X34.copy()))
