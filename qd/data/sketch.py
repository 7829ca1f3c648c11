"""`Sketch`: the demo's drawing, rendered stroke by stroke so a new stroke costs the same however
long the drawing already is; its image always equals `qd.data.render.render(strokes)`."""
from __future__ import annotations

import numpy as np

from qd.data.geometry import (
    as_strokes,
    bound,
    check_extent,
    needs_simplifying,
    resample_simplify,
    scale_of,
)
from qd.data.render import Atlas, atlas
from qd.errors import QDError


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
        """Add a finished canvas stroke [[x...], [y...]] (canvas strokes carry no times, so three
        rows would be a list of (x, y) points, not x, y and t)."""
        (a,), timed = as_strokes([stroke], "stroke")
        if timed:
            raise QDError("stroke: a canvas stroke is [[x...], [y...]]; got 3 rows "
                          "(a list of (x, y) points? give the xs and the ys as two lists)")
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
        extra = as_strokes([open_stroke], where)[0] if open_stroke is not None else []
        pts = np.concatenate(as_strokes(self.strokes + extra, where)[0], axis=1)
        lo, extent = check_extent(pts, where)
        simplify = needs_simplifying(pts, lo, False)      # as `render` decides: canvas strokes are raw
        if (tuple(lo), extent, simplify) != self._frame:
            self._frame, self._prepared, self._drawn, self._hi = (tuple(lo), extent, simplify), [], 0, None
        scale = scale_of(extent)
        prep = (lambda a: resample_simplify([(a - lo[:, None]) * scale])[0]) if simplify else \
            (lambda a: bound((a - lo[:, None]) * scale))
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
        return self._draw(prepared, hi, clear=True, atlas=atlas(self.size, 1))


