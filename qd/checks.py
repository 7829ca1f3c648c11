"""The checks a public function makes of its arguments at the boundary, one helper per kind, so a
bad value is a `QDError` naming it (never NaN passed on, never a bool taken for a number)."""
from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Hashable
from pathlib import Path

import numpy as np

from qd.errors import QDError


def number(value, name: str, lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> float:
    """`value` as a finite float within [lo, hi] ((lo, hi] with `lo_open`), else a `QDError` naming `name`."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)   # numpy's too
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        span = f" in {'(' if lo_open else '['}{lo}, {hi}]" if lo is not None and hi is not None else \
            (f" {'above' if lo_open else 'at least'} {lo}" if lo is not None else "")
        raise QDError(f"{name} must be a finite number{span}, got {value!r}")
    return float(value)


def probability(value, name: str = "probability") -> float:
    """A probability: a finite number in [0, 1]."""
    return number(value, name, 0.0, 1.0)


def whole(value) -> bool:
    """Whether `value` is a whole number: Python's or numpy's int, never a bool or a float (40.0)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def integer(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """`value` as a whole number (Python's or numpy's int; never a bool, a float or a string) within
    [lo, hi], else a `QDError` naming `name`."""
    ok = whole(value)
    if ok and lo is not None:
        ok = value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        span = f" in {lo}..{hi}" if lo is not None and hi is not None else \
            (f" >= {lo}" if lo is not None else (f" <= {hi}" if hi is not None else ""))
        raise QDError(f"{name} must be a whole number{span}, got {value!r}")
    return int(value)


def flag(value, name: str) -> bool:
    """A yes/no setting: True or False only (a string such as 'no' would read as true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise QDError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def one_of(value, name: str, choices) -> object:
    """`value` when it is one of `choices`, else a `QDError` listing them."""
    if not isinstance(value, Hashable) or value not in choices:
        raise QDError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def finite(array, name: str) -> np.ndarray:
    """A numeric array with no NaN or infinity (a bool array is no number)."""
    a = np.asarray(array)
    if a.dtype.kind not in "iuf":
        raise QDError(f"{name} must be numbers, got {a.dtype} {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise QDError(f"{name} holds {'NaN' if np.isnan(a).any() else 'infinity'} "
                      f"(at {tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])})")
    return a


_PLAIN_NUMBERS = {int, float}    # the fast path: what JSON and canvases give


def numeric_rows(value, name: str) -> np.ndarray:
    """Rows of numbers of equal length ([[x...], [y...]]) as a float64 (rows, n) array. A string, a
    bool (true/false read as 1/0) or a ragged or nested list is a `QDError` naming `name`."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        raise QDError(f"{name} is a {type(value).__name__}, expected rows of numbers [[x...], [y...]]")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise QDError(f"{name} must hold numbers, got an array of {value.dtype}")
    else:
        for row in value:
            if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
                raise QDError(f"{name} must be rows of numbers [[x...], [y...]], got a row {row!r}")
            if isinstance(row, np.ndarray):
                if row.dtype.kind not in "iuf":
                    raise QDError(f"{name} must hold numbers, got a row of {row.dtype}")
            elif not set(map(type, row)) <= _PLAIN_NUMBERS and \
                    any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) for v in row):
                bad = next(v for v in row if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real))
                raise QDError(f"{name} holds {bad!r}, not a number")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise QDError(f"{name} is not rows of numbers of equal length ({e})") from e
    except OverflowError as e:   # an integer with hundreds of digits
        raise QDError(f"{name} holds a number too large for a coordinate") from e
    if a.ndim != 2:
        raise QDError(f"{name} has shape {a.shape}, expected rows of numbers (rows, n)")
    return a


def names(value, name: str, at_least: int = 1) -> list[str]:
    """A list of distinct, non-empty names (in Unicode NFC, so 'café' typed two ways is one name)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise QDError(f"{name} must be a list of names, got {type(value).__name__}")
    out = []
    for v in value:
        if not isinstance(v, str) or not v.strip():
            raise QDError(f"{name} holds {v!r}: every name must be a non-empty string")
        out.append(unicodedata.normalize("NFC", v))
    dup = sorted({v for v in out if out.count(v) > 1})
    if dup:
        raise QDError(f"{name} names {', '.join(map(repr, dup))} more than once")
    if len(out) < at_least:
        raise QDError(f"{name} must name at least {at_least}, got {len(out)}")
    return out


def inside(path, folder, name: str) -> Path:
    """`path` (relative to `folder`) resolved, refusing one that leaves `folder` ('../', an absolute
    path, a link out): a file named by data must not reach the rest of the disk."""
    if not isinstance(path, str) or not path:
        raise QDError(f"{name} must be a relative path, got {path!r}")
    root = Path(folder).resolve()
    p = (root / path).resolve()
    if not p.is_relative_to(root):
        raise QDError(f"{name} {path!r} points outside {root}")
    return p
