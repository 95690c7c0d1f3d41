"""Runs the user corpus (tests/user_corpus.py, issue 13) through srcad's public API.

Every derivative is compared with central finite differences computed here in float64
(first order: relative 1e-6; second order, from four-point differences of f: 1e-5); the
gradient must have the argument's structure and types, and no derivative may modify its
inputs. `python tests/test_user_corpus.py --report FILE` runs the same checks without pytest
and writes a Markdown list of the failures.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import sys
import traceback
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import user_corpus as C  # noqa: E402

import srcad  # noqa: E402

EPS = 1e-6          # step of first-order central differences
EPS2 = 2e-4         # step of the four-point second differences
RTOL1 = 1e-6        # first order: max abs error <= RTOL1 * max(1, max |reference|)
RTOL2 = 1e-5        # second order


# ---------------------------------------------------------------------------------------
# Pytrees, as the README describes them
# ---------------------------------------------------------------------------------------

def is_leaf(v) -> bool:
    """A differentiable leaf: a float array or a float number (not a bool or an int)."""
    if isinstance(v, np.ndarray):
        return v.dtype.kind == "f"
    return isinstance(v, (float, np.floating)) and not isinstance(v, bool)


def _is_user_object(v) -> bool:
    """An instance of a class of the corpus (a model object): its attributes are its items."""
    return type(v).__module__ == C.__name__ and hasattr(v, "__dict__") and not isinstance(v, type)


def children(t):
    """(kind, [(key, child)]) for a container, None for anything else."""
    if isinstance(t, dict):
        return "dict", list(t.items())
    if isinstance(t, tuple) and hasattr(t, "_fields"):
        return "namedtuple", list(zip(t._fields, t))
    if isinstance(t, (tuple, list)):
        return type(t).__name__, list(enumerate(t))
    if dataclasses.is_dataclass(t) and not isinstance(t, type):
        return "dataclass", [(f.name, getattr(t, f.name)) for f in dataclasses.fields(t)]
    if _is_user_object(t):
        return "object", list(vars(t).items())
    return None


def rebuild(t, new_children):
    """`t` with its children replaced (same keys, same order)."""
    kind, _ = children(t)
    if kind == "dict":
        return dict(new_children)
    if kind == "namedtuple":
        return type(t)(*[v for _, v in new_children])
    if kind in ("tuple", "list"):
        return type(t)(v for _, v in new_children)
    out = copy.copy(t)
    for k, v in new_children:
        object.__setattr__(out, k, v)
    return out


def leaves(t) -> list:
    if is_leaf(t):
        return [t]
    ch = children(t)
    if ch is None:
        return []
    return [leaf for _, c in ch[1] for leaf in leaves(c)]


def replace_leaves(t, new: list):
    """`t` with its float leaves replaced, in order, by the items of `new` (consumed)."""
    if is_leaf(t):
        return new.pop(0)
    ch = children(t)
    if ch is None:
        return t
    return rebuild(t, [(k, replace_leaves(c, new)) for k, c in ch[1]])


def to_vector(t) -> np.ndarray:
    parts = [np.ravel(np.asarray(v, dtype=float)) for v in leaves(t)]
    return np.concatenate(parts) if parts else np.zeros(0)


def from_vector(t, vec):
    """`t` with its leaves read from the flat vector (same types: float stays float)."""
    out, i = [], 0
    for leaf in leaves(t):
        size = np.size(leaf)
        piece = vec[i:i + size]
        i += size
        if isinstance(leaf, np.ndarray):
            out.append(piece.reshape(leaf.shape).astype(leaf.dtype))
        else:
            out.append(float(piece[0]))
    return replace_leaves(t, out)


def random_like(t, rng):
    return from_vector(t, rng.normal(size=to_vector(t).size))


def snapshot(t):
    return copy.deepcopy(t)


def same_values(a, b) -> bool:
    """Exact equality of two trees (arrays element by element, types too)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    ch = children(a)
    if ch is None:
        try:
            return bool(a == b) or a is b
        except Exception:
            return a is b
    cb = children(b)
    return (len(ch[1]) == len(cb[1]) and all(ka == kb and same_values(x, y)
            for (ka, x), (kb, y) in zip(ch[1], cb[1])))


# ---------------------------------------------------------------------------------------
# Comparison with the argument's structure and types, and with a numeric reference
# ---------------------------------------------------------------------------------------

class Errors:
    """Accumulates the worst error of a comparison over leaves."""

    def __init__(self, rtol):
        self.rtol, self.err, self.scale, self.where = rtol, 0.0, 1.0, ""

    def add(self, got, want, path):
        got = np.asarray(got, dtype=float)
        want = np.asarray(want, dtype=float)
        if got.shape != want.shape:
            raise AssertionError(f"{path}: shape {got.shape}, expected {want.shape}")
        if want.size == 0:
            return
        err = float(np.max(np.abs(got - want))) if np.all(np.isfinite(got)) else np.inf
        self.scale = max(self.scale, float(np.max(np.abs(want))))
        if err > self.err:
            self.err, self.where = err, path

    def check(self, what):
        assert self.err <= self.rtol * self.scale, (
            f"{what}: wrong numbers, max abs error {self.err:.3g} at {self.where} "
            f"(reference scale {self.scale:.3g}, tolerance {self.rtol * self.scale:.3g})")


def compare_like_arg(got, want, arg, errors, path="grad"):
    """`got` must have `arg`'s structure and types (None for a non-float leaf), and values `want`."""
    if is_leaf(arg):
        if isinstance(arg, np.ndarray):
            assert isinstance(got, np.ndarray), f"{path}: {type(got).__name__}, expected ndarray"
            assert got.shape == arg.shape and got.dtype == arg.dtype, (
                f"{path}: shape {got.shape} dtype {got.dtype}, expected {arg.shape} {arg.dtype}")
        else:
            assert isinstance(got, float), f"{path}: {type(got).__name__}, expected float"
        errors.add(got, want, path)
        return
    ch = children(arg)
    if ch is None:
        assert got is None, f"{path}: {got!r} for the non-float leaf {arg!r}, expected None"
        return
    assert type(got) is type(arg), f"{path}: {type(got).__name__}, expected {type(arg).__name__}"
    gch, wch = children(got)[1], children(want)[1]
    assert [k for k, _ in gch] == [k for k, _ in ch[1]], (
        f"{path}: keys {[k for k, _ in gch]}, expected {[k for k, _ in ch[1]]}")
    for (k, a), (_, g), (_, w) in zip(ch[1], gch, wch):
        compare_like_arg(g, w, a, errors, f"{path}[{k!r}]")


def compare_output(got, want, errors, path="out"):
    """An output-structured result (a JVP, a value): containers typed, numbers by value."""
    ch = children(want)
    if ch is None:
        if isinstance(want, np.ndarray) and want.ndim > 0:
            assert isinstance(got, np.ndarray), f"{path}: {type(got).__name__}, expected ndarray"
        errors.add(got, want, path)
        return
    assert type(got) is type(want), f"{path}: {type(got).__name__}, expected {type(want).__name__}"
    gch = children(got)[1]
    assert [k for k, _ in gch] == [k for k, _ in ch[1]], f"{path}: keys differ"
    for (k, w), (_, g) in zip(ch[1], gch):
        compare_output(g, w, errors, f"{path}[{k!r}]")


# ---------------------------------------------------------------------------------------
# Finite differences
# ---------------------------------------------------------------------------------------

def _wrt_indices(case, fn, args):
    """The positions of the wrt arguments, and whether wrt is a tuple."""
    import inspect
    names = list(inspect.signature(fn).parameters)
    spec = case.wrt
    many = isinstance(spec, tuple)
    items = spec if many else (spec,)
    idx = [names.index(w) if isinstance(w, str) else w for w in items]
    return idx, many


def _scalar(out):
    return float(np.asarray(out))


def fd_gradient(f, args, i):
    """Central differences of the scalar f(*args) in args[i], as a flat vector."""
    return _fd_jacobian_flat(lambda *a: _scalar(f(*a)), args, i)


def fd_hessian(f, args, i):
    """Four-point second differences of the scalar f(*args) in args[i] (flat matrix)."""
    base = to_vector(args[i])
    n = base.size
    Hm = np.zeros((n, n))

    def at(dk, dl):
        v = base.copy()
        for idx, d in (dk, dl):
            v[idx] += d
        a = list(args)
        a[i] = from_vector(args[i], v)
        return _scalar(f(*a))

    for k in range(n):
        for l in range(k, n):
            h = EPS2
            val = (at((k, h), (l, h)) - at((k, h), (l, -h)) - at((k, -h), (l, h))
                   + at((k, -h), (l, -h))) / (4 * h * h)
            Hm[k, l] = Hm[l, k] = val
    return Hm


def fd_directional(f, args, idx, tangents):
    """Central difference of the output of f along the tangents of args[idx]: output-shaped."""
    def shifted(s):
        a = list(args)
        for i, t in zip(idx, tangents):
            a[i] = from_vector(args[i], to_vector(args[i]) + s * EPS * to_vector(t))
        return f(*a)
    plus, minus = shifted(1.0), shifted(-1.0)
    diff = (to_vector(_as_tree(plus)) - to_vector(_as_tree(minus))) / (2 * EPS)
    return from_vector(_as_tree(plus), diff)


def _as_tree(out):
    """A numeric output as a tree whose leaves are float arrays (scalars become 0-d arrays)."""
    if children(out) is None:
        return np.asarray(out, dtype=float)
    return replace_leaves(out, [np.asarray(v, dtype=float) for v in leaves(out)])


def _pair(seed, out):
    return float(np.dot(to_vector(_as_tree(seed)), to_vector(_as_tree(out))))


# ---------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------

def setup(case):
    """(f, args, kwargs, rng): a fresh, reproducible example for the case."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    f = case.bind(rng) if case.bind is not None else case.fn
    args = tuple(case.args(rng))
    kwargs = case.kwargs(rng) if case.kwargs is not None else {}
    return f, args, kwargs, rng


def primal(case, f, kwargs):
    """The scalar function the checks differentiate (the first output for an aux case)."""
    if case.aux:
        return lambda *a: f(*a, **kwargs)[0]
    return lambda *a: f(*a, **kwargs)


@contextlib.contextmanager
def unchanged(f, args, kwargs):
    """The derivative must not write into the arguments (nor into a bound object)."""
    before = snapshot((args, kwargs))
    owner = getattr(f, "__self__", None)
    owner_before = snapshot(vars(owner)) if hasattr(owner, "__dict__") else None
    yield
    assert same_values((args, kwargs), before), "the derivative modified its arguments"
    if owner_before is not None:
        assert same_values(vars(owner), owner_before), "the derivative modified the object"


def check_gradient(got, case, f, args, kwargs, what="grad"):
    idx, many = _wrt_indices(case, f, args)
    g = primal(case, f, kwargs)
    gots = got if many else (got,)
    if many:
        assert isinstance(got, tuple) and len(got) == len(idx), (
            f"{what}: {type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}"
            f", expected a tuple of {len(idx)}")
    errors = Errors(RTOL1)
    for i, gi in zip(idx, gots):
        want = from_vector(args[i], fd_gradient(g, args, i)) if leaves(args[i]) else args[i]
        compare_like_arg(gi, want, args[i], errors, f"{what}[arg {i}]")
    errors.check(what)


def run_grad(case, f, args, kwargs, rng, **options):
    with unchanged(f, args, kwargs):
        got = srcad.grad(f, wrt=case.wrt, **options)(*args, **kwargs)
    check_gradient(got, case, f, args, kwargs)


def run_argnums(case, f, args, kwargs, rng):
    with unchanged(f, args, kwargs):
        got = srcad.grad(f, argnums=case.wrt)(*args, **kwargs)
    check_gradient(got, case, f, args, kwargs, "grad(argnums=)")


def run_vg(case, f, args, kwargs, rng):
    with unchanged(f, args, kwargs):
        value, got = srcad.value_and_grad(f, wrt=case.wrt)(*args, **kwargs)
    errors = Errors(RTOL1)
    errors.add(value, f(*args, **kwargs), "value")
    errors.check("value_and_grad value")
    check_gradient(got, case, f, args, kwargs, "value_and_grad")


def run_check_grad(case, f, args, kwargs, rng):
    with unchanged(f, args, kwargs):
        srcad.check_grad(f, *args, wrt=case.wrt)


def _tangents(case, f, args, rng):
    idx, _ = _wrt_indices(case, f, args)
    return idx, [random_like(args[i], rng) for i in idx]


def run_fwd(case, f, args, kwargs, rng):
    idx, ts = _tangents(case, f, args, rng)
    with unchanged(f, args, kwargs):
        got = srcad.autodiff(f, mode="forward", wrt=case.wrt)(*args, *ts, **kwargs)
    want = fd_directional(primal(case, f, kwargs), args, idx, ts)
    errors = Errors(RTOL1)
    compare_output(got, want, errors, "jvp")
    errors.check("forward mode")


def run_jvp(case, f, args, kwargs, rng):
    idx, ts = _tangents(case, f, args, rng)
    g = primal(case, f, kwargs)
    with unchanged(f, args, kwargs):
        value, got = srcad.jvp(g if kwargs else f, args, ts, wrt=case.wrt)
    want = fd_directional(g, args, idx, ts)
    errors = Errors(RTOL1)
    compare_output(value, _as_tree(g(*args)), errors, "value")
    compare_output(got, want, errors, "jvp")
    errors.check("srcad.jvp")


def _seed(f, args, kwargs, rng):
    out = f(*args, **kwargs)
    return out, random_like(_as_tree(out), rng)


def _check_vjp(got, case, f, args, kwargs, seed, what):
    """A cotangent per wrt argument, each the gradient of <seed, f(*args)>."""
    g = lambda *a: _pair(seed, f(*a, **kwargs))
    idx, many = _wrt_indices(case, f, args)
    gots = got if many else (got,)
    if many:
        assert isinstance(got, tuple) and len(got) == len(idx), (
            f"{what}: {type(got).__name__}, expected a tuple of {len(idx)} cotangents")
    errors = Errors(RTOL1)
    for i, gi in zip(idx, gots):
        want = from_vector(args[i], fd_gradient(g, args, i))
        compare_like_arg(gi, want, args[i], errors, f"{what}[arg {i}]")
    errors.check(what)


def run_vjp(case, f, args, kwargs, rng):
    assert not kwargs
    out, seed = _seed(f, args, kwargs, rng)
    with unchanged(f, args, kwargs):
        value, pullback = srcad.vjp(f, *args, wrt=case.wrt)
        got = pullback(seed)
    errors = Errors(RTOL1)
    compare_output(value, _as_tree(out), errors, "value")
    errors.check("vjp value")
    _check_vjp(got, case, f, args, kwargs, seed, "vjp")


def run_rev_seed(case, f, args, kwargs, rng):
    out, seed = _seed(f, args, kwargs, rng)
    with unchanged(f, args, kwargs):
        got = srcad.autodiff(f, mode="reverse", wrt=case.wrt)(*args, seed=seed, **kwargs)
    _check_vjp(got, case, f, args, kwargs, seed, "autodiff(seed=)")


def run_posseed(case, f, args, kwargs, rng):
    out, seed = _seed(f, args, kwargs, rng)
    with unchanged(f, args, kwargs):
        got = srcad.autodiff(f, mode="reverse", wrt=case.wrt)(*args, seed, **kwargs)
    _check_vjp(got, case, f, args, kwargs, seed, "autodiff(x, dy)")


def _fd_jacobian_flat(f, args, i):
    """Central differences of f(*args) in args[i]: shape out.shape + (size of args[i],)."""
    base = to_vector(args[i])
    out = np.asarray(f(*args), dtype=float)
    J = np.zeros(out.shape + (base.size,))
    for k in range(base.size):
        cols = []
        for s in (1.0, -1.0):
            v = base.copy()
            v[k] += s * EPS
            a = list(args)
            a[i] = from_vector(args[i], v)
            cols.append(np.asarray(f(*a), dtype=float))
        J[..., k] = (cols[0] - cols[1]) / (2 * EPS)
    return J


def _fd_jacobian(f, args, i):
    """The Jacobian of f(*args) in the array args[i]: shape out.shape + args[i].shape."""
    J = _fd_jacobian_flat(f, args, i)
    return J.reshape(J.shape[:-1] + np.shape(args[i]))


def _check_jacobian(J, f, args, i, what, errors):
    if isinstance(f(*args), dict):
        out = f(*args)
        assert isinstance(J, dict) and list(J) == list(out), f"{what}: {type(J).__name__}, expected a dict"
        for k in out:
            want = _fd_jacobian(lambda *a: f(*a)[k], args, i)
            errors.add(J[k], want, f"{what}[{k!r}]")
        return
    errors.add(J, _fd_jacobian(f, args, i), what)


def run_jacobian(case, f, args, kwargs, rng, api=None, **options):
    fn = api or srcad.jacobian
    with unchanged(f, args, kwargs):
        J = fn(f, **options)(*args)
    errors = Errors(RTOL1)
    _check_jacobian(J, f, args, 0, "jacobian", errors)
    errors.check(getattr(fn, "__name__", "jacobian"))


def run_jacfwd(case, f, args, kwargs, rng):
    run_jacobian(case, f, args, kwargs, rng, api=srcad.jacfwd)


def run_jacrev(case, f, args, kwargs, rng):
    run_jacobian(case, f, args, kwargs, rng, api=srcad.jacrev)


def run_jac_tuple(case, f, args, kwargs, rng):
    """jacobian with a tuple wrt, of a scalar function: a tuple of gradients (JAX)."""
    with unchanged(f, args, kwargs):
        Js = srcad.jacobian(f, wrt=case.wrt)(*args)
    idx, _ = _wrt_indices(case, f, args)
    assert isinstance(Js, tuple) and len(Js) == len(idx), f"jacobian(wrt=tuple): {type(Js).__name__}"
    errors = Errors(RTOL1)
    for i, J in zip(idx, Js):
        _check_jacobian(J, f, args, i, f"jacobian[{i}]", errors)
    errors.check("jacobian(wrt=tuple)")


def _fd_hessian_block(f, args, i, j):
    """Second differences of f in args[i] and args[j] (both arrays): shape arg_i + arg_j."""
    if i == j:
        Hm = fd_hessian(f, args, i)
    else:
        bi, bj = to_vector(args[i]), to_vector(args[j])
        Hm = np.zeros((bi.size, bj.size))
        h = EPS2
        for k in range(bi.size):
            for l in range(bj.size):
                vals = []
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    a = list(args)
                    vi, vj = bi.copy(), bj.copy()
                    vi[k] += si * h
                    vj[l] += sj * h
                    a[i], a[j] = from_vector(args[i], vi), from_vector(args[j], vj)
                    vals.append(_scalar(f(*a)))
                Hm[k, l] = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h * h)
    return Hm.reshape(np.shape(args[i]) + np.shape(args[j]))


def run_hessian(case, f, args, kwargs, rng, **options):
    idx, many = _wrt_indices(case, f, args)
    assert not many
    with unchanged(f, args, kwargs):
        Hs = srcad.hessian(f, wrt=case.wrt, **options)(*args)
    errors = Errors(RTOL2)
    errors.add(Hs, _fd_hessian_block(f, args, idx[0], idx[0]), "hessian")
    errors.check("hessian")


def run_hess_tuple(case, f, args, kwargs, rng):
    idx, _ = _wrt_indices(case, f, args)
    with unchanged(f, args, kwargs):
        Hs = srcad.hessian(f, wrt=case.wrt)(*args)
    assert isinstance(Hs, tuple) and len(Hs) == len(idx), f"hessian(wrt=tuple): {type(Hs).__name__}"
    errors = Errors(RTOL2)
    for a, i in enumerate(idx):
        assert isinstance(Hs[a], tuple) and len(Hs[a]) == len(idx), "hessian rows must be tuples"
        for b, j in enumerate(idx):
            errors.add(Hs[a][b], _fd_hessian_block(f, args, i, j), f"hessian[{a}][{b}]")
    errors.check("hessian(wrt=tuple)")


def run_hvp(case, f, args, kwargs, rng):
    assert not kwargs
    idx, many = _wrt_indices(case, f, args)
    assert not many
    i = idx[0]
    v = random_like(args[i], rng)
    with unchanged(f, args, kwargs):
        got = srcad.hvp(f, wrt=case.wrt)(*args, v)
    want = from_vector(args[i], fd_hessian(f, args, i) @ to_vector(v))
    errors = Errors(RTOL2)
    compare_like_arg(got, want, args[i], errors, "hvp")
    errors.check("hvp")


def run_has_aux(case, f, args, kwargs, rng):
    with unchanged(f, args, kwargs):
        got, aux = srcad.grad(f, wrt=case.wrt, has_aux=True)(*args, **kwargs)
    _check_aux(aux, f(*args, **kwargs)[1])
    check_gradient(got, case, f, args, kwargs, "grad(has_aux=True)")


def run_vg_aux(case, f, args, kwargs, rng):
    with unchanged(f, args, kwargs):
        (value, aux), got = srcad.value_and_grad(f, wrt=case.wrt, has_aux=True)(*args, **kwargs)
    loss, want_aux = f(*args, **kwargs)
    _check_aux(aux, want_aux)
    errors = Errors(RTOL1)
    errors.add(value, loss, "value")
    errors.check("value")
    check_gradient(got, case, f, args, kwargs, "value_and_grad(has_aux=True)")


def _check_aux(aux, want):
    assert type(aux) is type(want), f"aux: {type(aux).__name__}, expected {type(want).__name__}"
    assert list(aux) == list(want), "aux: keys differ"
    for k in want:
        assert np.allclose(aux[k], want[k], rtol=1e-12), f"aux[{k!r}] differs"


def run_once(case, f, args, kwargs, rng):
    """print/logging run exactly once per derivative call, as written."""
    records = []

    class Count(logging.Handler):
        def emit(self, record):
            if C.MARK in record.getMessage():
                records.append(record)

    handler = Count()
    C.log.addHandler(handler)
    C.log.setLevel(logging.INFO)
    try:
        for mode in ("reverse", "forward"):
            if mode == "forward" and "fwd" not in case.checks:
                continue
            d = srcad.grad(f, wrt=case.wrt) if mode == "reverse" else \
                srcad.autodiff(f, mode="forward", wrt=case.wrt)
            ts = _tangents(case, f, args, rng)[1] if mode == "forward" else []
            buf = io.StringIO()
            records.clear()
            with contextlib.redirect_stdout(buf):
                d(*args, *ts, **kwargs)
            count = buf.getvalue().count(C.MARK) + len(records)
            assert count == 1, f"{mode}: the print/log ran {count} times, expected once"
    finally:
        C.log.removeHandler(handler)


def run_live(case, f, args, kwargs, rng):
    """A bound method's attributes are read at call time, never frozen."""
    d = srcad.grad(f, wrt=case.wrt)
    d(*args, **kwargs)
    owner = f.__self__
    for name, value in list(vars(owner).items()):
        if is_leaf(value):
            object.__setattr__(owner, name, from_vector(value, 1.5 * to_vector(value) + 0.1))
        elif isinstance(value, list):
            object.__setattr__(owner, name, [1.5 * v if is_leaf(v) else v for v in value])
    got = d(*args, **kwargs)
    check_gradient(got, case, f, args, kwargs, "grad after changing the object's attributes")


def run_show(case, f, args, kwargs, rng):
    text = srcad.show(f, *args)
    assert isinstance(text, str) and "def " in text, "show(f, *args) did not return source"


def run_badstruct(case, f, args, kwargs, rng):
    """A dict argument missing a key the function reads: a srcad error naming the key."""
    params = dict(args[0])
    params.pop("b2")
    d = srcad.grad(f, wrt=case.wrt)
    with pytest.raises(srcad.SrcadError) as info:
        d(params, *args[1:], **kwargs)
    assert "b2" in str(info.value), str(info.value)


def run_options(case, f, args, kwargs, rng):
    """preserve_result / optimized / verbose, accepted by every function (README)."""
    problems = []
    value = f(*args)
    idx, many = _wrt_indices(case, f, args)
    calls = {
        "grad": lambda **o: srcad.grad(f, wrt=case.wrt, **o)(*args),
        "value_and_grad": lambda **o: srcad.value_and_grad(f, wrt=case.wrt, **o)(*args)[1],
        "autodiff(reverse)": lambda **o: srcad.autodiff(f, wrt=case.wrt, **o)(*args),
        "jacobian": lambda **o: srcad.jacobian(f, wrt=case.wrt, **o)(*args),
        "hessian": lambda **o: srcad.hessian(f, wrt=case.wrt, **o)(*args),
        "hvp": lambda **o: srcad.hvp(f, wrt=case.wrt, **o)(
            *args, *[np.ones_like(args[i]) for i in idx]),
    }
    for name, call in calls.items():
        try:
            plain = call()
        except Exception as e:
            problems.append(f"{name}(): {type(e).__name__}: {str(e).splitlines()[0]}")
            continue
        for opts in ({"optimized": False}, {"verbose": 1}, {"preserve_result": True}):
            if name == "value_and_grad" and "preserve_result" in opts:
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()) as buf:
                    got = call(**opts)
                if "preserve_result" in opts:
                    assert isinstance(got, tuple) and len(got) == 2, "not a (value, derivative) pair"
                    assert np.allclose(got[0], value), "the value differs"
                    got = got[1]
                if "verbose" in opts:
                    assert "def " in buf.getvalue(), "verbose=1 printed no code"
                e = Errors(1e-9)
                e.add(to_vector(_as_tree(got)), to_vector(_as_tree(plain)), name)
                e.check(name)
            except Exception as e:
                msg = str(e).splitlines()[0] if str(e) else ""
                problems.append(f"{name}({', '.join(f'{k}={v}' for k, v in opts.items())}): "
                                f"{type(e).__name__}: {msg}")
    assert not problems, "; ".join(problems)


CHECKS = {
    "grad": run_grad, "argnums": run_argnums, "vg": run_vg, "check_grad": run_check_grad,
    "fwd": run_fwd, "jvp": run_jvp, "vjp": run_vjp, "rev_seed": run_rev_seed,
    "posseed": run_posseed, "jacobian": run_jacobian, "jacfwd": run_jacfwd,
    "jacrev": run_jacrev, "jac_tuple": run_jac_tuple, "hessian": run_hessian,
    "hess_tuple": run_hess_tuple, "hvp": run_hvp, "has_aux": run_has_aux,
    "vg_aux": run_vg_aux, "once": run_once, "live": run_live, "show": run_show,
    "badstruct": run_badstruct, "options": run_options,
}

PAIRS = [(c.id, check) for c in C.CASES for check in c.checks]


def run(case_id: str, check: str) -> None:
    """Runs one check of one case (the reproducer the report prints)."""
    case = C.by_id(case_id)
    f, args, kwargs, rng = setup(case)
    CHECKS[check](case, f, args, kwargs, rng)



# Checks that fail today, each for the reason given (issue 13's open items; the user
# corpus was written from the issue text alone). strict: a check that starts passing
# fails the suite until it is taken out of this table.
KNOWN = {
}


@pytest.mark.parametrize("case_id,check", [
    pytest.param(i, c, marks=pytest.mark.xfail(strict=True, reason=KNOWN[f"{i}-{c}"]))
    if f"{i}-{c}" in KNOWN else (i, c) for i, c in PAIRS], ids=[f"{i}-{c}" for i, c in PAIRS])
def test_user_corpus(case_id, check):
    run(case_id, check)


def test_corpus_size():
    fns = {id(c.fn) for c in C.CASES if c.fn is not None} | {c.id for c in C.CASES if c.bind}
    assert len(fns) >= 70, len(fns)


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------

def _summarize(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = text.splitlines()
    head = " / ".join(line.strip() for line in lines[:4] if line.strip())
    return f"{type(exc).__name__}: {head}"[:600]


def report(path: str) -> None:
    import time
    results = []
    start = time.perf_counter()
    for case_id, check in PAIRS:
        case = C.by_id(case_id)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                run(case_id, check)
            results.append((case, check, None, ""))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported
            if isinstance(exc, KeyboardInterrupt):
                raise
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            results.append((case, check, exc, where))
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r[2] is not None]
    lines = [f"# User corpus: {len(results) - len(failed)} of {len(results)} checks pass",
             "", f"{len(C.CASES)} cases; {elapsed:.1f} s. Reproduce one failure with",
             "`python -c \"import sys; sys.path.insert(0, 'tests'); import test_user_corpus as T;"
             " T.run('CASE', 'CHECK')\"` (from the repository root).", ""]
    by_cat: dict[str, list] = {}
    for r in failed:
        by_cat.setdefault(r[0].category, []).append(r)
    for cat, rows in sorted(by_cat.items()):
        lines.append(f"## {cat} ({len(rows)} failing)")
        lines.append("")
        for case, check, exc, where in rows:
            lines.append(f"- `{case.id}-{check}`: {_summarize(exc)} (raised at {where})")
        lines.append("")
    lines.append("## Passing")
    lines.append("")
    lines.append(", ".join(f"`{c.id}-{k}`" for c, k, e, _ in results if e is None))
    Path(path).write_text("\n".join(lines) + "\n")
    print(f"{len(results) - len(failed)} pass, {len(failed)} fail, {elapsed:.1f} s -> {path}")


if __name__ == "__main__":
    report(sys.argv[sys.argv.index("--report") + 1] if "--report" in sys.argv else
           "/work/corpus-report.md")
