"""``srcad.export`` and ``srcad export``: derivatives as standalone modules, run in a Python
where srcad cannot be imported, against the live derivative; and tracebacks from inside a
derivative (the generated line's text, the user's line it came from)."""
import json
import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import srcad
from gallery_functions import GALLERY
from srcad.export import parse_shapes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in the subprocess: srcad made unimportable (its checkout off sys.path and a None
# entry in sys.modules, which defeats the editable install's finder), then each exported
# module loaded from its file and called on the saved arguments.
RUNNER = textwrap.dedent("""\
    import importlib.util, json, sys
    sys.modules["srcad"] = None
    sys.path[:] = [p for p in sys.path if not p.startswith(sys.argv[2])   # the checkout,
                   or "site-packages" in p]       # not a virtualenv made inside it (CI's)
    try:
        import srcad
    except ImportError:
        pass
    else:
        raise SystemExit("srcad is importable")
    import numpy as np
    cases = json.load(open(sys.argv[1]))
    for case in cases:
        spec = importlib.util.spec_from_file_location(case["module"], case["path"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        data = np.load(case["args"])
        args = [data[f"a{i}"] if case["arrays"][i] else float(data[f"a{i}"])
                for i in range(len(case["arrays"]))]
        out = getattr(module, case["name"])(*args)
        out = out if isinstance(out, tuple) else (out,)
        np.savez(case["out"], *[np.asarray(o) for o in out])
    assert not any(m == "srcad" or m.startswith("srcad.") for m in sys.modules
                   if sys.modules[m] is not None), "srcad was imported"
    """)


def _cases():
    """(entry, mode, specialized) for every gallery function: reverse for scalar outputs,
    forward for all, each generic and specialized on the gallery arguments' shapes."""
    for e in GALLERY:
        scalar = np.ndim(e.func(*e.args())) == 0
        for mode in ("reverse", "forward") if scalar else ("forward",):
            for specialized in (False, True):
                yield e, mode, specialized


def _tangents(e, args):
    wrt = e.wrt if isinstance(e.wrt, tuple) else (e.wrt,)
    rng = np.random.default_rng(7)
    return [rng.standard_normal(np.shape(args[i])) if isinstance(args[i], np.ndarray)
            else float(rng.standard_normal()) for i in wrt]


def test_every_gallery_derivative_runs_exported_without_srcad(tmp_path):
    cases, expected = [], []
    for k, (e, mode, specialized) in enumerate(_cases()):
        args = list(e.args())
        call = args + (_tangents(e, args) if mode == "forward" else [])
        shapes = [np.shape(a) if isinstance(a, np.ndarray) else float for a in args]
        text = srcad.export(e.func, mode=mode, wrt=e.wrt,
                            specialize_for=shapes if specialized else None)
        assert "srcad" not in "".join(
            line for line in text.splitlines() if line.startswith(("import", "from")))
        path = tmp_path / f"d{k}_{e.name}_{mode}.py"
        path.write_text(text)
        name = text.split("__all__ = [\"", 1)[1].split("\"", 1)[0]
        np.savez(tmp_path / f"args{k}.npz", **{f"a{i}": a for i, a in enumerate(call)})
        live = (srcad.grad(e.func, wrt=e.wrt) if mode == "reverse" else
                srcad.autodiff(e.func, mode="forward", wrt=e.wrt))(*call)
        expected.append(live if isinstance(live, tuple) else (live,))
        cases.append({"module": f"d{k}", "path": str(path), "name": name,
                      "args": str(tmp_path / f"args{k}.npz"), "out": str(tmp_path / f"out{k}.npz"),
                      "arrays": [isinstance(a, np.ndarray) for a in call]})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(tmp_path / "runner.py"),
                             str(tmp_path / "cases.json"), REPO], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(cases) >= 2 * len(GALLERY)
    for case, live in zip(cases, expected):
        got = np.load(case["out"])
        assert len(got.files) == len(live), case["path"]
        for i, want in enumerate(live):
            np.testing.assert_allclose(np.broadcast_to(got[f"arr_{i}"], np.shape(want)), want,
                                       rtol=1e-13, atol=1e-15, err_msg=case["path"])


def test_specialized_export_refuses_other_shape_patterns():
    e = next(e for e in GALLERY if e.name == "logistic_loss")
    w, X, y = e.args()
    namespace: dict = {}
    exec(compile(srcad.export(e.func, specialize_for=[w.shape, X.shape, y.shape]),
                 "<test>", "exec"), namespace)
    df = namespace["dlogistic_loss_dw"]
    np.testing.assert_allclose(df(w, X, y), srcad.grad(e.func)(w, X, y), rtol=1e-14)
    with pytest.raises(ValueError, match="exported for the shapes"):
        df(w, X[:1], y[:1])          # a size 1 where the pattern has a symbol
    big = np.ones((10, 3))
    df(w, big, np.ones(10))          # same pattern, other sizes: fine
    with pytest.raises(ValueError, match="exported for the shapes"):
        df(w, np.ones((3, 3)), np.ones(3))   # two sizes the pattern keeps apart made equal


def _user_module(tmp_path, name, text):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_export_refuses_a_global_it_cannot_write(tmp_path):
    mod = _user_module(tmp_path, "usermod_table", """\
        import numpy as np
        TABLE = np.arange(3.0)
        def f(x):
            return np.sum(x * TABLE)
        """)
    with pytest.raises(srcad.SrcadError, match="'TABLE', a ndarray"):
        srcad.export(mod.f)


def test_export_writes_constants_and_imports(tmp_path):
    usermod_export = _user_module(tmp_path, "usermod_export", """\
        import math
        import numpy as onp
        SCALE = 2.5
        def f(x):
            return onp.sum(onp.sin(x) * SCALE) + math.pi * onp.sum(x)
        """)
    text = srcad.export(usermod_export.f, tmp_path / "d.py")
    assert "SCALE = 2.5" in text and "import numpy as onp" in text and "import math" in text
    assert (tmp_path / "d.py").read_text() == text
    ns: dict = {}
    exec(compile(text, "d.py", "exec"), ns)
    x = np.linspace(0.1, 1.0, 4)
    np.testing.assert_allclose(ns["df_dx"](x), srcad.grad(usermod_export.f)(x), rtol=1e-14)


def test_export_imports_the_modules_its_runtime_helpers_read(tmp_path):
    """An np.errstate block's helpers read ``threading``: the exported module imported only
    NumPy and math, and failed with a NameError when run."""
    mod = _user_module(tmp_path, "usermod_errstate", """\
        import numpy as np
        def f(x):
            with np.errstate(divide="ignore"):
                y = np.log(x)
            return np.sum(y * x)
        """)
    text = srcad.export(mod.f)
    assert "import threading" in text
    ns: dict = {}
    exec(compile(text, "d.py", "exec"), ns)
    x = np.linspace(0.1, 1.0, 4)
    np.testing.assert_allclose(ns["df_dx"](x), srcad.grad(mod.f)(x), rtol=1e-14)


def test_export_of_a_dict_parameter_read_with_constant_keys(tmp_path):
    """The generic derivative's zero adjoint of a dict was np.zeros_like(dict): a raw
    "entry not a 2- or 3- tuple" when the exported module ran."""
    mod = _user_module(tmp_path, "usermod_dict", """\
        import numpy as np
        def f(params, X):
            h = np.tanh(X @ params["W"] + params["b"])
            return np.sum(h) * params["gain"]
        """)
    ns: dict = {}
    exec(compile(srcad.export(mod.f), "d.py", "exec"), ns)
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "gain": 1.5, "tag": "x"}
    X = rng.normal(size=(4, 3))
    got, want = ns["df_dparams"](params, X), srcad.grad(mod.f)(params, X)
    for k in ("W", "b", "gain"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-14)


def test_cli_export_writes_a_module(tmp_path):
    out = tmp_path / "dloss.py"
    result = subprocess.run([sys.executable, "-m", "srcad", "export", "examples/logistic.py:loss",
                             "-o", str(out), "--specialize-for", "3,100x3,100"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "_srcad.specialized_for((('n0',), ('n1', 'n0'), ('n1',))" in text
    bad = subprocess.run([sys.executable, "-m", "srcad", "export", "examples/logistic.py:loss",
                          "-o", str(out), "--specialize-for", "3,abc"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "is not a shape" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_parse_shapes():
    assert parse_shapes("100x3, 3,scalar,?") == ((100, 3), (3,), float, None)
    with pytest.raises(ValueError):
        parse_shapes("3x-1")


def test_show_standalone_is_the_exported_module():
    e = GALLERY[1]
    assert srcad.show(e.func, standalone=True) == srcad.export(e.func)
    code = srcad.show(e.func).split("# To run this code outside srcad")[0].rstrip("\n")
    assert code in srcad.export(e.func)


# -- tracebacks ------------------------------------------------------------------------------

def _failing():
    def f(x):
        y = np.log(x)
        return np.sum(np.sqrt(y) @ np.ones(3))
    return f


def test_traceback_names_the_generated_line_and_the_user_line():
    f = _failing()
    with pytest.raises(ValueError) as info:
        srcad.grad(f)(np.ones(4))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    user_line = f.__code__.co_firstlineno + 2
    generated_line = info.value.__traceback__
    while generated_line.tb_next is not None:
        generated_line = generated_line.tb_next
    code = generated_line.tb_frame.f_code
    assert code.co_filename.startswith("<srcad ")
    text = srcad.show(f).splitlines()[generated_line.tb_lineno - 1].strip()
    assert f"({code.co_filename}, line {generated_line.tb_lineno}): {text}" in notes
    assert f"from {__file__}:{user_line}: return np.sum(np.sqrt(y) @ np.ones(3))" in notes
    frames = traceback.extract_tb(info.value.__traceback__)
    generated = [fr for fr in frames if fr.filename.startswith("<srcad ")]
    assert generated and generated[-1].line            # linecache serves the text too


SHOWN = textwrap.dedent("""\
    import numpy as np
    import numpy as xp
    from numpy import tanh
    K = 3.0
    def h(x):
        return x * K
    def make(k):
        def f(x):
            return np.sum(tanh(x) * k + K * x)
        return f
    def g(x, W):
        return xp.sum(h(x) ** 2 * len(W))
    """)


@pytest.mark.parametrize("optimized", [True, False])
@pytest.mark.parametrize("which", ["logistic", "global", "closure"])
def test_show_states_the_imports_it_needs(tmp_path, monkeypatch, which, optimized):
    """``srcad.show`` begins with the import lines its code needs outside srcad: run with
    exactly those lines (and a closure variable it names), it gives the live derivative."""
    (tmp_path / "shown_mod.py").write_text(SHOWN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(os.path.join(REPO, "examples"))
    import importlib
    shown_mod = importlib.import_module("shown_mod")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4)
    if which == "logistic":
        logistic = importlib.import_module("logistic")
        f, args = logistic.loss, (x, rng.standard_normal((6, 4)), (rng.random(6) > 0.5) * 1.0)
    elif which == "global":
        f, args = shown_mod.g, (x, [1, 2])
    else:
        f, args = shown_mod.make(2.0), (x,)
    text = srcad.show(f, optimized=optimized)
    note = [line[2:].strip() for line in text.splitlines() if line.startswith("#     ")]
    assert "import srcad.runtime as _srcad" in note
    namespace: dict = {}
    for line in note:
        if line.startswith("and the closure variables"):
            assert line.endswith(" k of the function")
            namespace["k"] = 2.0
        else:
            exec(line, namespace)
    exec(text, namespace)
    name = [line.split()[1].split("(")[0] for line in text.splitlines()
            if line.startswith("def ")][0]
    np.testing.assert_allclose(namespace[name](*args), srcad.grad(f)(*args), rtol=1e-12)
