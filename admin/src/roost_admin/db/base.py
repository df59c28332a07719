"""The database: the declarative base every model uses, and engines and sessions for SQLite and PostgreSQL.

Every change an RPC makes happens in one transaction (``with db.begin() as session``), so a request that
fails leaves nothing half-written.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The base of every table; constraint names are fixed so migrations name them the same everywhere."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime.datetime: DateTime(timezone=True)}


def utcnow() -> datetime.datetime:
    """Now, as a timezone-aware UTC datetime (what every timestamp column holds)."""
    return datetime.datetime.now(datetime.UTC)


POOL_SIZE = 32
"""PostgreSQL connections the pool keeps: as many as the gRPC server has threads. A connection beyond the pool
is closed when it is returned, so a smaller pool under that many concurrent calls opened and closed a
connection (a server process on PostgreSQL's side) for every call beyond it. Connections are opened only as
calls need them."""


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys and a busy timeout so threads share it safely."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=20, pool_recycle=1800, **options)
    _ping_after_idling(engine)
    return engine


PING_AFTER_IDLE = 10.0
"""Seconds a pooled PostgreSQL connection may sit idle before it is pinged on its next checkout. A ping on
every checkout (``pool_pre_ping``) costs a round trip per transaction; a connection in steady use is known to
be alive, and one the server dropped while busy fails its statement and is replaced, as SQLAlchemy does."""

_IDLE_SINCE = "roost_idle_since"


def _ping_after_idling(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises for a dead connection
            # The pool discards this connection and checks out another (SQLAlchemy's disconnect protocol).
            raise DisconnectionError(
                f"a pooled connection idle for {time.monotonic() - since:.0f}s is gone"
            ) from exc


def ping(dbapi_connection: Any) -> None:
    """One round trip on a driver connection, leaving it outside a transaction."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()
    dbapi_connection.rollback()


def violates_unique(exc: IntegrityError, table: str, *columns: str) -> bool:
    """Whether ``exc`` is the violation of ``table``'s unique constraint over ``columns`` (named by ``NAMING``
    on PostgreSQL; SQLite names the columns)."""
    text = str(exc.orig)
    constraint = f'"uq_{table}_{"_".join(columns)}"'
    sqlite = "UNIQUE constraint failed: " + ", ".join(f"{table}.{column}" for column in columns)
    return constraint in text or sqlite in text


class Database:
    """An engine and its sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded database."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (no transaction is committed)."""
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
