"""Complex values, in JAX's convention: a cotangent pairs with a tangent as ``Re(ct * t)``
(no conjugation), the gradient of a real ``f`` of a complex ``z`` is ``df/dx - 1j df/dy``,
``jvp``/``vjp`` are ``jax.jvp``/``jax.vjp``'s.

Every function of the corpus is checked, at several shapes (broadcasting and 0-d included),
in both modes against central differences along real and imaginary directions, forward
against reverse, optimized and not, with read-only arguments, tangents and seeds. Then the
refusals: a primitive without a rule for complex values, ``grad`` of a complex output, a
seed or tangent of the wrong kind, a complex value written into a real array.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import srcad
from srcad.errors import NoRuleError, NotDifferentiableError, ShapeMismatchError

from agreement import read_only
from helpers import make_function

H = 1e-6
RTOL, ATOL = 1e-5, 1e-6

# A complex value cast to a real one anywhere is a failure, never a warning.
pytestmark = pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")


# -- finite differences along real and imaginary directions ------------------------------------

def _moved(args, i, t, h):
    out = list(args)
    out[i] = args[i] + h * t
    return out


def fd_jvp(f, args, i, t):
    """(f(x + h t) - f(x - h t)) / 2h for the argument ``i`` moving along ``t``."""
    return (np.asarray(f(*_moved(args, i, t, H))) - np.asarray(f(*_moved(args, i, t, -H)))) / (
        2 * H)


def _unit(a, k, unit):
    """The direction ``unit`` (1 or 1j) along element ``k`` of ``a``."""
    if np.ndim(a) == 0:
        return unit if not isinstance(a, (np.ndarray, np.generic)) else np.asarray(
            unit, dtype=np.result_type(a, unit))[()]
    e = np.zeros(np.shape(a), dtype=np.result_type(a, unit))
    e.flat[k] = unit
    return e


def fd_vjp(f, args, i, ct):
    """The VJP of ``ct`` in argument ``i`` from finite differences: element ``k`` is
    ``a - 1j b`` with ``a = Re<ct, df along e_k>`` and ``b = Re<ct, df along 1j e_k>``
    (``b`` only for a complex argument)."""
    a = args[i]
    complex_arg = np.iscomplexobj(a)
    out = np.zeros(np.shape(a), dtype=complex if complex_arg else float)
    for k in range(np.size(a)):
        re = np.real(np.sum(ct * fd_jvp(f, args, i, _unit(a, k, 1.0))))
        im = np.real(np.sum(ct * fd_jvp(f, args, i, _unit(a, k, 1j)))) if complex_arg else 0.0
        out.flat[k] = re - 1j * im if complex_arg else re
    return out


def draw(g, kind, shape, domain="any"):
    """A real ("r") or complex ("c") value: a Python number for shape ()."""
    if domain == "right":         # Re z > 0, away from log's and sqrt's branch cut
        re, im = g.uniform(0.5, 1.5, shape), g.uniform(-0.5, 0.5, shape)
    elif domain == "small":       # |z| < 0.7, away from arcsin's and arctanh's cuts
        re, im = g.uniform(-0.5, 0.5, shape), g.uniform(-0.45, 0.45, shape)
    else:
        re, im = g.standard_normal(shape), g.standard_normal(shape)
    value = re + 1j * im if kind == "c" else re
    if shape == ():
        return complex(value) if kind == "c" else float(value)
    return np.asarray(value)


def directions(g, a):
    """Tangents of ``a``: for a complex argument along the real axis, the imaginary axis and
    a random complex direction; for a real one a random real direction."""
    def like(v):
        return v if np.ndim(a) else (complex(v) if np.iscomplexobj(a) else float(v))
    r = g.standard_normal(np.shape(a))
    if not np.iscomplexobj(a):
        return [like(r)]
    return [like(r + 0j), like(1j * r), like(r + 1j * g.standard_normal(np.shape(a)))]


def seed_for(g, out):
    shape = np.shape(out)
    s = g.standard_normal(shape) + (1j * g.standard_normal(shape) if np.iscomplexobj(out)
                                    else 0.0)
    return s if shape else (complex(s) if np.iscomplexobj(out) else float(s))


def check(f, args, wrt, optimized=True, seed=0):
    """Both modes of ``f`` at ``args`` for each argument in ``wrt``: against finite
    differences, and forward against reverse."""
    g = np.random.default_rng(seed)
    out = f(*args)
    frozen = [read_only(a) for a in args]
    for i in wrt:
        ct = seed_for(g, out)
        vjp = srcad.autodiff(f, mode="reverse", wrt=i, optimized=optimized)(
            *frozen, seed=read_only(ct))
        np.testing.assert_allclose(vjp, fd_vjp(f, args, i, ct), rtol=RTOL, atol=ATOL,
                                   err_msg=f"reverse mode, argument {i}")
        assert np.iscomplexobj(vjp) == np.iscomplexobj(args[i])
        assert type(vjp) is type(args[i]) or isinstance(args[i], np.ndarray)
        if np.ndim(out) == 0 and not np.iscomplexobj(out):
            grad = srcad.grad(f, wrt=i, optimized=optimized)(*frozen)
            np.testing.assert_allclose(grad, fd_vjp(f, args, i, 1.0), rtol=RTOL, atol=ATOL,
                                       err_msg=f"grad, argument {i}")
        df = srcad.autodiff(f, mode="forward", wrt=i, optimized=optimized)
        for t in directions(g, args[i]):
            jvp = df(*frozen, read_only(t))
            np.testing.assert_allclose(jvp, fd_jvp(f, args, i, t), rtol=RTOL, atol=ATOL,
                                       err_msg=f"forward mode, argument {i}")
            pair_fwd = np.real(np.sum(ct * np.asarray(jvp)))
            pair_rev = np.real(np.sum(np.asarray(vjp) * t))
            assert abs(pair_fwd - pair_rev) <= 1e-9 * max(1.0, abs(pair_fwd)), (
                f"forward vs reverse, argument {i}: {pair_fwd} != {pair_rev}")


# -- the corpus: (id, source, [(kind, domain)] per parameter, shape patterns) ------------------
# Shape patterns give each parameter's shape; () is a Python number.

C3 = np.array([1.0 + 2.0j, -0.5 + 0.3j, 0.25 - 1.0j])
NAMESPACE = {"C3": C3}

VECTORS = [[(3,)], [()], [(2, 3)]]
PAIRS = [[(3,), (3,)], [(2, 3), (3,)], [(3, 1), (4,)], [(), (3,)], [(), ()]]

CORPUS = [
    ("abs_of_square", "def f(z):\n    return np.sum(np.abs(z * z))",
     [("c", "any")], VECTORS),
    ("holomorphic_chain", "def f(z):\n    return np.exp(z) * np.sin(z) + np.log(z) / np.cos(z)",
     [("c", "right")], VECTORS),
    ("real_imag_parts", "def f(z):\n    return np.sum(z.real ** 2 + z.imag * z.real + "
     "np.real(z) * np.imag(z) ** 3)", [("c", "any")], VECTORS),
    ("conj", "def f(z):\n    return np.conj(z) * z + z.conjugate() ** 2 + np.conjugate(z) * 1j",
     [("c", "any")], VECTORS),
    ("angle", "def f(z):\n    return np.sum(np.angle(z) * np.abs(z) + np.angle(z, deg=True))",
     [("c", "right")], VECTORS),
    ("abs_builtin", "def f(z):\n    return abs(z) ** 3 + np.absolute(z)", [("c", "any")],
     VECTORS),
    ("mixed_broadcast", "def f(x, z):\n    return np.sum(np.abs(x * z + 1j * x) ** 2)",
     [("r", "any"), ("c", "any")], PAIRS),
    ("mixed_complex_output", "def f(x, z):\n    return x * z - z / (2.0 + x * x) + x",
     [("r", "any"), ("c", "any")], PAIRS),
    ("real_with_constant", "def f(x):\n    return np.sum(np.abs(np.exp(1j * x) * x + x))",
     [("r", "any")], VECTORS),
    ("complex_global", "def f(x):\n    return np.sum(np.abs(x * C3) + np.real(x / C3))",
     [("r", "any")], [[(3,)], [()], [(2, 3)]]),
    ("powers", "def f(z):\n    return z ** 3 + z ** 0.5 + np.sqrt(z) + np.square(z) + "
     "np.reciprocal(z) + np.power(z, 2.5) + z ** z",
     [("c", "right")], VECTORS),
    ("trig", "def f(z):\n    return np.tan(z) + np.arcsin(z) + np.arccos(z) + np.arctan(z) + "
     "np.sinh(z) + np.cosh(z) + np.tanh(z) + np.arcsinh(z) + np.arctanh(z) + np.sinc(z)",
     [("c", "small")], VECTORS),
    ("exps_logs", "def f(z):\n    return np.exp2(z) + np.expm1(z) + np.log2(z) + np.log10(z) "
     "+ np.log1p(z) - z + (-z)", [("c", "right")], VECTORS),
    ("matmul", "def f(a, z):\n    return np.sum(np.abs(a @ z) ** 2)",
     [("c", "any"), ("c", "any")], [[(2, 3), (3,)], [(2, 3), (3, 4)], [(3,), (3, 2)]]),
    ("products", "def f(a, b):\n    return np.dot(a, b) + np.inner(a, b) + "
     "np.tensordot(a, b, axes=1) + np.trace(np.outer(a, b)) + "
     "np.einsum('i,i->', a, b) + np.sum(np.kron(a, b))",
     [("c", "any"), ("r", "any")], [[(3,), (3,)]]),
    ("einsum_mixed", "def f(x, z):\n    return np.einsum('ij,j->i', x, z)",
     [("r", "any"), ("c", "any")], [[(2, 3), (3,)]]),
    ("linalg", "def f(a, b):\n    return np.sum(np.linalg.inv(a) @ b) + np.linalg.det(a) + "
     "np.sum(np.linalg.solve(a, b))", [("c", "any"), ("c", "any")], [[(3, 3), (3,)]]),
    ("reductions", "def f(z):\n    return np.sum(np.prod(z, axis=0) + np.mean(z, axis=0)) + "
     "np.sum(np.cumsum(z, axis=-1) * np.cumprod(z, axis=-1))", [("c", "any")],
     [[(2, 3)], [(3,)]]),
    ("shapes", "def f(z):\n    y = np.reshape(z, (3, 2)).T\n"
     "    w = np.concatenate([y, y[:, ::-1]], axis=1)\n    s = np.stack([w[0], w[1] * 2.0])\n"
     "    return s[:, [0, 2, 2]] * np.transpose(w)[1:4].T", [("c", "any")], [[(6,)], [(2, 3)]]),
    ("where", "def f(x, z):\n    return np.sum(np.abs(np.where(x > 0, z, 2.0 * z)))",
     [("r", "any"), ("c", "any")], [[(3,), (3,)], [(2, 3), (3,)]]),
    ("setitem_loop", "def f(x, z):\n    out = np.zeros(3, dtype=complex)\n"
     "    for i in range(3):\n        out[i] = x[i] * z[i] + 1j\n"
     "    return np.sum(np.abs(out) ** 2)", [("r", "any"), ("c", "any")], [[(3,), (3,)]]),
    ("buffer_of_its_dtype", "def f(z):\n    out = np.zeros(z.shape, dtype=z.dtype)\n"
     "    out[1:] = z[:-1] * z[1:]\n    return np.sum(np.abs(out))", [("c", "any")],
     [[(3,)], [(2, 3)]]),
    ("real_into_complex_array", "def f(x, z):\n    out = z * 2.0\n    out[0] = x[1]\n"
     "    return out", [("r", "any"), ("c", "any")], [[(3,), (3,)]]),
    ("copy_then_complex", "def f(x, z):\n    h = x\n    for i in range(2):\n"
     "        h = np.tanh(h * z)\n    return np.sum(np.abs(h))",
     [("r", "any"), ("c", "small")], [[(3,), (3,)], [(), ()]]),
    ("list_of_mixed", "def f(x, z):\n    parts = []\n    parts.append(x)\n"
     "    parts.append(z)\n    return np.sum(np.abs(np.array(parts)) ** 2 + "
     "np.stack([x, z]) * 1j)", [("r", "any"), ("c", "any")], [[(3,), (3,)]]),
    ("real_if_close", "def f(z):\n    return np.sum(np.real_if_close(z * np.conj(z)) + "
     "np.real_if_close(z * z))", [("c", "any")], VECTORS),
    ("complex_builtin", "def f(a, b):\n    return abs(complex(a, b) ** 2)",
     [("r", "any"), ("r", "any")], [[(), ()]]),
    ("astype", "def f(x):\n    return np.sum(np.abs(x.astype(complex) * 1j + np.exp(x)))",
     [("r", "any")], [[(3,)]]),
    ("dtype_keyword", "def f(x):\n    y = np.asarray(x, dtype='complex128') * (1 + 2j)\n"
     "    return y * y", [("r", "any")], [[(3,)], [(2, 2)]]),
    ("scalar_loop", "def f(x, z):\n    acc = 0.0\n    for i in range(3):\n"
     "        acc = acc + z[i] * x[i] * 1j\n        if np.real(acc) > 0:\n"
     "            acc = acc * 0.5\n    return np.abs(acc) ** 2",
     [("r", "any"), ("c", "any")], [[(3,), (3,)]]),
    ("while_loop", "def f(z):\n    k = 0\n    while k < 3:\n        z = z * z * 0.5 + 0.1j\n"
     "        k = k + 1\n    return np.sum(np.abs(z))", [("c", "small")], VECTORS),
    ("helper", "def helper(v, scale=2.0 - 1j):\n    return v * scale\n\n"
     "def f(x, z):\n    return np.sum(np.abs(helper(x) + helper(z, scale=0.5)))",
     [("r", "any"), ("c", "any")], [[(3,), (3,)], [(), (3,)]]),
    ("reduction_of_abs", "def f(z):\n    return np.max(np.abs(z)) + np.std(np.real(z))",
     [("c", "any")], [[(4,)]]),
]


def _cases():
    for name, source, params, patterns in CORPUS:
        for shapes in patterns:
            yield pytest.param(name, source, params, shapes,
                               id=f"{name}-{'-'.join(map(str, shapes))}".replace(" ", ""))


@pytest.mark.parametrize("name, source, params, shapes", list(_cases()))
def test_corpus(name, source, params, shapes):
    f = make_function(source, dict(NAMESPACE))
    g = np.random.default_rng(len(name))
    args = [draw(g, kind, tuple(shape), domain) for (kind, domain), shape in zip(params, shapes)]
    check(f, args, range(len(args)))


@pytest.mark.parametrize("name", ["mixed_broadcast", "setitem_loop", "copy_then_complex",
                                  "shapes", "matmul"])
def test_unoptimized(name):
    _, source, params, patterns = next(c for c in CORPUS if c[0] == name)
    f = make_function(source, dict(NAMESPACE))
    g = np.random.default_rng(1)
    args = [draw(g, kind, tuple(shape), domain)
            for (kind, domain), shape in zip(params, patterns[0])]
    check(f, args, range(len(args)), optimized=False)


@pytest.mark.parametrize("make", [np.complex128, lambda v: np.asarray(v)],
                         ids=["numpy scalar", "0-d array"])
def test_zero_dimensional(make):
    f = make_function("def f(z, w):\n    return np.abs(z * w) ** 2 + np.real(np.exp(z))")
    check(f, [make(0.3 - 0.4j), make(1.5 + 0.5j)], [0, 1])


# -- the convention, as JAX states it -----------------------------------------------------------

def test_gradient_of_squared_modulus():
    f = make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)")
    assert srcad.grad(f)(3 + 4j) == pytest.approx(6 - 8j)
    g = srcad.grad(f)(np.array([3 + 4j, 1j]))
    np.testing.assert_allclose(g, [6 - 8j, -2j])


def test_holomorphic_vjp_is_the_derivative_times_the_seed():
    f = make_function("def f(z):\n    return np.exp(z) * z")
    z = np.array([0.3 + 0.2j, -1.0 + 0.5j])
    seed = np.array([1.0 + 0.0j, 0.5 - 2.0j])
    _, pullback = srcad.vjp(f, z)
    np.testing.assert_allclose(pullback(seed), seed * np.exp(z) * (1 + z))
    value, tangent = srcad.jvp(f, (z,), (seed,))
    np.testing.assert_allclose(tangent, seed * np.exp(z) * (1 + z))
    np.testing.assert_allclose(value, f(z))


def test_kinds_of_results():
    """Derivatives have the type and dtype of their argument: real for a real argument
    (without a ComplexWarning), complex for a complex one, a Python complex for a Python
    complex, complex64 for complex64."""
    f = make_function("def f(x, z):\n    return np.sum(np.abs(x * z))")
    x, z = np.array([1.0, 2.0]), np.array([1 + 1j, 2 - 1j])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gz = srcad.grad(f, wrt=(0, 1))(x, z)
    assert gx.dtype == np.float64 and gz.dtype == np.complex128
    assert type(srcad.grad(f, wrt=1)(2.0, 1 + 1j)) is complex
    assert type(srcad.grad(f, wrt=0)(2.0, 1 + 1j)) is float
    z64 = z.astype(np.complex64)
    assert srcad.grad(f, wrt=1)(x.astype(np.float32), z64).dtype == np.complex64
    scalar = srcad.grad(f, wrt=1)(2.0, np.complex128(1 + 1j))
    assert type(scalar) is np.complex128


def test_value_and_grad_and_preserve_result():
    f = make_function("def f(z):\n    return np.sum(np.abs(z) ** 2)")
    z = np.array([1 + 2j, -1j])
    value, g = srcad.value_and_grad(f)(z)
    assert value == pytest.approx(6.0)
    np.testing.assert_allclose(g, 2 * np.conj(z))
    value, t = srcad.autodiff(f, mode="forward", preserve_result=True)(z, np.array([1j, 1.0 + 0j]))
    assert value == pytest.approx(6.0)
    assert t == pytest.approx(np.real(np.sum(2 * np.conj(z) * np.array([1j, 1.0]))))


def test_complex_keyword_and_default_arguments():
    f = make_function("def f(x, c=1j):\n    return np.sum(np.abs(x * c + x))")
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(srcad.grad(f)(x), fd_vjp(f, [x], 0, 1.0), rtol=RTOL)
    h = make_function("def h(x, c):\n    return np.sum(np.abs(x * c + x))")
    dh = srcad.grad(h)
    np.testing.assert_allclose(dh(x, c=2.0), 3.0 * np.sign(x))         # a real build
    np.testing.assert_allclose(dh(x, c=1j), fd_vjp(lambda v: h(v, 1j), [x], 0, 1.0), rtol=RTOL)
    items = make_function("def k(xs):\n    return np.sum(np.abs(xs[0] * xs[1]))")
    pair = [np.array([1.0 + 0j, 2.0]), np.array([1j, 1 + 1j])]
    grads = srcad.grad(items)(pair)
    np.testing.assert_allclose(grads[1], fd_vjp(lambda b: items([pair[0], b]), [pair[1]], 0,
                                                1.0), rtol=RTOL)
    np.testing.assert_allclose(grads[0], fd_vjp(lambda a: items([a, pair[1]]), [pair[0]], 0,
                                                1.0), rtol=RTOL)
    with pytest.raises(NotDifferentiableError, match="both real and complex"):
        srcad.grad(items)([np.array([1.0, 2.0]), pair[1]])
    named = make_function("def n(x, p):\n    return np.sum(np.abs(x * p['c']))")
    np.testing.assert_allclose(srcad.grad(named)(x, {"c": np.array([1j, 2.0 + 1j])}),
                               [1.0, -np.sqrt(5.0)])


def test_real_and_complex_calls_share_no_derivative():
    f = make_function("def f(z):\n    return np.sum(np.abs(z))")
    df = srcad.grad(f)
    np.testing.assert_allclose(df(np.array([-2.0, 3.0])), [-1.0, 1.0])
    np.testing.assert_allclose(df(np.array([3 + 4j])), [0.6 - 0.8j])
    np.testing.assert_allclose(df(np.array([-2.0, 3.0])), [-1.0, 1.0])


# -- refused -------------------------------------------------------------------------------------

REFUSED = [
    ("maximum", "def f(z):\n    return np.sum(np.abs(np.maximum(z, 0.0)))", "numpy.maximum"),
    ("std", "def f(z):\n    return np.std(z)", "numpy.std"),
    ("sort", "def f(z):\n    return np.sum(np.abs(np.sort(z)))", "numpy.sort"),
    ("sign", "def f(z):\n    return np.sum(np.abs(np.sign(z) * z))", "numpy.sign"),
    ("vdot", "def f(z):\n    return np.abs(np.vdot(z, z))", "numpy.vdot"),
    ("norm", "def f(z):\n    return np.linalg.norm(z)", "numpy.linalg.norm"),
    ("max", "def f(z):\n    return np.abs(np.max(z))", "numpy.max"),
    ("arccosh", "def f(z):\n    return np.sum(np.abs(np.arccosh(z)))", "numpy.arccosh"),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name, source, primitive", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_for_complex_values(name, source, primitive, mode):
    f = make_function(source)
    df = srcad.autodiff(f, mode=mode)         # builds for real values: fine
    z = np.array([1 + 2j, -0.5 + 1j])
    args = (z,) if mode == "reverse" else (z, np.ones(2) + 0j)
    with pytest.raises(NoRuleError) as err:
        df(*args)
    message = str(err.value)
    assert primitive in message and "complex" in message
    assert ":2:" in message and "not supported" in message


def test_refused_at_build_for_a_complex_literal():
    f = make_function("def f(x):\n    y = x * 1j\n    return np.sum(np.abs(np.maximum(y, 0.0)))")
    with pytest.raises(NoRuleError, match="numpy.maximum"):
        srcad.grad(f)


def test_real_values_in_a_complex_function_keep_their_rules():
    """np.maximum of real values is fine in a function that also computes complex ones."""
    f = make_function("def f(x):\n    r = np.maximum(x, 0.0)\n"
                      "    return np.sum(np.abs(r * 1j + np.sort(x)))")
    x = np.array([0.5, -1.0, 2.0])
    check(f, [x], [0])


def test_grad_of_a_complex_output_is_refused():
    f = make_function("def f(z):\n    return np.sum(z * z)")
    with pytest.raises(NotDifferentiableError, match="real-valued output") as err:
        srcad.grad(f)(np.array([1j, 2.0 + 0j]))
    assert "vjp" in str(err.value)
    _, pullback = srcad.vjp(f, np.array([1j, 2.0 + 0j]))
    np.testing.assert_allclose(pullback(1.0 - 1j), (1.0 - 1j) * 2 * np.array([1j, 2.0]))


def test_seed_and_tangent_kinds():
    f = make_function("def f(z):\n    return np.abs(z)")
    z = np.array([1 + 1j, 2.0 + 0j])
    with pytest.raises(ShapeMismatchError, match="seed is complex"):
        srcad.autodiff(f)(z, seed=np.array([1j, 1j]))
    df = srcad.autodiff(f, mode="forward")
    with pytest.raises(ShapeMismatchError, match="tangent of z is real"):
        df(z, np.ones(2))
    g = make_function("def g(x):\n    return x * 2.0")
    with pytest.raises(ShapeMismatchError, match="tangent of x is complex"):
        srcad.autodiff(g, mode="forward")(np.ones(2), np.ones(2) * 1j)
    with pytest.raises(ShapeMismatchError, match="seed is complex"):
        srcad.autodiff(g)(np.ones(2), seed=np.ones(2) * 1j)
    h = make_function("def h(z):\n    return z * 2.0")                  # a real seed: fine
    np.testing.assert_allclose(srcad.autodiff(h)(z, seed=np.ones(2)), [2.0, 2.0])


def test_complex_into_a_real_array_is_refused():
    f = make_function("def f(x, z):\n    out = np.zeros(2)\n    out[0] = x[0] * z[0]\n"
                      "    return np.sum(out)")
    with pytest.raises(NotDifferentiableError, match="imaginary part") as err:
        srcad.grad(f)(np.ones(2), np.array([1j, 1.0 + 0j]))
    assert ":3:" in str(err.value)


def test_jacobian_and_higher_derivatives_of_complex_values_are_refused():
    f = make_function("def f(z):\n    return np.abs(z) ** 2")
    with pytest.raises(NotDifferentiableError, match="jacobian"):
        srcad.jacobian(f)(np.array([1j, 1.0 + 0j]))
    df = srcad.grad(make_function("def g(z):\n    return np.sum(np.abs(z) ** 2)"))
    ddf = srcad.autodiff(df, mode="forward")
    with pytest.raises(NotDifferentiableError, match="again"):
        ddf(np.array([1j, 1.0 + 0j]), np.array([1j, 1.0 + 0j]))


# -- real builds are untouched -----------------------------------------------------------------

def test_real_functions_build_as_before():
    f = make_function("def f(x):\n    return np.sum(np.abs(x * x) + x.real)")
    source = srcad.show(f)
    assert "conj" not in source and "_srcad.to_complex" not in source
    assert "b_abs * np.sign" in source.replace("(", "").replace(")", "")
    from srcad import api
    entry = api._get(f, api.Spec())
    assert entry.complex is None


def test_generated_code_is_readable():
    f = make_function("def f(x):\n    return np.sum(np.abs(np.exp(1j * x) * x))")
    source = srcad.show(f)
    assert "bx = np.real(" in source
    assert "np.conj(" in source


def test_higher_derivatives_through_complex_values_of_real_arguments():
    f = make_function("def f(x):\n    return np.sum(np.abs(np.exp(1j * x) * x + x) ** 2)")
    x = np.array([0.3, -0.7, 1.1])
    g = srcad.grad(f)
    expected = np.stack([fd_jvp(g, [x], 0, e) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(srcad.hessian(f)(x), expected, rtol=RTOL, atol=ATOL)
    literal = srcad.grad(make_function("def h(z):\n    return np.sum(np.abs(z * 1j) ** 2)"))
    with pytest.raises(NotDifferentiableError, match="again"):
        srcad.autodiff(literal, mode="forward")(np.array([1j]), np.array([1j]))


def test_forward_mode_writes_complex_tangents_into_complex_arrays():
    """``out = x + 1j`` has the real tangent of ``x``: the tangent of an array written in
    place afterwards is made complex, so a complex write into it keeps its imaginary part."""
    f = make_function("def f(x, z):\n    out = x + 1j\n    out[0] = z[0] * 2.0\n    return out")
    x, z = np.array([1.0, 2.0]), np.array([1j, 1.0 + 1j])
    dx, dz = np.array([0.5, -1.0]), np.array([2.0 - 1j, 1j])
    _, tangent = srcad.jvp(f, (x, z), (dx, dz))
    np.testing.assert_allclose(tangent, [2.0 * dz[0], dx[1]])


def test_outputs_of_both_kinds():
    f = make_function("def f(z):\n    return np.abs(z), z * 2.0")
    z = np.array([3 + 4j, 1j])
    df = srcad.autodiff(f)
    np.testing.assert_allclose(df(z, seed=(np.ones(2), np.ones(2) * 1j)),
                               np.conj(z) / np.abs(z) + 2j)
    with pytest.raises(ShapeMismatchError, match="seed is complex"):
        df(z, seed=(np.ones(2) * 1j, np.ones(2)))


# -- random programs ------------------------------------------------------------------------------

_UNARY = ["np.exp({0})", "np.sin({0})", "np.tanh({0})", "np.abs({0})", "np.real({0})",
          "np.imag({0})", "np.conj({0})", "({0}).real", "({0}) * 1j", "({0}) ** 2",
          "np.angle({0} + 3.0)", "np.maximum({0}, 0.1)", "np.sort({0})", "np.cumsum({0})",
          "({0})[::-1]", "np.concatenate([({0})[1:], ({0})[:1] * 0.5])", "-({0})",
          "np.sum({0}) * ({0})",
          "np.where(np.abs({0}) > 0.5, {0}, 0.3 * ({0}))", "np.sqrt(({0}) * ({0}) + 2.0)"]
_BINARY = ["({0}) + ({1})", "({0}) - ({1})", "({0}) * ({1})", "({0}) / (({1}) * ({1}) + 2.0)"]
_STATEMENTS = ["    w = {0}",
               "    for i in range(2):\n        w = w * z * 0.5 + {0}",
               "    out = np.zeros(4, dtype=complex)\n    out[1:] = ({0})[:3]\n    w = out + w",
               "    if np.real(w[0]) > 0:\n        w = {0}\n    else:\n        w = w * x"]


def _random_expression(r, depth):
    if depth == 0 or r.random() < 0.2:
        return r.choice(["x", "z", "w"])
    if r.random() < 0.6:
        return r.choice(_UNARY).format(_random_expression(r, depth - 1))
    return r.choice(_BINARY).format(_random_expression(r, depth - 1),
                                    _random_expression(r, depth - 1))


def random_program(r):
    """A function of a real ``x`` and a complex ``z``: elementwise chains, reductions,
    slices, a loop, a branch, a complex buffer written in place; some use functions refused
    for complex values."""
    lines = ["def f(x, z):", "    w = x * 0.5"]
    for _ in range(r.randint(1, 3)):
        lines.append(r.choice(_STATEMENTS).format(_random_expression(r, 2)))
    lines.append("    return " + r.choice(["np.sum(np.abs(w) ** 2)", "w",
                                           "np.real(np.sum(w * np.conj(w)))"]))
    return "\n".join(lines)


@pytest.mark.parametrize("n", range(40))
def test_random_programs(n):
    """Each program is right in both modes, or refused with a complex-values error."""
    import random
    r = random.Random(n)
    source = random_program(r)
    f = make_function(source)
    g = np.random.default_rng(n)
    args = [draw(g, "r", (4,)), draw(g, "c", (4,))]
    with np.errstate(all="ignore"):
        out = f(*args)
    if not np.all(np.isfinite(out)):
        pytest.skip("the function itself overflows here")
    try:
        check(f, args, [0, 1], optimized=n % 3 != 0, seed=n)
    except NoRuleError as err:
        assert "with complex values" in str(err), source
