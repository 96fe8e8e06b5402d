"""SQLModel tables: persistence only (wire shapes live in ``gateway.schemas``)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
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
    #: Stripe webhook requests to this workspace whose signature did not verify (``gateway.stripe_events``).
    signature_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_signature_failure_at: datetime | None = None
    #: Why the latest one was refused (the answer's message, never a secret).
    last_signature_failure: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
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


class StripeEvent(SQLModel, table=True):
    """A Stripe event as received: the exact body, kept once per (workspace, Stripe event ID)."""

    __tablename__ = "stripe_events"
    __table_args__ = (UniqueConstraint("workspace_id", "stripe_event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    stripe_event_id: str = Field(max_length=100)
    type: str = Field(max_length=100)
    api_version: str = Field(default="", max_length=40)
    livemode: bool = False
    #: ``event.created`` (Unix seconds): the order in which Stripe says things happened.
    stripe_created: int = 0
    #: ``data.object.id`` (a subscription, invoice, customer, ...).
    object_id: str = Field(default="", max_length=100)
    #: The raw body exactly as Stripe sent and signed it.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    #: ``applied``, ``stale`` (older than the mirror: recorded, not applied) or ``ignored`` (not handled).
    outcome: str = Field(default="applied", max_length=20)
    received_at: datetime = Field(default_factory=utcnow)


class Customer(SQLModel, table=True):
    """What the gateway knows of a Stripe customer: enough to fill flat events without a Stripe call."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("workspace_id", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    customer_id: str = Field(max_length=100)
    email: str = Field(default="", max_length=320)
    #: ``metadata.external_user_id``: the builder's own user ID.
    external_user_id: str = Field(default="", max_length=200)
    stripe_created: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class Subscription(SQLModel, table=True):
    """The mirror of one Stripe subscription, flat, as of the newest event applied."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "subscription_id"),
        Index("ix_subscriptions_workspace_customer", "workspace_id", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    subscription_id: str = Field(max_length=100)
    customer_id: str = Field(max_length=100)
    status: str = Field(max_length=30)
    #: Every item: ``{"price_id", "price_lookup_key", "product_id", "plan_interval", "quantity", ...}``.
    items: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    price_id: str = Field(default="", max_length=100)
    price_lookup_key: str = Field(default="", max_length=200)
    product_id: str = Field(default="", max_length=100)
    plan_interval: str = Field(default="", max_length=10)
    quantity: int = 0
    #: The preset ``auto`` picks for this subscription.
    preset: str = Field(default="", max_length=100)
    cancel_at_period_end: bool = False
    current_period_end: datetime | None = None
    canceled_at: datetime | None = None
    trial_end: datetime | None = None
    #: Grows with every applied change, so receivers can drop stale events.
    version: int = 0
    #: ``created``, ID and type of the newest Stripe event applied (older ones never roll state back).
    stripe_created: int = 0
    stripe_event_id: str = Field(default="", max_length=100)
    stripe_event_type: str = Field(default="", sa_column_kwargs={"server_default": ""}, max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """A flat event the gateway produced: the exact JSON body every subscriber is sent."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_workspace_id_id", "workspace_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    event_type: str = Field(max_length=40)
    stripe_event_id: str = Field(default="", max_length=100)
    customer_id: str = Field(default="", max_length=100)
    subscription_id: str = Field(default="", max_length=100)
    is_test: bool = False
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Subscriber(SQLModel, table=True):
    """A callback URL that receives events, signed with its own secret."""

    __tablename__ = "subscribers"

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE", max_length=40)
    url: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", max_length=500)
    #: Flat event types, or ``["*"]`` for all.
    event_types: list[str] = Field(default_factory=lambda: ["*"], sa_type=JSONType)
    #: ``flat`` (the gateway's event) or ``stripe`` (the original Stripe event).
    format: str = Field(default="flat", max_length=10)
    #: Static request headers (JSON object), encrypted; "" when none.
    headers_enc: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    secret_enc: str = Field(sa_column=Column(Text, nullable=False))
    #: After a rotation the old secret keeps signing until ``previous_secret_expires_at``.
    previous_secret_enc: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    previous_secret_expires_at: datetime | None = None
    enabled: bool = True
    #: Why it was disabled: ``manual``, ``gone`` (answered 410) or ``failing`` (5 days without success).
    disabled_reason: str = Field(default="", max_length=20)
    #: Deliveries in flight at once to this subscriber.
    max_in_flight: int = 4
    #: First failure since the last success; "" once it succeeds again.
    failing_since: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One message to one subscriber: the durable outbox row, retried until it succeeds or gives up."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # Claims: a subscriber's pending deliveries by due time (only pending rows are indexed).
        Index(
            "ix_deliveries_claim",
            "subscriber_id",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # The delivery log, newest first: the workspace's, one subscriber's, the failed ones (one flat
        # event's: by message ID, below).
        Index("ix_deliveries_workspace_id_id", "workspace_id", "id"),
        Index("ix_deliveries_subscriber_id_id", "subscriber_id", "id"),
        Index(
            "ix_deliveries_failed",
            "workspace_id",
            "status",  # not needed for the rows, but without it SQLite's planner prefers the index above
            "id",
            sqlite_where=text("status = 'failed'"),
            postgresql_where=text("status = 'failed'"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    subscriber_id: str = Field(foreign_key="subscribers.id", ondelete="CASCADE", max_length=40)
    #: The flat event delivered ("" for a ``stripe``-format delivery, which carries the Stripe event).
    event_id: str = Field(default="", max_length=40)
    stripe_event_id: str = Field(default="", max_length=100)
    event_type: str = Field(max_length=100)
    #: ``webhook-id``: the same on every attempt, so receivers can de-duplicate. For a flat delivery,
    #: its event's ID. Indexed alone, not after the workspace: flat IDs sort by time, so new entries
    #: go at the index's one end, where a workspace prefix would put them in one place per workspace.
    message_id: str = Field(index=True, max_length=100)
    #: The exact bytes sent on every attempt.
    body: str = Field(sa_column=Column(Text, nullable=False))
    #: ``pending``, ``succeeded`` or ``failed`` (gave up, or the subscriber was disabled).
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default_factory=utcnow)
    #: A worker holding the delivery until this moment; after it, another worker may take it.
    lease_expires_at: datetime | None = None
    #: The worker that made (or is making) the latest attempt.
    lease_owner: str = Field(default="", max_length=60)
    last_status_code: int = 0
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    succeeded_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery, for the delivery log."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(foreign_key="deliveries.id", index=True, ondelete="CASCADE", max_length=40)
    attempt: int
    started_at: datetime = Field(default_factory=utcnow)
    duration_ms: int = 0
    #: 0 when no HTTP answer came (timeout, refused, blocked address).
    status_code: int = 0
    #: The first 2 KB of the answer.
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    error: str = Field(default="", max_length=500)
    next_attempt_at: datetime | None = None


class WorkspacePreset(SQLModel, table=True):
    """A workspace's own preset (``PUT /v1/presets/{name}``); it overrides a file preset of that name."""

    __tablename__ = "workspace_presets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    name: str = Field(max_length=63)
    #: The preset as sent (the same schema as a preset file).
    body: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PortalConfiguration(SQLModel, table=True):
    """The Stripe portal configuration synced for one (workspace, preset): the cache behind each session."""

    __tablename__ = "portal_configurations"
    __table_args__ = (
        UniqueConstraint("workspace_id", "preset"),
        Index("ix_portal_configurations_configuration", "workspace_id", "configuration_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = Field(foreign_key="workspaces.id", ondelete="CASCADE", max_length=40)
    preset: str = Field(max_length=63)
    configuration_id: str = Field(max_length=100)
    #: Hash of the rendered Stripe parameters (also in the configuration's metadata ``gateway_hash``).
    hash: str = Field(max_length=64)
    #: Hash of the preset as written when it was synced: another value means the preset changed.
    digest: str = Field(max_length=64)
    #: The parameters sent to Stripe (lookup keys resolved).
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    #: Lookup key -> price ID, as resolved at sync time.
    lookup_keys: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    #: Changed in Stripe since (``billing_portal.configuration.updated``): check before the next use.
    stale: bool = False
    synced_at: datetime = Field(default_factory=utcnow)


class SubscriberLease(SQLModel, table=True):
    """How many of a subscriber's deliveries one worker holds, so all workers together respect its cap."""

    __tablename__ = "subscriber_leases"

    subscriber_id: str = Field(
        foreign_key="subscribers.id", primary_key=True, ondelete="CASCADE", max_length=40
    )
    #: The worker (``host:pid:random``).
    owner: str = Field(primary_key=True, max_length=60)
    in_flight: int = 0
    #: A crashed worker's count stops counting at this moment (its deliveries' leases end then too).
    expires_at: datetime
