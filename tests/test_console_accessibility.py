"""Accessibility smoke check of every console page as served, and of the stylesheet's colour contrast.

The browser sweep (``tests/journeys/test_console_pages.py``) checks the same pages as rendered, at
375 and 1280 pixels wide, with each text's computed colours.
"""

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import console as console_package
from gateway.vault import Vault
from tests.accessibility import AA_NORMAL, contrast, page_problems, stylesheet_pairs
from tests.console import populate, sign_in
from tests.sandbox import SandboxServer
from tests.support import Tenant

pytestmark = pytest.mark.anyio
STYLESHEET = Path(console_package.__file__).parent / "static" / "console.css"


async def test_every_page_labels_its_fields_and_orders_its_headings(
    client: AsyncTestClient[Litestar],
    sandbox_tenant: Tenant,
    sandbox: SandboxServer,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Every page, in every state a form can leave it: each field labelled, one h1, no skipped level."""
    sandbox.seed()
    console = await sign_in(client, sandbox_tenant.admin_key)
    paths = await populate(client, db, vault, sandbox_tenant)
    pages = {name: (await console.get(path)).text for name, path in paths.items() if name != "sign-in"}
    pages["subscriber-new-refused"] = (await console.submit(paths["subscriber-new"], {"url": "x"})).text
    pages["subscriber-refused"] = (await console.submit(paths["subscriber"], {"url": "x"})).text
    pages["secret"] = (await console.submit(paths["subscriber"] + "/rotate-secret")).text
    preview = {"customer": "grace@example.com"}
    pages["preset-preview"] = (await console.submit(paths["preset"] + "/preview", preview)).text
    pages["preset-refused"] = (await console.submit(paths["preset"] + "/preview", {"customer": "x@y.z"})).text
    pages["recover-refused"] = (await console.submit("/console/deliveries/recover", {"since": ""})).text
    missing = await client.get("/console/subscribers/sbr_gone")
    assert missing.status_code == 404
    pages["not-found"] = missing.text
    pages["form-expired"] = (await client.post("/console/sign-out", data={})).text
    client.cookies.clear()
    pages["sign-in"] = (await client.get(paths["sign-in"])).text
    pages["sign-in-refused"] = (
        await client.post(paths["sign-in"], data={"csrf_token": console.csrf, "api_key": "nope"})
    ).text
    assert "customer_not_found" not in pages["preset-preview"]
    assert {name: page_problems(html) for name, html in pages.items()} == {name: [] for name in pages}


def test_the_checker_finds_what_it_looks_for() -> None:
    """An unlabelled field, two h1s and a skipped level are all reported (the check can fail)."""
    html = '<html><title>x</title><h1>a</h1><h3>b</h3><h1>c</h1><input name="q"><button></button></html>'
    assert page_problems(html) == [
        "<input name='q'> has no label",
        "2 h1 elements (one expected)",
        "h3 follows h1: a level is skipped",
        "a button without a name",
        "no lang on <html>",
    ]
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert contrast("#777777", "#ffffff") < AA_NORMAL < contrast("#767676", "#ffffff")


def test_every_text_colour_of_the_stylesheet_meets_wcag_aa() -> None:
    """Each rule's text colour against its background (its own, its container's or the page's): 4.5:1."""
    pairs = stylesheet_pairs(STYLESHEET.read_text(encoding="utf-8"))
    assert len(pairs) >= 20
    weak = [
        (selector, fg, bg, round(contrast(fg, bg), 2)) for selector, fg, bg in pairs if contrast(fg, bg) < 4.5
    ]
    assert weak == []
