"""The game's rules and the demo's play mode, without a browser (the clock is ours to drive)."""
import time

import numpy as np
import pytest

from qd import QDError
from qd.app import free, game, guesser, play
from qd.models import unknown

VOCAB = ["circle", "square", "star", "cat"]


def test_prompts_are_seeded_and_do_not_repeat():
    a, b = game.Game(VOCAB, rounds=4, seed=7), game.Game(VOCAB, rounds=4, seed=7)
    pa, pb = [], []
    for t in range(4):
        pa.append(a.start_round(t * 30).prompt)
        a.tick(t * 30 + 25)
        pb.append(b.start_round(t * 30).prompt)
        b.tick(t * 30 + 25)
    assert pa == pb and sorted(pa) == sorted(VOCAB)
    assert a.over
    with pytest.raises(QDError, match="all 4 rounds are played"):
        a.start_round(999)


def test_a_round_is_won_the_moment_the_prompt_is_the_top_guess():
    g = game.Game(VOCAB, rounds=2, seconds=20, seed=1)
    r = g.start_round(0.0)
    other = next(c for c in VOCAB if c != r.prompt)
    assert g.guess([(other, 0.9), (r.prompt, 0.1)], {other: 0.9, r.prompt: 0.1}, 1.0) == "playing"
    assert r.guess == other and r.p_prompt == 0.1
    # won at 12%, the moment it is on top (a bar such as 30% put back would fail here), and never vetoed
    assert g.guess([(r.prompt, 0.12), (other, 0.11)], {r.prompt: 0.12}, 2.5, unknown=True) == "won"
    assert r.ended == 2.5 and r.p_prompt == 0.12
    # what it saw ends with the prompt it won on, "I don't know" unsure or not (not "I saw nothing I know.")
    assert r.guess == r.prompt and r.said == [other, r.prompt]
    assert game.what_it_saw(g.results()[0]["said"], r.prompt, True) == f"{other}, {r.prompt}!"
    g2 = game.Game(VOCAB, rounds=2, seed=1)
    g2.start_round(0.0)
    with pytest.raises(QDError, match="still being played"):
        g2.start_round(1.0)


def test_the_old_rules_wanted_a_sure_answer_and_listened_to_i_dont_know():
    g = game.Game(VOCAB, rounds=1, seconds=20, seed=1, rules=game.OLD_RULES)
    r = g.start_round(0.0)
    other = next(c for c in VOCAB if c != r.prompt)
    assert g.guess([(r.prompt, 0.45), (other, 0.4)], {r.prompt: 0.45}, 2.0) == "playing"   # not sure enough
    assert g.guess([(r.prompt, 0.9)], {r.prompt: 0.9}, 3.0, unknown=True) == "playing"       # "I don't know"
    assert r.guess == game.UNKNOWN
    assert g.guess([(r.prompt, 0.8), (other, 0.1)], {r.prompt: 0.8}, 4.0) == "won"
    assert r.ended == 4.0 and r.p_prompt == 0.8 and r.guess == r.prompt


def test_a_flicker_guard_needs_the_prompt_on_top_guesses_in_a_row():
    g = game.Game(VOCAB, rounds=1, seconds=20, rules=game.Rules(confirm=2))
    r = g.start_round(0.0, prompt="cat")
    assert g.guess([("cat", 0.4)], None, 1.0) == "playing"        # one flicker
    assert g.guess([("star", 0.5)], None, 1.2) == "playing"
    assert g.guess([("cat", 0.4)], None, 1.4) == "playing"
    assert g.guess([("cat", 0.6)], None, 1.6) == "won" and r.ended == 1.6
    with pytest.raises(QDError, match="not in the game's vocabulary"):
        game.Game(VOCAB).start_round(0.0, prompt="dragon")


def test_a_round_is_lost_when_time_runs_out():
    g = game.Game(VOCAB, rounds=1, seconds=20, seed=1)
    r = g.start_round(10.0)
    assert g.tick(29.9) == "playing" and abs(r.left(29.9) - 0.1) < 1e-9
    assert g.tick(30.0) == "lost" and r.ended == 30.0 and r.left(31) == 0
    assert g.guess([(r.prompt, 0.99)], {r.prompt: 0.99}, 31.0) == "lost"       # too late
    assert g.over and g.results()[0]["status"] == "lost"


def test_throttle_allows_the_first_call_then_one_per_interval():
    t = game.Throttle(0.15)
    calls = [now for now in np.arange(0, 1.0, 0.01) if t.ready(float(now))]
    assert calls[0] == 0 and 6 <= len(calls) <= 7
    assert all(b - a >= 0.15 - 1e-9 for a, b in zip(calls, calls[1:]))
    t.reset()
    assert t.ready(0.5)


def test_speech_sounds_like_the_game():
    assert game.speech([("cloud", 0.3), ("bowtie", 0.2), ("hat", 0.1)], "house") == "I see cloud, or bowtie..."
    assert game.speech([("house", 0.9)], "house", "won") == "Oh, I know, it's house!"
    assert game.speech(None, "house", "lost").startswith("Sorry, I couldn't guess it")
    assert "don't know" in game.speech([("cat", 0.2)], "house", unknown=True)
    assert game.speech(None, "apple") == "Draw an apple!"


# ----------------------------------------------------------------------------- play mode widgets

class Fake(guesser.Guesser):
    """Answers what `answer` holds: (probabilities, unknown)."""

    def __init__(self):
        self.answer = (np.array([0.7, 0.1, 0.1, 0.1]), False)
        super().__init__("fake", VOCAB, lambda img, strokes: self.answer[0], lambda img: self.answer[1])


def _stroke(app, pts):
    app.on_down(*pts[0])
    for p in pts[1:]:
        app.on_move(*p)
    app.on_up()


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def _toward(f, prompt):
    f.answer = (np.array([0.7 if c == prompt else 0.1 for c in VOCAB]), False)


def test_play_mode_cards_rounds_won_and_lost_then_results_and_play_again(clock):
    f = Fake()
    app = play.GameApp(f, rounds=2, seconds=20, seed=3)
    assert not app.accepting() and app.state == "idle"
    app.new_game()
    r1 = app.game.current
    # a card names the prompt; the clock does not run until Got it!
    assert app.state == "ready" and r1.status == "ready" and not app.ticker.playing
    assert "Round 1 of 2" in app.card_text.value and r1.prompt in app.card_text.value and "20 seconds" in app.card_text.value
    _stroke(app, [(10, 10), (80, 90)])                           # pen input before Got it! is ignored
    assert app.recorder.is_empty and r1.guesses == []
    clock[0] += 30                                               # however long the card is read
    app.tick()
    assert r1.status == "ready"
    app.got_it.click()
    assert app.state == "playing" and r1.started == clock[0] and app.ticker.playing and "0:20" in app.timer.value
    f.answer = (np.array([0.1 if c != "star" else 0.7 for c in VOCAB]), False)
    clock[0] += 1
    _stroke(app, [(10, 10), (80, 90), (150, 40)])
    _toward(f, r1.prompt)
    clock[0] += 2
    _stroke(app, [(20, 200), (90, 220)])
    assert r1.status == "won" and r1.took == 3 and "Oh, I know, it's " + r1.prompt in app.card_text.value
    assert [g for _, g in r1.guesses][-1] == r1.prompt and len(r1.strokes) == 2
    # the next card at once, on a cleared canvas, the clock stopped
    r2 = app.game.current
    assert r2 is not r1 and r2.status == "ready" and app.state == "ready" and app.recorder.is_empty
    assert "Round 2 of 2" in app.card_text.value and not app.ticker.playing
    app.got_it.click()
    f.answer = (np.array([0.1 if c != r2.prompt else 0.05 for c in VOCAB]) + 0.0, True)
    _stroke(app, [(10, 10), (200, 200)])
    assert "don't know" in app.speech.value and r2.guess == "?"
    clock[0] += 20.5
    app.tick()
    assert r2.status == "lost" and app.game.over and not app.ticker.playing and app.state == "over"
    assert app.results.value.count('class="qd-result"') == 2 and r1.prompt in app.results.value
    assert 'data-status="won"' in app.results.value and "recognised in 3.0 s" in app.results.value
    assert f"How others drew {game.a_or_an(r2.prompt)}" in app.results.value       # bundled drawings of the prompt
    assert app.start_button.description == "Play again"
    app.new_game()
    assert len(app.game.rounds) == 1 and app.results.value == "" and app.state == "ready"


def test_a_stroke_open_when_the_round_is_won_ends_with_it_and_never_reaches_the_next(clock):
    f = Fake()
    app = play.GameApp(f, rounds=3, seconds=20, seed=1)
    app.new_game()
    r1 = app.game.current
    app.begin()
    _toward(f, r1.prompt)
    app.on_down(10, 10)
    for x in range(12, 60, 3):                  # the throttle lets a guess through mid-stroke: won
        app.on_move(x, x)
        clock[0] += 0.05
    assert r1.status == "won" and len(r1.strokes) == 1
    n = len(r1.strokes[0][0])
    for x in range(60, 300, 3):                  # the rest of that stroke, then more strokes, before Got it!
        app.on_move(x, 2 * x % 380)
        clock[0] += 0.05
    app.on_up(300, 300)
    _stroke(app, [(100, 100), (200, 250), (300, 100)])
    assert len(r1.strokes) == 1 and len(r1.strokes[0][0]) == n     # the won round's drawing is as it was
    assert app.recorder.is_empty and app.game.current.status == "ready"
    app.begin()
    assert app.recorder.is_empty and app.sketch.strokes == []     # round 2 starts on a clean canvas
    _stroke(app, [(5, 5), (50, 50)])
    assert len(app.recorder.strokes) == 1


def test_the_round_lost_on_time_keeps_its_drawing_and_later_ink_is_ignored(clock):
    f = Fake()
    app = play.GameApp(f, rounds=2, seconds=10, seed=2)
    app.new_game()
    app.begin()
    r1 = app.game.current
    f.answer = (np.array([0.7 if c != r1.prompt else 0.0 for c in VOCAB]), False)
    _stroke(app, [(10, 10), (80, 90)])
    app.on_down(100, 100)
    app.on_move(150, 150)
    clock[0] += 10.0
    app.on_move(200, 180)                     # the time is up: this move's guess ends the round
    assert r1.status == "lost" and len(r1.strokes) == 2 and app.state == "ready"
    app.on_up(250, 250)
    assert app.recorder.is_empty and "Sorry, I couldn't guess it" in app.card_text.value


def test_results_say_what_the_game_saw_and_how_others_drew_it():
    r = {"prompt": "cat", "status": "lost", "guess": "star", "p_prompt": 0.1, "seconds": 20.0,
         "said": ["circle", "star"], "strokes": [[[10, 100], [10, 120]]]}
    cell = play.result_html(1, r)
    assert "✘ not recognised" in cell and "I saw circle, star..." in cell
    assert "How others drew a cat" in cell and "It looked more like a star" in cell
    won = play.result_html(2, r | {"status": "won", "guess": "cat", "said": ["circle", "cat"], "seconds": 4.25})
    assert "recognised in 4.2 s" in won and "circle, cat!" in won and "How others drew" not in won
    assert 'data-seconds="4.25"' in won and 'data-strokes="1"' in won
    assert game.what_it_saw([], "cat", False) == "I saw nothing I know."
    assert game.announcement(3, 6, "apple", 20) == "Round 3 of 6: draw an apple in under 20 seconds"


def test_the_game_announces_a_round_and_its_clock_starts_when_begun():
    g = game.Game(VOCAB, rounds=2, seconds=20, seed=5)
    with pytest.raises(QDError, match="no round is announced"):
        g.begin(0.0)
    r = g.announce()
    assert r.status == "ready" and g.announced is r and r.left(1e6) == 20 and not g.accepts_ink(100.0)
    assert g.guess([(r.prompt, 0.9)], None, 100.0) == "ready" and r.guesses == []     # no guessing on the card
    with pytest.raises(QDError, match="announced already"):
        g.announce()
    g.begin(100.0)
    assert g.accepts_ink(119.9) and not g.accepts_ink(120.0) and r.status == "lost" and r.took == 20


def test_free_draw_shows_the_second_model_and_says_i_dont_know(clock):
    ours, other = Fake(), Fake()
    other.classes = ["dog", "house", "sun", "tree"]
    app = free.DrawingApp(ours, second_models={"peer": other})
    _stroke(app, [(10, 10), (100, 120)])
    assert "I think it is a circle" in app.answer.value and "dog" in app.chart2.value
    ours.answer = (ours.answer[0], True)
    _stroke(app, [(50, 10), (60, 220)])
    assert "don't know" in app.answer.value and app.chart.value        # bars stay, the answer says so


def test_detector_separates_far_features_and_keeps_its_promise():
    rng = np.random.default_rng(0)
    means = np.array([[0, 0], [6, 0], [0, 6]], float)
    y = rng.integers(0, 3, 3000)
    f_train = means[y] + rng.normal(0, 1, (3000, 2))
    logits = lambda f: -((f[:, None] - means[None]) ** 2).sum(-1)        # noqa: E731
    yk = rng.integers(0, 3, 1000)
    fk = means[yk] + rng.normal(0, 1, (1000, 2))
    fu = rng.normal(0, 1, (1000, 2)) + np.array([12, 12])
    det = unknown.Detector().fit((logits(f_train), f_train), y, (logits(fk), fk), (logits(fu), fu), max_lost=0.05,
                                 val_correct=logits(fk).argmax(1) == yk)
    fk2 = means[yk] + rng.normal(0, 1, (1000, 2))
    fu2 = rng.normal(0, 1, (1000, 2)) + np.array([-9, 11])              # held out: elsewhere, still far
    assert det.is_unknown(logits(fu2), fu2).mean() > 0.95
    assert 0.01 < det.is_unknown(logits(fk2), fk2).mean() < 0.10
    again = unknown.Detector.from_state(det.state())
    np.testing.assert_allclose(again.score(logits(fk2), fk2), det.score(logits(fk2), fk2), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kw,message", [({"seconds": float("nan")}, "seconds must be"),
                                        ({"seconds": 0}, "seconds must be"), ({"rounds": 0}, "rounds must be"),
                                        ({"win_probability": float("nan")}, "win_probability"),
                                        ({"win_probability": 2}, "win_probability"),
                                        ({"confirm": 0}, "confirm")])
def test_a_game_that_could_never_end_or_be_won_is_refused(kw, message):
    with pytest.raises(QDError, match=message):
        if "seconds" in kw or "rounds" in kw:
            game.Game(VOCAB, **kw)
        else:
            game.Game(VOCAB, rules=game.Rules(**kw))


def test_a_string_is_not_a_vocabulary():
    with pytest.raises(QDError, match="must be a list of class names"):
        game.Game("cat")


# ----------------------------------------------------------------------------- reliability, round three (issue 24, point 10)

@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "1.0", True])
def test_a_clock_that_is_not_a_time_is_refused_not_left_to_stall_the_round(bad):
    g = game.Game(VOCAB, rounds=1, seconds=10)
    g.start_round(0.0)
    with pytest.raises(QDError, match="now must be a finite number"):
        g.tick(bad)
    with pytest.raises(QDError, match="now must be a finite number"):
        game.Throttle(0.15).ready(bad)
    assert g.tick(10.0) == "lost"                     # the round still ends on time


def test_a_clock_that_goes_backwards_never_gives_more_than_the_rounds_time():
    g = game.Game(VOCAB, rounds=1, seconds=10)
    r = g.start_round(100.0)
    assert r.left(50.0) == 10.0 and r.left(104.0) == 6.0


def test_the_throttle_still_fires_after_a_bad_time_was_refused():
    t = game.Throttle(0.15)
    assert t.ready(0.0)
    with pytest.raises(QDError):
        t.ready(float("nan"))
    assert t.ready(0.2)
    with pytest.raises(QDError, match="interval must be"):
        game.Throttle(-1)


def test_what_the_game_says_has_no_none_in_it():
    assert game.speech(None, None, "won") == "Oh, I know what it is!"


def test_each_game_draws_its_own_prompts():
    """(issue 24, point 14) prompts drawn with random.Random(0), whatever the seed, passed every test:
    every visitor would get the same words. Seeds give their own orders, and no seed a fresh one."""
    def order(seed):
        g = game.Game(VOCAB, rounds=len(VOCAB), seed=seed)
        out = []
        for t in range(len(VOCAB)):
            out.append(g.start_round(t * 30).prompt)
            g.tick(t * 30 + 25)
        return tuple(out)
    assert order(3) == order(3)
    assert len({order(seed) for seed in range(12)}) >= 6
    assert len({order(None) for _ in range(12)}) >= 3      # 24 orders: fewer than 3 in 12 games is ~1e-11


def test_the_throttle_fires_exactly_at_its_interval():
    """(issue 24, point 14) `>=` turned into `>` passed: a guess due at exactly the interval must come."""
    t = game.Throttle(0.25)
    assert t.ready(0.0) and not t.ready(0.125) and t.ready(0.25) and not t.ready(0.4375) and t.ready(0.5)


def test_the_throttle_guesses_less_often_when_each_guess_takes_longer():
    """(issue 26) 30 pupils on 2 cores: a guess while the pen moves takes longer, so each kernel
    guesses less often instead of falling behind its pupil's strokes; alone, nothing changes."""
    t = game.Throttle(0.15, busy=4)
    assert t.ready(0.0)
    t.took(0.02)                      # a quiet machine: the interval rules
    assert not t.ready(0.14) and t.ready(0.16)
    t.took(0.2)                       # a busy one: at most a quarter of the time guessing
    assert not t.ready(0.16 + 0.79) and t.ready(0.16 + 0.81)
    t.took(0.01)
    assert t.ready(0.97 + 0.16)
    with pytest.raises(QDError):
        t.took(float("nan"))


def test_on_a_crowded_machine_the_pen_is_guessed_once_a_second():
    """(issue 26) 30 pupils on 2 cores: each kernel guessing as often as it alone could filled the
    cores, and stroke ends (the guesses that count) waited seconds; crowded, once a second, and
    back to the interval when the machine is quiet again."""
    t = game.Throttle(0.15, busy=4)
    assert t.ready(0.0)
    t.took(0.01, machine_busy=game.CROWDED)
    assert not t.ready(0.99) and t.ready(1.0)
    t.took(0.01, machine_busy=game.CROWDED - 0.01)
    assert not t.ready(1.1) and t.ready(1.2)
    with pytest.raises(QDError, match="machine_busy"):
        t.took(0.01, machine_busy=1.5)

