"""Reading a coder's question: the codes, modifiers, units, date and setting it names, and
what it asks for (the intent). Pure functions; nothing here calls another service.

Codes are recognised in the spellings coders type (`k220`, `K22.0`, `43497`, `J9035`,
`0DTJ4ZZ`, `43280-59`); which system a candidate belongs to is only settled later, by
asking the code sets (a letter and four digits can be HCPCS J9035 or ICD-10-CM J90.35).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar

from medcode_contracts.assistant import Intent
from medcode_contracts.codes import CodeSystem
from medcode_contracts.coding_rules import Setting

# ---- code candidates -------------------------------------------------------------------------
# ICD-10-CM: letter (not U), digit, alphanumeric, then optionally a dot and up to 4 more.
_ICD10CM = r"[A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4}|[0-9A-Z]{1,4})?"
# ICD-10-PCS: 7 characters of 0-9 and letters except I and O, starting with a section
# character, with at least one letter and at least one digit (so words never match).
_ICD10PCS = r"[0-9BCDFGHX][0-9A-HJ-NP-Z]{6}"
# CPT: five digits, or four digits and F/T/U (Category II/III, PLA); HCPCS: letter + 4 digits.
_CPT = r"[0-9]{4}[0-9FTU]"
_HCPCS = r"[A-V][0-9]{4}"
_TOKEN = re.compile(r"(?<![A-Za-z0-9.])([A-Za-z0-9][A-Za-z0-9.]{2,7})(?![A-Za-z0-9])")
_ICD10CM_RE = re.compile(f"^{_ICD10CM}$")
_ICD10PCS_RE = re.compile(f"^{_ICD10PCS}$")
_CPT_RE = re.compile(f"^{_CPT}$")
_HCPCS_RE = re.compile(f"^{_HCPCS}$")

# A code with a modifier attached: 43280-59, 11042 -XS
_CODE_DASH_MODIFIER = re.compile(r"\b([0-9]{4}[0-9FTU]|[A-V][0-9]{4})\s?-\s?([0-9A-Z]{2})\b", re.I)
_MODIFIER_WORD = re.compile(
    r"\b(?:modifiers?|mod\.?)\s*[:#-]?\s*((?:[0-9A-Z]{2})(?:\s*(?:,|/|and|or|&)\s*[0-9A-Z]{2})*)\b", re.I
)
_MODIFIER_BEFORE = re.compile(r"\b([0-9A-Z]{2})\s+modifiers?\b", re.I)
_NOT_MODIFIERS = {
    "or",
    "an",
    "to",
    "is",
    "of",
    "in",
    "on",
    "it",
    "be",
    "do",
    "me",
    "my",
    "we",
    "us",
    "at",
    "by",
    "if",
    "so",
    "no",
    "as",
    "up",
    "the",
}
# Modifiers that are unambiguous on their own (no other word is spelled like them).
_STANDALONE_MODIFIERS = re.compile(r"\b(X[EPSU])\b")
_UNITS = re.compile(
    r"\b(\d{1,6})\s*(?:units?|uos|u)\b|\bunits?\s*(?:of|=|:)?\s*(\d{1,6})\b"
    r"|\bx\s?(\d{1,4})\b",
    re.I,
)
_ISO_DATE = re.compile(r"\b(20\d{2})-(\d{2})-(\d{2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(20\d{2})\b")


@dataclass(frozen=True)
class CodeMention:
    """A code as typed, with the systems it could belong to (most likely first)."""

    text: str  # as typed
    key: str  # upper case, no dot
    systems: tuple[CodeSystem, ...]
    modifiers: tuple[str, ...] = ()  # attached as 43280-59

    @property
    def is_procedure(self) -> bool:
        return bool(set(self.systems) & {CodeSystem.CPT, CodeSystem.HCPCS})


def _systems_of(token: str) -> tuple[CodeSystem, ...]:
    upper = token.upper()
    bare = upper.replace(".", "")
    systems: list[CodeSystem] = []
    if "." in upper:
        # A dot is how ICD-10-CM is printed; nothing else carries one.
        return (CodeSystem.ICD10CM,) if _ICD10CM_RE.match(upper) and upper.index(".") == 3 else ()
    if _CPT_RE.match(bare):
        systems.append(CodeSystem.CPT)
    if _HCPCS_RE.match(bare):
        systems.append(CodeSystem.HCPCS)
    if _ICD10CM_RE.match(bare) and any(c.isdigit() for c in bare[1:]):
        systems.append(CodeSystem.ICD10CM)
    if (
        len(bare) == 7
        and _ICD10PCS_RE.match(bare)
        and any(c.isalpha() for c in bare)
        and sum(c.isdigit() for c in bare) >= 1
        and not bare.isalpha()
    ):
        systems.append(CodeSystem.ICD10PCS)
    return tuple(systems)


def find_codes(text: str) -> list[CodeMention]:
    """Every code candidate in `text`, in order, once each."""
    attached = {m.group(1).upper(): m.group(2).upper() for m in _CODE_DASH_MODIFIER.finditer(text)}
    found: dict[str, CodeMention] = {}
    for match in _TOKEN.finditer(text):
        token = match.group(1).rstrip(".")
        if _is_date_part(text, match) or _is_age(text, match):
            continue
        systems = _systems_of(token)
        if not systems:
            continue
        # A word in ordinary writing is never a code: it must contain a digit.
        if not any(c.isdigit() for c in token):
            continue
        key = token.upper().replace(".", "")
        if key in found:
            continue
        modifiers = (attached[key],) if key in attached else ()
        found[key] = CodeMention(text=token, key=key, systems=systems, modifiers=modifiers)
    return list(found.values())


def _is_date_part(text: str, match: re.Match) -> bool:
    start, end = match.span(1)
    return (start > 0 and text[start - 1] in "/-" and text[start - 2 : start - 1].isdigit()) or (
        end < len(text) and text[end] in "/"
    )


def _is_age(text: str, match: re.Match) -> bool:
    return bool(re.match(r"\s*(?:yo|y/o|year|yr)", text[match.end(1) :], re.I))


def find_modifiers(text: str) -> list[str]:
    modifiers: list[str] = []
    for match in _CODE_DASH_MODIFIER.finditer(text):
        modifiers.append(match.group(2).upper())
    for match in _MODIFIER_WORD.finditer(text):
        modifiers += [
            m.upper() for m in re.findall(r"[0-9A-Z]{2}", match.group(1), re.I) if m.lower() not in _NOT_MODIFIERS
        ]
    for match in _MODIFIER_BEFORE.finditer(text):
        if match.group(1).lower() not in _NOT_MODIFIERS:
            modifiers.append(match.group(1).upper())
    modifiers += [m.upper() for m in _STANDALONE_MODIFIERS.findall(text)]
    return list(dict.fromkeys(modifiers))


def find_units(text: str) -> int | None:
    match = _UNITS.search(text)
    if not match:
        return None
    value = int(next(g for g in match.groups() if g))
    return value if value >= 1 else None


def find_date(text: str) -> date | None:
    try:
        if match := _ISO_DATE.search(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _US_DATE.search(text):
            return date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    return None


T = TypeVar("T")


def _first_match(text: str, choices: list[tuple[str, T]]) -> T | None:
    """The value of the first pattern found in `text` (lower-cased), else None."""
    lowered = text.lower()
    return next((value for pattern, value in choices if re.search(pattern, lowered)), None)


_SETTINGS = [
    (r"\b(dme|durable medical equipment|supplier)\b", Setting.DME),
    (r"\b(outpatient hospital|hospital outpatient|opps|facility|outpatient)\b", Setting.OUTPATIENT_HOSPITAL),
    (r"\b(practitioner|physician|professional)\b", Setting.PRACTITIONER),
]


def find_setting(text: str) -> Setting | None:
    return _first_match(text, _SETTINGS)


# ---- intents -----------------------------------------------------------------------------------
def _has(text: str, pattern: str) -> bool:
    return re.search(pattern, text, re.I) is not None


_ICD9 = r"(?<![\w.])(?:\d{3}\.\d{1,2}|V\d{2}\.\d{1,2}|E\d{3}\.\d)(?![\w.])"
_MUE = r"\bmues?\b|medically unlikely|max(imum)?\s+(number\s+of\s+)?units|how many units|units? limit|unit limit"
_NCCI = (
    r"\bncci\b|\bptp\b|bundl|billed? (them )?together|bill .* (with|and) |together|same (day|date|session)"
    r"|separately (billable|reportable)|column (1|one|2|two)|\bunbundl|report(ed)? with|edit\b"
)
_CROSSWALK = r"crosswalk|\bgems?\b|icd-?9|convert|\bmaps? (to|from)|mapping|equivalent"
_BILLABLE = (
    r"billable|\bvalid\b|header|can i (bill|use|report|code)|ok to (bill|use)|codable|specific enough|complete code"
)
_COVERAGE = (
    r"cover(ed|age|s)?\b|\bncds?\b|\blcds?\b|medical necessity|medically necessary|\babn\b"
    r"|national coverage|local coverage"
)
_GUIDELINE = (
    r"guideline|sequenc|principal diagnosis|first[- ]listed|official (guidance|rule)|how (do|should) (i|we|you) code"
    r"|when (do|should|can) (i|we|you)|coding rule|rules? for|policy|manual|chapter|convention|excludes ?[12]"
    r"|code first|use additional|uncertain diagnos|rule out|\bsection\b|what does .* say|how to code|coding of"
)
_MODIFIER = r"\bmodifiers?\b|\bmod\b"
_SEARCH = (
    r"\b(code|codes|dx|diagnosis code|icd-?10(-cm|-pcs)?|cpt|hcpcs|pcs)\s+(code\s+)?(for|of)\b"
    r"|what('s| is) the (icd-?10(-cm|-pcs)?|cpt|hcpcs|pcs|diagnosis|procedure)?\s*code|which code"
    r"|look ?up|find (a |the )?code|how do i code"
    r"|\bcode\b.*\bfor\b"
)
_CASE = (
    r"\b\d{1,3}\s*(yo|y/o|y\.o\.|year[- ]old|yr old|yrs? old)\b|\b\d{1,3}\s*[mf]\b|\bpatient (with|presents|has|had)\b"
    r"|\bpt (with|w/|has|presents)\b|\bpresent(s|ed|ing) with\b|\bs/p\b|\bdone\b|\bperformed\b|\bunderwent\b"
    r"|\bhistory of\b|\bh/o\b"
)
_FOLLOW_UP = r"^\s*(and|what about|how about|also|same|ok,? and|with)\b|\b(it|that|this|those|these|them|both)\b"


@dataclass
class Understanding:
    intent: Intent
    codes: list[CodeMention] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    units: int | None = None
    date_of_service: date | None = None
    setting: Setting | None = None
    topic: str = ""  # the words to search documents or code titles for
    system_hint: CodeSystem | None = None
    used_context: bool = False  # codes or intent taken from the conversation so far
    question: str = ""


_SYSTEM_HINTS = [
    (r"icd-?10-?pcs|\bpcs\b|inpatient procedure", CodeSystem.ICD10PCS),
    (r"icd[- ]?10(-?cm)?|\bdx\b|diagnos|\bz[- ]codes?\b", CodeSystem.ICD10CM),
    (r"\bhcpcs\b|level ii|\bj-?code", CodeSystem.HCPCS),
    (r"\bcpt\b", CodeSystem.CPT),
]


def _system_hint(text: str) -> CodeSystem | None:
    return _first_match(text, _SYSTEM_HINTS)


_STOP = set(
    """a an the of for to in on at is are was were be been what which who whom whose how when why
where do does did can could should would will shall may might i we you my our your me it its this that these
those there here with without and or but if then than so as by from into about tell give show find look lookup
code codes coding please pls thanks thank need want know any some icd icd10 icd-10 cm pcs cpt hcpcs dx diagnosis
diagnoses procedure correct right proper use using used get bill billing billed report reported number""".split()
)


# Abbreviations coders type, in the documents' words (the codes service's search has its
# own list for code titles; this one is for searching the guidelines and manuals).
ABBREVIATIONS = {
    "htn": "hypertension",
    "ckd": "chronic kidney disease",
    "dm": "diabetes mellitus",
    "t2dm": "type 2 diabetes mellitus",
    "chf": "heart failure",
    "hf": "heart failure",
    "copd": "chronic obstructive pulmonary disease",
    "mi": "myocardial infarction",
    "ami": "acute myocardial infarction",
    "afib": "atrial fibrillation",
    "uti": "urinary tract infection",
    "cad": "coronary artery disease",
    "gerd": "gastro-esophageal reflux disease",
    "cva": "cerebrovascular accident stroke",
    "aki": "acute kidney injury",
    "esrd": "end stage renal disease",
    "hiv": "human immunodeficiency virus hiv",
    "covid": "covid-19",
    "poa": "present on admission",
    "pdx": "principal diagnosis",
    "sdx": "secondary diagnosis",
    "e/m": "evaluation and management",
    "em": "evaluation and management",
    "ptp": "procedure-to-procedure",
    "mue": "medically unlikely edits",
    "mues": "medically unlikely edits",
    "dx": "diagnosis",
}


def expand_abbreviations(text: str) -> str:
    return " ".join(ABBREVIATIONS.get(word.lower(), word) for word in text.split())


# Words a code title turns on ("Type 2 diabetes mellitus without complications" is not
# "... with other specified complication"): kept in a code search, though stop words elsewhere.
_TITLE_WORDS = frozenset({"with", "without"})


def topic_words(text: str) -> str:
    """The content words of a question, for searching titles or documents."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]+|\d+", text.lower())
    return " ".join(w for w in words if w not in _STOP and len(w) > 1)


def _title_words(text: str) -> str:
    """topic_words, keeping what a code title turns on: "with"/"without" and numbers ("type 2")."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]+|\d+", text.lower())
    return " ".join(w for w in words if w in _TITLE_WORDS or w.isdigit() or (w not in _STOP and len(w) > 1))


def search_phrase(text: str) -> str:
    """What to search code titles for: the words after 'code for' etc., else the topic."""
    match = re.search(
        r"\b(?:code|codes|dx|cpt|hcpcs|pcs|icd-?\s?10(?:-?cm|-?pcs)?)\s+(?:code\s+)?(?:for|of)\s+(.+)$", text, re.I
    )
    phrase = match.group(1) if match else text
    phrase = re.sub(r"[?!.]+$", "", phrase).strip()
    return _title_words(phrase) or phrase


def understand(question: str, context: dict | None = None) -> Understanding:
    """Read `question`; `context` is what the conversation established so far
    (Understanding.to_context of the previous turn), used by follow-ups."""
    text = question.strip()
    codes = find_codes(text)
    modifiers = find_modifiers(text)
    # A two-character modifier is not a code of its own.
    codes = [c for c in codes if c.key not in modifiers or len(c.key) > 2]
    units = find_units(text)
    procedures = [c for c in codes if c.is_procedure]
    hint = _system_hint(text)
    result = Understanding(
        intent=Intent.UNKNOWN,
        codes=codes,
        modifiers=modifiers,
        units=units,
        date_of_service=find_date(text),
        setting=find_setting(text),
        topic=topic_words(text),
        system_hint=hint,
        question=text,
    )

    if _has(text, _CROSSWALK) and (codes or _has(text, _ICD9)):
        result.intent = Intent.CROSSWALK
    elif _has(text, _MUE) or (units is not None and len(procedures) == 1 and not _has(text, _NCCI)):
        result.intent = Intent.MUE
    elif len(procedures) >= 2:
        result.intent = Intent.NCCI_PAIR
    elif _has(text, _COVERAGE):
        result.intent = Intent.COVERAGE
    elif not codes and _has(text, r"\b(codes?|icd-?\s?10(-?cm|-?pcs)?|cpt|hcpcs|dx)\s+(codes?\s+)?(for|of)\b"):
        result.intent = Intent.CODE_SEARCH
    elif _has(text, _CASE) and not _has(text, r"guideline|sequenc") and len(topic_words(text).split()) >= 2:
        result.intent = Intent.CASE_TO_CODES
    elif modifiers and not codes:
        result.intent = Intent.MODIFIER
    elif _has(text, _MODIFIER) and not codes and _has(text, r"\b(mean|what is|when|use|definition|describe|purpose)\b"):
        result.intent = Intent.MODIFIER
    elif codes and _has(text, _BILLABLE):
        result.intent = Intent.BILLABLE
    elif _has(text, _GUIDELINE) and not _has(text, r"\bcode (for|of)\b"):
        result.intent = Intent.GUIDELINE
    elif codes:
        result.intent = Intent.CODE_LOOKUP
    elif _has(text, _SEARCH) and search_phrase(text):
        result.intent = Intent.CODE_SEARCH
    elif _has(text, r"\b(code|codes)\b") and topic_words(text):
        result.intent = Intent.CODE_SEARCH
    return _with_context(result, text, context or {})


def _with_context(result: Understanding, text: str, context: dict) -> Understanding:
    """Follow-ups: "and with modifier 59?", "is it billable?", "what about 2 units?"."""
    if not context:
        return result
    previous = context.get("intent")
    previous_codes = [
        CodeMention(text=c["text"], key=c["key"], systems=tuple(CodeSystem(s) for s in c["systems"]))
        for c in context.get("codes", [])
    ]
    follow_up = _has(text, _FOLLOW_UP) or len(text.split()) <= 6
    if not previous_codes or not follow_up:
        return result
    if result.codes:
        # "what about 99214?" after a pair: the same question with the new code in the
        # second place; after an MUE or a lookup: the same question about the new code.
        asks_the_same = result.intent in (Intent.CODE_LOOKUP, Intent.UNKNOWN) and _has(text, _FOLLOW_UP)
        if (
            asks_the_same
            and previous == Intent.NCCI_PAIR.value
            and len(result.codes) == 1
            and result.codes[0].is_procedure
        ):
            return replace(
                result, intent=Intent.NCCI_PAIR, codes=[previous_codes[0], result.codes[0]], used_context=True
            )
        if asks_the_same and previous in (Intent.MUE.value, Intent.BILLABLE.value, Intent.CROSSWALK.value):
            return replace(result, intent=Intent(previous), used_context=True)
        return result
    used = replace(result, codes=previous_codes, used_context=True)
    if used.setting is None and context.get("setting"):
        used.setting = Setting(context["setting"])
    if used.date_of_service is None and context.get("date_of_service"):
        used.date_of_service = date.fromisoformat(context["date_of_service"])
    if _has(text, _MUE):
        used.intent = Intent.MUE
    elif _has(text, _CROSSWALK):
        used.intent = Intent.CROSSWALK
    elif _has(text, _BILLABLE):
        used.intent = Intent.BILLABLE
    elif _has(text, _COVERAGE):
        used.intent = Intent.COVERAGE
    elif result.modifiers and previous == Intent.NCCI_PAIR.value:
        used.intent = Intent.NCCI_PAIR
    elif result.units is not None and previous in (Intent.MUE.value, Intent.NCCI_PAIR.value):
        used.intent = Intent.MUE
    elif result.intent in (Intent.UNKNOWN, Intent.MODIFIER) and previous:
        used.intent = Intent(previous) if not result.modifiers else Intent.NCCI_PAIR
    return used


def to_context(understood: Understanding) -> dict:
    """What a follow-up may refer back to (stored with the conversation; no question text)."""
    return {
        "intent": understood.intent.value,
        "codes": [{"text": c.text, "key": c.key, "systems": [s.value for s in c.systems]} for c in understood.codes],
        "setting": understood.setting.value if understood.setting else None,
        "date_of_service": understood.date_of_service.isoformat() if understood.date_of_service else None,
    }
