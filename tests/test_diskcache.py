"""The disk cache (``srcad/diskcache.py``): every way a derivative goes stale, across
processes sharing one cache directory (a process populates it, the next changes something
and must get what a fresh build gives), and entries that are damaged, foreign or not
private, which must be ignored (never executed) and rebuilt."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import srcad
from srcad import api, cache, diskcache

from helpers import make_function

HELPERS_PY = '''
import numpy as np

def h(v):
    return np.sin(v)

def h2(v):
    return np.cos(v) * 3.0
'''

MODEL_PY = '''
import functools
import numpy as np
import helpers
from helpers import h as g

def f_attr(x):
    return np.sum(helpers.h(x) * x)

def f_name(x):
    return np.sum(g(x) * x)

def make(k):
    def hk(v):
        return v * k
    return hk

hk = make(3.0)

def f_cell(x):
    return np.sum(hk(x) ** 2)

def make_fn(fn):
    def hf(v):
        return fn(v) * 2.0
    return hf

hf = make_fn(np.sin)

def f_cell_fn(x):
    return np.sum(hf(x) * x)

def deco(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)
    return wrapper

@deco
def f_wrapped(x):
    return np.sum(x ** 2)

def f_ho(x):
    return np.sum(helpers.h(x) * x)

def f_scalar(t):
    return helpers.h(t) * t

def f_numpy(x):
    return np.sum(np.sin(x) * x)

def prim(v):
    return np.tanh(v)

def f_rule(x):
    return np.sum(prim(x) * x)
'''

EDITED_PY = '''
import numpy as np

def f(x):
    return np.sum(x ** 2)
'''
EDITED_NEW = EDITED_PY.replace("x ** 2", "x ** 3 + 1.0")

# The child: writes the modules, imports them, makes the change its phase asks for, and
# prints the derivatives (or the error's type) as JSON. "populate" fills the cache with the
# derivatives before any change; "after" makes every change first.
CHILD = r'''
import importlib, json, os, sys
sys.dont_write_bytecode = True
where, phase = sys.argv[1], sys.argv[2]
sys.path.insert(0, where)
import numpy as np
import srcad
from srcad import diskcache

def write(name, text):
    with open(os.path.join(where, name), "w") as f:
        f.write(text)

write("helpers.py", HELPERS)
write("model.py", MODEL)
write("edited.py", EDITED)
write("reloaded.py", EDITED)
import helpers, model, edited, reloaded
x = np.array([0.3, -0.7, 1.1])
out, hits = {}, []
real_load = diskcache.load

def load(fn, spec):
    entry = real_load(fn, spec)
    hits.append(entry is not None)
    return entry

diskcache.load = load

def run(case, compute):
    try:
        out[case] = np.asarray(compute(), dtype=float).tolist()
    except Exception as exc:
        out[case] = type(exc).__name__

after = phase == "after"
write("rules.py", (                    # a rule registered otherwise
    "import srcad, model\nfrom srcad.registry import d\n\n"
    "@srcad.register_adjoint(model.prim)\ndef prim_adjoint(y, v):\n"
    f"    d[v] = d[y] * (1.0 - y * y) * {3.0 if after else 1.0}\n"))
import rules
if after:
    helpers.h = helpers.h2                     # attribute rebound through a module
    model.g = helpers.h2                       # helper rebound by name
    model.hk.__closure__[0].cell_contents = 5.0    # a helper's closure cells
    model.hf.__closure__[0].cell_contents = np.cos
run("attribute", lambda: srcad.grad(model.f_attr)(x))
run("helper", lambda: srcad.grad(model.f_name)(x))
run("cell", lambda: srcad.grad(model.f_cell)(x))
run("cell_function", lambda: srcad.grad(model.f_cell_fn)(x))
run("wraps", lambda: srcad.grad(model.f_wrapped)(x))
run("hessian", lambda: srcad.hessian(model.f_ho)(x))
run("hvp", lambda: srcad.hvp(model.f_ho)(x, np.array([1.0, 2.0, -1.0])))
run("grad_grad", lambda: srcad.grad(srcad.grad(model.f_scalar))(0.4))
run("forward", lambda: srcad.autodiff(model.f_attr, mode="forward")(x, np.ones(3)))
run("user_rule", lambda: srcad.grad(model.f_rule)(x))
if after:
    write("edited.py", EDITED_NEW)             # edited, not reloaded: refused
run("edited", lambda: srcad.grad(edited.f)(x))
old = reloaded.f
run("before_reload", lambda: srcad.grad(reloaded.f)(x))
write("reloaded.py", EDITED_NEW)
importlib.reload(reloaded)
run("reloaded", lambda: srcad.grad(reloaded.f)(x))
run("old_after_reload", lambda: srcad.grad(old)(x))
if after:
    np.sin = np.cos                            # an attribute of numpy rebound
run("numpy_attribute", lambda: srcad.grad(model.f_numpy)(x))
out["hits"] = sum(hits)
print(json.dumps(out))
'''


def _start(where, phase, env):
    script = CHILD.replace("HELPERS", repr(HELPERS_PY)).replace("MODEL", repr(MODEL_PY)) \
        .replace("EDITED_NEW", repr(EDITED_NEW)).replace("EDITED", repr(EDITED_PY))
    return subprocess.Popen([sys.executable, "-c", script, str(where), phase], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(run):
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(before the change, after it through the cache, after it built fresh)."""
    base = tmp_path_factory.mktemp("diskcache")
    env = dict(os.environ, SRCAD_CACHE_DIR=str(base / "cache"), SRCAD_CACHE="1",
               OMP_NUM_THREADS="1")
    # the same files each time (each child writes them as it starts), beside the fresh
    # build's own (its changes happen in its process, as the others' do)
    where, apart = base / "modules", base / "fresh"
    where.mkdir()
    apart.mkdir()
    fresh = _start(apart, "after", dict(env, SRCAD_CACHE="0"))
    before = _result(_start(where, "populate", env))
    again = _result(_start(where, "populate", env))       # everything from the cache
    after = _result(_start(where, "after", env))
    fresh = _result(fresh)
    return before, again, after, fresh


CASES = ["attribute", "helper", "cell", "cell_function", "hessian", "hvp", "grad_grad",
         "forward", "user_rule", "numpy_attribute"]


def test_a_populated_cache_serves_the_same_derivatives(runs):
    before, again, _, _ = runs
    assert before["hits"] == 0 and again["hits"] > 10
    for case, value in before.items():
        if case != "hits":
            assert not isinstance(value, str), (case, value)
            np.testing.assert_allclose(again[case], value, rtol=1e-12, err_msg=case)


@pytest.mark.parametrize("case", CASES)
def test_a_change_in_the_next_process_is_seen(runs, case):
    before, _, after, fresh = runs
    assert not isinstance(fresh[case], str), fresh[case]
    assert not np.allclose(fresh[case], before[case]), "the change changes the derivative"
    np.testing.assert_allclose(after[case], fresh[case], rtol=1e-12)


def test_a_wraps_decorator_keeps_its_factor(runs):
    x = np.array([0.3, -0.7, 1.1])
    for run in runs:
        np.testing.assert_allclose(run["wraps"], 4.0 * x)


def test_an_edited_file_is_refused_as_a_fresh_build_refuses_it(runs):
    before, _, after, fresh = runs
    assert fresh["edited"] == after["edited"] == "SourceUnavailableError"
    assert not isinstance(before["edited"], str)


def test_a_reloaded_module_gets_its_new_derivative(runs):
    _, again, after, fresh = runs
    x = np.array([0.3, -0.7, 1.1])
    for run in (again, after, fresh):
        np.testing.assert_allclose(run["before_reload"], 2 * x)
        np.testing.assert_allclose(run["reloaded"], 3 * x ** 2)
        # differentiated before the reload, in this process: its code still runs
        np.testing.assert_allclose(run["old_after_reload"], 2 * x)


# -- damaged, foreign and public entries: ignored, never executed, rebuilt ----------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SRCAD_CACHE_DIR", str(path))
    monkeypatch.setenv("SRCAD_CACHE", "1")
    monkeypatch.setattr(diskcache, "_written_since_clear", None)
    return path


def _fresh_grad(f, x):
    """As in a new process: nothing in memory (srcad.clear_cache() would also stop this
    process from reading what is on disk)."""
    cache.clear()
    api._WRAPPERS.clear()
    return srcad.grad(f)(x)


def _loads(monkeypatch):
    """A list recording, for each disk lookup, whether it served an entry."""
    found = []
    real = diskcache.load

    def spy(fn, spec):
        entry = real(fn, spec)
        found.append(entry is not None)
        return entry
    monkeypatch.setattr(diskcache, "load", spy)
    return found


SOURCE = """
    def loss(x):
        return np.sum(np.sin(x) * x)
"""
X = np.array([0.5, -1.0, 2.0])


def _entries(path):
    return sorted(p for p in path.iterdir() if p.suffix == ".json")


def test_entries_are_private_and_reused(cache_dir, monkeypatch):
    f = make_function(SOURCE)
    first = _fresh_grad(f, X)
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"
    entries = _entries(cache_dir)
    assert len(entries) == 2            # the generic derivative and the one for (3,) arrays
    assert all(e.stat().st_mode & 0o777 == 0o600 for e in entries)
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp")]
    found = _loads(monkeypatch)
    read = _source_reads(monkeypatch)
    np.testing.assert_array_equal(_fresh_grad(f, X), first)
    assert found == [True, True]
    assert read == []            # the entry's existence stands for reading the source


def _source_reads(monkeypatch):
    """The functions whose source ``srcad.grad`` reads to see if they take containers."""
    read = []
    real = api._reads_containers

    def spy(f, depth=0):
        read.append(f)
        return real(f, depth)
    monkeypatch.setattr(api, "_reads_containers", spy)
    return read


def _damage_each(cache_dir, monkeypatch, damage):
    """Damage every entry with ``damage(path)``; the next use must rebuild (same result) and
    overwrite each with a good entry."""
    f = make_function(SOURCE)
    expected = _fresh_grad(f, X)
    for entry in _entries(cache_dir):
        damage(entry)
    found = _loads(monkeypatch)
    np.testing.assert_allclose(_fresh_grad(f, X), expected)
    assert found == [False, False]
    found.clear()
    np.testing.assert_allclose(_fresh_grad(f, X), expected)
    return found


def test_a_truncated_entry_is_rebuilt(cache_dir, monkeypatch):
    found = _damage_each(cache_dir, monkeypatch,
                         lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]))
    assert found == [True, True]         # overwritten by the rebuild


def test_a_corrupt_entry_is_rebuilt(cache_dir, monkeypatch):
    def flip(p):
        data = bytearray(p.read_bytes())
        data[-20] ^= 0x01
        p.write_bytes(bytes(data))
    assert _damage_each(cache_dir, monkeypatch, flip) == [True, True]


def _forge(path, change):
    """Rewrite an entry's body with ``change(body)`` and a checksum that matches it."""
    head, _, data = path.read_bytes().partition(b"\n")
    body = json.loads(data)
    change(body)
    data = json.dumps(body, sort_keys=True).encode()
    path.write_bytes(b"srcad-cache " + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


INJECTED = "__import__('builtins').__dict__.__setitem__('srcad_injected', 1)"


@pytest.mark.parametrize("where", ["statement", "default", "decorator", "annotation"])
def test_an_entry_that_would_run_code_is_never_executed(cache_dir, monkeypatch, where):
    import builtins

    def inject(body):
        src = body["source"]
        name = body["name"]
        if where == "statement":
            src = INJECTED + "\n" + src
        elif where == "default":
            src = src.replace(f"def {name}(x", f"def {name}(x, _z={INJECTED}", 1)
        elif where == "decorator":
            src = src.replace(f"def {name}(", f"@(lambda fn: ({INJECTED}, fn)[1])\ndef {name}(",
                              1)
        else:
            src = src.replace(f"def {name}(x", f"def {name}(x: {INJECTED}", 1)
        assert src != body["source"]
        body["source"] = src
    monkeypatch.delattr(builtins, "srcad_injected", raising=False)
    found = _damage_each(cache_dir, monkeypatch, lambda p: _forge(p, inject))
    assert not hasattr(builtins, "srcad_injected")
    assert found == [True, True]


def test_a_dependency_described_otherwise_is_a_miss(cache_dir, monkeypatch):
    """An entry whose fingerprint of np.sin says np.cos (as if np.sin had been rebound)."""
    def retarget(body):
        for dep in body["deps"]:
            if dep[1] == "sin":
                dep[2][-1] = "cos"
    assert _damage_each(cache_dir, monkeypatch, lambda p: _forge(p, retarget)) == [True, True]


def test_an_entry_others_can_write_is_ignored(cache_dir, monkeypatch):
    assert _damage_each(cache_dir, monkeypatch, lambda p: p.chmod(0o666)) == [True, True]
    assert all(e.stat().st_mode & 0o077 == 0 for e in _entries(cache_dir))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_an_entry_another_user_owns_is_ignored(cache_dir, monkeypatch):
    assert _damage_each(cache_dir, monkeypatch,
                        lambda p: os.chown(p, 4321, -1)) == [True, True]
    assert all(e.stat().st_uid == os.getuid() for e in _entries(cache_dir))


def test_a_symlinked_entry_is_ignored(cache_dir, monkeypatch, tmp_path):
    def link(p):
        target = tmp_path / (p.name + ".elsewhere")
        target.write_bytes(p.read_bytes())
        target.chmod(0o600)
        p.unlink()
        p.symlink_to(target)
    assert _damage_each(cache_dir, monkeypatch, link) == [True, True]


def test_a_directory_others_can_enter_is_not_used(cache_dir, monkeypatch):
    f = make_function(SOURCE)
    expected = _fresh_grad(f, X)
    cache_dir.chmod(0o755)
    found = _loads(monkeypatch)
    before = {p: p.read_bytes() for p in _entries(cache_dir)}
    np.testing.assert_allclose(_fresh_grad(f, X), expected)
    assert found == [False, False]
    assert {p: p.read_bytes() for p in _entries(cache_dir)} == before    # nor written


def test_a_symlinked_directory_is_not_used(cache_dir, monkeypatch, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache_dir.symlink_to(elsewhere)
    found = _loads(monkeypatch)
    _fresh_grad(make_function(SOURCE), X)
    _fresh_grad(make_function(SOURCE), X)
    assert found == [False, False, False, False] and list(elsewhere.iterdir()) == []


def test_a_directory_another_user_owns_is_not_used(cache_dir, monkeypatch):
    f = make_function(SOURCE)
    expected = _fresh_grad(f, X)
    monkeypatch.setattr(diskcache, "_getuid", lambda: os.getuid() + 1)
    found = _loads(monkeypatch)
    np.testing.assert_allclose(_fresh_grad(f, X), expected)
    assert found == [False, False]


def test_clear_cache_stops_this_process_reading_older_entries(cache_dir, monkeypatch):
    f = make_function(SOURCE)
    expected = _fresh_grad(f, X)
    srcad.clear_cache()
    found = _loads(monkeypatch)
    np.testing.assert_allclose(srcad.grad(f)(X), expected)
    assert found == [False, False]       # rebuilt, and written again
    found.clear()
    read = _source_reads(monkeypatch)
    np.testing.assert_allclose(_fresh_grad(f, X), expected)
    assert found == [True, True] and read == []


def test_the_directory_is_pruned_of_the_least_recently_used(cache_dir, monkeypatch):
    f = make_function(SOURCE)
    _fresh_grad(f, X)
    used = _entries(cache_dir)
    for i in range(10):                   # older entries, and a writer's leftover
        old = cache_dir / f"{i:064x}.json"
        old.write_bytes(b"x")
        os.utime(old, (1e9 + i, 1e9 + i))
    leftover = cache_dir / ".tmp-crashed.tmp"
    leftover.write_bytes(b"x")
    os.utime(leftover, (1e9, 1e9))
    monkeypatch.setattr(diskcache, "_MAX_ENTRIES", 8)
    monkeypatch.setattr(diskcache, "_PRUNE_EVERY", 1)
    _fresh_grad(f, X)                     # loads touch the entries they use
    _fresh_grad(make_function(SOURCE.replace("np.sin", "np.cos")), X)     # two writes
    left = _entries(cache_dir)
    assert set(used) <= set(left) and len(left) <= 8 and not leftover.exists()
    assert not (cache_dir / f"{0:064x}.json").exists()      # the least recently used


def test_off_with_srcad_cache_0(cache_dir, monkeypatch):
    monkeypatch.setenv("SRCAD_CACHE", "0")
    _fresh_grad(make_function(SOURCE), X)
    assert not cache_dir.exists()


CONCURRENT = r'''
import sys
import numpy as np
import srcad
from srcad import diskcache
sys.path.insert(0, sys.argv[1])
from workloads import BY_NAME
hits = []
real = diskcache.load
def load(fn, spec):
    entry = real(fn, spec)
    hits.append(entry is not None)
    return entry
diskcache.load = load
for name in ("logreg", "rnn"):
    w = BY_NAME[name]
    args = w.args("small")
    g = srcad.grad(w.f, wrt=w.wrt)(*args)
    ref = w.grad(*args)
    for a, b in zip(g if isinstance(g, tuple) else (g,), ref if isinstance(ref, tuple) else (ref,)):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12), name
print(sum(hits), len(hits))
'''


def test_concurrent_writers_leave_whole_entries(tmp_path):
    benchmarks = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "benchmarks")
    env = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / "cache"), SRCAD_CACHE="1",
               OMP_NUM_THREADS="1")
    runs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, benchmarks], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".json")]
    for entry in (tmp_path / "cache").iterdir():     # each a whole entry, its checksum right
        head, _, data = entry.read_bytes().partition(b"\n")
        assert head == b"srcad-cache " + hashlib.sha256(data).hexdigest().encode()
        json.loads(data)
    done = subprocess.run([sys.executable, "-c", CONCURRENT, benchmarks], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hits, lookups = map(int, done.stdout.split())
    assert hits == lookups == 4          # every derivative from the cache, each checked


def test_the_test_suite_does_not_use_the_users_cache():
    assert diskcache.directory() == os.path.abspath(os.environ["SRCAD_CACHE_DIR"])
    home = os.path.join(os.path.expanduser("~"), ".cache", "srcad")
    assert not diskcache.directory().startswith(home)


def test_the_cache_directory_defaults_to_the_users_cache_dir(monkeypatch):
    monkeypatch.delenv("SRCAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert diskcache.directory() == "/somewhere/cache/srcad"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert diskcache.directory() == os.path.join(os.path.expanduser("~"), ".cache", "srcad")



@pytest.mark.parametrize("value", [True, False, 3, -2, 1.5, float("inf"), "s", None, 2j,
                                   (1, 2.0, "a", None, True)])
def test_constants_come_back_as_they_were(value):
    kind, item = diskcache._describe_ref(value, ())
    back = diskcache._const_value(json.loads(json.dumps(item)))
    assert kind == "const" and type(back) is type(value) and repr(back) == repr(value)


def test_a_build_reading_a_class_of_the_users_is_not_stored(cache_dir):
    """``Ops.double`` through a class of the user's: found again by its name in another
    process it would be another class, whose other attributes the build may have read."""
    namespace: dict = {}
    make_function("""
        class Ops:
            def double(v):
                return v * 2.0
    """, namespace, name="Ops")
    f = make_function("""
        def loss(x):
            return np.sum(Ops.double(x) * x)
    """, namespace)
    np.testing.assert_allclose(_fresh_grad(f, X), 4.0 * X)
    assert not cache_dir.exists() or _entries(cache_dir) == []


def test_a_str_default_is_stored_with_its_value(cache_dir, monkeypatch):
    """A derivative built for a str argument (a default here) is stored, keyed by the str:
    another str is another entry, each served from the disk."""
    f = make_function("""
        def loss(x, act="sin"):
            return np.sum({"sin": np.sin, "cos": np.cos}[act](x) * x)
    """)
    first = _fresh_grad(f, X)
    cache.clear()
    api._WRAPPERS.clear()
    other = srcad.grad(f)(X, "cos")
    count = len(_entries(cache_dir))
    found = _loads(monkeypatch)
    np.testing.assert_array_equal(_fresh_grad(f, X), first)
    cache.clear()
    api._WRAPPERS.clear()
    np.testing.assert_array_equal(srcad.grad(f)(X, "cos"), other)
    assert found and all(found)
    assert len(_entries(cache_dir)) == count
    np.testing.assert_allclose(first, np.sin(X) + X * np.cos(X))
    np.testing.assert_allclose(other, np.cos(X) - X * np.sin(X))


def test_output_facts_are_stored_and_loaded(cache_dir, monkeypatch):
    """What the build proved of the returned arrays (``Derivative.outputs``) comes back from
    an entry as it was built, so a process served from the disk leaves out the same tests."""
    f = make_function(SOURCE)
    _fresh_grad(f, X)
    built = srcad.grad(f).__srcad_variant__((X,), {})
    assert built.outputs is not None and built.outputs[0] is not None
    found = _loads(monkeypatch)
    _fresh_grad(f, X)
    loaded = srcad.grad(f).__srcad_variant__((X,), {})
    assert found == [True, True] and loaded is not built
    assert loaded.outputs == built.outputs
