"""Rule instantiation, shared by both transformers (``reverse``, ``forward``): a rule's template
bound to a call site (``bind``), the names its globals get in generated code
(``runtime_ref``), the broadcasting its instantiation does that the known shapes prove
useless (``mark_broadcasts`` tags it, ``Broadcasts`` drops it), and the tag
``mark_derivative`` that tells later passes a statement computes derivatives.

Input: a ``Rule`` of the registry, its template, the ANF call site (atoms) and
``analysis.shapes``. Output: gast statements of derivative code, located at the call site;
a call that does not fit the rule is the user's located error.
"""
from __future__ import annotations

import gast
import numpy as np

from . import registry, runtime
from .analysis import broadcast, walk
from .errors import SrcadSyntaxError
from .nodes import Transformer, attr, name
from .template import TemplateBindError

__all__ = ["bind", "template_for", "runtime_ref", "mark_broadcasts", "Broadcasts", "mark_derivative"]


def bind(transformer, stmt, prim, template, args, kwargs, outs) -> dict:
    """Bind a rule's template to a call site: template parameter -> call-site atom; a call
    that does not fit (arity, unknown keyword, outputs) is the user's located error."""
    name = registry.primitive_name(prim)
    if len(template.outputs) != len(outs):
        raise transformer.error(stmt, f"{name} returns {len(template.outputs)} values here; "
                                f"unpack them into {len(template.outputs)} names",
                                "Unpack the result.", SrcadSyntaxError)
    try:
        return template.bind(args, kwargs, name)
    except TemplateBindError as exc:
        raise transformer.error(stmt, str(exc), "Call it with the parameters listed.",
                                SrcadSyntaxError) from None


def template_for(rule, kind: str, active: list):
    """The ``kind`` ('adjoint' or 'tangent') template of ``rule`` where the call's positional
    arguments' activity is ``active``: a called helper's (``called_helpers``) with respect to
    its active parameters, any other rule's own."""
    helper = rule.extra.get("helper")
    template = getattr(rule, kind)
    if helper is None or template is None:
        return template
    return helper.template(kind, tuple(i for i, a in enumerate(active) if a))


def mark_broadcasts(body, prim, rule, operands, outs, active=(), renamed=None):
    """Tag the ``unbroadcast``/``broadcast_like`` calls an elementwise rule instantiated with
    the operands of its call site, so they can be dropped where they provably do nothing
    (``renamed``: saved-value names -> the variable they hold an old value of)."""
    if not (rule.extra.get("elementwise") or prim in (np.where, np.clip)):
        return
    for stmt in body:
        for node in walk(stmt):
            if isinstance(node, gast.Call) and len(node.args) == 2 and isinstance(
                    node.args[1], gast.Name):
                name = node.func.id if isinstance(node.func, gast.Name) else getattr(
                    node.func, "attr", "")
                kind = name.rsplit(".", 1)[-1]
                if kind in ("unbroadcast", "broadcast_like"):
                    like = node.args[1].id
                    like = (renamed or {}).get(like, like)
                    node.srcad_shapes = (kind, list(operands), list(active), like)


def runtime_ref(program, rt):
    """Template globals -> names: srcad's runtime helpers read as ``_srcad.helper``."""
    def ref(obj, preferred):
        if callable(obj) and getattr(obj, "__module__", None) == runtime.__name__:
            return f"{rt}.{obj.__name__}"
        return program.ref(obj, preferred)
    return ref


def mark_derivative(stmts):
    """Tag statements computing derivatives (floating point by construction)."""
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.stmt):
                n.srcad_derivative = True


def _shape(node, shapes):
    if isinstance(node, gast.Constant):
        return () if type(node.value) in (int, float, complex) else None
    if isinstance(node, gast.UnaryOp):
        return _shape(node.operand, shapes)
    if isinstance(node, gast.Name):
        return shapes.get(node.id)
    return None


def _result_shape_is(operands, one, shapes) -> bool:
    """Does an elementwise operation on ``operands`` give exactly the shape of the variable
    ``one``? Yes when the others are scalars or ``one`` again (``x * x``), or when the
    operands' known shapes broadcast to ``one``'s known shape."""
    if any(isinstance(o, gast.Name) and o.id == one for o in operands) and all(
            _shape(o, shapes) == () or (isinstance(o, gast.Name) and o.id == one)
            for o in operands):
        return True
    target = shapes.get(one)
    return (isinstance(target, tuple) and None not in target
            and broadcast([_shape(o, shapes) for o in operands]) == target)


class Broadcasts(Transformer):
    """Drop ``unbroadcast(g, x)`` / ``broadcast_like(t, y)`` where shapes provably agree,
    and write the seed and zeros of scalars as the literals 1.0 and 0.0 (not the zeros of a
    buffer written through an index, tagged ``srcad_buffer``: a 0-d array)."""

    def __init__(self, shapes, np_name):
        self.shapes = shapes
        self.np = np_name

    def visit_Call(self, node):
        self.generic_visit(node)
        tag = getattr(node, "srcad_shapes", None)
        if tag is not None:
            kind, operands, active, like = tag
            if kind == "unbroadcast" and _result_shape_is(operands, like, self.shapes):
                return node.args[0]
            if kind == "unbroadcast":
                return self.sum_over_broadcast(node, operands, like) or node
            if kind == "broadcast_like" and active and (all(
                    _result_shape_is(operands, a.id, self.shapes) for a in active)
                    or self.active_span(operands, active, like)):
                return node.args[0]
            return node
        func = node.func
        if (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)
                and func.value.id == "_srcad" and len(node.args) == 1
                and _shape(node.args[0], self.shapes) == ()):
            if func.attr == "scalar_seed":
                return gast.Constant(value=1.0, kind=None)
            if func.attr == "zeros_like" and not getattr(node, "srcad_buffer", False):
                return gast.Constant(value=0.0, kind=None)
        return node

    def active_span(self, operands, active, like) -> bool:
        """Do the active operands alone broadcast to the result's known shape? A tangent
        is shaped like its value, so a sum of terms each carrying one of them has the
        result's shape already."""
        result = broadcast([_shape(o, self.shapes) for o in operands])
        return isinstance(result, tuple) and None not in result and broadcast(
            [_shape(a, self.shapes) for a in active]) == result

    def sum_over_broadcast(self, node, operands, like):
        """``unbroadcast(g, like)`` as the one ``np.sum`` it does, when shapes are known:
        ``np.sum(g, axis=0)`` for a bias, ``np.sum(g, axis=1, keepdims=True)`` for a
        column; None when it takes more than one sum."""
        result = broadcast([_shape(o, self.shapes) for o in operands])
        target = self.shapes.get(like)
        if not (isinstance(result, tuple) and isinstance(target, tuple)) or None in result \
                or None in target or len(target) > len(result):
            return None
        lead = len(result) - len(target)
        kept = [i + lead for i, n in enumerate(target) if n == 1 and result[i + lead] != 1]
        reduced = tuple(1 if i + lead in kept else result[i + lead] for i in range(len(target)))
        if (lead and kept) or not (lead or kept) or reduced != target:
            return None                       # not one sum (or shapes that cannot agree)
        keywords = []
        if target:
            axes = list(range(lead)) or kept
            axis = gast.Constant(value=axes[0], kind=None) if len(axes) == 1 else gast.Tuple(
                elts=[gast.Constant(value=a, kind=None) for a in axes], ctx=gast.Load())
            keywords.append(gast.keyword(arg="axis", value=axis))
            if not lead:
                keywords.append(gast.keyword(arg="keepdims", value=gast.Constant(
                    value=True, kind=None)))
        g, negate = node.args[0], False
        if isinstance(g, gast.UnaryOp) and isinstance(g.op, gast.USub):
            g, negate = g.operand, True          # negate the (smaller) sum
        out = gast.Call(func=attr(name(self.np), "sum"), args=[g], keywords=keywords)
        return gast.UnaryOp(op=gast.USub(), operand=out) if negate else out


def check_coverage(transformer, stmt, prim, template, inputs, covered, value, kind):
    """A rule a user registered must give every input that depends on the differentiated
    arguments a derivative (``covered``: the parameters it does): one it leaves out would
    silently count as a constant, so it is refused, located at the call."""
    if not template.user:
        return
    missing = [p for p, bound in inputs.items() if p not in covered and isinstance(
        bound, gast.Name) and transformer.act.is_active(bound.id)]
    if missing:
        name = registry.primitive_name(prim)
        fix = (f"Add `d[{missing[0]}] = ...` to the rule" if kind == "adjoint" else
               f"Use `d[{missing[0]}]` (its tangent) in the rule")
        raise transformer.error(
            stmt, f"the {kind} rule registered for {name} ({template.origin}) gives no "
            f"derivative for its argument {missing[0]!r}, which here depends on the "
            "differentiated input",
            f"{fix}, or pass a constant (or srcad.stop_gradient(...)) for that argument.",
            node=value)
