"""The explorers without a browser: what a page, a filter, a click and a confusion cell give, and the
static picture a report keeps (the browser test, tests/app/test_lab_browser.py, runs them in JupyterLab)."""
import json

import nbformat
import numpy as np
import pytest

from qd import QDError
from qd.app import explore, latency, pictures
from qd.data import ndjson, render
from qd.report import pipeline


def test_a_click_maps_to_the_tile_under_it_and_a_gap_to_nothing():
    tile, cols = 56, 10
    pitch = tile + pictures.GAP
    assert pictures.tile_at(2 + 3 * pitch + 10, 2 + 1 * pitch + 50, tile, cols, 25) == 13
    assert pictures.tile_at(2 + tile + 1, 10, tile, cols, 25) is None          # the gap between two tiles
    assert pictures.tile_at(2 + 5 * pitch + 5, 2 + 2 * pitch + 5, tile, cols, 25) is None   # past the last drawing
    page = pictures.atlas(np.full((3, 8, 8), 255, np.uint8), 2, selected=1)
    assert page.shape == (2 * 10 + 2, 2 * 10 + 2, 3)
    assert (page[2:10, 2:10] == 0).all()                                       # ink dark on white
    assert tuple(page[0, 11]) == pictures.SELECTED                             # the selected tile framed


def test_the_confusion_picture_maps_every_cell_centre_back_to_its_cell():
    cm = np.arange(16).reshape(4, 4)
    pic = pictures.ConfusionPicture(cm, ["a", "bb", "ccc", "smiley face"])
    for i in range(4):
        for j in range(4):
            assert pic.cell_at(*pic.centre(i, j)) == (i, j)
    assert pic.cell_at(1, 1) is None
    assert pic.image().shape[0] == pic.margin + 4 * pic.cell + 1
    with pytest.raises(QDError, match=r"must be \(3, 3\)"):
        pictures.ConfusionPicture(np.zeros((2, 2)), ["a", "b", "c"])


def test_playback_keeps_a_raw_drawings_own_times_and_paces_one_without():
    raw = [np.array([[0, 100, 200], [0, 50, 0], [0, 400, 900]], np.float32),
           np.array([[0, 200], [200, 200], [2500, 3100]], np.float32)]
    frames = pictures.playback(raw, 300)
    assert [t for t, _, _ in frames] == [0, 400, 900, 2500, 3100]
    assert [s for _, s, _ in frames] == [0, 0, 0, 1, 1]
    last = frames[-1][2]
    assert last.min() >= 12 - 1e-6 and last.max() <= 300 - 12 + 1e-6          # inside the canvas margin
    plain = pictures.playback([r[:2] for r in raw], 300)
    assert [t for t, _, _ in plain] == [k * pictures.POINT_MS for k in range(5)]


def test_the_data_explorer_filters_pages_and_plays_a_drawing():
    ex = explore.DataExplorer("dog")
    everyone = explore._drawings("dog", "raw")
    assert len(ex.shown) == len(everyone) and f"of {len(everyone)}" in ex.status.value
    ex.recognized.value = "not recognised"
    wrong = [d for d in everyone if d.recognized is False]
    assert ex.shown == wrong and f"drawings 1-{len(wrong)} of {len(wrong)}" in ex.status.value
    ex.recognized.value = "any"
    country = next(d.countrycode for d in everyone if d.countrycode)
    ex.country.value = country
    assert ex.shown and all(d.countrycode == country for d in ex.shown)
    ex.country.value = explore.ANY
    ex.strokes.value = (1, 2)
    assert all(len(d.strokes) <= 2 for d in ex.shown)
    ex.strokes.value = (1, ex.strokes.max)
    pitch = ex.tile + pictures.GAP
    ex.click(2 + 2 * pitch + 5, 2 + 5)                                         # the third drawing
    d = ex.shown[2]
    assert ex.selected == 2 and d.key_id in ex.info.value
    assert f'data-stroke="{len(d.strokes)}" data-strokes="{len(d.strokes)}" data-done="1"' in ex.progress.value
    images = ex.page_images()        # the page is one batch on the renderer's atlas (within its anti-aliasing)
    np.testing.assert_allclose(images[2], render.render(d.strokes, size=ex.tile), atol=10)


def test_a_page_holds_at_most_page_size_drawings_and_turns():
    ex = explore.DataExplorer("bear", source="simplified", page_size=100)      # first250 and simplified
    total = len(explore._drawings("bear", "simplified"))
    assert total > 100 and len(ex.shown) == 100 and ex.prev.disabled and not ex.next.disabled
    ex.turn(+1)
    assert ex.page == 1 and len(ex.shown) == min(100, total - 100)
    ex.source.value = "bitmaps (28x28)"
    assert ex.shown == [] and "(0 bundled)" in ex.status.value                   # bears come as strokes only
    ex.word.value = "cat"
    assert ex.shown == list(range(100)) and ex.recognized.disabled and ex.page == 0
    with pytest.raises(QDError, match="word must be one of"):
        explore.DataExplorer("unicorn")


@pytest.fixture(scope="module")
def mx():
    """The shipped 13-class model on its test split (built once: it predicts 11,700 drawings)."""
    return explore.ModelExplorer.shipped("13 classes")


def test_a_confusion_cell_shows_its_own_drawings_with_the_models_top_3(mx):
    assert mx.cm.sum() == len(mx.y) and np.trace(mx.cm) == (mx.pred == mx.y).sum()
    off = mx.cm * (1 - np.eye(len(mx.classes), dtype=int))
    i, j = np.unravel_index(off.argmax(), off.shape)
    mx.click(*mx.picture.centre(i, j))
    assert mx.selected == (i, j)
    assert f'data-true="{mx.classes[i]}" data-predicted="{mx.classes[j]}"' in mx.cell_cards.value
    assert mx.cell_cards.value.count("<figure") == min(off[i, j], mx.max_cards)
    idx = mx.cell_indices(i, j)
    assert (mx.y[idx] == i).all() and (mx.pred[idx] == j).all()
    assert (np.diff(mx.probs[idx, j]) <= 0).all()                              # the surest first
    assert mx.mistakes_html().count("<figure") == min((mx.pred != mx.y).sum(), mx.max_cards)


def test_the_explorers_give_a_picture_of_their_first_view_and_the_report_shows_it(tmp_path):
    ex = explore.DataExplorer("cat")
    bundle = ex._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("DataExplorer()", outputs=[
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": bundle["application/vnd.jupyter.widget-view+json"],
            "image/png": pictures.data_url(bundle["image/png"]).split(",", 1)[1], "text/plain": "DataExplorer"})])])
    nbformat.write(nb, tmp_path / "x.ipynb")
    html = pipeline.to_html(tmp_path / "x.ipynb").read_text()
    assert '<img' in html and "data:image/png;base64," in html


def test_the_bench_prints_one_json_line(monkeypatch, capsys):
    monkeypatch.setattr(explore, "bench", lambda: {"grid_page_100_ms": 1.0, "confusion_click_ms": 2.0})
    assert explore.main(["--bench"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["confusion_click_ms"] == 2.0


def test_the_draw_tab_is_the_demos_free_draw_with_doodlenet_beside_ours(mx):
    mx.tabs.selected_index = 2
    pad = mx.pad
    assert mx.pad_box.children == (pad.widget,) and list(pad.second_models) == ["DoodleNet (345 classes, ml5)"]
    star = ndjson.load_drawings(ndjson.strokes_path("star"), limit=1)[0]
    latency.replay(pad, [s[:2].tolist() for s in star.strokes])
    assert pad.last_top and pad.last_top[0][0] == "star"
    assert "qd-bar" in pad.chart.value and "qd-bar" in pad.chart2.value          # both models' bars
