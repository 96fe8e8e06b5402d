"""delivery queue: claim index, subscriber leases

Claims find a subscriber's due deliveries through a partial index of pending rows, and set only
unindexed columns, so on PostgreSQL a claim is a HOT update (fillfactor leaves room for it).
Per-worker in-flight counts per subscriber live in subscriber_leases.

Revision ID: 19bb6edba68e
Revises: 1811ef995408
Create Date: 2026-11-25 19:36:47.182761
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "19bb6edba68e"
down_revision: str | None = "1811ef995408"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriber_leases",
        sa.Column("subscriber_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_leases_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "owner", name=op.f("pk_subscriber_leases")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_due"))
        batch_op.drop_index(batch_op.f("ix_deliveries_event_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_workspace_id"))
        batch_op.create_index(
            "ix_deliveries_claim",
            ["subscriber_id", "next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(batch_op.f("ix_deliveries_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_deliveries_subscriber_id_id", ["subscriber_id", "id"], unique=False)
        batch_op.create_index("ix_deliveries_workspace_id_id", ["workspace_id", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_workspace_id_id")
        batch_op.drop_index("ix_deliveries_subscriber_id_id")
        batch_op.drop_index(batch_op.f("ix_deliveries_message_id"))
        batch_op.drop_index(
            "ix_deliveries_claim",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(batch_op.f("ix_deliveries_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_subscriber_id"), ["subscriber_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_due"), ["status", "next_attempt_at"], unique=False)

    op.drop_table("subscriber_leases")
