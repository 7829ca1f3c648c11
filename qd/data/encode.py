"""Stroke drawings as model input, keeping what a 28x28 bitmap throws away (stroke order and timing):

- `to_sequence`: the stroke-3 format of Google's RNN tutorial and sketch-rnn: one row per point,
  (dx, dy, end of stroke), coordinates scaled to 0..1, padded to a fixed length.
- `order_channels`: a 3-channel image: the ink, the ink weighted by stroke order (first strokes
  brightest), and by when the stroke began (raw drawings: its timestamp; simplified: its place in the
  drawing). The Kaggle doodle winners drew order and time into channels like these.
- `encode`: a batch in any of the model inputs ('image', 'channels', 'sequence').
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from qd import checks
from qd.data.geometry import points
from qd.data.render import atlas, render_batch
from qd.data.splits import Split
from qd.data.strokes import StrokeSet
from qd.errors import QDError

INPUT_KINDS = ("image", "channels", "sequence")


def check_max_len(max_len) -> None:
    checks.integer(max_len, "max_len", 1, 100_000)


def to_sequence(drawing, max_len: int = 128) -> tuple[np.ndarray, int]:
    """(float32 (max_len, 3), length): per point, (dx, dy) from the previous point (the first point:
    its position) in units of the 0..255 box / 255, and 1.0 on the last point of each stroke.
    Raw drawings are simplified first, like the official files; longer drawings are cut."""
    where = getattr(drawing, "source", "") or "drawing"
    check_max_len(max_len)
    pts, lens = points(drawing, where, simplify_raw=True)
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
    pts, lens = points(drawing, where, simplify_raw=True)
    k = len(lens)
    tiles = atlas(size, 1 << (k - 1).bit_length()).draw(pts, np.asarray(lens), np.ones(k, np.int64),
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
        return render_batch(list(drawings), size)
    if kind == "channels":
        return np.stack([order_channels(d, size) for d in drawings])
    if kind == "sequence":
        return sequences(drawings, max_len)
    raise QDError(f"unknown input kind {kind!r}; image, channels or sequence")


def task_split(ss: StrokeSet, train_idx: np.ndarray, test_idx: np.ndarray, kind: str = "image", size: int = 28,
               max_len: int = 128):
    """A `qd.data.splits.Split` of the drawings encoded as `kind` (see `encode`), for `qd.report.scoring.train_and_score`."""
    enc = encode(kind, [ss.drawings[i] for i in np.concatenate([train_idx, test_idx])], size, max_len)
    n = len(train_idx)
    return Split(enc[:n], ss.y[train_idx], enc[n:], ss.y[test_idx], list(ss.classes))
