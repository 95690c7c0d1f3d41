"""Inlining: a call to a user helper (a Python function without a rule) is replaced by the
helper's own body, normalized in a scope of its own (its locals renamed ``helper_name``).

Input: a call of a user function, its arguments as atoms. Output: the statements of its body
appended to ``pre`` (parameters bound to the arguments or to their defaults; ``*args`` and
``**kwargs`` to containers of the call's items, each read through a name of its own; a
parameter it writes into is the caller's own array, unless a statement of its body first rebinds
it to an array of its own, `a = a.copy()`) and the atom holding its single returned
value (for a helper returning a container, the tuple of its leaves: ``helper_output`` finds
its structure for the caller, ``containers.helper_output``). A helper whose first inlining
passed ``INLINE_LIMIT`` statements is a call at its later sites (``built_once``), and at every
site in the build of a called helper's derivative that knows it (``normalize(called=)``).
"""
from __future__ import annotations

import copy
import dataclasses
import inspect

import gast

from .. import registry, runtime, trees
from ..registry import is_random_draw
from ..called_helpers import HelperPrimitive, helper_primitive
from ..errors import InternalError, SrcadError
from ..sharing import shares
from ..source import UNRESOLVED, _is_user_function, function_state, parse_function
from ..template import clone
from .anf import Expressions
from .closures import LocalFunction, local_functions
from .comprehensions import lower_comprehensions
from .trys import lower_reraising_try
from .containers import function_items, lower_containers, renamed, star_view
from .fence import fence
from .jumps import _lower_returns
from .messages import mark_messages
from .program import TypeError_, _literal_or_ref, _loc_error, _name, assigned_names
from .scope import _Scope
from .sugar import lower_sugar

__all__ = ["Inliner"]

_MAX_INLINE_DEPTH = 20

# A helper whose first inlining in a build produced more statements than this is called at
# its later call sites (``Inliner.built_once``), not inlined again.
INLINE_LIMIT = 200


class Inliner(Expressions):
    """Inlining (the layer above ``Expressions``)."""

    def inline(self, scope, node, fn, args, keywords, pre, hint, views=None, tree=None):
        """Inline a user helper from its own source; returns the atom holding its result.
        ``views``: its parameters passed containers (``containers.helper_call``); ``tree``:
        the structure of the container it returns, given back as the tuple of its leaves
        (``containers.helper_output``)."""
        if scope.depth >= _MAX_INLINE_DEPTH:
            raise _loc_error(scope.src, node, f"helper calls nest deeper than "
                             f"{_MAX_INLINE_DEPTH} (recursion?)",
                             "srcad inlines helpers; recursive functions are not supported.")
        views, leaves = renamed(views or {}, scope.rename)
        functions: dict = {}        # h([np.sin, lambda z: z], x): its items, by their names
        views = function_items(views, lambda n: self.function_name(scope, n, functions))
        leaves |= set(functions)
        src = self.parsed_helper(fn)
        fdef = src.node
        sig = inspect.signature(src.fn)     # a srcad derivative: its generated function's
        star = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
        args = [self.named(a, pre, fdef.name) if star and not isinstance(a, gast.Constant)
                else a for a in args]
        try:
            bound = sig.bind(*args, **{k.arg: k.value for k in keywords})
        except TypeError as exc:
            raise _loc_error(scope.src, node, f"bad call to {fn.__name__}: {exc}",
                             "Fix the arguments.", TypeError_) from None
        for pname, param in sig.parameters.items():    # *args, **kwargs: this call's items
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) and pname not in views:
                passed = bound.arguments.get(pname, {} if param.kind is param.VAR_KEYWORD
                                             else ())
                if isinstance(passed, dict):
                    passed = {k: v if isinstance(v, gast.Constant) else
                              self.named(v, pre, fdef.name) for k, v in passed.items()}
                views[pname] = star_view(passed)
                leaves |= {a.id for a in (passed.values() if isinstance(passed, dict)
                                          else passed) if isinstance(a, gast.Name)}
        clash = (assigned_names(fdef) | set(sig.parameters)) & leaves
        if clash:       # a leaf named like a local of the helper: read through a name of its
            alias = {n: self.named(_name(n, gast.Load()), pre, fdef.name).id  # own, which
                     for n in sorted(clash)}        # the helper's assignments cannot rebind
            views = renamed(views, alias)[0]
            leaves = (leaves - clash) | set(alias.values())
        src, own, returned = self.lowered_helper(fn, src, views, output=tree is not None)
        if returned != tree:
            raise InternalError(f"helper {fn.__name__} returns {trees.describe(returned)} "
                                f"where its caller was lowered for {trees.describe(tree)}")
        fdef = src.node
        containers = fdef.srcad_containers
        helper_ns = src.namespace
        self.deps.append((None, fn, function_state(fn)))
        mutated = _mutated_params(fdef, sig.parameters)
        _lower_returns(fdef, self.namer)        # early and multiple returns -> one at the end
        local_names = assigned_names(fdef) | set(sig.parameters)
        rename = {n: self.namer.fresh(f"{fdef.name}_{n}") for n in sorted(local_names)
                  if n not in mutated and n not in views}
        rename.update({n: n for n in leaves})     # the caller's names of container leaves
        self.origins.update({new: f"{n!r} in helper {fn.__name__}" for n, new in rename.items()})
        for pname, stmt in mutated.items():
            # A helper writing into its argument writes into the caller's array: the
            # parameter becomes the caller's own name, as Python's sharing implies.
            value = bound.arguments.get(pname)
            rebound = any(isinstance(n, gast.Name) and n.id == pname and isinstance(
                n.ctx, gast.Store) for n in gast.walk(fdef))
            if not isinstance(value, gast.Name) or rebound:
                raise _loc_error(src, stmt, f"helper {fn.__name__} writes into its argument "
                                 f"{pname!r}", "Pass a named array, and do not rebind the "
                                 "parameter inside the helper (or copy it and return the copy).")
            rename[pname] = value.id
        inner = _Scope(src, helper_ns, rename, foreign=src.fn.__globals__ is not
                       self.main.namespace.globals or bool(helper_ns.imports),
                       depth=scope.depth + 1)
        inner.local_functions = {n: LocalFunction(f, inner) for n, f in own.items()}
        inner.callables.update(functions)
        inner.containers = containers
        skip = set(mutated) | set(views)
        if fn in self.sizes or views or src.generated:
            return self.inlined_body(scope, node, fn.__name__, fdef, sig, bound, skip, inner,
                                     pre)
        before = len(pre)
        result = self.inlined_body(scope, node, fn.__name__, fdef, sig, bound, skip, inner, pre)
        plain = not (mutated or own or keywords or getattr(src.fn, "__closure__", None)) and all(
            p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values()) and isinstance(
            result, gast.Name)
        made = [n for s in pre[before:] for n in gast.walk(s)]
        self.sizes[fn] = sum(isinstance(n, gast.stmt) for n in made) if plain and all(
            _repeatable(n) for n in made) and _made_anew(pre[before:], result) else -1
        return result

    def function_name(self, scope, node, functions) -> str:
        """The name a helper reads the function ``node`` of its caller's scope by (an item of
        a display passed to it): a reference to a module-level function, a fresh name for a
        local function (inlined where called); ``functions`` maps it to the function."""
        found = self.passed_function(scope, node)
        if found is None or not (isinstance(found, LocalFunction) or callable(found)):
            raise _loc_error(scope.src, node, "a function srcad cannot resolve, passed in a "
                             "display to a helper", "Pass module-level functions or "
                             "lambdas.")
        base = node.id if isinstance(node, gast.Name) else node.attr
        name = self.namer.fresh(base.lstrip("_") or "fn") if isinstance(
            found, LocalFunction) else self.ref(found, base)
        functions[name] = found
        return name

    def built_once(self, scope, fn, args, keywords):
        """The primitive (``called_helpers.HelperPrimitive``) a call of helper ``fn`` is, in
        place of inlining it again: for a helper whose first inlining in this build passed
        ``INLINE_LIMIT`` statements, that takes positional parameters only, writes into none,
        has no closure cells or nested functions and returned a single value, called with
        positional arguments only (the defaults of the others passed) and no function among
        them: ``(primitive, arguments)``; else None."""
        params = list(inspect.signature(fn).parameters.values())
        if self.sizes.get(fn, -1) <= INLINE_LIMIT or keywords or len(args) > len(params) or \
                any(p.default is p.empty for p in params[len(args):]):
            return None
        args = list(args) + [_literal_or_ref(self, p.default, p.name)
                             for p in params[len(args):]]
        if any(self.passed_function(scope, a) is not None for a in args):
            return None
        self.deps.append((None, fn, function_state(fn)))
        primitive = helper_primitive(fn)
        # what this build measured: the build of fn's derivative calls these helpers at their
        # first site too (fn calling one twice, 12 levels deep, is 12 small builds, not a
        # copy of the levels below in each)
        primitive.note_called({g: n for g, n in self.sizes.items() if n > INLINE_LIMIT})
        return primitive, args

    def named(self, atom, pre, helper):
        """``atom`` bound to a name of its own (an item of a helper's ``*args``, which the
        helper's locals, renamed apart from it, cannot rebind)."""
        name = self.namer.fresh(f"{helper}_arg")
        # the caller's name anew: copied on, its own line range would not be the line of
        # the statement it lands in
        atom = _name(atom.id, gast.Load()) if isinstance(atom, gast.Name) else atom
        pre.append(gast.Assign(targets=[_name(name, gast.Store())], value=atom,
                               type_comment=None))
        return _name(name, gast.Load())

    def parsed_helper(self, fn):
        """Helper ``fn``'s Source, its node a copy of its own: read and parsed once per build,
        not once per call (a helper called at many sites, helpers calling helpers)."""
        if fn not in self.parsed:
            self.parsed[fn] = parse_function(fn)
            built = getattr(self.parsed[fn].fn, "__srcad_built__", None)
            if built is not None:   # a derivative srcad built: the globals its build read
                self.deps += built[1].deps     # (a helper it inlined) are this build's too
        src = self.parsed[fn]
        return dataclasses.replace(src, node=clone(src.node))

    def lowered_helper(self, fn, src, views, output=False):
        """``(Source, its local functions, the structure of the container it returns)`` of
        helper ``fn`` (parsed: ``src``) lowered up to the fence: once per build for a helper
        passed no containers (a copy at each call), anew for one passed containers or
        ``*args``/``**kwargs`` items (``views``). ``output``: a returned container is
        returned as the tuple of its leaves."""
        if not views and (fn, output) in self.helpers:
            lowered, own, deps, tree = self.helpers[fn, output]
            self.deps += deps
            node = clone(lowered.node)
            node.srcad_containers = lowered.node.srcad_containers
            return dataclasses.replace(lowered, node=node), own, tree
        fdef = src.node
        lower_reraising_try(src, fdef)
        own = local_functions(src, fdef)
        lower_sugar(src, fdef)
        lower_comprehensions(src, fdef)
        mark_messages(src, fdef)
        tree = lower_containers(src, fdef, {}, views, frozenset(self.passed), output=output,
                                outputs=self.helper_output, local=frozenset(own))
        self.deps += fdef.srcad_deps
        fence(src, fdef)
        if views:
            return src, own, tree
        self.helpers[fn, output] = (src, own, list(fdef.srcad_deps), tree)
        if tree is None:        # lowered as it is lowered returning one value
            self.helpers[fn, False] = self.helpers[fn, output]
        return dataclasses.replace(src, node=clone(fdef)), own, tree

    def helper_output(self, fn, views):
        """The structure of the container a call of user helper ``fn`` passed ``views``
        returns (``containers.lower_containers``'s ``outputs``), else None (one value, a
        function with a rule or from a library, a helper srcad refuses where it inlines it,
        one calling itself)."""
        if registry.lookup(fn) is not None or not _is_user_function(fn) or fn in self.probing:
            return None
        self.probing.add(fn)
        try:
            return self.lowered_helper(fn, self.parsed_helper(fn), dict(views), output=True)[2]
        except SrcadError:
            return None         # refused where it is inlined
        finally:
            self.probing.discard(fn)

    def inline_local(self, scope, node, local, args, keywords, pre, hint):
        """Inline a nested def or lambda (``closures.LocalFunction``) where it is called: its
        parameters and locals get names of their own, its free names are those of the scope
        that defined it."""
        outer = local.scope
        if local in self.active:
            raise _loc_error(scope.src, node, f"the nested function {local.fdef.name} calls "
                             "itself", "srcad inlines nested functions; recursion is not "
                             "supported.")
        src = outer.src
        fdef = copy.deepcopy(local.fdef)
        name = fdef.name
        own = local_functions(src, fdef)
        lower_sugar(src, fdef)
        lower_comprehensions(src, fdef)
        mark_messages(src, fdef)
        params = fdef.args
        bound_here = assigned_names(fdef) | {a.id for a in params.posonlyargs + params.args +
                                             params.kwonlyargs + [params.vararg, params.kwarg]
                                             if a}
        # the enclosing function's containers it reads (a closure: p['W'] of the caller)
        lower_containers(src, fdef, {}, {
            k: v for k, v in outer.containers.items() if k not in bound_here},
            functions=frozenset(self.passed), outputs=self.helper_output,
            local=frozenset(own) | frozenset(outer.local_functions))
        containers = fdef.srcad_containers
        self.deps += fdef.srcad_deps
        fence(src, fdef)
        sig = _signature(fdef)
        try:
            bound = sig.bind(*args, **{k.arg: k.value for k in keywords})
        except TypeError as exc:
            raise _loc_error(scope.src, node, f"bad call to {name}: {exc}",
                             "Fix the arguments.", TypeError_) from None
        mutated = _mutated_params(fdef, sig.parameters)
        if mutated:
            raise _loc_error(src, next(iter(mutated.values())), f"the nested function {name} "
                             "writes into its argument", "Copy it first and return the copy.")
        _lower_returns(fdef, self.namer)
        local_names = assigned_names(fdef) | set(sig.parameters)
        rename = {n: self.namer.fresh(f"{name}_{n}") for n in sorted(local_names)}
        self.origins.update({new: f"{n!r} in {name}" for n, new in rename.items()})
        inner = _Scope(src, outer.namespace, {**outer.rename, **rename}, foreign=outer.foreign,
                       depth=outer.depth)
        inner.callables = {k: v for k, v in outer.callables.items() if k not in rename}
        inner.local_functions = {k: v for k, v in outer.local_functions.items()
                                 if k not in rename}
        inner.local_functions.update({n: LocalFunction(f, inner) for n, f in own.items()})
        inner.containers = {**outer.containers, **containers}
        self.active.add(local)
        try:
            return self.inlined_body(scope, node, name, fdef, sig, bound, set(), inner, pre)
        finally:
            self.active.discard(local)

    def inlined_body(self, scope, node, name, fdef, sig, bound, skip, inner, pre):
        """The statements binding an inlined function's parameters, then its body, appended
        to ``pre``; the atom of its returned value."""
        src = inner.src
        rename = inner.rename
        lines = []
        written = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords}).arguments
        for pname, param in sig.parameters.items():
            if pname in skip:
                continue
            passed = written.get(pname)         # the argument as the caller wrote it
            function = self.passed_function(scope, passed) if passed is not None else (
                param.default if param.default is not param.empty else None)
            if isinstance(function, LocalFunction):
                inner.callables[pname] = function     # h(lambda z: z ** 2, x)
                continue
            if callable(function) and not isinstance(function, type):
                inner.callables[pname] = function     # h(x, act=np.tanh): act() is np.tanh
            if pname in bound.arguments:
                value = bound.arguments[pname]
            elif param.default is not param.empty:
                value = _literal_or_ref(self, param.default, pname)
            else:
                raise _loc_error(scope.src, node, f"missing argument {pname!r} to "
                                 f"{name}", "Pass it.", TypeError_)
            if isinstance(value, gast.Constant) and value.value is None and \
                    pname not in assigned_names(fdef.body):
                inner.nones.add(pname)                # `if act is not None:` is decided here
            lines.append(gast.Assign(targets=[_name(rename[pname], gast.Store())],
                                     value=value, type_comment=None))
        body = fdef.body
        returns = [n for n in gast.walk(fdef) if isinstance(n, gast.Return)]
        if len(returns) != 1 or body[-1] is not returns[0] or returns[0].value is None:
            raise _loc_error(src, returns[0] if returns else fdef,
                             f"srcad inlines helper {name}, which needs exactly one "
                             "`return <value>` as its last statement",
                             "Restructure the helper to compute the result and return it once "
                             "at the end.")
        out_lines = self.body(inner, body[:-1])
        ret_pre: list = []
        result = self.atom(inner, returns[0].value, ret_pre)
        for s in ret_pre:
            s.lineno = returns[0].lineno
        for s in lines:
            s.lineno = node.lineno if hasattr(node, "lineno") else None
        pre.extend(lines + out_lines + ret_pre)
        return result

    def passed_function(self, scope, atom):
        """The function an argument atom names in the calling scope, else None."""
        if isinstance(atom, gast.Name) and atom.id in scope.local_functions:
            return scope.local_functions[atom.id]
        if isinstance(atom, gast.Name) and atom.id in self.refs:
            return self.refs[atom.id]
        if isinstance(atom, gast.Name) and (atom.id in scope.rename.values() or (
                not scope.depth and atom.id in self.main_locals)):
            return scope.callables.get(atom.id) or self.callables.get(atom.id) or \
                self.passed_to_main(atom.id)
        if isinstance(atom, (gast.Name, gast.Attribute)):
            obj = scope.namespace.resolve(atom)
            return None if obj is UNRESOLVED else obj
        return None


def _signature(fdef) -> inspect.Signature:
    """The signature of a nested def or lambda (its defaults are constants)."""
    a = fdef.args
    P = inspect.Parameter

    def value(node):
        if node is None:
            return P.empty
        if isinstance(node, gast.UnaryOp):
            return -node.operand.value if isinstance(node.op, gast.USub) else node.operand.value
        return node.value
    positional = [(p, P.POSITIONAL_ONLY) for p in a.posonlyargs] + [
        (p, P.POSITIONAL_OR_KEYWORD) for p in a.args]
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params = [P(p.id, kind, default=value(d)) for (p, kind), d in zip(positional, defaults)]
    params += [P(p.id, P.KEYWORD_ONLY, default=value(d))
               for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return inspect.Signature(params)


def _repeatable(node) -> bool:
    """Can ``node`` of an inlined helper run again to the same effect (the VJP of a helper
    built once recomputes its primal)? Not a statement run for its effect (``print``, a
    context manager's enter), not a call of a function srcad has no rule for, nor of a
    random number generator."""
    if isinstance(node, gast.Expr) and getattr(node, "srcad_primal_only", False):
        return False
    if not isinstance(node, gast.Call):
        return True
    callee = getattr(node, "srcad_callee", None)
    if callee is None or callee is runtime.context_enter or (
            registry.lookup(callee) is None and not isinstance(callee, HelperPrimitive)):
        return False
    return not is_random_draw(callee)


def _made_anew(stmts, result) -> bool:
    """Is ``result`` (a name) assigned among ``stmts`` (branches and loops included) only
    values that share no memory (arithmetic, a ufunc, a reduction...)? A called helper's value
    is taken as new, so a helper handing back a view of its argument (``return x[1:]``)
    stays inlined."""
    values = [n.value for s in stmts for n in gast.walk(s) if isinstance(n, gast.Assign) and any(
        isinstance(t, gast.Name) and t.id == result.id for t in n.targets)]
    return bool(values) and not any(shares(v, "np") for v in values)


def _mutated_params(fdef, params) -> dict:
    """Parameters the function writes into (``p[i] = v``, ``p[i] += v``) -> the first write.
    A write after the parameter is rebound to an array of its own at the top of the body
    (``a = a.copy()``, ``a = np.array(a)``: ``_own_copies``) goes into that array, not into
    the argument."""
    own = _own_copies(fdef, params)
    out: dict = {}
    for position, stmt in enumerate(fdef.body):
        for n in gast.walk(stmt):
            target = n.targets[0] if isinstance(n, gast.Assign) else getattr(n, "target", None)
            if (isinstance(n, (gast.Assign, gast.AugAssign)) and isinstance(
                    target, gast.Subscript) and isinstance(target.value, gast.Name)
                    and target.value.id in params
                    and position <= own.get(target.value.id, len(fdef.body))):
                out.setdefault(target.value.id, n)
    return out


def _own_copies(fdef, params) -> dict:
    """Parameter -> the position of the first statement of the body (not nested in a branch
    or loop) that rebinds it to a value sharing no memory (``a = a.copy()``): what the body
    writes into it after that is its own."""
    out: dict = {}
    for position, stmt in enumerate(fdef.body):
        if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name) and stmt.targets[0].id in params
                and not shares(stmt.value, "np")):
            out.setdefault(stmt.targets[0].id, position)
    return out
