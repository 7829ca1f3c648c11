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

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

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


class Guesser:
    """A model for the demo: ours (a qd checkpoint via `qd.infer.Predictor`) or DoodleNet, the peer.
    `predict(img, strokes)` -> probabilities; `is_unknown(img)` when a detector came with it."""

    def __init__(self, name: str, classes: list[str], predict, is_unknown=None, attribution: str = ""):
        self.name, self.classes, self._predict = name, list(classes), predict
        self._unknown, self.attribution = is_unknown, attribution

    @classmethod
    def from_predictor(cls, p, name: str | None = None) -> "Guesser":
        pre = p.meta.get("preprocessing") or {}
        image = pre.get("input", "image") == "image" and int(pre.get("size", 28)) == 28
        predict = (lambda img, strokes: p.predict_image(img)) if image else \
            (lambda img, strokes: p.predict_strokes(strokes)[0])
        return cls(name or f"ours ({len(p.classes)} classes)", p.classes, predict,
                   p.is_unknown if p.detector is not None else None)

    @classmethod
    def doodlenet(cls) -> "Guesser":
        from qd import doodlenet
        net, names = doodlenet.load()
        return cls("DoodleNet (345 classes)", names, lambda img, strokes: doodlenet.predict_proba(net, img[None])[0],
                   attribution=doodlenet.ATTRIBUTION)

    def predict(self, img: np.ndarray, strokes=None) -> np.ndarray:
        return self._predict(img, strokes)

    def is_unknown(self, img: np.ndarray) -> bool:
        return bool(self._unknown(img)) if self._unknown is not None else False

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-probs)[:k]
        return [(self.classes[i], float(probs[i])) for i in order]


class Board:
    """A canvas with its strokes: mouse and touch events, the drawing on screen, and the model input
    kept up to date incrementally (`qd.render.Sketch`). Subclasses react in `guess(open_stroke)`:
    at every stroke end, and while the pen moves, at most every `throttle` seconds."""

    def __init__(self, size: int = 400, throttle: float = 0.15):
        from qd import game, render
        self.recorder = StrokeRecorder()
        self.sketch = render.Sketch()
        self.board = ReadyCanvas(size, size)
        self.board.strokes_source = lambda: self.recorder.strokes
        self.throttle = game.Throttle(throttle)
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
        if not self.accepting():
            return
        self.recorder.start(x, y)
        self.board.dot(x, y)
        self.throttle.reset()

    def on_move(self, x, y):
        seg = self.recorder.move(x, y)
        self.board.segment(seg)
        if seg is not None and self.throttle.ready(time.monotonic()):
            self.guess(open_stroke=self.recorder.strokes[-1])

    def on_up(self, x=None, y=None):
        if not self.recorder.drawing:
            return
        self.board.segment(self.recorder.end(x, y))
        self.sketch.add(self.recorder.strokes[-1])
        self.guess()

    def undo(self):
        if self.recorder.undo():
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


def _unsure_message(e: QDError) -> str:
    small = "single point" in str(e) or "zero-size" in str(e)
    return "Keep drawing: a dot is not a doodle yet." if small else f"Cannot read this drawing: {e}"


class DrawingApp(Board):
    """Free draw: canvas + Guess / Undo / Clear, our model's answer line, its top-k bars and the 28x28
    input, and a second model's top guesses beside ours (a selector picks it: DoodleNet, or our
    345-class model). "I don't know" when our model's detector says the drawing is none of its classes."""

    def __init__(self, predictor=None, model_error: str | None = None, top_k: int = 5,
                 threshold: float = UNSURE_THRESHOLD, size: int = 400, seconds: dict | None = None):
        import ipywidgets as w
        super().__init__(size)
        self.predictor = predictor
        self.ours = Guesser.from_predictor(predictor) if hasattr(predictor, "meta") else predictor
        self.top_k, self.threshold = top_k, threshold
        self.last_top: list = []
        self.unknown = False
        self.second_models = dict(seconds or {})
        self.guess_button = w.Button(description="Guess", icon="question", button_style="primary")
        self.undo_button = w.Button(description="Undo", icon="undo")
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.guess_button.on_click(lambda _: self.guess())
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.answer = w.HTML(layout=w.Layout(min_height="28px"))
        self.answer.add_class("qd-answer")
        self.chart = w.HTML(layout=w.Layout(width="300px"))
        self.chart.add_class("qd-chart")
        self.preview = w.Image(format="png", width=112, height=112)
        self.preview.layout.border = "1px solid #ccc"
        self.status = w.HTML()
        self.status.add_class("qd-status")
        self.selector = w.Dropdown(options=list(self.second_models), description="beside it:",
                                   layout=w.Layout(width="300px", display="" if self.second_models else "none"))
        self.selector.add_class("qd-second-select")
        self.chart2 = w.HTML(layout=w.Layout(width="300px"))
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
        self.widget = w.VBox([
            w.HBox([w.VBox([self.board.canvas, w.HBox([self.guess_button, self.undo_button, self.clear_button])]),
                    ours, other]),
            self.answer, self.status])
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
        probs = self.ours.predict(img, strokes)
        self.unknown = self.ours.is_unknown(img)
        top = self.ours.top(probs, self.top_k)
        self.show_result(top, img, message="Hmm, I don't know what that is." if self.unknown else None)
        second = self.second_models.get(self.selector.value)
        if second is not None:
            self.chart2.value = bars_html(second.top(second.predict(img, strokes), self.top_k))
            self.credit.value = f'<span style="color:#888;font-size:11px">{html.escape(second.attribution)}</span>'
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3
        n = len(strokes)
        self.status.value = (f'<span style="color:#888">predicted in {self.last_latency_ms:.0f} ms '
                             f'({n} stroke{"s" if n > 1 else ""})</span>')

    def show_result(self, top, img, message: str | None = None):
        self.last_top = top or []
        self.answer.value = f'<span style="font-size:18px">{html.escape(message or answer_text(top, self.threshold), False)}</span>'
        self.chart.value = bars_html(top) if top else ""
        self.preview.value = png_bytes(img if img is not None else np.zeros((28, 28), np.uint8))


class GameApp(Board):
    """Play mode: rounds of "Draw a ... in under 20 seconds", a countdown, guesses spoken while you
    draw, the round won as soon as the model names the prompt, lost when time is up; then a grid of
    your drawings, and Play again. The clock ticks in the browser (an ipywidgets `Play` widget)."""

    def __init__(self, guesser: Guesser, rounds: int = 6, seconds: float = 20.0, seed: int | None = None,
                 size: int = 400, pause: float = 1.5, tick_ms: int = 200):
        import ipywidgets as w
        super().__init__(size)
        from qd import game
        self.guesser, self.rounds, self.seconds, self.seed, self.pause = guesser, rounds, seconds, seed, pause
        self.game = game.Game(guesser.classes, rounds, seconds, seed)
        self.prompt = w.HTML()
        self.prompt.add_class("qd-prompt")
        self.timer = w.HTML()
        self.timer.add_class("qd-timer")
        self.speech = w.HTML(layout=w.Layout(min_height="28px"))
        self.speech.add_class("qd-speech")
        self.results = w.HTML()
        self.results.add_class("qd-results")
        self.start_button = w.Button(description="Start", icon="play", button_style="success")
        self.start_button.add_class("qd-start")
        self.start_button.on_click(lambda _: self.new_game())
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.clear_button.on_click(lambda _: self.wipe())
        self.ticker = w.Play(interval=tick_ms, min=0, max=10 ** 9, step=1, layout=w.Layout(display="none"))
        self.ticker.observe(lambda _: self.tick(), names="value")
        self.stage = w.VBox([self.board.canvas, w.HBox([self.clear_button])])
        self.widget = w.VBox([w.HBox([self.prompt, self.timer], layout=w.Layout(justify_content="space-between",
                                                                                   width=f"{size}px")),
                              self.stage, self.speech, w.HBox([self.start_button]), self.results, self.ticker])
        self.widget.add_class("qd-demo")
        self.widget.add_class("qd-play")
        self.prompt.value = f"<h3>{rounds} rounds: draw what I ask, and I guess while you draw.</h3>"
        self.speech.value = "Press Start."

    def accepting(self) -> bool:
        r = self.game.current
        return r is not None and r.status == "playing"

    def new_game(self):
        from qd import game
        if self.game.rounds:       # "Play again": the next prompts follow from the same seed
            self.game = game.Game(self.guesser.classes, self.rounds, self.seconds,
                                  None if self.seed is None else self.seed + len(self.game.rounds))
        self.results.value = ""
        self.start_button.layout.display = "none"
        self.stage.layout.display = ""
        self.next_round()
        self.ticker.playing = True

    def next_round(self):
        self.wipe()
        r = self.game.start_round(time.monotonic())
        from qd.game import _a
        self.prompt.value = (f'<h3>Round {len(self.game.rounds)} of {self.game.n_rounds}: draw '
                             f'<span class="qd-prompt-name">{html.escape(_a(r.prompt))}</span> in under '
                             f'{self.seconds:.0f} seconds</h3>')
        self.speech.value = f'<span style="font-size:18px">Draw {html.escape(_a(r.prompt))}!</span>'
        self.show_timer()

    def show_timer(self):
        r = self.game.current
        left = r.left(time.monotonic()) if r else 0
        self.timer.value = f'<h3 style="color:{"#c00" if left < 5 else "#333"}">0:{int(np.ceil(left)):02d}</h3>'

    def tick(self):
        from qd import game
        r = self.game.current
        if r is None:
            return
        now = time.monotonic()
        if r.status == "playing":
            if self.game.tick(now) == "lost":
                r.strokes = [list(map(list, s)) for s in self.recorder.strokes]
                self.say(game.speech(None, r.prompt, "lost"))
            self.show_timer()
        elif r.ended is not None and now - max(r.ended, r.started) >= self.pause:
            if self.game.over:
                self.finish()
            elif len(self.game.rounds) < self.game.n_rounds:
                self.next_round()

    def say(self, text: str):
        self.speech.value = f'<span style="font-size:18px">{html.escape(text, quote=False)}</span>'

    def guess(self, open_stroke=None):
        from qd import game
        r = self.game.current
        if r is None or r.status != "playing" or self.recorder.is_empty:
            return
        t0 = time.perf_counter()
        try:
            img = self.image(open_stroke)
        except QDError:
            return
        probs = self.guesser.predict(img, self.recorder.strokes)
        unknown = self.guesser.is_unknown(img)
        top = self.guesser.top(probs, 3)
        status = self.game.guess(top, dict(zip(self.guesser.classes, probs.tolist())), time.monotonic(), unknown)
        if status != "playing":
            r.strokes = [list(map(list, s)) for s in self.recorder.strokes]
            if status == "won":
                r.ended = time.monotonic()
        self.say(game.speech(top, r.prompt, status, unknown))
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3

    def finish(self):
        """The results grid: every drawing with its prompt, the final guess, the prompt's probability."""
        from qd import render
        self.ticker.playing = False
        self.stage.layout.display = "none"
        cells = []
        for i, r in enumerate(self.game.results(), 1):
            try:
                img = render.render(r["strokes"], size=64) if r["strokes"] else np.zeros((64, 64), np.uint8)
            except QDError:
                img = np.zeros((64, 64), np.uint8)
            src = "data:image/png;base64," + base64.b64encode(png_bytes(img, scale=2)).decode()
            verdict = "✔ recognised" if r["status"] == "won" else "✘ not guessed"
            guess = "I don't know" if r["guess"] == "?" else (r["guess"] or "–")
            cells.append(f'<div class="qd-result" style="border:1px solid #ccc;padding:6px;width:150px;font:13px sans-serif">'
                         f'<img src="{src}" width="128" height="128"><div><b>{html.escape(r["prompt"], False)}</b> {verdict}</div>'
                         f'<div>final guess: {html.escape(guess, False)}</div><div>p({html.escape(r["prompt"], False)}) = {r["p_prompt"]:.0%}</div></div>')
        won = sum(r["status"] == "won" for r in self.game.results())
        self.prompt.value = f"<h3>You drew {len(cells)} doodles; I recognised {won}.</h3>"
        self.timer.value = ""
        self.results.value = '<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(cells) + "</div>"
        self.say("Play again?")
        self.start_button.description = "Play again"
        self.start_button.layout.display = ""


class DemoApp:
    """The demo: play mode (the default) and free draw, switched by a toggle."""

    def __init__(self, play: GameApp | None, free: DrawingApp):
        import ipywidgets as w
        self.play, self.free = play, free
        options = (["Play"] if play else []) + ["Free draw"]
        self.mode = w.ToggleButtons(options=options, value=options[0])
        self.mode.add_class("qd-mode")
        self.mode.observe(lambda _: self.show(), names="value")
        views = ([play.widget] if play else []) + [free.widget]
        self.widget = w.VBox([w.HTML("<h2>Quick, Draw!</h2>"), self.mode, *views])
        self.widget.add_class("qd-app")
        self.show()

    def show(self):
        if self.play is not None:
            self.play.widget.layout.display = "" if self.mode.value == "Play" else "none"
        self.free.widget.layout.display = "" if self.mode.value == "Free draw" else "none"


def make_app(model_path=None, second_model=None, rounds: int | None = None, seconds: float | None = None,
             seed: int | None = None, **kw) -> DemoApp:
    """The demo with the saved model (play mode and free draw), or free draw with a message saying
    how to make one. Free draw shows a second model beside ours: DoodleNet, and our 345-class model
    (`second_model`, default models/qd345.pt) when it exists. `QD_DEMO_ROUNDS`, `QD_DEMO_SECONDS`
    and `QD_DEMO_SEED` set the game's defaults (tests)."""
    import os

    import torch

    from qd import MODELS_DIR
    from qd.infer import Predictor
    # One drawing at a time: more than two threads only adds start-up overhead per prediction.
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rounds = rounds or int(os.environ.get("QD_DEMO_ROUNDS", 6))
    seconds = seconds or float(os.environ.get("QD_DEMO_SECONDS", 20))
    seed = seed if seed is not None else (int(os.environ["QD_DEMO_SEED"]) if "QD_DEMO_SEED" in os.environ else None)
    seconds_models = {}
    try:
        seconds_models["DoodleNet (345 classes, ml5)"] = Guesser.doodlenet()
    except QDError:
        pass
    path345 = Path(second_model) if second_model else MODELS_DIR / "qd345.pt"
    if path345.is_file():
        try:
            seconds_models["ours, 345 classes"] = Guesser.from_predictor(Predictor(path345), "ours, 345 classes")
        except QDError:
            pass
    try:
        predictor = Predictor(model_path)
    except QDError as e:
        return DemoApp(None, DrawingApp(None, model_error=str(e), seconds=seconds_models, **kw))
    free = DrawingApp(predictor, seconds=seconds_models, **kw)
    return DemoApp(GameApp(free.ours, rounds, seconds, seed), free)


def replay(app: Board, strokes) -> list[float]:
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
