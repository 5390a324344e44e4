"""Reading questions: code spellings of every system, modifiers, units, dates, settings,
intents, and follow-ups that lean on the conversation."""

import pytest

from assistant.understanding import find_codes, find_modifiers, find_units, search_phrase, to_context, understand
from medcode_contracts.assistant import Intent
from medcode_contracts.codes import CodeSystem
from medcode_contracts.coding_rules import Setting


@pytest.mark.parametrize(
    "text, key, systems",
    [
        ("k220", "K220", (CodeSystem.ICD10CM,)),
        ("K22.0", "K220", (CodeSystem.ICD10CM,)),
        ("s72.001a", "S72001A", (CodeSystem.ICD10CM,)),
        ("43497", "43497", (CodeSystem.CPT,)),
        ("0591T", "0591T", (CodeSystem.CPT,)),
        ("J9035", "J9035", (CodeSystem.HCPCS, CodeSystem.ICD10CM)),
        ("0DTJ4ZZ", "0DTJ4ZZ", (CodeSystem.ICD10PCS,)),
    ],
)
def test_codes_in_any_common_spelling(text, key, systems):
    [mention] = find_codes(f"what about {text}?")
    assert (mention.key, mention.systems) == (key, systems)


def test_words_ages_and_dates_are_not_codes():
    assert find_codes("62 yo with achalasia, seen 08/01/2024 and 2024-08-01, ABDOMEN pain") == []


def test_modifiers_attached_named_or_standalone():
    assert find_modifiers("93000 with 93005-59") == ["59"]
    assert find_modifiers("is modifier 25 or XS ok") == ["25", "XS"]
    assert find_modifiers("what is the GA modifier") == ["GA"]
    assert find_modifiers("is it a modifier to use") == []
    [first, second] = find_codes("11042 and 93000-59")
    assert second.modifiers == ("59",) and first.modifiers == ()


def test_units_dates_and_settings():
    understood = understand("500 units of J9035 on 2024-08-01 in the outpatient hospital")
    assert understood.units == 500 and understood.date_of_service.isoformat() == "2024-08-01"
    assert understood.setting is Setting.OUTPATIENT_HOSPITAL
    assert find_units("J9035 x3") == 3 and find_units("J9035") is None


@pytest.mark.parametrize(
    "question, intent",
    [
        ("Can 43497 and 43280 be billed together?", Intent.NCCI_PAIR),
        ("MUE for J9035?", Intent.MUE),
        ("What does modifier 59 mean?", Intent.MODIFIER),
        ("ICD-10 code for achalasia?", Intent.CODE_SEARCH),
        ("Is E11.9 billable?", Intent.BILLABLE),
        ("Guidelines for sequencing sepsis?", Intent.GUIDELINE),
        ("62 yo with achalasia, peroral endoscopic myotomy done", Intent.CASE_TO_CODES),
        ("crosswalk I10 to icd-9", Intent.CROSSWALK),
        ("what's the crosswalk for 250.00", Intent.CROSSWALK),
        ("icd 10 for afib", Intent.CODE_SEARCH),
        ("z code for personal history of colon polyps", Intent.CODE_SEARCH),
        ("is 87086 covered for N39.0", Intent.COVERAGE),
        ("what is K22.0", Intent.CODE_LOOKUP),
        ("tell me a joke", Intent.UNKNOWN),
    ],
)
def test_intents_of_the_issue_examples(question, intent):
    assert understand(question).intent is intent


def test_follow_ups_use_the_conversation():
    context = to_context(understand("Can 20610 and 99213 be billed together?"))
    with_modifier = understand("and with modifier 59?", context)
    assert with_modifier.intent is Intent.NCCI_PAIR and with_modifier.used_context
    assert [c.key for c in with_modifier.codes] == ["20610", "99213"] and with_modifier.modifiers == ["59"]
    other = understand("what about 99214?", context)
    assert other.intent is Intent.NCCI_PAIR and [c.key for c in other.codes] == ["20610", "99214"]
    assert understand("is it billable?", to_context(understand("What is E11.9?"))).intent is Intent.BILLABLE
    # A new question with its own codes is not a follow-up.
    assert [c.key for c in understand("What is K22.0 exactly, and its notes please?", context).codes] == ["K220"]


def test_the_context_holds_codes_and_intent_but_no_question_text():
    context = to_context(understand("my patient Jane Doe: can 20610 and 99213 be billed together?"))
    assert "Jane" not in str(context) and context["intent"] == "NCCI_PAIR"


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        # "without" and the "2" of "type 2" decide the code: E11.9, not E10.x or "with ... complication".
        ("dx code for type 2 diabetes without complications", "type 2 diabetes without complications"),
        ("What is the code for a femur fracture with routine healing?", "femur fracture with routine healing"),
        ("code for the flu", "flu"),
    ],
)
def test_a_code_search_keeps_the_words_a_title_turns_on(question, phrase):
    assert search_phrase(question) == phrase
