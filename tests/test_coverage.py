"""docs/coverage.md is the output of scripts/coverage.py for the rules srcad has now (the JAX
names come from the committed scripts/jax_names.json: no JAX needed), and the script counts
what it says it counts."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("coverage_script", ROOT / "scripts" /
                                                  "coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_script"] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_is_up_to_date():
    pytest.importorskip("scipy", reason="the table's SciPy rows need SciPy")
    coverage = _script()
    assert (ROOT / "docs" / "coverage.md").read_text() == coverage.table(
        coverage.load_names()), "docs/coverage.md is stale: run python scripts/coverage.py"


def test_every_namespace_of_the_issue_is_listed():
    names = _script().load_names()
    for namespace in ("jax.numpy", "jax.numpy.linalg", "jax.numpy.fft", "jax.scipy.special",
                      "jax.scipy.linalg"):
        assert len(names[namespace]) > 10, namespace


def test_status_follows_the_registry():
    coverage = _script()
    assert coverage._status(np.sin, "differentiable") == (True, "both rules")
    assert coverage._status(np.argmax, "integer")[0]
    assert coverage._status(np.floor, "step")[0]
    assert coverage._status(np.histogram, "integer") == (False, "not registered")
    assert coverage._kind("where", "integer") == "differentiable"      # an override
    assert coverage._kind("isnan", "bool") == "bool"
    assert coverage._kind("ndarray", "class") == "other"


def test_counts_add_up():
    import re
    coverage = _script()
    text = coverage.table(coverage.load_names())
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| `") and len(line.split("|")) == 6]
    counted = [r for r in rows if r[1] in ("differentiable", "step") and r[2] != "-"]
    covered, total = map(int, re.search(r"covered: (\d+) / (\d+)", text).groups())
    assert total == len(counted)
    assert covered == sum(r[2] == "yes" for r in counted)
