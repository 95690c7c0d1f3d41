"""A program fuzzer: random but valid, differentiable NumPy functions.

``generate(seed) -> (source, args)`` is deterministic: ``source`` is a module (``import numpy
as np``, zero to two helper functions, then ``def f(...)`` returning a float scalar) and
``args`` the :class:`Arg` values to call ``f`` with. The programs use only what README.md and
docs/errors.md say srcad differentiates: elementwise chains with broadcasting (shapes (3, 4),
(4,), (3, 1), (3,), (1, 4), (1,), (1, 1) and 0-d), reductions with axes and keepdims,
``for`` loops over ranges, arrays, ``enumerate`` and ``zip`` with ``break``/``continue``,
``while`` loops with counters, branches on data, subscript writes (also augmented, through
repeated fancy indices, and writes that read what they overwrite) into arrays the function
made itself, lists built with ``append`` and consumed by ``np.stack`` or ``sum``, helpers
called with keyword and default arguments, loops whose values are unused, early returns.

And the Python around the numerics (README, "Containers, models and methods" and "The Python
around the numerics"): a container argument (``CONTAINERS`` of the programs): a dict of
arrays and floats (``p['W']``), a list of arrays (``ws[0]``, ``for w in ws``,
``np.mean(ws, axis=0)``) or an object of a class the program defines, plain or a dataclass,
whose method (``m.apply(u)``, ``m(u)``: a bound method, its body generated) f calls; helpers
taking a container (a dict or list argument, or a display built in the call); loops over
``p.values()``/``p.items()``; list comprehensions (over ranges, with a filter, or over
rows) consumed by ``np.stack``, ``sum`` or a reduction, generator sums
(``sum(w[i] * x[i] for i in range(n))``), dict comprehensions over constant keys; lambdas
assigned and called (``act = lambda z: ...``, a closure over a container's leaves); and
primal-only guards (``assert``, ``if ...: raise``) that never fail.

A few programs (``ALIASING``) also read a view, a loop's row or a list element after the
array it shares memory with was written into: valid NumPy, where the read sees the write.

Every program is run before it is returned (``validate``): it must run in plain NumPy
without a floating-point error, give a finite, moderate scalar, vary slowly enough for
finite differences to check it, and be differentiable at its arguments: each comparison on
data (always ``<expr> > <float literal>`` or ``<``, while comparisons on counters use int
literals) is at least ``MARGIN`` from its threshold, and every ``np.max`` is at least
``MARGIN`` from a tie. A program that fails this is redrawn (the attempt number is part of
the random stream), so a seed always gives the same program. The arguments are never
written into (the checks pass them read-only).

tests/fuzz_check.py runs the programs through srcad.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import operator
from contextlib import contextmanager

import numpy as np

__all__ = ["Arg", "Instance", "generate", "validate", "read_only", "load", "materialize",
           "items", "item", "leaves", "rebuild", "map_leaves", "to_vector", "from_vector",
           "MARGIN", "SHAPES"]

SHAPES = ((3, 4), (4,), (3, 1), (3,), (1, 4), (1,), (1, 1), ())
MARGIN = 1e-2            # distance of every data condition from its threshold, of a max from a tie
MAX_VALUE = 1e5          # |f| above this is redrawn (finite differences lose their digits)
ALIASING = 0.15          # how often a view, loop row or list element outlives a write to its base
CONTAINERS = 0.35        # how often an argument is a container (a dict, a list, an object)
_ATTEMPTS = 200

_ARG_SHAPES = ((3, 4), (3, 4), (3, 4), (4,), (4,), (3, 1), (3,), ())
_CONSTANTS = ("0.5", "1.5", "2.0", "0.25", "0.1", "3.0", "0.7", "1.2")
_UNARY = ("np.sin({})", "np.cos({})", "np.tanh({})", "np.exp({})", "np.log(1.0 + {p} * {p})",
          "np.sqrt(1.0 + {p} * {p})", "{p} ** 2.0", "{p} ** 2", "-{p}",
          "np.exp(-{p} ** 2.0)", "np.log(1.5 + np.sin({}))")
_BINARY = ("{p} + {q}", "{p} - {q}", "{p} * {q}", "{p} * {q}", "{p} / (1.5 + {q} ** 2.0)",
           "{p} / (2.0 + np.cos({}))")
_REDUCTIONS = ("np.sum", "np.sum", "np.mean", "np.max")


@dataclasses.dataclass(frozen=True)
class Arg:
    """One argument of a generated ``f``: a float64 array, a float (Python, NumPy scalar or 0-d
    array), a container of them (a dict, a list, an :class:`Instance` of a class the program
    defines), or an int (``differentiable=False``: a trip count)."""

    name: str
    value: object
    differentiable: bool = True


@dataclasses.dataclass(frozen=True)
class Instance:
    """An argument that is an object of a class the program defines (``cls``), with these
    attributes: ``materialize`` builds it in the module the program runs in."""

    cls: str
    fields: tuple                 # ((attribute, value), ...)


def materialize(value, namespace):
    """``value`` with each :class:`Instance` built from the class in ``namespace``."""
    if isinstance(value, Instance):
        return namespace[value.cls](**{k: materialize(v, namespace) for k, v in value.fields})
    if isinstance(value, dict):
        return {k: materialize(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v, namespace) for v in value]
    return value


def items(value):
    """(key, item) of a container (a dict, list, tuple or object of the program's), else None."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    if isinstance(value, Instance):
        return list(value.fields)
    if hasattr(value, "__dict__") and not isinstance(value, np.generic):
        return list(vars(value).items())
    return None


def leaves(value, like=None) -> list:
    """The numbers and arrays of ``value``, in the order of ``like``'s keys (default: its own)."""
    pairs = items(value if like is None else like)
    if pairs is None:
        return [value]
    out = []
    for key, part in pairs:
        out += leaves(item(value, key), part if like is not None else None)
    return out


def item(value, key):
    """The item ``key`` of a container (an attribute of an object)."""
    if isinstance(value, (dict, list, tuple)):
        return value[key]
    return getattr(value, key)


def rebuild(value, new_leaves):
    """``value`` with its leaves replaced, in order, by the items of the iterator
    ``new_leaves`` (a new container; an object of the program's is copied)."""
    pairs = items(value)
    if pairs is None:
        return next(new_leaves)
    parts = [(key, rebuild(part, new_leaves)) for key, part in pairs]
    if isinstance(value, dict):
        return dict(parts)
    if isinstance(value, (list, tuple)):
        return type(value)(v for _, v in parts)
    if isinstance(value, Instance):
        return Instance(value.cls, tuple(parts))
    out = object.__new__(type(value))
    out.__dict__.update(parts)
    return out


def map_leaves(fn, value):
    return rebuild(value, iter([fn(leaf) for leaf in leaves(value)]))


def to_vector(values) -> np.ndarray:
    """The leaves of ``values`` (a list of arguments) as one float64 vector."""
    parts = [np.ravel(np.asarray(leaf, dtype=float)) for v in values for leaf in leaves(v)]
    return np.concatenate(parts) if parts else np.zeros(0)


def from_vector(value, vector):
    """``value`` with its leaves read from ``vector`` (``to_vector``'s layout), each typed as
    before (a float, a NumPy scalar, an array)."""
    position = 0
    out = []
    for leaf in leaves(value):
        size = int(np.size(leaf))
        part = vector[position:position + size]
        position += size
        out.append(part.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else
                   type(leaf)(part[0]))
    return rebuild(value, iter(out))


_modules = itertools.count()


def load(source, namespace=None, name="f"):
    """The function ``name`` of ``source``, run as a module registered in ``sys.modules``
    (a dataclass needs its module), with its arguments' :class:`Instance` classes in it."""
    import sys
    import types

    from helpers import make_function

    module = types.ModuleType(f"fuzz_program_{next(_modules)}")
    module.__dict__.update(namespace or {})
    sys.modules[module.__name__] = module
    try:
        return make_function(source, module.__dict__, name=name)
    finally:
        del sys.modules[module.__name__]


def _fits(shape, target) -> bool:
    """Does a value of ``shape`` broadcast to exactly ``target``?"""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _broadcast(a, b):
    """The shape of ``a`` and ``b`` broadcast together, if it is one of SHAPES, else None."""
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        return None
    return shape if shape in SHAPES else None


def _reduced(shape, axis, keepdims):
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    axis %= len(shape)
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return shape[:axis] + shape[axis + 1:]


@dataclasses.dataclass(frozen=True)
class _Var:
    """What the generator knows of a variable."""

    kind: str                     # 'array' (any float value), 'int', 'list', 'index', and
                                  # containers: 'dict', 'plist' (a list of arrays), 'object'
    shape: tuple = ()             # arrays; a list's elements
    owned: bool = False           # a fresh array of the function's own: may be written in place
    param: bool = False           # an argument (never written in place)
    base: str | None = None       # a view (or element) of this variable
    lo: int | None = None         # ints: the range of values while the variable is in scope
    hi: int | None = None
    length: int | None = None     # lists (None: not known), index arrays
    values: tuple = ()            # index arrays
    active: bool = True           # may depend on an argument
    keys: tuple = ()              # containers: their kind (see ``container_env``)


@dataclasses.dataclass(frozen=True)
class _Expr:
    text: str
    shape: tuple
    atomic: bool = True           # needs no parentheses as an operand
    view: str | None = None       # a view of (or alias to) this variable's memory
    active: bool = True           # may depend on an argument

    @property
    def p(self):
        return self.text if self.atomic else f"({self.text})"


@dataclasses.dataclass(frozen=True)
class _Helper:
    name: str
    params: tuple                 # (name, shape or 'float' or 'int', default text or None)
    result: tuple
    mutates: bool = False         # writes into its first argument (a named array of the caller)


class _Frame:
    """The function being written: its variables and lines."""

    def __init__(self, env, budget, top_level_return=True):
        self.env: dict = env
        self.budget = budget      # statements left to write (compound ones only while > 0)
        self.lines: list = []
        self.indent = 1
        self.depth = 0            # enclosing blocks
        self.early_return = top_level_return
        self.frozen: set = set()  # arrays iterated over by an enclosing loop: not written
        self.writes: set = set()  # names assigned or written into
        self.fixed: set = set()   # names never rebound (a parameter the helper writes into)


class _Generator:
    def __init__(self, rng):
        self.rng = rng
        self.helpers: list = []
        self.counter = itertools.count()
        self.frame: _Frame | None = None
        self.main: _Frame | None = None   # f's frame
        self.locals: list = []        # f's lambdas and its arguments' methods: called in f only
        self.containers: list = []    # (name, kind) of the container arguments
        self.keep_views = False       # a write now leaves the views of its array readable

    # -- randomness ---------------------------------------------------------------------------

    def chance(self, p) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def weighted(self, options: dict):
        names = [k for k, w in options.items() if w > 0]
        weights = np.array([options[k] for k in names], dtype=float)
        return names[int(self.rng.choice(len(names), p=weights / weights.sum()))]

    def fresh(self, prefix) -> str:
        return f"{prefix}{next(self.counter)}"

    def threshold(self) -> str:
        return repr(round(float(self.rng.uniform(-1.5, 1.5)), 2) + 0.0)

    # -- lines and scopes ---------------------------------------------------------------------

    @property
    def env(self) -> dict:
        return self.frame.env

    def emit(self, text):
        self.frame.lines.append("    " * self.frame.indent + text)

    @contextmanager
    def block(self):
        """An indented block: names it creates are not used after it; names it rebinds keep
        their shape; an array stays writable only if it is on every path."""
        frame = self.frame
        before = dict(frame.env)
        frame.indent += 1
        frame.depth += 1
        try:
            yield
        finally:
            frame.indent -= 1
            frame.depth -= 1
            after = frame.env
            frame.env = {}
            for name, var in before.items():
                if name in after:
                    now = after[name]
                    frame.env[name] = dataclasses.replace(
                        var, owned=var.owned and now.owned, active=var.active or now.active,
                        length=var.length if now.length == var.length else None)

    def arrays(self, writable=False, ndim_min=0):
        out = []
        for name, var in self.env.items():
            if var.kind != "array" or len(var.shape) < ndim_min:
                continue
            if writable and (not var.owned or var.param or var.base or not var.shape
                             or name in self.frame.frozen):
                continue
            out.append(name)
        return out

    def bind(self, name, expr: _Expr):
        """``name = expr``: a parameter stays one (a helper never writes into it)."""
        param = name in self.env and self.env[name].param
        self.env[name] = _Var("array", expr.shape, owned=expr.view is None, base=expr.view,
                              param=param, active=expr.active)

    def activate(self, name, value: _Expr):
        if value.active and not self.env[name].active:
            self.env[name] = dataclasses.replace(self.env[name], active=True)

    def written(self, name):
        """``name`` was rebound or its memory changed: its views are not read from here on,
        but for a few (``ALIASING``), which NumPy updates through the shared memory."""
        self.frame.writes.add(name)
        if self.chance(ALIASING) or self.keep_views:
            return
        for other, var in list(self.env.items()):
            if var.base == name:
                del self.env[other]

    # -- indices ------------------------------------------------------------------------------

    def index(self, dim) -> str:
        """An int index valid for an axis of length ``dim``: a constant or a loop variable."""
        loops = [n for n, v in self.env.items() if v.kind == "int" and v.lo is not None
                 and v.lo >= -dim and v.hi < dim]
        if loops and self.chance(0.6):
            return self.pick(loops)
        return str(int(self.rng.integers(-1 if self.chance(0.2) else 0, dim)))

    def fancy(self, dim, length) -> str:
        """An int array of ``length`` indices below ``dim``, with a repeat where it can."""
        named = [n for n, v in self.env.items() if v.kind == "index" and v.length == length
                 and max(v.values) < dim]
        if named and self.chance(0.5):
            return self.pick(named)
        values = [int(v) for v in self.rng.integers(0, dim, length)]
        if length > 1 and len(set(values)) == length:
            values[int(self.rng.integers(1, length))] = values[0]
        return f"np.array({values})"

    # -- expressions --------------------------------------------------------------------------

    def reads(self, name, shape):
        """Subscripts of ``name``: (text, shape, is a view)."""
        out = []
        if len(shape) == 2:
            r, c = shape
            out += [(f"{name}[{self.index(r)}]", (c,), True),
                    (f"{name}[:, {self.index(c)}]", (r,), True),
                    (f"{name}[{self.index(r)}, {self.index(c)}]", (), False),
                    (f"{name}[::-1]", shape, True),
                    (f"{name}[{self.fancy(r, 3)}]", (3, c), False)]
            j = int(self.rng.integers(0, c))
            out.append((f"{name}[:, {j}:{j + 1}]", (r, 1), True))
            i = int(self.rng.integers(0, r))
            out.append((f"{name}[{i}:{i + 1}]", (1, c), True))
        elif len(shape) == 1:
            (n,) = shape
            length = self.pick((3, 4, 1))
            out += [(f"{name}[{self.index(n)}]", (), False),
                    (f"{name}[::-1]", shape, True),
                    (f"{name}[{self.fancy(n, length)}]", (length,), False),
                    (f"{name}[None, :]", (1, n), True),
                    (f"{name}[:, None]", (n, 1), True)]
        return [r for r in out if r[1] in SHAPES]

    def leaf(self, target) -> _Expr:
        options = []                                   # (weight, expr)
        for name, var in self.env.items():
            if var.kind == "array":
                if _fits(var.shape, target):
                    options.append((4.0, _Expr(name, var.shape, view=var.base or name,
                                               active=var.active)))
                for text, shape, view in self.reads(name, var.shape):
                    if _fits(shape, target):
                        options.append((1.0, _Expr(text, shape, view=(var.base or name)
                                                   if view else None, active=var.active)))
            elif var.kind == "int" and target is not None:
                options.append((0.3, _Expr(f"{name} * 0.5", (), atomic=False, active=False)))
            elif var.kind == "list" and _fits(var.shape, target):
                options.append((0.7, _Expr(f"{name}[{self.pick((0, -1))}]", var.shape,
                                           view=name)))
            elif var.kind == "plist" and _fits(var.shape, target):   # the list as an array
                options.append((0.5, _Expr(f"np.{self.pick(('sum', 'mean'))}({name}, axis=0)",
                                           var.shape)))
        if not options or self.chance(0.12):
            return _Expr(self.pick(_CONSTANTS), (), active=False)
        weights = np.array([w for w, _ in options])
        return options[int(self.rng.choice(len(options), p=weights / weights.sum()))][1]

    def expr(self, depth, target) -> _Expr:
        """An expression whose value broadcasts to exactly ``target``."""
        if depth <= 0 or self.chance(0.25):
            return self.leaf(target)
        kind = self.weighted({"unary": 3, "binary": 5, "reduce": 1.5, "constant": 1.0,
                              "call": 1.5 if self.callable_here() else 0})
        if kind == "unary":
            a = self.expr(depth - 1, target)
            template = self.pick(_UNARY)
            if "{p} * {p}" in template and len(a.text) > 12:
                template = template.replace("{p} * {p}", "{p} ** 2.0")
            text = template.format(a.text, p=a.p)
            return _Expr(text, a.shape, atomic=template[:3] == "np." and template[-1] == ")",
                         active=a.active)
        if kind == "binary":
            a, b = self.expr(depth - 1, target), self.expr(depth - 1, target)
            text = self.pick(_BINARY).format(b.text, p=a.p, q=b.p)
            return _Expr(text, np.broadcast_shapes(a.shape, b.shape), atomic=False,
                         active=a.active or b.active)
        if kind == "constant":
            a = self.expr(depth - 1, target)
            c = self.pick(_CONSTANTS)
            text = self.pick((f"{c} * {a.p}", f"{a.p} * {c}", f"{a.p} + {c}", f"{c} - {a.p}",
                              f"{a.p} / {c}"))
            return _Expr(text, a.shape, atomic=False, active=a.active)
        if kind == "call":
            call = self.call(target)
            if call is not None:
                return call
            return self.leaf(target)
        return self.reduction(depth, target)

    def reduction(self, depth, target, axis_none=False) -> _Expr:
        shapes = [s for s in SHAPES if s and any(
            _fits(_reduced(s, axis, keep), target) for axis in (None, 0, -1)
            for keep in (False, True))]
        for _ in range(3):                            # a reduction of an array, not a number
            a = self.expr(depth - 1, self.pick(shapes))
            if a.shape:
                break
        else:
            return a if _fits(a.shape, target) else self.leaf(target)
        axes = (None,) if axis_none else (None, 0, 1, -1)
        choices = [(axis, keep) for axis in axes for keep in (False, True)
                   if (axis is None or -len(a.shape) <= axis < len(a.shape)) and
                   _reduced(a.shape, axis, keep) in SHAPES and
                   _fits(_reduced(a.shape, axis, keep), target)]
        if not choices:
            return self.leaf(target)
        axis, keep = self.pick(choices)
        fn = self.pick(_REDUCTIONS)
        args = [a.text] + ([f"axis={axis}"] if axis is not None else []) + (
            ["keepdims=True"] if keep else [])
        if fn != "np.max" and self.chance(0.15) and a.atomic:
            text = f"{a.text}.{fn[3:]}({', '.join(args[1:])})"    # the method form
        else:
            text = f"{fn}({', '.join(args)})"
        return _Expr(text, _reduced(a.shape, axis, keep), active=a.active)

    def fresh_expr(self, depth, target) -> _Expr:
        """An expression that makes a new array (never a name or view of another)."""
        e = self.expr(depth, target)
        if e.view is not None:
            e = _Expr(self.pick((f"{e.p} * {self.pick(_CONSTANTS)}", f"np.sin({e.text})",
                                 f"{e.p} + 1.0")), e.shape, atomic=False, active=e.active)
        return e

    def exact(self, shape, depth=1) -> _Expr:
        """An expression of exactly ``shape``, a new array."""
        same = self.prefer_active([n for n in self.arrays() if self.env[n].shape == shape])
        if same:
            name = self.pick(same)
            base = _Expr(name, shape, active=self.env[name].active)
        else:
            base = _Expr(f"np.ones({shape})" if shape else "1.0", shape, active=False)
        e = self.expr(depth, shape)
        op = self.pick(("+", "-", "*"))
        return _Expr(f"{base.p} {op} {e.p}", shape, atomic=False, active=base.active or e.active)

    def scalar(self, depth=2) -> _Expr:
        """A scalar from the data (the left side of a condition)."""
        for _ in range(5):
            e = self.leaf(()) if self.chance(0.3) else self.reduction(depth, (), axis_none=True)
            if e.active:
                break
        return e

    def condition(self) -> str:
        return f"{self.scalar().text} {self.pick(('>', '<'))} {self.threshold()}"

    # -- helper functions ---------------------------------------------------------------------

    def helper(self, shapes):
        """Define a module-level helper with a float keyword parameter or two (and maybe a
        second array and an int trip count), its body written by the same generator."""
        name = self.fresh("helper")
        u = self.pick(shapes)
        params = [("u", u, None)]
        if self.chance(0.4):
            v = self.pick([s for s in shapes if _broadcast(s, u)] or [()])
            params.append(("v", v, None))
        for pname in ("scale", "shift")[:int(self.rng.integers(1, 3))]:
            params.append((pname, "float", self.pick(_CONSTANTS)))
        if self.chance(0.25):
            params.append(("n", "int", str(int(self.rng.integers(1, 3)))))
        passable = [k for _, k in self.containers if k[0] in ("dict", "plist")]
        if passable and self.chance(0.6):           # a container parameter: q['W'] inside
            kind = self.pick(passable)
            params.insert(len(params) - sum(d is not None for _, _, d in params),
                          ("q" if kind[0] == "dict" else "vs", kind, None))
        mutates = bool(u) and self.chance(0.2)
        env = {}
        for pname, kind, _ in params:
            if kind == "int":
                env[pname] = _Var("int", param=True)
            elif _is_container(kind):
                env.update(container_env(pname, kind))
            else:
                env[pname] = _Var("array", () if kind == "float" else kind, param=True,
                                  active=kind != "float")
        if mutates:                     # it writes into the caller's array
            env["u"] = _Var("array", u, owned=True)
        budget = int(self.rng.integers(0, 3))
        outer, self.frame = self.frame, _Frame(env, budget, top_level_return=False)
        try:
            self.frame.fixed |= _fixed(env)
            if mutates:
                self.frame.fixed.add("u")
            if budget:
                self.statements(budget)
            if mutates:
                self.write_into("u")
            result = self.exact(self.target(), depth=2)
            self.emit(f"return {result.text}")
            lines = self.frame.lines
        finally:
            self.frame = outer
        signature = ", ".join(p if d is None else f"{p}={d}" for p, _, d in params)
        self.helpers.append(_Helper(name, tuple(params), result.shape, mutates))
        return [f"def {name}({signature}):"] + lines

    def callable_here(self) -> list:
        return self.helpers + (self.locals if self.frame is self.main else [])

    def call(self, target, pool=None) -> _Expr | None:
        """A call of a helper (or of one of ``pool``) whose result fits ``target`` (None:
        any result)."""
        shapes = {n: v.shape for n, v in self.env.items() if v.kind == "array"}
        writable = {n: self.env[n].shape for n in self.arrays(writable=True)}
        fitting = [h for h in pool or self.callable_here() if (
            target is None or _fits(h.result, target)) and all(
            kind in ("float", "int") or kind in shapes.values() or _is_container(kind)
            for _, kind, _ in h.params)
            and (not h.mutates or h.params[0][1] in writable.values())]
        if not fitting:
            return None
        h = self.pick(fitting)
        args, keywords = [], False
        for pname, kind, default in h.params:
            if pname == "u" and h.mutates:              # the array it writes into
                value = self.pick([n for n, s in writable.items() if s == kind])
                self.written(value)
            elif kind == "int":
                value = str(int(self.rng.integers(1, 4)))
            elif kind == "float":
                value = self.pick(_CONSTANTS) if self.chance(0.6) else self.scalar(1).text
            elif _is_container(kind):
                value = self.container_value(kind)
            else:
                value = self.exact(kind, depth=0).text if self.chance(0.5) else self.pick(
                    [n for n, s in shapes.items() if s == kind])
            if default is not None and self.chance(0.35):
                keywords = True                         # left to its default
                continue
            if keywords or (default is not None and self.chance(0.6)) or self.chance(0.1):
                keywords = True
                args.append(f"{pname}={value}")
            else:
                args.append(value)
        return _Expr(f"{h.name}({', '.join(args)})", h.result)

    # -- statements ---------------------------------------------------------------------------

    def statements(self, count):
        """Up to ``count`` statements, at least one (a block is never empty), while the
        frame's budget lasts."""
        for k in range(count):
            if k and self.frame.budget <= 0:
                break
            self.statement()

    def statement(self):
        frame = self.frame
        frame.budget -= 1
        nested = frame.depth < 2 and frame.budget > 0
        writable = self.arrays(writable=True)
        kind = self.weighted({
            "assign": 3, "own": 2.5 if not writable else 0.7,
            "write": 4 if writable else 0, "augment": 1,
            "for": 2 if nested else 0, "while": 1 if nested else 0,
            "if": 1.5 if nested else 0, "ifexp": 0.4, "list": 1 if nested else 0,
            "unused": 0.6 if nested else 0, "rebind_view": 0.3 if frame.depth == 0 else 0,
            "index": 0.3 if frame.depth == 0 else 0,
            "early_return": 0.4 if frame.early_return and frame.depth == 0 else 0,
            # the Python around the numerics
            "gensum": 0.5, "listcomp": 0.5 if nested else 0,
            "dictcomp": 0.5 if self.of_kind("dict") else 0,
            "container_loop": 0.7 if nested and self.of_kind("dict", "plist") else 0,
            "lambda": 0.4 if frame is self.main and frame.depth == 0 else 0,
            "guard": 0.3 if frame.depth == 0 else 0,
            "call_local": 1.0 if self.locals and frame is self.main else 0,
        })
        getattr(self, f"stmt_{kind}")()

    def prefer_active(self, names):
        return [n for n in names if self.env[n].active] or names

    def target(self) -> tuple:
        arrays = self.prefer_active(self.arrays())
        return self.pick([self.env[n].shape for n in arrays]) if arrays else ()

    def stmt_assign(self):
        """A new variable, or (at top level) a new value for an old name of any shape; in a
        block, an old name keeps its shape: ``acc = acc * c + e``."""
        olds = [n for n in self.arrays() if not self.env[n].base and n not in self.frame.fixed]
        if self.frame.depth and olds and self.chance(0.7):
            name = self.pick(olds)
            shape = self.env[name].shape
            e = self.expr(2, shape)
            text = self.pick((f"{name} + {e.p}", f"{name} * {self.pick(_CONSTANTS)} + {e.p}",
                              f"np.tanh({name}) * {e.p}", f"{name} - {e.p} * 0.5"))
            self.emit(f"{name} = {text}")
            self.bind(name, _Expr(text, shape, atomic=False,
                                  active=e.active or self.env[name].active))
            self.written(name)
            return
        if self.frame.depth == 0 and olds and self.chance(0.25):
            name = self.pick(olds)
        else:
            name = self.fresh("t")
        e = self.fresh_expr(3, self.target())
        self.emit(f"{name} = {e.text}")
        self.written(name)
        self.bind(name, e)

    def stmt_rebind_view(self):
        """An old name becomes a view of another array (later, not earlier, writes count);
        half the time the array is then written into, which NumPy shows through the view."""
        olds = [n for n in self.arrays(ndim_min=1) if not self.env[n].param
                and n not in self.frame.fixed]
        sources = self.arrays(ndim_min=1)
        if not olds or not sources:
            return self.stmt_assign()
        name, source = self.pick(olds), self.pick(sources)
        reads = [r for r in self.reads(source, self.env[source].shape) if r[2]]
        text, shape, _ = self.pick(reads)
        view = _Var("array", shape, base=self.env[source].base or source,
                    active=self.env[source].active)
        self.emit(f"{name} = {text}")
        self.written(name)
        self.env[name] = view
        if view.base in self.arrays(writable=True) and self.chance(0.5):
            self.keep_views = True    # the write shows through the view, which is read later
            self.write_into(view.base)
            self.keep_views = False

    def stmt_own(self):
        """An array of the function's own, to write into."""
        sources = self.arrays(ndim_min=1)
        name = self.fresh("a")
        if not sources or self.chance(0.1):
            shape = self.pick([s for s in SHAPES if s])
            text, active = self.pick((f"np.zeros({shape})", f"np.ones({shape}) * 0.5")), False
        else:
            source = self.pick(sources)
            shape, active = self.env[source].shape, self.env[source].active
            text = self.pick((f"{source} * 1.0", f"np.copy({source})", f"{source}.copy()",
                              f"np.zeros_like({source})", f"{source} * 1.0",
                              f"np.copy({source})", f"np.sin({source})"))
            active = active and "zeros" not in text
        self.emit(f"{name} = {text}")
        self.env[name] = _Var("array", shape, owned=True, active=active)

    def stmt_index(self):
        dim, length = self.pick(((3, 3), (4, 3), (3, 4), (4, 4)))
        values = [int(v) for v in self.rng.integers(0, dim, length)]
        values[-1] = values[0]                        # a repeated index
        name = self.fresh("idx")
        self.emit(f"{name} = np.array({values})")
        self.env[name] = _Var("index", length=length, values=tuple(values))

    def write_targets(self, name, shape):
        """(target text, target shape) of subscript writes into ``name``."""
        if len(shape) == 2:
            r, c = shape
            out = [(f"{name}[{self.index(r)}]", (c,)), (f"{name}[:, {self.index(c)}]", (r,)),
                   (f"{name}[{self.index(r)}, {self.index(c)}]", ()),
                   (f"{name}[{self.fancy(r, 3)}]", (3, c)),
                   (f"{name}[{self.fancy(r, 3)}, {self.index(c)}]", (3,))]
            j = int(self.rng.integers(0, c))
            out.append((f"{name}[:, {j}:]", (r, c - j)))
            i = int(self.rng.integers(0, r))
            out.append((f"{name}[{i}:]", (r - i, c)))
            return out
        (n,) = shape
        i = int(self.rng.integers(0, n))
        length = self.pick((3, 4))
        return [(f"{name}[{self.index(n)}]", ()),
                (f"{name}[{self.fancy(n, length)}]", (length,)),
                (f"{name}[{i}:]", (n - i,)), (f"{name}[{self.index(n)}]", ())]

    def stmt_write(self):
        writable = self.arrays(writable=True)
        if not writable:
            return self.stmt_own()
        self.write_into(self.pick(writable))

    def write_into(self, name):
        shape = self.env[name].shape
        if shape[0] > 1 and self.chance(0.25):        # a write that reads what it overwrites
            c = self.pick(_CONSTANTS)
            lead = "" if len(shape) == 1 or self.chance(0.6) else ":, "
            if lead and shape[1] == 1:
                lead = ""
            forms = (f"{name}[{lead}1:] = {name}[{lead}:-1] * {c}",
                     f"{name}[{lead}1:] += {name}[{lead}:-1] * {c}",
                     f"{name}[{lead}:-1] = {name}[{lead}1:] - {c} * {name}[{lead}:-1]")
            self.emit(self.pick(forms))
        else:
            text, tshape = self.pick(self.write_targets(name, shape))
            value = self.expr(2, tshape)
            op = self.weighted({"=": 3, "+=": 2, "-=": 0.5, "*=": 0.5})
            self.emit(f"{text} {op} {value.text}")
            self.activate(name, value)
        self.written(name)

    def stmt_augment(self):
        names = [n for n in self.arrays() if not self.env[n].param and not self.env[n].base
                 and (self.env[n].owned or self.env[n].shape == ())
                 and n not in self.frame.frozen and n not in self.frame.fixed]
        if not names:
            return self.stmt_assign()
        name = self.pick(names)
        value = self.expr(2, self.env[name].shape)
        self.emit(f"{name} {self.pick(('+=', '-=', '*='))} {value.text}")
        self.activate(name, value)
        self.written(name)

    def body(self, loop_var=None, control=True):
        """The statements of a loop body: some, then maybe a break/continue, then some."""
        self.statements(int(self.rng.integers(1, 3)))
        if control and self.chance(0.5):
            self.control(loop_var)
            if self.chance(0.5):
                self.statements(1)
        if self.frame.early_return and self.chance(0.1):
            self.stmt_early_return()

    def control(self, loop_var=None):
        keyword = self.pick(("break", "continue"))
        var = self.env.get(loop_var)
        if var is not None and var.lo is not None and self.chance(0.3):
            self.emit(f"if {loop_var} == {int(self.rng.integers(var.lo, var.hi + 1))}:")
        else:
            self.emit(f"if {self.condition()}:")
        with self.block():
            self.emit(keyword)

    def loop_header(self):
        """A ``for`` header: (text, name of an int loop variable or None)."""
        i = self.pick([n for n in ("i", "j", "k") if n not in self.env] or [self.fresh("i")])
        arrays = self.arrays(ndim_min=1)
        form = self.weighted({"range": 4, "shape": 1 if arrays else 0,
                              "reversed": 1, "rows": 1 if arrays else 0,
                              "enumerate": 0.7 if arrays else 0, "zip": 0.5 if arrays else 0,
                              "param": 1 if "n" in self.env and self.env["n"].kind == "int"
                              and self.env["n"].param else 0})
        if form == "param":           # an int argument (its value known) or helper parameter
            n = self.env["n"].hi
            return f"for {i} in range(n):", i, (0, n - 1) if n else None, None
        if form in ("range", "reversed"):
            n = int(self.rng.integers(1, 5))
            if form == "reversed":
                return f"for {i} in range({n - 1}, -1, -1):", i, (0, n - 1), None
            if self.chance(0.3) and n > 1:
                return f"for {i} in range(1, {n}):", i, (1, n - 1), None
            return f"for {i} in range({n}):", i, (0, n - 1), None
        a = self.pick(arrays)
        shape = self.env[a].shape
        if form == "shape":
            return f"for {i} in range({a}.shape[0]):", i, (0, shape[0] - 1), None
        row = self.fresh("row")
        self.env[row] = _Var("array", shape[1:], base=self.env[a].base or a)
        if not self.chance(ALIASING):     # else the body may write into the rows to come
            self.frame.frozen.add(self.env[a].base or a)
        if form == "rows":
            return f"for {row} in {a}:", None, None, row
        if form == "enumerate":
            return f"for {i}, {row} in enumerate({a}):", i, (0, shape[0] - 1), row
        partners = [b for b in arrays if self.env[b].shape[0] == shape[0] and b != a]
        if not partners:
            return f"for {row} in {a}:", None, None, row
        b = self.pick(partners)
        other = self.fresh("row")
        self.env[other] = _Var("array", self.env[b].shape[1:], base=self.env[b].base or b)
        if not self.chance(ALIASING):
            self.frame.frozen.add(self.env[b].base or b)
        return f"for {row}, {other} in zip({a}, {b}):", None, None, row

    def stmt_for(self, control=True, search=False):
        frozen = set(self.frame.frozen)
        with self.block():
            header, i, bounds, _ = self.loop_header()
            self.frame.indent -= 1
            self.emit(header)
            self.frame.indent += 1
            if i is not None:
                self.env[i] = _Var("int", lo=bounds[0], hi=bounds[1]) if bounds else \
                    _Var("int")
            self.body(i, control)
            if search:
                self.emit(f"if {self.condition()}:")
                with self.block():
                    self.emit("break")
        self.frame.frozen = frozen

    def stmt_while(self, control=True):
        k = self.fresh("k")
        n = int(self.rng.integers(1, 5))
        self.emit(f"{k} = 0")
        cond = f"{k} < {n}"
        if self.chance(0.3):
            cond = self.pick((f"{cond} and {self.condition()}", f"{self.condition()} and {cond}"))
        self.emit(f"while {cond}:")
        increment = self.pick((f"{k} = {k} + 1", f"{k} += 1"))
        first = control and self.chance(0.4)          # continue needs the increment first
        with self.block():
            if first:
                self.emit(increment)
                self.env[k] = _Var("int", lo=1, hi=n)
                self.body(k, control)
            else:
                self.env[k] = _Var("int", lo=0, hi=n - 1)
                self.statements(int(self.rng.integers(1, 3)))
                if control and self.chance(0.4):
                    self.emit(f"if {self.condition()}:")
                    with self.block():
                        self.emit("break")
                self.emit(increment)
        self.env[k] = _Var("int")

    def stmt_if(self):
        self.emit(f"if {self.condition()}:")
        with self.block():
            self.statements(int(self.rng.integers(1, 3)))
        while self.chance(0.25):
            self.emit(f"elif {self.condition()}:")
            with self.block():
                self.statements(1)
        if self.chance(0.6):
            self.emit("else:")
            with self.block():
                self.statements(int(self.rng.integers(1, 3)))

    def stmt_ifexp(self):
        shape = self.target()
        a, b = self.exact(shape), self.exact(shape)
        name = self.fresh("t")
        self.emit(f"{name} = {a.text} if {self.condition()} else {b.text}")
        self.written(name)
        self.bind(name, _Expr(name, shape, atomic=False, active=a.active or b.active))

    def stmt_list(self):
        """``lst = []``, a loop that appends, then ``np.stack`` or ``sum`` of the list."""
        lst = self.fresh("lst")
        n = int(self.rng.integers(1, 5))
        element = self.pick([s for s in SHAPES if s in ((), (3,), (4,)) or self.chance(0.2)])
        stacked = []                                  # (axis, shape of the stack)
        if (n,) + element in SHAPES:
            stacked.append((0, (n,) + element))
        if len(element) == 1 and (element[0], n) in SHAPES:
            stacked.append((1, (element[0], n)))
        stop = self.chance(0.3) and n > 1
        self.emit(f"{lst} = []")
        i = self.pick([v for v in ("i", "j") if v not in self.env] or [self.fresh("i")])
        self.emit(f"for {i} in range({n}):")
        with self.block():
            self.env[i] = _Var("int", lo=0, hi=n - 1)
            if self.chance(0.4):
                self.statements(1)
            item = self.exact(element, depth=2)
            same = [n for n in self.arrays(writable=True) if self.env[n].shape == element]
            if same and self.chance(ALIASING):        # the list holds the array, not a copy
                name = self.pick(same)
                item = _Expr(name, element, active=self.env[name].active)
            self.emit(f"{lst}.append({item.text})")
            if stop:
                self.emit(f"if {self.condition()}:")
                with self.block():
                    self.emit("break")
        name = self.fresh("t")
        if stacked and not stop and self.chance(0.7):
            axis, shape = self.pick(stacked)
            self.emit(f"{name} = np.stack({lst}" + (f", axis={axis})" if axis else ")"))
        else:
            shape = element
            self.emit(f"{name} = sum({lst})")
        self.env[name] = _Var("array", shape, owned=True, active=item.active)
        self.env[lst] = _Var("list", element, length=None if stop else n, active=item.active)

    def stmt_unused(self):
        """A loop whose values nothing reads afterwards: a search that ends in a break, or a
        while loop."""
        frame = self.frame
        before = set(frame.writes)
        frame.writes.clear()
        if self.chance(0.6):
            self.stmt_for(control=False, search=True)
        else:
            self.stmt_while(control=False)
        for name in frame.writes:                   # what the loop changed is not read again
            if name in frame.env and not frame.env[name].param and name not in frame.fixed:
                del frame.env[name]
        frame.writes |= before

    def stmt_early_return(self):
        self.emit(f"if {self.condition()}:")
        with self.block():
            self.emit(f"return {self.result()}")
        self.frame.early_return = False

    def result(self) -> str:
        """The returned float: reductions of a few of the live arrays."""
        names = [n for n in self.arrays() if self.env[n].active] or self.arrays() or ["1.0"]
        chosen = list(dict.fromkeys(self.pick(names[-4:] if self.chance(0.6) else names)
                                    for _ in range(int(self.rng.integers(1, 4)))))
        terms = []
        for name in chosen:
            shape = self.env[name].shape if name in self.env else ()
            if not shape and self.chance(0.5):
                terms.append(name)
                continue
            terms.append(self.pick((f"np.sum({name})", f"np.mean({name})",
                                    f"np.sum({name} * {name})", f"np.sum(np.sin({name}))",
                                    f"0.5 * np.sum({name})")))
        if not any("np." in t for t in terms):
            terms[0] = f"np.sum({terms[0]})"
        return " + ".join(terms)

    # -- the Python around the numerics: containers, comprehensions, methods, lambdas ------

    def of_kind(self, *kinds) -> list:
        return [n for n, v in self.env.items() if v.kind in kinds]

    def container_value(self, kind) -> str:
        """An argument for a helper's container parameter of ``kind``: a container of the
        caller's with that structure, or a dict or list display built in the call."""
        same = [n for n, v in self.env.items() if v.kind == kind[0] and v.keys == kind]
        if same and self.chance(0.7):
            return self.pick(same)
        if kind[0] == "dict":
            return "{" + ", ".join(f"{k!r}: {self.exact(shape, depth=0).text}"
                                   for k, shape in kind[1]) + "}"
        return "[" + ", ".join(self.exact(kind[1], depth=0).text for _ in range(kind[2])) + "]"

    def klass(self, arg, kind):
        """The class of the object argument ``arg`` (a plain class or a dataclass) with a
        method (``apply`` or ``__call__``) the generator writes, called in f on ``arg``."""
        _, cls, fields = kind
        dataclass = self.chance(0.5)
        lines = ["@dataclasses.dataclass", f"class {cls}:"] if dataclass else [f"class {cls}:"]
        if dataclass:
            lines += [f"    {k}: {'float' if shape == () else 'np.ndarray'}"
                      for k, shape in fields] + [""]
        else:
            lines += [f"    def __init__(self, {', '.join(k for k, _ in fields)}):"]
            lines += [f"        self.{k} = {k}" for k, _ in fields] + [""]
        shapes = [shape for _, shape in fields]
        u = self.pick([s for s in _ARG_SHAPES if all(_broadcast(s, t) for t in shapes)] or [()])
        params = [("u", u, None)] + ([("scale", "float", self.pick(_CONSTANTS))]
                                     if self.chance(0.5) else [])
        method = self.pick(("apply", "apply", "__call__"))
        env = {pname: _Var("array", () if k == "float" else k, param=True,
                           active=k != "float") for pname, k, _ in params}
        env.update(container_env("self", kind))
        outer, self.frame = self.frame, _Frame(env, int(self.rng.integers(0, 3)),
                                               top_level_return=False)
        self.frame.indent = 2
        try:
            self.frame.fixed |= _fixed(env) | {"u"}      # the result reads u as it came
            if self.frame.budget:
                self.statements(self.frame.budget)
            shape = _broadcast(u, self.env["self.w"].shape)
            e = self.expr(2, shape)
            result = _Expr(self.pick((f"u * {e.p}", f"u + {e.p}", f"np.tanh(u) * {e.p}",
                                      f"{e.p} - u * self.b")), _broadcast(u, e.shape))
            self.emit(f"return {result.text}")
            body = self.frame.lines
        finally:
            self.frame = outer
        signature = ", ".join(["self"] + [p if d is None else f"{p}={d}" for p, _, d in params])
        self.locals.append(_Helper(arg if method == "__call__" else f"{arg}.{method}",
                                   tuple(params), result.shape))
        return lines + [f"    def {method}({signature}):"] + body

    def stmt_call_local(self):
        """``t = m.apply(...)``, ``t = m(...)`` or ``t = act(...)``: a method of an argument or
        a lambda of f's, called."""
        e = self.call(None, self.locals)
        if e is None:
            return self.stmt_assign()
        name = self.fresh("t")
        self.emit(f"{name} = {e.text}")
        self.written(name)
        self.bind(name, e)

    def stmt_lambda(self):
        """``act = lambda z: ...`` (reading z, and maybe a container argument's leaves: a
        closure over names never rebound), called later in f like a helper."""
        shape = self.target()
        name = self.fresh("act")
        env = {"z": _Var("array", shape, param=True)}
        env.update({n: v for n, v in self.env.items() if v.kind == "array" and "[" in n
                    and n in self.frame.fixed and self.chance(0.3)})
        outer, self.frame = self.frame, _Frame(env, 0, top_level_return=False)
        try:
            body = self.exact(shape, depth=2)
        finally:
            self.frame = outer
        self.emit(f"{name} = lambda z: {body.text}")
        self.locals.append(_Helper(name, (("z", shape, None),), body.shape))

    def comprehension_loop(self):
        """A loop variable and the ``for`` of a comprehension: over a range (its int variable
        in scope) or over the rows of an array; (variable, clause, element count or None)."""
        arrays = self.arrays(ndim_min=1)
        if arrays and self.chance(0.3):
            a = self.pick(arrays)
            row = self.fresh("r")
            self.env[row] = _Var("array", self.env[a].shape[1:], active=self.env[a].active)
            return f"for {row} in {a}", self.env[a].shape[0]
        i = self.pick([v for v in ("i", "j") if v not in self.env] or [self.fresh("i")])
        n = int(self.rng.integers(1, 5))
        self.env[i] = _Var("int", lo=0, hi=n - 1)
        if n > 1 and self.chance(0.3):
            skip = int(self.rng.integers(0, n))
            return f"for {i} in range({n}) if {i} != {skip}", n - 1
        return f"for {i} in range({n})", n

    def stmt_gensum(self):
        """``t = sum(<expr of i> for i in range(n))`` (or over rows of an array, or the
        elements of a list argument)."""
        name = self.fresh("t")
        target = self.target()
        plists = [n for n in self.of_kind("plist") if _fits(self.env[n].shape, target)]
        with self.block():
            if plists and self.chance(0.4):
                lst = self.pick(plists)
                w = self.fresh("w")
                self.env[w] = _Var("array", self.env[lst].shape, param=True)
                clause = f"for {w} in {lst}"
            else:
                clause, _ = self.comprehension_loop()
            e = self.expr(2, target)
        self.emit(f"{name} = sum({e.text} {clause})")
        self.written(name)
        self.env[name] = _Var("array", e.shape, owned=True, active=e.active)

    def stmt_listcomp(self):
        """``lst = [<expr> for ...]``, then ``np.stack``, ``sum`` or a NumPy reduction of it."""
        lst, name = self.fresh("lst"), self.fresh("t")
        element = self.pick([s for s in SHAPES if s in ((), (3,), (4,)) or self.chance(0.2)])
        with self.block():
            clause, n = self.comprehension_loop()
            item = self.exact(element, depth=2)
        self.emit(f"{lst} = [{item.text} {clause}]")
        forms = [(f"sum({lst})", element), (f"np.sum({lst}, axis=0)", element),
                 (f"np.mean({lst}, axis=0)", element)]
        if (n,) + element in SHAPES:
            forms.append((f"np.stack({lst})", (n,) + element))
        if not element:
            forms.append((f"np.max({lst})" if n == 1 else f"np.sum({lst})", ()))
        text, shape = self.pick(forms)
        self.emit(f"{name} = {text}")
        self.written(name)
        self.env[name] = _Var("array", shape, owned=True, active=item.active)
        self.env[lst] = _Var("list", element, length=n, active=item.active)

    def stmt_dictcomp(self):
        """``q = {key: <elementwise>(p[key]) for key in (...)}`` over some of a dict's keys;
        ``q['W']`` is then read like an array."""
        d = self.pick(self.of_kind("dict"))
        kind = self.env[d].keys
        keys = kind[1] if len(kind[1]) == 1 or self.chance(0.5) else kind[1][:-1]
        template = self.pick(("np.sin({})", "{} * 0.5", "np.tanh({}) + 1.0", "{} ** 2.0",
                              "np.exp(-{} ** 2.0)"))
        name = self.fresh("q")
        names = tuple(k for k, _ in keys)
        self.emit(f"{name} = {{key: {template.format(f'{d}[key]')} for key in {names!r}}}")
        self.env.update(container_env(name, ("dict", tuple(keys)), param=False))
        self.frame.fixed |= _fixed(container_env(name, ("dict", tuple(keys))))

    def stmt_container_loop(self):
        """A loop over a container: ``for v in p.values()`` / ``for key, v in p.items()``
        summing a function of each value, or ``for w in ws`` with a body of statements (no
        break or continue: srcad refuses them in loops over containers)."""
        names = self.of_kind("dict", "plist")
        c = self.pick(names)
        if self.env[c].kind == "dict":
            acc = self.fresh("t")
            v = self.fresh("v")
            header = self.pick((f"for {v} in {c}.values():", f"for key, {v} in {c}.items():"))
            term = self.pick((f"np.sum(np.sin({v}))", f"np.sum({v} * {v})",
                              f"np.mean(np.tanh({v}))", f"0.5 * np.sum({v})"))
            self.emit(f"{acc} = 0.0")
            self.emit(header)
            self.emit(f"    {acc} = {acc} + {term}")
            self.written(acc)
            self.env[acc] = _Var("array", (), active=True)
            return
        frame = self.frame
        early, frame.early_return = frame.early_return, False
        with self.block():
            w = self.fresh("w")
            self.frame.indent -= 1
            self.emit(f"for {w} in {c}:")
            self.frame.indent += 1
            self.env[w] = _Var("array", self.env[c].shape, param=True)
            frame.fixed.add(w)
            self.statements(int(self.rng.integers(1, 3)))
        frame.early_return = early

    def stmt_guard(self):
        """A primal-only check: ``assert`` or ``if ...: raise`` on shapes, on a container's
        structure or on the data (never failing: ``validate`` redraws a program whose guard
        fails)."""
        forms = []
        for name, var in self.env.items():
            if var.kind == "array":
                forms += [[f"assert np.shape({name}) == {var.shape!r}, 'guard'"],
                          [f"if np.ndim({name}) != {len(var.shape)}:",
                           f"    raise ValueError({'guard: ' + name + ' has the wrong rank'!r})"]]
            elif var.kind == "dict":
                forms.append([f"assert {self.pick(var.keys[1])[0]!r} in {name}, 'guard'"])
                forms.append([f"if not isinstance({name}, dict):",
                              "    raise TypeError('guard: a dict of arrays')"])
            elif var.kind == "plist":
                forms.append([f"assert len({name}) == {var.length}, 'guard'"])
        arrays = self.arrays()
        if arrays:
            a = self.pick(arrays)
            forms.append([f"if np.sum({a} * {a}) > 1000000.0:",
                          "    raise ValueError('guard: too large')"])
        if not forms:
            return self.stmt_assign()
        for line in self.pick(forms):
            self.emit(line)


def _is_container(kind) -> bool:
    """Is a helper parameter's kind a container's (``container_env``)?"""
    return isinstance(kind, tuple) and bool(kind) and isinstance(kind[0], str)


def _container_kind(value, cls=None):
    """The kind of a container argument: ('dict', ((key, shape), ...)), ('plist', element
    shape, length) or ('object', class name, ((attribute, shape), ...))."""
    if isinstance(value, dict):
        return ("dict", tuple((k, np.shape(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("plist", np.shape(value[0]), len(value))
    return ("object", value.cls, tuple((k, np.shape(v)) for k, v in value.fields))


def container_env(name, kind, param=True) -> dict:
    """The variables of a container ``name`` of ``kind``: its leaves (``p['W']``, ``ws[0]``,
    ``self.w``), arrays never rebound or written into (``_fixed``), and the container."""
    env = {}
    if kind[0] == "dict":
        for k, shape in kind[1]:
            env[f"{name}[{k!r}]"] = _Var("array", shape, param=param)
    elif kind[0] == "plist":
        for i in range(kind[2]):
            env[f"{name}[{i}]"] = _Var("array", kind[1], param=param)
    else:
        for k, shape in kind[2]:
            env[f"{name}.{k}"] = _Var("array", shape, param=param)
    env[name] = _Var(kind[0], kind[1] if kind[0] == "plist" else (), param=param,
                     length=kind[2] if kind[0] == "plist" else None, keys=kind)
    return env


def _fixed(env) -> set:
    """The names of ``env`` never rebound: containers and their leaves."""
    return {n for n, v in env.items() if v.kind in ("dict", "plist", "object")
            or "[" in n or "." in n}


def _container(gen, name):
    """A container argument: a dict of arrays and floats, a list of arrays of one shape, or
    an object of a class of the program's."""
    g = gen.rng

    def leaf(shape):
        return g.standard_normal(shape) if shape else float(g.standard_normal())
    kind = gen.weighted({"dict": 3, "list": 2, "object": 2})
    if kind == "dict":
        keys = [k for k in ("W", "b", "c") if gen.chance(0.7)] or ["W"]
        return Arg(name or "p", {k: leaf(gen.pick(_ARG_SHAPES)) for k in keys})
    if kind == "list":
        shape = gen.pick(((4,), (3, 4), (3,), (3, 1)))
        return Arg(name or "ws", [leaf(shape) for _ in range(int(g.integers(2, 4)))])
    shape = gen.pick(((4,), (3, 4), (3, 1), (4,)))
    return Arg(name or "m", Instance(gen.fresh("Layer"), (("w", leaf(shape)), ("b", leaf(())))))


def _draw_args(gen):
    g = gen.rng
    count = gen.weighted({1: 2, 2: 3, 3: 2})
    args = []
    for name in ("x", "y", "z", "w")[:count]:
        shape = gen.pick(_ARG_SHAPES)
        if shape:
            args.append(Arg(name, g.standard_normal(shape)))
        else:
            value = float(g.standard_normal())
            kind = gen.weighted({"float": 6, "0-d": 3, "float64": 1})
            args.append(Arg(name, value if kind == "float" else np.array(value)
                            if kind == "0-d" else np.float64(value)))
    if gen.chance(CONTAINERS):
        args.insert(int(g.integers(0, len(args) + 1)), _container(gen, None))
    if gen.chance(0.15):
        args.append(Arg("n", int(g.integers(1, 4)), differentiable=False))
    return args


def _program(rng):
    gen = _Generator(rng)
    args = _draw_args(gen)
    env = {}
    for a in args:
        if not a.differentiable:
            env[a.name] = _Var("int", param=True, lo=a.value, hi=a.value)
        elif isinstance(a.value, (dict, list, Instance)):
            gen.containers.append((a.name, _container_kind(a.value)))
            env.update(container_env(a.name, gen.containers[-1][1]))
        else:
            env[a.name] = _Var("array", np.shape(a.value), param=True)
    shapes = [v.shape for v in env.values() if v.kind == "array"]
    helpers = []
    for _ in range(gen.weighted({0: 3, 1: 3, 2: 1})):
        helpers += gen.helper(shapes) + ["", ""]
    for name, kind in gen.containers:
        if kind[0] == "object":
            helpers += gen.klass(name, kind) + ["", ""]
    budget = int(gen.rng.integers(2, 10))
    gen.frame = gen.main = _Frame(env, budget)
    gen.frame.fixed |= _fixed(env)
    gen.statements(budget)
    gen.emit(f"return {gen.result()}")
    header = f"def f({', '.join(a.name for a in args)}):"
    imports = ["import dataclasses"] if "@dataclasses" in "\n".join(helpers) else []
    source = "\n".join(imports + ["import numpy as np", "", ""] + helpers + [header] +
                       gen.frame.lines)
    return source + "\n", args


# -- validation: run the program in NumPy, measuring how close it is to a kink ------------------

class _Probe:
    """``np`` for a validating run: ``np.max`` records its distance from a tie."""

    def __init__(self, gaps):
        self._gaps = gaps

    def __getattr__(self, name):
        return getattr(np, name)

    def max(self, a, axis=None, keepdims=False):
        a = np.asarray(a)
        flat = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
        if flat.shape[-1] > 1:
            top = np.sort(flat, axis=-1)
            self._gaps.append(float(np.min(top[..., -1] - top[..., -2])))
        return np.max(a, axis=axis, keepdims=keepdims)


_COMPARE = {ast.Gt: operator.gt, ast.Lt: operator.lt}


class _Instrument(ast.NodeTransformer):
    """``lhs > 0.5`` (a float literal on the right: a condition on data) becomes
    ``_margin(lhs, 0.5, '>')``, which records ``|lhs - 0.5|``."""

    def visit_Compare(self, node):
        self.generic_visit(node)
        right = node.comparators[0]
        number = right.operand if isinstance(right, ast.UnaryOp) else right
        if len(node.ops) == 1 and type(node.ops[0]) in _COMPARE and isinstance(
                number, ast.Constant) and isinstance(number.value, float):
            return ast.Call(ast.Name("_margin", ast.Load()),
                            [node.left, right, ast.Constant(type(node.ops[0]).__name__)], [])
        return node


def _read_only_leaf(value):
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flags.writeable = False
    return value


def read_only(value):
    """A copy of ``value`` whose arrays (in containers too) are read-only."""
    return map_leaves(_read_only_leaf, value)


def validate(source, args) -> bool:
    margins, gaps = [], []

    def margin(left, right, op):
        if np.ndim(left) != 0:
            raise AssertionError(f"generator bug: a condition on an array: {source}")
        margins.append(abs(float(left) - right))
        return {"Gt": operator.gt, "Lt": operator.lt}[op](left, right)

    tree = _Instrument().visit(ast.parse(source))
    probed = ast.unparse(ast.fix_missing_locations(tree))
    f = load(probed, {"_margin": margin})
    f.__globals__["np"] = _Probe(gaps)        # after the module's own `import numpy as np`
    values = [read_only(materialize(a.value, f.__globals__)) for a in args]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            out = f(*values)
        except FloatingPointError:
            return False
        except (AssertionError, ValueError, TypeError) as exc:
            if str(exc).startswith("guard"):       # a guard that fails: redrawn
                return False
            raise
    if np.ndim(out) != 0 or not np.isfinite(out) or abs(out) > MAX_VALUE:
        return False
    if min(margins + gaps, default=1.0) < MARGIN:
        return False
    return _conditioned(f, args, values)


def _conditioned(f, args, values) -> bool:
    """Can finite differences check ``f``'s derivative? Along a fixed random direction,
    central differences with steps 1e-6 and 1e-7 agree to 1e-4 (a program that amplifies
    its inputs chaotically, with derivatives of 1e4 and more, has no good step)."""
    rng = np.random.default_rng(0)
    points = [to_vector([v]) for v in values]
    directions = [rng.standard_normal(p.size) for p in points]

    def slope(h):
        def at(t):
            return float(f(*[from_vector(v, p + t * d) if a.differentiable else v
                             for a, v, p, d in zip(args, values, points, directions)]))
        return (at(h) - at(-h)) / (2 * h)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            coarse, fine = slope(1e-6), slope(1e-7)
        except FloatingPointError:
            return False
    return abs(coarse - fine) <= 1e-4 * max(1.0, abs(coarse))


def generate(seed: int):
    """``(source, args)``: a random valid differentiable program ``f`` and its arguments."""
    for attempt in range(_ATTEMPTS):
        source, args = _program(np.random.default_rng([seed, attempt]))
        if validate(source, args):
            return source, args
    raise RuntimeError(f"no valid program for seed {seed} in {_ATTEMPTS} attempts")
