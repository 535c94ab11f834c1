"""`coldchain demo` as a new user runs it: simulated fridges, the demo accounts, and ledgers
that upload to a simulated provincial platform, with nothing else on the machine."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS

pytestmark = pytest.mark.asyncio

START_S = 30.0


async def banner(process: asyncio.subprocess.Process) -> list[str]:
    """The demo's lines up to the accounts line (the last one it prints at start)."""
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(START_S):
        while line := (await process.stdout.readline()).decode():
            lines.append(line)
            if "demo accounts" in line:
                break
    return lines


def browser_like() -> aiohttp.ClientSession:
    """A client that keeps the session cookies of a numeric-IP host, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(session: aiohttp.ClientSession, url: str, name: str) -> str:
    async with session.post(
        f"{url}api/session", json={"name": name, "password": f"demo-{name}"}
    ) as answer:
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["csrf_token"])


async def test_the_demo_serves_fridges_accounts_and_ledgers(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "demo", "--http-port", "0",
            "--data-dir", str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE, stderr=stderr.fileno(),
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        lines = await banner(process)
        text = "".join(lines)
        assert "simulated provincial platform at http://127.0.0.1:" in text, text
        url = text.split("listening on ", 1)[1].split()[0]
        async with browser_like() as manager:
            csrf = await sign_in(manager, url, "manager")
            async with manager.get(f"{url}api/fridges") as answer:
                assert answer.status == 200
                assert len(await answer.json()) == 4
            async with manager.post(
                f"{url}api/ledger/stock/receive",
                json={"scan": "81900670000000000001", "event_id": "demo-receive-1"},
                headers={"X-CSRF-Token": csrf},
            ) as answer:
                assert answer.status == 201, await answer.text()
            async with manager.get(f"{url}api/ledger/stock/balances") as answer:
                balances = (await answer.json())["balances"]
            assert [(row["batch_no"], row["packages"]) for row in balances] == [("202612A01", 1)]
        async with browser_like() as vaccinator:
            await sign_in(vaccinator, url, "vaccinator")
            async with vaccinator.get(f"{url}api/ledger/stock/balances") as answer:
                assert answer.status == 200
            async with vaccinator.post(
                f"{url}api/ledger/stock/receive",
                json={"scan": "81900670000000000002", "event_id": "demo-receive-2"},
            ) as answer:
                assert answer.status == 403, "a vaccinator does not receive stock, and no CSRF"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "stopped cleanly" in log.read_text(encoding="utf-8")


async def run_demo_once(data: Path, log: Path, *extra: str) -> str:
    """Start the demo on `data`, let every probe read at least once, stop it; its banner."""
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "demo", "--http-port", "0",
            "--data-dir", str(data), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=stderr.fileno(),
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        text = "".join(await banner(process))
        url = text.split("listening on ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as session:
            before = await latest_readings(session, url)
            async with asyncio.timeout(START_S):  # until every probe has read in this run
                while any(
                    taken is None or taken == before[probe]
                    for probe, taken in (await latest_readings(session, url)).items()
                ):
                    await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return text


async def latest_readings(session: aiohttp.ClientSession, url: str) -> dict[str, str | None]:
    """When each probe's latest reading was taken, as the demo's health says."""
    async with session.get(f"{url}api/health") as answer:
        health = await answer.json()
    return {probe["code"]: probe["taken_at"] for probe in health["probes"]}


def stored_times(data: Path) -> dict[str, list[datetime]]:
    """Each probe's reading times in the order they were stored."""
    with ReadingStore(READINGS.path(data)) as store:
        stored = store.readings_after(0, limit=100_000)
    times: dict[str, list[datetime]] = {}
    for item in stored:
        times.setdefault(item.reading.probe, []).append(item.reading.taken_at)
    return times


async def test_the_demo_restarted_on_its_folder_keeps_its_simulated_time(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "demo.log"
    first = await run_demo_once(data, log, "--speed", "60")
    assert f"a new simulated world in {data}" in first
    after_first = {probe: len(times) for probe, times in stored_times(data).items()}
    second = await run_demo_once(data, log, "--speed", "60")
    assert f"resuming the simulated world of {data}" in second
    assert "(scenario steady," in second
    third = await run_demo_once(data, log, "--speed", "60", "--scenario", "door-opening")
    assert "a new simulated world" in third
    assert "scenario door-opening starts at" in third
    # At 60x the first run stamped its readings a minute or more ahead of the real time; a
    # clock started anew would stamp the next run's first readings before them.
    for probe, times in stored_times(data).items():
        assert len(times) > after_first[probe], f"probe {probe} read in the later runs"
        assert times == sorted(times), f"probe {probe}: the simulated clock went back"
