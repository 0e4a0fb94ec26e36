"""the desk's written duties (issue 17): service supplies, bag-storage incidents and overnight lists, handovers

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "desk_supply_stock",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("out", sa.Integer(), nullable=False),
        sa.Column("low_at", sa.Integer(), nullable=False),
        sa.Column("full", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "item"),
    )
    op.create_table(
        "desk_supply_moves",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=32), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("desk_supply_moves_at", "desk_supply_moves", ["at"])
    op.create_table(
        "desk_supply_checks",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("next_due_at", sa.Float(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("station_id"),
    )
    op.create_table(
        "desk_storage_incidents",
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("deposit_id", sa.String(length=32), nullable=False),
        sa.Column("locker_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(length=64), nullable=False),
        sa.Column("second_staff_id", sa.String(length=64), nullable=True),
        sa.Column("contents", sa.Text(), nullable=True),
        sa.Column("id_masked", sa.String(length=24), nullable=True),
        sa.Column("found_item_id", sa.String(length=32), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("purged_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_index("desk_storage_incidents_at", "desk_storage_incidents", ["at"])
    op.create_table(
        "desk_storage_overnight",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("bags", sa.JSON(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "day"),
    )
    op.create_table(
        "desk_handovers",
        sa.Column("handover_id", sa.String(length=32), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("outgoing", sa.String(length=64), nullable=False),
        sa.Column("incoming", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("handover_id"),
    )
    op.create_index("desk_handovers_station_at", "desk_handovers", ["station_id", "at"])


def downgrade() -> None:
    op.drop_index("desk_handovers_station_at", table_name="desk_handovers")
    op.drop_table("desk_handovers")
    op.drop_table("desk_storage_overnight")
    op.drop_index("desk_storage_incidents_at", table_name="desk_storage_incidents")
    op.drop_table("desk_storage_incidents")
    op.drop_table("desk_supply_checks")
    op.drop_index("desk_supply_moves_at", table_name="desk_supply_moves")
    op.drop_table("desk_supply_moves")
    op.drop_table("desk_supply_stock")
