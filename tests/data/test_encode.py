"""Stroke drawings as model input: sequences, order/time channels."""
import numpy as np
import pytest

from qd import QDError
from qd.data import encode, ndjson
from qd.data.ndjson import Drawing


def _drawing(strokes_, key="1"):
    return Drawing(word="x", strokes=[np.asarray(s, np.float32) for s in strokes_], key_id=key)


HAND = _drawing([[[0, 0, 100], [0, 100, 100]], [[255], [0]]])


def test_sequence_encoding_deltas_pen_state_and_padding():
    seq, n = encode.to_sequence(HAND, max_len=6)
    assert n == 4 and seq.shape == (6, 3) and seq.dtype == np.float32
    np.testing.assert_allclose(seq[:4, :2] * 255, [[0, 0], [0, 100], [100, 0], [155, -100]], atol=1e-4)
    assert seq[:4, 2].tolist() == [0, 0, 1, 1]          # the end of each stroke
    assert (seq[4:] == 0).all()                          # padding
    np.testing.assert_allclose(np.cumsum(seq[:n, :2], 0)[-1] * 255, [255, 0], atol=1e-4)   # positions come back
    cut, m = encode.to_sequence(HAND, max_len=2)
    assert m == 2 and cut[1, 2] == 0                     # cut: no stroke end inside


def test_raw_strokes_are_simplified_before_encoding():
    raw = ndjson.load_drawings(ndjson.strokes_path("cat", "raw"), limit=1)[0]
    seq, n = encode.to_sequence(raw, max_len=500)
    assert n < raw.n_points and seq[:n, 2].sum() == len(raw.strokes)


def test_order_and_time_channels_on_a_hand_made_drawing():
    # raw format: a bar on the left drawn first (t 0..100 ms), a bar on the right drawn last (t 2900..3000)
    d = Drawing(word="x", strokes=[np.array([[0, 0], [0, 400], [0, 100]], np.float32),
                                   np.array([[400, 400], [0, 400], [2900, 3000]], np.float32)], key_id="2")
    ch = encode.order_channels(d, 28).astype(float)
    assert ch.shape == (3, 28, 28)
    left, right = ch[:, :, :14].max(axis=(1, 2)), ch[:, :, 14:].max(axis=(1, 2))
    assert left[0] > 200 and right[0] > 200                          # ink: both bars
    assert left[1] == left[0] and abs(right[1] - 0.25 * right[0]) <= 1   # order: first 1.0, last 0.25
    assert left[2] == left[0] and abs(right[2] - 0.25 * right[0]) <= 1   # time: began at 0, and at the end
    # without timestamps, time is the stroke's place among the points: the second bar starts at point 2 of 4
    simple = _drawing([[[0, 0], [0, 255]], [[255, 255], [0, 255]]])
    ch = encode.order_channels(simple, 28).astype(float)
    ink, when = ch[0, :, 14:].max(), ch[2, :, 14:].max()
    assert abs(when - (1 - 0.75 * 2 / 3) * ink) <= 1


@pytest.mark.parametrize("max_len", [-3, 0, 2.5])
def test_a_sequence_length_that_is_no_length_is_refused(max_len):
    with pytest.raises(QDError, match="max_len must be a whole number"):
        encode.to_sequence(HAND, max_len=max_len)
