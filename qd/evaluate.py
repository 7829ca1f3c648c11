"""Evaluation: probabilities, accuracy and top-k, confusion, inference timing, and the metric rows
that every notebook writes to `reports/metrics/` for the pipeline's summary table."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from qd import REPORTS_DIR, models


@torch.no_grad()
def predict_proba(model: torch.nn.Module, X: np.ndarray, batch_size: int = 1024, tta: bool = False) -> np.ndarray:
    """Class probabilities (N, C) for uint8 images. `tta`: average with the mirrored image."""
    model.eval()
    Xt = models.to_tensor(X)
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


def per_class_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    cm = confusion_matrix(y, pred, labels=range(n_classes))
    return cm.diagonal() / np.maximum(cm.sum(axis=1), 1)


def most_confused(cm: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The k largest off-diagonal cells: (true class, predicted class, count)."""
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None)[:k]
    return [(classes[i], classes[j], int(off[i, j])) for i, j in zip(*np.unravel_index(flat, cm.shape)) if off[i, j]]


def time_predict(predict, X: np.ndarray, batch_size: int = 256, repeats: int = 3) -> dict:
    """Milliseconds per image for any `predict(batch of uint8 images)`: in batches (throughput) and
    one image at a time (the demo's case). Best of `repeats` for batches, median of 30 singles."""
    X = X[: batch_size * 4]
    predict(X[:batch_size])  # warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(0, len(X), batch_size):
            predict(X[i:i + batch_size])
        best = min(best, (time.perf_counter() - t) / len(X))
    singles = []
    for _ in range(30):
        t = time.perf_counter()
        predict(X[:1])
        singles.append(time.perf_counter() - t)
    return {"infer_ms": best * 1e3, "infer_single_ms": float(np.median(singles)) * 1e3}


def torch_predictor(model: torch.nn.Module, tta: bool = False):
    return lambda X: predict_proba(model, X, tta=tta)


def summary_row(name: str, probs: np.ndarray, y_test: np.ndarray, n_classes: int, n_train: int,
                train_seconds: float, protocol: str, timing: dict, params: int | None = None, **extra) -> dict:
    """One line of the report's summary table."""
    return {"model": name, "protocol": protocol, "classes": int(n_classes), "train": int(n_train),
            "test": int(len(y_test)), "test_acc": topk_accuracy(probs, y_test, 1),
            "top3_acc": topk_accuracy(probs, y_test, 3), "train_s": float(train_seconds), **timing,
            "params": params, **extra}


def torch_row(name: str, model: torch.nn.Module, X_test: np.ndarray, y_test: np.ndarray, n_classes: int,
              n_train: int, train_seconds: float, protocol: str, tta: bool = False, **extra) -> dict:
    """`summary_row` for a torch model: probabilities, timing and parameter count measured here."""
    predict = torch_predictor(model, tta)
    return summary_row(name, predict(X_test), y_test, n_classes, n_train, train_seconds, protocol,
                       time_predict(predict, X_test), models.n_params(model), **extra)


def save_metrics(rows: list[dict], notebook: str, reports_dir: str | Path | None = None) -> Path:
    """Write a notebook's metric rows to reports/metrics/<notebook>.json (read by the pipeline)."""
    d = Path(reports_dir or REPORTS_DIR) / "metrics"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{notebook}.json"
    p.write_text(json.dumps(rows, indent=1, default=float))
    return p


def load_metrics(reports_dir: str | Path | None = None) -> list[dict]:
    d = Path(reports_dir or REPORTS_DIR) / "metrics"
    rows = []
    for p in sorted(d.glob("*.json")):
        for r in json.loads(p.read_text()):
            rows.append({"notebook": p.stem, **r})
    return rows
