"""Training: one seeded loop for every model, checkpoints the demo can load, and a CLI.

    python -m qd.train --model cnn --epochs 12 --lr 3e-3 --weight-decay 1e-4 --dropout 0.3 \
        --optimizer adam --classes "cat,fish,star" --out models/cnn.pt

The loop is plain PyTorch: shuffled mini-batches from in-memory tensors, on-the-fly augmentation,
a one-cycle learning-rate schedule, and per-epoch train/eval accuracy for learning curves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qd import MODELS_DIR, atomic, augment, data, models
from qd.errors import QDDataWarning, QDError

PREPROCESSING = {"input": "image", "size": 28, "scale": "x/255", "ink": "bright on black", "renderer": "qd.render.render"}


@dataclass
class TrainConfig:
    model: str = "cnn"
    epochs: int = 12
    lr: float = 3e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    optimizer: str = "adam"            # adam (AdamW: decoupled weight decay) or sgd (momentum 0.9)
    batch_size: int = 128
    augment: str = "all"               # a key of qd.augment.PRESETS
    label_smoothing: float = 0.0
    schedule: str = "onecycle"         # onecycle or constant
    seed: int = 0
    model_kw: dict = field(default_factory=dict)

    def validate(self) -> "TrainConfig":
        """Every setting in its range, or a `QDError` naming it (before any data is loaded)."""
        checks = [
            (self.model in models.MODELS, f"model must be one of {', '.join(models.MODELS)}"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (math.isfinite(self.lr) and self.lr > 0, "lr must be > 0"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be >= 0"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.optimizer in ("adam", "sgd"), "optimizer must be adam or sgd"),
            (self.augment in augment.PRESETS, f"augment must be one of {', '.join(augment.PRESETS)}"),
            (self.schedule in ("onecycle", "constant"), "schedule must be onecycle or constant"),
        ]
        bad = [f"{msg} (got {getattr(self, msg.split()[0])!r})" for ok, msg in checks if not ok]
        if bad:
            raise QDError("bad training settings: " + "; ".join(bad))
        return self


@dataclass
class History:
    """Per-epoch figures of one training run."""
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    eval_acc: list = field(default_factory=list)
    seconds: float = 0.0


def use_all_cores() -> int:
    n = os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch.Generator().manual_seed(seed)


def make_optimizer(model: nn.Module, cfg: TrainConfig):
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    raise QDError(f"unknown optimizer {cfg.optimizer!r}; adam or sgd")


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        correct += (model(X[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(y))


def fit(model: nn.Module, X_train: np.ndarray, y_train: np.ndarray, cfg: TrainConfig,
        X_eval: np.ndarray | None = None, y_eval: np.ndarray | None = None,
        progress: bool = True, outliers: np.ndarray | None = None, outlier_weight: float = 0.5) -> History:
    """Train `model` in place on uint8 images; evaluate on (X_eval, y_eval) after every epoch.

    `outliers`: images of none of the classes (outlier exposure, Hendrycks et al., 2019). Each step
    also takes a batch of them (a quarter batch, cycling), and adds `outlier_weight` times their
    cross-entropy to the uniform distribution: the model learns to be unsure of what it does not
    know, which is what "I don't know" (qd.unknown) then reads."""
    cfg.validate()
    if len(X_train) != len(y_train):
        raise QDError(f"{len(X_train)} images but {len(y_train)} labels")
    if outliers is not None and (len(outliers) == 0 or np.shape(outliers)[1:] != np.shape(X_train)[1:]):
        raise QDError(f"outliers must be a non-empty stack of images shaped like the training images "
                      f"{np.shape(X_train)[1:]}; got {np.shape(outliers)}")
    if not (math.isfinite(outlier_weight) and outlier_weight >= 0):
        raise QDError(f"outlier_weight must be >= 0 (got {outlier_weight!r})")
    use_all_cores()
    gen = seed_everything(cfg.seed)
    Xt, yt = models.to_tensor(X_train), torch.as_tensor(y_train, dtype=torch.long)
    Xe = models.to_tensor(X_eval) if X_eval is not None else None
    ye = torch.as_tensor(y_eval, dtype=torch.long) if y_eval is not None else None
    aug = augment.PRESETS[cfg.augment]
    models.nhwc_for(model, Xt)
    opt = make_optimizer(model, cfg)
    steps = (len(yt) + cfg.batch_size - 1) // cfg.batch_size
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps)
             if cfg.schedule == "onecycle" else None)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    Xo = models.to_tensor(outliers) if outliers is not None else None
    o_batch = max(1, cfg.batch_size // 4)
    o_perm, o_at = None, 0
    hist = History()
    t0 = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.model}", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        tot_loss, correct = 0.0, 0
        for i in range(0, len(yt), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            xb = Xt[idx]
            if xb.ndim == 4:           # images: augment, NHWC; stroke sequences pass as they are
                xb = aug(xb, generator=gen).contiguous(memory_format=torch.channels_last)
            yb = yt[idx]
            if Xo is None:
                logits = model(xb)
                loss = loss_fn(logits, yb)
            else:                      # one forward pass over both: batch norm sees both kinds
                if o_perm is None or o_at + o_batch > len(o_perm):
                    o_perm, o_at = torch.randperm(len(Xo), generator=gen), 0
                xo = aug(Xo[o_perm[o_at:o_at + o_batch]], generator=gen).contiguous(memory_format=torch.channels_last)
                o_at += o_batch
                out = model(torch.cat([xb, xo]))
                logits = out[:len(yb)]
                loss = loss_fn(logits, yb) - outlier_weight * out[len(yb):].log_softmax(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            tot_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        hist.epoch.append(epoch)
        hist.train_loss.append(tot_loss / len(yt))
        hist.train_acc.append(correct / len(yt))
        hist.eval_acc.append(accuracy(model, Xe, ye) if Xe is not None else float("nan"))
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", acc=f"{hist.eval_acc[-1]:.3f}")
    hist.seconds = time.perf_counter() - t0
    model.eval()
    return hist


# ----------------------------------------------------------------------------- checkpoints

def weights_digest(state_dict: dict) -> str:
    """SHA-256 of every tensor's bytes, in key order: a flipped bit anywhere changes it."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous().reshape(-1)
        h.update(k.encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | Path, model: nn.Module, classes: list[str], cfg: TrainConfig,
                    metrics: dict | None = None, **extra) -> Path:
    """State dict + everything needed to rebuild and use it: class names, config, preprocessing,
    and a checksum of the weights. Written atomically: a failed save leaves the old file intact.
    `extra` entries (e.g. resume state) are stored as they are."""
    sd = model.state_dict()
    ck = {"state_dict": sd, "weights_sha256": weights_digest(sd), "classes": list(classes), "config": asdict(cfg),
          "preprocessing": PREPROCESSING, "metrics": metrics or {}, **extra}   # extra may set "preprocessing"
    return atomic.write_with(path, lambda tmp: torch.save(ck, tmp))


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode; returns (model, the checkpoint's metadata).
    Anything wrong with the file (not a checkpoint, another architecture, a broken config, weights
    that fail their checksum) is a `QDError` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise QDError(f"{path}: no such checkpoint")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        raise QDError(f"{path}: not a qd checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    if not isinstance(ck, dict) or not {"state_dict", "classes", "config"} <= set(ck):
        raise QDError(f"{path}: not a qd checkpoint (missing state_dict/classes/config)")
    cfg, classes, sd = ck["config"], ck["classes"], ck["state_dict"]
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), str) or cfg["model"] not in models.MODELS:
        raise QDError(f"{path}: broken config: 'model' must be one of {', '.join(models.MODELS)} "
                      f"(got {cfg.get('model') if isinstance(cfg, dict) else cfg!r})")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise QDError(f"{path}: broken checkpoint: 'classes' must be a list of at least 2 names")
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise QDError(f"{path}: broken checkpoint: 'state_dict' is not a dict of tensors")
    if "weights_sha256" in ck:
        if weights_digest(sd) != ck["weights_sha256"]:
            raise QDError(f"{path}: weights fail their checksum (the file is corrupt)")
    else:
        warnings.warn(f"{path}: checkpoint has no weights checksum (saved by an older qd); re-save it",
                      QDDataWarning, stacklevel=2)
    try:
        model = models.build(cfg["model"], len(classes), **_model_kw(cfg))
        model.load_state_dict(sd)
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise QDError(f"{path}: weights do not fit a {cfg['model']!r} model with {len(classes)} classes "
                      f"and config {cfg.get('model_kw') or {}} ({first})") from e
    model.eval()
    return model, {k: v for k, v in ck.items() if k != "state_dict"}


def model_kwargs(cfg: TrainConfig) -> dict:
    """The keyword arguments `models.build` needs for this config (dropout and model_kw)."""
    return _model_kw(asdict(cfg))


def _model_kw(cfg: dict) -> dict:
    kw = cfg.get("model_kw") or {}
    if not isinstance(kw, dict):
        raise QDError(f"model_kw must be a dict, got {type(kw).__name__}")
    kw = dict(kw)
    kw.setdefault("dropout", cfg.get("dropout", 0.0))
    return kw


def transfer(path: str | Path, n_classes: int, seed: int = 0) -> tuple[nn.Module, TrainConfig]:
    """A model with a checkpoint's weights and a fresh last layer for `n_classes`: pretrained
    features (e.g. from the 40 bitmap classes) to fine-tune on a new task."""
    src, meta = load_checkpoint(path)
    cfg = TrainConfig(**{k: v for k, v in meta["config"].items() if k in TrainConfig.__dataclass_fields__})
    model = models.build(cfg.model, n_classes, seed=seed, **model_kwargs(cfg))
    own = model.state_dict()
    shared = {k: v for k, v in src.state_dict().items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(shared, strict=False)
    return model, cfg


def train_model(classes: list[str] | None = None, per_class: int = 3000, cfg: TrainConfig | None = None,
                test_size: float = 0.3, split_seed: int = 0, data_dir=None, progress: bool = True):
    """Load, split (seeded, stratified), build, fit: the whole recipe the CLI and notebooks share.
    Returns (model, split, history)."""
    cfg = cfg or TrainConfig()
    ds = data.load_bitmaps(classes, per_class=per_class, data_dir=data_dir)
    sp = data.split(ds, test_size=test_size, seed=split_seed)
    model = models.build(cfg.model, len(sp.classes), seed=cfg.seed, **model_kwargs(cfg))
    hist = fit(model, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=progress)
    return model, sp, hist


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m qd.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = TrainConfig()
    p.add_argument("--model", default=d.model, choices=sorted(models.MODELS))
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--optimizer", default=d.optimizer, choices=["adam", "sgd"])
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--augment", default=d.augment, choices=sorted(augment.PRESETS))
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--classes", default=None, help="comma-separated; default: every bundled class")
    p.add_argument("--per-class", type=int, default=3000)
    p.add_argument("--data-dir", default=None, help="folder of <class>.npz/.npy (default: bundled data/bitmaps)")
    p.add_argument("--out", default=str(MODELS_DIR / "cnn.pt"), help="checkpoint path")
    p.add_argument("--bench", action="store_true", help="print one JSON line: training throughput from "
                   "memory-mapped bitmaps and from strokes rendered on the fly (qd.distributed.bench)")
    a = p.parse_args(argv)
    if a.bench:
        from qd.distributed import bench
        result = bench(batch_size=a.batch_size if a.batch_size != TrainConfig.batch_size else 256, model=a.model)
        print(json.dumps(result))
        return result
    cfg = TrainConfig(model=a.model, epochs=a.epochs, lr=a.lr, weight_decay=a.weight_decay, dropout=a.dropout,
                      optimizer=a.optimizer, batch_size=a.batch_size, augment=a.augment,
                      label_smoothing=a.label_smoothing, seed=a.seed).validate()
    if a.per_class < 2:
        raise QDError(f"--per-class must be >= 2 (a stratified 70/30 split needs 2 drawings a class), got {a.per_class}")
    out = Path(a.out)
    if out.is_dir():
        raise QDError(f"--out {out}: is a folder, expected a checkpoint file path")
    atomic.ensure_writable_dir(out.parent, "--out folder")   # fail now, not after training
    classes = [c.strip() for c in a.classes.split(",")] if a.classes else None
    model, sp, hist = train_model(classes, a.per_class, cfg, data_dir=a.data_dir)
    metrics = {"test_acc": hist.eval_acc[-1], "train_seconds": hist.seconds, **sp.sizes()}
    out = save_checkpoint(out, model, sp.classes, cfg, metrics)
    print(json.dumps({"checkpoint": str(out), "classes": sp.classes, **metrics}, indent=1))
    return metrics


if __name__ == "__main__":
    try:
        main()
    except QDError as e:
        raise SystemExit(f"error: {e}")
