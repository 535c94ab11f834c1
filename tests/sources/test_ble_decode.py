"""BLE decoders on recorded advertisements; each vector names where it comes from."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.ble_decode import (
    BTHOME_UUID,
    ENV_SENSING_UUID,
    MAIN,
    RUUVI_COMPANY_ID,
    XIAOMI_UUID,
    Advertisement,
    BleDecodeError,
    BleFormat,
    Channel,
    Decoded,
    DecryptionError,
    UnknownFormatError,
    make_decoder,
    single,
)

BTHOME_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
# bthome-ble tests/test_parser_v2.py::test_bindkey_correct (BTHome v2, AES-CCM, counter 00112233)
BTHOME_ENCRYPTED = bytes.fromhex("41a47266c95f7300112233782372 14".replace(" ", ""))
BTHOME_ENCRYPTED_MAC = "54:48:E6:8F:80:A5"


def _ad(address: str = "A4:C1:38:8D:18:B2", **kwargs: object) -> Advertisement:
    return Advertisement(address=address, rssi=-60, **kwargs)  # type: ignore[arg-type]


def test_bthome_v2_plain() -> None:
    # bthome.io/format "Example": 40 02 CA09 03 BF13 -> 25.06 °C, 50.55 %
    # (also bthome-ble tests/test_parser_v2.py::test_bthome_temperature_humidity)
    decoded = make_decoder(BleFormat.BTHOME).decode(
        _ad(service_data={BTHOME_UUID: bytes.fromhex("4002ca0903bf13")})
    )
    assert decoded == single(25.06, 50.55)


def test_bthome_v2_encrypted_with_the_right_key() -> None:
    decoder = make_decoder(BleFormat.BTHOME, BTHOME_KEY)
    decoded = decoder.decode(
        _ad(BTHOME_ENCRYPTED_MAC, service_data={BTHOME_UUID: BTHOME_ENCRYPTED})
    )
    assert decoded.channels == {MAIN: Channel(25.06, 50.55)}


def test_bthome_v2_encrypted_with_a_wrong_key() -> None:
    decoder = make_decoder(BleFormat.BTHOME, bytes(16))
    with pytest.raises(DecryptionError, match="bind_key"):
        decoder.decode(_ad(BTHOME_ENCRYPTED_MAC, service_data={BTHOME_UUID: BTHOME_ENCRYPTED}))


def test_bthome_v2_encrypted_without_a_key() -> None:
    decoder = make_decoder(BleFormat.BTHOME)
    with pytest.raises(DecryptionError, match="set the probe's bind_key"):
        decoder.decode(_ad(BTHOME_ENCRYPTED_MAC, service_data={BTHOME_UUID: BTHOME_ENCRYPTED}))


def test_bthome_plaintext_while_a_key_is_configured_is_refused() -> None:
    decoder = make_decoder(BleFormat.BTHOME, BTHOME_KEY)
    with pytest.raises(DecryptionError, match="plaintext"):
        decoder.decode(_ad(service_data={BTHOME_UUID: bytes.fromhex("4002ca0903bf13")}))


def test_bind_key_length_is_checked() -> None:
    with pytest.raises(ValueError, match="32 hex digits"):
        make_decoder(BleFormat.BTHOME, b"short")
    with pytest.raises(ValueError, match="not encrypted"):
        make_decoder(BleFormat.GOVEE, BTHOME_KEY)


def test_xiaomi_lywsd03mmc_mibeacon_v3() -> None:
    # xiaomi-ble tests/test_parser.py::test_Xiaomi_LYWSD03MMC -> 27.2 °C, 49.0 %
    data = b"P0[\x05\x03L\x94\xb48\xc1\xa4\r\x10\x04\x10\x01\xea\x01"
    decoded = make_decoder(BleFormat.XIAOMI).decode(
        _ad("A4:C1:38:B4:94:4C", service_data={XIAOMI_UUID: data})
    )
    assert decoded.channels == {MAIN: Channel(27.2, 49.0)}


def test_inkbird_ibs_th() -> None:
    # inkbird-ble tests/test_parser.py::test_sps (the temperature rides in the company id)
    decoded = make_decoder(BleFormat.INKBIRD).decode(
        _ad(
            "AA:BB:CC:DD:EE:FF",
            name="sps",
            manufacturer_data={2044: b"\xc7\x12\x00\xc8=V\x06"},
            service_uuids=("0000fff0-0000-1000-8000-00805f9b34fb",),
        )
    )
    assert decoded == single(20.44, 48.07, battery=86.0)


def test_govee_h5075() -> None:
    # govee-ble tests/test_parser.py GVH5075_SERVICE_INFO -> 21.3 °C, 44.2 %, 100 %
    data = bytes.fromhex("000341c264004c00") + b"\x02\x15INTELLI_ROCKS_HWPu\xf2\xff\x0c"
    decoded = make_decoder(BleFormat.GOVEE).decode(
        _ad(
            "A4:C1:38:8D:27:62",
            name="GVH5075_2762",
            manufacturer_data={0xEC88: data},
            service_uuids=("0000ec88-0000-1000-8000-00805f9b34fb",),
        )
    )
    assert decoded == single(21.3, 44.2, battery=100.0)


# docs.ruuvi.com data-format-5-rawv2 "Test vectors"
RUUVI_VALID = bytes.fromhex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F")
RUUVI_MAX = bytes.fromhex("057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F")
RUUVI_MIN = bytes.fromhex("058001000000008001800180010000000000CBB8334C884F")
RUUVI_INVALID = bytes.fromhex("058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF")


def _ruuvi(data: bytes) -> Decoded:
    return make_decoder(BleFormat.RUUVI).decode(_ad(manufacturer_data={RUUVI_COMPANY_ID: data}))


def test_ruuvi_df5_document_vectors() -> None:
    valid = _ruuvi(RUUVI_VALID)
    assert (
        valid.channels[MAIN].temperature,
        valid.channels[MAIN].humidity,
        valid.battery_voltage,
        valid.packet_id,
    ) == (
        24.3,
        53.49,
        2.977,
        205,
    )
    maximum = _ruuvi(RUUVI_MAX)
    assert (
        maximum.channels[MAIN].temperature,
        maximum.channels[MAIN].humidity,
        maximum.battery_voltage,
    ) == (
        163.835,
        163.835,
        3.646,
    )
    assert maximum.packet_id == 65534
    minimum = _ruuvi(RUUVI_MIN)
    assert (
        minimum.channels[MAIN].temperature,
        minimum.channels[MAIN].humidity,
        minimum.battery_voltage,
    ) == (
        -163.835,
        0.0,
        1.6,
    )
    invalid = _ruuvi(RUUVI_INVALID)
    assert invalid == single(None)


def test_ruuvi_truncated_and_other_formats() -> None:
    with pytest.raises(BleDecodeError, match="truncated: 10 of 24"):
        _ruuvi(RUUVI_VALID[:10])
    with pytest.raises(UnknownFormatError, match="data format 3"):
        _ruuvi(b"\x03" + RUUVI_VALID[1:])


def test_atc_custom_firmware_formats() -> None:
    # Built by hand from the layout in the pvvx ATC_MiThermometer README ("Custom format", all
    # little-endian; no recorded vector is published): 21.35 °C, 45.67 %, 2.951 V, 89 %, #7
    pvvx = bytes.fromhex("4c94b438c1a4") + bytes.fromhex("5708d711870b5907")
    decoded = make_decoder(BleFormat.ATC).decode(
        _ad(service_data={ENV_SENSING_UUID: pvvx + b"\x04"})
    )
    assert decoded == single(21.35, 45.67, 89.0, 2.951, 7)
    # Built from the atc1441 ATC_MiThermometer README layout (big-endian): 21.3 °C, 45 %, 89 %
    atc = bytes.fromhex("a4c138b4944c") + bytes.fromhex("00d52d590b8707")
    decoded = make_decoder(BleFormat.ATC).decode(_ad(service_data={ENV_SENSING_UUID: atc}))
    assert decoded == single(21.3, 45.0, 89.0, 2.951, 7)


@pytest.mark.parametrize("fmt", list(BleFormat))
def test_unknown_payload_is_an_unknown_format(fmt: BleFormat) -> None:
    with pytest.raises(UnknownFormatError):
        make_decoder(fmt).decode(_ad(manufacturer_data={0x1234: b"\x01\x02"}))


_uuids = st.sampled_from(
    [BTHOME_UUID, XIAOMI_UUID, ENV_SENSING_UUID, "0000ec88-0000-1000-8000-00805f9b34fb"]
)
_companies = st.sampled_from([RUUVI_COMPANY_ID, 0xEC88, 2044, 0x0001, 0xFFFF])


@pytest.mark.parametrize("fmt", list(BleFormat))
@settings(max_examples=150, deadline=None)
@given(
    service=st.dictionaries(_uuids, st.binary(max_size=40), max_size=2),
    manufacturer=st.dictionaries(_companies, st.binary(max_size=40), max_size=2),
    name=st.none() | st.sampled_from(["sps", "tps", "GVH5075_1234", "ATC_1234", "x"]),
)
def test_arbitrary_bytes_raise_only_decode_errors(
    fmt: BleFormat,
    service: dict[str, bytes],
    manufacturer: dict[int, bytes],
    name: str | None,
) -> None:
    key = BTHOME_KEY if fmt is BleFormat.BTHOME else None
    advertisement = _ad(name=name, service_data=service, manufacturer_data=manufacturer)
    with contextlib.suppress(BleDecodeError):
        make_decoder(fmt, key).decode(advertisement)
