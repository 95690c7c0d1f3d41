"""Logistic regression: the mean negative log-likelihood of labels ``y`` in {0, 1}.

    srcad show examples/logistic.py:loss          # the generated gradient with respect to w
    python examples/logistic.py                   # fit a small problem with the gradient
"""
import numpy as np


def loss(w, X, y):
    """Mean cross-entropy of the predictions sigmoid(X @ w) against labels y."""
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def main():
    import srcad

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    w_true = np.array([1.5, -2.0, 0.5])
    y = (X @ w_true + 0.3 * rng.standard_normal(200) > 0).astype(float)

    dloss = srcad.grad(loss)
    w = np.zeros(3)
    for _ in range(500):
        w -= 0.5 * dloss(w, X, y)
    print("loss", loss(w, X, y), "weights", w)


if __name__ == "__main__":
    main()
