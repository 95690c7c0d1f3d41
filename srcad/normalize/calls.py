"""Callee resolution: the function a call makes, as Python would resolve it, fixed when the
derivative is built; array methods become NumPy calls (``x.sum()`` -> ``np.sum(x)``), and a
few calls are spelled out (``max(a, b, c)``, ``np.einsum`` sublists, ``take_and_zero``).

Input: a Call of the user's. Output: a Call with atom arguments whose ``srcad_callee`` is the
resolved callable (one with a rule, or a builtin the analysis knows), or the atom holding an
inlined helper's result (``Inliner.inline``); a callee that cannot be resolved is refused
(``NoRuleError``), never treated as a constant.
"""
from __future__ import annotations

import copy
import functools
import inspect
import types

import gast
import numpy as np

from .. import registry, runtime
from ..errors import NoRuleError, SrcadError
from ..source import UNRESOLVED, _is_user_function, _unwrap
from ..template import static_value
from .closures import LocalFunction, _as_def
from .containers import lower_containers
from ..nodes import walk
from .inline import Inliner
from .lifting import Bound, lifted
from .program import TypeError_, _dotted, _literal_or_ref, _loc_error, _name, assigned_names
from .scope import _is_global_ref, _is_static_root

__all__ = ["Calls", "METHODS"]

# Array methods mapped to the NumPy function that takes the array first.
METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "std": np.std, "var": np.var, "dot": np.dot, "reshape": np.reshape,
    "transpose": np.transpose, "ravel": np.ravel, "flatten": np.ravel, "squeeze": np.squeeze,
    "cumsum": np.cumsum, "cumprod": np.cumprod, "clip": np.clip, "copy": np.copy,
    "swapaxes": np.swapaxes, "trace": np.trace, "diagonal": np.diagonal, "round": np.round,
    "argmax": np.argmax, "argmin": np.argmin, "argsort": np.argsort, "all": np.all,
    "any": np.any, "repeat": np.repeat, "take": np.take, "conj": np.conj,
    "conjugate": np.conjugate,
}
_VARARG_SHAPE_METHODS = {"reshape", "transpose"}

# The methods of NumPy's random number generators that draw values (rng.random(shape),
# rng.standard_normal(shape), legacy RandomState.randn...), by name: the unbound method
# (its rules: none; a draw from inactive arguments is an inactive value, drawn once in the
# primal; passed an active argument, rng.normal(x) is refused for want of a rule).
_DRAW_METHODS = {name: getattr(cls, name) for cls in (np.random.RandomState, np.random.Generator)
                 for name in dir(cls) if not name.startswith("_") and name not in (
                     "bit_generator", "spawn", "get_state", "set_state", "seed", "shuffle")
                 and callable(getattr(cls, name))}


def _clip_bounds(callee, bounds, keywords, method=False) -> list:
    """``np.clip``'s bounds as the keywords of its rules (``bounds``: the bounds passed by
    position): NumPy 2.1's ``min=``/``max=`` as ``a_min=``/``a_max=``, and a bound not given
    as ``None`` where NumPy defaults it (the method, ``x.clip(0.1)``, and the function called
    with ``min=``/``max=``; ``np.clip(x, 0.1)`` raises NumPy's TypeError as written)."""
    if callee is not np.clip or not method and not any(k.arg in ("min", "max")
                                                       for k in keywords):
        return keywords
    for k in keywords:
        if k.arg in ("min", "max"):
            k.arg = "a_" + k.arg
    given = {k.arg for k in keywords} | set(("a_min", "a_max")[:bounds])
    return keywords + [gast.keyword(arg=bound, value=gast.Constant(value=None, kind=None))
                       for bound in ("a_min", "a_max") if bound not in given]


def _user_method(obj, name) -> bool:
    """Is ``obj`` an object of a user class (not a function, class or module) whose class
    defines the method ``name`` in Python?"""
    import types
    if obj is UNRESOLVED or isinstance(obj, (type, types.ModuleType, types.FunctionType,
                                             types.BuiltinFunctionType, functools.partial)):
        return False
    module = getattr(type(obj), "__module__", "") or ""
    return not module.startswith(("numpy", "srcad", "scipy", "builtins")) and isinstance(
        getattr(type(obj), name, None), types.FunctionType)


def _global_object(scope, node, name, obj, method):
    """The refusal of a method called on an object that is not an argument (a global)."""
    cls = type(obj).__name__
    call = f"{name}(...)" if method == "__call__" else f"{name}.{method}(...)"
    return _loc_error(scope.src, node, f"{call} calls a method of the global {cls} object "
                      f"{name!r}: srcad inlines the methods of the function's arguments and of "
                      "self, not of other objects", f"Pass {name} to the function as an "
                      f"argument (def f({name}, x): ... {call}), or call a module-level "
                      "function.", NoRuleError)


# np.<ufunc>.<method> calls that are NumPy functions, with the method's default axis 0.
_UFUNC_METHODS = {("add", "reduce"): np.sum, ("multiply", "reduce"): np.prod,
                  ("maximum", "reduce"): np.max, ("minimum", "reduce"): np.min,
                  ("fmax", "reduce"): np.nanmax, ("fmin", "reduce"): np.nanmin,
                  ("add", "accumulate"): np.cumsum, ("multiply", "accumulate"): np.cumprod,
                  ("maximum", "accumulate"): runtime.running_max,
                  ("minimum", "accumulate"): runtime.running_min}


def _ufunc_method(calls, scope, node, method):
    """``np.add.reduce(a, ...)`` as ``np.sum(a, axis=0, ...)`` (the ufunc methods that are
    NumPy functions); any other ufunc method is refused naming what to write."""
    ufunc, name = method.__self__.__name__, method.__name__
    function = _UFUNC_METHODS.get((ufunc, name))
    if function is None:
        outer = f" For np.{ufunc}.outer(a, b) of vectors, write np.{ufunc}(a[:, None], " \
            "b[None, :])." if name == "outer" else ""
        raise _loc_error(scope.src, node, f"np.{ufunc}.{name} (a method of a ufunc) has no "
                         "derivative rule", "Write it with NumPy functions: np.add.reduce is "
                         "np.sum(a, axis=0), np.multiply.accumulate is np.cumprod(a, axis=0)."
                         + outer,
                         NoRuleError)
    keywords = list(node.keywords)
    if len(node.args) < 2 and not any(k.arg == "axis" for k in keywords):
        keywords.append(gast.keyword(arg="axis", value=gast.Constant(value=0, kind=None)))
    if function.__module__ == runtime.__name__:          # srcad's helper: _srcad.running_max
        func = gast.Attribute(value=_name(calls.ref(runtime, "_srcad"), gast.Load()),
                              attr=function.__name__, ctx=gast.Load())
    else:
        func = _name(calls.ref(function, function.__name__), gast.Load())
    return function, gast.copy_location(gast.Call(func=func, args=list(node.args),
                                                  keywords=keywords), node)


class Calls(Inliner):
    """Calls (the layer above ``Inliner``)."""

    def call(self, scope, node, pre, hint):
        func = node.func
        for held in getattr(node, "srcad_keys", ()):      # f(**opts): stale if its keys change
            self.deps.append((held, "keys", held.keys))
        starred = any(isinstance(a, gast.Starred) for a in node.args)
        if any(k.arg is None for k in node.keywords):
            raise _star_error(scope, node)
        # array methods: x.sum(axis=0) -> np.sum(x, axis=0)
        if isinstance(func, gast.Attribute) and not _is_static_root(scope, func, self):
            if starred:
                raise _star_error(scope, node)
            return self.method(scope, node, pre)
        marked = getattr(node, "srcad_inline", None)     # a helper taking containers
        if starred and marked is not None:
            raise _star_error(scope, node)
        if marked is not None:
            args = [self.atom(scope, a, pre) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.atom(scope, k.value, pre))
                        for k in node.keywords]
            if marked[2] is not None:           # rebinding the helper's name rebuilds
                self.resolve(scope, marked[2])
            return self.inline(scope, node, marked[0], args, keywords, pre, hint, marked[1],
                               marked[3])
        callee = self.local_callee(scope, func, node)
        if isinstance(callee, LocalFunction):
            if starred:
                raise _star_error(scope, node)
            args = [self.argument(scope, a, pre) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.argument(scope, k.value, pre))
                        for k in node.keywords]
            return self.inline_local(scope, node, callee, args, keywords, pre, hint)
        if callee is UNRESOLVED:
            callee = self.resolve(scope, func)
        if callee is UNRESOLVED and isinstance(func, gast.Call):
            callee = self.made_derivative(scope, func)      # srcad.grad(h)(x)
            if callee is not UNRESOLVED and not isinstance(callee, Bound):
                func = _name(self.ref(callee, getattr(callee, "__name__", "derivative")),
                             gast.Load())
                node = gast.copy_location(gast.Call(func=func, args=node.args,
                                                    keywords=node.keywords), node)
        if isinstance(callee, Bound):         # a partial of local values, a lifted closure
            if starred:
                raise _star_error(scope, node)
            return self.bound_call(scope, node, callee, pre, hint)
        if callee is UNRESOLVED:
            raise _loc_error(scope.src, node, f"cannot resolve the function "
                             f"`{_dotted(func)}`",
                             "srcad resolves callees when it builds the derivative: call a "
                             "module-level function or a NumPy function by name.", NoRuleError)
        forward = getattr(callee, "__srcad_forward__", None)
        if forward is not None and not starred:          # srcad.jvp(h, (x,), (t,))
            return self.jvp_call(scope, node, callee, forward, pre, hint)
        if isinstance(getattr(callee, "__self__", None), np.ufunc) and \
                registry.lookup(callee) is None:
            callee, node = _ufunc_method(self, scope, node, callee)
            func = node.func
        if registry.lookup(callee) is None and _user_method(callee, "__call__"):
            raise _global_object(scope, node, _dotted(func), callee, "__call__")
        if isinstance(callee, functools.partial) and registry.lookup(callee) is None:
            # P(x) with P = partial(f, a, k=v): f(a, x, k=v), a and v read at call time
            bound = callee
            callee = bound.func
            func = _name(self.ref(callee, getattr(callee, "__name__", "partial_func")),
                         gast.Load())
            passed = {k.arg for k in node.keywords}
            node = gast.copy_location(gast.Call(
                func=func, args=[_literal_or_ref(self, v, "arg") for v in bound.args] + list(
                    node.args), keywords=[gast.keyword(arg=k, value=_literal_or_ref(self, v, k))
                                          for k, v in bound.keywords.items()
                                          if k not in passed] + list(node.keywords)), node)
        if callee is np.einsum and node.args and not (
                isinstance(node.args[0], gast.Constant) and isinstance(node.args[0].value, str)):
            node = _einsum_subscripts(scope.src, node)    # the sublist form, as a string
        if callee is runtime.take_and_zero and len(node.args) == 2 and not node.keywords:
            return self.take_and_zero(scope, node, pre)
        if callee in (max, min) and len(node.args) > 2 and not node.keywords:
            # max(a, b, c) -> max(max(a, b), c): the two-argument rule, applied in turn
            nested = node.args[0]
            for other in node.args[1:]:
                nested = gast.Call(func=func, args=[nested, other], keywords=[])
                gast.copy_location(nested, node)
            return self.call(scope, nested, pre, hint)
        if callee is np.piecewise:
            return self.piecewise(scope, node, pre, hint)
        if starred:          # np.random.randn(*x.shape): a call srcad has no rule for
            rule = registry.lookup(callee)
            if _is_user_function(callee) or rule is not None and not rule.nondiff:
                raise _star_error(scope, node)
            args = [gast.Starred(value=self.atom(scope, a.value, pre), ctx=gast.Load())
                    if isinstance(a, gast.Starred) else self.argument(scope, a, pre)
                    for a in node.args]
        else:
            args = [self.argument(scope, a, pre) for a in node.args]
        keywords = [gast.keyword(arg=k.arg, value=self.argument(scope, k.value, pre))
                    for k in node.keywords]
        return self.resolved_call(scope, node, func, callee, args, keywords, pre, hint)

    def jvp_call(self, scope, node, jvp, factory, pre, hint):
        """``srcad.jvp(f, (x, ...), (t, ...), wrt=...)`` as JAX's ``jvp`` is, the forward
        derivative ``autodiff(f, mode='forward', wrt=..., preserve_result=True)`` (made as
        ``made_derivative`` makes it: of a local function too) called with the primals,
        then the tangents: ``(value, tangent)``."""
        try:
            bound = inspect.signature(jvp).bind(*node.args, **{k.arg: k.value
                                                               for k in node.keywords})
        except TypeError as exc:
            raise _loc_error(scope.src, node, f"bad call to {_dotted(node.func)}: {exc}",
                             "Fix the arguments.", TypeError_) from None
        given = bound.arguments
        primals, tangents = given["primals"], given["tangents"]
        if not all(isinstance(n, (gast.Tuple, gast.List)) for n in (primals, tangents)) or \
                set(given) - {"f", "primals", "tangents", "wrt", "argnums", "optimized"}:
            raise _loc_error(scope.src, node, f"`{_dotted(node.func)}` inside a "
                             "differentiated function with primals or tangents that are not "
                             "tuple displays, or with batched= or has_aux=", "Write both "
                             "tuples in the call (srcad.jvp(h, (x,), (t,))), or call "
                             "srcad.autodiff(h, mode='forward')(x, t).", NoRuleError)
        wrt = given.get("argnums", given.get("wrt")) or gast.Tuple(elts=[
            gast.Constant(value=i, kind=None) for i in range(len(primals.elts))],
            ctx=gast.Load())
        options = [gast.keyword(arg="mode", value=gast.Constant(value="forward", kind=None)),
                   gast.keyword(arg="wrt", value=wrt),
                   gast.keyword(arg="preserve_result", value=gast.Constant(value=True,
                                                                          kind=None))]
        if "optimized" in given:
            options.append(gast.keyword(arg="optimized", value=given["optimized"]))
        made = gast.copy_location(gast.Call(func=node.func, args=[given["f"]],
                                            keywords=options), node)
        derivative = self.made_derivative(scope, made, factory)
        call = gast.copy_location(gast.Call(func=made, args=primals.elts + tangents.elts,
                                            keywords=[]), node)
        if isinstance(derivative, Bound):
            return self.bound_call(scope, call, derivative, pre, hint)
        func = _name(self.ref(derivative, getattr(derivative, "__name__", "derivative")),
                     gast.Load())
        call.func = func
        return self.resolved_call(scope, call, func, derivative, [
            self.argument(scope, a, pre) for a in call.args], [], pre, hint)

    def made_derivative(self, scope, call, factory=None):
        """The derivative ``srcad.grad(h, wrt=...)`` (or ``value_and_grad``, ``autodiff``,
        ``hvp``, or ``functools.partial(h, a=3.0)``) written in a call, made when the
        derivative is built: the options must be module-level names and literals, the
        function a module-level one, or a local the build knows (an alias ``q = h``, a
        partial, a nested def or lambda: ``lifting``), whose derivative is a ``Bound``;
        else UNRESOLVED."""
        if factory is None:                         # srcad's factories carry the marker
            factory = self.resolve(scope, call.func)
        if not _makes_callables(factory):
            return UNRESOLVED
        if not call.args:
            raise _loc_error(scope.src, call, f"`{_dotted(call.func)}` called without a "
                             "function", "Pass the function first.", TypeError_)
        target = self.made_target(scope, call.args[0])
        def static(arg):
            try:
                return static_value(arg)
            except ValueError:
                root = arg
                while isinstance(root, gast.Attribute):
                    root = root.value
                if not isinstance(root, gast.Name) or self.is_local(scope, root.id):
                    return UNRESOLVED    # a local (also one shadowing a global): run time
                return self.resolve(scope, arg)
        if factory is functools.partial:
            return self.made_partial(scope, call, target, static)
        args = [static(a) for a in call.args[1:]]
        keywords = {k.arg: static(k.value) for k in call.keywords}
        if target is UNRESOLVED or any(v is UNRESOLVED for v in [*args, *keywords.values()]) \
                or None in keywords:
            raise _not_static(scope, call)
        if keywords.get("has_aux") is True:     # its generated code returns the pair its
            # public function rearranges: inlined, the caller would read the wrong items
            raise _loc_error(scope.src, call, f"`{_dotted(call.func)}(..., has_aux=True)` "
                             "inside a differentiated function", "Make the derivative of a "
                             "function returning the value alone, and compute the auxiliary "
                             "value beside it.", NoRuleError)
        if isinstance(target, functools.partial) and registry.lookup(target) is None:
            target = self.partial_bound(target)
        if isinstance(target, LocalFunction):
            target = Bound(target)
        if not isinstance(target, Bound):
            return factory(target, *args, **keywords)
        if isinstance(target.func, LocalFunction):      # lifted: the closure's reads passed
            fn, free = self.lift(target.func, call.args[0])
            target = Bound(fn, target.args, target.keywords, free, target.func.scope)
        if target.keywords and getattr(factory, "__name__", "") not in ("grad",
                                                                        "value_and_grad"):
            raise _loc_error(scope.src, call, f"`{_dotted(call.func)}` of a functools.partial "
                             "binding keywords: the derivative takes more positional "
                             "arguments after the function's (tangents, a seed, a vector)",
                             "Bind the values by position (functools.partial(h, a)), or "
                             "differentiate the function and pass them (srcad.hvp(h)(x, v, "
                             "...)).", NoRuleError)
        args, keywords = _moved_wrt(factory, args, keywords, len(target.args))
        return target.over(factory(target.func, *args, **keywords))

    def made_target(self, scope, node):
        """The function a derivative factory or ``functools.partial`` is given (its first
        argument): a module-level function or object, or the local a name denotes (a
        ``closures.LocalFunction``, a ``Bound``, the function an alias names); UNRESOLVED
        if it is none of these."""
        if isinstance(node, gast.Lambda):   # read from the statement as written (g =
            return LocalFunction(_as_def(copy.deepcopy(node), "_lambda"), scope)  # partial(...))
        root = node
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(node, gast.Name) and self.is_local(scope, node.id):
            return self.local_callee(scope, node, node)    # refused there if unknown
        if not isinstance(root, gast.Name) or self.is_local(scope, root.id):
            return UNRESOLVED
        return self.resolve(scope, node)

    def made_partial(self, scope, call, target, static):
        """``functools.partial(f, *a, **k)``: the partial object when ``f`` and the values
        are module-level names and literals (as Python makes it), else a ``Bound`` of the
        values as the code spells them (each a literal, a global, or a local bound once:
        what the call reads is what the partial holds); UNRESOLVED for any other value."""
        values = [(a, static(a)) for a in call.args[1:]]
        named = {k.arg: (k.value, static(k.value)) for k in call.keywords}
        if None in named:
            raise _not_static(scope, call)
        if target is not UNRESOLVED and not isinstance(target, (LocalFunction, Bound)) and all(
                v is not UNRESOLVED for _, v in [*values, *named.values()]):
            return functools.partial(target, *[v for _, v in values],
                                     **{k: v for k, (_, v) in named.items()})
        if target is UNRESOLVED:
            raise _not_static(scope, call)
        for node, value in [*values, *named.values()]:
            if value is UNRESOLVED and not self.bound_once(scope, node):
                raise _loc_error(scope.src, node, "a value bound by functools.partial that "
                                 "is neither a literal, a module-level name, nor a local "
                                 "assigned once", "Bind a name assigned once (P = x ** 2; "
                                 "functools.partial(h, P)), or call the function with the "
                                 "value (h(P, x)).", NoRuleError)
        if isinstance(target, functools.partial):
            target = self.partial_bound(target)
        elif not isinstance(target, Bound):
            target = Bound(target)
        return target.bind([(scope, n) for n, _ in values],
                           {k: (scope, n) for k, (n, _) in named.items()})

    def partial_bound(self, partial) -> Bound:
        """The ``functools.partial`` object ``partial`` as a ``Bound`` of references to the
        values it holds."""
        return Bound(partial.func, [(None, _literal_or_ref(self, v, "arg"))
                                    for v in partial.args],
                     {k: (None, _literal_or_ref(self, v, k))
                      for k, v in partial.keywords.items()})

    def bound_once(self, scope, node) -> bool:
        """Is ``node`` a literal, or a local of the main function bound at most once (a
        parameter never rebound, a name assigned once), so that reading it at a call gives
        the value it held where the partial was made?"""
        if isinstance(node, gast.Constant):
            return True
        if not isinstance(node, gast.Name) or scope.depth:
            return False
        stores = [n for n in gast.walk(scope.src.node) if isinstance(n, gast.Name)
                  and n.id == node.id and not isinstance(n.ctx, (gast.Load, gast.Param))]
        a = self.main.node.args
        params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
        return len(stores) + (node.id in params) == 1

    def lift(self, local, where):
        """The nested def or lambda ``local`` as a function of its own (``lifting.lifted``)
        and the enclosing locals it reads, which its callers pass (made once per build)."""
        if local in self.lifted:
            return self.lifted[local]
        original, local = local, self.container_reads(local)
        outer = local.scope
        seen, todo, prelude, free = set(), [local.fdef], [], []
        while todo:
            fdef = todo.pop()
            a = fdef.args
            own = assigned_names(fdef) | {p.id for p in (a.vararg, a.kwarg) if p is not None}
            for n in walk(fdef):
                if not isinstance(n, gast.Name) or not isinstance(n.ctx, gast.Load) or \
                        n.id in own or n.id in seen:
                    continue
                seen.add(n.id)
                if n.id in outer.local_functions:          # a sibling it calls: in its body
                    sibling = outer.local_functions[n.id].fdef
                    prelude.append(sibling)
                    todo.append(sibling)
                elif self.is_local(outer, n.id):
                    if n.id in outer.containers or n.id in outer.callables or \
                            self.passed_to_main(n.id) is not None:
                        raise _loc_error(outer.src, n, f"`{_dotted(where)}`, whose derivative "
                                         f"is asked for here, reads {n.id!r} of the "
                                         "enclosing function, a container or a function "
                                         "(a container passed whole, to a helper or by "
                                         "itself, is not followed into it)",
                                         "Read the items it needs by constant keys inside "
                                         "it (p['W'] @ v), or read the array into a name "
                                         "first (W = p['W']), or pass it to the nested "
                                         "function as an argument.", NoRuleError)
                    alias = self.local_function(outer, n.id) if not outer.depth else UNRESOLVED
                    if isinstance(alias, Bound):
                        raise _loc_error(outer.src, n, f"`{_dotted(where)}`, whose derivative "
                                         f"is asked for here, calls {n.id!r}, made in the "
                                         "enclosing function from its local values",
                                         "Call the function it is made of with the values "
                                         "(h(P, z)).", NoRuleError)
                    if alias is not UNRESOLVED:   # q = h, g = functools.partial(h, a=3.0)
                        prelude.insert(0, next(
                            s for s in outer.src.node.body if isinstance(s, gast.Assign)
                            and any(isinstance(t, gast.Name) and t.id == n.id
                                    for t in s.targets)))
                    else:
                        free.append(n.id)
        qualname = f"{outer.src.fn.__qualname__}.<locals>.{local.fdef.name}"
        self.lifted[original] = made = (lifted(local, sorted(free), prelude, qualname),
                                        tuple(sorted(free)))
        return made

    def container_reads(self, local):
        """``local`` with its reads of the enclosing function's containers by constant keys
        (``p['W']`` of a dict parameter) read as the names holding those items, which it then
        takes as enclosing locals (a copy; ``local`` itself when it reads none, or passes a
        container to a helper, which ``lift`` refuses)."""
        outer = local.scope
        fdef = copy.deepcopy(local.fdef)
        a = fdef.args
        own = assigned_names(fdef) | {p.id for p in a.posonlyargs + a.args + a.kwonlyargs +
                                      [a.vararg, a.kwarg] if p is not None}
        views = {k: v for k, v in outer.containers.items() if k not in own}
        if not any(isinstance(n, gast.Name) and n.id in views for n in walk(fdef)):
            return local
        lower_containers(outer.src, fdef, {}, views, functions=frozenset(self.passed),
                         outputs=self.helper_output, local=frozenset(outer.local_functions))
        if any(getattr(n, "srcad_inline", None) for n in walk(fdef)):
            return local        # a helper passed the container reads it: refused (lift)
        self.deps += fdef.srcad_deps
        return LocalFunction(fdef, outer)

    def bound_call(self, scope, node, bound, pre, hint):
        """The call of a ``lifting.Bound``: its function with the values it binds, before
        the call's positional arguments and among its keywords, and the enclosing locals a
        lifted closure reads, read here."""
        args = [self.atom(s, n, pre) if s is not None else n for s, n in bound.args] + [
            self.argument(scope, a, pre) for a in node.args]
        passed = {k.arg for k in node.keywords}
        keywords = [gast.keyword(arg=k, value=self.atom(s, n, pre) if s is not None else n)
                    for k, (s, n) in bound.keywords.items() if k not in passed]
        keywords += [gast.keyword(arg=n, value=self.atom(bound.at, _name(n, gast.Load()),
                                                         pre)) for n in bound.reads]
        keywords += [gast.keyword(arg=k.arg, value=self.argument(scope, k.value, pre))
                     for k in node.keywords]
        callee = bound.func
        if getattr(callee, "__srcad_current__", None) is not None:
            args, keywords = _past_positional(callee, args, keywords)
        call = gast.copy_location(gast.Call(func=node.func, args=args, keywords=keywords),
                                  node)
        if isinstance(callee, LocalFunction):       # functools.partial(lambda ..., W)
            return self.inline_local(scope, call, callee, args, keywords, pre, hint)
        func = _name(self.ref(callee, getattr(callee, "__name__", "partial_func")),
                     gast.Load())
        call.func = func
        return self.resolved_call(scope, call, func, callee, args, keywords, pre, hint)

    def is_local(self, scope, ident) -> bool:
        """``ident`` names a local of the function being lowered (a parameter, an assigned
        name, a local function), as Python resolves it before a global of the same name."""
        if ident in scope.local_functions or ident in scope.callables or ident in scope.rename:
            return True
        a = self.main.node.args
        return not scope.depth and (ident in self.main_locals or ident in {
            p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | {
            p.id for p in (a.vararg, a.kwarg) if p is not None})

    def resolved_call(self, scope, node, func, callee, args, keywords, pre, hint):
        """The call of ``callee`` (written ``func``) with atom arguments: a user function
        inlined, anything else a Call marked with its callee."""
        if registry.lookup(callee) is None and _is_user_function(callee):
            built = self.built_once(scope, callee, args, keywords)
            if built is None:
                return self.inline(scope, node, callee, args, keywords, pre, hint)
            call = self.called_helper(scope, func, callee, built[1])
            call.srcad_callee = built[0]
            return gast.copy_location(call, node)
        _refuse_out(scope, node, _dotted(func), callee, args, keywords)
        for a in args + [k.value for k in keywords]:
            if isinstance(a, gast.Name) and a.id in scope.local_functions:
                raise _loc_error(scope.src, a, f"a nested function or lambda passed to "
                                 f"`{_dotted(func)}`, which srcad does not inline",
                                 "Pass it to a helper of yours, or call it directly.",
                                 NoRuleError)
        if scope.depth and scope.foreign:
            func = _name(self.ref(callee, _dotted(func).split(".")[-1]), gast.Load())
        elif isinstance(func, gast.Name):
            func = self.name(scope, func)
        call = gast.Call(func=func, args=args, keywords=_clip_bounds(callee, len(args) - 1, keywords))
        call.srcad_callee = self.keyword_variant(scope, node, callee, args, keywords)
        gast.copy_location(call, node)      # errors about the call point at it
        return call

    def piecewise(self, scope, node, pre, hint):
        """``np.piecewise(x, [c1, c2], [f1, f2, f3], *args, **kw)`` as NumPy computes it:
        ``y = zeros_like(x)``, then for each condition in turn ``y[c] = f(x[c], *args,
        **kw)`` (a function: a lambda, a nested or global function, inlined or a primitive)
        or ``y[c] = v`` (a value); an extra function is the ``otherwise`` piece, for where no
        condition holds. ``condlist`` and ``funclist`` must be list or tuple displays."""
        if len(node.args) < 3 or node.keywords and any(
                k.arg in ("x", "condlist", "funclist") for k in node.keywords):
            raise _loc_error(scope.src, node, "np.piecewise without x, condlist and funclist "
                             "passed by position", "Call np.piecewise(x, [conditions], "
                             "[functions or values]).")
        x_node, cond_node, func_node = node.args[:3]
        if not all(isinstance(n, (gast.List, gast.Tuple)) for n in (cond_node, func_node)):
            raise _loc_error(scope.src, node, "np.piecewise with a condlist or funclist that "
                             "is not a list written in the call", "Write both lists in the "
                             "call: np.piecewise(x, [x < 0, x >= 0], [f, g]).")
        conds, funcs = cond_node.elts, func_node.elts
        if len(funcs) not in (len(conds), len(conds) + 1):
            raise _loc_error(scope.src, node, f"np.piecewise with {len(conds)} conditions and "
                             f"{len(funcs)} functions", "Give one function per condition, "
                             "and at most one more for where none holds.")
        x = self.atom(scope, x_node, pre)
        extra = [self.atom(scope, a, pre) for a in node.args[3:]]
        extra_kw = [gast.keyword(arg=k.arg, value=self.atom(scope, k.value, pre))
                    for k in node.keywords]
        masks = [self.numpy_call("asarray", [self.atom(scope, c, pre)], pre, "_cond",
                                 [gast.keyword(arg="dtype", value=_name(self.ref(
                                     bool, "bool"), gast.Load()))]) for c in conds]
        if len(funcs) > len(conds):                  # the otherwise piece: no condition holds
            listed = self.bound(gast.List(elts=[copy.deepcopy(m) for m in masks],
                                          ctx=gast.Load()), "_conds", pre)
            held = self.numpy_call("any", [listed], pre, "_any", [gast.keyword(
                arg="axis", value=gast.Constant(value=0, kind=None))])
            masks.append(self.numpy_call("logical_not", [held], pre, "_otherwise"))
        out = self.numpy_call("zeros_like", [x], pre, "_piecewise")
        for mask, fn in zip(masks, funcs):
            value = self.piece_value(scope, node, fn, x, mask, extra, extra_kw, pre, hint)
            pre.append(gast.Assign(targets=[gast.Subscript(
                value=_name(out.id, gast.Load()), slice=copy.deepcopy(mask),
                ctx=gast.Store())], value=value, type_comment=None))
        return out

    def piece_value(self, scope, node, fn, x, mask, extra, extra_kw, pre, hint):
        """The value of one piece of np.piecewise: ``fn(x[mask], ...)``, or ``fn`` itself."""
        local = UNRESOLVED
        if isinstance(fn, gast.Name):
            try:
                local = self.local_callee(scope, fn, node)
            except SrcadError:          # a local value, not a function: the piece's value
                return self.atom(scope, fn, pre)
        callee = local if local is not UNRESOLVED else (
            self.resolve(scope, fn) if isinstance(fn, (gast.Name, gast.Attribute))
            and _is_global_ref(scope, fn, self) else UNRESOLVED)
        if not (isinstance(callee, LocalFunction) or (callee is not UNRESOLVED and callable(
                callee))):
            return self.atom(scope, fn, pre)                     # a value
        part = self.bound(gast.Subscript(value=copy.deepcopy(x), slice=copy.deepcopy(mask),
                                         ctx=gast.Load()), "_part", pre)
        args = [part] + [copy.deepcopy(a) for a in extra]
        keywords = copy.deepcopy(extra_kw)
        site = gast.copy_location(gast.Call(func=fn, args=args, keywords=keywords), node)
        if isinstance(callee, LocalFunction):
            return self.atom_of(self.inline_local(scope, site, callee, args, keywords, pre,
                                                  hint), pre)
        func = fn
        if scope.depth and scope.foreign:
            func = _name(self.ref(callee, _dotted(fn).split(".")[-1]), gast.Load())
        elif isinstance(fn, gast.Name):
            func = self.name(scope, fn)
        return self.atom_of(self.resolved_call(scope, site, func, callee, args, keywords, pre,
                                               hint), pre)

    def atom_of(self, simple, pre):
        """``simple`` as an atom (a call's result in a temporary of its own)."""
        simple = self.unpacked(simple, pre)
        if isinstance(simple, (gast.Name, gast.Constant)):
            return simple
        tmp = self.namer.temp_for(simple)
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=simple,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def numpy_call(self, attr, args, pre, hint, keywords=()):
        """``np.<attr>(*args, **keywords)`` in a fresh temporary, marked with its callee."""
        call = gast.Call(func=self.np_attr(attr), args=args, keywords=list(keywords))
        call.srcad_callee = getattr(np, attr)
        return self.bound(call, hint, pre)

    def keyword_variant(self, scope, node, callee, args, keywords):
        """``callee``, or its ``registry.Variant`` for the constant value of a keyword that
        decides how many values it returns (``np.linalg.svd(a, compute_uv=False)``); such a
        keyword passed a value known only at run time is the user's located error."""
        for keyword, (position, choices) in registry.variants_of(callee).items():
            given = next((k.value for k in keywords if k.arg == keyword), None)
            if given is None and position is not None and len(args) > position:
                given = args[position]
            if given is None:
                continue
            try:
                value = static_value(given)
            except ValueError:
                name = registry.public_name(callee)
                raise _loc_error(scope.src, node, f"`{keyword}` of {name} decides how many "
                                 "values it returns, and srcad must know it when it builds the "
                                 "derivative: here it is not a constant",
                                 f"Pass a literal ({keyword}={choices[0][0]!r}), or call "
                                 f"{name} in each branch of an `if` on the value.") from None
            for key, chosen in choices:
                if isinstance(key, bool) and not isinstance(value, str):
                    value = bool(value)          # compute_uv=0 or None: NumPy's falsy
                if value == key and isinstance(value, str) == isinstance(key, str):
                    return chosen
        return callee

    def called_helper(self, scope, func, fn, args):
        """The call of helper ``fn`` that ``Inliner.built_once`` keeps: by its name, or by a
        reference to it from a helper of another module."""
        if scope.depth and scope.foreign:
            func = _name(self.ref(fn, fn.__name__), gast.Load())
        elif isinstance(func, gast.Name):
            func = self.name(scope, func)
        return gast.Call(func=func, args=args, keywords=[])

    def argument(self, scope, node, pre):
        """A call's argument as an atom; a local function's name as it is (the callee
        inlined receives it, any other refuses it)."""
        if isinstance(node, gast.Name) and node.id in scope.local_functions:
            return node
        return self.atom(scope, node, pre)

    def local_callee(self, scope, func, node):
        """The function a call through a local name makes, as Python resolves it (locals and
        parameters before globals): a parameter's default (in a helper: the argument
        passed), or UNRESOLVED when ``func`` is not a local. A main-function parameter (or
        a container's leaf: ``self.act``) resolves to the function the call passes (the
        derivative is built for it: ``Spec.callables``), else to its default; any other
        local callee is refused."""
        if not isinstance(func, gast.Name):
            return UNRESOLVED
        ident = func.id
        if ident in scope.callables:
            return scope.callables[ident]
        if ident in scope.local_functions:
            return scope.local_functions[ident]
        passed = self.passed_to_main(scope.rename.get(ident, None if scope.depth else ident))
        if isinstance(passed, types.MethodType) and _is_user_function(passed.__func__):
            raise _loc_error(scope.src, node, "the function called here is the bound method "
                             f"{passed.__qualname__}, passed as a value, whose object holds a "
                             "method bound to itself (self.act = self.relu) or is no "
                             "container of arrays: srcad does not inline it",
                             "Pass the object and call its method (model.forward(x)), or "
                             "pass a function.", NoRuleError)
        if passed is not None:
            return passed
        local = ident in scope.rename or (not scope.depth and ident in self.main_locals)
        if not local:
            return UNRESOLVED
        nested = not scope.depth and ident in scope.rename   # a local function's parameter
        alias = self.local_function(scope, ident) if not nested else UNRESOLVED
        if alias is not UNRESOLVED:
            return alias
        default = self.main_defaults.get(ident, UNRESOLVED) if not scope.depth and \
            not nested else UNRESOLVED
        if default is not UNRESOLVED and callable(default) and ident not in self.main_rebound:
            self.callables[ident] = default
            return default
        a = self.main.node.args
        if not scope.depth and not nested and ident not in self.main_rebound and ident in {
                p.id for p in a.posonlyargs + a.args + a.kwonlyargs}:
            raise _loc_error(scope.src, node, f"the parameter `{ident}` is called as a "
                             "function, and no function was passed for it: srcad builds the "
                             "derivative for the function a call passes",
                             "Call the derivative with the function (srcad.grad(f)(x, "
                             "np.tanh)), or show it for example arguments (srcad.show(f, x, "
                             "np.tanh)).", NoRuleError)
        raise _loc_error(scope.src, node, f"cannot call the local name `{ident}`: srcad "
                         "resolves the functions a derivative calls when it builds it",
                         "Call the function by its module-level name, pass it as an argument "
                         "(def f(x, act): the derivative is built for the function passed), "
                         "or take it from a tuple display (for act in (np.tanh, relu):).",
                         NoRuleError)

    def take_and_zero(self, scope, node, pre):
        """Generated code's ``v = take_and_zero(b, i)`` (the adjoint of ``x[i] = v``) spelled
        out as ``v = b[i] * last_write_mask(b, i); b[i] = 0.0`` (the product is a new array),
        so differentiating it again sees the write."""
        buf = self.atom(scope, node.args[0], pre)
        index = self.atom(scope, node.args[1], pre)
        part = self.namer.fresh("_part")
        pre.append(gast.Assign(targets=[_name(part, gast.Store())], type_comment=None,
                               value=gast.Subscript(value=buf, slice=index, ctx=gast.Load())))
        mask_call = gast.Call(func=gast.Attribute(value=_name(self.ref(runtime, "_srcad"),
                                                              gast.Load()),
                                                  attr="last_write_mask", ctx=gast.Load()),
                              args=[buf, index], keywords=[])
        mask_call.srcad_callee = runtime.last_write_mask
        mask = self.namer.fresh("_last")
        pre.append(gast.Assign(targets=[_name(mask, gast.Store())], value=mask_call,
                               type_comment=None))
        cut = self.namer.fresh("_cut")
        pre.append(gast.Assign(targets=[_name(cut, gast.Store())], type_comment=None,
                               value=gast.BinOp(left=_name(part, gast.Load()), op=gast.Mult(),
                                                right=_name(mask, gast.Load()))))
        pre.append(gast.Assign(targets=[gast.Subscript(value=_name(buf.id, gast.Load()),
                                                       slice=copy.deepcopy(index),
                                                       ctx=gast.Store())],
                               value=gast.Constant(value=0.0, kind=None), type_comment=None))
        return _name(cut, gast.Load())

    def method(self, scope, node, pre):
        func = node.func
        name = func.attr
        base = self.atom(scope, func.value, pre)
        args = [self.atom(scope, a, pre) for a in node.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(scope, k.value, pre))
                    for k in node.keywords]
        if name == "astype" or name == "item" and not args and not keywords:
            # x.astype(t), x.item() (the number a size-1 array holds): srcad's helpers
            call = gast.Call(func=gast.Attribute(value=_name(self.ref(runtime, "_srcad"),
                                                             gast.Load()),
                                                 attr=name, ctx=gast.Load()),
                             args=[base] + args, keywords=keywords)
            call.srcad_callee = getattr(runtime, name)
            return call
        if name == "pop" and not args and not keywords and isinstance(base, gast.Name):
            call = gast.Call(func=gast.Attribute(value=base, attr="pop", ctx=gast.Load()),
                             args=[], keywords=[])
            call.srcad_pop = base.id        # v = lst.pop(): the last element, removed
            return call
        target = METHODS.get(name)
        if target is None and isinstance(func.value, gast.Name):
            ident = func.value.id
            local = ident in scope.rename or (not scope.depth and ident in self.main_locals)
            owner = UNRESOLVED if local else scope.namespace.lookup(ident)
            if _user_method(owner, name):
                raise _global_object(scope, node, func.value.id, owner, name)
        if target is None and name in _DRAW_METHODS:
            call = gast.Call(func=gast.Attribute(value=base, attr=name, ctx=gast.Load()),
                             args=args, keywords=keywords)
            call.srcad_callee = _DRAW_METHODS[name]  # rng.normal(...): a draw, kept as it is
            return call
        if target is None:
            raise _loc_error(scope.src, node, f"srcad does not know the method `.{name}()`",
                             "Call the NumPy function instead (np.<name>(x, ...)).",
                             NoRuleError)
        if name in _VARARG_SHAPE_METHODS and len(args) > 1:
            args = [gast.Tuple(elts=args, ctx=gast.Load())]
            if not all(isinstance(a, gast.Constant) for a in args[0].elts):
                tmp = self.namer.fresh("_shape")
                pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=args[0],
                                       type_comment=None))
                args = [_name(tmp, gast.Load())]
        call = gast.Call(func=self.np_attr(target.__name__), args=[base] + args,
                         keywords=_clip_bounds(target, len(args), keywords,
                                                   method=True))
        call.srcad_callee = target
        _refuse_out(scope, node, _dotted(func) or f".{name}", target, [base] + args, keywords)
        if name in ("conj", "conjugate"):
            call.srcad_may_be_receiver = True   # x.conj() is x itself for a real x (not a copy)
        if name == "copy" and not args and not keywords:
            call.srcad_c_order = True   # x.copy() is C-contiguous (a reshape of it is a view)
        if name == "flatten":           # always a copy (np.ravel may give a view)
            tmp = self.namer.fresh("_ravel")
            pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=call,
                                   type_comment=None))
            call = gast.Call(func=self.np_attr("copy"), args=[_name(tmp, gast.Load())],
                             keywords=[])
            call.srcad_callee = np.copy
        return call

    def local_function(self, scope, ident):
        """The function a local bound once to a module-level function names
        (``f = np.sin``), else UNRESOLVED."""
        body = scope.src.node.body
        stores = [n for stmt in body for n in gast.walk(stmt)
                  if isinstance(n, gast.Name) and n.id == ident
                  and not isinstance(n.ctx, gast.Load)]
        bound = [stmt for stmt in body if isinstance(stmt, gast.Assign)
                 and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)
                 and stmt.targets[0].id == ident]
        if len(stores) != 1 or len(bound) != 1 or ident in self.main_defaults and \
                not scope.depth:
            return UNRESOLVED
        value = bound[0].value
        if isinstance(value, gast.Call) and not scope.depth:     # g = srcad.grad(h)
            return self.made_derivative(scope, value)
        if not isinstance(value, (gast.Name, gast.Attribute)) or not _is_global_ref(
                scope, value, self):
            return UNRESOLVED
        obj = scope.namespace.resolve(value)
        if obj is UNRESOLVED or not callable(obj) or isinstance(obj, type):
            return UNRESOLVED
        return obj


def _refuse_out(scope, node, spelled, callee, args, keywords):
    """Refuse a library call given an ``out`` array (by name, or positionally as in
    ``np.floor(x, y)``, ``np.round(x, 1, y)``): it writes its result into that array (and
    returns it), a write srcad does not follow (the rules compute a new value)."""
    out = next((k.value for k in keywords if k.arg == "out"), None)
    if out is None and isinstance(callee, np.ufunc):
        out = args[callee.nin] if len(args) > callee.nin else None
    elif out is None and not _is_user_function(callee):
        try:
            out = inspect.signature(callee).bind(*args).arguments.get("out")
        except (TypeError, ValueError):
            out = None
    if out is None or isinstance(out, gast.Constant) and out.value is None:
        return
    raise _loc_error(scope.src, node, f"{spelled}(..., out=...) writes into its out= array, "
                     "which srcad does not follow", f"Use the value instead: y = {spelled}(...) "
                     "without out= (the result is a new array).", NoRuleError)


def _makes_callables(obj) -> bool:
    """Is ``obj`` srcad's derivative factory or ``functools.partial``?"""
    return obj is functools.partial or getattr(obj, "__srcad_makes_derivatives__", False) is True


def _not_static(scope, call):
    """The refusal of a derivative or partial made of values the build cannot know."""
    return _loc_error(scope.src, call, f"`{_dotted(call.func)}` called with a function "
                      "or option that is not a module-level name or a literal (nor a local "
                      "function the build knows)", "Make it at module level (dh = srcad."
                      "grad(h), g = functools.partial(h, a=3.0)) and call that, or call the "
                      "function with the values directly (h(x, a=lam)).", NoRuleError)


def _moved_wrt(factory, args, keywords, count) -> tuple:
    """``args`` and ``keywords`` of ``factory(f, *args, **keywords)`` with its ``wrt`` (or
    ``argnums``) counted past ``count`` positional values a partial binds (names stay)."""
    if not count:
        return args, keywords
    signature = inspect.signature(factory)
    bound = signature.bind(None, *args, **keywords)
    bound.apply_defaults()
    options = dict(list(bound.arguments.items())[1:])
    wrt = options.get("argnums")
    if wrt is None:
        wrt = options.get("wrt", 0)

    def moved(w):
        return w + count if isinstance(w, int) and not isinstance(w, bool) and w >= 0 else w
    options["wrt"] = type(wrt)(map(moved, wrt)) if isinstance(wrt, (tuple, list)) else \
        moved(wrt)
    if "argnums" in options:
        options["argnums"] = None
    return (), options


def _past_positional(derivative, args, keywords) -> tuple:
    """The arguments of a call of ``derivative``'s generated function, which the outer build
    inlines: the values its public function takes past the positional parameters (a
    tangent, a seed, hvp's vector) are keyword-only parameters there, after those of a
    lifted function's reads, so passed by their names."""
    params = inspect.signature(_unwrap(derivative)).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) <= len(positional):
        return args, keywords
    given = {k.arg for k in keywords}
    rest = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in given]
    extra = args[len(positional):]
    return args[:len(positional)], keywords + [gast.keyword(arg=n, value=a)
                                               for n, a in zip(rest, extra)]


def _star_error(scope, node):
    """The refusal of ``*``/``**`` in a call srcad does not take them in: of a function
    with a derivative rule, a helper, a method."""
    return _loc_error(scope.src, node, "srcad does not differentiate *-unpacking here (only "
                      "of a container srcad knows, or in a call of a function without a "
                      "derivative rule: np.random.randn(*x.shape))",
                      "Pass the arguments explicitly.")


def _einsum_subscripts(src, node):
    """``np.einsum(a, [0, 1], b, [1, 2], [0, 2])`` as ``np.einsum('ab,bc->ac', a, b)``; the
    sublists must be literal lists or tuples of integers (and ``...``)."""
    args = node.args
    out = args[-1] if len(args) % 2 == 1 else None      # operand, sublist, ..., [output]
    pairs = args[:-1] if out is not None else args
    operands, subscripts = pairs[0::2], pairs[1::2]

    def letters(sub):
        if not isinstance(sub, (gast.List, gast.Tuple)):
            raise _loc_error(src, node, "np.einsum's sublist form needs literal sublists",
                             "Write the subscripts as a string: np.einsum('ij,jk->ik', a, b).",
                             NoRuleError)
        text = ""
        for e in sub.elts:
            if isinstance(e, gast.Constant) and e.value is Ellipsis or (
                    isinstance(e, gast.Name) and e.id == "Ellipsis"):
                text += "..."
            elif isinstance(e, gast.Constant) and type(e.value) is int and 0 <= e.value < 52:
                text += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[e.value]
            else:
                raise _loc_error(src, node, "np.einsum sublists hold integers 0..51 and ...",
                                 "Write the subscripts as a string: "
                                 "np.einsum('ij,jk->ik', a, b).", NoRuleError)
        return text
    spec = ",".join(letters(s) for s in subscripts)
    if out is not None:
        spec += "->" + letters(out)
    new = gast.Call(func=node.func, args=[gast.Constant(value=spec, kind=None)] + operands,
                    keywords=node.keywords)
    return gast.copy_location(new, node)
