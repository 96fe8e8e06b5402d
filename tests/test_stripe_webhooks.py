"""POST /v1/stripe/webhooks/{workspace_id}: verified, stored once, mirrored in order, forwarded."""

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import (
    Customer,
    Delivery,
    Event,
    PortalConfiguration,
    StripeEvent,
    Subscription,
    Workspace,
)
from gateway.vault import Vault
from gateway.workspaces import set_webhook_secrets
from tests import stripe_payloads as sp
from tests.servers import serving
from tests.stripe_payloads import send
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio

OLD_SECRET = "whsec_test_previous_0123456789abcdef"
TABLES = (StripeEvent, Subscription, Customer, Event, Delivery)


@pytest.fixture
async def hooked(tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault) -> Tenant:
    """The tenant with a webhook signing secret and one subscriber of every flat event."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    return tenant


async def row_counts(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with db() as session:
        return {
            table.__tablename__: (await session.exec(select(func.count()).select_from(table))).one()  # type: ignore[attr-defined]
            for table in TABLES
        }


NOTHING = {"stripe_events": 0, "subscriptions": 0, "customers": 0, "events": 0, "deliveries": 0}


async def test_signed_event_is_stored_mirrored_and_queued(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A valid event answers 200 after its row, the mirror, the flat event and the delivery are stored."""
    created = sp.event("customer.subscription.created", sp.subscription(status="active", quantity=2))
    response = await send(client, hooked.workspace_id, created)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "stripe_event_id": created["id"], "outcome": "applied"}
    async with db() as session:
        stored = (await session.exec(select(StripeEvent))).one()
        mirror = (await session.exec(select(Subscription))).one()
        flat = (await session.exec(select(Event))).one()
        delivery = (await session.exec(select(Delivery))).one()
    assert stored.payload == sp.body_of(created)  # the exact bytes Stripe signed
    assert (stored.outcome, stored.type, stored.object_id) == ("applied", created["type"], "sub_1")
    assert (mirror.status, mirror.quantity, mirror.price_lookup_key, mirror.version) == (
        "active",
        2,
        "pro_monthly",
        1,
    )
    body = json.loads(flat.body)
    assert (body["event_type"], body["status"], body["quantity"], body["subscription_version"]) == (
        "subscription.created",
        "active",
        2,
        1,
    )
    assert (delivery.event_id, delivery.message_id, delivery.body) == (flat.id, flat.id, flat.body)
    assert (delivery.status, delivery.workspace_id) == ("pending", hooked.workspace_id)


def _tampered(body: str) -> tuple[str, dict[str, str]]:
    return body.replace("active", "canceled"), sp.signed(body, sp.SECRET)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(_tampered, "does not match", id="tampered"),
        pytest.param(lambda body: (body, {}), "Missing Stripe-Signature", id="missing"),
        pytest.param(
            lambda body: (body, sp.signed(body, "whsec_someone_else")), "does not match", id="wrong-secret"
        ),
        pytest.param(
            lambda body: (body, sp.signed(body, sp.SECRET, timestamp=sp.NOW - 301)), "300 seconds", id="stale"
        ),
        pytest.param(
            lambda body: (body, {"Stripe-Signature": "v1=abc"}), "does not match", id="garbled-header"
        ),
    ],
)
async def test_bad_signatures_are_400_and_store_nothing(
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    db: async_sessionmaker[AsyncSession],
    mangle: Any,
    message: str,
) -> None:
    """A tampered body, a missing, foreign, stale or garbled signature: 400 signature_invalid, no row."""
    body = sp.body_of(sp.event("customer.subscription.created", sp.subscription()))
    sent_body, headers = mangle(body)
    response = await client.post(
        f"/v1/stripe/webhooks/{hooked.workspace_id}", content=sent_body, headers=headers
    )
    assert message in assert_error(response, 400, "signature_invalid")["error_message"]
    assert await row_counts(db) == NOTHING


async def test_signature_failures_are_counted_on_the_workspace(
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    db: async_sessionmaker[AsyncSession],
) -> None:
    """Each refused signature adds to the workspace's durable count (written within the flush delay),
    with the latest time and reason; an unknown workspace counts nowhere; a good event changes nothing."""
    monkeypatch.setattr("gateway.stripe_events.FAILURES_FLUSH_S", 0.05)
    body = sp.body_of(sp.event("customer.subscription.created", sp.subscription()))
    url = f"/v1/stripe/webhooks/{hooked.workspace_id}"
    await client.post(url, content=body, headers=sp.signed(body, "whsec_someone_else"))
    await client.post(url, content=body, headers=sp.signed(body, sp.SECRET, timestamp=sp.NOW - 301))
    await client.post("/v1/stripe/webhooks/ws_nobody", content=body, headers=sp.signed(body, sp.SECRET))
    assert (await client.post(url, content=body, headers=sp.signed(body, sp.SECRET))).status_code == 200

    async def counted() -> Workspace:
        async with db() as session:
            workspace = await session.get(Workspace, hooked.workspace_id)
        assert workspace is not None
        return workspace

    for _ in range(250):
        workspace = await counted()
        if workspace.signature_failures >= 2:
            break
        await asyncio.sleep(0.02)
    assert workspace.signature_failures == 2
    assert "300 seconds" in workspace.last_signature_failure
    assert workspace.last_signature_failure_at is not None
    async with db() as session:
        others = (await session.exec(select(func.sum(Workspace.signature_failures)))).one()
    assert others == 2


async def test_signature_failures_noted_before_shutdown_are_written(
    monkeypatch: pytest.MonkeyPatch, app: Litestar, hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A failure still waiting for its flush when the gateway stops is written as it stops."""
    monkeypatch.setattr("gateway.stripe_events.FAILURES_FLUSH_S", 3600)
    body = sp.body_of(sp.event("customer.subscription.created", sp.subscription()))
    async with AsyncTestClient(app) as client:
        response = await client.post(
            f"/v1/stripe/webhooks/{hooked.workspace_id}", content=body, headers={"Stripe-Signature": "v1=x"}
        )
        assert_error(response, 400, "signature_invalid")
    async with db() as session:
        workspace = await session.get(Workspace, hooked.workspace_id)
    assert workspace is not None
    assert workspace.signature_failures == 1


async def test_signature_just_inside_the_tolerance_is_accepted(
    client: AsyncTestClient[Litestar], hooked: Tenant
) -> None:
    """A signature 290 seconds old still passes (Stripe's tolerance is 300)."""
    event = sp.event("customer.subscription.created", sp.subscription())
    assert (
        await send(client, hooked.workspace_id, event, timestamp=int(time.time()) - 290)
    ).status_code == 200


async def test_unknown_workspace_is_400_and_stores_nothing(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """An event for a workspace that does not exist is refused like a bad signature."""
    response = await send(client, "ws_nobody", sp.event("customer.subscription.created", sp.subscription()))
    assert_error(response, 400, "signature_invalid")
    assert await row_counts(db) == NOTHING


async def test_workspace_without_secret_says_how_to_set_one(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A workspace with no signing secret refuses every event, and the message says what to do."""
    response = await send(
        client, tenant.workspace_id, sp.event("customer.subscription.created", sp.subscription())
    )
    assert "--webhook-secret" in assert_error(response, 400, "signature_invalid")["error_message"]
    assert await row_counts(db) == NOTHING


async def test_rotation_accepts_both_secrets_and_no_third(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """While a secret is rotated, events signed with the new or the previous secret are accepted."""
    async with db() as session, session.begin():
        workspace = await session.get(Workspace, hooked.workspace_id)
        assert workspace is not None
        set_webhook_secrets(vault, workspace, [sp.SECRET, OLD_SECRET])
        session.add(workspace)
    old = await send(
        client, hooked.workspace_id, sp.event("customer.updated", sp.customer()), secret=OLD_SECRET
    )
    new = await send(
        client, hooked.workspace_id, sp.event("customer.updated", sp.customer()), secret=sp.SECRET
    )
    assert (old.status_code, new.status_code) == (200, 200)
    third = await send(
        client, hooked.workspace_id, sp.event("customer.updated", sp.customer()), secret="whsec_x"
    )
    assert_error(third, 400, "signature_invalid")
    # Stripe rolling a secret on its side signs with both: one matching v1 among several passes.
    body = sp.body_of(sp.event("customer.updated", sp.customer()))
    header = sp.signed(body, "whsec_unknown")["Stripe-Signature"]
    header += "," + sp.signed(body, sp.SECRET)["Stripe-Signature"].split(",")[1]
    both = await client.post(
        f"/v1/stripe/webhooks/{hooked.workspace_id}", content=body, headers={"Stripe-Signature": header}
    )
    assert both.status_code == 200


async def test_duplicate_answers_200_and_changes_nothing(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """The same Stripe event twice: the second answers duplicate and adds no row, no delivery."""
    created = sp.event("customer.subscription.created", sp.subscription())
    assert (await send(client, hooked.workspace_id, created)).json()["outcome"] == "applied"
    before = await row_counts(db)
    second = await send(client, hooked.workspace_id, created)
    assert (second.status_code, second.json()["outcome"]) == (200, "duplicate")
    assert (
        await row_counts(db)
        == before
        == {**NOTHING, "stripe_events": 1, "subscriptions": 1, "events": 1, "deliveries": 1}
    )


async def test_concurrent_copies_are_applied_once(
    app: Litestar, hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Copies of one event arriving at the same moment: one applied, the rest duplicates, one delivery."""
    created = sp.event("customer.subscription.created", sp.subscription())
    others = [sp.event("customer.subscription.updated", sp.subscription(f"sub_other_{i}")) for i in range(10)]
    with serving(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            responses = await asyncio.gather(
                *[send(http, hooked.workspace_id, created) for _ in range(12)],
                *[send(http, hooked.workspace_id, other) for other in others],
            )
    outcomes = [r.json()["outcome"] for r in responses[:12]]
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 11
    assert {r.json()["outcome"] for r in responses[12:]} == {"applied"}
    assert await row_counts(db) == {
        **NOTHING,
        "stripe_events": 11,
        "subscriptions": 11,
        "events": 11,
        "deliveries": 11,
    }


async def test_older_event_arriving_late_never_rolls_back(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """updated (newer) then created (older): the mirror keeps the update; created is recorded stale."""
    updated = sp.event(
        "customer.subscription.updated",
        sp.subscription(status="active", cancel_at_period_end=True, quantity=3),
        created=sp.NOW + 10,
        previous_attributes={"cancel_at_period_end": False},
    )
    created = sp.event("customer.subscription.created", sp.subscription(status="incomplete"), created=sp.NOW)
    assert (await send(client, hooked.workspace_id, updated)).json()["outcome"] == "applied"
    assert (await send(client, hooked.workspace_id, created)).json()["outcome"] == "stale"
    async with db() as session:
        mirror = (await session.exec(select(Subscription))).one()
        stored = {e.stripe_event_id: e.outcome for e in (await session.exec(select(StripeEvent))).all()}
        flat = [json.loads(e.body) for e in (await session.exec(select(Event).order_by(Event.id))).all()]
    assert (mirror.status, mirror.cancel_at_period_end, mirror.quantity, mirror.version) == (
        "active",
        True,
        3,
        1,
    )
    assert mirror.stripe_event_id == updated["id"]
    assert stored == {updated["id"]: "applied", created["id"]: "stale"}
    # The late event still reaches receivers, carrying the newest state, never the older one.
    assert [(f["event_type"], f["status"], f["subscription_version"]) for f in flat] == [
        ("subscription.updated", "active", 1),
        ("subscription.created", "active", 1),
    ]


async def test_same_second_created_after_updated_is_stale(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Within one second, created is older than updated, whichever arrives first."""
    updated = sp.event("customer.subscription.updated", sp.subscription(status="active", quantity=5))
    created = sp.event("customer.subscription.created", sp.subscription(status="incomplete", quantity=1))
    await send(client, hooked.workspace_id, updated)
    assert (await send(client, hooked.workspace_id, created)).json()["outcome"] == "stale"
    async with db() as session:
        mirror = (await session.exec(select(Subscription))).one()
    assert (mirror.status, mirror.quantity) == ("active", 5)


async def test_deleted_sets_canceled(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """customer.subscription.deleted marks the subscription canceled and sends subscription.canceled."""
    await send(
        client,
        hooked.workspace_id,
        sp.event("customer.subscription.created", sp.subscription(), created=sp.NOW - 60),
    )
    deleted = sp.event(
        "customer.subscription.deleted",
        sp.subscription(status="canceled", canceled_at=sp.NOW),
        created=sp.NOW,
    )
    assert (await send(client, hooked.workspace_id, deleted)).json()["outcome"] == "applied"
    async with db() as session:
        mirror = (await session.exec(select(Subscription))).one()
        last = (await session.exec(select(Event).order_by(Event.id.desc()))).first()  # type: ignore[union-attr]
    assert (mirror.status, mirror.version) == ("canceled", 2)
    assert last is not None
    body = json.loads(last.body)
    assert (body["event_type"], body["status"], body["previous_status"], body["is_active"]) == (
        "subscription.canceled",
        "canceled",
        "active",
        False,
    )
    assert body["canceled_at_unix"] == sp.NOW


async def test_unhandled_type_is_stored_and_acknowledged(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """An event type the gateway does not act on is recorded as ignored, and nothing is forwarded."""
    response = await send(
        client, hooked.workspace_id, sp.event("charge.succeeded", {"id": "ch_1", "object": "charge"})
    )
    assert response.json()["outcome"] == "ignored"
    assert await row_counts(db) == {**NOTHING, "stripe_events": 1}


async def test_signed_body_that_is_not_an_event_is_400(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A correctly signed body that is not a Stripe snapshot event is refused and not stored."""
    for body in ("not json", json.dumps({"id": "evt_1", "type": "x"}), json.dumps([1, 2])):
        response = await client.post(
            f"/v1/stripe/webhooks/{hooked.workspace_id}", content=body, headers=sp.signed(body, sp.SECRET)
        )
        assert_error(response, 400, "validation_error")
    assert await row_counts(db) == NOTHING


async def test_oversized_body_is_413_and_stores_nothing(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A body over 1 MiB is refused before anything else happens."""
    huge = sp.subscription()
    huge["metadata"] = {"blob": "x" * (1024 * 1024)}
    assert_error(
        await send(client, hooked.workspace_id, sp.event("customer.subscription.created", huge)),
        413,
        "payload_too_large",
    )
    assert await row_counts(db) == NOTHING


async def test_events_of_one_workspace_never_touch_another(
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    other_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A body signed for one workspace is refused at another's URL."""
    response = await send(
        client, other_tenant.workspace_id, sp.event("customer.subscription.created", sp.subscription())
    )
    assert_error(response, 400, "signature_invalid")
    assert await row_counts(db) == NOTHING


async def test_portal_configuration_updated_marks_the_preset_cache_stale(
    client: AsyncTestClient[Litestar], hooked: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """billing_portal.configuration.updated for a synced configuration marks it stale, forwarding nothing."""
    async with db() as session, session.begin():
        session.add(
            PortalConfiguration(
                workspace_id=hooked.workspace_id,
                preset="legacy",
                configuration_id="bpc_1",
                hash="h",
                digest="d",
            )
        )
    ours = sp.event(
        "billing_portal.configuration.updated", {"id": "bpc_1", "object": "billing_portal.configuration"}
    )
    other = sp.event(
        "billing_portal.configuration.updated", {"id": "bpc_x", "object": "billing_portal.configuration"}
    )
    assert (await send(client, hooked.workspace_id, ours)).json()["outcome"] == "applied"
    assert (await send(client, hooked.workspace_id, other)).json()["outcome"] == "ignored"
    async with db() as session:
        configuration = (await session.exec(select(PortalConfiguration))).one()
        outcomes = sorted(e.outcome for e in (await session.exec(select(StripeEvent))).all())
    assert configuration.stale is True
    assert outcomes == ["applied", "ignored"]
    assert await row_counts(db) == {**NOTHING, "stripe_events": 2}
