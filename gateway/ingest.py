"""Verified Stripe events into the database: one transaction per batch, all or nothing.

For each new event, in arrival order: the event is recorded once per (workspace, Stripe event ID), the
subscription mirror and the customer facts move forward (never back), the flat events are written and
one delivery per matching subscriber is queued. ``apply_batch`` runs :data:`STEPS` on one connection,
inside one transaction that the caller commits before answering anybody: the reads, the work in
memory, then every row written at once (one statement on PostgreSQL, see ``gateway.bulk``).

Rows are plain values written with SQLAlchemy Core in bulk: building a SQLModel object costs tens of
microseconds, more than the rest of an event's work.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, Table

from gateway import customers, mirror
from gateway.bulk import PK, TableRows, write_rows
from gateway.customers import CustomerState, apply_customer, fill_customer
from gateway.event_facts import (
    CONFIGURATION_UPDATED,
    CUSTOMER_UPDATED,
    SUBSCRIPTION_EVENTS,
    contact_of,
    customer_of,
    payment_of,
    subscription_of,
)
from gateway.fanout import Subscribers, fan_out, find_subscribers
from gateway.flat_events import FLAT_TYPES, PaymentFacts, build_flat_event, encode
from gateway.ids import new_id
from gateway.lookups import Key, find_pairs, table_of
from gateway.mirror import MirrorState, advance, is_newer, read_subscription
from gateway.models import Customer, Delivery, Event, StripeEvent, Subscription, utcnow
from gateway.presets import stale_update
from gateway.stripe_events import VerifiedEvent
from gateway.stripe_objects import str_of

Outcome = Literal["applied", "stale", "ignored", "duplicate"]
Row = dict[str, Any]


@dataclass
class Work:
    """One batch while its transaction is open."""

    items: Sequence[VerifiedEvent]
    now: datetime = field(default_factory=utcnow)
    #: The first copy of each event not stored before, in arrival order.
    new: list[VerifiedEvent] = field(default_factory=list)
    #: For each item: whether it is such a first copy.
    first: list[bool] = field(default_factory=list)
    outcomes: dict[Key, Outcome] = field(default_factory=dict)
    subscriptions: dict[Key, MirrorState] = field(default_factory=dict)
    customers: dict[Key, CustomerState] = field(default_factory=dict)
    #: Primary keys of the mirror and customer rows read (the others are new).
    row_ids: dict[tuple[str, Key], int] = field(default_factory=dict)
    changed: set[tuple[str, Key]] = field(default_factory=set)
    stripe_events: list[Row] = field(default_factory=list)
    flat_events: dict[Key, list[Row]] = field(default_factory=dict)
    #: ``billing_portal.configuration.updated``: (workspace, configuration) to mark stale.
    changed_configurations: dict[Key, Key] = field(default_factory=dict)
    subscribers: Subscribers = field(default_factory=dict)

    def results(self) -> list[Outcome]:
        """Each submitted item's outcome (a copy seen before, in this batch or earlier, is a duplicate)."""
        return [
            self.outcomes.get(_key(item), "duplicate") if first else "duplicate"
            for item, first in zip(self.items, self.first, strict=True)
        ]


def _key(event: VerifiedEvent) -> Key:
    return event.workspace_id, event.stripe_event_id


def _stripe_key(row: Row) -> Key:
    """``_key`` of a Stripe event row."""
    return row["workspace_id"], row["stripe_event_id"]


def skip_duplicates(connection: Connection, work: Work) -> None:
    """Keep only events neither stored before nor already earlier in this batch."""
    table = table_of(StripeEvent)
    keys = {_key(item) for item in work.items}
    seen: set[Key] = {
        (row[0], row[1]) for row in find_pairs(connection, table, "stripe_event_id", keys, rows=False)
    }
    for item in work.items:
        work.first.append(_key(item) not in seen)
        if work.first[-1]:
            seen.add(_key(item))
            work.new.append(item)


def load_state(connection: Connection, work: Work) -> None:
    """Read the mirror rows and customers the events touch, and their workspaces' subscribers.

    On PostgreSQL the rows are locked, in a fixed order.
    """
    subscription_keys = {(e.workspace_id, sid) for e in work.new if (sid := subscription_of(e))}
    for key, row in _read(connection, work, table_of(Subscription), "subscription_id", subscription_keys):
        work.subscriptions[key] = mirror.state_of(row)
    customer_keys = {(e.workspace_id, cid) for e in work.new if (cid := customer_of(e))}
    for key, row in _read(connection, work, table_of(Customer), "customer_id", customer_keys):
        work.customers[key] = customers.state_of(row)
    if work.new:
        work.subscribers = find_subscribers(connection, (event.workspace_id for event in work.new))


def _read(
    connection: Connection, work: Work, table: Table, id_column: str, keys: set[Key]
) -> Iterator[tuple[Key, RowMapping]]:
    if not keys:
        return
    for row in find_pairs(connection, table, id_column, keys, rows=True).mappings():
        key = (row["workspace_id"], row[id_column])
        work.row_ids[table.name, key] = row["id"]
        yield key, row


def apply_events(_connection: Connection, work: Work) -> None:
    """Move the mirror and customers forward and make each event's flat events (in memory)."""
    for event in work.new:
        outcome, flat = _apply_one(work, event)
        work.outcomes[_key(event)] = outcome
        work.stripe_events.append(
            {
                "workspace_id": event.workspace_id,
                "stripe_event_id": event.stripe_event_id,
                "type": event.type,
                "api_version": event.api_version,
                "livemode": event.livemode,
                "stripe_created": event.created,
                "object_id": str_of(event.object.get("id")),
                "payload": event.payload,
                "outcome": outcome,
                "received_at": work.now,
            }
        )
        if flat is not None:
            work.flat_events[_key(event)] = [flat]


def _apply_one(work: Work, event: VerifiedEvent) -> tuple[Outcome, Row | None]:
    """The outcome of one event and the flat event it makes (None: not forwarded)."""
    ws, obj = event.workspace_id, event.object
    subscription: MirrorState | None = None
    previous_status = ""
    payment: PaymentFacts | None = None
    outcome: Outcome = "applied"
    if event.type in SUBSCRIPTION_EVENTS:
        state = event.subscription or read_subscription(
            obj, event_type=event.type, event_id=event.stripe_event_id, created=event.created
        )
        if not state.subscription_id:
            return "ignored", None
        key = (ws, state.subscription_id)
        stored = work.subscriptions.get(key)
        if stored is None or is_newer(state, stored):
            subscription = work.subscriptions[key] = advance(state, stored)
            work.changed.add(("subscriptions", key))
            previous_status = stored.status if stored else str_of(event.previous_attributes.get("status"))
        else:  # a late event: recorded, never applied; receivers still hear of it, with the newest state
            subscription, previous_status, outcome = stored, stored.status, "stale"
        if isinstance(obj.get("customer"), dict):  # expanded by a re-fetch: current, authoritative
            customer_key = (ws, subscription.customer_id)
            _learn(work, ws, apply_customer(work.customers.get(customer_key), obj["customer"], event.created))
    elif event.type == CUSTOMER_UPDATED:
        learned = apply_customer(work.customers.get((ws, customer_of(event))), obj, event.created)
        outcome = "applied" if learned is not None else "stale"
        _learn(work, ws, learned)
    elif event.type in FLAT_TYPES:  # invoices and checkout: payment facts, the mirror as it stands
        payment = payment_of(event)
        customer_id = customer_of(event)
        _learn(
            work, ws, fill_customer(work.customers.get((ws, customer_id)), customer_id, **contact_of(event))
        )
        subscription = work.subscriptions.get((ws, subscription_of(event)))
        previous_status = subscription.status if subscription else ""
    elif event.type == CONFIGURATION_UPDATED:
        work.changed_configurations[_key(event)] = (ws, str_of(obj.get("id")))
        return "applied", None
    else:
        return "ignored", None
    customer_id = subscription.customer_id if subscription else customer_of(event)
    customer = work.customers.get((ws, customer_id)) or CustomerState(customer_id=customer_id)
    flat = build_flat_event(
        event_id=new_id("evt_gw"),
        event_type=FLAT_TYPES[event.type],
        workspace_id=ws,
        occurred_at=event.created,
        livemode=event.livemode,
        stripe_event_id=event.stripe_event_id,
        stripe_event_type=event.type,
        customer=customer,
        subscription=subscription or MirrorState(subscription_of(event), customer_id, ""),
        previous_status=previous_status,
        payment=payment,
    )
    return outcome, {
        "id": flat.event_id,
        "workspace_id": ws,
        "event_type": flat.event_type,
        "stripe_event_id": event.stripe_event_id,
        "customer_id": flat.customer_id,
        "subscription_id": flat.subscription_id,
        "is_test": False,
        "body": encode(flat),
        "created_at": work.now,
    }


def _learn(work: Work, workspace_id: str, state: CustomerState | None) -> None:
    if state is not None and state.customer_id:
        key = (workspace_id, state.customer_id)
        work.customers[key] = state
        work.changed.add(("customers", key))


def mark_configurations_stale(connection: Connection, work: Work) -> None:
    """Have the portal check changed configurations against their presets before their next use."""
    for key, (workspace_id, configuration_id) in work.changed_configurations.items():
        if not connection.execute(stale_update(workspace_id, configuration_id)).rowcount:
            work.outcomes[key] = "ignored"  # not one of the gateway's configurations
    for row in work.stripe_events:
        row["outcome"] = work.outcomes[_stripe_key(row)]


def write_batch(connection: Connection, work: Work) -> None:
    """Store everything the batch made, at once.

    That is the new Stripe events as received, the mirror and customer changes, the flat events and
    one delivery per matching subscriber (see ``gateway.fanout``).
    """
    new_subscriptions, changed_subscriptions = _changes(
        work, table_of(Subscription), work.subscriptions, mirror.row_values
    )
    new_customers, changed_customers = _changes(
        work, table_of(Customer), work.customers, customers.row_values
    )
    flat_events = [row for rows in work.flat_events.values() for row in rows]
    forwarded = [
        (row, flat) for row in work.stripe_events if (flat := work.flat_events.get(_stripe_key(row), []))
    ]
    write_rows(
        connection,
        inserts=[
            # In key order, like the mirror rows: two batches holding the same new events (Stripe
            # sending again) then meet on the first of them, where one waits, instead of deadlocking.
            (table_of(StripeEvent), sorted(work.stripe_events, key=_stripe_key)),
            new_subscriptions,
            new_customers,
            (table_of(Event), flat_events),
            (table_of(Delivery), fan_out(work.subscribers, forwarded, work.now)),
        ],
        updates=[changed_subscriptions, changed_customers],
    )


STEPS = (skip_duplicates, load_state, apply_events, mark_configurations_stale, write_batch)


def apply_batch(connection: Connection, items: Sequence[VerifiedEvent]) -> list[Outcome]:
    """Apply ``items`` in the connection's transaction; each item's outcome."""
    work = Work(items)
    for step in STEPS:
        step(connection, work)
    return work.results()


def _changes(work: Work, table: Table, states: dict[Key, Any], values: Any) -> tuple[TableRows, TableRows]:
    """The rows to insert (not read before) and to update for the changed ``states``."""
    changed = sorted(key for name, key in work.changed if name == table.name)
    ids = work.row_ids
    inserts = [
        {"workspace_id": key[0], **values(states[key], work.now)}
        for key in changed
        if (table.name, key) not in ids
    ]
    updates = [
        {PK: ids[table.name, key], **values(states[key], work.now)}
        for key in changed
        if (table.name, key) in ids
    ]
    return (table, inserts), (table, updates)
