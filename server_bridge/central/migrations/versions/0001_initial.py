"""initial schema: stations, events, projections, alerts

Revision ID: 0001
Revises: -
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('open_key', sa.String(length=160), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('raised_at', sa.Float(), nullable=False),
    sa.Column('cleared_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_at', sa.Float(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.Float(), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('alerts_key_hist', ['kind', 'station_id', 'subject'], unique=False)
        batch_op.create_index('alerts_status', ['status', 'raised_at'], unique=False)

    op.create_table('complaints',
    sa.Column('complaint_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('floor', sa.String(length=20), nullable=False),
    sa.Column('shop', sa.String(length=100), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('filed_at', sa.Float(), nullable=False),
    sa.Column('first_response_at', sa.Float(), nullable=True),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('complaint_id')
    )
    op.create_table('device_samples',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('station_up', sa.Boolean(), nullable=False),
    sa.Column('printer_up', sa.Boolean(), nullable=True),
    sa.Column('lockers_up', sa.Integer(), nullable=False),
    sa.Column('lockers_total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_samples', schema=None) as batch_op:
        batch_op.create_index('device_samples_at', ['at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('station_id', 'seq', name='events_station_seq')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('events_type', ['type'], unique=False)

    op.create_table('lendings',
    sa.Column('lending_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=True),
    sa.Column('item_type', sa.String(length=20), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('locker_id', sa.String(length=32), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('returned_at', sa.Float(), nullable=True),
    sa.Column('return_station_id', sa.String(length=32), nullable=True),
    sa.Column('return_locker_id', sa.String(length=32), nullable=True),
    sa.Column('return_slot', sa.Integer(), nullable=True),
    sa.Column('fee_cents', sa.Integer(), nullable=True),
    sa.Column('price_cents', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('lending_id')
    )
    with op.batch_alter_table('lendings', schema=None) as batch_op:
        batch_op.create_index('lendings_item_status', ['item_id', 'status'], unique=False)
        batch_op.create_index('lendings_status_due', ['status', 'due_at'], unique=False)

    op.create_table('maintenance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('member_visits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('member_visits', schema=None) as batch_op:
        batch_op.create_index('member_visits_member_at', ['member_id', 'at'], unique=False)

    op.create_table('members',
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.create_table('points_ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('station_id', 'seq', name='points_station_seq')
    )
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_ledger_member_id'), ['member_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('flow', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('lang', sa.String(length=10), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_at'), ['at'], unique=False)

    op.create_table('stations',
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('acked_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_heartbeat_at', sa.Float(), nullable=True),
    sa.Column('version', sa.String(length=40), nullable=True),
    sa.Column('uptime_s', sa.Float(), nullable=True),
    sa.Column('health', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('station_id')
    )
    op.create_table('unmatched_returns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=32), nullable=False),
    sa.Column('returned_at', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('unmatched_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmatched_returns_item_id'), ['item_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('unmatched_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmatched_returns_item_id'))

    op.drop_table('unmatched_returns')
    op.drop_table('stations')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_at'))

    op.drop_table('ratings')
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_ledger_member_id'))

    op.drop_table('points_ledger')
    op.drop_table('members')
    with op.batch_alter_table('member_visits', schema=None) as batch_op:
        batch_op.drop_index('member_visits_member_at')

    op.drop_table('member_visits')
    op.drop_table('maintenance')
    with op.batch_alter_table('lendings', schema=None) as batch_op:
        batch_op.drop_index('lendings_status_due')
        batch_op.drop_index('lendings_item_status')

    op.drop_table('lendings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('events_type')

    op.drop_table('events')
    with op.batch_alter_table('device_samples', schema=None) as batch_op:
        batch_op.drop_index('device_samples_at')

    op.drop_table('device_samples')
    op.drop_table('complaints')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('alerts_status')
        batch_op.drop_index('alerts_key_hist')

    op.drop_table('alerts')
