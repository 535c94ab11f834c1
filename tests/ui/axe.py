"""axe-core from npm for the accessibility pass: installed once into a cache folder with npm
(a pinned version), injected into a page opened with `bypass_csp=True` (that pass only)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_VERSION = "4.14.1"
CACHE = Path(os.environ.get("COLDCHAIN_AXE_CACHE", Path.home() / ".cache" / "coldchain-axe"))
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_script() -> Path:
    """axe.min.js of `AXE_VERSION`, installed with npm on first use (`make axe` does it first)."""
    folder = CACHE / AXE_VERSION
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is not installed; fix: make axe"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(folder), "--no-save", "--no-audit", "--no-fund",
             f"axe-core@{AXE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )  # fmt: skip
    return script


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations of the page as it is now: rule id, impact and the nodes' targets."""
    await page.add_script_tag(path=str(axe_script()))
    found: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }""",
        TAGS,
    )
    return found


if __name__ == "__main__":
    print(f"axe-core {AXE_VERSION}: {axe_script()}")
