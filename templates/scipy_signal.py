"""Derivative rules of ``scipy.signal``'s convolutions: ``convolve``, ``correlate`` and
``fftconvolve`` of real N-D arrays, every ``mode`` ('full', 'same', 'valid') and ``method``.
Loaded only when SciPy imports (``srcad[scipy]``).

Convolution is bilinear: the tangent is ``f(d1, in2) + f(in1, d2)``. The adjoint places the
output's cotangent in the 'full' result (``runtime.uncrop``: 'same' and 'valid' are centered
crops of it) and correlates it with the other operand ('valid'): for ``y = in1 * in2``,
``g1 = correlate(G, in2, 'valid')`` and ``g2 = correlate(G, in1, 'valid')``. ``correlate(a, b)``
is ``convolve(a, flip(b))`` for real arrays, so its rules are those with ``in2`` flipped.

Conventions: real arrays only (SciPy conjugates ``in2`` in ``correlate``); ``fftconvolve``'s
``axes`` convolves along those axes only, the operands broadcasting along the others (their
cotangents summed back there); 'valid' needs one input at least as large as the other on every
convolved axis, as SciPy does.
"""
import numpy as np
import scipy.signal as sig  # type: ignore[import-untyped, unused-ignore]

from srcad.registry import adjoint, d, linear, tangent
from srcad.runtime import crop, unbroadcast, uncrop

linear(uncrop, crop)


@adjoint(sig.convolve)
def convolve_adjoint(y, in1, in2, mode="full", method="auto"):
    g = uncrop(d[y], in1, in2)
    d[in1] = sig.correlate(g, in2, mode="valid")
    d[in2] = sig.correlate(g, in1, mode="valid")


@tangent(sig.convolve)
def convolve_tangent(y, in1, in2, mode="full", method="auto"):
    d[y] = sig.convolve(d[in1], in2, mode=mode) + sig.convolve(in1, d[in2], mode=mode)


# fftconvolve: the same function along ``axes`` (all by default); along the other axes the
# operands broadcast, so each cotangent is summed back to its operand's shape there
@adjoint(sig.fftconvolve)
def fftconvolve_adjoint(y, in1, in2, mode="full", axes=None):
    g = uncrop(d[y], in1, in2, axes)
    d[in1] = unbroadcast(sig.fftconvolve(g, np.flip(in2, axes), mode="valid", axes=axes), in1)
    d[in2] = unbroadcast(sig.fftconvolve(g, np.flip(in1, axes), mode="valid", axes=axes), in2)


@tangent(sig.fftconvolve)
def fftconvolve_tangent(y, in1, in2, mode="full", axes=None):
    d[y] = sig.fftconvolve(d[in1], in2, mode=mode, axes=axes) + \
        sig.fftconvolve(in1, d[in2], mode=mode, axes=axes)


@adjoint(sig.correlate)
def correlate_adjoint(y, in1, in2, mode="full", method="auto"):
    g = uncrop(d[y], in1, in2)
    d[in1] = sig.convolve(g, in2, mode="valid")
    d[in2] = sig.correlate(in1, g, mode="valid")


@tangent(sig.correlate)
def correlate_tangent(y, in1, in2, mode="full", method="auto"):
    d[y] = sig.correlate(d[in1], in2, mode=mode) + sig.correlate(in1, d[in2], mode=mode)


@adjoint(uncrop)
def uncrop_adjoint(y, g, in1, in2, axes=None):
    d[g] = crop(d[y], g, in1, in2, axes)


@adjoint(crop)
def crop_adjoint(y, g, like, in1, in2, axes=None):
    d[g] = uncrop(d[y], in1, in2, axes)
