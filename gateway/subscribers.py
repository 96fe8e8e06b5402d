"""Subscribers: callback URLs with their event filter, format, static headers and signing secret.

Headers (often a Bubble admin token) and secrets are stored encrypted and never shown again; a new
secret is shown once, on creation or rotation. After a rotation the previous secret keeps signing
for 24 hours, so a receiver can switch without missing a callback.
"""

import difflib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.egress import CallbackGuard
from gateway.errors import NotFound, ValidationFailed
from gateway.flat_events import EVENT_TYPES
from gateway.ids import new_id
from gateway.models import Delivery, Subscriber, utcnow
from gateway.outbox import mark_queued
from gateway.signing import new_secret
from gateway.vault import Vault

ROTATION_GRACE = timedelta(hours=24)
MAX_HEADERS = 20
MAX_HEADER_VALUE = 4096
REDACTED = "[redacted]"
_NAME_CHAR = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"  # a header name character (RFC 9110 tchar)
_TOKEN = re.compile(rf"^{_NAME_CHAR}{{1,100}}$")
_TOKEN_PREFIX = re.compile(rf"^{_NAME_CHAR}{{0,100}}")
# Set by the gateway itself, or meaningful only to the connection: a subscriber may not override them.
_RESERVED = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)
#: Paths of URLs meant for testing or schema detection, suspicious on a live workspace.
TEST_URL_MARKERS = ("/version-test", "/initialize", "/webhook-test/")


@dataclass(frozen=True, slots=True)
class Warning:  # noqa: A001  (the API calls them warnings)
    """Something about a subscriber that is allowed but probably a mistake."""

    code: str
    message: str


def check_event_types(event_types: list[str]) -> list[str]:
    """``["*"]`` or known flat types, de-duplicated in order; ``validation_error`` otherwise."""
    if not event_types:
        msg = 'Give at least one event type, or ["*"] for all.'
        raise ValidationFailed(msg, field="event_types")
    if "*" in event_types:
        return ["*"]
    for event_type in event_types:
        if event_type not in EVENT_TYPES:
            close = difflib.get_close_matches(event_type, EVENT_TYPES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else f" Types: {', '.join(EVENT_TYPES)}."
            msg = f"Unknown event type {event_type!r}.{hint}"
            raise ValidationFailed(msg, field="event_types")
    return list(dict.fromkeys(event_types))


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Static headers a subscriber may set; ``validation_error`` on ``headers`` otherwise."""
    if len(headers) > MAX_HEADERS:
        msg = f"At most {MAX_HEADERS} headers."
        raise ValidationFailed(msg, field="headers")
    for name, value in headers.items():
        lower = name.lower()
        if not _TOKEN.match(name):
            # Only the part before the first bad character is quoted: a name that is a pasted header
            # line ("Authorization: Bearer ...") carries its secret after it.
            valid = _TOKEN_PREFIX.match(name)
            start = valid.group(0) if valid else ""
            msg = f"{start!r}... is not a valid header name (one word: letters, digits and !#$%&'*+.^_`|~-)."
            raise ValidationFailed(msg, field="headers")
        if lower in _RESERVED or lower.startswith(("webhook-", "proxy-")):
            msg = f"The gateway sets {name!r} itself; it cannot be overridden."
            raise ValidationFailed(msg, field="headers")
        if len(value) > MAX_HEADER_VALUE or any(c in value for c in "\r\n\0"):
            msg = f"The value of {name!r} must be one line of at most {MAX_HEADER_VALUE} characters."
            raise ValidationFailed(msg, field="headers")
    return headers


def warnings_for(subscriber: Subscriber, *, livemode: bool) -> list[Warning]:
    """What looks wrong with a subscriber in a workspace of this mode."""
    if not livemode:
        return []
    path = urlsplit(subscriber.url).path
    return [
        Warning(
            code="test_url_on_live_workspace",
            message=f"The URL contains {marker!r}, which usually marks a test or set-up URL, "
            "but this workspace is live: point it at the live endpoint.",
        )
        for marker in TEST_URL_MARKERS
        if marker in path or (marker.endswith("/") and path.endswith(marker.rstrip("/")))
    ]


def header_names(vault: Vault, subscriber: Subscriber) -> list[str]:
    """The names of a subscriber's static headers (their values are never shown)."""
    if not subscriber.headers_enc:
        return []
    return list(json.loads(vault.decrypt(subscriber.headers_enc)))


def _store_headers(vault: Vault, subscriber: Subscriber, headers: dict[str, str]) -> None:
    subscriber.headers_enc = vault.encrypt(json.dumps(headers)) if headers else ""


async def create_subscriber(
    session: AsyncSession,
    vault: Vault,
    guard: CallbackGuard,
    *,
    workspace_id: str,
    url: str,
    event_types: list[str],
    format: str,  # noqa: A002  (the contract's name)
    headers: dict[str, str],
    description: str = "",
    enabled: bool = True,
    max_in_flight: int = 4,
) -> tuple[Subscriber, str]:
    """A new subscriber and its signing secret (shown this once)."""
    await guard.check_url(url)
    secret = new_secret()
    subscriber = Subscriber(
        id=new_id("sbr"),
        workspace_id=workspace_id,
        url=url,
        description=description,
        event_types=check_event_types(event_types),
        format=format,
        secret_enc=vault.encrypt(secret),
        enabled=enabled,
        disabled_reason="" if enabled else "manual",
        max_in_flight=max_in_flight,
    )
    _store_headers(vault, subscriber, check_headers(headers))
    session.add(subscriber)
    await session.flush()
    return subscriber, secret


async def get_subscriber(session: AsyncSession, *, workspace_id: str, subscriber_id: str) -> Subscriber:
    """A subscriber of the workspace."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.workspace_id != workspace_id:
        msg = f"No subscriber {subscriber_id!r}."
        raise NotFound(msg)
    return subscriber


async def list_subscribers(
    session: AsyncSession, *, workspace_id: str, after: str = "", limit: int = 100
) -> list[Subscriber]:
    """The workspace's subscribers, oldest first."""
    query = select(Subscriber).where(Subscriber.workspace_id == workspace_id)
    if after:
        query = query.where(col(Subscriber.id) > after)
    return list((await session.exec(query.order_by(col(Subscriber.id)).limit(limit))).all())


async def update_subscriber(
    session: AsyncSession, vault: Vault, guard: CallbackGuard, subscriber: Subscriber, changes: dict[str, Any]
) -> Subscriber:
    """Apply ``changes`` (any of the fields given on creation); disabling fails its pending deliveries."""
    now = utcnow()
    if "url" in changes:
        await guard.check_url(changes["url"])
        subscriber.url = changes["url"]
    if "event_types" in changes:
        subscriber.event_types = check_event_types(changes["event_types"])
    if "headers" in changes:
        _store_headers(vault, subscriber, check_headers(changes["headers"]))
    for field in ("format", "description", "max_in_flight"):
        if field in changes:
            setattr(subscriber, field, changes[field])
    if changes.get("enabled") is True and not subscriber.enabled:
        subscriber.enabled, subscriber.disabled_reason, subscriber.failing_since = True, "", None
    elif changes.get("enabled") is False and subscriber.enabled:
        subscriber.enabled, subscriber.disabled_reason = False, "manual"
        await session.exec(
            update(Delivery)
            .where(col(Delivery.subscriber_id) == subscriber.id, col(Delivery.status) == "pending")
            .values(
                status="failed",
                next_attempt_at=None,
                last_error="subscriber disabled (manual)",
                updated_at=now,
            )
        )
    subscriber.updated_at = now
    session.add(subscriber)
    await session.flush()
    return subscriber


async def delete_subscriber(session: AsyncSession, subscriber: Subscriber) -> None:
    """Delete a subscriber with its deliveries and their log."""
    await session.delete(subscriber)
    await session.flush()


async def rotate_secret(session: AsyncSession, vault: Vault, subscriber: Subscriber) -> str:
    """A new secret (shown this once); the current one keeps signing for 24 hours."""
    now = utcnow()
    secret = new_secret()
    subscriber.previous_secret_enc = subscriber.secret_enc
    subscriber.previous_secret_expires_at = now + ROTATION_GRACE
    subscriber.secret_enc = vault.encrypt(secret)
    subscriber.updated_at = now
    session.add(subscriber)
    await session.flush()
    return secret


def require_enabled(subscriber: Subscriber) -> None:
    """Refuse to queue work for a disabled subscriber: it would never be sent."""
    if not subscriber.enabled:
        msg = (
            f"Subscriber {subscriber.id} is disabled ({subscriber.disabled_reason or 'manual'}); "
            'enable it first (PATCH {"enabled": true}).'
        )
        raise ValidationFailed(msg, field="enabled")


async def recover(
    session: AsyncSession, subscriber: Subscriber, *, since: datetime, until: datetime | None
) -> int:
    """Queue again every failed delivery of ``subscriber`` created since ``since`` (and before ``until``)."""
    require_enabled(subscriber)
    now = utcnow()
    query = update(Delivery).where(
        col(Delivery.subscriber_id) == subscriber.id,
        col(Delivery.status) == "failed",
        col(Delivery.created_at) >= since,
    )
    if until is not None:
        query = query.where(col(Delivery.created_at) < until)
    result = await session.exec(
        query.values(status="pending", next_attempt_at=now, lease_expires_at=None, updated_at=now)
    )
    count: int = result.rowcount
    if count:
        mark_queued(session)
    return count
