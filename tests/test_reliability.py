"""Issue 17: nothing from outside is executed as generated code, first use from several
threads, memory given back, derivatives that never go stale, deep stacks and expressions."""
from __future__ import annotations

import ast
import builtins
import gc
import importlib.util
import linecache
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcad
from helpers import central_difference, make_function

# -- 1. data from outside never becomes code ------------------------------------------------------

PAYLOAD = "\n__import__('builtins').__dict__.__setitem__('srcad_injected', 1)\n"


@pytest.fixture
def no_injection():
    builtins.__dict__.pop("srcad_injected", None)
    yield
    injected = builtins.__dict__.pop("srcad_injected", None)
    assert injected is None, "text from outside srcad ran as generated code"


def _assert_clean(df, *args):
    """The derivative builds, runs, and its source holds no line the payload made code."""
    df(*args)
    text = df.source()
    calls = [node.func.id for node in ast.walk(ast.parse(text))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    assert "__import__" not in calls, text
    return text


def _every_mode(f, *args):
    for mode in ("reverse", "forward"):
        for optimized in (True, False):
            df = srcad.autodiff(f, mode=mode, optimized=optimized)
            extra = (np.ones_like(args[0]),) if mode == "forward" else ()
            _assert_clean(df, *args, *extra)
    srcad.show(f)


@pytest.mark.parametrize("attribute", ["__qualname__", "__name__"])
def test_qualname_and_name_with_code(no_injection, attribute):
    f = make_function("""
        def f(x):
            return np.sum(np.sin(x))
    """)
    setattr(f, attribute, "f" + PAYLOAD + "#")
    _every_mode(f, np.ones(3))


def test_helper_name_with_code(no_injection):
    ns: dict = {}
    h = make_function("""
        def h(x):
            return np.exp(x)
    """, ns)
    h.__name__ = "h" + PAYLOAD
    h.__qualname__ = "h" + PAYLOAD
    f = make_function("""
        def f(x):
            return np.sum(h(x) * 2.0)
    """, ns)
    _every_mode(f, np.ones(3))


def _from_file(filename, text):
    """A function compiled under ``filename`` (its lines registered in linecache)."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    ns = {"np": np, "__name__": "evil"}
    exec(compile(text, filename, "exec"), ns)
    return ns["f"]


def test_co_filename_with_code(no_injection):
    f = _from_file("evil.py" + PAYLOAD + "#", "def f(x):\n    return np.sum(x * x)\n")
    _every_mode(f, np.ones(3))


def test_module_file_name_with_code(no_injection, tmp_path):
    path = tmp_path / ("m" + PAYLOAD.replace("/", "") + ".py")
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(np.cos(x))\n")
    spec = importlib.util.spec_from_file_location("evil_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _every_mode(module.f, np.ones(3))


def test_docstring_and_string_constants_with_code(no_injection):
    f = make_function('''
        def f(x, how="a\\n__import__('builtins').__dict__.__setitem__('srcad_injected', 1)"):
            """Doc.
            __import__('builtins').__dict__.__setitem__('srcad_injected', 1)
            """
            y = np.sum(x * x)
            label = "z\\n__import__('builtins').__dict__.__setitem__('srcad_injected', 1)"
            return y
    ''')
    _every_mode(f, np.ones(3))


def test_source_line_with_line_separator_in_comment(no_injection):
    # \u2028 and \x0c split lines for str.splitlines (linecache) but not for Python
    f = make_function(
        "def f(x):\n"
        "    y = x * 2.0  # a\u2028__import__('builtins').__dict__.__setitem__('srcad_injected', 1)\n"
        "    return np.sum(y * x)\n")
    _every_mode(f, np.ones(3))


def test_parameter_and_local_names_stay_names(no_injection):
    f = make_function("""
        def f(ẋ, λ=2.0):
            ä = ẋ * λ
            return np.sum(ä)
    """)
    _every_mode(f, np.ones(3))


# -- 2. first use from several threads -------------------------------------------------------------

_THREADS = '''
import collections, sys, threading
import numpy as np
import srcad, srcad.api as api

built = collections.Counter()
real_build = api.build

def counting(f, spec, *src):
    built[(f.__name__, spec)] += 1
    return real_build(f, spec, *src)

api.build = counting

def helper(v):
    return np.tanh(v) * 2.0

def loss(w, x):
    return np.sum(helper(x @ w) ** 2) + np.sum(np.exp(w))

def other(w):
    return np.sum(np.sin(w) * np.cos(w))

n = 8
barrier = threading.Barrier(n)
results, errors = [None] * n, []
w, x = np.linspace(0.1, 0.5, 3), np.ones((4, 3))

def work(i):
    try:
        barrier.wait()
        g = srcad.grad(loss)(w, x) if i % 2 else srcad.grad(other)(w)
        h = srcad.grad(loss)(w, np.ones((2, 3)))
        t = srcad.autodiff(loss, mode="forward")(w, x, np.ones(3))
        results[i] = (g, h, t, srcad.show(loss), srcad.grad(loss))
    except BaseException as exc:
        errors.append(f"{type(exc).__name__}: {exc}")

threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
for i in range(2, n):
    ref = results[i % 2]
    assert all(np.array_equal(a, b) for a, b in zip(ref[:3], results[i][:3])), i
    assert ref[3] == results[i][3] and ref[4] is results[i][4], i
assert built and max(built.values()) == 1, built
print("ok", sum(built.values()))
'''


def _script(tmp_path, text):
    path = tmp_path / "script.py"
    path.write_text(text)
    return str(path)


def test_first_use_from_eight_threads(tmp_path):
    """A fresh process each time (the registry loads lazily); four runs at once."""
    script = _script(tmp_path, _THREADS)
    runs = [subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0 and out.startswith("ok"), out


# -- 3. memory given back ------------------------------------------------------------------------

def _generated_lines():
    return {k for k in linecache.cache if k.startswith("<srcad ")}


def test_dropped_functions_and_their_derivatives_are_freed():
    import weakref
    gc.collect()
    before = _generated_lines()
    refs = []

    def make(k):
        def f(x):
            return np.sum(np.sin(x) * k)
        return f

    x = np.ones(3)
    for i in range(20):
        f = make(float(i))          # a closure: one code object, many functions
        g = make_function(f"def g(x):\n    return np.sum(np.cos(x) * {i}.5)\n")  # own source
        for fn in (f, g):
            assert np.allclose(srcad.grad(fn)(x) @ x, srcad.autodiff(fn, mode="forward")(x, x))
            srcad.hessian(fn)(x)
            refs.append(weakref.ref(fn))
        del f, g, fn
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    left = _generated_lines() - before        # the linecache entries of their derivatives too,
    assert not [k for k in left if k.startswith(("<srcad dg", "<srcad ddg"))], left
    assert len(left) <= 8, left               # but the builds the closures share (bounded)


def test_a_kept_derivative_keeps_its_lines_and_works_after_linecache_is_cleared():
    f = make_function("def f(x):\n    return np.sum(np.tanh(x) ** 3)\n")
    df = srcad.grad(f)
    gc.collect()
    assert any("tanh" in "".join(linecache.cache[k][2]) for k in _generated_lines())
    for k in _generated_lines():
        del linecache.cache[k]          # as linecache.clearcache() does
    ddf = srcad.hessian(f)              # a derivative of generated code reads its text
    x = np.linspace(0.1, 0.4, 3)
    assert np.allclose(ddf(x), srcad.jacobian(df, mode="reverse")(x))


def test_derivatives_kept_per_function_are_bounded(monkeypatch):
    import srcad.cache as cache
    monkeypatch.setattr(cache, "_MAX_PER_FUNCTION", 3)
    f = make_function("def f(x):\n    return np.sum(x * x)\n")
    df = srcad.grad(f)
    for shape in [(2,), (2, 3), (2, 3, 4), (2, 3, 4, 5), (1, 2)]:
        assert np.allclose(df(np.ones(shape)), 2.0)
    assert len(getattr(f, cache._ATTR)) <= 3


def test_a_copy_of_the_function_dict_does_not_share_derivatives():
    import functools
    f = make_function("def f(x):\n    return np.sum(x * x)\n")
    srcad.grad(f)(np.ones(2))
    g = make_function("def g(x):\n    return np.sum(x * x * x)\n")
    functools.update_wrapper(g, f)       # copies f.__dict__ (its derivatives) into g's
    del g.__wrapped__
    assert np.allclose(srcad.grad(g)(np.ones(2)), 3.0)
    assert np.allclose(srcad.grad(f)(np.ones(2)), 2.0)


# -- 4. staleness ----------------------------------------------------------------------------------

def _closure_helper(ns, k):
    make = make_function("""
        def make(k):
            def h(x):
                return x * k
            return h
    """, ns, name="make")
    return make(k)


def test_a_closure_helper_reads_its_own_cells():
    ns: dict = {"k": 100.0}
    ns["h"] = _closure_helper(ns, 3.0)
    f = make_function("def f(x):\n    return np.sum(h(x))\n", ns)
    x = np.ones(2)
    for mode in ("reverse", "forward"):
        df = srcad.autodiff(f, mode=mode)
        out = df(x) if mode == "reverse" else df(x, np.array([1.0, 0.0]))
        assert np.allclose(out, [3.0, 3.0] if mode == "reverse" else 3.0), (mode, out)
    del ns["k"]                      # no such global at all: still the cell
    assert np.allclose(srcad.grad(f)(x), 3.0)


def test_a_change_of_a_helpers_cell_rebuilds_the_derivative():
    ns: dict = {}
    ns["h"] = _closure_helper(ns, 3.0)
    f = make_function("def f(x):\n    return np.sum(h(x))\n", ns)
    df = srcad.grad(f)
    assert np.allclose(df(np.ones(2)), 3.0)
    ns["h"].__closure__[0].cell_contents = 5.0
    assert np.allclose(df(np.ones(2)), 5.0)
    assert np.allclose(srcad.grad(f)(np.ones(2)), 5.0)


def test_rebinding_an_attribute_read_through_rebuilds():
    import types
    helpers = types.ModuleType("helpers")          # `import helpers`
    helpers.h = make_function("def h(x):\n    return x * 2.0\n")
    fake_np = types.ModuleType("fake_np")
    fake_np.sin, fake_np.sum, fake_np.cos = np.sin, np.sum, np.cos

    class Model:
        act = staticmethod(np.tanh)

    ns = {"helpers": helpers, "np": fake_np, "Model": Model}
    f = make_function("def f(x):\n    return np.sum(helpers.h(x) + np.sin(x) + Model.act(x))\n",
                      ns)
    x = np.array([0.3, 0.7])
    df = srcad.grad(f)

    def expected():
        return (helpers.h(1.0 + 0 * x) + fake_np.cos(x) if fake_np.sin is np.sin else
                helpers.h(1.0 + 0 * x) - np.sin(x)) + (
            1 - np.tanh(x) ** 2 if Model.act is np.tanh else np.exp(x))

    assert np.allclose(df(x), expected())
    helpers.h = make_function("def h2(x):\n    return x * 7.0\n")
    assert np.allclose(df(x), expected())
    fake_np.sin = np.cos                   # as `np.sin = np.cos` would
    assert np.allclose(df(x), expected())
    Model.act = staticmethod(np.exp)
    assert np.allclose(df(x), expected())
    assert np.allclose(srcad.autodiff(f, mode="forward")(x, np.ones(2)), np.sum(expected()))


def test_a_source_edited_without_reloading_is_refused(tmp_path):
    path = tmp_path / "edited_mod.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * 2.0)\n")
    spec = importlib.util.spec_from_file_location("edited_mod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * 300.0)\n")
    os.utime(path, (1, 1))               # a new mtime for linecache's check
    with pytest.raises(srcad.SourceUnavailableError, match="not the code that runs"):
        srcad.grad(mod.f)
    spec.loader.exec_module(mod)          # as importlib.reload: the new text runs now
    assert np.allclose(srcad.grad(mod.f)(np.ones(2)), 300.0)


def test_a_redefined_notebook_cell_is_refused():
    f = make_function("def f(x):\n    return np.sum(x * 2.0)\n")
    filename = f.__code__.co_filename
    text = "def f(x):\n    return np.sum(x * 3.0)\n"   # the cell id reused for new text
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    with pytest.raises(srcad.SourceUnavailableError, match="not the code that runs"):
        srcad.grad(f)


def test_a_python_wrapper_is_differentiated_not_what_it_wraps():
    ns: dict = {}
    deco = make_function("""
        import functools
        def twice(fn):
            @functools.wraps(fn)
            def wrapper(x):
                return 2.0 * fn(x)
            return wrapper
    """, ns, name="twice")
    f = deco(make_function("def f(x):\n    return np.sum(x * x)\n"))
    assert np.allclose(srcad.grad(f)(np.ones(2)), 4.0)
    generic = make_function("""
        import functools
        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return 2.0 * fn(*args, **kwargs)
            return wrapper
    """, ns, name="logged")
    g = generic(make_function("def g(x):\n    return np.sum(x * x)\n"))
    with pytest.raises(srcad.SrcadSyntaxError, match="__wrapped__"):
        srcad.grad(g)
    import functools
    cached = functools.lru_cache(make_function("def c(x):\n    return x * x\n"))
    assert srcad.grad(cached)(3.0) == 6.0     # a C wrapper computing the same values


def test_higher_order_derivatives_rebuilt_after_a_helper_is_rebound():
    ns: dict = {}
    ns["h"] = make_function("def h(x):\n    return x ** 3\n", ns)
    f = make_function("def f(x):\n    return np.sum(h(x))\n", ns)
    x = np.array([0.5, 2.0])
    hess, hvp, gg = srcad.hessian(f), srcad.hvp(f), srcad.grad(srcad.grad(lambda_free(ns)))
    assert np.allclose(hess(x), np.diag(6 * x))
    assert np.allclose(hvp(x, np.ones(2)), 6 * x)
    assert np.isclose(gg(2.0), 12.0)
    ns["h"] = make_function("def h(x):\n    return x ** 4\n", ns)
    assert np.allclose(hess(x), np.diag(12 * x ** 2))
    assert np.allclose(srcad.hessian(f)(x), np.diag(12 * x ** 2))
    assert np.allclose(hvp(x, np.ones(2)), 12 * x ** 2)
    assert np.isclose(gg(2.0), 48.0)
    assert np.isclose(srcad.grad(srcad.grad(lambda_free(ns)))(2.0), 48.0)


def lambda_free(ns):
    """A scalar function of a float calling the helper ``h`` of ``ns``."""
    if "s" not in ns:
        make_function("def s(x):\n    return h(x) * 1.0\n", ns)
    return ns["s"]


# -- 5. deep stacks and deep expressions ---------------------------------------------------------

def _nested_sin(depth):
    expr = "x"
    for _ in range(depth):
        expr = f"np.sin({expr})"
    return make_function(f"def f(x):\n    return np.sum({expr})\n")


def _sin_chain(x, depth):
    value, slope = x, np.ones_like(x)
    for _ in range(depth):
        value, slope = np.sin(value), slope * np.cos(value)
    return slope


def test_a_deep_expression_builds():
    f = _nested_sin(180)
    x = np.array([0.3, 1.1])
    assert np.allclose(srcad.grad(f)(x), _sin_chain(x, 180))
    assert np.allclose(srcad.autodiff(f, mode="forward")(x, np.array([1.0, 0.0])),
                       _sin_chain(x, 180)[0])


def test_a_build_asked_for_deep_in_the_stack():
    f = make_function("def f(x):\n    return np.sum(np.sin(x) * x)\n")
    x = np.array([0.5, 2.0])

    def down(n):
        return srcad.grad(f)(x) if n <= 0 else down(n - 1)
    import inspect
    got = down(sys.getrecursionlimit() - len(inspect.stack(0)) - 40)
    assert np.allclose(got, np.sin(x) + x * np.cos(x))


def test_too_deep_even_on_a_fresh_stack_is_a_located_error(monkeypatch):
    import srcad.cache as cache
    monkeypatch.setattr(cache, "_DEEP_LIMIT", 1000)
    limit = sys.getrecursionlimit()
    f = _nested_sin(195)
    with pytest.raises(srcad.TooDeepError, match="nests too deeply") as info:
        srcad.grad(f)
    assert info.value.location.filename == f.__code__.co_filename
    assert isinstance(info.value, RecursionError) and "named steps" in str(info.value)
    assert sys.getrecursionlimit() == limit


@pytest.mark.skipif(not os.environ.get("SRCAD_DEEP"), reason="opt-in (SRCAD_DEEP=1): minutes")
@pytest.mark.parametrize("what", ["sum", "statements"])
def test_long_sums_and_bodies_build(what):
    if what == "sum":          # 800 terms: about a minute, most of it in the optimizer
        f = make_function("def f(x):\n    return np.sum(" + " + ".join(
            f"x * {i}.0" for i in range(800)) + ")\n")
        assert np.allclose(srcad.grad(f)(np.ones(2)), sum(range(800)))
    else:                      # 3000 statements: about three minutes
        body = "".join(f"    x = x * 1.0001 + {i % 7}.0\n" for i in range(3000))
        f = make_function("def f(x):\n" + body + "    return np.sum(x)\n")
        assert np.allclose(srcad.grad(f)(np.ones(2)), 1.0001 ** 3000)


def test_thousands_of_short_lived_closures():
    """One `def`, 2000 closures: one build shared (compiled over each one's cells), each
    with its own derivative, all freed with their functions."""
    import time
    import weakref

    def make(k):
        def f(x):
            return np.sum(np.sin(x) * k)
        return f

    gc.collect()
    before = _generated_lines()
    x = np.array([0.2, 0.9])
    refs = []
    start = time.perf_counter()
    for i in range(2000):
        f = make(float(i))
        assert np.allclose(srcad.grad(f)(x), np.cos(x) * i)
        refs.append(weakref.ref(f))
        del f
    elapsed = time.perf_counter() - start
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert len(_generated_lines() - before) <= 4       # the shared builds' lines only
    assert elapsed < 30, elapsed                        # ~1 s; a build each would be ~60 s


def test_closures_sharing_code_but_not_what_they_call_are_built_apart():
    ns: dict = {}
    make = make_function("""
        def make(helper):
            def f(x):
                return np.sum(helper(x))
            return f
    """, ns, name="make")
    square = make_function("def square(x):\n    return x * x\n")
    cube = make_function("def cube(x):\n    return x * x * x\n")
    f, g = make(square), make(cube)
    x = np.array([1.0, 2.0])
    assert np.allclose(srcad.grad(f)(x), 2 * x)
    assert np.allclose(srcad.grad(g)(x), 3 * x ** 2)
    f.__closure__[0].cell_contents = cube
    assert np.allclose(srcad.grad(f)(x), 3 * x ** 2)


def test_closures_over_real_and_complex_values_are_built_apart():
    def make(k):
        def f(x):
            return np.sum(np.real(x * k) ** 2)
        return f
    x = np.array([1.0, 2.0])
    assert np.allclose(srcad.grad(make(2.0))(x), 8 * x)
    assert np.allclose(srcad.grad(make(1j))(x), 0 * x)


# -- 6. pickling by reference ------------------------------------------------------------------------

def test_derivative_functions_pickle_by_reference(tmp_path, monkeypatch):
    import pickle
    (tmp_path / "pickled_model.py").write_text(
        "import numpy as np\n\n\ndef loss(w, x):\n    return np.sum(np.tanh(x @ w) ** 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import pickled_model
    w, x = np.array([0.3, -0.2]), np.array([[1.0, 2.0], [0.5, -1.0]])
    derivatives = [srcad.grad(pickled_model.loss), srcad.grad(pickled_model.loss, wrt=(0, "x")),
                   srcad.value_and_grad(pickled_model.loss, wrt="x"),
                   srcad.autodiff(pickled_model.loss, mode="forward")]
    for df in derivatives:
        assert pickle.loads(pickle.dumps(df)) is df
    outer = make_function("def outer(w, x):\n    return np.sum(dl(w, x) ** 2)\n",
                          {"dl": derivatives[0]})      # named srcad.pickling: still inlined
    assert np.allclose(srcad.grad(outer)(w, x), srcad.jacobian(derivatives[0])(w, x).T @ (
        2 * derivatives[0](w, x)))
    data = pickle.dumps([derivatives, w, x])
    worker = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            import pickle, sys
            import numpy as np
            derivatives, w, x = pickle.loads(sys.stdin.buffer.read())
            g, gwx, vg, fwd = derivatives
            sys.stdout.buffer.write(pickle.dumps([g(w, x), gwx(w, x), vg(w, x),
                                                  fwd(w, x, np.ones(2))]))
        """)], input=data, capture_output=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), os.environ.get("PYTHONPATH", "")])}, timeout=120)
    assert worker.returncode == 0, worker.stderr.decode()
    g, gwx, vg, fwd = pickle.loads(worker.stdout)
    assert np.allclose(g, derivatives[0](w, x))
    assert all(np.allclose(a, b) for a, b in zip(gwx, derivatives[1](w, x)))
    assert np.isclose(vg[0], pickled_model.loss(w, x)) and np.allclose(vg[1], derivatives[2](
        w, x)[1])
    assert np.isclose(fwd, derivatives[3](w, x, np.ones(2)))


def test_a_derivative_of_a_local_function_is_not_named_for_pickling():
    f = make_function("def f(x):\n    return np.sum(x * x)\n")
    df = srcad.grad(f)
    assert df.__module__ != "srcad.pickling"


def _scaled_energy(k):
    def energy(x):
        return np.sum(np.abs(x * k) ** 2)
    return energy


def test_closure_cell_turning_complex_after_the_build_rebuilds():
    energy = _scaled_energy(2.0)
    g = srcad.grad(energy)
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(g(x), 8.0 * x)
    energy.__closure__[0].cell_contents = 1.0 + 2.0j     # |k|^2 = 5: the real build is stale
    got = g(x)
    np.testing.assert_allclose(got, 10.0 * x)
    np.testing.assert_allclose(got, central_difference(energy, (x,), 0), rtol=1e-6)
    assert not np.iscomplexobj(got)
    energy.__closure__[0].cell_contents = 3.0             # and back to real
    np.testing.assert_allclose(g(x), 18.0 * x)
