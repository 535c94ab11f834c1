"""The demo's acknowledgement links: signed with a secret the demo makes at each start (a link
forged with the demo file's published secret is refused), pointing at the address and port
the demo really listens on, shown as a page with a button on GET and acted on by POST only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from alerts.ack_links import AckClaim, sign
from tests.e2e.test_demo import banner

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
LINK = re.compile(r"http://\S+/ack/[A-Za-z0-9_.-]+")


async def first_link(log: Path) -> str:
    async with asyncio.timeout(90):
        while not (found := LINK.search(await asyncio.to_thread(log.read_text, "utf-8"))):
            await asyncio.sleep(0.5)
    return found.group()


async def test_demo_links_are_its_own_and_act_on_post_only(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "demo", "--http-port", "0",
            "--scenario", "compressor-failure", "--speed", "600",
            "--data-dir", str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE, stderr=stderr.fileno(),
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        text = "".join(await banner(process))
        url = text.split("listening on ", 1)[1].split()[0]
        link = await first_link(log)
        assert link.startswith(f"{url}ack/"), (link, url)
        demo_secret = tomllib.loads(DEMO.read_text(encoding="utf-8"))["alerts"]["ack"]["secret"]
        body = link.rsplit("/ack/", 1)[1].split(".")[0]
        alarm_id, unit, person, _ = json.loads(base64.urlsafe_b64decode(body + "=" * 3))
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        forged = sign(AckClaim(alarm_id, unit, person, tomorrow), demo_secret)
        async with aiohttp.ClientSession() as phone:
            async with phone.post(f"{url}ack/{forged}") as answer:
                assert answer.status == 403, "the published demo secret signs nothing"
            async with phone.get(link) as page:
                assert page.status == 200
                assert "我已到场，确认" in await page.text()
            async with phone.get(link) as page:
                assert "我已到场，确认" in await page.text(), "looking acknowledged nothing"
            async with phone.post(link) as done:
                assert done.status == 200
                assert "已确认到场" in await done.text()
    finally:
        process.send_signal(2)
        async with asyncio.timeout(15):
            await process.wait()
