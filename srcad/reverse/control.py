"""The adjoint of blocks and control flow: a block's statements last to first, each source
line's code preceded by a comment naming it; ``if`` (the state of both branches joined, the
adjoints missing in one branch materialized as zeros there) and loops (run backwards:
``reversed`` over the same range, ``range(trips)`` for a ``while``; adjoints carried across
iterations hold a value at every iteration boundary).

Input: a block, or an ``if``, ``for`` or ``while`` statement, of the primal and the
``_State`` after it. Output: its adjoint statements (a branch or loop whose adjoint does
nothing is left out), the state before it.
"""
from __future__ import annotations

import copy

import gast

from ..analysis import is_primal_only, walk, walk_statements
from ..nodes import assign as _assign, attr as _attr, call as _call, comment, loads as _loads, \
    name as _name
from .adjoint import AdjointStatements


class ControlFlow(AdjointStatements):
    """The adjoint of blocks, branches and loops (the layer above ``AdjointStatements``)."""

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
        if is_primal_only(stmt):        # assert, raise, print: ran in the primal sweep
            mirror = getattr(stmt, "srcad_mirror", None)     # np.errstate: its adjoint too
            return [copy.deepcopy(mirror)] if mirror is not None else []
        if isinstance(stmt, gast.Expr):
            return self.adjoint_append(stmt, state)
        if isinstance(stmt, gast.If):
            return self.adjoint_if(stmt, state, depth)
        if isinstance(stmt, (gast.For, gast.While)):
            return self.adjoint_loop(stmt, state, depth)
        return []

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
