"""Notebook 06's comparison: each stroke approach (`qd.training.approaches`) trained on the same
training drawings and scored on the same test drawings, with the latency from strokes to
probabilities for one drawing; and its learning curve: one approach trained on fewer drawings a
class, scored on the same test drawings, to show where more drawings would take it."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from qd.data import encode
from qd.data.splits import Split, first_per_class
from qd.data.strokes import StrokeSet
from qd.errors import QDError
from qd.report.curves import epochs_for
from qd.report.metrics import topk_accuracy
from qd.report.scoring import torch_predictor, train_and_score
from qd.training import approaches
from qd.training.approaches import Approach, Settings
from qd.training.loop import fit


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


def curve_subsets(y_train: np.ndarray, sizes, seed: int) -> list[np.ndarray]:
    """Positions in the training part of the first n drawings of every class (all of a smaller class)
    after one seeded shuffle, for each n in `sizes`: nested sets, so that a larger set only adds."""
    order = np.random.default_rng(seed).permutation(len(y_train))
    return [np.sort(order[first_per_class(np.asarray(y_train)[order], n)]) for n in sizes]


def learning_curve(approach: Approach, ss: StrokeSet, train_idx, test_idx, task: str, sizes,
                   settings: Settings = Settings(), pretrained: str | Path | None = None, min_steps: int = 300,
                   images: Split | None = None, progress: bool = False) -> list[dict]:
    """One approach trained on the first n training drawings of every class (`curve_subsets`) for each
    n in `sizes`, each scored on the same test drawings: one row per n. Smaller sets get more epochs,
    so that every run takes at least `min_steps` optimisation steps."""
    if approach.input == "sequence":
        raise QDError(f"{approach.name}: the learning curve takes image approaches")
    sizes = sorted({int(n) for n in sizes})
    if not sizes or sizes[0] < 1:
        raise QDError(f"learning curve sizes must be whole numbers >= 1 (got {sizes})")
    if images is not None and (approach.input, approach.size) == ("image", 28):
        sp = images
    else:
        sp = encode.task_split(ss, train_idx, test_idx, approach.input, approach.size)
    rows = []
    for n, keep in zip(sizes, curve_subsets(sp.y_train, sizes, settings.seed)):
        model, cfg = approaches.make(approach, len(ss.classes), settings, pretrained)
        cfg.epochs = epochs_for(cfg.epochs, len(keep), cfg.batch_size, min_steps)
        hist = fit(model, sp.X_train[keep], sp.y_train[keep], cfg, progress=progress)     # scored once, at the end
        probs = torch_predictor(model)(sp.X_test)
        rows.append({"figure": f"learning curve: {approach.name}, {n} drawings per class", "approach": approach.name,
                     "protocol": task, "per_class": n, "train": len(keep), "epochs": cfg.epochs,
                     "curve_test_acc": topk_accuracy(probs, sp.y_test, 1),
                     "curve_top3_acc": topk_accuracy(probs, sp.y_test, 3), "train_s": hist.seconds})
    return rows


def per_doubling(per_class, accuracy) -> float:
    """Points of accuracy each doubling of the drawings a class adds: the slope of a straight line
    through accuracy against log2(drawings a class). A summary of the measured range, not a promise
    beyond it (curves flatten)."""
    if len(per_class) < 2:
        raise QDError("a slope needs at least two points of the learning curve")
    return float(np.polyfit(np.log2(np.asarray(per_class, float)), 100 * np.asarray(accuracy, float), 1)[0])
