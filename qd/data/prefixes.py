"""Partial drawings: what the game sees while a drawing is made. The models learn from complete
drawings, but the game guesses from the first strokes on (at every stroke end, and while the pen
moves); renders of the first k strokes, and of a stroke cut halfway, teach them to know early."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from qd.data.render import render_batch
from qd.errors import QDError


def strokes_of(drawing) -> list:
    """The stroke list of a `Drawing` or of a plain list of strokes."""
    return list(drawing.strokes if hasattr(drawing, "strokes") else drawing)


def partial(drawing, k: int, points: int | None = None) -> list:
    """The first `k` strokes, plus the first `points` points of stroke k+1 when given (the pen is
    still moving): the drawing as it stood at that moment."""
    s = strokes_of(drawing)
    if not 0 <= k <= len(s) or (k == 0 and not points) or (points is not None and (k == len(s) or points < 1)):
        raise QDError(f"no partial drawing of {len(s)} strokes with k={k}, points={points}")
    out = s[:k]
    if points is not None:
        out = out + [np.asarray(s[k])[:, :points]]
    return out


def cuts(drawing, mid_stroke: bool = True) -> list[tuple[int, int | None]]:
    """Every partial drawing worth learning from, as (k, points) for `partial`: the first k strokes
    for k = 1..n-1 (the complete drawing is left to the caller) and, with `mid_stroke`, every stroke
    of 4 points or more cut in half over the strokes before it."""
    s = strokes_of(drawing)
    out = [(k, None) for k in range(1, len(s))]
    if mid_stroke:
        out += [(k, np.shape(st)[1] // 2) for k, st in enumerate(s) if np.shape(st)[1] >= 4]
    return sorted(out, key=lambda c: (c[0], c[1] or 0))


def prefix_images(drawings: Sequence, y: Sequence[int], per_drawing: int | None = None, seed: int = 0,
                  mid_stroke: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images (M, 28, 28) uint8, labels (M,)): partial drawings (`cuts`) of every drawing with its
    drawing's label; `per_drawing` draws at most that many cuts of each, seeded, instead of all."""
    if len(drawings) != len(y):
        raise QDError(f"{len(drawings)} drawings but {len(y)} labels")
    if per_drawing is not None and (not isinstance(per_drawing, int) or per_drawing < 1):
        raise QDError(f"per_drawing must be a whole number >= 1 or None, got {per_drawing!r}")
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for d, label in zip(drawings, y):
        cs = cuts(d, mid_stroke)
        if per_drawing is not None and len(cs) > per_drawing:
            cs = [cs[i] for i in sorted(rng.choice(len(cs), per_drawing, replace=False))]
        parts += [partial(d, k, p) for k, p in cs]
        labels += [int(label)] * len(cs)
    if not parts:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return render_batch(parts), np.asarray(labels, np.int64)
