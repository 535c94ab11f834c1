"""Each job on its page, timed and counted as a person would do it (clicks and seconds are
printed for the report, never asserted): add an account, acknowledge an alarm on a phone, and
how long a reading takes to reach an open page."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.support import GatewayProcess
from tests.ledger.conftest import HEPB
from tests.ledger.conftest import code as hepb_code
from tests.ui.browser import (
    ADMIN,
    COUNTY,
    MANAGER,
    PASSWORD,
    TECHNICIAN,
    VACCINATOR,
    Person,
    new_page,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}


class Task:
    """Clicks (taps) and typed fields of one task, and its seconds from the first step."""

    def __init__(self, page: Page, name: str) -> None:
        self.page, self.name = page, name
        self.clicks = self.fields = 0
        self.started = time.monotonic()

    async def click(self, selector: str) -> None:
        self.clicks += 1
        await self.page.click(selector)

    async def fill(self, selector: str, text: str) -> None:
        self.fields += 1
        await self.page.fill(selector, text)

    def report(self) -> None:
        seconds = time.monotonic() - self.started
        print(f"task {self.name}: {self.clicks} clicks, {self.fields} fields, {seconds:.1f} s")


async def test_the_admin_adds_an_account_that_then_signs_in(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, ADMIN, then="/accounts")
    await expect(page.locator("#accounts")).to_contain_text(MANAGER.display_name)
    await expect(page.locator("#accounts")).to_contain_text("疫苗管理员")

    task = Task(page, "add an account")
    await task.fill("#account-form input[name=name]", "chen")
    await task.fill("#account-form input[name=display_name]", "陈医生")
    await task.fill("#account-form input[name=password]", "chen")
    await task.click("#account-form input[value=vaccinator]")
    await task.click("#account-form button[type=submit]")
    # A weak password is refused in Chinese, at its field.
    password = page.locator("#account-form input[name=password]")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#account-form .field-error")).to_contain_text("密码太弱")
    await expect(password).to_be_focused()
    await screenshot(page, "accounts-refused")
    await task.fill("#account-form input[name=password]", PASSWORD)
    await task.click("#account-form button[type=submit]")
    await expect(page.locator("#account-form .result.ok")).to_contain_text("陈医生")
    await expect(password).not_to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#accounts")).to_contain_text("陈医生")
    task.report()
    await screenshot(page, "accounts")

    await page.goto(f"{gateway.base}/audit")
    audit = page.locator("#audit")
    await expect(audit).to_contain_text("created account 陈医生 (chen): vaccinator")
    await expect(page.locator("#audit")).to_contain_text(ADMIN.display_name)

    newcomer = await new_page(browser)
    await sign_in(newcomer, gateway.base, Person("chen", ADMIN.roles, "陈医生"), then="/")
    await expect(newcomer.locator("#who")).to_have_text("陈医生")
    await expect(newcomer.locator("#nav")).not_to_contain_text("账号管理")


async def test_on_a_phone_the_manager_acknowledges_from_the_banner(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser, **PHONE)
    await sign_in(page, gateway.base, MANAGER)
    banner = page.locator("#alarm-banner a").first
    await expect(banner).to_contain_text("2号医用冰箱")

    task = Task(page, "acknowledge on a phone")
    await task.click("#alarm-banner a")
    ack = page.locator("#open-alarms .alarm button.ack").first
    await expect(ack).to_be_visible()
    box = await ack.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 740, "确认到场 is on the first screen"
    assert box["height"] >= 44
    assert box["width"] >= 44
    await task.click("#open-alarms .alarm button.ack")
    await expect(page.locator("#open-alarms .alarm .meta").first).to_contain_text("王芳")
    task.report()
    await expect(page.locator("#open-alarms details.timeline").first).not_to_have_attribute(
        "open", ""
    )
    await screenshot(page, "alarms-phone")
    await page.goto(f"{gateway.base}/")
    await expect(page.locator('.card[data-ref="F2/冷藏"] .card-alarm')).to_contain_text("王芳")


async def test_a_reading_reaches_the_open_dashboard_without_polling(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, MANAGER)
    taken = page.locator('.card[data-ref="F1/冷藏"] .taken')
    await expect(taken).to_contain_text("最近读数")
    # Each change of the card's reading time: when the page showed it, against the reading's
    # own time (the gateway and the browser share this machine's clock).
    delays = await page.evaluate(
        """() => new Promise((done) => {
            const delays = [];
            const watch = new EventSource("/api/events");
            let stamp = null;
            watch.addEventListener("fridges", (event) => {
                const item = JSON.parse(event.data).find((one) => one.ref === "F1/冷藏");
                stamp = Date.parse(item.taken_at);
            });
            const node = document.querySelector('.card[data-ref="F1/冷藏"] .taken');
            new MutationObserver(() => {
                if (stamp !== null) delays.push(Date.now() - stamp);
                if (delays.length === 5) { watch.close(); done(delays); }
            }).observe(node, {childList: true, characterData: true, subtree: true});
        })"""
    )
    assert len(delays) == 5
    print(f"reading to page: {sorted(delays)} ms")


async def test_out_of_reach_the_installed_page_shows_the_last_data_and_its_age(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, MANAGER)
    manifest = await page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())"
    )
    assert manifest["name"] == "冷链监测"
    await page.wait_for_function("navigator.serviceWorker.controller === null ? false : true")
    await page.reload()  # now through the worker, which keeps a copy
    await expect(page.locator("#cards .card")).to_have_count(4)

    await page.context.set_offline(True)
    await page.reload()
    await expect(page.locator("#cards .card")).to_have_count(4)
    await expect(page.locator("#notice")).to_contain_text("无法连接网关")
    await expect(page.locator("#notice")).to_contain_text("分钟前")
    await expect(page.locator("body")).to_have_class("stale")
    await screenshot(page, "dashboard-offline")


async def test_the_county_reviews_the_requisition_plan_the_manager_opens(
    gateway: GatewayProcess, browser: Browser
) -> None:
    manager = await new_page(browser)
    await sign_in(manager, gateway.base, MANAGER, then="/stock")
    await manager.click("#requisition-link")
    await expect(manager.locator("#plan")).to_contain_text("待上级审核")
    await expect(manager.locator("#review-form")).to_have_count(0)
    month = await manager.input_value("#plan-month")

    county = await new_page(browser)
    await sign_in(county, gateway.base, COUNTY, then="/requisition")
    await county.fill("#review-form input[name=note]", "同意<b>")
    await county.click("#review-form button[type=submit]")
    await expect(county.locator("#plan")).to_contain_text("已由 县疾控周科长")
    await expect(county.locator("#plan")).to_contain_text("同意<b>")
    await screenshot(county, "requisition")

    await manager.reload()
    await expect(manager.locator("#plan")).to_contain_text("已由 县疾控周科长")
    csv = await manager.evaluate(
        f"fetch('/api/ledger/requisition/{month}?format=csv').then((r) => r.text())"
    )
    assert csv.splitlines()


async def test_the_manager_generates_and_downloads_the_monthly_report(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, MANAGER, then="/reports")
    month = await page.evaluate("new Date().toISOString().slice(0, 7)")
    await page.fill("#report-month", month)
    await page.click("#report-form button[type=submit]")
    async with page.context.expect_page() as opened:
        await page.click("#report-links a[target=_blank]")
    report = await opened.value
    await expect(report.locator("body")).to_contain_text("冷链设备月度报告")
    await expect(report.locator("body")).to_contain_text("6101030203")
    async with page.expect_download() as downloading:
        await page.click("#report-download")
    download = await downloading.value
    assert download.suggested_filename == f"report-{month}.html"
    await screenshot(report, "report")

    nurse = await new_page(browser)
    await sign_in(nurse, gateway.base, VACCINATOR)
    await expect(nurse.locator("#nav")).not_to_contain_text("月度报告")


async def test_the_technician_raises_a_compartments_probe_count_then_binds_a_second_probe(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, TECHNICIAN, then="/technician")
    task = Task(page, "bind a probe")
    await task.fill("#discover-form input[name=last]", "3")
    await task.click("#discover-form button[type=submit]")
    await expect(page.locator("#discovered tbody tr").first).to_be_visible()
    await task.fill("#bind-form input[name=code]", "208604")
    await page.select_option("#bind-form select[name=compartment]", "F1/冷藏")
    task.clicks += 1
    await task.fill("#bind-form input[name=device_id]", "3")
    await task.fill("#bind-form input[name=channel]", "1")
    await task.click("#bind-form button[type=submit]")
    refused = page.locator("#bind-form .result.error")
    await expect(refused).to_contain_text("修改后的配置无效")
    await expect(refused.locator(".detail")).to_contain_text("set probes = 2")

    await task.click("text=修改间室的探头数（附表1）")
    await page.select_option("#probes-form select[name=compartment]", "F1/冷藏")
    task.clicks += 1
    await task.fill("#probes-form input[name=probes]", "2")
    await task.click("#probes-form button[type=submit]")
    await expect(page.locator("#notice")).to_contain_text("探头数变更（附表1）已完成")

    await task.fill("#bind-form input[name=code]", "208604")
    await page.select_option("#bind-form select[name=compartment]", "F1/冷藏")
    task.clicks += 1
    await task.fill("#bind-form input[name=device_id]", "3")
    await task.fill("#bind-form input[name=channel]", "1")
    await task.click("#bind-form button[type=submit]")
    await expect(page.locator("#notice")).to_contain_text("安装绑定（附表3）已完成")
    task.report()
    await expect(page.locator("main")).to_contain_text("208601, 208604")
    await screenshot(page, "technician-probe-count")


async def test_the_manager_receives_by_scan_without_a_click(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, gateway.base, MANAGER, then="/stock")
    scan = page.locator("#stock-scan")
    await expect(scan).to_be_focused()
    task = Task(page, "receive 3 packages by scan")
    for serial in (5, 6, 7):
        task.fields += 1
        await scan.fill(hepb_code(HEPB, serial))
        await scan.press("Enter")
    accepted = page.locator(".scan-log li.accepted")
    await expect(accepted).to_have_count(3)
    await expect(accepted.first.locator(".facts")).to_contain_text("有效期至")
    task.report()
