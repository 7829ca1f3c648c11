"""The path past the bundled data: fast rendering, streaming datasets over official files,
downloads from a mirror, and training under torchrun (2 CPU processes, gloo)."""
import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from qd import QDError, data, datasets, distributed, download, render, train
from qd.infer import Predictor
from test_download import Handler  # the local 127.0.0.1 server of the download tests

import http.server
import threading


# ----------------------------------------------------------------------------- rendering

def test_raw_strokes_are_simplified_like_the_official_files():
    raw = data.load_drawings(data.strokes_path("cat", "raw"), limit=3)
    for d in raw:
        s = render.simplify(d)
        assert sum(a.shape[1] for a in s) < d.n_points / 2                 # RDP drops most points
        pts = np.concatenate(s, axis=1)
        assert pts.min() == 0 and pts.max() == 255 and np.array_equal(pts, np.round(pts))
    # a straight line of many points keeps its two ends
    line = [[list(range(0, 500, 3)), [10 + 0.01 * x for x in range(0, 500, 3)], list(range(167))]]
    assert render.simplify(line)[0].shape == (2, 2)


def test_higher_resolutions_from_the_same_strokes():
    d = data.load_drawings(data.strokes_path("bicycle"), limit=1)[0]
    small, big = render.render(d), render.render(d, size=64)
    assert big.shape == (64, 64) and big.max() == 255
    # the same layout at both sizes: the ink sits in the same place, relative to the side
    cy = lambda im: (im.sum(1) * np.arange(len(im))).sum() / im.sum() / len(im)   # noqa: E731
    assert abs(cy(big.astype(float)) - cy(small.astype(float))) < 0.03
    with pytest.raises(QDError, match="render size"):
        render.render(d, size=3)


def test_render_bench_prints_one_json_line():
    out = subprocess.run([sys.executable, "-m", "qd.render", "--bench", "--seconds", "0.3", "--workers", "1"],
                         capture_output=True, text=True, timeout=300, check=True).stdout.strip().splitlines()
    assert len(out) == 1
    r = json.loads(out[0])
    for key in ("drawings_per_s", "ms_per_drawing_single", "mae_simplified", "mae_raw"):
        assert r[key] > 0, key
    assert r["mae_simplified"] < 1.2 and r["mae_raw"] < 2.6     # no worse than the Pillow renderer
    assert r["drawings_per_s"] > 1000                           # a generous floor; the figure is in the README


# ----------------------------------------------------------------------------- datasets

def test_345_official_files_memory_mapped_in_a_small_budget(tmp_path):
    """345 files of the official shape (sparse: 27 GB apparent, a few kB on disk)."""
    names = data.all_classes()
    assert len(names) == 345 and data.resolve_classes("all") == names
    rows = 120_000
    for k, c in enumerate(names):
        a = np.lib.format.open_memmap(tmp_path / f"{c}.npy", mode="w+", dtype=np.uint8, shape=(rows, 784))
        a[rows - 7] = k % 251 + 1          # one known row near the end of every file
        del a
    tracemalloc.start()
    ds = datasets.NpyBitmaps(tmp_path, "all", part="all")
    img, label = ds[len(ds) - 1]        # the last row of the last class
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(ds) == 345 * rows and ds.classes == names
    assert peak < 50e6, f"{peak / 1e6:.0f} MB"
    assert label == 344 and img.shape == (28, 28) and img.dtype == torch.uint8
    i = 100 * rows + rows - 7           # class 100's known row
    assert ds[i][1] == 100 and int(ds[i][0][0, 0]) == 100 % 251 + 1


def test_splits_are_seeded_disjoint_and_by_key(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "star", "bird"])
    for kind in ("numpy_bitmap", "simplified"):
        parts = {p: datasets.make(kind, root / kind, part=p, seed=0) for p in ("train", "test", "all")}
        assert len(parts["train"]) + len(parts["test"]) == len(parts["all"])
        assert 0.2 < len(parts["test"]) / len(parts["all"]) < 0.4
        again = datasets.make(kind, root / kind, part="test", seed=0)
        other = datasets.make(kind, root / kind, part="test", seed=1)
        if kind == "numpy_bitmap":
            assert np.array_equal(again.starts, parts["test"].starts)
            assert not np.array_equal(other.starts, parts["test"].starts)
        else:
            assert np.array_equal(again.offsets, parts["test"].offsets)
            assert not np.array_equal(other.offsets, parts["test"].offsets)
    # ndjson: the part is a property of the key_id, not of the line's position
    p = root / "simplified" / "bird.ndjson"
    lines = p.read_text().splitlines()
    test_keys = {json.loads(lines[int(i)])["key_id"] for i in np.searchsorted(
        np.cumsum([0] + [len(x) + 1 for x in lines]), datasets.make("simplified", root / "simplified", ["bird"], part="test").offsets)}
    p.write_text("\n".join(lines[::-1]) + "\n")
    ds = datasets.make("simplified", root / "simplified", ["bird"], part="test")
    starts = np.cumsum([0] + [len(x) + 1 for x in lines[::-1]])
    assert {json.loads(lines[::-1][int(np.searchsorted(starts, o))])["key_id"] for o in ds.offsets} == test_keys


def test_strokes_render_on_the_fly_in_dataloader_workers(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "bird"], kinds=("simplified",))
    ds = datasets.NdjsonStrokes(root / "simplified", part="all")
    assert len(ds) == 25 + 250 and ds.offsets.dtype == np.uint64
    batches = list(DataLoader(ds, batch_size=32, num_workers=2))
    X = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert X.shape == (275, 28, 28) and y.tolist() == [0] * 25 + [1] * 250
    direct = render.render(data.load_drawings(data.strokes_path("bird", "first250"), limit=1)[0])
    assert np.array_equal(X[25].numpy(), direct)
    big = datasets.NdjsonStrokes(root / "simplified", ["apple"], part="all", size=64)
    assert big[0][0].shape == (64, 64)


def test_a_gzipped_or_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(QDError, match=r"class file\(s\) missing.*python -m qd.download"):
        datasets.NpyBitmaps(tmp_path, ["cat"])


# ----------------------------------------------------------------------------- end to end

@pytest.fixture
def mirror_server(tmp_path):
    root = datasets.write_mirror(tmp_path / "remote", ["apple", "star", "bird", "dog"])
    handler = type("H", (Handler,), {"root": root, "faults": {}, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_download_stream_train_checkpoint_predict(mirror_server, tmp_path):
    url, handler = mirror_server
    classes = ["apple", "star", "bird", "dog"]
    cache = tmp_path / "cache"
    npys = download.download(classes, "numpy_bitmap", cache, url, per_class=600, workers=4, progress=False)
    assert [p.parent.name for p in npys] == ["numpy_bitmap-first600"] * 4
    assert all(np.load(p).shape == (600, 784) for p in npys)
    np.testing.assert_array_equal(np.load(npys[1]), data.read_bitmap_file(data.BITMAP_DIR / "star.npz", 600).reshape(600, 784))
    nd = download.download(classes, "simplified", cache, url, per_class=20, workers=4, progress=False)
    assert all(len(data.load_drawings(p)) == 20 for p in nd)
    hits = len(handler.hits)
    download.download(classes, "numpy_bitmap", cache, url, per_class=600, workers=4, progress=False)
    assert len(handler.hits) == hits                        # resumable: what is there is not fetched again

    ds = datasets.NpyBitmaps(npys[0].parent, classes, part="train")
    cfg = train.TrainConfig(model="cnn", epochs=2, lr=3e-3, augment="flip", model_kw={"width": 8})
    out = tmp_path / "models" / "stream.pt"
    summary = distributed.fit_stream(ds, ds.classes, cfg, out, batch_size=64, workers=1, progress=False)
    assert summary["epochs_done"] == 2 and np.mean(summary["losses"][-5:]) < np.mean(summary["losses"][:5])
    p = Predictor(out)
    assert p.classes == classes
    star = data.load_drawings(data.strokes_path("star"), limit=5)
    probs = [p.predict_strokes(d)[0] for d in star]
    assert all(abs(q.sum() - 1) < 1e-4 for q in probs)
    assert sum(int(np.argmax(q)) == 1 for q in probs) >= 3    # it learned something real


def test_resume_continues_as_if_never_stopped(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "star", "cat"], kinds=("numpy_bitmap",))
    ds = datasets.NpyBitmaps(root / "numpy_bitmap", per_class=300)
    cfg = train.TrainConfig(model="cnn", epochs=2, augment="flip", model_kw={"width": 8})
    whole = distributed.fit_stream(ds, ds.classes, cfg, tmp_path / "a.pt", batch_size=64, workers=0, progress=False)
    per_epoch = len(ds) // 64                                   # stopped (killed) after the first epoch
    first = distributed.fit_stream(ds, ds.classes, cfg, tmp_path / "b.pt", batch_size=64, workers=0, progress=False,
                                   max_steps=per_epoch)
    assert first["epochs_done"] == 1
    resumed = distributed.fit_stream(ds, ds.classes, cfg, tmp_path / "b.pt", batch_size=64, workers=0,
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
                        "-m", "qd.distributed", "--data-dir",
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
    assert train.load_checkpoint(out)[1]["classes"] == ["apple", "cat", "fish", "star"]
