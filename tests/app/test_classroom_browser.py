"""The demo served as `make demo` serves it (voila.json: preheated kernels, culling, a bound) with the
shipped model, and real Chromium pages: a round with a real drawing that the game's old rules would
have lost is won; a visitor gets a preheated kernel, a closed page's kernel is gone within the
culling time, the next visitor gets a preheated kernel again, and a visitor beyond the bound gets a
page saying so. Short culling times here (the repo's: 60 s idle, checked every 10 s)."""
import re
import time

import numpy as np
import pytest
from helpers import as_canvas, chromium, draw, need_browser

from qd.app import game, replay
from qd.app.playtest import card_prompt, press, wait_state
from qd.data import ndjson
from qd.paths import MODELS_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CULL_S, INTERVAL_S, GRACE_S = 8, 2, 30


def won_now_lost_before(player, prompt):
    """A real drawing of `prompt` that the old rules would lose (the prompt never on top at 50% or more
    with "I don't know" silent, at any point of the drawing) and the new ones win (the prompt is the
    top guess once it is complete): replayed through the game's rules (`qd.app.replay`) as the canvas
    will record it, every point a guess, whatever the browser's timing samples."""
    for d in ndjson.iter_drawings(ndjson.strokes_path(prompt, "raw")):
        if len(d.strokes) > 8:
            continue
        t, timed = 0, []
        for xs, ys in as_canvas(d):
            timed.append(np.array([xs, ys, t + np.arange(len(xs))], np.float32))
            t += len(xs) + 1
        drawing = ndjson.Drawing(prompt, timed)
        whole = replay.Guesses.of([drawing], within_strokes=False)
        if player.classes[int(player.predict(whole.images[-1:])[0].argmax())] != prompt:
            continue
        g = replay.Guesses.of([drawing], throttle=0.0)
        if replay.play(g, player, game.RULES).won[0] and not replay.play(g, player, game.OLD_RULES).won[0]:
            return d
    return None


@pytest.fixture(scope="module")
def first_round():
    """(seed, prompt, drawing): the first seed whose first prompt has such a drawing (the shipped model)."""
    player = replay.Player.ours(MODELS_DIR / "cnn.pt")
    for seed in range(30):
        prompt = game.Game(player.classes, 1, seed=seed).start_round(0.0).prompt
        d = won_now_lost_before(player, prompt)
        if d is not None:
            return seed, prompt, d
    pytest.fail("no seed's first prompt has a bundled drawing won under the new rules and lost under the old")


@pytest.fixture(scope="module")
def server(tmp_path_factory, first_round):
    need_browser()
    # loadtest imports playwright: only once the browser is known to be here
    from qd.app import loadtest
    with loadtest.Server(tmp_path_factory.mktemp("voila") / "voila.log", pool=1, max_kernels=3,
                         extra=(f"--MappingKernelManager.cull_idle_timeout={CULL_S}",
                                f"--MappingKernelManager.cull_interval={INTERVAL_S}",
                                f"--ClassroomKernelManager.connect_grace={GRACE_S}"),
                         env={"QD_DEMO_SEED": str(first_round[0]), "QD_DEMO_ROUNDS": "1"}) as s:
        yield s


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


def visit(browser, server):
    """A visitor: (context, page, the kernel Voila handed it from the pool, seconds to ready)."""
    before = set(re.findall(r"Using pre-heated kernel: ([0-9a-f-]+)", server.text()))
    ctx = browser.new_context()
    page = ctx.new_page()
    t0 = time.time()
    try:
        page.goto(server.url, timeout=60_000)
        page.wait_for_selector(".qd-speech", timeout=60_000)
    except Exception as e:  # what the page and the server said
        pytest.fail(f"the page was not ready ({type(e).__name__}); it says {page.inner_text('body')[:300]!r}; "
                    f"the server:\n{server.text()[-3000:]}")
    ready = time.time() - t0
    handed = set(re.findall(r"Using pre-heated kernel: ([0-9a-f-]+)", server.text())) - before
    assert len(handed) == 1, f"this visitor got no preheated kernel:\n{server.text()[-2000:]}"
    return ctx, page, handed.pop(), ready


def wait_for(condition, timeout, what, server):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"{what} within {timeout} s:\n{server.text()[-2000:]}")
        time.sleep(0.5)


def test_a_round_the_old_rules_would_have_lost_is_won(server, browser, first_round):
    _, prompt, d = first_round
    ctx, page, _, _ = visit(browser, server)
    press(page, ".qd-start", "ready")
    assert card_prompt(page) == prompt
    press(page, ".qd-got-it", "playing")
    draw(page, d, mode="play")
    # a one-round game: the results follow the verdict (which may come before the last stroke)
    wait_state(page, "over", 60)
    result = page.locator(".qd-result")
    assert result.get_attribute("data-status") == "won" and prompt in result.inner_text(), result.inner_text()
    ctx.close()


def test_a_closed_pages_kernel_is_culled_and_the_next_visitor_gets_a_preheated_one(server, browser):
    filled = server.text().count("Kernel pool of demo.ipynb is filled")
    ctx, page, first, _ = visit(browser, server)
    assert "Press Start" in page.inner_text(".qd-speech")
    # the refill done (counting kernels alone was satisfied by the last test's page, not yet culled,
    # and the page closed while the refill was still starting: the close then raced it)
    wait_for(lambda: server.text().count("Kernel pool of demo.ipynb is filled") > filled, 90, "the pool was not refilled", server)
    ctx.close()
    wait_for(lambda: f"Kernel shutdown: {first}" in server.text(), CULL_S + 3 * INTERVAL_S + 30,
             "the closed page's kernel was not shut down", server)
    wait_for(lambda: len(server.kernels()) == 1, 30, "a kernel too many is left", server)
    ctx2, _, second, ready = visit(browser, server)
    assert second != first and ready < 30
    ctx2.close()


def test_a_visitor_beyond_the_bound_is_told_plainly(server, browser):
    wait_for(lambda: len(server.kernels()) == 1, 60, "kernels of closed pages stayed", server)
    held = []
    for _ in range(2):                    # two visitors and the pool: the bound of 3 (a visitor holds its
        ctx = browser.new_context()       # kernel from the page request on; readiness is the tests' above)
        ctx.new_page().goto(server.url, timeout=60_000)
        held.append(ctx)
        time.sleep(1)
    wait_for(lambda: len(server.kernels()) == 3, 90, "the pool was not refilled up to the bound", server)
    ctx = browser.new_context()
    page = ctx.new_page()
    for _ in range(2):                    # the pool's kernel, then nothing: the refill was refused
        page.goto(server.url, timeout=60_000)
        if "drawing places are taken" in page.inner_text("body"):
            break
        held.append(ctx)
        ctx = browser.new_context()
        page = ctx.new_page()
    text = page.inner_text("body")
    assert "All 3 drawing places are taken right now" in text and "Traceback" not in text
    assert len(server.kernels()) <= 3
    for c in held + [ctx]:
        c.close()
