"""Generated code writes only into arrays it owns: never into an argument, a tangent or a
seed the caller passed, never into a value the primal still needs, and never into a read-only
view (regressions of issue 11: cases 1 and 11, and the read-only crash)."""
import numpy as np
import pytest

import srcad
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
