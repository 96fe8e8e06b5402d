"""Looking after the database: ``migrate`` its schema, ``rekey`` its secrets after a key rotation."""

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.cli.output import emit, in_session, say
from gateway.db import upgrade_database
from gateway.settings import Settings
from gateway.vault import Vault, reencrypt_stored_secrets


@click.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    upgrade_database(Settings())
    say("database is at the newest migration")


@click.command()
def rekey() -> None:
    """Encrypt every stored secret again under the first GATEWAY_SECRET_KEY (after a rotation)."""
    settings = Settings()
    vault = Vault(settings.secret_keys())

    async def work(session: AsyncSession) -> dict[str, int]:
        return await reencrypt_stored_secrets(session, vault)

    emit(in_session(settings, work))
    say(
        "Every stored secret is now encrypted with the first GATEWAY_SECRET_KEY. Keep older keys listed "
        "after it while portal links they signed should still open."
    )
