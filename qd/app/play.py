"""Play mode: Quick, Draw!'s rounds in the demo, the rules from `qd.app.game`.

Rounds as Google plays them: a card names the prompt ("Round 3 of 6: draw a carrot in under 20
seconds") and the clock starts when the player presses "Got it!", on a clean canvas. When a round
ends (won or lost) the canvas is cleared at once and the next card shows the verdict: a stroke still
being drawn ends with its round, and pen input between rounds is ignored (`Game.accepts_ink`).
Then the results, like Google's: every drawing with the guesses it got as they changed, the second
it was recognised, and for a drawing not recognised how others drew the prompt and the class it was
taken for (bundled drawings the game recognised).
"""
from __future__ import annotations

import base64
import functools
import html
import time

import ipywidgets as w
import numpy as np

from qd.app.canvas import Board
from qd.app.game import ROUND_SECONDS, ROUNDS, UNKNOWN, Game, a_or_an, announcement, speech, what_it_saw
from qd.app.guesser import Guesser
from qd.app.view import png_bytes
from qd.data import strokes as stroke_data
from qd.data.render import render, render_batch
from qd.errors import QDError

STATES = ("idle", "ready", "playing", "over")     # the page's CSS class qd-state-<state> says which


def _png_src(img: np.ndarray, scale: int = 1) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(img, scale=scale)).decode()


@functools.lru_cache(maxsize=64)
def others_drew(word: str, n: int = 4, size: int = 48) -> str:
    """A strip of `n` bundled drawings of `word` that Google's game recognised, as one PNG data URL
    (one image, not one per drawing); "" when none is bundled."""
    try:
        found = stroke_data.recognised_examples(word, n)
    except QDError:
        return ""
    if not found:
        return ""
    imgs = render_batch([d.strokes for d in found], size=size)
    pad = np.zeros((size, 4), np.uint8)
    return _png_src(np.concatenate([x for img in imgs for x in (img, pad)][:-1], axis=1))


def result_html(i: int, r: dict) -> str:
    """One cell of the results: the round's own drawing, the verdict and the second it was
    recognised, what the game saw as it changed, and for a round lost how others drew the prompt
    and the class it was taken for."""
    try:
        img = render(r["strokes"], size=64) if r["strokes"] else np.zeros((64, 64), np.uint8)
    except QDError:
        img = np.zeros((64, 64), np.uint8)
    prompt, won = r["prompt"], r["status"] == "won"
    e = functools.partial(html.escape, quote=False)
    verdict = f"✔ recognised in {r['seconds']:.1f} s" if won else "✘ not recognised"
    saw = what_it_saw(r["said"], prompt, won) if r["strokes"] else "Nothing was drawn."
    parts = [f'<img src="{_png_src(img, scale=2)}" width="128" height="128" alt="your drawing of {e(prompt)}">',
             f'<div><b>{e(prompt)}</b> <span class="qd-verdict">{verdict}</span></div>',
             f'<div class="qd-said" style="color:#555">{e(saw)}</div>']
    if not won:
        strip = others_drew(prompt)
        if strip:
            parts.append(f'<div class="qd-others" style="margin-top:4px">How others drew {e(a_or_an(prompt))}:<br>'
                         f'<img src="{strip}" alt="drawings of {e(prompt)}"></div>')
        taken = r["guess"]
        if taken and taken not in (UNKNOWN, prompt):
            strip = others_drew(taken)
            if strip:
                parts.append(f'<div class="qd-taken-for" style="margin-top:4px">It looked more like {e(a_or_an(taken))}:<br>'
                             f'<img src="{strip}" alt="drawings of {e(taken)}"></div>')
    seconds = "" if r["seconds"] is None else f'{r["seconds"]:.2f}'
    return (f'<div class="qd-result" data-round="{i}" data-prompt="{html.escape(prompt)}" data-status="{r["status"]}" '
            f'data-seconds="{seconds}" data-strokes="{len(r["strokes"])}" '
            f'style="border:1px solid #ccc;padding:6px;width:220px;font:13px sans-serif">' + "".join(parts) + "</div>")


class GameApp(Board):
    """Play mode: a card per round ("Round 1 of 6: draw a house in under 20 seconds", Got it!), a
    countdown, guesses spoken while you draw, the round won as soon as the model names the prompt,
    lost when time is up; then the results and Play again. The clock ticks in the browser (an
    ipywidgets `Play` widget) and only while a round is played."""

    def __init__(self, guesser: Guesser, rounds: int = ROUNDS, seconds: float = ROUND_SECONDS, seed: int | None = None,
                 size: int = 400, tick_ms: int = 200, words: list[str] | None = None):
        super().__init__(size)
        self.guesser, self.rounds, self.seconds, self.seed = guesser, rounds, seconds, seed
        self.words = list(words) if words else list(guesser.classes)
        self.game = self._new_game(seed)
        self.prompt = w.HTML()
        self.prompt.add_class("qd-prompt")
        self.timer = w.HTML()
        self.timer.add_class("qd-timer")
        self.speech = w.HTML(layout=w.Layout(min_height="28px"))
        self.speech.add_class("qd-speech")
        self.results = w.HTML()
        self.results.add_class("qd-results")
        # Outside a round a card takes the canvas's place and size, and every button (Got it!, Start,
        # Play again) sits below it, where Clear is while drawing: a pen still moving over the
        # drawing area after a round (or the game) ends never presses one.
        self.card_text = w.HTML(layout=w.Layout(width="100%", max_width=f"{size + 4}px"))
        self.card_text.add_class("qd-card")
        self.got_it = w.Button(description="Got it!", button_style="primary")
        self.got_it.add_class("qd-got-it")
        self.got_it.on_click(lambda _: self.begin())
        self.start_button = w.Button(description="Start", icon="play", button_style="success")
        self.start_button.add_class("qd-start")
        self.start_button.on_click(lambda _: self.new_game())
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.clear_button.on_click(lambda _: self.wipe())
        self.ticker = w.Play(interval=tick_ms, min=0, max=10 ** 9, step=1, layout=w.Layout(display="none"))
        self.ticker.observe(lambda _: self.tick(), names="value")
        self.stage = w.VBox([self.pad, self.card_text, w.HBox([self.clear_button, self.got_it, self.start_button])],
                            layout=w.Layout(width="100%"))
        self.results.layout = w.Layout(flex="1 1 300px", margin="0 0 0 16px")
        play = w.VBox([w.HBox([self.prompt, self.timer], layout=w.Layout(justify_content="space-between", width="100%")),
                       self.stage, self.speech], layout=w.Layout(width="100%", max_width=f"{size + 12}px"))
        body = w.HBox([play, self.results])
        body.add_class("qd-panes")           # the results beside the game, below it on a narrow screen
        self.widget = w.VBox([body, self.ticker])
        self.widget.add_class("qd-demo")
        self.widget.add_class("qd-play")
        self.prompt.value = "<h3>Can a neural network learn to recognise your doodles?</h3>"
        self.show_card(f"{rounds} rounds. In each, draw what I ask in under {seconds:.0f} seconds;",
                       "I guess while you draw.")
        self.speech.value = "Press Start."
        self.show("idle")

    def _new_game(self, seed) -> Game:
        return Game(self.words, self.rounds, self.seconds, seed)

    def show(self, state: str):
        """What the page shows in each state, and the CSS class qd-state-<state> saying which."""
        self.pad.layout.display = self.clear_button.layout.display = "" if state == "playing" else "none"
        self.card_text.layout.display = "none" if state == "playing" else ""
        self.got_it.layout.display = "" if state == "ready" else "none"
        self.start_button.layout.display = "" if state in ("idle", "over") else "none"
        for s in STATES:
            (self.widget.add_class if s == state else self.widget.remove_class)(f"qd-state-{s}")
        self.state = state

    def show_card(self, *lines: str, title: str = ""):
        """The card in the drawing area: an optional verdict line, then `lines` (HTML), the last one big."""
        said = f'<div class="qd-card-verdict" style="font-size:18px;margin-bottom:12px">{html.escape(title, quote=False)}</div>' if title else ""
        body = "".join(f"<div>{x}</div>" for x in lines[:-1]) + (f'<h2 style="margin:8px 0 16px">{lines[-1]}</h2>' if lines else "")
        self.card_text.value = f'<div style="text-align:center;font-family:sans-serif">{said}{body}</div>'

    def accepting(self) -> bool:
        return self.game.accepts_ink(time.monotonic())

    def new_game(self):
        if self.game.rounds:       # "Play again": the next prompts follow from the same seed
            self.game = self._new_game(None if self.seed is None else self.seed + len(self.game.rounds))
        self.results.value = ""
        self.announce()

    def announce(self, verdict: str = ""):
        """The card naming the next prompt; the canvas is clean and the clock stopped until Got it!"""
        self.wipe()
        self.ticker.playing = False
        r = self.game.announce()
        n = len(self.game.rounds)
        head, rest = announcement(n, self.game.n_rounds, r.prompt, self.seconds).split(": draw ", 1)
        rest = rest.replace(a_or_an(r.prompt), f'<span class="qd-card-prompt">{html.escape(a_or_an(r.prompt))}</span>', 1)
        self.show_card(head, f"Draw {rest}", title=verdict)
        self.prompt.value = f"<h3>Round {n} of {self.game.n_rounds}</h3>"
        self.timer.value = ""
        self.say("Press Got it! when you are ready: the clock starts then.")
        self.show("ready")

    def begin(self):
        """Got it!: the announced round's clock starts, on a clean canvas."""
        if self.game.announced is None:
            return
        self.wipe()
        r = self.game.begin(time.monotonic())
        self.prompt.value = (f'<h3>Round {len(self.game.rounds)} of {self.game.n_rounds}: draw '
                             f'<span class="qd-prompt-name">{html.escape(a_or_an(r.prompt))}</span></h3>')
        self.say(f"Draw {a_or_an(r.prompt)}!")
        self.show_timer()
        self.show("playing")
        self.ticker.playing = True

    def show_timer(self):
        r = self.game.current
        left = r.left(time.monotonic()) if r else 0
        self.timer.value = f'<h3 style="color:{"#c00" if left < 5 else "#333"}">0:{int(np.ceil(left)):02d}</h3>'

    def tick(self):
        r = self.game.current
        if r is None or r.status != "playing":
            return
        if self.game.tick(time.monotonic()) == "lost":
            self.end_round()
        else:
            self.show_timer()

    def end_round(self):
        """The round keeps its own drawing (an open stroke ends with it); the canvas is cleared at
        once and the next card, or the results, say the verdict."""
        r = self.game.current
        r.strokes = [[list(xs), list(ys)] for xs, ys in self.recorder.strokes]
        self.wipe()
        self.ticker.playing = False
        verdict = speech(None, r.prompt, r.status)
        self.say(verdict)
        verdict = ("✔ " if r.status == "won" else "✘ ") + verdict
        if self.game.over:
            self.finish(verdict)
        else:
            self.announce(verdict)

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
        probs, unknown = self.guesser.guess(img, self.recorder.strokes)
        top = self.guesser.top(probs, 3)
        status = self.game.guess(top, dict(zip(self.guesser.classes, probs.tolist())), time.monotonic(), unknown)
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3
        if status == "playing":
            self.say(speech(top, r.prompt, status, unknown))
        else:
            self.end_round()

    def finish(self, verdict: str = ""):
        """The results, like Google's: each round's own drawing, what the game saw, and for a drawing
        not recognised how others drew the prompt and the class it was taken for."""
        self.ticker.playing = False
        results = self.game.results()
        cells = [result_html(i, r) for i, r in enumerate(results, 1)]
        won = sum(r["status"] == "won" for r in results)
        self.prompt.value = "<h3>Game over: your doodles</h3>"
        self.show_card("Your drawings, and what I saw, are beside this card (below it on a phone).",
                       f"You drew {len(cells)} doodles; I recognised {won}.", title=verdict)
        self.timer.value = ""
        self.results.value = '<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(cells) + "</div>"
        self.say("Play again?")
        self.start_button.description = "Play again"
        self.show("over")
