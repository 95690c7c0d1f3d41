"""Property-based tests (hypothesis, deterministic profile): random compositions of
elementwise primitives, reductions and broadcasting, each checked against finite differences
in both modes, for forward/reverse agreement and optimized/unoptimized agreement, with
read-only arguments."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srcad
from agreement import assert_same, check_agreement, read_only, shape_patterns
from helpers import central_difference, make_function

settings.register_profile("srcad", derandomize=True, max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("srcad")

# Smooth on the whole real line, so random inputs never leave a function's domain.
UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(-({}) ** 2)",
         "np.log1p(({}) ** 2)", "np.sqrt(1.0 + ({}) ** 2)", "np.arctan({})", "({}) ** 3",
         "np.logaddexp(0.0, {})", "np.abs({}) ** 2"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1.5 + np.sin({}) ** 2)",
          "np.maximum({}, {}) + 0.1 * ({})", "np.hypot(1.0 + ({}) ** 2, {})"]


@st.composite
def expressions(draw, depth=3):
    """An expression in x (shape (3, 4)) and y (shape (4,): it broadcasts against x)."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["x", "y", "x.T.T", "y[None, :]", "0.5 * x"]))
    if draw(st.booleans()):
        return draw(st.sampled_from(UNARY)).format(draw(expressions(depth - 1)))
    template = draw(st.sampled_from(BINARY))
    parts = [draw(expressions(depth - 1)) for _ in range(template.count("{}"))]
    return template.format(*parts)


@given(expressions(), st.sampled_from(["np.sum({})", "np.mean({}, axis=0).sum()",
                                       "np.sum(np.max({}, axis=-1))"]))
def test_random_compositions_match_finite_differences(expr, reduce):
    """Both modes against finite differences, optimized against unoptimized, with read-only
    arguments, seeds and tangents (tests/agreement.py), at x (3, 4) and y (4,) and at one
    other shape pattern."""
    f = make_function(f"def f(x, y):\n    return {reduce.format(expr)}\n")
    g = np.random.default_rng(0)
    x, y = g.uniform(-1.0, 1.0, (3, 4)), g.uniform(-1.0, 1.0, 4)
    check_agreement(f, (x, y), (0, 1))
    for label, args in shape_patterns(f, (x, y), (0, 1), most=1):
        check_agreement(f, args, (0, 1), label, seeded=False)


@given(expressions(), st.sampled_from(["np.sum({})", "np.mean({}, axis=0).sum()",
                                       "np.sum(np.max({}, axis=-1))",
                                       "np.sum(np.mean({}, axis=-1, keepdims=True) * ({}))"]))
def test_random_gradients_match_finite_differences(expr, reduce):
    """``srcad.grad`` itself (the seed 1.0 and the code specialized for these shapes, which
    check_grad's seeded products do not run) against central differences."""
    f = make_function(f"def f(x, y):\n    return {reduce.format(expr, expr)}\n")
    g = np.random.default_rng(1)
    x, y = g.uniform(-1.0, 1.0, (3, 4)), g.uniform(-1.0, 1.0, 4)
    given = read_only((x, y))
    gx, gy = srcad.grad(f, wrt=(0, 1))(*given)
    assert_same(given, (x, y), "an argument")
    np.testing.assert_allclose(gx, central_difference(f, (x, y), 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gy, central_difference(f, (x, y), 1), rtol=1e-6, atol=1e-7)
