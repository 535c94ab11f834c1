"""The BLE driver fed through bleak's own BLEDevice/AdvertisementData, with a fake clock and
a fake scanner (adapter) so that adapter failures can be staged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware_sim.ble_replay import SimulatedBleSensor, replay
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import FakeClock
from probes.ble import NO_ADAPTER, AdapterState, BleDriver
from probes.ble_decode import BleFormat
from probes.ble_scanner import (
    AdapterFailedError,
    AdapterMissingError,
    DetectionCallback,
    ScanMode,
    ScannerLike,
)
from probes.reading import ProbeStatus
from probes.settings import BleProbe, BleSettings
from tests.sources.conftest import Collected, Start

KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")


class FakeAdapter:
    """Hands out scanners; `failures` are raised by the next start() calls, in order."""

    def __init__(self, failures: Sequence[Exception] = ()) -> None:
        self.failures = list(failures)
        self.callback: DetectionCallback | None = None
        self.starts = 0
        self.scanning = False

    async def factory(
        self, callback: DetectionCallback, settings: BleSettings, formats: Sequence[BleFormat]
    ) -> ScannerLike:
        self.callback = callback
        return _FakeScanner(self)


class _FakeScanner:
    mode: ScanMode = "active"

    def __init__(self, adapter: FakeAdapter) -> None:
        self.adapter = adapter

    async def start(self) -> None:
        self.adapter.starts += 1
        if self.adapter.failures:
            raise self.adapter.failures.pop(0)
        self.adapter.scanning = True

    async def stop(self) -> None:
        self.adapter.scanning = False


def _state(driver: BleDriver) -> AdapterState:
    return driver.health.state


def _probe(code: str, mac: str, fmt: BleFormat, key: str | None = None) -> BleProbe:
    return BleProbe(code=code, mac=mac, format=fmt, bind_key=key, compartment="F1/main")


SENSORS = [
    ("P-BTH", "A4:C1:38:00:00:01", BleFormat.BTHOME),
    ("P-XIA", "A4:C1:38:00:00:02", BleFormat.XIAOMI),
    ("P-INK", "A4:C1:38:00:00:03", BleFormat.INKBIRD),
    ("P-GOV", "A4:C1:38:00:00:04", BleFormat.GOVEE),
    ("P-RUU", "A4:C1:38:00:00:05", BleFormat.RUUVI),
    ("P-ATC", "A4:C1:38:00:00:06", BleFormat.ATC),
]


def _sim(mac: str, fmt: BleFormat) -> SimulatedBleSensor:
    return SimulatedBleSensor(mac=mac, format=fmt, scenario=build_scenario("steady"))


async def _started(
    clock: FakeClock,
    background: Start,
    collected: Collected,
    adapter: FakeAdapter,
    probes: list[BleProbe],
    **settings: float,
) -> BleDriver:
    driver = BleDriver(probes, BleSettings(**settings), collected.reading, clock, adapter.factory)
    background(driver.run())
    await clock.advance(0)
    return driver


@pytest.mark.asyncio
async def test_every_format_through_bleak_objects(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    probes = [_probe(code, mac, fmt) for code, mac, fmt in SENSORS]
    probes[0] = _probe("P-BTH", SENSORS[0][1], BleFormat.BTHOME, KEY.hex())
    driver = await _started(clock, background, collected, adapter, probes)
    assert driver.health.state is AdapterState.SCANNING
    sims = [_sim(mac, fmt) for _, mac, fmt in SENSORS]
    sims[0].bind_key = KEY
    assert adapter.callback is not None
    background(replay(sims, adapter.callback, clock))
    await clock.advance(39.9)  # starts spread over 0-8.3 s: 4 intervals each
    for code, _, fmt in SENSORS:
        readings = collected.of(code)
        if fmt in (BleFormat.GOVEE, BleFormat.INKBIRD):  # no counter: equal values are dropped
            assert 1 <= len(readings) <= 4, code
        else:
            assert len(readings) == 4, code  # one per 10 s interval: the 3 repeats dropped
        assert all(r.status is ProbeStatus.OK for r in readings), code
        assert readings[0].temperature is not None
        assert 3.0 < readings[0].temperature < 6.5, code
    health = driver.health.probes["P-BTH"]
    assert health.duplicates == 8
    assert health.rssi == -70
    assert collected.of("P-BTH")[0].battery == 90.0
    assert collected.of("P-RUU")[0].battery is not None  # estimated from the cell voltage


@pytest.mark.asyncio
async def test_an_unchanged_packet_without_counter_is_recorded_again_after_a_while(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    mac = "A4:C1:38:00:00:04"
    probe = BleProbe(
        code="P1", mac=mac, format=BleFormat.GOVEE, compartment="F/m", resend_unchanged_s=30
    )
    await _started(clock, background, collected, adapter, [probe])
    sim = SimulatedBleSensor(mac=mac, format=BleFormat.GOVEE, scenario=build_scenario("steady"))
    payload = sim.payload(0)
    assert payload is not None
    assert adapter.callback is not None
    device, data = sim.bleak_objects(payload)
    for _ in range(10):  # the same packet every 10 s for 100 s
        adapter.callback(device, data)
        await clock.advance(10)
    assert len(collected.of("P1")) == 4  # at 0, 30, 60, 90 s


@pytest.mark.asyncio
async def test_unbound_macs_are_ignored_and_bad_packets_counted(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    driver = await _started(
        clock, background, collected, adapter, [_probe("P1", "AA:BB:CC:DD:EE:01", BleFormat.RUUVI)]
    )
    assert adapter.callback is not None
    stranger = BLEDevice("11:22:33:44:55:66", None, None)
    bound = BLEDevice("aa:bb:cc:dd:ee:01", None, None)

    def ad(data: bytes, rssi: int = -50) -> AdvertisementData:
        return AdvertisementData(None, {0x0499: data}, {}, [], None, rssi, ())

    adapter.callback(stranger, ad(b"\x05" * 24))
    adapter.callback(bound, ad(b"\x05\x01"))  # truncated
    adapter.callback(bound, ad(b"\x03" + bytes(23)))  # data format 3
    await clock.advance(1)
    assert collected.readings == []
    assert driver.health.advertisements == 3
    assert driver.health.probes["P1"].decode_errors == 2
    assert "data format 3" in (driver.health.probes["P1"].last_error or "")


@pytest.mark.asyncio
async def test_wrong_bind_key_gives_no_reading(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    mac = "54:48:E6:8F:80:A5"
    driver = await _started(
        clock, background, collected, adapter, [_probe("P1", mac, BleFormat.BTHOME, "00" * 16)]
    )
    sim = _sim(mac, BleFormat.BTHOME)
    sim.bind_key = KEY
    assert adapter.callback is not None
    background(replay([sim], adapter.callback, clock))
    await clock.advance(25)
    assert collected.readings == []
    assert "did not decrypt" in (driver.health.probes["P1"].last_error or "")


@pytest.mark.asyncio
async def test_stale_after_a_learned_multiple_of_the_interval(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    mac = "AA:BB:CC:DD:EE:01"
    probe = BleProbe(
        code="P1",
        mac=mac,
        format=BleFormat.RUUVI,
        compartment="F/m",
        stale_multiple=4,
        stale_min_s=10,
    )
    driver = await _started(clock, background, collected, adapter, [probe], adapter_silence_s=1e6)
    assert driver.stale_after_s("P1") == 900.0  # nothing learned yet
    sim = _sim(mac, BleFormat.RUUVI)
    sim.interval_s = 5.0
    assert adapter.callback is not None
    sender = background(replay([sim], adapter.callback, clock))
    await clock.advance(30)
    assert driver.health.probes["P1"].learned_interval_s == pytest.approx(5.0)
    assert driver.stale_after_s("P1") == pytest.approx(20.0)
    sender.cancel()
    await clock.advance(19)
    assert collected.of("P1")[-1].status is ProbeStatus.OK
    await clock.advance(2)
    assert collected.of("P1")[-1].status is ProbeStatus.STALE
    assert driver.health.probes["P1"].stale


@pytest.mark.asyncio
async def test_no_adapter_is_reported_and_the_driver_keeps_running(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter([AdapterMissingError("hci0 not found")] * 2)
    driver = await _started(
        clock,
        background,
        collected,
        adapter,
        [_probe("P1", "AA:BB:CC:DD:EE:01", BleFormat.RUUVI)],
        backoff_initial_s=10,
        backoff_max_s=10,
    )
    assert driver.health.state is AdapterState.NO_ADAPTER
    assert (driver.health.message or "").startswith(NO_ADAPTER)
    assert [r.status for r in collected.readings] == [ProbeStatus.BUS_ERROR]
    await clock.advance(25)  # two more tries; the second works (a dongle was plugged in)
    assert adapter.starts == 3
    assert _state(driver) is AdapterState.SCANNING  # read anew: the driver moved on
    assert len(collected.readings) == 1  # bus_error reported once, not per retry


@pytest.mark.asyncio
async def test_a_silent_adapter_is_restarted(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    driver = await _started(
        clock,
        background,
        collected,
        adapter,
        [_probe("P1", "AA:BB:CC:DD:EE:01", BleFormat.RUUVI)],
        adapter_silence_s=60,
        backoff_initial_s=5,
        backoff_max_s=5,
    )
    assert adapter.starts == 1
    adapter.failures = [AdapterFailedError("org.bluez.Error.NotReady")]
    await clock.advance(61)
    assert driver.health.restarts == 1
    assert driver.health.state is AdapterState.FAILED
    assert "rfkill" in (driver.health.message or "")
    await clock.advance(6)
    assert _state(driver) is AdapterState.SCANNING  # read anew: the driver moved on
    assert adapter.starts == 3


@pytest.mark.asyncio
async def test_bleak_is_not_needed_until_a_scanner_starts() -> None:
    """Constructing the driver imports no parser for unconfigured formats."""
    import sys

    for name in ("govee_ble", "inkbird_ble"):
        sys.modules.pop(name, None)
    BleDriver(
        [_probe("P1", "AA:BB:CC:DD:EE:01", BleFormat.RUUVI)],
        BleSettings(),
        Collected().reading,
        FakeClock(),
    )
    await asyncio.sleep(0)
    assert "govee_ble" not in sys.modules
    assert "inkbird_ble" not in sys.modules


def _bthome_ad(payload: str) -> AdvertisementData:
    service = {"0000fcd2-0000-1000-8000-00805f9b34fb": bytes.fromhex(payload)}
    return AdvertisementData(None, {}, service, [], None, -60, ())


@pytest.mark.asyncio
async def test_advertisements_without_a_temperature_give_no_reading_and_the_probe_goes_stale(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    """A sensor that keeps advertising humidity or battery only, or corrupt packets, never
    shows its last good temperature again: no reading, and stale on the learned interval."""
    adapter = FakeAdapter()
    mac = "A4:C1:38:8D:18:B2"
    probe = BleProbe(
        code="P1", mac=mac, format=BleFormat.BTHOME, compartment="F/m", stale_multiple=4,
        stale_min_s=10,
    )  # fmt: skip
    driver = await _started(clock, background, collected, adapter, [probe], adapter_silence_s=1e6)
    assert adapter.callback is not None
    device = BLEDevice(mac, None, None)
    for second in range(0, 25, 5):  # 25.06 °C every 5 s, each packet with its own id
        adapter.callback(device, _bthome_ad(f"4000{second:02x}02ca09"))
        await clock.advance(5)
    assert [r.temperature for r in collected.of("P1")] == [25.06] * 5
    assert driver.stale_after_s("P1") == pytest.approx(20.0)
    for second in range(25, 60, 5):  # now humidity only, battery only, corrupt, in turn
        payload = ("4000{:02x}03bf13", "4000{:02x}0161", "4000{:02x}02ca")[second % 3]
        adapter.callback(device, _bthome_ad(payload.format(second)))
        await clock.advance(5)
    readings = collected.of("P1")
    assert [r.status for r in readings] == [ProbeStatus.OK] * 5 + [ProbeStatus.STALE]
    health = driver.health.probes["P1"]
    assert health.stale
    assert health.battery == 97.0
    assert health.packets == 5 + 7


@pytest.mark.asyncio
async def test_a_rejected_advertisement_counts_as_a_decode_error(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    adapter = FakeAdapter()
    mac = "A4:C1:38:8D:18:B2"
    driver = await _started(
        clock, background, collected, adapter, [_probe("P1", mac, BleFormat.BTHOME)]
    )
    assert adapter.callback is not None
    adapter.callback(BLEDevice(mac, None, None), _bthome_ad("00"))  # BTHome version 0
    await clock.advance(1)
    assert collected.readings == []
    assert driver.health.probes["P1"].decode_errors == 1


@pytest.mark.asyncio
async def test_the_channels_of_one_device_are_probes_of_their_own(
    clock: FakeClock, background: Start, collected: Collected
) -> None:
    """bthome-ble's test_bthome_triple_temperature_double_humidity_battery advertisement:
    three temperature objects, each bound to its own probe and compartment."""
    adapter = FakeAdapter()
    mac = "A4:C1:38:8D:18:B2"
    probes = [
        BleProbe(code=f"P{n}", mac=mac, format=BleFormat.BTHOME, channel=str(n), compartment=ref)
        for n, ref in ((1, "F1/冷藏"), (2, "F1/冷冻"), (3, "F2/冷藏"))
    ]
    driver = await _started(clock, background, collected, adapter, probes)
    assert adapter.callback is not None
    payload = "4002ca0902cf0902cf0803b71803b717015d"  # object ids out of order, as recorded
    adapter.callback(BLEDevice(mac, None, None), _bthome_ad(payload))
    await clock.advance(1)
    got = {r.probe: (r.temperature, r.humidity, r.battery) for r in collected.readings}
    assert got == {
        "P1": (25.06, 63.27, 93.0),
        "P2": (25.11, 60.71, 93.0),
        "P3": (22.55, None, 93.0),
    }
    assert driver.health.probes["P3"].channels_seen == ("1", "2", "3")
