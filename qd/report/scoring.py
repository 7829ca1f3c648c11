"""The metric rows every notebook writes to `reports/metrics/` (read back by the HTML report): one
model's figures on one protocol, with the timing measured here and DoodleNet beside every figure."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from qd import atomic
from qd.data.splits import Split
from qd.models import architectures, checkpoint, doodlenet
from qd.models.infer import predict_proba
from qd.paths import REPORTS_DIR
from qd.report.metrics import balanced_accuracy, map_at_k, topk_accuracy
from qd.training.config import TrainConfig
from qd.training.loop import fit


def time_predict(predict, X: np.ndarray, batch_size: int = 256, repeats: int = 2, singles_n: int = 20) -> dict:
    """Milliseconds per image for any `predict(batch of uint8 images)`: in batches (throughput) and
    one image at a time (the demo's case). Best of `repeats` for batches, median of `singles_n` singles."""
    X = X[: batch_size * 4]
    predict(X[:batch_size])  # warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(0, len(X), batch_size):
            predict(X[i:i + batch_size])
        best = min(best, (time.perf_counter() - t) / len(X))
    singles = []
    for _ in range(singles_n):
        t = time.perf_counter()
        predict(X[:1])
        singles.append(time.perf_counter() - t)
    return {"infer_ms": best * 1e3, "infer_single_ms": float(np.median(singles)) * 1e3}


def torch_predictor(model: torch.nn.Module, tta: bool = False):
    return lambda X: predict_proba(model, X, tta=tta)


def summary_row(name: str, probs: np.ndarray, y_test: np.ndarray, n_classes: int, n_train: int,
                train_seconds: float, protocol: str, timing: dict, params: int | None = None, **extra) -> dict:
    """One line of the report's summary table."""
    y_test = np.asarray(y_test)
    return {"model": name, "protocol": protocol, "classes": int(n_classes),
            "train": None if n_train is None else int(n_train),
            "test": int(len(y_test)), "test_acc": topk_accuracy(probs, y_test, 1),
            "top3_acc": topk_accuracy(probs, y_test, 3), "map3": map_at_k(probs, y_test, 3),
            "balanced_acc": balanced_accuracy(y_test, probs.argmax(1), n_classes),
            "train_s": None if train_seconds is None else float(train_seconds), **timing, "params": params, **extra}


def torch_row(name: str, model: torch.nn.Module, X_test: np.ndarray, y_test: np.ndarray, n_classes: int,
              n_train: int, train_seconds: float, protocol: str, tta: bool = False, **extra) -> dict:
    """`summary_row` for a torch model: probabilities, timing and parameter count measured here."""
    predict = torch_predictor(model, tta)
    return summary_row(name, predict(X_test), y_test, n_classes, n_train, train_seconds, protocol,
                       time_predict(predict, X_test), architectures.n_params(model), **extra)


def train_and_score(name: str, sp: Split, cfg: TrainConfig, protocol: str, tta: bool = False,
                    progress: bool = True, model=None, outliers=None, **extra):
    """Build (or take `model`, e.g. pretrained), train and score one torch model on a split:
    (model, history, report rows); with `tta` a second row for test-time flip averaging.
    `outliers`: images of other classes for outlier exposure (see `qd.training.loop.fit`)."""
    if model is None:
        model = architectures.build(cfg.model, len(sp.classes), seed=cfg.seed, **checkpoint.model_kwargs(cfg))
    hist = fit(model, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=progress, outliers=outliers)
    args = (model, sp.X_test, sp.y_test, len(sp.classes), len(sp.y_train), hist.seconds, protocol)
    extra = {"augment": cfg.augment, "epochs": cfg.epochs, **extra}
    if outliers is not None:
        extra["outlier_exposure_drawings"] = len(outliers)
    rows = [torch_row(name, *args, **extra)]
    if tta:
        rows.append(torch_row(name + " + TTA", *args, tta=True, **extra))
    return model, hist, rows


def doodlenet_rows(X_test: np.ndarray, y_test: np.ndarray, classes: list[str], protocol: str) -> list[dict]:
    """DoodleNet on the same test drawings: 345-way (a wrong class outside ours counts as wrong) and
    restricted to our classes (argmax over their columns). Both marked as upper bounds."""
    net, names = doodlenet.load()
    probs = doodlenet.predict_proba(net, X_test)
    predict = lambda X: doodlenet.predict_proba(net, X)
    timing = time_predict(predict, X_test)
    rows = []
    ways = [("DoodleNet, 345-way", doodlenet.to_ours(probs, names, classes))]
    if len(classes) < len(names):     # restricted to all 345 classes is the 345-way answer
        ways.append(("DoodleNet, restricted to our classes", doodlenet.restrict(probs, names, classes)))
    for name, p in ways:
        rows.append(summary_row(name, p, y_test, len(classes), None, None, protocol, timing,
                                architectures.n_params(net), note=doodlenet.CAVEAT))
    return rows


def save_metrics(rows: list[dict], notebook: str, reports_dir: str | Path | None = None) -> Path:
    """Write a notebook's metric rows to reports/metrics/<notebook>.json (read by the pipeline)."""
    p = Path(reports_dir or REPORTS_DIR) / "metrics" / f"{notebook}.json"
    return atomic.write_text(p, json.dumps(rows, indent=1, default=float))


def load_metrics(reports_dir: str | Path | None = None) -> list[dict]:
    d = Path(reports_dir or REPORTS_DIR) / "metrics"
    rows = []
    for p in sorted(d.glob("*.json")):
        for r in json.loads(p.read_text()):
            rows.append({"notebook": p.stem, **r})
    return rows


def sklearn_row(name: str, est, sp: Split, protocol: str, **extra) -> tuple[object, dict]:
    """Fit a scikit-learn classifier on a split's flattened pixels; (fitted estimator, report row)."""
    t = time.perf_counter()
    est.fit(sp.X_train.reshape(len(sp.X_train), -1), sp.y_train)
    secs = time.perf_counter() - t
    predict = lambda X: est.predict_proba(X.reshape(len(X), -1))  # noqa: E731
    row = summary_row(name, predict(sp.X_test), sp.y_test, len(sp.classes), len(sp.y_train), secs,
                      protocol, time_predict(predict, sp.X_test), None, **extra)
    return est, row


def shipped_rows(name: str, predictor, sp: Split, protocol: str) -> list[dict]:
    """Report rows of a shipped release model (`qd.models.infer.Predictor`) on a split's test part:
    measured here, trained by `make models` (not in this run); flip-averaged when its card says so."""
    probs = predictor.predict_image(sp.X_test)
    m = predictor.meta.get("metrics") or {}
    label = f"{name} + TTA" if predictor.tta else name
    return [summary_row(label, probs, sp.y_test, len(sp.classes), m.get("train"), m.get("train_seconds"), protocol,
                        time_predict(predictor.predict_image, sp.X_test), architectures.n_params(predictor.model),
                        note=f"shipped weights: models/{predictor.path.name} (make models), not trained in this run",
                        shipped=True)]
