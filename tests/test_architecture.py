"""The layering docs/architecture.md states, checked on the code's own imports: no pipeline
stage imports a later one, the two transformers import neither each other nor the optimizer,
and every module of the stage packages opens with a docstring."""
import ast
import os

import pytest

SRCAD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "srcad")

# The pipeline, in order (a stage is a module or a package of srcad).
STAGES = ["source", "normalize", "analysis", "views", "complex_values", "reverse", "forward", "optimize",
          "emit", "cache", "diskcache", "dispatch", "api"]
TRANSFORMERS = {"reverse", "forward"}


def _modules():
    """(stage or top-level module name, path) of every module of srcad."""
    for folder, _, files in os.walk(SRCAD):
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, SRCAD)
                yield rel.split(os.sep)[0].removesuffix(".py"), path


def _imported(path, root=SRCAD):
    """The top-level srcad modules and packages ``path`` imports, its own package left out
    (at module level or inside functions)."""
    rel = os.path.relpath(path, root).split(os.sep)
    package = ["srcad"] + rel[:-1]
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[:len(package) - (node.level - 1)]
        elif (node.module or "").split(".")[0] == "srcad":
            base = []
        else:
            continue
        targets = [node.module] if node.module else [a.name for a in node.names]
        for target in targets:
            full = base + target.split(".")
            if len(full) > 1 and full[0] == "srcad" and full[1] != rel[0].removesuffix(".py"):
                out.add(full[1])
    return out


MODULES = list(_modules())


def test_the_walk_sees_the_stage_packages():
    names = {name for name, _ in MODULES}
    assert {"normalize", "optimize", "reverse", "instantiate", "sharing"} <= names
    assert "normalize" in _imported(os.path.join(SRCAD, "api.py"))


def test_an_import_up_the_pipeline_is_found(tmp_path):
    """The layout before issue 12: a transformer taking helpers from the other and from the
    optimizer."""
    (tmp_path / "reverse").mkdir()
    (tmp_path / "reverse" / "adjoint.py").write_text(
        "from .base import x\nfrom ..optimize import drop_empty\n")
    (tmp_path / "forward.py").write_text("def f():\n    from .reverse import bind\n")
    adjoint = _imported(str(tmp_path / "reverse" / "adjoint.py"), str(tmp_path))
    assert adjoint & _later("reverse") == {"optimize"}
    assert _imported(str(tmp_path / "forward.py"), str(tmp_path)) & _later("forward") == {
        "reverse"}


LAYERED = [(n, p) for n, p in MODULES if n not in ("check", "export", "cli", "pickling",
                                                  "__init__", "__main__")]


def _later(name) -> set:
    """The stages a module called ``name`` (a stage, or a shared module) must not import."""
    if name in STAGES:
        later = set(STAGES[STAGES.index(name) + 1:])
    else:                  # shared modules (instantiate, sharing, nodes, registry, template...)
        later = set(STAGES[STAGES.index("analysis") + 1:])       # sit below the transformers
    if name in TRANSFORMERS:
        later |= TRANSFORMERS - {name}
    return later


@pytest.mark.parametrize("name, path", LAYERED, ids=[os.path.relpath(p, SRCAD) for _, p in LAYERED])
def test_no_stage_imports_a_later_one(name, path):        # (check, export, cli: above the api)
    found = _imported(path) & _later(name)
    assert not found, f"{os.path.relpath(path, SRCAD)} imports {sorted(found)}, a later stage"


PACKAGED = [p for n, p in MODULES if n in ("normalize", "optimize", "reverse") and os.sep in
            os.path.relpath(p, SRCAD)]


@pytest.mark.parametrize("path", PACKAGED, ids=[os.path.relpath(p, SRCAD) for p in PACKAGED])
def test_package_modules_state_their_purpose(path):
    assert ast.get_docstring(ast.parse(open(path, encoding="utf-8").read())), path


_COMPILER = ("srcad.normalize", "srcad.analysis", "srcad.complex_values", "srcad.reverse",
             "srcad.forward", "srcad.optimize", "srcad.templates", "astor", "scipy")

_CHILD = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
import srcad
loaded = lambda: sorted(m for m in {compiler!r} if m in sys.modules)
print(loaded())
if {call!r}:
    import numpy as np, model
    print(srcad.grad(model.loss)(np.array([0.5, -1.0, 2.0])).tolist())
    print(loaded())
"""


def _child(tmp_path, call):
    import json
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(SRCAD_CACHE="1", SRCAD_CACHE_DIR=str(tmp_path / "cache"))
    code = _CHILD.format(root=os.path.dirname(SRCAD), here=str(tmp_path),
                         compiler=_COMPILER, call=call)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return [json.loads(line.replace("'", '"')) for line in out.splitlines()]


def test_import_and_a_cached_derivative_load_no_compiler(tmp_path):
    """`import srcad` loads none of the compiler (nor SciPy); the first build does; a new
    process whose derivative comes from the disk cache never does."""
    (tmp_path / "model.py").write_text(
        "import numpy as np\n\ndef loss(w):\n    return np.sum(np.tanh(w) * w)\n")
    assert _child(tmp_path, call=False) == [[]]
    before, cold, built = _child(tmp_path, call=True)
    assert before == [] and {"srcad.normalize", "srcad.reverse", "astor"} <= set(built)
    before, warm, loaded = _child(tmp_path, call=True)
    assert before == [] and loaded == [] and warm == cold


def _parse_calls(path):
    """The ``ast.parse`` / ``gast.parse`` calls in the file at ``path``, as (line, text)."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "parse" and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("ast", "gast")):
            found.append((node.lineno, f"{node.func.value.id}.parse"))
    return found


def test_srcad_parses_text_only_through_the_locked_parser():
    """CPython 3.11 trips 'AST constructor recursion depth mismatch' when two threads parse at
    once, so every parse in srcad goes through srcad.parsing, which holds one lock."""
    calls = {os.path.relpath(p, SRCAD): _parse_calls(p) for _, p in MODULES
             if os.path.relpath(p, SRCAD) != "parsing.py"}
    assert {path: found for path, found in calls.items() if found} == {}


def test_the_locked_parser_survives_threads_that_parse_at_once():
    """Four threads parse while finalizers run Python code mid-parse (which lets another
    thread in): with one lock none of them sees a SystemError."""
    import threading

    from srcad import parsing

    text = "\n".join(f"def f{i}(x):\n    return [((x + {i}) * x) ** 2 for _ in range(3)]"
                     for i in range(200))
    errors = []

    class Finalized:
        def __del__(self):
            sum(range(10))

    def work():
        for _ in range(15):
            cycle = [Finalized() for _ in range(50)]
            for item in cycle:
                item.me = item               # collected by the cycle collector, mid-parse
            del cycle
            try:
                parsing.parse(text)
                parsing.parse_gast(text)
            except SystemError as exc:
                errors.append(str(exc))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
