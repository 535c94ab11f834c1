"""The web server's lifetime around the supervisor: it listens before the services start and
closes after they stopped."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from gateway.core.errors import GatewayError
from gateway.web.connections import (
    CONNECTION_GUARD,
    ConnectionGuard,
    ConnectionLimits,
    GuardedSite,
    raise_file_limit,
)


@dataclass(frozen=True, slots=True)
class Listening:
    """Where the running gateway can be reached."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@contextlib.asynccontextmanager
async def serve_http(
    app: web.Application, host: str, port: int, limits: ConnectionLimits | None = None
) -> AsyncIterator[Listening]:
    guard = ConnectionGuard(limits or ConnectionLimits(), raise_file_limit())
    app[CONNECTION_GUARD] = guard
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, guard)
        try:
            await site.start()
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise GatewayError(
                    f"HTTP port {host}:{port} is already in use: choose another with "
                    "--http-port (0 picks a free one) or [http] port"
                ) from None
            raise GatewayError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        yield Listening(bound_host, bound_port)
    finally:
        await runner.cleanup()
