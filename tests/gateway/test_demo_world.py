"""The demo's simulated world across restarts on one data folder, and its refusal to write
future-stamped points to real servers unless told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.core.errors import GatewayError
from gateway.demo_world import WORLD_FILE, World, check_external_servers, resume
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS
from probes.reading import ProbeStatus, Reading

REAL_NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def store_until(data_dir: Path, last: datetime) -> None:
    with ReadingStore(READINGS.path(data_dir)) as store:
        store.write_batch(
            [
                Reading("208601", last - timedelta(minutes=1), ProbeStatus.OK, temperature=5.0),
                Reading("208601", last, ProbeStatus.OK, temperature=5.2),
            ]
        )


def test_a_new_folder_starts_a_new_world_at_the_real_time(tmp_path: Path) -> None:
    world = resume(tmp_path / "data", "steady", REAL_NOW)
    assert (world.now, world.began_at, world.resumed) == (REAL_NOW, REAL_NOW, False)
    assert world.note == f"a new simulated world in {tmp_path / 'data'}"
    assert not (tmp_path / "data" / WORLD_FILE).exists(), "nothing written before it starts"


def test_the_same_scenario_resumes_its_simulated_time_and_story(tmp_path: Path) -> None:
    data = tmp_path / "data"
    resume(data, "compressor-failure", REAL_NOW).save(data)
    # The first run went on at 60x: its store reached 3 simulated hours in, 3 real minutes.
    store_until(data, REAL_NOW + timedelta(hours=3))
    later = REAL_NOW + timedelta(minutes=10)
    world = resume(data, "compressor-failure", later)
    assert world.resumed
    assert world.now == REAL_NOW + timedelta(hours=3)
    assert world.elapsed_s == 3 * 3600
    assert "resuming the simulated world" in world.note
    assert "3.0 h in" in world.note


def test_a_resumed_world_never_goes_back_behind_the_real_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    resume(data, "steady", REAL_NOW).save(data)
    store_until(data, REAL_NOW + timedelta(minutes=5))
    world = resume(data, "steady", REAL_NOW + timedelta(days=1))
    assert world.now == REAL_NOW + timedelta(days=1)
    assert world.elapsed_s == 24 * 3600


def test_another_scenario_starts_a_new_story_after_what_is_stored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    resume(data, "steady", REAL_NOW).save(data)
    store_until(data, REAL_NOW + timedelta(hours=2))
    world = resume(data, "power-cut", REAL_NOW)
    assert (world.resumed, world.elapsed_s) == (False, 0.0)
    assert world.now == REAL_NOW + timedelta(hours=2)
    assert "a new simulated world" in world.note
    assert "the clock never goes back" in world.note
    world.save(data)
    again = resume(data, "power-cut", REAL_NOW)
    assert again.resumed
    assert again.began_at == world.began_at


def world_at(now: datetime) -> World:
    return World("steady", now, now, resumed=True, note="")


@pytest.mark.parametrize(
    ("speed", "ahead", "servers", "allowed", "refused"),
    [
        (60.0, timedelta(0), ["--influx-url"], False, "--speed 60 stamps readings 60x faster"),
        (60.0, timedelta(0), ["--influx-url"], True, None),
        (60.0, timedelta(0), [], False, None),
        (1.0, timedelta(hours=2), ["--mqtt-url"], False, "2.0 h ahead of the real time"),
        (1.0, timedelta(seconds=20), ["--mqtt-url"], False, None),
    ],
)
def test_future_points_go_to_real_servers_only_when_allowed(
    speed: float, ahead: timedelta, servers: list[str], allowed: bool, refused: str | None
) -> None:
    world = world_at(REAL_NOW + ahead)
    if refused is None:
        check_external_servers(world, REAL_NOW, speed, servers=servers, allowed=allowed)
        return
    with pytest.raises(GatewayError) as caught:
        check_external_servers(world, REAL_NOW, speed, servers=servers, allowed=allowed)
    assert refused in str(caught.value)
    assert "--allow-future-points" in str(caught.value)


def test_demo_refuses_speed_with_real_servers_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    code = main(
        [
            "demo", "--http-port", "0", "--speed", "60", "--data-dir", str(data),
            "--influx-url", "http://127.0.0.1:9", "--influx-v1-db", "coldchain",
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "--influx-url: --speed 60 stamps readings 60x faster than the real time" in err
    assert not data.exists()
