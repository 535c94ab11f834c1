"""The connection guard in-process, with small limits: a client address over its cap is closed
at once, a connection that sends nothing or half its headers is closed at its timeout, a body
that does not arrive is refused with 408, and each of these is logged once."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from gateway.runtime.http import serve_http
from gateway.web.connections import ConnectionLimits, connection_middleware

pytestmark = pytest.mark.asyncio
LIMITS = ConnectionLimits(
    idle_timeout_s=0.3, header_timeout_s=0.3, body_timeout_s=0.3, per_address=3, max_connections=8
)
CLOSE = b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def form(request: web.Request) -> web.Response:
    fields = await request.post()
    return web.Response(text=",".join(f"{key}={value}" for key, value in fields.items()))


def app() -> web.Application:
    served = web.Application(middlewares=[connection_middleware])
    served.router.add_post("/echo", echo)
    served.router.add_post("/form", form)
    return served


async def answer(stream: Stream) -> bytes:
    async with asyncio.timeout(5):
        return await stream[0].read()


async def test_caps_and_timeouts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "gateway.web.connections")
    async with serve_http(app(), "127.0.0.1", 0, LIMITS) as listening:
        where = (listening.host, listening.port)
        same = [
            await asyncio.open_connection(*where, local_addr=("127.0.0.7", 0)) for _ in range(5)
        ]
        assert [await answer(stream) for stream in same[3:]] == [b"", b""], "over the cap"
        silent = await asyncio.open_connection(*where)
        half = await asyncio.open_connection(*where)
        half[1].write(b"POST /echo HTTP/1.1\r\nHost: x\r\n")
        assert await answer(silent) == b"", "idle timeout"
        assert await answer(half) == b"", "header timeout"
        for stream in same[:3]:
            assert await answer(stream) == b""
        slow_body = await asyncio.open_connection(*where)
        slow_body[1].write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        refused = await answer(slow_body)
        assert refused.startswith(b"HTTP/1.1 408"), refused
        assert b'"code": "body_timeout"' in refused
        whole = await asyncio.open_connection(*where)
        whole[1].write(CLOSE + b"Content-Length: 3\r\n\r\nabc")
        assert (await answer(whole)).endswith(b"\r\n\r\nabc"), "a whole request is answered"
        for stream in (*same, silent, half, slow_body, whole):
            stream[1].close()
    warnings = [record.getMessage() for record in caplog.records]
    assert sum("more than 3 connections from 127.0.0.7" in line for line in warnings) == 1
    assert sum("timeout" in line for line in warnings) == 1, warnings


async def test_slow_clients_make_room_for_new_ones() -> None:
    async with serve_http(app(), "127.0.0.1", 0, LIMITS) as listening:
        where = (listening.host, listening.port)
        slow = []
        for n in range(8):
            slow.append(await asyncio.open_connection(*where, local_addr=(f"127.0.1.{n + 1}", 0)))
            await asyncio.sleep(0.01)
        fresh = await asyncio.open_connection(*where)
        fresh[1].write(CLOSE + b"Content-Length: 2\r\n\r\nok")
        assert (await answer(fresh)).endswith(b"ok")
        assert await answer(slow[0]) == b"", "the one waiting longest made room"
        for stream in (*slow, fresh):
            stream[1].close()


async def test_forms_are_parsed_whole() -> None:
    async with serve_http(app(), "127.0.0.1", 0, LIMITS) as listening:
        base = f"http://{listening.host}:{listening.port}"
        async with aiohttp.ClientSession() as client:
            multipart = aiohttp.FormData()
            multipart.add_field("csrf_token", "t")
            multipart.add_field("file", b"xx", filename="x.bin")
            async with client.post(f"{base}/form", data=multipart) as answer:
                assert answer.status == 200
                assert (await answer.text()).startswith("csrf_token=t,file=")
            async with client.post(f"{base}/form", data={"next": "/"}) as answer:
                assert await answer.text() == "next=/"
