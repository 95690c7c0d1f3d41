"""The program fuzzer in the suite: random valid NumPy programs (tests/fuzz_programs.py; with
dict, list and object arguments, comprehensions, generator sums, lambdas, methods, guards), each
differentiated in reverse mode (``grad``; ``vjp`` for every third seed) and forward mode
(``autodiff(mode='forward')``; ``jvp`` for every third seed), optimized and not, and compared
with central finite differences and with each other, with read-only arguments, tangents and
cotangents.

``test_program`` checks the fixed seeds ``SEEDS``. ``test_more_programs`` (marked ``fuzz``)
checks more, only when asked: ``pytest tests/test_fuzz.py --fuzz 2000`` (seeds from 100000;
``--fuzz-start S`` to move them; or SRCAD_FUZZ=2000). ``python scripts/fuzz.py --count N``
runs the same checks outside pytest, with a summary by category of problem, and ``--shrink``
makes each failing program as small as it stays failing.
``test_thread_parallel_builds_agree_with_serial`` builds and calls eight programs from four
threads at once (``fuzz_check.check_threaded``) and compares them with the serial results.

The programs are checked up front, in worker processes (``SRCAD_FUZZ_WORKERS``, default: the
usable cores, at most 4), for the seeds selected; each test then reports its own program. A
refusal (a SrcadError) fails a test as a wrong answer does: the generator writes only what
README.md and docs/errors.md say srcad differentiates.

``KNOWN`` lists the seeds srcad gets wrong or refuses today, each a strict xfail with the
cause (a minimal reproducer is in the comment beside it): when a fix makes one
pass, remove it. A change to the generator changes the programs: re-run and re-key ``KNOWN``.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

import pytest

import fuzz_check
import fuzz_programs

SEEDS = range(120)               # about 20 s on 2 cores (more: --fuzz N, scripts/fuzz.py)
EXTRA_EVERY = 3                  # vjp and jvp for every third seed (they cost two more builds)

# Known srcad bugs the default seeds hit, one reproducer each beside its cause, as
# {seed: cause}. None today: the last ones (np.float64 arguments given Python float
# derivatives; the tangent of a write into a fancy-index copy taken for a write into the
# caller's tangent) are fixed, with regression tests in tests/test_no_silent_wrong.py.
KNOWN: dict[int, str] = {}


def _params(seeds):
    return [pytest.param(seed, id=f"seed{seed}", marks=(
        pytest.mark.xfail(strict=True, reason=KNOWN[seed]),) if seed in KNOWN else ())
        for seed in seeds]


def _workers() -> int:
    if os.environ.get("SRCAD_FUZZ_WORKERS"):
        return int(os.environ["SRCAD_FUZZ_WORKERS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1
    return min(cores, 4)


@pytest.fixture(scope="session")
def outcome(request):
    """``outcome(seed)``: the Outcome of a program. On first use, every program whose test is
    selected is checked, in parallel (under pytest-xdist, each program when its test runs)."""
    found: dict = {}

    def get(seed):
        if seed not in found:
            seeds = [seed]
            if not os.environ.get("PYTEST_XDIST_WORKER"):
                seeds = sorted({item.callspec.params[name] for item in request.session.items
                                if item.module.__name__ == __name__ and hasattr(
                                    item, "callspec") for name in ("seed", "fuzz_seed")
                                if name in item.callspec.params} | {seed})
            for o in fuzz_check.check_many(seeds, _workers() if len(seeds) > 1 else 1,
                                              EXTRA_EVERY):
                found[o.seed] = o
            status = collections.Counter(o.status for o in found.values())
            request.config.srcad_fuzz_summary = (
                f"srcad fuzz: {len(found)} programs: {status['pass']} passed, "
                f"{status['refused']} refused, {status['fail']} failed "
                f"({len(KNOWN.keys() & found.keys())} of them known)")
        return found[seed]
    return get


def _check(outcome):
    assert outcome.status == "pass", outcome.report()


@pytest.mark.parametrize("seed", _params(SEEDS))
def test_program(seed, outcome):
    _check(outcome(seed))


# the constructs of the Python around the numerics, each written in some default program
CONSTRUCTS = {
    "a dict argument": r"\bp\['\w'\]", "a list argument": r"\bws\[\d\]",
    "an object argument's method": r"def (apply|__call__)\(self",
    "a dataclass": r"@dataclasses\.dataclass", "a helper taking a container": r"\((q|vs)\b",
    "a generator sum": r"= sum\(.+ for ", "a list comprehension": r"= \[.+ for ",
    "a dict comprehension": r"\{key: ", "a loop over .values() or .items()":
    r"\.(values|items)\(\):", "a lambda": r"= lambda z: ", "an assert": r"\bassert ",
    "a raise": r"\braise ",
}


def test_the_default_programs_write_the_python_around_the_numerics(outcome):
    """Each construct of ``CONSTRUCTS`` is in at least one program of ``SEEDS`` (so the
    default run checks it; the programs are those the tests above check)."""
    import re
    sources = [outcome(seed).source for seed in SEEDS]
    missing = [what for what, pattern in CONSTRUCTS.items()
               if not any(re.search(pattern, s) for s in sources)]
    assert not missing, missing


@pytest.mark.fuzz
def test_more_programs(fuzz_seed, outcome):
    _check(outcome(fuzz_seed))


def test_generator_is_deterministic():
    """A seed gives the same program in every process (whatever PYTHONHASHSEED), so a seed
    in KNOWN or in a report names one program."""
    seeds = (0, 1, 2, 97)
    here = [fuzz_programs.generate(seed)[0] for seed in seeds]
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import fuzz_programs; "
              f"print(json.dumps([fuzz_programs.generate(s)[0] for s in {seeds!r}]))")
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script, os.path.dirname(__file__)],
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}, check=True,
                             capture_output=True, text=True).stdout
        assert json.loads(out) == here


_PROGRAM = "import numpy as np\n\n\ndef f(x, y):\n    return np.sum(np.sin(x) * y)\n"


def _args():
    import numpy as np
    return [fuzz_programs.Arg("x", np.linspace(-1.0, 1.0, 4)), fuzz_programs.Arg("y", 0.5)]


def test_checker_passes_a_right_program():
    outcome = fuzz_check.check_program(_PROGRAM, _args())
    assert outcome.status == "pass", outcome.report()


def test_checker_catches_a_wrong_gradient_and_a_write_into_an_argument(monkeypatch):
    import srcad
    real = srcad.grad

    def doubled(f, **options):
        df = real(f, **options)
        return lambda *args: tuple(2.0 * g for g in df(*args))

    def writes(f, **options):
        def df(*args):
            args[0][0] = 1.0                    # the argument is read-only: this raises
        return df
    monkeypatch.setattr(srcad, "grad", doubled)
    outcome = fuzz_check.check_program(_PROGRAM, _args(), calls=("reverse", "forward"))
    assert [(p.kind, p.what) for p in outcome.problems] == [
        ("wrong", "reverse"), ("wrong", "forward vs reverse")], outcome.report()
    monkeypatch.setattr(srcad, "grad", writes)
    outcome = fuzz_check.check_program(_PROGRAM, _args(), calls=("reverse",))
    assert [p.kind for p in outcome.problems] == ["writes"], outcome.report()


def test_thread_parallel_builds_agree_with_serial():
    """Eight programs built and called from four threads at once give what each gives alone."""
    assert fuzz_check.check_threaded(range(8), threads=4) == []
