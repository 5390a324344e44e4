"""Code-set domain objects shared by the importers, the store and the search index.

No nameko, no database, no search engine here: plain data and rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from medcode_contracts.codes import CodeSystem, code_key


@dataclass(slots=True)
class CodeRecord:
    """One code of one edition, as an importer read it from the official release."""

    system: CodeSystem
    code: str                     # as printed in the code book ("K22.0", "J9035", "0DB64ZZ")
    title: str                    # official long descriptor
    billable: bool
    short_title: str | None = None
    parent: str | None = None     # printed code of the parent in the hierarchy, if any
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
    name: str                 # e.g. "ICD-10-CM FY2026 (April 1, 2026 update)"
    effective_from: date
    source: str               # file name of the release file
    source_url: str           # official download URL of that release
    fingerprint: str          # sha256 of the source bytes: same fingerprint = same edition
