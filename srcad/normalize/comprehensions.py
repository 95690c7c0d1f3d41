"""Comprehensions lowered to the loops they stand for, before the fence.

Input: a FunctionDef as parsed. Output: the same function where each list comprehension, and
each generator expression (or list comprehension) passed to ``min`` or ``max`` (the first
least or greatest item, a ``ValueError`` for none, as Python's), and
each generator expression passed to ``sum``, ``list``, ``tuple`` (computed as the list, which
reads as the tuple does; one returned, or read as an operand or by ``isinstance``, stays
``tuple(list)``, which the transformers refuse rather than change its type), ``all`` or ``any`` (a flag, set by the first item deciding it; the
items after it are not evaluated), is computed by statements placed before the statement
holding it (a set comprehension is ``set`` of that list):

    ys = [f(x) for x in xs if x > 0]      ->   ys = []
                                               for x_1 in xs:
                                                   if x_1 > 0:
                                                       ys.append(f(x_1))
    s = sum(w[i] * v[i] for i in range(n)) ->  s = 0
                                               for i_1 in range(n):
                                                   s = s + w[i_1] * v[i_1]

Nested generators are nested loops; the loop variables get names of their own (a
comprehension's variables do not leak into the function), but the name ``(y := e)`` binds in
a condition or item is the function's, as in Python (``y = e`` inside the loop, then ``y``:
``sugar.lower_walrus``). A comprehension in a ``while``
test (evaluated again at each iteration) and a generator expression elsewhere are left to the
fence, which refuses them with their location. ``max(xs)``/``min(xs)`` (``key=``,
``default=``) of a list display, or of a name the function binds only to lists it makes, is
lowered as ``max(v for v in xs)`` is (an array or a list argument keeps its rule), and
``sorted(xs)`` (``key=``, ``reverse=`` a literal) of one as the loops placing each item at
its rank (stable, as Python's sort; the ranks are ints, the items only read). A dict
comprehension of one loop over constants (``{k: f(k) for k in ('a', 'b')}``, a ``range`` of
int literals, the ``enumerate`` of either) is the dict literal ``{'a': f('a'), 'b':
f('b')}``, whose keys are static (a ``(y := e)`` in its value then binds item by item); any
other is left to ``containers``, which unrolls one over containers.
"""
from __future__ import annotations

import builtins
import copy

import gast

from ..naming import names_in
from ..nodes import walk
from ..parsing import parse_gast
from ..source import Source
from .sugar import lower_walrus

__all__ = ["lower_comprehensions"]

_COLLECT = {"sum", "list", "tuple"}
_TESTS = ("all", "any")
_EXTREMES = {"min": gast.Lt, "max": gast.Gt}    # the first least (greatest) item, as Python


def _name(ident, ctx=None):
    return gast.Name(id=ident, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


class _Lowering:
    def __init__(self, src: Source, fdef):
        self.src = src
        self.taken = names_in(fdef)
        self.lists = self.lists_of(fdef)
        self.outputs = {n.id for r in gast.walk(fdef) if isinstance(r, gast.Return)
                        for n in ([r.value] + getattr(r.value, "elts", []))
                        if isinstance(n, gast.Name)}      # returned, or items of the result
        # names a list would not stand for as a tuple: operands (t + (x,), t == ()), and
        # what isinstance and type look at
        self.outputs |= {n.id for node in gast.walk(fdef) for n in (
            [node.left, node.right] if isinstance(node, gast.BinOp) else
            [node.left, *node.comparators] if isinstance(node, gast.Compare) else
            node.args if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and
            node.func.id in ("isinstance", "type") else []) if isinstance(n, gast.Name)}

    def lists_of(self, fdef) -> set:
        """The names ``fdef`` binds only to lists it makes (a display, a list comprehension:
        each store of the name such an assignment)."""
        made: dict = {}
        for n in walk(fdef):
            if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(
                    n.targets[0], gast.Name) and isinstance(n.value, (gast.List, gast.ListComp)):
                made[n.targets[0].id] = made.get(n.targets[0].id, 0) + 1
        stores: dict = {}
        for n in walk(fdef):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                stores[n.id] = stores.get(n.id, 0) + 1
        return {name for name, count in made.items() if stores.get(name) == count and
                name not in {a.id for a in fdef.args.args + fdef.args.kwonlyargs}}

    def fresh(self, base):
        name, i = f"{base}_1", 2
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def builtin(self, func, name) -> bool:
        return isinstance(func, gast.Name) and func.id == name and \
            self.src.namespace.lookup(name) is getattr(builtins, name)

    def returned(self, stmt, name) -> bool:
        """Is ``stmt`` a return, or ``name`` (what it assigns) returned (or an item of the
        returned tuple), or read where a list is not the tuple (an operand, isinstance)?"""
        return isinstance(stmt, gast.Return) or name is not None and name in self.outputs

    def block(self, stmts) -> list:
        out: list = []
        for stmt in stmts:
            out += self.stmt(stmt)
        return out

    def stmt(self, stmt) -> list:
        pre: list = []
        if isinstance(stmt, gast.While):
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (gast.If, gast.For)):
            if isinstance(stmt, gast.If):
                stmt.test = self.expr(stmt.test, pre, stmt)
            else:
                stmt.iter = self.expr(stmt.iter, pre, stmt)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return pre + [stmt]
        if isinstance(stmt, gast.Try):      # each block's, inside it
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            stmt.finalbody = self.block(stmt.finalbody)
            for handler in stmt.handlers:
                handler.body = self.block(handler.body)
            return [stmt]
        if isinstance(stmt, gast.With):     # computed inside the block, as written
            for item in stmt.items:
                item.context_expr = self.expr(item.context_expr, pre, stmt)
            stmt.body = self.block(stmt.body)
            return pre + [stmt]
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            return [stmt]                   # refused by the fence
        hint = stmt.targets[0].id if isinstance(stmt, gast.Assign) and isinstance(
            stmt.targets[0], gast.Name) else None
        return pre + [self.expr(stmt, pre, stmt, hint)]

    def expr(self, node, pre, stmt, hint=None):
        lowering = self

        class Rewrite(gast.NodeTransformer):
            def visit_ListComp(self, n):
                return lowering.collect(n, "list", pre, stmt, hint)

            def visit_Call(self, n):
                if len(n.args) == 1 and not n.keywords and isinstance(
                        n.args[0], (gast.GeneratorExp, gast.ListComp)):
                    for name in _COLLECT:
                        if lowering.builtin(n.func, name):
                            kind = "sum" if name == "sum" else "list"
                            made = lowering.collect(n.args[0], kind, pre, stmt, hint)
                            if name == "tuple" and (lowering.returned(stmt, hint) or getattr(
                                    n, "srcad_operand", False)):
                                return gast.copy_location(gast.Call(   # an output: its
                                    func=n.func, args=[made], keywords=[]), n)   # type
                            return made      # else the list, which reads as the tuple does
                    for name in (*_TESTS, *_EXTREMES):
                        if lowering.builtin(n.func, name):
                            return lowering.collect(n.args[0], name, pre, stmt, hint)
                if lowering.builtin(n.func, "sorted"):
                    made = lowering.sorted_list(n, pre, hint, self.visit)
                    if made is not None:
                        return made
                    return self.generic_visit(n)     # (its argument's comprehension lowered)
                extreme = lowering.extreme_of_list(n)
                if extreme is not None:
                    comp, kind, options = extreme
                    return lowering.collect(self.visit(comp), kind, pre, stmt, hint,
                                            **{k: self.visit(v) for k, v in options.items()})
                return self.generic_visit(n)

            def visit_BinOp(self, n):
                for operand in [getattr(n, "left", None), getattr(n, "right", None),
                                *getattr(n, "comparators", [])]:
                    if isinstance(operand, gast.Call):
                        operand.srcad_operand = True      # tuple(...) + (x,): a tuple
                return self.generic_visit(n)

            visit_Compare = visit_BinOp

            def visit_Lambda(self, n):
                return n                      # its own scope: refused by the fence

            def visit_DictComp(self, n):
                return lowering.unrolled_dict(n) or n

            def visit_SetComp(self, n):     # the set of a list built by the loops
                if not lowering.builtin(_name("set"), "set"):
                    return n
                made = lowering.collect(n, "list", pre, stmt, hint)
                return gast.copy_location(gast.Call(func=_name("set"), args=[made],
                                                    keywords=[]), n)

            visit_GeneratorExp = visit_Lambda
        return Rewrite().visit(node)

    def extreme_of_list(self, call):
        """``max(xs)``/``min(xs)`` (``key=``, ``default=`` as Python's) of a list display or
        a name the function binds only to lists (displays, list comprehensions), or of a
        generator expression or list comprehension with those keywords: (the generator over
        it, the kind, the keywords); else None (an array keeps its NumPy rule)."""
        kind = next((k for k in _EXTREMES if self.builtin(call.func, k)), None)
        options = {k.arg: k.value for k in call.keywords}
        if kind is None or len(call.args) != 1 or not {*options} <= {"key", "default"} or (
                not options and not isinstance(call.args[0], (gast.Name, gast.List))):
            return None
        seq = call.args[0]
        if isinstance(seq, (gast.GeneratorExp, gast.ListComp)):
            return seq, kind, options
        if not isinstance(seq, gast.List) and not (isinstance(seq, gast.Name) and
                                                   seq.id in self.lists):
            return None
        item = "_item"
        return gast.copy_location(gast.GeneratorExp(elt=_name(item), generators=[
            gast.comprehension(target=_name(item, gast.Store()), iter=seq, ifs=[],
                               is_async=0)]), seq), kind, options

    def sorted_list(self, call, pre, hint, lower):
        """``sorted(xs)`` (``key=``, ``reverse=`` a literal) of a list display, a list
        comprehension or a name the function binds only to lists, as the loops placing each
        item at its rank (the items before it, by ``<`` of their keys, and the equal ones
        before it in the list: Python's stable order, with ``reverse`` too); appended to
        ``pre``, the name of the sorted list; else None (left to the rules)."""
        options = {k.arg: k.value for k in call.keywords}
        seq = call.args[0] if len(call.args) == 1 else None
        if seq is None or not {*options} <= {"key", "reverse"} or not isinstance(
                options.get("reverse", gast.Constant(value=False, kind=None)),
                gast.Constant) or not isinstance(seq, (gast.List, gast.ListComp)) and not (
                    isinstance(seq, gast.Name) and seq.id in self.lists):
            return None
        options = {k: lower(v) for k, v in options.items()}
        names = {k: self.fresh(k) for k in ("_keys", "_ranks", "_rank", "_i", "_j", "_r",
                                            "_v")}
        items = seq.id if isinstance(seq, gast.Name) and seq.id in self.lists else None
        text = []
        if items is None:
            items = self.fresh("_unsorted")
            pre.append(gast.copy_location(_assign(items, lower(seq)), seq))
        out = self.fresh(hint or "_sorted")
        keys = items
        if "key" in options:
            keys = names["_keys"]
            text.append(f"{keys} = [KEY({names['_v']}) for {names['_v']} in {items}]")
        before = ">" if options.get("reverse", gast.Constant(value=False, kind=None)).value \
            else "<"
        i, j, r, rank, ranks = (names[k] for k in ("_i", "_j", "_r", "_rank", "_ranks"))
        text += [
            f"{ranks} = []",
            f"for {i} in range(len({keys})):",
            f"    {rank} = 0",
            f"    for {j} in range(len({keys})):",
            f"        if {keys}[{j}] {before} {keys}[{i}]:",
            f"            {rank} = {rank} + 1",
            f"        elif {j} < {i}:",
            f"            if not {keys}[{i}] {before} {keys}[{j}]:",
            f"                {rank} = {rank} + 1",
            f"    {ranks}.append({rank})",
            f"{out} = []",
            f"for {r} in range(len({keys})):",
            f"    for {i} in range(len({keys})):",
            f"        if {ranks}[{i}] == {r}:",
            f"            {out}.append({items}[{i}])"]
        key = options.get("key")

        class Key(gast.NodeTransformer):
            def visit_Name(self, n):
                return copy.deepcopy(key) if n.id == "KEY" else n
        made = [Key().visit(stmt) for stmt in parse_gast("\n".join(text)).body]
        for stmt in made:
            for n in gast.walk(stmt):
                if isinstance(n, (gast.stmt, gast.expr)):
                    gast.copy_location(n, call)
        pre += self.block(made)
        return gast.copy_location(_name(out), call)

    def unrolled_dict(self, comp):
        """``{k: f(k) for k in ('a', 'b')}`` (one loop over a literal of constants, a ``range``
        of constants or the ``enumerate`` of either, no condition) as the dict literal
        ``{'a': f('a'), ...}``, whose keys are static (``containers``); else None (the fence
        refuses it). A ``(y := e)`` in the value binds ``y`` in the function, each item's in
        turn (``sugar.walrus``)."""
        if len(comp.generators) != 1:
            return None
        gen = comp.generators[0]
        names = [gen.target] if isinstance(gen.target, gast.Name) else getattr(
            gen.target, "elts", None)
        if gen.ifs or gen.is_async or not names or not all(
                isinstance(n, gast.Name) for n in names) or any(
                isinstance(n, gast.NamedExpr) for n in gast.walk(comp.key)):
            return None             # (a key is evaluated before its value: := only in values)
        values = self.constant_items(gen.iter)
        if values is None:
            return None
        if not isinstance(gen.target, gast.Name):       # (i, k) of enumerate's pairs
            if not all(type(v) is tuple and len(v) == len(names) for v in values):
                return None
        keys, items = [], []
        for v in values:
            bound = {gen.target.id: v} if isinstance(gen.target, gast.Name) else {
                n.id: part for n, part in zip(names, v)}
            keys.append(_substituted(copy.deepcopy(comp.key), bound))
            items.append(_substituted(copy.deepcopy(comp.value), bound))
        return gast.copy_location(gast.Dict(keys=keys, values=items), comp)

    def constant_items(self, node):
        """The items of a literal of constants, a ``range`` of int literals or the
        ``enumerate`` of either (pairs); else None."""
        if isinstance(node, gast.Call) and self.builtin(node.func, "enumerate") and len(
                node.args) == 1 and not node.keywords:
            inner = self.constant_items(node.args[0])
            return None if inner is None else list(enumerate(inner))
        if isinstance(node, gast.Call) and self.builtin(node.func, "range"):
            return _range(node)
        return _constants(node)

    def collect(self, comp, kind, pre, stmt, hint, key=None, default=None):
        """Statements computing ``comp`` into a new name (appended to ``pre``), and that
        name; for ``min``/``max``, items compared by ``key(item)`` with ``key``, and
        ``default`` the value of none."""
        result = self.fresh(hint if kind not in _TESTS and hint else
                            {"sum": "_total", "all": "_all", "any": "_any", "min": "_least",
                             "max": "_greatest"}.get(kind, "_items"))
        rename: dict = {}
        loops = []
        for gen in comp.generators:
            if gen.is_async:
                return comp
            gen = copy.deepcopy(gen)
            gen.iter = _renamed(gen.iter, rename)
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    rename[n.id] = self.fresh(n.id)
            gen.target = _renamed(gen.target, rename)
            gen.ifs = [_renamed(c, rename) for c in gen.ifs]
            loops.append(gen)
        elt = _renamed(copy.deepcopy(comp.elt), rename)
        target = _name(result)
        if kind == "sum":
            inner = [gast.Assign(targets=[_name(result, gast.Store())], value=gast.BinOp(
                left=target, op=gast.Add(), right=elt), type_comment=None)]
            start = gast.Constant(value=0, kind=None)
        elif kind in _TESTS:
            # all: while still true, a false item makes it false (any: the converse); the
            # items after the deciding one are not evaluated, as Python does not
            decided = gast.Constant(value=kind == "any", kind=None)
            test = elt if kind == "any" else gast.UnaryOp(op=gast.Not(), operand=elt)
            still = target if kind == "all" else gast.UnaryOp(op=gast.Not(), operand=target)
            inner = [gast.If(test=still, body=[gast.If(test=test, body=[gast.Assign(
                targets=[_name(result, gast.Store())], value=decided, type_comment=None)],
                orelse=[])], orelse=[])]
            start = gast.Constant(value=kind == "all", kind=None)
        elif kind in _EXTREMES:
            # the first item, then each one less (greater) than the one kept: min's and max's
            # choice among equal items; an empty sequence raises as theirs does
            item, first = self.fresh("_item"), self.fresh("_first")
            keep = [_assign(result, _name(item))]
            compared, kept = _name(item), target
            if key is not None:         # key(item) compared, once per item, as Python's
                compared, kept = _name(self.fresh("_key")), _name(self.fresh("_kept_key"))
                keep.append(_assign(kept.id, compared))
            inner = [_assign(item, elt)] + ([_assign(compared.id, gast.Call(
                func=key, args=[_name(item)], keywords=[]))] if key is not None else []) + [
                gast.If(test=_name(first), body=keep + [
                    _assign(first, gast.Constant(value=False, kind=None))], orelse=[gast.If(
                        test=gast.Compare(left=compared, ops=[_EXTREMES[kind]()],
                                          comparators=[kept]),
                        body=copy.deepcopy(keep), orelse=[])])]
            start = gast.Constant(value=True, kind=None)
            result, target = first, _name(first)     # the flag first, the value after
        else:
            inner = [gast.Expr(value=gast.Call(func=gast.Attribute(
                value=target, attr="append", ctx=gast.Load()), args=[elt], keywords=[]))]
            start = gast.List(elts=[], ctx=gast.Load())
        body = inner
        for gen in reversed(loops):
            for cond in reversed(gen.ifs):
                body = [gast.If(test=cond, body=body, orelse=[])]
            body = [gast.For(target=gen.target, iter=gen.iter, body=body, orelse=[],
                             type_comment=None)]
        made = [gast.Assign(targets=[_name(result, gast.Store())], value=start,
                            type_comment=None)] + body
        if kind in _EXTREMES:       # min(()) raises ValueError (or is the default); the
            result = keep[0].targets[0].id      # value is the name kept
            made.append(gast.If(test=target, body=[gast.Raise(exc=gast.Call(
                func=_name("ValueError"), args=[gast.Constant(
                    value=f"{kind}() arg is an empty sequence", kind=None)], keywords=[]),
                cause=None)] if default is None else [_assign(result, default)], orelse=[]))
        for s in made:
            for n in gast.walk(s):
                if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                    gast.copy_location(n, comp)
        pre += self.block(made)             # comprehensions nested in it
        return gast.copy_location(_name(result), comp)


def _assign(ident, value):
    return gast.Assign(targets=[_name(ident, gast.Store())], value=value, type_comment=None)


def _constants(node):
    if isinstance(node, (gast.List, gast.Tuple)) and all(
            isinstance(e, gast.Constant) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def _range(call):
    bounds = _constants(gast.Tuple(elts=call.args, ctx=gast.Load()))
    if call.keywords or bounds is None or not 1 <= len(bounds) <= 3 or not all(
            type(b) is int for b in bounds):
        return None
    return list(range(*bounds))


def _substituted(node, values: dict):
    """``node`` with each read of a name of ``values`` replaced by its constant."""
    class Substitute(gast.NodeTransformer):
        def __init__(self, values):
            self.values = values

        def visit_Name(self, n):
            if n.id in self.values and isinstance(n.ctx, gast.Load):
                return gast.copy_location(gast.Constant(value=self.values[n.id], kind=None), n)
            return n

        def nested(self, n):      # the names it binds again are its own inside
            bound = {t.id for g in n.generators for t in gast.walk(g.target)
                     if isinstance(t, gast.Name)}
            rest = {k: v for k, v in self.values.items() if k not in bound}
            return Substitute(rest).generic_visit(n) if rest else n

        def skip(self, n):
            return n              # a name of the same spelling bound again inside

        visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = nested
        visit_Lambda = skip
    return Substitute(values).visit(node)


def _renamed(node, rename: dict):
    class Rename(gast.NodeTransformer):
        def visit_Name(self, n):
            if n.id in rename:
                return gast.copy_location(_name(rename[n.id], n.ctx), n)
            return n
    return Rename().visit(node) if rename else node


def lower_comprehensions(src: Source, fdef) -> None:
    """Lower ``fdef``'s comprehensions in place (see the module docstring)."""
    if any(isinstance(n, (gast.ListComp, gast.GeneratorExp, gast.DictComp, gast.SetComp)) or
           isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in
           (*_EXTREMES, "sorted") and len(n.args) == 1 for n in walk(fdef)):  # max(xs)
        fdef.body = _Lowering(src, fdef).block(fdef.body)
        lower_walrus(src, fdef)     # (y := e) in a condition: y = e in the loop, as Python
