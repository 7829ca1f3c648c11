"""The bundled stroke drawings as one set: every drawing of the asked classes from the simplified, raw
and first250 files, one per key_id (the same drawing often sits in two files), with a seeded split by
key_id, and the drawings that are also rows of the bundled bitmaps found by rendering them."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qd import checks
from qd.data import bitmaps, ndjson
from qd.data.render import render_many
from qd.data.splits import split_by_key
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

    def train_test_indices(self, test_fraction: float = 0.3, seed: int = 0,
                           exclude_from_test: set | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, test indices), seeded by key_id (`qd.data.splits.split_by_key`): a drawing
        lands in the same part whatever file or order it comes in. `exclude_from_test`: key_ids never
        tested on (e.g. drawings that are also bitmap rows a pretrained model saw)."""
        return split_by_key(self.keys, [d.key_id for d in self.drawings], test_fraction, seed, exclude_from_test)


STROKE_TEST = 0.3     # the stroke task's test share, by hashed key_id: the game replay's drawings too


def stroke_split(classes=None, seed: int = 0) -> tuple[StrokeSet, np.ndarray, np.ndarray]:
    """(stroke set, train indices, test indices) of the stroke task: bundled drawings deduplicated
    by key_id; drawings that are also bundled bitmap rows never tested on. The split hashes key_ids,
    so a drawing is in the same part for any subset of classes: the 40-class model learns partial
    drawings only from the part the 345-class model trains on, and the game replay plays the rest."""
    ss = collect(classes if classes is not None else "all")
    return (ss, *ss.train_test_indices(STROKE_TEST, seed, exclude_from_test=bitmap_twins(ss)))


def raw_unlike_bitmaps(classes: Sequence[str], max_mae: float = 4.0) -> list:
    """The bundled raw drawings of `classes` that are no row of the bundled bitmaps (rendered and
    matched against their class's file): drawings a model trained on the bitmaps never saw. Most
    bundled raw drawings are early rows of the official files, and so are the bitmaps; these are
    the rest, the drawings the demo model's game replay plays (and never learns from)."""
    have = set(bitmaps.available_classes())
    out = []
    for c in bitmaps.resolve_classes(classes):
        raw = ndjson.load_drawings(ndjson.strokes_path(c, "raw"))
        if c in have and raw:
            raw = without_twins(raw, bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz"), max_mae)
        out += raw
    return out


def without_twins(drawings: Sequence, rows: np.ndarray, max_mae: float = 4.0) -> list:
    """The drawings that are none of the bitmap `rows` (e.g. rows a model trained on), found by
    rendering them (`match_official`)."""
    twins = {i for i, _, _ in match_official(drawings, rows, max_mae=max_mae)}
    return [d for i, d in enumerate(drawings) if i not in twins]


def recognised_examples(word: str, n: int = 4) -> list:
    """The first `n` bundled simplified drawings of `word` that Google's game recognised, in file
    order (deterministic): how other people drew it, as the game's results show."""
    checks.integer(n, "n", 0)
    out = []
    for d in ndjson.iter_drawings(ndjson.strokes_path(word, "simplified")):
        if len(out) >= n:
            break
        if d.recognized:
            out.append(d)
    return out


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
    classes = checks.names(bitmaps.resolve_classes(classes), "classes")
    drawings, y, where = [], [], []
    for label, c in enumerate(classes):
        found = []
        for kind in kinds:
            if c in ndjson.stroke_classes(kind):
                found += [(d, kind) for d in ndjson.iter_drawings(ndjson.strokes_path(c, kind))]
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


def bitmap_twins(ss: StrokeSet, max_mae: float = 4.0) -> set[str]:
    """key_ids of stroke drawings that are also rows of the bundled bitmaps (found by rendering)."""
    twins = set()
    bitmap_classes = set(bitmaps.available_classes())
    for label, c in enumerate(ss.classes):
        if c not in bitmap_classes:
            continue
        idx = np.flatnonzero(ss.y == label)
        official = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz")
        for i, _, _ in match_official([ss.drawings[k] for k in idx], official, max_mae=max_mae):
            twins.add(ss.drawings[idx[i]].key_id)
    return twins


def match_official(drawings: Sequence, bitmaps: np.ndarray, max_mae: float = 6.0, candidates: int = 8):
    """Find which official bitmap each stroke drawing is, by rendering it and taking the nearest row.

    Returns a list of (drawing index, bitmap index, mean absolute error in 0..255 units) for the
    drawings whose nearest bitmap is within `max_mae` (true pairs are ~0-5 apart, unrelated doodles > 8).
    The `candidates` nearest rows by Euclidean distance (one matrix product) are scored by absolute
    error, so matching thousands of drawings against thousands of rows stays fast.
    """
    if len(drawings) == 0 or len(bitmaps) == 0:
        return []
    rendered = render_many(drawings).reshape(len(drawings), -1).astype(np.float32)
    flat = np.asarray(bitmaps).reshape(len(bitmaps), -1).astype(np.float32)
    d2 = (rendered ** 2).sum(1)[:, None] - 2 * rendered @ flat.T + (flat ** 2).sum(1)[None, :]
    k = min(candidates, len(flat))
    near = np.argpartition(d2, k - 1, axis=1)[:, :k]
    out = []
    for i, r in enumerate(rendered):
        mae = np.abs(flat[near[i]] - r).mean(axis=1)
        j = int(near[i][mae.argmin()])
        if mae.min() <= max_mae:
            out.append((i, j, float(mae.min())))
    return out


