"""Metrics on hand-made probabilities."""
import numpy as np
import pytest

from qd.report import metrics


def test_evaluation_helpers():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    y = np.array([0, 1, 1])
    assert metrics.topk_accuracy(probs, y, 1) == pytest.approx(1 / 3)
    assert metrics.topk_accuracy(probs, y, 2) == pytest.approx(1.0)
    cm = np.array([[5, 0, 1], [3, 2, 0], [0, 0, 4]])
    assert metrics.most_confused(cm, ["a", "b", "c"], 2) == [("b", "a", 3), ("a", "c", 1)]
    np.testing.assert_allclose(metrics.per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), 2), [0.5, 1.0])
