"""Rules of templates/creation.py: constant-valued functions mixed into differentiable code
leave the derivative of the rest intact, and full/full_like/linspace differentiate in their
values."""
import math

import numpy as np
import pytest

import srcad
from srcad.check import check_grad
from srcad.registry import lookup

from helpers import check_rule, make_function, random_args

SORTED = np.linspace(-2.0, 2.0, 7)


def xs(*shapes):
    """One case per shape of the single argument x."""
    return [[shape] for shape in shapes]


# (primitive under test, expression in x (and y), cases: one list of argument shapes each,
#  check_rule options).
# Creation functions that always build float64 arrays (ones(3), eye(3)...) would promote a
# float32 gradient to float64; those lines test float64 only (float32=False).
CASES = [
    # array creation from shapes
    ("zeros", "x + np.zeros(np.shape(x))", xs((3,)), {"float32": False}),
    ("zeros", "x * (1.0 + np.zeros((2, 1)))", xs((2, 3)), {"float32": False}),
    ("ones", "x * np.ones((3,), dtype=x.dtype)", xs((3,)), {}),
    ("empty", "x + 0.0 * np.size(np.empty((2, 2)))", xs((3,)), {}),
    ("zeros_like", "x + np.zeros_like(x)", xs((), (3,), (2, 3)), {}),
    ("ones_like", "x * np.ones_like(x)", xs((), (3,), (2, 3)), {}),
    ("ones_like", "x.T * np.ones_like(x.T)", xs((2, 3)), {}),
    ("empty_like", "x * np.size(np.empty_like(x))", xs((2, 3)), {}),
    ("eye", "x * np.eye(3)", xs((3, 3)), {"float32": False}),
    ("eye", "x * np.eye(3, dtype=x.dtype)", xs((3, 3)), {}),
    ("identity", "x * np.identity(3)", xs((3,)), {"float32": False}),
    ("arange", "x * np.arange(3)", xs((3,), (2, 3)), {"float32": False}),
    ("linspace", "x * np.linspace(0.0, 1.0, 3)", xs((3,)), {"float32": False}),
    # shapes and sizes
    ("shape", "x * np.shape(x)[0]", xs((3,), (2, 3)), {}),
    ("size", "x * np.size(x)", xs((), (2, 3)), {}),
    ("ndim", "x * np.ndim(x)", xs((), (2, 3)), {}),
    ("isscalar", "x * np.isscalar(y) + y", [[(3,), ()]], {}),
    ("len", "x * len(x)", xs((3,)), {}),
    ("isinstance", "x * isinstance(y, float) + y", [[(3,), ()]], {}),
    # integer and boolean values of arrays
    ("argmax", "x[np.argmax(x)]", xs((4,)), {}),
    ("argmax", "x * x[np.argmax(x)]", xs((4,)), {}),
    ("argmin", "x[np.argmin(x)] * x", xs((4,)), {}),
    ("argsort", "x[np.argsort(x)] * np.arange(4.0)", xs((4,)), {"float32": False}),
    ("argsort", "x[np.argsort(x)]", xs((4,)), {}),
    ("nonzero", "x[np.nonzero(x > 0.0)]", xs((5,), (2, 3)), {}),
    ("searchsorted", "x[np.searchsorted(SORTED, 0.5)] * x", xs((8,)), {}),
    ("count_nonzero", "x * np.count_nonzero(x > 0.0)", xs((5,)), {}),
    ("any", "x * np.any(x > 0.0)", xs((5,)), {}),
    ("all", "x * np.all(x > -10.0)", xs((5,)), {}),
    # index construction
    ("tril_indices", "x[np.tril_indices(3)]", xs((3, 3)), {}),
    ("triu_indices", "x[np.triu_indices(3, 1)]", xs((3, 3)), {}),
    ("diag_indices", "x[np.diag_indices(3)] * 2.0", xs((3, 3)), {}),
    ("unravel_index", "x[np.unravel_index(5, (3, 3))] * x", xs((3, 3)), {}),
    ("ravel_multi_index", "x[np.ravel_multi_index(([1, 0], [2, 1]), (3, 3))]", xs((9,)), {}),
    # integer arithmetic
    ("factorial", "x * math.factorial(3)", xs((3,)), {}),
    ("comb", "x * math.comb(4, 2)", xs((3,)), {}),
    ("gcd", "x / math.gcd(6, 4)", xs((3,)), {}),
    # differentiable creation: the value is an input
    ("full", "x * np.full((3,), 2.0)", xs((3,)), {"float32": False}),
    ("full", "np.full((2, 3), y) * x", [[(2, 3), ()]], {"float32": False}),
    ("full", "np.full((2, 3), x)", xs((), (3,)), {"float32": False}),
    ("full_like", "x * np.full_like(x, 2.0)", xs((3,), (2, 3)), {}),
    ("full_like", "np.full_like(x, y) * x", [[(2, 3), ()]], {}),
    ("full_like", "np.full_like(x, y)", [[(2, 3), (3,)]], {}),
    ("linspace", "np.linspace(x, y, 4)", [[(), ()]], {"float32": False}),
    ("linspace", "np.linspace(x, y, 5, endpoint=False)", [[(2,), (2,)]], {}),
    ("linspace", "np.linspace(x, y, 3)", [[(2, 3), (3,)]], {}),
]


def _ids(cases):
    return [f"{name}:{expr}" for name, expr, _, _ in cases]


@pytest.mark.parametrize("name, expr, cases, options", CASES, ids=_ids(CASES))
def test_rule(name, expr, cases, options):
    for arg_shapes in cases:
        check_rule(expr, arg_shapes, consts={"SORTED": SORTED}, **options)


NONDIFF = [np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.eye,
           np.identity, np.arange, np.argmax, np.argmin, np.argsort, np.nonzero, np.shape,
           np.size, np.ndim, np.searchsorted, np.count_nonzero, np.any, np.all, np.isscalar,
           np.tril_indices, np.triu_indices, np.diag_indices, np.unravel_index,
           np.ravel_multi_index, len, range, isinstance, math.factorial, math.comb, math.gcd]


@pytest.mark.parametrize("primitive", NONDIFF, ids=lambda p: getattr(p, "__name__", repr(p)))
def test_registered_nondiff(primitive):
    rule = lookup(primitive)
    assert rule is not None and rule.nondiff


@pytest.mark.parametrize("primitive", [np.sort, enumerate, zip, float, np.full, np.linspace])
def test_not_constant(primitive):
    rule = lookup(primitive)
    assert rule is None or not rule.nondiff


LOOPS = {
    "range_len": """
        def f(x):
            s = 0.0
            for i in range(len(x)):
                s = s + x[i] * x[i] * i
            return s
    """,
    "argmax_mixed": """
        def f(x):
            return np.sum(x * np.ones_like(x)) + np.sum(x[np.argmax(x)])
    """,
    "enumerate": """
        def f(x):
            s = 0.0
            for i, xi in enumerate(x):
                s = s + xi * xi * i
            return s
    """,
    "zip": """
        def f(x):
            s = 0.0
            for a, b in zip(x, np.arange(5.0)):
                s = s + a * a * b
            return s
    """,
    "zeros_buffer": """
        def f(x):
            out = np.zeros(3)
            out = out + x[:3] * 2.0
            return np.sum(out * out)
    """,
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_in_functions(name):
    f = make_function(LOOPS[name])
    (x,) = random_args([(5,)], seed=3)
    for mode in ("reverse", "forward", "both"):
        check_grad(f, x, wrt=0, mode=mode)


def test_argmax_gradient_exact():
    f = make_function(LOOPS["argmax_mixed"])
    x = np.array([0.3, 2.0, -1.0])
    np.testing.assert_allclose(srcad.grad(f)(x), [1.0, 2.0, 1.0])
