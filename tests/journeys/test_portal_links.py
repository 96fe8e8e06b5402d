"""A builder hands out a portal link (a button, an e-mail); each click opens a fresh portal session."""

import time
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.models import Workspace
from gateway.sandbox.seed import Seeded
from gateway.settings import Settings
from gateway.vault import Vault, reencrypt_stored_secrets
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import TEST_SECRET_KEY, Tenant

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


async def _opened(settings: Settings, path: str) -> httpx.Response:
    """``path`` opened by a gateway with ``settings`` (a fresh process: nothing cached)."""
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        return await client.get(path, follow_redirects=False)


@pytest.fixture
async def ada_link(client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded) -> str:
    """The path of a link to Ada's portal."""
    return await _link(client, sandbox_tenant, customer=seeded.customers["ada@example.com"])


async def test_a_link_of_a_deleted_workspace_says_it_no_longer_works(
    client: AsyncTestClient[Litestar], settings: Settings, db: async_sessionmaker[AsyncSession], ada_link: str
) -> None:
    """The workspace is deleted after the link went out: opening it shows the "no longer works" page
    (410), not an error."""
    path = ada_link
    workspace_id = client.app.state.link_signer.verify(path.rsplit("/", 1)[1]).workspace_id
    assert (await client.get(path, follow_redirects=False)).status_code == 303
    async with db() as session, session.begin():
        await session.exec(delete(Workspace).where(col(Workspace.id) == workspace_id))  # type: ignore[call-overload]
    gone = await _opened(settings, path)
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("text/html")
    assert "no longer works" in gone.text


async def test_rotating_the_secret_key_keeps_links_until_the_old_key_is_dropped(
    *,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    sandbox_tenant: Tenant,
    seeded: Seeded,
    ada_link: str,
) -> None:
    """GATEWAY_SECRET_KEY=new,old (then ``gateway rekey``): links signed with the old key still open;
    with the old key dropped they show the "not valid" page (400), while new links open."""
    old_link = ada_link
    new_key = "rotated-secret-key-" + "n" * 32
    rotated = settings.model_copy(update={"secret_key": SecretStr(f"{new_key},{TEST_SECRET_KEY}")})
    assert (await _opened(rotated, old_link)).status_code == 303
    async with db() as session, session.begin():
        await reencrypt_stored_secrets(session, Vault(rotated.secret_keys()))
    dropped = settings.model_copy(update={"secret_key": SecretStr(new_key)})
    refused = await _opened(dropped, old_link)
    assert refused.status_code == 400
    assert "This link is not valid" in refused.text
    async with AsyncTestClient(create_app(dropped), base_url="http://testserver.local") as fresh:
        new_link = await _link(fresh, sandbox_tenant, customer=seeded.customers["ada@example.com"])
        assert (await fresh.get(new_link, follow_redirects=False)).status_code == 303


async def test_a_replayed_link_after_its_expiry_is_refused(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """A link that opened while valid shows the "expired" page (410) when replayed after its time."""
    path = await _link(client, sandbox_tenant, customer=seeded.customers["ada@example.com"], expires_in=60)
    assert (await client.get(path, follow_redirects=False)).status_code == 303
    later = time.time() + 61
    with patch("gateway.portal.links.time.time", return_value=later):
        replayed = await client.get(path, follow_redirects=False)
    assert replayed.status_code == 410
    assert "expired" in replayed.text
