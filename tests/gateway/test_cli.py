"""The command line's own behaviour: logging, bad arguments, clear errors."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest

from gateway.cli import _configure_logging, main

ROOT = Path(__file__).resolve().parents[2]


def test_pymodbus_logging_is_left_to_the_driver() -> None:
    """pymodbus logs every timeout itself; the driver reports each fault once, by device."""
    _configure_logging(verbose=False)
    assert logging.getLogger("pymodbus").getEffectiveLevel() == logging.CRITICAL


def test_demo_refuses_a_non_positive_speed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--speed", "0", "--http-port", "0"]) == 2
    assert "--speed 0: give a positive factor" in capsys.readouterr().err


def test_demo_refuses_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--scenario", "meteor-strike"])
    assert "invalid choice: 'meteor-strike'" in capsys.readouterr().err


def test_run_with_a_broken_configuration_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "clinic.toml"
    broken.write_text(
        (ROOT / "config" / "gateway.toml")
        .read_text("utf-8")
        .replace('number = "10001"', 'number = "ten"'),
        encoding="utf-8",
    )
    assert main(["run", "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: gateway.number: 'ten' is not a gateway number of 1 to 12 digits" in err


def test_run_and_demo_put_back_the_sigterm_handler_they_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() in a process of its caller (a test run) leaves that process's SIGTERM as it was:
    after `run` refused its configuration, a SIGTERM still reached pytest's own handling."""
    broken = tmp_path / "clinic.toml"
    broken.write_text("[gateway]\n", encoding="utf-8")

    def callers_own(signum: int, frame: object) -> None:
        raise AssertionError("no SIGTERM is sent in this test")

    before = signal.signal(signal.SIGTERM, callers_own)
    try:
        assert main(["run", "--config", str(broken)]) == 2
        assert signal.getsignal(signal.SIGTERM) is callers_own
        assert main(["demo", "--speed", "0", "--http-port", "0"]) == 2
        assert signal.getsignal(signal.SIGTERM) is callers_own
    finally:
        signal.signal(signal.SIGTERM, before)
    capsys.readouterr()


def test_demo_server_flags_are_validated_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--http-port", "0", "--influx-url", "http://127.0.0.1:9"])
    assert code == 2
    err = capsys.readouterr().err
    assert "demo --influx-* options" in err
    assert "influx.bucket" in err


def test_demo_server_flags_build_the_forwarder_settings() -> None:
    from gateway.cli import _demo_influx, _demo_mqtt, build_parser

    args = build_parser().parse_args(
        [
            "demo",
            "--influx-url",
            "http://127.0.0.1:8086",
            "--influx-v1-db",
            "coldchain",
            "--mqtt-url",
            "mqtt://127.0.0.1:1883",
            "--mqtt-username",
            "clinic",
        ]
    )
    influx = _demo_influx(args)
    mqtt = _demo_mqtt(args)
    assert influx is not None
    assert (influx.api, influx.v1_db) == ("v1", "coldchain")
    assert mqtt is not None
    assert (mqtt.host, mqtt.port, mqtt.username) == ("127.0.0.1", 1883, "clinic")


def test_report_monthly_help_speaks_to_a_cdc_analyst(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as done:
        main(["report", "monthly", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for words in (
        "mean kinetic temperature",
        "WHO recorder alarms",
        "vaccine doses exposed",
        "for the county (the CDC)",
        "--month YYYY-MM",
        "--region CODE",
        "only the clinics of this 6-digit region code",
        "a gap in the record",
        "examples:",
        "coldchain report monthly --influx-url http://influx.county:8086 --month 2026-10",
    ):
        assert words in text
    for developer_words in ("coroutine", "parser", "ReportError", "INFLUX_URL", "MAX_GAP_S"):
        assert developer_words not in text
