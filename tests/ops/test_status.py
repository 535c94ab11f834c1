"""`coldchain status`: the screen from a health document, from the store, and the exit code."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.core.clock import FakeClock
from gateway.ops.status import (
    fetch_health,
    format_health,
    format_offline,
    health_url,
    read_last_readings,
    read_store_files,
)
from gateway.runtime import Gateway
from gateway.settings import HttpSettings, parse_settings
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import ACCOUNTS, LEDGER, READINGS, STORES
from probes.reading import ProbeStatus, Reading

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

HEALTHY: dict[str, Any] = {
    "status": "ok",
    "unit": "6101030203",
    "gateway": "10001",
    "now": "2026-03-01T08:00:00+00:00",
    "started_at": "2026-03-01T07:00:00+00:00",
    "store": {"path": "/var/lib/coldchain/readings.sqlite3", "last_seq": 120, "write_errors": 0},
    "buses": [
        {
            "name": "rs485",
            "transport": "rtu",
            "connected": True,
            "link_error": None,
            "devices": [{"device_id": 1, "profile": "rs485-th", "available": True, "polls": 60}],
        }
    ],
    "probes": [{"code": "208601", "status": "ok", "temperature": 4.6, "age_s": 12.0}],
    "sources": [{"name": "ble", "state": "scanning"}],
    "clock_synced": True,
    "clock": {"synced": True, "warning": None},
    "forwarders": {
        "influx": {"target": "influx", "state": "ok", "backlog": 0, "consecutive_failures": 0}
    },
    "alarms": {"open_alarms": 0, "outbox_pending": 0, "outbox_failed": 0},
    "disk_budget": {"max_bytes": 100_000_000, "used_bytes": 12_000_000, "over_budget": False},
}


def test_a_healthy_gateway_has_no_problems() -> None:
    report = format_health(HEALTHY)
    assert report.problems == []
    text = report.text
    assert "gateway 10001 of unit 6101030203" in text
    assert "rs485 (rtu): connected" in text
    assert "208601" in text
    assert "4.6 °C" in text
    assert "12 s ago" in text
    assert "Clock      synchronised" in text
    assert "12.0 MB of 100 MB" in text
    assert text.rstrip().endswith("ALL OK")


def test_each_fault_is_named_as_a_problem() -> None:
    body = copy.deepcopy(HEALTHY)
    body["buses"][0]["connected"] = False
    body["buses"][0]["link_error"] = "no /dev/coldchain/rs485-x"
    body["buses"][0]["devices"][0].update(available=False, last_error="timeout")
    body["probes"][0].update(status="stale", age_s=900.0)
    body["clock"] = {"synced": False, "warning": "the wall clock is not synchronised"}
    body["forwarders"]["influx"].update(consecutive_failures=3, last_error="refused", backlog=99)
    body["alarms"]["open_alarms"] = 2
    body["disk_budget"]["over_budget"] = True
    problems = format_health(body).problems
    assert len(problems) == 7
    assert any("no /dev/coldchain/rs485-x" in problem for problem in problems)
    assert any(problem == "probe 208601: stale" for problem in problems)
    assert "the wall clock is not synchronised" in problems
    assert any("backlog 99" in problem for problem in problems)
    assert "15 min ago" in format_health(body).text


def test_the_store_gives_the_last_reading_of_each_probe_when_the_gateway_is_down(
    tmp_path: Path,
) -> None:
    path = tmp_path / READINGS.file
    with ReadingStore(path) as store:
        store.write_batch(
            [
                Reading("P1", T0, ProbeStatus.OK, temperature=4.0),
                Reading("P1", T0 + timedelta(minutes=1), ProbeStatus.OK, temperature=5.5),
                Reading("P2", T0, ProbeStatus.BUS_ERROR),
            ]
        )
    readings = read_last_readings(path)
    assert [(item.probe, item.status, item.temperature) for item in readings] == [
        ("P1", "ok", 5.5),
        ("P2", ProbeStatus.BUS_ERROR.value, None),
    ]
    report = format_offline("http://127.0.0.1:8080/", path, readings, T0 + timedelta(hours=3))
    assert "NOT RUNNING" in report.text
    assert "3.0 h ago" in report.text
    assert len(report.problems) == 1


def test_wildcard_listen_address_is_reached_on_loopback() -> None:
    assert (
        health_url(HttpSettings(host="0.0.0.0", port=8080, plain_http_on_network=True))
        == "http://127.0.0.1:8080/"
    )
    assert health_url(HttpSettings(host="::1", port=80)) == "http://[::1]:80/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.asyncio
async def test_nothing_listening_means_not_running() -> None:
    assert await fetch_health(f"http://127.0.0.1:{free_port()}/") is None


@pytest.mark.asyncio
async def test_status_reads_a_running_gateway(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "unit": {"code": "6101030203", "name": "clinic", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": str(tmp_path / "data")},
            "http": {"host": "127.0.0.1", "port": 0},
        },
        "test",
    )
    stop = asyncio.Event()
    gateway = Gateway(settings, FakeClock())
    running = asyncio.create_task(gateway.run(stop), name="gateway")
    try:
        listening = await asyncio.wait_for(gateway.listening, 20)
        body = await fetch_health(listening.url)
    finally:
        stop.set()
        await running
    assert body is not None
    report = format_health(body)
    assert "gateway 10001 of unit 6101030203" in report.text
    assert "Forward    none configured" in report.text


def test_cli_exits_non_zero_when_the_gateway_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    data = tmp_path / "data"
    config.write_text(
        '[unit]\ncode = "6101030203"\nname = "x"\nregion_code = "610102"\n'
        f'[gateway]\nnumber = "10001"\ndata_dir = "{data}"\n'
        f"[http]\nport = {free_port()}\n",
        encoding="utf-8",
    )
    with ReadingStore(data / READINGS.file) as store:
        store.write_batch([Reading("P1", T0, ProbeStatus.OK, temperature=4.0)])
    assert main(["status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "NOT RUNNING" in out
    assert "P1" in out


def test_status_with_a_url_needs_no_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["status", "--url", url]) == 1
    out = capsys.readouterr().out
    assert f"NOT REACHABLE (nothing answers at {url})" in out
    assert "fix: check the address" in out


def test_offline_status_shows_every_store_present_and_refuses_a_newer_schema(
    tmp_path: Path,
) -> None:
    for store in STORES:
        with store.open(store.path(tmp_path)):
            pass
    with ReadingStore(tmp_path / READINGS.file) as readings:
        readings.write_batch([Reading("P1", T0, ProbeStatus.OK, temperature=4.0)])
    with contextlib.closing(sqlite3.connect(tmp_path / LEDGER.file)) as conn:
        conn.execute(f"PRAGMA user_version={LEDGER.schema_version + 1}")
    files = read_store_files(tmp_path)
    assert [item.store for item in files] == list(STORES)
    report = format_offline("http://127.0.0.1:8080/", tmp_path / READINGS.file, [], T0, files)
    assert f"File       {READINGS.file}: " in report.text
    assert "1 probes, 1 readings" in report.text
    assert f"File       {ACCOUNTS.file}: " in report.text
    assert "0 accounts, 0 sessions, 0 api_tokens, personal data" in report.text
    assert [problem for problem in report.problems if LEDGER.file in problem] == [
        f"{LEDGER.file}: schema version {LEDGER.schema_version + 1} is newer than this"
        f" gateway's {LEDGER.schema_version}; fix: upgrade the gateway software"
    ]
