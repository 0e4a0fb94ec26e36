"""upload problems: a station whose uploads cannot progress on their own (gap, reused seqs), issue 16

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch_op:
        batch_op.add_column(sa.Column("upload_problem", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("upload_problem_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("upload_problem_detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch_op:
        batch_op.drop_column("upload_problem_detail")
        batch_op.drop_column("upload_problem_at")
        batch_op.drop_column("upload_problem")
