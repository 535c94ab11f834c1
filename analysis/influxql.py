"""A small InfluxQL client over the `/query` HTTP endpoint (aiohttp, streaming).

Works with InfluxDB 1.x natively, 2.x through its v1 compatibility API (DBRP mapping, token)
and 3.x (InfluxQL over /query). Responses are requested with `chunked=true`: the server sends
one JSON object per line, each holding at most `chunk_size` rows of one series, so a month of
minute readings is parsed a chunk at a time and never held whole. Timestamps as ms
(`epoch=ms`). A server on this machine (a loopback address) is asked for an uncompressed
response: gzip costs it about 13 % more CPU a point and saves nothing over loopback; any other
server sends gzip, which makes a month of minute readings about 10 times smaller on the wire.

Credentials: `username`/`password` go as HTTP basic auth (1.x, 2.x v1 API); a `token` goes as
`Authorization: Token ...` (2.x, 3.x). Every failure is a `ReportError` naming the URL and the
fix: unreachable server, 401/403, unknown database, a query error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp

from analysis.errors import InfluxAuthError, InfluxQueryError, InfluxUnreachableError
from gateway.core.hosts import is_loopback


@dataclass(frozen=True, slots=True)
class SeriesChunk:
    """Rows of one series (possibly a part of it: the next chunk continues it)."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]


def quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxQL:
    """`async with InfluxQL(url, db) as client:` then `client.series(q)` / `client.rows(q)`."""

    def __init__(
        self,
        url: str,
        db: str,
        *,
        rp: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 300.0,
        chunk_size: int = 10_000,
    ) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.rp = rp
        self._auth = aiohttp.BasicAuth(username, password or "") if username else None
        self._headers = {"Authorization": f"Token {token}"} if token else {}
        if is_loopback(urlsplit(self.url).hostname or ""):
            self._headers["Accept-Encoding"] = "identity"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)
        self.chunk_size = chunk_size
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, auth=self._auth, headers=self._headers
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def series(self, query: str) -> AsyncIterator[SeriesChunk]:
        """Every series chunk of a query, as the server streams them."""
        if self._session is None:
            raise RuntimeError("use InfluxQL inside `async with`")
        params = {"q": query, "db": self.db, "epoch": "ms", "chunked": "true"}
        params["chunk_size"] = str(self.chunk_size)
        if self.rp:
            params["rp"] = self.rp
        endpoint = f"{self.url}/query"
        try:
            async with self._session.post(endpoint, data=params) as response:
                await self._check_status(response)
                buffer = b""
                async for block in response.content.iter_any():
                    buffer += block
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        for chunk in self._parse(line):
                            yield chunk
                for chunk in self._parse(buffer):
                    yield chunk
        except aiohttp.ClientConnectionError as error:
            raise InfluxUnreachableError(
                f"cannot reach InfluxDB at {self.url} ({error}): check --influx-url and that "
                "the server is running and reachable from here"
            ) from error
        except TimeoutError as error:
            raise InfluxUnreachableError(
                f"InfluxDB at {self.url} did not answer in time: check the server's load or "
                "raise the timeout"
            ) from error

    async def rows(self, query: str) -> list[dict[str, Any]]:
        """All rows of a (small) query as dicts, tags included."""
        out: list[dict[str, Any]] = []
        async for chunk in self.series(query):
            out += [
                chunk.tags | dict(zip(chunk.columns, values, strict=True))
                for values in chunk.values
            ]
        return out

    async def _check_status(self, response: aiohttp.ClientResponse) -> None:
        if response.status == 200:
            return
        body = (await response.text())[:300]
        if response.status in (401, 403):
            raise InfluxAuthError(
                f"InfluxDB at {self.url} refused the credentials (HTTP {response.status}: "
                f"{body.strip()}): pass --influx-user/--influx-password (1.x) or "
                "--influx-token (2.x/3.x) with read access to the database"
            )
        if response.status == 404 and "database" in body.lower():
            raise InfluxQueryError(self._unknown_db(body))
        raise InfluxQueryError(
            f"InfluxDB at {self.url} answered HTTP {response.status} to /query: {body.strip()}"
        )

    def _unknown_db(self, detail: str) -> str:
        return (
            f"InfluxDB at {self.url} has no database {self.db!r} ({detail.strip()}): check "
            "--influx-db (and, on InfluxDB 2.x, the DBRP mapping of the bucket)"
        )

    def _parse(self, line: bytes) -> list[SeriesChunk]:
        line = line.strip()
        if not line:
            return []
        try:
            document = json.loads(line)
        except ValueError as error:
            raise InfluxQueryError(
                f"InfluxDB at {self.url} sent a response that is not JSON ({error}): is the "
                "URL an InfluxDB /query endpoint?"
            ) from error
        if "error" in document:
            raise InfluxQueryError(f"InfluxDB at {self.url}: {document['error']}")
        out: list[SeriesChunk] = []
        for result in document.get("results", []):
            problem = result.get("error")
            if problem:
                if "database not found" in problem:
                    raise InfluxQueryError(self._unknown_db(problem))
                raise InfluxQueryError(f"InfluxDB at {self.url} rejected a query: {problem}")
            out += [
                SeriesChunk(
                    series.get("name", ""),
                    series.get("tags") or {},
                    series["columns"],
                    series.get("values") or [],
                )
                for series in result.get("series", [])
            ]
        return out
