"""A scalar's adjoint written through an index (``b[..., None]`` of a NumPy scalar ``b``): the
buffer is a 0-d array, not the literal 0.0 nor a Python float (regressions)."""
import numpy as np
import pytest

import srcad
from srcad import runtime

from helpers import make_function

SOURCE = """
def f(x):
    b = np.sin(x)
    return np.sum(b[..., None] * np.ones(3))
"""


@pytest.mark.parametrize("x", [np.float64(0.5), np.float32(0.5), 0.5])
def test_indexed_adjoint_of_a_scalar(x):
    f = make_function(SOURCE, {"np": np})
    g = srcad.grad(f)(x)
    np.testing.assert_allclose(g, 3.0 * np.cos(x), rtol=1e-6)
    if isinstance(x, np.float32):
        assert np.asarray(g).dtype == np.float32
    np.testing.assert_allclose(srcad.autodiff(f, mode="forward")(x, 1.0), 3.0 * np.cos(x),
                               rtol=1e-6)


def test_zeros_like_of_a_numpy_scalar_is_an_array():
    for x in (np.float64(1.0), np.float32(1.0)):
        zero = runtime.zeros_like(x)
        assert isinstance(zero, np.ndarray) and zero.shape == () and zero.dtype == x.dtype
        zero[..., None] += 1.0
        assert zero == 1.0
    assert runtime.zeros_like(1.0) == 0.0 and isinstance(runtime.zeros_like(1.0), float)
