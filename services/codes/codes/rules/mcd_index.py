"""The Medicare Coverage Database index of LCDs and billing articles (metadata only)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from ..release_files import MalformedRelease, Wrap, gz_guard, open_text, require_columns
from .rows import CoverageDocumentRow


def read_mcd_index(path: Path, wrap: Wrap = None) -> Iterator[CoverageDocumentRow]:
    """`mcd_lcd_article_index_*.csv` (fields may hold newlines): one LCD or article a row."""
    return gz_guard(path, _read_mcd_index(path, wrap))


def _mdy(value: str, path: Path, line: int, column: str) -> date | None:
    value = (value or "").strip()
    if not value or value.upper() == "N/A":
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not an MM/DD/YYYY date") from None


def _read_mcd_index(path: Path, wrap: Wrap) -> Iterator[CoverageDocumentRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(
            path,
            rows,
            [
                "contractor_name_type",
                "document_display_id",
                "document_type",
                "document_version",
                "effective_date",
                "title",
                "url",
            ],
        )
        for row in rows:
            line = rows.line_num
            display = row["document_display_id"].strip()
            kind = row["document_type"].strip()
            if not re.match(r"^[LA]\d+$", display) or kind not in ("LCD", "Article"):
                raise MalformedRelease(path, line, f"document {display!r} of type {kind!r} is not an LCD or Article")
            title = " ".join((row["title"] or "").split())
            if not title:
                raise MalformedRelease(path, line, f"{display} has no title")
            yield CoverageDocumentRow(
                document_id=display,
                document_type=kind,
                title=title,
                contractor=" ".join((row["contractor_name_type"] or "").split()),
                effective=_mdy(row["effective_date"], path, line, "effective_date"),
                version=(row["document_version"] or "").strip() or None,
                url=(row["url"] or "").strip() or None,
            )
