"""The corpus (tests/corpus.py) through every mode: finite-difference checks in reverse and
forward mode with forward/reverse agreement, grad vs value_and_grad, read-only arguments and
the unoptimized build at the arguments' shapes and at derived shape patterns
(tests/agreement.py), and deterministic generated source."""
import inspect
import numbers

import numpy as np
import pytest

import srcad
from agreement import check_agreement, pattern_params, shape_patterns
from corpus import CASES

# Known srcad failures, reported to the lead. Key: (test, case name); test '*' means all
# tests of that case. Each entry is a strict xfail, so a fix makes the suite say so.
XFAIL = {
}


def _params(test, cases=CASES, modes=(None,)):
    out = []
    for case in cases:
        for mode in modes:
            name = test if mode is None else f"{test}-{mode}"
            reason = XFAIL.get((name, case.name)) or XFAIL.get(("*", case.name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            values = (case,) if mode is None else (case, mode)
            ident = case.name if mode is None else f"{mode}-{case.name}"
            out.append(pytest.param(*values, id=ident, marks=marks))
    return out


def _has_omitted_defaults(case):
    params = inspect.signature(case.fn).parameters.values()
    return any(p.default is not p.empty for p in params)


def _with_explicit_defaults(case, args):
    """The arguments with every positional default passed explicitly."""
    bound = inspect.signature(case.fn).bind(*args)
    bound.apply_defaults()
    return bound.args


def _assert_tree_close(a, b, rtol=1e-12, atol=1e-12):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_tree_close(x, y, rtol, atol)
        return
    assert type(a) is type(b), f"{type(a).__name__} != {type(b).__name__}"
    assert np.shape(a) == np.shape(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_corpus_is_large_and_named_uniquely():
    names = [case.name for case in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", _params("check_grad"))
def test_check_grad_both_modes(case):
    srcad.check_grad(case.fn, *case.make_args(), wrt=case.wrt, mode="both")


@pytest.mark.parametrize("case", _params("single_wrt"))
def test_check_grad_first_argument_alone(case):
    """An int wrt (a single derivative, never a 1-tuple) through both modes."""
    first = case.wrt if isinstance(case.wrt, numbers.Integral) else case.wrt[0]
    srcad.check_grad(case.fn, *case.make_args(seed=1), wrt=first, mode="both", seed=1)


@pytest.mark.parametrize("case", _params("explicit_defaults",
                                         [c for c in CASES if _has_omitted_defaults(c)]))
def test_check_grad_with_defaults_passed_explicitly(case):
    args = _with_explicit_defaults(case, case.make_args())
    srcad.check_grad(case.fn, *args, wrt=case.wrt, mode="both")


@pytest.mark.parametrize("case", _params("value_and_grad", [c for c in CASES if c.scalar]))
def test_grad_matches_value_and_grad(case):
    args = case.make_args()
    g = srcad.grad(case.fn, wrt=case.wrt)(*args)
    value, g2 = srcad.value_and_grad(case.fn, wrt=case.wrt)(*args)
    expected = case.fn(*case.make_args())
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    _assert_tree_close(g, g2)
    if isinstance(case.wrt, tuple):
        assert isinstance(g, tuple) and len(g) == len(case.wrt)
    else:
        assert not isinstance(g, tuple)


@pytest.mark.parametrize("case", _params("read_only"))
def test_read_only_arguments_and_optimized_equals_unoptimized(case):
    """Read-only arguments, seed and tangents (a write into one fails), left unchanged; the
    optimized derivatives equal the unoptimized ones, forward agrees with reverse mode
    (finite differences at these arguments: test_check_grad_both_modes)."""
    check_agreement(case.fn, case.make_args(), case.wrt, fd=False)


@pytest.mark.parametrize("case, label, args", pattern_params(
    CASES, lambda c: c.name, lambda c: c.fn, lambda c: c.make_args()))
def test_optimized_equals_unoptimized_at_other_shape_patterns(case, label, args):
    """The same, and finite differences, at the shape patterns derived from the arguments
    (size-1 axes, equal sizes, an argument broadcast, 0-d arrays for numbers): each builds
    its own shape-specialized derivative, compared with the unoptimized one srcad builds
    for any shapes."""
    check_agreement(case.fn, args, case.wrt, label, seeded=False)


def test_shape_patterns_cover_the_corpus():
    counts = [len(shape_patterns(c.fn, c.make_args(), c.wrt)) for c in CASES]
    assert sum(counts) >= 1.5 * len(CASES) and sum(n > 0 for n in counts) >= 0.8 * len(CASES)


@pytest.mark.parametrize("case, mode", _params("show", modes=("reverse", "forward")))
def test_show_is_deterministic(case, mode):
    first = srcad.show(case.fn, mode=mode, wrt=case.wrt)
    srcad.clear_cache()
    second = srcad.show(case.fn, mode=mode, wrt=case.wrt)
    assert first == second
    assert f"def d{case.name}" in first


def _first(wrt):
    return wrt if isinstance(wrt, numbers.Integral) else wrt[0]


def _to_float32(a):
    if isinstance(a, np.ndarray) and a.dtype == np.float64:
        return a.astype(np.float32)
    return a


@pytest.mark.parametrize("case", _params("float32", [c for c in CASES if c.scalar]))
def test_float32_arrays_get_float32_gradients(case):
    args = case.make_args()
    args32 = [_to_float32(a) for a in args]
    g64 = srcad.grad(case.fn, wrt=case.wrt)(*args)
    g32 = srcad.grad(case.fn, wrt=case.wrt)(*args32)
    wrt = case.wrt
    if not isinstance(wrt, tuple):
        wrt, g64, g32 = (wrt,), (g64,), (g32,)
    for i, ref, g in zip(wrt, g64, g32):
        a = args32[i]
        if isinstance(a, np.ndarray):
            assert isinstance(g, np.ndarray) and g.dtype == np.float32 and g.shape == a.shape
        else:
            assert type(g) is type(a)
        scale = max(1.0, float(np.max(np.abs(ref))))
        np.testing.assert_allclose(np.asarray(g, dtype=float), ref, rtol=2e-3, atol=2e-3 * scale)


@pytest.mark.parametrize("case", _params("second_order", [c for c in CASES if c.scalar]))
def test_gradient_is_differentiable(case):
    """Forward-over-reverse and reverse-over-reverse: the generated gradient is checked
    like any other function."""
    i = _first(case.wrt)
    srcad.check_grad(srcad.grad(case.fn, wrt=i), *case.make_args(), wrt=i, mode="both",
                     rtol=1e-5, atol=1e-7)
