"""DoodleNet, ml5's public 345-class Quick, Draw! CNN, as a peer to compare against.

The model ships in `data/peers/doodlenet/` (MIT, (c) 2018 ml5; see its LICENSE and README) in
TensorFlow.js "layers" format: `model.json` holds the Keras topology and the weights manifest,
`group1-shard1of1.bin` the float32 weights in manifest order. We read both ourselves and build the
same network in PyTorch, so no TensorFlow is needed. Keras is channels-last: conv kernels are
(h, w, in, out), dense kernels (in, out), and Flatten runs over (h, w, c), so the port permutes
the feature map to NHWC before flattening.

Caution for every figure: DoodleNet was trained on the first 50,000 drawings of every official
class file, and most bundled drawings are early rows of those files. Its accuracy here is an
upper bound (it may have seen the very test drawings). `CAVEAT` says so in one line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from qd import checks
from qd.errors import QDError
from qd.models.architectures import to_tensor
from qd.paths import DATA_DIR

DOODLENET_DIR = DATA_DIR / "peers" / "doodlenet"
CAVEAT = ("upper bound: DoodleNet trained on the first 50,000 drawings of each class, "
          "which may include these test drawings")
ATTRIBUTION = "DoodleNet by ml5 (MIT licence), github.com/ml5js/ml5-data-and-models"


class _NHWCFlatten(nn.Module):
    """Keras Flatten on channels-last maps: (N, C, H, W) -> (N, H*W*C) in H, W, C order."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


def _layer(kind: str, cfg: dict, shape: list[int], where: str) -> tuple[nn.Module, list[int]]:
    """One Keras layer config -> (torch module, output shape [C, H, W] or [F])."""
    if kind == "Conv2D":
        if cfg.get("padding") != "same" or list(cfg.get("strides", [1, 1])) != [1, 1]:
            raise QDError(f"{where}: only stride-1 'same' convolutions are supported")
        k = cfg["kernel_size"]
        conv = nn.Conv2d(shape[0], cfg["filters"], k, padding=(k[0] // 2, k[1] // 2), bias=cfg.get("use_bias", True))
        return _with_activation(conv, cfg.get("activation"), where), [cfg["filters"], shape[1], shape[2]]
    if kind == "MaxPooling2D":
        p = cfg["pool_size"]
        return nn.MaxPool2d(p, cfg.get("strides") or p), [shape[0], shape[1] // p[0], shape[2] // p[1]]
    if kind == "Dropout":
        return nn.Identity(), shape  # inference only
    if kind == "Flatten":
        return _NHWCFlatten(), [int(np.prod(shape))]
    if kind == "Dense":
        dense = nn.Linear(shape[0], cfg["units"], bias=cfg.get("use_bias", True))
        return _with_activation(dense, cfg.get("activation"), where), [cfg["units"]]
    raise QDError(f"{where}: layer type {kind} is not supported by this port")


def _with_activation(m: nn.Module, act: str | None, where: str) -> nn.Module:
    acts = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "softmax": nn.Softmax(dim=1), "linear": None, None: None}
    if act not in acts:
        raise QDError(f"{where}: activation {act!r} is not supported")
    return m if acts[act] is None else nn.Sequential(m, acts[act])


def load(folder: str | Path | None = None) -> tuple[nn.Module, list[str]]:
    """(model in eval mode, its 345 class names with spaces) from a TF.js layers-model folder.

    The model takes float (N, 1, 28, 28) images in 0..1 (bright ink on black, as `qd.models.architectures.to_tensor`
    makes them) and returns probabilities (its last layer is a softmax)."""
    d = Path(folder) if folder is not None else DOODLENET_DIR
    mj = d / "model.json"
    try:
        spec = json.loads(mj.read_text())
        layers = spec["modelTopology"]["model_config"]["config"]["layers"]
        manifest = [w for group in spec["weightsManifest"] for w in group["weights"]]
        shards = [p for group in spec["weightsManifest"] for p in group["paths"]]
        names = [line.strip().replace("_", " ") for line in (d / "class_names.txt").read_text().splitlines() if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QDError(f"{mj}: not a readable TF.js layers model with class_names.txt ({e})") from e
    names = checks.names(names, f"{mj}: class_names.txt")
    paths = [checks.inside(p, d, f"{mj}: weight shard path") for p in shards]   # never '../../etc/hostname'
    try:
        blob = b"".join(p.read_bytes() for p in paths)
    except OSError as e:
        raise QDError(f"{mj}: cannot read a weight shard ({e})") from e
    if not isinstance(layers, list) or not layers:
        raise QDError(f"{mj}: the topology lists no layers")
    try:
        need = 4 * sum(int(np.prod(w["shape"])) for w in manifest)
        h, w, c = layers[0]["config"]["batch_input_shape"][1:]
        shape, modules, params = [c, h, w], [], []
        for i, layer in enumerate(layers):
            m, shape = _layer(layer["class_name"], layer["config"], shape, f"{mj}: layer {i} ({layer['config'].get('name')})")
            modules.append(m)
            core = m[0] if isinstance(m, nn.Sequential) else m
            if isinstance(core, (nn.Conv2d, nn.Linear)):
                params += [core.weight] + ([core.bias] if core.bias is not None else [])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise QDError(f"{mj}: a broken layer or weight entry ({type(e).__name__}: {e})") from e
    if need != len(blob):
        raise QDError(f"{mj}: the weight shards hold {len(blob)} bytes, the manifest needs {need}")
    if len(params) != len(manifest):
        raise QDError(f"{mj}: the manifest lists {len(manifest)} weights, the topology needs {len(params)}")
    offset = 0
    for p, w in zip(params, manifest):
        if w.get("dtype", "float32") != "float32":
            raise QDError(f"{mj}: weight {w['name']} is {w['dtype']}, only float32 is supported")
        n = int(np.prod(w["shape"]))
        a = np.frombuffer(blob, "<f4", count=n, offset=offset).reshape(w["shape"])
        offset += 4 * n
        if a.ndim == 4:
            a = a.transpose(3, 2, 0, 1)   # (h, w, in, out) -> (out, in, h, w)
        elif a.ndim == 2:
            a = a.T                       # (in, out) -> (out, in)
        if tuple(a.shape) != tuple(p.shape):
            raise QDError(f"{mj}: weight {w['name']} has shape {w['shape']}, the layer needs {tuple(p.shape)}")
        p.data.copy_(torch.from_numpy(a.copy()))
    if shape != [len(names)]:
        raise QDError(f"{mj}: the model has {shape} outputs but class_names.txt lists {len(names)} names")
    model = nn.Sequential(*modules).eval()
    return model, names


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """345-way probabilities (N, 345) for uint8 images (N, 28, 28), ink bright on black."""
    Xt = to_tensor(X)
    return torch.cat([model(Xt[i:i + batch_size]) for i in range(0, len(Xt), batch_size)]).numpy()


def columns(names: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """The column of each of our `classes` in DoodleNet's output (names compared with spaces)."""
    index = {n.replace("_", " "): i for i, n in enumerate(names)}
    missing = [c for c in classes if c.replace("_", " ") not in index]
    if missing:
        raise QDError(f"DoodleNet has no class {', '.join(map(repr, missing))}")
    return np.array([index[c.replace("_", " ")] for c in classes])


def restrict(probs: np.ndarray, names: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """DoodleNet restricted to our classes: its probabilities for their columns only, renormalised,
    in the order of `classes`. Its argmax is the argmax over those columns."""
    p = probs[:, columns(names, classes)]
    return p / np.maximum(p.sum(1, keepdims=True), 1e-12)


def to_ours(probs: np.ndarray, names: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """345-way probabilities re-indexed so that our classes come first (in order) and every other
    DoodleNet class after them: top-1 on this array is the plain 345-way answer, scored against
    labels that index `classes`."""
    cols = columns(names, classes)
    rest = np.setdiff1d(np.arange(probs.shape[1]), cols)
    return probs[:, np.concatenate([cols, rest])]
