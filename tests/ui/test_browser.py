"""The screens in Debian's headless chromium against a real demo gateway, signed in through
the sign-in form; screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.support import GatewayProcess
from tests.ledger.conftest import HEPB, HEPB_BATCH, OLD_BATCH
from tests.ledger.conftest import code as hepb_code
from tests.ui.axe import violations
from tests.ui.browser import (
    COUNTY,
    HEAD,
    MANAGER,
    TECHNICIAN,
    VACCINATOR,
    api,
    screenshot,
    sign_in,
)
from tests.ui.browser import new_page as _page

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


async def test_the_dashboard_shows_every_compartment_and_its_values_move(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await _page(browser)
    await sign_in(page, gateway.base, MANAGER)

    cards = page.locator("#cards .card")
    await expect(cards).to_have_count(4)
    warm = page.locator('.card[data-ref="F2/冷藏"]')
    await expect(warm).to_have_class("card status-too_warm")
    await expect(warm.locator(".state")).to_have_text("温度过高")
    await expect(warm.locator(".card-alarm")).to_contain_text("已通知至第1级")
    await expect(warm.locator(".card-alarm")).to_contain_text("尚无人确认到场")
    await expect(page.locator("#alarm-banner")).to_contain_text("2号医用冰箱")
    await expect(page.locator('#nav a[data-nav="alarms"] .count')).to_have_text("1")
    taken = page.locator('.card[data-ref="F1/冷藏"] .taken')
    await expect(taken).to_contain_text("最近读数")
    first = await taken.text_content()
    await expect(taken).not_to_have_text(first or "")
    await expect(page.locator('.card[data-ref="F1/冷藏"] .sparkline .mean')).to_have_count(1)
    await expect(page.locator("#who")).to_have_text(MANAGER.display_name)
    assert await page.evaluate("window.pwned") is None
    await screenshot(page, "dashboard-zh")

    await page.click('.card[data-ref="F1/冷藏"]')
    await expect(page.locator("svg.chart path.mean")).to_have_count(1)
    await page.click('button[data-span="7d"]')
    await expect(page.locator('button[data-span="7d"]')).to_have_class("on")
    await screenshot(page, "fridge-7d")

    await page.click("#lang")
    await expect(page.locator("#nav")).to_contain_text("Alarms")
    await page.goto(f"{gateway.base}/")
    await expect(page.locator('.card[data-ref="F2/冷藏"] .state')).to_have_text("Too warm")
    await screenshot(page, "dashboard-en")


async def test_on_a_phone_the_cards_stack(gateway: GatewayProcess, browser: Browser) -> None:
    page = await _page(browser, viewport={"width": 375, "height": 740}, is_mobile=True)
    await sign_in(page, gateway.base, VACCINATOR)

    await expect(page.locator("#cards .card")).to_have_count(4)
    boxes = [await card.bounding_box() for card in await page.locator("#cards .card").all()]
    assert all(box is not None and box["width"] <= 375 for box in boxes)
    assert len({box["x"] for box in boxes if box is not None}) == 1
    await expect(page.locator("#nav")).not_to_contain_text("探头安装")
    await screenshot(page, "dashboard-phone")

    await page.click("#sign-out")
    await page.wait_for_url("**/login?**")
    await page.goto(f"{gateway.base}/alarms")
    await page.wait_for_url("**/login?next=**")


async def ack_path(gateway: GatewayProcess) -> str:
    """The path of the first acknowledgement link the console channel logged."""
    for _ in range(100):
        found = re.search(r"/ack/[A-Za-z0-9_.-]+", gateway.logged(last=1_000_000))
        if found:
            return found.group()
        await asyncio.sleep(0.2)
    raise AssertionError(f"no ack link logged:\n{gateway.logged()}")


async def test_the_ack_link_on_a_phone_signed_out_asks_before_acknowledging(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await _page(browser, viewport={"width": 375, "height": 740}, is_mobile=True)
    answer = await page.goto(gateway.base + await ack_path(gateway))
    assert answer is not None
    assert answer.status == 200
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    await expect(page.locator("dl")).to_contain_text("王芳（wang）")
    await expect(page.locator("dl")).to_contain_text("2号医用冰箱")
    button = page.locator("button[type=submit]")
    box = await button.bounding_box()
    assert box is not None
    assert box["width"] <= 375
    assert box["height"] >= 44, "a finger can hit it"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await screenshot(page, "ack-link-phone")
    await page.reload()
    await expect(button).to_be_visible()  # opening it twice acknowledged nothing
    await button.click()
    await expect(page.locator("h1")).to_have_text("已确认到场")
    await expect(page.locator("p")).to_contain_text("wang")
    await screenshot(page, "ack-link-done")


async def test_the_manager_acknowledges_the_alarm_and_markup_stays_text(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await _page(browser)
    await sign_in(page, gateway.base, MANAGER, then="/alarms")

    alarm = page.locator("#open-alarms .alarm").first
    await expect(alarm).to_contain_text("2号医用冰箱")
    await expect(alarm.locator(".timeline")).to_contain_text("控制台")
    await alarm.locator("details.impact summary").click()
    await expect(alarm.locator("details.impact")).to_contain_text("超上限")
    await alarm.locator("button.ack").click()
    await expect(alarm.locator(".meta").first).to_contain_text(re.compile(r"已到场确认：\s*王芳"))
    await expect(alarm.locator("button.ack")).to_have_count(0)

    markup = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    await page.click("text=设置静默")
    await page.fill("input[name=why]", markup)
    await page.click("form button[type=submit] >> text=设置静默")
    await expect(page.locator("#silences table")).to_contain_text(markup)
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("main img").count() == 0
    await screenshot(page, "alarms")


async def test_the_technician_binds_a_found_probe_and_flags_a_failed_calibration(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await _page(browser)
    await sign_in(page, gateway.base, TECHNICIAN, then="/technician")

    await page.fill("#discover-form input[name=last]", "3")
    await page.click("#discover-form button[type=submit]")
    rows = page.locator("#discovered tbody tr")
    free = rows.filter(has=page.locator("td:nth-child(1)", has_text=re.compile(r"^3$"))).filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile(r"^1$"))
    )
    await expect(free).to_contain_text("未绑定")
    await free.locator("button.use").click()
    await page.fill("#bind-form input[name=code]", "208604")
    await page.select_option("#bind-form select[name=compartment]", "Z1/冷冻")
    await page.click("#bind-form button[type=submit]")
    await expect(page.locator("#notice")).to_contain_text("安装绑定（附表3）已完成")
    await expect(page.locator("main")).to_contain_text("208604")
    await screenshot(page, "technician")
    await page.click("#serial-form button[type=submit]")
    await expect(page.locator("#serial-form .result.ok")).to_contain_text("串口")
    await expect(page.locator("#serial-found")).not_to_be_empty()
    await screenshot(page, "technician-serial")

    await page.fill("#bind-form input[name=code]", "208699")
    await page.select_option("#bind-form select[name=compartment]", "F1/冷藏")
    await page.fill("#bind-form input[name=device_id]", "3")
    await page.fill("#bind-form input[name=channel]", "1")
    await page.click("#bind-form button[type=submit]")
    await expect(page.locator("#bind-form .result.error")).to_contain_text("already bound")

    await page.goto(f"{gateway.base}/checks")
    await page.select_option("#calibration-form select[name=probe]", "208601")
    await page.fill("#calibration-form input[name=reference_c]", "30")
    await page.click("#calibration-form button[type=submit]")
    await expect(page.locator("#calibration-form .result.error")).to_contain_text("不合格，需维修")
    await expect(page.locator("#repairs")).to_contain_text("208601")

    for temperature, answer in (("4.5", ".result.ok"), ("4.6", ".result.error")):
        await page.select_option("#manual-form select[name=compartment]", "F1/冷藏")
        await page.fill("#manual-form input[name=temperature]", temperature)
        await page.click("#manual-form button[type=submit]")
        await expect(page.locator(f"#manual-form {answer}")).not_to_be_empty()
    await expect(page.locator("#manual-form .result")).to_contain_text("already entered")
    await screenshot(page, "checks")

    await page.goto(f"{gateway.base}/fridges/F1/冷藏")
    await expect(page.locator("svg.chart circle.manual")).to_have_count(1)


async def test_the_manager_receives_stock_by_scanning_into_the_page(
    gateway: GatewayProcess, browser: Browser
) -> None:
    page = await _page(browser)
    await sign_in(page, gateway.base, MANAGER, then="/stock")

    scan = page.locator("#stock-scan")
    await expect(scan).to_be_focused()
    for code in (hepb_code(HEPB, 1), hepb_code(HEPB, 2), hepb_code(HEPB, 2), "not-a-code<b>"):
        await scan.fill(code)
        await scan.press("Enter")
    log = page.locator(".scan-log li")
    await expect(log).to_have_count(4)
    await expect(log.nth(3)).to_contain_text("已入库")
    await expect(log.nth(3).locator(".facts")).to_contain_text("乙肝疫苗 · 批号")
    await expect(log.nth(3).locator(".facts")).to_contain_text("剩余")
    await expect(log.nth(3)).to_have_class("accepted")
    await expect(log.nth(0)).to_have_class("refused")
    await expect(log.nth(1).locator(".error")).to_contain_text("already received")
    await expect(log.nth(0).locator(".error")).to_contain_text("not a trace code")
    await expect(log.nth(0).locator("code")).to_have_text("not-a-code<b>")
    await expect(page.locator("#balances")).to_contain_text("乙肝疫苗")
    await expect(page.locator("#upload-summary")).to_contain_text("批量上传")
    await screenshot(page, "stock")

    placed = hepb_code(HEPB, 3)
    await page.select_option("#scan-compartment", "F1/冷藏")
    await scan.fill(placed)
    await scan.press("Enter")
    await expect(log.nth(0).locator(".ok")).to_contain_text("已入库并放入 1号医用冰箱 冷藏")
    # F2/冷藏 (range -5..1 °C) is too warm from the start: on hold, and the page says so.
    holds = page.locator("#holds")
    await expect(holds).to_contain_text("2号医用冰箱 冷藏 暂停使用： 温度过高 报警 #")
    await expect(holds).to_contain_text("暂停入库、移入和接种")
    await page.select_option("#scan-mode", "move")
    await page.select_option("#scan-compartment", "F2/冷藏")
    await scan.fill(placed)
    await scan.press("Enter")
    await expect(log.nth(0).locator(".error")).to_contain_text(
        "moving into it refused: 2号医用冰箱 冷藏 (F2/冷藏) is on hold while alarm #"
    )
    await page.select_option("#scan-compartment", "F1/冷冻")
    for code in (placed, hepb_code(HEPB, 4)):
        await scan.fill(code)
        await scan.press("Enter")
    await expect(log).to_have_count(8)
    await expect(log.nth(1).locator(".ok")).to_contain_text("已移入 1号医用冰箱 冷冻")
    await expect(log.nth(0).locator(".error")).to_contain_text("not in stock")
    await screenshot(page, "stock-hold")

    await page.reload()
    await expect(page.locator("#scan-compartment")).to_have_value("F1/冷冻")
    contents = page.locator("#contents")
    await page.select_option("#contents-form select[name=compartment]", "F1/冷冻")
    await page.click("#contents-form button[type=submit]")
    await expect(contents.locator("tbody tr")).to_have_count(1)
    await expect(contents).to_contain_text(placed)
    summary = page.locator("#contents-form .result.ok")
    await expect(summary).to_contain_text("1号医用冰箱 冷冻：1 个包装")
    await page.fill("#contents-form input[name=at]", "2026-01-01T09:00:00")
    await page.click("#contents-form button[type=submit]")
    await expect(contents).not_to_contain_text(placed)
    await page.fill("#contents-form input[name=at]", "")
    await page.select_option("#contents-form select[name=compartment]", "F1/冷藏")
    await page.click("#contents-form button[type=submit]")
    await expect(summary).to_contain_text("1号医用冰箱 冷藏：0 个包装")
    await screenshot(page, "stock-compartments")

    await page.goto(f"{gateway.base}/vaccinations")
    await expect(page.locator("#today")).to_contain_text("暂无")
    await expect(page.locator("#dose-form")).to_have_count(0)

    nurse = await _page(browser)
    await sign_in(nurse, gateway.base, VACCINATOR, then="/vaccinations")
    await nurse.fill("#dose-form input[name=archive_no]", "6101")
    chosen = {"site_code": "1 左上臂三角肌", "vaccination_type": "01 常规",
              "vaccine_attribute": "01 国家免疫规划疫苗"}  # fmt: skip
    for name, label in chosen.items():  # chosen by their names, the codes are sent
        await nurse.select_option(f"#dose-form select[name={name}]", label=label)
    await nurse.fill("#dose-form input[name=scan]", hepb_code(HEPB, 1))
    await nurse.press("#dose-form input[name=scan]", "Enter")
    await expect(nurse.locator("#dose-form .result.error")).to_contain_text("archive_no")

    await nurse.click("text=登记新受种者")
    recipient = {
        "archive_no": "610103202600001",
        "name": "张三<script>window.pwned=3</script>",
        "id_number": "11010519491231002X",
        "address": "西安市新城区西一路1号",
    }
    for name, value in recipient.items():
        await nurse.fill(f"#recipient-form input[name={name}]", value)
    person_choices = {
        "crowd_category": "29 其他人员",
        "household_county": "610102 陕西省西安市新城区",
        "current_area": "610102001 陕西省西安市新城区西一路街道",
        "marital_status": "20 已婚",
        "occupation": "16 离退人员",
    }
    for name, label in person_choices.items():
        await nurse.select_option(f"#recipient-form select[name={name}]", label=label)
    await nurse.fill("#recipient-form input[name=birth_date]", "1949-12-31")
    await nurse.select_option("#recipient-form select[name=sex]", "2")
    await nurse.click("#recipient-form button[type=submit]")
    await expect(nurse.locator("#recipient-form .result.ok")).to_contain_text("610103202600001")
    await nurse.press("#dose-form input[name=scan]", "Enter")
    await expect(nurse.locator("#dose-form .result.ok")).to_contain_text("已登记")
    doses = await nurse.evaluate("fetch('/api/ledger/doses').then((r) => r.json())")
    given = doses["doses"][0]
    assert (given["manufacturer_code"], given["site_code"], given["vaccination_type"],
            given["vaccine_attribute"]) == ("M01", "1", "01", "01")  # fmt: skip
    await expect(nurse.locator("#today")).to_contain_text(recipient["name"])
    assert await nurse.evaluate("window.pwned") is None
    await screenshot(nurse, "vaccinations")
    async with nurse.context.expect_page() as opened:
        await nurse.click("#today a >> text=打印接种凭证")
    certificate = await opened.value
    await expect(certificate.locator("body")).to_contain_text("610103202600001")
    await expect(certificate.locator(".issuer")).not_to_contain_text("6101030203")
    await screenshot(certificate, "certificate")


async def _post(page: Page, path: str, body: dict[str, object]) -> None:
    """A JSON POST from inside the signed-in page that must succeed."""
    answer = await api(page, path, body)
    assert answer["status"] in (200, 201), answer


async def test_the_county_approves_a_scrap_the_manager_asked_for_and_the_clinics_head_cannot(
    gateway: GatewayProcess, browser: Browser
) -> None:
    scrapped, kept = hepb_code(HEPB, 3), hepb_code(HEPB, 4)
    manager = await _page(browser)
    await sign_in(manager, gateway.base, MANAGER, then="/stock")
    scan = manager.locator("#stock-scan")
    for code in (scrapped, kept):
        await scan.fill(code)
        await scan.press("Enter")
    await expect(manager.locator(".scan-log li .ok")).to_have_count(2)
    await manager.select_option("#scan-mode", "scrap")
    await manager.select_option("#scrap-reason-code", label="包装破损")
    await manager.fill("#scrap-reason", "瓶身破损<b>")
    await scan.fill(scrapped)
    await scan.press("Enter")
    await expect(manager.locator(".scan-log li").first).to_contain_text("已提交报废申请")
    asked = manager.locator("#approvals tbody tr").first
    await expect(asked).to_contain_text("待审批")
    await expect(asked).to_contain_text("瓶身破损<b>")
    await expect(manager.locator("#approvals button.approve")).to_have_count(0)

    clinic_head = await _page(browser)
    await sign_in(clinic_head, gateway.base, HEAD, then="/stock")
    await expect(clinic_head.locator("#balances")).to_be_visible()
    await expect(clinic_head.locator("#approvals button.approve")).to_have_count(0)

    head = await _page(browser)
    await sign_in(head, gateway.base, COUNTY, then="/stock")
    pending = head.locator("#approvals tbody tr").filter(has_text=scrapped)
    await expect(pending).to_contain_text("待审批")
    await expect(head.locator("#stocktake-form")).to_have_count(0)
    await pending.locator("button.approve").click()
    await expect(pending).to_contain_text("已批准（县疾控周科长）")
    await expect(pending.locator("button")).to_have_count(0)
    await expect(head.locator("#balances tbody td:nth-child(5)")).to_have_text("1")
    await screenshot(head, "stock-approvals")

    await manager.reload()
    await manager.fill("#stocktake-codes", kept)
    await manager.click("#stocktake-form button[type=submit]")
    await expect(manager.locator("#stocktake-result")).to_contain_text("账苗一致")
    await manager.fill("#stocktake-codes", f"{scrapped}\n{kept}")
    await manager.click("#stocktake-form button[type=submit]")
    await expect(manager.locator("#stocktake-result")).to_contain_text("账苗不一致")
    await manager.locator("#stocktake-result button.use").click()
    await manager.fill("#adjustment-form input[name=doses]", "1")
    await manager.fill("#adjustment-form input[name=reason]", "盘点发现")
    await manager.click("#adjustment-form button[type=submit]")
    await expect(manager.locator("#adjustment-form .result.ok")).to_contain_text("已记录调整")
    await screenshot(manager, "stock-stocktake")

    # F2/冷藏 is on hold (its alarm is open): the manager lets this one movement through.
    await _post(
        manager,
        "/api/ledger/holds/override",
        {"compartment": "F2/冷藏", "reason": "转移待评估的疫苗"},
    )
    await _post(
        manager,
        "/api/ledger/stock/placements",
        {"compartment": "F2/冷藏", "event_id": "place-kept", "codes": [kept]},
    )
    window = await manager.evaluate(
        "[new Date(Date.now() - 60000).toISOString(), new Date().toISOString()]"
    )
    await _post(
        manager,
        "/api/ledger/excursions",
        {"compartment": "F2/冷藏", "start": window[0], "end": window[1]},
    )
    # The county reviews requests; the clinic's head disposes of what an excursion held.
    await clinic_head.goto(f"{gateway.base}/excursions")
    held = clinic_head.locator("#quarantine tbody tr").filter(has_text=kept)
    await held.locator("button.use").click()
    await expect(clinic_head.locator("#proposal")).to_contain_text("建议")
    await expect(clinic_head.locator("#excursions")).to_contain_text("2号医用冰箱 冷藏")
    await clinic_head.select_option("#disposition-form select[name=decision]", "discard")
    await clinic_head.click("#disposition-form button[type=submit]")
    await expect(clinic_head.locator("#disposition-form .result.ok")).to_contain_text("报废申请")
    await expect(held).to_contain_text("to be discarded")
    await expect(held).to_contain_text("的温度异常已被李强判定报废，不能使用")
    await screenshot(clinic_head, "excursions")

    nurse = await _page(browser)
    await sign_in(nurse, gateway.base, VACCINATOR, then="/stock")
    await expect(nurse.locator("#balances")).to_contain_text("乙肝疫苗")
    await expect(nurse.locator("#approvals")).to_have_count(0)
    await expect(nurse.locator("#stocktake-form")).to_have_count(0)
    await expect(nurse.locator("#nav")).not_to_contain_text("超温与隔离")


async def _adjust(page: Page, **values: str) -> None:
    form = page.locator("#adjustment-form")
    for name, value in values.items():
        await form.locator(f"input[name={name}]").fill(value)
    await form.locator("button[type=submit]").click()


async def test_refusals_are_in_the_readers_words_beside_the_field_they_name(
    gateway: GatewayProcess, browser: Browser
) -> None:
    """Each refusal from its own code, in Chinese (English once switched), with the values it
    needs, the compartment by its fridge's name, and the field it names marked in its form."""
    phone = {"viewport": {"width": 375, "height": 740}, "is_mobile": True}
    page = await _page(browser, **phone)
    await sign_in(page, gateway.base, MANAGER, then="/stock")
    scan = page.locator("#stock-scan")
    log = page.locator(".scan-log li")
    for code in (hepb_code(HEPB, 1), hepb_code(HEPB, 99)):
        await scan.fill(code)
        await scan.press("Enter")
    await expect(log.nth(0).locator(".error")).to_contain_text(
        f"乙肝疫苗 批号 {OLD_BATCH} 已于 2026-03-01 过期，不能使用"
    )
    await expect(log.nth(1)).to_have_class("accepted")
    await expect(page.locator("#holds")).to_contain_text("2号医用冰箱 冷藏 暂停使用")
    await page.select_option("#scan-mode", "move")
    await page.select_option("#scan-compartment", "F2/冷藏")
    await scan.fill(hepb_code(HEPB, 1))
    await scan.press("Enter")
    await expect(log.nth(0).locator(".error")).to_contain_text("2号医用冰箱 冷藏有未关闭的报警")

    form = page.locator("#adjustment-form")
    result = form.locator(".result.error")
    await _adjust(page, product_id=HEPB, batch_no=HEPB_BATCH, packages="0", doses="0",
                  reason="盘点")  # fmt: skip
    await expect(result).to_contain_text("调整数量为零：请填写要调整的剂次或支数")
    await expect(form.locator("input[name=packages]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("#adjustment-form-packages-error")).to_have_text(
        "调整数量为零：请填写要调整的剂次或支数"
    )
    await _adjust(page, batch_no="ZZ20260001", packages="1")
    await expect(result).to_contain_text("乙肝疫苗批号 ZZ20260001 不在疫苗目录中")
    await expect(form.locator("input[name=batch_no]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("input[name=packages]")).not_to_have_attribute("aria-invalid", "true")
    await _adjust(page, batch_no=HEPB_BATCH, packages="-5", doses="-5")
    words = f"乙肝疫苗 批号 {HEPB_BATCH} 账面只剩 1 剂（1 支），不够本次的 5 剂"
    await expect(result).to_contain_text(words)
    await expect(form.locator("#adjustment-form-doses-error")).to_have_text(words)
    await expect(form.locator("input[name=doses]")).to_be_focused()
    await screenshot(page, "refusals-phone-zh", full_page=False)
    await scan.scroll_into_view_if_needed()
    await screenshot(page, "refusals-phone-zh-scans", full_page=False)

    await page.click("#lang")
    await expect(page.locator("#lang")).to_have_text("中文")
    await _adjust(page, product_id=HEPB, batch_no=HEPB_BATCH, packages="-5", doses="-5",
                  reason="stocktake")  # fmt: skip
    words = f"乙肝疫苗 batch {HEPB_BATCH} has only 1 dose(s) in 1 package(s) on the books"
    await expect(result).to_contain_text(words)
    await expect(form.locator("#adjustment-form-doses-error")).to_contain_text(words)
    await form.locator("input[name=doses]").scroll_into_view_if_needed()
    await screenshot(page, "refusals-phone-en", full_page=False)

    # The accessibility pass over a form with a refusal shown (axe needs the CSP bypassed).
    checked = await _page(browser, bypass_csp=True, **phone)
    await sign_in(checked, gateway.base, MANAGER, then="/stock")
    await _adjust(checked, product_id=HEPB, batch_no="ZZ20260001", packages="1", doses="0",
                  reason="盘点")  # fmt: skip
    await expect(checked.locator("#adjustment-form .field-error")).to_have_count(1)
    assert await violations(checked) == []

    # A record refused for several fields at once: each field marked with its own problem.
    nurse = await _page(browser, **phone)
    await sign_in(nurse, gateway.base, VACCINATOR, then="/vaccinations")
    await nurse.click("text=登记新受种者")
    person = nurse.locator("#recipient-form")
    typed = {"archive_no": "610103202600009", "name": "李四", "id_number": "11010519491231002X",
             "phone": "12ab", "address": "西安市新城区西一路1号"}  # fmt: skip
    for name, value in typed.items():
        await person.locator(f"input[name={name}]").fill(value)
    choices = {"crowd_category": "29 其他人员", "household_county": "610102 陕西省西安市新城区",
               "current_area": "610102001 陕西省西安市新城区西一路街道",
               "marital_status": "20 已婚", "occupation": "16 离退人员"}  # fmt: skip
    for name, label in choices.items():
        await person.locator(f"select[name={name}]").select_option(label=label)
    await person.locator("input[name=birth_date]").fill("1950-01-01")  # the ID says 1949-12-31
    await person.locator("select[name=sex]").select_option("1")  # the ID says female
    await person.locator("button[type=submit]").click()
    said = "出生日期与身份证号不一致；性别与身份证号不一致；联系电话只能是 7 到 20 位数字"
    await expect(person.locator(".result.error")).to_contain_text(said)
    for name, words in (
        ("birth_date", "出生日期与身份证号不一致"),
        ("sex", "性别与身份证号不一致"),
        ("phone", "联系电话只能是 7 到 20 位数字"),
    ):
        await expect(person.locator(f"[name={name}]")).to_have_attribute("aria-invalid", "true")
        await expect(person.locator(f"#recipient-form-{name}-error")).to_have_text(words)
    await expect(person.locator("input[name=birth_date]")).to_be_focused()
    await person.locator("input[name=birth_date]").scroll_into_view_if_needed()
    await screenshot(nurse, "refusals-phone-record", full_page=False)

    # Corrected, the person is registered; a dose from a package never received is refused
    # beside the scan it came from (the refusal names the trace code).
    await person.locator("input[name=birth_date]").fill("1949-12-31")
    await person.locator("select[name=sex]").select_option("2")
    await person.locator("input[name=phone]").fill("13800138000")
    await person.locator("button[type=submit]").click()
    await expect(person.locator(".result.ok")).to_contain_text("610103202600009")
    dose = nurse.locator("#dose-form")
    await dose.locator("input[name=archive_no]").fill("610103202600009")
    chosen = {"site_code": "1 左上臂三角肌", "vaccination_type": "01 常规",
              "vaccine_attribute": "01 国家免疫规划疫苗"}  # fmt: skip
    for name, label in chosen.items():
        await dose.locator(f"select[name={name}]").select_option(label=label)
    never = hepb_code(HEPB, 5)
    await dose.locator("input[name=scan]").fill(never)
    await dose.locator("input[name=scan]").press("Enter")
    words = f"追溯码 {never} 尚未入库：请先扫码入库"
    await expect(dose.locator(".result.error")).to_contain_text(words)
    await expect(dose.locator("input[name=scan]")).to_have_attribute("aria-invalid", "true")
    await expect(dose.locator("#dose-form-trace_code-error")).to_have_text(words)
