"""Encryption of stored secrets (Stripe keys, webhook secrets, subscriber headers) at rest."""

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.errors import GatewayError


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

    def decrypt(self, token: str) -> str:
        """The plaintext behind ``token``."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            msg = "A stored secret cannot be decrypted with the configured GATEWAY_SECRET_KEY."
            raise SecretUnreadable(msg) from exc
