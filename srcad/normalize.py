"""Normalize: gast FunctionDef -> the same function in A-normal form, ready for the transformers.

Stages, in order: the fence (reject what srcad does not support, with the user's location and
what to write instead), desugaring (augmented and chained assignment, array methods and
attributes to NumPy calls, helper functions inlined from their own source), ANF, and renaming
of straight-line redefinitions so each value keeps its own name.

ANF guarantees, for the returned FunctionDef body (recursively inside if/for/while):
* every statement is one of
  ``name = simple`` / ``a, b = call`` (multi-output primitive) / ``name[index] = atom`` /
  ``lst.append(atom)`` / ``return atom-or-tuple-of-atoms`` / ``if atom:`` / ``for name in atom:``
  / ``while atom:`` (the test is recomputed at the end of the body) / ``break`` / ``continue``;
* ``simple`` is an atom, one call with atom arguments (``node.srcad_callee`` holds the resolved
  callable), one binary/unary operator or comparison over atoms, ``atom[index]`` with an index
  of atoms and slices, a list/tuple of atoms, or an opaque non-differentiable expression
  (``x.shape``, ``a and b``) marked ``srcad_opaque``;
* an atom is a Name, a literal, or a module attribute kept as written (``np.pi``);
* every statement has ``lineno`` of the user's line it came from.

With ``SRCAD_VERIFY=1`` these guarantees are checked (``analysis.anf_violations``).
"""
from __future__ import annotations

import builtins
import copy
import inspect
import types

import gast
import numpy as np

from . import registry, runtime
from .errors import NoRuleError, SrcadSyntaxError
from .naming import Namer, names_in
from .source import UNRESOLVED, Namespace, Source, function_state, parse_function
from .template import constant_node

__all__ = ["normalize", "Program", "METHODS", "default_nodes"]

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
_OPAQUE_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags"}
_MAX_INLINE_DEPTH = 20


class Program:
    """A normalized function plus what the later stages need to know about it."""

    def __init__(self, source: Source, node: gast.FunctionDef, namer: Namer, refs: dict,
                 deps: list, ref, origins: dict | None = None):
        self.source = source
        self.ref = ref        # (object, preferred name) -> name bound to it in generated code
        self.node = node
        self.namer = namer
        self.refs = refs      # generated-code name -> object it must be bound to
        self.deps = deps      # (namespace, name, object) resolved at build time
        self.origins = origins or {}    # a helper's renamed local -> "'u' in helper g"

    def describe(self, ident: str) -> str:
        """``ident`` as the user wrote it, for messages (a helper's locals are renamed)."""
        return self.origins.get(ident, repr(ident))

    @property
    def params(self) -> list[str]:
        a = self.node.args
        return [p.id for p in a.posonlyargs + a.args + a.kwonlyargs]


def _loc_error(src: Source, node, message: str, hint: str, cls=SrcadSyntaxError):
    return cls(message, src.location(node), hint)


# -- the fence ------------------------------------------------------------------------------

_REJECT = {
    gast.Try: ("try/except", "move error handling outside the differentiated function"),
    gast.With: ("`with`", "move the context manager outside the differentiated function"),
    gast.AsyncFunctionDef: ("async functions", "use a plain `def`"),
    gast.AsyncFor: ("async for", "use a plain `for`"),
    gast.AsyncWith: ("async with", "use plain code"),
    gast.Await: ("await", "use plain code"),
    gast.Yield: ("yield (generators)", "return the values (e.g. in a list) instead"),
    gast.YieldFrom: ("yield from", "return the values instead"),
    gast.Global: ("`global`", "pass the value in and return the new value instead"),
    gast.Nonlocal: ("`nonlocal`", "pass the value in and return the new value instead"),
    gast.ClassDef: ("class definitions", "define the class outside the function"),
    gast.FunctionDef: ("nested function definitions",
                       "define the helper at module level and call it"),
    gast.Lambda: ("lambda", "define a module-level `def` helper and call it"),
    gast.Delete: ("`del`", "leave the variable in place"),
    gast.Import: ("import inside the function", "import at module level"),
    gast.ImportFrom: ("import inside the function", "import at module level"),
    gast.ListComp: ("list comprehensions", "write a for loop that appends to a list"),
    gast.SetComp: ("set comprehensions", "write a for loop"),
    gast.DictComp: ("dict comprehensions", "write a for loop"),
    gast.GeneratorExp: ("generator expressions", "write a for loop that appends to a list"),
    gast.Dict: ("dict literals", "pass arrays as separate arguments"),
    gast.Set: ("set literals", "use a tuple"),
    gast.Starred: ("*-unpacking", "pass the arguments explicitly"),
    gast.NamedExpr: ("`:=` assignment expressions", "assign in a separate statement"),
    gast.Raise: ("`raise`", "validate inputs before calling the derivative"),
    gast.Assert: ("`assert`", "validate inputs before calling the derivative"),
    gast.Match: ("`match`", "use if/elif"),
    gast.JoinedStr: ("f-strings", "format strings outside the differentiated function"),
}


def fence(src: Source, fdef: gast.FunctionDef):
    """Reject unsupported syntax with the user's location and what to write instead."""
    args = fdef.args
    if args.vararg or args.kwarg:
        raise _loc_error(src, fdef, "*args/**kwargs parameters are not supported",
                         "Name each parameter explicitly.")
    for stmt in fdef.body:
        for node in gast.walk(stmt):
            kind = _REJECT.get(type(node))
            if kind is not None:
                raise _loc_error(src, node, f"srcad does not differentiate {kind[0]}",
                                 f"Instead: {kind[1]}.")
            if isinstance(node, (gast.For, gast.While)) and node.orelse:
                raise _loc_error(src, node, "srcad does not support `else` on loops",
                                 "Use a flag variable set before `break`.")
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Store):
                raise _loc_error(src, node, "assignment to attributes is not supported",
                                 "Assign to a local variable and return it.")
            if isinstance(node, gast.Name) and node.id.startswith("_srcad") and not \
                    src.generated:     # srcad's generated code may use them
                raise _loc_error(src, node, f"the name {node.id!r} is reserved by srcad",
                                 "Rename the variable.")


# -- ANF ------------------------------------------------------------------------------------

class _Scope:
    """One function body being normalized: the main function or an inlined helper."""

    def __init__(self, src: Source, namespace: Namespace, rename: dict, foreign: bool,
                 depth: int):
        self.src = src
        self.namespace = namespace
        self.rename = rename          # local name -> name in the generated function
        self.foreign = foreign        # globals differ from the main function's
        self.depth = depth
        self.callables: dict = {}     # helper parameter -> the function passed to it
        self.source_names = names_in(src.node)    # any other name is srcad's own (g_v, _k)


class _Normalizer:
    def __init__(self, src: Source, namer: Namer):
        self.main = src
        self.namer = namer
        self.refs: dict[str, object] = {}
        self.deps: list = []
        self.main_locals = set()
        self.main_defaults: dict = {}     # main parameter -> its default
        self.main_rebound: set = set()    # main parameters assigned in the body
        self.callables: dict = {}         # main parameter called as a function -> default
        self.origins: dict = {}           # a helper's renamed local -> how the user wrote it

    # -- names and references -----------------------------------------------------------
    def ref(self, obj, preferred: str) -> str:
        """A name bound to ``obj`` in the generated function."""
        for name, value in self.refs.items():
            if value is obj:
                return name
        g = self.main.namespace.globals
        if g.get(preferred, UNRESOLVED) is obj and preferred not in self.main_locals:
            return preferred
        name = preferred if preferred not in self.namer.taken else self.namer.fresh(preferred)
        self.namer.reserve(name)
        self.refs[name] = obj
        return name

    def resolve(self, scope: _Scope, func) -> object:
        obj = scope.namespace.resolve(func)
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and obj is not UNRESOLVED:
            self.deps.append((scope.namespace, root.id, scope.namespace.lookup(root.id)))
        return obj

    def name(self, scope: _Scope, node: gast.Name) -> gast.Name:
        """Rename a local; route a foreign global through a reference."""
        ident = node.id
        if ident in scope.rename:
            return _name(scope.rename[ident], node.ctx)
        if scope.depth and isinstance(node.ctx, gast.Load) and ident in scope.source_names:
            value = scope.namespace.lookup(ident)
            if value is UNRESOLVED:
                raise _loc_error(scope.src, node, f"name {ident!r} is not defined",
                                 "Define it before the call.", NameError_)
            if (scope.foreign or ident in self.main_locals
                    or ident in self.main.namespace.cells):
                self.deps.append((scope.namespace, ident, value))
                return _name(self.ref(value, ident), node.ctx)
        return _name(ident, node.ctx)

    # -- statements ---------------------------------------------------------------------
    def body(self, scope: _Scope, stmts: list) -> list:
        out = []
        for stmt in stmts:
            new = self.stmt(scope, stmt)
            for s in new:
                if getattr(s, "lineno", None) is None:
                    s.lineno = stmt.lineno
                    s.col_offset = getattr(stmt, "col_offset", 0)
                if getattr(s, "srcad_source", None) is None:
                    s.srcad_source = scope.src      # the file the line belongs to (helpers)
            out.extend(new)
        return out

    def stmt(self, scope, stmt) -> list:
        pre: list = []
        method = getattr(self, "stmt_" + type(stmt).__name__, None)
        if method is None:
            raise _loc_error(scope.src, stmt,
                             f"srcad does not differentiate `{type(stmt).__name__}` statements",
                             "Rewrite it with assignments, if/for/while and return.")
        result = method(scope, stmt, pre)
        for s in pre:
            if getattr(s, "srcad_source", None) is None:    # not an inlined helper's line
                s.lineno = stmt.lineno
                s.col_offset = getattr(stmt, "col_offset", 0)
        return pre + result

    def stmt_Pass(self, scope, stmt, pre):
        return []

    def stmt_Expr(self, scope, stmt, pre):
        value = stmt.value
        if isinstance(value, gast.Constant):
            return []   # docstring or bare literal
        if (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
                and value.func.attr == "append" and isinstance(value.func.value, gast.Name)
                and len(value.args) == 1 and not value.keywords):
            lst = self.name(scope, value.func.value)
            item = self.atom(scope, value.args[0], pre)
            call = gast.Call(func=gast.Attribute(value=lst, attr="append", ctx=gast.Load()),
                             args=[item], keywords=[])
            return [gast.Expr(value=call)]
        if isinstance(value, gast.Call) and not isinstance(value.func, gast.Attribute) or (
                isinstance(value, gast.Call) and _is_static_root(scope, value.func, self)):
            callee = self.resolve(scope, value.func)
            if registry.lookup(callee) is None and _is_user_function(callee) and \
                    _mutated_params(parse_function(callee).node,
                                    inspect.signature(callee).parameters):
                # a helper called for what it writes into its arguments: inline it, drop
                # the value it returns
                self.simple(scope, value, pre)
                return []
        if scope.src.generated and isinstance(value, gast.Call):
            # generated code calls helpers for their effect (lst.pop(), add_at): keep the value
            tmp = self.namer.fresh("_effect")
            return self.assign(scope, _name(tmp, gast.Store()), value, pre)
        raise _loc_error(scope.src, stmt, "an expression statement has no effect on the result",
                         "srcad differentiates values: assign the result to a variable, or "
                         "move side effects (print, logging) outside the function.")

    def stmt_Assign(self, scope, stmt, pre):
        targets = stmt.targets
        value = stmt.value
        out = []
        if len(targets) > 1:   # chained: a = b = value
            first = self.assign(scope, targets[-1], value, pre)
            for t in reversed(targets[:-1]):
                src_name = _name(self._target_name(scope, targets[-1]), gast.Load())
                out.extend(self.assign(scope, t, src_name, []))
            return first + out
        return self.assign(scope, targets[0], value, pre)

    def _target_name(self, scope, target):
        if isinstance(target, gast.Name):
            return scope.rename.get(target.id, target.id)
        raise _loc_error(scope.src, target, "chained assignment needs plain names",
                         "Assign in separate statements.")

    def assign(self, scope, target, value, pre) -> list:
        if isinstance(target, gast.Name):
            simple = self.simple(scope, value, pre, hint=target.id)
            return [gast.Assign(targets=[self.name(scope, target)], value=simple,
                                type_comment=None)]
        if isinstance(target, (gast.Tuple, gast.List)):
            if not all(isinstance(e, gast.Name) for e in target.elts):
                raise _loc_error(scope.src, target, "nested or starred unpacking targets",
                                 "Unpack into plain names, one level at a time.")
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(
                    target.elts):
                atoms = [self.atom(scope, e, pre) for e in value.elts]
                # Evaluate all right-hand sides before assigning (a, b = b, a).
                temps = []
                for a in atoms:
                    if isinstance(a, gast.Name):
                        t = self.namer.fresh("_" + a.id.lstrip("_"))
                        pre.append(gast.Assign(targets=[_name(t, gast.Store())], value=a,
                                               type_comment=None))
                        a = _name(t, gast.Load())
                    temps.append(a)
                return [gast.Assign(targets=[self.name(scope, e)], value=a, type_comment=None)
                        for e, a in zip(target.elts, temps)]
            simple = self.simple(scope, value, pre, hint="tuple")
            callee = getattr(simple, "srcad_callee", None)
            rule = registry.lookup(callee) if callee is not None else None
            names = [self.name(scope, e) for e in target.elts]
            if rule is not None and rule.adjoint is not None and len(
                    rule.adjoint.outputs) == len(names):
                return [gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())],
                                    value=simple, type_comment=None)]
            tname = self.namer.fresh("_" + ("_".join(n.id.lstrip("_") for n in names)))
            out = [gast.Assign(targets=[_name(tname, gast.Store())], value=simple,
                               type_comment=None)]
            for i, n in enumerate(names):
                out.append(gast.Assign(
                    targets=[n], type_comment=None,
                    value=gast.Subscript(value=_name(tname, gast.Load()),
                                         slice=gast.Constant(value=i, kind=None),
                                         ctx=gast.Load())))
            return out
        if isinstance(target, gast.Subscript):
            if not isinstance(target.value, gast.Name):
                raise _loc_error(scope.src, target, "assignment into a nested subscript",
                                 "Assign into a named array: `a = x[i]; a[j] = v`.")
            base = self.name(scope, target.value)
            index = self.index(scope, target.slice, pre)
            atom = self.atom(scope, value, pre)
            return [gast.Assign(targets=[gast.Subscript(value=_name(base.id, gast.Load()),
                                                        slice=index, ctx=gast.Store())],
                                value=atom, type_comment=None)]
        raise _loc_error(scope.src, target, "unsupported assignment target",
                         "Assign to names, tuples of names, or subscripts of named arrays.")

    def stmt_AugAssign(self, scope, stmt, pre):
        target = stmt.target
        if isinstance(target, gast.Name):
            load = gast.Name(id=target.id, ctx=gast.Load(), annotation=None, type_comment=None)
            value = gast.BinOp(left=load, op=stmt.op, right=stmt.value)
            out = self.assign(scope, target, value, pre)
            out[-1].srcad_inplace = True        # on an array, x += v writes into x
            return out
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            base = self.name(scope, _name(target.value.id, gast.Load()))
            index = self.index(scope, target.slice, pre)
            old = self.namer.fresh("_" + base.id.lstrip("_") + "_item")
            pre.append(gast.Assign(targets=[_name(old, gast.Store())], type_comment=None,
                                   value=gast.Subscript(value=base, slice=index,
                                                        ctx=gast.Load())))
            rhs = self.atom(scope, stmt.value, pre)
            new = self.namer.fresh("_" + base.id.lstrip("_") + "_new")
            pre.append(gast.Assign(targets=[_name(new, gast.Store())], type_comment=None,
                                   value=gast.BinOp(left=_name(old, gast.Load()), op=stmt.op,
                                                    right=rhs)))
            return [gast.Assign(targets=[gast.Subscript(value=_name(base.id, gast.Load()),
                                                        slice=copy.deepcopy(index),
                                                        ctx=gast.Store())],
                                value=_name(new, gast.Load()), type_comment=None)]
        raise _loc_error(scope.src, target, "unsupported augmented assignment target",
                         "Use a name or a subscript of a named array.")

    def stmt_Return(self, scope, stmt, pre):
        if scope.depth:
            raise AssertionError("helper returns are handled by inline()")
        if stmt.value is None:
            raise _loc_error(scope.src, stmt, "the function returns nothing",
                             "Return the value to differentiate.")
        if isinstance(stmt.value, gast.Tuple):
            elts = [self.atom(scope, e, pre, hint="result") for e in stmt.value.elts]
            return [gast.Return(value=gast.Tuple(elts=elts, ctx=gast.Load()))]
        return [gast.Return(value=self.atom(scope, stmt.value, pre, hint="result"))]

    def stmt_If(self, scope, stmt, pre):
        test = self.atom(scope, stmt.test, pre, hint="cond")
        return [gast.If(test=test, body=self.body(scope, stmt.body),
                        orelse=self.body(scope, stmt.orelse))]

    def stmt_For(self, scope, stmt, pre):
        """Loops over ``range(...)`` stay; any other iterable becomes an index loop
        (``for k in range(len(seq)): x = seq[k]``), so the adjoint can run it backwards."""
        it, target = stmt.iter, stmt.target
        lineno = stmt.lineno
        head: list = []
        callee = self.resolve(scope, it.func) if isinstance(it, gast.Call) else None
        if callee is range:
            loop_iter = self.atom(scope, it, pre, hint="range")
            loop_target = self._loop_name(scope, target)
        elif callee is enumerate and isinstance(target, gast.Tuple) and len(
                target.elts) == 2 and 1 <= len(it.args) + len(it.keywords) <= 2 and all(
                k.arg == "start" for k in it.keywords):
            seq = self._iterated(self.atom(scope, it.args[0], pre, hint="seq"), scope, stmt,
                                 pre)
            start = it.args[1] if len(it.args) > 1 else (
                it.keywords[0].value if it.keywords else None)
            loop_iter = self._index_range(seq, pre)
            if start is None:
                loop_target = self._loop_name(scope, target.elts[0])
                index = _name(loop_target.id, gast.Load())
            else:                       # enumerate(seq, start): count = position + start
                loop_target = _name(self.namer.fresh("_k"), gast.Store())
                index = _name(loop_target.id, gast.Load())
                head = self._head(scope, target.elts[0], gast.BinOp(
                    left=index, op=gast.Add(), right=start))
            head += self._head(scope, target.elts[1], gast.Subscript(
                value=seq, slice=index, ctx=gast.Load()))
        elif callee is zip and isinstance(target, gast.Tuple) and len(target.elts) == len(
                it.args) and not it.keywords:
            seqs = [self._iterated(self.atom(scope, a, pre, hint="seq"), scope, stmt, pre)
                    for a in it.args]
            loop_target = _name(self.namer.fresh("_k"), gast.Store())
            loop_iter = self._index_range(seqs, pre)
            for t, seq in zip(target.elts, seqs):
                head += self._head(scope, t, gast.Subscript(
                    value=seq, slice=_name(loop_target.id, gast.Load()), ctx=gast.Load()))
        else:
            if callee is reversed and len(it.args) == 1 and not it.keywords:
                it = gast.Subscript(value=it.args[0], slice=gast.Slice(
                    lower=None, upper=None, step=constant_node(-1)), ctx=gast.Load())
            seq = self._iterated(self.atom(scope, it, pre, hint="seq"), scope, stmt, pre)
            loop_target = _name(self.namer.fresh("_k"), gast.Store())
            loop_iter = self._index_range(seq, pre)
            head = self._head(scope, target, gast.Subscript(
                value=seq, slice=_name(loop_target.id, gast.Load()), ctx=gast.Load()))
        for s in head:
            s.lineno = lineno
        body, breaks = self.lower_jumps(head + self.body(scope, stmt.body), lineno)
        loop = gast.For(target=loop_target, iter=loop_iter, body=body, orelse=[],
                        type_comment=None)
        loop.srcad_breaks = breaks
        return [loop]

    def _iterated(self, seq, scope, loop, pre):
        """The sequence a ``for`` loop iterates over, held in a name of its own when the body
        rebinds the name it was read from: Python iterates over the object it had at the
        start (``for r in x: x = x - r``)."""
        if not isinstance(seq, gast.Name):
            return seq
        original = {scope.rename.get(n.id, n.id) for stmt in loop.body for n in gast.walk(stmt)
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        if seq.id not in original:
            return seq
        held = self.namer.fresh("_" + seq.id.lstrip("_") + "_iterated")
        pre.append(gast.Assign(targets=[_name(held, gast.Store())], value=seq,
                               type_comment=None))
        return _name(held, gast.Load())

    def _head(self, scope, target, value) -> list:
        """Statements assigning ``value`` to a loop's (desugared) target."""
        pre: list = []
        main = self.assign(scope, target, value, pre)
        return pre + main

    def _loop_name(self, scope, target):
        if not isinstance(target, gast.Name):
            raise _loc_error(scope.src, target, "unsupported loop target",
                             "Loop over a name, or unpack inside the loop body.")
        return self.name(scope, target)

    def _index_range(self, seqs, pre):
        """``range(len(seq))`` (``range(min(len(a), len(b)))`` for several) as ANF."""
        seqs = seqs if isinstance(seqs, list) else [seqs]
        lengths = [self._builtin_call(len, [s], pre, "_len") for s in seqs]
        n = lengths[0]
        for other in lengths[1:]:
            n = self._builtin_call(min, [n, other], pre, "_len")
        call = gast.Call(func=_name(self.ref(range, "range"), gast.Load()), args=[n],
                         keywords=[])
        call.srcad_callee = range
        tmp = self.namer.fresh("_range")
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=call,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def _builtin_call(self, fn, args, pre, base):
        call = gast.Call(func=_name(self.ref(fn, fn.__name__), gast.Load()), args=args,
                         keywords=[])
        call.srcad_callee = fn
        tmp = self.namer.fresh(base)
        pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=call,
                               type_comment=None))
        return _name(tmp, gast.Load())

    def stmt_While(self, scope, stmt, pre):
        test = self.atom(scope, stmt.test, pre, hint="cond")
        again: list = []
        test2 = self.atom(scope, copy.deepcopy(stmt.test), again, hint="cond")
        if isinstance(test, gast.Name) and isinstance(test2, gast.Name) and test.id != test2.id:
            again.append(gast.Assign(targets=[_name(test.id, gast.Store())],
                                     value=test2, type_comment=None))
        for s in again:
            s.lineno = stmt.lineno
        body, _ = self.lower_jumps(self.body(scope, stmt.body), stmt.lineno)
        return [gast.While(test=test, body=body + again, orelse=[])]

    def lower_jumps(self, body, lineno):
        """Replace ``break``/``continue`` in a loop body by flags: the statements after a
        jump run under ``if`` (so the adjoint sweep reverses exactly what ran), and a
        ``break`` flag leaves the loop at the end of the body. Returns (body, has_break)."""
        kinds = _jump_kinds(body)
        if not kinds:
            return body, False
        flags = {k: self.namer.fresh("_" + k) for k in sorted(kinds)}
        used = set()

        def flag(kind, value):
            used.add(kind)
            node = gast.Assign(targets=[_name(flags[kind], gast.Store())],
                               value=gast.Constant(value=value, kind=None), type_comment=None)
            node.lineno = lineno
            return node

        def lower(stmts):
            out = []
            for i, s in enumerate(stmts):
                if isinstance(s, gast.Break):
                    out.append(flag("break", True))
                    return out
                if isinstance(s, gast.Continue):
                    out.append(flag("continue", True))
                    return out
                if isinstance(s, gast.If) and _has_jump([s]):
                    s.body = lower(s.body) or [gast.Pass()]
                    s.orelse = lower(s.orelse)
                    out.append(s)
                    rest = lower(stmts[i + 1:])
                    if rest:
                        go = self.namer.fresh("_go")
                        names = [_name(flags[k], gast.Load()) for k in sorted(kinds)]
                        test = names[0] if len(names) == 1 else gast.BoolOp(
                            op=gast.Or(), values=names)
                        test = gast.UnaryOp(op=gast.Not(), operand=test)
                        test.srcad_opaque = True
                        guard = gast.Assign(targets=[_name(go, gast.Store())], value=test,
                                            type_comment=None)
                        cond = gast.If(test=_name(go, gast.Load()), body=rest, orelse=[])
                        guard.lineno = cond.lineno = lineno
                        out.extend([guard, cond])
                    return out
                out.append(s)
            return out

        lowered = lower(body)
        init = [flag(k, False) for k in sorted(kinds)]
        tail = []
        if "break" in used:
            leave = gast.Break()
            stop = gast.If(test=_name(flags["break"], gast.Load()), body=[leave], orelse=[])
            stop.lineno = leave.lineno = lineno
            tail.append(stop)
        return init + lowered + tail, "break" in used

    def stmt_Break(self, scope, stmt, pre):
        return [gast.Break()]

    def stmt_Continue(self, scope, stmt, pre):
        return [gast.Continue()]

    # -- expressions --------------------------------------------------------------------
    def atom(self, scope, node, pre, hint=None):
        """Reduce an expression to a Name or literal, emitting statements into ``pre``."""
        if isinstance(node, gast.Name):
            return self.name(scope, node)
        if isinstance(node, gast.Constant):
            return node
        if (isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd))
                and isinstance(node.operand, gast.Constant)):
            return node
        if isinstance(node, gast.Tuple) and all(
                isinstance(e, gast.Constant) for e in node.elts):
            return node
        simple = self.simple(scope, node, pre, hint=hint)
        if isinstance(simple, (gast.Name, gast.Constant)):
            return simple
        tmp = self.namer.temp_for(simple)
        assign = gast.Assign(targets=[_name(tmp, gast.Store())], value=simple,
                             type_comment=None)
        pre.append(assign)
        return _name(tmp, gast.Load())

    def simple(self, scope, node, pre, hint=None):
        """Reduce an expression to one operation over atoms."""
        if isinstance(node, (gast.Name, gast.Constant)):
            return self.atom(scope, node, pre)
        if isinstance(node, gast.BinOp):
            return gast.BinOp(left=self.atom(scope, node.left, pre), op=node.op,
                              right=self.atom(scope, node.right, pre))
        if isinstance(node, gast.UnaryOp):
            if isinstance(node.operand, gast.Constant):
                return node
            return gast.UnaryOp(op=node.op, operand=self.atom(scope, node.operand, pre))
        if isinstance(node, gast.Compare):
            return gast.Compare(left=self.atom(scope, node.left, pre), ops=node.ops,
                                comparators=[self.atom(scope, c, pre)
                                             for c in node.comparators])
        if isinstance(node, (gast.Tuple, gast.List)):
            cls = type(node)
            return cls(elts=[self.atom(scope, e, pre) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Subscript):
            value = self.atom(scope, node.value, pre)
            return gast.Subscript(value=value, slice=self.index(scope, node.slice, pre),
                                  ctx=gast.Load())
        if isinstance(node, gast.Attribute):
            return self.attribute(scope, node, pre)
        if isinstance(node, gast.Call):
            return self.call(scope, node, pre, hint)
        if isinstance(node, gast.IfExp):
            return self.ifexp(scope, node, pre, hint)
        if isinstance(node, gast.BoolOp):
            return self.opaque(scope, node)
        raise _loc_error(scope.src, node,
                         f"srcad does not differentiate `{type(node).__name__}` expressions",
                         "Rewrite it with plain arithmetic and NumPy calls.")

    def opaque(self, scope, node):
        """A non-differentiable expression kept as written (names renamed)."""
        node = copy.deepcopy(node)
        for sub in gast.walk(node):
            if isinstance(sub, gast.Name):
                new = self.name(scope, sub)
                sub.id = new.id
        node.srcad_opaque = True
        return node

    def ifexp(self, scope, node, pre, hint):
        test = self.atom(scope, node.test, pre, hint="cond")
        tmp = self.namer.fresh("_" + (hint or "select").lstrip("_"))
        body_pre, else_pre = [], []
        a = self.atom(scope, node.body, body_pre)
        b = self.atom(scope, node.orelse, else_pre)
        lineno = getattr(node, "lineno", None)
        stmt = gast.If(test=test,
                       body=body_pre + [gast.Assign(targets=[_name(tmp, gast.Store())],
                                                    value=a, type_comment=None)],
                       orelse=else_pre + [gast.Assign(targets=[_name(tmp, gast.Store())],
                                                      value=b, type_comment=None)])
        for s in gast.walk(stmt):
            if isinstance(s, gast.stmt):
                s.lineno = lineno
        pre.append(stmt)
        return _name(tmp, gast.Load())

    def index(self, scope, node, pre):
        if isinstance(node, gast.Slice):
            return gast.Slice(*[None if p is None else self.atom(scope, p, pre)
                                for p in (node.lower, node.upper, node.step)])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(scope, e, pre) for e in node.elts],
                              ctx=gast.Load())
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.Attribute) and scope.namespace.resolve(node) is None:
            return gast.Constant(value=None, kind=None)   # np.newaxis
        return self.atom(scope, node, pre)

    def attribute(self, scope, node, pre):
        obj = self.resolve(scope, node)
        if obj is not UNRESOLVED and _is_static_root(scope, node, self):
            # a module-level constant like np.pi or np.newaxis: keep it as written
            if scope.depth and scope.foreign:
                return _name(self.ref(obj, node.attr), gast.Load())
            return node
        base = self.atom(scope, node.value, pre)
        if node.attr == "T":
            call = gast.Call(func=self.np_attr("transpose"), args=[base], keywords=[])
            call.srcad_callee = np.transpose
            return call
        if node.attr in _OPAQUE_ATTRS:
            out = gast.Attribute(value=base, attr=node.attr, ctx=gast.Load())
            out.srcad_opaque = True
            return out
        if node.attr in ("real", "imag"):        # x.real is np.real(x): complex values
            call = gast.Call(func=self.np_attr(node.attr), args=[base], keywords=[])
            call.srcad_callee = getattr(np, node.attr)
            return call
        raise _loc_error(scope.src, node, f"srcad does not differentiate the attribute "
                         f"`.{node.attr}`", "Use the equivalent NumPy function.")

    def np_attr(self, attr):
        return gast.Attribute(value=_name(self.ref(np, "np"), gast.Load()), attr=attr,
                              ctx=gast.Load())

    def call(self, scope, node, pre, hint):
        func = node.func
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise _loc_error(scope.src, node, "*args/**kwargs in calls are not supported",
                             "Pass the arguments explicitly.")
        # array methods: x.sum(axis=0) -> np.sum(x, axis=0)
        if isinstance(func, gast.Attribute) and not _is_static_root(scope, func, self):
            return self.method(scope, node, pre)
        callee = self.local_callee(scope, func, node)
        if callee is UNRESOLVED:
            callee = self.resolve(scope, func)
        if callee is UNRESOLVED:
            raise _loc_error(scope.src, node, f"cannot resolve the function "
                             f"`{_dotted(func)}`",
                             "srcad resolves callees when it builds the derivative: call a "
                             "module-level function or a NumPy function by name.", NoRuleError)
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
        args = [self.atom(scope, a, pre) for a in node.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(scope, k.value, pre))
                    for k in node.keywords]
        if registry.lookup(callee) is None and _is_user_function(callee):
            return self.inline(scope, node, callee, args, keywords, pre, hint)
        if scope.depth and scope.foreign:
            func = _name(self.ref(callee, _dotted(func).split(".")[-1]), gast.Load())
        elif isinstance(func, gast.Name):
            func = self.name(scope, func)
        call = gast.Call(func=func, args=args, keywords=keywords)
        call.srcad_callee = callee
        gast.copy_location(call, node)      # errors about the call point at it
        return call

    def local_callee(self, scope, func, node):
        """The function a call through a local name makes, as Python resolves it (locals and
        parameters before globals): a parameter's default (in a helper: the argument
        passed), or UNRESOLVED when ``func`` is not a local. A main-function parameter
        resolves to its default and the derivative refuses calls passing another function
        (``Program.callables``); any other local callee is refused."""
        if not isinstance(func, gast.Name):
            return UNRESOLVED
        ident = func.id
        if ident in scope.callables:
            return scope.callables[ident]
        local = ident in scope.rename if scope.depth else ident in self.main_locals
        if not local:
            return UNRESOLVED
        alias = self.local_function(scope, ident)
        if alias is not UNRESOLVED:
            return alias
        default = self.main_defaults.get(ident, UNRESOLVED) if not scope.depth else UNRESOLVED
        if default is not UNRESOLVED and callable(default) and ident not in self.main_rebound:
            self.callables[ident] = default
            return default
        raise _loc_error(scope.src, node, f"cannot call the local name `{ident}`: srcad "
                         "resolves the functions a derivative calls when it builds it",
                         "Call the function by its module-level name, or give the parameter "
                         "the function as its default (def f(x, act=np.tanh)).", NoRuleError)

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
            from . import runtime
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

    def passed_function(self, scope, atom):
        """The function an argument atom names in the calling scope, else None."""
        if isinstance(atom, gast.Name) and atom.id in self.refs:
            return self.refs[atom.id]
        if isinstance(atom, gast.Name) and (atom.id in scope.rename.values() or (
                not scope.depth and atom.id in self.main_locals)):
            return scope.callables.get(atom.id) or self.callables.get(atom.id)
        if isinstance(atom, (gast.Name, gast.Attribute)):
            obj = scope.namespace.resolve(atom)
            return None if obj is UNRESOLVED else obj
        return None

    def inline(self, scope, node, fn, args, keywords, pre, hint):
        """Inline a user helper from its own source; returns the atom holding its result."""
        if scope.depth >= _MAX_INLINE_DEPTH:
            raise _loc_error(scope.src, node, f"helper calls nest deeper than "
                             f"{_MAX_INLINE_DEPTH} (recursion?)",
                             "srcad inlines helpers; recursive functions are not supported.")
        src = parse_function(fn)
        fdef = src.node
        fence(src, fdef)
        sig = inspect.signature(fn)
        try:
            bound = sig.bind(*args, **{k.arg: k.value for k in keywords})
        except TypeError as exc:
            raise _loc_error(scope.src, node, f"bad call to {fn.__name__}: {exc}",
                             "Fix the arguments.", TypeError_) from None
        helper_ns = Namespace(fn)
        self.deps.append((None, fn, function_state(fn)))
        mutated = _mutated_params(fdef, sig.parameters)
        _lower_returns(fdef, self.namer)        # early and multiple returns -> one at the end
        local_names = assigned_names(fdef) | set(sig.parameters)
        rename = {n: self.namer.fresh(f"{fn.__name__}_{n}") for n in sorted(local_names)
                  if n not in mutated}
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
        inner = _Scope(src, helper_ns, rename, foreign=fn.__globals__ is not
                       self.main.namespace.globals, depth=scope.depth + 1)
        lines = []
        written = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords}).arguments
        for pname, param in sig.parameters.items():
            if pname in mutated:
                continue
            passed = written.get(pname)         # the argument as the caller wrote it
            function = self.passed_function(scope, passed) if passed is not None else (
                param.default if param.default is not param.empty else None)
            if callable(function) and not isinstance(function, type):
                inner.callables[pname] = function     # h(x, act=np.tanh): act() is np.tanh
            if pname in bound.arguments:
                value = bound.arguments[pname]
            elif param.default is not param.empty:
                value = _literal_or_ref(self, param.default, pname)
            else:
                raise _loc_error(scope.src, node, f"missing argument {pname!r} to "
                                 f"{fn.__name__}", "Pass it.", TypeError_)
            lines.append(gast.Assign(targets=[_name(rename[pname], gast.Store())],
                                     value=value, type_comment=None))
        body = fdef.body
        returns = [n for n in gast.walk(fdef) if isinstance(n, gast.Return)]
        if len(returns) != 1 or body[-1] is not returns[0] or returns[0].value is None:
            raise _loc_error(src, returns[0] if returns else fdef,
                             f"srcad inlines helper {fn.__name__}, which needs exactly one "
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


class NameError_(SrcadSyntaxError):
    pass


class TypeError_(SrcadSyntaxError):
    pass


def default_nodes(program, fdef):
    """Set ``fdef``'s defaults to the function's actual default values (literals, or names
    bound to the values), so the generated function never re-evaluates default expressions
    in a scope it does not have."""
    fn = program.source.fn
    values = fn.__defaults__ or ()
    names = [a.id for a in fdef.args.args][-len(values):] if values else []
    fdef.args.defaults = [_literal_or_ref(program, v, n) for v, n in zip(values, names)]
    kw = fn.__kwdefaults__ or {}
    fdef.args.kw_defaults = [
        _literal_or_ref(program, kw[a.id], a.id) if a.id in kw else d
        for a, d in zip(fdef.args.kwonlyargs, fdef.args.kw_defaults)]


def _literal_or_ref(norm, value, pname):
    if value is None or isinstance(value, (bool, int, float, str)):
        return constant_node(value)
    if isinstance(value, tuple) and all(v is None or isinstance(v, (bool, int, float, str))
                                        for v in value):
        return constant_node(value)
    return _name(norm.ref(value, pname + "_default"), gast.Load())


def _is_user_function(obj) -> bool:
    if not isinstance(obj, types.FunctionType):
        return False
    mod = getattr(obj, "__module__", "") or ""
    return not (mod.startswith("numpy") or mod.startswith("srcad.")
                or mod in ("math", "builtins"))


def _is_static_root(scope, node, norm) -> bool:
    """Is this Attribute chain rooted at a module-level (non-local) name?"""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name):
        return False
    if root.id in scope.rename or (scope.depth == 0 and root.id in norm.main_locals):
        return False
    value = scope.namespace.lookup(root.id)
    return isinstance(value, types.ModuleType) or (
        value is not UNRESOLVED and isinstance(value, type))


def _is_global_ref(scope, node, norm) -> bool:
    """Is this Name or Attribute chain rooted at a name that is not local?"""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    return isinstance(root, gast.Name) and root.id not in scope.rename and not (
        scope.depth == 0 and root.id in norm.main_locals)


def _dotted(node) -> str:
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return "<expr>"


def _name(ident, ctx):
    return gast.Name(id=ident, ctx=ctx, annotation=None, type_comment=None)


def _mutated_params(fdef, params) -> dict:
    """Parameters the function writes into (``p[i] = v``, ``p[i] += v``) -> the first write."""
    out = {}
    for n in gast.walk(fdef):
        target = n.targets[0] if isinstance(n, gast.Assign) else getattr(n, "target", None)
        if (isinstance(n, (gast.Assign, gast.AugAssign)) and isinstance(target, gast.Subscript)
                and isinstance(target.value, gast.Name) and target.value.id in params):
            out.setdefault(target.value.id, n)
    return out


def _jump_kinds(stmts) -> set:
    """'break'/'continue' of *this* loop occurring in stmts (not inside nested loops)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.Break):
            out.add("break")
        elif isinstance(s, gast.Continue):
            out.add("continue")
        elif isinstance(s, gast.If):
            out |= _jump_kinds(s.body) | _jump_kinds(s.orelse)
    return out


def _has_jump(stmts) -> bool:
    return bool(_jump_kinds(stmts))


def _lower_returns(fdef, namer):
    """Early and multiple returns -> one final ``return _result``: each ``return v`` sets
    ``_result`` and a ``_returned`` flag, leaves enclosing loops (``break``), and the
    statements after it run under ``if not _returned``."""
    returns = [n for n in gast.walk(fdef) if isinstance(n, gast.Return)]
    if not returns or (len(returns) == 1 and fdef.body[-1] is returns[0]):
        return
    result, done = namer.fresh("_result"), namer.fresh("_returned")

    def at(node, line):
        for n in gast.walk(node):
            if isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = line
                n.col_offset = getattr(n, "col_offset", 0) or 0
        return node

    def flag(value, line):
        return at(gast.Assign(targets=[_name(done, gast.Store())],
                              value=gast.Constant(value=value, kind=None), type_comment=None),
                  line)

    def guard(rest, line):
        return at(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=_name(done, gast.Load())),
                          body=[], orelse=[]), line), rest

    def lower(stmts, in_loop):
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Return):
                value = s.value if s.value is not None else gast.Constant(value=None, kind=None)
                out.append(at(gast.Assign(targets=[_name(result, gast.Store())], value=value,
                                          type_comment=None), s.lineno))
                out.append(flag(True, s.lineno))
                if in_loop:
                    out.append(at(gast.Break(), s.lineno))
                return out
            compound = isinstance(s, (gast.If, gast.For, gast.While))
            if compound and _has(s.body + s.orelse, gast.Return):
                inner = in_loop or not isinstance(s, gast.If)
                s.body = lower(s.body, inner) or [gast.Pass()]
                s.orelse = lower(s.orelse, inner)
                out.append(s)
                if in_loop and not isinstance(s, gast.If):
                    out.append(at(gast.If(test=_name(done, gast.Load()), body=[gast.Break()],
                                          orelse=[]), s.lineno))
                rest = lower(stmts[i + 1:], in_loop)
                if rest:
                    test, body = guard(rest, s.lineno)
                    test.body = body
                    out.append(test)
                return out
            out.append(s)
        return out

    line = fdef.body[0].lineno
    fdef.body = [flag(False, line)] + lower(fdef.body, False) + [
        at(gast.Return(value=_name(result, gast.Load())), returns[-1].lineno)]


def _has(stmts, cls) -> bool:
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, cls):
                return True
    return False


def assigned_names(fdef) -> set:
    """Names bound in ``fdef`` (a FunctionDef: its parameters too; or a list of statements)."""
    out = set()
    for stmt in fdef if isinstance(fdef, list) else [fdef]:
        for n in gast.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
                out.add(n.id)
    if not isinstance(fdef, list):
        for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
            out.add(a.id)
    return out


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


def _defaults(fn) -> dict:
    """Parameter -> default value of a Python function."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not p.empty}


# -- straight-line renaming -------------------------------------------------------------------

def _rename_redefinitions(fdef: gast.FunctionDef, namer: Namer):
    """Give each top-level redefinition of a name its own name (x, x_2, ...), so straight-line
    code never overwrites a value the adjoint needs. Names also assigned inside control flow
    keep one name (the reverse transformer's tape handles those)."""
    in_control = set()
    for stmt in fdef.body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            in_control |= {n.id for n in gast.walk(stmt)
                           if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            in_control |= {n.value.id for n in gast.walk(stmt) if isinstance(n, gast.Subscript)
                           and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)}
            in_control |= {n.func.value.id for n in gast.walk(stmt)
                           if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
                           and n.func.attr == "append" and isinstance(n.func.value, gast.Name)}
    defined = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs}
    current: dict[str, str] = {}

    def use(node):
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in current:
                n.id = current[n.id]

    for stmt in fdef.body:
        if isinstance(stmt, gast.Assign):
            use(stmt.value)
            for t in stmt.targets:
                if isinstance(t, gast.Subscript):
                    use(t)
                    continue
                names = t.elts if isinstance(t, gast.Tuple) else [t]
                for n in names:
                    if n.id in defined and n.id not in in_control:
                        new = namer.fresh(n.id)
                        current[n.id] = new
                        n.id = new
                    else:
                        defined.add(n.id)
                        current.pop(n.id, None)
        else:
            use(stmt)
            for n in gast.walk(stmt):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    defined.add(n.id)


def normalize(src: Source) -> Program:
    """Fence, desugar and convert ``src`` to ANF (see the module docstring)."""
    fdef = copy.deepcopy(src.node)
    fence(src, fdef)
    taken = names_in(fdef) | set(src.namespace.cells)
    namer = Namer(taken)
    norm = _Normalizer(src, namer)
    _lower_returns(fdef, namer)
    norm.main_locals = assigned_names(fdef)
    norm.main_rebound = assigned_names(fdef.body)
    norm.main_defaults = _defaults(src.fn)
    scope = _Scope(src, src.namespace, {}, foreign=False, depth=0)
    fdef.body = norm.body(scope, fdef.body)
    if not fdef.body or not isinstance(fdef.body[-1], (gast.Return, gast.If)):
        if not _has(fdef.body, gast.Return):
            raise _loc_error(src, src.node, f"{src.node.name} has no return statement",
                             "Return the value to differentiate.")
    _rename_redefinitions(fdef, namer)
    for name in list(builtins.__dict__):
        namer.taken.add(name)
    program = Program(src, fdef, namer, norm.refs, norm.deps, norm.ref, norm.origins)
    program.callables = norm.callables
    return program
