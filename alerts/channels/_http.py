"""Shared plumbing of the WeChat-family channels: JSON over aiohttp, errors to results,
a cached access token, and client-side rate limits."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from alerts.channels.base import DeliveryResult, Outcome, delivered, failed, retry_later
from gateway.core.clock import Clock

TIMEOUT = aiohttp.ClientTimeout(total=15)
DEFAULT_RETRY_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A 2xx answer with a JSON object body; anything else became a `DeliveryResult`."""

    body: Mapping[str, Any]

    @property
    def errcode(self) -> int:
        return int(self.body.get("errcode", 0))

    @property
    def errmsg(self) -> str:
        return str(self.body.get("errmsg", ""))


class JsonClient:
    """One lazily opened aiohttp session (opened inside the running loop, closed by aclose)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
    ) -> JsonReply | DeliveryResult:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        url = f"{self._base_url}{path}"
        try:
            async with self._session.request(method, url, params=params, json=body) as response:
                if response.status == 429 or response.status >= 500:
                    return retry_later(
                        f"HTTP {response.status} from {path}", _retry_after(response.headers)
                    )
                if response.status >= 400:
                    return failed(f"HTTP {response.status} from {path}: check base_url")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return retry_later(f"{path}: {type(error).__name__}: {error}")
        if not isinstance(data, dict):
            return retry_later(f"{path}: answer is not a JSON object")
        return JsonReply(data)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


RETRYABLE_ERRCODES = {-1: "system busy", 45009: "API call limit reached"}
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
"""Invalid credential, invalid access_token, access_token expired: refresh once and retry."""


def classify(reply: JsonReply, permanent: Mapping[int, str]) -> DeliveryResult:
    """The common errcode convention of WeCom and the WeChat Official Account API."""
    code = reply.errcode
    if code == 0:
        return delivered(str(reply.body.get("msgid", "")))
    label = f"errcode {code} {reply.errmsg}"
    if code in RETRYABLE_ERRCODES:
        return retry_later(f"{label} ({RETRYABLE_ERRCODES[code]})", DEFAULT_RETRY_AFTER_S)
    return failed(f"{label} ({permanent.get(code, 'rejected by the API')})")


def token_from(reply: JsonReply | DeliveryResult) -> tuple[str, float] | DeliveryResult:
    """The (token, expires_in) of a gettoken/token answer, or why there is none."""
    if isinstance(reply, DeliveryResult):
        return reply
    token = reply.body.get("access_token")
    if reply.errcode == 0 and isinstance(token, str):
        return token, float(reply.body.get("expires_in", 7200))
    result = classify(reply, {reply.errcode: "cannot get an access token: check the credentials"})
    return result if result.outcome is not Outcome.DELIVERED else failed("no access_token")


async def with_token(
    tokens: TokenCache,
    fetch: Callable[[], Awaitable[tuple[str, float] | DeliveryResult]],
    call: Callable[[str], Awaitable[JsonReply | DeliveryResult]],
) -> JsonReply | DeliveryResult:
    """Call with the cached token; on an expired/invalid token, refresh once and call again."""
    reply: JsonReply | DeliveryResult = failed("no attempt")
    for _ in range(2):
        token = await tokens.get(fetch)
        if isinstance(token, DeliveryResult):
            return token
        reply = await call(token)
        if not (isinstance(reply, JsonReply) and reply.errcode in TOKEN_ERRCODES):
            return reply
        tokens.invalidate()
    return reply


class TokenCache:
    """An access token kept until `expires_in` minus a margin; one refresh at a time."""

    MARGIN_S = 300.0

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(
        self, fetch: Callable[[], Awaitable[tuple[str, float] | DeliveryResult]]
    ) -> str | DeliveryResult:
        async with self._lock:
            if self._token is not None and self._clock.monotonic() < self._expires:
                return self._token
            fetched = await fetch()
            if isinstance(fetched, DeliveryResult):
                return fetched
            self._token, expires_in = fetched
            self._expires = self._clock.monotonic() + max(expires_in - self.MARGIN_S, 0.0)
            return self._token

    def invalidate(self) -> None:
        self._token = None


class RateLimit:
    """At most `limit` sends per `window_s` per key; answers how long to wait, never sleeps."""

    def __init__(self, clock: Clock, limit: int, window_s: float) -> None:
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._sent: dict[str, deque[float]] = {}

    def wait_s(self, key: str = "") -> float:
        """0.0 and the send is counted, or the seconds until a slot frees up."""
        now = self._clock.monotonic()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self._window_s:
            sent.popleft()
        if len(sent) >= self._limit:
            return sent[0] + self._window_s - now
        sent.append(now)
        return 0.0
