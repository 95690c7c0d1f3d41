"""Batched tangents: ``Batched``, a batch of tangents of one value (a leading axis of
directions), which the generated forward-mode code runs on unchanged.

A tangent rule is written once (``d[y] = d[x] * np.cos(x)``); its batched form is the same
code run on a ``Batched`` tangent, which NumPy hands to ``__array_ufunc__`` and
``__array_function__``. There each operation gets the batched semantics of its unbatched one:
elementwise operations align the logical dimensions (the batch axis never broadcasts against
a primal's), reductions, reshapes, transposes, concatenations and indexing shift their axes by
one, products contract the logical axes. Any other NumPy function is applied to each
direction in turn and the results stacked: slower, never different. A ``Batched`` is never
turned into a plain array (``np.asarray`` of it raises), so code that would treat it as one
fails instead of computing something else.

Linear in the tangents is all the rules are: ``Batched`` values meet primal values and each
other only through the operations above.

A structured batch (``Batched.basis``, the identity seed of ``srcad.jacobian``) is kept as
bands (``_Bands``): direction ``k`` holds ``vals[i][k]`` at the flat element ``k +
offsets[i]`` and zeros elsewhere; the basis is one band, offset 0, of ones. The operations
that keep that structure work on the bands alone, in the time of a few directions: products
and quotients with a finite primal of the logical shape, sums and differences of two
structured batches, negation, reshapes, copies, step-1 slices of a vector (which shift the
offsets: ``dx[1:] - dx[:-1]`` has two bands), whole sums of at most two bands, and ``@`` of
a diagonal vector batch (``A @ basis`` scales ``A``'s columns). Anything else reads
``data``, which materializes the dense batch once (the batch is then dense for good), so an
operation either keeps the structure or computes what the dense batch would: the zeros are
exact, and an operation whose dense form would turn them into something else (a product
with ``inf`` or ``nan``, a quotient by 0) is done densely. The bands' arrays are never
written into (a write makes the batch dense first), so batches may share them.
"""
from __future__ import annotations

import math
import numbers
import threading

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["Batched", "BatchingError", "active_count", "directions", "unbatched"]

_SWEEP = threading.local()          # .count: the directions of the batched sweep under way


class directions:
    """A batched forward sweep of ``count`` directions runs in this context: the zero
    tangents forward-mode code writes into (``runtime.tangent_zeros``) are batches too."""

    __slots__ = ("count", "before")

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        self.before = getattr(_SWEEP, "count", None)
        _SWEEP.count = self.count
        return self

    def __exit__(self, *exc):
        _SWEEP.count = self.before
        return False


def active_count() -> int | None:
    """The number of directions of the batched sweep under way in this thread, else None."""
    return getattr(_SWEEP, "count", None)


class BatchingError(TypeError):
    """A batch of tangents met an operation that would treat it as one array or number."""


def _elementwise(ufunc, inputs):
    """An elementwise operation: the logical dimensions aligned from the right, the batch
    axis first."""
    for x in inputs:
        if type(x) is Batched and x.bands is not None:
            out = _banded_elementwise(ufunc, inputs)
            if out is not None:
                return out
            break
    if len(inputs) == 2:            # the common case, without the lists
        a, b = inputs
        if type(a) is Batched:
            a = a.data
            if type(b) is Batched:
                b = b.data
                if a.ndim != b.ndim:
                    rank = max(a.ndim, b.ndim) - 1
                    a, b = _lift(inputs[0], rank), _lift(inputs[1], rank)
            elif a.ndim - 1 < _rank(b):
                a = _lift(inputs[0], _rank(b))
        elif type(b) is Batched:
            b = b.data
            if b.ndim - 1 < _rank(a):
                b = _lift(inputs[1], _rank(a))
        return Batched(ufunc(a, b))
    ranks = [x.data.ndim - 1 if type(x) is Batched else _rank(x) for x in inputs]
    rank = max(ranks)
    return Batched(ufunc(*[(x.data if r == rank else _lift(x, rank)) if type(x) is Batched
                           else x for x, r in zip(inputs, ranks)]))


def _rank(x) -> int:
    """The number of dimensions of an operand that is not a batch."""
    t = type(x)
    if t is np.ndarray:
        return x.ndim
    if t is float or t is int:
        return 0
    return np.ndim(x)


def _operator(ufunc, reflected=False):
    """``a + b`` and the other arithmetic of a batch with a number or an array, without
    NumPy's search for an override (the batch is the only one)."""
    def binary(self, other):
        if not isinstance(other, (Batched, np.ndarray, numbers.Number)):
            return NotImplemented
        return _elementwise(ufunc, (other, self) if reflected else (self, other))
    return binary


class Batched(NDArrayOperatorsMixin):
    """``data[k]`` is the tangent along direction ``k`` of a value of shape ``data.shape[1:]``
    (the logical shape, which ``shape``, ``ndim``, ``np.shape`` give)."""

    __slots__ = ("_data", "bands")

    def __init__(self, data, bands=None):
        self._data = data
        self.bands = bands      # structured (``_Bands``), data None; else None

    @classmethod
    def basis(cls, shape, dtype=float):
        """The identity basis of arrays of ``shape``: one unit direction per element, in
        C order (``np.eye(size).reshape((size,) + shape)``), kept structured."""
        size = math.prod(shape)
        return cls(None, _Bands(tuple(shape), size, (0,), (np.ones(size, dtype),)))

    @classmethod
    def diagonal(cls, d):
        """The structured batch whose direction ``k`` is ``d.flat[k]`` times the ``k``-th
        unit array of ``d``'s shape."""
        d = np.asarray(d)
        return cls(None, _Bands(d.shape, d.size, (0,), (d.reshape(d.size).copy(),)))

    @property
    def data(self):
        """The ``(count, *shape)`` array of the directions (a structured batch is made dense
        here, once)."""
        if self.bands is not None:
            self._data, self.bands = self.bands.dense(), None
        return self._data

    @property
    def count(self):
        """The number of directions."""
        return self.bands.count if self.bands is not None else self._data.shape[0]

    # -- the logical array -----------------------------------------------------------------
    @property
    def shape(self):
        return self.bands.shape if self.bands is not None else self._data.shape[1:]

    @property
    def ndim(self):
        return len(self.bands.shape) if self.bands is not None else self._data.ndim - 1

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype(self):
        return self.bands.dtype if self.bands is not None else self._data.dtype

    @property
    def T(self):
        return self.transpose()

    @property
    def real(self):
        if self.bands is not None:
            return Batched(None, self.bands.map(np.real))
        return Batched(self.data.real)

    @property
    def imag(self):
        if self.bands is not None:
            return Batched(None, self.bands.map(np.imag))
        return Batched(self.data.imag)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tangent")
        return self.shape[0]

    def __repr__(self):
        if self.bands is not None:
            return f"Batched(bands={dict(zip(self.bands.offsets, self.bands.vals))!r}, " \
                f"shape={self.bands.shape})"
        return f"Batched({self.data!r})"

    def __array__(self, *args, **kwargs):
        raise BatchingError("a batch of tangents is not an array: srcad's batched forward "
                            "mode met an operation it cannot batch")

    def __float__(self):
        raise BatchingError("a batch of tangents is not a number")

    def __bool__(self):
        raise BatchingError("a batch of tangents has no truth value")

    def copy(self):
        if self.bands is not None:
            return Batched(None, self.bands.map(np.copy))
        return Batched(self.data.copy())

    def astype(self, dtype, **kwargs):
        if self.bands is not None and not kwargs:
            return Batched(None, self.bands.map(lambda v: v.astype(dtype)))
        return Batched(self.data.astype(dtype, **kwargs))

    def conj(self):
        if self.bands is not None:
            return Batched(None, self.bands.map(np.conj))
        return Batched(self.data.conj())

    conjugate = conj

    def reshape(self, *shape, **kwargs):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, **kwargs)

    def transpose(self, *axes):
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def ravel(self):
        return np.ravel(self)

    def sum(self, *args, **kwargs):
        return np.sum(self, *args, **kwargs)

    def mean(self, *args, **kwargs):
        return np.mean(self, *args, **kwargs)

    def dot(self, other):
        return np.dot(self, other)

    __add__, __radd__ = _operator(np.add), _operator(np.add, True)
    __sub__, __rsub__ = _operator(np.subtract), _operator(np.subtract, True)
    __mul__, __rmul__ = _operator(np.multiply), _operator(np.multiply, True)
    __truediv__, __rtruediv__ = _operator(np.true_divide), _operator(np.true_divide, True)

    def __neg__(self):
        if self.bands is not None:
            return Batched(None, self.bands.map(np.negative))
        return Batched(-self.data)

    # -- indexing: the batch axis first, then the logical index -----------------------------
    def __getitem__(self, index):
        if self.bands is not None:
            out = _banded_item(self.bands, index)
            if out is not None:
                return out
        items = _index_items(index)
        if items is None:
            return _each(lambda x: x[index], self)
        out = self.data[(slice(None),) + items]
        # an element is a copy in NumPy (a scalar): so is a batch of elements
        return Batched(out.copy() if out.ndim == 1 and out.base is not None else out)

    def __setitem__(self, index, value):
        items = _index_items(index)
        if items is None:
            for k in range(self.count):
                self.data[k][index] = _direction(value, k)
            return
        target = self.data[(slice(None),) + items]
        self.data[(slice(None),) + items] = _lift(value, target.ndim - 1)

    # -- NumPy's protocols -------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.pop("out", None)
        if out is not None and not all(isinstance(o, Batched) for o in out):
            raise BatchingError(f"np.{ufunc.__name__} would write a batch of tangents into "
                                "a plain array")
        if method != "__call__" or kwargs or ufunc.nout != 1:
            if out is not None:
                raise BatchingError(f"np.{ufunc.__name__}.{method} into a batch of tangents")
            return _each(lambda *a: getattr(ufunc, method)(*a, **kwargs), *inputs)
        if out is not None and len(inputs) == 2 and inputs[0] is out[0] and (
                ufunc is np.add or ufunc is np.subtract) and _add_into(out[0], inputs[1], ufunc):
            return out[0]
        result = _matmul(*inputs) if ufunc is np.matmul else _elementwise(ufunc, inputs)
        if out is None:
            return result
        out[0].data[...] = _lift(result, out[0].ndim)
        return out[0]

    def __array_function__(self, func, types, args, kwargs):
        rule = _FUNCTIONS.get(func)
        if rule is not None:
            out = rule(*args, **kwargs)
            if out is not NotImplemented:
                return out
        if func in _METADATA:
            return func(*_plain_like(args), **kwargs)
        return _each(func, *args, **kwargs)


def unbatched(x, count: int) -> np.ndarray:
    """The ``(count, *shape)`` array of a result that may be ``Batched`` or, where it does not
    depend on the tangents, a plain value (the same for every direction)."""
    if isinstance(x, Batched):
        return x.data
    x = np.asarray(x)
    return np.broadcast_to(x, (count,) + x.shape).copy()


# -- helpers ----------------------------------------------------------------------------------

class _Bands:
    """A structured batch of ``count`` directions of arrays of ``shape`` (``size`` elements):
    direction ``k`` holds ``vals[i][k]`` at the flat (C-order) element ``k + offsets[i]``
    and zeros elsewhere. ``vals[i][k]`` is 0 where that element does not exist; the offsets
    are distinct and sorted; every ``vals[i]`` has shape ``(count,)`` and dtype ``dtype``."""

    __slots__ = ("shape", "count", "offsets", "vals", "size", "dtype")

    def __init__(self, shape, count, offsets, vals, size=None):
        self.shape, self.count, self.offsets, self.vals = shape, count, offsets, vals
        self.size = math.prod(shape) if size is None else size
        self.dtype = vals[0].dtype

    def valid(self, offset):
        """The directions ``lo:hi`` whose element ``k + offset`` exists."""
        return max(0, -offset), max(0, min(self.count, self.size - offset))

    def diagonal(self) -> bool:
        """Is direction ``k`` ``vals[0][k]`` times the ``k``-th unit array?"""
        return self.offsets == (0,) and self.count == self.size

    def map(self, fn):
        """``fn`` (linear, elementwise) applied to every band."""
        return _Bands(self.shape, self.count, self.offsets, tuple(fn(v) for v in self.vals),
                      self.size)

    def reshaped(self, shape):
        return _Bands(tuple(shape), self.count, self.offsets, self.vals)

    def dense(self):
        """The dense ``(count, *shape)`` batch: exact zeros off the bands."""
        out = np.zeros((self.count,) + self.shape, self.dtype)
        for offset, v in zip(self.offsets, self.vals):
            view = _band_view(out, self.count, self.size, offset, self.valid(offset))
            if view is not None:
                lo, hi = self.valid(offset)
                view[...] = v[lo:hi]
        return out


def _bands(shape, count, pairs, dtype):
    """The structured batch of ``pairs`` (offset -> values), every band of ``dtype``."""
    if len(pairs) == 1:
        ((offset, v),) = pairs.items()
        return Batched(None, _Bands(shape, count, (offset,), (
            v if v.dtype == dtype else v.astype(dtype),)))
    offsets = tuple(sorted(pairs))
    return Batched(None, _Bands(shape, count, offsets, tuple(
        pairs[o] if pairs[o].dtype == dtype else pairs[o].astype(dtype) for o in offsets)))


def _band_view(out, count, size, offset, valid):
    """The elements ``(k, k + offset)``, ``k`` in ``valid``, of the fresh C- or F-ordered
    ``(count, *shape)`` array ``out``, as a writable strided view; None for none."""
    lo, hi = valid
    if hi <= lo:
        return None
    if out.flags.c_contiguous:      # element (k, j) at k * size + j
        flat, step, start = out.reshape(count * size), size + 1, lo * (size + 1) + offset
    else:                           # 2-d, F-ordered: element (k, j) at j * count + k
        flat, step, start = out.T.reshape(count * size), count + 1, lo * (count + 1) + \
            offset * count
    return flat[start:start + (hi - lo - 1) * step + 1:step]


def _finite(r) -> bool:
    """Is every element of the array ``r`` finite? Its sum of squares is (one that
    overflows answers no, which only costs the dense path)."""
    kind = r.dtype.kind
    if kind in "iub":
        return True
    if kind not in "fc":
        return False
    flat = r.ravel("K")
    total = np.vdot(flat, flat) if kind == "c" else np.dot(flat, flat)
    return math.isfinite(total.real)


def _banded_add(dense, b, sign):
    """``dense + sign * B`` of a dense batch and the structured ``B`` of its shape (``sign``
    -1: ``B - dense``; 0: ``dense - B``)."""
    dtype = np.result_type(dense.dtype, b.dtype)
    out = np.negative(dense, dtype=dtype) if sign < 0 else dense.astype(dtype, copy=True)
    if not (out.flags.c_contiguous or out.ndim == 2 and out.flags.f_contiguous):
        out = np.ascontiguousarray(out)
    if b.offsets == (0,) and b.count == b.size:      # the diagonal (a Jacobian's)
        n = b.size
        view = (out if out.flags.c_contiguous else out.T).reshape(n * n)[::n + 1]
        if sign == 0:
            view -= b.vals[0]
        else:
            view += b.vals[0]
        return Batched(out)
    for offset, v in zip(b.offsets, b.vals):
        view = _band_view(out, b.count, b.size, offset, b.valid(offset))
        if view is not None:
            lo, hi = b.valid(offset)
            if sign == 0:
                view -= v[lo:hi]
            else:
                view += v[lo:hi]
    return Batched(out)


def _shifted(b, offset, p, fill):
    """``p`` (flat, the logical size) as seen by the band ``offset``: element ``k`` is
    ``p[k + offset]`` where that exists, ``fill`` elsewhere."""
    if offset == 0 and b.count == b.size:
        return p
    lo, hi = max(0, -offset), max(0, min(b.count, b.size - offset))
    out = np.zeros(b.count, p.dtype) if fill == 0 else np.empty(b.count, p.dtype)
    if fill != 0:
        out[:lo] = fill
        out[hi:] = fill
    if hi > lo:
        out[lo:hi] = p[lo + offset:hi + offset]
    return out


def _add_into(target, g, ufunc) -> bool:
    """``target += g`` (or ``-=``) of a structured ``g`` into a dense vector batch ``target``
    of its shape, in place (the bands' elements only); False when that does not apply."""
    if type(g) is not Batched or g.bands is None or target.bands is not None:
        return False
    b, data = g.bands, target._data
    if len(b.shape) != 1 or data.shape != (b.count,) + b.shape or \
            np.result_type(data.dtype, b.dtype) != data.dtype:
        return False
    for offset, v in zip(b.offsets, b.vals):
        lo, hi = max(0, -offset), max(0, min(b.count, b.size - offset))
        if hi > lo:
            rows = np.arange(lo, hi)
            data[rows, rows + offset] = ufunc(data[rows, rows + offset], v[lo:hi])
    return True


def _banded_elementwise(ufunc, inputs):
    """``ufunc`` of operands at least one of which is a structured batch, as a structured
    batch where the dense one would have these bands (or as the dense sum of a structured
    and a dense batch); None otherwise (the dense path then computes it)."""
    if len(inputs) == 1:
        if ufunc is np.negative or ufunc is np.positive or ufunc is np.conjugate:
            return Batched(None, inputs[0].bands.map(ufunc))
        return None
    if len(inputs) != 2:
        return None
    a, b = inputs
    ba = a.bands if type(a) is Batched else None
    bb = b.bands if type(b) is Batched else None
    if ufunc is np.add or ufunc is np.subtract:
        if ba is not None and bb is not None:
            if ba.shape != bb.shape or ba.count != bb.count:
                return None
            dtype = np.result_type(ba.dtype, bb.dtype)
            pairs = dict(zip(ba.offsets, ba.vals))
            for offset, v in zip(bb.offsets, bb.vals):
                pairs[offset] = ufunc(pairs[offset], v) if offset in pairs else (
                    v if ufunc is np.add else np.negative(v))
            return _bands(ba.shape, ba.count, pairs, dtype)
        other, bands = (b, ba) if ba is not None else (a, bb)
        if type(other) is not Batched or other._data.shape != (bands.count,) + bands.shape:
            return None
        return _banded_add(other._data, bands, 1 if ufunc is np.add else (
            -1 if ba is not None else 0))
    if type(a) is Batched and type(b) is Batched:
        return None
    bands, p = (ba, b) if ba is not None else (bb, a)
    divide = ufunc is np.true_divide
    if not (ufunc is np.multiply or divide and ba is not None):
        return None
    if type(p) is float or type(p) is int:      # a Python number: as NumPy takes it
        if not (p != 0 and p == p if divide else math.isfinite(p)):
            return None
        if len(bands.offsets) == 1:
            v = bands.vals[0]
            return Batched(None, _Bands(bands.shape, bands.count, bands.offsets, (
                ufunc(v, p) if ba is not None else ufunc(p, v),), bands.size))
        return Batched(None, bands.map(lambda v: ufunc(v, p) if ba is not None else
                                       ufunc(p, v)))
    if type(p) is not np.ndarray:
        if not isinstance(p, (numbers.Number, np.generic)):
            return None             # lists, other array types: the dense path
        p = np.asarray(p)
    # 0 * p and 0 / p must be 0 where the dense batch has its zeros: p finite, or for a
    # quotient neither 0 nor nan; and p must not broadcast the logical shape further
    if p.dtype.kind not in "biufc" or p.ndim > len(bands.shape):
        return None
    if p.ndim == 0:
        if not (bool(p != 0) and not np.isnan(p) if divide else _finite(p)):
            return None
        return Batched(None, bands.map(lambda v: ufunc(v, p) if ba is not None else
                                       ufunc(p, v)))
    if p.shape == bands.shape:
        flat = p.reshape(bands.size)
        if bands.offsets == (0,) and bands.count == bands.size:    # the diagonal
            if not (_finite(flat) if not divide else np.all(flat != 0) and not (
                    p.dtype.kind in "fc" and np.isnan(flat).any())):
                return None
            v = bands.vals[0]
            return Batched(None, _Bands(bands.shape, bands.count, bands.offsets, (
                ufunc(v, flat) if ba is not None else ufunc(flat, v),), bands.size))
    else:
        try:
            if np.broadcast_shapes(p.shape, bands.shape) != bands.shape:
                return None
        except ValueError:
            return None
        flat = np.broadcast_to(p, bands.shape).reshape(bands.size)
    if divide:
        if not np.all(flat != 0) or p.dtype.kind in "fc" and np.isnan(flat).any():
            return None
    elif not _finite(flat):
        return None
    if len(bands.offsets) == 1:
        offset, v = bands.offsets[0], bands.vals[0]
        q = _shifted(bands, offset, flat, 1 if divide else 0)
        return Batched(None, _Bands(bands.shape, bands.count, bands.offsets, (
            ufunc(v, q) if ba is not None else ufunc(q, v),), bands.size))
    pairs = {}
    for offset, v in zip(bands.offsets, bands.vals):
        q = _shifted(bands, offset, flat, 1 if divide else 0)
        pairs[offset] = ufunc(v, q) if ba is not None else ufunc(q, v)
    dtype = pairs[bands.offsets[0]].dtype
    return _bands(bands.shape, bands.count, pairs, dtype)


def _banded_item(bands, index):
    """``x[index]`` of a structured vector batch: a step-1 slice shifts the bands, an integer
    picks one value per direction (a dense batch of scalars); None for any other index or
    shape (the dense path)."""
    if type(index) is tuple and len(index) == 1:
        index = index[0]
    if len(bands.shape) != 1:
        return None
    size = bands.size
    if type(index) is slice:
        start, stop, step = index.indices(size)
        if step != 1 or stop <= start:
            return None
        length = stop - start
        pairs = {}
        shape = (length,)
        for offset, v in zip(bands.offsets, bands.vals):
            new = offset - start
            lo, hi = max(0, -new), max(0, min(bands.count, length - new))
            if hi > lo:
                kept = np.zeros_like(v)
                kept[lo:hi] = v[lo:hi]
                pairs[new] = kept
        if not pairs:
            return None
        return _bands(shape, bands.count, pairs, bands.dtype)
    if isinstance(index, numbers.Integral) and not isinstance(index, (bool, np.bool_)):
        i = int(index)
        if not -size <= i < size:
            return None             # the dense path raises NumPy's IndexError
        i %= size
        out = np.zeros(bands.count, bands.dtype)
        for offset, v in zip(bands.offsets, bands.vals):
            k = i - offset
            if 0 <= k < bands.count:
                out[k] = v[k]
        return Batched(out)
    return None


def _lift(x, rank):
    """``x`` as an operand of a batched operation of logical rank ``rank``: a ``Batched``'s
    data with size-1 axes after the batch axis up to ``rank`` (so that its logical axes meet
    the others' from the right), anything else as it is."""
    if not isinstance(x, Batched):
        return x
    missing = rank - x.ndim
    if missing <= 0:
        return x.data
    d = x.data
    return d.reshape(d.shape[:1] + (1,) * missing + d.shape[1:])


def _direction(x, k):
    """Direction ``k`` of ``x`` (lists and tuples entered), ``x`` itself when unbatched."""
    if isinstance(x, Batched):
        return x.data[k]
    if isinstance(x, (list, tuple)) and any(_has_batched(v) for v in x):
        return type(x)(_direction(v, k) for v in x)
    return x


def _data(x):
    """The memory of ``x`` (of a structured batch: its first band's; the bands are never
    written into)."""
    if isinstance(x, Batched):
        return x.bands.vals[0] if x.bands is not None else x.data
    return x


def _has_batched(x) -> bool:
    if isinstance(x, Batched):
        return True
    return isinstance(x, (list, tuple)) and any(_has_batched(v) for v in x)


def _count(values) -> int | None:
    for v in values:
        if isinstance(v, Batched):
            return v.count
        if isinstance(v, (list, tuple)):
            n = _count(v)
            if n is not None:
                return n
    return None


def _each(func, *args, **kwargs):
    """``func`` applied to each direction, the results stacked (a tuple of results: each)."""
    n = _count(list(args) + list(kwargs.values())) or 0
    results = [func(*[_direction(a, k) for a in args],
                    **{key: _direction(v, k) for key, v in kwargs.items()}) for k in range(n)]
    if any(r is None for r in results):      # it wrote somewhere: not one value per direction
        raise BatchingError(f"{getattr(func, '__name__', func)} returns nothing to batch")
    if results and isinstance(results[0], (tuple, list)):     # several values (unconcatenate)
        return type(results[0])(Batched(np.stack(r)) for r in zip(*results))
    return Batched(np.stack(results))


def _plain_like(args):
    """Arguments with each ``Batched`` replaced by its first direction (for functions that
    read only shapes and dtypes)."""
    return [a.bands.vals[0] if isinstance(a, Batched) and a.bands is not None else
            _direction(a, 0) for a in args]


def _index_items(index):
    """The logical index as a tuple that can follow the batch axis's ``slice(None)``, or None
    when NumPy would move the result's axes (advanced indices apart, or a ``Batched``
    index)."""
    items = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, item in enumerate(items) if not (
        isinstance(item, (slice, numbers.Integral, type(Ellipsis))) or item is None)]
    if any(isinstance(items[i], Batched) for i in advanced):
        return None
    if advanced:                     # beside an array, an integer is an advanced index too
        advanced = sorted(advanced + [i for i, item in enumerate(items)
                                      if isinstance(item, numbers.Integral)])
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return None                  # advanced indices apart: NumPy moves their axes first
    return items


def _axis(axis, ndim):
    """A logical axis (or tuple of them, or None) as an axis of the data."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(_axis(a, ndim) for a in axis)
    return int(axis) % max(ndim, 1) + 1 if ndim else axis + 1


def _reduction(func):
    def batched(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if not isinstance(a, Batched) or out is not None or kwargs:
            return NotImplemented
        if axis is not None and not isinstance(axis, (numbers.Integral, tuple)):
            return NotImplemented
        if a.bands is not None and axis is None and func is np.sum and dtype is None and \
                len(a.bands.offsets) <= 2:      # direction k: the sum of its band values
            vals = a.bands.vals     # (with two, the one addition the dense sum makes too)
            total = vals[0].copy() if len(vals) == 1 else vals[0] + vals[1]
            return Batched(total.reshape((a.count,) + (1,) * (a.ndim if keepdims else 0)))
        return Batched(func(a.data, axis=_axis(axis, a.ndim), dtype=dtype, keepdims=keepdims))
    return batched


def _reshape(a, newshape=None, order="C", shape=None, **kwargs):
    newshape = shape if newshape is None else newshape
    if not isinstance(a, Batched) or order != "C" or kwargs:
        return NotImplemented
    if isinstance(newshape, numbers.Integral):
        newshape = (newshape,)
    if a.bands is not None:     # the same elements in the same order: the same directions
        return Batched(None, a.bands.reshaped(np.empty(a.shape, np.bool_).reshape(
            newshape).shape))
    return Batched(a.data.reshape((a.data.shape[0],) + tuple(newshape)))


def _transpose(a, axes=None):
    if not isinstance(a, Batched):
        return NotImplemented
    if a.bands is not None and a.ndim <= 1:
        return Batched(None, a.bands)
    order = range(a.ndim - 1, -1, -1) if axes is None else [int(x) % a.ndim for x in axes]
    return Batched(a.data.transpose((0,) + tuple(x + 1 for x in order)))


def _swapaxes(a, axis1, axis2):
    if not isinstance(a, Batched):
        return NotImplemented
    return Batched(np.swapaxes(a.data, _axis(axis1, a.ndim), _axis(axis2, a.ndim)))


def _expand_dims(a, axis):
    if not isinstance(a, Batched):
        return NotImplemented
    count = len(axis) if isinstance(axis, tuple) else 1
    out_ndim = a.ndim + count
    return Batched(np.expand_dims(a.data, _axis(axis if isinstance(axis, tuple) else (axis,),
                                                out_ndim)))


def _squeeze(a, axis=None):
    if not isinstance(a, Batched):
        return NotImplemented
    if axis is None:
        axis = tuple(i for i, n in enumerate(a.shape) if n == 1)
    return Batched(np.squeeze(a.data, _axis(axis if isinstance(axis, tuple) else (axis,),
                                            a.ndim)))


def _ravel(a, order="C"):
    if not isinstance(a, Batched) or order != "C":
        return NotImplemented
    if a.bands is not None:
        return Batched(None, a.bands.reshaped((a.size,)))
    return Batched(a.data.reshape(a.data.shape[0], -1))


def _joined(stack):
    def batched(arrays, axis=0, **kwargs):
        arrays = list(arrays)
        if kwargs or not arrays or axis is None:
            return NotImplemented
        n = _count(arrays)
        ndim = max(np.ndim(x) for x in arrays) + (1 if stack else 0)
        datas = [x.data if isinstance(x, Batched) else np.broadcast_to(
            x, (n,) + np.shape(x)) for x in arrays]
        joiner = np.stack if stack else np.concatenate
        return Batched(joiner(datas, axis=_axis(axis, ndim)))
    return batched


def _broadcast_to(a, shape, subok=False):
    if not isinstance(a, Batched):
        return NotImplemented
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return Batched(np.broadcast_to(_lift(a, len(shape)), a.data.shape[:1] + shape))


def _where(condition, x=None, y=None):
    if x is None or y is None or isinstance(condition, Batched):
        return NotImplemented
    rank = max(np.ndim(condition), np.ndim(x), np.ndim(y))
    return Batched(np.where(condition, _lift(x, rank), _lift(y, rank)))


def _copy(a, order="K", subok=False):
    if not isinstance(a, Batched) or order not in ("K", "C", "A"):
        return NotImplemented
    if a.bands is not None:
        return Batched(None, a.bands.map(np.copy))
    return Batched(a.data.copy())


def _zeros_like(a, dtype=None, **kwargs):
    if kwargs:
        return NotImplemented
    if a.bands is not None:
        return Batched(np.zeros((a.count,) + a.shape, a.dtype if dtype is None else dtype))
    return Batched(np.zeros_like(a.data, dtype=dtype))


def _matmul(a, b):
    """``a @ b`` with a batch on either operand (both: direction by direction)."""
    if isinstance(a, Batched) and isinstance(b, Batched):
        return _each(np.matmul, a, b)
    if isinstance(b, Batched) and b.bands is not None and b.bands.diagonal() and \
            b.ndim == 1 and type(a) is np.ndarray and a.ndim >= 1 and a.shape[-1] == b.count:
        out = np.multiply(a, b.bands.vals[0])   # a @ (s_k e_k) = s_k a[..., k]: columns scaled
        if _finite(out):            # else a holds inf or nan, which 0 times is not 0
            return Batched(out.T if out.ndim == 2 else np.moveaxis(out, -1, 0))
    if isinstance(a, Batched) and a.bands is not None and a.bands.diagonal() and \
            a.ndim == 1 and type(b) is np.ndarray and b.ndim >= 1 and \
            b.shape[-2 if b.ndim > 1 else 0] == a.count:    # (s_k e_k) @ b = s_k b[..., k, :]
        d = a.bands.vals[0]
        out = np.multiply(d, b) if b.ndim == 1 else np.multiply(d[:, None], b)
        if _finite(out):
            return Batched(out if out.ndim <= 2 else np.moveaxis(out, -2, 0))
    if isinstance(b, Batched):
        if b.ndim == 1:               # a @ v: v's directions as columns, one product
            return Batched(np.moveaxis(np.matmul(a, b.data.T), -1, 0))
        if np.ndim(a) == 2 and b.ndim == 2:     # A @ B_k for all k as one (m, n) @ (n, K p)
            count, n, p = b.data.shape
            wide = np.matmul(a, b.data.transpose(1, 0, 2).reshape(n, count * p))
            return Batched(wide.reshape(np.shape(a)[0], count, p).transpose(1, 0, 2))
        return Batched(np.matmul(a, _lift(b, max(np.ndim(a), b.ndim))))
    if a.ndim == 1:                   # v @ b: each direction a row (of each matrix of a stack b)
        out = np.matmul(a.data, b)
        return Batched(out if out.ndim <= 2 else np.moveaxis(out, -2, 0))
    if a.ndim == 2 and np.ndim(b) == 2:         # A_k @ B for all k as one (K m, n) @ (n, p)
        count, m, n = a.data.shape
        return Batched(np.matmul(a.data.reshape(count * m, n), b).reshape(
            count, m, np.shape(b)[-1]))
    return Batched(np.matmul(_lift(a, max(a.ndim, np.ndim(b))), b))


def _dot(a, b, out=None):
    if out is not None:
        return NotImplemented
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.multiply(a, b)
    if np.ndim(b) <= 2:               # np.dot is @ for these ranks
        return _matmul(a, b)
    return NotImplemented


def _vdot(a, b):
    if isinstance(a, Batched) and isinstance(b, Batched):
        return NotImplemented
    if isinstance(a, Batched):
        return Batched(a.data.reshape(a.data.shape[0], -1).conj() @ np.ravel(b))
    return Batched(b.data.reshape(b.data.shape[0], -1) @ np.conj(np.ravel(a)))


_FUNCTIONS = {
    np.sum: _reduction(np.sum), np.mean: _reduction(np.mean),
    np.reshape: _reshape, np.transpose: _transpose, np.swapaxes: _swapaxes,
    np.expand_dims: _expand_dims, np.squeeze: _squeeze, np.ravel: _ravel,
    np.broadcast_to: _broadcast_to, np.concatenate: _joined(False), np.stack: _joined(True), np.where: _where,
    np.copy: _copy,
    np.may_share_memory: lambda a, b, **kw: np.may_share_memory(_data(a), _data(b), **kw),
    np.shares_memory: lambda a, b, **kw: np.shares_memory(_data(a), _data(b), **kw),
    np.zeros_like: _zeros_like, np.dot: _dot, np.vdot: _vdot,
    np.shape: lambda a: a.shape if isinstance(a, Batched) else np.shape(a),
    np.ndim: lambda a: a.ndim if isinstance(a, Batched) else np.ndim(a),
    np.size: lambda a, axis=None: (a.size if axis is None else a.shape[axis]) if isinstance(
        a, Batched) else np.size(a, axis),
}
# functions that read only shapes and dtypes: asked of the first direction
_METADATA = {np.result_type, np.iscomplexobj, np.isrealobj}
