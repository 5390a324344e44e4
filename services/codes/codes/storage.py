"""The edition store of the codes service: editions, their code entries, and the outbox.

A load writes the new edition's entries and, in the same transaction, makes it current
and records its `edition_loaded` event; so a reader (SQLite WAL or PostgreSQL MVCC)
sees the old edition or the new one, never a mix, and a load that fails part way leaves
nothing behind. The old edition's rows are deleted after that commit.

No nameko here: the service reaches the store through `dependencies.CodeStoreProvider`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from medcode_common.fields import columns_from
from medcode_common.migrations import Schema
from medcode_common.outbox import Outbox, outbox_table
from medcode_contracts.codes import (
    CodeNotes,
    CodePage,
    CodeRef,
    CodeSummary,
    CodeSystem,
    Edition,
    EditionInfo,
)
from medcode_contracts.events import EditionLoaded

from .domain import CodeRecord, EditionMeta, code_key
from .rules.storage import insert_tuples

SCHEMA = Schema.of("codes")  # codes.migrations, alembic_version_codes (the coding rules' tables too)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Mirror of migrations/versions/0001_code_sets.py, for queries.
metadata = sa.MetaData()
editions = sa.Table(
    "codes_editions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("source_url", sa.String(500), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False),
)
entries = sa.Table(
    "codes_entries",
    metadata,
    sa.Column("edition_id", sa.String(32), sa.ForeignKey("codes_editions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("system", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(16), primary_key=True),
    sa.Column("code", sa.String(16), nullable=False),
    sa.Column("parent_key", sa.String(16)),
    sa.Column("billable", sa.Boolean, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("short_title", sa.Text),
    sa.Column("doc", sa.Text, nullable=False),  # JSON: parent, notes, lay_terms, extra
)
OUTBOX = Outbox(outbox_table(metadata, "codes"))

_NOTE_FIELDS = tuple(CodeNotes.model_fields)


@dataclass(slots=True)
class LoadReport:
    """What `replace_edition` (or the loader, for skipped systems) did for one system."""

    system: str
    status: str  # "loaded", "already loaded", "not found"
    edition: str | None = None  # edition name
    edition_id: str | None = None
    source: str | None = None
    codes: int = 0
    added: int = 0
    deleted: int = 0
    revised: int = 0
    seconds: float = 0.0


def _now() -> datetime:
    return datetime.now(UTC)


def _row(edition_id: str, record: CodeRecord) -> tuple:
    """A codes_entries row, in the table's column order."""
    doc = {"parent": record.parent, "notes": record.notes, "lay_terms": record.lay_terms, "extra": record.extra}
    return (
        edition_id,
        CodeSystem(record.system).value,
        record.key,
        record.code,
        code_key(record.parent) if record.parent else None,
        record.billable,
        record.title,
        record.short_title,
        json.dumps({k: v for k, v in doc.items() if v}, separators=(",", ":"), ensure_ascii=False),
    )


def _record(row) -> CodeRecord:
    doc = json.loads(row.doc)
    return CodeRecord(
        system=CodeSystem(row.system),
        code=row.code,
        title=row.title,
        billable=row.billable,
        short_title=row.short_title,
        parent=doc.get("parent"),
        notes=doc.get("notes", {}),
        lay_terms=doc.get("lay_terms", []),
        extra=doc.get("extra", {}),
    )


def _edition_source(row) -> str:
    return f"{row.source} ({row.source_url})" if row.source_url else row.source


def _iso(value) -> str:
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite keeps no time zone: it is UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


class CodeStore:
    outbox = OUTBOX

    def __init__(self, engine: sa.Engine, batch_size: int = 5000):
        self.engine = engine
        self.batch_size = batch_size

    # -- schema -----------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision unless it is there already, under
        the lock every service takes (medcode_common.migrations), so the loader and replicas
        never migrate at once."""
        SCHEMA.migrate(self.engine)

    # -- editions ---------------------------------------------------------------------
    def current_editions(self) -> list[EditionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(editions).where(editions.c.is_current).order_by(editions.c.system)).all()
        return [
            EditionInfo(
                system=CodeSystem(row.system),
                name=row.name,
                effective_from=_iso(row.effective_from),
                source=_edition_source(row),
                loaded_at=_iso(row.loaded_at),
                counts=row.counts or {},
            )
            for row in rows
        ]

    def current_edition_ids(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(editions.c.system, editions.c.id).where(editions.c.is_current)).all()
        return {row.system: row.id for row in rows}

    def has_edition(self, system: CodeSystem | str, fingerprint: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(editions.c.id).where(
                    editions.c.system == CodeSystem(system).value,
                    editions.c.fingerprint == fingerprint,
                    editions.c.is_current,
                )
            ).first()
        return found is not None

    def replace_edition(
        self,
        meta: EditionMeta,
        records: Iterable[CodeRecord],
        progress: Callable[[int], None] | None = None,
    ) -> LoadReport:
        """Load `records` as the new current edition of `meta.system`.

        One transaction: insert the entries in batches (memory stays bounded), compare
        with the previous edition, flip `is_current`, add `edition_loaded` to the outbox.
        Any exception (a malformed release part way through) rolls it all back, so the
        previous edition stays current and no partial rows remain."""
        started = time.monotonic()
        system = CodeSystem(meta.system).value
        edition_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            previous = conn.execute(
                sa.select(editions.c.id).where(editions.c.system == system, editions.c.is_current)
            ).scalar_one_or_none()
            values = columns_from(
                editions, meta, id=edition_id, system=system, counts={}, loaded_at=_now(), is_current=False
            )
            conn.execute(editions.insert().values(**values))
            counts: Counter[str] = Counter()
            batch: list[tuple] = []
            for record in records:
                batch.append(_row(edition_id, record))
                counts[batch[-1][1]] += 1
                counts["billable"] += record.billable
                if len(batch) >= self.batch_size:
                    self._insert(conn, batch, progress)
                    batch = []
            if batch:
                self._insert(conn, batch, progress)
            total = sum(n for name, n in counts.items() if name != "billable")
            if previous is None:
                added, deleted, revised = total, 0, 0
            else:
                added, deleted, revised = self._diff(conn, previous, edition_id)
                conn.execute(editions.update().where(editions.c.id == previous).values(is_current=False))
            conn.execute(
                editions.update()
                .where(editions.c.id == edition_id)
                .values(
                    is_current=True,
                    loaded_at=_now(),
                    counts={"codes": total, "billable": counts.pop("billable", 0), **dict(sorted(counts.items()))},
                )
            )
            self.outbox.add(
                conn,
                EditionLoaded(
                    system=system,
                    edition=meta.name,
                    effective_from=meta.effective_from.isoformat(),
                    codes=total,
                    added=added,
                    deleted=deleted,
                    revised=revised,
                ),
            )
        self._drop_old_editions(system)
        return LoadReport(
            system=system,
            status="loaded",
            edition=meta.name,
            edition_id=edition_id,
            source=meta.source,
            codes=total,
            added=added,
            deleted=deleted,
            revised=revised,
            seconds=round(time.monotonic() - started, 2),
        )

    def _insert(self, conn: sa.Connection, batch: list[tuple], progress) -> None:
        insert_tuples(conn, entries, batch)
        if progress is not None:
            progress(len(batch))

    @staticmethod
    def _diff(conn: sa.Connection, old_id: str, new_id: str) -> tuple[int, int, int]:
        """(added, deleted, revised) keys of the new edition against the old one;
        revised = same key, different title."""
        new, old = entries.alias("new"), entries.alias("old")

        def missing(side, other, side_id, other_id):
            match = sa.select(other.c.key).where(
                other.c.edition_id == other_id,
                other.c.system == side.c.system,
                other.c.key == side.c.key,
            )
            return sa.select(sa.func.count()).select_from(side).where(side.c.edition_id == side_id, ~match.exists())

        added = conn.execute(missing(new, old, new_id, old_id)).scalar_one()
        deleted = conn.execute(missing(old, new, old_id, new_id)).scalar_one()
        revised = conn.execute(
            sa.select(sa.func.count())
            .select_from(
                new.join(
                    old,
                    sa.and_(
                        old.c.edition_id == old_id,
                        old.c.system == new.c.system,
                        old.c.key == new.c.key,
                    ),
                )
            )
            .where(new.c.edition_id == new_id, new.c.title != old.c.title)
        ).scalar_one()
        return added, deleted, revised

    def _drop_old_editions(self, system: str) -> None:
        """Delete the rows of the system's editions that are not current (the one just
        replaced, and any left by an earlier interrupted clean-up)."""
        with self.engine.begin() as conn:
            old = sa.select(editions.c.id).where(editions.c.system == system, ~editions.c.is_current)
            conn.execute(entries.delete().where(entries.c.edition_id.in_(old)))
            conn.execute(editions.delete().where(editions.c.system == system, ~editions.c.is_current))

    # -- reading ----------------------------------------------------------------------
    def iter_records(self, system: CodeSystem | str) -> Iterator[CodeRecord]:
        """The current edition's records of `system` (an edition's system: HCPCS also
        yields its MODIFIER records), streamed in key order."""
        with self.engine.connect() as conn:
            edition_id = conn.execute(
                sa.select(editions.c.id).where(editions.c.system == CodeSystem(system).value, editions.c.is_current)
            ).scalar_one_or_none()
            if edition_id is None:
                return
            result = conn.execution_options(yield_per=2000).execute(
                sa.select(entries).where(entries.c.edition_id == edition_id).order_by(entries.c.system, entries.c.key)
            )
            for row in result:
                yield _record(row)

    def get_pages(self, refs: list[CodeRef]) -> list[CodePage | None]:
        """The code pages of `refs`, in request order (None where a code is unknown)."""
        return [found[0] if found else None for found in self.get_page_facts(refs)]

    def get_page_facts(self, refs: list[CodeRef]) -> list[tuple[CodePage, dict, str] | None]:
        """(page, the record's `extra` facts, the edition's source file) for each of `refs`,
        in request order (None where a code is unknown): what the description is made of.

        Every query names the current edition ids, so SQLite and PostgreSQL answer from the
        primary key (edition_id, system, key) and the parent index instead of scanning."""
        if not refs:
            return []
        wanted = [(CodeSystem(ref.system).value, code_key(ref.code)) for ref in refs]
        columns = (entries, editions.c.name, editions.c.effective_from, editions.c.source, editions.c.source_url)
        relative_columns = (
            entries.c.edition_id,
            entries.c.system,
            entries.c.key,
            entries.c.code,
            entries.c.parent_key,
            entries.c.title,
            entries.c.billable,
        )
        with self.engine.connect() as conn:
            current = conn.execute(sa.select(editions.c.id).where(editions.c.is_current)).scalars().all()
            if not current:
                return [None] * len(wanted)
            rows = conn.execute(
                sa.select(*columns)
                .join(editions, editions.c.id == entries.c.edition_id)
                .where(
                    entries.c.edition_id.in_(current),
                    entries.c.system.in_({s for s, _ in wanted}),
                    entries.c.key.in_({k for _, k in wanted}),
                )
            ).all()
            found = {(row.system, row.key): row for row in rows}
            relatives: list[sa.Row] = []
            if rows:
                systems = {row.system for row in rows}
                parent_keys = {row.parent_key for row in rows if row.parent_key}
                if parent_keys:
                    relatives += conn.execute(
                        sa.select(*relative_columns).where(
                            entries.c.edition_id.in_(current),
                            entries.c.system.in_(systems),
                            entries.c.key.in_(parent_keys),
                        )
                    ).all()
                relatives += conn.execute(
                    sa.select(*relative_columns).where(
                        entries.c.edition_id.in_(current),
                        entries.c.system.in_(systems),
                        entries.c.parent_key.in_({row.key for row in rows}),
                    )
                ).all()
        by_key = {(r.edition_id, r.system, r.key): r for r in relatives}
        children: dict[tuple, list] = {}
        for r in relatives:
            if r.parent_key:
                children.setdefault((r.edition_id, r.system, r.parent_key), []).append(r)
        return [self._page(found.get(ref), by_key, children) for ref in wanted]

    @staticmethod
    def _page(row, by_key: dict, children: dict) -> tuple[CodePage, dict, str] | None:
        if row is None:
            return None
        doc = json.loads(row.doc)
        notes = doc.get("notes", {})

        def summary(r) -> CodeSummary:
            return CodeSummary(system=CodeSystem(r.system), code=r.code, title=r.title, billable=r.billable)

        parent = by_key.get((row.edition_id, row.system, row.parent_key)) if row.parent_key else None
        kids = sorted(children.get((row.edition_id, row.system, row.key), []), key=lambda r: r.code)
        page = CodePage(
            system=CodeSystem(row.system),
            code=row.code,
            title=row.title,
            short_title=row.short_title,
            billable=row.billable,
            edition=Edition(name=row.name, effective_from=_iso(row.effective_from), source=_edition_source(row)),
            lay_terms=doc.get("lay_terms", []),
            notes=CodeNotes(**{name: notes[name] for name in _NOTE_FIELDS if name in notes}),
            parent=summary(parent) if parent is not None else None,
            children=[summary(k) for k in kids],
        )
        return page, doc.get("extra", {}), row.source
