"""/api/health's top-level status is the worst of its parts, with the reasons, and
`coldchain status` flags the same problems (one rule: gateway.ops.health_verdict)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.core.clock import FakeClock
from gateway.ops.health_verdict import judge
from gateway.ops.status import fetch_health, format_health
from gateway.runtime import Gateway
from gateway.settings import parse_settings
from tests.ops.test_status import HEALTHY
from tests.servers import Mosquitto


def test_a_healthy_document_is_ok() -> None:
    verdict = judge(HEALTHY)
    assert verdict.status == "ok"
    assert verdict.problems == ()


def test_a_probe_not_ok_degrades() -> None:
    body = copy.deepcopy(HEALTHY)
    body["probes"][0]["status"] = "stale"
    verdict = judge(body)
    assert verdict.status == "degraded"
    assert verdict.texts() == ["probe 208601: stale"]


@pytest.mark.parametrize("state", ["auth_failed", "database_missing"])
def test_a_forwarder_refused_by_its_server_fails_the_whole(state: str) -> None:
    body = copy.deepcopy(HEALTHY)
    body["probes"][0]["status"] = "stale"
    body["forwarders"]["influx"].update(
        state=state, consecutive_failures=2, last_error="refused our credentials (401)"
    )
    verdict = judge(body)
    assert verdict.status == "failing"
    assert verdict.problems[0].text.startswith(f"forwarder influx: {state}, 2 failure(s)")
    assert "refused our credentials (401)" in verdict.problems[0].text
    assert verdict.texts()[1:] == ["probe 208601: stale"]


@pytest.mark.parametrize(("age_s", "status"), [(3599.0, "degraded"), (3 * 3600.0, "failing")])
def test_a_server_unreachable_for_an_hour_fails_the_whole(age_s: float, status: str) -> None:
    body = copy.deepcopy(HEALTHY)
    body["forwarders"]["influx"].update(
        state="retrying", consecutive_failures=40, oldest_unsent_age_s=age_s, backlog=9
    )
    verdict = judge(body)
    assert verdict.status == status
    assert ("nothing delivered for 3.0 h" in verdict.texts()[0]) == (status == "failing")


@pytest.mark.parametrize(
    ("part", "change", "status", "reason"),
    [
        ("store", {"write_errors": 2, "last_error": "disk I/O error"}, "failing", "disk I/O"),
        ("alarms", {"outbox_failed": 1, "last_error": "wecom 401"}, "failing", "failed to send"),
        ("alarms", {"open_alarms": 1}, "degraded", "1 open"),
        ("disk_budget", {"over_budget": True}, "degraded", "over its budget"),
    ],
)
def test_each_part_counts(part: str, change: dict[str, Any], status: str, reason: str) -> None:
    body = copy.deepcopy(HEALTHY)
    body[part].update(change)
    verdict = judge(body)
    assert verdict.status == status
    assert reason in verdict.texts()[0]
    assert format_health(body).problems == verdict.texts()


def test_event_lanes_and_ledger_uploads_count() -> None:
    body = copy.deepcopy(HEALTHY)
    body["alarm_events"] = {"influx": {"cursor": 3, "sent": 3, "last_error": "cannot connect"}}
    body["ledger"] = {"upload_error": "platform answered 500"}
    assert judge(body).texts() == [
        "alarm events to influx: cannot connect",
        "ledger: platform answered 500",
    ]


@pytest.mark.asyncio
async def test_a_wrong_mqtt_password_fails_health_and_status_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = Mosquitto.create(tmp_path / "mq", users={"gw": "secret"})
    broker.start()
    settings = parse_settings(
        {
            "unit": {"code": "6101030203", "name": "clinic", "region_code": "610102"},
            "gateway": {"number": "10001", "data_dir": str(tmp_path / "data")},
            "http": {"host": "127.0.0.1", "port": 0},
            "mqtt": {"url": broker.url, "username": "gw", "password": "wrong"},
        },
        "test",
    )
    stop = asyncio.Event()
    gateway = Gateway(settings, FakeClock())
    running = asyncio.create_task(gateway.run(stop), name="gateway")
    try:
        listening = await asyncio.wait_for(gateway.listening, 20)
        body: dict[str, Any] | None = None
        for _ in range(200):
            body = await fetch_health(listening.url)
            if body is not None and body["forwarders"]["mqtt"]["state"] == "auth_failed":
                break
            await asyncio.sleep(0.05)
        assert body is not None
        code = await asyncio.to_thread(main, ["status", "--url", listening.url])
    finally:
        stop.set()
        await running
        broker.stop()
    assert body["status"] == "failing"
    reason = body["problems"][0]
    assert reason["level"] == "failing"
    assert reason["text"].startswith("forwarder mqtt: auth_failed")
    assert "Not authorized" in reason["text"]
    assert code == 1
    out = capsys.readouterr().out
    assert f"  - {reason['text']}" in out
