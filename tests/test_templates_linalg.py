"""Rules of templates/linalg.py: reverse, forward, their agreement and float32 preservation for
products (matmul, dot, inner, outer, vdot, tensordot, einsum, trace, kron) and np.linalg (inv,
solve, det, slogdet, cholesky, eigh, pinv), over several ranks, broadcasting, stacked matrices
and non-contiguous operands (``x.T``, ``x[::2]``)."""
import numpy as np
import pytest

import srcad
from srcad import registry, runtime
from srcad.check import check_grad

from helpers import check_rule, make_function, random_args

# A symmetric positive definite matrix (stack) built from x: well conditioned for inverses.
SPD = "(x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(np.shape(x)[-1]))"


def pairs(*cases):
    return [list(case) for case in cases]


def xs(*shapes):
    return [[shape] for shape in shapes]


# (primitive, expression in x, y, z, cases: the argument shapes of each, check_rule options)
CASES = [
    # matmul: batch broadcasting, 1-D promotion, non-contiguous operands
    ("matmul", "x @ y", pairs(((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
                              ((4,), (4, 5)), ((4,), (2, 4, 5)), ((3, 4), (4,)),
                              ((2, 3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
                              ((1, 3, 4), (2, 4, 5))), {}),
    ("matmul", "np.matmul(x, y)", pairs(((2, 3, 4), (2, 4, 5)), ((4,), (3, 4, 2))), {}),
    ("matmul", "x.T @ y", pairs(((4, 3), (4, 5))), {}),
    ("matmul", "x @ y[::2].T", pairs(((3, 4), (10, 4))), {}),
    ("matmul", "x @ x", xs((3, 3), (2, 3, 3)), {}),
    ("matmul", "x @ np.ones(4)", xs((3, 4)), {}),
    # dot: every rank combination, Python scalars
    ("dot", "np.dot(x, y)", pairs(((), (3,)), ((3, 4), ()), ((), ()), ((4,), (4,)),
                                  ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)),
                                  ((2, 3, 4), (5, 4, 6)), ((2, 3, 4), (4,)),
                                  ((4,), (2, 4, 3))), {}),
    ("dot", "np.dot(2.5, x) + np.dot(x, -1.5)", xs((3,), (2, 3)), {}),
    ("dot", "x.dot(y)", pairs(((2, 3), (3,))), {}),
    ("dot", "np.dot(x.T, y)", pairs(((4, 3), (4, 2))), {}),
    ("inner", "np.inner(x, y)", pairs(((4,), (4,)), ((3, 4), (5, 4)), ((2, 3, 4), (4,)),
                                      ((), (2, 3)), ((2, 3), ())), {}),
    ("inner", "np.inner(x.T, y)", pairs(((4, 3), (2, 4))), {}),
    ("outer", "np.outer(x, y)", pairs(((3,), (4,)), ((2, 3), (4,)), ((), (3,))), {}),
    ("outer", "np.outer(x.T, y[::2])", pairs(((2, 3), (6,))), {}),
    ("vdot", "np.vdot(x, y)", pairs(((3,), (3,)), ((2, 3), (6,)), ((2, 3), (3, 2))), {}),
    ("vdot", "np.vdot(x.T, y)", pairs(((2, 3), (3, 2))), {}),
    ("tensordot", "np.tensordot(x, y)", pairs(((2, 3, 4), (3, 4, 5))), {}),
    ("tensordot", "np.tensordot(x, y, 1)", pairs(((3, 4), (4, 5)), ((4,), (4,))), {}),
    ("tensordot", "np.tensordot(x, y, 0)", pairs(((3,), (2, 2)), ((), (3,))), {}),
    ("tensordot", "np.tensordot(x, y, axes=([1, 2], [1, 0]))", pairs(((2, 3, 4), (4, 3, 5))),
     {}),
    ("tensordot", "np.tensordot(x, y, axes=([0], [-1]))", pairs(((2, 3, 4), (5, 2))), {}),
    ("tensordot", "np.tensordot(x.T, y, axes=((0, 1), (1, 0)))", pairs(((3, 2), (3, 2))), {}),
    # einsum: explicit and implicit outputs, ellipsis, repeated letters, 1..3 operands
    ("einsum", "np.einsum('ij,jk->ik', x, y)", pairs(((2, 3), (3, 4))), {}),
    ("einsum", "np.einsum('ij,jk', x, y)", pairs(((2, 3), (3, 4))), {}),
    ("einsum", "np.einsum('ij,jk,kl->il', x, y, z)", pairs(((2, 3), (3, 4), (4, 2))), {}),
    ("einsum", "np.einsum('...ij,...jk->...ik', x, y)", pairs(((5, 2, 3), (3, 4)),
                                                              ((2, 3), (4, 3, 2))), {}),
    ("einsum", "np.einsum('bij,bjk->bik', x, y)", pairs(((2, 3, 4), (2, 4, 5))), {}),
    ("einsum", "np.einsum('ij,ij->ij', x, y)", pairs(((1, 3), (2, 3))), {}),
    ("einsum", "np.einsum('i,j->ij', x, y)", pairs(((3,), (4,))), {}),
    ("einsum", "np.einsum('i,i', x, y)", pairs(((3,), (3,))), {}),
    ("einsum", "np.einsum('ij,i->j', x, y)", pairs(((3, 4), (3,))), {}),
    ("einsum", "np.einsum('ab,cd->', x, y)", pairs(((2, 3), (4, 5))), {}),
    ("einsum", "np.einsum('...i,...i->...', x, y)", pairs(((2, 3), (3,))), {}),
    ("einsum", "np.einsum('ii->i', x)", xs((3, 3)), {}),
    ("einsum", "np.einsum('ii', x)", xs((3, 3)), {}),
    ("einsum", "np.einsum('iij->j', x)", xs((3, 3, 2)), {}),
    ("einsum", "np.einsum('iji->j', x)", xs((2, 3, 2)), {}),
    ("einsum", "np.einsum('ii,i->', x, y)", pairs(((3, 3), (3,))), {}),
    ("einsum", "np.einsum('ij->', x)", xs((2, 3)), {}),
    ("einsum", "np.einsum('ji', x.T)", xs((2, 3)), {}),
    ("einsum", "np.einsum('ij,jk->ik', x, x)", xs((3, 3)), {}),
    ("einsum", "np.einsum('ij,jk->ik', x, np.ones((3, 2)))", xs((2, 3)), {}),
    ("einsum", "np.einsum('ij,jk->ik', x, y, optimize=True)", pairs(((2, 3), (3, 4))), {}),
    # trace
    ("trace", "np.trace(x)", xs((3, 3), (3, 4), (2, 3, 4)), {}),
    ("trace", "np.trace(x, 1)", xs((3, 4)), {}),
    ("trace", "np.trace(x, offset=-1)", xs((4, 3)), {}),
    ("linalg.trace", "np.linalg.trace(x)", xs((3, 3), (2, 3, 4)), {}),
    ("linalg.trace", "np.linalg.trace(x, offset=1)", xs((2, 3, 4)), {}),
    ("linalg.diagonal", "np.linalg.diagonal(x)", xs((3, 3), (2, 3, 4)), {}),
    ("linalg.diagonal", "np.linalg.diagonal(x, offset=-1)", xs((2, 4, 3)), {}),
    ("linalg.matrix_transpose", "np.linalg.matrix_transpose(x)", xs((3, 4), (2, 3, 4)), {}),
    ("trace", "np.trace(x, axis1=1, axis2=2)", xs((2, 3, 3)), {}),
    ("trace", "np.trace(x, 1, 2, 0)", xs((3, 2, 3)), {}),
    ("trace", "np.trace(x, axis1=-1, axis2=0)", xs((3, 4, 2)), {}),
    ("trace", "x.trace()", xs((3, 3)), {}),
    ("trace", "np.trace(x.T @ x)", xs((3, 2)), {}),
    # kron
    ("kron", "np.kron(x, y)", pairs(((2, 3), (4, 5)), ((3,), (2,)), ((2, 3), (4,)),
                                    ((3,), (2, 2)), ((2, 2, 2), (3, 1))), {}),
    ("kron", "np.kron(x.T, y)", pairs(((3, 2), (2, 2))), {}),
    # inverse, solve (b a vector or matrices; batched and broadcast)
    ("inv", f"np.linalg.inv({SPD})", xs((3, 3), (2, 3, 3)), {}),
    ("inv", "np.linalg.inv(x + 5.0 * np.eye(3))", xs((3, 3)), {}),
    ("inv", "np.linalg.inv(x.T + 5.0 * np.eye(3))", xs((3, 3)), {}),
    ("solve", f"np.linalg.solve({SPD}, y)", pairs(((3, 3), (3,)), ((3, 3), (3, 2)),
                                                  ((2, 3, 3), (2, 3, 2)), ((3, 3), (2, 3, 2))), {}),
    ("solve", "np.linalg.solve(x + 5.0 * np.eye(3), y.T)", pairs(((3, 3), (2, 3))), {}),
    # determinants
    ("det", "np.linalg.det(x)", xs((3, 3), (2, 3, 3), (1, 1)), {}),
    ("det", "np.linalg.det(x.T + 2.0 * np.eye(3))", xs((3, 3)), {}),
    # factorizations: x @ x.T is symmetric; x + c*I is read through one triangle only
    ("cholesky", f"np.linalg.cholesky({SPD})", xs((3, 3), (2, 4, 4)), {}),
    ("cholesky", "np.linalg.cholesky(x + 6.0 * np.eye(3))", xs((3, 3)), {}),
    ("pinv", "np.linalg.pinv(x)", xs((3, 2), (2, 3), (3, 3), (2, 4, 3)), {}),
    ("pinv", "np.linalg.pinv(x.T)", xs((3, 2)), {}),
    ("pinv", "np.linalg.pinv(x, rcond=1e-12)", xs((3, 2)), {}),
]

# NumPy 2 only: the array-API names in np.linalg, cholesky(upper=...), and solve with a 1-D
# right-hand side against a stack of matrices (NumPy 1 reads it as a stack of vectors)
if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
    CASES += [
        ("matmul", "np.linalg.matmul(x, y)", pairs(((3, 4), (4, 2))), {}),
        ("outer", "np.linalg.outer(x, y)", pairs(((3,), (2,))), {}),
        ("tensordot", "np.linalg.tensordot(x, y, axes=1)", pairs(((3, 4), (4,))), {}),
        ("cholesky", f"np.linalg.cholesky({SPD}, upper=True)", xs((3, 3), (2, 3, 3)), {}),
        ("cholesky", "np.linalg.cholesky(x + 6.0 * np.eye(3), upper=True)", xs((3, 3)), {}),
        ("solve", f"np.linalg.solve({SPD}, y)", pairs(((2, 3, 3), (3,)), ((2, 3, 3), (3, 4)),
                                                      ((2, 1, 3, 3), (4, 3, 1))), {}),
    ]


def _ids(cases):
    return [f"{name}:{expr}" for name, expr, _, _ in cases]


@pytest.mark.parametrize("name, expr, cases, options", CASES, ids=_ids(CASES))
def test_rule(name, expr, cases, options):
    for arg_shapes in cases:
        check_rule(expr, arg_shapes, **options)


# Multi-output primitives (slogdet, eigh) are unpacked in statements.
FUNCTIONS = {
    "slogdet": ("""
        def f(x):
            sign, logdet = np.linalg.slogdet(x)
            return np.sum(logdet * np.arange(1.0, 1.0 + np.size(logdet)))
    """, [[(3, 3)], [(2, 3, 3)]]),
    "slogdet_sign_used": ("""
        def f(x):
            sign, logdet = np.linalg.slogdet(x)
            return np.sum(sign * np.exp(logdet))
    """, [[(3, 3)], [(2, 3, 3)]]),
    "eigh_values": ("""
        def f(x):
            w, v = np.linalg.eigh(x @ x.T)
            return np.sum(w * np.arange(1.0, 1.0 + np.shape(w)[-1]))
    """, [[(3, 3)], [(4, 4)]]),
    "eigh_vectors": ("""
        def f(x):
            w, v = np.linalg.eigh(x + x.T)
            # v[:, j] * v[0, j] does not depend on the sign NumPy picks for column j
            return np.sum(np.sin(w)) + np.sum(v * v[0:1] * np.arange(1.0, 10.0).reshape(3, 3))
    """, [[(3, 3)]]),
    "eigh_lower_triangle_read": ("""
        def f(x):
            w, v = np.linalg.eigh(x)
            return np.sum(w ** 2) + np.sum(v[..., 1:, :] * v[..., 0:1, :])
    """, [[(3, 3)], [(2, 3, 3)]]),
    "eigh_upper": ("""
        def f(x):
            w, v = np.linalg.eigh(x, UPLO='U')
            return np.sum(np.cos(w)) + np.sum(v[1:] * v[0:1])
    """, [[(4, 4)]]),
    "chain_of_inverses": ("""
        def f(x, y):
            a = x @ x.T + 3.0 * np.eye(3)
            l = np.linalg.cholesky(a)
            z = np.linalg.solve(l, y)
            return np.sum(z ** 2) + np.linalg.det(a) * 0.01 + np.trace(np.linalg.inv(a) @ a)
    """, [[(3, 3), (3, 2)]]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_multi_output(name):
    source, cases = FUNCTIONS[name]
    f = make_function(source)
    for shapes in cases:
        args = random_args(shapes, seed=3)
        wrt = tuple(range(len(args)))
        for mode in ("reverse", "forward", "both"):
            check_grad(f, *args, wrt=wrt if len(wrt) > 1 else 0, mode=mode)
        g = srcad.grad(f)(*[np.asarray(a, dtype=np.float32) for a in args])
        assert g.dtype == np.float32 and g.shape == args[0].shape


def test_inv_exact_gradient():
    f = make_function("""
        def f(x):
            return np.sum(np.linalg.inv(x))
    """)
    a = np.array([[2.0, 1.0], [0.5, 3.0]])
    inv = np.linalg.inv(a)
    expected = -inv.T @ np.ones((2, 2)) @ inv.T
    np.testing.assert_allclose(srcad.grad(f)(a), expected, rtol=1e-12)


def test_det_gradient_is_cofactor():
    f = make_function("""
        def f(x):
            return np.linalg.det(x)
    """)
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(srcad.grad(f)(a), [[4.0, -3.0], [-2.0, 1.0]], rtol=1e-12)


def test_matmul_adjoint_reads_like_numpy():
    f = make_function("""
        def f(a, b):
            return np.sum(a @ b)
    """)
    source = srcad.show(f, wrt=(0, 1))
    assert "matmul_adjoint_lhs" in source and "matmul_adjoint_rhs" in source


def test_einsum_only_active_operands_are_differentiated():
    calls = []
    original = runtime.einsum_operand_adjoint

    def spy(g, subscripts, k, operands):
        calls.append(k)
        return original(g, subscripts, k, operands)

    f = make_function("""
        def f(x, y):
            return np.sum(np.einsum('ij,jk->ik', x, y))
    """)
    x, y = random_args([(2, 3), (3, 4)])
    runtime.einsum_operand_adjoint = spy
    try:
        srcad.grad(f, wrt=1)(x, y)
    finally:
        runtime.einsum_operand_adjoint = original
    assert calls == [1]


def test_einsum_sublist_form_is_refused():
    with pytest.raises(TypeError, match="subscripts string"):
        runtime.einsum_operand_adjoint(np.ones(2), np.ones(3), 0, (np.ones(2), [0]))


def test_unsupported_keyword_is_an_error():
    f = make_function("""
        def f(x):
            return np.sum(np.trace(x, dtype=np.float64))
    """)
    with pytest.raises(Exception, match="dtype"):
        srcad.grad(f)(np.ones((2, 2)))


# Second derivatives (forward over reverse) go through the rules of the runtime helpers.
SECOND_ORDER = [
    ("np.sum((x @ y) ** 2)", [(3, 4), (4, 2)]),
    ("np.sum((x @ y) ** 2)", [(4,), (2, 4, 3)]),
    ("np.sum((x @ y) ** 2)", [(2, 3, 4), (4,)]),
    ("np.sum(np.dot(x, y) ** 2)", [(2, 3, 4), (5, 4, 2)]),
    ("np.sum(np.inner(x, y) ** 2)", [(3, 4), (2, 4)]),
    ("np.sum(np.tensordot(x, y, axes=([1, 0], [2, 0])) ** 2)", [(3, 2, 4), (3, 5, 2)]),
    ("np.sum(np.kron(x, y) ** 2)", [(2, 3), (3,)]),
    ("np.trace(x, 1) ** 2", [(3, 4)]),
    ("np.sum(np.linalg.solve(x @ x.T + 3.0 * np.eye(3), y) ** 2)", [(3, 3), (3,)]),
    ("np.sum(np.linalg.inv(x @ x.T + 3.0 * np.eye(3)))", [(3, 3)]),
    ("np.sum(np.einsum('ij,jk->ik', x, y) ** 2)", [(2, 3), (3, 4)]),
    ("np.sum(np.einsum('ij,jk,ki', x, x, y) ** 2)", [(3, 3), (3, 3)]),
    ("np.sum(np.einsum('ii->i', x) ** 3)", [(3, 3)]),
]


@pytest.mark.parametrize("expr, shapes", SECOND_ORDER, ids=[e for e, _ in SECOND_ORDER])
def test_second_order(expr, shapes):
    params = ", ".join("xyz"[:len(shapes)])
    f = make_function(f"def f({params}):\n    return {expr}\n")
    args = random_args(shapes, seed=5)
    # the derivative of the gradient along v, against finite differences of the gradient
    grad = srcad.grad(f, wrt=0)
    v = np.random.default_rng(7).standard_normal(np.shape(args[0]))
    h = 1e-5
    fd = (grad(args[0] + h * v, *args[1:]) - grad(args[0] - h * v, *args[1:])) / (2 * h)
    np.testing.assert_allclose(srcad.hvp(f, wrt=0)(*args, v), fd, rtol=1e-5, atol=1e-7)
    rr = srcad.autodiff(grad, mode="reverse", wrt=0)(*args, seed=v)    # H^T v = H v
    np.testing.assert_allclose(rr, fd, rtol=1e-5, atol=1e-7)


def test_helpers_have_rules():
    for name in ("matmul_adjoint_lhs", "matmul_adjoint_rhs", "tensordot_adjoint_lhs",
                 "tensordot_adjoint_rhs", "kron_adjoint_lhs", "kron_adjoint_rhs", "untrace",
                 "as_columns", "from_columns"):
        rule = registry.lookup(getattr(runtime, name))
        assert rule is not None and rule.adjoint is not None and rule.tangent is not None, name
    assert registry.lookup(runtime.dot_axes).nondiff
