"""A builder hands out a portal link (a button, an e-mail); each click opens a fresh portal session."""

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.sandbox.seed import Seeded
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import Tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Seeded:
    return sandbox.seed()


async def _link(client: AsyncTestClient[Litestar], tenant: Tenant, **body: Any) -> str:
    response = await client.post("/v1/portal-links", json=body, headers=tenant.headers("portal"))
    assert response.status_code == 200, response.text
    return str(response.json()["url"]).removeprefix("http://testserver.local")


async def test_each_click_opens_a_fresh_session(
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
) -> None:
    """Opening the link answers 303 to a new portal session each time, for the bound customer and flow."""
    grace = seeded.customers["grace@example.com"]
    path = await _link(client, sandbox_tenant, customer=grace, preset="legacy", flow="subscription_cancel")
    assert stripe_calls == []  # a link for a customer ID costs nothing until clicked
    first = await client.get(path, follow_redirects=False)
    second = await client.get(path, follow_redirects=False)
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["location"].startswith(f"{sandbox.url}/sandbox/portal/")
    assert first.headers["location"] != second.headers["location"]
    assert first.headers["cache-control"] == "no-store"
    sessions = sandbox.sandbox.store.all("billing_portal.session", livemode=False)
    assert len(sessions) == 2
    assert {s["customer"] for s in sessions} == {grace}
    assert {s["flow"]["type"] for s in sessions} == {"subscription_cancel"}


async def test_a_link_by_email_is_bound_to_the_customer_found(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """The customer named by email is found when the link is made, and the link stays theirs."""
    response = await client.post(
        "/v1/portal-links",
        json={"email": "linus@example.com", "preset": "auto"},
        headers=sandbox_tenant.headers("portal"),
    )
    link = response.json()
    assert link["customer_id"] == seeded.customers["linus@example.com"]
    opened = await client.get(link["url"].removeprefix("http://testserver.local"), follow_redirects=False)
    assert opened.status_code == 303
    (session,) = sandbox.sandbox.store.all("billing_portal.session", livemode=False)
    assert session["customer"] == seeded.customers["linus@example.com"]


async def test_a_link_whose_preset_was_removed_says_so(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A preset deleted after the link was made: a page asking to go back to the app, not an error dump."""
    gold = {"features": {"invoice_history": {"enabled": True}}}
    await client.put("/v1/presets/gold", json=gold, headers=sandbox_tenant.headers())
    path = await _link(client, sandbox_tenant, customer=seeded.customers["ada@example.com"], preset="gold")
    await client.delete("/v1/presets/gold", headers=sandbox_tenant.headers())
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 410
    assert "Go back to the app" in response.text


async def test_a_link_for_a_deleted_customer(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """The customer is gone from Stripe: a page saying the billing account was not found."""
    alan = seeded.customers["alan@example.com"]
    path = await _link(client, sandbox_tenant, customer=alan)
    sandbox.client.v1.customers.delete(alan)
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert "Billing account not found" in response.text


async def test_stripe_down_when_a_link_opens(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Stripe failing when the link is clicked: a page asking to try again shortly."""
    path = await _link(
        client, sandbox_tenant, customer=seeded.customers["ada@example.com"], preset="read-only"
    )
    sandbox.faults.add("server_error", 3, path="/v1/billing_portal")
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 503
    assert "try again" in response.text
