"""NCCI medically unlikely edits (MUE): CMS's CSV per setting."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..release_files import MalformedRelease, Wrap, gz_guard, open_text, procedure_code
from .rows import MueRow


def read_mue(path: Path, wrap: Wrap = None) -> Iterator[MueRow]:
    """CMS MUE CSV (Windows-1252): a multi-line quoted AMA notice record, then the header
    record whose first cell is "HCPCS/\\nCPT Code", then code, units, MAI text, rationale."""
    return gz_guard(path, _read_mue(path, wrap))


def _read_mue(path: Path, wrap: Wrap) -> Iterator[MueRow]:
    with open_text(path, encoding="cp1252", wrap=wrap) as text:
        rows = csv.reader(text)
        found_header = False
        for record, row in enumerate(rows, start=1):
            line = rows.line_num
            if not found_header:
                if row and row[0].upper().startswith("HCPCS"):
                    if len(row) < 4 or "MUE" not in row[1].upper():
                        raise MalformedRelease(path, line, f"unexpected MUE header {row!r}")
                    found_header = True
                elif record > 5:
                    raise MalformedRelease(path, line, "no header row starting with 'HCPCS' in the first 5 records")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 4:
                raise MalformedRelease(path, line, f"{len(row)} fields, expected 4")
            units = row[1].strip()
            if not units.isdigit():
                raise MalformedRelease(path, line, f"MUE value {units!r} is not a whole number")
            indicator = " ".join(row[2].split())
            if indicator[:1] not in ("1", "2", "3"):
                raise MalformedRelease(path, line, f"MUE adjudication indicator {row[2]!r} is not 1, 2 or 3")
            yield MueRow(
                code=procedure_code(row[0], path, line, "HCPCS/CPT code"),
                max_units=int(units),
                adjudication_indicator=indicator,
                rationale=row[3].strip() or None,
            )
        if not found_header:
            raise MalformedRelease(path, None, "no MUE header row")
