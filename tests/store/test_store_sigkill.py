"""Kill -9 a process in the middle of writing batches: the file reopens clean, every batch the
process reported as committed is there, seqs have no gap, and at most one batch is missing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.storage.readings import ReadingStore

BATCH = 500
WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from gateway.storage.readings import ReadingStore
from probes.reading import ProbeStatus, Reading

start = datetime(2026, 1, 1, tzinfo=UTC)
batch = int(sys.argv[2])
with ReadingStore(Path(sys.argv[1])) as store:
    print("ready", store.last_seq(), flush=True)
    step = 0
    while True:
        step += 1
        taken_at = start + timedelta(seconds=step)
        readings = [
            Reading(f"P{i % 50}", taken_at, ProbeStatus.OK, 4.0 + i / 1000)
            for i in range(batch)
        ]
        print(store.write_batch(readings), flush=True)
"""


def run_and_kill(path: Path, delay: float) -> tuple[int, int]:
    """Start a writer, SIGKILL it `delay` s after it opened the store; returns the seq it
    found at start and the last seq it reported committed."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(BATCH)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        assert ready[0] == "ready", ready
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=10)
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    committed = [int(line) for line in rest.split()]
    return int(ready[1]), committed[-1] if committed else int(ready[1])


@pytest.mark.slow
def test_sigkill_while_writing_loses_at_most_the_open_batch(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    chance = random.Random(20261124)
    for _ in range(5):
        found, reported = run_and_kill(path, chance.uniform(0.2, 0.6))
        with ReadingStore(path) as store:
            assert store.integrity_check() == "ok"
            last = store.last_seq()
            assert store.readings_after(0, 1)[0].seq == 1
            assert store.count() == last, "a gap in the seqs"
            assert reported > found, "the writer committed nothing before the kill"
            assert reported <= last <= reported + BATCH
            assert (last - found) % BATCH == 0, "a partial batch was committed"
