"""payments: orders, refund jobs, reconciliation mismatches (issue 14)

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_orders",
        sa.Column("order_id", sa.String(32), primary_key=True),
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("station_order_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(127), nullable=False),
        sa.Column("item_type", sa.String(20), nullable=True),
        sa.Column("item_id", sa.String(64), nullable=True),
        sa.Column("lending_id", sa.String(64), nullable=True),
        sa.Column("member_id", sa.String(64), nullable=True),
        sa.Column("qr", sa.String(256), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.Column("paid_via", sa.String(12), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("paid_at", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("last_query_at", sa.Float(), nullable=True),
        sa.Column("settled_at", sa.Float(), nullable=True),
        sa.Column("settle_key", sa.String(96), nullable=True, unique=True),
        sa.Column("fee_fen", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("station_id", "station_order_id", name="payment_orders_station_key"),
    )
    op.create_index("payment_orders_state", "payment_orders", ["state", "created_at"])
    op.create_index("payment_orders_item", "payment_orders", ["item_id", "state"])
    op.create_table(
        "payment_refunds",
        sa.Column("out_refund_no", sa.String(32), primary_key=True),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("refund_key", sa.String(96), nullable=False),
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("order_id", "refund_key", name="payment_refunds_order_key"),
    )
    op.create_index("payment_refunds_due", "payment_refunds", ["state", "next_attempt_at"])
    op.create_table(
        "payment_mismatches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(10), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("found_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "day", "kind", "ref", name="payment_mismatches_key"),
    )


def downgrade() -> None:
    op.drop_table("payment_mismatches")
    op.drop_index("payment_refunds_due", "payment_refunds")
    op.drop_table("payment_refunds")
    op.drop_index("payment_orders_item", "payment_orders")
    op.drop_index("payment_orders_state", "payment_orders")
    op.drop_table("payment_orders")
