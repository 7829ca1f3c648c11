"""Maintainer tool: write tests/fixtures/official_pairs.ndjson.gz from the bundled data.

Each line is one stroke drawing (simplified or raw format) with the official 28x28 bitmap of the
same drawing (`bitmap`, 784 ints), found by `qd.data.strokes.match_official`. The renderer test checks
its error bound on these pairs without needing the whole data folder.
"""
import gzip
import json
from pathlib import Path

from qd.data import bitmaps, ndjson
from qd.data.strokes import match_official

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "official_pairs.ndjson.gz"
CLASSES = ["apple", "bicycle", "cat", "diamond", "eye", "fish"]
PER_KIND = 4

lines = []
for c in CLASSES:
    official = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz", 200)
    for kind in ("simplified", "raw"):
        drawings = ndjson.load_drawings(ndjson.strokes_path(c, kind), limit=PER_KIND)
        for i, j, mae in match_official(drawings, official):
            d = drawings[i]
            lines.append(json.dumps({"word": c, "kind": kind, "key_id": d.key_id,
                                     "drawing": [[[round(v, 3) for v in row] for row in s.tolist()] for s in d.strokes],
                                     "bitmap": official[j].ravel().tolist(), "official_row": j}))
OUT.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=9, mtime=0))
print(f"{len(lines)} pairs -> {OUT} ({OUT.stat().st_size} bytes)")
