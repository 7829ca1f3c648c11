"""Partial drawings: the cuts a drawing offers, and their renders with the drawing's label."""
import numpy as np
import pytest

from qd import QDError
from qd.data import prefixes, render


def strokes(n_strokes, points=6):
    return [np.array([np.linspace(0, 200, points), np.full(points, 40.0 * k)], np.float32) for k in range(n_strokes)]


def test_cuts_are_every_stroke_end_but_the_last_and_every_stroke_cut_in_half():
    d = strokes(3) + [np.array([[5, 9], [5, 9]], np.float32)]         # a last stroke too short to cut
    assert prefixes.cuts(d) == [(0, 3), (1, None), (1, 3), (2, None), (2, 3), (3, None)]
    assert prefixes.cuts(d, mid_stroke=False) == [(1, None), (2, None), (3, None)]
    part = prefixes.partial(d, 1, 3)
    assert len(part) == 2 and part[1].shape == (2, 3)
    with pytest.raises(QDError, match="no partial drawing"):
        prefixes.partial(d, 0)


def test_prefix_images_are_the_renders_of_the_cuts_with_their_drawings_labels():
    drawings, y = [strokes(3), strokes(2)], [4, 7]
    X, labels = prefixes.prefix_images(drawings, y)
    assert labels.tolist() == [4] * 5 + [7] * 3
    np.testing.assert_array_equal(X[1], render.render(strokes(3)[:1]))
    a, la = prefixes.prefix_images(drawings, y, per_drawing=2, seed=3)
    b, _ = prefixes.prefix_images(drawings, y, per_drawing=2, seed=3)
    assert la.tolist() == [4, 4, 7, 7] and np.array_equal(a, b)
    with pytest.raises(QDError, match="per_drawing"):
        prefixes.prefix_images(drawings, y, per_drawing=0)
    with pytest.raises(QDError, match="labels"):
        prefixes.prefix_images(drawings, y[:1])
