"""The demo in a real browser: Voila serves notebooks/demo.ipynb, headless Chromium (driven by
Playwright) replays real drawings from the bundled stroke data with the mouse, and we look at what
a person would see. Skipped when Chromium or Playwright is missing, unless QD_REQUIRE_BROWSER=1
(CI sets it). QD_SAVE_SCREENSHOT=1 also writes the README's screenshot to reports/demo.png."""
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from qd import REPORTS_DIR, ROOT, data, demo, train
from qd.infer import Predictor

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


def _need_browser():
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("QD_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    _need_browser()
    path = tmp_path_factory.mktemp("model") / "cnn.pt"
    train.main(["--model", "cnn", "--epochs", "3", "--per-class", "1000", "--out", str(path),
                "--classes", "star,square,smiley face,fish,apple,bicycle,cat,eye,crown,skull"])
    return path


@pytest.fixture(scope="module")
def voila(model_path, tmp_path_factory):
    """Voila on a free local port; stopped at the end, also when a test fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+")
    env = {**os.environ, "QD_MODEL": str(model_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(ROOT / "notebooks" / "demo.ipynb"), "--no-browser",
         f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
        cwd=ROOT / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    pytest.fail(f"voila did not start:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(voila):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-dev-shm-usage"])
        try:
            pg = browser.new_page(viewport={"width": 1100, "height": 760})
            pg.console_errors = []
            pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
            pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
            pg.goto(voila, timeout=120_000)
            pg.wait_for_selector(".qd-answer", timeout=120_000)
            yield pg
        finally:
            browser.close()


def _ink(page) -> int:
    """Dark pixels inside the canvas (its 2px border cropped away), from a real screenshot."""
    png = page.locator(".qd-demo canvas").first.screenshot()
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"))[6:-6, 6:-6]
    return int((a < 128).sum())


def _draw(page, drawing, margin=40, side=320):
    """Replay a drawing's strokes with real mouse moves, scaled into the canvas."""
    box = page.locator(".qd-demo canvas").first.bounding_box()
    pts = np.concatenate([s[:2] for s in drawing.strokes], axis=1)
    lo, ext = pts.min(axis=1), max(float(np.ptp(pts, axis=1).max()), 1.0)
    for s in drawing.strokes:
        xy = (s[:2] - lo[:, None]) / ext * side + margin
        xs, ys = (xy[0] + box["x"] + 2).tolist(), (xy[1] + box["y"] + 2).tolist()
        page.mouse.move(xs[0], ys[0])
        page.mouse.down()
        for x, y in zip(xs[1:], ys[1:]):
            page.mouse.move(x, y)
        page.mouse.up()
    n = len(drawing.strokes)
    page.wait_for_function(
        f"document.querySelector('.qd-status') && document.querySelector('.qd-status').innerText.includes('({n} stroke')",
        timeout=30_000)


def _answer(page) -> str:
    return page.locator(".qd-answer").inner_text()


def _clear(page):
    page.get_by_role("button", name="Clear").click()
    page.wait_for_function(f"document.querySelector('.qd-answer').innerText.includes({demo.EMPTY_MESSAGE!r})")


def _clear_examples(model_path, k=3):
    """Real raw-format drawings the model gets right with confidence, each of a different class."""
    p = Predictor(model_path)
    out = []
    for c in ["star", "square", "smiley face", "fish", "apple", "bicycle"]:
        for d in data.iter_drawings(data.strokes_path(c, "raw")):
            probs, _ = p.predict_strokes(d)
            if p.classes[int(probs.argmax())] == c and probs.max() > 0.9 and len(d.strokes) <= 8:
                out.append((c, d))
                break
        if len(out) == k:
            return out
    pytest.fail("found too few clear examples; the model trained in the fixture is too weak")


def test_empty_canvas_asks_for_a_drawing(page):
    assert demo.EMPTY_MESSAGE in _answer(page)
    assert page.locator(".qd-bar").count() == 0
    assert _ink(page) == 0
    assert "Traceback" not in page.content() and "Error" not in _answer(page)


def test_drawing_shows_ink_bars_and_answer_then_clear_empties(page, model_path, tmp_path):
    c, d = _clear_examples(model_path, 1)[0]
    _draw(page, d)
    assert _ink(page) > 500                                   # (1) ink on the canvas
    assert page.locator(".qd-bar").count() == 5               # (2) the bar chart...
    assert _answer(page).startswith(f"I think it is a {c}")   # ... and the top-1 answer
    assert page.locator(".qd-bar-name").first.inner_text() == c
    shot = tmp_path / "demo.png"
    page.locator(".qd-demo").screenshot(path=str(shot))
    if os.environ.get("QD_SAVE_SCREENSHOT") == "1":
        shutil.copy(shot, REPORTS_DIR / "demo.png")
    _clear(page)                                              # (4) Clear empties canvas and predictions
    assert _ink(page) == 0 and page.locator(".qd-bar").count() == 0
    assert demo.EMPTY_MESSAGE in _answer(page)                # (5) and asks again


def test_clear_drawings_of_different_classes_are_recognised(page, model_path):
    for c, d in _clear_examples(model_path, 3):               # (3)
        _draw(page, d)
        assert page.locator(".qd-bar-name").first.inner_text() == c, _answer(page)
        _clear(page)


def test_undo_and_no_canvas_errors_in_the_browser(page, model_path):
    c, d = _clear_examples(model_path, 1)[0]
    _draw(page, d)
    before = _ink(page)
    page.get_by_role("button", name="Undo").click()
    page.wait_for_function(f"!document.querySelector('.qd-status').innerText.includes('({len(d.strokes)} stroke')")
    time.sleep(0.3)
    assert _ink(page) < before
    _clear(page)
    errors = [e for e in page.console_errors if "strokeLine" in e or "Cannot read properties" in e]
    assert errors == []
