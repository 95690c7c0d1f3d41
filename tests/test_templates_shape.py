"""Rules of templates/shape.py: reverse, forward, their agreement and float32 preservation for
every shape function, with several shapes (0-d included where NumPy allows it), axes in every
form, and non-contiguous inputs (``x.T``, ``x[::2]``) inside the expressions."""
import numpy as np
import pytest

import srcad
from srcad.check import check_grad

from helpers import check_rule, make_function, random_args

R3 = np.array([1, 0, 2])          # repeats per element (a zero too)


def xs(*shapes):
    """One case per shape of the single argument x."""
    return [[shape] for shape in shapes]


# (primitive under test, expression in x (and y), cases: one list of argument shapes each,
#  check_rule options)
CASES = [
    # np.matrix_transpose exists from NumPy 2.0 on
    *([("matrix_transpose", "np.matrix_transpose(x)", xs((2, 3), (2, 3, 4)), {})]
      if hasattr(np, "matrix_transpose") else []),
    # reshaping
    ("reshape", "np.reshape(x, (2, -1))", xs((2, 3), (6,), (3, 2, 2)), {}),
    ("reshape", "np.reshape(x, (1, 1))", xs((), (1,)), {}),
    ("reshape", "x.reshape(3, 2)", xs((2, 3)), {}),
    ("reshape", "np.reshape(x.T, -1)", xs((2, 3)), {}),
    ("reshape", "np.reshape(x[::2], (2, 3))", xs((12,)), {}),
    ("reshape", "np.reshape(x, (3, 2), order='F')", xs((2, 3)), {}),
    ("ravel", "np.ravel(x)", xs((), (3,), (2, 3)), {}),
    ("ravel", "np.ravel(x.T) * x.flatten()", xs((3, 3)), {}),
    ("ravel", "np.ravel(x, order='F')", xs((2, 3)), {}),
    ("squeeze", "np.squeeze(x)", xs((1, 3, 1), (1,), ()), {}),
    ("squeeze", "np.squeeze(x, axis=0)", xs((1, 3)), {}),
    ("squeeze", "np.squeeze(x, axis=(0, -1))", xs((1, 3, 1)), {}),
    ("squeeze", "x.squeeze()", xs((2, 1)), {}),
    ("expand_dims", "np.expand_dims(x, 0)", xs((), (3,)), {}),
    ("expand_dims", "np.expand_dims(x, (0, -1))", xs((2, 3)), {}),
    ("expand_dims", "np.expand_dims(x.T, -1)", xs((2, 3)), {}),
    ("atleast_1d", "np.atleast_1d(x)", xs((), (3,)), {}),
    ("atleast_2d", "np.atleast_2d(x)", xs((), (3,), (2, 3)), {}),
    ("atleast_3d", "np.atleast_3d(x)", xs((3,), (2, 3)), {}),
    # permuting axes
    ("transpose", "np.transpose(x)", xs((), (3,), (2, 3), (2, 3, 4)), {}),
    ("transpose", "x.T", xs((2, 3)), {}),
    ("transpose", "np.transpose(x, (1, 2, 0))", xs((2, 3, 4)), {}),
    ("transpose", "np.transpose(x, (-1, 0, 1))", xs((2, 3, 4)), {}),
    ("transpose", "x.transpose(1, 0) * y", [[(2, 3), (3, 2)]], {}),
    ("swapaxes", "np.swapaxes(x, 0, -1)", xs((2, 3, 4)), {}),
    ("swapaxes", "x.swapaxes(0, 1)", xs((2, 3)), {}),
    ("moveaxis", "np.moveaxis(x, 0, -1)", xs((2, 3, 4)), {}),
    ("moveaxis", "np.moveaxis(x, [0, 1], [2, 0])", xs((2, 3, 4)), {}),
    # reversing, rotating, rolling
    ("flip", "np.flip(x)", xs((), (3,), (2, 3)), {}),
    ("flip", "np.flip(x, 0)", xs((2, 3)), {}),
    ("flip", "np.flip(x, axis=(0, -1))", xs((2, 3, 4)), {}),
    ("fliplr", "np.fliplr(x)", xs((2, 3)), {}),
    ("flipud", "np.flipud(x.T)", xs((2, 3)), {}),
    ("rot90", "np.rot90(x)", xs((2, 3)), {}),
    ("rot90", "np.rot90(x, 3, axes=(1, 2))", xs((2, 3, 4)), {}),
    ("rot90", "np.rot90(x, -1)", xs((2, 3)), {}),
    ("roll", "np.roll(x, 2)", xs((5,), (2, 3)), {}),
    ("roll", "np.roll(x, -1, axis=1)", xs((2, 3)), {}),
    ("roll", "np.roll(x, (1, 2), axis=(0, 1))", xs((2, 3)), {}),
    ("roll", "np.roll(x[::2], 1, axis=(0, 1))", xs((4, 3)), {}),
    # joining lists (the adjoint of a list is a list)
    ("concatenate", "np.concatenate([x, y])", [[(2,), (3,)]], {}),
    ("concatenate", "np.concatenate([x, y, x], axis=1)", [[(2, 3), (2, 1)]], {}),
    ("concatenate", "np.concatenate([x, y], axis=None)", [[(2, 3), (4,)]], {}),
    ("concatenate", "np.concatenate((x.T, y), axis=-1)", [[(2, 3), (3, 1)]], {}),
    ("concatenate", "np.concatenate([x, np.ones(2)])", xs((3,)), {"float32": False}),
    ("concatenate", "np.concatenate([x, x * y])", [[(3,), ()]], {}),
    ("stack", "np.stack([x, y])", [[(3,), (3,)], [(2, 3), (2, 3)]], {}),
    ("stack", "np.stack([x, y, x], axis=1)", [[(2, 3), (2, 3)]], {}),
    ("stack", "np.stack((x, y), axis=-1)", [[(), ()], [(3,), (3,)]], {}),
    # an array is a sequence of its rows: its cotangent is an array, not a list of rows
    ("stack", "np.stack(x * 2.0)", [[(3, 2)]], {}),
    ("stack", "np.stack(np.sin(x), axis=2)", [[(3, 2, 4)]], {}),
    ("hstack", "np.hstack([x, y])", [[(2,), (3,)], [(2, 3), (2, 1)], [(), (2,)]], {}),
    ("vstack", "np.vstack([x, y])", [[(3,), (2, 3)], [(), ()], [(2, 2, 2), (1, 2, 2)]], {}),
    ("column_stack", "np.column_stack([x, y])", [[(3,), (3, 2)], [(3,), (3,)]], {}),
    ("dstack", "np.dstack([x, y])", [[(2, 3), (2, 3)], [(3,), (1, 3, 2)]], {}),
    # splitting (the output is a list; pieces without a contribution get zeros)
    ("split", "np.concatenate(np.split(x, 3)[::-1])", xs((6,)), {}),
    ("split", "np.split(x, [1, 3], axis=1)[1]", xs((2, 4)), {}),
    ("split", "np.split(x, 2, axis=-1)[0] * np.split(x, 2, axis=-1)[1]", xs((3, 4)), {}),
    ("split", "np.split(x.T, 2)[1]", xs((3, 4)), {}),
    ("array_split", "np.array_split(x, 3)[2]", xs((7,)), {}),
    ("array_split", "np.array_split(x, [2, 9], axis=0)[0]", xs((3, 2)), {}),
    ("hsplit", "np.hsplit(x, 2)[1]", xs((4,), (2, 4)), {}),
    ("vsplit", "np.vsplit(x, [1])[1]", xs((3, 2)), {}),
    ("dsplit", "np.dsplit(x, 2)[0]", xs((2, 2, 4)), {}),
    # duplicating (the adjoint sums the copies)
    ("tile", "np.tile(x, 2)", xs((), (3,), (2, 3)), {}),
    ("tile", "np.tile(x, (2, 1, 3))", xs((2, 3)), {}),
    ("tile", "np.tile(x.T, (2, 2))", xs((2, 3, 4)), {}),
    ("repeat", "np.repeat(x, 2)", xs((), (2, 3)), {}),
    ("repeat", "np.repeat(x, 3, axis=1)", xs((2, 3)), {}),
    ("repeat", "np.repeat(x, R3, axis=-1)", xs((2, 3)), {}),
    ("repeat", "np.repeat(x, R3)", xs((3,)), {}),
    ("repeat", "x.T.repeat(2, axis=0)", xs((2, 3)), {}),
    ("broadcast_to", "np.broadcast_to(x, (2, 3))", xs((), (3,), (2, 1)), {}),
    ("broadcast_to", "np.broadcast_to(x[:, None], (3, 4))", xs((3,)), {}),
    ("pad", "np.pad(x, 1)", xs((3,), (2, 3)), {}),
    ("pad", "np.pad(x, ((1, 0), (2, 1)))", xs((2, 3)), {}),
    ("pad", "np.pad(x.T, 2, constant_values=y)", [[(2, 3), ()]], {}),
    ("pad", "np.pad(x, 1, mode='constant', constant_values=2.0)", xs((3,)), {}),
    ("pad", "np.pad(x, (1, 2), mode='edge')", xs((3,), (2, 3)), {}),
    ("pad", "np.pad(x, 3, mode='reflect')", xs((3,), (4, 2)), {}),
    ("pad", "np.pad(x, (2, 3), mode='symmetric')", xs((3,)), {}),
    ("pad", "np.pad(x, ((0, 4), (1, 1)), mode='wrap')", xs((2, 3)), {}),
    # diagonals and triangles
    ("diag", "np.diag(x)", xs((3,), (3, 3), (2, 4)), {}),
    ("diag", "np.diag(x, 1)", xs((3,), (4, 3)), {}),
    ("diag", "np.diag(x.T, -2)", xs((3, 4)), {}),
    ("diagonal", "np.diagonal(x)", xs((3, 3), (2, 4)), {}),
    ("diagonal", "np.diagonal(x, 1)", xs((3, 3)), {}),
    ("diagonal", "np.diagonal(x, -1, 1, 2)", xs((2, 3, 4)), {}),
    ("diagonal", "x.diagonal(0, 2, 0)", xs((2, 3, 4)), {}),
    ("tril", "np.tril(x)", xs((3, 3), (2, 3, 4)), {}),
    ("tril", "np.tril(x.T, 1)", xs((3, 4)), {}),
    ("triu", "np.triu(x)", xs((3, 3), (4, 2)), {}),
    ("triu", "np.triu(x, -1)", xs((2, 3, 3)), {}),
    # copies and conversions
    ("copy", "np.copy(x)", xs((), (2, 3)), {}),
    ("copy", "x.T.copy()", xs((2, 3)), {}),
    ("array", "np.array([x, y])", [[(3,), (3,)], [(), ()]], {}),
    ("array", "np.array([[x, y], [y, x]])", [[(), ()], [(2,), (2,)]], {}),
    ("array", "np.array(x)", xs((), (2, 3)), {}),
    ("array", "np.array(x.T, dtype=float)", xs((2, 3)), {"float32": False}),
    ("asarray", "np.asarray(x)", xs((), (2, 3)), {}),
    ("asarray", "np.asarray([x, 2.0 * y, x])", [[(2,), (2,)]], {}),
    ("asarray", "np.asarray([x, 1.0])", xs(()), {}),
    ("asanyarray", "np.asanyarray(x[::-1])", xs((3,)), {}),
    ("ascontiguousarray", "np.ascontiguousarray(x.T)", xs((2, 3)), {}),
    ("asfortranarray", "np.asfortranarray(x)", xs((2, 3)), {}),
    ("real", "np.real(x)", xs((), (3,)), {}),
    ("real", "x.real * y", [[(3,), (3,)]], {}),
    # np.r_ / np.c_: normalize/anf.py writes them as np.concatenate of their pieces
    ("r_", "np.r_[x, 0.0, y[1:]]", [[(3,), (4,)], [(), (2,)]], {}),
    ("r_", "np.r_[x, y]", [[(2, 3), (1, 3)]], {}),
    ("r_", "np.r_[x[0], 0:3, y, 1:2:3j, -2]", [[(3,), (2,)]], {}),
    ("c_", "np.c_[x, y]", [[(3,), (3,)], [(3, 2), (3,)], [(2, 2, 1), (2, 2, 3)]], {}),
    ("c_", "np.c_[x, y ** 2, x]", [[(2, 2), (2, 3)]], {}),
    # directive strings: axis, the pieces' least rank, where a smaller piece's axes go
    ("r_", "np.r_['0,2', x, y]", [[(3,), (3,)], [(2, 3), (3,)]], {}),
    ("r_", "np.r_['1,2', x, y]", [[(3,), (2,)]], {}),
    ("r_", "np.r_['0,2,0', x, y]", [[(3,), (2,)], [(3, 1), (2,)]], {}),
    ("r_", "np.r_['-1,3,1', x, y]", [[(3,), (3,)], [(3, 2), (3,)]], {}),
    ("r_", "np.r_['1', x, y]", [[(2, 3), (2, 1)]], {}),
    ("c_", "np.c_['0', x, y]", [[(3,), (2,)]], {}),
    ("c_", "np.c_['1,3', x, y]", [[(2, 3), (2, 3)]], {}),
]


def _ids(cases):
    return [f"{name}:{expr}" for name, expr, _, _ in cases]


@pytest.mark.parametrize("name, expr, cases, options", CASES, ids=_ids(CASES))
def test_rule(name, expr, cases, options):
    for arg_shapes in cases:
        check_rule(expr, arg_shapes, consts={"R3": R3}, **options)


# Functions where the list structure goes through statements: unpacking a split, building a
# list in a loop, reading list elements.
FUNCTIONS = {
    "split_unpack": ("""
        def f(x):
            a, b, c = np.split(x, 3)
            return np.sum(a * c) + np.sum(np.sin(b))
    """, [(6,)]),
    "split_one_piece": ("""
        def f(x):
            pieces = np.array_split(x, 3, axis=1)
            return np.sum(pieces[1] ** 2)
    """, [(2, 5)]),
    "stack_appended": ("""
        def f(x):
            rows = []
            for i in range(3):
                rows.append(x * (i + 1.0))
            return np.sum(np.stack(rows) ** 2)
    """, [(4,)]),
    "concat_reused": ("""
        def f(x, y):
            parts = [x, y, x]
            z = np.concatenate(parts)
            return np.sum(z * z) + np.sum(np.vstack(parts) * 2.0)
    """, [(3,), (3,)]),
    "reshape_chain": ("""
        def f(x):
            z = np.transpose(np.reshape(x, (2, 3, 2)), (2, 0, 1))
            w = np.squeeze(np.expand_dims(z, 0)).ravel()
            return np.sum(np.tile(w, 2) * np.roll(np.repeat(w, 2), 3))
    """, [(12,)]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_in_functions(name):
    source, shapes = FUNCTIONS[name]
    f = make_function(source)
    args = random_args(shapes, seed=2)
    wrt = tuple(range(len(args)))
    for mode in ("reverse", "forward", "both"):
        check_grad(f, *args, wrt=wrt, mode=mode)


def test_stack_of_floats_gives_floats():
    f = make_function("""
        def f(x, y):
            return np.sum(np.stack([x, y]) * np.array([2.0, 3.0]))
    """)
    gx, gy = srcad.grad(f, wrt=(0, 1))(1.5, -0.5)
    assert (gx, gy) == (2.0, 3.0)
    assert isinstance(gx, float) and isinstance(gy, float)


def test_split_exact_gradient():
    f = make_function("""
        def f(x):
            return np.sum(np.split(x, [1, 3])[1] * np.array([5.0, 7.0]))
    """)
    np.testing.assert_array_equal(srcad.grad(f)(np.arange(5.0)), [0.0, 5.0, 7.0, 0.0, 0.0])


def test_pad_unsupported_mode_is_an_error():
    f = make_function("""
        def f(x):
            return np.sum(np.pad(x, 1, mode='maximum'))
    """)
    with pytest.raises(NotImplementedError, match="maximum"):
        srcad.grad(f)(np.arange(3.0))


def test_split_adjoint_placeholders_become_zeros():
    """The adjoint of a split piece without contribution may be None or 0.0: the rule's
    helper turns it into zeros shaped like the piece (and keeps float32)."""
    from srcad.runtime import zeros_filled
    pieces = np.split(np.arange(6, dtype=np.float32), [1, 3])
    filled = zeros_filled([None, 0.0, np.ones(3, np.float32)], pieces)
    assert [p.shape for p in filled] == [(1,), (2,), (3,)]
    assert all(p.dtype == np.float32 for p in filled)
    np.testing.assert_array_equal(np.concatenate(filled), [0, 0, 0, 1, 1, 1])


# Second derivatives: the adjoints above emit runtime helpers (unconcatenate, untile, ...),
# whose own rules make derivative code differentiable again.
SECOND_ORDER = [
    ("np.concatenate([x, x[::-1] * 2.0], axis=1)", (3, 2)),
    ("np.concatenate([x, x], axis=None)", (3, 2)),
    ("np.stack([x, x * x], axis=1)", (3, 2)),
    ("np.stack(x * x, axis=1)", (3, 2)),
    ("np.hstack([x, x])", (3, 2)),
    ("np.vstack([x, x])", (3,)),
    ("np.column_stack([x, x])", (3,)),
    ("np.dstack([x, x])", (3, 2)),
    ("np.split(x, 2, axis=1)[1]", (3, 4)),
    ("np.vsplit(x, 3)[0]", (3, 2)),
    ("np.tile(x, (2, 1))", (3, 2)),
    ("np.repeat(x, R3, axis=0)", (3, 2)),
    ("np.repeat(x, 2)", (3, 2)),
    ("np.pad(x, 1)", (3, 2)),
    ("np.pad(x, 2, mode='reflect')", (3, 2)),
    ("np.diag(x)", (3,)),
    ("np.diag(x, 1)", (3, 3)),
    ("np.diagonal(x, 1)", (3, 3)),
    ("np.array([x, x * 2.0])", (3,)),
    ("np.transpose(x, (1, 0))", (3, 2)),
    ("np.roll(x, 1)", (4,)),
    ("np.broadcast_to(x, (2, 3))", (3,)),
    ("np.r_[x, 0.0, x[1:] ** 2, 0:2]", (3,)),
    ("np.c_[x, x ** 2]", (3,)),
    ("np.r_['0,2,0', x, x ** 2]", (3,)),
    ("np.c_[x, x[:, :1] ** 2]", (3, 2)),
]


def test_r_c_keep_numpy_values_and_dtypes():
    """np.r_/np.c_ give NumPy's values and dtypes (a Python float beside float32 arrays stays
    float32, a constant slice is the np.arange it stands for)."""
    f = make_function("def f(x):\n    return np.r_[x, 0.0, 0:2] * 1.0 + np.sum(np.c_[x, x])\n")
    x = np.arange(3.0, dtype=np.float32)
    value, gradient = srcad.autodiff(f, preserve_result=True)(x, np.ones(6, np.float32))
    np.testing.assert_array_equal(value, f(x))
    assert value.dtype == f(x).dtype and gradient.dtype == np.float32
    np.testing.assert_array_equal(gradient, [13.0, 13.0, 13.0])     # 1 + 6 seeds * 2 columns


@pytest.mark.parametrize("directive", ["r", "c", "0,2,0,1", "x"])
def test_an_r_matrix_or_unknown_directive_string_is_refused(directive):
    f = make_function(f"def f(x):\n    return np.sum(np.r_['{directive}', x, x])\n")
    with pytest.raises(srcad.SrcadError, match="directive string") as info:
        srcad.grad(f)(np.ones(3))
    assert info.value.location.lineno == 2


@pytest.mark.parametrize("expr, shape", SECOND_ORDER, ids=[e for e, _ in SECOND_ORDER])
def test_second_order(expr, shape):
    (x,) = random_args([shape], seed=1)
    weight = np.random.default_rng(2).standard_normal(np.shape(eval(expr)))
    f = make_function(f"def f(x):\n    return np.sum(np.sin({expr}) * W)\n",
                      {"W": weight, "R3": R3})
    for mode in ("reverse", "forward", "both"):     # reverse and forward over reverse
        check_grad(srcad.grad(f), x, mode=mode)
