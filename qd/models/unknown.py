"""Saying "I don't know": is a drawing one of the model's classes at all?

A classifier always names one of its classes; shown a doodle of something else it is often sure of
a wrong one (the 40-class CNN gives 74% of other classes' doodles a top guess of 50% or more). We
score how unusual a drawing looks to the model from three signals of one forward pass:
- the top probability (low: unsure),
- the energy, log-sum-exp of the logits (low: nothing fits),
- the Mahalanobis distance of the penultimate features to the nearest class mean, with one shared
  covariance (Lee et al., 2018: far from every class: none of them),
and combine them with a logistic regression fitted on drawings of the vocabulary (the validation
part of the training data) against stroke drawings of *other* classes (a calibration set of classes
outside the vocabulary). The threshold keeps at most `max_lost` of the vocabulary's validation
drawings that the model gets right; everything is then measured on classes held out from the
calibration. The fitted detector is a few small arrays, stored inside the model's checkpoint.

The detector can only read what the model knows. Trained on its classes alone, a CNN is often sure
of a wrong class; trained with outlier exposure (`qd.training.loop.fit(outliers=calibration_images(...))`:
the calibration classes' drawings pushed towards a uniform guess), it learns to be unsure of
drawings of none of its classes. The held-out classes stay unseen by both.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qd import checks
from qd.data import bitmaps, strokes
from qd.data.render import render_batch
from qd.errors import QDError
from qd.models import architectures


@torch.no_grad()
def logits_and_features(model: nn.Module, X, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(logits, penultimate features) of a model whose last module is a Linear layer."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    feats = []
    hook = last.register_forward_hook(lambda m, inp, out: feats.append(inp[0].detach()))
    model.eval()
    Xt = architectures.to_tensor(X) if not isinstance(X, torch.Tensor) else X
    architectures.nhwc_for(model, Xt)
    try:
        logits = torch.cat([model(Xt[i:i + batch_size]) for i in range(0, len(Xt), batch_size)])
    finally:
        hook.remove()
    return logits.numpy(), torch.cat(feats).numpy()


class Detector:
    """Fit with `fit`, then `score` (higher: more likely outside the vocabulary) and `is_unknown`."""

    def __init__(self, means=None, precision=None, weights=None, bias=0.0, threshold=np.inf):
        self.means, self.precision = means, precision
        self.weights, self.bias, self.threshold = weights, float(bias), float(threshold)

    def signals(self, logits: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """(N, 3): top probability, energy, nearest-class Mahalanobis distance (square root)."""
        z = logits - logits.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        energy = np.log(np.exp(z).sum(1)) + logits.max(1)
        fp = feats @ self.precision                                # (f - m)' P (f - m), expanded
        mp = self.means @ self.precision
        maha = ((fp * feats).sum(1)[:, None] - 2 * fp @ self.means.T + (mp * self.means).sum(1)[None]).min(1)
        return np.stack([p.max(1), energy, np.sqrt(np.maximum(maha, 0))], 1)

    def fit(self, train_logits_feats, y_train, val_known, val_unknown, max_lost: float = 0.05, val_correct=None):
        """Class means and shared covariance from the training features; the logistic regression from
        validation drawings of the vocabulary (`val_known`) against other classes (`val_unknown`),
        each a (logits, features) pair; the threshold keeps 1 - `max_lost` of the vocabulary's
        validation drawings that the model gets right (`val_correct`, a mask; default: all)."""
        # Deferred: the demo loads fitted detectors but never fits one, and scikit-learn would cost
        # every demo kernel its import time and memory.
        from sklearn.linear_model import LogisticRegression
        _, feats = train_logits_feats
        classes = np.unique(y_train)
        self.means = np.stack([feats[y_train == c].mean(0) for c in classes])
        centred = feats - self.means[np.searchsorted(classes, y_train)]
        cov = centred.T @ centred / len(feats) + 1e-3 * np.eye(feats.shape[1])
        self.precision = np.linalg.inv(cov)
        sk, su = self.signals(*val_known), self.signals(*val_unknown)
        self._mu, self._sd = np.r_[sk, su].mean(0), np.r_[sk, su].std(0) + 1e-9
        lr = LogisticRegression(class_weight="balanced", max_iter=1000)
        lr.fit((np.r_[sk, su] - self._mu) / self._sd, np.r_[np.zeros(len(sk)), np.ones(len(su))])
        self.weights = lr.coef_[0] / self._sd
        self.bias = float(lr.intercept_[0] - (lr.coef_[0] * self._mu / self._sd).sum())
        keep = self.raw_score(sk)[val_correct if val_correct is not None else slice(None)]
        self.threshold = float(np.quantile(keep, 1 - max_lost))
        return self

    def raw_score(self, signals: np.ndarray) -> np.ndarray:
        return signals @ self.weights + self.bias

    def score(self, logits: np.ndarray, feats: np.ndarray) -> np.ndarray:
        return self.raw_score(self.signals(logits, feats))

    def is_unknown(self, logits: np.ndarray, feats: np.ndarray) -> np.ndarray:
        return self.score(logits, feats) > self.threshold

    def state(self) -> dict:
        """For the checkpoint: plain tensors and numbers."""
        return {"means": torch.tensor(self.means, dtype=torch.float32),
                "precision": torch.tensor(self.precision, dtype=torch.float32),
                "weights": torch.tensor(self.weights, dtype=torch.float64), "bias": self.bias,
                "threshold": self.threshold}

    @classmethod
    def from_state(cls, state: dict) -> "Detector":
        """The detector a checkpoint holds (`state`), checked: each part present, of its kind and
        shape, and finite; else a `QDError` naming the part."""
        if not isinstance(state, dict):
            raise QDError(f"the detector's state must be a dict, got {type(state).__name__}")
        missing = [k for k in ("means", "precision", "weights", "bias", "threshold") if k not in state]
        if missing:
            raise QDError(f"the detector's state lacks {', '.join(missing)}")
        parts = {}
        for k, ndim in (("means", 2), ("precision", 2), ("weights", 1)):
            v = state[k]
            if not isinstance(v, torch.Tensor) or v.ndim != ndim:
                raise QDError(f"the detector's {k!r} must be a {ndim}-D tensor, got "
                              f"{type(v).__name__}{' of shape ' + str(tuple(v.shape)) if isinstance(v, torch.Tensor) else ''}")
            parts[k] = checks.finite(v.numpy(), f"the detector's {k!r}").astype(np.float64)
        f = parts["means"].shape[1]
        if parts["precision"].shape != (f, f) or parts["weights"].shape != (3,):
            raise QDError(f"the detector's parts do not fit: means {parts['means'].shape}, precision "
                          f"{parts['precision'].shape} (expected ({f}, {f})), weights {parts['weights'].shape} (expected (3,))")
        return cls(parts["means"], parts["precision"], parts["weights"],
                   checks.number(state["bias"], "the detector's 'bias'"),
                   checks.number(state["threshold"], "the detector's 'threshold'"))


def split_classes(classes: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Classes outside the vocabulary into a calibration half and a held-out half, seeded."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(classes))
    half = len(classes) // 2
    return sorted(classes[i] for i in order[:half]), sorted(classes[i] for i in order[half:])


def outside_classes(classes: list[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """(calibration, held-out): the official classes outside `classes`, split in two halves, seeded."""
    vocab = set(classes)
    return split_classes([c for c in bitmaps.all_classes() if c not in vocab], seed)


def calibration_images(classes: list[str], seed: int = 0, max_per_class: int | None = None) -> np.ndarray:
    """28x28 renders of the bundled stroke drawings of the calibration half of the classes outside
    `classes` (never of the held-out half): the outliers for outlier exposure in training
    (`qd.training.loop.fit(outliers=...)`) and the unknown side of `calibrate`."""
    ss = strokes.collect(outside_classes(classes, seed)[0])
    return render_batch(_cap(ss, max_per_class).drawings)


def _cap(ss, max_per_class):
    if max_per_class:
        sel = np.concatenate([np.flatnonzero(ss.y == c)[:max_per_class] for c in np.unique(ss.y)])
        ss.drawings, ss.y = [ss.drawings[i] for i in sel], ss.y[sel]
    return ss


def calibrate(model: nn.Module, classes: list[str], X_train, y_train, X_test, y_test, seed: int = 0,
              max_lost: float = 0.05, max_per_class: int | None = None, X_val=None, y_val=None,
              X_cal=None) -> tuple[Detector, dict]:
    """Fit a `Detector` for a trained model of `classes` and measure it.

    Known side: the model's training drawings (class means, covariance), and, for the logistic
    regression and the threshold, drawings of its classes it did not train on: the bundled stroke
    drawings that are not rows of the bitmaps (rendered as the demo renders) and, if given, a
    validation part of the bitmaps (`X_val`, `y_val`; a few hundred stroke drawings alone make a
    noisy threshold, thousands of validation bitmaps a steady one). Unknown side: bundled stroke
    drawings of the classes outside the vocabulary, split by class into a calibration half and a
    held-out half (`X_cal`: the calibration half's renders, if already made for training).
    Figures: the share of held-out unknown drawings called unknown, and the share of the test
    drawings the model gets right that lose their answer."""
    cal, held = outside_classes(classes, seed)
    known = strokes.collect(classes)
    twins = strokes.bitmap_twins(known)
    keep = [i for i, d in enumerate(known.drawings) if d.key_id not in twins]
    Xk, yk = render_batch([known.drawings[i] for i in keep]), known.y[keep]
    n_strokes = len(Xk)
    if X_val is not None:
        Xk, yk = np.concatenate([Xk, X_val]), np.concatenate([yk, y_val])
    Xc = calibration_images(classes, seed, max_per_class) if X_cal is None else X_cal
    Xh = render_batch(_cap(strokes.collect(held), max_per_class).drawings)
    tr, kn, ca, he, te = (logits_and_features(model, X) for X in (X_train, Xk, Xc, Xh, X_test))
    det = Detector().fit(tr, np.asarray(y_train), kn, ca, max_lost, val_correct=kn[0].argmax(1) == yk)
    right = te[0].argmax(1) == np.asarray(y_test)
    p_held = np.exp(he[0] - he[0].max(1, keepdims=True))
    p_held /= p_held.sum(1, keepdims=True)
    figures = {"unknown_held_out_called_unknown": float(det.is_unknown(*he).mean()),
               "known_right_answers_lost": float(det.is_unknown(*te)[right].mean()),
               "unknown_held_out_confident_before": float((p_held.max(1) >= 0.5).mean()),
               "calibration_classes": len(cal), "held_out_classes": len(held),
               "calibration_drawings": len(Xc), "held_out_drawings": len(Xh), "known_stroke_drawings": n_strokes,
               "known_validation_drawings": 0 if X_val is None else len(X_val), "max_lost": max_lost}
    return det, figures
