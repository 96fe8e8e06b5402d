"""A backlog of due deliveries for the delivery benchmark, made from real ones and reset between runs.

A few hundred events go through the gateway's ingest first, so the bodies are the gateway's own flat
events; those deliveries are then cloned in bulk (new IDs, new ``webhook-id``s) up to the size
wanted, which takes a second where ingesting them all would take most of a minute.
"""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.deployment import Deployment, run_async
from gateway.ids import new_id
from gateway.models import Delivery, DeliveryAttempt, utcnow

BATCH = 5000
DELIVERIES: Any = Delivery.__table__  # type: ignore[attr-defined]
ATTEMPTS: Any = DeliveryAttempt.__table__  # type: ignore[attr-defined]


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
