"""Notebook 06's learning curve: nested, seeded subsets of the training part, and a curve that
learns more from more drawings."""
import numpy as np
import pytest

from qd import QDError
from qd.data import strokes
from qd.report import stroke_study
from qd.training.approaches import APPROACHES, Settings


def test_curve_subsets_are_nested_seeded_and_capped_per_class():
    y = np.repeat(np.arange(4), [3, 10, 25, 40])
    subsets = stroke_study.curve_subsets(y, [2, 8, 30], seed=1)
    for n, keep in zip([2, 8, 30], subsets):
        np.testing.assert_array_equal(np.bincount(y[keep], minlength=4), np.minimum([3, 10, 25, 40], n))
    assert set(subsets[0]) <= set(subsets[1]) <= set(subsets[2])
    again = stroke_study.curve_subsets(y, [2, 8, 30], seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, again))
    other = stroke_study.curve_subsets(y, [8], seed=2)[0]
    assert not np.array_equal(other, subsets[1])            # the seed picks which drawings


def test_per_doubling_is_the_slope_against_log2_drawings():
    assert stroke_study.per_doubling([4, 8, 16, 32], [0.30, 0.35, 0.40, 0.45]) == pytest.approx(5.0)
    with pytest.raises(QDError, match="at least two points"):
        stroke_study.per_doubling([8], [0.3])


def test_learning_curve_trains_on_more_drawings_and_learns_more():
    ss, tr, te = strokes.stroke_split(["wine bottle", "eyeglasses", "zigzag", "headphones"])   # ~80 test drawings each
    rows = stroke_study.learning_curve(APPROACHES["CNN 28x28"], ss, tr, te, "4 classes", [2, 60],
                                       Settings(epochs=4, width=8), min_steps=100)
    assert [r["per_class"] for r in rows] == [2, 60]
    assert rows[0]["train"] == 8 and rows[1]["train"] > rows[0]["train"]
    assert rows[0]["epochs"] > rows[1]["epochs"]            # a smaller set gets more epochs
    assert rows[1]["curve_test_acc"] > 0.5                  # chance is 1/4
    assert rows[1]["curve_test_acc"] > rows[0]["curve_test_acc"]
    with pytest.raises(QDError, match="image approaches"):
        stroke_study.learning_curve(APPROACHES["1-D conv + BiGRU"], ss, tr, te, "4 classes", [2])
