"""The primal sweep: the user's function, with a save before each statement that overwrites
a value the adjoint sweep may read (a name assigned in a loop or branch, the old elements of
``x[i] = v``, a loop target), and the trip counts of ``while`` loops and loops that break.

Input: the ANF body. Output: the primal statements (saves marked ``srcad_save``, each
statement's records in ``srcad_saves``), and the restores the adjoint sweep emits
(``restore``, marked ``srcad_restore``) when it reaches the statement again. A save outside
loops is a local (``x_prev``), inside a loop a push on the tape.
"""
from __future__ import annotations

import copy

import gast

from ..nodes import assign as _assign, attr as _attr, call as _call, name as _name
from .base import _Base, _Save


class PrimalSweep(_Base):
    """The primal sweep (the first layer above ``_Base``)."""

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
