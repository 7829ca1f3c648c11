"""The models: the reference project's MLP and one-conv CNN, and our own small CNN.

All take float images (N, 1, 28, 28) in 0..1 (see `to_tensor`) and return logits (N, classes).
`build(name, n_classes, **kw)` makes one by name, for the CLI and for checkpoints.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qd.errors import QDError


def nhwc_for(model: nn.Module, X: torch.Tensor) -> nn.Module:
    """For image batches (N, C, H, W), switch `model` to channels_last (NHWC): on CPU its
    convolutions run about twice as fast that way (in batches of 256). Other inputs: unchanged."""
    if X.ndim == 4:
        model.to(memory_format=torch.channels_last)
    return model


def to_tensor(X: np.ndarray) -> torch.Tensor:
    """Model input as float32. uint8 images (N, 28, 28) or (N, 784) -> (N, 1, 28, 28) in 0..1;
    square images of another size (N, S, S) -> (N, 1, S, S); multi-channel images (N, C, S, S)
    stay as they are, scaled to 0..1; float32 stroke sequences (N, T, 3) pass through."""
    X = np.asarray(X)
    if X.dtype == np.float32 and X.ndim == 3 and X.shape[2] == 3:
        return torch.from_numpy(np.ascontiguousarray(X))
    if X.dtype != np.uint8:
        raise QDError(f"images must be uint8 0..255, got {X.dtype}")
    if X.ndim == 2 and X.shape[1] == 784:
        X = X.reshape(-1, 28, 28)
    if X.ndim == 2 and X.shape[0] == X.shape[1]:
        X = X[None]
    if X.ndim == 4 and X.shape[2] == X.shape[3] and X.shape[1] in (1, 3):
        return torch.tensor(X, dtype=torch.float32).div_(255.0)
    if X.ndim != 3 or X.shape[1] != X.shape[2] or X.shape[1] < 8:
        raise QDError(f"images have shape {X.shape}, expected (N, 28, 28) or (N, 784)")
    return torch.tensor(X, dtype=torch.float32).div_(255.0).unsqueeze(1)


class ReferenceMLP(nn.Module):
    """784-128-100-C with batch norm, ReLU and dropout, as in the reference project."""

    def __init__(self, n_classes: int, hidden=(128, 100), dropout: float = 0.2, batch_norm: bool = True):
        super().__init__()
        layers, width = [nn.Flatten()], 784
        for h in hidden:
            layers += [nn.Linear(width, h)]
            if batch_norm:
                layers += [nn.BatchNorm1d(h)]
            layers += [nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers += [nn.Linear(width, n_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class ReferenceCNN(nn.Module):
    """One conv (32 5x5 filters) + one 2x2 max-pool + one fully connected layer, as in the reference."""

    def __init__(self, n_classes: int, channels: int = 32, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * 12 * 12, n_classes))

    def forward(self, x):
        return self.net(x)


def _stage(cin, cout, convs: int = 1):
    """`convs` 3x3 convs with batch norm and ReLU, then a 2x2 max-pool: halves the image side."""
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                   nn.ReLU(inplace=True)]
    return layers + [nn.MaxPool2d(2)]


class QDNet(nn.Module):
    """Our CNN: three conv stages (28 -> 14 -> 7 -> 3) of `width`, 2x and 4x channels, then a small
    fully connected head with dropout. `convs` is the number of 3x3 convs per stage: (1, 1, 1) is
    the fast model (~0.4M parameters, ~0.5 ms a drawing), (2, 2, 1) the accurate one (VGG-style:
    two convs before each of the first two pools, +0.6 points on 13 classes for 1.9x the training
    time). Chosen for accuracy per CPU-second: wider or deeper stacks cost more for less."""

    def __init__(self, n_classes: int, width: int = 32, hidden: int = 256, dropout: float = 0.3,
                 convs=(1, 1, 1), in_channels: int = 1, size: int = 28):
        super().__init__()
        w, (c1, c2, c3) = width, convs
        side = size // 8                                   # three 2x2 pools: 28 -> 3, 64 -> 8
        self.features = nn.Sequential(*_stage(in_channels, w, c1), *_stage(w, 2 * w, c2), *_stage(2 * w, 4 * w, c3),
                                      nn.Flatten())
        self.head = nn.Sequential(nn.Linear(4 * w * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.head(self.features(x))


class StrokeRNN(nn.Module):
    """Google's stroke classifier recipe (the Quick, Draw! RNN tutorial): 1-D convolutions over the
    points (dx, dy, end of stroke), then a bidirectional GRU, then a linear layer; padded points
    (all zero) are left out of the average over time."""

    def __init__(self, n_classes: int, conv: int = 64, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(3, conv, 5, padding=2), nn.ReLU(inplace=True),
                                  nn.Conv1d(conv, conv, 5, padding=2), nn.ReLU(inplace=True))
        self.rnn = nn.GRU(conv, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, n_classes))

    def forward(self, x):                                  # x: (N, T, 3)
        mask = (x.abs().sum(-1) > 0).float().unsqueeze(-1)
        h, _ = self.rnn(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return self.head((h * mask).sum(1) / mask.sum(1).clamp(min=1))


MODELS = {"mlp": ReferenceMLP, "refcnn": ReferenceCNN, "cnn": QDNet, "rnn": StrokeRNN}


def build(name: str, n_classes: int, seed: int = 0, **kw) -> nn.Module:
    """A model by name: 'mlp' (reference MLP), 'refcnn' (reference one-conv CNN), 'cnn' (ours).
    Weights are initialised from `seed`: the same call gives the same model."""
    if name not in MODELS:
        raise QDError(f"unknown model {name!r}; one of {', '.join(MODELS)}")
    if n_classes < 2:
        raise QDError(f"need at least 2 classes, got {n_classes}")
    torch.manual_seed(seed)
    return MODELS[name](n_classes, **kw)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
