"""Convolution and pooling for ``srcad.nn``, NCHW, computed four ways.

``conv2d(x, w, stride, padding, dilation, groups, method)`` is a cross-correlation (as in
deep-learning libraries): ``y[n, o, p, q] = sum_{c, i, j} x_pad[n, c', p s + i d, q s + j d]
w[o, c, i, j]`` with ``c'`` running over the input channels of ``o``'s group. ``method``:

* ``'direct'``: a loop over the kernel offsets (or over the output positions, when there are
  fewer), each a batched matrix product over the channels;
* ``'im2col'``: the windows gathered into one matrix (``sliding_window_view``), one GEMM;
* ``'fft'``: products of real FFTs (the kernel dilated, the stride taken afterwards);
* ``'winograd'``: Winograd's minimal filtering F(2x2, 3x3), for 3x3 kernels with stride and
  dilation 1 (16 multiplications per 2x2 output tile and channel pair instead of 36);
* ``'auto'``: chosen by shape (``choose_method``, from the crossover points measured by
  ``benchmarks/conv_methods.py``).

All four give the same values within float64 rounding (float32 inputs stay float32).

The derivatives are convolutions themselves. For ``y = conv2d(x, w)``:

* ``conv_transpose2d(g, w, ...)`` is the adjoint in ``x`` (a transposed convolution: ``g``
  dilated by the stride, fully padded, correlated with the flipped kernel);
* ``conv2d_weight_grad(x, g, kernel_size, ...)`` is the adjoint in ``w`` (``x`` correlated with
  ``g`` as the kernel, stride and dilation swapping roles).

The three are bilinear and each one's adjoints are the other two, so srcad differentiates them
to any order (rules in ``srcad/templates/nn.py``). In a derivative, a method that does not
apply to a call's shapes (Winograd for the weight gradient, whose "kernel" is ``g``) is
replaced by the ``'auto'`` choice; asked for directly, it is an error.

Pooling: ``max_pool2d`` sends the derivative of each window to its maximum, the first one in
row-major window order on ties (``window_argmax``); overlapping windows add up.
``avg_pool2d`` counts padding as zeros in the average (``count_include_pad``).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv2d", "conv_transpose2d", "conv2d_weight_grad", "conv1d", "choose_method",
           "METHODS", "max_pool2d", "avg_pool2d", "avg_pool2d_transpose", "window_argmax",
           "gather_windows", "scatter_windows"]

METHODS = ("direct", "im2col", "fft", "winograd", "auto")


def pair(v) -> tuple:
    """An int or a pair of ints as a pair."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair of ints, not {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _span(k, dilation):
    return dilation * (k - 1) + 1


def _check(x, w, groups):
    if np.ndim(x) != 4 or np.ndim(w) != 4:
        raise ValueError(f"conv2d takes x (N, C, H, W) and w (O, C/groups, kh, kw), not shapes "
                         f"{np.shape(x)} and {np.shape(w)}")
    c, o, cg = np.shape(x)[1], np.shape(w)[0], np.shape(w)[1]
    if c != cg * groups or o % groups:
        raise ValueError(f"conv2d: {c} input channels, weight {np.shape(w)} and groups={groups} "
                         f"do not fit (need C == w.shape[1] * groups, O divisible by groups)")


# -- the four ways of one correlation of an already padded input ------------------------------

def _out(n, k, stride, dilation):
    return (n - _span(k, dilation)) // stride + 1


def _direct(xp, w, stride, dilation, groups):
    n, c, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    p, q = _out(hp, kh, sh, dh), _out(wp, kw, sw, dw)
    og = o // groups
    xg = xp.reshape(n, groups, cg, hp, wp)
    wg = w.reshape(groups, og, cg, kh, kw)
    if p * q < kh * kw:
        # fewer outputs than kernel offsets (a weight gradient): one contraction per output
        out = np.empty((n, groups, og, p, q), dtype=np.result_type(xp, w))
        for i in range(p):
            for j in range(q):
                window = xg[:, :, :, i * sh:i * sh + _span(kh, dh):dh,
                            j * sw:j * sw + _span(kw, dw):dw]
                out[:, :, :, i, j] = np.einsum("ngcij,gocij->ngo", window, wg)
        return out.reshape(n, o, p, q)
    out = np.zeros((n, groups, p, q, og), dtype=np.result_type(xp, w))
    for i in range(kh):
        for j in range(kw):
            patch = xg[:, :, :, i * dh:i * dh + sh * (p - 1) + 1:sh,
                       j * dw:j * dw + sw * (q - 1) + 1:sw]
            out += np.moveaxis(patch, 2, -1) @ np.swapaxes(wg[:, :, :, i, j], 1, 2)[:, None]
    return np.moveaxis(out, -1, 2).reshape(n, o, p, q)


def _group_matmul(a, b):
    """``a @ b`` for stacks (groups, m, k) @ (groups, k, n): one 2-D GEMM for one group (NumPy's
    stacked matmul is much slower there)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return a @ b


def _im2col(xp, w, stride, dilation, groups):
    n, c, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    og = o // groups
    windows = sliding_window_view(xp, (_span(kh, dh), _span(kw, dw)), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]                    # (n, c, p, q, kh, kw)
    p, q = windows.shape[2:4]
    cols = windows.reshape(n, groups, cg, p, q, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
    cols = cols.reshape(groups, n * p * q, cg * kh * kw)             # one copy: the columns
    out = _group_matmul(cols, np.swapaxes(w.reshape(groups, og, cg * kh * kw), 1, 2))
    return out.reshape(groups, n, p, q, og).transpose(1, 0, 4, 2, 3).reshape(n, o, p, q)


def _fft(xp, w, stride, dilation, groups):
    n, c, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    og = o // groups
    p, q = _out(hp, kh, sh, dh), _out(wp, kw, sw, dw)
    dtype = np.result_type(xp, w)
    kernel = np.zeros((o, cg, _span(kh, dh), _span(kw, dw)), dtype=dtype)
    kernel[:, :, ::dh, ::dw] = w
    xf = np.fft.rfft2(xp.astype(dtype, copy=False))                        # (n, c, hp, f)
    wf = np.conj(np.fft.rfft2(kernel, s=(hp, wp)))                         # (o, cg, hp, f)
    f = xf.shape[-2:]
    xt = np.moveaxis(xf.reshape(n, groups, cg, -1), -1, 0).transpose(0, 2, 1, 3)  # (F,g,n,cg)
    wt = np.moveaxis(wf.reshape(groups, og, cg, -1), -1, 0).transpose(0, 1, 3, 2)  # (F,g,cg,og)
    yf = (xt @ wt).transpose(2, 1, 3, 0).reshape((n, o) + f)
    full = np.fft.irfft2(yf, s=(hp, wp))
    return full[:, :, :sh * (p - 1) + 1:sh, :sw * (q - 1) + 1:sw].astype(dtype, copy=False)


# Winograd F(2x2, 3x3): Y = A^T [(G g G^T) * (B^T d B)] A for 4x4 input tiles d, 2x2 outputs.
# B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], A^T = [[1, 1, 1, 0],
# [0, 1, -1, -1]] are applied as additions (_input_transform, _output_transform); G has halves.
_WINOGRAD_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def winograd_applies(w_shape, stride, dilation) -> bool:
    return tuple(w_shape[2:]) == (3, 3) and pair(stride) == (1, 1) and pair(dilation) == (1, 1)


def _input_transform(tiles):
    """``B^T d B`` of each 4x4 tile (axes 0 and 1 of ``tiles``), by additions only, into a new
    contiguous array shaped like ``tiles``."""
    rows = np.empty(tiles.shape, dtype=tiles.dtype)
    np.subtract(tiles[0], tiles[2], out=rows[0])
    np.add(tiles[1], tiles[2], out=rows[1])
    np.subtract(tiles[2], tiles[1], out=rows[2])
    np.subtract(tiles[1], tiles[3], out=rows[3])
    v = np.empty(tiles.shape, dtype=tiles.dtype)
    np.subtract(rows[:, 0], rows[:, 2], out=v[:, 0])
    np.add(rows[:, 1], rows[:, 2], out=v[:, 1])
    np.subtract(rows[:, 2], rows[:, 1], out=v[:, 2])
    np.subtract(rows[:, 1], rows[:, 3], out=v[:, 3])
    return v


def _output_transform(m):
    """``A^T m A`` of each 4x4 product (axes 0 and 1 of ``m``): the 2x2 output tiles."""
    rows = np.stack([m[0] + m[1] + m[2], m[1] - m[2] - m[3]])
    return np.stack([rows[:, 0] + rows[:, 1] + rows[:, 2], rows[:, 1] - rows[:, 2] - rows[:, 3]],
                    axis=1)


def _winograd(xp, w, stride, dilation, groups):
    n, c, hp, wp = xp.shape
    o, cg = w.shape[:2]
    og = o // groups
    dtype = np.result_type(xp, w)
    p, q = hp - 2, wp - 2
    th, tw = -(-p // 2), -(-q // 2)
    xpp = np.pad(xp, ((0, 0), (0, 0), (0, 2 * th + 2 - hp), (0, 2 * tw + 2 - wp)))
    # 4x4 tiles overlapping by 2, as (4, 4, c, n, th, tw): the tile axes first, for the GEMM
    tiles = sliding_window_view(xpp, (4, 4), axis=(2, 3))[:, :, ::2, ::2].transpose(4, 5, 1, 0,
                                                                                  2, 3)
    v = _input_transform(tiles).reshape(16, groups, cg, n * th * tw)
    gm = _WINOGRAD_G.astype(dtype)
    u = (gm @ w.astype(dtype, copy=False) @ gm.T).reshape(groups, og, cg, 16).transpose(3, 0, 1, 2)
    m = (u @ v).reshape(4, 4, groups * og, n, th, tw)                  # 16 GEMMs over channels
    y = _output_transform(m)                                          # (2, 2, o, n, th, tw)
    y = y.transpose(3, 2, 4, 0, 5, 1).reshape(n, o, 2 * th, 2 * tw)
    return y[:, :, :p, :q]


_ENGINES = {"direct": _direct, "im2col": _im2col, "fft": _fft, "winograd": _winograd}

# Crossover points measured by benchmarks/conv_methods.py (OPENBLAS_NUM_THREADS=1, float64,
# batch 4; docs/nn.md has the table): FFT for large kernels on large images, Winograd for 3x3
# kernels with many channels, the direct loop for small kernels with a few channels on large
# outputs, im2col otherwise (small images, one channel).
FFT_MIN_KERNEL = 49           # kernel offsets kh * kw (stride 1) ...
FFT_MIN_OUTPUTS = 400         # ... and output positions p * q from which FFT is the fastest
WINOGRAD_MIN_CHANNELS = 1024  # channel products cg * og per group from which Winograd wins
DIRECT_MIN_CHANNELS = 64      # channel products from which the direct loop beats im2col ...
DIRECT_MIN_OUTPUTS = 196      # ... on outputs of at least this many positions
DIRECT_MAX_KERNEL = 25        # ... and kernels of at most this many offsets


def choose_method(x_shape, w_shape, stride=1, dilation=1, groups=1) -> str:
    """The method ``'auto'`` uses for a correlation of the (padded) input ``x_shape``."""
    stride, dilation = pair(stride), pair(dilation)
    kh, kw = w_shape[2:]
    outputs = _out(x_shape[2], kh, stride[0], dilation[0]) * _out(x_shape[3], kw, stride[1],
                                                                  dilation[1])
    channels = w_shape[0] // groups * w_shape[1]
    if stride == (1, 1) and kh * kw >= FFT_MIN_KERNEL and outputs >= FFT_MIN_OUTPUTS:
        return "fft"
    if winograd_applies(w_shape, stride, dilation) and channels >= WINOGRAD_MIN_CHANNELS and \
            outputs >= DIRECT_MIN_OUTPUTS:
        return "winograd"
    if channels >= DIRECT_MIN_CHANNELS and outputs >= DIRECT_MIN_OUTPUTS and \
            kh * kw <= DIRECT_MAX_KERNEL:
        return "direct"
    return "im2col"


def _correlate(xp, w, stride, dilation, groups, method, strict=True):
    if not np.any(w):
        # an all-zero kernel (the zero tangent of an inactive operand, which srcad makes with
        # zeros_like): the result is zero, without the work
        p, q = (_out(n, k, s, dl) for n, k, s, dl in zip(xp.shape[2:], w.shape[2:], stride,
                                                          dilation))
        return np.zeros((xp.shape[0], w.shape[0], p, q), dtype=np.result_type(xp, w))
    if method not in _ENGINES:
        if method != "auto":
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        method = choose_method(xp.shape, w.shape, stride, dilation, groups)
    elif method == "winograd" and not winograd_applies(w.shape, stride, dilation):
        if strict:
            raise ValueError("method='winograd' computes 3x3 kernels with stride and dilation 1 "
                             f"(here kernel {tuple(w.shape[2:])}, stride {stride}, dilation "
                             f"{dilation}): use 'auto' or another method")
        method = choose_method(xp.shape, w.shape, stride, dilation, groups)
    return _ENGINES[method](xp, w, stride, dilation, groups)


def _pad(x, padding):
    (ph, pw) = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# -- the three bilinear maps --------------------------------------------------------------------

def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    """2-D cross-correlation of ``x`` (N, C, H, W) with ``w`` (O, C / groups, kh, kw): shape
    (N, O, P, Q). ``stride``, ``padding`` (zeros) and ``dilation`` are ints or pairs;
    ``groups == C == O`` is a depthwise convolution. See the module docstring for ``method``."""
    _check(x, w, groups)
    return _correlate(_pad(x, pair(padding)), w, pair(stride), pair(dilation), groups, method)


def conv_transpose2d(g, w, stride=1, padding=0, dilation=1, groups=1, method="auto",
                     output_size=None):
    """The transposed convolution: the adjoint of ``conv2d(x, w, ...)`` in ``x`` applied to
    ``g`` (N, O, P, Q), shaped (N, C, H, W). ``output_size`` (H, W) picks among the input
    sizes a strided convolution maps to (P, Q); default: the smallest."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, o, p, q = np.shape(g)
    _, cg, kh, kw = np.shape(w)
    og = o // groups
    if (sh, sw) != (1, 1):
        spread = np.zeros((n, o, sh * (p - 1) + 1, sw * (q - 1) + 1), dtype=np.result_type(g))
        spread[:, :, ::sh, ::sw] = g
        g = spread
    full = np.pad(g, ((0, 0), (0, 0), (dh * (kh - 1),) * 2, (dw * (kw - 1),) * 2))
    flipped = np.flip(w, (2, 3)).reshape(groups, og, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    used = _correlate(full, flipped.reshape(groups * cg, og, kh, kw), (1, 1), (dh, dw), groups,
                      method, strict=False)          # the gradient of the padded input's rows used
    hp_used, wp_used = used.shape[2:]
    if output_size is None:
        output_size = (hp_used - 2 * ph, wp_used - 2 * pw)
    h, wd = output_size
    extra_h, extra_w = h + 2 * ph - hp_used, wd + 2 * pw - wp_used
    if extra_h < 0 or extra_w < 0 or extra_h >= sh or extra_w >= sw:
        raise ValueError(f"conv_transpose2d: output_size {tuple(output_size)} does not map to "
                         f"{(p, q)} with these stride, padding and dilation")
    if extra_h or extra_w:
        used = np.pad(used, ((0, 0), (0, 0), (0, extra_h), (0, extra_w)))
    return used[:, :, ph:ph + h, pw:pw + wd]


def conv2d_weight_grad(x, g, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                       method="auto"):
    """The adjoint of ``conv2d(x, w, ...)`` in ``w`` applied to ``g`` (N, O, P, Q): shaped
    (O, C / groups, kh, kw) for ``kernel_size`` (kh, kw)."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = pair(kernel_size)
    xp = _pad(x, pair(padding))
    n, c, _, _ = xp.shape
    _, o, p, q = np.shape(g)
    cg, og = c // groups, o // groups
    xp = xp[:, :, :sh * (p - 1) + _span(kh, dh), :sw * (q - 1) + _span(kw, dw)]
    hp, wp = xp.shape[2:]
    inputs = xp.reshape(n, groups, cg, hp, wp).transpose(2, 1, 0, 3, 4).reshape(
        cg, groups * n, hp, wp)
    kernels = np.reshape(g, (n, groups, og, p, q)).transpose(1, 2, 0, 3, 4).reshape(
        groups * og, n, p, q)
    out = _correlate(inputs, kernels, (dh, dw), (sh, sw), groups, method, strict=False)
    return np.swapaxes(out, 0, 1)


def conv1d(x, w, stride=1, padding=0, dilation=1, groups=1, method="auto"):
    """1-D cross-correlation of ``x`` (N, C, L) with ``w`` (O, C / groups, k): ``conv2d`` over
    a height of 1 (ints only for stride, padding, dilation)."""
    y = conv2d(x[:, :, None, :], w[:, :, None, :], (1, stride), (0, padding), (1, dilation),
               groups, method)
    return y[:, :, 0, :]


# -- pooling ------------------------------------------------------------------------------------

def _pool_geometry(x, kernel_size, stride, padding):
    kh, kw = pair(kernel_size)
    sh, sw = pair(kernel_size if stride is None else stride)
    ph, pw = pair(padding)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"pooling padding {padding} must be at most half the kernel {kernel_size}")
    return (kh, kw), (sh, sw), (ph, pw)


def window_argmax(x, kernel_size, stride=None, padding=0):
    """For each pooling window, the flat index (into H * W) of its maximum: the first one in
    row-major window order on ties. Shape (N, C, P, Q), integers."""
    (kh, kw), (sh, sw), (ph, pw) = _pool_geometry(x, kernel_size, stride, padding)
    n, c, h, w = np.shape(x)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    p, q = windows.shape[2:4]
    best = np.argmax(windows.reshape(n, c, p, q, kh * kw), axis=-1)
    rows = np.arange(p)[:, None] * sh + best // kw - ph
    cols = np.arange(q)[None, :] * sw + best % kw - pw
    return rows * w + cols


def gather_windows(x, index):
    """``x`` (N, C, H, W) at the flat indices ``index`` (N, C, P, Q) of each (n, c) plane."""
    n, c, h, w = np.shape(x)
    flat = np.reshape(x, (n, c, h * w))
    return np.take_along_axis(flat, np.reshape(index, (n, c, -1)), axis=2).reshape(np.shape(index))


def scatter_windows(g, index, like):
    """The transpose of ``gather_windows``: ``g`` (N, C, P, Q) added into an array shaped like
    ``like`` at the flat indices ``index`` (repeated indices add up)."""
    n, c, h, w = np.shape(like)
    offsets = (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
    total = np.bincount(np.ravel(index + offsets), weights=np.ravel(g), minlength=n * c * h * w)
    return total.astype(np.result_type(g), copy=False).reshape(n, c, h, w)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel; padding counts
    as -inf): shape (N, C, P, Q)."""
    return gather_windows(x, window_argmax(x, kernel_size, stride, padding))


def _avg_kernel(like, kernel_size):
    kh, kw = pair(kernel_size)
    return np.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=np.result_type(like, np.float32))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """The mean of each ``kernel_size`` window (stride defaults to the kernel; padding counts
    as zeros in the mean): shape (N, C, P, Q)."""
    kernel, stride, padding = _pool_geometry(x, kernel_size, stride, padding)
    n, c, h, w = np.shape(x)
    y = conv2d(np.reshape(x, (n * c, 1, h, w)), _avg_kernel(x, kernel), stride, padding)
    return y.reshape((n, c) + y.shape[2:])


def avg_pool2d_transpose(g, like, kernel_size, stride=None, padding=0):
    """The adjoint of ``avg_pool2d`` (for inputs shaped like ``like``) applied to ``g``."""
    kernel, stride, padding = _pool_geometry(like, kernel_size, stride, padding)
    n, c, h, w = np.shape(like)
    p, q = np.shape(g)[2:]
    x = conv_transpose2d(np.reshape(g, (n * c, 1, p, q)), _avg_kernel(g, kernel), stride, padding,
                         output_size=(h, w))
    return x.reshape(n, c, h, w)
