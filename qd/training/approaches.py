"""The stroke approaches notebook 06 compares, in one registry: the pipeline, the Makefile and the tests
name them from here (`DEFAULT`, `ALL`), and `make` builds each one's model and training settings.

Each approach is an input encoding (`qd.data.encode`: image, channels or sequence) at a size, and a
model trained from scratch or fine-tuned from a checkpoint (our 40-class CNN).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from qd.errors import QDError
from qd.models import architectures, checkpoint
from qd.training.config import TrainConfig
from qd.training.loop import transfer


@dataclass(frozen=True)
class Approach:
    name: str
    input: str             # an input kind of qd.data.encode
    size: int              # image side (images and channels)
    model: str             # an architecture of qd.models.architectures
    pretrained: bool = False   # fine-tuned from a checkpoint instead of trained from scratch


APPROACHES = {a.name: a for a in [
    Approach("CNN 28x28", "image", 28, "cnn"),
    Approach("CNN 64x64", "image", 64, "cnn"),
    Approach("CNN order/time channels", "channels", 28, "cnn"),
    Approach("1-D conv + BiGRU", "sequence", 28, "rnn"),
    Approach("CNN pretrained on 40 classes", "image", 28, "cnn", pretrained=True),
]}
ALL = tuple(APPROACHES)
DEFAULT = ("CNN 28x28",)   # the short comparison that fits `make report` (the shipped qd345.pt beside it)


def resolve(names) -> list[Approach]:
    """None -> `DEFAULT`; "all" -> `ALL`; otherwise a list of names, each checked."""
    if names is None:
        names = DEFAULT
    elif names == "all":
        names = ALL
    elif isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in APPROACHES]
    if unknown:
        raise QDError(f"unknown approach(es) {', '.join(map(repr, unknown))}; the approaches: {', '.join(ALL)}")
    return [APPROACHES[n] for n in names]


@dataclass(frozen=True)
class Settings:
    """The knobs notebook 06 exposes, for every approach at once."""
    epochs: int = 8             # CNNs from scratch
    rnn_epochs: int = 8
    finetune_epochs: int = 12
    finetune_lr: float = 2e-3
    width: int = 32
    seed: int = 0


def make(approach: Approach, n_classes: int, settings: Settings = Settings(),
         pretrained: str | Path | None = None) -> tuple[nn.Module, TrainConfig]:
    """(an untrained or pretrained model, its training settings) for one approach."""
    s = settings
    if approach.pretrained:
        if pretrained is None or not Path(pretrained).is_file():
            raise QDError(f"{approach.name}: no checkpoint to start from at {pretrained}")
        model, base = transfer(pretrained, n_classes, s.seed)
        return model, replace(base, epochs=s.finetune_epochs, lr=s.finetune_lr, augment="flip", seed=s.seed)
    if approach.model == "rnn":
        cfg = TrainConfig(model="rnn", epochs=s.rnn_epochs, lr=3e-3, dropout=0.3, augment="none", seed=s.seed)
    else:
        cfg = TrainConfig(model="cnn", epochs=s.epochs, augment="flip", label_smoothing=0.1, seed=s.seed,
                          model_kw={"width": s.width, "in_channels": 3 if approach.input == "channels" else 1,
                                    "size": approach.size})
    return architectures.build(cfg.model, n_classes, seed=cfg.seed, **checkpoint.model_kwargs(cfg)), cfg
