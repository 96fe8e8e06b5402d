"""API keys: minted once, stored as SHA-256, listed by prefix, revoked by ID."""

import hashlib
import secrets
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound, ValidationFailed
from gateway.ids import new_id
from gateway.models import ApiKey, Workspace, utcnow

Scope = Literal["portal", "admin"]
SCOPES: tuple[Scope, ...] = ("portal", "admin")
PREFIX_LENGTH = 12  # "gw_test_" + 4 characters of the secret part


def hash_key(raw_key: str) -> str:
    """The stored form of an API key: SHA-256, hex."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def mint_key(*, livemode: bool) -> str:
    """A new raw key: ``gw_live_``/``gw_test_`` and 32 random bytes, URL-safe."""
    return ("gw_live_" if livemode else "gw_test_") + secrets.token_urlsafe(32)


async def create_key(
    session: AsyncSession, *, workspace: Workspace, scope: str, name: str = ""
) -> tuple[ApiKey, str]:
    """A new key for ``workspace``: the stored row and the raw key, which is never seen again."""
    if scope not in SCOPES:
        msg = f"Unknown scope {scope!r}: use 'portal' or 'admin'."
        raise ValidationFailed(msg, field="scope")
    raw = mint_key(livemode=workspace.livemode)
    key = ApiKey(
        id=new_id("key"),
        workspace_id=workspace.id,
        name=name,
        scope=scope,
        prefix=raw[:PREFIX_LENGTH],
        key_hash=hash_key(raw),
    )
    session.add(key)
    await session.flush()
    return key, raw


async def list_keys(
    session: AsyncSession, *, workspace_id: str, after: str = "", limit: int = 100
) -> list[ApiKey]:
    """The workspace's keys, oldest first, revoked ones included."""
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if after:
        query = query.where(col(ApiKey.id) > after)
    rows = await session.exec(query.order_by(col(ApiKey.id)).limit(limit))
    return list(rows.all())


async def revoke_key(session: AsyncSession, *, key_id: str, workspace_id: str | None = None) -> ApiKey:
    """Revoke a key for good (idempotent); with ``workspace_id``, only a key of that workspace."""
    key = await session.get(ApiKey, key_id)
    if key is None or (workspace_id is not None and key.workspace_id != workspace_id):
        msg = f"No API key {key_id!r}."
        raise NotFound(msg)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        await session.flush()
    return key


async def find_active_key(session: AsyncSession, raw_key: str) -> tuple[ApiKey, Workspace] | None:
    """The unrevoked key matching ``raw_key`` and its workspace, if any."""
    query = (
        select(ApiKey, Workspace)
        .join(Workspace, col(Workspace.id) == col(ApiKey.workspace_id))
        .where(ApiKey.key_hash == hash_key(raw_key), col(ApiKey.revoked_at).is_(None))
    )
    row = (await session.exec(query)).first()
    if row is None:
        return None
    # The lookup is by hash (an index seek); compare again in constant time for good measure.
    if not secrets.compare_digest(row[0].key_hash, hash_key(raw_key)):
        return None
    return row[0], row[1]


async def find_active_key_by_id(session: AsyncSession, key_id: str) -> tuple[ApiKey, Workspace] | None:
    """The unrevoked key with this ID and its workspace, if any (the console's session holds only the ID)."""
    query = (
        select(ApiKey, Workspace)
        .join(Workspace, col(Workspace.id) == col(ApiKey.workspace_id))
        .where(ApiKey.id == key_id, col(ApiKey.revoked_at).is_(None))
    )
    row = (await session.exec(query)).first()
    return None if row is None else (row[0], row[1])


async def record_key_use(session: AsyncSession, used: dict[str, datetime]) -> None:
    """Write buffered ``last_used_at`` times (key ID to time), never moving one back.

    One statement for every key: with 100 workspaces' keys in use, loading and saving each key was
    200 statements every flush.
    """
    if not used:
        return
    last_used = col(ApiKey.last_used_at)
    statement = (
        update(ApiKey)
        .where(col(ApiKey.id) == bindparam("key_id"), or_(last_used.is_(None), last_used < bindparam("when")))
        .values(last_used_at=bindparam("when"))
    )
    connection = await session.connection()
    await connection.execute(statement, [{"key_id": k, "when": w} for k, w in used.items()])
