"""Helpers built once (``srcad/called_helpers.py``, ``Inliner.built_once``): a helper whose
first inlining passed ``INLINE_LIMIT`` statements is called at its later call sites through
rules that call srcad's own derivatives of it. With the limit at 0 every qualifying helper is
called from its second call on; the derivatives must equal the inlined ones (1e-12), in both
modes, at second order, batched, checkpointed and for complex values."""
import glob
import os
import sys

import numpy as np
import pytest

import srcad
import srcad.normalize.inline as inline
from control_flow_corpus import cases_by_id
from corpus import CASES

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
from build_curve import make_nested  # noqa: E402

X = np.linspace(0.1, 0.9, 6)
V = np.cos(np.arange(6.0))


def both(compute):
    """``compute()`` with every helper inlined, then with helpers built once."""
    out = []
    for limit in (10 ** 9, 0):
        inline.INLINE_LIMIT = limit
        srcad.clear_cache()
        try:
            out.append(compute())
        finally:
            inline.INLINE_LIMIT = 200
            srcad.clear_cache()
    return out


def assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
        return
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def squared_norm_of(g):
    def squared_norm(x):
        return np.sum(g(x) ** 2)
    return squared_norm


def test_nested_helpers_equal_inlined_in_every_form():
    f = make_nested(3)

    def everything():
        gf = srcad.grad(f)
        return [gf(X), srcad.jvp(f, (X,), (V,))[1], srcad.hvp(f)(X, V), srcad.hessian(f)(X),
                srcad.grad(squared_norm_of(gf))(X),
                srcad.jvp(f.__globals__["h3"], (X,), (np.stack([V, X]),), batched=True)[1],
                srcad.grad(f, checkpoint=True)(X),
                srcad.jacobian(f.__globals__["h2"], mode="forward")(X)]
    inlined, called = both(everything)
    assert_same(inlined, called)
    eye = np.eye(X.size)
    fd = np.array([(f(X + 1e-6 * e) - f(X - 1e-6 * e)) / 2e-6 for e in eye])
    np.testing.assert_allclose(called[0], fd, rtol=1e-7, atol=1e-8)


def test_called_helpers_show_their_derivative_by_name():
    f = make_nested(3)
    inline.INLINE_LIMIT = 0
    try:
        srcad.clear_cache()
        text = srcad.show(f, X)
        forward = srcad.show(f, X, mode="forward")
    finally:
        inline.INLINE_LIMIT = 200
        srcad.clear_cache()
    assert "dh2_dx(" in text and "seed=" in text
    assert "dh2_dx_fwd(" in forward
    assert "dh2_dx(" not in srcad.show(f, X)        # the default limit inlines small helpers


def test_a_called_helpers_derivative_calls_the_helpers_measured_before_at_every_site():
    # h4 = h3(x) + h3(0.5 x): the main build inlines h4's first h3 and measures it, so the
    # derivatives of h3 (called at its second site) and below call their helper at both
    # sites, each a build of a few lines, not a copy of every level below (2**k copies of
    # h0 inlined at level k); the derivatives still equal the inlined ones at second order
    import srcad.api as api
    f = make_nested(5)
    built = []
    build = api.build

    def logged(fn, spec, src=None):
        made = build(fn, spec, src)
        built.append((fn.__name__, spec.kinds is not None, made.source))
        return made

    def everything():
        return [srcad.grad(f)(X), srcad.hvp(f)(X, V), srcad.jvp(f, (X,), (V,))[1]]
    api.build = logged
    try:
        inlined, called = both(everything)
    finally:
        api.build = build
    assert_same(inlined, called)
    helpers = {(name, shaped): text for name, shaped, text in built[len(built) // 2:]
               if name in ("h1", "h2", "h3", "h4")}
    assert ("h3", False) in helpers and ("h3", True) in helpers
    for text in helpers.values():
        assert "np.sin" not in text and "dh" in text, text


def test_corpus_cases_with_called_helpers_equal_inlined():
    cases = [c for c in CASES if c.name == "lstm_cell"]
    branch = cases_by_id()
    assert cases and "helper_in_branch[neg]" in branch
    for case in cases:
        args = case.make_args(0)
        tangents = [np.ones_like(args[i]) for i in (case.wrt if isinstance(
            case.wrt, tuple) else (case.wrt,))]
        def derivatives():
            value, pullback = srcad.vjp(case.fn, *args, wrt=case.wrt)
            seed = tuple(np.cos(np.arange(np.size(v))).reshape(np.shape(v)) for v in value)
            return [pullback(seed), srcad.jvp(case.fn, args, tangents, wrt=case.wrt)[1]]
        assert_same(*both(derivatives))
    for key in ("helper_in_branch[neg]", "helper_in_branch[pos]"):
        c = branch[key]
        assert_same(*both(lambda: srcad.grad(c.f, wrt=c.wrt)(*c.args())))


def _scaled(x, n):
    y = 1.0 * x
    for _ in range(n):
        y = np.sin(y) * x
    return y


def with_integer(x):
    return np.sum(_scaled(x, 2) + _scaled(0.5 * x, 3))


def uses_called_helpers(f, *args):
    inline.INLINE_LIMIT = 0
    try:
        srcad.clear_cache()
        return "seed=" in srcad.show(f, *args)
    finally:
        inline.INLINE_LIMIT = 200
        srcad.clear_cache()


def test_integer_parameter_is_not_differentiated():
    assert uses_called_helpers(with_integer, X)
    assert_same(*both(lambda: [srcad.grad(with_integer)(X),
                               srcad.jvp(with_integer, (X,), (V,))[1]]))


def _cube(x):
    return x * x * x


def twice(x):
    return np.sum(np.abs(_cube(x) + _cube(x + 1.0)) ** 2)


def test_complex_values_equal_inlined():
    z = X + 0.3j * V
    assert uses_called_helpers(twice, z)
    assert_same(*both(lambda: [srcad.grad(twice)(z), srcad.vjp(_cube, z)[1](V + 0.5j)]))


def _first(x):
    return np.sin(x)


def _second(x):
    return np.cos(x) * x


def rebinding(x):
    return np.sum(_helper(x) * _helper(2.0 * x))


_helper = _first


def test_rebinding_the_helper_rebuilds_the_caller():
    global _helper
    assert uses_called_helpers(rebinding, X)
    inline.INLINE_LIMIT = 0
    try:
        srcad.clear_cache()
        g = srcad.grad(rebinding)
        before = g(X)
        _helper = _second
        after = g(X)
    finally:
        _helper = _first
        inline.INLINE_LIMIT = 200
    srcad.clear_cache()
    _helper = _second
    try:
        expected = srcad.grad(rebinding)(X)
    finally:
        _helper = _first
    assert not np.allclose(before, after)
    assert_same(after, expected)


def test_a_caller_of_helpers_built_once_is_not_stored_on_disk():
    directory = os.environ.get("SRCAD_CACHE_DIR")
    if not directory:
        pytest.fail("tests/conftest.py sets SRCAD_CACHE_DIR")
    f = make_nested(3)
    inline.INLINE_LIMIT = 0
    try:
        srcad.clear_cache()
        srcad.grad(f)(X)
    finally:
        inline.INLINE_LIMIT = 200
        srcad.clear_cache()
    texts = [open(p).read() for p in glob.glob(os.path.join(directory, "**", "*.json"),
                                               recursive=True)]
    mine = [t for t in texts if "<srcad-build-curve-nested-3>" in t]
    assert any("def dh0_dx(" in t for t in mine)       # a helper calling none is stored
    assert not any(("def dnested_dx(" in t or "def dh3_dx(" in t) and "dh2_dx(" in t
                   for t in mine)                  # one calling a helper's derivative is not


def _noisy(x):
    return x * np.random.rand(x.size)


def noisy_twice(x):
    return np.sum(_noisy(x) + _noisy(2.0 * x))


def test_a_helper_drawing_random_numbers_is_inlined():
    # its VJP would recompute the primal and draw other numbers than the value used
    assert not uses_called_helpers(noisy_twice, X)

    def seeded():
        np.random.seed(1)
        return srcad.grad(noisy_twice)(X)
    assert_same(*both(seeded))


def _tail(x):
    return x[1:]


def writes_into_a_view(x):
    a = np.sin(x)
    y = _tail(a)
    z = _tail(a)
    z[0] = 5.0
    return np.sum(a * y) + np.sum(z)


def test_a_helper_handing_back_a_view_is_inlined():
    # called, its value would be taken as a new array, and the write into it lost on a
    inline.INLINE_LIMIT = 0
    try:
        srcad.clear_cache()
        with pytest.raises(srcad.SrcadError, match="shares memory"):
            srcad.grad(writes_into_a_view)(X)
    finally:
        inline.INLINE_LIMIT = 200
        srcad.clear_cache()
