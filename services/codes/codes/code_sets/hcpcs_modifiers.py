"""HCPCS Level II modifiers: the mirror's modifier CSV (MODIFIER, LONG DESCRIPTION, ...),
loaded as the coding-rule edition of kind MODIFIERS."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ..domain import ModifierRow
from ..release_files import MODIFIER_CODE, MalformedRelease, Wrap, gz_guard, open_text, require_columns, yyyymmdd


def read_hcpcs_modifiers(path: Path, wrap: Wrap = None) -> Iterator[ModifierRow]:
    """The mirror's HCPCS modifier CSV (MODIFIER, LONG DESCRIPTION, SHORT DESCRIPTION, ...)."""
    return gz_guard(path, _read_hcpcs_modifiers(path, wrap))


def _read_hcpcs_modifiers(path: Path, wrap: Wrap) -> Iterator[ModifierRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(path, rows, ["LONG DESCRIPTION", "MODIFIER", "SHORT DESCRIPTION", "TERM DT"])
        for row in rows:
            line = rows.line_num
            code = row["MODIFIER"].strip().upper()
            if not MODIFIER_CODE.match(code):
                raise MalformedRelease(path, line, f"modifier {row['MODIFIER']!r} is not 2 characters")
            long_text = " ".join((row["LONG DESCRIPTION"] or "").split())
            short_text = " ".join((row["SHORT DESCRIPTION"] or "").split()) or long_text
            term = (row["TERM DT"] or "").strip()
            yield ModifierRow(
                code=code,
                title=short_text,
                description=long_text or None,
                system="HCPCS",
                terminated_on=yyyymmdd(term, path, line, "TERM DT") if term else None,
            )
