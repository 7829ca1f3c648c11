"""Outlier exposure and the calibration set of "I don't know" (the detector itself: test_game.py)."""
import numpy as np
import pytest

from qd import QDError
from qd.data import bitmaps, render, splits, strokes
from qd.models import architectures, infer, unknown
from qd.paths import MODELS_DIR
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


def test_one_pass_answers_as_predict_image_and_is_unknown_do():
    """The demo's guess (`predict_with_unknown`: one pass over the image and its mirror) against the
    two calls it replaces, on the shipped model with its detector and flip averaging, for real
    drawings of its own classes and of classes it never saw."""
    p = infer.Predictor(MODELS_DIR / "cnn.pt")
    assert p.tta and p.detector is not None          # the case the one pass exists for
    held = unknown.outside_classes(p.classes, seed=0)[1]
    X = np.concatenate([bitmaps.load_bitmaps(p.classes[:4], per_class=5).X,
                        render.render_batch(strokes.collect(held[:6]).drawings[:20])])
    flags = []
    for img in X:
        probs, flag = p.predict_with_unknown(img)
        np.testing.assert_allclose(probs, p.predict_image(img), rtol=0, atol=1e-5)
        assert flag == p.is_unknown(img)
        flags.append(flag)
    assert 0 < sum(flags) < len(flags)                # both answers occur: the flag is really compared
    with pytest.raises(QDError, match=r"one uint8 image \(28, 28\)"):
        p.predict_with_unknown(X[:2])
