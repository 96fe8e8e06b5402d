"""Deliveries for the ingest's batch: which subscriber gets which event, as rows to write with it.

The rules are ``gateway.outbox.enqueue``'s: a ``flat`` subscriber gets each flat event its
``event_types`` match (``"*"`` for all); a ``stripe`` subscriber gets the original Stripe event once
when any of them matches; disabled subscribers get nothing. ``enqueue`` builds ORM objects in an async
session; the ingest writes plain rows in bulk with the rest of its batch (a SQLModel object costs
more to build than the rest of an event's work), so it uses this twin.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gateway.ids import new_id
from gateway.lookups import table_of
from gateway.models import Subscriber

Row = dict[str, Any]
#: Enabled subscribers by workspace: rows of (``id``, ``workspace_id``, ``event_types``, ``format``).
Subscribers = dict[str, list[Any]]


_table = table_of(Subscriber)
#: Built once: building the query anew for each batch cost more than running it.
_ENABLED_SUBSCRIBERS = select(
    _table.c.id, _table.c.workspace_id, _table.c.event_types, _table.c.format
).where(_table.c.workspace_id.in_(bindparam("workspace_ids", expanding=True)), _table.c.enabled)


def find_subscribers(connection: Connection, workspace_ids: Iterable[str]) -> Subscribers:
    """The enabled subscribers of each of ``workspace_ids`` (read in the batch's transaction)."""
    found: Subscribers = {}
    for subscriber in connection.execute(_ENABLED_SUBSCRIBERS, {"workspace_ids": sorted(set(workspace_ids))}):
        found.setdefault(subscriber.workspace_id, []).append(subscriber)
    return found


def fan_out(
    subscribers: Subscribers, events: Sequence[tuple[Row, Sequence[Row]]], now: datetime
) -> list[Row]:
    """The deliveries to queue for each (stored Stripe event row, its flat event rows)."""
    deliveries: list[Row] = []
    for stripe_row, flat_rows in events:
        for subscriber in subscribers.get(stripe_row["workspace_id"], ()):
            wanted = subscriber.event_types
            matching = [flat for flat in flat_rows if "*" in wanted or flat["event_type"] in wanted]
            if subscriber.format == "stripe":
                deliveries.extend(_delivery(subscriber.id, stripe_row, now) for _ in matching[:1])
            else:
                deliveries.extend(_delivery(subscriber.id, stripe_row, now, flat=flat) for flat in matching)
    return deliveries


def _delivery(subscriber_id: str, stripe_row: Row, now: datetime, *, flat: Row | None = None) -> Row:
    """A delivery of a flat event, or (``flat`` None) of the original Stripe event.

    The columns a delivery starts with (``pending``, no attempt yet) keep the model's defaults.
    """
    return {
        "id": new_id("dlv"),
        "workspace_id": stripe_row["workspace_id"],
        "subscriber_id": subscriber_id,
        "event_id": flat["id"] if flat else "",
        "stripe_event_id": stripe_row["stripe_event_id"],
        "event_type": flat["event_type"] if flat else stripe_row["type"],
        # ``webhook-id``: the same on every attempt, so receivers can de-duplicate.
        "message_id": flat["id"] if flat else stripe_row["stripe_event_id"],
        "body": flat["body"] if flat else stripe_row["payload"],
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
