"""Play mode: Quick, Draw!'s rounds in the demo, the rules from `qd.app.game`."""
from __future__ import annotations

import base64
import html
import time

import ipywidgets as w
import numpy as np

from qd.app.canvas import Board
from qd.app.game import ROUND_SECONDS, ROUNDS, Game, a_or_an, speech
from qd.app.guesser import Guesser
from qd.app.view import png_bytes
from qd.data.render import render
from qd.errors import QDError


class GameApp(Board):
    """Play mode: rounds of "Draw a ... in under 20 seconds", a countdown, guesses spoken while you
    draw, the round won as soon as the model names the prompt, lost when time is up; then a grid of
    your drawings, and Play again. The clock ticks in the browser (an ipywidgets `Play` widget)."""

    def __init__(self, guesser: Guesser, rounds: int = ROUNDS, seconds: float = ROUND_SECONDS, seed: int | None = None,
                 size: int = 400, pause: float = 1.5, tick_ms: int = 200):
        super().__init__(size)
        self.guesser, self.rounds, self.seconds, self.seed, self.pause = guesser, rounds, seconds, seed, pause
        self.game = Game(guesser.classes, rounds, seconds, seed)
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
        if self.game.rounds:       # "Play again": the next prompts follow from the same seed
            self.game = Game(self.guesser.classes, self.rounds, self.seconds,
                                  None if self.seed is None else self.seed + len(self.game.rounds))
        self.results.value = ""
        self.start_button.layout.display = "none"
        self.stage.layout.display = ""
        self.next_round()
        self.ticker.playing = True

    def next_round(self):
        self.wipe()
        r = self.game.start_round(time.monotonic())
        self.prompt.value = (f'<h3>Round {len(self.game.rounds)} of {self.game.n_rounds}: draw '
                             f'<span class="qd-prompt-name">{html.escape(a_or_an(r.prompt))}</span> in under '
                             f'{self.seconds:.0f} seconds</h3>')
        self.speech.value = f'<span style="font-size:18px">Draw {html.escape(a_or_an(r.prompt))}!</span>'
        self.show_timer()

    def show_timer(self):
        r = self.game.current
        left = r.left(time.monotonic()) if r else 0
        self.timer.value = f'<h3 style="color:{"#c00" if left < 5 else "#333"}">0:{int(np.ceil(left)):02d}</h3>'

    def tick(self):
        r = self.game.current
        if r is None:
            return
        now = time.monotonic()
        if r.status == "playing":
            if self.game.tick(now) == "lost":
                r.strokes = [list(map(list, s)) for s in self.recorder.strokes]
                self.say(speech(None, r.prompt, "lost"))
            self.show_timer()
        elif r.ended is not None and now - max(r.ended, r.started) >= self.pause:
            if self.game.over:
                self.finish()
            elif len(self.game.rounds) < self.game.n_rounds:
                self.next_round()

    def say(self, text: str):
        self.speech.value = f'<span style="font-size:18px">{html.escape(text, quote=False)}</span>'

    def guess(self, open_stroke=None):
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
        self.say(speech(top, r.prompt, status, unknown))
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3

    def finish(self):
        """The results grid: every drawing with its prompt, the final guess, the prompt's probability."""
        self.ticker.playing = False
        self.stage.layout.display = "none"
        cells = []
        for i, r in enumerate(self.game.results(), 1):
            try:
                img = render(r["strokes"], size=64) if r["strokes"] else np.zeros((64, 64), np.uint8)
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
