"""Coverage and code-edit logic over plain rows: lab NCD resolutions by date, the claim
check's COVERAGE and CODE_EDIT findings, LCD/article title matching, MCE edits of a code.
The rows are real ones from the mirror's files (190.12, D63.0, Z51.89 ...), kept small."""

from __future__ import annotations

from datetime import date

from codes.rules.claim_check import RuleFacts, check_claim
from codes.rules.coverage import CodeEditor, DocumentIndex, LabNcdFacts, subject_words
from codes.rules.rows import CoverageDocumentRow, MceRow, NcdDiagnosisRow, NcdProcedureRow
from medcode_contracts.coding_rules import ClaimInput, FindingKind, NcdResolution

DAY = date(2026, 2, 1)
OLD = date(2015, 10, 1)


def ncds() -> LabNcdFacts:
    procedures = [
        NcdProcedureRow("190.12", "Urine Culture, Bacterial", "87086", None, None),
        NcdProcedureRow("190.12", "Urine Culture, Bacterial", "87088", None, None),
        NcdProcedureRow("190.15", "Blood Counts", "85025", None, None),
    ]
    diagnoses = [
        NcdDiagnosisRow("190.12", "N390", OLD, None, 1, False),
        NcdDiagnosisRow("190.12", "Z0000", OLD, None, 2, False),
        NcdDiagnosisRow("190.12", "D7210", date(2020, 10, 1), date(2021, 6, 30), 1, False),
        NcdDiagnosisRow("190.12", "@@@@@@@", OLD, None, 3, False),
        NcdDiagnosisRow("190.15", "Z0000", OLD, None, 2, False),
        NcdDiagnosisRow("190.15", "@@@@@@@", OLD, None, 1, False),
    ]
    return LabNcdFacts.build("lab NCD test edition", procedures, diagnoses)


def test_resolutions_follow_the_listed_rows_their_dates_and_the_all_other_row():
    facts = ncds()
    assert facts.resolution("190.12", "N390", DAY) == (NcdResolution.COVERED, True)
    assert facts.resolution("190.12", "Z0000", DAY) == (NcdResolution.DENIED, True)
    assert facts.resolution("190.12", "R51", DAY) == (NcdResolution.NOT_SUPPORTED, False)
    # D72.10 was covered only from 2020-10-01 through 2021-06-30.
    assert facts.resolution("190.12", "D7210", date(2021, 1, 1)) == (NcdResolution.COVERED, True)
    assert facts.resolution("190.12", "D7210", DAY) == (NcdResolution.NOT_SUPPORTED, False)
    assert facts.resolution("190.15", "R51", DAY) == (NcdResolution.COVERED, False)


def test_procedure_and_diagnosis_pages():
    facts = ncds()
    [urine] = facts.procedure_ncds("87086", DAY, 50, {"N390": "Urinary tract infection, site not specified"})
    assert (urine.number, urine.title, urine.procedure_codes) == (
        "190.12",
        "Urine Culture, Bacterial",
        ["87086", "87088"],
    )
    assert urine.other_diagnoses == NcdResolution.NOT_SUPPORTED
    assert urine.counts == {"COVERED": 1, "DENIED": 1}  # D72.10's row is no longer in force
    assert [(d.code, d.resolution, d.title) for d in urine.diagnoses] == [
        ("N39.0", NcdResolution.COVERED, "Urinary tract infection, site not specified"),
        ("Z00.00", NcdResolution.DENIED, None),
    ]
    pages = facts.diagnosis_ncds("Z0000", DAY)
    assert [(n.number, n.resolution) for n in pages] == [
        ("190.12", NcdResolution.DENIED),
        ("190.15", NcdResolution.DENIED),
    ]
    assert facts.diagnosis_ncds("D7210", DAY) == []


def claim(*diagnoses: str, code: str = "87086", age: int | None = None) -> ClaimInput:
    return ClaimInput(date_of_service=DAY, lines=[{"code": code}], diagnoses=list(diagnoses), patient_age=age)


def facts_for_claim(**extra) -> RuleFacts:
    return RuleFacts(codes={"87086": [], "85025": []}, ncds=ncds(), **extra)


def test_a_denied_diagnosis_makes_a_coverage_finding():
    result = check_claim(claim("Z00.00"), RuleFacts(ncds=ncds()))
    coverage = [f for f in result.findings if f.kind == FindingKind.COVERAGE]
    assert len(coverage) == 1 and not result.clean
    assert coverage[0].codes == ["87086", "Z00.00"] and coverage[0].lines == [1]
    assert "NCD 190.12 Urine Culture, Bacterial" in coverage[0].message and "denied" in coverage[0].message
    assert coverage[0].source == "lab NCD test edition"
    assert "lab NCD test edition" in result.editions


def test_one_covered_diagnosis_is_enough_and_no_diagnoses_says_nothing():
    assert not [
        f
        for f in check_claim(claim("Z00.00", "N39.0"), RuleFacts(ncds=ncds())).findings
        if f.kind == FindingKind.COVERAGE
    ]
    assert not [f for f in check_claim(claim(), RuleFacts(ncds=ncds())).findings if f.kind == FindingKind.COVERAGE]
    # Blood counts: every unlisted diagnosis is covered; a denied one is not.
    assert not [
        f
        for f in check_claim(claim("R51", code="85025"), RuleFacts(ncds=ncds())).findings
        if f.kind == FindingKind.COVERAGE
    ]
    unsupported = check_claim(claim("R51"), RuleFacts(ncds=ncds())).findings
    assert [f.kind for f in unsupported if f.kind == FindingKind.COVERAGE] == [FindingKind.COVERAGE]
    assert "does not support medical necessity" in unsupported[-1].message


def editor() -> CodeEditor:
    return CodeEditor.build(
        "MCE test edition",
        [
            MceRow(
                "MANIFESTATION_PDX",
                "6",
                "Manifestation codes not allowed as principal diagnosis",
                "D630",
                "ICD10CM",
                None,
            ),
            MceRow("AGE_CONFLICT", "4C", "Maternity diagnoses (age 9 through 64)", "O0900", "ICD10CM", None),
            MceRow("UNACCEPTABLE_PDX", "9", "Unacceptable principal diagnosis codes", "Z5189", "ICD10CM", "*"),
            MceRow("UNACCEPTABLE_PDX", "9", "Unacceptable principal diagnosis codes", "Z0000", "ICD10CM", None),
        ],
    )


def edit_messages(*diagnoses: str, age: int | None = None) -> list[str]:
    result = check_claim(claim(*diagnoses, age=age), RuleFacts(editor=editor()))
    return [f.message for f in result.findings if f.kind == FindingKind.CODE_EDIT]


def test_code_edits_on_the_claims_diagnoses():
    [manifestation] = edit_messages("D63.0", "C50.911")
    assert manifestation.startswith("D63.0 is a manifestation code and cannot be the principal diagnosis")
    assert edit_messages("C50.911", "D63.0") == []  # fine as a secondary diagnosis
    [age] = edit_messages("O09.00", age=70)
    assert "conflicts with the patient's age 70" in age and "9 through 64" in age
    assert edit_messages("O09.00", age=30) == [] and edit_messages("O09.00") == []
    assert edit_messages("Z51.89") == [
        "Z51.89 is unacceptable as the principal diagnosis (MCE edit 9): it requires a secondary diagnosis."
    ]
    assert edit_messages("Z51.89", "C50.911") == []  # * = acceptable with a secondary dx
    assert [m for m in edit_messages("W01.0XXA", "W01.0XXA") if "twice" in m]
    assert [m for m in edit_messages("W01.0XXA") if "external cause" in m]


def test_code_page_edits_say_what_the_list_means():
    [edit] = editor().edits_for("D630")
    assert (edit.edit, edit.number, edit.title) == (
        "MANIFESTATION_PDX",
        "6",
        "Manifestation code as principal diagnosis",
    )
    assert "should not be used as a principal diagnosis" in edit.message and edit.source == "MCE test edition"
    [age] = editor().edits_for("O0900")
    assert age.age_range == (9, 64) and "aged 9 through 64" in age.message
    [starred] = editor().edits_for("Z5189")
    assert "REQUIRES SECONDARY DX" in starred.message
    assert editor().edits_for("K220") == []


def test_documents_match_on_the_specific_words_of_the_subject():
    rows = [
        CoverageDocumentRow(
            "A52370",
            "Article",
            "Billing and Coding: Bevacizumab and biosimilars",
            "NGS",
            date(2025, 7, 13),
            "122",
            None,
        ),
        CoverageDocumentRow("L36668", "LCD", "Urine Drug Testing", "Noridian", date(2025, 8, 14), "45", None),
        CoverageDocumentRow("L1", "LCD", "Transthoracic Echocardiography", "WPS", None, None, None),
    ]
    index = DocumentIndex("MCD test edition", rows)
    found, total = index.matching("Injection, bevacizumab, 10 mg")
    assert [d.document_id for d in found] == ["A52370"] and total == 1 and found[0].matched == ["bevacizumab"]
    # Two specific words: one shared word is not enough ("Urine Culture" is not "Urine Drug Testing").
    assert index.matching("Urine Culture, Bacterial") == ([], 0)
    assert index.matching("Achalasia of cardia") == ([], 0)
    assert subject_words("Injection, bevacizumab, 10 mg") == ["bevacizumab"]
