"""Every console page in a real browser at 375 and 1280 pixels wide: it fits the width, passes the
accessibility smoke check (labels, headings) and each visible text meets WCAG AA contrast with the
colours the browser computed. Screenshots go to ``tests/artifacts/console/`` (kept by CI, ignored by git).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.vault import Vault
from tests.accessibility import AA_LARGE, AA_NORMAL, contrast, page_problems
from tests.console import go, populate, sign_in
from tests.servers import serving
from tests.support import Database, Tenant, make_settings

pytestmark = pytest.mark.anyio
ARTIFACTS = Path(__file__).parent.parent / "artifacts" / "console"
WIDTHS = (375, 1280)
#: Each element with text of its own: its colour, the first opaque background behind it, its size and weight.
_TEXT_COLOURS = """
const backdrop = (el) => {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c)) return c;
  }
  return 'rgb(255, 255, 255)';
};
const found = [];
for (const el of document.body.querySelectorAll('*')) {
  if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  if (!box.width || !box.height || style.visibility === 'hidden' || box.right < 0) continue;
  const name = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
  found.push([name, el.textContent.trim().slice(0, 40), style.color, backdrop(el),
              parseFloat(style.fontSize), parseInt(style.fontWeight)]);
}
return found;
"""


@pytest.fixture
def gateway(tmp_path: Path, database: Database, sandbox_tenant: Tenant) -> Iterator[str]:
    """The gateway on 127.0.0.1; its base URL."""
    with serving(create_app(make_settings(tmp_path, database))) as url:
        yield url


def _show(browser: webdriver.Chrome, url: str, width: int) -> None:
    """Load ``url`` in a viewport ``width`` CSS pixels wide (a phone's at 375), as tall as the page."""
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.get(url)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 6000)})


def _weak_contrast(found: list[list[Any]]) -> list[tuple[str, str, str, str, float]]:
    weak = []
    for element, text, colour, background, size, weight in found:
        large = size >= 24 or (size >= 18.66 and weight >= 700)
        ratio = contrast(colour, background)
        if ratio < (AA_LARGE if large else AA_NORMAL):
            weak.append((element, text, colour, background, round(ratio, 2)))
    return weak


async def test_every_page_fits_phones_and_desktops_and_reads_clearly(
    browser: webdriver.Chrome,
    gateway: str,
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """At 375 and 1280 px: no sideways scrolling of the page, labels and headings in order, AA contrast."""
    async with httpx.AsyncClient(base_url=gateway) as client:
        await sign_in(client, sandbox_tenant.admin_key)
        pages = await populate(client, db, vault, sandbox_tenant)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[Any]] = {}
    signed_in = False
    for name, path in pages.items():  # the sign-in page first, before signing in
        if name != "sign-in" and not signed_in:
            browser.find_element(By.ID, "api_key").send_keys(sandbox_tenant.admin_key)
            go(browser, By.CSS_SELECTOR, "main button[type=submit]")
            signed_in = True
        for width in WIDTHS:
            _show(browser, gateway + path, width)
            assert browser.execute_script("return window.innerWidth") == width
            assert browser.current_url == gateway + path  # the page itself, not the sign-in page
            browser.save_screenshot(str(ARTIFACTS / f"{name}-{width}.png"))
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            found = [
                *page_problems(browser.page_source),
                *([f"{overflow} px wider than the screen"] if overflow > 0 else []),
                *_weak_contrast(browser.execute_script(_TEXT_COLOURS)),
            ]
            if found:
                problems[f"{name} at {width} px"] = found
    assert problems == {}
    assert len(list(ARTIFACTS.glob("*.png"))) >= len(pages) * len(WIDTHS)
