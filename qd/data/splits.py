"""Every split of the project, deterministic and seeded.

- `split`: a stratified split of in-memory bitmaps into train/test (and validation) parts.
- `hash_fraction` / `in_part`: a hash of (seed, key) per drawing, for streams and stroke drawings that
  cannot be held in memory: a drawing lands in the same part whatever file or order it comes in.
- `split_by_key`: the stroke drawings' split (train and test indices by key_id).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qd import checks
from qd.errors import QDError

PARTS = ("train", "test", "all")


@dataclass
class Split:
    """Train/test (and optional validation) parts of a `qd.data.bitmaps.Bitmaps`."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def sizes(self) -> dict[str, int]:
        s = {"train": len(self.y_train), "test": len(self.y_test)}
        if self.y_val is not None:
            s["val"] = len(self.y_val)
        return s


def split(data, test_size: float = 0.3, val_size: float = 0.0, seed: int = 0) -> Split:
    """Stratified, seeded split: same seed, same split. `val_size` is a fraction of the whole set,
    taken out of the training part (the reference protocol: test_size=0.3, no validation)."""
    if not 0 < test_size < 1 or not 0 <= val_size < 1 or test_size + val_size >= 1:
        raise QDError(f"bad split fractions: test_size={test_size}, val_size={val_size}")
    y = np.asarray(data.y)
    if y.ndim != 1 or len(y) != len(data.X) or not np.issubdtype(y.dtype, np.integer) \
            or (len(y) and (y.min() < 0 or y.max() >= len(data.classes))):
        raise QDError(f"labels must be {len(data.X)} whole numbers in 0..{len(data.classes) - 1} (one per image), "
                      f"got shape {y.shape} {y.dtype}" + (f", range {y.min()}..{y.max()}" if len(y) else ""))
    # scikit-learn (with pandas and scipy) costs a demo kernel ~110 MB and 1.4 s to import; only
    # this split needs it, and the demo never splits
    from sklearn.model_selection import train_test_split
    counts = np.bincount(y, minlength=len(data.classes))
    if (counts < 2).any():
        few = [f"{c} ({n})" for c, n in zip(data.classes, counts) if n < 2]
        raise QDError(f"a stratified split needs at least 2 drawings of every class; too few: {', '.join(few)}")
    idx = np.arange(len(data.y))
    try:
        tr, te = train_test_split(idx, test_size=test_size, stratify=data.y, random_state=seed)
        va = None
        if val_size > 0:
            tr, va = train_test_split(tr, test_size=val_size / (1 - test_size), stratify=data.y[tr],
                                      random_state=seed)
    except ValueError as e:  # e.g. a test part smaller than the number of classes
        raise QDError(f"cannot split {len(idx)} drawings of {len(data.classes)} classes "
                      f"(test_size={test_size}, val_size={val_size}): {e}") from e
    return Split(data.X[tr], data.y[tr], data.X[te], data.y[te], list(data.classes),
                 None if va is None else data.X[va], None if va is None else data.y[va])



def first_per_class(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first `n` items of every class in `y` (all of a smaller class), in order. On a
    shuffled training part this is a seeded random subset: the learning curve's smaller sets."""
    y = np.asarray(y)
    keep = np.zeros(len(y), bool)
    for c in np.unique(y):
        keep[np.flatnonzero(y == c)[:n]] = True
    return np.flatnonzero(keep)





def hash_fraction(keys: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (key, seed) mapped to [0, 1): a fixed, uniform-looking number per key."""
    with np.errstate(over="ignore"):
        z = np.asarray(keys, np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def in_part(keys: np.ndarray, part: str, test_fraction: float, seed: int) -> np.ndarray:
    """A mask of the keys in `part` ("train", "test" or "all") of the hashed split."""
    if part not in PARTS:
        raise QDError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if not 0 < test_fraction < 1:
        raise QDError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if part == "all":
        return np.ones(len(keys), bool)
    test = hash_fraction(keys, seed) < test_fraction
    return test if part == "test" else ~test


def split_by_key(keys: np.ndarray, key_ids, test_fraction: float = 0.3, seed: int = 0,
                 exclude_from_test: set | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) of drawings by their hashed keys. `key_ids`: each drawing's
    key_id; those in `exclude_from_test` (e.g. drawings that are also bitmap rows a pretrained model
    saw) are never tested on and stay in training."""
    checks.number(test_fraction, "test_fraction", 0.0, 1.0)
    test = hash_fraction(keys, seed) < test_fraction
    if exclude_from_test:
        test &= ~np.array([k in exclude_from_test for k in key_ids], bool)
    return np.flatnonzero(~test), np.flatnonzero(test)
