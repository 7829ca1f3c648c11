"""Notebook 05's learning curve: our CNN and a random forest on the first n drawings of every
class, scored on the same test drawings; smaller sets get more epochs, counted as `fit` counts steps."""
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from qd import QDError
from qd.data import bitmaps
from qd.report import curves
from qd.training.config import TrainConfig


def test_epochs_for_gives_min_steps_as_fit_counts_them():
    assert curves.epochs_for(3, 1300, 128, 150) == 14        # 11 steps an epoch (the last one short): 14 x 11 >= 150
    assert curves.epochs_for(3, 13000, 128, 150) == 3        # 102 steps an epoch: the floor of 3 epochs holds
    assert curves.epochs_for(1, 128, 128, 5) == 5            # one full batch an epoch
    assert curves.epochs_for(1, 129, 128, 5) == 3            # two steps an epoch
    with pytest.raises(QDError, match="empty"):
        curves.epochs_for(1, 0, 128, 5)


def test_cnn_and_forest_learn_more_from_more_drawings():
    sp = bitmaps.load_protocol("13 classes", per_class=120, seed=0)              # 84 training drawings a class
    cfg = TrainConfig(model="cnn", epochs=1, augment="flip", seed=0, model_kw={"width": 8})
    forest = lambda: RandomForestClassifier(n_estimators=20, random_state=0)    # noqa: E731
    sizes, curve, rows = curves.cnn_and_forest(sp, [3, 80, 500], cfg, 40, forest)
    assert sizes == [3, 80]                                                      # 500 is past the largest class
    assert [r["train"] for r in rows] == [39, 80 * 13]
    assert rows[0]["cnn_epochs"] == 40 and rows[1]["cnn_epochs"] == 5            # 1 and 9 steps an epoch
    for name, accs in curve.items():
        assert accs[1] > accs[0], name
        assert accs[1] > 0.5, name                                               # chance is 1/13
    again = curves.cnn_and_forest(sp, [3], cfg, 40, forest)[1]
    assert again == {k: v[:1] for k, v in curve.items()}                        # seeded
    with pytest.raises(QDError, match="largest class has 84"):
        curves.cnn_and_forest(sp, [500], cfg, 40, forest)
    with pytest.raises(QDError, match="whole numbers"):
        curves.cnn_and_forest(sp, [0, 3], cfg, 40, forest)
