"""What can go wrong while forwarding, sorted by what the forwarder does about it.

Every sink (InfluxDB v2, InfluxDB v1, MQTT) translates its library's errors into these at the
edge, so the pump that drives the sinks decides retries on one small tree:

- `RetryableError`: the server could not take the batch now (unreachable, DNS, timeout, 5xx,
  429/503 with or without Retry-After). Retried with capped jittered backoff, or after
  `retry_after` seconds when the server said so.
- `AuthError`: the server refused who we are (401/403, wrong token, refused client id, TLS
  certificate that does not match). Nothing will change until a person fixes the
  configuration: retried at a slow pace, data kept, error shown in health.
- `MissingDatabaseError`: the server answered 404 "database not found" (or "bucket not
  found"): the credentials may be fine, the database is not there. Handled like `AuthError`
  (slow retries, data kept) under its own state, `database_missing`, with the fix in words.
- `RejectedError`: the server refused the data itself (400). Split and retried to isolate the
  bad points, which are then set aside (recorded, visible in health), so they never block the
  rest.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.core.errors import GatewayError


class ForwardError(GatewayError):
    """Base of every forwarding error; the message names the server and the fix."""

    code: ClassVar[str] = "forward_failed"


class RetryableError(ForwardError):
    """The batch may go through later; `retry_after` is the server's hint in seconds."""

    code: ClassVar[str] = "forward_retryable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ForwardError):
    """The server refused our identity; retrying quickly would not help."""

    code: ClassVar[str] = "forward_auth_refused"
    state = "auth_failed"


class MissingDatabaseError(ForwardError):
    """The server has no such database or bucket; retrying quickly would not help."""

    code: ClassVar[str] = "forward_database_missing"
    state = "database_missing"


class RejectedError(ForwardError):
    """The server refused the data of this batch as invalid (HTTP 400)."""

    code: ClassVar[str] = "forward_data_rejected"

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
