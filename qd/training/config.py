"""`TrainConfig`: every training setting and its default, in one place, and the command-line flags
built from it (so a CLI never restates a default).

`STREAMING` holds the defaults of training at scale (`python -m qd.training.stream`): fewer epochs over
far more drawings, bigger batches, flips only (rendering on the fly is the cost there).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, fields, replace

from qd.checks import whole
from qd.data import augment
from qd.errors import QDError
from qd.models import architectures

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("onecycle", "constant")


@dataclass
class TrainConfig:
    model: str = field(default="cnn", metadata={"help": "architecture", "choices": sorted(architectures.MODELS)})
    epochs: int = field(default=12, metadata={"help": "passes over the training part"})
    lr: float = field(default=3e-3, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "decoupled weight decay"})
    dropout: float = field(default=0.3, metadata={"help": "dropout before the last layer"})
    optimizer: str = field(default="adam", metadata={"help": "adam (AdamW) or sgd (Nesterov momentum 0.9)",
                                                     "choices": OPTIMIZERS})
    batch_size: int = field(default=128, metadata={"help": "drawings per step"})
    augment: str = field(default="all", metadata={"help": "augmentation preset (qd.data.augment.PRESETS)",
                                                  "choices": sorted(augment.PRESETS)})
    label_smoothing: float = field(default=0.0, metadata={"help": "label smoothing of the cross-entropy"})
    schedule: str = field(default="onecycle", metadata={"help": "learning-rate schedule", "choices": SCHEDULES})
    seed: int = field(default=0, metadata={"help": "seeds weights, shuffling, augmentation, dropout"})
    mixup: float = field(default=0.0, metadata={"help": "mixup: each training batch blended with itself shuffled, "
                                                          "by a share drawn from Beta(mixup, mixup) (0: off; e.g. 0.2)"})
    cutmix: float = field(default=0.0, metadata={"help": "cutmix: a box of each training image replaced by its partner's, "
                                                            "its share drawn from Beta(cutmix, cutmix) (0: off; e.g. 1.0)"})
    ema: float = field(default=0.0, metadata={"help": "decay of an exponential moving average of the weights, "
                                                      "updated every step and kept at the end (0: off; e.g. 0.999)"})
    swa_epochs: int = field(default=0, metadata={"help": "stochastic weight averaging: this many more epochs after the "
                                                         "schedule at the constant swa_lr, the weights averaged at the end "
                                                         "of each and kept (0: off)"})
    swa_lr: float = field(default=3e-4, metadata={"help": "the constant learning rate of the swa_epochs"})
    distill: float = field(default=0.0, metadata={"help": "share of the loss taken from a teacher's soft labels "
                                                          "(knowledge distillation; 0: off)", "cli": False})
    distill_temperature: float = field(default=2.0, metadata={"help": "temperature of the teacher's and the "
                                                                       "student's probabilities when distilling", "cli": False})
    model_kw: dict = field(default_factory=dict, metadata={"cli": False})   # architecture settings (width, convs, ...)

    def validate(self) -> "TrainConfig":
        """Every setting in its range, or a `QDError` naming it (before any data is loaded)."""
        checks = [
            (self.model in architectures.MODELS, f"model must be one of {', '.join(architectures.MODELS)}"),
            (whole(self.epochs) and self.epochs >= 1, "epochs must be >= 1, a whole number"),
            (math.isfinite(self.lr) and self.lr > 0, "lr must be > 0"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be >= 0"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (whole(self.batch_size) and self.batch_size >= 1, "batch_size must be >= 1, a whole number"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.augment in augment.PRESETS, f"augment must be one of {', '.join(augment.PRESETS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (isinstance(self.seed, int) and 0 <= self.seed < 2 ** 32, "seed must be a whole number in 0..2**32-1"),
            (math.isfinite(self.mixup) and 0 <= self.mixup <= 10, "mixup must be in [0, 10]"),
            (math.isfinite(self.cutmix) and 0 <= self.cutmix <= 10, "cutmix must be in [0, 10]"),
            (not (self.mixup and self.cutmix), "mixup must be 0 when cutmix is set (one way to mix a batch)"),
            (math.isfinite(self.ema) and 0 <= self.ema < 1, "ema must be in [0, 1)"),
            (whole(self.swa_epochs) and self.swa_epochs >= 0, "swa_epochs must be >= 0, a whole number"),
            (math.isfinite(self.swa_lr) and self.swa_lr > 0, "swa_lr must be > 0"),
            (not (self.ema and self.swa_epochs), "ema must be 0 when swa_epochs is set (two ways to average the weights)"),
            (math.isfinite(self.distill) and 0 <= self.distill <= 1, "distill must be in [0, 1]"),
            (math.isfinite(self.distill_temperature) and self.distill_temperature > 0,
             "distill_temperature must be > 0"),
        ]
        bad = [f"{msg} (got {getattr(self, msg.split()[0])!r})" for ok, msg in checks if not ok]
        if bad:
            raise QDError("bad training settings: " + "; ".join(bad))
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from a checkpoint's record, ignoring keys this version does not know."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


STREAMING = TrainConfig(epochs=5, batch_size=256, augment="flip")


IMAGE_MODELS = ("mlp", "refcnn", "cnn")   # the architectures that take images (the CLIs train on images)


def add_flags(parser: argparse.ArgumentParser, defaults: TrainConfig | None = None,
              models: tuple = IMAGE_MODELS) -> None:
    """One `--flag` per setting of `TrainConfig` (`batch_size` -> `--batch-size`), defaults from
    `defaults` (a `TrainConfig`; default: the dataclass's own); `--model` offers `models`."""
    d = defaults or TrainConfig()
    group = parser.add_argument_group("training settings (qd.training.config.TrainConfig)")
    for f in fields(TrainConfig):
        if not f.metadata.get("cli", True):
            continue
        kw = {"default": getattr(d, f.name), "help": f.metadata.get("help")}
        if f.name == "model":
            kw["choices"] = list(models)
        elif "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        else:
            kw["type"] = {"int": int, "float": float, "str": str}[f.type]
        group.add_argument("--" + f.name.replace("_", "-"), **kw)


def from_flags(args: argparse.Namespace, defaults: TrainConfig | None = None) -> TrainConfig:
    """The validated `TrainConfig` of parsed flags (`add_flags`)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return replace(defaults or TrainConfig(), **given).validate()
