"""Checkpointed derivatives (``srcad.grad(f, checkpoint=...)``, ``reverse/checkpoint.py``)
equal the plain ones over the control-flow corpus, at first and second order; what cannot be
replayed is refused at its line. The default run takes every fifth loop case (every sixth at
second order); SRCAD_CHECKPOINT_ALL=1 takes them all (about 40 s)."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import srcad
from srcad.errors import NotDifferentiableError

from control_flow_corpus import CASES
from helpers import make_function

ALL = os.environ.get("SRCAD_CHECKPOINT_ALL") == "1"
LOOPS = [c for c in CASES if "for " in inspect.getsource(c.f) or "while " in
         inspect.getsource(c.f)]


def _leaves(g):
    if isinstance(g, (tuple, list)):
        return [x for item in g for x in _leaves(item)]
    return [np.asarray(g)]


def _replayable(case, checkpoint):
    try:
        return srcad.autodiff(case.f, wrt=case.wrt, checkpoint=checkpoint)(*case.args())
    except NotDifferentiableError as exc:
        if "checkpoint=" not in str(exc):
            raise
        assert exc.location is not None and exc.location.lineno is not None
        pytest.skip("refused: " + str(exc).splitlines()[0])


@pytest.mark.parametrize("checkpoint", [True, 3])
@pytest.mark.parametrize("case", LOOPS if ALL else LOOPS[::5], ids=lambda c: c.id)
def test_checkpointed_gradient_equals_plain(case, checkpoint):
    plain = srcad.autodiff(case.f, wrt=case.wrt)(*case.args())
    got = _replayable(case, checkpoint)
    a, b = _leaves(plain), _leaves(got)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12)


SECOND = [c for c in LOOPS if isinstance(c.wrt, int)
          and isinstance(c.args()[c.wrt], (float, np.ndarray))
          and not np.iscomplexobj(c.args()[c.wrt])]


@pytest.mark.parametrize("case", SECOND if ALL else SECOND[::6], ids=lambda c: c.id)
def test_checkpointed_second_order(case):
    args = case.args()
    x = args[case.wrt]
    v = np.random.default_rng(1).standard_normal(np.shape(x))
    v = float(v) if isinstance(x, float) else v
    _replayable(case, 2)
    try:
        expected = srcad.hvp(case.f, wrt=case.wrt)(*args, v)
    except (srcad.SrcadError, ValueError):      # a tuple output: grad does not apply
        pytest.skip("no plain Hessian-vector product to compare with")
    np.testing.assert_allclose(srcad.hvp(case.f, wrt=case.wrt, checkpoint=2)(*args, v),
                               expected, rtol=1e-10, atol=1e-10)
    g = srcad.grad(case.f, wrt=case.wrt, checkpoint=2)      # reverse over reverse
    np.testing.assert_allclose(srcad.autodiff(g, mode="reverse", wrt=case.wrt)(*args, seed=v),
                               expected, rtol=1e-8, atol=1e-8)


def test_rnn_keeps_about_sqrt_T_snapshots():
    """1000 steps: the primal keeps 32 snapshots of h, a replay at most 32 steps of tape."""
    f = make_function("""
def rnn(Wh, xs, h0):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(h @ Wh + xs[t])
    return np.sum(h * h)
""", {"np": np})
    g = np.random.default_rng(0)
    Wh, xs, h0 = g.standard_normal((3, 3)) / 3, g.standard_normal((1000, 2, 3)), np.ones((2, 3))
    plain = srcad.grad(f)(Wh, xs, h0)
    np.testing.assert_allclose(srcad.grad(f, checkpoint=True)(Wh, xs, h0), plain, rtol=1e-12)
    np.testing.assert_allclose(srcad.grad(f, checkpoint=7)(Wh, xs, h0), plain, rtol=1e-12)
    assert srcad.runtime.checkpoint_every(1000, None) == 32
    assert srcad.runtime.checkpoint_every(1000, 7) == 143
    source = srcad.grad(f, checkpoint=True).source()
    assert "_snapshots.append(h)" in source and "_srcad.segment(" in source


@pytest.mark.parametrize("body, where", [
    ("    out = np.zeros(3)\n    for i in range(3):\n        out[i] = x[i] * 2.0\n"
     "    x = out\n", "out[i]"),
    ("    acc = []\n    for i in range(3):\n        acc.append(x[i])\n    x = np.stack(acc)\n",
     "acc.append"),
])
def test_unreplayable_loops_are_refused_at_their_line(body, where):
    f = make_function("def f(x):\n" + body + "    return np.sum(x)\n", {"np": np})
    with pytest.raises(NotDifferentiableError, match="checkpoint=") as info:
        srcad.grad(f, checkpoint=True)
    assert where in str(info.value)
    srcad.check_grad(f, np.linspace(0.5, 1.0, 3))        # without checkpoint=: as usual


def test_checkpoint_option_is_checked():
    with pytest.raises(ValueError, match="checkpoint"):
        srcad.grad(lambda x: x, checkpoint=0)


def overwritten_before_the_loop(x):
    y = x * 2.0
    z = np.sum(y * x)           # its adjoint reads y as it was before the loop
    s = 0.0
    for i in range(7):
        y = x * i
        s = s + np.sum(y * y)
    return s + z


def while_inside_early_return(x):
    s = x
    for i in range(9):
        n = 0
        while n < 3:            # replayed inside its segment
            s = np.sin(s) * 1.1
            n = n + 1
        if np.sum(s) > 100.0:
            return np.sum(s)
    return np.sum(s * s)


def newton_sqrt(a):
    x = 0.5 * (1.0 + a)
    while np.max(np.abs(x * x - a)) > 1e-12 * np.max(a):
        x = 0.5 * (x + a / x)
    return np.sum(x)


def breaks_at(x, k):
    s = x
    for i in range(20):
        s = s * 0.9 + np.cos(s)
        if i >= k:
            break
    return np.sum(s)


@pytest.mark.parametrize("checkpoint", [True, 1, 3])
@pytest.mark.parametrize("f, extra", [(overwritten_before_the_loop, ()),
                                      (while_inside_early_return, ()), (breaks_at, (6,)),
                                      (newton_sqrt, ()),
                                      (breaks_at, (100,))])
def test_checkpointed_loops_first_and_second_order(f, extra, checkpoint):
    args = (np.linspace(0.1, 1.0, 4),) + extra
    plain = srcad.grad(f)(*args)
    np.testing.assert_allclose(srcad.grad(f, checkpoint=checkpoint)(*args), plain, rtol=1e-13)
    value, got = srcad.value_and_grad(f, checkpoint=checkpoint)(*args)
    np.testing.assert_allclose(got, plain, rtol=1e-13)
    assert value == pytest.approx(f(*args))
    v = np.ones(4)
    np.testing.assert_allclose(srcad.hvp(f, checkpoint=checkpoint)(*args, v),
                               srcad.hvp(f)(*args, v), rtol=1e-10)
    srcad.check_grad(f, *args)
