"""Billing portal sessions: a ``url`` into the sandbox's portal page.

Checked like Stripe checks them (configuration, return URL, ``flow_data`` deep links). Unused sessions
expire after 5 minutes; used ones an hour after the last activity.
"""

import secrets

from stripe.params.billing_portal import SessionCreateParams

from gateway.sandbox.core import Call, Operation
from gateway.sandbox.errors import invalid
from gateway.sandbox.store import new_id
from gateway.sandbox.wire import Obj

UNUSED_TTL_S = 5 * 60
IDLE_TTL_S = 60 * 60
MAX_KEPT_SESSIONS = 10_000


def _configuration(call: Call) -> Obj:
    if configuration_id := call.params.get("configuration"):
        configuration = call.store.get(
            "billing_portal.configuration", configuration_id, call.livemode, param="configuration"
        )
        if not configuration["active"]:
            msg = (
                f"The configuration `{configuration_id}` is inactive; activate it to create sessions with it."
            )
            raise invalid(msg, param="configuration")
        return configuration
    for configuration in call.store.all("billing_portal.configuration", call.livemode):
        if configuration["is_default"] and configuration["active"]:
            return configuration
    mode = "live" if call.livemode else "test"
    path = "" if call.livemode else "test/"
    msg = (
        f"No configuration provided and your {mode} mode default configuration has not been created. Provide "
        f"a configuration or create your default by saving your customer portal settings in {mode} mode at "
        f"https://dashboard.stripe.com/{path}settings/billing/portal."
    )
    raise invalid(msg)


_UPDATE_DISABLED = (
    "This subscription cannot be updated because the subscription update feature in the portal "
    "configuration is disabled."
)
#: Each deep link's feature, and Stripe's refusal when the configuration has it off.
_FEATURE_OF_FLOW = {
    "subscription_cancel": (
        "subscription_cancel",
        (
            "This subscription cannot be canceled because the subscription cancel feature in the portal "
            "configuration is disabled."
        ),
    ),
    "subscription_update": ("subscription_update", _UPDATE_DISABLED),
    "subscription_update_confirm": ("subscription_update", _UPDATE_DISABLED),
    "subscription_pause": (
        "subscription_pause",
        "The subscription pause feature in the portal configuration is disabled.",
    ),
    "payment_method_update": (
        "payment_method_update",
        "The payment method update feature in the portal configuration is disabled.",
    ),
}
_SUBSCRIPTION_FLOWS = (
    "subscription_cancel",
    "subscription_update",
    "subscription_update_confirm",
    "subscription_pause",
)


def _check_flow(call: Call, flow: Obj, configuration: Obj, customer_id: str) -> None:
    kind = flow["type"]
    feature, refusal = _FEATURE_OF_FLOW.get(kind, ("", ""))
    if feature and not configuration["features"][feature]["enabled"]:
        raise invalid(refusal, param="flow_data[type]")
    if kind not in _SUBSCRIPTION_FLOWS:
        return
    param = f"flow_data[{kind}][subscription]"
    if kind not in flow:
        msg = f"Missing required param: flow_data[{kind}]."
        raise invalid(msg, param=f"flow_data[{kind}]", code="parameter_missing")
    subscription = call.store.get("subscription", flow[kind]["subscription"], call.livemode, param=param)
    if subscription["customer"] != customer_id:
        msg = f"The subscription {subscription['id']} does not belong to the customer {customer_id}."
        raise invalid(msg, param=param)
    if subscription["status"] == "canceled":
        msg = f"The subscription {subscription['id']} has been canceled and cannot be changed."
        raise invalid(msg, param=param)
    if kind == "subscription_cancel" and subscription["cancel_at_period_end"]:
        msg = f"The subscription {subscription['id']} is already set to be canceled at period end."
        raise invalid(msg, param=param)
    if kind == "subscription_update_confirm":
        _check_confirm(flow["subscription_update_confirm"], subscription, configuration)


def _check_confirm(confirm: Obj, subscription: Obj, configuration: Obj) -> None:
    items = confirm.get("items") or []
    param = "flow_data[subscription_update_confirm][items]"
    if len(items) != 1:
        msg = "Exactly one item must be specified in flow_data[subscription_update_confirm][items]."
        raise invalid(msg, param=param)
    wanted = items[0]
    item = next((i for i in subscription["items"]["data"] if i["id"] == wanted["id"]), None)
    if item is None:
        msg = f"The item `{wanted['id']}` is not part of the subscription `{subscription['id']}`."
        raise invalid(msg, param=f"{param}[0][id]")
    allowed = {p for e in configuration["features"]["subscription_update"]["products"] for p in e["prices"]}
    if "price" in wanted and wanted["price"] not in allowed:
        msg = (
            f"The item `{item['id']}` cannot be updated to price `{wanted['price']}` because the "
            f"configuration `{configuration['id']}` does not include the price in its "
            "`features[subscription_update][products]`."
        )
        raise invalid(msg, param=f"{param}[0][price]")
    if (
        wanted.get("price", item["price"]["id"]) == item["price"]["id"]
        and wanted.get("quantity", item["quantity"]) == item["quantity"]
    ):
        msg = "Cannot update the subscription because there are no changes to confirm."
        raise invalid(msg, param=param)


def create(call: Call) -> Obj:
    """``POST /v1/billing_portal/sessions``."""
    p = call.params
    if "customer" not in p:
        msg = "Missing required param: customer."
        raise invalid(msg, param="customer", code="parameter_missing")
    customer = call.store.get("customer", p["customer"], call.livemode, param="customer")
    configuration = _configuration(call)
    return_url = p.get("return_url") or configuration["default_return_url"]
    if not return_url:
        msg = "A return_url is required: the configuration has no default_return_url."
        raise invalid(msg, param="return_url", code="parameter_missing")
    flow = p.get("flow_data")
    if flow is not None:
        _check_flow(call, flow, configuration, customer["id"])
    token = "test_" + secrets.token_urlsafe(24) if not call.livemode else "live_" + secrets.token_urlsafe(24)
    session: Obj = {
        "id": new_id("bps", 24),
        "object": "billing_portal.session",
        "configuration": configuration["id"],
        "created": call.store.now(),
        "customer": customer["id"],
        "customer_account": None,
        "flow": None if flow is None else _flow(flow),
        "livemode": call.livemode,
        "locale": p.get("locale"),
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{call.base_url}/sandbox/portal/{token}",
    }
    _keep(call, token, session)
    return session


def _flow(flow: Obj) -> Obj:
    after = flow.get("after_completion", {"type": "portal_homepage"})
    echoed: Obj = {
        "after_completion": {
            "hosted_confirmation": after.get("hosted_confirmation")
            if after["type"] == "hosted_confirmation"
            else None,
            "redirect": after.get("redirect") if after["type"] == "redirect" else None,
            "type": after["type"],
        },
        "type": flow["type"],
    }
    for kind in (
        "subscription_cancel",
        "subscription_update",
        "subscription_update_confirm",
        "subscription_pause",
    ):
        echoed[kind] = flow.get(kind)
    return echoed


def _keep(call: Call, token: str, session: Obj) -> None:
    """Keep the session; past ``MAX_KEPT_SESSIONS`` the oldest is forgotten (bounded memory under load)."""
    call.store.add(session)
    call.store.private[token] = {"session": session["id"], "last_activity": 0}
    tokens = call.store.session_tokens
    tokens.append(token)
    while len(tokens) > MAX_KEPT_SESSIONS:
        state = call.store.private.pop(tokens.popleft(), None)
        if state is not None:
            call.store.objects.pop(state["session"], None)


OPERATIONS = [Operation("POST", "/v1/billing_portal/sessions", SessionCreateParams, create)]
