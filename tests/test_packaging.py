"""Packaging: the rules in the top-level templates/ are the package ``srcad.templates`` in every
install form, never a top-level ``templates`` package.

``srcad/templates`` is a symbolic link to ``../templates``, so a Python started in the checkout
(which imports ./srcad), an editable install (a .pth entry for the checkout) and a wheel (the
files behind the link, copied) all import one srcad with its templates. The tests marked
``packaging`` build the wheel and the sdist and run mypy against the installed srcad; they
are deselected unless ``--packaging`` is given (.ci/run gives it).
"""
import filecmp
import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, "templates")


def _template_files():
    return sorted(f for f in os.listdir(TEMPLATES) if f.endswith(".py"))


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stderr[-3000:]}"
    return result.stdout


def test_templates_are_a_subpackage_of_srcad():
    import srcad.templates
    assert srcad.templates.__name__ == "srcad.templates"
    assert "ufuncs" in srcad.templates.MODULES


def test_top_level_templates_import_is_refused():
    result = subprocess.run([sys.executable, "-c", "import templates"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "import them as 'srcad.templates'" in result.stderr


def test_srcad_templates_is_the_top_level_directory():
    """A link in a checkout; in an unpacked sdist (it has PKG-INFO), a copy of the files."""
    link = os.path.join(ROOT, "srcad", "templates")
    if not os.path.exists(os.path.join(ROOT, "PKG-INFO")):
        assert os.path.islink(link), "srcad/templates must stay a symbolic link to ../templates"
        assert os.readlink(link) == "../templates"
    files = _template_files()
    assert sorted(f for f in os.listdir(link) if f.endswith(".py")) == files
    assert filecmp.cmpfiles(link, TEMPLATES, files, shallow=False)[0] == files


def test_a_python_started_in_the_checkout_imports_the_checkout_with_its_templates():
    """Whatever is installed, ``python`` in the checkout root imports ./srcad (the current
    directory comes first on sys.path): its templates must be there, and its rules load."""
    out = _run([sys.executable, "-c",
                "import srcad, srcad.templates, srcad.registry, numpy\n"
                "print(srcad.__file__)\nprint(srcad.templates.__file__)\n"
                "print(srcad.registry.lookup(numpy.exp) is not None)"], cwd=ROOT)
    package, templates, has_rules = out.split()
    assert package == os.path.join(ROOT, "srcad", "__init__.py")
    assert templates == os.path.join(ROOT, "srcad", "templates", "__init__.py")
    assert has_rules == "True"


def test_the_imported_templates_are_the_top_level_files():
    """The srcad under test (the checkout, an editable install, or an installed wheel) has
    exactly the rule modules of templates/, byte for byte, and loads every one of them."""
    import srcad.templates
    (directory,) = srcad.templates.__path__
    installed = sorted(f for f in os.listdir(directory) if f.endswith(".py"))
    assert installed == _template_files()
    match, mismatch, errors = filecmp.cmpfiles(directory, TEMPLATES, installed, shallow=False)
    assert not mismatch and not errors, (
        f"{directory} differs from {TEMPLATES} in {mismatch + errors}: reinstall srcad")
    modules = {f[:-3] for f in installed} - {"__init__", "_index"}     # _index: which family
    assert set(srcad.templates.MODULES) == modules


def _referenced_paths():
    """The repository paths the README names: `examples/logistic.py`, `docs/`, ..."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return {word.rstrip("/") for word in re.findall(r"[\w.-]+(?:/[\w.-]*)+", readme)
            if os.path.isdir(os.path.join(ROOT, word.split("/")[0]))}


def test_the_readme_names_paths_that_exist():
    paths = _referenced_paths()
    assert {"tests", "docs", "examples/logistic.py", "benchmarks/RESULTS.md",
            "scripts/make_gallery.py", "templates"} <= paths
    assert all(os.path.exists(os.path.join(ROOT, p)) for p in paths), paths


def _checkout_files(top):
    """Files under ``top`` (relative to the root, through links), without caches."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top), followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".hypothesis")]
        for name in filenames:
            if not name.endswith((".pyc", ".pyo")):
                out.add(os.path.relpath(os.path.join(dirpath, name), ROOT))
    return out


def _installed_srcad_dist():
    try:
        return importlib.metadata.distribution("srcad")
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.mark.packaging
def test_wheel_holds_the_templates_and_works_outside_the_checkout(tmp_path):
    """``pip install .``'s wheel: srcad/templates holds the files of templates/ (copied from
    behind the link), nothing is installed as a top-level ``templates``, and the installed
    package differentiates from a directory outside the checkout."""
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), ROOT])
    (wheel,) = os.listdir(wheels)
    names = zipfile.ZipFile(wheels / wheel).namelist()
    assert {f"srcad/templates/{f}" for f in _template_files()} <= set(names)
    assert _checkout_files("srcad") <= set(names)      # every subpackage, py.typed
    assert not any(n.startswith(("templates/", "tests/")) for n in names)
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
          str(wheels / wheel)])
    assert filecmp.cmpfiles(site / "srcad" / "templates", TEMPLATES, _template_files(),
                            shallow=False)[0] == _template_files()
    (tmp_path / "use.py").write_text(
        "import numpy as np\nimport srcad\n\n\ndef f(x):\n    return np.sum(np.exp(x))\n\n\n"
        "print(srcad.__file__)\nprint(srcad.grad(f)(np.zeros(2)).tolist())\n")
    out = _run([sys.executable, "use.py"], cwd=tmp_path,
               env=dict(os.environ, PYTHONPATH=str(site)))
    package, gradient = out.splitlines()
    assert package == str(site / "srcad" / "__init__.py")
    assert gradient == "[1.0, 1.0]"


@pytest.mark.packaging
def test_sdist_holds_what_the_readme_refers_to(tmp_path):
    """The sdist carries the tests, docs, examples, scripts and benchmarks (every file of
    them), LICENSE, and srcad/templates as files, from which its wheel is built."""
    pytest.importorskip("build", reason="the sdist is built with `build` (the test extra)")
    _run([sys.executable, "-m", "build", "-o", str(tmp_path), ROOT])    # sdist, then its wheel
    (sdist,) = [f for f in os.listdir(tmp_path) if f.endswith(".tar.gz")]
    with tarfile.open(tmp_path / sdist) as archive:
        prefix = sdist[:-len(".tar.gz")] + "/"
        names = {m.name[len(prefix):] for m in archive.getmembers() if m.isfile() or m.islnk()}
    expected = {"LICENSE", "README.md", "pyproject.toml"}
    for top in ("srcad", "tests", "docs", "examples", "scripts", "benchmarks", "templates"):
        expected |= _checkout_files(top)
    assert expected <= names, sorted(expected - names)
    assert {p for p in _referenced_paths() if os.path.isfile(os.path.join(ROOT, p))} <= names
    with tarfile.open(tmp_path / sdist) as archive:
        metadata = archive.extractfile(prefix + "PKG-INFO").read().decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Python: >=3.10" in metadata

    (wheel,) = [f for f in os.listdir(tmp_path) if f.endswith(".whl")]
    assert _checkout_files("srcad") <= set(zipfile.ZipFile(tmp_path / wheel).namelist())


@pytest.mark.packaging
def test_mypy_sees_the_installed_srcad(tmp_path):
    """From outside the checkout, mypy finds the installed srcad (the editable install is a
    .pth path, not an import hook) and its types: a wrong argument to a gradient is caught."""
    pytest.importorskip("mypy", reason="mypy is part of the test extra")
    if _installed_srcad_dist() is None:
        pytest.skip("srcad is not installed in this environment")
    (tmp_path / "use.py").write_text(
        "import srcad\n\n\ndef f(x: float) -> float:\n    return x * x\n\n\n"
        "g = srcad.grad(f)\ng('one')\n")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "use.py"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert "import-not-found" not in result.stdout, result.stdout
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r'use\.py:9: error: Argument 1 to "__call__" of "DerivativeFunction" has '
                     r'incompatible type "str"; expected "float"', result.stdout), result.stdout
