"""delivery log: failed deliveries are found through a partial index

Filtering the delivery log by ``failed`` walked the workspace's whole history when failures were
rare. The partial index only grows when a delivery gives up. On PostgreSQL it is built concurrently:
ingest and deliveries go on writing meanwhile.

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
COLUMNS = ["workspace_id", "status", "id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_deliveries_failed",
                "deliveries",
                COLUMNS,
                postgresql_where=FAILED,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
        return
    op.create_index("ix_deliveries_failed", "deliveries", COLUMNS, sqlite_where=FAILED)


def downgrade() -> None:
    op.drop_index("ix_deliveries_failed", "deliveries")
