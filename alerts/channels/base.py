"""What every channel is: `send(notification) -> DeliveryResult`, never raising for a failure.

A failed delivery is data for the outbox: `RETRY_LATER` (network down, rate limited, server
error; `retry_after` when the API says how long) or `FAILED_PERMANENTLY` (this person cannot be
reached this way: unsubscribed, invalid number, wrong credentials). Exceptions other than the
network's are bugs and propagate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from alerts.messages import Message
from alerts.model import ChannelKind
from alerts.settings import Person


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_LATER = "retry_later"
    FAILED_PERMANENTLY = "failed_permanently"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one person; `ack_link` is also the target of template/markdown links."""

    id: str
    person: Person
    message: Message
    ack_link: str


class Channel(Protocol):
    kind: ChannelKind

    async def send(self, notification: Notification) -> DeliveryResult: ...

    async def aclose(self) -> None:
        """Release sessions; the channel is not used afterwards."""
        ...


def delivered(detail: str = "") -> DeliveryResult:
    return DeliveryResult(Outcome.DELIVERED, detail)


def retry_later(detail: str, retry_after: float | None = None) -> DeliveryResult:
    return DeliveryResult(Outcome.RETRY_LATER, detail, retry_after)


def failed(detail: str) -> DeliveryResult:
    return DeliveryResult(Outcome.FAILED_PERMANENTLY, detail)
