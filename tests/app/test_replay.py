"""The game replay on hand-made timed drawings: a win at the right stroke and second, a drawing past
the time lost, a drawing that is a training row left out; and on the bundled drawings, that the
held-out part is held out."""
import re

import numpy as np
import pytest

from qd import QDError
from qd.app import game, replay
from qd.data import bitmaps, ndjson, render, strokes

CLASSES = ["cat", "dog", "cow"]


def line(y, t0, n=10, dt=0.05):
    """A horizontal stroke at height y: n points, dt seconds apart from t0 seconds."""
    return np.array([np.linspace(0, 200, n), np.full(n, y), (t0 + dt * np.arange(n)) * 1000], np.float32)


def drawing(*strokes_, word="cat", recognized=True):
    return ndjson.Drawing(word, list(strokes_), key_id="1", recognized=recognized, source="hand-made")


def rows_inked(X):
    """How many separate bands of ink an image has (each hand-made stroke is one band)."""
    inked = (X > 0).any(2)
    starts = inked & ~np.concatenate([np.zeros((len(X), 1), bool), inked[:, :-1]], 1)
    return starts.sum(1)


# "cat" on top (at 45%) once three strokes are on the page, "dog" before
THREE_STROKES = replay.Player("ink counter", CLASSES,
                              lambda X: np.where((rows_inked(X) >= 3)[:, None], [0.45, 0.35, 0.2], [0.2, 0.5, 0.3]))


def test_moments_follow_the_pads_batches_the_demo_throttle_and_every_stroke_end():
    d = drawing(line(0, 0.0, n=20, dt=0.04), line(100, 2.0, n=5))
    ms = replay.moments(d, throttle=0.15, batch=0.1)
    first = [m for m in ms if m.k == 0]
    # the first batch (0.1 s after the pen-down: points at 0, 0.04, 0.08) guesses at once; the next
    # batch at 0.2 s is within the throttle, so every other batch guesses
    assert [(round(m.t, 2), m.points) for m in first] == [(0.1, 3), (0.3, 8), (0.5, 13), (0.7, 18)]
    assert [(m.k, round(m.t, 2)) for m in ms if m.stroke_end] == [(1, 0.76), (2, 2.2)]
    # a page sending every mouse move (batch 0): the first move guesses at once
    each = [m for m in replay.moments(d, throttle=0.15, batch=0) if m.k == 0]
    assert each[0].t == pytest.approx(0.04) and each[0].points == 2
    assert all(b.t - a.t >= 0.15 - 1e-6 for a, b in zip(each[1:], each[2:]))
    with pytest.raises(QDError, match="raw strokes with times"):
        replay.moments(drawing(line(0, 0)[:2]))
    backwards = drawing(line(0, 5.0), line(100, 1.0))
    with pytest.raises(QDError, match="go backwards"):
        replay.moments(backwards)
    g = replay.Guesses.of([d, backwards])          # left out of a replay, and named
    assert g.drawings == [d] and len(g.skipped) == 1 and "go backwards" in g.skipped[0]


def test_a_round_is_won_at_the_moment_the_prompt_comes_out_on_top():
    # strokes 1 and 2 take a second each; stroke 3 starts at 4 s: its first batch (4.1 s) shows three bands
    d = drawing(line(10, 0.0), line(120, 2.0), line(240, 4.0))
    g = replay.Guesses.of([d])
    out = replay.play(g, THREE_STROKES)
    assert out.won.tolist() == [True] and out.seconds[0] == pytest.approx(4.1)
    # at stroke ends only the guess after stroke 3 counts: the win comes at its end, 4.45 s
    ends = replay.Guesses.of([d], within_strokes=False)
    assert replay.play(ends, THREE_STROKES).seconds[0] == pytest.approx(4.45)
    assert out.top_at_end[0, -1] and not out.top_at_end[0, 0]      # right after all strokes, not after one


def test_a_drawing_finished_after_the_time_is_up_is_lost():
    late = drawing(line(10, 0.0), line(120, 2.0), line(240, 21.0))
    out = replay.play(replay.Guesses.of([late]), THREE_STROKES)
    assert out.won.tolist() == [False] and np.isnan(out.seconds[0])
    longer = replay.play(replay.Guesses.of([late], seconds=25.0), THREE_STROKES, seconds=25.0)
    assert longer.won.tolist() == [True] and longer.seconds[0] == pytest.approx(21.1)


def test_old_rules_and_a_flicker_guard_change_the_verdict_as_they_say():
    d = drawing(line(10, 0.0), line(120, 2.0), line(240, 4.0))
    g = replay.Guesses.of([d])
    assert not replay.play(g, THREE_STROKES, game.OLD_RULES).won[0]          # 45% on top: the old rule wanted 50%
    sure = replay.Player("sure", CLASSES,
                         lambda X: np.where((rows_inked(X) >= 3)[:, None], [0.9, 0.05, 0.05], [0.2, 0.5, 0.3]))
    assert replay.play(g, sure, game.OLD_RULES).won[0]
    guarded = replay.play(g, THREE_STROKES, game.Rules(confirm=2))
    assert guarded.seconds[0] > replay.play(g, THREE_STROKES).seconds[0]


def test_google_wins_where_recognized_at_the_drawings_last_point():
    a = drawing(line(10, 0.0), line(120, 3.0), recognized=True)
    b = drawing(line(10, 0.0), recognized=False)
    out = replay.google([a, b])
    assert out.won.tolist() == [True, False] and out.seconds[0] == pytest.approx(3.45)


def test_a_drawing_that_is_a_training_row_is_left_out():
    a = drawing(line(10, 0.0), line(120, 2.0))
    b = drawing(line(10, 0.0), np.array([[100, 100], [0, 250], [3000, 3100]], np.float32))
    rows = render.render_many([b.strokes]).reshape(1, -1)
    assert strokes.without_twins([a, b], rows) == [a]


def test_the_held_out_drawings_were_never_trained_on_nor_are_bitmap_rows():
    classes = ["apple", "cat"]            # both have bundled bitmaps and raw drawings that are rows of them
    ss, tr, te = strokes.stroke_split(classes)
    out = replay.held_out(classes)
    assert out and all(d.has_time for d in out) and {d.word for d in out} <= set(classes)
    train_keys = {ss.drawings[i].key_id for i in tr}
    assert not {d.key_id for d in out} & train_keys
    # every bundled raw apple is a row of the apple bitmaps (the files' first rows): none is played
    raw_apples = list(ndjson.iter_drawings(ndjson.strokes_path("apple", "raw")))
    played = {d.key_id for d in out}
    assert raw_apples and not [d for d in raw_apples if d.key_id in played]
    assert "cat" in {d.word for d in out}
    for c in classes:
        mine = [d for d in out if d.word == c]
        assert strokes.without_twins(mine, bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz")) == mine


def test_the_demo_models_drawings_are_no_bitmap_rows_and_not_learned_from():
    out = replay.unseen_by_demo(["apple", "cat"])
    assert out and {d.word for d in out} == {"cat"}       # every bundled raw apple is an apple bitmap row
    assert strokes.without_twins(out, bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "cat.npz")) == out
    full, one = replay.unseen_by_demo(["cat", "star"]), replay.unseen_by_demo(["cat", "star"], limit_per_class=1)
    assert [d.word for d in one] == ["cat", "star"] and len(full) > 2


def test_the_benchmark_compares_players_counts_wrong_prompt_wins_and_tabulates():
    """(issue 24, point 16) compare, false_wins and table ran only in notebook 07. A player that
    always says "cat": it wins the cat drawing, loses the two dogs; prompted with the wrong word (the
    only other class), it "wins" both dogs (prompted cat) and loses the cat (prompted dog)."""
    always_cat = replay.Player("always cat", ["cat", "dog"], lambda X: np.tile([0.6, 0.4], (len(X), 1)))
    g = replay.Guesses.of([drawing(line(10, 0.0), line(120, 1.0)),
                           drawing(line(10, 0.0), word="dog", recognized=False),
                           drawing(line(10, 0.0), line(200, 2.0), word="dog")])
    assert replay.false_wins(g, always_cat, game.RULES) == pytest.approx(2 / 3)
    rows, outcomes = replay.compare(g, [always_cat])
    by = {r["player"]: r for r in rows}
    assert list(by) == ["Google's game AI (345 classes)", "always cat", "always cat, two in a row"]
    assert by["Google's game AI (345 classes)"]["won"] == pytest.approx(2 / 3, abs=1e-4)
    assert by["always cat"]["won"] == pytest.approx(1 / 3, abs=1e-4)
    assert by["always cat"]["false_wins"] == pytest.approx(2 / 3, abs=1e-4)
    assert by["always cat"]["median_seconds_to_win"] == pytest.approx(0.1)       # on top at the first guess
    assert by["always cat, two in a row"]["median_seconds_to_win"] > 0.1
    assert outcomes["always cat"].won.tolist() == [True, False, False]
    md = replay.table({"tables": {"hand-made": {"drawings": 3, "guesses": len(g.images), "rows": rows,
                                               "skipped": ["x"]}}})
    assert "**hand-made**: 3 raw drawings (1 left out: times go backwards)" in md
    assert re.search(r"\| always cat \| 33.3% \| 0.\d \| 66.7% \|", md)
    assert "| Google's game AI (345 classes) | 66.7% |" in md


def _sends_tick_by_tick(t, batch):
    """The pad's timer fired at every tick, one by one: the reference the replay's jumps must match."""
    out, sent, tick = [], 1, 1
    while t[0] + tick * batch <= t[-1]:
        points = int(np.searchsorted(t, t[0] + tick * batch, side="left"))
        if points > sent:
            out.append((float(t[0] + tick * batch), points))
            sent = points
        tick += 1
    return out


def test_the_batches_jump_to_the_next_point_as_the_timer_ticking_would_and_end_on_ticks_that_land_on_a_point():
    exact = np.arange(0, 2.01, 0.1)                     # points exactly on the timer's ticks (rounding)
    assert list(replay._sends(exact, 0.1)) == _sends_tick_by_tick(exact, 0.1)
    for d in ndjson.load_drawings(ndjson.strokes_path("star", "raw"), limit=40):
        t0 = float(d.strokes[0][2][0])
        for s in d.strokes:
            t = (np.asarray(s[2], np.float64) - t0) / 1000.0
            assert list(replay._sends(t, 0.1)) == _sends_tick_by_tick(t, 0.1)
