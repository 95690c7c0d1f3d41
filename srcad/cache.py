"""Cache: built derivatives per (function, Spec), kept while the function lives; an entry is
used only while it is fresh (same code object, same helper bindings, same rule set)."""
from __future__ import annotations

import threading
import weakref

from . import registry

__all__ = ["Derivative", "lookup", "clear"]


class Derivative:
    """A built derivative: the generated function plus what decides whether it is stale."""

    __slots__ = ("fn", "source", "deps", "version", "code", "params", "extra", "complex",
                 "callables")

    def __init__(self, fn, source, deps, version, code, params, extra, complex=None,
                 callables=None):
        self.fn = fn
        self.source = source
        self.deps = deps
        self.version = version
        self.code = code
        self.params = params
        self.extra = extra      # keyword-only parameters the transformer added (seed, tangents)
        self.complex = complex  # a complex build: complex_values.Facts; a real one: None
        self.callables = callables or {}    # parameter called as a function -> its default

    def fresh(self, f) -> bool:
        """Still valid for ``f``: same code and defaults, same rules, helpers and globals bound
        to the same objects (checked at every call: a few identity tests)."""
        code, defaults, kw = self.code
        if (f.__code__ is not code or f.__defaults__ is not defaults
                or registry._version != self.version or (kw and not _same_kw(f, kw))):
            return False
        for namespace, name, value in self.deps:
            if namespace is None:
                if not _same_function(name, value):
                    return False
            elif namespace.lookup(name) is not value:
                return False
        return True


def _same_kw(f, kw) -> bool:
    now = tuple((f.__kwdefaults__ or {}).items())
    return len(now) == len(kw) and all(ka == kb and va is vb
                                       for (ka, va), (kb, vb) in zip(now, kw))


def _same_function(fn, state) -> bool:
    code, defaults, kw = state
    return fn.__code__ is code and fn.__defaults__ is defaults and (not kw or _same_kw(fn, kw))


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
# Builds run one at a time (re-entrant: a derivative of a derivative builds the inner one
# first): threads asking for the same derivative at once build it once and share it.
_BUILD_LOCK = threading.RLock()


def _cached(target, spec) -> Derivative | None:
    try:
        per_fn = _CACHE.get(target)
    except TypeError:
        return None
    entry = per_fn.get(spec) if per_fn is not None else None
    return entry if entry is not None and entry.fresh(target) else None


def lookup(target, spec, build) -> Derivative:
    """The fresh cached derivative of ``target`` for ``spec``, else ``build(target, spec)``."""
    entry = _cached(target, spec)
    if entry is not None:
        return entry
    with _BUILD_LOCK:
        entry = _cached(target, spec)      # built by another thread while this one waited
        if entry is not None:
            return entry
        entry = build(target, spec)
        try:
            _CACHE.setdefault(target, {})[spec] = entry
        except TypeError:
            pass
        return entry


def clear():
    _CACHE.clear()
