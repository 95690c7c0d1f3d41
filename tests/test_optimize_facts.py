"""The optimizer's memo of statement facts (``srcad.optimize.tree.Facts``): what each
statement reads and binds is kept across the fixed point's rounds and forgotten when a rewrite
changes the statement. Each case below gives a wrong or a less optimized result if a fact
were kept after its statement changed."""
import textwrap

import gast
import numpy as np
import pytest

from srcad.emit import to_source
from srcad.optimize import optimize
from srcad.optimize.aliases import _writes_arrays
from srcad.optimize.tree import Facts, _load_counts, _loads, _name_counts


def _parsed(text):
    return gast.parse(textwrap.dedent(text)).body[0]


def _run(fdef, *args):
    namespace = {"np": np}
    exec(to_source(fdef), namespace)
    return namespace[fdef.name](*args)


def test_counts_are_the_whole_function_queries():
    fdef = _parsed("""
        def f(x, *, seed=None):
            a = x
            for i in range(3):
                t = a * 2.0
                if t[0] > 0.0:
                    a += t
            while a[0] < 0.0:
                a = a + 1.0
            return a
        """)
    facts = Facts()
    assert facts.counts(fdef) == _name_counts(fdef)
    assert _name_counts(fdef)[1] == _load_counts(fdef)
    loop = fdef.body[1]
    inner = loop.body[0]
    inner.value.left.id = "x"          # a rewrite in place, then forgotten
    facts.forget(loop)
    assert facts.counts(fdef) == _name_counts(fdef)
    assert _name_counts(fdef)[1] == _load_counts(fdef)
    assert facts.loads(loop) == _loads(loop) and "x" in facts.loads(loop)


def test_a_copy_propagated_into_a_loop_is_read_there():
    # a = b is propagated into the loop's statement, which then reads b: kept facts saying it
    # reads a would make b = x * 3.0 dead, and the function fail with a NameError
    fdef = _parsed("""
        def f(x):
            b = x * 3.0
            a = b
            for i in range(3):
                t = a * 2.0
            return t
        """)
    optimized = optimize(fdef)
    assert "a" not in {n.id for n in gast.walk(optimized) if isinstance(n, gast.Name)}
    np.testing.assert_allclose(_run(optimized, np.arange(3.0)), np.arange(3.0) * 6.0)


def test_a_statement_changed_after_its_peepholes_ran_is_visited_again():
    # round 1: 1.0 * b -> b makes a copy, a + b has no peephole (marked clean), and the dead
    # statement makes a second round; round 2 propagates the copy, a + b becomes b + b, whose
    # peephole (2.0 * b) must run
    fdef = _parsed("""
        def f(x):
            b = np.sin(x)
            d = x * 5.0
            a = 1.0 * b
            t = a + b
            return t
        """)
    fdef.body[2].srcad_derivative = True
    optimized = optimize(fdef)
    assert "2.0 * b" in to_source(optimized), to_source(optimized)
    np.testing.assert_allclose(_run(optimized, np.arange(3.0)), 2.0 * np.sin(np.arange(3.0)))


def test_writes_arrays_is_the_whole_function_query():
    # Facts.writes_arrays answers from the statements' memos what aliases._writes_arrays
    # finds in one walk: a write in place anywhere (inside a loop, a branch's test, a
    # default value), or none
    for text, writes in [
            ("def f(x):\n    a = x * 2.0\n    return np.sum(a)\n", False),
            ("def f(x):\n    for i in range(3):\n        x[i] = 1.0\n    return x\n", True),
            ("def f(x):\n    a = x * 1.0\n    if a.sort() is None:\n        a = x\n"
             "    return a\n", True),
            ("def f(x, y=np.add(1.0, 2.0, out=None)):\n    return x\n", True),
            ("def f(x):\n    while x[0] < 1.0:\n        x = x + 1.0\n    return x\n", False)]:
        fdef = _parsed(text)
        assert _writes_arrays(fdef) is writes, text
        assert Facts().writes_arrays(fdef) is writes, text


# -- loops.py: item loops and carried copies ------------------------------------------------------

def _loops(source: str) -> str:
    from srcad.optimize import carried_copies, item_loops
    fdef = gast.parse(textwrap.dedent(source)).body[0]
    return to_source(carried_copies(item_loops(fdef))).strip()


def test_an_index_loop_reading_only_items_is_the_loop_over_them():
    out = _loops("""
        def f(x, coeffs):
            p = 0.0
            dp = 0.0
            _range = range(len(coeffs))
            for _k in _range:
                c = coeffs[_k]
                d_mul = dp * x + p
                p = p * x + c
                dp = d_mul
            return dp
        """)
    assert "for c in coeffs:" in out and "_range" not in out and "_k" not in out
    assert "dp = dp * x + p" in out and "d_mul" not in out


def test_index_loops_that_need_their_index_or_change_the_sequence_stay():
    kept = {
        "the index read again": """
            def f(xs, b):
                for _k in range(len(xs)):
                    c = xs[_k]
                    b[_k] = c
                return b
            """,
        "the sequence written": """
            def f(xs):
                for _k in range(len(xs)):
                    c = xs[_k]
                    xs[0] = c * 2.0
                return xs
            """,
        "the sequence appended to": """
            def f(xs):
                for _k in range(len(xs)):
                    c = xs[_k]
                    xs.append(c)
                return xs
            """,
        "an else clause": """
            def f(xs):
                for _k in range(len(xs)):
                    c = xs[_k]
                else:
                    c = 0.0
                return c
            """,
    }
    for what, source in kept.items():
        assert "for _k in range(len(xs)):" in _loops(source), what


def test_a_copy_whose_target_is_read_in_between_stays():
    out = _loops("""
        def f(x, p, dp):
            for _k in range(3):
                d_mul = dp * x + p
                p = p * x + dp
                dp = d_mul
            return dp
        """)
    assert "d_mul = dp * x + p" in out and "dp = d_mul" in out


def test_scalar_loop_derivatives_read_like_the_hand_written_ones():
    import srcad

    def horner(x, coeffs):
        p = 0.0
        for c in coeffs:
            p = p * x + c
        return p

    coeffs = [0.5, -1.0, 2.0, 0.25]
    g = srcad.grad(horner)
    assert g(0.7, coeffs) == pytest.approx(
        (horner(0.7 + 1e-6, coeffs) - horner(0.7 - 1e-6, coeffs)) / 2e-6, rel=1e-7)
    text = srcad.show(horner, 0.7, coeffs)
    assert "for c in coeffs:" in text and "dp = dp * x + p" in text
