"""Augmentation."""
import numpy as np
import torch

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
