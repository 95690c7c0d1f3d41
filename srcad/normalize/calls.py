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
import types

import gast
import numpy as np

from .. import registry, runtime
from ..errors import NoRuleError
from ..source import UNRESOLVED
from .closures import LocalFunction
from .inline import Inliner
from .program import _dotted, _literal_or_ref, _loc_error, _name
from .scope import _is_global_ref, _is_static_root, _is_user_function

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


class Calls(Inliner):
    """Calls (the layer above ``Inliner``)."""

    def call(self, scope, node, pre, hint):
        func = node.func
        for held in getattr(node, "srcad_keys", ()):      # f(**opts): stale if its keys change
            self.deps.append((held, "keys", held.keys))
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise _loc_error(scope.src, node, "*args/**kwargs in calls are not supported",
                             "Pass the arguments explicitly.")
        # array methods: x.sum(axis=0) -> np.sum(x, axis=0)
        if isinstance(func, gast.Attribute) and not _is_static_root(scope, func, self):
            return self.method(scope, node, pre)
        marked = getattr(node, "srcad_inline", None)     # a helper taking containers
        if marked is not None:
            args = [self.atom(scope, a, pre) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.atom(scope, k.value, pre))
                        for k in node.keywords]
            if marked[2] is not None:           # rebinding the helper's name rebuilds
                self.resolve(scope, marked[2])
            return self.inline(scope, node, marked[0], args, keywords, pre, hint, marked[1])
        callee = self.local_callee(scope, func, node)
        if isinstance(callee, LocalFunction):
            args = [self.argument(scope, a, pre) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.argument(scope, k.value, pre))
                        for k in node.keywords]
            return self.inline_local(scope, node, callee, args, keywords, pre, hint)
        if callee is UNRESOLVED:
            callee = self.resolve(scope, func)
        if callee is UNRESOLVED:
            raise _loc_error(scope.src, node, f"cannot resolve the function "
                             f"`{_dotted(func)}`",
                             "srcad resolves callees when it builds the derivative: call a "
                             "module-level function or a NumPy function by name.", NoRuleError)
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
        args = [self.argument(scope, a, pre) for a in node.args]
        keywords = [gast.keyword(arg=k.arg, value=self.argument(scope, k.value, pre))
                    for k in node.keywords]
        if registry.lookup(callee) is None and _is_user_function(callee):
            built = self.built_once(scope, callee, args, keywords)
            if built is None:
                return self.inline(scope, node, callee, args, keywords, pre, hint)
            call = self.called_helper(scope, func, callee, built[1])
            call.srcad_callee = built[0]
            return gast.copy_location(call, node)
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
        call = gast.Call(func=func, args=args, keywords=keywords)
        call.srcad_callee = callee
        gast.copy_location(call, node)      # errors about the call point at it
        return call

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
                             f"{passed.__qualname__}, passed as a value, which srcad does not "
                             "inline", "Pass the object and call its method "
                             "(model.forward(x)), or pass a function.", NoRuleError)
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
        if name == "astype":
            call = gast.Call(func=gast.Attribute(value=_name(self.ref(runtime, "_srcad"),
                                                             gast.Load()),
                                                 attr="astype", ctx=gast.Load()),
                             args=[base] + args, keywords=keywords)
            call.srcad_callee = runtime.astype
            return call
        if name == "pop" and not args and not keywords and isinstance(base, gast.Name):
            call = gast.Call(func=gast.Attribute(value=base, attr="pop", ctx=gast.Load()),
                             args=[], keywords=[])
            call.srcad_pop = base.id        # v = lst.pop(): the last element, removed
            return call
        target = METHODS.get(name)
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
                         keywords=keywords)
        call.srcad_callee = target
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
        if not isinstance(value, (gast.Name, gast.Attribute)) or not _is_global_ref(
                scope, value, self):
            return UNRESOLVED
        obj = scope.namespace.resolve(value)
        if obj is UNRESOLVED or not callable(obj) or isinstance(obj, type):
            return UNRESOLVED
        return obj


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
