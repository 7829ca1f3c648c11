"""Fetch official Quick, Draw! class files, for users who are online and want more than `data/`.

Files land in a cache folder in the official layout (`numpy_bitmap/<class>.npy`,
`simplified/<class>.ndjson`, `raw/<class>.ndjson`), so `qd.data.bitmaps.load_bitmaps(data_dir=...)` and
`qd.data.ndjson.iter_drawings` read them directly. Each transfer goes to a temporary file and is renamed
into place only once complete and valid: a failed or truncated transfer leaves nothing behind, and
is retried from scratch a few times before a `QDError` says what happened.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from qd import atomic, checks
from qd.data import bitmaps, filecheck
from qd.errors import QDDataWarning, QDError

OFFICIAL_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full"
KINDS = {"numpy_bitmap": ".npy", "simplified": ".ndjson", "raw": ".ndjson"}


def default_cache_dir() -> Path:
    """$QD_CACHE, else ~/.cache/quickdraw."""
    return Path(os.environ.get("QD_CACHE") or Path.home() / ".cache" / "quickdraw")


def class_url(name: str, kind: str = "numpy_bitmap", base_url: str | None = None) -> str:
    if kind not in KINDS:
        raise QDError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    bitmaps.check_class_name(name)
    base = (base_url or os.environ.get("QD_BASE_URL") or OFFICIAL_BASE_URL).rstrip("/")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise QDError(f"bad base URL {base!r}: expected http(s)://host/path (a mirror with the official layout)")
    return f"{base}/{kind}/{urllib.parse.quote(name + KINDS[kind])}"


def _fetch_once(url: str, dest: Path, kind: str, name: str, timeout: float, deadline: float,
                progress: bool, per_class: int | None = None) -> None:
    """One try: stream `url` to a temporary file beside `dest`, check it, rename it into place.
    With `per_class`, only the first rows (npy) or lines (ndjson) are fetched (a Range request
    where the server supports it) and saved as a complete file of that many drawings."""
    fd, tmp = atomic.temp_beside(dest)
    stop_at = time.monotonic() + deadline
    want = None                      # bytes enough for `per_class` drawings, once known
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url)
            if per_class and kind == "numpy_bitmap":
                req.add_header("Range", f"bytes=0-{filecheck.NPY_HEADER_MAX + per_class * 784 - 1}")
            try:
                resp = urllib.request.urlopen(req, timeout=timeout)
            except urllib.error.HTTPError as e:
                raise QDError(f"{url}: HTTP {e.code} {e.reason}") from e
            except (urllib.error.URLError, OSError) as e:
                raise QDError(f"{url}: cannot connect ({getattr(e, 'reason', e)})") from e
            with resp:
                partial = resp.status == 206
                encoding = (resp.headers.get("Content-Encoding") or "identity").lower()
                if encoding not in ("identity", ""):
                    raise QDError(f"{url}: the server sent the file {encoding}-encoded (Content-Encoding: {encoding}); "
                                  "official mirrors send it as it is: use one that does")
                total = resp.headers.get("Content-Length")
                if total is not None and not total.strip().isdigit():
                    raise QDError(f"{url}: the server sent a bad Content-Length ({total[:40]!r})")
                total = int(total) if total is not None else None
                chunked = "chunked" in (resp.headers.get("Transfer-Encoding") or "").lower()
                got, lines, head = 0, 0, b""
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
                        if per_class and kind != "numpy_bitmap":
                            nl = chunk.count(b"\n")
                            if lines + nl >= per_class:          # cut after the per_class-th line
                                cut = -1
                                for _ in range(per_class - lines):
                                    cut = chunk.index(b"\n", cut + 1)
                                chunk, lines = chunk[:cut + 1], per_class
                            else:
                                lines += nl
                        try:
                            out.write(chunk)
                        except OSError as e:
                            raise QDError(f"{dest}: cannot write the download ({e.strerror or e}); "
                                          "nothing was kept") from e
                        got += len(chunk)
                        bar.update(len(chunk))
                        if per_class and kind == "numpy_bitmap" and want is None and len(head) < filecheck.NPY_HEADER_MAX:
                            head += chunk[:filecheck.NPY_HEADER_MAX]
                            want = filecheck.npy_bytes_for(head, per_class, url)
                        if per_class and ((want is not None and got >= want) or lines >= per_class):
                            break                                  # enough: stop reading the rest
                complete = not per_class or (want is None and lines < per_class)  # read to the end
                if complete and not partial:
                    if total is not None and got != total:
                        raise QDError(f"{url}: truncated transfer, got {got} of {total} bytes")
                    if total is None and not chunked:
                        _confirm_length(url, got, timeout)
        if per_class and kind == "numpy_bitmap":
            filecheck.trim_npy(Path(tmp), per_class, url)
        filecheck.check_file(Path(tmp), kind, name, where=url)
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


def cache_folder(kind: str, per_class: int | None = None, cache_dir: str | Path | None = None) -> Path:
    """`cache/<kind>/` for whole files, `cache/<kind>-first<N>/` for the first N drawings a class."""
    if kind not in KINDS:
        raise QDError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return Path(cache_dir or default_cache_dir()) / (kind if not per_class else f"{kind}-first{per_class}")


def download(classes: Sequence[str] | str, kind: str = "numpy_bitmap", cache_dir: str | Path | None = None,
             base_url: str | None = None, retries: int = 3, timeout: float = 60.0, force: bool = False,
             progress: bool = True, deadline: float = 3600.0, per_class: int | None = None,
             workers: int = 1) -> list[Path]:
    """Download the official `kind` file of each class into `cache_folder(kind, per_class)`; return
    their paths, in the order of `classes` ("all": the 345 official classes).

    Files already in the cache are checked cheaply (`check_file`) and kept if sound, fetched again
    if not (or if `force`): a run that was stopped resumes where it was. Each failed try is retried
    from scratch (`retries` tries in all, with a short pause); a class that still fails raises a
    `QDError` naming it, after the other classes are done. `timeout` bounds each read, `deadline`
    each file's whole transfer; `workers` files download at once (threads).
    """
    if isinstance(classes, str):     # one class name, or "all"
        classes = bitmaps.all_classes() if classes == "all" else [classes]
    classes = list(classes)
    if not classes:
        raise QDError("no classes to download: give class names or \"all\"")
    checks.integer(retries, "retries", 1)
    bitmaps.check_per_class(per_class)
    checks.integer(workers, "workers", 1)
    checks.number(timeout, "timeout", 0, 86_400, lo_open=True)      # seconds a read may wait
    checks.number(deadline, "deadline", 0, 7 * 86_400, lo_open=True)
    for name in classes:
        bitmaps.check_class_name(name)
    folder = cache_folder(kind, per_class, cache_dir)
    atomic.ensure_writable_dir(folder, "download cache")

    def one(name: str) -> Path:
        url = class_url(name, kind, base_url)
        dest = folder / f"{name}{KINDS[kind]}"
        if dest.exists() and not dest.is_file():
            raise QDError(f"{dest}: is a folder (or not a regular file) where the class file goes; move it away")
        atomic.remove_stale_temps(dest)   # a killed run's; another live run's stay
        if dest.is_file() and not force:
            try:
                filecheck.check_file(dest, kind, name)
                return dest
            except QDError as e:
                warnings.warn(f"cached file is bad, fetching it again: {e}", QDDataWarning, stacklevel=3)
                dest.unlink()
        for attempt in range(1, retries + 1):
            try:
                _fetch_once(url, dest, kind, name, timeout, deadline, progress and workers == 1, per_class)
                return dest
            except QDError as e:
                if attempt == retries or "HTTP 404" in str(e):
                    raise QDError(f"{e} (gave up after {attempt} tr{'y' if attempt == 1 else 'ies'})") from e
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    paths: dict[str, Path] = {}
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(classes), desc=f"download {kind}", unit="class",
                 disable=not progress or len(classes) < 2) as bar:
        futures = {pool.submit(one, name): name for name in dict.fromkeys(classes)}   # each class once
        for fut in futures:
            try:
                paths[futures[fut]] = fut.result()
            except QDError as e:
                errors.append(str(e))
            bar.update(1)
    if errors:
        head = errors[0] if len(errors) == 1 else f"{len(errors)} classes failed; first: {errors[0]}"
        raise QDError(head + (f" ({len(paths)} other files are in {folder})" if paths else ""))
    return [paths[name] for name in classes]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.data.download",
                                description="Fetch official Quick, Draw! class files into the cache "
                                            "(parallel, resumable: rerun to continue).")
    p.add_argument("--classes", default="all", help='"all" (the 345 official classes) or comma-separated names')
    p.add_argument("--kind", default="numpy_bitmap", choices=sorted(KINDS))
    p.add_argument("--per-class", type=int, default=None, help="only the first N drawings of each class")
    p.add_argument("--workers", type=int, default=8, help="files downloading at once")
    p.add_argument("--cache-dir", default=None, help=f"default: $QD_CACHE or {Path.home() / '.cache' / 'quickdraw'}")
    p.add_argument("--base-url", default=None, help="a mirror with the official layout (default: $QD_BASE_URL "
                                                    "or Google's bucket)")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--force", action="store_true", help="fetch again even what the cache has")
    a = p.parse_args(argv)
    try:
        paths = download(bitmaps.resolve_classes(a.classes), a.kind, a.cache_dir, a.base_url, a.retries, per_class=a.per_class,
                         workers=a.workers, force=a.force)
    except QDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the files already complete are in the cache (checked); a rerun fetches the rest",
              file=sys.stderr)
        return 130
    print(json.dumps({"files": len(paths), "folder": str(paths[0].parent) if paths else None,
                      "bytes": sum(p.stat().st_size for p in paths)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
