"""Shape rules of products (``np.dot``, ``a.dot(b)``, ``np.matmul``, ``np.outer``,
``np.vdot``) and of the spellings of means (issue 16, part 0), and the derivatives they let
the shape passes specialize.

Every rule is checked against NumPy: for each pair of operand shapes (size-1 dimensions and
broadcasting included) the shape ``analysis.shapes`` states must be the one NumPy computes,
dimension by dimension (a dimension it does not know is None and checked to be absent, never
guessed). Gradients of the specialized derivatives are checked against central finite
differences over the same shapes, with a bias broadcast on top so that a wrong shape fact
(an ``unbroadcast`` dropped) would show as a wrong gradient.
"""
import numpy as np
import pytest

import srcad
from srcad import api
from srcad.analysis import shapes
from srcad.normalize import normalize
from srcad.source import parse_function
from helpers import central_difference, make_function, rng


def _canonical(args):
    """The parameter shapes a derivative is specialized for, and symbol -> size."""
    kinds = api._canonical(api._kinds(args))
    sizes = {}
    for a, k in zip(args, kinds):
        if isinstance(k, tuple):
            sizes.update({d: n for d, n in zip(k, np.shape(a)) if isinstance(d, str)})
    return kinds, sizes


def _inferred(source, args, target="y"):
    program = normalize(parse_function(make_function(source)))
    kinds, sizes = _canonical(args)
    return shapes(program.node, dict(zip(program.params, kinds))).get(target), sizes


def _agrees(inferred, actual, sizes):
    """Is every fact in ``inferred`` true of the ``actual`` shape?"""
    if inferred is None:
        return True
    if len(inferred) != len(actual):
        return False
    return all(d is None or (d == 1 and n == 1) or (isinstance(d, str) and sizes[d] == n)
               for d, n in zip(inferred, actual))


# operand shapes of np.dot / matmul, size-1 dimensions and batch broadcasting included
PAIRS = [((3,), (3,)), ((4, 3), (3,)), ((3,), (3, 5)), ((4, 3), (3, 5)), ((1, 3), (3, 1)),
         ((2, 4, 3), (3, 5)), ((2, 4, 3), (3,)), ((1,), (1, 5)), ((4, 1), (1,)),
         ((3,), (2, 3, 5)), ((2, 4, 3), (6, 3, 5)), ((2, 4, 3), (1, 3, 5)), ((), (4, 3)),
         ((4, 3), ())]
MATMUL_PAIRS = [p for p in PAIRS if p[0] and p[1] and (
    len(p[0]) < 3 or len(p[1]) < 3 or p[0][0] == p[1][0] or 1 in (p[0][0], p[1][0]))]
SPELLINGS = {"np.dot(a, b)": np.dot, "a.dot(b)": np.dot, "np.matmul(a, b)": np.matmul,
             "a @ b": np.matmul, "np.outer(a, b)": np.outer, "np.vdot(a, b)": np.vdot}


def _operands(pair, seed=0):
    g = rng(seed)
    return tuple(g.standard_normal(s) if s else float(g.standard_normal()) for s in pair)


def _valid(spelling, pair):
    """Can this spelling take operands of these shapes (cases NumPy refuses are left out)?"""
    fn = SPELLINGS[spelling]
    return (fn is not np.matmul or pair in MATMUL_PAIRS) and (
        fn is not np.vdot or pair[0] == pair[1]) and (spelling != "a.dot(b)" or bool(pair[0]))


CASES = [(s, p) for s in sorted(SPELLINGS) for p in PAIRS if _valid(s, p)]


@pytest.mark.parametrize("spelling, pair", CASES, ids=str)
def test_product_shape_is_numpys(spelling, pair):
    fn = SPELLINGS[spelling]
    a, b = _operands(pair)
    actual = np.shape(fn(a, b))
    inferred, sizes = _inferred(f"def f(a, b):\n    y = {spelling}\n    return np.sum(y)\n",
                                (a, b))
    assert _agrees(inferred, actual, sizes), (spelling, pair, inferred, actual)
    if fn is not np.outer or all(len(s) <= 1 for s in pair):     # a rule that applies
        assert inferred is not None and None not in inferred, (spelling, pair, inferred)


def test_products_without_a_certain_shape_say_unknown():
    a, b = rng(0).standard_normal((2, 3)), rng(1).standard_normal((3, 4))
    for expr in ("np.outer(a, b)", "np.dot(a, b, out=None)"):
        src = f"def f(a, b, c):\n    y = {expr}\n    return np.sum(y)\n"
        inferred, _ = _inferred(src, (a, b, b))
        assert inferred is None, (expr, inferred)
    # np.dot(a, b, c) writes into c (out= by position): refused since session 11
    with pytest.raises(srcad.NoRuleError, match="out="):
        _inferred("def f(a, b, c):\n    y = np.dot(a, b, c)\n    return np.sum(y)\n", (a, b, b))


MEANS = ["np.mean(x)", "np.sum(x) / x.shape[0]", "x.sum() / x.shape[0]", "np.sum(x) / len(x)",
         "x.mean(axis=0)", "np.sum(x, axis=1) / x.shape[1]", "b + x.sum(axis=0)"]


@pytest.mark.parametrize("expr", MEANS)
@pytest.mark.parametrize("shape", [(4, 3), (1, 3), (4, 1)], ids=str)
def test_mean_spellings_and_float_bias(expr, shape):
    x, b = rng(0).standard_normal(shape), 0.5
    actual = np.shape(eval(expr, {"np": np}, {"x": x, "b": b}))
    inferred, sizes = _inferred(f"def f(x, b):\n    y = {expr}\n    return np.sum(y)\n", (x, b))
    assert inferred is not None and None not in inferred and _agrees(inferred, actual, sizes)


# -- derivatives: central finite differences over the same shapes -----------------------------

def _check(f, args, wrt):
    grads = srcad.grad(f, wrt=wrt)(*args)
    for i, g in zip(wrt, grads):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, central_difference(f, args, i), rtol=1e-6, atol=1e-7,
                                   err_msg=f"argument {i}")
    return grads


@pytest.mark.parametrize("spelling, pair", [
    c for c in CASES if c[0] in ("np.dot(a, b)", "a.dot(b)", "np.matmul(a, b)")], ids=str)
def test_product_gradients(spelling, pair):
    a, b = _operands(pair)
    out = np.shape(np.dot(a, b) if "dot" in spelling else np.matmul(a, b))
    g = rng(5)
    bias = g.standard_normal(out[-1:]) if out else 0.25       # broadcast along the rest
    c = g.standard_normal(out)
    f = make_function(f"def f(a, b, bias, c):\n    y = {spelling} + bias\n"
                      f"    return np.sum(np.tanh(y) * c)\n")
    _check(f, (a, b, bias, c), (0, 1, 2))


def test_dot_adjoints_become_products():
    """``np.dot`` of matrices and vectors specializes as ``@`` does: no runtime tensordot
    adjoint, no unbroadcast, for a float bias and for a row bias alike."""
    from test_shapes import _specialized_source

    f = make_function("def f(W, X, b, v):\n    h = np.tanh(np.dot(X, W) + b)\n"
                      "    return np.sum(h.dot(v)) / X.shape[0]\n")
    g = rng(2)
    for b in (0.5, g.standard_normal(3)):
        args = (g.standard_normal((4, 3)), g.standard_normal((5, 4)), b, g.standard_normal(3))
        source = _specialized_source(f, args, wrt=(0, 2, 3))
        for helper in ("tensordot_adjoint", "dot_axes", "unbroadcast"):
            assert helper not in source, source
        _check(f, args, (0, 2, 3))


def test_dot_with_a_stack_stays_generic():
    """``np.dot`` with a 3-d right operand is not ``@``: its adjoint stays tensordot's."""
    from test_shapes import _specialized_source

    f = make_function("def f(a, b):\n    return np.sum(np.dot(a, b) ** 2)\n")
    args = (rng(0).standard_normal((4, 3)), rng(1).standard_normal((2, 3, 5)))
    assert "tensordot_adjoint" in _specialized_source(f, args, wrt=(0, 1))
    _check(f, args, (0, 1))


# -- runtime helpers in derivative code that is differentiated again ---------------------------

def _runtime_cases():
    g = rng(7)
    a, b = g.standard_normal((4, 3)), g.standard_normal((3, 2))
    row, col = g.standard_normal(3), g.standard_normal((4, 1))
    return [
        ("unbroadcast", (g.standard_normal((5, 4, 3)), col)), ("broadcast_like", (row, a)),
        ("expand_reduced", (2.0, a, None, False)), ("expand_reduced", (row, a, 0, False)),
        ("zeros_like", (a,)), ("tangent_zeros", (row,)), ("matmul_adjoint_lhs", (a @ b, a, b)),
        ("matmul_adjoint_rhs", (a @ b, a, b)),
        ("tensordot_adjoint_lhs", (a @ b, a, b, ([1], [0]))),
        ("tensordot_adjoint_rhs", (a @ b, a, b, ([1], [0]))),
    ]


@pytest.mark.parametrize("helper, args", _runtime_cases(),
                         ids=[f"{h}-{i}" for i, (h, _) in enumerate(_runtime_cases())])
def test_runtime_helper_shapes_are_the_helpers(helper, args):
    """``analysis.shapes`` of a runtime helper in differentiated derivative code is the shape
    of the helper's result."""
    from srcad import runtime
    from srcad.analysis import _RUNTIME_LIKE

    actual = np.shape(getattr(runtime, helper)(*args))
    params = [f"p{i}" for i in range(len(args))]
    source = (f"def f({', '.join(params)}):\n    y = rt.{helper}({', '.join(params)})\n"
              "    return np.sum(y)\n")
    program = normalize(parse_function(make_function(source, {"rt": runtime})))
    kinds, sizes = _canonical(args)
    inferred = shapes(program.node, dict(zip(program.params, kinds))).get("y")
    assert inferred is not None and _RUNTIME_LIKE[helper] < len(args)
    assert _agrees(inferred, actual, sizes), (helper, inferred, actual)
