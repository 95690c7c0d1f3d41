"""Dispatch: the function a user calls (what ``srcad.grad(f)`` returns), with code generated
for the arguments it is called with, so that a call costs a few inline tests more than the
generated derivative itself.

Input: ``api``'s general call path (which binds the arguments, picks or builds the variant,
checks the arguments and finishes the result) and, after each call of it that succeeded, the
arguments and the ``cache.Derivative`` it ran. Output: ``Dispatcher.function``, whose code is
swapped for code generated for one key: the arguments' types, exact shapes and dtypes (and
lists of Python floats, and the value of a str argument, ``Static``). That code tests,
inline, that the call has that key and that the derivative is still fresh (the identity of
the function's code and defaults and every dependency ``Derivative.deps`` lists, each at
the depth it was read: ``np.sin`` is read as ``np.sin``; and the type of each closure cell's value, an array's dtype, when the build
decided from them which values are complex: ``Derivative.complex_cells``), calls the
generated function and returns its derivatives
when they are already what the general path would return (arrays of the argument's shape and
dtype that share no memory with an argument or another derivative; floats; new lists of
floats); anything else goes to the general path, which
stays the one place that decides, diagnoses and refuses. The rule set's version is not
tested: a registration (``registry.watch``) puts the general path's code back, and code is
installed only for a derivative built at the current version.

Invariants: the fast path never returns what the general path would not; any exception
while testing sends the call to the general path; an exception raised by the generated
function is handed to ``api`` (``failed``), which can diagnose the call afterwards. The names
a key's code reads (``_k3_shape_a0``) are set before that code is installed and never
rebound; its tests read them all into locals, so a thread still running replaced code whose
names were removed goes to the general path.
"""
from __future__ import annotations

import builtins
import keyword
import threading
import types

import numpy as np

from . import cache, registry
from .emit import comment_text
from .cache import Static
from .source import UNRESOLVED, AttributeOf, Namespace

__all__ = ["Dispatcher", "Same", "Static", "Typed", "generated"]

_MAX_CODES = 64       # keys with generated code per derivative function (then forgotten)
_SCALARS = (float, int, complex, np.float64, np.float32)


class Same:
    """A callable argument (``act=np.tanh``, ``model.act``) in a key: the derivative is built
    for that function, so a key holds it by identity, equal only to a key holding the same
    object (whatever the callable's own ``__eq__`` says)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is type(self) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)

    def __repr__(self):
        return f"{type(self).__name__}({getattr(self.obj, '__name__', type(self.obj).__name__)})"


class Typed(Same):
    """The type of a list or tuple argument (``api._typed``) in the key of a derivative
    built to be differentiated again (hvp: the gradient for a tuple argument), by identity:
    the build folds ``isinstance`` and ``type`` of that parameter, so the code the outer
    build reads holds the branch taken only."""

    __slots__ = ()


def _attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")


class Dispatcher:
    """One derivative function's fast path: ``function`` is what the user calls."""

    def __init__(self, name: str, spec, general, finish, failed):
        self.spec = spec
        self.name = name if name.isidentifier() else "derivative"
        self.ns: dict = {"__builtins__": builtins, "_nd": np.ndarray, "_f64": np.float64,
                         "_general": general, "_finish": finish, "_failed": failed,
                         "_same_object": cache._same_object, "_same_kw": cache._same_kw,
                         "_dep_fresh": cache.dep_fresh, "_builtins_module": builtins}
        self.codes: dict = {}          # key -> (Derivative, code object)
        self.seen: set = set()         # keys the general path ran once
        self.count = 0                 # keys numbered so far (names _k<count>_...)
        self.lock = threading.Lock()
        self.last = None               # the Derivative the installed code runs
        self.sources: dict = {}        # code object -> its source (``source()``)
        self.names: dict = {}          # key -> the names its code reads in ``ns``
        source = (f"def {self.name}(*args, **kwargs):\n"
                  f"    # no call yet: srcad's general call path\n"
                  f"    return _general(*args, **kwargs)\n")
        self.function = self._compile(source, "general")
        self.general_code = self.function.__code__
        registry.watch(self)

    def _compile(self, source: str, what: str):
        scope: dict = {}
        exec(compile(source, f"<srcad-dispatch {self.name} {what}>", "exec"), self.ns, scope)
        fn = scope[self.name]
        self.sources[fn.__code__] = source
        return fn

    def offer(self, args: tuple, kinds: tuple, entry, target, dicts=None, finish=None) -> None:
        """After the general path ran ``entry`` for positional ``args``: make the next calls
        with this key take the fast path. ``kinds`` (``api._kinds``) are those of the values
        the generated function took: the arguments, or with ``dicts`` (per argument None or
        the keys of a flat dict of leaves, in order) the arguments with each dict's leaves in
        its place; ``finish(out, args, entry)`` then gives the result the general path would."""
        if not all(type(k) is tuple and type(k[0]) is tuple or type(k) is Same or
                   type(k) is Static or k in _SCALARS or k == "floats" for k in kinds):
            return                      # lists of arrays, other objects: general path
        if len(kinds) != (len(args) if dicts is None else sum(
                1 if keys is None else len(keys) for keys in dicts)):
            return
        if any(namespace is cache._PARENT for namespace, _, _ in entry.deps):
            return                      # a derivative of generated code: checked in full
        if entry.complex_cells and (_cell_kinds(target) is None or
                                    cache._numeric_cells(target) != entry.complex_cells):
            return                      # an empty cell, or cells changed since the build
        key = (dicts, kinds)
        found = self.codes.get(key)
        if found is not None and found[0] is entry:
            code = found[1]
        elif key in self.seen or found is not None:
            with self.lock:
                # names of replaced code go (code still running it reads them all in its
                # tests, and a missing one sends the call to the general path)
                if len(self.codes) >= _MAX_CODES:
                    for name in [n for n in self.ns if n.startswith("_k")]:
                        del self.ns[name]
                    self.codes.clear()
                    self.names.clear()
                    self.sources = {c: self.sources[c] for c in (self.function.__code__,
                                                                 self.general_code)}
                    self.seen.clear()
                elif found is not None:      # rebuilt: the stale entry's code goes
                    for name in self.names.pop(key, ()):
                        self.ns.pop(name, None)
                    self.sources.pop(found[1], None)
                code = self._generate(len(args), dicts, kinds, entry, target,
                                      finish).__code__
                self.codes[key] = (entry, code)
        else:
            if len(self.seen) >= 4 * _MAX_CODES:
                self.seen.clear()
            self.seen.add(key)
            return
        if self.function.__code__ is not code:
            self.function.__code__ = code
        if entry.version != registry._version:     # rules registered since it was built
            self.function.__code__ = self.general_code
        self.last = entry

    def rules_changed(self) -> None:
        """A rule was registered (``registry.watch``): every derivative built before is
        stale, and the generated code does not test the rule version: the general path."""
        self.function.__code__ = self.general_code

    def source(self) -> str:
        """The source of the code ``function`` runs now."""
        return self.sources[self.function.__code__]

    # -- the generated code ------------------------------------------------------------------

    def _generate(self, count, dicts, kinds, entry, target, finish):
        self.count += 1
        k = f"_k{self.count}_"
        names: dict = {}

        def bind(what: str, value) -> str:
            name = f"{k}{what}"
            names[name] = value
            return name

        params = [f"a{i}" for i in range(count)]
        tests = ["not kwargs"]
        unpack = []
        flat: list = []          # the generated function's arguments, per parameter a group
        for i, a in enumerate(params):
            keys = dicts[i] if dicts is not None else None
            if keys is None:
                flat.append([a])
                continue
            leaves = [f"{a}_{j}" for j in range(len(keys))]
            unpack.append(f"        {', '.join(leaves)}{',' if len(leaves) == 1 else ''} = "
                          f"{a}.values() if type({a}) is dict else ()")
            tests.append(f"type({a}) is dict and tuple({a}) == {bind('keys_' + a, keys)}")
            flat.append(leaves)
        values = [v for group in flat for v in group]
        described = []
        for v, kind in zip(values, kinds):
            if type(kind) is tuple:
                tests.append(f"type({v}) is _nd and (shape_{v} := {v}.shape) == "
                             f"{bind('shape_' + v, kind[0])} and (dtype_{v} := {v}.dtype) is "
                             f"{bind('dtype_' + v, kind[1])}")
                described.append(f"{kind[1]} {kind[0]}")
            elif kind == "floats":       # a list of Python floats, of any length
                unpack += _floats_loop(f"floats_{v}", v, f"type({v}) is list", "        ")
                tests.append(f"floats_{v}")
                described.append("list of floats")
            elif type(kind) is Same:     # the function the derivative was built for
                tests.append(f"{v} is {bind('callable_' + v, kind.obj)}")
                described.append(comment_text(str(getattr(kind.obj, "__name__", "callable"))))
            elif type(kind) is Static:   # the str the derivative was built for
                tests.append(f"type({v}) is str and {v} == {bind('str_' + v, kind.obj)}")
                described.append(comment_text(repr(kind.obj)))
            else:
                tests.append(f"type({v}) is {bind('type_' + v, kind)}")
                described.append(kind.__name__)
        code, defaults, kw = entry.code
        f = bind("function", target)
        tests.append(f"{f}.__code__ is {bind('code', code)} and {f}.__defaults__ is "
                     f"{bind('defaults', defaults)}")
        if kw:
            tests.append(f"_same_kw({f}, {bind('kwdefaults', kw)})")
        if entry.complex_cells:          # the build decided from the closure's numbers which
            for i, (cell, kind, dtype) in enumerate(_cell_kinds(target) or ()):   # are complex
                test = f"type(now := {bind(f'closure_cell{i}', cell)}.cell_contents) is " \
                       f"{bind(f'closure_type{i}', kind)}"
                tests.append(test if dtype is None else
                             f"{test} and now.dtype is {bind(f'closure_dtype{i}', dtype)}")
        for i, dep in enumerate(entry.deps):
            tests.append(self._dep_test(dep, lambda what, value: bind(f"{what}{i}", value)))
        fn = "fn"
        bound = [("fn", bind("fn", entry.fn)), ("entry", bind("entry", entry))]
        if self.spec.mode == "reverse":
            bound.append(("finish", bind("finish", finish) if finish else "_finish"))
        if self.spec.mode == "forward" and entry.extra:     # keyword-only tangents
            n = len(values) - len(entry.extra)
            call = f"{fn}({', '.join(values[:n] + [f'{t}={a}' for t, a in zip(entry.extra, values[n:])])})"
        else:
            call = f"{fn}({', '.join(values)})"
        if self.spec.mode == "forward":
            out = self._tangent_output(values)
        else:
            out = self._derivatives(flat, dicts, kinds, values)
        body = [f"def {self.name}(*args, **kwargs):",
                f"    # srcad's call path for {comment_text(str(getattr(target, '__qualname__', '?')))}, "
                f"generated for arguments ({', '.join(described)})",
                "    try:",
                f"        {', '.join(params)}{',' if len(params) == 1 else ''} = args"
                if params else "        () = args",
                *unpack,
                f"        {', '.join(n for n, _ in bound)} = {', '.join(v for _, v in bound)}",
                "        # the same kinds of arguments, and every dependency of the derivative "
                "bound as it was",
                "        hot = (" + "\n               and ".join(tests) + ")",
                "    except Exception:       # a missing attribute, another number of arguments",
                "        hot = False",
                "    if not hot:",
                "        return _general(*args, **kwargs)",
                "    try:",
                f"        out = {call}",
                "    except Exception as exc:",
                "        _failed(exc, entry, args, kwargs)",
                "        raise",
                *out]
        self.ns.update(names)
        self.names[(dicts, kinds)] = list(names)
        return self._compile("\n".join(body) + "\n", f"{self.count}")

    def _tangent_output(self, values) -> list:
        head = ["    value, o = out"] if self.spec.preserve_result else ["    o = out"]
        distinct = " and ".join(f"o is not {a}" for a in values) or "True"
        result = "(value, o)" if self.spec.preserve_result else "o"
        return head + [
            "    # a tangent sharing memory with an argument is copied",
            f"    if type(o) is not _nd or (o.base is None and {distinct}):",
            f"        return {result}",
            "    o = o.copy()",
            f"    return {result}"]

    def _derivatives(self, flat, dicts, kinds, values) -> list:
        spec = self.spec
        kind_of = dict(zip(values, kinds))
        grads: list = []
        tests = []
        loops: list = []         # the tests of lists of floats, as statements before
        parts = []

        def apart(g, kind) -> str:
            # ``g`` is none of the arguments and derivatives before it of its own kind (one of
            # another shape, dtype or type cannot be it: the derivatives' kinds are tested
            # together after the call, and the generated code writes into no argument)
            return " and ".join([f"{g} is not {a}" for a in values if kind_of[a] == kind] +
                                [f"{g} is not {h}" for h, k in grads if k == kind])
        for i in spec.wrt:
            part = []
            for v in flat[i] if i < len(flat) else ():
                g = f"g{len(grads)}"
                kind = kind_of[v]
                if type(kind) is tuple:
                    tests.append(f"type({g}) is _nd and {g}.base is None and {g}.shape == "
                                 f"shape_{v} and {g}.dtype is dtype_{v} and {apart(g, kind)}")
                elif kind == "floats":   # a list of floats: a new list of floats as long
                    loops += _floats_loop(f"floats_{g}", g,
                                          f"type({g}) is list and len({g}) == len({v})", "    ")
                    tests.append(f"floats_{g} and {apart(g, kind)}")
                elif kind is float:      # a float argument's derivative is a float
                    tests.append(f"(type({g}) is float or type({g}) is _f64)")
                else:
                    tests.append("False")
                grads.append((g, kind))
                part.append(f"float({g})" if kind is float else g)
            keys = dicts[i] if dicts is not None and i < len(dicts) else None
            parts.append(part[0] if keys is None else
                         "{" + ", ".join(f"{key!r}: {g}" for key, g in zip(keys, part)) + "}")
        unpacked = ", ".join(g for g, _ in grads) if len(grads) > 1 else grads[0][0]
        valued = spec.preserve_result or spec.has_aux      # the code returns the value first
        lines = [f"    value, {'(' + unpacked + ')' if len(grads) > 1 else unpacked} = out"
                 if valued else f"    {unpacked} = out"]
        result = ", ".join(parts)
        if len(parts) > 1 or not spec.single:
            result = f"({result}{',' if len(parts) == 1 else ''})"
        if spec.has_aux and not spec.preserve_result:     # grad(has_aux=True): (g, aux)
            result = f"({result}, value[1])"
        elif valued:
            result = f"(value, {result})"
        return lines + [
            "    # derivatives shaped and typed like their arguments, each its own array",
            *loops,
            "    if (" + "\n            and ".join(tests) + "):",
            f"        return {result}",
            "    return finish(out, args, entry)"]

    def _dep_test(self, dep, bind) -> str:
        """An expression true while ``dep`` is bound as it was (as ``cache.dep_fresh``)."""
        namespace, name, value = dep
        if namespace is None:         # a helper's code and defaults
            fn, (code, defaults, kw) = name, value
            test = (f"{bind('helper', fn)}.__code__ is {bind('helper_code', code)} and "
                    f"{bind('helper', fn)}.__defaults__ is {bind('helper_defaults', defaults)}")
            return test if not kw else f"{test} and _dep_fresh({bind('dep', dep)})"
        method = isinstance(value, (types.MethodType, types.BuiltinMethodType))
        if value is UNRESOLVED or not isinstance(name, str) or not _attribute(name):
            return f"_dep_fresh({bind('dep', dep)})"
        if type(namespace) is AttributeOf:
            read = f"{bind('object', namespace.obj)}.{name}"
        elif isinstance(namespace, Namespace) and name in namespace.cells:
            read = f"{bind('cell', namespace.cells[name])}.cell_contents"
        elif isinstance(namespace, Namespace) and type(namespace.globals) is dict:
            g = bind("globals", namespace.globals)
            read = f"{g}[{name!r}]" if name in namespace.globals else \
                f"({name!r} not in {g} and _builtins_module.{name})"
        else:
            return f"_dep_fresh({bind('dep', dep)})"
        v = bind("value", value)     # a bound method is a new object at each read
        return f"((now := {read}) is {v} or _same_object(now, {v}))" if method else \
            f"{read} is {v}"


def _floats_loop(flag: str, v: str, first: str, indent: str) -> list:
    """Statements setting ``flag`` to ``first`` and the list ``v`` holding Python floats alone
    (a loop: about half the cost of ``{*map(type, v)} <= {float}``)."""
    return [f"{indent}{flag} = {first}",
            f"{indent}for item in {v} if {flag} else ():",
            f"{indent}    if type(item) is not float:",
            f"{indent}        {flag} = False",
            f"{indent}        break"]


def _cell_kinds(target):
    """Per closure cell of ``target``: (the cell, its value's type, an array value's dtype or
    None), while they still give the ``complex_cells`` its derivative was built for (which
    depend on them alone); None for an empty cell."""
    out = []
    for cell in getattr(target, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            return None
        out.append((cell, type(value), value.dtype if isinstance(value, np.ndarray) else None))
    return out


def generated(derivative):
    """The generated function ``derivative`` (a function srcad returned) ran last on its
    fast path, or None (for benchmarks: the same function called directly)."""
    dispatcher = getattr(derivative, "__srcad_dispatcher__", None)
    return dispatcher.last.fn if dispatcher is not None and dispatcher.last else None
