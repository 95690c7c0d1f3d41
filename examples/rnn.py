"""A tanh recurrent network over a sequence, with a squared-error loss on its last state.

    srcad show examples/rnn.py:loss --wrt Wx,Wh
    python examples/rnn.py
"""
import numpy as np


def loss(Wx, Wh, b, xs, target):
    """Run h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b) over the rows of xs; compare the last h."""
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return 0.5 * np.sum((h - target) ** 2)


def main():
    import srcad

    rng = np.random.default_rng(0)
    steps, d, h = 10, 3, 5
    xs = rng.standard_normal((steps, d))
    target = 0.5 * rng.standard_normal(h)
    Wx, Wh, b = 0.3 * rng.standard_normal((d, h)), 0.3 * rng.standard_normal((h, h)), np.zeros(h)

    dloss = srcad.grad(loss, wrt=(0, 1, 2))
    for _ in range(200):
        gWx, gWh, gb = dloss(Wx, Wh, b, xs, target)
        Wx, Wh, b = Wx - 0.2 * gWx, Wh - 0.2 * gWh, b - 0.2 * gb
    print("loss", loss(Wx, Wh, b, xs, target))


if __name__ == "__main__":
    main()
