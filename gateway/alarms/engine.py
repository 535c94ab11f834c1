"""`AlarmService`: alarms on the gateway, as one named task of the supervisor.

`run()` loads the persisted state (restart in the middle of an escalation), reports a power gap
from the heartbeat, then runs four named tasks in its own TaskGroup:
- `alarms:readings` evaluates committed readings. The recorder's subscriber callback only puts
  the batch on a bounded queue (it never blocks the recorder). If the queue is full the batch
  is not kept, and the consumer catches up from the readings store by seq from its cursor: the
  store is the truth, so an overflow delays evaluation but loses no reading (every reading is
  evaluated in order, the newest included). Overflows are counted in `health()` and logged.
- `alarms:ticks` every `tick_s` of clock time (and exactly when a tier or reminder is due):
  offline checks, link alarms from the bus drivers' health, the escalation's timers, and the
  heartbeat (power-gap detection at the next start).
- `alarms:dispatch` sends due outbox rows (`dispatcher.Dispatcher`).
- `alarms:digest` queues the daily digest (`digest.DigestJob`).
Operator events (ack, close, silence) come from the web handlers through the methods below;
each is one synchronous step on the event loop, so it never interleaves with another step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.ack_links import AckClaim, verify
from alerts.channels import build_channels
from alerts.channels.base import Channel
from alerts.errors import SilenceScopeError, UnknownSilenceError
from alerts.escalation_state import (
    Acknowledge,
    Alarm,
    Close,
    EndSilence,
    Silence,
    StartSilence,
    Transition,
)
from alerts.model import ChannelKind
from gateway.alarms import views
from gateway.alarms.core import AlarmCore, alerts_of
from gateway.alarms.digest import DigestJob
from gateway.alarms.dispatcher import Dispatcher
from gateway.alarms.feeds import BusDriver, ReadingFeed, ReadingLog, rules_of
from gateway.alarms.links import LinkHealth, LinkWatch
from gateway.alarms.notices import DosesAtRisk
from gateway.auth.policy import Action, User, authorize
from gateway.core.clock import Clock
from gateway.core.closing import Closing
from gateway.core.compartments import compartment_refs
from gateway.core.errors import StoreError
from gateway.settings import Settings
from gateway.storage.alarms import AlarmStore
from gateway.storage.readings import StoredReading
from gateway.storage.registry import ALARMS

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 1000


class AlarmService(Closing):
    """Rules, escalation, outbox delivery and the digest for one gateway.

    Open it (`with AlarmService(...) as alarms`) next to the readings store; `run()` is the
    supervisor's task; the web handlers call `acknowledge`, `close`, `silence`, `view`.
    `channels` replaces the configured channels (tests, bench); the service closes them.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        data_dir: Path,
        recorder: ReadingFeed,
        links: Callable[[], Iterable[BusDriver]] = tuple,
        *,
        readings: ReadingLog,
        channels: Mapping[ChannelKind, Channel] | None = None,
        tick_s: float = 30.0,
        queue_batches: int = 256,
        link_hold_off_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.alerts = alerts_of(settings)
        self.clock = clock
        self.store = AlarmStore(data_dir / ALARMS.file, synchronous=settings.store.synchronous)
        self.core = AlarmCore(settings, self.store)
        self._feed = recorder
        self._log = readings
        self._links_of = links
        self._channels = (
            dict(channels) if channels is not None else build_channels(self.alerts.channels, clock)
        )
        self.dispatcher = Dispatcher(self.store, self._channels, self.alerts, clock, rng)
        self.digest = DigestJob(settings, self.alerts, self.store, clock, self.dispatcher.wake)
        self._links_hold_off = link_hold_off_s
        self._links = LinkWatch(link_hold_off_s)
        self._tick_s = tick_s
        self._queue: asyncio.Queue[Sequence[StoredReading]] = asyncio.Queue(queue_batches)
        self._catch_up = asyncio.Event()
        self._retry = False
        self.started = False
        self.last_tick: datetime | None = None
        self.overflows = 0
        self.catch_ups = 0
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def reconfigure(self, settings: Settings) -> None:
        """Take the rules and the digest's places of `settings` in one step of the event loop
        (a hot reload); the links watched are those of the buses running at each tick.

        Rule states live in the alarm store (every step is committed there), so a new core
        started from the store carries them on; new compartments start in their grace period.
        Tasks, channels and the queue of readings are not touched.
        """
        if rules_of(settings) != rules_of(self.settings):
            core = AlarmCore(settings, self.store)
            core.doses_at_risk = self.core.doses_at_risk
            if self.started:
                core.start(self.clock.now(), self.core.evaluated_seq)
            self.core = core
        self.settings = settings
        self.digest.settings = settings

    def close(self) -> None:
        self.store.close()

    async def run(self) -> None:
        """Until cancelled. Channels are closed on the way out; pending rows stay queued."""
        unsubscribe = self._feed.subscribe(self._on_batch)
        try:
            self.core.start(self.clock.now(), self._log.last_seq())
            self._links = LinkWatch(self._links_hold_off, self.core.open_link_alarms())
            self.started = True
            self._catch_up.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume(), name="alarms:readings")
                group.create_task(self._ticks(), name="alarms:ticks")
                group.create_task(self.dispatcher.run(), name="alarms:dispatch")
                group.create_task(self.digest.run(), name="alarms:digest")
        finally:
            unsubscribe()
            self.started = False
            for channel in self._channels.values():
                await channel.aclose()

    # -- readings --------------------------------------------------------------------------

    def _on_batch(self, batch: Sequence[StoredReading]) -> None:
        """The recorder's callback: never blocks; a full queue turns into a catch-up."""
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            if not self._catch_up.is_set():
                log.warning(
                    "alarm queue full (%d batches): evaluating from the readings store instead",
                    self._queue.maxsize,
                )
            self.overflows += 1
            self._catch_up.set()

    async def _consume(self) -> None:
        while True:
            if self._catch_up.is_set():
                await self._catch_up_from_store()
                continue
            getter = asyncio.ensure_future(self._queue.get())
            signal = asyncio.ensure_future(self._catch_up.wait())
            try:
                await asyncio.wait((getter, signal), return_when=asyncio.FIRST_COMPLETED)
            finally:
                signal.cancel()
                if not getter.done():
                    getter.cancel()
                await asyncio.gather(getter, signal, return_exceptions=True)
            if getter.done() and not getter.cancelled():
                self._evaluate(getter.result())

    async def _catch_up_from_store(self) -> None:
        self._catch_up.clear()
        self.catch_ups += 1
        await asyncio.sleep(0)
        while True:
            rows = self._log.readings_after(self.core.evaluated_seq, CATCH_UP_CHUNK)
            if not rows or not self._evaluate(rows):
                return
            # Queued batches this covered are skipped by seq when they come up.
            await asyncio.sleep(0)
            if len(rows) < CATCH_UP_CHUNK:
                return

    def _evaluate(self, batch: Sequence[StoredReading]) -> bool:
        """Run the rules on a batch; False when it could not be persisted (retried later)."""
        if batch and batch[0].seq > self.core.evaluated_seq + 1:
            # A gap: batches were dropped (overflow) or not persisted; read them back first.
            missing = self._log.readings_after(
                self.core.evaluated_seq, batch[0].seq - self.core.evaluated_seq - 1
            )
            batch = [*missing, *batch]
        now = self.clock.now()
        try:
            self._observe_links(now)
            created = self.core.on_readings(batch, now)
        except StoreError as error:
            self._failed(error)
            return False
        self.last_error = None
        if created:
            self.dispatcher.wake()
        return True

    # -- time ------------------------------------------------------------------------------

    async def _ticks(self) -> None:
        while True:
            now = self.clock.now()
            self.tick(now)
            wait_s = self._tick_s
            due = self.core.next_due()
            if due is not None:
                wait_s = min(wait_s, max((due - now).total_seconds(), 1.0))
            await self.clock.sleep(wait_s)

    def tick(self, now: datetime) -> None:
        """One tick: offline checks, links, escalation timers, heartbeat."""
        try:
            links = self._links.observe(self._buses(), now)
            created = self.core.on_tick(now, links)
        except StoreError as error:
            self._failed(error)
            return
        self.last_tick = now
        self.last_error = None
        if self._retry:
            self._retry = False
            self._catch_up.set()
        if created:
            self.dispatcher.wake()

    def _observe_links(self, now: datetime) -> None:
        links = self._links.observe(self._buses(), now)
        if links and self.core.on_tick(now, links):
            self.dispatcher.wake()

    def _buses(self) -> dict[str, LinkHealth]:
        return {driver.name: driver.health for driver in self._links_of()}

    def _failed(self, error: StoreError) -> None:
        if self.last_error is None:
            log.error("alarm step not applied, will be retried: %s", error)
        self.last_error = str(error)
        # What was not persisted is evaluated again, not at once (the disk needs a moment):
        # readings from the cursor with the next batch (a seq gap) or tick, links anew.
        self._links = LinkWatch(self._links_hold_off, self.core.open_link_alarms())
        self._retry = True

    def count_doses_with(self, doses_at_risk: DosesAtRisk) -> None:
        """From now on, temperature alarm messages name the doses in the compartment."""
        self.core.doses_at_risk = doses_at_risk

    # -- operator events -------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """An alarm id from its number (`12`) or its full id."""
        row = self.store.alarm(ref) if ref.isdigit() else None
        return row.id if row is not None else ref

    def acknowledge(
        self, ref: str, person: str, how: str, unit: str | None = None
    ) -> list[Transition]:
        event = Acknowledge(self.resolve(ref), unit or self.settings.unit.code, person, how)
        return self._apply(event)

    def acknowledge_presence(self, fridge: str, person: str, how: str) -> list[Transition]:
        """Someone is at this fridge (its own label was just scanned): `person`, the alarm
        person of the account the scan acted for, acknowledges each of its open alarms, with
        `how` naming the scanner and station."""
        transitions: list[Transition] = []
        for alarm in list(self.core.escalation.alarms.values()):
            if alarm.condition.subject.partition("/")[0] == fridge:
                transitions += self.acknowledge(alarm.id, person, how)
        return transitions

    def read_link(self, token: str) -> tuple[AckClaim, Alarm | None]:
        """What a signed link is for, without acting: its claim and the alarm while it is
        open (None once closed or unknown). Raises AckLinkError."""
        secret = self.alerts.ack.secret.get_secret_value()
        claim = verify(token, secret, self.clock.now())
        return claim, self.core.escalation.alarms.get(claim.alarm_id)

    def acknowledge_link(self, token: str) -> tuple[AckClaim, list[Transition]]:
        """Verify a signed link and acknowledge; raises AckLinkError or RejectedEventError."""
        secret = self.alerts.ack.secret.get_secret_value()
        claim = verify(token, secret, self.clock.now())
        event = Acknowledge(claim.alarm_id, claim.unit, claim.person, "link")
        return claim, self._apply(event)

    def close_alarm(
        self, ref: str, person: str, cause: str, action: str, unit: str | None = None
    ) -> list[Transition]:
        event = Close(self.resolve(ref), unit or self.settings.unit.code, person, cause, action)
        return self._apply(event)

    def silence(
        self, user: User, why: str, until: datetime, scope: str | None = None
    ) -> list[Transition]:
        """Silence a compartment (`F1/冷藏`), a fridge (`F1`) or, with `scope` None, the whole
        unit (a tier account only); raises ForbiddenError or RejectedEventError."""
        self._authorize_silence(user, scope)
        self._check_scope(scope)
        return self._apply(StartSilence(user.person or user.name, why, until, scope))

    def end_silence(self, user: User, no: int) -> list[Transition]:
        """End running silence number `no` early, as `user` (who may start one like it)."""
        silence = next((s for s in self.core.escalation.silences if s.no == no), None)
        if silence is None:
            raise UnknownSilenceError(
                f"no running silence #{no}; fix: list them with GET /api/alarms"
            )
        self._authorize_silence(user, silence.scope)
        return self._apply(EndSilence(no, user.person or user.name))

    def silences(self) -> tuple[Silence, ...]:
        return self.core.escalation.silences

    @staticmethod
    def _authorize_silence(user: User, scope: str | None) -> None:
        authorize(user, Action.ALARM_SILENCE if scope is not None else Action.ALARM_SILENCE_UNIT)

    def _check_scope(self, scope: str | None) -> None:
        if scope is None:
            return
        scopes = [fridge.code for fridge in self.settings.fridges]
        scopes += compartment_refs(self.settings.fridges)
        if scope not in scopes:
            known = ", ".join(scopes) or "none configured"
            raise SilenceScopeError(
                f"scope {scope!r} is no fridge or compartment of this unit; fix: use one of "
                f"{known}, or leave it out to silence the whole unit"
            )

    def _apply(self, event: Acknowledge | Close | StartSilence | EndSilence) -> list[Transition]:
        transitions = self.core.apply(event, self.clock.now())
        self.dispatcher.wake()
        return transitions

    # -- views -----------------------------------------------------------------------------

    def view(self, recent: int = 50) -> dict[str, Any]:
        """Open alarms first, then recently closed ones, each with its timeline."""
        return views.alarms_view(self.core, self.settings, recent)

    def health(self) -> dict[str, Any]:
        counts = self.store.outbox_counts()
        state = self.core.escalation
        return {
            "running": self.started,
            "open_alarms": len(state.alarms),
            "active_alarms": sum(1 for a in state.alarms.values() if a.active),
            "suppressed_alarms": sum(1 for a in state.alarms.values() if a.suppressed_by),
            "silences": len(state.silences),
            "outbox_pending": counts["pending"],
            "outbox_failed": counts["failed"],
            "outbox_expired": counts["expired"],
            "outbox_delivered": counts["delivered"],
            "outbox_superseded": counts["superseded"],
            "last_tick": views.iso(self.last_tick),
            "evaluated_seq": self.core.evaluated_seq,
            "queue_depth": self._queue.qsize(),
            "queue_overflows": self.overflows,
            "catch_ups": self.catch_ups,
            "links_down": self._links.down,
            "next_digest": views.iso(self.digest.next_due),
            "last_error": self.last_error or self.dispatcher.last_error,
        }
