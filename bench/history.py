"""Stored history for the scale runs: past Stripe events with their mirrors, flat events and deliveries.

Bulk-inserted with SQLAlchemy Core into the gateway's own tables, as ingest and the worker would
have left them: pushing 100,000 events through HTTP would take most of the bench's time budget. The
rows go in on a plain synchronous SQLite connection (the scale runs are SQLite), in one transaction:
through aiosqlite, 100,000 events took 110 s on a busy machine.
"""

import json
import time
from typing import Any

from sqlalchemy import insert, select

from bench import events
from bench.deployment import Deployment
from gateway.db import make_sqlite_writer_engine
from gateway.ids import new_id
from gateway.models import Delivery, Event, StripeEvent, Subscriber, Subscription

BATCH = 5000


def preload(deployment: Deployment, stored_events: int) -> None:
    """``stored_events`` past Stripe events shared among the workspaces, each with its subscription,
    flat event and one succeeded delivery."""

    per_workspace = max(1, stored_events // len(deployment.tenants))

    engine = make_sqlite_writer_engine(deployment.settings)
    try:
        with engine.begin() as conn:
            table: Any = Subscriber.__table__  # type: ignore[attr-defined]
            subscribers = dict(conn.execute(select(table.c.workspace_id, table.c.id)).tuples().all())
            for tenant in deployment.tenants:
                subscriber = subscribers.get(tenant.workspace_id)
                for start in range(0, per_workspace, BATCH):
                    stop = min(per_workspace, start + BATCH)
                    for model, values in _history_rows(tenant.workspace_id, subscriber, start, stop).items():
                        if values:
                            conn.execute(insert(model.__table__), values)
        # Copied into the database now, not by the gateway's next commit in a measured run: history
        # that built up over time would have been checkpointed as it came.
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
    finally:
        engine.dispose()


def _history_rows(
    workspace_id: str, subscriber_id: str | None, start: int, stop: int
) -> dict[Any, list[dict[str, Any]]]:
    past = int(time.time()) - 86400
    rows: dict[Any, list[dict[str, Any]]] = {StripeEvent: [], Event: [], Subscription: [], Delivery: []}
    for number in range(start, stop):
        serial = f"hist{workspace_id[-6:]}n{number}"
        customer = f"cus_hist{number % 1000}"
        payload = events.render(serial, customer, past + number).decode()
        event_id = new_id("evt_gw")
        rows[StripeEvent].append(
            {
                "workspace_id": workspace_id,
                "stripe_event_id": f"evt_{serial}",
                "type": "customer.subscription.updated",
                "api_version": events.API_VERSION,
                "stripe_created": past + number,
                "object_id": f"sub_{serial}",
                "payload": payload,
            }
        )
        rows[Subscription].append(
            {
                "workspace_id": workspace_id,
                "subscription_id": f"sub_{serial}",
                "customer_id": customer,
                "status": "active",
                "price_id": "price_bench_monthly",
                "price_lookup_key": events.LOOKUP_KEY,
                "product_id": "prod_bench",
                "plan_interval": "month",
                "quantity": 1,
                "version": 1,
                "stripe_created": past + number,
                "stripe_event_id": f"evt_{serial}",
            }
        )
        body = json.dumps(
            {
                "event_id": event_id,
                "event_type": "subscription.updated",
                "stripe_event_id": f"evt_{serial}",
                "customer_id": customer,
            }
        )
        rows[Event].append(
            {
                "id": event_id,
                "workspace_id": workspace_id,
                "event_type": "subscription.updated",
                "stripe_event_id": f"evt_{serial}",
                "customer_id": customer,
                "subscription_id": f"sub_{serial}",
                "body": body,
            }
        )
        if subscriber_id:
            rows[Delivery].append(
                {
                    "id": new_id("dlv"),
                    "workspace_id": workspace_id,
                    "subscriber_id": subscriber_id,
                    "event_id": event_id,
                    "stripe_event_id": f"evt_{serial}",
                    "event_type": "subscription.updated",
                    "message_id": event_id,
                    "body": body,
                    "status": "succeeded",
                    "attempts": 1,
                    "next_attempt_at": None,
                }
            )
    return rows
