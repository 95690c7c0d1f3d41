"""A rule that reads a derivative it does not receive is refused where it is registered.

Before this check, a tangent template reading ``d[p]`` of an output it had just defined read a
symbolic zero, and an adjoint template reading ``d[a]`` back after contributing to it read a
zero too: both gave silently wrong derivatives (``sum(p * q)`` of ``p, q = two(x)`` lost the
``p * dq`` term; the second input's gradient came out 0).
"""
import numpy as np
import pytest

import srcad
from srcad import registry
from srcad.errors import SrcadSyntaxError
from srcad.registry import d
from srcad.template import _ParsedOnUse


def _two(a):
    return 2.0 * a, 2.0 * a + 1.0


def _lin2(a, b):
    return 2.0 * a + 2.0 * b


def test_a_tangent_reading_its_output_is_refused_at_its_line():
    with pytest.raises(SrcadSyntaxError) as err:
        @srcad.register_tangent(_two, outputs=2)
        def two_tangent(p, q, a):
            d[p] = 2.0 * d[a]
            d[q] = d[p]
    text = str(err.value)
    assert "test_template_reads.py:" in text and "reads d[p], the tangent of its output p" in text
    assert "d[q] = d[p]" in text            # the excerpt of the offending line


def test_an_adjoint_reading_an_input_adjoint_is_refused_at_its_line():
    with pytest.raises(SrcadSyntaxError) as err:
        @srcad.register_adjoint(_lin2)
        def lin2_adjoint(y, a, b):
            d[a] = 2.0 * d[y]
            d[b] = d[a]
    assert "reads d[a], the adjoint of its input a" in str(err.value)
    assert "d[b] = d[a]" in str(err.value)


def _scatter(x, i):
    return x[i] * 3.0


def test_a_sparse_contribution_is_not_a_read():
    @srcad.register_adjoint(_scatter)
    def scatter_adjoint(y, x, i):
        d[x][i] += 3.0 * d[y]

    @srcad.register_tangent(_scatter)
    def scatter_tangent(y, x, i):
        d[y] = 3.0 * d[x][i]

    def f(x):
        return np.sum(_scatter(x, 1) ** 2)

    x = np.array([1.0, 2.0, 3.0])
    assert np.allclose(srcad.grad(f)(x), [0.0, 36.0, 0.0])
    assert np.isclose(srcad.autodiff(f, mode="forward")(x, np.array([0.0, 1.0, 0.0])), 36.0)


def test_every_builtin_rule_passes_the_check():
    registry.load()
    checked = 0
    for rule in registry.all_rules():
        for kind in ("adjoint", "tangent", "complex_adjoint", "complex_tangent"):
            template = getattr(rule, kind, None)
            # built-in: from srcad's own modules (a test's rules, registered in the same
            # process by other test files, may have had their fake source dropped since)
            if isinstance(template, _ParsedOnUse) and template._fn.__module__.startswith(
                    "srcad."):
                assert template._kind in ("adjoint", "tangent"), template.name
                template.body                 # parses and checks; raises on a bad read
                checked += 1
    assert checked > 400


def test_a_rule_whose_file_changed_after_import_is_refused(tmp_path, monkeypatch):
    """Rules are parsed when first used, from their file: one edited (or srcad upgraded in
    place) after the import would give another rule's lines. Refused instead."""
    import importlib
    import linecache
    from srcad.errors import SrcadError
    from srcad.template import parse_template
    path = tmp_path / "edited_rules.py"
    path.write_text("from srcad.registry import d\n\n"
                    "def sq_adjoint(y, x):\n    d[x] = 2.0 * x * d[y]\n\n"
                    "def cube_adjoint(y, x):\n    d[x] = 3.0 * x * x * d[y]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_rules")
    rule = parse_template(module.cube_adjoint, 1, "adjoint")
    path.write_text("from srcad.registry import d\n\n"
                    "def cube_adjoint(y, x):\n    d[x] = 3.0 * x * x * d[y]\n\n"
                    "def sq_adjoint(y, x):\n    d[x] = 2.0 * x * d[y]\n")
    linecache.checkcache(str(path))
    with pytest.raises(SrcadError, match="not the code that runs"):
        rule.body
