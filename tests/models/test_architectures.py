"""The architectures: shapes, the reference recipes, bad inputs."""
import numpy as np
import pytest
import torch

from qd import QDError
from qd.data import encode
from qd.data.ndjson import Drawing
from qd.models import architectures


def _drawing(strokes_, key="1"):
    return Drawing(word="x", strokes=[np.asarray(s, np.float32) for s in strokes_], key_id=key)


HAND = _drawing([[[0, 0, 100], [0, 100, 100]], [[255], [0]]])


@pytest.mark.parametrize("name,kw", [("mlp", {}), ("mlp", {"hidden": (64,), "batch_norm": False}),
                                     ("refcnn", {}), ("cnn", {}), ("cnn", {"width": 8})])
def test_forward_shapes(name, kw):
    m = architectures.build(name, 7, **kw).eval()
    x = architectures.to_tensor(np.zeros((5, 28, 28), np.uint8))
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert m(x).shape == (5, 7)


def test_reference_architectures_are_the_references():
    mlp = architectures.build("mlp", 10)
    linears = [l for l in mlp.modules() if isinstance(l, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 128), (128, 100), (100, 10)]
    assert any(isinstance(l, torch.nn.BatchNorm1d) for l in mlp.modules())
    ref = architectures.build("refcnn", 10)
    kinds = [type(l).__name__ for l in ref.modules()]
    assert kinds.count("Conv2d") == 1 and kinds.count("MaxPool2d") == 1 and kinds.count("Linear") == 1


def test_bad_model_inputs():
    with pytest.raises(QDError, match="unknown model 'resnet'"):
        architectures.build("resnet", 10)
    with pytest.raises(QDError, match="at least 2 classes"):
        architectures.build("cnn", 1)
    with pytest.raises(QDError, match=r"shape \(3, 27, 28\)"):
        architectures.to_tensor(np.zeros((3, 27, 28), np.uint8))
    with pytest.raises(QDError, match="must be uint8"):
        architectures.to_tensor(np.zeros((3, 28, 28), np.float32))


def test_stroke_models_take_their_inputs():
    seq = torch.from_numpy(encode.sequences([HAND] * 4, 32))
    assert architectures.build("rnn", 5)(seq).shape == (4, 5)
    ch = architectures.to_tensor(encode.encode("channels", [HAND] * 2, 28))
    assert ch.shape == (2, 3, 28, 28) and architectures.build("cnn", 5, in_channels=3)(ch).shape == (2, 5)
    big = architectures.to_tensor(encode.encode("image", [HAND] * 2, 64))
    assert big.shape == (2, 1, 64, 64) and architectures.build("cnn", 5, size=64)(big).shape == (2, 5)
    with pytest.raises(QDError, match="unknown input kind"):
        encode.encode("audio", [HAND])
