"""The adjoint of the simple statements: assignments (a copy, a display, a call through its
rule's adjoint template), writes into arrays (``x[i] = v``), list ``append`` and ``pop``.

Input: one ANF statement and the ``_State`` after it. Output: the statements of its adjoint
(then the restore of what it overwrote), the state before it; a call with no adjoint rule is
refused at the call (``NoRuleError``).
"""
from __future__ import annotations

import copy

import gast

from .. import registry
from ..analysis import primitive_call, walk
from ..instantiate import bind, check_coverage, mark_broadcasts, template_for
from ..sharing import _dotted
from ..nodes import assign as _assign, attr as _attr, call as _call, loads as _loads, name as _name
from ..template import clone, make_zero, simplify_zeros
from .contributions import Contributions


class AdjointStatements(Contributions):
    """The adjoint of simple statements (the layer above ``Contributions``)."""

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
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and all(
                isinstance(v, gast.Name) and v.id in self.maybe_lists
                for v in (value.left, value.right)):
            return self.sum_of_unknown(value, outputs[0], state)
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
                             f"Register one: {registry.rule_recipe(prim, 'adjoint')}; or wrap "
                             "the value in srcad.stop_gradient(...) if it needs no derivative.",
                             node=value)
        template = template_for(rule, "adjoint", [self.active(a) for a in args])
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
        covered = set()

        def resolve_d(param, store):
            if param in live_out:
                return None if store else clone(live_out[param])
            bound = inputs.get(param)
            if not store:
                return make_zero(bound)
            covered.add(param)
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
        check_coverage(self, stmt, prim, template, {p: _name(_original(b, old)) if isinstance(
            b, gast.Name) else b for p, b in inputs.items()}, covered, value, "adjoint")
        body = simplify_zeros(body, lambda f: False, self.materialize)
        mark_broadcasts(body, prim, rule, list(args) + list(kwargs.values()), outs,
                        renamed={v: k for k, v in old.items()})
        guard = getattr(stmt, "srcad_guard", None)     # computed only for an np.where branch
        if guard is not None and guard[1]:
            body = [self.masked(s, guard[0], outs[0]) for s in body]
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

    def masked(self, stmt, conditions, out):
        """A contribution leaving a region computed only for np.where branches (``guards``;
        ``out``: the value of the statement it comes from), zero where a branch is not taken
        (before it is summed to a broadcast operand's shape, where 0 * inf would already
        have spread): ``np.where`` where the shapes show the condition fits the value, else
        ``runtime.where_taken``, which reduces the condition to the value's shape."""
        target = _contrib_target(stmt)
        if target is None or target in self.guarded or not isinstance(stmt, gast.Assign):
            return stmt
        value = stmt.value
        unbroadcast = _dotted(value.func) == f"{self.rt}.unbroadcast" if isinstance(
            value, gast.Call) else False
        inner = value.args[0] if unbroadcast else value
        shape = self.shapes.get(out if unbroadcast else target)
        for cond, taken in reversed(conditions):
            if _fits(self.shapes.get(cond), shape):
                zero = gast.Constant(value=0.0, kind=None)
                inner = _call(_attr(_name(self.np), "where"), _name(cond),
                              *((inner, zero) if taken else (zero, inner)))
            else:
                inner = _call(_attr(_name(self.rt), "where_taken"), inner, _name(cond),
                              gast.Constant(value=taken, kind=None))
        if unbroadcast:
            value.args[0] = inner
        else:
            stmt.value = inner
        return stmt

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

    def sum_of_unknown(self, value, out, state) -> list:
        """``y = a + b`` of operands that may be lists or arrays (parameters of unknown kind):
        the call decides between unconcatenating and unbroadcasting (``runtime.sum_part``)."""
        state.defined.discard(out)
        code = []
        for which, operand in enumerate((value.left, value.right)):
            if self.active(operand):
                code.extend(self.contribute(operand.id, _call(
                    _attr(_name(self.rt), "sum_part"), _name(out), value.left,
                    value.right, gast.Constant(value=which, kind=None)), state))
        return code

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


def _fits(condition, shape) -> bool:
    """Does a condition of shape ``condition`` broadcast to ``shape`` without growing it (both
    known to every dimension)?"""
    if not (isinstance(condition, tuple) and isinstance(shape, tuple)) or None in shape or \
            None in condition or len(condition) > len(shape):
        return False
    return all(c in (1, n) for c, n in zip(condition[::-1], shape[::-1]))


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


def _as_value(index):
    from ..template import as_value
    return as_value(copy.deepcopy(index))
