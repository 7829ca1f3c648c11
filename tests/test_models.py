import numpy as np
import pytest
import torch

from qd import QDError, augment, data, evaluate, models, train
from qd.infer import Predictor


@pytest.mark.parametrize("name,kw", [("mlp", {}), ("mlp", {"hidden": (64,), "batch_norm": False}),
                                     ("refcnn", {}), ("cnn", {}), ("cnn", {"width": 8})])
def test_forward_shapes(name, kw):
    m = models.build(name, 7, **kw).eval()
    x = models.to_tensor(np.zeros((5, 28, 28), np.uint8))
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert m(x).shape == (5, 7)


def test_reference_architectures_are_the_references():
    mlp = models.build("mlp", 10)
    linears = [l for l in mlp.modules() if isinstance(l, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 128), (128, 100), (100, 10)]
    assert any(isinstance(l, torch.nn.BatchNorm1d) for l in mlp.modules())
    ref = models.build("refcnn", 10)
    kinds = [type(l).__name__ for l in ref.modules()]
    assert kinds.count("Conv2d") == 1 and kinds.count("MaxPool2d") == 1 and kinds.count("Linear") == 1


def test_bad_model_inputs():
    with pytest.raises(QDError, match="unknown model 'resnet'"):
        models.build("resnet", 10)
    with pytest.raises(QDError, match="at least 2 classes"):
        models.build("cnn", 1)
    with pytest.raises(QDError, match=r"shape \(3, 27, 28\)"):
        models.to_tensor(np.zeros((3, 27, 28), np.uint8))
    with pytest.raises(QDError, match="must be uint8"):
        models.to_tensor(np.zeros((3, 28, 28), np.float32))


@pytest.fixture(scope="module")
def tiny_split():
    ds = data.load_bitmaps(["apple", "star", "square"], per_class=300)
    return data.split(ds, seed=0)


def test_training_on_a_tiny_subset_learns(tiny_split):
    sp = tiny_split
    cfg = train.TrainConfig(model="cnn", epochs=3, batch_size=32, augment="flip", model_kw={"width": 8})
    m = models.build("cnn", 3, width=8, dropout=cfg.dropout)
    h = train.fit(m, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=False)
    assert h.epoch == [1, 2, 3] and len(h.eval_acc) == 3
    assert h.eval_acc[-1] > 0.8          # chance is 1/3
    assert h.train_loss[-1] < h.train_loss[0]


def test_training_is_reproducible(tiny_split):
    sp = tiny_split
    accs = []
    for _ in range(2):
        cfg = train.TrainConfig(model="mlp", epochs=2, augment="all", seed=5)
        m = models.build("mlp", 3, dropout=cfg.dropout)
        h = train.fit(m, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=False)
        accs.append((h.train_loss, h.eval_acc, evaluate.predict_proba(m, sp.X_test[:20])))
    assert accs[0][0] == accs[1][0] and accs[0][1] == accs[1][1]
    np.testing.assert_array_equal(accs[0][2], accs[1][2])


def test_checkpoint_reloads_and_predicts_the_same(tiny_split, tmp_path):
    sp = tiny_split
    cfg = train.TrainConfig(model="cnn", epochs=1, model_kw={"width": 8}, dropout=0.1)
    m = models.build("cnn", 3, width=8, dropout=0.1)
    train.fit(m, sp.X_train, sp.y_train, cfg, progress=False)
    path = train.save_checkpoint(tmp_path / "m.pt", m, sp.classes, cfg, {"test_acc": 0.5})
    p = Predictor(path)
    assert p.classes == ["apple", "star", "square"] and p.meta["metrics"] == {"test_acc": 0.5}
    np.testing.assert_allclose(p.predict_image(sp.X_test[:50]), evaluate.predict_proba(m, sp.X_test[:50]), atol=1e-6)
    probs, img = p.predict_strokes(data.load_drawings(data.strokes_path("star"), limit=1)[0])
    assert img.shape == (28, 28) and probs.shape == (3,) and abs(probs.sum() - 1) < 1e-5
    assert [c for c, _ in p.top(probs, 2)] == [sp.classes[i] for i in np.argsort(-probs)[:2]]
    # figures measured with flip averaging: the reloaded model averages too, as the report did
    flipped = Predictor(train.save_checkpoint(tmp_path / "t.pt", m, sp.classes, cfg, {"tta": True}))
    np.testing.assert_allclose(flipped.predict_image(sp.X_test[:50]), evaluate.predict_proba(m, sp.X_test[:50], tta=True),
                               atol=1e-6)
    assert not np.allclose(flipped.predict_image(sp.X_test[:50]), p.predict_image(sp.X_test[:50]), atol=1e-4)


def test_missing_or_bad_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(QDError, match=r"no trained model at .*nope.pt: run `make report`.*python -m qd.train"):
        Predictor(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(QDError, match="bad.pt: not a qd checkpoint"):
        Predictor(tmp_path / "bad.pt")


def test_cli_trains_and_saves(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    metrics = train.main(["--model", "mlp", "--epochs", "2", "--classes", "cat,fish", "--per-class", "200",
                          "--optimizer", "sgd", "--lr", "0.05", "--dropout", "0.1", "--weight-decay", "0",
                          "--out", str(out)])
    assert out.is_file() and metrics["train"] == 280 and metrics["test"] == 120
    assert metrics["test_acc"] > 0.7
    assert '"checkpoint"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train.main(["--model", "nope"])


def test_evaluation_helpers():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    y = np.array([0, 1, 1])
    assert evaluate.topk_accuracy(probs, y, 1) == pytest.approx(1 / 3)
    assert evaluate.topk_accuracy(probs, y, 2) == pytest.approx(1.0)
    cm = np.array([[5, 0, 1], [3, 2, 0], [0, 0, 4]])
    assert evaluate.most_confused(cm, ["a", "b", "c"], 2) == [("b", "a", 3), ("a", "c", 1)]
    np.testing.assert_allclose(evaluate.per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), 2), [0.5, 1.0])


def test_augmentations_change_images_but_identity_does_not():
    x = models.to_tensor(data.load_bitmaps(["star"], per_class=8).X)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment.PRESETS["none"](x, generator=g), x)
    flipped = augment.Augment(flip=1.0)(x, generator=g)
    torch.testing.assert_close(flipped, torch.flip(x, dims=[3]), atol=1e-5, rtol=0)
    for name in ("rotate", "shift", "scale", "all"):
        y = augment.PRESETS[name](x, generator=g)
        assert y.shape == x.shape and not torch.allclose(y, x)
        assert abs(y.sum() / x.sum() - 1) < 0.35   # still the drawing, not blank or saturated
    X, yy = augment.expand(np.zeros((4, 28, 28), np.uint8), np.arange(4))
    assert X.shape == (16, 28, 28) and yy.tolist() == [0, 1, 2, 3] * 4
