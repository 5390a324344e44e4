"""The ICD-10-PCS Definitions reader, on the official FY2026 file."""

from __future__ import annotations

import pytest

from codes.code_sets.icd10pcs_definitions import APPROACH, BODY_PART, DEVICE, OPERATION, find_release, read_definitions
from codes.release_files import MalformedRelease


@pytest.fixture(scope="module")
def definitions(data_mirror):
    return read_definitions(find_release(data_mirror))


def test_every_terms_entry_of_the_file_is_read(definitions):
    assert definitions.fiscal_year == 2026
    assert len(definitions.terms) == 954  # <terms> elements in the FY2026 file
    assert {t.section for t in definitions.terms} >= {"0", "1", "B", "X"}


def test_root_operation_definition_explanation_and_examples(definitions):
    resection = definitions.lookup("0", OPERATION, "Resection")
    assert resection.axis_title == "Operation"
    assert resection.definition == "Cutting out or off, without replacement, all of a body part"
    alteration = definitions.lookup("0", OPERATION, "alteration")  # labels match in any case
    assert alteration.includes == ("Face lift, breast augmentation",)


def test_body_part_key_approach_and_device_key(definitions):
    toe = definitions.lookup("0", BODY_PART, "1st Toe, Right")
    assert toe.labels == ("1st Toe, Left", "1st Toe, Right") and "Hallux" in toe.includes
    endo = definitions.lookup("0", APPROACH, "Percutaneous Endoscopic")
    assert endo.definition.startswith("Entry, by puncture or minor incision, of instrumentation")
    assert definitions.lookup("0", DEVICE, "Articulating Spacer in Lower Joints").includes
    assert definitions.lookup("0", OPERATION, "No such operation") is None


def test_another_file_is_refused_naming_it(tmp_path):
    other = tmp_path / "icd10pcs_definitions_2026.xml"
    other.write_text("<?xml version='1.0'?><ICD10PCS.tabular><version>2026</version></ICD10PCS.tabular>")
    with pytest.raises(MalformedRelease, match="icd10pcs_definitions_2026.xml"):
        read_definitions(other)


def test_terms_without_a_title_names_the_line(tmp_path):
    bad = tmp_path / "icd10pcs_definitions_2026.xml"
    bad.write_text(
        "<ICD10PCS.definitions><version>2026</version><section code='0'><axis pos='3'>"
        "<title>Operation</title>\n<terms><definition>x</definition></terms></axis></section>"
        "</ICD10PCS.definitions>"
    )
    with pytest.raises(MalformedRelease, match="line 2"):
        read_definitions(bad)
