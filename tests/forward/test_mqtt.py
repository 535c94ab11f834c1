"""MQTT forwarding against a real mosquitto: outages, TLS, credentials, commands, status."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from gateway.core.clock import SystemClock
from gateway.core.errors import GatewayError
from gateway.forward.mqtt import MqttForwarder
from gateway.forward.settings import MqttSettings
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore
from tests.forward.support import (
    GATEWAY,
    IDENTITY,
    UNIT,
    RecordingClock,
    hashed_folder,
    readings,
    wait_until,
)
from tests.servers import Mosquitto, Subscriber, make_tls

pytestmark = pytest.mark.asyncio

BASE = f"coldchain/{UNIT}/{GATEWAY}"
FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.2, "batch_size": 200}


def mqtt_settings(url: str, **extra: object) -> MqttSettings:
    return MqttSettings.model_validate({"url": url, **FAST, **extra})


@contextlib.asynccontextmanager
async def running(
    forwarder: MqttForwarder, recorder: Recorder | None = None
) -> AsyncIterator[MqttForwarder]:
    tasks = [asyncio.create_task(forwarder.run())]
    if recorder is not None:
        tasks.append(asyncio.create_task(recorder.run()))
    try:
        yield forwarder
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def seqs(subscriber: Subscriber) -> list[int]:
    return [item["seq"] for batch in subscriber.payloads("/readings") for item in batch["readings"]]


async def test_broker_outage_loses_nothing(tmp_path: Path, store: ReadingStore) -> None:
    broker = Mosquitto.create(tmp_path / "mq", persistence=True)
    broker.start()
    try:
        recorder = Recorder(store, SystemClock(), StoreSettings(flush_interval_s=0.05))
        forwarder = MqttForwarder(
            mqtt_settings(broker.url), IDENTITY, store, SystemClock(), recorder=recorder
        )
        produced = readings(0, 1200)
        async with (
            Subscriber(broker, f"{BASE}/readings") as subscriber,
            running(forwarder, recorder),
        ):
            for start in range(0, 400, 40):
                for item in produced[start : start + 40]:
                    await recorder.put(item)
                await asyncio.sleep(0.02)
            await wait_until(lambda: forwarder.stats().cursor == 400)
            broker.stop()
            for start in range(400, 1200, 40):
                for item in produced[start : start + 40]:
                    await recorder.put(item)
                await asyncio.sleep(0.02)
            assert forwarder.stats().backlog > 0
            broker.start()
            await wait_until(lambda: forwarder.stats().cursor == 1200)
            await wait_until(lambda: len(set(seqs(subscriber))) == 1200)
            got = seqs(subscriber)
        assert sorted(set(got)) == list(range(1, 1201))
        assert len(got) == 1200, "no duplicates without a crash"
        first = subscriber.payloads("/readings")[0]
        assert first["unit"] == UNIT
        assert first["gateway"] == GATEWAY
        assert {"seq", "probe", "fridge", "compartment", "kind", "ts", "status"} <= set(
            first["readings"][0]
        )
    finally:
        broker.stop()


async def test_tls_with_password_and_client_certificate(
    tmp_path: Path, store: ReadingStore
) -> None:
    tls = make_tls(tmp_path / "tls")
    broker = Mosquitto.create(
        tmp_path / "mq", users={"gw": "secret"}, tls=tls, require_client_cert=True
    )
    broker.start()
    try:
        store.write_batch(readings(0, 50))
        url = f"mqtts://127.0.0.1:{broker.port}"
        settings = mqtt_settings(
            url,
            username="gw",
            password="secret",
            ca_file=str(tls.ca),
            cert_file=str(tls.client_cert),
            key_file=str(tls.client_key),
        )
        context = ssl.create_default_context(cafile=tls.ca)
        context.load_cert_chain(tls.client_cert, tls.client_key)
        forwarder = MqttForwarder(settings, IDENTITY, store, SystemClock())
        async with (
            Subscriber(
                broker, f"{BASE}/#", username="gw", password="secret", tls_context=context
            ) as subscriber,
            running(forwarder),
        ):
            await wait_until(lambda: len(seqs(subscriber)) == 50)
            status = subscriber.payloads("/status")
            assert status[-1]["state"] == "online"
    finally:
        broker.stop()


async def test_tls_without_ca_file_trusts_the_systems_hashed_ca_folder(
    tmp_path: Path, store: ReadingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system's CAs are the trust without ca_file: here a hashed folder holding the test's
    CA, beside a bundle file that does not."""
    tls = make_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", tls.ca)))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.other_ca))
    broker = Mosquitto.create(tmp_path / "mq", tls=tls)
    broker.start()
    try:
        store.write_batch(readings(0, 5))
        settings = mqtt_settings(f"mqtts://127.0.0.1:{broker.port}")
        forwarder = MqttForwarder(settings, IDENTITY, store, SystemClock())
        context = ssl.create_default_context(cafile=tls.ca)
        async with (
            Subscriber(broker, f"{BASE}/#", tls_context=context) as subscriber,
            running(forwarder),
        ):
            await wait_until(lambda: len(seqs(subscriber)) == 5)
    finally:
        broker.stop()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("password", "refused the credentials"),
        ("client_id", "allows client id 'coldchain-3301020001-10001'"),
        pytest.param(
            "tls",
            "TLS certificate not accepted",
            # paho-mqtt 2.2 leaves the socket of a failed TLS handshake unclosed
            # (client.py _ssl_wrap_socket: do_handshake() without close); its ResourceWarning
            # is collected inside this test (gc.collect below) and ignored here.
            marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ),
    ],
)
async def test_refusals_are_clear_and_retried_slowly(
    case: str, expected: str, tmp_path: Path, store: ReadingStore
) -> None:
    tls = make_tls(tmp_path / "tls") if case == "tls" else None
    broker = Mosquitto.create(
        tmp_path / "mq",
        users={"gw": "secret"} if case == "password" else None,
        tls=tls,
        extra="clientid_prefixes allowed-\n" if case == "client_id" else "",
    )
    broker.start()
    try:
        store.write_batch(readings(0, 5))
        extra: dict[str, object] = {"auth_retry_s": 77}
        url = broker.url
        if case == "password":
            extra |= {"username": "gw", "password": "wrong"}
        if tls is not None:
            url = f"mqtts://127.0.0.1:{broker.port}"
            extra["ca_file"] = str(tls.other_ca)
        clock = RecordingClock()
        forwarder = MqttForwarder(mqtt_settings(url, **extra), IDENTITY, store, clock)
        async with running(forwarder):
            await wait_until(lambda: forwarder.stats().state == "auth_failed")
            await wait_until(lambda: 77 in clock.sleeps)
            stats = forwarder.stats()
        assert expected in (stats.last_error or "")
        assert "fix:" in (stats.last_error or "")
        assert stats.backlog == 5
        assert stats.cursor == 0
    finally:
        broker.stop()
        gc.collect()


async def test_commands_and_status(mosquitto: Mosquitto, store: ReadingStore) -> None:
    reloads: list[int] = []

    async def reload(request: dict[str, object]) -> dict[str, object]:
        reloads.append(1)
        return {"ok": True}

    async def refuse(request: dict[str, object]) -> dict[str, object]:
        raise GatewayError(f"alarm {request.get('alarm')} is closed; fix: ack an open alarm")

    forwarder = MqttForwarder(
        mqtt_settings(mosquitto.url),
        IDENTITY,
        store,
        SystemClock(),
        commands={"reload": reload, "ack": refuse},
    )
    async with Subscriber(mosquitto, f"{BASE}/#") as subscriber:
        async with running(forwarder):
            await wait_until(lambda: forwarder.connected)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as county:
                for name, request in (
                    ("ping", "1"),
                    ("reload", "2"),
                    ("ack", "4"),
                    ("explode", "3"),
                ):
                    body = {"id": request, "alarm": 7}
                    await county.publish(f"{BASE}/cmd/{name}", json.dumps(body), qos=1)
                await wait_until(lambda: len(subscriber.payloads("/reply/explode")) == 1)
            alarm = {"alarm": "too_warm", "fridge": "F1", "temperature": 9.2}
            assert await forwarder.publish_alarm(alarm)
            # free text leaves with ID and mobile numbers masked (DESIGN principle 9)
            note = {"alarm": "too_warm", "note": "110101199003074258 called 13987654321"}
            assert await forwarder.publish_alarm(note)
            await wait_until(lambda: len(subscriber.payloads("/alarms")) == 2)
        await wait_until(lambda: subscriber.payloads("/status")[-1]["state"] == "offline")
    assert subscriber.payloads("/reply/ping")[0] | {"at": None} == {
        "id": "1",
        "command": "ping",
        "ok": True,
        "at": None,
    }
    assert subscriber.payloads("/reply/reload")[0]["ok"] is True
    assert reloads == [1]
    unknown = subscriber.payloads("/reply/explode")[0]
    assert unknown["ok"] is False
    assert "unknown command 'explode'; known: ping, ack, reload" in unknown["error"]
    refused = subscriber.payloads("/reply/ack")[0]
    assert refused == {
        "id": "4",
        "command": "ack",
        "ok": False,
        "code": "gateway_error",
        "error": "alarm 7 is closed; fix: ack an open alarm",
    }
    assert subscriber.payloads("/alarms") == [
        alarm,
        {"alarm": "too_warm", "note": "1101************58 called 139****4321"},
    ]
    # The status stays retained for subscribers that come later.
    async with Subscriber(mosquitto, f"{BASE}/status") as late:
        await wait_until(lambda: bool(late.messages))
        assert late.messages[0][2] is True
        assert json.loads(late.messages[0][1])["state"] == "offline"
