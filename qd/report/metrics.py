"""Metrics on class probabilities: top-k accuracy, MAP@3, balanced and per-class accuracy, and the
most confused class pairs. Plain numpy: any model's probabilities, ours or a peer's."""
from __future__ import annotations

import numpy as np

from qd import checks
from qd.errors import QDError


def _top(probs: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(the k best columns of each row, labels) of checked scores: one finite row per label."""
    probs, y = checks.finite(probs, "probs"), _labels(y, "y")
    if probs.ndim != 2 or len(probs) != len(y) or len(y) == 0:
        raise QDError(f"probs must be (N, classes) with one row per label: got probs {probs.shape}, y {y.shape}"
                      + (" (no drawings to score)" if len(y) == 0 else ""))
    k = checks.integer(k, "k", 1)
    return np.argsort(-probs, axis=1, kind="stable")[:, :k], y


def _labels(y, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise QDError(f"{name} must be a 1-D array of class indices, got {y.dtype} {y.shape}")
    return y


def topk_accuracy(probs: np.ndarray, y: np.ndarray, k: int = 1) -> float:
    """The share of drawings whose true class is among the k most probable."""
    top, y = _top(probs, y, k)
    return float((top == y[:, None]).any(axis=1).mean())


def map_at_k(probs: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """Mean average precision at k with one true label (the Kaggle doodle challenge's metric):
    1 for a right first guess, 1/2 for right second, 1/3 for right third, else 0."""
    top, y = _top(probs, y, k)
    hit = top == y[:, None]
    return float((hit / np.arange(1, top.shape[1] + 1)).sum(axis=1).mean())


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean of the per-class accuracies: every class counts the same, however many drawings it has."""
    acc = per_class_accuracy(y, pred, n_classes)
    present = np.bincount(np.asarray(y), minlength=n_classes) > 0
    return float(acc[present].mean())


def per_class_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy on each class's drawings; a prediction outside 0..n_classes-1 (another model's
    class) counts as wrong. A class without test drawings scores 0."""
    y, pred = _labels(y, "y"), _labels(pred, "pred")
    n_classes = checks.integer(n_classes, "n_classes", 1)
    if len(y) != len(pred) or len(y) == 0:
        raise QDError(f"y and pred must be as long and not empty: {len(y)} labels, {len(pred)} predictions")
    if y.min() < 0 or y.max() >= n_classes:
        raise QDError(f"y holds class {y.min() if y.min() < 0 else y.max()}, outside 0..{n_classes - 1}")
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
