"""Which subscriber gets which event when the ingest queues deliveries (outbox.enqueue's rules)."""

import json

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.ingest import apply_batch
from gateway.models import Delivery, Event, Subscriber
from gateway.stripe_events import parse_event
from gateway.vault import Vault
from gateway.writer import Writer
from tests import stripe_payloads as sp
from tests.support import Tenant

pytestmark = pytest.mark.anyio


def _subscriber(tenant: Tenant, sid: str, **fields: object) -> Subscriber:
    return Subscriber(
        id=sid, workspace_id=tenant.workspace_id, url="https://hooks.example/x", secret_enc="s", **fields
    )


async def test_flat_stripe_filtered_and_disabled_subscribers(
    tenant: Tenant, other_tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault, writer: Writer
) -> None:
    """Flat subscribers get matching flat events; stripe ones the original once; others nothing."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id, subscriber=False)
    async with db() as session, session.begin():
        session.add_all(
            [
                _subscriber(tenant, "sbr_all"),
                _subscriber(tenant, "sbr_cancel", event_types=["subscription.canceled"]),
                _subscriber(tenant, "sbr_raw", format="stripe", event_types=["subscription.created"]),
                _subscriber(tenant, "sbr_off", enabled=False),
                _subscriber(other_tenant, "sbr_elsewhere"),
            ]
        )
    created = sp.event("customer.subscription.created", sp.subscription())
    ignored = sp.event("charge.succeeded", {"id": "ch_1", "object": "charge"})
    events = [parse_event(tenant.workspace_id, sp.body_of(e)) for e in (created, ignored)]
    assert await writer.run(lambda c: apply_batch(c, events)) == ["applied", "ignored"]
    async with db() as session:
        flat = (await session.exec(select(Event))).one()
        deliveries = (await session.exec(select(Delivery))).all()
    got = sorted((d.subscriber_id, d.event_type, d.message_id, d.event_id) for d in deliveries)
    assert got == [
        ("sbr_all", "subscription.created", flat.id, flat.id),
        ("sbr_raw", "customer.subscription.created", created["id"], ""),
    ]
    raw = next(d for d in deliveries if d.subscriber_id == "sbr_raw")
    assert raw.body == sp.body_of(created)  # the bytes Stripe sent
    assert json.loads(next(d for d in deliveries if d.subscriber_id == "sbr_all").body)["event_id"] == flat.id
    assert {(d.status, d.attempts, d.lease_owner) for d in deliveries} == {("pending", 0, "")}
