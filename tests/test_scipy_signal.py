"""Rules of templates/scipy_signal.py (convolve, correlate, fftconvolve): every mode, 1-D and
2-D, either operand the larger, against central differences in both modes, forward against
reverse, float32, and second order. Skipped without SciPy."""
import pytest

sig = pytest.importorskip("scipy.signal")

from helpers import check_rule, check_second_order_of, make_function, random_args  # noqa: E402

NS = {"sig": sig}
# (mode, shapes): each operand the larger, 1-D and 2-D
MODES = [("", [(5,), (3,)]), (", 'same'", [(3,), (5,)]), (", mode='valid'", [(3,), (5,)]),
         (", mode='valid'", [(4, 3), (2, 2)]), (", mode='same'", [(4, 3), (2, 2)])]
CASES = [(f"sig.{name}(x, y{mode})", shapes)
         for name in ("convolve", "correlate", "fftconvolve") for mode, shapes in MODES]
# fftconvolve along some axes: the operands broadcast along the others
CASES += [(f"sig.fftconvolve(x, y{mode}, axes={axes})", shapes) for mode, axes, shapes in [
    ("", "1", [(3, 5), (3, 2)]), (", 'same'", "-1", [(2, 4), (1, 3)]),
    (", mode='valid'", "[0]", [(5, 2), (2, 1)]), (", 'full'", "(0, 2)", [(3, 2, 4), (2, 2, 2)]),
    (", 'same'", "1", [(1, 6), (3, 2)])]]
CASES += [("sig.convolve(x, y, method='direct')", [(4,), (2,)]),
          ("sig.correlate(x, y, mode='full', method='fft')", [(3, 4), (2, 3)])]


@pytest.mark.parametrize("expr, shapes", CASES, ids=[f"{e}-{s}" for e, s in CASES])
def test_rule(expr, shapes):
    check_rule(expr, shapes, consts=NS)


@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve"])
def test_second_order(name):
    f = make_function(f"def f(x, y):\n    return np.sum(np.sin(sig.{name}(x, y, mode='same')))\n",
                      dict(NS))
    check_second_order_of(f, random_args([(5,), (3,)], seed=5))
    check_second_order_of(f, random_args([(5,), (3,)], seed=5), wrt=1)


def test_second_order_of_fftconvolve_along_some_axes():
    f = make_function("def f(x, y):\n    return np.sum(np.sin(sig.fftconvolve(x, y, 'same', "
                      "axes=1)))\n", dict(NS))
    check_second_order_of(f, random_args([(2, 5), (1, 3)], seed=6))
    check_second_order_of(f, random_args([(2, 5), (1, 3)], seed=6), wrt=1)
