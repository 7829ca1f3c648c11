"""The download path, against a local HTTP server on 127.0.0.1 in the official layout."""
import errno
import gzip
import io
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import serve

from qd import QDDataWarning, QDError
from qd.data import bitmaps, download, filecheck, ndjson


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


# ----------------------------------------------------------------------------- reliability, round two

def test_a_full_disk_during_the_transfer_is_a_clear_error_and_leaves_nothing(server, tmp_path, monkeypatch):
    url, _, _ = server
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(download.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(QDError, match=r"smiley face.npy: cannot write the download \(No space left on device\)"):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_a_corrupt_byte_in_a_cached_npy_header_is_fetched_again(server, tmp_path):
    url, _, rows = server
    [p] = download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, progress=False)
    raw = bytearray(p.read_bytes())
    raw[raw.index(b"'shape'") + 2] = ord("(")          # a byte of the header's dict literal
    p.write_bytes(bytes(raw))
    with pytest.raises(QDError, match="not a complete .npy"):
        filecheck.check_file(p, "numpy_bitmap", "smiley face")
    with pytest.raises(QDError, match="not a valid numpy file"):
        bitmaps.read_bitmap_file(p)
    with pytest.warns(QDDataWarning, match="cached file is bad"):
        [p] = download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, progress=False)
    np.testing.assert_array_equal(np.load(p), rows)


def test_another_live_runs_part_file_is_left_alone(server, tmp_path):
    """Two downloads into one cache: each keeps its own part file; a dead run's is cleaned."""
    url, _, _ = server
    cache = tmp_path / "c" / "numpy_bitmap"
    cache.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = cache / f".smiley face.npy.{other.pid}.x1.part"
        dead = cache / ".smiley face.npy.999999999.x2.part"
        live.write_bytes(b"in progress")
        dead.write_bytes(b"left by a killed run")
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, progress=False)
        assert live.read_bytes() == b"in progress" and not dead.exists()
    finally:
        other.kill()
        other.wait()


def test_the_same_class_twice_with_two_workers_is_fetched_once(server, tmp_path):
    url, handler, _ = server
    paths = download.download(["smiley face", "smiley face"], cache_dir=tmp_path / "c", base_url=url, workers=2,
                              progress=False)
    assert paths[0] == paths[1] and handler.hits == ["/numpy_bitmap/smiley%20face.npy"]


@pytest.mark.parametrize("fault,message", [("bad_length", r"bad Content-Length \('abc'\)"),
                                           ("gzip", r"gzip-encoded \(Content-Encoding: gzip\)"),
                                           ("html", r"not a .npy file \(it starts with '<!DOCTYPE html>")])
def test_a_misbehaving_server_is_named(server, tmp_path, fault, message):
    url, handler, _ = server
    handler.faults["/numpy_bitmap/smiley%20face.npy"] = [fault]
    with pytest.raises(QDError, match=message):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, retries=1, progress=False)
    assert _leftovers(tmp_path / "c") == []


def test_bad_arguments_are_named_before_anything_is_fetched(tmp_path):
    with pytest.raises(QDError, match="bad base URL 'not a url'"):
        download.download("cat", cache_dir=tmp_path, base_url="not a url", progress=False)
    with pytest.raises(QDError, match="no classes to download"):
        download.download([], cache_dir=tmp_path, base_url="http://127.0.0.1:9", progress=False)
    (tmp_path / "numpy_bitmap" / "cat.npy").mkdir(parents=True)
    with pytest.raises(QDError, match=r"cat.npy: is a folder"):
        download.download("cat", cache_dir=tmp_path, base_url="http://127.0.0.1:9", progress=False)


@pytest.mark.parametrize("classes", ["", ",,"])
def test_the_cli_refuses_an_empty_class_list(classes, capsys):
    assert download.main(["--classes", classes, "--base-url", "http://127.0.0.1:9"]) == 1
    assert "no classes to download" in capsys.readouterr().err


def test_the_cli_says_what_was_kept_when_interrupted(monkeypatch, capsys):
    def interrupted(*a, **kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(download, "download", interrupted)
    assert download.main(["--classes", "cat"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "rerun" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- reliability, round three

def test_per_class_downloads_use_a_range_request_and_keep_only_those_rows(server, tmp_path):
    """(issue 24, point 16) the HTTP 206 path: the test server now answers Range as the bucket does."""
    url, handler, rows = server
    [p] = download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, per_class=10, progress=False)
    assert handler.ranges == [("/numpy_bitmap/smiley%20face.npy", 0, filecheck.NPY_HEADER_MAX + 10 * 784 - 1)]
    np.testing.assert_array_equal(np.load(p), rows[:10])
    assert p.parent.name == "numpy_bitmap-first10"


def test_a_broken_npy_header_on_the_range_path_is_named(server, tmp_path):
    """(issue 24, point 6) --per-class raised a raw tokenize.TokenError (the full download was fixed)."""
    url, handler, _ = server
    f = tmp_path / "remote" / "numpy_bitmap" / "smiley face.npy"
    raw = bytearray(f.read_bytes())
    raw[raw.index(b"'shape'") + 2] = ord("(")
    f.write_bytes(bytes(raw))
    with pytest.raises(QDError, match=r"smiley%20face.npy: not an .npy file \(broken header"):
        download.download("smiley face", cache_dir=tmp_path / "c", base_url=url, per_class=10, retries=1,
                          progress=False)
    assert handler.ranges and _leftovers(tmp_path / "c") == []


@pytest.mark.parametrize("kw,message", [({"timeout": -1}, "timeout must be a finite number"),
                                        ({"timeout": 0}, "timeout must be a finite number"),
                                        ({"timeout": float("nan")}, "timeout must be a finite number"),
                                        ({"deadline": 0}, "deadline must be a finite number"),
                                        ({"retries": 2.5}, "retries must be a whole number"),
                                        ({"workers": True}, "workers must be a whole number")])
def test_timeouts_and_counts_are_checked_before_connecting(tmp_path, kw, message):
    """(issue 24, point 6) timeout=-1 was a raw ValueError, timeout=0 'Errno 115 Operation now in progress'."""
    with pytest.raises(QDError, match=message):
        download.download("cat", cache_dir=tmp_path, base_url="http://127.0.0.1:9", progress=False, **kw)
