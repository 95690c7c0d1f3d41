"""Derivative rules of srcad's own runtime helpers, so generated code can be differentiated
again (``grad(grad(f))``, Hessians as forward over reverse, reverse over reverse).

Most helpers are linear in their first argument (``unbroadcast``, ``broadcast_like``,
``expand_reduced``, ``add_list``, ``sum_part``): the tangent applies the helper to the tangent and the
adjoint applies its transpose. ``take_and_zero`` (the adjoint of ``x[i] = v``) writes into its
buffer: forward mode follows it with its tangent rule; reverse mode never sees it, because
the normalizer spells it out as a read, a product and a write.
"""
import numpy as np

from srcad import runtime
from srcad.registry import (adjoint, complex_ok, d, linear, nondiff, real_valued,
                            returns_list, tangent, unary)
from srcad.runtime import (add_at, add_list, along_axis_index, astype, broadcast_like,
                           expand_reduced,
                           gather_sum, item, owned_copy, plus, rows_like, saved, scalar_items, seed_like, spread, sum_part,
                           take_and_zero, unbroadcast, unstack_like, unsum_part,
                           where_taken, zero_if_discrete)

nondiff(runtime.scalar_seed, runtime.zeros_like, runtime.tangent_zeros, runtime.output_zeros, runtime.reduced_count, runtime.dof_inverse,
        runtime.stop_gradient,
        runtime.last_write_mask, runtime.checkpoint_every, runtime.segment, reversed, slice)
# linear in the first argument: their tangent rules are derived (registry.linear)
linear(unbroadcast, broadcast_like, expand_reduced, seed_like, spread, gather_sum, scalar_items,
       saved, where_taken)
linear(add_list, astype, zero_if_discrete, list, sum_part, unsum_part, rows_like, item,
       owned_copy)
real_valued(runtime.reduced_count, runtime.last_write_mask)
# Linear, so right for complex values; not scalar_items (its adjoint makes floats) and
# astype (its rule for complex values is in complex.py).
complex_ok(unbroadcast, broadcast_like, where_taken, expand_reduced, seed_like, spread, gather_sum,
           add_list, add_at, take_and_zero, list, plus, sum_part, unsum_part, rows_like, item,
           owned_copy)
unary(runtime.sigmoid, "y * (1.0 - y)")


@adjoint(saved)
def saved_adjoint(y, value):
    d[value] = d[y]


@adjoint(owned_copy)
def owned_copy_adjoint(y, g):
    d[g] = d[y]


@adjoint(seed_like)
def seed_like_adjoint(y, seed, like):
    d[seed] = d[y]


@adjoint(unbroadcast)
def unbroadcast_adjoint(y, g, like):
    d[g] = broadcast_like(d[y], g)


@adjoint(where_taken)
def where_taken_adjoint(y, g, condition, taken):
    d[g] = where_taken(d[y], condition, taken)


@adjoint(broadcast_like)
def broadcast_like_adjoint(y, t, like):
    d[t] = unbroadcast(d[y], t)


@adjoint(expand_reduced)
def expand_reduced_adjoint(y, g, x, axis, keepdims):
    d[g] = np.sum(d[y], axis=axis, keepdims=keepdims)


@adjoint(add_list)
def add_list_adjoint(y, a, b):
    d[a] = d[y]
    d[b] = d[y]


@tangent(add_list)
def add_list_tangent(y, a, b):
    d[y] = add_list(d[a], d[b])


# plus and sum_part: the additions of adjoints that may be lists (generic variants)
@adjoint(plus)
def plus_adjoint(y, a, b):
    d[a] = d[y]
    d[b] = d[y]


@tangent(plus)
def plus_tangent(y, a, b):
    d[y] = plus(d[a], d[b])


@adjoint(sum_part)
def sum_part_adjoint(y, g, a, b, which):
    d[g] = unsum_part(d[y], g, a, b, which)


@adjoint(unsum_part)
def unsum_part_adjoint(y, t, g, a, b, which):
    d[t] = sum_part(d[y], a, b, which)


@adjoint(add_at)
def add_at_adjoint(y, buffer, index, g):
    d[buffer] = d[y]
    d[g] = unbroadcast(d[y][index], g)


@tangent(add_at)
def add_at_tangent(y, buffer, index, g):
    d[y] = add_at(d[buffer], index, d[g])


@tangent(take_and_zero)
def take_and_zero_tangent(y, buffer, index):
    d[y] = take_and_zero(d[buffer], index)


# x.item(): the number x holds, shaped back like x (an integer's derivative is zero)
@adjoint(item)
def item_adjoint(y, x):
    d[x] = broadcast_like(zero_if_discrete(d[y], y), x)


# A cast to integers or booleans is piecewise constant: its derivative is zero.
@adjoint(astype)
def astype_adjoint(y, x, dtype):
    d[x] = astype(zero_if_discrete(d[y], y), np.result_type(x))


@tangent(astype)
def astype_tangent(y, x, dtype):
    d[y] = zero_if_discrete(astype(d[x], dtype), y)


@adjoint(zero_if_discrete)
def zero_if_discrete_adjoint(y, g, value):
    d[g] = zero_if_discrete(d[y], value)


returns_list(list, tuple)   # their adjoints add item by item (add_list), not concatenate


@adjoint(list)
def list_adjoint(y, x):
    d[x] = rows_like(d[y], x)      # an array's derivative stays an array (rows stacked)


@adjoint(rows_like)
def rows_like_adjoint(y, parts, like):
    d[parts] = unstack_like(d[y], parts)


@tangent(list)
def list_tangent(y, x):
    d[y] = list(d[x])


@adjoint(tuple)
def tuple_adjoint(y, x):
    d[x] = rows_like(d[y], x)      # tuple(ls) of a list srcad keeps as a value: as list(ls)


@tangent(tuple)
def tuple_tangent(y, x):
    d[y] = tuple(d[x])


@adjoint(spread)
def spread_adjoint(y, g, items):
    d[g] = gather_sum(d[y], g)


@adjoint(gather_sum)
def gather_sum_adjoint(y, gs, like):
    d[gs] = spread(d[y], gs)


@adjoint(scalar_items)
def scalar_items_adjoint(y, a):
    d[a] = np.asarray(d[y], dtype=float)


# -- srcad.hook(x, fn): the derivative passes through fn, at that point of the generated code --

@adjoint(runtime.hook)
def hook_adjoint(y, x, fn):
    d[x] = fn(d[y])


@tangent(runtime.hook)
def hook_tangent(y, x, fn):
    d[y] = fn(d[x])


# -- running extremes (np.maximum.accumulate, np.minimum.accumulate): each value is one element
# of a, the first of equal ones (runtime.running_source), which gets its derivative; the
# sources are piecewise constant, so the rules are linear in the derivative and a second
# derivative is zero through them
nondiff(runtime.running_source)


@adjoint(runtime.running_max, runtime.running_min)
def running_extreme_adjoint(y, a, axis=0):
    d[a][along_axis_index(a, runtime.running_source(a, y, axis), axis)] += d[y]


@tangent(runtime.running_max, runtime.running_min)
def running_extreme_tangent(y, a, axis=0):
    d[y] = np.take_along_axis(d[a], runtime.running_source(a, y, axis), axis=axis)
