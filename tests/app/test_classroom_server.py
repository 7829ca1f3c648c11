"""The demo served as `make demo` serves it, visited on the wire (no browser): a protocol visitor
(`qd.app.pupil`) draws a real held-out drawing and sees the bars after each stroke; one client
address requesting the page in a loop holds at most its bound of places, another visitor still gets
a page at once, and the places nobody connected to come back after the grace time (issue 26)."""
import asyncio
import re
import time
import urllib.error
import urllib.request

import pytest

from qd.app import replay
from qd.app.loadtest import Server
from qd.app.game import BATCH_SECONDS
from qd.app.pupil import Pupil, frame_of, pen_batches, pen_events
from qd.app.serve import ADDRESS_MESSAGE, KERNEL_ID
from qd.models import checkpoint

pytestmark = pytest.mark.slow

POOL, BOUND, GRACE_S, INTERVAL_S = 3, 2, 6, 1   # the pool outlasts one address's bound, as in a class


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("voila") / "voila.log", pool=POOL, max_kernels=8, max_per_address=BOUND,
                extra=(f"--ClassroomKernelManager.connect_grace={GRACE_S}",
                       f"--MappingKernelManager.cull_interval={INTERVAL_S}")) as s:
        yield s


def held_out_drawing():
    classes = checkpoint.read(replay.DEMO_MODEL)["classes"]
    return next(d for d in replay.unseen_by_demo(classes) if d.has_time and 3 <= len(d.strokes) <= 6)


def test_pen_events_are_what_a_browser_sends_for_a_drawing():
    d = held_out_drawing()
    strokes = pen_events(d)
    assert len(strokes) == len(d.strokes)
    for s in strokes:
        assert [e for _, e, _, _ in s[:2]] == ["mouse_move", "mouse_down"] and s[-1][1] == "mouse_up"
        moves = [t for t, e, _, _ in s[2:-1]]
        assert moves == sorted(moves)
        frames = [frame_of(t) for t in moves[:-1]]        # at most one move per frame (the last point always)
        assert len(frames) == len(set(frames))
        assert all(0 <= x <= 400 and 0 <= y <= 400 for _, _, x, y in s)


def test_pen_batches_are_what_the_pad_sends_for_those_events():
    """The pad's timer sends what gathered every BATCH_SECONDS from the pen-down, the pen-up the rest at once."""
    d = held_out_drawing()
    for events, msgs in zip(pen_events(d), pen_batches(d)):
        ops = [op for _, batch in msgs for op in batch]
        assert ops == [("down", *events[1][2:])] + [("move", x, y) for _, _, x, y in events[2:-1]] + [("up", *events[-1][2:])]
        t_down, times = events[1][0], [t for t, _ in msgs]
        assert all(batch for _, batch in msgs)                                      # no empty message
        ticks = [(t - t_down) / BATCH_SECONDS for t in times[:-1]]
        assert all(abs(k - round(k)) < 1e-6 and round(k) >= 1 for k in ticks) and times == sorted(times)
        assert times[-1] == events[-1][0] and msgs[-1][1][-1][0] == "up"
    assert sum(map(len, pen_batches(d))) * 2 < sum(map(len, pen_events(d)))     # fewer messages than events


def test_a_protocol_visitor_draws_and_sees_the_bars_after_every_stroke(server):
    d = held_out_drawing()

    async def visit():
        p = await Pupil(server.url, "127.0.0.9").open()
        await p.free_draw()
        await p.draw(d)
        await p.clear()
        await p.close()
        return p
    p = asyncio.run(visit())
    assert p.ready_s < 30 and len(p.stroke_to_bars_ms) == len(d.strokes)
    assert all(0 < ms < 10_000 for ms in p.stroke_to_bars_ms)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_one_address_requesting_the_page_in_a_loop_holds_its_bound_and_others_still_get_a_page(server):
    answers = [_get(server.url) for _ in range(50)]           # curl in a loop: pages nobody opens
    given = [KERNEL_ID.search(body).group(1) for status, body in answers if status == 200]
    refused = [body for status, body in answers if status == 429]
    assert len(given) <= BOUND and len(given) + len(refused) == 50
    assert ADDRESS_MESSAGE.format(n=BOUND).split(".")[0] in refused[0] and "Traceback" not in refused[0]
    assert len(server.kernels()) <= POOL + BOUND              # the pool refilled, and the looping address's

    async def another():
        p = await Pupil(server.url, "127.0.0.2").open()
        await p.close()
        return p
    other = asyncio.run(another())
    assert other.ready_s < 10 and other.kernel_id not in given

    # nobody connected to the loop's kernels: given back after the grace time, and the address may ask again
    deadline = time.time() + GRACE_S + 10 * INTERVAL_S + 30
    while not all(f"Kernel shutdown: {k}" in server.text() for k in given):
        assert time.time() < deadline, f"the never-connected kernels were kept:\n{server.text()[-2000:]}"
        time.sleep(0.5)
    assert re.search(r"no page connected \(or stayed\) within \d+ s", server.text())
    status, body = _get(server.url)
    assert status == 200 and KERNEL_ID.search(body)
