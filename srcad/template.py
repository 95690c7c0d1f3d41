"""The template language: parse a rule once, bind it to a call site, instantiate it as gast.

A template is an ordinary Python function whose body is the rule::

    @adjoint(np.tanh)
    def tanh(y, x):
        d[x] = d[y] * (1.0 - y * y)

Its leading parameters name the primitive's outputs (``outputs=`` in the decorator, 1 by
default); the rest are the primitive's own parameters, with the defaults srcad applies. A call
site is bound to that signature, so a keyword the template does not list is an error.

Inside the body:

* ``d[x]`` is the derivative of ``x``: the adjoint in reverse mode, the tangent in forward mode.
  ``d[x] = e`` in an adjoint template *contributes* ``e`` to the adjoint of input ``x`` (the
  transformer turns the first contribution into an assignment and later ones into additions,
  and drops it when ``x`` is not active). ``d[x][index] += e`` contributes sparsely (into the
  elements ``index`` of a buffer shaped like ``x``). In a tangent template ``d[y] = e`` defines
  the tangent of output ``y``; reading ``d[x]`` of an input without a tangent yields a symbolic
  zero that is simplified away (``0 * a -> 0``, ``a + 0 -> a``). An adjoint template reads
  ``d[...]`` only of outputs, a tangent template only of inputs (``check_derivative_reads``).
* Parameters are replaced by the call site's atoms (names or constants); local names become
  fresh temporaries; global names (``np``, ``math``, runtime helpers) are resolved through the
  namespace of the generated function.
* ``if`` statements and conditional expressions whose test is static after binding (for example
  ``if axis is None:``, or ``isinstance(x2, (int, float))`` for a literal ``x2``) are folded
  away at instantiation, so the generated code has no branch.
* A parameter used as a subscript (``a[index]``) is substituted in subscript form; anywhere
  else it is substituted as a value (``slice(1, None)``, ``Ellipsis``).
"""
from __future__ import annotations

import inspect
import textwrap
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import gast

from . import parsing
from .nodes import Transformer, _CHILD_FIELDS, _child_fields

__all__ = ["d", "Template", "TemplateBindError", "parse_template", "formula_template",
           "ZERO", "is_zero", "make_zero", "simplify_zeros", "constant_node", "is_static"]


class _DerivativeMarker:
    """``d`` in templates: never evaluated, only read by the template parser."""

    def __getitem__(self, item: Any) -> Any:  # pragma: no cover - templates are not executed
        raise RuntimeError("srcad templates are instantiated, not executed")

    def __setitem__(self, item: Any, value: Any) -> None:  # pragma: no cover - neither
        self.__getitem__(item)      # raises the same error


d = _DerivativeMarker()

ZERO = "__srcad_zero__"


class TemplateBindError(Exception):
    """A call site does not fit a template's signature (message is user-facing)."""


def make_zero(primal: gast.expr | None) -> gast.Name:
    node = gast.Name(id=ZERO, ctx=gast.Load(), annotation=None, type_comment=None)
    node.zero_of = primal
    return node


def is_zero(node) -> bool:
    return isinstance(node, gast.Name) and node.id == ZERO


def constant_node(value: Any) -> gast.expr:
    """A gast literal for a simple Python value (None, bool, numbers, str, tuples of those)."""
    if isinstance(value, tuple):
        return gast.Tuple(elts=[constant_node(v) for v in value], ctx=gast.Load())
    if isinstance(value, float) and value < 0 or isinstance(value, int) and not isinstance(
            value, bool) and value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


def static_value(node):
    """The Python value of a node that is static (a literal), else raise ValueError."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        v = static_value(node.operand)
        return -v if isinstance(node.op, gast.USub) else +v
    if isinstance(node, gast.Tuple):
        return tuple(static_value(e) for e in node.elts)
    raise ValueError("not static")


def is_static(node) -> bool:
    try:
        static_value(node)
    except ValueError:
        return False
    return True


@dataclass
class Template:
    """A parsed rule: output names, input signature and body, ready to be instantiated."""

    name: str
    outputs: tuple[str, ...]
    signature: inspect.Signature
    body: list
    globals: dict
    origin: str = "<template>"
    local_names: frozenset = field(default_factory=frozenset)
    user: bool = False      # registered by a user: it must give every active input a derivative

    # -- binding ----------------------------------------------------------------------------
    def bind(self, args: list, keywords: dict, primitive_name: str) -> dict:
        """Map the template's input parameters to call-site expressions (defaults as literals)."""
        try:
            bound = self.signature.bind(*args, **keywords)
        except TypeError as exc:
            params = ", ".join(str(p) for p in self.signature.parameters.values())
            raise TemplateBindError(
                f"srcad differentiates {primitive_name}({params}); this call does not fit: "
                f"{exc}") from None
        result = {}
        for pname, param in self.signature.parameters.items():
            if pname in bound.arguments:
                value = bound.arguments[pname]
                if param.kind is param.VAR_POSITIONAL:
                    value = gast.Tuple(elts=list(value), ctx=gast.Load())
                result[pname] = value
            elif param.default is not param.empty:
                result[pname] = constant_node(param.default)
            elif param.kind is param.VAR_POSITIONAL:
                result[pname] = gast.Tuple(elts=[], ctx=gast.Load())
        return result

    # -- instantiation ------------------------------------------------------------------------
    def instantiate(self, binding: dict, resolve_d: Callable, fresh: Callable[[str], str],
                    ref: Callable[[Any, str], str]) -> list:
        """Return the body as gast statements for one call site.

        binding:   parameter (outputs included) -> gast expression.
        resolve_d: (parameter, store) -> gast expression for ``d[parameter]``; for a store it
                   may return None, which drops the statement (input not active).
        fresh:     template local name -> unique name in the generated function.
        ref:       (object, preferred name) -> name bound to object in the generated code.
        """
        renames = {name: fresh(name) for name in sorted(self.local_names)}
        out = []
        for stmt in self.body:      # copied as it is instantiated: the body stays as parsed
            out.extend(_Instantiator(self, binding, resolve_d, renames, ref).run(stmt))
        return out


class _Instantiator(Transformer):
    """The template's statements bound to one call site, as new nodes: every visit returns
    a copy (``generic_visit``: the node's class and extra attributes, its children visited,
    its contexts and operators cloned), so the template is never changed and never cloned
    whole first."""

    def __init__(self, template, binding, resolve_d, renames, ref):
        self.t = template
        self.binding = binding
        self.resolve_d = resolve_d
        self.renames = renames
        self.ref = ref

    def run(self, stmt):
        # Stores into d[...] are handled here; everything else by the visitor.
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _is_d(stmt.targets[0]):
            target = self.resolve_d(_d_param(stmt.targets[0]), True)
            if target is None:
                return []
            value = self.visit(stmt.value)
            new = gast.Assign(targets=[target], value=value, type_comment=None)
            new.srcad_contrib = _d_param(stmt.targets[0])
            return [new]
        if (isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add)
                and isinstance(stmt.target, gast.Subscript) and _is_d(stmt.target.value)):
            target = self.resolve_d(_d_param(stmt.target.value), True)
            if target is None:
                return []
            new = gast.AugAssign(target=gast.Subscript(value=target,
                                                       slice=self._subscript(stmt.target.slice),
                                                       ctx=gast.Store()),
                                 op=gast.Add(), value=self.visit(stmt.value))
            new.srcad_contrib = _d_param(stmt.target.value)
            new.srcad_sparse = True
            return [new]
        if isinstance(stmt, gast.If):
            test = self.visit(stmt.test)
            folded = _fold_test(test)
            if folded is not None:
                result = []
                for s in (stmt.body if folded else stmt.orelse):
                    result.extend(self.run(s))
                return result
            new = _shallow(stmt)
            new.test = test
            new.body = [n for s in stmt.body for n in self.run(s)] or [gast.Pass()]
            new.orelse = [n for s in stmt.orelse for n in self.run(s)]
            return [new]
        return [self.visit(stmt)]

    def generic_visit(self, node):
        new = _shallow(node)
        fields = _CHILD_FIELDS.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        AST = gast.AST
        for key, value in node.__dict__.items():      # contexts, operators: leaves, cloned
            if key not in fields and (value.__class__ is list or isinstance(value, AST)):
                new.__dict__[key] = clone(value)
        for field in fields:
            old = getattr(node, field, None)
            if isinstance(old, list):
                new.__dict__[field] = self.visit_list(old)
            elif isinstance(old, AST):
                value = self.visit(old)
                if value is None:
                    delattr(new, field)
                else:
                    new.__dict__[field] = value
        return new

    def _subscript(self, node):
        if isinstance(node, gast.Name) and node.id in self.binding:
            return clone(self.binding[node.id])
        return self.visit(node)

    def visit_Subscript(self, node):
        if _is_d(node):
            return self.resolve_d(_d_param(node), False)
        new = _shallow(node)
        new.value = self.visit(node.value)
        new.slice = self._subscript(node.slice)
        new.ctx = clone(node.ctx)
        return new

    def visit_IfExp(self, node):
        node = self.generic_visit(node)
        folded = _fold_test(node.test)
        if folded is None:
            return node
        return node.body if folded else node.orelse

    def visit_Name(self, node):
        name = node.id
        if name in self.binding:
            return as_value(clone(self.binding[name]))
        if name in self.renames:
            return gast.Name(id=self.renames[name], ctx=node.ctx, annotation=None,
                             type_comment=None)
        if name in self.t.globals:
            return gast.Name(id=self.ref(self.t.globals[name], name), ctx=node.ctx,
                             annotation=None, type_comment=None)
        import builtins
        if hasattr(builtins, name):
            return clone(node)
        raise NameError(f"template {self.t.origin}: unknown name {name!r}")

    def visit_Attribute(self, node):
        # np.linalg.inv in a template: resolve the whole dotted chain at once when possible.
        return self.generic_visit(node)


def clone(node):
    """A deep copy of a gast tree (or list of trees), with the nodes' extra attributes
    (``lineno``, srcad's tags) carried over by reference: several times faster than
    ``copy.deepcopy`` on the small trees templates are made of."""
    if isinstance(node, list):
        return [clone(n) for n in node]
    if not isinstance(node, gast.AST):
        return node
    new = node.__class__.__new__(node.__class__)
    for key, value in node.__dict__.items():
        if isinstance(value, list):
            value = [clone(v) for v in value]
        elif isinstance(value, gast.AST):
            value = clone(value)
        new.__dict__[key] = value
    return new


def _shallow(node):
    """A new node of ``node``'s class with the same attributes (fields included, shared)."""
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update(node.__dict__)
    return new


def as_value(node):
    """An index expression in value form: slices become ``slice(...)`` calls."""
    if isinstance(node, gast.Slice):
        if node.step is not None:
            parts = [node.lower, node.upper, node.step]
        elif node.lower is not None:
            parts = [node.lower, node.upper]
        else:
            parts = [node.upper]          # slice(stop)
        args = [p if p is not None else gast.Constant(value=None, kind=None) for p in parts]
        return gast.Call(func=gast.Name(id="slice", ctx=gast.Load(), annotation=None,
                                        type_comment=None), args=args, keywords=[])
    if isinstance(node, gast.Tuple):
        node.elts = [as_value(e) for e in node.elts]
    return node


def _is_d(node) -> bool:
    return (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name)
            and node.value.id == "d" and isinstance(node.slice, gast.Name))


def _d_param(node) -> str:
    return node.slice.id


def _fold_test(test):
    """True/False when the test is static after binding, else None."""
    try:
        if isinstance(test, gast.Compare) and len(test.ops) == 1:
            left, right = static_value(test.left), static_value(test.comparators[0])
            op = test.ops[0]
            table = {gast.Is: lambda a, b: a is b, gast.IsNot: lambda a, b: a is not b,
                     gast.Eq: lambda a, b: a == b, gast.NotEq: lambda a, b: a != b,
                     gast.Lt: lambda a, b: a < b, gast.Gt: lambda a, b: a > b,
                     gast.LtE: lambda a, b: a <= b, gast.GtE: lambda a, b: a >= b}
            return bool(table[type(op)](left, right))
        if isinstance(test, gast.Compare) and len(test.ops) == 1 and isinstance(
                test.ops[0], (gast.Is, gast.IsNot)):
            return None
        if isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
            inner = _fold_test(test.operand)
            return None if inner is None else not inner
        if isinstance(test, gast.BoolOp):
            values = [_fold_test(v) for v in test.values]
            if isinstance(test.op, gast.And):
                if any(v is False for v in values):
                    return False
                return True if all(v is True for v in values) else None
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        if isinstance(test, gast.Call) and isinstance(test.func, gast.Name) and \
                test.func.id == "isinstance" and len(test.args) == 2 and is_static(test.args[0]):
            kinds = test.args[1].elts if isinstance(test.args[1], gast.Tuple) else [test.args[1]]
            return isinstance(static_value(test.args[0]), tuple(_TYPES[k.id] for k in kinds))
        return bool(static_value(test))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


_TYPES = {"int": int, "float": float, "bool": bool, "complex": complex, "str": str}


# -- parsing --------------------------------------------------------------------------------

def _locals_of(body) -> frozenset:
    names = set()
    for stmt in body:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                names.add(node.id)
    return frozenset(names)


class _OnUse(Template):
    """A rule whose body is parsed the first time a build reads it (the registry holds
    hundreds; a process uses a few): name, outputs, signature and origin are known at once,
    ``body`` and ``local_names`` on first access (``_parse``); a subclass may leave
    ``signature`` to ``_signature``, taken on first access too."""

    def __getattr__(self, attr):
        if attr == "signature":
            self.__dict__["signature"] = self._signature()
            return self.__dict__["signature"]
        if attr not in ("body", "local_names"):
            raise AttributeError(attr)
        with _PARSING:
            if "body" not in self.__dict__:
                parsed = self._parse()
                self.__dict__.update(local_names=parsed.local_names, body=parsed.body)
        return self.__dict__[attr]

    def _signature(self) -> inspect.Signature:
        raise AttributeError("signature")

    def _parse(self) -> Template:
        raise NotImplementedError

    def fingerprint(self) -> bytes:
        """What identifies the template's text without parsing it (the rule tables' digest)."""
        raise NotImplementedError


class _ParsedOnUse(_OnUse):
    """A template function's rule, parsed on first use."""

    def __init__(self, fn: Callable, outputs: int,
                 kind: str | None = None):    # not the dataclass's: nothing parsed
        code = getattr(fn, "__code__", None)
        if code is not None and outputs <= code.co_argcount and \
                getattr(fn, "__signature__", None) is None and \
                getattr(fn, "__wrapped__", None) is None:
            self.outputs = code.co_varnames[:outputs]    # the first positional parameters
        else:                                            # as inspect.signature names them
            params = list(inspect.signature(fn).parameters.values())
            if len(params) < outputs:
                raise TypeError(f"template {fn.__qualname__} must name its {outputs} "
                                "output(s) first")
            self.outputs = tuple(p.name for p in params[:outputs])
        self.name, self.globals, self.user = fn.__name__, fn.__globals__, False
        self.origin = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
        self._fn, self._kind = fn, kind

    def _signature(self) -> inspect.Signature:
        params = list(inspect.signature(self._fn).parameters.values())
        return inspect.Signature(params[len(self.outputs):])

    def _parse(self) -> Template:
        parsed = _parsed(self._fn, len(self.outputs))
        if self._kind is not None:
            check_derivative_reads(parsed, self._kind, self._fn)
        return parsed

    def fingerprint(self) -> bytes:
        code = self._fn.__code__
        return code.co_code + repr((code.co_consts, code.co_names)).encode()


class _FormulaOnUse(_OnUse):
    """A rule from source text (the elementwise formula tables), parsed on first use."""

    def __init__(self, name: str, outputs: tuple, params: list, statements: str,
                 namespace: dict, origin: str):
        self.name, self.globals, self.user, self.origin = name, namespace, False, origin
        self.outputs = tuple(outputs)
        self.signature = inspect.Signature([
            inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])
        self._params, self._text = tuple(params), textwrap.dedent(statements)

    def _parse(self) -> Template:
        body = parsing.parse_gast(self._text).body
        return Template(name=self.name, outputs=self.outputs, signature=self.signature,
                        body=body, globals=self.globals, origin=self.origin,
                        local_names=_locals_of(body) - set(self._params) - set(self.outputs))

    def fingerprint(self) -> bytes:
        return repr((self.name, self.outputs, self._params, self._text)).encode()


_PARSING = threading.RLock()    # re-entered: a derived rule parses its original


def parse_template(fn: Callable, outputs: int = 1, kind: str | None = None) -> Template:
    """A template function's rule, parsed when a build first reads its body; ``kind``
    (``"adjoint"`` or ``"tangent"``) has its reads of ``d[...]`` checked then."""
    return _ParsedOnUse(fn, outputs, kind)


def check_derivative_reads(template: Template, kind: str, fn: Callable) -> None:
    """Refuse a rule that reads a derivative it does not receive. An adjoint template receives
    the adjoints of its outputs: ``d[x] = e`` of an input only *contributes* ``e`` (the total is
    summed elsewhere), so reading ``d[x]`` back is meaningless. A tangent template receives the
    tangents of its inputs; reading ``d[y]`` of an output it has defined would be read as a zero
    by the instantiation (a silent wrong answer), so it is refused with the line and the fix."""
    outputs = set(template.outputs)
    contributed = set()                 # ``d[x][i] += e``: its inner ``d[x]`` is a store
    for node in gast.walk(gast.Module(body=template.body, type_ignores=[])):
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Subscript):
            contributed.add(id(node.target.value))
    for node in gast.walk(gast.Module(body=template.body, type_ignores=[])):
        if not (_is_d(node)
                and isinstance(node.ctx, gast.Load)) or id(node) in contributed:
            continue
        param = _d_param(node)
        wrong = param not in outputs if kind == "adjoint" else param in outputs
        if not wrong:
            continue
        from .errors import Location, SrcadSyntaxError
        code = fn.__code__
        where = Location(code.co_filename, code.co_firstlineno + node.lineno - 1,
                         node.col_offset)
        if kind == "adjoint":
            message = (f"adjoint template {template.name} reads d[{param}], the adjoint of its "
                       f"input {param}")
            hint = (f"An adjoint template reads only the adjoints of the outputs "
                    f"({', '.join(template.outputs)}); `d[{param}] = e` contributes e to the "
                    f"input's adjoint. Keep e in a local (g = e; d[{param}] = g) and read g.")
        else:
            message = (f"tangent template {template.name} reads d[{param}], the tangent of its "
                       f"output {param}")
            hint = (f"A tangent template reads only the tangents of its inputs. Keep the "
                    f"tangent in a local (t = ...; d[{param}] = t) and read t.")
        raise SrcadSyntaxError(message, where, hint)


def _parsed(fn: Callable, outputs: int = 1) -> Template:
    """Parse a template function, refusing source text that is not the code that runs (a
    rules file edited, or srcad upgraded in place, after it was imported: the lines read
    would be another rule's)."""
    source = textwrap.dedent(inspect.getsource(fn))
    from .source import _runs
    if not _runs(fn.__code__, source):
        from .errors import Location, SrcadError
        raise SrcadError(f"the rule {fn.__qualname__} on file is not the code that runs (its "
                         "file changed after it was imported)",
                         Location(fn.__code__.co_filename, fn.__code__.co_firstlineno),
                         "Restart Python (srcad reads a rule's text when it first uses it).")
    tree = parsing.parse_gast(source)
    fdef = tree.body[0]
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    if len(params) < outputs:
        raise TypeError(f"template {fn.__qualname__} must name its {outputs} output(s) first")
    out_names = tuple(p.name for p in params[:outputs])
    inputs = inspect.Signature(params[outputs:])
    body = [s for s in fdef.body
            if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
    origin = f"{inspect.getsourcefile(fn)}:{fn.__code__.co_firstlineno}"
    param_names = set(sig.parameters)
    return Template(name=fn.__name__, outputs=out_names, signature=inputs, body=body,
                    globals=fn.__globals__, origin=origin,
                    local_names=_locals_of(body) - param_names)


def formula_template(name: str, outputs: tuple, params: list, statements: str,
                     namespace: dict, origin: str) -> Template:
    """A template from source text (used by the elementwise formula tables), parsed when a
    build first reads its body."""
    return _FormulaOnUse(name, outputs, params, statements, namespace, origin)


# -- symbolic zeros -------------------------------------------------------------------------

class _ZeroSimplifier(Transformer):
    """Propagate symbolic zeros: a * 0 -> 0, a + 0 -> a, f_linear(0, ...) -> 0."""

    def __init__(self, linear: Callable[[gast.expr], bool], materialize: Callable):
        self.linear = linear
        self.materialize = materialize
        self.zero_locals: dict = {}       # template locals assigned a symbolic zero

    def visit_BinOp(self, node):
        self.generic_visit(node)
        lz, rz = is_zero(node.left), is_zero(node.right)
        if isinstance(node.op, gast.Add):
            if lz and rz:
                return node.left
            if lz:
                return node.right
            if rz:
                return node.left
        elif isinstance(node.op, gast.Sub):
            if rz:
                return node.left
            if lz:
                return gast.UnaryOp(op=gast.USub(), operand=node.right)
        elif isinstance(node.op, gast.MatMult) and (lz or rz):
            # a @ 0 is a zero shaped like a @ primal, not like the primal of the zero
            left = node.left.zero_of if lz else node.left
            right = node.right.zero_of if rz else node.right
            return make_zero(None if left is None or right is None else gast.BinOp(
                left=clone(left), op=gast.MatMult(), right=clone(right)))
        elif isinstance(node.op, gast.Mult):
            if lz:
                return node.left
            if rz:
                return node.right
        elif isinstance(node.op, (gast.Div, gast.FloorDiv, gast.Mod)):
            if lz:
                return node.left
        if lz:
            node.left = self.materialize(node.left)
        if rz:
            node.right = self.materialize(node.right)
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if is_zero(node.value):           # 0[index] -> 0, shaped like primal[index]
            primal = node.value.zero_of
            return make_zero(None if primal is None else gast.Subscript(
                value=clone(primal), slice=clone(node.slice), ctx=gast.Load()))
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if not is_zero(node.value):
            return node
        if node.attr in ("T", "mT"):      # 0.T -> 0, shaped like primal.T
            primal = node.value.zero_of
            return make_zero(None if primal is None else gast.Attribute(
                value=clone(primal), attr=node.attr, ctx=gast.Load()))
        node.value = self.materialize(node.value)       # 0.shape, 0.real: of an array
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)       # a zero branch of a choice made at run time is a value
        node.body, node.orelse = [self.materialize(v) if is_zero(v) else v
                                  for v in (node.body, node.orelse)]
        return node

    def visit_Name(self, node):
        zero = self.zero_locals.get(node.id) if isinstance(node.ctx, gast.Load) else None
        return node if zero is None else make_zero(zero.zero_of)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if is_zero(node.operand) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return node.operand
        if is_zero(node.operand):
            node.operand = self.materialize(node.operand)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if node.args and is_zero(node.args[0]) and self.linear(node.func):
            return node.args[0]
        if node.args and is_zero(node.args[0]) and _rearranges(node.func):
            primal = node.args[0].zero_of       # the zero keeps the shape of f(primal)
            return make_zero(None if primal is None else gast.Call(
                func=clone(node.func), args=[clone(primal)] + clone(node.args[1:]),
                keywords=clone(node.keywords)))
        node.args = [self.materialize(a) if is_zero(a) else a for a in node.args]
        for kw in node.keywords:
            if is_zero(kw.value):
                kw.value = self.materialize(kw.value)
        return node

    def generic_visit(self, node):
        fields = _CHILD_FIELDS.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        for fieldname in fields:
            old = getattr(node, fieldname, None)
            if isinstance(old, list):
                new = []
                for item in old:
                    if isinstance(item, gast.AST):
                        item = self.visit(item)
                    new.append(item)
                if not isinstance(node, (gast.Call, gast.BinOp)):
                    new = [self.materialize(v) if is_zero(v) and not isinstance(
                        node, (gast.Assign,)) else v for v in new]
                setattr(node, fieldname, new)
            elif isinstance(old, gast.AST):
                setattr(node, fieldname, self.visit(old))
        return node


# NumPy functions that rearrange their first argument (linear in it): np.f(0, ...) is 0.
# Templates are srcad's own code, so ``np.<name>`` in instantiated rules is NumPy's.
_REARRANGING = frozenset({"swapaxes", "transpose", "moveaxis", "reshape", "expand_dims",
                          "squeeze", "diagonal", "tril", "triu", "ravel"})


def _rearranges(func) -> bool:
    """``np.swapaxes``-like, or one of srcad's runtime helpers linear in their first argument
    (read as ``_srcad.helper`` in instantiated rules)."""
    if isinstance(func, gast.Attribute):
        return (func.attr in _REARRANGING and isinstance(func.value, gast.Name)
                and func.value.id in ("np", "numpy"))
    if isinstance(func, gast.Name) and "." in func.id:
        from . import registry, runtime
        helper = getattr(runtime, func.id.rsplit(".", 1)[1], None)
        rule = registry.lookup(helper) if callable(helper) else None
        return rule is not None and rule.linear
    return False


def simplify_zeros(stmts: list, linear: Callable, materialize: Callable) -> list:
    """Simplify symbolic zeros in instantiated statements.

    A statement whose assigned value simplifies to zero is returned with its value left as the
    zero marker; the caller decides (drop a contribution, record a zero tangent).
    """
    simplifier = _ZeroSimplifier(linear, materialize)
    out = []
    for stmt in stmts:
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            stmt.value = simplifier.visit(stmt.value)
            target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
            if target is not None and _is_template_local(stmt, target):
                # a local of the template that is zero: later reads of it are zero too
                if is_zero(stmt.value):
                    simplifier.zero_locals[target.id] = stmt.value
                    continue
                simplifier.zero_locals.pop(target.id, None)
        else:
            simplifier.zero_locals.clear()      # a runtime branch: locals may be anything
            stmt = simplifier.visit(stmt)
        out.append(stmt)
    return out


def _is_template_local(stmt, target) -> bool:
    """Is ``stmt`` an assignment to a plain local (not a derivative or an output)?"""
    return (isinstance(target, gast.Name) and len(stmt.targets) == 1
            and not hasattr(stmt, "srcad_contrib") and not hasattr(target, "srcad_output"))
