"""WeChat Official Account template message: appid + secret -> access token, template/send."""

from __future__ import annotations

from alerts.channels._http import (
    JsonClient,
    JsonReply,
    TokenCache,
    classify,
    token_from,
    with_token,
)
from alerts.channels.base import DeliveryResult, Notification, failed
from alerts.model import ChannelKind
from alerts.settings import WechatOaSettings
from gateway.core.clock import Clock

PERMANENT = {
    43004: "the person no longer follows the official account",
    40003: "invalid openid: check wechat_openid",
    40037: "invalid template_id: check [alerts.channels.wechat_oa]",
}


class WechatOa:
    kind = ChannelKind.WECHAT_OA

    def __init__(self, settings: WechatOaSettings, clock: Clock) -> None:
        self._settings = settings
        self._client = JsonClient(settings.base_url)
        self._tokens = TokenCache(clock)

    async def send(self, notification: Notification) -> DeliveryResult:
        openid = notification.person.wechat_openid
        if openid is None:
            return failed(f"{notification.person.id} has no wechat_openid")
        parts = notification.message.parts
        body = {
            "touser": openid,
            "template_id": self._settings.template_id,
            "url": notification.ack_link,
            "data": {key: {"value": parts[part]} for key, part in self._settings.fields.items()},
        }

        async def post(token: str) -> JsonReply | DeliveryResult:
            params = {"access_token": token}
            return await self._client.call("POST", "/cgi-bin/message/template/send", params, body)

        reply = await with_token(self._tokens, self._fetch_token, post)
        return reply if isinstance(reply, DeliveryResult) else classify(reply, PERMANENT)

    async def _fetch_token(self) -> tuple[str, float] | DeliveryResult:
        params = {
            "grant_type": "client_credential",
            "appid": self._settings.app_id,
            "secret": self._settings.app_secret.get_secret_value(),
        }
        return token_from(await self._client.call("GET", "/cgi-bin/token", params))

    async def aclose(self) -> None:
        await self._client.aclose()
