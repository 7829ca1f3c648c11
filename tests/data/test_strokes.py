"""The bundled stroke drawings as one set: dedupe by key_id, twins of bitmap rows."""
import numpy as np
import pytest

from qd import QDError
from qd.data import ndjson, strokes
from qd.data.ndjson import Drawing


def _drawing(strokes_, key="1"):
    return Drawing(word="x", strokes=[np.asarray(s, np.float32) for s in strokes_], key_id=key)


def test_dedupe_by_key_id_keeps_the_first():
    a, b, c = _drawing([[[0, 1], [0, 1]]], "7"), _drawing([[[0, 2], [0, 2]]], "7"), _drawing([[[0, 3], [0, 3]]], "8")
    assert strokes.dedupe([a, b, c]) == [a, c]
    ss = strokes.collect(["bear", "apple"])
    keys = [d.key_id for d in ss.drawings]
    assert len(keys) == len(set(keys)) == 250 + 25 + sum(1 for _ in ndjson.iter_drawings(ndjson.strokes_path("apple", "raw")))\
        - len({d.key_id for d in ndjson.iter_drawings(ndjson.strokes_path("apple", "raw"))}
              & {d.key_id for d in ndjson.iter_drawings(ndjson.strokes_path("apple", "simplified"))})
    assert ss.kinds[:250] == ["first250"] * 250                      # first250 and simplified share 25 key_ids


def test_match_official_finds_the_pairs(official_pairs):
    fish = [(r, b) for r, b in official_pairs if r["word"] == "fish" and r["kind"] == "simplified"]
    rows, bitmaps = [r for r, _ in fish], np.stack([b for _, b in fish])
    matches = strokes.match_official([r["drawing"] for r in rows], bitmaps)
    assert [(i, j) for i, j, _ in matches] == [(i, i) for i in range(len(rows))]
    # an unrelated class matches nothing
    stars = ndjson.load_drawings(ndjson.strokes_path("star"), limit=5)
    assert strokes.match_official(stars, bitmaps) == []


def test_collecting_no_classes_says_so():
    """(issue 24, point 12) collect([]) said "no bundled stroke drawings of " (of nothing)."""
    with pytest.raises(QDError, match="classes must name at least 1, got 0"):
        strokes.collect([])
    with pytest.raises(QDError, match="classes names 'bear' more than once"):
        strokes.collect(["bear", "bear"])
