"""28x28 bitmaps: the bundled `data/bitmaps/<class>.npz` files or official `numpy_bitmap/<class>.npy`
files (see `qd.data.download`), the official class list, and the named evaluation protocols."""
from __future__ import annotations

import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qd import checks
from qd.data.splits import Split, split
from qd.errors import QDDataWarning, QDError
from qd.paths import DATA_DIR

BITMAP_DIR = DATA_DIR / "bitmaps"
IMAGE_SIZE = 28

# The reference project's classes were cannon, eye, face, nail, pear, piano, radio, spider, star and
# sword; only eye and star are among the bundled bitmaps. Its protocol on bundled data: 10 of the 13
# bundled classes (left out: the simple shapes circle, square and diamond).
REFERENCE_PROTOCOL_CLASSES = ["airplane", "apple", "bicycle", "cat", "crown", "eye", "fish", "skull",
                              "smiley face", "star"]
# The 13 classes bundled first, kept as a protocol for continuity with earlier reports.
THIRTEEN_CLASSES = ["airplane", "apple", "bicycle", "cat", "circle", "crown", "diamond", "eye", "fish", "skull",
                    "smiley face", "square", "star"]
# Evaluation protocols: (classes, cap per class). All split 70/30, stratified, seeded. `None`: every
# bundled class (40); classes with fewer drawings than the cap are taken whole.
PROTOCOLS = {
    "40 classes": (None, 3000),
    "13 classes": (THIRTEEN_CLASSES, 3000),
    "reference": (REFERENCE_PROTOCOL_CLASSES, 3000),
}
CLASSES_FILE = DATA_DIR / "classes.txt"


def check_class_name(name: str) -> str:
    """A class name becomes a file name: no path separators, no hidden or parent names."""
    if not isinstance(name, str) or not name.strip() or any(ch in name for ch in "/\\\0") \
            or name.startswith(".") or name != name.strip():
        raise QDError(f"bad class name {name!r}: it must be a plain name, e.g. 'smiley face' "
                      "(no path separators, no leading dot or spaces)")
    return name


def check_per_class(per_class) -> None:
    """A `QDError` unless `per_class` is None (every drawing, or a protocol's cap) or a whole number >= 1."""
    if per_class is not None:
        checks.integer(per_class, "per_class", 1)   # (None: every drawing)


def all_classes() -> list[str]:
    """The 345 official class names (data/classes.txt), as the official files spell them."""
    return [line for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def resolve_classes(classes) -> list[str] | None:
    """`"all"` -> the 345 official names; a comma-separated string -> a list; a list stays; None stays."""
    if isinstance(classes, str):
        if classes.strip().lower() == "all":
            return all_classes()
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    # NFC: 'café' typed as e + combining accent is the same name as the file's
    return None if classes is None else [unicodedata.normalize("NFC", c) if isinstance(c, str) else c for c in classes]



def available_classes(data_dir: str | Path | None = None) -> list[str]:
    """Class names with a bitmap file (`.npz` or `.npy`) in `data_dir`, sorted."""
    d = Path(data_dir) if data_dir is not None else BITMAP_DIR
    if d.exists() and not d.is_dir():
        raise QDError(f"{d}: is a file, expected a folder of <class>.npz or <class>.npy files")
    if not d.is_dir():
        raise QDError(f"{d}: bitmap folder does not exist")
    return sorted({unicodedata.normalize("NFC", p.stem) for p in d.iterdir()
                   if p.suffix in (".npz", ".npy") and not p.name.startswith(".")})


def _bitmap_path(name: str, d: Path) -> Path:
    check_class_name(name)
    for suffix in (".npz", ".npy"):
        p = d / f"{name}{suffix}"
        if p.is_file():
            return p
    known = available_classes(d)
    for p in d.iterdir():             # the file's name in another Unicode normal form (macOS writes NFD)
        if p.suffix in (".npz", ".npy") and unicodedata.normalize("NFC", p.stem) == unicodedata.normalize("NFC", name):
            return p
    raise QDError(f"unknown class {name!r}: no {name}.npz or {name}.npy in {d} "
                  f"(available: {', '.join(known) or 'none'})")


def check_npy_magic(path: Path, where: str | None = None) -> None:
    """A `QDError` unless the file starts as an .npy does (an HTML error page saved as .npy, say)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if not head.startswith(b"\x93NUMPY"):
        text = head[:40].decode("utf-8", "replace")
        raise QDError(f"{where or path}: not a .npy file (it starts with {text!r}; an error page saved as data?)")


def read_bitmap_file(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Read one class file (`.npz` with key `bitmaps`, or an official `.npy`) as uint8 (N, 28, 28).

    Official `.npy` files are memory-mapped, so `limit` rows of a 100k-row file cost `limit` rows.
    """
    path = Path(path)
    if not path.exists():
        raise QDError(f"{path}: file not found")
    if not path.is_file():
        raise QDError(f"{path}: {'is a folder' if path.is_dir() else 'not a regular file'}, expected a bitmap file")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise QDError(f"limit must be a whole number >= 0, got {limit!r}")
    if path.suffix == ".npy":
        check_npy_magic(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "bitmaps" not in z.files:
                    raise QDError(f"{path}: npz has no 'bitmaps' array (has: {', '.join(z.files) or 'nothing'})")
                a = z["bitmaps"]
        else:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
    except QDError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy/zipfile/tokenize raise many kinds for corrupt or hostile files
        raise QDError(f"{path}: not a valid numpy file ({type(e).__name__}: {e})") from e
    if not isinstance(a, np.ndarray):  # a zip member that is not in .npy format comes back as bytes
        raise QDError(f"{path}: not a valid numpy file (its 'bitmaps' member is not an array)")
    if a.dtype != np.uint8:
        raise QDError(f"{path}: dtype is {a.dtype}, expected uint8 bitmaps (0..255)")
    if a.ndim == 2 and a.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        pass
    elif a.ndim == 3 and a.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE):
        pass
    else:
        raise QDError(f"{path}: shape is {a.shape}, expected (N, 784) or (N, 28, 28)")
    if limit is not None:
        a = a[:limit]
    return np.ascontiguousarray(a).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


@dataclass
class Bitmaps:
    """Images (N, 28, 28) uint8, ink bright on black; labels index into `classes`."""
    X: np.ndarray
    y: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        return {c: int(n) for c, n in zip(self.classes, np.bincount(self.y, minlength=len(self.classes)))}


def load_bitmaps(classes: Sequence[str] | None = None, per_class: int | None = 3000,
                 data_dir: str | Path | None = None) -> Bitmaps:
    """Load the first `per_class` drawings of each class (all of them if None).

    `classes` defaults to every class in `data_dir` (the bundled `data/bitmaps`). A class with fewer
    drawings than asked gives what it has, with a warning saying so.
    """
    d = Path(data_dir) if data_dir is not None else BITMAP_DIR
    classes = resolve_classes(classes)
    classes = classes if classes is not None else available_classes(d)
    if not classes:
        raise QDError("no classes given")
    if len(set(classes)) != len(classes):
        raise QDError(f"class list has duplicates: {classes}")
    check_per_class(per_class)
    paths = [_bitmap_path(c, d) for c in classes]  # fail on an unknown class before reading any
    xs, ys = [], []
    for i, (c, p) in enumerate(zip(classes, paths)):
        a = read_bitmap_file(p, per_class)
        if per_class is not None and len(a) < per_class:
            warnings.warn(f"{p}: class {c!r} has {len(a)} drawings, fewer than per_class={per_class}",
                          QDDataWarning, stacklevel=2)
        xs.append(a)
        ys.append(np.full(len(a), i, dtype=np.int64))
    return Bitmaps(np.concatenate(xs), np.concatenate(ys), classes)


def _protocol(name: str, per_class: int | None) -> tuple[list[str] | None, int]:
    """A named protocol's classes and cap, once its name and `per_class` are checked."""
    if name not in PROTOCOLS:
        raise QDError(f"unknown protocol {name!r}; one of {', '.join(PROTOCOLS)}")
    check_per_class(per_class)
    return PROTOCOLS[name]


def load_protocol(name: str, per_class: int | None = None, seed: int = 0, val_size: float = 0.0) -> "Split":
    """The seeded 70/30 split of a named protocol (see `PROTOCOLS`); `per_class` lowers the cap
    (tiny runs). Short classes are taken whole, silently: that is the protocol. `val_size` carves a
    validation part out of the training part; the test part stays the same."""
    classes, cap = _protocol(name, per_class)
    cap = min(cap, per_class) if per_class else cap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QDDataWarning)
        ds = load_bitmaps(classes, per_class=cap)
    return split(ds, test_size=0.3, val_size=val_size, seed=seed)


def past_cap(name: str, per_class: int | None = None) -> Bitmaps:
    """The bundled rows of a protocol's classes past its cap (rows 3000 on of a 5,000-row file): in
    none of its parts, so more training drawings that leave its test split as it is. Classes in the
    protocol's order; a class with no rows past the cap adds none; `per_class`: at most that many a
    class (tiny runs)."""
    classes, cap = _protocol(name, per_class)
    classes = classes if classes is not None else available_classes(BITMAP_DIR)
    xs = [read_bitmap_file(_bitmap_path(c, BITMAP_DIR))[cap:][:per_class] for c in classes]
    return Bitmaps(np.concatenate(xs), np.repeat(np.arange(len(classes)), [len(a) for a in xs]), classes)

