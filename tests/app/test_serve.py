"""The classroom settings as `make demo` reads them (voila.json), and the kernel manager's grace time,
without a browser: the browser test sets short culling times on the command line, so these are what
would notice a voila.json that lost culling, or a grace time that no longer holds a kernel."""
import asyncio
import json

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
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
    assert km.max_kernels == 24 and km.connect_grace == 60
    voila = json.loads((ROOT / "voila.json").read_text())["VoilaConfiguration"]
    assert voila["multi_kernel_manager_class"] == "qd.app.serve.ClassroomKernelManager"
    assert voila["preheat_kernel"] is True and voila["default_pool_size"] >= 1


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
