"""The edition store on SQLite and PostgreSQL: migrations, atomic replacement, the
edition_loaded event, code pages. Records are made up for the tests (not official text)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from codes.domain import CodeRecord, EditionMeta
from codes.release_files import MalformedRelease
from codes.storage import MIGRATIONS, CodeStore, editions, entries
from medcode_common.db import make_engine
from medcode_contracts.codes import CodeRef, CodeSystem
from medcode_contracts.events import parse


def _meta(fingerprint: str, name: str = "Test edition 1") -> EditionMeta:
    return EditionMeta(
        system=CodeSystem.ICD10CM,
        name=name,
        effective_from=date(2025, 10, 1),
        source="made-up.xml",
        source_url="https://example.org/made-up.zip",
        fingerprint=fingerprint,
    )


def _edition(count: int = 30, title: str = "Made-up condition") -> list[CodeRecord]:
    """A category X00 with subcategories X00.0 .. X00.<count-1>, made-up titles."""
    records = [CodeRecord(system=CodeSystem.ICD10CM, code="X00", title="Made-up category", billable=False)]
    for i in range(count):
        records.append(
            CodeRecord(
                system=CodeSystem.ICD10CM,
                code=f"X00.{i}",
                title=f"{title} {i}",
                billable=True,
                parent="X00",
                notes={
                    "inclusion_terms": [f"made-up term {i}"],
                    "seventh_characters": [{"character": "A", "meaning": "first"}],
                },
                extra={"note": "made up"},
            )
        )
    return records


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    store = CodeStore(engine, batch_size=7)
    store.migrate()
    yield store
    engine.dispose()


def _count(store: CodeStore, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_migration_starts_at_0001_code_sets_and_is_idempotent(store):
    from alembic.script import ScriptDirectory

    store.migrate()
    scripts = ScriptDirectory(str(MIGRATIONS))
    assert scripts.get_base() == "0001_code_sets"
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version_codes")).scalars().all() == [
            scripts.get_current_head()
        ]


def test_first_load_reports_and_records_the_edition(store):
    assert store.current_editions() == [] and not store.has_edition("ICD10CM", "f1")
    report = store.replace_edition(_meta("f1"), iter(_edition()))
    assert (report.status, report.codes, report.added, report.deleted, report.revised) == ("loaded", 31, 31, 0, 0)
    assert store.has_edition(CodeSystem.ICD10CM, "f1") and not store.has_edition(CodeSystem.ICD10CM, "f2")
    [info] = store.current_editions()
    assert (info.system, info.name, info.effective_from) == (CodeSystem.ICD10CM, "Test edition 1", "2025-10-01")
    assert info.source == "made-up.xml (https://example.org/made-up.zip)"
    assert info.counts == {"codes": 31, "billable": 30, "ICD10CM": 31}
    assert info.loaded_at.endswith("+00:00")
    assert store.current_edition_ids() == {"ICD10CM": report.edition_id}


def test_load_adds_edition_loaded_to_the_outbox(store):
    store.replace_edition(_meta("f1"), _edition())
    with store.engine.connect() as conn:
        assert store.outbox.pending(conn) == 1
        row = conn.execute(sa.select(store.outbox.table)).one()
    event = parse(json.loads(row.payload))
    assert (row.source, row.event_type) == ("codes", "edition_loaded")
    assert (event.system, event.edition, event.effective_from, event.codes) == (
        "ICD10CM",
        "Test edition 1",
        "2025-10-01",
        31,
    )


def test_new_edition_replaces_the_old_one_with_a_diff(store):
    first = store.replace_edition(_meta("f1"), _edition(30))
    changed = _edition(35)  # 5 added
    changed = [r for r in changed if r.code != "X00.3"]  # 1 deleted
    changed[1].title = "Made-up revised title"  # X00.0 revised
    report = store.replace_edition(_meta("f2", "Test edition 2"), changed)
    assert (report.codes, report.added, report.deleted, report.revised) == (35, 5, 1, 1)
    assert [e.name for e in store.current_editions()] == ["Test edition 2"]
    # The old edition's rows are gone.
    assert _count(store, editions) == 1 and _count(store, entries) == 35
    assert first.edition_id not in store.current_edition_ids().values()
    with store.engine.connect() as conn:
        payloads = [
            json.loads(p)
            for p in conn.execute(sa.select(store.outbox.table.c.payload).order_by(store.outbox.table.c.id)).scalars()
        ]
    assert [(p["added"], p["deleted"], p["revised"]) for p in payloads] == [(31, 0, 0), (5, 1, 1)]


def test_a_reader_sees_the_old_edition_while_the_new_one_loads(store, database_url):
    store.replace_edition(_meta("f1"), _edition(30, "Old title"))
    reader_engine = make_engine(database_url)
    seen = []

    def look(_n):
        # Another connection, in the middle of the load: the old edition, whole.
        reader = CodeStore(reader_engine)
        [page] = reader.get_pages([CodeRef(system=CodeSystem.ICD10CM, code="X00")])
        seen.append((page.title if page else None, len(page.children), reader.current_editions()[0].name))

    store.replace_edition(_meta("f2", "Test edition 2"), _edition(40, "New title"), progress=look)
    assert len(seen) == 6  # 41 rows in batches of 7
    assert set(seen) == {("Made-up category", 30, "Test edition 1")}
    [page] = CodeStore(reader_engine).get_pages([CodeRef(system=CodeSystem.ICD10CM, code="X00")])
    assert len(page.children) == 40 and page.children[0].title.startswith("New title")
    reader_engine.dispose()


def test_a_malformed_release_mid_load_leaves_the_old_edition(store):
    first = store.replace_edition(_meta("f1"), _edition(30, "Old title"))

    def broken():
        yield from _edition(20, "New title")
        raise MalformedRelease("made-up.xml", 1234, "made-up problem")

    with pytest.raises(MalformedRelease, match="made-up.xml, line 1234"):
        store.replace_edition(_meta("f2"), broken())
    assert store.current_edition_ids() == {"ICD10CM": first.edition_id}
    assert _count(store, editions) == 1 and _count(store, entries) == 31
    with store.engine.connect() as conn:
        assert store.outbox.pending(conn) == 1
    [page] = store.get_pages([CodeRef(system=CodeSystem.ICD10CM, code="x00.1")])
    assert page.title == "Old title 1"


def test_get_pages_in_request_order_with_parent_children_and_notes(store):
    store.replace_edition(_meta("f1"), _edition(12))
    hcpcs = EditionMeta(
        system=CodeSystem.HCPCS,
        name="Made-up HCPCS",
        effective_from=date(2025, 10, 1),
        source="made-up.csv",
        source_url="",
        fingerprint="h1",
    )
    store.replace_edition(
        hcpcs,
        [
            CodeRecord(
                system=CodeSystem.HCPCS, code="Z9991", title="Made-up supply", billable=True, short_title="Supply"
            ),
            CodeRecord(system=CodeSystem.MODIFIER, code="ZZ", title="Made-up modifier", billable=True),
        ],
    )
    refs = [
        CodeRef(system=s, code=c)
        for s, c in [
            ("ICD10CM", "x0010"),
            ("HCPCS", "z9991"),
            ("ICD10CM", "NOPE"),
            ("MODIFIER", "zz"),
            ("ICD10CM", "X00"),
            ("CPT", "99213"),
            ("HCPCS", "ZZ"),
        ]
    ]
    pages = store.get_pages(refs)
    assert [p.code if p else None for p in pages] == ["X00.10", "Z9991", None, "ZZ", "X00", None, None]
    leaf, supply, _, modifier, category, _, _ = pages
    assert leaf.parent.code == "X00" and leaf.parent.billable is False and leaf.children == []
    assert leaf.notes.inclusion_terms == ["made-up term 10"]
    assert leaf.notes.seventh_characters[0].meaning == "first"
    assert leaf.edition.name == "Test edition 1" and leaf.edition.effective_from == "2025-10-01"
    assert [c.code for c in category.children] == sorted(f"X00.{i}" for i in range(12))
    assert supply.short_title == "Supply" and supply.edition.source == "made-up.csv"
    assert modifier.system is CodeSystem.MODIFIER and modifier.edition.name == "Made-up HCPCS"
    assert store.get_pages([]) == []


def test_get_pages_uses_a_fixed_number_of_queries_whatever_the_batch_size(store):
    store.replace_edition(_meta("f1"), _edition(12))
    statements = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    counts = []
    for size in (1, 12):
        statements.clear()
        store.get_pages([CodeRef(system=CodeSystem.ICD10CM, code=f"X00.{i}") for i in range(size)])
        counts.append(len(statements))
    # current editions, the codes, their parents, their children: never one query per code
    assert counts[0] == counts[1] <= 4


def test_iter_records_round_trips_the_current_edition(store):
    records = _edition(9)
    store.replace_edition(_meta("f1"), records)
    back = list(store.iter_records(CodeSystem.ICD10CM))
    assert sorted(back, key=lambda r: r.key) == sorted(records, key=lambda r: r.key)
    assert list(store.iter_records(CodeSystem.ICD10PCS)) == []
