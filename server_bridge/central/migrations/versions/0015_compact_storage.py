"""compact storage (issue 16): health changes keyed by (station, at) with the summary deflated and a BRIN index
on `at`; lendings' redundant (item_id, status) index dropped and the overdue index only over open lendings;
the returns' outcome index only over returns that did not close a lending

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import hashlib
import json
import zlib

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _deflate(summary: object) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)  # models.deflate_json, as it is at this revision
    text = summary if isinstance(summary, str) else json.dumps(summary, separators=(",", ":"))
    return c.compress(text.encode()) + c.flush()


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.rename_table("health_changes", "health_changes_0013")
    op.create_table(
        "health_changes",
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "at"),
    )
    old = sa.table("health_changes_0013", sa.column("station_id"), sa.column("at"), sa.column("summary", sa.JSON()))
    new = sa.table("health_changes", sa.column("station_id"), sa.column("at"), sa.column("summary"))
    last: tuple[str, float] | None = None
    while True:  # in key order, a batch at a time (30 days of changes of a whole fleet may be large)
        q = sa.select(old.c.station_id, old.c.at, old.c.summary).order_by(old.c.station_id, old.c.at).limit(5000)
        if last is not None:
            q = q.where(sa.tuple_(old.c.station_id, old.c.at) > sa.tuple_(sa.literal(last[0]), sa.literal(last[1])))
        rows = bind.execute(q).all()
        if not rows:
            break
        seen: set[tuple[str, float]] = set()
        batch = []
        for sid, at, summary in rows:
            if (sid, at) not in seen:  # two changes stamped at the same instant: one is kept
                seen.add((sid, at))
                batch.append({"station_id": sid, "at": at, "summary": _deflate(summary)})
        bind.execute(sa.insert(new), batch)
        last = (rows[-1][0], rows[-1][1])
    op.drop_table("health_changes_0013")
    op.create_index("ix_health_changes_at", "health_changes", ["at"], postgresql_using="brin")
    op.drop_index("lendings_item_status", table_name="lendings")
    op.drop_index("lendings_status_due", table_name="lendings")
    op.create_index("lendings_open_due", "lendings", ["due_at"], postgresql_where=sa.text("status = 'open'"),
                    sqlite_where=sa.text("status = 'open'"))
    op.drop_index("lending_returns_outcome", table_name="lending_returns")
    op.create_index("lending_returns_outcome", "lending_returns", ["outcome"],
                    postgresql_where=sa.text("outcome <> 'closed'"), sqlite_where=sa.text("outcome <> 'closed'"))
    if pg:
        op.execute("ANALYZE health_changes")


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("lending_returns_outcome", table_name="lending_returns")
    op.create_index("lending_returns_outcome", "lending_returns", ["outcome"])
    op.drop_index("lendings_open_due", table_name="lendings")
    op.create_index("lendings_status_due", "lendings", ["status", "due_at"])
    op.create_index("lendings_item_status", "lendings", ["item_id", "status"])
    op.rename_table("health_changes", "health_changes_0014")
    op.drop_index("ix_health_changes_at", table_name="health_changes_0014")
    op.create_table(
        "health_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("digest", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    old = sa.table("health_changes_0014", sa.column("station_id"), sa.column("at"), sa.column("summary"))
    new = sa.table("health_changes", sa.column("station_id"), sa.column("at"), sa.column("digest"),
                   sa.column("summary", sa.JSON()))
    for sid, at, blob in bind.execute(sa.select(old.c.station_id, old.c.at, old.c.summary)).all():
        text = zlib.decompress(blob, -15).decode()
        bind.execute(sa.insert(new), [{"station_id": sid, "at": at, "summary": json.loads(text),
                                       "digest": hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}])
    op.drop_table("health_changes_0014")
    op.create_index("ix_health_changes_at", "health_changes", ["at"])
    op.create_index("health_changes_station_at", "health_changes", ["station_id", "at"])
