"""Upload queues: every dose record version reaches the provincial platform within 24 h, and
every circulation message (receipt, issue, return, scrap: `ledger.circulation_xml`) with it.

The queue lives in the ledger file (`gateway.storage.ledger.upload_queue`: one row per record
version, written with the version).
`Uploader.send_due` picks what may go now: everything in real-time mode, only inside the
20:00–05:00 batch window otherwise (local time, seed 000), plus anything close to its deadline
whatever the mode. A batch is built, validated against the XSD, POSTed; the platform answers
per record (JSON ``{"results": [{"record_id", "version", "ok", "error"}]}``); accepted records
are marked, rejected ones carry the message and its kind (reference/upload_errors.csv) until a
correction (a new version) is queued. A platform that is down leaves everything pending:
nothing is lost, and `deadline_alarms` names the records whose 24 h run out.

Circulation messages go in the same rounds (one document per kind, each validated against its
own XSD) and are answered the same way. The platform also gives verdicts later (checks it makes
after the POST): `fetch_feedback` reads them from its feedback endpoint after a cursor kept in
the ledger file and applies them to both queues; a rejected message is corrected as a new
version (`correct_circulation`), which the next round sends.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import aiohttp

from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.storage.ledger.circulation_queue import CirculationQueue, Rejected
from gateway.storage.ledger.db import LedgerDB
from gateway.storage.ledger.queries import read_meta, write_meta
from gateway.storage.ledger.upload_queue import Answer, UploadQueue
from ledger import circulation_xml
from ledger.circulation_xml import CirculationEvent
from ledger.errors import (
    CirculationUnknownError,
    PlatformAnswerError,
    PlatformUnreachableError,
)
from ledger.upload_xml import build_validated

META_FEEDBACK_AFTER = "platform_feedback_after"
DOSE_MESSAGE = "dose"

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
        feedback_url: str | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.queue = UploadQueue(db)
        self.circulation = CirculationQueue(db)
        self.clock = clock
        self.url = url
        self.feedback_url = feedback_url or f"{url.rsplit('/', 1)[0]}/feedback"
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
        rounds: list[Callable[[], Awaitable[SendOutcome]]] = [
            functools.partial(self._send, session, due[n : n + BATCH_SIZE])
            for n in range(0, len(due), BATCH_SIZE)
        ]
        if not urgent_only:
            moved = self.circulation.pending()
            for kind in circulation_xml.KINDS:
                of_kind = [event for event in moved if event.kind == kind]
                rounds += [
                    functools.partial(
                        self._send_circulation, session, kind, of_kind[n : n + BATCH_SIZE]
                    )
                    for n in range(0, len(of_kind), BATCH_SIZE)
                ]
        totals = SendOutcome(0, 0, 0, platform_down=False)
        for next_round in rounds:
            outcome = await next_round()
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
        answer = await self._post(session, document, len(keys))
        if isinstance(answer, SendOutcome):
            return answer
        status, body = answer
        accepted, rejected = self.queue.answered(
            self.clock.now(), f"HTTP {status}", keys, _feedback(body, status)
        )
        return SendOutcome(len(keys), accepted, rejected, platform_down=False)

    async def _send_circulation(
        self, session: aiohttp.ClientSession, kind: str, events: list[CirculationEvent]
    ) -> SendOutcome:
        document = circulation_xml.build_validated(kind, events)
        answer = await self._post(session, document, len(events))
        if isinstance(answer, SendOutcome):
            return answer
        status, body = answer
        now = self.clock.now()
        self.queue.attempted(now, len(events), f"HTTP {status}")
        sent = {(event.event_id, event.version) for event in events}
        answers = [a for a in _feedback(body, status) if (a.record_id, a.version) in sent]
        accepted, rejected = self.circulation.answered(now, answers)
        return SendOutcome(len(events), accepted, rejected, platform_down=False)

    async def _post(
        self, session: aiohttp.ClientSession, document: bytes, count: int
    ) -> tuple[int, bytes] | SendOutcome:
        """(status, body) of the platform's answer, or the outcome of a platform down."""
        try:
            async with session.post(
                self.url, data=document, timeout=self.timeout,
                headers={"Content-Type": "application/xml; charset=utf-8"},
            ) as response:  # fmt: skip
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._down(count, f"platform unreachable: {error!r}")
        if status >= 500:
            return self._down(count, f"platform answered HTTP {status}")
        return status, body

    async def fetch_feedback(self, session: aiohttp.ClientSession) -> tuple[int, int]:
        """Apply the platform's later verdicts (after the stored cursor) to both queues;
        returns (accepted, rejected). UploadError when the platform cannot be asked."""
        after = read_meta(self.db, META_FEEDBACK_AFTER) or "0"
        try:
            async with session.get(
                self.feedback_url, params={"after": after}, timeout=self.timeout
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise PlatformUnreachableError("feedback", f"platform unreachable: {error!r}") from None
        if status != 200:
            raise PlatformAnswerError(
                "feedback", f"the platform answered HTTP {status}", params={"status": status}
            )
        items, cursor = _fetched(body, after)
        now = self.clock.now()
        doses = [answer for message, answer in items if message == DOSE_MESSAGE]
        moved = [answer for message, answer in items if message != DOSE_MESSAGE]
        counted = (self.queue.feedback(now, doses), self.circulation.answered(now, moved))
        write_meta(self.db, {META_FEEDBACK_AFTER: cursor})
        return counted[0][0] + counted[1][0], counted[0][1] + counted[1][1]

    def circulation_rejections(self) -> list[Rejected]:
        """Circulation messages the platform refused, not corrected yet."""
        return self.circulation.rejections()

    def correct_circulation(
        self, event_id: str, *, to_unit: str | None = None, reason_code: str | None = None
    ) -> CirculationEvent:
        """Queue the corrected version of a rejected circulation message (None: unchanged;
        nothing changed at all: sent again as it was, e.g. after the platform fixed its
        dictionary)."""
        found = self.circulation.latest(event_id)
        if found is None:
            raise CirculationUnknownError(
                "event_id", f"{event_id} is no circulation message", params={"event_id": event_id}
            )
        corrected = found[0].corrected(to_unit=to_unit, reason_code=reason_code)
        self.circulation.correct(corrected, self.clock.now())
        return corrected

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


def _fetched(body: bytes, after: str) -> tuple[list[tuple[str, Answer]], str]:
    """(message kind, verdict) of each feedback item, and the cursor after the last one."""
    try:
        data = json.loads(body)
        items = [
            (str(item["message"]), Answer(str(item["record_id"]), int(item["version"]),
                                          bool(item["ok"]), str(item.get("error", ""))))
            for item in data["feedback"]
        ]  # fmt: skip
        cursor = str(data.get("cursor", after))
    except (ValueError, KeyError, TypeError) as error:
        raise PlatformAnswerError("feedback", f"unreadable feedback: {error}") from None
    return items, cursor


def _feedback(body: bytes, status: int) -> list[Answer]:
    try:
        data = json.loads(body)
        results = data["results"]
        return [
            Answer(str(r["record_id"]), int(r["version"]), bool(r["ok"]), str(r.get("error", "")))
            for r in results
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise PlatformAnswerError(
            "feedback", f"HTTP {status}, unreadable answer: {error}", params={"status": status}
        ) from None
