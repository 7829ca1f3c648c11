import numpy as np
import pytest

from qd import QDError, data, render


def _mae(a, b):
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_renderer_matches_official_bitmaps(official_pairs):
    """Same drawings, our rendering vs Google's numpy_bitmap: close to pixel-exact."""
    errs = {"simplified": [], "raw": []}
    for row, official in official_pairs:
        errs[row["kind"]].append(_mae(render.render(row["drawing"]), official))
    assert len(errs["simplified"]) >= 20 and len(errs["raw"]) >= 20
    # measured: simplified ~1.1, raw ~2.5 (raw strokes are not RDP-simplified); unrelated doodles > 8
    assert np.mean(errs["simplified"]) < 2.0
    assert np.mean(errs["raw"]) < 3.5
    assert max(max(v) for v in errs.values()) < 6.0


def test_match_official_finds_the_pairs(official_pairs):
    fish = [(r, b) for r, b in official_pairs if r["word"] == "fish" and r["kind"] == "simplified"]
    rows, bitmaps = [r for r, _ in fish], np.stack([b for _, b in fish])
    matches = render.match_official([r["drawing"] for r in rows], bitmaps)
    assert [(i, j) for i, j, _ in matches] == [(i, i) for i in range(len(rows))]
    # an unrelated class matches nothing
    stars = data.load_drawings(data.strokes_path("star"), limit=5)
    assert render.match_official(stars, bitmaps) == []


def test_render_output_and_invariances():
    d = data.load_drawings(data.strokes_path("bicycle"), limit=1)[0]
    img = render.render(d)
    assert img.shape == (28, 28) and img.dtype == np.uint8 and img.max() == 255
    assert img[0].max() == 0 and img[-1].max() == 0  # padding on every side
    # position and scale of the input do not matter (canvas pixels, raw screen coords...)
    moved = [s * 3.7 + np.array([[120.0], [-40.0]]) for s in d.strokes]
    assert _mae(render.render(moved), img) < 0.5
    # plain lists in the official layout, as the demo records them
    assert _mae(render.render([s.tolist() for s in d.strokes]), img) == 0.0
    assert render.render(d, size=64).shape == (64, 64)


def test_dot_strokes_and_straight_lines_render():
    # a horizontal line has zero height but a width: fine; a one-point stroke next to it is a dot
    img = render.render([[[0, 100], [50, 50]], [[50], [80]]])
    assert img.max() == 255
    rows = np.nonzero(img.max(axis=1))[0]
    assert len(rows) >= 2  # line and dot


@pytest.mark.parametrize("strokes,message", [
    ([], "empty drawing"),
    ([[[5], [5]]], "single point"),
    ([[[5, 5, 5], [7, 7, 7]], [[5], [7]]], "zero-size bounding box"),
    ([[[1, 2, 3]]], r"stroke 0 has shape \(1, 3\)"),
    ([[[0, np.nan], [0, 1]]], "non-finite"),
])
def test_render_bad_input(strokes, message):
    with pytest.raises(QDError, match=message):
        render.render(strokes, where="my.ndjson:7")
    with pytest.raises(QDError, match="my.ndjson:7"):
        render.render(strokes, where="my.ndjson:7")
