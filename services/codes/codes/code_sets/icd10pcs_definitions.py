"""The ICD-10-PCS Definitions (`icd10pcs_definitions_<year>.xml`, CMS).

For each section and axis (3 = root operation, 4 = body part, 5 = approach, 6 = device,
7 = qualifier, ...) the file lists terms: one or more value labels as they appear in the
tables, with the official definition and explanation and the "includes" lines (the body
part key's anatomical terms, the device key's product words, a root operation's examples).
Both the code page's plain-language description and code search read it through this one
reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..release_files import MalformedRelease, file_sha256, iter_xml

OFFICIAL_URL = "https://www.cms.gov/files/zip/2026-icd-10-pcs-code-tables-and-index.zip"
_ROOT_TAG = "ICD10PCS.definitions"
_NAME = re.compile(r"icd10pcs_definitions_(\d{4})\.xml$", re.I)

# The axis positions the file names, by their titles in section 0 (Medical and Surgical).
OPERATION, BODY_PART, APPROACH, DEVICE, QUALIFIER = 3, 4, 5, 6, 7


@dataclass(frozen=True)
class PcsTerm:
    """One <terms> entry: the labels it defines and what the file says about them."""

    section: str
    axis: int
    axis_title: str
    labels: tuple[str, ...]
    definition: str | None = None
    explanation: str | None = None
    includes: tuple[str, ...] = ()
    line: int = 0


@dataclass
class PcsDefinitions:
    fiscal_year: int
    source: str
    fingerprint: str
    terms: list[PcsTerm] = field(default_factory=list)
    _by_label: dict[tuple[str, int, str], PcsTerm] = field(default_factory=dict, repr=False)

    def lookup(self, section: str, axis: int, label: str) -> PcsTerm | None:
        """The term that defines `label` (as written in the tables) on that section's axis."""
        return self._by_label.get((section, axis, label.casefold()))

    def of_axis(self, section: str, axis: int) -> list[PcsTerm]:
        return [term for term in self.terms if term.section == section and term.axis == axis]


@dataclass
class _TermsDraft:
    """A <terms> entry while it is read: the section and axis it belongs to, where it starts."""

    section: str
    axis: int
    line: int
    definition: str | None = None
    explanation: str | None = None
    includes: list[str] = field(default_factory=list)


def find_release(mirror: Path | None) -> Path | None:
    """The newest `<mirror>/icd10pcs/icd10pcs_definitions_<year>.xml`, if any."""
    if mirror is None:
        return None
    found = [p for p in (Path(mirror) / "icd10pcs").glob("*.xml") if _NAME.search(p.name)]
    return max(found, key=lambda p: p.name) if found else None


def read_definitions(path: Path) -> PcsDefinitions:
    """Every term of every section's axes; MalformedRelease (file and line) on a bad layout."""
    path = Path(path)
    fiscal_year: int | None = None
    section: str | None = None
    axis: int | None = None
    axis_title = ""
    depth_titles: list[str] = []
    current: _TermsDraft | None = None  # the <terms> being read, None outside one
    terms: list[PcsTerm] = []
    root_seen = False
    for kind, tag, attrs, text, line in iter_xml(path):
        if not root_seen:
            if tag != _ROOT_TAG:
                raise MalformedRelease(path, line, f"root element is <{tag}>, not <{_ROOT_TAG}>")
            root_seen = True
            continue
        if kind == "start":
            if tag == "section":
                section = attrs.get("code")
                if not section:
                    raise MalformedRelease(path, line, "<section> without a code")
            elif tag == "axis":
                if section is None:
                    raise MalformedRelease(path, line, "<axis> outside a <section>")
                try:
                    axis = int(attrs.get("pos", ""))
                except ValueError:
                    raise MalformedRelease(path, line, f"<axis> pos {attrs.get('pos')!r} is not a number") from None
                axis_title = ""
            elif tag == "terms" and axis is not None and section is not None:
                depth_titles = []
                current = _TermsDraft(section=section, axis=axis, line=line)
            continue
        # end events
        if tag == "version" and fiscal_year is None:
            if not text.isdigit():
                raise MalformedRelease(path, line, f"<version> {text!r} is not a year")
            fiscal_year = int(text)
        elif current is not None and tag == "title":
            depth_titles.append(text)
        elif current is not None and tag == "definition":
            current.definition = text or None
        elif current is not None and tag == "explanation":
            current.explanation = text or None
        elif current is not None and tag == "includes":
            if text:
                current.includes.append(text)
        elif tag == "terms" and current is not None:
            if not depth_titles:
                raise MalformedRelease(path, current.line, "<terms> without a <title>")
            terms.append(
                PcsTerm(
                    section=current.section,
                    axis=current.axis,
                    axis_title=axis_title,
                    labels=tuple(depth_titles),
                    definition=current.definition,
                    explanation=current.explanation,
                    includes=tuple(current.includes),
                    line=current.line,
                )
            )
            current = None
        elif tag == "title" and axis is not None and current is None and not axis_title:
            axis_title = text
        elif tag == "axis":
            axis = None
        elif tag == "section":
            section = None
    if fiscal_year is None:
        raise MalformedRelease(path, None, "no <version>")
    definitions = PcsDefinitions(fiscal_year=fiscal_year, source=path.name, fingerprint=file_sha256(path), terms=terms)
    for term in terms:
        for label in term.labels:
            definitions._by_label.setdefault((term.section, term.axis, label.casefold()), term)
    return definitions
