"""The download path, against a local HTTP server on 127.0.0.1 in the official layout."""
import gzip
import http.server
import io
import threading
from pathlib import Path

import numpy as np
import pytest

from qd import QDError, data, download


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `root`; `faults` maps a URL path to a list of what to do on each request:
    'ok', 'truncate' (send half the body under the full Content-Length), '500' or 'reset'."""
    root: Path
    faults: dict
    hits: list

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=str(self.root), **kw)

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.hits.append(self.path)
        plan = self.faults.get(self.path)
        action = plan.pop(0) if plan else "ok"
        if action == "500":
            self.send_error(500, "Internal Server Error")
        elif action in ("truncate", "reset"):
            body = (Path(self.translate_path(self.path))).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if action == "truncate" else b"")
            self.wfile.flush()
            self.close_connection = True
        else:
            super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "remote"
    (root / "numpy_bitmap").mkdir(parents=True)
    (root / "simplified").mkdir()
    rows = data.read_bitmap_file(data.BITMAP_DIR / "smiley face.npz", 300).reshape(300, 784)
    np.save(root / "numpy_bitmap" / "smiley face.npy", rows)
    buf = io.BytesIO()
    np.save(buf, rows[:, :700])
    (root / "numpy_bitmap" / "wrong.npy").write_bytes(buf.getvalue())
    (root / "simplified" / "star.ndjson").write_bytes(
        gzip.decompress(data.strokes_path("star").read_bytes()))
    handler = type("H", (Handler,), {"root": root, "faults": {}, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler, rows
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_download_official_layout_and_load(server, tmp_path):
    url, handler, rows = server
    cache = tmp_path / "cache"
    [p] = download.download("smiley face", cache_dir=cache, base_url=url, progress=False)
    assert p == cache / "numpy_bitmap" / "smiley face.npy"
    assert handler.hits == ["/numpy_bitmap/smiley%20face.npy"]
    b = data.load_bitmaps(["smiley face"], per_class=100, data_dir=cache / "numpy_bitmap")
    np.testing.assert_array_equal(b.X.reshape(100, 784), rows[:100])
    # cached: a second call does not fetch again
    download.download(["smiley face"], cache_dir=cache, base_url=url, progress=False)
    assert len(handler.hits) == 1
    [s] = download.download("star", kind="simplified", cache_dir=cache, base_url=url, progress=False)
    assert len(data.load_drawings(s)) == 25


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
    with pytest.raises(QDError, match=r"wrong.npy: downloaded array has shape \(300, 700\)"):
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
