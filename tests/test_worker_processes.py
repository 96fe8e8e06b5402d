"""``gateway worker`` processes: a killed worker's delivery is finished by another; two share a backlog."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db import make_engine, make_session_factory
from gateway.ids import new_id
from gateway.models import Delivery, DeliveryAttempt, SubscriberLease
from gateway.settings import Settings
from gateway.vault import Vault
from tests.processes import gateway_env, stopped, worker_process
from tests.receivers import add_subscriber, queue_events, receiving, running, until, wait_for_deliveries
from tests.support import (
    Database,
    Tenant,
    create_schema,
    drop_schema,
    fresh_schema,
    make_settings,
    make_tenant,
)

pytestmark = pytest.mark.anyio


async def test_a_killed_workers_delivery_is_completed_by_another(
    settings: Settings, tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault, tmp_path: Path
) -> None:
    """SIGKILL mid-attempt: when its lease runs out another worker sends it again, same id and body."""

    async def hang_first(_request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            await asyncio.sleep(30)
        return web.json_response({"ok": True})

    short = {
        "GATEWAY_DELIVERY_TIMEOUT": "1s",
        "GATEWAY_DELIVERY_LEASE": "2s",
        "GATEWAY_RETRY_SCHEDULE": "0.1s",
    }
    async with receiving(hang_first) as receiver:
        await add_subscriber(db, vault, tenant.workspace_id, receiver.url)
        [queued] = await queue_events(db, tenant.workspace_id)
        log = tmp_path / "killed.log"
        with worker_process(gateway_env(settings, **short), log) as process:
            await until(lambda: len(receiver.requests) == 1, within=60)  # a loaded machine starts it slowly
            process.kill()
            process.wait(timeout=10)
        assert '"message": "delivery worker started"' in log.read_text()  # JSON lines, as serve writes
        async with db() as session:
            orphan = await session.get(Delivery, queued.id)
        assert orphan is not None
        assert (orphan.status, orphan.attempts) == (
            "pending",
            1,
        )  # leased to the dead worker, nothing recorded
        survivor = settings.model_copy(update={"delivery_timeout": 1.0, "delivery_lease": 2.0})
        async with running(survivor, vault) as worker:
            [done] = await wait_for_deliveries(db, lambda rows: rows[0].status == "succeeded", within=15)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == queued.message_id
    assert first.body == second.body
    assert (done.attempts, done.lease_owner) == (2, worker.name)
    async with db() as session:
        attempts = (await session.exec(select(DeliveryAttempt))).all()
    assert [(a.attempt, a.status_code) for a in attempts] == [(2, 200)]  # the killed attempt left no record


@asynccontextmanager
async def postgres_database(postgres_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    schema = await fresh_schema(postgres_url)
    try:
        settings = make_settings(tmp_path, Database(url=postgres_url, schema=schema))
        await create_schema(settings)
        yield settings
    finally:
        await drop_schema(postgres_url, schema)


@pytest.mark.postgres
async def test_two_workers_share_a_backlog_without_loss_or_duplicates(
    postgres_url: str, tmp_path: Path
) -> None:
    """2,000 deliveries, two ``gateway worker`` processes: each sent exactly once, caps held across both."""
    cap, subscribers, total = 10, 5, 2000  # 50 slots: more than one worker holds (2 x 8)
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def slowish(request: web.Request, _n: int) -> web.StreamResponse:
        in_flight[request.path] += 1
        peak[request.path] = max(peak[request.path], in_flight[request.path])
        await asyncio.sleep(0.002)
        in_flight[request.path] -= 1
        return web.json_response({"ok": True})

    async with postgres_database(postgres_url, tmp_path) as settings, receiving(slowish) as receiver:
        engine = make_engine(settings)
        db = make_session_factory(engine)
        vault = Vault(settings.secret_keys())
        tenant = await make_tenant(db, vault, settings, "acme")
        ids = [
            (await add_subscriber(db, vault, tenant.workspace_id, f"{receiver.url}/s{i}", max_in_flight=cap))[
                0
            ]
            for i in range(subscribers)
        ]
        now = datetime.now(UTC)
        rows = [_pending(tenant.workspace_id, ids[i % subscribers], now) for i in range(total)]
        async with engine.begin() as conn:
            await conn.execute(insert(Delivery.__table__), rows)  # type: ignore[attr-defined]
        env = gateway_env(settings, GATEWAY_RETRY_SCHEDULE="0.1s,0.1s")
        with (
            worker_process(env, tmp_path / "a.log", concurrency=8) as a,
            worker_process(env, tmp_path / "b.log", concurrency=8) as b,
        ):
            done = await wait_for_deliveries(
                db, lambda found: all(d.status == "succeeded" for d in found), within=120
            )
            assert (await stopped(a), await stopped(b)) == (0, 0)
        async with db() as session:
            leases = (await session.exec(select(SubscriberLease))).all()
        await engine.dispose()
    sent = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(done) == total
    assert sent == Counter({row["message_id"]: 1 for row in rows})
    assert {d.attempts for d in done} == {1}
    by_worker = Counter(d.lease_owner for d in done)
    assert len(by_worker) == 2
    assert min(by_worker.values()) > total // 10
    assert max(peak.values()) <= cap
    assert leases == []  # both stopped cleanly and said so


def _pending(workspace_id: str, subscriber_id: str, now: datetime) -> dict[str, object]:
    message_id = new_id("evt_gw")
    return {
        "id": new_id("dlv"),
        "workspace_id": workspace_id,
        "subscriber_id": subscriber_id,
        "event_id": message_id,
        "stripe_event_id": "",
        "event_type": "subscription.updated",
        "message_id": message_id,
        "body": f'{{"event_id":"{message_id}"}}',
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": "",
        "last_status_code": 0,
        "last_error": "",
        "created_at": now,
        "updated_at": now,
    }
