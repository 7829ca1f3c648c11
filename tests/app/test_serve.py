"""The classroom settings as `make demo` reads them (voila.json), and the kernel manager's grace time,
without a browser: the browser test sets short culling times on the command line, so these are what
would notice a voila.json that lost culling, or a grace time that no longer holds a kernel."""
import asyncio
import json

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
import pytest
from tornado import web
from traitlets.config import Config

from qd.app import serve
from qd.paths import ROOT


def _manager(**section):
    cfg = Config(json.loads((ROOT / "voila.json").read_text()))
    cfg.ClassroomKernelManager.update(section)
    return serve.ClassroomKernelManager(config=cfg)


def test_voila_json_turns_culling_on_with_a_bound_and_a_grace_time():
    """(issue 24, point 16) Voila reads these sections by class name: a typo would be ignored."""
    km = _manager()
    assert km.cull_idle_timeout == 60 and km.cull_interval == 10 and km.cull_connected is False
    assert km.max_kernels == 24 and km.connect_grace == 20 and km.max_per_address == 3
    voila = json.loads((ROOT / "voila.json").read_text())["VoilaConfiguration"]
    assert voila["multi_kernel_manager_class"] == "qd.app.serve.ClassroomKernelManager"
    assert voila["preheat_kernel"] is True and voila["default_pool_size"] >= 1
    # kernels over unix sockets: 30 started at once over TCP collided on a port (ZMQError: Address already in use)
    assert json.loads((ROOT / "voila.json").read_text())["KernelManager"]["transport"] == "ipc"


def test_a_kernel_waiting_for_its_page_is_spared_for_the_grace_time_then_culled(monkeypatch):
    """(issue 24, point 16) connect_grace was never asserted."""
    culled = []

    async def parent_cull(self, kernel_id):
        culled.append(kernel_id)
    monkeypatch.setattr(AsyncMappingKernelManager, "cull_kernel_if_idle", parent_cull)
    now = [1000.0]
    monkeypatch.setattr(serve.time, "monotonic", lambda: now[0])
    km = _manager(connect_grace=30)

    def cull(kernel_id):
        asyncio.run(km.cull_kernel_if_idle(kernel_id))

    cull("k1")                       # handed to a page that has not connected yet: spared
    now[0] += 29
    cull("k1")
    assert culled == []
    now[0] += 2                      # past the grace time: the culler may judge it
    cull("k1")
    assert culled == ["k1"]
    km._kernel_connections["k2"] = 1  # a page connected: culling judges it at once (idle or not)
    cull("k2")
    assert culled == ["k1", "k2"]


def test_a_kernel_handed_to_a_page_that_never_connects_is_given_back_after_the_grace_time(monkeypatch):
    """(issue 26) curl in a loop: each request takes a kernel no page connects to; it used to wait for
    the idle culling (60 s after the grace time) and now goes at the end of the grace time, idle or not."""
    judged, shut = [], []

    async def parent_cull(self, kernel_id):
        judged.append(kernel_id)

    async def shutdown(self, kernel_id, *args, **kwargs):
        shut.append(kernel_id)
    monkeypatch.setattr(AsyncMappingKernelManager, "cull_kernel_if_idle", parent_cull)
    monkeypatch.setattr(AsyncMappingKernelManager, "shutdown_kernel", shutdown)
    now = [1000.0]
    monkeypatch.setattr(serve.time, "monotonic", lambda: now[0])
    km = _manager(connect_grace=20)
    monkeypatch.setattr(serve.ClassroomKernelManager, "__contains__", lambda self, k: True)
    km.reserve("10.0.0.7")
    km.hand_out("10.0.0.7", "k1")
    asyncio.run(km.cull_kernel_if_idle("k1"))
    now[0] += 21
    asyncio.run(km.cull_kernel_if_idle("k1"))
    assert shut == ["k1"] and judged == [] and km.held_by("10.0.0.7") == 0


def test_one_address_holds_at_most_its_bound_and_others_are_not_counted(monkeypatch):
    """(issue 26) places are counted per client address: its requests still rendering and the
    kernels its pages were given; a kernel shut down frees its place; 0 means no bound."""
    async def shutdown(self, kernel_id, *args, **kwargs):
        pass
    monkeypatch.setattr(AsyncMappingKernelManager, "shutdown_kernel", shutdown)
    monkeypatch.setattr(serve.ClassroomKernelManager, "__contains__", lambda self, k: True)
    km = _manager(max_per_address=2)
    km.reserve("10.0.0.7")
    km.hand_out("10.0.0.7", "k1")
    km.reserve("10.0.0.7")                     # a second page, still rendering
    with pytest.raises(web.HTTPError) as e:
        km.reserve("10.0.0.7")
    assert e.value.status_code == 429 and "already has 2 drawing pages open" in e.value.reason
    km.reserve("10.0.0.8")                     # another pupil's machine
    km.hand_out("10.0.0.7", None)              # the rendering request failed: no kernel, no place held
    assert km.held_by("10.0.0.7") == 1
    km.reserve("10.0.0.7")
    km.hand_out("10.0.0.7", "k2")
    asyncio.run(km.shutdown_kernel("k1"))      # a page closed: its place is free again
    assert km.held_by("10.0.0.7") == 1 and km.held_by("10.0.0.8") == 1
    unbounded = _manager(max_per_address=0)
    for _ in range(50):
        unbounded.reserve("10.0.0.7")
    assert unbounded.held_by("10.0.0.7") == 50


def test_the_kernels_websocket_is_served_with_tcp_nodelay(monkeypatch):
    """Without TCP_NODELAY a kernel's answer (several small frames) waited for the page's delayed ACK:
    about 35 ms more for a share of the strokes (README: "Serving a class")."""
    assert serve.ClassroomVoila().kernel_websocket_connection_class is serve.NoDelayConnection
    calls = []

    class Handler:
        def set_nodelay(self, on):
            calls.append(("nodelay", on))
    monkeypatch.setattr(serve.ZMQChannelsWebsocketConnection, "connect", lambda self: calls.append("connect"))
    conn = serve.NoDelayConnection.__new__(serve.NoDelayConnection)
    monkeypatch.setattr(serve.NoDelayConnection, "websocket_handler", Handler())
    conn.connect()
    assert calls == [("nodelay", True), "connect"]
