"""refused events: a station's event refused for its content is kept in quarantine (with the reason) and its
seq no longer blocks the events after it (issues 12/16)

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_events",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.Column("first_refused_at", sa.Float(), nullable=False),
        sa.Column("last_refused_at", sa.Float(), nullable=False),
        sa.Column("accepted_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("station_id", "seq"),
    )
    op.create_index("refused_events_open", "refused_events", ["accepted_at", "station_id"])


def downgrade() -> None:
    op.drop_index("refused_events_open", table_name="refused_events")
    op.drop_table("refused_events")
