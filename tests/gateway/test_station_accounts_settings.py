"""Who wired scanners and MQTT commands act for, in the configuration: `[station_accounts]`,
`[mqtt] command_account`, and `[ledger.actors]`, which they replace."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.core.errors import ConfigError
from gateway.settings import parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "gateway.toml"


def clinic(**sections: Any) -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE.read_text("utf-8"))
    data["scanners"] = [
        {"name": "desk", "kind": "serial", "station": "receive-desk", "port": "/dev/ttyACM0"}
    ]
    data["ledger"] = {
        "platform_url": "http://127.0.0.1:9/upload",
        "stations": {"receive-desk": "receive", "vaccination-1": "administer"},
    }
    return data | sections


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, "clinic.toml")
    return str(caught.value)


def test_a_wired_ledger_station_acts_for_its_account() -> None:
    settings = parse_settings(clinic(station_accounts={"receive-desk": "wang.fang"}), "c.toml")
    assert settings.station_accounts == {"receive-desk": "wang.fang"}


def test_a_wired_ledger_station_without_an_account_is_refused() -> None:
    text = problems(clinic())
    assert (
        "clinic.toml: station_accounts.receive-desk: the scanner at receive-desk (receive "
        'station) acts for no account (fix: add receive-desk = "ACCOUNT" under '
        "[station_accounts]: an account that may receive)"
    ) in text
    assert "vaccination-1" not in text, "no scanner is wired there: posted scans act for posters"


def test_an_account_for_a_station_without_a_scanner_or_of_a_bad_form_is_refused() -> None:
    accounts = {"receive-desk": "wang.fang", "nowhere": "wang.fang"}
    assert "station_accounts.nowhere: no scanner sits at station nowhere" in problems(
        clinic(station_accounts=accounts)
    )
    assert "station_accounts.receive-desk" in problems(
        clinic(station_accounts={"receive-desk": "王芳"})
    )


def test_ledger_actors_are_refused_naming_the_replacement() -> None:
    data = clinic(station_accounts={"receive-desk": "wang.fang"})
    data["ledger"]["actors"] = {"receive-desk": "王芳"}
    text = problems(data)
    assert "clinic.toml: ledger.actors: [ledger.actors] was replaced" in text
    assert "assign each scanner station an account under [station_accounts]" in text


def test_mqtt_commands_name_an_account() -> None:
    data = clinic(station_accounts={"receive-desk": "wang.fang"})
    data["mqtt"]["command_account"] = "county-ops"
    settings = parse_settings(data, "clinic.toml")
    assert settings.mqtt is not None
    assert settings.mqtt.command_account == "county-ops"
    data["mqtt"]["command_account"] = "County Ops"
    assert "mqtt.command_account" in problems(data)
