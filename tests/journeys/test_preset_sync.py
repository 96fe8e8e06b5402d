"""Presets meet Stripe: one configuration per preset, found again, updated in place, never piled up."""

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.cli import main
from gateway.models import Workspace
from gateway.presets import mark_stale, sync
from gateway.presets.catalog import load_files
from gateway.presets.sync import apply
from gateway.sandbox.seed import Seeded
from gateway.settings import Settings
from gateway.stripe_client import StripeClients
from gateway.vault import Vault
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import TEST_SECRET_KEY, Tenant, drop_schema, fresh_schema

pytestmark = pytest.mark.anyio

CONFIGURATIONS = "/v1/billing_portal/configurations"
GOLD: dict[str, Any] = {
    "business_profile": {"headline": "Gold billing"},
    "features": {"invoice_history": {"enabled": True}, "payment_method_update": {"enabled": True}},
}


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Seeded:
    return sandbox.seed()


def _gateway_configurations(sandbox: SandboxServer) -> list[dict[str, Any]]:
    every = sandbox.sandbox.store.all("billing_portal.configuration", livemode=False)
    return [c for c in every if (c.get("metadata") or {}).get("gateway_preset")]


async def _session(client: AsyncTestClient[Litestar], tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/portal-sessions", json=body, headers=tenant.headers("portal"))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_sync_endpoint_creates_then_leaves_alone(
    client: AsyncTestClient[Litestar], sandbox_tenant: Tenant, seeded: Seeded, stripe_calls: StripeCalls
) -> None:
    """POST /v1/presets/{name}/sync creates the configuration once; again, it changes nothing."""
    first = await client.post("/v1/presets/legacy/sync", headers=sandbox_tenant.headers())
    assert first.status_code == 200, first.text
    assert first.json()["action"] == "create"
    again = (await client.post("/v1/presets/legacy/sync", headers=sandbox_tenant.headers())).json()
    assert again["action"] == "unchanged"
    assert again["changes"] == []
    assert again["configuration_id"] == first.json()["configuration_id"]
    assert again["sync_state"] == "synced"
    assert again["stripe_params"]["metadata"]["gateway_hash"] == again["hash"]
    assert stripe_calls.count(f"POST {CONFIGURATIONS}") == 1


async def test_a_changed_preset_updates_its_configuration_in_place(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Editing a preset changes the same configuration on the next session; no new one is made."""
    ada = seeded.customers["ada@example.com"]
    await client.put("/v1/presets/gold", json=GOLD, headers=sandbox_tenant.headers())
    before = await _session(client, sandbox_tenant, customer=ada, preset="gold")
    edited = {
        **GOLD,
        "business_profile": {"headline": "Gold, renamed"},
        "features": {"invoice_history": {"enabled": True}},
    }
    listed = await client.put("/v1/presets/gold", json=edited, headers=sandbox_tenant.headers())
    assert listed.json()["sync_state"] == "changed"
    after = await _session(client, sandbox_tenant, customer=ada, preset="gold")
    assert after["configuration_id"] == before["configuration_id"]
    configuration = sandbox.client.v1.billing_portal.configurations.retrieve(after["configuration_id"])
    assert configuration.business_profile.headline == "Gold, renamed"
    assert configuration.features.payment_method_update.enabled is False
    assert len(_gateway_configurations(sandbox)) == 1


async def test_stale_configuration_is_checked_and_restored(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
) -> None:
    """Edited in Stripe, then marked stale (a webhook): the next sessions put it back as the preset says."""
    client.app.state.portal.cache.ttl = 0  # reload at every request: stands for the 5 s of another process
    ada = seeded.customers["ada@example.com"]
    first = await _session(client, sandbox_tenant, customer=ada, preset="legacy")
    configuration_id = first["configuration_id"]
    sandbox.client.v1.billing_portal.configurations.update(
        configuration_id, params={"business_profile": {"headline": "Edited in the Dashboard"}}
    )
    async with db() as session, session.begin():
        assert await mark_stale(session, sandbox_tenant.workspace_id, configuration_id)
    listed = (await client.get("/v1/presets/legacy", headers=sandbox_tenant.headers())).json()
    assert listed["sync_state"] == "stale"
    # The process sees the mark on its next reload (in the background), then restores the configuration.
    for _ in range(100):
        again = await _session(client, sandbox_tenant, customer=ada, preset="legacy")
        restored = sandbox.client.v1.billing_portal.configurations.retrieve(configuration_id)
        if restored.business_profile.headline != "Edited in the Dashboard":
            break
        await asyncio.sleep(0.02)
    assert again["configuration_id"] == configuration_id
    assert restored.business_profile.headline == "Manage your legacy plan"
    listed = (await client.get("/v1/presets/legacy", headers=sandbox_tenant.headers())).json()
    assert listed["sync_state"] == "synced"


async def test_deactivated_configuration_heals_on_the_next_session(
    client: AsyncTestClient[Litestar], sandbox: SandboxServer, sandbox_tenant: Tenant, seeded: Seeded
) -> None:
    """Deactivated in Stripe with no webhook heard: the session Stripe refuses is synced and retried once."""
    ada = seeded.customers["ada@example.com"]
    first = await _session(client, sandbox_tenant, customer=ada, preset="legacy")
    sandbox.client.v1.billing_portal.configurations.update(
        first["configuration_id"], params={"active": False}
    )
    again = await _session(client, sandbox_tenant, customer=ada, preset="legacy")
    assert again["configuration_id"] == first["configuration_id"]
    assert sandbox.client.v1.billing_portal.configurations.retrieve(first["configuration_id"]).active is True


async def test_an_existing_configuration_is_found_by_its_metadata(
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
) -> None:
    """A gateway with an empty database (a new install) reuses the configuration tagged for the preset."""
    settings: Settings = client.app.state.settings
    workspace = Workspace(
        id="ws_elsewhere",
        name="x",
        stripe_key_enc=Vault(settings.secret_keys()).encrypt(sandbox.secret_key),
        stripe_api_base=sandbox.api_base,
    )
    named = load_files([settings.presets_dir]).presets["legacy"]
    clients = StripeClients(settings, Vault(settings.secret_keys()))
    try:
        made = await apply(clients.client_for(workspace), workspace, named)
    finally:
        await clients.close()
    answer = await _session(
        client, sandbox_tenant, customer=seeded.customers["ada@example.com"], preset="legacy"
    )
    assert answer["configuration_id"] == made.configuration_id
    assert stripe_calls.count(f"POST {CONFIGURATIONS}") == 1


async def test_two_gateways_starting_at_once_make_one_configuration(
    settings: Settings,
    sandbox: SandboxServer,
    seeded: Seeded,
    stripe_calls: StripeCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes syncing the same preset at the same moment both create; Stripe makes one."""
    vault = Vault(settings.secret_keys())
    workspace = Workspace(
        id="ws_1",
        name="x",
        stripe_key_enc=vault.encrypt(sandbox.secret_key),
        stripe_api_base=sandbox.api_base,
    )
    named = load_files([settings.presets_dir]).presets["legacy"]
    first, second = StripeClients(settings, vault), StripeClients(settings, vault)
    # Both look for the configuration before either creates it: the race of two fresh gateways.
    both_looked = asyncio.Barrier(2)
    look = sync.find_configuration

    async def look_then_wait(client: Any, preset: str) -> Any:
        found = await look(client, preset)
        await both_looked.wait()
        return found

    monkeypatch.setattr(sync, "find_configuration", look_then_wait)
    try:
        results = await asyncio.gather(
            apply(first.client_for(workspace), workspace, named),
            apply(second.client_for(workspace), workspace, named),
        )
    finally:
        await first.close()
        await second.close()
    assert [r.action for r in results] == ["create", "create"]
    assert results[0].configuration_id == results[1].configuration_id
    assert stripe_calls.count(f"POST {CONFIGURATIONS}") == 2
    assert len(_gateway_configurations(sandbox)) == 1


@pytest.fixture
def cli_env(tmp_path: Path, sandbox: SandboxServer) -> Iterator[dict[str, str]]:
    """A migrated database of the test's own and a workspace on the sandbox (created with the CLI)."""
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL", "")
    env = {
        "GATEWAY_DATABASE_URL": url or f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_DATABASE_SCHEMA": asyncio.run(fresh_schema(url)) if url else "",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    created = runner.invoke(
        main,
        ["workspace", "create", "acme", "--stripe-key", sandbox.secret_key, "--api-base", sandbox.api_base],
        env=env,
    )
    assert created.exit_code == 0, created.output
    yield env
    if url:
        asyncio.run(drop_schema(url, env["GATEWAY_DATABASE_SCHEMA"]))


def _cli(env: dict[str, str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_plan_then_sync_then_plan(cli_env: dict[str, str], sandbox: SandboxServer, seeded: Seeded) -> None:
    """plan changes nothing; sync creates; plan then shows nothing to do, until Stripe drifts."""
    code, plan = _cli(cli_env, "presets", "plan", "--workspace", "acme")
    assert code == 0
    assert {item["preset"]: item["action"] for item in plan} == dict.fromkeys(
        ["billing-only", "cancel-only", "default", "legacy", "read-only"], "create"
    )
    assert _gateway_configurations(sandbox) == []
    code, synced = _cli(cli_env, "presets", "sync", "--workspace", "acme")
    assert code == 0
    assert {item["action"] for item in synced} == {"create"}
    assert len(_gateway_configurations(sandbox)) == 5
    _, plan = _cli(cli_env, "presets", "plan", "--workspace", "acme")
    assert {item["action"] for item in plan} == {"unchanged"}
    legacy = next(item for item in synced if item["preset"] == "legacy")
    sandbox.client.v1.billing_portal.configurations.update(
        legacy["configuration_id"], params={"features": {"subscription_cancel": {"enabled": False}}}
    )
    _, plan = _cli(cli_env, "presets", "plan", "--workspace", "acme")
    drifted = next(item for item in plan if item["preset"] == "legacy")
    assert drifted["action"] == "update"
    assert drifted["changes"] == [
        {"path": "features.subscription_cancel.enabled", "stripe": False, "preset": True}
    ]
    _, synced = _cli(cli_env, "presets", "sync", "--workspace", "acme")
    assert next(item for item in synced if item["preset"] == "legacy")["action"] == "update"
    assert len(_gateway_configurations(sandbox)) == 5
