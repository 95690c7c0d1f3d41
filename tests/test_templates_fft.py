"""Derivative rules of templates/fft.py: one line per transform and case, each checked in
reverse and forward mode against central differences (tests/helpers.py check_rule), complex
outputs through their real and imaginary parts, complex inputs as ``x + 1j * y``; then second
derivatives and a few exact properties."""
import numpy as np
import pytest

import srcad
from helpers import check_rule, check_second_order, make_function, random_args


def parts(expr):
    """A real function of a complex expression that sees both of its parts."""
    return f"np.real({expr}) * 0.7 + np.imag({expr}) * 1.3"


S = (3, 4)
S3 = (2, 3, 4)

CASES = [
    # fft / ifft: n (cut, padded), axis, norm
    (parts("np.fft.fft(x)"), [(5,)]),
    (parts("np.fft.fft(x, 8)"), [(5,)]),
    (parts("np.fft.fft(x, 3)"), [(5,)]),
    (parts("np.fft.fft(x, axis=0)"), [S]),
    (parts("np.fft.fft(x, 6, axis=1, norm='ortho')"), [S3]),
    (parts("np.fft.fft(x, norm='forward')"), [S]),
    (parts("np.fft.fft(x + 1j * y, 4, 0)"), [S, S]),
    (parts("np.fft.ifft(x)"), [(6,)]),
    (parts("np.fft.ifft(x + 1j * y, 7, axis=-1, norm='ortho')"), [S, S]),
    (parts("np.fft.ifft(x, 2, axis=0, norm='backward')"), [S]),
    # fft2 / ifft2 / fftn / ifftn: s, axes
    (parts("np.fft.fft2(x)"), [S]),
    (parts("np.fft.fft2(x, s=(2, 5))"), [S3]),
    (parts("np.fft.fft2(x + 1j * y, axes=(0, 2), norm='ortho')"), [S3, S3]),
    (parts("np.fft.ifft2(x)"), [S3]),
    (parts("np.fft.ifft2(x, (4, 3), norm='forward')"), [S]),
    (parts("np.fft.fftn(x)"), [S3]),
    (parts("np.fft.fftn(x, s=(3, 2), axes=(2, 0))"), [S3]),
    (parts("np.fft.fftn(x, axes=(1,))"), [S3]),
    (parts("np.fft.ifftn(x + 1j * y)"), [S, S]),
    (parts("np.fft.ifftn(x, s=(2, 6), axes=(0, 1), norm='ortho')"), [S]),
    # rfft family: a real input, half the spectrum
    (parts("np.fft.rfft(x)"), [(6,)]),
    (parts("np.fft.rfft(x)"), [(7,)]),
    (parts("np.fft.rfft(x, 9)"), [(6,)]),
    (parts("np.fft.rfft(x, 4, axis=0, norm='ortho')"), [S]),
    (parts("np.fft.rfft2(x)"), [S3]),
    (parts("np.fft.rfft2(x, s=(4, 6), norm='forward')"), [S]),
    (parts("np.fft.rfftn(x)"), [S3]),
    (parts("np.fft.rfftn(x, s=(3, 5), axes=(0, 2))"), [S3]),
    # irfft family: a half spectrum in, a real output
    ("np.fft.irfft(x + 1j * y)", [(5,), (5,)]),
    ("np.fft.irfft(x + 1j * y, 9)", [(5,), (5,)]),
    ("np.fft.irfft(x + 1j * y, 4, axis=0, norm='ortho')", [S, S]),
    ("np.fft.irfft(x, 7, norm='forward')", [S]),
    ("np.fft.irfft2(x + 1j * y)", [S3, S3]),
    ("np.fft.irfft2(x + 1j * y, s=(2, 5), norm='ortho')", [S, S]),
    ("np.fft.irfftn(x + 1j * y)", [S3, S3]),
    ("np.fft.irfftn(x + 1j * y, s=(3, 6), axes=(2, 0))", [S3, S3]),
    # Hermitian transforms
    ("np.fft.hfft(x + 1j * y)", [(4,), (4,)]),
    ("np.fft.hfft(x + 1j * y, 7, axis=0, norm='ortho')", [S, S]),
    ("np.fft.hfft(x, norm='forward')", [S]),
    (parts("np.fft.ihfft(x)"), [(6,)]),
    (parts("np.fft.ihfft(x, 5, axis=0, norm='ortho')"), [S]),
    # shifts and frequencies
    ("np.fft.fftshift(x)", [S3]),
    ("np.fft.fftshift(x, axes=1)", [S]),
    ("np.fft.ifftshift(x, axes=(0, 2))", [S3]),
    ("np.fft.fftfreq(6, x)", [()]),
    ("np.fft.fftfreq(5, d=x)", [()]),
    ("np.fft.rfftfreq(7, x)", [()]),
    # compositions: a filter, a power spectrum
    ("np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(y), 6)", [(6,), (6,)]),
    ("np.abs(np.fft.fft(x)) ** 2", [S]),
]


@pytest.mark.parametrize("expr, shapes", CASES, ids=[f"{e} {s}" for e, s in CASES])
def test_rule(expr, shapes):
    domain = "positive" if "freq" in expr else "real"
    check_rule(expr, shapes, domain=domain)


SECOND_ORDER = [
    ("np.sum(np.sin(np.abs(np.fft.fft(x, 7)) ** 2))", [(5,)]),
    ("np.sum(np.sin(np.fft.irfft(np.fft.rfft(x) ** 2)))", [(6,)]),
    ("np.sum(np.sin(np.real(np.fft.fftn(x * x, axes=(0, 1)))))", [(3, 4)]),
    ("np.sum(np.sin(np.fft.hfft(np.fft.ihfft(x) ** 2)))", [(5,)]),
    ("np.sum(np.sin(np.fft.fftshift(x)) * np.fft.ifftshift(x))", [(4, 3)]),
    ("np.sum(np.fft.fftfreq(6, x) ** 2)", [()]),
]


@pytest.mark.parametrize("expr, shapes", SECOND_ORDER, ids=[e for e, _ in SECOND_ORDER])
def test_second_order(expr, shapes):
    check_second_order(expr, shapes, domain="positive" if "freq" in expr else "real")


def test_adjoint_of_fft_is_the_transpose():
    x = random_args([(6,)])[0]
    g = random_args([(6,)], seed=3)[0]
    f = make_function("def f(x, g):\n    return np.sum(np.real(np.fft.fft(x) * g))\n")
    matrix = np.fft.fft(np.eye(6))
    np.testing.assert_allclose(srcad.grad(f)(x, g), np.real(matrix.T @ g), atol=1e-12)


def test_unsupported_keyword_is_an_error():
    f = make_function("def f(x):\n    return np.sum(np.fft.fft(x, out=x))\n")
    with pytest.raises(Exception, match="out"):
        srcad.grad(f)(np.ones(4))
