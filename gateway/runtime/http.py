"""The web server's lifetime around the supervisor: it listens before the services start and
closes after they stopped."""

from __future__ import annotations

import contextlib
import errno
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

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
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/"


@contextlib.asynccontextmanager
async def serve_http(
    app: web.Application,
    host: str,
    port: int,
    limits: ConnectionLimits | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Listening]:
    """Serve `app` (over HTTPS with `tls`, see `tls_context`)."""
    guard = ConnectionGuard(limits or ConnectionLimits(), raise_file_limit())
    app[CONNECTION_GUARD] = guard
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = GuardedSite(runner, host, port, guard, ssl_context=tls)
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
        yield Listening(bound_host, bound_port, "http" if tls is None else "https")
    finally:
        await runner.cleanup()


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context of the gateway's certificate and key (TLS 1.2 and later)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise GatewayError(
            f"[http] tls_cert {cert} / tls_key {key}: cannot load ({error}); fix: point them at "
            "the files coldchain install made (/etc/coldchain/tls/gateway.crt and gateway.key)"
        ) from None
    return context
