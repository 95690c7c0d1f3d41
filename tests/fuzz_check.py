"""Checking the fuzzer's programs (tests/fuzz_programs.py) with srcad.

``check(seed)`` differentiates program ``seed`` in reverse mode (``grad``, and ``vjp`` with a
read-only cotangent) and forward mode (``autodiff(mode='forward')``, and ``jvp``, whose value
is checked too), optimized and not, with read-only arguments and tangents, and compares the
derivatives with central finite differences (falling back on a 4th-order stencil before
calling a derivative wrong), forward with reverse, optimized with unoptimized; it returns an
:class:`Outcome`: 'pass', 'refused' (only SrcadErrors other than InternalError were raised) or
'fail' (a wrong derivative, an InternalError or any other exception, a derivative not typed
like its argument, a write into the caller's memory), with the :class:`Problem` found.

``check_many`` runs many seeds in worker processes; ``shrink`` makes a failing program
smaller while it keeps its problem (``python scripts/fuzz.py --shrink``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import signal
import threading
import traceback

import numpy as np

from fuzz_programs import (from_vector, generate, item, items, leaves, load, map_leaves,
                           materialize, read_only, to_vector, validate)

__all__ = ["CALLS", "Problem", "Outcome", "check", "check_program", "check_many", "shrink"]

FD_STEPS = ((2, 1e-6), (2, 1e-7), (2, 1e-8), (2, 1e-9), (2, 1e-5), (4, 1e-4), (4, 1e-3))
RTOL, ATOL = 1e-5, 1e-7          # against finite differences (ATOL times the gradient's scale)
EXACT_RTOL = 1e-8                # forward against reverse, optimized against unoptimized

_READ_ONLY = ("read-only", "readonly", "not writeable", "not writable")


@dataclasses.dataclass
class Problem:
    """One thing wrong with srcad on a program: ``kind`` is 'refused' (a SrcadError other than
    InternalError), 'error' (an InternalError or another exception), 'wrong' (a derivative
    that disagrees), 'type' (a derivative not shaped and typed like its argument) or 'writes'
    (caller memory written, or tried to be)."""

    kind: str
    what: str                    # which call: 'reverse', 'forward unoptimized', 'vjp', ...
    message: str
    detail: str = ""             # the values that disagree

    @property
    def summary(self) -> str:
        """The message's first line without what differs from program to program."""
        text = re.sub(r"<srcad-test-\d+>:\d+: ", "", self.message.splitlines()[0])
        text = re.sub(r"\(at <srcad [^>]*>:\d+\)", "(in the derivative)", text)
        text = re.sub(r"\(at [^()]*/(srcad|templates)/([\w.]+):\d+\)", r"(in \1/\2)", text)
        text = re.sub(r"'[^']*'", "'…'", text)
        text = re.sub(r"\b[a-z_]+\d+\b", "…", text)
        return re.sub(r"\(\d+(, \d+)*,?\)|\d+(\.\d+)?(e[-+]?\d+)?", "N", text)


@dataclasses.dataclass
class Outcome:
    seed: int
    source: str
    args: list
    problems: list
    shrunk: str = ""             # a smaller program with the main problem (check_many(shrink=))

    @property
    def main_problem(self):
        """The problem that says most: a wrong derivative before a write into the caller's
        memory, a mistyped derivative, an exception, a refusal."""
        order = ("wrong", "writes", "type", "error", "refused")
        return min(self.problems, key=lambda p: order.index(p.kind), default=None)

    @property
    def categories(self) -> list:
        """'kind: summary (the calls it happened in)', one per distinct problem."""
        calls: dict = {}
        for p in self.problems:
            calls.setdefault(f"{p.kind}: {p.summary}", []).append(p.what)
        return [f"{key} ({', '.join(whats)})" for key, whats in calls.items()]

    @property
    def status(self) -> str:
        kinds = {p.kind for p in self.problems}
        if not kinds:
            return "pass"
        return "refused" if kinds == {"refused"} else "fail"

    def report(self) -> str:
        lines = [f"seed {self.seed}: {self.status}"]
        lines += [f"  [{p.kind}] {p.what}: {p.message}" + (f" ({p.detail})" if p.detail else "")
                  for p in self.problems]
        shapes = ", ".join(f"{a.name}={_describe(a.value)}" for a in self.args)
        lines += [f"  arguments: {shapes}", "", self.source]
        return "\n".join(lines)


def _kind(value):
    """A value's type, and for an array whether it is 0-d."""
    if isinstance(value, np.ndarray):
        return "0-d array" if value.ndim == 0 else "array"
    return type(value).__name__


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    pairs = items(value)
    if pairs is not None:
        inside = ", ".join(f"{k}={_describe(v)}" for k, v in pairs)
        return f"{getattr(value, 'cls', type(value).__name__)}({inside})"
    return f"{type(value).__name__}({value!r})"


def _mismatch(g, a):
    """How the derivative ``g`` is not shaped and typed like its argument ``a`` (in a
    container: the first leaf or key that differs), else None."""
    pairs = items(a)
    if type(g) is not type(a) or (pairs is None and (np.shape(g) != np.shape(a) or (
            isinstance(a, np.ndarray) and g.dtype != a.dtype))):
        return f"the derivative of a {_kind(a)} argument is a {_kind(g)}", _describe(g)
    if pairs is None:
        return None
    keys = [k for k, _ in items(g)]
    if sorted(map(str, keys)) != sorted(str(k) for k, _ in pairs):
        return f"the derivative of a {_kind(a)} argument has the keys {keys}", _describe(g)
    for key, part in pairs:
        found = _mismatch(item(g, key), part)
        if found is not None:
            return f"[{key!r}]: {found[0]}", found[1]
    return None


def _like(value, rng):
    """A random read-only tangent of ``value``'s structure and types."""
    def leaf(v):
        if isinstance(v, np.ndarray):
            return read_only(rng.standard_normal(v.shape))
        return type(v)(rng.standard_normal())
    return map_leaves(leaf, value)


def _vector(values) -> np.ndarray:
    return to_vector(values)


def _finite_differences(f, values, wrt, order, h):
    """The gradient of ``f`` in each wrt argument (the leaves of a container), one float64
    vector of all of them: central differences (``order`` 2) or the 4th-order stencil."""
    out = []
    for i in wrt:
        x = to_vector([values[i]])
        column = np.zeros(x.size)
        for k in range(x.size):
            def at(step):
                e = np.zeros(x.size)
                e[k] = step
                moved = list(values)
                moved[i] = from_vector(values[i], x + e)
                return float(f(*moved))
            if order == 2:
                column[k] = (at(h) - at(-h)) / (2 * h)
            else:
                column[k] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
        out.append(column)
    return np.concatenate(out)


class _Checker:
    """Runs one program through srcad and collects its problems."""

    def __init__(self, f, args, seed):
        self.f = f
        self.args = args
        self.wrt = tuple(i for i, a in enumerate(args) if a.differentiable)
        rng = np.random.default_rng([seed, 1])
        values = [read_only(materialize(a.value, f.__globals__)) for a in args]
        self.inputs = {         # what a derivative is called with, all read-only
            "argument": values,
            "tangent": [_like(values[i], rng) for i in self.wrt],
            "cotangent": [read_only(np.array(rng.uniform(0.5, 2.0)))],
        }
        self.values, self.tangents = self.inputs["argument"], self.inputs["tangent"]
        self.cotangent = self.inputs["cotangent"][0]
        self.problems: list = []
        self._fd: list = []           # the finite differences of FD_STEPS computed so far

    def run(self, what, call):
        """``call(arguments, tangents, cotangent)`` on the read-only inputs, with any
        exception, and any write into the inputs, as a problem."""
        import srcad
        saved = {k: [_vector([v]) for v in vs] for k, vs in self.inputs.items()}
        try:
            result = call(self.values, self.tangents, self.cotangent)
        except srcad.InternalError as exc:
            return self.problem("error", what, f"InternalError: {exc}")
        except srcad.SrcadError as exc:
            return self.problem("refused", what, f"{type(exc).__name__}: {exc}")
        except Exception as exc:        # noqa: BLE001 - every other exception is a bug
            text = f"{type(exc).__name__}: {exc}"
            frames = traceback.extract_tb(exc.__traceback__)
            if frames:
                text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
            written = isinstance(exc, ValueError) and any(s in str(exc) for s in _READ_ONLY) \
                and self.writable_run(call)
            if written:
                return self.problem("writes", what, f"writes into the caller's {written}", text)
            return self.problem("error", what, text)
        for kind, values in self.inputs.items():
            for k, (v, before) in enumerate(zip(values, saved[kind])):
                if not np.array_equal(_vector([v]), before):
                    self.problem("writes", what, f"changed the caller's {kind} {k}")
        return result

    def writable_run(self, call) -> str | None:
        """Which inputs ``call`` writes into when they are writable copies; None if it fails
        then too (the read-only error was not about the caller's memory)."""
        copies = {k: [map_leaves(lambda v: np.copy(v) if isinstance(v, np.ndarray) else v, v)
                      for v in vs] for k, vs in self.inputs.items()}
        try:
            call(copies["argument"], copies["tangent"], copies["cotangent"][0])
        except Exception:               # noqa: BLE001
            return None
        changed = [f"{kind} {k}" for kind, values in copies.items()
                   for k, (v, before) in enumerate(zip(values, self.inputs[kind]))
                   if not np.array_equal(_vector([v]), _vector([before]))]
        return ", ".join(changed) or "read-only inputs (it works when they are writable)"

    def problem(self, kind, what, message, detail=""):
        self.problems.append(Problem(kind, what, message, detail))
        return None

    def derivatives(self, what, grads):
        """The gradients as one vector, or None after recording how they are malformed."""
        if not isinstance(grads, tuple) or len(grads) != len(self.wrt):
            return self.problem("type", what, f"expected a tuple of {len(self.wrt)} "
                                f"derivatives, got {type(grads).__name__}")
        for i, g in zip(self.wrt, grads):
            found = _mismatch(g, self.values[i])
            if found is not None:
                return self.problem("type", what, found[0], f"{self.args[i].name}: {found[1]}")
        vector = to_vector([leaf for i, g in zip(self.wrt, grads)
                            for leaf in leaves(g, self.values[i])])
        if not np.all(np.isfinite(vector)):
            return self.problem("wrong", what, "a derivative is not finite")
        return vector

    def fd(self, k):
        while len(self._fd) <= k:
            self._fd.append(_finite_differences(self.f, self.values, self.wrt,
                                                *FD_STEPS[len(self._fd)]))
        return self._fd[k]

    def against_fd(self, what, got, direction=None):
        """Compare a gradient (or, with ``direction``, a JVP) with central differences; on a
        disagreement, with smaller and larger steps and a 4th-order stencil (a function that
        varies fast has no one good step) before calling it wrong."""
        for k in range(len(FD_STEPS)):
            want = self.fd(k)
            if direction is not None:
                want = np.array([want @ direction])
            scale = max(1.0, float(np.max(np.abs(want))))
            if np.allclose(got, want, rtol=RTOL, atol=ATOL * scale):
                return
            if k == 0:
                first = want
        want = first
        worst = int(np.argmax(np.abs(got - want)))
        self.problem("wrong", what, f"{'JVP' if direction is not None else 'gradient'} "
                     "disagrees with finite differences", f"{float(got.flat[worst])!r} vs "
                     f"{float(want.flat[worst])!r}, entry {worst} of {want.size}")

    def agree(self, what, a, b, scale):
        if abs(a - b) > EXACT_RTOL * scale + 1e-12:
            self.problem("wrong", what, "disagree", f"{a!r} vs {b!r}")


CALLS = ("reverse", "forward", "reverse unoptimized", "forward unoptimized", "vjp", "jvp")


def check(seed: int, extra: bool = True) -> Outcome:
    """Run program ``seed`` through srcad: ``grad`` and forward ``autodiff``, optimized and
    not, against finite differences and each other; with ``extra``, also ``vjp`` with a
    read-only cotangent and ``jvp`` (its value too). Arguments and tangents are read-only."""
    source, args = generate(seed)
    return check_program(source, args, seed, CALLS if extra else CALLS[:4])


def check_program(source, args, seed=0, calls=CALLS) -> Outcome:
    """``check`` for a given program, making only the ``calls`` named (``seed`` draws the
    tangents and the cotangent)."""
    import srcad

    f = load(source)
    ck = _Checker(f, args, seed)
    direction = _vector(ck.tangents)
    wrt = ck.wrt
    derivatives = {        # call(arguments, tangents, cotangent)
        "reverse": lambda x, t, c: srcad.grad(f, wrt=wrt)(*x),
        "reverse unoptimized": lambda x, t, c: srcad.grad(f, wrt=wrt, optimized=False)(*x),
        "vjp": lambda x, t, c: srcad.vjp(f, *x, wrt=wrt)[1](c),
        "forward": lambda x, t, c: srcad.autodiff(f, mode="forward", wrt=wrt)(*x, *t),
        "forward unoptimized": lambda x, t, c: srcad.autodiff(
            f, mode="forward", wrt=wrt, optimized=False)(*x, *t),
        "jvp": lambda x, t, c: srcad.jvp(f, x, t, wrt=wrt),
    }
    results = {}
    for what in calls:
        out = ck.run(what, derivatives[what])
        if out is None:
            continue
        if what == "jvp":
            primal, out = out
            value = float(f(*ck.values))
            if not np.isclose(float(primal), value, rtol=1e-12, atol=1e-12):
                ck.problem("wrong", what, "the value is not f's", f"{primal!r} vs {value!r}")
        if what.startswith(("forward", "jvp")):
            if np.ndim(out) != 0:
                ck.problem("type", what, f"the JVP is a {_kind(out)}")
                continue
            results[what] = float(out)
            ck.against_fd(what, np.array([float(out)]), direction)
        else:
            g = ck.derivatives(what, out)
            if g is not None:
                results[what] = g / float(ck.cotangent) if what == "vjp" else g
                ck.against_fd(what, results[what])
    for suffix in ("", " unoptimized"):
        g, jv = results.get("reverse" + suffix), results.get("forward" + suffix)
        if g is not None and jv is not None:
            ck.agree("forward vs reverse" + suffix, jv, float(g @ direction),
                     float(np.abs(g) @ np.abs(direction)))
    g, h = results.get("reverse"), results.get("reverse unoptimized")
    if g is not None and h is not None and not np.allclose(
            g, h, rtol=EXACT_RTOL, atol=1e-10 * max(1.0, np.max(np.abs(h)))):
        ck.problem("wrong", "optimized vs unoptimized", "disagree", f"{g!r} vs {h!r}")
    return Outcome(seed, source, args, ck.problems)


def _check_task(seed, extra, shrinking=False):
    try:
        outcome = check(seed, extra)
        if shrinking and outcome.problems:
            outcome.shrunk = shrink(outcome.source, outcome.args, outcome.main_problem, seed)
        return outcome
    except Exception:                 # noqa: BLE001 - a bug in the generator or the checker
        return Outcome(seed, "", [], [Problem("error", "fuzzer", traceback.format_exc())])


def check_many(seeds, workers=1, extra_every=1, timeout=300.0, shrinking=False):
    """``check(seed)`` for each seed, in order (a generator), in ``workers`` processes; ``vjp``
    and ``jvp`` are checked for every ``extra_every``-th seed. A program that takes longer
    than ``timeout`` seconds is reported as an error. With ``shrinking``, each program with a
    problem is also shrunk (``Outcome.shrunk``), and ``timeout`` does not apply."""
    seeds = list(seeds)
    tasks = [(seed, seed % extra_every == 0, shrinking) for seed in seeds]
    if workers <= 1:
        for task in tasks:
            yield _check_task(*task)
        return
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    pool = multiprocessing.get_context("fork" if "fork" in methods else None).Pool(workers)
    try:
        pending = [(task[0], pool.apply_async(_check_task, task)) for task in tasks]
        for seed, result in pending:
            try:
                yield result.get(None if shrinking else timeout)
            except multiprocessing.TimeoutError:
                yield Outcome(seed, generate(seed)[0], [], [Problem(
                    "error", "check", f"timeout: no result in {timeout} s")])
    finally:
        pool.terminate()
        pool.join()


# -- shrinking a failing program -----------------------------------------------------------------

def _units(lines):
    """(first, end) line ranges of the statements of a source: a line and the lines indented
    under it."""
    out = []
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith(("import", "def f(")):
            continue
        indent = len(line) - len(line.lstrip())
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or
                                    len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        out.append((i, end))
    return out


_INCREMENT = re.compile(r"\s*(k\d+) (\+= 1|= \1 \+ 1)$")


def _smaller(lines, first, end):
    """The statement at ``lines[first:end]`` removed (but for a while loop's increment), or,
    for a compound statement, replaced by its block."""
    if not _INCREMENT.match(lines[first]):
        yield lines[:first] + lines[end:]
    if lines[first].rstrip().endswith(":") and end > first + 1:
        yield lines[:first] + [line[4:] for line in lines[first + 1:end]] + lines[end:]


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise TimeoutError in the block after ``seconds`` (where signals allow it)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def shrink(source, args, problem: Problem, seed=0):
    """A smaller program that still has ``problem`` (its kind, call and summary), by
    removing statements from ``source`` while it stays valid (see ``validate``)."""
    calls = [c for c in CALLS if c == problem.what or (
        problem.what.startswith("forward vs reverse") and c.startswith(("forward", "reverse"))
        and c.endswith("unoptimized") == problem.what.endswith("unoptimized")) or (
        problem.what == "optimized vs unoptimized" and c.startswith("reverse"))]
    key = (problem.kind, problem.what, problem.summary)

    def keeps(lines):
        candidate = "\n".join(lines) + "\n"
        try:
            with _time_limit(60):
                compile(candidate, "<shrink>", "exec")
                if not validate(candidate, args):
                    return False
                outcome = check_program(candidate, args, seed, calls)
        except Exception:              # noqa: BLE001 - an invalid candidate, or a slow one
            return False
        return any((p.kind, p.what, p.summary) == key for p in outcome.problems)

    lines = source.splitlines()
    changed = True
    while changed:                     # passes from the last statement to the first
        changed, cursor = False, len(lines)
        while True:
            # a change leaves the lines above the statement as they were
            units = [u for u in _units(lines) if u[0] < cursor]
            if not units:
                break
            first, end = units[-1]
            cursor = first
            for smaller in _smaller(lines, first, end):
                if keeps(smaller):
                    lines, changed = smaller, True
                    break
    source = "\n".join(lines) + "\n"
    return source


def _flat(value) -> np.ndarray:
    """The numbers of a derivative (an array, a float, or a container of them) in a row."""
    parts = [np.ravel(np.asarray(leaf, dtype=complex)) for leaf in leaves(value)]
    return np.concatenate(parts) if parts else np.zeros(0)


def check_threaded(seeds, threads: int = 4) -> list[str]:
    """Build and call the reverse and forward derivatives of the programs of ``seeds`` from
    ``threads`` threads at once (each program a fresh function, so every thread builds), and
    compare each result with the one the same program gives built and called alone: the
    problems found, as text (none: an empty list)."""
    import concurrent.futures
    import threading

    import srcad

    programs = [generate(seed) for seed in seeds]

    def run(source, args):
        f = load(source)
        ck = _Checker(f, args, 0)        # the arguments, tangents and wrt check_program uses
        x, t = ck.values, ck.tangents
        return (srcad.grad(f, wrt=ck.wrt)(*x),
                srcad.autodiff(f, mode="forward", wrt=ck.wrt)(*x, *t))

    def outcome(source, args):
        try:
            return run(source, args)
        except Exception as exc:          # compared as its type and text
            return f"{type(exc).__name__}: {exc.args[0] if exc.args else ''}".split(":", 2)[-1]

    serial = [outcome(source, args) for source, args in programs]
    start = threading.Barrier(threads)

    def task(i):
        if i < threads:
            start.wait()                  # the first builds begin together
        return outcome(*programs[i])

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        parallel = list(pool.map(task, range(len(programs))))
    problems = [] if not all(isinstance(o, str) for o in serial) else [
        "every program failed alone: nothing was compared"]
    for seed, alone, together in zip(seeds, serial, parallel):
        if isinstance(alone, str) or isinstance(together, str):
            if alone != together:
                problems.append(f"seed {seed}: alone {alone!r}, in threads {together!r}")
            continue
        for name, a, b in zip(("grad", "forward"), alone, together):
            if not np.array_equal(_flat(a), _flat(b), equal_nan=True):
                problems.append(f"seed {seed}: {name} alone {a!r}, in threads {b!r}")
    return problems
