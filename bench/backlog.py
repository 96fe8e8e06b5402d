"""A backlog of due deliveries for the delivery benchmark, queued by the gateway's own outbox.

A few hundred flat events (the gateway's own encoding of its ``subscription.updated`` sample) are
queued with ``gateway.outbox.enqueue`` for every subscriber; those deliveries are then cloned in bulk
(new IDs, new ``webhook-id``s) up to the size wanted, which takes a second where queueing them one
by one would take most of a minute. Between runs every delivery is made due again.
"""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from msgspec.structs import replace
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.deployment import Deployment, run_async
from gateway.db import make_session_factory
from gateway.flat_events import encode
from gateway.ids import new_id
from gateway.models import Delivery, DeliveryAttempt, Event, utcnow
from gateway.outbox import enqueue
from gateway.sample_events import sample_event

BATCH = 5000
DELIVERIES: Any = Delivery.__table__  # type: ignore[attr-defined]
ATTEMPTS: Any = DeliveryAttempt.__table__  # type: ignore[attr-defined]


def seed(deployment: Deployment, count: int) -> None:
    """``count`` flat events per workspace, queued for its subscribers."""

    async def work(engine: AsyncEngine) -> None:
        async with make_session_factory(engine)() as session, session.begin():
            for tenant in deployment.tenants:
                events = []
                for _ in range(count):
                    event_id = new_id("evt_gw")
                    flat = sample_event(
                        "subscription.updated", workspace_id=tenant.workspace_id, event_id=event_id
                    )
                    flat_body = encode(replace(flat, is_test=False))
                    events.append(
                        Event(
                            id=event_id,
                            workspace_id=tenant.workspace_id,
                            event_type=flat.event_type,
                            customer_id=flat.customer_id,
                            subscription_id=flat.subscription_id,
                            body=flat_body,
                        )
                    )
                session.add_all(events)
                await enqueue(session, workspace_id=tenant.workspace_id, events=events)

    run_async(work, deployment.settings)


def grow(deployment: Deployment, size: int) -> int:
    """Clone the stored deliveries until there are ``size``; the count."""

    async def work(engine: AsyncEngine) -> int:
        async with engine.begin() as conn:
            models = [dict(row._mapping) for row in await conn.execute(select(DELIVERIES))]  # noqa: SLF001
            if not models:
                msg = "no delivery to clone: did ingest queue any?"
                raise RuntimeError(msg)
            count = len(models)
            while count < size:
                rows = []
                for model in models[: min(BATCH, size - count)]:
                    clone_id = new_id("dlv")
                    rows.append(
                        {**model, "id": clone_id, "message_id": f"{model['message_id']}_{clone_id[-8:]}"}
                    )
                await conn.execute(insert(DELIVERIES), rows)
                count += len(rows)
            return count

    return run_async(work, deployment.settings)


def reset(deployment: Deployment) -> None:
    """Make every delivery due again, as if never attempted."""

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(delete(ATTEMPTS))
            await conn.execute(
                update(DELIVERIES).values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow() - timedelta(seconds=1),
                    lease_expires_at=None,
                    lease_owner="",
                    last_status_code=0,
                    last_error="",
                    succeeded_at=None,
                )
            )

    run_async(work, deployment.settings)


def park(deployment: Deployment) -> None:
    """Make every delivery succeeded, so workers started now find nothing due until ``reset``."""

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await conn.execute(update(DELIVERIES).values(status="succeeded", next_attempt_at=None))

    run_async(work, deployment.settings)


def outcome(deployment: Deployment) -> dict[str, int]:
    """Deliveries by status."""

    async def work(engine: AsyncEngine) -> dict[str, int]:
        async with engine.connect() as conn:
            query = select(DELIVERIES.c.status, func.count()).group_by(DELIVERIES.c.status)
            return dict((await conn.execute(query)).tuples().all())

    return run_async(work, deployment.settings)


def export(deployment: Deployment, path: Path) -> Path:
    """Every delivery as ``[webhook-id, body]`` JSON lines, for the sender baseline."""

    async def work(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            rows = await conn.execute(select(DELIVERIES.c.message_id, DELIVERIES.c.body))
            with path.open("w") as out:
                out.writelines(json.dumps([message_id, body]) + "\n" for message_id, body in rows)

    run_async(work, deployment.settings)
    return path
