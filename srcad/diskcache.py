"""Disk cache: derivatives built in one process served to the next, from a private per-user
directory, only once everything the build read is found again and matches its fingerprint.

Invariants:

* An entry is found by a first-level key known before any build: the function's source text
  (as the build would read it now), a digest of its code object, its defaults, the kinds of
  the names its code reads (module, builtin, complex value or not), the ``Spec``, the
  versions of srcad, Python and NumPy, a digest of srcad's own files (its templates
  included) and of the rules the user registered. What only the build learns (the helpers,
  globals, closure cells and attributes it resolved: ``Derivative.deps``, and the objects the
  generated code is bound to: ``Program.refs``) is stored in the entry as a description of
  where to find each again (the function's own namespace by name, a helper's namespace, an
  attribute of another dependency, a module, an importable library object, a literal
  constant) with a fingerprint of what was found (a Python function: its code, source text,
  defaults and the kinds of the names it reads; a library object: its import path; a
  constant: its value). Loading resolves every description again and compares every
  fingerprint; only then is the stored source, srcad's own generated code, compiled. Any
  mismatch, a missing object or anything unreadable is a miss: the derivative is built
  again and the entry overwritten. A build reading anything this cannot describe (a bound
  method, an object of a user class, a large array, a complex build, a derivative of
  generated code, the numba backend) is not stored.
* Nothing but JSON is read from disk (no pickle: loading never runs code of the file's
  choosing beyond the generated function's definition, and the file must be the user's own).
* The directory (``SRCAD_CACHE_DIR``, else ``$XDG_CACHE_HOME/srcad`` or ``~/.cache/srcad``)
  is created with mode 0700; an entry is a regular file the user owns, unreadable and
  unwritable by others, holding a SHA-256 of its body; a directory or entry not meeting this
  is ignored (never read, never written into). Writes go to a temporary file in the same
  directory, then ``os.replace``: concurrent writers from several processes each leave a
  whole entry, and a reader sees a whole entry or none. Past 4096 entries the least
  recently used (a load touches its entry) quarter is removed.
* ``SRCAD_CACHE=0`` turns it off; any failure inside it is a miss, never an error of the
  user's call.
"""
from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import json
import linecache
import logging
import os
import stat
import sys
import tempfile
import time
import types
from collections.abc import Callable

import numpy as np

from . import emit, registry
from .cache import Derivative, Static
from .source import (_LIBRARY_ROOTS, UNRESOLVED, AttributeOf, Namespace, _is_user_function,
                     function_state)
from .trees import is_complex_value
from . import parsing

__all__ = ["enabled", "directory", "load", "store", "stored", "forget"]

log = logging.getLogger("srcad")

_FORMAT = 1                       # bumped when the entry layout changes
_MAGIC = b"srcad-cache"
_MAX_ENTRY = 8 << 20              # bytes: a larger file is not an entry srcad wrote
_MAX_ARRAY = 1 << 20              # bytes: a larger array read at build time is not stored
_MAX_ITEMS = 4096                 # items of a list or tuple constant


class _Unstorable(Exception):
    """The build read something the cache cannot find again or fingerprint."""


class _Mismatch(Exception):
    """An entry's description no longer resolves to what the build saw."""


# -- switches and the directory -------------------------------------------------------------

def enabled() -> bool:
    """Is the disk cache on (``SRCAD_CACHE``: ``0`` off, ``1`` on, unset: the default)?"""
    value = os.environ.get("SRCAD_CACHE", "")
    return value != "0" if value else DEFAULT_ON


DEFAULT_ON = True


def directory() -> str:
    """Where entries live (not created here)."""
    path = os.environ.get("SRCAD_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        path = os.path.join(base, "srcad")
    return os.path.abspath(path)


_warned: set = set()
# None where there is no owner to check (Windows): no cache there
_getuid: Callable[[], int] | None = getattr(os, "getuid", None)
# after srcad.clear_cache(): the keys this process has written since, the only ones it reads
_written_since_clear: set | None = None


def forget() -> None:
    """``srcad.clear_cache()``: entries written before now are not read by this process
    (each is rebuilt, and overwritten, on its next use)."""
    global _written_since_clear
    _written_since_clear = set()


def _private_dir(create: bool) -> str | None:
    """The cache directory if it is the user's own and private (created 0700 if asked),
    else None (and a warning, once per directory)."""
    path = directory()
    if _getuid is None:
        return None
    try:
        if create and not os.path.isdir(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode) and st.st_uid == _getuid() and not st.st_mode & 0o077:
        return path
    if path not in _warned:
        _warned.add(path)
        log.warning("srcad: the disk cache directory %s is not a directory only you can "
                    "read and write (mode %o, owner %d); it is not used", path,
                    stat.S_IMODE(st.st_mode), st.st_uid)
    return None


# -- fingerprints ---------------------------------------------------------------------------

def _code_digest(code: types.CodeType, h) -> None:
    """What ``code`` runs and where it says it is (names, constants, line table), nested
    code objects included."""
    h.update(code.co_code)
    h.update(code.co_linetable)
    h.update(repr((code.co_name, getattr(code, "co_qualname", ""), code.co_filename,
                   code.co_firstlineno, code.co_argcount, code.co_posonlyargcount,
                   code.co_kwonlyargcount, code.co_flags, code.co_names, code.co_varnames,
                   code.co_freevars, code.co_cellvars)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(_const_text(const).encode())


def _const_text(const) -> str:
    if isinstance(const, frozenset):             # its order depends on string hashing
        return "frozenset" + repr(sorted(map(_const_text, const)))
    if isinstance(const, tuple):
        return "(" + ",".join(map(_const_text, const)) + ")"
    return f"{type(const).__name__}:{const!r}"


def _names_of(code: types.CodeType, out: dict) -> dict:
    """The global, builtin and free names ``code`` (and the code nested in it) reads."""
    for name in code.co_names + code.co_freevars:
        out[name] = None
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _names_of(const, out)
    return out


def _kind(name: str, value) -> list:
    """What a build may have read of a name the generated code reads at call time: whether
    it is bound, a module, the builtin of that name, and whether it holds complex values."""
    if value is UNRESOLVED:
        return ["-"]
    if value is getattr(builtins, name, UNRESOLVED):
        return ["b"]
    if isinstance(value, types.ModuleType):
        return ["m", value.__name__]
    t = type(value)
    return ["v", t.__module__, t.__qualname__, bool(is_complex_value(value))]


def _name_kinds(fn, namespace: Namespace) -> list:
    return [[name, _kind(name, namespace.lookup(name))]
            for name in sorted(_names_of(fn.__code__, {}))]


def _source_lines(fn) -> list:
    """The lines of ``fn``'s file its code spans now (from its first line, decorators
    included, to the last line any of its instructions covers): an edit there that a build
    would see changes the key, and no entry has a text that does not compile to its code
    (a build refuses those). Read through linecache, as the build reads them."""
    code = fn.__code__
    linecache.checkcache(code.co_filename)     # as inspect does: an edited file is read anew
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        raise _Unstorable("no source")
    last = _last_line(code)
    if not code.co_firstlineno <= last <= len(lines):
        raise _Unstorable("the file is shorter than the code")
    return lines[code.co_firstlineno - 1:last]


def _last_line(code: types.CodeType) -> int:
    last = code.co_firstlineno
    positions = getattr(code, "co_positions", None)     # Python 3.11: with end lines
    ends = (p[1] for p in positions()) if positions is not None else \
        (line for _, _, line in code.co_lines())
    for end in ends:
        if end is not None and end > last:
            last = end
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


def _function_fp(fn: types.FunctionType, lines=None) -> list:
    """A Python function whose source srcad reads: its code, its current source text (a
    text that no longer compiles to the code is refused by a build, so it must miss), its
    defaults and the kinds of the names it reads."""
    if getattr(fn, "__srcad_current__", None) is not None or \
            getattr(fn, "__srcad_source__", None) is not None or \
            getattr(fn, "__srcad_filename__", None) is not None:
        raise _Unstorable("srcad's own generated code")
    h = hashlib.sha256()
    _code_digest(fn.__code__, h)
    h.update("".join(_source_lines(fn) if lines is None else lines).encode())
    return ["f", fn.__module__, fn.__qualname__, h.hexdigest(),
            _fp(fn.__defaults__), _fp(sorted((fn.__kwdefaults__ or {}).items())),
            _name_kinds(fn, Namespace(fn))]


def _path_of(value) -> tuple[str, str] | None:
    """``(module, qualname)`` that finds ``value`` again (``numpy.sin``,
    ``srcad.runtime.unbroadcast``), or None."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    candidates = [(module, qualname)]
    if isinstance(value, np.ufunc):
        candidates += [("numpy", value.__name__), ("scipy.special", value.__name__)]
    for module, qualname in candidates:
        if isinstance(module, str) and isinstance(qualname, str) and \
                _follow(module, qualname) is value:
            return module, qualname
    return None


def _follow(module: str, qualname: str):
    obj = sys.modules.get(module, UNRESOLVED)
    for part in qualname.split("."):
        if obj is UNRESOLVED or part == "<locals>":
            return UNRESOLVED
        obj = getattr(obj, part, UNRESOLVED)
    return obj


_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def _fp(value, depth: int = 0) -> list:
    """A fingerprint of an object the build resolved: equal fingerprints in two processes
    mean a build would have written the same code."""
    t = type(value)
    if t in _SCALARS:
        return ["c", t.__name__, repr(value)]
    if depth > 8:
        raise _Unstorable("nested too deeply")
    if t is tuple or t is list:
        if len(value) > _MAX_ITEMS:
            raise _Unstorable("a long sequence")
        return ["t" if t is tuple else "l", [_fp(v, depth + 1) for v in value]]
    if t is types.ModuleType:
        return ["m", value.__name__]
    if t is np.ndarray:
        if value.dtype.hasobject or value.nbytes > _MAX_ARRAY:
            raise _Unstorable("an object or large array")
        return ["a", value.dtype.str, list(value.shape), hashlib.blake2b(
            np.ascontiguousarray(value).tobytes(), digest_size=16).hexdigest()]
    if isinstance(value, np.generic) and not value.dtype.hasobject:
        return ["g", value.dtype.str, value.tobytes().hex()]
    if t is types.FunctionType and _is_user_function(value):
        return _function_fp(value)
    if t is functools.partial:
        return ["p", _fp(value.func, depth + 1), _fp(value.args, depth + 1),
                _fp(sorted(value.keywords.items()), depth + 1)]
    path = _library_path(value)
    if path is None:        # an object of the user's (its attributes may have been read)
        raise _Unstorable(f"an object of type {t.__qualname__}")
    return ["o", t.__module__, t.__qualname__, *path]


def _library_path(value) -> tuple[str, str] | None:
    """``_path_of(value)`` if that is in srcad, a builtin module, the standard library or
    an installed one (what srcad never reads the source of), else None."""
    path = _path_of(value)
    if path is None:
        return None
    module = path[0]
    if module == "srcad" or module.startswith("srcad."):
        return path
    filename = getattr(sys.modules.get(module), "__file__", None)
    return path if not filename or os.path.realpath(filename).startswith(_LIBRARY_ROOTS) \
        else None


# -- the first-level key --------------------------------------------------------------------

_static: list = []


def _static_digest() -> str:
    """srcad's, Python's and NumPy's versions and srcad's own files (size and modification
    time of each, its templates included): computed once per process."""
    if not _static:
        from . import __version__
        h = hashlib.sha256(repr((_FORMAT, __version__, sys.version, sys.implementation.name,
                                 np.__version__)).encode())
        root = os.path.dirname(os.path.abspath(__file__))
        for folder, dirs, files in os.walk(root, followlinks=True):   # templates: a link
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    st = os.stat(path)
                    h.update(f"{os.path.relpath(path, root)}:{st.st_size}:"
                             f"{st.st_mtime_ns}\n".encode())
        _static.append(h.hexdigest())
    return _static[0]


def _spec_text(spec) -> str:
    import dataclasses
    return json.dumps([[f.name, _plain(getattr(spec, f.name))]
                       for f in dataclasses.fields(spec)])


def _plain(value, depth: int = 0):
    """A Spec field as JSON: numbers, strings, sequences, types and dtypes by name."""
    t = type(value)
    if t in (type(None), bool, int, float, str):
        return [t.__name__, value]
    if depth > 16:
        raise _Unstorable("a deep spec")
    if t is tuple or t is list or t is frozenset:
        items = sorted(value, key=repr) if t is frozenset else value
        return [t.__name__, [_plain(v, depth + 1) for v in items]]
    if isinstance(value, np.dtype):
        return ["dtype", value.str]
    if t is Static:             # a str argument the derivative is built for
        return ["static", _plain(value.obj, depth + 1)]
    if isinstance(value, type):
        return ["type", value.__module__, value.__qualname__]
    raise _Unstorable(f"a Spec holding {t.__qualname__}")


def _key(fn: types.FunctionType, spec, lines) -> str:
    h = hashlib.sha256()
    h.update(_static_digest().encode())
    h.update(registry.user_digest().encode())
    h.update(_spec_text(spec).encode())
    h.update(json.dumps(_function_fp(fn, lines)).encode())
    return h.hexdigest()


def _storable_target(fn, spec) -> bool:
    return type(fn) is types.FunctionType and spec.backend == "python" and \
        getattr(fn, "__srcad_built__", None) is None and \
        not fn.__code__.co_filename.startswith("<srcad ")


# -- store ----------------------------------------------------------------------------------

def store(fn, spec, src, program, entry: Derivative, names) -> None:
    """Write ``entry`` (just built from ``src`` and ``program`` for ``fn``) to the cache, if
    everything it depends on can be described; ``names``: the names its code reads."""
    if not enabled() or not _storable_target(fn, spec) or src.fn is not fn or \
            entry.complex is not None or entry.output is not None or spec.called or any(
                type(passed) is not Static for _, passed in spec.callables):
        return                  # (functions passed as values are keyed by identity)
    try:
        body = _describe(fn, spec, src, program, entry, names)
    except _Unstorable as exc:
        log.debug("srcad: %s not stored in the disk cache: %s", fn.__qualname__, exc)
        return
    except Exception:           # the cache never fails a build
        log.debug("srcad: disk cache store failed", exc_info=True)
        return
    _write(body["key"], body)


def _describe(fn, spec, src, program, entry, names) -> dict:
    deps = list(entry.deps)
    namespaces: list = []
    ns_index: dict = {}

    def value_index(obj) -> int:
        for i, (_, _, value) in enumerate(deps):
            if value is obj:
                return i
        raise _Unstorable("a namespace no dependency leads to")

    def namespace(ns) -> int:
        if id(ns) in ns_index:
            return ns_index[id(ns)]
        where: list
        if ns is src.namespace:
            where = ["main"]
        else:
            owner = ns.owner() if ns.owner is not None else None
            if owner is None:
                raise _Unstorable("a namespace of no function")
            where = ["fn", value_index(owner)]
        imports = {}
        for name, module in ns.imports.items():
            if not isinstance(module, types.ModuleType) or \
                    sys.modules.get(module.__name__) is not module:
                raise _Unstorable("an import of no module")
            imports[name] = module.__name__
        ns_index[id(ns)] = len(namespaces)
        namespaces.append(where + [imports])
        return ns_index[id(ns)]

    described: list = []
    for ns, name, value in deps:
        if ns is None:
            described.append([["state", value_index(name)], None, None])
        elif type(ns) is AttributeOf:
            described.append([["attr", value_index(ns.obj)], name, _fp(value)])
        elif isinstance(ns, Namespace):
            if not isinstance(name, str):
                raise _Unstorable("a dependency without a name")
            described.append([["ns", namespace(ns)], name, _fp(value)])
        else:
            raise _Unstorable("a dependency on another derivative")
    refs = {}
    for name, value in program.refs.items():
        if name not in names:
            continue
        refs[name] = _describe_ref(value, deps)
    body = {
        "format": _FORMAT, "key": _key(fn, spec, _built_lines(fn, src)), "name": entry.fn.__name__,
        "source": entry.source, "params": list(entry.params), "extra": list(entry.extra),
        "origins": [[k, f, n] for k, (f, n) in sorted(entry.fn.__srcad_origins__.items())],
        "namespaces": namespaces, "deps": described, "refs": refs,
        "outputs": None if entry.outputs is None else [
            None if fact is None else [[d if d == 1 else list(d) for d in fact[0]],
                                       sorted(fact[1])] for fact in entry.outputs],
    }
    json.dumps(body)            # everything in it is JSON (a _Unstorable otherwise)
    return body


def _built_lines(fn, src) -> list:
    """``_source_lines(fn)`` as the build read them (its text was checked against the
    code), not as the file may be by now."""
    code = fn.__code__
    count = _last_line(code) - code.co_firstlineno + 1
    if src.first_line != code.co_firstlineno or len(src.lines) < count:
        raise _Unstorable("the source read is not the code's span")
    return src.lines[:count]


def _describe_ref(value, deps) -> list:
    for i, (_, _, dep_value) in enumerate(deps):
        if dep_value is value:
            return ["dep", i]
    if type(value) in _SCALARS and type(value) is not bytes:
        return ["const", _const_json(value)]
    if type(value) is tuple and all(type(v) in (bool, int, float, str, type(None))
                                    for v in value):
        return ["const", ["tuple", [_const_json(v) for v in value]]]
    if isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is value:
        return ["module", value.__name__]
    path = _library_path(value)
    if path is not None:
        return ["path", *path]
    raise _Unstorable(f"a reference to an object of type {type(value).__qualname__}")


def _const_json(value):
    if type(value) is complex:
        return ["complex", value.real, value.imag]
    if type(value) is float:
        return ["float", repr(value)]       # inf and nan too
    return [type(value).__name__, value]


def _const_value(item):
    kind, value = item[0], item[1]
    if kind == "complex":
        return complex(item[1], item[2])
    if kind == "float":
        return float(value)
    if kind == "tuple":
        return tuple(_const_value(v) for v in value)
    if kind == "NoneType":
        return None
    if kind in ("bool", "int", "str") and type(value).__name__ == kind:
        return value
    raise _Mismatch("a constant of no known kind")


def _write(key: str, body: dict) -> None:
    path = _private_dir(create=True)
    if path is None:
        return
    data = json.dumps(body, sort_keys=True).encode()
    blob = _MAGIC + b" " + hashlib.sha256(data).hexdigest().encode() + b"\n" + data
    _prune_now(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_TMP, suffix=".tmp", dir=path)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:          # mkstemp: mode 0600, ours
            out.write(blob)
        target = os.path.join(path, key + ".json")
        # the old entry goes first: ext4 flushes a file renamed over another (8 ms), and a
        # reader in between finds no entry (a miss), never part of one
        _unlink(target)
        os.replace(tmp, target)
        if _written_since_clear is not None:
            _written_since_clear.add(key)
    except OSError:
        _unlink(tmp)


_TMP = ".tmp-"
_MAX_ENTRIES = 4096          # past this, the least recently used quarter goes
_PRUNE_EVERY = 64            # writes of a process between two looks (the first write looks)
_writes = 0


def _prune_now(path: str) -> None:
    global _writes
    _writes += 1
    if _writes % _PRUNE_EVERY == 1 or _PRUNE_EVERY == 1:
        try:
            _prune(path)
        except OSError:
            pass


def _prune(path: str) -> None:
    """Keep the directory bounded: past ``_MAX_ENTRIES`` entries the least recently used
    (their modification time: a load touches it) go, down to three quarters; so do
    temporary files a writer that crashed left (an hour old)."""
    now = time.time()
    entries = []
    with os.scandir(path) as found:
        for item in found:
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if item.name.startswith(_TMP):
                if now - st.st_mtime > 3600:
                    _unlink(item.path)
            elif item.name.endswith(".json"):
                entries.append((st.st_mtime, item.path))
    if len(entries) > _MAX_ENTRIES:
        entries.sort()
        for _, old in entries[:len(entries) - _MAX_ENTRIES * 3 // 4]:
            _unlink(old)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- load -----------------------------------------------------------------------------------

def load(fn, spec) -> Derivative | None:
    """The derivative of ``fn`` for ``spec`` from the cache, if an entry is there and
    everything it was built from is found again unchanged; else None."""
    if not enabled() or not _storable_target(fn, spec):
        return None
    try:
        key = _key(fn, spec, _source_lines(fn))
    except _Unstorable:
        return None
    except Exception:
        log.debug("srcad: disk cache key failed", exc_info=True)
        return None
    body = _read(key)
    if body is None:
        return None
    try:
        return _restore(fn, body)
    except (_Mismatch, _Unstorable):
        return None
    except Exception:            # a damaged entry: rebuilt (and overwritten)
        log.debug("srcad: disk cache entry %s unusable", key, exc_info=True)
        return None


def stored(fn, spec) -> bool:
    """Is there an entry for ``fn`` and ``spec`` (perhaps stale: ``load`` checks it)?"""
    if not enabled() or not _storable_target(fn, spec):
        return False
    try:
        path = _private_dir(create=False)
        if path is None:
            return False
        key = _key(fn, spec, _source_lines(fn))
        return (_written_since_clear is None or key in _written_since_clear) and \
            os.path.isfile(os.path.join(path, key + ".json"))
    except Exception:
        return False


def _read(key: str) -> dict | None:
    path = _private_dir(create=False)
    if path is None or (_written_since_clear is not None and key not in
                        _written_since_clear):
        return None
    try:
        fd = os.open(os.path.join(path, key + ".json"), os.O_RDONLY | getattr(
            os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if _getuid is None or not stat.S_ISREG(st.st_mode) or st.st_uid != _getuid() or \
                st.st_mode & 0o077 or st.st_size > _MAX_ENTRY:
            return None          # not a file srcad wrote for this user
        if os.utime in os.supports_fd:
            os.utime(fd)               # used now: the last to be pruned
        with os.fdopen(fd, "rb") as f:
            fd = -1
            blob = f.read(_MAX_ENTRY + 1)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    head, _, data = blob.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 2 or parts[0] != _MAGIC or \
            hashlib.sha256(data).hexdigest().encode() != parts[1]:
        return None              # truncated or damaged
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if type(body) is not dict or body.get("format") != _FORMAT or body.get("key") != key:
        return None
    return body


def _restore(fn, body) -> Derivative:
    main = Namespace(fn)
    built_namespaces: dict = {}
    values: dict = {}
    deps_out: dict = {}
    attributes: dict = {}
    described = body["deps"]
    visiting: set = set()

    def dep(i: int):
        """``(namespace, name, value)`` of dependency ``i``, resolved now and checked."""
        if i in deps_out:
            return deps_out[i]
        if i in visiting or not 0 <= i < len(described):
            raise _Mismatch("a dependency cycle")
        visiting.add(i)
        where, name, fp = described[i]
        out: tuple
        if where[0] == "state":
            target = dep(where[1])[2]
            if type(target) is not types.FunctionType:
                raise _Mismatch("a state of no function")
            out = (None, target, function_state(target))
        elif where[0] == "attr":
            obj = dep(where[1])[2]
            holder = attributes.get(id(obj))
            if holder is None:
                holder = attributes[id(obj)] = AttributeOf(obj)
            out = (holder, name, _checked(getattr(obj, name, UNRESOLVED), fp))
        elif where[0] == "ns":
            ns = namespace(where[1])
            out = (ns, name, _checked(ns.lookup(name), fp))
        else:
            raise _Mismatch("an unknown dependency")
        deps_out[i] = out
        return out

    def namespace(k: int) -> Namespace:
        if k in built_namespaces:
            return built_namespaces[k]
        where = body["namespaces"][k]
        if where[0] == "main":
            ns = main
        else:
            owner = dep(where[1])[2]
            if type(owner) is not types.FunctionType:
                raise _Mismatch("a namespace of no function")
            ns = Namespace(owner)
        for name, module in where[-1].items():
            found = sys.modules.get(module)
            if found is None:
                raise _Mismatch("a module not imported")
            ns.imports[name] = found
        built_namespaces[k] = ns
        return ns

    deps = tuple(dep(i) for i in range(len(described)))
    namespace_dict = {}
    for name, ref in body["refs"].items():
        namespace_dict[name] = _resolve_ref(ref, deps)
    source, name = body["source"], body["name"]
    tree = parsing.parse(source)
    loaded = _checked_names(tree, name)
    generated = emit.GeneratedNamespace(namespace_dict, main.cells, main.globals)
    for key, value in main.globals.items():
        if isinstance(value, types.ModuleType):
            generated.setdefault(key, value)
    for ident in sorted(loaded):     # as api.build binds them (each is among the deps)
        if (ident not in generated and ident not in main.cells
                and ident not in main.globals and hasattr(builtins, ident)):
            generated[ident] = getattr(builtins, ident)
    fn_out = emit.compile_function(source, name, generated, tree)
    fn_out.__srcad_origins__ = {int(k): (f, int(n)) for k, f, n in body["origins"]}
    fn_out.__srcad_complex__ = frozenset()
    entry = Derivative(fn_out, source, deps, registry._version, function_state(fn),
                       list(body["params"]), tuple(body["extra"]), None)
    facts = body.get("outputs")
    entry.outputs = None if facts is None else tuple(
        None if fact is None else (tuple(d if d == 1 else tuple(d) for d in fact[0]),
                                   frozenset(fact[1])) for fact in facts)
    return entry


def _checked(value, fp):
    if value is UNRESOLVED:
        raise _Mismatch("unbound")
    if _fp(value) != fp:
        raise _Mismatch("changed")
    return value


def _resolve_ref(ref, deps):
    kind = ref[0]
    if kind == "dep":
        return deps[ref[1]][2]
    if kind == "const":
        return _const_value(ref[1])
    if kind == "module":
        found = sys.modules.get(ref[1])
        if found is None:
            raise _Mismatch("a module not imported")
        return found
    if kind == "path":
        found = _follow(ref[1], ref[2])
        if found is UNRESOLVED:
            raise _Mismatch("an object not found")
        return found
    raise _Mismatch("an unknown reference")


def _checked_names(tree: ast.Module, name: str) -> set:
    """The names the stored text (parsed) reads, once it is known to be one plain
    ``def name(...)`` whose definition runs nothing: no decorator, no annotation, defaults
    that are literals or names, no other statement."""
    fdef = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(fdef, ast.FunctionDef) or fdef.name != name or fdef.decorator_list \
            or fdef.returns is not None:
        raise _Mismatch("not a generated function")
    a = fdef.args
    for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
        if arg is not None and arg.annotation is not None:
            raise _Mismatch("an annotation")
    for default in a.defaults + [d for d in a.kw_defaults if d is not None]:
        if not _inert(default):
            raise _Mismatch("a default that runs code")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _inert(node) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    if isinstance(node, ast.Tuple):
        return all(map(_inert, node.elts))
    return isinstance(node, (ast.Constant, ast.Name))
