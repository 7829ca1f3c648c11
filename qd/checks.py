"""The checks a public function makes of its arguments at the boundary, one helper per kind, so a
bad value is a `QDError` naming it (never NaN passed on, never a bool taken for a number)."""
from __future__ import annotations

import math
import numbers

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
