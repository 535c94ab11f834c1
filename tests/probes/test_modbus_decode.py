"""Register decoding on recorded register blocks, and round trips through the encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.modbus_decode import decode_channel, encode_humidity, encode_temperature
from probes.profiles import RegisterProfile, builtin_profiles
from probes.reading import ProbeStatus

PROFILES = builtin_profiles()
TH = PROFILES["rs485-th"]
PT100 = PROFILES["pt100"]
LOGGER = PROFILES["logger-8ch"]


def test_shipped_profiles() -> None:
    assert set(PROFILES) == {"rs485-th", "logger-8ch", "pt100"}
    assert (TH.register_type, TH.first_address, TH.register_count) == ("input", 1, 2)
    assert LOGGER.channels == 8


@pytest.mark.parametrize(
    ("registers", "temperature", "humidity"),
    [
        ([0x002D, 0x0228], 4.5, 55.2),  # 45 -> 4.5 °C, 552 -> 55.2 %
        ([0xFF4C, 0x0190], -18.0, 40.0),  # -180 as two's complement
        ([0x0000, 0x03E8], 0.0, 100.0),
    ],
)
def test_temperature_humidity_transmitter(
    registers: list[int], temperature: float, humidity: float
) -> None:
    value = decode_channel(TH, 0, 1, registers)
    assert (value.status, value.temperature, value.humidity) == (
        ProbeStatus.OK,
        temperature,
        humidity,
    )


def test_pt100_sentinel_is_disconnected_never_a_temperature() -> None:
    value = decode_channel(PT100, 0, 0, [0x7FFF])
    assert value.status is ProbeStatus.DISCONNECTED
    assert value.temperature is None


def test_logger_channel_without_probe_reads_0x8000() -> None:
    block = [0x0032, 0x8000, 0xFF38, 0, 0, 0, 0, 0]
    assert decode_channel(LOGGER, 0, 0, block).temperature == 5.0
    assert decode_channel(LOGGER, 1, 0, block).status is ProbeStatus.DISCONNECTED
    assert decode_channel(LOGGER, 2, 0, block).temperature == -20.0


def test_logger_span_covers_only_the_channels_used() -> None:
    assert LOGGER.span({1, 2}) == (1, 2)
    block = [0x0032, 0xFF38]
    assert decode_channel(LOGGER, 2, 1, block).temperature == -20.0
    with pytest.raises(ValueError, match="outside the 2 registers"):
        decode_channel(LOGGER, 5, 1, block)


def test_value_outside_the_physical_range_is_not_stored_as_temperature() -> None:
    value = decode_channel(TH, 0, 1, [0x0320, 0x0100])  # 80.0 °C: beyond the sensor's 60 °C
    assert value.status is ProbeStatus.OUT_OF_RANGE
    assert value.temperature is None
    assert value.humidity is None


def test_humidity_beyond_100_percent_is_dropped_not_the_temperature() -> None:
    value = decode_channel(TH, 0, 1, [0x002D, 0x0FFF])
    assert value.temperature == 4.5
    assert value.humidity is None


def test_float32_profile() -> None:
    profile = RegisterProfile.model_validate(
        {
            "name": "float-probe",
            "description": "IEEE float, big-endian words",
            "register_type": "holding",
            "channels": 2,
            "channel_stride": 2,
            "first_address": 100,
            "physical_min": -80,
            "physical_max": 80,
            "temperature": {"offset": 0, "datatype": "float32"},
        }
    )
    block = encode_temperature(profile, 4.25) + encode_temperature(profile, -21.5)
    assert decode_channel(profile, 1, 100, block).temperature == -21.5


def test_a_field_that_does_not_fit_its_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="raise channel_stride"):
        RegisterProfile.model_validate(TH.model_dump() | {"name": "bad", "channel_stride": 1})


@given(st.integers(min_value=-400, max_value=600), st.integers(min_value=0, max_value=1000))
def test_any_in_range_value_round_trips(tenths: int, humidity_tenths: int) -> None:
    celsius, humidity = tenths / 10, humidity_tenths / 10
    block = encode_temperature(TH, celsius) + encode_humidity(TH, humidity)
    value = decode_channel(TH, 0, 1, block)
    assert value.status is ProbeStatus.OK
    assert value.temperature == celsius
    assert value.humidity == humidity


@given(st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=1, max_size=1))
def test_any_register_value_decodes_to_a_status_never_a_crash(block: list[int]) -> None:
    value = decode_channel(PT100, 0, 0, block)
    if value.status is ProbeStatus.OK:
        assert value.temperature is not None
        assert PT100.physical_min <= value.temperature <= PT100.physical_max
    else:
        assert value.temperature is None
