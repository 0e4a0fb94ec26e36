"""configuration bundles (issue 15.6): versions, rollout targets, what each station applied or refused

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_bundles",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "config_targets",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.Float(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("station_id"),
    )
    op.create_table(
        "config_status",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.Column("applied_at", sa.Float(), nullable=True),
        sa.Column("refused_version", sa.Integer(), nullable=True),
        sa.Column("refused_stage", sa.String(length=20), nullable=True),
        sa.Column("refused_reason", sa.String(length=500), nullable=True),
        sa.Column("refused_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("station_id"),
    )


def downgrade() -> None:
    op.drop_table("config_status")
    op.drop_table("config_targets")
    op.drop_table("config_bundles")
