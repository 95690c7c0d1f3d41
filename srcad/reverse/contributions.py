"""Adjoint contributions: ``b_x = v`` for the first one, ``b_x = b_x + v`` for the next (a
list's adjoint adds elementwise), ``b_x[i] += v`` into a buffer the sweep owns, and the
application of an instantiated adjoint template to the sweep's ``_State``.

Input: contributions (``srcad_contrib`` statements of a template, or values) and the state
(which adjoints hold a value, which buffers the sweep owns). Output: statements that never
read an adjoint nobody contributed to and never write into a buffer the sweep does not own.
"""
from __future__ import annotations

import gast

from .. import runtime
from ..nodes import assign as _assign, attr as _attr, call as _call, name as _name
from ..sharing import _dotted
from ..template import is_zero
from .primal import PrimalSweep


class Contributions(PrimalSweep):
    """The accumulation of adjoints (the layer above ``PrimalSweep``)."""

    def contribute(self, name, value, state) -> list:
        """``d[name] += value`` honoring the state (first contribution assigns)."""
        if is_zero(value):
            return []
        b = self.adj(name)
        if name in self.lists:
            value = self.as_list(value, name)
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
        if name in self.maybe_lists or name in self.unknown_kind:
            # a list or an array: known only at the call
            return [_assign(b, _call(_attr(_name(self.rt), "plus"), _name(b), value))]
        return [_assign(b, gast.BinOp(left=_name(b), op=gast.Add(), right=value))]

    def as_list(self, value, name):
        """The adjoint ``value`` of the list ``name`` as a list: a NumPy function that took
        the list as an array (``np.sum(lst)``) gives an array, whose rows are the elements'
        adjoints (``unstack_like``; the loop that appended to ``lst`` pops them)."""
        if isinstance(value, (gast.Name, gast.Subscript, gast.List, gast.Tuple)) or (
                isinstance(value, gast.Call) and _dotted(value.func).rpartition(".")[::2] in
                {(self.rt, helper) for helper in (*runtime.HOLDS, "einsum_adjoints")}):
            return value                  # a list adjoint, an item of one, a helper's list
        return _call(_attr(_name(self.rt), "unstack_like"), value, _name(name))

    def own(self, name, state) -> list:
        """Make the adjoint buffer of ``name`` exist and be ours to update in place."""
        b = self.adj(name)
        if b not in state.defined:
            state.defined.add(b)
            state.owned.add(b)
            zeros = self.zeros(name)
            zeros.value.srcad_buffer = True     # written through an index: an array, even 0-d
            return [zeros]
        if b in state.owned:
            return []
        state.owned.add(b)
        if name in self.lists:
            return [_assign(b, _call(_name("list"), _name(b)))]
        shape = self.shapes.get(name)
        if shape == () or not isinstance(shape, tuple) and (
                name in self.maybe_lists or name in self.maybe_none):
            # no array, maybe: a list or tuple (a container's item in a generic variant),
            # a number (the adjoint of a name that held None, bound before a loop; of a
            # shape-() value: a number or a 0-d array, which share a variant)
            return [_assign(b, _call(_attr(_name(self.rt), "owned_copy"), _name(b)))]
        return [_assign(b, _call(_attr(_name(b), "copy")))]

    def contribute_sparse(self, name, index, value, state) -> list:
        """``d[name][index] += value``: into an owned buffer shaped like ``name``."""
        if is_zero(value):
            return []
        b = self.adj(name)
        if self.shapes.get(name) == ():     # x[()] of a number or 0-d array: all of it
            return self.contribute(name, value, state)
        code = self.own(name, state)
        # ``+=`` through an index is an array's: a list's would concatenate (``b[1:3] +=
        # [g, h]``), so a buffer not known to be an array accumulates through ``add_at``
        if isinstance(self.shapes.get(name), tuple) and _is_basic_index(index, self.shapes):
            code.append(gast.AugAssign(
                target=gast.Subscript(value=_name(b), slice=index, ctx=gast.Store()),
                op=gast.Add(), value=value))
        else:
            from ..template import as_value
            code.append(_assign(b, _call(_attr(_name(self.rt), "add_at"), _name(b),
                                         as_value(index), value)))
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
