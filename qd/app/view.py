"""What the demo shows, as plain HTML and PNG (so a widget updates in about a millisecond): the answer
line, the probability bars, the model's input."""
from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image

from qd.app.game import a_or_an
from qd.checks import probability
from qd.errors import QDError

EMPTY_MESSAGE = "Draw something! I will guess after every stroke."
UNSURE_THRESHOLD = 0.5     # below this top-1 probability free draw says it is unsure


def answer_text(top: list[tuple[str, float]] | None, threshold: float = UNSURE_THRESHOLD) -> str:
    """The one-line answer: a guess, an unsure hint, or the empty-canvas prompt."""
    threshold = probability(threshold, "threshold")
    if not top:
        return EMPTY_MESSAGE
    name, p = top[0]
    p = probability(p, f"the probability of {name!r}")
    if p < threshold:
        return f"Hmm, I'm not sure yet. Maybe {a_or_an(name)} ({p:.0%})? Keep drawing."
    return f"I think it is {a_or_an(name)}, {p:.0%}"


def bars_html(top: list[tuple[str, float]]) -> str:
    """Top-k probabilities as a horizontal bar chart (plain HTML, so it updates in ~1 ms)."""
    rows = []
    for i, (name, p) in enumerate(top):
        p = probability(p, f"the probability of {name!r}")
        color = "#e8710a" if i == 0 else "#4285f4"
        rows.append(
            f'<div class="qd-bar" style="display:flex;align-items:center;margin:2px 0;font:13px sans-serif">'
            f'<span class="qd-bar-name" style="width:110px;text-align:right;padding-right:8px">{html.escape(name)}</span>'
            f'<span style="flex:1;background:#eee;height:16px;position:relative">'
            f'<span style="position:absolute;left:0;top:0;bottom:0;width:{p * 100:.1f}%;background:{color}"></span></span>'
            f'<span class="qd-bar-p" style="width:48px;padding-left:6px">{p:.0%}</span></div>')
    return '<div class="qd-bars">' + "".join(rows) + "</div>"


def png_bytes(img: np.ndarray, scale: int = 4) -> bytes:
    """A 28x28 model input as an upscaled PNG, ink dark on white as people draw."""
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 2 or 0 in img.shape:
        raise QDError(f"png_bytes takes a uint8 image (H, W) of 0..255, got {img.dtype} {img.shape}")
    if not isinstance(scale, int) or not 1 <= scale <= 64:
        raise QDError(f"scale must be a whole number in 1..64, got {scale!r}")
    im = Image.fromarray(255 - img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
