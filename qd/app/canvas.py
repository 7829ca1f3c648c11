"""The demo's canvases: `Board`, the drawing pad with its strokes (`qd.app.pad.Pad`, which draws in
the page), and `PictureCanvas`, an ipycanvas Canvas showing one PNG (the explorers).

Served by Voila (`make demo`, notebooks/demo.ipynb). The drawing is kept as strokes, point lists in
the official [[xs], [ys]] layout, and turned into the model input by `qd.data.render.render`, the same
path as the stroke data: nothing reads canvas pixels.

The Voila pitfall of ipycanvas, and the fix here: ipycanvas sends draw commands as comm messages,
and those sent while Voila first executes the notebook reach no browser. The first of them is the
canvas manager's `switchCanvas`; once it is lost, the browser has no current canvas and every later
draw fails with "Cannot read properties of undefined (reading 'strokeLine')", because Python
believes the switch was made. `PictureCanvas` therefore draws nothing until the browser view says it
is ready (`on_client_ready`), then makes the manager send `switchCanvas` again (`resend_switch`) and
draws its picture (the fix the team's developer notes call `ReadyCanvas`). A page reload is a new
client and gets the same replay. (The pad keeps its drawing as widget state, which reaches a late
view by itself.)
"""
from __future__ import annotations

import time

import numpy as np
import psutil
from ipycanvas import Canvas, hold_canvas
from ipywidgets import Image

from qd.app.game import THROTTLE_SECONDS, Throttle
from qd.app.pad import Pad
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


class PictureCanvas:
    """An ipycanvas Canvas showing one PNG (the explorers' pages and matrices), drawn once a browser
    view is ready and again for every new view (the module docstring says why)."""

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
    """A drawing pad with its strokes: the page's pen batches (`qd.app.pad.Pad`), the drawing, and the
    model input kept up to date incrementally (`qd.data.sketch.Sketch`). Subclasses react in
    `guess(open_stroke)`: at every stroke end, and while the pen moves, at most every `throttle`
    seconds (once a batch at most: a batch is the pen's points since the last one)."""

    def __init__(self, size: int = 400, throttle: float = THROTTLE_SECONDS):
        self.recorder = StrokeRecorder()
        self.sketch = Sketch()
        self.pad = Pad(width=size, height=size)
        self.pad.on_pen(self.on_pen)
        self.throttle = Throttle(throttle)
        self.last_latency_ms: float | None = None

    def accepting(self) -> bool:
        return True

    def on_pen(self, ops) -> None:
        """One batch from the page, [(op, x, y)] with op down / move / up, in its order. Points the
        kernel does not take (no round is on; a stroke it ended itself) make the page redraw the
        drawing the kernel has, so what a pupil sees is what is guessed."""
        refused, moves = False, []
        for op, x, y in ops:
            if op == "move":
                moves.append((x, y))
                continue
            if moves:                  # a stroke's last moves come with its end, which guesses
                refused |= not self.on_moves(moves, guess=op != "up")
                moves = []
            if op == "down":
                refused |= not self.on_down(x, y)
            elif self.recorder.drawing:
                self.on_up(x, y)
            else:
                refused = True
        if moves:
            refused |= not self.on_moves(moves)
        if refused:
            self.pad.redraw(self.recorder.strokes)

    def on_down(self, x, y) -> bool:
        """The pen goes down; False when no stroke may start now."""
        if self.recorder.drawing:      # a lost pen-up or a second finger: the open stroke ends first
            self.on_up()
        if not self.accepting():
            return False
        self.recorder.start(x, y)
        self.throttle.reset()
        return True

    def on_moves(self, points, guess: bool = True) -> bool:
        """The pen moved through `points`; one guess at most, with all of them (if `guess` and the
        throttle allows). False when no stroke is open."""
        if not self.recorder.drawing:
            return False
        grew = False
        for x, y in points:
            grew |= self.recorder.move(x, y) is not None
        now = time.monotonic()
        if guess and grew and self.throttle.ready(now):
            self.guess(open_stroke=self.recorder.strokes[-1])
            self.throttle.took(time.monotonic() - now, machine_busy())
        return True

    def on_move(self, x, y) -> bool:
        return self.on_moves([(x, y)])

    def on_up(self, x=None, y=None):
        if not self.recorder.drawing:
            return
        self.recorder.end(x, y)
        self.sketch.add(self.recorder.strokes[-1])
        self.pad.keep(self.recorder.strokes)
        self.guess()

    def undo(self):
        was_open = self.recorder.drawing     # an open stroke is not in the sketch yet: only the recorder drops it
        if self.recorder.undo():
            if not was_open:
                self.sketch.pop()
            self.pad.redraw(self.recorder.strokes)
            self.guess()

    def wipe(self):
        self.recorder.clear()
        self.sketch.clear()
        self.pad.redraw([])

    def image(self, open_stroke=None) -> np.ndarray:
        """The 28x28 model input; a QDError while the drawing has no size yet (a dot)."""
        return self.sketch.image(open_stroke)

    def guess(self, open_stroke=None):
        raise NotImplementedError
