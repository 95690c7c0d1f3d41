"""Two checks every corpus runs through (issue 11's mechanisms):

* **Arguments are never written.** Every derivative call gets read-only copies of the
  arguments, the seed and the tangents (``a.flags.writeable = False``, arrays inside lists
  too), so a write into one fails loudly; afterwards they are compared with the originals
  (lists cannot be made read-only).
* **Optimized equals unoptimized.** At the arguments' own shapes and at derived shape
  patterns (``shape_patterns``: size-1 axes, sizes made equal, an argument broadcast along
  an axis, numbers as 0-d arrays), the optimized derivative (shape-specialized for each
  pattern) must agree with the unoptimized one to rounding, and both with central finite
  differences, in reverse mode (``autodiff`` with a seed, and ``grad`` for a scalar output)
  and in forward mode.

``check_agreement(f, args, wrt)`` runs one point; ``shape_patterns(f, args)`` derives the
others from the arguments, keeping only those at which ``f`` runs and returns finite values
of the same structure.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

import srcad
from srcad.check import _FD_NOISE, _abs_dot, _axpy, _dot, _leaves, _map, _random_like, _scale

__all__ = ["read_only", "assert_same", "shape_patterns", "pattern_params", "check_agreement"]

_EXACT = 1e-9        # optimized vs unoptimized, forward vs reverse: the same sums, reordered


def read_only(tree):
    """A copy of ``tree`` whose arrays cannot be written (lists and tuples rebuilt)."""
    def freeze(leaf):
        if isinstance(leaf, np.ndarray):
            leaf = leaf.copy()
            leaf.flags.writeable = False
        return leaf
    return _map(freeze, tree)


def _copy(tree):
    return _map(lambda leaf: leaf.copy() if isinstance(leaf, np.ndarray) else leaf, tree)


def assert_same(tree, original, what):
    """``tree`` has ``original``'s structure and values, exactly (NaN equal to NaN)."""
    if isinstance(original, (list, tuple)):
        assert type(tree) is type(original) and len(tree) == len(original), (
            f"{what}: changed from {original!r} to {tree!r}")
        for t, o in zip(tree, original):
            assert_same(t, o, what)
        return
    if isinstance(original, np.ndarray):
        assert isinstance(tree, np.ndarray) and tree.shape == original.shape, what
        np.testing.assert_array_equal(tree, original, err_msg=f"{what} was written into")
    else:
        assert tree is original or tree == original or (tree != tree and original != original), (
            f"{what}: changed from {original!r} to {tree!r}")


# -- shape patterns ---------------------------------------------------------------------------

def _arrays(tree):
    return [leaf for leaf in _leaves(tree) if isinstance(leaf, np.ndarray)]


def _resized(tree, sizes, only=None):
    """``tree`` with every axis whose size is a key of ``sizes`` cut to the value (the leading
    elements are kept, so values stay in their domain and leading principal submatrices of
    positive definite matrices stay positive definite); ``only``: that array alone."""
    def cut(leaf):
        if not isinstance(leaf, np.ndarray) or (only is not None and leaf is not only):
            return leaf
        for axis, n in enumerate(leaf.shape):
            if n in sizes:
                leaf = np.take(leaf, np.arange(sizes[n]), axis=axis)
        return leaf
    return _map(cut, tree)


def _axis_to_one(tree, target, axis):
    def cut(leaf):
        return np.take(leaf, [0], axis=axis) if leaf is target else leaf
    return _map(cut, tree)


def _zero_d(tree):
    """Python floats and NumPy float scalars as 0-d arrays."""
    def wrap(leaf):
        if isinstance(leaf, (float, np.floating)) and not isinstance(leaf, bool):
            return np.array(leaf, dtype=float)
        return leaf
    return _map(wrap, tree)


def _candidates(args, wrt):
    """The patterns to try, as lists of (label, arguments), one list per family: numbers as
    0-d arrays, a size cut to 1 everywhere, one argument broadcast along one axis, two sizes
    made equal (each list most telling first)."""
    sizes = sorted({n for a in _arrays(args) for n in a.shape if n > 1}, reverse=True)
    order = [i for i in wrt] + [i for i in range(len(args)) if i not in wrt]
    return [
        [("0-d", _zero_d(args))],
        [(f"size {n} -> 1", _resized(args, {n: 1})) for n in sizes],
        [(f"argument {i} broadcast along axis {axis}", _axis_to_one(args, a, axis))
         for i in order for a in _arrays(args[i]) for axis, n in enumerate(a.shape) if n > 1],
        [(f"size {big} -> {small}", _resized(args, {big: small}))
         for big, small in zip(sizes, sizes[1:])],
    ]


def _kind(tree):
    """What specializes a derivative (and what the runtime sees): types and shapes."""
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__,) + tuple(_kind(t) for t in tree)
    if isinstance(tree, np.ndarray):
        return ("array", tuple(1 if n == 1 else "n" for n in tree.shape), tree.dtype.str)
    return type(tree).__name__


def _pattern(args):
    """The shape pattern the specialized derivative is built for (sizes 1 or symbols, equal
    symbols for equal sizes), with the types of the arguments."""
    symbols: dict = {}

    def key(leaf):
        if isinstance(leaf, np.ndarray):
            return tuple(1 if n == 1 else symbols.setdefault(n, len(symbols))
                         for n in leaf.shape), leaf.dtype.str
        return type(leaf).__name__
    return tuple(str(_map(key, a)) for a in args)


def _finite_output(y) -> bool:
    leaves = list(_leaves(y))
    return bool(leaves) and all(
        isinstance(v, (numbers.Real, np.ndarray, np.generic)) and not isinstance(v, bool)
        and np.all(np.isfinite(v)) for v in leaves)


def _runs(f, args, like):
    """Does ``f`` run at ``args`` (no error, no floating-point warning) and give finite values
    structured like ``like`` (same nesting, same output shapes when ``like`` says so)?"""
    try:
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            y = f(*_copy(args))
    except Exception:
        return False
    return _finite_output(y) and _structure(y) == _structure(like)


def _structure(y):
    if isinstance(y, (list, tuple)):
        return type(y).__name__, tuple(_structure(v) for v in y)
    return "leaf"


def shape_patterns(f, args, wrt, most=3):
    """Up to ``most`` argument tuples at other shape patterns than ``args``' own, each
    labelled, at most one per family of ``_candidates``: ``f`` must run there and return
    finite values structured as at ``args``."""
    wrt = (wrt,) if isinstance(wrt, numbers.Integral) else tuple(wrt)
    like = f(*_copy(args))
    seen = {(_pattern(args), _kind(tuple(args)))}
    out = []
    for family in _candidates(list(args), wrt):
        for label, candidate in family:
            key = (_pattern(candidate), _kind(tuple(candidate)))
            if key not in seen and _runs(f, candidate, like):
                seen.add(key)
                out.append((label, tuple(candidate)))
                break
    return out[:most]


def pattern_params(cases, name, function, arguments):
    """``pytest.param(case, label, args)`` for every shape pattern of every case (ids
    ``<name(case)>-<label>``); ``function(case)`` and ``arguments(case)`` give its point."""
    import pytest
    return [pytest.param(case, label, args, id=f"{name(case)}-{label}") for case in cases
            for label, args in shape_patterns(function(case), arguments(case), case.wrt)]


# -- the comparison -------------------------------------------------------------------------

def _close(a, b, what, rtol=_EXACT):
    """``a`` and ``b`` agree leafwise to ``rtol`` of the largest magnitude involved."""
    la, lb = list(_leaves(a)), list(_leaves(b))
    assert len(la) == len(lb), f"{what}: {len(la)} leaves against {len(lb)}"
    for x, y in zip(la, lb):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        assert x.shape == y.shape, f"{what}: shapes {x.shape} and {y.shape}"
        scale = max(1.0, float(np.max(np.abs(x), initial=0.0)),
                    float(np.max(np.abs(y), initial=0.0)))
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=what)


def _as_tuple(g, single):
    return (g,) if single else tuple(g)


class _Point:
    """One point: arguments, the wrt indices, a random cotangent and random directions."""

    def __init__(self, f, args, wrt):
        self.f = f
        self.args = [_copy(a) for a in args]
        self.single = isinstance(wrt, numbers.Integral)
        self.wrt = (wrt,) if self.single else tuple(wrt)
        rng = np.random.default_rng(0)
        self.output = f(*_copy(self.args))
        self.u = _random_like(self.output, rng)
        # each direction in units of its argument's magnitude: one step suits them all
        self.v = [_map(lambda leaf, s=_scale(self.args[i]): leaf * s,
                       _random_like(self.args[i], rng)) for i in self.wrt]

    def call(self, derivative, *extra, **seed):
        """``derivative(*args, *extra, **seed)`` on read-only copies, checked unchanged."""
        args, extra_ro = read_only(self.args), read_only(list(extra))
        seed_ro = {k: read_only(v) for k, v in seed.items()}
        with np.errstate(divide="ignore", invalid="ignore"):     # NaN: compared as NaN
            out = derivative(*args, *extra_ro, **seed_ro)
        assert_same(args, self.args, "an argument")
        assert_same(extra_ro, list(extra), "a tangent")
        for k, v in seed.items():
            assert_same(seed_ro[k], v, "the seed")
        return out

    def finite_difference(self, h):
        """<u, (f(x + h v) - f(x - h v)) / 2h> along all the directions at once."""
        def moved(sign):
            args = _copy(self.args)
            for i, v in zip(self.wrt, self.v):
                args[i] = _axpy(self.args[i], sign * h, v)
            return self.f(*args)
        up, down = moved(1.0), moved(-1.0)
        noise = _FD_NOISE * np.finfo(float).eps * (_abs_dot(self.u, up) + _abs_dot(
            self.u, down)) / (2.0 * h)
        return (_dot(self.u, up) - _dot(self.u, down)) / (2.0 * h), noise

    def assert_matches_finite_differences(self, value, what, rtol=1e-6, atol=1e-8):
        tried = []
        for h in (1e-6, 1e-7, 1e-5):
            fd, noise = self.finite_difference(h)
            if abs(value - fd) <= atol + rtol * max(abs(value), abs(fd)) + noise:
                return
            tried.append(f"{fd!r} (eps={h:.2g})")
        raise AssertionError(f"{what}: srcad gives {value!r}, finite differences "
                             + ", ".join(tried))


def _generic(f, mode, wrt):
    """The unoptimized derivative srcad builds for arguments of any shape (``srcad.show``'s),
    called as the public one is: one build serves every shape pattern."""
    from srcad import api
    entry = api._get(api._target(f), api._spec(f, mode, wrt, False, False, False))
    if mode == "reverse":
        return lambda *args, seed: entry.fn(*args, **{entry.extra[0]: seed})
    if not entry.extra:
        return entry.fn
    count = len(entry.extra)                 # tangents are keyword-only
    return lambda *args: entry.fn(*args[:-count], **dict(zip(entry.extra, args[-count:])))


def check_agreement(f, args, wrt, label="", fd=True, seeded=True, generic=True):
    """Reverse and forward mode, optimized and not, at ``args`` (read-only): the optimized
    results equal the unoptimized ones, forward agrees with reverse, and (``fd``) both with
    central finite differences. For a scalar output the optimized reverse mode is ``grad``'s
    (seed 1.0), and with ``seeded=False`` only that one (``autodiff`` with a seed argument
    specializes the same code, but for the seed). The unoptimized derivative is the one
    built for any shapes (``generic``), or else ``optimized=False`` specialized for these."""
    p = _Point(f, args, wrt)
    at = f" ({label})" if label else ""
    vjp, jvp = {}, {}
    scalar = not isinstance(p.output, (list, tuple)) and np.ndim(p.output) == 0
    for optimized in (False, True):
        def derivative(mode):
            if generic and not optimized:
                return _generic(f, mode, wrt)
            return srcad.autodiff(f, mode=mode, wrt=wrt, optimized=optimized)
        jvp[optimized] = p.call(derivative("forward"), *p.v)
        if not (optimized and scalar and not seeded):
            vjp[optimized] = _as_tuple(p.call(derivative("reverse"), seed=p.u), p.single)
    _close(jvp[True], jvp[False], f"forward mode, optimized vs unoptimized{at}")
    if True in vjp:
        _close(vjp[True], vjp[False], f"reverse mode, optimized vs unoptimized{at}")
    if scalar:
        g = _as_tuple(p.call(srcad.grad(f, wrt=wrt)), p.single)
        scaled = [_map(lambda leaf: leaf * float(p.u), gi) for gi in g]
        _close(scaled, vjp[False], f"grad (optimized) vs reverse mode, unoptimized{at}")
    reverse = sum(_dot(g, v) for g, v in zip(vjp[False], p.v))
    forward = _dot(p.u, jvp[False])
    if not np.isfinite(reverse + forward):
        return        # a derivative that is not finite (a kink): the same in every variant
    size = max(1.0, sum(_abs_dot(g, v) for g, v in zip(vjp[False], p.v)),
               _abs_dot(p.u, jvp[False]))
    assert abs(reverse - forward) <= _EXACT * size, (
        f"forward vs reverse{at}: <u, J v> = {forward!r}, <J^T u, v> = {reverse!r}")
    if fd:
        p.assert_matches_finite_differences(forward, f"<u, J v>{at}")
