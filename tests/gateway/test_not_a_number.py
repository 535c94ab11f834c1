"""What is not a number never gets in: the configuration refuses nan, inf and inverted ranges
(naming the file, the key and the fix: a bound that is not a number would switch its alarm off),
a reading refuses them, and no JSON the gateway produces can carry a bare NaN."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.web.json_http import dumps
from probes.reading import ProbeStatus, Reading
from tests.gateway.test_settings import EXAMPLE, example, problems_of

NAN, INF = math.nan, math.inf
F1_FRIDGE = "fridges[code=F1].compartments[name=冷藏]"
F1_FREEZER = "fridges[code=F1].compartments[name=冷冻]"


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("fridges.0.compartments.0.max_c", NAN, f"{F1_FRIDGE}.max_c"),
        ("fridges.0.compartments.0.max_c", INF, f"{F1_FRIDGE}.max_c"),
        ("fridges.0.compartments.0.min_c", -INF, f"{F1_FRIDGE}.min_c"),
        ("fridges.0.compartments.1.max_c", NAN, f"{F1_FREEZER}.max_c"),
        ("buses.0.timeout_s", NAN, "buses[name=rs485-1].timeout_s"),
        ("alerts.rules.defaults.who_heat_c", NAN, "alerts.rules.defaults.who_heat_c"),
        ("alerts.rules.defaults.hysteresis_c", INF, "alerts.rules.defaults.hysteresis_c"),
        ("alerts.escalation.repeat_every_s", INF, "alerts.escalation.repeat_every_s"),
        ("alerts.rules.compartments.F1/冷藏", {"freezing_c": NAN}, "alerts.rules"),
        ("store.flush_interval_s", NAN, "store.flush_interval_s"),
    ],
)
def test_nan_and_infinities_are_refused_with_the_key_and_the_fix(
    path: str, value: Any, key: str
) -> None:
    data = example()
    _set(data, path, value)
    text = problems_of(data)
    (line,) = text.splitlines()[1:]
    assert line.startswith(f"clinic.toml: {key}")
    assert "finite number" in line
    assert "(fix: " in line


@pytest.mark.parametrize(
    ("changes", "key", "names"),
    [
        (
            {"fridges.0.compartments.0.min_c": 9.0, "fridges.0.compartments.0.max_c": 2.0},
            F1_FRIDGE,
            ("min_c (9)", "max_c (2)"),
        ),
        (
            {"fridges.0.compartments.0.min_c": 5.0, "fridges.0.compartments.0.max_c": 5.0},
            F1_FRIDGE,
            ("min_c (5)", "max_c (5)"),
        ),
        (
            {"buses.0.backoff_initial_s": 120.0, "buses.0.backoff_max_s": 60.0},
            "buses[name=rs485-1]",
            ("backoff_initial_s (120)", "backoff_max_s (60)"),
        ),
        (
            {"alerts.rules.defaults.who_freeze_c": 9.0},
            "alerts.rules.defaults",
            ("who_freeze_c (9)", "who_heat_c (8)"),
        ),
        (
            {"alerts.outbox.first_retry_s": 900.0},
            "alerts.outbox",
            ("first_retry_s (900)", "max_retry_s (600)"),
        ),
    ],
)
def test_inverted_ranges_are_refused_naming_both_bounds(
    changes: dict[str, float], key: str, names: tuple[str, str]
) -> None:
    data = example()
    for path, value in changes.items():
        _set(data, path, value)
    (line,) = problems_of(data).splitlines()[1:]
    assert line.startswith(f"clinic.toml: {key}: ")
    assert all(name in line for name in names)
    assert line.endswith("(fix: correct the one that is wrong, or swap them)")


def test_config_check_refuses_a_nan_bound_written_in_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TOML has nan and inf literals: `max_c = nan` once passed and switched the alarm off."""
    text = EXAMPLE.read_text("utf-8").replace("max_c = -20.0", "max_c = nan", 1)
    assert "max_c = nan" in text
    clinic = tmp_path / "clinic.toml"
    clinic.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(clinic)]) == 1
    err = capsys.readouterr().err
    assert f"{clinic}: {F1_FREEZER}.max_c: nan is not a finite number" in err
    assert "(fix: write a finite number" in err


@pytest.mark.parametrize("field", ["temperature", "humidity", "battery"])
@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_a_reading_refuses_what_is_not_a_number(field: str, value: float) -> None:
    values: dict[str, Any] = {"temperature": 4.0, field: value}
    with pytest.raises(ValueError, match=f"{field} .* is not a number"):
        Reading("208601", datetime(2026, 3, 2, tzinfo=UTC), ProbeStatus.OK, **values)


def test_the_gateways_json_refuses_a_bare_nan() -> None:
    assert json.loads(dumps({"max_c": 8.0, "name": "冷藏"})) == {"max_c": 8.0, "name": "冷藏"}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dumps({"max_c": NAN})
