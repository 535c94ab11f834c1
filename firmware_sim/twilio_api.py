"""A fake Twilio REST API (2010-04-01 Messages and Calls) on loopback.

Form-encoded POSTs with Basic auth, as twilio's client sends them; 201 with the resource's JSON
on success; Twilio's error body `{code, message, more_info, status}` on failure: 20003 bad
credentials, 21211 invalid 'To' number, 20429 / HTTP 429 too many requests, 503.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from firmware_sim.wechat_api import FakeApiServer

API = "/2010-04-01/Accounts/{sid}"


class FakeTwilio(FakeApiServer):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.invalid_numbers: set[str] = set()
        self.messages: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.app.router.add_post(f"{API}/Messages.json", self._messages)
        self.app.router.add_post(f"{API}/Calls.json", self._calls)

    def http_error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return _error(20429, "Too Many Requests", 429)
        return _error(20500, "Internal Server Error", status)

    async def _messages(self, request: web.Request) -> web.Response:
        form, refused = await self._accept(request)
        if refused is not None:
            return refused
        self.messages.append(form)
        sid = f"SM{secrets.token_hex(16)}"
        body = self._resource(sid, form, "Messages") | {
            "body": form.get("Body", ""),
            "num_segments": "1",
            "num_media": "0",
            "messaging_service_sid": None,
        }
        return web.json_response(body, status=201)

    async def _calls(self, request: web.Request) -> web.Response:
        form, refused = await self._accept(request)
        if refused is not None:
            return refused
        self.calls.append(form)
        sid = f"CA{secrets.token_hex(16)}"
        body = self._resource(sid, form, "Calls") | {"duration": None, "answered_by": None}
        return web.json_response(body, status=201)

    async def _accept(self, request: web.Request) -> tuple[dict[str, str], web.Response | None]:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.match_info["sid"] != self.account_sid or (
            request.headers.get("Authorization") != f"Basic {expected}"
        ):
            return {}, web.json_response(_error(20003, "Authenticate", 401), status=401)
        form = {key: str(value) for key, value in (await request.post()).items()}
        to = form.get("To", "")
        if to in self.invalid_numbers or not to.startswith("+"):
            message = f"Invalid 'To' Phone Number: {to}"
            return form, web.json_response(_error(21211, message, 400), status=400)
        return form, None

    def _resource(self, sid: str, form: dict[str, str], kind: str) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": form.get("To"),
            "from": form.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json",
        }


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
