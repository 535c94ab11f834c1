"""SMS and voice calls through twilio's own client, on its asyncio HTTP client.

twilio costs ~5 MB and 0.2 s to import (with requests and urllib3): `build_channels` imports
this module only when [alerts.channels.twilio] is configured, and this module imports twilio at
the first message sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

import aiohttp

from alerts.channels._http import RateLimit
from alerts.channels.base import DeliveryResult, Notification, delivered, failed, retry_later
from alerts.model import ChannelKind
from alerts.settings import TwilioSettings
from gateway.core.clock import Clock

TIMEOUT_S = 15.0


def _http_client() -> Any:
    """twilio's asyncio HTTP client, sending the Authorization header itself: twilio hands
    aiohttp a `BasicAuth`, deprecated in aiohttp 3.14 and gone in 4.0."""
    from twilio.http.async_http_client import (  # type: ignore[import-untyped, unused-ignore]
        AsyncTwilioHttpClient,
    )

    class HeaderAuthHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc, unused-ignore]
        async def request(  # noqa: PLR0917 - twilio's signature
            self,
            method: str,
            url: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,  # noqa: ASYNC109 - twilio's signature
            allow_redirects: bool = False,
        ) -> Any:
            if auth is not None:
                headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
            return await super().request(
                method, url, params, data, headers, None, timeout, allow_redirects
            )

    return HeaderAuthHttpClient(timeout=TIMEOUT_S)


class TwilioAccount:
    """One twilio client shared by SMS and voice; built inside the running loop on first use."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self._http: Any = None
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from twilio.rest import Client  # type: ignore[import-untyped, unused-ignore]

            self._http = _http_client()
            self._client = Client(
                self.settings.account_sid,
                self.settings.auth_token.get_secret_value(),
                http_client=self._http,
            )
            if self.settings.base_url is not None:
                self._client.api.base_url = self.settings.base_url.rstrip("/")
        return self._client

    async def deliver(self, create: Callable[[Any], Awaitable[Any]]) -> DeliveryResult:
        """Run one create call; Twilio's error codes become delivery results."""
        from twilio.base.exceptions import (  # type: ignore[import-untyped, unused-ignore]
            TwilioRestException,
        )

        try:
            instance = await create(self.client())
        except TwilioRestException as error:
            label = f"Twilio HTTP {error.status} code {error.code}: {error.msg}"
            if error.status == 429 or error.status >= 500:
                return retry_later(label)
            return failed(label)
        except (aiohttp.ClientError, TimeoutError) as error:
            return retry_later(f"Twilio unreachable: {type(error).__name__}: {error}")
        return delivered(str(instance.sid))

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = self._client = None


class TwilioSms:
    kind = ChannelKind.SMS
    PER_SECOND = 1  # Twilio queues beyond one message a second per long-code number

    def __init__(self, account: TwilioAccount, clock: Clock) -> None:
        self._account = account
        self._limit = RateLimit(clock, self.PER_SECOND, 1.0)

    async def send(self, notification: Notification) -> DeliveryResult:
        wait = self._limit.wait_s()
        if wait > 0:
            return retry_later("one SMS a second per sending number", wait)
        settings = self._account.settings

        async def create(client: Any) -> Any:
            return await client.messages.create_async(
                to=notification.person.phone,
                from_=settings.from_number,
                body=notification.message.text,
            )

        return await self._account.deliver(create)

    async def aclose(self) -> None:
        await self._account.aclose()


class TwilioVoice:
    """A call that reads the alarm aloud twice in Mandarin (tier 3 by default)."""

    kind = ChannelKind.VOICE

    def __init__(self, account: TwilioAccount, clock: Clock) -> None:
        self._account = account
        self._limit = RateLimit(clock, 1, 1.0)

    async def send(self, notification: Notification) -> DeliveryResult:
        wait = self._limit.wait_s()
        if wait > 0:
            return retry_later("one call a second per calling number", wait)
        settings = self._account.settings
        speech = escape(notification.message.speech)
        twiml = f'<Response><Say language="cmn-CN" loop="2">{speech}</Say></Response>'

        async def create(client: Any) -> Any:
            return await client.calls.create_async(
                to=notification.person.phone, from_=settings.from_number, twiml=twiml
            )

        return await self._account.deliver(create)

    async def aclose(self) -> None:
        await self._account.aclose()
