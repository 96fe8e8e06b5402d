"""POST /v1/subscribers/{id}/test: a sample of each subscribed type, through the real pipeline."""

import json

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from gateway.flat_events import EVENT_TYPES, FLAT_TYPES, FlatEvent
from gateway.models import Event
from gateway.settings import Settings
from gateway.vault import Vault
from tests.receivers import all_settled, receiving, running, subscribe, wait_for_deliveries
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio


async def test_samples_of_each_subscribed_type_are_delivered_marked_as_tests(
    settings: Settings,
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Flat samples (every field filled, ``is_test``) signed like real callbacks, stored as test events."""
    async with receiving() as receiver:
        types = ["subscription.canceled", "invoice.paid"]
        created = await subscribe(client, tenant, receiver.url, event_types=types)
        response = await client.post(f"/v1/subscribers/{created['id']}/test", headers=tenant.headers())
        assert response.status_code == 200
        queued = response.json()["data"]
        assert [(d["event_type"], d["status"]) for d in queued] == [(t, "pending") for t in types]
        async with running(settings, vault):
            rows = await wait_for_deliveries(db, all_settled)
    assert {d.status for d in rows} == {"succeeded"}
    bodies = [Webhook(created["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    assert sorted(b["event_type"] for b in bodies) == sorted(types)
    for body in bodies:
        assert body["is_test"] is True
        assert body["workspace_id"] == tenant.workspace_id
        assert set(body) == set(FlatEvent.__struct_fields__)
        assert all(body[key] for key in ("customer_id", "subscription_id", "current_period_end_ms"))
    async with db() as session:
        events = (await session.exec(select(Event))).all()
    assert {(e.event_type, e.is_test) for e in events} == {(t, True) for t in types}
    assert {e.id for e in events} == {r.headers["webhook-id"] for r in receiver.requests}


async def test_stripe_format_subscribers_get_stripe_shaped_samples(
    settings: Settings,
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """One Stripe-shaped event per flat type (all of them for ``*``), of the Stripe type it comes from."""
    async with receiving() as receiver:
        created = await subscribe(client, tenant, receiver.url, format="stripe")
        queued = (await client.post(f"/v1/subscribers/{created['id']}/test", headers=tenant.headers())).json()
        assert len(queued["data"]) == len(EVENT_TYPES)
        async with running(settings, vault):
            await wait_for_deliveries(db, all_settled)
    events = [json.loads(r.body) for r in receiver.requests]
    assert all(e["object"] == "event" and e["gateway_test"] is True for e in events)
    assert {e["id"] for e in events} == {r.headers["webhook-id"] for r in receiver.requests}
    flat_of = {e["type"]: FLAT_TYPES[e["type"]] for e in events}
    assert sorted(flat_of.values()) == sorted(EVENT_TYPES)
    kinds = {e["type"]: e["data"]["object"]["object"] for e in events}
    assert kinds["customer.subscription.deleted"] == "subscription"
    assert kinds["invoice.paid"] == "invoice"
    assert kinds["checkout.session.completed"] == "checkout.session"
    assert kinds["customer.updated"] == "customer"


async def test_a_disabled_subscriber_cannot_be_tested(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Samples for a disabled subscriber would never go: 400, and nothing is stored."""
    created = await subscribe(client, tenant, "https://a.example/hook", enabled=False)
    response = await client.post(f"/v1/subscribers/{created['id']}/test", headers=tenant.headers())
    assert_error(response, 400, "validation_error")
    assert (await client.get("/v1/deliveries", headers=tenant.headers())).json()["data"] == []
