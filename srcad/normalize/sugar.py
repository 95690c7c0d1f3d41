"""Statement sugar lowered first, before comprehensions: ``match`` on values, ``del``,
``global`` reads, local ``import`` statements, ``:=`` and nested unpacking targets.

Input: a FunctionDef as parsed (the user's function or a helper about to be inlined) and its
``Source``. Output: the same function where
* ``match s: case 'a': ... case _: ...`` is ``if``/``elif`` on ``s == 'a'`` (value patterns,
  ``None``/``True``/``False`` by ``is``, ``|`` of those, ``_`` and a capture ``case v:``);
* ``del name`` is dropped when nothing reads ``name`` after it;
* ``global name`` is dropped when the function only reads ``name``;
* ``import m as n`` / ``from m import a`` are dropped and their names bound in
  ``src.namespace.imports`` (resolved when the derivative is built, as Python would);
* ``(n := e)`` inside a statement is ``n = e`` placed before it, and ``n`` in its place;
  one inside a list or set comprehension or a generator expression is left to
  ``comprehensions``, whose loops bind ``n`` in the function's scope (Python's binding), and
  which hands them back here (``lower_walrus``);
* a nested unpacking target, ``(a, b), c = v``, unpacks one level at a time into fresh
  names, left to right as Python assigns (``_unpack, c = v`` then ``a, b = _unpack``), so
  each level is a flat unpacking whose length is checked as Python checks it (a loop's
  nested target is unpacked so by ``statements.assign``).
Anything else of these is refused with its location (a ``match`` on a structure, ``del`` of an
item, a ``global`` written, ``:=`` where it would not be evaluated once, first).
"""
from __future__ import annotations

import importlib

import gast

from ..errors import SrcadSyntaxError
from ..nodes import walk
from ..source import Source
from .program import _loc_error

__all__ = ["lower_sugar", "lower_walrus"]

_SUGAR = (gast.Match, gast.Delete, gast.Global, gast.Import, gast.ImportFrom, gast.NamedExpr)


def _nested(target) -> bool:
    """Is ``target`` an unpacking target with a tuple or list inside?"""
    return isinstance(target, (gast.Tuple, gast.List)) and any(
        isinstance(e, (gast.Tuple, gast.List)) for e in target.elts)


def _name(ident, ctx=None):
    return gast.Name(id=ident, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _position(node) -> tuple:
    return (getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0)


class _Sugar:
    def __init__(self, src: Source, fdef, comprehensions_lowered=False):
        self.src = src
        self.fdef = fdef
        self.lowered = comprehensions_lowered     # a dict comprehension left is refused
        self.count = 0
        self.loads: dict = {}           # name -> positions of its reads
        self.stores: dict = {}
        for n in gast.walk(fdef):
            if isinstance(n, gast.Name):
                table = self.loads if isinstance(n.ctx, gast.Load) else self.stores
                table.setdefault(n.id, []).append(_position(n))

    def error(self, node, message, hint):
        return _loc_error(self.src, node, message, hint, SrcadSyntaxError)

    def block(self, stmts, loops=()) -> list:
        out: list = []
        for stmt in stmts:
            out += self.stmt(stmt, loops)
        return out

    def stmt(self, stmt, loops) -> list:
        if isinstance(stmt, gast.Match):
            return self.match(stmt, loops)
        if isinstance(stmt, gast.Delete):
            return self.delete(stmt, loops)
        if isinstance(stmt, gast.Global):
            for ident in stmt.names:
                if ident in self.stores:
                    raise self.error(stmt, f"the function assigns the global {ident!r}",
                                     "Pass the value in and return the new value instead.")
            return []
        if isinstance(stmt, (gast.Import, gast.ImportFrom)):
            return self.imports(stmt)
        if isinstance(stmt, gast.While):
            self.refuse_walrus(stmt.test, "in a `while` test (evaluated at every iteration)")
            stmt.body = self.block(stmt.body, loops + (stmt,))
            stmt.orelse = self.block(stmt.orelse, loops)
            return [stmt]
        pre: list = []
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _nested(
                stmt.targets[0]):
            inner = self.flat_target(stmt.targets[0])
            value = self.walrus(stmt.value, pre)
            return pre + [gast.copy_location(gast.Assign(
                targets=[stmt.targets[0]], value=value, type_comment=None), stmt)] + \
                self.block(inner, loops)
        if isinstance(stmt, gast.If):
            stmt.test = self.walrus(stmt.test, pre)
        elif isinstance(stmt, gast.For):
            stmt.iter = self.walrus(stmt.iter, pre)
        elif isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            return [stmt]                   # lowered (or refused) in their own turn
        else:
            return pre + [self.walrus(stmt, pre)] if self.has_walrus(stmt) else [stmt]
        if isinstance(stmt, gast.For):
            stmt.body = self.block(stmt.body, loops + (stmt,))
        else:
            stmt.body = self.block(stmt.body, loops)
        stmt.orelse = self.block(stmt.orelse, loops)
        return pre + [stmt]

    # -- nested unpacking -------------------------------------------------------------------------

    def flat_target(self, target) -> list:
        """Replace each tuple or list inside the unpacking ``target`` by a fresh name (in
        place); return the assignments that unpack those names, in Python's order."""
        inner = []
        for i, e in enumerate(target.elts):
            if isinstance(e, (gast.Tuple, gast.List)):
                self.count += 1
                ident = f"_unpack_{self.count}" if self.count > 1 else "_unpack"
                while ident in self.loads or ident in self.stores:
                    self.count += 1
                    ident = f"_unpack_{self.count}"
                target.elts[i] = gast.copy_location(_name(ident, gast.Store()), e)
                inner.append(gast.copy_location(gast.Assign(
                    targets=[e], value=gast.copy_location(_name(ident), e),
                    type_comment=None), e))
        return inner

    # -- match ----------------------------------------------------------------------------------

    def match(self, stmt, loops) -> list:
        pre: list = []
        subject = self.walrus(stmt.subject, pre)
        if not isinstance(subject, (gast.Name, gast.Constant)):
            self.count += 1
            ident = f"_subject_{self.count}" if self.count > 1 else "_subject"
            pre.append(gast.copy_location(gast.Assign(targets=[_name(ident, gast.Store())],
                                                      value=subject, type_comment=None), stmt))
            subject = _name(ident)
        chain: list = []
        tail = chain
        for case in stmt.cases:
            test, binds = self.pattern(case.pattern, subject)
            body = [gast.copy_location(gast.Assign(targets=[_name(b, gast.Store())],
                                                   value=_name(subject.id) if isinstance(
                                                       subject, gast.Name) else subject,
                                                   type_comment=None), case.pattern)
                    for b in binds] + self.block(case.body, loops)
            if case.guard is not None:
                if binds:
                    raise self.error(case.guard, "a `case` guard reading a captured name",
                                     "Test the subject itself in the guard.")
                self.refuse_walrus(case.guard, "in a `case` guard")
                test = case.guard if test is None else gast.BoolOp(op=gast.And(),
                                                                   values=[test, case.guard])
            if test is None:                # `case _:` or `case v:`: always taken
                tail.extend(body)
                break
            branch = gast.copy_location(gast.If(test=test, body=body, orelse=[]), case.pattern)
            tail.append(branch)
            tail = branch.orelse
        for node in chain:
            gast.copy_location(node, stmt) if not getattr(node, "lineno", None) else None
        return pre + (chain or [gast.copy_location(gast.Pass(), stmt)])

    def pattern(self, pat, subject):
        """(test or None for always, names the pattern binds to the subject)."""
        def subj():
            return _name(subject.id) if isinstance(subject, gast.Name) else subject
        if isinstance(pat, gast.MatchValue):
            return gast.copy_location(gast.Compare(left=subj(), ops=[gast.Eq()],
                                                   comparators=[pat.value]), pat), []
        if isinstance(pat, gast.MatchSingleton):
            return gast.copy_location(gast.Compare(left=subj(), ops=[gast.Is()],
                                                   comparators=[gast.Constant(
                                                       value=pat.value, kind=None)]), pat), []
        if isinstance(pat, gast.MatchAs):
            test, binds = (None, []) if pat.pattern is None else self.pattern(pat.pattern,
                                                                              subject)
            return test, binds + ([pat.name] if pat.name else [])
        if isinstance(pat, gast.MatchOr):
            tests = []
            for p in pat.patterns:
                test, binds = self.pattern(p, subject)
                if binds:
                    raise self.error(p, "a capture inside `|` patterns",
                                     "Capture the whole subject: case 'a' | 'b' as v.")
                if test is None:
                    return None, []
                tests.append(test)
            return gast.copy_location(gast.BoolOp(op=gast.Or(), values=tests), pat), []
        raise self.error(pat, "srcad lowers `match` on values only (literals, constants, `|`, "
                         "`_`), not this pattern", "Use if/elif with explicit tests.")

    # -- del, import ----------------------------------------------------------------------------

    def delete(self, stmt, loops) -> list:
        for target in stmt.targets:
            if not isinstance(target, gast.Name):
                raise self.error(target, "srcad does not differentiate `del` of an item or "
                                 "attribute", "Build a new array or container without it.")
            after = [p for p in self.loads.get(target.id, []) if p > _position(stmt)]
            inside = [p for loop in loops for p in self.loads.get(target.id, [])
                      if _position(loop) <= p <= (loop.end_lineno or 0, 1 << 30)]
            if after or inside:
                raise self.error(stmt, f"`del {target.id}` before a later read of "
                                 f"{target.id!r}", "Leave the variable in place (srcad "
                                 "drops `del name` only when nothing reads the name after it).")
        return []

    def imports(self, stmt) -> list:
        if isinstance(stmt, gast.ImportFrom) and stmt.level:
            raise self.error(stmt, "a relative import inside the function",
                             "Import at module level.")
        for alias in stmt.names:
            if alias.name == "*":
                raise self.error(stmt, "`from ... import *` inside the function",
                                 "Import the names you use.")
            try:
                if isinstance(stmt, gast.Import):
                    module = importlib.import_module(alias.name)
                    ident = alias.asname or alias.name.split(".")[0]
                    value = module if alias.asname else importlib.import_module(ident)
                else:
                    module = importlib.import_module(stmt.module)
                    ident = alias.asname or alias.name
                    value = getattr(module, alias.name)
            except (ImportError, AttributeError) as exc:
                raise self.error(stmt, f"the import fails: {exc}", "Fix the import.") from None
            if len(self.stores.get(ident, [])) > 0:
                raise self.error(stmt, f"{ident!r} is imported and assigned in the function",
                                 "Give the imported module or function a name of its own.")
            self.src.namespace.imports[ident] = value
        return []

    # -- := -------------------------------------------------------------------------------------

    def has_walrus(self, node) -> bool:
        return any(isinstance(n, gast.NamedExpr) for n in gast.walk(node))

    def refuse_walrus(self, node, where, hint="Assign in a separate statement."):
        for n in gast.walk(node):
            if isinstance(n, gast.NamedExpr):
                raise self.error(n, f"`:=` {where}", hint)

    def fresh(self, base) -> str:
        ident, i = f"{base}_at", 2
        while ident in self.loads or ident in self.stores:
            ident, i = f"{base}_at_{i}", i + 1
        self.stores.setdefault(ident, [])
        return ident

    def walrus(self, node, pre):
        """``node`` with each ``(n := e)`` replaced by ``n``, ``n = e`` appended to ``pre``
        (and ``n_at = n`` read in its place when another ``:=`` binds ``n`` later in the
        same statement, as in ``[(y := a), (y := b)]``, where the first item is ``a``)."""
        if not self.has_walrus(node):
            return node
        sugar = self
        bindings: dict = {}         # target -> how many := of the statement bind it
        for n in gast.walk(node):
            if isinstance(n, gast.NamedExpr):
                bindings[n.target.id] = bindings.get(n.target.id, 0) + 1

        class Hoist(gast.NodeTransformer):
            def visit_NamedExpr(self, n):
                value = self.visit(n.value)
                target = n.target.id
                early = [p for p in sugar.loads.get(target, []) if _position(node) <= p <
                         _position(n) and not _within(p, n)]
                if early:
                    raise sugar.error(n, f"{target!r} is read before `{target} :=` in the "
                                      "same statement", "Assign in a separate statement.")
                pre.append(gast.copy_location(gast.Assign(targets=[_name(target,
                                                                         gast.Store())],
                                                          value=value, type_comment=None), n))
                bindings[target] -= 1
                if bindings[target]:        # bound again after: this value by a name of its own
                    now = sugar.fresh(target)
                    pre.append(gast.copy_location(gast.Assign(
                        targets=[_name(now, gast.Store())], value=_name(target),
                        type_comment=None), n))
                    return gast.copy_location(_name(now), n)
                return gast.copy_location(_name(target), n)

            def visit_BoolOp(self, n):
                n.values[0] = self.visit(n.values[0])
                for v in n.values[1:]:
                    sugar.refuse_walrus(v, "in an operand of `and`/`or` (evaluated only "
                                        "sometimes)")
                return n

            def visit_IfExp(self, n):
                n.test = self.visit(n.test)
                sugar.refuse_walrus(n.body, "in a branch of `if`/`else` (evaluated only "
                                    "sometimes)")
                sugar.refuse_walrus(n.orelse, "in a branch of `if`/`else` (evaluated only "
                                    "sometimes)")
                return n

            def visit_Lambda(self, n):
                sugar.refuse_walrus(n, "inside a lambda")
                return n

            def visit_DictComp(self, n):    # one over constants is unrolled first
                if sugar.lowered:           # (comprehensions.py); any other is refused
                    sugar.refuse_walrus(n, "inside a dict comprehension srcad does not unroll "
                                        "(one loop over a tuple or list of constants or a "
                                        "range of int literals, no condition, `:=` only in "
                                        "the value)",
                                        "Write it without `:=`, d = {k: f(k) for k in p}, "
                                        "and the name in a statement of its own, "
                                        "y = d[last_key]; or loop over constants, "
                                        "{k: (y := f(k)) for k in ('a', 'b')}.")
                return n

            def loops(self, n):          # lowered to loops first (comprehensions.py)
                return n

            visit_ListComp = visit_SetComp = visit_GeneratorExp = loops
        return Hoist().visit(node)


def _within(position, node) -> bool:
    start = _position(node)
    end = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
    return start <= position <= end


def lower_sugar(src: Source, fdef) -> None:
    """Lower ``fdef``'s statement sugar in place (see the module docstring)."""
    if any(isinstance(n, _SUGAR) or isinstance(n, gast.Assign) and len(n.targets) == 1 and
           _nested(n.targets[0]) for n in walk(fdef)):
        fdef.body = _Sugar(src, fdef).block(fdef.body) or [
            gast.copy_location(gast.Pass(), fdef)]


def lower_walrus(src: Source, fdef) -> None:
    """``:=`` of the loops a comprehension became (``comprehensions``), lowered as any."""
    if any(isinstance(n, gast.NamedExpr) for n in walk(fdef)):
        fdef.body = _Sugar(src, fdef, comprehensions_lowered=True).block(fdef.body)
