"""SQLAlchemy engines for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from .settings import normalise_database_url


def _cooperate_with_eventlet() -> None:
    """Under eventlet (Nameko services), psycopg's default C wait function blocks the
    whole process while it waits for the server: one green thread waiting for a row lock
    (SELECT ... FOR UPDATE) would then stop the green thread holding it, forever. The
    select()-based wait is green once eventlet has patched `select`."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or not patcher.is_monkey_patched("select"):
        return
    from psycopg import waiting

    waiting.wait = waiting.wait_select


def make_engine(url: str, *, sqlite_cache_kib: int | None = None, **kwargs) -> Engine:
    """One engine per process; SQLite gets WAL and a busy timeout so readers never block
    a writer and concurrent writers wait instead of failing. `sqlite_cache_kib` bounds the
    database pages each SQLite connection keeps (SQLite's default is 2 MB a connection, and
    the pool keeps several; the operating system's file cache holds the pages all the same)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            if sqlite_cache_kib is not None:
                cursor.execute(f"PRAGMA cache_size = {-int(sqlite_cache_kib)}")
            cursor.close()

        return engine
    url = normalise_database_url(url)
    if url.startswith("postgresql+psycopg"):
        _cooperate_with_eventlet()
    return create_engine(url, pool_pre_ping=True, **kwargs)


def fetch_on_driver(engine: Engine, sql: str, parameters: Sequence) -> list[tuple]:
    """The rows of one SELECT, run straight on a pooled DB-API connection: on a hot read
    (a claim's PTP pairs, a code page's meter check) SQLAlchemy's per-statement work costs
    several times the lookup itself. `sql` uses the driver's own parameter marks."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        finally:
            cursor.close()
    finally:
        connection.close()
