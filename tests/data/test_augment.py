"""Augmentation."""
import numpy as np
import pytest
import torch

from qd import QDError
from qd.data import augment, bitmaps, strokes
from qd.data.render import render_batch
from qd.models import architectures


def test_augmentations_change_images_but_identity_does_not():
    x = architectures.to_tensor(bitmaps.load_bitmaps(["star"], per_class=8).X)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment.PRESETS["none"](x, generator=g), x)
    flipped = augment.Augment(flip=1.0)(x, generator=g)
    torch.testing.assert_close(flipped, torch.flip(x, dims=[3]), atol=1e-5, rtol=0)
    for name in ("rotate", "shift", "scale", "all"):
        y = augment.PRESETS[name](x, generator=g)
        assert y.shape == x.shape and not torch.allclose(y, x)
        assert abs(y.sum() / x.sum() - 1) < 0.35   # still the drawing, not blank or saturated
    X, yy = augment.expand(np.zeros((4, 28, 28), np.uint8), np.arange(4))
    assert X.shape == (16, 28, 28) and yy.tolist() == [0, 1, 2, 3] * 4


def _bars(n=64):
    """n images of one horizontal bar through the middle: its angle and centre are easy to measure."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 13:15, 5:23] = 1.0
    return x


def _angle_and_centre(x):
    """(degrees of the main axis, (row, col) centre) of each image, from its intensity moments."""
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    w = x[:, 0] / x[:, 0].sum((1, 2), keepdim=True)
    cy, cx = (w * ys).sum((1, 2)), (w * xs).sum((1, 2))
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]
    mu20, mu02, mu11 = (w * dx * dx).sum((1, 2)), (w * dy * dy).sum((1, 2)), (w * dx * dy).sum((1, 2))
    return torch.rad2deg(0.5 * torch.atan2(2 * mu11, mu20 - mu02)), cy, cx


def test_rotation_and_shift_stay_within_their_presets():
    """(issue 24, point 14) a rotation 10x too large passed the augmentation test; measure the angle."""
    g = torch.Generator().manual_seed(0)
    angle, _, _ = _angle_and_centre(augment.PRESETS["rotate"](_bars(), generator=g))
    limit = augment.PRESETS["rotate"].rotate
    assert angle.abs().max() <= limit + 1.0 and angle.abs().max() >= 0.7 * limit    # uses the range, no more
    assert (angle > 0).any() and (angle < 0).any()
    _, cy, cx = _angle_and_centre(augment.PRESETS["shift"](_bars(), generator=g))
    most = augment.PRESETS["shift"].shift * 28
    assert (cy - 13.5).abs().max() <= most + 0.5 and (cx - 13.5).abs().max() <= most + 0.5
    assert max((cy - 13.5).abs().max(), (cx - 13.5).abs().max()) >= 0.6 * most


def test_bad_augment_input_is_named():
    """(issue 24, point 11) an empty batch was a ValueError from affine_grid; amount=nan made NaN strokes."""
    empty = torch.zeros(0, 1, 28, 28)
    assert augment.PRESETS["all"](empty).shape == (0, 1, 28, 28)
    with pytest.raises(QDError, match=r"batch \(N, C, H, W\)"):
        augment.PRESETS["all"](torch.zeros(28, 28))
    for bad in (float("nan"), -0.1, "0.1"):
        with pytest.raises(QDError, match="StrokeAugment noise must be a finite number"):
            augment.StrokeAugment(noise=bad)
    out = augment.StrokeAugment()([[[0, 10], [0, 10]]], np.random.default_rng(0))
    assert np.isfinite(np.concatenate(out, axis=1)).all()
    with pytest.raises(QDError, match="3 drawings but 2 labels"):
        augment.stroke_variants([[[[0, 10], [0, 10]]]] * 3, [0, 1], copies=1)
    with pytest.raises(QDError, match="drawing 0: empty drawing"):
        augment.stroke_variants([[]], [0], copies=1)


def test_stroke_variants_vary_real_drawings_seeded_and_never_blank():
    """Variants of bundled drawings (raw ones too): the identity renders a simplified drawing as the
    renderer does (a raw one differs a little: once simplified it is scaled to fill the box again);
    the default varies every one, still ink of the same drawing, and the same seed repeats."""
    simplified = strokes.collect(["star", "bicycle"], kinds=("simplified",))
    raw = strokes.collect(["star", "bicycle"], kinds=("raw",))
    drawings, y = simplified.drawings[:12] + raw.drawings[:12], np.r_[simplified.y[:12], raw.y[:12]]
    same, y1 = augment.stroke_variants(drawings, y, 1, aug=augment.StrokeAugment(0, 0, 0, 0, 0))
    np.testing.assert_array_equal(y1, y)
    off = np.abs(same[:12].astype(int) - render_batch(drawings[:12]).astype(int))
    assert off.mean() < 0.05 and off.max() <= 8       # float32 against float64 points, at the pen's edge
    assert np.abs(same[12:].astype(int) - render_batch(drawings[12:]).astype(int)).mean() < 2
    X, y2 = augment.stroke_variants(drawings, y, 3, seed=1)
    assert X.shape == (72, 28, 28) and (y2 == np.tile(y, 3)).all()
    assert np.array_equal(X, augment.stroke_variants(drawings, y, 3, seed=1)[0])
    assert not np.array_equal(X, augment.stroke_variants(drawings, y, 3, seed=2)[0])
    diff = np.abs(X.astype(int) - np.tile(same, (3, 1, 1)).astype(int)).mean((1, 2))
    assert (diff > 0).all() and (X.reshape(72, -1).max(1) >= 200).all()            # varied, never blank
    ink = X.reshape(72, -1).mean(1) / np.tile(same, (3, 1, 1)).reshape(72, -1).mean(1)
    assert 0.4 < np.median(ink) < 1.6


def test_stroke_dropout_keeps_a_stroke_and_drops_some():
    rng = np.random.default_rng(0)
    drawing = [[[0, 50 * k + 10], [k * 20, k * 20 + 5]] for k in range(6)]
    counts = [len(augment.StrokeAugment(drop=0.9)(drawing, rng)) for _ in range(200)]
    assert min(counts) == 1 and max(counts) <= 6 and np.mean(counts) < 2
    assert [len(augment.StrokeAugment(drop=0.5)([[[0, 10], [0, 10]]], rng)) for _ in range(20)] == [1] * 20
