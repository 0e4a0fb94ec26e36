"""the health snapshot in its own table (every heartbeat updates the stations row); token hashes indexed

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_health",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("health", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("station_id"),
    )
    op.execute("INSERT INTO station_health (station_id, health) SELECT station_id, health FROM stations "
               "WHERE health IS NOT NULL")
    with op.batch_alter_table("stations") as batch_op:
        batch_op.drop_column("health")
    # a token not in an instance's map is looked up by its hash (a station added a moment ago)
    op.create_index("ix_stations_token_hash", "stations", ["token_hash"])
    if op.get_bind().dialect.name == "postgresql":
        # room on each page for the new version of a row a heartbeat updates (HOT: no index entry rewritten)
        op.execute("ALTER TABLE stations SET (fillfactor = 50)")
        op.execute("ALTER TABLE station_health SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE stations RESET (fillfactor)")
    op.drop_index("ix_stations_token_hash", table_name="stations")
    with op.batch_alter_table("stations") as batch_op:
        batch_op.add_column(sa.Column("health", sa.JSON(), nullable=True))
    op.execute("UPDATE stations SET health = (SELECT h.health FROM station_health h "
               "WHERE h.station_id = stations.station_id)")
    op.drop_table("station_health")
