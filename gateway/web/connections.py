"""The server cannot be held open: timeouts and connection caps in front of aiohttp.

aiohttp itself waits for ever for a request that arrives one byte at a time, and accepts
connections until the process runs out of files (then the API is unreachable and asyncio logs
every failed accept). `ConnectionGuard` wraps aiohttp's protocol factory:

- a connection waiting for a request closes after `idle_timeout_s` without its first byte, and
  after `header_timeout_s` from that byte without the end of its headers;
- a request's body must arrive whole within `body_timeout_s` (`connection_middleware` reads it
  before the handlers run, or bounds the handler that parses a multipart form; 408 with the
  code ``body_timeout`` otherwise);
- at most `per_address` connections from one client address: more are closed at once;
- at most `max_connections` in all (and never more than the open-files limit allows, less a
  reserve for the stores, buses and forwarders): a new connection beyond it closes the one
  that has waited longest for its request, so the slow ones make room and the API stays
  reachable.

Each kind of refusal is logged once, when it first happens, with what to look at; the counts are
in `/api/health` (`http`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from gateway.web.json_http import refused

log = logging.getLogger(__name__)

# Files the gateway needs besides connections: stores and their WAL files, serial ports, the
# forwarders' sockets, pipes, the event loop's own.
RESERVED_FILES = 128
HEADER_END = b"\r\n\r\n"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    idle_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    per_address: int = 32
    max_connections: int = 512


@dataclass(slots=True)
class ConnectionCounts:
    """What the guard did since start, for health."""

    open: int = 0
    refused_per_address: int = 0
    evicted: int = 0
    timed_out: int = 0
    noticed: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, int]:
        return {
            "open": self.open,
            "refused_per_address": self.refused_per_address,
            "evicted": self.evicted,
            "timed_out": self.timed_out,
        }


def raise_file_limit() -> int:
    """Raise the soft open-files limit to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


class ConnectionGuard:
    """One per listening server: the live connections, the caps and the counts."""

    def __init__(self, limits: ConnectionLimits, open_files: int) -> None:
        self.limits = limits
        self.max_connections = max(1, min(limits.max_connections, open_files - RESERVED_FILES))
        self.counts = ConnectionCounts()
        self._by_address: Counter[str] = Counter()
        self._live: dict[asyncio.BaseTransport, _Guarded] = {}

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, factory)

    def request_done(self, transport: asyncio.BaseTransport | None) -> None:
        guarded = self._live.get(transport) if transport is not None else None
        if guarded is not None:
            guarded.await_request()

    def notice(self, kind: str, message: str, *args: object) -> None:
        """Log `message` the first time `kind` happens; later ones only count."""
        if kind not in self.counts.noticed:
            self.counts.noticed.add(kind)
            log.warning("%s (said once; counts in /api/health under http)", message % args)

    def _admit(self, guarded: _Guarded, address: str) -> bool:
        if self._by_address[address] >= self.limits.per_address:
            self.counts.refused_per_address += 1
            self.notice(
                "per_address",
                "HTTP: more than %d connections from %s; further ones are closed at once "
                "(fix if legitimate: [http] max_connections_per_address)",
                self.limits.per_address,
                address,
            )
            return False
        if len(self._live) >= self.max_connections and not self._evict_slowest():
            self.counts.evicted += 1
            return False
        self._by_address[address] += 1
        self._live[guarded.transport_or_fail()] = guarded
        self.counts.open = len(self._live)
        return True

    def _evict_slowest(self) -> bool:
        waiting = [g for g in self._live.values() if g.waiting_since is not None]
        if not waiting:
            return False
        slowest = min(waiting, key=lambda g: g.waiting_since or 0.0)
        self.counts.evicted += 1
        self.notice(
            "max_connections",
            "HTTP: %d connections open, the most this gateway takes; the ones waiting longest "
            "for their request are closed to make room (fix if legitimate: [http] "
            "max_connections, and LimitNOFILE of the service)",
            self.max_connections,
        )
        slowest.close()
        return True

    def _release(self, guarded: _Guarded, address: str) -> None:
        transport = guarded.transport
        if transport is not None and self._live.get(transport) is guarded:
            del self._live[transport]
            self._by_address[address] -= 1
            if self._by_address[address] <= 0:
                del self._by_address[address]
        self.counts.open = len(self._live)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard's timers and caps."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._factory = factory
        self._inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self._address = ""
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self.waiting_since: float | None = None
        self._started = False

    def transport_or_fail(self) -> asyncio.Transport:
        assert self.transport is not None
        return self.transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._guard._admit(self, self._address):
            transport.abort()
            self.transport = None
            return
        self._inner = self._factory()
        self._inner.connection_made(transport)
        self.await_request()

    def await_request(self) -> None:
        """Between requests: the idle timer runs until the next request's first byte."""
        loop = asyncio.get_running_loop()
        self.waiting_since = loop.time()
        self._started = False
        self._tail = b""
        self._arm(self._guard.limits.idle_timeout_s, "idle")

    def _arm(self, seconds: float, why: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._timed_out, why)

    def _timed_out(self, why: str) -> None:
        self._timer = None
        self._guard.counts.timed_out += 1
        self._guard.notice(
            "timeout",
            "HTTP: a connection from %s closed after its %s timeout; slow or idle clients are "
            "closed this way",
            self._address,
            why,
        )
        self.close()

    def close(self) -> None:
        """Close at once; the connection stops counting now, not when the loop gets to it."""
        self.waiting_since = None
        if self.transport is not None:
            self._guard._release(self, self._address)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.waiting_since is not None:
            if not self._started and data:
                self._started = True
                self._arm(self._guard.limits.header_timeout_s, "header")
            seen = self._tail + data
            if HEADER_END in seen:
                self.waiting_since = None
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            else:
                self._tail = seen[-(len(HEADER_END) - 1) :]
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inner is not None:
            self._guard._release(self, self._address)
            self._inner.connection_lost(exc)
        self.transport = None


CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def connection_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The body arrives within the body timeout; the connection waits for its next request."""
    guard = request.app.get(CONNECTION_GUARD)
    if guard is None:
        return await handler(request)
    try:
        if not request.body_exists:
            return await handler(request)
        if request.content_type == MULTIPART:
            # read as it is parsed (it cannot be read ahead): the handler gets the same time
            try:
                async with asyncio.timeout(guard.limits.body_timeout_s):
                    return await handler(request)
            except TimeoutError:
                raise _body_timeout(guard) from None
        try:
            async with asyncio.timeout(guard.limits.body_timeout_s):
                await request.read()
        except TimeoutError:
            raise _body_timeout(guard) from None
        return await handler(request)
    finally:
        guard.request_done(request.transport)


def _body_timeout(guard: ConnectionGuard) -> web.HTTPException:
    guard.counts.timed_out += 1
    return refused(
        web.HTTPRequestTimeout,
        f"not received whole within {guard.limits.body_timeout_s:g} s",
        field="body",
        code="body_timeout",
    )


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through `guard` (aiohttp's TCPSite, guarded)."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.wrap(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
        )
