"""The twice-daily manual record over HTTP: entries, the 6-hour rule, impossible values,
excursions, reminders of missing records, and the month's sheet as HTML and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from aiohttp import ClientResponse

from gateway.auth.policy import Role
from gateway.web.routes.checks import checks_health
from gateway.web.routes.checks_http import CHECKS
from tests.access_support import as_roles
from tests.checks.conftest import T0, Client, Harness

pytestmark = pytest.mark.asyncio

MANAGER = as_roles(Role.MANAGER, name="wang.fang")
FRIDGE = "F1/冷藏"
FREEZER = "F1/冷冻"


def at(hours: float) -> str:
    """T0 (08:00 China time on 2026-11-02) plus `hours`, as ISO 8601."""
    return (T0 + timedelta(hours=hours)).isoformat()


async def refused(response: ClientResponse, status: int, field: str | None = None) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    if field is not None:
        assert body["field"] == field
    return str(body["error"])


async def test_morning_and_afternoon_six_hours_apart(harness: Harness, client: Client) -> None:
    await harness.clock.advance(10 * 3600)  # 18:00

    async def post(body: dict[str, object], headers: dict[str, str] = MANAGER) -> ClientResponse:
        return await client.post("/api/manual-readings", json=body, headers=headers)

    morning = await post({"compartment": FRIDGE, "temperature": 5.0, "taken_at": at(0)})
    assert morning.status == 201, await morning.text()
    body = await morning.json()
    assert (body["day"], body["half"], body["half_label"]) == ("2026-11-02", "am", "上午")
    assert (body["excursion"], body["recorder"]) == (False, "wang.fang")

    message = await refused(
        await post({"compartment": FRIDGE, "temperature": 5.1, "taken_at": at(4.5)}), 422
    )
    assert "4.5 h from the record at 2026-11-02 08:00" in message
    assert "at least 6 h apart (the next from 2026-11-02 14:00)" in message
    message = await refused(
        await post({"compartment": FRIDGE, "temperature": 5.1, "taken_at": at(2.5)}), 422
    )
    assert "上午 record of F1/冷藏 for 2026-11-02 was already entered" in message

    afternoon = await post({"compartment": FRIDGE, "temperature": 9.5, "taken_at": at(6.5)})
    assert afternoon.status == 201
    assert (await afternoon.json())["excursion"] is True  # plausible, outside 2-8 °C: kept

    listed = await (await client.get("/api/manual-readings?month=2026-11", headers=MANAGER)).json()
    assert [item["temperature"] for item in listed["manual_readings"]] == [5.0, 9.5]
    other = await client.get("/api/manual-readings?month=2026-10", headers=MANAGER)
    assert (await other.json())["manual_readings"] == []


async def test_impossible_values_and_times_are_refused(harness: Harness, client: Client) -> None:
    async def post(body: dict[str, object], headers: dict[str, str] = MANAGER) -> ClientResponse:
        return await client.post("/api/manual-readings", json=body, headers=headers)

    for value in (75.0, -80.0):
        message = await refused(await post({"compartment": FREEZER, "temperature": value}), 422)
        assert "cannot be a thermometer reading" in message
    message = await refused(
        await post({"compartment": FREEZER, "temperature": -18, "taken_at": at(3)}), 422
    )
    assert "in the future" in message
    message = await refused(
        await post({"compartment": FREEZER, "temperature": -18, "taken_at": at(-30)}), 422
    )
    assert "more than 1 day back" in message
    message = await refused(await post({"compartment": "F9/x", "temperature": 4}), 422)
    assert "known: F1/冷藏, F1/冷冻" in message
    naive = "2026-11-02T08:00:00"
    await refused(await post({"compartment": FREEZER, "temperature": -18, "taken_at": naive}), 422)
    await refused(await post({"compartment": FREEZER, "temperature": -18}, {}), 401)
    vaccinator = as_roles(Role.VACCINATOR)
    await refused(await post({"compartment": FREEZER, "temperature": -18}, vaccinator), 403)
    technician = as_roles(Role.TECHNICIAN, name="li.tech")
    warm = await post({"compartment": FREEZER, "temperature": -12}, technician)
    assert warm.status == 201
    assert (await warm.json())["excursion"] is True  # above -15 °C in a frozen compartment
    bad_month = await client.get("/api/manual-readings?month=2026-13", headers=MANAGER)
    await refused(bad_month, 400, "month")


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "2026-1", "2026-11-01", "２０２６-11"])
async def test_a_month_out_of_the_calendars_reach_is_refused(client: Client, month: str) -> None:
    """Regression: 9999-12 answered 500 (its end, year 10000, is no date); the other shapes
    are refused as every month is (gateway.core.clinic_time.parse_month)."""
    for path in ("/api/manual-readings", "/api/manual-readings/missing", "/api/system-checks"):
        answer = await client.get(path, params={"month": month}, headers=MANAGER)
        await refused(answer, 400, "month")
        assert (await answer.json())["code"] == "month_invalid"


async def test_missing_records_are_reminded_after_their_due_time(
    harness: Harness, client: Client
) -> None:
    async def missing() -> list[tuple[str, str, str]]:
        body = await (await client.get("/api/manual-readings/missing", headers=MANAGER)).json()
        return [(item["compartment"], item["day"], item["half"]) for item in body["missing"]]

    assert await missing() == []  # 08:00: nothing due yet
    response = await client.post(
        "/api/manual-readings", json={"compartment": FRIDGE, "temperature": 4.0}, headers=MANAGER
    )
    assert response.status == 201
    await harness.clock.advance(3 * 3600 + 1)  # 11:00:01
    assert await missing() == [(FREEZER, "2026-11-02", "am")]
    health = checks_health(client.app[CHECKS])
    assert health["warning"] == "manual temperature record missing today: F1/冷冻 上午"
    await harness.clock.advance(6 * 3600)  # 17:00:01
    assert await missing() == [
        (FREEZER, "2026-11-02", "am"),
        (FRIDGE, "2026-11-02", "pm"),
        (FREEZER, "2026-11-02", "pm"),
    ]
    await harness.clock.advance(24 * 3600)  # the next day, 17:00: yesterday's gaps remain
    assert len(await missing()) == 7
    assert len(checks_health(client.app[CHECKS])["manual_readings_missing"]) == 4


async def test_the_month_sheet_prints_like_the_paper_form(harness: Harness, client: Client) -> None:
    await harness.clock.advance(10 * 3600)
    sly = as_roles(Role.MANAGER, name="mallory")
    entries = [
        ({"compartment": FRIDGE, "temperature": 4.5, "taken_at": at(0.25)}, MANAGER),
        (
            {
                "compartment": FRIDGE,
                "temperature": 8.5,
                "taken_at": at(7),
                "note": "<script>alert('x')</script>",
            },
            sly,
        ),
    ]
    for body, headers in entries:
        response = await client.post("/api/manual-readings", json=body, headers=headers)
        assert response.status == 201, await response.text()

    response = await client.get(
        "/api/manual-readings/sheet?month=2026-11&compartment=F1/冷藏", headers=MANAGER
    )
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    page = await response.text()
    for heading in ("温度记录表", "日期", "上午", "下午", "时间", "温度(°C)", "记录人"):
        assert heading in page
    assert "@media print" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<td>2日</td><td>08:15</td><td>4.5</td><td>15:00</td>" in page
    assert '<td class="excursion">8.5*</td>' in page
    assert "wang.fang / mallory" in page
    assert page.count("<tr><td>") == 30  # every day of November
    assert "1号冰箱" in page
    assert "冷冻" not in page.split("<table>")[1]  # only the compartment asked for

    response = await client.get(
        "/api/manual-readings/sheet?month=2026-11&format=csv", headers=MANAGER
    )
    assert response.content_type == "text/csv"
    text = await response.text()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == [
        "冰箱/位置",
        "日期",
        "上午 时间",
        "上午 温度(°C)",
        "下午 时间",
        "下午 温度(°C)",
        "记录人",
        "备注",
    ]
    assert len(rows) == 1 + 2 * 30
    assert rows[2] == [
        FRIDGE,
        "2026-11-02",
        "08:15",
        "4.5",
        "15:00",
        "8.5*",
        "wang.fang / mallory",
        "<script>alert('x')</script>",
    ]
    bad = await client.get("/api/manual-readings/sheet?format=pdf", headers=MANAGER)
    await refused(bad, 400, "format")


async def test_a_formula_in_a_name_does_not_run_in_a_spreadsheet(
    harness: Harness, client: Client
) -> None:
    sly = as_roles(Role.MANAGER, name='=HYPERLINK("http://x")')
    response = await client.post(
        "/api/manual-readings",
        json={"compartment": FRIDGE, "temperature": 4.0, "note": "@SUM(A1)"},
        headers=sly,
    )
    assert response.status == 201
    text = await (await client.get("/api/manual-readings/sheet?format=csv", headers=MANAGER)).text()
    row = next(row for row in list(csv.reader(io.StringIO(text[1:])))[1:] if row[3])
    assert row[6:] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)"]
