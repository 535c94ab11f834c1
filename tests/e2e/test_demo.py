"""`coldchain demo` as a new user runs it: simulated fridges, the demo accounts, and ledgers
that upload to a simulated provincial platform, with nothing else on the machine."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

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
