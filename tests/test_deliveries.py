"""/v1/deliveries: the log (filters, pages, attempts) and manual retries, with the embedded worker."""

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.deliveries import list_deliveries
from gateway.models import Delivery, Event, StripeEvent, Subscriber
from gateway.outbox import enqueue
from gateway.settings import Settings
from gateway.vault import Vault
from tests.receivers import (
    add_subscriber,
    all_settled,
    queue_events,
    receiving,
    running,
    subscribe,
    wait_for_deliveries,
)
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

ITEM_FIELDS = {
    "id", "subscriber_id", "event_id", "stripe_event_id", "event_type", "message_id", "status",
    "attempt_count", "next_attempt_at", "last_status_code", "last_error", "created_at", "updated_at",
    "succeeded_at", "ok",
}  # fmt: skip


async def test_list_is_newest_first_with_filters_and_pages(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Filters by subscriber, event and status; pages with limit and next_cursor; newest first."""
    everything, _ = await add_subscriber(db, vault, tenant.workspace_id, "https://a.example/hook")
    invoices, _ = await add_subscriber(
        db, vault, tenant.workspace_id, "https://b.example/hook", event_types=["invoice.paid"]
    )
    first = await queue_events(db, tenant.workspace_id, count=2)
    paid = await queue_events(db, tenant.workspace_id, event_type="invoice.paid")
    async with db() as session, session.begin():
        await session.exec(update(Delivery).where(col(Delivery.id) == first[0].id).values(status="failed"))  # type: ignore[call-overload]
    headers = tenant.headers()
    listed = (await client.get("/v1/deliveries", headers=headers)).json()
    ids = [d["id"] for d in listed["data"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 4
    assert set(listed["data"][0]) == ITEM_FIELDS
    theirs = (await client.get(f"/v1/deliveries?subscriber={invoices}", headers=headers)).json()["data"]
    assert [d["id"] for d in theirs] == [d.id for d in paid if d.subscriber_id == invoices]
    by_event = (await client.get(f"/v1/deliveries?event={paid[0].event_id}", headers=headers)).json()["data"]
    assert {d["subscriber_id"] for d in by_event} == {everything, invoices}
    failed = (await client.get("/v1/deliveries?status=failed", headers=headers)).json()["data"]
    assert [d["id"] for d in failed] == [first[0].id]
    page = (await client.get("/v1/deliveries?limit=3", headers=headers)).json()
    rest = (await client.get(f"/v1/deliveries?limit=3&cursor={page['next_cursor']}", headers=headers)).json()
    assert (page["has_more"], rest["has_more"]) == (True, False)
    assert [d["id"] for d in page["data"] + rest["data"]] == ids
    assert_error(await client.get("/v1/deliveries?status=done", headers=headers), 400, "validation_error")


async def test_stripe_format_deliveries_are_found_by_the_stripe_event(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A ``stripe`` subscriber's delivery carries the Stripe event; ``event=evt_...`` finds it."""
    sid, _ = await add_subscriber(db, vault, tenant.workspace_id, "https://raw.example/hook", format="stripe")
    async with db() as session, session.begin():
        subscriber = await session.get(Subscriber, sid)
        assert subscriber is not None
        stripe_event = StripeEvent(
            workspace_id=tenant.workspace_id,
            stripe_event_id="evt_1Raw",
            type="invoice.paid",
            payload='{"id":"evt_1Raw"}',
        )
        flat = Event(id="evt_gw_1", workspace_id=tenant.workspace_id, event_type="invoice.paid", body="{}")
        session.add_all([stripe_event, flat])
        await session.flush()
        [queued] = await enqueue(
            session,
            workspace_id=tenant.workspace_id,
            events=[flat],
            stripe_event=stripe_event,
            subscribers=[subscriber],
        )
    [found] = (await client.get("/v1/deliveries?event=evt_1Raw", headers=tenant.headers())).json()["data"]
    assert (found["id"], found["message_id"], found["event_id"]) == (queued.id, "evt_1Raw", "")
    assert (await client.get("/v1/deliveries?event=evt_gw_1", headers=tenant.headers())).json()["data"] == []
    detail = (await client.get(f"/v1/deliveries/{queued.id}", headers=tenant.headers())).json()
    assert detail["body"] == '{"id":"evt_1Raw"}'


async def test_filters_by_flat_event_and_failed_read_their_own_indexes(
    tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault, database: Database
) -> None:
    """One flat event's deliveries, or the failed ones, are found without walking the workspace's history."""
    if database.is_postgres:
        pytest.skip("PostgreSQL plans from table statistics, which a test's few rows do not give")
    await add_subscriber(db, vault, tenant.workspace_id, "https://a.example/hook")
    [queued] = await queue_events(db, tenant.workspace_id)
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "FROM deliveries" in statement:  # not the connection's own set-up
            sent.append((statement, parameters))

    engine = db.kw["bind"].sync_engine
    plans: dict[str, list[str]] = {}
    for name, filters in {
        "flat event": {"event_id": queued.event_id},
        "failed": {"status": "failed"},
    }.items():
        async with db() as session:
            sent.clear()
            event.listen(engine, "before_cursor_execute", seen)
            try:
                found = await list_deliveries(session, workspace_id=tenant.workspace_id, **filters)
            finally:
                event.remove(engine, "before_cursor_execute", seen)
            connection = await session.connection()
            plans[name] = [
                " ".join(
                    row[-1] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
                )
                for sql, params in sent
            ]
        assert [d.id for d in found] == ([queued.id] if name == "flat event" else [])
    by_message, by_key = plans["flat event"]
    assert "USING INDEX ix_deliveries_message_id (message_id=?)" in by_message
    assert "USING INDEX sqlite_autoindex_deliveries_1 (id=?)" in by_key
    [failed] = plans["failed"]
    assert "USING INDEX ix_deliveries_failed" in failed


async def test_detail_shows_every_attempt(
    settings: Settings,
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Status, duration, the answer's first 2 KB, the error and the next attempt time, per attempt."""

    async def flaky(_request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500, text="x" * 5000) if n == 1 else web.Response(status=204)

    fast = settings.model_copy(update={"retry_schedule": (0.1,)})
    async with receiving(flaky) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        [queued] = await queue_events(db, tenant.workspace_id)
        async with running(fast, vault):
            await wait_for_deliveries(db, all_settled)
    detail = (await client.get(f"/v1/deliveries/{queued.id}", headers=tenant.headers())).json()
    assert set(detail) == ITEM_FIELDS | {"body", "attempts"}
    assert (detail["status"], detail["attempt_count"], detail["last_status_code"]) == ("succeeded", 2, 204)
    assert (detail["next_attempt_at"], detail["body"]) == ("", queued.body)
    first, second = detail["attempts"]
    assert (first["attempt"], first["status_code"], first["response_body"]) == (1, 500, "x" * 2048)
    assert first["next_attempt_at"]
    assert first["duration_ms"] >= 0
    assert (second["attempt"], second["status_code"], second["next_attempt_at"]) == (2, 204, "")


async def test_recover_and_retry_wake_the_embedded_worker(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
) -> None:
    """Work queued through the API wakes the worker on commit; a retry keeps the webhook-id and body."""
    monkeypatch.setattr("gateway.worker.POLL_S", 60.0)  # only a wake-up can deliver within the test
    settings = make_settings(tmp_path, database, worker="embedded", retry_schedule=())
    async with receiving() as receiver, AsyncTestClient(create_app(settings)) as client:
        created = await subscribe(client, tenant, receiver.url)
        [queued] = await queue_events(db, tenant.workspace_id)
        async with db() as session, session.begin():
            await session.exec(update(Delivery).values(status="failed"))  # type: ignore[call-overload]
        recovered = await client.post(
            f"/v1/subscribers/{created['id']}/recover",
            json={"since": "2026-01-01T00:00:00Z"},
            headers=tenant.headers(),
        )
        assert recovered.json()["requeued"] == 1
        await wait_for_deliveries(db, lambda rows: rows[0].status == "succeeded")
        retried = await client.post(f"/v1/deliveries/{queued.id}/retry", headers=tenant.headers())
        assert (retried.status_code, retried.json()["status"]) == (200, "pending")
        rows = await wait_for_deliveries(
            db, lambda rows: rows[0].attempts == 2 and rows[0].status == "succeeded"
        )
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == queued.message_id
    assert first.body == second.body == queued.body.encode()
    assert rows[0].attempts == 2


async def test_retry_refuses_a_disabled_subscriber_and_other_workspaces(
    client: AsyncTestClient[Litestar],
    tenant: Tenant,
    other_tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A disabled subscriber's delivery cannot be retried; another workspace's is not found."""
    sid, _ = await add_subscriber(db, vault, tenant.workspace_id, "https://a.example/hook")
    [queued] = await queue_events(db, tenant.workspace_id)
    async with db() as session, session.begin():
        await session.exec(update(Subscriber).where(col(Subscriber.id) == sid).values(enabled=False))  # type: ignore[call-overload]
    refused = await client.post(f"/v1/deliveries/{queued.id}/retry", headers=tenant.headers())
    assert "disabled" in assert_error(refused, 400, "validation_error")["error_message"]
    for response in [
        await client.get(f"/v1/deliveries/{queued.id}", headers=other_tenant.headers()),
        await client.post(f"/v1/deliveries/{queued.id}/retry", headers=other_tenant.headers()),
    ]:
        assert_error(response, 404, "not_found")
    assert (await client.get("/v1/deliveries", headers=other_tenant.headers())).json()["data"] == []
