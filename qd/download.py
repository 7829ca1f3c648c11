"""Fetch official Quick, Draw! class files, for users who are online and want more than `data/`.

Files land in a cache folder in the official layout (`numpy_bitmap/<class>.npy`,
`simplified/<class>.ndjson`, `raw/<class>.ndjson`), so `qd.data.load_bitmaps(data_dir=...)` and
`qd.data.iter_drawings` read them directly. Each transfer goes to a temporary file and is renamed
into place only once complete and valid: a failed or truncated transfer leaves nothing behind, and
is retried from scratch a few times before a `QDError` says what happened.
"""
from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from qd import atomic, data
from qd.errors import QDDataWarning, QDError

OFFICIAL_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full"
KINDS = {"numpy_bitmap": ".npy", "simplified": ".ndjson", "raw": ".ndjson"}


def default_cache_dir() -> Path:
    """$QD_CACHE, else ~/.cache/quickdraw."""
    return Path(os.environ.get("QD_CACHE") or Path.home() / ".cache" / "quickdraw")


def check_class_name(name: str) -> str:
    """A class name becomes a file name: no path separators, no hidden or parent names."""
    if not isinstance(name, str) or not name.strip() or any(ch in name for ch in "/\\\0") \
            or name.startswith(".") or name != name.strip():
        raise QDError(f"bad class name {name!r}: it must be a plain name, e.g. 'smiley face' "
                      "(no path separators, no leading dot or spaces)")
    return name


def class_url(name: str, kind: str = "numpy_bitmap", base_url: str | None = None) -> str:
    if kind not in KINDS:
        raise QDError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    check_class_name(name)
    base = (base_url or os.environ.get("QD_BASE_URL") or OFFICIAL_BASE_URL).rstrip("/")
    return f"{base}/{kind}/{urllib.parse.quote(name + KINDS[kind])}"


def _last_line(path: Path) -> bytes:
    """The last non-empty line of a file, read from the end (bounded by the line-length cap)."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        block, buf = 1 << 16, b""
        pos = end
        while pos > 0 and len(buf) <= data.MAX_LINE_BYTES:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            if buf.rstrip(b"\n").count(b"\n") >= 1:
                break
    return buf.rstrip(b"\n").rsplit(b"\n", 1)[-1]


def check_file(path: Path, kind: str, name: str, where: str | None = None) -> None:
    """Cheap validation of a downloaded or cached class file, without reading it whole.

    .npy: a header matching the file size, uint8 (N, 784). ndjson: ends with a newline, and its
    first and last lines parse as drawings of class `name` (an HTML error page served with HTTP
    200, or another class's file, fails here)."""
    where = where or str(path)
    if kind == "numpy_bitmap":
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError, MemoryError) as e:
            raise QDError(f"{where}: not a complete .npy ({e})") from e
        if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 784:
            raise QDError(f"{where}: array has shape {a.shape} {a.dtype}, expected (N, 784) uint8")
        return
    size = path.stat().st_size
    if size == 0:
        raise QDError(f"{where}: file is empty")
    with open(path, "rb") as f:
        first = f.readline(data.MAX_LINE_BYTES)
        f.seek(size - 1)
        if f.read(1) != b"\n":
            raise QDError(f"{where}: ndjson does not end with a newline (truncated?)")
    for label, line in (("first", first), ("last", _last_line(path))):
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            head = line[:60].decode("utf-8", "replace")
            raise QDError(f"{where}: {label} line is not Quick, Draw! ndjson (starts {head!r}); "
                          "an error page served as data?") from e
        d = data.parse_drawing(obj, f"{where}: {label} line")
        if d.word != name:
            raise QDError(f"{where}: {label} line is a drawing of {d.word!r}, expected {name!r}")


def _fetch_once(url: str, dest: Path, kind: str, name: str, timeout: float, deadline: float,
                progress: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    stop_at = time.monotonic() + deadline
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                resp = urllib.request.urlopen(url, timeout=timeout)
            except urllib.error.HTTPError as e:
                raise QDError(f"{url}: HTTP {e.code} {e.reason}") from e
            except (urllib.error.URLError, OSError) as e:
                raise QDError(f"{url}: cannot connect ({getattr(e, 'reason', e)})") from e
            with resp:
                total = resp.headers.get("Content-Length")
                total = int(total) if total is not None else None
                chunked = "chunked" in (resp.headers.get("Transfer-Encoding") or "").lower()
                got = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
                          leave=False) as bar:
                    while True:
                        if time.monotonic() > stop_at:
                            raise QDError(f"{url}: not complete after {deadline:.0f} s "
                                          f"({got} bytes); giving up on this try")
                        try:
                            chunk = resp.read1(1 << 16)  # what has arrived: a trickle cannot hold us
                        except (OSError, http.client.HTTPException) as e:  # reset, IncompleteRead
                            raise QDError(f"{url}: transfer broke off after {got} bytes ({e})") from e
                        if not chunk:
                            break
                        out.write(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                if total is not None and got != total:
                    raise QDError(f"{url}: truncated transfer, got {got} of {total} bytes")
                if total is None and not chunked:
                    _confirm_length(url, got, timeout)
        check_file(Path(tmp), kind, name, where=url)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _confirm_length(url: str, got: int, timeout: float) -> None:
    """A body with neither Content-Length nor chunked framing ends when the connection closes, so a
    cut at a line boundary looks complete. Ask for the size with HEAD; without one, refuse."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as r:
            size = r.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        size = None
    if size is None:
        raise QDError(f"{url}: the server sent no Content-Length, so a cut transfer cannot be told "
                      f"from a complete one ({got} bytes received); use a mirror that sends it")
    if int(size) != got:
        raise QDError(f"{url}: truncated transfer, got {got} of {size} bytes")


def _remove_stale_parts(folder: Path, dest: Path) -> None:
    """Temporary files of this class left by a killed process."""
    for p in folder.glob(f".{glob.escape(dest.name)}.*.part"):
        with contextlib.suppress(OSError):
            p.unlink()


def download(classes: Sequence[str] | str, kind: str = "numpy_bitmap", cache_dir: str | Path | None = None,
             base_url: str | None = None, retries: int = 3, timeout: float = 60.0, force: bool = False,
             progress: bool = True, deadline: float = 3600.0) -> list[Path]:
    """Download the official `kind` file of each class into `cache_dir/kind/`; return their paths.

    Files already in the cache are checked cheaply (`check_file`) and kept if sound, fetched again
    if not (or if `force`). Each failed try is retried from scratch (`retries` tries in all, with a
    short pause); the last failure raises a `QDError`. `timeout` bounds each read, `deadline` each
    file's whole transfer.
    """
    if isinstance(classes, str):
        classes = [classes]
    if retries < 1:
        raise QDError(f"retries must be >= 1, got {retries}")
    if kind not in KINDS:
        raise QDError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    for name in classes:
        check_class_name(name)
    folder = Path(cache_dir or default_cache_dir()) / kind
    atomic.ensure_writable_dir(folder, "download cache")
    paths = []
    for name in tqdm(classes, desc=f"download {kind}", disable=not progress or len(classes) < 2):
        url = class_url(name, kind, base_url)
        dest = folder / f"{name}{KINDS[kind]}"
        _remove_stale_parts(folder, dest)
        if dest.is_file() and not force:
            try:
                check_file(dest, kind, name)
            except QDError as e:
                warnings.warn(f"cached file is bad, fetching it again: {e}", QDDataWarning, stacklevel=2)
                dest.unlink()
        if force or not dest.is_file():
            for attempt in range(1, retries + 1):
                try:
                    _fetch_once(url, dest, kind, name, timeout, deadline, progress)
                    break
                except QDError as e:
                    if attempt == retries or "HTTP 404" in str(e):
                        raise QDError(f"{e} (gave up after {attempt} tr{'y' if attempt == 1 else 'ies'})") from e
                    time.sleep(0.2 * attempt)
        paths.append(dest)
    return paths
