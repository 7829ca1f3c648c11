"""Fetch official Quick, Draw! class files, for users who are online and want more than `data/`.

Files land in a cache folder in the official layout (`numpy_bitmap/<class>.npy`,
`simplified/<class>.ndjson`, `raw/<class>.ndjson`), so `qd.data.load_bitmaps(data_dir=...)` and
`qd.data.iter_drawings` read them directly. Each transfer goes to a temporary file and is renamed
into place only once complete and valid: a failed or truncated transfer leaves nothing behind, and
is retried from scratch a few times before a `QDError` says what happened.
"""
from __future__ import annotations

import http.client
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from qd.errors import QDError

OFFICIAL_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full"
KINDS = {"numpy_bitmap": ".npy", "simplified": ".ndjson", "raw": ".ndjson"}


def default_cache_dir() -> Path:
    """$QD_CACHE, else ~/.cache/quickdraw."""
    return Path(os.environ.get("QD_CACHE") or Path.home() / ".cache" / "quickdraw")


def class_url(name: str, kind: str = "numpy_bitmap", base_url: str | None = None) -> str:
    if kind not in KINDS:
        raise QDError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    base = (base_url or os.environ.get("QD_BASE_URL") or OFFICIAL_BASE_URL).rstrip("/")
    return f"{base}/{kind}/{urllib.parse.quote(name + KINDS[kind])}"


def _check_complete(path: Path, kind: str, url: str) -> None:
    """A downloaded file must parse: an .npy header matching its size, ndjson ending on a newline."""
    if kind == "numpy_bitmap":
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise QDError(f"{url}: downloaded file is not a complete .npy ({e})") from e
        if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 784:
            raise QDError(f"{url}: downloaded array has shape {a.shape} {a.dtype}, expected (N, 784) uint8")
    else:
        size = path.stat().st_size
        if size == 0:
            raise QDError(f"{url}: downloaded file is empty")
        with open(path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                raise QDError(f"{url}: downloaded ndjson does not end with a newline (truncated?)")


def _fetch_once(url: str, dest: Path, kind: str, timeout: float, progress: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
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
                got = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
                          leave=False) as bar:
                    while True:
                        try:
                            chunk = resp.read(1 << 16)
                        except (OSError, http.client.HTTPException) as e:  # reset, IncompleteRead
                            raise QDError(f"{url}: transfer broke off after {got} bytes ({e})") from e
                        if not chunk:
                            break
                        out.write(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                if total is not None and got != total:
                    raise QDError(f"{url}: truncated transfer, got {got} of {total} bytes")
        _check_complete(Path(tmp), kind, url)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(classes: Sequence[str] | str, kind: str = "numpy_bitmap", cache_dir: str | Path | None = None,
             base_url: str | None = None, retries: int = 3, timeout: float = 60.0, force: bool = False,
             progress: bool = True) -> list[Path]:
    """Download the official `kind` file of each class into `cache_dir/kind/`; return their paths.

    Files already in the cache are kept (unless `force`). Each failed try is retried from scratch
    (`retries` tries in all, with a short pause); the last failure raises a `QDError`.
    """
    if isinstance(classes, str):
        classes = [classes]
    if retries < 1:
        raise QDError(f"retries must be >= 1, got {retries}")
    folder = Path(cache_dir or default_cache_dir()) / kind
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in tqdm(classes, desc=f"download {kind}", disable=not progress or len(classes) < 2):
        url = class_url(name, kind, base_url)
        dest = folder / f"{name}{KINDS[kind]}"
        if force or not dest.is_file():
            for attempt in range(1, retries + 1):
                try:
                    _fetch_once(url, dest, kind, timeout, progress)
                    break
                except QDError as e:
                    if attempt == retries or "HTTP 404" in str(e):
                        raise QDError(f"{e} (gave up after {attempt} tr{'y' if attempt == 1 else 'ies'})") from e
                    time.sleep(0.2 * attempt)
        paths.append(dest)
    return paths
