"""Presets to Stripe: resolve lookup keys, find the configuration again, create or update it in place.

One configuration per (Stripe account and mode, preset): found by its metadata ``gateway_preset``,
compared with the rendered parameters, updated in place when they differ (and reactivated if it
was deactivated), created only when none exists, with an idempotency key derived from the hash
so that gateways syncing at the same moment make one. The result is cached in
``portal_configurations``; ``plan`` does the same comparison and changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import stripe
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import GatewayError, PresetInvalid, StripeRejected
from gateway.models import PortalConfiguration, Workspace, utcnow
from gateway.presets.catalog import Catalog, NamedPreset, invalid
from gateway.presets.rendering import (
    Change,
    PriceInfo,
    Rendered,
    differences,
    lookup_keys_of,
    render,
    update_params,
)
from gateway.stripe_client import stripe_errors

#: Stripe's ``lookup_keys`` filter takes at most 10 keys.
LOOKUP_KEYS_PER_CALL = 10
_EXPAND_PRODUCTS = "features.subscription_update.products"

Action = Literal["create", "update", "unchanged"]


@dataclass
class SyncResult:
    """What sync did (or plan would do) for one preset."""

    preset: str
    action: Action
    configuration_id: str
    rendered: Rendered
    changes: list[Change] = field(default_factory=list)


async def resolve_prices(client: stripe.StripeClient, lookup_keys: Iterable[str]) -> dict[str, PriceInfo]:
    """The active prices with these lookup keys in the client's account and mode, by lookup key."""
    keys = list(dict.fromkeys(lookup_keys))
    found: dict[str, PriceInfo] = {}
    for start in range(0, len(keys), LOOKUP_KEYS_PER_CALL):
        chunk = keys[start : start + LOOKUP_KEYS_PER_CALL]
        with stripe_errors():
            page = await client.v1.prices.list_async(
                params={"lookup_keys": chunk, "active": True, "limit": 100}
            )
        for price in page.data:
            product = price.product if isinstance(price.product, str) else price.product.id
            recurring = price.recurring
            found[str(price.lookup_key)] = PriceInfo(
                id=price.id,
                product=product,
                lookup_key=str(price.lookup_key),
                interval=recurring.interval if recurring is not None else "",
                active=price.active,
            )
    return found


async def find_configuration(client: stripe.StripeClient, preset: str) -> dict[str, Any] | None:
    """The configuration tagged ``gateway_preset: <preset>`` (the newest active one), as a plain dict."""
    params: dict[str, Any] = {"limit": 100, "expand": [f"data.{_EXPAND_PRODUCTS}"]}
    candidates: list[dict[str, Any]] = []
    with stripe_errors():
        page = await client.v1.billing_portal.configurations.list_async(params=params)  # type: ignore[arg-type]
        async for configuration in page.auto_paging_iter():
            found = configuration.to_dict()
            if (found.get("metadata") or {}).get("gateway_preset") == preset:
                candidates.append(found)
    if not candidates:
        return None
    return max(candidates, key=lambda c: (bool(c.get("active")), int(c.get("created") or 0)))


async def _render(client: stripe.StripeClient, named: NamedPreset) -> Rendered:
    prices = await resolve_prices(client, lookup_keys_of(named.preset))
    rendered, problems = render(named.name, named.preset, prices, named.located)
    if rendered is None:
        raise invalid(named.name, problems)
    return rendered


def create_idempotency_key(workspace: Workspace, preset: str, hash_: str) -> str:
    """The same for every gateway creating this preset's configuration with these parameters."""
    return f"gw-config-{workspace.id}-{preset}-{hash_}"


async def plan(client: stripe.StripeClient, named: NamedPreset) -> SyncResult:
    """What sync would do for ``named``, and what differs in Stripe; changes nothing."""
    rendered = await _render(client, named)
    existing = await find_configuration(client, named.name)
    if existing is None:
        return SyncResult(named.name, "create", "", rendered)
    changes = differences(rendered.params, existing)
    if not existing.get("active", True):
        changes.append(Change("active", stripe=False, preset=True))
    return SyncResult(
        named.name, "update" if changes else "unchanged", str(existing["id"]), rendered, changes
    )


async def apply(client: stripe.StripeClient, workspace: Workspace, named: NamedPreset) -> SyncResult:
    """Make the Stripe configuration match ``named``: create it, update it in place, or leave it."""
    result = await plan(client, named)
    params = result.rendered.params
    try:
        with stripe_errors():
            if result.action == "create":
                key = create_idempotency_key(workspace, named.name, result.rendered.hash)
                created = await client.v1.billing_portal.configurations.create_async(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": key},
                )
                result.configuration_id = created.id
            elif result.action == "update":
                existing = await find_configuration(client, named.name) or {}
                await client.v1.billing_portal.configurations.update_async(
                    result.configuration_id,
                    params=update_params(params, existing.get("metadata") or {}),  # type: ignore[arg-type]
                )
    except StripeRejected as exc:
        msg = f"Stripe refused preset {named.name!r}: {exc.message}"
        raise PresetInvalid(msg, extra={"fields": [{"field": "preset", "message": exc.message}]}) from exc
    return result


async def record(
    session: AsyncSession, workspace_id: str, named: NamedPreset, result: SyncResult
) -> PortalConfiguration:
    """Cache the synced configuration of (workspace, preset) in the database (insert or replace)."""
    row = PortalConfiguration(
        workspace_id=workspace_id,
        preset=named.name,
        configuration_id=result.configuration_id,
        hash=result.rendered.hash,
        digest=named.digest,
        params=result.rendered.params,
        lookup_keys=dict(result.rendered.lookup_keys),
        stale=False,
        synced_at=utcnow(),
    )
    values = row.model_dump(exclude={"id"})
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(PortalConfiguration).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id", "preset"],
        set_={k: v for k, v in values.items() if k not in {"workspace_id", "preset"}},
    )
    await session.exec(statement)
    return row


def describe(result: SyncResult) -> dict[str, Any]:
    """A sync or plan result as JSON (for the CLI and the API)."""
    return {
        "preset": result.preset,
        "action": result.action,
        "configuration_id": result.configuration_id,
        "hash": result.rendered.hash,
        "changes": [{"path": c.path, "stripe": c.stripe, "preset": c.preset} for c in result.changes],
    }


async def sync_catalog(
    session: AsyncSession,
    client: stripe.StripeClient,
    workspace: Workspace,
    catalog: Catalog,
    *,
    changes: bool,
) -> list[dict[str, Any]]:
    """Plan (``changes=False``) or sync every preset of a workspace; one JSON item per preset.

    A preset that cannot be synced is reported with ``action: "invalid"`` (or ``"failed"`` when Stripe
    could not be reached) and its ``problems``; the others go ahead.
    """
    report: list[dict[str, Any]] = []
    for name in catalog.names():
        named = catalog.presets.get(name)
        if named is None:
            report.append(
                {"preset": name, "action": "invalid", "problems": [str(p) for p in catalog.problems[name]]}
            )
            continue
        try:
            if changes:
                result = await apply(client, workspace, named)
                await record(session, workspace.id, named, result)
            else:
                result = await plan(client, named)
        except PresetInvalid as exc:
            report.append({"preset": name, "action": "invalid", "problems": [exc.message]})
            continue
        except GatewayError as exc:
            report.append({"preset": name, "action": "failed", "problems": [exc.message]})
            continue
        report.append(describe(result))
    return report
