"""The demo app, play mode and free draw, and `make_app`, what notebooks/demo.ipynb calls.

Served by Voila (`make demo`). The drawing is kept as strokes, point lists in the official
[[xs], [ys]] layout, and turned into the model input by `qd.data.render`, the same path as the
stroke data: nothing reads canvas pixels.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import ipywidgets as w
import torch
from threadpoolctl import threadpool_limits

from qd.app.free import DrawingApp
from qd.app.game import ROUND_SECONDS, ROUNDS, check_settings
from qd.app.guesser import Guesser
from qd.app.play import GameApp
from qd.errors import QDError
from qd.models.infer import Predictor
from qd.paths import MODELS_DIR


# A phone or a tablet: touch on the canvas draws and never scrolls the page; the canvas fits the
# width; free draw's bars wrap below the canvas on a narrow screen. The page never scrolls itself
# while the game talks: with the page scrolled down, a guess that wrapped to a second line made the
# browser's scroll anchoring move the canvas 30 px up under a pen already drawing.
STYLE = """<style>
:has(.qd-app) { overflow-anchor: none; }
.qd-app canvas { touch-action: none; box-sizing: border-box; }
.qd-app .qd-panes { flex-wrap: wrap; }
.qd-app .qd-panes > * { margin-bottom: 8px; }
.qd-app .qd-card { aspect-ratio: 1 / 1; border: 2px solid #999; box-sizing: border-box; padding: 16px; }
.qd-app .qd-card .widget-html-content { height: 100%; display: flex; flex-direction: column; justify-content: center; }
</style>"""


class DemoApp:
    """The demo: play mode (the default) and free draw, switched by a toggle."""

    def __init__(self, play: GameApp | None, free: DrawingApp):
        self.play, self.free = play, free
        options = (["Play"] if play else []) + ["Free draw"]
        self.mode = w.ToggleButtons(options=options, value=options[0])
        self.mode.add_class("qd-mode")
        self.mode.observe(lambda _: self.show(), names="value")
        views = ([play.widget] if play else []) + [free.widget]
        self.widget = w.VBox([w.HTML(STYLE + "<h2>Quick, Draw!</h2>"), self.mode, *views])
        self.widget.add_class("qd-app")
        self.show()

    def show(self):
        if self.play is not None:
            self.play.widget.layout.display = "" if self.mode.value == "Play" else "none"
        self.free.widget.layout.display = "" if self.mode.value == "Free draw" else "none"


def settings(rounds=None, seconds=None, seed=None) -> tuple[int, float, int | None, list[str]]:
    """The game's settings: the arguments, else $QD_DEMO_ROUNDS / $QD_DEMO_SECONDS / $QD_DEMO_SEED, else
    the defaults. A bad value from the environment is replaced by the default, with a note for the
    page (the demo always starts); a bad argument is a `QDError`."""
    notes = []

    def from_env(name, parse, default, check, allowed):
        text = os.environ.get(name)
        if text is None or not text.strip():
            return default
        try:
            value = parse(text)
            check(value)
            return value
        except (ValueError, QDError):
            notes.append(f"${name}={text!r} is not usable ({allowed}); playing with {default}")
            return default

    if rounds is None:
        rounds = from_env("QD_DEMO_ROUNDS", int, ROUNDS, lambda v: check_settings(v, ROUND_SECONDS), "rounds: 1..100")
    if seconds is None:
        seconds = from_env("QD_DEMO_SECONDS", float, ROUND_SECONDS, lambda v: check_settings(ROUNDS, v),
                           "seconds: more than 0, at most 600")
    check_settings(rounds, seconds)
    if seed is None and (os.environ.get("QD_DEMO_SEED") or "").strip():
        try:
            seed = int(os.environ["QD_DEMO_SEED"])
        except ValueError:
            notes.append(f"$QD_DEMO_SEED={os.environ['QD_DEMO_SEED']!r} is not a whole number; a new game each time")
    return rounds, seconds, seed, notes


def prompt_words(words, vocabulary: list[str], notes: list[str]) -> list[str] | None:
    """The words the game prompts (a lesson's words; the browser replay's classes): `words` (a list,
    or a comma-separated string), else $QD_DEMO_WORDS, else None (the whole vocabulary). A word
    the model does not know is a `QDError` as an argument, and a note for the page from the environment."""
    from_env = words is None
    if from_env:
        words = os.environ.get("QD_DEMO_WORDS") or None
        if words is None:
            return None
    listed = [x.strip() for x in words.split(",")] if isinstance(words, str) else words
    if not isinstance(listed, (list, tuple)) or not all(isinstance(x, str) for x in listed):
        raise QDError(f"words must be a list of class names, got {words!r:.60}")
    listed = list(dict.fromkeys(x for x in listed if x))
    unknown = [x for x in listed if x not in vocabulary]
    if unknown or not listed:
        message = (f"the model does not know {', '.join(map(repr, unknown[:5]))}" if unknown else "no words given")
        if not from_env:
            raise QDError(f"words: {message}")
        notes.append(f"$QD_DEMO_WORDS: {message}; playing with all {len(vocabulary)} classes")
        return None
    return listed


def make_app(model_path=None, second_model=None, rounds: int | None = None, seconds: float | None = None,
             seed: int | None = None, words=None, **kw) -> DemoApp:
    """The demo with the saved model (play mode and free draw), or free draw with a message saying
    how to make one. Free draw shows a second model beside ours: DoodleNet, and our 345-class model
    (`second_model`, default models/qd345.pt) when it exists. `QD_DEMO_ROUNDS`, `QD_DEMO_SECONDS`,
    `QD_DEMO_SEED` and `QD_DEMO_WORDS` set the game's defaults (tests, the browser replay)."""
    # One drawing at a time, and a classroom's kernels share the cores: one thread each, for torch and
    # for numpy's BLAS too (OpenBLAS's second thread spun after every call: half a core per kernel
    # drawing, and 30 kernels each spinning one on 2 cores)
    torch.set_num_threads(1)
    threadpool_limits(1)
    rounds, seconds, seed, notes = settings(rounds, seconds, seed)
    second_models = {}
    try:
        second_models["DoodleNet (345 classes, ml5)"] = Guesser.doodlenet()
    except QDError:
        pass
    path345 = Path(second_model) if second_model else MODELS_DIR / "qd345.pt"
    if path345.is_file():
        try:
            second_models["ours, 345 classes"] = Guesser.from_predictor(Predictor(path345), "ours, 345 classes")
        except QDError:
            pass
    try:
        predictor = Predictor(model_path)
    except QDError as e:
        return DemoApp(None, DrawingApp(None, model_error="; ".join([str(e), *notes]), second_models=second_models, **kw))
    free = DrawingApp(predictor, second_models=second_models, **kw)
    app = DemoApp(GameApp(free.ours, rounds, seconds, seed, words=prompt_words(words, free.ours.classes, notes)), free)
    if notes:
        free.status.value = '<span style="color:#b00">' + html.escape("; ".join(notes)) + "</span>"
    return app
