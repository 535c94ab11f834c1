"""The MQTT forwarder: readings, alarms and status to the county broker; commands back.

Imported only when `[mqtt]` is configured. Topics, under `{prefix}/{unit_code}/{gateway}/`:

- `readings` (QoS 1): one JSON message per batch (see `readings_payload`). A batch counts as
  delivered when the broker's PUBACK arrives; the cursor advances only then. After a crash the
  unacknowledged batches are published again: consumers de-duplicate by (probe, ts) or seq.
- `alarms` (QoS 1): `publish_alarm(...)`, for the alerts package.
- `status` (QoS 1, retained): `{"state": "online", ...}` on each connect; the last will
  publishes `{"state": "offline"}` (retained) when the connection drops without a goodbye, and
  a clean shutdown publishes it too.
- `cmd/#` (subscribed): commands from the county side. `cmd/ping` is built in; the gateway
  registers the others (`reload`, `ack`) as handlers that take the request's JSON and return
  the reply's fields. The answer goes to `reply/<command>` with the request's `id`. Retained
  commands are ignored (a stale command must not run again at every reconnect).

Alarm events and replies are free text for the county: ID and mobile numbers in them leave
masked (`ledger.masking.mask_raw`); readings and status hold no personal data.

The connection runs in its own task with capped jittered backoff; refused credentials or a
refused client id are retried at `auth_retry_s`, with the fix in health.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence

import aiomqtt

from gateway.core.backoff import Backoff
from gateway.core.cancelling import raise_if_cancelling
from gateway.core.clock import Clock
from gateway.core.errors import ColdchainError
from gateway.forward.errors import AuthError, ForwardError, RetryableError
from gateway.forward.pump import CommitFeed, Pump, PumpStats
from gateway.forward.settings import MqttSettings
from gateway.forward.tags import Identity
from gateway.forward.tls import system_trust
from gateway.storage.readings import ReadingStore, StoredReading, to_millis
from ledger.masking import mask_raw

Command = Callable[[dict[str, object]], Awaitable[dict[str, object]]]


log = logging.getLogger(__name__)

NAME = "mqtt"
_AUTH_CODES = {4, 5, 134, 135}
_CLIENT_ID_CODES = {2, 133}


def readings_payload(identity: Identity, batch: Sequence[StoredReading]) -> bytes:
    """`{"unit", "gateway", "readings": [{seq, probe, fridge, compartment, kind, ts, status,
    temperature?, humidity?, battery?}]}`; ts in ms since the epoch (acquisition time)."""
    items = []
    for stored in batch:
        reading = stored.reading
        tags = identity.of(reading.probe)
        item: dict[str, object] = {"seq": stored.seq, "probe": reading.probe}
        if tags.fridge:
            item["fridge"] = tags.fridge
        if tags.compartment:
            item["compartment"] = tags.compartment
        if tags.kind:
            item["kind"] = tags.kind
        item["ts"] = to_millis(reading.taken_at)
        item["status"] = str(reading.status)
        if not reading.clock_synced:
            item["clock_synced"] = False
        for key in ("temperature", "humidity", "battery"):
            value = getattr(reading, key)
            if value is not None and math.isfinite(value):  # NaN is not JSON
                item[key] = value
        items.append(item)
    data = {**dict(identity.tags()), "readings": items}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _tls_context(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    if settings.ca_file is None:
        context = system_trust()
    else:
        context = ssl.create_default_context(cafile=str(settings.ca_file))
    if settings.cert_file and settings.key_file:
        context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
    return context


class MqttForwarder:
    """Owns the broker connection and a `Pump` whose sink publishes on it."""

    def __init__(
        self,
        settings: MqttSettings,
        identity: Identity,
        store: ReadingStore,
        clock: Clock,
        *,
        recorder: CommitFeed | None = None,
        commands: Mapping[str, Command] | None = None,
    ) -> None:
        self._settings = settings
        self._identity = identity
        self._clock = clock
        self._commands = dict(commands or {})
        self.base = f"{settings.topic_prefix}/{identity.unit}/{identity.gateway}"
        self.client_id = settings.client_id or f"coldchain-{identity.unit}-{identity.gateway}"
        self._server = f"MQTT broker {settings.host}:{settings.port}"
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self._attempted = asyncio.Event()
        self._down: ForwardError = RetryableError(f"{self._server}: not connected yet")
        self.pump = Pump(
            NAME,
            settings.target,
            self,
            store=store,
            clock=clock,
            settings=settings,
            recorder=recorder,
        )

    # -- the sink side (driven by the pump) ------------------------------------------------

    async def send(self, batch: Sequence[StoredReading]) -> None:
        client = self._client
        if client is None:
            # The connection task reported why; repeat its verdict (same message: logged once).
            raise self._down
        payload = readings_payload(self._identity, batch)
        try:
            await client.publish(
                f"{self.base}/readings",
                payload,
                qos=1,
                timeout=self._settings.publish_timeout_s,
            )
        except aiomqtt.MqttError as error:
            raise RetryableError(f"{self._server}: publish not acknowledged ({error})") from None

    def prepare(self, batch: Sequence[StoredReading]) -> None:
        """Nothing to do ahead: a payload is cheap next to its acknowledgement."""

    async def wait_ready(self) -> None:
        if self._client is not None:
            await asyncio.Event().wait()  # connected: a retry waits its backoff
        await self._ready.wait()

    # -- alarms ----------------------------------------------------------------------------

    async def publish_alarm(self, alarm: Mapping[str, object]) -> bool:
        """Publish an alarm event (QoS 1); False when not connected or not acknowledged, and
        the caller (the alarm outbox) keeps it for a later attempt."""
        return await self._publish_event("alarms", alarm)

    async def publish_daily(self, day: Mapping[str, object]) -> bool:
        """Publish one probe's daily figures (QoS 1, `<base>/daily`); False as `publish_alarm`."""
        return await self._publish_event("daily", day)

    async def _publish_event(self, topic: str, event: Mapping[str, object]) -> bool:
        client = self._client
        if client is None:
            return False
        payload = mask_raw(json.dumps(dict(event), ensure_ascii=False, default=str).encode())
        try:
            await client.publish(
                f"{self.base}/{topic}", payload, qos=1, timeout=self._settings.publish_timeout_s
            )
        except aiomqtt.MqttError as error:
            log.warning("%s event not published to %s: %s", topic, self._server, error)
            return False
        return True

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect (and reconnect) and forward until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._connection(), name="mqtt-connection")
            # The pump starts once the first connection attempt is over, so a normal start
            # does not log a "not connected" failure.
            await self._attempted.wait()
            group.create_task(self.pump.run(), name="mqtt-pump")

    def _status(self, state: str) -> bytes:
        data = {
            "state": state,
            "unit": self._identity.unit,
            "gateway": self._identity.gateway,
            "at": self._clock.now().isoformat(),
        }
        return json.dumps(data).encode()

    def _make_client(self) -> aiomqtt.Client:
        settings = self._settings
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            identifier=self.client_id,
            will=aiomqtt.Will(f"{self.base}/status", self._status("offline"), qos=1, retain=True),
            keepalive=settings.keepalive_s,
            tls_context=_tls_context(settings),
            timeout=settings.publish_timeout_s,
        )

    async def _connection(self) -> None:
        settings = self._settings
        backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        while True:
            try:
                await self._session(self._make_client(), backoff)
                delay = backoff.next_delay()
            except aiomqtt.MqttCodeError as error:
                delay = self._refused(error, backoff)
            except aiomqtt.MqttError as error:
                delay = self._lost(str(error), backoff)
            except ssl.SSLError as error:
                delay = self._lost(str(error), backoff)
            finally:
                self._client = None
                self._ready.clear()
                self._attempted.set()
            raise_if_cancelling()
            await self._clock.sleep(delay)

    async def _session(self, client: aiomqtt.Client, backoff: Backoff) -> None:
        async with client:
            await client.publish(f"{self.base}/status", self._status("online"), qos=1, retain=True)
            await client.subscribe(f"{self.base}/cmd/#", qos=1)
            log.info("connected to %s as %s", self._server, self.client_id)
            self._client = client
            self._ready.set()
            self._attempted.set()
            backoff.reset()
            try:
                async for message in client.messages:
                    await self._command(client, message)
            except asyncio.CancelledError:
                self._client = None
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await client.publish(
                        f"{self.base}/status",
                        self._status("offline"),
                        qos=1,
                        retain=True,
                        timeout=1.0,
                    )
                raise

    def _refused(self, error: aiomqtt.MqttCodeError, backoff: Backoff) -> float:
        rc = error.rc
        code = rc if isinstance(rc, int) else int(rc.value) if rc is not None else 0
        if code in _AUTH_CODES:
            # Mosquitto answers "not authorized" to a refused client id too (clientid_prefixes).
            return self._refusal(
                f"{self._server} refused the credentials ({error}); fix: set mqtt.username and "
                "mqtt.password (or the client certificate) to an account the broker accepts, "
                f"and check that the broker allows client id {self.client_id!r} (mqtt.client_id)"
            )
        if code in _CLIENT_ID_CODES:
            return self._refusal(
                f"{self._server} refused client id {self.client_id!r} ({error}); fix: set "
                "mqtt.client_id to an id the broker allows"
            )
        return self._lost(str(error), backoff)

    def _refusal(self, message: str) -> float:
        self._down = AuthError(message)
        self.pump.delivery.report_failure(message, state="auth_failed")
        return self._settings.auth_retry_s

    def _lost(self, text: str, backoff: Backoff) -> float:
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            return self._refusal(
                f"{self._server}: TLS certificate not accepted ({text}); fix: set mqtt.ca_file "
                "to the CA that signed the broker's certificate and use the host name it was "
                "issued for"
            )
        message = f"{self._server}: connection failed or lost ({text}); readings kept"
        self._down = RetryableError(message)
        self.pump.delivery.report_failure(message)
        return backoff.next_delay()

    # -- commands --------------------------------------------------------------------------

    async def _command(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        if message.retain:
            log.info("ignoring retained command on %s", message.topic)
            return
        name = str(message.topic).removeprefix(f"{self.base}/cmd/")
        request: dict[str, object] = {}
        raw = message.payload
        if isinstance(raw, bytes | bytearray) and raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                request = parsed
        reply: dict[str, object] = {"id": request.get("id"), "command": name}
        if name == "ping":
            reply |= {"ok": True, "at": self._clock.now().isoformat()}
        elif name in self._commands:
            reply |= await self._run(name, request)
        else:
            known = ", ".join(["ping", *sorted(self._commands)])
            reply |= {"ok": False, "error": f"unknown command {name!r}; known: {known}"}
        log.info("command %s from %s: %s", name, self._server, reply)
        await client.publish(
            f"{self.base}/reply/{name}",
            mask_raw(json.dumps(reply, ensure_ascii=False).encode()),
            qos=1,
        )

    async def _run(self, name: str, request: dict[str, object]) -> dict[str, object]:
        try:
            return await self._commands[name](request)
        except ColdchainError as error:  # a refused command is answered, not fatal
            log.warning("command %s over MQTT refused: %s", name, error)
            return {"ok": False, "code": error.code, "error": str(error)}

    # -- health ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None

    def stats(self) -> PumpStats:
        return self.pump.stats()
