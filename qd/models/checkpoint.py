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
import io
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from torch import nn

from qd import atomic, checks
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


MAX_WEIGHT = 1e6   # the release models' largest weight or statistic is about 20; 1e6 is divergence


def save(path: str | Path, model: nn.Module, classes: list[str], config, metrics: dict | None = None,
         **extra) -> Path:
    """Write a checkpoint atomically: a failed save leaves the old file intact. `config`: a
    `TrainConfig` (or its dict); `extra` entries (e.g. resume state, "preprocessing") are stored as
    they are. What could never be loaded back is refused before anything is written: weights that
    diverged (NaN, infinite, or beyond `MAX_WEIGHT`), class names that are not distinct, a class
    count the model does not answer, extras that are no plain data."""
    sd = model.state_dict()
    ck = {"state_dict": sd, "weights_sha256": weights_digest(sd), "classes": list(classes) if isinstance(classes, (list, tuple)) else classes,
          "config": asdict(config) if is_dataclass(config) else config,
          "preprocessing": PREPROCESSING, "metrics": metrics or {}, **extra}   # extra may set "preprocessing"
    where = f"{path}: not saved"
    buf = io.BytesIO()
    try:
        torch.save(ck, buf)
        torch.load(io.BytesIO(buf.getvalue()), map_location="cpu", weights_only=True)
    except Exception as e:  # torch names the first type a safe load refuses
        raise QDError(f"{where}: the checkpoint holds something that is no plain data (tensors, strings, "
                      f"numbers, lists, dicts) and could never be loaded: {_first_line(e)}") from e
    _check(ck, where)
    build(ck, where)
    return atomic.write_with(path, lambda tmp: torch.save(ck, tmp))


def _first_line(e: Exception) -> str:
    """The first line of an exception's message, without torch's advice to load unsafely."""
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    keep = [ln for ln in lines if "weights_only" not in ln and "Re-running" not in ln
            and "WeightsUnpickler" not in ln and "arbitrary code" not in ln]
    return (keep or lines or [type(e).__name__])[0].strip()[:200]


def _check(ck, where: str) -> None:
    """A `QDError` (prefixed `where`) unless `ck` is a qd checkpoint that can be rebuilt."""
    if not isinstance(ck, dict) or not {"state_dict", "classes", "config"} <= set(ck):
        raise QDError(f"{where}: not a checkpoint of this project (missing state_dict/classes/config)")
    cfg, classes, sd = ck["config"], ck["classes"], ck["state_dict"]
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), str) or cfg["model"] not in architectures.MODELS:
        raise QDError(f"{where}: broken config: 'model' must be one of {', '.join(architectures.MODELS)} "
                      f"(got {cfg.get('model') if isinstance(cfg, dict) else cfg!r})")
    try:
        checks.names(classes, "'classes'", at_least=2)
    except QDError as e:
        raise QDError(f"{where}: broken checkpoint: {e}") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise QDError(f"{where}: broken checkpoint: 'state_dict' is not a dict of tensors")
    check_weights(sd, where)


def check_weights(state_dict: dict, where: str) -> None:
    """A `QDError` when a weight or statistic is NaN, infinite or beyond `MAX_WEIGHT`: a model whose
    training diverged (it would answer NaN)."""
    for k, v in state_dict.items():
        if v.is_floating_point():
            if not torch.isfinite(v).all():
                raise QDError(f"{where}: weights {k} hold NaN or infinity (training diverged)")
            if v.numel() and v.abs().max().item() > MAX_WEIGHT:
                raise QDError(f"{where}: weights {k} reach {v.abs().max().item():.3g}, beyond {MAX_WEIGHT:g} "
                              "(training diverged: try a lower --lr)")


def build(ck: dict, where: str) -> nn.Module:
    """The model of a checked checkpoint dict, with its weights, in eval mode."""
    cfg, classes = ck["config"], ck["classes"]
    try:
        model = architectures.build(cfg["model"], len(classes), **model_kwargs(cfg))
    except (RuntimeError, TypeError, ValueError, KeyError, QDError) as e:
        raise QDError(f"{where}: its config {({k: cfg.get(k) for k in ('model', 'dropout', 'model_kw')})} "
                      f"builds no model: {_first_line(e)}") from e
    try:
        model.load_state_dict(ck["state_dict"])
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        raise QDError(f"{where}: weights do not fit a {cfg['model']!r} model with {len(classes)} classes "
                      f"and config {cfg.get('model_kw') or {}} ({_first_line(e)[:300]})") from e
    model.eval()
    return model


def read(path: str | Path) -> dict:
    """The checkpoint's dict, checked: a `QDError` naming the file when it is not a qd checkpoint."""
    path = Path(path)
    if path.is_dir():
        raise QDError(f"{path}: is a folder, expected a checkpoint file")
    if not path.is_file():
        raise QDError(f"{path}: no such checkpoint")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file
        what = "an empty file" if path.stat().st_size == 0 else "not a checkpoint of this project"
        raise QDError(f"{path}: {what} (torch cannot read it as one: {type(e).__name__})") from e
    _check(ck, str(path))
    if "weights_sha256" in ck:
        if weights_digest(ck["state_dict"]) != ck["weights_sha256"]:
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
    return build(ck, str(path)), {k: v for k, v in ck.items() if k != "state_dict"}
