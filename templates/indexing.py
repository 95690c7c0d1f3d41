"""Derivative rules of reading elements: ``x[index]`` (``operator.getitem``), ``np.take``,
``np.take_along_axis``, ``np.compress``, ``np.extract``, ``np.sort``, ``np.partition``,
``np.unique``/``np.unique_values`` (the values), the set operations (``union1d``,
``intersect1d``, ``setdiff1d``, ``setxor1d``), ``np.select``, ``np.choose`` and ``np.bincount``
(in its weights).

Each reads some elements of its input (possibly the same element several times), so the
tangent reads the same elements of the tangent and the adjoint is a sparse contribution,
``d[a][index] += d[y]``, into the elements read: repeated integer indices accumulate. The
runtime helpers ``take_index``/``along_axis_index`` spell out, as an ordinary index into
``a``, which elements the NumPy function reads.

``x[index]`` covers every NumPy index: integers (negative too), slices with any step, None
(``np.newaxis``), Ellipsis, integer arrays (repeated entries accumulate), boolean masks and
tuples mixing them.
"""
import operator

import numpy as np

from srcad.registry import (adjoint, complex_ok, d, derived, linear, nondiff, real_valued,
                            returns_list, tangent)
from srcad.runtime import (along_axis_index, astype, choose_masks, scatter_flat,
                           select_adjoints, select_masks, set_sources, take_index, unbroadcast,
                           zeros_filled)

linear(operator.getitem, np.take, np.take_along_axis)
nondiff(take_index, along_axis_index)   # index builders, for derivatives of derivative code
real_valued(take_index, along_axis_index)
# Reading elements is linear: right for complex values. Not sort (it orders complex numbers
# by their real parts first).
complex_ok(operator.getitem, np.take, np.take_along_axis, np.compress, np.extract)


@adjoint(operator.getitem)
def getitem_adjoint(y, a, index):
    d[a][index] += d[y]


@tangent(operator.getitem)
def getitem_tangent(y, a, index):
    d[y] = d[a][index]


# mode: 'raise' (negative indices count from the end), 'wrap' or 'clip', as NumPy does.
@adjoint(np.take)
def take_adjoint(y, a, indices, axis=None, mode="raise"):
    d[a][take_index(a, indices, axis, mode)] += d[y]


@tangent(np.take)
def take_tangent(y, a, indices, axis=None, mode="raise"):
    d[y] = (np.take(d[a], indices, axis=axis) if mode == "raise"
            else np.take(d[a], indices, axis=axis, mode=mode))


@adjoint(np.take_along_axis)
def take_along_axis_adjoint(y, arr, indices, axis=-1):
    d[arr][along_axis_index(arr, indices, axis)] += d[y]


@tangent(np.take_along_axis)
def take_along_axis_tangent(y, arr, indices, axis=-1):
    d[y] = np.take_along_axis(d[arr], indices, axis=axis)


# compress/extract: the elements where a boolean condition holds.
@adjoint(np.compress)
def compress_adjoint(y, condition, a, axis=None):
    d[a][take_index(a, np.flatnonzero(condition), axis)] += d[y]


@tangent(np.compress)
def compress_tangent(y, condition, a, axis=None):
    d[y] = np.compress(condition, d[a], axis=axis)


@adjoint(np.extract)
def extract_adjoint(y, condition, arr):
    d[arr][take_index(arr, np.flatnonzero(condition))] += d[y]


@tangent(np.extract)
def extract_tangent(y, condition, arr):
    d[y] = np.extract(condition, d[arr])


# sort: a permutation of its input, read through the sorting indices (ties: any order is a
# valid derivative, the tied values being equal).
@adjoint(np.sort)
def sort_adjoint(y, a, axis=-1, kind=None, *, stable=None):
    d[a][along_axis_index(a, np.argsort(a, axis=axis), axis)] += d[y]


@tangent(np.sort)
def sort_tangent(y, a, axis=-1, kind=None, *, stable=None):
    d[y] = np.take_along_axis(d[a], np.argsort(a, axis=axis), axis=axis)


# sort_complex: np.sort along the last axis (complex order: real parts, then imaginary ones),
# as a complex array even for real input (srcad takes the real part of a real input's adjoint).
derived(np.sort_complex, sort_adjoint, "y, a", {"axis": "-1", "kind": "None"})
derived(np.sort_complex, sort_tangent, "y, a", {"axis": "-1", "kind": "None"})
complex_ok(np.sort_complex)


# partition: a permutation too, read through np.argpartition with the same kth (ties as sort).
@adjoint(np.partition)
def partition_adjoint(y, a, kth, axis=-1, kind="introselect"):
    d[a][along_axis_index(a, np.argpartition(a, kth, axis=axis), axis)] += d[y]


@tangent(np.partition)
def partition_tangent(y, a, kth, axis=-1, kind="introselect"):
    d[y] = np.take_along_axis(d[a], np.argpartition(a, kth, axis=axis), axis=axis)


# unique (values only): each value read from its first occurrence (a tie between equal
# elements is a kink; the first one gets the whole derivative).
_UNIQUE = (np.unique,) + ((np.unique_values,) if hasattr(np, "unique_values") else ())


@adjoint(*_UNIQUE)
def unique_adjoint(y, ar):
    d[ar][np.unravel_index(np.unique(ar, return_index=True)[1], np.shape(ar))] += d[y]


@tangent(*_UNIQUE)
def unique_tangent(y, ar):
    d[y] = np.ravel(d[ar])[np.unique(ar, return_index=True)[1]]


# select: each element is the choice whose condition holds first, else the default.
linear(np.select, select_adjoints)
complex_ok(np.select, select_adjoints)
nondiff(select_masks)
returns_list(select_adjoints)


@adjoint(np.select)
def select_adjoint(y, condlist, choicelist, default=0):
    taken, rest = select_masks(condlist, y)
    d[choicelist] = select_adjoints(d[y], taken, choicelist)
    d[default] = unbroadcast(np.where(rest, d[y], 0.0), default)


@tangent(np.select)
def select_tangent(y, condlist, choicelist, default=0):
    d[y] = np.select(condlist, d[choicelist], d[default])


@adjoint(select_adjoints)
def select_adjoints_adjoint(y, g, masks, choicelist):
    d[g] = np.select(masks, zeros_filled(d[y], y), 0.0)


# bincount(x, weights): integer counts (no derivative), linear in the weights.
@adjoint(np.bincount)
def bincount_adjoint(y, x, weights=None, minlength=0):
    d[weights] = astype(d[y][x], np.result_type(weights))


@tangent(np.bincount)
def bincount_tangent(y, x, weights=None, minlength=0):
    d[y] = np.bincount(x, d[weights], minlength)


# choose(a, choices): like select, with the masks a == k.
linear(np.choose)
complex_ok(np.choose)
nondiff(choose_masks)


@adjoint(np.choose)
def choose_adjoint(y, a, choices, mode="raise"):
    d[choices] = select_adjoints(d[y], choose_masks(a, choices, y), choices)


@tangent(np.choose)
def choose_tangent(y, a, choices, mode="raise"):
    d[y] = np.choose(a, d[choices], mode=mode)


# NumPy 2's unique_counts / unique_inverse / unique_all: named tuples whose first item holds
# the values (unique's rules); the indices and counts carry no derivative.
_UNIQUE_TUPLES = {"unique_counts": "y, counts, x", "unique_inverse": "y, inverse_indices, x",
                  "unique_all": "y, indices, inverse_indices, counts, x"}
for _name, _signature in _UNIQUE_TUPLES.items():
    if hasattr(np, _name):
        _count = _signature.count(",")
        derived(getattr(np, _name), unique_adjoint, _signature, {"ar": "x"}, n_outputs=_count)
        derived(getattr(np, _name), unique_tangent, _signature, {"ar": "x"}, n_outputs=_count)


# Set operations: sorted unique values, each read from its first occurrence in ar1 then ar2
# (a value in both arrays belongs to ar1's); membership in the other array is a step.
_SETS = (np.union1d, np.intersect1d, np.setdiff1d, np.setxor1d)
complex_ok(*_SETS)
nondiff(set_sources)


@adjoint(np.union1d)
def union1d_adjoint(y, ar1, ar2):
    first, index = set_sources("union1d", ar1, ar2)
    d[ar1] = scatter_flat(d[y][first], index[first], ar1)
    d[ar2] = scatter_flat(d[y][np.logical_not(first)], index[np.logical_not(first)] - np.size(
        ar1), ar2)


@tangent(np.union1d)
def union1d_tangent(y, ar1, ar2):
    d[y] = np.concatenate([np.ravel(d[ar1]), np.ravel(d[ar2])])[
        set_sources("union1d", ar1, ar2)[1]]


@adjoint(np.setxor1d)
def setxor1d_adjoint(y, ar1, ar2, assume_unique=False):
    first, index = set_sources("setxor1d", ar1, ar2)
    d[ar1] = scatter_flat(d[y][first], index[first], ar1)
    d[ar2] = scatter_flat(d[y][np.logical_not(first)], index[np.logical_not(first)] - np.size(
        ar1), ar2)


@tangent(np.setxor1d)
def setxor1d_tangent(y, ar1, ar2, assume_unique=False):
    d[y] = np.concatenate([np.ravel(d[ar1]), np.ravel(d[ar2])])[
        set_sources("setxor1d", ar1, ar2)[1]]


@adjoint(np.intersect1d)                   # the values come from ar1
def intersect1d_adjoint(y, ar1, ar2, assume_unique=False):
    d[ar1] = scatter_flat(d[y], set_sources("intersect1d", ar1, ar2)[1], ar1)


@adjoint(np.setdiff1d)
def setdiff1d_adjoint(y, ar1, ar2, assume_unique=False):
    d[ar1] = scatter_flat(d[y], set_sources("setdiff1d", ar1, ar2)[1], ar1)


@tangent(np.intersect1d)
def intersect1d_tangent(y, ar1, ar2, assume_unique=False):
    d[y] = np.ravel(d[ar1])[set_sources("intersect1d", ar1, ar2)[1]]


@tangent(np.setdiff1d)
def setdiff1d_tangent(y, ar1, ar2, assume_unique=False):
    d[y] = np.ravel(d[ar1])[set_sources("setdiff1d", ar1, ar2)[1]]
