"""Nested ``def``s and lambdas of a function: taken out of its body as local functions, which
``inline.Inliner.inline_local`` inlines at each call like a helper (a closure reads the
enclosing function's names where it is called, as Python's late binding does).

Input: a FunctionDef as parsed (first, before the sugar and the comprehensions). Output: the
same function without
* ``def g(...): ...`` statements at the top level of its body,
* ``g = lambda ...: ...`` statements there,
* lambdas passed as call arguments (``h(lambda z: z ** 2, x)``: named ``_lambda``), or as
  items of a list or tuple display (passed as one: ``np.piecewise(x, c, [lambda v: v, 0.0])``,
  or bound to a name: ``fs = [lambda z: z, np.sin]``, a container of functions),
* a list comprehension making lambdas over constants (``[lambda z: z * k for k in
  range(3)]``), first made the display of its lambdas, with Python's binding: a default
  (``k=k``) takes the variable's value at its iteration, a free read of the variable the
  value it has once the comprehension ended (its last: late binding),
* ``g = functools.partial(f, a, k=v)`` at the top level of its body, ``g`` bound once, ``f``
  a name the function does not assign: each call ``g(x)`` is ``f(a, x, k=v)`` (a call's
  keyword replacing the partial's), ``a`` and ``v`` as they were where the partial was made
  (a name assigned again: a copy made there, ``_g_arg``); a ``g`` also passed or stored as a
  value is the nested def ``def g(x): return f(a, x, k=v)`` of the parameters ``f``'s
  signature leaves (``_partial_def``), taken out as the others,
and the local functions they define, name -> a FunctionDef (a lambda as ``def`` returning its
body). Each name is bound once and only called or passed to a call (``Calls`` refuses any
other use); a parameter default of a local function is a constant. Any other nested ``def``
or lambda is left to the fence, which refuses it with its location.
"""
from __future__ import annotations

import copy
import functools

import gast

from ..naming import names_in
from ..nodes import walk
from ..source import Source
from .comprehensions import _constants, _range, _substituted
from .program import _loc_error

__all__ = ["local_functions", "LocalFunction"]


class LocalFunction:
    """A nested def or lambda, and the scope it was defined in (its free names resolve there)."""

    def __init__(self, fdef, scope):
        self.fdef = fdef
        self.scope = scope


def _as_def(lam, name):
    ret = gast.copy_location(gast.Return(value=lam.body), lam.body)
    fdef = gast.FunctionDef(name=name, args=lam.args, body=[ret], decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
    return gast.copy_location(fdef, lam)


def local_functions(src: Source, fdef) -> dict:
    """Take ``fdef``'s local functions out of its body (see the module docstring)."""
    _call_partials(src, fdef)
    if not any(isinstance(n, (gast.FunctionDef, gast.Lambda)) for stmt in fdef.body
               for n in walk(stmt)):
        return {}
    taken = names_in(fdef)
    stores: dict = {}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    found: dict = {}
    body = []
    for stmt in fdef.body:
        name, made = None, None
        if isinstance(stmt, gast.FunctionDef) and not stmt.decorator_list:
            name, made = stmt.name, stmt
        elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(
                stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda):
            name = stmt.targets[0].id
            made = _as_def(stmt.value, name)
        if made is not None:
            if name in found or stores.get(name, 0) > (0 if made is stmt else 1):
                raise _loc_error(src, stmt, f"the local function {name!r} is bound more than "
                                 "once", "Give each nested function its own name.")
            _check_defaults(src, made)
            found[name] = made
            continue
        body.append(_hoist_lambdas(src, _unrolled_lambdas(src, stmt), found, taken))
    fdef.body = body or [gast.copy_location(gast.Pass(), fdef)]
    return found


def _call_partials(src: Source, fdef) -> None:
    """Each call of a local ``g = functools.partial(f, ...)`` spelled as the call of ``f``
    (see the module docstring); ``g`` then bound to nothing."""
    stores: dict = {}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    taken = names_in(fdef)
    body = []
    for stmt in fdef.body:
        made = _partial_made(src, stmt, stores)
        if made is None:
            body.append(stmt)
            continue
        name = stmt.targets[0].id
        uses = [n for n in gast.walk(fdef) if isinstance(n, gast.Name) and n.id == name and
                isinstance(n.ctx, gast.Load)]
        calls = [c for c in gast.walk(fdef) if isinstance(c, gast.Call) and
                 isinstance(c.func, gast.Name) and c.func.id == name]
        as_value = len(calls) != len(uses)      # passed or read as a value: a nested def
        if as_value and _partial_def(src, made, name, [], []) is None:
            body.append(stmt)           # (a signature srcad cannot spell: Calls refuses it)
            continue
        bound = []                      # the arguments as they are here
        for k, value in enumerate(made.args[1:] + [kw.value for kw in made.keywords]):
            if isinstance(value, gast.Constant) or isinstance(value, gast.Name) and \
                    stores.get(value.id, 0) <= 1:
                bound.append(value)
                continue
            copied, i = f"_{name}_arg", 2
            while copied in taken:
                copied, i = f"_{name}_arg_{i}", i + 1
            taken.add(copied)
            body.append(gast.copy_location(gast.Assign(targets=[gast.Name(
                id=copied, ctx=gast.Store(), annotation=None, type_comment=None)],
                value=value, type_comment=None), stmt))
            bound.append(gast.Name(id=copied, ctx=gast.Load(), annotation=None,
                                   type_comment=None))
        positional, keywords = bound[:len(made.args) - 1], bound[len(made.args) - 1:]
        if as_value:
            body.append(_partial_def(src, made, name, positional, keywords))
            continue
        for call in calls:
            given = {k.arg for k in call.keywords}
            call.func = copy.deepcopy(made.args[0])
            call.args = [copy.deepcopy(a) for a in positional] + call.args
            call.keywords = [gast.keyword(arg=k.arg, value=copy.deepcopy(v))
                             for k, v in zip(made.keywords, keywords) if k.arg not in given
                             ] + call.keywords
    fdef.body = body or [gast.copy_location(gast.Pass(), fdef)]


_LITERALS = (int, float, complex, bool, str, type(None))


def _partial_def(src: Source, made, name, positional, keywords):
    """``g = functools.partial(f, a, k=v)`` used as a value as the nested def ``def g(x, *,
    c=1.0): return f(a, x, k=v, c=c)`` of the parameters ``f``'s signature leaves (after a
    parameter bound by keyword, keyword-only, as the partial's own signature; ``k`` bound, a
    call cannot give it again), ``a`` and ``v`` the atoms ``positional`` and ``keywords``;
    None when ``f``'s signature is not known (no Python signature, ``*args``/``**kwargs``,
    a default that is not a literal, a bound keyword it does not take)."""
    import inspect
    try:
        params = list(inspect.signature(src.namespace.resolve(made.args[0])).parameters.values())
    except (TypeError, ValueError):
        return None
    bound = {k.arg for k in made.keywords}
    skipped = len(made.args) - 1
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params) or len(
            [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    ) < skipped or not bound <= {p.name for p in params[skipped:]
                                 if p.kind != p.POSITIONAL_ONLY} or any(
            p.default is not p.empty and type(p.default) not in _LITERALS for p in params):
        return None

    def arg(ident):
        return gast.Name(id=ident, ctx=gast.Param(), annotation=None, type_comment=None)

    def load(ident):
        return gast.Name(id=ident, ctx=gast.Load(), annotation=None, type_comment=None)

    args: list = []
    kwonly: list = []
    kw_defaults: list = []
    defaults: list = []
    call_args, call_keywords = [copy.deepcopy(a) for a in positional], [
        gast.keyword(arg=k.arg, value=copy.deepcopy(v)) for k, v in zip(made.keywords,
                                                                         keywords)]
    keyword_only = False
    for p in params[skipped:]:
        if p.name in bound:
            keyword_only = True         # the partial's signature: the rest keyword-only
            continue
        default = None if p.default is p.empty else gast.Constant(value=p.default, kind=None)
        if keyword_only or p.kind == p.KEYWORD_ONLY:
            kwonly.append(arg(p.name))
            kw_defaults.append(default)
            call_keywords.append(gast.keyword(arg=p.name, value=load(p.name)))
        else:
            if default is None and defaults:
                return None
            args.append(arg(p.name))
            defaults += [default] if default is not None else []
            call_args.append(load(p.name))
    ret = gast.Return(value=gast.Call(func=copy.deepcopy(made.args[0]), args=call_args,
                                      keywords=call_keywords))
    fdef = gast.FunctionDef(name=name, args=gast.arguments(
        args=args, posonlyargs=[], vararg=None, kwonlyargs=kwonly, kw_defaults=kw_defaults,
        kwarg=None, defaults=defaults), body=[ret], decorator_list=[], returns=None,
        type_comment=None, type_params=[])
    for n in gast.walk(fdef):
        if isinstance(n, (gast.stmt, gast.expr)):
            gast.copy_location(n, made)
    return fdef


def _partial_made(src: Source, stmt, stores: dict):
    """The call ``functools.partial(f, ...)`` of ``g = functools.partial(f, ...)``, ``g``
    bound once, ``f`` a name (or attribute of one) the function does not assign, no ``*``
    or ``**`` among its arguments; else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(
            stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Call)):
        return None
    made = stmt.value
    root = made.args[0] if made.args else None
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name) or stores.get(root.id) or \
            stores[stmt.targets[0].id] != 1 or any(
                isinstance(a, gast.Starred) for a in made.args) or any(
                k.arg is None for k in made.keywords) or \
            src.namespace.resolve(made.func) is not functools.partial:
        return None
    return made


def _check_defaults(src, fdef):
    for d in fdef.args.defaults + [d for d in fdef.args.kw_defaults if d is not None]:
        if not isinstance(d, gast.Constant) and not (
                isinstance(d, gast.UnaryOp) and isinstance(d.operand, gast.Constant)):
            raise _loc_error(src, d, "a default of a nested function that is not a constant",
                             "Pass the value as an argument, or let the function read it "
                             "from the enclosing function.")


def _unrolled_lambdas(src, stmt):
    """``stmt`` with each list comprehension making lambdas over constants (one ``for`` over a
    tuple or ``range`` of constants, no condition) as the list display of its lambdas: per
    iteration the lambda with its defaults read at that iteration and its free reads of the
    variable at its last value (the comprehension's own variable, which its lambdas close
    over: late binding, as Python runs it)."""
    class Unroll(gast.NodeTransformer):
        def visit_ListComp(self, n):
            self.generic_visit(n)
            if not isinstance(n.elt, gast.Lambda) or len(n.generators) != 1:
                return n
            gen = n.generators[0]
            values = _range(gen.iter) if isinstance(gen.iter, gast.Call) and isinstance(
                gen.iter.func, gast.Name) and gen.iter.func.id == "range" else \
                _constants(gen.iter)
            if values is None or gen.ifs or gen.is_async or not isinstance(
                    gen.target, gast.Name) or any(isinstance(m, gast.Lambda)
                                                  for m in gast.walk(n.elt.body)):
                raise _loc_error(src, n, "lambdas made in a list comprehension over values "
                                 "not known when the derivative is built (or with a "
                                 "condition, nested loops, nested lambdas)",
                                 "Iterate over a range or tuple of constants ([lambda z, k=k: "
                                 "z * k for k in range(3)]), or write a def taking the value "
                                 "as a parameter and call it in the loop.")
            var = gen.target.id
            a = n.elt.args
            params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | {
                p.id for p in (a.vararg, a.kwarg) if p is not None}
            made = []
            for v in values:
                lam = copy.deepcopy(n.elt)
                lam.args.defaults = [_substituted(d, {var: v}) for d in lam.args.defaults]
                lam.args.kw_defaults = [d if d is None else _substituted(d, {var: v})
                                        for d in lam.args.kw_defaults]
                if var not in params:
                    lam.body = _substituted(lam.body, {var: values[-1]})
                made.append(lam)
            return gast.copy_location(gast.List(elts=made, ctx=gast.Load()), n)

        def skip(self, n):
            return n

        visit_FunctionDef = visit_Lambda = skip
    return Unroll().visit(stmt)


def _hoist_lambdas(src, stmt, found, taken):
    """``stmt`` with each lambda passed as a call argument, or an item of a list or tuple
    display, named as a local function."""
    def fresh():
        name, i = "_lambda", 2
        while name in taken:
            name, i = f"_lambda_{i}", i + 1
        taken.add(name)
        return name

    class Hoist(gast.NodeTransformer):
        def visit_Call(self, n):
            self.generic_visit(n)
            for i, a in enumerate(n.args):
                if isinstance(a, gast.Lambda):
                    n.args[i] = self.named(a)
            for k in n.keywords:
                if isinstance(k.value, gast.Lambda):
                    k.value = self.named(k.value)
            return n

        def visit_List(self, n):     # np.piecewise's funclist, fs = [lambda z: z, ...]
            self.generic_visit(n)
            if isinstance(n.ctx, gast.Load):
                n.elts = [self.named(e) if isinstance(e, gast.Lambda) else e for e in n.elts]
            return n

        visit_Tuple = visit_List

        def named(self, lam):
            name = fresh()
            made = _as_def(lam, name)
            _check_defaults(src, made)
            found[name] = made
            return gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                type_comment=None), lam)

        def skip(self, n):
            return n        # a comprehension's lambda reads its variables: left to the fence

        visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = skip
        visit_FunctionDef = visit_Lambda = skip
    return Hoist().visit(stmt)
