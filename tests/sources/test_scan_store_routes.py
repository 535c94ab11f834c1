"""Scans persisted in scans.sqlite3 and served at /api/scans (aiohttp's test server)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth.policy import Role
from gateway.core.clock import FakeClock
from gateway.storage.registry import SCANS
from gateway.storage.scans import ScanStore, StoredScan, scan_sink
from gateway.web.routes.scans import add_scan_routes
from probes.scan import Scan
from tests.access_support import as_roles, roles_from_header

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GS1 = b"]d2\x1d0106901234567890\x1d21SN\xff"


def test_store_keeps_bytes_and_seq_and_corrects_times(tmp_path: Path) -> None:
    path = tmp_path / SCANS.file
    with ScanStore(path) as store:
        first = store.add(Scan(GS1, "s1", "desk", T0, clock_synced=False))
        second = store.add(Scan(b"ABC", "s1", "desk", T0 + timedelta(seconds=1)))
        assert (first.seq, second.seq) == (1, 2)
        assert store.correct_times([(1, T0 - timedelta(hours=3))]) == 1
    with ScanStore(path) as store:  # reopened: same rows, same bytes
        rows = store.after(0)
        assert [row.scan.raw for row in rows] == [GS1, b"ABC"]
        assert rows[0].scan.taken_at == T0 - timedelta(hours=3)
        assert (rows[0].time_corrected, rows[0].scan.clock_synced) == (True, False)
        assert [row.seq for row in store.after(1)] == [2]
        assert store.last_seq() == 2


@pytest.mark.asyncio
async def test_scan_sink_commits_then_tells_listeners(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    with ScanStore(tmp_path / SCANS.file) as store:

        async def listener(stored: StoredScan) -> None:
            seen.append((stored.seq, store.last_seq()))

        sink = scan_sink(store, [listener])
        await sink(Scan(b"X", "s", "d", T0, clock_synced=False))
        assert seen == [(1, 1)], "the listener hears of a scan once it is committed"
        assert store.unsynced_after(0) == [(1, T0)]


@pytest.mark.asyncio
async def test_api_scans(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with ScanStore(tmp_path / SCANS.file) as store:
        store.add(Scan(GS1, "s1", "desk", T0))
        app = web.Application(middlewares=[roles_from_header])
        add_scan_routes(app, store, clock)
        async with TestClient(
            TestServer(app, host="127.0.0.1", port=0), headers=as_roles(Role.VACCINATOR)
        ) as client:
            response = await client.get("/api/scans")
            assert response.status == 200
            body = await response.json()
            assert body["last_seq"] == 1
            scan = body["scans"][0]
            assert base64.b64decode(scan["raw_base64"]) == GS1
            assert scan["text"] is None  # not UTF-8: base64 only
            assert scan["symbology"] == "]d2"
            posted = await client.post(
                "/api/scans", json={"raw": "]C1\u001d0101", "scanner": "ledger", "station": "s"}
            )
            assert posted.status == 201
            assert (await posted.json())["seq"] == 2
            b64 = base64.b64encode(b"\x00\x1d\xff").decode()
            posted = await client.post(
                "/api/scans",
                json={"raw": b64, "encoding": "base64", "scanner": "ledger", "station": "s"},
            )
            assert posted.status == 201
            body = await (await client.get("/api/scans?since=1&limit=1")).json()
            assert [s["seq"] for s in body["scans"]] == [2]
            assert body["scans"][0]["text"] == "]C1\u001d0101"
            for bad, message in [
                ({"raw": "", "scanner": "a", "station": "b"}, "raw must be"),
                ({"raw": "x", "scanner": "", "station": "b"}, "scanner must be"),
                ({"raw": "!!", "encoding": "base64", "scanner": "a", "station": "b"}, "base64"),
                ({"raw": "x", "encoding": "rot13", "scanner": "a", "station": "b"}, "encoding"),
                ([1, 2], "JSON object"),
            ]:
                response = await client.post("/api/scans", json=bad)
                assert response.status == 400
                assert message in (await response.json())["error"]
            response = await client.post("/api/scans", data=b"\xff not json")
            assert response.status == 400
            response = await client.get("/api/scans?limit=0")
            assert response.status == 400
            refused = await client.post(
                "/api/scans",
                json={"raw": "x", "scanner": "a", "station": "b"},
                headers=as_roles(Role.COUNTY),
            )
            assert refused.status == 403
            assert "may not scan" in (await refused.json())["error"]
            assert store.last_seq() == 3
