"""Derivative rules of ``scipy.linalg``: solve (with ``assume_a``, ``lower``, ``transposed``),
solve_triangular, inv, det, cholesky, eigh, eigvalsh, svd, svdvals, qr, expm, sqrtm, logm,
block_diag, toeplitz, the structured matrices (circulant, hankel, leslie, convolution_matrix,
companion, fiedler_companion, fiedler), solve_sylvester, expm_frechet, lu, polar and
eigh_tridiagonal; the constant matrices (dft, hadamard, helmert, hilbert, invhilbert, pascal,
invpascal) carry no derivative. Loaded only when SciPy imports (``srcad[scipy]``).

Where SciPy's function is NumPy's under another signature (cholesky, eigh, svd, qr, det...),
the rule is NumPy's (templates/linalg.py), registered with ``registry.derived`` for SciPy's
parameters: the conventions of linalg.py hold (one triangle read by cholesky/eigh, distinct
eigen/singular values, gauge-invariant use of vectors, the extra columns of full SVD and QR).

Conventions:

* ``overwrite_a``/``overwrite_b`` are absent from the signatures (SciPy may destroy the input
  the derivative reads): passing them is a clear error. ``check_finite`` is accepted.
* ``solve`` and ``inv`` with ``assume_a``: the rule differentiates the matrix SciPy reads
  (``runtime.structured_matrix``): all of ``a`` ('gen'), the triangle ``lower`` names,
  mirrored ('sym', 'her', 'pos'), a triangle ('upper triangular', 'lower triangular') or the
  diagonal; a perturbation of the elements SciPy ignores has derivative 0. 'banded' and
  'tridiagonal' are refused at run time.
* ``solve_triangular`` reads the triangle ``lower`` names (without its diagonal for
  ``unit_diagonal=True``); ``trans`` 0/'N', 1/'T', 2/'C' (real matrices: 'C' is 'T').
* ``scipy.linalg.qr``: ``mode`` 'full' and 'economic' (NumPy's 'complete' and 'reduced');
  ``pivoting=True`` (three outputs) and modes 'r'/'raw' are refused.
* ``eigh(a, b)``: the standard problem and the generalized one ``a v = w b v`` (``type=1``,
  eigenvectors normalized by ``v^T b v = I``, as SciPy returns them), in ``a`` and ``b``, each
  read from the triangle ``lower`` names; distinct eigenvalues assumed (the vectors'
  derivative divides by their gaps); ``eigvals_only=True`` is a primitive of its own with the
  eigenvalues' rules; ``subset_by_*``, ``type`` and ``driver`` are refused.
* Keywords that decide how many values are returned (``eigh``'s ``eigvals_only``, ``svd``'s
  ``compute_uv``, ``expm_frechet``'s ``compute_expm``) must be literals: each value is a
  primitive of its own (``registry.variant``), and one known only at run time is refused at
  the user's line.
* ``expm``, ``sqrtm``, ``logm``: the Frechet derivative ``L_f(a, e)`` is the top-right block
  of ``f([[a, e], [0, a]])`` (Higham, Functions of Matrices, thm. 3.6), and its adjoint
  ``L_f(a^T, g)`` (these functions commute with transposition), so both modes are one call of
  ``f`` on a matrix of twice the size and second derivatives follow from the same rule.
  ``sqrtm``/``logm`` are differentiated where they are real and smooth: no eigenvalue on the
  closed negative real axis (a complex result is refused by the complex analysis).
* ``lu``: square, wide and tall matrices (stacks too; the leading ``k x k`` block of the
  pivoted matrix nonsingular, ``k = min(m, n)``), ``permute_l`` and ``p_indices`` refused
  (not in the signature); the permutation is piecewise constant. ``polar``: ``a`` of full rank (tall for
  side 'right', wide for 'left'). ``fiedler``: at ties the derivative of ``|a_i - a_j|`` is 0.
* ``expm_frechet`` with ``compute_expm=False`` returns the Frechet derivative alone (the
  two-output rules with a zero cotangent for ``expm(A)``). ``eigh_tridiagonal`` with
  ``eigvals_only=True`` is refused: use ``eigvalsh``.
"""
import numpy as np
import scipy.linalg as sl  # type: ignore[import-untyped, unused-ignore]

from srcad.registry import (adjoint, complex_ok, d, derived, linear, nondiff, returns_list,
                            tangent, variant)
from srcad.runtime import (as_columns, block_diag_of, from_columns, lower_factor,
                           lower_factor_adjoint, lu_rows, pad_identity, structure_adjoint,
                           structure_basis, structure_of, structured_matrix,
                           structured_matrix_adjoint, toeplitz_adjoint, toeplitz_of,
                           triangle_read, triangle_symmetric,
                           unblock_diag, unbroadcast, unpad_identity, zeros_filled)
from srcad.templates import linalg as np_rules

# -- NumPy's rules under SciPy's signatures --------------------------------------------------
def _twins(primitive, rules, signature, replace=None):
    """Both rules (adjoint, tangent) of a NumPy function for its SciPy twin."""
    for rule in rules:
        derived(primitive, rule, signature, replace)


_twins(sl.det, (np_rules.det_adjoint, np_rules.det_tangent), "y, a, *, check_finite=True")
_twins(sl.cholesky, (np_rules.cholesky_adjoint, np_rules.cholesky_tangent),
       "c, a, lower=False, *, check_finite=True", {"upper": "not lower"})
_twins(sl.eigvalsh, (np_rules.eigvalsh_adjoint, np_rules.eigvalsh_tangent),
       "w, a, *, lower=True, check_finite=True", {"UPLO": "'L' if lower else 'U'"})
_twins(sl.svd, (np_rules.svd_adjoint, np_rules.svd_tangent),
       "u, s, vh, a, full_matrices=True, compute_uv=True, *, check_finite=True, "
       "lapack_driver='gesdd'")
_twins(sl.svdvals, (np_rules.svdvals_adjoint, np_rules.svdvals_tangent),
       "s, a, *, check_finite=True", {"x": "a"})
_twins(sl.qr, (np_rules.qr_adjoint, np_rules.qr_tangent),
       "q, r, a, *, mode='full', check_finite=True",
       {"mode": "'complete' if mode == 'full' else 'reduced' if mode == 'economic' else mode"})

# outputs decided by a keyword's constant (registry.variant): eigh(a, eigvals_only=True) -> w,
# svd(a, compute_uv=False) -> s (the rules of eigvalsh and svdvals)
_EIGH_VALUES = variant(sl.eigh, "eigvals_only", True)
_SVD_VALUES = variant(sl.svd, "compute_uv", False)
_twins(_SVD_VALUES, (np_rules.svdvals_adjoint, np_rules.svdvals_tangent),
       "s, a, full_matrices=True, compute_uv=False, *, check_finite=True, "
       "lapack_driver='gesdd'", {"x": "a"})

# -- eigh(a, b): a v = w b v with v^T b v = I (b = I without b), of the triangle ``lower`` names
# P = v^T da v, Q = v^T db v, F = 1 / (w_j - w_i) off the diagonal:
#   dw = diag(P) - w diag(Q),  dv = v C,  C = F * (P - Q w_j) - diag(Q) / 2.
# The adjoint: with H = v^T gv, d[a] = v (diag(gw) + F * H) v^T, d[b] = -v (diag(gw w)
# + (F * H) w_j + diag(H) / 2) v^T, each given to the triangle read.

@adjoint(sl.eigh, outputs=2)
def eigh_adjoint(w, v, a, b=None, *, lower=True, eigvals_only=False, check_finite=True):
    vt = np.swapaxes(v, -1, -2)
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    spread = (1.0 / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye) - eye) * (vt @ d[v])
    m = (v * np.expand_dims(d[w], -2) + v @ spread) @ vt
    d[a] = triangle_read(m + np.swapaxes(m, -1, -2), lower)
    mb = -(v * np.expand_dims(d[w] * w, -2) + v @ (spread * np.expand_dims(w, -2) + 0.5 * (
        eye * (vt @ d[v])))) @ vt
    d[b] = triangle_read(mb + np.swapaxes(mb, -1, -2), lower)


@tangent(sl.eigh, outputs=2)
def eigh_tangent(w, v, a, b=None, *, lower=True, eigvals_only=False, check_finite=True):
    vt = np.swapaxes(v, -1, -2)
    p = vt @ triangle_symmetric(d[a], lower) @ v
    q = vt @ triangle_symmetric(d[b], lower) @ v
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    d[w] = np.diagonal(p, axis1=-2, axis2=-1) - w * np.diagonal(q, axis1=-2, axis2=-1)
    d[v] = v @ ((1.0 / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye) - eye) * (
        p - q * np.expand_dims(w, -2)) - 0.5 * eye * q)


@adjoint(_EIGH_VALUES)
def eigh_values_adjoint(w, a, b=None, *, lower=True, eigvals_only=True, check_finite=True):
    values, v = sl.eigh(a, b, lower=lower)
    vt = np.swapaxes(v, -1, -2)
    m = (v * np.expand_dims(d[w], -2)) @ vt
    d[a] = triangle_read(m + np.swapaxes(m, -1, -2), lower)
    mb = -(v * np.expand_dims(d[w] * w, -2)) @ vt
    d[b] = triangle_read(mb + np.swapaxes(mb, -1, -2), lower)


@tangent(_EIGH_VALUES)
def eigh_values_tangent(w, a, b=None, *, lower=True, eigvals_only=True, check_finite=True):
    values, v = sl.eigh(a, b, lower=lower)
    d[w] = np.sum(v * (triangle_symmetric(d[a], lower) @ v), axis=-2) - w * np.diagonal(
        np.swapaxes(v, -1, -2) @ triangle_symmetric(d[b], lower) @ v, axis1=-2, axis2=-1)


linear(triangle_read, triangle_symmetric)
complex_ok(triangle_read, triangle_symmetric)


@adjoint(triangle_read)            # a mask (1/2 on the diagonal): its own transpose
def triangle_read_adjoint(t, sym, lower):
    d[sym] = triangle_read(d[t], lower)


@adjoint(triangle_symmetric)
def triangle_symmetric_adjoint(sym, t, lower):
    d[t] = triangle_read(d[sym] + np.swapaxes(d[sym], -1, -2), lower)


linear(structured_matrix, structured_matrix_adjoint)
complex_ok(structured_matrix, structured_matrix_adjoint)


# -- solve, inv: the matrix read is structured_matrix(a, assume_a, lower) -------------------

@adjoint(sl.solve)
def solve_adjoint(x, a, b, lower=False, *, check_finite=True, assume_a=None, transposed=False):
    m = structured_matrix(a, assume_a, lower)
    gb = np.linalg.solve(m if transposed else np.swapaxes(m, -1, -2), as_columns(d[x], b))
    gm = -(gb @ np.swapaxes(as_columns(x, b), -1, -2))
    d[a] = unbroadcast(structured_matrix_adjoint(
        np.swapaxes(gm, -1, -2) if transposed else gm, assume_a, lower), a)
    d[b] = unbroadcast(from_columns(gb, b), b)


@tangent(sl.solve)
def solve_tangent(x, a, b, lower=False, *, check_finite=True, assume_a=None, transposed=False):
    m = structured_matrix(a, assume_a, lower)
    dm = structured_matrix(d[a], assume_a, lower)
    rhs = as_columns(d[b], b) - (np.swapaxes(dm, -1, -2) if transposed else dm) @ as_columns(
        x, b)
    d[x] = from_columns(np.linalg.solve(np.swapaxes(m, -1, -2) if transposed else m, rhs), b)


@adjoint(sl.inv)
def inv_adjoint(y, a, *, check_finite=True, assume_a=None, lower=False):
    yt = np.swapaxes(y, -1, -2)
    d[a] = structured_matrix_adjoint(-(yt @ d[y] @ yt), assume_a, lower)


@tangent(sl.inv)
def inv_tangent(y, a, *, check_finite=True, assume_a=None, lower=False):
    d[y] = -(y @ structured_matrix(d[a], assume_a, lower) @ y)


# -- solve_triangular: op(t) x = b, t the triangle read, op the transpose for trans 1/2 -------

@adjoint(sl.solve_triangular)
def solve_triangular_adjoint(x, a, b, trans=0, lower=False, unit_diagonal=False, *,
                             check_finite=True):
    gb = sl.solve_triangular(a, as_columns(d[x], b), trans=0 if trans != 0 and trans != "N"
                             else 1, lower=lower, unit_diagonal=unit_diagonal)
    gt = -(gb @ np.swapaxes(as_columns(x, b), -1, -2))
    if trans != 0 and trans != "N":
        gt = np.swapaxes(gt, -1, -2)
    if lower:
        d[a] = np.tril(gt, -1 if unit_diagonal else 0)
    else:
        d[a] = np.triu(gt, 1 if unit_diagonal else 0)
    d[b] = from_columns(gb, b)


@tangent(sl.solve_triangular)
def solve_triangular_tangent(x, a, b, trans=0, lower=False, unit_diagonal=False, *,
                             check_finite=True):
    if lower:
        dt = np.tril(d[a], -1 if unit_diagonal else 0)
    else:
        dt = np.triu(d[a], 1 if unit_diagonal else 0)
    if trans != 0 and trans != "N":
        dt = np.swapaxes(dt, -1, -2)
    rhs = as_columns(d[b], b) - dt @ as_columns(x, b)
    d[x] = from_columns(sl.solve_triangular(a, rhs, trans=trans, lower=lower,
                                            unit_diagonal=unit_diagonal), b)


# -- matrix functions: L_f(a, e) = f([[a, e], [0, a]])[top right] (see the module docstring) --

@adjoint(sl.expm)
def expm_adjoint(y, A):
    n = np.shape(A)[-1]
    at = np.swapaxes(A, -1, -2)
    block = np.concatenate([np.concatenate([at, d[y]], axis=-1),
                            np.concatenate([np.zeros_like(at), at], axis=-1)], axis=-2)
    d[A] = sl.expm(block)[..., :n, n:]


@tangent(sl.expm)
def expm_tangent(y, A):
    n = np.shape(A)[-1]
    block = np.concatenate([np.concatenate([A, d[A]], axis=-1),
                            np.concatenate([np.zeros_like(A), A], axis=-1)], axis=-2)
    d[y] = sl.expm(block)[..., :n, n:]


_twins(sl.sqrtm, (expm_adjoint, expm_tangent), "y, A", {"sl.expm": "sl.sqrtm"})
_twins(sl.logm, (expm_adjoint, expm_tangent), "y, A", {"sl.expm": "sl.logm"})


# -- the rules of the helpers above (each is linear; the adjoint of one is the other) --------

@adjoint(structured_matrix)
def structured_matrix_adjoint_rule(y, a, assume_a, lower):
    d[a] = structured_matrix_adjoint(d[y], assume_a, lower)


@adjoint(structured_matrix_adjoint)
def structured_matrix_adjoint_adjoint(y, g, assume_a, lower):
    d[g] = structured_matrix(d[y], assume_a, lower)


# -- cho_factor / cho_solve, lu_factor / lu_solve ------------------------------------------
# cho_factor and lu_factor return a pair, passed whole to cho_solve / lu_solve: they are rules
# returning a list (``returns_list``), so ``c = cho_factor(a)``, ``cho_factor(a)[0]`` and
# ``c, low = cho_factor(a)`` all work. cho_factor's c holds the factor in one triangle and a's
# own elements in the other (SciPy leaves them), so that triangle's derivative is a's.

returns_list(sl.cho_factor, sl.lu_factor)
linear(lower_factor, lower_factor_adjoint)
nondiff(lu_rows)
_FACTOR = "np.tril(res[0]) if lower else np.triu(res[0])"
_FACTOR_COTANGENT = "zeros_filled(d[res], res)[0]"
derived(sl.cho_factor, np_rules.cholesky_adjoint, "res, a, lower=False, *, check_finite=True",
        {"upper": "not lower", "c": _FACTOR},
        d_reads={"c": f"np.tril({_FACTOR_COTANGENT}) if lower else np.triu({_FACTOR_COTANGENT})"},
        extra=f"d[a] = (np.triu({_FACTOR_COTANGENT}, 1) if lower else "
              f"np.tril({_FACTOR_COTANGENT}, -1))")
derived(sl.cho_factor, np_rules.cholesky_tangent, "res, a, lower=False, *, check_finite=True",
        {"upper": "not lower", "c": _FACTOR},
        d_stores={"c": ("res", "(__value__ + (np.triu(d[a], 1) if lower else "
                               "np.tril(d[a], -1)), 0.0)")})


@adjoint(sl.cho_solve)
def cho_solve_adjoint(x, c_and_lower, b, *, check_finite=True):
    low = lower_factor(c_and_lower[0], c_and_lower[1])                 # a = low low^T
    gb = sl.cho_solve(c_and_lower, as_columns(d[x], b))
    ga = -(gb @ np.swapaxes(as_columns(x, b), -1, -2))
    gl = (ga + np.swapaxes(ga, -1, -2)) @ low
    d[c_and_lower] = [lower_factor_adjoint(gl, c_and_lower[1]), 0.0]
    d[b] = from_columns(gb, b)


@tangent(sl.cho_solve)
def cho_solve_tangent(x, c_and_lower, b, *, check_finite=True):
    low = lower_factor(c_and_lower[0], c_and_lower[1])
    dlow = lower_factor(d[c_and_lower][0], c_and_lower[1])
    da = dlow @ np.swapaxes(low, -1, -2) + low @ np.swapaxes(dlow, -1, -2)
    d[x] = from_columns(sl.cho_solve(c_and_lower, as_columns(d[b], b) - da @ as_columns(x, b)),
                        b)


# lu_factor: a[perm] = l u (l unit lower, u upper, packed in lu). With f = l^-1 da[perm] u^-1,
# dl = l tril(f, -1) and du = triu(f) u.
@adjoint(sl.lu_factor)
def lu_factor_adjoint(res, a, *, check_finite=True):
    lu = res[0]
    g = zeros_filled(d[res], res)[0]
    l = np.tril(lu, -1) + np.eye(np.shape(lu)[-1], dtype=np.result_type(lu))
    u = np.triu(lu)
    m = np.tril(np.swapaxes(l, -1, -2) @ np.tril(g, -1), -1) + np.triu(
        np.triu(g) @ np.swapaxes(u, -1, -2))
    z = np.linalg.solve(np.swapaxes(l, -1, -2), m)                        # l^-T m
    d[a][lu_rows(res[1])] += np.swapaxes(np.linalg.solve(u, np.swapaxes(z, -1, -2)), -1, -2)


@tangent(sl.lu_factor)
def lu_factor_tangent(res, a, *, check_finite=True):
    lu = res[0]
    l = np.tril(lu, -1) + np.eye(np.shape(lu)[-1], dtype=np.result_type(lu))
    u = np.triu(lu)
    y = np.linalg.solve(l, d[a][lu_rows(res[1])])
    f = np.swapaxes(np.linalg.solve(np.swapaxes(u, -1, -2), np.swapaxes(y, -1, -2)), -1, -2)
    d[res] = (l @ np.tril(f, -1) + np.triu(f) @ u, 0.0)


# lu_solve: a = m[inverse perm] with m = l u; op(a) x = b, op the transpose for trans 1/2.
@adjoint(sl.lu_solve)
def lu_solve_adjoint(x, lu_and_piv, b, trans=0, *, check_finite=True):
    lu = lu_and_piv[0]
    l = np.tril(lu, -1) + np.eye(np.shape(lu)[-1], dtype=np.result_type(lu))
    u = np.triu(lu)
    gb = sl.lu_solve(lu_and_piv, as_columns(d[x], b), trans=1 if trans == 0 else 0)
    gop = -(gb @ np.swapaxes(as_columns(x, b), -1, -2))
    gm = (gop if trans == 0 else np.swapaxes(gop, -1, -2))[lu_rows(lu_and_piv[1])]
    d[lu_and_piv] = [np.tril(gm @ np.swapaxes(u, -1, -2), -1)
                     + np.triu(np.swapaxes(l, -1, -2) @ gm), 0.0]
    d[b] = from_columns(gb, b)


@tangent(sl.lu_solve)
def lu_solve_tangent(x, lu_and_piv, b, trans=0, *, check_finite=True):
    lu = lu_and_piv[0]
    l = np.tril(lu, -1) + np.eye(np.shape(lu)[-1], dtype=np.result_type(lu))
    u = np.triu(lu)
    dlu = d[lu_and_piv][0]
    da = (np.tril(dlu, -1) @ u + l @ np.triu(dlu))[np.argsort(lu_rows(lu_and_piv[1]))]
    rhs = as_columns(d[b], b) - (da if trans == 0 else np.swapaxes(da, -1, -2)) @ as_columns(
        x, b)
    d[x] = from_columns(sl.lu_solve(lu_and_piv, rhs, trans=trans), b)


@adjoint(lower_factor)
def lower_factor_adjoint_rule(y, c, lower):
    d[c] = lower_factor_adjoint(d[y], lower)


@adjoint(lower_factor_adjoint)
def lower_factor_adjoint_adjoint(y, g, lower):
    d[g] = lower_factor(d[y], lower)


# -- block_diag, toeplitz: linear, their adjoints gather the blocks / sum the diagonals ----------

linear(block_diag_of, unblock_diag, toeplitz_of, toeplitz_adjoint)
returns_list(unblock_diag)
complex_ok(sl.block_diag, block_diag_of, unblock_diag)


@adjoint(sl.block_diag)
def block_diag_adjoint(y, *arrs):
    d[arrs] = unblock_diag(d[y], arrs)


@tangent(sl.block_diag)
def block_diag_tangent(y, *arrs):
    d[y] = block_diag_of(d[arrs], arrs)


@adjoint(block_diag_of)
def block_diag_of_adjoint(y, items, like):
    d[items] = unblock_diag(d[y], like)


@adjoint(unblock_diag)
def unblock_diag_adjoint(y, g, arrays):
    d[g] = block_diag_of(d[y], arrays)


@adjoint(sl.toeplitz)
def toeplitz_adjoint_rule(y, c, r=None):
    d[c] = toeplitz_adjoint(d[y], "c", r is None)
    d[r] = toeplitz_adjoint(d[y], "r", False)


@tangent(sl.toeplitz)
def toeplitz_tangent(y, c, r=None):
    d[y] = toeplitz_of(d[c], "c", r is None, y) + toeplitz_of(d[r], "r", False, y)


@adjoint(toeplitz_of)
def toeplitz_of_adjoint(y, v, part, symmetric, like):
    d[v] = toeplitz_adjoint(d[y], part, symmetric)


@adjoint(toeplitz_adjoint)
def toeplitz_adjoint_adjoint(y, g, part, symmetric):
    d[g] = toeplitz_of(d[y], part, symmetric, g)


# -- structured matrices made of a vector's elements: circulant, hankel, leslie,
# convolution_matrix, companion, fiedler_companion. Each is linear in its vectors (companion's:
# in b = -a[1:] / a[0]): structure_of(v, basis) with the 0/1 basis that SciPy's own function
# draws from the vector 1, 2, ..., n (structure_basis), so the layout is SciPy's.

linear(structure_of, structure_adjoint)
nondiff(structure_basis)
complex_ok(structure_of, structure_adjoint)
nondiff(sl.dft, sl.hadamard, sl.helmert, sl.hilbert, sl.invhilbert, sl.invpascal, sl.pascal)


@adjoint(structure_of)
def structure_of_adjoint(y, v, basis):
    d[v] = structure_adjoint(d[y], basis)


@adjoint(structure_adjoint)
def structure_adjoint_adjoint(y, g, basis):
    d[g] = structure_of(d[y], basis)


@adjoint(sl.circulant)
def circulant_adjoint(y, c):
    n = np.shape(c)[-1]
    d[c] = structure_adjoint(d[y], structure_basis(sl.circulant(np.arange(1.0, n + 1.0)), n, y))


@tangent(sl.circulant)
def circulant_tangent(y, c):
    n = np.shape(c)[-1]
    d[y] = structure_of(d[c], structure_basis(sl.circulant(np.arange(1.0, n + 1.0)), n, y))


# hankel(c, r): SciPy ravels c and r (r[0] is ignored; r=None: zeros)
@adjoint(sl.hankel)
def hankel_adjoint(y, c, r=None):
    m = np.size(c)
    n = m if r is None else np.size(r)
    d[c] = np.reshape(structure_adjoint(d[y], structure_basis(
        sl.hankel(np.arange(1.0, m + 1.0), np.zeros(n)), m, y)), np.shape(c))
    d[r] = np.reshape(structure_adjoint(d[y], structure_basis(
        sl.hankel(np.zeros(m), np.arange(1.0, n + 1.0)), n, y)), np.shape(r))


@tangent(sl.hankel)
def hankel_tangent(y, c, r=None):
    m = np.size(c)
    n = m if r is None else np.size(r)
    d[y] = structure_of(np.ravel(d[c]), structure_basis(
        sl.hankel(np.arange(1.0, m + 1.0), np.zeros(n)), m, y)) + structure_of(
        np.ravel(d[r]), structure_basis(sl.hankel(np.zeros(m), np.arange(1.0, n + 1.0)), n, y))


@adjoint(sl.leslie)
def leslie_adjoint(y, f, s):
    n = np.shape(f)[-1]
    d[f] = unbroadcast(structure_adjoint(d[y], structure_basis(
        sl.leslie(np.arange(1.0, n + 1.0), np.zeros(n - 1)), n, y)), f)
    d[s] = unbroadcast(structure_adjoint(d[y], structure_basis(
        sl.leslie(np.zeros(n), np.arange(1.0, n)), n - 1, y)), s)


@tangent(sl.leslie)
def leslie_tangent(y, f, s):
    n = np.shape(f)[-1]
    d[y] = structure_of(d[f], structure_basis(
        sl.leslie(np.arange(1.0, n + 1.0), np.zeros(n - 1)), n, y)) + structure_of(
        d[s], structure_basis(sl.leslie(np.zeros(n), np.arange(1.0, n)), n - 1, y))


@adjoint(sl.convolution_matrix)
def convolution_matrix_adjoint(y, a, n, mode="full"):
    m = np.shape(a)[-1]
    d[a] = structure_adjoint(d[y], structure_basis(
        sl.convolution_matrix(np.arange(1.0, m + 1.0), n, mode), m, y))


@tangent(sl.convolution_matrix)
def convolution_matrix_tangent(y, a, n, mode="full"):
    m = np.shape(a)[-1]
    d[y] = structure_of(d[a], structure_basis(
        sl.convolution_matrix(np.arange(1.0, m + 1.0), n, mode), m, y))


# companion(a): b = -a[1:] / a[0] in the first row (ones below); the basis marks b's entries
# (made from a = [-1, 2, ..., n]: b = [2, ..., n], so mark k + 2 is b[k]; ones are not marked)
@adjoint(sl.companion)
def companion_adjoint(y, a):
    n = np.shape(a)[-1]
    basis = structure_basis(sl.companion(np.concatenate([np.array([-1.0]), np.arange(
        2.0, n + 1.0)])) - 1.0, n - 1, y)
    gb = structure_adjoint(d[y], basis)
    d[a] = np.concatenate([np.sum(gb * a[..., 1:], axis=-1, keepdims=True) / a[..., :1] ** 2,
                           -gb / a[..., :1]], axis=-1)


@tangent(sl.companion)
def companion_tangent(y, a):
    n = np.shape(a)[-1]
    basis = structure_basis(sl.companion(np.concatenate([np.array([-1.0]), np.arange(
        2.0, n + 1.0)])) - 1.0, n - 1, y)
    d[y] = structure_of(-(d[a][..., 1:] - a[..., 1:] * d[a][..., :1] / a[..., :1])
                        / a[..., :1], basis)


_twins(sl.fiedler_companion, (companion_adjoint, companion_tangent), "y, a",
       {"sl.companion": "sl.fiedler_companion"})


# fiedler(a) = |a_i - a_j|: at ties (the diagonal included) the derivative of |.| is 0
@adjoint(sl.fiedler)
def fiedler_adjoint(y, a):
    w = np.sign(np.expand_dims(a, -1) - np.expand_dims(a, -2)) * d[y]
    d[a] = np.sum(w, axis=-1) - np.sum(w, axis=-2)


@tangent(sl.fiedler)
def fiedler_tangent(y, a):
    d[y] = np.sign(np.expand_dims(a, -1) - np.expand_dims(a, -2)) * (
        np.expand_dims(d[a], -1) - np.expand_dims(d[a], -2))


# -- solve_sylvester(a, b, q): a x + x b = q, so a dx + dx b = dq - da x - x db; the adjoint
# solves the transposed equation a^T z + z b^T = g.

@adjoint(sl.solve_sylvester)
def solve_sylvester_adjoint(x, a, b, q):
    z = sl.solve_sylvester(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), d[x])
    d[a] = unbroadcast(-(z @ np.swapaxes(x, -1, -2)), a)
    d[b] = unbroadcast(-(np.swapaxes(x, -1, -2) @ z), b)
    d[q] = unbroadcast(z, q)


@tangent(sl.solve_sylvester)
def solve_sylvester_tangent(x, a, b, q):
    d[x] = sl.solve_sylvester(a, b, np.zeros_like(x) + d[q] - d[a] @ x - x @ d[b])


# -- expm_frechet(A, E) = (expm(A), L(A, E)): both are blocks of expm(M), M = [[A, E], [0, A]],
# so their derivatives are the Frechet derivative of expm at M (the expm rules above).

@adjoint(sl.expm_frechet, outputs=2)
def expm_frechet_adjoint(expm_a, frechet, A, E, method=None, compute_expm=True,
                         check_finite=True):
    n = np.shape(A)[-1]
    at = np.swapaxes(A + np.zeros_like(E), -1, -2)                        # broadcast stacks
    mt = np.concatenate([np.concatenate([at, np.zeros_like(at)], axis=-1), np.concatenate(
        [np.swapaxes(E + np.zeros_like(A), -1, -2), at], axis=-1)], axis=-2)
    gm = np.concatenate([np.concatenate([np.zeros_like(at) + d[expm_a], np.zeros_like(at)
                                         + d[frechet]], axis=-1), np.zeros_like(mt[..., n:, :])],
                        axis=-2)
    block = np.concatenate([np.concatenate([mt, gm], axis=-1),
                            np.concatenate([np.zeros_like(mt), mt], axis=-1)], axis=-2)
    gin = sl.expm(block)[..., :2 * n, 2 * n:]
    d[A] = unbroadcast(gin[..., :n, :n] + gin[..., n:, n:], A)
    d[E] = unbroadcast(gin[..., :n, n:], E)


@tangent(sl.expm_frechet, outputs=2)
def expm_frechet_tangent(expm_a, frechet, A, E, method=None, compute_expm=True,
                         check_finite=True):
    n = np.shape(A)[-1]
    a = A + np.zeros_like(E)                                              # broadcast stacks
    m = np.concatenate([np.concatenate([a, E + np.zeros_like(A)], axis=-1), np.concatenate(
        [np.zeros_like(a), a], axis=-1)], axis=-2)
    da = np.zeros_like(a) + d[A]
    dm = np.concatenate([np.concatenate([da, np.zeros_like(a) + d[E]], axis=-1),
                         np.concatenate([np.zeros_like(a), da], axis=-1)], axis=-2)
    block = np.concatenate([np.concatenate([m, dm], axis=-1),
                            np.concatenate([np.zeros_like(m), m], axis=-1)], axis=-2)
    dexpm_m = sl.expm(block)[..., :2 * n, 2 * n:]
    d[expm_a] = dexpm_m[..., :n, :n]
    d[frechet] = dexpm_m[..., :n, n:]


# expm_frechet(A, E, compute_expm=False) -> the Frechet derivative alone: the rules above, the
# cotangent of expm(A) zero and its tangent not computed.
_FRECHET_ONLY = variant(sl.expm_frechet, "compute_expm", False)
_FRECHET_ONLY_SIGNATURE = "frechet, A, E, method=None, compute_expm=False, check_finite=True"
derived(_FRECHET_ONLY, expm_frechet_adjoint, _FRECHET_ONLY_SIGNATURE, d_reads={"expm_a": "0.0"},
        n_outputs=1)
derived(_FRECHET_ONLY, expm_frechet_tangent, _FRECHET_ONLY_SIGNATURE, d_stores={"expm_a": None},
        n_outputs=1)


# -- lu(a) = (p, l, u), a = p l u, a (m, n), k = min(m, n): l (m, k) unit lower, u (k, n)
# upper. Padded to square factors, lp = [l, e[:, k:]] (m, m) and up = [u; e[k:, :]] (n, n),
# x = lp^-1 p^T da up^-1 gives dl = (lp tril(x, -1))[:, :k] and du = (triu(x) up)[:k, :]
# (the square case is lu_factor's; the padding extends it to wide and tall a, as in JAX's
# lu_jvp). p is piecewise constant; the leading k x k block of p^T a must be nonsingular.

linear(unpad_identity)       # pad_identity is affine: its tangent pads with zeros (fill 0)


@adjoint(pad_identity)
def pad_identity_adjoint(y, x, n, axis, fill=1.0):
    d[x] = unpad_identity(d[y], x, axis)


@tangent(pad_identity)
def pad_identity_tangent(y, x, n, axis, fill=1.0):
    d[y] = pad_identity(d[x], n, axis, 0.0)


@adjoint(unpad_identity)
def unpad_identity_adjoint(y, g, x, axis):
    d[g] = pad_identity(d[y], np.shape(g)[axis], axis, 0.0)


@adjoint(sl.lu, outputs=3)
def lu_adjoint(p, l, u, a, *, check_finite=True):
    m, n = np.shape(a)[-2:]
    k = min(m, n)
    lp = pad_identity(l, m, -1)
    up = pad_identity(u, n, -2)
    gl = np.concatenate([np.zeros_like(l) + d[l], np.zeros_like(a[..., :, k:])], -1)
    gu = np.concatenate([np.zeros_like(u) + d[u], np.zeros_like(a[..., k:, :])], -2)
    gx = np.tril(np.swapaxes(lp, -1, -2) @ gl, -1) + np.triu(gu @ np.swapaxes(up, -1, -2))
    z = np.linalg.solve(np.swapaxes(lp, -1, -2), gx)                       # lp^-T gx
    d[a] = p @ np.swapaxes(np.linalg.solve(up, np.swapaxes(z, -1, -2)), -1, -2)


@tangent(sl.lu, outputs=3)
def lu_tangent(p, l, u, a, *, check_finite=True):
    k = min(np.shape(a)[-2:])
    lp = pad_identity(l, np.shape(a)[-2], -1)
    up = pad_identity(u, np.shape(a)[-1], -2)
    y = np.linalg.solve(lp, np.swapaxes(p, -1, -2) @ d[a])
    x = np.swapaxes(np.linalg.solve(np.swapaxes(up, -1, -2), np.swapaxes(y, -1, -2)), -1, -2)
    d[l] = (lp @ np.tril(x, -1))[..., :, :k]
    d[u] = (np.triu(x) @ up)[..., :k, :]


# -- polar(a) = (u, p): a = u p (side 'right', p = (a^T a)^(1/2)) or a = p u ('left',
# p = (a a^T)^(1/2)); p dp + dp p = d(a^T a) (or d(a a^T)) is a Sylvester equation, and
# du = (da - u dp) p^-1 (or p^-1 (da - dp u)). a of full rank (p invertible).

@adjoint(sl.polar, outputs=2)
def polar_adjoint(u, p, a, side="right"):
    gu = np.zeros_like(u) + d[u]
    if side == "right":
        gu_pinv = np.swapaxes(np.linalg.solve(p, np.swapaxes(gu, -1, -2)), -1, -2)   # gu p^-1
        z = sl.solve_sylvester(p, p, d[p] - np.swapaxes(u, -1, -2) @ gu_pinv)
        d[a] = gu_pinv + a @ (z + np.swapaxes(z, -1, -2))
    else:
        pinv_gu = np.linalg.solve(p, gu)                                              # p^-1 gu
        z = sl.solve_sylvester(p, p, d[p] - pinv_gu @ np.swapaxes(u, -1, -2))
        d[a] = pinv_gu + (z + np.swapaxes(z, -1, -2)) @ a


@tangent(sl.polar, outputs=2)
def polar_tangent(u, p, a, side="right"):
    if side == "right":
        gram = np.swapaxes(d[a], -1, -2) @ a
        dp = sl.solve_sylvester(p, p, gram + np.swapaxes(gram, -1, -2))
        d[u] = np.swapaxes(np.linalg.solve(p, np.swapaxes(d[a] - u @ dp, -1, -2)), -1, -2)
    else:
        gram = d[a] @ np.swapaxes(a, -1, -2)
        dp = sl.solve_sylvester(p, p, gram + np.swapaxes(gram, -1, -2))
        d[u] = np.linalg.solve(p, d[a] - dp @ u)
    d[p] = dp


# -- eigh_tridiagonal(d, e) = eigh of the symmetric tridiagonal t with diagonal d and off-
# diagonal e: linalg.py's eigh rules, with dt = diag(dd) + diag(de, 1) + diag(de, -1) and the
# adjoint of t read back from its diagonals. ``select`` (a subset of the values) is refused;
# the rule's first parameter is ``diagonal`` (``d`` is the derivative marker): pass d by
# position.

@adjoint(sl.eigh_tridiagonal, outputs=2)
def eigh_tridiagonal_adjoint(w, v, diagonal, e, eigvals_only=False, *, check_finite=True,
                             tol=0.0, lapack_driver="auto"):
    vt = np.swapaxes(v, -1, -2)
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye          # w_j - w_i, 1 on diag
    m = (v * np.expand_dims(d[w], -2) + v @ ((1.0 / gaps - eye) * (vt @ d[v]))) @ vt
    d[diagonal] = np.diagonal(m, axis1=-2, axis2=-1)
    d[e] = np.diagonal(m, 1, axis1=-2, axis2=-1) + np.diagonal(m, -1, axis1=-2, axis2=-1)


@tangent(sl.eigh_tridiagonal, outputs=2)
def eigh_tridiagonal_tangent(w, v, diagonal, e, eigvals_only=False, *, check_finite=True,
                             tol=0.0, lapack_driver="auto"):
    vt = np.swapaxes(v, -1, -2)
    upper = vt[..., :, :-1] @ (v[..., 1:, :] * np.expand_dims(np.zeros_like(e) + d[e], -1))
    q = vt @ (v * np.expand_dims(np.zeros_like(diagonal) + d[diagonal], -1)) + upper + (
        np.swapaxes(upper, -1, -2))                               # v^T dt v
    eye = np.eye(np.shape(w)[-1], dtype=np.result_type(w))
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye
    d[w] = np.diagonal(q, axis1=-2, axis2=-1)
    d[v] = v @ ((1.0 / gaps - eye) * q)
