"""Upload queue: every record version reaches the provincial platform within 24 h.

The queue lives in ``upload_queue`` (one row per record version, written with the version).
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
from gateway.storage.ledger.db import LedgerDB, from_ms, to_ms
from ledger.errors import UploadError
from ledger.tables import rejection_kind
from ledger.upload_xml import build_validated
from ledger.vaccination_records import record_from_json

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
        self.clock = clock
        self.url = url
        self.realtime = realtime
        self.alarm_margin = alarm_margin
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def pending(self, *, urgent_only: bool = False) -> list[tuple[str, int]]:
        """Queued versions to send now (oldest first); a superseded version is not sent."""
        now = self.clock.now()
        cutoff = to_ms(now - DEADLINE + self.alarm_margin) if urgent_only else None
        with self.db.translated("read queue"):
            rows = self.db.conn.execute(
                "SELECT record_id, version, vaccinated_ms FROM upload_queue q WHERE state ="
                " 'pending' AND version = (SELECT MAX(version) FROM upload_queue r WHERE"
                " r.record_id = q.record_id) ORDER BY vaccinated_ms, record_id"
            ).fetchall()
        return [(r, v) for r, v, ms in rows if cutoff is None or ms <= cutoff]

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
        with self.db.translated("read records"):
            records = [
                record_from_json(self.db.conn.execute(
                    "SELECT body FROM record_versions WHERE record_id = ? AND version = ?", key
                ).fetchone()[0])
                for key in keys
            ]  # fmt: skip
        document = build_validated(records)
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
        results = _feedback(body, status)
        accepted = rejected = 0
        with self.db.transaction("mark uploads") as conn:
            now_ms = to_ms(self.clock.now())
            conn.execute(
                "INSERT INTO upload_attempts (at_ms, records, outcome) VALUES (?, ?, ?)",
                (now_ms, len(keys), f"HTTP {status}"),
            )
            for record_id, version, ok, message in results:
                if (record_id, version) not in keys:
                    continue
                if ok:
                    accepted += 1
                    conn.execute(
                        "UPDATE upload_queue SET state = 'accepted', attempts = attempts + 1,"
                        " accepted_ms = ?, error = '', error_kind = '' WHERE record_id = ? AND"
                        " version = ?", (now_ms, record_id, version),
                    )  # fmt: skip
                else:
                    rejected += 1
                    conn.execute(
                        "UPDATE upload_queue SET state = 'rejected', attempts = attempts + 1,"
                        " error = ?, error_kind = ? WHERE record_id = ? AND version = ?",
                        (message, rejection_kind(message), record_id, version),
                    )
        return SendOutcome(len(keys), accepted, rejected, platform_down=False)

    def _down(self, count: int, detail: str) -> SendOutcome:
        with self.db.transaction("note attempt") as conn:
            conn.execute(
                "INSERT INTO upload_attempts (at_ms, records, outcome) VALUES (?, ?, ?)",
                (to_ms(self.clock.now()), count, detail),
            )
        return SendOutcome(count, 0, 0, platform_down=True, detail=detail)

    def rejections(self) -> list[tuple[str, int, str, str]]:
        """(record_id, version, message, kind) of rejected versions not yet corrected."""
        with self.db.translated("read queue"):
            return [tuple(row) for row in self.db.conn.execute(
                "SELECT record_id, version, error, error_kind FROM upload_queue q WHERE state ="
                " 'rejected' AND version = (SELECT MAX(version) FROM upload_queue r WHERE"
                " r.record_id = q.record_id) ORDER BY record_id"
            )]  # fmt: skip

    def deadline_alarms(self) -> list[DeadlineAlarm]:
        """Records not accepted whose 24 h deadline is within `alarm_margin` (or past)."""
        now = self.clock.now()
        with self.db.translated("read queue"):
            rows = self.db.conn.execute(
                "SELECT record_id, version, vaccinated_ms, state, error FROM upload_queue q"
                " WHERE state != 'accepted' AND version = (SELECT MAX(version) FROM upload_queue"
                " r WHERE r.record_id = q.record_id) AND vaccinated_ms <= ?"
                " ORDER BY vaccinated_ms",
                (to_ms(now - DEADLINE + self.alarm_margin),),
            ).fetchall()
        return [DeadlineAlarm(r, v, from_ms(ms) + DEADLINE, s, e) for r, v, ms, s, e in rows]

    def rates(self, day: date) -> DayRates:
        """Per vaccination day: records, uploaded (latest version accepted), on time (≤ 24 h)."""
        start = datetime.combine(day, time(), CLINIC_TZ)
        with self.db.translated("read rates"):
            rows = self.db.conn.execute(
                "SELECT vaccinated_ms, MIN(accepted_ms) FROM upload_queue WHERE"
                " vaccinated_ms >= ? AND vaccinated_ms < ? GROUP BY record_id",
                (to_ms(start), to_ms(start + timedelta(days=1))),
            ).fetchall()
        day_ms = DEADLINE // timedelta(milliseconds=1)
        uploaded = sum(1 for _, acc in rows if acc is not None)
        on_time = sum(1 for ms, acc in rows if acc is not None and acc - ms <= day_ms)
        return DayRates(day, len(rows), uploaded, on_time)


def _feedback(body: bytes, status: int) -> list[tuple[str, int, bool, str]]:
    try:
        data = json.loads(body)
        results = data["results"]
        return [
            (str(r["record_id"]), int(r["version"]), bool(r["ok"]), str(r.get("error", "")))
            for r in results
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise UploadError("feedback", f"HTTP {status}, unreadable answer: {error}") from None
