"""Stroke end -> probabilities on the widgets, measured without a browser: real drawings replayed as
mouse events through the demo's own code (the kernel's share of what a player waits for)."""
from __future__ import annotations

import numpy as np

from qd.app.canvas import Board
from qd.app.free import DrawingApp


def replay(app: Board, strokes) -> list[float]:
    """Feed strokes ([[xs], [ys], ...] lists or arrays) to the app as mouse events; returns the
    server-side latency (ms) from each stroke's end to its probabilities being set on the widgets."""
    out = []
    for s in strokes:
        xs, ys = list(s[0]), list(s[1])
        app.on_down(xs[0], ys[0])
        for x, y in zip(xs[1:], ys[1:]):
            app.on_move(x, y)
        app.last_latency_ms = None
        app.on_up()
        if app.last_latency_ms is not None:
            out.append(app.last_latency_ms)
    return out


def measure_latency(predictor, drawings) -> dict:
    """Median and 95th-percentile stroke-end -> probabilities-shown latency over real drawings,
    without a browser (what the kernel spends; the browser's drawing is not included)."""
    app = DrawingApp(predictor)
    lat = []
    for d in drawings:
        app.clear()
        lat += replay(app, [np.asarray(s)[:2] * 1.5 for s in getattr(d, "strokes", d)])
    return {"strokes": len(lat), "median_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95))}
