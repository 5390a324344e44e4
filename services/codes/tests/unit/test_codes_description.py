"""Plain-language descriptions of real code pages (the official releases loaded into a
store): every sentence comes from an official file and names it."""

from __future__ import annotations

import pytest

from codes.code_sets import hcpcs, icd10cm, icd10pcs
from codes.description import Sources, describe, load_definitions
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_contracts.codes import CodeRef, CodeSystem

TABULAR = "icd10c-tabular-April-1-2026.xml"


@pytest.fixture(scope="module")
def pages(tmp_path_factory, data_mirror):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('description') / 'codes.sqlite3'}")
    store = CodeStore(engine)
    store.migrate()
    for importer in (icd10cm, icd10pcs, hcpcs):
        meta, records = importer.read_edition(importer.find_release(data_mirror))
        store.replace_edition(meta, records)
    definitions = load_definitions(data_mirror)

    def described(system: str, code: str, lay_terms=(), index_file=None):
        [(page, extra, source)] = store.get_page_facts([CodeRef(system=system, code=code)])
        page.lay_terms = list(lay_terms)
        return describe(
            page, extra, Sources(code_set_file=source.split(";")[0], index_file=index_file, definitions=definitions)
        )

    yield described
    engine.dispose()


def texts(sentences) -> str:
    return " ".join(s.text for s in sentences)


def test_pcs_description_says_what_the_operation_body_part_and_approach_mean(pages):
    sentences = pages(CodeSystem.ICD10PCS, "0DTJ4ZZ")
    text = texts(sentences)
    assert "Resection means: cutting out or off, without replacement, all of a body part." in text
    assert "Appendix" in text and "Vermiform appendix" in text
    assert (
        "The Percutaneous Endoscopic approach means: entry, by puncture or minor incision, of "
        "instrumentation through the skin or mucous membrane"
    ) in text
    sources = {s.source for s in sentences}
    assert sources == {
        "icd10pcs_tables_2026.xml (the code's table and row)",
        "icd10pcs_definitions_2026.xml (root operation definitions)",
        "icd10pcs_definitions_2026.xml (Body Part definitions)",
        "icd10pcs_definitions_2026.xml (Approach definitions)",
    }


def test_pcs_device_key_and_table_pages(pages):
    text = texts(pages(CodeSystem.ICD10PCS, "0T9B70Z"))  # drainage of bladder with a drainage device
    assert "The device Drainage Device covers devices such as: Cystostomy tube; Foley catheter" in text
    table = pages(CodeSystem.ICD10PCS, "0DT")
    assert table[0].text.startswith("0DT is the ICD-10-PCS table of Resection procedures")
    assert "Resection means" in table[1].text


def test_icd10cm_description_from_chapter_block_category_terms_and_notes(pages):
    sentences = pages(
        CodeSystem.ICD10CM,
        "K22.0",
        lay_terms=["achalasia", "cardiospasm esophagus"],
        index_file="ICD10CM_2025_Index_flattened.csv.gz",
    )
    text = texts(sentences)
    assert (
        "K22.0 (Achalasia of cardia) is in chapter 11 of ICD-10-CM, Diseases of the digestive system "
        "(K00-K95): it is one of the diseases of esophagus, stomach and duodenum (K20-K31), in category K22, "
        "Other diseases of esophagus."
    ) in text
    assert "It is also called: Achalasia NOS; Cardiospasm." in text
    assert "these terms lead to it: achalasia; cardiospasm esophagus." in text
    assert "Coded elsewhere, never together with it (Excludes1): congenital cardiospasm (Q39.5)." in text
    assert all(s.source.startswith((TABULAR, "ICD10CM_2025_Index_flattened.csv.gz")) for s in sentences)
    assert {s.source for s in sentences if "lead to it" in s.text} == {
        "ICD10CM_2025_Index_flattened.csv.gz (Alphabetic Index terms)"
    }


def test_icd10cm_headings_and_seventh_characters(pages):
    heading = texts(pages(CodeSystem.ICD10CM, "K22.1"))
    assert "K22.1 is a heading, not billable: report one of its" in heading
    fracture = texts(pages(CodeSystem.ICD10CM, "S52.501A"))
    assert "Its 7th character A means: initial encounter for closed fracture." in fracture
    assert "chapter 19 of ICD-10-CM" in fracture


def test_hcpcs_description_from_the_descriptor_and_the_section(pages):
    sentences = pages(CodeSystem.HCPCS, "J9035")
    text = texts(sentences)
    assert "J9035 is a HCPCS Level II code of the section for chemotherapy drugs (J9000-J9999)" in text
    assert "Its official descriptor reads: Injection, bevacizumab, 10 mg." in text
    assert "It bills bevacizumab, given by injection: one unit stands for 10 mg" in text
    assert all("HCPC2025_OCT_ANWEB.csv" in s.source for s in sentences)
    wheelchair = texts(pages(CodeSystem.HCPCS, "E1130"))
    assert "section for durable medical equipment" in wheelchair
