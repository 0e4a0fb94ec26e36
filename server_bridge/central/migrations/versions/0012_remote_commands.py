"""remote commands and their screenshots (issue 15.7)

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("received_at", sa.Float(), nullable=True),
        sa.Column("result_at", sa.Float(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("remote_commands_station", "remote_commands", ["station_id", "created_at"])
    op.create_index("remote_commands_state", "remote_commands", ["state", "expires_at"])
    op.create_table(
        "command_screenshots",
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("command_id"),
    )
    op.create_index("command_screenshots_stored", "command_screenshots", ["stored_at"])


def downgrade() -> None:
    op.drop_table("command_screenshots")
    op.drop_table("remote_commands")
