"""Alarm vocabulary shared by rules, escalation, messages and channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConditionKind(StrEnum):
    TOO_WARM = "too_warm"
    TOO_COLD = "too_cold"
    PROBE_OFFLINE = "probe_offline"
    PROBE_FAULT = "probe_fault"
    BATTERY_LOW = "battery_low"
    GATEWAY_POWER = "gateway_power"
    GATEWAY_LINK = "gateway_link"
    WHO_HEAT = "who_heat"
    WHO_FREEZE = "who_freeze"

    @property
    def measures_temperature(self) -> bool:
        """Whether the alarm follows the compartment's temperature (current value and peak)."""
        return self in (ConditionKind.TOO_WARM, ConditionKind.TOO_COLD)

    @property
    def pages(self) -> bool:
        """Whether the condition opens an alarm; WHO excursions are records for the report."""
        return self not in (ConditionKind.WHO_HEAT, ConditionKind.WHO_FREEZE)

    @property
    def inhibits_offline(self) -> bool:
        """A gateway that lost power or its link hides the no-data alarms of its probes."""
        return self in (ConditionKind.GATEWAY_POWER, ConditionKind.GATEWAY_LINK)


class ChannelKind(StrEnum):
    WECOM_ROBOT = "wecom_robot"
    WECOM_APP = "wecom_app"
    WECHAT_OA = "wechat_oa"
    SMS = "sms"
    VOICE = "voice"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class Condition:
    """What is abnormal, and where.

    `subject` is a compartment reference `FRIDGE/COMPARTMENT` for probe and temperature rules,
    or the name of a gateway or bus for power and link conditions. `probe` is the probe the
    rule watched (None for gateway conditions).
    """

    kind: ConditionKind
    subject: str
    probe: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}:{self.probe or '-'}"


@dataclass(frozen=True, slots=True)
class ConditionRaised:
    """A rule fired.

    `since` is when the abnormal state began (the first out-of-range reading, the last reading
    before silence, the start of a power gap); `at` is when the rule confirmed it. `value` is
    the most extreme temperature (measured at `value_at`), the battery level, or the gap in
    seconds; `current` is the temperature of the reading that confirmed it. `detail` names a
    probe fault status. `via` is the gateway or bus the probe reports through: a power or link
    alarm on it inhibits this probe's offline alarm.
    """

    condition: Condition
    since: datetime
    at: datetime
    value: float | None = None
    detail: str = ""
    via: str | None = None
    value_at: datetime | None = None
    current: float | None = None


@dataclass(frozen=True, slots=True)
class ConditionCleared:
    """The abnormal state ended (for WHO excursions: the excursion's end)."""

    condition: Condition
    since: datetime
    at: datetime


ConditionChange = ConditionRaised | ConditionCleared
