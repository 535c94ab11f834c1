"""Daily figures and exposure events from VictoriaMetrics (`/api/v1/export`, streamed).

VictoriaMetrics stores each field of a line-protocol point as its own series named
`<measurement>_<field>`, labelled with the point's tags; `/api/v1/export` streams them one JSON
object a line (a series' labels, values and timestamps). The daily figures fold field by field
(`analysis.daily.MonthFold`), so nothing is held but the running sums and each day's extremes.
It keeps no string field: an alarm is named by its unit, gateway and `alarm_no` instead of its
text id, its events by their tags (event, condition, who...), the tier by the `tier` series at
the same time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from analysis.alarm_events import MEASUREMENT as ALARMS
from analysis.alarm_events import AlarmEvent
from analysis.daily import FIELDS, MANUAL, ManualFold, MonthFold, probe_key
from analysis.daily import MEASUREMENT as DAILY
from analysis.errors import VictoriaMetricsError
from analysis.report import ExposedDoses

EXPOSURE_DOSES = "coldchain_exposure_doses"


async def export(
    url: str, match: str, start_ms: int, end_ms: int, timeout_s: float = 300.0
) -> AsyncIterator[dict[str, Any]]:
    """Every series matching `match` with its samples in [start, end)."""
    params = {"match[]": match, "start": str(start_ms / 1000), "end": str((end_ms - 1) / 1000)}
    endpoint = f"{url.rstrip('/')}/api/v1/export"
    timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(endpoint, params=params) as response,
        ):
            if response.status != 200:
                body = (await response.text())[:300].strip()
                raise VictoriaMetricsError(
                    f"VictoriaMetrics at {url} answered HTTP {response.status} to "
                    f"/api/v1/export: {body}"
                )
            async for line in response.content:
                if line.strip():
                    yield json.loads(line)
    except aiohttp.ClientConnectionError as error:
        raise VictoriaMetricsError(
            f"cannot reach VictoriaMetrics at {url} ({error}): check the URL and that the "
            "server is running and reachable from here"
        ) from error


def _match(name: str, region: str | None) -> str:
    region_label = f',region="{region}"' if region else ""
    return f'{{__name__=~"{name}"{region_label}}}'


async def fold_daily(
    url: str, start_ms: int, end_ms: int, expected: int, region: str | None = None
) -> MonthFold:
    """Each probe's month from the daily figures stored in VictoriaMetrics."""
    fold = MonthFold(start_ms, end_ms, expected)
    prefix = f"{DAILY}_"
    names = f"{prefix}({'|'.join(FIELDS)})"
    async for series in export(url, _match(names, region), start_ms, end_ms):
        labels = series["metric"]
        name = labels["__name__"].removeprefix(prefix)
        key = probe_key(labels)
        for t, value in zip(series["timestamps"], series["values"], strict=True):
            fold.add(key, name, t, value)
    return fold


async def fold_manual(
    url: str, start_ms: int, end_ms: int, region: str | None = None
) -> ManualFold:
    """The compartments' manual record over the month, from `coldchain_daily_manual_*`."""
    fold = ManualFold(start_ms, end_ms)
    prefix = f"{MANUAL}_"
    async for series in export(url, _match(f"{prefix}(recorded|due)", region), start_ms, end_ms):
        labels = series["metric"]
        key = (labels.get("unit", ""), labels.get("fridge", ""), labels.get("compartment", ""))
        name = labels["__name__"].removeprefix(prefix)
        for t, value in zip(series["timestamps"], series["values"], strict=True):
            fold.add(key, name, t, value)
    return fold


async def exposures(
    url: str, start_ms: int, end_ms: int, region: str | None = None
) -> list[ExposedDoses]:
    out: list[ExposedDoses] = []
    async for series in export(url, _match(EXPOSURE_DOSES, region), start_ms, end_ms):
        labels = series["metric"]
        out += [
            ExposedDoses(
                labels.get("region", ""),
                labels.get("unit", ""),
                labels.get("fridge", ""),
                labels.get("compartment", ""),
                int(doses),
            )
            for doses in series["values"]
        ]
    return out


def _labels_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


async def alarm_events(
    url: str, start_ms: int, end_ms: int, region: str | None = None
) -> list[AlarmEvent]:
    """The alarm events in [start, end), named `<unit>/<gateway>/<alarm_no>`."""
    tiers: dict[tuple[tuple[tuple[str, str], ...], int], int] = {}
    async for series in export(url, _match(f"{ALARMS}_tier", region), start_ms, end_ms):
        key = _labels_key(series["metric"])
        for t, tier in zip(series["timestamps"], series["values"], strict=True):
            tiers[key, t] = int(tier)
    events: list[AlarmEvent] = []
    async for series in export(url, _match(f"{ALARMS}_alarm_no", region), start_ms, end_ms):
        labels = series["metric"]
        key = _labels_key(labels)
        unit, gateway = labels.get("unit", ""), labels.get("gateway", "")
        events += [
            AlarmEvent(
                t, f"{unit}/{gateway}/{int(number)}", labels.get("event", ""),
                labels.get("condition", ""), unit, labels.get("region", ""),
                labels.get("fridge", ""), labels.get("compartment", ""), tiers.get((key, t)),
                labels.get("who") or None,
            )
            for t, number in zip(series["timestamps"], series["values"], strict=True)
        ]  # fmt: skip
    events.sort(key=lambda e: e.at_ms)
    return events
