"""Schema migrations (Alembic), applied by ``roost admin migrate`` and at the start of ``roost start``."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from roost_admin.db.base import Database

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    """An Alembic configuration for ``db`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision``."""
    config = alembic_config(db)
    before = current(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    after = current(db)
    if after != before:
        log.info("database schema migrated from %s to %s", before or "empty", after)


def current(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
