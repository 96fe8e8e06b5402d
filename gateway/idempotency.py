"""``Idempotency-Key`` on every POST: the first answer is stored and replayed for 24 hours.

The same key with a different request (method, path, body) is a 409 ``idempotency_conflict``, as
is a key whose first request is still being answered. Answers of 5xx are not stored, so a retry
runs again. Stored bodies are encrypted: some answers reveal a secret once (a new API key).

Keys are per workspace, and an answer replays only to the API key that asked: the replay comes before
the route's scope check, so a portal key repeating an admin's request must not read its answer.
"""

import hashlib
from datetime import timedelta
from typing import Any

from litestar.types import ASGIApp, HTTPReceiveMessage, Message, Receive, Scope, Send
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal
from gateway.errors import IdempotencyConflict, ValidationFailed
from gateway.models import IdempotencyRecord, utcnow
from gateway.vault import Vault

REPLAY_WINDOW = timedelta(hours=24)
#: A first request unanswered for this long is presumed lost (its process died).
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
_KEPT_HEADERS = (b"content-type", b"location", b"retry-after")


class IdempotencyMiddleware:
    """Stores and replays answers to POSTs that carry an ``Idempotency-Key``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Replay, refuse, or run and remember."""
        key = _header(scope, b"idempotency-key")
        principal = scope.get("user")
        if scope.get("method") != "POST" or not key or not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            msg = f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters."
            raise ValidationFailed(msg, field="Idempotency-Key")
        body = await _read_body(receive)
        request_hash = hashlib.sha256(
            b"\n".join([principal.key_id.encode(), scope["path"].encode(), scope["query_string"], body])
        ).hexdigest()
        state = scope["app"].state
        sessions: async_sessionmaker[AsyncSession] = state.session_factory
        vault: Vault = state.vault
        stored = await _claim(sessions, principal.workspace_id, key, request_hash)
        if stored is not None:
            await _replay(stored, vault, send)
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def replay_receive() -> HTTPReceiveMessage:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() in _KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capturing_send)
        finally:
            await _settle(sessions, vault, principal.workspace_id, key, captured)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))  # type: ignore[arg-type]
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _claim(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, key: str, request_hash: str
) -> IdempotencyRecord | None:
    """Record the key as in flight; or return the stored answer to replay."""
    now = utcnow()
    async with sessions() as session, session.begin():
        query = select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
        )
        record = (await session.exec(query)).first()
        if record is not None:
            expired = record.created_at < now - REPLAY_WINDOW
            abandoned = record.status_code == 0 and record.created_at < now - IN_FLIGHT_TIMEOUT
            if not (expired or abandoned):
                if record.request_hash != request_hash:
                    msg = "This Idempotency-Key was already used with a different request."
                    raise IdempotencyConflict(msg)
                if record.status_code == 0:
                    msg = "A request with this Idempotency-Key is still being answered; retry shortly."
                    raise IdempotencyConflict(msg)
                return record
            await session.delete(record)
            await session.flush()
        session.add(IdempotencyRecord(workspace_id=workspace_id, key=key, request_hash=request_hash))
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent twin claimed it first
            msg = "A request with this Idempotency-Key is still being answered; retry shortly."
            raise IdempotencyConflict(msg) from exc
    return None


async def _settle(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    workspace_id: str,
    key: str,
    captured: dict[str, Any],
) -> None:
    """Store the answer, or forget the key when the answer was a server error (so it may be retried)."""
    async with sessions() as session, session.begin():
        query = select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
        )
        record = (await session.exec(query)).first()
        if record is None:
            return
        if captured["status"] >= 500:  # noqa: PLR2004
            await session.delete(record)
            return
        record.status_code = captured["status"]
        record.response_body = vault.encrypt(captured["body"].decode("utf-8", "replace"))
        record.response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in captured["headers"]}
        session.add(record)


async def _replay(record: IdempotencyRecord, vault: Vault, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record.response_headers.items()]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": record.status_code, "headers": headers})
    await send(
        {
            "type": "http.response.body",
            "body": vault.decrypt(record.response_body).encode(),
            "more_body": False,
        }
    )


async def purge_idempotency_records(session: AsyncSession) -> None:
    """Delete answers older than the replay window."""
    cutoff = utcnow() - REPLAY_WINDOW
    await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))
