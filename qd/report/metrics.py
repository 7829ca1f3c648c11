"""Metrics on class probabilities: top-k accuracy, MAP@3, balanced and per-class accuracy, and the
most confused class pairs. Plain numpy: any model's probabilities, ours or a peer's."""
from __future__ import annotations

import numpy as np


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
