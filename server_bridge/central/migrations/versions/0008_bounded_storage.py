"""bounded storage: uptime roll-ups per hour/day, health changes, the health digest the alert pass reads

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COUNTS = ("samples", "station_up", "printer_samples", "printer_up", "lockers_total", "lockers_up")


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch_op:
        batch_op.add_column(sa.Column("health_digest", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("health_changed_at", sa.Float(), nullable=True))
    for table, key in (("device_uptime_hourly", "hour"), ("device_uptime_daily", "day")):
        op.create_table(
            table,
            sa.Column("station_id", sa.String(length=32), nullable=False),
            sa.Column(key, sa.Float(), nullable=False),
            *(sa.Column(c, sa.Integer(), nullable=False) for c in COUNTS),
            sa.PrimaryKeyConstraint("station_id", key),
        )
        op.create_index(f"ix_{table}_{key}", table, [key])
    op.create_table(
        "health_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("digest", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_health_changes_at", "health_changes", ["at"])
    op.create_index("health_changes_station_at", "health_changes", ["station_id", "at"])


def downgrade() -> None:
    op.drop_table("health_changes")
    op.drop_table("device_uptime_daily")
    op.drop_table("device_uptime_hourly")
    with op.batch_alter_table("stations") as batch_op:
        batch_op.drop_column("health_changed_at")
        batch_op.drop_column("health_digest")
