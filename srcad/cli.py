"""The command line: ``srcad show TARGET`` prints the derivative srcad generates for a function;
``srcad export TARGET -o FILE.py`` writes it as a standalone module (``srcad.export``).

TARGET names a function as ``path/to/file.py:func``, ``package.module:func`` or
``module:Class.method``. User errors (unknown file, module or function, or any
``srcad.SrcadError``) print one paragraph to stderr and exit with status 2, without a
Python traceback. ``main`` is the console script ``srcad``; ``python -m srcad`` runs it too.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
import types

__all__ = ["main", "load_target", "parse_wrt", "UsageError"]

EXIT_OK = 0
EXIT_USAGE = 2

_EPILOG = """\
examples:
  srcad show examples/logistic.py:loss              gradient of loss w.r.t. its first argument
  srcad show examples/logistic.py:loss --wrt w,X    gradients w.r.t. parameters w and X
  srcad show examples/mlp.py:loss --wrt 0,1         gradients w.r.t. arguments 0 and 1
  srcad show examples/rnn.py:loss --mode forward    forward mode (Jacobian-vector product)
  srcad show mypackage.model:loss                   a function of an importable module
  srcad show mypackage.model:Model.loss             a static method (or function attribute)
  python -m srcad show examples/logistic.py:loss --no-optimize
  srcad export examples/logistic.py:loss -o dloss.py   a module that runs without srcad
  srcad export examples/logistic.py:loss -o dloss.py --specialize-for 3,100x3,100

TARGET is FILE.py:FUNC, MODULE:FUNC or MODULE:CLASS.FUNC. A file is imported as a module
(its directory is put on sys.path while it is imported, so sibling imports work); for
MODULE targets the current directory is searched first, as with `python -m`.
Exit status: 0 on success, 2 on a user error (the message says what to fix).
"""


class UsageError(Exception):
    """A user error the CLI reports in one paragraph (exit status 2)."""


# -- loading the target -----------------------------------------------------------------------

def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _split_target(target: str) -> tuple[str, str]:
    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr:
        raise UsageError(f"TARGET {target!r} must be FILE.py:FUNC, MODULE:FUNC or "
                         f"MODULE:CLASS.FUNC (for example examples/logistic.py:loss).")
    return where, attr


def _module_name_for(path: str) -> str:
    """A module name for a file that cannot clash with an importable module."""
    stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]
    return f"_srcad_cli_{stem}_{digest}"


def _import_failure(what: str, exc: BaseException, path_hint: str | None = None) -> Exception:
    """One paragraph for an exception raised while importing the user's code (a SrcadError,
    e.g. from a module-level ``srcad.grad(f)``, already is one)."""
    from .errors import SrcadError
    if isinstance(exc, SrcadError):
        return exc
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    elif frames:
        user = [f for f in frames if path_hint and os.path.abspath(f.filename) == path_hint]
        frame = (user or frames)[-1]
        where = f" ({frame.filename}:{frame.lineno})"
    return UsageError(f"importing {what} failed{where}: {type(exc).__name__}: {exc}")


def _load_file(path: str) -> types.ModuleType:
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        reason = "is a directory" if os.path.isdir(full) else "does not exist"
        raise UsageError(f"file {path!r} {reason}.")
    name = _module_name_for(full)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path!r} as a Python module (is it a .py file?).")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module          # dataclasses, pickling etc. look the module up
    directory = os.path.dirname(full)
    sys.path.insert(0, directory)       # sibling imports: `import helpers` next to the file
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _import_failure(path, exc, full) from None
    finally:
        try:
            sys.path.remove(directory)
        except ValueError:
            pass
    return module


def _load_module(dotted: str) -> types.ModuleType:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)         # like `python -m`: modules in the current directory
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name and (dotted == exc.name or dotted.startswith(exc.name + ".")):
            raise UsageError(f"no module named {exc.name!r} (looked in the current directory "
                             f"and on PYTHONPATH; for a file, write path/to/file.py:func)."
                             ) from None
        raise _import_failure(f"module {dotted!r}", exc) from None
    except Exception as exc:
        raise _import_failure(f"module {dotted!r}", exc) from None


def _functions_in(obj) -> list[str]:
    names = []
    for key, value in sorted(vars(obj).items()):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, types.FunctionType) and not key.startswith("__"):
            if not isinstance(obj, types.ModuleType) or value.__module__ == obj.__name__:
                names.append(key)
    return names


def _lookup(module: types.ModuleType, attr: str, where: str):
    obj = module
    walked: list[str] = []
    for part in attr.split("."):
        if not part.isidentifier():
            raise UsageError(f"{attr!r} is not a function name (in {where}).")
        if not hasattr(obj, part):
            place = f"{where}:{'.'.join(walked)}" if walked else where
            available = _functions_in(obj) if isinstance(obj, (type, types.ModuleType)) else []
            listing = (f" Functions there: {', '.join(available)}." if available
                       else " It defines no functions.")
            raise UsageError(f"{place} has no attribute {part!r}.{listing}")
        obj = getattr(obj, part)
        walked.append(part)
    return obj


def load_target(target: str):
    """The function named by ``target`` (FILE.py:FUNC, MODULE:FUNC or MODULE:CLASS.FUNC)."""
    where, attr = _split_target(target)
    if _is_file_spec(where):
        module = _load_file(where)
    else:
        module = _load_module(where)
    fn = _lookup(module, attr, where)
    if isinstance(fn, type) or not callable(fn):
        raise UsageError(f"{target} is a {type(fn).__name__}, not a function: name a function "
                         f"(for a method, write {where}:Class.method).")
    return fn


# -- options ----------------------------------------------------------------------------------

def parse_wrt(text: str | None):
    """``'0,1'`` -> (0, 1); ``'w,b'`` -> ('w', 'b'); ``'1'`` -> 1; ``'w'`` -> 'w'."""
    if text is None:
        return 0
    items: list[int | str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise UsageError(f"--wrt {text!r}: empty item; use indices or parameter names "
                             f"separated by commas (--wrt 0,1 or --wrt w,b).")
        if item.lstrip("-").isdigit():
            items.append(int(item))
        elif item.isidentifier():
            items.append(item)
        else:
            raise UsageError(f"--wrt {text!r}: {item!r} is neither an argument index nor a "
                             f"parameter name.")
    return items[0] if len(items) == 1 else tuple(items)


def _check_wrt(fn, wrt, target: str):
    """Report a wrt that does not fit ``fn``'s parameters before building anything."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return                      # srcad itself reports functions it cannot read
    listing = ", ".join(params) if params else "none"
    seen = set()
    for item in wrt if isinstance(wrt, tuple) else (wrt,):
        if isinstance(item, str) and item not in params:
            raise UsageError(f"--wrt: {target} has no parameter named {item!r} "
                             f"(parameters: {listing}).")
        if isinstance(item, int) and not -len(params) <= item < len(params):
            raise UsageError(f"--wrt: argument index {item} is out of range: {target} has "
                             f"{len(params)} parameter{'s' if len(params) != 1 else ''} "
                             f"({listing}).")
        index = params.index(item) if isinstance(item, str) else item % len(params)
        if index in seen:
            raise UsageError(f"--wrt names the parameter {params[index]!r} twice.")
        seen.add(index)


def _want_color(choice: str, stream) -> bool:
    if choice == "never":
        return False
    if choice == "auto":
        if os.environ.get("NO_COLOR"):
            return False
        isatty = getattr(stream, "isatty", None)
        if not (isatty and isatty()):
            return False
    return importlib.util.find_spec("pygments") is not None


def _highlight(text: str) -> str:
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import PythonLexer
    return highlight(text, PythonLexer(), TerminalFormatter())


# -- commands ---------------------------------------------------------------------------------

def _version() -> str:
    from . import __version__
    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srcad",
        description="srcad: source-transformation automatic differentiation for NumPy. "
                    "Print the derivative code srcad generates for a function.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"srcad {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    show = commands.add_parser(
        "show", help="print the generated derivative of a function",
        description="Print the derivative srcad generates for TARGET.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("target", metavar="TARGET",
                      help="FILE.py:FUNC, MODULE:FUNC or MODULE:CLASS.FUNC")
    show.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                      help="reverse: gradient / vector-Jacobian product (default); "
                           "forward: Jacobian-vector product")
    show.add_argument("--wrt", metavar="ARGS", default=None,
                      help="arguments to differentiate with respect to: indices or parameter "
                           "names separated by commas (default: 0)")
    show.add_argument("--no-optimize", dest="optimized", action="store_false",
                      help="skip the optimization passes (dead code, copy propagation, ...)")
    show.add_argument("--preserve-result", action="store_true",
                      help="the derivative also returns the function's value")
    show.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="syntax colors (needs pygments); auto: only on a terminal")
    show.add_argument("--standalone", action="store_true",
                      help="print the standalone module `srcad export` writes (the generated "
                           "code otherwise runs with `import srcad.runtime as _srcad`)")
    show.set_defaults(run=_cmd_show)
    export = commands.add_parser(
        "export", help="write the derivative of a function as a standalone module",
        description="Write TARGET's derivative, with the srcad runtime helpers it calls, as a "
                    "Python module that needs NumPy but not srcad.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("target", metavar="TARGET",
                        help="FILE.py:FUNC, MODULE:FUNC or MODULE:CLASS.FUNC")
    export.add_argument("-o", "--output", metavar="FILE.py", required=True,
                        help="the module to write ('-': standard output)")
    export.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                        help="reverse: the gradient (default); forward: the JVP")
    export.add_argument("--wrt", metavar="ARGS", default=None,
                        help="arguments to differentiate with respect to (default: 0)")
    export.add_argument("--specialize-for", metavar="SHAPES", default=None,
                        help="the argument shapes to specialize for, comma separated: "
                             "100x3 an array, scalar a float, ? any other argument; the "
                             "module refuses arguments of another shape pattern")
    export.add_argument("--no-optimize", dest="optimized", action="store_false",
                        help="skip the optimization passes")
    export.add_argument("--preserve-result", action="store_true",
                        help="the derivative also returns the function's value")
    export.set_defaults(run=_cmd_export)
    return parser


def _cmd_show(args) -> int:
    import srcad
    wrt = parse_wrt(args.wrt)
    fn = load_target(args.target)
    _check_wrt(fn, wrt, args.target)
    source = srcad.show(fn, mode=args.mode, wrt=wrt, optimized=args.optimized,
                        preserve_result=args.preserve_result, standalone=args.standalone)
    if not source.endswith("\n"):
        source += "\n"
    if _want_color(args.color, sys.stdout):
        source = _highlight(source)
    sys.stdout.write(source)
    sys.stdout.flush()
    return EXIT_OK


def _cmd_export(args) -> int:
    import srcad
    wrt = parse_wrt(args.wrt)
    fn = load_target(args.target)
    _check_wrt(fn, wrt, args.target)
    shapes = None
    if args.specialize_for is not None:
        from .export import parse_shapes
        try:
            shapes = parse_shapes(args.specialize_for)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    text = srcad.export(fn, mode=args.mode, wrt=wrt, optimized=args.optimized,
                        preserve_result=args.preserve_result, specialize_for=shapes)
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror}") from None
    return EXIT_OK


def _fail(message: str) -> int:
    sys.stderr.write(f"srcad: error: {message.rstrip()}\n")
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from .errors import SrcadError
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:            # --help, --version, or a usage error (status 2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as exc:
        return _fail(str(exc))
    except SrcadError as exc:            # already names the file and line, with a hint
        return _fail(str(exc))
    except BrokenPipeError:              # `srcad show ... | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # no second error when Python flushes at exit
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
