"""Maintainer tool: build the project's `data/` from a folder of official Quick, Draw! files.

    python scripts/bundle_data.py SOURCE_DIR [PEERS_DIR]

SOURCE_DIR holds `bitmaps/<class>.npy` (official numpy_bitmap rows) and
`strokes/{simplified,raw,first250}/<class>.ndjson.gz`. Bitmaps become compressed
`data/bitmaps/<class>.npz` (key `bitmaps`, uint8 (N, 784), rows in the source order); stroke files
are re-gzipped deterministically (same content, level 9, no timestamp). PEERS_DIR, if given, holds
`doodlenet/` (ml5's DoodleNet, MIT), copied byte for byte to `data/peers/doodlenet/`. Writes
`data/classes.txt` (the 345 official class names) and `data/SHA256SUMS`. Never run at run or test time: the project reads only `data/`.
"""
import gzip
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data"
STROKE_KINDS = ("simplified", "raw", "first250")
PEER_FILES = ("model.json", "group1-shard1of1.bin", "class_names.txt", "LICENSE", "README.md")


def main(src: Path, peers: Path | None = None) -> None:
    (OUT / "bitmaps").mkdir(parents=True, exist_ok=True)
    for p in sorted((src / "bitmaps").glob("*.npy")):
        a = np.load(p)
        assert a.dtype == np.uint8 and a.ndim == 2 and a.shape[1] == 784, (p, a.shape, a.dtype)
        np.savez_compressed(OUT / "bitmaps" / f"{p.stem}.npz", bitmaps=a)
        print(f"{p.stem}: {len(a)} bitmaps")
    for kind in STROKE_KINDS:
        (OUT / "strokes" / kind).mkdir(parents=True, exist_ok=True)
        for p in sorted((src / "strokes" / kind).glob("*.ndjson.gz")):
            raw = gzip.decompress(p.read_bytes())
            (OUT / "strokes" / kind / p.name).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    # The 345 official class names: the raw stroke files cover every class of the dataset.
    names = sorted((p.name[: -len(".ndjson.gz")] for p in (OUT / "strokes" / "raw").glob("*.ndjson.gz")), key=str.lower)
    (OUT / "classes.txt").write_text("\n".join(names) + "\n")
    if peers is not None:
        dst = OUT / "peers" / "doodlenet"
        dst.mkdir(parents=True, exist_ok=True)
        for name in PEER_FILES:
            shutil.copyfile(peers / "doodlenet" / name, dst / name)
    lines = []
    for p in sorted(OUT.rglob("*")):
        if p.is_file() and p.relative_to(OUT).as_posix() not in ("SHA256SUMS", "README.md"):
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(OUT)}")
    (OUT / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} files, sums in data/SHA256SUMS")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None)
