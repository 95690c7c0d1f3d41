"""Parse: a Python function -> its gast FunctionDef (with the user's file line numbers) and
the Namespace it resolves names in (globals, closure cells, builtins)."""
from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import dis
import inspect
import linecache
import os
import site
import sysconfig
import sys
import textwrap
import types
import weakref
from dataclasses import dataclass, field

import gast

from .errors import Location, SourceUnavailableError, SrcadSyntaxError
from . import parsing

__all__ = ["Source", "Namespace", "AttributeOf", "parse_function", "UNRESOLVED", "function_state"]

UNRESOLVED = object()


class Namespace:
    """Where a function's free names live: its globals, closure cells and the builtins (and the
    names its own ``import`` statements bind, ``normalize.sugar``)."""

    def __init__(self, fn):
        self.globals = fn.__globals__
        code = fn.__code__
        self.cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
        self.imports: dict = {}      # names the function's own import statements bind
        try:                         # the function itself (the disk cache finds it again)
            self.owner: weakref.ref | None = weakref.ref(fn)
        except TypeError:
            self.owner = None

    def lookup(self, name: str):
        if name in self.imports:
            return self.imports[name]
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:
                return UNRESOLVED
        value = self.globals.get(name, UNRESOLVED)
        if value is UNRESOLVED and type(self.globals) is not dict:
            try:
                value = self.globals[name]    # a generated function's globals resolve lazily
            except KeyError:
                pass
        return value if value is not UNRESOLVED else getattr(builtins, name, UNRESOLVED)

    def resolve(self, node):
        """The object a Name / dotted Attribute chain refers to now (or an item of a dict it
        holds read by a constant key: ``TABLE['relu']``), or UNRESOLVED."""
        if isinstance(node, gast.Name):
            return self.lookup(node.id)
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant):
            base = self.resolve(node.value)
            return base.get(node.slice.value, UNRESOLVED) if type(base) is dict else UNRESOLVED
        if isinstance(node, gast.Attribute):
            base = self.resolve(node.value)
            if base is UNRESOLVED:
                return UNRESOLVED
            return getattr(base, node.attr, UNRESOLVED)
        return UNRESOLVED


class AttributeOf:
    """Names read as attributes of one object: where ``helpers.h`` or ``np.sin`` is looked
    up again to see whether it was rebound (a dependency of a built derivative)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def lookup(self, name: str):
        return getattr(self.obj, name, UNRESOLVED)


class ItemOf:
    """Items of one dict read by constant keys (``TABLE['relu']`` of a global table of
    functions): where an item is looked up again to see whether it was rebound (a
    dependency of a built derivative)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def lookup(self, key):
        return self.obj.get(key, UNRESOLVED)

    def __deepcopy__(self, memo):       # held by a node that is copied: the same dict
        return self


class KeysOf:
    """The keys of the dict a name holds, as they were when the derivative was built
    (``f(x, **opts)`` of a global or closure ``opts``: one keyword per key, its value read at
    call time): a dependency, stale once the name holds a dict of other keys (``lookup`` is
    then UNRESOLVED)."""

    __slots__ = ("namespace", "name", "keys")

    def __init__(self, namespace, name: str, keys: tuple):
        self.namespace, self.name, self.keys = namespace, name, keys

    def lookup(self, name: str):
        now = self.namespace.lookup(self.name)
        return self.keys if type(now) is dict and tuple(now) == self.keys else UNRESOLVED

    def __deepcopy__(self, memo):       # held by a node that is copied: the same namespace
        return self


@dataclass
class Source:
    """A parsed function: its definition (gast, user line numbers) and where it came from."""

    fn: types.FunctionType
    node: gast.FunctionDef
    filename: str
    namespace: Namespace
    text: str
    first_line: int
    lines: list = field(default_factory=list)

    @property
    def generated(self) -> bool:
        """Is this srcad's own generated code (being differentiated again)?"""
        return self.filename.startswith("<srcad ")

    def location(self, node) -> Location:
        return Location(self.filename, getattr(node, "lineno", None),
                        getattr(node, "col_offset", None))

    def line_text(self, lineno: int) -> str:
        i = lineno - self.first_line
        if 0 <= i < len(self.lines):
            return self.lines[i].strip()
        return ""


def _unwrap(fn):
    """The function whose code runs: a derivative srcad returned gives its generated code; a
    wrapper that is not a Python function (``functools.lru_cache``) what it wraps. A Python
    wrapper is its own code (``functools.wraps`` sets ``__wrapped__`` on wrappers that
    change values too: ``2.0 * fn(x)``)."""
    while True:
        current = getattr(fn, "__srcad_current__", None)
        if current is not None:
            return current()
        inner = getattr(fn, "__wrapped__", None)
        if inner is None or isinstance(fn, types.FunctionType):
            return fn
        fn = inner


def _library_roots() -> tuple:
    """The directories installed libraries and the standard library live in."""
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    try:
        roots |= {*site.getsitepackages(), site.getusersitepackages()}
    except AttributeError:      # a virtualenv's old site module
        pass
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)


_LIBRARY_ROOTS = _library_roots()


def _is_library(fn: types.FunctionType) -> bool:
    """Is ``fn`` defined in an installed library (site-packages, the standard library), not in
    the user's own code? srcad never inlines those: they are primitives (a rule or a
    NoRuleError), never source to differentiate (scipy's internals use what srcad refuses)."""
    filename = fn.__code__.co_filename
    if filename.startswith("<"):
        return False                # exec'd or generated code: the user's
    return os.path.realpath(filename).startswith(_LIBRARY_ROOTS)


def _is_user_function(obj) -> bool:
    if not isinstance(obj, types.FunctionType):
        return False
    if getattr(obj, "__srcad_current__", None) is not None:
        return True           # a derivative srcad returned (srcad.pickling names it)
    mod = getattr(obj, "__module__", "") or ""
    return not (mod.startswith("numpy") or mod.startswith("srcad.")
                or mod in ("math", "builtins") or _is_library(obj))


def parse_function(fn) -> Source:
    """Read and parse ``fn``'s source; raise SourceUnavailableError with advice if we cannot."""
    fn = _unwrap(fn)
    if isinstance(fn, (types.MethodType,)):
        fn = fn.__func__
    made = getattr(fn, "__srcad_parsed__", None)
    if made is not None:        # a local function srcad lifted (normalize.lifting): its
        return dataclasses.replace(made, node=copy.deepcopy(made.node))    # user's source
    if not isinstance(fn, types.FunctionType):
        raise SourceUnavailableError(
            f"cannot differentiate {fn!r}: it is not a Python function with source code",
            hint="srcad reads the source of plain `def` functions; for a NumPy or C function, "
                 "call it from a small Python function, or register a rule with "
                 "srcad.register_adjoint.")
    filename = getattr(fn, "__srcad_filename__", None) or fn.__code__.co_filename
    generated = getattr(fn, "__srcad_source__", None)
    if generated is not None and filename.startswith("<srcad ") and \
            filename not in linecache.cache:      # linecache.clearcache() dropped its lines
        linecache.cache[filename] = (len(generated), None, generated.splitlines(True),
                                     filename)
    try:    # of the code object where inspect would follow __wrapped__ from the function;
        # else of the function, whose module inspect finds by its __module__ (for a code
        # object it scans every loaded module's file the first time, milliseconds)
        lines, first_line = inspect.getsourcelines(
            fn.__code__ if hasattr(fn, "__wrapped__") or fn.__module__ not in sys.modules
            else fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__} ({filename}): {exc}",
            hint="srcad needs source code: define the function in a file (not in exec'd "
                 "strings or the interactive prompt without a file).") from None
    text = textwrap.dedent("".join(lines))
    if fn.__name__ == "<lambda>":
        fdef = _lambda_def(fn, filename, lines, first_line)
        text = "".join(lines)
    else:
        try:
            module = parsing.parse_gast(text)
        except SyntaxError as exc:
            raise SourceUnavailableError(
                f"cannot parse the source of {fn.__qualname__}: {exc.msg}",
                Location(filename, first_line), None) from None
        fdef = module.body[0]
    if not isinstance(fdef, gast.FunctionDef):
        raise SrcadSyntaxError("expected a function definition", Location(filename, first_line))
    if fn.__name__ != "<lambda>" and not _runs(fn.__code__, text, fn.__globals__.get("__loader__")):
        raise SourceUnavailableError(
            f"the source of {fn.__qualname__} in {filename} is not the code that runs: the "
            "file was edited (or the cell or module redefined) after the function was "
            "defined", Location(filename, first_line),
            "Reload the module (importlib.reload) or run the definition again, then ask for "
            "the derivative of the function it defines.")
    args = fdef.args
    wrapped = getattr(fn, "__wrapped__", None)
    if wrapped is not None and (args.vararg or args.kwarg):
        raise SrcadSyntaxError(
            f"{fn.__qualname__} is a wrapper (its __wrapped__ is "
            f"{getattr(wrapped, '__qualname__', wrapped)!s}) taking "
            "*args/**kwargs: srcad differentiates the code that runs, the wrapper's, and "
            "cannot follow values through *args", Location(filename, first_line),
            "If the decorator does not change values, differentiate f.__wrapped__; otherwise "
            "give the wrapper explicit parameters (def wrapper(x): return 2.0 * fn(x)).")
    gast.increment_lineno(fdef, first_line - 1) if hasattr(gast, "increment_lineno") else \
        _shift_lines(fdef, first_line - 1)
    fdef.decorator_list = []
    return Source(fn=fn, node=fdef, filename=filename, namespace=Namespace(fn), text=text,
                  first_line=first_line, lines=lines)


def _lambda_def(fn, filename, lines, first_line):
    """The lambda ``fn`` as a ``def lambda(...): return <body>`` (line numbers of its first
    line): of the lambdas starting on its line, the one whose code is ``fn``'s."""
    where = Location(filename, first_line, None)
    code = fn.__code__
    positions = [(p[0], p[2]) for p in code.co_positions() if p[0] is not None and p[2]]
    found: list = []
    for end in range(1, len(lines) + 1):
        chunk = "".join(lines[:end])
        for text, shift in ((textwrap.dedent(chunk), None), ("(" + chunk.strip() + ")", 0)):
            try:
                module = parsing.parse(text)
            except SyntaxError:
                continue
            indent = len(lines[0]) - len(lines[0].lstrip())
            first = text.splitlines()[0] if text else ""
            offset = indent - 1 if shift == 0 else indent - (len(first) - len(first.lstrip()))
            for node in ast.walk(module):
                if isinstance(node, ast.Lambda) and node.lineno == 1 and _lambda_runs(
                        code, ast.get_source_segment(text, node) or ""):
                    found.append((node, text, offset))
            if found:
                break
        if found:
            break
    if len(found) > 1 and positions:     # the same code twice: the one holding fn's columns
        line, col = positions[0]
        found = [f for f in found if (f[0].body.lineno, f[0].body.col_offset + f[2]) <= (
            line - first_line + 1, col) <= (f[0].body.end_lineno, f[0].body.end_col_offset + f[2])]
    if len(found) != 1:
        raise SrcadSyntaxError(
            "srcad cannot tell which lambda of this line is the function" if found or
            lines[0].count("lambda") > 1 else "srcad cannot find the lambda's source",
            Location(filename, first_line, lines[0].find("lambda") if lines else None),
            "Write the lambda as a `def` function (or give it a line of its own).")
    node, text, offset = found[0]
    tree = parsing.parse("def lambda_(): pass").body[0]
    tree.name = "lambda"
    tree.args = node.args
    tree.body = [ast.Return(value=node.body)]
    ast.copy_location(tree.body[0], node.body)
    ast.copy_location(tree, node)
    for n in ast.walk(tree):
        if hasattr(n, "col_offset"):
            n.col_offset = max(0, n.col_offset + offset)
            if getattr(n, "end_col_offset", None) is not None:
                n.end_col_offset += offset
    return gast.ast_to_gast(ast.fix_missing_locations(tree))


def _lambda_runs(code, text: str) -> bool:
    """Does the lambda expression ``text`` compile to ``code`` (its closure as cells)?"""
    outer = "def __srcad_outer__():\n" + "".join(
        f"    {name} = None\n" for name in code.co_freevars) + "    return (" + text + ")\n"
    try:
        module = compile(outer, code.co_filename, "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return any(_same_code(c, code) for c in _codes(module) if c.co_name == "<lambda>")


_FUTURE_FLAGS = 0
for _feature in __import__("__future__").all_feature_names:
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag


def _as_loaded(text: str, filename: str, loader):
    """``text`` as the module's loader compiles it: pytest's loader of test modules rewrites
    their ``assert`` statements (a function of a test file has that bytecode)."""
    if type(loader).__name__ != "AssertionRewritingHook":
        return text
    try:
        from _pytest.assertion.rewrite import rewrite_asserts
        tree = parsing.parse(text)
        rewrite_asserts(tree, text.encode(), filename, getattr(loader, "config", None))
        return tree
    except Exception:       # another pytest: compare with the plain compilation
        return text


def _runs(code: types.CodeType, text: str, loader=None) -> bool:
    """Does ``text`` (a def, dedented) compile to ``code``? Line numbers aside: the source
    linecache or the file gives may be newer than the function (an edited file, a reloaded
    module, a notebook cell id reused). Compiled inside a function binding the free
    variables, so they compile as the closure cells they are; the def binding a global (a
    recursive call reads it)."""
    own = "" if code.co_name in code.co_freevars else f"    global {code.co_name}\n"
    outer = "def __srcad_outer__():\n" + own + "".join(
        f"    {name} = None\n" for name in code.co_freevars) + textwrap.indent(text, "    ")
    try:
        module = compile(_as_loaded(outer, code.co_filename, loader), code.co_filename,
                         "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    except SyntaxError:
        return True                   # reported by the parse, with its location
    candidates = [c for c in _codes(module) if c.co_name == code.co_name]
    return any(_same_code(c, code) for c in candidates)


def _codes(code):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _codes(const)


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """Do ``a`` and ``b`` do the same (``_instructions``)? At once when their bytecode,
    names and constants are equal (what ``_instructions`` reads, so they give the same
    list); else by the lists."""
    if not (a.co_varnames == b.co_varnames and a.co_freevars == b.co_freevars
            and a.co_argcount == b.co_argcount and a.co_kwonlyargcount == b.co_kwonlyargcount):
        return False
    if a.co_code == b.co_code and a.co_names == b.co_names and \
            a.co_cellvars == b.co_cellvars and len(a.co_consts) == len(b.co_consts) and all(
                _same_code(x, y) if isinstance(x, types.CodeType) and isinstance(
                    y, types.CodeType) else type(x) is type(y) and repr(x) == repr(y)
                for x, y in zip(a.co_consts, b.co_consts)):
        return True
    return _instructions(a) == _instructions(b)


# how a call of a module's attribute compiles depends on the module around it (CPython 3.11
# loads `np.sum` with LOAD_ATTR when `np` was imported there): these are the same operation
_SKIPPED = {"CACHE", "PUSH_NULL", "RESUME", "EXTENDED_ARG", "NOP"}
_SAME_AS = {"LOAD_METHOD": "LOAD_ATTR"}


def _instructions(code: types.CodeType) -> list:
    """What ``code`` does, without line numbers, offsets or context-dependent variants:
    (operation, argument) with jump targets as positions in this list, constants with their
    types (1 and 1.0 differ) and code constants compared the same way."""
    every = list(dis.get_instructions(code))
    kept = [i for i in every if i.opname not in _SKIPPED]
    index = {ins.offset: k for k, ins in enumerate(kept)}
    position: dict = {}
    following = len(kept)
    for ins in reversed(every):      # a target that is skipped: the next kept instruction
        following = index.get(ins.offset, following)
        position[ins.offset] = following
    out = []
    for ins in kept:
        arg = ins.argval
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            arg = ("jump", position.get(arg, arg))
        elif isinstance(arg, types.CodeType):
            arg = ("code", tuple(_instructions(arg)), arg.co_varnames, arg.co_freevars)
        elif ins.opname == "LOAD_CONST":
            arg = (type(arg), repr(arg))
        out.append((_SAME_AS.get(ins.opname, ins.opname), arg))
    return out


def function_state(fn) -> tuple:
    """What a derivative built from ``fn``'s source depends on besides its globals: its code
    and its default values."""
    return (fn.__code__, fn.__defaults__, tuple((fn.__kwdefaults__ or {}).items()))


def _shift_lines(tree, offset):
    for node in gast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            node.lineno += offset
        if hasattr(node, "end_lineno") and node.end_lineno is not None:
            node.end_lineno += offset
