"""Inference: class probabilities for images (`predict_proba`), and `Predictor`, a saved checkpoint
that answers for an image or for strokes.

Strokes go through `qd.data.render.render`, the same path the stroke data takes, so a drawing made in
the demo reaches the model exactly as a Quick, Draw! drawing would.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from qd.data import encode
from qd.data.render import render
from qd.errors import QDError
from qd.models import architectures, checkpoint, unknown
from qd.paths import MODELS_DIR

DEFAULT_MODEL = MODELS_DIR / "cnn.pt"
HOW_TO_MAKE_ONE = ("run `make report` (notebook 04 saves the best CNN to models/cnn.pt) or train one "
                   "directly: `python -m qd.training.train --model cnn --epochs 12 --out models/cnn.pt`")


@torch.no_grad()
def predict_proba(model: torch.nn.Module, X: np.ndarray, batch_size: int = 256, tta: bool = False) -> np.ndarray:
    """Class probabilities (N, C) for uint8 images. `tta`: average with the mirrored image."""
    model.eval()
    Xt = architectures.to_tensor(X)
    architectures.nhwc_for(model, Xt)
    out = []
    for i in range(0, len(Xt), batch_size):
        xb = Xt[i:i + batch_size]
        p = torch.softmax(model(xb), 1)
        if tta:
            p = (p + torch.softmax(model(torch.flip(xb, dims=[3])), 1)) / 2
        out.append(p)
    return torch.cat(out).numpy()


def top_k(probs: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The k most probable (class, probability) pairs, most probable first."""
    order = np.argsort(-probs)[:k]
    return [(classes[i], float(probs[i])) for i in order]


def default_model_path() -> Path:
    """$QD_MODEL if set, else models/cnn.pt."""
    return Path(os.environ.get("QD_MODEL") or DEFAULT_MODEL)


class Predictor:
    """A loaded model with its class names; predicts from 28x28 images or from strokes."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise QDError(f"no trained model at {self.path}: {HOW_TO_MAKE_ONE}")
        self.model, self.meta = checkpoint.load(self.path)
        self.classes: list[str] = self.meta["classes"]
        # Test-time flip averaging when the checkpoint's figures were measured with it (notebooks 04
        # and 06), so the demo answers as the report says; "I don't know" reads the plain pass.
        self.tta = bool((self.meta.get("metrics") or {}).get("tta"))
        self.detector = None               # "I don't know" (qd.models.unknown), when the checkpoint has one
        if isinstance(self.meta.get("unknown"), dict):
            try:
                self.detector = unknown.Detector.from_state(self.meta["unknown"])
            except (KeyError, AttributeError, TypeError, ValueError) as e:
                raise QDError(f"{self.path}: broken 'unknown' detector in the checkpoint ({e})") from e

    def is_unknown(self, img: np.ndarray) -> bool:
        """True when the detector says the drawing (a 28x28 image) is none of the classes."""
        if self.detector is None:
            return False
        return bool(self.detector.is_unknown(*unknown.logits_and_features(self.model, img[None]))[0])

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
        img = render(strokes)
        if kind == "image" and size == 28:
            return self.predict_image(img), img
        x = encode.encode(kind, [strokes], size=size, max_len=int(pre.get("max_len", 128)))
        return predict_proba(self.model, x, tta=self.tta and x.ndim == 4)[0], img

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        return top_k(probs, self.classes, k)

    def latency_ms(self, strokes, repeats: int = 30) -> dict:
        """Median milliseconds for render + model and for the model alone, on this machine."""
        img = render(strokes)
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
