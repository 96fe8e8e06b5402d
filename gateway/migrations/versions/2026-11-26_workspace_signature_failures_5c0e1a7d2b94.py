"""workspaces count their Stripe webhook signature failures

Revision ID: 5c0e1a7d2b94
Revises: 19bb6edba68e
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5c0e1a7d2b94"
down_revision: str | None = "19bb6edba68e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("last_signature_failure_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "last_signature_failure",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                server_default="",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("last_signature_failure")
        batch_op.drop_column("last_signature_failure_at")
        batch_op.drop_column("signature_failures")
