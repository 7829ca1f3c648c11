"""The explorers where a data scientist uses them: JupyterLab in headless Chromium (Playwright). It
opens notebook 01, runs its explorer cell, changes the class and a filter, clicks a drawing and sees
it drawn stroke by stroke; then notebook 04's explorer, a click on a confusion cell and that cell's
drawings. Copies of the two notebooks are served from a temporary folder (JupyterLab may autosave).
Nothing races a clock: each step waits for what the page shows, and the drawing's progress is read
from a MutationObserver log. QD_SAVE_SCREENSHOT=1 writes the README's two screenshots to reports/."""
import io
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image
from helpers import chromium, need_browser, stop_group

from qd import REPORTS_DIR, ROOT
from qd.app import explore, pictures
from qd.app.loadtest import free_port

pytestmark = pytest.mark.browser

WAIT_MS = 240_000       # generous: one core runs JupyterLab, its kernel and Chromium
# Records every change of the drawing's progress line (`DataExplorer.progress`): its data attributes.
PROGRESS_LOG = """() => {
  window.qdProgress = [];
  const note = () => document.querySelectorAll('.qd-explore-progress span[data-stroke]').forEach(s =>
      window.qdProgress.push([+s.dataset.stroke, +s.dataset.strokes, +s.dataset.done]));
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free local port, serving copies of notebooks 01 and 04: its URL."""
    need_browser()
    root, home = tmp_path_factory.mktemp("lab"), tmp_path_factory.mktemp("jupyter-home")
    for name in ("01_eda.ipynb", "04_cnn.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, root / name)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "IPYTHONDIR": str(home / "ipython")}
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')   # no toast over the page
    port = free_port()
    log = open(home / "lab.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                             "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
                             "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--allow-root",
                             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/api/status", timeout=5).close()
                break
            except OSError:
                assert proc.poll() is None, (home / "lab.log").read_text()[-3000:]
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start in 120 s:\n" + (home / "lab.log").read_text()[-3000:])
        yield url
    finally:
        stop_group(proc, 20)
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh page for each notebook (JupyterLab would otherwise restore the other one beside it)."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1400})
    pg.set_default_timeout(WAIT_MS)
    yield pg
    pg.close()


def run_cells(page, url: str, notebook: str, *texts: str) -> None:
    """Open `notebook`, wait for its kernel, run the code cells holding `texts`, in order, each once
    the kernel is idle again (the parameters and set-up cells first: what a reader runs)."""
    page.goto(f"{url}/lab/tree/{notebook}?reset")          # ?reset: this notebook alone, no restored tabs
    page.wait_for_selector("#jp-main-statusbar >> text=Idle")
    for text in texts:
        cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell", has_text=text).first
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        cell.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[\d+\]")).wait_for()   # ran: [n], not [*]


def dark_pixels(locator) -> int:
    img = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("L"))
    return int((img < 128).sum())


def a_long_unrecognised_drawing() -> tuple[str, int]:
    """(class, its page index under "not recognised"): a raw drawing Google's AI did not recognise,
    of 3+ strokes drawn over 3+ seconds, so its playback shows strokes coming one after another."""
    for word in ("bear", "dog", "bicycle", "crown", "cat"):
        wrong = [d for d in explore._drawings(word, "raw") if d.recognized is False]
        for k, d in enumerate(wrong):
            if len(d.strokes) >= 3 and d.strokes[-1][2, -1] - d.strokes[0][2, 0] >= 3000:
                return word, k
    pytest.fail("no bundled unrecognised raw drawing of 3+ strokes and 3+ seconds")


def test_the_data_explorer_filters_and_draws_a_drawing_again(lab, page):
    word, k = a_long_unrecognised_drawing()
    run_cells(page, lab, "01_eda.ipynb", "DataExplorer()")
    ex = page.locator(".qd-explorer")
    ex.wait_for()
    page.wait_for_selector(".qd-explore-status >> text=drawings 1-")
    ex.locator(".qd-explore-word select").select_option(word)
    total = len(explore._drawings(word, "raw"))
    page.wait_for_selector(f".qd-explore-status >> text=({total} bundled)")
    ex.locator(".qd-explore-recognized select").select_option("not recognised")
    wrong = sum(d.recognized is False for d in explore._drawings(word, "raw"))
    page.wait_for_selector(f".qd-explore-status >> text=drawings 1-{wrong} of {wrong} ({total} bundled)")
    grid = ex.locator("canvas.qd-explore-grid, .qd-explore-grid canvas").first
    box = grid.bounding_box()
    assert box and box["height"] < 200 * (-(-wrong // 10)), box          # the canvas fits the page of drawings
    page.evaluate(PROGRESS_LOG)
    # ipycanvas focuses the canvas on mouse-down, and a browser scrolls a focused element that is not
    # wholly in view: the click would land elsewhere. A person clicks a grid they see whole; so do we.
    grid.evaluate("el => el.scrollIntoView({block: 'center'})")
    r, c = divmod(k, 10)
    pitch = 56 + 2
    grid.click(position={"x": 2 + c * pitch + 28, "y": 2 + r * pitch + 28})
    page.wait_for_selector(".qd-explore-info >> text=not recognised")
    d = [d for d in explore._drawings(word, "raw") if d.recognized is False][k]
    page.wait_for_selector(f".qd-explore-info >> text={d.key_id}")
    page.wait_for_selector('.qd-explore-progress span[data-done="1"]')
    seen = page.evaluate("window.qdProgress")
    strokes = [s for s, n, _ in seen]
    assert seen[-1] == [len(d.strokes), len(d.strokes), 1]
    assert strokes == sorted(strokes) and len(set(strokes)) >= 2, seen      # drawn stroke after stroke
    player = ex.locator("canvas.qd-explore-player, .qd-explore-player canvas").first
    assert dark_pixels(player) > 200
    if os.environ.get("QD_SAVE_SCREENSHOT") == "1":      # the README's: the whole class, the drawing beside it
        ex.locator(".qd-explore-recognized select").select_option("any")
        page.wait_for_selector(f".qd-explore-status >> text=drawings 1-{total} of {total}")
        ex.scroll_into_view_if_needed()
        ex.screenshot(path=str(REPORTS_DIR / "explore_data.png"))


def test_the_model_explorer_shows_the_drawings_of_a_confusion_cell(lab, page):
    mx = explore.ModelExplorer.shipped("13 classes", doodlenet=False)
    off = mx.cm * (1 - np.eye(len(mx.classes), dtype=int))
    i, j = np.unravel_index(off.argmax(), off.shape)
    run_cells(page, lab, "04_cnn.ipynb", "per_class = 3000", "ours13, ours40 = Predictor", "mx13 = ModelExplorer.shipped")
    ex = page.locator(".qd-model-explorer")
    ex.wait_for()
    matrix = ex.locator("canvas.qd-explore-confusion, .qd-explore-confusion canvas").first
    matrix.wait_for()
    page.wait_for_function("() => document.querySelector('.qd-model-explorer canvas') && "
                           "document.querySelector('.qd-model-explorer canvas').width > 300")
    matrix.evaluate("el => el.scrollIntoView({block: 'center'})")
    x, y = mx.picture.centre(i, j)
    matrix.click(position={"x": x, "y": y})
    title = ex.locator(f'.qd-cell-title[data-true="{mx.classes[i]}"][data-predicted="{mx.classes[j]}"]')
    title.wait_for()
    assert f"{off[i, j]} drawing" in title.inner_text()
    cards = ex.locator(".qd-explore-cards figure img")
    assert cards.count() == min(off[i, j], mx.max_cards)
    surest = mx.cell_indices(i, j)[0]           # the first card: the cell's drawing the model was surest of
    caption = ex.locator(".qd-explore-cards figcaption").first.inner_html()
    assert caption.startswith(mx.classes[j]) and caption == pictures.top3_caption(mx.probs[surest], mx.classes, i)
    if os.environ.get("QD_SAVE_SCREENSHOT") == "1":
        ex.screenshot(path=str(REPORTS_DIR / "explore_model.png"))
    ex.locator(".lm-TabBar-tab", has_text="Worst mistakes").click()
    page.wait_for_selector(".qd-explore-mistakes >> text=mistakes the model was surest of")
