"""Derivative rules of elementwise functions: NumPy ufuncs, their ``math`` twins, the
``operator`` functions behind ``+ - * / ** -x +x``, and the builtins ``abs``, ``pow``,
``float``, and ``max``/``min`` of two numbers.

Most rules are one line of a formula table: ``unary(prims, "dy/dx")`` with ``x`` the input
and ``y`` the output, ``binary(prims, "dy/dx1", "dy/dx2")`` (broadcasting is handled by the
table: adjoints are unbroadcast, tangents broadcast to ``y``'s shape). Both yield the adjoint
and the tangent. Rules that do not fit a formula are written out below the tables, adjoint
and tangent side by side.

Conventions:

* Constants in formulas are Python floats (``math.log(2.0)``, ``math.pi``), never NumPy
  scalars, so float32 arrays stay float32 (NumPy 2 treats Python scalars as weak).
* ``math`` rules use ``math`` functions only, so scalar code stays plain float arithmetic.
* Power at a zero base: ``x1 ** x2`` has dy/dx2 = 0 at ``x1 == 0`` (``0 ** y`` is constant for
  ``y > 0``; JAX and autograd agree) and dy/dx1 = 0 where ``x2 == 0`` (``x ** 0`` is constant);
  genuine infinities stay (``x ** 0.5``, ``sqrt``, ``log``, ``cbrt`` at 0 give inf). A
  negative base has dy/dx2 = nan (``x1 ** x2`` is defined for integer ``x2`` only).
* ``hypot`` at the origin has derivative 0 (like ``norm``); ``arctan2`` at the origin nan (it
  is not continuous there), the same for the ``math`` twins.
* Kinks: at ``x == 0`` the derivative of ``abs`` is 0 (``sign``); ``maximum``/``minimum``/
  ``fmax``/``fmin``/``max``/``min`` split a tie evenly (0.5 to each operand), like the
  reductions ``np.max``/``np.min`` do; ``clip`` gives a value equal to a bound to ``a``.
* ``mod``/``remainder``/``fmod`` have dy/dx1 = 1 and dy/dx2 = -(the integer quotient).
* Complex values: the holomorphic functions are marked ``complex_ok`` (their formula is the
  complex derivative, which JAX's convention pairs without conjugation); ``abs`` of a
  complex value has its own rule in complex.py; everything else is refused for complex
  inputs (``maximum`` compares complex numbers by their real parts first: not a function
  srcad differentiates).
"""
import math
import operator

import numpy as np

from srcad.registry import (adjoint, binary, complex_ok, d, linear, nondiff, real_valued, tangent,
                            unary)
from srcad.runtime import (broadcast_like, sigmoid, sinc_curvature, sinc_slope,  # noqa: F401
                           unbroadcast)  # (the formulas read them)

# -- unary: (numpy name, math name or None, dy/dx with {m} standing for np or math) --------
UNARY = [
    ("exp", "exp", "y"),
    ("exp2", "exp2", "y * math.log(2.0)"),
    ("expm1", "expm1", "y + 1.0"),
    ("log", None, "1.0 / x"),                      # math.log takes a base: written below
    ("log2", "log2", "1.0 / (x * math.log(2.0))"),
    ("log10", "log10", "1.0 / (x * math.log(10.0))"),
    ("log1p", "log1p", "1.0 / (1.0 + x)"),
    ("sqrt", "sqrt", "0.5 / y"),
    ("cbrt", "cbrt", "1.0 / (3.0 * y * y)"),
    ("square", None, "2.0 * x"),
    ("reciprocal", None, "-y * y"),
    ("sin", "sin", "{m}.cos(x)"),
    ("cos", "cos", "-{m}.sin(x)"),
    ("tan", "tan", "1.0 + y * y"),
    ("arcsin", "asin", "1.0 / {m}.sqrt(1.0 - x * x)"),
    ("arccos", "acos", "-1.0 / {m}.sqrt(1.0 - x * x)"),
    ("arctan", "atan", "1.0 / (1.0 + x * x)"),
    ("sinh", "sinh", "{m}.cosh(x)"),
    ("cosh", "cosh", "{m}.sinh(x)"),
    ("tanh", "tanh", "1.0 - y * y"),
    ("arcsinh", "asinh", "1.0 / {m}.sqrt(x * x + 1.0)"),
    ("arccosh", "acosh", "1.0 / {m}.sqrt(x * x - 1.0)"),
    ("arctanh", "atanh", "1.0 / (1.0 - x * x)"),
    ("deg2rad", "radians", "math.pi / 180.0"),
    ("radians", None, "math.pi / 180.0"),
    ("rad2deg", "degrees", "180.0 / math.pi"),
    ("degrees", None, "180.0 / math.pi"),
    ("sinc", None, "sinc_slope(x)"),               # its series near 0: exact there too
    ("absolute", None, "np.sign(x)"),              # np.abs is np.absolute
    ("fabs", "fabs", "{m}.sign(x)"),
]

for np_name, math_name, formula in UNARY:
    unary(getattr(np, np_name), formula.format(m="np"))
    if math_name is not None and hasattr(math, math_name):  # exp2, cbrt: Python >= 3.11
        # math has no sign(): a float expression with sign(0) == 0, like np.sign.
        unary(getattr(math, math_name),
              formula.format(m="math").replace("math.sign(x)", "(float(x > 0) - float(x < 0))"))

unary(abs, "np.sign(x)")  # builtin abs: arrays and numbers alike
unary(sinc_slope, "sinc_curvature(x)")   # sinc's second derivative (a third: no rule)
unary((math.erf,), "2.0 / math.sqrt(math.pi) * math.exp(-x * x)")
unary((math.erfc,), "-2.0 / math.sqrt(math.pi) * math.exp(-x * x)")

# -- binary: y = f(x1, x2) with broadcasting; None means "no derivative in that operand" ----
binary((np.add, operator.add), "1", "1")
binary((np.subtract, operator.sub), "1", "-1")
binary((np.multiply, operator.mul), "x2", "x1")
binary((np.divide, operator.truediv), "1.0 / x2", "-y / x2")   # np.true_divide is np.divide
# x1 ** x2 at x1 == 0 (see the module docstring): dy/dx1 is 0 where x2 == 0 (0 * inf), dy/dx2
# is 0 (y log x1 = 0 * -inf). A literal operand folds its case away: x ** 2 is 2 * x ** (2 - 1)
# and 2.0 ** x is y * math.log(2.0); only an array operand pays for a np.where.
POWER_X2 = "(0.0 if x2 == 0 else x2 * {pow}) if isinstance(x2, (int, float)) else " \
    "x2 * {where}"          # x2 * x1 ** 1 (= 0) where x2 == 0: no inf, no warning
POWER_X1 = "y * (math.log(x1) if x1 > 0 else 0.0 if x1 == 0 else math.nan) if isinstance(" \
    "x1, (int, float)) else y * np.log(np.where(x1 == 0, 1.0, x1))"
binary((np.power, operator.pow, pow), POWER_X2.format(
    pow="x1 ** (x2 - 1)", where="x1 ** np.where(x2 == 0, 1, x2 - 1)"), POWER_X1)
binary(np.float_power, POWER_X2.format(
    pow="np.float_power(x1, x2 - 1)", where="np.float_power(x1, np.where(x2 == 0, 1, x2 - 1))"),
    POWER_X1)
binary(math.pow, "0.0 if x2 == 0 else x2 * math.pow(x1, x2 - 1)",
       "y * (math.log(x1) if x1 > 0 else 0.0 if x1 == 0 else math.nan)")
binary((np.maximum, np.fmax), "0.5 + 0.5 * np.sign(x1 - x2)", "0.5 - 0.5 * np.sign(x1 - x2)")
binary((np.minimum, np.fmin), "0.5 - 0.5 * np.sign(x1 - x2)", "0.5 + 0.5 * np.sign(x1 - x2)")
# max(a, b), min(a, b) of numbers: Python floats, so a float32 derivative stays float32
binary(max, "1.0 if x1 > x2 else 0.5 if x1 == x2 else 0.0",
       "1.0 if x2 > x1 else 0.5 if x1 == x2 else 0.0")
binary(min, "1.0 if x1 < x2 else 0.5 if x1 == x2 else 0.0",
       "1.0 if x2 < x1 else 0.5 if x1 == x2 else 0.0")
# logaddexp: exp(x1 - y) written without y, so a gradient need not compute the (slow) y
binary(np.logaddexp, "sigmoid(x1 - x2)", "sigmoid(x2 - x1)")
binary(np.logaddexp2, "sigmoid((x1 - x2) * math.log(2.0))", "sigmoid((x2 - x1) * math.log(2.0))")
# hypot at the origin: 0 (as norm); arctan2 at the origin: nan (it is not continuous there)
binary(np.hypot, "x1 / np.where(y == 0.0, 1.0, y)", "x2 / np.where(y == 0.0, 1.0, y)")
binary(math.hypot, "x1 / y if y else 0.0", "x2 / y if y else 0.0")    # the two-argument form
binary(np.arctan2, "x2 / (x1 * x1 + x2 * x2)", "-x1 / (x1 * x1 + x2 * x2)")
binary(math.atan2, "x2 / (x1 * x1 + x2 * x2) if x1 or x2 else math.nan",
       "-x1 / (x1 * x1 + x2 * x2) if x1 or x2 else math.nan")
binary((np.mod, operator.mod), "1", "-(x1 // x2)")             # np.remainder is np.mod
binary(np.fmod, "1", "-np.trunc(x1 / x2)")
binary(math.fmod, "1", "-float(math.trunc(x1 / x2))")
binary(math.remainder, "1", "-float(round(x1 / x2))")           # IEEE: ties to even
binary(np.copysign, "np.sign(x1) * np.sign(y)", None)
binary(math.copysign, "math.copysign(1.0, x1) * math.copysign(1.0, y)", None)

# Holomorphic: the formulas above hold for complex values (principal branches, as NumPy's).
# Not arccosh: its complex derivative is 1 / (sqrt(z - 1) sqrt(z + 1)), which is not
# 1 / sqrt(z * z - 1) where Re z < 0.
complex_ok(
    np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sqrt, np.square,
    np.reciprocal, np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh,
    np.tanh, np.arcsinh, np.arctanh, np.sinc,
    np.add, operator.add, np.subtract, operator.sub, np.multiply, operator.mul,
    np.divide, operator.truediv, np.power, operator.pow, pow, np.float_power,
)


# -- identities and sign flips: written out, so the code reads `bx = -by` ----------------------
linear(np.negative, operator.neg, np.positive, operator.pos, float)
complex_ok(np.negative, operator.neg, np.positive, operator.pos)


@adjoint(np.negative, operator.neg)
def negative_adjoint(y, x):
    d[x] = -d[y]


@tangent(np.negative, operator.neg)
def negative_tangent(y, x):
    d[y] = -d[x]


@adjoint(np.positive, operator.pos, float)
def positive_adjoint(y, x):
    d[x] = d[y]


@tangent(np.positive, operator.pos)
def positive_tangent(y, x):
    d[y] = d[x]


@tangent(float)
def float_tangent(y, x):
    d[y] = float(d[x])


# np.float64(x), np.float32(x): a cast of a number (or a size-1 array) to a NumPy scalar
linear(np.float64, np.float32)


@adjoint(np.float64, np.float32)
def numpy_scalar_adjoint(y, x):
    d[x] = broadcast_like(d[y], x)


@tangent(np.float64, np.float32)
def numpy_scalar_tangent(y, x):
    d[y] = d[x] * 1.0



# -- math.log(x[, base]) --------------------------------------------------------------------

@adjoint(math.log)
def log_adjoint(y, x, base=None):
    if base is None:
        d[x] = d[y] / x
    else:
        d[x] = d[y] / (x * math.log(base))
        d[base] = -d[y] * y / (base * math.log(base))


@tangent(math.log)
def log_tangent(y, x, base=None):
    if base is None:
        d[y] = d[x] / x
    else:
        d[y] = (d[x] / x - d[base] * y / base) / math.log(base)


# -- clip(a, a_min, a_max): bounds may be None, scalars or arrays ----------------------------
# Where a is clipped the derivative goes to the bound (if the bound is active); a value equal
# to a bound counts as inside, so its derivative goes to a.

@adjoint(np.clip)
def clip_adjoint(y, a, a_min=None, a_max=None):
    if a_min is None:
        inside = a <= a_max
    elif a_max is None:
        inside = a >= a_min
    else:
        inside = (a >= a_min) & (a <= a_max)
    d[a] = unbroadcast(d[y] * inside, a)
    d[a_min] = unbroadcast(d[y] * (a < a_min), a_min)
    d[a_max] = unbroadcast(d[y] * (a > a_max), a_max)


@tangent(np.clip)
def clip_tangent(y, a, a_min=None, a_max=None):
    if a_min is None:
        inside = a <= a_max
    elif a_max is None:
        inside = a >= a_min
    else:
        inside = (a >= a_min) & (a <= a_max)
    d[y] = broadcast_like(d[a] * inside + d[a_min] * (a < a_min) + d[a_max] * (a > a_max), y)


# -- where(condition, x, y) -----------------------------------------------------------------

complex_ok(np.where)                    # linear in x and y


@adjoint(np.where)
def where_adjoint(z, condition, x, y):
    d[x] = unbroadcast(np.where(condition, d[z], 0.0), x)
    d[y] = unbroadcast(np.where(condition, 0.0, d[z]), y)


@tangent(np.where)
def where_tangent(z, condition, x, y):
    d[z] = broadcast_like(np.where(condition, d[x], d[y]), z)


# -- non-differentiable elementwise functions: integer, boolean or piecewise-constant values --
nondiff(
    np.floor, np.ceil, np.rint, np.trunc, np.fix, np.round, np.around, np.sign, np.signbit,
    np.heaviside, np.floor_divide, operator.floordiv,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    operator.gt, operator.ge, operator.lt, operator.le, operator.eq, operator.ne,
    operator.not_, operator.truth,
    np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert,
    operator.and_, operator.or_, operator.xor, operator.invert,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    round, int, bool,
)
complex_ok(np.sign, ok=False)           # sign(z) = z / |z|: not constant for complex z
real_valued(                            # booleans and integers, whatever the input
    np.signbit, np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    operator.gt, operator.ge, operator.lt, operator.le, operator.eq, operator.ne,
    operator.not_, operator.truth,
    np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    int, bool,
)
