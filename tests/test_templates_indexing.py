"""Rules of templates/indexing.py: ``x[index]`` with every kind of NumPy index (repeated fancy
indices must accumulate), np.take, np.take_along_axis, np.compress, np.extract and np.sort;
reverse, forward, their agreement and float32 preservation."""
import numpy as np
import pytest

import srcad
from srcad.check import check_grad

from helpers import check_rule, make_function, random_args

CONSTS = {
    "I": np.array([0, 2, 2, -1]),                   # repeated and negative
    "J": np.array([1, 1, 0, 2]),
    "K": np.array([[0, 3], [3, 3]]),                # 2-D, repeated
    "M": np.array([True, False, True, True]),       # boolean mask
    "M2": np.array([[True, False, True], [False, False, True]]),
    "TA": np.array([[0, 3, 3, 1, -1], [2, 2, 2, 0, 1], [3, 0, 1, 1, 0]]),   # take_along_axis
    "TB": np.array([[2, 0, 0, 1]]),                 # broadcasts along axis 0
    "F": np.array([0, 11, -1, 5, 5]),               # flat indices
    "W7": np.array([0, 7, -9, 2]),                  # out of range: mode wrap / clip
    "C": np.array([True, False, True]),
}


def xs(*shapes):
    """One case per shape of the single argument x."""
    return [[shape] for shape in shapes]


# (primitive under test, expression in x (and y), cases: one list of argument shapes each,
#  check_rule options)
CASES = [
    # integers
    ("getitem int", "x[1]", xs((3,), (3, 4)), {}),
    ("getitem int", "x[-1] * x[0]", xs((4,), (2, 3)), {}),
    ("getitem int", "x[1, -2]", xs((3, 4)), {}),
    ("getitem int", "x[1][2]", xs((3, 4)), {}),
    ("getitem int", "x.T[0]", xs((3, 4)), {}),
    # slices, with steps (negative too)
    ("getitem slice", "x[1:]", xs((4,), (4, 2)), {}),
    ("getitem slice", "x[::2]", xs((5,), (5, 2)), {}),
    ("getitem slice", "x[::-1]", xs((4,), (3, 2)), {}),
    ("getitem slice", "x[3:0:-2]", xs((5,)), {}),
    ("getitem slice", "x[:, ::-2] + x[:, 1::2]", xs((3, 4)), {}),
    ("getitem slice", "x[1:, :-1] * x[:-1, 1:]", xs((3, 4)), {}),
    ("getitem slice", "x[::2][::-1]", xs((7,)), {}),
    # None / np.newaxis and Ellipsis
    ("getitem None", "x[None]", xs((3,), (2, 3)), {}),
    ("getitem None", "x[:, None] * x[None, :]", xs((3,)), {}),
    ("getitem None", "x[np.newaxis, 1]", xs((3, 2)), {}),
    ("getitem Ellipsis", "x[..., 1]", xs((2, 3), (2, 3, 4)), {}),
    ("getitem Ellipsis", "x[..., None, 1:3]", xs((2, 4)), {}),
    ("getitem Ellipsis", "x[...]", xs((3,)), {}),
    ("getitem 0-d", "np.asarray(x)[()]", xs(()), {}),
    # integer arrays (repeated indices accumulate)
    ("getitem array", "x[I]", xs((4,), (3, 2)), {}),
    ("getitem array", "x[[0, 0, 1]]", xs((3,)), {}),
    ("getitem array", "x[I, 1:]", xs((3, 4)), {}),
    ("getitem array", "x[I, J]", xs((3, 4)), {}),
    ("getitem array", "x[K]", xs((4,), (4, 2)), {}),
    ("getitem array", "x[1:, K]", xs((3, 4)), {}),
    ("getitem array", "x.T[1:, I]", xs((3, 4)), {}),
    ("getitem array", "x[I][::-1]", xs((3,)), {}),
    ("getitem array", "x[..., I, None]", xs((2, 3)), {}),
    # boolean masks
    ("getitem mask", "x[M]", xs((4,), (4, 2)), {}),
    ("getitem mask", "x[x > 0]", xs((5,), (2, 3)), {}),
    ("getitem mask", "x[M2]", xs((2, 3)), {}),
    ("getitem mask", "x[M, 1]", xs((4, 3)), {}),
    ("getitem mask", "x[1:, M] * y", [[(2, 4), (1, 3)]], {}),
    # mixed tuples
    ("getitem mixed", "x[I, None, ::-1]", xs((3, 4)), {}),
    ("getitem mixed", "x[-1, ..., J]", xs((2, 3, 4)), {}),
    # np.take
    ("take", "np.take(x, I)", xs((4,), (2, 3)), {}),
    ("take", "np.take(x, I, axis=1)", xs((2, 3)), {}),
    ("take", "np.take(x, K, axis=-1)", xs((2, 4)), {}),
    ("take", "np.take(x, 1, axis=0)", xs((3, 2)), {}),
    ("take", "np.take(x, -1)", xs((3, 2)), {}),
    ("take", "x.take(F)", xs((3, 4)), {}),
    ("take", "np.take(x.T, J, axis=0)", xs((2, 3)), {}),
    ("take", "np.take(x, W7, axis=1, mode='wrap')", xs((2, 3)), {}),
    ("take", "np.take(x, W7, mode='clip')", xs((5,)), {}),
    # np.take_along_axis
    ("take_along_axis", "np.take_along_axis(x, TA, axis=1)", xs((3, 4)), {}),
    ("take_along_axis", "np.take_along_axis(x, TA.T, axis=0)", xs((4, 3)), {}),
    ("take_along_axis", "np.take_along_axis(x, TB, axis=1)", xs((3, 4)), {}),
    ("take_along_axis", "np.take_along_axis(x, TB, axis=0)", xs((3, 4)), {}),
    ("take_along_axis", "np.take_along_axis(x, F, axis=None)", xs((3, 4)), {}),
    ("take_along_axis", "np.take_along_axis(x.T, TB.T, -1)", xs((3, 4)), {}),
    # compress, extract, sort
    ("compress", "np.compress(C, x, axis=0)", xs((3, 2)), {}),
    ("compress", "np.compress(C, x)", xs((2, 2)), {}),
    ("compress", "np.compress(C, x.T, axis=-1)", xs((3, 3)), {}),
    ("extract", "np.extract(x > 0, x)", xs((5,), (2, 3)), {}),
    ("sort", "np.sort(x)", xs((5,), (3, 4)), {}),
    ("sort", "np.sort(x, axis=0)", xs((3, 4)), {}),
    ("sort", "np.sort(x.T, axis=None)", xs((3, 4)), {}),
    ("sort", "np.sort(x, axis=1, stable=True)", xs((3, 4)), {}),             # NumPy 2
]


def _ids(cases):
    return [f"{name}:{expr}" for name, expr, _, _ in cases]


@pytest.mark.parametrize("name, expr, cases, options", CASES, ids=_ids(CASES))
def test_rule(name, expr, cases, options):
    for arg_shapes in cases:
        check_rule(expr, arg_shapes, consts=CONSTS, **options)


FUNCTIONS = {
    "loop_over_elements": ("""
        def f(x):
            s = 0.0
            for i in range(len(x)):
                s = s + x[i] * x[len(x) - 1 - i]
            return s
    """, [(5,)]),
    "index_variables": ("""
        def f(x, y):
            i = 1
            rows = slice(None, None, -1)
            return np.sum(x[rows, i] * y[i:]) + np.sum(x[..., -i])
    """, [(3, 2), (4,)]),
    "repeated_reads_of_list": ("""
        def f(x):
            parts = [x, x * 2.0]
            return np.sum(parts[0] * parts[1]) + np.sum(parts[-1])
    """, [(3,)]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_in_functions(name):
    source, shapes = FUNCTIONS[name]
    f = make_function(source)
    args = random_args(shapes, seed=4)
    wrt = tuple(range(len(args)))
    for mode in ("reverse", "forward", "both"):
        check_grad(f, *args, wrt=wrt, mode=mode)


def test_repeated_fancy_indices_accumulate():
    f = make_function("""
        def f(x):
            return np.sum(x[I] * 1.0) + np.sum(np.take(x, I))
    """, {"I": np.array([0, 2, 2, 2, -1])})
    np.testing.assert_array_equal(srcad.grad(f)(np.arange(4.0)), [2.0, 0.0, 6.0, 2.0])


def test_sort_gradient_is_the_permutation():
    f = make_function("""
        def f(x):
            return np.sum(np.sort(x) * np.array([1.0, 10.0, 100.0]))
    """)
    np.testing.assert_array_equal(srcad.grad(f)(np.array([0.5, -1.0, 3.0])),
                                  [10.0, 1.0, 100.0])


SECOND_ORDER = [
    ("x[I]", (4,)),
    ("x[::-2, None]", (5,)),
    ("x[M]", (4,)),
    ("np.take(x, I, axis=0)", (3, 2)),
    ("np.take(x, F)", (3, 4)),
    ("np.take_along_axis(x, TA, 1)", (3, 4)),
    ("np.sort(x, axis=0)", (3, 2)),
    ("np.compress(C, x, axis=1)", (2, 3)),
]


@pytest.mark.parametrize("expr, shape", SECOND_ORDER, ids=[e for e, _ in SECOND_ORDER])
def test_second_order(expr, shape):
    (x,) = random_args([shape], seed=1)
    weight = np.random.default_rng(2).standard_normal(
        np.shape(eval(expr, {"np": np, **CONSTS}, {"x": x})))
    f = make_function(f"def f(x):\n    return np.sum(np.sin({expr}) * W)\n",
                      {"W": weight, **CONSTS})
    for mode in ("reverse", "forward", "both"):     # reverse and forward over reverse
        check_grad(srcad.grad(f), x, mode=mode)
