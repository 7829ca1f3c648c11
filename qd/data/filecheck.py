"""Is a file a sound official class file? Cheap checks without reading it whole (a downloaded file
before it is renamed into place, a cached one before it is trusted), and the .npy header arithmetic
that lets a download stop after the first rows."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from qd.data import bitmaps, ndjson
from qd.errors import QDError

NPY_HEADER_MAX = 4096   # an .npy header is 128 bytes in practice; read this much to be sure


def _last_line(path: Path) -> bytes:
    """The last non-empty line of a file, read from the end (bounded by the line-length cap)."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        block, buf = 1 << 16, b""
        pos = end
        while pos > 0 and len(buf) <= ndjson.MAX_LINE_BYTES:
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
    if not path.is_file():
        raise QDError(f"{where}: {'is a folder' if path.is_dir() else 'not a regular file'}, expected the class file")
    if kind == "numpy_bitmap":
        bitmaps.check_npy_magic(path, where)
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - a corrupt header raises ValueError, SyntaxError, TokenError, ...
            raise QDError(f"{where}: not a complete .npy ({type(e).__name__}: {e})") from e
        if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 784:
            raise QDError(f"{where}: array has shape {a.shape} {a.dtype}, expected (N, 784) uint8")
        return
    size = path.stat().st_size
    if size == 0:
        raise QDError(f"{where}: file is empty")
    with open(path, "rb") as f:
        first = f.readline(ndjson.MAX_LINE_BYTES)
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
        d = ndjson.parse_drawing(obj, f"{where}: {label} line")
        if d.word != name:
            raise QDError(f"{where}: {label} line is a drawing of {d.word!r}, expected {name!r}")


def _npy_header(head: bytes, url: str):
    """(rows, header length) of an official .npy from its first bytes, or None if not enough yet."""
    f = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(f))
    except Exception as e:  # noqa: BLE001 - numpy parses the header's dict literal: ValueError, SyntaxError, TokenError, ...
        if len(head) < NPY_HEADER_MAX and b"\n" not in head:
            return None          # the header has not all arrived yet
        raise QDError(f"{url}: not an .npy file (broken header: {type(e).__name__}: {str(e)[:120]})") from e
    if dtype != np.uint8 or len(shape) != 2 or shape[1] != 784 or fortran:
        raise QDError(f"{url}: array has shape {shape} {dtype}, expected (N, 784) uint8")
    return shape[0], f.tell()


def npy_bytes_for(head: bytes, per_class: int, url: str) -> int | None:
    h = _npy_header(head, url)
    return None if h is None else h[1] + min(per_class, h[0]) * 784


def trim_npy(path: Path, per_class: int, url: str) -> None:
    """Rewrite a downloaded .npy prefix as a complete .npy of its first `per_class` rows."""
    raw = path.read_bytes()
    h = _npy_header(raw[:NPY_HEADER_MAX], url)
    if h is None:
        raise QDError(f"{url}: transfer ended inside the .npy header ({len(raw)} bytes)")
    rows, start = h
    n = min(per_class, rows)
    if len(raw) < start + n * 784:
        raise QDError(f"{url}: truncated transfer, got {len(raw) - start} of {n * 784} bytes of rows")
    a = np.frombuffer(raw, np.uint8, count=n * 784, offset=start).reshape(n, 784)
    with open(path, "wb") as f:
        np.save(f, a)
