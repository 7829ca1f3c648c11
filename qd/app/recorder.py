"""Mouse and touch events -> strokes in the official [[xs], [ys]] layout (no widgets here)."""
from __future__ import annotations

from dataclasses import dataclass, field

from qd.checks import number


@dataclass
class StrokeRecorder:
    """Mouse/touch events -> strokes. Each event is O(1); points closer than `min_step` canvas
    pixels to the previous one are dropped, so mouse-move floods stay cheap."""
    min_step: float = 2.0
    strokes: list = field(default_factory=list)   # each [[xs], [ys]]
    drawing: bool = False

    def __post_init__(self):
        self.min_step = number(self.min_step, "min_step", 0.0, 1000.0)

    def start(self, x: float, y: float) -> None:
        """Open a new stroke (a stroke still open is closed first: one open stroke at a time)."""
        x, y = number(x, "x"), number(y, "y")
        if self.drawing:
            self.end()
        self.strokes.append([[x], [y]])
        self.drawing = True

    def move(self, x: float, y: float):
        """Add a point to the open stroke; returns the segment (x0, y0, x1, y1) to draw, or None."""
        if not self.drawing:
            return None
        x, y = number(x, "x"), number(y, "y")
        xs, ys = self.strokes[-1]
        x0, y0 = xs[-1], ys[-1]
        if (x - x0) ** 2 + (y - y0) ** 2 < self.min_step ** 2:
            return None
        xs.append(float(x))
        ys.append(float(y))
        return x0, y0, float(x), float(y)

    def end(self, x: float | None = None, y: float | None = None):
        """Close the open stroke (adding the last point if given); returns the segment to draw or None."""
        if not self.drawing:
            return None
        seg = self.move(x, y) if x is not None and y is not None else None
        self.drawing = False
        return seg

    def undo(self) -> bool:
        """Drop the last stroke; False when there was none."""
        self.drawing = False
        if not self.strokes:
            return False
        self.strokes.pop()
        return True

    def clear(self) -> None:
        self.strokes.clear()
        self.drawing = False

    @property
    def is_empty(self) -> bool:
        return not self.strokes

    @property
    def n_points(self) -> int:
        return sum(len(s[0]) for s in self.strokes)
