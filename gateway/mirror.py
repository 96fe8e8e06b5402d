"""The subscription mirror: Stripe's subscription objects, of any API version, as one flat state.

Stripe moved the billing period from the subscription to its items (API ``2025-03-31.basil``) and
once called prices ``plan``s; a workspace's endpoint may be pinned to any version, so both shapes are
read. Events arrive out of order: a state is applied only when it is at least as new as the stored one
(:func:`order_key`), so an older event never rolls the mirror back.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Subscription
from gateway.stripe_objects import dict_of, id_of, int_of, str_of
from gateway.timestamps import from_unix, unix

#: A subscription's statuses by how far along its life they are: within one second, further wins.
_STATUS_RANK = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 2,
    "unpaid": 2,
    "paused": 2,
    "incomplete_expired": 3,
    "canceled": 3,
}
DELETED = "customer.subscription.deleted"
CREATED = "customer.subscription.created"


@dataclass(slots=True)
class MirrorState:
    """One subscription as the mirror holds it (moments in Unix seconds, 0 for none)."""

    subscription_id: str
    customer_id: str
    status: str
    items: list[dict[str, Any]] = field(default_factory=list)
    price_id: str = ""
    price_lookup_key: str = ""
    product_id: str = ""
    plan_interval: str = ""
    quantity: int = 0
    preset: str = ""
    cancel_at_period_end: bool = False
    current_period_end: int = 0
    canceled_at: int = 0
    trial_end: int = 0
    version: int = 0
    #: ``created``, ID and type of the newest Stripe event applied.
    stripe_created: int = 0
    stripe_event_id: str = ""
    stripe_event_type: str = ""


def order_key(created: int, event_type: str, status: str) -> tuple[int, int, int]:
    """How new a subscription state is.

    The event's ``created`` first; within one second, the event type (``created`` first, ``deleted``
    last), then the status's place in a subscription's life.
    """
    type_rank = 0 if event_type == CREATED else 2 if event_type == DELETED else 1
    return created, type_rank, _STATUS_RANK.get(status, 1)


def is_newer(state: MirrorState, stored: MirrorState | None) -> bool:
    """Whether ``state`` may replace ``stored`` (an exact tie goes to the later arrival)."""
    if stored is None:
        return True
    new = order_key(state.stripe_created, state.stripe_event_type, state.status)
    old = order_key(stored.stripe_created, stored.stripe_event_type, stored.status)
    return new >= old


def read_subscription(obj: dict[str, Any], *, event_type: str, event_id: str, created: int) -> MirrorState:
    """The mirror state a Stripe subscription object describes (either API shape)."""
    items = [_read_item(item, obj) for item in _raw_items(obj)]
    first = items[0] if items else {}
    status = "canceled" if event_type == DELETED else str_of(obj.get("status"))
    ended = status in {"canceled", "incomplete_expired"}
    canceled_at = int_of(obj.get("canceled_at")) or int_of(obj.get("ended_at"))
    if event_type == DELETED and not canceled_at:
        canceled_at = created
    return MirrorState(
        subscription_id=str_of(obj.get("id")),
        customer_id=id_of(obj.get("customer")),
        status=status,
        items=items,
        price_id=first.get("price_id", ""),
        price_lookup_key=first.get("price_lookup_key", ""),
        product_id=first.get("product_id", ""),
        plan_interval=first.get("plan_interval", ""),
        quantity=first.get("quantity", 0),
        # Flexible billing mode cancels through ``cancel_at`` rather than ``cancel_at_period_end``.
        cancel_at_period_end=not ended
        and (bool(obj.get("cancel_at_period_end")) or bool(obj.get("cancel_at"))),
        current_period_end=first.get("current_period_end", 0) or int_of(obj.get("current_period_end")),
        canceled_at=canceled_at,
        trial_end=int_of(obj.get("trial_end")),
        stripe_created=created,
        stripe_event_id=event_id,
        stripe_event_type=event_type,
    )


def advance(state: MirrorState, stored: MirrorState | None) -> MirrorState:
    """``state`` as the next version after ``stored`` (its preset kept until someone picks anew)."""
    if stored is None:
        return replace(state, version=1)
    return replace(state, version=stored.version + 1, preset=state.preset or stored.preset)


def _raw_items(obj: dict[str, Any]) -> list[dict[str, Any]]:
    data = dict_of(obj.get("items")).get("data")
    if isinstance(data, list) and data:
        return [item for item in data if isinstance(item, dict)]
    if dict_of(obj.get("plan")):  # before multi-item subscriptions (API 2018-02-05)
        return [{"plan": obj["plan"], "quantity": obj.get("quantity")}]
    return []


def _read_item(item: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    # Prices arrive as ``plan`` from API versions older than 2018-02-05 (and alongside ``price`` since).
    price = dict_of(item.get("price")) or dict_of(item.get("plan"))
    return {
        "price_id": str_of(price.get("id")),
        "price_lookup_key": str_of(price.get("lookup_key")),
        "product_id": id_of(price.get("product")),
        "plan_interval": str_of(dict_of(price.get("recurring")).get("interval"))
        or str_of(price.get("interval")),
        "quantity": int_of(item.get("quantity")),
        # Since API 2025-03-31.basil the period lives on the item; before, on the subscription.
        "current_period_end": int_of(item.get("current_period_end")) or int_of(obj.get("current_period_end")),
    }


def state_of(row: Mapping[Any, Any]) -> MirrorState:
    """The in-memory state of a stored mirror row (its columns by name)."""
    return MirrorState(
        subscription_id=row["subscription_id"],
        customer_id=row["customer_id"],
        status=row["status"],
        items=list(row["items"]),
        price_id=row["price_id"],
        price_lookup_key=row["price_lookup_key"],
        product_id=row["product_id"],
        plan_interval=row["plan_interval"],
        quantity=row["quantity"],
        preset=row["preset"],
        cancel_at_period_end=row["cancel_at_period_end"],
        current_period_end=unix(row["current_period_end"]),
        canceled_at=unix(row["canceled_at"]),
        trial_end=unix(row["trial_end"]),
        version=row["version"],
        stripe_created=row["stripe_created"],
        stripe_event_id=row["stripe_event_id"],
        stripe_event_type=row["stripe_event_type"],
    )


def row_values(state: MirrorState, now: datetime) -> dict[str, Any]:
    """The columns to store for ``state``."""
    return {
        "subscription_id": state.subscription_id,
        "customer_id": state.customer_id,
        "status": state.status,
        "items": state.items,
        "price_id": state.price_id,
        "price_lookup_key": state.price_lookup_key,
        "product_id": state.product_id,
        "plan_interval": state.plan_interval,
        "quantity": state.quantity,
        "preset": state.preset,
        "cancel_at_period_end": state.cancel_at_period_end,
        "current_period_end": from_unix(state.current_period_end),
        "canceled_at": from_unix(state.canceled_at),
        "trial_end": from_unix(state.trial_end),
        "version": state.version,
        "stripe_created": state.stripe_created,
        "stripe_event_id": state.stripe_event_id,
        "stripe_event_type": state.stripe_event_type,
        "updated_at": now,
    }


async def list_subscriptions(
    session: AsyncSession, *, workspace_id: str, customer_id: str, after: int = 0, limit: int = 100
) -> list[Subscription]:
    """A customer's mirrored subscriptions, oldest first, after the row ``after``."""
    query = select(Subscription).where(
        Subscription.workspace_id == workspace_id,
        Subscription.customer_id == customer_id,
        col(Subscription.id) > after,
    )
    return list((await session.exec(query.order_by(col(Subscription.id)).limit(limit))).all())
