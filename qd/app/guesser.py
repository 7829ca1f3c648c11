"""A model as the demo uses it, ours or the peer's, behind one small interface."""
from __future__ import annotations

import numpy as np

from qd.models import doodlenet
from qd.models.infer import Predictor, top_k


class Guesser:
    """A model for the demo: ours (a qd checkpoint via `qd.models.infer.Predictor`) or DoodleNet, the peer.
    `predict(img, strokes)` -> probabilities; `is_unknown(img)` when a detector came with it; `guess`
    both at once (`both(img)`, when the model answers both in one pass)."""

    def __init__(self, name: str, classes: list[str], predict, is_unknown=None, attribution: str = "", both=None):
        self.name, self.classes, self._predict = name, list(classes), predict
        self._unknown, self.attribution, self._both = is_unknown, attribution, both

    @classmethod
    def from_predictor(cls, p: Predictor, name: str | None = None) -> "Guesser":
        pre = p.meta.get("preprocessing") or {}
        image = pre.get("input", "image") == "image" and int(pre.get("size", 28)) == 28
        predict = (lambda img, strokes: p.predict_image(img)) if image else \
            (lambda img, strokes: p.predict_strokes(strokes)[0])
        return cls(name or f"ours ({len(p.classes)} classes)", p.classes, predict,
                   p.is_unknown if p.detector is not None else None,
                   both=p.predict_with_unknown if image else None)

    @classmethod
    def doodlenet(cls) -> "Guesser":
        net, names = doodlenet.load()
        return cls("DoodleNet (345 classes)", names, lambda img, strokes: doodlenet.predict_proba(net, img[None])[0],
                   attribution=doodlenet.ATTRIBUTION)

    def predict(self, img: np.ndarray, strokes=None) -> np.ndarray:
        return self._predict(img, strokes)

    def is_unknown(self, img: np.ndarray) -> bool:
        return bool(self._unknown(img)) if self._unknown is not None else False

    def guess(self, img: np.ndarray, strokes=None) -> tuple[np.ndarray, bool]:
        """(probabilities, unknown): what the demo asks at every guess."""
        if self._both is not None:
            return self._both(img)
        return self.predict(img, strokes), self.is_unknown(img)

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        return top_k(probs, self.classes, k)
