"""Local callables made in a function's code: ``functools.partial`` of local values, and the
nested ``def`` or lambda a derivative is asked of (``srcad.grad(lambda v: ...)(x)``).

Input: what a local name or a derivative factory's function argument denotes
(``closures.LocalFunction``, a module-level function, a ``functools.partial``). Output:
* ``Bound(func, args, keywords, reads)``: a callable spelled out at each call site as
  ``func(*args, *call_args, **keywords, **reads, **call_keywords)``: ``args`` and
  ``keywords`` the values a partial bound (expressions of the scope that made it, each a
  literal, a global or a local bound once, so reading it at the call gives the value the
  partial holds), ``reads`` the enclosing function's locals a lifted local function reads
  (read at the call, as Python's late binding of a closure does);
* ``lifted(local, free, prelude)``: a nested def or lambda as a function of its own whose
  extra keyword-only parameters are the enclosing function's locals it reads (``free``):
  ``def q(z, *, W): return np.sum(np.tanh(W @ z))`` for ``q = lambda z:
  np.sum(np.tanh(W @ z))``. Its ``Source`` is the user's (file, lines, columns) and it
  resolves names where the local function did; srcad differentiates it as any function
  (``source.parse_function`` returns that ``Source``), and the derivative, generated code
  taking ``W``, is inlined into the caller, whose own derivative then follows the
  dependence of the inner derivative on ``W``.
"""
from __future__ import annotations

import ast
import copy
import types

import gast

from ..source import Source

__all__ = ["Bound", "lifted"]


class Bound:
    """A callable with arguments given where it was made (see the module docstring). ``args``
    and ``keywords`` hold ``(scope, node)`` pairs, ``reads`` names of the scope ``at``."""

    def __init__(self, func, args=(), keywords=None, reads=(), at=None):
        self.func = func
        self.args = list(args)
        self.keywords = dict(keywords or {})
        self.reads = tuple(reads)
        self.at = at

    def bind(self, args=(), keywords=None) -> "Bound":
        """``functools.partial(self, *args, **keywords)``."""
        return Bound(self.func, self.args + list(args), {**self.keywords, **(keywords or {})},
                     self.reads, self.at)

    def over(self, func) -> "Bound":
        """The same arguments, passed to ``func`` (the derivative of ``self.func``)."""
        return Bound(func, self.args, self.keywords, self.reads, self.at)


def _param(name, at):
    return gast.copy_location(gast.Name(id=name, ctx=gast.Param(), annotation=None,
                                        type_comment=None), at)


def lifted(local, free: list, prelude: list, qualname: str):
    """The Python function of the nested def or lambda ``local`` (a
    ``closures.LocalFunction``) taking the enclosing locals ``free`` as keyword-only
    parameters; ``prelude``: statements put first in its body (the nested functions and
    aliases of the enclosing function it calls)."""
    src = local.scope.src
    fdef = copy.deepcopy(local.fdef)
    a = fdef.args
    a.kwonlyargs = a.kwonlyargs + [_param(n, fdef) for n in free]
    a.kw_defaults = a.kw_defaults + [None] * len(free)
    fdef.body = [copy.deepcopy(s) for s in prelude] + fdef.body
    fdef.decorator_list = []
    # the function object: its signature and code (the cache's freshness), never its source
    tree = gast.gast_to_ast(gast.Module(body=[copy.deepcopy(fdef)], type_ignores=[]))
    filename = f"<srcad local {qualname}>"
    made: dict = {}
    exec(compile(ast.fix_missing_locations(tree), filename, "exec"), made)
    first = made[fdef.name]
    namespace = local.scope.namespace
    fn = types.FunctionType(first.__code__, namespace.globals, fdef.name, first.__defaults__)
    fn.__kwdefaults__ = first.__kwdefaults__
    fn.__qualname__ = qualname
    fn.__srcad_parsed__ = Source(fn=fn, node=fdef, filename=src.filename,  # type: ignore
                                 namespace=namespace, text=src.text,
                                 first_line=src.first_line, lines=src.lines)
    return fn
