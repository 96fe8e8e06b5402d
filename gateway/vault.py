"""Encryption of stored secrets (Stripe keys, webhook secrets, subscriber headers) at rest."""

import base64
from collections.abc import Sequence
from typing import cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import GatewayError
from gateway.models import Subscriber, Workspace

#: Every column holding a secret encrypted by the vault.
SECRET_COLUMNS: tuple[tuple[type[Workspace] | type[Subscriber], tuple[str, ...]], ...] = (
    (Workspace, ("stripe_key_enc", "webhook_secrets_enc")),
    (Subscriber, ("secret_enc", "previous_secret_enc", "headers_enc")),
)


class SecretUnreadable(GatewayError):
    """A stored secret was encrypted under a key the gateway no longer has."""

    code = "internal_error"
    status = 500


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for one purpose, derived from ``GATEWAY_SECRET_KEY`` so purposes never share a key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"portal-gateway:{purpose}".encode())
    return hkdf.derive(secret_key.encode())


class Vault:
    """Encrypts with the newest secret key; decrypts with any of them (key rotation)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        fernets = [Fernet(base64.urlsafe_b64encode(derive_key(k, "vault"))) for k in secret_keys]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext (a Fernet token) for ``plaintext``."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def reencrypt(self, token: str) -> str:
        """``token``'s plaintext encrypted again under the newest key (``token`` itself if empty)."""
        return self._fernet.rotate(token.encode()).decode() if token else token

    def decrypt(self, token: str) -> str:
        """The plaintext behind ``token``."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            msg = "A stored secret cannot be decrypted with the configured GATEWAY_SECRET_KEY."
            raise SecretUnreadable(msg) from exc


async def reencrypt_stored_secrets(session: AsyncSession, vault: Vault) -> dict[str, int]:
    """Encrypt every stored secret again under the newest ``GATEWAY_SECRET_KEY``; how many rows, by table.

    Afterwards the older keys can leave ``GATEWAY_SECRET_KEY`` (they still verify portal links they signed).
    """
    counts: dict[str, int] = {}
    for model, columns in SECRET_COLUMNS:
        rows = cast("Sequence[Workspace | Subscriber]", (await session.exec(select(model))).all())
        for row in rows:
            for column in columns:
                try:
                    setattr(row, column, vault.reencrypt(getattr(row, column)))
                except InvalidToken as exc:
                    msg = f"{model.__tablename__} {row.id}: {column} is under none of the configured keys."
                    raise SecretUnreadable(msg) from exc
            session.add(row)
        counts[str(model.__tablename__)] = len(rows)
    return counts
