"""广播寻人 / 寻物 requests (issue 17) and when the desk's personal data was purged

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_broadcasts",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("floor", sa.String(length=8), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=True),
        sa.Column("filed_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("acknowledged_at", sa.Float(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("announced_at", sa.Float(), nullable=True),
        sa.Column("found_at", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("purged_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("desk_broadcasts_status", "desk_broadcasts", ["status", "filed_at"])
    for table in ("desk_found_items", "desk_lost_reports"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("purged_at", sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ("desk_lost_reports", "desk_found_items"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("purged_at")
    op.drop_table("desk_broadcasts")
