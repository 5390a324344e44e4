"""ICD-10-CM from the CDC tabular XML (`icd10cm-tabular-<release>.xml`).

The tabular nests chapter > section > diag > diag...; only diag elements are codes (chapters
and sections are kept out of the store). A diag with no child diag is billable, except
where a 7th character is required: the tabular defines those 7th characters once, in a
<sevenChrDef> of an ancestor, and does not list the full codes. Like the CDC's code list
we generate them: the code is padded with the placeholder X to 6 characters, then each 7th
character of the nearest <sevenChrDef> is added (S52.501 -> S52.501A, S01.01 -> S01.01XA);
the full code is billable and titled "<parent title>, <7th character meaning>".

The only restriction on those 7th characters that the tabular states in prose rather
than markup (the S06 note: D and S do not apply with 6th character 7 or 8) is applied by
`_seventh_character_applies`; the test suite checks the result against the code list the
simple-icd-10-cm package ships (74,719 billable codes for April 1, 2026).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from medcode_contracts.codes import CodeSystem

from ..domain import CodeRecord, EditionMeta, code_key
from ..release_files import MalformedRelease, file_sha256, iter_xml, read_xml_version

SYSTEM = CodeSystem.ICD10CM
OFFICIAL_URL = (
    "https://ftp.cdc.gov/pub/Health_Statistics/NCHS/Publications/ICD10CM/2026-update/icd10cm-April-1-2026-XML.zip"
)
# The official tabular bundled in the simple-icd-10-cm package: ICD-10-CM on a machine
# with no mirror and no internet.
PACKAGE_DATA = "simple_icd_10_cm.data"

_ROOT_TAG = "ICD10CM.tabular"
_NOTE_KINDS = {
    "inclusionTerm": "inclusion_terms",
    "includes": "includes",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional_code",
    "codeAlso": "code_also",
}
_TABULAR_NAME = re.compile(
    r"icd10cm?[-_]tabular[-_](?:(?P<month>[A-Za-z]+)[-_](?:\d{1,2}[-_])?)?(?P<year>\d{4})\.xml$", re.I
)


def find_release(mirror: Path | None) -> Path | None:
    """The newest tabular XML in `<mirror>/icd10cm/`, else the one bundled in the
    simple-icd-10-cm package (None only if that package is missing)."""
    if mirror is not None:
        candidates = [
            (p, int(match["year"]))
            for p in (Path(mirror) / "icd10cm").glob("*.xml")
            if (match := _TABULAR_NAME.search(p.name))
        ]
        if candidates:
            return max(candidates, key=lambda found: _release_date(*found))[0]
    return _package_release()


def _package_release() -> Path | None:
    try:
        folder = resources.files(PACKAGE_DATA)
    except ModuleNotFoundError:
        return None
    found = sorted((p for p in folder.iterdir() if _TABULAR_NAME.search(p.name)), key=lambda p: p.name)
    # A wheel installs plain files; anything else (a zip import) is not readable as a Path.
    return Path(str(found[-1])) if found and isinstance(found[-1], Path) else None


def _release_date(path: Path, fiscal_year: int) -> date:
    """The effective date: October 1 before the fiscal year, or the date of an update
    named in the file name (the CDC's April 1 update files)."""
    match = _TABULAR_NAME.search(path.name)
    if match and (match["month"] or "").lower().startswith("apr"):
        return date(int(match["year"]), 4, 1)
    return date(fiscal_year - 1, 10, 1)


def read_edition(path: Path) -> tuple[EditionMeta, Iterator[CodeRecord]]:
    path = Path(path)
    fiscal_year = read_xml_version(path, _ROOT_TAG, "chapter")
    effective = _release_date(path, fiscal_year)
    name = f"ICD-10-CM FY{fiscal_year}"
    if effective.month != 10:
        name += f" ({effective:%B} {effective.day}, {effective.year} update)"
    meta = EditionMeta(
        system=SYSTEM,
        name=name,
        effective_from=effective,
        source=path.name,
        source_url=OFFICIAL_URL if path.name.lower().endswith("april-1-2026.xml") else _official_url(fiscal_year),
        fingerprint=_fingerprint(path),
    )
    return meta, _records(path)


# Bumped when the records read from the same file change (v2: chapter, block and category
# in `extra`), so that the next load replaces an edition read by the older reader.
READER_VERSION = 2


def _fingerprint(path: Path) -> str:
    import hashlib

    return hashlib.sha256(f"{file_sha256(path)} reader v{READER_VERSION}".encode()).hexdigest()


def _official_url(fiscal_year: int) -> str:
    return f"https://ftp.cdc.gov/pub/Health_Statistics/NCHS/Publications/ICD10CM/{fiscal_year}/"


@dataclass(slots=True)
class _Node:
    """An open chapter, section or diag element while the file streams by."""

    tag: str
    line: int
    code: str | None = None
    title: str | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)
    seventh: dict[str, str] | None = None  # this element's own <sevenChrDef>
    seventh_terms: dict[str, list[str]] = field(default_factory=dict)  # <note>s after an <extension>
    seventh_note: str | None = None
    other_notes: list[str] = field(default_factory=list)
    has_children: bool = False


def _seventh_character_applies(padded_code: str, character: str) -> bool:
    """Category S06's note: 7th characters D and S do not apply with 6th character 7
    (death due to brain injury prior to regaining consciousness) or 8 (death due to
    other cause prior to regaining consciousness)."""
    if padded_code.startswith("S06.") and padded_code[6] in "78":
        return character == "A"
    return True


def _records(path: Path) -> Iterator[CodeRecord]:
    nodes: list[_Node] = []
    tags: list[str] = []
    last_extension: str | None = None
    seen: set[str] = set()
    root_seen = False

    def remember(code: str, line: int) -> None:
        key = code_key(code)
        if key in seen:
            raise MalformedRelease(path, line, f"code {code} appears twice")
        seen.add(key)

    for kind, tag, attrs, text, line in iter_xml(path):
        if kind == "start":
            if not root_seen:
                if tag != _ROOT_TAG:
                    raise MalformedRelease(path, line, f"root element is <{tag}>, expected <{_ROOT_TAG}>")
                root_seen = True
            tags.append(tag)
            if tag in ("chapter", "section", "diag"):
                if tag == "diag" and nodes and nodes[-1].tag == "diag":
                    nodes[-1].has_children = True
                nodes.append(_Node(tag, line, code=attrs.get("id") if tag == "section" else None))
            elif tag == "sevenChrDef" and nodes:
                nodes[-1].seventh = {}
                last_extension = None
            elif tag == "extension" and len(tags) > 1 and tags[-2] == "sevenChrDef":
                last_extension = attrs.get("char")
                if not last_extension or len(last_extension) != 1:
                    raise MalformedRelease(path, line, "<extension> without a one-character char attribute")
            continue

        tags.pop()
        parent_tag = tags[-1] if tags else None
        node = nodes[-1] if nodes else None
        if tag in ("chapter", "section"):
            nodes.pop()
        elif tag == "diag":
            node = nodes.pop()  # pushed by the <diag>'s start
            if not node.code:
                raise MalformedRelease(path, node.line, "<diag> without a <name>")
            if not node.title:
                raise MalformedRelease(path, node.line, f"code {node.code} has no <desc>")
            yield from _diag_records(node, node.code, node.title, nodes, remember)
        elif node is None:
            continue
        elif tag == "name" and parent_tag == "diag":
            if not text:
                raise MalformedRelease(path, line, "empty <name>")
            node.code = text
        elif tag == "desc" and parent_tag in ("diag", "chapter", "section"):
            node.title = text
        elif tag == "name" and parent_tag == "chapter":
            node.code = text
        elif tag == "extension" and parent_tag == "sevenChrDef" and node.seventh is not None:
            if last_extension is None:  # a <sevenChrDef> nested in the <extension> reset it
                raise MalformedRelease(path, line, "<extension> without a char attribute")
            node.seventh[last_extension] = text
        elif tag == "note" and text:
            if parent_tag in _NOTE_KINDS:
                node.notes.setdefault(_NOTE_KINDS[parent_tag], []).append(text)
            elif parent_tag == "sevenChrDef" and last_extension:
                node.seventh_terms.setdefault(last_extension, []).append(text)
            elif parent_tag == "sevenChrNote":
                node.seventh_note = text
            elif parent_tag == "notes":
                node.other_notes.append(text)
    if not root_seen or not seen:
        raise MalformedRelease(path, None, "no <diag> codes found")


def _placement(node: _Node, ancestors: list[_Node]) -> dict[str, dict[str, str | None]]:
    """Where a code sits in the tabular: its chapter, block (section) and category, for the
    code page's plain-language description."""
    placement: dict[str, dict[str, str | None]] = {}
    chapter = next((n for n in ancestors if n.tag == "chapter"), None)
    block = next((n for n in reversed(ancestors) if n.tag == "section"), None)
    category = next((n for n in ancestors if n.tag == "diag"), node)
    if chapter is not None and chapter.title:
        placement["chapter"] = {"number": chapter.code, "title": chapter.title}
    if block is not None and block.title:
        placement["block"] = {"range": block.code, "title": block.title}
    if category is not node:
        placement["category"] = {"code": category.code, "title": category.title}
    return placement


def _diag_records(
    node: _Node, code: str, title: str, ancestors: list[_Node], remember: Callable[[str, int], None]
) -> Iterator[CodeRecord]:
    """The records of a closed <diag> whose `code` and `title` (its <name> and <desc>) were
    checked: the code itself and, where a 7th character is required, the full codes."""
    parent = ancestors[-1].code if ancestors and ancestors[-1].tag == "diag" else None
    # The nearest <sevenChrDef>, the diag's own or an ancestor's.
    holder = next((n for n in [node, *reversed(ancestors)] if n.seventh), None)
    seventh = (holder.seventh or {}) if holder is not None else {}
    seventh_terms = holder.seventh_terms if holder is not None else {}
    seventh_note = next((n.seventh_note for n in [node, *reversed(ancestors)] if n.seventh_note), None)
    notes: dict[str, list] = {kind: list(values) for kind, values in node.notes.items()}
    extra: dict[str, object] = {**_placement(node, ancestors)}
    if node.other_notes:
        extra["notes"] = node.other_notes
    if seventh:
        notes["seventh_characters"] = [{"character": char, "meaning": meaning} for char, meaning in seventh.items()]
        if seventh_note:
            extra["seventh_character_note"] = seventh_note
    needs_seventh = bool(seventh) and not node.has_children and len(code_key(code)) < 7
    remember(code, node.line)
    yield CodeRecord(
        system=SYSTEM,
        code=code,
        title=title,
        billable=not node.has_children and not needs_seventh,
        parent=parent,
        notes=notes,
        extra=extra,
    )
    if not needs_seventh:
        return
    padded = (code if len(code) > 3 else code + ".").ljust(7, "X")
    for char, meaning in seventh.items():
        if not _seventh_character_applies(padded, char):
            continue
        full_code = padded + char
        remember(full_code, node.line)
        terms = seventh_terms.get(char, [])
        yield CodeRecord(
            system=SYSTEM,
            code=full_code,
            title=f"{title}, {meaning}",
            billable=True,
            parent=code,
            notes={"inclusion_terms": list(terms)} if terms else {},
            extra={"seventh_character": char, **_placement(node, ancestors)},
        )
