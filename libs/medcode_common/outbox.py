"""Transactional outbox and inbox: a stored change and its event never part.

A service writes the event into its own `<prefix>_outbox` table in the same database
transaction as the change. A relay (a Nameko timer in the service, see `OutboxRelay`)
publishes pending rows and marks them sent; a crash between the two only means the event
is published again after restart, and consumers drop redeliveries through the inbox
(`<prefix>_inbox`, keyed by event_id).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from medcode_contracts.events import Event

from .transactions import insert_ignoring_duplicates


def outbox_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}_outbox",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True, index=True),
    )


def inbox_table(metadata: sa.MetaData, prefix: str) -> sa.Table:
    return sa.Table(
        f"{prefix}_inbox",
        metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(self, table: sa.Table):
        self.table = table
        # Built once, run with parameters: their compiled forms then come from the cache.
        self._insert = table.insert()
        self._pending = (
            sa.select(table.c.id, table.c.source, table.c.event_type, table.c.payload)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(sa.bindparam("batch"))
        )
        self._mark_published = table.update().where(table.c.id.in_(sa.bindparam("row_ids", expanding=True)))
        # Rows this process has added (committed or not): a request whose add() did not move
        # it has nothing of its own to relay (see nameko_storage.EventRelay).
        self.added = 0

    def add(self, conn: sa.Connection, event: Event) -> None:
        """Record `event` inside the caller's open transaction."""
        self.added += 1
        conn.execute(
            self._insert,
            {
                "event_id": event.event_id,
                "source": event.SOURCE,
                "event_type": event.TYPE,
                "payload": json.dumps(event.payload()),
                "created_at": _now(),
            },
        )

    def relay(self, engine: sa.Engine, publish: Callable[[str, str, dict], None], batch: int = 100) -> int:
        """Publish pending events in order; returns how many went out. `publish(source,
        event_type, payload)` must raise if the broker did not take the message, so the
        row stays pending (with the rows after it; the ones before it are marked sent).
        The published rows are marked in one UPDATE, not one transaction per row: a crash
        before it only publishes them again, which consumers' inboxes drop."""
        with engine.connect() as conn:
            rows = conn.execute(self._pending, {"batch": batch}).all()
        sent: list[int] = []
        try:
            for row in rows:
                publish(row.source, row.event_type, json.loads(row.payload))
                sent.append(row.id)
        finally:
            if sent:
                with engine.begin() as conn:
                    conn.execute(self._mark_published, {"row_ids": sent, "published_at": _now()})
        return len(sent)

    def pending(self, conn: sa.Connection) -> int:
        return conn.execute(
            sa.select(sa.func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
        ).scalar_one()


class Inbox:
    def __init__(self, table: sa.Table):
        self.table = table

    def first_time(self, conn: sa.Connection, event_id: str) -> bool:
        """Claim `event_id` inside the caller's transaction: True the first time, False for a
        redelivery (the caller then skips the work). Insert-if-absent rather than a
        savepoint: on SQLite a savepoint opened as the first statement commits by itself."""
        return insert_ignoring_duplicates(conn, self.table, event_id=event_id, received_at=_now())
