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

from qd import checks
from qd.data import encode
from qd.data.render import render
from qd.errors import QDError
from qd.models import architectures, checkpoint, unknown
from qd.paths import MODELS_DIR

DEFAULT_MODEL = MODELS_DIR / "cnn.pt"
HOW_TO_MAKE_ONE = ("the release models ship in models/ (a fresh clone has them); `make models` trains them again, "
                   "or train one directly: `python -m qd.training.train --model cnn --epochs 12 --out models/cnn.pt`")


@torch.no_grad()
def predict_proba(model: torch.nn.Module, X: np.ndarray, batch_size: int = 256, tta: bool = False,
                  temperature: float = 1.0) -> np.ndarray:
    """Class probabilities (N, C) for uint8 images. `tta`: average with the mirrored image.
    `temperature`: the logits are divided by it first (`qd.models.calibrate`)."""
    model.eval()
    Xt = architectures.to_tensor(X)
    architectures.nhwc_for(model, Xt)
    out = []
    for i in range(0, len(Xt), batch_size):
        xb = Xt[i:i + batch_size]
        p = torch.softmax(model(xb) / temperature, 1)
        if tta:
            p = (p + torch.softmax(model(torch.flip(xb, dims=[3])) / temperature, 1)) / 2
        out.append(p)
    return torch.cat(out).numpy()


@torch.no_grad()
def view_logits(model: torch.nn.Module, X: np.ndarray, tta: bool = False, batch_size: int = 256) -> np.ndarray:
    """Logits (V, N, C) of uint8 images: V = 1 view, or 2 with `tta` (the image and its mirror), the
    views `predict_proba` averages; what a temperature is fitted on (`qd.models.calibrate`)."""
    model.eval()
    Xt = architectures.to_tensor(X)
    architectures.nhwc_for(model, Xt)
    views = [lambda x: x] + ([lambda x: torch.flip(x, dims=[3])] if tta else [])
    return np.stack([torch.cat([model(v(Xt[i:i + batch_size])) for i in range(0, len(Xt), batch_size)]).numpy()
                     for v in views])


def top_k(probs: np.ndarray, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The k most probable (class, probability) pairs, most probable first (k at most the number of
    classes; probabilities must be finite: a NaN would sort anywhere and hide a class)."""
    probs = checks.finite(probs, "probabilities")
    if probs.shape != (len(classes),):
        raise QDError(f"probabilities have shape {probs.shape}, expected ({len(classes)},): one per class")
    k = checks.integer(k, "k", 1)
    order = np.argsort(-probs, kind="stable")[:k]
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
        metrics = self.meta.get("metrics")
        if metrics is not None and not isinstance(metrics, dict):
            raise QDError(f"{self.path}: broken checkpoint: 'metrics' must be a dict, got {type(metrics).__name__}")
        self.input, self.size, self.max_len = self._preprocessing()
        # Calibrated probabilities: the checkpoint's temperature (qd.models.calibrate), 1 if none.
        self.temperature = checks.number(self.meta.get("temperature", 1.0),
                                         f"{self.path}: broken checkpoint: 'temperature'", 0.01, 100)
        # Test-time flip averaging when the checkpoint's figures were measured with it (notebooks 04
        # and 06), so the demo answers as the report says; "I don't know" reads the plain pass.
        self.tta = checks.flag((metrics or {}).get("tta", False), f"{self.path}: metrics 'tta'") and self.input != "sequence"
        self.detector = None               # "I don't know" (qd.models.unknown), when the checkpoint has one
        if self.meta.get("unknown") is not None:
            try:
                self.detector = unknown.Detector.from_state(self.meta["unknown"])
            except QDError as e:
                raise QDError(f"{self.path}: broken 'unknown' detector in the checkpoint: {e}") from e
        self._dry_run()

    def _preprocessing(self) -> tuple[str, int, int]:
        """(input kind, size, max_len) from the checkpoint's `preprocessing`, checked."""
        pre = self.meta.get("preprocessing")
        if pre is None:
            pre = {}
        if not isinstance(pre, dict):
            raise QDError(f"{self.path}: broken checkpoint: 'preprocessing' must be a dict, got {type(pre).__name__}")
        kind, size, max_len = pre.get("input", "image"), pre.get("size", 28), pre.get("max_len", 128)
        if kind not in encode.INPUT_KINDS:
            raise QDError(f"{self.path}: broken checkpoint: input {kind!r} is none of {', '.join(encode.INPUT_KINDS)}")
        for name, v, lo, hi in (("size", size, 8, 1024), ("max_len", max_len, 1, 100_000)):
            checks.integer(v, f"{self.path}: broken checkpoint: preprocessing {name}", lo, hi)
        return kind, size, max_len

    def _dry_run(self) -> None:
        """One prediction on a blank input of the recorded kind: a model that cannot take its own
        input, or a detector that does not fit the model, fails here (at load), not at the first stroke."""
        blank = {"image": np.zeros((1, self.size, self.size), np.uint8),
                 "channels": np.zeros((1, 3, self.size, self.size), np.uint8),
                 "sequence": np.zeros((1, self.max_len, 3), np.float32)}[self.input]
        try:
            probs = predict_proba(self.model, blank)
            if self.detector is not None:
                if self.input != "image" or self.size != 28:
                    raise ValueError("a detector reads 28x28 images")
                self.detector.is_unknown(*unknown.logits_and_features(self.model, blank))
        except (RuntimeError, ValueError, TypeError, IndexError, QDError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise QDError(f"{self.path}: the model or its detector cannot take the input the checkpoint records "
                          f"({self.input}, size {self.size}): {first}") from e
        if probs.shape != (1, len(self.classes)):
            raise QDError(f"{self.path}: the model answers {probs.shape[1]} classes, the checkpoint names {len(self.classes)}")

    def is_unknown(self, img: np.ndarray) -> bool:
        """True when the detector says the drawing (a 28x28 image) is none of the classes."""
        if self.detector is None:
            return False
        return bool(self.detector.is_unknown(*unknown.logits_and_features(self.model, img[None]))[0])

    def predict_with_unknown(self, img: np.ndarray) -> tuple[np.ndarray, bool]:
        """One 28x28 image -> (probabilities (C,), whether the detector says unknown): the answers of
        `predict_image` and `is_unknown` from one pass of the model over the image (and its mirror
        with test-time flipping) instead of two or three. The demo asks both at every guess."""
        if self.detector is None or self.input != "image" or self.size != 28:
            return self.predict_image(img), self.is_unknown(img)
        img = np.asarray(img)
        if img.dtype != np.uint8 or img.shape != (28, 28):
            raise QDError(f"predict_with_unknown takes one uint8 image (28, 28), got {img.dtype} {img.shape}")
        x = architectures.to_tensor(img[None])
        views = torch.cat([x, torch.flip(x, dims=[3])]) if self.tta else x
        logits, feats = unknown.logits_and_features(self.model, views)
        probs = torch.softmax(torch.from_numpy(logits) / self.temperature, 1).mean(0).numpy()
        return probs, bool(self.detector.is_unknown(logits[:1], feats[:1])[0])

    def predict_image(self, img: np.ndarray) -> np.ndarray:
        """uint8 (S, S) or (N, S, S) -> probabilities (C,) or (N, C), S the model's size (28 for most)."""
        img = np.asarray(img)
        one = (self.size, self.size) if self.input == "image" else (3, self.size, self.size)
        if self.input == "sequence" or img.dtype != np.uint8 or img.shape[-len(one):] != one \
                or img.ndim not in (len(one), len(one) + 1) or img.size == 0:
            raise QDError(f"predict_image takes uint8 images {one} or a non-empty stack (N, {', '.join(map(str, one))})"
                          f" for this model ({self.input}), got {img.dtype} {img.shape}")
        p = predict_proba(self.model, img, tta=self.tta, temperature=self.temperature)
        return p[0] if img.ndim == len(one) else p

    def predict_strokes(self, strokes) -> tuple[np.ndarray, np.ndarray]:
        """Strokes ([[xs], [ys]] lists, any coordinates) -> (probabilities (C,), the 28x28 drawing).
        The model gets the input its checkpoint names (`preprocessing["input"]`): a rendered image
        (of `size`), order/time channels, or a stroke sequence."""
        img = render(strokes)
        if self.input == "image" and self.size == 28:
            return self.predict_image(img), img
        x = encode.encode(self.input, [strokes], size=self.size, max_len=self.max_len)
        return predict_proba(self.model, x, tta=self.tta and x.ndim == 4, temperature=self.temperature)[0], img

    def top(self, probs: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        return top_k(probs, self.classes, k)

    def latency_ms(self, strokes, repeats: int = 30) -> dict:
        """Median milliseconds for render + model and for the model alone, on this machine."""
        repeats = checks.integer(repeats, "repeats", 1)
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
