"""HCPCS Level II codes and modifiers from the CMS quarterly "alpha-numeric" file
(`HCPC<year>_<MON>_ANWEB*.csv`, or the official `.xlsx` when no CSV is there).

Record layout (CMS): RECID 3 starts a code, 7 a modifier; RECID 4 and 8 are continuation
rows of the same HCPC (SEQNUM 0020, 0030...) whose LONG DESCRIPTION text extends the long
descriptor (joined with a space). Modifiers become records of system MODIFIER in the same
edition: the CMS file carries them, so one file is one edition (`HCPC*_modifiers.csv` in
the mirror is derived from the same rows and is not read by the code set; it is the
coding-rule edition MODIFIERS, codes.code_sets.hcpcs_modifiers). `read_hcpcs_codes` reads
the same CSV for the claim check's code validity (TERM DT), as the rule edition HCPCS.

Terminated codes: CMS keeps a code in the file for years after its TERM DT. Such a code
stays searchable and keeps its page (claims with older dates of service still carry
it), but when its termination date is before the edition's effective date it is
`billable=False` with `extra["terminated"]` = that date (ISO). The edition's effective date
is the latest ACT EFF DT in the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from medcode_contracts.codes import CodeSystem

from ..domain import CodeRecord, EditionMeta, ProcedureCodeRow
from ..release_files import (
    MalformedRelease,
    Wrap,
    file_sha256,
    gz_guard,
    open_text,
    procedure_code,
    require_columns,
    yyyymmdd,
)

SYSTEM = CodeSystem.HCPCS
OFFICIAL_URL = "https://www.cms.gov/files/zip/october-2025-alpha-numeric-hcpcs-file.zip"

_FILE_NAME = re.compile(r"^HCPC(\d{4})_([A-Z]{3})_ANWEB.*\.(csv|xlsx)$", re.I)
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_REQUIRED = (
    "HCPC",
    "SEQNUM",
    "RECID",
    "LONG DESCRIPTION",
    "SHORT DESCRIPTION",
    "ADD DT",
    "ACT EFF DT",
    "TERM DT",
    "ACTION CD",
)
_CODE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
# Columns kept on the page: output key -> CMS column names (empty values dropped).
_EXTRA_LISTS = {
    "pricing_indicators": ("PRICE1", "PRICE2", "PRICE3", "PRICE4"),
    "coverage_issues_manual": ("CIM1", "CIM2", "CIM3"),
    "carriers_manual": ("MCM1", "MCM2", "MCM3"),
    "lab_certifications": tuple(f"LABCERT{i}" for i in range(1, 9)),
    "cross_references": tuple(f"XREF{i}" for i in range(1, 6)),
    "type_of_service": tuple(f"TOS{i}" for i in range(1, 6)),
}
_EXTRA_FIELDS = {
    "multiple_pricing": "MULT_PI",
    "statute": "STATUTE",
    "coverage": "COV",
    "asc_group": "ASC_GRP",
    "opps": "OPPS",
    "opps_status": "OPPS_PI",
    "processing_note": "PROCNOTE",
    "betos": "BETOS",
    "anesthesia_base_units": "ANEST_BU",
    "action_code": "ACTION CD",
}


def find_release(mirror: Path | None) -> Path | None:
    """The newest `<mirror>/hcpcs/HCPC<year>_<MON>_ANWEB*` file, the CSV when both exist."""
    if mirror is None:
        return None
    found = (
        [(p, match) for p in (Path(mirror) / "hcpcs").iterdir() if (match := _FILE_NAME.match(p.name))]
        if (Path(mirror) / "hcpcs").is_dir()
        else []
    )
    if not found:
        return None

    def rank(found_file: tuple[Path, re.Match[str]]) -> tuple[int, int, bool, str]:
        path, match = found_file
        month = _MONTHS.index(match[2].upper()) if match[2].upper() in _MONTHS else -1
        return int(match[1]), month, path.suffix.lower() == ".csv", path.name

    return max(found, key=rank)[0]


def read_edition(path: Path) -> tuple[EditionMeta, Iterator[CodeRecord]]:
    path = Path(path)
    effective = _latest_effective_date(path)
    meta = EditionMeta(
        system=SYSTEM,
        name=f"HCPCS Level II {effective.year} {effective:%B} update",
        effective_from=effective,
        source=path.name,
        source_url=(
            OFFICIAL_URL
            if (effective.year, effective.month) == (2025, 10)
            else f"https://www.cms.gov/files/zip/{effective:%B}-{effective.year}-alpha-numeric-hcpcs-file.zip".lower()
        ),
        fingerprint=file_sha256(path),
    )
    return meta, _records(path, effective)


def _latest_effective_date(path: Path) -> date:
    latest = None
    for line, row in _rows(path):
        day = _date(path, line, row, "ACT EFF DT")
        if day and (latest is None or day > latest):
            latest = day
    if latest is None:
        raise MalformedRelease(path, None, "no row has an ACT EFF DT")
    return latest


@dataclass(slots=True)
class _Pending:
    """A code or modifier whose continuation rows may still follow."""

    hcpc: str
    recid: str
    line: int
    row: dict
    long_parts: list[str] = field(default_factory=list)


def _records(path: Path, effective: date) -> Iterator[CodeRecord]:
    pending: _Pending | None = None
    seen: set[tuple[str, str]] = set()
    for line, row in _rows(path):
        hcpc, recid = row["HCPC"].strip().upper(), row["RECID"].strip()
        if recid in ("3", "7"):
            if pending is not None:
                yield _record(path, pending, effective, seen)
            pending = _Pending(hcpc, recid, line, row, [row["LONG DESCRIPTION"].strip()])
        elif recid in ("4", "8"):
            if pending is None or pending.hcpc != hcpc or int(pending.recid) + 1 != int(recid):
                raise MalformedRelease(
                    path,
                    line,
                    f"continuation row (RECID {recid}) of {hcpc!r} follows no RECID {int(recid) - 1} row of it",
                )
            pending.long_parts.append(row["LONG DESCRIPTION"].strip())
        else:
            raise MalformedRelease(path, line, f"RECID {recid!r} is not 3, 4, 7 or 8")
    if pending is not None:
        yield _record(path, pending, effective, seen)
    if not seen:
        raise MalformedRelease(path, None, "no HCPCS codes found")


def _record(path: Path, pending: _Pending, effective: date, seen: set) -> CodeRecord:
    row, line = pending.row, pending.line
    is_modifier = pending.recid == "7"
    system = CodeSystem.MODIFIER if is_modifier else SYSTEM
    if not (_MODIFIER if is_modifier else _CODE).match(pending.hcpc):
        kind = "modifier (2 characters)" if is_modifier else "code (5 characters)"
        raise MalformedRelease(path, line, f"HCPC {pending.hcpc!r} is not a valid {kind}")
    if (system, pending.hcpc) in seen:
        raise MalformedRelease(path, line, f"{pending.hcpc} appears twice")
    seen.add((system, pending.hcpc))
    title = " ".join(part for part in pending.long_parts if part)
    if not title:
        raise MalformedRelease(path, line, f"{pending.hcpc} has no LONG DESCRIPTION")
    extra: dict = {}
    for name, column in (("added", "ADD DT"), ("action_effective", "ACT EFF DT"), ("termination_date", "TERM DT")):
        day = _date(path, line, row, column)
        if day:
            extra[name] = day.isoformat()
    terminated = extra.get("termination_date")
    if terminated and terminated < effective.isoformat():
        extra["terminated"] = terminated
    for name, columns in _EXTRA_LISTS.items():
        values = [row.get(c, "").strip() for c in columns if row.get(c, "").strip()]
        if values:
            extra[name] = values
    for name, column in _EXTRA_FIELDS.items():
        value = row.get(column, "").strip()
        if value:
            extra[name] = value
    return CodeRecord(
        system=system,
        code=pending.hcpc,
        title=title,
        short_title=row["SHORT DESCRIPTION"].strip() or None,
        billable="terminated" not in extra,
        parent=None,
        extra=extra,
    )


def _date(path: Path, line: int, row: dict, column: str) -> date | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYYMMDD date") from None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by header name) of the CSV or the XLSX's first sheet; values are
    text, as in the CSV."""
    if path.suffix.lower() == ".xlsx":
        yield from _xlsx_rows(path)
        return
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = _checked_header(path, next(reader, None))
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise MalformedRelease(path, reader.line_num, f"{len(values)} fields, the header has {len(header)}")
                yield reader.line_num, dict(zip(header, values))
        except csv.Error as exc:
            raise MalformedRelease(path, reader.line_num, f"not valid CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise MalformedRelease(path, reader.line_num + 1, f"not UTF-8 text ({exc.reason})") from None


def _checked_header(path: Path, header: list[str] | None) -> list[str]:
    """The header row, once it is known to have every required column."""
    if not header:
        raise MalformedRelease(path, 1, "empty file, expected the CMS header row")
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise MalformedRelease(path, 1, f"header lacks the column(s) {', '.join(missing)}")
    return header


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    from zipfile import BadZipFile

    import openpyxl  # only needed for the XLSX form

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError) as exc:
        raise MalformedRelease(path, None, f"not a readable XLSX workbook ({exc})") from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = _checked_header(path, [_cell(v) for v in next(rows, None) or ()])
        for number, values in enumerate(rows, start=2):
            texts = [_cell(v) for v in values]
            if not any(texts):
                continue
            yield number, dict(zip(header, texts + [""] * (len(header) - len(texts))))
    finally:
        workbook.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_hcpcs_codes(path: Path, wrap: Wrap = None) -> Iterator[ProcedureCodeRow]:
    """Level II codes (RECID 3) of the HCPCS CSV with their short title and TERM DT
    (the last day the code is valid)."""
    return gz_guard(path, _read_hcpcs_codes(path, wrap))


def _read_hcpcs_codes(path: Path, wrap: Wrap) -> Iterator[ProcedureCodeRow]:
    with open_text(path, encoding="utf-8", wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(path, rows, ["HCPC", "RECID", "SHORT DESCRIPTION", "TERM DT"])
        for row in rows:
            if (row["RECID"] or "").strip() != "3":
                continue
            line = rows.line_num
            code = procedure_code(row["HCPC"], path, line, "HCPC")
            term = (row["TERM DT"] or "").strip()
            yield ProcedureCodeRow(
                code=code,
                system="HCPCS",
                title=" ".join((row["SHORT DESCRIPTION"] or "").split()) or None,
                last_day=yyyymmdd(term, path, line, "TERM DT") if term else None,
            )
