"""Journey: the sandbox sends Stripe-signed events to a running gateway, which verifies, mirrors and
queues them; signatures made by the sandbox's own sender are checked like Stripe's."""

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.event_facts import HANDLED_EVENTS
from gateway.models import Delivery, Event, StripeEvent, Subscription, Workspace
from gateway.sandbox.sender import signature_header
from gateway.vault import Vault
from gateway.workspaces import set_webhook_secrets
from tests import stripe_payloads as sp
from tests.sandbox import SandboxServer, receiving
from tests.servers import serving
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio


@pytest.fixture
def gateway_url(app: Litestar) -> Iterator[str]:
    """The gateway on a real port (the sandbox's sender needs a socket)."""
    with serving(app) as url:
        yield url


async def settled(sandbox: SandboxServer, within: float = 10.0) -> None:
    """Wait until the sandbox has delivered (or given up on) every event it made."""
    deadline = time.monotonic() + within
    while sandbox.run(lambda s: len(s.store.pending)):
        assert time.monotonic() < deadline, f"events still pending; log: {sandbox.attempts}"
        await asyncio.sleep(0.05)


async def rows(db: async_sessionmaker[AsyncSession], model: Any) -> list[Any]:
    async with db() as session:
        return list((await session.exec(select(model).order_by(col(model.id)))).all())


async def test_sandbox_events_reach_the_mirror_and_the_outbox(
    gateway_url: str,
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Subscriptions made and canceled in the sandbox show in the mirror, events and deliveries."""
    ws = sandbox_tenant.workspace_id
    secret = sandbox.listen(f"{gateway_url}/v1/stripe/webhooks/{ws}", events=list(HANDLED_EVENTS))
    await sp.enable_webhooks(db, vault, ws, [secret])
    seeded = sandbox.seed()
    await settled(sandbox)
    assert sandbox.attempts, "the seed emits events"
    assert {a.status for a in sandbox.attempts} == {200}
    mirror = {row.subscription_id: row for row in await rows(db, Subscription)}
    assert set(mirror) == set(seeded.subscriptions.values())
    grace = mirror[seeded.subscriptions["grace@example.com"]]
    assert (grace.price_lookup_key, grace.preset, grace.status) == ("legacy_monthly", "legacy", "active")
    margaret = mirror[seeded.subscriptions["margaret@example.com"]]
    assert (margaret.status, margaret.preset, margaret.trial_end is not None) == ("trialing", "default", True)

    ada = seeded.subscriptions["ada@example.com"]
    await sandbox.client.v1.subscriptions.cancel_async(ada)
    await settled(sandbox)
    canceled = [json.loads(e.body) for e in await rows(db, Event) if e.subscription_id == ada]
    assert canceled[-1]["event_type"] == "subscription.canceled"
    assert (canceled[-1]["previous_status"], canceled[-1]["is_active"]) == ("active", False)
    assert canceled[-1]["customer_email"] == "ada@example.com"
    stored = await rows(db, StripeEvent)
    assert len(stored) == len({a.event_id for a in sandbox.attempts})
    assert {e.outcome for e in stored} <= {"applied", "ignored"}
    events, deliveries = await rows(db, Event), await rows(db, Delivery)
    assert sorted(d.event_id for d in deliveries) == sorted(e.id for e in events)
    async with httpx.AsyncClient(base_url=gateway_url) as http:
        customer = seeded.customers["ada@example.com"]
        listed = await http.get(
            f"/v1/customers/{customer}/subscriptions", headers=sandbox_tenant.headers("portal")
        )
    assert [(s["subscription_id"], s["status"], s["is_active"]) for s in listed.json()["data"]] == [
        (ada, "canceled", False)
    ]


async def test_wrong_secret_is_refused_until_the_right_one_is_added(
    *,
    app: Litestar,
    gateway_url: str,
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Signed with a secret the workspace lacks: 400 on every try, nothing stored; after a rotation
    that adds the endpoint's secret beside the old one, the sandbox's events are accepted."""
    ws = sandbox_tenant.workspace_id
    secret = sandbox.listen(f"{gateway_url}/v1/stripe/webhooks/{ws}", events=list(HANDLED_EVENTS))
    await sp.enable_webhooks(db, vault, ws, ["whsec_not_the_endpoints_secret"])
    customer = await sandbox.client.v1.customers.create_async(params={"email": "bo@example.com"})
    await sandbox.client.v1.customers.update_async(customer.id, params={"name": "Bo"})
    await settled(sandbox)
    assert {a.status for a in sandbox.attempts} == {400}
    assert len(sandbox.attempts) == 4  # the first try and three retries
    assert await rows(db, StripeEvent) == []
    async with db() as session, session.begin():
        workspace = await session.get(Workspace, ws)
        assert workspace is not None
        set_webhook_secrets(vault, workspace, [secret, "whsec_not_the_endpoints_secret"])
        session.add(workspace)
    app.state.inbox.targets.forget(ws)
    await sandbox.client.v1.customers.update_async(customer.id, params={"name": "Bo B."})
    await settled(sandbox)
    assert sandbox.attempts[-1].status == 200
    assert [e.type for e in await rows(db, StripeEvent)] == ["customer.updated"]


async def test_sandbox_signed_deliveries_replayed(
    client: Any,
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A delivery the sandbox signed passes once (then is a duplicate); tampered or stale, it fails."""
    ws = sandbox_tenant.workspace_id
    with receiving() as receiver:
        secret = sandbox.listen(receiver.url, events=["customer.updated"])
        customer = await sandbox.client.v1.customers.create_async(params={"email": "cy@example.com"})
        await sandbox.client.v1.customers.update_async(
            customer.id, params={"metadata": {"external_user_id": "u7"}}
        )
        await settled(sandbox)
    await sp.enable_webhooks(db, vault, ws, [secret])
    ((body, header),) = receiver.received
    url = f"/v1/stripe/webhooks/{ws}"
    first = await client.post(url, content=body, headers={"Stripe-Signature": header})
    assert (first.status_code, first.json()["outcome"]) == (200, "applied")
    again = await client.post(url, content=body, headers={"Stripe-Signature": header})
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    tampered = body.replace(b"u7", b"u8")
    assert_error(
        await client.post(url, content=tampered, headers={"Stripe-Signature": header}),
        400,
        "signature_invalid",
    )
    stale = signature_header(body, secret, timestamp=int(time.time()) - 301)
    assert_error(
        await client.post(url, content=body, headers={"Stripe-Signature": stale}), 400, "signature_invalid"
    )
    flat = [json.loads(e.body) for e in await rows(db, Event)]
    assert [(f["event_type"], f["external_user_id"], f["customer_email"]) for f in flat] == [
        ("customer.updated", "u7", "cy@example.com")
    ]


async def test_refetch_forwards_what_stripe_has_now(
    client: Any,
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """With re-fetching on, a stale copy in the event is replaced by the subscription Stripe has now,
    its customer included; when Stripe cannot be reached the event is refused (503) and kept for retry."""
    ws = sandbox_tenant.workspace_id
    await sp.enable_webhooks(db, vault, ws)
    async with db() as session, session.begin():
        workspace = await session.get(Workspace, ws)
        assert workspace is not None
        workspace.refetch_subscriptions = True
        session.add(workspace)
    seeded = sandbox.seed()
    linus = seeded.subscriptions["linus@example.com"]  # three seats, annual, in the sandbox
    old_copy = sp.subscription(
        linus, customer=seeded.customers["linus@example.com"], status="incomplete", quantity=1
    )
    event = sp.event("customer.subscription.updated", old_copy)
    sandbox.faults.add("server_error", 3, path=f"/v1/subscriptions/{linus}")
    assert_error(await sp.send(client, ws, event), 503, "stripe_unavailable")
    assert await rows(db, StripeEvent) == []
    assert (await sp.send(client, ws, event)).json()["outcome"] == "applied"  # Stripe's retry
    (mirrored,) = await rows(db, Subscription)
    assert (mirrored.status, mirrored.quantity, mirrored.price_lookup_key) == ("active", 3, "starter_annual")
    (flat,) = [json.loads(e.body) for e in await rows(db, Event)]
    assert (flat["quantity"], flat["customer_email"], flat["external_user_id"]) == (
        3,
        "linus@example.com",
        "usr_linus",
    )
    (stored,) = await rows(db, StripeEvent)
    assert stored.payload == sp.body_of(event)  # the body Stripe signed is what is kept
