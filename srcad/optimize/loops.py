"""``item_loops``: a loop over indices that reads only the items is the loop over the items;
``carried_copies``: a value computed into a temporary only to be copied into a name later is
computed into that name.

The normalizer makes every ``for`` a loop over a ``range`` (``for c in coeffs`` becomes
``for _k in range(len(coeffs)): c = coeffs[_k]``), which the reverse sweep needs to index
tapes and adjoints. Where the derivative code reads the index only for that item, this pass
gives back the loop the user wrote: it reads like the source, and Python iterates a list
faster than it indexes one.

Input and output: a FunctionDef computing the same values. Rewritten: ``for K in R:`` whose
range ``R`` is ``range(len(XS))`` (or a name assigned it once and read only there), whose body
opens with ``C = XS[K]``, where ``K`` is read nowhere else, and ``XS`` is only read in the body
(as ``XS[...]`` or ``len(XS)``: nothing in the loop can change its items or length), with no
``else``: iterating ``XS`` visits the same items in the same order.

Forward mode computes the tangent of ``p = p * x + c`` before ``p`` changes, into a temporary
copied after it (``d_mul = dp * x + p; p = p * x + c; dp = d_mul``): where nothing between the
two reads or binds ``dp``, the tangent is computed into ``dp`` itself, one store and one load
fewer per iteration of a scalar loop.
"""
from __future__ import annotations

import gast

from ..analysis import walk, walk_statements
from .tree import _blocks, _name_counts

__all__ = ["item_loops", "carried_copies"]


def item_loops(fdef: gast.FunctionDef) -> gast.FunctionDef:
    if not any(isinstance(s, gast.For) for s in walk_statements(fdef.body)):
        return fdef                     # (straight-line code: no walk of its expressions)
    stores, loads = _name_counts(fdef)
    ranges = {s.targets[0].id: s for s in walk(fdef) if isinstance(s, gast.Assign)
              and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
              and stores.get(s.targets[0].id) == 1 and loads.get(s.targets[0].id) == 1
              and _range_of_len(s.value) is not None}
    dropped: set = set()

    def _rewrite(loop):
        it = loop.iter
        named = isinstance(it, gast.Name) and it.id in ranges
        seq = _range_of_len(ranges[it.id].value if named else it)
        if seq is None or loop.orelse or not isinstance(loop.target, gast.Name) or not loop.body:
            return
        k, first = loop.target.id, loop.body[0]
        if not (stores.get(k) == 1 and loads.get(k) == 1 and isinstance(first, gast.Assign)
                and len(first.targets) == 1 and isinstance(first.targets[0], gast.Name)
                and isinstance(first.value, gast.Subscript)
                and isinstance(first.value.value, gast.Name) and first.value.value.id == seq
                and isinstance(first.value.slice, gast.Name) and first.value.slice.id == k
                and first.targets[0].id != seq and _only_read(loop.body, seq)):
            return
        loop.target = gast.Name(id=first.targets[0].id, ctx=gast.Store(), annotation=None,
                                type_comment=None)
        loop.iter = gast.Name(id=seq, ctx=gast.Load(), annotation=None, type_comment=None)
        loop.body = loop.body[1:] or [gast.Pass()]
        if named:
            dropped.add(id(ranges[it.id]))

    for stmts in list(_blocks(fdef.body)):
        for s in stmts:
            if isinstance(s, gast.For):
                _rewrite(s)
    for stmts in _blocks(fdef.body) if dropped else ():
        stmts[:] = [s for s in stmts if id(s) not in dropped]
    return fdef


def _range_of_len(node):
    """``XS`` of ``range(len(XS))``, else None."""
    if (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)
            and node.func.id == "range" and len(node.args) == 1 and not node.keywords):
        inner = node.args[0]
        if (isinstance(inner, gast.Call) and isinstance(inner.func, gast.Name)
                and inner.func.id == "len" and len(inner.args) == 1 and not inner.keywords
                and isinstance(inner.args[0], gast.Name)):
            return inner.args[0].id
    return None


def _only_read(body, seq) -> bool:
    """Is every use of ``seq`` in ``body`` a read of an item (``seq[...]``) or of its length?"""
    parents: dict = {}
    for stmt in body:
        for node in walk(stmt):
            for child in gast.iter_child_nodes(node):
                parents[id(child)] = node
    for stmt in body:
        for node in walk(stmt):
            if not (isinstance(node, gast.Name) and node.id == seq):
                continue
            parent = parents.get(id(node))
            if isinstance(parent, gast.Subscript) and parent.value is node and isinstance(
                    parent.ctx, gast.Load):
                continue
            if isinstance(parent, gast.Call) and isinstance(parent.func, gast.Name) and \
                    parent.func.id == "len" and parent.args == [node]:
                continue
            return False
    return True


def carried_copies(fdef: gast.FunctionDef) -> gast.FunctionDef:
    """``t = e; S...; v = t`` (``t`` bound and read only there, in one block) is
    ``v = e; S...`` when no statement of ``S`` reads or binds ``v`` (or ``t``)."""
    stores, loads = _name_counts(fdef)
    params = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs}

    for stmts in _blocks(fdef.body):
        names: dict = {}        # id(statement) -> the names in it, walked once per block
        for i in range(len(stmts)):
            j = _copy_of(stmts, i, stores, loads, params, names) if i < len(stmts) else None
            if j is not None:
                stmts[i].targets[0].id = stmts[j].targets[0].id
                del stmts[j]
    return fdef


def _copy_of(stmts, i, stores, loads, params, memo):
    """The index of ``v = t`` that copies the temporary ``stmts[i]`` binds, when ``stmts[i]``
    can compute ``v`` directly, else None. ``memo``: the names of the statements after
    ``stmts[i]`` (a statement changes only once it is ``stmts[i]``, never read again)."""
    def names_of(stmt):
        found = memo.get(id(stmt))
        if found is None:
            found = memo[id(stmt)] = {n.id for n in walk(stmt) if isinstance(n, gast.Name)}
        return found

    s = stmts[i]
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(
            s.targets[0], gast.Name)) or _tagged(s):
        return None
    t = s.targets[0].id
    if stores.get(t) != 1 or loads.get(t) != 1 or t in params:
        return None
    for j in range(i + 1, len(stmts)):
        c = stmts[j]
        if t not in names_of(c):
            continue
        if not (isinstance(c, gast.Assign) and len(c.targets) == 1 and isinstance(
                c.targets[0], gast.Name) and isinstance(c.value, gast.Name)
                and c.value.id == t) or _tagged(c):
            return None
        v = c.targets[0].id
        for between in stmts[i + 1:j]:
            if v in names_of(between):
                return None
        return j
    return None


_KEPT = ("srcad_restore", "srcad_keep", "srcad_inplace", "srcad_list_restore")


def _tagged(stmt) -> bool:
    """Does a pass after this one find ``stmt`` by its target (a restore, an in-place
    update)?"""
    return any(getattr(stmt, tag, None) for tag in _KEPT)
