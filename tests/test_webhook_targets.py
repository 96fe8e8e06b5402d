"""Workspaces and their signing secrets, cached: read ahead of expiry, never served past it."""

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import webhook_targets
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.webhook_targets import WebhookTargets
from gateway.workspaces import set_webhook_secrets
from tests import stripe_payloads as sp
from tests.support import Tenant, make_tenant, statements

pytestmark = pytest.mark.anyio

OLD_SECRET = "whsec_test_previous_0123456789abcdef"


@pytest.fixture
async def tenant(db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings) -> Tenant:
    """A workspace with its Stripe signing secret."""
    made = await make_tenant(db, vault, settings, "acme")
    await sp.enable_webhooks(db, vault, made.workspace_id, subscriber=False)
    return made


def _clocked(
    db: async_sessionmaker[AsyncSession], vault: Vault
) -> tuple[WebhookTargets, dict[str, float], float]:
    """Targets on a clock the test moves (``clock["now"]``), and the moment it starts at."""
    started = time.monotonic()
    clock = {"now": started}
    return WebhookTargets(db, vault, clock=lambda: clock["now"]), clock, started


async def _hooked_tenants(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> list[Tenant]:
    """Five workspaces that receive Stripe events."""
    tenants = [await make_tenant(db, vault, settings, f"shop-{n}") for n in range(5)]
    for tenant in tenants:
        await sp.enable_webhooks(db, vault, tenant.workspace_id, subscriber=False)
    return tenants


async def test_secrets_changed_elsewhere_are_read_ahead_of_expiry_and_never_served_past_it(
    tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Near its expiry an entry still answers while it is read again; once expired, nobody gets it."""
    targets, clock, started = _clocked(db, vault)

    async def change_secrets_elsewhere(secrets: list[str]) -> None:  # another process: no forget()
        async with db() as session, session.begin():
            workspace = await session.get(Workspace, tenant.workspace_id)
            assert workspace is not None
            set_webhook_secrets(vault, workspace, secrets)
            session.add(workspace)

    async def secrets_now() -> tuple[str, ...]:
        target = await targets.get(tenant.workspace_id)
        assert target is not None
        return target.secrets

    assert await secrets_now() == (sp.SECRET,)
    await change_secrets_elsewhere([OLD_SECRET])
    clock["now"] = started + webhook_targets.CACHE_TTL_S - webhook_targets.REFRESH_AHEAD_S / 2
    assert await secrets_now() == (sp.SECRET,)  # still valid: answered at once, read again meanwhile
    for _ in range(100):
        await asyncio.sleep(0.01)
        if await secrets_now() == (OLD_SECRET,):
            break
    assert await secrets_now() == (OLD_SECRET,)
    await change_secrets_elsewhere([sp.SECRET])
    clock["now"] += webhook_targets.CACHE_TTL_S + 1  # expired: the answer waits for the database
    assert await secrets_now() == (sp.SECRET,)


async def test_entries_due_are_read_again_together_in_one_query(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """Five workspaces near expiry are read again with one query, not one each; all keep answering."""
    tenants = await _hooked_tenants(db, vault, settings)
    targets, clock, started = _clocked(db, vault)
    for tenant in tenants:
        assert await targets.get(tenant.workspace_id) is not None
    with statements(db) as queries:
        clock["now"] = started + webhook_targets.CACHE_TTL_S - webhook_targets.REFRESH_AHEAD_S / 2
        # Events keep coming while the read is out: they are answered, and add no second read.
        for _ in range(300):
            for tenant in tenants:
                target = await targets.get(tenant.workspace_id)
                assert target is not None
                assert target.secrets == (sp.SECRET,)
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
    assert len(queries) == 1
    clock["now"] = started + webhook_targets.CACHE_TTL_S + 0.1  # the old entries' expiry: renewed since
    with statements(db) as queries:
        for tenant in tenants:
            assert await targets.get(tenant.workspace_id) is not None
    assert queries == []


async def test_an_unknown_workspace_is_none_and_stays_cached(
    db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """No such workspace (or an ID too long to be one) is None, without a query per event."""
    targets = WebhookTargets(db, vault)
    with statements(db) as queries:
        assert await targets.get("ws_missing") is None
        assert await targets.get("ws_missing") is None
        assert await targets.get("ws_" + "x" * 60) is None
    assert len(queries) == 1


async def test_entries_loaded_at_scattered_moments_come_to_be_read_together(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """The first reread also takes the entries due within the next second; after it they expire together."""
    tenants = await _hooked_tenants(db, vault, settings)
    targets, clock, started = _clocked(db, vault)
    for n, tenant in enumerate(tenants):  # first events 0.2 s apart: expiries 0.2 s apart
        clock["now"] = started + 0.2 * n
        assert await targets.get(tenant.workspace_id) is not None
    # Only the first entry is in its refresh window; the others are 0.2-1.0 s from theirs.
    clock["now"] = started + webhook_targets.CACHE_TTL_S - webhook_targets.REFRESH_AHEAD_S + 0.1
    with statements(db) as queries:
        assert await targets.get(tenants[0].workspace_id) is not None
        await asyncio.sleep(0.05)
    assert len(queries) == 1
    # A lifetime later every entry is in its refresh window at once: one query for all, none waits.
    clock["now"] += webhook_targets.CACHE_TTL_S - webhook_targets.REFRESH_AHEAD_S / 2
    with statements(db) as queries:
        for tenant in tenants:
            assert await targets.get(tenant.workspace_id) is not None
        await asyncio.sleep(0.05)
    assert len(queries) == 1


async def test_entries_asked_for_at_once_are_loaded_in_one_query(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """After a quiet spell, the first events for five workspaces (and an unknown one) make one query."""
    tenants = await _hooked_tenants(db, vault, settings)
    targets = WebhookTargets(db, vault)
    asked = [tenant.workspace_id for tenant in tenants for _ in range(3)] + ["ws_unknown"]
    with statements(db) as queries:
        found = await asyncio.gather(*(targets.get(workspace_id) for workspace_id in asked))
    assert len(queries) == 1
    assert [target.workspace.id if target else None for target in found] == [*asked[:-1], None]
    assert all(target.secrets == (sp.SECRET,) for target in found if target)
