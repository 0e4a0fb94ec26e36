"""Alembic environment: the URL comes from the caller (server_bridge.central.schema_migrations)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import server_bridge.central.accounts  # noqa: F401  (console users, sessions)
import server_bridge.central.audit  # noqa: F401  (the audit log)
import server_bridge.central.bundles  # noqa: F401  (issue 15.6: configuration bundles)
import server_bridge.central.commands  # noqa: F401  (remote commands, screenshots)
import server_bridge.central.desk.duties  # noqa: F401  (issue 17: supplies, storage incidents, handovers)
import server_bridge.central.desk.models  # noqa: F401  (the desk's tables, on the same Base)
import server_bridge.central.models  # noqa: F401
import server_bridge.central.payments.models  # noqa: F401  (issue 14: payment tables)
from server_bridge.central.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
