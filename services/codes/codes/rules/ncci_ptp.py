"""NCCI procedure-to-procedure (PTP) edit tables, in the three layouts this platform reads:
the mirror's full tables without effective dates, CMS's own tab-delimited TXT parts, and
the PriorPath subset. Rows stream one at a time: a 2.5 M-row table never sits in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from ..release_files import (
    PROCEDURE_CODE,
    UNREADABLE,
    MalformedRelease,
    Wrap,
    gz_guard,
    iso_date,
    open_text,
    procedure_code,
    unreadable,
    yyyymmdd,
)
from .rows import PtpRow

_MODIFIER_INDICATORS = {"0": 0, "1": 1, "9": 9}


PTP_NOEFFDATE = "noeffdate"  # mirror's full tables: column_1,column_2,[in_existence_prior_1996,]deletion_date,...
PTP_CMS_TXT = "cms_txt"  # CMS's own tab-delimited TXT with effective dates
PTP_PRIORPATH = "priorpath"  # col1,col2,effective,deleted,modifier_indicator,ref_version


def _indicator(value: str, path: Path, line: int) -> int:
    try:
        return _MODIFIER_INDICATORS[value.strip()]
    except KeyError:
        raise MalformedRelease(path, line, f"modifier indicator {value!r} is not 0, 1 or 9") from None


def detect_ptp_layout(path: Path) -> str:
    with open_text(path, encoding="latin-1") as text:
        head = text.readline()
    first = head.strip().lower()
    if first.startswith("column_1,column_2"):
        return PTP_NOEFFDATE
    if first.startswith("col1,col2,effective"):
        return PTP_PRIORPATH
    if "\t" in head or "american medical association" in first or first.startswith("column1"):
        return PTP_CMS_TXT
    raise MalformedRelease(path, 1, f"not an NCCI PTP layout this platform reads: {head[:80]!r}")


def read_ptp(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """Any of the three PTP layouts, detected from the first line."""
    layout = detect_ptp_layout(path)
    reader = {PTP_NOEFFDATE: read_ptp_noeffdate, PTP_CMS_TXT: read_ptp_cms_txt, PTP_PRIORPATH: read_ptp_priorpath}[
        layout
    ]
    return reader(path, wrap)


def read_ptp_noeffdate(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """Full tables without effective dates; the v30.1 copy has an extra prior-1996 column."""
    return _read_ptp_noeffdate(path, wrap)


def _read_ptp_noeffdate(path: Path, wrap: Wrap) -> Iterator[PtpRow]:
    # Its own guard against unreadable streams (gz_guard's): a generator layer less per row.
    try:
        with open_text(path, wrap=wrap) as text:
            reader = csv.reader(text)
            header = next(reader, None)
            expected5 = ["column_1", "column_2", "deletion_date", "modifier_indicator", "ptp_edit_rationale"]
            expected6 = expected5[:2] + ["in_existence_prior_1996"] + expected5[2:]
            if header not in (expected5, expected6):
                raise MalformedRelease(path, 1, f"unexpected header {header!r}")
            width = len(header)
            rows: Iterator[Sequence[str]] = reader if width == 5 else _without_prior_1996(reader, path)
            # 2.5 M rows but only some 20 k codes, a few dates and three indicators: each distinct
            # value is checked once (on a lookup's KeyError), then looked up. The loop does no
            # more per row than that: it is most of a full table's load time.
            codes: dict[str, str] = {}
            dates: dict[str, date | None] = {"*": None}
            indicators = dict(_MODIFIER_INDICATORS)
            new = tuple.__new__  # PtpRow(...) and PtpRow._make run Python code per row
            for row in rows:
                try:
                    raw1, raw2, deletion, indicator, rationale = row
                except ValueError:
                    raise MalformedRelease(path, reader.line_num, f"{len(row)} fields, expected {width}") from None
                try:
                    record = new(
                        PtpRow,
                        (codes[raw1], codes[raw2], None, dates[deletion], indicators[indicator], rationale or None),
                    )
                except KeyError:
                    line = reader.line_num
                    column1 = codes.setdefault(raw1, procedure_code(raw1, path, line, "column 1"))
                    column2 = codes.setdefault(raw2, procedure_code(raw2, path, line, "column 2"))
                    if deletion not in dates:
                        dates[deletion] = yyyymmdd(deletion, path, line, "deletion date")
                    if indicator not in indicators:
                        indicators[indicator] = _indicator(indicator, path, line)
                    record = new(
                        PtpRow, (column1, column2, None, dates[deletion], indicators[indicator], rationale or None)
                    )
                yield record
    except UNREADABLE as exc:
        raise unreadable(path, exc) from None


def _without_prior_1996(reader, path: Path) -> Iterator[tuple[str, ...]]:
    """The v30.1 copy's rows without its in_existence_prior_1996 column (third)."""
    for row in reader:
        if len(row) != 6:
            raise MalformedRelease(path, reader.line_num, f"{len(row)} fields, expected 6")
        yield row[0], row[1], row[3], row[4], row[5]


def read_ptp_cms_txt(path: Path, wrap: Wrap = None) -> Iterator[PtpRow]:
    """CMS's ccipra/ccioph TXT: tab-delimited, a notice line, a title line and a wrapped
    multi-line header, then 7 fields: col 1, col 2, prior-1996 `*`, effective, deletion
    (`*` = none), modifier indicator, rationale."""
    return gz_guard(path, _read_ptp_cms_txt(path, wrap))


def _read_ptp_cms_txt(path: Path, wrap: Wrap) -> Iterator[PtpRow]:
    with open_text(path, encoding="cp1252", wrap=wrap, newline=None) as text:
        in_header = True
        for line, raw in enumerate(text, start=1):
            fields = raw.rstrip("\r\n").split("\t")
            if in_header:
                # The header ends where the first row starts with a code in column 1.
                if not PROCEDURE_CODE.match(fields[0].strip()):
                    if line > 20:
                        raise MalformedRelease(path, line, "no PTP data row in the first 20 lines")
                    continue
                in_header = False
            if not raw.strip():
                continue
            if len(fields) < 7:
                raise MalformedRelease(path, line, f"{len(fields)} tab-separated fields, expected 7")
            deletion = fields[4].strip()
            yield PtpRow(
                column1=procedure_code(fields[0], path, line, "column 1"),
                column2=procedure_code(fields[1], path, line, "column 2"),
                effective=yyyymmdd(fields[3].strip(), path, line, "effective date"),
                deleted=None if deletion in ("*", "") else yyyymmdd(deletion, path, line, "deletion date"),
                modifier_indicator=_indicator(fields[5], path, line),
                rationale=fields[6].strip() or None,
            )
        if in_header:
            raise MalformedRelease(path, None, "no PTP data rows")


def read_ptp_priorpath(path: Path, wrap: Wrap = None, ref_version: str | None = None) -> Iterator[PtpRow]:
    """The PriorPath subset: ISO dates, empty deletion = active, no rationale. It holds two
    releases; `ref_version` picks one (default: the newest in the file... read by the
    caller; None reads every row)."""
    return gz_guard(path, _read_ptp_priorpath(path, wrap, ref_version))


def _read_ptp_priorpath(path: Path, wrap: Wrap, ref_version: str | None) -> Iterator[PtpRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.reader(text)
        header = next(rows, None)
        if header != ["col1", "col2", "effective", "deleted", "modifier_indicator", "ref_version"]:
            raise MalformedRelease(path, 1, f"unexpected header {header!r}")
        for line, row in enumerate(rows, start=2):
            if len(row) != 6:
                raise MalformedRelease(path, line, f"{len(row)} fields, expected 6")
            if ref_version is not None and row[5] != ref_version:
                continue
            yield PtpRow(
                column1=procedure_code(row[0], path, line, "col1"),
                column2=procedure_code(row[1], path, line, "col2"),
                effective=iso_date(row[2], path, line, "effective"),
                deleted=iso_date(row[3], path, line, "deleted") if row[3] else None,
                modifier_indicator=_indicator(row[4], path, line),
                rationale=None,
            )


def priorpath_versions(path: Path) -> list[str]:
    """The releases a PriorPath subset file holds, oldest first (NCCI-2026Q3, NCCI-2026Q4)."""
    seen: dict[str, None] = {}
    with open_text(path) as text:
        for row in csv.DictReader(text):
            seen.setdefault(row.get("ref_version") or "", None)
    return sorted(v for v in seen if v)
