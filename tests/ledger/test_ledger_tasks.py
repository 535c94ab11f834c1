"""The ledger's tasks on a FakeClock: uploads to the provincial platform simulator over HTTP,
three days of platform downtime with the deadline alarm through a WeCom robot simulator, the
batch window, daily summary tables and 汇总出库, and the settings and start-up import."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError

from alerts.channels import build_channels
from firmware_sim.provincial_platform import ProvincialPlatform, serve
from firmware_sim.wechat_api import FakeWecom
from gateway.alarms.engine import AlarmService
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import FakeClock
from gateway.ledgers.book import LedgerBook, open_configured
from gateway.ledgers.daily_jobs import DailyJobs, stored_tables
from gateway.ledgers.deadline_watch import DeadlineWatch
from gateway.ledgers.tasks import LedgerJobs
from gateway.readings.recorder import Recorder
from gateway.settings import Settings
from gateway.storage.ledger.queries import queue_stats
from gateway.storage.readings import ReadingStore
from ledger.settings import LedgerSettings
from tests.access_support import acting_as
from tests.alarms.conftest import alerts_section, clinic, wait_until
from tests.ledger.conftest import HEPB, SHIPMENT, START, code
from tests.ledger.test_vaccinations_upload import ACTOR, ADULT, DOSE, adult

HOUR = 3600.0
NOTICE = "接种个案上传预警"
NOBODY = acting_as({})  # no scan reaches these tasks


@dataclass
class World:
    settings: Settings
    book: LedgerBook
    platform: ProvincialPlatform
    wecom: FakeWecom
    clock: FakeClock

    def dose(self, n: int) -> str:
        """Dose 1 of the n-th adult (registered here), from package n; returns the record id."""
        person = adult(n)
        if n > 1:
            self.book.vaccinations.register(person, actor="li")
        self.book.vaccinations.record_dose(
            archive_no=person.archive_no, scan=code(HEPB, n), event_id=f"d{n}", dose_no=1, **DOSE
        )
        return f"d{n}"

    @property
    def ledger(self) -> LedgerSettings:
        assert self.settings.ledger is not None
        return self.settings.ledger

    def notices(self) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.wecom.robot_messages
            if NOTICE in m.get("text", {}).get("content", "")
        ]


def ledger_settings(url: str, **changes: Any) -> LedgerSettings:
    return LedgerSettings.model_validate(
        {"platform_url": url, "catalogue_files": ["shipment.json"], **changes}
    )


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[tuple[ProvincialPlatform, str]]:
    fake = ProvincialPlatform()
    runner, port = await serve(fake)
    try:
        yield fake, f"http://127.0.0.1:{port}/upload"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom("ww-corp", "corp-secret", "robot-key", users={"WangFang"}) as server:
        yield server


def make_world(
    tmp_path: Path,
    platform: tuple[ProvincialPlatform, str],
    wecom: FakeWecom,
    clock: FakeClock,
    **ledger: Any,
) -> World:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "shipment.json").write_text(json.dumps(SHIPMENT), encoding="utf-8")
    robot = {"wecom_robot": {"key": "robot-key", "base_url": wecom.base_url}}
    settings = clinic(data_dir, alerts_section(robot)).model_copy(
        update={"ledger": ledger_settings(platform[1], **ledger)}
    )
    assert settings.ledger is not None
    book = open_configured(settings.ledger, data_dir, clock, unit_code=settings.unit.code)
    assert book.catalogue_problems == []
    for n in range(1, 11):
        book.stock.receive(code(HEPB, n), event_id=f"r{n}", actor="王芳")
    book.vaccinations.register(ADULT, actor=ACTOR)
    return World(settings, book, platform[0], wecom, clock)


@pytest_asyncio.fixture
async def world(
    tmp_path: Path,
    platform: tuple[ProvincialPlatform, str],
    wecom: FakeWecom,
    clock: FakeClock,
) -> AsyncIterator[World]:
    made = make_world(tmp_path, platform, wecom, clock)
    try:
        yield made
    finally:
        made.book.close()


@pytest_asyncio.fixture
async def alarms(world: World, clock: FakeClock) -> AsyncIterator[AlarmService]:
    """The alarm service's store and dispatcher (real WeCom robot channel), not its rules."""
    data_dir = world.settings.gateway.data_dir
    readings = ReadingStore(data_dir / "readings.sqlite3")
    recorder = Recorder(readings, clock, world.settings.store)
    assert world.settings.alerts is not None
    channels = build_channels(world.settings.alerts.channels, clock)
    service = AlarmService(
        world.settings, clock, data_dir, recorder, readings=readings, channels=channels
    )
    dispatch = asyncio.create_task(service.dispatcher.run(), name="alarms:dispatch")
    try:
        yield service
    finally:
        await stop(dispatch)
        for channel in channels.values():
            await channel.aclose()
        service.close()
        readings.close()


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        assert isinstance(result, asyncio.CancelledError), result


async def hours(clock: FakeClock, count: float, step_s: float = 600.0) -> None:
    """Move the clock in steps, giving loopback I/O (uploads, robot posts) a moment each."""
    for _ in range(round(count * HOUR / step_s)):
        await clock.advance(step_s)
        await asyncio.sleep(0.001)


@pytest.mark.asyncio
async def test_realtime_upload_right_after_each_dose(world: World, clock: FakeClock) -> None:
    jobs = LedgerJobs(world.book, world.settings, clock, None, NOBODY)
    upload = asyncio.create_task(jobs.upload.run(), name="ledger:upload")
    try:
        await clock.advance(1)
        await wait_until(lambda: bool(world.platform.moved), "the setup's receipts sent")
        assert world.platform.accepted == {}  # no dose queued, none sent
        world.dose(1)  # no clock time passes: the dose itself wakes the task
        await wait_until(lambda: ("d1", 1) in world.platform.accepted, "d1 accepted")
        world.book.vaccinations.correct("d1", reason="部位录错", actor=ACTOR, site_code="2")
        await wait_until(lambda: ("d1", 2) in world.platform.accepted, "the correction sent")
        world.book.stock.receive(code(HEPB, 20), event_id="late", actor=ACTOR)  # no time passes
        await wait_until(lambda: ("late", 1) in world.platform.moved, "the receipt sent at once")
    finally:
        await stop(upload)
    health = jobs.health()
    assert health["queue_length"] == 0
    assert health["last_upload"]["outcome"] == "HTTP 200"
    assert health["upload_failures"] == 0


@pytest.mark.asyncio
async def test_platform_down_three_days(
    world: World, clock: FakeClock, alarms: AlarmService
) -> None:
    world.platform.down = True
    jobs = LedgerJobs(world.book, world.settings, clock, alarms, NOBODY)
    tasks = [
        asyncio.create_task(jobs.upload.run(), name="ledger:upload"),
        asyncio.create_task(jobs.deadline.run(), name="ledger:deadline"),
    ]
    try:
        ids = [world.dose(n) for n in (1, 2, 3)]  # 09:00 local: deadline 09:00 tomorrow
        await hours(clock, 19)
        assert world.notices() == []  # 20 h in, not yet at risk (margin 4 h)
        await hours(clock, 2)
        await wait_until(lambda: len(world.notices()) == 1, "the deadline notice")
        assert "3 条接种个案" in world.notices()[0]
        await hours(clock, 51)  # three days down in all
        health = jobs.health()
        assert health["queue_length"] == 3
        assert health["records_at_risk"] == 3
        assert health["oldest_pending_age_s"] == pytest.approx(72 * HOUR, abs=HOUR)
        assert "HTTP 503" in health["last_upload"]["outcome"]
        assert health["upload_failures"] > 10
        # retried with backoff (30 s doubling to 30 min), not hammered, and not given up
        assert 40 <= world.platform.requests <= 320
        assert len(world.notices()) == 1  # once per record, however long it lasts
        # a restart does not send it again: the marks are in the alarm store
        assert DeadlineWatch(world.book, world.settings, clock, alarms).check() == 0
        world.platform.down = False
        await hours(clock, 1)
        await wait_until(lambda: len(world.platform.accepted) == 3, "the queue to drain")
    finally:
        await stop(*tasks)
    assert sorted(key[0] for key in world.platform.accepted) == ids
    assert queue_stats(world.book.db).pending == 0
    rates = world.book.uploader.rates(START.astimezone(CLINIC_TZ).date())
    assert (rates.records, rates.uploaded, rates.on_time) == (3, 3, 0)
    assert len(world.notices()) == 1


@pytest.mark.asyncio
async def test_batch_mode_waits_for_the_window(
    tmp_path: Path,
    platform: tuple[ProvincialPlatform, str],
    wecom: FakeWecom,
    clock: FakeClock,
) -> None:
    world = make_world(tmp_path, platform, wecom, clock, upload="batch")
    jobs = LedgerJobs(world.book, world.settings, clock, None, NOBODY)
    upload = asyncio.create_task(jobs.upload.run(), name="ledger:upload")
    try:
        world.dose(1)  # 09:00 local
        await hours(clock, 10.9)  # 19:54
        assert world.platform.requests == 0
        await hours(clock, 0.2)  # 20:06: inside the 20:00–05:00 window
        await wait_until(lambda: ("d1", 1) in world.platform.accepted, "the batch upload")
    finally:
        await stop(upload)
        world.book.close()


@pytest.mark.asyncio
async def test_no_alerts_warns_and_shows_in_health(
    world: World, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    world.platform.down = True
    jobs = LedgerJobs(world.book, world.settings, clock, None, NOBODY)
    world.dose(1)
    await clock.advance(21 * HOUR)
    with caplog.at_level(logging.WARNING, logger="gateway.ledgers.tasks"):
        assert jobs.deadline.check() == 0
        jobs.deadline.check()
    warned = [r for r in caplog.records if "no [alerts] section" in r.getMessage()]
    assert len(warned) == 1
    assert "[alerts]" in (jobs.health()["deadline_problem"] or "")


@pytest.mark.asyncio
async def test_daily_tables_and_summary_issue(world: World, clock: FakeClock) -> None:
    day = START.astimezone(CLINIC_TZ).date()
    world.dose(1)
    world.dose(2)
    daily = DailyJobs(world.book, world.ledger, clock, actor="gateway 10001")
    task = asyncio.create_task(daily.run(), name="ledger:daily")
    try:
        await hours(clock, 8)  # 17:00: the clinic day is not over
        assert summary_issues(world) == []
        await hours(clock, 1.5)  # 18:30
        assert summary_issues(world) == [(str(day), 1, 2)]
        world.dose(3)  # 18:30, after the close: a supplementary issue of the same day
        assert summary_issues(world) == [(str(day), 1, 2), (str(day), 2, 1)]
        await hours(clock, 6)  # 00:30 the next day: yesterday's tables
        tables = stored_tables(world.book.db, day)
        assert tables is not None
        assert sum(tables["age_group"].today.values()) == 3
        assert not tables["crowd_category"].zero_report
        await hours(clock, 24)
        following = stored_tables(world.book.db, day + timedelta(days=1))
        assert following is not None
        assert following["age_group"].zero_report
        assert following["age_group"].cumulative == tables["age_group"].cumulative
    finally:
        await stop(task)
    before = world.book.db.conn.execute("SELECT COUNT(*) FROM meta").fetchone()
    DailyJobs(world.book, world.ledger, clock, actor="gateway 10001").catch_up(
        clock.now()
    )  # a restart: nothing done twice
    assert world.book.db.conn.execute("SELECT COUNT(*) FROM meta").fetchone() == before
    assert summary_issues(world) == [
        (str(day), 1, 2), (str(day), 2, 1), (str(day + timedelta(days=1)), 1, 0),
    ]  # fmt: skip


def summary_issues(world: World) -> list[tuple[str, int, int]]:
    """(day, part, doses) of every stored 汇总出库."""
    rows = world.book.db.conn.execute("SELECT day, part, lines FROM summary_issues ORDER BY rowid")
    return [(day, part, sum(n for _, _, n in json.loads(lines))) for day, part, lines in rows]


def test_settings_refusals() -> None:
    url = "http://127.0.0.1:9/upload"
    with pytest.raises(ValidationError, match=r"actors"):  # replaced by [station_accounts]
        LedgerSettings.model_validate({"platform_url": url, "actors": {"nowhere": "王芳"}})
    with pytest.raises(ValidationError, match=r"neither \.csv nor \.json"):
        LedgerSettings.model_validate({"platform_url": url, "catalogue_files": ["a.xlsx"]})
    with pytest.raises(ValidationError):
        LedgerSettings.model_validate({"platform_url": url, "stations": {"x": "issue"}})
    ok = LedgerSettings.model_validate(
        {"platform_url": url, "stations": {"stocktake": "stocktake"}, "upload": "batch"}
    )
    assert not ok.realtime


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return data_dir


def test_start_up_import_is_idempotent_and_survives_a_bad_file(
    folder: Path, clock: FakeClock
) -> None:
    (folder / "shipment.json").write_text(json.dumps(SHIPMENT), encoding="utf-8")
    bad = json.loads(json.dumps(SHIPMENT))
    bad["batches"][0]["batch_no"] = "张三"  # a name in the batch field
    (folder / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    settings = ledger_settings(
        "http://127.0.0.1:9/upload", catalogue_files=["shipment.json", "bad.json", "gone.csv"]
    )
    for _ in range(2):
        book = open_configured(settings, folder, clock, unit_code="6101030203")
        try:
            counts = book.db.conn.execute(
                "SELECT (SELECT COUNT(*) FROM products), (SELECT COUNT(*) FROM trace_codes)"
            ).fetchone()
            assert counts == (2, 31)
            problems = book.catalogue_problems
            assert [p.split(":")[0] for p in problems] == [
                str(folder / "bad.json"),
                str(folder / "gone.csv"),
            ]
            assert "batch_no" in problems[0]
        finally:
            book.close()
