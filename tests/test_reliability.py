"""Bad input and faults found by trying the project as an unlucky user would (issue: reliability).
Each test reproduces one defect; all end in a QDError that names the problem, or in no harm."""
import errno
import gzip
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
import torch

from qd import QDDataWarning, QDError, data, demo, models, render, train
from qd.infer import Predictor
from conftest import write_ndjson

STAR = {"word": "star", "drawing": [[[0, 50, 100], [0, 80, 0]], [[0, 100], [40, 40]]]}


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    cfg = train.TrainConfig(model="cnn", epochs=1, model_kw={"width": 4})
    m = models.build("cnn", 3, width=4, dropout=cfg.dropout)
    path = train.save_checkpoint(tmp_path_factory.mktemp("m") / "good.pt", m, ["apple", "star", "square"], cfg)
    return path, m, cfg


# ----------------------------------------------------------------------------- 1. atomic checkpoints

def test_a_failed_save_leaves_the_good_checkpoint_intact(small_model, tmp_path, monkeypatch):
    path, m, cfg = small_model
    target = tmp_path / "cnn.pt"
    target.write_bytes(path.read_bytes())
    good = target.read_bytes()

    def disk_full(obj, f, *a, **kw):      # writes half, then the disk is full
        with open(f, "wb") as fh:
            fh.write(good[: len(good) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(QDError, match=r"cnn.pt: could not write \(No space left on device\)"):
        train.save_checkpoint(target, m, ["apple", "star", "square"], cfg)
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.pt"]   # no temp file left behind


def test_cli_checks_out_is_writable_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"           # a path through a file cannot be written, even by root
    blocker.write_text("x")
    monkeypatch.setattr(train, "train_model", lambda *a, **kw: pytest.fail("trained before checking --out"))
    with pytest.raises(QDError, match=r"a file: --out folder is not writable"):
        train.main(["--epochs", "1", "--out", str(blocker / "m.pt")])


def test_cli_refuses_a_folder_as_out_before_training(tmp_path):
    with pytest.raises(QDError, match=r"--out .* is a folder"):
        train.main(["--epochs", "1", "--out", str(tmp_path)])


# ----------------------------------------------------------------------------- 3. bad checkpoints

def _resave(src, dst, change):
    ck = torch.load(src, weights_only=True)
    change(ck)
    torch.save(ck, dst)
    return dst


@pytest.mark.parametrize("change,message", [
    (lambda ck: ck["config"].update(model="mlp"), r"weights do not fit a 'mlp' model"),
    (lambda ck: ck["config"].update(model_kw={"width": 8}), r"weights do not fit a 'cnn' model"),
    (lambda ck: ck["config"].update(model_kw={"nonsense": 1}), r"weights do not fit a 'cnn' model"),
    (lambda ck: ck["config"].pop("model"), r"broken config: 'model' must be one of"),
    (lambda ck: ck.update(config="cnn"), r"broken config"),
    (lambda ck: ck.update(classes=["only one"]), r"broken checkpoint: 'classes' must be a list of at least 2"),
    (lambda ck: ck.update(classes=["a", "b"]), r"weights do not fit a 'cnn' model with 2 classes"),
    (lambda ck: ck.pop("state_dict"), r"not a qd checkpoint \(missing"),
])
def test_a_checkpoint_of_another_kind_is_a_qderror(small_model, tmp_path, change, message):
    path = _resave(small_model[0], tmp_path / "other.pt", change)
    with pytest.raises(QDError, match=rf"other.pt: {message}"):
        train.load_checkpoint(path)


def test_a_bit_flipped_checkpoint_fails_its_checksum(small_model, tmp_path):
    ck = torch.load(small_model[0], weights_only=True)
    w = ck["state_dict"]["head.3.weight"]
    w.view(-1).view(torch.int32)[7] ^= 1 << 3          # one bit of one weight
    torch.save(ck, tmp_path / "flipped.pt")
    with pytest.raises(QDError, match="flipped.pt: weights fail their checksum"):
        train.load_checkpoint(tmp_path / "flipped.pt")


def test_the_demo_shows_a_bad_checkpoints_message(small_model, tmp_path):
    path = _resave(small_model[0], tmp_path / "other.pt", lambda ck: ck["config"].update(model="mlp"))
    app = demo.make_app(path).free
    assert app.predictor is None and app.guess_button.disabled
    assert "other.pt" in app.status.value and "do not fit" in app.status.value


# ----------------------------------------------------------------------------- 5. bytes and lines

def test_a_bad_byte_names_its_own_line_and_can_be_skipped(tmp_path):
    lines = [json.dumps(STAR).encode()] * 60
    lines[49] = lines[49].replace(b'"star"', b'"st\xffr"')
    p = tmp_path / "x.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(QDError, match=r"x.ndjson:50: not UTF-8 \(byte 0xff"):
        data.load_drawings(p)
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line.*x.ndjson:50"):
        assert len(data.load_drawings(p, on_error="skip")) == 59
    gz = tmp_path / "x.ndjson.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    with pytest.raises(QDError, match=r"x.ndjson.gz:50: not UTF-8"):
        data.load_drawings(gz)


def test_deeply_nested_json_is_a_bad_line_even_in_skip_mode(tmp_path):
    p = write_ndjson(tmp_path / "deep.ndjson", [STAR, "[" * 100_000 + "]" * 100_000, STAR])
    with pytest.raises(QDError, match=r"deep.ndjson:2: JSON nested too deeply"):
        data.load_drawings(p)
    with pytest.warns(QDDataWarning, match="skipped 1"):
        assert len(data.load_drawings(p, on_error="skip")) == 2


def test_a_gigantic_line_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_LINE_BYTES", 1 << 16)
    p = tmp_path / "big.ndjson.gz"
    with gzip.open(p, "wb") as f:
        f.write(json.dumps(STAR).encode() + b"\n")
        f.write(b'{"word": "' + b"x" * (1 << 20) + b'"}\n')
        f.write(json.dumps(STAR).encode() + b"\n")
    with pytest.raises(QDError, match=r"big.ndjson.gz:2: line longer than"):
        data.load_drawings(p)
    with pytest.warns(QDDataWarning, match="skipped 1"):
        ds = data.load_drawings(p, on_error="skip")
    assert [d.source.rsplit(":", 1)[1] for d in ds] == ["1", "3"]


# ----------------------------------------------------------------------------- 6. limits, huge values

def test_huge_finite_coordinates_are_refused_not_rendered_blank():
    with pytest.raises(QDError, match="coordinates span"):
        render.render([[[-1e308, 1e308], [0, 1]]])
    with pytest.raises(QDError, match="coordinates span"):
        render.render([[[0, 1e300], [0, 5]]])


def test_the_demo_says_why_a_drawing_cannot_be_read(small_model):
    app = demo.DrawingApp(Predictor(small_model[0]))
    demo.replay(app, [[[-1e308, 1e308], [0, 1]]])
    assert "coordinates span" in app.answer.value and app.last_top == []


def test_limit_zero_yields_nothing_and_negative_is_refused(tmp_path):
    p = write_ndjson(tmp_path / "s.ndjson", [STAR] * 3)
    assert data.load_drawings(p, limit=0) == []
    assert len(data.load_drawings(p, limit=2)) == 2
    with pytest.raises(QDError, match="limit must be >= 0"):
        data.load_drawings(p, limit=-1)


def test_skip_mode_warns_when_stopped_early(tmp_path):
    p = write_ndjson(tmp_path / "s.ndjson", ["junk", STAR, STAR, STAR])
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line.*s.ndjson:1"):
        assert len(data.load_drawings(p, on_error="skip", limit=1)) == 1
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line"):
        it = data.iter_drawings(p, on_error="skip")
        next(it)
        it.close()                     # the caller stops iterating


# ----------------------------------------------------------------------------- 7. library errors

def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def test_corrupt_npz_files_are_qderrors(tmp_path):
    good = _npz_bytes(bitmaps=np.zeros((50, 784), np.uint8))
    # a corrupt deflate stream: flip bytes in the middle of the compressed member
    bad = bytearray(good)
    mid = len(bad) // 2
    bad[mid:mid + 16] = b"\xff" * 16
    (tmp_path / "deflate.npz").write_bytes(bytes(bad))
    # a junk member named like the array
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bitmaps.npy", b"junk, not an array")
    (tmp_path / "junk.npz").write_bytes(buf.getvalue())
    # a header that claims a huge array
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bitmaps.npy", b"\x93NUMPY" + hdr.getvalue()[6:] + b"\x00" * 100)
    (tmp_path / "huge.npz").write_bytes(buf.getvalue())
    for name in ("deflate", "junk", "huge"):
        with pytest.raises(QDError, match=rf"{name}.npz: not a valid numpy file"):
            data.read_bitmap_file(tmp_path / f"{name}.npz")


@pytest.mark.parametrize("flag,value,message", [
    ("--lr", "-1", "lr must be > 0"), ("--lr", "nan", "lr must be > 0"),
    ("--dropout", "2", r"dropout must be in \[0, 1\)"), ("--weight-decay", "-1", "weight_decay must be >= 0"),
    ("--label-smoothing", "2", r"label_smoothing must be in \[0, 1\)"), ("--batch-size", "0", "batch_size must be >= 1"),
    ("--batch-size", "-1", "batch_size must be >= 1"), ("--epochs", "0", "epochs must be >= 1"),
    ("--per-class", "1", "--per-class must be >= 2"),
])
def test_cli_refuses_bad_settings_before_training(flag, value, message, tmp_path):
    with pytest.raises(QDError, match=message):
        train.main([flag, value, "--out", str(tmp_path / "m.pt")])
    assert not (tmp_path / "m.pt").exists()


def test_a_split_too_small_for_its_classes_is_a_qderror():
    b = data.load_bitmaps(["apple", "star", "cat"], per_class=2)
    with pytest.raises(QDError, match="cannot split 6 drawings of 3 classes"):
        data.split(b, test_size=0.3)
