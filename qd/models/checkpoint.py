"""The checkpoint format, in one place: what `save` writes and `load` reads back.

A checkpoint is a `torch.save`d dict of plain tensors, strings and numbers (loaded with
`weights_only=True`, so a file can never run code):
  state_dict        the weights
  weights_sha256    SHA-256 of every tensor's bytes in key order (`weights_digest`)
  classes           the class names, in output order
  config            the training settings (a `qd.training.config.TrainConfig` as a dict); `model`,
                    `dropout` and `model_kw` rebuild the architecture
  preprocessing     what the model takes: input kind, size, scale (`PREPROCESSING` by default)
  metrics           figures measured when it was saved
  ...               anything else the caller adds (a detector's `unknown` state, `resume` state)
Older checkpoints load too: their `preprocessing` names the renderer by its old path
(`qd.render.render`), which is only a record.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from torch import nn

from qd import atomic
from qd.errors import QDDataWarning, QDError
from qd.models import architectures

PREPROCESSING = {"input": "image", "size": 28, "scale": "x/255", "ink": "bright on black",
                 "renderer": "qd.data.render.render"}


def weights_digest(state_dict: dict) -> str:
    """SHA-256 of every tensor's bytes, in key order: a flipped bit anywhere changes it."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous().reshape(-1)
        h.update(k.encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_kwargs(config) -> dict:
    """The keyword arguments `architectures.build` needs for a config (a dataclass or its dict):
    its `model_kw` with `dropout` added."""
    cfg = asdict(config) if is_dataclass(config) else config
    kw = cfg.get("model_kw") or {}
    if not isinstance(kw, dict):
        raise QDError(f"model_kw must be a dict, got {type(kw).__name__}")
    kw = dict(kw)
    kw.setdefault("dropout", cfg.get("dropout", 0.0))
    return kw


def save(path: str | Path, model: nn.Module, classes: list[str], config, metrics: dict | None = None,
         **extra) -> Path:
    """Write a checkpoint atomically: a failed save leaves the old file intact. `config`: a
    `TrainConfig` (or its dict); `extra` entries (e.g. resume state, "preprocessing") are stored as
    they are."""
    sd = model.state_dict()
    ck = {"state_dict": sd, "weights_sha256": weights_digest(sd), "classes": list(classes),
          "config": asdict(config) if is_dataclass(config) else dict(config),
          "preprocessing": PREPROCESSING, "metrics": metrics or {}, **extra}   # extra may set "preprocessing"
    return atomic.write_with(path, lambda tmp: torch.save(ck, tmp))


def read(path: str | Path) -> dict:
    """The checkpoint's dict, checked: a `QDError` naming the file when it is not a qd checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise QDError(f"{path}: no such checkpoint")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        first = (str(e).strip().splitlines() or ["no message"])[0][:200]
        what = "an empty file" if path.stat().st_size == 0 else "not a qd checkpoint"
        raise QDError(f"{path}: {what} ({type(e).__name__}: {first})") from e
    if not isinstance(ck, dict) or not {"state_dict", "classes", "config"} <= set(ck):
        raise QDError(f"{path}: not a qd checkpoint (missing state_dict/classes/config)")
    cfg, classes, sd = ck["config"], ck["classes"], ck["state_dict"]
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), str) or cfg["model"] not in architectures.MODELS:
        raise QDError(f"{path}: broken config: 'model' must be one of {', '.join(architectures.MODELS)} "
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
                      QDDataWarning, stacklevel=3)
    return ck


def load(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode; returns (model, the checkpoint's metadata).
    Anything wrong with the file (not a checkpoint, another architecture, a broken config, weights
    that fail their checksum) is a `QDError` naming the file and the problem."""
    ck = read(path)
    cfg, classes = ck["config"], ck["classes"]
    try:
        model = architectures.build(cfg["model"], len(classes), **model_kwargs(cfg))
        model.load_state_dict(ck["state_dict"])
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise QDError(f"{path}: weights do not fit a {cfg['model']!r} model with {len(classes)} classes "
                      f"and config {cfg.get('model_kw') or {}} ({first})") from e
    model.eval()
    return model, {k: v for k, v in ck.items() if k != "state_dict"}
