"""Streaming datasets over official files: memory-mapped .npy, ndjson rendered in workers."""
import json
import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from qd import QDDataWarning, QDError
from qd.data import bitmaps, datasets, ndjson, render


def test_345_official_files_memory_mapped_in_a_small_budget(tmp_path):
    """345 files of the official shape (sparse: 27 GB apparent, a few kB on disk)."""
    names = bitmaps.all_classes()
    assert len(names) == 345 and bitmaps.resolve_classes("all") == names
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


def test_strokes_render_on_the_fly_in_dataloader_workers(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "bird"], kinds=("simplified",))
    ds = datasets.NdjsonStrokes(root / "simplified", part="all")
    assert len(ds) == 25 + 250 and ds.offsets.dtype == np.uint64
    batches = list(DataLoader(ds, batch_size=32, num_workers=2))
    X = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert X.shape == (275, 28, 28) and y.tolist() == [0] * 25 + [1] * 250
    direct = render.render(ndjson.load_drawings(ndjson.strokes_path("bird", "first250"), limit=1)[0])
    assert np.array_equal(X[25].numpy(), direct)
    big = datasets.NdjsonStrokes(root / "simplified", ["apple"], part="all", size=64)
    assert big[0][0].shape == (64, 64)


def test_a_gzipped_or_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(QDError, match=r"class file\(s\) missing.*python -m qd.data.download"):
        datasets.NpyBitmaps(tmp_path, ["cat"])


def test_a_bad_per_class_or_a_repeated_class_is_refused(tmp_path):
    root = datasets.write_mirror(tmp_path, ["cat", "star"])
    for kind in ("numpy_bitmap", "simplified"):
        with pytest.raises(QDError, match="per_class must be a whole number"):
            datasets.make(kind, root / kind, per_class=-5)
        with pytest.raises(QDError, match=r"duplicates: \['cat'\]"):
            datasets.make(kind, root / kind, ["cat", "cat"])
        with pytest.raises(QDError, match="no classes given"):
            datasets.make(kind, root / kind, "")


def test_one_bad_drawing_never_stops_a_stream(tmp_path):
    """A single tap is a drawing (rendered as a dot); a line that cannot be drawn is replaced by its
    neighbour with a warning, also inside a DataLoader batch."""
    root = datasets.write_mirror(tmp_path, ["star"], kinds=("simplified",))
    path = root / "simplified" / "star.ndjson"
    lines = path.read_text().splitlines()
    lines[3] = json.dumps({"word": "star", "key_id": "1", "drawing": [[[5], [5]]]})                  # a tap
    lines[5] = json.dumps({"word": "star", "key_id": "2", "drawing": [[[0] * 100_001, [0] * 100_001]]})  # too big
    path.write_text("\n".join(lines) + "\n")
    ds = datasets.NdjsonStrokes(root / "simplified", part="all")
    assert ds[3][0].numpy().max() > 0
    with pytest.warns(QDDataWarning, match="its neighbour takes its place"):
        batch = ds.__getitems__(list(range(len(ds))))
    assert len(batch) == len(ds) and all(img.max() > 0 for img, _ in batch)
    with pytest.warns(QDDataWarning):
        n = sum(len(y) for _, y in DataLoader(ds, batch_size=8, num_workers=0))
    assert n == len(ds)
