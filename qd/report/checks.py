"""Notebook 04's checks of the demo's model on the bundled stroke drawings: the same drawings as
official bitmaps and as our renders (do they get the same answer?), other stroke drawings rendered
as the demo renders them, and how long one drawing takes."""
from __future__ import annotations

import numpy as np
import torch

from qd.app.latency import measure_latency
from qd.data import bitmaps, ndjson
from qd.data.render import render
from qd.data.strokes import match_official
from qd.errors import QDError
from qd.models.infer import Predictor, predict_proba
from qd.report.metrics import topk_accuracy


def renders_against_official(model: torch.nn.Module, classes: list[str], tta: bool = False) -> list[dict]:
    """Rows: on the stroke drawings that are also official bitmap rows, how often the model answers the
    same for the official bitmap and for our render, and its accuracy on each; then its accuracy on
    the other simplified and raw stroke drawings, rendered."""
    pairs, others = [], []
    for k, c in enumerate(classes):
        official = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{c}.npz")
        for kind in ("simplified", "raw"):
            try:
                drawings = ndjson.load_drawings(ndjson.strokes_path(c, kind))
            except QDError:         # no bundled drawings of this class in this format
                continue
            matched = {i: j for i, j, _ in match_official(drawings, official)}
            for i, d in enumerate(drawings):
                (pairs if i in matched else others).append((k, kind, render(d), official[matched[i]] if i in matched else None))
    rows = []
    if pairs:
        ours = predict_proba(model, np.stack([p[2] for p in pairs]), tta=tta).argmax(1)
        theirs = predict_proba(model, np.stack([p[3] for p in pairs]), tta=tta).argmax(1)
        y = np.array([p[0] for p in pairs])
        rows.append({"figure": "same drawings: official bitmap vs our rendering", "drawings": len(pairs),
                     "prediction_agreement": float((ours == theirs).mean()), "acc_official": float((theirs == y).mean()),
                     "acc_ours": float((ours == y).mean())})
    for kind in ("simplified", "raw"):
        sel = [p for p in others if p[1] == kind]
        if sel:
            probs = predict_proba(model, np.stack([p[2] for p in sel]), tta=tta)
            rows.append({"figure": f"other {kind} stroke drawings, rendered", "drawings": len(sel),
                         "acc_ours": topk_accuracy(probs, np.array([p[0] for p in sel]), 1)})
    return rows


def latency_rows(predictor: Predictor, classes: list[str], n_classes: int = 5, per_class: int = 4) -> list[dict]:
    """Rows: one raw drawing from strokes to probabilities (median), and the demo's stroke end to
    probabilities shown, server side, over a few real drawings."""
    example = ndjson.load_drawings(ndjson.strokes_path(classes[0], "raw"), limit=1)[0]
    drawings = [d for c in classes[:n_classes]
                for d in ndjson.load_drawings(ndjson.strokes_path(c, "simplified"), limit=per_class)]
    return [{"figure": "inference latency for one drawing (median)", **predictor.latency_ms(example.strokes)},
            {"figure": "demo: stroke end -> probabilities shown (server side)", **measure_latency(predictor, drawings)}]
