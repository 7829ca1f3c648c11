"""Strokes -> bitmap, made the way Google made the official `numpy_bitmap` files: with cairo.

The recipe (the dataset's documentation and its issue tracker): strokes aligned to the top-left and
scaled so the longer side spans 0..255 (the `simplified` format), centred in a 256x256 box with
padding, drawn with a 16-unit round-capped, round-joined anti-aliased pen straight onto a 28x28
canvas, ink bright on black. Google drew with cairo; so do we, through cairocffi (Debian's
`libcairo2`), on an 8-bit alpha surface reused for every drawing of a batch.

Why cairo, by measurement on this project's 2-core CPU (`python -m qd.data.render --bench`, bundled
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
import gzip
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import numpy as np

from qd import checks
from qd.data import ndjson
from qd.data.geometry import LINE_WIDTH, PADDING, SIDE, points
from qd.errors import QDError
from qd.paths import ROOT

try:
    import cairocffi
    from cairocffi import cairo as _cairo
    from cairocffi import ffi as _ffi
except (ImportError, OSError) as e:  # OSError: the cairo system library is missing
    raise QDError("the renderer needs cairo: `apt-get install libcairo2` (Debian/Ubuntu) or "
                  f"`brew install cairo`, then `pip install cairocffi` ({e})") from e


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
        draw its strokes one per tile in place, as `qd.data.encode` does for its order channels).
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


def atlas(size: int, capacity: int, line_width: float = LINE_WIDTH, padding: float = PADDING) -> Atlas:
    key = (size, capacity, line_width, padding)
    if key not in _ATLASES:
        _ATLASES[key] = Atlas(size, capacity, line_width, padding)
    return _ATLASES[key]


def check_settings(size, line_width: float = LINE_WIDTH, padding: float = PADDING) -> None:
    """A `QDError` for a size that is no image side or a pen that is no pen."""
    checks.integer(size, "render size", 8, 1024)
    checks.number(line_width, "line_width", 0, 256, lo_open=True)
    checks.number(padding, "padding", 0, 256)


def name_of(drawing, i: int) -> str:
    """What an error names a drawing by: its file and line when it has them, else its index."""
    return getattr(drawing, "source", "") or f"drawing {i}"


def render_batch(drawings: Sequence, size: int = 28, line_width: float = LINE_WIDTH, padding: float = PADDING,
                 simplify_raw: bool = True, where: Sequence[str] | None = None, chunk: int = 1024) -> np.ndarray:
    """Render many drawings to (N, size, size) uint8 on a shared atlas (see `Atlas`). Drawings not in
    the `simplified` format (raw files, canvas strokes) are resampled and RDP-simplified first, like
    the official `simplified` files; `simplify_raw=False` draws them as they are."""
    check_settings(size, line_width, padding)
    checks.integer(chunk, "chunk", 1)
    if where is not None and (isinstance(where, str) or len(where) != len(drawings)):
        raise QDError(f"where must name each drawing: {len(drawings)} drawings, "
                      f"{'a string' if isinstance(where, str) else len(where)} names")
    out = np.zeros((len(drawings), size, size), np.uint8)
    for c0 in range(0, len(drawings), chunk):
        part = drawings[c0:c0 + chunk]
        all_pts, lens, counts = [], [], []
        for i, d in enumerate(part):
            w = where[c0 + i] if where is not None else name_of(d, c0 + i)
            pts, ls = points(d, w, simplify_raw)
            all_pts.append(pts)
            lens += ls
            counts.append(len(ls))
        capacity = min(chunk, 1 << (len(part) - 1).bit_length())      # 1, 2, 4, ... tiles: one atlas each
        surface = atlas(size, capacity, line_width, padding)
        out[c0:c0 + len(part)] = surface.draw(np.concatenate(all_pts, axis=1), np.asarray(lens), np.asarray(counts))
    return out


def render(strokes, size: int = 28, line_width: float = LINE_WIDTH, padding: float = PADDING,
           where: str = "drawing", simplify_raw: bool = True) -> np.ndarray:
    """Render one drawing (simplified, raw with timestamps, or canvas pixels) to a (size, size) uint8
    image, 0 background, 255 full ink: `render_batch` with a batch of one (an atlas of one tile)."""
    return render_batch([strokes], size, line_width, padding, simplify_raw, where=[where])[0]


def render_many(drawings: Sequence, size: int = 28, **kw) -> np.ndarray:
    """Render a list of drawings to (N, size, size) uint8 (`render_batch`)."""
    return render_batch(list(drawings), size, **kw)


# ----------------------------------------------------------------------------- benchmark

def bench(seconds: float = 3.0, workers: int | None = None) -> dict:
    """Figures on the bundled official pairs (tests/fixtures) and the bundled simplified strokes:
    error against the official bitmaps, one-drawing latency, and batch throughput with `workers`
    processes (default: every core), each rendering its share on its own canvas."""
    checks.number(seconds, "seconds", 0, 3600, lo_open=True)
    if workers is not None and (not isinstance(workers, int) or not 1 <= workers <= 256):
        raise QDError(f"workers must be a whole number in 1..256, got {workers!r}")
    pairs_path = ROOT / "tests" / "fixtures" / "official_pairs.ndjson.gz"
    with gzip.open(pairs_path, "rt") as f:
        pairs = [json.loads(line) for line in f]
    mae = {}
    for kind in ("simplified", "raw"):
        errs = [np.abs(render(p["drawing"]).astype(np.float32) - np.asarray(p["bitmap"], np.float32).reshape(28, 28)).mean()
                for p in pairs if p["kind"] == kind]
        mae[kind] = float(np.mean(errs))
    drawings = [d.strokes for c in ndjson.stroke_classes("simplified")[:120]
                for d in ndjson.load_drawings(ndjson.strokes_path(c, "simplified"))]
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
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.data.render", description="The renderer's figures.")
    p.add_argument("--bench", action="store_true", help="print one JSON line: throughput, latency, error")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=None, help="processes for the throughput figure (default: cores)")
    a = p.parse_args(argv)
    if not a.bench:
        p.print_help()
        return 0
    try:
        print(json.dumps(bench(a.seconds, a.workers)))
    except QDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
