"""The command line (`srcad show TARGET`), run as a user runs it: `python -m srcad` in a
subprocess; plus the shipped examples it is documented with."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcad
from srcad import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
LOGISTIC = "examples/logistic.py:loss"


def run(*args, cwd=REPO, pythonpath=(), env=None):
    """Run ``python -m srcad *args``; returns the CompletedProcess (text, stdout piped)."""
    environ = dict(os.environ if env is None else env)
    environ.pop("NO_COLOR", None)
    paths = [REPO, *pythonpath]
    if environ.get("PYTHONPATH"):
        paths.append(environ["PYTHONPATH"])
    environ["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return subprocess.run([sys.executable, "-m", "srcad", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


def ok(*args, **kwargs) -> str:
    result = run(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def user_error(*args, **kwargs) -> str:
    """Exit status 2, nothing on stdout, a message without a traceback on stderr."""
    result = run(*args, **kwargs)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("srcad: error: ") or "usage:" in result.stderr
    assert "\n\n" not in result.stderr.strip()          # one paragraph
    return result.stderr


@pytest.fixture
def pkg(tmp_path):
    """A package on a temporary PYTHONPATH: mypkg.model with a function, a class holding a
    static method and a plain function attribute, and a sibling helper module."""
    root = tmp_path / "site"
    (root / "mypkg").mkdir(parents=True)
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "model.py").write_text(textwrap.dedent("""\
        import numpy as np


        def loss(w, b, x):
            return np.sum(np.tanh(x @ w + b) ** 2)


        class Model:
            @staticmethod
            def energy(w, x):
                return np.sum((x @ w) ** 2)

            def plain(w):          # accessed on the class: a plain function
                return np.sum(np.exp(w))

            def method(self, w):
                return np.sum(w * w)
        """))
    (root / "flat.py").write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * x)\n")
    return root


# -- success ----------------------------------------------------------------------------------

def test_show_file_target_prints_the_gradient():
    out = ok("show", LOGISTIC)
    assert "def dloss_dw(w, X, y):" in out
    assert "return bw" in out
    assert "mode=reverse, wrt=(w,)" in out


def test_output_is_what_the_api_shows():
    sys.path.insert(0, EXAMPLES)
    try:
        import logistic
    finally:
        sys.path.remove(EXAMPLES)
    out = ok("show", LOGISTIC)
    assert out == srcad.show(logistic.loss).rstrip("\n") + "\n"


def test_output_is_plain_when_piped():
    for args in ([], ["--color", "auto"], ["--color", "never"]):
        out = ok("show", LOGISTIC, *args)
        assert "\x1b" not in out


def test_color_always_uses_pygments():
    pytest.importorskip("pygments")
    out = ok("show", LOGISTIC, "--color", "always")
    assert "\x1b[" in out
    plain = ok("show", LOGISTIC)
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", out).rstrip("\n") == plain.rstrip("\n")


class _Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_color_choice(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    import importlib.util
    has_pygments = importlib.util.find_spec("pygments") is not None
    assert cli._want_color("auto", _Stream(True)) is has_pygments
    assert cli._want_color("auto", _Stream(False)) is False
    assert cli._want_color("never", _Stream(True)) is False
    assert cli._want_color("always", _Stream(False)) is has_pygments
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._want_color("auto", _Stream(True)) is False


def test_output_is_deterministic():
    first = run("show", "examples/mlp.py:loss", "--wrt", "0,1,2,3")
    second = run("show", "examples/mlp.py:loss", "--wrt", "0,1,2,3")
    assert first.returncode == second.returncode == 0
    assert first.stdout.encode() == second.stdout.encode()


def test_module_function_target(pkg):
    out = ok("show", "mypkg.model:loss", pythonpath=[pkg])
    assert "def dloss_dw(w, b, x):" in out
    out = ok("show", "flat:f", pythonpath=[pkg])
    assert "def df_dx(x):" in out


def test_module_in_the_current_directory(pkg):
    out = ok("show", "flat:f", cwd=pkg)
    assert "def df_dx(x):" in out


def test_module_static_method_target(pkg):
    out = ok("show", "mypkg.model:Model.energy", pythonpath=[pkg])
    assert "def denergy_dw(w, x):" in out


def test_module_plain_function_attribute_target(pkg):
    out = ok("show", "mypkg.model:Model.plain", pythonpath=[pkg])
    assert "def dplain_dw(w):" in out


def test_file_class_method_target(pkg):
    out = ok("show", f"{pkg / 'mypkg' / 'model.py'}:Model.energy", "--wrt", "w")
    assert "def denergy_dw(w, x):" in out


def test_file_with_sibling_import(tmp_path):
    (tmp_path / "helpers_sib.py").write_text(
        "import numpy as np\n\n\ndef square(v):\n    return v * v\n")
    (tmp_path / "main_sib.py").write_text(textwrap.dedent("""\
        import numpy as np
        from helpers_sib import square


        def loss(x):
            return np.sum(square(np.sin(x)))
        """))
    out = ok("show", "main_sib.py:loss", cwd=tmp_path)
    assert "def dloss_dx(x):" in out


def test_wrt_by_index_and_by_name_agree():
    by_index = ok("show", LOGISTIC, "--wrt", "0,1")
    by_name = ok("show", LOGISTIC, "--wrt", "w,X")
    assert "def dloss_dw_dX(w, X, y):" in by_index
    assert by_index == by_name
    assert ok("show", LOGISTIC, "--wrt", "1") == ok("show", LOGISTIC, "--wrt", "X")
    assert "return bX" in ok("show", LOGISTIC, "--wrt", "X")


def test_forward_mode():
    out = ok("show", LOGISTIC, "--mode", "forward")
    assert "def dloss_dw_fwd(w, X, y, dw):" in out
    assert "mode=forward" in out
    out = ok("show", "examples/rnn.py:loss", "--mode", "forward", "--wrt", "Wx,Wh")
    assert "dWx, dWh):" in out


def test_no_optimize_and_preserve_result():
    optimized = ok("show", LOGISTIC)
    plain = ok("show", LOGISTIC, "--no-optimize")
    assert "unoptimized" in plain and plain != optimized
    kept = ok("show", LOGISTIC, "--preserve-result")
    assert "preserve_result" in kept


@pytest.mark.parametrize("target, wrt", [
    ("examples/logistic.py:loss", "w"),
    ("examples/mlp.py:loss", "W1,b1,W2,b2"),
    ("examples/rnn.py:loss", "Wx,Wh,b"),
])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_every_example_shows_in_both_modes(target, wrt, mode):
    out = ok("show", target, "--wrt", wrt, "--mode", mode)
    assert out.count("\ndef ") + out.startswith("def ") == 1


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"srcad {srcad.__version__}"


def test_help_has_examples():
    out = ok("--help")
    assert "show" in out and "examples:" in out and "srcad show examples/logistic.py:loss" in out
    out = ok("show", "--help")
    for option in ("--mode", "--wrt", "--no-optimize", "--preserve-result", "--color"):
        assert option in out


def test_console_script_matches_python_m():
    script = shutil.which("srcad")
    if script is None:
        pytest.skip("the srcad console script is not installed")
    result = subprocess.run([script, "show", LOGISTIC], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ok("show", LOGISTIC)


def test_main_returns_the_exit_status(capsys):
    assert cli.main(["show", os.path.join(REPO, LOGISTIC), "--color", "never"]) == 0
    assert "def dloss_dw(" in capsys.readouterr().out
    assert cli.main(["show", os.path.join(REPO, "examples/nope.py:loss")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_parse_wrt():
    assert cli.parse_wrt(None) == 0
    assert cli.parse_wrt("1") == 1
    assert cli.parse_wrt("0, 2") == (0, 2)
    assert cli.parse_wrt("w,b") == ("w", "b")
    assert cli.parse_wrt("-1") == -1
    with pytest.raises(cli.UsageError):
        cli.parse_wrt("0,,1")


# -- user errors: exit 2, one paragraph, no traceback ------------------------------------------

def test_missing_file():
    err = user_error("show", "examples/nope.py:loss")
    assert "examples/nope.py" in err and "does not exist" in err


def test_missing_function_lists_the_available_ones():
    err = user_error("show", "examples/logistic.py:nope")
    assert "'nope'" in err and "loss" in err


def test_missing_module(pkg):
    err = user_error("show", "nosuchmodule_xyz:f", pythonpath=[pkg])
    assert "nosuchmodule_xyz" in err


def test_missing_class_attribute(pkg):
    err = user_error("show", "mypkg.model:Model.nope", pythonpath=[pkg])
    assert "Model" in err and "'nope'" in err and "energy" in err


def test_target_without_function():
    err = user_error("show", "examples/logistic.py")
    assert "FILE.py:FUNC" in err


def test_target_that_is_not_a_function(pkg):
    err = user_error("show", "mypkg.model:np", pythonpath=[pkg])
    assert "not a function" in err


def test_unsupported_construct_reports_file_line_and_caret(tmp_path):
    (tmp_path / "bad.py").write_text(textwrap.dedent("""\
        import numpy as np


        def f(x):
            try:
                y = np.log(x)
            except ValueError:
                y = x
            return np.sum(y)
        """))
    err = user_error("show", "bad.py:f", cwd=tmp_path)
    assert f"{tmp_path / 'bad.py'}:5:" in err
    assert "try" in err and "    try:\n    ^" in err
    assert "Instead:" in err


def test_no_rule_reports_file_and_line(tmp_path):
    (tmp_path / "edges.py").write_text(
        "import numpy as np\n\n\ndef f(x):\n    return np.sum(np.polydiv(x, x[:2])[0])\n")
    err = user_error("show", "edges.py:f", "--mode", "forward", cwd=tmp_path)
    assert f"{tmp_path / 'edges.py'}:5:" in err and "numpy.polydiv" in err


def test_error_while_importing_the_file(tmp_path):
    (tmp_path / "boom.py").write_text("import numpy as np\n\nraise RuntimeError('boom')\n")
    err = user_error("show", "boom.py:f", cwd=tmp_path)
    assert "boom.py:3" in err and "RuntimeError: boom" in err


def test_syntax_error_in_the_file(tmp_path):
    (tmp_path / "broken.py").write_text("def f(x):\n    return x +\n")
    err = user_error("show", "broken.py:f", cwd=tmp_path)
    assert "broken.py:2" in err and "SyntaxError" in err


@pytest.mark.parametrize("wrt, message", [
    ("5", "out of range"), ("z", "no parameter named 'z'"), ("0,w", "twice"),
    ("0,,1", "empty"), ("w-1", "neither"),
])
def test_bad_wrt(wrt, message):
    err = user_error("show", LOGISTIC, "--wrt", wrt)
    assert message in err


def test_bad_mode_and_missing_command():
    assert "invalid choice" in user_error("show", LOGISTIC, "--mode", "sideways")
    assert "usage:" in user_error()


def test_non_function_target_from_numpy():
    err = user_error("show", "numpy:sin")
    assert "not a Python function with source code" in err


# -- the examples compute correct gradients ---------------------------------------------------

def _import_example(name):
    sys.path.insert(0, EXAMPLES)
    try:
        return __import__(name)
    finally:
        sys.path.remove(EXAMPLES)


def test_examples_gradients_match_finite_differences():
    g = np.random.default_rng(0)
    logistic, mlp, rnn = (_import_example(n) for n in ("logistic", "mlp", "rnn"))
    X = g.standard_normal((7, 3))
    y = (g.random(7) > 0.5).astype(float)
    srcad.check_grad(logistic.loss, g.standard_normal(3), X, y, wrt=(0, 1))
    Y = np.eye(3)[g.integers(0, 3, 6)]
    srcad.check_grad(mlp.loss, g.standard_normal((4, 5)), g.standard_normal(5),
                     g.standard_normal((5, 3)), g.standard_normal(3),
                     g.standard_normal((6, 4)), Y, wrt=(0, 1, 2, 3))
    srcad.check_grad(rnn.loss, 0.5 * g.standard_normal((3, 5)), 0.3 * g.standard_normal((5, 5)),
                     g.standard_normal(5), g.standard_normal((4, 3)), g.standard_normal(5),
                     wrt=(0, 1, 2, 3))
