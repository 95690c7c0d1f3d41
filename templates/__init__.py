"""srcad's derivative rules (adjoint and tangent templates), installed as ``srcad.templates``.

Each module mirrors a NumPy family: ``ufuncs`` (elementwise), ``reductions``, ``shape``,
``indexing``, ``linalg``, ``creation`` (non-differentiable functions), ``runtime_rules``
(rules for srcad's own runtime helpers, so generated code can be differentiated again) and
``complex`` (the rules of complex values: real and imaginary parts, conj, angle, abs) and
``nn`` (the fused operators of ``srcad.nn``).
"""
if __name__ != "srcad.templates":
    raise ImportError(
        "srcad's templates are part of the srcad package: import them as 'srcad.templates', "
        "not as a top-level 'templates' package")

MODULES = ("ufuncs", "reductions", "shape", "indexing", "linalg", "creation", "runtime_rules",
           "complex", "nn")
