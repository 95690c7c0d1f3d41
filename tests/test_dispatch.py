"""The fast call path (srcad/dispatch.py): after a key was called twice, calls take generated
code; these check it returns what the general path does and notices every staleness."""
import numpy as np
import pytest

import srcad
from srcad import dispatch


def _hot(d, *args):
    """Call ``d`` until its fast path is installed for ``args``; return the last result."""
    for _ in range(3):
        out = d(*args)
    assert dispatch.generated(d) is not None, "the fast path was not installed"
    assert "generated for arguments" in d.__srcad_dispatcher__.source()
    return out


def helper(x):
    return np.sin(x)


def other(x):
    return 3.0 * x


def uses_helper(x):
    return np.sum(helper(x))


def test_rebinding_a_helper_after_the_fast_path_was_installed(monkeypatch):
    x = np.linspace(0.1, 1.0, 5)
    d = srcad.grad(uses_helper)
    np.testing.assert_allclose(_hot(d, x), np.cos(x))
    monkeypatch.setitem(globals(), "helper", other)
    np.testing.assert_allclose(d(x), np.full(5, 3.0))


def sines(x):
    return np.sum(np.sin(x))


def test_np_sin_rebound_after_the_fast_path(monkeypatch):
    x = np.linspace(0.1, 1.0, 4)
    d = srcad.grad(sines)
    np.testing.assert_allclose(_hot(d, x), np.cos(x))
    monkeypatch.setattr(np, "sin", np.cos)
    np.testing.assert_allclose(d(x), -np.sin(x))


def test_a_closure_cell_changed_after_the_fast_path():
    k = 2.0

    def f(x):
        return k * x * x
    d = srcad.grad(f)
    assert _hot(d, 3.0) == 12.0
    k = 5.0                                   # noqa: F841 - read through f's cell
    assert d(3.0) == 30.0


def test_a_closure_cell_turning_complex_after_the_fast_path_rebuilds():
    # the build decided from the cell's value that it is real; the general path rebuilds
    # when it turns complex (Derivative.complex_cells), and so must the fast path
    def make():
        c = 2.0
        scale = np.ones(3)

        def f(x):
            return np.real(np.sum(c * scale * x * x))

        def set_c(value):
            nonlocal c
            c = value
        return f, set_c
    f, set_c = make()
    x = np.array([1.0, 2.0, 3.0])
    d = srcad.grad(f)
    np.testing.assert_allclose(_hot(d, x), 4.0 * x)
    assert "cell_contents) is" in d.__srcad_dispatcher__.source()
    set_c(1.0 + 1.0j)                      # real(c * sum(x^2)): the gradient is 2 real(c) x
    np.testing.assert_allclose(d(x), 2.0 * x)
    np.testing.assert_allclose(_hot(d, x), 2.0 * x)
    set_c(3.0)
    np.testing.assert_allclose(d(x), 6.0 * x)


def cube(x):
    return x ** 3


def uses_cube(x):
    return np.sum(cube(x))


def test_a_rule_registered_after_the_fast_path_was_installed():
    # the fast path does not test the rule version: the registration puts the general
    # path's code back (registry.watch), which rebuilds with the new rule
    from srcad.template import d
    x = np.linspace(0.1, 1.0, 4)
    dcube = srcad.grad(uses_cube)
    np.testing.assert_allclose(_hot(dcube, x), 3.0 * x ** 2)

    @srcad.register_adjoint(cube)
    def cube_adjoint(y, x):
        d[x] = d[y] * 2.0 * x       # not the derivative: shows which rule runs
    assert "generated for arguments" not in dcube.__srcad_dispatcher__.source()
    np.testing.assert_allclose(dcube(x), 2.0 * x)
    np.testing.assert_allclose(_hot(dcube, x), 2.0 * x)


def test_code_and_defaults_replaced_after_the_fast_path():
    def f(x, c=2.0):
        return c * x * x
    d = srcad.grad(f)
    assert _hot(d, 3.0) == 12.0
    f.__defaults__ = (4.0,)
    assert d(3.0) == 24.0

    def g(x, c=2.0):
        return c * x * x * x
    f.__code__ = g.__code__
    assert d(1.0) == 12.0


def identity_sum(w, x):
    return np.sum(w * x)


def test_new_shapes_types_and_keywords_take_the_general_path():
    w, x = np.ones(3), np.arange(3.0)
    d = srcad.grad(identity_sum)
    g = _hot(d, w, x)
    np.testing.assert_array_equal(g, x)
    assert g is not x                         # never the caller's array
    g2 = d(np.ones(4), np.arange(4.0))
    assert g2.shape == (4,)
    np.testing.assert_array_equal(d(w, x=x), x)
    assert d(np.float32(2.0) * np.ones(3, np.float32), x).dtype == np.float32
    with pytest.raises(TypeError):
        d(w)


def test_value_and_grad_several_wrt_and_forward():
    w, x = np.linspace(1, 2, 3), np.linspace(-1, 1, 3)
    vg = srcad.value_and_grad(identity_sum, wrt=(0, 1))
    value, (gw, gx) = _hot(vg, w, x)
    assert value == pytest.approx(np.sum(w * x))
    np.testing.assert_array_equal(gw, x)
    np.testing.assert_array_equal(gx, w)
    assert gw is not x and gx is not w
    fwd = srcad.autodiff(identity_sum, mode="forward")
    t = np.ones(3)
    assert _hot(fwd, w, x, t) == pytest.approx(np.sum(x))


def divides(x):
    return np.sum(1.0 / x) + helper_raising(x)


def helper_raising(x):
    return np.sum(np.log(x))


def test_an_error_inside_the_generated_code_on_the_fast_path_is_noted():
    d = srcad.grad(divides)
    x = np.ones(3)
    _hot(d, x)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError) as info:
        d(np.zeros(3))
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:                     # Python 3.11 and later
        assert any("the derivative srcad generated" in n for n in notes)


def act(z):
    return np.tanh(z)


def mlp(params, x):
    h = act(x @ params["W"] + params["b"])
    return np.sum(h * h)


def test_a_dict_of_parameters_on_the_fast_path(monkeypatch):
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    x = rng.normal(size=(4, 3))
    d = srcad.grad(mlp)
    g = _hot(d, params, x)
    assert list(g) == ["W", "b"] and g["W"] is not params["W"]
    h = np.tanh(x @ params["W"] + params["b"])
    bz = 2 * h * (1 - h * h)
    np.testing.assert_allclose(g["W"], x.T @ bz)
    np.testing.assert_allclose(g["b"], bz.sum(0))
    reordered = d({"b": params["b"], "W": params["W"]}, x)       # another key order
    assert list(reordered) == ["b", "W"]
    np.testing.assert_allclose(reordered["W"], g["W"])
    wider = d({"W": rng.normal(size=(3, 5)), "b": np.zeros(5)}, x)
    assert wider["W"].shape == (3, 5)
    monkeypatch.setitem(globals(), "act", linear)                    # a rebound helper
    z = x @ params["W"] + params["b"]
    np.testing.assert_allclose(d(params, x)["b"], (2 * z).sum(0))


def linear(z):
    return z


def crossed(p, x):
    return np.sum(p["a"] * p["b"]) + np.sum(p["c"] * x)


def test_derivatives_that_are_arguments_are_copied_on_the_fast_path():
    # d/da = b, d/db = a, d/dc = x: the generated code may return the arguments themselves;
    # a leaf of another shape (c) cannot be one of a, b, and is tested against x only
    rng = np.random.default_rng(2)
    p = {"a": rng.normal(size=3), "b": rng.normal(size=3), "c": rng.normal(size=(2, 2))}
    x = rng.normal(size=(2, 2))
    d = srcad.grad(crossed, wrt=(0, 1))
    for g, gx in (_hot(d, p, x), d(p, x)):
        np.testing.assert_allclose(g["a"], p["b"])
        np.testing.assert_allclose(g["b"], p["a"])
        np.testing.assert_allclose(g["c"], x)
        np.testing.assert_allclose(gx, p["c"])
        arrays = [*p.values(), x, *g.values(), gx]
        assert len({id(v) for v in arrays}) == len(arrays)
        assert all(v.base is None for v in (*g.values(), gx))


def test_threads_calling_with_changing_shapes_and_keys_get_their_own_results(monkeypatch):
    import threading
    monkeypatch.setattr(dispatch, "_MAX_CODES", 3)       # keys forgotten while others run
    d = srcad.grad(identity_sum, wrt=1)
    failures = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for step in range(300):
            n = 1 + (step + seed) % 7
            w = rng.normal(size=n)
            g = d(w, np.ones(n))
            if g.shape != (n,) or not np.array_equal(g, w) or g is w:
                failures.append((seed, step, n))
    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


class Ops:
    @staticmethod
    def act(z):
        return 2.0 * z


def through_a_class(x):
    return np.sum(Ops.act(x))


def test_an_attribute_of_a_class_rebound_after_the_fast_path(monkeypatch):
    x = np.ones(3)
    d = srcad.grad(through_a_class)
    np.testing.assert_allclose(_hot(d, x), np.full(3, 2.0))
    monkeypatch.setattr(Ops, "act", staticmethod(other))
    np.testing.assert_allclose(d(x), np.full(3, 3.0))


def mlp_float_bias(p, x):
    return np.sum(np.tanh(x @ p["W"]) * p["scale"] + p["shift"])


def test_a_float_leaf_takes_the_fast_path_and_gets_a_float():
    """A float leaf's derivative comes out of the generated code as np.float64: the fast
    path returns it as the float the general path gives, instead of falling back every call
    (the dict-of-params MLP of benchmarks/containers.py did, at 1.38x the positional form)."""
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 2)), "scale": 0.5, "shift": 0.25}
    x = rng.normal(size=(4, 3))
    d = srcad.grad(mlp_float_bias)
    g = _hot(d, params, x)
    calls = []
    ns = d.__srcad_dispatcher__.ns
    saved = {k: v for k, v in ns.items() if k.endswith("_finish")}    # the general finish

    def spy(finish):
        return lambda *a, **k: calls.append(1) or finish(*a, **k)
    ns.update({k: spy(v) for k, v in saved.items()})
    try:
        again = d(params, x)
    finally:
        ns.update(saved)
    assert calls == [], "the fast path fell back to the general path's finish"
    assert type(again["scale"]) is float and type(again["shift"]) is float
    assert again["shift"] == 8.0
    np.testing.assert_allclose(again["scale"], np.sum(np.tanh(x @ params["W"])))
    np.testing.assert_allclose(again["W"], g["W"])


def horner(x, coeffs):
    p = 0.0
    for c in coeffs:
        p = p * x + c
    return p


def horner_slope(x, coeffs):
    p = dp = 0.0
    for c in coeffs:
        dp, p = dp * x + p, p * x + c
    return dp


def weighted(w, x):
    return sum(wi * np.sin(x) for wi in w)


def test_a_list_of_floats_takes_the_fast_path():
    """A list of Python floats (the coefficients of a scalar loop) is a key the fast path
    tests itself (was: every call through the general path, about 7 us of a 10 us gradient);
    a list holding anything but floats, and a derivative with respect to the list, still
    give exactly what the general path gives."""
    coeffs = [0.5, -1.0, 2.0, 0.25]
    d = srcad.grad(horner)
    g = _hot(d, 0.7, coeffs)
    assert "list of floats" in d.__srcad_dispatcher__.source()
    expected = horner_slope(0.7, coeffs)
    assert type(g) is float and g == pytest.approx(expected, rel=1e-12)
    longer = coeffs + [1.0]                     # another length: the same key
    assert d(0.7, longer) == pytest.approx(horner_slope(0.7, longer), rel=1e-12)
    mixed = d(0.7, [0.5, -1.0, np.float64(2.0), 0.25])     # not a list of floats: general
    assert mixed == pytest.approx(expected, rel=1e-12)
    assert d(0.7, []) == 0.0
    dw = srcad.grad(weighted)
    w = [0.5, 2.0]
    gw = _hot(dw, w, 0.3)
    assert type(gw) is list and gw is not w and all(type(v) is float for v in gw)
    assert gw == pytest.approx([np.sin(0.3), np.sin(0.3)])


def squashed(w, x):
    return np.sum(np.tanh(x * w) ** 2)


def _squashed_grad(w, x):
    t = np.tanh(x * w)
    return 2.0 * t * (1.0 - t * t) * x


def test_output_checks_the_build_proved_are_left_out():
    """The variant returns ``b * (1 - t * t) * x``: arithmetic of the float64 parameters,
    so the build proves it a new float64 array of w's shape (``optimize.outputs``), and the
    fast path tests only its type; the result is still its own array, and right."""
    rng = np.random.default_rng(3)
    w, x = rng.normal(size=8), rng.normal(size=8)
    d = srcad.grad(squashed)
    g = _hot(d, w, x)
    source = d.__srcad_dispatcher__.source()
    assert "if (type(g0) is _nd):" in source and "g0.base is None" not in source
    for out in (g, d(w, x)):
        np.testing.assert_allclose(out, _squashed_grad(w, x), rtol=1e-12)
        assert out.dtype == np.float64 and out.shape == w.shape and out.base is None
        assert out is not w and out is not x
    h = 1e-6 * np.eye(8)
    central = [(squashed(w + e, x) - squashed(w - e, x)) / 2e-6 for e in h]
    np.testing.assert_allclose(d(w, x), central, rtol=1e-6, atol=1e-8)


def test_an_output_of_another_dtype_is_still_tested_and_cast():
    """float32 w with float64 x: the gradient computed is float64, which the build cannot
    prove float32, so the fast path tests it and the general path's finish casts it (a
    fast path trusting the facts without the parameters' dtypes returned float64)."""
    rng = np.random.default_rng(4)
    w, x = rng.normal(size=8).astype(np.float32), rng.normal(size=8)
    d = srcad.grad(squashed)
    for g in (_hot(d, w, x), d(w, x)):
        assert g.dtype == np.float32 and g.shape == (8,)
        np.testing.assert_allclose(g, _squashed_grad(w.astype(np.float64), x), rtol=1e-5)
    assert "g0.dtype is dtype_a0" in d.__srcad_dispatcher__.source()


def plus_argument(w, x):
    return np.sum(w * x)


def test_a_returned_argument_is_proved_nothing():
    # d/dw = x: the generated code returns the argument, a value the build proves nothing of
    rng = np.random.default_rng(5)
    w, x = rng.normal(size=4), rng.normal(size=4)
    d = srcad.grad(plus_argument)
    for g in (_hot(d, w, x), d(w, x)):
        np.testing.assert_array_equal(g, x)
        assert g is not x and g.base is None
    assert "g0 is not a1" in d.__srcad_dispatcher__.source()


def test_proved_facts_are_checked_against_each_key():
    """``dispatch._proved``: a fact holds for a key only with the argument's shape and one
    real floating dtype among the parameters it is computed from."""
    f64, f32 = np.dtype(np.float64), np.dtype(np.float32)
    kinds = (((3, 4), f64), ((4,), f64), float, ((3, 4), f32), complex)
    fact = (((0, 0), (0, 1)), frozenset({0, 1, 2}))
    assert dispatch._proved(fact, kinds, ((3, 4), f64))
    assert not dispatch._proved(fact, kinds, ((3, 4), f32))          # another dtype
    assert not dispatch._proved((((1, 0),), frozenset({0})), kinds, ((3, 4), f64))  # shape
    assert not dispatch._proved((((0, 0), (0, 1)), frozenset({0, 3})), kinds, ((3, 4), f64))
    assert not dispatch._proved((((0, 0), (0, 1)), frozenset({0, 4})), kinds, ((3, 4), f64))
    assert not dispatch._proved(None, kinds, ((3, 4), f64))
    ints = ((((3, 4), np.dtype(np.int64)),))
    assert not dispatch._proved((((0, 0), (0, 1)), frozenset({0})), ints,
                                ((3, 4), np.dtype(np.int64)))


def test_output_facts_prove_only_new_values_of_parameters_and_literals():
    import gast

    from srcad.optimize import output_facts

    def facts(text, known):
        return output_facts(gast.parse(text).body[0], known, "np")
    known = {"w": ("n0",), "x": ("n0",), "X": ("n1", "n0")}
    assert facts("def f(w, x):\n    b = np.tanh(w) * x\n    return b\n", known) == (
        (((0, 0),), frozenset({0, 1})),)
    # carried through a loop and an in-place sum: still new, from w and x
    loop = ("def f(w, x):\n    b = w * 2.0\n    for i in range(3):\n        b = b * x\n"
            "        b += 1\n    return b\n")
    assert facts(loop, known) == ((((0, 0),), frozenset({0, 1})),)
    assert facts("def f(w, x):\n    return w\n", known) == (None,)        # an argument
    assert facts("def f(w, x):\n    b, c = w * 1.0, x\n    return b\n", known) == (None,)
    assert facts("def f(w, x):\n    b = w * G\n    return b\n", known) == (None,)  # a global
    assert facts("def f(w, x):\n    b = np.sum(w, axis=0) * x\n    return b\n",
                 known) == (None,)                                          # a reduction
    assert facts("def f(w, x):\n    b = w * x\n    return b, b\n", known) == (None, None)
    assert facts("def f(w, x):\n    b = w * x\n    return (b, (b,))\n", known) is None


def spread(w, X):
    return np.sum(w * X)


def test_a_broadcast_gradient_keeps_its_tests():
    rng = np.random.default_rng(6)
    w, X = rng.normal(size=3), rng.normal(size=(4, 3))
    d = srcad.grad(spread)
    for g in (_hot(d, w, X), d(w, X)):
        np.testing.assert_allclose(g, X.sum(axis=0), rtol=1e-12)
        assert g.shape == (3,) and g.base is None
    assert "g0.shape == shape_a0" in d.__srcad_dispatcher__.source()


def test_the_tangent_of_a_number_literal_is_a_literal():
    """``p = 0.0`` before a loop: its tangent starts as ``0.0`` in the generated code (was a
    ``tangent_zeros(p)`` call, which gives 0.0 for a Python number, batched or not);
    gradient, JVP and batched JVP against central differences."""
    coeffs = [0.5, -1.0, 2.0, 0.25]
    assert "tangent_zeros" not in srcad.show(horner, 0.7, coeffs)
    assert "dp = 0.0" in srcad.show(horner, 0.7, coeffs)
    central = (horner(0.7 + 1e-6, coeffs) - horner(0.7 - 1e-6, coeffs)) / 2e-6
    assert srcad.grad(horner)(0.7, coeffs) == pytest.approx(central, rel=1e-8)
    _, t = srcad.jvp(horner, (0.7, coeffs), (1.0,), wrt=0)
    assert t == pytest.approx(central, rel=1e-8)
    x = np.array([0.7, -0.3])
    _, tb = srcad.jvp(horner, (x, coeffs), (np.eye(2),), wrt=0, batched=True)
    slopes = [(horner(v + 1e-6, coeffs) - horner(v - 1e-6, coeffs)) / 2e-6 for v in x]
    np.testing.assert_allclose(tb, np.diag(slopes), rtol=1e-7, atol=1e-9)
