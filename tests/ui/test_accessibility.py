"""axe-core (WCAG 2.2 AA and best practice) on every page each role may open, the sign-in and
the 404 page too, in Chinese and English, on a desk and on a phone: no violation. Phone tap
targets (links, buttons, fields) are at least 44 x 44 px. Each page's result is printed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.support import GatewayProcess
from tests.ui.axe import violations
from tests.ui.browser import ADMIN, COUNTY, HEAD, MANAGER, TECHNICIAN, VACCINATOR, Person, sign_in

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]
SIZES = {
    "desk": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True},
}
TAP_PX = 44
# Every tap target of the shell and the screens; text links inside a sentence are exempt.
TARGETS = (
    "header a, header button, nav a, main button, main select, "
    "main input:not([type=checkbox]), main summary, #alarm-banner a"
)


async def _open(browser: Browser, lang: str, size: str) -> Page:
    context = await browser.new_context(locale="zh-CN", bypass_csp=True, **SIZES[size])  # type: ignore[arg-type]
    await context.add_init_script(f"localStorage.setItem('coldchain_lang', '{lang}')")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def _settled(page: Page) -> None:
    """The screen drawn: the loading line gone, the header's nav filled."""
    await page.wait_for_function(
        "document.querySelector('#nav a') && !document.querySelector('main > p.muted[data-t]')"
    )
    await page.wait_for_timeout(500)


async def _small_targets(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(
        """([selector, px]) => Array.from(document.querySelectorAll(selector))
            .filter((node) => node.offsetParent !== null)
            .map((node) => [node, node.getBoundingClientRect()])
            .filter(([, box]) => box.width < px || box.height < px)
            .map(([node, box]) => `${node.outerHTML.slice(0, 80)} ${box.width}x${box.height}`)""",
        [TARGETS, TAP_PX],
    )
    return found


@pytest.mark.parametrize(
    "person", [MANAGER, VACCINATOR, TECHNICIAN, HEAD, COUNTY, ADMIN], ids=lambda p: p.name
)
async def test_every_page_of_a_role_passes_axe_in_both_languages_and_sizes(
    gateway: GatewayProcess, browser: Browser, person: Person
) -> None:
    problems: dict[str, Any] = {}
    for lang in ("zh", "en"):
        for size in SIZES:
            page = await _open(browser, lang, size)
            await page.goto(f"{gateway.base}/login?lang={lang}")
            found = await violations(page)
            problems |= {f"/login {lang} {size}": found} if found else {}
            await sign_in(page, gateway.base, person)
            paths = [
                "/",
                *await page.eval_on_selector_all(
                    "#nav a", "(links) => links.map((a) => a.getAttribute('href'))"
                ),
            ]
            paths += ["/fridges/F1/冷藏", "/requisition"]
            for path in dict.fromkeys(paths):
                await page.goto(f"{gateway.base}{path}")
                await _settled(page)
                found = await violations(page)
                small = await _small_targets(page) if size == "phone" else []
                where = f"{person.name} {lang} {size} {path}"
                print(f"axe {where}: {len(found)} violations, {len(small)} small targets")
                if found or small:
                    problems[f"{path} {lang} {size}"] = {"axe": found, "small": small}
            await page.goto(f"{gateway.base}/no-such-page")
            found = await violations(page)
            problems |= {f"404 {lang} {size}": found} if found else {}
            await page.context.close()
    assert not problems, problems
