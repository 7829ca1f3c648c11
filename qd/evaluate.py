"""Evaluation: probabilities, accuracy and top-k, confusion, inference timing, and the metric rows
that every notebook writes to `reports/metrics/` for the pipeline's summary table."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from qd import REPORTS_DIR, atomic, models


@torch.no_grad()
def predict_proba(model: torch.nn.Module, X: np.ndarray, batch_size: int = 256, tta: bool = False) -> np.ndarray:
    """Class probabilities (N, C) for uint8 images. `tta`: average with the mirrored image."""
    model.eval()
    Xt = models.to_tensor(X)
    models.nhwc_for(model, Xt)
    out = []
    for i in range(0, len(Xt), batch_size):
        xb = Xt[i:i + batch_size]
        p = torch.softmax(model(xb), 1)
        if tta:
            p = (p + torch.softmax(model(torch.flip(xb, dims=[3])), 1)) / 2
        out.append(p)
    return torch.cat(out).numpy()


def topk_accuracy(probs: np.ndarray, y: np.ndarray, k: int = 1) -> float:
    top = np.argsort(-probs, axis=1)[:, :k]
    return float((top == np.asarray(y)[:, None]).any(axis=1).mean())


def map_at_k(probs: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """Mean average precision at k with one true label (the Kaggle doodle challenge's metric):
    1 for a right first guess, 1/2 for right second, 1/3 for right third, else 0."""
    top = np.argsort(-probs, axis=1)[:, :k]
    hit = top == np.asarray(y)[:, None]
    return float((hit / np.arange(1, k + 1)).sum(axis=1).mean())


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean of the per-class accuracies: every class counts the same, however many drawings it has."""
    present = np.bincount(y, minlength=n_classes) > 0
    return float(per_class_accuracy(y, pred, n_classes)[present].mean())


def per_class_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy on each class's drawings; a prediction outside 0..n_classes-1 (another model's
    class) counts as wrong. A class without test drawings scores 0."""
    y, pred = np.asarray(y), np.asarray(pred)
    correct = np.bincount(y[pred == y], minlength=n_classes)
    return correct / np.maximum(np.bincount(y, minlength=n_classes), 1)


def most_confused(cm: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The k largest off-diagonal cells: (true class, predicted class, count)."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None)[:k]
    return [(classes[i], classes[j], int(off[i, j])) for i, j in zip(*np.unravel_index(flat, cm.shape)) if off[i, j]]


def confused_pairs(cm: np.ndarray, classes: list[str], protocol: str, k: int = 8) -> list[dict]:
    """The k most confused (true, predicted) pairs as report rows, with the share of the true class."""
    totals = cm.sum(axis=1)
    return [{"protocol": protocol, "true class": t, "predicted as": p, "drawings": n,
             "share_of_true_class": n / max(1, totals[classes.index(t)])} for t, p, n in most_confused(cm, classes, k)]


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
                       time_predict(predict, X_test), models.n_params(model), **extra)


def fit_and_score(name: str, sp, cfg, protocol: str, tta: bool = False, progress: bool = True, model=None,
                  outliers=None, **extra):
    """Build (or take `model`, e.g. pretrained), train and score one torch model on a split:
    (model, history, report rows); with `tta` a second row for test-time flip averaging.
    `outliers`: images of other classes for outlier exposure (see `qd.train.fit`)."""
    from qd import train
    if model is None:
        model = models.build(cfg.model, len(sp.classes), seed=cfg.seed, **train.model_kwargs(cfg))
    hist = train.fit(model, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=progress, outliers=outliers)
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
    from qd import doodlenet
    net, names = doodlenet.load()
    probs = doodlenet.predict_proba(net, X_test)
    predict = lambda X: doodlenet.predict_proba(net, X)
    timing = time_predict(predict, X_test)
    rows = []
    for name, p in [("DoodleNet, 345-way", doodlenet.to_ours(probs, names, classes)),
                    ("DoodleNet, restricted to our classes", doodlenet.restrict(probs, names, classes))]:
        rows.append(summary_row(name, p, y_test, len(classes), None, None, protocol, timing,
                                models.n_params(net), note=doodlenet.CAVEAT))
    return rows


def fmt(key: str, v) -> str:
    """A value as a person reads it: 95.3% for accuracies, 0.953 for MAP@3, 12 s, 0.53 ms, 12,345."""
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    if key == "map3":
        return f"{v:.3f}"
    if any(t in key for t in ("acc", "agreement", "rate", "share")) and abs(v) <= 1:
        return f"{100 * v:.1f}%"
    if key.endswith("_s") or key == "seconds":
        return f"{v:.0f} s" if v >= 10 else f"{v:.1f} s"
    if key.endswith("_ms"):
        return f"{v:.2f} ms" if v < 10 else f"{v:.0f} ms"
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


TABLE_COLS = ["model", "protocol", "classes", "test_acc", "top3_acc", "map3", "balanced_acc", "train_s",
              "infer_single_ms", "params", "note"]


def table(rows: list[dict], cols: list[str] | None = None):
    """Metric rows as a DataFrame of rounded, readable strings (for a notebook's output)."""
    import pandas as pd
    cols = cols or [c for c in TABLE_COLS if any(c in r for r in rows)]
    return pd.DataFrame([{c: fmt(c, r.get(c)) for c in cols} for r in rows])


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
