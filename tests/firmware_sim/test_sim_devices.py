"""Register layout, fault decisions and configuration helpers of the simulated devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.modbus_devices import (
    ModbusSimulator,
    ProbeSpec,
    SimulatedChannel,
    build_channels,
    channels_for_settings,
    first_refrigerated,
    probe_specs,
)
from firmware_sim.scenarios import build_scenario
from gateway.core.clock import FakeClock
from gateway.core.compartments import CompartmentKind
from gateway.settings import load_settings
from gateway.sim_cli import DEMO_PORT, DEMO_PROBES
from probes.modbus_decode import decode_channel
from probes.profiles import FieldMap, RegisterProfile
from probes.reading import ProbeStatus
from probes.settings import TcpBus

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo.toml"


@pytest.mark.asyncio
async def test_registers_follow_the_scenario_as_the_clock_moves(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100", "compressor-failure")], clock)
    profile = simulator.devices[1].profile
    before = decode_channel(profile, 0, 0, simulator.registers(1))
    assert before.status is ProbeStatus.OK
    assert before.temperature is not None
    assert before.temperature < 8.0
    await clock.advance(3 * 3600)
    after = decode_channel(profile, 0, 0, simulator.registers(1))
    assert after.temperature is not None
    assert after.temperature > 8.0
    sample = simulator.sample(1, 0)
    assert sample.temperature == pytest.approx(after.temperature, abs=0.05)


def test_logger_inputs_without_a_probe_read_as_disconnected(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator(
        [channel(3, "logger-8ch", index=1), channel(3, "logger-8ch", index=5)], clock
    )
    registers = simulator.registers(3)
    profile = simulator.devices[3].profile
    assert len(registers) == 8
    statuses = [decode_channel(profile, index, 0, registers).status for index in range(8)]
    assert statuses == [
        ProbeStatus.DISCONNECTED,
        ProbeStatus.OK,
        *[ProbeStatus.DISCONNECTED] * 3,
        ProbeStatus.OK,
        *[ProbeStatus.DISCONNECTED] * 2,
    ]


@pytest.mark.parametrize(
    ("profile", "status", "raw"),
    [
        ("pt100", ProbeStatus.DISCONNECTED, 0x7FFF),
        ("logger-8ch", ProbeStatus.DISCONNECTED, 0x8000),
        ("rs485-th", ProbeStatus.OUT_OF_RANGE, 0x8000),
    ],
)
def test_a_disconnected_probe_reads_as_its_profile_says(
    channel, clock: FakeClock, profile: str, status: ProbeStatus, raw: int
) -> None:
    simulator = ModbusSimulator([channel(1, profile, "probe-disconnected", onset_s=0)], clock)
    device = simulator.devices[1]
    value = decode_channel(device.profile, 0, device.profile.first_address, simulator.registers(1))
    assert (value.status, value.raw, value.temperature) == (status, raw, None)


def _profile(datatype: str, scale: float) -> RegisterProfile:
    return RegisterProfile(
        name=f"custom-{datatype}",
        description="test",
        register_type="holding",
        channels=1,
        channel_stride=2,
        first_address=10,
        physical_min=-100,
        physical_max=150,
        temperature=FieldMap(offset=0, datatype=datatype, scale=scale),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("datatype", ["int16", "int32", "uint32", "float32"])
def test_a_profile_without_sentinel_shows_disconnection_as_out_of_range(
    clock: FakeClock, datatype: str
) -> None:
    profile = _profile(datatype, 0.1)
    simulator = ModbusSimulator(
        [
            SimulatedChannel(
                1,
                0,
                profile,
                CompartmentKind.FROZEN,
                build_scenario("probe-disconnected", onset_s=0),
            )
        ],
        clock,
    )
    assert decode_channel(profile, 0, 10, simulator.registers(1)).status is ProbeStatus.OUT_OF_RANGE


def test_a_profile_that_cannot_show_disconnection_is_refused(clock: FakeClock) -> None:
    profile = _profile("uint16", 0.001)
    steady = build_scenario("steady")
    with pytest.raises(ValueError, match="profile custom-uint16: cannot show a disconnected probe"):
        ModbusSimulator([SimulatedChannel(1, 0, profile, CompartmentKind.FROZEN, steady)], clock)


def test_one_device_has_one_profile(channel, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="device 1: channels use profiles pt100 and logger-8ch"):
        ModbusSimulator([channel(1, "pt100"), channel(1, "logger-8ch", index=1)], clock)


def test_a_channel_is_simulated_once(channel, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="device 3: channel 2 is simulated twice"):
        ModbusSimulator([channel(3, "logger-8ch", index=2)] * 2, clock)


def test_a_channel_must_exist_in_the_profile(channel, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="channel 8 but profile logger-8ch has channels 0 to 7"):
        ModbusSimulator([channel(3, "logger-8ch", index=8)], clock)


def test_device_ids_are_modbus_slave_addresses(channel, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="device id 248: a Modbus device id is from 1 to 247"):
        ModbusSimulator([channel(248, "pt100")], clock)


def test_faults_of_an_unknown_device_name_the_known_ones(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100"), channel(2, "pt100")], clock)
    with pytest.raises(KeyError, match="device 9 is not simulated: use one of 1, 2"):
        simulator.faults(9)


def test_fault_controls_decide_the_fate_of_replies(channel, clock: FakeClock) -> None:
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    assert simulator.fate(1, crc=True) == "send"
    simulator.faults(1).bad_crc = True
    assert simulator.fate(1, crc=True) == "corrupt"
    assert simulator.fate(1, crc=False) == "send", "TCP has no CRC to corrupt"
    simulator.faults(1).silent = True
    assert simulator.fate(1, crc=True) == "drop"
    simulator.faults(1).silent = False
    simulator.faults(1).bad_crc = False
    simulator.faults(1).drop_probability = 1.0
    assert simulator.fate(1, crc=False) == "drop"


def test_a_power_cut_on_one_logger_input_silences_the_whole_logger(
    channel, clock: FakeClock
) -> None:
    simulator = ModbusSimulator(
        [channel(3, "logger-8ch", "power-cut", onset_s=0), channel(3, "logger-8ch", index=1)],
        clock,
    )
    assert simulator.fate(3, crc=True) == "drop"


def test_a_flaky_bus_drops_and_corrupts_its_share_reproducibly(channel) -> None:
    def fates(seed: int) -> list[str]:
        simulator = ModbusSimulator([channel(1, "pt100", "flaky-bus")], FakeClock(), seed=seed)
        return [simulator.fate(1, crc=True) for _ in range(2000)]

    first = fates(5)
    assert first == fates(5)
    assert first != fates(6)
    assert 0.15 < first.count("drop") / 2000 < 0.25
    assert 0.06 < first.count("corrupt") / 2000 < 0.10  # 10 % of the 80 % not dropped


@pytest.mark.asyncio
async def test_elapsed_time_counts_from_the_simulators_start(channel, clock: FakeClock) -> None:
    await clock.advance(500.0)
    simulator = ModbusSimulator([channel(1, "pt100")], clock)
    assert simulator.elapsed() == 0.0
    await clock.advance(60.0)
    assert simulator.elapsed() == 60.0


def test_demo_probes_match_the_demo_configuration() -> None:
    settings = load_settings(DEMO_CONFIG)
    assert probe_specs(settings) == list(DEMO_PROBES)
    (bus,) = settings.buses
    assert isinstance(bus, TcpBus)
    assert bus.port == DEMO_PORT


def test_a_demo_scenario_goes_to_the_first_refrigerated_compartment() -> None:
    settings = load_settings(DEMO_CONFIG)
    target = first_refrigerated(probe_specs(settings))
    assert target == "F1/冷藏"
    channels = channels_for_settings(settings, {target: "compressor-failure"}, seed=1)
    assert [(c.device_id, c.channel, c.scenario.name) for c in channels] == [
        (1, 0, "compressor-failure"),
        (2, 0, "steady"),
        (3, 0, "steady"),
        (3, 1, "steady"),
    ]
    assert [c.kind for c in channels] == [
        CompartmentKind.REFRIGERATED,
        CompartmentKind.FROZEN,
        CompartmentKind.REFRIGERATED,
        CompartmentKind.FROZEN,
    ]


def test_a_probe_code_wins_over_its_compartment(profiles) -> None:
    channels = build_channels(
        DEMO_PROBES, profiles, {"F2/冷藏": "door-opening", "208603": "power-cut"}
    )
    assert [c.scenario.name for c in channels] == ["steady", "steady", "power-cut", "steady"]


def test_channels_get_distinct_seeds(profiles) -> None:
    seeds = {c.scenario.seed for c in build_channels(DEMO_PROBES, profiles, seed=2)}
    assert len(seeds) == len(DEMO_PROBES)


def test_an_assignment_to_nothing_is_refused_with_the_choices(profiles) -> None:
    with pytest.raises(ValueError, match=r"assigned to F9/x, which is neither.*208601"):
        build_channels(DEMO_PROBES, profiles, {"F9/x": "steady"})


def test_an_unknown_profile_is_refused_with_the_choices(profiles) -> None:
    spec = ProbeSpec("1", 1, 0, "pt1000", "F1/a", CompartmentKind.REFRIGERATED)
    with pytest.raises(ValueError, match="probe 1: unknown register profile 'pt1000': use one of"):
        build_channels([spec], profiles)


def test_an_unknown_bus_is_refused_with_the_choices() -> None:
    with pytest.raises(
        ValueError, match="no bus named 'rs485' in the configuration: use one of sim"
    ):
        probe_specs(load_settings(DEMO_CONFIG), bus="rs485")


def test_without_a_refrigerated_compartment_there_is_no_demo_target() -> None:
    frozen = [spec for spec in DEMO_PROBES if spec.kind is CompartmentKind.FROZEN]
    with pytest.raises(ValueError, match="no probe sits in a refrigerated compartment"):
        first_refrigerated(frozen)


def test_describe_names_devices_probes_and_scenarios(profiles) -> None:
    channels = build_channels(DEMO_PROBES, profiles, {"208604": "thermostat-fault"})
    assert ModbusSimulator(channels, FakeClock()).describe() == (
        "device 1 rs485-th [208601 F1/冷藏 steady]; device 2 pt100 [208602 F1/冷冻 steady]; "
        "device 3 logger-8ch [208603 F2/冷藏 steady, 208604 Z1/冷冻 thermostat-fault]"
    )
