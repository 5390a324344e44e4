"""Code-set domain objects shared by the code-set readers (codes.code_sets), the stores and
the search index: codes and their records, index lay terms, procedure codes and modifiers.

No nameko, no database, no search engine here: plain data and rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from medcode_contracts.codes import CodeSystem, canonical_code, code_key


@dataclass(slots=True)
class CodeRecord:
    """One code of one edition, as an importer read it from the official release."""

    system: CodeSystem
    code: str  # as printed in the code book ("K22.0", "J9035", "0DB64ZZ")
    title: str  # official long descriptor
    billable: bool
    short_title: str | None = None
    parent: str | None = None  # printed code of the parent in the hierarchy, if any
    # Note lists keyed like contracts.codes.CodeNotes fields (inclusion_terms, includes,
    # excludes1, excludes2, code_first, use_additional_code, code_also) plus
    # "seventh_characters": [{"character": "A", "meaning": "initial encounter"}].
    notes: dict[str, list] = field(default_factory=dict)
    lay_terms: list[str] = field(default_factory=list)
    # Lay term -> the index path it comes from ("Swollen - see Swelling, glands"), so a
    # search hit can say why it matched.
    lay_paths: dict[str, str] = field(default_factory=dict)
    # System-specific facts kept for the page (HCPCS dates and action code, PCS axes...).
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return code_key(self.code)

    def search_terms(self) -> list[str]:
        """Text that should find this code besides its titles: inclusion terms and lay terms."""
        return list(self.notes.get("inclusion_terms", [])) + list(self.lay_terms)


@dataclass(slots=True)
class EditionMeta:
    """What one load of one official release is."""

    system: CodeSystem
    name: str  # e.g. "ICD-10-CM FY2026 (April 1, 2026 update)"
    effective_from: date
    source: str  # file name of the release file
    source_url: str  # official download URL of that release
    fingerprint: str  # sha256 of the source bytes: same fingerprint = same edition


@dataclass(slots=True, frozen=True)
class LayTerm:
    code: str  # ICD-10-CM code as printed in the index ("I21.9")
    term: str  # readable phrase, e.g. "heart attack"
    # Where the phrase comes from, for a search hit to say why it matched: the index path,
    # and the cross-reference followed ("Attack, heart - see Infarct, myocardium").
    path: str | None = None


@dataclass(slots=True, frozen=True)
class ModifierRow:
    code: str
    title: str
    description: str | None
    system: str  # "HCPCS" or "CPT"
    terminated_on: date | None


@dataclass(slots=True, frozen=True)
class ProcedureCodeRow:
    """A procedure code a rule file or code file knows, with what we may show of it.

    `title` is None for CPT codes unless a licensed AMA file was loaded.
    `last_day` is the last day the code was valid (None = valid now)."""

    code: str
    system: str  # "CPT" or "HCPCS"
    title: str | None
    last_day: date | None


def procedure_system(code: str) -> str:
    """HCPCS Level II codes start with a letter; CPT codes (Category I-III, PLA) with a digit."""
    return "HCPCS" if code[:1].isalpha() else "CPT"


def format_icd10cm(key: str) -> str:
    """ "I219" -> "I21.9" (the dot goes after the category's three characters)."""
    return canonical_code(CodeSystem.ICD10CM, key)


def format_icd9cm(key: str) -> str:
    """ICD-9-CM diagnosis codes: "41090" -> "410.90", "E8800" -> "E880.0", "V0101" -> "V01.01"."""
    key = key.upper()
    head = 4 if key.startswith("E") else 3
    return key if len(key) <= head else f"{key[:head]}.{key[head:]}"
