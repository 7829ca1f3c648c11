"""Augmentation: flips, small rotations, shifts and scaling of 28x28 doodles.

Two forms. `Augment` draws a fresh random affine transform per image per batch, on the fly in
torch (`affine_grid` + `grid_sample`), so training sees new variants every epoch at no storage
cost. `expand` is the reference project's way: add flipped and rotated copies to the training set
once. `jitter_strokes` perturbs stroke points before rendering, for stroke data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from qd import checks
from qd.data.geometry import as_strokes
from qd.errors import QDError


@dataclass
class Augment:
    """Random affine augmentation of a batch (N, 1, H, W) of floats; identity when all are zero."""
    flip: float = 0.0          # probability of a horizontal flip
    rotate: float = 0.0        # max rotation, degrees (uniform in +-rotate)
    shift: float = 0.0         # max shift, as a fraction of the image side
    scale: float = 0.0         # max relative zoom (uniform in 1 +- scale)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.ndim != 4:
            raise QDError(f"augment takes a batch (N, C, H, W), got shape {tuple(x.shape)}")
        n = x.shape[0]
        if n == 0 or not (self.flip or self.rotate or self.shift or self.scale):
            return x

        def u(lo, hi):
            return torch.rand(n, generator=generator) * (hi - lo) + lo

        angle = u(-self.rotate, self.rotate) * math.pi / 180
        s = u(1 - self.scale, 1 + self.scale)
        flip = torch.where(torch.rand(n, generator=generator) < self.flip, -1.0, 1.0)
        tx, ty = u(-self.shift, self.shift) * 2, u(-self.shift, self.shift) * 2  # grid units: [-1, 1]
        cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
        theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1),
                             torch.stack([sin * flip, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def describe(self) -> str:
        parts = [f"flip p={self.flip}" if self.flip else "", f"rotate ±{self.rotate}°" if self.rotate else "",
                 f"shift ±{self.shift:.0%}" if self.shift else "", f"scale ±{self.scale:.0%}" if self.scale else ""]
        return ", ".join(p for p in parts if p) or "none"


PRESETS = {
    "none": Augment(),
    "flip": Augment(flip=0.5),
    "rotate": Augment(rotate=10),
    "shift": Augment(shift=0.08),
    "scale": Augment(scale=0.12),
    "all": Augment(flip=0.5, rotate=10, shift=0.08, scale=0.12),
}


def expand(X: np.ndarray, y: np.ndarray, angles=(-10, 10), flip: bool = True):
    """The reference's augmentation: append a flipped copy and one rotated copy per angle.

    X uint8 (N, 28, 28) -> ((1 + flip + len(angles)) * N, 28, 28), labels repeated to match.
    """
    parts = [X]
    if flip:
        parts.append(X[:, :, ::-1])
    for a in angles:
        parts.append(np.stack([np.asarray(Image.fromarray(img).rotate(a, resample=Image.BILINEAR))
                               for img in X]))
    return np.ascontiguousarray(np.concatenate(parts)), np.tile(y, len(parts))


def jitter_strokes(strokes, amount: float = 0.03, rng: np.random.Generator | None = None):
    """Stroke-level augmentation: a random small affine map of the whole drawing plus per-point noise
    (`amount` as a fraction of the drawing's size). Returns new (2, n) float arrays."""
    amount = checks.number(amount, "amount", 0.0, 1.0)
    rng = rng or np.random.default_rng()
    s, _ = as_strokes(strokes, "jitter_strokes")
    pts = np.concatenate(s, axis=1)
    size = float(np.ptp(pts, axis=1).max()) or 1.0
    A = np.eye(2) + rng.normal(0, amount, (2, 2))
    return [A @ a + rng.normal(0, amount * size / 4, a.shape) for a in s]
