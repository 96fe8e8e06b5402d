"""What `preset: auto` picks for a subscription, and marking a configuration stale (webhooks-in's API)."""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import PortalConfiguration
from gateway.presets import auto_preset, choose_preset, mark_stale
from gateway.presets.catalog import from_body, load_files
from gateway.presets.store import put_preset
from gateway.settings import Settings
from tests.support import Tenant

pytestmark = pytest.mark.anyio

SHIPPED = load_files([Path(__file__).parent.parent / "presets"]).presets


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"price_id": "price_1", "price_lookup_key": "legacy_annual", "product_id": "prod_1"}], "legacy"),
        (
            [
                {"price_id": "price_2", "price_lookup_key": "pro_monthly"},
                {"price_lookup_key": "legacy_monthly"},
            ],
            "legacy",
        ),
        ([{"price_id": "price_2", "price_lookup_key": "pro_monthly", "product_id": "prod_pro"}], "default"),
        ([], "default"),
        ([{"price_id": "", "price_lookup_key": "", "product_id": ""}], "default"),
    ],
)
def test_choose_preset_by_lookup_key(items: list[dict[str, str]], expected: str) -> None:
    """A subscription on a legacy price gets legacy; anything else gets default (never "")."""
    assert choose_preset(SHIPPED, items) == expected


def test_match_by_price_and_product_and_name_order() -> None:
    """match may list price IDs or products; when several presets match, the first by name wins."""
    presets = {
        **SHIPPED,
        "zeta": from_body("zeta", {"features": {}, "match": {"products": ["prod_pro"]}}),
        "alpha": from_body("alpha", {"features": {}, "match": {"prices": ["price_2"]}}),
    }
    assert choose_preset(presets, [{"price_id": "price_9", "product_id": "prod_pro"}]) == "zeta"
    assert choose_preset(presets, [{"price_id": "price_2", "product_id": "prod_pro"}]) == "alpha"


async def test_auto_preset_sees_workspace_presets(
    db: async_sessionmaker[AsyncSession], settings: Settings, tenant: Tenant, other_tenant: Tenant
) -> None:
    """A workspace preset's match counts for that workspace only."""
    async with db() as session, session.begin():
        await put_preset(
            session, tenant.workspace_id, "vip", {"features": {}, "match": {"prices": ["price_vip"]}}
        )
    items = [{"price_id": "price_vip", "price_lookup_key": "", "product_id": "prod_x"}]
    async with db() as session:
        assert await auto_preset(session, settings, tenant.workspace_id, items) == "vip"
        assert await auto_preset(session, settings, other_tenant.workspace_id, items) == "default"


async def test_mark_stale_flags_only_that_workspace_configuration(
    db: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    """mark_stale flags the workspace's row for that configuration, and says whether it knew it."""
    async with db() as session, session.begin():
        for workspace_id in (tenant.workspace_id, other_tenant.workspace_id):
            session.add(
                PortalConfiguration(
                    workspace_id=workspace_id, preset="legacy", configuration_id="bpc_1", hash="h", digest="d"
                )
            )
    async with db() as session, session.begin():
        assert await mark_stale(session, tenant.workspace_id, "bpc_1") is True
        assert await mark_stale(session, tenant.workspace_id, "bpc_unknown") is False
    async with db() as session:
        rows = (await session.exec(select(PortalConfiguration))).all()
    assert {(r.workspace_id, r.stale) for r in rows} == {
        (tenant.workspace_id, True),
        (other_tenant.workspace_id, False),
    }
