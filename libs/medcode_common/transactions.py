"""Write transactions that serialise concurrent writers on one row, on both databases.

    with serialized_transaction(engine) as conn:
        row = conn.execute(lock_rows(select(counters).where(...))).first()
        ...   # decide and write; commits on leaving the block, rolls back on error

On SQLite the transaction starts with BEGIN IMMEDIATE: it takes the database's write lock
before reading, so two processes can never both read a count and then both act on it (a
plain deferred transaction would read first and fail or race at its first write). On
PostgreSQL it is a READ COMMITTED transaction and the caller locks the rows it decides on
with SELECT ... FOR UPDATE (`lock_rows`), so only writers of the same rows wait.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


@contextlib.contextmanager
def serialized_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite would emit a deferred BEGIN before the first write; an explicit
            # BEGIN IMMEDIATE replaces it (sqlite3 then sees a transaction already open).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def lock_rows(statement: sa.Select) -> sa.Select:
    """SELECT ... FOR UPDATE (ignored by SQLite, whose transaction holds the write lock)."""
    return statement.with_for_update()


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, **values) -> bool:
    """INSERT that does nothing when a unique key already exists; True when a row was
    added. Unlike catching IntegrityError, this never aborts the surrounding transaction."""
    return conn.execute(_insert_ignoring_duplicates(conn.dialect.name, table), values).first() is not None


@functools.cache
def _insert_ignoring_duplicates(dialect_name: str, table: sa.Table) -> sa.Insert:
    """Built once per table: the values go in as parameters, so the statement's compiled
    form comes from SQLAlchemy's cache instead of being rebuilt and keyed on every call."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    # RETURNING rather than rowcount: drivers do not all report rowcount for this statement.
    return dialect.insert(table).on_conflict_do_nothing().returning(sa.literal(1))
