"""The preset schema: Stripe's ``billing_portal.configuration`` create parameters, plus gateway keys.

The Stripe part mirrors ``stripe.params.billing_portal.ConfigurationCreateParams`` (SDK 16.1, API
``2026-10-28.endive``) field for field, except ``expand`` (a request option, not configuration).
Stripe's enums are open in the SDK (``Literal[...] | str``); here they are closed, so a typo is
refused before any Stripe call. Lists stand for Stripe's ``"" | list`` (an empty list clears).
"""

from typing import Annotated, Literal

import msgspec

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Flow = Literal[
    "payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm"
]
FLOWS: tuple[str, ...] = Flow.__args__  # type: ignore[attr-defined]


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Every preset object: keyword-only, unknown keys refused, unset keys left out of the rendering."""


class BusinessProfile(_Strict):
    """What the portal shows about the business."""

    headline: str = ""
    privacy_policy_url: str = ""
    terms_of_service_url: str = ""


class CustomerUpdate(_Strict):
    """Which customer details the customer may change."""

    enabled: bool
    allowed_updates: list[Literal["address", "email", "name", "phone", "shipping", "tax_id"]] = []


class InvoiceHistory(_Strict):
    """Whether past invoices are listed."""

    enabled: bool


class PaymentMethodUpdate(_Strict):
    """Whether payment methods may be changed (and with which payment method configuration)."""

    enabled: bool
    payment_method_configuration: str = ""


class CancellationReason(_Strict):
    """The reasons offered when a customer cancels."""

    enabled: bool
    options: list[
        Literal[
            "customer_service",
            "low_quality",
            "missing_features",
            "other",
            "switched_service",
            "too_complex",
            "too_expensive",
            "unused",
        ]
    ]
    feedback_options: list[str] = []


class SubscriptionCancel(_Strict):
    """Whether and how subscriptions may be canceled."""

    enabled: bool
    mode: Literal["at_period_end", "immediately"] | None = None
    proration_behavior: Literal["always_invoice", "create_prorations", "none"] | None = None
    cancellation_reason: CancellationReason | None = None


class PauseIntervalOption(_Strict):
    """One pause duration the customer may pick."""

    interval: Literal["day", "week", "month", "year"]
    interval_count: Annotated[int, msgspec.Meta(ge=1)] = 1


class PauseDuration(_Strict):
    """How long a subscription may be paused."""

    type: Literal["indefinite", "interval_options"]
    interval_options: list[PauseIntervalOption] = []


class SubscriptionPause(_Strict):
    """Whether subscriptions may be paused (redesigned portal only)."""

    enabled: bool | None = None
    duration: PauseDuration | None = None


class AdjustableQuantity(_Strict):
    """Whether (and within which bounds) the quantity may be changed."""

    enabled: bool
    minimum: Annotated[int, msgspec.Meta(ge=0)] | None = None
    maximum: Annotated[int, msgspec.Meta(ge=1)] | None = None


class Product(_Strict):
    """A product customers may switch to, with its prices by ID and/or by lookup key.

    ``prices_by_lookup_key`` is the gateway's addition: the keys are resolved to price IDs in the
    workspace's Stripe account and mode at sync time. Without ``product``, the product is the one the
    looked-up prices belong to (one entry may then stand for several products).
    """

    product: str = ""
    prices: list[str] = []
    prices_by_lookup_key: list[str] = []
    adjustable_quantity: AdjustableQuantity | None = None


class ScheduleCondition(_Strict):
    """When an update waits for the end of the period."""

    type: Literal["decreasing_item_amount", "shortening_interval"]


class ScheduleAtPeriodEnd(_Strict):
    """Updates matching any condition are scheduled at the end of the period."""

    conditions: list[ScheduleCondition] = []


class SubscriptionUpdate(_Strict):
    """Whether and how customers may switch plans or quantities."""

    enabled: bool
    default_allowed_updates: list[Literal["price", "promotion_code", "quantity"]] | None = None
    products: list[Product] | None = None
    proration_behavior: Literal["always_invoice", "create_prorations", "none"] | None = None
    schedule_at_period_end: ScheduleAtPeriodEnd | None = None
    billing_cycle_anchor: Literal["now", "unchanged"] | None = None
    trial_update_behavior: Literal["continue_trial", "end_trial"] | None = None


class Features(_Strict):
    """What the portal lets customers do; a feature left out is disabled."""

    customer_update: CustomerUpdate | None = None
    invoice_history: InvoiceHistory | None = None
    payment_method_update: PaymentMethodUpdate | None = None
    subscription_cancel: SubscriptionCancel | None = None
    subscription_pause: SubscriptionPause | None = None
    subscription_update: SubscriptionUpdate | None = None


class LoginPage(_Strict):
    """Stripe's hosted login page for this configuration (a shareable URL)."""

    enabled: bool


class Match(_Strict):
    """Which subscriptions ``preset: auto`` sends to this preset: any item matching any list."""

    prices_by_lookup_key: list[str] = []
    prices: list[str] = []
    products: list[str] = []


class Preset(_Strict):
    """One preset: a Stripe portal configuration and how the gateway uses it."""

    features: Features
    business_profile: BusinessProfile | None = None
    default_return_url: str = ""
    login_page: LoginPage | None = None
    metadata: dict[str, str] = {}
    name: str = ""
    # gateway keys
    description: str = ""
    flow: Flow | None = None
    allowed_return_urls: list[str] = []
    match: Match | None = None


#: Every portal feature, in Stripe's order.
FEATURES: tuple[str, ...] = tuple(Features.__struct_fields__)
#: The keys that are the gateway's, not Stripe's.
GATEWAY_KEYS = ("description", "flow", "allowed_return_urls", "match")
