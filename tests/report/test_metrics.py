"""Metrics on hand-made probabilities."""
import numpy as np
import pytest

from qd import QDError
from qd.report import metrics


def test_evaluation_helpers():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    y = np.array([0, 1, 1])
    assert metrics.topk_accuracy(probs, y, 1) == pytest.approx(1 / 3)
    assert metrics.topk_accuracy(probs, y, 2) == pytest.approx(1.0)
    cm = np.array([[5, 0, 1], [3, 2, 0], [0, 0, 4]])
    assert metrics.most_confused(cm, ["a", "b", "c"], 2) == [("b", "a", 3), ("a", "c", 1)]
    np.testing.assert_allclose(metrics.per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), 2), [0.5, 1.0])


def test_map_at_3_weighs_each_hit_by_its_rank():
    """(issue 24, point 15) MAP@3 without its 1/rank weights passed every test."""
    probs = np.array([[0.6, 0.3, 0.1, 0.0],      # true 0: first guess, 1
                      [0.3, 0.6, 0.1, 0.0],      # true 0: second guess, 1/2
                      [0.3, 0.2, 0.4, 0.1],      # true 3: not in the first three, 0
                      [0.1, 0.2, 0.3, 0.4]])     # true 1: third guess, 1/3
    y = np.array([0, 0, 3, 1])
    assert metrics.map_at_k(probs, y, 3) == pytest.approx((1 + 1 / 2 + 0 + 1 / 3) / 4)
    assert metrics.map_at_k(probs, y, 1) == pytest.approx(metrics.topk_accuracy(probs, y, 1))


def test_balanced_accuracy_counts_every_class_the_same():
    """(issue 24, point 15) no test had it: 3 drawings of class 0 (2 right), 1 of class 1 (right)."""
    y, pred = np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])
    assert metrics.balanced_accuracy(y, pred, 3) == pytest.approx((2 / 3 + 1) / 2)   # class 2 has none: left out
    assert metrics.balanced_accuracy(y, pred, 3) != pytest.approx((pred == y).mean())


@pytest.mark.parametrize("call,message", [
    (lambda: metrics.topk_accuracy(np.zeros((0, 3)), np.array([], int)), "no drawings to score"),
    (lambda: metrics.topk_accuracy(np.eye(3), np.array([0, 1, 2, 0])), "one row per label"),
    (lambda: metrics.map_at_k(np.eye(3), np.array([0, 1, 2]), k=0), "k must be a whole number >= 1"),
    (lambda: metrics.topk_accuracy(np.full((2, 2), np.nan), np.array([0, 1])), "probs holds NaN"),
    (lambda: metrics.topk_accuracy(np.eye(2), np.array([0.0, 1.0])), "class indices"),
    (lambda: metrics.balanced_accuracy(np.array([0, 1]), np.array([0]), 2), "as long"),
    (lambda: metrics.balanced_accuracy(np.array([0, 5]), np.array([0, 1]), 2), "outside 0..1"),
])
def test_bad_scores_are_named_not_nan(call, message):
    """(issue 24, point 11) empty input gave NaN, a longer y a broadcast error, k=0 a score of 0.0."""
    with pytest.raises(QDError, match=message):
        call()
