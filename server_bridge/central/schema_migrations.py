"""Schema migrations (alembic) run from code: `upgrade(url)` brings any database to head."""
from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from server_bridge.central.db import make_engine

log = logging.getLogger(__name__)
SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every pending migration (idempotent; safe to run on each start)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
    finally:
        engine.dispose()
    log.info("central.migrated url=%s", url.split("@")[-1])
