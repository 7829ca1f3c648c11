"""The demo's canvas: `ReadyCanvas` (ipycanvas with the Voila fix), `PictureCanvas` (one PNG, the same
fix) and `Board`, a canvas with its strokes.

Served by Voila (`make demo`, notebooks/demo.ipynb). The drawing is kept as strokes, point lists in
the official [[xs], [ys]] layout, and turned into the model input by `qd.data.render.render`, the same
path as the stroke data: nothing reads canvas pixels.

The Voila pitfall, and the fix here: ipycanvas sends draw commands as comm messages, and those sent
while Voila first executes the notebook reach no browser. The first of them is the canvas
manager's `switchCanvas`; once it is lost, the browser has no current canvas and every later draw
fails with "Cannot read properties of undefined (reading 'strokeLine')", because Python believes
the switch was made. `ReadyCanvas` therefore draws nothing until the browser view says it is ready
(`on_client_ready`), then makes the manager send `switchCanvas` again and redraws its whole state
(styles, then every stroke). A page reload is a new client and gets the same replay.
"""
from __future__ import annotations

import time

import numpy as np
import psutil
from ipycanvas import Canvas, hold_canvas
from ipywidgets import Image

from qd.app.game import THROTTLE_SECONDS, Throttle
from qd.app.recorder import StrokeRecorder
from qd.data.sketch import Sketch


def machine_busy() -> float:
    """How busy the machine's cores were (0..1, all of them) since the last call in this process:
    what the guesses while the pen moves leave to the other pupils' kernels (`Throttle.took`)."""
    return psutil.cpu_percent(interval=None) / 100


def resend_switch(canvas: Canvas) -> None:
    """A browser view is ready but has no current canvas yet: make the manager send switchCanvas again."""
    manager = getattr(canvas, "_canvas_manager", None)
    if manager is not None and hasattr(manager, "_current_canvas"):
        manager._current_canvas = None


class ReadyCanvas:
    """An ipycanvas Canvas that draws only once its browser view is ready, and replays its state
    to every new client (see the module docstring for why)."""

    def __init__(self, width: int = 400, height: int = 400, pen_width: float = 10.0, color: str = "#222"):
        self.canvas = Canvas(width=width, height=height)
        # As wide as the screen allows, at most its own size, the height following (a phone's 390 px
        # too); ipycanvas maps pointer positions through the shown size. CSS in `qd.app.demo.STYLE`
        # keeps touch from scrolling the page.
        self.canvas.layout.border = "2px solid #999"
        self.canvas.layout.width = "100%"
        self.canvas.layout.max_width = f"{width + 4}px"
        self.canvas.layout.height = "auto"
        self.pen_width = pen_width
        self.color = color
        self.ready = False
        self.strokes_source = lambda: []   # set by the app: the strokes to replay
        self.canvas.on_client_ready(self._on_client_ready)

    def _on_client_ready(self, *_):
        resend_switch(self.canvas)
        self.ready = True
        self.redraw(self.strokes_source())

    def redraw(self, strokes) -> None:
        """Clear and draw every stroke, styles first (they were lost too if sent early)."""
        if not self.ready:
            return
        c = self.canvas
        with hold_canvas():
            c.clear()
            c.stroke_style = self.color
            c.fill_style = self.color
            c.line_width = self.pen_width
            c.line_cap = "round"
            c.line_join = "round"
            for xs, ys in strokes:
                if len(xs) == 1:
                    c.fill_circle(xs[0], ys[0], self.pen_width / 2)
                else:
                    c.stroke_lines(np.column_stack([xs, ys]))

    def segment(self, seg) -> None:
        if self.ready and seg is not None:
            self.canvas.stroke_line(*seg)

    def dot(self, x: float, y: float) -> None:
        if self.ready:
            self.canvas.fill_circle(x, y, self.pen_width / 2)


class PictureCanvas:
    """An ipycanvas Canvas showing one PNG (the explorers' pages and matrices), drawn once a browser
    view is ready and again for every new view, like `ReadyCanvas`."""

    def __init__(self, width: int, height: int):
        self.canvas = Canvas(width=width, height=height)
        self.canvas.layout.width = f"{width}px"
        self.canvas.layout.height = f"{height}px"
        self.png, self.ready = b"", False
        self.canvas.on_client_ready(self._on_ready)

    def _on_ready(self, *_):
        resend_switch(self.canvas)
        self.ready = True
        self.show(self.png)

    def show(self, png: bytes) -> None:
        """Show `png`; the canvas takes the picture's size (a short last page is a short canvas)."""
        self.png = png
        width, height = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) if png else (0, 0)
        if png and (width, height) != (self.canvas.width, self.canvas.height):
            self.canvas.width, self.canvas.height = width, height
            self.canvas.layout.width, self.canvas.layout.height = f"{width}px", f"{height}px"
        if self.ready and png:
            with hold_canvas():
                self.canvas.clear()
                self.canvas.draw_image(Image(value=png, format="png"), 0, 0)


class Board:
    """A canvas with its strokes: mouse and touch events, the drawing on screen, and the model input
    kept up to date incrementally (`qd.data.sketch.Sketch`). Subclasses react in `guess(open_stroke)`:
    at every stroke end, and while the pen moves, at most every `throttle` seconds."""

    def __init__(self, size: int = 400, throttle: float = THROTTLE_SECONDS):
        self.recorder = StrokeRecorder()
        self.sketch = Sketch()
        self.board = ReadyCanvas(size, size)
        self.board.strokes_source = lambda: self.recorder.strokes
        self.throttle = Throttle(throttle)
        self.last_latency_ms: float | None = None
        c = self.board.canvas
        c.on_mouse_down(self.on_down)
        c.on_mouse_move(self.on_move)
        c.on_mouse_up(self.on_up)
        c.on_mouse_out(self.on_up)
        c.on_touch_start(lambda t: t and self.on_down(*t[0]))
        c.on_touch_move(lambda t: t and self.on_move(*t[0]))
        c.on_touch_end(lambda t: self.on_up(*(t[0] if t else (None, None))))
        c.on_touch_cancel(lambda t: self.on_up())

    def accepting(self) -> bool:
        return True

    def on_down(self, x, y):
        if self.recorder.drawing:      # a lost mouse-up or a second finger: the open stroke ends first
            self.on_up()
        if not self.accepting():
            return
        self.recorder.start(x, y)
        self.board.dot(x, y)
        self.throttle.reset()

    def on_move(self, x, y):
        seg = self.recorder.move(x, y)
        self.board.segment(seg)
        now = time.monotonic()
        if seg is not None and self.throttle.ready(now):
            self.guess(open_stroke=self.recorder.strokes[-1])
            self.throttle.took(time.monotonic() - now, machine_busy())

    def on_up(self, x=None, y=None):
        if not self.recorder.drawing:
            return
        self.board.segment(self.recorder.end(x, y))
        self.sketch.add(self.recorder.strokes[-1])
        self.guess()

    def undo(self):
        was_open = self.recorder.drawing     # an open stroke is not in the sketch yet: only the recorder drops it
        if self.recorder.undo():
            if not was_open:
                self.sketch.pop()
            self.board.redraw(self.recorder.strokes)
            self.guess()

    def wipe(self):
        self.recorder.clear()
        self.sketch.clear()
        self.board.redraw([])

    def image(self, open_stroke=None) -> np.ndarray:
        """The 28x28 model input; a QDError while the drawing has no size yet (a dot)."""
        return self.sketch.image(open_stroke)

    def guess(self, open_stroke=None):
        raise NotImplementedError
