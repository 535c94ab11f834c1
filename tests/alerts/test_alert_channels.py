"""Each channel over real HTTP on loopback against the fake WeCom, WeChat OA and Twilio APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from alerts.channels import build_channels
from alerts.channels.base import Notification, Outcome
from alerts.channels.twilio_voice_sms import TwilioAccount, TwilioSms, TwilioVoice
from alerts.channels.wechat_oa import WechatOa
from alerts.channels.wecom_app import WecomApp
from alerts.channels.wecom_robot import WecomRobot
from alerts.messages import Message
from alerts.model import ChannelKind
from alerts.settings import AlertSettings
from firmware_sim.twilio_api import FakeTwilio
from firmware_sim.wechat_api import FakeWechatOA, FakeWecom
from gateway.core.clock import FakeClock
from tests.alerts.conftest import (
    APP_ID,
    APP_SECRET,
    CORP_ID,
    CORP_SECRET,
    ROBOT_KEY,
    SID,
    TOKEN,
    alert_config,
)

MESSAGE = Message(
    text="【冷链报警】一级\n情况：温度过高 9.4 °C",
    markdown="## 冷链报警\n> 温度过高",
    speech="冷链报警。温度过高。",
    parts={
        "title": "冷链报警 一级",
        "place": "新城区卫生院 1号冰箱 冷藏",
        "condition": "温度过高 9.4 °C",
        "since": "2026-03-02 09:00",
        "tier": "一级（疫苗管理员）",
        "action": "请尽快到场处置",
    },
)


def settings_for(base_url: str, **channel_changes: dict[str, object]) -> AlertSettings:
    config = alert_config(base_url)
    for name, changes in channel_changes.items():
        config["channels"][name] |= changes
    return AlertSettings.model_validate(config)


def note(settings: AlertSettings, person: str = "wang") -> Notification:
    return Notification("n1", settings.person(person), MESSAGE, "https://gw.example.cn/ack/t")


@pytest_asyncio.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom(CORP_ID, CORP_SECRET, ROBOT_KEY, users={"WangFang"}) as server:
        yield server


@pytest_asyncio.fixture
async def oa() -> AsyncIterator[FakeWechatOA]:
    async with FakeWechatOA(APP_ID, APP_SECRET) as server:
        yield server


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(SID, TOKEN) as server:
        yield server


@pytest.mark.asyncio
async def test_robot_posts_text_mentioning_the_mobile(wecom: FakeWecom) -> None:
    settings = settings_for(wecom.base_url)
    assert settings.channels.wecom_robot is not None
    robot = WecomRobot(settings.channels.wecom_robot, FakeClock())
    try:
        result = await robot.send(note(settings))
        wecom.fail_with(45009)
        limited = await robot.send(note(settings))
    finally:
        await robot.aclose()
    assert result.outcome is Outcome.DELIVERED
    assert wecom.robot_messages == [
        {
            "msgtype": "text",
            "text": {"content": MESSAGE.text, "mentioned_mobile_list": ["13800000001"]},
        }
    ]
    assert (limited.outcome, limited.retry_after) == (Outcome.RETRY_LATER, 60.0)
    assert "45009" in limited.detail


@pytest.mark.asyncio
async def test_robot_markdown_bad_key_and_its_own_rate_limit(wecom: FakeWecom) -> None:
    settings = settings_for(wecom.base_url, wecom_robot={"msgtype": "markdown"})
    assert settings.channels.wecom_robot is not None
    robot = WecomRobot(settings.channels.wecom_robot, FakeClock())
    bad = settings_for(wecom.base_url, wecom_robot={"key": "wrong"}).channels.wecom_robot
    assert bad is not None
    wrong = WecomRobot(bad, FakeClock())
    try:
        outcomes = [(await robot.send(note(settings))).outcome for _ in range(21)]
        refused = await wrong.send(note(settings))
    finally:
        await robot.aclose()
        await wrong.aclose()
    assert outcomes == [Outcome.DELIVERED] * 20 + [Outcome.RETRY_LATER]
    assert wecom.robot_messages[0]["markdown"]["content"].endswith("<@WangFang>")
    assert refused.outcome is Outcome.FAILED_PERMANENTLY
    assert "93000" in refused.detail


@pytest.mark.asyncio
async def test_wecom_app_caches_the_token_and_refreshes_it_once_when_expired(
    wecom: FakeWecom,
) -> None:
    settings = settings_for(wecom.base_url)
    assert settings.channels.wecom_app is not None
    clock = FakeClock()
    app = WecomApp(settings.channels.wecom_app, clock)
    try:
        first = await app.send(note(settings))
        second = await app.send(note(settings))
        assert wecom.tokens.issued == 1
        wecom.tokens.expire_all()
        refreshed = await app.send(note(settings))
        assert wecom.tokens.issued == 2
        await clock.advance(7200 - 300)
        await app.send(note(settings))
        assert wecom.tokens.issued == 3
        unknown = await app.send(note(settings, "li"))
    finally:
        await app.aclose()
    assert {first.outcome, second.outcome, refreshed.outcome} == {Outcome.DELIVERED}
    assert wecom.app_messages[0] == {
        "touser": "WangFang",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": MESSAGE.text},
    }
    assert unknown.outcome is Outcome.FAILED_PERMANENTLY
    assert "wecom_userid" in unknown.detail


@pytest.mark.asyncio
async def test_wecom_app_bad_secret_and_http_errors(wecom: FakeWecom) -> None:
    settings = settings_for(wecom.base_url, wecom_app={"corp_secret": "nope"})
    assert settings.channels.wecom_app is not None
    app = WecomApp(settings.channels.wecom_app, FakeClock())
    good = settings_for(wecom.base_url).channels.wecom_app
    assert good is not None
    healthy = WecomApp(good, FakeClock())
    try:
        refused = await app.send(note(settings))
        wecom.fail_http(429, retry_after=7)
        throttled = await healthy.send(note(settings))
        wecom.fail_http(503)
        unavailable = await healthy.send(note(settings))
    finally:
        await app.aclose()
        await healthy.aclose()
    assert refused.outcome is Outcome.FAILED_PERMANENTLY
    assert "check the credentials" in refused.detail
    assert (throttled.outcome, throttled.retry_after) == (Outcome.RETRY_LATER, 7.0)
    assert unavailable.outcome is Outcome.RETRY_LATER


@pytest.mark.asyncio
async def test_official_account_template_token_refresh_unsubscribed_and_limit(
    oa: FakeWechatOA,
) -> None:
    settings = settings_for(oa.base_url)
    assert settings.channels.wechat_oa is not None
    channel = WechatOa(settings.channels.wechat_oa, FakeClock())
    oa.unsubscribed.add("o-li")
    try:
        sent = await channel.send(note(settings))
        oa.tokens.expire_all()
        after_expiry = await channel.send(note(settings))
        unsubscribed = await channel.send(note(settings, "li"))
        oa.fail_with(45009)
        limited = await channel.send(note(settings))
        no_openid = await channel.send(note(settings, "zhao"))
    finally:
        await channel.aclose()
    assert (sent.outcome, after_expiry.outcome) == (Outcome.DELIVERED, Outcome.DELIVERED)
    assert oa.tokens.issued == 2
    assert oa.templates[0] == {
        "touser": "o-wang",
        "template_id": "TPL-1",
        "url": "https://gw.example.cn/ack/t",
        "data": {
            "first": {"value": "冷链报警 一级"},
            "keyword1": {"value": "新城区卫生院 1号冰箱 冷藏"},
            "keyword2": {"value": "温度过高 9.4 °C"},
            "keyword3": {"value": "2026-03-02 09:00"},
            "remark": {"value": "请尽快到场处置"},
        },
    }
    assert unsubscribed.outcome is Outcome.FAILED_PERMANENTLY
    assert "43004" in unsubscribed.detail
    assert limited.outcome is Outcome.RETRY_LATER
    assert no_openid.outcome is Outcome.FAILED_PERMANENTLY


@pytest.mark.asyncio
async def test_an_api_that_is_down_means_retry_later_then_delivery(oa: FakeWechatOA) -> None:
    settings = settings_for(oa.base_url)
    assert settings.channels.wechat_oa is not None
    channel = WechatOa(settings.channels.wechat_oa, FakeClock())
    try:
        async with oa.outage():
            down = await channel.send(note(settings))
        back = await channel.send(note(settings))
    finally:
        await channel.aclose()
    assert down.outcome is Outcome.RETRY_LATER
    assert back.outcome is Outcome.DELIVERED


@pytest.mark.asyncio
async def test_twilio_sms_and_voice_with_their_error_codes(twilio: FakeTwilio) -> None:
    settings = settings_for(twilio.base_url)
    assert settings.channels.twilio is not None
    account = TwilioAccount(settings.channels.twilio)
    clock = FakeClock()
    sms, voice = TwilioSms(account, clock), TwilioVoice(account, clock)
    twilio.invalid_numbers.add("+8613800000002")
    try:
        sent = await sms.send(note(settings))
        await clock.advance(1)
        invalid = await sms.send(note(settings, "li"))
        await clock.advance(1)
        twilio.fail_http(429)
        throttled = await sms.send(note(settings))
        await clock.advance(1)
        too_soon = await sms.send(note(settings))
        called = await voice.send(note(settings, "zhao"))
    finally:
        await sms.aclose()
        await voice.aclose()
    assert sent.outcome is Outcome.DELIVERED
    assert sent.detail.startswith("SM")
    assert twilio.messages[0] == {
        "To": "+8613800000001",
        "From": "+15005550006",
        "Body": MESSAGE.text,
    }
    assert invalid.outcome is Outcome.FAILED_PERMANENTLY
    assert "21211" in invalid.detail
    assert throttled.outcome is Outcome.RETRY_LATER
    assert too_soon.outcome is Outcome.DELIVERED
    assert called.outcome is Outcome.DELIVERED
    assert called.detail.startswith("CA")
    assert twilio.calls[0]["To"] == "+8613800000003"
    assert '<Say language="cmn-CN" loop="2">冷链报警。温度过高。</Say>' in twilio.calls[0]["Twiml"]


@pytest.mark.asyncio
async def test_twilio_wrong_credentials_fail_permanently(twilio: FakeTwilio) -> None:
    settings = settings_for(twilio.base_url, twilio={"auth_token": "wrong"})
    assert settings.channels.twilio is not None
    sms = TwilioSms(TwilioAccount(settings.channels.twilio), FakeClock())
    try:
        result = await sms.send(note(settings))
    finally:
        await sms.aclose()
    assert result.outcome is Outcome.FAILED_PERMANENTLY
    assert "20003" in result.detail


@pytest.mark.asyncio
async def test_build_channels_makes_what_is_configured() -> None:
    settings = settings_for("http://127.0.0.1:9")
    channels = build_channels(settings.channels, FakeClock())
    try:
        assert set(channels) == set(ChannelKind)
        console = await channels[ChannelKind.CONSOLE].send(note(settings))
        assert console.outcome is Outcome.DELIVERED
    finally:
        for channel in channels.values():
            await channel.aclose()
