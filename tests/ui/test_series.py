"""The chart series: buckets aggregated in SQL, bounded in number whatever the span."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.auth.policy import Role
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading
from tests.access_support import as_roles
from tests.ui.conftest import PROBE, T0

Client = TestClient[web.Request, web.Application]
VIEWER = as_roles(Role.COUNTY)


def minute_readings(minutes: int, start_c: float = 4.0) -> list[Reading]:
    """One reading a minute from T0 - `minutes`, rising 0.001 °C a minute."""
    first = T0 - timedelta(minutes=minutes)
    return [
        Reading(
            probe=PROBE,
            taken_at=first + timedelta(minutes=n),
            status=ProbeStatus.OK,
            temperature=round(start_c + n * 0.001, 3),
        )
        for n in range(minutes)
    ]


def test_buckets_hold_min_max_mean_and_skip_gaps(store: ReadingStore) -> None:
    readings = [
        Reading(PROBE, T0, ProbeStatus.OK, temperature=4.0),
        Reading(PROBE, T0 + timedelta(seconds=30), ProbeStatus.OK, temperature=6.0),
        Reading(PROBE, T0 + timedelta(seconds=50), ProbeStatus.STALE),
        Reading(PROBE, T0 + timedelta(minutes=3), ProbeStatus.OK, temperature=9.0),
    ]
    store.write_batch(readings)

    buckets = store.temperature_buckets(PROBE, T0, T0 + timedelta(minutes=4), 60_000)

    assert [(b.start, b.low, b.high, b.mean, b.count) for b in buckets] == [
        (T0, 4.0, 6.0, 5.0, 2),
        (T0 + timedelta(minutes=3), 9.0, 9.0, 9.0, 1),
    ]
    assert store.temperature_buckets("unknown", T0, T0 + timedelta(minutes=4), 60_000) == []


@pytest.mark.asyncio
async def test_thirty_days_of_minutes_come_back_as_at_most_the_points_asked(
    client: Client, store: ReadingStore
) -> None:
    store.write_batch(minute_readings(30 * 24 * 60))
    since = (T0 - timedelta(days=30)).isoformat()

    response = await client.get(
        "/api/series",
        params={"probe": PROBE, "since": since, "until": T0.isoformat(), "points": "300"},
        headers=VIEWER,
    )

    assert response.status == 200
    body = await response.json()
    assert body["bucket_s"] == 8640
    assert len(body["points"]) == 300
    assert sum(point["n"] for point in body["points"]) == 43_200
    first = body["points"][0]
    assert first["min"] == 4.0
    assert first["max"] == round(4.0 + 143 * 0.001, 3)
    assert first["min"] < first["mean"] < first["max"]


@pytest.mark.asyncio
async def test_the_default_span_is_the_last_day(client: Client, store: ReadingStore) -> None:
    store.write_batch(minute_readings(3 * 24 * 60))

    response = await client.get("/api/series", params={"probe": PROBE}, headers=VIEWER)

    body = await response.json()
    assert sum(point["n"] for point in body["points"]) == 24 * 60
    assert body["until"] == T0.isoformat()


@pytest.mark.asyncio
async def test_bad_queries_are_refused_with_the_fix(client: Client) -> None:
    cases = {
        "probe=nope": "not configured",
        f"probe={PROBE}&points=0": "from 1 to 2000",
        f"probe={PROBE}&points=abc": "from 1 to 2000",
        f"probe={PROBE}&since=2026-03-02T00:00:00": "no UTC offset",
        f"probe={PROBE}&since=yesterday": "ISO-8601",
        f"probe={PROBE}&since=2026-03-03T00:00:00Z&until=2026-03-02T00:00:00Z": "swap",
    }
    for query, fix in cases.items():
        response = await client.get(f"/api/series?{query}", headers=VIEWER)
        assert response.status == 400, query
        assert fix in (await response.json())["error"], query


@pytest.mark.asyncio
async def test_a_visitor_who_is_not_signed_in_gets_no_series(client: Client) -> None:
    response = await client.get("/api/series", params={"probe": PROBE})

    assert response.status == 401
