"""A pupil on the wire: what one demo page does to the server, without a browser (`make bench-class`).

A browser page costs its machine far more than it costs the server: a class's pupils draw on their
own machines, so a classroom is measured with light visitors that speak the page's protocol, as a
recorded Chromium session showed it (Voila 0.5, JupyterLab's kernel websocket protocol v1):

1. GET the Voila page (server-side rendered, with the kernel's id in its page config);
2. open the kernel's websocket, `kernel_info_request`, then the widget manager's
   `jupyter.widget.control` comm: `request_states` answers with every widget's state;
3. the mode toggle set to Free draw (`update` of its `index`);
4. each stroke as the drawing pad's page side (qd/app/pad.js) sends it: the pen's operations
   (down, a move per frame the pen moved in: a browser fires at most one pointermove per animation
   frame, 60 a second; up) gathered and sent in one comm message every `BATCH_SECONDS` from the
   pen-down, and at once at the pen-up (`pen_batches`).

Latency is what a pupil sees: from sending the batch that ends a stroke to the first `update` it
causes (its parent header is that batch) of the bars or of the status line below them ("predicted
in 25 ms (3 strokes)", which changes at every stroke end: the bars do not when a guess made while
the pen moved already showed the same, and then no message comes for them). Frames are encoded by
jupyter_server's own functions.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from qd.app.game import BATCH_SECONDS
from qd.app.serve import KERNEL_ID
from qd.data import geometry
from qd.errors import QDError

PROTOCOL = "v1.kernel.websocket.jupyter.org"
FRAME_S = 1 / 60            # a browser fires mousemove at most once per animation frame
CANVAS = 400                # the free-draw canvas's own size (qd.app.free.DrawingApp)


def frame_of(t: float) -> int:
    """The animation frame (60 a second) of a time in seconds, exact on the raw data's whole milliseconds."""
    return round(t * 1000) * 60 // 1000


def pen_events(drawing, side: float = CANVAS, margin: float = 0.1) -> list[list[tuple]]:
    """The drawing as a browser sends it, per stroke: (seconds from the first point, event, x, y) in
    canvas pixels, scaled into the canvas with a margin, moves coalesced to one per frame (the
    stroke's first and last points always sent). Raw drawings keep their own pace; a simplified one
    (no times) is drawn at 0.3 s a stroke."""
    placed = geometry.fit(drawing.strokes, side * (1 - 2 * margin), (side * margin, side * margin))
    t0 = float(drawing.strokes[0][2][0]) if drawing.has_time else 0.0
    out = []
    for k, (s, xy) in enumerate(zip(drawing.strokes, placed)):
        t = (s[2] - t0) / 1000.0 if drawing.has_time else 0.3 * k + np.arange(s.shape[1]) * FRAME_S
        events = [(float(t[0]), "mouse_move", float(xy[0, 0]), float(xy[1, 0])),
                  (float(t[0]), "mouse_down", float(xy[0, 0]), float(xy[1, 0]))]
        last_frame = frame_of(float(t[0]))
        for i in range(1, s.shape[1]):
            frame = frame_of(float(t[i]))
            if frame == last_frame and i < s.shape[1] - 1:
                continue
            events.append((float(t[i]), "mouse_move", float(xy[0, i]), float(xy[1, i])))
            last_frame = frame
        events.append((events[-1][0], "mouse_up", events[-1][2], events[-1][3]))
        out.append(events)
    return out


def pen_batches(drawing, batch: float = BATCH_SECONDS) -> list[list[tuple]]:
    """The drawing as the pad sends it, per stroke: (seconds from the first point, [(op, x, y)]) for
    each message. Its timer starts at the pen-down and sends what gathered every `batch` seconds
    (nothing when nothing did); the pen-up sends the rest at once."""
    out = []
    for events in pen_events(drawing):
        t_down = events[1][0]
        msgs, pending, tick = [], [], 1
        for t, event, x, y in events[1:]:                 # from the pen-down (the hover move before it is not sent)
            op = event.removeprefix("mouse_")             # down / move / up
            while op != "up" and t >= t_down + tick * batch:     # the timer fired before this point
                if pending:
                    msgs.append((t_down + tick * batch, pending))
                    pending = []
                tick += 1
            pending.append((op, x, y))
        msgs.append((events[-1][0], pending))
        out.append(msgs)
    return out


async def at_own_pace(items):
    """Per stroke lists of (seconds from the first point, *rest), as they fall due: rest. One who
    falls behind (a busy machine) goes on: items already due come at once."""
    start = time.perf_counter()
    for stroke in items:
        for t, *rest in stroke:
            delay = t - (time.perf_counter() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            yield rest


@dataclass
class Pupil:
    """One page's traffic. `open()` fetches the page and connects, `free_draw()` switches mode,
    `draw(drawing)` draws it at its own pace; latencies (ms) gather in `stroke_to_bars_ms`."""

    base_url: str
    source_address: str | None = None       # the client address to connect from (a second loopback address)
    session: str = field(default_factory=lambda: uuid.uuid4().hex)
    ready_s: float | None = None             # GET until the widgets' state arrived (the page could draw)
    stroke_to_bars_ms: list = field(default_factory=list)
    sent: int = 0
    late: int = 0                            # stroke ends without bars within the timeout

    def __post_init__(self):
        self.kernel_id = ""
        self.models: dict = {}
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._waiting: dict[str, asyncio.Future] = {}   # msg_id -> reply, or the bars' update it caused
        self._bars_for: dict[str, float] = {}             # mouse_up msg_id -> when it was sent
        self._answer: set[str] = set()                    # the bars, and the status line below them

    # -- the page ------------------------------------------------------------------------------------
    async def open(self, timeout_s: float = 120) -> "Pupil":
        t0 = time.perf_counter()
        req = HTTPRequest(self.base_url, request_timeout=timeout_s, network_interface=self.source_address)
        try:
            page = await AsyncHTTPClient().fetch(req)
        except HTTPClientError as e:
            body = e.response.body.decode(errors="replace") if e.response is not None else ""
            raise QDError(f"the page answered {e.code}: {_said(body)}") from None
        text = page.body.decode(errors="replace")
        found = KERNEL_ID.search(text)
        if not found:
            raise QDError(f"the page at {self.base_url} names no kernel (is it the demo served by Voila?): {_said(text)}")
        self.kernel_id = found.group(1)
        ws_url = re.sub("^http", "ws", self.base_url.rstrip("/")) + \
            f"/api/kernels/{self.kernel_id}/channels?session_id={self.session}"
        self._ws = await websocket_connect(HTTPRequest(ws_url, network_interface=self.source_address,
                                                       request_timeout=timeout_s), subprotocols=[PROTOCOL])
        self._reader = asyncio.ensure_future(self._read())
        await self._request("kernel_info_request", {}, timeout_s)
        control = str(uuid.uuid4())
        self._send("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
                   metadata={"version": "1.0.0"})       # the widget protocol's control comm version
        reply = await self._request("comm_msg", {"comm_id": control, "data": {"method": "request_states"}}, timeout_s,
                                    wait_for="comm_msg")
        self._send("comm_close", {"comm_id": control, "data": {}})
        self.models = reply["content"]["data"]["states"]
        self.ready_s = time.perf_counter() - t0
        return self

    async def free_draw(self, timeout_s: float = 60) -> None:
        mode = self._find("ToggleButtonsModel", "qd-mode")
        index = self.models[mode]["state"]["_options_labels"].index("Free draw")
        await self._request("comm_msg", {"comm_id": mode, "data": {"method": "update", "state": {"index": index},
                                                                   "buffer_paths": []}}, timeout_s, wait_for="idle")

    async def draw(self, drawing, timeout_s: float = 60) -> None:
        """The drawing stroke by stroke at its own pace (a pupil who falls behind draws on: moves
        already due are sent at once), then waits until the kernel has handled the last stroke's end;
        a stroke whose bars never came within `timeout_s` is counted in `late`."""
        free = self._find("VBoxModel", "qd-free")
        pad = self._inside(free, "AnyModel")
        self._answer = {self._inside(free, "HTMLModel", "qd-chart"), self._inside(free, "HTMLModel", "qd-status")}
        async for (ops,) in at_own_pace(pen_batches(drawing)):
            msg_id = self._custom(pad, {"event": "pen", "ops": [list(op) for op in ops]})
            if ops[-1][0] == "up":
                self._bars_for[msg_id] = time.perf_counter()
                handled = self._idle_of(msg_id)
        try:
            await asyncio.wait_for(handled, timeout_s)
        except asyncio.TimeoutError:
            pass
        self.late += len(self._bars_for)          # stroke ends whose bars have not come
        self._bars_for.clear()

    async def clear(self, timeout_s: float = 60) -> None:
        """Press Clear (a button's click is a custom message to its model)."""
        free = self._find("VBoxModel", "qd-free")
        button = next(mid for mid in self._all_inside(free)
                      if self.models[mid]["model_name"] == "ButtonModel" and self.models[mid]["state"].get("description") == "Clear")
        await self._request("comm_msg", {"comm_id": button, "data": {"method": "custom", "content": {"event": "click"}}},
                            timeout_s, wait_for="idle")

    async def close(self) -> None:
        """Leave as a page does when its tab closes: ask Voila to shut the kernel down, then close."""
        if self.kernel_id:
            url = self.base_url.rstrip("/") + f"/voila/api/shutdown/{self.kernel_id}"
            try:
                await AsyncHTTPClient().fetch(HTTPRequest(url, method="POST", body=b"", request_timeout=30,
                                                          network_interface=self.source_address))
            except (HTTPClientError, OSError):
                pass                     # already gone (culled): nothing to give back
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.cancel()

    # -- the wire ------------------------------------------------------------------------------------
    def _send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "session": self.session, "username": "",
                  "date": datetime.now(timezone.utc).isoformat(), "version": "5.2"}
        parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)]
        self._ws.write_message(serialize_msg_to_ws_v1(parts, "shell"), binary=True)
        self.sent += 1
        return msg_id

    def _custom(self, comm_id: str, content: dict) -> str:
        return self._send("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})

    async def _request(self, msg_type: str, content: dict, timeout_s: float, wait_for: str = "reply") -> dict:
        msg_id = self._send(msg_type, content)
        fut = self._waiting[f"{wait_for}:{msg_id}"] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(fut, timeout_s)

    def _idle_of(self, msg_id: str) -> asyncio.Future:
        """Done when the kernel has handled `msg_id` (call it before the next await: the reader
        keeps no answer nobody waits for)."""
        fut = self._waiting[f"idle:{msg_id}"] = asyncio.get_running_loop().create_future()
        return fut

    async def _read(self) -> None:
        while True:
            frame = await self._ws.read_message()
            if frame is None:
                return
            now = time.perf_counter()
            channel, parts = deserialize_msg_from_ws_v1(frame)
            header, parent = json.loads(parts[0]), json.loads(parts[1])
            kind, cause = header["msg_type"], parent.get("msg_id", "")
            if kind.endswith("_reply"):
                self._resolve(f"reply:{cause}", None)
            elif kind == "status" and b'"idle"' in parts[3]:
                self._resolve(f"idle:{cause}", None)
            elif kind == "comm_msg":
                content = json.loads(parts[3])
                data = content.get("data", {})
                if data.get("method") == "update_states":
                    self._resolve(f"comm_msg:{cause}", {"content": content})
                elif cause in self._bars_for and content.get("comm_id") in self._answer and "value" in data.get("state", {}):
                    self.stroke_to_bars_ms.append((now - self._bars_for.pop(cause)) * 1e3)

    def _resolve(self, key: str, value) -> None:
        fut = self._waiting.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(value)

    # -- the widgets ---------------------------------------------------------------------------------
    def _find(self, model_name: str, dom_class: str) -> str:
        for mid, m in self.models.items():
            if m["model_name"] == model_name and dom_class in (m["state"].get("_dom_classes") or ()):
                return mid
        raise QDError(f"the page has no {model_name} of class {dom_class!r} (is it the demo?)")

    def _all_inside(self, root: str) -> list[str]:
        """The models shown inside `root`, breadth first."""
        out, todo = [], [root]
        while todo:
            mid = todo.pop(0)
            out.append(mid)
            todo += [c.removeprefix("IPY_MODEL_") for c in self.models.get(mid, {}).get("state", {}).get("children", [])]
        return out

    def _inside(self, root: str, model_name: str, dom_class: str | None = None) -> str:
        for mid in self._all_inside(root):
            m = self.models.get(mid, {})
            if m.get("model_name") == model_name and (dom_class is None or dom_class in (m["state"].get("_dom_classes") or ())):
                return mid
        raise QDError(f"the demo's free-draw view has no {model_name}")


def _said(body: str) -> str:
    """What an error page says, in a line (Voila's page shows the reason in its title)."""
    found = re.search(r"<title>(.*?)</title>", body, re.S) or re.search(r"<h\d[^>]*>(.*?)</h\d>", body, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip() if found else body[:200]
