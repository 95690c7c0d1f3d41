"""Queries and edits of gast trees that the optimize passes share: names read and bound,
effect-free expressions, float literals, parents and child replacement, runtime helper and
elementwise NumPy calls.

Input and output: gast nodes of generated code; nothing here changes a tree but
``_replace_child``/``_set_child``, which put one node in place of another.
"""
from __future__ import annotations

import gast

from ..analysis import literal, walk
from ..sharing import _dotted

_EFFECTS = {"pop", "append", "add_at", "take_and_zero", "extend", "insert"}
ARRAY_MUTATORS = frozenset({"sort", "fill", "resize", "put", "itemset", "partition"})
WRITING_HELPERS = frozenset({"take_and_zero", "add_at"})     # write into their first argument
_WRITING_ATTRIBUTES = WRITING_HELPERS | ARRAY_MUTATORS | {"at"}


_MAY_WRITE = (gast.AugAssign, gast.Subscript, gast.Call)     # the nodes _writes_in_place takes


def _writes_in_place(n) -> bool:
    """Might the node ``n`` itself write into an array in place (``b += e``, ``x[i] = v``,
    ``out=``, a writing method or runtime helper, ``np.add.at``)? A quick look, before
    ``aliases._Aliases`` looks closer."""
    if isinstance(n, gast.AugAssign) or (isinstance(n, gast.Subscript) and isinstance(
            n.ctx, gast.Store)):
        return True
    return isinstance(n, gast.Call) and (any(k.arg == "out" for k in n.keywords) or isinstance(
        n.func, gast.Attribute) and n.func.attr in _WRITING_ATTRIBUTES)


def _loads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _pure(value) -> bool:
    """Evaluating ``value`` changes nothing (no tape or list operations, no in-place helper)."""
    for n in walk(value):
        if isinstance(n, gast.Call) and _effect(n):
            return False
    return True


def _effect(call) -> bool:
    """Is ``call`` one ``_pure`` refuses (a tape or list operation, an in-place helper)?"""
    func = call.func
    return (func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")) in _EFFECTS


def _name_counts(fdef) -> tuple:
    """(name -> how many times ``fdef`` binds it, name -> how many times it reads it), in one
    walk: a bind is a name in a store context or a parameter, the target of ``n += e``, and
    (once more) each parameter of ``fdef``."""
    binds: dict = {}
    loads: dict = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Load):
                loads[n.id] = loads.get(n.id, 0) + 1
            elif isinstance(n.ctx, (gast.Store, gast.Param)):
                binds[n.id] = binds.get(n.id, 0) + 1
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            binds[n.target.id] = binds.get(n.target.id, 0) + 1
    for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
        binds[a.id] = binds.get(a.id, 0) + 1
    return binds, loads


def _load_counts(tree) -> dict:
    """name -> how many times ``tree`` reads it."""
    counts: dict = {}
    for n in walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _number(node):
    """The value of a float literal (``2.0``, ``-2.0``), else None (ints stay as written)."""
    return literal(node, float)


def _literal(value):
    node = gast.Constant(value=abs(value), kind=None)
    return gast.UnaryOp(op=gast.USub(), operand=node) if value < 0 else node


def _replace_child(parent, old, new):
    for field, value in gast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return field
        if isinstance(value, list) and any(v is old for v in value):
            value[[i for i, v in enumerate(value) if v is old][0]] = new
            return field
    raise AssertionError("not a child")


def _set_child(parent, field, old, new):
    value = getattr(parent, field)
    if isinstance(value, list):
        value[[i for i, v in enumerate(value) if v is old][0]] = new
    else:
        setattr(parent, field, new)


def _blocks(stmts):
    """Each block of statements in ``stmts`` (itself included), inner blocks first."""
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner:
                yield from _blocks(inner)
    yield stmts


def _parents(root) -> dict:
    """id(node) -> its parent, for every node below ``root``."""
    out: dict = {}
    for _ in walk(root, out):
        pass
    return out


def _stores(stmt) -> set:
    out = {n.id for n in walk(stmt) if isinstance(n, gast.Name)
           and not isinstance(n.ctx, gast.Load)}
    return out | {n.target.id for n in walk(stmt) if isinstance(n, gast.AugAssign)
                  and isinstance(n.target, gast.Name)}


def _helper_name(call):
    """``helper`` for a call ``_srcad.helper(...)``, else None."""
    if isinstance(call, gast.Call):
        root, _, helper = _dotted(call.func).rpartition(".")
        if root == "_srcad":
            return helper
    return None


def _np_call(call, np_name) -> bool:
    """Is ``call`` ``np.f(...)`` for an elementwise NumPy function ``f`` (or an elementwise
    runtime helper, ``_srcad.sigmoid``)?"""
    import numpy

    from .. import registry, runtime
    root, _, attribute = _dotted(call.func).rpartition(".")
    module = numpy if root == np_name else runtime if root == "_srcad" else None
    return module is not None and registry.is_elementwise(getattr(module, attribute, None))


_COMPOUND = (gast.For, gast.If, gast.While)


def _is_simple(stmt) -> bool:
    """A statement holding no statements (its facts depend on its own nodes only): one whose
    class has no field of statements."""
    simple = _SIMPLE.get(stmt.__class__)
    if simple is None:
        simple = _SIMPLE[stmt.__class__] = not {"body", "orelse", "handlers", "finalbody"} & set(
            stmt._fields)
    return simple


_SIMPLE: dict = {}


class Facts:
    """What the passes of one ``optimize`` ask of each statement, computed once per statement
    and kept while nobody changes it: its load counts, the names it binds (``_name_counts``'s
    way of counting), every name it holds, its pure targets (``dataflow._targets``, given
    whether the statement is ``_pure``) and whether it may write into an array in place
    (``_writes_in_place``).

    Only simple statements are memoized (by identity, the node kept so its id is not reused);
    a loop or branch is its header plus its statements', recomputed from their memos, so
    removing statements from a body needs no bookkeeping. A pass that changes a statement in
    place calls ``forget(stmt)`` (which forgets every statement inside it too); one that
    replaces a statement by a new node needs nothing. ``peephole._peepholes`` records here the
    statements it found nothing to rewrite in (``clean``), so the next round skips them until
    they are forgotten.
    """

    def __init__(self):
        self._memo: dict = {}
        self._clean: dict = {}

    def forget(self, stmt) -> None:
        for s in _statements_in(stmt):
            self._memo.pop(id(s), None)
            self._clean.pop(id(s), None)

    def is_clean(self, stmt) -> bool:
        return self._clean.get(id(stmt)) is stmt

    def mark_clean(self, stmt) -> None:
        self._clean[id(stmt)] = stmt

    def _simple(self, stmt):
        entry = self._memo.get(id(stmt))
        if entry is not None and entry[0] is stmt:
            return entry
        loads: dict = {}
        binds: dict = {}
        found: dict = {}
        stored: set = set()
        writes = False
        pure = True
        for n in walk(stmt):
            if isinstance(n, gast.Name):
                found[n.id] = found.get(n.id, 0) + 1
                if isinstance(n.ctx, gast.Load):
                    loads[n.id] = loads.get(n.id, 0) + 1
                else:
                    stored.add(n.id)
                    if isinstance(n.ctx, (gast.Store, gast.Param)):
                        binds[n.id] = binds.get(n.id, 0) + 1
                continue
            if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                stored.add(n.target.id)
                binds[n.target.id] = binds.get(n.target.id, 0) + 1
            if not writes and isinstance(n, _MAY_WRITE) and _writes_in_place(n):
                writes = True
            if pure and isinstance(n, gast.Call) and _effect(n):
                pure = False
        entry = (stmt, loads, binds, found, stored, [False, None], writes, pure)
        self._memo[id(stmt)] = entry
        return entry

    def _parts(self, stmt):
        """(header nodes, inner statements) of a loop or branch."""
        header = [stmt.target, stmt.iter] if isinstance(stmt, gast.For) else [stmt.test]
        return header, list(stmt.body) + list(stmt.orelse)

    def loads(self, stmt):
        """``_loads(stmt)``, as a set or (a simple statement's, not to be changed) the keys
        of its load counts."""
        if not isinstance(stmt, _COMPOUND):
            if _is_simple(stmt):
                return self._simple(stmt)[1].keys()
            return _loads(stmt)
        header, inner = self._parts(stmt)
        out: set = set()
        for node in header:
            out |= _loads(node)
        for s in inner:
            out.update(self.loads(s))
        return out

    def summary(self, stmt):
        """(name -> occurrences, names bound or written), as ``dataflow._summary``; fresh
        dicts for a loop or branch."""
        if not isinstance(stmt, _COMPOUND):
            if _is_simple(stmt):
                entry = self._simple(stmt)
                return entry[3], entry[4]
            return _summary_of(stmt)
        header, inner = self._parts(stmt)
        found: dict = {}
        stored: set = set()
        for part in [_summary_of(node) for node in header] + [self.summary(s) for s in inner]:
            for key, count in part[0].items():
                found[key] = found.get(key, 0) + count
            stored |= part[1]
        return found, stored

    def names(self, stmt) -> set:
        """Every name ``stmt`` holds, read or bound."""
        return set(self.summary(stmt)[0])

    def targets(self, stmt, compute):
        """``compute(stmt)`` (``dataflow._targets``: it reads the statement only), memoized
        for a simple statement, given its purity there: ``compute(stmt, pure)``."""
        if not isinstance(stmt, (gast.Assign, gast.AugAssign)):
            return compute(stmt)
        entry = self._simple(stmt)
        memo = entry[5]
        if not memo[0]:
            memo[0], memo[1] = True, compute(stmt, entry[7])
        return memo[1]

    def _pieces(self, fdef):
        """Every node of ``fdef`` but itself, once: (memo entry, None) for each simple
        statement, (None, node) for the rest (the headers of loops and branches, other
        statements, the fields of ``fdef`` but its body)."""
        for field, value in gast.iter_fields(fdef):
            if field == "body":
                yield from self._block_pieces(value)
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, gast.AST):
                        yield None, v
            elif isinstance(value, gast.AST):
                yield None, value

    def _block_pieces(self, stmts):
        """``_pieces`` of the statements of a block (a method, not a closure calling itself:
        that is a reference cycle, which kept these facts, and every statement they hold,
        alive until the garbage collector ran)."""
        for s in stmts:
            if isinstance(s, _COMPOUND):
                header, inner = self._parts(s)
                for node in header:
                    yield None, node
                yield from self._block_pieces(inner)
            elif _is_simple(s):
                yield self._simple(s), None
            else:
                yield None, s

    def counts(self, fdef):
        """``_name_counts(fdef)``, from the statements' memos."""
        binds: dict = {}
        loads: dict = {}

        def add(target, part):
            for key, count in part.items():
                target[key] = target.get(key, 0) + count

        for entry, node in self._pieces(fdef):
            if entry is not None:
                add(loads, entry[1])
                add(binds, entry[2])
                continue
            for n in walk(node):           # a part that is not memoized
                if isinstance(n, gast.Name):
                    if isinstance(n.ctx, gast.Load):
                        loads[n.id] = loads.get(n.id, 0) + 1
                    elif isinstance(n.ctx, (gast.Store, gast.Param)):
                        binds[n.id] = binds.get(n.id, 0) + 1
                elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                    binds[n.target.id] = binds.get(n.target.id, 0) + 1
        for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs:
            binds[a.id] = binds.get(a.id, 0) + 1
        return binds, loads

    def writes_arrays(self, fdef) -> bool:
        """``aliases._writes_arrays(fdef)`` (might ``fdef`` write into an array in place?),
        from the statements' memos."""
        return any(entry[6] if entry is not None else any(map(_writes_in_place, walk(node)))
                   for entry, node in self._pieces(fdef))


def _summary_of(node):
    found: dict = {}
    stored: set = set()
    for n in walk(node):
        if isinstance(n, gast.Name):
            found[n.id] = found.get(n.id, 0) + 1
            if not isinstance(n.ctx, gast.Load):
                stored.add(n.id)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            stored.add(n.target.id)
    return found, stored


def _statements_in(stmt):
    """``stmt`` and every statement inside it."""
    stack = [stmt]
    while stack:
        s = stack.pop()
        yield s
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                stack.extend(x for x in inner if isinstance(x, gast.stmt))
        for h in getattr(s, "handlers", None) or []:
            stack.extend(x for x in h.body if isinstance(x, gast.stmt))
