"""The numba backend: the generated derivative (its readable source, untouched) lowered to
what numba's nopython mode types, compiled, and called in place of the Python function.

The lowering is a small rewrite of a copy of the tree, never shown: ``_srcad.scalar_items(a)``
(a list of Python floats for the interpreter) is ``a`` itself, a placeholder ``v = None``
before a loop that saves ``v`` on a tape is ``v = 0.0`` (it is only pushed and popped back,
never read: numba needs one type per list), and a list of adjoints ``[0.0] * n`` is
``np.zeros(n)``, and ``reversed(r)`` of a range is the range that counts down. Anything numba does not type (NumPy code it lacks, runtime helpers, objects)
makes the compilation fail: the Python function runs instead, and why is logged once.

Invariant: the compiled function is called with the arguments the Python one would get and
returns what it returns (lists of adjoints become arrays, as the generated code makes them).
"""
from __future__ import annotations

import ast
import logging
import re
from typing import Any, Callable

from .. import parsing

log = logging.getLogger("srcad")

__all__ = ["available", "lower", "compiled"]

_REASONS: set = set()       # the fallbacks already logged (once per derivative and reason)


def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


class _Lower(ast.NodeTransformer):
    """The rewrites numba needs (module docstring), on a copy of the generated tree."""

    def __init__(self) -> None:
        self.zeroed: set = set()     # names bound to np.zeros(n) in place of [0.0] * n

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "_srcad" and func.attr == "scalar_items"
                and len(node.args) == 1):
            return node.args[0]
        if (isinstance(func, ast.Name) and func.id == "reversed" and len(node.args) == 1
                and isinstance(node.args[0], ast.Name)):
            r = node.args[0].id        # a range (else numba refuses .start): its reversal
            return ast.copy_location(parsing.parse(
                f"range({r}.start + (len({r}) - 1) * {r}.step, {r}.start - {r}.step, "
                f"-{r}.step)", mode="eval").body, node)
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "np" and func.attr == "array" and node.args
                and isinstance(node.args[0], ast.Name) and node.args[0].id in self.zeroed):
            return node.args[0]        # np.array(adjoints, dtype): already a float64 array
        return node

    def visit_Assign(self, node: ast.Assign) -> Any:
        self.generic_visit(node)
        value = node.value
        if isinstance(value, ast.Constant) and value.value is None:
            node.value = ast.copy_location(ast.Constant(0.0), value)
        elif (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult)
              and isinstance(value.left, ast.List) and len(value.left.elts) == 1
              and isinstance(value.left.elts[0], ast.Constant)
              and value.left.elts[0].value == 0.0 and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            self.zeroed.add(node.targets[0].id)
            node.value = ast.copy_location(parsing.parse(
                f"np.zeros({ast.unparse(value.right)})", mode="eval").body, value)
        return node


def lower(source: str) -> str:
    """The generated ``source`` rewritten for numba (module docstring)."""
    tree = _Lower().visit(parsing.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def _reason(exc: Exception) -> str:
    """The line of a numba error that says what it could not type (colours stripped)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith("Failed in")]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _fallback(name: str, reason: str) -> None:
    key = (name, reason)
    if key not in _REASONS:
        _REASONS.add(key)
        log.warning("srcad: backend='numba': %s runs as Python code: %s", name, reason)


def compiled(fn: Callable, source: str, namespace: dict) -> Callable:
    """A function calling ``fn``'s numba-compiled form, compiled at its first call for the
    argument types it gets; ``fn`` itself where numba is absent or refuses the code."""
    name = fn.__name__
    try:
        import numba
    except ImportError:
        _fallback(name, "numba is not installed (pip install srcad[numba])")
        return fn
    try:
        lowered = lower(source)
        scope: dict = {}
        for node in ast.walk(parsing.parse(lowered)):     # the globals it reads, looked up now
            if isinstance(node, ast.Name) and node.id not in scope:
                try:
                    scope[node.id] = namespace[node.id]
                except KeyError:
                    pass
        exec(compile(lowered, f"<srcad numba {name}>", "exec"), scope)
        jitted = numba.njit(cache=False)(scope[name])
    except Exception as exc:     # numba rejects the function itself
        _fallback(name, _reason(exc))
        return fn
    state: dict = {"run": None}

    def first(*args, **kwargs):
        if kwargs:             # numba takes positional arguments only
            _fallback(name, "called with keyword arguments")
            return fn(*args, **kwargs)
        try:
            out = jitted(*args)
        except numba.core.errors.NumbaError as exc:    # numba does not accept the code
            run.fallback = _reason(exc)
            _fallback(name, run.fallback)
            state["run"] = fn
            return fn(*args)
        state["run"] = jitted
        return out

    def run(*args, **kwargs):
        if kwargs or state["run"] is None:
            return first(*args, **kwargs)
        try:
            return state["run"](*args)
        except numba.core.errors.NumbaError:    # new argument types numba does not accept
            state["run"] = None
            return first(*args)

    run.__name__ = name
    run.fallback = None          # type: ignore[attr-defined]  # why numba did not run it
    run.__srcad_numba__ = jitted         # type: ignore[attr-defined]
    run.__srcad_python__ = fn            # type: ignore[attr-defined]
    return run
