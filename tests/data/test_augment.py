"""Augmentation."""
import numpy as np
import pytest
import torch

from qd import QDError
from qd.data import augment, bitmaps
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
    for amount in (float("nan"), -0.1, "0.1"):
        with pytest.raises(QDError, match="amount must be a finite number"):
            augment.jitter_strokes([[[0, 10], [0, 10]]], amount=amount)
    out = augment.jitter_strokes([[[0, 10], [0, 10]]], amount=0.05, rng=np.random.default_rng(0))
    assert np.isfinite(np.concatenate(out, axis=1)).all()
