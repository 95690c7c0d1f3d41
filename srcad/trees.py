"""Containers of arrays (pytrees) passed as arguments: their structure, their leaves in order,
and a derivative rebuilt with the argument's structure and types.

A container is a dict, a namedtuple, a dataclass instance, an object of a user class (its
attributes), a bound method of a user class on a container (its object), or a list or tuple holding one of those or a function (a flat list or tuple of
arrays and floats is an ordinary argument, lists being supported by the transformers as they
are). Everything else is a leaf. ``structure(value)``
is a hashable description (the key of the derivative built for it, and what
``normalize/containers.py`` lowers ``params['W']`` with); ``leaves(value)`` lists the leaves
depth first, in the order of ``structure``'s paths.
"""
from __future__ import annotations

import copy
import dataclasses
import numbers
import types
from collections import OrderedDict

import numpy as np

__all__ = ["is_container", "structure", "flatten", "leaves", "paths", "rebuild", "differentiable",
           "describe_path", "build", "describe", "is_complex_value", "is_mixed"]

DICT, LIST, TUPLE, NAMEDTUPLE, DATACLASS = "dict", "list", "tuple", "namedtuple", "dataclass"
OBJECT = "object"      # an instance of a user class: its attributes (vars) are its items
METHOD = "method"      # a bound method of a user class on a container: its object, one item
FIELDS = (NAMEDTUPLE, DATACLASS, OBJECT)     # items read as attributes


_LEAF_TYPES = frozenset([np.ndarray, float, int, complex, np.float64, np.float32, str,
                         type(None), bool])


def _node(value):
    """(kind, keys, children) of a container node, or None for a leaf."""
    t = type(value)
    if t in _LEAF_TYPES:
        return None
    if t is dict or isinstance(value, dict):
        return DICT, tuple(value), tuple(value.values())
    if isinstance(value, tuple) and hasattr(t, "_fields"):
        return NAMEDTUPLE, tuple(t._fields), tuple(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        return DATACLASS, names, tuple(getattr(value, n) for n in names)
    if t is list or t is tuple:
        return (LIST if t is list else TUPLE), tuple(range(len(value))), tuple(value)
    if _user_object(value):
        fields = vars(value)
        return OBJECT, tuple(fields), tuple(fields.values())
    if _bound_method(value):
        return METHOD, (value.__func__.__name__,), (value.__self__,)
    return None


def _bound_method(value) -> bool:
    """``model.forward`` passed as a value: a method of the object's class (a user function)
    bound to a container holding no method bound to it (a cycle), whose leaves are then the
    object's, as a call of the method reads them."""
    if not isinstance(value, types.MethodType) or not isinstance(value.__func__,
                                                                  types.FunctionType):
        return False
    obj = value.__self__
    if getattr(type(obj), value.__func__.__name__, None) is not value.__func__:
        return False
    return _node(obj) is not None and not _reaches(obj, obj, set())


def _reaches(value, obj, seen: set) -> bool:
    """Does ``value`` hold, at any depth, a method bound to ``obj`` (or a cycle)?"""
    if type(value) in _LEAF_TYPES or isinstance(value, (types.FunctionType, type, np.ndarray)):
        return False
    if id(value) in seen:
        return True
    seen.add(id(value))
    if isinstance(value, types.MethodType):
        return value.__self__ is obj or _reaches(value.__self__, obj, seen)
    if isinstance(value, dict):
        children = tuple(value.values())
    elif isinstance(value, (list, tuple)):
        children = tuple(value)
    elif dataclasses.is_dataclass(value) or _user_object(value):
        children = tuple(vars(value).values()) if hasattr(value, "__dict__") else tuple(
            getattr(value, f.name) for f in dataclasses.fields(value))
    else:
        return False
    return any(_reaches(c, obj, seen) for c in children)


_LIBRARIES = frozenset(["numpy", "scipy", "builtins", "srcad", "sklearn", "jax", "torch",
                        "pandas", "functools", "collections", "types", "abc"])


def _user_object(value) -> bool:
    """An instance of a class of the user's (not a library's) with attributes of its own:
    a model object, whose attributes are its items."""
    t = type(value)
    return isinstance(getattr(value, "__dict__", None), dict) and not isinstance(
        value, (type, types.FunctionType, types.MethodType, types.ModuleType)) and \
        (t.__module__ or "").split(".")[0] not in _LIBRARIES and not (
            hasattr(value, "__array_function__") or hasattr(value, "__array_namespace__"))
    # (an array of another library, dask or cupy: a leaf, docs/arrays.md)


def flatten(value, out: list):
    """``structure(value)``, its leaves appended to ``out`` (one walk)."""
    t = type(value)
    if t in _LEAF_TYPES:
        out.append(value)
        return None
    if t is dict:
        return DICT, t, tuple(value), tuple([flatten(v, out) for v in value.values()])
    node = _node(value)
    if node is None:
        out.append(value)
        return None
    kind, keys, children = node
    return kind, t, keys, tuple([flatten(c, out) for c in children])


def is_container(value) -> bool:
    """Is ``value`` passed by its leaves (see the module docstring)?"""
    t = type(value)
    if t in _LEAF_TYPES:
        return False
    if t is dict:
        return True
    if t is list or t is tuple:
        return any(_node(v) is not None or _function(v) for v in value)
    return _node(value) is not None


def _function(value) -> bool:
    """A function held by a list or tuple (``acts = [np.tanh, relu]``): the list is a
    container, so ``acts[0](x)`` is a call of that leaf, which the derivative is built for."""
    return type(value) not in _LEAF_TYPES and callable(value) and not isinstance(value, type)


def structure(value):
    """None for a leaf; else ``(kind, type, keys, children structures)``."""
    node = _node(value)
    if node is None:
        return None
    kind, keys, children = node
    return kind, type(value), keys, tuple(structure(c) for c in children)


def leaves(value) -> list:
    out: list = []

    def walk(v):
        node = _node(v)
        if node is None:
            out.append(v)
        else:
            for c in node[2]:
                walk(c)
    walk(value)
    return out


def paths(tree, prefix=()) -> list[tuple]:
    """The key paths of ``tree``'s leaves, in the order of ``leaves``."""
    if tree is None:
        return [prefix]
    out = []
    for key, child in zip(tree[2], tree[3]):
        out += paths(child, prefix + (key,))
    return out


def describe_path(param: str, tree, path: tuple) -> str:
    """``params['layers'][0].W``: a leaf as the user reaches it."""
    text = param
    for key in path:
        kind = tree[0]
        text += f".{key}" if kind in FIELDS else f"[{key!r}]"
        tree = tree[3][tree[2].index(key)]
    return text


def differentiable(leaf) -> bool:
    """A leaf with a derivative: a float or complex number or array."""
    if isinstance(leaf, (bool, np.bool_)):
        return False
    if isinstance(leaf, np.ndarray) or isinstance(leaf, np.generic):
        return leaf.dtype.kind in "fc"
    return isinstance(leaf, (float, complex)) or (
        isinstance(leaf, numbers.Number) and not isinstance(leaf, numbers.Integral))


def rebuild(template, new_leaves):
    """``template``'s structure and container types with ``new_leaves`` (an iterator) in
    place of its leaves."""
    node = _node(template)
    if node is None:
        return next(new_leaves)
    kind, keys, children = node
    values = [next(new_leaves) if type(c) in _LEAF_TYPES else rebuild(c, new_leaves)
              for c in children]
    if kind == DICT:
        cls = type(template)
        return cls(zip(keys, values)) if cls in (dict, OrderedDict) else dict(zip(keys, values))
    if kind == NAMEDTUPLE:
        return type(template)(*values)
    if kind in (DATACLASS, OBJECT):
        out = copy.copy(template)
        for key, value in zip(keys, values):
            object.__setattr__(out, key, value)     # frozen dataclasses too
        return out
    if kind == METHOD:
        return types.MethodType(template.__func__, values[0])
    return values if kind == LIST else tuple(values)


def build(tree, new_leaves):
    """A container of structure ``tree`` (``structure``'s form, as ``normalize/containers.py``
    records a function's output) holding the items of ``new_leaves`` (an iterator)."""
    if tree is None:
        return next(new_leaves)
    kind, cls, keys, children = tree
    values = [build(c, new_leaves) for c in children]
    if kind == DICT:
        return cls(zip(keys, values)) if cls in (dict, OrderedDict) else dict(zip(keys, values))
    if kind == NAMEDTUPLE:
        return cls(*values)
    if kind in (DATACLASS, OBJECT):
        out = cls.__new__(cls)
        for key, value in zip(keys, values):
            object.__setattr__(out, key, value)     # frozen dataclasses too
        return out
    return values if kind == LIST else tuple(values)


def describe(tree) -> str:
    """``{'mean': ., 'sq': .}``, ``Stats(total=., scaled=.)``: a structure as messages show
    it (``.`` for a leaf)."""
    if tree is None:
        return "."
    kind, cls, keys, children = tree
    items = [describe(c) for c in children]
    if kind == DICT:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(keys, items)) + "}"
    if kind in FIELDS:
        return f"{cls.__name__}(" + ", ".join(f"{k}={v}" for k, v in zip(keys, items)) + ")"
    if kind == METHOD:
        return f"{items[0]}.{keys[0]}"
    if kind == LIST:
        return "[" + ", ".join(items) + "]"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


# -- complex values among the arguments --------------------------------------------------

def is_complex_value(v) -> bool:
    """A complex number, array, type or dtype, or a list, tuple or dict holding one."""
    if isinstance(v, (complex, np.complexfloating)):
        return True
    if isinstance(v, type):
        return issubclass(v, (complex, np.complexfloating))
    if isinstance(v, np.dtype):
        return v.kind == "c"
    if isinstance(v, np.ndarray):
        return v.dtype.kind == "c"
    if isinstance(v, (list, tuple, dict)):
        return any(is_complex_value(item) for item in (v.values() if isinstance(v, dict) else v))
    return False


def is_mixed(v) -> bool:
    """A list, tuple or dict holding both complex and real floating-point values."""
    kinds = set()

    def visit(x):
        if isinstance(x, (list, tuple, dict)):
            for item in (x.values() if isinstance(x, dict) else x):
                visit(item)
        elif is_complex_value(x):
            kinds.add("c")
        elif isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray)
                                                      and x.dtype.kind == "f"):
            kinds.add("r")
    visit(v)
    return len(kinds) == 2
