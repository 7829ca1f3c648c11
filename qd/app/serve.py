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
  so the culler would take it from a visitor whose page is still loading; it waits for the page, and
  no longer: a kernel handed to a request that never connects (curl in a loop, a page closed while
  loading) is given back once the grace time is over, idle or not;
- a bound per client address (`ClassroomKernelManager.max_per_address`): the kernels handed to the
  pages one address requested; beyond it the page says so, and the other visitors keep their places.
  A pupil who reloads holds two for a moment (the old page's kernel is shut down as it unloads);
- TCP_NODELAY on the kernel's websocket (`NoDelayConnection`, Voila's `kernel_websocket_connection_class`):
  jupyter_server sets none, and a small frame of an answer waited for the page's delayed ACK.

Voila has no hook that sees both a page request and the kernel it is given (with preheated kernels
its `prelaunch_hook` is never called), so `ClassroomVoila` is Voila with two handlers changed:
`ClassroomPageHandler` asks the kernel manager for a place for the client's address before the page
renders, and tells it which kernel the page got (the page config Voila writes names it). And the
shutdown a page asks for as it unloads is honoured (`ClassroomShutdownHandler`: it was refused).

`make demo` serves 127.0.0.1 with these settings (`python -m qd.app.serve`, Voila's own command line
and voila.json); `make demo HOST=0.0.0.0 POOL=10 MAX_KERNELS=24` serves a classroom's network
(README: "Serving a class").
"""
from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer, default
from voila.app import Voila
from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
from voila.tornado.handler import TornadoVoilaHandler

# The page says it (Voila's error page shows the status and this reason): plainly, no jargon.
FULL_MESSAGE = "All {n} drawing places are taken right now. Please try again in a minute"
ADDRESS_MESSAGE = ("This computer already has {n} drawing pages open. Close one of them, "
                   "or try again in a minute")
# The kernel a page was given, as Voila writes it into the page config.
KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


class ClassroomKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a bound on the number of kernels (Voila's pool included).
    Voila wraps it (`VoilaConfiguration.multi_kernel_manager_class`) with its pool of preheated kernels."""

    max_kernels = Integer(24, config=True, help="At most this many kernels at once, preheated ones included; "
                                               "a visitor beyond them gets a page saying every place is taken.")

    connect_grace = Integer(20, config=True, help="Seconds a kernel handed to a page waits for the page to connect; "
                                                  "then it is given back, idle or not.")

    max_per_address = Integer(3, config=True, help="At most this many kernels handed to the pages one client address "
                                                   "requested (0: no bound; behind a proxy or NAT every pupil has the "
                                                   "same address).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._connected: set[str] = set()          # kernels a page has connected to
        self._waiting: dict[str, float] = {}       # kernels not connected (yet): since when the culler saw them
        self._handed: dict[str, str] = {}          # kernel -> the address whose page request got it
        self._reserved: Counter = Counter()        # address -> page requests rendering now

    def held_by(self, address: str) -> int:
        """Places an address holds: its pages' kernels, and its requests still rendering."""
        return self._reserved[address] + sum(a == address for a in self._handed.values())

    def reserve(self, address: str) -> None:
        """A page request from `address` is about to be given a kernel: refused beyond the bound."""
        held = self.held_by(address)
        if self.max_per_address and held >= self.max_per_address:
            message = ADDRESS_MESSAGE.format(n=held)
            self.log.warning("Refused a page to %s: it holds %d places", address, held)
            raise web.HTTPError(429, message, reason=message)
        self._reserved[address] += 1

    def hand_out(self, address: str, kernel_id: str | None) -> None:
        """The request from `address` is done: its page got `kernel_id` (None: no page, an error)."""
        self._reserved[address] -= 1
        if self._reserved[address] <= 0:
            del self._reserved[address]
        if kernel_id is not None and kernel_id in self:
            self._handed[kernel_id] = address

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
        the page connects (Voila's own override already spares the kernels still in the pool).
        A kernel handed to a page that never connected within the grace time is given back at once."""
        if self._kernel_connections.get(kernel_id, 0):
            self._connected.add(kernel_id)
        elif kernel_id not in self._connected:
            since = self._waiting.setdefault(kernel_id, time.monotonic())
            if time.monotonic() - since < self.connect_grace:
                return None
            if kernel_id in self._handed:
                self.log.warning("Kernel %s: no page connected (or stayed) within %d s; giving its place back",
                                 kernel_id, self.connect_grace)
                await self.shutdown_kernel(kernel_id)
                return None
        return await super().cull_kernel_if_idle(kernel_id)

    def _drop_failed_refills(self) -> None:
        for pool in (getattr(self, "_pools", None) or {}).values():
            pool[:] = [task for task in pool if not (task.done() and task.exception() is not None)]

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        """Shut a kernel down, then let Voila's pool refill the place (a refill refused at the bound
        left it short)."""
        self._handed.pop(kernel_id, None)          # its place is free as the shutdown begins (a reload's
        await super().shutdown_kernel(kernel_id, *args, **kwargs)      # next page may already be asking)
        self._connected.discard(kernel_id)
        self._waiting.pop(kernel_id, None)
        self._drop_failed_refills()
        refill = getattr(self, "fill_if_needed", None)
        for name in (getattr(self, "_pools", None) or {}) if refill is not None else ():
            refill(delay=0, notebook_name=name)


class ClassroomPageHandler(TornadoVoilaHandler):
    """Voila's page handler, asking `ClassroomKernelManager` for a place for the client's address
    first and telling it which kernel the page got (see the module docstring)."""

    async def get(self, path=None):
        km = self.kernel_manager
        if path or not isinstance(km, ClassroomKernelManager):     # a file beside the notebook: no kernel
            return await super().get(path)
        self._address, self._kernel_id = self.request.remote_ip, None
        km.reserve(self._address)
        try:
            await super().get(path)
        finally:
            km.hand_out(self._address, self._kernel_id)

    def write(self, chunk):
        if getattr(self, "_address", None) and self._kernel_id is None and isinstance(chunk, str):
            found = KERNEL_ID.search(chunk)
            if found:
                self._kernel_id = found.group(1)
        return super().write(chunk)


class ClassroomShutdownHandler(VoilaShutdownKernelHandler):
    """Voila's page asks for its kernel's shutdown as it unloads, with no XSRF token: jupyter_server
    answered 403, so a closed or reloaded page kept its kernel (and its pupil's place) until the
    culler came. The kernel's id, a random uuid only its page was given, is the credential here."""

    def check_xsrf_cookie(self):
        return None


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    """The kernel's websocket with TCP_NODELAY. A kernel answers a stroke with several small frames;
    without it Nagle's algorithm holds each until the page ACKs the one before, and the page delays
    its ACKs: about 35 ms more for a share of the strokes (README: "Serving a class")."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()


class ClassroomVoila(Voila):
    """Voila (its command line, voila.json) with `ClassroomPageHandler` serving the notebook,
    `ClassroomShutdownHandler` taking the pages' shutdown requests, and `NoDelayConnection`."""

    @default("kernel_websocket_connection_class")
    def _nodelay_connection(self):
        return NoDelayConnection

    def init_handlers(self):
        swap = {TornadoVoilaHandler: ClassroomPageHandler, VoilaShutdownKernelHandler: ClassroomShutdownHandler}
        return [(h[0], swap.get(h[1], h[1]), *h[2:]) for h in super().init_handlers()]


main = ClassroomVoila.launch_instance

if __name__ == "__main__":
    # run as `python -m qd.app.serve`: this file is __main__, and voila.json's kernel manager class
    # comes from the module qd.app.serve, a second copy; serve from that one so the classes match
    from qd.app import serve
    sys.exit(serve.main())
