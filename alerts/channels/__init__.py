"""Delivery channels, one module each; `build_channels` makes the configured ones."""

from __future__ import annotations

from alerts.channels.base import Channel
from alerts.channels.console import Console
from alerts.channels.wechat_oa import WechatOa
from alerts.channels.wecom_app import WecomApp
from alerts.channels.wecom_robot import WecomRobot
from alerts.model import ChannelKind
from alerts.settings import ChannelSettings
from gateway.core.clock import Clock


def build_channels(settings: ChannelSettings, clock: Clock) -> dict[ChannelKind, Channel]:
    """Channel objects for what is configured. Call `aclose()` on each when done."""
    channels: dict[ChannelKind, Channel] = {}
    if settings.console:
        channels[ChannelKind.CONSOLE] = Console()
    if settings.wecom_robot is not None:
        channels[ChannelKind.WECOM_ROBOT] = WecomRobot(settings.wecom_robot, clock)
    if settings.wecom_app is not None:
        channels[ChannelKind.WECOM_APP] = WecomApp(settings.wecom_app, clock)
    if settings.wechat_oa is not None:
        channels[ChannelKind.WECHAT_OA] = WechatOa(settings.wechat_oa, clock)
    if settings.twilio is not None:
        # Imported only now: twilio alone costs tens of MB on a Pi (DESIGN principle 8).
        from alerts.channels import twilio_voice_sms as tw

        account = tw.TwilioAccount(settings.twilio)
        if settings.twilio.sms:
            channels[ChannelKind.SMS] = tw.TwilioSms(account, clock)
        if settings.twilio.voice:
            channels[ChannelKind.VOICE] = tw.TwilioVoice(account, clock)
    return channels
