"""Billing portal configurations: create, update (``active``, metadata), retrieve, list; no delete.

Stripe's rules for them are enforced (``reference/stripe-portal.md`` §1.3): at most 10 products,
recurring prices of the named product only, no two prices of a product with the same interval,
``subscription_update`` needs ``products`` when enabled, a headline of at most 60 characters.
"""

import copy

from stripe.params.billing_portal import (
    ConfigurationCreateParams,
    ConfigurationListParams,
    ConfigurationRetrieveParams,
    ConfigurationUpdateParams,
)

from gateway.sandbox.core import (
    Call,
    Operation,
    checked_metadata,
    matching,
    metadata_merged,
    previous_attributes,
    retriever,
)
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj, list_object

MAX_PRODUCTS = 10
MAX_HEADLINE = 60
_UPDATE_PRODUCTS = "features[subscription_update][products]"


def default_features() -> Obj:
    """Every feature as Stripe shows it when left out: off."""
    return {
        "customer_update": {"allowed_updates": [], "enabled": False},
        "invoice_history": {"enabled": False},
        "payment_method_update": {"enabled": False, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": False, "options": []},
            "enabled": False,
            "mode": "at_period_end",
            "proration_behavior": "none",
        },
        "subscription_pause": {"enabled": False},
        "subscription_update": {
            "billing_cycle_anchor": None,
            "default_allowed_updates": [],
            "enabled": False,
            "products": [],
            "proration_behavior": "none",
            "schedule_at_period_end": {"conditions": []},
            "trial_update_behavior": "end_trial",
        },
    }


def _merge(into: Obj, update: Obj) -> None:
    """Apply parameters over an object: nested objects merge, ``""`` empties a list or value."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif value == "":
            into[key] = [] if isinstance(into.get(key), list) else None
        else:
            into[key] = copy.deepcopy(value)


def _check(call: Call, configuration: Obj) -> None:
    headline = configuration["business_profile"].get("headline") or ""
    if len(headline) > MAX_HEADLINE:
        msg = f"Invalid business_profile[headline]: must be at most {MAX_HEADLINE} characters"
        raise invalid(msg, param="business_profile[headline]", code="parameter_invalid_string")
    cancel = configuration["features"]["subscription_cancel"]
    if cancel["proration_behavior"] == "always_invoice":
        msg = "`always_invoice` is not supported for features[subscription_cancel][proration_behavior]."
        raise invalid(msg, param="features[subscription_cancel][proration_behavior]")
    if cancel["proration_behavior"] == "create_prorations" and cancel["mode"] != "immediately":
        msg = "Prorations can only be created when subscriptions are canceled immediately."
        raise invalid(msg, param="features[subscription_cancel][proration_behavior]")
    update = configuration["features"]["subscription_update"]
    products = update.get("products") or []
    if update["enabled"] and not products:
        msg = f"Missing required param: {_UPDATE_PRODUCTS}."
        raise invalid(msg, param=_UPDATE_PRODUCTS, code="parameter_missing")
    if len(products) > MAX_PRODUCTS:
        msg = f"You can pass at most {MAX_PRODUCTS} products in {_UPDATE_PRODUCTS}."
        raise invalid(msg, param=_UPDATE_PRODUCTS)
    for i, entry in enumerate(products):
        _check_product(call, entry, f"{_UPDATE_PRODUCTS}[{i}]")


def _check_product(call: Call, entry: Obj, param: str) -> None:
    call.store.get("product", entry["product"], call.livemode, param=f"{param}[product]")
    intervals: dict[tuple[str, int], str] = {}
    for j, price_id in enumerate(entry["prices"]):
        price = call.store.get("price", price_id, call.livemode, param=f"{param}[prices][{j}]")
        if price["product"] != entry["product"]:
            msg = f"The price `{price_id}` does not belong to the product `{entry['product']}`."
            raise invalid(msg, param=f"{param}[prices][{j}]")
        if price["type"] != "recurring":
            msg = (
                f"The price `{price_id}` is not a recurring price; the portal only supports recurring prices."
            )
            raise invalid(msg, param=f"{param}[prices][{j}]")
        interval = (price["recurring"]["interval"], price["recurring"]["interval_count"])
        if interval in intervals:
            msg = (
                f"You can't provide multiple prices with the same interval for product `{entry['product']}` "
                f"(`{intervals[interval]}` and `{price_id}`)."
            )
            raise invalid(msg, param=f"{param}[prices]")
        intervals[interval] = price_id


def _products(entries: list[Obj]) -> list[Obj]:
    return [
        {
            "adjustable_quantity": {
                "enabled": False,
                "maximum": None,
                "minimum": 1,
                **e.get("adjustable_quantity", {}),
            },
            "prices": list(e["prices"]),
            "product": e["product"],
        }
        for e in entries
    ]


def create(call: Call) -> Obj:
    """``POST /v1/billing_portal/configurations``: emits ``billing_portal.configuration.created``."""
    p = call.params
    now = call.store.now()
    configuration: Obj = {
        "id": new_id("bpc", 24),
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {"headline": None, "privacy_policy_url": None, "terms_of_service_url": None},
        "created": now,
        "default_return_url": None,
        "features": default_features(),
        "is_default": False,
        "livemode": call.livemode,
        "login_page": {"enabled": False, "url": None},
        "metadata": {},
        "name": None,
        "updated": now,
    }
    _apply(call, configuration, p)
    call.store.add(configuration)
    call.emit("billing_portal.configuration.created", configuration)
    return configuration


def _apply(call: Call, configuration: Obj, p: Obj) -> None:
    for key in ("business_profile", "features"):
        if key in p:
            _merge(configuration[key], p[key])
    products = p.get("features", {}).get("subscription_update", {}).get("products")
    if products:
        configuration["features"]["subscription_update"]["products"] = _products(products)
    for key in ("default_return_url", "name"):
        if key in p:
            configuration[key] = p[key] or None
    if "active" in p:
        configuration["active"] = p["active"]
    if "metadata" in p:
        configuration["metadata"] = checked_metadata(
            metadata_merged(configuration["metadata"], p["metadata"])
        )
    if "login_page" in p:
        enabled = p["login_page"]["enabled"]
        url = f"{call.base_url}/sandbox/portal/login/{configuration['id']}" if enabled else None
        configuration["login_page"] = {"enabled": enabled, "url": url}
    _check(call, configuration)


def update(call: Call) -> Obj:
    """``POST /v1/billing_portal/configurations/{id}``: emits ``billing_portal.configuration.updated``."""
    current = call.target("billing_portal.configuration")
    configuration = copy.deepcopy(current)
    _apply(call, configuration, call.params)  # on a copy: a refused update changes nothing
    previous = previous_attributes(current, configuration)
    if not previous:
        return current
    configuration["updated"] = call.store.now()
    call.store.add(configuration)
    call.emit("billing_portal.configuration.updated", configuration, previous)
    return configuration


def create_default(call: Call) -> Obj:
    """``POST /v1/test_helpers/billing_portal/default_configuration``: a sandbox helper.

    It does what saving the portal settings in Stripe's Dashboard does: sessions without
    ``configuration`` then use this one.
    """
    for other in call.store.all("billing_portal.configuration", call.livemode):
        other["is_default"] = False
    configuration = create(call)
    configuration["is_default"] = True
    return configuration


def list_(call: Call) -> Obj:
    """``GET /v1/billing_portal/configurations`` by ``active`` and ``is_default``."""
    configurations = call.store.all("billing_portal.configuration", call.livemode)
    configurations = matching(configurations, call.params, ("active", "is_default"))
    return list_object("/v1/billing_portal/configurations", configurations, call.params)


OPERATIONS = [
    Operation("POST", "/v1/billing_portal/configurations", ConfigurationCreateParams, create),
    Operation("GET", "/v1/billing_portal/configurations", ConfigurationListParams, list_),
    Operation(
        "GET",
        "/v1/billing_portal/configurations/{id}",
        ConfigurationRetrieveParams,
        retriever("billing_portal.configuration"),
    ),
    Operation("POST", "/v1/billing_portal/configurations/{id}", ConfigurationUpdateParams, update),
    Operation(
        "POST",
        "/v1/test_helpers/billing_portal/default_configuration",
        ConfigurationCreateParams,
        create_default,
    ),
]
