"""Scanning with the camera, in Debian's chromium with a fake camera that plays a video made by
the test (tests/ui/camera_frames.py draws the codes with pyStrich), against a real gateway: a
read goes through the same submit as a hand scan, and the server records the same package.
Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.support import GatewayProcess
from tests.ledger.conftest import COVID_BATCH, HEPB
from tests.ledger.conftest import code as trace_code_of
from tests.ledger.test_gs1_serials import GTIN, gs1
from tests.ledger.test_ledger_routes_support import PERSON
from tests.ui.axe import violations
from tests.ui.browser import MANAGER, VACCINATOR, Person, api, chromium, screenshot, sign_in
from tests.ui.camera_frames import gs1_datamatrix, trace_code, video_of
from tests.ui.zxing import VENDOR

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 800}}
# A name that is not this machine: the pages opened by it are not a secure context.
PLAIN_HOST = "gateway.test"
DECODER = f"/static/vendor/{VENDOR.name}"
ERRORS: dict[Page, list[str]] = {}


@asynccontextmanager
async def camera(video: Path) -> AsyncIterator[Browser]:
    """Chromium whose camera plays `video`; a page may use it where its context grants it."""
    async with chromium(
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
        f"--host-resolver-rules=MAP {PLAIN_HOST} 127.0.0.1",
    ) as browser:
        yield browser


async def signed_in(
    browser: Browser, base: str, person: Person, then: str, *, grant: bool = True, **options: Any
) -> Page:
    """A page signed in as `person` at `then`; its console errors are kept in ERRORS[page]."""
    context = await browser.new_context(
        locale="zh-CN", permissions=["camera"] if grant else [], **options
    )
    page = await context.new_page()
    errors = ERRORS.setdefault(page, [])
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    await sign_in(page, base, person, then)
    return page


async def scanner_text(page: Page, text: str, native_format: str) -> str:
    """What the page sends for `text` read by a native BarcodeDetector as `native_format`."""
    sent: str = await page.evaluate(
        """([text, format]) => import("/static/js/camera.js")
            .then((camera) => camera.scannerText({text, format}))""",
        [text, native_format],
    )
    return sent


async def decoder_files(page: Page) -> list[str]:
    """The WebAssembly files of the vendored decoder the page has fetched so far."""
    names: list[str] = await page.evaluate(
        """() => performance.getEntriesByType("resource").map((entry) => new URL(entry.name))
            .filter((url) => url.pathname.endsWith(".wasm")).map((url) => url.pathname)"""
    )
    return names


async def hide(page: Page) -> None:
    """The page hidden, as when a phone locks or switches app. Headless chromium keeps every page
    visible (a minimised window or a tab behind another too), so the page is told it is hidden
    the way the browser tells it: visibilityState, then the visibilitychange event."""
    await page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", {get: () => "hidden"});
            Object.defineProperty(document, "hidden", {get: () => true});
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


async def track_state(page: Page, box: str) -> str:
    """The camera track's state in the scan box `box` ("none" once it is let go)."""
    state: str = await page.eval_on_selector(
        f"{box} dialog.camera video",
        "(video) => video.srcObject ? video.srcObject.getVideoTracks()[0].readyState : 'none'",
    )
    return state


async def test_a_trace_code_read_by_the_camera_is_received_like_a_hand_scan(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    code = trace_code_of(HEPB, 7)
    video = video_of(tmp_path / "trace.y4m", trace_code(code), blank_first=5)
    async with camera(video) as browser:
        page = await signed_in(browser, gateway.base, MANAGER, "/stock", **PHONE)
        button = page.locator(".scan .camera-button")
        await expect(button).to_have_text("扫码")
        box = await button.bounding_box()
        assert box is not None
        assert box["width"] >= 44
        assert box["height"] >= 44
        assert await decoder_files(page) == [], "the decoder loads when the camera is used"
        pressed = await page.evaluate("performance.now()")
        await button.click()
        log = page.locator(".scan-log li")
        await expect(log.locator(".ok")).to_have_count(1)
        answered = await page.evaluate("performance.now()")
        print(f"camera receive: 1 click, {answered - pressed:.0f} ms from press to answer")
        assert await decoder_files(page) == [f"{DECODER}/dist/reader/zxing_reader.wasm"]
        await expect(page.locator(".scan dialog.camera")).not_to_be_visible()
        assert await track_state(page, ".scan") == "none"
        await expect(log.first).to_have_class("accepted")
        await expect(log.first.locator("code")).to_have_text(code)
        await expect(log.first.locator(".ok")).to_contain_text("已入库")
        await expect(log.first.locator(".facts")).to_contain_text("乙肝疫苗 · 批号")
        await screenshot(page, "camera-received-phone", full_page=False)

        found = await api(page, "/api/ledger/resolve", {"scan": code})
        assert found["body"]["kind"] == "trace_code"
        assert found["body"]["stock"]["state"] == "in_stock", found

        # The same package again, by camera and by hand: refused alike, in the same shape.
        await button.click()
        await expect(log).to_have_count(2)
        scan = page.locator("#stock-scan")
        await scan.fill(code)
        await scan.press("Enter")
        await expect(log).to_have_count(3)
        for line in (log.nth(0), log.nth(1)):
            await expect(line).to_have_class("refused")
            await expect(line.locator(".error")).to_contain_text("already received")
        by_camera = await log.nth(1).inner_html()
        by_hand = await log.nth(0).inner_html()
        assert by_camera == by_hand


async def test_a_gs1_datamatrix_reaches_the_server_as_a_hand_scanner_sends_it(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    sent = gs1("CAM0001")  # ]d2, AI 01 17 10, GS, AI 21: what the scanner test sends
    symbol = gs1_datamatrix(GTIN, "270103", COVID_BATCH, "CAM0001")
    async with camera(video_of(tmp_path / "gs1.y4m", symbol)) as browser:
        page = await signed_in(browser, gateway.base, MANAGER, "/stock", **DESK)
        await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        await page.click(".scan .camera-button")
        line = page.locator(".scan-log li").first
        await expect(line).to_have_class("accepted")
        assert await line.locator("code").text_content() == sent
        await expect(line.locator(".ok")).to_contain_text(f"01{GTIN}21CAM0001")
        await expect(line.locator(".facts")).to_contain_text(f"新冠疫苗(CHO) · 批号 {COVID_BATCH}")
        await expect(line.locator(".facts")).to_contain_text("有效期至 2027-01-03")

        # The service worker keeps the decoder (fetched once, from its versioned folder).
        kept = await page.evaluate(
            """(url) => caches.open("coldchain-v1").then((c) => c.match(url))
                .then((copy) => copy && copy.headers.get("Content-Type"))""",
            f"{DECODER}/dist/reader/zxing_reader.wasm",
        )
        assert kept == "application/wasm"

        found = await api(page, "/api/ledger/resolve", {"scan": sent})
        assert found["body"]["kind"] == "gs1"
        # A native BarcodeDetector names no symbology: its DataMatrix text is made the same.
        for native in (sent[3:], "\x1d" + sent[3:]):
            assert await scanner_text(page, native, "data_matrix") == sent
        assert await scanner_text(page, "ABC-123", "data_matrix") == "ABC-123"
        assert await scanner_text(page, trace_code_of(HEPB, 1), "code_128") == trace_code_of(
            HEPB, 1
        )
        assert found["body"]["stock"]["state"] == "in_stock", found
        await expect(page.locator("#balances")).to_contain_text(COVID_BATCH)
        again = await api(page, "/api/ledger/stock/receive", {"scan": sent, "event_id": "hand-1"})
        assert again["status"] == 422, again
        assert "already received" in again["body"]["error"]


async def test_the_camera_feeds_the_dose_form_and_the_stocktake_list(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    code = trace_code_of(HEPB, 8)
    async with camera(video_of(tmp_path / "dose.y4m", trace_code(code))) as browser:
        manager = await signed_in(browser, gateway.base, MANAGER, "/stock", **DESK)
        received = await api(manager, "/api/ledger/stock/receive", {"scan": code, "event_id": "r8"})
        assert received["status"] == 201, received
        await manager.click("#stocktake-form .camera-button")
        await expect(manager.locator("#stocktake-codes")).to_have_value(f"{code}\n")
        await manager.click("#stocktake-form button[type=submit]")
        await expect(manager.locator("#stocktake-result")).to_contain_text("账苗一致")

        nurse = await signed_in(browser, gateway.base, VACCINATOR, "/vaccinations", **PHONE)
        person = await api(nurse, "/api/ledger/recipients", RECIPIENT)
        assert person["status"] == 201, person
        await nurse.fill("#dose-form input[name=archive_no]", RECIPIENT["archive_no"])
        for name, value in {"site_code": "1", "vaccination_type": "01",
                            "vaccine_attribute": "01"}.items():  # fmt: skip
            await nurse.select_option(f"#dose-form select[name={name}]", value)
        await nurse.click("#dose-form .camera-button")
        await expect(nurse.locator("#dose-form .result.ok")).to_contain_text("已登记")
        doses = (await api(nurse, "/api/ledger/doses"))["body"]["doses"]
        assert [dose["trace_code"] for dose in doses] == [code]
        await nurse.locator("#dose-form .result").scroll_into_view_if_needed()
        await screenshot(nurse, "camera-dose-phone", full_page=False)

        # The package is used now: the camera's read is refused where a typed one would be.
        await nurse.click("#dose-form .camera-button")
        await expect(nurse.locator("#dose-form .result.error")).not_to_be_empty()
        assert len((await api(nurse, "/api/ledger/doses"))["body"]["doses"]) == 1


# The ledger tests' recipient under an archive number, name and address of its own.
RECIPIENT = {
    **PERSON,
    "archive_no": "610103202600077",
    "name": "李四",
    "address": "西安市新城区西一路2号",
}


async def test_a_frame_without_a_code_keeps_scanning_and_closing_lets_the_camera_go(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """Also: the camera dialog passes axe in both languages and sizes (a screenshot of it)."""
    async with camera(video_of(tmp_path / "blank.y4m", None)) as browser:
        for lang in ("zh", "en"):
            for size, options in (("phone", PHONE), ("desk", DESK)):
                page = await signed_in(
                    browser, gateway.base, MANAGER, "/stock", bypass_csp=True, **options
                )
                if lang == "en":
                    await page.click("#lang")
                    await expect(page.locator(".scan .camera-button")).to_have_text(
                        "Scan with camera"
                    )
                await page.click(".scan .camera-button")
                dialog = page.locator(".scan dialog.camera")
                await expect(dialog.locator(".camera-status")).to_have_text(
                    "把追溯码或 DataMatrix 码放进框内，保持不动"
                    if lang == "zh"
                    else "Hold the trace code or DataMatrix still inside the frame"
                )
                await page.wait_for_timeout(1_000)  # ten frames without a code
                await expect(dialog).to_be_visible()
                assert await track_state(page, ".scan") == "live"
                await expect(page.locator(".scan-log li")).to_have_count(0)
                found = await violations(page)
                assert found == [], (lang, size, found)
                close = dialog.locator(".camera-close")
                box = await close.bounding_box()
                assert box is not None
                assert box["height"] >= 44
                if size == "phone":
                    await screenshot(page, f"camera-dialog-phone-{lang}", full_page=False)
                await close.click()
                await expect(dialog).not_to_be_visible()
                assert await track_state(page, ".scan") == "none"
                await page.context.close()

        page = await signed_in(browser, gateway.base, MANAGER, "/stock", **PHONE)
        await page.click(".scan .camera-button")
        await expect(page.locator(".scan dialog.camera .camera-status")).to_contain_text("框内")
        await hide(page)
        await expect(page.locator(".scan dialog.camera")).not_to_be_visible()
        assert await track_state(page, ".scan") == "none"


async def test_without_https_or_permission_the_button_says_why(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    async with camera(video_of(tmp_path / "blank.y4m", None)) as browser:
        plain = gateway.base.replace("127.0.0.1", PLAIN_HOST)
        page = await signed_in(browser, plain, MANAGER, "/stock", **PHONE)
        assert await page.evaluate("window.isSecureContext") is False
        await page.click(".scan .camera-button")
        note = page.locator(".scan .camera-note")
        await expect(note).to_contain_text("安全连接")
        await expect(note).to_contain_text("https://")
        await expect(page.locator(".scan .camera-button")).to_have_attribute(
            "aria-describedby", await note.get_attribute("id") or "?"
        )
        await expect(page.locator(".scan dialog.camera")).not_to_be_visible()
        await screenshot(page, "camera-needs-https-phone", full_page=False)

        refused = await signed_in(browser, gateway.base, MANAGER, "/stock", grant=False, **DESK)
        await refused.click(".scan .camera-button")
        note = refused.locator(".scan .camera-note")
        await expect(note).to_contain_text("未获准使用摄像头")
        await expect(refused.locator(".scan dialog.camera")).not_to_be_visible()
        assert ERRORS[page] == ERRORS[refused] == [], "said in words, not on the console"

    async with chromium() as browser:  # no fake camera, and this machine has none
        page = await signed_in(browser, gateway.base, MANAGER, "/stock", **DESK)
        await page.click("#lang")
        await page.click(".scan .camera-button")
        await expect(page.locator(".scan .camera-note")).to_have_text(
            "No camera found: scan with a hand scanner or type the code"
        )
        assert ERRORS[page] == []
