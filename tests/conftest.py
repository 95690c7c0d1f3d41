"""Shared pytest setup: makes tests/ importable, so test modules can ``import helpers`` and
``import corpus`` whatever pytest's import mode."""
import os
import sys

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
    """Without --fuzz N, the tests marked `fuzz` are deselected (other markers still work)."""
    if fuzz_count(config):
        return
    dropped = [item for item in items if item.get_closest_marker("fuzz")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("fuzz")]


def pytest_terminal_summary(terminalreporter, config):
    summary = getattr(config, "srcad_fuzz_summary", None)
    if summary:
        terminalreporter.write_line(summary)
