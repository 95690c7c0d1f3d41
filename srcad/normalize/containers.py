"""Containers lowered when the derivative is built: a container parameter becomes one
parameter per leaf, and every container the code makes or reads with constant keys becomes
names.

Input: the parsed FunctionDef (before the fence) and the structures of the container
arguments of this call (``srcad.trees.structure``). Output: the same function where
* a container parameter ``params`` is replaced, in place, by its leaves as parameters named
  after their paths (``params['layers'][0]['W']`` -> ``params_layers_0_W``);
* ``c[key]`` and ``c.field`` with constant keys, ``c.get(key, default)``, ``len(c)``,
  ``c.keys()``/``.values()``/``.items()``, ``enumerate``/``zip``/``list``/``tuple``/``dict``
  of containers, slices with constant bounds and ``isinstance(c, T)`` are resolved to the
  leaf names (or constants) they denote;
* dict literals with constant keys, and list or tuple displays holding containers or
  module-level functions (``(np.tanh, relu)``, read where called), are containers too: each
  item is assigned once to a name of its own (``d_a = x``);
* ``name = container`` and ``a, b = container`` bind names to containers (no statement); a
  display of displays bound to a name the code changes, rebinds or indexes with a key
  computed at run time stays an ordinary list;
* ``for v in container:`` (over a container's items, keys, values, ``enumerate``, ``zip``)
  is unrolled, one copy of the body per item (``zip`` with a list that is no container:
  copy k under ``if len(xs) > k:``);
* ``f(*xs, **d)`` of containers passes their items one by one (``**d`` of a global dict:
  one keyword per key, ``d['k']``, the keys a dependency of the derivative, ``KeysOf``);
* ``*args`` and ``**kwargs`` parameters given a structure are leaves like any container
  parameter (positional, keyword-only); a helper's, bound to its call's items (``views``),
  are dropped from its signature;
* a dict comprehension over containers (or constants) is unrolled into a dict of static keys,
  and a call of a namedtuple class or a plain dataclass makes a container of its fields
  (``p._replace(b=c)``, ``dataclasses.replace(d, b=c)``: a copy with those fields replaced);
* with ``output``, the function's ``return`` of a container (a dict, namedtuple or dataclass,
  or a tuple or list holding one) returns the tuple of its leaves, and its structure is the
  pass's result (``Program.output``); a call of a user helper returning one (``outputs``)
  is ``r_h, r_out = forward(p, x)``, ``r`` bound to the container of those names;
* ``for k in ('a', 'b'):`` over constants (or a ``range`` of them: literals, ``len`` of a
  container, a name bound once to integer arithmetic on those, ``n = len(params) // 2``,
  or to another int known then: ``values``) whose body reads a container with ``k`` or
  holds a ``try`` is unrolled, so the reads and the ``try`` are decided per copy;
* a bound method of a container (``trees.METHOD``: an argument, or ``model.apply`` taken from
  an object) called is its method on that object, ``super().f(x)`` the method past the
  method's class in the object's MRO; a library's method (``_asdict``) is never inlined;
* an ``if`` or a conditional expression whose test is known when the derivative is built
  (``isinstance(p, dict)``, ``'c' in p``, ``mode == 'sum'`` of a str in ``constants``,
  ``isinstance(p, tuple)`` and ``type(p) is list`` of an argument whose type it is built for,
  in ``types``, or a name bound once to such a bool or class) is
  the branch taken, and what follows a block that always returns or raises is dropped;
* ``{**DEFAULTS, **params}`` is a dict of the keys known then;
* ``for k in p: p[k]`` over a parameter of no structure (a generic build) is refused;
* ``TABLE[key]`` and ``TABLE.get(key, default)`` of a global dict of functions, the key
  known then, is the function as read from the table (``table_item``).
A container used whole anywhere else is a flat list or tuple display of its leaves when it is
one, else refused with its location (a dict passed to a helper, a container rebound or written
into). Nothing after this pass sees a container.
"""
from __future__ import annotations

import builtins
import copy
import dataclasses
import inspect
import re
import types

import gast

from ..errors import SrcadSyntaxError
from ..naming import names_in
from ..nodes import walk
from ..source import UNRESOLVED, AttributeOf, ItemOf, KeysOf, Source, _is_library
from .. import trees
from .comprehensions import _constants
from .program import _loc_error
from .trys import handler_for, then_finally

__all__ = ["lower_containers", "leaf_names", "param_names", "renamed", "star_view",
           "function_items"]


class _Static:
    """A container known when the derivative is built: its kind, type, keys and items (each
    a ``_Static``, a ``_Leaf`` or a ``_Const``)."""

    def __init__(self, kind, cls, keys, items):
        self.kind, self.cls, self.keys, self.items = kind, cls, tuple(keys), list(items)

    def item(self, key):
        if self.kind in (trees.LIST, trees.TUPLE, trees.NAMEDTUPLE) and type(key) is int:
            key = key + len(self.items) if key < 0 else key
            if self.kind == trees.NAMEDTUPLE:        # p[0]: a namedtuple is a tuple too
                return self.items[key] if 0 <= key < len(self.items) else _MISSING
        return self.items[self.keys.index(key)] if key in self.keys else _MISSING


def _is_method(found) -> bool:
    return isinstance(found, (types.FunctionType, staticmethod, classmethod))


def _displayable(found) -> bool:
    """Can ``found`` be used as a value, a flat list or tuple display (``materialize``)?"""
    return not isinstance(found, _Static) or found.kind in (trees.LIST, trees.TUPLE) and all(
        not isinstance(i, _Static) or i.kind in (trees.LIST, trees.TUPLE) for i in found.items)


class _Leaf:
    """An item that is a value: the name it is read from."""

    def __init__(self, ident):
        self.ident = ident


class _Const:
    def __init__(self, value):
        self.value = value


class _Ref:
    """An item that is a module-level function as written (``np.tanh``, ``relu`` in
    ``(np.tanh, relu)``): read where the item is used, so a call of it is a call of that
    function."""

    def __init__(self, node):
        self.node = node


class _Item(_Ref):
    """An item of a list that is no container (``xs[k]`` of ``zip(xs, (np.tanh, relu))``):
    assigned to the name it is bound to, where it is bound."""


_MISSING = object()
# operators a build evaluates on the ints and strs it knows (the keys and bounds they give)
_ARITHMETIC = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
               gast.Mult: lambda a, b: a * b if type(a) is int and type(b) is int else _MISSING,
               gast.FloorDiv: lambda a, b: a // b, gast.Mod: lambda a, b: a % b}
_MAX_UNROLLED = 100     # items of a loop over constants unrolled for the reads in its body
_SEQUENCE = (trees.LIST, trees.TUPLE, trees.NAMEDTUPLE)
# methods of a key (a str) that a derivative's build evaluates: pure, and giving a constant
# (each gives a str, bool or int: a constant the generated code can hold as a literal)
_STR_METHODS = frozenset(["startswith", "endswith", "lower", "upper", "strip", "lstrip",
                          "rstrip", "replace", "isdigit", "isalpha", "isidentifier",
                          "removeprefix", "removesuffix", "count", "find", "casefold"])


def _ident(text) -> str:
    return re.sub(r"\W", "_", str(text)).strip("_") or "item"


def leaf_names(param: str, tree, taken: set) -> list[str]:
    """The parameter names of ``param``'s leaves, in ``trees.paths`` order."""
    out = []
    for path in trees.paths(tree):
        base = "_".join([param] + [_ident(k) for k in path])
        name, i = base, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        out.append(name)
    return out


def _static_of(tree, names, constants=None):
    """The ``_Static`` of a parameter with structure ``tree`` whose leaves are ``names``
    (a leaf among ``constants``, a str the derivative is built for, is that constant)."""
    if tree is None:
        name = next(names)
        return _Const(constants[name]) if constants and name in constants else _Leaf(name)
    kind, cls, keys, children = tree
    return _Static(kind, cls, keys, [_static_of(c, names, constants) for c in children])


class _Lowering:
    def __init__(self, src: Source, fdef, output=False):
        self.src = src
        self.output = output        # the main function: a returned container is its leaves
        self.tree = _MISSING        # the structure its returns give (trees.structure's form)
        self.plain: list = []       # its returns of one value (or of a flat tuple)
        self.deps: list = []        # (namespace, name, class) of the classes constructed
        self.taken = names_in(fdef)
        self.env: dict = {}
        counts: dict = {}
        for node in walk(fdef):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                counts[node.id] = counts.get(node.id, 0) + 1
        self.counts = counts
        self.ranges: dict = {}      # a name bound once to a range of constants -> its values
        self.values: dict = {}      # a name bound once to a number or str known when the
        #                             derivative is built (n = len(params)) -> it
        self.mutated = _mutated(fdef) | _indexed_at_run_time(fdef)
        self.functions: frozenset = frozenset()
        self.types: dict = {}       # a parameter the function does not assign -> its type
        self.local: frozenset = frozenset()     # names of the local functions it calls
        self.outputs = None         # (helper, views) -> the structure it returns, or None
        self.returns: dict = {}     # id(call) -> (call, the container of its leaves)
        a = fdef.args
        self.params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
        self.unpacked = {n.value.id for n in walk(fdef) if isinstance(n, gast.Starred)
                         and isinstance(n.value, gast.Name)}     # f(*xs)
        self.star_displays: set = set()     # ids of displays passed so: h((a, b))
        self.star_passed = self.unpacked_by_helpers(fdef)        # h(xs), h unpacking it
        self.unpacked |= self.star_passed

    def unpacked_by_helpers(self, fdef) -> set:
        """Names passed to a user helper's parameter that the helper ``*``-unpacks into a
        call (``h(xs)`` with ``def h(parts): return g(*parts)``): the helper needs their
        items, so a display bound to one is a container, as one the function unpacks."""
        from ..source import _is_user_function, parse_function
        out: set = set()
        for call in walk(fdef):
            if not isinstance(call, gast.Call) or not any(
                    isinstance(a, gast.Name) or _flat_display(a) for a in call.args):
                continue
            fn = self.src.namespace.resolve(call.func)
            if not isinstance(fn, types.FunctionType) or not _is_user_function(fn):
                continue
            try:
                node = parse_function(fn).node
            except Exception:      # noqa: BLE001 - no source: the inliner says so itself
                continue
            starred = {n.value.id for n in gast.walk(node) if isinstance(n, gast.Starred)
                       and isinstance(n.value, gast.Name)}
            params = [p.id for p in node.args.posonlyargs + node.args.args]
            for a, p in zip(call.args, params):
                if p in starred and isinstance(a, gast.Name):
                    out.add(a.id)
                elif p in starred and _flat_display(a):
                    self.star_displays.add(id(a))
        return out

    # -- errors and names ---------------------------------------------------------------------

    def error(self, node, message, hint):
        return _loc_error(self.src, node, message, hint, SrcadSyntaxError)

    def fresh(self, base):
        base = _ident(base)
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def function_ref(self, node) -> bool:
        """Is ``node`` a module-level function as written: a name the function neither
        assigns nor takes as a parameter, or an attribute of one (``np.tanh``)?"""
        if isinstance(node, gast.Name) and node.id in self.local and \
                not self.counts.get(node.id):
            return True         # a local function (fs = [lambda z: z, np.sin])
        root = node
        while isinstance(root, gast.Attribute):
            root = root.value
        if not isinstance(root, gast.Name) or not isinstance(node, (gast.Name, gast.Attribute)) \
                or root.id in self.counts or root.id in self.params or root.id in self.env:
            return False
        obj = self.src.namespace.resolve(node)
        return obj is not UNRESOLVED and callable(obj) and not isinstance(obj, type) and \
            not trees.is_container(obj)

    def function_item(self, found, target) -> bool:
        """Is ``found`` an item holding a function (``_Ref``, a leaf in ``functions``) bound
        to the name ``target`` assigned once, which then reads it where it is called?"""
        return (type(found) is _Ref or isinstance(found, _Leaf) and found.ident in
                self.functions) and isinstance(target, gast.Name) and \
            self.counts.get(target.id, 0) <= 1

    def builtin(self, func, name) -> bool:
        return isinstance(func, gast.Name) and func.id == name and func.id not in self.env \
            and func.id not in self.counts and \
            self.src.namespace.lookup(name) is getattr(builtins, name)

    # -- expressions ----------------------------------------------------------------------------

    def constant(self, node):
        if isinstance(node, gast.Constant):
            return node.value
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and \
                isinstance(node.operand, gast.Constant) and type(node.operand.value) is int:
            return -node.operand.value
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
            value = self.constant(node.operand)
            return _MISSING if value is _MISSING else not value
        if isinstance(node, gast.BoolOp):           # k != 'b' and not k.startswith('s')
            values = [self.constant(v) for v in node.values]
            if _MISSING in values:
                return _MISSING
            return all(values) if isinstance(node.op, gast.And) else any(values)
        if isinstance(node, gast.JoinedStr):        # f"{name}_{i}" of constants: a key
            parts = [self.constant(v.value) if isinstance(v, gast.FormattedValue) and
                     v.conversion == -1 and v.format_spec is None else self.constant(v)
                     for v in node.values]
            return _MISSING if _MISSING in parts else "".join(map(str, parts))
        if isinstance(node, gast.Call) and self.builtin(node.func, "str") and \
                len(node.args) == 1 and not node.keywords:
            value = self.constant(node.args[0])
            return _MISSING if value is _MISSING else str(value)
        if isinstance(node, gast.BinOp) and type(node.op) in _ARITHMETIC:   # len(p) // 2
            left, right = self.constant(node.left), self.constant(node.right)
            if _MISSING in (left, right) or not {type(left), type(right)} <= {int, str}:
                return _MISSING
            try:
                return _ARITHMETIC[type(node.op)](left, right)
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return _MISSING
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and \
                node.id in self.values:
            return self.values[node.id]
        found = self.resolve(node, None, "")
        if isinstance(found, _Const):
            return found.value
        return _MISSING

    def range_of(self, node):
        """The values of ``range(...)`` whose bounds are known when the derivative is built
        (``range(len(layers))``, ``range(n_layers)`` of ``n_layers = len(params) // 2``),
        else None."""
        if not (isinstance(node, gast.Call) and self.builtin(node.func, "range")) or \
                node.keywords or not 1 <= len(node.args) <= 3:
            return None
        bounds = [self.constant(a) for a in node.args]
        if not all(type(b) is int for b in bounds):
            return None
        return list(range(*bounds))

    def resolve(self, node, pre, hint):
        """The container (or leaf, or constant) ``node`` denotes when it is one built from
        containers, else None. ``pre`` receives the assignments of items made here."""
        if isinstance(node, gast.Name):
            return self.env.get(node.id) if isinstance(node.ctx, gast.Load) else None
        if isinstance(node, gast.Subscript):
            base = self.resolve(node.value, pre, hint)
            if not isinstance(base, _Static):
                return self.table_item(node.value, node.slice, None, pre, hint)
            if isinstance(node.slice, gast.Slice) and base.kind in _SEQUENCE:
                bounds = [None if b is None else self.constant(b)
                          for b in (node.slice.lower, node.slice.upper, node.slice.step)]
                if _MISSING in bounds:
                    raise self.error(node, "a slice of a container with bounds that are not "
                                     "constants", "Slice containers with constant bounds.")
                picked = list(range(len(base.items)))[slice(*bounds)]
                kind = trees.LIST if base.kind == trees.LIST else trees.TUPLE
                return _Static(kind, list if kind == trees.LIST else tuple, range(len(picked)),
                               [base.items[i] for i in picked])
            key = self.constant(node.slice)
            if key is _MISSING:
                raise self.error(node, "indexing a container with a key that is not a constant",
                                 "srcad lowers containers when the derivative is built: use "
                                 "constant keys (params['W'], layers[0]) or loop over "
                                 "the container (for layer in layers:).")
            item = base.item(key)
            if item is _MISSING:
                raise self.error(node, f"the container has no item {key!r} (it has "
                                 f"{', '.join(map(repr, base.keys))})", "Use one of its keys.")
            return item
        if isinstance(node, gast.Attribute):
            above = self.super_of(node.value)   # super().gain: the classes past one
            base, after = above if above is not None else (self.resolve(node.value, pre, hint),
                                                           None)
            if isinstance(base, _Static) and base.kind in trees.FIELDS:
                item = base.item(node.attr) if after is None else _MISSING
                if item is not _MISSING:
                    return item
                found = self.class_attribute(base.cls, node.attr, after)
                if isinstance(found, property) or _is_method(found) and after is not None:
                    return None          # read through its getter (``expr``: a method call)
                if _is_method(found):    # model.apply as a value: the method on that object
                    return _Static(trees.METHOD, types.MethodType, (node.attr,), [base])
                if found is _MISSING:
                    raise self.error(node, f"{base.cls.__name__} has no field {node.attr!r}",
                                     "Read one of its fields.")
                if type(found) in (int, float, bool, str, complex) or found is None:
                    return _Const(found)     # a class attribute: a constant, not differentiated
                raise self.error(node, f"{base.cls.__name__}.{node.attr} is a class attribute "
                                 f"that is a {type(found).__name__}, not a number or str",
                                 "Make it an instance attribute (self.x = ... in __init__) or "
                                 "a module-level global.")
            if isinstance(base, _Static):
                raise self.error(node, f"a {base.cls.__name__} container has no attribute "
                                 f"{node.attr!r}", "Read its items with constant keys "
                                 "(params['W']).")
            return None
        if isinstance(node, gast.Call):
            return self.resolve_call(node, pre, hint)
        if isinstance(node, gast.IfExp):     # a if 'c' in p else b: decided by the structure
            test = self.constant(node.test)
            if test is not _MISSING:
                return self.resolve(node.body if test else node.orelse, pre, hint)
            return None
        if isinstance(node, gast.Compare):
            return self.compare(node)
        if isinstance(node, gast.Dict) and None in node.keys:
            return self.merged(node, pre, hint)
        if isinstance(node, gast.Dict):
            keys = [self.constant(k) if k is not None else _MISSING for k in node.keys]
            if _MISSING in keys:
                raise self.error(node, "a dict literal with keys that are not constants "
                                 "(or ** unpacking)", "Use constant keys: {'W': W, 'b': b}.")
            if pre is None:
                return None
            return _Static(trees.DICT, dict, keys, [self.item(v, pre, f"{hint}_{k}")
                                                      for k, v in zip(keys, node.values)])
        if isinstance(node, gast.DictComp) and pre is not None:
            return self.dict_comprehension(node, pre, hint)
        if isinstance(node, (gast.List, gast.Tuple)) and isinstance(node.ctx, gast.Load):
            if pre is None or not any(self.resolve(e, None, "") is not None or
                                      self.function_ref(e) for e in node.elts
                                      if not isinstance(e, gast.Starred)):
                return None       # a display of ordinary values: an ordinary list
            kind = trees.LIST if isinstance(node, gast.List) else trees.TUPLE
            return _Static(kind, list if kind == trees.LIST else tuple, range(len(node.elts)),
                           [self.item(e, pre, f"{hint}_{i}") for i, e in enumerate(node.elts)])
        return None

    def merged(self, node, pre, hint):
        """``{**DEFAULTS, **params, 'b': b}``: a dict of the keys known when the derivative is
        built, in Python's order (a later key's value wins, at the first one's place); ``**``
        of a container, or of a global (or closure) dict, whose keys are then a dependency
        (``KeysOf``) and whose values are read when the derivative runs."""
        keys: list = []
        items: list = []

        def put(key, item):
            if key in keys:
                items[keys.index(key)] = item
            else:
                keys.append(key)
                items.append(item)
        for k, v in zip(node.keys, node.values):
            if k is not None:
                key = self.constant(k)
                if key is _MISSING:
                    raise self.error(k, "a dict literal with a key that is not a constant",
                                     "Use constant keys: {'W': W, 'b': b}.")
                put(key, None if pre is None else self.item(v, pre, f"{hint}_{key}"))
                continue
            found = self.resolve(v, pre, hint)
            held = self.global_dict(v) if found is None else None
            if isinstance(found, _Static) and found.kind == trees.DICT:
                for key, item in zip(found.keys, found.items):
                    put(key, item)
            elif held is not None:
                self.deps.append((held, "keys", held.keys))
                for key in held.keys:
                    put(key, None if pre is None else self.item(gast.copy_location(
                        gast.Subscript(value=copy.deepcopy(v), slice=gast.Constant(
                            value=key, kind=None), ctx=gast.Load()), v), pre, f"{hint}_{key}"))
            else:
                raise self.error(v, "** of a value that is not a dict known when the "
                                 "derivative is built, in a dict literal", "Unpack dict "
                                 "arguments or global dicts of str keys ({**DEFAULTS, "
                                 "**params}).")
        return None if pre is None else _Static(trees.DICT, dict, keys, items)

    def display(self, node, pre, hint):
        """A list or tuple display as a container, its displays containers too."""
        kind = trees.LIST if isinstance(node, gast.List) else trees.TUPLE
        return _Static(kind, list if kind == trees.LIST else tuple, range(len(node.elts)),
                       [self.display(e, pre, f"{hint}_{i}") if _nested_display(e) or
                        isinstance(e, (gast.List, gast.Tuple)) else
                        self.item(e, pre, f"{hint}_{i}") for i, e in enumerate(node.elts)])

    def item(self, node, pre, hint):
        """An item of a container the code makes: a container, a constant, a name never
        assigned, or a value assigned once to a name of its own."""
        found = self.resolve(node, pre, hint)
        if found is not None:
            return found
        if isinstance(node, gast.Constant):
            return _Const(node.value)
        if self.function_ref(node):
            return _Ref(node)
        if isinstance(node, gast.Name) and not self.counts.get(node.id):
            return _Leaf(node.id)
        name = self.fresh(hint or "item")
        value = self.expr(node, pre)
        pre.append(gast.copy_location(gast.Assign(
            targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=value, type_comment=None), node))
        return _Leaf(name)

    def compare(self, node):
        """``key in container`` (its keys for a dict, its constant items for a sequence) and
        comparisons of the constants containers give (``name == 'W'`` for a key): constants.
        None when an operand is not known when the derivative is built."""
        operands = [node.left] + list(node.comparators)
        found = [self.resolve(n, None, "") for n in operands]
        if not any(isinstance(f, (_Static, _Const)) for f in found):
            return None
        values = []
        for n, f, right in zip(operands, found, [False] + [True] * len(node.ops)):
            if isinstance(f, _Static):
                if not right or f.kind != trees.DICT and not all(
                        isinstance(i, _Const) for i in f.items):
                    return None
                values.append(f.keys if f.kind == trees.DICT else [i.value for i in f.items])
            elif isinstance(f, _Const):
                values.append(f.value)
            elif isinstance(n, gast.Constant):
                values.append(n.value)
            elif self.class_ref(n) is not None:     # type(p) is tuple
                values.append(self.class_ref(n))
            else:
                return None
        ops = {gast.In: lambda a, b: a in b, gast.NotIn: lambda a, b: a not in b,
               gast.Eq: lambda a, b: a == b, gast.NotEq: lambda a, b: a != b,
               gast.Is: lambda a, b: a is b, gast.IsNot: lambda a, b: a is not b}
        if not all(type(op) in ops for op in node.ops):
            return None
        return _Const(all(ops[type(op)](a, b) for op, a, b in
                          zip(node.ops, values, values[1:])))

    def global_ref(self, node) -> bool:
        """Is ``node`` a name the function neither assigns nor takes as a parameter, or an
        attribute of one (``tuple``, ``np.ndarray``), read in its namespace?"""
        root = node
        while isinstance(root, gast.Attribute):
            root = root.value
        return isinstance(root, gast.Name) and root.id not in self.counts and \
            root.id not in self.params and root.id not in self.env

    def class_ref(self, node):
        """The class ``node`` names as written (a ``global_ref``), else None."""
        cls = self.src.namespace.resolve(node) if self.global_ref(node) else None
        return cls if isinstance(cls, type) else None

    def container_class(self, func):
        """The namedtuple class or plain dataclass (no ``__post_init__``, every field set by
        ``__init__``) ``func`` names, whose call makes a container; else None."""
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if not isinstance(root, gast.Name) or root.id in self.env or root.id in self.counts:
            return None
        cls = self.src.namespace.resolve(func)
        if not isinstance(cls, type):
            return None
        if issubclass(cls, tuple) and hasattr(cls, "_fields") and hasattr(cls, "_make"):
            made = cls.__new__            # namedtuple's own, not one of the user's
        elif not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or not all(
                f.init for f in dataclasses.fields(cls)):
            return None
        else:
            made = cls.__init__           # the generated one, not one of the user's
        if getattr(getattr(made, "__code__", None), "co_filename", None) != "<string>":
            return None
        self.deps.append((self.src.namespace, root.id, self.src.namespace.lookup(root.id)))
        return cls

    def construct(self, cls, node, pre, hint):
        """``Stats(total=t, scaled=s)``: a container of ``cls`` (a namedtuple or a dataclass)
        whose items are the arguments, or the fields' defaults when they are constants."""
        if any(isinstance(a, gast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            raise self.error(node, f"a {cls.__name__} made with * or ** arguments",
                             f"Pass each field of {cls.__name__} by position or by name.")
        if dataclasses.is_dataclass(cls):
            fields = [f.name for f in dataclasses.fields(cls)]
            defaults = {f.name: f.default for f in dataclasses.fields(cls)
                        if f.default is not dataclasses.MISSING}
        else:
            fields, defaults = list(cls._fields), dict(cls._field_defaults)
        given = dict(zip(fields, node.args))
        given.update({k.arg: k.value for k in node.keywords})
        if len(node.args) > len(fields) or set(given) - set(fields):
            raise self.error(node, f"{cls.__name__} takes the fields {', '.join(fields)}",
                             f"Pass only fields of {cls.__name__}.")
        items = []
        for name in fields:
            if name in given:
                items.append(self.item(given[name], pre, f"{hint}_{name}"))
            elif name in defaults and (defaults[name] is None or type(defaults[name]) in (
                    bool, int, float, str)):
                items.append(_Const(defaults[name]))
            else:
                raise self.error(node, f"{cls.__name__} made without its field {name!r}"
                                 + (" (its default is not a constant)" if name in defaults
                                    else ""), f"Pass {name}= explicitly.")
        kind = trees.DATACLASS if dataclasses.is_dataclass(cls) else trees.NAMEDTUPLE
        return _Static(kind, cls, fields, items)

    def replaced_of(self, node):
        """The container ``layer._replace(b=...)`` (of a namedtuple) or
        ``dataclasses.replace(obj, b=...)`` (of a plain dataclass) copies, else None."""
        func = node.func
        if isinstance(func, gast.Attribute) and func.attr == "_replace" and not node.args:
            base = self.resolve(func.value, None, "")
            return base if isinstance(base, _Static) and base.kind == trees.NAMEDTUPLE else None
        if not isinstance(func, (gast.Name, gast.Attribute)) or len(node.args) != 1:
            return None
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if not isinstance(root, gast.Name) or root.id in self.env or root.id in self.counts:
            return None
        if self.src.namespace.resolve(func) is not dataclasses.replace:
            return None
        base = self.resolve(node.args[0], None, "")
        if not isinstance(base, _Static) or base.kind != trees.DATACLASS:
            return None
        if hasattr(base.cls, "__post_init__") or not all(
                f.init for f in dataclasses.fields(base.cls)):
            raise self.error(node, f"dataclasses.replace of a {base.cls.__name__}, whose "
                             "__post_init__ or init=False fields srcad does not run",
                             f"Make the new {base.cls.__name__} with its fields "
                             f"({base.cls.__name__}(W=..., b=...)).")
        return base

    def replace(self, base, node, pre, hint):
        """A copy of the container ``base`` with the fields the call's keywords give
        replaced: a new container of the same class, its other items the old ones."""
        if any(k.arg is None for k in node.keywords):
            raise self.error(node, f"a {base.cls.__name__} replaced with ** arguments",
                             "Pass each field to replace by name.")
        given = {k.arg: k.value for k in node.keywords}
        unknown = [k for k in given if k not in base.keys]
        if unknown:
            raise self.error(node, f"{base.cls.__name__} has no field {unknown[0]!r}",
                             f"Replace fields of {base.cls.__name__}: "
                             f"{', '.join(map(str, base.keys))}.")
        items = [self.item(given[k], pre, f"{hint}_{k}") if k in given else item
                 for k, item in zip(base.keys, base.items)]
        return _Static(base.kind, base.cls, base.keys, items)

    def dict_comprehension(self, comp, pre, hint):
        """``{k: 2.0 * v for k, v in params.items()}`` over containers (and constants): the
        dict it makes, one item per iteration, its keys and conditions decided when the
        derivative is built."""
        keys: list = []
        items: list = []
        targets = {n.id for g in comp.generators for n in gast.walk(g.target)
                   if isinstance(n, gast.Name)}
        saved = {t: self.env.pop(t) for t in targets if t in self.env}

        def run(depth):
            if depth == len(comp.generators):
                key = self.constant(comp.key)
                if key is _MISSING or not isinstance(key, (str, int, bool, float, tuple)):
                    raise self.error(comp.key, "a dict comprehension whose key is not known "
                                     "when the derivative is built", "Make the keys from a "
                                     "container's keys or from constants.")
                value = self.item(copy.deepcopy(comp.value), pre, f"{hint}_{key}")
                if key in keys:                    # as Python: the last value wins
                    items[keys.index(key)] = value
                else:
                    keys.append(key)
                    items.append(value)
                return
            gen = comp.generators[depth]
            found = self.resolve(gen.iter, pre, hint)
            if not isinstance(found, _Static):
                values = self.range_of(gen.iter)
                values = _literal(gen.iter) if values is None else values
                if not isinstance(values, (list, tuple)) or gen.is_async:
                    raise self.error(comp, "a dict comprehension over values not known "
                                     "when the derivative is built", "Iterate over a dict "
                                     "(params.items(), .keys(), .values()), a container "
                                     "argument, zip of those, a tuple of constants or a range "
                                     "of constants.")
                found = _known(tuple(values))
            for item in self.iterated(found):
                self.bind_static(gen.target, item, gen)
                tests = [self.constant(c) for c in gen.ifs]
                if _MISSING in tests:
                    raise self.error(gen.ifs[tests.index(_MISSING)], "a condition in a dict "
                                     "comprehension that is not known when the derivative is "
                                     "built", "Test the keys (k != 'b', k.startswith('W')) or "
                                     "constants only; compute the values with np.where.")
                if all(tests):
                    run(depth + 1)
        run(0)
        for t in targets:
            self.env.pop(t, None)
        self.env.update(saved)
        return _Static(trees.DICT, dict, keys, items)

    def bind_static(self, target, item, where):
        """A comprehension's variable(s) bound to ``item`` (names of its own scope)."""
        if isinstance(target, gast.Name):
            self.env[target.id] = item
            return
        if isinstance(target, (gast.Tuple, gast.List)) and isinstance(item, _Static) and \
                len(self.iterated(item)) == len(target.elts):
            for t, i in zip(target.elts, self.iterated(item)):
                self.bind_static(t, i, where)
            return
        raise self.error(where, "unpacking an item of a different length in a dict "
                         "comprehension", "Unpack as many names as each item has.")

    def resolve_call(self, node, pre, hint):
        func, args = node.func, node.args
        cls = self.container_class(func)
        if cls is not None:
            return self.construct(cls, node, pre, hint) if pre is not None else None
        replaced = self.replaced_of(node)
        if replaced is not None:
            return self.replace(replaced, node, pre, hint) if pre is not None else None
        returned = self.helper_output(node, pre, hint)
        if returned is not None:
            return returned
        if isinstance(func, gast.Attribute) and func.attr in _STR_METHODS:
            base = self.resolve(func.value, None, "")
            consts = [self.constant(a) for a in args]
            if isinstance(base, _Const) and isinstance(base.value, str) and \
                    _MISSING not in consts and not node.keywords:
                return _Const(getattr(base.value, func.attr)(*consts))   # name.startswith('W')
        if isinstance(func, gast.Attribute) and func.attr in ("keys", "values", "items", "get"):
            base = self.resolve(func.value, pre, hint)
            if func.attr == "get" and not isinstance(base, _Static) and args and \
                    len(args) <= 2 and not node.keywords:       # TABLE.get(name, np.tanh)
                return self.table_item(func.value, args[0], args[1:], pre, hint)
            if not isinstance(base, _Static) or base.kind != trees.DICT:
                return None
            if func.attr == "get":
                key = self.constant(args[0]) if args else _MISSING
                if key is _MISSING:
                    raise self.error(node, "d.get with a key that is not a constant",
                                     "Use a constant key.")
                item = base.item(key)
                if item is not _MISSING:
                    return item
                return self.item(args[1], pre, hint) if len(args) > 1 else _Const(None)
            items = {"keys": [_Const(k) for k in base.keys], "values": base.items,
                     "items": [_Static(trees.TUPLE, tuple, (0, 1), [_Const(k), v])
                               for k, v in zip(base.keys, base.items)]}[func.attr]
            return _Static(trees.TUPLE, tuple, range(len(items)), items)
        statics = [self.resolve(a, pre, hint) for a in args]
        known = self.type_of(args[0], statics[0]) if len(args) == 1 + self.builtin(
            func, "isinstance") and not node.keywords else None
        if known is not None and self.builtin(func, "type"):
            return _Const(known)
        if known is not None and self.builtin(func, "isinstance"):
            given = args[1].elts if isinstance(args[1], gast.Tuple) else [args[1]]
            if not all(self.global_ref(c) for c in given):
                return None
            classes = [self.src.namespace.resolve(c) for c in given]   # (list, tuple)
            flat = [c for cls in classes for c in (cls if isinstance(cls, tuple) else (cls,))]
            if all(isinstance(c, type) for c in flat):
                return _Const(issubclass(known, tuple(flat)))
            return None
        if not any(isinstance(s, _Static) for s in statics):
            if self.builtin(func, "dict") and node.keywords and not args and pre is not None:
                return _Static(trees.DICT, dict, [k.arg for k in node.keywords],
                               [self.item(k.value, pre, f"{hint}_{k.arg}")
                                for k in node.keywords])
            return None
        first = statics[0] if statics else None
        if self.builtin(func, "len") and isinstance(first, _Static):
            return _Const(len(first.items))
        if isinstance(first, _Static) and len(args) == 1 and not node.keywords:
            if pre is not None and not _displayable(first) and self.zeros_like(func):
                return self.zeros_of(first, node, pre, hint)  # zeros of a dict, a namedtuple
            if self.builtin(func, "list") or self.builtin(func, "tuple"):
                kind = trees.LIST if func.id == "list" else trees.TUPLE
                items = [_Const(k) for k in first.keys] if first.kind == trees.DICT \
                    else first.items
                return _Static(kind, list if kind == trees.LIST else tuple, range(len(items)),
                               items)
            if self.builtin(func, "dict") and first.kind == trees.DICT:
                return _Static(trees.DICT, dict, first.keys, first.items)
            if self.builtin(func, "enumerate"):
                items = self.iterated(first)
                return _Static(trees.TUPLE, tuple, range(len(items)), [
                    _Static(trees.TUPLE, tuple, (0, 1), [_Const(i), v])
                    for i, v in enumerate(items)])
            if self.builtin(func, "reversed") and first.kind in _SEQUENCE:
                return _Static(trees.TUPLE, tuple, range(len(first.items)), first.items[::-1])
        if self.builtin(func, "zip") and not node.keywords:     # with tuples of constants
            statics = [s if s is not None or _constants(a) is None else _Static(
                trees.TUPLE, tuple, range(len(a.elts)), [_Const(v) for v in _constants(a)])
                for s, a in zip(statics, args)]
        if self.builtin(func, "zip") and all(isinstance(s, _Static) for s in statics) and \
                not node.keywords:
            rows = list(zip(*[self.iterated(s) for s in statics]))
            return _Static(trees.TUPLE, tuple, range(len(rows)), [
                _Static(trees.TUPLE, tuple, range(len(r)), r) for r in rows])
        return None

    def type_of(self, node, found):
        """The type of ``node`` (``found``, what it resolves to) when the derivative is built:
        a container's, or an argument's in ``types``; else None."""
        if isinstance(found, _Static):
            return found.cls
        if isinstance(node, gast.Name) and found is None and node.id in self.types:
            return self.types[node.id]
        return None

    def tests_type(self, call) -> bool:
        """Is ``call`` ``isinstance(p, ...)`` or ``type(p)`` of a parameter in ``types``?"""
        return (self.builtin(call.func, "isinstance") or self.builtin(call.func, "type")) and \
            bool(call.args) and isinstance(call.args[0], gast.Name) and \
            call.args[0].id in self.types

    def zeros_like(self, func) -> bool:
        """Is ``func`` srcad's ``runtime.zeros_like`` (the zero derivative generated code
        gives an argument it never reads, a container too)?"""
        from .. import runtime
        return isinstance(func, gast.Attribute) and func.attr == "zeros_like" and \
            self.src.namespace.resolve(func) is runtime.zeros_like

    def zeros_of(self, static: _Static, node, pre, hint) -> _Static:
        """``zeros_like(container)`` (the call ``node``) as the container of its leaves'
        zeros."""
        items: list = []
        for key, item in zip(static.keys, static.items):
            if isinstance(item, _Static):
                items.append(self.zeros_of(item, node, pre, f"{hint}_{key}"))
            elif isinstance(item, _Leaf):
                call = gast.copy_location(gast.Call(func=copy.deepcopy(node.func), keywords=[],
                                                    args=[gast.Name(id=item.ident, ctx=gast.Load(),
                                                                    annotation=None,
                                                                    type_comment=None)]), node)
                items.append(self.item(call, pre, f"{hint}_{key}"))
            else:
                items.append(_Const(0.0))
        return _Static(static.kind, static.cls, static.keys, items)

    @staticmethod
    def iterated(static: _Static) -> list:
        """What ``for v in static`` goes over: a dict's keys, a sequence's items."""
        return [_Const(k) for k in static.keys] if static.kind == trees.DICT else static.items

    def materialize(self, found, node):
        """A container used as a value: a flat list or tuple display of its items."""
        if isinstance(found, _Leaf):
            return gast.copy_location(gast.Name(id=found.ident, ctx=gast.Load(),
                                                annotation=None, type_comment=None), node)
        if isinstance(found, _Const):
            return gast.copy_location(gast.Constant(value=found.value, kind=None), node)
        if isinstance(found, _Ref):
            return gast.copy_location(copy.deepcopy(found.node), node)
        if _displayable(found):
            cls = gast.List if found.kind == trees.LIST else gast.Tuple
            return gast.copy_location(cls(elts=[self.materialize(i, node) for i in found.items],
                                          ctx=gast.Load()), node)
        what = "a dict" if found.kind == trees.DICT else f"a {found.cls.__name__}" if \
            found.kind in trees.FIELDS else "a nested container"
        if found.kind == trees.METHOD:
            name = f"{found.items[0].cls.__name__}.{found.keys[0]}"
            raise self.error(node, f"the method {name} used as a value here: srcad inlines a "
                             "method where it is called", "Call it on the object "
                             "(model.apply(x)), or pass it to a function of your own (inlined, "
                             "calling it); a library function cannot call it.")
        raise self.error(node, f"{what} used whole here: srcad lowers containers by their "
                         "constant keys when the derivative is built",
                         "Read its items with constant keys (params['W'], model.W), loop "
                         "over it, or pass it to a function of your own (inlined); a library "
                         "function takes its arrays, not the container.")

    def expr(self, node, pre):
        """``node`` with every container it reads lowered."""
        lowering = self

        class Rewrite(gast.NodeTransformer):
            def generic(self, n):
                found = lowering.resolve(n, pre, "item")
                if found is not None:
                    return lowering.materialize(found, n)
                return self.generic_visit(n)

            def visit_Subscript(self, n):
                if isinstance(n.ctx, gast.Store) and isinstance(
                        lowering.resolve(n.value, None, ""), _Static):
                    raise lowering.error(n, "writing into a container", "Build a new "
                                         "container (a dict literal) instead of writing into "
                                         "one.")
                return self.generic(n)

            def visit_Attribute(self, n):
                above = lowering.super_of(n.value) if isinstance(n.ctx, gast.Load) else None
                base = lowering.resolve(n.value, None, "") if isinstance(n.ctx, gast.Load) \
                    and above is None else None
                if above is not None and isinstance(lowering.class_attribute(
                        above[0].cls, n.attr, above[1]), property) or isinstance(
                        base, _Static) and base.kind in trees.FIELDS and \
                        base.item(n.attr) is _MISSING and \
                        isinstance(getattr(base.cls, n.attr, None), property):
                    call = gast.copy_location(gast.Call(func=n, args=[], keywords=[]), n)
                    call.srcad_property = True
                    return lowering.helper_call(call, pre)
                return self.generic(n)

            def visit_Call(self, n):
                lowering.unpack(n)
                found = lowering.helper_call(n, pre)
                if found is not None:
                    return found
                return self.generic(n)

            def visit_IfExp(self, n):
                test = lowering.resolve(n.test, None, "")
                if isinstance(test, _Const):        # decided: the other branch is never read
                    return self.visit(n.body if test.value else n.orelse)
                return self.generic(n)

            visit_Name = visit_Dict = visit_DictComp = visit_Compare = generic
            visit_List = visit_Tuple = generic
        return Rewrite().visit(node)

    def unpack(self, call):
        """``f(*xs, **d)`` with ``xs`` and ``d`` containers: their items passed one by one
        (an item that is a container through a name bound to it)."""
        def node_of(item, where):
            if isinstance(item, _Static):
                name = self.fresh("item")
                self.env[name] = item
                return gast.copy_location(gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                                    type_comment=None), where)
            return self.materialize(item, where)
        args = []
        for a in call.args:
            found = self.resolve(a.value, None, "") if isinstance(a, gast.Starred) else None
            if isinstance(found, _Static):
                args += [node_of(i, a) for i in self.iterated(found)]
            elif isinstance(a, gast.Starred) and _flat_display(a.value):
                args += a.value.elts          # f(*(a, b)): f(a, b)
            else:
                args.append(a)
        keywords = []
        for k in call.keywords:
            found = self.resolve(k.value, None, "") if k.arg is None else None
            held = self.global_dict(k.value) if k.arg is None else None
            if k.arg is None and isinstance(k.value, gast.Dict) and all(
                    isinstance(key, gast.Constant) and type(key.value) is str
                    for key in k.value.keys):       # f(**{'b': y}): f(b=y)
                keywords += [gast.keyword(arg=key.value, value=v)
                             for key, v in zip(k.value.keys, k.value.values)]
            elif isinstance(found, _Static) and found.kind == trees.DICT:
                keywords += [gast.keyword(arg=key, value=node_of(i, k.value))
                             for key, i in zip(found.keys, found.items)]
            elif held is not None:      # f(**opts) of a global dict: opts['k'] read per call
                keywords += [gast.keyword(arg=key, value=gast.copy_location(gast.Subscript(
                    value=copy.deepcopy(k.value), slice=gast.Constant(value=key, kind=None),
                    ctx=gast.Load()), k.value)) for key in held.keys]
                call.srcad_keys = getattr(call, "srcad_keys", ()) + (held,)
            else:
                keywords.append(k)
        call.args, call.keywords = args, keywords

    def table_item(self, table, key, default, pre, hint):
        """``TABLE[key]`` (``default``: None) or ``TABLE.get(key, *default)`` of a global (or
        closure) dict of functions, with a key known when the derivative is built: the
        function as read from the table (``_Ref``: a call of it is a call of that function,
        the item a dependency), or the default; else None."""
        if not isinstance(table, gast.Name) or table.id in self.env or \
                self.counts.get(table.id) or table.id in self.params:
            return None
        held = self.src.namespace.resolve(table)
        if type(held) is not dict or not held or not all(
                callable(v) and not isinstance(v, type) and not trees.is_container(v)
                for v in held.values()):
            return None
        value = self.constant(key)
        if value is _MISSING:
            return None
        if value in held:
            return _Ref(gast.copy_location(gast.Subscript(
                value=copy.deepcopy(table), slice=gast.Constant(value=value, kind=None),
                ctx=gast.Load()), key))
        if default is None:
            raise self.error(key, f"{table.id} has no key {value!r} (it has "
                             f"{', '.join(map(repr, held))})", "Use one of its keys.")
        self.deps.append((ItemOf(held), value, UNRESOLVED))     # added later: rebuilt
        return self.item(default[0], pre, hint) if default else _Const(None)

    def global_dict(self, node):
        """``KeysOf`` the dict a global (or closure) name holds, when its keys are names;
        else None."""
        if not isinstance(node, gast.Name) or node.id in self.env or self.counts.get(node.id):
            return None
        value = self.src.namespace.resolve(node)
        if type(value) is not dict or not all(type(k) is str and k.isidentifier()
                                              for k in value):
            return None
        return KeysOf(self.src.namespace, node.id, tuple(value))

    def whole(self, node, pre):
        """The container ``node`` denotes when only a helper can take it whole (a dict, an
        object, a container holding one), else None. A dict display (``h({'W': x})``,
        ``h(dict(W=x))``) is one, its values assigned in ``pre``."""
        if isinstance(node, gast.Starred):
            return None
        if id(node) in self.star_displays:      # h((a, b)), h *-unpacking it
            return self.display(node, [] if pre is None else pre, "item")
        display = isinstance(node, gast.Dict) or isinstance(node, gast.Call) and (
            self.builtin(node.func, "dict") or self.container_class(node.func) is not None or
            self.replaced_of(node) is not None) or (  # h(Pair(a, b)), h(p._replace(b=c))
            _flat_display(node) and any(map(self.function_ref, node.elts)))  # h([f, g], x)
        found = self.resolve(node, pre if display else None, "item")
        if not isinstance(found, _Static):
            return None
        if isinstance(node, gast.Name) and node.id in self.star_passed:
            return found          # the helper *-unpacks it: it needs the items one by one
        if any(type(i) is _Ref for i in found.items):
            return found          # functions: the helper calls them (Inliner.function_items)
        try:
            self.materialize(found, node)
        except SrcadSyntaxError:
            return found
        return None

    def class_attribute(self, cls, attr, after=None):
        """``attr`` of class ``cls`` as its MRO gives it (the descriptor itself: a
        staticmethod, classmethod, property or function), or _MISSING; ``after``: looked up
        past that class of the MRO, as ``super()`` in a method of ``after`` does. The classes
        read are a dependency of the derivative: rebinding ``Cls.attr`` (here or in a base)
        rebuilds it."""
        mro = list(getattr(cls, "__mro__", (cls,)))
        if after is not None:
            mro = mro[mro.index(after) + 1:]
            for klass in mro:       # each class super() may find it in
                self.deps.append((AttributeOf(klass), attr, getattr(klass, attr, UNRESOLVED)))
                if attr in vars(klass):
                    break
        else:
            self.deps.append((AttributeOf(cls), attr, getattr(cls, attr, UNRESOLVED)))
        for klass in mro:
            if attr in vars(klass):
                return vars(klass)[attr]
        return _MISSING

    def super_of(self, node):
        """``super()`` (in a method, whose first parameter holds an object srcad lowers) or
        ``super(Cls, obj)``: ``(the object's container, the class whose successors in the
        object's MRO the lookup starts from)``; None for any other expression."""
        if not (isinstance(node, gast.Call) and self.builtin(node.func, "super")) or                 node.keywords:
            return None
        if node.args:
            if len(node.args) != 2:
                return None
            start = self.src.namespace.resolve(node.args[0])
            base = self.resolve(node.args[1], None, "")
        else:
            fn = self.src.fn        # as Python: its __class__ cell and first parameter
            code = getattr(fn, "__code__", None)
            if code is None or "__class__" not in code.co_freevars or not code.co_argcount:
                raise self.error(node, "super() outside a method of a class",
                                 "Call super() in a method whose first parameter is the "
                                 "object (self), or write super(Cls, obj).")
            start = fn.__closure__[code.co_freevars.index("__class__")].cell_contents
            base = self.env.get(code.co_varnames[0])
        if not isinstance(base, _Static) or base.kind not in trees.FIELDS:
            return None             # refused where the call is (a method of no container)
        if not isinstance(start, type) or start not in getattr(base.cls, "__mro__", ()):
            raise self.error(node, "super(): the object is not an instance of the class",
                             "Pass the class and an object of it (super(Cls, self)).")
        return base, start

    def method_of(self, base, attr, node, after=None):
        """The method ``base.attr`` calls, found in the class bodies of the object's MRO (past
        class ``after``: ``super().attr``), and what its first parameter is bound to: a plain
        method (or a property's getter) the object, a classmethod the object's class (a
        container of no fields: its class attributes only), a staticmethod nothing (returned
        as the staticmethod)."""
        found = self.class_attribute(base.cls, attr, after)
        if isinstance(found, property) and getattr(node, "srcad_property", False):
            found = found.fget            # self.Wt of a @property: its getter
        if isinstance(found, classmethod) and isinstance(found.__func__, types.FunctionType):
            return found.__func__, _Static(base.kind, base.cls, (), ())
        if isinstance(found, staticmethod) and isinstance(found.__func__, types.FunctionType):
            return found, None
        if not isinstance(found, types.FunctionType):
            raise self.error(node, f"{base.cls.__name__}.{attr} is not a method srcad can "
                             "inline", "Call a plain method, a classmethod, a staticmethod or "
                             "a module-level function.")
        return found, base

    def inlined(self, node, any_helper=False, pre=None):
        """``(function, {parameter: container}, method's object or None)`` of a call of a
        user function (or a method of a container's class) passing a container whole, or
        with ``any_helper`` of any module-level function as written; else None. ``pre``: where
        the values of a dict display passed whole are assigned (None: only probed)."""
        method = base = None
        called = None               # an object called: model(X), self.layer1(h)
        if not isinstance(node.func, gast.Attribute):
            called = self.resolve(node.func, None, "")
        else:
            owner = self.resolve(node.func.value, None, "")
            if isinstance(owner, _Static) and owner.kind in trees.FIELDS and \
                    node.func.attr in owner.keys:
                called = owner.item(node.func.attr)
        if isinstance(called, _Static) and called.kind == trees.METHOD:
            base = called.items[0]          # fn(z) of fn = model.forward: the method on it
            method, base = self.method_of(base, called.keys[0], node)
        elif isinstance(called, _Static) and called.kind in trees.FIELDS:    # model(X)
            base, method = called, getattr(called.cls, "__call__", None)
            if not isinstance(method, types.FunctionType):
                raise self.error(node, f"a {called.cls.__name__} is called here, and its class "
                                 "has no __call__ method srcad can inline", "Call one of its "
                                 "methods, or give the class a plain __call__ method.")
        elif isinstance(node.func, gast.Attribute) and self.super_of(node.func.value):
            base, start = self.super_of(node.func.value)     # super().forward(x)
            method, base = self.method_of(base, node.func.attr, node, after=start)
        elif isinstance(node.func, gast.Attribute):
            base = self.resolve(node.func.value, None, "")
            if isinstance(base, _Static) and base.kind in trees.FIELDS \
                    and node.func.attr not in base.keys:
                method, base = self.method_of(base, node.func.attr, node)
        wholes = [self.whole(a, pre) for a in node.args]
        keywords = {k.arg: self.whole(k.value, pre) for k in node.keywords}
        probed = method is None and not any(wholes) and not any(keywords.values())
        if probed and not (any_helper and self.function_ref(node.func)):
            return None
        fn = method.__func__ if isinstance(method, staticmethod) else \
            method or self.src.namespace.resolve(node.func)
        module = getattr(fn, "__module__", "") or ""
        if not isinstance(fn, types.FunctionType) or module.startswith(("numpy", "srcad")) or \
                _is_library(fn):
            return None         # refused where the container is used whole (a library's
        #                         method, namedtuple's _asdict: never inlined from its source)
        if any_helper and (any(isinstance(a, gast.Starred) for a in node.args) or
                           any(k.arg is None for k in node.keywords)):
            return None         # f(*xs): probed once its items are spelled out
        try:
            params = self.parameters(node, fn, method)
        except TypeError as exc:
            if probed:
                return None     # refused where it is inlined
            raise self.error(node, f"bad call to {fn.__name__}: {exc}", "Fix the arguments.")
        views = {}
        if method is not None and not isinstance(method, staticmethod):
            views[next(iter(inspect.signature(fn).parameters))] = base
        for a, whole, name in zip(node.args, wholes, params):
            key = self.constant(a) if whole is None else _MISSING
            if name is None:
                continue        # an item of its *args: bound by the inliner (star_view)
            if whole is not None:
                views[name] = whole
            elif key is not _MISSING and type(key) in (int, str, bool):
                views[name] = _Const(key)    # self.layers[i] with i = 0 passed
        views.update({k.arg: keywords[k.arg] for k in node.keywords
                      if keywords[k.arg] is not None})
        return fn, views, method

    def helper_call(self, node, pre):
        """A call of a user function (or a method of a container's class) passing a
        container whole: the call is marked ``srcad_inline = (function, {parameter:
        container}, the callee as written, the structure it returns)`` for the inliner, which
        lowers the helper with those containers bound; the arguments it passes are
        placeholders. None for any other call."""
        found = self.inlined(node, pre=pre)
        if found is None:
            return None
        returned = self.helper_output(node, pre, "item", found)
        if returned is not None:        # used whole: a flat tuple of its leaves, or refused
            return self.materialize(returned, node)
        return self.marked(node, pre, *found)

    def marked(self, node, pre, fn, views, method, tree=None):
        """The call of helper ``fn`` the inliner inlines with ``views`` bound."""
        args = [gast.copy_location(gast.Constant(value=None, kind=None), a)
                if isinstance(views.get(name), _Static) else self.expr(a, pre)
                for a, name in zip(node.args, self.parameters(node, fn, method))]
        kw = [gast.keyword(arg=k.arg, value=gast.Constant(value=None, kind=None)
                           if isinstance(views.get(k.arg), _Static) else self.expr(k.value, pre))
              for k in node.keywords]
        if method is not None and not isinstance(method, staticmethod):
            args.insert(0, gast.copy_location(gast.Constant(value=None, kind=None), node))
        call = gast.copy_location(gast.Call(func=gast.Name(id=fn.__name__, ctx=gast.Load(),
                                                           annotation=None, type_comment=None),
                                            args=args, keywords=kw), node)
        call.srcad_inline = (fn, views, None if method else node.func, tree)
        if hasattr(node, "srcad_keys"):
            call.srcad_keys = node.srcad_keys
        return call

    @staticmethod
    def parameters(node, fn, method) -> list:
        """The parameter of ``fn`` each positional argument of ``node`` binds (None for an
        item of its ``*args``)."""
        placeholder = [object() for _ in node.args]
        bound = inspect.signature(fn).bind(*([object()] if method is not None and not
                                             isinstance(method, staticmethod) else []),
                                           *placeholder,
                                           **{k.arg: object() for k in node.keywords})
        names = {id(v): k for k, v in bound.arguments.items()}
        return [names.get(id(ph)) for ph in placeholder]

    def returns_container(self, node) -> bool:
        """Is ``node`` a call of a user helper returning a container?"""
        found = None if self.outputs is None else self.inlined(node, any_helper=True)
        return found is not None and self.outputs(found[0], found[1]) is not None

    def helper_output(self, node, pre, hint, found=None):
        """A call of a user helper returning a container (``r = forward(p, x)`` of ``return
        {'h': h, 'out': out}``): its leaves assigned to names of their own (``r_h, r_out =
        forward(p, x)``, the helper returning the tuple of its leaves), and the container of
        them. None for a helper returning one value, or any other call."""
        if pre is None or self.outputs is None:
            return None
        done = self.returns.get(id(node))
        if done is not None:
            return done[1]
        found = found or self.inlined(node, any_helper=True, pre=pre)
        tree = None if found is None else self.outputs(found[0], found[1])
        if tree is None:
            return None
        call = self.marked(node, pre, *found, tree=tree)
        names = leaf_names(hint or "item", tree, self.taken)
        pre.append(gast.copy_location(gast.Assign(
            targets=[gast.copy_location(gast.Tuple(elts=[_load(n, gast.Store()) for n in names],
                                                   ctx=gast.Store()), node)],
            value=call, type_comment=None), node))
        static = _static_of(tree, iter(names))
        self.returns[id(node)] = (node, static)
        return static

    # -- statements -----------------------------------------------------------------------------

    def block(self, stmts) -> list:
        """The statements ``stmts`` lowered; those after one that always leaves the block (a
        ``return`` or ``raise``, or an ``if`` decided here whose taken branch does: ``if
        isinstance(p, dict): return ...``) are dead, and not lowered (they may read items the
        container has not)."""
        out: list = []
        for stmt in stmts:
            out += self.stmt(stmt)
            if _leaves(out):
                break
        return out

    def bind(self, target, found, stmt, pre):
        """Bind ``target`` to ``found`` (a container, leaf or constant)."""
        if isinstance(target, gast.Name):
            if isinstance(found, (_Static, _Const)) or self.function_item(found, target):
                if self.counts.get(target.id, 0) > 1:
                    raise self.error(stmt, f"{target.id!r} holds a container and is assigned "
                                     "more than once", "Give each container its own name.")
                self.env[target.id] = found
                return
            pre.append(gast.copy_location(gast.Assign(
                targets=[target], value=self.materialize(found, stmt), type_comment=None),
                stmt))
            return
        if isinstance(target, (gast.Tuple, gast.List)) and isinstance(found, _Static) and \
                found.kind in (trees.LIST, trees.TUPLE, trees.NAMEDTUPLE, trees.DICT):
            items = self.iterated(found)
            if len(items) != len(target.elts) or any(isinstance(e, gast.Starred)
                                                     for e in target.elts):
                raise self.error(stmt, f"unpacking {len(items)} items into "
                                 f"{len(target.elts)} names", "Unpack as many names as the "
                                 "container has items.")
            for t, item in zip(target.elts, items):
                self.bind(t, item, stmt, pre)
            return
        raise self.error(stmt, "assigning a container there", "Assign containers to names.")

    def stmt(self, stmt) -> list:
        pre: list = []
        if isinstance(stmt, gast.Return) and self.output and stmt.value is not None:
            value = copy.deepcopy(stmt.value)      # lowered below if not a container
            found = self.returned(value, pre, "out")
            if isinstance(found, _Static) and self.whole_output(found, value):
                leaves: list = []
                tree = self.output_tree(found, leaves, value)
                if self.tree is not _MISSING and tree != self.tree:
                    raise self.error(stmt, f"this return gives {trees.describe(tree)}, another "
                                     f"gives {trees.describe(self.tree)}", "Return containers "
                                     "of one structure (the same keys and types) on every "
                                     "path.")
                self.tree = tree
                stmt.value = gast.copy_location(gast.Tuple(elts=leaves, ctx=gast.Load()), value)
                return pre + [stmt]
            self.plain.append(stmt)
            pre = []           # the value is lowered as any other (below)
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
            hint = stmt.targets[0].id if isinstance(stmt.targets[0], gast.Name) else "item"
            # a display of displays, or one a call unpacks (xs = [a, b]; f(*xs)): a container
            found = self.display(stmt.value, pre, hint) if isinstance(
                stmt.targets[0], gast.Name) and (_nested_display(stmt.value) or (
                    _flat_display(stmt.value) and hint in self.unpacked)) and \
                stmt.targets[0].id not in self.mutated else \
                self.resolve(stmt.value, pre, hint)
            if isinstance(found, _Static) or self.function_item(found, stmt.targets[0]) or (
                    found is not None and isinstance(stmt.targets[0], (gast.Tuple, gast.List))):
                self.bind(stmt.targets[0], found, stmt, pre)
                return pre          # (a leaf written into an array, a[i] = m.b: an expression)
            if isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.BinOp) and \
                    self.counts.get(hint) == 1 and self.of_structure(stmt.value):
                # n_layers = len(params) // 2: an int the structure decides (a loop's bound)
                self.env[hint] = _Const(self.constant(stmt.value))
                return pre
        if isinstance(stmt, gast.For):
            zipped = self.zip_with_lists(stmt.iter, pre)
            if zipped is not None:
                return pre + self.unroll(stmt, *zipped)
            found = self.resolve(stmt.iter, pre, "item")
            if isinstance(found, _Static):
                return pre + self.unroll(stmt, found)
            keys = self.constant_keys(stmt)
            if keys is not None:
                return pre + self.unroll(stmt, _Static(trees.TUPLE, tuple, range(len(keys)),
                                                       [_Const(k) for k in keys]))
        if isinstance(stmt, gast.If):
            test = self.constant(stmt.test)
            if test is not _MISSING:          # if 'b' in params: decided by the structure
                return self.block(stmt.body if test else stmt.orelse)
        if isinstance(stmt, (gast.If, gast.While)):
            stmt.test = self.expr(stmt.test, pre)
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return pre + [stmt]
        if isinstance(stmt, gast.For):
            stmt.iter = self.expr(stmt.iter, pre)
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return pre + [stmt]
        if isinstance(stmt, gast.With):         # the block is lowered as the function is
            for item in stmt.items:
                item.context_expr = self.expr(item.context_expr, pre)
            stmt.body = self.block(stmt.body)
            return pre + [stmt]
        if isinstance(stmt, gast.Try):
            return self.decided(stmt)
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            return [stmt]            # refused by the fence
        stmt = self.expr(stmt, pre)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and \
                self.counts.get(stmt.targets[0].id) == 1 and len(stmt.targets) == 1:
            # r = range(len(xs)) bound once (a derivative's own loops): for k in r: is a loop
            # over constants, unrolled when its body reads a container with k; so is
            # range(n) of n = len(params) // 2, an int known when the derivative is built
            ident = stmt.targets[0].id
            if isinstance(stmt.value, gast.Call) and self.builtin(stmt.value.func, "range"):
                self.ranges[ident] = self.range_of(stmt.value)
            value = self.constant(stmt.value)
            if type(value) in (int, str):
                self.values[ident] = value
            elif (type(value) is bool or isinstance(value, type)) and ident not in self.params:
                self.env[ident] = _Const(value)     # _is = isinstance(p, tuple); if _is:
        return pre + [stmt]

    def constant_keys(self, loop):
        """The constants ``for k in ('a', 'b'):`` (or a ``range`` of constants) goes over,
        when its body reads a container with ``k`` or holds a ``try`` (which its reads may
        decide): unrolled, one copy per constant; else None (an ordinary loop)."""
        it = loop.iter
        values = self.range_of(it) if isinstance(it, gast.Call) else self.ranges.get(it.id) \
            if isinstance(it, gast.Name) else _constants(it)
        if values is None or len(values) > _MAX_UNROLLED or not isinstance(
                loop.target, gast.Name) or loop.orelse:
            return None
        target = loop.target.id
        for n in (n for s in loop.body for n in gast.walk(s)):
            if isinstance(n, gast.Try):
                return values
            key = n.slice if isinstance(n, gast.Subscript) else n.args[0] if isinstance(
                n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                n.func.attr == "get" and n.args else None
            base = n.value if isinstance(n, gast.Subscript) else \
                n.func.value if key is not None else None
            if key is not None and any(isinstance(m, gast.Name) and m.id == target
                                       for m in gast.walk(key)) and \
                    isinstance(self.resolve(base, None, ""), _Static):
                return values
        return None

    def of_structure(self, value) -> bool:
        """Is ``value`` integer arithmetic on what the containers' structure gives (``len``
        of a container), known when the derivative is built?"""
        return type(self.constant(value)) is int and any(
            isinstance(n, gast.Call) and isinstance(self.resolve(n, None, ""), _Const)
            for n in gast.walk(value))

    def zip_with_lists(self, it, pre):
        """``zip(xs, (np.tanh, relu))``, containers zipped with values that are not (a list
        argument), as ``for`` goes over it: (its rows, one per item of the shortest
        container, the value's items read ``xs[k]``; per row the test that every value has
        that many items, as zip stops at the shortest). None for any other iterable."""
        if not (isinstance(it, gast.Call) and self.builtin(it.func, "zip")) or it.keywords or \
                any(isinstance(a, gast.Starred) for a in it.args) or \
                self.src.namespace.lookup("len") is not builtins.len:
            return None
        known = [isinstance(a, (gast.List, gast.Tuple)) and any(map(self.function_ref, a.elts))
                 or self.resolve(a, None, "") is not None for a in it.args]
        if all(known) or not any(known):
            return None
        found = [self.resolve(a, pre, "item") if k else None for a, k in zip(it.args, known)]
        if not all(isinstance(f, _Static) for f in found if f is not None):
            return None         # a leaf or a constant zipped: refused where it is used
        lists = {}
        for i, (a, f) in enumerate(zip(it.args, found)):
            if f is None:
                name = a.id if isinstance(a, gast.Name) and not self.counts.get(a.id) else None
                if name is None:          # evaluated once, before the loop
                    name = self.fresh("items")
                    pre.append(gast.copy_location(gast.Assign(
                        targets=[_load(name, gast.Store())], value=self.expr(a, pre),
                        type_comment=None), a))
                lists[i] = name
        n = min(len(self.iterated(f)) for f in found if f is not None)
        rows, tests = [], []
        for k in range(n):
            row = [self.iterated(f)[k] if f is not None else _Item(gast.Subscript(
                value=_load(lists[i]), slice=gast.Constant(value=k, kind=None),
                ctx=gast.Load())) for i, f in enumerate(found)]
            rows.append(_Static(trees.TUPLE, tuple, range(len(row)), row))
            checks = [gast.Compare(left=gast.Call(func=_load("len"), args=[_load(name)],
                                                  keywords=[]),
                                   ops=[gast.Gt()], comparators=[gast.Constant(value=k,
                                                                               kind=None)])
                      for name in lists.values()]
            tests.append(checks[0] if len(checks) == 1 else gast.BoolOp(op=gast.And(),
                                                                         values=checks))
        return _Static(trees.TUPLE, tuple, range(n), rows), tests

    def returned(self, node, pre, hint):
        """What a ``return`` gives: a container for a dict literal, a display (holding
        displays too) or any container expression, else a leaf or None."""
        if isinstance(node, gast.Dict) and None not in node.keys:
            keys = [self.constant(k) for k in node.keys]
            if _MISSING not in keys:
                return _Static(trees.DICT, dict, keys, [self.returned(v, pre, f"{hint}_{k}")
                                                          for k, v in zip(keys, node.values)])
        if isinstance(node, (gast.List, gast.Tuple)) and not any(
                isinstance(e, gast.Starred) for e in node.elts):
            kind = trees.LIST if isinstance(node, gast.List) else trees.TUPLE
            return _Static(kind, list if kind == trees.LIST else tuple, range(len(node.elts)),
                           [self.returned(e, pre, f"{hint}_{i}")
                            for i, e in enumerate(node.elts)])
        return self.item(node, pre, hint)

    def whole_output(self, found, node) -> bool:
        """Does the returned container hold a dict, a namedtuple or a dataclass (given back
        by its leaves), rather than being a flat list or tuple (returned as it is)?"""
        try:
            self.materialize(found, node)
        except SrcadSyntaxError:
            return True
        return False

    def output_tree(self, found, leaves: list, node):
        """The structure of a returned container (``trees.structure``'s form), its leaves
        appended to ``leaves`` as the atoms the function returns instead."""
        if not isinstance(found, _Static):
            leaves.append(self.materialize(found, node))
            return None
        if not found.items:
            raise self.error(node, f"returning an empty {found.cls.__name__}",
                             "Return the values to differentiate.")
        return (found.kind, found.cls, tuple(found.keys),
                tuple(self.output_tree(i, leaves, node) for i in found.items))

    def decided(self, stmt) -> list:
        """A ``try`` whose body only reads containers with constant keys (``b =
        params['b']``), decided when the derivative is built as Python would run it: the
        body, ``else`` and ``finally``; or, where a read finds no item, the statements before
        it, the handler catching its error and ``finally``. Any other ``try`` is left to the
        fence."""
        outcomes = [self.read_outcome(s) for s in stmt.body]
        if not stmt.body or None in outcomes:
            return [stmt]
        out: list = []
        for s, missing in zip(stmt.body, outcomes):
            if missing is not False:
                handler = handler_for(self.src, stmt, missing)
                if handler is None:
                    self.resolve(s.value, None, "")     # raises the located error
                return out + self.block(then_finally(self.src, stmt, handler.body))
            out += self.stmt(s)
        return out + self.block(then_finally(self.src, stmt, stmt.orelse))

    def read_outcome(self, stmt):
        """For ``name = c[k]...`` reading containers with constant keys and fields only: the
        exception class Python raises running it, or False; None for any other statement."""
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and
                isinstance(stmt.targets[0], gast.Name)):
            return None
        chain = []
        node = stmt.value
        while isinstance(node, (gast.Subscript, gast.Attribute)):
            chain.append(node)
            node = node.value
        if not chain:
            return None
        current = self.resolve(node, None, "")
        for link in reversed(chain):
            if not isinstance(current, _Static):
                return None              # a read of an array, a number: known at run time
            if isinstance(link, gast.Attribute):
                current = current.item(link.attr) if current.kind in trees.FIELDS else _MISSING
                if current is _MISSING:
                    return AttributeError
                continue
            key = _MISSING if isinstance(link.slice, gast.Slice) else self.constant(link.slice)
            if key is _MISSING:
                return None
            if current.kind == trees.DICT:
                if key not in current.keys:
                    return KeyError
            elif current.kind not in _SEQUENCE or type(key) is not int:
                return TypeError
            elif not -len(current.items) <= key < len(current.items):
                return IndexError
            current = current.item(key)
        return False

    def unroll(self, loop, found, tests=None):
        jumps = [n for n in gast.walk(loop) if isinstance(n, (gast.Break, gast.Continue))]
        if jumps or loop.orelse:
            raise self.error(jumps[0] if jumps else loop, "break, continue or else in a loop "
                             "over a container (srcad unrolls it, one copy per item)",
                             "Use an if around the body instead.")
        out: list = []
        targets = {n.id for n in gast.walk(loop.target) if isinstance(n, gast.Name)}
        rebound = {n.id for s in loop.body for n in gast.walk(s)
                   if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        for k, item in enumerate(self.iterated(found)):
            saved = {t: self.env.pop(t) for t in targets if t in self.env}
            counts = {t: self.counts.get(t, 0) for t in targets}
            for t in targets:        # bound once per copy (also a name two loops bind)
                self.counts[t] = 1 if counts[t] == 1 or t not in rebound else counts[t]
            pre: list = []
            self.bind(copy.deepcopy(loop.target), item, loop, pre)
            body = pre + self.block(copy.deepcopy(loop.body))
            if tests:               # zip stops at its shortest list
                body = [gast.copy_location(gast.If(test=_located(tests[k], loop.iter),
                                                   body=body, orelse=[]), loop)]
            out += body
            self.counts.update(counts)
            for t in targets:
                self.env.pop(t, None)
            self.env.update(saved)
            if _leaves(body):       # this copy returns: the loop ends there, as in Python
                break
        if not out:
            out = [gast.copy_location(gast.Pass(), loop)]
        return out


def _literal(node):
    """The value of a display of constants (``(("sq", 2), ("cube", 3))``, nested tuples and
    lists of numbers, strings, None), or _MISSING."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and \
            isinstance(node.operand, gast.Constant) and type(node.operand.value) in (int, float):
        return -node.operand.value
    if isinstance(node, (gast.Tuple, gast.List)) and isinstance(node.ctx, gast.Load):
        items = [_literal(e) for e in node.elts]
        if any(i is _MISSING for i in items):
            return _MISSING
        return tuple(items) if isinstance(node, gast.Tuple) else items
    return _MISSING


def _known(value):
    """A value known when the derivative is built (a constant, or a tuple or list of them) as
    the ``_Const`` or ``_Static`` standing for it."""
    if isinstance(value, (tuple, list)):
        kind = trees.TUPLE if isinstance(value, tuple) else trees.LIST
        return _Static(kind, type(value), range(len(value)), [_known(v) for v in value])
    return _Const(value)


def _leaves(stmts) -> bool:
    """Does the block ``stmts`` always end in a ``return`` or ``raise`` (through both branches
    of an ``if``)?"""
    last = stmts[-1] if stmts else None
    if isinstance(last, gast.If):
        return _leaves(last.body) and _leaves(last.orelse)
    return isinstance(last, (gast.Return, gast.Raise))


def _located(node, where):
    """``node`` and every node in it at ``where``'s place in the source."""
    for n in gast.walk(node):
        gast.copy_location(n, where)
    return node


def _load(ident, ctx=None):
    return gast.Name(id=ident, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _flat_display(node) -> bool:
    """A list or tuple display with no ``*`` item."""
    return isinstance(node, (gast.List, gast.Tuple)) and isinstance(node.ctx, gast.Load) and \
        not any(isinstance(e, gast.Starred) for e in node.elts)


def _nested_display(node) -> bool:
    """A list or tuple display holding displays (``pairs = [(a, b), (b, a)]``): a container,
    so ``for a, b in pairs`` unrolls."""
    return isinstance(node, (gast.List, gast.Tuple)) and any(
        isinstance(e, (gast.List, gast.Tuple, gast.Dict)) for e in node.elts) and not any(
        isinstance(e, gast.Starred) for e in node.elts)


def _mutated(fdef) -> set:
    """Names the code changes in place or binds again (``pairs.append(p)``,
    ``pairs[0] = p``, ``pairs += [p]``, two assignments): a display of displays bound to one
    stays an ordinary list."""
    out: set = set()
    stores: dict = {}
    for n in walk(fdef):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and isinstance(
                n.func.value, gast.Name):
            out.add(n.func.value.id)
        elif isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and \
                isinstance(n.value, gast.Name):
            out.add(n.value.id)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            out.add(n.target.id)
        elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
    return out | {name for name, count in stores.items() if count > 1}


def _indexed_at_run_time(fdef) -> set:
    """Names read with a key computed at run time (``pairs[k]`` where ``k = ks[i]``: no
    constant, nor a loop's variable, which a loop over constants unrolls): a display of
    displays bound to one stays an ordinary list (generated code read again, its generic
    variant indexing a list of tuples so)."""
    computed = {t.id for n in walk(fdef) if isinstance(n, gast.Assign) and isinstance(
        n.value, (gast.Subscript, gast.Call, gast.BinOp)) for t in n.targets
        if isinstance(t, gast.Name)}
    return {n.value.id for n in walk(fdef) if isinstance(n, gast.Subscript) and isinstance(
        n.value, gast.Name) and isinstance(n.slice, gast.Name) and n.slice.id in computed}


def lower_containers(src: Source, fdef, structures: dict, views: dict | None = None,
                     functions: frozenset = frozenset(), output: bool = False,
                     outputs=None, local: frozenset = frozenset(),
                     constants: dict | None = None, types: dict | None = None):
    """Lower ``fdef`` (in place) for container parameters of ``structures`` (parameter name
    -> ``trees.structure``), and every container literal it makes; ``views`` (an inlined
    helper's parameter -> the container its caller passed, see ``helper_call``) are bound
    as they are; ``functions`` are the leaves holding functions (``acts_0`` of ``acts =
    [np.tanh, relu]``), which a name bound to one reads where it is called, ``local`` the
    names of local functions (``closures``), items of displays as module-level functions
    are. ``output`` (the
    function differentiated, not a helper): a returned dict, namedtuple or dataclass (or a
    tuple or list holding one) is returned as the tuple of its leaves, and its structure is
    the result (else None). ``outputs(helper, views)``: the structure of the container a
    call of a user helper returns (else None), whose leaves its caller then reads by name.
    ``constants`` (parameter or leaf name -> a str): the str values the derivative is built
    for (``Spec.callables``), read as those constants where the function does not assign
    the parameter (``TABLE[name]``, ``if mode == 'train':`` decided); ``types`` (parameter
    name -> class): the types of the arguments it is built for, which ``isinstance(p, T)``
    and ``type(p)`` read where the function does not assign the parameter.
    ``fdef.srcad_deps`` lists the classes whose calls were made containers (for the
    cache); ``fdef.srcad_containers`` the names bound to containers in ``fdef``, which its
    nested functions and lambdas read as their ``views``."""
    lowering = _Lowering(src, fdef, output)
    lowering.functions = functions
    lowering.local = local
    lowering.outputs = outputs
    fdef.srcad_deps = lowering.deps
    fdef.srcad_containers = {}
    rebound = {n.id for n in walk(fdef) if isinstance(n, gast.Name)
               and isinstance(n.ctx, (gast.Store, gast.Del))}
    lowering.env.update({k: v for k, v in (views or {}).items()     # a constant passed to a
                         if not (isinstance(v, _Const) and k in rebound)})  # parameter kept
    lowering.env.update({k: _Const(v) for k, v in (constants or {}).items()
                         if k not in rebound and k not in structures})
    lowering.types = {k: v for k, v in (types or {}).items() if k not in rebound}
    args = fdef.args
    kw_defaults = []
    for field in ("posonlyargs", "args", "kwonlyargs"):
        new = []
        star = "vararg" if field == "args" else "kwarg" if field == "kwonlyargs" else ""
        given = getattr(args, star) if star else None
        if given is not None and (given.id in structures or given.id in lowering.env):
            setattr(args, star, None)   # *args as positional leaves, **kwargs as keyword-only
        else:                           # ones (a helper's: its call's items, in ``views``)
            given = None
        for i, a in enumerate(getattr(args, field) + [given] * (given is not None and (
                given.id in structures))):
            tree = structures.get(a.id)
            if tree is None:
                new.append(a)
                if field == "kwonlyargs":
                    kw_defaults.append(args.kw_defaults[i])
                continue
            names = leaf_names(a.id, tree, lowering.taken)
            lowering.env[a.id] = _static_of(tree, iter(names), constants)
            leaves = [gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                      for n in names]
            new += leaves
            if field == "kwonlyargs":
                kw_defaults += [None] * len(leaves)
        setattr(args, field, new)
    args.kw_defaults = kw_defaults
    _refuse_own_key_loops(lowering, fdef)
    if not _uses_containers(fdef, lowering) and not structures and not views and \
            not lowering.env and not any(
            isinstance(n, gast.Call) and (lowering.container_class(n.func) is not None or
                                          lowering.returns_container(n) or
                                          lowering.tests_type(n))
            for n in walk(fdef)):
        return None
    fdef.body = lowering.block(fdef.body)
    fdef.srcad_containers = {k: v for k, v in lowering.env.items() if isinstance(v, _Static)}
    if lowering.tree is _MISSING:
        return None
    if lowering.plain:
        raise lowering.error(lowering.plain[0], f"this return gives one value, another gives "
                             f"{trees.describe(lowering.tree)}", "Return containers of one "
                             "structure (the same keys and types) on every path.")
    return lowering.tree


def function_items(views: dict, bind) -> dict:
    """``views`` with each function item (``_Ref``: ``np.sin``, a lambda of the caller's)
    replaced by the name ``bind(node)`` gives it in the helper's scope."""
    def walk(item):
        if type(item) is _Ref:
            return _Ref(gast.copy_location(gast.Name(id=bind(item.node), ctx=gast.Load(),
                                                     annotation=None, type_comment=None),
                                           item.node))
        if isinstance(item, _Static):
            return _Static(item.kind, item.cls, item.keys, [walk(i) for i in item.items])
        return item
    return {k: walk(v) for k, v in views.items()}


def star_view(passed):
    """The container a helper's ``*args`` (a tuple of atoms) or ``**kwargs`` (a dict of them)
    holds for one call: its items the caller's names and constants."""
    def item(atom):
        return _Leaf(atom.id) if isinstance(atom, gast.Name) else _Const(atom.value)
    if isinstance(passed, dict):
        return _Static(trees.DICT, dict, list(passed), [item(a) for a in passed.values()])
    return _Static(trees.TUPLE, tuple, range(len(passed)), [item(a) for a in passed])


def renamed(views: dict, rename: dict) -> tuple[dict, set]:
    """``views`` with their leaves' names as the caller's scope renames them, and those
    names."""
    found: set = set()

    def walk(item):
        if isinstance(item, _Leaf):
            ident = rename.get(item.ident, item.ident)
            found.add(ident)
            return _Leaf(ident)
        if isinstance(item, _Static):
            return _Static(item.kind, item.cls, item.keys, [walk(i) for i in item.items])
        return item
    return {k: walk(v) for k, v in views.items()}, found


def _refuse_own_key_loops(lowering, fdef) -> None:
    """Refuse ``for k in p: ... p[k]`` over a parameter ``p`` that is no container in this
    build (the derivative made without arguments, ``srcad.export(f)``): Python reads a
    dict's keys so, an array would be indexed by its own rows; the derivative built for a
    dict argument unrolls the loop over its keys."""
    for loop in walk(fdef):
        if not (isinstance(loop, gast.For) and isinstance(loop.iter, gast.Name) and
                isinstance(loop.target, gast.Name)) or loop.iter.id not in lowering.params \
                or loop.iter.id in lowering.env or lowering.counts.get(loop.iter.id):
            continue
        for n in (n for s in loop.body for n in walk(s)):
            if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and \
                    n.value.id == loop.iter.id and isinstance(n.slice, gast.Name) and \
                    n.slice.id == loop.target.id:
                raise lowering.error(n, f"{n.value.id}[{n.slice.id}] in a loop over "
                                     f"{n.value.id}: the keys of a dict, which this "
                                     f"derivative, built without arguments, does not know",
                                     "Call the derivative with the dict (it is built for its "
                                     "keys), or export it with specialize_for=(the "
                                     "arguments,).")


def _uses_containers(fdef, lowering) -> bool:
    """Does the body make a container srcad lowers (a dict literal, ``dict(...)``, a name
    bound to a display of displays, a display holding a function: ``(np.tanh, relu)``), or
    unpack one in a call (``f(*xs, **d)``, or ``h(xs)`` of a helper unpacking it)?"""
    mutated = _mutated(fdef)
    return bool(lowering.star_passed or lowering.star_displays) or any(
        isinstance(n, (gast.Dict, gast.DictComp, gast.Starred)) or (
        isinstance(n, gast.keyword) and n.arg is None) or (
        isinstance(n, (gast.List, gast.Tuple)) and any(map(lowering.function_ref, n.elts))) or (
        isinstance(n, gast.Assign) and _nested_display(n.value) and not (
            isinstance(n.targets[0], gast.Name) and n.targets[0].id in mutated)) or (
        isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "dict")
        for n in walk(fdef))


def param_names(fdef, structures: dict) -> list[str]:
    """The parameters of ``fdef`` once lowered for ``structures`` (as ``lower_containers``
    names them), positional (``*args`` last) then keyword-only (``**kwargs`` last)."""
    taken = names_in(fdef)
    out: list[str] = []
    a = fdef.args
    for p in a.posonlyargs + a.args + [a.vararg] * bool(a.vararg) + a.kwonlyargs + [
            a.kwarg] * bool(a.kwarg):
        tree = structures.get(p.id)
        out += [p.id] if tree is None else leaf_names(p.id, tree, taken)
    return out
