"""srcad.nn layers: conv2d / conv1d by the four methods (values against a loop, the adjoint
identities, every method's derivatives), conv_transpose2d and conv2d_weight_grad as operators
of their own, pooling, the normalizations, dropout and attention, each against finite
differences in both modes (helpers.check_rule) and against its composed NumPy formula (values,
gradients, JVPs, Hessians: nn_helpers.agree), with float32 kept float32."""
import itertools

import numpy as np
import pytest

import srcad
from srcad import conv, nn
from helpers import check_rule, make_function, random_args
from nn_helpers import agree

METHODS = ["direct", "im2col", "fft", "winograd"]


def loop_conv(x, w, stride, padding, dilation, groups):
    """conv2d by its definition, one output element at a time."""
    (sh, sw), (ph, pw), (dh, dw) = conv.pair(stride), conv.pair(padding), conv.pair(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, wd = xp.shape
    o, cg, kh, kw = w.shape
    p, q = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, p, q))
    for b, oc, i, j in itertools.product(range(n), range(o), range(p), range(q)):
        g = oc // (o // groups)
        window = xp[b, g * cg:(g + 1) * cg, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                    j * sw:j * sw + dw * (kw - 1) + 1:dw]
        y[b, oc, i, j] = np.sum(window * w[oc])
    return y


# (x shape, w shape, stride, padding, dilation, groups): batch 1, odd sizes, groups, depthwise
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 9, 8), (6, 2, 3, 2), 2, (1, 0), 1, 2),
    ((2, 2, 10, 9), (2, 1, 3, 3), (2, 3), 2, 2, 2),       # depthwise, dilated
    ((1, 3, 5, 5), (3, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 12, 11), (2, 2, 5, 4), 1, 2, 1, 1),
]


def _applies(method, case):
    return method != "winograd" or conv.winograd_applies(case[1], case[2], case[4])


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_methods_agree_with_the_definition(case):
    xs, ws, stride, padding, dilation, groups = case
    g = np.random.default_rng(0)
    x, w = g.standard_normal(xs), g.standard_normal(ws)
    expected = loop_conv(x, w, stride, padding, dilation, groups)
    cot = g.standard_normal(expected.shape)
    for method in METHODS + ["auto"]:
        if not _applies(method, case):
            with pytest.raises(ValueError, match="winograd"):
                nn.conv2d(x, w, stride, padding, dilation, groups, method)
            continue
        y = nn.conv2d(x, w, stride, padding, dilation, groups, method)
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12, err_msg=method)
        # the adjoint identities <g, conv(x, w)> = <conv_transpose(g, w), x> = <wgrad(x, g), w>
        xt = nn.conv_transpose2d(cot, w, stride, padding, dilation, groups, method, xs[2:])
        wt = nn.conv2d_weight_grad(x, cot, ws[2:], stride, padding, dilation, groups, method)
        inner = np.vdot(cot, expected)
        np.testing.assert_allclose([np.vdot(xt, x), np.vdot(wt, w)], [inner, inner], rtol=1e-12)
        y32 = nn.conv2d(x.astype(np.float32), w.astype(np.float32), stride, padding, dilation,
                        groups, method)
        assert y32.dtype == np.float32
        np.testing.assert_allclose(y32, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method,case", [(m, c) for c in CONV_CASES[:3] for m in METHODS + ["auto"]
                                         if _applies(m, c)], ids=str)
def test_conv_derivatives(method, case):
    xs, ws, stride, padding, dilation, groups = case
    expr = f"nn.conv2d(x, y, {stride!r}, {padding!r}, {dilation!r}, {groups}, {method!r})"
    check_rule(expr, [xs, ws], consts={"nn": nn})


def test_conv_second_order_and_transposed_operators():
    """conv_transpose2d and conv2d_weight_grad are operators too (every argument), and the
    Hessian of a conv net agrees between methods."""
    check_rule("nn.conv_transpose2d(x, y, 2, 1, 1, 1, 'auto', (7, 6))", [(2, 4, 4, 3),
                                                                         (4, 3, 3, 3)],
               consts={"nn": nn})
    check_rule("nn.conv2d_weight_grad(x, y, (3, 2), 2, (1, 0), 1, 2)", [(1, 4, 9, 8),
                                                                         (1, 6, 5, 4)],
               consts={"nn": nn})
    args = random_args([(1, 2, 5, 4), (3, 2, 3, 3)], seed=1)
    hessians = []
    for method in METHODS:
        f = make_function(f"def f(x, w):\n    return np.sum(nn.conv2d(x, w, 1, 1, method="
                          f"{method!r}) ** 3)\n", {"nn": nn})
        hessians.append(srcad.hessian(f, wrt=1)(*args))
        gw = srcad.grad(f, wrt=1)
        step = np.zeros_like(args[1])
        step[1, 0, 2, 1] = 1e-6
        column = (gw(args[0], args[1] + step) - gw(args[0], args[1] - step)) / 2e-6
        np.testing.assert_allclose(hessians[-1][..., 1, 0, 2, 1], column, rtol=1e-6, atol=1e-8)
    for h in hessians[1:]:
        np.testing.assert_allclose(h, hessians[0], rtol=1e-10, atol=1e-10)


def composed_conv(x, w):
    """conv2d (stride 1, no padding) as a sum over the kernel offsets (srcad differentiates it)."""
    kh, kw = w.shape[2], w.shape[3]
    p, q = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    y = np.einsum("nchw,oc->nohw", x[:, :, 0:p, 0:q], w[:, :, 0, 0])
    for i in range(kh):
        for j in range(kw):
            if i + j > 0:
                y = y + np.einsum("nchw,oc->nohw", x[:, :, i:i + p, j:j + q], w[:, :, i, j])
    return y


def test_conv_against_composed():
    agree("nn.conv2d(x, y)", "composed_conv(x, y)", [(1, 3, 5, 4), (2, 3, 3, 2)], "real",
          {"nn": nn, "composed_conv": composed_conv})


@pytest.mark.parametrize("case", [((2, 3, 9), (4, 3, 3), 2, 1, 1, 1), ((1, 4, 8), (4, 1, 2),
                                                                     1, 0, 2, 4)], ids=str)
def test_conv1d(case):
    xs, ws, stride, padding, dilation, groups = case
    expr = f"nn.conv1d(x, y, {stride}, {padding}, {dilation}, {groups})"
    check_rule(expr, [xs, ws], consts={"nn": nn})
    x, w = random_args([xs, ws])
    np.testing.assert_allclose(nn.conv1d(x, w, stride, padding, dilation, groups),
                               loop_conv(x[:, :, None], w[:, :, None], (1, stride), (0, padding),
                                         (1, dilation), groups)[:, :, 0], rtol=1e-12)


# -- pooling ------------------------------------------------------------------------------------

POOLS = [("nn.max_pool2d(x, 2)", "np.max(np.reshape(x, (2, 3, 2, 2, 3, 2)), axis=(3, 5))"),
         ("nn.avg_pool2d(x, 2)", "np.mean(np.reshape(x, (2, 3, 2, 2, 3, 2)), axis=(3, 5))"),
         ("nn.avg_pool2d(x, (1, 3), (1, 3))", "np.mean(np.reshape(x, (2, 3, 4, 2, 3)), axis=4)")]


@pytest.mark.parametrize("fused,composed", POOLS, ids=[p[0] for p in POOLS])
def test_pool_against_composed(fused, composed):
    check_rule(fused, [(2, 3, 4, 6)], consts={"nn": nn})
    agree(fused, composed, [(2, 3, 4, 6)], "real", {"nn": nn}, hessian=False)


@pytest.mark.parametrize("expr,shape", [
    ("nn.max_pool2d(x, 3, 2, 1)", (1, 2, 7, 6)), ("nn.max_pool2d(x, (2, 3), 1)", (2, 1, 5, 5)),
    ("nn.avg_pool2d(x, 3, 2, 1)", (1, 2, 7, 6)), ("nn.avg_pool2d(x, 2, 1)", (1, 1, 3, 4))])
def test_pool_overlapping_and_padded(expr, shape):
    check_rule(expr, [shape], consts={"nn": nn})


def test_max_pool_ties_go_to_the_first():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    f = make_function("def f(x):\n    return np.sum(nn.max_pool2d(x, 2))\n", {"nn": nn})
    np.testing.assert_array_equal(srcad.grad(f)(x), [[[[0.0, 1.0], [0.0, 0.0]]]])
    h = make_function("def h(x):\n    return np.sum(nn.max_pool2d(x, 2, 1, padding=1))\n",
                      {"nn": nn})
    # nine windows; the middle one has the tie 3, 3 and counts for the first (row-major)
    np.testing.assert_array_equal(srcad.grad(h)(x), [[[[1.0, 4.0], [3.0, 1.0]]]])


# -- normalization ------------------------------------------------------------------------------

def composed_standardize(x, axis):
    mu = np.mean(x, axis=axis, keepdims=True)
    return (x - mu) / np.sqrt(np.var(x, axis=axis, keepdims=True) + 1e-5)


def composed_group_norm(x, gamma, beta):
    g = np.reshape(x, (x.shape[0], 2, x.shape[1] // 2) + x.shape[2:])
    xhat = np.reshape(composed_standardize(g, (2, 3, 4)), x.shape)
    return xhat * gamma[None, :, None, None] + beta[None, :, None, None]


NS = {"nn": nn, "cs": composed_standardize, "cgn": composed_group_norm}
NORMS = [   # (fused, composed, shapes): x, then gamma and beta
    ("nn.batch_norm(x, y, z)", "cs(x, (0, 2, 3)) * y[None, :, None, None] + z[None, :, None, None]",
     [(3, 4, 3, 2), (4,), (4,)]),
    ("nn.batch_norm(x, y, z)", "cs(x, 0) * y + z", [(5, 3), (3,), (3,)]),
    ("nn.batch_norm(x, y, z)", "cs(x, (0, 2, 3)) * y[None, :, None, None] + z[None, :, None, None]",
     [(1, 2, 3, 3), (2,), (2,)]),                                 # batch 1
    ("nn.instance_norm(x, y, z)", "cs(x, (2, 3)) * y[None, :, None, None] + z[None, :, None, None]",
     [(2, 3, 3, 2), (3,), (3,)]),
    ("nn.group_norm(x, 2, y, z)", "cgn(x, y, z)", [(2, 4, 3, 1), (4,), (4,)]),
    ("nn.layer_norm(x, y, z)", "cs(x, -1) * y + z", [(3, 5), (5,), (5,)]),
    ("nn.layer_norm(x, y, z, axis=(1, 2))", "cs(x, (1, 2)) * y + z", [(2, 3, 4), (3, 4), (4,)]),
    ("nn.standardize(x, 1)", "cs(x, 1)", [(3, 4)]),
]


@pytest.mark.parametrize("fused,composed,shapes", NORMS, ids=[f"{n[0]}{n[2][0]}" for n in NORMS])
def test_norms(fused, composed, shapes):
    check_rule(fused, shapes, consts=NS)
    agree(fused, composed, shapes, "real", NS, hessian=len(shapes) == 1 or shapes[0] == (5, 3))


def test_norm_second_order_in_every_argument_and_eps():
    check_rule("nn.batch_norm_inference(x, y, z, w, np.abs(w) + 0.5)", [(2, 3, 2, 2), (3,), (3,),
                                                                        (3,)], consts=NS)
    f = make_function("def f(x, g, eps):\n    return np.sum(nn.group_norm(x, 2, g, g, eps) ** 3)\n",
                      {"nn": nn})
    args = random_args([(2, 4, 2, 3), (4,), ()], ["real", "real", (0.5, 1.0)])
    srcad.check_grad(f, *args, wrt=(0, 1, 2), mode="both")
    srcad.check_grad(srcad.grad(f, wrt=0), *args, wrt=(0, 1, 2), mode="both")


def test_running_stats():
    x = random_args([(4, 3, 2, 2)])[0]
    mean, var = nn.running_stats(x, np.zeros(3), np.ones(3), momentum=0.5)
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var, 0.5 + 0.5 * x.var(axis=(0, 2, 3), ddof=1))
    y = nn.batch_norm_inference(x, 2.0 * np.ones(3), np.zeros(3), mean, var)
    np.testing.assert_allclose(y, 2.0 * (x - mean[:, None, None]) / np.sqrt(
        var[:, None, None] + 1e-5))


# -- dropout and attention ----------------------------------------------------------------------

def test_dropout_reuses_its_mask():
    x = random_args([(4, 5)])[0]
    mask = nn.dropout_mask(x, 0.4, 7)
    assert set(np.unique(mask)) <= {0.0, 1.0 / 0.6}
    f = make_function("def f(x, key):\n    return np.sum(nn.dropout(x, 0.4, key) ** 2)\n",
                      {"nn": nn})
    value, grad = srcad.value_and_grad(f)(x, 7)
    np.testing.assert_allclose(value, np.sum((x * mask) ** 2))
    np.testing.assert_allclose(grad, 2 * x * mask * mask)
    generator = np.random.default_rng(3)
    first = srcad.grad(f)(x, generator)          # the generator's state is read, not advanced
    np.testing.assert_array_equal(first, srcad.grad(f)(x, generator))
    np.testing.assert_allclose(srcad.jvp(f, (x, generator), (x,), wrt=0)[1],
                               np.vdot(first, x))
    check_rule("nn.dropout(x, y, 11)", [(3, 4), ()], domain=["real", (0.2, 0.6)],
               consts={"nn": nn})
    assert nn.dropout(x.astype(np.float32), 0.5, 0).dtype == np.float32
    np.testing.assert_array_equal(nn.dropout(x, 0.0, 0), x)


def composed_attention(q, k, v, mask):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    s = np.where(mask, s, -1e30)
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True)) @ v


MASK = np.random.default_rng(4).random((3, 5)) > 0.3
MASK[:, 0] = True


@pytest.mark.parametrize("shapes", [[(2, 3, 4), (2, 5, 4), (2, 5, 3)],
                                    [(1, 3, 4), (5, 4), (5, 2)]], ids=str)
def test_attention(shapes):
    ns = {"nn": nn, "ca": composed_attention, "M": MASK}
    check_rule("nn.scaled_dot_product_attention(x, y, z, M)", shapes, consts=ns)
    check_rule("nn.scaled_dot_product_attention(x, y, z)", shapes, consts=ns,
               modes=("reverse",), float32=False)
    agree("nn.scaled_dot_product_attention(x, y, z, M)", "ca(x, y, z, M)", shapes, "real", ns,
          hessian=shapes[0][0] == 1)


@pytest.mark.parametrize("expr", [
    "nn.conv2d(x, w)", "nn.conv2d(x, w, method='fft')", "nn.conv2d(x, w, method='winograd')",
    "nn.conv2d(x, w, method='direct')", "nn.max_pool2d(x, 2)", "nn.avg_pool2d(x, 2)",
    "nn.batch_norm(x, w[0, 0, 0], w[1, 0, 0])", "nn.group_norm(x, 1, w[0, 0, 0], w[1, 0, 0])",
    "nn.layer_norm(x, 1.0, 0.0)", "nn.scaled_dot_product_attention(x[0], x[0], x[0])"])
def test_float32_values(expr):
    g = np.random.default_rng(0)
    x = g.standard_normal((2, 3, 4, 4)).astype(np.float32)
    w = g.standard_normal((3, 3, 3, 3)).astype(np.float32)
    assert eval(expr, {"nn": nn, "np": np}, {"x": x, "w": w}).dtype == np.float32, expr
