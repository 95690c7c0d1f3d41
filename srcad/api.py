"""The public API: ``Spec`` (what derivative to build), ``build`` (runs the pipeline stages and
feeds the cache) and the user-facing functions grad, value_and_grad, autodiff, jvp, vjp,
jacobian, hessian, hvp and show."""
from __future__ import annotations

import ast
import builtins
import collections.abc
import copy
import dataclasses
import functools
import gc
import importlib
import inspect
import json
import linecache
import logging
import math
import numbers
import os
import traceback
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, Protocol, TypeAlias, TypeVar, overload

import gast
import numpy as np

from . import cache, called_helpers, diskcache, dispatch, emit, registry, runtime, trees
from .runtime import _other_array as _other_array_type
from .batching import Batched
from .cache import Derivative
from .backends import check_backend
from .errors import (ArgumentError, InternalError, NoRuleError, NotDifferentiableError,
                     ShapeMismatchError, SrcadError, SrcadSyntaxError)
from .nodes import walk
from .source import Namespace, function_state, parse_function

__all__ = ["Spec", "build", "grad", "value_and_grad", "autodiff", "show", "jvp", "vjp",
           "jacobian", "jacfwd", "jacrev", "hessian", "hvp", "stop_gradient", "hook", "clear_cache", "DerivativeFunction",
           "Mode", "Wrt"]

log = logging.getLogger("srcad")
stop_gradient = runtime.stop_gradient
hook = runtime.hook
registry.nondiff(stop_gradient)

_MODES = ("reverse", "forward")

# -- the public types ---------------------------------------------------------------------------

Mode: TypeAlias = Literal["reverse", "forward"]
#: Which arguments to differentiate: an index, a parameter name, or a tuple (or list) of those.
Wrt: TypeAlias = int | str | tuple[int | str, ...] | list[int | str]
Checkpoint: TypeAlias = bool | int | str

_P = ParamSpec("_P")
_R = TypeVar("_R")
_R_co = TypeVar("_R_co", covariant=True)


class DerivativeFunction(Protocol[_P, _R_co]):
    """What ``grad``, ``value_and_grad`` and ``autodiff`` return: a function called like the
    one it differentiates (``grad``, ``value_and_grad``; ``autodiff`` adds a seed or the
    tangents, so its parameters are ``...``), and ``source()``, the generated code."""

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R_co: ...

    def source(self) -> str: ...


class _GradDecorator(Protocol):
    """``@srcad.grad(wrt=...)``: turns ``f`` into its gradient."""

    def __call__(self, f: Callable[_P, Any], /) -> DerivativeFunction[_P, Any]: ...


class _ValueGradDecorator(Protocol):
    """``@srcad.value_and_grad(...)``, ``@srcad.grad(preserve_result=True)``: turns ``f``
    into ``(value, gradient)``."""

    def __call__(self, f: Callable[_P, _R], /) -> DerivativeFunction[_P, tuple[_R, Any]]: ...


class _AutodiffDecorator(Protocol):
    """``@srcad.autodiff(mode=..., ...)``."""

    def __call__(self, f: Callable[..., Any], /) -> DerivativeFunction[..., Any]: ...


@dataclass(frozen=True)
class Spec:
    """What to build: mode, which arguments, and the options that change the code."""

    mode: str = "reverse"
    wrt: tuple = (0,)
    single: bool = True            # wrt given as an int/name: one derivative, not a 1-tuple
    grad_seed: bool = True         # reverse: seed 1.0 for a scalar output (grad) vs a seed arg
    preserve_result: bool = False
    optimized: bool = True
    kinds: tuple | None = None     # argument shapes it is specialized for (_canonical)
    complex_args: tuple = ()       # parameters passed complex values (_complex_args)
    containers: tuple = ()         # (parameter, trees.structure) of container arguments
    callables: tuple = ()          # (parameter, dispatch.Same): the functions it calls there,
    #                                (parameter, dispatch.Static): a str it is built for
    checkpoint: object = False     # reverse: top-level loops checkpointed (_checkpoint)
    has_aux: bool = False          # reverse: f returns (value, aux), value differentiated
    backend: str = "python"        # what runs the specialized code (srcad/backends)
    called: tuple = ()             # (helper, size): helpers called at every site, not inlined
    #                                (a called helper's derivative: called_helpers)


def clear_cache() -> None:
    """Forget every built derivative (they are rebuilt on next use; the disk cache's entries
    too, for this process: each is overwritten by its rebuild)."""
    cache.clear()
    diskcache.forget()
    _WRAPPERS.clear()


def _target(f, statics=None):
    """The Python function whose source srcad reads: for a derivative srcad returned, its
    generated function (so derivatives of derivatives differentiate generated code), the one
    built for ``statics`` (``_statics``: the str arguments of the call; None: its defaults)."""
    current = getattr(f, "__srcad_current__", None)
    if current is not None:
        return current(statics)
    while True:
        inner = getattr(f, "__srcad_primal__", None) or (
            None if isinstance(f, types.FunctionType) else getattr(f, "__wrapped__", None))
        if inner is None:
            break
        f = inner
    if isinstance(f, types.MethodType):
        f = f.__func__
    if getattr(f, "__srcad_sweeps__", False):
        raise NotDifferentiableError(
            "this function was made by srcad (srcad.jacobian, jacfwd, jacrev or hessian): it "
            "runs several derivative sweeps, so it has no generated "
            "source to show or differentiate",
            hint="Show or differentiate what it is built from: srcad.show(f, mode='forward') "
                 "is the sweep a forward Jacobian batches, srcad.show(f) the reverse one, "
                 "srcad.show(srcad.grad(f), mode='forward') the one a Hessian batches.")
    return f


def _wrt_indices(f, wrt):
    """Normalize ``wrt`` (int, name, or tuple of those) to (indices, single). An int counts
    the call's positional arguments (JAX's argnums): for ``f(w, *args)``, ``wrt=2`` is
    ``args[1]``, the index ``(1, 1)`` (the ``*args`` parameter, the item); its name, or the
    name of ``**kwargs``, is the whole tuple or dict."""
    try:
        params = list(inspect.signature(f).parameters)
        star = next((k for k, p in enumerate(inspect.signature(f).parameters.values())
                     if p.kind is p.VAR_POSITIONAL), None)
    except (TypeError, ValueError):
        params, star = [], None
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    if not items:
        raise ValueError("wrt must name at least one argument")
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in params:
                raise ValueError(f"wrt={item!r}: {getattr(f, '__name__', f)} has no parameter "
                                 f"named {item!r} (parameters: {', '.join(params)})")
            item = params.index(item)
        elif not isinstance(item, numbers.Integral) or isinstance(item, bool):
            raise TypeError(f"wrt={wrt!r} for {getattr(f, '__name__', f)}: wrt must be an "
                            f"int, a parameter name, or a tuple of those, not {item!r}")
        elif star is not None and item >= star:       # a positional argument in *args
            out.append((star, int(item) - star))
            continue
        elif star is not None and item < 0:
            raise ValueError(f"wrt={item}: {getattr(f, '__name__', f)} takes *"
                             f"{params[star]}: count its positional arguments from 0")
        if params and not -len(params) <= item < len(params):
            raise ValueError(f"wrt={item}: {getattr(f, '__name__', f)} has only "
                             f"{len(params)} parameters")
        out.append(item % len(params) if params else item)
    if len(set(out)) != len(out) or any(type(i) is tuple and i[0] in out for i in out):
        raise ValueError(f"wrt={wrt!r} names an argument twice")
    return tuple(out), single


def _header(src, spec, wrt_names, output=None) -> list[str]:
    lines = [f"Generated by srcad from {src.fn.__qualname__} ({src.filename}:{src.first_line}).",
             f"mode={spec.mode}, wrt=({', '.join(wrt_names)}{',' if len(wrt_names) == 1 else ''})"
             f"{', preserve_result' if spec.preserve_result else ''}"
             f"{', has_aux' if spec.has_aux else ''}"
             f"{'' if spec.optimized else ', unoptimized'}"]
    if output is not None:
        what = "the tangent and the value are the tuples" if spec.mode == "forward" else \
            "the value is the tuple" if spec.grad_seed else "the seed and the value are the tuples"
        lines.append(f"{src.fn.__name__} returns {trees.describe(output)}: {what} of its leaves")
    return lines


def _one_tangent(spec: Spec, program, known: dict, complex_facts) -> bool:
    """Is this gradient built in forward mode? ``grad`` of a function of one real number
    whose value is a number (its shape known to be ()): one tangent sweep, seeded 1.0, gives
    the whole derivative, with no tape and no second loop, where reverse mode would store
    each step's values and run the loop again backwards (a scalar loop then runs at about
    the speed of the hand-written forward-mode gradient: issue 16's scalar polynomial).
    Reverse mode stays for anything else, and for checkpointing, aux values, containers,
    complex values and functions whose argument or value is not known to be a number."""
    if not (spec.mode == "reverse" and spec.grad_seed and spec.kinds and spec.optimized
            and len(spec.wrt) == 1 and spec.wrt[0] < len(spec.kinds) and not spec.has_aux
            and not spec.checkpoint and not spec.complex_args and not spec.containers
            and complex_facts is None and program.output is None):
        return False
    ret = program.node.body[-1]
    return (spec.kinds[spec.wrt[0]] == () and isinstance(ret, gast.Return)
            and isinstance(ret.value, gast.Name) and known.get(ret.value.id) == ())


def _ends_in_return(body) -> bool:
    """Does running ``body`` always end at a ``return`` (or a ``raise``, which returns
    nothing to differentiate)?"""
    last = body[-1] if body else None
    if isinstance(last, gast.If):
        return _ends_in_return(last.body) and _ends_in_return(last.orelse)
    if isinstance(last, gast.Match):    # every case returns, and the last takes any value
        final = last.cases[-1]
        return final.guard is None and isinstance(final.pattern, gast.MatchAs) and \
            final.pattern.pattern is None and all(_ends_in_return(c.body) for c in last.cases)
    if isinstance(last, gast.While) and isinstance(last.test, gast.Constant) and \
            last.test.value is True:       # `while True:` left by `return` only
        return not any(isinstance(n, gast.Break) for n in gast.walk(last))
    return isinstance(last, (gast.Return, gast.Raise))


def _check_returns(src):
    """Refuse a function that returns no number: a bare ``return``, ``return None``, a string,
    bytes or boolean constant (or a returned tuple's item that is one), or a body whose end is
    reached (Python then returns None). Its derivative would otherwise be silently zero."""
    problems = []
    for node in gast.walk(src.node):
        if isinstance(node, gast.Return):
            items = node.value.elts if isinstance(node.value, gast.Tuple) else [node.value]
            for item in items:
                value = None if item is None else getattr(item, "value", 0.0)
                if (item is None or isinstance(item, gast.Constant)) and (
                        value is None or isinstance(value, (str, bytes, bool))):
                    problems.append((node, f"returns {value!r}, not a number"))
    if not _ends_in_return(src.node.body):
        problems.append((src.node.body[-1], "can reach the end of its body, where it returns "
                                            "None"))
    for node, what in problems[:1]:
        raise NotDifferentiableError(
            f"cannot differentiate {src.fn.__name__}: it {what}", src.location(node),
            hint="Return the value to differentiate (a float or a float array) on every path.")


def build(f, spec: Spec, src=None) -> Derivative:
    """Run the pipeline: parse -> normalize -> analyze -> transform -> optimize -> emit.
    ``src``: ``f``'s Source when the caller has just parsed it (not parsed again). Python's
    cyclic garbage collector is paused meanwhile (if it was on): a build makes many small
    objects, nearly all freed by their counts, and the collector's passes over the trees
    alive cost a quarter of a 1000-statement build, more than linear in its size."""
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return _build(f, spec, src)
    finally:
        if collecting:
            gc.enable()


def _build(f, spec: Spec, src=None) -> Derivative:
    """``build`` (the collector paused)."""
    stored = diskcache.load(f, spec)
    if stored is not None:
        return stored
    # the compiler, imported when a build happens: a process whose derivatives all come from
    # the disk cache never loads it
    from . import complex_values
    from .analysis import (activity, aliased_writes, anf_violations, list_names, shapes,
                           untracked_flows)
    from .forward import forward
    from .normalize import assigned_names, copy_program, default_nodes, normalize
    from .optimize import (carried_copies, inline_temporaries, item_loops, optimize,
                           output_facts, owned_writes, scalar_accumulators, scalar_reads,
                           shaped_rewrites, with_shapes)
    from .reverse import reverse
    from .template import clone

    shared = src is not None      # the parse srcad.grad read, shared up to the first call
    src = src if src is not None else parse_function(f)
    normalized_for = (spec.containers, spec.callables, spec.called, registry.version(),
                      src.fn.__code__, src.fn.__defaults__)
    arg_types = _known_types(src, spec)
    kept = _NORMALIZED.pop(src.node, None)
    if kept is not None and spec.kinds is not None and kept[0] == normalized_for and \
            cache._same_kw(src.fn, kept[1]) and all(map(cache.dep_fresh, kept[2].deps)) and \
            not (arg_types and _tests_types(src)):
        program = kept[2]       # what the generic build normalized, unchanged since
        src = program.source    # (its namespace holds the function's imports)
    else:
        program = normalize(src, dict(spec.containers),   # refuses unsupported syntax first
                            {name: same.obj for name, same in spec.callables
                             if type(same) is dispatch.Same}, dict(spec.called),
                            {name: same.obj for name, same in spec.callables
                             if type(same) is dispatch.Static}, arg_types)
        if shared and spec.kinds is None:
            _NORMALIZED[src.node] = (normalized_for, tuple(
                (src.fn.__kwdefaults__ or {}).items()), copy_program(program))
    _check_returns(src)
    verify = os.environ.get("SRCAD_VERIFY") == "1"
    if verify:                       # the stage invariants, named by the stage that broke them
        for stmt, what in anf_violations(program.node):
            raise InternalError("normalize", what, src.location(stmt))
    analysed: dict = {}              # the sharing analysis of the program as normalized
    if not src.generated:            # writes through views as value semantics (views.py)
        from .views import explicit_views

        def refused(known):          # (only a program the sharing analysis would refuse:
            # every x += v taken as an array's in a generic build, as _alias_check takes it)
            analysed[id(program.node)] = aliased_writes(program.node, known if spec.kinds
                                                      else {})
            return analysed[id(program.node)] is not None
        if explicit_views(program, lambda: shapes(program.node, dict(zip(
                program.params, spec.kinds or ()))), spec.kinds is None, refused):
            analysed.clear()           # (rewritten: analysed again below)
            if verify:
                for stmt, what in anf_violations(program.node):
                    raise InternalError("views", what, src.location(stmt))
    params = program.params
    wrt_names = [params[i] for i in spec.wrt]
    outputs = _aux_pair(src, program) if spec.has_aux else None
    if spec.mode == "reverse" and spec.grad_seed and not spec.has_aux and program.output:
        raise ShapeMismatchError(
            f"srcad.grad needs a function that returns a scalar, {src.fn.__name__} returns "
            f"{trees.describe(program.output)}", _def_location(src.fn, returns=True),
            hint="Differentiate a scalar (np.sum of an item), use srcad.vjp or "
                 "srcad.autodiff(f) for a cotangent of the whole output, or has_aux=True "
                 "for (value, aux).")
    known = shapes(program.node, dict(zip(params, spec.kinds or ())))
    act = activity(program.node, wrt_names, outputs, known)
    act, complex_facts = complex_values.prepare(program, act, wrt_names, spec.mode,
                                                spec.grad_seed, spec.complex_args)
    if complex_facts is not None:                 # conversions inserted: shapes again
        if verify:                                # still ANF
            for stmt, what in anf_violations(program.node):
                raise InternalError("complex values", what, src.location(stmt))
        known = shapes(program.node, dict(zip(params, spec.kinds or ())))
        analysed.clear()
    untracked = untracked_flows(program.node, act, assigned_names(program.node),
                                list_names(program.node, known))
    if untracked is not None:
        stmt, node, what = untracked
        src_of = getattr(stmt, "srcad_source", None) or src
        raise NoRuleError(f"srcad has no derivative for {what}", src_of.location(
            node if getattr(node, "col_offset", None) is not None else stmt),
            "Write it with NumPy functions srcad differentiates (np.concatenate, np.stack, "
            "np.where, ...), or wrap the value in srcad.stop_gradient(...) if it needs no "
            "derivative.")
    # generated code reads stale views for their shapes only: its writes are srcad's own, and
    # the user's code it came from is checked again with these shapes (_alias_check)
    alias_check = getattr(src.fn, "__srcad_alias_check__", None) if src.generated else (
        _alias_check(program, src, aliased_writes, shapes, analysed.get(id(program.node), ...))
        if spec.kinds is None else None)
    if src.generated:
        if alias_check is not None and spec.kinds:
            alias_check(dict(zip(params, spec.kinds)))
    elif spec.kinds or alias_check is not None:   # (the generic build's own check finds no
        # more than _alias_check's, which takes every x += v as an array's: none if it found none)
        found = analysed.get(id(program.node), ...) if spec.kinds else ...
        _refuse_alias(aliased_writes(program.node, known if spec.kinds else None)
                      if found is ... else found, program, src)
    one_tangent = _one_tangent(spec, program, known, complex_facts)
    stage = "forward" if one_tangent else spec.mode
    try:
        if spec.mode == "reverse" and not one_tangent:
            fdef = reverse(program, wrt_names, act, grad_seed=spec.grad_seed,
                           preserve_result=spec.preserve_result or spec.has_aux, shapes=known,
                           checkpoint=spec.checkpoint, has_aux=spec.has_aux)
        else:
            fdef = forward(program, wrt_names, act, preserve_result=spec.preserve_result,
                           shapes=known, seeded=one_tangent)
        default_nodes(program, fdef)
        stage = "optimize"
        if spec.optimized:
            fdef = optimize(fdef, program.ref(np, "np"))
            if spec.kinds:
                if spec.mode == "forward" or one_tangent:   # tangents: like their arguments
                    known.update({program.namer.tangent(n): known[n] for n in wrt_names
                                  if n in known})
                fdef = optimize(with_shapes(fdef, known, program.ref(np, "np")),
                                program.ref(np, "np"))
                fdef = scalar_reads(fdef, known, program.namer)
                fdef = scalar_accumulators(fdef, known, program.ref(np, "np"))
            fdef = inline_temporaries(fdef, {n.id for n in walk(src.node)
                                             if isinstance(n, gast.Name)})
            fdef = carried_copies(item_loops(fdef))
            if spec.kinds and complex_facts is None:    # np.vdot: for real arrays only
                # keyword-only parameters (a VJP's seed included, not a forward tangent) hold
                # NumPy values or numbers here: a call passing another array type by
                # keyword gets the generic variant
                fdef = shaped_rewrites(fdef, known, program.ref(np, "np"), tuple(
                    p.id for p in fdef.args.kwonlyargs if spec.mode == "reverse"
                    or p.id not in fdef.srcad_extra))
        tangents = {program.namer.tangent(n): n for n in wrt_names} if (
            spec.mode == "forward") else {}
        fdef = owned_writes(fdef, program.ref(np, "np"), tangents)  # never the caller's arrays
        # what the call path need not test of the returned arrays (real variants for shapes)
        facts = output_facts(fdef, known, program.ref(np, "np")) if (
            spec.kinds and complex_facts is None and spec.mode == "reverse") else None
        if verify:                   # transformed and optimized code must still compile
            tree = gast.gast_to_ast(gast.Module(body=[clone(fdef)], type_ignores=[]))
            for node in ast.walk(tree):     # statements of helpers from other lines: line
                if getattr(node, "lineno", None) is not None:   # ranges are no concern here
                    setattr(node, "end_lineno", getattr(node, "lineno"))
                    setattr(node, "end_col_offset", getattr(node, "col_offset", None))
            compile(ast.fix_missing_locations(tree), "<srcad verify>", "exec")
        stage = "emit"
        name = f"d{src.node.name}_" + "_".join(f"d{n}" for n in wrt_names)
        if spec.mode == "forward":
            name += "_fwd"
        fdef.name = program.namer.fresh(name)
        header = _header(src, spec, wrt_names, program.output)
        if one_tangent:
            header.append(f"{wrt_names[0]} is one number: its derivative is computed forward, "
                          f"with the tangent d{wrt_names[0]} = 1.0 (no tape)")
        names: set = set()      # every name the code reads or binds
        source = emit.to_source(fdef, header, names)
        namespace = emit.GeneratedNamespace(program.refs, src.namespace.cells,
                                            src.namespace.globals)
        for key, value in src.namespace.globals.items():
            if isinstance(value, types.ModuleType):
                namespace.setdefault(key, value)     # modules are not rebound: skip lookups
        for name in sorted(names):
            # builtins the code calls (len, range): bound directly, no lookup per call; a
            # later global of the same name makes the derivative stale (deps below)
            if (name not in namespace and name not in src.namespace.cells
                    and name not in src.namespace.globals and hasattr(builtins, name)):
                namespace[name] = getattr(builtins, name)
                program.deps.append((src.namespace, name, getattr(builtins, name)))
        fn = emit.compile_function(source, fdef.name, namespace)
        if spec.backend == "numba" and spec.kinds:     # shapes and dtypes known: compiled
            from .backends.numba import compiled
            fn = compiled(fn, source, namespace)
        fn.__srcad_origins__ = emit.line_origins(fdef, source, src.filename)
        if alias_check is not None:     # differentiated again: checked with its shapes
            fn.__srcad_alias_check__ = alias_check
        # differentiated again (complex_values): the parameters it was built complex for
        fn.__srcad_complex__ = frozenset(p for p in params if complex_facts is not None
                                         and p in complex_facts.complex)
    except SrcadError:
        raise
    except Exception as exc:  # a bug in srcad, not in the user's code
        raise InternalError(stage, f"{type(exc).__name__}: {exc}",
                            src.location(src.node)) from exc
    deps = []
    seen = set()
    for dep in program.deps:
        key = (id(dep[0]), dep[1] if isinstance(dep[1], str) else id(dep[1]))
        if key not in seen:
            seen.add(key)
            deps.append(dep)
    log.debug("built %s:\n%s", fdef.name, source)
    built = Derivative(fn, source, tuple(deps), registry.version(), function_state(src.fn),
                       params, tuple(fdef.srcad_extra), complex_facts)
    built.output = program.output
    built.outputs = facts
    if diskcache.enabled() and built.output is None and alias_check is None:
        # (a container output is not stored, nor code whose in-place writes are checked when
        # it is differentiated again)
        diskcache.store(f, spec, src, program, built, {n.split(".")[0] for n in names})
    return built


# the program the generic build normalized, per parse (a Source's node) shared with the
# build of the first call (_wrap): that build, specialized on the arguments' shapes,
# takes it instead of normalizing the same function again (normalize knows no shapes),
# if it is for the same containers, functions passed and helpers called, the same rules,
# code and defaults, and every name it resolved is bound as it was (its deps); the next
# build of that parse drops it
_NORMALIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _refuse_alias(alias, program, src):
    """A write into memory another name shares and reads afterwards (``alias``:
    ``analysis.aliased_writes``'s finding, or None): its located error."""
    if alias is None:
        return
    stmt, name, other, how = alias
    src_of = getattr(stmt, "srcad_source", None) or src
    written = program.describe(name)
    raise SrcadSyntaxError(
        f"writing into {written}, which shares memory with {program.describe(other)} "
        f"({how}), which is read afterwards", src_of.location(stmt),
        f"srcad follows values, so this write would not reach the other array's "
        f"derivative: make {written} its own array first (copy it with np.copy(...)).")


def _alias_check(program, src, aliased_writes, shapes, found=...):
    """For the generic derivative (no shapes, so ``x += v`` may rebind a number): a check
    of the user's program for the shapes of a later build, or None when no ``x += v`` could
    write into shared memory. A derivative of this derivative (an ``hvp``'s forward sweep
    over the reverse one) differentiates generated code, whose writes are srcad's own, and
    calls it with the shapes of its parameters, which keep the user's names."""
    if found is ...:                # (else what the build found already: views.py's gate)
        found = aliased_writes(program.node, {})
    if found is None:               # every x += v taken as an array's
        return None
    from .template import clone
    node = clone(program.node)

    def check(kinds):
        params = [p for p in program.params if p in kinds]
        known = shapes(node, {p: kinds[p] for p in params})
        _refuse_alias(aliased_writes(node, known), program, src)
    return check


def _aux_pair(src, program):
    """The value atom of a function differentiated with ``has_aux=True``, which must return
    a pair ``(value, aux)`` (``aux``: anything, given back undifferentiated); else its
    located error."""
    ret = program.node.body[-1]
    tree = program.output
    atoms = ret.value.elts if isinstance(ret, gast.Return) and isinstance(
        ret.value, gast.Tuple) else []
    pair = len(atoms) == 2 if tree is None else (
        tree[0] == trees.TUPLE and len(tree[3]) == 2 and tree[3][0] is None)
    if not pair:
        what = f"returns {trees.describe(tree)}" if tree is not None else \
            f"returns a tuple of {len(atoms)}" if atoms else "returns one value"
        raise NotDifferentiableError(
            f"{src.fn.__name__} is differentiated with has_aux=True, so it must return a pair "
            f"(value, aux), but it {what}", _def_location(src.fn, returns=True),
            hint="Return the scalar to differentiate and the auxiliary data as two items: "
                 "return loss, {'pred': pred} (or drop has_aux=True).")
    return atoms[0]


def _get(f, spec: Spec, src=None) -> Derivative:
    """The derivative of ``f`` for ``spec``, cached or built (from ``src``, ``f``'s Source
    just parsed, if given)."""
    return cache.lookup(_target(f), spec, build if src is None else
                        lambda target, spec: build(target, spec, src))


# -- argument and result conventions -----------------------------------------------------------

class _Arguments:
    """How a call's arguments map to the differentiated parameters (positional, by keyword,
    or defaulted), and the checks srcad makes on them."""

    def __init__(self, f, indices, name=None):
        self.f = f
        self.name = name or f.__name__           # the function as the user passed it
        self.indices = indices
        self.signature = inspect.signature(f)
        self.names = list(self.signature.parameters)
        self.last = max(i if type(i) is int else i[0] for i in indices)
        params = self.signature.parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in params if p.default is p.empty]
        # call lengths that bind positionally as they are, with no missing or extra argument
        self.fast = range(max(self.last + 1, len(required)), len(positional) + 1) if \
            len(required) <= len(positional) else range(0)

    def values(self, args, kwargs):
        """The values of the wrt parameters in this call; a TypeError naming the function
        for an argument it does not take (or one it misses)."""
        if not kwargs and len(args) in self.fast:
            return [args[i] for i in self.indices]
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(f"{self.name}: {exc}", _def_location(self.f),
                                hint=f"Call it as {self.name}{self.signature} is called.") from None
        bound.apply_defaults()
        return [self.item(bound.arguments, i) for i in self.indices]

    def item(self, arguments, i):
        """The value of wrt index ``i`` (a parameter's index, or (``*args``, item))."""
        if type(i) is not tuple:
            return arguments[self.names[i]]
        passed = arguments[self.names[i[0]]]
        if i[1] >= len(passed):
            raise ArgumentError(
                f"{self.name}: wrt={i[0] + i[1]} is positional argument {i[0] + i[1]}, but the "
                f"call passes {i[0] + len(passed)} positional arguments",
                _def_location(self.f, param=i),
                hint="Differentiate an argument the call passes.")
        return passed[i[1]]

    def describe(self, i) -> str:
        """How the user names wrt index ``i``: ``w``, ``args[1]``."""
        if type(i) is tuple:
            return f"{self.names[i[0]]}[{i[1]}]"
        return self.names[i] if i < len(self.names) else f"argument {i}"

    def check(self, values, indices=None):
        for i, a in zip(self.indices if indices is None else indices, values):
            t = type(a)
            if t is float or (t is np.ndarray and a.dtype.kind == "f"):
                continue                        # the common case, checked first
            if isinstance(a, (set, frozenset)):
                name = self.describe(i)
                raise NotDifferentiableError(
                    f"cannot differentiate {self.f.__name__} with respect to {name}: it is a "
                    f"{t.__name__}, whose items have no order (a derivative has one place "
                    f"for each item)", _def_location(self.f, param=i),
                    hint=f"Pass a list, a tuple or an array instead (e.g. sorted({name})).")
            for item in (a if isinstance(a, (list, tuple)) else (a,)):
                if item is None or isinstance(item, str) or _is_function(item):
                    self.not_differentiable(i, item)
                if isinstance(item, (bool, np.bool_)) or isinstance(item, numbers.Integral) or (
                        hasattr(item, "dtype") and not np.issubdtype(item.dtype, np.inexact)):
                    if item is a or not _is_number(item):
                        self.not_differentiable(i, item)   # an int item: a None leaf

    def not_differentiable(self, i, item):
        name = self.describe(i)
        kind = "a boolean" if isinstance(item, (bool, np.bool_)) else "an integer" if \
            isinstance(item, numbers.Integral) or hasattr(item, "dtype") else \
            f"not a number ({item!r})"
        dtype = f" {item.dtype}" if hasattr(item, "dtype") else ""
        hint = f"Pass a float (e.g. {name}=float(...) or .astype(float)), or leave " \
            f"{name} out of wrt."
        if _is_function(item):
            kind = "a function"
            hint = f"Leave {name} out of wrt: the derivative is built for the function " \
                "passed, it has no derivative with respect to it."
        raise NotDifferentiableError(
            f"cannot differentiate {self.f.__name__} with respect to {name}: it is {kind} "
            f"({type(item).__name__}{dtype})", _def_location(self.f, param=i), hint=hint)

    def check_tangents(self, values, tangents):
        for i, a, t in zip(self.indices, values, tangents):
            if isinstance(a, (list, tuple)):
                continue
            name = self.describe(i)
            if t is None or isinstance(t, (str, bytes, dict)):
                raise ArgumentError(
                    f"the tangent of {name} is not a number ({type(t).__name__}): expected an "
                    f"array or float shaped like {name} {np.shape(a)}",
                    _def_location(self.f, param=i),
                    hint="Pass one tangent per wrt argument, shaped like it.")
            if np.shape(t) != np.shape(a):
                raise ShapeMismatchError(
                    f"the tangent of {name} has shape {np.shape(t)} but {name} has shape "
                    f"{np.shape(a)}", _def_location(self.f, param=i),
                    hint="Pass one tangent per wrt argument, shaped like it.")
            if _has_complex(t) != _has_complex(a):      # as jax.jvp: the same kind
                kind = "complex" if _has_complex(a) else "real"
                raise ShapeMismatchError(
                    f"the tangent of {name} is {'real' if kind == 'complex' else 'complex'} "
                    f"but {name} is {kind}", _def_location(self.f, param=i),
                    hint=f"Pass a {kind} tangent" + (" (t + 0j)." if kind == "complex" else
                                                     ": a real value moves along real "
                                                     "directions only."))


def _def_location(f, param=None, returns=False):
    """Where in ``f``'s source an error about a call is best shown: the parameter ``param``
    (its index), its ``return``, or else its ``def`` line."""
    from .errors import Location
    try:
        src = parse_function(f)
    except SrcadError:
        code = getattr(f, "__code__", None)
        return Location(code.co_filename, code.co_firstlineno, None) if code else None
    a = src.node.args
    params = a.posonlyargs + a.args + [a.vararg] * bool(a.vararg) + a.kwonlyargs + [
        a.kwarg] * bool(a.kwarg)        # in the signature's order
    if type(param) is tuple:            # an item of *args
        param = param[0]
    if param is not None and param < len(params):
        return src.location(params[param])
    found = [n for n in gast.walk(src.node) if isinstance(n, gast.Return)] if returns else []
    return src.location(found[-1] if found else src.node)


_ITEMS = frozenset({np.ndarray, float, np.float64, np.float32})   # of an "arrays" list
_TUPLE_ARRAYS = "tuple of arrays"       # the kind of a tuple of them


def _kinds(args) -> tuple:
    """What a call's positional arguments are, as far as derivative code and the argument
    checks depend on it: (shape, dtype) for an array, the type of a number, "floats" for a
    list of Python floats, "arrays" for a list of real arrays (and numbers), "tuple of arrays"
    for a tuple of them (list or tuple: the build folds ``isinstance``, ``_known_types``), None
    for anything else. A cheap key: ``_canonical`` turns it into
    the shapes the derivative is built for, ``_complex_args`` into its complex parameters (a
    last entry ``("complex", index, ...)`` names the None ones that hold complex values)."""
    out: list = []
    other: tuple | None = None
    for a in args:
        t = type(a)
        if t is np.ndarray:
            out.append((a.shape, a.dtype))
        elif t is float or t is int or t is np.float64 or t is complex:
            out.append(t)
        elif t is list and {*map(type, a)} <= {float}:
            out.append("floats")        # a list of Python floats
        elif (t is list or t is tuple) and np.ndarray in {*map(type, a)} <= _ITEMS and not any(
                type(v) is np.ndarray and v.dtype.kind == "c" for v in a):
            out.append("arrays" if t is list else _TUPLE_ARRAYS)   # of real arrays (and
            # numbers): its adjoint is a list, whose parts add item by item
        elif t is dict:
            out.append(None)            # a container: its leaves have kinds (_Containers)
        elif isinstance(a, np.generic) and not isinstance(a, np.bool_):
            out.append(t)
        elif t is Batched:
            out.append(_BatchedKind(("batched", a.shape, a.dtype)))
        else:
            if trees.is_complex_value(a):     # a list or tuple of complex values
                mixed = trees.is_mixed(a)     # with real ones: refused (current)
                other = (other or (_COMPLEX,)) + ((_MIXED, len(out)) if mixed else len(out),)
            out.append(None)
    if other is not None:
        out.append(other)
    return tuple(out)


_COMPLEX, _MIXED = "complex", "mixed"


class _BatchedKind(tuple):
    """The kind of a batch of tangents (``batching.Batched``, a tangent of the batched
    sweeps): ``("batched", logical shape, dtype)``, which decide the tangent checks; never
    equal to an array's kind ``(shape, dtype)`` (nor of type ``tuple``, which the kinds of
    arrays are). Its primal is unknown to the build (``_unknown_tangents``), and the fast path
    never takes it."""

    __slots__ = ()


def _is_function(value) -> bool:
    """Is ``value`` a function a derivative calls (a callable that is neither a class nor a
    container, which are passed by their leaves)? The derivative is built for it."""
    return callable(value) and not isinstance(value, type) and not trees.is_container(value)


def _keyed(kinds: tuple, values) -> tuple:
    """``kinds`` of ``values`` (``_kinds``) with each function among them as ``Same``, each
    str as ``Static``: the derivative built for a callable argument is built for that
    function, for a str argument for that value."""
    return tuple(dispatch.Same(v) if k is None and _is_function(v) else dispatch.Static(v)
                 if k is None and type(v) is str else k
                 for k, v in zip(kinds, values)) + kinds[len(values):]


def _called(kinds, names, kwargs=None) -> tuple:
    """(parameter, ``Same``) of the functions passed and (parameter, ``Static``) of the str
    values passed (``_keyed`` kinds, keywords): a ``Spec.callables``, what the build resolves
    calls of those parameters to, and the constants it reads them as."""
    out = tuple((names[i], k) for i, k in enumerate((kinds or ())[:len(names)])
                if type(k) is dispatch.Same or type(k) is dispatch.Static)
    if kwargs:
        out += tuple((k, dispatch.Same(v) if _is_function(v) else dispatch.Static(v))
                     for k, v in kwargs.items() if _is_function(v) or type(v) is str)
    return out


def _defaulted(target, n: int, kwargs) -> tuple:
    """(parameter, ``Static``) of each parameter with a str default that a call passing
    ``n`` positional arguments and ``kwargs`` leaves to it: built for that default, as for a
    str passed (the defaults are a dependency of the derivative)."""
    defaults = getattr(target, "__defaults__", None) or ()
    kwdefaults = getattr(target, "__kwdefaults__", None) or {}
    if not defaults and not kwdefaults:
        return ()
    code = target.__code__
    names = code.co_varnames[:code.co_argcount]
    first = len(names) - len(defaults)
    out = tuple((names[first + i], dispatch.Static(d)) for i, d in enumerate(defaults)
                if type(d) is str and first + i >= n and names[first + i] not in kwargs)
    return out + tuple((k, dispatch.Static(d)) for k, d in kwdefaults.items()
                       if type(d) is str and k not in kwargs)


def _with_keywords(kinds, kwargs) -> tuple:
    """``kinds`` with the keyword arguments holding complex values named in its last entry."""
    names = tuple(k for k, v in kwargs.items() if trees.is_complex_value(v))
    if not names:
        return kinds
    if kinds and type(kinds[-1]) is tuple and kinds[-1][0] == _COMPLEX:
        return kinds[:-1] + (kinds[-1] + names,)
    return kinds + ((_COMPLEX,) + names,)


def _complex_args(kinds, names) -> tuple[tuple, tuple]:
    """(``kinds`` without its complex entry, the names of the complex parameters)."""
    if not kinds:
        return kinds, ()
    found = set()
    if type(kinds[-1]) is tuple and kinds[-1][0] == _COMPLEX:
        for k in kinds[-1][1:]:
            if type(k) is tuple:
                name = names[k[1]] if k[1] < len(names) else f"argument {k[1]}"
                raise NotDifferentiableError(
                    f"{name} holds both real and complex values", hint="srcad builds a "
                    "derivative for real or for complex values: make every item complex "
                    "(x + 0j), or pass the real ones apart.")
            if type(k) is str or k < len(names):
                found.add(names[k] if type(k) is int else k)
        kinds = kinds[:-1]
    for i, k in enumerate(kinds[:len(names)]):
        if (type(k) is tuple and k[1].kind == "c") or (
                isinstance(k, type) and issubclass(k, (complex, np.complexfloating))):
            found.add(names[i])
    return kinds, tuple(sorted(found))


def _primal_kinds(kinds, n) -> tuple:
    """The kinds of the first ``n`` arguments (the primals of a forward call), with the
    complex entry (when there is one) kept for them."""
    if kinds and type(kinds[-1]) is tuple and kinds[-1][0] == _COMPLEX:
        mine = tuple(k for k in kinds[-1][1:] if type(k) is str or (
            k[1] if type(k) is tuple else k) < n)
        return kinds[:n] + (((_COMPLEX,) + mine,) if mine else ())
    return kinds[:n]


def _unknown_tangents(kinds, n, indices) -> tuple:
    """``kinds`` with the primal of each tangent of unknown kind (a dask or cupy array)
    unknown too: the variant is keyed on the primals, and a tangent must not be taken for a
    NumPy array shaped like its primal (written into in place)."""
    tangents = kinds[n:n + len(indices)]
    if not any(t is None or type(t) is _BatchedKind for t in tangents):
        return kinds
    unknown = {i for i, t in zip(indices, tangents) if t is None or type(t) is _BatchedKind}
    return tuple(None if i in unknown else k for i, k in enumerate(kinds))


def _has_complex(x) -> bool:
    """Is ``x`` (a seed: a number, an array or a tuple of those) complex?"""
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return dtype.kind == "c"
    if isinstance(x, (list, tuple)):
        return any(_has_complex(v) for v in x)
    return isinstance(x, complex)


def _complex_seed(seed, entry, f):
    """The seed as the cotangent of the output: complex for an output that may be complex
    (a real seed is converted), refused for a real one (its cotangent is real)."""
    outputs = entry.complex.outputs if entry.complex is not None else None
    if isinstance(seed, (list, tuple)):
        return type(seed)(_complex_seed_item(s, outputs[i] if outputs and i < len(outputs)
                                             else False, f) for i, s in enumerate(seed))
    return _complex_seed_item(seed, bool(outputs and outputs[0]), f)


def _complex_seed_item(seed, complex_output, f):
    if complex_output:
        return seed if _has_complex(seed) else seed + 0j
    if _has_complex(seed):
        raise ShapeMismatchError(
            f"the seed is complex but the output of {f.__name__} is real: its cotangent is "
            "real", _def_location(f, returns=True),
            hint="Pass a real seed (np.real(seed)); the imaginary part pairs with nothing.")
    return seed


def _canonical(kinds):
    """``kinds`` as the derivative is built for them: () for numbers, an array's shape with
    each dimension 1 or the symbol of its size ("n0", "n1", ... in order of appearance), so
    arguments whose shapes agree in the same places share one derivative whatever their
    sizes."""
    if kinds is None:
        return None
    symbols: dict = {}

    def dim(n):
        return 1 if n == 1 else symbols.setdefault(n, f"n{len(symbols)}")

    def canonical(k):
        if type(k) is tuple:      # an empty array (a 0 dimension): the generic derivative
            return None if 0 in k[0] else tuple(dim(n) for n in k[0])
        return k if k is None or k in ("floats", "arrays", _TUPLE_ARRAYS) else None if \
            type(k) in (dispatch.Same, dispatch.Static, _BatchedKind) else ()
    return tuple(canonical(k) for k in kinds)


_TYPES = {"floats": list, "arrays": list, _TUPLE_ARRAYS: tuple}    # the types kinds tell


def _known_types(src, spec) -> dict:
    """parameter name -> the type its argument has in every call the variant built for
    ``spec`` serves: from its (canonical) kinds, a list or a tuple of arrays, a list of
    floats, an array (a shape of at least one dimension; () may be a 0-d array or a number);
    from ``Spec.callables``, each ``Typed``. The build folds ``isinstance(p, tuple)`` and
    ``type(p) is list`` of them (``normalize``)."""
    out = {name: t.obj for name, t in spec.callables if type(t) is dispatch.Typed}
    if not spec.kinds:
        return out
    a = src.node.args
    names = [p.id for p in a.posonlyargs + a.args]
    for name, k in zip(names, spec.kinds):
        if type(k) is tuple and k:
            out[name] = np.ndarray
        elif type(k) is str and k in _TYPES:
            out[name] = _TYPES[k]
    return out


def _tests_types(src) -> bool:
    """Does ``f``'s own body name ``isinstance`` or ``type`` (which ``_known_types`` decides
    when the build knows its arguments' types, so that the generic build's normalized program
    is not the specialized one's)?"""
    from .nodes import walk
    return any(isinstance(n, gast.Name) and n.id in ("isinstance", "type")
               for n in walk(src.node))


def _typed(kinds, names) -> tuple:
    """(parameter, ``Typed``) of each list or tuple argument among ``kinds`` (raw): what a
    derivative differentiated again is built for (``_wrap``'s ``current``)."""
    return tuple((name, dispatch.Typed(_TYPES[k])) for name, k in zip(names, kinds or ())
                 if type(k) is str and k in _TYPES)


def _is_number(item) -> bool:
    """Is ``item`` a Python or NumPy int or bool (a leaf of a container argument that is
    structure, not a value: its derivative is None, as for dicts)?"""
    return isinstance(item, (numbers.Integral, np.bool_)) and not isinstance(item, np.ndarray)


def _int_item_tangents(primals, tangents, indices) -> tuple:
    """``tangents`` with a zero for each int or bool item of a list or tuple argument: such
    an item is structure, whose gradient is None (``random_like`` tangents carry None there
    too), so whatever the tangent holds there (None, or a number) moves nothing."""
    out = list(tangents)
    for k, (i, t) in enumerate(zip(indices, tangents)):
        a = primals[i] if type(i) is int and i < len(primals) else None
        if isinstance(a, (list, tuple)) and type(a) in (list, tuple) and type(t) in (
                list, tuple) and len(t) == len(a) and any(_is_number(ai) for ai in a):
            out[k] = type(t)(0.0 if _is_number(ai) else ti for ai, ti in zip(a, t))
    return tuple(out)


def _like(g, a, entry=None):
    """A derivative with the type, shape and dtype of the argument it belongs to (None for
    an int or bool item of a list or tuple)."""
    if _is_number(a):
        return None
    if isinstance(a, (list, tuple)):
        if isinstance(g, (list, tuple)) or (          # an array for a list a NumPy function
                type(a) in (list, tuple) and isinstance(g, np.ndarray) and g.ndim and
                len(g) == len(a)):                    # took whole
            return type(a)(_like(gi, ai, entry) for gi, ai in zip(g, a))
        return g
    if isinstance(a, float) and not isinstance(a, np.generic):     # np.float64 is a float
        if type(g) is not np.float64 and _has_complex(g):
            g = _real_part(g, a, entry)
        return float(g)
    if type(a) is complex:
        return complex(g)
    if isinstance(a, np.ndarray):
        if type(g) is Batched and g.shape == a.shape and g.dtype == a.dtype:
            return g            # a batch of cotangents (the batched sweeps own it)
        if not isinstance(g, np.ndarray) or g.shape != a.shape:
            g = np.broadcast_to(g, a.shape).copy()
        if g.dtype != a.dtype:
            if g.dtype.kind == "c" and a.dtype.kind != "c":
                g = _real_part(g, a, entry)
            g = g.astype(a.dtype)
        return g
    if isinstance(a, np.generic):
        if a.dtype.kind != "c" and _has_complex(g):
            g = _real_part(g, a, entry)
        return a.dtype.type(g)
    return g


def _real_part(g, a, entry):
    """The cotangent of a real argument is real: in a complex build, the real part of
    ``g`` (the rules keep it real; this is the last guard); in a real build a complex ``g``
    means a complex value srcad did not know about, refused."""
    if entry is not None and entry.complex is not None:
        return np.real(g)
    raise NotDifferentiableError(
        f"a complex value reached the derivative of a real argument ({type(a).__name__}), "
        "but the derivative was built for real values only",
        hint="srcad knows a value is complex from complex arguments, complex literals (1j) "
             "and dtypes (dtype=complex) in the code: pass the argument as complex, or "
             "mention the dtype where the complex value is made.")


_MAX_VARIANTS = 256     # argument-shape keys remembered per derivative function


def _unshared(derivatives: tuple, args) -> tuple:
    """``derivatives`` with each array its caller's own: derivative code may return an
    argument itself (the gradient of ``np.sum(w * x)`` in ``x`` is ``w``), one array for two
    derivatives, or a view; those are copied, so changing a result in place changes
    nothing else."""
    taken = {id(a) for a in args}
    out = []
    for g in derivatives:
        if type(g) is np.ndarray and (g.base is not None or id(g) in taken):
            g = g.copy()
        taken.add(id(g))
        out.append(g)
    return tuple(out)


def _output_seed(seed, entry, f) -> tuple:
    """The seed of a function returning a container (``entry.output``) as the tuple of
    leaves its generated code takes; an ``ArgumentError`` for a seed of another structure."""
    leaves: list = []
    found = trees.flatten(seed, leaves)
    if found != entry.output:
        raise ArgumentError(
            f"the seed of {f.__name__} must have the structure of its output, "
            f"{trees.describe(entry.output)}, not "
            f"{trees.describe(found) if found is not None else type(seed).__name__}",
            _def_location(f, returns=True),
            hint="Pass a seed (cotangent) with the output's containers, keys and fields, and "
                 "an array or float shaped like each of its values.")
    return tuple(leaves)


def _value(value, entry):
    """The value of ``f`` as the generated code returned it, with the structure of ``f``'s
    own output (a container's leaves come back as a tuple)."""
    return value if entry.output is None else trees.build(entry.output, iter(value))


def _tangent(out, entry, args):
    """The output's tangent a forward derivative returned, as the caller gets it: with the
    output's structure, sharing no memory with the arguments (and tangents) ``args``."""
    if entry.output is None:          # one tangent, or a tuple of them
        if type(out) is Batched:      # a batch of tangents: the batched sweep's own
            return out
        return tuple(_unshared(out, args)) if type(out) is tuple else _unshared((out,), args)[0]
    return trees.build(entry.output, iter(_unshared(tuple(out), args)))


def _result(out, spec, entry, derivatives):
    """A reverse derivative's result from what its generated code returned (``out``): the
    derivatives (``derivatives`` shapes them as the caller gets them), after the value with
    ``preserve_result``; with ``has_aux``, ``(derivatives, aux)``, or ``((value, aux),
    derivatives)`` with ``preserve_result`` (``value_and_grad``), as JAX's."""
    if not (spec.preserve_result or spec.has_aux):
        return derivatives(out)
    value, grads = out
    value, grads = _value(value, entry), derivatives(grads)
    if spec.has_aux and not spec.preserve_result:
        return grads, value[1]
    return value, grads


def _own(g, a, taken: set, entry=None):
    """The derivative ``g`` of the argument ``a`` as the caller gets it: shaped and typed
    like ``a`` (``_like``) and sharing no memory with the arrays whose ids are ``taken``
    (the arguments, the derivatives before it), to which it is added."""
    if type(g) is np.ndarray and type(a) is np.ndarray and g.shape == a.shape and \
            g.dtype == a.dtype and g.base is None and id(g) not in taken:
        taken.add(id(g))                     # the common case, in a few tests
        return g
    if type(g) is float and type(a) is float:
        return g
    g = _like(g, a, entry)
    if type(g) is np.ndarray and (g.base is not None or id(g) in taken):
        g = g.copy()
    taken.add(id(g))
    return g


def _other_array(x) -> bool:
    """Is ``x`` (or an item of a tuple or list ``x``) an array of a type other than NumPy's?"""
    if isinstance(x, (list, tuple)):
        return any(map(_other_array, x))
    return _other_array_type(x)


def _refuse_array_api_only(target, args, kwargs) -> None:
    """Refuse an argument that implements the array API standard but none of NumPy's
    dispatch protocols: the generated code is NumPy code, which such an array does not
    reach (NumPy would coerce it, or fail inside the derivative)."""
    for i, a in enumerate((*args, *kwargs.values())):
        if hasattr(a, "__array_namespace__") and not isinstance(a, (np.ndarray, np.generic)) \
                and not (hasattr(a, "__array_function__") or hasattr(a, "__array_ufunc__")):
            t = type(a)
            raise NotDifferentiableError(
                f"cannot differentiate {target.__name__} on argument {i}, a "
                f"{t.__module__}.{t.__qualname__}: it implements the array API standard only "
                f"(__array_namespace__), not NumPy's __array_function__/__array_ufunc__, "
                f"which srcad's NumPy code runs through", _def_location(target, param=i),
                hint="srcad works on NumPy arrays and on arrays that implement NumPy's "
                     "protocols (dask, cupy; docs/arrays.md): convert it first "
                     "(np.from_dlpack(x) or np.asarray(x)).")


def _note_origin(exc: BaseException, fn, target) -> None:
    """Add to an exception raised inside generated code a note naming the generated line
    (its text: a traceback printed by Python 3.11 and 3.12 shows none for generated code)
    and the line of the user's code it differentiates."""
    code = fn.__code__
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__)
              if fr.filename == code.co_filename]
    if not frames or isinstance(exc, SrcadError) or any(
            n.startswith(f"in {code.co_name}, ") for n in getattr(exc, "__notes__", ())):
        return
    lineno = frames[-1].lineno or 0
    text = linecache.getline(code.co_filename, lineno).strip()
    note = (f"in {code.co_name}, the derivative srcad generated for {target.__qualname__} "
            f"({code.co_filename}, line {lineno}): {text}")
    origin = getattr(fn, "__srcad_origins__", {}).get(lineno)
    if origin is not None:
        user = linecache.getline(*origin).strip()
        note += f"\n  from {origin[0]}:{origin[1]}: {user}"
    add_note = getattr(exc, "add_note", None)        # Python 3.11 and later
    if add_note is not None:
        add_note(note)


def _has_container(args, kwargs) -> bool:
    return any(map(trees.is_container, args)) or any(map(trees.is_container, kwargs.values()))


def _parsed(f):
    """``f``'s Source, or None when it cannot be read (the build says why)."""
    try:
        return parse_function(f)
    except (SrcadError, RecursionError):     # too deep to parse here: the build retries
        return None


def _reads_containers(f, depth=0, src=None) -> bool:
    """Does ``f`` read a parameter as only a container is read (``p['W']``, ``p.items()``,
    ``p.W`` for an attribute arrays do not have, ``'W' in p``, or passes it to a helper that
    does), directly or through what it takes out of one (``layers[0].W``, ``for layer in
    layers: layer.W``, ``for k, v in p.items()``), or read a dict it makes (or a global one)
    with a parameter as the key (``table[name]``: a str argument, a constant of each
    build)? Its generic derivative may then be refused while the one built for each call's
    containers (or str values) is not. ``src``: ``f``'s Source, if the caller has parsed
    it."""
    src = src if src is not None else _parsed(f)
    if src is None:
        return False
    node = src.node
    a = node.args
    if a.vararg or a.kwarg or _star_unpacked(node):
        return True             # *args, **kwargs, f(*xs): per call, their lengths and keys
    derived = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}

    def rooted(n) -> bool:
        """Is ``n`` a parameter, or an item, attribute or method result taken out of one
        (``zip(layers, acts)`` and the like go over their arguments)?"""
        while isinstance(n, (gast.Subscript, gast.Attribute, gast.Call)):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in (
                    "zip", "enumerate", "reversed", "list", "tuple"):
                return any(map(rooted, n.args))
            n = n.func if isinstance(n, gast.Call) else n.value
        return isinstance(n, gast.Name) and n.id in derived

    def bind(target):
        for t in walk(target):
            if isinstance(t, gast.Name) and t.id not in derived:
                derived.add(t.id)
                return True
        return False

    changed = True
    while changed:           # names bound to what is taken out of parameters, to a fixed point
        changed = False
        for n in walk(node):
            if isinstance(n, (gast.For, gast.comprehension)) and rooted(n.iter) or \
                    isinstance(n, gast.Assign) and isinstance(
                        n.value, (gast.Subscript, gast.Name)) and rooted(n.value):
                # (a comprehension's variable too: sum(np.sum(l.W) for l in layers))
                targets = [n.target] if not isinstance(n, gast.Assign) else n.targets
                changed |= any([bind(t) for t in targets])
    keys = {n.target.id for n in walk(node) if isinstance(n, gast.For) and isinstance(
        n.target, gast.Name) and isinstance(n.iter, (gast.Tuple, gast.List)) and n.iter.elts
        and all(isinstance(e, gast.Constant) and isinstance(e.value, str)
                for e in n.iter.elts)}      # for k in ('a', 'b'): p[k]
    own_keys = {(n.iter.id, n.target.id) for n in walk(node) if isinstance(n, gast.For)
                and isinstance(n.iter, gast.Name) and isinstance(n.target, gast.Name)}
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
    made = {t.id for n in walk(node) if isinstance(n, gast.Assign) and isinstance(
        n.value, (gast.Dict, gast.DictComp)) for t in n.targets if isinstance(t, gast.Name)}
    assigned = {n.id for n in walk(node) if isinstance(n, gast.Name) and
                not isinstance(n.ctx, gast.Load)}
    for n in walk(node):
        key = n.slice if isinstance(n, gast.Subscript) else n.args[0] if isinstance(
            n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr == "get" and \
            n.args else None
        base = n.value if isinstance(n, gast.Subscript) else n.func.value if key is not None \
            else None
        if isinstance(key, gast.Name) and key.id in params and isinstance(base, gast.Name) \
                and (base.id in made or base.id not in assigned and
                     type(src.namespace.lookup(base.id)) is dict):
            return True          # table[name] of a dict it makes or a global: per str
        if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and isinstance(
                n.slice, gast.Name) and (n.value.id, n.slice.id) in own_keys and rooted(n.value):
            return True          # for k in params: params[k] (a dict's keys)
        if isinstance(n, gast.Subscript) and rooted(n.value) and (
                isinstance(n.slice, gast.Constant) and isinstance(n.slice.value, str) or
                isinstance(n.slice, gast.JoinedStr) or     # params[f"W{i}"]
                isinstance(n.slice, gast.Name) and n.slice.id in keys):
            return True
        if isinstance(n, gast.Dict) and any(k is None and rooted(v)
                                            for k, v in zip(n.keys, n.values)):
            return True          # {**DEFAULTS, **params}
        if isinstance(n, gast.Attribute) and rooted(n.value) and not hasattr(np.ndarray, n.attr):
            return True
        if isinstance(n, gast.DictComp) and any(rooted(g.iter) for g in n.generators):
            return True          # {k: p[k] for k in p}
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and \
                n.func.id == "super" and not n.args:
            return True          # super().loss(x): a method of self's class
        if isinstance(n, gast.Compare) and any(isinstance(op, (gast.In, gast.NotIn))
                                               for op in n.ops) and any(map(rooted, n.comparators)):
            return True          # 'b' in params
        if isinstance(n, gast.Call) and (isinstance(n.func, gast.Name) and n.func.id in derived
                                         or isinstance(n.func, gast.Subscript) and rooted(n.func)):
            return True          # model(X): an object's __call__ (or a callable argument)
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Name) and \
                n.value.id in derived and isinstance(n.targets[0], (gast.Tuple, gast.List)):
            return True          # W, (b, c) = params
        if isinstance(n, gast.Call) and depth < 4 and any(
                isinstance(a, gast.Name) and a.id in derived for a in n.args):
            callee = src.namespace.resolve(n.func)
            if isinstance(callee, types.FunctionType) and not (
                    callee.__module__ or "").startswith(("numpy", "srcad")) and \
                    _reads_containers(callee, depth + 1):
                return True
    return False


def _star_unpacked(node) -> set:
    """The parameters of ``node`` (a FunctionDef) that a call unpacks: ``g(*xs)``,
    ``g(**d)``; their lengths and keys are those of each call's arguments."""
    a = node.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
    found = {n.value.id for n in walk(node) if isinstance(n, gast.Starred)
             and isinstance(n.value, gast.Name)}
    found |= {k.value.id for n in walk(node) if isinstance(n, gast.Call)
              for k in n.keywords if k.arg is None and isinstance(k.value, gast.Name)}
    return found & params


def _container_reads(f) -> dict:
    """The parameters ``f`` itself reads as containers: name -> ('key', k) for ``p['k']``,
    ('attribute', a) for ``p.a`` (an attribute arrays do not have); the first read of each."""
    try:
        node = parse_function(f).node
    except (SrcadError, RecursionError):
        return {}
    a = node.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
    found = []
    for n in gast.walk(node):
        if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and \
                n.value.id in params and isinstance(n.slice, gast.Constant) and \
                isinstance(n.slice.value, str):
            found.append((n.lineno, n.col_offset, n.value.id, "key", n.slice.value))
        elif isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                n.value.id in params and not hasattr(np.ndarray, n.attr):
            found.append((n.lineno, n.col_offset, n.value.id, "attribute", n.attr))
    reads: dict = {}
    for *_, name, how, item in sorted(found, reverse=True):     # the first in the source wins
        reads[name] = (how, item)
    return reads


def _refuse_wrong_structure(target, args, kwargs) -> None:
    """After a call failed inside generated code: if an argument is not the container
    ``target`` reads it as (``p['W']`` of a list or an array, ``m.W`` of an object without
    ``W``), raise an srcad error naming the parameter (else return: the error stands). Run
    only on failure, so the call path pays nothing for it."""
    reads = _container_reads(target)
    if not reads:
        return
    try:
        bound = inspect.signature(target).bind(*args, **kwargs)
    except TypeError:
        return
    names = list(inspect.signature(target).parameters)
    for name, (how, item) in reads.items():
        if name not in bound.arguments:
            continue
        value = bound.arguments[name]
        if how == "key":
            ok = isinstance(value, collections.abc.Mapping) and item in value
            read, wants = f"{name}[{item!r}]", f"a dict (or mapping) with the key {item!r}"
        else:
            ok = hasattr(value, item)
            read, wants = f"{name}.{item}", f"an object with the attribute {item!r}"
        if not ok:
            raise NotDifferentiableError(
                f"{target.__name__} reads {read}, but {name} is {type(value).__name__}"
                f"{' without it' if isinstance(value, collections.abc.Mapping) else ''}",
                _def_location(target, names.index(name)),
                hint=f"Pass {wants} as {name}.")


class _Containers:
    """Calls with container arguments (``srcad.trees``): the derivative built for their
    structures takes their leaves as parameters; its derivatives are rebuilt with the
    structure and types of the arguments they belong to. A call walks each argument once;
    what depends only on the structures and kinds (the derivative, the wrt leaves) is kept
    per (structures, kinds)."""

    def __init__(self, target, spec, arguments, src=None):     # src: target's, if parsed
        self.target, self.spec, self.arguments = target, spec, arguments
        self.signature = arguments.signature
        parameters = list(self.signature.parameters.values())
        self.simple = len(parameters) if all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters) else -1
        # *args, **kwargs and the parameters f(*xs) unpacks: containers in every call
        self.star = {p.name for p in parameters if p.kind in (p.VAR_POSITIONAL,
                                                               p.VAR_KEYWORD)}
        if any(p.kind is p.VAR_POSITIONAL or p.kind is p.VAR_KEYWORD for p in parameters) or \
                not isinstance(target, types.FunctionType):
            unpacked: set = set()
        else:
            try:
                unpacked = _star_unpacked((src or parse_function(target)).node)
            except (SrcadError, RecursionError):
                unpacked = set()
        self.star |= unpacked
        self.unpacked = unpacked
        self.plans: dict = {}
        self.names: dict = {}          # structures -> the lowered function's parameters
        self.last: Derivative | None = None     # the derivative built last (its source)
        self.dispatcher: dispatch.Dispatcher | None = None    # calls of flat dicts: fast path

    def flatten(self, args, kwargs):
        """(positional leaves, keyword leaves, structures, per parameter (value, first flat
        index, leaves or None))."""
        if kwargs or len(args) != self.simple:
            try:
                bound = self.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.arguments.name}: {exc}") from None
            bound.apply_defaults()
            pairs = [(p, bound.arguments[p.name]) for p in self.signature.parameters.values()]
        else:
            pairs = [(None, a) for a in args]
        flat: list = []
        keyword: list = []
        structures = []
        layout = []
        for (p, value), name in zip(pairs, self.signature.parameters):
            into = keyword if p is not None and p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) \
                else flat
            start = len(flat) + len(keyword)
            if trees.is_container(value) or name in self.star and (
                    type(value) in (list, tuple) or p is not None and p.kind in (
                        p.VAR_POSITIONAL, p.VAR_KEYWORD)):
                leaves: list = []
                structures.append((name, trees.flatten(value, leaves)))
                into += leaves
                layout.append((value, start, leaves))
            else:
                into.append(value)
                layout.append((value, start, None))
        return flat, keyword, tuple(structures), layout

    def part(self, layout, i):
        """(value, first flat index, leaves or None) of wrt index ``i``: a parameter's
        (``layout[i]``), or an item of ``*args``, ``(parameter, item)``."""
        if type(i) is not tuple:
            return layout[i]
        value, start, leaves = layout[i[0]]
        item = self.arguments.item({self.arguments.names[i[0]]: value}, i)
        before = sum(len(trees.leaves(v)) for v in value[:i[1]])
        if not trees.is_container(item) and type(item) not in (list, tuple):
            return item, start + before, None
        return item, start + before, leaves[before:before + len(trees.leaves(item))]

    def wrt(self, layout):
        """The lowered wrt indices, and per wrt parameter the indices of its leaves."""
        flat, groups = [], []
        for i in self.spec.wrt:
            value, start, leaves = self.part(layout, i)
            if leaves is None:
                self.arguments.check([value], (i,))
                group = [start]
            else:
                group = [start + k for k, leaf in enumerate(leaves)
                         if trees.differentiable(leaf)]
                if not group:
                    raise NotDifferentiableError(
                        f"cannot differentiate {self.target.__name__} with respect to "
                        f"{self.arguments.describe(i)}: it holds no float arrays or floats",
                        _def_location(self.target, param=i),
                        hint="Differentiate a container of float arrays and floats.")
            flat += group
            groups.append(group)
        return tuple(flat), groups

    def plan(self, flat, keyword, structures, layout):
        """(derivative, wrt leaves, their groups, keyword-only leaf names) for this call."""
        kinds = _kinds(flat + keyword)
        if None in kinds:           # a function among the leaves (model.act): in the key
            kinds = _keyed(kinds, flat + keyword)
        key = (structures, kinds)
        plan = self.plans.get(key)
        if plan is not None and plan[0].fresh(self.target) and None not in kinds:
            self.last = plan[0]     # what ran last (show, .source): this call's, built before
            return plan
        wrt, groups = self.wrt(layout)
        names = self.names.get(structures)
        if names is None:
            from .normalize.containers import param_names
            names = self.names[structures] = param_names(parse_function(self.target).node,
                                                         dict(structures))
        if len(self.plans) >= _MAX_VARIANTS:
            self.plans.clear()
        shaped, complex_args = _complex_args(kinds, names)
        entry = _get(self.target, dataclasses.replace(
            self.spec, wrt=wrt, single=False, containers=structures,
            kinds=_canonical(shaped[:len(flat)]), complex_args=complex_args,
            callables=_called(shaped, names)))
        plan = self.plans[key] = (entry, wrt, groups, names[len(flat):])
        self.last = entry
        return plan

    def regroup(self, grads, layout, groups, wrt, values, entry):
        """The derivatives of the wrt leaves (``grads``, as the generated code returns them)
        as the caller gets them: each wrt argument's derivative with its structure."""
        found = iter(grads if len(wrt) > 1 else (grads,))
        taken = {id(v) for v in values}
        out = []
        for i, group in zip(self.spec.wrt, groups):
            value, start, leaves = self.part(layout, i)
            if leaves is None:
                out.append(_own(next(found), value, taken, entry))
                continue
            new = [None] * len(leaves)
            for k in group:
                new[k - start] = _own(next(found), leaves[k - start], taken, entry)
            out.append(trees.rebuild(value, iter(new)))
        return out[0] if self.spec.single else tuple(out)

    def reverse(self, args, kwargs, seed):
        flat, keyword, structures, layout = self.flatten(args, kwargs)
        entry, wrt, groups, kwnames = self.plan(flat, keyword, structures, layout)
        named = dict(zip(kwnames, keyword))
        if not self.spec.grad_seed:
            named[entry.extra[0]] = seed if seed is None or entry.output is None or \
                self.spec.has_aux else _output_seed(seed, entry, self.target)
        out = _call(entry.fn, flat, named)
        result = self.finish(out, layout, groups, wrt, flat + keyword, entry)
        if self.dispatcher is not None and not named and entry.output is None and \
                not self.star:
            dicts = _flat_dicts(layout, structures, self.spec.wrt, groups)
            if dicts is not None:
                self.dispatcher.offer(args, _keyed(_kinds(flat), flat), entry, self.target, dicts,
                                      self.finish_positional)
        return result

    def finish(self, out, layout, groups, wrt, values, entry):
        return _result(out, self.spec, entry, lambda grads: self.regroup(
            grads, layout, groups, wrt, values, entry))

    def finish_positional(self, out, args, entry):
        """The result of the call ``args`` (no keywords), whose derivative returned ``out``
        (the dispatcher's fast path, when the result needs more than it checks)."""
        flat, keyword, structures, layout = self.flatten(args, {})
        _, wrt, groups, _ = self.plan(flat, keyword, structures, layout)
        return self.finish(out, layout, groups, wrt, flat + keyword, entry)

    def leaf_tangents(self, tangents, layout, structures, groups) -> list:
        """The tangents of the wrt leaves, each container tangent checked against the
        structure of its argument."""
        out = []
        for i, t, group in zip(self.spec.wrt, tangents, groups):
            value, start, leaves = self.part(layout, i)
            if leaves is None:
                out.append(t)
                continue
            tl: list = []
            name = self.arguments.describe(i)
            if trees.flatten(t, tl) != trees.flatten(value, []):
                raise ShapeMismatchError(
                    f"the tangent of {name} does not have its structure",
                    _def_location(self.target, param=i),
                    hint=f"Pass a tangent shaped like {name}: the same containers, keys "
                         "and fields, an array of the same shape for each array.")
            out += [tl[k - start] for k in group]
        return out

    def forward(self, primals, tangents, kwargs):
        tangents = _int_item_tangents(primals, tangents, self.spec.wrt)
        flat, keyword, structures, layout = self.flatten(primals, kwargs)
        entry, wrt, groups, kwnames = self.plan(flat, keyword, structures, layout)
        return _call_forward(entry, flat, dict(zip(kwnames, keyword)), self.leaf_tangents(
            tangents, layout, structures, groups), self.spec.preserve_result)

    def over(self, spec):
        """The derivative of this derivative (``spec``, forward mode: a Hessian-vector
        product) for calls with containers: built per structure from the generated function
        of this derivative for that structure, which takes the leaves."""
        outer = _Containers(self.target, spec, self.arguments)
        built: dict = {}

        def derivative(*args, **kwargs):
            n = len(args) - len(spec.wrt)
            primals, tangents = args[:n], _int_item_tangents(args[:n], args[n:], spec.wrt)
            flat, keyword, structures, layout = self.flatten(primals, kwargs)
            inner, iwrt, igroups, kwnames = self.plan(flat, keyword, structures, layout)
            wrt, groups = outer.wrt(layout)
            entry = _inner_variant(built, inner, wrt, flat, keyword, spec)
            out = _call_forward(entry, flat, dict(zip(kwnames, keyword)), outer.leaf_tangents(
                tangents, layout, structures, groups), spec.preserve_result)

            def shaped(leaves):         # shaped like this derivative's result
                return self.regroup(leaves, layout, igroups, iwrt, flat + keyword, inner)
            return (shaped(out[0]), shaped(out[1])) if spec.preserve_result else shaped(out)
        return derivative


    def under(self, spec):
        """The reverse-mode derivative of this derivative (``spec``: reverse over reverse,
        seeded with a cotangent of this derivative's result, or ``grad`` of it when that is
        one float) for calls with containers: built per structure from the generated
        function of this derivative for that structure, which takes the leaves and returns
        the wrt leaves' derivatives; the seed is taken apart as ``regroup`` builds them."""
        outer = _Containers(self.target, spec, self.arguments)
        built: dict = {}

        def derivative(*args, seed=None, **kwargs):
            flat, keyword, structures, layout = self.flatten(args, kwargs)
            inner, iwrt, igroups, kwnames = self.plan(flat, keyword, structures, layout)
            wrt, groups = outer.wrt(layout)
            entry = _inner_variant(built, inner, wrt, flat, keyword, spec)
            named = dict(zip(kwnames, keyword))
            if not spec.grad_seed:
                leaves = self.seed_leaves(seed, layout, igroups)
                named[entry.extra[0]] = leaves if len(iwrt) > 1 else leaves[0]
            out = _call(entry.fn, flat, named)
            return outer.finish(out, layout, groups, wrt, flat + keyword, entry)
        return derivative

    def seed_leaves(self, seed, layout, groups) -> list:
        """A cotangent of this derivative's result (shaped as ``regroup`` gives it) as the
        leaves its generated function returns, in order; an ``ArgumentError`` for a seed of
        another structure."""
        parts = (seed,) if self.spec.single else seed
        out: list = []
        if seed is None or type(parts) is not tuple or len(parts) != len(groups):
            raise ArgumentError(f"the seed of the derivative of {self.target.__name__}'s "
                                "derivative must have the structure of that derivative's "
                                f"result, not {type(seed).__name__}",
                                _def_location(self.target),
                                hint="Pass a seed shaped like the gradient (the same "
                                     "containers and keys).")
        for i, group, part in zip(self.spec.wrt, groups, parts):
            value, start, leaves = self.part(layout, i)
            if leaves is None:
                out.append(part)
                continue
            given: list = []
            if trees.flatten(part, given) != trees.structure(value):
                raise ArgumentError(f"the seed of the derivative of {self.target.__name__}'s "
                                    f"derivative for {self.arguments.describe(i)} must have "
                                    f"its structure, {trees.describe(trees.structure(value))}",
                                    _def_location(self.target, param=i),
                                    hint="Pass a seed shaped like the gradient (the same "
                                         "containers and keys).")
            out += [given[k - start] for k in group]
        return out


def _inner_variant(built: dict, inner, wrt, flat, keyword, spec) -> Derivative:
    """The derivative (``spec``, with respect to ``wrt``) of ``inner.fn``, the generated
    function of a derivative for one container structure, for these leaves: built once per
    key into ``built`` (``_Containers.over``/``under``, the derivatives of a derivative)."""
    key = (inner.fn, wrt, _keyed(_kinds(flat + keyword), flat + keyword))
    entry = built.get(key)
    if entry is None or not entry.fresh(inner.fn):
        shaped, complex_args = _complex_args(key[2], inner.params)
        entry = built[key] = _get(inner.fn, dataclasses.replace(
            spec, wrt=wrt, single=False, kinds=_canonical(shaped[:len(flat)]),
            complex_args=complex_args, callables=_called(shaped, inner.params)))
    return entry


def _flat_dicts(layout, structures, wrt, groups) -> tuple | None:
    """Per argument None or the keys of the flat dict of leaves (string keys) it is, when
    every container argument is one and every leaf of a wrt one is differentiated: the
    calls ``dispatch`` takes on its fast path. Else None."""
    shapes = iter(structure for _, structure in structures)
    out: list = []
    for value, _, leaves in layout:
        if leaves is None:
            out.append(None)
            continue
        kind, cls, keys, children = next(shapes)
        if kind != trees.DICT or cls is not dict or any(c is not None for c in children) or \
                not all(type(key) is str for key in keys):
            return None
        out.append(keys)
    for i, group in zip(wrt, groups):
        if layout[i][2] is not None and len(group) != len(layout[i][2]):
            return None
    return tuple(out)


def _call(fn, args, kwargs):
    """``fn(*args, **kwargs)`` of generated code for container arguments: raising, the
    blocks it was in are left (``np.errstate``, a user's ``with``)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        runtime.errstate_reset()
        runtime.context_unwind(exc)
        raise


def _call_forward(entry, flat, named, leaf_tangents, preserve_result):
    if entry.extra:
        out = _call(entry.fn, flat, {**named, **dict(zip(entry.extra, leaf_tangents))})
    else:
        out = _call(entry.fn, [*flat, *leaf_tangents], named)
    if preserve_result:
        return _value(out[0], entry), _tangent(out[1], entry, flat + list(leaf_tangents))
    return _tangent(out, entry, flat + list(leaf_tangents))


def _typed_like_wrt(out, inner, primals, kwargs, preserve_result):
    """What a forward derivative of ``inner`` (``grad(g)``'s) returned (``out``: the
    gradient's tangent, after the gradient with ``preserve_result``), typed like ``g``'s wrt
    arguments as the gradient is (a tuple stays a tuple, a float a Python float); batches of
    tangents as they are."""
    values = inner.arguments.values(primals, kwargs)
    like = values[0] if inner.spec.single else tuple(values)

    def typed(g):
        return g if _batched(g) else _like(g, like)
    return (typed(out[0]), typed(out[1])) if preserve_result else typed(out)


def _batched(g) -> bool:
    return type(g) is Batched or isinstance(g, (list, tuple)) and any(map(_batched, g))


def _positional_count(target) -> int | None:
    """How many positional parameters ``target`` has (None: it takes ``*args``, or has no
    signature), which says where a positional seed starts."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _wrap(f, spec, kind):
    """The user-facing derivative function for ``f`` and ``spec``."""
    inner = getattr(f, "__srcad_boxed__", None)
    per_structure: list = []     # a derivative of f's code for each call's containers
    if inner is not None and (
            kind == "forward" or inner.spec.grad_seed and not inner.spec.preserve_result and
            not inner.spec.has_aux and not spec.preserve_result and not spec.has_aux):
        # a derivative of a function taking containers: built from f's code for each call's
        # structure; f's generic code rebinds names to containers (for W, b in layers)
        derivative = inner.over(spec) if kind == "forward" else inner.under(spec)
        if _reads_containers(inner.target):
            derivative.source = lambda: f"# built per container structure from {f.__name__}"
            derivative.__srcad_spec__ = spec
            return derivative
        per_structure.append(derivative)      # for calls with containers; others: generic
    # the result of a forward derivative of grad(g) is typed like g's wrt arguments
    like_wrt = inner if inner is not None and kind == "forward" and \
        inner.spec.grad_seed and not inner.spec.preserve_result and \
        not inner.spec.has_aux else None
    bound_self = (f.__self__,) if isinstance(f, types.MethodType) else ()
    target = _target(f)
    of_derivative = getattr(f, "__srcad_current__", None) is not None
    indices = spec.wrt
    variants: dict = {}
    try:
        names = list(inspect.signature(target).parameters)
    except (TypeError, ValueError):       # not a Python function: refused when built
        names = []

    parsed: list = []     # (Source, code) read at srcad.grad, for builds up to the first call's

    def current(kinds=None, called=()):
        """The derivative for arguments of these kinds (see ``_kinds``): shapes known at
        call time let the build drop broadcasting that provably does nothing, dtypes say
        which arguments are complex; ``called`` (``_called``, ``_defaulted``) the functions
        passed, which the build calls where the parameter is called, and the str values
        passed or left to defaults, constants of the build."""
        nonlocal target
        key = (kinds, called) if called else kinds
        if of_derivative and (key not in variants or not variants[key].fresh(target)):
            now = _target(f, tuple(c for c in called if type(c[1]) is dispatch.Static) +
                          _typed(kinds, names) or None)
            # the derivative differentiated was rebuilt, or is built for other str: its code
            if now is not target:
                target = now
                variants.clear()
        entry = variants.get(key)
        if entry is None or not entry.fresh(target):
            if len(variants) >= _MAX_VARIANTS:     # many sizes: forget the keys, not builds
                variants.clear()
            shaped, complex_args = _complex_args(kinds, names)
            src = None
            if parsed and parsed[0][0].fn is target and parsed[0][1] is target.__code__:
                src = dataclasses.replace(parsed[0][0], namespace=Namespace(target))
            if kinds is not None:       # the first call's build: the source is not kept
                parsed.clear()
            entry = variants[key] = _get(target, dataclasses.replace(
                spec, kinds=_canonical(shaped), complex_args=complex_args, callables=called),
                src)
        return entry

    # build now: errors surface at srcad.grad(f), not at the first call; but not for a
    # function reading its parameters as containers (built for the containers of each
    # call), unless its generic derivative was built before (the disk cache has it: reading
    # the source to tell would cost more than loading it)
    src = None
    if diskcache.stored(target, dataclasses.replace(spec, kinds=None, complex_args=(),
                                                    callables=_defaulted(target, 0, {}))):
        try:
            current(None, _defaulted(target, 0, {}))
        except SrcadError:
            if not _reads_containers(target):
                raise
    else:      # the source parsed once, for the container check and the build
        src = _parsed(target)
        if src is not None:
            parsed.append((src, target.__code__))
        if not _reads_containers(target, src=src):
            current(None, _defaulted(target, 0, {}))
        else:                   # built for each call's containers, parsed then
            parsed.clear()
    arguments = _Arguments(target, indices, getattr(f, "__name__", None))
    boxed = _Containers(target, spec, arguments, src)

    def finish(out, values, args, entry):
        def owned(grads):
            taken = {id(a) for a in args}
            if len(indices) == 1:        # generated code returns one derivative unpacked
                grads = _own(grads, values[0], taken, entry)
                return grads if spec.single else (grads,)
            return tuple([_own(g, a, taken, entry) for g, a in zip(grads, values)])
        return _result(out, spec, entry, owned)

    def failed(exc, entry, args, kwargs):
        """What the generated function raised, located: an error about the output at the
        function's return, another exception with a note naming the generated line."""
        runtime.errstate_reset()     # raised inside an np.errstate block: left it
        runtime.context_unwind(exc)  # inside a user's with: its __exit__ gets it
        if isinstance(exc, (ShapeMismatchError, NotDifferentiableError)) and kind == "reverse":
            if exc.location is None:
                exc.location = _def_location(target, returns=True)
                exc.message = exc.message.replace("the function", target.__name__, 1)
            return
        if isinstance(exc, (TypeError, IndexError, KeyError, AttributeError)):
            primals = args if kind == "reverse" else bound_self + args[:len(args) - len(indices)]
            _refuse_wrong_structure(target, primals, kwargs)
        _note_origin(exc, entry.fn, target)

    # the fast path takes positional arguments of the kinds a call of the general path had
    fast = not bound_self and not of_derivative and (kind == "forward" or spec.grad_seed)

    # Tangent's positional cotangent: one positional argument more than f's positional
    # parameters is the seed (df(x, dy) is df(x, seed=dy)); None when f takes *args
    seed_at = _positional_count(target) if kind == "reverse" and not spec.grad_seed else None

    if kind == "reverse":
        def general(*args, **kwargs):
            # a VJP takes seed=; grad does not (there, seed= is an argument f may not take)
            seed = None if spec.grad_seed else kwargs.pop("seed", None)
            if seed_at is not None and len(args) + len(bound_self) == seed_at + 1 and \
                    seed is None:
                seed, args = args[-1], args[:-1]
            if bound_self:
                args = bound_self + args
            kinds = _kinds(args)
            if boxed.star or (kwargs or None in kinds) and _has_container(args, kwargs):
                if per_structure:
                    return per_structure[0](*args, seed=seed, **kwargs)
                return boxed.reverse(args, kwargs, seed)
            called = ()              # the functions passed: the derivative is built for them
            if None in kinds or kwargs:
                kinds = _keyed(kinds, args)
                called = _called(kinds, names, kwargs)
            called += _defaulted(target, len(args), kwargs)     # and for str defaults
            values = arguments.values(args, kwargs)
            if kwargs:
                kinds = _with_keywords(kinds, kwargs)
            if seed is not None and _other_array(seed) or kwargs and _other_array(
                    tuple(kwargs.values())):
                kinds = None     # a dask or cupy seed: the generic variant (no in-place)
            entry = variants.get((kinds, called) if called else kinds)
            if entry is None or not entry.fresh(target):
                arguments.check(values)
                entry = current(kinds, called)
            elif kwargs or kinds is None or None in kinds:     # the key does not cover every check
                arguments.check(values)
            if kinds is None or None in kinds:
                _refuse_array_api_only(target, args, kwargs)
            if not spec.grad_seed and not spec.has_aux and seed is not None and \
                    entry.output is not None:   # (with has_aux the seed is the value's)
                seed = _output_seed(seed, entry, target)
            if not spec.grad_seed and seed is not None and (
                    entry.complex is not None or _has_complex(seed)):
                seed = _complex_seed(seed, entry, target)
            try:
                out = entry.fn(*args, **kwargs) if spec.grad_seed else \
                    entry.fn(*args, **kwargs, **{entry.extra[0]: seed})
            except Exception as exc:
                failed(exc, entry, args, kwargs)
                raise
            out = finish(out, values, args, entry)
            if fast and not kwargs and entry.output is None:
                dispatcher.offer(args, kinds, entry, target)
            return out
    else:
        checked: dict = {}           # kinds of arguments and tangents -> their derivative

        def general(*args, **kwargs):
            n = len(args) - len(indices)
            if n < 0:
                raise ArgumentError(f"{target.__name__}: pass the arguments, then one tangent "
                                f"per wrt argument ({len(indices)})", _def_location(target))
            primals, tangents = bound_self + args[:n], _int_item_tangents(
                bound_self + args[:n], args[n:], indices)
            kinds = _kinds(primals + tangents)
            if boxed.star or (kwargs or None in kinds) and _has_container(primals, kwargs):
                if per_structure:
                    return per_structure[0](*args, **kwargs)
                return boxed.forward(primals, tangents, kwargs)
            if None in kinds:        # functions passed: the derivative is built for them
                kinds = _keyed(kinds, primals + tangents)
            if kwargs:
                kinds = _with_keywords(kinds, kwargs)
            entry = checked.get(kinds)
            if entry is None or not entry.fresh(target) or kwargs or None in kinds:
                _refuse_array_api_only(target, args, kwargs)
                try:
                    values = arguments.values(primals, kwargs)
                except ArgumentError as exc:    # the tangents are the last len(wrt) arguments
                    exc.hint = (f"A forward derivative (jvp, hvp) takes the function's "
                                f"arguments, then one tangent per wrt argument "
                                f"({len(indices)}, not a tuple of them): {len(args)} "
                                f"positional arguments read as {n} arguments and "
                                f"{len(indices)} tangents. {exc.hint}")
                    raise
                arguments.check(values)
                arguments.check_tangents(values, tangents)
                shaped = _primal_kinds(_unknown_tangents(kinds, len(primals), indices),
                                       len(primals))
                entry = current(None if kwargs and _other_array(tuple(kwargs.values())) else
                                shaped, _called(shaped, names, kwargs) +
                                _defaulted(target, len(primals), kwargs))
                if not kwargs:           # these kinds of arguments and tangents passed
                    if len(checked) >= _MAX_VARIANTS:
                        checked.clear()
                    checked[kinds] = entry
            if kwargs and not entry.extra:   # positional tangents: keywords naming positional
                bound = arguments.signature.bind(*primals, **kwargs)   # parameters (a
                primals, kwargs = bound.args, bound.kwargs     # partial's) go before them
            try:
                if entry.extra:     # tangents are keyword-only (the function has defaults)
                    out = entry.fn(*primals, **kwargs, **dict(zip(entry.extra, tangents)))
                else:
                    out = entry.fn(*primals, *tangents, **kwargs)
            except Exception as exc:
                failed(exc, entry, args, kwargs)
                raise
            if fast and not kwargs and entry.output is None and \
                    type(out[1] if spec.preserve_result else out) not in (tuple, Batched):
                dispatcher.offer(args, kinds, entry, target)   # (a tuple: unshared here)
            if like_wrt is not None:
                out = _typed_like_wrt(out, like_wrt, primals, kwargs, spec.preserve_result)
            if spec.preserve_result:
                return _value(out[0], entry), _tangent(out[1], entry, args)
            return _tangent(out, entry, args)

    def finish_positional(out, args, entry):
        return finish(out, arguments.values(args, {}), args, entry)

    dispatcher = dispatch.Dispatcher(f"d{getattr(target, '__name__', 'f')}", spec, general,
                                     finish_positional, failed)
    derivative = dispatcher.function
    derivative.__srcad_dispatcher__ = dispatcher
    if fast and kind == "reverse":
        boxed.dispatcher = dispatcher

    def variant(args, kwargs):
        """The built derivative a call with these arguments runs (``show(f, *args)``): the
        variant for their shapes and dtypes (forward mode: tangents like the wrt arguments);
        for containers, the one built for their structure."""
        args = bound_self + tuple(args)
        if boxed.star or _has_container(args, kwargs):
            if kind == "reverse":
                boxed.reverse(args, kwargs, None)
            else:
                wrt_values = arguments.values(args, kwargs)
                boxed.forward(args, tuple(wrt_values), kwargs)
            return boxed.last
        values = arguments.values(args, kwargs)
        arguments.check(values)
        if kind == "forward":       # tangents like the wrt arguments, as derivative() keys
            kinds = _kinds(args + tuple(values))
            kinds = _primal_kinds(_unknown_tangents(kinds, len(args), indices), len(args))
        else:
            kinds = _kinds(args)
        kinds = _keyed(kinds, args)
        return current(_with_keywords(kinds, kwargs) if kwargs else kinds,
                       _called(kinds, names, kwargs) + _defaulted(target, len(args), kwargs))

    functools.update_wrapper(derivative, target)
    derivative.__srcad_variant__ = variant
    derivative.__srcad_current__ = lambda statics=None: current(None, (statics or ()) + (
        () if any(type(c[1]) is dispatch.Static for c in statics or ()) else
        _defaulted(target, 0, {}))).fn
    del derivative.__wrapped__
    derivative.__srcad_spec__ = spec
    derivative.__name__ = f"d{target.__name__}"
    # the code that ran last for containers, else the generic derivative
    derivative.source = lambda: boxed.last.source if boxed.last else current().source
    derivative.__srcad_boxed__ = boxed
    return derivative


# -- public functions ---------------------------------------------------------------------------

def _argnums(wrt, argnums):
    """``wrt``, or JAX's ``argnums`` that names the same arguments (not both, unless equal)."""
    if argnums is None:
        return wrt
    if wrt != 0 and wrt != argnums:
        raise TypeError(f"pass wrt={wrt!r} or argnums={argnums!r}, not both: argnums is "
                        "JAX's name for wrt")
    return argnums


def _decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``factory(f, **options)`` also be used as ``@factory`` and ``@factory(**options)``
    (the overloads of each public function give the types of both forms)."""
    @functools.wraps(factory)
    def wrapper(f=None, *args, **kwargs):
        if f is None:
            return lambda g: factory(g, *args, **kwargs)
        return factory(f, *args, **kwargs)
    # the normalizer makes a derivative written in differentiated code (srcad.grad(h)(x))
    wrapper.__srcad_makes_derivatives__ = True      # type: ignore[attr-defined]
    return wrapper


def _spec(f, mode, wrt, preserve_result, optimized, grad_seed):
    if mode not in _MODES:
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    for name, flag in (("preserve_result", preserve_result), ("optimized", optimized)):
        if not isinstance(flag, (bool, np.bool_, int)):
            raise TypeError(f"{name} must be True or False, not {flag!r}")
    if isinstance(f, types.MethodType):     # a bound method: self is bound, not differentiated
        indices, single = _wrt_indices(f, wrt)
        indices = tuple(i + 1 if type(i) is int else (i[0] + 1, i[1]) for i in indices)
    else:
        boxed = getattr(f, "__srcad_boxed__", None)     # a derivative: its parameters are
        indices, single = _wrt_indices(boxed.target if boxed is not None else  # the user's
                                       _target(f), wrt)
    return Spec(mode=mode, wrt=indices, single=single, grad_seed=grad_seed,
                preserve_result=bool(preserve_result), optimized=bool(optimized))


def _show_verbose(fn, verbose):
    if verbose:
        print(fn.source())   # noqa: T201 - verbose=1 is an explicit request to print
    return fn


_WRAPPERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _checkpoint(checkpoint):
    """``grad(checkpoint=...)``: False (a tape of every iteration), True or 'sqrt' (about
    sqrt(T) snapshots per top-level loop: None) or a positive int (that many snapshots)."""
    if checkpoint is False or checkpoint is None:
        return False
    if checkpoint is True or checkpoint == "sqrt":
        return None
    if isinstance(checkpoint, (int, np.integer)) and not isinstance(checkpoint, bool) and \
            checkpoint > 0:
        return int(checkpoint)
    raise ValueError(f"checkpoint must be False, True, 'sqrt' or a number of snapshots > 0, "
                     f"not {checkpoint!r}")


def _derivative(f, mode, wrt, preserve_result, optimized, grad_seed, verbose,
                checkpoint=False, backend="python", has_aux=False, called=()):
    """The derivative function for these options, memoized per function: asking again for
    the same derivative costs a dictionary lookup (staleness is checked at each call)."""
    checkpoint = _checkpoint(checkpoint)
    partial = getattr(f, "__srcad_partial__", None)
    if partial is not None:       # a partial's derivative, differentiated again: the partial
        f, given = functools.partial(f.__srcad_inner__, *partial.args, **partial.keywords), f
        f.__srcad_positional__ = given.__srcad_positional__
    if isinstance(f, functools.partial):
        return _partial_derivative(f, mode, wrt, preserve_result, optimized, grad_seed, verbose,
                                   has_aux)
    if not isinstance(has_aux, (bool, np.bool_)):
        raise TypeError(f"has_aux must be True or False, not {has_aux!r}")
    has_aux = bool(has_aux)
    # wrt items with their types: True == 1 and 1.0 == 1 must not find wrt=1's derivative
    key = (mode, tuple((type(w), w) for w in wrt) if isinstance(wrt, (tuple, list)) else
           (type(wrt), wrt), preserve_result, optimized, grad_seed, checkpoint,
           check_backend(backend), has_aux, called)
    try:
        per_fn = _WRAPPERS.get(f)
        found = per_fn.get(key) if per_fn is not None else None
    except TypeError:          # unhashable wrt or a callable that takes no weak reference
        per_fn = found = None
    if found is None:
        spec = dataclasses.replace(_spec(f, mode, wrt, preserve_result, optimized, grad_seed),
                                   checkpoint=checkpoint, backend=backend, has_aux=has_aux,
                                   called=called)
        found = _wrap(f, spec, mode)
        if checkpoint is False and not has_aux and not called:  # pickling.py rebuilds the
            # plain options
            _pickled_by_reference(found, f, (mode, wrt, preserve_result, optimized, grad_seed))
        try:        # two threads asking at once: both get the first one stored; held weakly
            # (a derivative function refers to f: held strongly it would keep f alive)
            found = _WRAPPERS.setdefault(f, weakref.WeakValueDictionary()).setdefault(key, found)
        except TypeError:
            pass
    return _show_verbose(found, verbose)


def _partial_wrt(f, wrt):
    """``wrt`` of the partial ``f`` as its function counts them (past the bound positional
    values; names stay)."""
    def moved(w):
        return w + len(f.args) if isinstance(w, numbers.Integral) and not isinstance(
            w, bool) and w >= 0 else w
    return type(wrt)(moved(w) for w in wrt) if isinstance(wrt, (tuple, list)) else moved(wrt)


def _partial_derivative(f, mode, wrt, preserve_result, optimized, grad_seed, verbose,
                        has_aux=False):
    """The derivative of ``functools.partial(g, *a, **k)``: ``g``'s, called with ``a`` and
    ``k`` (``wrt`` indices count the partial's own parameters, after ``a``)."""
    inner = _derivative(f.func, mode, _partial_wrt(f, wrt), preserve_result, optimized,
                        grad_seed, verbose, has_aux=has_aux)

    # the positional cotangent counts the partial's own positional parameters (a keyword it
    # binds is keyword-only in it), not its function's
    positional = f.__srcad_positional__ if hasattr(f, "__srcad_positional__") else \
        _positional_count(f)
    seed_at = positional if mode == "reverse" and not grad_seed else None

    def derivative(*args, **kwargs):
        if seed_at is not None and len(args) == seed_at + 1 and "seed" not in kwargs:
            args, kwargs = args[:-1], {**kwargs, "seed": args[-1]}
        return inner(*f.args, *args, **{**f.keywords, **kwargs})
    # not functools.wraps: its __dict__ (the derivative's build, __srcad_boxed__) made a
    # second derivative of this one differentiate f.func without the bound arguments
    derivative.__name__ = derivative.__qualname__ = getattr(inner, "__name__", "derivative")
    derivative.__doc__ = inner.__doc__
    derivative.source = inner.source
    derivative.__srcad_partial__ = f
    derivative.__srcad_inner__ = inner    # of f.func: differentiated again with f's values
    derivative.__srcad_positional__ = positional    # the user's partial's, at every order
    variant = getattr(inner, "__srcad_variant__", None)
    if variant is not None:         # show(partial, *example_args): with the bound values
        derivative.__srcad_variant__ = lambda args, kwargs: variant(
            (*f.args, *args), {**f.keywords, **kwargs})
    return derivative


def _pickled_by_reference(derivative, f, options: tuple) -> None:
    """Name ``derivative`` (``_derivative(f, *options)``) ``srcad.pickling.<key>``, where
    pickle finds it again (``srcad/pickling.py``: by reference to ``f``, rebuilt on the other
    side); a function pickle cannot find (a local, a lambda) is left as it is."""
    module, qualname = getattr(f, "__module__", None), getattr(f, "__qualname__", "")
    if module is None or "<" in qualname or type(options[1]) not in (int, str, tuple, list):
        return
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return
    if found is not f:
        return
    key = json.dumps([module, qualname, *options]).encode().hex()
    derivative.__module__ = "srcad.pickling"
    derivative.__qualname__ = f"derivative_{key}"     # pickling.PREFIX


@overload
def grad(f: Callable[_P, _R], wrt: Wrt = 0, preserve_result: Literal[False] = False,
         optimized: bool = True, verbose: int = 0,
         argnums: Wrt | None = None,
         checkpoint: Checkpoint = False, backend: str = "python",
         has_aux: bool = False) -> DerivativeFunction[_P, Any]: ...
@overload
def grad(f: Callable[_P, _R], wrt: Wrt = 0, *, preserve_result: Literal[True],
         optimized: bool = True, verbose: int = 0,
         argnums: Wrt | None = None,
         checkpoint: Checkpoint = False, backend: str = "python",
         has_aux: bool = False) -> DerivativeFunction[_P, tuple[_R, Any]]: ...
@overload
def grad(f: Callable[_P, _R], wrt: Wrt = 0, preserve_result: bool = False,
         optimized: bool = True, verbose: int = 0,
         argnums: Wrt | None = None,
         checkpoint: Checkpoint = False, backend: str = "python",
         has_aux: bool = False) -> DerivativeFunction[_P, Any]: ...
@overload
def grad(f: None = None, wrt: Wrt = 0, preserve_result: Literal[False] = False,
         optimized: bool = True, verbose: int = 0,
         argnums: Wrt | None = None,
         checkpoint: Checkpoint = False, backend: str = "python",
         has_aux: bool = False) -> _GradDecorator: ...
@overload
def grad(f: None = None, wrt: Wrt = 0, *, preserve_result: Literal[True],
         optimized: bool = True, verbose: int = 0,
         argnums: Wrt | None = None,
         checkpoint: Checkpoint = False, backend: str = "python",
         has_aux: bool = False) -> _ValueGradDecorator: ...
@_decorator
def grad(f, wrt=0, preserve_result=False, optimized=True, verbose=0, argnums=None,
         checkpoint=False, backend="python", has_aux=False):
    """The gradient of a scalar-valued ``f`` with respect to argument(s) ``wrt`` (``argnums``:
    JAX's name for it). ``checkpoint=True`` (or ``'sqrt'``, or a number of snapshots): each
    top-level ``for`` loop keeps about sqrt(T) snapshots of its state instead of a tape of T
    iterations, and its adjoint replays one segment at a time (``docs/checkpointing.md``).
    ``backend='numba'`` runs it compiled by numba where numba accepts it (srcad/backends).
    ``has_aux=True`` (JAX's): ``f`` returns ``(value, aux)``, the gradient is of ``value``
    and ``df(*args)`` returns ``(gradient, aux)``."""
    return _derivative(f, "reverse", _argnums(wrt, argnums), preserve_result, optimized, True,
                       verbose, checkpoint, backend, has_aux)


@overload
def value_and_grad(f: Callable[_P, _R], wrt: Wrt = 0, optimized: bool = True,
                   verbose: int = 0, argnums: Wrt | None = None,
                   checkpoint: Checkpoint = False,
                   has_aux: bool = False) -> DerivativeFunction[_P, tuple[_R, Any]]: ...
@overload
def value_and_grad(f: None = None, wrt: Wrt = 0, optimized: bool = True,
                   verbose: int = 0, argnums: Wrt | None = None,
                   checkpoint: Checkpoint = False, has_aux: bool = False) -> _ValueGradDecorator: ...
@_decorator
def value_and_grad(f, wrt=0, optimized=True, verbose=0, argnums=None, checkpoint=False,
                   has_aux=False):
    """``vg(*args) -> (f(*args), gradient)``: ready for scipy.optimize.minimize(jac=True)
    (``checkpoint``: as ``grad``'s; ``has_aux=True``: ``f`` returns ``(value, aux)`` and
    ``vg(*args)`` gives ``((value, aux), gradient)``, as JAX's)."""
    return _derivative(f, "reverse", _argnums(wrt, argnums), True, optimized, True, verbose,
                       checkpoint, has_aux=has_aux)


@overload
def autodiff(f: Callable[..., Any], mode: Mode = "reverse", wrt: Wrt = 0,
             preserve_result: bool = False, optimized: bool = True,
             verbose: int = 0, argnums: Wrt | None = None,
             checkpoint: Checkpoint = False) -> DerivativeFunction[..., Any]: ...
@overload
def autodiff(f: None = None, mode: Mode = "reverse", wrt: Wrt = 0,
             preserve_result: bool = False, optimized: bool = True,
             verbose: int = 0, argnums: Wrt | None = None,
             checkpoint: Checkpoint = False) -> _AutodiffDecorator: ...
@_decorator
def autodiff(f, mode="reverse", wrt=0, preserve_result=False, optimized=True, verbose=0,
             argnums=None, checkpoint=False):
    """A general derivative: ``mode='reverse'`` gives ``df(*args, seed=None)`` (a VJP; the
    seed defaults to ones shaped like the output; one positional argument more than ``f``'s
    positional parameters is the seed, as in Tangent), ``mode='forward'`` gives
    ``df(*args, *tangents)`` (a JVP, one tangent per ``wrt`` argument). ``checkpoint``:
    reverse mode only, as ``grad``'s."""
    if checkpoint is not False and mode != "reverse":
        raise ValueError("checkpoint= applies to mode='reverse' only")
    return _derivative(f, mode, _argnums(wrt, argnums), preserve_result, optimized, False,
                       verbose, checkpoint)


def show(f: Callable[..., Any], *example_args: Any, mode: Mode = "reverse", wrt: Wrt = 0,
         optimized: bool = True, preserve_result: bool = False, standalone: bool = False,
         argnums: Wrt | None = None, **example_kwargs: Any) -> str:
    """The generated source of ``f``'s derivative (reverse: the gradient function), then
    comment lines giving the imports it needs to run outside srcad (``import numpy as np``,
    ``import srcad.runtime as _srcad``, the names it reads from ``f``'s module); with
    ``standalone=True``, the module ``srcad.export`` writes, which needs no srcad. With
    example arguments (``show(f, x, y)``), the variant specialized for their shapes, dtypes
    and container structures: the code a call with them runs, and pdb steps into."""
    wrt = _argnums(wrt, argnums)
    if example_args or example_kwargs:
        if standalone:
            raise TypeError("show: standalone=True shows the generic module srcad.export "
                            "writes; pass no example arguments with it")
        derivative = _derivative(f, mode, wrt, preserve_result, optimized, mode == "reverse", 0)
        return _shown(derivative.__srcad_variant__(example_args, example_kwargs), f)
    if standalone:
        from .export import export
        return export(f, mode=mode, wrt=wrt, preserve_result=preserve_result,
                      optimized=optimized)
    if isinstance(f, functools.partial):   # its function's derivative, which it calls
        f, wrt = f.func, _partial_wrt(f, wrt)
    spec = _spec(f, mode, wrt, preserve_result, optimized, True)
    try:
        built = _get(_target(f), spec)
    except SrcadError as exc:
        if _reads_containers(_target(f)):
            exc.hint = (exc.hint or "") + (
                f" ({_target(f).__name__} reads its arguments as containers, and its "
                "derivative is built for each structure: call the derivative once, then "
                "df.source() shows the code built for those arguments.)")
        raise
    return _shown(built, f)


def _shown(built: Derivative, f) -> str:
    """A built derivative's source, then the imports it needs outside srcad (after the code,
    so that its line numbers stay those of tracebacks and pdb)."""
    note = emit.run_note(built.fn, getattr(_target(f), "__module__", None))
    return built.source + "".join(["\n"] * bool(note) + [f"# {line}\n" for line in note])


@overload
def jvp(f: Callable[..., _R], primals: Iterable[Any], tangents: Iterable[Any],
        wrt: Wrt | None = None, batched: bool = False, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None,
        has_aux: Literal[False] = False) -> tuple[_R, Any]: ...
@overload
def jvp(f: Callable[..., Any], primals: Iterable[Any], tangents: Iterable[Any],
        wrt: Wrt | None = None, batched: bool = False, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None, *,
        has_aux: Literal[True]) -> tuple[Any, Any, Any]: ...
def jvp(f: Callable[..., Any], primals: Iterable[Any], tangents: Iterable[Any],
        wrt: Wrt | None = None, batched: bool = False, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), J @ tangents)``: one tangent per argument in ``wrt`` (default all).
    ``batched=True``: each tangent has a leading axis of directions (the same number for
    all), and so has the result's tangent; one forward sweep computes them all.
    ``has_aux=True`` (JAX's): ``f`` returns ``(value, aux)``; ``(value, J @ tangents, aux)``,
    the tangent of ``value`` alone."""
    if has_aux:
        _refuse_aux_of_aux(f)
        pair, tangents_out = jvp(f, primals, tangents, wrt, batched, optimized, verbose,
                                 argnums)
        value, aux = _aux_of(f, pair)
        return value, tangents_out[0], aux
    primals = tuple(primals)
    tangents = tuple(tangents)
    wrt = argnums if argnums is not None and wrt is None else _argnums(wrt, argnums)
    if wrt is None:
        wrt = tuple(range(len(primals)))
    count = len(wrt) if isinstance(wrt, (tuple, list)) else 1
    if len(tangents) != count:
        raise TypeError(f"jvp of {getattr(f, '__name__', f)}: {len(tangents)} tangent(s) for "
                        f"{count} wrt argument(s); pass one tangent per wrt argument")
    df = autodiff(f, mode="forward", wrt=tuple(wrt) if isinstance(wrt, (tuple, list)) else wrt,
                  preserve_result=True, optimized=optimized, verbose=verbose)
    if not batched:
        return df(*primals, *tangents)
    structures: list = []
    leaves: list = []        # a container's tangent: its leaves batched
    for t in tangents:
        leaves.append([])
        structures.append(trees.flatten(t, leaves[-1]) if trees.is_container(t) else None)
        if structures[-1] is None:
            leaves[-1] = [t]
    shapes = [np.shape(leaf) for part in leaves for leaf in part]
    sizes = {shape[0] if shape else None for shape in shapes}
    if len(sizes) != 1 or None in sizes:
        raise ShapeMismatchError(
            f"jvp of {getattr(f, '__name__', f)} with batched=True: every tangent needs the "
            f"same leading axis of directions, not shapes "
            f"{', '.join(str(shape) for shape in shapes)}", None,
            hint="Stack the directions of each wrt argument (of each leaf of a container) "
                 "along a new first axis.")
    batches = [Batched(np.asarray(part[0])) if tree is None else trees.build(
        tree, iter([Batched(np.asarray(leaf)) for leaf in part]))
        for tree, part in zip(structures, leaves)]
    return _batched_forward(df, primals, batches, sizes.pop(), preserve_result=True)


# -- batched tangents (srcad.batching): one forward sweep for many directions ---------------------

def _batched_forward(df, primals, tangents, count, preserve_result=False):
    """``df`` (a forward-mode derivative) along ``count`` directions at once: ``tangents``
    has a leading axis of directions (an array, or a ``Batched``: ``Batched.basis``), so has
    the result. Code the batch cannot run through (``BatchingError``: it would treat a batch
    of tangents as one array) is run once per direction instead, which gives the same
    values."""
    from .batching import BatchingError, directions, unbatched

    batches = [t if type(t) is Batched or trees.is_container(t) else Batched(t)
               for t in tangents]
    try:
        with directions(count):
            out = df(*primals, *batches)
    except (BatchingError, SrcadError):
        # SrcadError: the batched build knows less of the primals (their tangents are no
        # NumPy arrays) and refused what the per-direction build, knowing the shapes, decides
        # (a write through what may be a view); a genuine error is raised again below
        outs = [df(*primals, *[_direction(t, k) for t in batches]) for k in range(count)]
        if preserve_result:
            return outs[0][0] if outs else None, _stack([o[1] for o in outs])
        return _stack(outs)
    value, out = out if preserve_result else (None, out)
    given: list = []                    # the caller's arrays of directions
    for t in tangents:
        trees.flatten(t, given)
    given = [t.data if type(t) is Batched else t for t in given]
    if type(out) is Batched:            # one output
        result = _unshared((out.data,), given)[0]
    else:                               # a tuple or container output: per leaf
        leaves: list = []
        tree = trees.flatten(out, leaves)
        result = trees.build(tree, iter(_unshared(tuple(unbatched(o, count) for o in leaves),
                                                  given)))
    return (value, result) if preserve_result else result


def _direction(tangent, k):
    """Direction ``k`` of a batch of tangents (an array, a ``Batched``, or a container of
    them, its structure kept)."""
    if trees.is_container(tangent):
        leaves: list = []
        tree = trees.flatten(tangent, leaves)
        return trees.build(tree, iter([_direction(leaf, k) for leaf in leaves]))
    return (tangent.data if type(tangent) is Batched else tangent)[k]


def _batched_reverse(df, primals, seeds):
    """``df`` (a reverse-mode derivative) for a batch of seeds at once: ``seeds`` has a
    leading axis of cotangents (an array, or a ``Batched``), so has the result. The adjoint
    sweep is linear in its seed, so the ``Batched`` seed runs through it as batched tangents
    run through forward code; code it cannot run through (``BatchingError``: it would treat
    the batch as one array; any other failure alike) runs once per seed instead, which gives
    the same values and raises a genuine error again."""
    from .batching import Batched, BatchingError, unbatched

    batch = seeds if isinstance(seeds, Batched) else Batched(seeds)
    count = batch.count
    try:
        out = df(*primals, seed=batch)
        parts = out if isinstance(out, tuple) else (out,)
        if any(not isinstance(o, Batched) and np.any(o) for o in parts):
            raise BatchingError("a cotangent that does not depend on the seed is zero")
        rows = _unshared(tuple(unbatched(o, count) for o in parts), [seeds])
        return rows if isinstance(out, tuple) else rows[0]
    except Exception:
        dense = seeds.data if isinstance(seeds, Batched) else seeds
        return _stack([df(*primals, seed=seed) for seed in dense])


def _stack(outs):
    """Results of one direction (or seed) each, stacked leaf by leaf."""
    if not outs:
        return np.stack(outs)
    rows = []
    for out in outs:
        leaves: list = []
        tree = trees.flatten(out, leaves)
        rows.append(leaves)
    return trees.build(tree, iter([np.stack(leaf) for leaf in zip(*rows)]))


def _copied(a):
    """``a`` with its arrays and lists copied (tuples, namedtuples rebuilt around copies)."""
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, tuple) and hasattr(type(a), "_fields"):       # a namedtuple
        return type(a)(*map(_copied, a))
    if isinstance(a, (list, tuple)):
        return type(a)(map(_copied, a))
    return a


@overload
def vjp(f: Callable[..., _R], *primals: Any, wrt: Wrt | None = 0, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None,
        has_aux: Literal[False] = False) -> tuple[_R, Callable[[Any], Any]]: ...
@overload
def vjp(f: Callable[..., Any], *primals: Any, wrt: Wrt | None = 0, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None,
        has_aux: Literal[True]) -> tuple[Any, Callable[[Any], Any], Any]: ...
def vjp(f: Callable[..., Any], *primals: Any, wrt: Wrt | None = 0, optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(seed)`` is the vector-Jacobian product (the
    value is computed on copies: a function that writes into its arguments must not move the
    point the product is taken at). ``wrt=None``: JAX's convention, a tuple of one
    cotangent per primal. ``has_aux=True`` (JAX's): ``f`` returns ``(value, aux)``;
    ``(value, vjp_fn, aux)``, ``vjp_fn`` seeding ``value`` alone."""
    wrt = _argnums(wrt, argnums)
    if wrt is None:
        wrt = tuple(range(len(primals)))
    value = f(*map(_copied, primals))
    if has_aux:
        _refuse_aux_of_aux(f)
        value, aux = _aux_of(f, value)
        dfa = _derivative(f, "reverse", wrt, False, optimized, False, verbose, has_aux=True)
        return value, lambda seed: dfa(*primals, seed=seed)[0], aux
    df = autodiff(f, mode="reverse", wrt=wrt, optimized=optimized, verbose=verbose)
    return value, lambda seed: df(*primals, seed=seed)


_BATCH_ELEMENTS = 1 << 21      # directions per forward sweep of jacobian: about this many elements
                               # per batched value of the argument's or output's size


@overload
def jacobian(f: Callable[..., Any], wrt: int | str = 0,
        mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
        verbose: int = 0, argnums: int | str | None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., np.ndarray]: ...
@overload
def jacobian(f: Callable[..., Any], wrt: tuple[int | str, ...] | list[int | str],
        mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
        verbose: int = 0, argnums: None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacobian(f: Callable[..., Any], wrt: int = 0,
        mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
        verbose: int = 0, *, argnums: tuple[int | str, ...] | list[int | str],
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacobian(f: Callable[..., Any], wrt: Wrt = 0,
        mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None, *,
        preserve_result: Literal[True], has_aux: bool = False) -> Callable[..., tuple[Any, Any]]: ...
@overload
def jacobian(f: Callable[..., Any], wrt: Wrt = 0,
        mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
        verbose: int = 0, argnums: Wrt | None = None,
        preserve_result: bool = False, has_aux: bool = False) -> Callable[..., Any]: ...
def jacobian(f: Callable[..., Any], wrt: Wrt = 0,
             mode: Literal["auto", "forward", "reverse"] = "auto", optimized: bool = True,
             verbose: int = 0, argnums: Wrt | None = None,
             preserve_result: bool = False, has_aux: bool = False) -> Callable[..., Any]:
    """``jac(*args)``: the Jacobian of ``f`` with respect to one argument, shaped
    ``output.shape + arg.shape`` (a tuple of them, one per argument, for a tuple ``wrt``;
    for a function returning a tuple or a container, one per output leaf, in the output's
    structure); 'auto' picks forward mode when the argument is smaller than the output,
    reverse otherwise. ``preserve_result=True``: ``(f(*args), jacobian)``. ``has_aux=True``
    (JAX's): ``f`` returns ``(value, aux)``, the Jacobian is of ``value``, and ``jac`` returns
    ``(jacobian, aux)``."""
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    if has_aux:
        _refuse_aux_of_aux(f)
    if preserve_result:
        with_value = _with_value(f, jacobian(f, wrt, mode, optimized, verbose, argnums,
                                             has_aux=has_aux))
        return (lambda *args: (lambda v, ja: (v, ja[0]))(*with_value(*args))) if has_aux \
            else with_value
    wrt = _argnums(wrt, argnums)
    if isinstance(wrt, (tuple, list)):      # one Jacobian per argument, as JAX's jacfwd
        _wrt_indices(_target(f), wrt)       # refused whole, as grad refuses it
        parts = [_jacobian(f, w, mode, optimized, verbose, has_aux=has_aux) for w in wrt]
        if has_aux:         # (one Jacobian per argument, aux)
            return lambda *args, **kw: (lambda pairs: (tuple(p[0] for p in pairs),
                                                       pairs[0][1]))(
                [part(*args, **kw) for part in parts])
        return lambda *args, **kw: tuple(part(*args, **kw) for part in parts)
    built: dict[str, Callable[..., Any]] = {}

    def sweep(which: Mode) -> Callable[..., Any]:
        # built on first use: a mode that is not used is not built; with has_aux, the
        # derivative of the value alone (forward: the first of the pair's tangents)
        if which not in built:
            made: Callable[..., Any] = _derivative(
                f, which, wrt, False, optimized, False, verbose, has_aux=True) \
                if has_aux and which == "reverse" else autodiff(
                    f, mode=which, wrt=wrt, optimized=optimized, verbose=verbose)
            built[which] = made if not has_aux else (
                lambda *args, **kwargs: made(*args, **kwargs)[0])
        return built[which]

    boxed = getattr(f, "__srcad_boxed__", None)    # a derivative: its function's parameters
    target = boxed.target if boxed is not None else _target(f)
    index = _wrt_indices(target, wrt)[0][0]
    whole = type(index) is int and _is_star(target, index)       # all of *args, **kwargs
    index = index[0] + index[1] if type(index) is tuple else index     # the call's position

    # per kinds of the arguments (``_kinds``: types, shapes, dtypes), what the last call with
    # them found of the output, an array: a repeat call runs the one sweep without calling f
    # for the output's shape (``planned``)
    plans: dict = {}

    def jac(*args: Any, **kwargs: Any) -> Any:
        if plans and not kwargs:
            key = _kinds(args)
            plan = plans.get(key)
            if plan is not None:
                out = planned(args, plan)
                if out is not None:
                    return out
                plans.pop(key, None)
        # f may write into its arguments: called on copies, never the caller's
        value = f(*map(_private_copy, args), **{k: _private_copy(v) for k, v in kwargs.items()})
        if not has_aux:
            return at(args, value, kwargs)
        value, aux = _aux_of(f, value)
        return at(args, value, kwargs), aux

    def at(args: tuple, value: Any, kwargs: dict) -> Any:  # an array, or a tuple of arrays
        def derivative(which: Mode) -> Callable[..., Any]:      # keywords passed on
            return functools.partial(sweep(which), **kwargs) if kwargs else sweep(which)
        if whole:
            raise NotDifferentiableError(
                f"srcad.jacobian with respect to all of a *args or **kwargs parameter is not "
                f"supported ({getattr(f, '__name__', f)}, argument {index})",
                hint="Differentiate one of its items (an int wrt counts the call's positional "
                     "arguments), or use srcad.grad, srcad.vjp or srcad.hvp.")
        if index < len(args) and (trees.is_container(args[index]) or type(args[index]) in (
                list, tuple) and len({np.shape(a) for a in args[index]}) > 1):
            # (a tuple of leaves of several shapes, (x, 0.5), is not one array)
            return _container_jacobian(derivative("forward"), args, index, value)
        if isinstance(value, (tuple, list)) or trees.is_container(value):
            leaves: list = []               # one Jacobian per output leaf, as JAX's (a list too)
            tree = trees.flatten(value, leaves)
            return trees.build(tree, iter(_tuple_jacobian(derivative("forward"), args, index,
                                                          leaves)))
        y = np.asarray(value)
        if trees.is_complex_value(args[index]) or y.dtype.kind == "c":
            raise NotDifferentiableError(
                f"srcad.jacobian of complex values is not supported yet "
                f"({getattr(f, '__name__', f)})", hint="Use srcad.jvp / srcad.vjp, one "
                "direction (real and imaginary) or seed at a time.")
        x = np.asarray(args[index])
        tx, ty = (a.dtype if a.dtype.kind in "fc" else np.dtype(float) for a in (x, y))
        dtype = np.result_type(tx, ty)     # a float32 argument and output: float32
        use_forward = mode == "forward" or (mode == "auto" and x.size < y.size)
        if not has_aux and not kwargs and max(x.size, y.size) ** 2 <= _BATCH_ELEMENTS and \
                y.size and x.size and (use_forward or y.ndim) and all(
                    type(k) is tuple or type(k) is type for k in _kinds(args)):
            # one sweep of the whole basis: the next call with arguments of these kinds runs
            # it without calling f first
            if len(plans) >= _MAX_VARIANTS:
                plans.clear()
            plans[_kinds(args)] = (use_forward, x.shape, tx, y.shape, ty, dtype)
        if use_forward:         # the columns, a batch of directions per forward sweep
            chunk = max(1, min(x.size, _BATCH_ELEMENTS // max(x.size, y.size, 1)))
            cols = []
            for start in range(0, x.size, chunk):
                stop = min(start + chunk, x.size)
                cols.append(np.asarray(_batched_forward(
                    derivative("forward"), args, [_unit_directions(x.shape, tx, start, stop)],
                    stop - start), dtype=dtype).reshape(stop - start, -1))
            out = (cols[0] if len(cols) == 1 else np.concatenate(cols)).T if cols else \
                np.zeros((y.size, 0), dtype)
        elif y.ndim == 0:
            out = np.asarray(derivative("reverse")(*args, seed=1.0), dtype=dtype)
        else:                   # the rows, a batch of cotangents per reverse sweep
            chunk = max(1, min(y.size, _BATCH_ELEMENTS // max(x.size, y.size, 1)))
            rows = []
            for start in range(0, y.size, chunk):
                stop = min(start + chunk, y.size)
                rows.append(np.asarray(_batched_reverse(
                    derivative("reverse"), args, _unit_directions(y.shape, ty, start, stop)),
                    dtype=dtype).reshape(stop - start, -1))
            out = (rows[0] if len(rows) == 1 else np.concatenate(rows)) if rows else \
                np.zeros((0, x.size), dtype)
        if type(value) is float and type(args[index]) is float:
            return float(out.reshape(()))       # of a float in a float: a float
        return out.reshape(y.shape + x.shape)

    def planned(args: tuple, plan: tuple) -> Any:
        """The Jacobian by the one sweep of ``plan`` (found by a call with arguments of the
        same kinds), or None when this call's output is not what the plan expects (its shape
        and dtype depend on the values): the caller then takes the whole path."""
        use_forward, x_shape, tx, y_shape, ty, dtype = plan
        size, count = math.prod(y_shape), math.prod(x_shape)
        if use_forward:
            out = _batched_forward(sweep("forward"), args, [Batched.basis(x_shape, tx)], count)
            if type(out) is not np.ndarray or out.shape != (count,) + y_shape or \
                    np.result_type(out.dtype, dtype) != dtype:
                return None
            return np.asarray(out, dtype=dtype).reshape(count, size).T.reshape(
                y_shape + x_shape)
        try:        # seeds shaped unlike this output are refused by the sweep
            out = _batched_reverse(sweep("reverse"), args, Batched.basis(y_shape, ty))
        except Exception:
            return None
        if type(out) is not np.ndarray or out.shape != (size,) + x_shape:
            return None
        return np.asarray(out, dtype=dtype).reshape(y_shape + x_shape)
    jac.__srcad_sweeps__ = True     # type: ignore[attr-defined]  # no generated source: _target
    return jac


def _unit_directions(shape: tuple, dtype: Any, start: int, stop: int) -> Any:
    """Unit directions ``start`` to ``stop`` of arrays of ``shape`` (C order), a leading axis
    of them: all of them as the structured identity basis (``batching.Batched.basis``), a
    part of them as a dense array."""
    from .batching import Batched

    size = math.prod(shape)
    if start == 0 and stop == size:
        return Batched.basis(shape, dtype)
    units = np.zeros((stop - start, size), dtype)
    units[np.arange(stop - start), np.arange(start, stop)] = 1.0
    return units.reshape((stop - start,) + tuple(shape))


def _private_copy(a: Any) -> Any:
    """``a``, copied if it is an array or a container, for a call of the user's function whose
    only purpose is its output (a function that writes into its argument must not change the
    caller's array, nor the point the derivative is then taken at)."""
    if type(a) is np.ndarray and a.dtype.kind != "O":
        return a.copy()
    return copy.deepcopy(a) if isinstance(a, np.ndarray) or trees.is_container(a) else a


def _refuse_aux_of_aux(f) -> None:
    """``vjp``, ``jvp`` or a Jacobian with ``has_aux=True`` of a derivative built with
    ``has_aux=True`` (whose generated code returns ``((value, aux), gradient)``, not what its
    caller gets): refused, not differentiated through that layout."""
    if getattr(getattr(f, "__srcad_spec__", None), "has_aux", False):
        raise NotDifferentiableError(
            f"has_aux=True on a derivative of {getattr(f, '__name__', f)} that was itself built "
            "with has_aux=True is not supported", hint="Differentiate the gradient without "
            "has_aux (srcad.grad(f)), or compute the aux apart.")


def _aux_of(f, out) -> tuple:
    """``(value, aux)`` of what ``f`` differentiated with ``has_aux=True`` returned, which
    must be a pair."""
    if type(out) is not tuple or len(out) != 2:
        what = f"a tuple of {len(out)}" if type(out) is tuple else type(out).__name__
        raise NotDifferentiableError(
            f"{getattr(f, '__name__', f)} is differentiated with has_aux=True, so it must "
            f"return a pair (value, aux), but it returned {what}",
            _def_location(_target(f), returns=True), hint="Return the value to differentiate "
            "and the auxiliary data as two items (or drop has_aux=True).")
    return out


def _with_value(f, derivative, vectors=0):
    """``derivative`` returning ``(f(*args), derivative(*args))`` (``preserve_result``): ``f``
    runs on copies of the arguments but the last ``vectors`` (``hvp``'s)."""
    def both(*args):
        return f(*map(_copied, args[:len(args) - vectors])), derivative(*args)
    return both


def _is_star(f, index: int) -> bool:
    """Is parameter ``index`` of ``f`` its ``*args`` or ``**kwargs``?"""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return False
    return index < len(params) and params[index].kind in (params[index].VAR_POSITIONAL,
                                                          params[index].VAR_KEYWORD)


def _unbound(f, wrt):
    """A bound method as its function, ``wrt`` counted past ``self``, and ``self``: the
    derivative of its derivative takes ``self`` as the argument it is (a container, say)."""
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        def shift(w):
            return w + 1 if isinstance(w, numbers.Integral) and w >= 0 else w
        wrt = tuple(map(shift, wrt)) if isinstance(wrt, (tuple, list)) else shift(wrt)
        return f.__func__, wrt, (f.__self__,)
    if isinstance(f, functools.partial):       # the function, called with the bound values
        if f.keywords or not isinstance(f.func, types.FunctionType):
            return f, wrt, ()                  # _derivative differentiates it at any order
        def moved(w):
            return w + len(f.args) if isinstance(w, numbers.Integral) and w >= 0 else w
        wrt = tuple(map(moved, wrt)) if isinstance(wrt, (tuple, list)) else moved(wrt)
        return f.func, wrt, tuple(f.args)
    return f, wrt, ()


def _container_jacobian(forward, args, index, value):
    """The Jacobian of ``f`` (of value ``value``) in a container argument, in JAX's layout:
    in the output's structure, per output leaf a container of the argument's structure
    holding per leaf the block ``output.shape + leaf.shape`` (None for a leaf that is not a
    float). Columns by forward mode, one direction per sweep."""
    leaves: list = []
    trees.flatten(args[index], leaves)
    outputs: list = []
    tree = trees.flatten(value, outputs)
    if any(trees.is_complex_value(v) for v in leaves + outputs):
        raise NotDifferentiableError("srcad.jacobian of complex values is not supported yet",
                                     hint="Use srcad.jvp / srcad.vjp.")
    zeros = [0.0 if type(v) is float else np.zeros(np.shape(v)) for v in leaves]
    blocks: list = []          # per leaf of the argument: its block per output leaf, or None
    for k, leaf in enumerate(leaves):
        if not trees.differentiable(leaf):
            blocks.append(None)
            continue
        size = np.size(leaf)
        columns = []
        for i in range(size):
            unit = np.zeros(size)
            unit[i] = 1.0
            tangent = list(zeros)
            tangent[k] = 1.0 if type(leaf) is float else unit.reshape(np.shape(leaf))
            out: list = []
            trees.flatten(forward(*args[:index], args[index], *args[index + 1:],
                                  trees.rebuild(args[index], iter(tangent))), out)
            columns.append([np.ravel(np.asarray(o, dtype=float)) for o in out])
        blocks.append([_block(np.stack([c[m] for c in columns], axis=-1) if columns else
                              np.zeros((np.size(y), 0)), y, leaf)
                       for m, y in enumerate(outputs)])
    return trees.build(tree, iter([trees.rebuild(args[index], iter(
        [None if b is None else b[m] for b in blocks])) for m in range(len(outputs))]))


def _block(columns, y, leaf):
    """A block of a Jacobian, output ``y``'s leaf in argument leaf ``leaf``: shaped
    ``y.shape + leaf.shape``; of a float in a float, a float."""
    if type(y) is float and type(leaf) is float:
        return float(columns.reshape(()))
    return columns.reshape(np.shape(y) + np.shape(leaf))


def _tuple_jacobian(forward, args, index, outputs) -> tuple:
    """The Jacobians of each output of a function returning a tuple of arrays, in argument
    ``index``: columns by forward mode, a batch of directions per sweep."""
    x = np.asarray(args[index])
    ys = [np.asarray(o) for o in outputs]
    if trees.is_complex_value(x) or any(y.dtype.kind == "c" for y in ys):
        raise NotDifferentiableError("srcad.jacobian of complex values is not supported yet",
                                     hint="Use srcad.jvp / srcad.vjp.")
    tx = x.dtype if x.dtype.kind == "f" else np.dtype(float)
    chunk = max(1, min(x.size, _BATCH_ELEMENTS // max(x.size, *(y.size for y in ys), 1)))
    parts: list[list] = [[] for _ in ys]
    for start in range(0, x.size, chunk):
        stop = min(start + chunk, x.size)
        columns: list = []
        trees.flatten(_batched_forward(forward, args, [_unit_directions(
            x.shape, tx, start, stop)], stop - start), columns)
        for part, column, y in zip(parts, columns, ys):
            part.append(np.asarray(column).reshape(stop - start, -1))
    return tuple((np.concatenate(part).T if part else np.zeros((y.size, 0))).reshape(
        y.shape + x.shape) for part, y in zip(parts, ys))


_jacobian: Callable[..., Any] = jacobian      # for a wrt of either kind (the overloads' union)


@overload
def jacfwd(f: Callable[..., Any], wrt: int | str = 0, optimized: bool = True,
        verbose: int = 0, argnums: int | str | None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., np.ndarray]: ...
@overload
def jacfwd(f: Callable[..., Any], wrt: tuple[int | str, ...] | list[int | str], optimized: bool = True,
        verbose: int = 0, argnums: None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacfwd(f: Callable[..., Any], wrt: int = 0, optimized: bool = True,
        verbose: int = 0, *, argnums: tuple[int | str, ...] | list[int | str],
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacfwd(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, *,
        preserve_result: Literal[True], has_aux: bool = False) -> Callable[..., tuple[Any, Any]]: ...
@overload
def jacfwd(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, preserve_result: bool = False, has_aux: bool = False) -> Callable[..., Any]: ...
def jacfwd(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
           argnums: Wrt | None = None, preserve_result: bool = False,
           has_aux: bool = False) -> Callable[..., Any]:
    """JAX's name: ``jacobian(f, wrt, mode='forward')`` (``has_aux``: as ``jacobian``'s)."""
    return _jacobian(f, wrt, "forward", optimized, verbose, argnums, preserve_result, has_aux)


@overload
def jacrev(f: Callable[..., Any], wrt: int | str = 0, optimized: bool = True,
        verbose: int = 0, argnums: int | str | None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., np.ndarray]: ...
@overload
def jacrev(f: Callable[..., Any], wrt: tuple[int | str, ...] | list[int | str], optimized: bool = True,
        verbose: int = 0, argnums: None = None,
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacrev(f: Callable[..., Any], wrt: int = 0, optimized: bool = True,
        verbose: int = 0, *, argnums: tuple[int | str, ...] | list[int | str],
        preserve_result: Literal[False] = False, has_aux: bool = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def jacrev(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, *,
        preserve_result: Literal[True], has_aux: bool = False) -> Callable[..., tuple[Any, Any]]: ...
@overload
def jacrev(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, preserve_result: bool = False, has_aux: bool = False) -> Callable[..., Any]: ...
def jacrev(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
           argnums: Wrt | None = None, preserve_result: bool = False,
           has_aux: bool = False) -> Callable[..., Any]:
    """JAX's name: ``jacobian(f, wrt, mode='reverse')`` (``has_aux``: as ``jacobian``'s)."""
    return _jacobian(f, wrt, "reverse", optimized, verbose, argnums, preserve_result, has_aux)


@overload
def hessian(f: Callable[..., Any], wrt: int | str = 0, optimized: bool = True,
        verbose: int = 0, argnums: int | str | None = None,
        checkpoint: Checkpoint = False,
        preserve_result: Literal[False] = False) -> Callable[..., np.ndarray]: ...
@overload
def hessian(f: Callable[..., Any], wrt: tuple[int | str, ...] | list[int | str], optimized: bool = True,
        verbose: int = 0, argnums: None = None,
        checkpoint: Checkpoint = False,
        preserve_result: Literal[False] = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def hessian(f: Callable[..., Any], wrt: int = 0, optimized: bool = True,
        verbose: int = 0, *, argnums: tuple[int | str, ...] | list[int | str],
        checkpoint: Checkpoint = False,
        preserve_result: Literal[False] = False) -> Callable[..., tuple[Any, ...]]: ...
@overload
def hessian(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, checkpoint: Checkpoint = False, *,
        preserve_result: Literal[True]) -> Callable[..., tuple[Any, Any]]: ...
@overload
def hessian(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, checkpoint: Checkpoint = False,
        preserve_result: bool = False) -> Callable[..., Any]: ...
def hessian(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
            argnums: Wrt | None = None, checkpoint: Checkpoint = False,
            preserve_result: bool = False) -> Callable[..., Any]:
    """``H(*args)``: the Hessian of scalar ``f`` in one argument (forward over reverse); for a
    tuple ``wrt``, the nested tuple of blocks ``H[i][j]`` (JAX's layout). ``checkpoint``: as
    ``grad``'s, for the reverse sweep. ``preserve_result=True``: ``(f(*args), hessian)``."""
    if preserve_result:
        return _with_value(f, hessian(f, wrt, optimized, verbose, argnums, checkpoint))
    wrt = _argnums(wrt, argnums)
    f, wrt, bound = _unbound(f, wrt)
    if bound:
        h = hessian(f, wrt, optimized, verbose, checkpoint=checkpoint)
        return lambda *args, **kw: h(*bound, *args, **kw)
    if isinstance(wrt, (tuple, list)):
        _wrt_indices(_target(f), wrt)
        rows = [[_jacobian(grad(f, wrt=wi, optimized=optimized, verbose=verbose,
                                checkpoint=checkpoint), wrt=wj,
                          mode="forward", optimized=optimized, verbose=verbose) for wj in wrt]
                for wi in wrt]
        return lambda *args, **kw: tuple(tuple(block(*args, **kw) for block in row)
                                         for row in rows)
    g = grad(f, wrt=wrt, optimized=optimized, verbose=verbose, checkpoint=checkpoint)
    return _jacobian(g, wrt, "forward", optimized, verbose)


def hvp(f: Callable[..., Any], wrt: Wrt = 0, optimized: bool = True, verbose: int = 0,
        argnums: Wrt | None = None, checkpoint: Checkpoint = False,
        preserve_result: bool = False) -> Callable[..., Any]:
    """``hvp(*args, v)``: the Hessian-vector product of scalar ``f`` (forward over reverse;
    ``checkpoint``: as ``grad``'s, for the reverse sweep; ``preserve_result=True``:
    ``(f(*args), hvp)``)."""
    if preserve_result:
        given = _argnums(wrt, argnums)
        count = len(given) if isinstance(given, (tuple, list)) else 1
        return _with_value(f, hvp(f, wrt, optimized, verbose, argnums, checkpoint), count)
    f, wrt, bound = _unbound(f, _argnums(wrt, argnums))
    g = grad(f, wrt=wrt, optimized=optimized, verbose=verbose, checkpoint=checkpoint)
    dg = autodiff(g, mode="forward", wrt=wrt, optimized=optimized, verbose=verbose)
    return functools.partial(dg, *bound) if bound else dg     # shown and differentiated as dg


hvp.__srcad_makes_derivatives__ = True      # type: ignore[attr-defined]  # hvp(h)(x, v) inside
# jvp(h, (x,), (t,)) inside a differentiated function: the normalizer spells it as this
# forward derivative with preserve_result=True, called with the primals and tangents
jvp.__srcad_forward__ = autodiff            # type: ignore[attr-defined]


def _helper_derivative(f, mode, wrt, called):
    """``autodiff(f, mode, wrt)`` built calling the helpers ``called`` ((helper, size) pairs)
    at every site: the derivative a called helper's rule calls (``called_helpers``)."""
    return _derivative(f, mode, wrt, False, True, False, 0, called=called)


called_helpers.derivative = _helper_derivative   # the rules of helpers built once call it
