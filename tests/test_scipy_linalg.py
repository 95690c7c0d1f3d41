"""Rules of templates/scipy_linalg.py: reverse, forward, their agreement and float32
preservation against central differences, batched stacks included, and a second-order check
for each smooth rule. Vector outputs (svd, eigh) are checked through sign-invariant uses.
Skipped without SciPy."""
import numpy as np
import pytest

sl = pytest.importorskip("scipy.linalg")

import srcad  # noqa: E402
from srcad.check import check_grad  # noqa: E402

from helpers import check_rule, check_second_order_of, make_function, random_args  # noqa: E402

NS = {"sl": sl}
SPD = "(x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(np.shape(x)[-1]))"
WELL = "(x + 4.0 * np.eye(np.shape(x)[-1]))"          # well conditioned, not symmetric
SMALL = "(0.3 * x + np.eye(np.shape(x)[-1]))"         # eigenvalues near 1: sqrtm, logm


def xs(*shapes):
    return [[shape] for shape in shapes]


def pairs(*cases):
    return [list(case) for case in cases]


CASES = [
    ("solve", f"sl.solve({WELL}, y)", pairs(((3, 3), (3,)), ((2, 3, 3), (2, 3, 2)))),
    ("solve", f"sl.solve({WELL}, y, transposed=True)", pairs(((3, 3), (3, 2)),)),
    ("solve", f"sl.solve({WELL}, y, assume_a='sym')", pairs(((3, 3), (3,)),)),
    ("solve", f"sl.solve({WELL}, y, assume_a='pos', lower=True)", pairs(((3, 3), (3, 2)),)),
    ("solve", f"sl.solve({WELL}, y, assume_a='lower triangular')", pairs(((3, 3), (3,)),)),
    ("solve", f"sl.solve({WELL}, y, assume_a='diagonal')", pairs(((3, 3), (3,)),)),
    ("solve_triangular", f"sl.solve_triangular({WELL}, y)", pairs(((3, 3), (3,)),)),
    ("solve_triangular", f"sl.solve_triangular({WELL}, y, lower=True, trans='T')",
     pairs(((3, 3), (3, 2)),)),
    ("solve_triangular", f"sl.solve_triangular({WELL}, y, trans=1, unit_diagonal=True)",
     pairs(((3, 3), (3,)),)),
    ("inv", f"sl.inv({WELL})", xs((2, 3, 3),)),
    ("inv", f"sl.inv({WELL}, assume_a='sym', lower=True)", xs((3, 3),)),
    ("det", "sl.det(x)", xs((2, 3, 3),)),
    ("cholesky", f"sl.cholesky({SPD})", xs((2, 3, 3),)),
    ("cholesky", f"sl.cholesky({SPD}, lower=True)", xs((3, 3),)),
    ("cholesky", "sl.cholesky(x + 6.0 * np.eye(3))", xs((3, 3),)),
    ("eigvalsh", "sl.eigvalsh(x)", xs((3, 3),)),
    ("eigvalsh", "sl.eigvalsh(x, lower=False)", xs((3, 3),)),
    ("svdvals", "sl.svdvals(x)", xs((3, 2), (2, 4))),
    # outputs decided by a keyword's constant (registry.variant)
    ("eigh_values", "sl.eigh(x + np.swapaxes(x, -1, -2), eigvals_only=True)", xs((3, 3), (2, 3, 3))),
    ("eigh_values", "sl.eigh(x, eigvals_only=True, lower=False)", xs((3, 3),)),
    # the generalized problem a v = w b v, in a and b
    ("eigh_general_values",
     "sl.eigh(x + x.T, y @ np.swapaxes(y, -1, -2) + 3.0 * np.eye(3), eigvals_only=True)",
     pairs(((3, 3), (3, 3)),)),
    ("eigh_general_values", f"sl.eigh(x, y + 4.0 * np.eye(3), lower=False, eigvals_only=True)",
     pairs(((3, 3), (3, 3)),)),
    ("svd_values", "sl.svd(x, compute_uv=False)", xs((3, 2), (2, 4))),
    ("svd_values", "sl.svd(x, False, False)", xs((3, 3),)),
    ("expm_frechet_only", "sl.expm_frechet(x, y, compute_expm=False)",
     pairs(((3, 3), (3, 3)),)),
    ("expm_frechet_only", "sl.expm_frechet(0.5 * x, y, 'SPS', False)", pairs(((2, 2, 2), (2, 2)),)),
    ("expm", "sl.expm(x)", xs((2, 2, 2),)),
    ("sqrtm", f"sl.sqrtm({SPD})", xs((3, 3),)),
    ("sqrtm", f"sl.sqrtm({SMALL})", xs((3, 3),)),
    ("logm", f"sl.logm({SMALL})", xs((3, 3),)),
    ("block_diag", "sl.block_diag(x, y)", pairs(((2, 2), (1, 3)), ((3,), (2, 1)))),
    ("block_diag", "sl.block_diag(x, np.ones((1, 1)), y, x)", pairs(((2, 3), ()),)),
    ("toeplitz", "sl.toeplitz(x)", xs((3,),)),
    ("toeplitz", "sl.toeplitz(x, y)", pairs(((3,), (4,)), ((4,), (2,)))),
    ("circulant", "sl.circulant(x)", xs((3,), (2, 4))),
    ("hankel", "sl.hankel(x)", xs((3,),)),
    ("hankel", "sl.hankel(x, y)", pairs(((3,), (4,)), ((4,), (2,)))),
    ("leslie", "sl.leslie(x, y)", pairs(((3,), (2,)), ((2, 4), (3,)))),
    ("convolution_matrix", "sl.convolution_matrix(x, 4)", xs((3,), (2, 2))),
    ("convolution_matrix", "sl.convolution_matrix(x, 4, 'same')", xs((3,),)),
    ("convolution_matrix", "sl.convolution_matrix(x, 5, mode='valid')", xs((3,),)),
    ("companion", "sl.companion(x + np.array([3.0, 0.0, 0.0, 0.0]))", xs((4,), (2, 4))),
    ("fiedler_companion", "sl.fiedler_companion(x + np.array([3.0, 0.0, 0.0, 0.0, 0.0]))",
     xs((5,),)),
    ("fiedler_companion", "sl.fiedler_companion(x + 3.0)", xs((2,),)),
    ("fiedler", "sl.fiedler(x)", xs((3,), (2, 4))),
    ("solve_sylvester", f"sl.solve_sylvester({WELL}, y + 3.0 * np.eye(2), z)",
     [[(3, 3), (2, 2), (3, 2)], [(2, 3, 3), (2, 2, 2), (2, 3, 2)]]),
]


@pytest.mark.parametrize("name, expr, cases", CASES, ids=[c[1] for c in CASES])
def test_rule(name, expr, cases):
    for shapes in cases:
        check_rule(expr, shapes, consts=NS)


FUNCTIONS = {
    "eigh": ("""
        def f(x):
            w, v = sl.eigh(x + np.swapaxes(x, -1, -2))
            return np.sum(np.sin(w)) + np.sum(v * v[..., 0:1, :] * np.arange(3.0))
    """, [[(3, 3)], [(2, 3, 3)]]),
    "eigh_upper": ("""
        def f(x):
            w, v = sl.eigh(x, lower=False)
            return np.sum(w ** 2) + np.sum(v[..., 1:, :] * v[..., 0:1, :])
    """, [[(3, 3)]]),
    "svd": ("""
        def f(x):
            u, s, vh = sl.svd(x, full_matrices=False)
            w = np.arange(1.0, 1.0 + np.shape(s)[-1])
            return np.sum(s * w) + np.sum(np.sin((u * w) @ vh))
    """, [[(4, 2)], [(2, 3)]]),
    "svd_full": ("""
        def f(x):
            u, s, vh = sl.svd(x)
            k = np.shape(s)[-1]
            return np.sum(np.cos(u[:, k:] @ u[:, k:].T)) + np.sum(s ** 2)
    """, [[(4, 2)]]),
    "qr": ("""
        def f(x):
            q, r = sl.qr(x, mode='economic')
            return np.sum(np.sin(q)) + np.sum(r ** 2)
    """, [[(4, 3)], [(3, 3)]]),
    "qr_full": ("""
        def f(x):
            q, r = sl.qr(x)
            return np.sum(np.sin(q[:, :2])) + np.sum(r ** 3)
    """, [[(4, 2)]]),
    # factor once, solve with the pair (cho_factor's other triangle holds a's elements)
    "cho_factor_solve": ("""
        def f(x, y):
            c, low = sl.cho_factor(x @ x.T + 3.0 * np.eye(3))
            return np.sum(np.sin(sl.cho_solve((c, low), y))) + np.sum(c * y[..., :1])
    """, [[(3, 3), (3,)]]),
    "cho_factor_lower_pair": ("""
        def f(x, y):
            factor = sl.cho_factor(x @ x.T + 3.0 * np.eye(3), lower=True)
            return np.sum(np.sin(sl.cho_solve(factor, y))) + np.sum(factor[0] ** 2)
    """, [[(3, 3), (3, 2)]]),
    "lu_factor_solve": ("""
        def f(x, y):
            return np.sum(np.sin(sl.lu_solve(sl.lu_factor(x + 3.0 * np.eye(3)), y)))
    """, [[(3, 3), (3,)]]),
    "lu_factor_trans": ("""
        def f(x, y):
            lu, piv = sl.lu_factor(x + 3.0 * np.eye(3))
            return np.sum(np.sin(sl.lu_solve((lu, piv), y, trans=1))) + np.sum(lu ** 2)
    """, [[(3, 3), (3, 2)]]),
    "expm_frechet": ("""
        def f(x, y):
            expm_x, frechet = sl.expm_frechet(x, y)
            return np.sum(np.sin(expm_x)) + np.sum(frechet ** 2)
    """, [[(3, 3), (3, 3)], [(2, 2, 2), (2, 2)]]),
    "expm_frechet_one": ("""
        def f(x, y):
            expm_x, frechet = sl.expm_frechet(x, y)
            return np.sum(np.sin(frechet))
    """, [[(2, 2), (2, 2)]]),
    "lu": ("""
        def f(x):
            p, l, u = sl.lu(x)
            return np.sum(np.sin(l)) + np.sum(u ** 2) + np.sum(p @ l @ u)
    """, [[(3, 3)], [(2, 3, 3)]]),
    # wide and tall: l (m, k), u (k, n), k = min(m, n)
    "lu_rectangular": ("""
        def f(x):
            p, l, u = sl.lu(x)
            w = np.arange(np.size(l)).reshape(np.shape(l))
            return np.sum(np.sin(l) * w) + np.sum(u ** 3) + np.sum(np.cos(p @ l @ u))
    """, [[(3, 4)], [(4, 2)], [(2, 3, 5)], [(2, 4, 3)]]),
    "polar": ("""
        def f(x):
            u, p = sl.polar(x)
            return np.sum(np.sin(u) * np.arange(np.shape(u)[-1])) + np.sum(p ** 3)
    """, [[(3, 3)], [(4, 3)], [(2, 3, 3)]]),
    "polar_left": ("""
        def f(x):
            u, p = sl.polar(x, side='left')
            return np.sum(np.sin(u) * np.arange(np.shape(u)[-1])) + np.sum(np.cos(p))
    """, [[(3, 3)], [(2, 4)]]),
    "eigh_generalized": ("""
        def f(x, y):
            w, v = sl.eigh(x + x.T, y @ y.T + 3.0 * np.eye(3))
            return np.sum(np.sin(w)) + np.sum(v * v[..., 0:1, :] * np.arange(3.0))
    """, [[(3, 3), (3, 3)]]),
    "eigh_generalized_upper": ("""
        def f(x, y):
            w, v = sl.eigh(x, y + 4.0 * np.eye(4), lower=False)
            return np.sum(w ** 2) + np.sum(v[..., 1:, :] * v[..., 0:1, :])
    """, [[(4, 4), (4, 4)]]),
    "eigh_tridiagonal": ("""
        def f(x, y):
            w, v = sl.eigh_tridiagonal(x, y)
            return np.sum(np.sin(w)) + np.sum(v * v[..., 0:1, :] * np.arange(4.0))
    """, [[(4,), (3,)]]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_multi_output(name):
    source, cases = FUNCTIONS[name]
    f = make_function(source, dict(NS))
    for shapes in cases:
        args = random_args(shapes, seed=3)
        wrt = tuple(range(len(args)))
        for mode in ("reverse", "forward", "both"):
            check_grad(f, *args, wrt=wrt if len(wrt) > 1 else 0, mode=mode)
        g = srcad.grad(f)(*[np.asarray(a, dtype=np.float32) for a in args])
        assert g.dtype == np.float32
    check_second_order_of(f, random_args(cases[-1], seed=5))


SECOND = list({name: (expr, cases[-1]) for name, expr, cases in reversed(CASES)}.values())


@pytest.mark.parametrize("expr, shapes", SECOND, ids=[e for e, _ in SECOND])
def test_second_order(expr, shapes):
    params = ", ".join("xyz"[:len(shapes)])
    f = make_function(f"def f({params}):\n    return np.sum(np.sin({expr}))\n", dict(NS))
    check_second_order_of(f, random_args(shapes, seed=5))


def test_structured_constants_are_registered():
    from srcad import registry
    for fn in (sl.dft, sl.hadamard, sl.helmert, sl.hilbert, sl.invhilbert, sl.invpascal,
               sl.pascal):
        assert registry.lookup(fn).nondiff


def test_expm_frechet_of_commuting_direction():
    # for e commuting with a, L_exp(a, e) = e exp(a)
    f = make_function("def f(x, t):\n    return sl.expm(x + t * x @ x)\n", dict(NS))
    a = random_args([(3, 3)], seed=2)[0]
    tangent = srcad.autodiff(f, mode="forward", wrt=1)(a, 0.0, 1.0)
    np.testing.assert_allclose(tangent, a @ a @ sl.expm(a), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call", ["sl.solve(x, y, overwrite_a=True)",
                                  "sl.solve(x, y, assume_a='banded')",
                                  "sl.inv(x, overwrite_a=True)",
                                  "sl.qr(x, pivoting=True)[0]",
                                  "sl.eigh(x, x, type=2)[0]",
                                  "sl.lu(x, permute_l=True)[0]",
                                  "sl.eigh_tridiagonal(x[0], x[1, :2], select='i')[0]"])
def test_unsupported_calls_are_refused(call):
    f = make_function(f"def f(x, y):\n    return np.sum({call})\n", dict(NS))
    with pytest.raises(Exception):
        srcad.grad(f)(np.eye(3) * 2.0 + 0.1, np.ones(3))
