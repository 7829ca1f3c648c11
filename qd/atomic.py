"""Writing files so that a failure never leaves a half-written file where a good one was.

Everything the project writes (checkpoints, metrics, reports, downloads) goes to a temporary file
in the destination's own folder and is renamed over the destination only once it is complete:
`os.replace` is atomic on one filesystem, so readers see the old file or the new one, never a mix.
A failed write (disk full, file-size limit, a crash) removes the temporary file and names the path.
"""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import Callable

from qd.errors import QDError


def _default_mode() -> int:
    """The mode a plain open() would give a new file: 0o666 less the umask (mkstemp makes 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _default_mode()


def ensure_writable_dir(folder: str | Path, what: str = "output folder") -> Path:
    """Create `folder` if needed and prove we can write there, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise QDError(f"{folder}: {what} is not writable ({e.strerror or e})") from e
    return folder


def ensure_writable_file(path: str | Path, what: str = "output file") -> Path:
    """Prove `path` can be written (not a folder, its folder writable) before any long work starts."""
    path = Path(path)
    if path.is_dir():
        raise QDError(f"{path}: {what} is a folder, expected a file path")
    ensure_writable_dir(path.parent, f"{what}'s folder")
    return path


def temp_beside(path: Path) -> tuple[int, str]:
    """(open fd, path) of a new hidden temporary file in `path`'s folder, named after `path` and this
    process (`.<name>.<pid>.<random>.part`), so a later run can tell a dead process's leftovers
    (`remove_stale_temps`) from another live process's file in progress."""
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".part", dir=path.parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # someone else's process: alive
        return True
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temporary files of `path` left by processes that are gone (killed mid-write); the
    files of live processes (e.g. a second download into the same cache) stay. Returns those removed."""
    path = Path(path)
    removed = []
    for p in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        pid = p.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue            # a file in progress (ours, or a live process's)
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def _temp_beside(path: Path):
    """A temporary path in `path`'s folder; removed unless it was renamed onto `path`."""
    fd, tmp = temp_beside(path)
    os.close(fd)
    try:
        yield tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_with(path: str | Path, writer: Callable[[str], None]) -> Path:
    """Call `writer(temp_path)` to write the file, then rename it onto `path`. Any failure of the
    writer (an OSError, or a library's own error for a full disk, e.g. torch's RuntimeError) is a
    `QDError` naming the path; the previous file, if any, is intact, and no temporary file stays."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    remove_stale_temps(path)
    with _temp_beside(path) as tmp:
        try:
            writer(tmp)
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, path)
        except QDError:
            raise
        except OSError as e:
            raise QDError(f"{path}: could not write ({e.strerror or e}); the previous file, if any, is intact") from e
        except Exception as e:  # noqa: BLE001 - libraries report a full disk in their own ways
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise QDError(f"{path}: could not write ({type(e).__name__}: {first}); the previous file, "
                          "if any, is intact") from e
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    def writer(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return write_with(path, writer)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
