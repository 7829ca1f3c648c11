"""Augmentation: flips, small rotations, shifts and scaling of 28x28 doodles.

Two forms. `Augment` draws a fresh random affine transform per image per batch, on the fly in
torch (`affine_grid` + `grid_sample`), so training sees new variants every epoch at no storage
cost. `expand` is the reference project's way: add flipped and rotated copies to the training set
once. `StrokeAugment` varies a drawing's strokes before rendering, for stroke data (`stroke_variants`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from qd import checks
from qd.data.geometry import points
from qd.data.render import name_of, render_batch
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


@dataclass(frozen=True)
class StrokeAugment:
    """A random variant of a drawing, made on its strokes before rendering (for stroke data, where a
    class has a few dozen drawings): each stroke left out with probability `drop` (never all of them),
    then one random affine map of the whole drawing (rotation, scale per axis, shear), then noise on
    every point. Rendering afterwards keeps the pen 16 units wide and the drawing filling its box, as
    a person's drawing is: image-level zoom and rotation cannot say that. Zero everywhere: the drawing
    as it was."""
    rotate: float = 15.0       # max rotation, degrees
    scale: float = 0.15        # max relative stretch of each axis (uniform in 1 +- scale)
    shear: float = 0.15        # max horizontal shear
    noise: float = 2.0         # standard deviation of the point noise, in the 0..255 box's units
    drop: float = 0.1          # probability of leaving out each stroke

    def __post_init__(self):
        for name, hi in (("rotate", 180.0), ("scale", 0.9), ("shear", 2.0), ("noise", 64.0), ("drop", 0.9)):
            checks.number(getattr(self, name), f"StrokeAugment {name}", 0.0, hi)

    def __call__(self, strokes, rng: np.random.Generator, where: str = "drawing") -> list[np.ndarray]:
        """New (2, n) float strokes: `strokes` (any layout `render` takes) aligned to the 0..255 box
        (raw ones simplified first, as rendering would), then varied."""
        pts, lens = points(strokes, where, simplify_raw=True)
        s = np.split(pts, np.cumsum(lens)[:-1], axis=1)
        if self.drop and len(s) > 1:
            keep = rng.random(len(s)) >= self.drop
            keep[rng.integers(len(s))] |= not keep.any()     # none kept: keep one (drawn either way: one stream)
            s = [a for a, k in zip(s, keep) if k]
        a = np.deg2rad(rng.uniform(-self.rotate, self.rotate))
        A = (np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
             @ np.diag(1 + rng.uniform(-self.scale, self.scale, 2)) @ np.array([[1, rng.uniform(-self.shear, self.shear)], [0, 1]]))
        return [A @ x + rng.normal(0, self.noise, x.shape) if self.noise else A @ x for x in s]


def stroke_variants(drawings: Sequence, labels, copies: int, seed: int = 0,
                    aug: StrokeAugment = StrokeAugment()) -> tuple[np.ndarray, np.ndarray]:
    """(images (copies * N, 28, 28) uint8, labels): `copies` rendered variants of each drawing
    (`StrokeAugment`), seeded; copy by copy, so the first N are one variant of every drawing."""
    checks.integer(copies, "copies", 0)
    if len(drawings) != len(labels):
        raise QDError(f"{len(drawings)} drawings but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    where = [name_of(d, i) for i, d in enumerate(drawings)]
    varied = [aug(d, rng, w) for _ in range(copies) for d, w in zip(drawings, where)]
    images = render_batch(varied, simplify_raw=False) if varied else np.zeros((0, 28, 28), np.uint8)
    return images, np.tile(np.asarray(labels, np.int64), copies)
