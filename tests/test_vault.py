"""Stored secrets are encrypted at rest and survive key rotation."""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import GatewayError
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import create_workspace, get_workspace, webhook_secrets
from tests.support import Database

pytestmark = pytest.mark.anyio

STRIPE_KEY = "sk_test_51PlaintextMustNeverLandOnDisk"
WEBHOOK_SECRET = "whsec_plaintextWebhookSecretNeverOnDisk"


async def test_plaintext_never_lands_in_the_database_file(
    settings: Settings, database: Database, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """The Stripe key and webhook secret are in no byte SQLite wrote, yet the vault reads them."""
    if database.is_postgres:
        pytest.skip("scans the SQLite file; on PostgreSQL see test_plaintext_never_in_postgres_rows")
    async with db() as session, session.begin():
        await create_workspace(
            session, vault, settings, name="acme", stripe_key=STRIPE_KEY, webhook_secret=WEBHOOK_SECRET
        )
    db_file = Path(database.url.removeprefix("sqlite+aiosqlite:///"))
    written = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert b"acme" in written  # the scan does see the data
    assert STRIPE_KEY.encode() not in written
    assert WEBHOOK_SECRET.encode() not in written
    async with db() as session:
        workspace = await get_workspace(session, "acme")
    assert vault.decrypt(workspace.stripe_key_enc) == STRIPE_KEY
    assert webhook_secrets(vault, workspace) == [WEBHOOK_SECRET]


async def test_plaintext_never_in_postgres_rows(
    settings: Settings, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """Every column of the stored workspace row differs from the plaintext secrets."""
    async with db() as session, session.begin():
        workspace, _ = await create_workspace(
            session, vault, settings, name="acme", stripe_key=STRIPE_KEY, webhook_secret=WEBHOOK_SECRET
        )
    async with db() as session:
        row = await session.get(Workspace, workspace.id)
    assert row is not None
    dumped = repr(row.model_dump())
    assert STRIPE_KEY not in dumped
    assert WEBHOOK_SECRET not in dumped


def test_rotation_decrypts_with_old_keys() -> None:
    """After rotation, secrets sealed with the old key still open; new ones use the new key."""
    old = Vault(["old-key"])
    token = old.encrypt("sk_test_x")
    rotated = Vault(["new-key", "old-key"])
    assert rotated.decrypt(token) == "sk_test_x"
    assert Vault(["new-key"]).decrypt(rotated.encrypt("y")) == "y"
    with pytest.raises(GatewayError):
        Vault(["new-key"]).decrypt(token)
