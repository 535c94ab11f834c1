"""Which drivers a reload restarts, and when it must restart the whole gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.runtime.hot_reload import ReloadPlan, driver_specs, plan_reload, summary
from gateway.settings import Settings, load_settings
from tests.commissioning.support import write_clinic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_clinic(tmp_path))


def with_probes(settings: Settings, probes: list[object]) -> Settings:
    return settings.model_copy(update={"probes": probes})


def test_the_same_settings_change_nothing(settings: Settings) -> None:
    plan = plan_reload(settings, settings.model_copy())
    assert plan == ReloadPlan(None)
    assert summary(plan, driver_specs(settings)) == "configuration unchanged"


def test_a_probe_on_a_new_bus_starts_that_bus_only(settings: Settings) -> None:
    new = settings.probes[0].model_copy(
        update={"code": "300001", "bus": "spare", "device_id": 3, "channel": 0}
    )
    plan = plan_reload(settings, with_probes(settings, [*settings.probes, new]))
    assert (plan.stop, plan.start, plan.probes_changed) == (frozenset(), {"bus:spare"}, True)
    assert summary(plan, driver_specs(with_probes(settings, [*settings.probes, new]))) == (
        "applied in place (started: bus:spare; alarm rules and views updated; "
        "1 other driver(s) kept running)"
    )


def test_unbinding_the_last_probe_of_a_bus_stops_it(settings: Settings) -> None:
    kept = [probe for probe in settings.probes if probe.code != "208610"]
    plan = plan_reload(settings, with_probes(settings, kept))
    assert (plan.stop, plan.start) == ({"bus:main"}, {"bus:main"})
    only_first = with_probes(settings, [settings.probes[0]])
    assert plan_reload(only_first, with_probes(only_first, [])).stop == {"bus:main"}


def test_a_move_restarts_no_driver(settings: Settings) -> None:
    moved = [
        probe.model_copy(update={"compartment": "F2/冷藏"}) if probe.code == "208600" else probe
        for probe in settings.probes
    ]
    plan = plan_reload(settings, with_probes(settings, moved))
    assert (plan.stop, plan.start, plan.probes_changed) == (frozenset(), frozenset(), True)


def test_a_renamed_fridge_updates_the_views_only(settings: Settings) -> None:
    fridges = [settings.fridges[0].model_copy(update={"name": "新冰箱"}), *settings.fridges[1:]]
    plan = plan_reload(settings, settings.model_copy(update={"fridges": fridges}))
    assert (plan.restart_reason, plan.start, plan.probes_changed) == (None, frozenset(), True)


def test_a_bus_setting_restarts_that_bus(settings: Settings) -> None:
    buses = [settings.buses[0].model_copy(update={"timeout_s": 0.5}), *settings.buses[1:]]
    plan = plan_reload(settings, settings.model_copy(update={"buses": buses}))
    assert (plan.stop, plan.start, plan.probes_changed) == ({"bus:main"}, {"bus:main"}, False)


def test_other_sections_restart_the_gateway(settings: Settings) -> None:
    store = settings.store.model_copy(update={"retention_days": 30})
    http = settings.http.model_copy(update={"port": 8081})
    plan = plan_reload(settings, settings.model_copy(update={"store": store, "http": http}))
    assert plan.restart_reason == "[http], [store] changed"


def test_a_new_compartment_restarts_the_gateway(settings: Settings) -> None:
    fridge = settings.fridges[1]
    more = fridge.model_copy(
        update={
            "compartments": [
                *fridge.compartments,
                fridge.compartments[0].model_copy(update={"name": "冷藏2"}),
            ]
        }
    )
    plan = plan_reload(
        settings, settings.model_copy(update={"fridges": [settings.fridges[0], more]})
    )
    assert plan.restart_reason == "compartments added or removed"


async def ignore(reading: object) -> None:
    """Readings are not looked at here."""


def test_each_driver_is_built_under_the_key_its_task_gets(settings: Settings) -> None:
    from gateway.core.clock import FakeClock
    from gateway.readings.clock_sync import ClockSync
    from gateway.runtime.drivers import DriverFactory
    from gateway.settings import parse_settings

    data = settings.model_dump(mode="json", exclude_unset=True)
    data["probes"] = [
        *data["probes"],
        {
            "code": "B1",
            "transport": "ble",
            "mac": "A4:C1:38:00:00:01",
            "format": "atc",
            "compartment": "F2/冷藏",
        },
    ]
    serial = {
        "transport": "serial",
        "port": "/dev/serial/by-id/usb-logger",
        "format": {"fields": [{"name": "t1", "key": "T1"}]},
        "field": "t1",
        "compartment": "F1/冷冻",
    }
    data["probes"] = [p for p in data["probes"] if p["code"] != "208610"]
    data["probes"].append(serial | {"code": "S1"})
    mixed = parse_settings(data, "test")
    keys = set(driver_specs(mixed))
    assert keys == {"bus:main", "source:ble", "source:serial:/dev/serial/by-id/usb-logger"}
    clock = FakeClock()
    factory = DriverFactory(ignore, ignore, clock, ClockSync(clock))
    assert f"bus:{factory.bus(mixed, 'main').name}" == "bus:main"
    for key in keys - {"bus:main"}:
        assert f"source:{factory.source(mixed, key).name}" == key
