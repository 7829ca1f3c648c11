"""Explorers for JupyterLab, two lines in any notebook:

    from qd.app.explore import DataExplorer
    DataExplorer()                          # notebook 01: browse, filter, watch a drawing drawn

    from qd.app.explore import ModelExplorer
    ModelExplorer.shipped("13 classes")     # notebook 04: confusion cells, worst mistakes, a drawing pad

`DataExplorer` is Google's Quick, Draw! data site in a notebook: a class's bundled drawings (all 345
classes as strokes, the 40 bitmap classes as bitmaps too), filtered by Google's verdict, country and
strokes, a page of 100 at once as one image (not a widget per drawing), and a click that draws one
again on a canvas at its own pace. `ModelExplorer` shows the drawings behind a model's numbers.

Each shows a static first view where no browser draws widgets (papermill, `make report`): its
display carries a PNG of that view beside the live widget (`_repr_mimebundle_`), and the report's
HTML takes the PNG. `python -m qd.app.explore --bench` prints one JSON line of their timings.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import json
import time
from functools import lru_cache

import ipywidgets as w
import numpy as np
from ipycanvas import Canvas, hold_canvas

from qd import checks
from qd.app import pictures
from qd.app.canvas import PictureCanvas
from qd.app.free import DrawingApp
from qd.app.guesser import Guesser
from qd.data import bitmaps, ndjson
from qd.data.render import render_batch
from qd.errors import QDError
from qd.models.infer import Predictor
from qd.paths import MODELS_DIR

ANY = "any"
SOURCES = {"raw strokes (with times)": "raw", "simplified strokes": "simplified", "bitmaps (28x28)": "bitmaps"}
SHIPPED = {"13 classes": "cnn13.pt", "40 classes": "cnn.pt"}


@lru_cache(maxsize=64)
def _drawings(word: str, kind: str) -> tuple:
    """A class's bundled drawings of one kind, in file order, one per key_id: raw, or simplified
    (the first250 file's, for its 25 classes, then the simplified file's); () if none."""
    out, seen = [], set()
    for k in ("first250", "simplified") if kind == "simplified" else (kind,):
        if word in ndjson.stroke_classes(k):
            for d in ndjson.iter_drawings(ndjson.strokes_path(word, k)):
                if not d.key_id or d.key_id not in seen:
                    seen.add(d.key_id)
                    out.append(d)
    return tuple(out)


@lru_cache(maxsize=8)
def _bitmaps(word: str) -> np.ndarray:
    return bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / f"{word}.npz")


def _bundle_with_png(widget, png: bytes, include=None, exclude=None):
    """A widget's display: the live view, and a PNG of its first view for where no browser draws widgets."""
    bundle = w.DOMWidget._repr_mimebundle_(widget, include=include, exclude=exclude)
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    if data is not None and png:
        data["image/png"] = png
    return bundle


class DataExplorer(w.VBox):
    """Browse a class's bundled drawings: filters, a page of drawings, and one drawn again."""

    def __init__(self, word: str = "cat", source: str = "raw", page_size: int = 100, cols: int = 10,
                 tile: int = 56, player_side: int = 300):
        self.page_size = checks.integer(page_size, "page_size", 1, 400)
        self.cols, self.tile = checks.integer(cols, "cols", 1, 40), checks.integer(tile, "tile", 16, 128)
        stroke_words = set(ndjson.stroke_classes("raw")) | set(ndjson.stroke_classes("simplified"))
        self.bitmap_words = set(bitmaps.available_classes())
        words = sorted(stroke_words | self.bitmap_words)
        checks.one_of(word, "word", words)
        checks.one_of(source, "source", tuple(SOURCES.values()))
        self.word = w.Dropdown(options=words, value=word, description="class", layout=w.Layout(width="260px"))
        self.source = w.Dropdown(options=list(SOURCES), value=next(k for k, v in SOURCES.items() if v == source),
                                 description="drawings", layout=w.Layout(width="300px"))
        self.recognized = w.Dropdown(options=[ANY, "recognised", "not recognised"], value=ANY,
                                     description="Google's AI", layout=w.Layout(width="260px"))
        self.country = w.Dropdown(options=[ANY], value=ANY, description="country", layout=w.Layout(width="200px"))
        self.strokes = w.IntRangeSlider(value=(1, 40), min=1, max=40, description="strokes", continuous_update=False,
                                        layout=w.Layout(width="360px"))
        for name, widget in (("word", self.word), ("source", self.source), ("recognized", self.recognized),
                             ("country", self.country), ("strokes", self.strokes)):
            widget.add_class(f"qd-explore-{name}")
        self.prev = w.Button(description="previous", icon="arrow-left", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next", icon="arrow-right", layout=w.Layout(width="110px"))
        self.status = w.HTML()
        self.status.add_class("qd-explore-status")
        self.grid = PictureCanvas(*self._grid_size(self.page_size))
        self.grid.canvas.add_class("qd-explore-grid")
        self.player = Canvas(width=player_side, height=player_side)
        self.player.layout.border = "1px solid #ccc"
        self.player.add_class("qd-explore-player")
        self.info = w.HTML("<i>Click a drawing to watch it drawn.</i>", layout=w.Layout(width=f"{player_side}px"))
        self.info.add_class("qd-explore-info")
        self.progress = w.HTML()
        self.progress.add_class("qd-explore-progress")
        self.page, self.selected, self.shown = 0, None, []
        self._images = np.zeros((0, self.tile, self.tile), np.uint8)    # the page's drawings, rendered
        self._task = None
        self._updating = False
        self.word.observe(lambda _: self._class_changed(), names="value")
        self.source.observe(lambda _: self._class_changed(), names="value")
        for f in (self.recognized, self.country, self.strokes):
            f.observe(lambda _: self._filters_changed(), names="value")
        self.prev.on_click(lambda _: self.turn(-1))
        self.next.on_click(lambda _: self.turn(+1))
        self.grid.canvas.on_mouse_down(self.click)
        filters = w.HBox([self.word, self.source, self.recognized, self.country, self.strokes],
                         layout=w.Layout(flex_flow="row wrap"))
        right = w.VBox([self.player, self.progress, self.info], layout=w.Layout(margin="0 0 0 12px"))
        body = w.HBox([w.VBox([w.HBox([self.prev, self.next, self.status]), self.grid.canvas]), right],
                      layout=w.Layout(flex_flow="row wrap"))
        super().__init__([filters, body])
        self.add_class("qd-explorer")
        self._class_changed()

    # ------------------------------------------------------------------ what is shown
    def _grid_size(self, n: int) -> tuple[int, int]:
        rows = -(-n // self.cols)
        pitch = self.tile + pictures.GAP
        return self.cols * pitch + pictures.GAP, rows * pitch + pictures.GAP

    @property
    def kind(self) -> str:
        return SOURCES[self.source.value]

    def all_drawings(self) -> list:
        """The class's drawings of the chosen source, before filters (bitmaps: row numbers)."""
        if self.kind == "bitmaps":
            return list(range(len(_bitmaps(self.word.value)))) if self.word.value in self.bitmap_words else []
        return list(_drawings(self.word.value, self.kind))

    def filtered(self) -> list:
        """The drawings the filters keep (bitmaps carry no verdict, country or strokes: all kept)."""
        items = self.all_drawings()
        if self.kind == "bitmaps":
            return items
        want = {"recognised": True, "not recognised": False}.get(self.recognized.value)
        lo, hi = self.strokes.value
        return [d for d in items if (want is None or bool(d.recognized) == want)
                and (self.country.value == ANY or d.countrycode == self.country.value)
                and lo <= len(d.strokes) <= hi]

    def _class_changed(self) -> None:
        """A new class or source: its countries and stroke counts become the filters' options."""
        items = self.all_drawings()
        self._updating = True
        try:
            strokes_made = [d for d in items if not isinstance(d, int)]
            countries = sorted({d.countrycode for d in strokes_made if d.countrycode})
            self.country.options = [ANY, *countries]
            self.country.value = ANY
            self.recognized.value = ANY
            most = max([len(d.strokes) for d in strokes_made] or [1])
            self.strokes.max = max(most, 2)
            self.strokes.value = (1, self.strokes.max)
            for f in (self.recognized, self.country, self.strokes):
                f.disabled = self.kind == "bitmaps"
        finally:
            self._updating = False
        self._filters_changed()

    def _filters_changed(self) -> None:
        if self._updating:
            return
        self.page, self.selected = 0, None
        self.draw_page()

    def turn(self, step: int) -> None:
        pages = max(1, -(-len(self.filtered()) // self.page_size))
        self.page = min(max(0, self.page + step), pages - 1)
        self.selected = None
        self.draw_page()

    def page_images(self) -> np.ndarray:
        """The drawings of the current page as (n, tile, tile) images, ink bright on black."""
        self.shown = self.filtered()[self.page * self.page_size:(self.page + 1) * self.page_size]
        if not self.shown:
            return np.zeros((0, self.tile, self.tile), np.uint8)
        if self.kind == "bitmaps":
            imgs = _bitmaps(self.word.value)[self.shown]
            return np.repeat(np.repeat(imgs, -(-self.tile // 28), 1), -(-self.tile // 28), 2)[:, :self.tile, :self.tile]
        return render_batch([d.strokes for d in self.shown], size=self.tile,
                            where=[d.source for d in self.shown])

    def page_png(self) -> bytes:
        """The page as shown, the selected drawing framed (its drawings rendered once per page)."""
        return pictures.png(pictures.atlas(self._images, self.cols, self.selected))

    def draw_page(self) -> None:
        self._images = self.page_images()
        png = self.page_png()
        n, total = len(self.shown), len(self.filtered())
        first = self.page * self.page_size
        self.status.value = (f'<span style="padding-left:10px">{f"drawings {first + 1}-{first + n} of {total}" if n else "no drawing matches"}'
                             f' ({len(self.all_drawings())} bundled)</span>')
        self.prev.disabled = self.page == 0
        self.next.disabled = first + n >= total
        self.grid.show(png)

    # ------------------------------------------------------------------ one drawing
    def click(self, x: float, y: float) -> None:
        k = pictures.tile_at(x, y, self.tile, self.cols, len(self.shown))
        if k is not None:
            self.select(k)

    def select(self, k: int) -> None:
        """Frame drawing k of the page, show what is known of it, and draw it again at its own pace."""
        self.selected = checks.integer(k, "k", 0, len(self.shown) - 1)
        self.grid.show(self.page_png())
        item = self.shown[k]
        if isinstance(item, int):
            self.info.value = (f"<b>{html.escape(self.word.value)}</b>, bitmap row {item} of the official file "
                               "(a bitmap keeps no strokes, times or verdict)")
            self.progress.value = ""
            return
        d = item
        seconds = (float(d.strokes[-1][2, -1]) - float(d.strokes[0][2, 0])) / 1e3 if d.has_time else None
        rows = [("class", d.word), ("key_id", d.key_id), ("country", d.countrycode or "?"),
                ("Google's AI", {True: "recognised", False: "not recognised"}.get(d.recognized, "?")),
                ("drawn", d.timestamp[:19] or "?"), ("strokes", len(d.strokes)), ("points", d.n_points),
                ("seconds", f"{seconds:.1f}" if seconds is not None else "no times (simplified)")]
        self.info.value = "<table>" + "".join(f"<tr><td style='color:#666;padding-right:8px'>{html.escape(a)}</td>"
                                              f"<td>{html.escape(str(b))}</td></tr>" for a, b in rows) + "</table>"
        self.play(d)

    def play(self, d) -> None:
        """Draw `d` on the player as it was drawn: in the kernel's event loop when one runs (JupyterLab),
        else at once (a script)."""
        if self._task is not None:
            self._task.cancel()
        frames = pictures.playback(d.strokes, self.player.width)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            for _ in self._draw_frames(frames, len(d.strokes), at_once=True):
                pass
            return
        self._task = loop.create_task(self._animate(frames, len(d.strokes)))

    async def _animate(self, frames, n_strokes: int) -> None:
        start = time.monotonic()
        for due in self._draw_frames(frames, n_strokes):
            wait = due / 1e3 - (time.monotonic() - start)
            if wait > 0:
                await asyncio.sleep(wait)

    def _draw_frames(self, frames, n_strokes: int, at_once: bool = False):
        """Draw the drawing point by point; yields the ms at which the next point is due (after
        drawing every point already due), so the caller decides how to wait."""
        c = self.player
        with hold_canvas():
            c.clear()
            c.stroke_style, c.line_width, c.line_cap, c.line_join = "#222", 3, "round", "round"
        i, start = 0, time.monotonic()
        while i < len(frames):
            now = float("inf") if at_once else (time.monotonic() - start) * 1e3
            with hold_canvas():
                while i < len(frames) and frames[i][0] <= now + 1:
                    _, s, pts = frames[i]
                    if pts.shape[1] >= 2:
                        c.stroke_line(*pts[:, -2], *pts[:, -1])
                    else:
                        c.fill_style = "#222"
                        c.fill_circle(*pts[:, 0], 1.5)
                    i += 1
            if i:
                self.progress.value = (f'<span data-stroke="{frames[i - 1][1] + 1}" data-strokes="{n_strokes}" '
                                       f'data-done="{int(i == len(frames))}">stroke {frames[i - 1][1] + 1} of {n_strokes}'
                                       f'{", done" if i == len(frames) else ""}</span>')
            if i < len(frames):
                yield frames[i][0]

    def _repr_mimebundle_(self, include=None, exclude=None):
        return _bundle_with_png(self, self.grid.png, include, exclude)


class ModelExplorer(w.VBox):
    """A model's test drawings behind its numbers: its confusion matrix, where a click on a cell shows
    that cell's drawings with the model's top 3 each; its surest mistakes; and the demo's free
    draw with DoodleNet's bars beside ours."""

    def __init__(self, predictor: Predictor, X: np.ndarray, y: np.ndarray, probs: np.ndarray | None = None,
                 title: str = "", max_cards: int = 40, doodlenet: bool = True):
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim != 3 or X.dtype != np.uint8 or len(X) != len(y) or len(y) == 0:
            raise QDError(f"ModelExplorer takes uint8 test images (N, 28, 28) and N labels, got {X.dtype} {X.shape} "
                          f"and {len(y)} labels")
        self.predictor, self.X, self.y, self.classes = predictor, X, y, list(predictor.classes)
        self.probs = predictor.predict_image(X) if probs is None else checks.finite(probs, "probs")
        if self.probs.shape != (len(y), len(self.classes)):
            raise QDError(f"probs must be ({len(y)}, {len(self.classes)}), got {self.probs.shape}")
        self.pred = self.probs.argmax(1)
        self.max_cards = checks.integer(max_cards, "max_cards", 1, 500)
        n = len(self.classes)
        self.cm = np.zeros((n, n), np.int64)
        np.add.at(self.cm, (y, self.pred), 1)
        self.picture = pictures.ConfusionPicture(self.cm, self.classes)
        first = self.picture.image()
        self.matrix = PictureCanvas(first.shape[1], first.shape[0])
        self.matrix.canvas.add_class("qd-explore-confusion")
        self.matrix.canvas.on_mouse_down(self.click)
        self.cell_cards = w.HTML("<i>Click a cell: the drawings of that true class the model called that class.</i>",
                                 layout=w.Layout(max_width="640px"))
        self.cell_cards.add_class("qd-explore-cards")
        self.mistake_cards = w.HTML()
        self.mistake_cards.add_class("qd-explore-mistakes")
        self.doodlenet = doodlenet
        self.pad_box = w.VBox([w.HTML("<i>Loading the drawing pad…</i>")])
        self.tabs = w.Tab([w.HBox([self.matrix.canvas, self.cell_cards], layout=w.Layout(flex_flow="row wrap")),
                           self.mistake_cards, self.pad_box])
        for k, name in enumerate(("Confusion matrix", "Worst mistakes", "Draw")):
            self.tabs.set_title(k, name)
        self.tabs.observe(lambda ch: self._tab(ch["new"]), names="selected_index")
        acc = float((self.pred == y).mean())
        head = w.HTML(f"<b>{html.escape(title or 'The model')}</b>: {len(y):,} test drawings, {acc:.1%} right. "
                      "Rows: the true class; columns: what the model said.")
        super().__init__([head, self.tabs])
        self.add_class("qd-model-explorer")
        self.selected = None
        self.matrix.show(pictures.png(first))
        self.mistake_cards.value = self.mistakes_html()

    @classmethod
    def shipped(cls, protocol: str = "13 classes", per_class: int | None = None, seed: int = 0, model=None,
                **kw) -> "ModelExplorer":
        """The shipped model of a protocol (models/cnn13.pt, models/cnn.pt; or `model`) on that
        protocol's test split (`qd.data.bitmaps.load_protocol(protocol, per_class, seed)`)."""
        checks.one_of(protocol, "protocol", tuple(SHIPPED))
        sp = bitmaps.load_protocol(protocol, per_class, seed)
        p = Predictor(model if model is not None else MODELS_DIR / SHIPPED[protocol])
        if p.classes != sp.classes:
            raise QDError(f"{p.path}: its classes are not the {protocol} protocol's")
        return cls(p, sp.X_test, sp.y_test, title=f"{p.path.name} on the {protocol} test split", **kw)

    def cell_indices(self, i: int, j: int) -> np.ndarray:
        """Test drawings of true class i the model called j, the surest first."""
        idx = np.flatnonzero((self.y == i) & (self.pred == j))
        return idx[np.argsort(-self.probs[idx, j], kind="stable")]

    def cards(self, idx: np.ndarray) -> str:
        idx = idx[:self.max_cards]
        return pictures.cards_html(self.X[idx], [pictures.top3_caption(self.probs[k], self.classes, self.y[k]) for k in idx])

    def show_cell(self, i: int, j: int) -> None:
        self.selected = (i, j)
        idx = self.cell_indices(i, j)
        t, p = html.escape(self.classes[i]), html.escape(self.classes[j])
        head = (f'<div class="qd-cell-title" data-true="{t}" data-predicted="{p}"><b>true {t}, predicted {p}</b>: '
                f'{len(idx)} drawing{"s" if len(idx) != 1 else ""}{f" (the surest {self.max_cards})" if len(idx) > self.max_cards else ""}</div>')
        self.cell_cards.value = head + self.cards(idx)
        self.matrix.show(pictures.png(self.picture.image(self.selected)))

    def click(self, x: float, y: float) -> None:
        cell = self.picture.cell_at(x, y)
        if cell is not None:
            self.show_cell(*cell)

    def mistakes_html(self) -> str:
        wrong = np.flatnonzero(self.pred != self.y)
        wrong = wrong[np.argsort(-self.probs[wrong, self.pred[wrong]], kind="stable")]
        return (f"<b>The {min(len(wrong), self.max_cards)} mistakes the model was surest of</b> (of {len(wrong):,}); "
                "the true class in bold<br>" + self.cards(wrong))

    def _tab(self, k) -> None:
        if k == 2 and len(self.pad_box.children) == 1 and isinstance(self.pad_box.children[0], w.HTML):
            second = {}
            if self.doodlenet:
                try:
                    second["DoodleNet (345 classes, ml5)"] = Guesser.doodlenet()
                except QDError:
                    pass
            self.pad = DrawingApp(self.predictor, second_models=second, size=320)
            self.pad_box.children = [self.pad.widget]

    def _repr_mimebundle_(self, include=None, exclude=None):
        return _bundle_with_png(self, self.matrix.png, include, exclude)


# ----------------------------------------------------------------------------- benchmark

def bench(repeats: int = 5) -> dict:
    """Median milliseconds, this machine: a page of 100 drawings (filter, render, PNG) and a click on
    a confusion cell of the 40-class model (its drawings as cards, the matrix redrawn)."""
    def median_ms(f):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            f()
            times.append((time.perf_counter() - t) * 1e3)
        return round(float(np.median(times)), 1)

    ex = DataExplorer("cat", source="simplified")
    ex.source.value = "simplified strokes"
    words = [c for c in ndjson.stroke_classes("first250")][:repeats]
    pages = iter(words * 2)

    def page():
        ex.word.value = next(pages)     # a new class each time: nothing cached but the file
    page_ms = median_ms(page)
    assert len(ex.shown) == 100, len(ex.shown)
    t = time.perf_counter()
    mx = ModelExplorer.shipped("40 classes", doodlenet=False)
    load_s = time.perf_counter() - t
    off = np.argwhere(mx.cm * (1 - np.eye(len(mx.classes), dtype=int)) > 0)
    cells = iter([tuple(c) for c in off[:repeats]] * 2)
    click_ms = median_ms(lambda: mx.click(*mx.picture.centre(*next(cells))))
    return {"grid_page_100_ms": page_ms, "confusion_click_ms": click_ms, "model_explorer_load_s": round(load_s, 1),
            "test_drawings": int(len(mx.y)), "classes": len(mx.classes)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.app.explore", description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", action="store_true", help="print one JSON line: a page of 100 drawings and a confusion "
                                                        "cell click, median ms")
    a = p.parse_args(argv)
    if not a.bench:
        p.print_help()
        return 0
    print(json.dumps(bench()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
