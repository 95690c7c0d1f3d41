"""Backends: what runs a generated derivative. ``python`` (the default) runs the generated
NumPy source as it is; ``numba`` compiles it with numba when numba accepts it (scalar and loop
code) and otherwise runs the Python one, saying why once through the ``srcad`` logger.

Invariant: a backend never changes the generated source (``srcad.show`` shows it); it only
changes what executes it, and its result equals the Python one's.
"""
from __future__ import annotations

BACKENDS = ("python", "numba")

__all__ = ["BACKENDS", "check_backend"]


def check_backend(backend) -> str:
    """``backend`` itself, or a ValueError naming the backends there are."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, "
                         f"not {backend!r}")
    return backend
