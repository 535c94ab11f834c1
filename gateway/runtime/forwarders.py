"""The forwarders and their event lanes as services, opened only when the configuration names
their server (memory on a Pi: the InfluxDB and MQTT clients are imported then, not before).

All of them share one `Identity`: a reload places the probes anew in it, so the next points,
alarm and exposure events carry the new fridge and compartment of a probe that was moved.
Each server also gets the daily figures (`gateway.forward.daily_figures`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.core.clock import Clock
from gateway.forward.pump import Pump
from gateway.forward.tags import Identity
from gateway.readings.recorder import Recorder
from gateway.runtime.service import Job, Service, Stage, Work
from gateway.settings import Settings
from gateway.storage.readings import ReadingStore

if TYPE_CHECKING:
    from analysis.metrics import Limits
    from gateway.alarms.engine import AlarmService
    from gateway.forward.alarm_events import AlarmEvent, AlarmEventLane
    from gateway.forward.daily_figures import Daily, DailyFiguresLane
    from gateway.forward.event_lane import EventLane
    from gateway.forward.exposure_events import ExposureEvent
    from gateway.forward.mqtt import Command, MqttForwarder
    from gateway.ledgers.excursion_service import ExcursionService

log = logging.getLogger(__name__)

#: Seconds a clean stop waits for healthy forwarders to send the last committed readings.
DRAIN_S = 2.0


class Forwarding(Service):
    """One forwarder's pump (and, for MQTT, its broker connection)."""

    stage = Stage.FORWARDERS

    def __init__(self, pump: Pump, identity: Identity, mqtt: MqttForwarder | None = None):
        self.name = f"forward-{pump.name}"
        self.pump = pump
        self.identity = identity
        self._mqtt = mqtt

    def run(self) -> Work:
        return self.pump.run() if self._mqtt is None else self._mqtt.run()

    def health(self) -> object:
        return self.pump.stats()

    async def reconfigure(self, settings: Settings) -> None:
        self.identity.place(settings)

    async def settle(self) -> None:
        """A forwarder that is keeping up gets a moment to send the last committed readings;
        one in trouble (failures, server down) is not waited for: what it has not sent stays
        in the store and goes at the next start. Real seconds: this is part of the process's
        own stop budget."""
        if self.pump.stats().failures:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                while self.pump.stats().backlog:  # noqa: ASYNC110 (polls a count)
                    await asyncio.sleep(0.05)
        if left := self.pump.stats().backlog:
            log.info("forwarder %s: %d reading(s) left for the next start", self.pump.name, left)


@dataclass(slots=True)
class Forwarders:
    """What was opened: the services to run, and the pumps and lanes that health shows."""

    services: list[Service] = field(default_factory=list)
    pumps: list[Pump] = field(default_factory=list)
    mqtt: MqttForwarder | None = None
    alarm_lanes: list[AlarmEventLane] = field(default_factory=list)
    exposure_lanes: list[EventLane[ExposureEvent]] = field(default_factory=list)
    daily_judgements: list[DailyJudgement] = field(default_factory=list)

    def add_pump(self, pump: Pump, identity: Identity, mqtt: MqttForwarder | None = None) -> None:
        self.pumps.append(pump)
        self.services.append(Forwarding(pump, identity, mqtt))

    def add_lane(self, kind: str, lane: EventLane[AlarmEvent] | EventLane[ExposureEvent]) -> None:
        self.services.append(Job(f"{kind}-{lane.name}", Stage.FORWARDERS, lane.run))

    def add_daily(self, lane: DailyFiguresLane, judged: DailyJudgement) -> None:
        self.daily_judgements.append(judged)
        self.services.append(
            Job(
                f"daily-figures-{lane.name}",
                Stage.FORWARDERS,
                lane.run,
                on_reload=judged.reconfigure,
            )
        )


class DailyJudgement:
    """What a daily-figures lane judges a probe's day by: its compartment's limits and the
    manual record, of the settings in force (a reload that moves a probe moves its limits)."""

    def __init__(self, settings: Settings) -> None:
        self.reconfigure(settings)

    def reconfigure(self, settings: Settings) -> None:
        from gateway.forward.daily_figures import limits_from_settings

        self._settings = settings
        self._limits = limits_from_settings(settings)

    def limits_of(self, probe: str) -> Limits:
        return self._limits(probe)

    def manual_of(self, start_ms: int, end_ms: int) -> dict[tuple[str, str, str], tuple[int, int]]:
        """The manual record's half-days per compartment in [start, end), as the clinic's
        monthly report counts them."""
        from gateway.reports.clinic import manual_records
        from gateway.storage.readings import from_millis

        settings = self._settings
        since, until = from_millis(start_ms), from_millis(end_ms - 1)
        records = manual_records(settings.gateway.data_dir, settings, since, until)
        return {key: (record.recorded, record.due) for key, record in records.items()}


async def open_forwarders(
    settings: Settings,
    identity: Identity,
    resources: contextlib.AsyncExitStack,
    *,
    store: ReadingStore,
    recorder: Recorder,
    clock: Clock,
    alarms: AlarmService | None,
    excursions: ExcursionService | None,
    commands: Mapping[str, Command],
) -> Forwarders:
    """A forwarder for each configured server; with alarms configured, each server also gets
    the alarm events, and with excursions, InfluxDB gets the exposure events."""
    opened = Forwarders()
    if settings.influx is not None:
        from gateway.forward.influx import open_influx_forwarder

        pump = await resources.enter_async_context(
            open_influx_forwarder(settings.influx, identity, store, clock, recorder=recorder)
        )
        opened.add_pump(pump, identity)
        if alarms is not None:
            opened.alarm_lanes.append(
                _influx_alarm_lane(settings, identity, alarms, clock, resources)
            )
            opened.add_lane("alarm-events", opened.alarm_lanes[-1])
        if excursions is not None:
            from gateway.forward.exposure_events import exposure_lane
            from gateway.forward.influx import make_sink
            from gateway.forward.line_protocol import LineEncoder

            sink = make_sink(settings.influx, LineEncoder(identity))
            resources.push_async_callback(sink.close)
            lane = exposure_lane("influx", excursions.exposures, sink.send_body, identity, clock)
            opened.exposure_lanes.append(lane)
            opened.add_lane("exposure-events", lane)
        judged = DailyJudgement(settings)
        daily = _influx_daily_lane(
            settings, identity, resources, store=store, clock=clock, judged=judged
        )
        opened.add_daily(daily, judged)
    if settings.mqtt is not None:
        from gateway.forward.mqtt import MqttForwarder

        mqtt = MqttForwarder(
            settings.mqtt, identity, store, clock, recorder=recorder, commands=commands
        )
        opened.mqtt = mqtt
        opened.add_pump(mqtt.pump, identity, mqtt)
        if alarms is not None:
            opened.alarm_lanes.append(_mqtt_alarm_lane(mqtt, identity, alarms, clock))
            opened.add_lane("alarm-events", opened.alarm_lanes[-1])
        judged = DailyJudgement(settings)
        opened.add_daily(_mqtt_daily_lane(mqtt, identity, store, clock, judged), judged)
    return opened


def _influx_daily_lane(
    settings: Settings,
    identity: Identity,
    resources: contextlib.AsyncExitStack,
    *,
    store: ReadingStore,
    clock: Clock,
    judged: DailyJudgement,
) -> DailyFiguresLane:
    from gateway.forward.daily_figures import DailyFiguresLane, daily_lines
    from gateway.forward.influx import make_sink
    from gateway.forward.line_protocol import LineEncoder

    assert settings.influx is not None
    sink = make_sink(settings.influx, LineEncoder(identity))
    resources.push_async_callback(sink.close)

    async def to_influx(days: Sequence[Daily]) -> None:
        await sink.send_body(daily_lines(days, identity))

    return DailyFiguresLane(
        "influx", store, identity, to_influx, clock,
        limits_of=judged.limits_of, manual_of=judged.manual_of,
    )  # fmt: skip


def _mqtt_daily_lane(
    mqtt: MqttForwarder,
    identity: Identity,
    store: ReadingStore,
    clock: Clock,
    judged: DailyJudgement,
) -> DailyFiguresLane:
    from gateway.forward.daily_figures import DailyFiguresLane, daily_json
    from gateway.forward.errors import RetryableError

    async def to_mqtt(days: Sequence[Daily]) -> None:
        for day in days:
            if not await mqtt.publish_daily(daily_json(day, identity)):
                raise RetryableError("MQTT broker: daily figures not acknowledged")

    return DailyFiguresLane(
        "mqtt", store, identity, to_mqtt, clock,
        limits_of=judged.limits_of, manual_of=judged.manual_of,
    )  # fmt: skip


def _influx_alarm_lane(
    settings: Settings,
    identity: Identity,
    alarms: AlarmService,
    clock: Clock,
    resources: contextlib.AsyncExitStack,
) -> AlarmEventLane:
    from gateway.forward.alarm_events import AlarmEventLane, alarm_event_line
    from gateway.forward.influx import make_sink
    from gateway.forward.line_protocol import LineEncoder

    assert settings.influx is not None
    sink = make_sink(settings.influx, LineEncoder(identity))
    resources.push_async_callback(sink.close)

    async def to_influx(events: Sequence[AlarmEvent]) -> None:
        body = "\n".join(alarm_event_line(event, identity) for event in events)
        await sink.send_body(body.encode())

    return AlarmEventLane("influx", alarms.store, to_influx, clock)


def _mqtt_alarm_lane(
    mqtt: MqttForwarder, identity: Identity, alarms: AlarmService, clock: Clock
) -> AlarmEventLane:
    from gateway.forward.alarm_events import AlarmEventLane
    from gateway.forward.errors import RetryableError

    async def to_mqtt(events: Sequence[AlarmEvent]) -> None:
        for event in events:
            if not await mqtt.publish_alarm(event.as_json(identity)):
                raise RetryableError("MQTT broker: alarm event not acknowledged")

    return AlarmEventLane("mqtt", alarms.store, to_mqtt, clock)
