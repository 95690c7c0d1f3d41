"""A two-layer perceptron with a tanh hidden layer and a softmax cross-entropy loss.

    srcad show examples/mlp.py:loss --wrt W1,b1,W2,b2
    python examples/mlp.py
"""
import numpy as np


def log_softmax(z):
    """Row-wise log of the softmax, shifted by the row maximum for stability."""
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def loss(W1, b1, W2, b2, X, Y):
    """Mean cross-entropy of the class probabilities against one-hot labels Y."""
    hidden = np.tanh(X @ W1 + b1)
    logits = hidden @ W2 + b2
    return -np.sum(Y * log_softmax(logits)) / X.shape[0]


def main():
    import srcad

    rng = np.random.default_rng(0)
    n, d, h, k = 128, 4, 16, 3
    X = rng.standard_normal((n, d))
    Y = np.eye(k)[np.argmax(X[:, :k], axis=1)]           # label: the largest of 3 features
    params = [0.5 * rng.standard_normal((d, h)), np.zeros(h),
              0.5 * rng.standard_normal((h, k)), np.zeros(k)]

    dloss = srcad.grad(loss, wrt=(0, 1, 2, 3))
    for _ in range(300):
        grads = dloss(*params, X, Y)
        params = [p - 0.5 * g for p, g in zip(params, grads)]
    print("loss", loss(*params, X, Y))


if __name__ == "__main__":
    main()
