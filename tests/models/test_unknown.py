"""Outlier exposure and the calibration set of "I don't know" (the detector itself: test_game.py)."""
import numpy as np
import pytest

from qd import QDError
from qd.data import bitmaps, render, splits, strokes
from qd.models import architectures, infer, unknown
from qd.report import metrics
from qd.training import config, loop

CLASSES = ["apple", "star", "fish", "cat"]


def test_calibration_and_held_out_classes_split_the_rest_of_the_345():
    cal, held = unknown.outside_classes(CLASSES, seed=0)
    assert not set(cal) & set(held) and not set(cal + held) & set(CLASSES)
    assert sorted(cal + held) == sorted(c for c in bitmaps.all_classes() if c not in CLASSES)
    assert unknown.outside_classes(CLASSES, seed=0) == (cal, held) != unknown.outside_classes(CLASSES, seed=1)
    X = unknown.calibration_images(CLASSES, seed=0, max_per_class=2)
    assert X.shape == (2 * len(cal), 28, 28) and X.dtype == np.uint8 and X.max() > 200


def test_outlier_exposure_makes_the_model_unsure_of_classes_it_never_saw():
    sp = splits.split(bitmaps.load_bitmaps(CLASSES, per_class=400), seed=0)
    X_out = unknown.calibration_images(CLASSES, seed=0, max_per_class=8)
    held = unknown.outside_classes(CLASSES, seed=0)[1]
    X_held = render.render_batch(strokes.collect(held[::4]).drawings)       # never trained on, either way
    cfg = config.TrainConfig(model="cnn", epochs=3, augment="flip", seed=0, model_kw={"width": 8})
    top, acc = {}, {}
    for name, outliers in [("plain", None), ("exposed", X_out)]:
        model = architectures.build("cnn", len(CLASSES), seed=0, width=8)
        loop.fit(model, sp.X_train, sp.y_train, cfg, progress=False, outliers=outliers)
        top[name] = infer.predict_proba(model, X_held).max(1).mean()
        acc[name] = metrics.topk_accuracy(infer.predict_proba(model, sp.X_test), sp.y_test, 1)
    assert top["exposed"] < top["plain"] - 0.1, top         # less sure of what it does not know
    assert acc["exposed"] > max(0.7, acc["plain"] - 0.05), acc   # and still knows its own classes


@pytest.mark.parametrize("outliers,weight,msg", [
    (np.zeros((0, 28, 28), np.uint8), 0.5, "non-empty stack of images"),
    (np.zeros((5, 32, 32), np.uint8), 0.5, r"shaped like the training images \(28, 28\)"),
    (np.zeros((5, 28, 28), np.uint8), -1.0, "outlier_weight must be >= 0"),
    (np.zeros((5, 28, 28), np.uint8), float("nan"), "outlier_weight must be >= 0"),
])
def test_bad_outliers_are_refused_before_training(outliers, weight, msg):
    X, y = np.zeros((8, 28, 28), np.uint8), np.arange(8) % 2
    with pytest.raises(QDError, match=msg):
        loop.fit(architectures.build("cnn", 2, width=8), X, y, config.TrainConfig(epochs=1), progress=False,
                  outliers=outliers, outlier_weight=weight)
