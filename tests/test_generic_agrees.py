"""The generic derivative (what ``srcad.export(f)`` writes and ``srcad.show(f)`` prints without
example arguments) agrees with the derivative a call runs, on both independent user corpora.

The generic variant knows nothing of its arguments' kinds (a list, a dict, an array): it is
built once and must be right for all of them. Calls run variants specialized for their
arguments, so the corpora's own tests never run it; this file does, through the exported
module, executed as a user ships it. A located srcad refusal of the export counts as right;
a raw exception or a different value is a failure.
"""
import ast
import inspect
import warnings

import numpy as np
import pytest

import srcad
import user_corpus
import user_corpus2

# (corpus, name) -> why the exported generic derivative cannot run it
KNOWN: dict = {}


def _flat(t):
    if isinstance(t, dict):
        return np.concatenate([_flat(t[k]) for k in sorted(t)] or [np.zeros(0)])
    if isinstance(t, (list, tuple)):
        return np.concatenate([_flat(v) for v in t] or [np.zeros(0)])
    if hasattr(t, "__dataclass_fields__"):
        return _flat([getattr(t, k) for k in t.__dataclass_fields__])
    return np.ravel(np.asarray(0.0 if t is None else t, dtype=complex))   # None: no derivative


def _programs():
    for p in user_corpus.CASES:
        if p.fn is not None and not (p.bind or p.aux or p.kwargs) and "grad" in p.checks:
            yield "user_corpus", p.id, p.fn, p.wrt, (
                lambda p=p: p.args(np.random.default_rng(0)))
    for p in user_corpus2.CORPUS.values():
        if p.out == "scalar" and not (p.aux or p.kwargs or p.options):
            yield "user_corpus2", p.name, p.fn, p.wrt, p.args


_PROGRAMS = {(corpus, name): rest for corpus, name, *rest in _programs()}


@pytest.mark.parametrize("key", [pytest.param(
    k, marks=pytest.mark.xfail(strict=True, reason=KNOWN[k])) if k in KNOWN else k
    for k in _PROGRAMS], ids="/".join)
def test_the_exported_generic_derivative_agrees_with_the_call(key):
    fn, wrt, make_args = _PROGRAMS[key]
    args = make_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = srcad.grad(fn, wrt=wrt)(*args)
        except Exception:       # noqa: BLE001 - the corpus's own test holds what is known
            return
        try:
            text = srcad.export(fn, wrt=wrt)
        except srcad.SrcadError:
            return              # refused, located: never a wrong derivative
        namespace: dict = {}
        exec(compile(text, f"<exported {key[1]}>", "exec"), namespace)
        name = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)][-1]
        got = namespace[name](*args)
    np.testing.assert_allclose(_flat(got), _flat(expected), rtol=1e-6, atol=1e-9)


_ARRAY_WRT = [k for k, (fn, wrt, make_args) in _PROGRAMS.items()
              if isinstance(wrt, int) and isinstance(make_args()[wrt], np.ndarray)]


@pytest.mark.parametrize("key", _ARRAY_WRT, ids="/".join)
def test_the_exported_generic_tangent_agrees_with_the_gradient(key):
    """Forward mode: the exported generic JVP along a random direction is the gradient's dot
    product with it."""
    fn, wrt, make_args = _PROGRAMS[key]
    args = make_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            g = srcad.grad(fn, wrt=wrt)(*args)
        except Exception:       # noqa: BLE001 - the corpus's own test holds what is known
            return
        try:
            text = srcad.export(fn, mode="forward", wrt=wrt)
        except srcad.SrcadError:
            return
        namespace: dict = {}
        exec(compile(text, f"<exported {key[1]}>", "exec"), namespace)
        name = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)][-1]
        t = np.random.default_rng(1).normal(size=np.shape(args[wrt])).astype(args[wrt].dtype)
        df = namespace[name]
        kwonly = [q for q in inspect.signature(df).parameters.values() if q.kind is q.KEYWORD_ONLY]
        got = df(*args, **{kwonly[-1].name: t}) if kwonly else df(*args, t)   # after defaults
    np.testing.assert_allclose(np.real(got), np.real(np.sum(np.conj(g) * t)) if np.iscomplexobj(
        g) else np.sum(g * t), rtol=1e-6, atol=1e-9)
