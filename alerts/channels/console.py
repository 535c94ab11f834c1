"""The console/log channel: one log line per notification, always delivered."""

from __future__ import annotations

import logging

from alerts.channels.base import DeliveryResult, Notification, delivered
from alerts.model import ChannelKind

logger = logging.getLogger("coldchain.alarms")


class Console:
    kind = ChannelKind.CONSOLE

    async def send(self, notification: Notification) -> DeliveryResult:
        # The person by id only: names and phones stay out of logs (DESIGN principle 9).
        text = notification.message.text.replace("\n", " | ")
        logger.warning("alarm to %s: %s", notification.person.id, text)
        return delivered()

    async def aclose(self) -> None:
        return None
