"""Desugaring of statements: assignments (chained, tuple, augmented, into subscripts),
expression statements, ``return``, ``if``, ``break``, ``continue`` and ``with`` (its block
between primal-only statements entering and leaving it); and the primal-only
statements (``assert``, ``raise``, calls to ``print``, ``logging`` and ``warnings.warn``),
kept as written (names renamed) for the primal alone: they have no derivative.

Input: the user's statements (past the fence). Output: ANF statements (see
``srcad.normalize``): each ``stmt_X`` returns the statements replacing one ``X``, after the
statements its operands needed (``pre``); every statement gets the ``lineno`` and the
``srcad_source`` of the user's line it came from.
"""
from __future__ import annotations

import builtins
import contextlib
import copy
import inspect
import logging
import warnings

import gast
import numpy as np

from .. import registry, runtime
from ..source import _is_user_function, parse_function
from .calls import Calls, _makes_callables
from .inline import _mutated_params
from .lifting import Bound
from .program import _as_written, _dotted, _jump_in, _loc_error, _name, assigned_names
from .scope import _Scope, _is_global_ref, _is_static_root

__all__ = ["Statements"]


class Statements(Calls):
    """Statements, and the dispatch over a body (the layer above ``Calls``)."""

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

    def primal_only(self, scope, stmt) -> list:
        """``stmt`` as written, its names read as in the function (an inlined helper's locals
        renamed, foreign globals through references): it runs once, in the primal. A call in
        it that changes a value (``print(lst.pop())``, ``msg = str(B.sort())``) is refused:
        the derivative would not see the change."""
        changing = _changing_call(stmt)
        if changing is not None:
            raise _loc_error(scope.src, changing, f"`{_dotted(changing.func)}(...)` in a "
                             "message, print, assert or raise changes a value, which srcad "
                             "runs only in the primal and does not follow",
                             "Make the change in a statement of its own before it, and use "
                             "the result there.")
        new = copy.deepcopy(stmt)
        for node in gast.walk(new):
            for field in node._fields:
                value = getattr(node, field, None)
                if isinstance(value, gast.Name) and isinstance(value.ctx, gast.Load):
                    setattr(node, field, self.name(scope, value))
                elif isinstance(value, list):
                    value[:] = [self.name(scope, v) if isinstance(v, gast.Name) and isinstance(
                        v.ctx, gast.Load) else v for v in value]
        if isinstance(new, gast.Assign):     # msg = f"...": its name as the scope's
            new.targets = [self.name(scope, t) for t in new.targets]
            new.srcad_primal_only = True
        if isinstance(new, gast.Expr):
            new.srcad_primal_only = True
            func = getattr(new.value, "func", None)
            mirror = {"errstate_enter": "exit", "errstate_exit": "enter"}.get(
                getattr(func, "attr", "")) if isinstance(new.value, gast.Call) else None
            if mirror is not None:      # generated code read again (a second derivative)
                new.srcad_mirror = _runtime_effect(mirror, new.value.keywords)
        return [new]

    def stmt_With(self, scope, stmt, pre):
        """``with np.errstate(**kw): body`` -> the body between ``_srcad.errstate_enter(**kw)``
        and ``_srcad.errstate_exit(**kw)``, primal-only statements the adjoint sweep mirrors
        (the adjoint of the body runs under the same error state). ``with manager: body``
        (a user's context manager: a timer, a lock, a logging context) -> the body between
        ``_srcad.context_enter(manager)`` and ``_srcad.context_exit()``: ``__enter__`` and
        ``__exit__`` run in the primal as written, the body is differentiated as usual
        (``api`` gives ``__exit__`` an exception raised in the block)."""
        jump = _jump_in(stmt.body)
        if jump is not None:
            raise _loc_error(scope.src, jump, f"`{type(jump).__name__.lower()}` inside `with`",
                             "Move the return, break or continue after the with statement "
                             "(srcad runs __exit__ where the block ends).")
        enters, leaves = [], []
        for item in stmt.items:
            call = item.context_expr
            callee = self.resolve(scope, call.func) if isinstance(call, gast.Call) and \
                _is_global_ref(scope, call.func, self) else None
            if callee is np.errstate:
                enter, leave = self.errstate(scope, item)
            else:
                enter, leave = self.context(scope, stmt, item, callee)
            enters.append(enter)
            leaves.insert(0, leave)
        return [*enters, *self.body(scope, stmt.body), *leaves]

    def errstate(self, scope, item):
        call = item.context_expr
        if item.optional_vars is not None:
            raise _loc_error(scope.src, item.optional_vars, "`with np.errstate(...) as name`",
                             "Drop `as name`: srcad enters the error state, not its object.")
        if call.args or any(k.arg in (None, "call") or not isinstance(k.value, gast.Constant)
                            for k in call.keywords):
            raise _loc_error(scope.src, call, "np.errstate takes constant keywords here",
                             "Write np.errstate(divide='ignore', ...) with literal values.")
        enter, leave = (_runtime_effect(which, call.keywords) for which in ("enter", "exit"))
        enter.srcad_mirror, leave.srcad_mirror = _runtime_effect("exit", call.keywords), \
            _runtime_effect("enter", call.keywords)
        return enter, leave

    def context(self, scope, stmt, item, callee):
        """The primal-only statements entering and leaving a user's context manager."""
        if callee is contextlib.suppress:
            raise _loc_error(scope.src, item.context_expr, "contextlib.suppress around "
                             "differentiated code", "srcad cannot resume a derivative after "
                             "a suppressed exception: handle it outside the function.")
        target = item.optional_vars
        if target is not None:
            names = {n.id for n in gast.walk(target) if isinstance(n, gast.Name)}
            if not isinstance(target, gast.Name) or any(
                    isinstance(n, gast.Name) and n.id in names and isinstance(n.ctx, gast.Load)
                    for n in gast.walk(scope.src.node)):
                raise _loc_error(scope.src, target, "the value `with ... as` binds is read "
                                 "(srcad runs __enter__ in the primal only, and does not "
                                 "follow the value it returns)",
                                 "Drop `as name`, or compute what you need from it outside "
                                 "the differentiated function.")
        manager = self.primal_only(scope, gast.copy_location(
            gast.Expr(value=item.context_expr), stmt))[0]
        runtime_ref = _name(self.ref(runtime, "_srcad"), gast.Load())
        manager.value = gast.Call(func=gast.Attribute(value=runtime_ref, attr="context_enter",
                                                      ctx=gast.Load()),
                                  args=[manager.value], keywords=[])
        leave = gast.Expr(value=gast.Call(func=gast.Attribute(
            value=copy.deepcopy(runtime_ref), attr="context_exit", ctx=gast.Load()), args=[],
            keywords=[]))
        leave.srcad_primal_only = True
        leave.lineno = getattr(stmt.body[-1], "end_lineno", None) or stmt.body[-1].lineno
        return manager, leave

    def stmt_Assert(self, scope, stmt, pre):
        return self.primal_only(scope, stmt)

    def stmt_Raise(self, scope, stmt, pre):
        return self.primal_only(scope, stmt)

    def stmt_Expr(self, scope, stmt, pre):
        value = stmt.value
        if isinstance(value, gast.Constant):
            return []   # docstring or bare literal
        if isinstance(value, gast.Call) and _is_global_ref(scope, value.func, self) and \
                _is_effect(self.resolve(scope, value.func)):
            return self.primal_only(scope, stmt)     # print(...), log.info(...)
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
        raise _loc_error(scope.src, stmt, *_dropped_value(value))

    def stmt_Assign(self, scope, stmt, pre):
        if getattr(stmt, "srcad_message", False):   # msg = f"..." read by messages only
            return self.primal_only(scope, stmt)
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

    def starred_assign(self, scope, target, value, pre) -> list:
        """``first, *rest = value`` of a value whose length srcad knows when it builds the
        derivative (a tuple display, a helper's returned tuple, a rule's outputs:
        ``x, *_ = np.linalg.lstsq(A, b)``): the starred name is bound to a list of the
        items it takes, as Python binds it."""
        at = next(i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred))
        if isinstance(value, (gast.Tuple, gast.List)):
            simple = value
        else:
            simple = self.simple(scope, value, pre, hint="tuple")
        rule = registry.lookup(getattr(simple, "srcad_callee", None))
        if isinstance(simple, (gast.Tuple, gast.List)):
            length = len(simple.elts)
        elif rule is not None and rule.adjoint is not None and len(rule.adjoint.outputs) > 1:
            length = len(rule.adjoint.outputs)
        else:
            raise _loc_error(scope.src, target, "srcad does not differentiate starred "
                             "unpacking targets of a value whose length it does not know "
                             "when it builds the derivative (a rule's outputs or a tuple "
                             "display it does)", "Instead: index and slice, `first, rest = "
                             "xs[0], list(xs[1:])`.")
        taken = length - len(target.elts) + 1
        if taken < 0:
            raise _loc_error(scope.src, target, f"unpacking {length} values into "
                             f"{len(target.elts) - 1} names and a starred one", "Unpack as "
                             "many names as the value holds.")
        star = target.elts[at].value.id
        held = [_name(self.namer.fresh(f"_{star.lstrip('_') or 'rest'}"), gast.Store())
                for _ in range(taken)]
        flat = gast.Tuple(elts=target.elts[:at] + held + target.elts[at + 1:],
                          ctx=gast.Store())
        if simple is value:
            out = self.assign(scope, flat, value, pre)
        else:
            out = self.unpack(scope, target, [self.name(scope, e) for e in flat.elts], simple)
        rest = gast.List(elts=[_name(h.id, gast.Load()) for h in held], ctx=gast.Load())
        out += self.assign(scope, _name(star, gast.Store()), rest, out)
        return out

    def unpack(self, scope, target, names, simple) -> list:
        """``names = simple`` (the names of a flat tuple target, ``simple`` normalized):
        a rule's outputs, a helper's returned tuple, or a value read by index."""
        callee = getattr(simple, "srcad_callee", None)
        rule = registry.lookup(callee) if callee is not None else None
        if rule is not None and rule.adjoint is not None and len(
                rule.adjoint.outputs) == len(names):
            return [gast.Assign(targets=[gast.Tuple(elts=names, ctx=gast.Store())],
                                value=simple, type_comment=None)]
        if isinstance(simple, (gast.Tuple, gast.List)):   # a helper's returned tuple
            if len(simple.elts) != len(names):
                raise _loc_error(scope.src, target, f"unpacking {len(simple.elts)} values "
                                 f"into {len(names)} names", "Unpack as many names as "
                                 "the value holds.")
            return [gast.Assign(targets=[n], value=e, type_comment=None)
                    for n, e in zip(names, simple.elts)]
        tname = self.namer.fresh("_" + ("_".join(n.id.lstrip("_") for n in names)))
        # Python raises unless the value holds exactly len(names) items: so does the
        # generated code, which reads them by index (primal only)
        check = gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_name(self.ref(runtime, "_srcad"), gast.Load()),
                                attr="check_unpack", ctx=gast.Load()),
            args=[_name(tname, gast.Load()), gast.Constant(value=len(names), kind=None)],
            keywords=[]))
        check.srcad_primal_only = True
        out = [gast.Assign(targets=[_name(tname, gast.Store())], value=simple,
                           type_comment=None), check]
        for i, n in enumerate(names):
            out.append(gast.Assign(
                targets=[n], type_comment=None,
                value=gast.Subscript(value=_name(tname, gast.Load()),
                                     slice=gast.Constant(value=i, kind=None),
                                     ctx=gast.Load())))
        return out

    def _target_name(self, scope, target):
        if isinstance(target, gast.Name):
            return scope.rename.get(target.id, target.id)
        raise _loc_error(scope.src, target, "chained assignment needs plain names",
                         "Assign in separate statements.")

    def assign(self, scope, target, value, pre) -> list:
        if isinstance(target, gast.Name) and isinstance(value, gast.Call) and not \
                scope.depth and _is_global_ref(scope, value.func, self) and _makes_callables(
                    scope.namespace.resolve(value.func)) and isinstance(
                        self.local_function(scope, target.id), Bound):
            scope.made.add(target.id)    # g = functools.partial(h, P): each call spells it
            return []
        if isinstance(target, gast.Name):
            simple = self.unpacked(self.simple(scope, value, pre, hint=target.id), pre)
            return [gast.Assign(targets=[self.name(scope, target)], value=simple,
                                type_comment=None)]
        if isinstance(target, (gast.Tuple, gast.List)):
            stars = [e for e in target.elts if isinstance(e, gast.Starred)]
            if len(stars) == 1 and isinstance(stars[0].value, gast.Name) and all(
                    isinstance(e, gast.Name) for e in target.elts if e is not stars[0]):
                return self.starred_assign(scope, target, value, pre)
            if stars or not all(isinstance(e, (gast.Name, gast.Tuple, gast.List, gast.Subscript))
                                for e in target.elts):
                raise _loc_error(scope.src, target, "starred unpacking targets or targets "
                                 "that are not names", "Unpack into names (`first, rest = "
                                 "xs[0], xs[1:]` for `first, *rest = xs`).")
            if not all(isinstance(e, gast.Name) for e in target.elts):
                # a loop's nested target, a subscript (y[0], y[1] = y[1], y[0]): the values
                # first, then each target, left to right as Python does
                flat, inner = [], []
                for e in target.elts:
                    if isinstance(e, gast.Name):
                        flat.append(e)
                        continue
                    held = _name(self.namer.fresh("_unpack"), gast.Store())
                    flat.append(held)
                    inner.append((e, _name(held.id, gast.Load())))
                out = self.assign(scope, gast.Tuple(elts=flat, ctx=gast.Store()), value, pre)
                for e, held_value in inner:
                    out += self.assign(scope, e, held_value, out)
                return out
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
            return self.unpack(scope, target, [self.name(scope, e) for e in target.elts],
                               simple)
        if isinstance(target, gast.Subscript):
            if not isinstance(target.value, gast.Name):
                raise _loc_error(scope.src, target, "assignment into a nested subscript",
                                 _NESTED_HINT)
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
            if not scope.depth:                 # in messages: the view as written
                self.origins[old] = _as_written(target)
            pre.append(gast.Assign(targets=[_name(old, gast.Store())], type_comment=None,
                                   value=gast.Subscript(value=base, slice=index,
                                                        ctx=gast.Load())))
            rhs = self.atom(scope, stmt.value, pre)
            new = self.namer.fresh("_" + base.id.lstrip("_") + "_new")
            pre.append(gast.Assign(targets=[_name(new, gast.Store())], type_comment=None,
                                   value=gast.BinOp(left=_name(old, gast.Load()), op=stmt.op,
                                                    right=rhs)))
            store = gast.Assign(targets=[gast.Subscript(value=_name(base.id, gast.Load()),
                                                        slice=copy.deepcopy(index),
                                                        ctx=gast.Store())],
                                value=_name(new, gast.Load()), type_comment=None)
            store.srcad_item_inplace = old      # lst[i] += v writes into the array lst holds
            return [store]
        if isinstance(target, gast.Subscript):
            raise _loc_error(scope.src, target, "augmented assignment into a nested subscript",
                             _NESTED_HINT)
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
        known = _none_test(scope, stmt.test)
        if known is not None:       # a helper's `act is None` for the argument it was given
            return self.body(scope, stmt.body if known else stmt.orelse)
        test = self.atom(scope, stmt.test, pre, hint="cond")
        if isinstance(stmt.test, gast.Name) and stmt.test.id in assigned_names(
                stmt.body + stmt.orelse):     # if first: ...; first = False
            tmp = self.namer.temp_for(test)   # the test as it was: the adjoint sweep reads it
            pre.append(gast.Assign(targets=[_name(tmp, gast.Store())], value=test,
                                   type_comment=None))
            test = _name(tmp, gast.Load())
        return [gast.If(test=test, body=self.body(scope, stmt.body),
                        orelse=self.body(scope, stmt.orelse))]

    def stmt_Break(self, scope, stmt, pre):
        return [gast.Break()]

    def stmt_Continue(self, scope, stmt, pre):
        return [gast.Continue()]


_NESTED_HINT = (
    "x[i][j] = v writes through the item x[i] into memory that srcad, which follows values, "
    "would not see change. Write with one subscript into the array holding the element: "
    "x[i, j] = v for an array x and an integer i; c[k] = v (k: the element's place in c) for "
    "a list of views of c such as np.split(c, n) or [c[:2], c[2:]]. Or make the item an "
    "array of its own and store it back: a = np.copy(x[i]); a[j] = v; x[i] = a.")


def _none_test(scope, test) -> bool | None:
    """The value of ``p is None`` / ``p is not None`` for a helper parameter ``p`` given
    None or a function (``scope.nones``, ``scope.callables``), known when it is inlined; else
    None. The branch not taken is dropped unlowered, so a call of ``p`` in it (``p(z)`` when
    ``p`` is None) is never resolved."""
    if not (isinstance(test, gast.Compare) and len(test.ops) == 1 and
            isinstance(test.ops[0], (gast.Is, gast.IsNot)) and
            isinstance(test.left, gast.Name) and isinstance(test.comparators[0], gast.Constant)
            and test.comparators[0].value is None):
        return None
    name = test.left.id
    if name in scope.nones:
        is_none = True
    elif name in scope.callables:
        is_none = False
    else:
        return None
    return is_none if isinstance(test.ops[0], gast.Is) else not is_none


_EFFECTS = {builtins.print, warnings.warn, warnings.warn_explicit, runtime.errstate_enter,
            runtime.errstate_exit, runtime.context_enter, runtime.context_exit,
            runtime.check_unpack, runtime.check_view, np.random.seed}


def _runtime_effect(which: str, keywords) -> gast.Expr:
    """``_srcad.errstate_<which>(**keywords)``, a primal-only statement."""
    func = gast.Attribute(value=_name("_srcad", gast.Load()), attr=f"errstate_{which}",
                          ctx=gast.Load())
    stmt = gast.Expr(value=gast.Call(func=func, args=[], keywords=copy.deepcopy(keywords)))
    stmt.srcad_primal_only = True
    return stmt


def _is_effect(callee) -> bool:
    """Is ``callee`` called for an effect with no derivative: ``print``, ``warnings.warn``, a
    function of ``logging`` or a method of a ``logging.Logger`` or ``LoggerAdapter``?"""
    try:
        if callee in _EFFECTS:
            return True
    except TypeError:                   # an unhashable callable
        return False
    owner = getattr(callee, "__self__", None)
    if isinstance(owner, (logging.Logger, logging.LoggerAdapter)):
        return True
    return getattr(callee, "__module__", None) == "logging" and inspect.isfunction(callee)


_IN_PLACE_HINTS = {
    "sort": "Assign the sorted copy instead: y = np.sort(y).",
    "partition": "Assign the partitioned copy instead: y = np.partition(y, k).",
    "fill": "Make the filled array instead: y = np.full_like(y, value).",
    "put": "Write through an index instead: y[i] = v (on a copy, y = y.copy(), if y is an "
           "argument).",
}
# NumPy functions that write into an argument instead of returning the value
_WRITERS = {
    "copyto": "Assign through an index instead: dst[...] = src.",
    "fill_diagonal": "Write the diagonal through an index: A[np.arange(n), np.arange(n)] = v "
                     "(on a copy, A = A.copy(), if A is an argument).",
    "put": "Write through an index instead: y[i] = v.",
    "place": "Write through a mask instead: y[mask] = v.",
    "putmask": "Use the value instead: y = np.where(mask, v, y).",
}


def _writes_argument(call):
    """(message, hint) for a NumPy call made only to write into an argument (``np.copyto``, a
    ufunc's ``out=``), else None."""
    if not isinstance(call, gast.Call):
        return None
    name = _dotted(call.func).rpartition(".")[2]
    if any(k.arg == "out" for k in call.keywords):
        return (f"np.{name}(..., out=...) writes into its out= array, which srcad does not "
                f"follow", f"Use the value instead: y = np.{name}(...) "
                "without out= (the result is a new array).")
    if isinstance(call.func, gast.Attribute) and name in _WRITERS:     # np.copyto(...)
        return (f"np.{name} writes into an argument, which srcad does not follow",
                _WRITERS[name])
    return None


def _dropped_value(value) -> tuple[str, str]:
    """The message and hint refusing the expression statement ``value``: a call made for an
    effect srcad does not follow (an in-place method, ``np.ufunc.at``, a nested function's
    writes) is named as such, with what to write instead."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute):
        method = value.func.attr
        if method == "at" and isinstance(value.func.value, gast.Attribute):
            ufunc = value.func.value.attr
            return (f"np.{ufunc}.at changes its first argument in place, which srcad does not "
                    f"follow", "Write the update as a value: for np.add.at(y, i, v), "
                    "y = y + np.bincount(i, weights=v, minlength=len(y)) for 1-D y; for any "
                    "y (rows of a 2-D y too), a loop over the indices on a copy: "
                    "y = y.copy(); for k in range(len(i)): y[i[k]] += v[k].")
        if method in _IN_PLACE_METHODS:
            return (f".{method}() changes its array in place, which srcad does not follow",
                    _IN_PLACE_HINTS.get(method, f"Assign the function's result instead: "
                                        f"y = np.{method}(y)."))
    written = _writes_argument(value)
    if written is not None:
        return written
    if isinstance(value, gast.Call):
        return ("a call whose result is dropped: srcad does not follow what it changes "
                "(a nested function's nonlocal or global writes, an object's state)",
                "Return the value from the function and assign it: x = helper(...). print "
                "and logging calls are kept as they are.")
    return ("an expression statement has no effect on the result",
            "srcad differentiates values: assign the result to a variable, or move side "
            "effects (print, logging) outside the function.")


# ndarray methods that change the array in place and return None.
_IN_PLACE_METHODS = frozenset({"sort", "partition", "fill", "put", "itemset", "resize",
                               "setfield"})
# ... and the methods changing a list, dict or set
_CONTAINER_CHANGES = frozenset({"append", "extend", "insert", "pop", "remove", "clear",
                                "reverse", "update", "setdefault", "popitem", "add", "discard",
                                "__setitem__", "__delitem__", "__iadd__", "__imul__"})


def _changing_call(stmt):
    """The first call in the primal-only statement ``stmt`` that changes a value (an in-place
    method, a container's mutator, a NumPy writer, an ``out=`` array), else None."""
    for node in gast.walk(stmt):
        if not isinstance(node, gast.Call):
            continue
        name = _dotted(node.func).rpartition(".")[2]
        if isinstance(node.func, gast.Attribute) and (
                name in _IN_PLACE_METHODS | _CONTAINER_CHANGES or name in _WRITERS) or any(
                k.arg == "out" for k in node.keywords):
            return node
    return None
