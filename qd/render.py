"""Strokes -> 28x28 uint8 bitmap, made the way Google made the official `numpy_bitmap` files.

The recipe (from the dataset's documentation and its issue tracker): strokes aligned to the top-left
and scaled so the longer side spans 0..255 (the `simplified` format), centred in a 256x256 box with
padding, drawn with a 16-unit round-capped anti-aliased pen, and reduced to 28x28, ink bright on
black. We draw with Pillow on a supersampled canvas and box-filter it down, which is the
anti-aliasing. This is the one preprocessing path: the stroke data and the drawing demo use it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from qd.errors import QDError

SIDE = 256.0         # the simplified format's coordinate box
LINE_WIDTH = 16.0    # pen width in those units
PADDING = 16.0       # margin on each side, in those units, before the half pen width
MAX_EXTENT = 1e7     # screens are a few thousand pixels wide; far beyond is corrupt data


def _as_strokes(strokes, where: str) -> list[np.ndarray]:
    """Accept a Drawing or official-layout strokes [[xs], [ys](, [ts])]; return float (2, n) arrays.

    Only the official layout is accepted: an (n, 2) point list would be ambiguous for n = 2 or 3.
    """
    if hasattr(strokes, "strokes"):
        strokes = strokes.strokes
    if strokes is None or len(strokes) == 0:
        raise QDError(f"{where}: empty drawing (no strokes)")
    out = []
    for k, s in enumerate(strokes):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise QDError(f"{where}: stroke {k} is not numeric lists of equal length ({e})") from e
        if a.ndim != 2 or a.shape[0] not in (2, 3):
            raise QDError(f"{where}: stroke {k} has shape {a.shape}, expected [[x...], [y...]] (2, n)")
        if a.shape[1] == 0:
            raise QDError(f"{where}: stroke {k} has no points")
        if not np.isfinite(a[:2]).all():
            raise QDError(f"{where}: stroke {k} has non-finite coordinates")
        out.append(a[:2])
    return out


def normalize(strokes, where: str = "drawing") -> list[np.ndarray]:
    """Align to the top-left and scale uniformly so the longer side spans 0..255 (like `simplified`).

    A drawing of one point, or whose points all coincide, has no size to scale: that is a QDError.
    """
    s = _as_strokes(strokes, where)
    pts = np.concatenate(s, axis=1)
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    with np.errstate(over="ignore"):   # +-1e308 overflows to inf: refused just below
        extent = float((hi - lo).max())
    if pts.shape[1] == 1:
        raise QDError(f"{where}: drawing is a single point; nothing to scale")
    if extent == 0.0:
        raise QDError(f"{where}: zero-size bounding box (all {pts.shape[1]} points coincide)")
    if not np.isfinite(extent) or extent > MAX_EXTENT:
        raise QDError(f"{where}: coordinates span {extent:.3g} units, more than {MAX_EXTENT:.0e}: "
                      "not a drawing (scaling it would leave nothing to see)")
    scale = (SIDE - 1) / extent
    return [(a - lo[:, None]) * scale for a in s]


def render(strokes, size: int = 28, supersample: int = 32, line_width: float = LINE_WIDTH,
           padding: float = PADDING, where: str = "drawing") -> np.ndarray:
    """Render a drawing (any coordinates: raw, simplified or canvas pixels) to a (size, size) uint8
    image, 0 background, 255 full ink."""
    s = normalize(strokes, where)
    hi = np.concatenate(s, axis=1).max(axis=1)
    offset = (SIDE - hi) / 2.0                      # centre in the 256 box
    total_pad = 2 * padding + line_width
    canvas = size * supersample
    k = canvas / (SIDE + total_pad)
    img = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(img)
    w = line_width * k
    r = w / 2.0
    for a in s:
        xy = (a + offset[:, None] + total_pad / 2.0) * k
        pts = list(map(tuple, xy.T))
        if len(pts) > 1:
            draw.line(pts, fill=255, width=max(1, int(round(w))), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps (also the dot of a one-point stroke)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.resize((size, size), Image.BOX), dtype=np.uint8)


def render_many(drawings: Sequence, size: int = 28, **kw) -> np.ndarray:
    """Render a list of drawings to (N, size, size) uint8."""
    out = np.zeros((len(drawings), size, size), np.uint8)
    for i, d in enumerate(drawings):
        out[i] = render(d, size=size, where=getattr(d, "source", "") or f"drawing {i}", **kw)
    return out


def match_official(drawings: Sequence, bitmaps: np.ndarray, max_mae: float = 6.0, candidates: int = 8):
    """Find which official bitmap each stroke drawing is, by rendering it and taking the nearest row.

    Returns a list of (drawing index, bitmap index, mean absolute error in 0..255 units) for the
    drawings whose nearest bitmap is within `max_mae` (true pairs are ~1-5 apart, unrelated doodles > 8).
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
