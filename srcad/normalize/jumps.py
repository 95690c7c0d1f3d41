"""Control transfers lowered to flags: a loop's ``else`` (run under a flag each ``break`` of
the loop clears), early and multiple ``return`` (one ``return`` at the end) and a loop body's
``break``/``continue`` (the statements after a jump run under ``if``).

Input: statements that may hold ``for``/``while`` ... ``else`` and ``return``
(``_lower_returns``, on a whole FunctionDef before ANF, the loops' ``else`` first) or
``break``/``continue`` of one loop (``lower_jumps``, on its normalized body). Output: the
same computation with loops without ``else``, a single final ``return`` and straight ``if``
nesting, so the adjoint sweep reverses exactly the statements that ran.
"""
from __future__ import annotations

import gast

from .program import _has, _name

__all__ = ["lower_jumps"]


def _jump_kinds(stmts) -> set:
    """'break'/'continue' of *this* loop occurring in stmts (not inside nested loops)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.Break):
            out.add("break")
        elif isinstance(s, gast.Continue):
            out.add("continue")
        elif isinstance(s, gast.If):
            out |= _jump_kinds(s.body) | _jump_kinds(s.orelse)
    return out


def _has_jump(stmts) -> bool:
    return bool(_jump_kinds(stmts))


def lower_jumps(namer, body, lineno):
    """Replace ``break``/``continue`` in a loop body by flags: the statements after a
    jump run under ``if`` (so the adjoint sweep reverses exactly what ran), and a
    ``break`` flag leaves the loop at the end of the body. Returns (body, has_break)."""
    kinds = _jump_kinds(body)
    if not kinds:
        return body, False
    flags = {k: namer.fresh("_" + k) for k in sorted(kinds)}
    used = set()

    def flag(kind, value):
        used.add(kind)
        node = gast.Assign(targets=[_name(flags[kind], gast.Store())],
                           value=gast.Constant(value=value, kind=None), type_comment=None)
        node.lineno = lineno
        return node

    def lower(stmts):
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Break):
                out.append(flag("break", True))
                return out
            if isinstance(s, gast.Continue):
                out.append(flag("continue", True))
                return out
            if isinstance(s, gast.If) and _has_jump([s]):
                s.body = lower(s.body) or [gast.Pass()]
                s.orelse = lower(s.orelse)
                out.append(s)
                rest = lower(stmts[i + 1:])
                if rest:
                    go = namer.fresh("_go")
                    names = [_name(flags[k], gast.Load()) for k in sorted(kinds)]
                    test = names[0] if len(names) == 1 else gast.BoolOp(
                        op=gast.Or(), values=names)
                    test = gast.UnaryOp(op=gast.Not(), operand=test)
                    test.srcad_opaque = True
                    guard = gast.Assign(targets=[_name(go, gast.Store())], value=test,
                                        type_comment=None)
                    cond = gast.If(test=_name(go, gast.Load()), body=rest, orelse=[])
                    guard.lineno = cond.lineno = lineno
                    out.extend([guard, cond])
                return out
            out.append(s)
        return out

    lowered = lower(body)
    init = [flag(k, False) for k in sorted(kinds)]
    tail = []
    if "break" in used:
        leave = gast.Break()
        stop = gast.If(test=_name(flags["break"], gast.Load()), body=[leave], orelse=[])
        stop.lineno = leave.lineno = lineno
        tail.append(stop)
    return init + lowered + tail, "break" in used


def _lower_loop_else(stmts, namer) -> list:
    """``for``/``while`` ... ``else`` -> the loop, then ``if _no_break:`` the ``else`` block,
    the flag set before the loop and cleared before each ``break`` of the loop (not of a
    loop nested in it), as Python runs the block when the loop ends without ``break``. An
    ``else`` block's own ``break`` leaves the loop around it: inner loops go first."""
    out = []
    for s in stmts:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and not isinstance(s, gast.FunctionDef):
                setattr(s, field, _lower_loop_else(inner, namer))
        if not (isinstance(s, (gast.For, gast.While)) and s.orelse):
            out.append(s)
            continue
        orelse, s.orelse = s.orelse, []
        flag = namer.fresh("_no_break")
        s.body, broke = _cleared_at_breaks(s.body, flag)
        if not broke:                       # no break: the else block always runs
            out += [s] + orelse
            continue
        test = gast.If(test=_name(flag, gast.Load()), body=orelse, orelse=[])
        out += [_flag(flag, True, s), s, gast.copy_location(test, s)]
    return out


def _cleared_at_breaks(stmts, flag):
    """(``stmts`` with ``flag = False`` before each ``break`` of their loop, was there
    one)."""
    out, broke = [], False
    for t in stmts:
        if isinstance(t, gast.Break):
            broke = True
            out.append(_flag(flag, False, t))
        elif not isinstance(t, (gast.For, gast.While, gast.FunctionDef)):
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(t, field, None)
                if isinstance(inner, list):
                    inner, inner_broke = _cleared_at_breaks(inner, flag)
                    setattr(t, field, inner)
                    broke = broke or inner_broke
        out.append(t)
    return out, broke


def _flag(name, value, where):
    assign = gast.Assign(targets=[_name(name, gast.Store())],
                         value=gast.Constant(value=value, kind=None), type_comment=None)
    return gast.copy_location(assign, where)


def _lower_returns(fdef, namer):
    """Loops' ``else`` (``_lower_loop_else``) first; then early and multiple returns -> one
    final ``return _result``: each ``return v`` sets ``_result`` and a ``_returned`` flag,
    leaves enclosing loops (``break``), and the statements after it run under ``if not
    _returned``."""
    fdef.body = _lower_loop_else(fdef.body, namer)
    returns = [n for n in gast.walk(fdef) if isinstance(n, gast.Return)]
    if not returns or (len(returns) == 1 and fdef.body[-1] is returns[0]):
        return
    result, done = namer.fresh("_result"), namer.fresh("_returned")

    def at(node, line):
        for n in gast.walk(node):
            if isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = line
                n.col_offset = getattr(n, "col_offset", 0) or 0
        return node

    def flag(value, line):
        return at(gast.Assign(targets=[_name(done, gast.Store())],
                              value=gast.Constant(value=value, kind=None), type_comment=None),
                  line)

    def guard(rest, line):
        return at(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=_name(done, gast.Load())),
                          body=[], orelse=[]), line), rest

    def lower(stmts, in_loop):
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Return):
                value = s.value if s.value is not None else gast.Constant(value=None, kind=None)
                out.append(at(gast.Assign(targets=[_name(result, gast.Store())], value=value,
                                          type_comment=None), s.lineno))
                out.append(flag(True, s.lineno))
                if in_loop:
                    out.append(at(gast.Break(), s.lineno))
                return out
            compound = isinstance(s, (gast.If, gast.For, gast.While))
            if compound and _has(s.body + s.orelse, gast.Return):
                inner = in_loop or not isinstance(s, gast.If)
                s.body = lower(s.body, inner) or [gast.Pass()]
                s.orelse = lower(s.orelse, inner)
                out.append(s)
                if in_loop and not isinstance(s, gast.If):
                    out.append(at(gast.If(test=_name(done, gast.Load()), body=[gast.Break()],
                                          orelse=[]), s.lineno))
                rest = lower(stmts[i + 1:], in_loop)
                if rest:
                    test, body = guard(rest, s.lineno)
                    test.body = body
                    out.append(test)
                return out
            out.append(s)
        return out

    line = fdef.body[0].lineno
    fdef.body = [flag(False, line)] + lower(fdef.body, False) + [
        at(gast.Return(value=_name(result, gast.Load())), returns[-1].lineno)]
