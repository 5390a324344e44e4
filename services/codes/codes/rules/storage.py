"""Coding-rule tables in the codes database, and the store that loads and reads them.

Every row belongs to one edition (one load of one rule file, or of the parts of one
release). Loads are atomic for readers: rows are written under a `loading` edition that no
query reads, then one short transaction makes it `current` and retires the previous one,
whose rows are then deleted. Loading the same bytes again (same fingerprint) is a no-op.

The schema is created by the Alembic migration 0002_coding_rules; `metadata` here must stay
identical to it (a test compares them).
"""

from __future__ import annotations

import gc
import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice

import sqlalchemy as sa
from sqlalchemy import Engine

from medcode_common.db import fetch_on_driver

from ..domain import LayTerm, ModifierRow, ProcedureCodeRow, procedure_system
from .rows import CoverageDocumentRow, GemRow, MceRow, NcdDiagnosisRow, NcdProcedureRow, PtpRow

metadata = sa.MetaData()


def _edition_rows(name: str, *columns: sa.Column | sa.Index) -> sa.Table:
    """A table of rule rows, each of one edition (edition_id, the first column). No foreign
    key to rule_editions: 2.5 M-row loads stay fast; the store deletes rows by edition."""
    return sa.Table(name, metadata, sa.Column("edition_id", sa.Integer, nullable=False), *columns)


def _in_force() -> tuple[sa.Column, sa.Column]:
    """The first and the last day a row is in force (NULL: since always, still)."""
    return sa.Column("effective_from", sa.Date, nullable=True), sa.Column("term_date", sa.Date, nullable=True)


rule_editions = sa.Table(
    "rule_editions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # PTP, MUE, GEM, INDEX, MODIFIERS, HCPCS, CPT
    sa.Column("setting", sa.String(32), nullable=True),  # practitioner / outpatient_hospital / dme
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # loading, current, replaced, failed
    sa.Column("counts", sa.Text, nullable=False, server_default="{}"),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_rule_editions_kind_status", "kind", "setting", "status"),
)

rule_ptp_edits = _edition_rows(
    "rule_ptp_edits",
    sa.Column("setting", sa.String(32), nullable=False),
    sa.Column("column1", sa.String(5), nullable=False),
    sa.Column("column2", sa.String(5), nullable=False),
    sa.Column("effective_from", sa.Date, nullable=True),  # NULL: layout without effective dates
    sa.Column("deleted_on", sa.Date, nullable=True),  # last day in force; NULL = active
    sa.Column("modifier_indicator", sa.SmallInteger, nullable=False),
    sa.Column("rationale", sa.String(120), nullable=True),
    sa.Index("ix_rule_ptp_pair", "setting", "column1", "column2"),
    sa.Index("ix_rule_ptp_column2", "setting", "column2"),
)

rule_mue = _edition_rows(
    "rule_mue",
    sa.Column("setting", sa.String(32), nullable=False),
    sa.Column("code", sa.String(5), nullable=False),
    sa.Column("max_units", sa.Integer, nullable=False),
    sa.Column("adjudication_indicator", sa.String(80), nullable=False),
    sa.Column("rationale", sa.String(200), nullable=True),
    sa.Index("ix_rule_mue_code", "setting", "code"),
)

rule_crosswalks = _edition_rows(
    "rule_crosswalks",
    sa.Column("kind", sa.String(24), nullable=False),  # GEM_I10_TO_I9 / GEM_I9_TO_I10
    sa.Column("source_code", sa.String(8), nullable=False),  # without dot
    sa.Column("target_code", sa.String(8), nullable=False),  # without dot; NoDx when no_map
    sa.Column("approximate", sa.Boolean, nullable=False),
    sa.Column("no_map", sa.Boolean, nullable=False),
    sa.Column("combination", sa.Boolean, nullable=False),
    sa.Column("scenario", sa.SmallInteger, nullable=False),
    sa.Column("choice_list", sa.SmallInteger, nullable=False),
    sa.Index("ix_rule_crosswalks_source", "source_code"),
    sa.Index("ix_rule_crosswalks_target", "target_code"),
)

rule_lay_terms = _edition_rows(
    "rule_lay_terms",
    sa.Column("code", sa.String(8), nullable=False),  # ICD-10-CM key without dot; PCS_INDEX: a PCS code or code prefix
    sa.Column("term", sa.Text, nullable=False),
    # The index path the term comes from (migration 0003); NULL for rows loaded before.
    sa.Column("path", sa.Text, nullable=True),
    sa.Index("ix_rule_lay_terms_code", "code"),
)

rule_modifiers = _edition_rows(
    "rule_modifiers",
    sa.Column("code", sa.String(2), nullable=False),
    sa.Column("system", sa.String(8), nullable=False),  # HCPCS or CPT
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("terminated_on", sa.Date, nullable=True),
    sa.Index("ix_rule_modifiers_code", "code"),
)

# Procedure codes a rule or code file knows: from PTP/MUE tables (CPT numbers only), the
# HCPCS file (Level II with titles) and a licensed CPT file (with AMA descriptors).
rule_codes = _edition_rows(
    "rule_codes",
    sa.Column("code", sa.String(5), nullable=False),
    sa.Column("system", sa.String(8), nullable=False),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("last_day", sa.Date, nullable=True),  # last day valid / in force; NULL = now
    sa.Index("ix_rule_codes_code", "code"),
)

# Medicare coverage and code edits (migration 0003_coverage_and_code_edits).
rule_ncd_procedures = _edition_rows(
    "rule_ncd_procedures",
    sa.Column("ncd", sa.String(8), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("code", sa.String(5), nullable=False),
    *_in_force(),
    sa.Index("ix_rule_ncd_procedures_code", "code"),
)

rule_ncd_diagnoses = _edition_rows(
    "rule_ncd_diagnoses",
    sa.Column("ncd", sa.String(8), nullable=False),
    sa.Column("code", sa.String(8), nullable=False),  # without dot; @@@@@@@ = all others
    *_in_force(),
    sa.Column("resolution", sa.SmallInteger, nullable=False),  # 1 covered, 2 denied, 3 not supported
    sa.Column("changed", sa.Boolean, nullable=False),
    sa.Index("ix_rule_ncd_diagnoses_code", "code"),
    sa.Index("ix_rule_ncd_diagnoses_ncd", "ncd"),
)

rule_coverage_documents = _edition_rows(
    "rule_coverage_documents",
    sa.Column("document_id", sa.String(16), nullable=False),
    sa.Column("document_type", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("contractor", sa.Text, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=True),
    sa.Column("version", sa.String(16), nullable=True),
    sa.Column("url", sa.Text, nullable=True),
)

rule_mce_edits = _edition_rows(
    "rule_mce_edits",
    sa.Column("edit", sa.String(40), nullable=False),
    sa.Column("number", sa.String(4), nullable=False),
    sa.Column("list_title", sa.String(200), nullable=False),
    sa.Column("code", sa.String(8), nullable=False),
    sa.Column("code_system", sa.String(8), nullable=False),
    sa.Column("flag", sa.String(4), nullable=True),
    sa.Index("ix_rule_mce_edits_code", "code"),
)

ROW_TABLES = (
    rule_ptp_edits,
    rule_mue,
    rule_crosswalks,
    rule_lay_terms,
    rule_modifiers,
    rule_codes,
    rule_ncd_procedures,
    rule_ncd_diagnoses,
    rule_coverage_documents,
    rule_mce_edits,
)

BATCH = 50_000


@dataclass(slots=True, frozen=True)
class EditionRow:
    id: int
    kind: str
    setting: str | None
    name: str
    source: str
    fingerprint: str
    status: str
    counts: dict
    loaded_at: datetime

    @property
    def label(self) -> str:
        """What a finding cites: file and edition."""
        return f"{self.source} ({self.name})"


@dataclass(slots=True)
class LoadResult:
    edition: EditionRow
    loaded: bool  # False: same fingerprint was already current (no-op)
    seconds: float = 0.0


def _edition(row) -> EditionRow:
    """A rule_editions row: its columns are EditionRow's fields, the counts stored as JSON."""
    return EditionRow(**{**row._mapping, "counts": json.loads(row.counts or "{}")})


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


class RulesStore:
    """Loads and reads coding rules. Thread-safe: it holds the engine (and, during a load,
    the ids of the editions it stages elsewhere)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._reserved: set[int] = set()  # editions whose rows are being staged

    # ---- schema (tests without Alembic) -------------------------------------------------
    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    # ---- editions ------------------------------------------------------------------------
    def current_editions(self) -> list[EditionRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(rule_editions)
                .where(rule_editions.c.status == "current")
                .order_by(rule_editions.c.kind, rule_editions.c.setting)
            ).all()
        return [_edition(r) for r in rows]

    def current_edition(self, kind: str, setting: str | None = None) -> EditionRow | None:
        for edition in self.current_editions():
            if edition.kind == kind and edition.setting == setting:
                return edition
        return None

    # ---- loading -------------------------------------------------------------------------
    def load(
        self,
        *,
        kind: str,
        setting: str | None,
        name: str,
        source: str,
        fingerprint: str,
        rows: Iterable,
        force: bool = False,
    ) -> LoadResult:
        """Load one edition of one kind (and setting) and make it current atomically.

        `rows` is an iterable of the kind's records (PtpRow, MueRow, GemRow with a
        `kind`, LayTerm, ModifierRow, ProcedureCodeRow); it is consumed in batches."""
        started = datetime.now(UTC)
        previous = self.current_edition(kind, setting)
        if previous is not None and previous.fingerprint == fingerprint and not force:
            return LoadResult(previous, loaded=False)
        self._purge_unfinished()
        edition_id = self._insert_loading(kind, setting, name, source, fingerprint, started)
        try:
            counts = self._write_rows(edition_id, kind, setting, rows)
        except BaseException:
            with self.engine.begin() as conn:
                conn.execute(rule_editions.update().where(rule_editions.c.id == edition_id).values(status="failed"))
            self._delete_edition_rows(edition_id)
            raise
        with self.engine.begin() as conn:
            # The switch: one short transaction, so readers see the old or the new edition.
            self._make_current(conn, edition_id, kind, setting, counts)
        if previous is not None:
            self._delete_edition_rows(previous.id)
        seconds = (datetime.now(UTC) - started).total_seconds()
        current = self.current_edition(kind, setting)
        assert current is not None  # the switch above made the new edition current
        return LoadResult(current, loaded=True, seconds=seconds)

    def _insert_loading(
        self, kind: str, setting: str | None, name: str, source: str, fingerprint: str, at: datetime
    ) -> int:
        """A new edition row with status `loading` (not yet seen by readers); its id."""
        with self.engine.begin() as conn:
            return conn.execute(
                rule_editions.insert()
                .values(
                    kind=kind,
                    setting=setting,
                    name=name,
                    source=source,
                    fingerprint=fingerprint,
                    status="loading",
                    counts="{}",
                    loaded_at=at,
                )
                .returning(rule_editions.c.id)
            ).scalar_one()

    @staticmethod
    def _make_current(conn: sa.Connection, edition_id: int, kind: str, setting: str | None, counts: dict) -> None:
        conn.execute(
            rule_editions.update()
            .where(
                rule_editions.c.kind == kind,
                rule_editions.c.setting.is_(None) if setting is None else rule_editions.c.setting == setting,
                rule_editions.c.status == "current",
            )
            .values(status="replaced")
        )
        conn.execute(
            rule_editions.update()
            .where(rule_editions.c.id == edition_id)
            .values(status="current", counts=json.dumps(counts), loaded_at=datetime.now(UTC))
        )

    # ---- PTP tables staged in a second SQLite file (codes.rules.rule_files.PtpStaging) ------
    def reserve(self, *, kind: str, setting: str | None, name: str, source: str, fingerprint: str) -> int:
        """A `loading` edition whose rows another process writes elsewhere (`adopt_staged`
        brings them in); the purge of unfinished loads spares it while this store lives."""
        edition_id = self._insert_loading(kind, setting, name, source, fingerprint, datetime.now(UTC))
        self._reserved.add(edition_id)
        return edition_id

    def release_reserved(self) -> None:
        """Reserved editions not adopted (a staging that failed) are marked failed: the next
        load purges them."""
        if not self._reserved:
            return
        with self.engine.begin() as conn:
            conn.execute(
                rule_editions.update()
                .where(rule_editions.c.id.in_(sorted(self._reserved)), rule_editions.c.status == "loading")
                .values(status="failed")
            )
        self._reserved.clear()

    def staging_tables_sql(self) -> list[str]:
        """The CREATE TABLE statements of the tables a PTP staging file holds, exactly as this
        database has them: SQLite copies rows between identical tables page-wise."""
        with self.engine.connect() as conn:
            found: dict[str, str] = dict(
                conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                    (rule_ptp_edits.name, rule_codes.name),
                ).all()
            )
        return [found[rule_ptp_edits.name], found[rule_codes.name]]

    def ptp_table_is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.literal(1)).select_from(rule_ptp_edits).limit(1)).first() is None

    def adopt_staged(
        self, staging: str, editions: dict[int, tuple[str, str | None, dict[str, int]]]
    ) -> list[LoadResult]:
        """Copy a staging file's PTP rows (and the codes they name) into this database and make
        their reserved editions (id -> kind, setting, counts) current, in one transaction.
        Between identical tables, SQLite's transfer optimisation copies the rows as they are
        stored, about 4x faster than inserting them; an index of the table (none inside
        bulk_load) is kept up to date row by row."""
        previous = [self.current_edition(kind, setting) for kind, setting, _ in editions.values()]
        self._purge_unfinished()
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ATTACH DATABASE ? AS staged", (staging,))
            conn.commit()
            try:
                with _sqlite_bulk_write(conn), conn.begin(), _collector_paused():
                    for table in (rule_ptp_edits, rule_codes):
                        conn.exec_driver_sql(f"INSERT INTO main.{table.name} SELECT * FROM staged.{table.name}")
                    for edition_id, (kind, setting, counts) in editions.items():
                        self._make_current(conn, edition_id, kind, setting, counts)
            finally:
                conn.exec_driver_sql("DETACH DATABASE staged")
                conn.commit()
        self._reserved.difference_update(editions)
        for edition in previous:
            if edition is not None:
                self._delete_edition_rows(edition.id)
        results = []
        for kind, setting, _ in editions.values():
            current = self.current_edition(kind, setting)
            assert current is not None  # made current above
            results.append(LoadResult(current, loaded=True))
        return results

    def write_staged(self, edition_id: int, kind: str, setting: str | None, rows: Iterable) -> dict[str, int]:
        """The rows of a reserved edition, written into this store's (staging) database."""
        return self._write_rows(edition_id, kind, setting, rows)

    def _purge_unfinished(self) -> None:
        """Rows of loads that crashed (status loading/failed) are dead weight: drop them."""
        with self.engine.connect() as conn:
            stale = [
                edition_id
                for edition_id in conn.execute(
                    sa.select(rule_editions.c.id).where(rule_editions.c.status.in_(("loading", "failed", "replaced")))
                ).scalars()
                if edition_id not in self._reserved
            ]
        for edition_id in stale:
            self._delete_edition_rows(edition_id)
        if stale:
            with self.engine.begin() as conn:
                conn.execute(
                    rule_editions.delete().where(rule_editions.c.id.in_(stale), rule_editions.c.status != "replaced")
                )

    def _delete_edition_rows(self, edition_id: int) -> None:
        for table in ROW_TABLES:
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.edition_id == edition_id))

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Loads in this block write row tables that hold no rows yet without their indexes,
        which are built once when the block ends: building an index over millions of rows
        is several times cheaper than keeping it up to date row by row. Tables that hold a
        current edition keep their indexes, so its readers stay fast during a reload."""
        with self.engine.begin() as conn:
            for table in ROW_TABLES:
                if table.indexes and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None:
                    for index in table.indexes:
                        index.drop(conn, checkfirst=True)
        try:
            yield
        finally:
            self.ensure_indexes()

    def ensure_indexes(self, tables: Iterable[sa.Table] = ROW_TABLES) -> None:
        """Build the row tables' indexes that are missing (after bulk_load, or a load that
        crashed inside one)."""
        with self.engine.connect() as conn, _sqlite_bulk_write(conn), conn.begin():
            for table in tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)

    def _write_rows(self, edition_id: int, kind: str, setting: str | None, rows: Iterable) -> dict[str, int]:
        """All rows of one edition in one transaction: tuples streamed to the driver's bulk
        insert (COPY on PostgreSQL), no per-row objects of our own."""
        counts: dict[str, int] = {}
        with self.engine.connect() as conn, _sqlite_bulk_write(conn), conn.begin(), _collector_paused():
            if kind in _STREAMED:
                counts = self._write_streamed(conn, edition_id, kind, setting, rows)
            else:
                writer = _ROW_WRITERS[kind]
                for batch in _batches(rows, BATCH):
                    for table, values in writer(edition_id, setting, batch).items():
                        if values:
                            counts[table.name] = counts.get(table.name, 0) + insert_tuples(conn, table, values)
        return counts

    def _write_streamed(
        self, conn: sa.Connection, edition_id: int, kind: str, setting: str | None, rows: Iterable
    ) -> dict[str, int]:
        """PTP and MUE records are the table's columns after (edition_id, setting). These
        tables also tell which procedure codes exist (CPT numbers have no other free source):
        the codes of each deletion date (None = still in force) are noted."""
        table = _STREAMED[kind]
        constants: dict[str, int | str | None] = {"edition_id": edition_id, "setting": setting}
        # (deletion date, code) of every row, noted a batch at a time by C-level maps:
        # a per-row Python step here costs a second per million rows.
        noted: set[tuple[date | None, str]] = set()
        sqlite = self.engine.dialect.name == "sqlite"
        iso = _IsoDates()
        count = 0
        for batch in _batches(rows, BATCH):
            if kind == "PTP":
                days = list(map(_DELETED, batch))
                noted.update(zip(days, map(_FIRST, batch), strict=True))
                noted.update(zip(days, map(_SECOND, batch), strict=True))
            else:
                noted.update(zip(itertools.repeat(None), map(_FIRST, batch), strict=False))
            if kind == "PTP" and sqlite:
                values, literal = _sqlite_ptp_columns(batch, days, iso)
                count += insert_tuples(conn, table, values, constants={**constants, **literal})
            else:
                count += insert_tuples(conn, table, batch, constants=constants)
        counts = {table.name: count}
        # A code's last day: None when a row still in force names it, else its latest deletion.
        last_day: dict[str, date | None] = {}
        for day, code in sorted(noted, key=_day_order):
            last_day[code] = day
        values = [(edition_id, code, procedure_system(code), None, last_day[code]) for code in sorted(last_day)]
        if values:
            counts[rule_codes.name] = insert_tuples(conn, rule_codes, values)
        return counts

    # ---- reading -------------------------------------------------------------------------
    def ptp_for_pairs(
        self,
        edition_id: int,
        setting: str,
        codes: list[str],
        on: date | None = None,
        column1: list[str] | None = None,
    ) -> list[tuple]:
        """Every edit of the edition whose two codes are both among `codes` (one query for
        all pairs of a claim, both directions, through ix_rule_ptp_pair); with `on`, only the
        edits in force on that date of service (claim_check.in_force, applied in SQL too);
        with `column1`, only the edits whose column 1 code is one of those (the claim codes
        whose own edits are not kept in memory, see CodingRules).

        Rows are (column1, column2, effective_from, deleted_on, modifier_indicator, rationale).
        The query goes to the driver as it is: on a claim check, SQLAlchemy's per-statement
        work costs several times the index lookup itself."""
        first = codes if column1 is None else column1
        if len(codes) < 2 or not first:
            return []
        mark = self._mark()
        sql = (
            f"{_PTP_COLUMNS} WHERE setting = {mark} AND column1 IN ({', '.join([mark] * len(first))}) "
            f"AND column2 IN ({', '.join([mark] * len(codes))}) AND edition_id = {mark}"
        )
        params: list = [setting, *first, *codes, edition_id]
        if on is not None:
            sql += (
                f" AND modifier_indicator <> 9 AND (effective_from IS NULL OR effective_from <= {mark})"
                f" AND (deleted_on IS NULL OR deleted_on >= {mark})"
            )
            params += [on, on]
        return self._ptp_rows(sql, params)

    def ptp_of_column1(self, edition_id: int, setting: str, codes: list[str]) -> list[tuple]:
        """Every edit of the edition whose column 1 code is one of `codes`, whatever its dates
        (ix_rule_ptp_pair), ordered by column 1 and column 2: what CodingRules keeps in memory
        per code. Rows as ptp_for_pairs's."""
        if not codes:
            return []
        mark = self._mark()
        sql = (
            f"{_PTP_COLUMNS} WHERE setting = {mark} AND column1 IN ({', '.join([mark] * len(codes))}) "
            f"AND edition_id = {mark} ORDER BY column1, column2"
        )
        return self._ptp_rows(sql, [setting, *codes, edition_id])

    def _mark(self) -> str:
        return "?" if self.engine.dialect.name == "sqlite" else "%s"

    def _ptp_rows(self, sql: str, params: list) -> list[tuple]:
        rows = fetch_on_driver(self.engine, sql, params)
        if self.engine.dialect.name == "sqlite":  # dates are ISO text in SQLite: each distinct one is parsed once
            dates = _ISO_TEXT_DATES
            rows = [
                (c1, c2, dates[effective], dates[deleted], indicator, rationale)
                for c1, c2, effective, deleted, indicator, rationale in rows
            ]
        return rows

    def ptp_for_code(
        self, edition_id: int, setting: str, code: str, first: int, include_deleted: bool = False
    ) -> tuple[Sequence[sa.Row], int]:
        """Edits where `code` is column 1 or column 2 (active ones first), and their total."""
        t = rule_ptp_edits
        where = [t.c.edition_id == edition_id, t.c.setting == setting]
        if not include_deleted:
            where.append(t.c.deleted_on.is_(None))
        as_col1 = sa.select(t).where(*where, t.c.column1 == code)
        as_col2 = sa.select(t).where(*where, t.c.column2 == code)
        union = sa.union_all(as_col1, as_col2).subquery()
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(union)).scalar_one()
            rows = (
                conn.execute(
                    sa.select(union)
                    .order_by(union.c.deleted_on.is_not(None), union.c.column1, union.c.column2, union.c.deleted_on)
                    .limit(first)
                ).all()
                if first
                else []
            )
        return rows, total

    def mue_for_codes(self, edition_ids: list[int], codes: list[str] | None) -> Sequence[sa.Row]:
        """MUE rows of the editions; `codes` None = all of them (≈ 15 k per setting)."""
        return self._rows_of_editions(rule_mue, edition_ids, codes)

    def codes_status(self, edition_ids: list[int], codes: list[str] | None) -> Sequence[sa.Row]:
        """rule_codes rows of the editions; `codes` None = all of them."""
        return self._rows_of_editions(rule_codes, edition_ids, codes)

    def each_row_of_editions(self, table: sa.Table, edition_ids: list[int]) -> Iterator:
        """Every row of the editions, streamed rather than held in one list: the codes
        process builds its rules snapshot from 100 k of them, and a list that size would
        leave its peak (about 20 MB) in the process for good."""
        if not edition_ids:
            return
        query = sa.select(table).where(table.c.edition_id.in_(edition_ids)).execution_options(yield_per=2000)
        with self.engine.connect() as conn:
            yield from conn.execute(query)

    def _rows_of_editions(self, table: sa.Table, edition_ids: list[int], codes: list[str] | None) -> Sequence[sa.Row]:
        if not edition_ids or codes == []:
            return []
        query = sa.select(table).where(table.c.edition_id.in_(edition_ids))
        if codes is not None:
            query = query.where(table.c.code.in_(codes))
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def crosswalks_for(self, edition_ids: list[int], code_key: str) -> Sequence[sa.Row]:
        if not edition_ids:
            return []
        t = rule_crosswalks
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t)
                .where(
                    t.c.edition_id.in_(edition_ids),
                    sa.or_(
                        sa.and_(t.c.kind == "GEM_I10_TO_I9", t.c.source_code == code_key),
                        sa.and_(t.c.kind == "GEM_I9_TO_I10", t.c.target_code == code_key),
                    ),
                )
                .order_by(t.c.kind, t.c.source_code, t.c.target_code)
            ).all()

    def lay_terms_for(self, edition_ids: list[int], code_keys: list[str]) -> dict[str, list[str]]:
        if not edition_ids or not code_keys:
            return {}
        t = rule_lay_terms
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(
                sa.select(t.c.code, t.c.term).where(t.c.edition_id.in_(edition_ids), t.c.code.in_(code_keys))
            ):
                found.setdefault(row.code, []).append(row.term)
        return found

    def iter_lay_terms(self, kind: str = "INDEX") -> Iterator[tuple[str, str, str | None]]:
        """(code key, term, index path) for every lay term of the current edition of `kind`
        (INDEX: ICD-10-CM keys; PCS_INDEX: ICD-10-PCS codes and code prefixes): for the
        search index, which adds them to the codes' search text."""
        edition = self.current_edition(kind)
        if edition is None:
            return
        t = rule_lay_terms
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=10_000).execute(
                sa.select(t.c.code, t.c.term, t.c.path).where(t.c.edition_id == edition.id).order_by(t.c.code)
            )
            for row in result:
                yield row.code, row.term, row.path

    def rows_of_edition(self, table: sa.Table, edition_id: int) -> Sequence[sa.Row]:
        """Every row of one edition of a small table (NCD, MCD index, MCE: ≤ 70 k rows)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(table).where(table.c.edition_id == edition_id)).all()

    def ncd_diagnosis_rows(self, edition_id: int, ncds: list[str] | None, codes: list[str] | None) -> Sequence[sa.Row]:
        """Lab NCD diagnosis rows of the edition for `ncds` (None: any) and `codes` (None:
        all; the "all other codes" rows are always included), in (ncd, code, date) order."""
        t = rule_ncd_diagnoses
        query = sa.select(t).where(t.c.edition_id == edition_id)
        if ncds is not None:
            if not ncds:
                return []
            query = query.where(t.c.ncd.in_(sorted(set(ncds))))
        if codes is not None:
            query = query.where(t.c.code.in_(sorted(set(codes) | {"@@@@@@@"})))
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(t.c.ncd, t.c.code, t.c.effective_from)).all()

    def ncd_page_rows(self, edition_id: int, ncd: str, day: date, first: int) -> tuple[list, dict[int, int]]:
        """For a procedure page: the first `first` diagnoses of each resolution in force on
        `day` (by code) plus the "all other codes" rows, and how many are listed of each
        resolution (190.15 lists 22 k: counted and cut in SQL, not in Python)."""
        t = rule_ncd_diagnoses
        in_force = [
            t.c.edition_id == edition_id,
            t.c.ncd == ncd,
            t.c.code != "@@@@@@@",
            sa.or_(t.c.effective_from.is_(None), t.c.effective_from <= day),
            sa.or_(t.c.term_date.is_(None), t.c.term_date >= day),
        ]
        with self.engine.connect() as conn:
            counts = {
                row.resolution: row.n
                for row in conn.execute(
                    sa.select(t.c.resolution, sa.func.count(sa.distinct(t.c.code)).label("n"))
                    .where(*in_force)
                    .group_by(t.c.resolution)
                )
            }
            rows = list(
                conn.execute(sa.select(t).where(t.c.edition_id == edition_id, t.c.ncd == ncd, t.c.code == "@@@@@@@"))
            )
            for resolution in sorted(counts):
                rows += conn.execute(
                    sa.select(t).where(*in_force, t.c.resolution == resolution).order_by(t.c.code).limit(first)
                ).all()
        return rows, counts

    def mce_rows(self, edition_id: int, codes: list[str]) -> Sequence[sa.Row]:
        if not codes:
            return []
        t = rule_mce_edits
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t)
                .where(t.c.edition_id == edition_id, t.c.code.in_(sorted(set(codes))))
                .order_by(t.c.number, t.c.code)
            ).all()

    def code_set_titles(self, system: str, keys: list[str]) -> dict[str, str]:
        """Titles of the current code-set edition (codes_entries) for code keys of `system`:
        the NCD diagnoses and the LCD matching name codes by them."""
        from ..storage import editions, entries

        if not keys:
            return {}
        with self.engine.connect() as conn:
            edition = conn.execute(
                sa.select(editions.c.id).where(editions.c.system == system, editions.c.is_current)
            ).scalar_one_or_none()
            if edition is None:
                return {}
            return {
                row.key: row.title
                for row in conn.execute(
                    sa.select(entries.c.key, entries.c.title).where(
                        entries.c.edition_id == edition,
                        entries.c.system == system,
                        entries.c.key.in_(sorted(set(keys))),
                    )
                )
            }

    def titles_for(self, edition_id: int, codes: list[str]) -> dict[str, str]:
        """rule_codes titles of one edition (the ICD-9-CM descriptions) for `codes`."""
        if not codes:
            return {}
        t = rule_codes
        with self.engine.connect() as conn:
            return {
                row.code: row.title
                for row in conn.execute(
                    sa.select(t.c.code, t.c.title).where(t.c.edition_id == edition_id, t.c.code.in_(sorted(set(codes))))
                )
            }

    def modifiers(self, edition_ids: list[int], code: str | None = None) -> Sequence[sa.Row]:
        if not edition_ids:
            return []
        t = rule_modifiers
        query = sa.select(t).where(t.c.edition_id.in_(edition_ids))
        if code is not None:
            query = query.where(t.c.code == code)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(t.c.code, t.c.system)).all()


# The raw sqlite3 driver stores dates through an adapter that Python 3.12 deprecates: name
# the same one (ISO text, which SQLAlchemy's Date type reads back on SQLite) explicitly.
sqlite3.register_adapter(date, date.isoformat)


# A SQLite connection during a bulk write: a page cache that holds a 2.5 M-row edition
# (some 200 MB) until its commit instead of spilling it page by page into the WAL and sorts
# an index over it in memory, and no fsync (the write is still one transaction: a crash
# leaves the previous edition current, and the next load purges the rows of this one).
# Both are given back after the commit.
BULK_PRAGMAS = {"cache_size": -512 * 1024, "synchronous": 0}


@contextmanager
def _sqlite_bulk_write(conn: sa.Connection) -> Iterator[None]:
    """Around a transaction (`with engine.connect() as c, _sqlite_bulk_write(c), c.begin()`)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    kept = {name: int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()) for name in BULK_PRAGMAS}
    for name, value in BULK_PRAGMAS.items():
        conn.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
    conn.commit()  # pragmas are outside the write's transaction
    try:
        yield
    finally:
        conn.rollback()  # after a failed write
        for name, value in kept.items():
            conn.exec_driver_sql(f"PRAGMA {name} = {value}")
        conn.commit()


def insert_tuples(
    conn: sa.Connection, table: sa.Table, values: Iterable[tuple], constants: dict[str, int | str | None] | None = None
) -> int:
    """Bulk insert of positional tuples in the table's column order, without the columns
    `constants` gives one value for all rows: COPY on PostgreSQL, the driver's executemany
    on SQLite (no per-row objects of SQLAlchemy's). Returns the number of rows."""
    constants = constants or {}
    given = list(constants)
    columns = given + [c.name for c in table.columns if c.name not in constants]
    prefix = tuple(constants.values())
    dialect = conn.dialect.name
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection
    if dialect == "postgresql":
        count = 0
        cursor = driver.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(prefix + tuple(row))
                count += 1
        return count
    if dialect == "sqlite":
        # The constants are SQL literals, so each row goes to the driver as it is (and a
        # NULL bound per row costs the driver an adapter lookup).
        marks = ", ".join([_sql_literal(v) for v in prefix] + ["?"] * (len(columns) - len(prefix)))
        cursor = driver.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values)
            return cursor.rowcount
        finally:
            cursor.close()
    rows = [dict(zip(columns, prefix + tuple(row), strict=True)) for row in values]
    conn.execute(table.insert(), rows)
    return len(rows)


class _IsoDates(dict):
    """date (or None) -> its ISO text (or None), computed on first use."""

    def __missing__(self, day: date | None) -> str | None:
        text = self[day] = None if day is None else day.isoformat()
        return text


class _TextDates(dict):
    """ISO text (or None) -> its date (or None), parsed on first use. PTP tables hold a few
    hundred distinct dates."""

    def __missing__(self, text: str | None) -> date | None:
        day = self[text] = _date_or_none(text)
        return day


_ISO_TEXT_DATES = _TextDates()
_PTP_COLUMNS = "SELECT column1, column2, effective_from, deleted_on, modifier_indicator, rationale FROM rule_ptp_edits"

# PtpRow's fields by position, for C-level maps over a batch.
_FIRST, _SECOND, _EFFECTIVE, _DELETED, _INDICATOR, _RATIONALE = (operator.itemgetter(i) for i in range(6))


def _day_order(noted: tuple[date | None, str]) -> tuple[bool, date]:
    """Deletion dates oldest first, then None (in force): the last one noted for a code wins."""
    day = noted[0]
    return (day is None, day or date.min)


def _date_or_none(value: str | date | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _sql_literal(value: int | str | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def _sqlite_ptp_columns(
    batch: list[PtpRow], days: list[date | None], iso: _IsoDates
) -> tuple[Iterable[tuple], dict[str, int | str | None]]:
    """A PTP batch for SQLite's executemany, and the columns it leaves to constants. SQLite
    keeps dates as ISO text: converted once per distinct date here, not by the driver's date
    adapter once per value. A batch without effective dates (the noeffdate layout) writes
    that column as a NULL literal instead of binding NULL per row."""
    first, second = map(_FIRST, batch), map(_SECOND, batch)
    rest = (map(iso.__getitem__, days), map(_INDICATOR, batch), map(_RATIONALE, batch))
    if any(map(_EFFECTIVE, batch)):
        return zip(first, second, map(iso.__getitem__, map(_EFFECTIVE, batch)), *rest, strict=True), {}
    return zip(first, second, *rest, strict=True), {"effective_from": None}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off during a bulk write. A batch holds 50 k records that
    it would track and walk again in every collection (PtpRow is a tuple subclass, which it
    never untracks as it does plain tuples): a third of the write's own time on a full PTP
    table. A load makes no reference cycles worth collecting meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---- per-kind row writers: records -> {table: [tuples in column order]} -----------------------


def _gem_rows(edition_id: int, setting: str | None, batch: list[tuple[str, GemRow]]) -> dict:
    return {
        rule_crosswalks: [
            (edition_id, kind, r.source, r.target, r.approximate, r.no_map, r.combination, r.scenario, r.choice_list)
            for kind, r in batch
        ]
    }


def _lay_rows(edition_id: int, setting: str | None, batch: list[LayTerm]) -> dict:
    return {rule_lay_terms: [(edition_id, r.code.replace(".", ""), r.term, r.path) for r in batch]}


def _modifier_or_code_rows(edition_id: int, setting: str | None, batch: list) -> dict:
    modifiers = [
        (edition_id, r.code, r.system, r.title, r.description, r.terminated_on)
        for r in batch
        if isinstance(r, ModifierRow)
    ]
    codes = [(edition_id, r.code, r.system, r.title, r.last_day) for r in batch if isinstance(r, ProcedureCodeRow)]
    return {rule_modifiers: modifiers, rule_codes: codes}


def _ncd_rows(edition_id: int, setting: str | None, batch: list) -> dict:
    return {
        rule_ncd_procedures: [
            (edition_id, r.ncd, r.title, r.code, r.effective, r.term) for r in batch if isinstance(r, NcdProcedureRow)
        ],
        rule_ncd_diagnoses: [
            (edition_id, r.ncd, r.code, r.effective, r.term, r.resolution, r.changed)
            for r in batch
            if isinstance(r, NcdDiagnosisRow)
        ],
    }


def _mcd_rows(edition_id: int, setting: str | None, batch: list[CoverageDocumentRow]) -> dict:
    return {
        rule_coverage_documents: [
            (edition_id, r.document_id, r.document_type, r.title, r.contractor, r.effective, r.version, r.url)
            for r in batch
        ]
    }


def _mce_rows(edition_id: int, setting: str | None, batch: list[MceRow]) -> dict:
    return {
        rule_mce_edits: [
            (edition_id, r.edit, r.number, r.list_title[:200], r.code, r.code_system, r.flag) for r in batch
        ]
    }


# Kinds whose records stream as they are (named tuples in the table's column order).
_STREAMED: dict[str, sa.Table] = {"PTP": rule_ptp_edits, "MUE": rule_mue}

_ROW_WRITERS: dict[str, Callable[[int, str | None, list], dict]] = {
    "GEM": _gem_rows,
    "INDEX": _lay_rows,
    "PCS_INDEX": _lay_rows,
    "MODIFIERS": _modifier_or_code_rows,
    "HCPCS": _modifier_or_code_rows,
    "CPT": _modifier_or_code_rows,
    "CODES": _modifier_or_code_rows,
    "ICD9CM": _modifier_or_code_rows,
    "NCD": _ncd_rows,
    "MCD": _mcd_rows,
    "MCE": _mce_rows,
}
