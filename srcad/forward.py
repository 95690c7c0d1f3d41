"""Forward mode: an ANF function -> the same function computing, beside each active value, its
tangent (the JVP), and returning the tangent of the result.

Input: a normalized ``Program`` and its activity. Output: a gast FunctionDef taking the
primal arguments and then one tangent per ``wrt`` argument (``dx``), statements in source
order, each tangent statement right after the primal statement it differentiates. Only
active values (depending on a ``wrt`` argument and reaching the result) get a tangent; a
tangent template reading an inactive input sees a symbolic zero that is simplified away.
"""
from __future__ import annotations

import copy

import gast
import numpy as np

from . import registry, runtime
from .analysis import is_primal_only, list_names, primitive_call, walk_statements
from .errors import NoRuleError, SrcadSyntaxError
from .instantiate import (Broadcasts, bind, check_coverage, mark_broadcasts, mark_derivative,
                          runtime_ref, template_for)
from .template import is_zero, make_zero, simplify_zeros
from .nodes import (assign as _assign, attr as _attr, call as _call, loads as _loads,
                    name as _name)
from .sharing import _dotted, may_broadcast, shares

__all__ = ["forward"]


class _Forward:
    def __init__(self, program, wrt, act, preserve_result, shapes, seeded=False):
        self.p = program
        self.seeded = seeded
        self.src = program.source
        self.namer = program.namer
        self.act = act
        self.wrt = wrt
        self.preserve_result = preserve_result
        self.np = program.ref(np, "np")
        self.simplify = Broadcasts(shapes, self.np).visit
        self.rt = program.ref(runtime, "_srcad")
        self.ref = runtime_ref(program, self.rt)
        self.lists = list_names(program.node, shapes)
        self.stores: dict = {}
        for node in gast.walk(program.node):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                self.stores[node.id] = self.stores.get(node.id, 0) + 1
        self.zero: set = set()             # names whose tangent is known to be zero
        self.views: dict = {}              # a tangent -> the tangents its value may share
        self.mutated = {t.value.id for s in walk_statements(program.node.body)
                        if isinstance(s, gast.Assign)
                        for t in s.targets if isinstance(t, gast.Subscript)}

    def known_zero(self, name, zero: bool):
        """Record that the tangent of ``name`` is zero where it is defined; with one
        definition in the whole function and no writes into it, that is everywhere, and its
        readers see a symbolic zero (``db_add`` of a constant seed is zero, so is all that is computed from it)."""
        if zero and self.stores.get(name) == 1 and name not in self.p.params and (
                name not in self.mutated and name not in self.lists):    # (written into)
            self.zero.add(name)

    def tan(self, name):
        return self.namer.tangent(name)

    def active(self, node) -> bool:
        return isinstance(node, gast.Name) and self.act.is_active(node.id) and (
            node.id not in self.zero)

    def zeros(self, name, value=None):
        """The zero tangent of the active value ``name``: ``tangent_zeros``, which a batched
        sweep makes a batch of zeros, since the code may write or accumulate into it
        (``dx[i] = ...``, ``dx += ...``); ``0.0`` where ``value``, the value just assigned
        to ``name``, is a number literal (``p = 0.0``: ``tangent_zeros`` gives 0.0 for a
        Python number, batched or not, and a call per use of it costs more than the loop
        that follows in scalar code)."""
        if isinstance(value, gast.Constant) and type(value.value) in (int, float, complex):
            return gast.Constant(value=0.0, kind=None)
        return _call(_attr(_name(self.rt), "tangent_zeros"), _name(name))

    def tangent_of(self, atom, output=False):
        """The tangent of an atom as an expression (materialized zeros when inactive; of a
        returned value, typed like it: ``runtime.output_zeros``)."""
        if self.active(atom):
            return _name(self.tan(atom.id))
        return _call(_attr(_name(self.rt), "output_zeros" if output else "zeros_like"),
                     copy.deepcopy(atom))

    def error(self, stmt, message, hint, cls=NoRuleError, node=None):
        """A located error: at ``node`` (a call in ``stmt``) when it has a position, in the
        file the statement came from (a helper's own file for inlined code)."""
        src = getattr(stmt, "srcad_source", None) or self.src
        at = node if getattr(node, "col_offset", None) is not None else stmt
        return cls(message, src.location(at), hint)

    # -- statements ------------------------------------------------------------------------------
    def block(self, stmts) -> list:
        out = []
        for stmt in stmts:
            code = self.stmt(stmt)
            for s in code:
                if getattr(s, "lineno", None) is None:
                    s.lineno = getattr(stmt, "lineno", None)
            out.extend(code)
        return out

    def stmt(self, stmt) -> list:
        if isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            if isinstance(target, gast.Subscript):
                return self.setitem(stmt)
            return self.assign(stmt)
        if is_primal_only(stmt):              # assert, raise, print: once, no tangent
            return [stmt]
        if isinstance(stmt, gast.Expr):       # lst.append(v)
            call = stmt.value
            lst = call.func.value.id
            out = [stmt]
            if self.act.is_active(lst):
                out.append(gast.Expr(value=_call(_attr(_name(self.tan(lst)), "append"),
                                                 self.tangent_of(call.args[0]))))
                mark_derivative(out[1:])
            return out
        if isinstance(stmt, gast.If):
            stmt.body = self.block(stmt.body) or [gast.Pass()]
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (gast.For, gast.While)):
            stmt.body = self.block(stmt.body) or [gast.Pass()]
            return [stmt]
        return [stmt]

    def setitem(self, stmt) -> list:
        target = stmt.targets[0]
        name = target.value.id
        if not self.act.is_active(name):
            return [stmt]
        value = self.tangent_of(stmt.value) if self.active(stmt.value) else \
            gast.Constant(value=0.0, kind=None)
        tangent = _assign(gast.Subscript(value=_name(self.tan(name)),
                                         slice=copy.deepcopy(target.slice), ctx=gast.Store()),
                          value)
        mark_derivative([tangent])
        return [stmt, tangent]

    def assign(self, stmt) -> list:
        target = stmt.targets[0]
        outs = [e.id for e in target.elts] if isinstance(target, gast.Tuple) else [target.id]
        if not any(self.act.is_active(o) for o in outs):
            return [stmt]
        value = stmt.value
        pre, post = [], []
        old = {}
        for o in outs:
            if o in _loads(value):       # x = f(x): the tangent reads the old x
                old[o] = self.namer.fresh(o.lstrip("_") + "_prev")
                pre.append(_assign(old[o], _name(o)))
        code, defined = self.tangents(stmt, outs, value, old)
        for o in outs:
            if self.act.is_active(o) and o not in defined:
                self.known_zero(o, True)
                post.append(_assign(self.tan(o), self.zeros(o, value)))
        mark_derivative(code + post)
        return pre + [stmt] + code + post

    def tangents(self, stmt, outs, value, old):
        """(statements, outputs whose tangent they define); other outputs get zeros."""
        def own(o, expr):
            """``expr``, copied where the tangent would share memory that a write into an
            array reaches while the primal value is an array of its own (``dv1 = dv0`` for
            ``v1 = v0 + 0.0`` before ``v0[2] = ...``), or where a tangent written into may
            be a read-only broadcast view (``broadcast_like(-dx, a1)`` for ``a1 -= -x``)."""
            shared = shares(expr, self.np)
            reached, todo = set(), list(shared)     # and what those tangents are views of
            while todo:
                n = todo.pop()
                if n not in reached:
                    reached.add(n)
                    todo += self.views.get(n, ())
            if (o in self.mutated and (isinstance(expr, gast.Name) or may_broadcast(
                    expr, self.np))) or (shared and (
                    o in self.mutated or reached & written) and not shares(value, self.np)):
                expr = _call(_attr(_name(self.np), "copy"), expr)
            self.views[self.tan(o)] = shares(expr, self.np)
            return expr

        written = {self.tan(n) for n in self.mutated}

        popped = getattr(value, "srcad_pop", None)
        if popped is not None:                 # v = lst.pop()
            if not self.act.is_active(popped):
                return [], set()
            return [_assign(self.tan(outs[0]), _call(_attr(_name(self.tan(popped)), "pop")))], \
                {outs[0]}
        if isinstance(value, gast.Name):
            if self.active(value):
                src = old.get(value.id)
                expr = _name(self.tan(value.id)) if src is None else _name(self.tan(value.id))
                return [_assign(self.tan(outs[0]), own(outs[0], expr))], {outs[0]}
            return [], set()
        if isinstance(value, (gast.List, gast.Tuple)):
            if not any(self.active(e) for e in value.elts):
                return [], set()
            elts = [self.tangent_of(e) for e in value.elts]
            return [_assign(self.tan(outs[0]), type(value)(elts=elts, ctx=gast.Load()))], \
                {outs[0]}
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and any(
                isinstance(v, gast.Name) and v.id in self.lists for v in (value.left, value.right)):
            # xs + ys concatenates lists: so do their tangents
            return [_assign(self.tan(outs[0]), gast.BinOp(
                left=self.tangent_of(value.left), op=gast.Add(),
                right=self.tangent_of(value.right)))], {outs[0]}
        call = primitive_call(value)
        if call is None or call[0] is None:
            return [], set()
        prim, args, kwargs = call
        if not any(self.active(a) or (isinstance(a, gast.Tuple) and any(
                self.active(e) for e in a.elts)) for a in list(args) + list(kwargs.values())):
            return [], set()
        rule = getattr(value, "srcad_rule", None) or registry.lookup(prim)  # complex_values
        if rule is not None and rule.nondiff:
            return [], set()
        if rule is None or rule.tangent is None:
            name = registry.primitive_name(prim)
            raise self.error(stmt, f"no tangent (forward-mode) rule for {name}",
                             f"Register one: {registry.rule_recipe(prim, 'tangent')}; or use "
                             "mode='reverse'.", node=value)
        template = template_for(rule, "tangent", [self.active(a) for a in args])
        binding = bind(self, stmt, prim, template, args, kwargs, outs)
        outputs = dict(zip(template.outputs, outs))
        for pname, o in outputs.items():
            binding[pname] = _name(o)
        inputs = {}
        for pname, bound in list(binding.items()):
            if pname in outputs:
                continue
            inputs[pname] = bound
            if old:
                bound = copy.deepcopy(bound)
                for n in gast.walk(bound):
                    if isinstance(n, gast.Name) and n.id in old:
                        n.id = old[n.id]
                binding[pname] = bound

        covered = set()

        def resolve_d(param, store):
            if param in outputs:
                o = outputs[param]
                if store:
                    node = _name(self.tan(o), gast.Store())
                    node.srcad_output = o
                    return node
                return make_zero(_name(o))
            bound = inputs.get(param)
            if store:
                return None
            covered.add(param)
            if self.active(bound):
                return _name(self.tan(bound.id))
            if isinstance(bound, gast.Tuple) and any(self.active(e) for e in bound.elts):
                return gast.Tuple(elts=[self.tangent_of(e) for e in bound.elts],
                                  ctx=gast.Load())
            return make_zero(binding.get(param, bound))

        body = template.instantiate(binding, resolve_d, self.namer.fresh, self.ref)
        check_coverage(self, stmt, prim, template, inputs, covered, value, "tangent")
        body = simplify_zeros(body, self.linear_helper, self.materialize)
        operands = list(args) + list(kwargs.values())
        mark_broadcasts(body, prim, rule, operands, outs,
                        [a for a in operands if self.active(a)])
        body = [self.simplify(s) for s in body]
        defined: set = set()
        code = self.finish(body, own, defined)
        return code, defined

    def finish(self, stmts, own, defined: set) -> list:
        """An instantiated tangent rule's statements for ``tangents``: inactive outputs'
        dropped, zeros materialized, values owned (``own``), the outputs defined added to
        ``defined`` (a method, not a closure calling itself: that is a reference cycle,
        which kept the transformer and its trees alive until the garbage collector ran)."""
        out = []
        for st in stmts:
            if isinstance(st, gast.If):       # a runtime test in the template
                st.body = self.finish(st.body, own, defined) or [gast.Pass()]
                st.orelse = self.finish(st.orelse, own, defined)
                out.append(st)
                continue
            tgt = st.targets[0] if isinstance(st, gast.Assign) else None
            o = getattr(tgt, "srcad_output", None)
            if o is not None:
                if not self.act.is_active(o):
                    continue
                self.known_zero(o, is_zero(st.value))
                if is_zero(st.value):
                    st.value = self.zeros(o)
                st.value = own(o, st.value)
                defined.add(o)
            out.append(st)
        return out

    # runtime helpers linear in their first argument whose other arguments only give a shape,
    # an axis or a dtype (cov_rows, linear in all its arrays, is not one of them)
    _ZERO_PRESERVING = frozenset({"unbroadcast", "broadcast_like", "expand_reduced", "astype"})

    def linear_helper(self, func) -> bool:
        """Does ``func`` map a zero tangent to zero: a runtime helper linear in its first
        argument, the others only shapes (``expand_reduced(0, x, ...)``)?"""
        root, _, helper = _dotted(func).rpartition(".")
        return root == self.rt and helper in self._ZERO_PRESERVING

    def materialize(self, zero):
        # tangent_zeros: a rule may write into it (add_at's buffer), and in a batched sweep
        # it must then be a batch of zeros
        return _call(_attr(_name(self.rt), "tangent_zeros"), zero.zero_of)

    # -- the whole function ----------------------------------------------------------------------
    def run(self):
        fdef = self.p.node
        ret = fdef.body[-1]
        if not isinstance(ret, gast.Return):
            raise self.error(ret, "the function must end with a return statement",
                             "Return the value to differentiate at the end.", SrcadSyntaxError)
        body = self.block(fdef.body[:-1])
        # a parameter written in place: its tangent is written too, never the caller's array
        copies = [_assign(self.tan(n), _call(_attr(_name(self.np), "copy"), _name(self.tan(n))))
                  for n in self.wrt if n in self.mutated and self.act.is_active(n)]
        # a parameter outside wrt that becomes active (an active value written into it, or
        # assigned to it in a loop, where its first read is still the argument): its tangent
        # starts 0
        copies += [_assign(self.tan(n), self.zeros(n)) for n in self.p.params
                   if n not in self.wrt and self.act.is_active(n)]
        if self.seeded:           # grad of a function of one number: its tangent is 1.0
            copies = [_assign(self.tan(n), gast.Constant(value=1.0, kind=None))
                      for n in self.wrt] + copies
        mark_derivative(copies)
        body = copies + body
        result = ret.value
        atoms = result.elts if isinstance(result, gast.Tuple) else [result]
        tangents = [self.tangent_of(a, output=True) for a in atoms]
        out = tangents[0] if not isinstance(result, gast.Tuple) else gast.Tuple(
            elts=tangents, ctx=gast.Load())
        if self.preserve_result:
            out = gast.Tuple(elts=[copy.deepcopy(result), out], ctx=gast.Load())
        new = copy.copy(fdef)
        new.args = copy.deepcopy(fdef.args)
        # def dloss_dw_fwd(w, X, y, dw): one tangent per wrt argument after the arguments
        # (keyword-only when the function has defaults or keyword-only parameters)
        tangent_params = [] if self.seeded else [_name(self.tan(n), gast.Param())
                                                 for n in self.wrt]
        if tangent_params and (new.args.defaults or new.args.kwonlyargs):
            new.args.kwonlyargs = list(new.args.kwonlyargs) + tangent_params
            new.args.kw_defaults = list(new.args.kw_defaults) + [None] * len(tangent_params)
            new.srcad_extra = [p.id for p in tangent_params]
        else:
            new.args.args = list(new.args.args) + tangent_params
            new.srcad_extra = []
        ret = gast.Return(value=out)
        ret.srcad_derivative = not self.preserve_result     # tangents only
        new.body = body + [ret]
        new.returns = None
        return new


def forward(program, wrt, act, preserve_result=False, shapes=None, seeded=False):
    """Build the forward-mode (JVP) FunctionDef of a normalized program: one tangent
    parameter per ``wrt`` argument, after the arguments; ``seeded``: none, each tangent is
    1.0 (the derivative of a function of one number, ``api._one_tangent``)."""
    return _Forward(program, wrt, act, preserve_result, shapes or {}, seeded).run()
