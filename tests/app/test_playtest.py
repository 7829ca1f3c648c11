"""The browser replay's pure parts, without a browser: where and when the pen goes, which drawing
each prompt gets."""
import numpy as np
import pytest

from qd import QDError
from qd.app import playtest
from qd.data import ndjson

BOX = {"x": 100.0, "y": 50.0, "width": 400.0, "height": 400.0}


def _raw(word="cat", n=2):
    return next(d for d in ndjson.iter_drawings(ndjson.strokes_path(word, "raw")) if len(d.strokes) >= n)


def test_the_pen_follows_the_drawing_inside_the_canvas_at_its_own_times():
    d = _raw()
    path = playtest.pen_path(d, BOX)
    assert [len(p) for p in path] == [s.shape[1] for s in d.strokes]
    pts = np.concatenate(path)
    assert pts[0, 0] == 0 and np.all(np.diff(pts[:, 0]) >= 0)                # seconds from the first point, in order
    assert abs(pts[-1, 0] - (d.strokes[-1][2][-1] - d.strokes[0][2][0]) / 1000) < 1e-3
    assert pts[:, 1].min() >= 140 - 1e-3 and pts[:, 1].max() <= 460 + 1e-3    # the box less a 10% margin
    assert pts[:, 2].min() >= 90 - 1e-3 and pts[:, 2].max() <= 410 + 1e-3
    # the shape is kept: one scale for x and y
    xy = np.concatenate([s[:2] for s in d.strokes], axis=1)
    scale = np.ptp(pts[:, 1:], axis=0) / np.ptp(xy, axis=1)
    assert abs(scale[0] - scale[1]) < 1e-3


def test_each_prompt_gets_its_drawings_in_turn_and_an_unknown_prompt_is_an_error():
    a, b, c = _raw("cat"), _raw("cat", 3), _raw("apple")
    pick = playtest.Drawings([a, c, b])
    assert pick("cat") is a and pick("cat") is b and pick("cat") is a and pick("apple") is c
    with pytest.raises(QDError, match="no held-out drawing of 'dog'"):
        pick("dog")
