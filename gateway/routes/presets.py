"""``/v1/presets``: the workspace's presets, its own overrides, and their sync to Stripe."""

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.examples import ANSWERS
from gateway.models import PortalConfiguration
from gateway.openapi import json_body
from gateway.presets import Catalog, workspace_catalog
from gateway.presets.store import delete_preset, put_preset, synced_configurations
from gateway.presets.sync import describe
from gateway.schemas import Page
from gateway.settings import Settings
from gateway.timestamps import iso


class PresetItem(msgspec.Struct):
    """A preset as the workspace sees it, with the Stripe configuration it was last synced to."""

    name: str
    #: ``file`` (GATEWAY_PRESETS_DIR) or ``workspace`` (PUT /v1/presets/{name}).
    origin: str
    description: str
    #: The deep link the preset always opens ("" for none).
    flow: str
    valid: bool
    #: What to fix, as ``source:line: where: what [rule]`` ("" entries never).
    problems: list[str]
    #: The preset as written.
    preset: dict[str, Any]
    configuration_id: str
    #: ``not_synced``, ``synced``, ``changed`` (the preset changed since), ``stale`` (the configuration
    #: changed in Stripe since) or ``invalid``.
    sync_state: str
    synced_at: str
    #: The parameters last sent to Stripe (lookup keys resolved), with their hash.
    stripe_params: dict[str, Any]
    hash: str
    ok: bool = True


class PresetSynced(PresetItem):
    """A preset just synced: what was done and what differed in Stripe before."""

    action: str = ""
    #: ``{"path", "stripe", "preset"}`` for each difference found (before an update).
    changes: list[dict[str, Any]] = msgspec.field(default_factory=list)


class PresetDeleted(msgspec.Struct):
    """A workspace preset was removed; a file preset of the same name may apply again."""

    name: str
    deleted: bool
    #: Whether a preset file of that name now applies to the workspace.
    file_preset_applies: bool
    ok: bool = True


def _sync_state(valid: bool, digest: str, row: PortalConfiguration | None) -> str:
    if not valid:
        return "invalid"
    if row is None:
        return "not_synced"
    if row.digest != digest:
        return "changed"
    return "stale" if row.stale else "synced"


def preset_item(name: str, catalog: Catalog, configurations: dict[str, PortalConfiguration]) -> PresetItem:
    """The listed form of preset ``name``."""
    row = configurations.get(name)
    named = catalog.presets.get(name)
    problems = [str(p) for p in catalog.problems.get(name, [])]
    return PresetItem(
        name=name,
        origin=named.origin if named else "",
        description=named.preset.description if named else "",
        flow=(named.preset.flow or "") if named else "",
        valid=named is not None,
        problems=problems,
        preset=msgspec.to_builtins(named.preset) if named else {},
        configuration_id=row.configuration_id if row else "",
        sync_state=_sync_state(named is not None, named.digest if named else "", row),
        synced_at=iso(row.synced_at) if row else "",
        stripe_params=row.params if row else {},
        hash=row.hash if row else "",
    )


async def _current(session: AsyncSession, settings: Settings, workspace_id: str, name: str) -> PresetItem:
    """Preset ``name`` as the workspace now sees it."""
    catalog = await workspace_catalog(session, settings, workspace_id)
    return preset_item(name, catalog, await synced_configurations(session, workspace_id))


CREATED = [Example(summary="A new workspace preset", value=ANSWERS["putPreset"])]


class PresetController(Controller):
    """The workspace's presets."""

    path = "/v1/presets"
    tags = ["presets"]  # noqa: RUF012

    @get(operation_id="listPresets", summary="List presets", guards=[requires_scope("portal")])
    async def list_presets(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> Page[PresetItem]:
        """Every preset the workspace can use (files and its own), with its sync state."""
        catalog = await workspace_catalog(session, settings, principal.workspace_id)
        configurations = await synced_configurations(session, principal.workspace_id)
        return Page(data=[preset_item(name, catalog, configurations) for name in catalog.names()])

    @get("/{name:str}", operation_id="getPreset", summary="Get a preset", guards=[requires_scope("portal")])
    async def get_preset(
        self,
        name: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
    ) -> PresetItem:
        """One preset, with its rendered Stripe parameters and sync state."""
        catalog = await workspace_catalog(session, settings, principal.workspace_id)
        if name not in catalog.problems:
            catalog.get(name)  # preset_not_found, with a suggestion
        return preset_item(name, catalog, await synced_configurations(session, principal.workspace_id))

    @put(
        "/{name:str}",
        operation_id="putPreset",
        summary="Create or replace a workspace preset",
        guards=[requires_scope("admin")],
        responses={
            201: ResponseSpec(PresetItem, generate_examples=False, description="Created", examples=CREATED)
        },
    )
    async def put_preset(
        self,
        *,
        name: FromPath[str],
        data: Annotated[dict[str, Any], json_body("putPreset")],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        state: State,
    ) -> Response[PresetItem]:
        """Store a preset for this workspace only (same schema as a preset file, as JSON).

        It replaces a file preset of the same name for this workspace. 201 when new, 200 when replaced;
        a preset that breaks a rule answers 422 ``preset_invalid`` naming each problem in ``fields``.
        """
        _, created = await put_preset(session, principal.workspace_id, name, data)
        item = await _current(session, settings, principal.workspace_id, name)
        await session.commit()
        state.portal.cache.forget(principal.workspace_id)
        return Response(item, status_code=201 if created else 200)

    @delete(
        "/{name:str}",
        operation_id="deletePreset",
        summary="Delete a workspace preset",
        status_code=200,
        guards=[requires_scope("admin")],
    )
    async def delete_preset(
        self,
        *,
        name: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        state: State,
    ) -> PresetDeleted:
        """Remove the workspace's own preset; a preset file of the same name applies again."""
        await delete_preset(session, principal.workspace_id, name)
        catalog = await workspace_catalog(session, settings, principal.workspace_id)
        await session.commit()
        state.portal.cache.forget(principal.workspace_id)
        applies = name in catalog.presets or name in catalog.problems
        return PresetDeleted(name=name, deleted=True, file_preset_applies=applies)

    @post(
        "/{name:str}/sync",
        operation_id="syncPreset",
        summary="Sync a preset to Stripe now",
        status_code=200,
        guards=[requires_scope("admin")],
    )
    async def sync_preset(
        self,
        *,
        name: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        state: State,
    ) -> PresetSynced:
        """Create or update the preset's Stripe configuration now (lookup keys resolved again).

        ``action`` says what was done (``create``, ``update`` or ``unchanged``) and ``changes`` what
        differed in Stripe before.
        """
        result, _ = await state.portal.sync(principal.workspace_id, name)
        item = await _current(session, settings, principal.workspace_id, name)
        described = describe(result)
        return PresetSynced(
            **msgspec.structs.asdict(item), action=result.action, changes=described["changes"]
        )
