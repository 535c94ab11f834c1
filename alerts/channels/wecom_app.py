"""WeCom application message: corp id + secret -> access token (cached), then message/send."""

from __future__ import annotations

from alerts.channels._http import (
    JsonClient,
    JsonReply,
    RateLimit,
    TokenCache,
    classify,
    token_from,
    with_token,
)
from alerts.channels.base import DeliveryResult, Notification, failed, retry_later
from alerts.model import ChannelKind
from alerts.settings import WecomAppSettings
from gateway.core.clock import Clock


class WecomApp:
    kind = ChannelKind.WECOM_APP
    LIMIT_PER_MINUTE = 30  # WeCom drops more than 30 messages a minute to one member

    def __init__(self, settings: WecomAppSettings, clock: Clock) -> None:
        self._settings = settings
        self._client = JsonClient(settings.base_url)
        self._tokens = TokenCache(clock)
        self._limit = RateLimit(clock, self.LIMIT_PER_MINUTE, 60.0)

    async def send(self, notification: Notification) -> DeliveryResult:
        userid = notification.person.wecom_userid
        if userid is None:
            return failed(f"{notification.person.id} has no wecom_userid")
        wait = self._limit.wait_s(userid)
        if wait > 0:
            return retry_later("WeCom limit of 30 messages a minute per member", wait)
        body = {
            "touser": userid,
            "msgtype": "text",
            "agentid": self._settings.agent_id,
            "text": {"content": notification.message.text},
        }

        async def post(token: str) -> JsonReply | DeliveryResult:
            params = {"access_token": token}
            return await self._client.call("POST", "/cgi-bin/message/send", params, body)

        reply = await with_token(self._tokens, self._fetch_token, post)
        if isinstance(reply, DeliveryResult):
            return reply
        return classify(reply, {81013: f"WeCom does not know user {userid}: check wecom_userid"})

    async def _fetch_token(self) -> tuple[str, float] | DeliveryResult:
        params = {
            "corpid": self._settings.corp_id,
            "corpsecret": self._settings.corp_secret.get_secret_value(),
        }
        return token_from(await self._client.call("GET", "/cgi-bin/gettoken", params))

    async def aclose(self) -> None:
        await self._client.aclose()
