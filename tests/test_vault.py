"""Stored secrets are encrypted at rest and survive key rotation."""

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import GatewayError
from gateway.models import Subscriber, Workspace
from gateway.settings import Settings
from gateway.vault import Vault, reencrypt_stored_secrets
from gateway.workspaces import create_workspace, get_workspace, webhook_secrets
from tests.receivers import add_subscriber
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


async def test_rekey_moves_every_stored_secret_to_the_newest_key(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    """After reencrypt_stored_secrets under ``new,old``, the new key alone reads every secret."""
    old, rotated, new = Vault(["old-key"]), Vault(["new-key", "old-key"]), Vault(["new-key"])
    async with db() as session, session.begin():
        workspace, _ = await create_workspace(
            session, old, settings, name="acme", stripe_key=STRIPE_KEY, webhook_secret=WEBHOOK_SECRET
        )
    headers = {"Authorization": "Bearer bubble-token"}
    subscriber_id, secret = await add_subscriber(
        db, old, workspace.id, "http://127.0.0.1:9/hook", headers=headers
    )
    async with db() as session, session.begin():
        counts = await reencrypt_stored_secrets(session, rotated)
    assert counts == {"workspaces": 1, "subscribers": 1}
    async with db() as session:
        stored = await get_workspace(session, "acme")
        subscriber = await session.get_one(Subscriber, subscriber_id)
    assert new.decrypt(stored.stripe_key_enc) == STRIPE_KEY
    assert webhook_secrets(new, stored) == [WEBHOOK_SECRET]
    assert new.decrypt(subscriber.secret_enc) == secret
    assert json.loads(new.decrypt(subscriber.headers_enc)) == headers
    assert subscriber.previous_secret_enc == ""  # nothing to encrypt stays nothing


async def test_rekey_stops_at_a_secret_no_key_reads(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    """A secret under a key no longer listed fails the whole rekey, naming its row; nothing changes."""
    async with db() as session, session.begin():
        await create_workspace(session, Vault(["lost-key"]), settings, name="acme", stripe_key=STRIPE_KEY)
    with pytest.raises(GatewayError, match="stripe_key_enc"):
        async with db() as session, session.begin():
            await reencrypt_stored_secrets(session, Vault(["new-key"]))
    async with db() as session:
        stored = await get_workspace(session, "acme")
    assert Vault(["lost-key"]).decrypt(stored.stripe_key_enc) == STRIPE_KEY
