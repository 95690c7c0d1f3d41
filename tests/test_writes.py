"""Generated code writes only into arrays it owns: never into an argument, a tangent or a
seed the caller passed, never into a value the primal still needs, and never into a read-only
view (regressions of issue 11: cases 1 and 11, and the read-only crash)."""
import numpy as np
import pytest

import srcad
from agreement import assert_same, read_only
from control_flow_corpus import early_return_mean_after_write
from corpus import copies_share_an_adjoint, writes_argument
from helpers import central_difference, make_function


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
    f = early_return_mean_after_write
    x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    g = srcad.grad(f, optimized=optimized)(_read_only(x))
    np.testing.assert_allclose(g, central_difference(f, (x.copy(),), 0), atol=1e-7)


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
    f = writes_argument
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


@pytest.fixture
def careless_rewrites(monkeypatch):
    """The rewrites as before issue 11: identities drop copies even where they are written
    (the cache is emptied before and after, so nothing built so is reused)."""
    import srcad.optimize.aliases
    monkeypatch.setattr(srcad.optimize.aliases._Guard, "__call__", lambda self, node, new: new)
    srcad.clear_cache()
    yield
    srcad.clear_cache()


@pytest.mark.parametrize("source, mode", [(writes_argument, "reverse"),
                                          (TANGENT_COPY_WRITTEN, "forward")])
def test_a_write_into_memory_not_owned_is_refused_whatever_made_the_alias(
        source, mode, careless_rewrites):
    """The last pass (``owned_writes``) does not trust the rewrites before it: with the
    identities allowed to alias (``by = x`` then ``by[2] += ...``; ``dt = dy`` then
    ``dt[0] = ...``), the derivative is refused with an internal error when it is built,
    never silently wrong."""
    f = source if callable(source) else make_function(source)
    x = _read_only([1.0, 2.0, 3.0])
    with pytest.raises(srcad.InternalError, match="writes into"):
        if mode == "reverse":
            srcad.grad(f)(x)
        else:
            srcad.autodiff(f, mode="forward")(x, _read_only([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_list_argument_appended_to_is_copied(mode):
    """``xs.append(v)`` on a list the caller passed changes a copy. (Through an alias that
    is read afterwards, ``ys = xs; ys.append(v); ... xs ...``, it is refused: see
    test_no_silent_wrong.py.)"""
    f = make_function("""
        def f(xs):
            xs.append(xs[0] * 2.0)
            return np.sum(xs[2] * xs[1])
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


def test_in_place_accumulation_never_into_a_shared_adjoint():
    """``bb = bs; ba = bs`` then ``bb = bb + s`` became ``bb += s``: the adjoint of ``b``
    took over the buffer of ``bs`` although ``ba`` shared it too, so the sum went into
    ``ba`` as well (found by random programs)."""
    f = copies_share_an_adjoint
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    gx, gw = srcad.grad(f, wrt=(0, 1))(_read_only(x), _read_only(w))
    np.testing.assert_allclose(gx, central_difference(f, (x, w), 0), rtol=1e-7)
    np.testing.assert_allclose(gw, central_difference(f, (x, w), 1), rtol=1e-7, atol=1e-9)
