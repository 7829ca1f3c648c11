"""The checkpoint format: saved atomically, checksummed, every bad file a QDError."""
import copy
import datetime
import errno
import io
import os

import numpy as np
import pytest
import torch
from helpers import resave

from qd import QDDataWarning, QDError, atomic
from qd.data import ndjson, render
from qd.models import architectures, checkpoint, infer
from qd.models.infer import Predictor
from qd.training import config, loop


def test_checkpoint_reloads_and_predicts_the_same(tiny_split, tmp_path):
    sp = tiny_split
    cfg = config.TrainConfig(model="cnn", epochs=1, model_kw={"width": 8}, dropout=0.1)
    m = architectures.build("cnn", 3, width=8, dropout=0.1)
    loop.fit(m, sp.X_train, sp.y_train, cfg, progress=False)
    path = checkpoint.save(tmp_path / "m.pt", m, sp.classes, cfg, {"test_acc": 0.5})
    p = Predictor(path)
    assert p.classes == ["apple", "star", "square"] and p.meta["metrics"] == {"test_acc": 0.5}
    np.testing.assert_allclose(p.predict_image(sp.X_test[:50]), infer.predict_proba(m, sp.X_test[:50]), atol=1e-6)
    probs, img = p.predict_strokes(ndjson.load_drawings(ndjson.strokes_path("star"), limit=1)[0])
    assert img.shape == (28, 28) and probs.shape == (3,) and abs(probs.sum() - 1) < 1e-5
    assert [c for c, _ in p.top(probs, 2)] == [sp.classes[i] for i in np.argsort(-probs)[:2]]
    # figures measured with flip averaging: the reloaded model averages too, as the report did
    flipped = Predictor(checkpoint.save(tmp_path / "t.pt", m, sp.classes, cfg, {"tta": True}))
    np.testing.assert_allclose(flipped.predict_image(sp.X_test[:50]), infer.predict_proba(m, sp.X_test[:50], tta=True),
                               atol=1e-6)
    assert not np.allclose(flipped.predict_image(sp.X_test[:50]), p.predict_image(sp.X_test[:50]), atol=1e-4)


def test_missing_or_bad_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(QDError, match=r"no trained model at .*nope.pt: the release models ship in models/.*`make models`.*python -m qd.training.train"):
        Predictor(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(QDError, match="bad.pt: not a checkpoint of this project"):
        Predictor(tmp_path / "bad.pt")


def test_a_failed_save_leaves_the_good_checkpoint_intact(small_model, tmp_path, monkeypatch):
    path, m, cfg = small_model
    target = tmp_path / "cnn.pt"
    target.write_bytes(path.read_bytes())
    good = target.read_bytes()

    real_save = torch.save

    def disk_full(obj, f, *a, **kw):      # writes half, then the disk is full
        if isinstance(f, io.BytesIO):     # save's check that the checkpoint loads back, in memory
            return real_save(obj, f, *a, **kw)
        with open(f, "wb") as fh:
            fh.write(good[: len(good) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(QDError, match=r"cnn.pt: could not write \(No space left on device\)"):
        checkpoint.save(target, m, ["apple", "star", "square"], cfg)
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.pt"]   # no temp file left behind


@pytest.mark.parametrize("change,message", [
    (lambda ck: ck["config"].update(model="mlp"), r"its config .*'mlp'.* builds no model"),
    (lambda ck: ck["config"].update(model_kw={"width": 8}), r"weights do not fit a 'cnn' model"),
    (lambda ck: ck["config"].update(model_kw={"nonsense": 1}), r"its config .* builds no model: .*nonsense"),
    (lambda ck: ck["config"].update(dropout="x"), r"its config .*'dropout': 'x'.* builds no model"),
    (lambda ck: ck["config"].pop("model"), r"broken config: 'model' must be one of"),
    (lambda ck: ck.update(config="cnn"), r"broken config"),
    (lambda ck: ck.update(classes=["only one"]), r"broken checkpoint: 'classes' must name at least 2"),
    (lambda ck: ck.update(classes=["cat", "cat", "dog"]), r"broken checkpoint: 'classes' names 'cat' more than once"),
    (lambda ck: ck.update(classes=["cat", "", "dog"]), r"broken checkpoint: 'classes' holds '': every name must be"),
    (lambda ck: ck.update(classes=["a", "b"]), r"weights do not fit a 'cnn' model with 2 classes"),
    (lambda ck: ck.pop("state_dict"), r"not a checkpoint of this project \(missing"),
])
def test_a_checkpoint_of_another_kind_is_a_qderror(small_model, tmp_path, change, message):
    path = resave(small_model[0], tmp_path / "other.pt", change)
    with pytest.raises(QDError, match=rf"other.pt: {message}"):
        checkpoint.load(path)


def test_a_bit_flipped_checkpoint_fails_its_checksum(small_model, tmp_path):
    ck = torch.load(small_model[0], weights_only=True)
    w = ck["state_dict"]["head.3.weight"]
    w.view(-1).view(torch.int32)[7] ^= 1 << 3          # one bit of one weight
    torch.save(ck, tmp_path / "flipped.pt")
    with pytest.raises(QDError, match="flipped.pt: weights fail their checksum"):
        checkpoint.load(tmp_path / "flipped.pt")


def test_a_checkpoint_saved_before_the_regrouping_still_loads(small_model, tmp_path):
    """Checkpoints written by the flat package record the renderer as `qd.render.render` and may lack
    newer config keys; they load, and answer as before."""
    path, m, _ = small_model

    def as_old(ck):
        ck["preprocessing"] = {"input": "image", "size": 28, "scale": "x/255", "ink": "bright on black",
                               "renderer": "qd.render.render"}
        ck["config"] = {k: v for k, v in ck["config"].items() if k not in ("schedule", "label_smoothing")}
    old = resave(path, tmp_path / "old.pt", as_old)
    p = Predictor(old)
    assert p.meta["preprocessing"]["renderer"] == "qd.render.render"
    img = np.zeros((28, 28), np.uint8)
    img[5:20, 10] = 255
    np.testing.assert_allclose(p.predict_image(img), Predictor(path).predict_image(img), atol=1e-6)
    assert loop.transfer(old, 5)[1].schedule == config.TrainConfig().schedule


# ----------------------------------------------------------------------------- reliability, round two

NOISE = np.random.default_rng(0).bytes(4096)     # random bytes, seeded: every collection of the tests is the same


@pytest.mark.parametrize("content,message", [(b"", "an empty file"), (NOISE[:64], "not a checkpoint of this project"),
                                             (b"<!DOCTYPE html><html></html>", "not a checkpoint of this project")],
                         ids=["empty", "random bytes", "html"])
def test_an_empty_or_random_file_is_a_qderror_not_a_crash(tmp_path, content, message):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(QDError, match=rf"bad.pt: {message}"):
        Predictor(p)


def test_a_real_full_device_during_torch_save_is_a_qderror_and_keeps_the_old_file(small_model, tmp_path):
    """torch reports a full disk as RuntimeError ('enforce fail at inline_container.cc'), not OSError:
    /dev/full is a real device that is always full."""
    path, m, cfg = small_model
    target = tmp_path / "cnn.pt"
    target.write_bytes(path.read_bytes())
    with pytest.raises(QDError, match=r"cnn.pt: could not write \(RuntimeError"):
        atomic.write_with(target, lambda tmp: torch.save({"x": torch.zeros(1 << 16)}, "/dev/full"))
    assert target.read_bytes() == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.pt"]


def test_a_save_cleans_what_a_killed_save_left_and_spares_a_live_ones(small_model, tmp_path):
    path, m, cfg = small_model
    dead = tmp_path / ".cnn.pt.999999999.abc.part"
    live = tmp_path / f".cnn.pt.{os.getppid()}.def.part"
    dead.write_bytes(b"x" * 1000)
    live.write_bytes(b"y")
    checkpoint.save(tmp_path / "cnn.pt", m, ["apple", "star", "square"], cfg)
    assert not dead.exists() and live.exists()


@pytest.mark.parametrize("change,message", [
    (lambda ck: ck.update(preprocessing=["image", 28]), "'preprocessing' must be a dict"),
    (lambda ck: ck["preprocessing"].update(size="x"), "preprocessing size must be a whole number"),
    (lambda ck: ck["preprocessing"].update(input="smell"), "input 'smell' is none of"),
    (lambda ck: ck.update(metrics=[0.9]), "'metrics' must be a dict"),
    (lambda ck: ck["preprocessing"].update(input="sequence"), "cannot take the input the checkpoint records"),
    (lambda ck: ck["preprocessing"].update(size=64), "cannot take the input the checkpoint records"),
    (lambda ck: ck.update(unknown={"means": torch.zeros(3, 7), "precision": torch.eye(7), "weights": torch.zeros(3),
                                   "bias": 0.0, "threshold": 1.0}), "cannot take the input"),
    (lambda ck: ck.update(unknown=[1, 2]), "broken 'unknown' detector"),
])
def test_bad_metadata_with_a_valid_checksum_fails_at_load_not_at_the_first_stroke(small_model, tmp_path, change, message):
    path = resave(small_model[0], tmp_path / "meta.pt", change)
    with pytest.raises(QDError, match=message):
        Predictor(path)


@pytest.mark.parametrize("img", [np.zeros((0, 28, 28), np.uint8), np.zeros((64, 64), np.uint8),
                                 np.zeros((27, 27), np.uint8), np.zeros((28, 28), np.float32), np.zeros(784, np.uint8)])
def test_predict_image_takes_only_the_models_images(small_model, img):
    with pytest.raises(QDError, match="predict_image takes uint8 images"):
        Predictor(small_model[0]).predict_image(img)


# ----------------------------------------------------------------------------- reliability, round three

def _with_weight(model, value):
    m = copy.deepcopy(model)
    with torch.no_grad():
        next(m.parameters()).view(-1)[0] = value
    return m


@pytest.mark.parametrize("value,message", [(float("nan"), "hold NaN or infinity"),
                                           (7e11, r"reach 7e\+11, beyond 1e\+06")])
def test_diverged_weights_are_never_saved_and_the_old_file_stays(small_model, tmp_path, value, message):
    """(issue 24, point 1) weights of 7e11 or NaN made a Predictor answer NaN; save refuses them."""
    path, m, cfg = small_model
    target = tmp_path / "cnn.pt"
    target.write_bytes(path.read_bytes())
    with pytest.raises(QDError, match=rf"cnn.pt: not saved: weights .* {message}.*diverged"):
        checkpoint.save(target, _with_weight(m, value), ["apple", "star", "square"], cfg)
    assert target.read_bytes() == path.read_bytes()


def test_nan_weights_with_a_valid_checksum_do_not_load(small_model, tmp_path):
    """(issue 24, point 9) a checkpoint whose checksum matches its NaN weights loaded and answered NaN."""
    def poison(ck):
        ck["state_dict"]["head.3.weight"][0, 0] = float("nan")
        ck["weights_sha256"] = checkpoint.weights_digest(ck["state_dict"])
    p = resave(small_model[0], tmp_path / "nan.pt", poison)
    with pytest.raises(QDError, match=r"nan.pt: weights head.3.weight hold NaN"):
        Predictor(p)


@pytest.mark.parametrize("classes,extra,message", [
    (["apple", "star"], {}, "weights do not fit a 'cnn' model with 2 classes"),
    (["apple", "star", "apple"], {}, "'apple' more than once"),
    (["apple", "star", "square"], {"when": datetime.date(2026, 1, 1)}, "no plain data"),
    (["apple", "star", "square"], {"helper": lambda x: x}, "no plain data"),
])
def test_a_checkpoint_that_could_never_load_is_refused_at_save(small_model, tmp_path, classes, extra, message):
    """(issue 24, point 4) such a file was written, and then every load failed."""
    _, m, cfg = small_model
    with pytest.raises(QDError, match=rf"bad.pt: not saved: .*{message}"):
        checkpoint.save(tmp_path / "bad.pt", m, classes, cfg, **extra)
    assert not (tmp_path / "bad.pt").exists()


class _Evil:
    def __reduce__(self):
        return (print, ("pickle ran",))


@pytest.mark.parametrize("content", [NOISE, b"PK\x03\x04" + NOISE[:200], "evil"], ids=["random bytes", "zip header", "evil"])
def test_an_unreadable_checkpoint_never_repeats_torchs_advice_to_load_unsafely(small_model, tmp_path, content, capsys):
    """(issue 24, point 5) torch's message, cut at 200 characters, read "Re-running torch.load with
    weights_only set to False": the unsafe thing. A pickle of an object is refused and never run."""
    p = tmp_path / "bad.pt"
    if content == "evil":
        torch.save({"state_dict": _Evil()}, p)
    else:
        p.write_bytes(content)
    for load in (checkpoint.load, Predictor, lambda q: loop.transfer(q, 3)):
        with pytest.raises(QDError) as e:
            load(p)
        assert "bad.pt: not a checkpoint of this project" in str(e.value)
        assert "weights_only" not in str(e.value) and "Re-running" not in str(e.value)
    assert "pickle ran" not in capsys.readouterr().out


def test_a_folder_given_as_a_checkpoint_is_called_a_folder(tmp_path):
    """(issue 24, point 12) it was 'no such checkpoint'."""
    with pytest.raises(QDError, match="is a folder, expected a checkpoint file"):
        checkpoint.load(tmp_path)


def test_tta_must_be_a_yes_or_no(small_model, tmp_path):
    """(issue 24, point 9) metrics tta='no' was read as true (any non-empty string is)."""
    p = resave(small_model[0], tmp_path / "tta.pt", lambda ck: ck["metrics"].update(tta="no"))
    with pytest.raises(QDError, match=r"tta.pt: metrics 'tta' must be True or False, got 'no'"):
        Predictor(p)
    assert Predictor(resave(small_model[0], tmp_path / "ok.pt", lambda ck: ck["metrics"].update(tta=True))).tta is True


def test_top_k_counts_and_nan(small_model):
    """(issue 24, point 9) top(k=-1) gave 2 of 3; a NaN probability dropped a class; repeats=0 gave NaN."""
    p = Predictor(small_model[0])
    probs = np.array([0.2, 0.5, 0.3])
    assert [c for c, _ in p.top(probs, k=3)] == ["star", "square", "apple"]
    for k in (-1, 0, 1.5, True):
        with pytest.raises(QDError, match="k must be a whole number >= 1"):
            p.top(probs, k=k)
    with pytest.raises(QDError, match="probabilities holds NaN"):
        p.top(np.array([0.2, np.nan, 0.3]))
    with pytest.raises(QDError, match=r"shape \(2,\), expected \(3,\)"):
        p.top(np.array([0.2, 0.8]))
    with pytest.raises(QDError, match="repeats must be a whole number >= 1"):
        p.latency_ms([[[0, 10], [0, 10]]], repeats=0)


def _detector(**change):
    state = {"means": torch.zeros(3, 7), "precision": torch.eye(7), "weights": torch.zeros(3), "bias": 0.0,
             "threshold": 1.0}
    state.update(change)
    return {k: v for k, v in state.items() if v is not None}


@pytest.mark.parametrize("state,message", [
    (_detector(means=None), r"detector's state lacks means"),                     # was "('means')"
    (_detector(means=[[0.0] * 7] * 3), r"'means' must be a 2-D tensor, got list"),   # was "'list' object has no attribute 'numpy'"
    (_detector(precision=torch.full((7, 7), float("nan"))), r"'precision' holds NaN"),
    (_detector(precision=torch.eye(5)), r"precision \(5, 5\) \(expected \(7, 7\)\)"),
    (_detector(threshold="high"), r"'threshold' must be a finite number"),
])
def test_a_broken_detector_says_which_part_is_broken(small_model, tmp_path, state, message):
    """(issue 24, point 12) broken detectors reported "('means')" or a raw AttributeError."""
    path = resave(small_model[0], tmp_path / "det.pt", lambda ck: ck.update(unknown=state))
    with pytest.raises(QDError, match=rf"det.pt: broken 'unknown' detector in the checkpoint: .*{message}"):
        Predictor(path)


def test_the_checkpoints_temperature_divides_the_logits(small_model, tmp_path):
    """(issue 24, point 15) dropping the temperature in Predictor passed every test, while the demo's
    percentages are claimed calibrated: the probabilities must be softmax(logits / T)."""
    path, m, _ = small_model
    img = render.render(ndjson.load_drawings(ndjson.strokes_path("star"), limit=1)[0])
    logits = infer.view_logits(m, img[None])[0, 0]
    p = Predictor(resave(path, tmp_path / "t.pt", lambda ck: ck.update(temperature=0.05)))
    assert p.temperature == 0.05
    expected = torch.softmax(torch.as_tensor(logits) / 0.05, 0).numpy()
    np.testing.assert_allclose(p.predict_image(img), expected, atol=1e-5)
    assert np.abs(p.predict_image(img) - torch.softmax(torch.as_tensor(logits), 0).numpy()).max() > 1e-3


def test_a_checkpoint_without_a_checksum_loads_with_a_warning(small_model, tmp_path):
    """(issue 24, point 16) the path for checkpoints saved before checksums was never run."""
    p = resave(small_model[0], tmp_path / "old.pt", lambda ck: ck.pop("weights_sha256"))
    with pytest.warns(QDDataWarning, match="old.pt: checkpoint has no weights checksum"):
        model, meta = checkpoint.load(p)
    assert "weights_sha256" not in meta
    for a, b in zip(model.state_dict().values(), small_model[1].state_dict().values()):
        assert torch.equal(a, b)
