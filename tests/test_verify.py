"""SRCAD_VERIFY=1: every stage's output is checked (ANF after normalize, compilable code after
the transformers and the optimizer) over both corpora, and a broken invariant names its
stage."""
import gast
import numpy as np
import pytest

import srcad
from srcad import analysis, api

import control_flow_corpus
import corpus


@pytest.fixture
def verify(monkeypatch):
    monkeypatch.setenv("SRCAD_VERIFY", "1")
    srcad.clear_cache()
    yield
    srcad.clear_cache()


def _cases():
    """(id, function, wrt) of both corpora, without the view write srcad refuses up front
    (test_control_flow.py::test_write_through_a_view_is_refused checks that error)."""
    for case in corpus.CASES:
        yield pytest.param(case.fn, case.wrt, id="corpus-" + case.name)
    for case in control_flow_corpus.CASES:
        if case.id != "view_write_through":
            yield pytest.param(case.f, case.wrt, id="control-" + case.id)


@pytest.mark.parametrize("fn,wrt", list(_cases()))
def test_every_stage_keeps_its_invariants(fn, wrt, verify):
    indices = tuple(int(i) for i in np.atleast_1d(wrt))
    for mode in ("reverse", "forward"):
        for optimized in (True, False):
            api.build(fn, api.Spec(mode=mode, wrt=indices, single=False, optimized=optimized))


def test_a_broken_invariant_names_the_stage(verify, monkeypatch):
    def broken(fdef):
        return [(fdef.body[0], "not in A-normal form: injected")]
    monkeypatch.setattr(analysis, "anf_violations", broken)   # api imports it per build
    with pytest.raises(srcad.InternalError, match="stage 'normalize'.*injected"):
        srcad.grad(corpus.CASES[0].fn)


def test_anf_checker_catches_nested_expressions():
    tree = gast.parse("def f(x):\n    y = x * (x + 1.0)\n    return y\n").body[0]
    for node in gast.walk(tree):
        node.lineno = getattr(node, "lineno", 1) or 1
    problems = analysis.anf_violations(tree)
    assert problems and "A-normal form" in problems[0][1]
