"""A classroom measured as a classroom (`make bench-class`): the server's capacity without the browsers.

Voila serves the demo as `make demo` does (voila.json), with a warm pool of one kernel per pupil
and the bound at the pool (`max_kernels = pool`: no refill runs during the measurement, as in a
lesson once the class is in). Pupils are protocol visitors (`qd.app.pupil`): they cost the server
what a page costs it and this machine almost nothing else. Then:

1. 10 pupils open the page at once: each page's server-side ready time (GET until the widgets'
   state arrived), the rest of the class opens after them;
2. the capacity curve: 1, 5, 10, 20, 30 pupils drawing at once, each a held-out raw drawing of its
   own at the drawing's own pace (the demo model never learned from them), then Clear: stroke end to
   bars median and p90, and CPU (Voila, the kernels, this client's own share, the whole machine on
   average and in its busiest second);
3. memory: each kernel's own (unique) and resident memory, Voila's, and the machine's total.

    python -m qd.app.classbench --bench      # one JSON line, and reports/bench_class.png
"""
from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from matplotlib.figure import Figure
from tqdm import tqdm

from qd.app import replay
from qd.app.loadtest import Server
from qd.app.pupil import Pupil
from qd import atomic
from qd.cli import print_result
from qd.errors import QDError
from qd.models import checkpoint
from qd.paths import ROOT

SIZES = (1, 5, 10, 20, 30)
OPENING = 10                 # pupils opening the page at once
STROKES_PER_SIZE = 40        # at least this many strokes per point of the curve (a pupil draws several drawings)


def held_out_drawings(seed: int = 0) -> list:
    """Held-out raw drawings of the demo model's classes with their times, 2 to 12 strokes, in a
    seeded order."""
    classes = checkpoint.read(replay.DEMO_MODEL)["classes"]
    found = [d for d in replay.unseen_by_demo(classes) if d.has_time and 2 <= len(d.strokes) <= 12]
    if not found:
        raise QDError(f"no held-out raw drawing of the demo model's classes ({', '.join(classes)})")
    return [found[i] for i in np.random.default_rng(seed).permutation(len(found))]


class CpuMeter:
    """Cores used between start and stop: Voila's one process (it relays every message between the
    pages and the kernels), the kernels together, this process (the visitors) and the whole machine;
    and the machine's busiest second. A class starting to draw together is a burst: the average over
    a point hides the seconds when every core was taken."""

    def __init__(self, server: Server):
        self.server = server
        self._stop = threading.Event()
        self.per_second: list[float] = []          # the machine's cores in use, second by second

    def _sample(self) -> None:
        psutil.cpu_percent(interval=None)
        while not self._stop.wait(1.0):
            self.per_second.append(psutil.cpu_percent(interval=None) / 100 * (os.cpu_count() or 1))

    def _cpu(self) -> tuple[float, float]:
        voila = psutil.Process(self.server.proc.pid)
        kernels = 0.0
        for p in voila.children(recursive=True):
            try:
                t = p.cpu_times()
                kernels += t.user + t.system
            except psutil.Error:
                pass
        t = voila.cpu_times()
        return t.user + t.system, kernels

    @staticmethod
    def _machine() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    def __enter__(self):
        self.t0, self.start, self.me0, self.m0 = time.perf_counter(), self._cpu(), time.process_time(), self._machine()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *_):
        self.wall = wall = time.perf_counter() - self.t0
        (v1, k1), (v0, k0) = self._cpu(), self.start
        self.voila_cores, self.kernel_cores = (v1 - v0) / wall, (k1 - k0) / wall
        self.client_cores = (time.process_time() - self.me0) / wall
        self.machine_cores = (self._machine() - self.m0) / wall
        self._stop.set()
        self._sampler.join()
        self.busiest_second = max(self.per_second, default=self.machine_cores)


def memory(server: Server) -> dict:
    """MB: each kernel's unique memory (what one more kernel adds) and resident memory (shared
    libraries counted in each), Voila's own, and the machine's used memory."""
    uss, rss = [], []
    for k in server.kernels():
        try:
            m = k.memory_full_info()
        except psutil.Error:
            continue
        uss.append(m.uss / 2 ** 20)
        rss.append(m.rss / 2 ** 20)
    vm = psutil.virtual_memory()
    return {"kernels": len(uss), "mb_per_kernel": round(float(np.mean(uss))) if uss else None,
            "mb_per_kernel_resident": round(float(np.mean(rss))) if rss else None,
            "voila_mb": round(psutil.Process(server.proc.pid).memory_info().rss / 2 ** 20),
            "machine_used_gb": round((vm.total - vm.available) / 2 ** 30, 1), "machine_gb": round(vm.total / 2 ** 30, 1)}


async def draw_for(pupil: Pupil, drawings: list) -> None:
    for d in drawings:
        await pupil.draw(d)
        await pupil.clear()


async def classroom(server: Server, sizes, drawings: list, opening: int) -> dict:
    n = max(sizes)
    # each pupil its own machine: its own loopback address (the server binds 127.0.0.1, Linux
    # answers the whole 127/8), so the bound per address sees a class, not one client
    address = [f"127.0.0.{i + 2}" for i in range(n)]
    first = await asyncio.gather(*(Pupil(server.url, address[i]).open() for i in range(opening)))
    ready = [p.ready_s for p in first]
    rest = [await Pupil(server.url, address[i]).open() for i in range(opening, n)]
    pupils = [*first, *rest]
    for p in pupils:
        await p.free_draw()
    curve, handed = {}, 0
    for size in tqdm(sizes, desc="pupils drawing at once", file=sys.stderr):
        per = max(1, math.ceil(STROKES_PER_SIZE / (size * 5)))       # about 5 strokes a drawing
        for p in pupils:                   # this point's figures only (not the opening's messages)
            p.stroke_to_bars_ms.clear()
            p.late = p.sent = 0
        mine = [drawings[(handed + i) % len(drawings)] for i in range(size * per)]
        handed += len(mine)
        with CpuMeter(server) as cpu:
            await asyncio.gather(*(draw_for(p, mine[i * per:(i + 1) * per]) for i, p in enumerate(pupils[:size])))
        lat = [x for p in pupils[:size] for x in p.stroke_to_bars_ms]
        curve[size] = {"strokes": len(lat), "late_over_60_s": sum(p.late for p in pupils[:size]), "p50_ms": round(float(np.median(lat)), 1),
                       "p90_ms": round(float(np.percentile(lat, 90)), 1), "voila_cores": round(cpu.voila_cores, 2),
                       "kernel_cores": round(cpu.kernel_cores, 2),
                       "client_cores": round(cpu.client_cores, 2), "machine_cores": round(cpu.machine_cores, 2),
                       "machine_cores_busiest_second": round(cpu.busiest_second, 2),
                       "seconds": round(cpu.wall, 1),
                       "messages_per_s": round(sum(p.sent for p in pupils[:size]) / max(1e-9, time.perf_counter() - cpu.t0))}
        tqdm.write(f"{size} pupils drawing: {curve[size]}", file=sys.stderr)
    mem = memory(server)
    for p in pupils:
        await p.close()
    return {"opening": opening, "ready_s": [round(r, 3) for r in ready], "curve": curve, "memory": mem}


def plot(result: dict, path: Path) -> None:
    """Stroke end to bars (median, p90) against pupils drawing at once, with the targets."""
    curve = {int(k): v for k, v in result["curve"].items()}        # JSON keys are strings
    sizes = sorted(curve)
    fig = Figure(figsize=(6, 3.6), dpi=100)          # no pyplot: no backend, no global figure
    ax = fig.subplots()
    for key, label, style in (("p50_ms", "median", "o-"), ("p90_ms", "p90", "s--")):
        ax.plot(sizes, [curve[s][key] for s in sizes], style, label=f"stroke end to bars, {label}")
    ax.axhline(100, color="#2a2", lw=0.8, ls=":", label="target: median 100 ms")
    ax.axhline(250, color="#a22", lw=0.8, ls=":", label="target: p90 250 ms")
    ax.set_xlabel("pupils drawing at once")
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_xticks(sizes)
    ax.set_title(f"One {os.cpu_count()}-core machine serving the demo", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic.write_bytes(path, buf.getvalue())


def bench(sizes=SIZES, opening: int = OPENING, seed: int = 0, out: Path | None = None) -> dict:
    sizes = sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 1 or opening < 1 or opening > sizes[-1]:
        raise QDError(f"sizes must be whole numbers >= 1 and opening between 1 and the largest ({sizes}, {opening})")
    drawings = held_out_drawings(seed)
    n = sizes[-1]
    out = Path(out or ROOT / "reports" / "bench_class.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    server = Server(out.with_name("bench_class_voila.log"), pool=n, max_kernels=n, max_per_address=None)
    try:
        server.wait_up()
        warm_s = server.wait_pool(timeout=1800)
        idle = memory(server)
        result = asyncio.run(classroom(server, sizes, drawings, opening))
    finally:
        server.stop()
    flat = {f"{k}_{s}": v for s, row in result["curve"].items() for k, v in row.items() if k in ("p50_ms", "p90_ms")}
    summary = {**flat, f"ready_s_{opening}": max(result["ready_s"]), "mb_per_kernel": result["memory"]["mb_per_kernel"],
               "cores": os.cpu_count(), "pool_warm_s": round(warm_s, 1), "idle": idle, **result}
    plot(summary, out)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.app.classbench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="pupils drawing at once, each point of the curve")
    ap.add_argument("--opening", type=int, default=OPENING, help="pupils opening the page at once")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench", action="store_true", help="print one JSON line (the default prints it indented)")
    a = ap.parse_args(argv)
    return print_result(lambda: bench(a.sizes, a.opening, a.seed), a.bench)


if __name__ == "__main__":
    sys.exit(main())
