"""Maintainer tool: build the project's `data/` from a folder of official Quick, Draw! files.

    python scripts/bundle_data.py SOURCE_DIR

SOURCE_DIR holds `bitmaps/<class>.npy` (official numpy_bitmap rows) and
`strokes/{simplified,raw}/<class>.ndjson.gz`. Bitmaps become compressed `data/bitmaps/<class>.npz`
(key `bitmaps`, uint8 (N, 784), rows in the source order); stroke files are re-gzipped
deterministically (same content, level 9, no timestamp). Writes `data/SHA256SUMS`. Never run at
run or test time: the project reads only `data/`.
"""
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data"


def main(src: Path) -> None:
    (OUT / "bitmaps").mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "bitmaps").glob("*.npy")):
        a = np.load(p)
        assert a.dtype == np.uint8 and a.ndim == 2 and a.shape[1] == 784, (p, a.shape, a.dtype)
        np.savez_compressed(OUT / "bitmaps" / f"{p.stem}.npz", bitmaps=a)
        print(f"{p.stem}: {len(a)} bitmaps")
    for kind in ("simplified", "raw"):
        (OUT / "strokes" / kind).mkdir(parents=True, exist_ok=True)
        for p in sorted((src / "strokes" / kind).glob("*.ndjson.gz")):
            raw = gzip.decompress(p.read_bytes())
            (OUT / "strokes" / kind / p.name).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    lines = []
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.suffix in (".npz", ".gz"):
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(OUT)}")
    (OUT / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} files, sums in data/SHA256SUMS")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
