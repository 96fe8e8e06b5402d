"""GET /v1/events, /v1/events/{id} and /v1/customers/{customer}/subscriptions: what the gateway knows."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.flat_contract import assert_flat
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio

SUBSCRIPTION_KEYS = {
    "subscription_id",
    "customer_id",
    "status",
    "is_active",
    "price_id",
    "price_lookup_key",
    "product_id",
    "plan_interval",
    "quantity",
    "preset",
    "cancel_at_period_end",
    "current_period_end",
    "current_period_end_unix",
    "current_period_end_ms",
    "canceled_at",
    "canceled_at_unix",
    "canceled_at_ms",
    "trial_end",
    "trial_end_unix",
    "trial_end_ms",
    "version",
    "updated_at",
}


@pytest.fixture
async def hooked(
    tenant: Tenant, other_tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> Tenant:
    """Two workspaces taking Stripe events; the first is the one under test."""
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    await sp.enable_webhooks(db, vault, other_tenant.workspace_id)
    return tenant


async def test_events_list_newest_first_and_pages(client: AsyncTestClient[Litestar], hooked: Tenant) -> None:
    """The event log lists the flat events as sent, newest first, page by page."""
    for i in range(3):
        await sp.send(
            client,
            hooked.workspace_id,
            sp.event("customer.subscription.updated", sp.subscription(quantity=i)),
        )
    first = (await client.get("/v1/events?limit=2", headers=hooked.headers())).json()
    assert (first["ok"], first["has_more"], len(first["data"])) == (True, True, 2)
    rest = (
        await client.get(f"/v1/events?limit=2&cursor={first['next_cursor']}", headers=hooked.headers())
    ).json()
    events = first["data"] + rest["data"]
    assert (rest["has_more"], rest["next_cursor"]) == (False, "")
    assert [e["quantity"] for e in events] == [2, 1, 0]
    for event in events:
        assert_flat(event, "subscription.updated")


async def test_events_filter_by_type_customer_and_subscription(
    client: AsyncTestClient[Litestar], hooked: Tenant
) -> None:
    """?event_type=, ?customer_id= and ?subscription_id= narrow the log."""
    await sp.send(
        client, hooked.workspace_id, sp.event("customer.subscription.created", sp.subscription("sub_A"))
    )
    await sp.send(
        client,
        hooked.workspace_id,
        sp.event("customer.subscription.created", sp.subscription("sub_B", customer="cus_B")),
    )
    await sp.send(client, hooked.workspace_id, sp.event("invoice.paid", sp.invoice(subscription_id="sub_A")))

    async def ids(query: str) -> list[tuple[str, str]]:
        data = (await client.get(f"/v1/events?{query}", headers=hooked.headers())).json()["data"]
        return [(e["event_type"], e["subscription_id"]) for e in data]

    assert await ids("event_type=invoice.paid") == [("invoice.paid", "sub_A")]
    assert await ids("customer_id=cus_B") == [("subscription.created", "sub_B")]
    assert await ids("subscription_id=sub_A") == [
        ("invoice.paid", "sub_A"),
        ("subscription.created", "sub_A"),
    ]


async def test_event_by_id_confirms_an_event_with_a_portal_key(
    client: AsyncTestClient[Litestar], hooked: Tenant, other_tenant: Tenant
) -> None:
    """A receiver confirms an event by ID with a portal key; another workspace's key cannot see it."""
    await sp.send(client, hooked.workspace_id, sp.event("customer.subscription.created", sp.subscription()))
    listed = (await client.get("/v1/events", headers=hooked.headers())).json()["data"][0]
    response = await client.get(f"/v1/events/{listed['event_id']}", headers=hooked.headers("portal"))
    assert response.status_code == 200
    assert response.json() == {**listed, "ok": True}
    assert_error(
        await client.get(f"/v1/events/{listed['event_id']}", headers=other_tenant.headers()), 404, "not_found"
    )
    assert_error(await client.get("/v1/events/evt_gw_nope", headers=hooked.headers()), 404, "not_found")


async def test_event_list_needs_an_admin_key(client: AsyncTestClient[Litestar], hooked: Tenant) -> None:
    """Listing events is for admin keys; portal keys may only fetch one by ID."""
    assert_error(await client.get("/v1/events", headers=hooked.headers("portal")), 403, "forbidden_scope")
    assert_error(await client.get("/v1/events"), 401, "unauthorized")


async def test_customer_subscriptions_are_flat_and_current(
    client: AsyncTestClient[Litestar], hooked: Tenant, other_tenant: Tenant
) -> None:
    """A customer's subscriptions: every key, no null, as of the newest event, never another workspace's."""
    await sp.send(
        client, hooked.workspace_id, sp.event("customer.subscription.created", sp.subscription("sub_1"))
    )
    await sp.send(
        client,
        hooked.workspace_id,
        sp.event(
            "customer.subscription.updated",
            sp.subscription("sub_1", cancel_at_period_end=True),
            created=sp.NOW + 1,
        ),
    )
    await sp.send(
        client, hooked.workspace_id, sp.event("customer.subscription.created", sp.subscription("sub_2"))
    )
    await sp.send(
        client, other_tenant.workspace_id, sp.event("customer.subscription.created", sp.subscription("sub_9"))
    )
    response = await client.get("/v1/customers/cus_1/subscriptions", headers=hooked.headers("portal"))
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["has_more"], body["next_cursor"]) == (True, False, "")
    first, second = body["data"]
    assert set(first) == SUBSCRIPTION_KEYS
    assert all(value is not None for value in first.values())
    assert (
        first["subscription_id"],
        first["cancel_at_period_end"],
        first["version"],
        first["is_active"],
    ) == (
        "sub_1",
        True,
        2,
        True,
    )
    assert (first["canceled_at"], first["canceled_at_unix"], first["trial_end_ms"]) == ("", 0, 0)
    assert first["current_period_end_ms"] == first["current_period_end_unix"] * 1000 > 0
    assert second["subscription_id"] == "sub_2"
    paged = (await client.get("/v1/customers/cus_1/subscriptions?limit=1", headers=hooked.headers())).json()
    assert (paged["has_more"], [s["subscription_id"] for s in paged["data"]]) == (True, ["sub_1"])
    after = await client.get(
        f"/v1/customers/cus_1/subscriptions?cursor={paged['next_cursor']}", headers=hooked.headers()
    )
    assert [s["subscription_id"] for s in after.json()["data"]] == ["sub_2"]


async def test_unknown_customer_has_no_subscriptions(
    client: AsyncTestClient[Litestar], hooked: Tenant
) -> None:
    """A customer the mirror never heard of answers an empty list, not an error."""
    body = (
        await client.get("/v1/customers/cus_unknown/subscriptions", headers=hooked.headers("portal"))
    ).json()
    assert body == {"ok": True, "data": [], "has_more": False, "next_cursor": ""}
    bad = await client.get("/v1/customers/cus_1/subscriptions?cursor=abc", headers=hooked.headers())
    assert_error(bad, 400, "validation_error")
