"""The game replayed on real drawings: how often would the demo win, and how soon, against Google's AI?

Every Quick, Draw! drawing was made in the game, and raw drawings carry the time of every point, so a
drawing can be played again exactly as the demo would see it: a guess at every stroke end and, while
the pen moves, at most one every `THROTTLE_SECONDS` (the demo's own `Throttle`); each guess from the
drawing as it stood then, rendered by the renderer the demo uses; the round judged by the demo's own
`Game` and `Rules`, with the 20 seconds counted from the first point. Beside it on the very same
drawings, Google's game AI: the `recognized` field, and (a recognised drawing ends where the game
guessed it) the drawing's last timestamp as its time to win.

The drawings are bundled raw drawings no model that plays them learned from: for the demo model
(trained on the bitmaps, and on partial renders of the other stroke drawings of its classes) every
raw drawing of its classes that is no bitmap row (`unseen_by_demo`, found by rendering); for the
345-class model (trained on stroke drawings) the stroke task's test part by key_id (`held_out`).
DoodleNet trained on the first 50,000 drawings of every class, so its figures are upper bounds.

    python -m qd.app.replay            # the table
    python -m qd.app.replay --bench    # one JSON line
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from qd.app.game import (
    BATCH_SECONDS,
    OLD_RULES,
    ROUND_SECONDS,
    RULES,
    THROTTLE_SECONDS,
    Game,
    Rules,
    Throttle,
)
from qd.data import bitmaps, ndjson, prefixes, strokes
from qd.data.render import render_batch
from qd.cli import print_result
from qd.checks import number
from qd.errors import QDError
from qd.models import doodlenet, unknown
from qd.models.infer import Predictor
from qd.paths import MODELS_DIR


@dataclass(frozen=True)
class Moment:
    """One guess of the demo: at `t` seconds after the first point, from the first `k` strokes plus
    the first `points` points of the next one (None: at a stroke end)."""
    t: float
    k: int
    points: int | None

    @property
    def stroke_end(self) -> bool:
        return self.points is None


def moments(drawing, throttle: float = THROTTLE_SECONDS, within_strokes: bool = True,
            batch: float = BATCH_SECONDS) -> list[Moment]:
    """When the demo would guess while this drawing is made, as the page's pad sends it and the
    board (`qd.app.canvas.Board`) guesses: the pen's points reach the kernel every `batch` seconds
    from the pen-down (`qd.app.pupil.pen_batches`), the throttle resets at the pen-down, a batch of
    moves guesses (with every point up to then) when the throttle allows, and every pen-up guesses,
    its last points with it (`within_strokes=False`: pen-ups only; `batch=0`: every point its own
    message, as a canvas sending each mouse move did). Needs raw strokes (x, y, t), t in ms from the
    first point."""
    s = prefixes.strokes_of(drawing)
    where = getattr(drawing, "source", "") or "drawing"
    if not s or any(np.shape(st)[0] != 3 for st in s):
        raise QDError(f"{where}: a replay needs raw strokes with times ([x], [y], [t]), got "
                      f"{'no strokes' if not s else f'{np.shape(s[0])[0]} rows'}")
    batch = number(batch, "batch", 0.0, 10.0)
    t0 = float(np.asarray(s[0])[2][0])
    out, th = [], Throttle(throttle)
    for k, st in enumerate(s):
        t = (np.asarray(st[2], np.float64) - t0) / 1000.0
        if np.any(np.diff(t) < 0) or (out and t[0] < out[-1].t):
            raise QDError(f"{where}: stroke {k + 1}'s times go backwards")
        th.reset()
        if within_strokes:
            for when, points in _sends(t, batch):
                if th.ready(when):
                    out.append(Moment(when, k, points))
        out.append(Moment(float(t[-1]), k + 1, None))
    return out


def _sends(t: np.ndarray, batch: float):
    """The messages of moves within a stroke whose points come at times `t`: (when, points sent by
    then), for each that holds a move and is not the stroke's last (that one ends it). With
    `batch=0`, every point after the first, the last too (a canvas sent a move before the pen-up)."""
    if batch == 0:
        for j in range(1, len(t)):
            yield float(t[j]), j + 1
        return
    sent = 1
    while sent < len(t):
        tick = np.floor((t[sent] - t[0]) / batch) + 1        # the timer's first firing after the next point
        while t[0] + tick * batch <= t[sent]:                # (rounding)
            tick += 1
        when = float(t[0] + tick * batch)
        if when > t[-1]:
            return
        sent = int(np.searchsorted(t, when, side="left"))    # the points before the timer fired
        yield when, sent


def held_out(classes: Sequence[str] | str | None = None, seed: int = 0, limit_per_class: int | None = None) -> list:
    """The bundled raw drawings of `classes` (None: all 345) in the stroke task's test part
    (`qd.data.strokes.stroke_split`: never trained on, never a bitmap row), in class order."""
    ss, _, te = strokes.stroke_split(classes, seed)
    test_keys = {ss.drawings[i].key_id for i in te}
    with_bitmaps = set(bitmaps.available_classes())
    out = []
    for c in ss.classes:
        found = [d for d in ndjson.iter_drawings(ndjson.strokes_path(c, "raw")) if d.key_id in test_keys]
        if c in with_bitmaps and found:       # the raw copy too (the split matched the simplified one)
            found = strokes.without_twins(found, bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz"))
        out += found[:limit_per_class]
    return out


def unseen_by_demo(classes: Sequence[str], limit_per_class: int | None = None) -> list:
    """The raw drawings of the demo model's classes it never learned from: none is a bitmap row
    (`qd.data.strokes.raw_unlike_bitmaps`), and its partial drawings come from the others
    (`qd.training.release`)."""
    out, per = [], {}
    for d in strokes.raw_unlike_bitmaps(classes):
        per[d.word] = per.get(d.word, 0) + 1
        if limit_per_class is None or per[d.word] <= limit_per_class:
            out.append(d)
    return out


@dataclass
class Guesses:
    """Every drawing's moments, and the 28x28 image at each (rows `start[i]:start[i + 1]` are drawing i's)."""
    drawings: list
    moments: list[list[Moment]]
    images: np.ndarray
    start: np.ndarray
    skipped: list[str] = field(default_factory=list)     # drawings that cannot be replayed, and why

    @classmethod
    def of(cls, drawings: Sequence, throttle: float = THROTTLE_SECONDS, seconds: float = ROUND_SECONDS,
           within_strokes: bool = True, progress: bool = False) -> "Guesses":
        """Render the drawing at every moment before the time is up. A drawing whose times go
        backwards (5 of the 9,570 bundled raw drawings) cannot be replayed at its own pace: it is
        left out and named in `skipped`."""
        kept, ms, skipped = [], [], []
        for d in drawings:
            try:
                ms.append([m for m in moments(d, throttle, within_strokes) if m.t < seconds])
                kept.append(d)
            except QDError as e:
                skipped.append(str(e))
        drawings = kept
        parts = [prefixes.partial(d, m.k, m.points) for d, mm in zip(drawings, ms) for m in mm]
        chunks = [render_batch(parts[i:i + 4096]) for i in
                  tqdm(range(0, len(parts), 4096), desc="render the guesses", disable=not progress, leave=False)]
        images = np.concatenate(chunks) if chunks else np.zeros((0, 28, 28), np.uint8)
        return cls(list(drawings), ms, images, np.concatenate([[0], np.cumsum([len(m) for m in ms])]).astype(int),
                   skipped)

    def subset(self, classes: Sequence[str]) -> "Guesses":
        """The drawings of `classes` only (no rendering again)."""
        keep = [i for i, d in enumerate(self.drawings) if d.word in set(classes)]
        rows = np.concatenate([np.arange(self.start[i], self.start[i + 1]) for i in keep]) if keep else np.zeros(0, int)
        ms = [self.moments[i] for i in keep]
        return Guesses([self.drawings[i] for i in keep], ms, self.images[rows],
                       np.concatenate([[0], np.cumsum([len(m) for m in ms])]).astype(int), self.skipped)


@dataclass
class Player:
    """A model as the replay sees it: `predict(images) -> probabilities (N, C)` over `classes`, and,
    if it has one, `is_unknown(images) -> (N,) bool`. `upper_bound`: it may have trained on these drawings."""
    name: str
    classes: list[str]
    predict: Callable[[np.ndarray], np.ndarray]
    is_unknown: Callable[[np.ndarray], np.ndarray] | None = None
    upper_bound: bool = False

    @classmethod
    def ours(cls, path: str | Path, name: str | None = None) -> "Player":
        """A release checkpoint through the demo's `Predictor` (its flip averaging and temperature)."""
        p = Predictor(path)
        det = None
        if p.detector is not None:
            def det(X):
                return p.detector.is_unknown(*unknown.logits_and_features(p.model, X))
        return cls(name or f"ours: {Path(path).stem} ({len(p.classes)} classes)", p.classes, p.predict_image, det)

    @classmethod
    def doodlenet(cls, vocabulary: Sequence[str] | None = None) -> "Player":
        """DoodleNet, choosing among all 345 classes, or among `vocabulary` only (renormalised)."""
        net, names = doodlenet.load()
        if vocabulary is None:
            return cls("DoodleNet (345 classes)", [n.replace("_", " ") for n in names],
                       lambda X: doodlenet.predict_proba(net, X), upper_bound=True)
        vocab = list(vocabulary)
        return cls(f"DoodleNet ({len(vocab)} classes)", vocab,
                   lambda X: doodlenet.restrict(doodlenet.predict_proba(net, X), names, vocab), upper_bound=True)


@dataclass
class Outcome:
    """One player's rounds on the replayed drawings."""
    player: str
    classes: list[str]                 # each round's prompt (the drawing's class)
    won: np.ndarray                    # (N,) bool
    seconds: np.ndarray                # (N,) seconds to win (nan when lost)
    upper_bound: bool = False
    rules: Rules | None = None
    top_at_end: np.ndarray | None = None          # (N, S) top guess right after k strokes
    share_of_strokes: np.ndarray = field(default_factory=lambda: np.linspace(0.1, 1.0, 10))

    @property
    def won_rate(self) -> float:
        return float(self.won.mean()) if len(self.won) else float("nan")

    @property
    def median_seconds(self) -> float:
        return float(np.median(self.seconds[self.won])) if self.won.any() else float("nan")

    def row(self) -> dict:
        return {"player": self.player, "rounds": int(len(self.won)), "won": round(self.won_rate, 4),
                "median_seconds_to_win": round(self.median_seconds, 2), "upper_bound": self.upper_bound}


def google(drawings: Sequence) -> Outcome:
    """Google's game AI on the same drawings: `recognized`, won at the drawing's last point (seconds
    from its first point; 8 of the 8,870 recognised bundled raw drawings end after 21 s)."""
    won = np.array([bool(d.recognized) for d in drawings])
    ends = np.array([(max(float(np.asarray(s)[2][-1]) for s in d.strokes) - float(np.asarray(d.strokes[0])[2][0])) / 1e3
                     for d in drawings])
    return Outcome("Google's game AI (345 classes)", [d.word for d in drawings], won, np.where(won, ends, np.nan))


def play(g: Guesses, player: Player, rules: Rules = RULES, seconds: float = ROUND_SECONDS,
         probs: np.ndarray | None = None, progress: bool = False) -> Outcome:
    """Replay every drawing through `Game` with `rules`: one round each, the prompt its class."""
    if probs is None:
        probs = np.concatenate([player.predict(g.images[i:i + 4096]) for i in
                                tqdm(range(0, len(g.images), 4096), desc=player.name, disable=not progress, leave=False)]) \
            if len(g.images) else np.zeros((0, len(player.classes)))
    unsure = np.zeros(len(g.images), bool)
    if rules.unknown_vetoes and player.is_unknown is not None and len(g.images):
        unsure = np.concatenate([player.is_unknown(g.images[i:i + 4096]) for i in range(0, len(g.images), 4096)])
    index = {c: i for i, c in enumerate(player.classes)}
    top = probs.argmax(1) if len(probs) else np.zeros(0, int)
    shares = np.linspace(0.1, 1.0, 10)
    won, secs, at_share = [], [], []
    for i, (d, ms) in enumerate(zip(g.drawings, g.moments)):
        if d.word not in index:
            raise QDError(f"{player.name} does not know {d.word!r}: replay only drawings of its classes")
        game = Game([d.word], rounds=1, seconds=seconds, rules=rules)
        r = game.start_round(0.0, prompt=d.word)
        p = index[d.word]
        for j, m in enumerate(ms, start=g.start[i]):
            name = player.classes[top[j]]
            if game.guess([(name, float(probs[j, top[j]]))], {d.word: float(probs[j, p])}, m.t, bool(unsure[j])) != "playing":
                break
        game.tick(seconds)
        won.append(r.status == "won")
        secs.append(r.ended - r.started if r.status == "won" else np.nan)
        # how early it knows: the top guess after the first ceil(share * n) strokes (stroke ends only)
        ends = {m.k: top[j] for j, m in enumerate(ms, start=g.start[i]) if m.stroke_end}
        n = len(d.strokes)
        at_share.append([ends.get(int(np.ceil(s * n)), -1) == p for s in shares])
    return Outcome(player.name, [d.word for d in g.drawings], np.array(won, bool), np.array(secs, float),
                   player.upper_bound, rules, np.array(at_share, bool).reshape(len(won), len(shares)), shares)


def by_class(outcome: Outcome) -> dict[str, float]:
    """Share of rounds won for every prompt."""
    names = np.array(outcome.classes)
    return {c: float(outcome.won[names == c].mean()) for c in sorted(set(outcome.classes))}


def false_wins(g: Guesses, player: Player, rules: Rules, seed: int = 0, probs: np.ndarray | None = None) -> float:
    """The share of rounds "won" when the prompt is another class than the drawing's (a seeded wrong
    prompt per drawing): wins the model did not earn, what a flicker guard is for."""
    rng = np.random.default_rng(seed)
    wrong = []
    for d in g.drawings:
        others = [c for c in player.classes if c != d.word]
        wrong.append(others[rng.integers(len(others))])
    fake = [ndjson.Drawing(w, d.strokes, d.key_id, recognized=d.recognized, source=d.source)
            for w, d in zip(wrong, g.drawings)]
    return play(Guesses(fake, g.moments, g.images, g.start), player, rules, probs=probs).won_rate


# ----------------------------------------------------------------------------- the benchmark

DEMO_MODEL = MODELS_DIR / "cnn.pt"
MODEL_345 = MODELS_DIR / "qd345.pt"


def compare(g: Guesses, players: Sequence[Player], seed: int = 0, progress: bool = False) -> tuple[list[dict], dict]:
    """Google's AI and every player on the same replayed drawings: (table rows, {name: Outcome}).
    Our models also under the flicker guard (two in a row) and, with a detector, the old rules."""
    goog = google(g.drawings)
    rows, outcomes = [goog.row()], {goog.player: goog}
    for pl in players:
        probs = np.concatenate([pl.predict(g.images[i:i + 4096]) for i in
                                tqdm(range(0, len(g.images), 4096), desc=pl.name, disable=not progress, leave=False)]) \
            if len(g.images) else np.zeros((0, len(pl.classes)))
        variants = [("", RULES)]
        if not pl.upper_bound:
            variants.append((", two in a row", Rules(confirm=2)))
            if pl.is_unknown is not None:
                variants.append((", old rules", OLD_RULES))
        for suffix, rules in variants:
            o = play(g, pl, rules, probs=probs)
            o.player = pl.name + suffix
            outcomes[o.player] = o
            row = o.row()
            if rules.unknown_vetoes is False:
                row["false_wins"] = round(false_wins(g, pl, rules, seed, probs=probs), 4)
            rows.append(row)
    return rows, outcomes


def benchmark(demo_model: str | Path = DEMO_MODEL, model_345: str | Path = MODEL_345, limit_per_class: int | None = None,
              progress: bool = True) -> dict:
    """The replay's figures: the demo model's vocabulary (40 classes) and all 345, with Google's AI
    and DoodleNet on the same drawings, our rules and the old ones, with and without a flicker guard."""
    t0 = time.perf_counter()
    out = {"rounds_seconds": ROUND_SECONDS, "throttle_seconds": THROTTLE_SECONDS, "tables": {}}
    demo = Player.ours(demo_model, "ours: the demo model")
    sets = [(f"the demo model's {len(demo.classes)} classes",
             Guesses.of(unseen_by_demo(demo.classes, limit_per_class), progress=progress),
             [demo, Player.doodlenet(demo.classes)]),
            ("345 classes", Guesses.of(held_out(None, limit_per_class=limit_per_class), progress=progress),
             [Player.ours(model_345, "ours: 345 classes"), Player.doodlenet()])]
    for title, g, players in sets:
        rows, _ = compare(g, players, progress=progress)
        out["tables"][title] = {"drawings": len(g.drawings), "guesses": len(g.images), "rows": rows,
                                "skipped": g.skipped}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def table(result: dict) -> str:
    """The benchmark as Markdown tables."""
    lines = []
    for title, t in result["tables"].items():
        skipped = f" ({len(t['skipped'])} left out: times go backwards)" if t.get("skipped") else ""
        lines += [f"**{title}**: {t['drawings']} raw drawings{skipped}, {t['guesses']:,} guesses", "",
                  "| player | won | median seconds to win | wrong-prompt wins |", "|---|---|---|---|"]
        for r in t["rows"]:
            star = " (upper bound)" if r["upper_bound"] else ""
            fw = f"{r['false_wins']:.1%}" if "false_wins" in r else ""
            lines.append(f"| {r['player']}{star} | {r['won']:.1%} | {r['median_seconds_to_win']:.1f} | {fw} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.app.replay", description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", action="store_true", help="print one JSON line")
    p.add_argument("--model", default=str(DEMO_MODEL), help="the demo model (default models/cnn.pt)")
    p.add_argument("--model-345", default=str(MODEL_345), help="the 345-class model (default models/qd345.pt)")
    p.add_argument("--limit-per-class", type=int, default=None, help="at most this many drawings of each class")
    a = p.parse_args(argv)
    return print_result(lambda: benchmark(a.model, a.model_345, a.limit_per_class, progress=not a.bench), a.bench, table)


if __name__ == "__main__":
    sys.exit(main())
