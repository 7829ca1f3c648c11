"""The drawing demo: draw on an ipycanvas canvas, see what the model thinks after every stroke.

Served by Voila (`make demo`, notebooks/demo.ipynb). The drawing is kept as strokes, point lists in
the official [[xs], [ys]] layout, and turned into the model input by `qd.render.render`, the same
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

import html
import io
import time
from dataclasses import dataclass, field

import numpy as np

from qd.errors import QDError

EMPTY_MESSAGE = "Draw something! I will guess after every stroke."
UNSURE_THRESHOLD = 0.5


# ----------------------------------------------------------------------------- pure logic

@dataclass
class StrokeRecorder:
    """Mouse/touch events -> strokes. Each event is O(1); points closer than `min_step` canvas
    pixels to the previous one are dropped, so mouse-move floods stay cheap."""
    min_step: float = 2.0
    strokes: list = field(default_factory=list)   # each [[xs], [ys]]
    drawing: bool = False

    def start(self, x: float, y: float) -> None:
        self.strokes.append([[float(x)], [float(y)]])
        self.drawing = True

    def move(self, x: float, y: float):
        """Add a point to the open stroke; returns the segment (x0, y0, x1, y1) to draw, or None."""
        if not self.drawing:
            return None
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


def answer_text(top: list[tuple[str, float]] | None, threshold: float = UNSURE_THRESHOLD) -> str:
    """The one-line answer: a guess, an unsure hint, or the empty-canvas prompt."""
    if not top:
        return EMPTY_MESSAGE
    name, p = top[0]
    if p < threshold:
        return f"Hmm, I'm not sure yet. Maybe a {name} ({p:.0%})? Keep drawing."
    return f"I think it is a {name}, {p:.0%}"


def bars_html(top: list[tuple[str, float]]) -> str:
    """Top-k probabilities as a horizontal bar chart (plain HTML, so it updates in ~1 ms)."""
    rows = []
    for i, (name, p) in enumerate(top):
        color = "#e8710a" if i == 0 else "#4285f4"
        rows.append(
            f'<div class="qd-bar" style="display:flex;align-items:center;margin:2px 0;font:13px sans-serif">'
            f'<span class="qd-bar-name" style="width:110px;text-align:right;padding-right:8px">{html.escape(name)}</span>'
            f'<span style="flex:1;background:#eee;height:16px;position:relative">'
            f'<span style="position:absolute;left:0;top:0;bottom:0;width:{p * 100:.1f}%;background:{color}"></span></span>'
            f'<span class="qd-bar-p" style="width:48px;padding-left:6px">{p:.0%}</span></div>')
    return '<div class="qd-bars">' + "".join(rows) + "</div>"


def png_bytes(img: np.ndarray, scale: int = 4) -> bytes:
    """A 28x28 model input as an upscaled PNG, ink dark on white as people draw."""
    from PIL import Image
    im = Image.fromarray(255 - img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- widgets

class ReadyCanvas:
    """An ipycanvas Canvas that draws only once its browser view is ready, and replays its state
    to every new client (see the module docstring for why)."""

    def __init__(self, width: int = 400, height: int = 400, pen_width: float = 10.0, color: str = "#222"):
        from ipycanvas import Canvas
        self.canvas = Canvas(width=width, height=height)
        self.canvas.layout.border = "2px solid #999"
        self.canvas.layout.width = f"{width}px"
        self.canvas.layout.height = f"{height}px"
        self.pen_width = pen_width
        self.color = color
        self.ready = False
        self.strokes_source = lambda: []   # set by the app: the strokes to replay
        self.canvas.on_client_ready(self._on_client_ready)

    def _on_client_ready(self, *_):
        # The browser has no current canvas yet: make the manager send switchCanvas again.
        manager = getattr(self.canvas, "_canvas_manager", None)
        if manager is not None and hasattr(manager, "_current_canvas"):
            manager._current_canvas = None
        self.ready = True
        self.redraw(self.strokes_source())

    def redraw(self, strokes) -> None:
        """Clear and draw every stroke, styles first (they were lost too if sent early)."""
        if not self.ready:
            return
        from ipycanvas import hold_canvas
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


class DrawingApp:
    """Canvas + Guess / Undo / Clear + the answer line, a top-k bar chart and the 28x28 input."""

    def __init__(self, predictor=None, model_error: str | None = None, top_k: int = 5,
                 threshold: float = UNSURE_THRESHOLD, size: int = 400):
        import ipywidgets as w
        self.predictor = predictor
        self.top_k, self.threshold = top_k, threshold
        self.recorder = StrokeRecorder()
        self.board = ReadyCanvas(size, size)
        self.board.strokes_source = lambda: self.recorder.strokes
        self.last_latency_ms: float | None = None
        self.last_top: list = []

        c = self.board.canvas
        c.on_mouse_down(self.on_down)
        c.on_mouse_move(self.on_move)
        c.on_mouse_up(self.on_up)
        c.on_mouse_out(self.on_up)
        c.on_touch_start(lambda t: t and self.on_down(*t[0]))
        c.on_touch_move(lambda t: t and self.on_move(*t[0]))
        c.on_touch_end(lambda t: self.on_up(*(t[0] if t else (None, None))))
        c.on_touch_cancel(lambda t: self.on_up())

        self.guess_button = w.Button(description="Guess", icon="question", button_style="primary")
        self.undo_button = w.Button(description="Undo", icon="undo")
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.guess_button.on_click(lambda _: self.predict())
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.answer = w.HTML(layout=w.Layout(min_height="28px"))
        self.answer.add_class("qd-answer")
        self.chart = w.HTML(layout=w.Layout(width="340px"))
        self.chart.add_class("qd-chart")
        self.preview = w.Image(format="png", width=112, height=112)
        self.preview.layout.border = "1px solid #ccc"
        self.status = w.HTML()
        self.status.add_class("qd-status")
        if predictor is None:
            self.guess_button.disabled = True
            self.status.value = f'<span style="color:#b00">{html.escape(model_error or "no model")}</span>'
        side = w.VBox([w.HTML("<b>What the model sees (28x28)</b>"), self.preview,
                       w.HTML("<b>Top guesses</b>"), self.chart], layout=w.Layout(margin="0 0 0 16px"))
        self.widget = w.VBox([
            w.HTML("<h2>Quick, Draw! — draw a doodle</h2>"),
            w.HBox([w.VBox([c, w.HBox([self.guess_button, self.undo_button, self.clear_button])]), side]),
            self.answer, self.status])
        self.widget.add_class("qd-demo")
        self.show_result(None, None, message=None if predictor else "No trained model yet: see the note below.")

    # --- events (kept cheap: no model work on mouse moves)
    def on_down(self, x, y):
        self.recorder.start(x, y)
        self.board.dot(x, y)

    def on_move(self, x, y):
        self.board.segment(self.recorder.move(x, y))

    def on_up(self, x=None, y=None):
        if not self.recorder.drawing:
            return
        self.board.segment(self.recorder.end(x, y))
        self.predict()

    def undo(self):
        if self.recorder.undo():
            self.board.redraw(self.recorder.strokes)
            self.predict()

    def clear(self):
        self.recorder.clear()
        self.board.redraw([])
        self.show_result(None, None)
        if self.predictor is not None:
            self.status.value = ""

    # --- prediction
    def predict(self):
        """Strokes -> probabilities -> widgets; records the server-side latency."""
        t0 = time.perf_counter()
        if self.predictor is None:
            return
        if self.recorder.is_empty:
            self.show_result(None, None)
            self.status.value = ""
            return
        n = len(self.recorder.strokes)
        try:
            probs, img = self.predictor.predict_strokes(self.recorder.strokes)
        except QDError as e:  # a single dot has no size yet; anything else, say what
            small = "single point" in str(e) or "zero-size" in str(e)
            self.show_result(None, None, message="Keep drawing: a dot is not a doodle yet." if small
                             else f"Cannot read this drawing: {e}")
            return
        self.show_result(self.predictor.top(probs, self.top_k), img)
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3
        self.status.value = (f'<span style="color:#888">predicted in {self.last_latency_ms:.0f} ms '
                             f'({n} stroke{"s" if n > 1 else ""})</span>')

    def show_result(self, top, img, message: str | None = None):
        self.last_top = top or []
        self.answer.value = f'<span style="font-size:18px">{html.escape(message or answer_text(top, self.threshold))}</span>'
        self.chart.value = bars_html(top) if top else ""
        self.preview.value = png_bytes(img if img is not None else np.zeros((28, 28), np.uint8))


def make_app(model_path=None, **kw) -> DrawingApp:
    """The demo app with the saved model, or with a message saying how to make one."""
    import os

    import torch

    from qd.infer import Predictor
    # One drawing at a time: more than two threads only adds start-up overhead per prediction.
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        return DrawingApp(Predictor(model_path), **kw)
    except QDError as e:
        return DrawingApp(None, model_error=str(e), **kw)


def replay(app: DrawingApp, strokes) -> list[float]:
    """Feed strokes ([[xs], [ys], ...] lists or arrays) to the app as mouse events; returns the
    server-side latency (ms) from each stroke's end to its probabilities being set on the widgets."""
    out = []
    for s in strokes:
        xs, ys = list(s[0]), list(s[1])
        app.on_down(xs[0], ys[0])
        for x, y in zip(xs[1:], ys[1:]):
            app.on_move(x, y)
        app.last_latency_ms = None
        app.on_up()
        if app.last_latency_ms is not None:
            out.append(app.last_latency_ms)
    return out


def measure_latency(predictor, drawings) -> dict:
    """Median and 95th-percentile stroke-end -> probabilities-shown latency over real drawings,
    without a browser (what the kernel spends; the browser's drawing is not included)."""
    app = DrawingApp(predictor)
    lat = []
    for d in drawings:
        app.clear()
        lat += replay(app, [np.asarray(s)[:2] * 1.5 for s in getattr(d, "strokes", d)])
    return {"strokes": len(lat), "median_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95))}
