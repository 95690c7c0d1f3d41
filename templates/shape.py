"""Derivative rules of NumPy's shape functions: reshaping, transposing, joining, splitting,
tiling, flipping, padding, diagonals and array conversion; ``rollaxis``, ``append``,
``delete``, ``insert``, ``block``, ``meshgrid``, ``broadcast_arrays``, ``diagflat``, ``resize``,
``trim_zeros``, ``unstack``, ``np.astype`` and ``sliding_window_view``.

Every function here is linear in its array argument(s), so each tangent is the function
applied to the tangent, and each adjoint is the transposed map: the inverse reshape or
permutation for pure rearrangements, a sum over the copies for functions that duplicate
elements (tile, repeat, broadcast_to, pad), zeros for elements a function drops (diagonal,
tril). Adjoint and tangent of a primitive are written side by side.

Conventions:

* List arguments (``np.concatenate([a, b])``) have list derivatives: the adjoint contributes
  one entry per element, the tangent reads a list of tangents.
* ``np.split`` and friends return a list; their adjoint reads ``d[y]`` as a list in which a
  piece without contribution may be a placeholder (None or 0.0): ``zeros_filled`` makes it a
  zero array before the pieces are joined again.
* ``order`` is supported where it is a fixed memory-independent order ('C' or 'F'); the
  layout-dependent orders 'A' and 'K' of reshape/ravel are not (their adjoint would depend
  on the adjoint's memory layout).
* ``np.tril``/``np.triu`` rules assume an input of at least 2 dimensions.
* A choice between formulas (``axis is None``, a default ``order``) is a conditional
  expression: folded away when the parameter is a literal, a runtime choice otherwise.
"""
import numpy as np

from srcad.registry import adjoint, complex_ok, d, linear, nondiff, returns_list, tangent
from srcad.runtime import (astype, broadcast_all, delete_index, insert_sources, join,
                           pad_border, pad_mode, r_piece, r_scalar, rollaxis_axes, scatter_flat,
                           trim_index, unblock, unbroadcast, unbroadcast_all, unconcatenate,
                           undiag, undiagonal, unjoin, unmeshgrid, unpad, unr_piece, unrepeat,
                           unstack_like, untile, window_sources, zero_if_discrete, zeros_filled)

_REARRANGING = (
    np.reshape, np.ravel, np.transpose, np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims,
    np.concatenate, np.stack, np.hstack, np.vstack, np.column_stack, np.dstack,
    np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit,
    np.tile, np.repeat, np.broadcast_to, np.flip, np.fliplr, np.flipud, np.rot90, np.roll,
    np.diag, np.diagonal, np.tril, np.triu, np.atleast_1d, np.atleast_2d, np.atleast_3d,
    np.copy, np.array, np.asarray, np.asanyarray, np.asarray_chkfinite, np.ascontiguousarray,
    np.asfortranarray,
)
linear(*_REARRANGING, np.real)  # not np.pad: its tangent is also linear in constant_values
# Rearranging, copying and summing copies is linear: right for complex values (np.real has
# its own rule for them in complex.py). Not np.pad: its copying modes sum with np.bincount,
# which takes real weights only.
complex_ok(*_REARRANGING)


# -- reshaping: the adjoint reshapes back --------------------------------------------------

@adjoint(np.reshape)
def reshape_adjoint(y, a, shape, order="C"):
    d[a] = (np.reshape(d[y], np.shape(a)) if order == "C"
            else np.reshape(d[y], np.shape(a), order=order))


@tangent(np.reshape)
def reshape_tangent(y, a, shape, order="C"):
    d[y] = np.reshape(d[a], shape) if order == "C" else np.reshape(d[a], shape, order=order)


@adjoint(np.ravel)
def ravel_adjoint(y, a, order="C"):
    d[a] = (np.reshape(d[y], np.shape(a)) if order == "C"
            else np.reshape(d[y], np.shape(a), order=order))


@tangent(np.ravel)
def ravel_tangent(y, a, order="C"):
    d[y] = np.ravel(d[a]) if order == "C" else np.ravel(d[a], order=order)


@adjoint(np.squeeze)
def squeeze_adjoint(y, a, axis=None):
    d[a] = np.reshape(d[y], np.shape(a))


@tangent(np.squeeze)
def squeeze_tangent(y, a, axis=None):
    d[y] = np.squeeze(d[a]) if axis is None else np.squeeze(d[a], axis=axis)


@adjoint(np.expand_dims)
def expand_dims_adjoint(y, a, axis):
    d[a] = np.reshape(d[y], np.shape(a))


@tangent(np.expand_dims)
def expand_dims_tangent(y, a, axis):
    d[y] = np.expand_dims(d[a], axis)


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_adjoint(y, a):          # one argument only (several return a list)
    d[a] = np.reshape(d[y], np.shape(a))


@adjoint(r_piece)          # the pieces of np.c_ and of np.r_['axis,ndmin,trans1d', ...]
def r_piece_adjoint(y, x, ndmin, trans1d):
    d[x] = unr_piece(d[y], x, ndmin, trans1d)


@adjoint(unr_piece)
def unr_piece_adjoint(y, g, x, ndmin, trans1d):
    d[g] = r_piece(d[y], ndmin, trans1d)


@tangent(np.atleast_1d)
def atleast_1d_tangent(y, a):
    d[y] = np.atleast_1d(d[a])


@tangent(np.atleast_2d)
def atleast_2d_tangent(y, a):
    d[y] = np.atleast_2d(d[a])


@tangent(np.atleast_3d)
def atleast_3d_tangent(y, a):
    d[y] = np.atleast_3d(d[a])


# -- permuting axes: the adjoint applies the inverse permutation ----------------------------

@adjoint(np.transpose)
def transpose_adjoint(y, a, axes=None):
    d[a] = (np.transpose(d[y]) if axes is None
            else np.transpose(d[y], np.argsort(np.mod(axes, np.ndim(a)))))


@tangent(np.transpose)
def transpose_tangent(y, a, axes=None):
    d[y] = np.transpose(d[a]) if axes is None else np.transpose(d[a], axes)


@adjoint(np.swapaxes)
def swapaxes_adjoint(y, a, axis1, axis2):
    d[a] = np.swapaxes(d[y], axis1, axis2)


@tangent(np.swapaxes)
def swapaxes_tangent(y, a, axis1, axis2):
    d[y] = np.swapaxes(d[a], axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis_adjoint(y, a, source, destination):
    d[a] = np.moveaxis(d[y], destination, source)


@tangent(np.moveaxis)
def moveaxis_tangent(y, a, source, destination):
    d[y] = np.moveaxis(d[a], source, destination)


if hasattr(np, "matrix_transpose"):  # NumPy >= 2.0
    linear(np.matrix_transpose)
    complex_ok(np.matrix_transpose)

    @adjoint(np.matrix_transpose)
    def matrix_transpose_adjoint(y, x):
        d[x] = np.swapaxes(d[y], -1, -2)

    @tangent(np.matrix_transpose)
    def matrix_transpose_tangent(y, x):
        d[y] = np.swapaxes(d[x], -1, -2)


# -- reversing and rotating: the adjoint undoes the move -------------------------------------

@adjoint(np.flip)
def flip_adjoint(y, m, axis=None):
    d[m] = np.flip(d[y]) if axis is None else np.flip(d[y], axis=axis)


@tangent(np.flip)
def flip_tangent(y, m, axis=None):
    d[y] = np.flip(d[m]) if axis is None else np.flip(d[m], axis=axis)


@adjoint(np.fliplr)
def fliplr_adjoint(y, m):
    d[m] = np.fliplr(d[y])


@tangent(np.fliplr)
def fliplr_tangent(y, m):
    d[y] = np.fliplr(d[m])


@adjoint(np.flipud)
def flipud_adjoint(y, m):
    d[m] = np.flipud(d[y])


@tangent(np.flipud)
def flipud_tangent(y, m):
    d[y] = np.flipud(d[m])


@adjoint(np.rot90)
def rot90_adjoint(y, m, k=1, axes=(0, 1)):
    d[m] = np.rot90(d[y], -k, axes=axes)


@tangent(np.rot90)
def rot90_tangent(y, m, k=1, axes=(0, 1)):
    d[y] = np.rot90(d[m], k, axes=axes)


@adjoint(np.roll)
def roll_adjoint(y, a, shift, axis=None):
    d[a] = np.roll(d[y], np.negative(shift), axis=axis)


@tangent(np.roll)
def roll_tangent(y, a, shift, axis=None):
    d[y] = np.roll(d[a], shift, axis=axis)


# -- joining: the adjoint of the list is the list of pieces ---------------------------------

@adjoint(np.concatenate)
def concatenate_adjoint(y, arrays, axis=0):
    d[arrays] = unconcatenate(d[y], arrays, axis)


@tangent(np.concatenate)
def concatenate_tangent(y, arrays, axis=0):
    d[y] = np.concatenate(d[arrays], axis=axis)


@adjoint(np.stack)
def stack_adjoint(y, arrays, axis=0):
    # a list of arrays gets a list of slices, an array (stacked along its first axis) an array
    d[arrays] = unstack_like(d[y] if axis == 0 else np.moveaxis(d[y], axis, 0), arrays)


@tangent(np.stack)
def stack_tangent(y, arrays, axis=0):
    d[y] = np.stack(d[arrays], axis=axis)


@adjoint(np.hstack)
def hstack_adjoint(y, tup):
    d[tup] = unjoin(d[y], tup, "hstack")


@tangent(np.hstack)
def hstack_tangent(y, tup):
    d[y] = np.hstack(d[tup])


_ROW_STACK = (np.row_stack,) if hasattr(np, "row_stack") else ()     # vstack's deprecated alias
linear(*_ROW_STACK)
complex_ok(*_ROW_STACK)


@adjoint(np.vstack, *_ROW_STACK)
def vstack_adjoint(y, tup):
    d[tup] = unjoin(d[y], tup, "vstack")


@tangent(np.vstack, *_ROW_STACK)
def vstack_tangent(y, tup):
    d[y] = np.vstack(d[tup])


@adjoint(np.column_stack)
def column_stack_adjoint(y, tup):
    d[tup] = unjoin(d[y], tup, "column_stack")


@tangent(np.column_stack)
def column_stack_tangent(y, tup):
    d[y] = np.column_stack(d[tup])


@adjoint(np.dstack)
def dstack_adjoint(y, tup):
    d[tup] = unjoin(d[y], tup, "dstack")


@tangent(np.dstack)
def dstack_tangent(y, tup):
    d[y] = np.dstack(d[tup])


# -- splitting: the output is a list; the adjoint joins the pieces' adjoints -----------------

@adjoint(np.split, np.array_split)
def split_adjoint(y, ary, indices_or_sections, axis=0):
    d[ary] = np.concatenate(zeros_filled(d[y], y), axis=axis)


@tangent(np.split)
def split_tangent(y, ary, indices_or_sections, axis=0):
    d[y] = np.split(d[ary], indices_or_sections, axis=axis)


@tangent(np.array_split)
def array_split_tangent(y, ary, indices_or_sections, axis=0):
    d[y] = np.array_split(d[ary], indices_or_sections, axis=axis)


@adjoint(np.hsplit)
def hsplit_adjoint(y, ary, indices_or_sections):
    d[ary] = np.hstack(zeros_filled(d[y], y))


@tangent(np.hsplit)
def hsplit_tangent(y, ary, indices_or_sections):
    d[y] = np.hsplit(d[ary], indices_or_sections)


@adjoint(np.vsplit)
def vsplit_adjoint(y, ary, indices_or_sections):
    d[ary] = np.vstack(zeros_filled(d[y], y))


@tangent(np.vsplit)
def vsplit_tangent(y, ary, indices_or_sections):
    d[y] = np.vsplit(d[ary], indices_or_sections)


@adjoint(np.dsplit)
def dsplit_adjoint(y, ary, indices_or_sections):
    d[ary] = np.dstack(zeros_filled(d[y], y))


@tangent(np.dsplit)
def dsplit_tangent(y, ary, indices_or_sections):
    d[y] = np.dsplit(d[ary], indices_or_sections)


returns_list(np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)


# -- duplicating: the adjoint sums the copies ------------------------------------------------

@adjoint(np.tile)
def tile_adjoint(y, A, reps):
    d[A] = untile(d[y], A, reps)


@tangent(np.tile)
def tile_tangent(y, A, reps):
    d[y] = np.tile(d[A], reps)


@adjoint(np.repeat)
def repeat_adjoint(y, a, repeats, axis=None):
    d[a] = unrepeat(d[y], a, repeats, axis)


@tangent(np.repeat)
def repeat_tangent(y, a, repeats, axis=None):
    d[y] = np.repeat(d[a], repeats) if axis is None else np.repeat(d[a], repeats, axis=axis)


@adjoint(np.broadcast_to)
def broadcast_to_adjoint(y, array, shape):
    d[array] = unbroadcast(d[y], array)


@tangent(np.broadcast_to)
def broadcast_to_tangent(y, array, shape):
    d[y] = np.broadcast_to(d[array], shape)


# np.pad: modes constant (with a scalar constant_values), edge, reflect, symmetric and wrap.
@adjoint(np.pad)
def pad_adjoint(y, array, pad_width, mode="constant", constant_values=0):
    d[array] = unpad(d[y], array, pad_width, mode)
    d[constant_values] = np.sum(d[y] * pad_border(array, pad_width))


@tangent(np.pad)
def pad_tangent(y, array, pad_width, mode="constant", constant_values=0):
    d[y] = (np.pad(d[array], pad_width) + d[constant_values] * pad_border(array, pad_width)
            if mode == "constant" else np.pad(d[array], pad_width, mode=pad_mode(mode)))


# -- diagonals and triangles: the adjoint puts the values back, zeros elsewhere ---------------

@adjoint(np.diag)
def diag_adjoint(y, v, k=0):
    d[v] = undiag(d[y], v, k)


@tangent(np.diag)
def diag_tangent(y, v, k=0):
    d[y] = np.diag(d[v]) if k == 0 else np.diag(d[v], k)


@adjoint(np.diagonal)
def diagonal_adjoint(y, a, offset=0, axis1=0, axis2=1):
    d[a] = undiagonal(d[y], a, offset, axis1, axis2)


@tangent(np.diagonal)
def diagonal_tangent(y, a, offset=0, axis1=0, axis2=1):
    d[y] = (np.diagonal(d[a]) if offset == 0 and axis1 == 0 and axis2 == 1
            else np.diagonal(d[a], offset, axis1, axis2))


@adjoint(np.tril)
def tril_adjoint(y, m, k=0):
    d[m] = np.tril(d[y]) if k == 0 else np.tril(d[y], k)


@tangent(np.tril)
def tril_tangent(y, m, k=0):
    d[y] = np.tril(d[m]) if k == 0 else np.tril(d[m], k)


@adjoint(np.triu)
def triu_adjoint(y, m, k=0):
    d[m] = np.triu(d[y]) if k == 0 else np.triu(d[y], k)


@tangent(np.triu)
def triu_tangent(y, m, k=0):
    d[y] = np.triu(d[m]) if k == 0 else np.triu(d[m], k)


# -- copies and conversions: identities (a list becomes a stacked array) ----------------------

@adjoint(np.copy)
def copy_adjoint(y, a, order="K"):
    d[a] = d[y]


@tangent(np.copy)
def copy_tangent(y, a, order="K"):
    d[y] = np.copy(d[a])            # a copy, so an in-place update of y leaves a's alone


@adjoint(np.array)
def array_adjoint(y, object, dtype=None, copy=True):
    d[object] = unstack_like(zero_if_discrete(d[y], y), object)


@tangent(np.array)
def array_tangent(y, object, dtype=None, copy=True):
    d[y] = np.array(d[object]) if dtype is None else zero_if_discrete(
        np.array(d[object], dtype=dtype), y)


@adjoint(np.asarray, np.asanyarray, np.asarray_chkfinite)
def asarray_adjoint(y, a, dtype=None):
    d[a] = unstack_like(zero_if_discrete(d[y], y), a)


@tangent(np.asarray)
def asarray_tangent(y, a, dtype=None):
    d[y] = np.asarray(d[a]) if dtype is None else zero_if_discrete(
        np.asarray(d[a], dtype=dtype), y)


@tangent(np.asanyarray)
def asanyarray_tangent(y, a, dtype=None):
    d[y] = np.asanyarray(d[a]) if dtype is None else zero_if_discrete(
        np.asanyarray(d[a], dtype=dtype), y)


@tangent(np.asarray_chkfinite)
def asarray_chkfinite_tangent(y, a, dtype=None):
    d[y] = np.asarray(d[a]) if dtype is None else zero_if_discrete(
        np.asarray(d[a], dtype=dtype), y)


@adjoint(np.ascontiguousarray, np.asfortranarray)
def ascontiguousarray_adjoint(y, a, dtype=None):      # 0-d inputs come out 1-d
    d[a] = np.reshape(zero_if_discrete(d[y], y), np.shape(a))


@tangent(np.ascontiguousarray)
def ascontiguousarray_tangent(y, a, dtype=None):
    d[y] = zero_if_discrete(np.ascontiguousarray(d[a], dtype=dtype), y)


@tangent(np.asfortranarray)
def asfortranarray_tangent(y, a, dtype=None):
    d[y] = zero_if_discrete(np.asfortranarray(d[a], dtype=dtype), y)


@adjoint(np.real)
def real_adjoint(y, val):           # real inputs: the identity
    d[val] = d[y]


@tangent(np.real)
def real_tangent(y, val):
    d[y] = np.real(d[val])


# -- the runtime helpers the rules above emit, so derivative code can be differentiated again --
# Each helper is linear in its first argument: its tangent rule is derived (registry.linear),
# and its adjoint is the shape function it undoes.
nondiff(pad_border, pad_mode, r_scalar)
linear(r_piece, unr_piece, zeros_filled, unstack_like, unconcatenate, unjoin, join, untile,
       unrepeat, unpad, undiag, undiagonal)
complex_ok(zeros_filled, unstack_like, unconcatenate, unjoin, join, untile, unrepeat, undiag,
           undiagonal)
returns_list(zeros_filled, unconcatenate, unjoin)


@adjoint(zeros_filled)
def zeros_filled_adjoint(y, g, like):
    d[g] = d[y]


@adjoint(unstack_like)
def unstack_like_adjoint(y, g, like):
    d[g] = np.array(zeros_filled(d[y], y))


@adjoint(unconcatenate)
def unconcatenate_adjoint(y, g, arrays, axis=0):
    d[g] = np.concatenate(zeros_filled(d[y], y), axis=axis)


@adjoint(unjoin)
def unjoin_adjoint(y, g, arrays, how):
    d[g] = join(zeros_filled(d[y], y), how)


@adjoint(join)
def join_adjoint(y, pieces, how):
    d[pieces] = unjoin(d[y], pieces, how)


@adjoint(untile)
def untile_adjoint(y, g, x, reps):
    d[g] = np.tile(d[y], reps)


@adjoint(unrepeat)
def unrepeat_adjoint(y, g, x, repeats, axis=None):
    d[g] = np.repeat(d[y], repeats, axis=axis)


@adjoint(unpad)
def unpad_adjoint(y, g, x, pad_width, mode="constant"):
    d[g] = np.pad(d[y], pad_width, mode=mode)


@adjoint(undiag)
def undiag_adjoint(y, g, v, k=0):
    d[g] = np.diag(d[y], k)


@adjoint(undiagonal)
def undiagonal_adjoint(y, g, x, offset=0, axis1=0, axis2=1):
    d[g] = np.diagonal(d[y], offset, axis1, axis2)


# -- rollaxis, append, delete, insert (linear in their arrays) --------------------------------
# append/insert join an array and values; delete drops elements (they get no derivative).
# insert's values are broadcast into the slots as NumPy does it: insert_sources says, for
# each output element, whether it is a copy of arr or which element of values it came from.

linear(np.rollaxis, np.append, np.delete, np.insert)
complex_ok(np.rollaxis, np.append, np.delete, np.insert)
nondiff(rollaxis_axes, delete_index, insert_sources)


@adjoint(np.rollaxis)
def rollaxis_adjoint(y, a, axis, start=0):
    d[a] = np.transpose(d[y], np.argsort(rollaxis_axes(a, axis, start)))


@tangent(np.rollaxis)
def rollaxis_tangent(y, a, axis, start=0):
    d[y] = np.rollaxis(d[a], axis, start)


@adjoint(np.append)
def append_adjoint(y, arr, values, axis=None):
    pieces = unconcatenate(d[y], [arr, values], axis)
    d[arr] = pieces[0]
    d[values] = pieces[1]


@tangent(np.append)
def append_tangent(y, arr, values, axis=None):
    d[y] = np.append(d[arr], d[values], axis=axis)


@adjoint(np.delete)
def delete_adjoint(y, arr, obj, axis=None):
    d[arr][delete_index(arr, obj, axis)] += d[y]


@tangent(np.delete)
def delete_tangent(y, arr, obj, axis=None):
    d[y] = np.delete(d[arr], obj, axis=axis)


@adjoint(np.insert)
def insert_adjoint(y, arr, obj, values, axis=None):
    copied, origin = insert_sources(arr, obj, values, axis)
    d[arr] = np.reshape(d[y][copied], np.shape(arr))
    d[values] = scatter_flat(d[y][np.logical_not(copied)], origin, values)


@tangent(np.insert)
def insert_tangent(y, arr, obj, values, axis=None):
    d[y] = np.insert(d[arr], obj, d[values], axis=axis)


# -- block: nested lists joined along the last axes; its adjoint cuts the pieces back out ------

linear(np.block, unblock)
complex_ok(np.block, unblock)
returns_list(unblock)


@adjoint(np.block)
def block_adjoint(y, arrays):
    d[arrays] = unblock(d[y], arrays)


@tangent(np.block)
def block_tangent(y, arrays):
    d[y] = np.block(d[arrays])


@adjoint(unblock)
def unblock_adjoint(y, g, arrays):
    d[g] = np.block(zeros_filled(d[y], y))


# -- meshgrid: every output is one input repeated along the other axes --------------------------

linear(np.meshgrid, unmeshgrid)
complex_ok(np.meshgrid, unmeshgrid)
returns_list(np.meshgrid, unmeshgrid)


@adjoint(np.meshgrid)
def meshgrid_adjoint(y, *xi, copy=True, sparse=False, indexing="xy"):
    d[xi] = unmeshgrid(zeros_filled(d[y], y), xi, indexing, sparse)


@tangent(np.meshgrid)
def meshgrid_tangent(y, *xi, copy=True, sparse=False, indexing="xy"):
    d[y] = np.meshgrid(*d[xi], sparse=sparse, indexing=indexing)


@adjoint(unmeshgrid)
def unmeshgrid_adjoint(y, gs, xi, indexing="xy", sparse=False):
    d[gs] = list(np.meshgrid(*zeros_filled(d[y], y), indexing=indexing, sparse=sparse))


# -- broadcast_arrays, diagflat, resize, trim_zeros, unstack, np.astype -------------------------

linear(np.broadcast_arrays, unbroadcast_all, broadcast_all, np.diagflat, np.resize,
       np.trim_zeros)
complex_ok(np.broadcast_arrays, unbroadcast_all, broadcast_all, np.diagflat, np.resize,
           np.trim_zeros)
returns_list(np.broadcast_arrays, unbroadcast_all, broadcast_all)
nondiff(trim_index)


@adjoint(np.broadcast_arrays)
def broadcast_arrays_adjoint(y, *args):
    d[args] = unbroadcast_all(zeros_filled(d[y], y), args)


@tangent(np.broadcast_arrays)
def broadcast_arrays_tangent(y, *args):
    d[y] = np.broadcast_arrays(*d[args])


@adjoint(unbroadcast_all)
def unbroadcast_all_adjoint(y, gs, items):
    d[gs] = broadcast_all(zeros_filled(d[y], y), gs)


@adjoint(broadcast_all)
def broadcast_all_adjoint(y, hs, like):
    d[hs] = unbroadcast_all(zeros_filled(d[y], y), hs)


@adjoint(np.diagflat)
def diagflat_adjoint(y, v, k=0):
    d[v] = np.reshape(np.diagonal(d[y], k), np.shape(v))


@tangent(np.diagflat)
def diagflat_tangent(y, v, k=0):
    d[y] = np.diagflat(d[v], k)


# resize repeats the flattened input cyclically: its adjoint sums the copies.
@adjoint(np.resize)
def resize_adjoint(y, a, new_shape):
    d[a] = scatter_flat(d[y], np.arange(np.size(y)) % max(np.size(a), 1), a)


@tangent(np.resize)
def resize_tangent(y, a, new_shape):
    d[y] = np.resize(d[a], new_shape)


@adjoint(np.trim_zeros)
def trim_zeros_adjoint(y, filt, trim="fb"):
    d[filt][trim_index(filt, trim)] += d[y]


@tangent(np.trim_zeros)
def trim_zeros_tangent(y, filt, trim="fb"):
    d[y] = d[filt][trim_index(filt, trim)]


if hasattr(np, "unstack"):          # NumPy >= 2.1
    linear(np.unstack)
    complex_ok(np.unstack)
    returns_list(np.unstack)

    @adjoint(np.unstack)
    def unstack_adjoint(y, x, axis=0):
        d[x] = np.stack(zeros_filled(d[y], y), axis=axis)

    @tangent(np.unstack)
    def unstack_tangent(y, x, axis=0):
        d[y] = np.unstack(d[x], axis=axis)


if hasattr(np, "astype"):           # NumPy >= 2.0: the function form of x.astype(dtype)
    @adjoint(np.astype)
    def np_astype_adjoint(y, x, dtype, copy=True):
        d[x] = astype(zero_if_discrete(d[y], y), np.result_type(x))

    @tangent(np.astype)
    def np_astype_tangent(y, x, dtype, copy=True):
        d[y] = zero_if_discrete(astype(d[x], dtype), y)


# -- sliding_window_view: windows overlap, so the adjoint sums every window's copy -------------

_WINDOWS = np.lib.stride_tricks.sliding_window_view
linear(_WINDOWS)
complex_ok(_WINDOWS)
nondiff(window_sources)


@adjoint(_WINDOWS)
def sliding_window_view_adjoint(y, x, window_shape, axis=None):
    d[x] = scatter_flat(d[y], window_sources(x, window_shape, axis), x)


@tangent(_WINDOWS)
def sliding_window_view_tangent(y, x, window_shape, axis=None):
    d[y] = np.copy(np.lib.stride_tricks.sliding_window_view(d[x], window_shape, axis))
