"""Shared pytest setup: makes tests/ importable, so test modules can ``import helpers`` and
``import corpus`` whatever pytest's import mode; points srcad's disk cache at a directory of
this session's own (never the user's cache), which the subprocesses tests start inherit."""
import atexit
import os
import shutil
import sys
import tempfile

_CACHE_DIR = tempfile.mkdtemp(prefix="srcad-test-cache-")
os.environ["SRCAD_CACHE_DIR"] = os.path.join(_CACHE_DIR, "cache")
atexit.register(shutil.rmtree, _CACHE_DIR, True)

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


# -- the program fuzzer (tests/test_fuzz.py) -----------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("srcad fuzz")
    group.addoption("--fuzz", type=int, default=None, metavar="N",
                    help="also check N more random programs: the tests marked `fuzz`, which are "
                         "deselected without this option (or SRCAD_FUZZ=N in the environment)")
    group.addoption("--fuzz-start", type=int, default=None, metavar="SEED",
                    help="the first seed of the --fuzz programs (default 100000, or "
                         "SRCAD_FUZZ_START)")
    parser.addoption("--sweeps", action="store_true", default=False,
                     help="also run the points of the long corpus sweeps that the default suite "
                          "samples (the tests marked `sweep`; or SRCAD_SWEEPS=1)")
    parser.addoption("--packaging", action="store_true", default=False,
                     help="also run the tests marked `packaging` (they build the sdist and the "
                          "wheel and type-check against the installed srcad: about 30 s)")


def fuzz_count(config) -> int:
    count = config.getoption("--fuzz")
    return int(os.environ.get("SRCAD_FUZZ") or 0) if count is None else count


def pytest_generate_tests(metafunc):
    if "fuzz_seed" in metafunc.fixturenames:
        start = metafunc.config.getoption("--fuzz-start")
        if start is None:
            start = int(os.environ.get("SRCAD_FUZZ_START") or 100000)
        seeds = range(start, start + fuzz_count(metafunc.config))
        metafunc.parametrize("fuzz_seed", seeds, ids=[f"seed{s}" for s in seeds])


def pytest_collection_modifyitems(config, items):
    """The opt-in tests are deselected unless asked for (other markers still work): those
    marked `fuzz` without --fuzz N, those marked `packaging` without --packaging, those
    marked `sweep` without --sweeps."""
    opted_out = [marker for marker, wanted in (
        ("fuzz", fuzz_count(config)), ("packaging", config.getoption("--packaging")),
        ("sweep", config.getoption("--sweeps") or os.environ.get("SRCAD_SWEEPS") == "1"))
        if not wanted]
    dropped = [item for item in items if any(item.get_closest_marker(m) for m in opted_out)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        dropped_ids = {id(item) for item in dropped}
        items[:] = [item for item in items if id(item) not in dropped_ids]


def pytest_terminal_summary(terminalreporter, config):
    summary = getattr(config, "srcad_fuzz_summary", None)
    if summary:
        terminalreporter.write_line(summary)
