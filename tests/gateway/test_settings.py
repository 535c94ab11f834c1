"""Configuration: the shipped files are valid; every cross-field rule names its key and fix."""

from __future__ import annotations

import copy
import secrets
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cli import main
from gateway.core.compartments import CompartmentKind
from gateway.core.errors import ConfigError
from gateway.settings import load_settings, parse_settings
from probes.settings import RtuBus, TcpBus

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.toml"
DEMO = ROOT / "config" / "demo.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text("utf-8"))


def problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, "clinic.toml")
    return str(caught.value)


@pytest.mark.parametrize("path", [EXAMPLE, DEMO])
def test_shipped_configurations_are_valid_but_for_their_published_secret(
    path: Path, tmp_path: Path
) -> None:
    settings = load_settings(path)
    assert settings.probes
    assert settings.alerts is not None
    published = settings.alerts.ack.secret.get_secret_value()
    assert main(["config", "check", str(path)]) == 1, "a published secret signs no link"
    own = tmp_path / path.name
    text = path.read_text(encoding="utf-8").replace(published, secrets.token_urlsafe(32))
    own.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(own)]) == 0


def test_default_ranges_follow_the_compartment_kind() -> None:
    settings = load_settings(DEMO)
    _, refrigerated = settings.compartment("F1/冷藏")
    _, frozen = settings.compartment("Z1/冷冻")
    assert (refrigerated.kind, refrigerated.min_c, refrigerated.max_c) == (
        CompartmentKind.REFRIGERATED,
        2.0,
        8.0,
    )
    assert (frozen.min_c, frozen.max_c) == (None, -15.0)


def test_a_province_may_tighten_the_frozen_limit() -> None:
    settings = load_settings(EXAMPLE)
    _, frozen = settings.compartment("F1/冷冻")
    assert frozen.max_c == -20.0


def test_duplicate_probe_codes_are_refused() -> None:
    data = example()
    data["probes"][1]["code"] = data["probes"][0]["code"]
    text = problems_of(data)
    assert "clinic.toml: probes: probe code 208601 is used 2 times" in text
    assert "fix:" in text


def test_a_second_probe_in_a_single_probe_compartment_is_refused() -> None:
    data = example()
    data["probes"][1]["compartment"] = "F1/冷藏"
    text = problems_of(data)
    assert "compartment F1/冷藏 expects 1 probe(s) but 208601, 208602 are bound to it" in text


def test_a_probe_bound_to_a_missing_compartment_names_the_choices() -> None:
    data = example()
    data["probes"][0]["compartment"] = "F9/冷藏"
    text = problems_of(data)
    assert "probes[code=208601].compartment" in text
    assert "'F9/冷藏', which is not a compartment" in text
    assert "F1/冷藏, F1/冷冻, CR1/冷藏" in text


def test_two_probes_at_one_bus_address_are_refused() -> None:
    data = example()
    data["probes"][1]["device_id"] = 1
    data["probes"][1]["profile"] = "rs485-th"
    text = problems_of(data)
    assert "probes[code=208602].device_id" in text
    assert "208602 and probe 208601 both sit at bus 'rs485-1', device 1, channel 0" in text


def test_one_device_read_with_two_profiles_is_refused() -> None:
    data = example()
    data["probes"][1]["device_id"] = 1
    data["probes"][1]["channel"] = 1
    text = problems_of(data)
    assert "probes[code=208602].profile" in text


def test_every_problem_is_listed_at_once() -> None:
    data = example()
    data["probes"][0]["bus"] = "nowhere"
    data["probes"][1]["profile"] = "unknown-model"
    data["probes"][2]["channel"] = 8
    text = problems_of(data)
    assert text.startswith("3 problem(s)")
    assert "no bus named 'nowhere'" in text
    assert "unknown register profile 'unknown-model'" in text
    assert "use a channel from 0 to 7" in text


def test_field_errors_name_the_key() -> None:
    data = example()
    data["unit"]["code"] = "61010302"
    data["buses"][0]["transport"] = "can"
    data["fridges"][0]["compartments"][0]["min_c"] = 9.0
    del data["gateway"]["number"]
    text = problems_of(data)
    assert "unit.code: '61010302' is not a 10-digit unit code (单位编码)" in text
    assert "fix: write a 10-digit unit code" in text
    assert "^" not in text
    assert "gateway.number: Field required (fix: add this key)" in text
    assert "buses[name=rs485-1]" in text
    assert "fridges[code=F1].compartments[name=冷藏]" in text
    assert "min_c (9) must be below max_c (8) (fix: correct the one that is wrong" in text


def test_a_compartment_named_twice_is_found_under_its_fridge_code() -> None:
    data = example()
    data["fridges"][0]["compartments"][1]["name"] = data["fridges"][0]["compartments"][0]["name"]
    text = problems_of(data)
    assert "fridges[code=F1].compartments: compartment '冷藏' appears 2 times in fridge F1" in text


def test_misspelt_key_is_refused() -> None:
    data = example()
    data["probes"][0]["pol_interval_s"] = 30
    assert "probes[code=208601].pol_interval_s: Extra inputs are not permitted" in problems_of(data)


def test_config_check_exits_non_zero_with_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        EXAMPLE.read_text("utf-8").replace('compartment = "CR1/冷藏"', 'compartment = "CR2/冷藏"'),
        encoding="utf-8",
    )
    assert main(["config", "check", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.count("which is not a compartment") == 2
    assert str(broken) in err


def test_unreadable_and_malformed_files_get_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read the configuration" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[unit\ncode = 1", encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 1
    assert "not valid TOML" in capsys.readouterr().err


@given(
    mutations=st.lists(
        st.tuples(
            st.sampled_from(["code", "bus", "device_id", "channel", "profile", "compartment"]),
            st.integers(min_value=0, max_value=3),
            st.one_of(st.integers(-5, 300), st.text(max_size=12), st.none()),
        ),
        max_size=4,
    )
)
def test_any_mutation_is_accepted_or_refused_cleanly(
    mutations: list[tuple[str, int, object]],
) -> None:
    data = copy.deepcopy(BASE)
    for key, index, value in mutations:
        if value is None:
            data["probes"][index].pop(key, None)
        else:
            data["probes"][index][key] = value
    try:
        settings = parse_settings(data, "fuzz.toml")
    except ConfigError as error:
        header, *lines = str(error).splitlines()
        assert header == f"{len(lines)} problem(s) in the configuration:"
        assert all(line.startswith("fuzz.toml: probes") and "(fix: " in line for line in lines)
        return
    assert len({probe.code for probe in settings.probes}) == len(settings.probes)


def test_a_refused_name_with_a_line_break_stays_on_its_problem_line() -> None:
    """Found by `make fuzz`: a bus named "\\r" split its problem over two lines."""
    data = copy.deepcopy(BASE)
    data["probes"][0]["bus"] = "\r"
    data["probes"][2]["bus"] = "\r"
    with pytest.raises(ConfigError) as raised:
        parse_settings(data, "fuzz.toml")
    header, *lines = str(raised.value).splitlines()
    assert header == f"{len(lines)} problem(s) in the configuration:"
    assert len(lines) == 4


def test_a_refused_code_with_a_line_break_stays_on_its_problem_line() -> None:
    """Found by `make fuzz`: a probe coded "0\\r" split its key over two lines."""
    data = copy.deepcopy(BASE)
    data["probes"][0]["code"] = "0\r"
    header, *lines = problems_of(data).splitlines()
    assert header == f"{len(lines)} problem(s) in the configuration:"
    assert lines[0].startswith("clinic.toml: probes[code='0\\r'].code: ")


BASE = example()


@pytest.mark.parametrize(
    ("baudrate", "gap_ms"), [(9600, 4.01), (2400, 16.04), (19200, 2.005), (115200, 1.75)]
)
def test_rtu_frame_gap_defaults_to_three_and_a_half_characters(
    baudrate: int, gap_ms: float
) -> None:
    bus = RtuBus(name="rs485", transport="rtu", device="/dev/ttyUSB0", baudrate=baudrate)
    assert bus.frame_gap_s * 1000 == pytest.approx(gap_ms, abs=0.01)
    configured = bus.model_copy(update={"inter_frame_gap_ms": 10.0})
    assert configured.frame_gap_s == 0.010


def test_tcp_needs_no_frame_gap_unless_configured() -> None:
    bus = TcpBus(name="lan", transport="tcp", host="10.0.0.5")
    assert bus.frame_gap_s == 0.0
