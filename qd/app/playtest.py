"""The game played in the browser (`make bench-play`): whole 6-round games in the served page, as a
person plays them.

Voila serves the demo as `make demo` does; headless Chromium (Playwright) plays: for each card it
reads the prompt, picks the next held-out raw drawing of it (the set the Python replay,
`qd.app.replay`, plays for the demo model: drawings it never learned from), presses Got it! and
draws it with real mouse events at the drawing's own timestamps, and always finishes it, as a
person finishes a stroke after the game has guessed. Nothing here races the game's clock: the page
records what it showed over time (a MutationObserver log, `LOG_PROBE`) and the results grid carries
each round's verdict, seconds and stroke count as data attributes. Per round: whether the canvas
held ink when the round started (it never should), the page's verdict, and the Python replay's
verdict on the very same drawing.

    python -m qd.app.playtest --bench        # one JSON line (about 10 minutes for 60 rounds)
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from qd.app import replay
from qd.app.game import ROUNDS
from qd.app.loadtest import CHROMIUM, CHROMIUM_ARGS, Server
from qd.cli import print_result
from qd.data import geometry
from qd.errors import QDError
from qd.paths import ROOT

# What the play widget showed, each time it changed: its state (the CSS class qd-state-*), the
# prompt line, the card, the speech, and the time (ms, the page's clock).
LOG_PROBE = """() => {
    const root = document.querySelector('.qd-play');
    const text = (sel) => { const e = root.querySelector(sel); return e ? e.innerText : ''; };
    const snap = () => {
        const state = [...root.classList].filter(c => c.startsWith('qd-state-')).map(c => c.slice(9)).join(' ');
        return {state, prompt: text('.qd-prompt'), card: text('.qd-card'), speech: text('.qd-speech')};
    };
    window.qdLog = [];
    const push = () => {
        const s = snap(), last = window.qdLog[window.qdLog.length - 1];
        if (!last || ['state', 'prompt', 'card', 'speech'].some(k => last[k] !== s[k]))
            window.qdLog.push({t: performance.now(), ...s});
    };
    push();
    new MutationObserver(push).observe(root, {subtree: true, childList: true, characterData: true,
                                             attributes: true, attributeFilter: ['class']});
}"""


def state(page) -> str:
    """The game's state as the page shows it: idle, ready (a card), playing, over."""
    return page.evaluate("""() => { const r = document.querySelector('.qd-play');
        return r ? [...r.classList].filter(c => c.startsWith('qd-state-')).map(c => c.slice(9)).join(' ') : ''; }""")


def wait_state(page, wanted: str, timeout_s: float) -> None:
    page.wait_for_selector(f".qd-play.qd-state-{wanted}", state="attached", timeout=timeout_s * 1000)


def press(page, selector: str, then: str, timeout_s: float = 60) -> None:
    """Press a button the game hides once pressed (Start, Play again, Got it!) exactly once, then
    wait until the game is in state `then`. The click event goes to the button itself once it is
    visible, enabled and still: no coordinates a page still laying out could move, and no retried
    click (Playwright's retries when its target hides) landing on what took the button's place."""
    button = page.locator(selector).first
    button.click(trial=True, timeout=timeout_s * 1000)      # the checks of a click, without clicking
    button.dispatch_event("click")
    wait_state(page, then, timeout_s)


def ink(page, selector: str = ".qd-play canvas") -> int:
    """Dark pixels inside the canvas (its 2 px border cropped away), from a real screenshot."""
    png = page.locator(selector).first.screenshot()
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"))[6:-6, 6:-6]
    return int((a < 128).sum())


def pen_path(drawing, box: dict, margin: float = 0.1) -> list[np.ndarray]:
    """The drawing's strokes as (n, 3) arrays of (seconds from its first point, page x, page y),
    scaled into the canvas's box with a margin (raw drawings were made on screens of any size)."""
    inner = min(box["width"], box["height"]) * (1 - 2 * margin)
    placed = geometry.fit(drawing.strokes, inner, (box["x"] + box["width"] * margin, box["y"] + box["height"] * margin))
    t0 = float(drawing.strokes[0][2][0]) if drawing.has_time else 0.0
    out = []
    for k, (s, xy) in enumerate(zip(drawing.strokes, placed)):
        t = (s[2] - t0) / 1000.0 if drawing.has_time else np.full(s.shape[1], 0.3 * k)
        out.append(np.column_stack([t, xy[0], xy[1]]))
    return out


def pad_box(page, selector: str) -> dict:
    """The canvas's box on screen, scrolled into view first as a person would (events outside the
    window reach no element)."""
    canvas = page.locator(selector).first
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def draw_at_own_pace(page, drawing, selector: str = ".qd-play canvas") -> float:
    """Real mouse events along the drawing, each point at its own time, every stroke finished.
    When the page falls behind (a slow machine) a move whose next point is already due is merged
    into it, as a browser coalesces mouse moves; a stroke's first and last points are always sent.
    Returns how far behind its own pace it ended (s)."""
    box = pad_box(page, selector)
    start = time.perf_counter()
    lag = 0.0
    for stroke in pen_path(drawing, box):
        last = len(stroke) - 1
        for i, (t, x, y) in enumerate(stroke):
            now = time.perf_counter() - start
            if 0 < i < last and float(stroke[i + 1][0]) <= now:
                continue
            if float(t) > now:
                time.sleep(float(t) - now)
            page.mouse.move(float(x), float(y))
            if i == 0:
                page.mouse.down()
        page.mouse.up()
        lag = max(0.0, time.perf_counter() - start - float(stroke[-1][0]))
    return lag


def touch_draw(page, drawing, selector: str) -> None:
    """The drawing's strokes as touch events (DevTools Input.dispatchTouchEvent), as a phone sends them."""
    cdp = page.context.new_cdp_session(page)
    box = pad_box(page, selector)
    for stroke in pen_path(drawing, box):
        for i, (_, x, y) in enumerate(stroke):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart" if i == 0 else "touchMove",
                                                  "touchPoints": [{"x": float(x), "y": float(y)}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def card_prompt(page) -> str:
    """The prompt the card names ("a carrot" -> "carrot")."""
    return page.locator(".qd-card-prompt").inner_text().split(" ", 1)[1]


def play_round(page, pick, seconds: float) -> dict:
    """One round from its card: read the prompt, Got it!, the canvas's ink at the start, the drawing
    at its own pace, finished; then wait for the game to end the round (its own clock, if need be)."""
    prompt = card_prompt(page)
    drawing = pick(prompt)
    clicked = time.perf_counter()
    press(page, ".qd-got-it", "playing")
    at_start = ink(page)
    gap = time.perf_counter() - clicked          # the clock runs from Got it!, the replay's from the first point
    lag = draw_at_own_pace(page, drawing)
    page.wait_for_function("() => !document.querySelector('.qd-play').classList.contains('qd-state-playing')",
                           timeout=(seconds + 60) * 1000)
    return {"prompt": prompt, "key_id": drawing.key_id, "strokes": len(drawing.strokes), "ink_at_start": at_start,
            "start_gap_s": round(gap, 3), "lag_s": round(lag, 3)}


def results(page) -> list[dict]:
    """The results grid, as data: each round's prompt, verdict, seconds and stroke count."""
    return page.evaluate("""() => [...document.querySelectorAll('.qd-result')].map(e => ({
        prompt: e.dataset.prompt, status: e.dataset.status,
        seconds: e.dataset.seconds === '' ? null : parseFloat(e.dataset.seconds), strokes: parseInt(e.dataset.strokes)}))""")


def play_game(page, pick, seconds: float) -> list[dict]:
    """One whole game from the Start (or Play again) button to the results."""
    press(page, ".qd-start", "ready")
    rounds = []
    while True:
        page.wait_for_selector(".qd-play.qd-state-ready, .qd-play.qd-state-over", state="attached", timeout=60_000)
        if state(page) == "over":
            break
        if len(rounds) == ROUNDS:
            raise QDError(f"the game went on past its {ROUNDS} rounds (a stray click on a button?)")
        rounds.append(play_round(page, pick, seconds))
    for r, shown in zip(rounds, results(page)):
        if shown["prompt"] != r["prompt"]:
            raise QDError(f"the results list {shown['prompt']!r} where {r['prompt']!r} was drawn")
        r.update(won=shown["status"] == "won", seconds=shown["seconds"], result_strokes=shown["strokes"])
    return rounds


class Drawings:
    """The held-out raw drawings of each prompt, handed out in turn (the same order every run)."""

    def __init__(self, drawings):
        self.by_class: dict[str, list] = {}
        for d in drawings:
            self.by_class.setdefault(d.word, []).append(d)
        self.next = {c: 0 for c in self.by_class}

    def __call__(self, prompt: str):
        found = self.by_class.get(prompt)
        if not found:
            raise QDError(f"no held-out drawing of {prompt!r} to draw")
        d = found[self.next[prompt] % len(found)]
        self.next[prompt] += 1
        return d


def bench(games: int = 10, model: str | Path | None = None, seed: int = 0, seconds: float = 20.0,
          log_dir: Path | None = None) -> dict:
    """`games` whole games in Chromium against the served demo; the page's verdicts beside the Python
    replay's on the very same drawings."""
    if not os.path.exists(CHROMIUM):
        raise QDError(f"the browser replay drives Chromium at {CHROMIUM} (apt-get install chromium)")
    # playwright is a dev dependency (pip install -e ".[dev]"): imported where it is used
    from playwright.sync_api import sync_playwright
    model = Path(model) if model else replay.DEMO_MODEL
    player = replay.Player.ours(model, "ours: the demo model")
    g = replay.Guesses.of(replay.unseen_by_demo(player.classes))       # drops drawings whose times go backwards
    pick = Drawings(g.drawings)
    words = sorted(pick.by_class)
    log_dir = Path(log_dir or (ROOT / "reports"))
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    server = Server(log_dir / "bench_play_voila.log", pool=1, max_kernels=4,
                    env={"QD_MODEL": str(model), "QD_DEMO_SEED": str(seed), "QD_DEMO_WORDS": ",".join(words),
                         "QD_DEMO_SECONDS": str(seconds), "QD_DEMO_ROUNDS": str(ROUNDS)})
    rounds = []
    try:
        server.wait_up()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 1000})
                page.goto(server.url, timeout=180_000)
                page.wait_for_selector(".qd-play", state="attached", timeout=180_000)
                page.evaluate(LOG_PROBE)
                try:
                    for i in range(games):
                        rounds += [r | {"game": i + 1} for r in play_game(page, pick, seconds)]
                except Exception:
                    # what the page showed, for whoever reads the failure
                    page.screenshot(path=str(log_dir / "bench_play_failed.png"))
                    (log_dir / "bench_play_failed.json").write_text(json.dumps(
                        {"rounds": rounds, "page_log": page.evaluate("window.qdLog")[-40:]}, indent=1, default=str))
                    raise
                log = page.evaluate("window.qdLog")
            finally:
                browser.close()
    finally:
        server.stop()
    # The Python replay on the very same drawings, through the same Game and rules
    played = {d.key_id: d for d in g.drawings}
    same = replay.Guesses.of([played[r["key_id"]] for r in rounds], seconds=seconds)
    py = replay.play(same, player, seconds=seconds)
    won = np.array([r["won"] for r in rounds], bool)
    secs = np.array([r["seconds"] if r["won"] else np.nan for r in rounds], float)
    own = [1 <= r["result_strokes"] <= r["strokes"] for r in rounds]     # its own strokes, none of another round's
    return {"games": games, "rounds": len(rounds), "prompts": len(words), "model": str(model),
            "won": round(float(won.mean()), 4), "median_seconds_to_win": round(float(np.nanmedian(secs)), 2) if won.any() else None,
            "python_replay_won": round(py.won_rate, 4), "python_replay_median_seconds": round(py.median_seconds, 2),
            "same_verdict": round(float((py.won == won).mean()), 4),
            "google_won": round(float(np.mean([bool(played[r["key_id"]].recognized) for r in rounds])), 4),
            "rounds_started_with_ink": sum(r["ink_at_start"] > 0 for r in rounds),
            "results_show_own_drawing": int(sum(own)), "median_start_gap_s": round(float(np.median([r["start_gap_s"] for r in rounds])), 3),
            "median_lag_s": round(float(np.median([r["lag_s"] for r in rounds])), 3),
            "max_lag_s": max((r["lag_s"] for r in rounds), default=0.0),
            "page_log_entries": len(log), "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qd.app.playtest", description=__doc__.split("\n\n")[0],
                                 allow_abbrev=False)
    ap.add_argument("--games", type=int, default=10, help="whole games of 6 rounds (default 10: 60 rounds)")
    ap.add_argument("--model", default=None, help="the demo model (default models/cnn.pt)")
    ap.add_argument("--seed", type=int, default=0, help="the prompts' seed")
    ap.add_argument("--bench", action="store_true", help="print one JSON line (the default prints it indented)")
    a = ap.parse_args(argv)
    if a.games < 1:
        ap.error("--games must be 1 or more")
    return print_result(lambda: bench(a.games, a.model, a.seed), a.bench)


if __name__ == "__main__":
    sys.exit(main())
