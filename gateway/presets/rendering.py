"""A preset as the exact Stripe parameters of its portal configuration, their hash, and diffs.

Rendering is complete: every feature appears (a feature left out is ``{"enabled": false}``) and
every enabled feature carries Stripe's defaults explicitly, so updating a configuration in place
with the same parameters leaves it exactly as the preset says, whatever it was before. Lookup keys
are resolved by the caller (``gateway.presets.sync``) and passed in as ``PriceInfo``s.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.presets.loading import Located, Problem
from gateway.presets.rules import MAX_PRODUCTS
from gateway.presets.schema import FEATURES, Features, Preset, SubscriptionCancel, SubscriptionUpdate

HASH_LENGTH = 32


@dataclass(frozen=True)
class PriceInfo:
    """What the gateway needs to know about a Stripe price to offer it in the portal."""

    id: str
    product: str
    lookup_key: str = ""
    #: ``day``/``week``/``month``/``year``; "" for a one-time price (which the portal refuses).
    interval: str = ""
    active: bool = True


@dataclass(frozen=True)
class Rendered:
    """A preset's Stripe parameters (create form), their hash, and the prices it offers."""

    params: dict[str, Any]
    hash: str
    #: Every price ID offered for plan switches (subscription_update_confirm may only target these).
    prices: tuple[str, ...]
    #: Lookup key -> price ID, for the lookup keys the preset uses.
    lookup_keys: Mapping[str, str]


@dataclass(frozen=True)
class Change:
    """One difference between the preset and the configuration in Stripe."""

    path: str
    stripe: Any
    preset: Any


def canonical_json(value: Any) -> bytes:
    """The one JSON form of ``value`` that is hashed (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(preset: Preset) -> str:
    """A hash of the preset as written (before lookup keys are resolved)."""
    return hashlib.sha256(canonical_json(msgspec.to_builtins(preset))).hexdigest()[:HASH_LENGTH]


def _list(values: list[Any]) -> Any:
    # Stripe clears a list with "" (an empty list would not be sent at all).
    return list(values) if values else ""


def _cancel(cancel: SubscriptionCancel) -> dict[str, Any]:
    reason = cancel.cancellation_reason
    rendered_reason: dict[str, Any] = {"enabled": False, "options": ""}
    if reason is not None:
        rendered_reason = {"enabled": reason.enabled, "options": _list(reason.options)}
        if reason.feedback_options:
            rendered_reason["feedback_options"] = list(reason.feedback_options)
    return {
        "enabled": cancel.enabled,
        "mode": cancel.mode or "at_period_end",
        "proration_behavior": cancel.proration_behavior or "none",
        "cancellation_reason": rendered_reason,
    }


def _update(update: SubscriptionUpdate, products: list[dict[str, Any]]) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "enabled": update.enabled,
        "default_allowed_updates": _list(update.default_allowed_updates or []),
        "products": _list(products),
        "proration_behavior": update.proration_behavior or "none",
        "billing_cycle_anchor": update.billing_cycle_anchor or "unchanged",
        "trial_update_behavior": update.trial_update_behavior or "end_trial",
    }
    if update.schedule_at_period_end is not None:
        rendered["schedule_at_period_end"] = msgspec.to_builtins(update.schedule_at_period_end)
    return rendered


def _features(features: Features, products: list[dict[str, Any]]) -> dict[str, Any]:
    rendered: dict[str, Any] = {name: {"enabled": False} for name in FEATURES}
    if features.customer_update is not None:
        rendered["customer_update"] = {
            "enabled": features.customer_update.enabled,
            "allowed_updates": _list(features.customer_update.allowed_updates),
        }
    for name in ("invoice_history", "payment_method_update", "subscription_pause"):
        feature = getattr(features, name)
        if feature is not None:
            rendered[name] = {"enabled": False, **msgspec.to_builtins(feature)}
    if features.subscription_cancel is not None:
        rendered["subscription_cancel"] = _cancel(features.subscription_cancel)
    if features.subscription_update is not None:
        rendered["subscription_update"] = _update(features.subscription_update, products)
    return rendered


def _price_problem(
    key: str, info: PriceInfo | None, product: str, intervals: Mapping[tuple[str, str], str]
) -> tuple[str, str] | None:
    """Why the price behind lookup key ``key`` cannot be offered (message, rule), if it cannot."""
    if info is None:
        return f"no active price has lookup key {key!r}", "lookup-key"
    if product and info.product != product:
        return f"lookup key {key!r} is a price of {info.product}, not of {product}", "lookup-key-product"
    if not info.interval:
        return (
            f"{key!r} ({info.id}) is a one-time price; the portal offers recurring prices only",
            "recurring-only",
        )
    clash = intervals.get((info.product, info.interval))
    if clash is not None:
        message = (
            f"{key!r} and {clash!r} are both {info.interval}ly prices of {info.product}; "
            "Stripe allows one price per product and interval"
        )
        return message, "one-price-per-interval"
    return None


def _products(
    preset: Preset, prices: Mapping[str, PriceInfo], located: Located
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The products of ``subscription_update`` with lookup keys resolved, and the problems found."""
    update = preset.features.subscription_update
    if update is None or not update.products:
        return [], []
    quantity_default = {"enabled": "quantity" in (update.default_allowed_updates or [])}
    problems: list[Problem] = []
    by_product: dict[str, dict[str, Any]] = {}
    intervals: dict[tuple[str, str], str] = {}
    base = ("features", "subscription_update", "products")
    for i, entry in enumerate(update.products):
        quantity = (
            msgspec.to_builtins(entry.adjustable_quantity) if entry.adjustable_quantity else quantity_default
        )
        chosen = [(entry.product, price, (*base, i, "prices", j)) for j, price in enumerate(entry.prices)]
        for j, key in enumerate(entry.prices_by_lookup_key):
            path = (*base, i, "prices_by_lookup_key", j)
            info = prices.get(key)
            problem = _price_problem(key, info, entry.product, intervals)
            if problem is not None:
                problems.append(located.problem(path, *problem))
            elif info is not None:
                intervals[info.product, info.interval] = key
                chosen.append((info.product, info.id, path))
        for product, price, _ in chosen:
            slot = by_product.setdefault(
                product, {"product": product, "prices": [], "adjustable_quantity": quantity}
            )
            if price not in slot["prices"]:
                slot["prices"].append(price)
    if len(by_product) > MAX_PRODUCTS:
        message = f"the prices belong to {len(by_product)} products; Stripe allows at most {MAX_PRODUCTS}"
        problems.append(located.problem(base, message, "max-10-products"))
    return list(by_product.values()), problems


def lookup_keys_of(preset: Preset) -> list[str]:
    """Every lookup key the preset's products use, in order, once each."""
    update = preset.features.subscription_update
    keys = [k for entry in (update.products or []) for k in entry.prices_by_lookup_key] if update else []
    return list(dict.fromkeys(keys))


def render(
    name: str, preset: Preset, prices: Mapping[str, PriceInfo], located: Located
) -> tuple[Rendered | None, list[Problem]]:
    """The Stripe create parameters of preset ``name`` (or the problems that prevent them)."""
    products, problems = _products(preset, prices, located)
    if problems:
        return None, problems
    params: dict[str, Any] = {"features": _features(preset.features, products)}
    if preset.business_profile is not None:
        profile = {k: v for k, v in msgspec.to_builtins(preset.business_profile).items() if v}
        if profile:
            params["business_profile"] = profile
    if preset.default_return_url:
        params["default_return_url"] = preset.default_return_url
    params["login_page"] = {"enabled": preset.login_page.enabled if preset.login_page else False}
    params["name"] = preset.name or f"{name} (Portal Gateway)"
    params["metadata"] = {**preset.metadata, "gateway_preset": name}
    hash_ = hashlib.sha256(canonical_json(params)).hexdigest()[:HASH_LENGTH]
    params["metadata"]["gateway_hash"] = hash_
    offered = tuple(price for product in products for price in product["prices"])
    used = {key: prices[key].id for key in lookup_keys_of(preset) if key in prices}
    return Rendered(params=params, hash=hash_, prices=offered, lookup_keys=used), []


def update_params(params: Mapping[str, Any], current_metadata: Mapping[str, str]) -> dict[str, Any]:
    """``params`` for updating an existing configuration: what the preset leaves out is cleared."""
    update: dict[str, Any] = json.loads(canonical_json(params))
    profile = update.setdefault("business_profile", {})
    for key in ("headline", "privacy_policy_url", "terms_of_service_url"):
        profile.setdefault(key, "")
    update.setdefault("default_return_url", "")
    sub_update = update["features"]["subscription_update"]
    if sub_update.get("enabled") is not None and "default_allowed_updates" in sub_update:
        sub_update.setdefault("schedule_at_period_end", {"conditions": ""})
    # Stripe merges metadata: keys the preset no longer has are removed by setting them to "".
    for key in current_metadata:
        update["metadata"].setdefault(key, "")
    update["active"] = True
    return update


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _same_list(want: list[Any], have: Any, path: str) -> list[Change]:
    have = have if isinstance(have, list) else []
    if want and all(isinstance(item, dict) and "product" in item for item in want):
        have_by = {item.get("product"): item for item in have if isinstance(item, dict)}
        want_by = {item["product"]: item for item in want}
        if set(have_by) != set(want_by):
            return [Change(path, sorted(map(str, have_by)), sorted(want_by))]
        changes: list[Change] = []
        for product, item in want_by.items():
            wanted = {**item, "prices": sorted(item["prices"])}
            held = {**have_by[product], "prices": sorted(have_by[product].get("prices") or [])}
            changes += differences(wanted, held, f"{path}[{product}]")
        return changes
    if all(not isinstance(item, dict | list) for item in want):
        same = sorted(map(str, want)) == sorted(map(str, have))
    else:
        same = want == have
    return [] if same else [Change(path, have, want)]


def differences(want: Any, have: Any, path: str = "") -> list[Change]:
    """Where the configuration in Stripe (``have``, a plain dict) differs from the parameters.

    Only what the parameters say is compared: Stripe's extra fields (``id``, ``created``, ...) are
    not differences. ``""`` (Stripe's "cleared") equals a missing, null or empty value.
    """
    if isinstance(want, dict):
        held = have if isinstance(have, dict) else {}
        changes: list[Change] = []
        for key, value in want.items():
            changes += differences(value, held.get(key), f"{path}.{key}" if path else key)
        return changes
    if _empty(want):
        return [] if _empty(have) else [Change(path, have, want)]
    if isinstance(want, list):
        return _same_list(want, have, path)
    return [] if want == have else [Change(path, have, want)]
