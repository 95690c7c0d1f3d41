"""Packaging: the templates ship inside srcad as ``srcad.templates`` and never as a top-level
``templates`` package; the wheel holds exactly that layout."""
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_templates_are_a_subpackage_of_srcad():
    import srcad.templates
    assert srcad.templates.__name__ == "srcad.templates"
    assert "ufuncs" in srcad.templates.MODULES


def test_top_level_templates_import_is_refused():
    result = subprocess.run([sys.executable, "-c", "import templates"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "import them as 'srcad.templates'" in result.stderr


def test_py_typed_marker_is_present():
    import srcad
    assert os.path.exists(os.path.join(os.path.dirname(srcad.__file__), "py.typed"))


@pytest.mark.slow
def test_wheel_layout(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                             str(tmp_path), ROOT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = [f for f in os.listdir(tmp_path) if f.endswith(".whl")]
    assert len(wheels) == 1
    names = zipfile.ZipFile(tmp_path / wheels[0]).namelist()
    assert "srcad/templates/ufuncs.py" in names
    assert "srcad/templates/__init__.py" in names
    assert "srcad/py.typed" in names
    assert not any(n.startswith("templates/") for n in names)
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry
