"""srcad.nn activations, softmax family and losses: each fused rule against central finite
differences (reverse, forward, their agreement, float32 gradients: helpers.check_rule), against
the plain composed NumPy formula differentiated by srcad (values, gradients, JVPs, Hessians),
and the stable evaluation at extreme arguments."""
import warnings

import numpy as np
import pytest

import srcad
from srcad import nn
from helpers import check_rule, make_function, random_args
from nn_helpers import agree as _agree

LABELS = {(1, 5): np.array([3]), (4, 3): np.array([0, 2, 1, 2]),  # (4, 3): hessians
          (2, 3, 5): np.array([[0, 4, 1], [2, 2, 3]])}
CONSTS = {"nn": nn, "erf": nn.erf, "ONE_HOT": {s: nn.one_hot(v, s[-1]) for s, v in LABELS.items()}}

# (name, fused expression, composed NumPy expression, argument shapes, domain); x, y, z, w are
# the arguments; L is the labels of x's shape, H their one-hot form, P probabilities.
SHAPES = [(1, 5), (2, 3, 5)]     # batch 1, odd sizes, 3-d
UNARY = [
    ("sigmoid", "nn.sigmoid(x)", "1.0 / (1.0 + np.exp(-x))"),
    ("log_sigmoid", "nn.log_sigmoid(x)", "-np.log1p(np.exp(-x))"),
    ("softplus", "nn.softplus(x)", "np.log1p(np.exp(x))"),
    ("relu", "nn.relu(x)", "np.maximum(x, 0.0)"),
    ("leaky_relu", "nn.leaky_relu(x)", "np.where(x > 0, x, 0.01 * x)"),
    ("elu", "nn.elu(x, 0.7)", "np.where(x > 0, x, 0.7 * (np.exp(x) - 1.0))"),
    ("gelu", "nn.gelu(x)", "0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))"),
    ("gelu_tanh", "nn.gelu(x, approximate='tanh')",
     "0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))"),
    ("silu", "nn.silu(x)", "x / (1.0 + np.exp(-x))"),
    ("softmax", "nn.softmax(x)", "np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)"),
    ("softmax0", "nn.softmax(x, axis=0)",
     "np.exp(x) / np.sum(np.exp(x), axis=0, keepdims=True)"),
    ("log_softmax", "nn.log_softmax(x)",
     "x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))"),
    ("log_softmax1", "nn.log_softmax(x, 1)",
     "x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))"),
    ("logsumexp", "nn.logsumexp(x)", "np.log(np.sum(np.exp(x)))"),
    ("logsumexp_axis", "nn.logsumexp(x, axis=-1)", "np.log(np.sum(np.exp(x), axis=-1))"),
    ("logsumexp_keep", "nn.logsumexp(x, axis=0, keepdims=True)",
     "np.log(np.sum(np.exp(x), axis=0, keepdims=True))"),
]
# two arguments: x the prediction / logits, y the target (or a parameter)
BINARY = [
    ("leaky_relu_slope", "nn.leaky_relu(x, y)", "np.where(x > 0, x, y * x)", "scalar"),
    ("elu_alpha", "nn.elu(x, y)", "np.where(x > 0, x, y * (np.exp(x) - 1.0))", "scalar"),
    ("ce_probs", "nn.cross_entropy(x, nn.softmax(y))",
     "-np.mean(np.sum(nn.softmax(y) * (x - np.log(np.sum(np.exp(x), -1, keepdims=True))), -1))",
     "same"),
    ("ce_probs_sum", "nn.cross_entropy(x, nn.softmax(y), reduction='sum')",
     "-np.sum(nn.softmax(y) * (x - np.log(np.sum(np.exp(x), -1, keepdims=True))))", "same"),
    ("ce_probs_none", "nn.cross_entropy(x, nn.softmax(y, 0), reduction='none', axis=0)",
     "-np.sum(nn.softmax(y, 0) * (x - np.log(np.sum(np.exp(x), 0, keepdims=True))), 0)", "same"),
    ("bce", "nn.binary_cross_entropy_with_logits(x, nn.sigmoid(y))",
     "-np.mean(nn.sigmoid(y) * np.log(1.0 / (1.0 + np.exp(-x)))"
     " + (1.0 - nn.sigmoid(y)) * np.log(1.0 - 1.0 / (1.0 + np.exp(-x))))", "same"),
    ("bce_none_bcast", "nn.binary_cross_entropy_with_logits(x, nn.sigmoid(y), 'none')",
     "-(nn.sigmoid(y) * np.log(1.0 / (1.0 + np.exp(-x)))"
     " + (1.0 - nn.sigmoid(y)) * np.log(1.0 - 1.0 / (1.0 + np.exp(-x))))", "row"),
    ("mse", "nn.mse(x, y)", "np.mean((x - y) ** 2)", "same"),
    ("mse_sum_bcast", "nn.mse(x, y, reduction='sum')", "np.sum((x - y) ** 2)", "row"),
    ("huber", "nn.huber(x, y, 0.8)",
     "np.mean(np.where(np.abs(x - y) <= 0.8, 0.5 * (x - y) ** 2, 0.8 * (np.abs(x - y) - 0.4)))",
     "same"),
    ("huber_delta", "nn.huber(x, 0.3, y, reduction='none')",
     "np.where(np.abs(x - 0.3) <= y, 0.5 * (x - 0.3) ** 2, y * (np.abs(x - 0.3) - 0.5 * y))",
     "scalar"),
]
FOCAL = ("-z * y * (1.0 - 1.0 / (1.0 + np.exp(-x))) ** w * np.log(1.0 / (1.0 + np.exp(-x)))"
         " - (1.0 - z) * (1.0 - y) * (1.0 / (1.0 + np.exp(-x))) ** w"
         " * np.log(1.0 - 1.0 / (1.0 + np.exp(-x)))")


def _second_shape(kind, shape):
    return {"same": shape, "row": shape[-1:], "scalar": ()}[kind]


def _domain(name):
    # huber's delta and elu's alpha positive; everything else standard normal
    return ["real", (0.3, 1.5)] if name in ("huber_delta", "elu_alpha") else "real"


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,fused,composed", UNARY, ids=[c[0] for c in UNARY])
def test_unary(name, fused, composed, shape):
    check_rule(fused, [shape], consts=CONSTS)
    _agree(fused, composed, [shape], "real", CONSTS, hessian=shape != (2, 3, 5))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,fused,composed,kind", BINARY, ids=[c[0] for c in BINARY])
def test_binary(name, fused, composed, kind, shape):
    if "axis=0" in fused and shape == (1, 5):
        shape = (3, 5)
    shapes = [shape, _second_shape(kind, shape)]
    check_rule(fused, shapes, domain=_domain(name), consts=CONSTS)
    _agree(fused, composed, shapes, _domain(name), CONSTS, hessian=shape != (2, 3, 5))


@pytest.mark.parametrize("shape", [(1, 5), (4, 3), (2, 3, 5)], ids=str)
def test_cross_entropy_labels(shape):
    consts = {**CONSTS, "L": LABELS[shape], "H": CONSTS["ONE_HOT"][shape]}
    check_rule("nn.cross_entropy(x, L)", [shape], consts=consts)
    _agree("nn.cross_entropy(x, L)",
           "-np.mean(np.sum(H * (x - np.log(np.sum(np.exp(x), -1, keepdims=True))), -1))",
           [shape], "real", consts)
    _agree("nn.cross_entropy(x, L, reduction='none')",
           "-np.sum(H * (x - np.log(np.sum(np.exp(x), -1, keepdims=True))), -1)",
           [shape], "real", consts, hessian=False)


@pytest.mark.parametrize("shape", [(5,), (3, 4)], ids=str)
def test_focal_loss(shape):
    # x logits, y targets in [0, 1], z alpha, w gamma: every argument differentiated
    shapes = [shape, shape, (), ()]
    domain = ["real", (0.0, 1.0), (0.1, 0.9), (0.5, 3.0)]
    check_rule("nn.focal_loss(x, y, w, z, reduction='none')", shapes, domain=domain,
               consts=CONSTS)
    check_rule("nn.focal_loss(x, y, gamma=w, alpha=z)", shapes, domain=domain, consts=CONSTS)
    _agree("nn.focal_loss(x, y, w, z, 'sum')", f"np.sum({FOCAL})", shapes, domain, CONSTS)


def test_focal_loss_reduces_to_cross_entropy():
    x, t = random_args([(6,), (6,)], ["real", (0.0, 1.0)])
    np.testing.assert_allclose(nn.focal_loss(x, t, gamma=0.0, alpha=0.5),
                               0.5 * nn.binary_cross_entropy_with_logits(x, t), rtol=1e-12)


def test_every_fused_operator_has_both_rules():
    from srcad import registry
    for fn in nn.FUSED:
        rule = registry.lookup(fn)
        assert rule is not None and rule.adjoint is not None and rule.tangent is not None, fn


def test_fused_rules_are_used():
    """The generated derivative calls the fused formula, not the operator's composition."""
    f = make_function("def f(x):\n    return np.sum(nn.softmax(x) * W)\n",
                      {"nn": nn, "W": np.ones(3)})
    text = srcad.show(f)
    assert "nn.softmax(x)" in text and "np.exp" not in text and "np.max" not in text
    g = make_function("def g(w, X):\n    return nn.cross_entropy(X @ w, L)\n",
                      {"nn": nn, "L": np.array([0, 1])})
    assert "nn.softmax(" in srcad.show(g) and "one_hot" not in srcad.show(g)


def test_stable_at_extremes():
    big = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nn.sigmoid(big)
        assert s[0] == 0.0 and s[-1] == 1.0 and s[1] > 0.0 and s[2] == 0.5
        np.testing.assert_allclose(nn.log_sigmoid(big), [-1000.0, -40.0, -np.log(2.0),
                                                         -np.exp(-40.0), 0.0], rtol=1e-12)
        np.testing.assert_allclose(nn.softplus(big)[-1], 1000.0)
        np.testing.assert_allclose(nn.softmax(big), [0, 0, 0, 0, 1], atol=1e-300)
        np.testing.assert_allclose(nn.logsumexp(big), 1000.0)
        assert nn.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
        loss = nn.binary_cross_entropy_with_logits(big, np.array([1.0, 0, 1, 1, 0]), "none")
        np.testing.assert_allclose(loss, [1000.0, 0.0, np.log(2.0), 0.0, 1000.0], atol=1e-15)
        np.testing.assert_allclose(nn.cross_entropy(big[None], np.array([0])), 2000.0)
        g = srcad.grad(make_function("def f(x):\n    return np.sum(nn.sigmoid(x))\n",
                                     {"nn": nn}))(big)
        assert np.all(np.isfinite(g)) and g[0] == 0.0 and g[2] == 0.25
        g = srcad.grad(make_function("def f(x):\n    return nn.logsumexp(x)\n", {"nn": nn}))(big)
        np.testing.assert_allclose(g, [0, 0, 0, 0, 1], atol=1e-300)


@pytest.mark.parametrize("expr", [
    "nn.sigmoid(x)", "nn.log_sigmoid(x)", "nn.softplus(x)", "nn.relu(x)", "nn.leaky_relu(x)",
    "nn.elu(x)", "nn.gelu(x)", "nn.gelu(x, 'tanh')", "nn.silu(x)", "nn.softmax(x)",
    "nn.log_softmax(x)", "nn.logsumexp(x, axis=1)", "nn.cross_entropy(x, np.array([1, 0]))",
    "nn.cross_entropy(x, nn.softmax(x))", "nn.binary_cross_entropy_with_logits(x, x > 0)",
    "nn.focal_loss(x, (x > 0).astype(np.float32))", "nn.mse(x, 1.0)", "nn.huber(x, 0.5)"])
def test_float32_values(expr):
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    y = eval(expr, {"nn": nn, "np": np}, {"x": x})
    assert y.dtype == np.float32, expr


def test_kinks():
    x = np.array([-1.0, 0.0, 2.0])
    f = make_function("def f(x):\n    return np.sum(nn.relu(x) + nn.leaky_relu(x, 0.1))\n",
                      {"nn": nn})
    np.testing.assert_array_equal(srcad.grad(f)(x), [0.1, 0.1, 2.0])
    np.testing.assert_array_equal(srcad.jvp(f, (x,), (np.ones(3),))[1], 2.2)


def test_reduction_is_checked():
    with pytest.raises(ValueError, match="reduction"):
        nn.mse(np.ones(2), 0.0, reduction="avg")


def test_import_srcad_stays_cheap():
    """srcad.nn and srcad.optim load on first use (or when a derivative loads the rules)."""
    import subprocess
    import sys
    code = ("import sys, srcad; assert 'srcad.nn' not in sys.modules and 'srcad.optim' not in "
            "sys.modules; srcad.optim.adam; assert 'srcad.optim' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
