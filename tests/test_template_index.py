"""The template index (srcad/templates/_index.py, written by scripts/template_index.py): a
build loads only the rule families of the primitives it looks up. The committed index is the
script's output for the templates as they are; a family loads on the first lookup of one of
its primitives, without bumping the rule version; families loaded one at a time, in any
order, end with the rules of loading them all; a user's rule wins over a family loaded before
or after it; an index that does not match the templates is not used."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


STATE = """
    import numpy as np
    from srcad import registry

    def fields(t):
        return None if t is None else t.origin + ":" + t.name

    def state():
        out = {}
        for rule in list(registry._RULES.values()) + list(registry._BY_ID.values()):
            key = registry.primitive_name(rule.primitive)
            out.setdefault(key, []).append(repr((
                fields(rule.adjoint), fields(rule.tangent), rule.nondiff, rule.linear,
                rule.complex_ok, rule.real_valued, fields(rule.complex_adjoint),
                fields(rule.complex_tangent), sorted(rule.extra))))
        for p, kws in registry._VARIANTS.items():
            out.setdefault(registry.primitive_name(p), []).append(repr(sorted(
                (k, [registry.primitive_name(v) for _, v in vs[1]]) for k, vs in kws.items())))
        return {k: sorted(v) for k, v in out.items() if not k.startswith("scipy")}
"""


def run(code: str, tmp_path) -> str:
    """``code`` run in a new process (a file: its rules have source)."""
    script = tmp_path / f"child_{len(list(tmp_path.iterdir()))}.py"
    script.write_text(textwrap.dedent(STATE) + textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=ROOT, SRCAD_CACHE="0")
    out = subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_committed_index_is_current(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "template_index.py"),
                          "--check"], env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_index_is_used_here(tmp_path):
    # else every test below checks the fallback only (regenerate with the script)
    assert run("""
        from srcad import registry
        print(registry._template_index() is not None)
    """, tmp_path).split() == ["True"]


def test_a_family_loads_on_the_first_lookup_of_one_of_its_primitives(tmp_path):
    out = run("""
        import sys
        import numpy as np
        from srcad import registry
        loaded = lambda: sorted(n.rsplit(".", 1)[1] for n in sys.modules
                                if n.startswith("srcad.templates.") and n[16:] != "_index")
        print(loaded())
        v = registry._version
        print(registry.lookup(np.tanh).adjoint is not None, loaded())
        print(registry.lookup(np.fft.rfft).adjoint is not None, loaded())
        print(registry.lookup(len) is not None, registry._version == v)
        print(registry.lookup(lambda x: x) is None, loaded())
    """, tmp_path).splitlines()
    assert out[0] == "[]"
    assert out[1] == "True ['ufuncs']"
    assert out[2] == "True ['fft', 'ufuncs']"
    assert out[3].split()[1] == "True"              # built-in families: the version stays
    assert out[4].startswith("True ")               # no rule: nothing more to load




def test_families_loaded_one_at_a_time_end_with_the_rules_of_a_full_load(tmp_path):
    full = run("""
        registry.load(everything=False)
        print(repr(sorted(state().items())))
    """, tmp_path)
    one_by_one = run("""
        import srcad.templates as pkg
        index = registry._template_index()
        assert index is not None
        for name in reversed(pkg.MODULES):          # the other order than a full load's
            if name not in pkg.OPTIONAL:
                registry._import_modules([name], quiet=True)
        print(repr(sorted(state().items())))
    """, tmp_path)
    by_lookup = run("""
        index = registry._template_index()

        class Named:                 # an object whose primitive name is the index's key
            def __init__(self, key):
                self.__module__, self.__qualname__ = "", key

        for key in sorted(index, reverse=True):     # every primitive, last name first
            registry._load_for(Named(key))
        print(repr(sorted(state().items())))
    """, tmp_path)
    assert full.count("numpy.") > 300               # the rules, not an empty print
    assert one_by_one == full
    assert by_lookup == full


def test_a_user_rule_wins_over_families_loaded_before_and_after_it(tmp_path):
    out = run("""
        import numpy as np
        import srcad
        from srcad import registry
        from srcad.registry import d

        registry.complex_ok(np.sign)                 # a user's mark, before its family loads
        registry.lookup(np.sin)                      # ufuncs loaded before the user's rules

        @srcad.register_adjoint(np.sin)
        def my_sin_adjoint(y, x):
            d[x] = d[y] * 2.0

        @srcad.register_adjoint(np.fft.rfft)         # fft not loaded yet
        def my_rfft_adjoint(y, a, n=None, axis=-1, norm=None):
            d[a] = np.fft.irfft(d[y], n=a.shape[axis], axis=axis)

        registry.lookup(np.sum), registry.lookup(np.fft.irfft)   # more families after
        print(registry.lookup(np.sin).adjoint.name, registry.lookup(np.sin).tangent.name)
        print(registry.lookup(np.fft.rfft).adjoint.name)
        print(registry.lookup(np.fft.rfft).tangent is not None)
        x = np.array([0.3, 0.5])
        print(srcad.grad(lambda x: np.sum(np.sin(x)))(x).tolist())
        print(registry.lookup(np.sign).complex_ok)   # srcad's own says False
    """, tmp_path).splitlines()
    assert out[0].split()[0] == "my_sin_adjoint"
    assert out[0].split()[1] != "my_sin_adjoint"     # the built-in tangent stays
    assert out[1] == "my_rfft_adjoint"
    assert out[2] == "True"
    assert out[3] == "[2.0, 2.0]"
    assert out[4] == "True"


def test_an_index_that_does_not_match_the_templates_is_not_used(tmp_path):
    out = run("""
        import sys
        import numpy as np
        import srcad.templates._index as generated
        generated.DIGEST = "0" * 64                  # as if a template file had changed
        from srcad import registry
        print(registry._template_index() is None)
        registry.lookup(np.tanh)
        print("srcad.templates.fft" in sys.modules, registry._loaded)
    """, tmp_path).split()
    assert out == ["True", "True", "True"]


def test_a_derived_rule_is_rewritten_from_its_original_on_first_use(tmp_path):
    # registry.derived's rule parses the original rule inside its own first parse (that
    # nested parse once waited forever on the parsing lock)
    out = run("""
        import numpy as np
        import srcad
        from srcad import registry
        rule = registry.lookup(np.sort_complex)
        print(len(rule.adjoint.body) > 0, rule.adjoint.outputs, list(rule.adjoint.signature.parameters))
        x = np.array([0.3, -1.2, 0.5])
        f = lambda x: np.sum(np.sort_complex(x).real * np.arange(3.0))
        print(srcad.grad(f)(x).tolist())
    """, tmp_path).splitlines()
    assert out[0] == "True ('y',) ['a']"
    assert out[1] == "[1.0, 0.0, 2.0]"


def test_elementwise_is_answered_without_loading_a_family(tmp_path):
    """``registry.is_elementwise`` (the shape passes ask it of every NumPy call of derivative
    code) answers from the index while the primitive's family is not loaded, as a full load
    would: every primitive's answer before loading equals its rule's after."""
    out = run("""
        import sys
        import numpy as np
        import srcad.runtime as rt
        from srcad import registry
        loaded = lambda: sorted(n.rsplit(".", 1)[1] for n in sys.modules
                                if n.startswith("srcad.templates.") and n[16:] != "_index")
        prims = [np.sin, np.tanh, np.add, np.reshape, np.sum, np.zeros, rt.sigmoid,
                 rt.unbroadcast, rt.zeros_like]
        before = [registry.is_elementwise(p) for p in prims]
        print(loaded())
        registry.load()
        after = [registry.is_elementwise(p) for p in prims]
        rules = [bool(registry.lookup(p).extra.get("elementwise")) for p in prims]
        print(before == after == rules, before)
    """, tmp_path).split("\n")
    assert out[0] == "[]"
    assert out[1].startswith("True [True, True, True, False, False, False, True, False, False]")
