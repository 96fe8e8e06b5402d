"""Console overview: mode, Stripe connection health, webhook endpoint status, outbox backlog."""

import asyncio

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.console import by_id, sign_in, text_of
from tests.receivers import queue_events
from tests.sandbox import SandboxServer
from tests.support import Tenant, make_tenant

pytestmark = pytest.mark.anyio


async def test_a_healthy_test_workspace(
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncTestClient[Litestar],
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Test mode, Stripe answering, the webhook URL; then the last event, signature failures and backlog."""
    monkeypatch.setattr("gateway.stripe_events.FAILURES_FLUSH_S", 0.01)
    console = await sign_in(client, sandbox_tenant.admin_key)
    first = await console.get("/console")
    assert "Test Stripe test mode (built-in sandbox)" in text_of(first.text)
    assert (
        by_id(first.text, "stripe-health")
        == "Connected: the key can read this account's portal configurations."
    )
    assert f"/v1/stripe/webhooks/{sandbox_tenant.workspace_id}" in text_of(first.text)
    assert by_id(first.text, "last-event") == "None received yet"
    assert by_id(first.text, "signature-failures") == "0 none"

    await sp.enable_webhooks(db, vault, sandbox_tenant.workspace_id)
    created = sp.event("customer.subscription.created", sp.subscription())
    assert (await sp.send(client, sandbox_tenant.workspace_id, created)).status_code == 200
    await sp.send(client, sandbox_tenant.workspace_id, created, secret="whsec_not_this_one")
    await queue_events(db, sandbox_tenant.workspace_id, count=2)
    await asyncio.sleep(0.2)  # the failure's write (flushed after 10 ms here)
    after = await console.get("/console")
    assert by_id(after.text, "last-event").endswith("customer.subscription.created (applied)")
    failures = by_id(after.text, "signature-failures")
    assert failures.startswith("1 last ")
    assert failures.endswith("The Stripe-Signature does not match this workspace's webhook signing secret.")
    assert by_id(after.text, "backlog-facts").startswith("Waiting 3 pending, 3 due now")


async def test_a_refused_stripe_key_shows_as_failing(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    settings: Settings,
    sandbox: SandboxServer,
) -> None:
    """A key Stripe refuses is named, with the gateway's error code; a live workspace says it is live."""
    tenant = await make_tenant(
        db, vault, settings, "wrongkey", stripe_key="sk_live_not_a_real_key", api_base=sandbox.api_base
    )
    console = await sign_in(client, tenant.admin_key)
    page = text_of((await console.get("/console")).text)
    assert "Failing stripe_auth_failed Stripe refused this workspace's secret key" in page
    assert "Live real customers and money" in page


async def test_a_stripe_that_does_not_answer_is_reported_in_seconds(
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncTestClient[Litestar],
    sandbox_tenant: Tenant,
    sandbox: SandboxServer,
) -> None:
    """The overview waits a bounded time for Stripe, then says it did not answer."""
    monkeypatch.setattr("gateway.console.overview.HEALTH_TIMEOUT_S", 0.3)
    console = await sign_in(client, sandbox_tenant.admin_key)
    sandbox.faults.add("hang", 1, path="/v1/billing_portal/configurations", seconds=5)
    page = await console.get("/console")
    assert by_id(page.text, "stripe-health") == "Stripe did not answer within 0.3 seconds."
