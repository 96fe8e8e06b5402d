"""Realistic seed data for tests, demos and the first ``make run``.

Three products with monthly and annual prices (lookup keys, including the legacy ones the ``legacy``
preset names) and customers on single- and multi-seat subscriptions, one trialing, one without.
"""

from dataclasses import dataclass, field

from gateway.sandbox.core import Sandbox
from gateway.sandbox.wire import Obj

#: (product name, lookup key prefix, monthly cents, annual cents)
PLANS = (
    ("Starter", "starter", 900, 9000),
    ("Pro", "pro", 2900, 29000),
    ("Legacy", "legacy", 1900, 19000),
)
#: (email, name, external user ID, lookup key, quantity, trial days)
CUSTOMERS = (
    ("ada@example.com", "Ada Lovelace", "usr_ada", "pro_monthly", 1, 0),
    ("grace@example.com", "Grace Hopper", "usr_grace", "legacy_monthly", 1, 0),
    ("linus@example.com", "Linus Torvalds", "usr_linus", "starter_annual", 3, 0),
    ("margaret@example.com", "Margaret Hamilton", "usr_margaret", "pro_monthly", 1, 14),
    ("alan@example.com", "Alan Turing", "usr_alan", "", 0, 0),
)


@dataclass
class Seeded:
    """What the seed made, by name."""

    products: dict[str, str] = field(default_factory=dict)
    #: Lookup key (``pro_monthly``, ``legacy_annual``, ...) to price ID.
    prices: dict[str, str] = field(default_factory=dict)
    #: Email to customer ID.
    customers: dict[str, str] = field(default_factory=dict)
    #: Email to subscription ID.
    subscriptions: dict[str, str] = field(default_factory=dict)


def seed(sandbox: Sandbox, *, livemode: bool = False) -> Seeded:
    """Create the seed data through the sandbox's own API (run where the sandbox serves)."""
    seeded = Seeded()
    for name, key, monthly, annual in PLANS:
        product: Obj = sandbox.call(
            "POST", "/v1/products", {"name": name, "metadata": {"seed": "true"}}, livemode=livemode
        )
        seeded.products[key] = product["id"]
        for interval, amount in (("month", monthly), ("year", annual)):
            lookup_key = f"{key}_{'monthly' if interval == 'month' else 'annual'}"
            price = sandbox.call(
                "POST",
                "/v1/prices",
                {
                    "product": product["id"],
                    "currency": "usd",
                    "unit_amount": amount,
                    "recurring": {"interval": interval},
                    "lookup_key": lookup_key,
                    "tax_behavior": "exclusive",
                    "nickname": f"{name} {'monthly' if interval == 'month' else 'annual'}",
                },
                livemode=livemode,
            )
            seeded.prices[lookup_key] = price["id"]
    for email, name, user_id, lookup_key, quantity, trial_days in CUSTOMERS:
        customer = sandbox.call(
            "POST",
            "/v1/customers",
            {
                "email": email,
                "name": name,
                "metadata": {"external_user_id": user_id},
                "invoice_settings": {"default_payment_method": "pm_card_visa"},
            },
            livemode=livemode,
        )
        seeded.customers[email] = customer["id"]
        if not lookup_key:
            continue
        params: Obj = {
            "customer": customer["id"],
            "items": [{"price": seeded.prices[lookup_key], "quantity": quantity}],
        }
        if trial_days:
            params["trial_period_days"] = trial_days
        subscription = sandbox.call("POST", "/v1/subscriptions", params, livemode=livemode)
        seeded.subscriptions[email] = subscription["id"]
    return seeded
