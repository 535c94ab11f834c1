"""Shared configuration for the alerts tests: three tiers of people and every channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.settings import AlertSettings

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
UNIT = "6101030203"
SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token"
CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "corp-secret"
ROBOT_KEY = "robot-key-1"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret"


def alert_config(base_url: str = "http://127.0.0.1:9", **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "people": [
            {
                "id": "wang",
                "name": "王芳",
                "phone": "+8613800000001",
                "wecom_userid": "WangFang",
                "wechat_openid": "o-wang",
            },
            {"id": "li", "name": "李强", "phone": "+8613800000002", "wechat_openid": "o-li"},
            {"id": "zhao", "name": "赵敏", "phone": "+8613800000003"},
        ],
        "tiers": {
            "tier1": {"people": ["wang"]},
            "tier2": {"people": ["li"]},
            "tier3": {"people": ["zhao"]},
        },
        "channels": {
            "wecom_robot": {"key": ROBOT_KEY, "base_url": base_url},
            "wecom_app": {
                "corp_id": CORP_ID,
                "corp_secret": CORP_SECRET,
                "agent_id": 1000002,
                "base_url": base_url,
            },
            "wechat_oa": {
                "app_id": APP_ID,
                "app_secret": APP_SECRET,
                "template_id": "TPL-1",
                "base_url": base_url,
            },
            "twilio": {
                "account_sid": SID,
                "auth_token": TOKEN,
                "from_number": "+15005550006",
                "base_url": base_url,
            },
        },
        "ack": {"secret": "s" * 40, "base_url": "https://gw.example.cn"},
    }
    return config | overrides


@pytest.fixture
def settings() -> AlertSettings:
    return AlertSettings.model_validate(alert_config())
