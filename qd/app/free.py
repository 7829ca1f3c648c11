"""Free draw: draw anything, see our model's top guesses as bars after every stroke (and while the pen
moves), what the model sees, and a second model's guesses beside ours."""
from __future__ import annotations

import html
import time

import ipywidgets as w
import numpy as np

from qd.app.canvas import Board
from qd.app.guesser import Guesser
from qd.app.view import UNSURE_THRESHOLD, answer_text, bars_html, png_bytes
from qd.errors import QDError


def _unsure_message(e: QDError) -> str:
    return f"Cannot read this drawing: {e}"


class DrawingApp(Board):
    """Free draw: canvas + Guess / Undo / Clear, our model's answer line, its top-k bars and the 28x28
    input, and a second model's top guesses beside ours (a selector picks it: DoodleNet, or our
    345-class model). "I don't know" when our model's detector says the drawing is none of its classes."""

    def __init__(self, predictor=None, model_error: str | None = None, top_k: int = 5,
                 threshold: float = UNSURE_THRESHOLD, size: int = 400, second_models: dict | None = None):
        super().__init__(size)
        self.predictor = predictor
        self.ours = Guesser.from_predictor(predictor) if hasattr(predictor, "meta") else predictor
        self.top_k, self.threshold = top_k, threshold
        self.last_top: list = []
        self.unknown = False
        self.second_models = dict(second_models or {})
        self.guess_button = w.Button(description="Guess", icon="question", button_style="primary")
        self.undo_button = w.Button(description="Undo", icon="undo")
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.guess_button.on_click(lambda _: self.guess())
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.answer = w.HTML(layout=w.Layout(min_height="28px"))
        self.answer.add_class("qd-answer")
        self.chart = w.HTML(layout=w.Layout(width="300px", max_width="100%"))
        self.chart.add_class("qd-chart")
        self.preview = w.Image(format="png", width=112, height=112)
        self.preview.layout.border = "1px solid #ccc"
        self.status = w.HTML()
        self.status.add_class("qd-status")
        self.selector = w.Dropdown(options=list(self.second_models), description="beside it:",
                                   layout=w.Layout(width="300px", display="" if self.second_models else "none"))
        self.selector.add_class("qd-second-select")
        self.chart2 = w.HTML(layout=w.Layout(width="300px", max_width="100%"))
        self.chart2.add_class("qd-chart2")
        self.credit = w.HTML()
        self.credit.add_class("qd-credit")
        self.selector.observe(lambda _: self.guess(), names="value")
        if predictor is None:
            self.guess_button.disabled = True
            self.status.value = f'<span style="color:#b00">{html.escape(model_error or "no model")}</span>'
        ours = w.VBox([w.HTML("<b>Our model</b>"), self.chart, w.HTML("<b>What it sees (28x28)</b>"), self.preview],
                      layout=w.Layout(margin="0 0 0 16px"))
        other = w.VBox([w.HTML("<b>Another model</b>"), self.selector, self.chart2, self.credit],
                       layout=w.Layout(margin="0 0 0 16px", display="" if self.second_models else "none"))
        pad = w.VBox([self.pad, w.HBox([self.guess_button, self.undo_button, self.clear_button])],
                     layout=w.Layout(width="100%", max_width=f"{size + 12}px"))
        panes = w.HBox([pad, ours, other])
        panes.add_class("qd-panes")        # wraps: the bars go below the canvas on a narrow screen
        self.widget = w.VBox([panes, self.answer, self.status])
        self.widget.add_class("qd-demo")
        self.widget.add_class("qd-free")
        self.show_result(None, None, message=None if predictor else "No trained model yet: see the note below.")

    def clear(self):
        self.wipe()
        self.show_result(None, None)
        self.chart2.value = ""
        if self.predictor is not None:
            self.status.value = ""

    def guess(self, open_stroke=None):
        """Strokes -> probabilities -> widgets (ours, and the selected second model); records the
        server-side latency."""
        t0 = time.perf_counter()
        if self.predictor is None:
            return
        if self.recorder.is_empty:
            self.show_result(None, None)
            self.chart2.value = ""
            self.status.value = ""
            return
        strokes = self.recorder.strokes
        try:
            img = self.image(open_stroke)
        except QDError as e:
            self.show_result(None, None, message=_unsure_message(e))
            return
        probs, self.unknown = self.ours.guess(img, strokes)
        top = self.ours.top(probs, self.top_k)
        self.show_result(top, img, message="Hmm, I don't know what that is." if self.unknown else None)
        second = self.second_models.get(self.selector.value)
        if second is not None and open_stroke is None:     # beside ours at each stroke end, not while the pen moves
            self.chart2.value = bars_html(second.top(second.predict(img, strokes), self.top_k))
            self.credit.value = f'<span style="color:#888;font-size:11px">{html.escape(second.attribution)}</span>'
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3
        n = len(strokes)
        done = f'{n} stroke{"s" if n > 1 else ""}' if open_stroke is None else f"drawing stroke {n}"
        self.status.value = f'<span style="color:#888">predicted in {self.last_latency_ms:.0f} ms ({done})</span>'

    def show_result(self, top, img, message: str | None = None):
        self.last_top = top or []
        self.answer.value = f'<span style="font-size:18px">{html.escape(message or answer_text(top, self.threshold), False)}</span>'
        self.chart.value = bars_html(top) if top else ""
        self.preview.value = png_bytes(img if img is not None else np.zeros((28, 28), np.uint8))
