"""A small CNN trained end to end with srcad on scikit-learn's handwritten digits (8x8 images,
1797 of them, shipped with scikit-learn: no download).

    pip install -e '.[examples]'          # scikit-learn, matplotlib, tqdm
    python examples/train_digits.py       # about 20 s on two cores, >= 97 % test accuracy
    srcad show examples/train_digits.py:loss

The model: conv2d 3x3 (im2col, 16 channels) + ReLU + 2x2 max pool, then a 256-64-10 MLP,
softmax cross-entropy; trained with srcad.optim.adam and srcad.optim.fit. The parameters are a
tuple of arrays, so ``srcad.value_and_grad(loss)`` returns a tuple of gradients in the same
structure. The loss curve is written as a PNG.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from srcad import nn


def loss(params, images, labels):
    """Mean cross-entropy of the CNN's class scores for ``images`` (N, 1, 8, 8)."""
    w1, b1, w2, b2, w3, b3 = params
    h = nn.relu(nn.conv2d(images, w1, padding=1, method="im2col") + b1[None, :, None, None])
    h = nn.max_pool2d(h, 2)
    h = np.reshape(h, (h.shape[0], -1))
    h = nn.relu(h @ w2 + b2)
    return nn.cross_entropy(h @ w3 + b3, labels)


def predict(params, images):
    w1, b1, w2, b2, w3, b3 = params
    h = nn.relu(nn.conv2d(images, w1, padding=1, method="im2col") + b1[None, :, None, None])
    h = np.reshape(nn.max_pool2d(h, 2), (images.shape[0], -1))
    return np.argmax(nn.relu(h @ w2 + b2) @ w3 + b3, axis=1)


def init_params(rng, channels=16, hidden=64):
    """He-initialized weights, zero biases."""
    def he(shape, fan_in):
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    flat = channels * 4 * 4
    return (he((channels, 1, 3, 3), 9), np.zeros(channels), he((flat, hidden), flat),
            np.zeros(hidden), he((hidden, 10), hidden), np.zeros(10))


def load(seed=0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = (digits.images / 16.0)[:, None, :, :]
    return train_test_split(images, digits.target, test_size=0.25, random_state=seed,
                            stratify=digits.target)


def train(epochs=30, batch_size=32, lr=3e-3, seed=0, progress=True):
    """Train; returns (params, FitResult, test accuracy, seconds)."""
    from srcad import optim
    x_train, x_test, y_train, y_test = load(seed)
    params = init_params(np.random.default_rng(seed))
    steps = epochs * -(-len(x_train) // batch_size)
    start = time.perf_counter()
    result = optim.fit(loss, params, (x_train, y_train),
                       optim.adam(optim.cosine_decay(lr, steps, lr * 0.05)), epochs=epochs,
                       batch_size=batch_size, rng=seed, progress=progress)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(predict(result.params, x_test) == y_test))
    return result.params, result, accuracy, seconds


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps_per_epoch = len(result.losses) // len(result.epoch_losses)
    ax.plot(np.arange(len(result.losses)) / steps_per_epoch, result.losses, lw=0.5, alpha=0.5,
            label="minibatch")
    ax.plot(np.arange(1, len(result.epoch_losses) + 1), result.epoch_losses, label="epoch mean")
    ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="digits CNN (srcad)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="digits_loss.png", help="loss curve PNG ('' for none)")
    args = parser.parse_args(argv)
    _, result, accuracy, seconds = train(args.epochs, args.batch_size, args.lr, args.seed)
    print(f"test accuracy {accuracy:.4f} after {args.epochs} epochs in {seconds:.1f} s "
          f"(final training loss {result.epoch_losses[-1]:.4f})")
    if args.plot:
        plot(result, args.plot)
        print(f"loss curve: {args.plot}")
    return accuracy


if __name__ == "__main__":
    main()
