"""Preset files: every rule is checked before Stripe sees anything, and named with its file and line."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.presets import catalog as catalog_module
from gateway.presets.catalog import load_file, load_files, load_folder

SHIPPED = Path(__file__).parent.parent / "presets"
HEADLINE_61 = "x" * 61

# (file body, rule, line of the problem)
BROKEN = [
    ("features: [\n", "yaml-syntax", 2),
    ("", "schema", 1),
    (
        "features:\n  invoice_history: {enabled: true}\n  invoice_history: {enabled: false}\n",
        "duplicate-key",
        3,
    ),
    ("features: {}\ncolour: blue\n", "schema", 2),
    ("features:\n  invoice_history: {enabled: yes please}\n", "schema", 2),
    ("features:\n  subscription_cancel: {enabled: true, mode: later}\n", "known-enum", 2),
    ("features:\n  customer_update: {enabled: true, allowed_updates: [shoe_size]}\n", "known-enum", 2),
    ("features:\n  invoice_history: {enabled: true}\nflow: subscription_pause\n", "known-enum", 3),
    (f"business_profile:\n  headline: {HEADLINE_61}\nfeatures: {{}}\n", "headline-max-60", 2),
    ("business_profile: {privacy_policy_url: example.com/p}\nfeatures: {}\n", "url", 1),
    (
        (
            "features:\n  payment_method_update: {enabled: true}\n  subscription_update:\n    enabled: true\n"
            "    default_allowed_updates: [price]\n"
        ),
        "update-needs-products",
        3,
    ),
    (
        (
            "features:\n  payment_method_update: {enabled: true}\n  subscription_update:\n    enabled: true\n"
            "    products: [{prices_by_lookup_key: [a]}]\n"
        ),
        "update-needs-allowed-updates",
        3,
    ),
    (
        (
            "features:\n  subscription_update:\n    enabled: true\n    default_allowed_updates: [price]\n"
            "    products: [{prices_by_lookup_key: [a]}]\n"
        ),
        "update-needs-payment-method-update",
        2,
    ),
    (
        "features:\n  payment_method_update: {enabled: true}\n  subscription_update:\n    enabled: true\n"
        "    default_allowed_updates: [price]\n    products:\n"
        + "".join(f"      - {{product: prod_{i}, prices: [price_{i}]}}\n" for i in range(11)),
        "max-10-products",
        6,
    ),
    (
        "features:\n  subscription_update:\n    enabled: false\n    products:\n      - {prices: [price_1]}\n",
        "product-entry",
        5,
    ),
    (
        "features:\n  subscription_update:\n    enabled: false\n    products:\n      - {product: prod_1}\n",
        "product-entry",
        5,
    ),
    (
        (
            "features:\n  subscription_update:\n    enabled: false\n    products:\n"
            "      - {product: prod_1, prices: [plan_1]}\n"
        ),
        "id-format",
        5,
    ),
    (
        (
            "features:\n  subscription_update:\n    enabled: false\n    products:\n"
            "      - {product: prod_1, prices: [price_1]}\n      - {product: prod_1, prices: [price_2]}\n"
        ),
        "duplicate-product",
        6,
    ),
    (
        (
            "features:\n  subscription_update:\n    enabled: false\n    products:\n"
            "      - prices_by_lookup_key: [gold]\n      - prices_by_lookup_key: [gold]\n"
        ),
        "duplicate-price",
        6,
    ),
    (
        (
            "features:\n  subscription_update:\n    enabled: false\n    products:\n      - product: prod_1\n"
            "        prices: [price_1]\n"
            "        adjustable_quantity: {enabled: true, minimum: 5, maximum: 2}\n"
        ),
        "quantity-bounds",
        7,
    ),
    (
        "features:\n  subscription_cancel: {enabled: true, proration_behavior: always_invoice}\n",
        "cancel-proration",
        2,
    ),
    (
        "features:\n  subscription_cancel: {enabled: true, proration_behavior: create_prorations}\n",
        "cancel-proration",
        2,
    ),
    (
        (
            "features:\n  subscription_cancel:\n    enabled: true\n    cancellation_reason: {enabled: true, "
            "options: []}\n"
        ),
        "cancellation-reason-options",
        4,
    ),
    (
        "features:\n  subscription_pause:\n    enabled: true\n    duration: {type: interval_options}\n",
        "pause-duration",
        4,
    ),
    (
        (
            "features:\n  subscription_pause:\n    enabled: true\n    duration:\n"
            "      type: interval_options\n"
            "      interval_options: [{interval: month, interval_count: 40}]\n"
        ),
        "pause-duration",
        6,
    ),
    ("features: {}\nmetadata: {gateway_preset: mine}\n", "metadata-limits", 2),
    ("features: {}\nmetadata: {'a[b]': c}\n", "metadata-limits", 2),
    ("features:\n  invoice_history: {enabled: true}\nflow: subscription_cancel\n", "flow-needs-feature", 3),
    ("features: {}\nallowed_return_urls: [ftp://example.com]\n", "url", 2),
    (
        (
            "features: {}\ndefault_return_url: https://other.example/account\n"
            "allowed_return_urls: [https://app.example/]\n"
        ),
        "return-url-allowed",
        2,
    ),
    ("features: {}\nmatch: {}\n", "match", 2),
    ("features: {}\nmatch: {prices: [legacy_monthly]}\n", "id-format", 2),
    (f"features: {{}}\ndescription: {'d' * 501}\n", "description-length", 2),
]


@pytest.mark.parametrize(
    ("body", "rule", "line"), BROKEN, ids=[f"{r}-{i}" for i, (_, r, _) in enumerate(BROKEN)]
)
def test_each_rule_names_file_line_and_rule(tmp_path: Path, body: str, rule: str, line: int) -> None:
    """A preset breaking one rule is refused with file:line, the place in the preset and the rule's name."""
    path = tmp_path / "broken.yaml"
    path.write_text(body, encoding="utf-8")
    named, problems = load_file(path)
    assert named is None
    assert [(p.rule, p.line) for p in problems][:1] == [(rule, line)], [str(p) for p in problems]
    assert str(problems[0]).startswith(f"{path}:{line}: ")
    assert str(problems[0]).endswith(f"[{rule}]")


@pytest.mark.parametrize("name", ["Legacy", "auto", "with space", "-x"])
def test_file_names_are_preset_names(tmp_path: Path, name: str) -> None:
    """The file name is the preset name: lower case, no spaces, and never the reserved 'auto'."""
    path = tmp_path / f"{name}.yaml"
    path.write_text("features: {}\n", encoding="utf-8")
    _, problems = load_file(path)
    assert [p.rule for p in problems] == ["name"]


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    """Rule problems are all listed at once, in line order, not one per run."""
    path = tmp_path / "many.yaml"
    path.write_text(
        f"business_profile:\n  headline: {HEADLINE_61}\nfeatures:\n  invoice_history: {{enabled: true}}\n"
        "flow: subscription_cancel\nmetadata: {gateway_x: y}\n",
        encoding="utf-8",
    )
    _, problems = load_file(path)
    assert [(p.rule, p.line) for p in problems] == [
        ("headline-max-60", 2),
        ("flow-needs-feature", 5),
        ("metadata-limits", 6),
    ]


def test_shipped_presets_are_valid() -> None:
    """The five presets shipped in presets/ follow every rule."""
    catalog = load_files([SHIPPED])
    assert catalog.problems == {}
    assert sorted(catalog.presets) == ["billing-only", "cancel-only", "default", "legacy", "read-only"]


def test_validate_command_exits_1_listing_problems(tmp_path: Path) -> None:
    """`gateway presets validate` prints file:line: problem for each problem and exits 1."""
    (tmp_path / "good.yaml").write_text("features: {invoice_history: {enabled: true}}\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("features:\n  subscription_cancel: {enabled: true, mode: x}\n")
    result = CliRunner().invoke(main, ["presets", "validate", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'bad.yaml'}:2: features.subscription_cancel.mode: Invalid enum value 'x' [known-enum]"
    ]
    assert "1 valid, 1 invalid" in result.stderr


def test_validate_command_passes_on_shipped_presets() -> None:
    """The shipped presets validate cleanly (exit 0, nothing on stdout)."""
    result = CliRunner().invoke(main, ["presets", "validate", str(SHIPPED)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "5 valid, 0 invalid" in result.stderr


def test_an_edited_preset_file_is_read_again_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is looked at once a second at most; a changed file is then read again."""
    clock = {"now": 1000.0}
    monkeypatch.setattr(catalog_module.time, "monotonic", lambda: clock["now"])
    path = tmp_path / "default.yaml"
    path.write_text("features: {invoice_history: {enabled: true}}\n", encoding="utf-8")
    first = load_folder(tmp_path)
    path.write_text("features: {invoice_history: {enabled: false}}\n# edited\n", encoding="utf-8")
    assert load_folder(tmp_path) is first  # within the second: not looked at
    clock["now"] += catalog_module.FOLDER_CHECK_S
    edited = load_folder(tmp_path)
    assert edited is not first
    assert edited.presets["default"].digest != first.presets["default"].digest
    clock["now"] += catalog_module.FOLDER_CHECK_S
    assert load_folder(tmp_path) is edited  # looked at again, unchanged: the same catalog
