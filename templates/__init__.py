"""srcad's derivative rules (adjoint and tangent templates), installed as ``srcad.templates``.

Each module mirrors a NumPy family: ``ufuncs`` (elementwise), ``reductions``, ``shape``,
``indexing``, ``linalg``, ``creation`` (non-differentiable functions), ``runtime_rules``
(rules for srcad's own runtime helpers, so generated code can be differentiated again) and
``complex`` (the rules of complex values: real and imaginary parts, conj, angle, abs),
``nn`` (the fused operators of ``srcad.nn``), ``fft`` (``numpy.fft``), ``mathematical``
(differences, integrals, convolutions, interpolation, polynomials) and ``statistics`` (order
statistics, the NaN-ignoring moments, ``cov``, ``corrcoef``). The ``OPTIONAL`` modules
(``scipy_special``, ``scipy_linalg``, ``scipy_signal``) hold the rules of optional
dependencies: each is loaded only when the package it needs imports.
"""
if __name__ != "srcad.templates":
    raise ImportError(
        "srcad's templates are part of the srcad package: import them as 'srcad.templates', "
        "not as a top-level 'templates' package")

MODULES = ("ufuncs", "reductions", "shape", "indexing", "linalg", "creation", "runtime_rules",
           "complex", "nn", "fft", "mathematical", "statistics", "scipy_special",
           "scipy_linalg", "scipy_signal")
# module -> the package it needs: skipped when that package is not installed
OPTIONAL = {"scipy_special": "scipy", "scipy_linalg": "scipy", "scipy_signal": "scipy"}
