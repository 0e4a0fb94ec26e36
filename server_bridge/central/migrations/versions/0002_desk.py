"""the desk (issue 7): ticket access codes and replies, lost & found, storage deposits

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_tickets',
    sa.Column('complaint_id', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('complaint_id')
    )
    op.create_table('desk_replies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('complaint_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('author', sa.String(length=10), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('desk_replies_ticket', 'desk_replies', ['complaint_id', 'at'], unique=False)
    op.create_table('desk_found_items',
    sa.Column('item_id', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('floor', sa.String(length=8), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('found_at', sa.Float(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('claimed_at', sa.Float(), nullable=True),
    sa.Column('handed_over_at', sa.Float(), nullable=True),
    sa.Column('handed_over_by', sa.String(length=64), nullable=True),
    sa.Column('receiver', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('item_id')
    )
    op.create_index('desk_found_status', 'desk_found_items', ['status', 'found_at'], unique=False)
    op.create_table('desk_lost_reports',
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('floor', sa.String(length=8), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('lost_at', sa.Float(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('matches', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('report_id')
    )
    op.create_table('desk_storage',
    sa.Column('deposit_id', sa.String(length=32), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('locker_id', sa.String(length=32), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.Column('picked_up_at', sa.Float(), nullable=True),
    sa.Column('fee_cents', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('deposit_id')
    )


def downgrade() -> None:
    op.drop_table('desk_storage')
    op.drop_table('desk_lost_reports')
    op.drop_index('desk_found_status', table_name='desk_found_items')
    op.drop_table('desk_found_items')
    op.drop_index('desk_replies_ticket', table_name='desk_replies')
    op.drop_table('desk_replies')
    op.drop_table('desk_tickets')
