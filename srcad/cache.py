"""Cache: built derivatives per (function, Spec), kept while the function lives; an entry is
used only while it is fresh (same code object, same helper bindings, same rule set)."""
from __future__ import annotations

import weakref

from . import registry
from .source import function_state

__all__ = ["Derivative", "lookup", "clear"]


class Derivative:
    """A built derivative: the generated function plus what decides whether it is stale."""

    __slots__ = ("fn", "source", "deps", "version", "code", "params", "extra")

    def __init__(self, fn, source, deps, version, code, params, extra):
        self.fn = fn
        self.source = source
        self.deps = deps
        self.version = version
        self.code = code
        self.params = params
        self.extra = extra      # keyword-only parameters the transformer added (seed, tangents)

    def fresh(self, f) -> bool:
        if not _same(function_state(f), self.code) or registry.version() != self.version:
            return False
        for namespace, name, value in self.deps:
            if namespace is None:
                if not _same(function_state(name), value):
                    return False
            elif namespace.lookup(name) is not value:
                return False
        return True


def _same(a: tuple, b: tuple) -> bool:
    code_a, defaults_a, kw_a = a
    code_b, defaults_b, kw_b = b
    return (code_a is code_b and defaults_a is defaults_b and len(kw_a) == len(kw_b)
            and all(ka == kb and va is vb for (ka, va), (kb, vb) in zip(kw_a, kw_b)))


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def lookup(target, spec, build) -> Derivative:
    """The fresh cached derivative of ``target`` for ``spec``, else ``build(target, spec)``."""
    try:
        per_fn = _CACHE.get(target)
    except TypeError:
        per_fn = None
    if per_fn is not None:
        entry = per_fn.get(spec)
        if entry is not None and entry.fresh(target):
            return entry
    entry = build(target, spec)
    try:
        _CACHE.setdefault(target, {})[spec] = entry
    except TypeError:
        pass
    return entry


def clear():
    _CACHE.clear()
