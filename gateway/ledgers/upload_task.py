"""``ledger:upload``: the upload queue sent to the provincial platform, retried with backoff
while the platform is down; see `gateway.ledgers.tasks`."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

import aiohttp

from gateway.core.backoff import Backoff
from gateway.core.cancelling import first_of
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.clock import Clock
from gateway.ledgers.book import LedgerBook
from gateway.ledgers.upload import WINDOW_START
from ledger.errors import LedgerError
from ledger.settings import LedgerSettings

log = logging.getLogger(__name__)


class UploadTask:
    """Sends due records; backs off while the platform is down."""

    def __init__(self, book: LedgerBook, settings: LedgerSettings, clock: Clock) -> None:
        self.book = book
        self.settings = settings
        self.clock = clock
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self.last_error: str | None = None
        self.feedback_error: str | None = None
        self.failures = 0
        self.next_attempt_at: datetime | None = None

    def _headers(self) -> dict[str, str]:
        token = self.settings.platform_token
        return {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}

    async def run(self) -> None:
        async with aiohttp.ClientSession(headers=self._headers()) as session:
            while True:
                self.book.queued.clear()
                healthy = await self.attempt(session)
                now = self.clock.now()
                wait_s = self._idle_wait(now) if healthy else self.backoff.next_delay()
                self.next_attempt_at = now + timedelta(seconds=wait_s)
                if healthy and self.settings.realtime:  # a dose queued is sent at once
                    await first_of(self.clock.sleep(wait_s), self.book.queued.wait())
                else:
                    await self.clock.sleep(wait_s)

    async def attempt(self, session: aiohttp.ClientSession) -> bool:
        """One round of `send_due`; False when the platform is down (or the round failed)."""
        try:
            outcome = await self.book.uploader.send_due(session)
        except LedgerError as error:
            self.failures += 1
            self.last_error = str(error)
            log.warning("upload round failed, will retry: %s", error)
            return False
        if outcome.platform_down:
            self.failures += 1
            self.last_error = outcome.detail
            if self.failures == 1:
                log.warning("provincial platform down, records stay queued: %s", outcome.detail)
            return False
        if self.failures:
            log.info("provincial platform reachable again after %d failure(s)", self.failures)
        self.failures = 0
        self.last_error = None
        self.backoff.reset()
        if outcome.sent:
            log.info(
                "upload: %d record(s) sent, %d accepted, %d rejected",
                outcome.sent,
                outcome.accepted,
                outcome.rejected,
            )
        await self._fetch_feedback(session)
        return True

    async def _fetch_feedback(self, session: aiohttp.ClientSession) -> None:
        """The platform's later verdicts; a failure is logged once and tried next round."""
        try:
            accepted, rejected = await self.book.uploader.fetch_feedback(session)
        except LedgerError as error:
            if self.feedback_error is None:
                log.warning("platform feedback not fetched, will retry: %s", error)
            self.feedback_error = str(error)
            return
        self.feedback_error = None
        if accepted or rejected:
            log.info("platform feedback: %d accepted, %d rejected", accepted, rejected)

    def _idle_wait(self, now: datetime) -> float:
        if self.settings.realtime:
            return self.settings.poll_s
        return min(self.settings.poll_s, _until_local(now, WINDOW_START))


def _until_local(now: datetime, at: time) -> float:
    """Seconds from `now` to the next local (China) time of day `at` (a minute at least)."""
    local = now.astimezone(CLINIC_TZ)
    target = datetime.combine(local.date(), at, CLINIC_TZ)
    if target <= local:
        target += timedelta(days=1)
    return max((target - local).total_seconds(), 60.0)
