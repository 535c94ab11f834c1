"""From an escalation `Notify` to outbox rows: render the message once, sign one ack link.

The message is rendered when the notification is created and stored with its row, so a
message that waits hours for a channel goes out as it was decided (with its "since" and tier)
and a restart does not change its text. One row per channel the person is reached by.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from alerts.ack_links import ack_url
from alerts.escalation_state import Alarm, Notify, NotifyReason
from alerts.messages import place_of, render
from alerts.model import ConditionKind
from alerts.settings import AlertSettings
from gateway.settings import Settings
from gateway.storage.alarm_rows import NewOutboxRow

#: Conditions about the vaccine's temperature: their messages say how many doses are at risk.
TEMPERATURE_KINDS = frozenset(
    {
        ConditionKind.TOO_WARM,
        ConditionKind.TOO_COLD,
        ConditionKind.WHO_HEAT,
        ConditionKind.WHO_FREEZE,
    }
)
DosesAtRisk = Callable[[str], int | None]
"""Doses in a compartment now (its reference), or None when the stock ledger cannot say."""


def outbox_rows(
    notify: Notify,
    settings: Settings,
    alerts: AlertSettings,
    now: datetime,
    doses_at_risk: DosesAtRisk | None = None,
) -> list[NewOutboxRow]:
    link = ack_url(alerts.ack, notify.alarm_id, settings.unit.code, notify.person, now)
    condition = notify.condition
    doses = (
        doses_at_risk(condition.subject)
        if doses_at_risk is not None and condition.kind in TEMPERATURE_KINDS
        else None
    )
    message = render(
        notify, place_of(settings.unit.name, settings.fridges, condition.subject), link, doses
    )
    return [
        NewOutboxRow(
            alarm_id=notify.alarm_id,
            person=notify.person,
            tier=notify.tier,
            channel=channel,
            reason=str(notify.reason),
            message=message,
            ack_link=link,
            created_at=now,
        )
        for channel in notify.channels
    ]


def opening_notice(alarm: Alarm) -> Notify:
    """The alarm as its first notification describes it: for summaries (API, digest) that
    reuse the message wording without notifying anyone."""
    return Notify(
        alarm.id,
        "",
        1,
        (),
        NotifyReason.OPENED,
        alarm.condition,
        alarm.since,
        alarm.opened_at,
        alarm.value,
        alarm.detail,
    )


def current_notice(alarm: Alarm, now: datetime) -> Notify:
    """The alarm as a message sent `now` would describe it: its current temperature and peak."""
    return Notify(
        alarm.id,
        "",
        1,
        (),
        NotifyReason.OPENED,
        alarm.condition,
        alarm.since,
        now,
        alarm.value,
        alarm.detail,
        current=alarm.current,
        current_at=alarm.current_at,
        peak=alarm.peak,
        peak_at=alarm.peak_at,
    )
