"""Standard Webhooks signatures on outbound callbacks (``webhook-id``, ``-timestamp``, ``-signature``).

A secret is ``whsec_`` and the base64 of 32 random bytes; the HMAC key is those bytes (unlike Stripe,
which keys its HMAC with the whole ``whsec_`` string: the inbound check lives elsewhere). The signed
content is ``{id}.{timestamp}.{body}``; during a rotation every valid secret signs and the header lists
one ``v1,`` signature per secret, space-separated, as the spec prescribes.
"""

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a ``whsec_`` secret (its base64 part, decoded)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        msg = "not a Standard Webhooks secret (whsec_ + base64)"
        raise ValueError(msg) from exc


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def signature_header(keys: Sequence[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per valid key, space-separated."""
    return " ".join(sign(key, message_id, timestamp, body) for key in keys)
