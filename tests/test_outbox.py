"""Queueing deliveries: which subscriber gets which event, in which format."""

import asyncio
import json

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Delivery, Event, StripeEvent, Subscriber
from gateway.outbox import OutboxNotifier, enqueue
from gateway.settings import Settings
from tests.support import Tenant

pytestmark = pytest.mark.anyio


def _subscriber(tenant: Tenant, sid: str, **fields: object) -> Subscriber:
    return Subscriber(
        id=sid, workspace_id=tenant.workspace_id, url="https://hooks.example/x", secret_enc="s", **fields
    )


async def test_enqueue_respects_filters_formats_and_enabled(
    tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Flat subscribers get each matching event; stripe ones the Stripe event once; disabled ones nothing."""
    stripe_body = json.dumps({"id": "evt_1", "type": "customer.subscription.deleted"})
    async with db() as session, session.begin():
        session.add_all(
            [
                _subscriber(tenant, "sbr_all"),
                _subscriber(tenant, "sbr_cancel", event_types=["subscription.canceled"]),
                _subscriber(tenant, "sbr_invoice", event_types=["invoice.paid"]),
                _subscriber(tenant, "sbr_raw", format="stripe", event_types=["subscription.canceled"]),
                _subscriber(tenant, "sbr_off", enabled=False),
            ]
        )
        stripe_event = StripeEvent(
            workspace_id=tenant.workspace_id,
            stripe_event_id="evt_1",
            type="customer.subscription.deleted",
            payload=stripe_body,
        )
        events = [
            Event(
                id="evt_gw_1",
                workspace_id=tenant.workspace_id,
                event_type="subscription.canceled",
                body='{"a":1}',
            ),
            Event(
                id="evt_gw_2",
                workspace_id=tenant.workspace_id,
                event_type="subscription.updated",
                body='{"b":2}',
            ),
        ]
        session.add_all([stripe_event, *events])
        await session.flush()
        await enqueue(session, workspace_id=tenant.workspace_id, events=events, stripe_event=stripe_event)
    async with db() as session:
        rows = (await session.exec(select(Delivery))).all()
    got = sorted((d.subscriber_id, d.message_id, d.body) for d in rows)
    assert got == [
        ("sbr_all", "evt_gw_1", '{"a":1}'),
        ("sbr_all", "evt_gw_2", '{"b":2}'),
        ("sbr_cancel", "evt_gw_1", '{"a":1}'),
        ("sbr_raw", "evt_1", stripe_body),
    ]
    assert {d.status for d in rows} == {"pending"}
    assert all(d.next_attempt_at is not None for d in rows)


async def test_pokes_in_one_turn_wake_workers_once_and_later_pokes_again(settings: Settings) -> None:
    """A batch's many commits cost one wake-up; a commit after that wake-up gets one of its own."""
    notifier = OutboxNotifier(create_async_engine("sqlite+aiosqlite://"), settings)
    woken: list[int] = []
    notifier.subscribe(lambda: woken.append(1))
    for _ in range(50):
        notifier.poke()
    await asyncio.sleep(0)
    assert woken == [1]
    notifier.poke()
    await asyncio.sleep(0)
    assert woken == [1, 1]
