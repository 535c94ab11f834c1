"""No internal id where a name exists (issue 18): after a day's stock, alarm and excursion
work, every page each role may open, in Chinese and English, shows compartments by their
fridge's name and people by their display names. A compartment's reference (`F1/冷藏`) may
stand only in brackets right after its name, an account id (`wang`) only on a line that shows
its display name too (the accounts list, an audit entry by its author)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.support import GatewayProcess
from tests.ledger.conftest import HEPB
from tests.ledger.conftest import code as hepb_code
from tests.ui.axe import violations
from tests.ui.browser import (
    ADMIN,
    COUNTY,
    HEAD,
    MANAGER,
    PEOPLE,
    TECHNICIAN,
    VACCINATOR,
    new_page,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
REF = re.compile(r"[A-Z]+\d+/(?:冷藏|冷冻)")
# A reference beside its name, as on the fridge's label: "1号医用冰箱 冷藏 (F1/冷藏)".
REF_BESIDE_NAME = re.compile(r"\S+ (?:冷藏|冷冻) \([A-Z]+\d+/(?:冷藏|冷冻)\)")
# Each account's display name by its id: an id may stand beside it (the accounts list).
DISPLAY_NAMES = {person.name: person.display_name for person in PEOPLE}
# What separates words in the pages' lines ("李强 · 10:02", "（wang）").
WORDS = re.compile(r"[\s·、，,：:;；()（）#]+")


async def _post(page: Page, path: str, body: dict[str, object]) -> dict[str, object]:
    answer: dict[str, object] = await page.evaluate(
        """async ([path, body]) => {
            const csrf = document.cookie.split("; ").find((c) => c.startsWith("coldchain_csrf="));
            const response = await fetch(path, {
                method: "POST",
                headers: {"Content-Type": "application/json",
                          "X-CSRF-Token": decodeURIComponent(csrf.split("=")[1])},
                body: JSON.stringify(body),
            });
            return {status: response.status, body: await response.json()};
        }""",
        [path, body],
    )
    assert answer["status"] in (200, 201), (path, answer)
    return answer


async def _a_days_work(browser: Browser, base: str) -> None:
    """Stock received into and held in compartments, an excursion, a scrap asked and approved,
    the open alarm acknowledged, a manual reading and a calibration check: each page then has
    ids to show or not."""
    manager = await new_page(browser)
    await sign_in(manager, base, MANAGER, then="/stock")
    placed, held, scrapped = (hepb_code(HEPB, n) for n in (1, 2, 3))
    await _post(manager, "/api/ledger/stock/receive-into",
                {"code": placed, "compartment": "F1/冷藏", "event_id": "n1"})  # fmt: skip
    for code in (held, scrapped):
        await _post(manager, "/api/ledger/stock/receive", {"scan": code, "event_id": f"r{code}"})
    await _post(manager, "/api/ledger/holds/override",
                {"compartment": "F2/冷藏", "reason": "转移待评估的疫苗"})  # fmt: skip
    await _post(manager, "/api/ledger/stock/placements",
                {"compartment": "F2/冷藏", "event_id": "n2", "codes": [held]})  # fmt: skip
    window = await manager.evaluate(
        "[new Date(Date.now() - 60000).toISOString(), new Date().toISOString()]"
    )
    await _post(manager, "/api/ledger/excursions",
                {"compartment": "F2/冷藏", "start": window[0], "end": window[1]})  # fmt: skip
    await manager.select_option("#scan-mode", "scrap")
    await manager.select_option("#scrap-reason-code", label="包装破损")
    await manager.fill("#scrap-reason", "瓶身破损")
    await manager.fill("#stock-scan", scrapped)
    await manager.press("#stock-scan", "Enter")
    await expect(manager.locator(".scan-log li").first).to_contain_text("已提交报废申请")
    alarms = await manager.evaluate("fetch('/api/alarms').then((r) => r.json())")
    [alarm] = [a for a in alarms["alarms"] if a["subject"] == "F2/冷藏"]
    await _post(
        manager, f"/api/alarms/{quote(alarm['id'], safe='')}/ack", {"person": "wang", "how": "web"}
    )
    await _post(manager, "/api/manual-readings", {"compartment": "F1/冷藏", "temperature": 4.5})
    await manager.context.close()

    technician = await new_page(browser)
    await sign_in(technician, base, TECHNICIAN, then="/checks")
    await _post(technician, "/api/calibrations", {"probe": "208601", "reference_c": 4.0})
    await technician.context.close()

    county = await new_page(browser)
    await sign_in(county, base, COUNTY, then="/stock")
    pending = county.locator("#approvals tbody tr").filter(has_text=scrapped)
    await pending.locator("button.approve").click()
    await expect(pending).not_to_contain_text("待审批")
    await county.context.close()


def _raw_ids(text: str) -> list[str]:
    """The lines showing a compartment's reference not beside its name, or an account id
    standing alone."""
    return [
        line.strip()
        for line in text.splitlines()
        if REF.search(REF_BESIDE_NAME.sub("", line))
        or any(DISPLAY_NAMES.get(word, word) not in line for word in WORDS.split(line))
    ]


async def _page_text(page: Page) -> str:
    """What a person reads: the page's text, with the choices of every list."""
    await page.wait_for_function(
        "document.querySelector('#nav a') && !document.querySelector('main > p.muted[data-t]')"
    )
    await page.wait_for_timeout(1500)
    text: str = await page.evaluate(
        """() => [document.body.innerText,
                  ...Array.from(document.querySelectorAll("option"), (o) => o.textContent)]
                 .join("\\n")"""
    )
    return text


async def test_no_page_shows_a_compartment_ref_or_an_account_id_where_a_name_exists(
    gateway: GatewayProcess, browser: Browser
) -> None:
    await _a_days_work(browser, gateway.base)
    found: dict[str, list[str]] = {}
    for person in (MANAGER, VACCINATOR, TECHNICIAN, HEAD, COUNTY, ADMIN):
        for lang in ("zh", "en"):
            page = await new_page(browser, bypass_csp=True)
            await page.context.add_init_script(f"localStorage.setItem('coldchain_lang', '{lang}')")
            await sign_in(page, gateway.base, person)
            links = await page.eval_on_selector_all(
                "#nav a", "(links) => links.map((a) => a.getAttribute('href'))"
            )
            for path in dict.fromkeys(["/", *links, "/fridges/F2/冷藏", "/requisition"]):
                await page.goto(f"{gateway.base}{path}")
                raw = _raw_ids(await _page_text(page))
                if raw:
                    found[f"{person.name} {lang} {path}"] = sorted(set(raw))
                if lang == "zh" and person is MANAGER:
                    assert await violations(page) == [], path
            await page.context.close()
    assert not found, "\n".join(f"{where}: {ids}" for where, ids in found.items())


async def test_on_a_phone_the_alarm_and_the_excursions_name_fridges_and_people(
    gateway: GatewayProcess, browser: Browser
) -> None:
    await _a_days_work(browser, gateway.base)
    page = await new_page(browser, **PHONE)
    await sign_in(page, gateway.base, HEAD, then="/alarms")
    await expect(page.locator("main")).to_contain_text("2号医用冰箱 冷藏")
    # The ack names the alarm person wang (王芳), not the account of the same id.
    acked = page.locator("article.alarm .meta").first
    await expect(acked).to_contain_text("王芳")
    await expect(acked).not_to_contain_text(MANAGER.display_name)
    await screenshot(page, "names-alarms-phone", full_page=False)
    await page.goto(f"{gateway.base}/excursions")
    await expect(page.locator("#excursions")).to_contain_text("2号医用冰箱 冷藏")
    await screenshot(page, "names-excursions-phone")
    assert not _raw_ids(await _page_text(page))
