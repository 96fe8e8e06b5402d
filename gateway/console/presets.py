"""Presets: what each portal shows, its sync state, a preview URL, and the Bubble settings to copy."""

from typing import Any

import yaml
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.console.bubble import connector_settings
from gateway.console.pages import page, see_other
from gateway.console.session import Admin
from gateway.console.wording import describe
from gateway.errors import GatewayError, ValidationFailed
from gateway.portal.checks import PortalAsk
from gateway.portal.sessions import PortalSession
from gateway.presets import workspace_catalog
from gateway.presets.store import synced_configurations
from gateway.routes.presets import preset_item
from gateway.settings import Settings


@get("/presets", name="console-presets")
async def presets_page(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Template:
    """Every preset the workspace can use, with its sync state."""
    catalog = await workspace_catalog(session, settings, admin.workspace.id)
    configurations = await synced_configurations(session, admin.workspace.id)
    items = [preset_item(name, catalog, configurations) for name in catalog.names()]
    return page("presets.html", request, admin, presets=items)


async def _preset(
    request: Request[Any, Any, State],
    admin: Admin,
    session: AsyncSession,
    settings: Settings,
    name: str,
    *,
    customer: str = "",
    preview: PortalSession | None = None,
    error: GatewayError | None = None,
) -> Template:
    catalog = await workspace_catalog(session, settings, admin.workspace.id)
    if name not in catalog.problems:
        catalog.get(name)  # preset_not_found, with a suggestion
    item = preset_item(name, catalog, await synced_configurations(session, admin.workspace.id))
    named = catalog.presets.get(name)
    said, left_out = describe(named.preset) if named else ([], "")
    return page(
        "preset.html",
        request,
        admin,
        status_code=error.status if error else 200,
        item=item,
        said=said,
        left_out=left_out,
        written=yaml.safe_dump(item.preset, sort_keys=False, allow_unicode=True) if item.preset else "",
        bubble=connector_settings(
            settings.public_url, named, workspace_name=admin.workspace.name, livemode=admin.workspace.livemode
        )
        if named
        else None,
        can_preview=not admin.workspace.livemode,
        customer=customer,
        preview=preview,
        error=error.message if error else "",
    )


@get("/presets/{name:str}", name="console-preset")
async def preset_page(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    name: FromPath[str],
) -> Template:
    """One preset: its features in words, sync state, problems, preview and Bubble settings."""
    return await _preset(request, admin, session, settings, name)


def ask_for(customer: str, preset: str) -> PortalAsk:
    """A portal request for whoever ``customer`` names: a Stripe ID, an email or the app's user ID."""
    customer = customer.strip()
    if customer.startswith("cus_"):
        return PortalAsk(customer=customer, preset=preset)
    if "@" in customer:
        return PortalAsk(email=customer, preset=preset)
    return PortalAsk(external_user_id=customer, preset=preset)


@post("/presets/{name:str}/preview", status_code=200)
async def preview(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    name: FromPath[str],
) -> Template:
    """A real portal URL for a customer, in test mode only (a live one would reach a real customer's)."""
    customer = str((await request.form()).get("customer", "")).strip()
    try:
        if admin.workspace.livemode:
            msg = "Previews are for test mode: this workspace is live."
            raise ValidationFailed(msg, field="customer")
        if not customer:
            msg = "Enter a customer: an ID (cus_...), an email or your app's user ID."
            raise ValidationFailed(msg, field="customer")
        made = await request.app.state.portal.create_session(admin.workspace.id, ask_for(customer, name))
    except GatewayError as exc:
        return await _preset(request, admin, session, settings, name, customer=customer, error=exc)
    return await _preset(request, admin, session, settings, name, customer=customer, preview=made)


@post("/presets/{name:str}/sync", status_code=303)
async def sync(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    name: FromPath[str],
) -> Response[Any]:
    """Create or update the preset's Stripe configuration now."""
    try:
        await request.app.state.portal.sync(admin.workspace.id, name)
    except GatewayError as exc:
        return await _preset(request, admin, session, settings, name, error=exc)
    return see_other(f"/console/presets/{name}", notice="synced")


HANDLERS = [presets_page, preset_page, preview, sync]
