"""Console presets: features in words, sync state, validation errors, preview URLs, Bubble settings."""

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.settings import Settings
from gateway.vault import Vault
from tests.console import Console, by_id, sign_in, text_of
from tests.sandbox import SandboxServer
from tests.support import Database, Tenant, make_settings, make_tenant

pytestmark = pytest.mark.anyio
SHIPPED = Path(__file__).parent.parent / "presets"


@pytest.fixture
async def console(client: AsyncTestClient[Litestar], sandbox_tenant: Tenant) -> Console:
    return await sign_in(client, sandbox_tenant.admin_key)


async def test_each_preset_in_words_with_its_sync_state(console: Console) -> None:
    """The list names every shipped preset, unsynced at first; a preset's page says what its portal does."""
    listed = text_of((await console.get("/console/presets")).text)
    for name in ("default", "legacy", "cancel-only", "billing-only", "read-only"):
        assert name in listed
    assert listed.count("not synced yet") == 5
    legacy = (await console.get("/console/presets/legacy")).text
    assert by_id(legacy, "features").split(". ") == [
        "Customers can update their email and tax ID",
        "Customers can update their payment method",
        "Customers can see and download their invoices",
        (
            "Customers can switch plans and change the quantity, among lookup key legacy_monthly and "
            "lookup key legacy_annual, prorated on the next invoice"
        ),
        "Customers can cancel their subscription, at the end of the billing period",
        "Preset auto picks it for subscriptions on legacy_monthly and legacy_annual.",
    ]
    assert by_id(legacy, "left-out") == "Not offered: pausing."
    cancel_only = (await console.get("/console/presets/cancel-only")).text
    assert "they are asked why (too expensive, missing features, switched service, unused and other)" in (
        by_id(cancel_only, "features")
    )
    assert by_id(cancel_only, "left-out") == (
        "Not offered: updating their details, invoice history, updating the payment method, pausing "
        "and switching plans."
    )


async def test_a_broken_preset_file_shows_its_validation_errors(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """A file that breaks a rule is listed as invalid, and its page names the file, line and rule."""
    folder = tmp_path / "presets"
    shutil.copytree(SHIPPED, folder)
    (folder / "broken.yaml").write_text(
        "features:\n  subscription_update:\n    enabled: true\n    default_allowed_updates: [price]\n",
        encoding="utf-8",
    )
    tenant = await make_tenant(db, vault, settings, "broken-presets")
    app = create_app(make_settings(tmp_path, database, presets_dir=folder))
    async with AsyncTestClient(app) as client:
        console = await sign_in(client, tenant.admin_key)
        listed = text_of((await console.get("/console/presets")).text)
        page = await console.get("/console/presets/broken")
    assert "broken invalid 2 problems" in listed
    problems = by_id(page.text, "problems")
    assert (
        "broken.yaml:2: features.subscription_update: enabled subscription updates need products" in problems
    )
    assert "[update-needs-products]" in problems
    assert "[update-needs-payment-method-update]" in problems
    assert "Preview portal URL" not in page.text


async def test_preview_opens_the_portal_for_a_test_customer(console: Console, sandbox: SandboxServer) -> None:
    """A real session for a customer named by email; the preset is synced on the way; the link opens."""
    sandbox.seed()
    answer = await console.submit("/console/presets/legacy/preview", {"customer": "grace@example.com"})
    assert answer.status_code == 200, text_of(answer.text)
    url = re.search(r'<div class="notice" role="status" id="preview">\s*<p><a href="([^"]+)"', answer.text)
    assert url
    assert url.group(1).startswith(f"{sandbox.url}/sandbox/portal/test_")
    async with httpx.AsyncClient() as browser:
        portal = await browser.get(url.group(1))
    assert portal.status_code == 200
    assert "Grace Hopper" in portal.text
    assert "Switch to Legacy" in portal.text
    page = (await console.get("/console/presets/legacy")).text
    assert by_id(page, "sync-state") == "synced"
    configuration = re.search(r"Configuration ID</dt><dd><code>(bpc_\w+)</code>", page)
    assert configuration
    assert sandbox.client.v1.billing_portal.configurations.retrieve(configuration.group(1)).active


async def test_preview_for_an_unknown_customer_says_so(console: Console, sandbox: SandboxServer) -> None:
    """The portal's own error, on the preset's page, with what was typed kept."""
    sandbox.seed()
    answer = await console.submit("/console/presets/default/preview", {"customer": "nobody@example.com"})
    assert answer.status_code == 404
    assert "nobody@example.com" in by_id(answer.text, "preset-error")
    assert 'value="nobody@example.com"' in answer.text


async def test_previews_are_refused_on_a_live_workspace(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    settings: Settings,
    sandbox: SandboxServer,
) -> None:
    """A live workspace's page offers no preview, and a preview asked for anyway is refused."""
    live = await make_tenant(
        db, vault, settings, "live", stripe_key=sandbox.live_secret_key, api_base=sandbox.api_base
    )
    console = await sign_in(client, live.admin_key)
    page = await console.get("/console/presets/default")
    assert "Previews are for test mode; this workspace is live" in text_of(page.text)
    assert 'action="/console/presets/default/preview"' not in page.text
    refused = await console.submit("/console/presets/default/preview", {"customer": "cus_123"})
    assert refused.status_code == 400
    assert by_id(refused.text, "preset-error") == "Previews are for test mode: this workspace is live."


async def test_the_bubble_settings_shown_work_as_written(
    console: Console, client: AsyncTestClient[Litestar], sandbox_tenant: Tenant
) -> None:
    """The call shown, sent as Bubble's Initialize call would (dry_run true) with a portal key in the
    header named, answers 200 with exactly the fields the page says Bubble will learn."""
    page = (await console.get("/console/presets/cancel-only")).text
    call = {k: text_of(v) for k, v in re.findall(r"<dt>([^<]+)</dt><dd><code>([^<]*)</code>", page)}
    assert (call["Use as"], call["Method"], call["Authentication"], call["Key name"]) == (
        "Action",
        "POST",
        "Private key in header",
        "Authorization",
    )
    assert call["Development key value"] == "Bearer gw_test_..."  # a test workspace's keys
    filled = {"<customer>": "cus_123", "<return_url>": "", "<dry_run>": "true"}
    body = by_id(page, "bubble-body")
    for parameter, value in filled.items():
        body = body.replace(parameter, value)
    assert json.loads(body) == {
        "customer": "cus_123",
        "preset": "cancel-only",
        "return_url": "",
        "dry_run": True,
    }
    answer = await client.post(
        call["URL"].removeprefix("http://testserver.local"),
        content=body,
        headers={
            call["Key name"]: call["Development key value"].replace("gw_test_...", sandbox_tenant.portal_key)
        },
    )
    assert answer.status_code == 200, answer.text
    shown = json.loads(text_of(re.findall(r"<pre>(.*?)</pre>", page, re.DOTALL)[0]))
    assert set(answer.json()) == set(shown)
    assert answer.json()["preset"] == shown["preset"] == "cancel-only"
    assert answer.json()["url"].endswith("_dry_run_example")


async def test_sync_now_creates_the_configuration(console: Console, sandbox: SandboxServer) -> None:
    """ "Sync now" makes the Stripe configuration and the page shows it synced, with its ID."""
    answer = await console.submit("/console/presets/billing-only/sync")
    assert "Synced to Stripe." in text_of(answer.text)
    assert by_id(answer.text, "sync-state") == "synced"
    configuration = re.search(r"Configuration ID</dt><dd><code>(bpc_\w+)</code>", answer.text)
    assert configuration
    found = sandbox.client.v1.billing_portal.configurations.retrieve(configuration.group(1))
    assert found.metadata["gateway_preset"] == "billing-only"
