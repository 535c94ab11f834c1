"""The alerts package's exception tree.

Channels never raise for a failed delivery: they return a `DeliveryResult`, because a failure
to reach someone is data for the outbox, not an exception. What is raised here is a refusal:
a configuration that cannot work, or an operator's request that would change nothing true
(an acknowledgement of a closed alarm, a forged link). A refused event leaves state untouched.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.core.errors import ConfigError, GatewayError


class AlertsError(GatewayError):
    """Base of every error the alerts package raises on purpose."""

    code: ClassVar[str] = "alert_refused"


class AlertConfigError(AlertsError, ConfigError):
    """The [alerts] configuration cannot work; the message names the key and the fix."""

    code: ClassVar[str] = "alert_config_invalid"


class RejectedEventError(AlertsError):
    """An operator's event the escalation machine refuses; the state is unchanged."""

    code: ClassVar[str] = "alarm_event_refused"


class UnknownAlarmError(RejectedEventError):
    """No alarm with this id is open or recently closed on this gateway."""

    code: ClassVar[str] = "alarm_unknown"


class AlarmClosedError(RejectedEventError):
    """The alarm is already closed: acknowledging or closing it again is refused."""

    code: ClassVar[str] = "alarm_closed"


class WrongUnitError(RejectedEventError):
    """The event names another unit than the one this gateway serves."""

    code: ClassVar[str] = "alarm_unit_wrong"


class UnknownPersonError(RejectedEventError):
    """The person is not in any tier of this unit."""

    code: ClassVar[str] = "alarm_person_unknown"


class ConditionStillHoldsError(RejectedEventError):
    """A close was requested while the condition is still abnormal."""

    code: ClassVar[str] = "alarm_condition_holds"


class SilenceRefusedError(RejectedEventError):
    """A silence that would be unbounded or unexplained: in the past, longer than the
    maximum, without a reason or with one longer than allowed."""

    code: ClassVar[str] = "silence_refused"


class SilenceScopeError(SilenceRefusedError):
    """The silence names no compartment, fridge or the unit of this gateway."""

    code: ClassVar[str] = "silence_scope_unknown"


class UnknownSilenceError(RejectedEventError):
    """No running silence has this number (it ended, or never was)."""

    code: ClassVar[str] = "silence_unknown"


class AckLinkError(AlertsError):
    """An acknowledgement link cannot be honoured."""

    code: ClassVar[str] = "ack_link_refused"


class AckLinkForgedError(AckLinkError):
    """The link is malformed or its signature does not match."""

    code: ClassVar[str] = "ack_link_forged"


class AckLinkExpiredError(AckLinkError):
    """The link was genuine but is past its expiry time."""

    code: ClassVar[str] = "ack_link_expired"
