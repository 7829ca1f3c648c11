"""Calibration: probabilities that mean what they say. A network trained with cross-entropy (and
label smoothing) is over- or under-confident; one temperature T, fitted on a validation part
(Guo et al., 2017, "On Calibration of Modern Neural Networks"), divides the logits so that among
drawings shown at 80%, about 80% are right. The top guess never changes. Expected calibration
error (ECE) measures it: the gap between confidence and accuracy, averaged over confidence bins."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from qd.errors import QDError

BINS = 15          # Guo et al.'s choice


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of logits / T. `logits`: (N, C), or (V, N, C) for V views (a drawing and its mirror),
    whose probabilities are averaged as the demo averages them."""
    p = softmax(np.asarray(logits, np.float64) / temperature, axis=-1)
    return p.mean(0) if p.ndim == 3 else p


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """ECE: sum over equal-width confidence bins of (share of drawings) x |accuracy - confidence|."""
    probs, y = np.asarray(probs), np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y) or len(y) == 0:
        raise QDError(f"ECE needs probabilities (N, C) and N labels, got {probs.shape} and {y.shape}")
    conf, right = probs.max(1), probs.argmax(1) == y
    which = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature that minimises the negative log-likelihood of `y` on a validation part."""
    logits, y = np.asarray(logits, np.float64), np.asarray(y)
    if logits.shape[-2] != len(y) or len(y) == 0:
        raise QDError(f"fit_temperature needs logits (N, C) or (V, N, C) and N labels, got {logits.shape} and {y.shape}")

    def nll(log_t: float) -> float:
        if logits.ndim == 3:
            p = probabilities(logits, np.exp(log_t))[np.arange(len(y)), y]
            return float(-np.log(np.maximum(p, 1e-12)).mean())
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=np.log(bounds), method="bounded")
    return float(np.exp(res.x))
