"""A classroom on the demo, measured (`make bench-demo`): real Chromium pages against Voila served as
`make demo` serves it (voila.json: preheated kernels, culling, a bound).

N visitors (separate browser contexts) open the demo at once; each switches to free draw and draws a
real bundled drawing stroke by stroke. Per visitor: seconds from opening the page until it is ready
to draw, and stroke end -> bars latency measured in the page (mouseup -> the bar chart changes).
Then the server's kernels and memory (Voila and its kernels, resident) with all tabs open, right
after they close (half of them as a browser closes a tab, which asks Voila to shut the kernel down,
half abruptly, as a crash or a lost network would: culling's job) and two minutes later; then
visitors one after another, and memory after the first and after the last. The browsers run on this
machine too: on cores of their own (`taskset`-style affinity: the server on the first half, Chromium
on the other) where the machine has 4 or more, else sharing the server's (the JSON says which). A
classroom's browsers run on the pupils' machines; `make bench-class` (`qd.app.classbench`) measures
the server alone, with protocol visitors.

    python -m qd.app.loadtest --visitors 10 --bench       # one JSON line
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

from qd.app.pupil import CANVAS, at_own_pace, pen_events
from qd.data import geometry, ndjson
from qd.cli import print_result
from qd.errors import QDError
from qd.paths import NOTEBOOKS_DIR, ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
CLASSES = ["star", "square", "circle", "smiley face", "crown", "fish", "eye", "house", "tree", "cat"]
# Stroke end -> the answer on screen: from mouseup to the first change of the bars or of the status
# line below them (which changes at every stroke end; the bars do not when a guess made while the
# pen moved already showed the same). `qd.app.pupil` measures the same on the wire.
LATENCY_PROBE = """() => {
    window.qdLat = []; let t0 = null;
    document.querySelector('.qd-free canvas').addEventListener('mouseup', () => { t0 = performance.now(); }, true);
    const seen = new MutationObserver(() => { if (t0 !== null) { window.qdLat.push(performance.now() - t0); t0 = null; } });
    for (const sel of ['.qd-free .qd-chart', '.qd-free .qd-status'])
        seen.observe(document.querySelector(sel), {childList: true, subtree: true, characterData: true});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Voila serving notebooks/demo.ipynb as `make demo` does (from the repo root, so voila.json
    applies), on a free local port; `extra` adds settings (a pool size, a shorter culling time).
    Browsers driven from here all come from 127.0.0.1: no bound per address unless `max_per_address`
    says one (None: voila.json's)."""

    def __init__(self, log_path: Path, pool: int, max_kernels: int = 24, extra: tuple = (), env: dict | None = None,
                 cores: list[int] | None = None, max_per_address: int | None = 0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qd.app.serve", str(NOTEBOOKS_DIR / "demo.ipynb"), "--no-browser", f"--port={self.port}",
             "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", f"--pool_size={pool}",
             f"--ClassroomKernelManager.max_kernels={max_kernels}",
             *([] if max_per_address is None else [f"--ClassroomKernelManager.max_per_address={max_per_address}"]),
             *extra],
            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        self.pool, self.started = pool, time.time()

    def __enter__(self) -> "Server":
        """Up, with its pool warm (stopped if it never gets there)."""
        try:
            self.wait_up()
            self.wait_pool()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(self.url + "voila/static/voila.js", timeout=5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise QDError(f"voila did not start:\n{self.text()[-3000:]}")
                time.sleep(0.5)

    def wait_pool(self, timeout: float = 600) -> float:
        """Wait until the pool is warm: `pool` kernels, each done running the notebook (Voila's "pool
        is filled" comes when they have started, not when the notebook has run in them: then they
        fall idle): again after visitors took kernels from it, once it has refilled. Gives up `timeout`
        seconds after the call. Returns the seconds since the server started."""
        quiet, seen, deadline = 0, {}, time.time() + timeout
        while quiet < 3:
            if self.proc.poll() is not None or time.time() > deadline:
                raise QDError(f"the kernel pool did not warm up within {timeout:.0f} s:\n{self.text()[-3000:]}")
            kernels = self.kernels()
            busy = 0.0
            for k in kernels:                # the same Process each time: cpu_percent is since the last call
                try:
                    busy += seen.setdefault(k.pid, k).cpu_percent(interval=None)
                except psutil.Error:
                    pass
            quiet = quiet + 1 if len(kernels) >= self.pool and "is filled with" in self.text() and busy < 10 else 0
            time.sleep(1.0)
        return time.time() - self.started

    def kernels(self) -> list[psutil.Process]:
        """The live kernel processes (a kernel just shut down may linger a moment as a zombie)."""
        out = []
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if p.status() != psutil.STATUS_ZOMBIE and any("ipykernel" in a for a in p.cmdline()):
                    out.append(p)
            except psutil.Error:
                pass
        return out

    def memory_mb(self) -> float:
        """Resident memory of Voila and every kernel, MB."""
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 2 ** 20

    def snapshot(self) -> dict:
        return {"kernels": len(self.kernels()), "memory_mb": round(self.memory_mb())}

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def drawings(n: int) -> list:
    """n real drawings from the bundled simplified files, one class after another."""
    out = []
    for i in range(n):
        c = CLASSES[i % len(CLASSES)]
        found = [d for d in ndjson.iter_drawings(ndjson.strokes_path(c, "simplified")) if 2 <= len(d.strokes) <= 8]
        out.append(found[(i // len(CLASSES)) % len(found)])
    return out


async def pad_box(page, selector: str = ".qd-free canvas") -> dict:
    """`qd.app.playtest.pad_box` for an async page: the canvas's box, scrolled into view first."""
    canvas = page.locator(selector).first
    await canvas.scroll_into_view_if_needed()
    return await canvas.bounding_box()


async def draw(page, drawing, pause: float = 0.25, side: float = 300, margin: float = 50) -> None:
    """The drawing's strokes as real mouse moves in the free-draw canvas, a pause after each stroke."""
    box = await pad_box(page)
    for xy in geometry.fit(drawing.strokes, side, (box["x"] + 2 + margin, box["y"] + 2 + margin)):
        xs, ys = xy[0].tolist(), xy[1].tolist()
        await page.mouse.move(xs[0], ys[0])
        await page.mouse.down()
        for x, y in zip(xs[1:], ys[1:]):
            await page.mouse.move(x, y)
        await page.mouse.up()
        await asyncio.sleep(pause)


async def open_page(browser, url: str, timeout_s: float = 120):
    """A new visitor (its own browser context): (context, page, seconds until ready to draw, the
    page's text when it never became ready)."""
    ctx = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await ctx.new_page()
    t0 = time.perf_counter()
    try:
        await page.goto(url, timeout=timeout_s * 1000)
        await page.wait_for_selector(".qd-speech", timeout=timeout_s * 1000)
    except Exception:  # noqa: BLE001 - the page's own words say what went wrong
        return ctx, page, None, (await page.inner_text("body"))[:300]
    return ctx, page, time.perf_counter() - t0, ""


async def leave(ctx, page, abruptly: bool = False) -> None:
    """Close a visitor's tab as a browser does (its beforeunload handler runs: Voila's page asks the
    server to shut its kernel down), or `abruptly` (a crash, a lost network: culling's job)."""
    if not abruptly:
        try:
            await page.close(run_before_unload=True)
            await asyncio.sleep(0.3)
        except Exception:  # noqa: BLE001 - a page that is already gone
            pass
    await ctx.close()


async def draw_at_own_pace(page, drawing, selector: str = ".qd-free canvas") -> None:
    """The drawing as real mouse events at its own pace, the events a browser fires for it
    (`qd.app.pupil.pen_events`, which protocol visitors send as the pad batches them): the same
    strokes on the wire."""
    box = await pad_box(page, selector)
    scale = (box["width"] - 4) / CANVAS                       # the canvas's 2 px border
    async for event, x, y in at_own_pace(pen_events(drawing)):
        if event == "mouse_move":
            await page.mouse.move(box["x"] + 2 + x * scale, box["y"] + 2 + y * scale)
        elif event == "mouse_down":
            await page.mouse.down()
        else:
            await page.mouse.up()


async def draw_and_measure(page, drawing) -> list[float]:
    """Free draw, the drawing stroke by stroke; the page's stroke end -> bars latencies (ms)."""
    await page.locator(".qd-mode button", has_text="Free draw").click()
    await page.wait_for_selector(".qd-free canvas", state="visible")
    await page.evaluate(LATENCY_PROBE)
    await draw(page, drawing)
    await asyncio.sleep(1.0)
    return await page.evaluate("window.qdLat")


async def classroom(url: str, n: int, server: Server, sequential: int, settle_s: float) -> dict:
    """n visitors open the demo at once; once every page is ready (or has given up), all draw at once."""
    # playwright is a dev dependency (pip install -e ".[dev]"): imported where it is used
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            opened = await asyncio.gather(*(open_page(browser, url) for _ in range(n)))
            lats = await asyncio.gather(*(draw_and_measure(page, d) for (_, page, ready, _), d
                                          in zip(opened, drawings(n)) if ready is not None))
            open_all = server.snapshot()
            for i, (ctx, page, *_) in enumerate(opened):
                await leave(ctx, page, abruptly=i % 2 == 1)
            await asyncio.sleep(3)
            after_close = server.snapshot()
            await asyncio.sleep(settle_s)
            later = server.snapshot()
            seq = await one_after_another(browser, url, server, sequential)
        finally:
            await browser.close()
    lat = [x for per in lats for x in per]
    ready = [None if r is None else round(r, 2) for _, _, r, _ in opened]
    return {"visitors": n, "ready_s": ready,
            "ready_s_max": max((r for r in ready if r is not None), default=None),
            "not_ready": sum(r is None for r in ready), "pages_said": sorted({s for *_, s in opened if s}),
            "stroke_to_bars_ms_median": round(float(np.median(lat)), 1) if lat else None,
            "stroke_to_bars_ms_p90": round(float(np.percentile(lat, 90)), 1) if lat else None, "strokes": len(lat),
            "all_open": open_all, "right_after_close": after_close, f"after_{settle_s:.0f}_s": later, **seq}


async def one_after_another(browser, url: str, server: Server, n: int) -> dict:
    """n visitors one after another, each drawing and leaving; memory after the first and the last."""
    if n <= 0:
        return {}
    mem, ready = [], []
    for i, d in enumerate(drawings(n)):
        ctx, page, t, said = await open_page(browser, url)
        ready.append(None if t is None else round(t, 2))
        if t is not None:
            await draw_and_measure(page, d)
        await leave(ctx, page)
        await asyncio.sleep(2)
        if i in (0, n - 1):
            mem.append(server.snapshot())
    return {"sequential_visits": n, "sequential_ready_s_median": float(np.median([r for r in ready if r is not None])),
            "sequential_ready_s_max": max(r for r in ready if r is not None),
            "sequential_not_ready": sum(r is None for r in ready),
            "after_first_visit": mem[0], f"after_{n}_visits": mem[-1],
            "memory_growth": round(mem[-1]["memory_mb"] / mem[0]["memory_mb"] - 1, 3)}


def bench(visitors: int = 10, pool: int | None = None, max_kernels: int | None = None, sequential: int = 50,
          settle_s: float = 120, log_dir: Path | None = None) -> dict:
    """Serve the demo as a teacher would for `visitors` pupils: a pool of one kernel each (`pool`)
    and a bound a little above it (`max_kernels`, default pool + 2: the refills after a wave of
    visitors are few, so they do not slow the drawing), fill the pool, then the classroom."""
    if not os.path.exists(CHROMIUM):
        raise QDError(f"the load benchmark drives Chromium at {CHROMIUM} (apt-get install chromium)")
    log_dir = Path(log_dir or (ROOT / "reports"))
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = pool if pool is not None else visitors
    max_kernels = max_kernels if max_kernels is not None else pool + 2
    cores = sorted(os.sched_getaffinity(0))
    # the browsers stand for the pupils' machines: on cores of their own where there are enough
    half = len(cores) // 2 if len(cores) >= 4 else 0
    server_cores, browser_cores = (cores[:half], cores[half:]) if half else (cores, cores)
    server = Server(log_dir / "bench_demo_voila.log", pool, max_kernels, cores=server_cores if half else None)
    try:
        server.wait_up()
        filled = server.wait_pool()
        idle = server.snapshot()
        if half:
            os.sched_setaffinity(0, browser_cores)       # Chromium, started from here, inherits it
        result = asyncio.run(classroom(server.url, visitors, server, sequential, settle_s))
    finally:
        os.sched_setaffinity(0, cores)
        server.stop()
    preheated = len(re.findall(r"Using pre-heated kernel", server.text()))
    return {"pool": pool, "max_kernels": max_kernels, "server_cores": server_cores, "browser_cores": browser_cores,
            "browsers_share_the_servers_cores": not half, "pool_filled_s": round(filled, 1), "idle": idle,
            "visitors_given_a_preheated_kernel": preheated, **result}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.app.loadtest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--visitors", type=int, default=10, help="pages opened at once")
    ap.add_argument("--pool", type=int, default=None, help="preheated kernels (default: one per visitor)")
    ap.add_argument("--max-kernels", type=int, default=None, help="the bound (default: pool + 2)")
    ap.add_argument("--sequential", type=int, default=50, help="visits one after another, afterwards")
    ap.add_argument("--settle", type=float, default=120, help="seconds to wait after the tabs close")
    ap.add_argument("--bench", action="store_true", help="print one JSON line (the default prints it indented)")
    a = ap.parse_args(argv)
    return print_result(lambda: bench(a.visitors, a.pool, a.max_kernels, a.sequential, a.settle), a.bench)


if __name__ == "__main__":
    sys.exit(main())
