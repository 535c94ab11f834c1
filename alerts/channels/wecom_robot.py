"""WeCom group robot: POST /cgi-bin/webhook/send?key=KEY, text with @mobile or markdown."""

from __future__ import annotations

from typing import Any

from alerts.channels._http import JsonClient, RateLimit, classify
from alerts.channels.base import DeliveryResult, Notification, retry_later
from alerts.model import ChannelKind
from alerts.settings import WecomRobotSettings
from gateway.core.clock import Clock


class WecomRobot:
    """Posts each notification to the unit's group, mentioning the person by mobile number."""

    kind = ChannelKind.WECOM_ROBOT
    LIMIT_PER_MINUTE = 20  # WeCom's documented limit per robot

    def __init__(self, settings: WecomRobotSettings, clock: Clock) -> None:
        self._settings = settings
        self._client = JsonClient(settings.base_url)
        self._limit = RateLimit(clock, self.LIMIT_PER_MINUTE, 60.0)

    async def send(self, notification: Notification) -> DeliveryResult:
        wait = self._limit.wait_s()
        if wait > 0:
            return retry_later("robot limit of 20 messages a minute", wait)
        params = {"key": self._settings.key.get_secret_value()}
        reply = await self._client.call(
            "POST", "/cgi-bin/webhook/send", params, self._body(notification)
        )
        if isinstance(reply, DeliveryResult):
            return reply
        return classify(reply, {93000: "invalid webhook key: check [alerts.channels.wecom_robot]"})

    def _body(self, notification: Notification) -> dict[str, Any]:
        person, message = notification.person, notification.message
        if self._settings.msgtype == "markdown":
            mention = f"\n<@{person.wecom_userid}>" if person.wecom_userid else ""
            return {"msgtype": "markdown", "markdown": {"content": message.markdown + mention}}
        return {
            "msgtype": "text",
            "text": {"content": message.text, "mentioned_mobile_list": [_mobile(person.phone)]},
        }

    async def aclose(self) -> None:
        await self._client.aclose()


def _mobile(phone: str) -> str:
    """WeCom knows mainland numbers without the country code."""
    return phone.removeprefix("+86")
