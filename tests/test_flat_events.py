"""The flat events Stripe events become: every key, of its type, never null, filled from what is known."""

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Delivery, Event, Subscription
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.flat_contract import FLAT_EVENT_TYPES, assert_flat
from tests.support import Tenant

pytestmark = pytest.mark.anyio

#: One Stripe event for each flat type (and both Stripe types that become ``subscription.updated``).
STRIPE_EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "created": ("customer.subscription.created", sp.subscription(status="incomplete")),
    "updated": ("customer.subscription.updated", sp.subscription(cancel_at_period_end=True)),
    "pending_update_applied": ("customer.subscription.pending_update_applied", sp.subscription(quantity=4)),
    "deleted": ("customer.subscription.deleted", sp.subscription(status="canceled", canceled_at=sp.NOW)),
    "paused": ("customer.subscription.paused", sp.subscription(status="paused")),
    "resumed": ("customer.subscription.resumed", sp.subscription(status="active")),
    "trial_will_end": (
        "customer.subscription.trial_will_end",
        sp.subscription(status="trialing", trial_end=sp.NOW),
    ),
    "invoice.paid": ("invoice.paid", sp.invoice()),
    "invoice.payment_failed": ("invoice.payment_failed", sp.invoice(amount_paid=0, shape="top")),
    "checkout": ("checkout.session.completed", sp.checkout_session()),
    "customer.updated": ("customer.updated", sp.customer()),
}
FLAT_OF = {
    "created": "subscription.created",
    "updated": "subscription.updated",
    "pending_update_applied": "subscription.updated",
    "deleted": "subscription.canceled",
    "paused": "subscription.paused",
    "resumed": "subscription.resumed",
    "trial_will_end": "subscription.trial_ending",
    "invoice.paid": "invoice.paid",
    "invoice.payment_failed": "invoice.payment_failed",
    "checkout": "checkout.completed",
    "customer.updated": "customer.updated",
}


@pytest.fixture
async def hooked(tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault) -> Tenant:
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    return tenant


async def flat_events(db: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with db() as session:
        return [json.loads(e.body) for e in (await session.exec(select(Event).order_by(col(Event.id)))).all()]


def test_every_flat_type_is_made_from_some_stripe_event() -> None:
    """The cases below cover every flat event type of the contract."""
    assert set(FLAT_OF.values()) == set(FLAT_EVENT_TYPES)


@pytest.mark.parametrize("case", STRIPE_EVENTS)
@pytest.mark.parametrize("history", ["first-seen", "known-subscription"])
async def test_every_event_type_has_every_key_of_its_type(
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    db: async_sessionmaker[AsyncSession],
    case: str,
    history: str,
) -> None:
    """Each Stripe type becomes its flat type with every key, the right JSON type and no null."""
    if history == "known-subscription":
        earlier = sp.event("customer.subscription.created", sp.subscription(), created=sp.NOW - 100)
        assert (await sp.send(client, hooked.workspace_id, earlier)).status_code == 200
    stripe_type, obj = STRIPE_EVENTS[case]
    response = await sp.send(client, hooked.workspace_id, sp.event(stripe_type, obj))
    assert response.status_code == 200, response.text
    body = (await flat_events(db))[-1]
    assert_flat(body, FLAT_OF[case])
    assert (body["stripe_event_id"], body["stripe_event_type"]) == (
        response.json()["stripe_event_id"],
        stripe_type,
    )
    assert (body["workspace_id"], body["livemode"], body["is_test"]) == (hooked.workspace_id, False, False)
    async with db() as session:
        delivered = (await session.exec(select(Delivery).where(Delivery.event_id == body["event_id"]))).one()
    assert json.loads(delivered.body) == body


async def test_invoice_carries_payment_and_the_mirrored_subscription(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """invoice.paid says what was paid, by whom, and the subscription as the mirror has it."""
    await sp.send(
        client, hooked.workspace_id, sp.event("customer.subscription.created", sp.subscription(quantity=2))
    )
    await sp.send(client, hooked.workspace_id, sp.event("invoice.paid", sp.invoice(amount_paid=4000)))
    body = (await flat_events(db))[-1]
    assert (body["invoice_id"], body["amount_paid"], body["currency"]) == ("in_1", 4000, "usd")
    assert (body["customer_id"], body["customer_email"]) == ("cus_1", "jenny@example.com")
    assert (body["subscription_id"], body["status"], body["quantity"], body["subscription_version"]) == (
        "sub_1",
        "active",
        2,
        1,
    )
    assert (body["previous_status"], body["is_active"], body["price_lookup_key"]) == (
        "active",
        True,
        "pro_monthly",
    )


async def test_customer_facts_reach_later_subscription_events(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Once a customer's e-mail and user ID are known, every later event of theirs carries them."""
    await sp.send(
        client, hooked.workspace_id, sp.event("customer.updated", sp.customer(external_user_id="u_9"))
    )
    await sp.send(client, hooked.workspace_id, sp.event("customer.subscription.updated", sp.subscription()))
    customer_event, subscription_event = await flat_events(db)
    assert (customer_event["customer_email"], customer_event["external_user_id"]) == (
        "jenny@example.com",
        "u_9",
    )
    assert (subscription_event["customer_email"], subscription_event["external_user_id"]) == (
        "jenny@example.com",
        "u_9",
    )


async def test_checkout_takes_the_apps_user_id_from_client_reference_id(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A Checkout link made with client_reference_id tells the app which of its users paid."""
    await sp.send(client, hooked.workspace_id, sp.event("checkout.session.completed", sp.checkout_session()))
    body = (await flat_events(db))[-1]
    assert (body["external_user_id"], body["customer_email"], body["amount_paid"]) == (
        "user_42",
        "jenny@example.com",
        2000,
    )
    assert (body["subscription_id"], body["invoice_id"]) == ("sub_1", "in_1")


async def test_older_customer_update_never_overwrites_newer(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A customer.updated older than the one applied is recorded stale and changes nothing."""
    newer = sp.event("customer.updated", sp.customer(email="new@example.com"), created=sp.NOW)
    older = sp.event("customer.updated", sp.customer(email="old@example.com"), created=sp.NOW - 5)
    assert (await sp.send(client, hooked.workspace_id, newer)).json()["outcome"] == "applied"
    assert (await sp.send(client, hooked.workspace_id, older)).json()["outcome"] == "stale"
    assert [e["customer_email"] for e in await flat_events(db)] == ["new@example.com", "new@example.com"]


@pytest.mark.parametrize(("lookup_key", "preset"), [("legacy_monthly", "legacy"), ("pro_monthly", "default")])
async def test_preset_is_what_auto_would_pick(
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    db: async_sessionmaker[AsyncSession],
    lookup_key: str,
    preset: str,
) -> None:
    """The mirror and every flat event carry the preset ``auto`` picks for the subscription's price."""
    obj = sp.subscription(lookup_key=lookup_key)
    await sp.send(client, hooked.workspace_id, sp.event("customer.subscription.created", obj))
    await sp.send(client, hooked.workspace_id, sp.event("invoice.paid", sp.invoice()))
    async with db() as session:
        mirrored = (await session.exec(select(Subscription))).one()
    assert mirrored.preset == preset
    assert [e["preset"] for e in await flat_events(db)] == [preset, preset]
