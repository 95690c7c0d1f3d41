"""The fence: refuse the syntax srcad does not differentiate, before anything is rewritten.

Input: a parsed FunctionDef (the user's function, or a helper about to be inlined). Output:
nothing, or a ``SrcadSyntaxError`` at the first unsupported construct, with the user's
location and what to write instead. Everything past the fence may assume none of ``_REJECT``
occurs (f-strings only inside ``assert``, ``raise``, expression statements and the
assignments of strings for messages, ``messages.py``), loops have no
``else``, attributes are not assigned and no user name starts with ``_srcad``.
"""
from __future__ import annotations

import gast

from ..nodes import walk
from ..source import Source
from .program import _loc_error

__all__ = ["fence"]

_REJECT = {
    gast.Try: ("try/except here (srcad makes exact a try whose handlers only re-raise, one "
               "around imports, and one around reads of container arguments with constant "
               "keys, decided when it builds the derivative)",
               "move error handling outside the differentiated function, or test for the "
               "case (if 'b' in params: ...)"),
    gast.AsyncFunctionDef: ("async functions", "use a plain `def`"),
    gast.AsyncFor: ("async for", "use a plain `for`"),
    gast.AsyncWith: ("async with", "use plain code"),
    gast.Await: ("await", "use plain code"),
    gast.Yield: ("yield (generators)", "return the values (e.g. in a list) instead"),
    gast.YieldFrom: ("yield from", "return the values instead"),
    gast.Nonlocal: ("`nonlocal`", "pass the value in and return the new value instead"),
    gast.ClassDef: ("class definitions", "define the class outside the function"),
    gast.FunctionDef: ("a nested function defined here (srcad inlines those defined at the "
                       "top level of the function's body)",
                       "define it at the top level of the body, or at module level"),
    gast.Lambda: ("a lambda here (srcad inlines lambdas assigned to a name at the top level "
                  "of the body, passed as call arguments, or items of a list or tuple display)",
                  "assign it to a name first (act = lambda z: ...), or write a `def`"),
    gast.ListComp: ("a list comprehension here (in a `while` test)",
                    "compute it before the loop and again at the end of its body"),
    gast.SetComp: ("a set comprehension here (in a `while` test, or with `set` rebound)",
                   "compute it before the loop, or write a for loop"),
    gast.DictComp: ("a dict comprehension here (srcad unrolls those over containers and "
                    "constants when the derivative is built)", "iterate over a dict's items, "
                    "keys or values, a container argument or constants, or write a for loop"),
    gast.GeneratorExp: ("generator expressions other than in sum(...), list(...), "
                        "tuple(...), all(...), any(...), min(...) and max(...)",
                        "write a list comprehension or a loop"),
    gast.Set: ("set literals", "use a tuple"),
    gast.Starred: ("*-unpacking", "pass the arguments explicitly"),
    gast.JoinedStr: ("f-strings here", "format strings only in messages: `assert`, `raise`, "
                     "`print`, `logging` and `warnings.warn` (primal-only statements), or "
                     "assign them to a name those alone read (msg = f'...'; log.debug(msg))"),
}
_MESSAGES = (gast.Assert, gast.Raise, gast.Expr)   # where f-strings may stand (their messages)


def fence(src: Source, fdef: gast.FunctionDef):
    """Reject unsupported syntax with the user's location and what to write instead."""
    args = fdef.args
    if args.vararg or args.kwarg:
        if fdef.name != src.node.name or fdef.lineno != src.node.lineno:
            raise _loc_error(src, fdef, "*args/**kwargs parameters of a nested function or "
                             "lambda", "Name its parameters (srcad takes *args/**kwargs of "
                             "the function and of module-level helpers).")
        raise _loc_error(src, fdef, "*args/**kwargs parameters without the arguments of a "
                         "call: srcad builds their derivative for each call's length and keys",
                         "Call the derivative, or show it for example arguments: "
                         "srcad.show(f, *args).")
    for stmt in fdef.body:
        messages = {id(n) for m in walk(stmt) if isinstance(m, _MESSAGES) or
                    getattr(m, "srcad_message", False)
                    for n in walk(m) if isinstance(n, gast.JoinedStr)}
        passed = {id(a) for n in walk(stmt) if isinstance(n, gast.Call)
                  for a in n.args if isinstance(a, gast.Starred)}     # calls decide (calls.py)
        passed |= {id(e) for n in walk(stmt) if isinstance(n, gast.Assign)
                   for t in n.targets if isinstance(t, (gast.Tuple, gast.List))
                   for e in t.elts if isinstance(e, gast.Starred)}   # statements.py decides
        for node in gast.walk(stmt):
            if id(node) in passed:
                continue
            if isinstance(node, gast.Starred) and isinstance(node.ctx, gast.Store):
                raise _loc_error(src, node, "srcad does not differentiate starred unpacking "
                                 "targets (`first, *rest = xs`)", "Instead: index and slice, "
                                 "`first, rest = xs[0], list(xs[1:])`.")
            kind = _REJECT.get(type(node))
            if kind is not None and id(node) not in messages:
                raise _loc_error(src, node, f"srcad does not differentiate {kind[0]}",
                                 f"Instead: {kind[1]}.")
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Store):
                raise _loc_error(src, node, "assignment to attributes is not supported",
                                 "Assign to a local variable and return it.")
            if isinstance(node, gast.Name) and node.id.startswith("_srcad") and not \
                    src.generated:     # srcad's generated code may use them
                raise _loc_error(src, node, f"the name {node.id!r} is reserved by srcad",
                                 "Rename the variable.")
