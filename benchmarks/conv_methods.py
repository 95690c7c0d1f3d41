"""The four conv2d methods across image sizes, kernel sizes and channel counts: the time of
each (forward, and the srcad gradient in the input and the weight) relative to the fastest,
and the method ``'auto'`` picks: the crossover points in srcad/conv.py (``FFT_MIN_KERNEL``,
``WINOGRAD_MIN_CHANNELS``, ...) come from this table. Run it with ``OPENBLAS_NUM_THREADS=1``
for timings that do not depend on the machine's load.

Usage: ``python benchmarks/conv_methods.py [--quick] [--grad]``; prints markdown tables.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import interleaved_times  # noqa: E402

import srcad  # noqa: E402
from srcad import conv, nn  # noqa: E402

METHODS = ("direct", "im2col", "fft", "winograd")


def conv_loss(x, w, method):
    return np.sum(nn.conv2d(x, w, 1, 0, 1, 1, method) ** 2)


def measure(batch, channels, size, kernel, target, repeat, grad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, channels, size, size))
    w = rng.standard_normal((channels, channels, kernel, kernel))
    methods = [m for m in METHODS if m != "winograd" or kernel == 3]
    reference = nn.conv2d(x, w, method="im2col")
    fns = {}
    for m in methods:
        np.testing.assert_allclose(nn.conv2d(x, w, method=m), reference, rtol=1e-8, atol=1e-8)
        if grad:
            g = srcad.grad(conv_loss, wrt=(0, 1))
            fns[m] = (lambda g=g, m=m: g(x, w, m))
        else:
            fns[m] = (lambda m=m: nn.conv2d(x, w, method=m))
    times = interleaved_times(fns, target, repeat)
    return times, conv.choose_method(x.shape, w.shape)


# the gradient: 'auto' names the method of the forward convolution (its adjoints choose theirs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--grad", action="store_true", help="time the gradient, not the conv")
    args = parser.parse_args(argv)
    target, repeat = (0.03, 2) if args.quick else (0.1, 3)
    batch = 4
    what = "gradient (input and weight)" if args.grad else "forward"
    print(f"conv2d {what}, batch {batch}, C = O channels, stride 1, no padding; time over the "
          f"fastest method (1.00 = fastest), ms of the fastest\n")
    print("| channels | image | kernel | direct | im2col | fft | winograd | fastest (ms) | auto |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    agree = total = 0
    for channels, size, kernel in itertools.product((1, 8, 32, 64), (8, 16, 32), (3, 5, 7, 9)):
        if kernel > size:
            continue
        times, auto = measure(batch, channels, size, kernel, target, repeat, args.grad)
        best = min(times, key=times.get)
        cells = [f"{times[m] / times[best]:.2f}" if m in times else "-" for m in METHODS]
        ok = times[auto] <= 1.25 * times[best]
        agree += ok
        total += 1
        print(f"| {channels} | {size} | {kernel} | {' | '.join(cells)} | {best} "
              f"{times[best] * 1e3:.3f} | {auto}{'' if ok else ' (!)'} |", flush=True)
    print(f"\n'auto' within 25% of the fastest in {agree} of {total} cases")


if __name__ == "__main__":
    main()
