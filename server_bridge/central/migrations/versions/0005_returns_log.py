"""returns log: every reported return kept and paired by the item's timeline (issue 16)

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("lendings") as batch_op:
        batch_op.add_column(sa.Column("cmd_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("return_kind", sa.String(length=10), nullable=True))
        batch_op.create_index("lendings_item_started", ["item_id", "started_at"], unique=False)
    op.create_table(
        "lending_returns",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("returned_at", sa.Float(), nullable=False),
        sa.Column("named_lending_id", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("locker_id", sa.String(length=32), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column("cmd_id", sa.String(length=64), nullable=True),
        sa.Column("lending_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "seq", name="lending_returns_station_seq"),
    )
    op.create_index("lending_returns_item_at", "lending_returns", ["item_id", "returned_at"])
    op.create_index("lending_returns_outcome", "lending_returns", ["outcome"])
    _backfill()
    op.drop_table("unmatched_returns")


def _backfill() -> None:
    """The returns log from the projected `lending.returned` events, then every item re-paired."""
    conn = op.get_bind()
    rows: list[dict[str, Any]] = []
    for r in conn.execute(sa.text(
            "SELECT e.station_id, e.seq, e.data FROM events e JOIN stations s ON s.station_id = e.station_id"
            " WHERE e.type = 'lending.returned' AND e.seq <= s.acked_seq")):
        d = r.data if isinstance(r.data, dict) else json.loads(r.data)
        rows.append({"station_id": r.station_id, "seq": r.seq, "item_id": d["item_id"],
                     "returned_at": float(d["returned_at"]), "named_lending_id": d.get("lending_id"),
                     "member_id": d.get("member_id"), "locker_id": d.get("locker_id"), "slot": d.get("slot"),
                     "fee_cents": d.get("fee_cents"), "cmd_id": d.get("cmd_id"), "lending_id": None,
                     "outcome": "unmatched"})
    if not rows:
        return
    table = sa.table("lending_returns", *(sa.column(k) for k in rows[0]))
    conn.execute(sa.insert(table), rows)
    from server_bridge.central.lending_projection import repair_items
    repair_items(conn)


def downgrade() -> None:
    op.create_table(
        "unmatched_returns",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("returned_at", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_unmatched_returns_item_id", "unmatched_returns", ["item_id"])
    op.drop_table("lending_returns")
    with op.batch_alter_table("lendings") as batch_op:
        batch_op.drop_index("lendings_item_started")
        batch_op.drop_column("return_kind")
        batch_op.drop_column("cmd_id")
