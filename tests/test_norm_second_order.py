"""Second derivatives of np.linalg.norm for the orders that go through
``runtime.norm_direction`` (issue 13, corpus s7 lib_norm1_hvp): they had no tangent or adjoint
rule. Piecewise-constant directions (matrix +-1 and +-inf, vector 1 and +-inf) have a zero
second derivative almost everywhere; a vector p-norm's is smooth. Checked: hvp (forward over
reverse) and reverse over reverse against differences of the gradient."""
from __future__ import annotations

import numpy as np
import pytest

import srcad
from helpers import check_second_order_of, make_function, rng


@pytest.mark.parametrize("call, shape", [
    ("np.linalg.norm(x, ord=1)", (3, 4)),
    ("np.linalg.norm(x, ord=-1)", (3, 4)),
    ("np.linalg.norm(x, ord=np.inf)", (3, 4)),
    ("np.linalg.norm(x, ord=-np.inf)", (3, 4)),
    ("np.linalg.norm(x, ord=np.inf)", (5,)),
    ("np.linalg.norm(x, ord=1)", (5,)),
    ("np.linalg.norm(x, ord=3)", (5,)),
    ("np.linalg.norm(x, ord=1.5)", (5,)),
    ("np.linalg.norm(x, ord=-3)", (5,)),
    ("np.sum(np.linalg.norm(x, ord=3, axis=0))", (3, 4)),
    ("np.sum(np.linalg.norm(x, ord=4, axis=1, keepdims=True) ** 2)", (3, 4)),
    ("np.linalg.norm(np.sin(x), ord=3) * np.sum(x)", (4,)),
    # np.linalg.vector_norm's direction was nondiff: the hvp of a 3-norm was silently 0
    ("np.linalg.vector_norm(x, ord=3)", (4,)),
    ("np.sum(np.linalg.vector_norm(x, ord=1.5, axis=1) ** 2)", (3, 4)),
    ("np.linalg.vector_norm(x, ord=np.inf) + np.linalg.vector_norm(x, ord=1)", (3, 4)),
    ("np.linalg.vector_norm(x, ord=3, axis=(0, 1), keepdims=True)[0, 0]", (3, 4)),
])
def test_norm_hessian_vector_products(call, shape):
    f = make_function(f"def f(x):\n    return {call}\n")
    x = rng(11).uniform(0.3, 1.5, shape) * np.where(rng(12).random(shape) < 0.5, -1.0, 1.0)
    check_second_order_of(f, [x])


def test_a_matrix_ord_with_no_second_derivative_is_an_error():
    # reached only with a matrix ord 2, -2 or 'nuc' the build does not see as a literal
    from srcad import runtime
    x = rng(13).normal(size=(3, 3))
    y = np.linalg.norm(x, ord=2)
    with pytest.raises(NotImplementedError, match="ord=2 chosen at run time"):
        runtime.norm_direction_dx(x, y, 2, None, False, np.ones((3, 3)))
