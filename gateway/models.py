"""SQLModel tables: persistence only (wire shapes live in ``gateway.schemas``)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# Named constraints can be altered later, also in SQLite batch mode.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Now, aware, in UTC (SQLModel refuses naive datetimes)."""
    return datetime.now(UTC)


class Workspace(SQLModel, table=True):
    """A Stripe account (in one mode) that the gateway serves, and everything of it."""

    __tablename__ = "workspaces"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, max_length=100)
    livemode: bool = False
    #: Backed by the built-in Stripe sandbox; refused in production.
    sandbox: bool = False
    #: The Stripe secret (or restricted) key, encrypted by ``gateway.vault``.
    stripe_key_enc: str = Field(sa_column=Column(Text, nullable=False))
    #: JSON list of webhook signing secrets (two during rotation), encrypted; "" when none yet.
    webhook_secrets_enc: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: Overrides ``GATEWAY_STRIPE_API_BASE`` for this workspace ("" = the setting).
    stripe_api_base: str = Field(default="", max_length=300)
    stripe_webhook_endpoint_id: str = Field(default="", max_length=100)
    #: Re-fetch a subscription from Stripe before forwarding its events.
    refetch_subscriptions: bool = False
    #: Return URLs (prefixes) allowed for every preset of the workspace.
    allowed_return_urls: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A workspace's API key; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE", max_length=40)
    name: str = Field(default="", max_length=100)
    scope: str = Field(max_length=20)
    #: The first characters of the key, shown in lists so people can tell keys apart.
    prefix: str = Field(max_length=20)
    key_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IdempotencyRecord(SQLModel, table=True):
    """A POST made with an ``Idempotency-Key``, and the response to replay for 24 hours."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    key: str = Field(max_length=255)
    #: SHA-256 of method, path and body: the same key with another request is a conflict.
    request_hash: str = Field(max_length=64)
    #: 0 while the first request is still being answered.
    status_code: int = 0
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    response_headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, index=True)
