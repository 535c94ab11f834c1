"""[alerts] configuration: clear errors for unknown people and misconfigured channels."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alerts.model import ChannelKind
from alerts.settings import AlertSettings, cross_check
from tests.alerts.conftest import alert_config


def error_of(config: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        AlertSettings.model_validate(config)
    return str(caught.value)


def test_an_unknown_person_in_a_tier_names_the_key_and_the_fix() -> None:
    config = alert_config()
    config["tiers"]["tier2"]["people"] = ["li", "liu"]
    message = error_of(config)
    assert "tiers.tier2.people: unknown person 'liu'" in message
    assert "[[alerts.people]]" in message
    assert "li, wang, zhao" in message


def test_a_tier_channel_that_is_not_configured_is_refused() -> None:
    config = alert_config()
    del config["channels"]["twilio"]
    config["tiers"]["tier3"]["channels"] = ["voice"]
    message = error_of(config)
    assert "tiers.tier3.channels: voice is not configured" in message
    assert "[alerts.channels.twilio]" in message


def test_a_person_no_channel_can_reach_is_refused() -> None:
    config = alert_config()
    config["channels"] = {"wechat_oa": config["channels"]["wechat_oa"]}
    message = error_of(config)
    assert "'zhao' cannot be reached by any channel of tier 3" in message


def test_malformed_channel_fields_are_refused() -> None:
    config = alert_config()
    config["channels"]["twilio"]["account_sid"] = "AC123"
    config["people"][0]["phone"] = "13800000001"
    message = error_of(config)
    assert "channels.twilio.account_sid" in message
    assert "people.0.phone" in message


def test_rule_overrides_are_validated_and_cross_checked() -> None:
    config = alert_config(rules={"compartments": {"F1/冷藏": {"too_warm_hold_off_s": -1}}})
    assert "compartments.'F1/冷藏'" in error_of(config)
    settings = AlertSettings.model_validate(
        alert_config(rules={"compartments": {"F9/冷藏": {"too_warm_hold_off_s": 600}}})
    )
    assert settings.rules.thresholds_for("F9/冷藏").too_warm_hold_off_s == 600
    assert settings.rules.thresholds_for("F1/冷藏").too_warm_hold_off_s == 900
    (problem,) = cross_check(settings, ["F1/冷藏"])
    assert "F9/冷藏" in problem.key
    assert "F1/冷藏" in problem.fix


def test_channels_follow_the_tier_and_what_the_person_can_receive(
    settings: AlertSettings,
) -> None:
    wang, zhao = settings.person("wang"), settings.person("zhao")
    assert settings.channels_for(1, wang) == (
        ChannelKind.WECOM_ROBOT,
        ChannelKind.WECOM_APP,
        ChannelKind.WECHAT_OA,
        ChannelKind.SMS,
        ChannelKind.CONSOLE,
    )
    assert settings.channels_for(3, zhao) == (
        ChannelKind.WECOM_ROBOT,
        ChannelKind.SMS,
        ChannelKind.CONSOLE,
        ChannelKind.VOICE,
    )


def test_console_only_needs_no_reachable_channel_per_person() -> None:
    config = alert_config()
    config["channels"] = {"console": True, "console_only": True}
    settings = AlertSettings.model_validate(config)
    assert settings.channels.configured() == {ChannelKind.CONSOLE}


def test_console_only_beside_a_real_channel_is_refused() -> None:
    config = alert_config()
    config["channels"]["console_only"] = True
    with pytest.raises(ValidationError, match="console_only = true needs console = true"):
        AlertSettings.model_validate(config)
