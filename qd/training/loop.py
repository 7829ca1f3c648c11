"""The in-memory training loop: one seeded loop for every model (the CLI is `qd.training.train`).

The loop is plain PyTorch: shuffled mini-batches from in-memory tensors, on-the-fly augmentation,
a one-cycle learning-rate schedule, and per-epoch train/eval accuracy for learning curves.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qd.data import augment, bitmaps
from qd.data.splits import split
from qd.errors import QDError
from qd.models import architectures, checkpoint
from qd.training.config import TrainConfig


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


def mixup(x: torch.Tensor, alpha: float, rng: np.random.Generator, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup (Zhang et al., 2018): the batch blended with itself in another order, `lam` of each
    image and `1 - lam` of its partner, lam ~ Beta(alpha, alpha) once a batch. Returns (blended,
    the partners' positions, lam); the loss takes the same shares of both labels."""
    lam = float(rng.beta(alpha, alpha))
    partner = torch.randperm(len(x), generator=gen)
    return lam * x + (1 - lam) * x[partner], partner, lam


def cutmix(x: torch.Tensor, alpha: float, rng: np.random.Generator, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """CutMix (Yun et al., 2019): a box of each image replaced by the same box of its partner,
    the box's share of the picture about 1 - lam, lam ~ Beta(alpha, alpha) once a batch, the box
    centred anywhere and clipped at the edges. Returns (pasted, the partners' positions, lam), lam
    the share of the picture left to each image's own. (Torchvision has one; it is not a dependency.)"""
    lam = float(rng.beta(alpha, alpha))
    partner = torch.randperm(len(x), generator=gen)
    h, w = x.shape[-2:]
    side = math.sqrt(1 - lam)                # the box's side, as a share of the picture's
    cut_h, cut_w = int(h * side), int(w * side)
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, w)
    out = x.clone()
    out[..., y0:y1, x0:x1] = x[partner, ..., y0:y1, x0:x1]     # the partners' boxes only, not their whole pictures
    return out, partner, 1 - (y1 - y0) * (x1 - x0) / (h * w)


def make_optimizer(model: nn.Module, cfg: TrainConfig):
    if cfg.optimizer == "adam":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    raise QDError(f"unknown optimizer {cfg.optimizer!r}; adam or sgd")


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in eval mode; a `QDError` when the model answers NaN or infinity (training
    diverged: batch-norm statistics can blow up while the training loss still looks finite)."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        out = model(X[i:i + batch_size])
        if not torch.isfinite(out).all():
            raise QDError("training diverged: the model answers NaN or infinity on the evaluation "
                          "drawings (lr too high?); nothing was saved")
        correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(y))


def fit(model: nn.Module, X_train: np.ndarray, y_train: np.ndarray, cfg: TrainConfig,
        X_eval: np.ndarray | None = None, y_eval: np.ndarray | None = None,
        progress: bool = True, outliers: np.ndarray | None = None, outlier_weight: float = 0.5,
        teacher: np.ndarray | None = None) -> History:
    """Train `model` in place on uint8 images; evaluate on (X_eval, y_eval) after every epoch.

    `outliers`: images of none of the classes (outlier exposure, Hendrycks et al., 2019). Each step
    also takes a batch of them (a quarter batch, cycling), and adds `outlier_weight` times their
    cross-entropy to the uniform distribution: the model learns to be unsure of what it does not
    know, which is what "I don't know" (qd.models.unknown) then reads.

    `teacher`: a teacher's probabilities (N, classes) for each training image at temperature
    `cfg.distill_temperature` (knowledge distillation, Hinton et al., 2015). The loss is then
    `cfg.distill` times the KL divergence from them to the student's (times T^2, which keeps the
    gradients' scale), plus the rest times the cross-entropy to the labels.

    `cfg.swa_epochs`: stochastic weight averaging (Izmailov et al., 2018), torch's own. After the
    schedule's `cfg.epochs`, that many more at the constant `cfg.swa_lr`; the weights at the end of
    each are averaged, the batch-norm statistics are measured again for the average on the training
    images, and the average is kept. The evaluation after each of these epochs is of the weights then."""
    cfg.validate()
    if len(X_train) != len(y_train):
        raise QDError(f"{len(X_train)} images but {len(y_train)} labels")
    sequences = np.asarray(X_train).ndim == 3 and np.asarray(X_train).dtype == np.float32
    if (cfg.model == "rnn") != sequences:
        raise QDError(f"model {cfg.model!r} takes {'stroke sequences (N, T, 3)' if cfg.model == 'rnn' else 'images'}, "
                      f"got {'sequences' if sequences else 'images'} of shape {np.shape(X_train)}")
    if outliers is not None and (len(outliers) == 0 or np.shape(outliers)[1:] != np.shape(X_train)[1:]):
        raise QDError(f"outliers must be a non-empty stack of images shaped like the training images "
                      f"{np.shape(X_train)[1:]}; got {np.shape(outliers)}")
    if not (math.isfinite(outlier_weight) and outlier_weight >= 0):
        raise QDError(f"outlier_weight must be >= 0 (got {outlier_weight!r})")
    if (teacher is None) != (cfg.distill == 0):
        raise QDError("distilling needs both teacher probabilities and distill > 0 "
                      f"(got {'no teacher' if teacher is None else 'a teacher'} and distill={cfg.distill})")
    if teacher is not None and (np.ndim(teacher) != 2 or len(teacher) != len(y_train)):
        raise QDError(f"teacher probabilities must be (N, classes) with N = {len(y_train)} training images; "
                      f"got shape {np.shape(teacher)}")
    use_all_cores()
    gen = seed_everything(cfg.seed)
    Xt, yt = architectures.to_tensor(X_train), torch.as_tensor(y_train, dtype=torch.long)
    Xe = architectures.to_tensor(X_eval) if X_eval is not None else None
    ye = torch.as_tensor(y_eval, dtype=torch.long) if y_eval is not None else None
    aug = augment.PRESETS[cfg.augment]
    architectures.nhwc_for(model, Xt)
    opt = make_optimizer(model, cfg)
    steps = (len(yt) + cfg.batch_size - 1) // cfg.batch_size
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps)
             if cfg.schedule == "onecycle" else None)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    soft = torch.as_tensor(teacher, dtype=torch.float32) if teacher is not None else None
    T = cfg.distill_temperature
    Xo = architectures.to_tensor(outliers) if outliers is not None else None
    o_batch = max(1, cfg.batch_size // 4)
    o_perm, o_at = None, 0
    # The weights' exponential moving average (torch's own AveragedModel, batch-norm statistics
    # averaged too): what is evaluated after each epoch and kept at the end when `cfg.ema` is set.
    ema = (torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema),
                                               use_buffers=True) if cfg.ema else None)
    swa = torch.optim.swa_utils.AveragedModel(model) if cfg.swa_epochs else None
    mix_rng = np.random.default_rng(cfg.seed)
    hist = History()
    t0 = time.perf_counter()
    bar = tqdm(range(1, cfg.epochs + cfg.swa_epochs + 1), desc=f"train {cfg.model}", disable=not progress, leave=False)
    for epoch in bar:
        if epoch == cfg.epochs + 1:    # the schedule is over: stochastic weight averaging
            sched = None
            for group in opt.param_groups:
                group["lr"] = cfg.swa_lr
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        tot_loss, correct = 0.0, 0
        for i in range(0, len(yt), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            xb = Xt[idx]
            if xb.ndim == 4:           # images: augment, NHWC; stroke sequences pass as they are
                xb = aug(xb, generator=gen).contiguous(memory_format=torch.channels_last)
            yb = yt[idx]
            partner, lam = None, 1.0
            if cfg.mixup and xb.ndim == 4:
                xb, partner, lam = mixup(xb, cfg.mixup, mix_rng, gen)
            elif cfg.cutmix and xb.ndim == 4:
                xb, partner, lam = cutmix(xb, cfg.cutmix, mix_rng, gen)

            def criterion(logits):
                own = loss_fn(logits, yb)
                hard = own if partner is None else lam * own + (1 - lam) * loss_fn(logits, yb[partner])
                if soft is None:
                    return hard
                if soft.shape[1] != logits.shape[1]:
                    raise QDError(f"teacher probabilities give {soft.shape[1]} classes, the model answers {logits.shape[1]}")
                target = soft[idx] if partner is None else lam * soft[idx] + (1 - lam) * soft[idx][partner]
                kl = nn.functional.kl_div((logits / T).log_softmax(1), target, reduction="batchmean")
                return (1 - cfg.distill) * hard + cfg.distill * T * T * kl

            if Xo is None:
                logits = model(xb)
                loss = criterion(logits)
            else:                      # one forward pass over both: batch norm sees both kinds
                if o_perm is None or o_at + o_batch > len(o_perm):
                    o_perm, o_at = torch.randperm(len(Xo), generator=gen), 0
                xo = aug(Xo[o_perm[o_at:o_at + o_batch]], generator=gen).contiguous(memory_format=torch.channels_last)
                o_at += o_batch
                out = model(torch.cat([xb, xo]))
                logits = out[:len(yb)]
                loss = criterion(logits) - outlier_weight * out[len(yb):].log_softmax(1).mean()
            if not torch.isfinite(loss):
                raise QDError(f"training diverged: the loss is {loss.item()} at epoch {epoch}, step "
                              f"{i // cfg.batch_size + 1} (lr {cfg.lr:g} too high?); nothing was saved")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if ema is not None:
                ema.update_parameters(model)
            tot_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        checkpoint.check_weights(model.state_dict(), f"epoch {epoch}, nothing saved")   # diverged: stop
        if swa is not None and epoch > cfg.epochs:
            swa.update_parameters(model)
        hist.epoch.append(epoch)
        hist.train_loss.append(tot_loss / len(yt))
        hist.train_acc.append(correct / len(yt))
        hist.eval_acc.append(accuracy(ema.module if ema is not None else model, Xe, ye) if Xe is not None else float("nan"))
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", acc=f"{hist.eval_acc[-1]:.3f}")
    if ema is not None:
        model.load_state_dict(ema.module.state_dict())
    if swa is not None:
        torch.optim.swa_utils.update_bn((Xt[i:i + 256].contiguous(memory_format=torch.channels_last) if Xt.ndim == 4
                                         else Xt[i:i + 256] for i in range(0, len(Xt), 256)), swa.module)
        model.load_state_dict(swa.module.state_dict())
    hist.seconds = time.perf_counter() - t0
    model.eval()
    return hist


def transfer(path: str | Path, n_classes: int, seed: int = 0) -> tuple[nn.Module, TrainConfig]:
    """A model with a checkpoint's weights and a fresh last layer for `n_classes`: pretrained
    features (e.g. from the 40 bitmap classes) to fine-tune on a new task."""
    src, meta = checkpoint.load(path)
    cfg = TrainConfig.from_dict(meta["config"])
    model = architectures.build(cfg.model, n_classes, seed=seed, **checkpoint.model_kwargs(cfg))
    own = model.state_dict()
    shared = {k: v for k, v in src.state_dict().items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(shared, strict=False)
    return model, cfg


def train_model(classes: list[str] | None = None, per_class: int = 3000, cfg: TrainConfig | None = None,
                test_size: float = 0.3, split_seed: int = 0, data_dir=None, progress: bool = True):
    """Load, split (seeded, stratified), build, fit: the whole recipe the CLI and notebooks share.
    Returns (model, split, history)."""
    cfg = cfg or TrainConfig()
    ds = bitmaps.load_bitmaps(classes, per_class=per_class, data_dir=data_dir)
    sp = split(ds, test_size=test_size, seed=split_seed)
    model = architectures.build(cfg.model, len(sp.classes), seed=cfg.seed, **checkpoint.model_kwargs(cfg))
    hist = fit(model, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=progress)
    return model, sp, hist
