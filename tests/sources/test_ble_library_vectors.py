"""The BLE decoders against the parser libraries' own recorded advertisements.

`ble_vectors/*.json` holds every advertisement the test suites of bthome-ble, xiaomi-ble,
govee-ble and inkbird-ble hand their parsers (the corrupt, truncated, wrongly keyed and
unknown ones included), each with the temperatures its library's passing test asserts for it
alone. Each is decoded on its own and must give exactly those temperatures, channel by
channel; one the library drops must give none (refused as a decode error, or no reading).
Decoding them one after another with one decoder must give the same answers: nothing one
advertisement said leaks into the next.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from probes.ble_decode import (
    BTHOME_UUID,
    MAIN,
    Advertisement,
    BleDecodeError,
    BleFormat,
    Channel,
    Decoded,
    Decoder,
    make_decoder,
)

VECTORS = Path(__file__).parent / "ble_vectors"
FORMATS = [BleFormat.BTHOME, BleFormat.XIAOMI, BleFormat.GOVEE, BleFormat.INKBIRD]

#: Vectors whose library test gives the parser something a gateway probe does not have.
NOT_APPLICABLE = {
    "tests/test_parser.py::test_corrupt_name[IBS-TH0]": "the test tells the parser the model "
    "(IBS-TH); a probe names no Inkbird model, so with the name corrupt it is refused",
}


def vectors(fmt: BleFormat) -> list[dict[str, Any]]:
    document = json.loads((VECTORS / f"{fmt}.json").read_text("utf-8"))
    assert document["format"] == fmt
    found: list[dict[str, Any]] = document["vectors"]
    return found


def advertisement(vector: dict[str, Any]) -> Advertisement:
    return Advertisement(
        address=vector["address"],
        name=vector["name"] or None,
        manufacturer_data={
            int(company): bytes.fromhex(data)
            for company, data in vector["manufacturer_data"].items()
        },
        service_data={uuid: bytes.fromhex(data) for uuid, data in vector["service_data"].items()},
        service_uuids=tuple(vector["service_uuids"]),
        rssi=-60,
    )


def outcome(decoder: Decoder, vector: dict[str, Any]) -> tuple[str, dict[str, list[Any]]]:
    """("refused" | "no temperature" | "read", temperature and humidity by channel)."""
    try:
        decoded = decoder.decode(advertisement(vector))
    except BleDecodeError:
        return "refused", {}
    channels = {
        name: [channel.temperature, channel.humidity] for name, channel in decoded.channels.items()
    }
    return ("read" if channels else "no temperature"), channels


def decoder_for(fmt: BleFormat, vector: dict[str, Any]) -> Decoder:
    key = vector["bindkey"]
    return make_decoder(fmt, None if key is None else bytes.fromhex(key))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_recorded_advertisement_gives_what_its_library_asserts(fmt: BleFormat) -> None:
    tally: Counter[str] = Counter()
    wrong = []
    for vector in vectors(fmt):
        if vector["test"] in NOT_APPLICABLE:
            tally["not applicable"] += 1
            continue
        kind, channels = outcome(decoder_for(fmt, vector), vector)
        tally[kind] += 1
        if vector["expected"] is None:
            continue
        tally["compared"] += 1
        if channels == vector["expected"]:
            tally["matched"] += 1
        else:
            wrong.append((vector["test"], vector["expected"], kind, channels))
    assert wrong == []
    assert tally["compared"] >= 60
    assert tally["read"] >= 15
    assert tally["refused"] >= 1  # each suite has advertisements its library rejects


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_decoder_fed_every_advertisement_answers_each_as_if_alone(fmt: BleFormat) -> None:
    plain = [vector for vector in vectors(fmt) if vector["bindkey"] is None]
    shared = make_decoder(fmt)
    for vector in plain:
        assert outcome(shared, vector) == outcome(make_decoder(fmt), vector), vector["test"]


def _bthome(payload: str) -> Decoded:
    return make_decoder(BleFormat.BTHOME).decode(
        Advertisement("A4:C1:38:8D:18:B2", service_data={BTHOME_UUID: bytes.fromhex(payload)})
    )


def test_a_humidity_only_advertisement_after_a_temperature_gives_no_temperature() -> None:
    decoder = make_decoder(BleFormat.BTHOME)
    ad = "A4:C1:38:8D:18:B2"
    first = decoder.decode(Advertisement(ad, service_data={BTHOME_UUID: bytes.fromhex("4002ca09")}))
    assert first.channels == {MAIN: Channel(25.06)}
    humidity = decoder.decode(
        Advertisement(ad, service_data={BTHOME_UUID: bytes.fromhex("4003bf13")})
    )
    assert humidity.channels == {}
    battery = decoder.decode(Advertisement(ad, service_data={BTHOME_UUID: bytes.fromhex("400161")}))
    assert (battery.channels, battery.battery) == ({}, 97.0)


def _named(fmt: BleFormat, test: str) -> dict[str, Any]:
    return next(vector for vector in vectors(fmt) if vector["test"].endswith(test))


# Two and three BTHome temperature objects; a Govee H5178 base and its remote sensor on one MAC
# (one device id each); multi-probe thermometers, probes by number (their alarm thresholds are
# not temperatures).
SEVERAL = [
    (BleFormat.BTHOME, "test_bthome_double_temperature", {"1": [25.06, None], "2": [25.11, None]}),
    (
        BleFormat.BTHOME,
        "test_bthome_triple_temperature_double_humidity_battery",
        {"1": [25.06, 63.27], "2": [25.11, 60.71], "3": [22.55, None]},
    ),
    (BleFormat.GOVEE, "test_gvh5178", {"remote": [1.0, 99.9]}),
    (BleFormat.GOVEE, "test_gvh5178_primary", {"primary": [1.0, 99.9]}),
    (BleFormat.GOVEE, "test_gvh5198_probe_3_4", {"3": [36.0, None], "4": [23.0, None]}),
    (BleFormat.GOVEE, "test_gvh5191", {"": [28.0, None], "1": [40.0, None]}),
    (
        BleFormat.INKBIRD,
        "test_ibbq_4_sub_zero_probe",
        {"1": [-5.0, None], "2": [25.0, None], "3": [26.0, None], "4": [25.0, None]},
    ),
]


@pytest.mark.parametrize(("fmt", "test", "channels"), SEVERAL)
def test_several_temperatures_are_channels(
    fmt: BleFormat, test: str, channels: dict[str, list[Any]]
) -> None:
    vector = _named(fmt, test)
    assert vector["expected"] == channels
    assert outcome(decoder_for(fmt, vector), vector) == ("read", channels)
