"""``srcad.export``: a derivative as a standalone Python module that runs without srcad.

The module holds, in order: its imports (``numpy``, ``math``, and the modules and functions
the derivative reads from the user's code, imported as the user's module imports them), the
user's constants it reads (as literals), the runtime helpers the derivative calls, copied
from ``srcad/runtime.py`` with ``inspect.getsource`` (exactly those it calls, and those they
call, transitively), the ``_srcad`` namespace the generated code calls them through, and the
generated function, byte for byte as ``srcad.show`` prints it. A value that cannot be written
into a module (an array, an object) is refused with a located error naming it.
"""
from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import math
import os
import sys
import types

import numpy as np

from . import runtime
from .errors import SrcadError
from . import parsing

__all__ = ["export", "parse_shapes"]

_LITERALS = (bool, int, float, complex, str, bytes, type(None))


def _is_literal(value) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(_is_literal(v) for v in value)
    return type(value) in _LITERALS and (not isinstance(value, float) or math.isfinite(value))


# What the runtime reads from srcad.batching (the batched sweeps of srcad.jacobian and
# srcad.hessian), as it is outside srcad: no sweep is ever under way.
_OUTSIDE_SRCAD = {
    "active_count": "def active_count():\n    return None      # no batched sweep outside srcad\n",
    "Batched": "Batched = tuple      # batched tangents exist only inside srcad (never built)\n",
}


def _types_text(value) -> str | None:
    """A tuple of array types as exported source (``_ARRAYS``): NumPy's by name; srcad's own
    (``Batched``, the batched tangents of ``srcad.jacobian``) left out, since exported code
    never meets them. None for any other value."""
    if not (isinstance(value, tuple) and value and all(isinstance(t, type) for t in value)):
        return None
    if any(t.__module__ != "numpy" and not t.__module__.startswith("srcad.") for t in value):
        return None
    kept = [f"np.{t.__name__}" for t in value if t.__module__ == "numpy"]
    return "(" + ", ".join(kept) + ("," if len(kept) == 1 else "") + ")"


def _free_names(tree: ast.AST) -> list[str]:
    """Names ``tree`` reads that it does not bind (its globals), in order of first use;
    annotations are skipped (a module with ``from __future__ import annotations`` never
    evaluates them)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            a = node.args
            bound.update(p.arg for p in a.posonlyargs + a.args + a.kwonlyargs)
            bound.update(p.arg for p in (a.vararg, a.kwarg) if p is not None)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((n.asname or n.name).split(".")[0] for n in node.names)
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, (ast.arg, ast.FunctionDef))
               for ann in ([node.annotation] if isinstance(node, ast.arg) else [node.returns])
               if ann is not None for n in ast.walk(ann)}
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                id(node) not in skipped and node.id not in bound and node.id not in out:
            out.append(node.id)
    return out


def _helper_calls(tree: ast.AST, namespace: str = "_srcad") -> list[str]:
    """The runtime helpers ``tree`` calls as ``_srcad.helper``, in order of first use."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == namespace and node.attr not in out:
            out.append(node.attr)
    return out


class _Runtime:
    """The runtime helpers a derivative needs, with what they need, as source text."""

    def __init__(self):
        self.order: list[str] = []        # runtime globals to copy, callees before callers
        self.imports: set[str] = set()    # modules the copies read (np, math)
        self.errors: list[str] = []       # srcad error classes the copies raise

    def need(self, name: str, location: str):
        if name in self.order:
            return
        obj = getattr(runtime, name, None)
        if obj is None:
            raise SrcadError(f"cannot export: the derivative calls _srcad.{name}, which "
                             f"srcad.runtime does not define", hint=location)
        if isinstance(obj, types.ModuleType):
            self.imports.add(name)
            return
        if name in _OUTSIDE_SRCAD:
            self.order.append(name)
            return
        if not isinstance(obj, (types.FunctionType, type)) or obj.__module__ != runtime.__name__:
            if _is_literal(obj) or _types_text(obj) is not None:
                if _types_text(obj) is not None:
                    self.imports.add("np")
                self.order.append(name)
                return
            raise SrcadError(f"cannot export: the runtime helper value {name} "
                             f"({type(obj).__name__}) has no source", hint=location)
        tree = parsing.parse(inspect.getsource(obj))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module == "errors":
                self.errors.extend(n.name for n in node.names if n.name not in self.errors)
        self.order.append(name)           # before its callees: recursion terminates
        for free in _free_names(tree):
            if hasattr(runtime, free):
                self.need(free, location)
        self.order.remove(name)
        self.order.append(name)           # after them

    def source(self) -> str:
        parts = []
        for name in self.order:
            obj = getattr(runtime, name)
            if name in _OUTSIDE_SRCAD:
                parts.append(_OUTSIDE_SRCAD[name])
                continue
            if _is_literal(obj):
                parts.append(f"{name} = {obj!r}\n")
                continue
            if _types_text(obj) is not None:
                parts.append(f"{name} = {_types_text(obj)}\n")
                continue
            text = inspect.getsource(obj)
            lines = [line for line in text.splitlines(True)
                     if line.strip() not in {f"from .errors import {e}" for e in self.errors}]
            parts.append("".join(lines))
        return "\n\n".join(parts)


_ERROR_STUB = '''\
class {name}({base}):
    """srcad's {name}, as this module raises it (message, location, hint)."""

    def __init__(self, message, location=None, hint=None):
        super().__init__(message if hint is None else f"{{message}}\\n{{hint}}")
'''
_ERROR_BASES = {"ShapeMismatchError": "ValueError", "NotDifferentiableError": "TypeError"}


def _importable(module_name: str) -> bool:
    return bool(module_name) and module_name != "__main__" and \
        not module_name.startswith("_srcad_cli_") and module_name in sys.modules


def _origin_module(obj) -> str | None:
    """The module to import ``obj`` from: its own when importable, else the stem of the file
    it was loaded from (a script or a file the command line imported)."""
    name = getattr(obj, "__module__", None)
    if name and _importable(name):
        return name
    try:
        path = inspect.getfile(obj)
    except (TypeError, OSError):
        return None
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem if stem.isidentifier() else None


def _global_line(name: str, value, where: str) -> str:
    """The import or assignment binding ``name`` to ``value`` in the exported module."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module.split(".")[0] == "srcad":
            raise SrcadError(f"cannot export: the derivative reads srcad's module {module} "
                             f"as {name}", hint=where)
        if module == name:
            return f"import {module}"
        head, _, tail = module.rpartition(".")
        return f"from {head} import {tail} as {name}" if head and tail == name else \
            f"import {module} as {name}"
    if _is_literal(value):
        return f"{name} = {value!r}"
    ufunc = str(getattr(value, "__name__", "")) if isinstance(value, np.ufunc) else ""
    if ufunc and getattr(np, ufunc, None) is value:
        return f"from numpy import {ufunc}" + ("" if ufunc == name else f" as {name}")
    qualname = str(getattr(value, "__qualname__", "") or "")
    origin = _origin_module(value) if qualname else None
    if origin is not None and "." not in qualname and "<" not in qualname:
        if origin.split(".")[0] == "srcad":
            raise SrcadError(f"cannot export: the derivative calls srcad's {qualname} as "
                             f"{name}", hint=where)
        return f"from {origin} import {qualname}" + ("" if qualname == name else f" as {name}")
    raise SrcadError(f"cannot export: the derivative reads the global {name!r}, a "
                     f"{type(value).__name__} that cannot be written into a module",
                     hint=f"{where}: make it a literal constant, a module-level function or "
                          f"an argument of the function.")


def parse_shapes(text: str) -> tuple:
    """``'100x3,3,100'`` -> ((100, 3), (3,), (100,)); ``scalar`` (or ``()``) a Python float,
    ``?`` an argument of unknown kind."""
    out: list = []
    for raw in text.split(","):
        item = raw.strip()
        if item in ("scalar", "()", "float"):
            out.append(float)
        elif item == "?":
            out.append(None)
        else:
            try:
                dims = tuple(int(d) for d in item.split("x"))
            except ValueError:
                raise ValueError(f"--specialize-for {text!r}: {item!r} is not a shape "
                                 f"(write 100x3 for a 100-by-3 array, scalar for a "
                                 f"float, ? for any other argument)") from None
            if any(d < 0 for d in dims):
                raise ValueError(f"--specialize-for {text!r}: {item!r} has a negative size")
            out.append(dims)
    return tuple(out)


def _kinds(shapes) -> tuple:
    """Shapes (or example arguments) as the argument kinds a variant is built for."""
    from .api import _kinds as kinds_of
    out: list = []
    for item in shapes:
        if isinstance(item, tuple) and all(isinstance(d, (int, np.integer)) for d in item):
            out.append((tuple(int(d) for d in item), np.dtype(np.float64)))
        elif item is float or item is None:
            out.append(item)
        else:
            out.extend(kinds_of((item,)))
    return tuple(out)


def export(f, path: str | os.PathLike | None = None, *, mode: str = "reverse", wrt=0,
           preserve_result: bool = False, optimized: bool = True,
           specialize_for=None) -> str:
    """The source of a standalone module defining ``f``'s derivative (the generated function
    ``srcad.show`` prints, and the runtime helpers it calls), written to ``path`` if given.

    ``mode``, ``wrt``, ``preserve_result`` and ``optimized`` are ``srcad.show``'s: reverse
    mode exports the gradient ``df(*args)``, forward mode the JVP ``df(*args, *tangents)``.
    ``specialize_for`` (shapes such as ``[(100, 3), (3,), (100,)]``, ``float`` for a number,
    ``None`` for an argument of unknown kind, or example arguments) exports the variant
    built for arguments shaped like those: faster, and checked at each call to be called
    with arguments of that pattern only. The derivative is the raw generated function: it
    does not check its arguments or convert its results to the arguments' types as
    ``srcad.grad`` does."""
    import dataclasses

    from .api import _canonical, _complex_args, _get, _spec, _target
    target = _target(f)
    spec = _spec(f, mode, wrt, preserve_result, optimized, True)
    kinds = None
    if specialize_for is not None:
        names = list(inspect.signature(target).parameters)
        kinds = _kinds(specialize_for)
        shaped, complex_args = _complex_args(kinds, names)
        spec = dataclasses.replace(spec, kinds=_canonical(shaped), complex_args=complex_args)
    built = _get(target, spec)
    generated = built.source
    tree = parsing.parse(generated)
    fdef = tree.body[0]
    where = f"{getattr(target, '__code__', None) and target.__code__.co_filename}:" \
            f"{getattr(getattr(target, '__code__', None), 'co_firstlineno', '?')}"
    namespace = built.fn.__globals__
    helpers = _Runtime()
    lines: list[str] = []
    for free in _free_names(tree):
        if hasattr(builtins, free) and free not in namespace:
            continue
        try:
            value = namespace[free]
        except KeyError:
            if hasattr(builtins, free):
                continue
            raise SrcadError(f"cannot export: the derivative reads {free!r}, which is not "
                             f"defined in {target.__module__}", hint=where) from None
        if value is runtime:
            continue
        lines.append(_global_line(free, value, where))
    for helper in _helper_calls(tree):
        helpers.need(helper, where)
    guard = _built_for_defaults(fdef, namespace, target)
    if spec.kinds is not None:
        helpers.need("specialized_for", where)
        params = [a.arg for a in fdef.args.args[:len(spec.kinds)]]
        guard += (f"    _srcad.specialized_for({spec.kinds!r}, ({', '.join(params)}"
                  f"{',' if len(params) == 1 else ''}))\n")
    clash = set(_free_names(tree)) & (set(helpers.order) | {"_srcad"} | helpers.imports)
    clash -= {n for n in clash if namespace.get(n) is getattr(runtime, n, None)}
    clash.discard("_srcad") if namespace.get("_srcad") is runtime else None
    if clash:
        raise SrcadError(f"cannot export: the derivative reads {sorted(clash)[0]!r}, the name "
                         f"of a runtime helper the module copies in", hint=where)
    return _module(target, fdef, generated, lines, helpers, guard, spec, path)


def _built_for_defaults(fdef: ast.FunctionDef, namespace: dict, target) -> str:
    """Statements refusing a call that passes another function for a parameter whose default
    is a function: the derivative was built for the default (a call through srcad builds one
    for the function passed; an exported module cannot)."""
    from .api import _is_function
    args = fdef.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults)) + [
        (a, v) for a, v in zip(args.kwonlyargs, args.kw_defaults) if v is not None]
    lines = []
    for param, default in pairs:
        ref = default.id if isinstance(default, ast.Name) else None
        value = namespace.get(ref) if ref is not None else None
        if value is not None and _is_function(value):
            shown = ".".join(filter(None, (getattr(value, "__module__", None),
                                           getattr(value, "__qualname__", ref))))
            told = f"{fdef.name} was exported for {param.arg}={shown}, the default of " \
                   f"{target.__qualname__}: export the derivative of a function that passes " \
                   f"the one you mean"
            lines.append(f"    if {param.arg} is not {ref}:\n"
                         f"        raise TypeError({told!r})\n")
    return "".join(lines)


def _module(target, fdef, generated, lines, helpers, guard, spec, path) -> str:
    from . import __version__
    imports = sorted(_global_line(name, getattr(runtime, name), "")
                     for name in helpers.imports)
    user = [line for line in dict.fromkeys(lines) if line not in imports]
    body = generated.splitlines(True)
    if guard:
        start = next(i for i, line in enumerate(body) if line.startswith(f"def {fdef.name}("))
        end = next(i for i in range(start, len(body)) if body[i].rstrip().endswith(":"))
        body.insert(end + 1, guard)
    doc = (f'"""{fdef.name}: the derivative of {target.__qualname__}, exported by srcad '
           f'{__version__}.\n\nStandalone: it needs NumPy{" and the modules imported below" if user else ""}, '
           f'not srcad. Generated code; regenerate it\nrather than editing it.\n"""\n')
    parts = [doc, "from __future__ import annotations\n\n"]
    parts.append("\n".join(imports + user) + "\n" if imports or user else "")
    parts.append(f'\n__all__ = ["{fdef.name}"]\n')
    errors = "\n\n".join(_ERROR_STUB.format(name=e, base=_ERROR_BASES.get(e, "Exception"))
                         for e in helpers.errors)
    copied = helpers.source()
    if copied:
        parts.append("\n\n# -- srcad's runtime helpers this derivative calls (from "
                     "srcad/runtime.py) " + "-" * 9 + "\n\n")
        if errors:
            parts.append(errors + "\n\n")
        parts.append(copied)
        parts.append("\n\nclass _srcad:\n    \"\"\"The helpers above, as the derivative "
                     "calls them (_srcad.helper).\"\"\"\n\n")
        for name in _helper_calls(parsing.parse(generated)) + (
                ["specialized_for"] if spec.kinds is not None else []):
            parts.append(f"    {name} = staticmethod({name})\n")
    parts.append("\n\n" + "".join(body))
    text = "".join(parts)
    if not text.endswith("\n"):
        text += "\n"
    compile(text, str(path or "<srcad export>"), "exec")     # an InternalError if not Python
    if path is not None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    return text
