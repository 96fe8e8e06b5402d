"""Rendering a preset into Stripe's configuration parameters: complete, hashed, and compared."""

from pathlib import Path

import pytest

from gateway.presets.catalog import NamedPreset, load_file, load_files
from gateway.presets.rendering import PriceInfo, Rendered, differences, render, update_params

SHIPPED = load_files([Path(__file__).parent.parent / "presets"]).presets
LEGACY_PRICES = {
    "legacy_monthly": PriceInfo("price_lm", "prod_legacy", "legacy_monthly", "month"),
    "legacy_annual": PriceInfo("price_la", "prod_legacy", "legacy_annual", "year"),
}


def _preset(tmp_path: Path, body: str, name: str = "p") -> NamedPreset:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    named, problems = load_file(path)
    assert named is not None, [str(p) for p in problems]
    return named


def _render(named: NamedPreset, prices: dict[str, PriceInfo] | None = None) -> Rendered:
    rendered, problems = render(named.name, named.preset, prices or {}, named.located)
    assert rendered is not None, [str(p) for p in problems]
    return rendered


def test_legacy_renders_lookup_keys_as_one_product() -> None:
    """Lookup keys become the price IDs of their product; every feature is explicit."""
    rendered = _render(SHIPPED["legacy"], LEGACY_PRICES)
    update = rendered.params["features"]["subscription_update"]
    assert update["products"] == [
        {
            "product": "prod_legacy",
            "prices": ["price_lm", "price_la"],
            "adjustable_quantity": {"enabled": True},
        }
    ]
    assert update["proration_behavior"] == "create_prorations"
    assert rendered.params["features"]["subscription_pause"] == {"enabled": False}
    assert rendered.params["features"]["subscription_cancel"]["mode"] == "at_period_end"
    assert rendered.params["business_profile"] == {"headline": "Manage your legacy plan"}
    assert rendered.params["metadata"] == {"gateway_preset": "legacy", "gateway_hash": rendered.hash}
    assert rendered.prices == ("price_lm", "price_la")
    assert rendered.lookup_keys == {"legacy_monthly": "price_lm", "legacy_annual": "price_la"}


def test_features_left_out_are_disabled() -> None:
    """read-only turns everything but invoices off, explicitly, so an update in place turns them off too."""
    features = _render(SHIPPED["read-only"]).params["features"]
    assert {name: f["enabled"] for name, f in features.items()} == {
        "customer_update": False,
        "invoice_history": True,
        "payment_method_update": False,
        "subscription_cancel": False,
        "subscription_pause": False,
        "subscription_update": False,
    }


def test_hash_follows_the_parameters(tmp_path: Path) -> None:
    """The hash is stable for the same preset and changes with any parameter (including resolved IDs)."""
    first = _render(SHIPPED["legacy"], LEGACY_PRICES)
    again = _render(SHIPPED["legacy"], dict(reversed(list(LEGACY_PRICES.items()))))
    moved = _render(
        SHIPPED["legacy"],
        {**LEGACY_PRICES, "legacy_annual": PriceInfo("price_new", "prod_legacy", "", "year")},
    )
    assert first.hash == again.hash
    assert moved.hash != first.hash
    edited = _preset(tmp_path, "features:\n  invoice_history: {enabled: false}\n", "read-only")
    assert _render(edited).hash != _render(SHIPPED["read-only"]).hash


@pytest.mark.parametrize(
    ("prices", "rule"),
    [
        ({"legacy_monthly": LEGACY_PRICES["legacy_monthly"]}, "lookup-key"),
        (
            {**LEGACY_PRICES, "legacy_annual": PriceInfo("price_x", "prod_legacy", "legacy_annual", "")},
            "recurring-only",
        ),
        (
            {**LEGACY_PRICES, "legacy_annual": PriceInfo("price_x", "prod_legacy", "legacy_annual", "month")},
            "one-price-per-interval",
        ),
    ],
)
def test_resolved_prices_follow_stripe_rules(prices: dict[str, PriceInfo], rule: str) -> None:
    """Unknown lookup keys, one-time prices and two prices per interval are refused at the key's line."""
    named = SHIPPED["legacy"]
    rendered, problems = render(named.name, named.preset, prices, named.located)
    assert rendered is None
    assert [p.rule for p in problems] == [rule]
    assert problems[0].line == 17  # the prices_by_lookup_key line of presets/legacy.yaml
    assert problems[0].where == "features.subscription_update.products[0].prices_by_lookup_key[1]"


def test_lookup_key_of_another_product_is_refused(tmp_path: Path) -> None:
    """A lookup key listed under a product must be a price of that product."""
    named = _preset(
        tmp_path,
        "features:\n  payment_method_update: {enabled: true}\n  subscription_update:\n    enabled: true\n"
        "    default_allowed_updates: [price]\n    products:\n      - product: prod_other\n"
        "        prices_by_lookup_key: [legacy_monthly]\n",
    )
    _, problems = render(named.name, named.preset, LEGACY_PRICES, named.located)
    assert [(p.rule, p.line) for p in problems] == [("lookup-key-product", 8)]


def test_more_than_ten_products_after_resolution_is_refused(tmp_path: Path) -> None:
    """Lookup keys that spread over eleven products break Stripe's limit of ten."""
    keys = [f"k{i}" for i in range(11)]
    named = _preset(
        tmp_path,
        "features:\n  payment_method_update: {enabled: true}\n  subscription_update:\n    enabled: true\n"
        "    default_allowed_updates: [price]\n    products:\n"
        f"      - prices_by_lookup_key: [{', '.join(keys)}]\n",
    )
    prices = {k: PriceInfo(f"price_{k}", f"prod_{k}", k, "month") for k in keys}
    _, problems = render(named.name, named.preset, prices, named.located)
    assert [p.rule for p in problems] == ["max-10-products"]


def test_update_clears_what_the_preset_left_out() -> None:
    """Updating in place blanks fields and metadata keys the preset no longer has, and reactivates."""
    params = _render(SHIPPED["read-only"]).params
    update = update_params(params, {"gateway_preset": "read-only", "team": "growth"})
    assert update["business_profile"] == {
        "headline": "",
        "privacy_policy_url": "",
        "terms_of_service_url": "",
    }
    assert update["default_return_url"] == ""
    assert update["metadata"]["team"] == ""
    assert update["metadata"]["gateway_hash"] == params["metadata"]["gateway_hash"]
    assert update["active"] is True
    assert "default_return_url" not in params  # the create form stays minimal


def test_differences_compare_only_what_the_preset_says() -> None:
    """Stripe's extra fields and list order are not differences; a changed value is, with its path."""
    params = _render(SHIPPED["legacy"], LEGACY_PRICES).params
    stripe_side = {
        "id": "bpc_1",
        "active": True,
        "default_return_url": None,
        "business_profile": {"headline": "Manage your legacy plan", "privacy_policy_url": None},
        "features": {
            **params["features"],
            "customer_update": {"enabled": True, "allowed_updates": ["tax_id", "email"]},
            "subscription_cancel": {
                **params["features"]["subscription_cancel"],
                "cancellation_reason": {"enabled": False, "options": []},
            },
            "subscription_update": {
                **params["features"]["subscription_update"],
                "products": [
                    {
                        "product": "prod_legacy",
                        "prices": ["price_la", "price_lm"],
                        "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": None},
                    }
                ],
            },
        },
        "login_page": {"enabled": False, "url": None},
        "metadata": dict(params["metadata"]),
        "name": params["name"],
    }
    assert differences(params, stripe_side) == []
    stripe_side["features"]["subscription_cancel"]["mode"] = "immediately"
    stripe_side["business_profile"]["headline"] = "Edited in the Dashboard"
    changed = {c.path: (c.stripe, c.preset) for c in differences(params, stripe_side)}
    assert changed == {
        "features.subscription_cancel.mode": ("immediately", "at_period_end"),
        "business_profile.headline": ("Edited in the Dashboard", "Manage your legacy plan"),
    }
