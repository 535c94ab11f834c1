"""The technician's forms against the configuration: what is bound, refused, recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.commissioning.change_plan import Evidence, RefusedError, plan_change, validated
from gateway.commissioning.desk import CommissioningDesk
from gateway.commissioning.identify import Sightings
from gateway.commissioning.submitted_forms import (
    DecommissionForm,
    InstallForm,
    MoveForm,
    RenameForm,
    ReplaceForm,
)
from gateway.config_file import StaleConfigError, previous_version, read_config
from gateway.core.clock import FakeClock
from gateway.settings import Settings, load_settings
from gateway.storage.commissioning import CommissioningLog, FormKind
from probes.reading import ProbeStatus, Reading
from tests.commissioning.support import write_clinic

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
NEW_PROBE = {
    "code": "300001",
    "bus": "spare",
    "device_id": 3,
    "channel": 0,
    "profile": "logger-8ch",
    "compartment": "F2/冷藏",
}
SPARE_KEY = "modbus:spare:3:0"


def ok(code: str, age_s: float = 30.0) -> Reading:
    return Reading(code, NOW - timedelta(seconds=age_s), ProbeStatus.OK, 4.5)


def evidence(
    seen: dict[str, float] | None = None, latest: dict[str, Reading] | None = None
) -> Evidence:
    sightings = Sightings()
    for key, at in (seen or {}).items():
        sightings.saw(key, at, 4.5)
    return Evidence(NOW, 1000.0, latest or {}, sightings)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_clinic(tmp_path)


def plan(config: Path, form: Any, proof: Evidence) -> Settings:
    snapshot = read_config(config)
    current = load_settings(config)
    draft = plan_change(form, current, snapshot.document(), proof)
    return validated(draft.document, str(config))


def version(config: Path) -> str:
    return read_config(config).version


def test_install_binds_a_probe_that_discovery_saw(config: Path) -> None:
    form = InstallForm(expected_version=version(config), probe=NEW_PROBE)
    settings = plan(config, form, evidence({SPARE_KEY: 990.0}))
    assert [p.code for p in settings.probes if p.compartment == "F2/冷藏"] == ["300001"]


def test_install_of_a_probe_not_reporting_is_refused(config: Path) -> None:
    form = InstallForm(expected_version=version(config), probe=NEW_PROBE)
    with pytest.raises(RefusedError, match=r"300001 .*is not reporting: discovery has not seen it"):
        plan(config, form, evidence())
    with pytest.raises(RefusedError, match="not reporting"):
        plan(config, form, evidence({SPARE_KEY: 1000.0 - 601}))


def test_install_of_a_probe_bound_elsewhere_is_refused(config: Path) -> None:
    same_code = InstallForm(expected_version=version(config), probe=NEW_PROBE | {"code": "208601"})
    with pytest.raises(RefusedError, match="probe 208601 is already bound to F1/冷藏"):
        plan(config, same_code, evidence({SPARE_KEY: 990.0}))
    same_place = InstallForm(
        expected_version=version(config),
        probe=NEW_PROBE | {"bus": "main", "device_id": 1, "channel": 0},
    )
    with pytest.raises(RefusedError, match="modbus:main:1:0 is already bound elsewhere, as probe"):
        plan(config, same_place, evidence({"modbus:main:1:0": 990.0}))


def test_a_compartment_of_another_unit_is_refused(config: Path) -> None:
    form = InstallForm(expected_version=version(config), unit="6101030299", probe=NEW_PROBE)
    with pytest.raises(RefusedError, match="belongs to unit 6101030299, but this gateway serves"):
        plan(config, form, evidence({SPARE_KEY: 990.0}))
    elsewhere = InstallForm(
        expected_version=version(config), probe=NEW_PROBE | {"compartment": "F9/冷藏"}
    )
    with pytest.raises(RefusedError, match="'F9/冷藏' is not a compartment of this unit"):
        plan(config, elsewhere, evidence({SPARE_KEY: 990.0}))


def test_a_result_that_fails_validation_is_refused_with_the_problems(config: Path) -> None:
    form = InstallForm(
        expected_version=version(config), probe=NEW_PROBE | {"compartment": "F1/冷冻"}
    )
    with pytest.raises(RefusedError) as refused:
        plan(config, form, evidence({SPARE_KEY: 990.0}))
    assert refused.value.reasons[0] == "the configuration would not be valid"
    assert any("compartment F1/冷冻 expects 1 probe(s)" in line for line in refused.value.reasons)


def test_a_malformed_probe_table_is_refused_by_field(config: Path) -> None:
    form = InstallForm(expected_version=version(config), probe=NEW_PROBE | {"device_id": 900})
    with pytest.raises(RefusedError, match="device_id"):
        plan(config, form, evidence({SPARE_KEY: 990.0}))


def test_replace_move_rename_decommission(config: Path) -> None:
    proof = evidence({SPARE_KEY: 990.0}, {"208601": ok("208601")})
    replaced = plan(
        config,
        ReplaceForm(
            expected_version=version(config),
            old_code="208610",
            probe={k: v for k, v in NEW_PROBE.items() if k != "compartment"},
        ),
        proof,
    )
    assert {p.code: p.compartment for p in replaced.probes}["300001"] == "F1/冷冻"
    assert "208610" not in {p.code for p in replaced.probes}
    moved = plan(
        config,
        MoveForm(expected_version=version(config), code="208601", compartment="F2/冷藏"),
        proof,
    )
    assert {p.code: p.compartment for p in moved.probes}["208601"] == "F2/冷藏"
    renamed = plan(
        config, RenameForm(expected_version=version(config), fridge="F2", name="医用冷藏柜"), proof
    )
    assert renamed.fridges[1].name == "医用冷藏柜"
    gone = plan(config, DecommissionForm(expected_version=version(config), code="208610"), proof)
    assert "208610" not in {p.code for p in gone.probes}


def test_moving_a_probe_that_does_not_report_is_refused(config: Path) -> None:
    form = MoveForm(expected_version=version(config), code="208601", compartment="F2/冷藏")
    with pytest.raises(RefusedError, match=r"208601 is not reporting \(no reading yet"):
        plan(config, form, evidence())
    stale = Reading("208601", NOW, ProbeStatus.BUS_ERROR)
    with pytest.raises(RefusedError, match="last reading bus_error"):
        plan(config, form, evidence(latest={"208601": stale}))
    with pytest.raises(RefusedError, match="is not reporting"):
        plan(config, form, evidence(latest={"208601": ok("208601", age_s=3600)}))


def test_unknown_probe_names_the_configured_ones(config: Path) -> None:
    form = DecommissionForm(expected_version=version(config), code="999999")
    with pytest.raises(RefusedError, match=r"999999 is not configured.*208600, 208601"):
        plan(config, form, evidence())


class Applied:
    def __init__(self) -> None:
        self.settings: list[Settings] = []

    async def __call__(self, settings: Settings) -> str:
        self.settings.append(settings)
        return "applied in place"


def desk_for(
    config: Path, audit: CommissioningLog, applied: Applied, clock: FakeClock
) -> CommissioningDesk:
    return CommissioningDesk(
        config,
        audit,
        clock,
        latest=lambda: {"208601": Reading("208601", clock.now(), ProbeStatus.OK, 4.0)},
        apply=applied,
    )


@pytest.mark.asyncio
async def test_two_technicians_at_once_the_second_gets_a_stale_version(
    config: Path, tmp_path: Path
) -> None:
    clock = FakeClock(NOW)
    applied = Applied()
    with CommissioningLog(tmp_path / "audit.sqlite3") as audit:
        desk = desk_for(config, audit, applied, clock)
        seen = version(config)
        first = await desk.submit(
            MoveForm(expected_version=seen, code="208601", compartment="F2/冷藏"), "张工"
        )
        with pytest.raises(StaleConfigError, match="someone else changed the configuration"):
            await desk.submit(
                RenameForm(expected_version=seen, fridge="F2", name="医用冷藏柜"), "李工"
            )
        assert first.version == version(config) != seen
        assert previous_version(config, 1).exists()
        assert len(applied.settings) == 1
        [change] = audit.changes()
        assert (change.form, change.who, change.unit_code, change.gateway) == (
            FormKind.MOVE,
            "张工",
            "6101030203",
            "10001",
        )
        assert (change.old_fridge, change.new_fridge) == ("海尔冰箱冷藏", "美菱冰箱冷藏")
        assert (change.old_probe, change.new_probe) == ("208601冷藏", "208601冷藏")
        assert change.config_version == first.version


@pytest.mark.asyncio
async def test_a_refused_form_changes_nothing(config: Path, tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    applied = Applied()
    before = read_config(config)
    with CommissioningLog(tmp_path / "audit.sqlite3") as audit:
        desk = desk_for(config, audit, applied, clock)
        form = InstallForm(expected_version=version(config), probe=NEW_PROBE)
        with pytest.raises(RefusedError, match="not reporting"):
            await desk.submit(form, "张工")
        assert audit.changes() == []
    assert read_config(config) == before
    assert applied.settings == []
    assert not previous_version(config, 1).exists()


def test_install_of_a_ble_sensor_seen_by_discovery(config: Path) -> None:
    sensor = {
        "code": "400001",
        "transport": "ble",
        "mac": "a4:c1:38:00:00:77",
        "format": "bthome",
        "compartment": "F2/冷藏",
    }
    form = InstallForm(expected_version=version(config), probe=sensor)
    with pytest.raises(RefusedError, match=r"ble:A4:C1:38:00:00:77\) is not reporting"):
        plan(config, form, evidence())
    settings = plan(config, form, evidence({"ble:A4:C1:38:00:00:77": 995.0}))
    [probe] = [p for p in settings.probes if p.code == "400001"]
    assert probe.model_dump(include={"mac", "transport"}) == {
        "mac": "A4:C1:38:00:00:77",
        "transport": "ble",
    }
