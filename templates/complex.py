"""Derivative rules of complex values: the real and imaginary parts (``np.real``/``.real``,
``np.imag``/``.imag``), ``np.conj``/``.conj()``, ``np.angle``, ``abs``/``np.abs`` of a complex
value, ``np.real_if_close``, the builtin ``complex(re, im)``, ``.astype`` to or from complex,
and srcad's ``to_complex``.

Convention (JAX's): a cotangent ``g`` pairs with a tangent ``t`` as ``Re(g * t)``, without
conjugation. So a holomorphic function's rule is the real one (``d[x] = d[y] * f'(x)``), and
the adjoint of a real-valued ``y = f(z)``, ``dy = Re(c * dz)``, is ``d[z] = d[y] * c``: for
``abs``, ``c = conj(z) / |z|``; for ``angle``, ``c = -1j / z``; for ``imag``, ``c = -1j``.
The gradient of a real ``f`` of a complex ``z`` is then ``df/dx - 1j * df/dy``.

* The cotangent of a real value is real, and these rules take ``np.real(d[y])`` of their
  real output's; the cotangent of a complex value is complex (``np.real``'s adjoint adds
  ``0j``), so a buffer that later takes complex contributions in place can hold them.
* ``@adjoint(p, complex=True)`` rules apply where an input may be complex; for a real input
  the plain rule stays (``abs`` in ufuncs.py, ``real`` in shape.py): the imaginary part and
  the angle of a real value are constant.
* ``abs`` and ``angle`` have a kink at 0: ``abs`` gives 0 there (as for real values),
  ``angle`` inf or nan (it is not continuous at 0).
"""
import math

import numpy as np

from srcad.registry import adjoint, complex_ok, d, linear, nondiff, real_valued, tangent
from srcad.runtime import astype, real_like, to_complex

real_valued(np.real, np.imag, np.absolute, abs, np.angle, np.iscomplexobj, np.isrealobj)
nondiff(np.iscomplexobj, np.isrealobj)
linear(np.imag, np.conj)
complex_ok(np.conj, np.real_if_close, to_complex, complex)


# -- real and imaginary parts ------------------------------------------------------------------

@adjoint(np.real, complex=True)
def real_adjoint_complex(y, val):
    d[val] = np.real(d[y]) + 0j


@adjoint(np.imag)
def imag_adjoint(y, val):
    """A real input: its imaginary part is the constant 0 (no contribution)."""


@adjoint(np.imag, complex=True)
def imag_adjoint_complex(y, val):
    d[val] = -1j * np.real(d[y])


@tangent(np.imag)
def imag_tangent(y, val):
    d[y] = np.imag(d[val])


# -- conjugate (np.conj is np.conjugate) ---------------------------------------------------------

@adjoint(np.conj)
def conj_adjoint(y, x):
    d[x] = np.conj(d[y])


@tangent(np.conj)
def conj_tangent(y, x):
    d[y] = np.conj(d[x])


# -- modulus and argument: dy = Re(conj(z) dz) / |z| and dy = Im(dz / z) -----------------------

@adjoint(np.absolute, abs, complex=True)
def abs_adjoint_complex(y, x):
    d[x] = np.real(d[y]) * np.conj(x) / np.where(y == 0.0, 1.0, y)


@tangent(np.absolute, abs, complex=True)
def abs_tangent_complex(y, x):
    d[y] = np.real(np.conj(x) * d[x]) / np.where(y == 0.0, 1.0, y)


@adjoint(np.angle)
def angle_adjoint(y, z, deg=False):
    """A real input: its angle is 0 or pi, piecewise constant (no contribution)."""


@tangent(np.angle)
def angle_tangent(y, z, deg=False):
    """A real input: a zero tangent."""


@adjoint(np.angle, complex=True)
def angle_adjoint_complex(y, z, deg=False):
    if deg:
        d[z] = -1j * np.real(d[y]) * (180.0 / math.pi) / z
    else:
        d[z] = -1j * np.real(d[y]) / z


@tangent(np.angle, complex=True)
def angle_tangent_complex(y, z, deg=False):
    if deg:
        d[y] = np.imag(d[z] / z) * (180.0 / math.pi)
    else:
        d[y] = np.imag(d[z] / z)


# -- real_if_close: the real part where NumPy drops the imaginary one (known at run time) ------

@adjoint(np.real_if_close)
def real_if_close_adjoint(y, a, tol=100):
    d[a] = real_like(d[y], a)


@tangent(np.real_if_close)
def real_if_close_tangent(y, a, tol=100):
    d[y] = real_like(d[a], y)


# -- making complex values from real ones ------------------------------------------------------
# The adjoints below give a real input a complex contribution: srcad takes its real part,
# as it does wherever a real input meets a complex output (srcad.complex_values).

@adjoint(complex)
def complex_adjoint(y, real=0.0, imag=0.0):
    d[real] = d[y]
    d[imag] = 1j * d[y]


@tangent(complex)
def complex_tangent(y, real=0.0, imag=0.0):
    d[y] = d[real] + 1j * d[imag]


@adjoint(to_complex)                # x + 0j for a real x
def to_complex_adjoint(y, x):
    d[x] = d[y]


@tangent(to_complex)
def to_complex_tangent(y, x):
    d[y] = to_complex(d[x])


@adjoint(astype, complex=True)      # x.astype(complex) or a complex x cast (complex64)
def astype_adjoint_complex(y, x, dtype):
    d[x] = astype(d[y], np.result_type(x, 1j))
