"""Subscription items: prices on a subscription, their billing periods and Stripe's rules across them."""

import calendar
import copy
from datetime import UTC, datetime

from gateway.sandbox.core import Call
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj

DAY_S = 86400


def period_end(start: int, recurring: Obj) -> int:
    """The end of a billing period starting at ``start`` (calendar months, like Stripe)."""
    count = int(recurring.get("interval_count", 1))
    moment = datetime.fromtimestamp(start, UTC)
    if recurring["interval"] in ("month", "year"):
        months = moment.month - 1 + count * (12 if recurring["interval"] == "year" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return int(moment.replace(year=year, month=month, day=day).timestamp())
    return start + count * (7 if recurring["interval"] == "week" else 1) * DAY_S


def plan_of(price: Obj) -> Obj:
    """The legacy ``plan`` object Stripe still renders beside an item's ``price``."""
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": price["livemode"],
        "metadata": price["metadata"],
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def new_item(call: Call, subscription_id: str, price: Obj, quantity: int, start: int) -> Obj:
    """A subscription item whose period starts at ``start``."""
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": call.store.now(),
        "current_period_end": period_end(start, price["recurring"]),
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": plan_of(price),
        "price": copy.deepcopy(price),
        "quantity": quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def recurring_price(call: Call, price_id: str, param: str) -> Obj:
    """The price for an item: it must exist in this mode, be recurring and be active."""
    price = call.store.get("price", price_id, call.livemode, param=param)
    if price["type"] != "recurring":
        msg = (
            "The price specified is set to `type=one_time` but this field only accepts prices with "
            "`type=recurring`."
        )
        raise invalid(msg, param=param)
    if not price["active"]:
        msg = f"The price specified is inactive. This field only accepts active prices. ({price_id})"
        raise invalid(msg, param=param)
    return price


def check_items(items: list[Obj]) -> None:
    """Stripe's rules across items: one currency and interval, each price once."""
    seen: set[str] = set()
    first = items[0]["price"]
    for i, item in enumerate(items):
        price = item["price"]
        if price["id"] in seen:
            msg = f"Cannot add multiple subscription items with the same price: {price['id']}"
            raise invalid(msg, param=f"items[{i}][price]")
        seen.add(price["id"])
        if (
            price["currency"] != first["currency"]
            or price["recurring"]["interval"] != first["recurring"]["interval"]
        ):
            msg = "Currency and interval fields must match across all plans on this subscription."
            raise invalid(msg, param="items")


def update_items(call: Call, subscription: Obj, specs: list[Obj]) -> None:
    """Apply ``items[]`` of an update: change a price or quantity, add an item, delete one."""
    items: list[Obj] = subscription["items"]["data"]
    now = call.store.now()
    for i, spec in enumerate(specs):
        param = f"items[{i}]"
        if "id" in spec:
            item = next((it for it in items if it["id"] == spec["id"]), None)
            if item is None:
                msg = f"Invalid {param}[id]: the subscription item {spec['id']} is not on this subscription."
                raise invalid(msg, param=f"{param}[id]")
            if spec.get("deleted"):
                items.remove(item)
                continue
        elif "price" in spec:
            item = new_item(
                call, subscription["id"], recurring_price(call, spec["price"], f"{param}[price]"), 1, now
            )
            item["current_period_start"] = items[0]["current_period_start"] if items else now
            item["current_period_end"] = (
                items[0]["current_period_end"] if items else item["current_period_end"]
            )
            items.append(item)
        else:
            msg = f"Missing required param: {param}[price]."
            raise invalid(msg, param=f"{param}[price]", code="parameter_missing")
        if "price" in spec and spec["price"] != item["price"]["id"]:
            price = recurring_price(call, spec["price"], f"{param}[price]")
            if price["recurring"]["interval"] != item["price"]["recurring"]["interval"]:
                item["current_period_start"] = now
                item["current_period_end"] = period_end(now, price["recurring"])
            item["price"], item["plan"] = copy.deepcopy(price), plan_of(price)
        if "quantity" in spec:
            item["quantity"] = spec["quantity"]
    if not items:
        msg = "A subscription needs at least one item; cancel it instead."
        raise invalid(msg, param="items")
    check_items(items)
    subscription["items"]["total_count"] = len(items)
