"""Rules of templates/scipy_special.py: reverse, forward, their agreement and float32
preservation against central differences, over scalars, vectors, broadcasting and several
axes; a second-order check for every smooth rule; the conventions at the edges of domains.
Skipped without SciPy."""
import numpy as np
import pytest

sp = pytest.importorskip("scipy.special")

import srcad  # noqa: E402
from srcad.check import check_grad  # noqa: E402
from srcad import registry  # noqa: E402

from helpers import check_rule, check_second_order_of, make_function, random_args  # noqa: E402

NS = {"sp": sp}
POS = "positive"
UNIT01 = (0.1, 0.9)


def xs(*shapes):
    return [[shape] for shape in shapes]


def pairs(*cases):
    return [list(case) for case in cases]


SHAPES = xs((), (2, 3))
# (primitive, expression, cases (argument shapes), domain)
CASES = [
    ("expit", "sp.expit(x)", SHAPES, "real"),
    ("logit", "sp.logit(x)", SHAPES, UNIT01),
    ("log_expit", "sp.log_expit(x)", SHAPES, "real"),
    ("erf", "sp.erf(x)", SHAPES, "real"),
    ("erfc", "sp.erfc(x)", SHAPES, "real"),
    ("erfinv", "sp.erfinv(x)", SHAPES, "unit"),
    ("erfcinv", "sp.erfcinv(x)", SHAPES, (0.1, 1.9)),
    ("erfcx", "sp.erfcx(x)", SHAPES, "real"),
    ("gamma", "sp.gamma(x)", SHAPES, POS),
    ("gamma", "sp.gamma(x)", xs((3,)), (-0.9, -0.1)),
    ("gammaln", "sp.gammaln(x)", SHAPES, POS),
    ("gammaln", "sp.gammaln(x)", xs((3,)), (-1.9, -1.1)),
    ("digamma", "sp.digamma(x)", SHAPES, POS),
    ("psi", "sp.psi(x)", xs((3,)), POS),
    ("polygamma", "sp.polygamma(2, x)", SHAPES, POS),
    ("polygamma", "sp.polygamma(np.array([0, 1, 3]), x)", xs((3,), (2, 3)), POS),
    ("multigammaln", "sp.multigammaln(x, 3)", xs((), (3,)), (2.0, 4.0)),
    ("beta", "sp.beta(x, y)", pairs(((), ()), ((3,), (3,)), ((2, 3), (3,))), POS),
    ("betaln", "sp.betaln(x, y)", pairs(((3,), (3,)), ((2, 1), (3,))), POS),
    ("xlogy", "sp.xlogy(x, y)", pairs(((3,), (3,)), ((2, 3), (3,)), ((), (2,))), POS),
    ("xlog1py", "sp.xlog1py(x, y)", pairs(((3,), (3,)), ((2, 3), ())), POS),
    ("entr", "sp.entr(x)", SHAPES, POS),
    ("rel_entr", "sp.rel_entr(x, y)", pairs(((3,), (3,)), ((2, 3), (3,))), POS),
    ("kl_div", "sp.kl_div(x, y)", pairs(((3,), (3,)), ((2, 3), (3,))), POS),
    ("huber", "sp.huber(x, y)", pairs(((), (5,)), ((3,), (3,)), ((2, 1), (3,))),
     [(0.5, 1.5), "real"]),
    ("pseudo_huber", "sp.pseudo_huber(x, y)", pairs(((), (5,)), ((2, 3), (3,))),
     [POS, "real"]),
    ("ndtr", "sp.ndtr(x)", SHAPES, "real"),
    ("log_ndtr", "sp.log_ndtr(x)", SHAPES, "real"),
    ("log_ndtr", "sp.log_ndtr(x)", xs((3,)), (-30.0, -20.0)),
    ("ndtri", "sp.ndtri(x)", SHAPES, UNIT01),
    ("i0", "sp.i0(x)", SHAPES, "real"),
    ("i0e", "sp.i0e(x)", SHAPES, "nonzero"),
    ("i1", "sp.i1(x)", SHAPES, "real"),
    ("i1e", "sp.i1e(x)", SHAPES, "nonzero"),
    ("sinc", "sp.sinc(x)", SHAPES, "nonzero"),
    # reductions over axes
    ("logsumexp", "sp.logsumexp(x)", xs((), (4,), (2, 3)), "real"),
    ("logsumexp", "sp.logsumexp(x, axis=1)", xs((2, 3), (2, 3, 2)), "real"),
    ("logsumexp", "sp.logsumexp(x, axis=(0, 2), keepdims=True)", xs((2, 3, 2)), "real"),
    ("logsumexp", "sp.logsumexp(x, axis=-1, b=y)", pairs(((2, 3), (2, 3)), ((2, 3), (3,))),
     [("real"), POS]),
    ("logsumexp", "sp.logsumexp(x, b=y, keepdims=True)", pairs(((3,), ()),), ["real", POS]),
    ("kaiser", "np.kaiser(5, x)", xs((),), "real"),
    ("kaiser", "np.kaiser(1, x) + np.kaiser(4, 2.0 * x)", xs((),), "real"),
    # return_sign=True: two values (registry.variant); a negative sum has sign -1
    ("logsumexp_sign", "sp.logsumexp(x, return_sign=True)[0]", xs((4,), (2, 3)), "real"),
    ("logsumexp_sign", "sp.logsumexp(x, 1, y, False, True)[0]", pairs(((2, 3), (2, 3)),), "real"),
    ("logsumexp_sign", "sp.logsumexp(x, axis=-1, b=y, return_sign=True)[0]",
     pairs(((2, 3), (3,)), ((2, 2, 3), (1, 3))), "real"),
    ("logsumexp_sign", "sp.logsumexp(x, axis=0, b=y, keepdims=True, return_sign=True)[0] * "
     "sp.logsumexp(x, axis=0, b=y, keepdims=True, return_sign=True)[1]",
     pairs(((3, 2), (3, 2)),), "real"),
    ("softmax", "sp.softmax(x)", xs((4,), (2, 3)), "real"),
    ("softmax", "sp.softmax(x, axis=0)", xs((2, 3),), "real"),
    ("softmax", "sp.softmax(x, axis=(1, 2))", xs((2, 3, 2),), "real"),
    ("log_softmax", "sp.log_softmax(x)", xs((4,), (2, 3)), "real"),
    ("log_softmax", "sp.log_softmax(x, axis=-1)", xs((2, 3),), "real"),
    ("i0", "np.i0(x)", SHAPES, "real"),
    ("loggamma", "sp.loggamma(x)", SHAPES, POS),
    ("dawsn", "sp.dawsn(x)", SHAPES, "real"),
    ("exp1", "sp.exp1(x)", SHAPES, POS),
    ("expi", "sp.expi(x)", SHAPES, "nonzero"),
    ("spence", "sp.spence(x)", SHAPES, POS),
    ("factorial", "sp.factorial(x)", SHAPES, POS),
    ("factorial", "sp.factorial(x)", xs((3,)), (-2.0, -0.5)),    # 0 below 0
    ("gammainc", "sp.gammainc(2.5, x)", SHAPES, POS),
    ("gammainc", "sp.gammainc(np.array([0.5, 2.0, 3.0]), x)", xs((3,), (2, 3)), POS),
    ("gammaincc", "sp.gammaincc(np.array([0.5, 2.0, 3.0]), x)", xs((), (2, 3)), POS),
    ("expn", "sp.expn(np.array([0, 1, 3]), x)", xs((3,), (2, 3)), POS),
    ("poch", "sp.poch(x, y)", pairs(((3,), (3,)), ((2, 3), (3,)), ((), (2,))), POS),
    ("owens_t", "sp.owens_t(x, y)", pairs(((3,), (3,)), ((2, 3), ())), "real"),
    ("boxcox", "sp.boxcox(x, y)", pairs(((3,), (3,)), ((2, 3), ())), [POS, "real"]),
    ("boxcox1p", "sp.boxcox1p(x, y)", pairs(((3,), (3,)), ((), (2, 3))), [POS, "real"]),
    ("comb", "sp.comb(x + 3.0, y)", pairs(((3,), (3,)), ((2, 3), (3,))), POS),
    ("comb", "sp.comb(x + 3.0, y, repetition=True)", pairs(((3,), (3,)),), POS),
    ("comb", "sp.comb(x, y + 3.0)", pairs(((3,), (3,)),), POS),        # k > N: 0
    ("betainc", "sp.betainc(2.0, 3.0, x)", SHAPES, UNIT01),
    ("betainc", "sp.betainc(np.array([0.5, 2.0, 3.0]), 2.5, x)", xs((2, 3),), UNIT01),
    ("hyp1f1", "sp.hyp1f1(1.5, np.array([2.5, 3.0]), x)", xs((), (3, 2)), "real"),
    ("hyp2f1", "sp.hyp2f1(0.5, 1.5, 2.5, x)", SHAPES, "unit"),
    ("zeta", "sp.zeta(3.0, x)", SHAPES, POS),
    ("zeta", "sp.zeta(np.array([2.0, 3.0, 4.5]), x)", xs((3,), (2, 3)), POS),
]


@pytest.mark.parametrize("name, expr, cases, domain", CASES, ids=[c[1] for c in CASES])
def test_rule(name, expr, cases, domain):
    for shapes in cases:
        check_rule(expr, shapes, domain=domain, consts=NS)


# second order: forward over reverse and reverse over reverse against differences of the
# gradient (every smooth rule once)
SECOND = [(expr, cases[-1], domain) for name, expr, cases, domain in CASES
          if name not in ("huber", "i1", "i1e", "i0e", "entr", "rel_entr", "kl_div")]
SECOND += [("sp.huber(1.0, x)", [(4,)], "unit"), ("sp.i1(x) + sp.i1e(x) + sp.i0e(x)", [(3,)],
                                                  "nonzero"),
           ("sp.entr(x) + sp.rel_entr(x, y) + sp.kl_div(x, y)", [(3,), (3,)], POS)]


@pytest.mark.parametrize("expr, shapes, domain", SECOND, ids=[c[0] for c in SECOND])
def test_second_order(expr, shapes, domain):
    params = ", ".join("xyz"[:len(shapes)])
    f = make_function(f"def f({params}):\n    return np.sum(np.sin({expr}))\n", dict(NS))
    args = random_args(shapes, domain, seed=5)
    args = [np.asarray(a) for a in args]
    check_second_order_of(f, args)


# functions of two outputs, unpacked; both outputs used, and each alone
MULTI = ["sici", "fresnel"]


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("use", ["a + 2.0 * b", "a", "b"])
def test_two_outputs(name, use):
    f = make_function(f"def f(x):\n    a, b = sp.{name}(x)\n    return np.sum(np.sin({use}))\n",
                      dict(NS))
    for shape in ((), (3,), (2, 3)):
        x = random_args([shape], "nonzero", seed=2)[0]
        for mode in ("reverse", "forward", "both"):
            check_grad(f, x, mode=mode)
    g = srcad.grad(f)(np.asarray(x, dtype=np.float32))
    assert g.dtype == np.float32
    check_second_order_of(f, [x])


REFUSED = [  # (expression, argument): no rule in that argument: refused in both modes
    ("sp.gammainc(x, y)", 0), ("sp.gammaincc(x, y)", 0), ("sp.betainc(x, 2.0, 0.5 * y)", 0),
    ("sp.betainc(2.0, x, 0.5 * y)", 0), ("sp.hyp1f1(1.0, x, y)", 0),
    ("sp.hyp2f1(1.0, 1.0, x, 0.5 * y)", 0), ("sp.zeta(x + 1.0, y)", 0),
    ("sp.comb(x[0] + 2.5, y[0] + 0.5, exact=True)", 0),
]


@pytest.mark.parametrize("expr, wrt", REFUSED, ids=[e for e, _ in REFUSED])
def test_refused_arguments(expr, wrt):
    from srcad.errors import NotDifferentiableError
    f = make_function(f"def f(x, y):\n    return np.sum({expr})\n", dict(NS))
    x, y = np.array([2.5, 3.0]), np.array([0.5, 1.5])
    with pytest.raises(NotDifferentiableError, match="no derivative of scipy.special"):
        srcad.grad(f, wrt=wrt)(x, y)
    with pytest.raises(NotDifferentiableError, match="no derivative of scipy.special"):
        srcad.autodiff(f, mode="forward", wrt=wrt)(x, y, np.ones(2))


def test_gammasgn_is_constant():
    f = make_function("def f(x):\n    return np.sum(sp.gammasgn(x) * x)\n", dict(NS))
    x = np.array([-1.5, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(srcad.grad(f)(x), sp.gammasgn(x))


def _grad(expr, *args):
    f = make_function(f"def f(x, y):\n    return np.sum({expr})\n", dict(NS))
    return (srcad.grad(f, wrt=(0, 1))(*args),
            srcad.autodiff(f, mode="forward", wrt=(0, 1)))


EDGES = [
    # (expression, x, y, d/dx, d/dy) at the conventions of the module docstring
    ("sp.xlogy(x, y)", 0.0, 2.0, np.log(2.0), 0.0),
    ("sp.xlogy(x, y)", 0.0, 0.0, -np.inf, 0.0),
    ("sp.xlog1py(x, y)", 0.0, -1.0, -np.inf, 0.0),
    ("sp.entr(x) + 0.0 * y", -1.0, 1.0, 0.0, 0.0),
    ("sp.entr(x) + 0.0 * y", 0.0, 1.0, np.inf, 0.0),
    ("sp.rel_entr(x, y)", 0.0, 2.0, -np.inf, 0.0),
    ("sp.rel_entr(x, y)", 1.0, -1.0, 0.0, 0.0),
    ("sp.kl_div(x, y)", 0.0, 2.0, -np.inf, 1.0),
    ("sp.huber(x, y)", 1.0, 1.0, 0.0, 1.0),       # the kink: the quadratic piece
    ("sp.huber(x, y)", -1.0, 1.0, 0.0, 0.0),
    ("sp.i1(y) + 0.0 * x", 1.0, 0.0, 0.0, 0.5),
    ("sp.i1e(y) + 0.0 * x", 1.0, 0.0, 0.0, 0.5),
    ("sp.boxcox(x, y)", 2.0, 0.0, 0.5, 0.5 * np.log(2.0) ** 2),    # lambda == 0: log x
    ("sp.spence(x) + 0.0 * y", 1.0, 1.0, -1.0, 0.0),
]


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("expr, x, y, dx, dy", EDGES, ids=[f"{e[0]}@{e[1]},{e[2]}" for e in EDGES])
def test_edges(expr, x, y, dx, dy):
    (gx, gy), forward = _grad(expr, x, y)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal([gx, gy], [dx, dy])
        assert forward(x, y, 1.0, 0.0) == dx
        if np.isfinite(dx):         # else 0 * inf: the tangent is nan, as in any chain rule
            assert forward(x, y, 0.0, 1.0) == dy


def test_return_sign_must_be_constant():
    f = make_function("def f(x, flag):\n    return sp.logsumexp(x, return_sign=flag)[0]\n",
                      dict(NS))
    with pytest.raises(srcad.SrcadError, match="`return_sign` of scipy.special.logsumexp "
                                               "decides how many values"):
        srcad.grad(f)(np.ones(3), True)


def test_return_sign_unpacked():
    f = make_function("""
        def f(x, y):
            value, sign = sp.logsumexp(x, b=y, return_sign=True)
            return value * sign
    """, dict(NS))
    args = random_args([(4,), (4,)], seed=2)
    for mode in ("reverse", "forward"):
        check_grad(f, *args, wrt=(0, 1), mode=mode)


def test_every_rule_has_both_modes():
    import srcad.templates.scipy_special as module
    for fn, _ in module.UNARY:
        rule = registry.lookup(fn)
        assert rule.adjoint is not None and rule.tangent is not None
    for fn in (sp.logsumexp, sp.softmax, sp.log_softmax, sp.multigammaln, sp.xlogy, sp.huber):
        rule = registry.lookup(fn)
        assert rule.adjoint is not None and rule.tangent is not None
