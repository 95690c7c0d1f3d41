"""Cache: built derivatives per (function, Spec), kept while the function lives; an entry is
used only while it is fresh (same code object, same helper bindings, same rule set)."""
from __future__ import annotations

import collections
import contextlib
import sys
import threading
import types
import weakref

import numpy as np

from . import emit, registry
from .errors import InternalError, Location, TooDeepError
from .source import AttributeOf, KeysOf, Namespace

__all__ = ["Derivative", "Static", "lookup", "clear"]


class Static:
    """A str argument in a key and a ``Spec`` (``act="relu"``, or a str default the call
    leaves; ``dispatch`` and ``api`` make them): the derivative is built for that value, a
    constant of the build (``table[name]``, ``if mode == 'train':`` decided there), so a
    key holds it by type and value, and the disk cache stores it as the str."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is Static and type(other.obj) is type(self.obj) and \
            other.obj == self.obj

    def __hash__(self):
        return hash(self.obj)

    def __repr__(self):
        return f"Static({self.obj!r})"


class Derivative:
    """A built derivative: the generated function plus what decides whether it is stale."""

    __slots__ = ("fn", "source", "deps", "version", "code", "params", "extra", "complex",
                 "complex_cells", "output", "outputs")

    def __init__(self, fn, source, deps, version, code, params, extra, complex=None):
        self.fn = fn
        self.source = source
        self.deps = deps
        self.version = version
        self.code = code
        self.params = params
        self.extra = extra      # keyword-only parameters the transformer added (seed, tangents)
        self.complex = complex  # a complex build: complex_values.Facts; a real one: None
        self.complex_cells: tuple = ()  # (index, complex?) of the numeric closure cells built for
        self.output = None      # a returned container: its structure (the code returns its leaves)
        self.outputs = None     # what the build proved of the returned values, per item
        # (``optimize.outputs``: an ``Output`` or None), or None: nothing proved

    def fresh(self, f) -> bool:
        """Still valid for ``f``: same code and defaults, same rules, helpers and globals bound
        to the same objects (checked at every call: a few identity tests)."""
        code, defaults, kw = self.code
        if (f.__code__ is not code or f.__defaults__ is not defaults
                or registry._version != self.version or (kw and not _same_kw(f, kw))):
            return False
        if self.complex_cells and _numeric_cells(f) != self.complex_cells:
            return False            # a cell went from real to complex (or back): rebuild
        return all(map(dep_fresh, self.deps))


def dep_fresh(dep) -> bool:
    """Is one dependency of a built derivative (``Derivative.deps``) bound as it was?"""
    namespace, name, value = dep
    if namespace is None:
        return _same_function(name, value)
    if namespace is _PARENT:        # built from generated code: its derivative
        parent = name()
        return parent is not None and value.fresh(parent)
    now = getattr(namespace.obj, name, _MISSING) if type(namespace) is \
        AttributeOf else namespace.lookup(name)      # np.sin; a global, a cell
    return now is value or _same_object(now, value)


_MISSING = object()
_PARENT = object()   # deps namespace of (weakref to a function, the Derivative built from it)


def _same_object(now, then) -> bool:
    """Is ``now`` what ``then`` was? A bound method (``model.predict``, ``rng.normal``) is a
    new object at each attribute read: the same function bound to the same object."""
    return type(now) is type(then) and isinstance(now, (types.MethodType,
                                                        types.BuiltinMethodType)) and \
        now.__self__ is then.__self__ and getattr(now, "__func__", now.__name__) is \
        getattr(then, "__func__", then.__name__)


def _same_kw(f, kw) -> bool:
    now = tuple((f.__kwdefaults__ or {}).items())
    return len(now) == len(kw) and all(ka == kb and va is vb
                                       for (ka, va), (kb, vb) in zip(now, kw))


def _same_function(fn, state) -> bool:
    code, defaults, kw = state
    return fn.__code__ is code and fn.__defaults__ is defaults and (not kw or _same_kw(fn, kw))


# Where a function's derivatives live: in its own ``__dict__`` (an entry refers to the
# function's globals, which refer to the function: held from a module-level table, the
# function would never die), else (a callable without one) in a weak-keyed table.
_ATTR = "__srcad_derivatives__"
_MAX_PER_FUNCTION = 512      # Specs (argument-shape patterns included) kept per function
_FALLBACK: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_generation = 0              # clear() makes every stored table count as empty
# Builds run one at a time (re-entrant: a derivative of a derivative builds the inner one
# first): threads asking for the same derivative at once build it once and share it.
_BUILD_LOCK = threading.RLock()


class _Entries(dict):
    """Spec -> Derivative for one function."""

    __slots__ = ("owner", "generation")
    owner: weakref.ref
    generation: int

    def __reduce__(self):
        return (_Entries, ())      # copied or pickled with the function: empty


def _entries(target, create: bool) -> _Entries | None:
    attrs = getattr(target, "__dict__", None)
    if type(attrs) is dict:
        per_fn = attrs.get(_ATTR)
        if type(per_fn) is _Entries and getattr(per_fn, "generation", None) == _generation \
                and per_fn.owner() is target:  # not a copy functools.wraps made of __dict__
            return per_fn
    else:
        try:
            per_fn = _FALLBACK.get(target)
        except TypeError:
            return None
        if per_fn is not None and per_fn.generation == _generation:
            return per_fn
    if not create:
        return None
    per_fn = _Entries()
    per_fn.owner, per_fn.generation = weakref.ref(target), _generation
    if type(attrs) is dict:
        attrs[_ATTR] = per_fn
    else:
        _FALLBACK[target] = per_fn
    return per_fn


def _cached(target, spec) -> Derivative | None:
    try:
        per_fn = _entries(target, False)
    except TypeError:          # no weak reference to it: nothing is cached
        return None
    entry = per_fn.get(spec) if per_fn is not None else None
    return entry if entry is not None and entry.fresh(target) else None


def lookup(target, spec, build) -> Derivative:
    """The fresh cached derivative of ``target`` for ``spec``, else ``build(target, spec)``."""
    entry = _cached(target, spec)
    if entry is not None:
        return entry
    with _BUILD_LOCK if not getattr(_DELEGATE, "active", False) else _NO_LOCK:
        entry = _cached(target, spec)      # built by another thread while this one waited
        if entry is not None:
            return entry
        entry = _shared(target, spec)
        if entry is None:
            entry = _build(build, target, spec)
            parent = getattr(target, "__srcad_built__", None)
            if parent is not None:     # generated code: stale when the derivative it is is
                entry.deps += ((_PARENT, parent[0], parent[1]),)
            else:
                _share(target, spec, entry)
        entry.fn.__srcad_built__ = (weakref.ref(target), entry)
        entry.complex_cells = _numeric_cells(target)
        try:
            per_fn = _entries(target, True)
        except TypeError:
            return entry
        if per_fn is None:
            return entry
        if len(per_fn) >= _MAX_PER_FUNCTION and spec not in per_fn:
            del per_fn[next(iter(per_fn))]          # the oldest
        per_fn[spec] = entry
        return entry


# Closures made by one `def` (thousands of short-lived ones, `make(k)` in a loop) share one
# build: the derivative of another function with the same code, globals and no defaults is
# compiled again over the new function's closure cells, once every dependency the build read
# through the first function's names resolves to the same object through the new one's.
# Held strongly, so bounded; an entry keeps the code's globals and helpers, never the cells.
_MAX_SHARED = 256
_SHARED: collections.OrderedDict = collections.OrderedDict()


def _main_namespace(target):
    """``(globals, cells)`` a Namespace of ``target`` itself has."""
    return target.__globals__, dict(zip(target.__code__.co_freevars, target.__closure__ or ()))


def _share(target, spec, entry):
    if not isinstance(target, types.FunctionType) or target.__defaults__ or \
            target.__kwdefaults__ or not target.__closure__:
        return
    globals_, cells = _main_namespace(target)
    mine = tuple(i for i, (namespace, _, _) in enumerate(entry.deps)
                 if isinstance(namespace, Namespace) and namespace.globals is globals_
                 and namespace.cells.keys() == cells.keys()
                 and all(namespace.cells[k] is c for k, c in cells.items()))
    if len(_SHARED) >= _MAX_SHARED:
        _SHARED.popitem(last=False)
    _SHARED[(target.__code__, spec)] = (entry, globals_, mine, _cell_kinds(cells))


def _numeric_cells(f) -> tuple:
    """``(index, complex?)`` of the closure cells of ``f`` holding numbers or inexact arrays:
    the build decided from them which values are complex, so a cell changing between real and
    complex makes the derivative stale (its values alone are read at each call)."""
    out = []
    for i, cell in enumerate(getattr(f, "__closure__", None) or ()):
        try:
            value = cell.cell_contents
        except ValueError:                     # an empty cell
            continue
        if isinstance(value, (float, complex, np.inexact)) or (
                isinstance(value, np.ndarray) and value.dtype.kind in "fc"):
            out.append((i, np.iscomplexobj(value)))
    return tuple(out)


def _cell_kinds(cells: dict) -> tuple:
    """What a build may have read of closure cells besides the objects it resolved: the
    types of their values (and dtypes, and those of a list's or tuple's items)."""
    def kind(value):
        if isinstance(value, (list, tuple)):
            return type(value), tuple(map(kind, value[:64])), len(value) > 64
        return type(value), getattr(value, "dtype", None)
    out = []
    for name, cell in sorted(cells.items()):
        try:
            out.append((name, kind(cell.cell_contents)))
        except ValueError:                     # an empty cell
            out.append((name, None))
    return tuple(out)


def _shared(target, spec) -> Derivative | None:
    if not isinstance(target, types.FunctionType) or target.__defaults__ or \
            target.__kwdefaults__ or not target.__closure__:
        return None
    found = _SHARED.get((target.__code__, spec))
    if found is None:
        return None
    entry, globals_, mine, kinds = found
    if target.__globals__ is not globals_ or registry._version != entry.version or any(
            type(namespace) is KeysOf for namespace, _, _ in entry.deps):
        return None             # keys read through the other closure's cells: built anew
    namespace = Namespace(target)
    if _cell_kinds(namespace.cells) != kinds:   # a complex value where a real one was: the
        return None                             # build looked at the values it reads
    deps = list(entry.deps)
    for i in mine:
        _, name, value = deps[i]
        now = namespace.lookup(name)
        if now is not value and not _same_object(now, value):
            return None
        deps[i] = (namespace, name, value)
    others = Derivative(entry.fn, entry.source, tuple(d for i, d in enumerate(deps)
                                                      if i not in mine), entry.version,
                        entry.code, entry.params, entry.extra)
    if not others.fresh(target):
        return None
    fn = emit.rebind(entry.fn, namespace.cells, target.__globals__)
    shared = Derivative(fn, entry.source, tuple(deps), entry.version, entry.code, entry.params,
                        entry.extra, entry.complex)
    shared.output = entry.output
    shared.outputs = entry.outputs
    return shared


# Deep user code (a 180-deep expression, thousands of statements) or a build asked for deep
# in the caller's stack: the recursive passes hit the recursion limit. The build is retried
# once in a thread of its own, with a large stack and a higher limit (Python's limit is
# process-wide: raised only while that build runs); failing again, it is the user's located
# TooDeepError. The waiting thread holds _BUILD_LOCK; the worker builds on its behalf.
_DEEP_LIMIT = 30000
_DEEP_STACK = 512 * 1024 * 1024
_DELEGATE = threading.local()
_NO_LOCK = contextlib.nullcontext()


def _build(build, target, spec) -> Derivative:
    try:
        return build(target, spec)
    except (RecursionError, InternalError) as exc:
        if not isinstance(exc, RecursionError) and not isinstance(exc.__cause__,
                                                                  RecursionError):
            raise
    outcome: dict = {}

    def deep():
        _DELEGATE.active = True
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _DEEP_LIMIT))
        try:
            outcome["entry"] = build(target, spec)
        except BaseException as exc:            # handed to the waiting thread
            outcome["error"] = exc
        finally:
            sys.setrecursionlimit(limit)
    with _STACK_LOCK:
        size = threading.stack_size(_DEEP_STACK)
        try:
            worker = threading.Thread(target=deep, name="srcad deep build")
            worker.start()
        finally:
            threading.stack_size(size)
    worker.join()
    error = outcome.get("error")
    if error is None:
        return outcome["entry"]
    if isinstance(error, RecursionError) or isinstance(error.__cause__, RecursionError):
        code = getattr(target, "__code__", None)
        raise TooDeepError(
            f"{getattr(target, '__qualname__', target)} nests too deeply for srcad to build "
            f"its derivative (even with a recursion limit of {_DEEP_LIMIT})",
            Location(code.co_filename, code.co_firstlineno) if code else None,
            "Split a deeply nested expression into named steps (t = np.sin(x); u = "
            "np.sin(t)), and a very long function into helpers.") from None
    raise error


_STACK_LOCK = threading.Lock()


def clear():
    global _generation
    _generation += 1
    _FALLBACK.clear()
