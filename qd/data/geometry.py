"""Stroke geometry before drawing: the official layouts checked, drawings aligned and scaled to the
`simplified` format's 0..255 box, raw strokes resampled and simplified (Ramer-Douglas-Peucker at
epsilon 2.0, the `simplification` library) as Google made the `simplified` files."""
from __future__ import annotations

import numpy as np
from simplification.cutil import simplify_coords

from qd.checks import numeric_rows
from qd.errors import QDError

SIDE = 256.0         # the simplified format's coordinate box
LINE_WIDTH = 16.0    # pen width in those units
PADDING = 16.0       # margin on each side, in those units, before the half pen width
MAX_EXTENT = 1e7     # screens are a few thousand pixels wide; far beyond is corrupt data
MIN_EXTENT = 1e-6    # points closer than this coincide: a drawing this small is a dot (scaling it
                     # up to 255 would overflow)
RDP_EPSILON = 2.0    # the simplified files' Ramer-Douglas-Peucker epsilon
MAX_POINTS = 100_000         # per drawing: the longest official raw drawings have a few thousand
MAX_RESAMPLED = 20_000       # points per stroke after resampling; past this the spacing grows beyond 1 unit
MAX_SIMPLIFIED = 1_000       # points per stroke after RDP; a scribble with more is simplified harder


def as_strokes(strokes, where: str) -> tuple[list[np.ndarray], bool]:
    """Accept a Drawing or official-layout strokes [[xs], [ys](, [ts])]; return float (2, n) arrays
    and whether the strokes carried timestamps (the raw format).

    Only the official layout is accepted: an (n, 2) point list would be ambiguous for n = 2 or 3.
    """
    if hasattr(strokes, "strokes"):
        strokes = strokes.strokes
    if strokes is None or len(strokes) == 0:
        raise QDError(f"{where}: empty drawing (no strokes)")
    if isinstance(strokes, (str, bytes, dict)) or not hasattr(strokes, "__len__"):
        raise QDError(f"{where}: expected a list of strokes [[x...], [y...]], got {type(strokes).__name__}")
    if isinstance(strokes, np.ndarray) and strokes.dtype != object:
        strokes = list(strokes)           # one (rows, n) array per stroke
    out, rows = [], set()
    for k, s in enumerate(strokes):
        a = numeric_rows(s, f"{where}: stroke {k}")
        if a.shape[0] not in (2, 3):
            raise QDError(f"{where}: stroke {k} has shape {a.shape}, expected [[x...], [y...]] (2, n)"
                          + (" (a list of (x, y) points? give the xs and the ys as two lists)" if a.shape[1] == 2 else ""))
        if a.shape[1] == 0:
            raise QDError(f"{where}: stroke {k} has no points")
        rows.add(a.shape[0])
        out.append(a[:2])
    if len(rows) > 1:   # a (3, 2) list of points among [[x...], [y...]] strokes would pass for x, y, t
        raise QDError(f"{where}: strokes mix [[x...], [y...]] and [[x...], [y...], [t...]] forms "
                      "(a stroke given as a list of (x, y) points?)")
    timed = rows == {3}
    n = sum(a.shape[1] for a in out)
    if n > MAX_POINTS:
        raise QDError(f"{where}: {n:,} points, more than {MAX_POINTS:,}: not a hand-made drawing")
    return out, timed


def check_extent(pts: np.ndarray, where: str) -> tuple[np.ndarray, float]:
    """(top-left corner, longer side) of the points. A single tap (one point, or points that all
    coincide) has size 0: it is drawn as a dot in the middle, as the official renderer draws it."""
    if not np.isfinite(pts).all():
        bad = next(k for k in range(pts.shape[1]) if not np.isfinite(pts[:, k]).all())
        raise QDError(f"{where}: non-finite coordinates (point {bad})")
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    with np.errstate(over="ignore"):   # +-1e308 overflows to inf: refused just below
        extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent > MAX_EXTENT:
        raise QDError(f"{where}: coordinates span {extent:.3g} units, more than {MAX_EXTENT:.0e}: "
                      "not a drawing (scaling it would leave nothing to see)")
    return lo, extent


def scale_of(extent: float) -> float:
    """The factor that makes the longer side span 0..255 (1 for a dot: nothing to scale)."""
    return (SIDE - 1) / extent if extent >= MIN_EXTENT else 1.0


def needs_simplifying(pts: np.ndarray, lo: np.ndarray, timed: bool) -> bool:
    """Whether a drawing is not in the `simplified` format (timestamps, or not whole units in 0..255:
    raw files, canvas strokes) and so is resampled and simplified like the official files."""
    return timed or lo.min() < 0 or pts.max() > 255 or not (pts == np.round(pts)).all()


def points(strokes, where: str, simplify_raw: bool = False) -> tuple[np.ndarray, list[int]]:
    """All points (2, N) aligned to the top-left and scaled so the longer side spans 0..255, and
    the number of points of each stroke: one pass over the whole drawing. With `simplify_raw`, a
    drawing not in the `simplified` format (timestamps, or not whole units in 0..255: raw files,
    canvas strokes) is resampled and RDP-simplified like the official files."""
    s, timed = as_strokes(strokes, where)
    lens = [a.shape[1] for a in s]
    pts = np.concatenate(s, axis=1)
    lo, extent = check_extent(pts, where)
    if simplify_raw and needs_simplifying(pts, lo, timed):
        s = resample_simplify(np.split((pts - lo[:, None]) * scale_of(extent), np.cumsum(lens)[:-1], axis=1))
        return np.concatenate(s, axis=1), [a.shape[1] for a in s]
    pts -= lo[:, None]
    pts *= scale_of(extent)
    if max(lens) > MAX_SIMPLIFIED:     # no official simplified stroke is that long: bound the drawing's cost
        s = [bound(a) for a in np.split(pts, np.cumsum(lens)[:-1], axis=1)]
        return np.concatenate(s, axis=1), [a.shape[1] for a in s]
    return pts, lens


def bound(a: np.ndarray) -> np.ndarray:
    """A stroke of the simplified format as it is, unless it has more points than any official one
    (`MAX_SIMPLIFIED`): then simplified until it has not."""
    return rdp(a) if a.shape[1] > MAX_SIMPLIFIED else a


def fit(strokes, size: float, offset=(0.0, 0.0)) -> list[np.ndarray]:
    """Each stroke's (x, y) rows, the drawing aligned to its top-left and scaled uniformly so its
    longer side spans `size` (one under a unit across as if it were one), then moved by `offset`:
    a drawing put on a screen of any size. Rows past the first two (times) are dropped."""
    xys = [np.asarray(s)[:2] for s in strokes]
    pts = np.concatenate(xys, axis=1)
    lo, ext = pts.min(axis=1), max(float(np.ptp(pts, axis=1).max()), 1.0)
    ox, oy = map(float, offset)
    scaled = [(xy - lo[:, None]) / ext * size for xy in xys]
    return [np.stack([xy[0] + ox, xy[1] + oy]) for xy in scaled]


def normalize(strokes, where: str = "drawing") -> list[np.ndarray]:
    """Align to the top-left and scale uniformly so the longer side spans 0..255 (like `simplified`).

    A drawing of one point, or whose points all coincide, stays a point at the corner.
    """
    pts, lens = points(strokes, where)
    return np.split(pts, np.cumsum(lens)[:-1], axis=1)


def simplify(strokes, where: str = "drawing") -> list[np.ndarray]:
    """Raw strokes -> the `simplified` format: normalized to 0..255, resampled at 1-unit spacing,
    Ramer-Douglas-Peucker with epsilon 2.0, rounded to whole units."""
    return resample_simplify(normalize(strokes, where))


def rdp(a: np.ndarray, epsilon: float = RDP_EPSILON) -> np.ndarray:
    """Ramer-Douglas-Peucker on one stroke (2, n); harder (epsilon doubled) until at most
    `MAX_SIMPLIFIED` points stay: cairo's time grows with the points, and no hand draws more."""
    dense = np.ascontiguousarray(a.T)
    out = np.asarray(simplify_coords(dense, epsilon)).T
    while out.shape[1] > MAX_SIMPLIFIED:
        epsilon *= 2
        out = np.asarray(simplify_coords(dense, epsilon)).T
    return out


def resample_simplify(normalized: list[np.ndarray]) -> list[np.ndarray]:
    """Each stroke (already in the 0..255 box) resampled at 1-unit spacing (coarser for a stroke
    longer than `MAX_RESAMPLED` units, which no hand makes), RDP-simplified (harder for a scribble
    that keeps more than `MAX_SIMPLIFIED` points) and rounded."""
    out = []
    for a in normalized:
        if a.shape[1] > 1:
            seg = np.hypot(*np.diff(a, axis=1))
            t = np.concatenate([[0.0], np.cumsum(seg)])
            if t[-1] > 0:
                u = np.append(np.arange(0.0, t[-1], max(1.0, t[-1] / MAX_RESAMPLED)), t[-1])
                a = np.vstack([np.interp(u, t, a[0]), np.interp(u, t, a[1])])
            a = rdp(a)
        out.append(np.round(a))
    return out


