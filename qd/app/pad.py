"""The demo's drawing pad: a canvas that draws in the browser and sends the pen's points in batches.

Why not a plain ipycanvas Canvas: it sends one comm message per mouse move, and the kernel answers
each with a busy status, an idle status and the segment to draw, all relayed by Voila's one process.
At 30 pupils drawing at once that is about 2,700 messages a second through a 2-core server, which
fills both cores (README, "Serving a class"). Here the pen draws in the page at once, and its
points reach the kernel every `BATCH_SECONDS` while a stroke is open and at its end, in one message:
about a third of the messages in (171 browser events of a held-out drawing are 54 messages), and no
segment echoed back.

The kernel keeps the drawing (`strokes`, in canvas pixels, the official [[xs], [ys]] layout); when
it changes it itself (undo, clear, a new round, a stroke it refused) it bumps `revision` and the page
redraws from `strokes`, a stroke still being drawn there on top (the kernel has not had all of it). The state is widget state, so a view
rendered late (Voila's first execution, a reload in JupyterLab) draws it all: no ipycanvas pitfall.
"""
from __future__ import annotations

import pathlib

import anywidget
import traitlets as t

from qd.app.game import BATCH_SECONDS
from qd.errors import QDError

OPS = ("down", "move", "up")


def pen_ops(content) -> list[tuple[str, float, float]]:
    """A pen message from the page -> [(op, x, y)], or a QDError naming what is wrong with it."""
    ops = content.get("ops") if isinstance(content, dict) else None
    if not isinstance(ops, list):
        raise QDError(f"a pen message holds no list of ops: {str(content)[:80]}")
    out = []
    for i, op in enumerate(ops):
        if not (isinstance(op, list) and len(op) == 3 and op[0] in OPS
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in op[1:])):
            raise QDError(f"pen op {i} is not [one of {'/'.join(OPS)}, x, y]: {str(op)[:80]}")
        out.append((op[0], float(op[1]), float(op[2])))
    return out


class Pad(anywidget.AnyWidget):
    """A `width` x `height` drawing canvas; `on_pen(callback)` gets each batch as [(op, x, y)]."""

    _esm = pathlib.Path(__file__).with_name("pad.js")
    width = t.Int(400).tag(sync=True)
    height = t.Int(400).tag(sync=True)
    pen_width = t.Float(10.0).tag(sync=True)
    color = t.Unicode("#222").tag(sync=True)
    batch_ms = t.Int(round(BATCH_SECONDS * 1000)).tag(sync=True)
    strokes = t.List().tag(sync=True)
    revision = t.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pen_callbacks = []
        self.on_msg(self._on_msg)

    def on_pen(self, callback) -> None:
        self._pen_callbacks.append(callback)

    def _on_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "pen":
            ops = pen_ops(content)
            for callback in self._pen_callbacks:
                callback(ops)

    def keep(self, strokes) -> None:
        """The drawing as the page already shows it (a stroke just ended there): kept, not redrawn."""
        self.strokes = [[list(xs), list(ys)] for xs, ys in strokes]

    def redraw(self, strokes) -> None:
        """The kernel changed the drawing: the page shows `strokes` instead of what it has."""
        with self.hold_sync():
            self.keep(strokes)
            self.revision += 1
