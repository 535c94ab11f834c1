"""Fake WeCom and WeChat Official Account APIs on loopback, for the alarm channels' tests.

They speak the documented request shapes, answer with the real success bodies and errcodes
(40001/42001/40014 token errors, 45009 rate limit, 43004 unsubscribed, 93000 bad robot key,
81013 unknown user), record what they received, and can be told to fail: expire tokens,
answer the next calls with an errcode or an HTTP status, or be down altogether.

`FakeApiServer` is the shared base (also used by `firmware_sim.twilio_api`).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeApiServer:
    """An aiohttp app on 127.0.0.1, free port; `async with` starts and stops it."""

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._inject_http_failure])
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._http_failures: deque[tuple[int, float | None]] = deque()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await self._listen()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _listen(self) -> None:
        assert self._runner is not None, "use the server as `async with`"
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        self.port = self._runner.addresses[0][1]

    @asynccontextmanager
    async def outage(self) -> AsyncIterator[None]:
        """The server is unreachable (connection refused) inside the block."""
        assert self._site is not None
        await self._site.stop()
        try:
            yield
        finally:
            await self._listen()

    def fail_http(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with this HTTP status (429, 503...)."""
        self._http_failures.extend([(status, retry_after)] * times)

    def http_error_body(self, status: int) -> dict[str, Any]:
        return {"status": status}

    @web.middleware
    async def _inject_http_failure(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if not self._http_failures:
            return await handler(request)
        status, retry_after = self._http_failures.popleft()
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        return web.json_response(self.http_error_body(status), status=status, headers=headers)


class _TokenIssuer:
    """Access tokens as both APIs issue them: 7200 s, invalid (40001/40014) or expired (42001)."""

    def __init__(self, invalid_code: int) -> None:
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.issued = 0
        self._invalid_code = invalid_code

    def issue(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(48)
        self.valid.add(token)
        self.issued += 1
        return {"access_token": token, "expires_in": 7200}

    def expire_all(self) -> None:
        self.expired |= self.valid
        self.valid.clear()

    def check(self, request: web.Request) -> dict[str, Any] | None:
        token = request.query.get("access_token", "")
        if token in self.valid:
            return None
        if token in self.expired:
            return _err(42001, "access_token expired")
        return _err(self._invalid_code, "invalid access_token")


def _err(code: int, message: str) -> dict[str, Any]:
    hint = secrets.token_hex(4)
    return {"errcode": code, "errmsg": f"{message}, hint: [{hint}], rid: {hint}"}


class _ErrcodeQueue:
    def __init__(self) -> None:
        self._codes: deque[int] = deque()

    def add(self, code: int, times: int) -> None:
        self._codes.extend([code] * times)

    def pop(self) -> dict[str, Any] | None:
        if not self._codes:
            return None
        code = self._codes.popleft()
        return _err(code, {45009: "api freq out of limit", -1: "system busy"}.get(code, "error"))


class FakeWecom(FakeApiServer):
    """qyapi.weixin.qq.com: gettoken, message/send (application) and webhook/send (robot)."""

    def __init__(self, corp_id: str, corp_secret: str, robot_key: str, users: set[str]) -> None:
        super().__init__()
        self.corp_id, self.corp_secret, self.robot_key = corp_id, corp_secret, robot_key
        self.users = users
        self.tokens = _TokenIssuer(invalid_code=40014)
        self.app_messages: list[dict[str, Any]] = []
        self.robot_messages: list[dict[str, Any]] = []
        self._errcodes = _ErrcodeQueue()
        self.app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        self.app.router.add_post("/cgi-bin/message/send", self._message_send)
        self.app.router.add_post("/cgi-bin/webhook/send", self._webhook_send)

    def fail_with(self, errcode: int, times: int = 1) -> None:
        """Answer the next `times` sends (application or robot) with this errcode."""
        self._errcodes.add(errcode, times)

    async def _gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != self.corp_id:
            return web.json_response(_err(40013, "invalid corpid"))
        if request.query.get("corpsecret") != self.corp_secret:
            return web.json_response(_err(40001, "invalid secret"))
        return web.json_response({"errcode": 0, "errmsg": "ok"} | self.tokens.issue())

    async def _message_send(self, request: web.Request) -> web.Response:
        error = self.tokens.check(request) or self._errcodes.pop()
        if error is not None:
            return web.json_response(error)
        body = await request.json()
        if body.get("touser") not in self.users:
            return web.json_response(_err(81013, "user & party & tag all invalid"))
        self.app_messages.append(body)
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "invaliduser": "",
                "invalidparty": "",
                "invalidtag": "",
                "unlicenseduser": "",
                "msgid": secrets.token_urlsafe(24),
                "response_code": secrets.token_urlsafe(24),
            }
        )

    async def _webhook_send(self, request: web.Request) -> web.Response:
        if request.query.get("key") != self.robot_key:
            return web.json_response(_err(93000, "invalid webhook url"))
        error = self._errcodes.pop()
        if error is not None:
            return web.json_response(error)
        self.robot_messages.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


class FakeWechatOA(FakeApiServer):
    """api.weixin.qq.com: cgi-bin/token and cgi-bin/message/template/send."""

    def __init__(self, app_id: str, app_secret: str) -> None:
        super().__init__()
        self.app_id, self.app_secret = app_id, app_secret
        self.tokens = _TokenIssuer(invalid_code=40001)
        self.unsubscribed: set[str] = set()
        self.templates: list[dict[str, Any]] = []
        self._errcodes = _ErrcodeQueue()
        self.app.router.add_get("/cgi-bin/token", self._token)
        self.app.router.add_post("/cgi-bin/message/template/send", self._template_send)

    def fail_with(self, errcode: int, times: int = 1) -> None:
        self._errcodes.add(errcode, times)

    async def _token(self, request: web.Request) -> web.Response:
        if request.query.get("grant_type") != "client_credential":
            return web.json_response(_err(40002, "invalid grant_type"))
        if request.query.get("appid") != self.app_id:
            return web.json_response(_err(40013, "invalid appid"))
        if request.query.get("secret") != self.app_secret:
            return web.json_response(_err(40125, "invalid appsecret"))
        return web.json_response(self.tokens.issue())

    async def _template_send(self, request: web.Request) -> web.Response:
        error = self.tokens.check(request) or self._errcodes.pop()
        if error is not None:
            return web.json_response(error)
        body = await request.json()
        if body.get("touser") in self.unsubscribed:
            return web.json_response(_err(43004, "require subscribe"))
        self.templates.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)})
