"""docs/gallery.md is up to date with scripts/make_gallery.py, and every derivative it shows
agrees with finite differences (and forward with reverse mode)."""
import importlib.util
import os
import subprocess
import sys

import pytest

import srcad
from gallery_functions import GALLERY

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_script(name):
    path = os.path.join(REPO_ROOT, "scripts", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_srcad_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_gallery = _load_script("make_gallery")


def test_gallery_is_up_to_date():
    problem = make_gallery.check()
    if problem:
        pytest.fail(problem, pytrace=False)


def test_check_reports_a_stale_gallery(tmp_path):
    stale = tmp_path / "gallery.md"
    stale.write_text(make_gallery.render().replace("def ", "def  ", 1), encoding="utf-8")
    problem = make_gallery.check(str(stale))
    assert "run python scripts/make_gallery.py" in problem
    assert "\n-" in problem and "\n+" in problem          # a unified diff
    assert "run python scripts/make_gallery.py" in make_gallery.check(str(tmp_path / "none.md"))


def test_write_then_check(tmp_path):
    path = str(tmp_path / "docs" / "gallery.md")
    assert make_gallery.write(path) is True
    assert make_gallery.write(path) is False               # unchanged the second time
    assert make_gallery.check(path) is None


def test_gallery_is_machine_independent():
    text = make_gallery.render()
    assert REPO_ROOT not in text and os.path.realpath(REPO_ROOT) not in text
    assert "(tests/gallery_functions.py:" in text


def test_check_cli_is_deterministic_across_hash_seeds():
    """The command line agrees with the checked-in file in fresh interpreters whose string
    hashing (set and dict order of names) differs."""
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        result = subprocess.run([sys.executable, "scripts/make_gallery.py", "--check"],
                                cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (
            f"PYTHONHASHSEED={hash_seed}: {result.stderr[-3000:]}")


@pytest.mark.parametrize("entry", GALLERY, ids=lambda e: e.name)
def test_gallery_derivatives_are_correct(entry):
    srcad.check_grad(entry.func, *entry.args(), wrt=entry.wrt)
