"""The Medicare Code Editor definitions (MCE, CMS text): the code lists of its edits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..release_files import MalformedRelease, Wrap, gz_guard, open_text
from .rows import MceRow

# The MCE's edit numbers, the start of their headings, and how this platform names them.
MCE_EDITS = {
    "1": ("Invalid diagnosis or procedure code", "INVALID_CODE"),
    "2": ("External causes of morbidity codes as principal diagnosis", "EXTERNAL_CAUSE_PDX"),
    "3": ("Duplicate of PDX", "DUPLICATE_PDX"),
    "4": ("Age conflict", "AGE_CONFLICT"),
    "5": ("Sex conflict", "SEX_CONFLICT"),
    "6": ("Manifestation code as principal diagnosis", "MANIFESTATION_PDX"),
    "7": ("Non-specific principal diagnosis", "NON_SPECIFIC_PDX"),
    "8": ("Questionable admission", "QUESTIONABLE_ADMISSION"),
    "9": ("Unacceptable principal diagnosis", "UNACCEPTABLE_PDX"),
    "10": ("Non-specific O.R. procedure", "NON_SPECIFIC_OR_PROCEDURE"),
    "11": ("Non-covered procedure", "NON_COVERED_PROCEDURE"),
    "12": ("Open biopsy check", "OPEN_BIOPSY"),
    "13": ("Bilateral procedure", "BILATERAL_PROCEDURE"),
    "14": ("Invalid age", "INVALID_AGE"),
    "15": ("Invalid sex", "INVALID_SEX"),
    "16": ("Invalid discharge status", "INVALID_DISCHARGE_STATUS"),
    "17": ("Limited coverage", "LIMITED_COVERAGE"),
    "18": ("Wrong procedure performed", "WRONG_PROCEDURE"),
    "19": ("Procedure inconsistent with LOS", "PROCEDURE_INCONSISTENT_WITH_LOS"),
    "20": ("Unspecified code", "UNSPECIFIED_CODE"),
}
# Sub-lists whose codes are diagnoses that qualify a procedure edit, not the edit itself.
_SUBLIST_EDITS = {
    ("8", "3"): "OUTCOME_OF_DELIVERY",
    ("11", "B"): "NON_COVERED_PROCEDURE_EXCEPTION",
    ("11", "D"): "NON_COVERED_PROCEDURE_DIAGNOSIS",
    ("8", "1"): "QUESTIONABLE_OBSTETRIC_ADMISSION",
    ("8", "2"): "QUESTIONABLE_OBSTETRIC_ADMISSION",
}
_CODE_LINE = re.compile(r"^(\*?)([0-9A-Z]{3,7}) *\t+(.*)$")
_HEADING = re.compile(r"^(\d{1,2})\. (.+?)\s*$")
_LETTER = re.compile(r"^([A-G])\. (.+?)\s*$")
_AGE_RANGE = re.compile(r"age (\d+) through (\d+)")
_VERSION = re.compile(r"^v(\d+(?:\.\d+)?) ([A-Z][a-z]+ \d{4})\s*$")


def read_mce_version(path: Path) -> str:
    """ "v43.1 April 2026" from the title page (one of its first lines)."""
    with open_text(path, encoding="cp1252", newline=None) as text:
        for number, line in enumerate(text, start=1):
            if m := _VERSION.match(line.strip()):
                return f"v{m[1]} ({m[2]})"
            if number > 20:
                break
    raise MalformedRelease(path, None, "no 'vNN.N Month YYYY' version line in the first 20 lines")


def mce_age_range(list_title: str) -> tuple[int, int] | None:
    """The ages an age-conflict list's codes fit: "(age 9 through 64)"; the newborn list is 0."""
    if m := _AGE_RANGE.search(list_title):
        return int(m[1]), int(m[2])
    if "newborn" in list_title.lower() or "perinatal" in list_title.lower():
        return 0, 0
    return None


def read_mce(path: Path, wrap: Wrap = None) -> Iterator[MceRow]:
    """The code lists of chapter 1 of the MCE definitions (Windows-1252 text).

    Chapter 1 numbers its edits ("6. Manifestation code as principal diagnosis"), some
    with lettered lists ("C. Maternity diagnoses (age 9 through 64)") or labelled parts
    ("Procedures", "Diagnoses"); a code line is `code<TAB>short title`, `*` marking the
    unacceptable-PDX code that a secondary diagnosis makes acceptable. Codes in the edits'
    prose (the Z5189 example above list 9) are not list entries: a code is yielded once per
    edit list. Chapter 2 (changes since the last release) is not read."""
    return gz_guard(path, _read_mce(path, wrap))


def _read_mce(path: Path, wrap: Wrap) -> Iterator[MceRow]:
    section: str | None = None
    letter: str | None = None
    list_title = ""
    label = ""
    started = False
    listing = False  # inside a code list (a heading or label came, then codes)
    seen: set[tuple[str, str, str]] = set()
    with open_text(path, encoding="cp1252", wrap=wrap, newline=None) as text:
        for number, raw in enumerate(text, start=1):
            line = raw.rstrip("\r\n")
            if not started:
                # The table of contents repeats the headings with page numbers: start at the body.
                started = line.strip() == "About this document"
                continue
            if line.startswith("Chapter 2: Code list changes"):
                break
            if m := _CODE_LINE.match(line):
                if section is None:
                    raise MalformedRelease(path, number, f"code {m[2]} before the first edit heading")
                if not listing:
                    continue  # a code quoted in prose
                system = _mce_system(section, label or list_title)
                edit = _SUBLIST_EDITS.get((section, letter or "")) or MCE_EDITS[section][1]
                if (section, letter) == ("11", "D") and system == "ICD10PCS":
                    edit = "NON_COVERED_PROCEDURE"
                number_label = section + (letter if letter and letter.isalpha() else "")
                key = (edit, number_label, m[2])
                if key in seen:
                    continue
                seen.add(key)
                yield MceRow(
                    edit=edit,
                    number=number_label,
                    list_title=list_title,
                    code=m[2],
                    code_system=system,
                    flag=m[1] or None,
                )
                continue
            stripped = line.strip()
            if not stripped:
                continue
            if (
                (m := _HEADING.match(stripped))
                and m[1] in MCE_EDITS
                and stripped[len(m[1]) + 2 :].startswith(MCE_EDITS[m[1]][0])
            ):
                section, letter, list_title, label = m[1], None, m[2], ""
                listing = section in ("17", "19", "20")  # lists that follow their prose directly
                continue
            if section is None:
                continue
            if (m := _HEADING.match(stripped)) or (m := _LETTER.match(stripped)):
                letter, list_title, label = m[1], m[2], ""
                listing = True
                continue
            if len(stripped) <= 60 and (
                "codes" in stripped.lower() or stripped in ("Procedure", "Procedures", "Diagnoses", "Diagnoses list")
            ):
                label = stripped
                if letter is None or len(list_title) > 80:  # "A. Some diagnoses are not ..." is prose
                    list_title = stripped
                listing = True
            else:
                listing = section in ("19", "20") or (section == "17" and letter is not None)
    if section is None:
        raise MalformedRelease(path, None, "no MCE edit headings (not the Definitions of Medicare Code Edits)")


def _mce_system(section: str, labels: str) -> str:
    if section in ("17", "19"):
        return "ICD10PCS"
    if section == "18":
        return "ICD10CM"  # external-cause codes ("Wrong procedure performed codes")
    return "ICD10PCS" if "procedure" in labels.lower() else "ICD10CM"
