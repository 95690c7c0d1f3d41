"""Complex values: which values of a normalized program may be complex, and what that asks of
its derivative. srcad follows JAX's convention: a cotangent pairs with a tangent as
``Re(ct * t)`` (no conjugation), so holomorphic rules hold as written, the gradient of a real
``f`` of complex ``z`` is ``df/dx - i df/dy``, and the cotangent of a real value is real.

DESIGN

* Knowing a value is complex. A derivative is built for the kinds of its call's arguments
  (``api._kinds``: arrays' dtypes, numbers' types), so the complex parameters are known at
  build time. Besides them the sources are what the code itself says: a complex literal
  (``1j``), a complex type or dtype (``complex``, ``np.complex128``, ``dtype="complex64"``),
  a complex global, closure or default value, and the functions that make complex values
  of real ones (``np.fft``, ``np.linalg.eig``, ``cmath``...). A value may be complex when an
  operand may be, except through ``real_valued`` rules (``np.abs``, ``np.real``,
  comparisons...). The analysis is flow-insensitive, like activity: a name may be complex if
  one of its assignments may be. No source at all: a real build, which this module leaves
  untouched (same code as before complex support).
* A complex build then
  - refuses, with the user's line, every primitive applied to a complex value on the
    derivative's path whose rule is not marked for complex values (registry: ``complex_ok``,
    ``complex=True`` rules), ``np.sign`` included (not constant for complex inputs); a
    primitive of real values keeps its rule, linear in the cotangent with real coefficients;
  - applies a primitive's complex rule where an input may be complex (``np.abs``);
  - keeps real values' cotangents real: where an active real input meets a complex output,
    the rule's contribution to it takes the real part (``np.real(...)`` around it, in a
    copy of the template); where a real value joins complex ones outside a rule (``y = x``,
    ``[x, z]``, ``z[i] = x``, ``lst.append(x)``, ``np.einsum`` operands) it is converted
    first, ``_srcad.to_complex(x)``, whose adjoint then takes the real part; forward mode
    gives a complex array written in place a complex tangent the same way;
  - refuses ``grad`` of an output that may be complex (``vjp`` with a seed instead).
  The rule chosen for a call is left on its node (``srcad_rule``) for the transformers.
* At call time (``api``): tangents have their argument's kind (as in ``jax.jvp``), the seed
  of a real output is real, a real seed of a complex one is made complex, and the
  derivative of a real argument is real.
"""
from __future__ import annotations

import cmath
from dataclasses import dataclass

import gast
import numpy as np

from . import registry, runtime
from .analysis import activity, is_append, list_names, primitive_call, walk, walk_statements
from .errors import NoRuleError, NotDifferentiableError
from .nodes import attr as _attr, call as _call, name as _name
from .source import UNRESOLVED
from .trees import is_complex_value
from .template import Template, TemplateBindError, clone

__all__ = ["Facts", "prepare"]

# NumPy functions whose results are complex for real inputs (besides np.fft and cmath).
_PRODUCERS = (np.linalg.eig, np.linalg.eigvals, np.roots, np.sort_complex, runtime.to_complex)
_NOT_PRODUCERS = ("fftfreq", "rfftfreq", "fftshift", "ifftshift", "irfft", "irfft2", "irfftn",
                  "hfft")            # real outputs (fftshift: complex only for complex input)


@dataclass
class Facts:
    """What a complex build knows: the names that may be complex and, per returned value,
    whether it may be."""

    complex: set
    outputs: tuple


def _complex_dtype_name(s, strict: bool) -> bool:
    """Does the string ``s`` name a complex dtype? ``strict`` where it can only be a dtype
    (``dtype=...``); elsewhere only full names count (``order="F"`` is not complex64)."""
    if not isinstance(s, str):
        return False
    if not strict:
        return s.startswith("complex")
    try:
        return np.dtype(s).kind == "c"
    except TypeError:
        return False


def _produces_complex(fn) -> bool:
    if fn in _PRODUCERS or (isinstance(fn, type) and issubclass(fn, (complex,
                                                                      np.complexfloating))):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module == cmath.__name__ or (module.startswith("numpy.fft") and getattr(
        fn, "__name__", "") not in _NOT_PRODUCERS) or module == "numpy.lib.scimath"


class _Complexity:
    """The names of a program that may hold complex values (see the module docstring)."""

    def __init__(self, program, complex_params):
        self.program = program
        fdef = program.node
        self.locals = set(program.params) | {n.id for n in walk(fdef) if isinstance(
            n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        self.names = set(complex_params) | _complex_defaults(program)
        self.stmts = list(walk_statements(fdef.body))
        self.free: dict = {}          # global or closure name -> is its value complex
        self.update()

    def update(self):
        """Propagate until nothing changes (after more names became complex)."""
        changed = True
        while changed:
            changed = False
            for stmt in self.stmts:
                for target in self.defined(stmt):
                    if target not in self.names:
                        self.names.add(target)
                        changed = True

    def defined(self, stmt) -> list:
        """The names ``stmt`` makes complex, given what is known now."""
        if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0], gast.Subscript):
            target = stmt.targets[0]
            if self.value(stmt.value):
                return [e.id for e in target.elts] if isinstance(target, gast.Tuple) \
                    else [target.id]
        elif is_append(stmt) and self.atom(stmt.value.args[0]):                 # lst.append(v)
            return [stmt.value.func.value.id]
        elif isinstance(stmt, gast.For) and self.atom(stmt.iter):
            return [stmt.target.id]
        return []

    def atom(self, node) -> bool:
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return node.id in self.names
            if node.id not in self.free:
                value = self.program.refs.get(node.id, UNRESOLVED)
                if value is UNRESOLVED:
                    value = self.program.source.namespace.lookup(node.id)
                self.free[node.id] = is_complex_value(value)
            return self.free[node.id]
        if isinstance(node, gast.Constant):
            return isinstance(node.value, complex) or _complex_dtype_name(node.value, False)
        if isinstance(node, gast.Attribute):
            return is_complex_value(self.program.source.namespace.resolve(node))
        if isinstance(node, gast.UnaryOp):
            return self.atom(node.operand)
        if isinstance(node, (gast.Tuple, gast.List)):
            return any(self.atom(e) for e in node.elts)
        return False

    def value(self, value) -> bool:
        """May the right-hand side ``value`` be complex?"""
        if getattr(value, "srcad_pop", None) is not None:
            return value.srcad_pop in self.names
        if getattr(value, "srcad_opaque", False):          # z.shape: real; z.dtype: z's
            return isinstance(value, gast.Attribute) and value.attr == "dtype" and \
                self.atom(value.value)
        if isinstance(value, (gast.Compare, gast.BoolOp)):
            return False
        if isinstance(value, gast.BinOp):
            return self.atom(value.left) or self.atom(value.right)
        if isinstance(value, gast.Subscript):
            return self.atom(value.value)
        if isinstance(value, gast.Call):
            fn = getattr(value, "srcad_callee", None)
            if _produces_complex(fn):
                return True
            rule = registry.lookup(fn)
            if rule is not None and rule.real_valued:
                return False
            strict = fn is runtime.astype
            return any(self.atom(a) or _complex_dtype_name(getattr(a, "value", None), strict)
                       for a in value.args) or any(
                self.atom(k.value) or _complex_dtype_name(getattr(k.value, "value", None),
                                                          k.arg == "dtype")
                for k in value.keywords)
        return self.atom(value)


def _complex_defaults(program) -> set:
    """Parameters whose default value is complex (they are complex when not passed)."""
    fn = program.source.fn
    args = program.node.args
    positional = [a.id for a in args.posonlyargs + args.args]
    defaults = fn.__defaults__ or ()
    out = {n for n, v in zip(positional[len(positional) - len(defaults):], defaults)
           if is_complex_value(v)}
    return out | {n for n, v in (fn.__kwdefaults__ or {}).items() if is_complex_value(v)}


# -- the rules of a complex build ----------------------------------------------------------------

_WRAPPED: dict = {}


def _wrapped(template: Template, params: frozenset, how: str) -> Template:
    """A copy of ``template`` whose contributions ``d[p] = e`` (``d[p][i] += e``) for ``p`` in
    ``params`` are ``how(e)``: ``"real"`` (``np.real(e)``: the adjoint of a real input of a
    complex output) or ``"to_complex"`` (the tangent of a complex array written in place)."""
    key = (id(template), params, how)
    found = _WRAPPED.get(key)
    if found is not None and found[0] is template:
        return found[1]
    namespace = dict(template.globals)
    if how == "real":
        namespace["np"] = np
        func = _attr(_name("np"), "real")
    else:
        namespace["to_complex"] = runtime.to_complex
        func = _name("to_complex")

    def wrap(stmts):
        out = []
        for stmt in clone(stmts):
            if isinstance(stmt, gast.If):
                stmt.body, stmt.orelse = wrap(stmt.body), wrap(stmt.orelse)
            target = getattr(stmt, "targets", [getattr(stmt, "target", None)])[0]
            if isinstance(target, gast.Subscript) and not _is_d(target):
                target = target.value                        # d[p][index] += e
            if _is_d(target) and target.slice.id in params:
                stmt.value = _call(clone(func), stmt.value)
            out.append(stmt)
        return out
    new = Template(template.name, template.outputs, template.signature, wrap(template.body),
                   namespace, template.origin, template.local_names)
    _WRAPPED[key] = (template, new)
    return new


def _is_d(node) -> bool:
    return (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name)
            and node.value.id == "d" and isinstance(node.slice, gast.Name))


class _Builder:
    def __init__(self, program, act, wrt, mode, grad_seed, complexity: _Complexity):
        self.p = program
        self.act = act
        self.wrt = wrt
        self.mode = mode
        self.grad_seed = grad_seed
        self.c = complexity
        self.lists = list_names(program.node)
        self.mutated = {t.value.id for s in complexity.stmts if isinstance(s, gast.Assign)
                        for t in s.targets if isinstance(t, gast.Subscript)}

    def located(self, stmt, node, message, hint, cls=NoRuleError):
        src = getattr(stmt, "srcad_source", None) or self.p.source
        at = node if getattr(node, "col_offset", None) is not None else stmt
        return cls(message, src.location(at), hint)

    def real_active(self, node) -> bool:
        """An active name that is certainly real (its cotangent must stay real)."""
        return isinstance(node, gast.Name) and node.id not in self.c.names and \
            self.act.is_active(node.id)

    # -- real values joining complex ones outside a rule: converted ---------------------------
    def promote_block(self, stmts) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                stmt.body = self.promote_block(stmt.body)
                stmt.orelse = self.promote_block(stmt.orelse)
                out.append(stmt)
                continue
            for atom, put in self.joins(stmt):       # [x, z]: [to_complex(x), z]
                tmp = self.fresh(atom.id + "_c")
                out.append(self.conversion(tmp, atom, stmt))
                put(_name(tmp))
            out.append(stmt)
            out.extend(self.complex_targets(stmt))
        return out

    def fresh(self, base):
        name = self.p.namer.fresh(base.lstrip("_"))
        self.c.names.add(name)
        return name

    def conversion(self, target, atom, stmt):
        """``target = _srcad.to_complex(atom)``, at ``stmt``'s line."""
        call = _call(_attr(_name(self.p.ref(runtime, "_srcad")), "to_complex"),
                     _name(atom.id))
        call.srcad_callee = runtime.to_complex
        gast.copy_location(call, stmt)
        new = gast.Assign(targets=[_name(target, gast.Store())], value=call, type_comment=None)
        for key in ("lineno", "srcad_source"):
            if hasattr(stmt, key):
                setattr(new, key, getattr(stmt, key))
        self.c.stmts.append(new)
        return new

    def complex_targets(self, stmt) -> list:
        """A name that may be complex always holds complex values (its cotangent buffers are
        complex too): where ``stmt`` gives it a real value (``h = x`` before ``h = h * z``
        in a loop), the value is converted. Returns the statements to put after ``stmt``."""
        if not isinstance(stmt, gast.Assign) or isinstance(stmt.targets[0], gast.Subscript) \
                or self.c.value(stmt.value):
            return []
        target = stmt.targets[0]
        elts = target.elts if isinstance(target, gast.Tuple) else [target]
        todo = [e for e in elts if e.id in self.c.names and e.id not in self.lists
                and self.act.is_active(e.id)]
        if not todo:
            return []
        value = stmt.value
        if len(elts) == 1 and isinstance(value, gast.Constant) and type(value.value) in (
                int, float):
            value.value = complex(value.value)                  # acc = 0.0: acc = 0j
            return []
        if len(elts) == 1 and isinstance(value, gast.Name):     # h = x: to_complex(x)
            stmt.value = self.conversion(target.id, value, stmt).value
            return []
        post = []
        for e in todo:                       # h = f(x): _h = f(x); h = to_complex(_h)
            real = self.p.namer.fresh(e.id.lstrip("_") + "_real")
            post.append(self.conversion(e.id, _name(real), stmt))
            e.id = real
        return post

    def joins(self, stmt):
        """Where in ``stmt`` an active real atom joins complex values in a container
        outside a rule: (the atom, a function putting another atom in its place)."""
        def item(seq, i):
            return seq[i], lambda new: seq.__setitem__(i, new)

        if is_append(stmt):                                            # lst.append(v)
            call = stmt.value
            if call.func.value.id in self.c.names and self.real_active(call.args[0]):
                yield item(call.args, 0)
            return
        if not isinstance(stmt, gast.Assign):
            return
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, gast.Subscript):                   # z[i] = v
            if self.real_active(value) and target.value.id in self.c.names:
                yield value, lambda new: setattr(stmt, "value", new)
            elif self.c.atom(value) and target.value.id not in self.c.names and (
                    self.act.is_active(target.value.id)):
                raise self.located(
                    stmt, target, f"writing a complex value into {target.value.id!r}, a real "
                    "array: NumPy would drop its imaginary part", f"Make {target.value.id!r} "
                    "complex where it is created (dtype=complex).", NotDifferentiableError)
            return
        names = [e.id for e in target.elts] if isinstance(target, gast.Tuple) else [target.id]
        if not any(n in self.c.names for n in names):
            return
        if isinstance(value, (gast.List, gast.Tuple)):                         # [x, z]
            for i, e in enumerate(value.elts):
                if self.real_active(e):
                    yield item(value.elts, i)
        elif isinstance(value, gast.Call):                     # np.einsum("...", x, z)
            for i, a in enumerate(value.args):
                if self.real_active(a) and self.vararg(value, i):
                    yield item(value.args, i)

    def vararg(self, call, i) -> bool:
        """Is argument ``i`` of ``call`` bound to the ``*args`` parameter of its rule?"""
        rule = registry.lookup(getattr(call, "srcad_callee", None))
        template = None if rule is None else rule.adjoint or rule.tangent
        if template is None:
            return False
        params = list(template.signature.parameters.values())
        star = [k for k, q in enumerate(params) if q.kind is q.VAR_POSITIONAL]
        return bool(star) and i >= star[0]

    # -- primitives: refused, or their rule for complex values -------------------------------
    def check(self, stmt):
        call = primitive_call(stmt.value)
        if call is None or call[0] is None:
            return
        prim, args, kwargs = call
        rule = registry.lookup(prim)
        if rule is None:
            return                   # the transformers refuse it (no rule)
        atoms = list(args) + list(kwargs.values())
        names = [n.id for a in atoms for n in walk(a) if isinstance(n, gast.Name)]
        target = stmt.targets[0]
        outs = [e.id for e in target.elts] if isinstance(target, gast.Tuple) else [target.id]
        # A complex input asks for the rule for complex values. With real inputs only (the
        # output complex or not) the plain rule holds: it is linear in the cotangent, with
        # real coefficients; the contributions to real inputs take the real part (below).
        complex_in = any(self.c.atom(a) for a in atoms)
        chosen = rule.for_complex() if complex_in else rule
        if rule.nondiff:             # no derivative flows: refused where one should
            if chosen is None and any(o in self.act.useful for o in outs) and any(
                    n in self.act.varied for n in names):
                raise self.refusal(stmt, prim)
            return
        if not (any(self.act.is_active(o) for o in outs)
                and any(self.act.is_active(n) for n in names)):
            return
        if chosen is None:
            raise self.refusal(stmt, prim)
        template = chosen.adjoint if self.mode == "reverse" else chosen.tangent
        if template is None:
            return                   # the transformer says which rule is missing
        if any(o in self.c.names for o in outs):
            template = self.wrap_real_inputs(stmt, prim, template, args, kwargs, outs)
        if template is not (rule.adjoint if self.mode == "reverse" else rule.tangent):
            stmt.value.srcad_rule = registry.Rule(
                prim, template if self.mode == "reverse" else None,
                template if self.mode == "forward" else None, extra=rule.extra)

    def wrap_real_inputs(self, stmt, prim, template, args, kwargs, outs):
        """Reverse: the contributions to real active inputs take the real part. Forward: a
        complex output written in place gets a complex tangent when only real inputs are
        active (``z = x + 1j; z[0] = ...``)."""
        try:
            binding = template.bind(args, kwargs, registry.primitive_name(prim))
        except TemplateBindError:
            return template          # the transformer reports the call
        if self.mode == "reverse":
            real = []
            for param, bound in binding.items():
                if isinstance(bound, gast.Name) and self.real_active(bound):
                    if bound.id in self.lists:
                        raise self.located(
                            stmt, stmt.value, f"the list {bound.id!r} of real values "
                            f"becomes complex in {registry.primitive_name(prim)}",
                            "Make its items complex first (x + 0j).", NotDifferentiableError)
                    real.append(param)
            return _wrapped(template, frozenset(real), "real") if real else template
        active = [n for a in binding.values() for n in walk(a) if isinstance(n, gast.Name)
                  and self.act.is_active(n.id)]
        if prim is runtime.to_complex or any(n.id in self.c.names for n in active) or not any(
                o in self.mutated for o in outs):
            return template
        return _wrapped(template, frozenset(template.outputs), "to_complex")

    def refusal(self, stmt, prim):
        name = registry.primitive_name(prim)
        return self.located(
            stmt, stmt.value, f"srcad has no rule for {name} with complex values yet",
            f"Complex inputs are not supported for {name} yet: take a real part first "
            "(np.real, np.abs), or register a rule that holds for complex values "
            "(docs/templates.md, complex values).")

    def run(self):
        program = self.p
        complex_params = {p for p in program.params if p in self.c.names}
        if program.source.generated and not complex_params <= getattr(
                program.source.fn, "__srcad_complex__", frozenset()):
            raise NotDifferentiableError(
                "differentiating a derivative again at complex arguments: its code was built "
                f"for real {', '.join(sorted(complex_params))}",
                program.source.location(program.source.node),
                "Higher derivatives at complex arguments are not supported yet (through "
                "complex values computed from real arguments they are).")
        fdef = program.node
        fdef.body = self.promote_block(fdef.body)
        self.c.update()
        self.act = activity(fdef, self.wrt)
        for stmt in self.c.stmts:
            if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0],
                                                                 gast.Subscript):
                self.check(stmt)
        ret = fdef.body[-1]
        result = ret.value
        atoms = result.elts if isinstance(result, gast.Tuple) else [result]
        outputs = tuple(self.c.atom(a) for a in atoms)
        if self.mode == "reverse" and self.grad_seed and any(outputs):
            raise self.located(
                ret, result, f"srcad.grad needs a real-valued output, and the output of "
                f"{program.source.fn.__name__} may be complex",
                "Return a real value (np.real, np.abs), or use srcad.vjp / "
                "srcad.autodiff(f, mode='reverse') with a complex seed.",
                NotDifferentiableError)
        return self.act, Facts(self.c.names, outputs)


def prepare(program, act, wrt, mode, grad_seed, complex_params=()):
    """``(activity, Facts)`` for a complex build (its program prepared as the module docstring
    says), ``(act, None)`` for a real one (nothing changed)."""
    complexity = _Complexity(program, complex_params)
    if not complexity.names and not any(complexity.value(s.value) for s in complexity.stmts
                                        if isinstance(s, gast.Assign)):
        return act, None               # a real build
    return _Builder(program, act, wrt, mode, grad_seed, complexity).run()

