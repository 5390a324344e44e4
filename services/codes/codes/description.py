"""The plain-language description of a code page, composed only from official text.

Each sentence is built from one official file and cites it: nothing is invented, and a
fact the files do not give is left out rather than guessed.

* ICD-10-PCS: the tables (section, body system and each axis label of the code) and the
  ICD-10-PCS Definitions: the root operation's definition and explanation, the body part
  key, the approach's definition, the device key.
* ICD-10-CM: the tabular's chapter, block and category, inclusion terms and notes, and the
  Alphabetic Index terms that lead to the code.
* HCPCS Level II: the long descriptor (with the dose one unit stands for and the route,
  where the descriptor gives them), the code's section, and its dates in the CMS file.
* CPT: the licence line, unless a licensed CPT file is loaded.

No nameko, no database: the service hands in the page, the facts the store keeps beside it
(`extra`) and the source names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medcode_contracts.codes import CodePage, CodeSystem, DescriptionSentence
from medcode_contracts.coding_rules import CPT_LICENCE_NOTE

from .code_sets.icd10pcs_definitions import (
    APPROACH,
    BODY_PART,
    DEVICE,
    OPERATION,
    PcsDefinitions,
    PcsTerm,
    find_release,
    read_definitions,
)

MAX_INDEX_TERMS = 8
MAX_LISTED = 6


@dataclass(frozen=True)
class Sources:
    """What the sentences cite: the code set's release file, and the rule files used."""

    code_set_file: str  # e.g. "icd10cm-tabular-April-1-2026.xml"
    index_file: str | None = None  # the ICD-10-CM Alphabetic Index edition's file
    definitions: PcsDefinitions | None = None


def load_definitions(mirror: Path | None) -> PcsDefinitions | None:
    """The newest ICD-10-PCS Definitions of the mirror (None when it has none)."""
    path = find_release(mirror)
    return read_definitions(path) if path is not None else None


def describe(page: CodePage, extra: dict, sources: Sources) -> list[DescriptionSentence]:
    if page.system == CodeSystem.ICD10PCS:
        return _pcs(page, extra, sources)
    if page.system == CodeSystem.ICD10CM:
        return _icd10cm(page, extra, sources)
    if page.system == CodeSystem.HCPCS:
        return _hcpcs(page, extra, sources)
    if page.system == CodeSystem.CPT:
        return _cpt(page, extra, sources)
    if page.system == CodeSystem.MODIFIER:
        return [
            DescriptionSentence(
                text=f"{page.code} is a HCPCS Level II modifier: {_sentence(page.title)}",
                source=f"{sources.code_set_file} (long descriptor)",
            )
        ]
    return []


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _lower_first(text: str) -> str:
    """ "Diseases of esophagus" -> "diseases of esophagus"; "HIV disease" stays."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _listing(items: list[str], limit: int = MAX_LISTED) -> str:
    shown = [" ".join(i.split()).rstrip(".") for i in items[:limit]]
    more = len(items) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


class _Said(list[DescriptionSentence]):
    """The sentences of a description so far; every one names the file it comes from."""

    def say(self, text: str, source: str) -> None:
        self.append(DescriptionSentence(text=text, source=source))


# ---- ICD-10-PCS ---------------------------------------------------------------------------


# Without a Definitions file every lookup finds nothing.
_NO_DEFINITIONS = PcsDefinitions(fiscal_year=0, source="", fingerprint="")


def _nothing(label: str) -> bool:
    return label == "None" or label.startswith("No ")


def _pcs(page: CodePage, extra: dict, sources: Sources) -> list[DescriptionSentence]:
    tables = f"{sources.code_set_file} (the code's table and row)"
    axes: dict[str, str] = extra.get("axes") or {}
    labels = list(axes.items())
    if len(labels) < 3:
        return []
    said = _Said()
    section, system = labels[0][1], labels[1][1]
    definitions, letter = sources.definitions or _NO_DEFINITIONS, page.code[0]
    if len(labels) < 7:  # a table (3 characters): its operation and what it defines
        said.say(
            (
                f"{page.code} is the ICD-10-PCS table of {labels[2][1]} procedures ({section} section, "
                f"{system}); each code under it adds characters 4 to 7."
            ),
            tables,
        )
        operation = definitions.lookup(letter, OPERATION, labels[2][1])
        if operation is not None and operation.definition:
            said.append(_definition_sentence(labels[2][1], operation, definitions))
        return said

    parts = [f"{title.lower()} {label}" for title, label in labels[3:] if not _nothing(label)]
    said.say(
        (
            f"{page.code} is an ICD-10-PCS code of the {section} section, {system}: "
            f"{labels[2][0].lower()} {labels[2][1]}" + (f", {', '.join(parts)}" if parts else "") + "."
        ),
        tables,
    )
    operation = definitions.lookup(letter, OPERATION, labels[2][1])
    if operation is not None and (operation.definition or operation.explanation):
        said.append(_definition_sentence(labels[2][1], operation, definitions))
    for position, (title, label) in enumerate(labels[3:], start=4):
        if _nothing(label):
            if title.startswith("Device"):
                said.say("No device remains in place after the procedure.", tables)
            continue
        term = definitions.lookup(letter, position, label)
        if term is None and position == DEVICE:
            term = definitions.lookup(letter, position, f"{label} in {system}")
        if term is None:
            continue
        what = f"The {title.lower()} {label}" if position != APPROACH else f"The {label} approach"
        if term.definition:
            text = f"{what} means: {_lower_first(_sentence(term.definition))}"
        elif term.includes:
            noun = {BODY_PART: "includes", DEVICE: "covers devices such as"}.get(position, "includes")
            text = f"{what} {noun}: {_listing(list(term.includes))}."
        else:
            continue
        said.say(text, f"{definitions.source} ({term.axis_title} definitions)")
    return said


def _definition_sentence(label: str, term: PcsTerm, definitions: PcsDefinitions) -> DescriptionSentence:
    text = f"{label} means: {_lower_first(_sentence(term.definition))}" if term.definition else f"{label}."
    if term.explanation:
        text += f" {_sentence(term.explanation)}"
    if term.includes:
        text += f" Examples: {_listing(list(term.includes))}."
    return DescriptionSentence(text=text, source=f"{definitions.source} (root operation definitions)")


# ---- ICD-10-CM --------------------------------------------------------------------------------

_RANGE_SUFFIX = re.compile(r"\s*\(([A-Z0-9.\-]+)\)\s*$")


def _icd10cm(page: CodePage, extra: dict, sources: Sources) -> list[DescriptionSentence]:
    tabular = sources.code_set_file
    said = _Said()
    chapter, block, category = extra.get("chapter"), extra.get("block"), extra.get("category")
    if chapter or block:
        text = f"{page.code} ({page.title}) is"
        if chapter:
            text += f" in chapter {chapter['number']} of ICD-10-CM, {chapter['title']}"
        if block:
            name = _RANGE_SUFFIX.sub("", block["title"])
            text += (":" if chapter else "") + f" it is one of the {_lower_first(name)} ({block['range']})"
        if category:
            text += f", in category {category['code']}, {category['title']}"
        said.say(text + ".", f"{tabular} (chapter, block and category)")
    if page.billable:
        said.say(f"{page.code} is billable: it is reported as it is.", f"{tabular} (code hierarchy)")
    elif page.children:
        said.say(
            (
                f"{page.code} is a heading, not billable: report one of its {len(page.children)} more specific "
                f"codes ({', '.join(c.code for c in page.children[:MAX_LISTED])}"
                f"{', ...' if len(page.children) > MAX_LISTED else ''})."
            ),
            f"{tabular} (code hierarchy)",
        )
    notes = page.notes
    if notes.inclusion_terms:
        said.say(f"It is also called: {_listing(notes.inclusion_terms)}.", f"{tabular} (inclusion terms)")
    if notes.includes:
        said.say(f"It includes: {_listing(notes.includes)}.", f"{tabular} (includes note)")
    if page.lay_terms and sources.index_file:
        known = {t.lower() for t in notes.inclusion_terms} | {page.title.lower()}
        terms = [t for t in page.lay_terms if t.lower() not in known][:MAX_INDEX_TERMS]
        if terms:
            said.say(
                f"In the ICD-10-CM Alphabetic Index these terms lead to it: {'; '.join(terms)}.",
                f"{sources.index_file} (Alphabetic Index terms)",
            )
    for field, text in (
        ("excludes1", "Coded elsewhere, never together with it (Excludes1): {}."),
        ("excludes2", "Not part of it, though a patient may have both, each coded (Excludes2): {}."),
        ("code_first", "Code first: {}."),
        ("use_additional_code", "Use an additional code: {}."),
        ("code_also", "Code also: {}."),
    ):
        values = getattr(notes, field)
        if values:
            said.say(text.format(_listing(values)), f"{tabular} ({field.replace('_', ' ')} note)")
    if extra.get("seventh_character"):
        meaning = page.title.rsplit(", ", 1)[-1]
        said.say(f"Its 7th character {extra['seventh_character']} means: {meaning}.", f"{tabular} (7th characters)")
    elif notes.seventh_characters and not page.billable:
        choices = ", ".join(f"{s.character} {s.meaning}" for s in notes.seventh_characters)
        said.say(f"A 7th character completes the code: {choices}.", f"{tabular} (7th characters)")
    for note in extra.get("notes", [])[:3]:
        said.say(_sentence(note), f"{tabular} (notes)")
    return said


# ---- HCPCS Level II ---------------------------------------------------------------------------

# The HCPCS Level II sections by first letter (and the J codes' ranges), as CMS names them.
_HCPCS_SECTIONS = {
    "A": "transportation services including ambulance, medical and surgical supplies, and "
    "administrative, miscellaneous and investigational items",
    "B": "enteral and parenteral therapy",
    "C": "outpatient prospective payment system (temporary hospital codes)",
    "D": "dental procedures",
    "E": "durable medical equipment",
    "G": "procedures and professional services (temporary codes)",
    "H": "alcohol and drug abuse treatment services",
    "J": "drugs administered other than oral method",
    "K": "temporary codes assigned to the durable medical equipment MACs",
    "L": "orthotic and prosthetic procedures and devices",
    "M": "medical services and quality measures",
    "P": "pathology and laboratory services",
    "Q": "temporary codes",
    "R": "diagnostic radiology services",
    "S": "temporary national codes (non-Medicare)",
    "T": "national codes established for state Medicaid agencies",
    "U": "coronavirus diagnostic tests",
    "V": "vision, hearing and speech-language pathology services",
}
HCPCS_SECTIONS_SOURCE = "CMS HCPCS Level II code ranges (section headings)"

_DOSE = re.compile(
    r"\b(?:per\s+)?(\d[\d,]*(?:\.\d+)?\s*(?:mg|mcg|micrograms?|milligrams?|grams?|gm|g|ml|cc|units?|iu|meq|"
    r"mci|millicuries?|microcuries?|sq\.? ?cm|million cells|billion units))\b",
    re.I,
)
_ROUTES = (
    ("inhalation solution", "inhaled (inhalation solution)"),
    ("intravenous", "intravenously"),
    ("subcutaneous", "under the skin (subcutaneous)"),
    ("intramuscular", "into a muscle (intramuscular)"),
    ("intrathecal", "into the spinal canal (intrathecal)"),
    ("intravitreal", "into the eye (intravitreal)"),
    ("oral", "by mouth"),
    ("topical", "on the skin (topical)"),
    ("injection", "by injection"),
    ("infusion", "by infusion"),
)


def _hcpcs_section(code: str) -> str | None:
    if code.startswith("J9"):
        return "chemotherapy drugs (J9000-J9999), among the drugs administered other than oral method"
    if code[:2] == "J8":
        return "drugs administered orally (J8499-J8999), in the J section"
    return _HCPCS_SECTIONS.get(code[:1])


def _hcpcs(page: CodePage, extra: dict, sources: Sources) -> list[DescriptionSentence]:
    release = sources.code_set_file
    said = _Said()
    section = _hcpcs_section(page.code)
    if section:
        said.say(
            f"{page.code} is a HCPCS Level II code of the section for {section}.",
            f"{HCPCS_SECTIONS_SOURCE}; code from {release}",
        )
    said.say(f"Its official descriptor reads: {_sentence(page.title)}", f"{release} (LONG DESCRIPTION)")
    lowered = page.title.lower()
    route = next((words for key, words in _ROUTES if key in lowered), None)
    dose = _DOSE.search(page.title)
    if dose and (route or page.code[:1] in "JQ"):
        subject = ", ".join(p for p in page.title.split(", ")[1:] if not _DOSE.fullmatch(p.strip())) or page.title
        text = f"It bills {subject}" + (f", given {route}" if route else "")
        text += f": one unit stands for {dose.group(1)}; report as many units as {dose.group(1)} doses given."
        said.say(text, f"{release} (LONG DESCRIPTION: dose and route)")
    elif route:
        said.say(f"It is given {route}.", f"{release} (LONG DESCRIPTION: route)")
    if extra.get("added"):
        said.say(f"CMS added it on {extra['added']}.", f"{release} (ADD DT)")
    if extra.get("termination_date"):
        said.say(f"It is not valid after {extra['termination_date']}.", f"{release} (TERM DT)")
    return said


# ---- CPT --------------------------------------------------------------------------------------


def _cpt(page: CodePage, extra: dict, sources: Sources) -> list[DescriptionSentence]:
    if extra.get("descriptor_note"):
        return [
            DescriptionSentence(
                text=f"{page.code} is a CPT code (American Medical Association). {CPT_LICENCE_NOTE}",
                source=f"{sources.code_set_file} (CPT numbers from CMS NCCI/MUE files; no AMA text)",
            )
        ]
    return [
        DescriptionSentence(
            text=f"{page.code} is a CPT code: {_sentence(page.title)}",
            source=f"{sources.code_set_file} (licensed AMA CPT descriptor)",
        )
    ]
