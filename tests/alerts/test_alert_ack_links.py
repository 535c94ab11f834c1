"""Ack links: genuine ones verify; forged, tampered and expired ones are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.ack_links import AckClaim, ack_url, sign, verify
from alerts.errors import AckLinkExpiredError, AckLinkForgedError
from alerts.settings import AlertSettings
from tests.alerts.conftest import T0, UNIT

SECRET = "k" * 40
CLAIM = AckClaim("too_warm:F1/冷藏:208601@2026", UNIT, "wang", T0 + timedelta(hours=1))


def test_a_genuine_link_verifies_until_it_expires() -> None:
    token = sign(CLAIM, SECRET)
    assert verify(token, SECRET, T0) == CLAIM
    with pytest.raises(AckLinkExpiredError):
        verify(token, SECRET, T0 + timedelta(hours=1))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace(t[3], "A" if t[3] != "A" else "B", 1),  # payload changed
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "!!!." + t.split(".")[1],  # not base64
        lambda t: "",
    ],
)
def test_tampered_links_are_refused(mangle: object) -> None:
    assert callable(mangle)
    with pytest.raises(AckLinkForgedError):
        verify(mangle(sign(CLAIM, SECRET)), SECRET, T0)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(AckLinkForgedError):
        verify(sign(CLAIM, "x" * 40), SECRET, T0)


def test_ack_url_carries_a_verifiable_token(settings: AlertSettings) -> None:
    url = ack_url(settings.ack, CLAIM.alarm_id, UNIT, "wang", T0)
    assert url.startswith("https://gw.example.cn/ack/")
    claim = verify(url.rsplit("/", 1)[1], settings.ack.secret.get_secret_value(), T0)
    assert (claim.alarm_id, claim.person, claim.expires_at) == (
        CLAIM.alarm_id,
        "wang",
        T0 + timedelta(days=1),
    )
