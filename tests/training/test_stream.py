"""Training at scale: download from a mirror, stream, train, resume, torchrun with 2 CPU processes."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import serve

from qd.data import bitmaps, datasets, download, ndjson
from qd.models import checkpoint
from qd.models.infer import Predictor
from qd.training import config, stream


@pytest.fixture
def mirror_server(tmp_path):
    root = datasets.write_mirror(tmp_path / "remote", ["apple", "star", "bird", "dog"])
    with serve(root) as served:
        yield served


def test_download_stream_train_checkpoint_predict(mirror_server, tmp_path):
    url, handler = mirror_server
    classes = ["apple", "star", "bird", "dog"]
    cache = tmp_path / "cache"
    npys = download.download(classes, "numpy_bitmap", cache, url, per_class=600, workers=4, progress=False)
    assert [p.parent.name for p in npys] == ["numpy_bitmap-first600"] * 4
    assert all(np.load(p).shape == (600, 784) for p in npys)
    np.testing.assert_array_equal(np.load(npys[1]), bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "star.npz", 600).reshape(600, 784))
    nd = download.download(classes, "simplified", cache, url, per_class=20, workers=4, progress=False)
    assert all(len(ndjson.load_drawings(p)) == 20 for p in nd)
    hits = len(handler.hits)
    download.download(classes, "numpy_bitmap", cache, url, per_class=600, workers=4, progress=False)
    assert len(handler.hits) == hits                        # resumable: what is there is not fetched again

    ds = datasets.NpyBitmaps(npys[0].parent, classes, part="train")
    cfg = config.TrainConfig(model="cnn", epochs=2, lr=3e-3, augment="flip", batch_size=64, model_kw={"width": 8})
    out = tmp_path / "models" / "stream.pt"
    summary = stream.fit_stream(ds, ds.classes, cfg, out, workers=1, progress=False)
    assert summary["epochs_done"] == 2 and np.mean(summary["losses"][-5:]) < np.mean(summary["losses"][:5])
    p = Predictor(out)
    assert p.classes == classes
    star = ndjson.load_drawings(ndjson.strokes_path("star"), limit=5)
    probs = [p.predict_strokes(d)[0] for d in star]
    assert all(abs(q.sum() - 1) < 1e-4 for q in probs)
    assert sum(int(np.argmax(q)) == 1 for q in probs) >= 3    # it learned something real


def test_resume_continues_as_if_never_stopped(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "star", "cat"], kinds=("numpy_bitmap",))
    ds = datasets.NpyBitmaps(root / "numpy_bitmap", per_class=300)
    cfg = config.TrainConfig(model="cnn", epochs=2, augment="flip", batch_size=64, model_kw={"width": 8})
    whole = stream.fit_stream(ds, ds.classes, cfg, tmp_path / "a.pt", workers=0, progress=False)
    per_epoch = len(ds) // 64                                   # stopped (killed) after the first epoch
    first = stream.fit_stream(ds, ds.classes, cfg, tmp_path / "b.pt", workers=0, progress=False,
                              max_steps=per_epoch)
    assert first["epochs_done"] == 1
    resumed = stream.fit_stream(ds, ds.classes, cfg, tmp_path / "b.pt", workers=0,
                                progress=False, resume=True)
    assert resumed["epochs_done"] == 2
    ck = torch.load(tmp_path / "b.pt", weights_only=True)
    assert ck["resume"]["epoch"] == 1 and set(ck["resume"]) >= {"optimizer", "scheduler", "scaler", "sampler"}
    assert first["losses"] == whole["losses"][:per_epoch]
    assert resumed["losses"] == whole["losses"][per_epoch:]
    assert resumed["weights_sha256"] == whole["weights_sha256"]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_gloo(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "star", "cat", "fish"], kinds=("numpy_bitmap",))
    out = tmp_path / "ddp" / "m.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "qd.training.stream", "--data-dir",
                        str(root / "numpy_bitmap"), "--epochs", "1", "--max-steps", "25", "--batch-size", "32",
                        "--workers", "0", "--out", str(out), "--lr", "0.003"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1                                                  # rank 0 speaks for all
    ranks = {d["rank"]: d for d in lines[0]["ranks"]}
    assert set(ranks) == {0, 1} and all(d["world"] == 2 for d in ranks.values())
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]          # DDP kept them in step
    for d in ranks.values():
        assert np.mean(d["losses"][-5:]) < np.mean(d["losses"][:5])       # loss falls
    assert ranks[0]["checkpoints_written"] == 1 and ranks[1]["checkpoints_written"] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.pt"]
    assert checkpoint.load(out)[1]["classes"] == ["apple", "cat", "fish", "star"]


@pytest.mark.parametrize("world, printed", [("1", "summary, then finalized"), ("2", "summary")])
def test_a_torchrun_worker_leaves_flushed_and_without_finalizing(world, printed):
    # Finalizing while gloo's threads still release tensors aborted a worker (SIGABRT) in about 2%
    # of runs; a worker (WORLD_SIZE > 1) skips finalization (no atexit handler runs) but loses no buffered output.
    code = ("import atexit\nfrom qd.training import distributed\n"
            "atexit.register(lambda: print(', then finalized', end=''))\n"
            "print('summary', end='')\ndistributed.exit_process(3)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "WORLD_SIZE": world})
    assert (r.returncode, r.stdout) == (3, printed), r.stderr


# ----------------------------------------------------------------------------- reliability, round two

@pytest.fixture
def mirror(tmp_path):
    return datasets.write_mirror(tmp_path / "m", ["apple", "star", "cat"], kinds=("numpy_bitmap",)) / "numpy_bitmap"


def _cli(mirror, tmp_path, *args):
    return [sys.executable, "-m", "qd.training.stream", "--data-dir", str(mirror), "--epochs", "1", "--workers", "0",
            "--out", str(tmp_path / "run.pt"), "--per-class", "300", "--model", "cnn", *args]


@pytest.mark.parametrize("content", [b"", b"<!DOCTYPE html><html></html>"])
def test_resume_checks_the_checkpoint_like_any_other(mirror, tmp_path, content, capsys):
    (tmp_path / "run.pt").write_bytes(content)
    assert stream.main(_cli(mirror, tmp_path, "--resume")[3:]) == 1
    err = capsys.readouterr().err
    assert "run.pt:" in err and ("empty file" in err or "not a checkpoint of this project" in err)


def test_resume_refuses_another_run_or_changed_settings(mirror, tmp_path, small_model, capsys):
    assert stream.main(_cli(mirror, tmp_path, "--batch-size", "64")[3:]) == 0
    capsys.readouterr()
    assert stream.main(_cli(mirror, tmp_path, "--batch-size", "64", "--resume", "--lr", "0.5")[3:]) == 1
    assert "these differ: lr: 0.003 -> 0.5" in capsys.readouterr().err
    (tmp_path / "run.pt").write_bytes(Path(small_model[0]).read_bytes())       # a checkpoint of another kind
    assert stream.main(_cli(mirror, tmp_path, "--batch-size", "64", "--resume")[3:]) == 1
    assert "no resume state" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--per-class", "-5"], "per_class must be a whole number"),
    (["--batch-size", "5000"], "give no full batch of 5000"),
    (["--classes", "cat,cat"], r"duplicates: \['cat'\]"),
    (["--workers", "-1"], "workers must be a whole number"),
    (["--seed", "-1"], "seed must be a whole number"),
])
def test_a_run_that_would_train_nothing_or_wrongly_is_refused(mirror, tmp_path, args, message, capsys):
    assert stream.main(_cli(mirror, tmp_path, *args)[3:]) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "run.pt").exists()


def test_divergence_stops_the_stream(mirror, tmp_path, capsys):
    assert stream.main(_cli(mirror, tmp_path, "--batch-size", "64", "--optimizer", "sgd", "--lr", "1e6")[3:]) == 1
    assert "training diverged" in capsys.readouterr().err


def test_the_bench_refuses_a_batch_of_nothing_at_once():
    out = subprocess.run([sys.executable, "-m", "qd.training.stream", "--bench", "--batch-size", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "batch_size must be >= 1" in out.stderr


# ----------------------------------------------------------------------------- reliability, round three

@pytest.mark.parametrize("steps", ["0", "-1"])
def test_max_steps_of_nothing_is_refused(mirror, tmp_path, steps, capsys):
    """(issue 24, point 11) --max-steps 0 or -1 ran one step."""
    assert stream.main(_cli(mirror, tmp_path, "--max-steps", steps)[3:]) == 1
    assert "max_steps must be a whole number >= 1" in capsys.readouterr().err
    assert not (tmp_path / "run.pt").exists()


def test_a_folder_as_out_is_refused_before_training(mirror, tmp_path, monkeypatch, capsys):
    """(issue 24, point 4) the run trained a whole epoch, then failed to write."""
    monkeypatch.setattr(stream.architectures, "build", lambda *a, **kw: pytest.fail("built a model before checking --out"))
    args = _cli(mirror, tmp_path)[3:]
    args[args.index("--out") + 1] = str(tmp_path)
    assert stream.main(args) == 1
    assert "--out is a folder, expected a file path" in capsys.readouterr().err


def test_resume_with_other_classes_names_them(mirror, tmp_path, capsys):
    """(issue 24, point 12) it said 'classes differ (2 vs 2)'."""
    assert stream.main(_cli(mirror, tmp_path, "--classes", "apple,star", "--max-steps", "2")[3:]) == 0
    capsys.readouterr()
    assert stream.main(_cli(mirror, tmp_path, "--classes", "apple,cat", "--max-steps", "2", "--resume")[3:]) == 1
    assert "only in the checkpoint: ['star']; only in this run: ['cat']" in capsys.readouterr().err
