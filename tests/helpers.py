"""Test helpers: functions from source text (readable by inspect), seeded random generators,
and ``check_rule``, the one-liner behind the table-driven template tests."""
from __future__ import annotations

import ast
import itertools
import linecache
import math
import textwrap

import numpy as np

__all__ = ["make_function", "rng", "random_args", "check_rule", "DOMAINS",
           "central_difference", "count_builds"]

_counter = itertools.count()


def make_function(source: str, namespace: dict | None = None, name: str | None = None):
    """Define the function(s) in ``source`` and return one of them (``name``, else the only or
    the last ``def`` at top level).

    The code gets a unique fake filename (``<srcad-test-N>``) registered in ``linecache``, so
    ``inspect.getsource`` (and hence srcad) can read it. ``namespace`` (default: ``np`` and
    ``math``) becomes the function's globals; it is used as given, so later changes to it
    (e.g. rebinding a helper) are seen by the function.
    """
    source = textwrap.dedent(source).lstrip("\n")
    if not source.endswith("\n"):
        source += "\n"
    filename = f"<srcad-test-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    if namespace is None:
        namespace = {}
    namespace.setdefault("np", np)
    namespace.setdefault("math", math)
    namespace.setdefault("__name__", filename)
    exec(compile(source, filename, "exec"), namespace)
    if name is None:
        defs = [node.name for node in ast.parse(source).body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not defs:
            raise ValueError("make_function: the source defines no function")
        name = defs[-1]
    return namespace[name]


def rng(seed: int = 0) -> np.random.Generator:
    """A seeded NumPy generator (tests are deterministic)."""
    return np.random.default_rng(seed)


# Argument domains: name -> (generator, shape) -> float64 array (shape () -> Python float).
DOMAINS = {
    "real": lambda g, shape: g.standard_normal(shape),
    "positive": lambda g, shape: g.uniform(0.5, 2.0, shape),
    "unit": lambda g, shape: g.uniform(-0.9, 0.9, shape),       # arcsin, arctanh, ...
    "above1": lambda g, shape: g.uniform(1.2, 3.0, shape),      # arccosh
    "nonzero": lambda g, shape: g.choice([-1.0, 1.0], shape) * g.uniform(0.5, 2.0, shape),
}


def _draw(domain, g, shape):
    if isinstance(domain, tuple):
        lo, hi = domain
        value = g.uniform(lo, hi, shape)
    else:
        value = DOMAINS[domain](g, shape)
    return float(value) if shape == () else np.asarray(value, dtype=np.float64)


def random_args(arg_shapes, domain="real", seed=0):
    """One float64 argument per shape (``()`` gives a Python float); ``domain`` is a name from
    DOMAINS, a ``(low, high)`` pair, or a list with one of those per argument."""
    g = rng(seed)
    domains = domain if isinstance(domain, list) else [domain] * len(arg_shapes)
    return [_draw(dom, g, tuple(shape)) for dom, shape in zip(domains, arg_shapes)]


_ARG_NAMES = ("x", "y", "z", "w")


def _rule_function(expr, nargs, namespace):
    params = ", ".join(_ARG_NAMES[:nargs])
    return make_function(f"def f({params}):\n    return np.sum(({expr}) * W)\n", namespace)


def check_rule(expr: str, arg_shapes, domain="real", consts: dict | None = None,
               wrt=None, modes=("reverse", "forward"), float32=True, seed=0, **check_options):
    """Check the derivative rules used by ``expr`` (in x, y, z, w: one per shape).

    Builds ``def f(x, ...): return np.sum((<expr>) * W)`` with a fixed random weight ``W``
    shaped like the expression's value, then runs check_grad for every argument in ``wrt``
    (default: all) alone and all together, in each mode, and (``float32=True``) checks that
    the gradient of a float32 array argument is float32. ``consts`` adds fixed globals (index
    arrays, shapes...) to the namespace.
    """
    import srcad
    from srcad.check import check_grad

    args = random_args(arg_shapes, domain, seed)
    names = dict(zip(_ARG_NAMES, args))
    base = {"np": np, "math": math, **(consts or {})}
    shape = np.shape(eval(expr, dict(base), names))
    weight = rng(seed + 1).standard_normal(shape)
    f = _rule_function(expr, len(args), {**base, "W": weight})
    indices = tuple(range(len(args))) if wrt is None else (
        (wrt,) if isinstance(wrt, int) else tuple(wrt))
    for mode in modes:
        for i in indices:
            check_grad(f, *args, wrt=i, mode=mode, seed=seed, **check_options)
        if len(indices) > 1:
            check_grad(f, *args, wrt=indices, mode=mode, seed=seed, **check_options)
    if "reverse" in modes and "forward" in modes:
        check_grad(f, *args, wrt=indices, mode="both", seed=seed, **check_options)
    if float32:
        f32 = _rule_function(expr, len(args), {**base, "W": weight.astype(np.float32)})
        args32 = [np.asarray(a, dtype=np.float32) if isinstance(a, np.ndarray) else a
                  for a in args]
        for i in indices:
            if not isinstance(args32[i], np.ndarray):
                continue
            g = srcad.grad(f32, wrt=i)(*args32)
            assert isinstance(g, np.ndarray) and g.dtype == np.float32, (
                f"gradient of float32 argument {_ARG_NAMES[i]} of {expr!r} is "
                f"{type(g).__name__} {getattr(g, 'dtype', '')}, expected float32")
            assert g.shape == args32[i].shape
    return f


def central_difference(f, args, i, h=1e-6):
    """Central finite differences of ``f`` in argument ``i``: shaped ``f``'s output + the
    argument's shape (a float argument adds no dimension)."""
    x = args[i]
    if isinstance(x, float):
        up, down = list(args), list(args)
        up[i], down[i] = x + h, x - h
        return (f(*up) - f(*down)) / (2 * h)
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = h
        up, down = list(args), list(args)
        up[i], down[i] = x + e, x - e
        cols.append((f(*up) - f(*down)) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(cols[0]) + np.shape(x))


def count_builds(monkeypatch, what=lambda f, spec: f.__name__):
    """A list that records ``what(f, spec)`` for every derivative srcad builds."""
    import srcad.api as api
    calls = []
    real = api.build

    def counting(f, spec, *src):      # src: the Source srcad.grad parsed, if passed
        calls.append(what(f, spec))
        return real(f, spec, *src)
    monkeypatch.setattr(api, "build", counting)
    return calls


def check_second_order(expr: str, arg_shapes, consts: dict | None = None, domain="real",
                       seed=5, rtol=1e-5, atol=1e-7):
    """Second derivatives of ``def f(x, ...): return <expr>`` (a scalar) in its first
    argument, with random arguments of ``arg_shapes`` (see ``check_second_order_of``)."""
    params = ", ".join(_ARG_NAMES[:len(arg_shapes)])
    f = make_function(f"def f({params}):\n    return {expr}\n",
                      {"np": np, "math": math, **(consts or {})})
    check_second_order_of(f, random_args(arg_shapes, domain, seed), seed=seed + 2, rtol=rtol,
                          atol=atol)


def check_second_order_of(f, args, wrt=0, seed=7, rtol=1e-5, atol=1e-6, h=1e-5):
    """The Hessian-vector product of ``f`` in argument ``wrt`` along a random direction, by
    forward over reverse (``srcad.hvp``) and by reverse over reverse, against central
    differences of srcad's gradient."""
    import srcad

    grad = srcad.grad(f, wrt=wrt)
    v = rng(seed).standard_normal(np.shape(args[wrt]))
    v = float(v) if isinstance(args[wrt], float) else v

    def at(t):
        moved = list(args)
        moved[wrt] = args[wrt] + t * v
        return grad(*moved)
    fd = (at(h) - at(-h)) / (2 * h)
    np.testing.assert_allclose(srcad.hvp(f, wrt=wrt)(*args, v), fd, rtol=rtol, atol=atol)
    rr = srcad.autodiff(grad, mode="reverse", wrt=wrt)(*args, seed=v)    # H^T v = H v
    np.testing.assert_allclose(rr, fd, rtol=rtol, atol=atol)


def flat_leaves(tree) -> np.ndarray:
    """The leaves of a container (``srcad.trees``' order) as one float vector."""
    from srcad import trees
    return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in trees.leaves(tree)])


def tree_like(tree, vector):
    """``tree`` with its leaves read from ``vector`` (arrays keep their shapes, floats stay
    floats): the inverse of ``flat_leaves``."""
    from srcad import trees
    out, i = [], 0
    for leaf in trees.leaves(tree):
        n = np.size(leaf)
        piece = vector[i:i + n]
        i += n
        out.append(piece.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else
                   float(piece[0]))
    return trees.rebuild(tree, iter(out))
