"""Derivative rules of products and linear algebra: ``@``/matmul, dot, inner, outer, vdot,
tensordot, einsum, trace, kron, and ``np.linalg``'s inv, solve, det, slogdet, cholesky, eigh
and pinv. Each primitive's adjoint and tangent sit side by side.

Conventions and assumptions:

* Products are bilinear, so every tangent is ``f(da, b) + f(a, db)``. Their adjoints depend on
  the operands' ranks, known only at run time: the runtime helpers (``matmul_adjoint_lhs``,
  ``tensordot_adjoint_lhs``, ``dot_axes``, ``untrace``, ...) keep that bookkeeping so each
  rule stays a line per operand. matmul broadcasting sums the broadcast batch axes and
  transposes the last two; 1-D operands are promoted and the promotion undone.
* ``np.dot``, ``np.inner`` are ``np.tensordot`` with the axes ``dot_axes``/``inner_axes``
  compute (a scalar operand makes them a plain product).
* Complex values: products, ``einsum``, ``trace``, ``inv``, ``solve`` and ``det`` are
  holomorphic (their adjoints use transposes, never conjugates, as JAX's convention asks)
  and marked ``complex_ok``; ``vdot`` (it conjugates its first argument), ``slogdet``,
  ``pinv``, ``cholesky`` and ``eigh`` (Hermitian, real-valued parts) are refused for them.
* Stacked matrices (``(..., n, n)``) work for inv, solve, det, slogdet, cholesky, eigh, pinv.
  ``solve(a, b)`` follows NumPy 2: ``b`` is a vector only when it is 1-D.
* ``slogdet``: the sign is piecewise constant (zero derivative); only ``logabsdet`` carries one.
* ``cholesky`` and ``eigh`` read one triangle of their input (the lower one by default,
  ``upper=True`` / ``UPLO='U'`` the upper one) and assume the matrix is symmetric. Their
  rules are the exact derivative of that: the symmetric gradient ``G`` is folded onto the
  triangle read (diagonal once, off-diagonal twice), so a perturbation of the ignored triangle
  has zero derivative, as it has on NumPy's result. Chained to a symmetric matrix built from
  the inputs (``x @ x.T``), this equals the usual symmetrized gradient.
* ``eigh`` assumes distinct eigenvalues (the eigenvector derivative divides by their gaps;
  repeated eigenvalues give inf/nan) and, for eigenvectors, a use that does not depend on
  each vector's sign (NumPy may flip it).
* ``pinv`` assumes full rank (its rank must not change under perturbation); ``rcond``/``rtol``
  only decide the rank, so the rule ignores them.
* ``einsum`` takes a subscripts string (explicit ``->`` or implicit output, ``...``, repeated
  letters such as ``'ii->i'``); the sublist form is not supported.

The end of the module gives the runtime helpers their own rules, so generated code stays
differentiable (``grad(grad(f))``, Hessians). ``einsum_adjoints`` returns a lazy list (only
the active operands' adjoints are computed), so its derivatives are lists too.
"""
import operator

import numpy as np

from srcad.registry import (adjoint, complex_ok, d, linear, nondiff, real_valued, returns_list,
                            tangent)
from srcad.runtime import (as_columns, dot_axes, einsum_adjoints, einsum_adjoints_adjoint,
                           einsum_adjoints_tangent,
                           einsum_tangent,
                           from_columns, inner_axes, kron_adjoint_lhs, kron_adjoint_rhs,
                           matmul_adjoint_lhs, matmul_adjoint_rhs, tensordot_adjoint_lhs,
                           tensordot_adjoint_rhs, unbroadcast, untrace)

# NumPy 2's array-API twins with the same semantics (np.linalg.matmul only takes arrays).
_MATMUL = (np.matmul, operator.matmul) + ((np.linalg.matmul,) if hasattr(np.linalg, "matmul")
                                          else ())
_TENSORDOT = (np.tensordot,) + ((np.linalg.tensordot,) if hasattr(np.linalg, "tensordot")
                                else ())
_OUTER = (np.outer,) + ((np.linalg.outer,) if hasattr(np.linalg, "outer") else ())


# -- products ------------------------------------------------------------------------------

complex_ok(*_MATMUL, np.dot, np.inner, *_TENSORDOT, *_OUTER, np.kron, np.einsum, np.trace,
           np.linalg.inv, np.linalg.solve, np.linalg.det)


@adjoint(*_MATMUL)
def matmul_adjoint(y, x1, x2):
    d[x1] = matmul_adjoint_lhs(d[y], x1, x2)
    d[x2] = matmul_adjoint_rhs(d[y], x1, x2)


@tangent(*_MATMUL)
def matmul_tangent(y, x1, x2):
    d[y] = d[x1] @ x2 + x1 @ d[x2]


@adjoint(np.dot)
def dot_adjoint(y, a, b):
    axes = dot_axes(a, b)
    d[a] = tensordot_adjoint_lhs(d[y], a, b, axes)
    d[b] = tensordot_adjoint_rhs(d[y], a, b, axes)


@tangent(np.dot)
def dot_tangent(y, a, b):
    d[y] = np.dot(d[a], b) + np.dot(a, d[b])


@adjoint(np.inner)
def inner_adjoint(y, a, b):
    axes = inner_axes(a, b)
    d[a] = tensordot_adjoint_lhs(d[y], a, b, axes)
    d[b] = tensordot_adjoint_rhs(d[y], a, b, axes)


@tangent(np.inner)
def inner_tangent(y, a, b):
    d[y] = np.inner(d[a], b) + np.inner(a, d[b])


@adjoint(*_TENSORDOT)
def tensordot_adjoint(y, a, b, axes=2):
    d[a] = tensordot_adjoint_lhs(d[y], a, b, axes)
    d[b] = tensordot_adjoint_rhs(d[y], a, b, axes)


@tangent(*_TENSORDOT)
def tensordot_tangent(y, a, b, axes=2):
    d[y] = np.tensordot(d[a], b, axes) + np.tensordot(a, d[b], axes)


@adjoint(*_OUTER)
def outer_adjoint(y, a, b):                       # y = ravel(a)[:, None] * ravel(b)
    d[a] = np.reshape(d[y] @ np.ravel(b), np.shape(a))
    d[b] = np.reshape(np.ravel(a) @ d[y], np.shape(b))


@tangent(*_OUTER)
def outer_tangent(y, a, b):
    d[y] = np.outer(d[a], b) + np.outer(a, d[b])


@adjoint(np.vdot)
def vdot_adjoint(y, a, b):                        # y = sum(ravel(a) * ravel(b)), real arrays
    d[a] = np.reshape(d[y] * b, np.shape(a))
    d[b] = np.reshape(d[y] * a, np.shape(b))


@tangent(np.vdot)
def vdot_tangent(y, a, b):
    d[y] = np.vdot(d[a], b) + np.vdot(a, d[b])


@adjoint(np.kron)
def kron_adjoint(y, a, b):
    d[a] = kron_adjoint_lhs(d[y], a, b)
    d[b] = kron_adjoint_rhs(d[y], a, b)


@tangent(np.kron)
def kron_tangent(y, a, b):
    d[y] = np.kron(d[a], b) + np.kron(a, d[b])


@adjoint(np.einsum)
def einsum_adjoint(y, subscripts, *operands, optimize=False):
    # adjoint of operand k: an einsum of d[y] with the other operands (computed on demand)
    d[operands] = einsum_adjoints(d[y], subscripts, operands)


@tangent(np.einsum)
def einsum_tangent_rule(y, subscripts, *operands, optimize=False):
    d[y] = einsum_tangent(subscripts, operands, d[operands])


@adjoint(np.trace)
def trace_adjoint(y, a, offset=0, axis1=0, axis2=1):
    d[a] = untrace(d[y], a, offset, axis1, axis2)


@tangent(np.trace)
def trace_tangent(y, a, offset=0, axis1=0, axis2=1):
    d[y] = np.trace(d[a], offset, axis1, axis2)


# -- inverses and determinants (stacks of matrices: the last two axes) -------------------------

@adjoint(np.linalg.inv)
def inv_adjoint(y, a):
    yt = np.swapaxes(y, -1, -2)
    d[a] = -(yt @ d[y] @ yt)


@tangent(np.linalg.inv)
def inv_tangent(y, a):
    d[y] = -(y @ d[a] @ y)


@adjoint(np.linalg.solve)
def solve_adjoint(x, a, b):
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), as_columns(d[x], b))   # a^-T d[x]
    d[a] = unbroadcast(-(gb @ np.swapaxes(as_columns(x, b), -1, -2)), a)
    d[b] = unbroadcast(from_columns(gb, b), b)


@tangent(np.linalg.solve)
def solve_tangent(x, a, b):
    d[x] = from_columns(np.linalg.solve(a, as_columns(d[b], b) - d[a] @ as_columns(x, b)), b)


@adjoint(np.linalg.det)
def det_adjoint(y, a):
    d[a] = np.expand_dims(d[y] * y, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(np.linalg.det)
def det_tangent(y, a):
    d[y] = y * np.trace(np.linalg.solve(a, d[a]), axis1=-2, axis2=-1)


@adjoint(np.linalg.slogdet, outputs=2)
def slogdet_adjoint(sign, logabsdet, a):
    d[a] = np.expand_dims(d[logabsdet], (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(np.linalg.slogdet, outputs=2)
def slogdet_tangent(sign, logabsdet, a):
    d[logabsdet] = np.trace(np.linalg.solve(a, d[a]), axis1=-2, axis2=-1)


@adjoint(np.linalg.pinv)
def pinv_adjoint(p, a, rcond=None, hermitian=False, *, rtol=None):
    pt = np.swapaxes(p, -1, -2)
    gt = np.swapaxes(d[p], -1, -2)
    d[a] = ((gt - a @ (p @ gt)) @ (p @ pt) + (pt @ p) @ (gt - (gt @ p) @ a)
            - pt @ d[p] @ pt)


@tangent(np.linalg.pinv)
def pinv_tangent(p, a, rcond=None, hermitian=False, *, rtol=None):
    pt = np.swapaxes(p, -1, -2)
    dat = np.swapaxes(d[a], -1, -2)
    d[p] = ((p @ pt) @ (dat - (dat @ a) @ p) + (dat - p @ (a @ dat)) @ (pt @ p)
            - p @ d[a] @ p)


# -- factorizations of symmetric matrices (one triangle read, see the module docstring) --------
# c is the Cholesky factor (lower, or upper with upper=True).
# phi(m) = 0.5 * (tril(m) + tril(m, -1)): the lower triangle with the diagonal halved.

@adjoint(np.linalg.cholesky)
def cholesky_adjoint(c, a, upper=False):
    if upper:
        low = np.swapaxes(c, -1, -2)
        g = np.swapaxes(d[c], -1, -2)
    else:
        low = c
        g = d[c]
    lt = np.swapaxes(low, -1, -2)
    p = lt @ g
    x = np.linalg.solve(lt, 0.5 * (np.tril(p) + np.tril(p, -1)))      # low^-T phi(low^T g)
    s = np.swapaxes(np.linalg.solve(lt, np.swapaxes(x, -1, -2)), -1, -2)  # ... low^-1
    sym = s + np.swapaxes(s, -1, -2)
    if upper:
        d[a] = 0.5 * (np.triu(sym) + np.triu(sym, 1))
    else:
        d[a] = 0.5 * (np.tril(sym) + np.tril(sym, -1))


@tangent(np.linalg.cholesky)
def cholesky_tangent(c, a, upper=False):
    if upper:
        low = np.swapaxes(c, -1, -2)
        sym = np.triu(d[a]) + np.swapaxes(np.triu(d[a], 1), -1, -2)
    else:
        low = c
        sym = np.tril(d[a]) + np.swapaxes(np.tril(d[a], -1), -1, -2)
    m = np.linalg.solve(low, sym)
    n = np.linalg.solve(low, np.swapaxes(m, -1, -2))                    # low^-1 sym low^-T
    dl = low @ (0.5 * (np.tril(n) + np.tril(n, -1)))
    if upper:
        d[c] = np.swapaxes(dl, -1, -2)
    else:
        d[c] = dl


@adjoint(np.linalg.eigh, outputs=2)
def eigh_adjoint(w, v, a, UPLO="L"):
    vt = np.swapaxes(v, -1, -2)
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye          # w_j - w_i, 1 on diag
    m = (v * np.expand_dims(d[w], -2) + v @ ((1.0 / gaps - eye) * (vt @ d[v]))) @ vt
    sym = m + np.swapaxes(m, -1, -2)
    if UPLO == "U":
        d[a] = 0.5 * (np.triu(sym) + np.triu(sym, 1))
    else:
        d[a] = 0.5 * (np.tril(sym) + np.tril(sym, -1))


@tangent(np.linalg.eigh, outputs=2)
def eigh_tangent(w, v, a, UPLO="L"):
    if UPLO == "U":
        sym = np.triu(d[a]) + np.swapaxes(np.triu(d[a], 1), -1, -2)
    else:
        sym = np.tril(d[a]) + np.swapaxes(np.tril(d[a], -1), -1, -2)
    q = np.swapaxes(v, -1, -2) @ sym @ v
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
    d[w] = np.diagonal(q, axis1=-2, axis2=-1)
    d[v] = v @ ((1.0 / gaps - eye) * q)


# -- rules of the runtime helpers above (generated code is differentiable again) ---------------
# Each product helper is bilinear in (g, the other operand); the first operand only lends its
# shape. Its adjoint in g is the forward product, its adjoint in the other operand the twin
# helper with the cotangent in the first operand's place.

nondiff(dot_axes, inner_axes)
real_valued(dot_axes, inner_axes)
linear(untrace, as_columns, from_columns)
complex_ok(matmul_adjoint_lhs, matmul_adjoint_rhs, tensordot_adjoint_lhs, tensordot_adjoint_rhs,
           kron_adjoint_lhs, kron_adjoint_rhs, untrace, as_columns, from_columns,
           einsum_adjoints, einsum_adjoints_tangent, einsum_adjoints_adjoint)


@adjoint(matmul_adjoint_lhs)
def matmul_adjoint_lhs_adjoint(r, g, a, b):
    d[g] = d[r] @ b
    d[b] = matmul_adjoint_rhs(g, d[r], b)


@tangent(matmul_adjoint_lhs)
def matmul_adjoint_lhs_tangent(r, g, a, b):
    d[r] = matmul_adjoint_lhs(d[g], a, b) + matmul_adjoint_lhs(g, a, d[b])


@adjoint(matmul_adjoint_rhs)
def matmul_adjoint_rhs_adjoint(r, g, a, b):
    d[g] = a @ d[r]
    d[a] = matmul_adjoint_lhs(g, a, d[r])


@tangent(matmul_adjoint_rhs)
def matmul_adjoint_rhs_tangent(r, g, a, b):
    d[r] = matmul_adjoint_rhs(d[g], a, b) + matmul_adjoint_rhs(g, d[a], b)


@adjoint(tensordot_adjoint_lhs)
def tensordot_adjoint_lhs_adjoint(r, g, a, b, axes=2):
    d[g] = np.tensordot(d[r], b, axes)
    d[b] = tensordot_adjoint_rhs(g, d[r], b, axes)


@tangent(tensordot_adjoint_lhs)
def tensordot_adjoint_lhs_tangent(r, g, a, b, axes=2):
    d[r] = tensordot_adjoint_lhs(d[g], a, b, axes) + tensordot_adjoint_lhs(g, a, d[b], axes)


@adjoint(tensordot_adjoint_rhs)
def tensordot_adjoint_rhs_adjoint(r, g, a, b, axes=2):
    d[g] = np.tensordot(a, d[r], axes)
    d[a] = tensordot_adjoint_lhs(g, a, d[r], axes)


@tangent(tensordot_adjoint_rhs)
def tensordot_adjoint_rhs_tangent(r, g, a, b, axes=2):
    d[r] = tensordot_adjoint_rhs(d[g], a, b, axes) + tensordot_adjoint_rhs(g, d[a], b, axes)


@adjoint(kron_adjoint_lhs)
def kron_adjoint_lhs_adjoint(r, g, a, b):
    d[g] = np.kron(d[r], b)
    d[b] = kron_adjoint_rhs(g, d[r], b)


@tangent(kron_adjoint_lhs)
def kron_adjoint_lhs_tangent(r, g, a, b):
    d[r] = kron_adjoint_lhs(d[g], a, b) + kron_adjoint_lhs(g, a, d[b])


@adjoint(kron_adjoint_rhs)
def kron_adjoint_rhs_adjoint(r, g, a, b):
    d[g] = np.kron(a, d[r])
    d[a] = kron_adjoint_lhs(g, a, d[r])


@tangent(kron_adjoint_rhs)
def kron_adjoint_rhs_tangent(r, g, a, b):
    d[r] = kron_adjoint_rhs(d[g], a, b) + kron_adjoint_rhs(g, d[a], b)


@adjoint(untrace)
def untrace_adjoint(r, g, a, offset=0, axis1=0, axis2=1):
    d[g] = np.trace(d[r], offset, axis1, axis2)


@tangent(untrace)
def untrace_tangent(r, g, a, offset=0, axis1=0, axis2=1):
    d[r] = untrace(d[g], a, offset, axis1, axis2)


@adjoint(as_columns)
def as_columns_adjoint(r, v, b):
    d[v] = from_columns(d[r], b)


@tangent(as_columns)
def as_columns_tangent(r, v, b):
    d[r] = as_columns(d[v], b)


@adjoint(from_columns)
def from_columns_adjoint(r, v, b):
    d[v] = as_columns(d[r], b)


@tangent(from_columns)
def from_columns_tangent(r, v, b):
    d[r] = from_columns(d[v], b)


# einsum_adjoints returns one adjoint per operand (a lazy list): its derivatives are lists too.
returns_list(einsum_adjoints, einsum_adjoints_tangent, einsum_adjoints_adjoint)


@adjoint(einsum_adjoints)
def einsum_adjoints_adjoint_rule(r, g, subscripts, operands):
    d[g] = einsum_tangent(subscripts, operands, d[r])
    d[operands] = einsum_adjoints_adjoint(d[r], g, subscripts, operands)


@tangent(einsum_adjoints)
def einsum_adjoints_tangent_rule(r, g, subscripts, operands):
    d[r] = einsum_adjoints_tangent(d[g], g, subscripts, operands, d[operands])
