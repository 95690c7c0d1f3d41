"""Shared by the srcad.nn tests: a fused operator against its plain composed NumPy formula."""
import numpy as np

import srcad
from helpers import make_function, random_args


def agree(fused, composed, shapes, domain, consts, hessian=True):
    """Fused and composed: same value, gradient (every argument), JVP, and Hessian in x."""
    args = random_args(shapes, domain, seed=3)
    ns = {"np": np, **consts}
    names = "xyzw"[:len(shapes)]
    params = ", ".join(names)
    weight = np.random.default_rng(9).standard_normal(np.shape(eval(fused, dict(ns), dict(zip(
        names, args)))))
    ff = make_function(f"def f({params}):\n    return np.sum(({fused}) * W)\n", {**ns, "W": weight})
    fc = make_function(f"def f({params}):\n    return np.sum(({composed}) * W)\n",
                       {**ns, "W": weight})
    np.testing.assert_allclose(ff(*args), fc(*args), rtol=1e-10, atol=1e-12)
    wrt = tuple(range(len(args)))
    for a, b in zip(srcad.grad(ff, wrt=wrt)(*args), srcad.grad(fc, wrt=wrt)(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    tangents = random_args(shapes, seed=5)
    np.testing.assert_allclose(srcad.jvp(ff, args, tangents)[1], srcad.jvp(fc, args, tangents)[1],
                               rtol=1e-9, atol=1e-12)
    if hessian:
        np.testing.assert_allclose(srcad.hessian(ff)(*args), srcad.hessian(fc)(*args),
                                   rtol=1e-7, atol=1e-10)
