"""POST /v1/portal-sessions without Stripe: dry runs, and every refusal that needs no Stripe call.

Stripe is unreachable here (port 9), so any Stripe call would fail the test.
"""

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from gateway.workspaces import get_workspace, set_allowed_return_urls
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

KEYS = {
    "ok",
    "url",
    "session_id",
    "preset",
    "configuration_id",
    "customer_id",
    "flow",
    "expires_at",
    "expires_at_unix",
    "livemode",
    "request_id",
}


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, stripe_api_base="http://127.0.0.1:9")


async def _post(client: AsyncTestClient[Litestar], tenant: Tenant, body: dict[str, Any], **kw: Any) -> Any:
    headers = {**tenant.headers("portal"), **kw.pop("headers", {})}
    return await client.post("/v1/portal-sessions", json=body, headers=headers, **kw)


async def test_dry_run_answers_the_full_shape(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """dry_run returns every key filled, never null, without calling Stripe."""
    response = await _post(client, tenant, {"customer": "cus_123", "preset": "legacy", "dry_run": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == KEYS
    assert all(value is not None for value in body.values())
    assert body["ok"] is True
    assert body["url"].startswith("https://billing.stripe.com/p/session/test_")
    assert body["preset"] == "legacy"
    assert body["customer_id"] == "cus_123"
    assert body["configuration_id"].startswith("bpc_")
    assert body["expires_at_unix"] > 0
    assert body["expires_at"].endswith("Z")
    assert body["request_id"] == response.headers["x-request-id"]


async def test_dry_run_header(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """X-Dry-Run: 1 does the same for tools that cannot change the body between runs."""
    response = await _post(client, tenant, {"email": "ada@example.com"}, headers={"X-Dry-Run": "1"})
    assert response.status_code == 200, response.text
    assert response.json()["preset"] == "default"
    assert response.json()["customer_id"] == "cus_dry_run_example"


async def test_error_body_carries_the_success_keys(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """An error repeats every success key, empty, so a schema learned from success still fits."""
    response = await _post(client, tenant, {"customer": "cus_1", "preset": "legcy"})
    body = assert_error(response, 404, "preset_not_found")
    assert body["error_message"] == "No preset named 'legcy'. Did you mean 'legacy'?"
    assert set(body) >= KEYS
    assert body["url"] == ""
    assert body["expires_at_unix"] == 0
    assert body["livemode"] is False


async def test_errors_as_200(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """?errors_as_200=1 answers an error with 200 and ok: false, for tools that drop error bodies."""
    response = await _post(
        client, tenant, {"customer": "cus_1", "preset": "legcy"}, params={"errors_as_200": "1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == "preset_not_found"
    assert body["status"] == 404
    assert body["url"] == ""


async def test_validation_errors_carry_the_success_keys(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """Even a body the framework refuses (unknown locale) answers with the success keys."""
    body = assert_error(
        await _post(client, tenant, {"customer": "cus_1", "locale": "xx"}), 400, "validation_error"
    )
    assert body["fields"][0]["field"] == "locale"
    assert body["session_id"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "customer"),
        ({"customer": "cus_1", "email": "a@example.com"}, "customer"),
        ({"customer": "ada@example.com"}, "customer"),
        ({"customer": "cus_1", "preset": "billing-only", "flow": "subscription_cancel"}, "flow"),
        ({"customer": "cus_1", "preset": "legacy", "flow": "subscription_update_confirm"}, "price"),
        ({"customer": "cus_1", "price": "price_1"}, "price"),
        ({"customer": "cus_1", "return_url": "javascript:alert(1)"}, "return_url"),
        ({"customer": "cus_1", "unknown": 1}, "unknown"),
    ],
)
async def test_refused_before_stripe(
    client: AsyncTestClient[Litestar], tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    """Requests that cannot work are refused with validation_error naming the field, without Stripe."""
    response = await _post(client, tenant, body)
    result = assert_error(response, 400, "validation_error")
    assert result["fields"][0]["field"] == field, result


async def test_return_url_must_be_allowed(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A return URL outside the preset's and workspace's allowed URLs is return_url_not_allowed."""
    gold = {
        "features": {"invoice_history": {"enabled": True}},
        "allowed_return_urls": ["https://app.example/account"],
    }
    await client.put("/v1/presets/gold", json=gold, headers=tenant.headers())
    ok = await _post(
        client,
        tenant,
        {
            "customer": "cus_1",
            "preset": "gold",
            "return_url": "https://app.example/account?tab=1",
            "dry_run": True,
        },
    )
    assert ok.status_code == 200, ok.text
    for url in (
        "https://app.example/accounting",
        "https://evil.example/account",
        "http://app.example/account",
    ):
        response = await _post(client, tenant, {"customer": "cus_1", "preset": "gold", "return_url": url})
        body = assert_error(response, 400, "return_url_not_allowed")
        assert "allowed_return_urls" in body["error_message"]


async def test_the_workspaces_return_urls_serve_every_preset(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A return URL under the workspace's allowed URLs (gateway workspace update) passes any preset."""
    async with db() as session, session.begin():
        set_allowed_return_urls(await get_workspace(session, tenant.workspace_id), ["https://shop.example/"])
    body = {"customer": "cus_1", "preset": "default", "dry_run": True}
    ok = await _post(client, tenant, {**body, "return_url": "https://shop.example/account"})
    assert ok.status_code == 200, ok.text
    refused = await _post(client, tenant, {**body, "return_url": "https://elsewhere.example/"})
    assert_error(refused, 400, "return_url_not_allowed")


async def test_invalid_file_preset_is_preset_invalid(
    tmp_path: Path, database: Database, tenant: Tenant
) -> None:
    """A broken preset file answers preset_invalid with its problems (the rest keep working)."""
    from gateway.app import create_app

    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "default.yaml").write_text("features: {invoice_history: {enabled: true}}\n")
    (folder / "broken.yaml").write_text("features:\n  subscription_cancel: {enabled: true, mode: later}\n")
    settings = make_settings(tmp_path, database, stripe_api_base="http://127.0.0.1:9", presets_dir=folder)
    async with AsyncTestClient(create_app(settings), base_url="http://testserver.local") as client:
        body = assert_error(
            await _post(client, tenant, {"customer": "cus_1", "preset": "broken"}), 422, "preset_invalid"
        )
        assert "broken.yaml:2" in body["error_message"]
        ok = await _post(client, tenant, {"customer": "cus_1", "dry_run": True})
        assert ok.status_code == 200, ok.text
