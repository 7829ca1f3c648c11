"""Helpers the tests share (imported as `helpers`; tests/ is on pytest's pythonpath)."""
import contextlib
import gzip
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch

from qd.data import geometry

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]


def need_browser():
    """Skip unless Chromium and Playwright are here; fail instead when QD_REQUIRE_BROWSER=1 (CI)."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("QD_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium, driven by Playwright (imported only once `need_browser` passed)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def stop_group(proc, wait: float = 15) -> None:
    """Stop a server started in its own session (and its kernels): SIGTERM, then SIGKILL."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def write_ndjson(path: Path, lines: list) -> Path:
    """Write objects (or raw strings, written as they are) one per line."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `root`; `faults` maps a URL path to a list of what to do on each request:
    'ok', 'truncate' (send half the body under the full Content-Length), '500', 'reset', 'html', 'cut_lines',
    'slow', 'bad_length' (Content-Length: abc) or 'gzip' (a gzip-encoded body). A Range request is
    answered 206 with those bytes, as the official bucket answers it (`ranges` records each)."""
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
        elif action == "html":      # an error page with HTTP 200, as some proxies and portals send
            body = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif action == "cut_lines":  # half the lines, no Content-Length, connection closed
            body = Path(self.translate_path(self.path)).read_bytes()
            lines = body.splitlines(keepends=True)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"".join(lines[: len(lines) // 2]))
            self.wfile.flush()
            self.close_connection = True
        elif action == "slow":       # a trickle: every read succeeds, the whole never arrives
            body = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(0, min(len(body), 40)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.1)
            self.close_connection = True
        elif action in ("bad_length", "gzip"):   # Content-Length: abc; a gzip-encoded body
            body = Path(self.translate_path(self.path)).read_bytes()
            if action == "gzip":
                body = gzip.compress(body)
            self.send_response(200)
            self.send_header("Content-Length", "abc" if action == "bad_length" else str(len(body)))
            if action == "gzip":
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        elif self.headers.get("Range", "").startswith("bytes=") and Path(self.translate_path(self.path)).is_file():
            self.send_range()      # as the official bucket does: 206 with the asked bytes
        else:
            super().do_GET()

    def send_range(self):
        body = Path(self.translate_path(self.path)).read_bytes()
        first, _, last = self.headers["Range"][len("bytes="):].partition("-")
        first, last = int(first), min(int(last) if last else len(body) - 1, len(body) - 1)
        self.ranges.append((self.path, first, last))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        self.wfile.write(body[first:last + 1])


@contextlib.contextmanager
def serve(root: Path):
    """An HTTP server of `root` on 127.0.0.1 (a `Handler`): yields (base URL, the handler class, whose
    `faults` and `hits` the test sets and reads)."""
    handler = type("H", (Handler,), {"root": root, "faults": {}, "hits": [], "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def resave(src: Path, dst: Path, change) -> Path:
    """A copy of checkpoint `src` at `dst` with `change(checkpoint dict)` applied (its checksum kept)."""
    ck = torch.load(src, weights_only=True)
    change(ck)
    torch.save(ck, dst)
    return dst


def as_canvas(d):
    """The drawing as the canvas will record it (scaled as `draw` does), for picking examples."""
    return [xy.tolist() for xy in geometry.fit(d.strokes, 320, (40, 40))]


def draw(page, drawing, mode="free", margin=40, side=320, wait=True):
    """Replay a drawing's strokes with real mouse moves, scaled into the canvas."""
    from qd.app.playtest import pad_box
    box = pad_box(page, f".qd-{mode} canvas")
    for xy in geometry.fit(drawing.strokes, side, (box["x"] + 2 + margin, box["y"] + 2 + margin)):
        xs, ys = xy[0].tolist(), xy[1].tolist()
        page.mouse.move(xs[0], ys[0])
        page.mouse.down()
        for x, y in zip(xs[1:], ys[1:]):
            page.mouse.move(x, y)
        page.mouse.up()
    if wait and mode == "free":
        n = len(drawing.strokes)
        page.wait_for_function(
            f"document.querySelector('.qd-status') && document.querySelector('.qd-status').innerText.includes('({n} stroke')",
            timeout=30_000)
