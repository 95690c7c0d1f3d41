"""The few helpers generated code calls (bound to ``_srcad`` in it). NumPy only, never
``np.asarray`` on user arrays, each small enough to read at a glance."""
from __future__ import annotations

import numpy as np

__all__ = ["unbroadcast", "broadcast_like", "zeros_like", "add_at", "expand_reduced",
           "Stack", "stack", "push", "pop", "list_adjoint", "add_list"]


def _shape(x):
    shape = getattr(x, "shape", None)
    return shape if shape is not None else np.shape(x)


def unbroadcast(g, like):
    """Sum ``g`` over the axes along which ``like`` was broadcast, to ``like``'s shape."""
    target = _shape(like)
    shape = _shape(g)
    if shape == target:
        return g
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(target) if n == 1 and shape[i + lead] != 1)
    g = np.sum(g, axis=axes, keepdims=False) if lead else np.sum(g, axis=axes, keepdims=True)
    if lead and len(axes) > lead:
        g = np.reshape(g, target)
    return g


def broadcast_like(t, like):
    """A tangent with ``like``'s shape (tangents of broadcast operands may be smaller)."""
    shape = _shape(like)
    if _shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


def zeros_like(x):
    """A zero derivative shaped like x (a float for Python numbers, a list for lists)."""
    if isinstance(x, (list, tuple)):
        return [zeros_like(v) for v in x]
    if isinstance(x, (float, int)):
        return 0.0
    return np.zeros_like(x, dtype=np.result_type(x, np.float32)
                         if np.issubdtype(np.result_type(x), np.inexact) else float)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer)):
            continue
        return False
    return True


def add_at(buffer, index, g):
    """``buffer[index] += g`` that also accumulates repeated fancy indices."""
    if isinstance(buffer, list):
        if isinstance(index, slice):
            for i, gi in zip(range(*index.indices(len(buffer))), g):
                buffer[i] = gi if buffer[i] is None else buffer[i] + gi
        else:
            buffer[index] = g if buffer[index] is None else buffer[index] + g
        return buffer
    if _is_basic(index):
        buffer[index] += g
    else:
        np.add.at(buffer, index, g)
    return buffer


def list_adjoint(x):
    """An adjoint for a list/tuple of arrays: one slot per element, None for 'no contribution'."""
    return [None] * len(x)


def add_list(a, b):
    """Sum of two list adjoints (None is zero)."""
    return [y if x is None else x if y is None else x + y for x, y in zip(a, b)]


def fill_list(g, like):
    """A list adjoint with zeros where it has None."""
    return [zeros_like(x) if gi is None else gi for gi, x in zip(g, like)]


def expand_reduced(g, x, axis, keepdims):
    """Broadcast the adjoint of a reduction back over x's shape."""
    shape = _shape(x)
    if axis is not None and not keepdims:
        axes = axis if isinstance(axis, tuple) else (axis,)
        g = np.expand_dims(g, tuple(a % len(shape) for a in axes))
    elif axis is None and not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return np.broadcast_to(g, shape)


def reduced_count(x, axis):
    """How many elements each output of a reduction over ``axis`` combines."""
    shape = _shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


class Stack:
    """The tape: values a loop or branch overwrites, pushed in the primal sweep and popped in
    the adjoint sweep, last in first out."""

    __slots__ = ("items",)

    def __init__(self):
        self.items = []

    def __len__(self):
        return len(self.items)


def stack():
    return Stack()


def push(tape, value):
    tape.items.append(value)


def pop(tape):
    return tape.items.pop()
