"""Serving the demo to a classroom with Voila's own machinery, configured in voila.json (repo root):

- preheated kernels (`VoilaConfiguration.preheat_kernel`, `default_pool_size`): a pool of kernels
  that have already run notebooks/demo.ipynb (torch imported, the models loaded), so a visitor's
  page is ready at once; Voila refills the pool after each visitor (`fill_delay` later);
- culling (`MappingKernelManager.cull_idle_timeout`, `cull_interval`): a kernel with no page
  connected and idle that long is shut down, so closed tabs give their memory back (Voila also
  shuts a kernel down when its page unloads, when the browser says so);
- a bound (`ClassroomKernelManager.max_kernels`, below): at most that many kernels, the pool
  included; a visitor beyond it gets a page saying plainly that every place is taken;
- a grace time (`ClassroomKernelManager.connect_grace`): a preheated kernel has sat idle in the pool,
  so the culler would take it from a visitor whose page is still loading; it waits for the page.

`make demo` serves 127.0.0.1 with these settings; `make demo HOST=0.0.0.0 POOL=10 MAX_KERNELS=24`
serves a classroom's network (README: "Serving a class").
"""
from __future__ import annotations

import asyncio
import time

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

# The page says it (Voila's error page shows the status and this reason): plainly, no jargon.
FULL_MESSAGE = "All {n} drawing places are taken right now. Please try again in a minute"


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a bound on the number of kernels (Voila's pool included).
    Voila wraps it (`VoilaConfiguration.multi_kernel_manager_class`) with its pool of preheated kernels."""

    max_kernels = Integer(24, config=True, help="At most this many kernels at once, preheated ones included; "
                                               "a visitor beyond them gets a page saying every place is taken.")

    connect_grace = Integer(60, config=True, help="Seconds a kernel handed to a page may wait for the page to connect "
                                                  "before culling may take it.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._connected: set[str] = set()          # kernels a page has connected to
        self._waiting: dict[str, float] = {}       # kernels handed out, no page yet: since when

    def kernel_count(self) -> int:
        """Kernels running or starting."""
        return len(set(self._kernels) | set(self._pending_kernels))

    async def start_kernel(self, *args, **kwargs):
        if self.kernel_count() >= self.max_kernels:
            # A refused refill of Voila's pool would stay there as a failed task and be handed to the
            # next visitor as an error page: drop it as soon as it has failed, so that visitor gets a
            # kernel of its own if a place has freed by then (or this page, if not).
            asyncio.get_running_loop().call_soon(self._drop_failed_refills)
            message = FULL_MESSAGE.format(n=self.max_kernels)
            raise web.HTTPError(503, message + " (a place frees itself when someone closes their page)", reason=message)
        return await super().start_kernel(*args, **kwargs)

    async def cull_kernel_if_idle(self, kernel_id):
        """Culling, but not of a kernel Voila has just handed to a page that is still loading: a
        preheated kernel sat idle in the pool, so without a grace time the culler takes it before
        the page connects (Voila's own override already spares the kernels still in the pool)."""
        if self._kernel_connections.get(kernel_id, 0):
            self._connected.add(kernel_id)
        elif kernel_id not in self._connected:
            since = self._waiting.setdefault(kernel_id, time.monotonic())
            if time.monotonic() - since < self.connect_grace:
                return None
        return await super().cull_kernel_if_idle(kernel_id)

    def _drop_failed_refills(self) -> None:
        for pool in (getattr(self, "_pools", None) or {}).values():
            pool[:] = [task for task in pool if not (task.done() and task.exception() is not None)]

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        """Shut a kernel down, then let Voila's pool refill the place (a refill refused at the bound
        left it short)."""
        await super().shutdown_kernel(kernel_id, *args, **kwargs)
        self._connected.discard(kernel_id)
        self._waiting.pop(kernel_id, None)
        self._drop_failed_refills()
        refill = getattr(self, "fill_if_needed", None)
        for name in (getattr(self, "_pools", None) or {}) if refill is not None else ():
            refill(delay=0, notebook_name=name)
