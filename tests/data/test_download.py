"""The download path, against a local HTTP server on 127.0.0.1 in the official layout."""
import gzip
import io
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import serve

from qd import QDDataWarning, QDError
from qd.data import bitmaps, download, ndjson


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "remote"
    (root / "numpy_bitmap").mkdir(parents=True)
    (root / "simplified").mkdir()
    rows = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "smiley face.npz", 300).reshape(300, 784)
    np.save(root / "numpy_bitmap" / "smiley face.npy", rows)
    buf = io.BytesIO()
    np.save(buf, rows[:, :700])
    (root / "numpy_bitmap" / "wrong.npy").write_bytes(buf.getvalue())
    (root / "simplified" / "star.ndjson").write_bytes(
        gzip.decompress(ndjson.strokes_path("star").read_bytes()))
    with serve(root) as (url, handler):
        yield url, handler, rows


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_download_official_layout_and_load(server, tmp_path):
    url, handler, rows = server
    cache = tmp_path / "cache"
    [p] = download.download("smiley face", cache_dir=cache, base_url=url, progress=False)
    assert p == cache / "numpy_bitmap" / "smiley face.npy"
    assert handler.hits == ["/numpy_bitmap/smiley%20face.npy"]
    b = bitmaps.load_bitmaps(["smiley face"], per_class=100, data_dir=cache / "numpy_bitmap")
    np.testing.assert_array_equal(b.X.reshape(100, 784), rows[:100])
    # cached: a second call does not fetch again
    download.download(["smiley face"], cache_dir=cache, base_url=url, progress=False)
    assert len(handler.hits) == 1
    [s] = download.download("star", kind="simplified", cache_dir=cache, base_url=url, progress=False)
    assert len(ndjson.load_drawings(s)) == 25


def test_http_error_is_clear_and_leaves_nothing(server, tmp_path):
    url, handler, _ = server
    with pytest.raises(QDError, match=r"numpy_bitmap/cannon.npy: HTTP 404.*gave up after 1 try"):
        download.download("cannon", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert _leftovers(tmp_path / "c") == []
    handler.faults["/numpy_bitmap/smiley%20face.npy"] = ["500", "500", "500"]
    with pytest.raises(QDError, match=r"HTTP 500.*gave up after 3 tries"):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert _leftovers(tmp_path / "c") == []


@pytest.mark.parametrize("fault", ["truncate", "reset"])
def test_truncated_transfer_leaves_no_partial_file(server, tmp_path, fault):
    url, handler, _ = server
    handler.faults["/numpy_bitmap/smiley%20face.npy"] = [fault] * 2
    with pytest.raises(QDError, match=r"smiley%20face.npy: (truncated transfer, got \d+ of \d+ bytes"
                                      r"|transfer broke off)"):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, retries=2, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_failed_try_is_retried_cleanly(server, tmp_path):
    url, handler, rows = server
    handler.faults["/numpy_bitmap/smiley%20face.npy"] = ["truncate", "500"]
    [p] = download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert len(handler.hits) == 3
    np.testing.assert_array_equal(np.load(p), rows)
    assert _leftovers(tmp_path / "c") == ["smiley face.npy"]


def test_wrong_content_is_rejected(server, tmp_path):
    url, _, _ = server
    with pytest.raises(QDError, match=r"wrong.npy: array has shape \(300, 700\)"):
        download.download("wrong", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_no_server_is_a_clear_error(tmp_path):
    with pytest.raises(QDError, match=r"cannot connect"):
        download.download("cat", cache_dir=tmp_path, base_url="http://127.0.0.1:9", retries=1,
                          progress=False, timeout=5)


def test_urls_and_cache_dir(monkeypatch, tmp_path):
    assert download.class_url("smiley face") == \
        "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/smiley%20face.npy"
    assert download.class_url("cat", "simplified", "http://x/y/") == "http://x/y/simplified/cat.ndjson"
    monkeypatch.setenv("QD_CACHE", str(tmp_path))
    assert download.default_cache_dir() == tmp_path
    with pytest.raises(QDError, match="unknown kind 'bitmaps'"):
        download.class_url("cat", "bitmaps")


# ----------------------------------------------------------------------------- content checks

def test_html_error_page_served_as_ndjson_is_refused(server, tmp_path):
    url, handler, _ = server
    handler.faults["/simplified/star.ndjson"] = ["html"]
    with pytest.raises(QDError, match=r"star.ndjson: first line is not Quick, Draw! ndjson .*'<!DOCTYPE html>"):
        download.download("star", "simplified", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_body_cut_at_a_line_boundary_without_length_is_refused(server, tmp_path):
    url, handler, _ = server
    handler.faults["/simplified/star.ndjson"] = ["cut_lines"]
    with pytest.raises(QDError, match=r"star.ndjson: truncated transfer, got \d+ of \d+ bytes"):
        download.download("star", "simplified", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_another_class_served_under_the_name_is_refused(server, tmp_path):
    url, handler, _ = server
    remote = Path(handler.root)
    (remote / "simplified" / "cat.ndjson").write_bytes((remote / "simplified" / "star.ndjson").read_bytes())
    with pytest.raises(QDError, match=r"first line is a drawing of 'star', expected 'cat'"):
        download.download("cat", "simplified", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)


def test_a_bad_cached_file_is_fetched_again(server, tmp_path):
    url, handler, _ = server
    cache = tmp_path / "c" / "simplified"
    cache.mkdir(parents=True)
    (cache / "star.ndjson").write_text("<html>gateway timeout</html>\n")
    with pytest.warns(QDDataWarning, match="cached file is bad"):
        [p] = download.download("star", "simplified", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert len(ndjson.load_drawings(p)) == 25 and handler.hits == ["/simplified/star.ndjson"]
    with warnings.catch_warnings():      # now sound: served from the cache, checked, not fetched
        warnings.simplefilter("error")
        download.download("star", "simplified", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert len(handler.hits) == 1


def test_a_part_file_left_by_a_killed_process_is_no_class_and_is_cleaned(server, tmp_path):
    url, _, _ = server
    cache = tmp_path / "c" / "simplified"
    cache.mkdir(parents=True)
    (cache / ".star.ndjson.k2j3h4.part").write_text('{"word": "star", "drawing": [[[0, 1], [0')
    assert ndjson.stroke_classes(".", strokes_dir=cache) == []
    download.download("star", "simplified", cache_dir=tmp_path / "c", base_url=url, progress=False)
    assert _leftovers(tmp_path / "c") == ["star.ndjson"]
    assert ndjson.stroke_classes(".", strokes_dir=cache) == ["star"]


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "a\\b", ".hidden", "", " cat", "nul\0"])
def test_class_names_with_path_parts_are_refused(name, tmp_path):
    with pytest.raises(QDError, match="bad class name"):
        download.download(name, cache_dir=tmp_path, base_url="http://127.0.0.1:9", progress=False)
    assert not any(tmp_path.rglob("*.npy"))


def test_a_trickle_hits_the_per_file_deadline(server, tmp_path):
    url, handler, _ = server
    handler.faults["/numpy_bitmap/smiley%20face.npy"] = ["slow"]
    t = time.monotonic()
    with pytest.raises(QDError, match=r"not complete after 1 s"):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False,
                          timeout=5, deadline=1)
    assert time.monotonic() - t < 4
    assert _leftovers(tmp_path / "c") == []
