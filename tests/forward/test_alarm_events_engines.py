"""What each engine keeps of an alarm's events: InfluxDB 1.x keeps the alarm id as text;
VictoriaMetrics keeps no string field (it stores one as 0), so the alarm travels as its number
(`alarm_no`) and who acknowledged as a tag, which both engines keep."""

from __future__ import annotations

import pytest

from gateway.forward.alarm_events import alarm_event_line, events_from
from gateway.forward.influx import make_sink
from gateway.forward.line_protocol import LineEncoder
from gateway.forward.settings import InfluxSettings
from gateway.storage.readings import to_millis
from tests.forward.test_alarm_events import ALARM, ALARM_ID, IDENTITY, transition
from tests.servers import Influxd, VictoriaMetrics

pytestmark = pytest.mark.asyncio

ROWS = [
    transition(1, 0, "opened"),
    transition(2, 0.5, "tier_notified", detail="tier 1: wang"),
    transition(3, 12, "acknowledged", "wang", "on site"),
]


async def send(settings: InfluxSettings) -> None:
    body = "\n".join(alarm_event_line(e, IDENTITY) for e in events_from(ROWS, {ALARM_ID: ALARM}))
    sink = make_sink(settings, LineEncoder(IDENTITY))
    try:
        await sink.send_body(body.encode())
    finally:
        await sink.close()


async def test_victoriametrics_keeps_the_alarm_number_and_who_acknowledged(
    vm: VictoriaMetrics,
) -> None:
    await send(InfluxSettings.model_validate({"url": vm.url, "bucket": "coldchain"}))
    numbers = vm.samples("coldchain_alarm_alarm_no", at_least=3)
    seen = sorted((labels["event"], labels.get("who"), ts, value) for labels, ts, value in numbers)
    assert seen == [
        ("acknowledged", "wang", to_millis(ROWS[2].at), 1.0),
        ("opened", None, to_millis(ROWS[0].at), 1.0),
        ("tier_notified", None, to_millis(ROWS[1].at), 1.0),
    ]
    assert {labels["unit"] for labels, _, _ in numbers} == {IDENTITY.unit}
    # What the alarm id as text becomes there: the reason it travels as a number too.
    assert {value for _, _, value in vm.samples("coldchain_alarm_alarm", at_least=3)} == {0.0}


async def test_influxdb_keeps_the_alarm_id_its_number_and_who_acknowledged(
    influxd: Influxd,
) -> None:
    settings = {"url": influxd.url, "v1_db": "coldchain"}
    await send(InfluxSettings.model_validate(settings))
    rows = influxd.rows(
        "coldchain", "SELECT alarm, alarm_no, tier FROM coldchain_alarm GROUP BY event, who"
    )
    assert sorted((r["event"], r["who"], r["alarm"], r["alarm_no"], r["tier"]) for r in rows) == [
        ("acknowledged", "wang", ALARM_ID, 1, None),
        ("opened", "", ALARM_ID, 1, None),
        ("tier_notified", "", ALARM_ID, 1, 1),
    ]
