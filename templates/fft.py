"""Derivative rules of ``numpy.fft``: the complex transforms (``fft``, ``ifft``, ``fft2``,
``ifft2``, ``fftn``, ``ifftn``), the real ones (``rfft``, ``irfft``, ``rfft2``, ``irfft2``,
``rfftn``, ``irfftn``), the Hermitian ones (``hfft``, ``ihfft``), ``fftshift``/``ifftshift`` and
``fftfreq``/``rfftfreq`` (in their spacing ``d``), each with ``n``/``s``, ``axis``/``axes`` and
``norm`` as NumPy takes them.

Every transform is linear, so each tangent is the transform of the tangent. The adjoints follow
srcad's convention for complex values (JAX's: a cotangent pairs with a tangent as
``Re(g * t)``, without conjugation), so they are transposes, never conjugate transposes:

* The discrete Fourier matrix is symmetric, so the adjoint of ``fft``/``ifft``/``fftn``/``ifftn``
  is the same transform of the cotangent, with the same ``norm`` (a scale). ``n``/``s`` cut or
  zero-pad the input first; ``fit_to`` undoes that on the adjoint (it is its own transpose:
  the entries a transform cuts off get a zero adjoint).
* ``rfft`` (``rfftn``) keeps the first ``n // 2 + 1`` frequencies of the last axis of a real
  input: its adjoint zero-pads the cotangent to the full length, transforms it back with
  ``fft`` (``fftn``), and srcad takes the real part for the real input.
* ``irfft`` (``irfftn``) reads a half spectrum and implies the conjugates of the other half:
  its adjoint is ``ifft`` (``ifftn``) of the real cotangent, cut to the half spectrum and
  weighted by how often each entry counts (``irfft_weights``: 1 for the zero frequency and the
  Nyquist one of an even length, 2 for the others, 0 past what the transform reads). The
  imaginary parts the transform ignores (of the zero and Nyquist frequencies) get a zero
  derivative, as they should. A real input (NumPy reads it as complex) gets the real part
  (``real_like``), so the derivative of a real build stays real.
* ``hfft(a) = irfft(conj(a))`` with the other scale and ``ihfft(a) = conj(rfft(a))``: for real
  cotangents their adjoints are ``fft`` and ``ifft`` of it, weighted and cut or padded likewise.
* ``fftshift`` and ``ifftshift`` are permutations, each the other's inverse.

All of them are right for complex values (marked ``complex_ok``); the real transforms assume
a real input (``rfft``, ``ihfft``; NumPy drops an imaginary part) and give a real output
(``irfft``, ``hfft``). float32 and complex64 inputs keep their precision, as NumPy 2's
transforms do.
"""
import numpy as np

from srcad.registry import adjoint, complex_ok, d, linear, nondiff, real_valued, tangent
from srcad.runtime import fft_axes, fft_shape, fit_to, irfft_weights, real_like

_TRANSFORMS = (np.fft.fft, np.fft.ifft, np.fft.fft2, np.fft.ifft2, np.fft.fftn, np.fft.ifftn,
               np.fft.rfft, np.fft.irfft, np.fft.rfft2, np.fft.irfft2, np.fft.rfftn,
               np.fft.irfftn, np.fft.hfft, np.fft.ihfft, np.fft.fftshift, np.fft.ifftshift)
nondiff(fft_axes, fft_shape, irfft_weights)
linear(*_TRANSFORMS, fit_to, real_like)
complex_ok(*_TRANSFORMS, fit_to, real_like, np.fft.fftfreq, np.fft.rfftfreq)
real_valued(np.fft.irfft, np.fft.irfft2, np.fft.irfftn, np.fft.hfft, np.fft.fftfreq,
            np.fft.rfftfreq)


# -- complex transforms: the Fourier matrix is symmetric ----------------------------------------

@adjoint(np.fft.fft)
def fft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = fit_to(np.fft.fft(d[y], axis=axis, norm=norm), np.shape(a))


@tangent(np.fft.fft)
def fft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.fft(d[a], n, axis=axis, norm=norm)


@adjoint(np.fft.ifft)
def ifft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = fit_to(np.fft.ifft(d[y], axis=axis, norm=norm), np.shape(a))


@tangent(np.fft.ifft)
def ifft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.ifft(d[a], n, axis=axis, norm=norm)


@adjoint(np.fft.fft2)
def fft2_adjoint(y, a, s=None, axes=(-2, -1), norm=None):
    d[a] = fit_to(np.fft.fft2(d[y], axes=axes, norm=norm), np.shape(a))


@tangent(np.fft.fft2)
def fft2_tangent(y, a, s=None, axes=(-2, -1), norm=None):
    d[y] = np.fft.fft2(d[a], s, axes=axes, norm=norm)


@adjoint(np.fft.ifft2)
def ifft2_adjoint(y, a, s=None, axes=(-2, -1), norm=None):
    d[a] = fit_to(np.fft.ifft2(d[y], axes=axes, norm=norm), np.shape(a))


@tangent(np.fft.ifft2)
def ifft2_tangent(y, a, s=None, axes=(-2, -1), norm=None):
    d[y] = np.fft.ifft2(d[a], s, axes=axes, norm=norm)


# axes=None with s: the last len(s) axes (fft_axes spells them out for the adjoint).
@adjoint(np.fft.fftn)
def fftn_adjoint(y, a, s=None, axes=None, norm=None):
    d[a] = fit_to(np.fft.fftn(d[y], axes=axes if s is None else fft_axes(a, s, axes),
                              norm=norm), np.shape(a))


@tangent(np.fft.fftn)
def fftn_tangent(y, a, s=None, axes=None, norm=None):
    d[y] = np.fft.fftn(d[a], s, axes=axes, norm=norm)


@adjoint(np.fft.ifftn)
def ifftn_adjoint(y, a, s=None, axes=None, norm=None):
    d[a] = fit_to(np.fft.ifftn(d[y], axes=axes if s is None else fft_axes(a, s, axes),
                               norm=norm), np.shape(a))


@tangent(np.fft.ifftn)
def ifftn_tangent(y, a, s=None, axes=None, norm=None):
    d[y] = np.fft.ifftn(d[a], s, axes=axes, norm=norm)


# -- real input, half spectrum out: pad the cotangent to the full spectrum ----------------------

@adjoint(np.fft.rfft)
def rfft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = fit_to(np.fft.fft(fit_to(d[y], fft_shape(a, n, axis)), axis=axis, norm=norm),
                  np.shape(a))


@tangent(np.fft.rfft)
def rfft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.rfft(d[a], n, axis=axis, norm=norm)


@adjoint(np.fft.rfft2)
def rfft2_adjoint(y, a, s=None, axes=(-2, -1), norm=None):
    d[a] = fit_to(np.fft.fft2(fit_to(d[y], fft_shape(a, s, axes)), axes=axes, norm=norm),
                  np.shape(a))


@tangent(np.fft.rfft2)
def rfft2_tangent(y, a, s=None, axes=(-2, -1), norm=None):
    d[y] = np.fft.rfft2(d[a], s, axes=axes, norm=norm)


@adjoint(np.fft.rfftn)
def rfftn_adjoint(y, a, s=None, axes=None, norm=None):
    d[a] = fit_to(np.fft.fftn(fit_to(d[y], fft_shape(a, s, axes)), axes=fft_axes(a, s, axes),
                              norm=norm), np.shape(a))


@tangent(np.fft.rfftn)
def rfftn_tangent(y, a, s=None, axes=None, norm=None):
    d[y] = np.fft.rfftn(d[a], s, axes=axes, norm=norm)


# -- half spectrum in, real output: each entry counts once or twice (irfft_weights) -------------

@adjoint(np.fft.irfft)
def irfft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = real_like(fit_to(np.fft.ifft(d[y], axis=axis, norm=norm), np.shape(a)),
                     a) * irfft_weights(y, a, axis)


@tangent(np.fft.irfft)
def irfft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.irfft(d[a], n, axis=axis, norm=norm)


@adjoint(np.fft.irfft2)
def irfft2_adjoint(y, a, s=None, axes=(-2, -1), norm=None):
    d[a] = real_like(fit_to(np.fft.ifft2(d[y], axes=axes, norm=norm), np.shape(a)),
                     a) * irfft_weights(y, a, axes)


@tangent(np.fft.irfft2)
def irfft2_tangent(y, a, s=None, axes=(-2, -1), norm=None):
    d[y] = np.fft.irfft2(d[a], s, axes=axes, norm=norm)


@adjoint(np.fft.irfftn)
def irfftn_adjoint(y, a, s=None, axes=None, norm=None):
    d[a] = real_like(fit_to(np.fft.ifftn(d[y], axes=fft_axes(a, s, axes), norm=norm),
                            np.shape(a)), a) * irfft_weights(y, a, fft_axes(a, s, axes))


@tangent(np.fft.irfftn)
def irfftn_tangent(y, a, s=None, axes=None, norm=None):
    d[y] = np.fft.irfftn(d[a], s, axes=axes, norm=norm)


# -- Hermitian transforms: hfft(a) = irfft(conj(a)) * n, ihfft(a) = conj(rfft(a)) / n ------------

@adjoint(np.fft.hfft)
def hfft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = real_like(fit_to(np.fft.fft(d[y], axis=axis, norm=norm), np.shape(a)),
                     a) * irfft_weights(y, a, axis)


@tangent(np.fft.hfft)
def hfft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.hfft(d[a], n, axis=axis, norm=norm)


@adjoint(np.fft.ihfft)
def ihfft_adjoint(y, a, n=None, axis=-1, norm=None):
    d[a] = fit_to(np.fft.ifft(fit_to(d[y], fft_shape(a, n, axis)), axis=axis, norm=norm),
                  np.shape(a))


@tangent(np.fft.ihfft)
def ihfft_tangent(y, a, n=None, axis=-1, norm=None):
    d[y] = np.fft.ihfft(d[a], n, axis=axis, norm=norm)


# -- shifts: permutations, each undone by the other ----------------------------------------------

@adjoint(np.fft.fftshift)
def fftshift_adjoint(y, x, axes=None):
    d[x] = np.fft.ifftshift(d[y], axes=axes)


@tangent(np.fft.fftshift)
def fftshift_tangent(y, x, axes=None):
    d[y] = np.fft.fftshift(d[x], axes=axes)


@adjoint(np.fft.ifftshift)
def ifftshift_adjoint(y, x, axes=None):
    d[x] = np.fft.fftshift(d[y], axes=axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(y, x, axes=None):
    d[y] = np.fft.ifftshift(d[x], axes=axes)


# -- sample frequencies k / (n * spacing): a derivative in the spacing only ---------------------

@adjoint(np.fft.fftfreq, np.fft.rfftfreq)
def fftfreq_adjoint(y, n, d=1.0):
    d[d] = -np.sum(d[y] * y) / d


@tangent(np.fft.fftfreq, np.fft.rfftfreq)
def fftfreq_tangent(y, n, d=1.0):
    d[y] = y * (-d[d] / d)


# -- the runtime helpers of the rules above: fit_to is its own transpose; real_like's cotangent
# is given its input's kind (the real part for a real input) ---------------------------------------

@adjoint(fit_to)
def fit_to_adjoint(y, g, shape):
    d[g] = fit_to(d[y], np.shape(g))


@adjoint(real_like)
def real_like_adjoint(y, g, like):
    d[g] = real_like(d[y], g)
