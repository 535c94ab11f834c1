"""Scanning a fridge's own label acknowledges its open alarms (proof of presence)."""

from __future__ import annotations

import pytest

from gateway.alarms.presence import presence_listener
from gateway.auth.policy import Role
from gateway.storage.scans import StoredScan
from probes.scan import Scan
from tests.access_support import acting_as, user
from tests.alarms.conftest import UNIT, Harness

pytestmark = pytest.mark.asyncio

WARM = 9.5


# The fridge-room scanner is assigned to the vaccine manager's account (alarm person wang).
ACTS_FOR = acting_as({"fridge-room": user("wang.fang", Role.MANAGER, person="wang")})


def scan(raw: bytes, harness: Harness, seq: int = 1) -> StoredScan:
    return StoredScan(seq, Scan(raw, "desk", "fridge-room", harness.clock.now(), True))


async def test_the_fridge_label_acknowledges_that_fridges_alarms(harness: Harness) -> None:
    await harness.minutes(16, WARM)
    listener = presence_listener(harness.alarms, UNIT, ACTS_FOR)
    await listener(scan(b"CCFRIDGE:6101030203:F9", harness))
    await listener(scan(b"81900670270577219264", harness))
    await listener(scan(b"CCFRIDGE:6101039999:F1", harness))
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["acks"] == [], "another fridge, a vaccine and another unit's label: no ack"

    await listener(scan(b"CCFRIDGE:6101030203:F1\r", harness))
    (alarm,) = harness.alarms.view()["alarms"]
    assert [(ack["person"], ack["how"]) for ack in alarm["acks"]] == [
        ("wang", "scan of the fridge label at fridge-room (desk)")
    ]
    sent = len(harness.robot.sent)
    await harness.minutes(15, WARM)
    reminded = {person for _, person, _ in harness.robot_log()[sent:]}
    assert "wang" not in reminded, "the acknowledger is no longer reminded"


async def test_the_label_acknowledges_as_the_account_that_scanned_it(harness: Harness) -> None:
    """A scan acts for an account with its rights: a station assigned to a vaccinator, or an
    account without an alarm person, acknowledges nothing; a head's posted scan acknowledges
    as li, the head's alarm person."""
    await harness.minutes(16, WARM)
    acts_for = acting_as(
        {"fridge-room": user("chen", Role.VACCINATOR, person="wang")},
        {"clerk": user("clerk", Role.MANAGER), "li.na": user("li.na", Role.HEAD, person="li")},
    )
    listener = presence_listener(harness.alarms, UNIT, acts_for)
    label = b"CCFRIDGE:6101030203:F1"
    await listener(scan(label, harness))
    await listener(StoredScan(2, Scan(label, "api", "desk", harness.clock.now()), account="clerk"))
    (alarm,) = harness.alarms.view()["alarms"]
    assert alarm["acks"] == [], "a vaccinator's station and a manager without a person"
    await listener(StoredScan(3, Scan(label, "api", "desk", harness.clock.now()), account="li.na"))
    (alarm,) = harness.alarms.view()["alarms"]
    assert [(ack["person"], ack["how"]) for ack in alarm["acks"]] == [
        ("li", "scan of the fridge label at desk (api)")
    ]
