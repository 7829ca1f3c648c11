"""Strokes as model input: the bundled stroke drawings as one deduplicated set, and the encodings
that keep what a 28x28 bitmap throws away (the order and timing of the strokes).

- `collect`: every bundled stroke drawing (simplified, raw, first250) of the asked classes, one per
  key_id (the same drawing often sits in two files), with a seeded split by key_id.
- `to_sequence`: the stroke-3 format of Google's RNN tutorial and sketch-rnn: one row per point,
  (dx, dy, end of stroke), coordinates scaled to 0..1, padded to a fixed length.
- `order_channels`: a 3-channel image: the ink, the ink weighted by stroke order (first strokes
  brightest), and by when the stroke began (raw drawings: its timestamp; simplified: its place in the
  drawing). The Kaggle doodle winners drew order and time into channels like these.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qd import data, render
from qd.errors import QDError


@dataclass
class StrokeSet:
    """Deduplicated drawings with labels into `classes`, and where each came from."""
    drawings: list
    y: np.ndarray
    classes: list[str]
    kinds: list[str]

    def __len__(self) -> int:
        return len(self.drawings)

    @property
    def keys(self) -> np.ndarray:
        return np.array([int(d.key_id) % (1 << 63) if d.key_id.isdigit() else zlib.crc32(d.source.encode()) for d in self.drawings],
                        np.uint64)


def dedupe(drawings: Sequence) -> list:
    """The first drawing of every key_id (drawings without one are all kept)."""
    seen, out = set(), []
    for d in drawings:
        if d.key_id and d.key_id in seen:
            continue
        seen.add(d.key_id)
        out.append(d)
    return out


def collect(classes: Sequence[str] | str = "all", kinds: Sequence[str] = ("first250", "simplified", "raw")) -> StrokeSet:
    """Every bundled stroke drawing of `classes` ("all": the 345), deduplicated by key_id; the
    simplified copy of a drawing is kept before its raw copy (it is what the files were made from)."""
    classes = data.resolve_classes(classes)
    drawings, y, where = [], [], []
    for label, c in enumerate(classes):
        found = []
        for kind in kinds:
            if c in data.stroke_classes(kind):
                found += [(d, kind) for d in data.iter_drawings(data.strokes_path(c, kind))]
        seen = set()
        for d, kind in found:
            if d.key_id and d.key_id in seen:
                continue
            seen.add(d.key_id)
            drawings.append(d)
            y.append(label)
            where.append(kind)
    if not drawings:
        raise QDError(f"no bundled stroke drawings of {', '.join(classes[:5])}")
    return StrokeSet(drawings, np.asarray(y, np.int64), list(classes), where)


def split(ss: StrokeSet, test_fraction: float = 0.3, seed: int = 0, exclude_from_test: set | None = None):
    """(train indices, test indices), seeded by key_id: a drawing lands in the same part whatever
    file or order it comes in. `exclude_from_test`: key_ids never tested on (e.g. drawings that are
    also bitmap rows a pretrained model saw); they stay in training."""
    from qd.datasets import hash_fraction
    test = hash_fraction(ss.keys, seed) < test_fraction
    if exclude_from_test:
        test &= ~np.array([d.key_id in exclude_from_test for d in ss.drawings])
    return np.flatnonzero(~test), np.flatnonzero(test)


def bitmap_twins(ss: StrokeSet, max_mae: float = 4.0) -> set[str]:
    """key_ids of stroke drawings that are also rows of the bundled bitmaps (found by rendering)."""
    twins = set()
    bitmap_classes = set(data.available_classes())
    for label, c in enumerate(ss.classes):
        if c not in bitmap_classes:
            continue
        idx = np.flatnonzero(ss.y == label)
        official = data.read_bitmap_file(data.BITMAP_DIR / f"{c}.npz")
        for i, _, _ in render.match_official([ss.drawings[k] for k in idx], official, max_mae=max_mae):
            twins.add(ss.drawings[idx[i]].key_id)
    return twins


# ----------------------------------------------------------------------------- encodings

def to_sequence(drawing, max_len: int = 128) -> tuple[np.ndarray, int]:
    """(float32 (max_len, 3), length): per point, (dx, dy) from the previous point (the first point:
    its position) in units of the 0..255 box / 255, and 1.0 on the last point of each stroke.
    Raw drawings are simplified first, like the official files; longer drawings are cut."""
    where = getattr(drawing, "source", "") or "drawing"
    pts, lens = render._points(drawing, where, simplify_raw=True)
    pts = pts.T / 255.0
    seq = np.zeros((max_len, 3), np.float32)
    n = min(len(pts), max_len)
    d = np.diff(pts, axis=0, prepend=np.zeros((1, 2)))
    seq[:n, :2] = d[:n]
    ends = np.cumsum(lens) - 1
    seq[ends[ends < n], 2] = 1.0
    return seq, n


def sequences(drawings: Sequence, max_len: int = 128) -> np.ndarray:
    return np.stack([to_sequence(d, max_len)[0] for d in drawings])


def order_channels(drawing, size: int = 28) -> np.ndarray:
    """uint8 (3, size, size): ink; ink by stroke order (1.0 for the first stroke down to 0.25 for the
    last); ink by when each stroke began (raw: its timestamp over the drawing's duration; otherwise
    its first point's place among all points)."""
    where = getattr(drawing, "source", "") or "drawing"
    pts, lens = render._points(drawing, where, simplify_raw=True)
    k = len(lens)
    atlas = render._atlas(size, 1 << (k - 1).bit_length())
    tiles = atlas.draw(pts, np.asarray(lens), np.ones(k, np.int64),
                       hi=np.repeat(pts.max(axis=1)[:, None], k, axis=1)).astype(np.float32) / 255
    ink = 1 - np.prod(1 - tiles, axis=0)                     # the strokes composited, as `render` draws them
    order = 1 - 0.75 * np.arange(k) / max(k - 1, 1)
    raw = drawing.strokes if hasattr(drawing, "strokes") else drawing
    starts = None
    if len(raw) == k and all(len(s) == 3 for s in raw):
        t = np.array([float(np.asarray(s[2])[0]) for s in raw])
        if t.max() > t.min():
            starts = (t - t.min()) / (t.max() - t.min())
    if starts is None:
        starts = (np.cumsum(lens) - lens) / max(sum(lens) - 1, 1)
    when = 1 - 0.75 * starts
    out = np.stack([ink, (tiles * order[:, None, None]).max(0), (tiles * when[:, None, None]).max(0)])
    return np.round(out * 255).astype(np.uint8)


def encode(kind: str, drawings: Sequence, size: int = 28, max_len: int = 128) -> np.ndarray:
    """A batch in one of the model inputs: 'image' (N, size, size) uint8, 'channels' (N, 3, size,
    size) uint8, or 'sequence' (N, max_len, 3) float32."""
    if kind == "image":
        return render.render_batch(list(drawings), size)
    if kind == "channels":
        return np.stack([order_channels(d, size) for d in drawings])
    if kind == "sequence":
        return sequences(drawings, max_len)
    raise QDError(f"unknown input kind {kind!r}; image, channels or sequence")


def task_split(ss: StrokeSet, train_idx: np.ndarray, test_idx: np.ndarray, kind: str = "image", size: int = 28,
               max_len: int = 128):
    """A `qd.data.Split` of the drawings encoded as `kind` (see `encode`), for `qd.evaluate.fit_and_score`."""
    enc = encode(kind, [ss.drawings[i] for i in np.concatenate([train_idx, test_idx])], size, max_len)
    n = len(train_idx)
    return data.Split(enc[:n], ss.y[train_idx], enc[n:], ss.y[test_idx], list(ss.classes))


def latency_ms(predict, kind: str, drawing, size: int = 28, max_len: int = 128, repeats: int = 30) -> float:
    """Median milliseconds from strokes to probabilities for one drawing: encoding plus model."""
    import time
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict(encode(kind, [drawing], size, max_len))
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3
