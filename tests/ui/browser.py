"""A gateway with accounts for the browser tests, and Debian's chromium to drive it.

The gateway runs as `coldchain run` in a child process; its bus points at simulated loggers
(firmware_sim) served by the test on loopback Modbus TCP. The simulator also serves probe
208604, which the configuration does not bind: the technician's screen finds it and binds
it. One compartment's range is set so that its steady fridge is always too warm: an alarm
opens seconds after start and stays open, without waiting for a scenario to develop. The
ledger's catalogue holds the test shipment of tests/ledger; uploads wait for the night window.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from gateway.auth.passwords import Passwords
from gateway.auth.policy import Role
from gateway.core.clock import SystemClock
from gateway.settings import load_settings
from gateway.storage.accounts import AccountStore
from gateway.storage.registry import ACCOUNTS
from tests.e2e.support import CLINIC_HEADER
from tests.ledger.conftest import SHIPMENT

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
PASSWORD = "correct-horse-9"
# Served by the simulator, left out of the gateway's configuration until a technician binds it.
UNBOUND = """
[[probes]]
code = "208604"
bus = "sim"
device_id = 3
channel = 1
profile = "logger-8ch"
compartment = "Z1/冷冻"
poll_interval_s = 1
"""

CLINIC = (
    CLINIC_HEADER
    + """
[[buses]]
name = "sim"
transport = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[fridges]]
code = "F1"
name = "1号医用冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
  [[fridges.compartments]]
  name = "冷冻"
  kind = "frozen"

[[fridges]]
code = "F2"
name = "2号医用冰箱"
kind = "refrigerator"
  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
  min_c = -5.0
  max_c = 1.0

[[fridges]]
code = "Z1"
name = "低温冰柜"
kind = "freezer"
  [[fridges.compartments]]
  name = "冷冻"
  kind = "frozen"

[[probes]]
code = "208601"
bus = "sim"
device_id = 1
profile = "rs485-th"
compartment = "F1/冷藏"
poll_interval_s = 1

[[probes]]
code = "208602"
bus = "sim"
device_id = 2
profile = "pt100"
compartment = "F1/冷冻"
poll_interval_s = 1

[[probes]]
code = "208603"
bus = "sim"
device_id = 3
channel = 0
profile = "logger-8ch"
compartment = "F2/冷藏"
poll_interval_s = 1

{unbound}
[alerts]

[[alerts.people]]
id = "wang"
name = "王芳"
phone = "+8613800000001"

[[alerts.people]]
id = "li"
name = "李强"
phone = "+8613800000002"

[[alerts.people]]
id = "zhao"
name = "赵敏"
phone = "+8613800000003"

[alerts.tiers.tier1]
people = ["wang"]

[alerts.tiers.tier2]
people = ["li"]

[alerts.tiers.tier3]
people = ["zhao"]

[alerts.channels]
console = true
console_only = true

[alerts.rules.defaults]
too_warm_hold_off_s = 0

[alerts.ack]
secret = "browser-test-ack-link-secret-0123456789"
base_url = "http://127.0.0.1:8080"

[ledger]
platform_url = "http://127.0.0.1:9/upload"
upload = "batch"
catalogue_files = ["shipment.json"]
"""
)


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    roles: frozenset[Role]
    display_name: str
    person: str | None = None


# The manager's display name carries markup: the pages must show it as text.
MANAGER = Person(
    "wang", frozenset({Role.MANAGER}), "王芳<img src=x onerror=window.pwned=1>", "wang"
)
TECHNICIAN = Person("tech", frozenset({Role.TECHNICIAN}), "张工")
VACCINATOR = Person("nurse", frozenset({Role.VACCINATOR}), "刘护士")
HEAD = Person("li", frozenset({Role.HEAD}), "李强", "li")
COUNTY = Person("county", frozenset({Role.COUNTY}), "县疾控周科长")
ADMIN = Person("admin", frozenset({Role.ADMIN}), "信息科孙工")
PEOPLE = (MANAGER, TECHNICIAN, VACCINATOR, HEAD, COUNTY, ADMIN)


def clinic_toml(data_dir: Path, port: int, *, with_unbound: bool) -> str:
    return (
        CLINIC.replace("{data_dir}", str(data_dir))
        .replace("{port}", str(port))
        .replace("{unbound}", UNBOUND if with_unbound else "")
    )


def simulator_for(folder: Path) -> ModbusSimulator:
    """The simulated loggers: every probe of the clinic, the unbound one too."""
    whole = folder / "simulated.toml"
    whole.write_text(clinic_toml(folder / "data", 1, with_unbound=True), encoding="utf-8")
    return ModbusSimulator(channels_for_settings(load_settings(whole)), SystemClock())


def write_clinic(folder: Path, port: int) -> Path:
    """The gateway's configuration file, and a data folder whose accounts are `PEOPLE`."""
    data_dir = folder / "data"
    data_dir.mkdir()
    config = folder / "clinic.toml"
    config.write_text(clinic_toml(data_dir, port, with_unbound=False), encoding="utf-8")
    (data_dir / "shipment.json").write_text(json.dumps(SHIPMENT), encoding="utf-8")
    passwords = Passwords()
    with AccountStore(data_dir / ACCOUNTS.file, SystemClock(), passwords=passwords) as accounts:
        hashed = passwords.hash(PASSWORD)
        for person in PEOPLE:
            accounts.add(person.name, hashed, person.roles, person.display_name, person.person)
    return config


@asynccontextmanager
async def chromium(*args: str) -> AsyncIterator[Browser]:
    """Debian's headless chromium (package `chromium`), never a downloaded build; `args` are
    more command-line switches (a fake camera)."""
    executable = shutil.which("chromium")
    assert executable is not None, "chromium is not installed; fix: make debs"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", *args]
        )
        try:
            yield browser
        finally:
            await browser.close()


WAIT_MS = 15_000


async def new_page(browser: Browser, **options: object) -> Page:
    """A page in a fresh context (its own cookies), Chinese locale unless told."""
    context = await browser.new_context(locale="zh-CN", **options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


async def sign_in(page: Page, url: str, person: Person, then: str = "/") -> None:
    """Through the sign-in form, as a person would."""
    await page.goto(f"{url}{then}")
    await page.wait_for_url("**/login**")
    await page.fill("input[name=name]", person.name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}{then}")


async def api(page: Page, path: str, body: dict[str, Any] | None = None) -> Any:
    """A call from inside the signed-in page, as the screens make it (CSRF token included)."""
    return await page.evaluate(
        """async ([path, body]) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("coldchain_csrf="));
            const response = await fetch(path, body === null ? {} : {
                method: "POST",
                headers: {"Content-Type": "application/json",
                          "X-CSRF-Token": decodeURIComponent(csrf.split("=")[1])},
                body: JSON.stringify(body),
            });
            return {status: response.status, body: await response.json()};
        }""",
        [path, body],
    )


async def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The page (the whole of it, or what the screen shows) as test-artifacts/ui/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path
