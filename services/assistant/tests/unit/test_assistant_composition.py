"""Answers from made-up facts: NCCI and MUE answers are the claim check's verdict in words
(the claim check decides, nothing is read twice), codes are linked and listed, facts are
cited, and what the data cannot answer gets an honest "I don't know"."""

from assistant.composition import DONT_KNOW
from assistant.understanding import to_context, understand
from medcode_contracts.assistant import Intent


def test_ncci_answer_is_the_claim_checks_verdict(composer, facts):
    answer = composer.compose(understand("Can 20610 and 99213 be billed together?"))
    assert answer.intent is Intent.NCCI_PAIR
    assert answer.text.startswith("**Not without a modifier.** made-up PTP")
    assert "(line 2)" not in answer.text
    assert [c.source for c in answer.citations] == ["made-up ptp v1"]
    assert [c.code for c in answer.codes] == ["20610", "99213"]
    assert "[20610](https://codes.example/CPT/20610)" in answer.text
    assert [line.code for line in facts.claims[0].lines] == ["20610", "99213"]


def test_a_follow_up_modifier_goes_on_the_column_two_line(composer, facts):
    context = to_context(understand("Can 20610 and 99213 be billed together?"))
    answer = composer.compose(understand("and with modifier 59?", context))
    assert answer.text.startswith("**Yes, with the modifier.**")
    checked = facts.claims[-1]
    assert [(line.code, line.modifiers) for line in checked.lines] == [("20610", []), ("99213", ["59"])]


def test_no_edit_is_said_plainly(composer):
    answer = composer.compose(understand("93000 and 20610 together?"))
    assert answer.text.startswith("**Yes, no NCCI PTP edit applies.**")


def test_mue_value_and_units_over_it(composer):
    answer = composer.compose(understand("500 units of J9035?"))
    assert "MUE 7 units" in answer.text and "**Over the MUE.** made-up MUE over" in answer.text
    assert {c.source for c in answer.citations} == {"mue.csv"}


def test_lookup_links_every_code_and_says_billable(composer):
    answer = composer.compose(understand("is K22 billable"))
    assert answer.text.startswith("**No.** [K22](https://codes.example/ICD10CM/K22)")
    assert "[K22.0](https://codes.example/ICD10CM/K22.0)" in answer.text
    assert answer.citations[0].locator == "K22" and answer.citations[0].source.startswith("ICD-10-CM Made-up 2026")


def test_an_unknown_code_is_never_made_up(composer):
    answer = composer.compose(understand("Is K22.99 billable?"))
    assert DONT_KNOW in answer.text and answer.codes == []


def test_guideline_answers_cite_document_edition_and_section(composer):
    answer = composer.compose(understand("Guidelines for sequencing sepsis?"))
    assert answer.intent is Intent.GUIDELINE
    assert answer.citations[0].source.startswith("ICD-10-CM Official Guidelines for Coding and Reporting, FY2026")
    assert answer.citations[0].locator.startswith("Section I.C.1.d")


def test_modifier_answers_cite_the_list_and_the_ncci_manual(composer):
    answer = composer.compose(understand("when to use XS"))
    assert "**Modifier XS**" in answer.text and "NCCI PTP-associated" in answer.text
    assert {c.locator for c in answer.citations} >= {"modifier XS"}
    assert any(c.locator.startswith("Chapter I") for c in answer.citations)


def test_case_suggestions_show_phrase_and_evidence(composer):
    answer = composer.compose(understand("62 yo with achalasia, peroral endoscopic myotomy done"))
    assert answer.intent is Intent.CASE_TO_CODES
    assert answer.text.startswith("**Suggestions for a coder to verify**")
    assert "“achalasia” → [K22.0]" in answer.text and "evidence: tabular title" in answer.text


def test_coverage_from_the_lab_ncd_files(composer, facts):
    facts.known_cpt.add("87086")
    facts.pages[("ICD10CM", "N390")] = facts.pages[("ICD10CM", "K220")].model_copy(update={"code": "N39.0"})
    answer = composer.compose(understand("Is 87086 covered for N39.0?"))
    assert "NCD 190.12" in answer.text and "covered" in answer.text
    assert any(c.excerpt == "resolution code 1" for c in answer.citations)


def test_unknown_questions_say_so_and_suggest(composer):
    answer = composer.compose(understand("tell me a joke"))
    assert answer.intent is Intent.UNKNOWN and answer.text.startswith(DONT_KNOW) and answer.codes == []


def test_an_icd9_crosswalk_is_an_honest_dont_know(composer):
    answer = composer.compose(understand("what's the crosswalk for 250.00"))
    assert answer.intent is Intent.CROSSWALK and DONT_KNOW in answer.text and answer.codes == []
