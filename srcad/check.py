"""Gradient checking: compare srcad's derivatives with central finite differences in float64.

``check_grad(f, *args, wrt=0)`` runs random-direction dot-product tests:

* reverse mode: draw a random output cotangent ``u`` and input direction ``v`` and compare
  ``<J^T u, v>`` (srcad's VJP) with ``<u, (f(x + h v) - f(x - h v)) / 2h>``;
* forward mode: compare ``<u, J v>`` (srcad's JVP) with the same finite difference;
* both modes: also require ``<u, J v> == <J^T u, v>`` to about 1e-10 relative, which holds
  exactly in exact arithmetic whatever the finite-difference accuracy.

Each argument in ``wrt`` is checked on its own (so a report names the argument). Floating
arguments are checked in float64: the checker works on float64 copies, never on the caller's
arrays. Arguments and outputs may be Python floats, NumPy scalars, arrays, or lists/tuples of
those. A disagreement raises :class:`srcad.errors.GradientCheckError` listing every failure.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .errors import GradientCheckError, NotDifferentiableError

__all__ = ["check_grad"]

_MODES = ("both", "reverse", "forward")
_EXACT_RTOL = 1e-10  # forward/reverse agreement: both are exact up to rounding
_FD_NOISE = 32.0     # multiples of machine epsilon assumed in each evaluation of f


# -- small tree utilities: leaves are numbers and arrays, nodes are lists and tuples ----------

def _is_node(x) -> bool:
    return isinstance(x, (list, tuple))


def _rebuild(like, items):
    if isinstance(like, tuple) and hasattr(like, "_fields"):  # namedtuple
        return type(like)(*items)
    return type(like)(items)


def _map(fn, tree, *others):
    """Apply fn leafwise over trees of the same structure."""
    if _is_node(tree):
        return _rebuild(tree, [_map(fn, t, *(o[i] for o in others))
                               for i, t in enumerate(tree)])
    return fn(tree, *others)


def _leaves(tree):
    if _is_node(tree):
        for item in tree:
            yield from _leaves(item)
    else:
        yield tree


def _dot(a, b) -> float:
    """Euclidean inner product of two trees of the same structure (None counts as zero)."""
    total = 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        if x is None or y is None:
            continue
        total += float(np.sum(np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64)))
    return total


def _abs_dot(a, b) -> float:
    """<|a|, |b|>: the size of the terms whose sum is _dot(a, b), for rounding estimates."""
    total = 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        if x is None or y is None:
            continue
        total += float(np.sum(np.abs(np.asarray(x, dtype=np.float64))
                              * np.abs(np.asarray(y, dtype=np.float64))))
    return total


def _structure(tree):
    """A printable description of a tree's structure and leaf shapes."""
    if _is_node(tree):
        inner = ", ".join(_structure(t) for t in tree)
        return f"[{inner}]" if isinstance(tree, list) else f"({inner})"
    if tree is None:
        return "None"
    return f"shape{np.shape(tree)}"


def _same_shapes(a, b) -> bool:
    if _is_node(a) or _is_node(b):
        return (_is_node(a) and _is_node(b) and len(a) == len(b)
                and all(_same_shapes(x, y) for x, y in zip(a, b)))
    return a is None or b is None or np.shape(a) == np.shape(b)


# -- argument preparation ----------------------------------------------------------------------

def _is_float_leaf(x) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, numbers.Integral):
        return False
    if isinstance(x, float):
        return True
    return np.issubdtype(np.asarray(x).dtype, np.floating)


def _to_float64(x):
    """A float64 copy with the same kind of container (Python float stays a Python float)."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=True)
    if isinstance(x, np.generic):
        return np.float64(x)
    return float(x)


def _copy(x):
    """A copy of x whose arrays f may modify without harm."""
    return _map(lambda leaf: leaf.copy() if isinstance(leaf, np.ndarray) else leaf, x)


def _random_like(x, rng):
    """A standard normal draw with x's structure and kind (array, NumPy scalar, float)."""
    def draw(leaf):
        if isinstance(leaf, np.ndarray):
            return rng.standard_normal(leaf.shape)
        if isinstance(leaf, np.generic):
            return np.float64(rng.standard_normal())
        return float(rng.standard_normal())
    return _map(draw, x)


def _zeros_like(x):
    def zero(leaf):
        if isinstance(leaf, np.ndarray):
            return np.zeros(leaf.shape)
        if isinstance(leaf, np.generic):
            return np.float64(0.0)
        return 0.0
    return _map(zero, x)


def _axpy(x, h, v):
    """x + h * v leafwise, keeping each leaf's kind."""
    def step(a, b):
        if isinstance(a, np.ndarray):
            return a + h * b
        if isinstance(a, np.generic):
            return np.float64(a + h * b)
        return float(a + h * b)
    return _map(step, x, v)


def _scale(x) -> float:
    """Typical magnitude of x's entries (at least 1): the unit for the finite-difference step."""
    values = [np.asarray(leaf, dtype=np.float64).ravel() for leaf in _leaves(x)]
    flat = np.concatenate(values) if values else np.zeros(0)
    if flat.size == 0:
        return 1.0
    return max(1.0, float(np.sqrt(np.mean(flat * flat))))


def _param_name(f, index) -> str:
    try:
        import inspect
        names = list(inspect.signature(f).parameters)
        return f"argument {index} ({names[index]!r})"
    except (TypeError, ValueError, IndexError):
        return f"argument {index}"


def _normalize_wrt(wrt, nargs):
    single = isinstance(wrt, numbers.Integral)
    indices = (wrt,) if single else tuple(wrt)
    if not indices:
        raise ValueError("check_grad: wrt must name at least one argument")
    out = []
    for i in indices:
        if isinstance(i, (bool, np.bool_)):
            raise TypeError(f"check_grad: wrt must be an int or a tuple of ints, not {i!r}")
        if not isinstance(i, numbers.Integral) or not -nargs <= i < nargs:
            raise ValueError(f"check_grad: wrt index {i!r} out of range for {nargs} argument(s)")
        out.append(int(i) % nargs)
    return single, tuple(out)


# -- the comparison ----------------------------------------------------------------------------

class _Report:
    """Collects failures; raises one GradientCheckError listing all of them."""

    def __init__(self, f):
        self.name = getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))
        self.failures = []

    def fail(self, text):
        self.failures.append(text)

    def raise_if_failed(self, header):
        if self.failures:
            body = "\n".join(f"  - {line}" for line in self.failures)
            raise GradientCheckError(f"check_grad({self.name}): {header}\n{body}")


def _rel_err(a, b) -> float:
    denom = max(abs(a), abs(b))
    return abs(a - b) / denom if denom > 0 else 0.0


class _FiniteDifference:
    """<u, directional derivative of f along v in argument i>, by central differences."""

    def __init__(self, f, args, u):
        self.f = f
        self.args = args
        self.u = u

    def __call__(self, index, v, h):
        plus = list(_copy(a) for a in self.args)
        minus = list(_copy(a) for a in self.args)
        plus[index] = _axpy(self.args[index], h, v)
        minus[index] = _axpy(self.args[index], -h, v)
        fp, fm = self.f(*plus), self.f(*minus)
        value = (_dot(self.u, fp) - _dot(self.u, fm)) / (2.0 * h)
        noise = _FD_NOISE * np.finfo(np.float64).eps * (
            _abs_dot(self.u, fp) + _abs_dot(self.u, fm)) / (2.0 * h)
        return value, noise


def _compare_fd(report, what, ad_value, fd, index, v, steps, rtol, atol):
    """Compare an AD directional derivative with finite differences at one or more steps."""
    attempts = []
    for h in steps:
        fd_value, noise = fd(index, v, h)
        tol = atol + rtol * max(abs(ad_value), abs(fd_value)) + noise
        attempts.append((h, fd_value, tol))
        if abs(ad_value - fd_value) <= tol and np.isfinite(ad_value):
            return
    h, fd_value, tol = attempts[0]
    report.fail(
        f"{what}: srcad gives {ad_value!r}, finite differences (eps={h:.3g}) give {fd_value!r}; "
        f"abs error {abs(ad_value - fd_value):.3g} > tolerance {tol:.3g}, "
        f"relative error {_rel_err(ad_value, fd_value):.3g}"
        + ("" if len(attempts) == 1 else
           " (also tried eps=" + ", ".join(
               f"{a[0]:.3g} -> {a[1]!r}" for a in attempts[1:]) + ")"))


def _steps(eps, x):
    if eps is not None:
        return (float(eps),)
    base = 1e-6 * _scale(x)
    # The first step balances truncation and rounding; the others rescue a check that
    # straddles a kink (abs, max, where) or is truncation-limited.
    return (base, base * 0.1, base * 10.0)


def _reverse(api, f, args, wrt, single, u, report):
    result = api.autodiff(f, mode="reverse", wrt=wrt)(*args, seed=u)
    if single:
        if isinstance(result, tuple) and not _is_node(args[wrt]):
            report.fail(f"reverse mode with wrt={wrt} returned a tuple; expected a single value")
            return None
        return (result,)
    if not isinstance(result, tuple) or len(result) != len(wrt):
        report.fail(f"reverse mode with wrt={wrt} returned {type(result).__name__}; expected a "
                    f"tuple of {len(wrt)} derivatives")
        return None
    return result


def _forward(api, f, args, wrt, position, v):
    indices = (wrt,) if isinstance(wrt, numbers.Integral) else wrt
    tangents = [v if k == position else _zeros_like(args[i]) for k, i in enumerate(indices)]
    return api.autodiff(f, mode="forward", wrt=wrt)(*args, *tangents)


def check_grad(f: Callable[..., Any], *args: Any, wrt: int | str | tuple[int | str, ...] = 0,
               mode: Literal["both", "reverse", "forward"] = "both", rtol: float = 1e-6,
               atol: float = 1e-8, eps: float | None = None, seed: int = 0) -> None:
    """Check srcad's derivatives of ``f`` at ``args`` against finite differences.

    Parameters
    ----------
    f : a function srcad can differentiate (``def``, source available).
    *args : the point; floating arguments named in ``wrt`` are checked on float64 copies.
    wrt : int, name, or tuple of them, the arguments to check (each one separately).
    mode : 'both' (default), 'reverse' or 'forward'. 'both' also requires forward and
        reverse mode to agree: ``<u, J v> == <J^T u, v>`` to about 1e-10 relative.
    rtol, atol : tolerance of the finite-difference comparison. An estimate of the
        rounding noise of the finite difference is added to it.
    eps : finite-difference step along the random direction. By default ``1e-6`` times the
        typical magnitude of the argument (at least 1), retried at ten times smaller and
        larger steps before a mismatch is reported (kinks, truncation error).
    seed : seed of the random directions (reproducible reports).

    Returns None; raises ``srcad.errors.GradientCheckError`` listing every disagreement
    (argument, mode, the two numbers, the relative error).
    """
    from . import api

    if mode not in _MODES:
        raise ValueError(f"check_grad: mode must be one of {_MODES}, not {mode!r}")
    if isinstance(wrt, str) or isinstance(wrt, (tuple, list)) and any(
            isinstance(w, str) for w in wrt):      # by name, as grad takes it
        named, one = api._wrt_indices(api._target(f), wrt)
        wrt = named[0] if one else named
    single, indices = _normalize_wrt(wrt, len(args))
    wrt_arg = indices[0] if single else indices
    report = _Report(f)

    point = [_copy(a) for a in args]   # the arguments checked: float64 copies
    for i in indices:
        if not all(_is_float_leaf(leaf) for leaf in _leaves(point[i])):
            raise NotDifferentiableError(
                f"check_grad: {_param_name(f, i)} of {report.name} is not floating point "
                f"({type(point[i]).__name__}); only float arguments can be checked")
        point[i] = _map(_to_float64, point[i])

    rng = np.random.default_rng(seed)
    output = f(*_copy_args(point))
    u = _random_like(_map(_output_leaf, output), rng)
    directions = [_random_like(point[i], rng) for i in indices]
    fd = _FiniteDifference(f, point, u)

    vjps = jvps = None
    if mode in ("both", "reverse"):
        vjps = _reverse(api, f, _copy_args(point), wrt_arg, single, u, report)
        if vjps is not None:
            for i, v, g in zip(indices, directions, vjps):
                name = _param_name(f, i)
                if not _same_shapes(g, point[i]):
                    report.fail(f"reverse mode, {name}: derivative has structure "
                                f"{_structure(g)}, the argument {_structure(point[i])}")
                    continue
                _compare_fd(report, f"reverse mode, {name}: <J^T u, v>", _dot(g, v), fd,
                            i, v, _steps(eps, point[i]), rtol, atol)
    if mode in ("both", "forward"):
        jvps = []
        for position, (i, v) in enumerate(zip(indices, directions)):
            name = _param_name(f, i)
            jv = _forward(api, f, _copy_args(point), wrt_arg, position, v)
            jvps.append(jv)
            if not _same_shapes(jv, output):
                report.fail(f"forward mode, {name}: tangent has structure {_structure(jv)}, "
                            f"the output {_structure(output)}")
                continue
            _compare_fd(report, f"forward mode, {name}: <u, J v>", _dot(u, jv), fd,
                        i, v, _steps(eps, point[i]), rtol, atol)
    if mode == "both" and vjps is not None:
        for i, v, g, jv in zip(indices, directions, vjps, jvps):
            if not (_same_shapes(g, point[i]) and _same_shapes(jv, output)):
                continue
            rev, fwd = _dot(g, v), _dot(u, jv)
            size = max(abs(rev), abs(fwd), _abs_dot(g, v), _abs_dot(u, jv))
            if abs(rev - fwd) > _EXACT_RTOL * size + 1e-2 * atol:
                report.fail(
                    f"forward vs reverse, {_param_name(f, i)}: <u, J v> = {fwd!r} but "
                    f"<J^T u, v> = {rev!r}; relative error {_rel_err(fwd, rev):.3g} "
                    f"> {_EXACT_RTOL:g}")
    report.raise_if_failed(f"derivatives disagree (mode={mode!r}, wrt={wrt!r}, seed={seed})")


def _copy_args(args):
    return [_copy(a) for a in args]


def _output_leaf(y):
    """A float64 stand-in for an output leaf, used to shape the random cotangent."""
    if isinstance(y, np.ndarray):
        return np.zeros(y.shape)
    if isinstance(y, np.generic):
        return np.float64(0.0)
    return 0.0
