"""User corpus s13: programs in the styles of issue 13, checked from outside against central
finite differences (float64) in reverse (grad), forward (jvp) and second order (hvp)."""
import copy
import dataclasses
import functools
import logging
import math
from collections import namedtuple

import numpy as np
import pytest
import scipy.special

import srcad

RTOL = 1e-5
ATOL = 1e-7


# ---------------------------------------------------------------- tree helpers
def _is_leaf(t):
    return isinstance(t, (np.ndarray, float, np.floating))


def leaves(t):
    if _is_leaf(t):
        return [t]
    if isinstance(t, dict):
        return [l for k in t for l in leaves(t[k])]
    if isinstance(t, (list, tuple)):
        return [l for x in t for l in leaves(x)]
    if dataclasses.is_dataclass(t):
        return [l for f in dataclasses.fields(t) for l in leaves(getattr(t, f.name))]
    if hasattr(t, "__dict__"):
        return [l for k in vars(t) for l in leaves(vars(t)[k])]
    return []


def rebuild(t, it):
    if _is_leaf(t):
        return next(it)
    if isinstance(t, dict):
        return {k: rebuild(v, it) for k, v in t.items()}
    if isinstance(t, tuple) and hasattr(t, "_fields"):
        return type(t)(*[rebuild(v, it) for v in t])
    if isinstance(t, (list, tuple)):
        return type(t)(rebuild(v, it) for v in t)
    if dataclasses.is_dataclass(t):
        return dataclasses.replace(t, **{f.name: rebuild(getattr(t, f.name), it)
                                         for f in dataclasses.fields(t)})
    if hasattr(t, "__dict__"):
        new = copy.copy(t)
        for k, v in vars(t).items():
            setattr(new, k, rebuild(v, it))
        return new
    return t


def flat(t):
    return np.concatenate([np.ravel(np.asarray(l, dtype=float)) for l in leaves(t)]) \
        if leaves(t) else np.zeros(0)


def unflat(t, vec):
    out, i = [], 0
    for l in leaves(t):
        a = np.asarray(l)
        n = a.size
        chunk = vec[i:i + n].reshape(a.shape)
        out.append(float(chunk) if not isinstance(l, np.ndarray) else chunk.copy())
        i += n
    return rebuild(t, iter(out))


def fd_grad(f, args, wrt=0, h=1e-6):
    x0 = flat(args[wrt])
    g = np.zeros_like(x0)
    for i in range(x0.size):
        xp, xm = x0.copy(), x0.copy()
        xp[i] += h
        xm[i] -= h
        ap, am = list(args), list(args)
        ap[wrt] = unflat(args[wrt], xp)
        am[wrt] = unflat(args[wrt], xm)
        g[i] = (float(f(*ap)) - float(f(*am))) / (2 * h)
    return g


def fd_dir(f, args, t, wrt=0, h=1e-6):
    x0, tv = flat(args[wrt]), flat(t)
    ap, am = list(args), list(args)
    ap[wrt] = unflat(args[wrt], x0 + h * tv)
    am[wrt] = unflat(args[wrt], x0 - h * tv)
    return (flat(f(*ap)) - flat(f(*am))) / (2 * h)


def same_structure(a, b):
    if _is_leaf(a):
        assert _is_leaf(b), (type(a), type(b))
        assert np.shape(a) == np.shape(b)
        return
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same_structure(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same_structure(x, y)


def snapshot(args):
    return [copy.deepcopy(a) for a in args]


def unchanged(before, after):
    for b, a in zip(before, after):
        np.testing.assert_array_equal(flat(b), flat(a))


def rng(seed=0):
    return np.random.default_rng(seed)


def check(f, *args, wrt=0, modes=("rev", "fwd", "hvp"), structure=True, df=None):
    """Reverse, forward and second order against central differences (two steps)."""
    before = snapshot(args)
    ref = fd_grad(f, args, wrt)
    ref2 = fd_grad(f, args, wrt, h=1e-5)
    np.testing.assert_allclose(ref, ref2, rtol=1e-4, atol=1e-6)  # FD itself is sane
    if "rev" in modes:
        g = (df or srcad.grad(f, wrt=wrt))(*args)
        unchanged(before, args)
        if structure:
            same_structure(args[wrt], g)
        np.testing.assert_allclose(flat(g), ref, rtol=RTOL, atol=ATOL)
    t = unflat(args[wrt], rng(7).standard_normal(ref.size))
    if "fwd" in modes:
        _, jt = srcad.jvp(f, tuple(args), (t,), wrt=wrt)
        unchanged(before, args)
        np.testing.assert_allclose(float(jt), float(ref @ flat(t)), rtol=RTOL, atol=ATOL)
    if "hvp" in modes:
        hv = srcad.hvp(f, wrt=wrt)(*args, t)
        unchanged(before, args)
        gf = srcad.grad(f, wrt=wrt)
        ex = fd_dir(lambda *a: gf(*a), args, t, wrt, h=1e-5)
        np.testing.assert_allclose(flat(hv), ex, rtol=1e-4, atol=1e-6)


def xfail(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


X = rng(1).standard_normal((5, 3))
Y = rng(2).standard_normal(5)
