"""Indexing the result of a rule with several outputs (``slogdet(a)[1]``, ``svd(a)[1]``,
``eigh(a)[0]``, ``qr(a)[0]``, ``r = slogdet(a); r[1]``) in both modes and at second order:
the normalizer binds the N outputs to N names, then the tuple of them."""
import numpy as np
import pytest

from srcad.check import check_grad

from helpers import check_second_order_of, make_function

PROGRAMS = {
    "slogdet_index": "return np.linalg.slogdet(a)[1]",
    "svd_index": "return np.sum(np.linalg.svd(a)[1])",
    "eigh_index": "return np.sum(np.linalg.eigh(a + np.swapaxes(a, -1, -2))[0] ** 2)",
    "qr_index": "return np.sum(np.sin(np.linalg.qr(a)[0]))",
    "slogdet_unpacked": "sign, logdet = np.linalg.slogdet(a)\n    return sign * logdet",
    "slogdet_named": "r = np.linalg.slogdet(a)\n    return r[1] * 2.0 + r[0]",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_indexed_result(name):
    f = make_function(f"def f(a):\n    {PROGRAMS[name]}\n", {"np": np})
    for shape in ((3, 3), (2, 3, 3)) if name != "slogdet_index" else ((3, 3),):
        a = np.random.default_rng(1).standard_normal(shape) + 3.0 * np.eye(3)
        if len(shape) == 3 and name in ("slogdet_named", "slogdet_unpacked"):
            continue
        for mode in ("reverse", "forward", "both"):
            check_grad(f, a, mode=mode)
    check_second_order_of(f, [np.random.default_rng(2).standard_normal((3, 3))
                              + 3.0 * np.eye(3)])
