"""Pictures the explorers show, as numpy and PNG (no widgets here): a page of drawings as one atlas
image, a confusion matrix whose cells map back from a click, small cards of drawings with a caption,
and the timed path of a drawing being drawn again at its own pace."""
from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from qd import checks
from qd.data.geometry import SIDE, normalize
from qd.errors import QDError

GAP = 2                     # pixels between the tiles of a page
SELECTED = (232, 113, 10)   # the demo's orange: the drawing being played
POINT_MS = 12.0             # the pace of a drawing without times (simplified): ms per point


def png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """An (H, W) or (H, W, 3) uint8 array as PNG bytes (fast compression: pages change often)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def data_url(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def atlas(images: np.ndarray, cols: int, selected: int | None = None) -> np.ndarray:
    """Images (N, s, s), ink bright on black, as one RGB page: ink dark on white, `cols` a row,
    `GAP` pixels of grey between tiles, the `selected` tile framed."""
    images = np.asarray(images)
    cols = checks.integer(cols, "cols", 1, 100)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise QDError(f"atlas takes uint8 images (N, s, s), got {images.dtype} {images.shape}")
    n, s = len(images), images.shape[1]
    rows = max(1, -(-n // cols))
    pitch = s + GAP
    page = np.full((rows * pitch + GAP, cols * pitch + GAP, 3), 225, np.uint8)
    for k in range(n):
        r, c = divmod(k, cols)
        page[GAP + r * pitch:GAP + r * pitch + s, GAP + c * pitch:GAP + c * pitch + s] = (255 - images[k])[..., None]
    if selected is not None and 0 <= selected < n:
        r, c = divmod(selected, cols)
        y0, x0 = r * pitch, c * pitch
        page[y0:y0 + pitch + GAP, x0:x0 + GAP] = SELECTED
        page[y0:y0 + pitch + GAP, x0 + pitch:x0 + pitch + GAP] = SELECTED
        page[y0:y0 + GAP, x0:x0 + pitch + GAP] = SELECTED
        page[y0 + pitch:y0 + pitch + GAP, x0:x0 + pitch + GAP] = SELECTED
    return page


def tile_at(x: float, y: float, tile: int, cols: int, n: int) -> int | None:
    """The index of the page tile under a click at (x, y) pixels, or None (a gap, or past the end)."""
    pitch = tile + GAP
    c, r = int((x - GAP) // pitch), int((y - GAP) // pitch)
    if x < GAP or y < GAP or c >= cols or (x - GAP) % pitch >= tile or (y - GAP) % pitch >= tile:
        return None
    k = r * cols + c
    return k if k < n else None


# ----------------------------------------------------------------------------- the confusion matrix

class ConfusionPicture:
    """A confusion matrix (rows: true class, columns: predicted) drawn as a row-normalised heat map
    with the class names, and the cell under a click."""

    def __init__(self, cm: np.ndarray, classes: list[str], side: int = 560):
        cm = np.asarray(cm)
        if cm.ndim != 2 or cm.shape != (len(classes), len(classes)):
            raise QDError(f"a confusion matrix for {len(classes)} classes must be ({len(classes)}, {len(classes)}), got {cm.shape}")
        self.cm, self.classes = cm, list(classes)
        n = len(classes)
        self.font = ImageFont.load_default(size=11 if n <= 20 else 9)
        self.margin = 12 + max(int(self.font.getlength(c)) for c in classes)
        self.cell = max(8, (side - self.margin) // n)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(true, predicted) of the cell under (x, y) pixels, or None outside the matrix."""
        i, j = int((y - self.margin) // self.cell), int((x - self.margin) // self.cell)
        n = len(self.classes)
        return (i, j) if x >= self.margin and y >= self.margin and i < n and j < n else None

    def centre(self, i: int, j: int) -> tuple[float, float]:
        """The (x, y) pixels of the middle of cell (true i, predicted j)."""
        return self.margin + (j + 0.5) * self.cell, self.margin + (i + 0.5) * self.cell

    def image(self, selected: tuple[int, int] | None = None) -> np.ndarray:
        n, m, c = len(self.classes), self.margin, self.cell
        side = m + n * c + 1
        share = self.cm / np.maximum(self.cm.sum(1, keepdims=True), 1)
        shade = (255 - np.sqrt(share) * 200).astype(np.uint8)          # sqrt: small confusions stay visible
        rgb = np.stack([shade, shade, np.full_like(shade, 255)], -1)   # white to blue
        rgb[np.arange(n), np.arange(n)] = np.stack([shade.diagonal(), np.full(n, 200, np.uint8), shade.diagonal()], -1)
        im = Image.new("RGB", (side, side), "white")
        im.paste(Image.fromarray(np.repeat(np.repeat(rgb, c, 0), c, 1)), (m, m))
        draw = ImageDraw.Draw(im)
        for k, name in enumerate(self.classes):
            draw.text((m - 6, m + k * c + c / 2), name, fill="black", font=self.font, anchor="rm")
        cols = Image.new("RGB", (m, side), "white")       # the column names: written along, turned upright
        d2 = ImageDraw.Draw(cols)
        for k, name in enumerate(self.classes):
            d2.text((6, m + k * c + c / 2), name, fill="black", font=self.font, anchor="lm")
        im.paste(cols.rotate(90, expand=True), (0, 0))
        draw.rectangle((0, 0, m - 1, m - 1), fill="white")
        if c >= 22:                                                   # room for the counts
            for i, j in zip(*np.nonzero(self.cm)):
                draw.text((m + (j + 0.5) * c, m + (i + 0.5) * c), str(self.cm[i, j]), font=self.font, anchor="mm",
                          fill="white" if share[i, j] > 0.5 else "#333")
        if selected is not None:
            i, j = selected
            draw.rectangle((m + j * c - 1, m + i * c - 1, m + (j + 1) * c, m + (i + 1) * c), outline=SELECTED, width=2)
        return np.asarray(im)


# ----------------------------------------------------------------------------- cards and playback

def cards_html(images: np.ndarray, captions: list[str], scale: int = 2) -> str:
    """Drawings (N, 28, 28), ink bright on black, as small cards with a caption each: one HTML string."""
    out = []
    for img, cap in zip(images, captions):
        im = Image.fromarray(255 - np.asarray(img, np.uint8)).resize((img.shape[1] * scale, img.shape[0] * scale),
                                                                     Image.NEAREST)
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
        out.append(f'<figure class="qd-card-drawing" style="display:inline-block;margin:4px;width:{28 * scale + 60}px;'
                   f'vertical-align:top;font:11px sans-serif"><img src="{data_url(buf.getvalue())}" '
                   f'style="border:1px solid #ccc"><figcaption>{cap}</figcaption></figure>')
    return "".join(out)


def top3_caption(probs: np.ndarray, classes: list[str], true: int) -> str:
    """'cat 61% · dog 20% · cow 5%', the true class in bold."""
    order = np.argsort(-probs, kind="stable")[:3]
    parts = [f"<b>{html.escape(classes[k])}</b>" if k == true else html.escape(classes[k]) for k in order]
    return " · ".join(f"{p} {probs[k]:.0%}" for p, k in zip(parts, order))


def playback(strokes, side: int, margin: int = 12) -> list[tuple[float, int, np.ndarray]]:
    """The drawing as it was drawn: (ms from its first point, stroke index, points (2, n) so far
    in canvas pixels) for every point, scaled into a `side` x `side` canvas. Raw drawings keep their
    own times; a drawing without times goes at `POINT_MS` a point."""
    s = [np.asarray(a, np.float64) for a in strokes]
    xy = normalize([a[:2] for a in s], "drawing")
    scale = (side - 2 * margin) / SIDE
    timed = all(a.shape[0] == 3 for a in s)
    t0 = float(s[0][2, 0]) if timed else 0.0
    out, k = [], 0
    for i, (a, raw) in enumerate(zip(xy, s)):
        px = a * scale + margin
        for j in range(px.shape[1]):
            t = float(raw[2, j]) - t0 if timed else k * POINT_MS
            out.append((t, i, px[:, :j + 1]))
            k += 1
    return out
