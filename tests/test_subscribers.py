"""/v1/subscribers: create (secret shown once), read (headers redacted), change, delete, rotate, recover."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Delivery, Subscriber
from gateway.settings import Settings
from gateway.vault import Vault
from tests.receivers import queue_events, subscribe
from tests.support import Tenant, assert_error, make_tenant

pytestmark = pytest.mark.anyio

TOKEN = "bubble-admin-token-0123456789"
FIELDS = {
    "id", "url", "event_types", "format", "headers", "description", "enabled", "disabled_reason",
    "max_in_flight", "failing_since", "previous_secret_expires_at", "created_at", "updated_at",
    "warnings", "ok",
}  # fmt: skip


async def create(client: AsyncTestClient[Litestar], tenant: Tenant, **body: object) -> dict[str, object]:
    url = str(body.pop("url", "https://app.example/api/1.1/wf/stripe"))
    return await subscribe(client, tenant, url, **body)


async def stored(db: async_sessionmaker[AsyncSession], subscriber_id: object) -> Subscriber:
    async with db() as session:
        row = await session.get(Subscriber, subscriber_id)
    assert row is not None
    return row


async def test_create_shows_the_secret_once_and_redacts_headers(
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer carries ``secret`` once; headers come back redacted; both are encrypted at rest."""
    caplog.set_level(logging.DEBUG)
    created = await create(
        client,
        tenant,
        event_types=["subscription.canceled", "invoice.paid", "invoice.paid"],
        headers={"Authorization": f"Bearer {TOKEN}", "x-make-apikey": "k"},
        description="Bubble live",
    )
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    assert set(created) == FIELDS | {"secret"}
    assert created["headers"] == {"Authorization": "[redacted]", "x-make-apikey": "[redacted]"}
    assert created["event_types"] == ["subscription.canceled", "invoice.paid"]
    assert (created["format"], created["enabled"], created["max_in_flight"], created["warnings"]) == (
        "flat",
        True,
        4,
        [],
    )
    shown = (await client.get(f"/v1/subscribers/{created['id']}", headers=tenant.headers())).json()
    assert set(shown) == FIELDS
    listed = (await client.get("/v1/subscribers", headers=tenant.headers())).json()
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    row = await stored(db, created["id"])
    assert TOKEN not in row.headers_enc
    assert secret not in row.secret_enc
    assert json.loads(vault.decrypt(row.headers_enc))["Authorization"] == f"Bearer {TOKEN}"
    assert vault.decrypt(row.secret_enc) == secret
    assert not [r for r in caplog.records if TOKEN in r.getMessage() or secret in r.getMessage()]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["subscription.cancelled"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"headers": {"Content-Type": "text/plain"}}, "headers"),
        ({"headers": {"webhook-id": "x"}}, "headers"),
        ({"headers": {"bad name": "x"}}, "headers"),
        ({"headers": {"X-Token": "a\r\nInjected: 1"}}, "headers"),
        ({"format": "xml"}, "format"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"surprise": 1}, "surprise"),
        ({"url": ""}, "url"),
    ],
)
async def test_invalid_subscribers_are_refused(
    client: AsyncTestClient[Litestar], tenant: Tenant, body: dict[str, object], field: str
) -> None:
    """400 validation_error naming the field; nothing is created."""
    payload = {"url": "https://app.example/hook", **body}
    response = await client.post("/v1/subscribers", json=payload, headers=tenant.headers())
    errors = assert_error(response, 400, "validation_error")
    assert field in [f["field"] for f in errors["fields"]] or field in errors["error_message"]
    assert (await client.get("/v1/subscribers", headers=tenant.headers())).json()["data"] == []


async def test_unknown_event_type_suggests_the_right_one(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A typo gets a 'did you mean'."""
    payload = {"url": "https://app.example/hook", "event_types": ["subscription.cancelled"]}
    response = await client.post("/v1/subscribers", json=payload, headers=tenant.headers())
    assert "Did you mean 'subscription.canceled'?" in response.json()["error_message"]


async def test_patch_changes_only_what_is_given(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """PATCH keeps the other fields; ``headers`` replaces the set; the secret is untouched."""
    created = await create(client, tenant, headers={"Authorization": "Bearer a"}, description="one")
    before = await stored(db, created["id"])
    response = await client.patch(
        f"/v1/subscribers/{created['id']}",
        json={"event_types": ["*", "invoice.paid"], "headers": {"X-Key": "b"}, "max_in_flight": 10},
        headers=tenant.headers(),
    )
    body = response.json()
    assert response.status_code == 200
    assert (body["event_types"], body["headers"], body["max_in_flight"]) == (
        ["*"],
        {"X-Key": "[redacted]"},
        10,
    )
    assert (body["description"], body["url"]) == ("one", created["url"])
    assert "secret" not in body
    after = await stored(db, created["id"])
    assert after.secret_enc == before.secret_enc
    assert json.loads(vault.decrypt(after.headers_enc)) == {"X-Key": "b"}
    cleared = await client.patch(
        f"/v1/subscribers/{created['id']}", json={"headers": {}}, headers=tenant.headers()
    )
    assert cleared.json()["headers"] == {}


async def test_disabling_fails_pending_deliveries_and_enabling_clears_the_reason(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """enabled=false: reason ``manual``, pending deliveries fail; enabled=true clears reason and streak."""
    created = await create(client, tenant)
    await queue_events(db, tenant.workspace_id, count=2)
    off = (
        await client.patch(
            f"/v1/subscribers/{created['id']}", json={"enabled": False}, headers=tenant.headers()
        )
    ).json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "manual")
    async with db() as session:
        rows = (await session.exec(select(Delivery))).all()
    assert {(d.status, d.last_error) for d in rows} == {("failed", "subscriber disabled (manual)")}
    assert await queue_events(db, tenant.workspace_id) == []
    async with db() as session, session.begin():
        await session.exec(update(Subscriber).values(failing_since=datetime.now(UTC)))  # type: ignore[call-overload]
    on = (
        await client.patch(
            f"/v1/subscribers/{created['id']}", json={"enabled": True}, headers=tenant.headers()
        )
    ).json()
    assert (on["enabled"], on["disabled_reason"], on["failing_since"]) == (True, "", "")


async def test_delete_removes_the_subscriber_and_its_deliveries(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """DELETE answers the subscriber; afterwards it and its delivery log are gone."""
    created = await create(client, tenant)
    await queue_events(db, tenant.workspace_id)
    response = await client.delete(f"/v1/subscribers/{created['id']}", headers=tenant.headers())
    assert (response.status_code, response.json()["id"]) == (200, created["id"])
    assert_error(
        await client.get(f"/v1/subscribers/{created['id']}", headers=tenant.headers()), 404, "not_found"
    )
    async with db() as session:
        assert (await session.exec(select(Delivery))).all() == []


async def test_rotate_secret_keeps_the_old_one_for_24_hours(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A new secret, shown once; the old one is kept (encrypted) to sign alongside for a day."""
    created = await create(client, tenant)
    response = await client.post(f"/v1/subscribers/{created['id']}/rotate-secret", headers=tenant.headers())
    body = response.json()
    assert response.status_code == 200
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != created["secret"]
    expires = datetime.fromisoformat(body["previous_secret_expires_at"])
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    row = await stored(db, created["id"])
    assert (vault.decrypt(row.secret_enc), vault.decrypt(row.previous_secret_enc)) == (
        body["secret"],
        created["secret"],
    )
    shown = (await client.get(f"/v1/subscribers/{created['id']}", headers=tenant.headers())).json()
    assert "secret" not in shown


async def test_recover_requeues_failed_deliveries_since_a_time(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Failed deliveries created since ``since`` (and before ``until``) are pending again, due now."""
    created = await create(client, tenant)
    old, recent, done = await queue_events(db, tenant.workspace_id, count=3)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    async with db() as session, session.begin():
        await session.exec(update(Delivery).values(status="failed", next_attempt_at=None))  # type: ignore[call-overload]
        await session.exec(update(Delivery).where(col(Delivery.id) == old.id).values(created_at=long_ago))  # type: ignore[call-overload]
        await session.exec(update(Delivery).where(col(Delivery.id) == done.id).values(status="succeeded"))  # type: ignore[call-overload]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await client.post(
        f"/v1/subscribers/{created['id']}/recover", json={"since": since}, headers=tenant.headers()
    )
    assert (response.status_code, response.json()) == (200, {"requeued": 1, "ok": True})
    async with db() as session:
        rows = {d.id: d for d in (await session.exec(select(Delivery))).all()}
    assert (rows[old.id].status, rows[recent.id].status, rows[done.id].status) == (
        "failed",
        "pending",
        "succeeded",
    )
    assert rows[recent.id].next_attempt_at is not None
    naive = await client.post(
        f"/v1/subscribers/{created['id']}/recover",
        json={"since": "2026-01-01T00:00:00"},
        headers=tenant.headers(),
    )
    assert_error(naive, 400, "validation_error")


async def test_recover_refuses_a_disabled_subscriber(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Work queued for a disabled subscriber would never go: enable it first."""
    created = await create(client, tenant, enabled=False)
    response = await client.post(
        f"/v1/subscribers/{created['id']}/recover",
        json={"since": "2026-01-01T00:00:00Z"},
        headers=tenant.headers(),
    )
    assert "enable it first" in assert_error(response, 400, "validation_error")["error_message"]


async def test_test_looking_urls_warn_on_live_workspaces(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """/version-test, /initialize and /webhook-test/ URLs get a warning, on live workspaces only."""
    live = await make_tenant(db, vault, settings, "live-co", stripe_key="sk_live_123456789")
    test = await make_tenant(db, vault, settings, "test-co")
    urls = [
        "https://app.bubbleapps.io/version-test/api/1.1/wf/stripe",
        "https://app.bubbleapps.io/api/1.1/wf/stripe/initialize",
        "https://me.app.n8n.cloud/webhook-test/3f1c",
    ]
    for url in urls:
        warned = await create(client, live, url=url)
        assert [w["code"] for w in warned["warnings"]] == ["test_url_on_live_workspace"]  # type: ignore[union-attr]
        assert (await create(client, test, url=url))["warnings"] == []
    assert (await create(client, live, url="https://app.bubbleapps.io/api/1.1/wf/stripe"))["warnings"] == []


async def test_another_workspaces_subscriber_is_not_found(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    """Every route answers 404 for a subscriber of another workspace, and changes nothing."""
    theirs = await create(client, other_tenant)
    path = f"/v1/subscribers/{theirs['id']}"
    for response in [
        await client.get(path, headers=tenant.headers()),
        await client.patch(path, json={"enabled": False}, headers=tenant.headers()),
        await client.post(f"{path}/rotate-secret", headers=tenant.headers()),
        await client.post(
            f"{path}/recover", json={"since": "2026-01-01T00:00:00Z"}, headers=tenant.headers()
        ),
        await client.delete(path, headers=tenant.headers()),
    ]:
        assert_error(response, 404, "not_found")
    assert (await client.get(path, headers=other_tenant.headers())).json()["enabled"] is True


async def test_portal_keys_cannot_manage_subscribers(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Subscribers are admin-only."""
    assert_error(
        await client.get("/v1/subscribers", headers=tenant.headers("portal")), 403, "forbidden_scope"
    )
