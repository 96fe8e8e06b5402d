"""Console deliveries: the filterable log, one delivery's attempts, retry one, recover since a time."""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.models import Delivery, utcnow
from gateway.vault import Vault
from tests.console import Console, by_id, delivering_settings, hook_receiver, sign_in, text_of
from tests.receivers import add_subscriber, queue_events
from tests.support import Database, Tenant

pytestmark = pytest.mark.anyio


@pytest.fixture
async def console(client: AsyncTestClient[Litestar], tenant: Tenant) -> Console:
    return await sign_in(client, tenant.admin_key)


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr id="(dlv_\w+)">', html)


async def _settle(
    db: async_sessionmaker[AsyncSession], ids: list[str], status: str, **values: object
) -> None:
    async with db() as session, session.begin():
        await session.exec(
            update(Delivery).where(col(Delivery.id).in_(ids)).values(status=status, **values)  # type: ignore[call-overload]
        )


async def test_the_log_filters_by_status_subscriber_and_event(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """Newest first; each filter narrows the list to what it names, as the API's filters do."""
    first, _ = await add_subscriber(db, vault, tenant.workspace_id, "http://127.0.0.1:9/a", description="A")
    queued = await queue_events(db, tenant.workspace_id, count=3)
    second, _ = await add_subscriber(db, vault, tenant.workspace_id, "http://127.0.0.1:9/b", description="B")
    later = await queue_events(db, tenant.workspace_id, count=1)
    await _settle(db, [queued[0].id], "failed", last_error="gave up after 8 attempts")
    everything = await console.get("/console/deliveries")
    assert _ids(everything.text) == sorted([d.id for d in queued + later], reverse=True)
    failed = await console.get("/console/deliveries", status="failed")
    assert _ids(failed.text) == [queued[0].id]
    assert "gave up after 8 attempts" in text_of(failed.text)
    theirs = await console.get("/console/deliveries", subscriber=second)
    assert set(_ids(theirs.text)) == {d.id for d in later if d.subscriber_id == second}
    one = await console.get("/console/deliveries", event=queued[1].event_id)
    assert _ids(one.text) == [queued[1].id]
    assert first in everything.text
    assert 'option value="failed" selected' in failed.text


async def test_one_delivery_shows_the_body_and_every_attempt(
    delivering: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """A failed attempt's status and answer are there; retrying (receiver back up) succeeds, with the same
    webhook-id, and both attempts are listed."""
    statuses = iter([503, 200])
    with hook_receiver(lambda _event: next(statuses)) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url + "/hook")
        (delivery,) = await queue_events(db, tenant.workspace_id)
        console = await sign_in(delivering, tenant.admin_key)
        await _until_attempted(db, delivery.id, 1)
        page = await console.get(f"/console/deliveries/{delivery.id}")
        assert by_id(page.text, "delivery-status") == "retrying"
        assert "503" in text_of(page.text)
        assert '{"received": false}' in text_of(page.text)
        retried = await console.submit(f"/console/deliveries/{delivery.id}/retry")
    assert retried.url.path == f"/console/deliveries/{delivery.id}"
    assert retried.url.params["notice"] == "retried"
    assert by_id(retried.text, "delivery-status") == "succeeded"
    attempts = re.findall(r"<tr>\s*<td>(\d+)</td>", retried.text)
    assert attempts == ["1", "2"]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 2
    assert delivery.event_id in retried.text


async def _until_attempted(db: async_sessionmaker[AsyncSession], delivery_id: str, attempts: int) -> None:
    for _ in range(500):
        async with db() as session:
            row = await session.get(Delivery, delivery_id)
        if row is not None and row.attempts >= attempts and row.lease_expires_at is None:
            return
        await asyncio.sleep(0.02)
    msg = "the worker never attempted the delivery"
    raise AssertionError(msg)


async def test_recover_queues_failed_deliveries_since_a_time(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """Failed deliveries of the subscriber created since the time are pending again; older ones stay."""
    subscriber_id, _ = await add_subscriber(db, vault, tenant.workspace_id, "http://127.0.0.1:9/a")
    old, *recent = await queue_events(db, tenant.workspace_id, count=3)
    since = utcnow() - timedelta(hours=1)
    await _settle(db, [old.id], "failed", created_at=since - timedelta(hours=1))
    await _settle(db, [d.id for d in recent], "failed")
    answer = await console.submit(
        "/console/deliveries/recover",
        {"subscriber": subscriber_id, "since": since.strftime("%Y-%m-%dT%H:%M"), "until": ""},
    )
    assert "2 failed deliveries queued again." in text_of(answer.text)
    assert answer.url.params["status"] == "pending"
    assert set(_ids(answer.text)) == {d.id for d in recent}
    async with db() as session:
        statuses = {d.id: d.status for d in (await session.exec(select(Delivery))).all()}
    assert statuses == {old.id: "failed", **{d.id: "pending" for d in recent}}


async def test_recover_without_a_time_says_so(
    console: Console, db: async_sessionmaker[AsyncSession], vault: Vault, tenant: Tenant
) -> None:
    """The form comes back (400) with the reason and what was chosen."""
    subscriber_id, _ = await add_subscriber(db, vault, tenant.workspace_id, "http://127.0.0.1:9/a")
    answer = await console.submit("/console/deliveries/recover", {"subscriber": subscriber_id, "since": ""})
    assert answer.status_code == 400
    assert by_id(answer.text, "recover-error") == "Say since when (a date and time, UTC)."
    assert f'option value="{subscriber_id}" selected' in answer.text


@pytest.fixture
async def delivering(tmp_path: Path, database: Database) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A console whose gateway delivers in process."""
    async with AsyncTestClient(create_app(delivering_settings(tmp_path, database))) as client:
        yield client
