"""Rule tables (primitive -> adjoint / tangent template), the decorators that fill them, and the
one-time loading of ``srcad.templates``.

Template modules use::

    from srcad.registry import adjoint, tangent, nondiff, linear, unary, binary, d

* ``@adjoint(p1, p2, ..., outputs=1)`` / ``@tangent(...)``: a template function (see
  ``srcad.template``) registered for every listed primitive.
* ``unary(prims, "derivative in x and y")``: elementwise y = f(x); yields both modes.
* ``binary(prims, "dy/dx1", "dy/dx2")``: elementwise y = f(x1, x2) with broadcasting;
  yields both modes (adjoints unbroadcast, tangents broadcast to y's shape).
* ``linear(p, ...)``: the tangent of a function linear in its first argument is the function
  applied to the tangent (``dy = np.reshape(dx, shape)``); only the adjoint is written by hand.
* ``nondiff(p, ...)``: integer/boolean-valued or constant functions (zeros, argmax, floor,
  comparisons...): their outputs carry no derivative.
* ``elementwise(p, ...)``, ``shape_preserving(p, ...)``: shape facts for the shape analysis
  (the output has the arguments' broadcast shape, or the first argument's shape).

Complex values (JAX's convention: a cotangent pairs with a tangent as ``Re(ct * t)``, no
conjugation). A rule meets complex values only when it is marked for them:

* ``complex_ok(p, ...)``: the rules of ``p`` are right for complex values as written: a
  holomorphic elementwise function (``d[y] * f'(x)``), or a map linear in its arguments
  (sums, reshapes, indexing, products, which use transposes, never conjugates). For a
  ``nondiff`` function the mark is implied (comparisons, shapes, rounding stay constant);
  ``complex_ok(p, ok=False)`` says it is not (``np.sign(z)`` varies with ``z``).
* ``@adjoint(p, complex=True)`` / ``@tangent(p, complex=True)``: the rule srcad uses where an
  input of ``p`` may be complex (``np.abs``), the plain one staying for real inputs. It marks
  ``p`` as ready for complex values: a mode without such a rule uses its plain one.
* ``real_valued(p, ...)``: the output of ``p`` is real even for complex inputs (``np.abs``,
  ``np.real``), which decides where a value may be complex.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
import textwrap
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gast
import numpy as np

from .template import Template, _OnUse, clone, d, formula_template, parse_template
from . import parsing

__all__ = ["adjoint", "tangent", "nondiff", "linear", "unary", "binary", "d", "Rule",
           "complex_ok", "real_valued", "elementwise", "shape_preserving",
           "lookup", "load", "templates_digest", "version", "returns_list", "register_adjoint",
           "register_tangent", "primitive_name", "public_name", "rule_recipe", "derived",
           "Variant", "variant", "variants_of"]


@dataclass
class Rule:
    """Everything srcad knows about one primitive."""

    primitive: Any
    adjoint: Template | None = None
    tangent: Template | None = None
    nondiff: bool = False
    linear: bool = False
    extra: dict = field(default_factory=dict)
    complex_ok: bool | None = None        # None: True for nondiff rules, else False
    real_valued: bool = False             # real outputs even for complex inputs
    complex_adjoint: Template | None = None   # used where an input may be complex
    complex_tangent: Template | None = None

    def __deepcopy__(self, memo):
        return self          # shared, never changed: a copied tree tagged with a rule keeps it

    def for_complex(self) -> Rule | None:
        """The rule to apply where an input may be complex, or None if there is none."""
        if self.complex_adjoint is None and self.complex_tangent is None:
            ok = self.nondiff if self.complex_ok is None else self.complex_ok
            return self if ok else None
        return Rule(self.primitive, self.complex_adjoint or self.adjoint,
                    self.complex_tangent or self.tangent, extra=self.extra, complex_ok=True,
                    real_valued=self.real_valued)


_RULES: dict[Any, Rule] = {}
_BY_ID: dict[int, Rule] = {}
_loaded = False
_loading = False
_LOCK = threading.RLock()   # loading and registrations: other threads never see half a table
_digest = hashlib.sha256()
_version = 0      # bumped by every registration: built derivatives older than it are rebuilt
_watchers: weakref.WeakSet = weakref.WeakSet()   # told when it is bumped (``watch``)
_WATCH_LOCK = threading.Lock()
_user_digest = hashlib.sha256()   # the rules the user registered (srcad's own: its files)
_user_rules = 0
_quiet = False    # a built-in family loading through the index: no answer given before changes
_touched: set | None = None   # scripts/template_index.py: the keys a template module touches


def _rule(primitive) -> Rule:
    if _touched is not None:
        _touched.add(primitive_name(primitive))
    if not _loaded and _by_user():
        _load_for(primitive)     # a user's mark or rule: srcad's own first, then the user's
    try:
        rule = _RULES.get(primitive)
    except TypeError:  # unhashable callables
        rule = _BY_ID.get(id(primitive))
    if rule is None:
        rule = Rule(primitive)
        try:
            _RULES[primitive] = rule
        except TypeError:
            _BY_ID[id(primitive)] = rule
    return rule


def _by_user() -> bool:
    """Is the registration under way made by code outside srcad (a user marking or giving a
    rule to a primitive), not by a template module? The first caller outside this module
    decides."""
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_globals is globals():
        frame = frame.f_back
    name = frame.f_globals.get("__name__") or "" if frame is not None else ""
    return not (name == "srcad" or name.startswith("srcad."))


def is_random_draw(callee) -> bool:
    """Is ``callee`` a function of ``numpy.random`` (or Python's ``random``) or a method of a
    random number generator (``np.random.randn``, ``rng.standard_normal``)? Its value differs
    on every call: the primal draws it once, and code that runs the primal again (a
    checkpointed loop's replay, a helper's VJP) would draw other values."""
    owner = getattr(callee, "__self__", None)
    return "random" in (getattr(callee, "__module__", None) or "") or isinstance(
        owner, (np.random.Generator, np.random.RandomState, np.random.BitGenerator))


def lookup(primitive) -> Rule | None:
    """The rule for a resolved callable, or None."""
    _load_for(primitive)
    try:
        return _RULES.get(primitive)
    except TypeError:
        return _BY_ID.get(id(primitive))


def is_elementwise(primitive) -> bool:
    """Is the rule of ``primitive`` elementwise (``extra["elementwise"]``)? While none of the
    template modules registering anything for it is loaded, the template index answers (what
    a full load would give): the shape passes ask it of every NumPy call and runtime helper
    of derivative code, and loading a family to answer cost a first gradient 2 ms each
    (``shape``, ``runtime_rules``) that nothing instantiated."""
    index = _template_index()
    if index is not None and not _loaded:
        modules = index.get(primitive_name(primitive))
        if modules is not None and not _imported & set(modules):
            return primitive_name(primitive) in _index_state[1]
    rule = lookup(primitive)
    return rule is not None and bool(rule.extra.get("elementwise"))


def attach(rule: Rule) -> None:
    """Enter ``rule`` for a primitive srcad made itself (``called_helpers``): a new object,
    which no derivative built before reads, so the rule version stays."""
    with _LOCK:
        _RULES[rule.primitive] = rule


def primitive_name(fn) -> str:
    mod = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if mod in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray",
               "numpy._core.umath", "numpy.core.umath") or mod.startswith("numpy._core"):
        mod = "numpy"
    return f"{mod}.{name}" if mod else name


def public_name(fn) -> str:
    """``fn`` as a user imports it: the shortest dotted path of public modules that holds it
    (``scipy.stats.entropy``, not ``scipy.stats._entropy.entropy``); else ``primitive_name``."""
    name = getattr(fn, "__name__", None)
    if isinstance(fn, np.ufunc) and getattr(fn, "__module__", None) is None:
        for home in ("numpy", "scipy.special"):         # ufuncs do not say where they live
            if name and getattr(sys.modules.get(home), name, None) is fn:
                return f"{home}.{name}"
    parts = (getattr(fn, "__module__", None) or "").split(".")
    if name and "." not in getattr(fn, "__qualname__", name):
        for k in range(1, len(parts) + 1):
            module = sys.modules.get(".".join(parts[:k]))
            if any(p.startswith("_") for p in parts[:k]) or module is None:
                break
            try:
                if getattr(module, name, None) is fn:
                    return f"{module.__name__}.{name}"
            except Exception:       # a module whose attributes compute (lazy loaders)
                break
    return primitive_name(fn)


def rule_recipe(fn, mode: str) -> str:
    """The one-line rule a user registers for ``fn`` (``mode``: 'adjoint' or 'tangent'), as
    in docs/templates.md: outputs first, then ``fn``'s parameters."""
    if isinstance(fn, np.ufunc):
        params = ["x"] if fn.nin == 1 else [f"x{i + 1}" for i in range(fn.nin)]
    else:
        try:
            params = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:3] or ["x"]
        except (TypeError, ValueError):         # a builtin without a signature
            params = ["x"]
    first = params[0]
    short = getattr(fn, "__name__", "fn")
    rule = f"d[{first}] = d[y] * <dy/d{first}>" if mode == "adjoint" else \
        f"d[y] = <dy/d{first}> * d[{first}]"
    return (f"@srcad.register_{mode}({public_name(fn)}) then "
            f"def {short}_{mode}(y, {', '.join(params)}): {rule}  (from srcad.registry "
            "import d; docs/templates.md)")


def watch(watcher) -> None:
    """Call ``watcher.rules_changed()`` after each bump of the rule version (as long as
    ``watcher`` lives): ``dispatch`` leaves its fast paths, which do not test the version."""
    with _WATCH_LOCK:
        _watchers.add(watcher)


def _bump() -> None:
    global _version
    _version += 1               # first: a watcher installing code re-reads it afterwards
    with _WATCH_LOCK:
        watchers = list(_watchers)
    for watcher in watchers:
        watcher.rules_changed()


def _note(template: Template):
    if not _quiet:
        _bump()
    _digest.update(template.origin.encode())
    fingerprint = getattr(template, "fingerprint", None)
    if fingerprint is not None:          # parsed on first use: its code stands for its text
        _digest.update(fingerprint())
        return
    for stmt in template.body:
        _digest.update(gast.dump(stmt).encode())


_Template = TypeVar("_Template", bound=Callable[..., Any])


def _registrar(kind: str, primitives, outputs: int,
               complex: bool = False) -> Callable[[_Template], _Template]:
    def deco(fn: _Template) -> _Template:
        template = parse_template(fn, outputs, kind)
        _OUTPUTS[fn] = outputs
        template.user = not getattr(fn, "__module__", "").startswith("srcad.")
        if template.user:         # parsed now: a user's rule is checked where it is registered
            try:
                template.body
            except OSError:       # no source here: the build that reads it says so
                pass
        with _LOCK:
            _note(template)
            if template.user:
                _note_user(kind, complex, template, primitives)
            for p in primitives:
                setattr(_rule(p), f"complex_{kind}" if complex else kind, template)
        return fn
    return deco


def adjoint(*primitives, outputs: int = 1,
            complex: bool = False) -> Callable[[_Template], _Template]:
    """Register the decorated template as the adjoint of each primitive (``complex=True``:
    the adjoint where an input may be complex)."""
    return _registrar("adjoint", primitives, outputs, complex)


def tangent(*primitives, outputs: int = 1,
            complex: bool = False) -> Callable[[_Template], _Template]:
    """Register the decorated template as the tangent of each primitive (``complex=True``:
    the tangent where an input may be complex)."""
    return _registrar("tangent", primitives, outputs, complex)


def complex_ok(*primitives, ok: bool = True):
    """Primitives whose rules are right for complex values as written (see the module
    docstring); ``ok=False`` for a ``nondiff`` function that is not constant for them."""
    _flag(primitives, "complex_ok", ok)


def real_valued(*primitives):
    """Primitives whose outputs are real even for complex inputs."""
    _flag(primitives, "real_valued", True)


def _flag(primitives, name: str, value):
    with _LOCK:
        if not _quiet:
            _bump()                # derivatives built before may now be refused, or allowed
        _digest.update(f"{name}={value}:{[primitive_name(p) for p in primitives]}".encode())
        for p in primitives:
            setattr(_rule(p), name, value)


def nondiff(*primitives):
    """Primitives whose outputs have no derivative (integer, boolean or constant valued)."""
    for p in primitives:
        _rule(p).nondiff = True


def returns_list(*primitives):
    """Primitives returning a Python list of arrays (np.split): their derivatives are lists."""
    for p in primitives:
        _rule(p).extra["returns_list"] = True


def elementwise(*primitives):
    """Primitives computed elementwise over their broadcast arguments (the ``unary`` and
    ``binary`` tables mark theirs): the output has the broadcast shape of the arguments."""
    for p in primitives:
        _rule(p).extra["elementwise"] = True


def shape_preserving(*primitives):
    """Primitives whose output has the shape of their first argument (``softmax(x, axis)``),
    which the shape analysis uses where it knows that argument's shape."""
    for p in primitives:
        _rule(p).extra["shape_preserving"] = True


class Variant:
    """``primitive`` called with a keyword whose constant value changes how many values it
    returns (``np.linalg.svd(a, compute_uv=False)``: one, not three): a primitive of its own
    with rules of its own. ``normalize/calls.py`` picks it at build time from the keyword's
    literal; the generated code still calls ``primitive`` as the user wrote it."""

    def __init__(self, primitive, keyword: str, value):
        self.primitive, self.keyword, self.value = primitive, keyword, value
        self.__name__ = getattr(primitive, "__name__", "f")
        self.__qualname__ = f"{getattr(primitive, '__qualname__', self.__name__)}" \
                            f"({keyword}={value!r})"
        self.__module__ = getattr(primitive, "__module__", None) or ""

    def __call__(self, *args, **kwargs):
        return self.primitive(*args, **kwargs)

    def __repr__(self):
        return f"<srcad variant {primitive_name(self)}>"


# primitive -> keyword -> (its position, or None if keyword-only; [(value, Variant)])
_VARIANTS: dict[Any, dict[str, tuple[int | None, list]]] = {}


def variant(primitive, keyword: str, value) -> Variant:
    """The primitive ``primitive(..., keyword=value)``, for a keyword that changes the number
    of values returned; register its rules with ``@adjoint(v)`` / ``@tangent(v)``."""
    position = None
    try:
        params = list(inspect.signature(primitive).parameters.values())
        found = [i for i, q in enumerate(params) if q.name == keyword]
        if found and params[found[0]].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            position = found[0]
    except (TypeError, ValueError):          # no signature: keyword only
        pass
    v = Variant(primitive, keyword, value)
    if _touched is not None:
        _touched.add(primitive_name(primitive))
    if not _loaded and _by_user():
        _load_for(primitive)
    with _LOCK:
        _VARIANTS.setdefault(primitive, {}).setdefault(keyword, (position, []))[1].append(
            (value, v))
    return v


def variants_of(primitive) -> dict[str, tuple[int | None, list]]:
    """keyword -> (position, [(value, Variant)]) for a primitive with variants, else {}."""
    _load_for(primitive)
    try:
        return _VARIANTS.get(primitive, {})
    except TypeError:          # unhashable callables have none
        return {}


def version() -> int:
    """Changes whenever a rule is registered that may change a derivative built before (a
    user's rule, an optional module loaded late; not a built-in family loaded through the
    index, which changes no lookup answered before). Cached derivatives check it."""
    _load_optional()
    return _version


def linear(*primitives):
    """Primitives linear in their first argument. For srcad's own runtime helpers the tangent
    rule is derived, not written: ``d[y] = helper(d[x], *rest)``."""
    for p in primitives:
        rule = _rule(p)
        rule.linear = True
        if rule.tangent is None and getattr(p, "__module__", None) == "srcad.runtime":
            rule.tangent = _linear_tangent(p)
            _note(rule.tangent)


def _linear_tangent(fn) -> Template:
    params = list(inspect.signature(fn).parameters.values())
    first, rest = params[0].name, [q.name for q in params[1:]]
    call = f"{fn.__name__}(d[{first}]{''.join(', ' + r for r in rest)})"
    out = next(n for n in ("y", "result", "out_") if n not in {q.name for q in params})
    template = formula_template(fn.__name__, (out,), [q.name for q in params],
                                f"d[{out}] = {call}", {fn.__name__: fn, "d": d},
                                f"linear({fn.__module__}.{fn.__name__})")
    template.signature = inspect.Signature(
        [q.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for q in params])
    return template


def _caller_origin(depth=2) -> tuple[dict, str]:
    frame = sys._getframe(depth)
    return frame.f_globals, f"{frame.f_code.co_filename}:{frame.f_lineno}"


def unary(primitives, derivative: str, prelude: str = "", **params):
    """Elementwise y = f(x) with dy/dx = ``derivative`` (an expression in x and y), after the
    statements ``prelude``; ``params`` are further parameters of f (not differentiated) with
    their defaults, which the formula may read (``approximate="none"``)."""
    namespace, origin = _caller_origin()
    prims = primitives if isinstance(primitives, tuple) else (primitives,)
    name = getattr(prims[0], "__name__", "f")
    names = ["x", *params]
    adj = formula_template(name, ("y",), names, f"{prelude}\nd[x] = d[y] * ({derivative})",
                           namespace, origin)
    tan = formula_template(name, ("y",), names, f"{prelude}\nd[y] = d[x] * ({derivative})",
                           namespace, origin)
    for t in (adj, tan):
        if params:
            t.signature = t.signature.replace(parameters=[
                q if q.name == "x" else q.replace(default=params[q.name])
                for q in t.signature.parameters.values()])
        _note(t)
    for p in prims:
        r = _rule(p)
        r.adjoint, r.tangent = adj, tan
        r.extra["elementwise"] = True


def binary(primitives, d1: str | None, d2: str | None):
    """Elementwise y = f(x1, x2), broadcasting; ``d1``/``d2`` are dy/dx1, dy/dx2 (None: 0)."""
    namespace, origin = _caller_origin()
    namespace = dict(namespace)
    from . import runtime
    namespace.setdefault("unbroadcast", runtime.unbroadcast)
    namespace.setdefault("broadcast_like", runtime.broadcast_like)
    prims = primitives if isinstance(primitives, tuple) else (primitives,)
    name = getattr(prims[0], "__name__", "f")

    def scaled(var, formula):
        return f"d[{var}]" if formula.strip() in ("1", "1.0") else (
            f"-d[{var}]" if formula.strip() in ("-1", "-1.0") else f"d[{var}] * ({formula})")

    adj_lines, tan_terms = [], []
    for var, formula in (("x1", d1), ("x2", d2)):
        if formula is None:
            continue
        adj_lines.append(f"d[{var}] = unbroadcast({scaled('y', formula)}, {var})")
        tan_terms.append(scaled(var, formula))
    tan_expr = " + ".join(tan_terms) if tan_terms else "0.0"
    adj = formula_template(name, ("y",), ["x1", "x2"], "\n".join(adj_lines) or "pass",
                           namespace, origin)
    tan = formula_template(name, ("y",), ["x1", "x2"],
                           f"d[y] = broadcast_like({tan_expr}, y)", namespace, origin)
    for t in (adj, tan):
        _note(t)
    for p in prims:
        r = _rule(p)
        r.adjoint, r.tangent = adj, tan
        r.extra["elementwise"] = True


def derived(primitives, template_fn, signature: str, replace: dict | None = None,
            kind: str | None = None, d_reads: dict | None = None,
            d_stores: dict | None = None, extra: str = "", n_outputs: int | None = None):
    """Register the rule ``template_fn`` (an adjoint or tangent template of another primitive,
    ``kind`` read from its name's ``_adjoint``/``_tangent`` ending) for ``primitives`` whose
    signature differs: ``signature`` is the new parameter list, outputs first, as Python
    source; ``replace`` maps the original's parameters (or dotted globals, ``"sl.expm"``) to
    expressions in the new ones (``{"upper": "not lower"}``). ``d_reads`` maps a parameter
    ``p`` to the expression its reads ``d[p]`` become, ``d_stores`` to ``(q, expression)``:
    ``d[p] = e`` becomes ``d[q] = expression`` with ``__value__`` standing for ``e``;
    ``extra`` is source appended to the body. A twin such as ``scipy.linalg.cholesky`` then
    shares the NumPy rule's body instead of a copy of it. ``n_outputs``: how many of the new
    parameters are outputs, when the twin returns fewer values (a ``Variant``: outputs keep
    their names, the reads ``d[p]`` of a dropped one come from ``d_reads``, its stores are
    dropped by ``d_stores={p: None}``)."""
    kind = kind or ("adjoint" if template_fn.__name__.endswith("_adjoint") else "tangent")
    caller, _ = _caller_origin()       # names the replacements use, besides the original's
    template = _Derived(template_fn, signature, replace, d_reads, d_stores, extra, n_outputs,
                        {**caller, **template_fn.__globals__})
    _note(template)
    for p in primitives if isinstance(primitives, tuple) else (primitives,):
        setattr(_rule(p), kind, template)
    return template


_OUTPUTS: dict = {}      # a template function -> the outputs= it was registered with


class _Derived(_OnUse):
    """``derived``'s rule: name, outputs, signature known at once, the body rewritten from
    the original's on first use."""

    def __init__(self, template_fn, signature: str, replace, d_reads, d_stores, extra: str,
                 n_outputs, namespace: dict):
        original = parse_template(template_fn, _outputs_of(template_fn))
        scratch = dict(template_fn.__globals__)
        exec(compile(f"def _twin({signature}):\n    pass\n", "<srcad twin>", "exec"), scratch)
        sig = inspect.signature(scratch.pop("_twin"))
        params = [q.name for q in sig.parameters.values()
                  if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
        self.outputs = tuple(params[:len(original.outputs) if n_outputs is None else n_outputs])
        self.signature = inspect.Signature(list(sig.parameters.values())[len(self.outputs):])
        self.name, self.origin, self.globals, self.user = (original.name, original.origin,
                                                           namespace, False)
        self._original, self._params = original, set(sig.parameters)
        self._how = (replace, d_reads, d_stores, extra, n_outputs)
        self._text = (original.fingerprint() if isinstance(original, _OnUse) else b"") + repr(
            (signature, replace, d_reads, d_stores, extra, n_outputs)).encode()

    def fingerprint(self) -> bytes:
        return self._text

    def _parse(self) -> Template:
        replace, d_reads, d_stores, extra, n_outputs = self._how
        original, outputs = self._original, self.outputs
        return Template(name=self.name, outputs=outputs, signature=self.signature,
                        body=_derived_body(original, outputs, replace, d_reads, d_stores,
                                           extra),
                        globals=self.globals, origin=self.origin,
                        local_names=original.local_names - self._params)


def _derived_body(original: Template, outputs: tuple, replace, d_reads, d_stores,
                  extra: str) -> list:
    """The original rule's body with ``derived``'s renames and replacements."""
    substitutes = {old: gast.Name(id=new, ctx=gast.Load(), annotation=None, type_comment=None)
                   for old, new in zip(original.outputs, outputs) if old != new
                   and len(outputs) == len(original.outputs)}
    substitutes.update({old: parsing.parse_gast(new, mode="eval").body
                        for old, new in (replace or {}).items()})

    reads = {p: parsing.parse_gast(e, mode="eval").body for p, e in (d_reads or {}).items()}
    stores = {p: None if how is None else (how[0], parsing.parse_gast(how[1], mode="eval").body)
              for p, how in (d_stores or {}).items()}

    class _Rename(gast.NodeTransformer):
        def visit_Assign(self, node):
            target = node.targets[0]
            if _d_of(target) in stores:
                if stores[_d_of(target)] is None:
                    return None                 # the derivative of an output not returned
                new_param, wrap = stores[_d_of(target)]
                target.slice = gast.Name(id=new_param, ctx=gast.Load(), annotation=None,
                                         type_comment=None)
                node.value = _Fill(self.visit(node.value)).visit(clone(wrap))
                return node
            return self.generic_visit(node)

        def visit_Subscript(self, node):
            if _d_of(node) in reads and isinstance(node.ctx, gast.Load):
                return gast.copy_location(clone(reads[_d_of(node)]), node)
            renamed = substitutes.get(_d_of(node))
            if _d_of(node) is not None:         # d[p]: p names a derivative, maybe renamed
                if isinstance(renamed, gast.Name):
                    node.slice = clone(renamed)
                return node
            return self.generic_visit(node)

        def visit_Name(self, node):
            if node.id in substitutes and isinstance(node.ctx, gast.Load):
                return gast.copy_location(clone(substitutes[node.id]), node)
            return node

        def visit_Attribute(self, node):          # a dotted global: "sl.expm"
            dotted = _dotted(node)
            if dotted in substitutes:
                return gast.copy_location(clone(substitutes[dotted]), node)
            return self.generic_visit(node)

    body = [s for s in (_Rename().visit(stmt) for stmt in clone(original.body)) if s is not None]
    return body + (parsing.parse_gast(textwrap.dedent(extra)).body if extra else [])


def _d_of(node) -> str | None:
    """``p`` for the template expression ``d[p]``, else None."""
    if (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name)
            and node.value.id == "d" and isinstance(node.slice, gast.Name)):
        return node.slice.id
    return None


class _Fill(gast.NodeTransformer):
    """Put ``value`` in place of the name ``__value__``."""

    def __init__(self, value):
        self.value = value

    def visit_Name(self, node):
        return clone(self.value) if node.id == "__value__" else node


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id] + parts[::-1]) if isinstance(node, gast.Name) else None


def _outputs_of(template_fn) -> int:
    """The number of outputs a template was registered with (``outputs=`` of its decorator)."""
    if template_fn in _OUTPUTS:
        return _OUTPUTS[template_fn]
    source = textwrap.dedent(inspect.getsource(template_fn))
    for deco in parsing.parse_gast(source).body[0].decorator_list:
        for kw in getattr(deco, "keywords", ()):
            if kw.arg == "outputs":
                return kw.value.value
    return 1


def register_adjoint(*primitives: Callable[..., Any], outputs: int = 1,
                     complex: bool = False) -> Callable[[_Template], _Template]:
    """Public: ``@srcad.register_adjoint(myfn)`` over a template function (see srcad.template)."""
    _load_for(*primitives)     # srcad's rules for them first: the user's then replace them
    return adjoint(*primitives, outputs=outputs, complex=complex)


def register_tangent(*primitives: Callable[..., Any], outputs: int = 1,
                     complex: bool = False) -> Callable[[_Template], _Template]:
    """Public: ``@srcad.register_tangent(myfn)`` over a template function."""
    _load_for(*primitives)
    return tangent(*primitives, outputs=outputs, complex=complex)


def load(everything: bool = True):
    """Import every template module once; an optional one (``templates.OPTIONAL``) only when
    the package it needs imports. ``everything=False``: an optional module only once its
    package has been imported by someone (a user calling ``scipy.special.erf`` has imported
    scipy), so a first gradient of NumPy code never imports SciPy; loading one later bumps the
    rule version, so derivatives built before it are rebuilt. A build's lookups do not call
    this: they load the families of the primitive looked up (``_load_for``). Safe under
    concurrent first use: a module counts as loaded only once it has registered its rules,
    and other threads wait for that (a template module registering rules of its own while
    loading is not waited for)."""
    global _loaded
    if not _loaded:
        pkg = _package()
        _import_modules([n for n in pkg.MODULES if n not in OPTIONAL_NEEDS],
                        quiet=_template_index() is not None)
        with _LOCK:
            if not _loading:
                _loaded = True
    _load_optional(everything)


_pending: set = set()                  # optional template modules not loaded yet
OPTIONAL_NEEDS: dict = {}              # optional template module -> the package it needs
_imported: frozenset = frozenset()     # template modules whose rules are all registered
_index_state: list = []                # [the template index or None, its elementwise
                                        # primitives] once read


def _package():
    """``srcad.templates``; the first time, the optional modules noted as pending."""
    pkg = sys.modules.get("srcad.templates")
    if pkg is None or not OPTIONAL_NEEDS:
        pkg = importlib.import_module("srcad.templates")
        with _LOCK:
            if not OPTIONAL_NEEDS:
                optional = getattr(pkg, "OPTIONAL", {})
                _pending.update(name for name in pkg.MODULES if name in optional)
                OPTIONAL_NEEDS.update(optional)
    return pkg


def _load_optional(everything: bool = False) -> None:
    """Load the pending optional template modules whose package has been imported (all of
    them with ``everything``, importing the package where it is installed)."""
    if not OPTIONAL_NEEDS:
        _package()
    if not _pending or not everything and not any(
            sys.modules.get(OPTIONAL_NEEDS[name]) is not None for name in _pending):
        return
    _import_modules(sorted(name for name in _pending if everything or sys.modules.get(
        OPTIONAL_NEEDS[name]) is not None), quiet=False)


def _load_for(*primitives) -> None:
    """Load the built-in rules of ``primitives``: with a current template index
    (``srcad/templates/_index.py``), only the template modules that register anything for
    them (no answer to an earlier lookup changes, so the rule version stays); without one,
    every module. Then the optional modules whose package has been imported."""
    _load_optional()
    if _loaded:
        return
    index = _template_index()
    if index is None:
        load(everything=False)
        return
    names: set = set()
    for p in primitives:
        names.update(index.get(primitive_name(p), ()))
    if not names <= _imported:
        _import_modules(sorted(names - _imported), quiet=True)


def _import_modules(names, quiet: bool) -> None:
    """Import the template modules ``names`` (in ``MODULES`` order), each registering its
    rules; ``quiet``: their registrations do not bump the rule version."""
    global _loading, _quiet, _imported
    with _LOCK:
        if _loading:                 # this thread is loading them
            return
        _loading, was = True, _quiet
        _quiet = quiet
        try:
            pkg = _package()
            for name in pkg.MODULES:
                if name not in names or name in _imported:
                    continue
                _pending.discard(name)
                try:
                    importlib.import_module(f"srcad.templates.{name}")
                except ModuleNotFoundError as exc:
                    missing = exc.name or ""
                    dependency = OPTIONAL_NEEDS.get(name)
                    if missing == f"srcad.templates.{name}":
                        continue
                    if dependency is None or missing.split(".")[0] != dependency:
                        raise
                    continue
                _imported = _imported | {name} | {     # and what it imported of its own
                    n for n in pkg.MODULES if _complete(f"srcad.templates.{n}")}
        finally:
            _quiet, _loading = was, False


def _complete(module_name: str) -> bool:
    module = sys.modules.get(module_name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _template_index() -> dict | None:
    """primitive name -> the built-in template modules registering anything for it, read
    from ``srcad/templates/_index.py`` (``python scripts/template_index.py`` writes it) when
    it was generated from these template files for this NumPy and Python; else None (a
    lookup then loads every module)."""
    if _index_state:
        return _index_state[0]
    index, elementwise_ = None, frozenset[str]()
    try:
        from .templates import _index as generated
        if generated.NUMPY == np.__version__ and \
                tuple(generated.PYTHON) == tuple(sys.version_info[:2]) and \
                generated.DIGEST == sources_digest():
            index, elementwise_ = generated.MODULES, generated.ELEMENTWISE
    except (ImportError, AttributeError, OSError):
        index = None
    with _LOCK:
        if not _index_state:
            _index_state.extend((index, elementwise_))
    return _index_state[0]


def sources_digest() -> str:
    """A digest of the text of srcad's rule modules and of this module (which names the
    primitives): what the template index was generated from."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, "templates")
    h = hashlib.sha256()
    for path in [os.path.join(here, "registry.py")] + sorted(
            os.path.join(folder, f) for f in os.listdir(folder)
            if f.endswith(".py") and f != "_index.py"):
        with open(path, "rb") as fh:
            h.update(os.path.basename(path).encode() + b"\0" + fh.read())
    return h.hexdigest()


def _note_user(kind: str, complex: bool, template: Template, primitives) -> None:
    global _user_rules
    _user_rules += 1
    _user_digest.update(f"{kind}:{complex}:{[primitive_name(p) for p in primitives]}:"
                        f"{template.origin}".encode())
    for stmt in template.body:
        _user_digest.update(gast.dump(stmt).encode())


def user_digest() -> str:
    """A digest of the rules the user registered ('' when none), without loading srcad's
    own (the disk cache keys on srcad's files for those)."""
    return _user_digest.hexdigest() if _user_rules else ""


def templates_digest() -> str:
    load()
    return _digest.hexdigest()


def all_rules() -> list[Rule]:
    load()
    return list(_RULES.values()) + list(_BY_ID.values())
