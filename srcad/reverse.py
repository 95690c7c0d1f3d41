"""Reverse mode: an ANF function -> one function that runs the primal sweep, then the adjoint
sweep, and returns the adjoints of the ``wrt`` parameters.

Input: a normalized ``Program`` (see ``normalize``) and its activity. Output: a gast
FunctionDef whose statements carry ``lineno`` of the user's line they differentiate.

The adjoint sweep visits statements last to first. It keeps a static ``_State``: which
adjoints hold a value at this point (the first contribution to an adjoint is an assignment,
later ones add; an adjoint nobody contributed to is never read) and which adjoint buffers
the sweep owns (may update in place). Loops and branches make the state meet at join points;
there, missing adjoints are materialized as zeros.

Values the adjoint sweep reads but the primal sweep overwrites (a name assigned in a loop or
branch, the old elements of ``x[i] = v``, a loop's trip count) are saved before they are
overwritten: in a local when the statement runs at most once, on the tape ``_tape`` (a list:
``append`` in the primal, ``pop`` in the adjoint) inside loops. Saves whose value the adjoint
never reads are dropped (to-be-recorded analysis), so straight-line code has no tape.
"""
from __future__ import annotations

import copy

import gast
import numpy as np

from . import registry, runtime
from .instantiate import Broadcasts, bind, mark_broadcasts, mark_derivative, runtime_ref
from .analysis import list_names, primitive_call, walk, walk_statements
from .errors import NoRuleError, SrcadSyntaxError
from .template import is_zero, make_zero, simplify_zeros
from .nodes import (assign as _assign, attr as _attr, call as _call, comment, drop_empty,
                    loads as _loads, name as _name)
from .sharing import shares

__all__ = ["reverse"]


class _State:
    """Static facts at a point of the adjoint sweep."""

    def __init__(self, defined=(), owned=()):
        self.defined = set(defined)   # adjoint names holding a value
        self.owned = set(owned)       # adjoint buffers created by the sweep (in-place ok)

    def copy(self):
        return _State(self.defined, self.owned)


class _Save:
    """A value saved before the primal sweep overwrites it (kept if the adjoint reads it)."""

    def __init__(self, name, on_tape, local):
        self.name = name          # the overwritten variable
        self.on_tape = on_tape    # inside a loop: push/pop; else a local copy
        self.local = local        # the local holding the saved value (when not on the tape)
        self.self_read = False    # the statement's own adjoint reads the saved value


class _Reverse:
    def __init__(self, program, wrt, act, grad_seed: bool, preserve_result: bool, shapes):
        self.p = program
        self.src = program.source
        self.namer = program.namer
        self.act = act
        self.wrt = wrt
        self.grad_seed = grad_seed
        self.preserve_result = preserve_result
        self.lists = list_names(program.node, shapes)
        self.saves: list[_Save] = []
        self.tapes: dict = {}     # "_tape": values derivatives flow through; "_control":
        #                           loop ranges, trip counts, conditions (never active)
        self.np = program.ref(np, "np")
        self.rt = program.ref(runtime, "_srcad")
        self.ref = runtime_ref(program, self.rt)
        self.none_init: set = set()
        self.bound: set = set()   # names bound on every path so far (a loop may run 0 times)
        self.old: dict = {}       # during x = f(x): x -> the name holding its old value
        self.simplify = Broadcasts(shapes, self.np).visit
        self.shapes = shapes
        self.comments: dict = {}

    # -- helpers -------------------------------------------------------------------------
    def adj(self, name: str) -> str:
        return self.namer.adjoint(name)

    def active(self, node) -> bool:
        return isinstance(node, gast.Name) and self.act.is_active(node.id)

    def tape_name(self, control=False):
        """The tape for active values, or the control tape (kept apart so that, when this
        code is differentiated again, integers and booleans never look active)."""
        kind = "_control" if control else "_tape"
        if kind not in self.tapes:
            self.tapes[kind] = self.namer.fresh(kind)
        return self.tapes[kind]

    def zeros(self, name):
        """``bx = zeros_like(x)``: 0.0 for a float (scalar loops stay plain float arithmetic),
        a list of zeros for a list, zeros for an array. Inside the adjoint of ``x = f(x)``
        the input's shape is the saved old value's."""
        value = self.old.get(name, name)
        return _assign(self.adj(name), _call(_attr(_name(self.rt), "zeros_like"), _name(value)))

    def error(self, stmt, message, hint, cls=NoRuleError, node=None):
        """A located error: at ``node`` (a call in ``stmt``) when it has a position, in the
        file the statement came from (a helper's own file for inlined code)."""
        src = getattr(stmt, "srcad_source", None) or self.src
        at = node if getattr(node, "col_offset", None) is not None else stmt
        return cls(message, src.location(at), hint)

    # -- primal sweep: the function with saves before overwrites ----------------------------
    def primal(self, stmts, depth, in_branch, defined) -> list:
        out = []
        for stmt in stmts:
            stmt.srcad_saves = {}
            if isinstance(stmt, gast.Assign):
                target = stmt.targets[0]
                if isinstance(target, gast.Subscript):
                    out.extend(self.save(stmt, target.value.id, depth, defined, target.slice))
                else:
                    names = target.elts if isinstance(target, gast.Tuple) else [target]
                    for n in names:
                        if depth or in_branch or n.id in defined:
                            out.extend(self.save(stmt, n.id, depth, defined))
                    defined |= {n.id for n in names}
                    if not depth and not in_branch:
                        self.bound |= {n.id for n in names}
                out.append(stmt)
            elif isinstance(stmt, gast.If):
                new = copy.copy(stmt)       # the adjoint sweep walks the original
                new.body = self.primal(stmt.body, depth, True, defined)
                new.orelse = self.primal(stmt.orelse, depth, True, defined)
                out.append(new)
            elif isinstance(stmt, (gast.For, gast.While)):
                out.extend(self.primal_loop(stmt, depth, defined))
            else:
                out.append(stmt)
        return out

    def save(self, stmt, name, depth, defined, index=None) -> list:
        if name not in self.bound and index is None:
            self.none_init.add(name)      # may be unbound when first saved
        on_tape = depth > 0
        local = None if on_tape else self.namer.fresh(name.lstrip("_") + "_prev")
        record = _Save(name, on_tape, local)
        record.index = index
        self.saves.append(record)
        stmt.srcad_saves[name] = record
        value = _name(name)
        if index is not None:
            value = _call(_attr(_name(self.rt), "saved"),
                          gast.Subscript(value=_name(name), slice=copy.deepcopy(index),
                                         ctx=gast.Load()))
        if on_tape:
            record.tape = self.tape_name(control=not self.act.is_active(name))
            node = gast.Expr(value=_call(_attr(_name(record.tape), "append"), value))
        else:
            node = _assign(local, value)
        node.srcad_save = record
        node.lineno = stmt.lineno
        return [node]

    def primal_loop(self, stmt, depth, defined) -> list:
        pre, post = [], []
        counted = isinstance(stmt, gast.While) or getattr(stmt, "srcad_breaks", False)
        if isinstance(stmt, gast.For):
            target = stmt.target.id
            if target in defined:
                holder = gast.Assign(targets=[stmt.target], value=stmt.target)
                holder.lineno = stmt.lineno
                holder.srcad_saves = {}
                pre.extend(self.save(holder, target, depth, defined))
                stmt.srcad_saves = holder.srcad_saves
            defined.add(target)
        new = copy.copy(stmt)               # the adjoint sweep walks the original
        inner_defined = set(defined)
        new.body = self.primal(stmt.body, depth + 1, False, inner_defined)
        defined |= inner_defined
        if counted:
            trips = self.namer.fresh("_trips")
            stmt.srcad_trips = trips
            pre.append(_assign(trips, gast.Constant(value=0, kind=None)))
            new.body.insert(0, gast.AugAssign(target=_name(trips, gast.Store()), op=gast.Add(),
                                              value=gast.Constant(value=1, kind=None)))
            if depth:
                post.append(gast.Expr(value=_call(_attr(_name(self.tape_name(True)), "append"),
                                                  _name(trips))))
        for s in pre + post:
            s.lineno = stmt.lineno
        return pre + [new] + post

    # -- adjoint sweep ------------------------------------------------------------------------
    def adjoint_block(self, stmts, state, depth, last=None) -> list:
        """The adjoint of a block, a comment before the code of each source line (``last``:
        the line whose comment already precedes the block)."""
        out = []
        for stmt in reversed(stmts):
            code = self.adjoint_stmt(stmt, state, depth)
            if code:
                lineno = getattr(stmt, "lineno", None)
                for s in code:
                    if getattr(s, "lineno", None) is None:
                        s.lineno = lineno
                src = getattr(stmt, "srcad_source", None) or self.src
                if (src, lineno) != last and lineno is not None and not isinstance(
                        stmt, (gast.If, gast.For, gast.While)):
                    where = "" if src is self.src else f"{src.fn.__name__}, "
                    out.append(comment(f"{where}line {lineno}: {src.line_text(lineno)}"))
                    last = (src, lineno)
                out.extend(code)
        return out

    def adjoint_stmt(self, stmt, state, depth) -> list:
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            if isinstance(target, gast.Subscript):
                return self.adjoint_setitem(stmt, state)
            return self.adjoint_assign(stmt, state)
        if isinstance(stmt, gast.Expr):
            return self.adjoint_append(stmt, state)
        if isinstance(stmt, gast.If):
            return self.adjoint_if(stmt, state, depth)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.adjoint_loop(stmt, state, depth)
        return []

    def restore(self, stmt, name) -> list:
        record = stmt.srcad_saves.get(name) if hasattr(stmt, "srcad_saves") else None
        if record is None:
            return []
        value = self.saved_value(record)
        if record.index is not None:
            target = gast.Subscript(value=_name(name), slice=copy.deepcopy(record.index),
                                    ctx=gast.Store())
        else:
            target = _name(name, gast.Store())
        node = _assign(target, value)
        node.srcad_restore = record
        return [node]

    def saved_value(self, record):
        if record.on_tape:
            return _call(_attr(_name(record.tape), "pop"))
        return _name(record.local)

    # contributions ------------------------------------------------------------------------
    def contribute(self, name, value, state) -> list:
        """``d[name] += value`` honoring the state (first contribution assigns)."""
        if is_zero(value):
            return []
        b = self.adj(name)
        if b not in state.defined:
            state.defined.add(b)
            if isinstance(value, (gast.BinOp, gast.UnaryOp)):     # a new array
                state.owned.add(b)
            else:
                state.owned.discard(b)
            if isinstance(value, gast.Name) and value.id == b:
                return []
            return [_assign(b, value)]
        state.owned.add(b)
        if name in self.lists:
            return [_assign(b, _call(_attr(_name(self.rt), "add_list"), _name(b), value))]
        return [_assign(b, gast.BinOp(left=_name(b), op=gast.Add(), right=value))]

    def own(self, name, state) -> list:
        """Make the adjoint buffer of ``name`` exist and be ours to update in place."""
        b = self.adj(name)
        if b not in state.defined:
            state.defined.add(b)
            state.owned.add(b)
            return [self.zeros(name)]
        if b in state.owned:
            return []
        state.owned.add(b)
        if name in self.lists:
            return [_assign(b, _call(_name("list"), _name(b)))]
        return [_assign(b, _call(_attr(_name(b), "copy")))]

    def contribute_sparse(self, name, index, value, state) -> list:
        """``d[name][index] += value``: into an owned buffer shaped like ``name``."""
        if is_zero(value):
            return []
        code = self.own(name, state)
        b = self.adj(name)
        if name not in self.lists and _is_basic_index(index, self.shapes):
            code.append(gast.AugAssign(
                target=gast.Subscript(value=_name(b), slice=index, ctx=gast.Store()),
                op=gast.Add(), value=value))
        else:
            from .template import as_value
            code.append(_assign(b, _call(_attr(_name(self.rt), "add_at"), _name(b),
                                         as_value(index), value)))
        return code

    # statements -----------------------------------------------------------------------------
    def adjoint_pop(self, stmt, state) -> list:
        """``v = lst.pop()``: the popped element's adjoint goes back on the list's adjoint,
        and the element goes back on the list."""
        v, lst = stmt.targets[0].id, stmt.value.srcad_pop
        bv, blst = self.adj(v), self.adj(lst)
        code = []
        live = bv in state.defined and self.act.is_active(v)
        item = _name(bv) if live else _call(_attr(_name(self.rt), "zeros_like"), _name(v))
        if blst not in state.defined and live:
            code.append(_assign(blst, _call(_attr(_name(self.rt), "zeros_like"), _name(lst))))
            state.defined.add(blst)
        if blst in state.defined:
            code.append(gast.Expr(value=_call(_attr(_name(blst), "append"), item)))
        state.defined.discard(bv)
        node = gast.Expr(value=_call(_attr(_name(lst), "append"), _name(v)))
        node.srcad_list_restore = lst
        code.append(node)
        return code + self.restore(stmt, v)

    def adjoint_assign(self, stmt, state) -> list:
        target = stmt.targets[0]
        if getattr(stmt.value, "srcad_pop", None) is not None:
            return self.adjoint_pop(stmt, state)
        outs = [e.id for e in target.elts] if isinstance(target, gast.Tuple) else [target.id]
        live = [o for o in outs if self.adj(o) in state.defined]
        value = stmt.value
        code: list = []
        if any(self.act.is_active(o) for o in live):
            inputs = {n for n in _loads(value) if self.act.is_active(n)}
            overwritten = [o for o in outs if o in _loads(value)]
            old = {}
            for o in overwritten:
                record = stmt.srcad_saves.get(o)
                if record is not None:
                    old[o] = self.namer.fresh(o.lstrip("_") + "_prev") if record.on_tape \
                        else record.local
            body = []
            if inputs:
                self.old = old
                body = self.contributions(stmt, outs, value, state, old)
                self.old = {}
            else:
                for o in outs:
                    state.defined.discard(self.adj(o))
            read = set()
            for s in body:
                read |= _loads(s)
            for o, name in old.items():       # the adjoint reads the old value of its target
                record = stmt.srcad_saves[o]
                if name in read:
                    record.self_read = True
                    if record.on_tape:
                        code.append(_assign(name, self.saved_value(record)))
            code.extend(body)
            for o in outs:
                if o in old and stmt.srcad_saves[o].self_read:
                    node = _assign(o, _name(old[o]))
                    node.srcad_restore = stmt.srcad_saves[o]
                    node.srcad_keep = True
                    code.append(node)
                else:
                    code.extend(self.restore(stmt, o))
            return code
        for o in outs:
            state.defined.discard(self.adj(o))
            code.extend(self.restore(stmt, o))
        return code

    def contributions(self, stmt, outs, value, state, old) -> list:
        """Instantiate the adjoint of ``outs = value`` and apply its contributions."""
        outputs = [self.adj(o) for o in outs]
        if isinstance(value, gast.Name):                      # copy: y = x
            out = outputs[0]
            state.defined.discard(out)
            return self.contribute(value.id, _name(out), state)
        if isinstance(value, (gast.List, gast.Tuple)):        # display: y = [a, b]
            out = outputs[0]
            state.defined.discard(out)
            code = []
            for i, e in enumerate(value.elts):
                if self.active(e):
                    item = gast.Subscript(value=_name(out), slice=gast.Constant(value=i, kind=None),
                                          ctx=gast.Load())
                    code.extend(self.contribute(e.id, item, state))
            return code
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and any(
                isinstance(v, gast.Name) and v.id in self.lists for v in (value.left, value.right)):
            return self.unconcatenate(value, outputs[0], state)
        call = primitive_call(value)
        if call is None or call[0] is None:
            for o in outputs:
                state.defined.discard(o)
            return []
        prim, args, kwargs = call
        rule = getattr(value, "srcad_rule", None) or registry.lookup(prim)  # complex_values
        if rule is not None and rule.nondiff:
            for o in outputs:
                state.defined.discard(o)
            return []
        if rule is None or rule.adjoint is None:
            name = registry.primitive_name(prim)
            raise self.error(stmt, f"no adjoint (reverse-mode) rule for {name}",
                             f"Register one: @srcad.register_adjoint({name}) over a template "
                             "function (see docs/templates.md), or wrap the value in "
                             "srcad.stop_gradient(...) if it needs no derivative.", node=value)
        template = rule.adjoint
        binding = bind(self, stmt, prim, template, args, kwargs, outs)
        live_out = {}
        for pname, o, b in zip(template.outputs, outs, outputs):
            binding[pname] = _name(o)
            live_out[pname] = _name(b) if b in state.defined else make_zero(_name(o))
        # Inputs overwritten by this very statement are read from their saved value.
        for pname, bound in list(binding.items()):
            if pname not in live_out:
                binding[pname] = _rename(bound, old)
        inputs = {p: binding[p] for p in binding if p not in live_out}

        def resolve_d(param, store):
            if param in live_out:
                return None if store else copy.deepcopy(live_out[param])
            bound = inputs.get(param)
            if not store:
                return make_zero(bound)
            if isinstance(bound, gast.Name) and self.act.is_active(
                    _original(bound, old)):
                node = _name(_original(bound, old))
                node.srcad_input = True
                return node
            if isinstance(bound, gast.Tuple):
                node = gast.Tuple(elts=[copy.deepcopy(e) for e in bound.elts], ctx=gast.Store())
                node.srcad_input = True
                return node
            return None

        body = template.instantiate(binding, resolve_d, self.namer.fresh, self.ref)
        body = simplify_zeros(body, lambda f: False, self.materialize)
        mark_broadcasts(body, prim, rule, list(args) + list(kwargs.values()), outs,
                        renamed={v: k for k, v in old.items()})
        body = [self.simplify(s) for s in body]
        for o in outputs:
            state.defined.discard(o)
        # Contributions to an output of this statement (x = f(x)) go last: they read d[y].
        mine = [s for s in body if _contrib_target(s) in outs]
        body = [s for s in body if _contrib_target(s) not in outs] + mine
        pre = []
        if len(mine) > 1 or any(isinstance(s, gast.AugAssign) for s in mine):
            # x = x * x, y = y[:k]: contributions to the old x read d[x] of the new one
            for b in {self.adj(_contrib_target(s)) for s in mine}:
                alias = self.namer.fresh(b + "_out")
                pre.append(_assign(alias, _name(b)))
                for s in body:
                    for n in walk(s):
                        if isinstance(n, gast.Name) and n.id == b and isinstance(
                                n.ctx, gast.Load):
                            n.id = alias
        return pre + self.apply(body, state)

    def unconcatenate(self, value, out, state) -> list:
        """``y = a + b`` of Python lists: the first ``len(a)`` elements of d[y] are d[a]'s,
        the rest d[b]'s."""
        state.defined.discard(out)
        n = _call(_name("len"), value.left)
        parts = ((value.left, gast.Slice(lower=None, upper=n, step=None)),
                 (value.right, gast.Slice(lower=copy.deepcopy(n), upper=None, step=None)))
        code = []
        for operand, part in parts:
            if self.active(operand):
                code.extend(self.contribute(operand.id, gast.Subscript(
                    value=_name(out), slice=part, ctx=gast.Load()), state))
        return code

    def apply(self, body, state) -> list:
        """Turn an instantiated adjoint template into code: contributions become assignments
        or additions per the state; a runtime ``if`` in the template splits the state."""
        code = []
        for s in body:
            tgt = getattr(s, "srcad_contrib", None)
            if isinstance(s, gast.If):
                s_then, s_else = state.copy(), state.copy()
                s.body = self.apply(s.body, s_then) or [gast.Pass()]
                s.orelse = self.apply(s.orelse, s_else)
                for missing, branch in ((s_else.defined - s_then.defined, s.body),
                                        (s_then.defined - s_else.defined, s.orelse)):
                    for b in sorted(missing):
                        branch.append(self.zeros(self.primal_of[b]))
                state.defined = s_then.defined | s_else.defined
                state.owned = s_then.owned & s_else.owned
                code.append(s)
            elif tgt is None:
                code.append(s)
            elif isinstance(s, gast.AugAssign):
                code.extend(self.contribute_sparse(s.target.value.id, s.target.slice, s.value,
                                                   state))
            elif isinstance(s.targets[0], gast.Tuple):
                code.extend(self.contribute_each(s.targets[0].elts, s.value, state))
            else:
                code.extend(self.contribute(s.targets[0].id, s.value, state))
        return code

    def contribute_each(self, elts, value, state) -> list:
        """Contributions of a list-valued adjoint to the elements of a ``*args`` tuple."""
        tmp = self.namer.fresh("_parts")
        code = [_assign(tmp, value)]
        for i, e in enumerate(elts):
            if self.active(e):
                item = gast.Subscript(value=_name(tmp), slice=gast.Constant(value=i, kind=None),
                                      ctx=gast.Load())
                code.extend(self.contribute(e.id, item, state))
        return code

    def materialize(self, zero):
        return _call(_attr(_name(self.np), "zeros_like"), zero.zero_of)

    def adjoint_setitem(self, stmt, state) -> list:
        target = stmt.targets[0]
        name = target.value.id
        code = self.restore(stmt, name)
        b = self.adj(name)
        if b in state.defined and self.act.is_active(name):
            code.extend(self.own(name, state))
            part = _call(_attr(_name(self.rt), "take_and_zero"), _name(b),
                         _as_value(target.slice))
            if self.active(stmt.value):
                v = stmt.value.id
                value = _call(_attr(_name(self.rt), "unbroadcast"), part, _name(v))
                code.extend(self.contribute(v, value, state))
            else:
                code.append(gast.Expr(value=part))
        return code

    def adjoint_append(self, stmt, state) -> list:
        call = stmt.value
        lst = call.func.value.id
        item = call.args[0]
        code = []
        b = self.adj(lst)
        if b in state.defined:
            popped = _call(_attr(_name(b), "pop"))
            if self.active(item):
                code.extend(self.contribute(item.id, popped, state))
            else:
                code.append(gast.Expr(value=popped))
        if self.act.is_active(lst):
            node = gast.Expr(value=_call(_attr(_name(lst), "pop")))
            node.srcad_list_restore = lst
            code.append(node)
        return code

    def adjoint_if(self, stmt, state, depth) -> list:
        s_then, s_else = state.copy(), state.copy()
        body = self.adjoint_block(stmt.body, s_then, depth)
        orelse = self.adjoint_block(stmt.orelse, s_else, depth)
        for missing, code in ((s_else.defined - s_then.defined, body),
                              (s_then.defined - s_else.defined, orelse)):
            for b in sorted(missing):
                code.append(self.zeros(self.primal_of[b]))
        state.defined = s_then.defined | s_else.defined
        # owned after the join: owned in both branches, zeros counting as owned in the
        # branch that materialized them (the other branch's buffer may be shared)
        state.owned = (s_then.owned | (s_else.defined - s_then.defined)) & (
            s_else.owned | (s_then.defined - s_else.defined))
        if not body and not orelse:
            return []
        return [gast.If(test=copy.deepcopy(stmt.test), body=body or [gast.Pass()],
                        orelse=orelse)]

    def adjoint_loop(self, stmt, state, depth) -> list:
        carried = self.carried(stmt)
        code = []
        for name in sorted(carried):
            if self.adj(name) not in state.defined:
                code.append(self.zeros(name))
                state.defined.add(self.adj(name))
                state.owned.add(self.adj(name))
        sparse = {n for n in carried if n in self.sparse_names(stmt)}
        for name in sorted(sparse):
            code.extend(self.own(name, state))
        start = state.copy()
        body_state = state.copy()
        body = self.adjoint_block(stmt.body, body_state, depth + 1)
        for name in sorted(carried):
            b = self.adj(name)
            if b not in body_state.defined:
                body.append(self.zeros(name))
                body_state.defined.add(b)
                body_state.owned.add(b)
            elif name in sparse and b not in body_state.owned:
                body.extend(self.own(name, body_state))
        state.defined = start.defined | body_state.defined
        state.owned = start.owned & body_state.owned
        trips = getattr(stmt, "srcad_trips", None)
        if trips is not None and depth:
            code.append(_assign(trips, _call(_attr(_name(self.tape_name(True)), "pop"))))
        if isinstance(stmt, gast.For):
            seq = _name(stmt.iter.id) if isinstance(stmt.iter, gast.Name) else \
                copy.deepcopy(stmt.iter)
            if trips is not None:
                seq = gast.Subscript(value=seq, slice=gast.Slice(
                    lower=None, upper=_name(trips), step=None), ctx=gast.Load())
            loop = gast.For(target=_name(stmt.target.id, gast.Store()),
                            iter=_call(_name("reversed"), seq), body=body or [gast.Pass()],
                            orelse=[], type_comment=None)
        else:
            loop = gast.For(target=_name("_", gast.Store()),
                            iter=_call(_name("range"), _name(trips)),
                            body=body or [gast.Pass()], orelse=[], type_comment=None)
        if body:        # a loop whose adjoint does nothing is left out
            code.append(loop)
        if isinstance(stmt, gast.For):
            code.extend(self.restore(stmt, stmt.target.id))
        return code

    def carried(self, loop) -> set:
        """Active names whose adjoint must hold a value at every iteration boundary: read in
        the body before being (re)assigned there, or assigned there and used outside."""
        inside = set()
        for s in walk_statements(loop.body):
            inside |= _loads(s) | {n.id for n in walk(s) if isinstance(n, gast.Name)}
        outside = self.used_outside(loop)
        assigned = set()
        for s in walk_statements(loop.body):
            if isinstance(s, gast.Assign):
                for t in s.targets:
                    for n in walk(t):
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                            assigned.add(n.id)
        exposed = self.exposed(loop.body)
        result = {n for n in inside if self.act.is_active(n)
                  and (n in exposed or (n in assigned and n in outside))}
        return result

    def exposed(self, body) -> set:
        """Names read in ``body`` before any assignment to them in it (upward exposed)."""
        defined: set = set()
        out: set = set()

        def visit(stmts, defined):
            for s in stmts:
                if isinstance(s, gast.If):
                    out.update(_loads(s.test) - defined)
                    d1, d2 = set(defined), set(defined)
                    visit(s.body, d1)
                    visit(s.orelse, d2)
                    defined |= d1 & d2
                elif isinstance(s, (gast.For, gast.While)):
                    out.update(_loads(s.iter if isinstance(s, gast.For) else s.test) - defined)
                    visit(s.body, set(defined))
                else:
                    out.update(_loads(s) - defined)
                    if isinstance(s, gast.Assign):
                        for t in s.targets:
                            if isinstance(t, gast.Name):
                                defined.add(t.id)
                            elif isinstance(t, gast.Tuple):
                                defined |= {e.id for e in t.elts}
                            else:
                                out.add(t.value.id)
        visit(body, defined)
        return out

    def used_outside(self, loop) -> set:
        inner = {id(s) for s in walk_statements(loop.body)}
        out = set()
        for s in walk_statements(self.p.node.body):
            if id(s) in inner or s is loop:
                continue
            if isinstance(s, (gast.If, gast.For, gast.While)):
                out |= _loads(s.test if isinstance(s, (gast.If, gast.While)) else s.iter)
            else:
                out |= _loads(s)
        return out

    def sparse_names(self, loop) -> set:
        """Names whose adjoint the loop body updates in place (x[i] reads and writes)."""
        out = set()
        for s in walk_statements(loop.body):
            if isinstance(s, gast.Assign):
                if isinstance(s.value, gast.Subscript) and isinstance(s.value.value, gast.Name):
                    out.add(s.value.value.id)
                t = s.targets[0]
                if isinstance(t, gast.Subscript):
                    out.add(t.value.id)
        return out

    # -- the whole function -------------------------------------------------------------------
    def run(self):
        fdef = self.p.node
        self.primal_of = {self.adj(n): n for n in sorted(_all_names(fdef))}
        params = list(self.p.params)
        ret = fdef.body[-1]
        if not isinstance(ret, gast.Return):
            raise self.error(ret, "the function must end with a return statement",
                             "Return the value to differentiate at the end.", SrcadSyntaxError)
        body = fdef.body[:-1]
        self.bound = set(params)
        primal = self.primal(body, 0, False, set(params))
        result = ret.value
        result_atoms = result.elts if isinstance(result, gast.Tuple) else [result]
        state = _State()
        seed_code = []
        seed_name = None
        if isinstance(result, gast.Name):
            seed_name = self.adj(result.id)
        else:
            seed_name = self.namer.fresh("bresult")
        seed_param = None
        if self.grad_seed:
            seed_value = _call(_attr(_name(self.rt), "scalar_seed"), copy.deepcopy(result))
        else:
            seed_param = self.namer.fresh("seed")
            seed_value = _call(_attr(_name(self.rt), "seed_like"), _name(seed_param),
                               copy.deepcopy(result))
        if isinstance(result, gast.Name):
            if self.act.is_active(result.id):
                seed_code.append(_assign(seed_name, seed_value))
                state.defined.add(seed_name)
        else:
            seed_code.append(_assign(seed_name, seed_value))
            for i, e in enumerate(result_atoms):
                if self.active(e):
                    item = gast.Subscript(value=_name(seed_name),
                                          slice=gast.Constant(value=i, kind=None),
                                          ctx=gast.Load())
                    seed_code.extend(self.contribute(e.id, item, state))
        for s in seed_code:
            s.lineno = ret.lineno
        line = f"line {ret.lineno}: {self.src.line_text(ret.lineno)}"
        seed_code = [comment(line)] + seed_code if seed_code else seed_code
        adjoint = self.adjoint_block(body, state, 0, last=(self.src, ret.lineno))
        grads = []
        final = []
        for name in self.wrt:
            b = self.adj(name)
            if b not in state.defined:
                final.append(_assign(b, _call(_attr(_name(self.rt), "zeros_like"),
                                              _name(name))))
            grads.append(_name(b))
        adjoint = [self.simplify(s) for s in seed_code + adjoint + final]
        mark_derivative(adjoint)
        primal, adjoint = self.prune_saves(primal, adjoint)
        if self.none_init:
            inits = [_assign(n, gast.Constant(value=None, kind=None))
                     for n in sorted(self.none_init & self.saved_names) if n not in params]
            primal = inits + primal
        used = self.used_names(primal + adjoint)
        for tape in sorted(self.tapes.values(), reverse=True):
            if tape in used:
                primal.insert(0, _assign(tape, gast.List(elts=[], ctx=gast.Load())))
        out = grads[0] if len(grads) == 1 else gast.Tuple(elts=grads, ctx=gast.Load())
        if self.preserve_result:      # the value, kept before the adjoint sweep restores
            value = self.namer.fresh("value")
            mutated = {t.value.id for st in walk_statements(fdef.body) if isinstance(
                st, gast.Assign) for t in st.targets if isinstance(t, gast.Subscript)}
            kept = [copy.deepcopy(a) for a in result_atoms]
            for i, a in enumerate(kept):
                if isinstance(a, gast.Name) and a.id in self.lists:
                    kept[i] = _call(_name("list"), a)
                elif isinstance(a, gast.Name) and a.id in mutated:
                    kept[i] = _call(_attr(_name(self.np), "copy"), a)
            primal.append(_assign(value, kept[0] if not isinstance(result, gast.Tuple) else
                                  gast.Tuple(elts=kept, ctx=gast.Load())))
            out = gast.Tuple(elts=[_name(value), out], ctx=gast.Load())
        new = copy.copy(fdef)
        new.args = copy.deepcopy(fdef.args)
        new.srcad_extra = []
        if seed_param is not None:        # def dloss_dw(w, X, y, *, seed=None)
            new.args.kwonlyargs = list(new.args.kwonlyargs) + [_name(seed_param, gast.Param())]
            new.args.kw_defaults = list(new.args.kw_defaults) + [
                gast.Constant(value=None, kind=None)]
            new.srcad_extra = [seed_param]
        new.body = primal + adjoint + [gast.Return(value=out)]
        new.returns = None
        return new

    def used_names(self, stmts) -> set:
        out = set()
        for s in stmts:
            out |= {n.id for n in walk(s) if isinstance(n, gast.Name)}
        return out

    def prune_saves(self, primal, adjoint):
        """Keep only the saves and restores of values the adjoint sweep reads: start from all
        of them and drop, until nothing changes, those whose variable no remaining adjoint
        statement reads (dropping restores can empty a branch, which then reads nothing)."""
        views = {}       # t -> the arrays t may be a view of (t = a[i], a.T): reading t reads a
        for st in walk_statements(self.p.node.body):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                views[st.targets[0].id] = shares(st.value, self.np) - {st.targets[0].id}
        keep = set(self.saves)
        while True:
            code = drop_empty(_filter(adjoint, keep, "srcad_restore", None))
            reads = _adjoint_reads(code, set(self.tapes.values()))
            todo = list(reads)
            while todo:
                for a in views.get(todo.pop(), ()):
                    if a not in reads:
                        reads.add(a)
                        todo.append(a)
            new = {r for r in self.saves if r.self_read or r.name in reads}
            changed = True
            while changed:     # the index of a restored slice is read by the restore
                changed = False
                for r in self.saves:
                    if r not in new and any(k.index is not None and r.name in _loads(k.index)
                                            for k in new):
                        new.add(r)
                        changed = True
            if new == keep:
                break
            keep = new
        self.saved_names = {r.name for r in keep}
        return _filter(primal, keep, "srcad_save", None), _filter(adjoint, keep,
                                                                  "srcad_restore", reads)


def _adjoint_reads(stmts, tape) -> set:
    """Names whose values adjoint statements read (restores read only their slice index)."""
    reads = set()
    for s in stmts:
        for n in walk(s):
            if getattr(n, "srcad_restore", None) is not None and not getattr(
                    n, "srcad_keep", False):
                if isinstance(n.targets[0], gast.Subscript):
                    reads |= _loads(n.targets[0].slice)
            elif isinstance(n, (gast.If, gast.While)):
                reads |= _loads(n.test)
            elif isinstance(n, gast.For):
                reads |= _loads(n.iter)
            elif isinstance(n, gast.stmt) and getattr(n, "srcad_list_restore", None) is None:
                reads |= _loads(n)
    return reads - tape


def _filter(stmts, keep, mark, lists_read) -> list:
    """A copy of ``stmts`` without the saves/restores not in ``keep`` (and, when
    ``lists_read`` is given, without list restores of lists nobody reads)."""
    out = []
    for s in stmts:
        rec = getattr(s, mark, None)
        if rec is not None and rec not in keep:
            continue
        lst = getattr(s, "srcad_list_restore", None)
        if lst is not None and lists_read is not None and lst not in lists_read:
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s = copy.copy(s)
            s.body = _filter(s.body, keep, mark, lists_read) or [gast.Pass()]
            s.orelse = _filter(s.orelse, keep, mark, lists_read)
        out.append(s)
    return out


def _all_names(fdef) -> set:
    return {n.id for n in walk(fdef) if isinstance(n, gast.Name)}


def _contrib_target(stmt):
    if getattr(stmt, "srcad_contrib", None) is None:
        return None
    t = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target.value
    return t.id if isinstance(t, gast.Name) else None


def _rename(node, old):
    if not old:
        return node
    node = copy.deepcopy(node)
    for n in walk(node):
        if isinstance(n, gast.Name) and n.id in old:
            n.srcad_original = n.id
            n.id = old[n.id]
    return node


def _original(node, old):
    return getattr(node, "srcad_original", node.id)


def _is_basic_index(index, shapes) -> bool:
    """Does ``x[index] += g`` accumulate correctly (no repeated fancy indices)? Slices,
    literals, and names known to be scalars (integers, here) qualify."""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    for item in items:
        if isinstance(item, gast.Name) and shapes.get(item.id) == ():
            continue
        if isinstance(item, gast.Slice):
            if any(p is not None and not isinstance(p, (gast.Constant, gast.UnaryOp))
                   for p in (item.lower, item.upper, item.step)):
                return False
        elif isinstance(item, gast.Constant):
            if not (item.value is None or item.value is Ellipsis or isinstance(item.value, int)):
                return False
        elif isinstance(item, gast.UnaryOp) and isinstance(item.operand, gast.Constant):
            continue
        else:
            return False
    return True


def _as_value(index):
    from .template import as_value
    return as_value(copy.deepcopy(index))


def reverse(program, wrt, act, grad_seed=True, preserve_result=False, shapes=None):
    """Build the reverse-mode derivative FunctionDef of a normalized program (``shapes``:
    what is known of values' shapes, see ``analysis.shapes``)."""
    return _Reverse(program, wrt, act, grad_seed, preserve_result, shapes or {}).run()
