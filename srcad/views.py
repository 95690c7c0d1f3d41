"""Writes through views made explicit: a name that is a view of another array (``v =
base[1:3]``, ``v = base``, ``v = base.T``, a row ``row = B[k]`` of a loop over ``B``...) becomes
its own copy, each write into it is followed by the write-back into its base, and each write
into the base by the view taken again, so the program has value semantics the transformers
differentiate.

Input: a normalized ``Program`` (ANF, after renaming) and the shapes ``analysis.shapes``
knows of it. Output: the same program, rewritten only for the groups of names (a root array
and the views taken of it in one block) whose relation is known exactly when the derivative
is built: the root a new array no other name shares, every view of it bound once in that
block and read or written only by that block's own statements after it, its index names not
rebound while it is used. Invariant: every value the rewritten program computes equals the
original's (the copies hold what the views held, the write-backs put into the base what the
write through the view put there); anything else is left as it was, for the sharing
analysis (``analysis.aliased_writes``) to refuse, located.
"""
from __future__ import annotations

import copy

import gast
import numpy as np

from . import runtime
from .analysis import literal, rank, walk_statements
from .nodes import walk
from .normalize.rename import _rename_redefinitions
from .sharing import shares

__all__ = ["explicit_views"]

# NumPy functions whose result is always a new ndarray (a root may be one)
_NEW_ARRAYS: frozenset = frozenset({
    np.copy, np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like, np.empty_like,
    np.full_like, np.array, np.arange, np.linspace, np.eye, np.identity, np.stack,
    np.concatenate, np.vstack, np.hstack})
# ... and of them, those whose result is C-contiguous (a reshape of it is a view)
_C_ORDER: frozenset = frozenset({np.zeros, np.ones, np.empty, np.full, np.arange, np.linspace, np.eye,
                      np.identity})
# views whose items are the base's in C order (written back by a reshape to the base's shape)
_ORDERED: frozenset = frozenset({np.atleast_1d, np.atleast_2d, np.atleast_3d, np.expand_dims,
                      np.squeeze})
_RESHAPES = frozenset({np.reshape, np.ravel})      # views of a C-contiguous base only
# lists of views of their first argument, and what joins them back
_SPLITS = {np.split: np.concatenate, np.array_split: np.concatenate, np.hsplit: np.hstack,
           np.vsplit: np.vstack, np.dsplit: np.dstack}


class _View:
    """A name of a group: the root (``parent`` None) or a view of its parent."""

    def __init__(self, name, parent, stmt, at):
        self.name = name            # the name it is bound to now (``x += v`` renames)
        self.first = name
        self.names = {name}         # every name it was bound to
        self.parent = parent
        self.stmt = stmt            # the view binding (None for the root)
        self.at = at                # its index in the block
        self.children: list = []
        self.check = 0              # the rank its parent must have (unknown when built)
        self.parts = False          # a list of views (np.split), its items its children
        self.root = self
        self.bound: set = set()     # (a root) the statements binding its views, pruned or not

    def subtree(self):
        yield self
        for c in self.children:
            yield from c.subtree()


def explicit_views(program, known, generic=False, refused=None) -> bool:
    """Rewrite ``program.node`` as the module docstring says (``known()``: the shapes;
    ``generic``: a build for no shapes in particular; ``refused(shapes)``: would the sharing
    analysis refuse the program as it is? if not, it is left alone); True when it changed."""
    fdef = program.node
    if not any(_written(s) for s in walk_statements(fdef.body)):
        return False                    # (nothing written in place: no shapes computed)
    shapes = known()
    if refused is not None and not refused(shapes):
        return False
    facts = _Facts(program, fdef, shapes)
    facts.generic = generic
    changed = False
    for body in _blocks(fdef.body):
        changed |= _Block(facts, body).rewrite()
    if changed:
        _rename_redefinitions(fdef, program.namer)     # a view taken again binds a new name
    return changed


def _blocks(body):
    yield body
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner:
                yield from _blocks(inner)


class _Facts:
    """What the whole function says of its names."""

    generic = False

    def __init__(self, program, fdef, known):
        self.program = program
        self.known = known
        a = fdef.args
        self.params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
        self.stmts = list(walk_statements(fdef.body))
        self.bindings: dict = {}
        for stmt in self.stmts:
            for n in _stored(stmt):
                self.bindings.setdefault(n, []).append(stmt)
        ranges = {s.targets[0].id for s in self.stmts if _assign_to_name(s) and isinstance(
            s.value, gast.Call) and getattr(s.value, "srcad_callee", None) is range}
        # ints: a loop's variable over a range, a name bound once to an int literal
        self.ints = {s.target.id for s in self.stmts if isinstance(s, gast.For)
                     and isinstance(s.iter, gast.Name) and s.iter.id in ranges
                     and len(self.bindings.get(s.target.id, ())) == 1}
        self.ints |= {n for n, bs in self.bindings.items() if len(bs) == 1 and _assign_to_name(
            bs[0]) and isinstance(bs[0].value, gast.Constant) and type(bs[0].value.value) is int}

    def made(self, name):
        """The callee of the one statement binding ``name`` to a new array, else None."""
        bound = self.bindings.get(name, [])
        if name in self.params or len(bound) != 1 or not _assign_to_name(bound[0]):
            return None
        value = bound[0].value
        if getattr(bound[0], "srcad_inplace", False) or shares(value, "np"):
            return None
        callee = getattr(value, "srcad_callee", None) if isinstance(value, gast.Call) else None
        if callee in _NEW_ARRAYS or (callee is not None and rank(self.known.get(name))):
            return callee
        if rank(self.known.get(name)):
            return value        # (arithmetic of a known array)
        return None

    def with_axes(self, name, depth=0) -> bool:
        """Is ``name`` certainly an array of one dimension or more (a known shape, or what
        ``np.zeros(4)``, ``np.arange``, ``np.stack``... make, or a copy of such an array)?"""
        if rank(self.known.get(name)):
            return True
        bound = self.bindings.get(name, [])
        value = bound[0].value if len(bound) == 1 and _assign_to_name(bound[0]) else None
        if not isinstance(value, gast.Call) or not value.args or depth > 20:
            return False
        callee = getattr(value, "srcad_callee", None)
        shape = value.args[0]
        if callee in (np.arange, np.linspace, np.eye, np.identity, np.stack, np.concatenate,
                      np.vstack, np.hstack, np.ravel, np.atleast_1d, np.atleast_2d,
                      np.atleast_3d):
            return True
        if callee is np.reshape:
            target = value.args[1] if len(value.args) == 2 else None
            return isinstance(target, gast.Constant) and type(target.value) is int or isinstance(
                target, gast.Tuple) and len(target.elts) > 0
        if callee in (np.zeros, np.ones, np.empty, np.full):
            return isinstance(shape, gast.Constant) and type(shape.value) is int or isinstance(
                shape, gast.Tuple) and len(shape.elts) > 0 or isinstance(
                shape, gast.Name) and shape.id in self.ints
        if callee in (np.copy, np.array, np.zeros_like, np.ones_like, np.empty_like,
                      np.full_like):
            return isinstance(shape, gast.List) or isinstance(shape, gast.Name) and \
                self.with_axes(shape.id, depth + 1)
        return False

    def contiguous(self, name) -> bool:
        bound = self.bindings.get(name, [])
        value = bound[0].value if len(bound) == 1 else None
        callee = getattr(value, "srcad_callee", None)
        return isinstance(value, gast.Call) and not value.keywords and (
            callee in _C_ORDER or getattr(value, "srcad_c_order", False))


class _Block:
    """One block's groups, checked and rewritten."""

    def __init__(self, facts, body):
        self.facts = facts
        self.body = body

    # -- finding the groups --

    def groups(self):
        """The roots of the groups of views bound in this block."""
        node_of: dict = {}      # a name of a group -> its _View
        roots = []
        self.stored = {s.targets[0].value.id for s in self.body if isinstance(s, gast.Assign)
                       and isinstance(s.targets[0], gast.Subscript)
                       and isinstance(s.targets[0].value, gast.Name)}
        for at, stmt in enumerate(self.body):
            if getattr(stmt, "srcad_inplace", False) and stmt.value.left.id in node_of:
                node = node_of[stmt.value.left.id]      # x += v: the same array, renamed
                node.name = stmt.targets[0].id
                node.names.add(node.name)
                node_of[node.name] = node
                continue
            view = self.view_of(stmt)
            if view is None:
                continue
            name, base, _ = view
            if name in node_of:
                continue
            parent = node_of.get(base)
            if parent is None:
                if self.facts.made(base) is None:
                    continue
                parent = node_of[base] = _View(base, None, None, -1)
                roots.append(parent)
            child = _View(name, parent, stmt, at)
            child.root = parent.root if parent.parent is not None else parent
            child.root.bound.add(id(stmt))
            child.parts = view[2] == "parts"
            if parent.parts and not (isinstance(stmt.value, gast.Subscript) and isinstance(
                    stmt.value.slice, gast.Constant) and type(stmt.value.slice.value) is int):
                continue                        # (a part by another index than an int)
            parent.children.append(child)
            node_of[name] = child
        return roots

    def view_of(self, stmt):
        """``(name, base, kind)`` of a view binding ``name = <view of base>``, else None."""
        if not _assign_to_name(stmt) or getattr(stmt, "srcad_inplace", False):
            return None
        name, value = stmt.targets[0].id, stmt.value
        if isinstance(value, gast.Name):
            return (name, value.id, "alias") if value.id != name else None
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
            if self.element(value) or self.maybe_element(value) and name not in self.stored:
                return None
            return name, value.value.id, "index"
        if isinstance(value, gast.Call) and value.args and isinstance(value.args[0], gast.Name):
            callee = getattr(value, "srcad_callee", None)
            if callee in (np.asarray, np.transpose, np.swapaxes) or callee in _ORDERED or \
                    callee in _RESHAPES:
                return name, value.args[0].id, "call"
            if callee in _SPLITS:
                return name, value.args[0].id, "parts"
        return None

    def maybe_element(self, value) -> bool:
        """Is ``x[i, j]`` an element or a view as ``x``'s rank, unknown when built, decides?
        Taken as an element (as ``analysis.aliased_writes`` takes it; a derivative for the
        shapes decides), unless the code writes into it by index, which an element would
        refuse in Python too: then a view, checked when it runs (``runtime.check_view``)."""
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        bound = self.facts.bindings.get(value.value.id, [])
        if not self.facts.generic or len(bound) == 1 and getattr(
                getattr(bound[0], "value", None), "srcad_callee", None) in _SPLITS:
            return False        # (a build for shapes takes it as a view; a split's part is one)
        return rank(self.facts.known.get(value.value.id)) is None and not any(
            isinstance(i, gast.Slice) or isinstance(i, gast.Constant) and (
                i.value is None or i.value is Ellipsis) for i in items)

    def element(self, value) -> bool:
        """Is ``x[i, j]`` certainly an element of ``x`` (as many int indices as axes)?"""
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        r = rank(self.facts.known.get(value.value.id))
        return r is not None and len(items) == r and all(
            isinstance(i, gast.Constant) and type(i.value) is int or isinstance(i, gast.Name)
            and self.facts.known.get(i.id) == () for i in items)

    # -- checking a group --

    def prune(self, root):
        """Drop the views that need nothing: never written (nor their own views) and never
        used after a write into the group; they stay views, which the sharing analysis
        checks as before."""
        names = {n for v in root.subtree() for n in v.names}
        writes = [at for at, s in enumerate(self.body) if _written(s) & names]

        def needed(v):
            mine = {n for x in v.subtree() for n in x.names}
            if any(at > v.at and _written(self.body[at]) & mine for at in writes):
                return True
            return any(w > v.at and any(_mentions(s) & mine for s in self.body[w + 1:])
                       for w in writes)
        for node in list(root.subtree()):
            if not node.parts:          # (a split keeps every part: they join back)
                node.children = [c for c in node.children if needed(c)]
        return root

    def exact(self, root) -> bool:
        """Is the relation of ``root``'s group known exactly (the module docstring)?"""
        views = [n for n in root.subtree() if n.parent is not None]
        if not views:
            return False
        roots = self.root_names(root)
        if roots is None:
            return False
        if not self.facts.with_axes(root.name):
            # perhaps 0-d (np.copy of a number), whose write-back x[...] = v srcad's adjoint
            # cannot take: refused in a build for shapes, checked at run time in a generic one
            if not self.facts.generic:
                return False
            root.check = 1
        root.names = roots
        first = min(v.at for v in views)
        mine = {n for v in views for n in v.names}
        group = mine | roots
        last = max(at for at, stmt in enumerate(self.body) if _mentions(stmt) & mine)
        for v in views:
            if not self.certain(v):
                return False
            for n in v.names:                       # bound and used only here, after v
                for stmt in self.facts.bindings.get(n, ()):
                    if not any(s is stmt for s in self.body[v.at:last + 1]):
                        return False
                    if stmt is not v.stmt and not getattr(stmt, "srcad_inplace", False):
                        return False                # (bound again to another array)
            if any(_mentions(s) & v.names for s in self.body[:v.at]):
                return False
            if any(_own(s) & v.names and not any(s is t for t in self.body)
                   for s in self.facts.stmts):
                return False
            # the names its index or arguments read are not rebound while it is used
            reads = _loads(v.stmt.value) - v.parent.names
            if any(_deep_stored(s) & reads for s in self.body[v.at + 1:last + 1]):
                return False
        for stmt in self.body[first:last + 1]:
            if isinstance(stmt, (gast.If, gast.For, gast.While, gast.Try)) and \
                    _mentions(stmt) & group:
                return False
        return self.unshared(root, group, first)

    def unshared(self, root, group, first) -> bool:
        """Does no other name share the group's memory where it matters? Another name made
        from the root's array (``t = B``, ``lst.append(B)``) may only read it (it reads the
        same memory in the rewritten program); one made from a view may not be used after the
        group's first write (the view is a copy there)."""
        candidates = root.bound
        written = [at for at, s in enumerate(self.body) if at >= first and _written(s) & (
            {n for v in root.subtree() for n in v.names} | group)]
        first_write = min(written) if written else len(self.body)
        for start, from_views in ((group - {n for n in root.names}, True), (group, False)):
            others: set = set()
            todo = set(start)
            while todo:
                more = set()
                for stmt in self.facts.stmts:
                    if id(stmt) in candidates or _assign_to_name(stmt) and isinstance(
                            stmt.value, gast.Subscript) and (self.element(stmt.value) or
                                                             self.maybe_element(stmt.value)):
                        continue            # (an element, or taken as one by a generic build)
                    if isinstance(stmt, gast.Assign):
                        if getattr(stmt, "srcad_inplace", False) and \
                                stmt.value.left.id in group:
                            continue
                        target = stmt.targets[0]
                        if isinstance(target, gast.Subscript) and isinstance(
                                target.value, gast.Name) and target.value.id not in group and (
                                self.facts.made(target.value.id) is not None):
                            continue        # (x[i] = v into an array: a copy of v's items)
                        if shares(stmt.value, "np") & todo:
                            more |= _deep_stored(target) | (
                                {target.value.id} if isinstance(target, gast.Subscript) and
                                isinstance(target.value, gast.Name) else set())
                    elif isinstance(stmt, gast.Expr) and not getattr(
                            stmt, "srcad_primal_only", False) and _loads(stmt) & todo:
                        more |= _loads(stmt.value.func)       # lst.append(v)
                more -= others | group
                others |= more
                todo = more
            if any(_written(s) & others for s in self.facts.stmts):
                return False
            if from_views and any(_mentions(s) & others for s in self.body[first_write + 1:]):
                return False
            if from_views and any(_own(s) & others and not any(s is t for t in self.body)
                                  for s in self.facts.stmts):
                return False
        return True

    def root_names(self, root):
        """The names the root's array is bound to (``x += v`` renames it at the top level),
        None when another binding makes it other than a new array no one else shares."""
        names = set(root.names)
        todo = [root.name]
        while todo:
            n = todo.pop()
            for stmt in self.facts.bindings.get(n, ()):
                if getattr(stmt, "srcad_inplace", False):
                    left = stmt.value.left.id
                    if left not in names:
                        names.add(left)
                        todo.append(left)
                elif not self.facts.made(n):
                    return None
        for stmt in self.facts.stmts:               # and what x += v made of them
            if getattr(stmt, "srcad_inplace", False) and stmt.value.left.id in names:
                names.add(stmt.targets[0].id)
        if len([n for n in names if not all(getattr(s, "srcad_inplace", False) for s in
                                            self.facts.bindings.get(n, ()))]) != 1:
            return None
        return names

    def certain(self, v) -> bool:
        """Is ``v`` certainly a view of its parent, which is certainly an array, whose items
        it writes back exactly?"""
        value = v.stmt.value
        parent = v.parent
        known = self.facts.known
        if isinstance(value, gast.Name):
            return True
        if parent.parts:
            return True                             # (checked with the split)
        if v.parts:
            return self.split(v)
        if isinstance(value, gast.Subscript):
            items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
            ints = 0
            for i in items:
                if isinstance(i, gast.Slice):
                    if not all(p is None or literal(p) is not None or isinstance(
                            p, gast.Constant) and p.value is None or isinstance(
                            p, gast.Name) and p.id in self.facts.ints
                            for p in (i.lower, i.upper, i.step)):
                        return False
                elif isinstance(i, gast.Constant) and (i.value is None or i.value is Ellipsis):
                    pass
                elif literal(i) is not None or isinstance(i, gast.Name) and \
                        i.id in self.facts.ints:
                    ints += 1
                else:
                    return False
            if ints == len(items):
                # an element, or a view: which, only the parent's rank says (the generic
                # build checks it when it runs)
                r = rank(known.get(parent.name))
                if r is None:
                    v.check = ints + 1
                return r is None or r > ints
            return True
        callee = value.srcad_callee
        if callee in _RESHAPES:
            return parent.parent is None and self.facts.contiguous(parent.name) and \
                parent.name in self.facts.bindings and not any(
                    getattr(s, "srcad_inplace", False) for s in self.facts.bindings.get(
                        parent.name, ())) and len(value.args) <= 2 and not value.keywords
        if callee is np.transpose:
            return len(value.args) == 1 and not value.keywords or len(value.args) == 2 and \
                _int_tuple(value.args[1]) is not None
        if callee is np.swapaxes:
            return len(value.args) == 3 and all(isinstance(a, gast.Constant) and type(
                a.value) is int for a in value.args[1:])
        if callee is np.asarray:
            return len(value.args) == 1 and not value.keywords
        return callee in _ORDERED

    def split(self, v) -> bool:
        """Is ``v = np.split(base, sections[, axis])`` unpacked into a name per part (which
        ``_srcad.check_unpack(v, n)`` right after it checks)?"""
        value = v.stmt.value
        after = self.body[v.at + 1] if v.at + 1 < len(self.body) else None
        count = after.value.args[1].value if isinstance(after, gast.Expr) and getattr(
            after, "srcad_primal_only", False) and isinstance(after.value, gast.Call) and \
            isinstance(after.value.func, gast.Attribute) and \
            after.value.func.attr == "check_unpack" and isinstance(
            after.value.args[0], gast.Name) and after.value.args[0].id == v.name else None
        joined = _SPLITS[value.srcad_callee]
        axis = [k for k in value.keywords if k.arg == "axis"]
        if len(value.args) != 2 or len(axis) != len(value.keywords) or (
                joined is not np.concatenate and axis) or axis and literal(axis[0].value) is None:
            return False
        if count is None or sorted(c.stmt.value.slice.value for c in v.children) != list(
                range(count)):
            return False
        uses = [s for s in self.facts.stmts if _own(s) & v.names]
        return len(uses) == count + 2          # the split, its check, a name per part

    # -- rewriting --

    def rewrite(self) -> bool:
        groups = [r for r in self.groups() if self.written(r) and self.exact(self.prune(r))]
        if not groups:
            return False
        self.np = self.facts.program.ref(np, "np")
        node_of = {}
        for root in groups:
            for n in root.subtree():
                node_of[n.stmt and id(n.stmt)] = n
        names = {}          # a name of a group -> its _View, as the statements bind them
        for root in groups:
            for n in root.subtree():
                n.name = n.first
            names[root.name] = root
            for n in root.names:
                names[n] = root
        out: list = []
        for at, stmt in enumerate(self.body):
            self.at = at
            node = node_of.get(id(stmt))
            if node is not None and node.parent is not None:
                node.name = stmt.targets[0].id
                names[node.name] = node
                out += self.taken(node, stmt)
                continue
            out.append(stmt)
            if getattr(stmt, "srcad_inplace", False) and stmt.value.left.id in names:
                node = names[stmt.value.left.id]
                node.name = stmt.targets[0].id
                names[node.name] = node
                out += self.propagate(node, None, stmt)
            elif isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript) \
                    and stmt.targets[0].value.id in names:
                out += self.propagate(names[stmt.targets[0].value.id], None, stmt)
        self.body[:] = out
        return True

    def written(self, root) -> bool:
        """Is an array of the group written after its first view is bound?"""
        views = [n for n in root.subtree() if n.parent is not None]
        first = min(v.at for v in views)
        names = {n for v in root.subtree() for n in v.names}
        for stmt in self.body[first:]:
            if getattr(stmt, "srcad_inplace", False) and stmt.value.left.id in names or (
                    isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript)
                    and isinstance(stmt.targets[0].value, gast.Name)
                    and stmt.targets[0].value.id in names):
                return True
        return False

    def used_later(self, node) -> bool:
        names = {n for v in node.subtree() for n in v.names}
        return any(_mentions(s) & names for s in self.body[self.at + 1:])

    def taken(self, node, stmt):
        """``v = <view>`` as ``_v = <view>; v = np.copy(_v)`` (``v = np.copy(x)`` for an
        alias), the view's value taken from its parent's current name."""
        value = copy.deepcopy(node.stmt.value)
        _rebase(value, node.parent.name)
        out = []
        ndim = node.check
        if node.parent.check and node.parent.parent is None:   # the root's rank, once
            ndim = max(ndim, node.parent.check)
            node.parent.check = 0
        if ndim:
            out.append(self.check(node.parent, ndim, stmt))
        if node.parts:                      # a split again: a list of views, read at once
            return out + [self.assign(node.name, value, stmt)]
        if not isinstance(value, gast.Name) and not (
                getattr(value, "srcad_callee", None) is np.asarray):
            tmp = self.fresh("_" + node.name.lstrip("_") + "_view")
            out.append(self.assign(tmp, value, stmt))
            value = _load(tmp)
        elif isinstance(value, gast.Call):
            value = value.args[0]
        out.append(self.assign(node.name, self.call("copy", [value]), stmt))
        return out

    def propagate(self, node, child, stmt):
        """After a write into ``node``'s array: its other views taken again where they are
        used later, and the write put back into its parent (recursively)."""
        out = []
        if node.parts:
            if child is None or child is node.parent:    # the base written: every part again
                for c in node.children:
                    out += self.taken(c, stmt)
                    out += self.propagate(c, node, stmt) if c.children else []
            return out
        for c in node.children:
            if c is not child and self.used_later(c):
                out += self.taken(c, stmt)
                out += self.propagate(c, node, stmt) if c.children else []
        if node.parent is not None and child is not node.parent:
            out += self.write_back(node, stmt)
            up = node.parent.parent if node.parent.parts else node.parent
            out += self.propagate(up, node.parent if node.parent.parts else node, stmt)
        return out

    def write_back(self, node, stmt):
        """The statements putting ``node``'s value into its parent's array."""
        value = node.stmt.value
        parent = node.parent.name
        whole = gast.Constant(value=Ellipsis, kind=None)
        if node.parent.parts:               # the parts joined: the whole base
            split = node.parent
            base = split.parent.name
            parts = sorted(split.children, key=lambda c: c.stmt.value.slice.value)
            listed = self.fresh("_" + base.lstrip("_") + "_parts")
            joined = self.fresh("_" + base.lstrip("_") + "_joined")
            how = _SPLITS[split.stmt.value.srcad_callee]
            call = self.call(how.__name__, [_load(listed)])
            call.keywords = [copy.deepcopy(k) for k in split.stmt.value.keywords]
            return [self.assign(listed, gast.List(elts=[_load(c.name) for c in parts],
                                                  ctx=gast.Load()), stmt),
                    self.assign(joined, call, stmt), self.store(base, whole, joined, stmt)]
        if isinstance(value, gast.Subscript):
            return [self.store(parent, copy.deepcopy(value.slice), node.name, stmt)]
        if isinstance(value, gast.Name) or value.srcad_callee is np.asarray:
            return [self.store(parent, whole, node.name, stmt)]
        callee = value.srcad_callee
        out = []
        back = self.fresh("_" + node.name.lstrip("_") + "_back")
        if callee is np.transpose:
            args = [_load(node.name)]
            if len(value.args) == 2:
                axes = _int_tuple(value.args[1])
                inverse = tuple(int(i) for i in np.argsort(axes))
                args.append(gast.Tuple(elts=[gast.Constant(value=i, kind=None)
                                             for i in inverse], ctx=gast.Load()))
            out.append(self.assign(back, self.call("transpose", args), stmt))
        elif callee is np.swapaxes:
            out.append(self.assign(back, self.call("swapaxes", [_load(node.name)] + [
                copy.deepcopy(a) for a in value.args[1:]]), stmt))
        else:
            shape = self.fresh("_" + parent.lstrip("_") + "_shape")
            out.append(self.assign(shape, self.call("shape", [_load(parent)]), stmt))
            out.append(self.assign(back, self.call("reshape", [_load(node.name),
                                                               _load(shape)]), stmt))
        out.append(self.store(parent, whole, back, stmt))
        return out

    # -- statements --

    def check(self, base, ndim, stmt):
        """``_srcad.check_view(base, ndim)``: ``base`` has the ``ndim`` axes or more that the
        rewrite takes (``base[k]`` a view, not an element; a root not 0-d), which a generic
        build does not know (primal only)."""
        func = gast.Attribute(value=_load(self.facts.program.ref(runtime, "_srcad")),
                              attr="check_view", ctx=gast.Load())
        call = gast.Call(func=func, args=[_load(base.name),
                                          gast.Constant(value=ndim, kind=None)],
                         keywords=[])
        call.srcad_callee = runtime.check_view
        expr = _located(gast.Expr(value=call), stmt)
        expr.srcad_primal_only = True
        return expr

    def fresh(self, name):
        return self.facts.program.namer.fresh(name)

    def call(self, attr, args):
        call = gast.Call(func=gast.Attribute(value=_load(self.np), attr=attr, ctx=gast.Load()),
                         args=args, keywords=[])
        call.srcad_callee = getattr(np, attr)
        return call

    def assign(self, name, value, stmt):
        return _located(gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None,
                                                       type_comment=None)],
                                    value=value, type_comment=None), stmt)

    def store(self, base, index, name, stmt):
        target = gast.Subscript(value=_load(base), slice=index, ctx=gast.Store())
        return _located(gast.Assign(targets=[target], value=_load(name), type_comment=None),
                        stmt)


def _written(stmt) -> set:
    """The names whose array ``stmt`` writes into (``x[i] = v``, ``x += v``, ``append``)."""
    if isinstance(stmt, gast.Assign):
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            return {target.value.id}
        if getattr(stmt, "srcad_inplace", False):
            return {stmt.value.left.id}
        popped = getattr(stmt.value, "srcad_pop", None)
        return {popped} if popped else set()
    if isinstance(stmt, gast.Expr) and not getattr(stmt, "srcad_primal_only", False) and \
            isinstance(stmt.value, gast.Call) and isinstance(stmt.value.func, gast.Attribute) \
            and isinstance(stmt.value.func.value, gast.Name):
        return {stmt.value.func.value.id}
    return set()


def _located(new, stmt):
    gast.copy_location(new, stmt)
    for n in gast.walk(new):
        if getattr(n, "lineno", None) is None and hasattr(stmt, "lineno"):
            gast.copy_location(n, stmt)
    if hasattr(stmt, "srcad_source"):
        new.srcad_source = stmt.srcad_source
    return new


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _rebase(value, name):
    """``value`` (a view of its parent) reading the parent under its current name."""
    if isinstance(value, gast.Subscript):
        value.value = _load(name)
    elif isinstance(value, gast.Call):
        value.args[0] = _load(name)
    else:
        value.id = name


def _assign_to_name(stmt) -> bool:
    return isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(
        stmt.targets[0], gast.Name)


def _stored(stmt) -> set:
    """The names ``stmt`` itself binds (a loop: its variable)."""
    if isinstance(stmt, gast.For):
        return {n.id for n in walk(stmt.target) if isinstance(n, gast.Name)}
    if isinstance(stmt, gast.Assign):
        return {n.id for t in stmt.targets for n in walk(t) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Store)}
    return set()


def _deep_stored(stmt) -> set:
    return {n.id for n in walk(stmt) if isinstance(n, gast.Name) and isinstance(
        n.ctx, gast.Store)}


def _loads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(
        n.ctx, gast.Load)}


def _mentions(stmt) -> set:
    return {n.id for n in walk(stmt) if isinstance(n, gast.Name)}


def _own(stmt) -> set:
    """The names a statement itself mentions (a loop or branch: its header only)."""
    if isinstance(stmt, gast.For):
        return _mentions(stmt.target) | _mentions(stmt.iter)
    if isinstance(stmt, (gast.If, gast.While)):
        return _mentions(stmt.test)
    if isinstance(stmt, gast.Try):
        return set()
    return _mentions(stmt)


def _int_tuple(node):
    if isinstance(node, gast.Tuple) and all(isinstance(e, gast.Constant) and type(
            e.value) is int for e in node.elts):
        return tuple(e.value for e in node.elts)
    return None

