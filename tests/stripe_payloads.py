"""Stripe objects and events shaped like Stripe's own fixtures, in old and new API shapes, signed."""

import itertools
import json
import time
from typing import Any, Literal

import httpx
import stripe
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Subscriber, Workspace
from gateway.vault import Vault
from gateway.workspaces import set_webhook_secrets

NOW = int(time.time())
SECRET = "whsec_test_current_0123456789abcdef"
_ids = itertools.count(1)

#: Where an API version puts a subscription's period and price (see gateway.mirror).
Shape = Literal["items", "subscription", "plan"]


def price(
    price_id: str = "price_1Monthly", *, lookup_key: str | None = "pro_monthly", interval: str = "month"
) -> dict[str, Any]:
    """A recurring price as Stripe embeds it in a subscription item."""
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": "usd",
        "livemode": False,
        "lookup_key": lookup_key,
        "product": "prod_Pro",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": 2000,
    }


def subscription(
    subscription_id: str = "sub_1",
    *,
    customer: str | dict[str, Any] = "cus_1",
    status: str = "active",
    price_id: str = "price_1Monthly",
    lookup_key: str | None = "pro_monthly",
    interval: str = "month",
    quantity: int = 1,
    period_end: int = NOW + 30 * 86400,
    cancel_at_period_end: bool = False,
    cancel_at: int | None = None,
    canceled_at: int | None = None,
    trial_end: int | None = None,
    shape: Shape = "items",
) -> dict[str, Any]:
    """A subscription object: the period on its items (API 2025-03-31.basil and later) or on itself
    (older), and the price as ``price`` or, older still, as ``plan``."""
    the_price = price(price_id, lookup_key=lookup_key, interval=interval)
    item: dict[str, Any] = {"id": "si_1", "object": "subscription_item", "quantity": quantity}
    if shape == "plan":
        item["plan"] = {
            "id": price_id,
            "object": "plan",
            "interval": interval,
            "product": the_price["product"],
            "amount": 2000,
        }
    else:
        item["price"] = the_price
    obj: dict[str, Any] = {
        "id": subscription_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": cancel_at,
        "canceled_at": canceled_at,
        "ended_at": None,
        "trial_end": trial_end,
        "currency": "usd",
        "livemode": False,
        "metadata": {},
        "items": {"object": "list", "data": [item], "has_more": False},
    }
    if shape == "items":
        item["current_period_end"] = period_end
        item["current_period_start"] = period_end - 30 * 86400
    else:
        obj["current_period_end"] = period_end
        obj["current_period_start"] = period_end - 30 * 86400
    return obj


def invoice(
    invoice_id: str = "in_1",
    *,
    customer: str = "cus_1",
    subscription_id: str = "sub_1",
    amount_paid: int = 2000,
    email: str | None = "jenny@example.com",
    shape: Literal["parent", "top"] = "parent",
) -> dict[str, Any]:
    """An invoice; its subscription under ``parent`` (API basil and later) or at the top (older)."""
    obj: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "customer_email": email,
        "amount_paid": amount_paid,
        "currency": "usd",
        "status": "paid" if amount_paid else "open",
    }
    if shape == "parent":
        obj["parent"] = {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id, "metadata": {}},
        }
    else:
        obj["subscription"] = subscription_id
    return obj


def checkout_session(
    *, customer: str = "cus_1", subscription_id: str = "sub_1", client_reference_id: str | None = "user_42"
) -> dict[str, Any]:
    """A completed subscription-mode Checkout Session."""
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": customer,
        "customer_details": {"email": "jenny@example.com", "name": None},
        "customer_email": None,
        "client_reference_id": client_reference_id,
        "subscription": subscription_id,
        "invoice": "in_1",
        "amount_total": 2000,
        "currency": "usd",
        "payment_status": "paid",
        "status": "complete",
        "metadata": {},
    }


def customer(
    customer_id: str = "cus_1", *, email: str | None = "jenny@example.com", external_user_id: str = "user_42"
) -> dict[str, Any]:
    """A customer with the builder's user ID in its metadata."""
    return {
        "id": customer_id,
        "object": "customer",
        "email": email,
        "metadata": {"external_user_id": external_user_id} if external_user_id else {},
    }


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str = "",
    created: int = NOW,
    livemode: bool = False,
    api_version: str = "2026-10-28.endive",
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A snapshot event as Stripe sends it to a webhook endpoint."""
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": event_id or f"evt_test_{next(_ids)}",
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signed(body: str, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a delivery of ``body`` signed by Stripe with ``secret``."""
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def body_of(stripe_event: dict[str, Any]) -> str:
    """The body Stripe would send (pretty-printed, as Stripe does: the bytes signed are the bytes kept)."""
    return json.dumps(stripe_event, indent=2)


async def enable_webhooks(
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    workspace_id: str,
    secrets: list[str] | None = None,
    *,
    subscriber: bool = True,
) -> None:
    """Give the workspace its Stripe signing secret(s) and, unless told not to, one subscriber of all."""
    async with db() as session, session.begin():
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        set_webhook_secrets(vault, workspace, secrets or [SECRET])
        session.add(workspace)
        if subscriber:
            session.add(
                Subscriber(
                    id=f"sbr_all_{workspace_id[-6:]}",
                    workspace_id=workspace_id,
                    url="http://127.0.0.1:9/hook",
                    secret_enc="unused",
                )
            )


async def send(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient,
    workspace_id: str,
    stripe_event: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """Deliver ``stripe_event`` like Stripe: the body signed with ``secret``."""
    body = body_of(stripe_event)
    return await client.post(
        f"/v1/stripe/webhooks/{workspace_id}", content=body, headers=signed(body, secret, timestamp=timestamp)
    )
