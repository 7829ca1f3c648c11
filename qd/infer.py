"""Inference: a saved checkpoint -> class probabilities for an image or for strokes.

Strokes go through `qd.render.render`, the same path the stroke data takes, so a drawing made in
the demo reaches the model exactly as a Quick, Draw! drawing would.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from qd import MODELS_DIR, render
from qd.evaluate import predict_proba
from qd.errors import QDError
from qd.train import load_checkpoint

DEFAULT_MODEL = MODELS_DIR / "cnn.pt"
HOW_TO_MAKE_ONE = ("run `make report` (notebook 04 saves the best CNN to models/cnn.pt) or train one "
                   "directly: `python -m qd.train --model cnn --epochs 12 --out models/cnn.pt`")


def default_model_path() -> Path:
    """$QD_MODEL if set, else models/cnn.pt."""
    return Path(os.environ.get("QD_MODEL") or DEFAULT_MODEL)


class Predictor:
    """A loaded model with its class names; predicts from 28x28 images or from strokes."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise QDError(f"no trained model at {self.path}: {HOW_TO_MAKE_ONE}")
        self.model, self.meta = load_checkpoint(self.path)
        self.classes: list[str] = self.meta["classes"]
        # Test-time flip averaging when the checkpoint's figures were measured with it (notebooks 04
        # and 06), so the demo answers as the report says; "I don't know" reads the plain pass.
        self.tta = bool((self.meta.get("metrics") or {}).get("tta"))
        self.detector = None               # "I don't know" (qd.unknown), when the checkpoint has one
        if isinstance(self.meta.get("unknown"), dict):
            from qd.unknown import Detector
            try:
                self.detector = Detector.from_state(self.meta["unknown"])
            except (KeyError, AttributeError, TypeError, ValueError) as e:
                raise QDError(f"{self.path}: broken 'unknown' detector in the checkpoint ({e})") from e

    def is_unknown(self, img: np.ndarray) -> bool:
        """True when the detector says the drawing (a 28x28 image) is none of the classes."""
        if self.detector is None:
            return False
        from qd.unknown import logits_and_features
        return bool(self.detector.is_unknown(*logits_and_features(self.model, img[None]))[0])

    def predict_image(self, img: np.ndarray) -> np.ndarray:
        """uint8 (28, 28) or (N, 28, 28) -> probabilities (C,) or (N, C)."""
        p = predict_proba(self.model, img, tta=self.tta)
        return p[0] if np.asarray(img).ndim == 2 else p

    def predict_strokes(self, strokes) -> tuple[np.ndarray, np.ndarray]:
        """Strokes ([[xs], [ys]] lists, any coordinates) -> (probabilities (C,), the 28x28 drawing).
        The model gets the input its checkpoint names (`preprocessing["input"]`): a rendered image
        (of `size`), order/time channels, or a stroke sequence."""
        pre = self.meta.get("preprocessing") or {}
        kind, size = pre.get("input", "image"), int(pre.get("size", 28))
        img = render.render(strokes)
        if kind == "image" and size == 28:
            return self.predict_image(img), img
        from qd import strokes as stroke_inputs
        x = stroke_inputs.encode(kind, [strokes], size=size, max_len=int(pre.get("max_len", 128)))
        return predict_proba(self.model, x, tta=self.tta and x.ndim == 4)[0], img

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-probs)[:k]
        return [(self.classes[i], float(probs[i])) for i in order]

    def latency_ms(self, strokes, repeats: int = 30) -> dict:
        """Median milliseconds for render + model and for the model alone, on this machine."""
        img = render.render(strokes)
        self.predict_image(img)
        full, model_only = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            self.predict_strokes(strokes)
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            self.predict_image(img)
            model_only.append(time.perf_counter() - t)
        return {"render_and_model_ms": float(np.median(full)) * 1e3, "model_ms": float(np.median(model_only)) * 1e3}
