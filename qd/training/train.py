"""Train a model on bundled (or official) bitmaps from the command line, and save its checkpoint.

    python -m qd.training.train --model cnn --epochs 12 --classes "cat,fish,star" --out models/cnn.pt

Every training setting is a flag built from `qd.training.config.TrainConfig`, with its default.
"""
from __future__ import annotations

import argparse
import json

from qd import atomic
from qd.data import bitmaps
from qd.errors import QDError
from qd.models import checkpoint
from qd.paths import MODELS_DIR
from qd.training import config
from qd.training.loop import train_model


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.training.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--classes", default=None, help="comma-separated; default: every bundled class")
    p.add_argument("--per-class", type=int, default=3000)
    p.add_argument("--data-dir", default=None, help="folder of <class>.npz/.npy (default: bundled data/bitmaps)")
    p.add_argument("--out", default=str(MODELS_DIR / "cnn.pt"), help="checkpoint path")
    config.add_flags(p)
    a = p.parse_args(argv)
    cfg = config.from_flags(a)
    if a.per_class < 2:
        raise QDError(f"--per-class must be >= 2 (a stratified 70/30 split needs 2 drawings a class), got {a.per_class}")
    out = atomic.ensure_writable_file(a.out, "--out")   # fail now, not after training
    classes = None
    if a.classes is not None:
        classes = bitmaps.resolve_classes(a.classes)
        if not classes:
            raise QDError(f"--classes {a.classes!r} names no class; leave it out for every bundled class")
    model, sp, hist = train_model(classes, a.per_class, cfg, data_dir=a.data_dir)
    metrics = {"test_acc": hist.eval_acc[-1], "train_seconds": hist.seconds, **sp.sizes()}
    out = checkpoint.save(out, model, sp.classes, cfg, metrics)
    print(json.dumps({"checkpoint": str(out), "classes": sp.classes, **metrics}, indent=1))
    return metrics


if __name__ == "__main__":
    try:
        main()
    except QDError as e:
        raise SystemExit(f"error: {e}")
    except KeyboardInterrupt:
        raise SystemExit("interrupted: nothing was saved (the checkpoint is written once training ends)")
