"""Stroke drawings from ndjson files (`simplified` and `raw`, plain or gzipped), streamed line by line so a
big official file never sits in memory whole; every line checked, a bad one named by file and line."""
from __future__ import annotations

import gzip
import json
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from qd.checks import integer, numeric_rows, one_of
from qd.errors import QDDataWarning, QDError
from qd.paths import DATA_DIR

STROKES_DIR = DATA_DIR / "strokes"
STROKE_KINDS = ("simplified", "raw", "first250")


@dataclass
class Drawing:
    """One drawing of an ndjson file. Each stroke is a float32 array (2, n) of x, y, or (3, n) of
    x, y, t (t in ms, raw format only)."""
    word: str
    strokes: list[np.ndarray]
    key_id: str = ""
    countrycode: str = ""
    timestamp: str = ""
    recognized: bool | None = None
    source: str = field(default="", repr=False)  # "file:line", for messages

    @property
    def n_points(self) -> int:
        return sum(s.shape[1] for s in self.strokes)

    @property
    def has_time(self) -> bool:
        return self.strokes[0].shape[0] == 3


def parse_drawing(obj, where: str = "drawing") -> Drawing:
    """Validate one decoded ndjson object into a `Drawing`; `where` ("file:line") names it in errors."""
    if not isinstance(obj, dict):
        raise QDError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "drawing" not in obj:
        raise QDError(f"{where}: no 'drawing' field (has: {', '.join(sorted(obj)) or 'nothing'})")
    raw = obj["drawing"]
    if not isinstance(raw, list):
        raise QDError(f"{where}: 'drawing' must be a list of strokes [[x...], [y...]], got {type(raw).__name__}")
    if len(raw) == 0:
        raise QDError(f"{where}: empty drawing (no strokes)")
    strokes = []
    for k, s in enumerate(raw):
        if not isinstance(s, list) or len(s) not in (2, 3):
            raise QDError(f"{where}: stroke {k} must be [[x...], [y...]] or [[x...], [y...], [t...]]")
        a = numeric_rows(s, f"{where}: stroke {k}")
        if a.shape[1] == 0:
            raise QDError(f"{where}: stroke {k} has shape {a.shape}, expected (2 or 3, n>=1)")
        if not np.isfinite(a).all():
            raise QDError(f"{where}: stroke {k} has non-finite coordinates")
        if np.abs(a).max() > np.finfo(np.float32).max:
            raise QDError(f"{where}: stroke {k} holds a number too large for a coordinate ({np.abs(a).max():.3g})")
        a = a.astype(np.float32)
        strokes.append(a)
    if len({a.shape[0] for a in strokes}) != 1:
        raise QDError(f"{where}: strokes mix [x, y] and [x, y, t] forms")
    return Drawing(word=str(obj.get("word", "")), strokes=strokes, key_id=str(obj.get("key_id", "")),
                   countrycode=str(obj.get("countrycode", "")), timestamp=str(obj.get("timestamp", "")),
                   recognized=obj.get("recognized"), source=where)


MAX_LINE_BYTES = 32 << 20   # 32 MiB: the longest official raw drawing is far shorter; a cap keeps a
                            # corrupt or hostile file from pulling gigabytes into one line


def _open_binary(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _lines(f, path: Path):
    """(line number, bytes) of a binary stream; a line over MAX_LINE_BYTES comes as None (its rest
    is read and dropped up to the next newline), so it can be reported or skipped like any bad line."""
    lineno = 0
    while True:
        try:
            line = f.readline(MAX_LINE_BYTES + 1)
            too_long = len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
            while too_long:
                rest = f.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
        except (OSError, EOFError, zlib.error) as e:
            raise QDError(f"{path}:{lineno + 1}: cannot read ({e})") from e
        if not line:
            return
        lineno += 1
        yield lineno, None if too_long else line


def iter_drawings(path: str | Path, on_error: str = "raise", limit: int | None = None) -> Iterator[Drawing]:
    """Stream drawings from a simplified or raw ndjson file (plain or gzip), one line at a time.

    on_error="raise": the first bad line raises a `QDError` naming file and line.
    on_error="skip": bad lines are skipped, and a `QDDataWarning` says how many and which was
    first, also when the reading stops early (`limit`, or the caller stops iterating).
    Blank lines are ignored; each line is decoded on its own, so a bad byte names its own line.
    """
    one_of(on_error, "on_error", ("raise", "skip"))
    if limit is not None:
        limit = integer(limit, "limit", 0)
    path = Path(path)
    if not path.exists():
        raise QDError(f"{path}: file not found")
    if not path.is_file():
        raise QDError(f"{path}: {'is a folder' if path.is_dir() else 'not a regular file (a device or a pipe)'}, "
                      "expected an ndjson file")
    skipped, first, n = 0, None, 0
    try:
        if limit == 0:
            return
        with _open_binary(path) as f:
            for lineno, raw in _lines(f, path):
                where = f"{path}:{lineno}"
                try:
                    if raw is None:
                        raise QDError(f"{where}: line longer than {MAX_LINE_BYTES >> 20} MiB")
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise QDError(f"{where}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})") from e
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise QDError(f"{where}: not valid JSON ({e.msg})") from e
                    except RecursionError as e:
                        raise QDError(f"{where}: JSON nested too deeply") from e
                    d = parse_drawing(obj, where)
                except QDError as e:
                    if on_error == "raise":
                        raise
                    skipped += 1
                    first = first or str(e)
                    continue
                yield d
                n += 1
                if limit is not None and n >= limit:
                    return
    finally:
        if skipped:
            warnings.warn(f"{path}: skipped {skipped} bad line(s); first: {first} ({n} good drawings read)",
                          QDDataWarning, stacklevel=2)


def load_drawings(path: str | Path, on_error: str = "raise", limit: int | None = None) -> list[Drawing]:
    """All drawings of one ndjson file (see `iter_drawings`)."""
    return list(iter_drawings(path, on_error=on_error, limit=limit))


def strokes_path(name: str, kind: str = "simplified", strokes_dir: str | Path | None = None) -> Path:
    """The bundled stroke file of a class: data/strokes/<kind>/<name>.ndjson.gz (kind: simplified,
    raw, or first250, the first 250 simplified drawings of 25 classes)."""
    if kind not in STROKE_KINDS:
        raise QDError(f"stroke kind must be one of {', '.join(STROKE_KINDS)}, got {kind!r}")
    d = (Path(strokes_dir) if strokes_dir is not None else STROKES_DIR) / kind
    for suffix in (".ndjson.gz", ".ndjson"):
        p = d / f"{name}{suffix}"
        if p.is_file():
            return p
    raise QDError(f"unknown class {name!r}: no {name}.ndjson(.gz) in {d}")


def stroke_classes(kind: str = "simplified", strokes_dir: str | Path | None = None) -> list[str]:
    """Class names with a `<class>.ndjson` or `<class>.ndjson.gz` file (hidden and `.part` files,
    e.g. an interrupted download, are not classes)."""
    d = (Path(strokes_dir) if strokes_dir is not None else STROKES_DIR) / kind
    names = set()
    for p in d.iterdir() if d.is_dir() else []:
        for suffix in (".ndjson.gz", ".ndjson"):
            if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file():
                names.add(p.name[: -len(suffix)])
                break
    return sorted(names)


def stroke_stats(d: Drawing) -> dict:
    """Per-drawing figures for EDA: strokes, points, drawing time (raw format only), metadata."""
    n_points = [s.shape[1] for s in d.strokes]
    return {"word": d.word, "strokes": len(d.strokes), "points": sum(n_points),
            "points_per_stroke": float(np.mean(n_points)),
            "seconds": float(d.strokes[-1][2, -1]) / 1000 if d.has_time else float("nan"),
            "recognized": d.recognized, "country": d.countrycode}
