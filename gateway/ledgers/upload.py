"""Upload queue: every record version reaches the provincial platform within 24 h.

The queue lives in the ledger file (`gateway.storage.ledger.upload_queue`: one row per record
version, written with the version).
`Uploader.send_due` picks what may go now: everything in real-time mode, only inside the
20:00–05:00 batch window otherwise (local time, seed 000), plus anything close to its deadline
whatever the mode. A batch is built, validated against the XSD, POSTed; the platform answers
per record (JSON ``{"results": [{"record_id", "version", "ok", "error"}]}``); accepted records
are marked, rejected ones carry the message and its kind (reference/upload_errors.csv) until a
correction (a new version) is queued. A platform that is down leaves everything pending:
nothing is lost, and `deadline_alarms` names the records whose 24 h run out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import aiohttp

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.upload_queue import Answer, UploadQueue
from ledger.errors import UploadError
from ledger.upload_xml import build_validated

DEADLINE = timedelta(hours=24)
WINDOW_START, WINDOW_END = time(20, 0), time(5, 0)
BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class SendOutcome:
    sent: int
    accepted: int
    rejected: int
    platform_down: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeadlineAlarm:
    """For the vaccine manager: this record's 24 h run out at `deadline`."""

    record_id: str
    version: int
    deadline: datetime
    state: str
    error: str


@dataclass(frozen=True, slots=True)
class DayRates:
    day: date
    records: int
    uploaded: int
    on_time: int

    @property
    def upload_rate(self) -> float:
        return self.uploaded / self.records if self.records else 1.0

    @property
    def timeliness_rate(self) -> float:
        return self.on_time / self.records if self.records else 1.0


def in_batch_window(now: datetime) -> bool:
    local = now.astimezone(CLINIC_TZ).time()
    return local >= WINDOW_START or local < WINDOW_END


class Uploader:
    def __init__(
        self, db: LedgerDB, clock: Clock, url: str, *, realtime: bool = True,
        alarm_margin: timedelta = timedelta(hours=4), timeout_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.db = db
        self.queue = UploadQueue(db)
        self.clock = clock
        self.url = url
        self.realtime = realtime
        self.alarm_margin = alarm_margin
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def pending(self, *, urgent_only: bool = False) -> list[tuple[str, int]]:
        """Queued versions to send now (oldest first); a superseded version is not sent."""
        cutoff = self.clock.now() - DEADLINE + self.alarm_margin if urgent_only else None
        return [
            (item.record_id, item.version)
            for item in self.queue.pending()
            if cutoff is None or item.vaccinated_at <= cutoff
        ]

    async def send_due(self, session: aiohttp.ClientSession) -> SendOutcome:
        now = self.clock.now()
        urgent_only = not (self.realtime or in_batch_window(now))
        due = self.pending(urgent_only=urgent_only)
        totals = SendOutcome(0, 0, 0, platform_down=False)
        for start in range(0, len(due), BATCH_SIZE):
            outcome = await self._send(session, due[start : start + BATCH_SIZE])
            totals = SendOutcome(
                totals.sent + outcome.sent, totals.accepted + outcome.accepted,
                totals.rejected + outcome.rejected, outcome.platform_down, outcome.detail,
            )  # fmt: skip
            if outcome.platform_down:
                break
        return totals

    async def _send(
        self, session: aiohttp.ClientSession, keys: list[tuple[str, int]]
    ) -> SendOutcome:
        document = build_validated(self.queue.records(keys))
        try:
            async with session.post(
                self.url, data=document, timeout=self.timeout,
                headers={"Content-Type": "application/xml; charset=utf-8"},
            ) as response:  # fmt: skip
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._down(len(keys), f"platform unreachable: {error!r}")
        if status >= 500:
            return self._down(len(keys), f"platform answered HTTP {status}")
        accepted, rejected = self.queue.answered(
            self.clock.now(), f"HTTP {status}", keys, _feedback(body, status)
        )
        return SendOutcome(len(keys), accepted, rejected, platform_down=False)

    def _down(self, count: int, detail: str) -> SendOutcome:
        self.queue.attempted(self.clock.now(), count, detail)
        return SendOutcome(count, 0, 0, platform_down=True, detail=detail)

    def rejections(self) -> list[tuple[str, int, str, str]]:
        """(record_id, version, message, kind) of rejected versions not yet corrected."""
        return self.queue.rejections()

    def deadline_alarms(self) -> list[DeadlineAlarm]:
        """Records not accepted whose 24 h deadline is within `alarm_margin` (or past)."""
        due = self.queue.unaccepted_since(self.clock.now() - DEADLINE + self.alarm_margin)
        return [
            DeadlineAlarm(
                item.record_id, item.version, item.vaccinated_at + DEADLINE, item.state, item.error
            )
            for item in due
        ]

    def rates(self, day: date) -> DayRates:
        """Per vaccination day: records, uploaded (latest version accepted), on time (≤ 24 h)."""
        start = datetime.combine(day, time(), CLINIC_TZ)
        rows = self.queue.vaccinated_between(start, start + timedelta(days=1))
        uploaded = sum(1 for _, accepted in rows if accepted is not None)
        on_time = sum(
            1 for given, accepted in rows if accepted is not None and accepted - given <= DEADLINE
        )
        return DayRates(day, len(rows), uploaded, on_time)


def _feedback(body: bytes, status: int) -> list[Answer]:
    try:
        data = json.loads(body)
        results = data["results"]
        return [
            Answer(str(r["record_id"]), int(r["version"]), bool(r["ok"]), str(r.get("error", "")))
            for r in results
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise UploadError("feedback", f"HTTP {status}, unreadable answer: {error}") from None
