"""``/v1/keys``: a workspace's API keys (admin)."""

from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.keys import create_key, list_keys, revoke_key
from gateway.models import ApiKey
from gateway.openapi import json_body
from gateway.schemas import MAX_PAGE_SIZE, Page, page_of
from gateway.timestamps import iso
from gateway.workspaces import get_workspace


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new key's scope and label."""

    scope: Literal["portal", "admin"] = "portal"
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class Key(msgspec.Struct):
    """An API key as listed: never the key itself, only its first characters."""

    id: str
    name: str
    scope: str
    prefix: str
    created_at: str
    last_used_at: str
    revoked: bool
    ok: bool = True

    @classmethod
    def of(cls, key: ApiKey) -> "Key":
        """The listed form of a stored key."""
        return cls(
            id=key.id,
            name=key.name,
            scope=key.scope,
            prefix=key.prefix,
            created_at=iso(key.created_at),
            last_used_at=iso(key.last_used_at),
            revoked=key.revoked_at is not None,
        )


class CreatedKey(Key):
    """A new key, with the key itself (``api_key``): shown this once, stored only as a hash."""

    api_key: str = ""


class KeyController(Controller):
    """The workspace's API keys."""

    path = "/v1/keys"
    tags = ["keys"]  # noqa: RUF012
    guards = [requires_scope("admin")]  # noqa: RUF012

    @get(operation_id="listKeys", summary="List API keys")
    async def list_keys(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: Annotated[str, QueryParameter(description="next_cursor of the previous page")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    ) -> Page[Key]:
        """Every key of the workspace, revoked ones included, oldest first."""
        rows = await list_keys(session, workspace_id=principal.workspace_id, after=cursor, limit=limit + 1)
        return page_of([Key.of(row) for row in rows], limit, lambda key: key.id)

    @post(operation_id="createKey", summary="Create an API key")
    async def create_key(
        self,
        data: Annotated[KeyCreate, json_body("createKey")],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> CreatedKey:
        """A new key; ``api_key`` is shown in this answer only."""
        workspace = await get_workspace(session, principal.workspace_id)
        key, raw = await create_key(session, workspace=workspace, scope=data.scope, name=data.name)
        return CreatedKey(**msgspec.structs.asdict(Key.of(key)), api_key=raw)

    @delete("/{key_id:str}", operation_id="revokeKey", summary="Revoke an API key", status_code=200)
    async def revoke_key(
        self,
        key_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        state: State,
    ) -> Key:
        """Revoke a key: it stops working at once (in every process within seconds)."""
        key = await revoke_key(session, key_id=key_id, workspace_id=principal.workspace_id)
        await session.commit()  # before forgetting, so no request re-caches the key as valid
        state.authenticator.forget()
        return Key.of(key)
