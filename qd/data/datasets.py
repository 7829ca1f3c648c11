"""Streaming torch Datasets for the whole Quick, Draw!: nothing concatenated, nothing read whole.

`NpyBitmaps` reads official `numpy_bitmap/<class>.npy` files memory-mapped, one map per class and
per process (opened lazily, so DataLoader workers each map the files themselves); a sample costs
one 784-byte read. `NdjsonStrokes` reads official `simplified/<class>.ndjson` files through a
line-offset index (8 bytes of offset and 8 of key_id per drawing) and renders each drawing with
`qd.data.render` when it is asked for: in DataLoader workers, on their cores.

Splits are deterministic and seeded, and need no list of rows in memory: a drawing is in the test
part when a hash of (seed, its key) falls below `test_fraction`. The key is the drawing's key_id in
ndjson, and (class, block of `block` consecutive rows) in .npy files, which carry no key_id; so 345
classes of 100,000+ rows each cost a few MB of index, not gigabytes.
"""
from __future__ import annotations

import json
import re
import warnings
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from qd.data import bitmaps, ndjson
from qd.data.render import render, render_batch
from qd.data.splits import in_part
from qd.errors import QDDataWarning, QDError


def _class_files(classes, folder: Path, suffix: str) -> tuple[list[str], list[Path]]:
    given = bitmaps.resolve_classes(classes)
    if given is not None and not given:
        raise QDError(f"no classes given ({classes!r})")
    classes = given if given is not None else \
        sorted(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}") if not p.name.startswith("."))
    if not classes:
        raise QDError(f"{folder}: no {suffix} class files")
    if len(set(classes)) != len(classes):
        raise QDError(f"class list has duplicates: {sorted({c for c in classes if classes.count(c) > 1})}")
    for c in classes:
        bitmaps.check_class_name(c)
    paths = [folder / f"{c}{suffix}" for c in classes]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise QDError(f"{len(missing)} class file(s) missing, first: {missing[0]} "
                      f"(fetch them with `python -m qd.data.download`)")
    return list(classes), paths


class NpyBitmaps(Dataset):
    """(uint8 image (28, 28), label) from official .npy files, memory-mapped per class."""

    def __init__(self, folder: str | Path, classes=None, part: str = "train", test_fraction: float = 0.3,
                 seed: int = 0, per_class: int | None = None, block: int = 100):
        self.folder = Path(folder)
        bitmaps.check_per_class(per_class)
        self.classes, self.paths = _class_files(classes, self.folder, ".npy")
        if block < 1:
            raise QDError(f"block must be >= 1, got {block}")
        starts, lengths, labels = [], [], []
        for label, p in enumerate(self.paths):
            n = self._rows(p)
            n = min(n, per_class) if per_class else n
            first = np.arange(0, n, block, dtype=np.int64)
            keys = (np.uint64(label) << np.uint64(32)) | first.astype(np.uint64) // np.uint64(block)
            keep = in_part(keys, part, test_fraction, seed)
            starts.append(first[keep])
            lengths.append(np.minimum(block, n - first[keep]))
            labels.append(np.full(keep.sum(), label, np.int32))
        self.starts, self.labels = np.concatenate(starts), np.concatenate(labels)
        self.ends = np.cumsum(np.concatenate(lengths))      # the dataset index where each block ends
        self._maps: dict[int, np.ndarray] = {}

    @staticmethod
    def _rows(p: Path) -> int:
        try:
            a = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise QDError(f"{p}: not a valid .npy file ({e})") from e
        if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 784:
            raise QDError(f"{p}: shape {a.shape} {a.dtype}, expected official (N, 784) uint8")
        n = a.shape[0]
        del a
        return n

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def __getstate__(self):             # DataLoader workers map the files themselves
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        j = int(np.searchsorted(self.ends, i, side="right"))
        row = int(self.starts[j] + i - (self.ends[j - 1] if j else 0))
        label = int(self.labels[j])
        if label not in self._maps:
            self._maps[label] = np.load(self.paths[label], mmap_mode="r")
        img = np.array(self._maps[label][row], np.uint8).reshape(28, 28)
        return torch.from_numpy(img), label


_KEY_ID = re.compile(rb'"key_id"\s*:\s*"?(\d+)')


def line_index(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(byte offset, key_id) of every non-blank line of an ndjson file, read in 4 MB pieces."""
    offsets, keys = [], []
    with open(path, "rb") as f:
        pos, rest = 0, b""
        while True:
            chunk = f.read(4 << 20)
            if not chunk:
                break
            buf = rest + chunk
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                line = buf[start:nl]
                if line.strip():
                    m = _KEY_ID.search(line)
                    offsets.append(pos + start)
                    keys.append(int(m.group(1)) % (1 << 63) if m else zlib.crc32(line))   # stable across runs
                start = nl + 1
            pos += start
            rest = buf[start:]
        if rest.strip():
            raise QDError(f"{path}: last line has no newline (a cut download?)")
    return np.asarray(offsets, np.uint64), np.asarray(keys, np.uint64)


SUBSTITUTES = 10   # bad drawings in a row that `NdjsonStrokes` steps over before it gives up


class NdjsonStrokes(Dataset):
    """(uint8 image (size, size), label) from official simplified .ndjson files, rendered on the fly.
    Only a line-offset index is kept; each item seeks to its line and parses it."""

    def __init__(self, folder: str | Path, classes=None, part: str = "train", test_fraction: float = 0.3,
                 seed: int = 0, per_class: int | None = None, size: int = 28):
        self.folder, self.size = Path(folder), size
        bitmaps.check_per_class(per_class)
        self.classes, self.paths = _class_files(classes, self.folder, ".ndjson")
        offsets, labels = [], []
        for label, p in enumerate(self.paths):
            off, keys = line_index(p)
            if per_class:
                off, keys = off[:per_class], keys[:per_class]
            keep = in_part(keys, part, test_fraction, seed)
            offsets.append(off[keep])
            labels.append(np.full(keep.sum(), label, np.int32))
        self.offsets, self.labels = np.concatenate(offsets), np.concatenate(labels)
        self._files: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.offsets)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_files"] = {}
        return state

    def _drawing(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        label = int(self.labels[i])
        f = self._files.get(label)
        if f is None:
            f = self._files[label] = open(self.paths[label], "rb")
        f.seek(int(self.offsets[i]))
        line = f.readline(ndjson.MAX_LINE_BYTES)
        where = f"{self.paths[label]}: byte {int(self.offsets[i])}"
        try:
            return ndjson.parse_drawing(json.loads(line), where), label, where
        except (ValueError, RecursionError) as e:
            raise QDError(f"{where}: not a valid drawing ({e})") from e


    def _rendered(self, i: int):
        """(image, label) of drawing i; a drawing that cannot be read or drawn is replaced by the next
        one that can (with a warning): a long run never dies on one bad line of a 100,000-line file."""
        for k in range(SUBSTITUTES + 1):
            j = (i + k) % len(self)
            try:
                d, label, where = self._drawing(j)
                img = render(d, size=self.size, where=where)
            except QDError as e:
                warnings.warn(f"skipped a drawing that cannot be used ({e}); its neighbour takes its place",
                              QDDataWarning, stacklevel=2)
                continue
            return torch.from_numpy(img), label
        raise QDError(f"{self.folder}: {SUBSTITUTES + 1} drawings in a row from index {i} cannot be used")

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._rendered(i)

    def __getitems__(self, indices: list[int]):
        """A whole batch at once (the DataLoader asks for it so): one `render_batch` on the atlas,
        about 3x cheaper a drawing than one at a time; one at a time if a drawing of it is bad."""
        try:
            items = [self._drawing(i) for i in indices]
            images = render_batch([d for d, _, _ in items], self.size, where=[w for _, _, w in items])
        except QDError:
            return [self._rendered(i) for i in indices]
        return [(torch.from_numpy(img), label) for img, (_, label, _) in zip(images, items)]


def make(kind: str, folder, classes=None, **kw) -> Dataset:
    """A dataset by file kind: 'numpy_bitmap' (NpyBitmaps) or 'simplified' (NdjsonStrokes)."""
    if kind == "numpy_bitmap":
        return NpyBitmaps(folder, classes, **kw)
    if kind == "simplified":
        return NdjsonStrokes(folder, classes, **kw)
    raise QDError(f"dataset kind must be numpy_bitmap or simplified, got {kind!r}")


def write_mirror(root: str | Path, classes: Sequence[str], kinds=("numpy_bitmap", "simplified"),
                 repeat: int = 1) -> Path:
    """An official-layout folder (`numpy_bitmap/<class>.npy`, `simplified/<class>.ndjson`) built from
    the bundled data: for tests, benchmarks and a local mirror (`QD_BASE_URL`). `repeat` repeats the
    stroke lines (with new key_ids) to make bigger files."""
    root = Path(root)
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
    for c in classes:
        if "numpy_bitmap" in kinds:
            np.save(root / "numpy_bitmap" / f"{c}.npy", bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz").reshape(-1, 784))
        if "simplified" in kinds:
            kind = "first250" if c in ndjson.stroke_classes("first250") else "simplified"
            lines = []
            for r in range(repeat):
                for d in ndjson.iter_drawings(ndjson.strokes_path(c, kind)):
                    lines.append(json.dumps({"word": d.word, "countrycode": d.countrycode, "timestamp": d.timestamp,
                                             "recognized": d.recognized, "key_id": f"{int(d.key_id or 0) + r}",
                                             "drawing": [s.astype(int).tolist() for s in d.strokes]}))
            (root / "simplified" / f"{c}.ndjson").write_text("\n".join(lines) + "\n")
    return root
