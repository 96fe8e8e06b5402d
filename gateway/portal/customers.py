"""Who the portal is for: a customer by ID, email or ``external_user_id``, and their subscription.

The subscription mirror (filled by the Stripe webhooks) answers when it knows the customer; Stripe
answers otherwise. Finding by email or external user ID costs a Stripe call; by ID, none.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import stripe
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import CustomerAmbiguous, CustomerNotFound, ValidationFailed
from gateway.models import Customer, Subscription
from gateway.stripe_client import stripe_errors

#: Best first: the subscription a customer "is on" when they have several.
CURRENT_STATUSES = ("active", "trialing", "past_due", "unpaid", "paused", "incomplete")


@dataclass(frozen=True)
class CurrentSubscription:
    """A customer's current subscription: what ``auto`` and deep links need of it."""

    id: str
    #: Mirror-style items: ``id`` (si_...), ``price_id``, ``price_lookup_key``, ``product_id``.
    items: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    cancel_at_period_end: bool = False


def _quoted(value: str) -> str:
    # Stripe's search query language: single quotes, backslash escapes.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _one(ids: list[str], what: str) -> str:
    if not ids:
        msg = f"No Stripe customer has {what}."
        raise CustomerNotFound(msg)
    if len(ids) > 1:
        msg = f"Several Stripe customers have {what} ({', '.join(ids[:3])}); send the customer ID instead."
        raise CustomerAmbiguous(msg)
    return ids[0]


def check_customer_fields(*, customer: str, email: str, external_user_id: str) -> None:
    """Exactly one way to name the customer; a customer ID that looks like one."""
    named = {"customer": customer, "email": email, "external_user_id": external_user_id}
    given = [name for name, value in named.items() if value]
    if len(given) != 1:
        msg = "Send exactly one of customer (cus_...), email or external_user_id."
        raise ValidationFailed(
            msg, fields=[{"field": name, "message": msg} for name in given or ["customer"]]
        )
    if customer and not customer.startswith("cus_"):
        msg = "customer is a Stripe customer ID (cus_...); to find a customer by email, send email."
        raise ValidationFailed(msg, field="customer")


async def find_customer(
    session: AsyncSession,
    client: stripe.StripeClient,
    workspace_id: str,
    *,
    email: str,
    external_user_id: str,
) -> str:
    """The one Stripe customer with this email (asked of Stripe) or external user ID (mirror, then Stripe)."""
    if email:
        with stripe_errors():
            page = await client.v1.customers.list_async(params={"email": email, "limit": 2})
        return _one([c.id for c in page.data], f"the email {email!r}")
    what = f"external_user_id {external_user_id!r}"
    query = select(Customer.customer_id).where(
        Customer.workspace_id == workspace_id, Customer.external_user_id == external_user_id
    )
    known = list((await session.exec(query.limit(2))).all())
    if known:
        return _one(known, what)
    with stripe_errors():
        found = await client.v1.customers.search_async(
            params={"query": f"metadata['external_user_id']:{_quoted(external_user_id)}", "limit": 2}
        )
    return _one([c.id for c in found.data], what)


def _rank(status: str) -> int:
    return CURRENT_STATUSES.index(status) if status in CURRENT_STATUSES else len(CURRENT_STATUSES)


async def _from_mirror(session: AsyncSession, workspace_id: str, customer_id: str) -> list[Subscription]:
    query = select(Subscription).where(
        Subscription.workspace_id == workspace_id, Subscription.customer_id == customer_id
    )
    return list((await session.exec(query.order_by(col(Subscription.stripe_created).desc()))).all())


async def mirrored_items(session: AsyncSession, workspace_id: str, customer_id: str) -> list[dict[str, Any]]:
    """The items of the customer's current subscription as the mirror knows it (none when unknown)."""
    mirrored = [
        s for s in await _from_mirror(session, workspace_id, customer_id) if s.status in CURRENT_STATUSES
    ]
    if not mirrored:
        return []
    best = min(mirrored, key=lambda s: _rank(s.status))
    return list(best.items) or [_item_of_row(best)]


def _item_of_row(row: Subscription) -> dict[str, Any]:
    return {"price_id": row.price_id, "price_lookup_key": row.price_lookup_key, "product_id": row.product_id}


def _stripe_items(subscription: Any) -> list[dict[str, Any]]:
    items = []
    for item in subscription["items"].data:
        price = item.price
        product = price.product if isinstance(price.product, str) else price.product.id
        items.append(
            {
                "id": item.id,
                "price_id": price.id,
                "price_lookup_key": price.lookup_key or "",
                "product_id": product,
            }
        )
    return items


async def current_subscription(
    session: AsyncSession, client: stripe.StripeClient, workspace_id: str, customer_id: str
) -> CurrentSubscription | None:
    """The customer's current subscription (mirror first, then Stripe); None when they have none."""
    mirrored = await _from_mirror(session, workspace_id, customer_id)
    if mirrored:
        best = min(mirrored, key=lambda s: _rank(s.status))
        if _rank(best.status) == len(CURRENT_STATUSES):
            return None
        items = best.items or [
            {
                "price_id": best.price_id,
                "price_lookup_key": best.price_lookup_key,
                "product_id": best.product_id,
            }
        ]
        return CurrentSubscription(best.subscription_id, tuple(items), best.cancel_at_period_end)
    with stripe_errors():
        page = await client.v1.subscriptions.list_async(
            params={"customer": customer_id, "status": "all", "limit": 20}
        )
    candidates = [s for s in page.data if _rank(s.status) < len(CURRENT_STATUSES)]
    if not candidates:
        return None
    best_stripe = min(candidates, key=lambda s: (_rank(s.status), -int(s.created or 0)))
    return CurrentSubscription(
        best_stripe.id, tuple(_stripe_items(best_stripe)), bool(best_stripe.cancel_at_period_end)
    )


async def item_of(client: stripe.StripeClient, subscription: CurrentSubscription) -> str:
    """The subscription's one item ID (si_...), from what is known or from Stripe."""
    ids = [str(item.get("id") or item.get("item_id") or "") for item in subscription.items]
    if len(ids) == 1 and ids[0].startswith("si_"):
        return ids[0]
    with stripe_errors():
        fetched = await client.v1.subscriptions.retrieve_async(subscription.id)
    items = _stripe_items(fetched)
    if len(items) != 1:
        msg = f"Subscription {subscription.id} has {len(items)} items; the portal switches single items only."
        raise ValidationFailed(msg, field="flow")
    return str(items[0]["id"])
