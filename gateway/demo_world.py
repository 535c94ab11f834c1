"""The demo's simulated world across restarts on one data folder.

The readings, alarms and ledgers a demo stores are stamped by its simulated clock, which runs
`--speed` times faster than real time: after a while at 60x it is hours ahead. A demo started
again on the same folder goes on from the simulated time its store reached (or the real time,
if that is later), never back, so what it stored still lines up. `demo-world.json` remembers
which scenario the world runs and when its story began; the same scenario resumes where it
was, another one starts a new story at the current simulated time (the stored past stays).

Forwarding to real servers writes points stamped by that clock. A server then holds readings
from the future, which nobody can correct later (a replay writes the same time again), so
`check_external_servers` refuses it unless the user says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gateway.core.errors import GatewayError
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS

WORLD_FILE = "demo-world.json"

#: How far ahead of the real time the simulated clock may start when points go to real
#: servers (a restart takes a few seconds; a reading's poll interval is 10 s).
FUTURE_SLACK = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class World:
    """The simulated world a demo runs: its scenario, when that story began and the simulated
    time it starts at; `note` says which (resumed or new) in the banner."""

    scenario: str
    began_at: datetime
    now: datetime
    resumed: bool
    note: str

    @property
    def elapsed_s(self) -> float:
        """How long the scenario's story has run (its simulated seconds)."""
        return (self.now - self.began_at).total_seconds()

    def save(self, data_dir: Path) -> None:
        """Remember a new world's scenario and beginning for the next start."""
        if self.resumed:
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        body = {"scenario": self.scenario, "began_at": self.began_at.isoformat()}
        (data_dir / WORLD_FILE).write_text(json.dumps(body) + "\n", encoding="utf-8")


def last_stored_at(data_dir: Path) -> datetime | None:
    """The simulated time of the newest stored reading, or None for a new folder."""
    path = READINGS.path(data_dir)
    if not path.exists():
        return None
    with ReadingStore(path) as store:
        latest = store.latest_by_probe()
    return max((item.reading.taken_at for item in latest.values()), default=None)


def resume(data_dir: Path, scenario: str, real_now: datetime) -> World:
    """The world to run now: the stored one resumed, or a new one (`save` it once started)."""
    stored = last_stored_at(data_dir)
    now = real_now if stored is None else max(real_now, stored)
    path = data_dir / WORLD_FILE
    previous = _read(path)
    if previous is not None and previous[0] == scenario and previous[1] <= now:
        began_at = previous[1]
        hours = (now - began_at).total_seconds() / 3600
        note = (
            f"resuming the simulated world of {data_dir} at {now:%Y-%m-%d %H:%M} UTC"
            f" (scenario {scenario}, {hours:.1f} h in)"
        )
        return World(scenario, began_at, now, True, note)
    if stored is None:
        return World(scenario, now, now, False, f"a new simulated world in {data_dir}")
    note = (
        f"a new simulated world in {data_dir}: scenario {scenario} starts at"
        f" {now:%Y-%m-%d %H:%M} UTC, after what is stored there (the clock never goes back);"
        " use another --data-dir for a clean start"
    )
    return World(scenario, now, now, False, note)


def _read(path: Path) -> tuple[str, datetime] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["scenario"]), datetime.fromisoformat(data["began_at"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise GatewayError(
            f"{path}: not a demo world file ({error}); fix: delete it to start a new world"
        ) from None


def check_external_servers(
    world: World, real_now: datetime, speed: float, *, servers: list[str], allowed: bool
) -> None:
    """Refuse to write points stamped ahead of the real time to real servers, unless allowed."""
    if not servers or allowed:
        return
    ahead = world.now - real_now
    if speed != 1:
        why = f"--speed {speed:g} stamps readings {speed:g}x faster than the real time"
    elif ahead > FUTURE_SLACK:
        why = (
            f"the simulated clock of this data folder is {ahead.total_seconds() / 3600:.1f} h"
            " ahead of the real time (an earlier --speed run)"
        )
    else:
        return
    raise GatewayError(
        f"{' and '.join(servers)}: {why}, so the servers would get readings from the future;"
        " fix: leave out --speed (and use a new --data-dir), or add --allow-future-points if"
        " these servers are for trying the demo"
    )
