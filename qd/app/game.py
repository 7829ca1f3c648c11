"""The rules of the game the demo plays, without any widget: Quick, Draw!'s rounds.

A round is first announced: a card names the prompt ("Round 3 of 6: draw a carrot in under 20
seconds"), and its clock starts only when the player says so (`begin`, Google's "Got it!"). While
it is played the model guesses as the player draws; it is won the moment the prompted class is the
top guess, as in Google's game (`Rules`: how the replay of real drawings, `qd.app.replay`, chose
them), and lost when the time is up. Ink counts only while a round is played (`accepts_ink`): a
stroke still being drawn when the round ends ends with it, and nothing drawn between rounds reaches
the next one. Each round keeps its own drawing and the guesses it got as they changed; after the
last round, the results. Time is passed in by the caller (`now`, seconds), so tests drive the clock.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from qd.checks import flag, integer, number, probability
from qd.errors import QDError

UNKNOWN = "?"             # the guess when the model says it does not know
ROUNDS = 6                # rounds of a game
ROUND_SECONDS = 20.0      # the real game's time to draw
THROTTLE_SECONDS = 0.15   # guesses while the pen moves: at most one every this many seconds
BATCH_SECONDS = 0.1       # the page sends an open stroke's points this often, and at its end (qd.app.pad)
THROTTLE_BUSY = 4.0       # ... and at most a quarter of the time (qd.app.game.Throttle)
CROWDED = 0.8             # a machine busier than this (all its cores, 0..1) is crowded: a class drawing ...
CROWDED_SECONDS = 1.0     # ... and each pen then gets a guess while it moves at most once a second


@dataclass(frozen=True)
class Rules:
    """When a round is won. The demo plays `RULES`, what Google's game does: won the moment the
    prompt is the top guess. `OLD_RULES` is what it played before the replay of real drawings
    (`python -m qd.app.replay`) showed that the 50% bar and the "I don't know" veto lose rounds the
    model knows. A guard against a flickering top guess (`confirm=2`: the prompt on top at two
    guesses in a row) was measured too: it stops some of the wins a drawing of another class gets,
    and loses real wins and time, so the demo plays without it (figures in notebook 07)."""
    win_probability: float = 0.0      # the prompt's probability must also reach this
    confirm: int = 1                  # guesses in a row with the prompt on top
    unknown_vetoes: bool = False      # "I don't know" stops a win

    def __post_init__(self):
        probability(self.win_probability, "win_probability")
        integer(self.confirm, "confirm", 1, 100)
        flag(self.unknown_vetoes, "unknown_vetoes")


RULES = Rules()
OLD_RULES = Rules(win_probability=0.5, unknown_vetoes=True)


def check_settings(rounds, seconds) -> None:
    """A `QDError` unless `rounds` is a whole number in 1..100 and `seconds` a time in (0, 600]."""
    integer(rounds, "rounds", 1, 100)
    number(seconds, "seconds", 0, 600, lo_open=True)


@dataclass
class Round:
    prompt: str
    started: float | None            # when its clock started (None while its card is shown)
    seconds: float
    strokes: list = field(default_factory=list)    # the round's own drawing, kept when it ends
    status: str = "ready"              # ready (announced, clock not started), playing, won, lost
    guess: str | None = None           # the last top guess (UNKNOWN when unsure)
    p_prompt: float = 0.0              # the last probability the model gave the prompt
    ended: float | None = None
    in_a_row: int = 0                  # guesses in a row that would win
    guesses: list = field(default_factory=list)    # (seconds into the round, top guess) each time it changed

    def left(self, now: float) -> float:
        if self.status == "ready":
            return self.seconds
        return min(self.seconds, max(0.0, self.seconds - (now - self.started))) if self.status == "playing" else 0.0

    @property
    def took(self) -> float | None:
        """Seconds from its start to its end (None before it ends)."""
        return None if self.ended is None or self.started is None else self.ended - self.started

    @property
    def said(self) -> list[str]:
        """The top guesses as they changed, "I don't know" left out: what the game said it saw."""
        return [g for _, g in self.guesses if g != UNKNOWN]


class Game:
    """`rounds` rounds of `seconds` each; prompts drawn from `vocabulary` without repeats, seeded."""

    def __init__(self, vocabulary: list[str], rounds: int = ROUNDS, seconds: float = ROUND_SECONDS, seed: int | None = None,
                 rules: Rules = RULES):
        if isinstance(vocabulary, (str, bytes)) or not all(isinstance(c, str) and c for c in vocabulary):
            raise QDError(f"the vocabulary must be a list of class names, got {vocabulary!r:.60}")
        if len(vocabulary) < 1:
            raise QDError("the game needs a vocabulary of at least one class")
        check_settings(rounds, seconds)
        if not isinstance(rules, Rules):
            raise QDError(f"rules must be a qd.app.game.Rules, got {rules!r:.60}")
        self.vocabulary, self.n_rounds, self.seconds = list(vocabulary), rounds, float(seconds)
        self.rules = rules
        self.rng = random.Random(seed)
        self.rounds: list[Round] = []
        self._prompts: list[str] = []

    def _next_prompt(self) -> str:
        if not self._prompts:
            self._prompts = self.rng.sample(self.vocabulary, len(self.vocabulary))
        return self._prompts.pop()

    @property
    def current(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def over(self) -> bool:
        return len(self.rounds) == self.n_rounds and self.current.status in ("won", "lost")

    @property
    def announced(self) -> Round | None:
        """The round whose card is shown, waiting for the player to begin it."""
        r = self.current
        return r if r is not None and r.status == "ready" else None

    def announce(self, prompt: str | None = None) -> Round:
        """The next round's card: its prompt (`prompt` if given, the replay; else the next seeded
        one). Its clock does not run until `begin`."""
        if self.current is not None and self.current.status in ("ready", "playing"):
            raise QDError("the current round is still being played" if self.current.status == "playing"
                          else "the next round is announced already; begin it")
        if len(self.rounds) >= self.n_rounds:
            raise QDError(f"all {self.n_rounds} rounds are played; start a new game")
        if prompt is not None and prompt not in self.vocabulary:
            raise QDError(f"{prompt!r} is not in the game's vocabulary")
        self.rounds.append(Round(prompt if prompt is not None else self._next_prompt(), None, self.seconds))
        return self.current

    def begin(self, now: float) -> Round:
        """The player has read the card ("Got it!"): the announced round's clock starts now."""
        r = self.announced
        if r is None:
            raise QDError("no round is announced: announce the next one first")
        r.started, r.status = number(now, "now"), "playing"
        return r

    def start_round(self, now: float, prompt: str | None = None) -> Round:
        """Announce the next round and begin it at once (the replay, which has no card to read)."""
        self.announce(prompt)
        return self.begin(now)

    def accepts_ink(self, now: float) -> bool:
        """Whether a pen stroke counts now: only while a round is played and its time is not up.
        A stroke begun in a round ends with it; pen input between rounds is ignored."""
        return self.tick(now) == "playing"

    def guess(self, top: list[tuple[str, float]], probs: dict[str, float] | None, now: float,
              unknown: bool = False) -> str:
        """Take the model's current answer; returns the round's status. Won when the prompt is the
        top guess (for `rules.confirm` guesses in a row, at `rules.win_probability` or more, and
        with "I don't know" silent if `rules.unknown_vetoes`)."""
        r = self.current
        if r is None or r.status != "playing":
            return r.status if r else "idle"
        if self.tick(now) != "playing":
            return r.status
        rules = self.rules
        wins = bool(top) and top[0][0] == r.prompt and top[0][1] >= rules.win_probability \
            and not (unknown and rules.unknown_vetoes)
        # a guess that wins is what the game saw, even with "I don't know" unsure (it vetoes nothing)
        r.guess = top[0][0] if top and (wins or not unknown) else UNKNOWN
        if not r.guesses or r.guesses[-1][1] != r.guess:
            r.guesses.append((float(now) - r.started, r.guess))
        r.p_prompt = float((probs or {}).get(r.prompt, 0.0))
        r.in_a_row = r.in_a_row + 1 if wins else 0
        if r.in_a_row >= rules.confirm:
            r.status, r.ended = "won", now
        return r.status

    def tick(self, now: float) -> str:
        """Advance the clock: a round whose time is up is lost."""
        now = number(now, "now")           # a NaN clock would never end a round
        r = self.current
        if r is not None and r.status == "playing" and now - r.started >= r.seconds:
            r.status, r.ended = "lost", r.started + r.seconds
        return r.status if r else "idle"

    def results(self) -> list[dict]:
        """Every round: its prompt, verdict, last guess, the guesses as they changed, the seconds it
        took, and its own drawing."""
        return [{"prompt": r.prompt, "status": r.status, "guess": r.guess, "p_prompt": r.p_prompt,
                 "seconds": r.took, "said": r.said, "strokes": r.strokes}
                for r in self.rounds]


class Throttle:
    """At most one call every `interval` seconds (the guesses while the pen moves), the first at once;
    never more than a `1 / busy` share of the time: after a call that `took(s)` seconds, the next
    waits `busy * s` if that is longer; and, on a crowded machine (`took(s, machine_busy)` at
    `CROWDED` or more: 30 pupils drawing on 2 cores), at most one every `crowded` seconds. Every
    kernel guessing as often as it alone could filled the cores, and the guesses that count, at the
    strokes' ends, waited seconds behind them; on a quiet machine nothing changes."""

    def __init__(self, interval: float = THROTTLE_SECONDS, busy: float = THROTTLE_BUSY,
                 crowded: float = CROWDED_SECONDS):
        self.interval, self.last = number(interval, "interval", 0.0, 60.0), None
        self.busy = number(busy, "busy", 1.0, 1000.0)
        self.crowded = number(crowded, "crowded", 0.0, 60.0)
        self.wait = self.interval

    def ready(self, now: float) -> bool:
        now = number(now, "now")           # a NaN time would stop the throttle for good
        if self.last is None or now - self.last >= self.wait:
            self.last = now
            return True
        return False

    def took(self, seconds: float, machine_busy: float = 0.0) -> None:
        """The call allowed last took this long (wall clock), the machine's cores this busy (0..1) lately."""
        crowded = probability(machine_busy, "machine_busy") >= CROWDED
        self.wait = max(self.interval, self.busy * number(seconds, "seconds", 0.0), self.crowded if crowded else 0.0)

    def reset(self) -> None:
        self.last = None


def speech(top: list[tuple[str, float]] | None, prompt: str | None = None, status: str = "playing",
           unknown: bool = False) -> str:
    """What the game says, like the real one: guesses while you draw, then the verdict."""
    if status == "won":
        return f"Oh, I know, it's {prompt}!" if prompt else "Oh, I know what it is!"
    if status == "lost":
        return f"Sorry, I couldn't guess it. It was {prompt}." if prompt else "Sorry, I couldn't guess it."
    if not top:
        return f"Draw {a_or_an(prompt)}!" if prompt else "Draw something!"
    if unknown:
        return "Hmm, I don't know what that is... keep drawing."
    names = [n for n, _ in top[:3]]
    return "I see " + ", or ".join(names[:2]) + ("..." if len(names) > 1 else "...")


def announcement(number: int, of: int, prompt: str, seconds: float) -> str:
    """The card before a round, as the real game words it."""
    return f"Round {number} of {of}: draw {a_or_an(prompt)} in under {seconds:.0f} seconds"


def what_it_saw(said: list[str], prompt: str, won: bool) -> str:
    """The guesses a round got as they changed, as Google's results list them: "circle, cloud, pizza!"
    for a round won; for one lost, what it saw ("circle, cloud...") or that it saw nothing."""
    if not said:
        return "I saw nothing I know."
    if won:
        return ", ".join(said[:-1] + [said[-1] + "!"]) if said[-1] == prompt else ", ".join(said) + "..."
    return "I saw " + ", ".join(said) + "..."


def a_or_an(name: str | None) -> str:
    if not name:
        return "something"
    return ("an " if name[0].lower() in "aeiou" else "a ") + name
