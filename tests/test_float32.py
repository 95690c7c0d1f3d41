"""float32 derivatives are computed in float32 (issue 11, case 9): every intermediate of the
generated code, not only the result that the API casts back.

The generated derivative (the variant specialized for the arguments, and the generic one) is
re-executed with a check after each assignment and at its return: a float64 array or NumPy
float64 scalar in a derivative of float32 arguments is a silent promotion (Python floats are
fine: NumPy 2 treats them as weak). Cases whose primal is not float32 itself (a float64
constant in the function) are skipped."""
import ast
import dataclasses

import numpy as np
import pytest

import srcad
from srcad import api
from corpus import CASES
from control_flow_corpus import CASES as FLOW_CASES
from helpers import make_function


class _Promoted(AssertionError):
    pass


def _check(value, what):
    if isinstance(value, (list, tuple)) and not isinstance(value, srcad.runtime.LazyAdjoints):
        for item in value:
            _check(item, what)
    elif isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "f" and \
            value.dtype != np.float32:
        raise _Promoted(f"{what} is {value.dtype}")


class _Instrument(ast.NodeTransformer):
    """After each assignment to names, ``_dtype_check(name, "name (line n)")``; the returned
    value is checked too."""

    def _after(self, node, targets):
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        checks = [ast.Expr(ast.Call(ast.Name("_dtype_check", ast.Load()),
                                    [ast.Name(n, ast.Load()),
                                     ast.Constant(f"{n} (line {node.lineno})")], []))
                  for n in names]
        return [node] + checks

    def visit_Assign(self, node):
        return self._after(node, node.targets)

    def visit_AugAssign(self, node):
        return self._after(node, [node.target])

    def visit_Return(self, node):
        if node.value is not None:
            node.value = ast.Call(ast.Name("_dtype_checked", ast.Load()),
                                  [node.value, ast.Constant(f"return (line {node.lineno})")], [])
        return node


def _checked(value, what):
    _check(value, what)
    return value


def _run_instrumented(entry, args, keywords):
    tree = _Instrument().visit(ast.parse(entry.source))
    ast.fix_missing_locations(tree)
    namespace = entry.fn.__globals__
    name = entry.fn.__name__
    saved = namespace.get(name)
    namespace["_dtype_check"], namespace["_dtype_checked"] = _check, _checked
    try:
        exec(compile(tree, f"<instrumented {name}>", "exec"), namespace)
        fn = namespace[name]
        fn.__defaults__, fn.__kwdefaults__ = entry.fn.__defaults__, entry.fn.__kwdefaults__
        return fn(*args, **keywords)
    finally:
        namespace[name] = saved


def assert_float32_throughout(f, args, mode, wrt=0, optimized=True):
    """Run the derivative of ``f`` at ``args`` (float32) with every intermediate checked."""
    df = srcad.autodiff(f, mode=mode, wrt=wrt, optimized=optimized) if mode == "forward" \
        else srcad.grad(f, wrt=wrt, optimized=optimized)
    spec = df.__srcad_spec__
    tangents = [np.ones_like(args[i]) if isinstance(args[i], np.ndarray) else 1.0
                for i in spec.wrt] if mode == "forward" else []
    for kinds in (api._canonical(api._kinds(tuple(args))), None):
        entry = api._get(api._target(f), dataclasses.replace(spec, kinds=kinds))
        keywords = dict(zip(entry.extra, tangents)) if entry.extra else {}
        try:        # tangents are keyword-only where f has defaults
            _run_instrumented(entry, list(args) + ([] if keywords else tangents), keywords)
        except _Promoted as exc:
            raise AssertionError(f"{'specialized' if kinds else 'generic'} {mode} derivative "
                                 f"of {f.__name__}: {exc}\n{entry.source}") from None


def _float32(args):
    """float64 arrays as float32; with an array among them, Python floats as np.float32 (a
    scalar-only loop keeps Python floats: a float32 tolerance might never be met)."""
    arrays = any(isinstance(a, np.ndarray) for a in args)
    return [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else
            np.float32(a) if arrays and isinstance(a, float) else a for a in args]


def _float32_primal(fn, args):
    try:
        out = fn(*args)
    except Exception:                 # noqa: BLE001 - a case that needs float64 arguments
        return False
    return isinstance(out, (np.ndarray, np.generic)) and out.dtype == np.float32 and \
        out.ndim == 0


SCALAR = [(c.name, c.fn, c.make_args, c.wrt) for c in CASES if c.scalar] + [
    (c.id, c.f, lambda c=c: c.args(), c.wrt) for c in FLOW_CASES]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name, fn, make_args, wrt", SCALAR, ids=[c[0] for c in SCALAR])
def test_corpus_derivatives_stay_float32(name, fn, make_args, wrt, mode):
    args = _float32(make_args())
    if not _float32_primal(fn, args):
        pytest.skip("the primal itself is not a float32 scalar")
    try:
        srcad.grad(fn, wrt=wrt)
    except srcad.SrcadError:
        pytest.skip("refused (tests/test_control_flow.py checks the message)")
    for optimized in (True, False):
        assert_float32_throughout(fn, args, mode, wrt, optimized)


X32 = np.array([0.5, -1.5, 2.0], dtype=np.float32)
M32 = np.arange(6, dtype=np.float32).reshape(2, 3) / 4.0 + 0.25


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("body", [
    "np.sum(x ** 2)",                      # expand_reduced's np.full made float64 (case 9)
    "np.sum(x ** 2.0)",
    "np.mean(x * x)",
    "np.sum(np.sum(m, axis=0) ** 2)",
    "np.var(m) + np.std(m, axis=1)[0]",
    "np.sum(np.where(x > 0.0, x, 0.0))",
    "np.sum(np.maximum(x, 0.0) * np.minimum(x, 1.0))",
    "np.sum(np.clip(x, -1.0, 1.0) ** 2)",
    "np.sum(np.abs(x)) + np.linalg.norm(x)",
    "np.max(x) + np.min(m)",
    "np.prod(x) + np.sum(np.cumprod(x))",
    "np.sum(np.power(np.abs(x), 1.5))",
    "np.sum(np.arctan2(x, 2.0 * x + 1.0)) + np.sum(np.hypot(x, 1.0))",
    "np.sum(m @ x)",
    "np.sum(np.pad(x, 2, mode='reflect') ** 2)",
    "np.sum(np.tile(x, 2) * np.repeat(x, 2))",
    "np.sum(np.concatenate([x, x * x]))",
    "np.sum(np.diag(m @ m.T)) + np.trace(m @ m.T)",
    "np.sum(np.einsum('ij,j->i', m, x) ** 2)",
    "np.nansum(x * x) + np.nanmean(x)",
    "np.average(m, axis=0, weights=np.array([1.0, 2.0], dtype=np.float32))[1]",
    "np.sum(np.sqrt(x * x + 1.0)) + np.sum(np.log1p(x * x))",
    "np.sum(np.logaddexp(x, 2.0 * x))",
])
def test_rules_stay_float32(body, mode):
    f = make_function(f"""
        def f32(x, m):
            return {body}
    """)
    for wrt in (0, 1):
        assert_float32_throughout(f, [X32, M32], mode, wrt)


def test_the_checker_sees_a_float64_intermediate():
    """The instrumentation itself: a float64 intermediate is reported."""
    f = make_function("""
        def promotes(x):
            return np.sum(x * np.float64(2.0))
    """)
    with pytest.raises(AssertionError, match="float64"):
        assert_float32_throughout(f, [X32], "reverse")


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_and_hessian_of_float32_are_float32(mode):
    f = make_function("""
        def vec(x):
            return np.tanh(x) * x[0]
    """)
    jac = srcad.jacobian(f, mode=mode)(X32)
    assert jac.dtype == np.float32 and jac.shape == (3, 3)
    np.testing.assert_allclose(jac, srcad.jacobian(f, mode=mode)(X32.astype(float)), rtol=1e-5)
    g = make_function("""
        def energy(x):
            return np.sum(np.sin(x) * x ** 2)
    """)
    hess = srcad.hessian(g)(X32)
    assert hess.dtype == np.float32
    assert srcad.jacobian(f)(X32.astype(float)).dtype == np.float64
    hv = srcad.hvp(g)(X32, np.ones(3, np.float32))
    assert hv.dtype == np.float32
    value, jv = srcad.jvp(f, (X32,), (np.ones(3, np.float32),))
    assert value.dtype == jv.dtype == np.float32
    value, vjp_fn = srcad.vjp(f, X32)
    assert vjp_fn(np.ones(3, np.float32)).dtype == np.float32


def _helper_calls():
    rt = srcad.runtime
    sq = (M32[:, :2] + np.eye(2, dtype=np.float32))
    ones = np.ones
    f32 = np.float32
    return {
        "expand_reduced_scalar": (rt.expand_reduced, (1.0, X32, None, False)),
        "expand_reduced_axis": (rt.expand_reduced, (ones(3, f32), M32, 0, False)),
        "unbroadcast": (rt.unbroadcast, (M32, M32[:1])),
        "broadcast_like": (rt.broadcast_like, (X32, M32)),
        "zeros_like": (rt.zeros_like, (X32,)),
        "seed_like": (rt.seed_like, (None, X32)),
        "untrace": (rt.untrace, (1.0, sq)),
        "undiagonal": (rt.undiagonal, (ones(2, f32), M32)),
        "unpad_reflect": (rt.unpad, (ones(7, f32), X32, 2, "reflect")),
        "unpad_constant": (rt.unpad, (ones(7, f32), X32, 2)),
        "pad_border": (rt.pad_border, (X32, 1)),
        "last_write_mask": (rt.last_write_mask, (np.zeros(3, f32), [0, 0, 1])),
        "take_and_zero": (rt.take_and_zero, (ones(3, f32), [0, 0, 1])),
        "group_weights": (rt.group_weights, (M32 > 0.5, 0, M32)),
        "norm_direction": (rt.norm_direction, (X32, np.linalg.norm(X32, 3), 3, None, False)),
        "unrepeat": (rt.unrepeat, (ones(6, f32), X32, 2)),
        "untile": (rt.untile, (ones(6, f32), X32, 2)),
        "unconcatenate": (rt.unconcatenate, (ones(6, f32), [X32, X32])),
        "einsum_seed": (rt.einsum_operand_adjoint, (1.0, "i,i->", 0, (X32, X32))),
        "einsum_tangent": (rt.einsum_tangent, ("i,i->", (X32, X32), (X32, None))),
        "matmul_lhs": (rt.matmul_adjoint_lhs, (ones(2, f32), M32, X32)),
        "matmul_rhs": (rt.matmul_adjoint_rhs, (ones(2, f32), M32, X32)),
        "tensordot_lhs": (rt.tensordot_adjoint_lhs, (ones((2, 2), f32), M32, M32.T, 1)),
        "kron_lhs": (rt.kron_adjoint_lhs, (ones(9, f32), X32, X32)),
        "sigmoid": (rt.sigmoid, (X32,)),
        "gather_sum": (rt.gather_sum, ([X32, X32], X32)),
        "saved": (rt.saved, ([X32, 1.0],)),
    }


@pytest.mark.parametrize("name", list(_helper_calls()))
def test_runtime_helpers_keep_float32(name):
    helper, args = _helper_calls()[name]
    _check(helper(*(a.copy() if isinstance(a, np.ndarray) else a for a in args)), name)
