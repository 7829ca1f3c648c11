"""Training at scale: streaming datasets, DataLoader workers, CUDA with mixed precision when there is
a GPU, and many processes or GPUs with torchrun (DistributedDataParallel + DistributedSampler).

    python -m qd.training.stream --data-dir ~/.cache/quickdraw/numpy_bitmap --kind numpy_bitmap \
        --classes all --epochs 5 --out models/qd345.pt
    torchrun --nproc_per_node 4 -m qd.training.stream --data-dir ... --kind simplified ...   # 4 GPUs/processes
    python -m qd.training.stream ... --resume                                               # continue a run
    python -m qd.training.stream --bench        # one JSON line: training throughput

The same code runs on one CPU process, on a GPU, and under torchrun (NCCL on GPUs, gloo on CPUs).
Every epoch, rank 0 alone writes a checkpoint atomically with all that resuming needs: weights,
optimizer, learning-rate schedule, AMP scaler, the epoch, and the sampler's seed. `--resume` reads
it and continues with the next epoch; each epoch's shuffling and augmentation come from
(seed, epoch), so an interrupted and resumed run trains like an uninterrupted one.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from qd import atomic, checks
from qd.data import augment, bitmaps, datasets, ndjson
from qd.errors import QDError
from qd.models import architectures, checkpoint
from qd.training import config, distributed
from qd.training.config import TrainConfig
from qd.training.loop import make_optimizer

WARMUP_STEPS = 5   # steps left out of the drawings/s figure (worker start-up, first batches)
WORKERS = 2        # DataLoader worker processes per training process


def fit_stream(dataset, classes: list[str], cfg: TrainConfig, out: str | Path | None = None,
               workers: int = WORKERS, resume: bool = False, max_steps: int | None = None,
               progress: bool = True) -> dict:
    """Train `cfg.model` on a map-style dataset of (uint8 image, label); see the module docstring.
    Returns a summary: losses per step (this rank's), epochs done, drawings/s, the weights' digest."""
    cfg.validate()
    workers = checks.integer(workers, "workers", 0)
    if max_steps is not None:
        max_steps = checks.integer(max_steps, "max_steps", 1)
    checks.names(classes, "classes", at_least=2)
    if out is not None:
        atomic.ensure_writable_file(out, "--out")
    rank, world, device = distributed.setup()
    cuda = device.type == "cuda"
    torch.manual_seed(cfg.seed)
    model = architectures.build(cfg.model, len(classes), seed=cfg.seed, **checkpoint.model_kwargs(cfg)).to(device)
    if not cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed, drop_last=True)
    if len(sampler) // cfg.batch_size == 0:
        raise QDError(f"{len(dataset)} drawings give no full batch of {cfg.batch_size} per process "
                      f"({world} process{'es' if world > 1 else ''}): lower --batch-size or use more data")
    steps_per_epoch = len(sampler) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(       # linear warm-up, then cosine decay
        opt, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    start_epoch = 0
    if resume and out is not None and Path(out).exists():
        start_epoch = _resume(Path(out), model, classes, cfg, opt, sched, scaler)
    model = distributed.wrap(model, device)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=workers, drop_last=True,
                        pin_memory=cuda, persistent_workers=workers > 0)
    aug = augment.PRESETS[cfg.augment]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    losses, seen, t0, step, written = [], 0, time.perf_counter(), 0, 0
    t_warm, seen_warm = t0, 0
    done_epoch = start_epoch - 1
    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch * 1_009 + rank)       # dropout of this epoch
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)   # augmentation of this epoch
        model.train()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank != 0, leave=False)
        for xb, yb in bar:
            x = aug(xb.unsqueeze(1).float().div_(255), generator=gen).to(device, non_blocking=True)
            if not cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            y = yb.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                loss = loss_fn(model(x), y)
            if not torch.isfinite(loss) and not cuda:     # on CUDA the AMP scaler skips such steps
                raise QDError(f"training diverged: the loss is {loss.item()} at epoch {epoch + 1}, step {step + 1} "
                              f"(lr {cfg.lr:g} too high?); the last good checkpoint, if any, is kept")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(loss.item())
            seen += len(yb)
            step += 1
            if step == WARMUP_STEPS:           # throughput counts from here: workers started, caches warm
                t_warm, seen_warm = time.perf_counter(), seen
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if max_steps is not None and step >= max_steps:
                break
        done_epoch = epoch
        distributed.broadcast_buffers(model)
        if out is not None:
            written += _save(out, model, classes, cfg, rank, epoch, opt, sched, scaler, losses)
        if max_steps is not None and step >= max_steps:
            break
    seconds = time.perf_counter() - t_warm
    net = distributed.unwrap(model)
    return {"rank": rank, "world": world, "device": str(device), "steps": step, "epochs_done": done_epoch + 1,
            "losses": losses, "drawings_per_s": (seen - seen_warm) * world / max(seconds, 1e-9),
            "checkpoints_written": written,
            "weights_sha256": checkpoint.weights_digest(net.state_dict())}


def _resume(out: Path, model: nn.Module, classes, cfg: TrainConfig, opt, sched, scaler) -> int:
    """Load a run's checkpoint into the model, optimizer, schedule and scaler; the epoch to start at.
    The checkpoint is checked like any other (a `QDError` for a bad file), and it must be this run's:
    same classes and the same training settings (a changed setting would be recorded but not used)."""
    ck = checkpoint.read(out)
    state = ck.get("resume")
    if not isinstance(state, dict) or not {"optimizer", "scheduler", "scaler", "epoch", "sampler"} <= set(state):
        raise QDError(f"{out}: no resume state in this checkpoint (was it written by qd.training.stream?)")
    if ck["classes"] != list(classes):
        theirs, ours = ck["classes"], list(classes)
        diff = "the same classes in another order" if sorted(theirs) == sorted(ours) else \
            f"only in the checkpoint: {sorted(set(theirs) - set(ours))[:5]}; only in this run: {sorted(set(ours) - set(theirs))[:5]}"
        raise QDError(f"{out}: the checkpoint was trained on other classes than this run's ({diff})")
    saved = TrainConfig.from_dict(ck["config"])
    changed = [f"{k}: {getattr(saved, k)!r} -> {getattr(cfg, k)!r}" for k in asdict(cfg) if getattr(saved, k) != getattr(cfg, k)]
    if changed:
        raise QDError(f"{out}: --resume continues a run with its own settings; these differ: {'; '.join(changed)} "
                      "(start a new run with a new --out to change them)")
    try:
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise QDError(f"{out}: its state does not fit this run's model ({first})") from e
    return int(state["epoch"]) + 1


def _save(out, model, classes, cfg, rank, epoch, opt, sched, scaler, losses) -> int:
    """Rank 0 writes; every rank waits for it, so no process reads a half-written file. Returns how
    many files this rank wrote (1 or 0)."""
    if rank == 0:
        checkpoint.save(out, distributed.unwrap(model), classes, cfg,
                        {"epochs_done": epoch + 1, "last_loss": losses[-1] if losses else None},
                        resume={"epoch": epoch, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                "scaler": scaler.state_dict(), "sampler": {"seed": cfg.seed, "epoch": epoch}})
    distributed.barrier()
    return int(rank == 0)


def bench(cfg: TrainConfig = config.STREAMING, steps: int = 60, workers: int = WORKERS) -> dict:
    """Training throughput (drawings/s): from memory-mapped official .npy bitmaps and from simplified
    ndjson rendered on the fly in DataLoader workers, on a mirror built from the bundled data."""
    cfg = replace(cfg, epochs=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = datasets.write_mirror(tmp, bitmaps.THIRTEEN_CLASSES, kinds=("numpy_bitmap",))
        datasets.write_mirror(tmp, ndjson.stroke_classes("first250"), kinds=("simplified",), repeat=4)
        out = {"steps": steps, "batch_size": cfg.batch_size, "workers": workers, "model": cfg.model,
               "device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads()}
        for kind, key in (("numpy_bitmap", "mmap_bitmaps"), ("simplified", "render_on_the_fly")):
            ds = datasets.make(kind, root / kind)
            r = fit_stream(ds, ds.classes, cfg, None, workers, max_steps=steps, progress=False)
            out[f"{key}_drawings_per_s"] = round(r["drawings_per_s"])
        out["ratio"] = round(out["mmap_bitmaps_drawings_per_s"] / out["render_on_the_fly_drawings_per_s"], 3)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.training.stream", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", help="a folder of official <class>.npy or <class>.ndjson files")
    p.add_argument("--kind", default="numpy_bitmap", choices=["numpy_bitmap", "simplified"])
    p.add_argument("--classes", default=None, help='"all", comma-separated names, or every file in --data-dir')
    p.add_argument("--per-class", type=int, default=None, help="at most this many drawings of each class")
    p.add_argument("--workers", type=int, default=WORKERS, help="DataLoader worker processes per training process")
    p.add_argument("--out", default=None, help="checkpoint path (written by rank 0 after every epoch)")
    p.add_argument("--resume", action="store_true", help="continue from --out")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    p.add_argument("--bench", action="store_true", help="print one JSON line: training throughput from "
                   "memory-mapped bitmaps and from strokes rendered on the fly, on a mirror of the bundled data")
    config.add_flags(p, config.STREAMING)
    a = p.parse_args(argv)
    try:
        cfg = config.from_flags(a, config.STREAMING)
        if a.bench:
            print(json.dumps(bench(cfg, workers=a.workers)), flush=True)
            return 0
        if not a.data_dir:
            raise QDError("--data-dir is required (a folder of official class files; see `python -m qd.data.download`)")
        ds = datasets.make(a.kind, a.data_dir, a.classes, part="train", seed=cfg.seed, per_class=a.per_class)
        summary = fit_stream(ds, ds.classes, cfg, a.out, a.workers, a.resume, a.max_steps)
        summary["loss_first"], summary["loss_last"] = (summary["losses"][0], summary["losses"][-1]) if summary["losses"] else (None, None)
        summary["losses"] = [round(x, 5) for x in summary["losses"]]
        # Under torchrun every rank shares one stdout, and their lines interleave mid-line. So rank 0
        # gathers every rank's summary and prints the one JSON line: {...rank 0's..., "ranks": [...]}.
        every = distributed.gather(summary)
        if len(every) > 1:
            summary = {**summary, "ranks": every}
    except QDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {a.out or 'no --out'} holds the last finished epoch, if any; --resume continues from it",
              file=sys.stderr)
        return 130
    finally:
        distributed.teardown()
    if summary["rank"] == 0:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    distributed.exit_process(main())
