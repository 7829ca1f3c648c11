"""Numbers as people read them (95.3%, 0.953, 12 s, 0.53 ms, 12,345) and metric rows as tables."""
from __future__ import annotations

import numpy as np
import pandas as pd


def fmt(key: str, v) -> str:
    """A value as a person reads it: 95.3% for accuracies, rates, shares and calibration errors (ece),
    and for the "I don't know" detector's shares (called unknown, right answers lost, confident);
    0.953 for MAP@3, 12 s, 0.53 ms, 12,345."""
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    if key == "map3":
        return f"{v:.3f}"
    if any(t in key for t in ("acc", "agreement", "rate", "share", "ece", "called", "lost", "confident")) and abs(v) <= 1:
        return f"{100 * v:.1f}%"
    if key.endswith("_s") or key == "seconds":
        return f"{v:.0f} s" if v >= 10 else f"{v:.1f} s"
    if key.endswith("_ms"):
        return f"{v:.2f} ms" if v < 10 else f"{v:.0f} ms"
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


TABLE_COLS = ["model", "protocol", "classes", "test_acc", "top3_acc", "map3", "balanced_acc", "train_s",
              "infer_single_ms", "params", "note"]


def table(rows: list[dict], cols: list[str] | None = None):
    """Metric rows as a DataFrame of rounded, readable strings (for a notebook's output)."""
    cols = cols or [c for c in TABLE_COLS if any(c in r for r in rows)]
    return pd.DataFrame([{c: fmt(c, r.get(c)) for c in cols} for r in rows])
