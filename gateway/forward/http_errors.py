"""HTTP answers and aiohttp failures -> errors.py, with messages that name the server and fix.

Shared by both InfluxDB sinks (both plain aiohttp)."""

from __future__ import annotations

import asyncio
import email.utils
from datetime import UTC, datetime

import aiohttp

from gateway.forward.errors import (
    AuthError,
    ForwardError,
    MissingDatabaseError,
    RejectedError,
    RetryableError,
)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def for_status(
    server: str,
    status: int,
    message: str,
    retry_after: str | None,
    *,
    fix_auth: str,
    fix_missing: str,
) -> ForwardError:
    """The error for a non-2xx answer of a write request; `fix_missing` says how to create the
    database or bucket the server does not have."""
    message = " ".join(message.split())[:400] or "(no message)"
    if status in (400, 413, 422):
        return RejectedError(f"{server} refused the batch ({status}): {message}", status)
    if status in (401, 403):
        return AuthError(f"{server} refused our credentials ({status}): {message}; fix: {fix_auth}")
    if status == 404:
        return _not_found(server, message, fix_missing)
    if status in (429, 503):
        return RetryableError(
            f"{server} is overloaded ({status}): {message}", parse_retry_after(retry_after)
        )
    if status >= 500:
        return RetryableError(
            f"{server} failed ({status}): {message}", parse_retry_after(retry_after)
        )
    return AuthError(
        f"{server} answered {status}: {message}; fix: check the URL and the server's version"
    )


def _not_found(server: str, message: str, fix_missing: str) -> ForwardError:
    """A missing database (InfluxDB 1.x: `database not found: "x"`, 2.x: `bucket "x" not
    found`) is not a wrong URL (InfluxDB 1.6 has no v2 API: `404 page not found`)."""
    lowered = message.lower()
    if "not found" in lowered and ("database" in lowered or "bucket" in lowered):
        return MissingDatabaseError(f"{server}: {message} (404); fix: {fix_missing}")
    return AuthError(
        f"{server} answered 404 (not found): {message}; fix: check the URL, bucket or "
        "database name, and that the database exists"
    )


def for_exception(server: str, error: BaseException) -> ForwardError:
    """The error for a request that got no HTTP answer."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return AuthError(
            f"{server}: TLS certificate not accepted ({error.certificate_error}); fix: set "
            "ca_file to the CA that signed the server's certificate, and use the host name the "
            "certificate was issued for"
        )
    if isinstance(error, aiohttp.ClientSSLError):
        return AuthError(f"{server}: TLS handshake failed ({error}); fix: check https and ca_file")
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return RetryableError(
            f"{server}: cannot resolve the host name ({error.os_error}); fix: check the URL's "
            "host and the gateway's DNS"
        )
    if isinstance(error, aiohttp.ClientConnectorError):
        return RetryableError(
            f"{server}: cannot connect ({error.os_error.strerror or error.os_error}); the server "
            "is down or unreachable: the readings stay in the store and are retried"
        )
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return RetryableError(f"{server}: no answer before the timeout; retrying")
    if isinstance(error, aiohttp.ClientError | OSError):
        return RetryableError(f"{server}: request failed ({type(error).__name__}: {error})")
    raise error
