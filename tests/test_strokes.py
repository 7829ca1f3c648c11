"""Strokes as model input: the sequence encoding, the order/time channels, dedupe by key_id."""
import numpy as np
import pytest
import torch

from qd import QDError, data, models, strokes
from qd.data import Drawing


def _drawing(strokes_, key="1"):
    return Drawing(word="x", strokes=[np.asarray(s, np.float32) for s in strokes_], key_id=key)


# two strokes in the simplified format: an L (3 points) and a dot far right
HAND = _drawing([[[0, 0, 100], [0, 100, 100]], [[255], [0]]])


def test_sequence_encoding_deltas_pen_state_and_padding():
    seq, n = strokes.to_sequence(HAND, max_len=6)
    assert n == 4 and seq.shape == (6, 3) and seq.dtype == np.float32
    np.testing.assert_allclose(seq[:4, :2] * 255, [[0, 0], [0, 100], [100, 0], [155, -100]], atol=1e-4)
    assert seq[:4, 2].tolist() == [0, 0, 1, 1]          # the end of each stroke
    assert (seq[4:] == 0).all()                          # padding
    np.testing.assert_allclose(np.cumsum(seq[:n, :2], 0)[-1] * 255, [255, 0], atol=1e-4)   # positions come back
    cut, m = strokes.to_sequence(HAND, max_len=2)
    assert m == 2 and cut[1, 2] == 0                     # cut: no stroke end inside


def test_raw_strokes_are_simplified_before_encoding():
    raw = data.load_drawings(data.strokes_path("cat", "raw"), limit=1)[0]
    seq, n = strokes.to_sequence(raw, max_len=500)
    assert n < raw.n_points and seq[:n, 2].sum() == len(raw.strokes)


def test_order_and_time_channels_on_a_hand_made_drawing():
    # raw format: a bar on the left drawn first (t 0..100 ms), a bar on the right drawn last (t 2900..3000)
    d = Drawing(word="x", strokes=[np.array([[0, 0], [0, 400], [0, 100]], np.float32),
                                   np.array([[400, 400], [0, 400], [2900, 3000]], np.float32)], key_id="2")
    ch = strokes.order_channels(d, 28).astype(float)
    assert ch.shape == (3, 28, 28)
    left, right = ch[:, :, :14].max(axis=(1, 2)), ch[:, :, 14:].max(axis=(1, 2))
    assert left[0] > 200 and right[0] > 200                          # ink: both bars
    assert left[1] == left[0] and abs(right[1] - 0.25 * right[0]) <= 1   # order: first 1.0, last 0.25
    assert left[2] == left[0] and abs(right[2] - 0.25 * right[0]) <= 1   # time: began at 0, and at the end
    # without timestamps, time is the stroke's place among the points: the second bar starts at point 2 of 4
    simple = _drawing([[[0, 0], [0, 255]], [[255, 255], [0, 255]]])
    ch = strokes.order_channels(simple, 28).astype(float)
    ink, when = ch[0, :, 14:].max(), ch[2, :, 14:].max()
    assert abs(when - (1 - 0.75 * 2 / 3) * ink) <= 1


def test_dedupe_by_key_id_keeps_the_first():
    a, b, c = _drawing([[[0, 1], [0, 1]]], "7"), _drawing([[[0, 2], [0, 2]]], "7"), _drawing([[[0, 3], [0, 3]]], "8")
    assert strokes.dedupe([a, b, c]) == [a, c]
    ss = strokes.collect(["bear", "apple"])
    keys = [d.key_id for d in ss.drawings]
    assert len(keys) == len(set(keys)) == 250 + 25 + sum(1 for _ in data.iter_drawings(data.strokes_path("apple", "raw")))\
        - len({d.key_id for d in data.iter_drawings(data.strokes_path("apple", "raw"))}
              & {d.key_id for d in data.iter_drawings(data.strokes_path("apple", "simplified"))})
    assert ss.kinds[:250] == ["first250"] * 250                      # first250 and simplified share 25 key_ids


def test_split_by_key_id_is_seeded_and_keeps_excluded_drawings_out_of_test():
    ss = strokes.collect(["bear", "dog"])
    tr, te = strokes.split(ss, seed=0)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(ss)
    assert np.array_equal(te, strokes.split(ss, seed=0)[1]) and not np.array_equal(te, strokes.split(ss, seed=1)[1])
    twins = strokes.bitmap_twins(ss)                 # dog's first rows are bundled bitmaps too
    assert len(twins) >= 20
    _, te2 = strokes.split(ss, seed=0, exclude_from_test=twins)
    assert not {ss.drawings[i].key_id for i in te2} & twins


def test_stroke_models_take_their_inputs():
    seq = torch.from_numpy(strokes.sequences([HAND] * 4, 32))
    assert models.build("rnn", 5)(seq).shape == (4, 5)
    ch = models.to_tensor(strokes.encode("channels", [HAND] * 2, 28))
    assert ch.shape == (2, 3, 28, 28) and models.build("cnn", 5, in_channels=3)(ch).shape == (2, 5)
    big = models.to_tensor(strokes.encode("image", [HAND] * 2, 64))
    assert big.shape == (2, 1, 64, 64) and models.build("cnn", 5, size=64)(big).shape == (2, 5)
    with pytest.raises(QDError, match="unknown input kind"):
        strokes.encode("audio", [HAND])
