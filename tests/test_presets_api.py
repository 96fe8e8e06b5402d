"""/v1/presets: file presets, a workspace's own presets overriding them for it alone, and errors."""

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio

GOLD: dict[str, Any] = {
    "description": "Gold customers: invoices and cards.",
    "business_profile": {"headline": "Gold billing"},
    "features": {"invoice_history": {"enabled": True}, "payment_method_update": {"enabled": True}},
    "allowed_return_urls": ["https://app.example/"],
}


async def test_lists_the_shipped_presets(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A portal key sees every shipped preset, not yet synced to Stripe."""
    response = await client.get("/v1/presets", headers=tenant.headers("portal"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["has_more"] is False
    items = {item["name"]: item for item in body["data"]}
    assert sorted(items) == ["billing-only", "cancel-only", "default", "legacy", "read-only"]
    legacy = items["legacy"]
    assert legacy["origin"] == "file"
    assert legacy["valid"] is True
    assert legacy["sync_state"] == "not_synced"
    assert legacy["configuration_id"] == ""
    assert legacy["preset"]["match"] == {"prices_by_lookup_key": ["legacy_monthly", "legacy_annual"]}


async def test_unknown_preset_suggests_the_close_one(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A typo answers preset_not_found with the name it probably meant."""
    body = assert_error(
        await client.get("/v1/presets/legcy", headers=tenant.headers()), 404, "preset_not_found"
    )
    assert body["error_message"] == "No preset named 'legcy'. Did you mean 'legacy'?"


async def test_workspace_preset_overrides_for_that_workspace_only(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    """PUT replaces the file preset of that name for the workspace; other workspaces keep the file."""
    created = await client.put("/v1/presets/legacy", json=GOLD, headers=tenant.headers())
    assert created.status_code == 201, created.text
    assert created.json()["origin"] == "workspace"
    replaced = await client.put("/v1/presets/legacy", json=GOLD, headers=tenant.headers())
    assert replaced.status_code == 200
    mine = (await client.get("/v1/presets/legacy", headers=tenant.headers("portal"))).json()
    theirs = (await client.get("/v1/presets/legacy", headers=other_tenant.headers("portal"))).json()
    assert mine["origin"] == "workspace"
    assert mine["description"] == "Gold customers: invoices and cards."
    assert theirs["origin"] == "file"
    assert theirs["description"].startswith("Customers on legacy plans")


async def test_new_workspace_preset_is_listed(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A workspace may add presets of its own besides the files."""
    assert (await client.put("/v1/presets/gold", json=GOLD, headers=tenant.headers())).status_code == 201
    names = [i["name"] for i in (await client.get("/v1/presets", headers=tenant.headers())).json()["data"]]
    assert "gold" in names


async def test_invalid_workspace_preset_names_each_problem(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A preset breaking rules answers 422 preset_invalid, each problem in fields; nothing is stored."""
    broken = {
        "business_profile": {"headline": "x" * 61},
        "features": {"subscription_update": {"enabled": True, "default_allowed_updates": ["price"]}},
    }
    response = await client.put("/v1/presets/broken", json=broken, headers=tenant.headers())
    body = assert_error(response, 422, "preset_invalid")
    fields = [(f["field"], f["message"].rsplit(" ", 1)[-1]) for f in body["fields"]]
    assert fields == [
        ("business_profile.headline", "[headline-max-60]"),
        ("features.subscription_update", "[update-needs-products]"),
        ("features.subscription_update", "[update-needs-payment-method-update]"),
    ]
    assert "workspace preset 'broken'" in body["error_message"]
    assert_error(await client.get("/v1/presets/broken", headers=tenant.headers()), 404, "preset_not_found")


async def test_schema_errors_are_preset_invalid(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Unknown keys and enum values are refused like any other rule."""
    response = await client.put(
        "/v1/presets/x",
        json={"features": {"subscription_cancel": {"enabled": True, "mode": "later"}}},
        headers=tenant.headers(),
    )
    body = assert_error(response, 422, "preset_invalid")
    assert body["fields"][0]["field"] == "features.subscription_cancel.mode"
    assert "[known-enum]" in body["fields"][0]["message"]


async def test_auto_is_not_a_preset_name(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """'auto' is reserved for picking a preset."""
    assert_error(
        await client.put("/v1/presets/auto", json=GOLD, headers=tenant.headers()), 422, "preset_invalid"
    )


async def test_portal_keys_cannot_change_presets(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Writing presets needs an admin key."""
    response = await client.put("/v1/presets/gold", json=GOLD, headers=tenant.headers("portal"))
    assert_error(response, 403, "forbidden_scope")
    assert_error(
        await client.delete("/v1/presets/gold", headers=tenant.headers("portal")), 403, "forbidden_scope"
    )


async def test_delete_restores_the_file_preset(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Deleting an override brings the file preset back; deleting again is preset_not_found."""
    await client.put("/v1/presets/legacy", json=GOLD, headers=tenant.headers())
    response = await client.delete("/v1/presets/legacy", headers=tenant.headers())
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "legacy", "deleted": True, "file_preset_applies": True, "ok": True}
    assert (await client.get("/v1/presets/legacy", headers=tenant.headers())).json()["origin"] == "file"
    assert_error(await client.delete("/v1/presets/legacy", headers=tenant.headers()), 404, "preset_not_found")


async def test_delete_a_workspace_only_preset(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Deleting a preset no file has removes it entirely."""
    await client.put("/v1/presets/gold", json=GOLD, headers=tenant.headers())
    response = await client.delete("/v1/presets/gold", headers=tenant.headers())
    assert response.json()["file_preset_applies"] is False
    assert_error(await client.get("/v1/presets/gold", headers=tenant.headers()), 404, "preset_not_found")
