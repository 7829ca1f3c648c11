"""The demo's logic without a browser: recorder, answer, the pad's batches, throttle, undo, bad models."""
import html
import time

import numpy as np
import pytest
from helpers import resave

from qd import QDError
from qd.app import canvas, demo, free, guesser, latency, pad, recorder, view
from qd.data import ndjson, render
from qd.models.infer import Predictor


def test_recorder_keeps_strokes_in_the_official_layout():
    r = recorder.StrokeRecorder(min_step=2.0)
    assert r.is_empty and r.move(5, 5) is None          # a move without a press draws nothing
    r.start(10, 10)
    assert r.move(11, 10) is None                        # closer than min_step: dropped
    assert r.move(20, 10) == (10, 10, 20, 10)
    assert r.end(20, 30) == (20, 10, 20, 30)
    assert r.end(50, 50) is None                         # already closed
    r.start(0, 0)
    r.end()
    assert r.strokes == [[[10.0, 20.0, 20.0], [10.0, 10.0, 30.0]], [[0.0], [0.0]]]
    assert r.n_points == 4
    assert r.undo() and len(r.strokes) == 1
    r.clear()
    assert r.is_empty and not r.undo()


def test_recorded_strokes_render_like_the_data():
    """Replaying a real drawing through the recorder gives the model the same input as the data."""
    d = ndjson.load_drawings(ndjson.strokes_path("star", "raw"), limit=1)[0]
    r = recorder.StrokeRecorder(min_step=0.0)
    for s in d.strokes:
        r.start(s[0, 0], s[1, 0])
        for x, y in zip(s[0, 1:], s[1, 1:]):
            r.move(x, y)
        r.end()
    np.testing.assert_array_equal(render.render(r.strokes), render.render(d))


def test_answer_text():
    assert view.answer_text(None) == view.EMPTY_MESSAGE
    assert view.answer_text([("star", 0.97), ("eye", 0.02)]) == "I think it is a star, 97%"
    unsure = view.answer_text([("cat", 0.31), ("fish", 0.30)], threshold=0.5)
    assert "not sure" in unsure and "cat (31%)" in unsure


def test_bars_html_lists_classes_in_order():
    h = view.bars_html([("smiley face", 0.8), ("circle", 0.15), ("<eye>", 0.05)])
    assert h.index("smiley face") < h.index("circle") < h.index("&lt;eye&gt;")
    assert "width:80.0%" in h and "15%" in h


class FakePredictor(guesser.Guesser):
    """A model that always says star, 70%, and counts its calls."""

    def __init__(self, unknown: bool = False):
        super().__init__("fake", ["circle", "square", "star"], self._probs, lambda img: unknown)
        self.calls = 0

    def _probs(self, img, strokes):
        assert img.shape == (28, 28) and img.max() > 0
        self.calls += 1
        return np.array([0.1, 0.2, 0.7])


def _pen(app, *ops):
    """What the page's pad sends: one batch of pen operations (qd/app/pad.js)."""
    app.pad._on_msg(app.pad, {"event": "pen", "ops": [list(op) for op in ops]}, [])


def test_the_page_draws_and_the_kernel_keeps_the_strokes_without_echoing_them():
    """The pad draws in the page; the kernel gets batches, guesses, keeps the strokes as widget state
    (a late view draws them) and makes the page redraw only when it changed the drawing itself."""
    p = FakePredictor()
    app = free.DrawingApp(p)
    _pen(app, ("down", 10, 10), ("move", 50, 60))                 # a batch while the stroke is open
    assert app.recorder.drawing and p.calls == 1                   # one guess with what came
    _pen(app, ("move", 70, 80), ("move", 90, 20), ("up", 90, 22))  # the rest, and its end
    assert app.recorder.strokes == [[[10.0, 50.0, 70.0, 90.0, 90.0], [10.0, 60.0, 80.0, 20.0, 22.0]]]
    assert app.last_top[0][0] == "star" and "(1 stroke)" in app.status.value
    assert app.pad.strokes == app.recorder.strokes and app.pad.revision == 0   # kept, not redrawn
    _pen(app, ("down", 100, 100), ("up", 100, 100), ("down", 200, 200), ("move", 260, 210), ("up", 300, 220))
    assert len(app.recorder.strokes) == 3 and app.pad.revision == 0          # a dot and a line, in one batch
    app.undo()
    assert app.pad.revision == 1 and len(app.pad.strokes) == 2               # the kernel changed it: the page redraws
    app.clear()
    assert app.pad.revision == 2 and app.pad.strokes == []


def test_pen_operations_the_kernel_does_not_take_make_the_page_redraw_its_drawing(small_model):
    """A stroke drawn while no round is on is not kept: the page is told to show the kernel's drawing."""
    app = demo.make_app(small_model[0]).play
    before = app.pad.revision
    _pen(app, ("down", 10, 10), ("move", 80, 80), ("up", 90, 90))
    assert app.recorder.is_empty and app.pad.revision == before + 1 and app.pad.strokes == []
    _pen(app, ("move", 5, 5))                                                 # moves with no stroke open
    assert app.pad.revision == before + 2


@pytest.mark.parametrize("content,message", [({"event": "pen"}, "no list of ops"),
                                             ({"event": "pen", "ops": [["jump", 1, 2]]}, "pen op 0 is not"),
                                             ({"event": "pen", "ops": [["down", 1, 2], ["move", "x", 2]]}, "pen op 1 is not"),
                                             ({"event": "pen", "ops": [["down", 1]]}, "pen op 0 is not")])
def test_a_malformed_pen_message_is_a_qderror_naming_it(content, message):
    with pytest.raises(QDError, match=message):
        pad.pen_ops(content)


def test_guesses_while_the_pen_moves_are_throttled_and_clear(monkeypatch):
    p = FakePredictor()
    app = free.DrawingApp(p)
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    app.on_down(10, 10)
    for i in range(50):                    # 50 moves in 1 s (20 ms apart)
        clock[0] += 0.02
        app.on_move(10 + 3 * i, 10 + i)
    assert 5 <= p.calls <= 7               # every 0.15 s: at least 5 guesses a second, no flood
    app.on_up()
    assert "I think it is a star, 70%" in app.answer.value
    assert "star" in app.chart.value and app.last_latency_ms is not None
    app.clear()
    assert app.recorder.is_empty and app.chart.value == "" and view.EMPTY_MESSAGE in app.answer.value


def test_a_single_dot_is_drawn_and_guessed_like_the_official_renderer_would():
    app = free.DrawingApp(FakePredictor())
    app.on_down(10, 10)
    app.on_up()
    assert "I think" in app.answer.value and app.chart.value != ""
    np.testing.assert_array_equal(app.image(), render.render([[[10.0], [10.0]]]))


def test_undo_repredicts_and_undo_to_empty_shows_prompt():
    p = FakePredictor()
    app = free.DrawingApp(p)
    for k in range(2):
        app.on_down(10, 10 + 40 * k)
        app.on_move(80, 30 + 40 * k)
        app.on_up()
    calls = p.calls
    app.undo()
    assert p.calls == calls + 1 and len(app.recorder.strokes) == 1
    app.undo()
    assert view.EMPTY_MESSAGE in app.answer.value


def test_without_a_model_the_app_explains(tmp_path):
    app = demo.make_app(tmp_path / "missing.pt")
    assert app.play is None and app.mode.options == ("Free draw",)
    free = app.free
    assert free.predictor is None and free.guess_button.disabled
    assert "make models" in free.status.value and "python -m qd.training.train" in free.status.value
    assert "No trained model yet" in free.answer.value
    free.on_down(1, 1)
    free.on_move(30, 30)
    free.on_up()                            # drawing still works, no crash
    assert len(free.recorder.strokes) == 1


def test_replaying_real_drawings_measures_stroke_end_latency():
    drawings = ndjson.load_drawings(ndjson.strokes_path("star"), limit=3)
    p = FakePredictor()
    lat = latency.measure_latency(p, drawings)
    n_strokes = sum(len(d.strokes) for d in drawings)
    assert p.calls >= n_strokes and lat["strokes"] == n_strokes   # a prediction at every stroke end
    assert 0 < lat["median_ms"] <= lat["p95_ms"]


def test_the_demo_shows_a_bad_checkpoints_message(small_model, tmp_path):
    path = resave(small_model[0], tmp_path / "other.pt", lambda ck: ck["config"].update(model="mlp"))
    app = demo.make_app(path).free
    assert app.predictor is None and app.guess_button.disabled
    assert "other.pt" in app.status.value and "builds no model" in app.status.value
    (tmp_path / "garbage.pt").write_bytes(bytes(range(256)) * 8)      # (issue 24, point 5)
    app = demo.make_app(tmp_path / "garbage.pt").free
    assert "garbage.pt: not a checkpoint of this project" in app.status.value
    assert "weights_only" not in app.status.value and "Re-running" not in app.status.value


def test_the_demo_says_why_a_drawing_cannot_be_read(small_model):
    app = free.DrawingApp(Predictor(small_model[0]))
    latency.replay(app, [[[-1e308, 1e308], [0, 1]]])
    assert "coordinates span" in app.answer.value and app.last_top == []


# ----------------------------------------------------------------------------- reliability, round two

def test_an_empty_model_file_gives_the_page_its_note(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    app = demo.make_app(tmp_path / "empty.pt", second_model=tmp_path / "empty.pt")
    assert app.free.predictor is None and "an empty file" in app.free.status.value
    assert "ours, 345 classes" not in app.free.second_models


@pytest.mark.parametrize("env,note", [({"QD_DEMO_ROUNDS": "abc"}, "QD_DEMO_ROUNDS='abc' is not usable"),
                                      ({"QD_DEMO_ROUNDS": "0"}, "QD_DEMO_ROUNDS='0' is not usable"),
                                      ({"QD_DEMO_SECONDS": "-1"}, "QD_DEMO_SECONDS='-1' is not usable"),
                                      ({"QD_DEMO_SECONDS": "nan"}, "QD_DEMO_SECONDS='nan' is not usable"),
                                      ({"QD_DEMO_SEED": "x"}, "QD_DEMO_SEED='x' is not a whole number")])
def test_bad_settings_from_the_environment_still_give_the_page(monkeypatch, small_model, env, note):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = demo.make_app(small_model[0])
    assert app.play is not None and app.play.game.n_rounds >= 1 and app.play.game.seconds > 0
    assert note in html.unescape(app.free.status.value)


def test_bad_settings_as_arguments_are_a_qderror(small_model):
    for kw in ({"rounds": 0}, {"rounds": 2.5}, {"seconds": float("nan")}, {"seconds": -1}):
        with pytest.raises(QDError, match="rounds must be|seconds must be"):
            demo.make_app(small_model[0], **kw)
    assert demo.make_app(small_model[0], rounds=1).play.game.n_rounds == 1


def test_a_second_press_while_a_stroke_is_open_ends_that_stroke_first():
    """A lost mouse-up or a second finger: recorder, model input and canvas stay one drawing."""
    p = FakePredictor()
    app = free.DrawingApp(p)
    app.on_down(10, 10)
    app.on_move(60, 60)
    app.on_down(100, 20)                 # no mouse-up came
    app.on_move(150, 90)
    app.on_up()
    assert len(app.recorder.strokes) == 2 and len(app.sketch.strokes) == 2
    np.testing.assert_array_equal(app.image(), render.render(app.recorder.strokes))
    app.undo()
    assert len(app.recorder.strokes) == 1 and len(app.sketch.strokes) == 1
    np.testing.assert_array_equal(app.image(), render.render(app.recorder.strokes))
    assert "Cannot read" not in app.answer.value


@pytest.mark.parametrize("img", [np.zeros((28, 28), np.float32), np.zeros((0, 28), np.uint8), np.zeros(5, np.uint8)])
def test_png_bytes_takes_only_uint8_images(img):
    with pytest.raises(QDError, match="png_bytes takes a uint8 image"):
        view.png_bytes(img)


def test_the_status_tells_a_guess_while_drawing_from_one_at_the_stroke_end():
    """Pages (and the browser tests) wait for '(n stroke' to know a stroke's final guess is shown."""
    app = free.DrawingApp(FakePredictor())
    app.on_down(10, 10)
    app.on_move(80, 60)                     # the first move guesses at once (throttle)
    assert "(drawing stroke 1)" in app.status.value and "(1 stroke" not in app.status.value
    app.on_up()
    assert "(1 stroke)" in app.status.value


def test_undo_while_a_stroke_is_still_open_keeps_the_drawing_and_the_model_input_as_one():
    """Undo pressed mid-stroke (a second finger, a lost mouse-up) drops the open stroke; the closed
    strokes stay in both the recorder and the model's sketch."""
    app = free.DrawingApp(FakePredictor())
    app.on_down(10, 10)
    app.on_move(80, 60)
    app.on_up()
    app.on_down(100, 20)
    app.on_move(150, 90)                 # still drawing
    app.undo()
    assert len(app.recorder.strokes) == 1 and len(app.sketch.strokes) == 1 and not app.recorder.drawing
    np.testing.assert_array_equal(app.image(), render.render(app.recorder.strokes))
    assert "Cannot read" not in app.answer.value and "I think" in app.answer.value


def test_the_words_a_game_asks_for_come_from_the_argument_or_the_environment(monkeypatch, small_model):
    path = small_model[0]                     # classes apple, star, square
    app = demo.make_app(path, words="star, square")
    two = app.play.words
    g, prompts = app.play.game, []
    for t in (0.0, 100.0):
        prompts.append(g.start_round(t).prompt)
        g.tick(t + 99)
    assert two == ["star", "square"] and sorted(prompts) == ["square", "star"]     # only these are asked
    with pytest.raises(QDError, match="the model does not know 'dragon'"):
        demo.make_app(path, words=["dragon"])
    monkeypatch.setenv("QD_DEMO_WORDS", ",".join(two))
    assert demo.make_app(path).play.words == two
    monkeypatch.setenv("QD_DEMO_WORDS", "dragon")
    app = demo.make_app(path)                 # a bad word from the environment: the page still plays, and says why
    assert len(app.play.words) > 2 and "QD_DEMO_WORDS: the model does not know 'dragon'" in html.unescape(app.free.status.value)


# ----------------------------------------------------------------------------- reliability, round three (issue 24, point 10)

@pytest.mark.parametrize("top,threshold,message", [([("cat", float("nan"))], 0.5, "probability of 'cat'"),
                                                   ([("cat", 1.7)], 0.5, "probability of 'cat'"),
                                                   ([("cat", -0.2)], 0.5, "probability of 'cat'"),
                                                   ([("cat", 0.1)], float("nan"), "threshold")])
def test_the_answer_line_refuses_what_is_no_probability(top, threshold, message):
    with pytest.raises(QDError, match=message):
        view.answer_text(top, threshold)
    if threshold == 0.5:
        with pytest.raises(QDError, match=message):
            view.bars_html(top)


def test_the_answer_line_says_an_before_a_vowel():
    assert view.answer_text([("apple", 0.9)]) == "I think it is an apple, 90%"
    assert view.answer_text([("eye", np.float32(0.2))]).startswith("Hmm, I'm not sure yet. Maybe an eye (20%)")


@pytest.mark.parametrize("kw", [{"min_step": -5}, {"min_step": float("nan")}])
def test_a_recorder_with_a_step_that_is_no_distance_is_refused(kw):
    with pytest.raises(QDError, match="min_step"):
        recorder.StrokeRecorder(**kw)


def test_a_recorder_started_or_moved_with_no_position_says_so():
    r = recorder.StrokeRecorder()
    with pytest.raises(QDError, match="x must be a finite number"):
        r.start(None, 3)
    r.start(1, 2)
    with pytest.raises(QDError, match="y must be a finite number"):
        r.move(5, float("nan"))
    assert r.strokes == [[[1.0], [2.0]]]


def test_a_crowded_machine_slows_the_guesses_while_drawing_but_never_at_a_stroke_end(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(canvas, "machine_busy", lambda: 0.95)
    p = FakePredictor()
    app = free.DrawingApp(p)
    for stroke in range(3):
        app.on_down(10, 10 + stroke)
        for i in range(50):                    # 50 moves in 1 s
            clock[0] += 0.02
            app.on_move(10 + 3 * i, 10 + i + stroke)
        app.on_up()
    assert p.calls == 3 * 1 + 3                 # one guess a second while each stroke is drawn, one at each end
    assert "(3 strokes)" in app.status.value
