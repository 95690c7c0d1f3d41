"""The conventions users bring from Tangent and JAX: the positional cotangent, ``argnums``,
``jacfwd``/``jacrev``, ``jacobian``/``hessian`` with a tuple ``wrt``, ``vjp`` with one
cotangent per primal, ``check_grad`` by name, the options every function takes, and
``show(f, *example_args)`` printing the variant that runs. Each derivative is checked against
central finite differences."""
import linecache
import sys

import numpy as np
import pytest

import srcad
from helpers import rng

X = rng(1).standard_normal(4)
Y = rng(2).standard_normal((3, 4))
DY = rng(3).standard_normal(3)


def model(x, A, scale=2.0, *, shift=0.5):
    return np.tanh(A @ x) * scale + shift * np.sum(x * x)


def loss(w, A):
    return np.sum(np.sin(A @ w) ** 2) + np.sum(w ** 4)


def fd_jacobian(f, args, i):
    """The Jacobian of f in argument i by central differences, shaped out + arg."""
    args = [np.array(a, dtype=float) for a in args]
    y = np.asarray(f(*args))
    x = args[i]
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0

        def along(t, k=k, e=e):
            moved = list(args)
            moved[i] = x + t * e.reshape(x.shape)
            return np.asarray(f(*moved))
        cols.append(((along(1e-6) - along(-1e-6)) / 2e-6).reshape(-1))
    return np.stack(cols, axis=-1).reshape(y.shape + x.shape)


# -- Tangent's positional cotangent ----------------------------------------------------------

@pytest.mark.parametrize("optimized", [True, False])
def test_positional_cotangent_is_the_seed(optimized):
    dr = srcad.autodiff(model, mode="reverse", optimized=optimized)
    expected = dr(X, Y, 3.0, seed=DY)
    np.testing.assert_array_equal(dr(X, Y, 3.0, DY), expected)
    np.testing.assert_allclose(expected, DY @ fd_jacobian(
        lambda x: model(x, Y, 3.0), [X], 0), rtol=1e-6, atol=1e-8)


def test_positional_cotangent_with_keyword_only_parameters():
    dr = srcad.autodiff(model, mode="reverse")
    np.testing.assert_array_equal(dr(X, Y, 2.0, DY, shift=1.5), dr(X, Y, seed=DY, shift=1.5))


def test_a_default_is_filled_before_the_seed():
    """The rule: one positional argument more than f's positional parameters is the seed;
    fewer fill the parameters, so ``dr(x, A, v)`` passes ``scale=v`` and seeds with ones."""
    dr = srcad.autodiff(model, mode="reverse")
    np.testing.assert_array_equal(dr(X, Y, 3.0), dr(X, Y, 3.0, seed=np.ones(3)))
    with pytest.raises(TypeError):
        dr(X, Y, 3.0, DY, seed=DY)          # two seeds


def test_positional_cotangent_of_a_bound_method():
    class Model:
        def __init__(self, A):
            self.A = A

        def forward(self, x):
            return np.tanh(self.A @ x)
    m = Model(Y)
    dr = srcad.autodiff(m.forward, mode="reverse")
    np.testing.assert_allclose(dr(X, DY), dr(X, seed=DY), rtol=0, atol=0)


# -- JAX's spellings ---------------------------------------------------------------------------

def test_argnums_is_wrt():
    for fn in (srcad.grad, srcad.value_and_grad):
        a, b = fn(loss, argnums=(0, 1))(X, Y), fn(loss, wrt=(0, 1))(X, Y)
        np.testing.assert_allclose(a[-1][0], b[-1][0]) if fn is srcad.value_and_grad else \
            np.testing.assert_allclose(a[1], b[1])
    g = srcad.grad(loss, argnums=1)(X, Y)
    np.testing.assert_allclose(g, fd_jacobian(loss, [X, Y], 1), rtol=1e-5, atol=1e-7)
    dr = srcad.autodiff(model, mode="reverse", argnums="A")
    np.testing.assert_allclose(dr(X, Y, seed=DY), srcad.autodiff(model, wrt=1)(X, Y, seed=DY))


def test_argnums_and_a_different_wrt_are_refused():
    with pytest.raises(TypeError, match="argnums is JAX's name for wrt"):
        srcad.grad(loss, wrt=1, argnums=0)


@pytest.mark.parametrize("jac", [srcad.jacfwd, srcad.jacrev])
def test_jacfwd_and_jacrev(jac):
    f = lambda_free_model
    np.testing.assert_allclose(jac(f)(X, Y), fd_jacobian(f, [X, Y], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jac(f, argnums=1)(X, Y), fd_jacobian(f, [X, Y], 1),
                               rtol=1e-6, atol=1e-8)


def lambda_free_model(x, A):
    return np.tanh(A @ x) + np.sum(x * x)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_with_a_tuple_wrt(mode):
    jx, jA = srcad.jacobian(lambda_free_model, wrt=(0, 1), mode=mode)(X, Y)
    np.testing.assert_allclose(jx, fd_jacobian(lambda_free_model, [X, Y], 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(jA, fd_jacobian(lambda_free_model, [X, Y], 1), rtol=1e-6,
                               atol=1e-8)


def test_hessian_with_a_tuple_wrt_has_jax_layout():
    H = srcad.hessian(loss, wrt=(0, 1))(X, Y)
    for i in range(2):
        for j in range(2):
            grad_i = srcad.grad(loss, wrt=i)
            np.testing.assert_allclose(H[i][j], fd_jacobian(grad_i, [X, Y], j), rtol=1e-5,
                                       atol=1e-6)
    np.testing.assert_allclose(H[0][1], np.moveaxis(H[1][0], (0, 1), (1, 2)).reshape(
        H[0][1].shape), rtol=1e-10, atol=1e-12)      # symmetric: d2/dw dA = (d2/dA dw)^T


def test_vjp_with_wrt_none_returns_one_cotangent_per_primal():
    value, pullback = srcad.vjp(lambda_free_model, X, Y, wrt=None)
    cx, cA = pullback(DY)
    np.testing.assert_allclose(value, lambda_free_model(X, Y))
    np.testing.assert_allclose(cx, DY @ fd_jacobian(lambda_free_model, [X, Y], 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(cA, np.tensordot(DY, fd_jacobian(lambda_free_model, [X, Y], 1),
                                                axes=1), rtol=1e-6, atol=1e-8)


def test_check_grad_by_name():
    srcad.check_grad(loss, X, Y, wrt="A")
    srcad.check_grad(loss, X, Y, wrt=("w", "A"))

    def bad(w, A):
        return np.sum(w * A)
    srcad.check_grad(bad, X, Y, wrt="w")
    with pytest.raises(Exception, match="'v'"):
        srcad.check_grad(loss, X, Y, wrt="v")


# -- the options every function takes ----------------------------------------------------------

def test_every_derivative_function_takes_optimized_and_verbose(capsys):
    v = rng(4).standard_normal(4)
    results = [
        srcad.grad(loss, optimized=False, verbose=1)(X, Y),
        srcad.value_and_grad(loss, optimized=False, verbose=1)(X, Y)[1],
        srcad.autodiff(loss, optimized=False, verbose=1)(X, Y),
        srcad.vjp(loss, X, Y, optimized=False, verbose=1)[1](1.0),
        srcad.jacobian(loss, optimized=False, verbose=1)(X, Y),
        srcad.jacrev(loss, optimized=False, verbose=1)(X, Y),
    ]
    for r in results:
        np.testing.assert_allclose(r, results[0], rtol=1e-12)
    np.testing.assert_allclose(srcad.jvp(loss, (X, Y), (v,), wrt=0, optimized=False,
                                         verbose=1)[1], results[0] @ v, rtol=1e-12)
    H = srcad.hessian(loss, optimized=False, verbose=1)(X, Y)
    np.testing.assert_allclose(srcad.hvp(loss, optimized=False, verbose=1)(X, Y, v), H @ v,
                               rtol=1e-10)
    assert capsys.readouterr().out.count("# Generated by srcad") >= 8


# -- show(f, *example_args) ------------------------------------------------------------------------

def _code_that_runs(df, *args):
    """The generated source of the frame a call of ``df`` enters (what pdb steps into)."""
    seen = []

    def profile(frame, event, arg):
        name = frame.f_code.co_filename         # (the dispatcher's own code: not a derivative)
        if event == "call" and name.startswith("<srcad") and not name.startswith(
                "<srcad-dispatch"):
            seen.append(frame.f_code.co_filename)
    sys.setprofile(profile)
    try:
        df(*args)
    finally:
        sys.setprofile(None)
    assert seen, "no generated frame entered"
    return "".join(linecache.getlines(seen[0]))


def shaped(W, x):
    return np.sum(np.tanh(x @ W) ** 2) + np.sum(W[0] * 3.0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_show_with_example_arguments_prints_the_variant_that_runs(mode):
    W, x = rng(5).standard_normal((3, 2)), rng(6).standard_normal((5, 3))
    text = srcad.show(shaped, W, x, mode=mode)
    assert "import numpy as np" in text.split("# To run this code outside srcad")[1]
    text = text.split("# To run this code outside srcad")[0]      # the code, then its imports
    df = srcad.grad(shaped) if mode == "reverse" else srcad.autodiff(shaped, mode="forward")
    args = (W, x) if mode == "reverse" else (W, x, np.ones_like(W))
    assert text.strip() in _code_that_runs(df, *args)
    if mode == "reverse":       # the generic one keeps unbroadcast and expand_reduced
        assert text != srcad.show(shaped, mode=mode)


def test_show_with_a_container_argument():
    def f(p, x):
        return np.sum(p["a"] * x)
    text = srcad.show(f, {"a": np.ones(3)}, np.ones(3))
    assert "def " in text and "p_a" in text


# -- functions of installed libraries are primitives -------------------------------------------

scipy_special = pytest.importorskip("scipy.special")
scipy_stats = pytest.importorskip("scipy.stats")
scipy_ndimage = pytest.importorskip("scipy.ndimage")
P = np.array([0.2, 0.5, 0.9])


def with_logsumexp(x):
    return scipy_special.logsumexp(x * 2.0)


def with_ellipk(x):
    return np.sum(scipy_special.ellipk(x))


def with_entropy(x):
    return scipy_stats.entropy(np.exp(x))


def with_filter(x):
    return np.sum(scipy_ndimage.gaussian_filter1d(x, 1.0) ** 2)


def test_a_library_function_with_a_rule_is_a_primitive():
    g = srcad.grad(with_logsumexp)(P)
    np.testing.assert_allclose(g, fd_jacobian(with_logsumexp, [P], 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, public", [(with_ellipk, "scipy.special.ellipk"),
                                       (with_entropy, "scipy.stats.entropy"),
                                       (with_filter, "scipy.ndimage.gaussian_filter1d")])
def test_a_library_function_without_a_rule_is_never_inlined(f, public, mode):
    """scipy.stats.entropy and gaussian_filter1d are Python: srcad must not read their source
    (it would refuse scipy's internals), but name them with the rule to register."""
    with pytest.raises(srcad.NoRuleError) as info:     # at srcad.grad(f) or the first call
        df = srcad.autodiff(f, mode=mode)
        df(P) if mode == "reverse" else df(P, P)
    kind = "adjoint" if mode == "reverse" else "tangent"
    assert f"@srcad.register_{kind}({public}) then def " in str(info.value)
    assert str(info.value).startswith(f"{__file__}:")      # located at the user's line


def test_the_recipe_registers_a_working_rule(monkeypatch):
    from srcad import registry
    from srcad.registry import d
    registry.load()      # every family in the copy below: none loads into it and is lost
    monkeypatch.setattr(registry, "_RULES", dict(registry._RULES))   # undone after the test

    @srcad.register_adjoint(scipy_special.ellipk)
    def ellipk_adjoint(y, m):
        d[m] = d[y] * ((scipy_special.ellipe(m) - (1.0 - m) * y) / (2.0 * m * (1.0 - m)))
    np.testing.assert_allclose(srcad.grad(with_ellipk)(P), fd_jacobian(with_ellipk, [P], 0),
                               rtol=1e-6, atol=1e-8)


# -- bad input on the container path: srcad errors naming the parameter ------------------------

def params_loss(p, x):
    return np.sum(p["W"] * x) + np.sum(p["b"])


def attribute_loss(m, x):
    return np.sum(m.W * x)


class NoArrays:
    name = "none"


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, bad, read", [
    (params_loss, [np.ones(3), np.ones(3)], "p['W'], but p is list"),
    (params_loss, np.ones(3), "p['W'], but p is ndarray"),
    (attribute_loss, np.ones(3), "the attribute `.W`"),     # refused when built, at m.W
])
def test_an_argument_of_the_wrong_structure_is_named(f, bad, read, mode):
    x = np.ones(3)
    with pytest.raises(srcad.SrcadError) as info:
        if mode == "reverse":
            srcad.autodiff(f, mode=mode, wrt=1)(bad, x, seed=1.0)
        else:
            srcad.autodiff(f, mode=mode, wrt=1)(bad, x, np.ones(3))
    assert read in str(info.value)
    assert str(info.value).startswith(f"{__file__}:")


def test_an_object_without_arrays_is_named():
    with pytest.raises(srcad.NotDifferentiableError, match="with respect to m: it holds no "
                                                           "float arrays"):
        srcad.grad(attribute_loss)(NoArrays(), np.ones(3))


def test_a_seed_of_the_wrong_structure_is_refused():
    def two(x):
        return np.sin(x), np.cos(x)
    dr = srcad.autodiff(two, mode="reverse")
    for seed in ([np.ones(3)], (np.ones(3),), {"a": np.ones(3)}):
        with pytest.raises(srcad.ShapeMismatchError, match="the seed must be a tuple of 2"):
            dr(np.ones(3), seed=seed)
        with pytest.raises(srcad.ShapeMismatchError, match="the seed must be a tuple of 2"):
            dr(np.ones(3), seed)                # positionally, too


def test_the_right_structure_still_runs_after_a_refusal():
    x = np.ones(3)
    g = srcad.grad(params_loss, wrt=1)
    with pytest.raises(srcad.NotDifferentiableError):
        g(np.ones(3), x)
    np.testing.assert_allclose(g({"W": np.full(3, 2.0), "b": np.ones(3)}, x), np.full(3, 2.0))


# -- outputs that are tuples -----------------------------------------------------------------------

def three_outputs(x, A):
    return np.tanh(A @ x), np.sum(x ** 3), x[:2] * 2.0


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_of_a_tuple_output_is_a_tuple(mode):
    """Was one stacked array (np.asarray of the outputs): wrong for outputs of other shapes."""
    J = srcad.jacobian(three_outputs, mode=mode)(X[:3], Y[:2, :3])
    assert isinstance(J, tuple) and len(J) == 3
    for k in range(3):
        expected = fd_jacobian(lambda x, A, k=k: three_outputs(x, A)[k], [X[:3], Y[:2, :3]], 0)
        np.testing.assert_allclose(J[k], expected, rtol=1e-6, atol=1e-8)


def test_vjp_seed_and_result_follow_a_tuple_output():
    seeds = (rng(7).standard_normal(2), 0.5, rng(8).standard_normal(2))
    value, pullback = srcad.vjp(three_outputs, X[:3], Y[:2, :3])
    assert isinstance(value, tuple) and len(value) == 3
    J = srcad.jacobian(three_outputs)(X[:3], Y[:2, :3])
    np.testing.assert_allclose(pullback(seeds), sum(np.tensordot(s, j, axes=np.ndim(s))
                                                    for s, j in zip(seeds, J)), rtol=1e-10)
