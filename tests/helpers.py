"""Helpers the tests share (imported as `helpers`; tests/ is on pytest's pythonpath)."""
import contextlib
import gzip
import http.server
import json
import threading
import time
from pathlib import Path

import torch


def write_ndjson(path: Path, lines: list) -> Path:
    """Write objects (or raw strings, written as they are) one per line."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves `root`; `faults` maps a URL path to a list of what to do on each request:
    'ok', 'truncate' (send half the body under the full Content-Length), '500', 'reset', 'html', 'cut_lines',
    'slow', 'bad_length' (Content-Length: abc) or 'gzip' (a gzip-encoded body)."""
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
        else:
            super().do_GET()


@contextlib.contextmanager
def serve(root: Path):
    """An HTTP server of `root` on 127.0.0.1 (a `Handler`): yields (base URL, the handler class, whose
    `faults` and `hits` the test sets and reads)."""
    handler = type("H", (Handler,), {"root": root, "faults": {}, "hits": []})
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
