"""delivery log: one flat event's deliveries and failed deliveries are found through indexes

Filtering the delivery log by a flat event or by ``failed`` walked the workspace's whole history when
the rows were rare. ``ix_deliveries_message_id`` (no query could use it: every query names the
workspace) becomes ``(workspace_id, message_id, id)``, so a delivery writes as many index entries as
before; the failed rows' partial index only grows when a delivery gives up. On PostgreSQL the indexes
are built concurrently: ingest and deliveries go on writing meanwhile.

Revision ID: 3b8e5f0c6a21
Revises: 5c0e1a7d2b94
Create Date: 2026-11-26 08:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8e5f0c6a21"
down_revision: str | None = "5c0e1a7d2b94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILED = sa.text("status = 'failed'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_deliveries_workspace_message",
                "deliveries",
                ["workspace_id", "message_id", "id"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
            op.create_index(
                "ix_deliveries_failed",
                "deliveries",
                ["workspace_id", "status", "id"],
                postgresql_where=FAILED,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
            op.drop_index(
                "ix_deliveries_message_id", "deliveries", postgresql_concurrently=True, if_exists=True
            )
        return
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_message_id")
        batch_op.create_index("ix_deliveries_workspace_message", ["workspace_id", "message_id", "id"])
        batch_op.create_index("ix_deliveries_failed", ["workspace_id", "status", "id"], sqlite_where=FAILED)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_failed")
        batch_op.drop_index("ix_deliveries_workspace_message")
        batch_op.create_index("ix_deliveries_message_id", ["message_id"])
