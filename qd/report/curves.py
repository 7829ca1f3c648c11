"""Learning curves on bitmaps (notebook 05): our CNN and a random forest trained on the first n
training drawings of every class, for growing n, each scored on the same test drawings, so a reader
sees what more drawings buy each. Notebook 06's curve on strokes is `qd.report.stroke_study`'s; both
give smaller sets more epochs with `epochs_for`, so that a small set is not simply undertrained."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

import numpy as np

from qd.data.splits import Split, first_per_class
from qd.errors import QDError
from qd.models import architectures, checkpoint, infer
from qd.report.metrics import topk_accuracy
from qd.training.config import TrainConfig
from qd.training.loop import fit


def epochs_for(epochs: int, n: int, batch_size: int, min_steps: int) -> int:
    """At least `epochs`, and enough that training on `n` drawings takes `min_steps` optimisation
    steps (`qd.training.loop.fit` takes ceil(n / batch_size) steps an epoch)."""
    if n < 1:
        raise QDError(f"a learning curve's training set is empty (n={n})")
    return max(epochs, math.ceil(min_steps / math.ceil(n / batch_size)))


def cnn_and_forest(sp: Split, sizes, cfg: TrainConfig, min_steps: int, forest: Callable[[], object],
                   cnn_name: str = "our CNN (fast)", forest_name: str = "random forest (pixels)"
                   ) -> tuple[list[int], dict[str, list[float]], list[dict]]:
    """For each n in `sizes` (those past the largest class dropped): a CNN of `cfg` (at least
    `min_steps` steps) and `forest()`, a fresh scikit-learn estimator, trained on the first n training
    drawings of every class and scored on the whole test part. Returns the sizes kept, the test
    accuracies by model, and one metric row per size."""
    largest = int(np.bincount(sp.y_train).max())
    if any(int(n) != n or n < 1 for n in sizes):
        raise QDError(f"learning curve sizes must be whole numbers >= 1 (got {list(sizes)})")
    kept = [int(n) for n in sizes if n <= largest]
    if not kept:
        raise QDError(f"no learning curve size fits: {list(sizes)} drawings a class, and the largest class has "
                      f"{largest} training drawings")
    sizes = kept
    curve, rows = {cnn_name: [], forest_name: []}, []
    flat = lambda X: X.reshape(len(X), -1)   # noqa: E731  (scikit-learn takes rows of pixels)
    for n in sizes:
        idx = first_per_class(sp.y_train, n)
        run = replace(cfg, epochs=epochs_for(cfg.epochs, len(idx), cfg.batch_size, min_steps))
        cnn = architectures.build(run.model, len(sp.classes), seed=run.seed, **checkpoint.model_kwargs(run))
        fit(cnn, sp.X_train[idx], sp.y_train[idx], run, progress=False)          # scored once, at the end
        cnn_acc = topk_accuracy(infer.predict_proba(cnn, sp.X_test), sp.y_test)
        rf = forest().fit(flat(sp.X_train[idx]), sp.y_train[idx])
        rf_acc = float((rf.predict(flat(sp.X_test)) == sp.y_test).mean())
        curve[cnn_name].append(cnn_acc)
        curve[forest_name].append(rf_acc)
        rows.append({"figure": f"learning curve: {n} drawings per class", "train": len(idx), "cnn_epochs": run.epochs,
                     "cnn_test_acc": cnn_acc, "rf_test_acc": rf_acc})
    return sizes, curve, rows
