import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from qd.data import bitmaps
from qd.data.splits import split
from qd.models import architectures, checkpoint
from qd.training.config import TrainConfig

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def official_pairs():
    """(drawing dict, official 28x28 bitmap) pairs of the same doodles, in both stroke formats."""
    with gzip.open(FIXTURES / "official_pairs.ndjson.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    return [(r, np.array(r["bitmap"], np.uint8).reshape(28, 28)) for r in rows]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """An untrained 3-class CNN and its checkpoint: (path, model, config)."""
    cfg = TrainConfig(model="cnn", epochs=1, model_kw={"width": 4})
    m = architectures.build("cnn", 3, width=4, dropout=cfg.dropout)
    path = checkpoint.save(tmp_path_factory.mktemp("m") / "good.pt", m, ["apple", "star", "square"], cfg)
    return path, m, cfg


@pytest.fixture(scope="module")
def tiny_split():
    """300 bundled drawings of each of 3 classes, split 70/30."""
    return split(bitmaps.load_bitmaps(["apple", "star", "square"], per_class=300), seed=0)
