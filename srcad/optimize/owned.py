"""``owned_writes``, the last pass of every variant: generated code writes only into memory it
owns.

Input: a FunctionDef, optimized or not (and, in forward mode, which tangent belongs to which
parameter). Output: the same, with ``p = p.copy()`` first for each parameter the function
writes into (the user's ``x[0] = ...``, a restore in the adjoint sweep, ``xs.append(v)``) and
for the tangent of such a parameter where derivative code writes into it; derivative code
that would still write into an argument's or a primal value's memory is an
``InternalError`` (a bug of an earlier pass), never a silently wrong derivative.
"""
from __future__ import annotations

import gast

from ..analysis import walk, walk_statements
from ..instantiate import mark_derivative
from ..nodes import assign, attr, call, name
from ..sharing import _dotted, _operands, _passed_through, _root
from .aliases import _LIST_MUTATORS, _Aliases, _may_mutate, _writes

__all__ = ["owned_writes"]


def owned_writes(fdef: gast.FunctionDef, np_name: str = "np",
                 tangents: dict | None = None) -> gast.FunctionDef:
    """Generated code writes only into memory it owns, whatever the passes before did:

    * a parameter whose memory the function writes into (the user's ``x[0] = ...`` and the
      restore of the old element in the adjoint sweep, ``xs.append(v)`` on a list) is copied
      first (``x = x.copy()``): the caller's array, tangent or seed is never written;
    * the tangent of such a parameter, where derivative code writes into it (the tangent of
      the user's write into a view of ``x``: ``dt = dx[1:]``, ``dt[0] = ...``), is copied
      first too, as derivative code's own memory (``tangents``: tangent -> parameter);
    * derivative code that writes into memory that may be a primal value's or a parameter's
      the primal reads (an adjoint that became the array itself, ``bx = y`` ...
      ``take_and_zero(bx, 0)``) is a bug of an earlier pass: an InternalError, never a
      silently wrong derivative.

    A forward analysis follows which memory each name may hold: a parameter's (``("argument",
    p)``), a primal value's (``_PRIMAL``) or derivative code's own (nothing)."""
    params = [a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs]
    if not _may_write_unowned(fdef, params, np_name):
        return fdef
    flow = _MemoryFlow(fdef, params, np_name)
    copied = [p for p in params if p in flow.primal_writes]
    owned = [t for t, p in (tangents or {}).items() if p in copied
             and t in flow.derivative_writes]
    if copied or owned:
        copies = [assign(p, call(attr(name(p), "copy"))) for p in copied + owned]
        mark_derivative(copies[len(copied):])
        fdef.body = copies + fdef.body
        flow = _MemoryFlow(fdef, params, np_name, copied, owned)
    if flow.unowned:
        from ..errors import InternalError
        stmt, b = flow.unowned[0]
        raise InternalError("optimize", f"derivative code (for line {getattr(stmt, 'lineno', '?')})"
                            f" writes into {b!r}, which may be an argument's or a primal "
                            f"value's memory")
    return fdef


def _may_write_unowned(fdef, params, np_name) -> bool:
    """Flow-insensitively: may a statement write into a parameter's memory, or derivative code
    into a primal value's? (When not, ``_MemoryFlow`` need not run.)"""
    if not _may_mutate(fdef):
        return False                  # (no statement writes: ``_Aliases`` finds no site)
    aliases = _Aliases(fdef, np_name)
    if not aliases.sites:
        return False
    primal = {n.id for s in walk_statements(fdef.body) if not getattr(
        s, "srcad_derivative", False) for t in getattr(s, "targets", []) for n in walk(t)
        if isinstance(n, gast.Name)}
    suspect = {aliases.find(p) for p in params}
    derivative_suspect = suspect | {aliases.find(n) for n in primal}
    for stmt, arrays, lists in aliases.sites:
        derivative = getattr(stmt, "srcad_derivative", False) and getattr(
            stmt, "srcad_restore", None) is None
        if {aliases.find(n) for n in lists} & suspect or {aliases.find(n) for n in arrays} & (
                derivative_suspect if derivative else suspect):
            return True
    return False


class _MemoryFlow:
    """Which memory each name may hold at each statement (joined over branches, iterated to
    a fixed point over loops), and the writes into memory the writer does not own:
    ``primal_writes``, the parameters primal code (or a restore) writes into; ``unowned``,
    (statement, name) where derivative code writes into a parameter's or a primal value's
    memory. A list holds its items' memory as ``("item", label)``: appending to a
    list writes into the list, not into what it holds."""

    def __init__(self, fdef, params, np_name, copied=(), owned=()):
        self.np = np_name
        self.found: dict = {}
        self.ever: dict = {}                # name -> all it was bound to so far
        state = {p: frozenset() if p in owned else frozenset(
            {_PRIMAL if p in copied else ("argument", p)}) for p in params}
        self.ever.update(state)
        self.block(fdef.body, state)
        self.primal_writes = set()
        self.derivative_writes = set()
        self.unowned = []
        for stmt, arrays, lists in self.found.values():
            restore = getattr(stmt, "srcad_restore", None) is not None or getattr(
                stmt, "srcad_list_restore", None) is not None
            if not getattr(stmt, "srcad_derivative", False) or restore:
                self.primal_writes |= _arguments(*arrays.values(), *lists.values())
                continue
            self.primal_writes |= _arguments(*lists.values())
            self.derivative_writes |= _arguments(*arrays.values())
            self.unowned += [(stmt, b) for b, held in sorted(arrays.items()) if _own(held)]

    def held(self, node, state) -> frozenset:
        """The memory the value of ``node`` may be (or, as items, hold)."""
        if isinstance(node, gast.Name):
            return state.get(node.id, frozenset())
        if isinstance(node, (gast.Subscript, gast.Starred)):      # a view, or an item
            return _items_out(self.held(node.value, state))
        if isinstance(node, gast.Attribute):
            return self.held(node.value, state)
        if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
            return _items_in(self.union(node.elts, state))
        if isinstance(node, gast.Call):
            return self.call(node, state)
        if isinstance(node, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare)):
            return frozenset()
        return self.union([c for c in gast.iter_child_nodes(node)
                           if isinstance(c, gast.expr)], state)

    def call(self, node, state) -> frozenset:
        from .. import runtime
        root, _, helper = _dotted(node.func).rpartition(".")
        if root == "_srcad" and helper in runtime.SHARES:      # what it is, what it holds
            return self.union(_operands(node, runtime.SHARES[helper]), state) | _items_in(
                self.union(_operands(node, runtime.HOLDS.get(helper, ())), state))
        if isinstance(node.func, gast.Attribute) and node.func.attr == "pop":
            return _items_out(self.held(node.func.value, state))
        return self.union(_passed_through(node, self.np), state)

    def union(self, nodes, state) -> frozenset:
        return frozenset().union(*(self.held(n, state) for n in nodes))

    def block(self, stmts, state):
        for s in stmts:
            if isinstance(s, gast.If):
                other = dict(state)
                self.block(s.body, state)
                self.block(s.orelse, other)
                _join(state, other)
            elif isinstance(s, (gast.For, gast.While)):
                while True:
                    before = dict(state)
                    if isinstance(s, gast.For):
                        for t in walk(s.target):
                            if isinstance(t, gast.Name):
                                state[t.id] = _items_out(self.held(s.iter, state))
                    self.block(s.body, state)
                    _join(state, before)
                    if state == before:
                        break
            else:
                self.simple(s, state)

    def simple(self, s, state):
        arrays, lists, _ = _writes(s)
        self.found[id(s)] = (s, {b: state.get(b, frozenset()) for b in arrays},
                             {b: state.get(b, frozenset()) for b in lists})
        for n in walk(s):                    # lst.append(v): the list holds v
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    n.func.attr in _LIST_MUTATORS and _root(n.func.value) is not None:
                b = _root(n.func.value)
                state[b] = state.get(b, frozenset()) | _items_in(self.union(n.args, state))
        if not isinstance(s, gast.Assign):
            return
        held = self.held(s.value, state)
        if not getattr(s, "srcad_derivative", False):
            held |= {_PRIMAL}
        restore = getattr(s, "srcad_restore", None) is not None
        for t in s.targets:
            if isinstance(t, (gast.Name, gast.Tuple)):
                for e in walk(t):
                    if isinstance(e, gast.Name):       # a restore: a value it held before
                        state[e.id] = self.ever.get(e.id, frozenset()) if restore else held
                        self.ever[e.id] = self.ever.get(e.id, frozenset()) | state[e.id]
            elif _root(t) is not None:         # lst[i] = v: the list holds v
                state[_root(t)] = state.get(_root(t), frozenset()) | _items_in(held)


_PRIMAL = ("primal",)


def _items_in(held) -> frozenset:
    """The labels of a container holding values that may be ``held`` (two levels deep, then
    a list of lists of lists counts as a list of lists: more memory than it holds, never
    less)."""
    return frozenset(label if label[0] == "item" and label[1][0] == "item" else (
        "item", label) for label in held)


def _items_out(held) -> frozenset:
    """The labels of a value read from what may be ``held`` (a view of an array is the
    array's memory; an item of a list, the item's)."""
    return frozenset(label[1] if label[0] == "item" else label for label in held)


def _own(held) -> frozenset:
    """The memory a value may itself be (not what it holds as items)."""
    return frozenset(label for label in held if label[0] != "item")


def _arguments(*held) -> set:
    """The parameters whose memory is among the ``held`` labels (not as items)."""
    return {label[1] for h in held for label in h if label[0] == "argument"}


def _join(state, other):
    """``state`` where either may hold what either held."""
    for n, held in other.items():
        state[n] = state.get(n, frozenset()) | held
