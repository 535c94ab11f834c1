"""Scanning a fridge's own label acknowledges its open alarms (proof of presence)."""

from __future__ import annotations

import pytest

from gateway.alarms.presence import presence_listener
from gateway.storage.scans import StoredScan
from probes.scan import Scan
from tests.alarms.conftest import UNIT, Harness

pytestmark = pytest.mark.asyncio

WARM = 9.5


def scan(raw: bytes, harness: Harness, seq: int = 1) -> StoredScan:
    return StoredScan(seq, Scan(raw, "desk", "fridge-room", harness.clock.now(), True))


async def test_the_fridge_label_acknowledges_that_fridges_alarms(harness: Harness) -> None:
    await harness.minutes(16, WARM)
    listener = presence_listener(harness.alarms, UNIT)
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
