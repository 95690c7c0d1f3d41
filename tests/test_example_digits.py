"""examples/train_digits.py in short: one epoch of the CNN (the loss falls, the accuracy is well
above chance) and the loss curve written; skipped without the examples' extras (scikit-learn,
matplotlib: pip install -e '.[examples]')."""
import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "train_digits.py")


def test_train_digits_short(tmp_path):
    spec = importlib.util.spec_from_file_location("train_digits", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    _, result, accuracy, _ = example.train(epochs=1, progress=False)
    losses = np.array(result.losses)
    assert losses[-5:].mean() < 0.5 * losses[:5].mean()
    assert accuracy > 0.7
    path = tmp_path / "loss.png"
    example.plot(result, str(path))
    assert path.stat().st_size > 1000
