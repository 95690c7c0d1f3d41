"""Memory written in place, as the rewrites must respect it: which names may share memory
with an array some statement writes into (``_written``), and the ``_Guard`` a rewrite asks
before it replaces a new array by a name (``dt = dy * 1.0`` stays a copy before
``dt[0] = ...``).

Input: a FunctionDef of generated code. Output: facts (sets of names, statements that write),
no change to the tree.
"""
from __future__ import annotations

import gast

from ..analysis import walk, walk_statements
from ..nodes import name
from ..sharing import _dotted, _exposed, _root, shares
from .tree import ARRAY_MUTATORS as _ARRAY_MUTATORS
from .tree import WRITING_HELPERS as _WRITING_HELPERS
from .tree import _writes_in_place

_LIST_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "reverse"})


def _writes(stmt):
    """(arrays, lists, holders): the names whose memory the simple statement ``stmt`` writes
    into in place (``x[i] = v``, ``b += e``, ``take_and_zero(b, i)``, ``np.add.at(b, i, v)``,
    ``out=``), the lists it changes (``lst.append(v)``), and (list, what it now holds)."""
    arrays, lists, holders = set(), set(), []
    targets = stmt.targets if isinstance(stmt, gast.Assign) else [
        stmt.target] if isinstance(stmt, gast.AugAssign) else []
    for t in targets:
        for e in t.elts if isinstance(t, gast.Tuple) else [t]:
            if not isinstance(e, gast.Name) or isinstance(stmt, gast.AugAssign):
                arrays.add(_root(e))
    for n in walk(stmt):
        if not isinstance(n, gast.Call):
            continue
        root, _, attribute = _dotted(n.func).rpartition(".")
        if n.args and ((root == "_srcad" and attribute in _WRITING_HELPERS)
                       or (attribute == "at" and root)):
            arrays.add(_root(n.args[0]))
        if isinstance(n.func, gast.Attribute):
            if attribute in _ARRAY_MUTATORS:
                arrays.add(_root(n.func.value))
            elif attribute in _LIST_MUTATORS and _root(n.func.value) is not None:
                lists.add(_root(n.func.value))
                holders.append((_root(n.func.value), n.args))
        arrays |= {_root(k.value) for k in n.keywords if k.arg == "out"}
    return arrays - {None}, lists, holders


class _Aliases:
    """Flow-insensitively, which names may share memory (``a = b`` anywhere joins them, as it
    joins a list and what it holds), and the statements that write into memory in place:
    ``sites``, (statement, arrays, lists) as ``_writes`` finds them."""

    def __init__(self, fdef, np_name):
        self.group: dict = {}
        self.sites = []
        for s in walk_statements(fdef.body):
            if isinstance(s, gast.For):
                self.join([t for t in walk(s.target) if isinstance(t, gast.Name)], s.iter,
                          np_name)
            if isinstance(s, (gast.For, gast.If, gast.While)):
                continue
            arrays, lists, holders = _writes(s)
            if arrays or lists:
                self.sites.append((s, arrays, lists))
            for lst, items in holders:
                for item in items:
                    self.join([name(lst)], item, np_name)
            if isinstance(s, gast.Assign) and getattr(s, "srcad_restore", None) is None:
                # (a restore gives a name back a value it held: no new sharing)
                self.join([n for t in s.targets for n in walk(t) if isinstance(n, gast.Name)],
                          s.value, np_name)

    def find(self, n):
        while self.group.get(n, n) != n:
            n = self.group[n]
        return n

    def join(self, names, value, np_name):
        for m in shares(value, np_name):
            for n in names:
                self.group.setdefault(n.id, n.id)
                self.group.setdefault(m, m)
                self.group[self.find(n.id)] = self.find(m)

    def written(self) -> set:
        """The names that may share memory with an array some statement writes into."""
        targets = {n for _, arrays, _ in self.sites for n in arrays}
        roots = {self.find(n) for n in targets}
        return targets | {n for n in self.group if self.find(n) in roots}


def _written(fdef, np_name, facts=None) -> set:
    """``_Aliases(fdef).written()``, or nothing where ``fdef`` writes into no array in place
    (asked of ``facts``, ``tree.Facts``, when given: its statements' memos)."""
    writes = facts.writes_arrays(fdef) if facts is not None else _writes_arrays(fdef)
    return _Aliases(fdef, np_name).written() if writes else set()


def _writes_arrays(fdef) -> bool:
    """Might ``fdef`` write into an array in place (a quick look, before ``_Aliases``)?"""
    return any(map(_writes_in_place, walk(fdef)))


def _may_mutate(fdef) -> bool:
    """Might a statement of ``fdef`` write into memory in place, an array's or a list's (a
    quick look: where not, ``_Aliases(fdef).sites`` is empty)? A superset of what ``_writes``
    finds: an in-place write (``_writes_in_place``), an attribute assigned (``x.a = v``), a
    list changed (``lst.append(v)``)."""
    for n in walk(fdef):
        if _writes_in_place(n) or isinstance(n, gast.Attribute) and isinstance(
                n.ctx, gast.Store) or isinstance(n, gast.Call) and isinstance(
                n.func, gast.Attribute) and n.func.attr in _LIST_MUTATORS:
            return True
    return False


def _unguarded(node, new):
    return new


class _Guard:
    """Called as ``guard(node, new)`` by a rewrite about to replace ``node`` in ``stmt``'s
    value by ``new``: ``node`` itself where ``new`` would share memory that ``node`` (a new
    array) did not, and an array written in place is involved (``1.0 * y`` copies ``y``;
    ``y`` would not: ``dt = dy * 1.0`` before ``dt[0] = ...``), else ``new``. Only a
    node the statement's value can be (its root, or what a call there hands back) matters."""

    def __init__(self, stmt, written, np_name):
        self.stmt = stmt
        self.written = written
        self.np = np_name
        self.exposed = None

    def __call__(self, node, new):
        if new is node or not self.written:
            return new
        added = shares(new, self.np) - shares(node, self.np)
        if not added:
            return new
        if self.exposed is None:
            self.exposed = {id(n) for n in _exposed(self.stmt.value, self.np)}
        targets = {n.id for t in getattr(self.stmt, "targets", []) for n in walk(t)
                   if isinstance(n, gast.Name)}
        if id(node) in self.exposed and (added & self.written or targets & self.written):
            return node
        return new
