"""Generated code writes only into arrays it owns: never into an argument, a tangent or a
seed the caller passed, never into a value the primal still needs, and never into a read-only
view (regressions of issue 11: cases 1 and 11, and the read-only crash)."""
import numpy as np
import pytest

import srcad
from agreement import assert_same, read_only
from helpers import central_difference, make_function

EARLY_RETURN_MEAN = """
def f(x):
    y = x * 2.0
    y[0] = 1.0
    if np.sum(x) > 0.0:
        return np.sum(np.mean(y, axis=0))
    return np.sum(x)
"""


def _read_only(a):
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("shape", [(3,), (3, 2)])
def test_adjoint_defined_in_one_branch_is_not_owned(optimized, shape):
    """The adjoint of ``y`` exists only in the branch that returns ``np.mean(y, axis=0)``,
    where it is a read-only broadcast of the cotangent: after the branches meet it is not the
    sweep's own buffer, so the adjoint of ``y[0] = 1.0`` copies it before zeroing an element
    (it raised 'assignment destination is read-only' from take_and_zero)."""
    f = make_function(EARLY_RETURN_MEAN)
    x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    g = srcad.grad(f, optimized=optimized)(_read_only(x))
    np.testing.assert_allclose(g, central_difference(f, (x.copy(),), 0), atol=1e-7)


PRIMAL_WRITES_ARGUMENT = """
def f(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)
"""


def _gradient_of_case_1(x):
    """By hand: f = x0^2 x1^2 x2^2 + x1^3 + x2^3 (x[0] becomes y[1] * y[2])."""
    x0, x1, x2 = x
    return np.array([2.0 * x0 * x1 ** 2 * x2 ** 2, 2.0 * x0 ** 2 * x1 * x2 ** 2 + 3.0 * x1 ** 2,
                     2.0 * x0 ** 2 * x1 ** 2 * x2 + 3.0 * x2 ** 2])


@pytest.mark.parametrize("optimized", [True, False])
def test_adjoint_is_not_an_alias_of_a_written_array(optimized):
    """Issue 11, case 1: the seed 1.0 made ``by = 1.0 * x`` and ``bx = 1.0 * y``; dropping
    the ``1.0 *`` left adjoints that are the arrays themselves, so ``by[2] += ...`` wrote
    into the caller's ``x`` and ``take_and_zero(bx, 0)`` zeroed ``y[0]``. The function
    writes into its argument: the derivative works on a copy (the argument is read-only)."""
    f = make_function(PRIMAL_WRITES_ARGUMENT)
    x = np.array([1.0, 2.0, 3.0])
    g = srcad.grad(f, optimized=optimized)(_read_only(x))
    np.testing.assert_allclose(g, _gradient_of_case_1(x), rtol=1e-12)
    t = np.array([0.3, -0.5, 0.7])
    jv = srcad.autodiff(f, mode="forward", optimized=optimized)(_read_only(x), _read_only(t))
    assert jv == pytest.approx(_gradient_of_case_1(x) @ t, rel=1e-12)


TANGENT_COPY_WRITTEN = """
def f(y):
    t = y * 1.0
    t[0] = 3.0 * t[0]
    return np.sum(t) + np.sum(y)
"""


@pytest.mark.parametrize("copy", ["y * 1.0", "1.0 * y", "y / 1.0", "y - 0.0", "y + 0.0",
                                  "-(-y)"])
@pytest.mark.parametrize("optimized", [True, False])
def test_identity_that_copies_is_kept_where_the_copy_is_written(copy, optimized):
    """Issue 11, case 11: ``dt = dy * 1.0`` became ``dt = dy``, so ``dt[0] = ...`` wrote
    into the caller's tangent (6.0 instead of 4.0, and the tangent became [3, 0, 0])."""
    f = make_function(TANGENT_COPY_WRITTEN.replace("y * 1.0", copy))
    y = np.array([1.0, 2.0, 3.0])
    jv = srcad.autodiff(f, mode="forward", optimized=optimized)(
        _read_only(y), _read_only([1.0, 0.0, 0.0]))
    assert jv == pytest.approx(4.0)
    g = srcad.grad(f, optimized=optimized)(_read_only(y))
    np.testing.assert_allclose(g, [4.0, 2.0, 2.0])


def _rewrite_regardless(stmt, rewrite, written, np_name):
    stmt.value = rewrite(stmt.value)


@pytest.mark.parametrize("source, mode", [(PRIMAL_WRITES_ARGUMENT, "reverse"),
                                          (TANGENT_COPY_WRITTEN, "forward")])
def test_a_write_into_memory_not_owned_is_refused_whatever_made_the_alias(
        source, mode, monkeypatch):
    """The last pass (``owned_writes``) does not trust the rewrites before it: with the
    identities allowed to alias as before issue 11 (``by = x`` then ``by[2] += ...``;
    ``dt = dy`` then ``dt[0] = ...``), the derivative is refused with an internal error
    when it is built, never silently wrong."""
    import srcad.optimize
    monkeypatch.setattr(srcad.optimize, "_keep_copies", _rewrite_regardless)
    f = make_function(source)
    x = _read_only([1.0, 2.0, 3.0])
    with pytest.raises(srcad.InternalError, match="writes into"):
        if mode == "reverse":
            srcad.grad(f)(x)
        else:
            srcad.autodiff(f, mode="forward")(x, _read_only([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_list_argument_appended_to_is_copied(mode):
    """``xs.append(v)`` on a list the caller passed (through an alias too) changes a copy."""
    f = make_function("""
        def f(xs):
            ys = xs
            ys.append(xs[0] * 2.0)
            return np.sum(ys[2] * xs[1])
        """)
    xs = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    given = read_only(xs)
    if mode == "reverse":
        g = srcad.grad(f)(given)
        np.testing.assert_allclose(g[0], 2.0 * xs[1])
        np.testing.assert_allclose(g[1], 2.0 * xs[0])
    else:
        srcad.autodiff(f, mode="forward")(given, read_only(xs))
    assert_same(given, xs, "the list argument")


SHARED_ADJOINT = """
def f(x, w):
    a = x * 1.0
    b = 1.0 * x
    a[2] = w[1] * 3.0
    c = b / 1.0
    s = b + a
    return np.sum(c * s)
"""


def test_in_place_accumulation_never_into_a_shared_adjoint():
    """``bb = bs; ba = bs`` then ``bb = bb + s`` became ``bb += s``: the adjoint of ``b``
    took over the buffer of ``bs`` although ``ba`` shared it too, so the sum went into
    ``ba`` as well (found by random programs)."""
    f = make_function(SHARED_ADJOINT)
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    gx, gw = srcad.grad(f, wrt=(0, 1))(_read_only(x), _read_only(w))
    np.testing.assert_allclose(gx, central_difference(f, (x, w), 0), rtol=1e-7)
    np.testing.assert_allclose(gw, central_difference(f, (x, w), 1), rtol=1e-7, atol=1e-9)
