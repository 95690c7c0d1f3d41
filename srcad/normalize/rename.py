"""Renaming of straight-line redefinitions: ``x = f(x)`` at the top level becomes
``x_2 = f(x)``, so no value the adjoint needs is overwritten.

Input: an ANF FunctionDef. Output: the same, where each top-level redefinition of a name (not
also assigned in a loop or branch: the tape handles those) binds a fresh name and the later
reads use it.
"""
from __future__ import annotations

import gast

from ..naming import Namer
from ..nodes import walk

__all__ = ["_rename_redefinitions"]


def _rename_redefinitions(fdef: gast.FunctionDef, namer: Namer):
    """Give each top-level redefinition of a name its own name (x, x_2, ...), so straight-line
    code never overwrites a value the adjoint needs. Names also assigned inside control flow
    keep one name (the reverse transformer's tape handles those)."""
    in_control = set()
    for stmt in fdef.body:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            in_control |= {n.id for n in walk(stmt)
                           if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            in_control |= {n.value.id for n in walk(stmt) if isinstance(n, gast.Subscript)
                           and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)}
            in_control |= {n.func.value.id for n in walk(stmt)
                           if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
                           and n.func.attr == "append" and isinstance(n.func.value, gast.Name)}
    defined = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs}
    current: dict[str, str] = {}

    def use(node):
        for n in walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in current:
                n.id = current[n.id]
            popped = getattr(n, "srcad_pop", None)      # v = lst.pop(): the list it shortens
            if popped in current:
                n.srcad_pop = current[popped]

    for stmt in fdef.body:
        if isinstance(stmt, gast.Assign):
            use(stmt.value)
            for t in stmt.targets:
                if isinstance(t, gast.Subscript):
                    use(t)
                    continue
                names = t.elts if isinstance(t, gast.Tuple) else [t]
                for n in names:
                    if n.id in defined and n.id not in in_control:
                        new = namer.fresh(n.id)
                        current[n.id] = new
                        n.id = new
                    else:
                        defined.add(n.id)
                        current.pop(n.id, None)
        else:
            use(stmt)
            for n in gast.walk(stmt):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    defined.add(n.id)
