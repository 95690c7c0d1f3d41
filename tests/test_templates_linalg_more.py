"""Rules of the np.linalg functions added to templates/linalg.py (svd, svdvals, qr, eig,
eigvals, eigvalsh, lstsq, matrix_power, multi_dot, vecdot, vector_norm, matrix_norm, cond,
tensorinv, tensorsolve): reverse, forward, their agreement and float32 preservation against
central differences over several shapes (wide, tall, square, batched), and a second-order
check for each. Vector outputs (svd's u and vh, eig's v) are checked through functions that do
not depend on the sign NumPy picks for each vector (``u[:, i] v[:, i]^T``, ``v * v[0]``)."""
import numpy as np
import pytest

import srcad
from srcad.check import check_grad

from helpers import check_rule, check_second_order_of, make_function, random_args

NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
SPD = "(x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(np.shape(x)[-1]))"
# a matrix (stack) with real, well separated eigenvalues: 1, 2, 3 conjugated by I + 0.3 x
REAL_EIG = "(np.linalg.solve(np.eye(3) + 0.3 * x, np.diag([1.0, 2.0, 3.0]) @ (np.eye(3) + 0.3 * x)))"


def xs(*shapes):
    return [[shape] for shape in shapes]


def pairs(*cases):
    return [list(case) for case in cases]


# one-output primitives: (primitive, expression, argument shapes of each case)
CASES = [
    ("matrix_power", "np.linalg.matrix_power(x, 3) + np.linalg.matrix_power(x, 1)",
     xs((2, 3, 3),)),
    ("matrix_power", "np.linalg.matrix_power(x, 0) * 2.0 + x", xs((2, 2),)),
    ("matrix_power", f"np.linalg.matrix_power({SPD}, -2)", xs((3, 3), (2, 2, 2))),
    ("multi_dot", "np.linalg.multi_dot([x, y, z])", pairs(((2, 3), (3, 4), (4, 2)),
                                                          ((3,), (3, 4), (4,)),
                                                          ((3,), (3, 4), (4, 2)))),
    ("multi_dot", "np.linalg.multi_dot([x, y])", pairs(((2, 3), (3,)),)),
    ("multi_dot", "np.linalg.multi_dot([x, x.T, y])", pairs(((2, 3), (2, 2)),)),
    ("eigvals", f"np.real(np.linalg.eigvals({REAL_EIG}))", xs((3, 3), (2, 3, 3))),
    ("eigvalsh", "np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2))", xs((3, 3), (2, 4, 4))),
    ("eigvalsh", "np.linalg.eigvalsh(x)", xs((3, 3),)),
    ("eigvalsh", "np.linalg.eigvalsh(x, UPLO='U')", xs((3, 3), (2, 3, 3))),
    ("cond", "np.linalg.cond(x)", xs((3, 3), (2, 3, 3), (3, 2), (2, 4))),
    ("cond", "np.linalg.cond(x, 2) + np.linalg.cond(x, -2)", xs((3, 3), (4, 2))),
    ("cond", "np.linalg.cond(x, 'fro') + np.linalg.cond(x, 'nuc')", xs((3, 3), (2, 3, 3))),
    ("cond", "np.linalg.cond(x, 1) + np.linalg.cond(x, -np.inf)", xs((3, 3),)),
    ("tensorinv", "np.linalg.tensorinv(x + 4.0 * np.eye(6).reshape(6, 2, 3), ind=1)", xs((6, 2, 3),)),
    ("tensorinv", "np.linalg.tensorinv(x + 4.0 * np.eye(6).reshape(2, 3, 6), ind=2)",
     xs((2, 3, 6),)),
    ("tensorinv", "np.linalg.tensorinv(x + 4.0 * np.eye(4).reshape(2, 2, 4), 2)",
     xs((2, 2, 4),)),
    ("tensorsolve", "np.linalg.tensorsolve(x + 4.0 * np.eye(6).reshape(2, 3, 6), y)",
     pairs(((2, 3, 6), (2, 3)),)),
    ("tensorsolve", "np.linalg.tensorsolve(x + 4.0 * np.eye(6).reshape(6, 2, 3), y)",
     pairs(((6, 2, 3), (6,)),)),
    # outputs decided by a keyword's constant (registry.variant)
    ("svd_values", "np.linalg.svd(x, compute_uv=False)", xs((3, 3), (4, 2), (2, 5))),
    ("svd_values", "np.linalg.svd(x, full_matrices=False, compute_uv=False)", xs((3, 2),)),
    ("svd_values", "np.linalg.svd(x, True, False)", xs((2, 3, 4),)),
    ("svd_values", "np.linalg.svd(x, compute_uv=0)", xs((3, 2),)),      # NumPy's falsy
    ("qr_r", "np.linalg.qr(x, mode='r')", xs((3, 3), (4, 2), (2, 4))),
    ("qr_r", "np.linalg.qr(x, 'r')", xs((2, 4, 3),)),
]
if NUMPY2:
    CASES += [
        ("svdvals", "np.linalg.svdvals(x)", xs((3, 3), (4, 2), (2, 5), (2, 3, 4))),
        ("vecdot", "np.linalg.vecdot(x, y)", pairs(((3,), (3,)), ((2, 3), (3,)),
                                                   ((2, 1, 3), (4, 3)))),
        ("vecdot", "np.linalg.vecdot(x, y, axis=0)", pairs(((3, 2), (3, 2)),)),
        ("vecdot", "np.vecdot(x, y)", pairs(((2, 3), (2, 3)),)),
        ("vector_norm", "np.linalg.vector_norm(x)", xs((3,), (2, 3))),
        ("vector_norm", "np.linalg.vector_norm(x, axis=(0, 2), keepdims=True)", xs((2, 3, 2),)),
        ("vector_norm", "np.linalg.vector_norm(x, axis=-1, ord=3)", xs((2, 3),)),
        ("vector_norm", "np.linalg.vector_norm(x, ord=1) + np.linalg.vector_norm(x, ord=np.inf)",
         xs((4,), (2, 3))),
        ("vector_norm", "np.linalg.vector_norm(x, axis=0, ord=-np.inf)", xs((3, 2),)),
        ("matrix_norm", "np.linalg.matrix_norm(x)", xs((3, 3), (2, 3, 4))),
        ("matrix_norm", "np.linalg.matrix_norm(x, ord='nuc')", xs((3, 2), (2, 3, 4))),
        ("matrix_norm", "np.linalg.matrix_norm(x, ord=2, keepdims=True)", xs((3, 3), (2, 2, 4))),
        ("matrix_norm", "np.linalg.matrix_norm(x, ord=-2)", xs((3, 3), (4, 2))),
        ("matrix_norm", "np.linalg.matrix_norm(x, ord=1) + np.linalg.matrix_norm(x, ord=np.inf)",
         xs((3, 3), (2, 3, 4))),
        # the existing norm rule with the matrix orders of the issue
        ("norm", "np.linalg.norm(x, 'nuc') + np.linalg.norm(x, 2) + np.linalg.norm(x, -2)",
         xs((3, 3), (4, 2))),
        ("norm", "np.linalg.norm(x, 2, axis=(1, 2))", xs((2, 3, 2),)),
        ("norm", "np.linalg.norm(x, 'nuc', axis=(0, 2), keepdims=True)", xs((3, 2, 2),)),
        ("norm", "np.linalg.norm(x, -2, axis=(2, 0))", xs((3, 2, 4),)),
        ("norm", "np.linalg.norm(x, 2) + np.linalg.norm(x, -2) + np.linalg.norm(x, 2, axis=0)",
         xs((4,), (3, 2))),
    ]


@pytest.mark.parametrize("name, expr, cases", CASES, ids=[c[1] for c in CASES])
def test_rule(name, expr, cases):
    for shapes in cases:
        check_rule(expr, shapes)


def _check_function(source, shapes, seed=3):
    """check_grad of ``f`` in every argument, each mode and both; the float32 gradient."""
    f = make_function(source)
    args = random_args(shapes, seed=seed)
    wrt = tuple(range(len(args)))
    for mode in ("reverse", "forward", "both"):
        check_grad(f, *args, wrt=wrt if len(wrt) > 1 else 0, mode=mode)
    g = srcad.grad(f)(*[np.asarray(a, dtype=np.float32) for a in args])
    assert g.dtype == np.float32 and g.shape == np.shape(args[0])
    return f, args


# multi-output primitives, unpacked (indexing their result is refused: see linalg.py)
FUNCTIONS = {
    "svd_thin_values": ("""
        def f(x):
            u, s, vh = np.linalg.svd(x, full_matrices=False)
            return np.sum(s * np.arange(1.0, 1.0 + np.shape(s)[-1]))
    """, [[(2, 5)], [(2, 3, 4)]]),
    "svd_thin_vectors": ("""
        def f(x):
            u, s, vh = np.linalg.svd(x, full_matrices=False)
            k = np.shape(s)[-1]
            w = np.arange(1.0, 1.0 + k) ** 2
            # u_i v_i^T and u_i * u_i[0] do not depend on the sign of the pair (u_i, v_i)
            return (np.sum(np.sin((u * w[None, :]) @ vh)) + np.sum(u * u[..., 0:1, :] * w)
                    + np.sum(np.cos(vh * vh[..., :, 0:1])))
    """, [[(4, 2)], [(2, 4)], [(2, 3, 4)]]),
    "svd_full": ("""
        def f(x):
            u, s, vh = np.linalg.svd(x)
            k = np.shape(s)[-1]
            pu = u[..., :, k:] @ np.swapaxes(u[..., :, k:], -1, -2)    # the extra columns' span
            pv = np.swapaxes(vh[..., k:, :], -1, -2) @ vh[..., k:, :]
            w = np.arange(1.0, 1.0 + k)
            return (np.sum(np.sin(pu)) + np.sum(np.cos(pv)) + np.sum(s ** 2 * w)
                    + np.sum((u[..., :, :k] * w) @ vh[..., :k, :]))
    """, [[(2, 4)], [(2, 4, 3)]]),
    "qr_reduced": ("""
        def f(x):
            q, r = np.linalg.qr(x)
            return np.sum(np.sin(q) * np.arange(np.shape(q)[-1])) + np.sum(r ** 2 * np.cos(r))
    """, [[(3, 3)], [(2, 4)], [(2, 4, 3)]]),
    # only q used: r's cotangent is a symbolic zero, and q1 @ 0 must be shaped like q1 @ r2
    "qr_q_only": ("""
        def f(x):
            q, r = np.linalg.qr(x)
            return np.sum(np.sin(q))
    """, [[(4, 3)], [(2, 4, 2)]]),
    "qr_complete": ("""
        def f(x):
            q, r = np.linalg.qr(x, mode='complete')
            k = min(np.shape(x)[-2:])
            extra = q[..., :, k:] @ np.swapaxes(q[..., :, k:], -1, -2)
            return np.sum(np.sin(q[..., :, :k])) + np.sum(np.cos(extra)) + np.sum(r ** 3)
    """, [[(2, 3)], [(2, 4, 2)]]),
    "eig": (f"""
        def f(x):
            w, v = np.linalg.eig({REAL_EIG})
            return np.sum(np.real(w) ** 2) + np.sum(np.real(np.sin(v * v[..., 0:1, :])) * np.arange(3.0))
    """, [[(3, 3)], [(2, 3, 3)]]),
    "lstsq_tall": ("""
        def f(x, y):
            sol, res, rank, sv = np.linalg.lstsq(x, y, rcond=None)
            return np.sum(sol ** 2) + np.sum(np.sqrt(res)) + np.sum(sv * np.arange(np.size(sv)))
    """, [[(5, 3), (5,)], [(5, 3), (5, 2)], [(3, 3), (3,)]]),
    "lstsq_wide": ("""
        def f(x, y):
            sol, res, rank, sv = np.linalg.lstsq(x, y)
            return np.sum(np.sin(sol)) + np.sum(res) + np.sum(sv ** 2)
    """, [[(2, 4), (2,)], [(2, 4), (2, 3)]]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_multi_output(name):
    source, cases = FUNCTIONS[name]
    for shapes in cases:
        _check_function(source, shapes)


# Orders that go through runtime.norm_direction (its second derivatives: tests/test_norm_second_order.py)
FIRST_ORDER_ONLY = ("ord=1", "ord=3", "np.inf", "cond(x, 1)", "'nuc')", "np.linalg.norm(")
SECOND_ORDER = list({name: (expr, cases[-1]) for name, expr, cases in reversed(CASES)
                     if not any(part in expr for part in FIRST_ORDER_ONLY)}.values())
SECOND_ORDER += [("np.linalg.cond(x + 3.0 * np.eye(3), 'fro')", [(3, 3)]),    # one per family
                 ("np.linalg.matrix_norm(x, ord=-2)", [(3, 2)]),
                 ("np.linalg.matrix_norm(x, ord='nuc')", [(2, 3)]),
                 # np.linalg.norm's matrix orders 'nuc', 2, -2 (and 2, -2 of vectors)
                 ("np.linalg.norm(x, 'nuc')", [(3, 2)]), ("np.linalg.norm(x, 2)", [(3, 3)]),
                 ("np.linalg.norm(x, -2)", [(2, 4)]),
                 ("np.linalg.norm(x, 'nuc', axis=(0, 2), keepdims=True)", [(3, 2, 2)]),
                 ("np.linalg.norm(x, -2, axis=(2, 0))", [(3, 2, 4)]),
                 ("np.linalg.norm(x, 2) + np.linalg.norm(x, -2, axis=-1)", [(2, 4)]),
                 ("np.linalg.norm(x, 2) * np.linalg.norm(x, -2)", [(4,)])]


@pytest.mark.parametrize("expr, shapes", SECOND_ORDER, ids=[e for e, _ in SECOND_ORDER])
def test_second_order(expr, shapes):
    params = ", ".join("xyz"[:len(shapes)])
    f = make_function(f"def f({params}):\n    return np.sum(np.sin({expr}))\n")
    check_second_order_of(f, random_args(shapes, seed=5))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_multi_output_second_order(name):
    source, cases = FUNCTIONS[name]
    f = make_function(source)
    check_second_order_of(f, random_args(cases[-1], seed=5))


def test_svd_values_gradient_is_u_v():
    f = make_function("""
        def f(x):
            u, s, vh = np.linalg.svd(x, full_matrices=False)
            return s[0]
    """)
    a = random_args([(4, 3)], seed=1)[0]
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(srcad.grad(f)(a), np.outer(u[:, 0], vh[0]), rtol=1e-12)


def test_eig_complex_eigenvalues_are_refused():
    f = make_function("""
        def f(x):
            w, v = np.linalg.eig(x)
            return np.sum(np.real(w))
    """)
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(Exception, match="real eigenvalues"):
        srcad.grad(f)(rotation)


def test_qr_raw_mode_is_refused():
    f = make_function("""
        def f(x):
            q, r = np.linalg.qr(x, mode='raw')
            return np.sum(q) + np.sum(r)
    """)
    with pytest.raises(Exception, match="raw"):
        srcad.grad(f)(np.eye(3) + 0.1)


@pytest.mark.parametrize("call", ["np.linalg.svd(x, compute_uv=flag)",
                                  "np.linalg.svd(x, True, flag)",
                                  "np.linalg.qr(x, mode=flag)"])
def test_output_count_keyword_must_be_constant(call):
    """A keyword that decides how many values a call returns must be known at build time:
    another value is refused at the user's line, naming the keyword."""
    f = make_function(f"def f(x, flag):\n    return np.sum({call})\n")
    with pytest.raises(srcad.SrcadError, match=r"decides how many values") as info:
        srcad.grad(f)(np.eye(3) + 0.1, False)
    assert info.value.location.lineno == 2 and "constant" in str(info.value)


def test_svd_hermitian_is_refused():
    f = make_function("""
        def f(x):
            u, s, vh = np.linalg.svd(x, hermitian=True)
            return np.sum(s)
    """)
    with pytest.raises(Exception, match="hermitian"):
        srcad.grad(f)(np.eye(3))


def test_templates_load_without_scipy(tmp_path):
    """SciPy is optional: with it unimportable, the rules load without the scipy modules."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['scipy'] = None\n"
            "import numpy as np\n"
            "from srcad import registry\n"
            "registry.load()\n"
            "assert registry.lookup(np.linalg.svd).adjoint is not None\n"
            "assert 'srcad.templates.scipy_special' not in sys.modules\n"
            "print('loaded')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "loaded" in out.stdout, out.stderr
