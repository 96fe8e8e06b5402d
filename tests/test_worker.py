"""The delivery worker against real receivers on 127.0.0.1: signing, retries, failures, caps, shutdown."""

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.models import Delivery, DeliveryAttempt, Subscriber
from gateway.settings import Settings
from gateway.signing import new_secret
from gateway.subscribers import rotate_secret
from gateway.vault import Vault
from tests.receivers import (
    add_subscriber,
    all_settled,
    queue_events,
    receiving,
    running,
    until,
    wait_for_deliveries,
)
from tests.support import Database, Tenant, make_settings

pytestmark = pytest.mark.anyio


def fast(tmp_path: Path, database: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {"retry_schedule": (0.1, 0.1), "delivery_timeout": 2.0, **overrides}
    return make_settings(tmp_path, database, **values)


async def attempts_of(db: async_sessionmaker[AsyncSession], delivery_id: str) -> list[DeliveryAttempt]:
    async with db() as session:
        query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
        return list((await session.exec(query.order_by(DeliveryAttempt.attempt))).all())


async def subscriber_row(db: async_sessionmaker[AsyncSession], subscriber_id: str) -> Subscriber:
    async with db() as session:
        row = await session.get(Subscriber, subscriber_id)
    assert row is not None
    return row


async def test_delivers_signed_callback_with_static_headers(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """One POST with the stored bytes, Standard Webhooks headers that verify, and the static headers."""
    async with receiving() as receiver:
        sid, secret = await add_subscriber(
            db,
            vault,
            tenant.workspace_id,
            receiver.url + "/api/1.1/wf/stripe",
            headers={"Authorization": "Bearer tok"},
        )
        [queued] = await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    [request] = receiver.requests
    assert request.path == "/api/1.1/wf/stripe"
    assert request.body == queued.body.encode()
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == queued.event_id
    assert Webhook(secret).verify(request.body, request.headers)["event_id"] == queued.event_id
    assert (done.status, done.attempts, done.last_status_code, done.lease_expires_at) == (
        "succeeded",
        1,
        200,
        None,
    )
    [attempt] = await attempts_of(db, done.id)
    assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.response_body == '{"ok": true}'
    assert (await subscriber_row(db, sid)).failing_since is None


async def test_failure_then_success_retries_with_identical_bytes(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A 500 is retried after the schedule's delay; both attempts carry the same id and body, newly signed."""

    async def flaky(_request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500, text="boom " * 1000) if n == 1 else web.json_response({"ok": True})

    async with receiving(flaky) as receiver:
        _, secret = await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database, retry_schedule=(0.5,)), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        Webhook(secret).verify(request.body, request.headers)
    assert second.at - first.at >= 0.5 * 0.8
    assert (done.status, done.attempts) == ("succeeded", 2)
    one, two = await attempts_of(db, done.id)
    assert (one.status_code, two.status_code) == (500, 200)
    assert len(one.response_body.encode()) == 2048
    assert one.response_body.startswith("boom")
    assert one.next_attempt_at is not None
    assert two.next_attempt_at is None


async def test_gives_up_after_the_schedule(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Attempt 1 plus one per schedule step, then failed; the subscriber is marked failing, not disabled."""

    async def down(_request: web.Request, _n: int) -> web.StreamResponse:
        return web.Response(status=503)

    async with receiving(down) as receiver:
        sid, _ = await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    assert len(receiver.requests) == 3
    assert (done.status, done.attempts, done.last_status_code) == ("failed", 3, 503)
    subscriber = await subscriber_row(db, sid)
    assert subscriber.enabled
    assert subscriber.failing_since is not None


async def test_timeout_counts_as_a_failed_attempt(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A receiver slower than the timeout gets a failed attempt (no status), then the retry succeeds."""

    async def slow_once(_request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            await asyncio.sleep(3)
        return web.json_response({"ok": True})

    async with receiving(slow_once) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database, delivery_timeout=0.3), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    assert (done.status, done.attempts) == ("succeeded", 2)
    first, _ = await attempts_of(db, done.id)
    assert (first.status_code, first.error) == (0, "timed out after 0.3s")
    assert 250 <= first.duration_ms < 1500


@pytest.mark.parametrize("location", ["/moved", "http://169.254.169.254/latest/meta-data/"])
async def test_redirects_are_not_followed(  # noqa: PLR0917  (fixtures)
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    location: str,
) -> None:
    """A 3xx is a failure that names the Location; nothing is sent there (here or to a metadata address)."""

    async def redirect(_request: web.Request, _n: int) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": location})

    async with receiving(redirect) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url + "/hook")
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database, retry_schedule=()), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert (done.status, done.last_status_code) == ("failed", 307)
    assert done.last_error == f"redirect to {location} not followed"


async def test_410_disables_the_subscriber_and_fails_its_queue(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """410 Gone: the subscriber is disabled (``gone``), its pending deliveries fail, nothing more is sent."""

    async def gone(_request: web.Request, _n: int) -> web.StreamResponse:
        return web.Response(status=410)

    async with receiving(gone) as receiver:
        sid, _ = await add_subscriber(db, vault, tenant.workspace_id, receiver.url, max_in_flight=1)
        await queue_events(db, tenant.workspace_id, count=3)
        async with running(fast(tmp_path, database), vault):
            rows = await wait_for_deliveries(db, all_settled)
        assert await queue_events(db, tenant.workspace_id) == []  # disabled: nothing queued any more
    assert len(receiver.requests) == 1
    assert sorted((d.status, d.attempts, d.last_error) for d in rows) == [
        ("failed", 0, "subscriber disabled (gone)"),
        ("failed", 0, "subscriber disabled (gone)"),
        ("failed", 1, ""),
    ]
    subscriber = await subscriber_row(db, sid)
    assert (subscriber.enabled, subscriber.disabled_reason) == (False, "gone")


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(  # noqa: PLR0917  (fixtures)
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    status: int,
) -> None:
    """429/503 with Retry-After: the next attempt waits that long, not the schedule's shorter delay."""

    async def busy_once(_request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            return web.Response(status=status, headers={"Retry-After": "1"})
        return web.json_response({"ok": True})

    async with receiving(busy_once) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database, retry_schedule=(0.05,)), vault):
            [done] = await wait_for_deliveries(db, all_settled)
    first, second = receiver.requests
    assert second.at - first.at >= 0.95
    assert (done.status, done.attempts) == ("succeeded", 2)


async def test_five_days_of_failure_disables_the_subscriber(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """Five days of failure, no success, disable the subscriber (``failing``); a success resets the clock."""
    start = datetime.now(UTC) + timedelta(seconds=1)  # events queued from now on are due at start
    now = [start - timedelta(days=1)]
    statuses = iter([500, 200, 500, 500, 500])

    async def scripted(_request: web.Request, _n: int) -> web.StreamResponse:
        return web.Response(status=next(statuses))

    settings = fast(tmp_path, database, retry_schedule=(0.01,) * 10)
    async with receiving(scripted) as receiver:
        sid, _ = await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        async with running(settings, vault, clock=lambda: now[0]) as worker:

            async def attempt_at(moment: datetime, count: int) -> None:
                now[0] = moment
                worker.wake()
                await until(lambda: len(receiver.requests) >= count)
                await asyncio.sleep(0.1)  # the outcome is recorded

            await queue_events(db, tenant.workspace_id)
            await attempt_at(start, 1)  # 500: failing since start
            assert (await subscriber_row(db, sid)).failing_since == start
            await attempt_at(start + timedelta(days=1), 2)  # 200: the streak ends
            assert (await subscriber_row(db, sid)).failing_since is None
            await queue_events(db, tenant.workspace_id)
            await attempt_at(start + timedelta(days=2), 3)  # 500: failing since day 2
            await attempt_at(start + timedelta(days=6), 4)  # 4 days of failure: still enabled
            assert (await subscriber_row(db, sid)).enabled
            await attempt_at(start + timedelta(days=7, seconds=1), 5)  # 5 days: disabled
    subscriber = await subscriber_row(db, sid)
    assert (subscriber.enabled, subscriber.disabled_reason) == (False, "failing")
    rows = await wait_for_deliveries(db, all_settled)
    assert [d.status for d in rows] == ["succeeded", "failed"]


async def test_rotation_signs_with_both_secrets_for_24_hours(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """After rotate-secret, two ``v1,`` signatures (old and new secret) until the old one expires."""
    ahead = [timedelta(0)]
    async with receiving() as receiver:
        sid, old = await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        async with db() as session, session.begin():
            subscriber = await session.get(Subscriber, sid)
            assert subscriber is not None
            new = await rotate_secret(session, vault, subscriber)
        async with running(fast(tmp_path, database), vault, clock=lambda: datetime.now(UTC) + ahead[0]):
            await queue_events(db, tenant.workspace_id)
            await wait_for_deliveries(db, all_settled)
            ahead[0] = timedelta(hours=24, seconds=1)
            await queue_events(db, tenant.workspace_id)
            await wait_for_deliveries(db, lambda rows: len(rows) == 2 and all_settled(rows))
    during, after = receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(during.body, during.headers)
    assert Webhook(new).verify(during.body, during.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(during.body, during.headers)
    [only] = after.headers["webhook-signature"].split(" ")
    key = base64.b64decode(new.removeprefix("whsec_"))
    signed = f"{after.headers['webhook-id']}.{after.headers['webhook-timestamp']}.".encode() + after.body
    assert only == "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_per_subscriber_concurrency_cap(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A subscriber never has more callbacks in flight than its max_in_flight, however many are due."""

    async def slow(_request: web.Request, _n: int) -> web.StreamResponse:
        await asyncio.sleep(0.1)
        return web.json_response({"ok": True})

    async with receiving(slow) as capped, receiving(slow) as roomy:
        await add_subscriber(db, vault, tenant.workspace_id, capped.url, max_in_flight=2)
        await add_subscriber(db, vault, tenant.workspace_id, roomy.url, max_in_flight=6)
        await queue_events(db, tenant.workspace_id, count=12)
        async with running(fast(tmp_path, database), vault, concurrency=16):
            rows = await wait_for_deliveries(db, all_settled)
    assert {d.status for d in rows} == {"succeeded"}
    assert (len(capped.requests), capped.max_in_flight) == (12, 2)
    assert (len(roomy.requests), roomy.max_in_flight) == (12, 6)


async def test_stop_lets_attempts_in_flight_finish(
    tmp_path: Path,
    database: Database,
    tenant: Tenant,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
) -> None:
    """A graceful stop waits for the attempt under way and records it: nothing is left leased."""

    async def slow(_request: web.Request, _n: int) -> web.StreamResponse:
        await asyncio.sleep(0.5)
        return web.json_response({"ok": True})

    async with receiving(slow) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        await queue_events(db, tenant.workspace_id)
        async with running(fast(tmp_path, database), vault):
            await until(lambda: bool(receiver.requests))
        async with db() as session:
            [row] = (await session.exec(select(Delivery))).all()
    assert (row.status, row.attempts, row.lease_expires_at) == ("succeeded", 1, None)


async def test_a_lease_that_runs_out_behind_newer_claims_is_picked_up(
    tmp_path: Path, database: Database, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """An older delivery held by a dead worker is sent once its lease ends, though newer ones went first."""
    async with receiving() as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        older, newer = await queue_events(db, tenant.workspace_id, count=2)
        async with db() as session, session.begin():
            await session.exec(  # type: ignore[call-overload]
                update(Delivery)
                .where(col(Delivery.id) == older.id)
                .values(
                    attempts=1, lease_owner="ghost", lease_expires_at=datetime.now(UTC) + timedelta(seconds=1)
                )
            )
        async with running(fast(tmp_path, database), vault) as worker:
            await until(lambda: len(receiver.requests) == 1)
            assert receiver.requests[0].headers["webhook-id"] == newer.message_id
            rows = await wait_for_deliveries(db, lambda found: all(d.status == "succeeded" for d in found))
    assert [r.headers["webhook-id"] for r in receiver.requests] == [newer.message_id, older.message_id]
    assert {(d.id, d.attempts, d.lease_owner) for d in rows} == {
        (older.id, 2, worker.name),
        (newer.id, 1, worker.name),
    }
