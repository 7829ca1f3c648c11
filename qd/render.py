"""Strokes -> bitmap, made the way Google made the official `numpy_bitmap` files: with cairo.

The recipe (the dataset's documentation and its issue tracker): strokes aligned to the top-left and
scaled so the longer side spans 0..255 (the `simplified` format), centred in a 256x256 box with
padding, drawn with a 16-unit round-capped, round-joined anti-aliased pen straight onto a 28x28
canvas, ink bright on black. Google drew with cairo; so do we, through cairocffi (Debian's
`libcairo2`), on an 8-bit alpha surface reused for every drawing of a batch.

Why cairo, by measurement on this project's 2-core CPU (`python -m qd.render --bench`, bundled
official pairs): it is the exact recipe, so the mean absolute error against the official bitmaps
drops from 1.2/255 (Pillow on a 32x supersampled canvas, box-filtered down) to about 0.4/255 on
simplified strokes, and it draws at 28x28 directly, with no supersampling, about 10x faster. Each
stroke goes to cairo as one prepared path (`cairo_append_path` on a numpy buffer), not one call per
point. Pillow rounds pen widths to whole pixels (hence its supersampling); OpenCV and skia would add
a large wheel for the same job.

Raw strokes (screen pixels, every sampled point) are first made like the `simplified` files: aligned,
scaled to 0..255, resampled at 1-unit spacing, and simplified with Ramer-Douglas-Peucker at epsilon
2.0 (the `simplification` library, Rust-backed), then rounded to whole units.

This is the one preprocessing path: the stroke data, the streaming datasets and the demo use it, at
28x28 or at any other size (e.g. 64x64 for stroke-aware models).
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Sequence

import numpy as np

from qd.errors import QDError

try:
    import cairocffi
    from cairocffi import cairo as _cairo, ffi as _ffi
except (ImportError, OSError) as e:  # OSError: the cairo system library is missing
    raise QDError("the renderer needs cairo: `apt-get install libcairo2` (Debian/Ubuntu) or "
                  f"`brew install cairo`, then `pip install cairocffi` ({e})") from e
from simplification.cutil import simplify_coords

SIDE = 256.0         # the simplified format's coordinate box
LINE_WIDTH = 16.0    # pen width in those units
PADDING = 16.0       # margin on each side, in those units, before the half pen width
MAX_EXTENT = 1e7     # screens are a few thousand pixels wide; far beyond is corrupt data
RDP_EPSILON = 2.0    # the simplified files' Ramer-Douglas-Peucker epsilon


def _as_strokes(strokes, where: str) -> tuple[list[np.ndarray], bool]:
    """Accept a Drawing or official-layout strokes [[xs], [ys](, [ts])]; return float (2, n) arrays
    and whether the strokes carried timestamps (the raw format).

    Only the official layout is accepted: an (n, 2) point list would be ambiguous for n = 2 or 3.
    """
    if hasattr(strokes, "strokes"):
        strokes = strokes.strokes
    if strokes is None or len(strokes) == 0:
        raise QDError(f"{where}: empty drawing (no strokes)")
    out, timed = [], False
    for k, s in enumerate(strokes):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise QDError(f"{where}: stroke {k} is not numeric lists of equal length ({e})") from e
        if a.ndim != 2 or a.shape[0] not in (2, 3):
            raise QDError(f"{where}: stroke {k} has shape {a.shape}, expected [[x...], [y...]] (2, n)")
        if a.shape[1] == 0:
            raise QDError(f"{where}: stroke {k} has no points")
        timed |= a.shape[0] == 3
        out.append(a[:2])
    return out, timed


def _check_extent(pts: np.ndarray, where: str) -> tuple[np.ndarray, float]:
    if not np.isfinite(pts).all():
        bad = next(k for k in range(pts.shape[1]) if not np.isfinite(pts[:, k]).all())
        raise QDError(f"{where}: non-finite coordinates (point {bad})")
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
    return lo, extent


def _points(strokes, where: str, simplify_raw: bool = False) -> tuple[np.ndarray, list[int]]:
    """All points (2, N) aligned to the top-left and scaled so the longer side spans 0..255, and
    the number of points of each stroke: one pass over the whole drawing. With `simplify_raw`, a
    drawing not in the `simplified` format (timestamps, or not whole units in 0..255: raw files,
    canvas strokes) is resampled and RDP-simplified like the official files."""
    s, timed = _as_strokes(strokes, where)
    lens = [a.shape[1] for a in s]
    pts = np.concatenate(s, axis=1)
    lo, extent = _check_extent(pts, where)
    if simplify_raw and (timed or lo.min() < 0 or pts.max() > 255 or not (pts == np.round(pts)).all()):
        s = _simplified(np.split((pts - lo[:, None]) * ((SIDE - 1) / extent), np.cumsum(lens)[:-1], axis=1))
        return np.concatenate(s, axis=1), [a.shape[1] for a in s]
    pts -= lo[:, None]
    pts *= (SIDE - 1) / extent
    return pts, lens


def normalize(strokes, where: str = "drawing") -> list[np.ndarray]:
    """Align to the top-left and scale uniformly so the longer side spans 0..255 (like `simplified`).

    A drawing of one point, or whose points all coincide, has no size to scale: that is a QDError.
    """
    pts, lens = _points(strokes, where)
    return np.split(pts, np.cumsum(lens)[:-1], axis=1)


def simplify(strokes, where: str = "drawing") -> list[np.ndarray]:
    """Raw strokes -> the `simplified` format: normalized to 0..255, resampled at 1-unit spacing,
    Ramer-Douglas-Peucker with epsilon 2.0, rounded to whole units."""
    return _simplified(normalize(strokes, where))


def _simplified(normalized: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for a in normalized:
        if a.shape[1] > 1:
            seg = np.hypot(*np.diff(a, axis=1))
            t = np.concatenate([[0.0], np.cumsum(seg)])
            if t[-1] > 0:
                u = np.append(np.arange(0.0, t[-1], 1.0), t[-1])
                a = np.vstack([np.interp(u, t, a[0]), np.interp(u, t, a[1])])
            a = np.asarray(simplify_coords(np.ascontiguousarray(a.T), RDP_EPSILON)).T
        out.append(np.round(a))
    return out


class Atlas:
    """A reusable 8-bit cairo surface holding up to `capacity` tiles of `size` x `size`, with the
    official pen. A batch is drawn stroke index by stroke index: one `cairo_stroke` draws the k-th
    stroke of every drawing of the batch at once. Drawings sit in separate tiles (2 pixels apart),
    so they never touch; within a drawing each stroke is still stroked on its own and composited
    over the others, as Google's renderer did. Per-call set-up, which dominates at 28x28, is paid
    once per stroke index instead of once per stroke."""

    GAP = 2

    def __init__(self, size: int = 28, capacity: int = 1024, line_width: float = LINE_WIDTH,
                 padding: float = PADDING):
        if not isinstance(size, (int, np.integer)) or not 8 <= size <= 1024:
            raise QDError(f"render size must be an integer in 8..1024, got {size!r}")
        self.size, self.pitch = int(size), int(size) + self.GAP
        self.cols = max(1, int(np.ceil(np.sqrt(capacity))))
        self.rows = int(np.ceil(capacity / self.cols))
        self.capacity = self.cols * self.rows
        self.surface = cairocffi.ImageSurface(cairocffi.FORMAT_A8, self.cols * self.pitch, self.rows * self.pitch)
        ctx = cairocffi.Context(self.surface)
        ctx.set_antialias(cairocffi.ANTIALIAS_BEST)
        ctx.set_line_cap(cairocffi.LINE_CAP_ROUND)
        ctx.set_line_join(cairocffi.LINE_JOIN_ROUND)
        ctx.set_line_width(line_width)
        total_pad = 2 * padding + line_width
        self.scale = self.size / (SIDE + total_pad)
        ctx.scale(self.scale, self.scale)
        ctx.translate(total_pad / 2, total_pad / 2)
        self.ctx, self._ptr = ctx, ctx._pointer
        self._pixels = np.frombuffer(self.surface.get_data(), np.uint8).reshape(self.rows * self.pitch, -1)
        self._path = _ffi.new("cairo_path_t *")

    def draw(self, pts: np.ndarray, stroke_lens: np.ndarray, drawing_strokes: np.ndarray,
             hi: np.ndarray | None = None, clear: bool = True) -> np.ndarray:
        """Normalized points (2, N) of up to `capacity` drawings, the points of each stroke, the
        strokes of each drawing -> (B, size, size) uint8, 0 background, 255 full ink. `hi` (2, B):
        the far corner each drawing is centred by (default: its own; pass the whole drawing's to
        draw its strokes one per tile in place, as `qd.strokes` does for its order channels).
        `clear=False` draws over what the surface holds (`Sketch` adds strokes that way)."""
        B = len(drawing_strokes)
        if B > self.capacity:
            raise QDError(f"{B} drawings do not fit an atlas of {self.capacity}")
        if clear:
            self.surface.flush()
            self._pixels[:] = 0
            self.surface.mark_dirty()
        S = len(stroke_lens)
        stroke_drawing = np.repeat(np.arange(B), drawing_strokes)              # drawing of each stroke
        first_stroke = np.cumsum(drawing_strokes) - drawing_strokes
        stroke_k = np.arange(S) - first_stroke[stroke_drawing]                  # index within its drawing
        p_end = np.cumsum(stroke_lens)
        p_start = p_end - stroke_lens
        # where each drawing goes: centre in the 256 box, then its tile, in user units
        if hi is None:
            hi = np.maximum.reduceat(pts, p_start[first_stroke], axis=1) if B else np.zeros((2, 0))
        tile = np.stack([np.arange(B) % self.cols, np.arange(B) // self.cols]) * (self.pitch / self.scale)
        shift = (SIDE - hi) / 2.0 + tile                                        # (2, B)
        # entries: per stroke, its first point twice (MOVE_TO, LINE_TO ...), strokes ordered by k
        order = np.argsort(stroke_k, kind="stable")
        n_entries = stroke_lens[order] + 1
        e_end = np.cumsum(n_entries)
        e_start = e_end - n_entries
        total = int(e_end[-1]) if S else 0
        which = np.repeat(np.arange(S), n_entries)                              # position in `order`
        within = np.arange(total) - e_start[which] - 1                          # -1: the repeated first point
        src = p_start[order][which] + np.maximum(within, 0)
        xy = pts[:, src] + shift[:, stroke_drawing[order][which]]
        data = np.empty((2 * total, 2), np.float64)
        data[1::2] = xy.T
        head = data.view(np.int32).reshape(2 * total, 4)
        head[0::2, 0] = _cairo.CAIRO_PATH_LINE_TO
        head[0::2, 1] = 2
        head[2 * e_start, 0] = _cairo.CAIRO_PATH_MOVE_TO
        base = _ffi.cast("cairo_path_data_t *", _ffi.from_buffer(data))
        ks = stroke_k[order]
        bounds = np.flatnonzero(np.diff(ks, prepend=-1, append=-1))             # where k changes
        path, ptr = self._path, self._ptr
        path.status = 0
        for a, b in zip(bounds[:-1], bounds[1:]):
            path.data = base + 2 * int(e_start[a])
            path.num_data = 2 * int(e_end[b - 1] - e_start[a])
            _cairo.cairo_append_path(ptr, path)
            _cairo.cairo_stroke(ptr)
        self.surface.flush()
        n = self.size
        grid = self._pixels[:, : self.cols * self.pitch].reshape(self.rows, self.pitch, self.cols, self.pitch)
        tiles = grid[:, :n, :, :n].transpose(0, 2, 1, 3).reshape(-1, n, n)
        return tiles[:B].copy()


_ATLASES: dict[tuple, Atlas] = {}


def _atlas(size: int, capacity: int, line_width: float = LINE_WIDTH, padding: float = PADDING) -> Atlas:
    key = (size, capacity, line_width, padding)
    if key not in _ATLASES:
        _ATLASES[key] = Atlas(size, capacity, line_width, padding)
    return _ATLASES[key]


def render_batch(drawings: Sequence, size: int = 28, line_width: float = LINE_WIDTH, padding: float = PADDING,
                 simplify_raw: bool = True, where: Sequence[str] | None = None, chunk: int = 1024) -> np.ndarray:
    """Render many drawings to (N, size, size) uint8 on a shared atlas (see `Atlas`). Drawings not in
    the `simplified` format (raw files, canvas strokes) are resampled and RDP-simplified first, like
    the official `simplified` files; `simplify_raw=False` draws them as they are."""
    out = np.zeros((len(drawings), size, size), np.uint8)
    for c0 in range(0, len(drawings), chunk):
        part = drawings[c0:c0 + chunk]
        all_pts, lens, counts = [], [], []
        for i, d in enumerate(part):
            w = where[c0 + i] if where is not None else (getattr(d, "source", "") or f"drawing {c0 + i}")
            pts, ls = _points(d, w, simplify_raw)
            all_pts.append(pts)
            lens += ls
            counts.append(len(ls))
        capacity = min(chunk, 1 << (len(part) - 1).bit_length())      # 1, 2, 4, ... tiles: one atlas each
        atlas = _atlas(size, capacity, line_width, padding)
        out[c0:c0 + len(part)] = atlas.draw(np.concatenate(all_pts, axis=1), np.asarray(lens), np.asarray(counts))
    return out


class Sketch:
    """A drawing that grows stroke by stroke (the demo's canvas), rendered incrementally so the cost
    of a new stroke does not grow with the drawing. Canvas strokes are simplified like the official
    files once per frame (the drawing's top-left corner and size) and kept; while a new stroke
    leaves the frame and the centring as they were, only it is drawn, over the last image;
    otherwise the kept strokes are drawn again. `image()` always equals `render(strokes)`."""

    def __init__(self, size: int = 28):
        self.size = size
        self.strokes: list[np.ndarray] = []
        self._atlas = Atlas(size, 1)
        self._frame = None          # (lo, extent) the kept strokes were prepared in
        self._prepared: list[np.ndarray] = []
        self._drawn, self._hi = 0, None   # strokes on the surface, and the centring they were drawn with

    def add(self, stroke) -> None:
        a = np.asarray(stroke, np.float64)[:2]
        if a.ndim != 2 or a.shape[1] == 0:
            raise QDError(f"stroke has shape {a.shape}, expected [[x...], [y...]]")
        self.strokes.append(a)

    def pop(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self._prepared = self._prepared[:len(self.strokes)]
            self._drawn, self._hi = 0, None

    def clear(self) -> None:
        self.strokes.clear()
        self._frame, self._prepared, self._drawn, self._hi = None, [], 0, None

    def image(self, open_stroke=None, where: str = "drawing") -> np.ndarray:
        """The model input for the strokes so far, plus `open_stroke` (still being drawn) if given."""
        extra = [np.asarray(open_stroke, np.float64)[:2]] if open_stroke is not None else []
        pts = np.concatenate(_as_strokes(self.strokes + extra, where)[0], axis=1)
        lo, extent = _check_extent(pts, where)
        if (tuple(lo), extent) != self._frame:
            self._frame, self._prepared, self._drawn, self._hi = (tuple(lo), extent), [], 0, None
        scale = (SIDE - 1) / extent
        prep = lambda a: _simplified([(a - lo[:, None]) * scale])[0]      # noqa: E731
        self._prepared += [prep(a) for a in self.strokes[len(self._prepared):]]
        opened = [prep(a) for a in extra]
        kept = np.concatenate(self._prepared, axis=1).max(axis=1) if self._prepared else None
        hi = np.maximum(kept, opened[0].max(axis=1)) if opened and kept is not None else \
            (opened[0].max(axis=1) if opened else kept)
        if kept is not None and (self._hi is None or not np.array_equal(kept, self._hi)):
            self._drawn, self._hi = 0, kept                       # centring moved: draw all again
        if self._drawn < len(self._prepared):                   # finished strokes: onto the surface
            self._draw(self._prepared[self._drawn:], self._hi, clear=self._drawn == 0)
            self._drawn = len(self._prepared)
        if opened:
            if kept is None or not np.array_equal(hi, kept):    # the open stroke moves the centring
                return self._atlas_once(self._prepared + opened, hi)
            keep = self._atlas._pixels.copy()                   # onto a copy of the surface
            img = self._draw(opened, hi, clear=False)
            self._atlas.surface.flush()
            self._atlas._pixels[:] = keep
            self._atlas.surface.mark_dirty()
            return img
        self._atlas.surface.flush()
        return self._atlas._pixels[:self.size, :self.size].copy()

    def _draw(self, prepared: list[np.ndarray], hi: np.ndarray, clear: bool, atlas: Atlas | None = None) -> np.ndarray:
        lens = np.array([a.shape[1] for a in prepared])
        return (atlas or self._atlas).draw(np.concatenate(prepared, axis=1), lens, np.array([len(prepared)]),
                                           hi=hi[:, None], clear=clear)[0]

    def _atlas_once(self, prepared: list[np.ndarray], hi: np.ndarray) -> np.ndarray:
        return self._draw(prepared, hi, clear=True, atlas=_atlas(self.size, 1))


def render(strokes, size: int = 28, line_width: float = LINE_WIDTH, padding: float = PADDING,
           where: str = "drawing", simplify_raw: bool = True) -> np.ndarray:
    """Render one drawing (simplified, raw with timestamps, or canvas pixels) to a (size, size) uint8
    image, 0 background, 255 full ink: `render_batch` with a batch of one (an atlas of one tile)."""
    return render_batch([strokes], size, line_width, padding, simplify_raw, where=[where])[0]


def render_many(drawings: Sequence, size: int = 28, **kw) -> np.ndarray:
    """Render a list of drawings to (N, size, size) uint8 (`render_batch`)."""
    return render_batch(list(drawings), size, **kw)


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


# ----------------------------------------------------------------------------- benchmark

def bench(seconds: float = 3.0, workers: int | None = None) -> dict:
    """Figures on the bundled official pairs (tests/fixtures) and the bundled simplified strokes:
    error against the official bitmaps, one-drawing latency, and batch throughput with `workers`
    processes (default: every core), each rendering its share on its own canvas."""
    import gzip
    import os
    from concurrent.futures import ProcessPoolExecutor

    from qd import ROOT, data
    pairs_path = ROOT / "tests" / "fixtures" / "official_pairs.ndjson.gz"
    with gzip.open(pairs_path, "rt") as f:
        pairs = [json.loads(line) for line in f]
    mae = {}
    for kind in ("simplified", "raw"):
        errs = [np.abs(render(p["drawing"]).astype(np.float32) - np.asarray(p["bitmap"], np.float32).reshape(28, 28)).mean()
                for p in pairs if p["kind"] == kind]
        mae[kind] = float(np.mean(errs))
    drawings = [d.strokes for c in data.stroke_classes("simplified")[:120]
                for d in data.load_drawings(data.strokes_path(c, "simplified"))]
    singles = []
    for d in drawings[:500]:
        t = time.perf_counter()
        render(d)
        singles.append(time.perf_counter() - t)
    workers = workers or os.cpu_count() or 1
    chunks = [drawings[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render_for, [(c[:50], 0.0) for c in chunks]))            # start-up and warm-up
        t = time.perf_counter()
        counts = list(pool.map(_render_for, [(c, seconds) for c in chunks]))
        wall = time.perf_counter() - t
    return {"drawings_per_s": round(sum(counts) / wall), "workers": workers,
            "drawings_per_s_one_at_a_time": round(len(singles) / sum(singles)),
            "ms_per_drawing_single": round(float(np.median(singles)) * 1e3, 4),
            "mae_simplified": round(mae["simplified"], 3), "mae_raw": round(mae["raw"], 3),
            "pairs_simplified": sum(p["kind"] == "simplified" for p in pairs),
            "pairs_raw": sum(p["kind"] == "raw" for p in pairs)}


def _render_for(job) -> int:
    """Render a list of drawings in batches over and over for `seconds` (at least once); how many."""
    drawings, seconds = job
    n, stop = 0, time.perf_counter() + seconds
    while True:
        for i in range(0, len(drawings), 1024):
            render_batch(drawings[i:i + 1024])
        n += len(drawings)
        if time.perf_counter() >= stop:
            return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m qd.render", description="The renderer's figures.")
    p.add_argument("--bench", action="store_true", help="print one JSON line: throughput, latency, error")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=None, help="processes for the throughput figure (default: cores)")
    a = p.parse_args(argv)
    if not a.bench:
        p.print_help()
        return 0
    print(json.dumps(bench(a.seconds, a.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
