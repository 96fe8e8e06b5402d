"""What a portal request may ask for: the flow, the price to switch to and the return URL.

Each check needs no Stripe call, so a request that cannot work is refused before any is made.
"""

from dataclasses import dataclass
from typing import Any

from gateway.errors import ReturnUrlNotAllowed, ValidationFailed
from gateway.models import PortalConfiguration
from gateway.portal.cache import WorkspaceView
from gateway.presets import DEFAULT_PRESET, NamedPreset
from gateway.presets.rules import FLOW_FEATURES, enabled_features, is_http_url, url_allows

#: Flows that act on a subscription (the customer's current one unless ``subscription`` is given).
SUBSCRIPTION_FLOWS = frozenset({"subscription_cancel", "subscription_update", "subscription_update_confirm"})
CONFIRM = "subscription_update_confirm"


@dataclass(frozen=True)
class PortalAsk:
    """What a caller asks for (``POST /v1/portal-sessions`` or a portal link); "" means not given."""

    customer: str = ""
    email: str = ""
    external_user_id: str = ""
    preset: str = DEFAULT_PRESET
    return_url: str = ""
    locale: str = ""
    flow: str = ""
    price: str = ""
    subscription: str = ""


def check_flow(ask: PortalAsk, named: NamedPreset) -> str:
    """The flow to open (the request's or the preset's fixed one), refused when it cannot work."""
    fixed = named.preset.flow or ""
    if fixed and ask.flow and ask.flow != fixed:
        msg = f"Preset {named.name!r} always opens the {fixed} flow; send that flow or none."
        raise ValidationFailed(msg, field="flow")
    flow = ask.flow or fixed
    if flow and FLOW_FEATURES[flow] not in enabled_features(named.preset):
        feature = FLOW_FEATURES[flow]
        msg = f"The {flow} flow needs features.{feature}, which preset {named.name!r} does not enable."
        raise ValidationFailed(msg, field="flow")
    if flow == CONFIRM and not ask.price:
        msg = f"The {CONFIRM} flow needs price: the price (ID or lookup key) to switch to."
        raise ValidationFailed(msg, field="price")
    if ask.price and flow != CONFIRM:
        msg = f"price is only used with flow {CONFIRM}."
        raise ValidationFailed(msg, field="price")
    return flow


def check_return_url(ask: PortalAsk, named: NamedPreset, view: WorkspaceView, public_url: str) -> str:
    """The return URL: the request's if allowed, else the preset's default, else the gateway's page."""
    preset = named.preset
    if not ask.return_url:
        return preset.default_return_url or f"{public_url}/p/return"
    if not is_http_url(ask.return_url):
        msg = "return_url must be an absolute http(s) URL."
        raise ValidationFailed(msg, field="return_url")
    allowed = [*preset.allowed_return_urls, *view.workspace.allowed_return_urls]
    if ask.return_url != preset.default_return_url and not any(
        url_allows(p, ask.return_url) for p in allowed
    ):
        msg = (
            f"return_url {ask.return_url} is not allowed for preset {named.name!r}: add it, or a prefix of "
            "it, to the preset's allowed_return_urls."
        )
        raise ReturnUrlNotAllowed(msg)
    return ask.return_url


def offered_price(configuration: PortalConfiguration, named: str, price: str) -> str:
    """The price ID behind ``price`` (an ID or a lookup key) if the configuration offers it."""
    price_id = configuration.lookup_keys.get(price, price)
    products = configuration.params.get("features", {}).get("subscription_update", {}).get("products") or []
    offered = [p for product in products for p in product.get("prices", [])]
    if price_id not in offered:
        msg = f"Price {price!r} is not offered by preset {named!r}; it offers {', '.join(offered) or 'none'}."
        raise ValidationFailed(msg, field="price")
    return str(price_id)


def flow_data(flow: str, subscription: str, item: str, price: str, return_url: str) -> dict[str, Any]:
    """Stripe's ``flow_data`` for a deep link; after it succeeds the customer goes back to ``return_url``."""
    data: dict[str, Any] = {
        "type": flow,
        "after_completion": {"type": "redirect", "redirect": {"return_url": return_url}},
    }
    if flow == CONFIRM:
        data[flow] = {"subscription": subscription, "items": [{"id": item, "price": price}]}
    elif flow in SUBSCRIPTION_FLOWS:
        data[flow] = {"subscription": subscription}
    return data
