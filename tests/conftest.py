import json
import gzip
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def official_pairs():
    """(drawing dict, official 28x28 bitmap) pairs of the same doodles, in both stroke formats."""
    with gzip.open(FIXTURES / "official_pairs.ndjson.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(r, np.array(r["bitmap"], np.uint8).reshape(28, 28)) for r in rows]


def write_ndjson(path: Path, lines: list) -> Path:
    """Write objects (or raw strings, written as they are) one per line."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path
