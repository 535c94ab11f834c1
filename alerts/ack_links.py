"""Signed, expiring acknowledgement links.

A link carries the alarm, the unit, the person and an expiry, signed with HMAC-SHA256 under the
gateway's secret. The gateway verifies its own links, so no state is kept per link. The MAC is
truncated to 128 bits to keep SMS short and compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.errors import AckLinkExpiredError, AckLinkForgedError
from alerts.settings import AckLinkSettings

_MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class AckClaim:
    alarm_id: str
    unit: str
    person: str
    expires_at: datetime


def sign(claim: AckClaim, secret: str) -> str:
    expiry = int(claim.expires_at.timestamp())
    payload = json.dumps([claim.alarm_id, claim.unit, claim.person, expiry], ensure_ascii=False)
    body = _b64(payload.encode())
    return f"{body}.{_b64(_mac(body, secret))}"


def verify(token: str, secret: str, now: datetime) -> AckClaim:
    """The claim of a genuine, unexpired token; raises AckLinkForgedError/AckLinkExpiredError."""
    body, dot, mac = token.partition(".")
    try:
        given = _unb64(mac)
        fields = json.loads(_unb64(body)) if dot else None
    except (binascii.Error, ValueError):
        raise AckLinkForgedError("the acknowledgement link is malformed") from None
    if not hmac.compare_digest(given, _mac(body, secret)):
        raise AckLinkForgedError("the acknowledgement link's signature does not match")
    if not (isinstance(fields, list) and len(fields) == 4 and isinstance(fields[3], int)):
        raise AckLinkForgedError("the acknowledgement link's content is malformed")
    alarm_id, unit, person, expiry = fields
    claim = AckClaim(str(alarm_id), str(unit), str(person), datetime.fromtimestamp(expiry, UTC))
    if now >= claim.expires_at:
        raise AckLinkExpiredError(
            f"the acknowledgement link expired at {claim.expires_at.isoformat()}; "
            "acknowledge from the newest message or at the gateway"
        )
    return claim


def ack_url(settings: AckLinkSettings, alarm_id: str, unit: str, person: str, now: datetime) -> str:
    """A fresh link for one notification, valid `lifetime_s` from now."""
    expires = now + timedelta(seconds=settings.lifetime_s)
    token = sign(AckClaim(alarm_id, unit, person, expires), settings.secret.get_secret_value())
    return f"{settings.base_url.rstrip('/')}/ack/{token}"


def _mac(body: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
