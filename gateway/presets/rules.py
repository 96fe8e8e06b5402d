"""The rules a preset must follow, Stripe's and the gateway's, checked before any Stripe call.

Each rule has a short name shown after the message (``[max-10-products]``), so a builder can look
it up in ``docs/presets.md``. Rules that need the prices themselves (recurring only, one price per
interval) are checked at sync time, once lookup keys are resolved: see ``gateway.presets.sync``.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from gateway.presets.loading import Located, Path_, Problem
from gateway.presets.schema import FEATURES, Preset, Product

MAX_PRODUCTS = 10
MAX_HEADLINE = 60
MAX_DESCRIPTION = 500
MAX_METADATA_KEYS = 48  # Stripe allows 50; the gateway adds two of its own
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
MAX_PAUSE_DAYS = 3 * 366
RESERVED_METADATA_PREFIX = "gateway_"
_DAYS = {"day": 1, "week": 7, "month": 31, "year": 366}
#: The feature a flow opens, which the configuration must enable.
FLOW_FEATURES = {
    "payment_method_update": "payment_method_update",
    "subscription_cancel": "subscription_cancel",
    "subscription_update": "subscription_update",
    "subscription_update_confirm": "subscription_update",
}

Report = Callable[[Path_, str, str], None]


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def url_allows(prefix: str, url: str) -> bool:
    """Whether ``url`` falls under ``prefix``: same scheme and host, path under the prefix's path.

    ``https://app.example/account`` allows ``.../account``, ``.../account/x`` and
    ``.../account?tab=billing`` but not ``.../accounting``.
    """
    want, got = urlsplit(prefix), urlsplit(url)
    if (want.scheme, want.hostname, want.port) != (got.scheme, got.hostname, got.port) or not got.hostname:
        return False
    base = want.path.rstrip("/")
    return got.path == base or got.path.startswith(base + "/") or (not base and not got.path)


def check(preset: Preset, located: Located) -> list[Problem]:
    """Every rule ``preset`` breaks, in document order."""
    problems: list[Problem] = []

    def report(path: Path_, message: str, rule: str) -> None:
        problems.append(located.problem(path, message, rule))

    for rule in (_business_profile, _subscription_update, _subscription_cancel, _subscription_pause):
        rule(preset, report)
    _metadata(preset, report)
    _gateway_keys(preset, report)
    return sorted(problems, key=lambda p: p.line)


def _business_profile(preset: Preset, report: Report) -> None:
    profile = preset.business_profile
    if profile is not None:
        if len(profile.headline) > MAX_HEADLINE:
            report(
                ("business_profile", "headline"),
                f"{len(profile.headline)} characters; Stripe allows at most {MAX_HEADLINE}",
                "headline-max-60",
            )
        for key in ("privacy_policy_url", "terms_of_service_url"):
            url = getattr(profile, key)
            if url and not is_http_url(url):
                report(("business_profile", key), f"{url!r} is not an http(s) URL", "url")
    if preset.default_return_url and not is_http_url(preset.default_return_url):
        report(("default_return_url",), f"{preset.default_return_url!r} is not an http(s) URL", "url")


def _ids(values: list[str], prefix: str, path: Path_, report: Report) -> None:
    for i, value in enumerate(values):
        if not value.startswith(prefix):
            report((*path, i), f"{value!r} is not a Stripe ID starting with {prefix}", "id-format")


def _subscription_update(preset: Preset, report: Report) -> None:
    update = preset.features.subscription_update
    if update is None:
        return
    path: Path_ = ("features", "subscription_update")
    products = update.products or []
    if update.enabled:
        if not products:
            message = "enabled subscription updates need products (the plans to switch between)"
            report(path, message, "update-needs-products")
        if update.default_allowed_updates is None:
            message = "enabled subscription updates need default_allowed_updates (price, quantity, ...)"
            report(path, message, "update-needs-allowed-updates")
        payment = preset.features.payment_method_update
        if payment is None or not payment.enabled:
            message = "Stripe cannot enable subscription updates while payment method update is disabled"
            report(path, message, "update-needs-payment-method-update")
    if len(products) > MAX_PRODUCTS:
        message = f"{len(products)} products; Stripe allows at most {MAX_PRODUCTS}"
        report((*path, "products"), message, "max-10-products")
    _products(products, (*path, "products"), report)


def _products(products: list[Product], path: Path_, report: Report) -> None:
    seen_products: set[str] = set()
    seen_prices: set[str] = set()
    for i, product in enumerate(products):
        where: Path_ = (*path, i)
        if not product.prices and not product.prices_by_lookup_key:
            report(where, "a product needs prices or prices_by_lookup_key", "product-entry")
        if product.prices and not product.product:
            report(where, "prices given by ID need their product (prod_...)", "product-entry")
        if product.product:
            _ids([product.product], "prod_", (*where, "product"), report)
            if product.product in seen_products:
                report((*where, "product"), f"{product.product} is listed twice", "duplicate-product")
            seen_products.add(product.product)
        _ids(product.prices, "price_", (*where, "prices"), report)
        for key in ("prices", "prices_by_lookup_key"):
            for j, value in enumerate(getattr(product, key)):
                if value in seen_prices:
                    report((*where, key, j), f"{value} is listed twice", "duplicate-price")
                seen_prices.add(value)
        bounds = product.adjustable_quantity
        if (
            bounds
            and bounds.minimum is not None
            and bounds.maximum is not None
            and bounds.minimum > bounds.maximum
        ):
            report((*where, "adjustable_quantity"), "minimum is above maximum", "quantity-bounds")


def _subscription_cancel(preset: Preset, report: Report) -> None:
    cancel = preset.features.subscription_cancel
    if cancel is None:
        return
    path: Path_ = ("features", "subscription_cancel")
    if cancel.proration_behavior == "always_invoice":
        report(
            (*path, "proration_behavior"),
            "Stripe refuses always_invoice on cancellation (use none or create_prorations)",
            "cancel-proration",
        )
    if cancel.proration_behavior == "create_prorations" and cancel.mode != "immediately":
        report((*path, "proration_behavior"), "create_prorations needs mode: immediately", "cancel-proration")
    reason = cancel.cancellation_reason
    if reason is not None and reason.enabled and not reason.options:
        report(
            (*path, "cancellation_reason", "options"),
            "an enabled cancellation reason needs options",
            "cancellation-reason-options",
        )


def _subscription_pause(preset: Preset, report: Report) -> None:
    pause = preset.features.subscription_pause
    if pause is None or pause.duration is None:
        return
    path: Path_ = ("features", "subscription_pause", "duration")
    duration = pause.duration
    if duration.type == "interval_options" and not duration.interval_options:
        report(path, "type interval_options needs interval_options", "pause-duration")
    if duration.type == "indefinite" and duration.interval_options:
        report((*path, "interval_options"), "type indefinite takes no interval_options", "pause-duration")
    for i, option in enumerate(duration.interval_options):
        if option.interval_count * _DAYS[option.interval] > MAX_PAUSE_DAYS:
            report(
                (*path, "interval_options", i),
                "Stripe allows pauses of at most three years",
                "pause-duration",
            )


def _metadata(preset: Preset, report: Report) -> None:
    if len(preset.metadata) > MAX_METADATA_KEYS:
        report(
            ("metadata",),
            f"{len(preset.metadata)} keys; at most {MAX_METADATA_KEYS} (Stripe allows 50, "
            "the gateway uses 2)",
            "metadata-limits",
        )
    for key, value in preset.metadata.items():
        if key.startswith(RESERVED_METADATA_PREFIX):
            report(
                ("metadata", key),
                f"keys starting with {RESERVED_METADATA_PREFIX} are the gateway's",
                "metadata-limits",
            )
        if len(key) > MAX_METADATA_KEY or "[" in key or "]" in key:
            report(
                ("metadata", key),
                f"keys are at most {MAX_METADATA_KEY} characters, without [ or ]",
                "metadata-limits",
            )
        if len(value) > MAX_METADATA_VALUE:
            report(
                ("metadata", key), f"values are at most {MAX_METADATA_VALUE} characters", "metadata-limits"
            )


def enabled_features(preset: Preset) -> frozenset[str]:
    """The names of the features ``preset`` enables."""
    features = {name: getattr(preset.features, name) for name in FEATURES}
    return frozenset(name for name, feature in features.items() if feature is not None and feature.enabled)


def _gateway_keys(preset: Preset, report: Report) -> None:
    if len(preset.description) > MAX_DESCRIPTION:
        report(("description",), f"at most {MAX_DESCRIPTION} characters", "description-length")
    if preset.flow is not None and FLOW_FEATURES[preset.flow] not in enabled_features(preset):
        report(
            ("flow",),
            f"flow {preset.flow} needs features.{FLOW_FEATURES[preset.flow]} enabled",
            "flow-needs-feature",
        )
    for i, url in enumerate(preset.allowed_return_urls):
        if not is_http_url(url):
            report(("allowed_return_urls", i), f"{url!r} is not an http(s) URL", "url")
    default = preset.default_return_url
    if (
        default
        and preset.allowed_return_urls
        and not any(url_allows(prefix, default) for prefix in preset.allowed_return_urls)
    ):
        report(("default_return_url",), "not under any of allowed_return_urls", "return-url-allowed")
    match = preset.match
    if match is not None:
        if not (match.prices_by_lookup_key or match.prices or match.products):
            report(("match",), "match needs prices_by_lookup_key, prices or products", "match")
        _ids(match.prices, "price_", ("match", "prices"), report)
        _ids(match.products, "prod_", ("match", "products"), report)
