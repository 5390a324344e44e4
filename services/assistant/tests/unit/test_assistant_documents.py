"""The official documents of the mirror, split by their own sections, cited by document,
edition and section number; no AMA CPT descriptor from the NCCI manual."""

import re
from pathlib import Path

import pytest

from assistant import documents as docs


@pytest.fixture(scope="module")
def guidelines(data_mirror):
    [path] = sorted((Path(data_mirror) / "guidelines").glob("icd10cm_official_guidelines_FY*.txt"))
    return docs.parse_icd10cm_guidelines(path)


@pytest.fixture(scope="module")
def manual(data_mirror):
    [path] = sorted((Path(data_mirror) / "guidelines").glob("ncci_policy_manual_*.txt"))
    return docs.parse_ncci_manual(path)


def test_guidelines_are_split_by_their_own_numbering(guidelines):
    sections = {p.section: p for p in guidelines}
    sepsis = sections["Section I.C.1.d.1"]
    assert sepsis.edition == "FY2026" and sepsis.heading.endswith("Coding of Sepsis and Severe Sepsis")
    assert "A41.9" in sepsis.text
    assert "Section II.A" in sections and "Section IV.H" in sections and "Section I.A.12.a" in sections
    # The table of contents and page furniture are not passages.
    assert not any(re.search(r"\.{5,}", p.text) or "Page 22 of 121" in p.text for p in guidelines)


def test_the_ncci_manual_by_chapter_and_section_without_cpt_descriptors(manual):
    sections = {p.section for p in manual}
    assert {"Chapter I, Section E", "Chapter I, Section V", "Chapter XI, Section V"} <= sections
    text = " ".join(p.text for p in manual)
    assert "CPT code 46606" in text and "Anoscopy; with biopsy" not in text
    assert "(electrocardiogram)" not in text


def test_cpt_descriptors_are_cut_after_code_numbers_only():
    assert (
        docs.strip_cpt_descriptors("CPT code 93000 (electrocardiogram) and code 58263 (Vaginal (x) hyst)")
        == "CPT code 93000 and code 58263"
    )
    assert docs.strip_cpt_descriptors("Medically Unlikely Edits (MUEs)") == "Medically Unlikely Edits (MUEs)"


@pytest.mark.parametrize(
    "query, section",
    [
        ("sequencing severe sepsis", "Section I.C.1.d"),
        ("uncertain diagnosis outpatient services", "Section IV.H"),
        ("modifier 59 separate and distinct", "Chapter I, Section E"),
    ],
)
def test_search_finds_the_right_section(library, query, section):
    found = library.search(query, limit=3)
    assert any(p.section.startswith(section) for p in found), [p.section for p in found]


def test_search_of_nothing_finds_nothing(library):
    assert library.search("?? !!") == []
    assert docs.Library([]).search("sepsis") == []
