"""The release models: trained once by our own recipe (`make models`), shipped in models/, used by the
demo out of the box and evaluated (never retrained) by the report.

    python -m qd.training.release                  # every release model into models/ (~1 hour on 2 cores)
    python -m qd.training.release --only cnn13     # one of them
    python -m qd.training.release --tiny --out /tmp/m   # the same recipe with tiny settings (tests)

Then `python -m qd.report.model_card` measures them and writes models/README.md, card.json and
SHA256SUMS (`make models` runs both). Every random choice is seeded; the data is the bundled data.
DoodleNet's outputs are never a training target: its figures are upper bounds because it may have
seen our test drawings, and training on them would leak that into ours.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from qd import atomic
from qd.data import augment, bitmaps, encode, prefixes, splits, strokes
from qd.data.render import render_batch
from qd.errors import QDError
from qd.models import architectures, calibrate, checkpoint, infer, unknown
from qd.paths import MODELS_DIR
from qd.training.config import TrainConfig
from qd.training.loop import fit, transfer

STROKE_TASK = "345 classes"     # the bundled stroke drawings of every official class


@dataclass(frozen=True)
class Release:
    name: str                   # the file in models/ (<name>.pt)
    title: str
    task: str                   # a bitmap protocol (qd.data.bitmaps.PROTOCOLS) or STROKE_TASK
    cfg: TrainConfig
    tta: bool = True            # the figures and the demo average each drawing with its mirror image
    val_size: float = 0.0       # of the whole protocol, carved from training (calibrates "I don't know")
    outlier_exposure: bool = False
    unknown_max_lost: float | None = None   # fit an "I don't know" detector allowed to lose this share
    pretrained: str | None = None           # another release's name: fine-tuned from it
    partial: int | None = None              # learn partial drawings: this many cuts of each training stroke drawing
    stroke_copies: int = 0                  # also learn this many stroke-level variants of each training stroke
                                            # drawing (qd.data.augment.stroke_variants), rendered once
    calibrate: bool = False                 # fit a temperature on the validation part (qd.models.calibrate)
    past_cap: bool = False                  # bitmap task: also train on the bundled rows past the protocol's cap
                                            # (qd.data.bitmaps.past_cap: in no part of its split)
    teachers: int = 0                       # stroke task: first train this many models by the same recipe (seeds
                                            # seed, seed+1, ...), then the release distilled from their averaged
                                            # probabilities (needs cfg.distill > 0)
    notes: tuple = field(default=())


RELEASES = (
    Release("cnn13", "Our CNN, 13 classes", "13 classes",
            TrainConfig(model="cnn", epochs=30, lr=3e-3, dropout=0.3, label_smoothing=0.1, augment="all",
                        swa_epochs=10, model_kw={"width": 48, "convs": [2, 2, 1]}),
            past_cap=True,
            notes=("QDNet, 1.5x wider than the report's former 8-epoch model",
                   "the rows past the cap, each against the round-two model of 20 epochs on the protocol's "
                   "training drawings alone (96.6% top-1): with them, 20 epochs 96.8%, 30 epochs 96.87% (kept); "
                   "averaging the probabilities of the 20-epoch models with and without them: 96.7%",
                   "stochastic weight averaging after the 30 epochs, each against the 30-epoch model (96.87%): "
                   "10 more epochs at swa_lr=3e-4 96.97% (kept), at swa_lr=1e-3 96.91%; an EMA of the weights instead "
                   "(ema=0.999) 96.86%")),
    Release("cnn", "Our CNN, 40 classes (the demo's model, with \"I don't know\")", "40 classes",
            TrainConfig(model="cnn", epochs=12, lr=3e-3, dropout=0.3, label_smoothing=0.1, augment="flip",
                        model_kw={"width": 32, "convs": [2, 2, 1]}),
            val_size=0.05, outlier_exposure=True, unknown_max_lost=0.045, calibrate=True,
            notes=("outlier exposure: the calibration classes' stroke drawings pushed to a uniform guess",
                   "5% of the protocol kept from training to calibrate \"I don't know\" and the probabilities",
                   "not trained on partial drawings: with them (partial=8: the bundled stroke drawings of its "
                   "classes but its game replay's, whole and cut after k strokes and mid-stroke) the replay "
                   "won 95.8% of rounds in a median 2.65 s, without them 97.0% in 2.42 s")),
    Release("qd345", "Our CNN, all 345 classes, from strokes", STROKE_TASK,
            TrainConfig(model="cnn", epochs=4, lr=2e-3, dropout=0.3, label_smoothing=0.1, augment="flip",
                        model_kw={"width": 32, "convs": [2, 2, 1]}),
            pretrained="cnn", calibrate=True, stroke_copies=8,
            notes=("fine-tuned from the 40-class release model (features learned on 40 bitmap classes)",
                   "10% of the training drawings (by key) kept to calibrate the probabilities",
                   "stroke-level variants (stroke_copies=8, 4 epochs: as many steps as 20 epochs of the drawings alone), "
                   "each against the same fine-tuning trained the same day (55.2% top-1, 71.7% top-3 on the test split): "
                   "4 variants 55.9% and 73.3%, 4 variants for 8 epochs 57.0% and 73.7%, 8 variants 57.8% and 73.7% "
                   "(kept), 16 variants for 2 epochs 57.3% and 73.1%, 16 for 4 epochs 58.0% and 74.0% (twice the time)",
                   "not kept, each against the same fine-tuning without it (55.2% and 71.7%): an exponential moving "
                   "average of the weights (ema=0.99, about 1.4 epochs) 55.3% and 71.6%; mixup (mixup=0.2) 55.0% and "
                   "71.1%; twice as long (epochs=40) 55.4% and 70.9%; with 4 variants for 8 epochs, adding 300 "
                   "training bitmaps a class of the 40 bitmap classes (their prior taken out of the last layer's "
                   "bias afterwards) 55.0% and 72.2% against 57.0% and 73.7%",
                   "not trained on partial drawings: with them (partial=4: every training drawing also cut after "
                   "k strokes and mid-stroke) the replay won 58.1% of rounds and the complete held-out raw "
                   "drawings fell to 38.8% right; without them 60.9% and 46.7% (an earlier recipe, before the "
                   "validation part)")),
)
BY_NAME = {r.name: r for r in RELEASES}


def tiny(r: Release) -> Release:
    """The same recipe with tiny settings: one epoch of a narrow model, and one of weight averaging
    if it averages (tests, smoke runs)."""
    return replace(r, cfg=replace(r.cfg, epochs=1, swa_epochs=min(r.cfg.swa_epochs, 1),
                                  model_kw={**r.cfg.model_kw, "width": 8}))


STROKE_VAL = 0.1           # of the stroke task's training part, kept to calibrate


def with_partials(X: np.ndarray, y: np.ndarray, drawings: list, labels: np.ndarray, per_drawing: int, seed: int,
                  whole: bool) -> tuple[np.ndarray, np.ndarray]:
    """Training images plus partial drawings (`qd.data.prefixes`) of stroke drawings (and, `whole`,
    the stroke drawings complete too)."""
    Xp, yp = prefixes.prefix_images(drawings, labels, per_drawing, seed)
    parts, ys = [X, Xp], [y, yp]
    if whole:
        parts.append(render_batch(drawings))
        ys.append(np.asarray(labels, np.int64))
    return np.concatenate(parts), np.concatenate(ys)


def temperature_of(model, X_val, y_val, X_test, y_test, tta: bool) -> tuple[float, dict]:
    """The temperature fitted on the validation part, and the test ECE before and after."""
    T = calibrate.fit_temperature(infer.view_logits(model, X_val, tta), y_val)
    test = infer.view_logits(model, X_test, tta)
    return T, {"temperature": T, "validation": len(y_val),
               "ece_before": calibrate.expected_calibration_error(calibrate.probabilities(test), y_test),
               "ece_after": calibrate.expected_calibration_error(calibrate.probabilities(test, T), y_test)}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def train_release(r: Release, out_dir: Path, per_class: int | None = None, max_classes: int | None = None,
                  cal_per_class: int | None = None, progress: bool = True) -> Path:
    """Train one release model and save it to out_dir/<name>.pt with what the card needs."""
    t0 = time.perf_counter()
    extra, meta = {}, {"release": r.name, "title": r.title, "task": r.task, "tta": r.tta, "notes": list(r.notes)}
    if r.task == STROKE_TASK:
        from_path = out_dir / f"{r.pretrained}.pt" if r.pretrained else None
        ss, tr, te = strokes.stroke_split(bitmaps.all_classes()[:max_classes] if max_classes else None, r.cfg.seed)
        va = tr[splits.hash_fraction(ss.keys[tr], r.cfg.seed + 1) < STROKE_VAL] if r.calibrate else tr[:0]
        tr = np.setdiff1d(tr, va)
        sp = encode.task_split(ss, tr, te, "image", 28)
        X_val, y_val = render_batch([ss.drawings[i] for i in va]), ss.y[va]
        if from_path is not None:
            if not from_path.is_file():
                raise QDError(f"{r.name} is fine-tuned from {from_path}, which is not there: train {r.pretrained} first")
            base = TrainConfig.from_dict(checkpoint.load(from_path)[1]["config"])
            r = replace(r, cfg=replace(r.cfg, model_kw=base.model_kw, dropout=base.dropout))   # the architecture it has
            meta["pretrained_from"] = from_path.name
        if r.teachers and not r.cfg.distill:
            raise QDError(f"{r.name}: {r.teachers} teachers but nothing distilled from them (set cfg.distill > 0)")
        drawings = [ss.drawings[i] for i in tr]

        def recipe(seed: int):
            """An untrained model of the recipe and its training images; `seed` seeds the weights and variants."""
            model = (transfer(from_path, len(ss.classes), seed)[0] if from_path is not None else
                     architectures.build(r.cfg.model, len(ss.classes), seed=seed, **checkpoint.model_kwargs(r.cfg)))
            X, y = sp.X_train, sp.y_train
            if r.stroke_copies:
                Xa, ya = augment.stroke_variants(drawings, ss.y[tr], r.stroke_copies, seed)
                X, y = np.concatenate([X, Xa]), np.concatenate([y, ya])
            if r.partial:
                X, y = with_partials(X, y, drawings, ss.y[tr], r.partial, seed, whole=False)
            return model, X, y

        members = []
        for k in range(r.teachers):                     # an ensemble of the recipe to distil from
            member, X, y = recipe(r.cfg.seed + k)
            fit(member, X, y, replace(r.cfg, seed=r.cfg.seed + k, distill=0.0), progress=progress)
            members.append(member)
        model, X_train, y_train = recipe(r.cfg.seed)
        teacher = (np.mean([infer.predict_proba(m, X_train, tta=r.tta, temperature=r.cfg.distill_temperature)
                            for m in members], axis=0) if members else None)
        hist = fit(model, X_train, y_train, r.cfg, progress=progress, teacher=teacher)
        classes = ss.classes
        meta |= {"train": len(tr), "test": len(te), "val": len(va), "train_images": len(y_train),
                 "stroke_copies": r.stroke_copies, "teachers": r.teachers}
        extra["preprocessing"] = {**checkpoint.PREPROCESSING, "input": "image", "size": 28}
    else:
        sp = bitmaps.load_protocol(r.task, per_class, seed=r.cfg.seed, val_size=r.val_size)
        outliers = unknown.calibration_images(sp.classes, r.cfg.seed, cal_per_class) if r.outlier_exposure else None
        model = architectures.build(r.cfg.model, len(sp.classes), seed=r.cfg.seed, **checkpoint.model_kwargs(r.cfg))
        X_train, y_train = sp.X_train, sp.y_train
        if r.past_cap:
            more = bitmaps.past_cap(r.task, per_class)
            X_train, y_train = np.concatenate([X_train, more.X]), np.concatenate([y_train, more.y])
            meta["past_cap"] = len(more)
        if r.partial:     # every stroke drawing of its classes but those its game replay plays
            ss = strokes.collect(sp.classes)
            played = {d.key_id for d in strokes.raw_unlike_bitmaps(sp.classes)}
            tr = np.asarray([i for i, d in enumerate(ss.drawings) if d.key_id not in played], np.int64)
            X_train, y_train = with_partials(X_train, y_train, [ss.drawings[i] for i in tr], ss.y[tr], r.partial,
                                             r.cfg.seed, whole=True)
            meta["partial_from_stroke_drawings"] = len(tr)
        hist = fit(model, X_train, y_train, r.cfg, progress=progress, outliers=outliers)
        classes = sp.classes
        meta |= sp.sizes() | {"train_images": len(y_train)}
        X_val, y_val = sp.X_val, sp.y_val
        if outliers is not None:
            meta["outlier_exposure_drawings"] = len(outliers)
        if r.unknown_max_lost is not None:
            detector, figures = unknown.calibrate(model, sp.classes, sp.X_train, sp.y_train, sp.X_test, sp.y_test,
                                                  r.cfg.seed, r.unknown_max_lost, cal_per_class, sp.X_val, sp.y_val,
                                                  outliers)
            extra["unknown"] = detector.state()
            meta["unknown"] = figures
    if r.calibrate:
        if X_val is None or len(X_val) == 0:
            raise QDError(f"{r.name} calibrates its probabilities but has no validation part (set val_size)")
        extra["temperature"], meta["calibration"] = temperature_of(model, X_val, y_val, sp.X_test, sp.y_test, r.tta)
    meta |= {"train_seconds": hist.seconds, "total_seconds": time.perf_counter() - t0,
             "final_train_loss": hist.train_loss[-1], "machine": machine()}
    return checkpoint.save(out_dir / f"{r.name}.pt", model, classes, r.cfg, meta, **extra)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.training.release", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(MODELS_DIR), help="folder for the checkpoints")
    p.add_argument("--only", nargs="+", choices=list(BY_NAME), help="train only these (in release order)")
    p.add_argument("--tiny", action="store_true", help="tiny settings: 1 epoch, narrow models, little data")
    a = p.parse_args(argv)
    out = atomic.ensure_writable_dir(Path(a.out), "--out folder")
    torch.set_num_threads(os.cpu_count() or 1)
    done = {}
    try:
        for r in RELEASES:
            if a.only and r.name not in a.only:
                continue
            rr = tiny(r) if a.tiny else r
            t = time.perf_counter()
            path = train_release(rr, out, per_class=60 if a.tiny else None, max_classes=12 if a.tiny else None,
                                 cal_per_class=5 if a.tiny else None)
            done[r.name] = {"checkpoint": str(path), "seconds": round(time.perf_counter() - t, 1)}
            print(f"{r.name}: {path} in {done[r.name]['seconds']:.0f} s", file=sys.stderr, flush=True)
    except QDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: finished so far: {', '.join(done) or 'none'} (in {out}); the model in training was not saved",
              file=sys.stderr)
        return 130
    print(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
