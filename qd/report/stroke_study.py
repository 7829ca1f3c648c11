"""Notebook 06's comparison: each stroke approach (`qd.training.approaches`) trained on the same
training drawings and scored on the same test drawings, with the latency from strokes to
probabilities for one drawing."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from qd.data import encode
from qd.data.splits import Split
from qd.data.strokes import StrokeSet
from qd.report.scoring import torch_predictor, train_and_score
from qd.training import approaches
from qd.training.approaches import Approach, Settings


def latency_ms(predict, kind: str, drawing, size: int = 28, max_len: int = 128, repeats: int = 30) -> float:
    """Median milliseconds from strokes to probabilities for one drawing: encoding plus model."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict(encode.encode(kind, [drawing], size, max_len))
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def run(approach: Approach, ss: StrokeSet, train_idx, test_idx, task: str, settings: Settings = Settings(),
        pretrained: str | Path | None = None, tta: bool = True, max_len: int = 128, images: Split | None = None,
        progress: bool = False):
    """Train and score one approach: (model, its TrainConfig, report rows); with `tta` (image inputs)
    a second row with test-time flip averaging. `images`: the 28x28 split if already encoded."""
    if images is not None and (approach.input, approach.size) == ("image", 28):
        sp = images
    else:
        sp = encode.task_split(ss, train_idx, test_idx, approach.input, approach.size, max_len)
    model, cfg = approaches.make(approach, len(ss.classes), settings, pretrained)
    model, hist, rows = train_and_score(approach.name, sp, cfg, task, model=model, progress=progress,
                                        tta=tta and approach.input != "sequence")
    rows[0]["stroke_to_probs_ms"] = latency_ms(torch_predictor(model), approach.input, ss.drawings[int(test_idx[0])],
                                               approach.size, max_len)
    return model, cfg, rows

