"""Pickling derivative functions by reference (above ``api``, like ``check``): a derivative
function srcad returned is named ``srcad.pickling.<name>`` (``api._pickled_by_reference``),
the name holding the function it differentiates (by its module and qualified name) and the
options it was asked with. Unpickling imports that
function and asks srcad for the same derivative again (built on the other side), which is
what ``multiprocessing``, ``concurrent.futures``, joblib and dask need to send it to workers.
"""
from __future__ import annotations

import importlib
import json

from .api import _derivative

__all__: list[str] = []

PREFIX = "derivative_"     # api names a derivative function PREFIX + its key


def __getattr__(name: str):
    if not name.startswith(PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module, qualname, mode, wrt, preserve_result, optimized, grad_seed = json.loads(
            bytes.fromhex(name[len(PREFIX):]))
    except ValueError:
        raise AttributeError(f"{name!r} is not a derivative srcad pickled") from None
    f = importlib.import_module(module)
    for part in qualname.split("."):
        f = getattr(f, part)
    return _derivative(f, mode, tuple(wrt) if isinstance(wrt, list) else wrt,
                       preserve_result, optimized, grad_seed, 0)
