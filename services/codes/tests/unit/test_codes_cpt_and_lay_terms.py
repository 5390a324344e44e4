"""The code sets the coding rules feed: CPT codes (from NCCI/MUE files, or a licensed CPT
file) as code pages and search hits, and the ICD-10-CM index's lay terms as search text
and page text. The CPT file here is a made-up fixture: every descriptor in it says
"FAKE DESCRIPTOR FOR TESTS" (no AMA text anywhere)."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from codes.cli import app
from codes.domain import CodeRecord, EditionMeta, LayTerm
from codes.loading import load_available, load_cpt, sync_search_index, with_index_lay_terms
from codes.rules.engine import CodingRules, edition_effective_from
from codes.rules.rows import MueRow, PtpRow
from codes.rules.rule_files import load_rules
from codes.rules.storage import RulesStore
from codes.search import make_backend
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_common.settings import load_settings
from medcode_contracts.codes import CodePage, CodeRef, Edition, SearchRequest, SearchResult
from medcode_contracts.coding_rules import CPT_LICENCE_NOTE, GetCodeRulesRequest

FAKE_CPT = (
    "FAKE CPT FILE FOR TESTS: not AMA text\n"
    "99213\tFAKE DESCRIPTOR FOR TESTS office visit zebrafinch\n"
    "11042\tFAKE DESCRIPTOR FOR TESTS debridement\n"
    "25\tFAKE DESCRIPTOR FOR TESTS modifier\n"
)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("CPT_FILE", raising=False)
    monkeypatch.delenv("NCCI_PTP_DIR", raising=False)
    return load_settings(DATA_DIR=tmp_path / "var", DATA_MIRROR=None, DATABASE_URL=None)


@pytest.fixture
def stores(settings):
    engine = make_engine(settings.database_url("codes"))
    codes = CodeStore(engine)
    codes.migrate()
    rules = RulesStore(engine)
    yield codes, rules
    engine.dispose()


def load_practitioner_edition(rules: RulesStore, kind: str, name: str, fingerprint: str, rows: list) -> None:
    """A made-up practitioner edition of the PTP or MUE edits (its file named after the fingerprint)."""
    rules.load(
        kind=kind,
        setting="practitioner",
        name=name,
        source=f"test-{fingerprint}.csv",
        fingerprint=fingerprint,
        rows=rows,
    )


def load_ptp_and_mue(rules: RulesStore, fingerprint: str = "ptp-1") -> None:
    ptp_rows = [
        PtpRow("11042", "97597", None, None, 1, "Misuse of column two code with column one code"),
        PtpRow("11042", "0001U", None, date(2020, 12, 31), 0, "test"),
        PtpRow("G0008", "99213", None, None, 9, "test"),
    ]
    load_practitioner_edition(rules, "PTP", "NCCI PTP practitioner v30.2r0 (2024 Q3; test rows)", fingerprint, ptp_rows)
    mue_rows = [MueRow("99213", 1, "2 Date of Service Edit: Policy", "test")]
    load_practitioner_edition(rules, "MUE", "NCCI MUE practitioner effective 2026-04-01", "mue-1", mue_rows)


def test_without_a_licence_cpt_codes_of_ncci_files_have_placeholder_titles(stores):
    codes, rules = stores
    load_ptp_and_mue(rules)
    report = load_cpt(codes, rules, show_progress=False)
    assert (report.status, report.codes) == ("loaded", 4)  # 0001U, 11042, 97597, 99213 (G0008 is HCPCS)
    assert load_cpt(codes, rules, show_progress=False).status == "already loaded"
    page, gone, unknown = codes.get_pages(
        [CodeRef(system="CPT", code="99213"), CodeRef(system="CPT", code="0001u"), CodeRef(system="CPT", code="99999")]
    )
    assert page.title == "CPT 99213 (descriptor requires an AMA CPT licence)"
    assert page.billable and page.edition.effective_from == "2026-04-01"
    assert "AMA CPT licence" in page.edition.name
    assert gone.billable is False  # named only by an edit deleted in 2020
    assert unknown is None
    [rules_of_99213] = CodingRules(rules).get_code_rules(
        GetCodeRulesRequest(refs=[CodeRef(system="CPT", code="99213")])
    )
    assert rules_of_99213.descriptor is None and rules_of_99213.descriptor_note == CPT_LICENCE_NOTE


def test_a_new_ptp_edition_rebuilds_the_cpt_codes(stores):
    codes, rules = stores
    load_ptp_and_mue(rules)
    first = load_cpt(codes, rules, show_progress=False)
    load_practitioner_edition(
        rules,
        "PTP",
        "NCCI PTP practitioner v30.3r0 (2024 Q4; test rows)",
        "ptp-2",
        [PtpRow("11042", "97598", None, None, 1, "t")],
    )
    second = load_cpt(codes, rules, show_progress=False)
    assert second.status == "loaded" and second.edition_id != first.edition_id
    assert codes.get_pages([CodeRef(system="CPT", code="97598")])[0] is not None
    assert codes.get_pages([CodeRef(system="CPT", code="97597")])[0] is None


def test_licensed_cpt_file_gives_descriptors_pages_and_search_hits(settings, stores, tmp_path, monkeypatch):
    codes, rules = stores
    cpt_file = tmp_path / "FAKE_CPT_LONGULT.txt"
    cpt_file.write_text(FAKE_CPT)
    monkeypatch.setenv("CPT_FILE", str(cpt_file))
    load_ptp_and_mue(rules)
    loads = load_rules(settings, show_progress=False, store=rules, say=lambda line: None)
    assert [(load.kind, load.status) for load in loads] == [("ALL", "skipped"), ("ICD9CM", "loaded"), ("CPT", "loaded")]
    assert load_cpt(codes, rules, show_progress=False).codes == 4
    licensed, unlicensed = codes.get_pages([CodeRef(system="CPT", code="99213"), CodeRef(system="CPT", code="97597")])
    assert licensed.title == "FAKE DESCRIPTOR FOR TESTS office visit zebrafinch"
    assert unlicensed.title == "CPT 97597 (descriptor requires an AMA CPT licence)"
    modifier = CodingRules(rules).get_modifier("25")
    assert modifier.title == "FAKE DESCRIPTOR FOR TESTS modifier" and modifier.system.value == "CPT"

    backend = make_backend(settings)
    try:
        assert sync_search_index(codes, backend, rules=rules) == ["CPT"]
        by_word = SearchResult.model_validate(backend.search(SearchRequest(query="zebrafinch")))
        assert [(h.node.system.value, h.node.code) for h in by_word.hits] == [("CPT", "99213")]
        by_code = SearchResult.model_validate(backend.search(SearchRequest(query="97597")))
        assert ("CPT", "97597") in [(h.node.system.value, h.node.code) for h in by_code.hits]
    finally:
        backend.close()


def test_a_bad_cpt_file_fails_the_cli_with_file_and_line(settings, tmp_path, monkeypatch):
    cpt_file = tmp_path / "bad.txt"
    cpt_file.write_text("99213\tFAKE DESCRIPTOR FOR TESTS\nthis is no code line\n")
    monkeypatch.setenv("CPT_FILE", str(cpt_file))
    monkeypatch.setenv("DATA_DIR", str(settings.DATA_DIR))
    monkeypatch.setenv("DATA_MIRROR", str(tmp_path / "empty-mirror"))
    (tmp_path / "empty-mirror").mkdir()
    result = CliRunner().invoke(app, ["load", "--no-progress"])
    assert result.exit_code == 1
    assert "bad.txt, line 2" in result.output


def load_index(
    rules: RulesStore,
    rows: list[LayTerm],
    name: str = "test index",
    source: str = "index.csv",
    fingerprint: str = "ix-1",
) -> None:
    """A made-up edition of the ICD-10-CM index's lay terms."""
    rules.load(kind="INDEX", setting=None, name=name, source=source, fingerprint=fingerprint, rows=rows)


def icd_record(code: str, title: str, lay_terms=()) -> CodeRecord:
    return CodeRecord(system="ICD10CM", code=code, title=title, billable=True, lay_terms=list(lay_terms))


def test_index_lay_terms_join_the_records_without_duplicates(stores):
    _, rules = stores
    load_index(
        rules, [LayTerm("I21.9", "heart attack"), LayTerm("I21.9", "coronary attack"), LayTerm("I10", "Hyperpiesis")]
    )
    records = list(
        with_index_lay_terms(
            [
                icd_record("I10", "Essential (primary) hypertension", ["hyperpiesis"]),
                icd_record("I21.9", "AMI"),
                icd_record("K22.0", "Achalasia of cardia"),
            ],
            rules,
        )
    )
    assert [sorted(r.lay_terms) for r in records] == [["hyperpiesis"], ["coronary attack", "heart attack"], []]


class RecordingBackend:
    def __init__(self):
        self.editions: dict[str, str] = {}
        self.records: dict[str, list[CodeRecord]] = {}

    def indexed_editions(self):
        return dict(self.editions)

    def replace_system(self, system, edition_id, records):
        self.records[system] = list(records)
        self.editions[system] = edition_id


def test_a_new_index_edition_reindexes_icd10cm(stores):
    codes, rules = stores
    meta = EditionMeta(
        system="ICD10CM",
        name="test ICD-10-CM",
        effective_from=date(2025, 10, 1),
        source="t.xml",
        source_url="",
        fingerprint="icd-1",
    )
    codes.replace_edition(meta, [icd_record("I21.9", "Acute myocardial infarction, unspecified")])
    backend = RecordingBackend()
    assert sync_search_index(codes, backend, rules=rules) == ["ICD10CM"]  # no index yet: plain
    assert backend.records["ICD10CM"][0].lay_terms == []
    load_index(rules, [LayTerm("I21.9", "heart attack")])
    assert sync_search_index(codes, backend, rules=rules) == ["ICD10CM"]
    assert backend.records["ICD10CM"][0].lay_terms == ["heart attack"]
    assert sync_search_index(codes, backend, rules=rules) == []  # nothing changed
    load_index(
        rules,
        [LayTerm("I21.9", "heart attack"), LayTerm("I21.9", "cardiac infarct")],
        name="test index 2",
        source="index2.csv",
        fingerprint="ix-2",
    )
    assert sync_search_index(codes, backend, rules=rules) == ["ICD10CM"]
    assert sorted(backend.records["ICD10CM"][0].lay_terms) == ["cardiac infarct", "heart attack"]


def test_code_pages_get_the_index_lay_terms(stores):
    _, rules = stores
    load_index(rules, [LayTerm("I21.9", "heart attack")])
    edition = Edition(name="t", effective_from="2025-10-01", source="t")
    pages = [
        CodePage(
            system="ICD10CM",
            code="I21.9",
            title="t",
            billable=True,
            edition=edition,
            lay_terms=["heart attack", "own term"],
        ),
        None,
        CodePage(system="HCPCS", code="J9035", title="t", billable=True, edition=edition),
    ]
    CodingRules(rules).add_lay_terms(pages)
    assert pages[0].lay_terms == ["heart attack", "own term"]  # no duplicate
    assert pages[2].lay_terms == []
    pages[0].lay_terms = []
    CodingRules(rules).add_lay_terms(pages)
    assert pages[0].lay_terms == ["heart attack"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("NCCI MUE practitioner effective 2026-04-01", date(2026, 4, 1)),
        ("NCCI PTP practitioner v30.2r0 (2024 Q3; table without effective dates)", date(2024, 7, 1)),
        ("NCCI PTP practitioner v32.2r0", None),
    ],
)
def test_edition_effective_from_reads_the_edition_name(name, expected):
    assert edition_effective_from(name) == expected


def test_cli_load_without_mirror_still_answers(settings, monkeypatch):
    """--system given: only that code set, no rules (and no crash when the mirror lacks it)."""
    monkeypatch.setenv("DATA_DIR", str(settings.DATA_DIR))
    monkeypatch.delenv("DATA_MIRROR", raising=False)
    reports = load_available(
        settings, ["HCPCS"], show_progress=False, backend=RecordingBackend(), rules=True, say=lambda line: None
    )
    assert [(r.system, r.status) for r in reports] == [("HCPCS", "not found"), ("CPT", "not found")]
